//! One IR function as one `func.func`, with the calling convention shared by the JIT's
//! entries, calls between functions, and GPU device functions:
//!
//! ```mlir
//! func.func @sci_fK(<inputs>, %out: memref<?xf64>, %outo: index) -> i32
//! ```
//!
//! where an unbatched scalar input is an `f64`, an unbatched tensor a `memref<?xf64>` and
//! an element offset (`index`), and a batched input a `memref<?xf64>`, an offset and a
//! point count. The result is written from element `%outo` of `%out`; the `i32` is a
//! [`crate::Status`].

use super::layout::{Layout, Place};
use super::lower::{FnLower, MEM, Repr, Res, Shared, func_symbol, internal};
use super::text::Ix;
use sci_ir::{DType, Function, Module};

/// The parameter list of IR function `f` under the convention above.
pub(super) fn params(f: &Function) -> Res<Vec<String>> {
    let mut ps = Vec::new();
    for j in 0..f.inputs().len() {
        let ty = f
            .input_type(j)
            .ok_or_else(|| internal("input out of range"))?;
        if ty.batched {
            ps.extend([
                format!("%a{j}: {MEM}"),
                format!("%a{j}o: index"),
                format!("%a{j}n: index"),
            ]);
        } else if ty.shape.is_empty() {
            ps.push(format!("%a{j}: f64"));
        } else {
            ps.extend([format!("%a{j}: {MEM}"), format!("%a{j}o: index")]);
        }
    }
    ps.extend([format!("%out: {MEM}"), "%outo: index".to_string()]);
    Ok(ps)
}

/// The text of IR function number `k` (`f`), `private` when `private`.
pub(super) fn emit_function(
    ir: &Module,
    k: usize,
    f: &Function,
    cx: &mut Shared,
    private: bool,
) -> Res<String> {
    let layout = Layout::function(f)?;
    let mut s = FnLower::new(ir, f, cx, layout);
    s.tag = format!("f{k}");
    s.out = Some(("%out".into(), Ix::V("%outo".into())));
    s.allocate_frame();
    bind_inputs(&mut s)?;
    s.lower_body(&f.body.body)?;
    write_result(&mut s)?;
    let (prologue, body) = s.finish_function();
    let vis = if private { "private " } else { "" };
    let mut text = format!(
        "  func.func {vis}@{}({}) -> i32 {{\n",
        func_symbol(k),
        params(f)?.join(", ")
    );
    for l in prologue.iter().chain(&body) {
        text.push_str(l);
        text.push('\n');
    }
    text.push_str("  }\n");
    Ok(text)
}

fn bind_inputs(s: &mut FnLower<'_>) -> Res<()> {
    let f = s.f;
    for (j, &id) in f.inputs().iter().enumerate() {
        let ty = s.ty(id)?;
        let mem = format!("%a{j}");
        let off = Ix::V(format!("%a{j}o"));
        let r = if ty.batched {
            let n = format!("%a{j}n");
            if ty.dtype == DType::F32 {
                // Rounded on entry, into a copy (as the native back ends do).
                let per = s.len_of(id)?;
                let (dst, doff) = s.alloc_batch(id, &n, per)?;
                let per_c = s.cidx(per);
                let total = s.def(format!("arith.muli {n}, {per_c} : index"));
                s.for_range(&Ix::C(0), &Ix::V(total), |s, i| {
                    let i = Ix::V(i.to_string());
                    let from = s.add(&off, &i);
                    let x = s.load(&mem, &from);
                    let x = s.round(&x, DType::F32);
                    let to = s.add(&doff, &i);
                    s.store(&x, &dst, &to);
                    Ok(())
                })?;
                Repr::Batch {
                    mem: dst,
                    off: doff,
                    n,
                }
            } else {
                Repr::Batch { mem, off, n }
            }
        } else if ty.shape.is_empty() {
            Repr::Scalar(s.round(&mem, ty.dtype))
        } else if ty.dtype == DType::F32 {
            let (dst, doff) = s.dest(id)?;
            let len = s.len_of(id)?;
            s.each(len, |s, i| {
                let from = s.add(&off, &i);
                let x = s.load(&mem, &from);
                let x = s.round(&x, DType::F32);
                let to = s.add(&doff, &i);
                s.store(&x, &dst, &to);
                Ok(())
            })?;
            Repr::Buf {
                mem: dst,
                off: doff,
            }
        } else {
            Repr::Buf { mem, off }
        };
        s.set(id, r);
    }
    Ok(())
}

fn write_result(s: &mut FnLower<'_>) -> Res<()> {
    let result = s.f.body.result;
    if s.layout.of(result) == Place::Out {
        return Ok(());
    }
    let per = s.len_of(result)?;
    let (out, ooff) = s.out.clone().ok_or_else(|| internal("no output buffer"))?;
    match s.repr(result)? {
        Repr::Batch { mem, off, n } => {
            let per_c = s.cidx(per);
            let total = s.def(format!("arith.muli {n}, {per_c} : index"));
            s.for_range(&Ix::C(0), &Ix::V(total), |s, i| {
                let i = Ix::V(i.to_string());
                let from = s.add(&off, &i);
                let x = s.load(&mem, &from);
                let to = s.add(&ooff, &i);
                s.store(&x, &out, &to);
                Ok(())
            })?;
            Ok(())
        }
        r => s.store_repr(&r, (&out, &ooff), per),
    }
}
