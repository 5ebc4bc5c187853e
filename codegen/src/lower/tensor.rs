//! Unbatched tensor ops: data movement, linear algebra and whole-tensor reductions, as
//! `sci_ir::interp` computes them: sums run left to right from `+0.0` with no fused
//! multiply-add, an index out of range fails the call (or reads the fill value).

use super::{
    BBin, ElementFn, Emit, Env, FBin, FCmp, ICmp, Ix, Repr, ReprOf, Res, Scalars, TermFn,
    exact_index, internal,
};
use crate::abi::Status;
use sci_ir::types::element_count;
use sci_ir::{DType, ReduceOp, Type, ValueId};

/// Tensor ops over the primitives of [`Emit`].
pub(crate) trait Tensors<'a>: Env<'a> + Scalars<'a> {
    /// A constant: a scalar value, or a tensor in read-only data.
    fn literal(&mut self, id: ValueId, ty: &Type, xs: &[f64]) -> Res<ReprOf<Self>> {
        let round = |x: f64| {
            if ty.dtype == DType::F32 {
                x as f32 as f64
            } else {
                x
            }
        };
        if ty.shape.is_empty() {
            let x = xs
                .first()
                .copied()
                .ok_or_else(|| internal::<Self>("empty scalar literal"))?;
            return Ok(Repr::Scalar(self.f64c(round(x))?));
        }
        let data: Vec<f64> = if xs.is_empty() {
            vec![0.0]
        } else {
            xs.iter().map(|x| round(*x)).collect()
        };
        // Integer tables that can only be indices (integral, non-negative, exact in f64)
        // also get an `i64` copy where the back end keeps them.
        if ty.dtype == DType::I64
            && !xs.is_empty()
            && let Some(ints) = xs
                .iter()
                .map(|&x| exact_index(x))
                .collect::<Option<Vec<usize>>>()
            && let Some(table) = self.index_data(&ints)?
        {
            self.values_mut().index_tables.push((id, table));
        }
        Ok(Repr::Buf(self.literal_data(id, &data)?))
    }

    /// `f` applied elementwise to `operands` (all of `id`'s shape), rounded to `id`'s dtype.
    fn elementwise(
        &mut self,
        id: ValueId,
        operands: &[ValueId],
        f: &ElementFn<'_, Self>,
    ) -> Res<ReprOf<Self>> {
        let ty = self.ty(id)?;
        let dtype = ty.dtype;
        if ty.shape.is_empty() {
            let xs = operands
                .iter()
                .map(|a| self.scalar(*a))
                .collect::<Res<Vec<_>>>()?;
            let r = f(self, &xs)?;
            return Ok(Repr::Scalar(self.round(r, dtype)?));
        }
        let len = self.len_of(id)?;
        let dst = self.dest(id)?;
        let ptrs = operands
            .iter()
            .map(|a| self.buf(*a))
            .collect::<Res<Vec<_>>>()?;
        self.each(len, &mut |s, i| {
            let xs = ptrs
                .iter()
                .map(|p| s.load(p.clone(), i.clone()))
                .collect::<Res<Vec<_>>>()?;
            let r = f(s, &xs)?;
            let r = s.round(r, dtype)?;
            s.store(dst.clone(), i, r)
        })?;
        Ok(Repr::Buf(dst))
    }

    fn broadcast(&mut self, id: ValueId, a: ValueId) -> Res<ReprOf<Self>> {
        let shape = &self.ty(id)?.shape;
        let from = &self.ty(a)?.shape;
        if shape.is_empty() {
            return Ok(Repr::Scalar(self.scalar(a)?));
        }
        let dst = self.dest(id)?;
        let len = self.len_of(id)?;
        if let Repr::Scalar(x) = self.repr(a)? {
            self.each(len, &mut |s, i| s.store(dst.clone(), i, x.clone()))?;
            return Ok(Repr::Buf(dst));
        }
        let src = self.buf(a)?;
        let strides = broadcast_strides(shape, from);
        let mut idx = Vec::new();
        self.nest(shape, &mut idx, &mut |s, idx| {
            let lin = s.linear(shape, idx)?;
            let mut off = Ix::C(0);
            for (i, &st) in idx.iter().zip(&strides) {
                if st != 0 {
                    let t = s.ix_mul(Ix::V(i.clone()), st)?;
                    off = s.ix_add(off, t)?;
                }
            }
            let x = s.load(src.clone(), off)?;
            s.store(dst.clone(), lin, x)
        })?;
        Ok(Repr::Buf(dst))
    }

    fn index(
        &mut self,
        id: ValueId,
        array: ValueId,
        indices: &[ValueId],
        fill: Option<f64>,
    ) -> Res<ReprOf<Self>> {
        let shape = &self.ty(array)?.shape;
        let ty = self.ty(id)?;
        let scalar_result = ty.shape.is_empty();
        let sub = element_count(shape.get(indices.len()..).unwrap_or(&[]))
            .ok_or_else(|| internal::<Self>("shape overflow"))?;
        let total = element_count(shape).ok_or_else(|| internal::<Self>("shape overflow"))?;
        let base = self.buf(array)?;
        let mut lin = Ix::C(0);
        let mut ok: Option<Self::B> = None;
        for (&i, &n) in indices.iter().zip(shape) {
            let x = self.scalar(i)?;
            let (inr, iv) = match self.int_of(&x) {
                Some(iv) => {
                    let nc = self.ic(n)?;
                    (self.icmp(ICmp::Ult, iv.clone(), nc)?, iv)
                }
                None => {
                    let zero = self.f64c(0.0)?;
                    let nf = self.f64c(n as f64)?;
                    let ge = self.fcmp(FCmp::Ge, x.clone(), zero.clone())?;
                    let lt = self.fcmp(FCmp::Lt, x.clone(), nf)?;
                    let inr = self.bbin(BBin::And, ge, lt)?;
                    // Where failures do not exit, converted only when in range, so the
                    // conversion is always defined (elsewhere an out-of-range index fails
                    // the call, or its offset is not chosen, before anything is read).
                    let x = if Self::FAILURE_EXITS {
                        x
                    } else {
                        self.select_f(inr.clone(), x, zero)?
                    };
                    (inr, self.f64_to_index(x)?)
                }
            };
            let scaled = self.ix_mul(lin, n)?;
            lin = self.ix_add(scaled, Ix::V(iv))?;
            ok = Some(match ok {
                Some(prev) => self.bbin(BBin::And, prev, inr)?,
                None => inr,
            });
        }
        let ok = ok.ok_or_else(|| internal::<Self>("index without indices"))?;
        // The element offset when in range, else 0 (a readable element when total > 0);
        // where failures exit, an index read without fill is in range once checked.
        let safe = if Self::FAILURE_EXITS && fill.is_none() {
            lin
        } else {
            let lin = self.ix_value(lin)?;
            let zero = self.ic(0)?;
            Ix::V(self.select_i(ok.clone(), lin, zero)?)
        };
        let start = self.addr(base, safe.clone(), sub)?;
        let fill = match fill {
            Some(x) => x,
            None => {
                let t = self.bc(true)?;
                let bad = self.bbin(BBin::Xor, ok, t)?;
                self.fail_if(bad, Status::IndexOutOfRange)?;
                if total == 0 && !Self::FAILURE_EXITS {
                    // Always out of range: any value will do, the call fails.
                    return Ok(if scalar_result {
                        Repr::Scalar(self.f64c(0.0)?)
                    } else {
                        Repr::Buf(self.scratch(id)?)
                    });
                }
                return Ok(if scalar_result {
                    Repr::Scalar(self.element(array, safe, start, Ix::C(0))?)
                } else {
                    Repr::Buf(start)
                });
            }
        };
        let xv = self.f64c(if ty.dtype == DType::F32 {
            fill as f32 as f64
        } else {
            fill
        })?;
        if scalar_result {
            if total == 0 {
                return Ok(Repr::Scalar(xv));
            }
            let y = self.load(start, Ix::C(0))?;
            return Ok(Repr::Scalar(self.select_f(ok, y, xv)?));
        }
        let dst = self.dest(id)?;
        self.each(sub, &mut |s, i| {
            let v = if total == 0 {
                xv.clone()
            } else {
                let y = s.load(start.clone(), i.clone())?;
                s.select_f(ok.clone(), y, xv.clone())?
            };
            s.store(dst.clone(), i, v)
        })?;
        Ok(Repr::Buf(dst))
    }

    /// The rows `start..` of `array`: a view.
    fn slice(&mut self, array: ValueId, start: usize) -> Res<ReprOf<Self>> {
        let sub = element_count(self.ty(array)?.shape.get(1..).unwrap_or(&[]))
            .ok_or_else(|| internal::<Self>("shape overflow"))?;
        let p = self.buf(array)?;
        Ok(Repr::Buf(self.addr(p, Ix::C(start), sub)?))
    }

    fn concat(&mut self, id: ValueId, parts: &[ValueId]) -> Res<ReprOf<Self>> {
        let dst = self.target(id)?;
        let mut offset = 0usize;
        for &p in parts {
            let len = self.len_of(p)?;
            if self.in_place(p) {
                offset += len;
                continue;
            }
            let at = self.addr(dst.clone(), Ix::C(offset), 1)?;
            let r = self.repr(p)?;
            self.store_repr(r, at, len)?;
            offset += len;
        }
        Ok(Repr::Buf(dst))
    }

    fn reshape(&mut self, id: ValueId, a: ValueId) -> Res<ReprOf<Self>> {
        let to_scalar = self.ty(id)?.shape.is_empty();
        match self.repr(a)? {
            Repr::Scalar(x) if to_scalar => Ok(Repr::Scalar(x)),
            Repr::Scalar(x) => {
                let dst = self.dest(id)?;
                self.store(dst.clone(), Ix::C(0), x)?;
                Ok(Repr::Buf(dst))
            }
            Repr::Buf(p) if to_scalar => Ok(Repr::Scalar(self.load(p, Ix::C(0))?)),
            Repr::Buf(p) => Ok(Repr::Buf(p)),
            Repr::Batch { .. } => Err(internal::<Self>("reshape of a batched value")),
        }
    }

    /// The last two axes swapped, for each matrix of a batch.
    fn transpose(&mut self, id: ValueId, a: ValueId) -> Res<ReprOf<Self>> {
        let (batch, m, n) = match &self.ty(a)?.shape[..] {
            [batch @ .., m, n] => (batch.iter().product::<usize>(), *m, *n),
            _ => return Err(internal::<Self>("transpose of a non-matrix")),
        };
        let src = self.buf(a)?;
        let dst = self.dest(id)?;
        let mut idx = Vec::new();
        self.nest(&[batch, n, m], &mut idx, &mut |s, idx| {
            let [p, j, i] = idx else {
                return Err(internal::<Self>("transpose indices"));
            };
            let (p, j, i) = (p.clone(), j.clone(), i.clone());
            let d = s.linear(&[batch, n, m], &[p.clone(), j.clone(), i.clone()])?;
            let o = s.linear(&[batch, m, n], &[p, i, j])?;
            let x = s.load(src.clone(), o)?;
            s.store(dst.clone(), d, x)
        })?;
        Ok(Repr::Buf(dst))
    }

    /// `Σ_{l<k} term(l)` left to right from `+0.0`.
    fn sum_of(&mut self, k: usize, term: &mut TermFn<'_, Self>) -> Res<Self::F> {
        let zero = self.f64c(0.0)?;
        let r = self.fold_each(k, vec![zero], &mut |s, l, acc| {
            let t = term(s, l)?;
            let acc = acc
                .into_iter()
                .next()
                .ok_or_else(|| internal::<Self>("sum without accumulator"))?;
            Ok(vec![s.fbin(FBin::Add, acc, t)?])
        })?;
        r.into_iter()
            .next()
            .ok_or_else(|| internal::<Self>("sum without accumulator"))
    }

    fn dot(&mut self, id: ValueId, a: ValueId, b: ValueId) -> Res<ReprOf<Self>> {
        let k = self.len_of(a)?;
        let (pa, pb) = (self.buf(a)?, self.buf(b)?);
        let r = self.sum_of(k, &mut |s, l| {
            let x = s.load(pa.clone(), l.clone())?;
            let y = s.load(pb.clone(), l)?;
            s.fbin(FBin::Mul, x, y)
        })?;
        let dtype = self.ty(id)?.dtype;
        Ok(Repr::Scalar(self.round(r, dtype)?))
    }

    /// `matvec` and `matmul`: `[m, k] × [k, n]` with `n = 1` for a vector, for each
    /// matrix of a batch (leading axes, the same in both operands).
    fn matmul(&mut self, id: ValueId, a: ValueId, b: ValueId) -> Res<ReprOf<Self>> {
        let (batch, m, k) = match &self.ty(a)?.shape[..] {
            [batch @ .., m, k] => (batch.iter().product::<usize>(), *m, *k),
            _ => return Err(internal::<Self>("matrix product of a non-matrix")),
        };
        let n = match self.ty(b)?.shape[..] {
            [_] => 1,
            [.., _, n] => n,
            _ => return Err(internal::<Self>("matrix product with a bad operand")),
        };
        let dtype = self.ty(id)?.dtype;
        let (pa, pb) = (self.buf(a)?, self.buf(b)?);
        let dst = self.dest(id)?;
        if batch == 1 {
            self.matrix_product([m, n, k], dtype, pa, pb, dst.clone())?;
        } else {
            self.repeat(Ix::C(batch), &mut |s, p| {
                let pa = s.addr(pa.clone(), Ix::V(p.clone()), m * k)?;
                let pb = s.addr(pb.clone(), Ix::V(p.clone()), k * n)?;
                let dst = s.addr(dst.clone(), Ix::V(p), m * n)?;
                s.matrix_product([m, n, k], dtype, pa, pb, dst)
            })?;
        }
        Ok(Repr::Buf(dst))
    }

    /// One `[m, k] × [k, n]` product into `dst`: the matrix kernel where the back end has
    /// one for it, else a loop nest.
    fn matrix_product(
        &mut self,
        [m, n, k]: [usize; 3],
        dtype: DType,
        pa: Self::P,
        pb: Self::P,
        dst: Self::P,
    ) -> Res<()> {
        if dtype == DType::F64
            && self.matmul_kernel([m, n, k], pa.clone(), pb.clone(), dst.clone())?
        {
            return Ok(());
        }
        let mut idx = Vec::new();
        self.nest(&[m, n], &mut idx, &mut |s, idx| {
            let [i, j] = idx else {
                return Err(internal::<Self>("matrix product indices"));
            };
            let (i, j) = (i.clone(), j.clone());
            let row = s.addr(pa.clone(), Ix::V(i), k)?;
            let col = s.addr(pb.clone(), Ix::V(j), 1)?;
            let r = s.sum_of(k, &mut |s, l| {
                let x = s.load(row.clone(), l.clone())?;
                let at = s.ix_mul(l, n)?;
                let y = s.load(col.clone(), at)?;
                s.fbin(FBin::Mul, x, y)
            })?;
            let r = s.round(r, dtype)?;
            let at = s.linear(&[m, n], idx)?;
            s.store(dst.clone(), at, r)
        })
    }

    fn reduce(&mut self, id: ValueId, op: ReduceOp, a: ValueId) -> Res<ReprOf<Self>> {
        let len = self.len_of(a)?;
        let dtype = self.ty(id)?.dtype;
        let r = match self.repr(a)? {
            Repr::Scalar(x) => {
                let acc = self.start(op)?;
                let t = self.bc(true)?;
                self.combine(op, acc, x, Some(t))?
            }
            Repr::Buf(p) => {
                let init = self.start(op)?;
                let r = self.fold_each(len, vec![init], &mut |s, i, acc| {
                    let x = s.load(p.clone(), i.clone())?;
                    let first = match i {
                        Ix::C(0) => Some(s.bc(true)?),
                        Ix::C(_) => None,
                        Ix::V(v) => {
                            let zero = s.ic(0)?;
                            Some(s.icmp(ICmp::Eq, v, zero)?)
                        }
                    };
                    let acc = acc
                        .into_iter()
                        .next()
                        .ok_or_else(|| internal::<Self>("reduction without accumulator"))?;
                    Ok(vec![s.combine(op, acc, x, first)?])
                })?;
                r.into_iter()
                    .next()
                    .ok_or_else(|| internal::<Self>("reduction without accumulator"))?
            }
            Repr::Batch { .. } => return Err(internal::<Self>("reduce of a batched value")),
        };
        let r = if op == ReduceOp::Mean {
            let n = self.f64c(len as f64)?;
            self.fbin(FBin::Div, r, n)?
        } else {
            r
        };
        Ok(Repr::Scalar(self.round(r, dtype)?))
    }
}

impl<'a, E: Emit<'a>> Tensors<'a> for E {}

/// The strides (in elements) at which a broadcast to `shape` reads its operand of shape
/// `from`: aligned with the trailing axes of the target, 0 along repeated axes.
pub(crate) fn broadcast_strides(shape: &[usize], from: &[usize]) -> Vec<usize> {
    let offset = shape.len().saturating_sub(from.len());
    let mut strides = vec![0usize; shape.len()];
    let mut stride = 1usize;
    for (i, &n) in from.iter().enumerate().rev() {
        if let Some(s) = strides.get_mut(i + offset) {
            *s = if n == 1 { 0 } else { stride };
        }
        stride = stride.saturating_mul(n);
    }
    strides
}
