//! A function's entry and exit: its inputs bound as the caller passed them (`f32` values
//! rounded on entry, into copies for tensors, so every op sees rounded values as in the
//! interpreter), and its result written to the caller's output buffer.

use super::{Ix, Lower, Repr, ReprOf, Res};
use sci_ir::DType;

/// Binds the function's inputs to `params`: each input as the caller passed it (a scalar,
/// a tensor's address, or a batch's address and point count), in order.
pub(crate) fn bind_inputs<'a, E: Lower<'a>>(s: &mut E, params: Vec<ReprOf<E>>) -> Res<()> {
    let f = s.function();
    for (&id, p) in f.inputs().iter().zip(params) {
        let ty = s.ty(id)?;
        let f32 = ty.dtype == DType::F32;
        let r = match p {
            Repr::Scalar(x) => Repr::Scalar(s.round(x, ty.dtype)?),
            Repr::Batch { ptr, n } if f32 => {
                let per = s.len_of(id)?;
                let dst = s.alloc_batch(id, n.clone(), per)?;
                let total = s.imul(n.clone(), per)?;
                s.repeat(Ix::V(total), &mut |s, i| {
                    let x = s.load(ptr.clone(), Ix::V(i.clone()))?;
                    let x = s.round_f32(x)?;
                    s.store(dst.clone(), Ix::V(i), x)
                })?;
                Repr::Batch { ptr: dst, n }
            }
            Repr::Buf(p) if f32 => {
                let dst = s.dest(id)?;
                let len = s.len_of(id)?;
                s.each(len, &mut |s, i| {
                    let x = s.load(p.clone(), i.clone())?;
                    let x = s.round_f32(x)?;
                    s.store(dst.clone(), i, x)
                })?;
                Repr::Buf(dst)
            }
            r => r,
        };
        s.set(id, r);
    }
    Ok(())
}

/// Writes the function's result to `out`, unless it was built there (`in_place`).
pub(crate) fn write_result<'a, E: Lower<'a>>(s: &mut E, out: E::P, in_place: bool) -> Res<()> {
    if in_place {
        return Ok(());
    }
    let result = s.function().body.result;
    let per = s.len_of(result)?;
    match s.repr(result)? {
        Repr::Batch { ptr, n } => {
            let total = s.imul(n, per)?;
            s.repeat(Ix::V(total), &mut |s, i| {
                let x = s.load(ptr.clone(), Ix::V(i.clone()))?;
                s.store(out.clone(), Ix::V(i), x)
            })
        }
        r => s.store_repr(r, out, per),
    }
}
