//! Lowering of the unstructured ops to LLVM IR: scalar math, data movement, linear algebra
//! and whole-tensor reductions. Each follows `sci_ir::interp` exactly (see `docs/ir.md`,
//! "Interpreter numerics"): sums run left to right from `+0.0` with no fused multiply-add
//! (no fast-math flags, no `fmuladd`), `min`/`max` propagate NaN and keep the first operand
//! on ties (compare and select, not `llvm.minnum`).

use super::lower::{FnLower, Ix, Repr, Res, UNROLL, internal};
use inkwell::module::Linkage;
use inkwell::values::{FloatValue, IntValue};
use inkwell::{FloatPredicate, IntPredicate};
use sci_ir::interp::PowiForm;
use sci_ir::types::element_count;
use sci_ir::{BinaryOp, CmpOp, DType, ReduceOp, Type, UnaryOp, ValueId};

impl<'a, 'ctx> FnLower<'a, 'ctx> {
    /// 1.0 if `c` holds, else 0.0.
    pub fn bool_value(&mut self, c: IntValue<'ctx>) -> Res<FloatValue<'ctx>> {
        let one = self.f64c(1.0);
        let zero = self.f64c(0.0);
        Ok(self.b.build_select(c, one, zero, "")?.into_float_value())
    }

    fn fcmp(
        &mut self,
        p: FloatPredicate,
        a: FloatValue<'ctx>,
        b: FloatValue<'ctx>,
    ) -> Res<IntValue<'ctx>> {
        Ok(self.b.build_float_compare(p, a, b, "")?)
    }

    fn select_f(
        &mut self,
        c: IntValue<'ctx>,
        a: FloatValue<'ctx>,
        b: FloatValue<'ctx>,
    ) -> Res<FloatValue<'ctx>> {
        Ok(self.b.build_select(c, a, b, "")?.into_float_value())
    }

    /// `max` that propagates NaN and returns `a` on ties.
    pub fn max_nan(&mut self, a: FloatValue<'ctx>, b: FloatValue<'ctx>) -> Res<FloatValue<'ctx>> {
        let ge = self.fcmp(FloatPredicate::OGE, a, b)?;
        self.pick_nan(ge, a, b)
    }

    /// `min` that propagates NaN and returns `a` on ties.
    pub fn min_nan(&mut self, a: FloatValue<'ctx>, b: FloatValue<'ctx>) -> Res<FloatValue<'ctx>> {
        let le = self.fcmp(FloatPredicate::OLE, a, b)?;
        self.pick_nan(le, a, b)
    }

    fn pick_nan(
        &mut self,
        first: IntValue<'ctx>,
        a: FloatValue<'ctx>,
        b: FloatValue<'ctx>,
    ) -> Res<FloatValue<'ctx>> {
        let r = self.select_f(first, a, b)?;
        let unordered = self.fcmp(FloatPredicate::UNO, a, b)?;
        let nan = self.f64c(f64::NAN);
        self.select_f(unordered, nan, r)
    }

    pub fn unary(&mut self, op: UnaryOp, x: FloatValue<'ctx>) -> Res<FloatValue<'ctx>> {
        let name = match op {
            UnaryOp::Neg => return Ok(self.b.build_float_neg(x, "")?),
            UnaryOp::Abs => return self.intrinsic("llvm.fabs", x),
            UnaryOp::Sqrt => return self.intrinsic("llvm.sqrt", x),
            UnaryOp::Floor => return self.intrinsic("llvm.floor", x),
            UnaryOp::Not => {
                let zero = self.f64c(0.0);
                let c = self.fcmp(FloatPredicate::OEQ, x, zero)?;
                return self.bool_value(c);
            }
            UnaryOp::Sigmoid => {
                // x ≥ 0: 1/(1+e^-x); else e^x/(1+e^x). Both use e = exp(-|x|).
                let ax = self.intrinsic("llvm.fabs", x)?;
                let nx = self.b.build_float_neg(ax, "")?;
                let e = self.math("exp", &[nx])?;
                let one = self.f64c(1.0);
                let den = self.b.build_float_add(one, e, "")?;
                let pos = self.b.build_float_div(one, den, "")?;
                let neg = self.b.build_float_div(e, den, "")?;
                let zero = self.f64c(0.0);
                let c = self.fcmp(FloatPredicate::OGE, x, zero)?;
                return self.select_f(c, pos, neg);
            }
            UnaryOp::Softplus => {
                // max(x, 0) + log1p(exp(-|x|)).
                let ax = self.intrinsic("llvm.fabs", x)?;
                let nx = self.b.build_float_neg(ax, "")?;
                let e = self.math("exp", &[nx])?;
                let l = self.math("log1p", &[e])?;
                let zero = self.f64c(0.0);
                let m = self.max_nan(x, zero)?;
                return Ok(self.b.build_float_add(m, l, "")?);
            }
            UnaryOp::Exp => "exp",
            UnaryOp::Log => "log",
            UnaryOp::Sin => "sin",
            UnaryOp::Cos => "cos",
            UnaryOp::Tan => "tan",
            UnaryOp::Asin => "asin",
            UnaryOp::Acos => "acos",
            UnaryOp::Atan => "atan",
            UnaryOp::Sinh => "sinh",
            UnaryOp::Cosh => "cosh",
            UnaryOp::Tanh => "tanh",
            UnaryOp::Erf => "erf",
        };
        self.math(name, &[x])
    }

    /// `powi x, n` in the form the interpreter computes it (`sci_ir::interp::PowiForm`).
    pub fn powi(&mut self, x: FloatValue<'ctx>, n: i32) -> Res<FloatValue<'ctx>> {
        Ok(match PowiForm::of(n) {
            PowiForm::One => self.f64c(1.0),
            PowiForm::Identity => x,
            PowiForm::Square => self.b.build_float_mul(x, x, "")?,
            PowiForm::Reciprocal => self.b.build_float_div(self.f64c(1.0), x, "")?,
            PowiForm::Pow => {
                let e = self.f64c(f64::from(n));
                return self.math("pow", &[x, e]);
            }
        })
    }

    pub fn binary(
        &mut self,
        op: BinaryOp,
        a: FloatValue<'ctx>,
        b: FloatValue<'ctx>,
    ) -> Res<FloatValue<'ctx>> {
        Ok(match op {
            BinaryOp::Add => self.b.build_float_add(a, b, "")?,
            BinaryOp::Sub => self.b.build_float_sub(a, b, "")?,
            BinaryOp::Mul => self.b.build_float_mul(a, b, "")?,
            BinaryOp::Div => self.b.build_float_div(a, b, "")?,
            BinaryOp::Pow => return self.math("pow", &[a, b]),
            BinaryOp::Atan2 => return self.math("atan2", &[a, b]),
            BinaryOp::Min => self.min_nan(a, b)?,
            BinaryOp::Max => self.max_nan(a, b)?,
            BinaryOp::And | BinaryOp::Or => {
                let x = self.truthy(a)?;
                let y = self.truthy(b)?;
                let c = if op == BinaryOp::And {
                    self.b.build_and(x, y, "")?
                } else {
                    self.b.build_or(x, y, "")?
                };
                self.bool_value(c)?
            }
        })
    }

    pub fn compare(
        &mut self,
        op: CmpOp,
        a: FloatValue<'ctx>,
        b: FloatValue<'ctx>,
    ) -> Res<FloatValue<'ctx>> {
        let p = match op {
            CmpOp::Eq => FloatPredicate::OEQ,
            CmpOp::Ne => FloatPredicate::UNE,
            CmpOp::Lt => FloatPredicate::OLT,
            CmpOp::Le => FloatPredicate::OLE,
            CmpOp::Gt => FloatPredicate::OGT,
            CmpOp::Ge => FloatPredicate::OGE,
        };
        let c = self.fcmp(p, a, b)?;
        self.bool_value(c)
    }

    /// `x` truncated toward zero to `i64`, saturating, NaN → 0 (Rust's `as i64`).
    pub fn truncate_to_i64(&mut self, x: FloatValue<'ctx>) -> Res<IntValue<'ctx>> {
        let callee = self.decls.intrinsic(
            self.m,
            "llvm.fptosi.sat",
            &[self.t.i64.into(), self.t.f64.into()],
        )?;
        Ok(self.call_fn(callee, &[x.into()])?.into_int_value())
    }

    /// Conversion to `to` (the rounding to `f32` is done by the caller for every op).
    pub fn cast(&mut self, x: FloatValue<'ctx>, to: DType) -> Res<FloatValue<'ctx>> {
        match to {
            DType::F64 | DType::F32 => Ok(x),
            DType::I64 => {
                let i = self.truncate_to_i64(x)?;
                Ok(self.b.build_signed_int_to_float(i, self.t.f64, "")?)
            }
            DType::Bool => {
                let c = self.truthy(x)?;
                self.bool_value(c)
            }
        }
    }

    /// A constant tensor: a private, read-only global array.
    pub fn literal(&mut self, ty: &Type, xs: &[f64]) -> Res<Repr<'ctx>> {
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
                .ok_or_else(|| internal("empty scalar literal"))?;
            return Ok(Repr::Scalar(self.f64c(round(x))));
        }
        let mut items: Vec<FloatValue<'ctx>> = xs.iter().map(|x| self.f64c(round(*x))).collect();
        if items.is_empty() {
            items.push(self.f64c(0.0));
        }
        let n = u32::try_from(items.len()).map_err(|_| internal("literal too large"))?;
        let g = self.m.add_global(self.t.f64.array_type(n), None, "literal");
        g.set_initializer(&self.t.f64.const_array(&items));
        g.set_constant(true);
        g.set_linkage(Linkage::Private);
        g.set_unnamed_addr(true);
        g.set_alignment(8);
        Ok(Repr::Buf(g.as_pointer_value()))
    }

    pub fn broadcast(&mut self, id: ValueId, a: ValueId) -> Res<Repr<'ctx>> {
        let shape = self.ty(id)?.shape.clone();
        let from = self.ty(a)?.shape.clone();
        if shape.is_empty() {
            return Ok(Repr::Scalar(self.scalar(a)?));
        }
        let dst = self.dest(id)?;
        let len = self.len_of(id)?;
        if let Repr::Scalar(x) = self.repr(a)? {
            self.each(len, |s, i| s.store(dst, i, x))?;
            return Ok(Repr::Buf(dst));
        }
        let src = self.buf(a)?;
        // Strides of `a` aligned with the trailing axes of the target; 0 where repeated.
        let offset = shape.len().saturating_sub(from.len());
        let mut strides = vec![0usize; shape.len()];
        let mut stride = 1usize;
        for (i, &n) in from.iter().enumerate().rev() {
            if let Some(s) = strides.get_mut(i + offset) {
                *s = if n == 1 { 0 } else { stride };
            }
            stride = stride.saturating_mul(n);
        }
        let mut idx = Vec::new();
        let extents = shape.clone();
        self.nest(&shape, &mut idx, &mut |s, idx| {
            let lin = s.linear(&extents, idx)?;
            let mut off = s.t.i64.const_zero();
            for (&i, &st) in idx.iter().zip(&strides) {
                if st != 0 {
                    let stc = s.i64c(st);
                    let t = s.b.build_int_nuw_mul(i, stc, "")?;
                    off = s.b.build_int_nuw_add(off, t, "")?;
                }
            }
            let x = s.load(src, Ix::V(off))?;
            s.store(dst, Ix::V(lin), x)
        })?;
        Ok(Repr::Buf(dst))
    }

    pub fn index(
        &mut self,
        id: ValueId,
        array: ValueId,
        indices: &[ValueId],
        fill: Option<f64>,
    ) -> Res<Repr<'ctx>> {
        let shape = self.ty(array)?.shape.clone();
        let ty = self.ty(id)?;
        let dtype = ty.dtype;
        let scalar_result = ty.shape.is_empty();
        let sub = element_count(shape.get(indices.len()..).unwrap_or(&[]))
            .ok_or_else(|| internal("shape overflow"))?;
        let total = element_count(&shape).ok_or_else(|| internal("shape overflow"))?;
        let a = self.buf(array)?;
        let mut off = self.t.i64.const_zero();
        let mut ok: Option<IntValue<'ctx>> = None;
        for (&i, &n) in indices.iter().zip(&shape) {
            let nc = self.i64c(n);
            let (inr, iv) = match self.int_of.get(&i).copied() {
                Some(iv) => (self.b.build_int_compare(IntPredicate::ULT, iv, nc, "")?, iv),
                None => {
                    let x = self.scalar(i)?;
                    let zero = self.f64c(0.0);
                    let nf = self.f64c(n as f64);
                    let ge = self.fcmp(FloatPredicate::OGE, x, zero)?;
                    let lt = self.fcmp(FloatPredicate::OLT, x, nf)?;
                    let inr = self.b.build_and(ge, lt, "")?;
                    (inr, self.truncate_to_i64(x)?)
                }
            };
            let scaled = self.b.build_int_mul(off, nc, "")?;
            off = self.b.build_int_add(scaled, iv, "")?;
            ok = Some(match ok {
                Some(prev) => self.b.build_and(prev, inr, "")?,
                None => inr,
            });
        }
        let ok = ok.ok_or_else(|| internal("index without indices"))?;
        match fill {
            None => {
                let bad = self.b.build_not(ok, "")?;
                self.fail_if(bad, crate::Status::IndexOutOfRange)?;
                if scalar_result {
                    Ok(Repr::Scalar(self.load(a, Ix::V(off))?))
                } else {
                    Ok(Repr::Buf(self.addr(a, Ix::V(off), sub)?))
                }
            }
            Some(x) => {
                let x = if dtype == DType::F32 {
                    x as f32 as f64
                } else {
                    x
                };
                let xv = self.f64c(x);
                if scalar_result {
                    if total == 0 {
                        return Ok(Repr::Scalar(xv));
                    }
                    let zero = self.t.i64.const_zero();
                    let safe = self.b.build_select(ok, off, zero, "")?.into_int_value();
                    let y = self.load(a, Ix::V(safe))?;
                    Ok(Repr::Scalar(self.select_f(ok, y, xv)?))
                } else {
                    let fillbuf = self.dest(id)?;
                    self.each(sub, |s, i| s.store(fillbuf, i, xv))?;
                    let zero = self.t.i64.const_zero();
                    let safe = self.b.build_select(ok, off, zero, "")?.into_int_value();
                    let p = self.addr(a, Ix::V(safe), sub)?;
                    Ok(Repr::Buf(
                        self.b
                            .build_select(ok, p, fillbuf, "")?
                            .into_pointer_value(),
                    ))
                }
            }
        }
    }

    pub fn concat(&mut self, id: ValueId, parts: &[ValueId]) -> Res<Repr<'ctx>> {
        let dst = self.dest(id)?;
        let mut offset = 0usize;
        for &p in parts {
            let len = self.len_of(p)?;
            let at = self.addr(dst, Ix::C(offset), 1)?;
            let r = self.repr(p)?;
            self.store_repr(r, at, len)?;
            offset += len;
        }
        Ok(Repr::Buf(dst))
    }

    pub fn reshape(&mut self, id: ValueId, a: ValueId) -> Res<Repr<'ctx>> {
        let to_scalar = self.ty(id)?.shape.is_empty();
        match self.repr(a)? {
            Repr::Scalar(x) if to_scalar => Ok(Repr::Scalar(x)),
            Repr::Scalar(x) => {
                let dst = self.dest(id)?;
                self.store(dst, Ix::C(0), x)?;
                Ok(Repr::Buf(dst))
            }
            Repr::Buf(p) if to_scalar => Ok(Repr::Scalar(self.load(p, Ix::C(0))?)),
            Repr::Buf(p) => Ok(Repr::Buf(p)),
            Repr::Batch { .. } => Err(internal("reshape of a batched value")),
        }
    }

    pub fn transpose(&mut self, id: ValueId, a: ValueId) -> Res<Repr<'ctx>> {
        let (m, n) = match self.ty(a)?.shape[..] {
            [m, n] => (m, n),
            _ => return Err(internal("transpose of a non-matrix")),
        };
        let src = self.buf(a)?;
        let dst = self.dest(id)?;
        let mut idx = Vec::new();
        self.nest(&[n, m], &mut idx, &mut |s, idx| {
            let (j, i) = match idx {
                [j, i] => (*j, *i),
                _ => return Err(internal("transpose indices")),
            };
            let d = s.linear(&[n, m], &[j, i])?;
            let o = s.linear(&[m, n], &[i, j])?;
            let x = s.load(src, Ix::V(o))?;
            s.store(dst, Ix::V(d), x)
        })?;
        Ok(Repr::Buf(dst))
    }

    /// `Σ_{l<k} f(l)` left to right from `+0.0`, unrolled when `k` is small.
    pub fn sum_of(
        &mut self,
        k: usize,
        mut term: impl FnMut(&mut Self, Ix<'ctx>) -> Res<FloatValue<'ctx>>,
    ) -> Res<FloatValue<'ctx>> {
        let zero = self.f64c(0.0);
        if k <= UNROLL {
            let mut acc = zero;
            for l in 0..k {
                let t = term(self, Ix::C(l))?;
                acc = self.b.build_float_add(acc, t, "")?;
            }
            return Ok(acc);
        }
        let var = self.var(zero)?;
        self.repeat(k, |s, l| {
            let t = term(s, Ix::V(l))?;
            let acc = s.use_var(var)?;
            let acc = s.b.build_float_add(acc, t, "")?;
            s.def_var(var, acc)
        })?;
        self.use_var(var)
    }

    pub fn dot(&mut self, id: ValueId, a: ValueId, b: ValueId) -> Res<Repr<'ctx>> {
        let k = self.len_of(a)?;
        let (pa, pb) = (self.buf(a)?, self.buf(b)?);
        let r = self.sum_of(k, |s, l| {
            let x = s.load(pa, l)?;
            let y = s.load(pb, l)?;
            Ok(s.b.build_float_mul(x, y, "")?)
        })?;
        let dtype = self.ty(id)?.dtype;
        Ok(Repr::Scalar(self.round(r, dtype)?))
    }

    /// `tanh` of a whole `f64` tensor through the vector kernel (`vtanh::sci_tanh_n`, libm's
    /// bits), when the options link sci's kernels (the JIT) and the tensor is large enough
    /// to pay for the call; `None` leaves it to the element loop.
    pub fn tanh_buffer(&mut self, id: ValueId, a: ValueId) -> Res<Option<Repr<'ctx>>> {
        if !crate::vtanh::kernel_applies(self.opts.threads.is_some(), self.ty(id)?) {
            return Ok(None);
        }
        let len = self.len_of(id)?;
        let src = self.buf(a)?;
        let dst = self.dest(id)?;
        let n = self.i64c(len);
        self.b
            .build_call(self.decls.tanh_n, &[src.into(), dst.into(), n.into()], "")?;
        Ok(Some(Repr::Buf(dst)))
    }

    /// `matvec` and `matmul`: `[m, k] × [k, n]` with `n = 1` for a vector. Large `f64`
    /// products call the JIT's matrix-product kernel when the options allow it.
    pub fn matmul(&mut self, id: ValueId, a: ValueId, b: ValueId) -> Res<Repr<'ctx>> {
        let (m, k) = match self.ty(a)?.shape[..] {
            [m, k] => (m, k),
            _ => return Err(internal("matrix product of a non-matrix")),
        };
        let n = match self.ty(b)?.shape[..] {
            [_] => 1,
            [_, n] => n,
            _ => return Err(internal("matrix product with a bad operand")),
        };
        let dtype = self.ty(id)?.dtype;
        let (pa, pb) = (self.buf(a)?, self.buf(b)?);
        let dst = self.dest(id)?;
        if self.opts.matmul_kernel
            && dtype == sci_ir::DType::F64
            && m * n * k >= crate::libm::MATMUL_KERNEL_MIN
        {
            let kernel = self.decls.matmul;
            let (mc, nc, kc) = (self.i64c(m), self.i64c(n), self.i64c(k));
            self.b.build_call(
                kernel,
                &[
                    mc.into(),
                    nc.into(),
                    kc.into(),
                    pa.into(),
                    pb.into(),
                    dst.into(),
                ],
                "",
            )?;
            return Ok(Repr::Buf(dst));
        }
        let mut idx = Vec::new();
        self.nest(&[m, n], &mut idx, &mut |s, idx| {
            let (i, j) = match idx {
                [i, j] => (*i, *j),
                _ => return Err(internal("matrix product indices")),
            };
            let row = s.addr(pa, Ix::V(i), k)?;
            let col = s.addr(pb, Ix::V(j), 1)?;
            let r = s.sum_of(k, |s, l| {
                let x = s.load(row, l)?;
                let y = match l {
                    Ix::C(c) => s.load(col, Ix::C(c * n))?,
                    Ix::V(v) => {
                        let nc = s.i64c(n);
                        let at = s.b.build_int_nuw_mul(v, nc, "")?;
                        s.load(col, Ix::V(at))?
                    }
                };
                Ok(s.b.build_float_mul(x, y, "")?)
            })?;
            let r = s.round(r, dtype)?;
            let at = s.linear(&[m, n], &[i, j])?;
            s.store(dst, Ix::V(at), r)
        })?;
        Ok(Repr::Buf(dst))
    }

    /// Combines `acc` with `x` for `op` (sum and mean add; max/min take `x` on the first
    /// item, when `first` holds).
    pub fn combine(
        &mut self,
        op: ReduceOp,
        acc: FloatValue<'ctx>,
        x: FloatValue<'ctx>,
        first: Option<IntValue<'ctx>>,
    ) -> Res<FloatValue<'ctx>> {
        match op {
            ReduceOp::Sum | ReduceOp::Mean => Ok(self.b.build_float_add(acc, x, "")?),
            ReduceOp::Prod => Ok(self.b.build_float_mul(acc, x, "")?),
            ReduceOp::Max | ReduceOp::Min => {
                let r = if op == ReduceOp::Max {
                    self.max_nan(acc, x)?
                } else {
                    self.min_nan(acc, x)?
                };
                match first {
                    Some(f) => self.select_f(f, x, r),
                    None => Ok(r),
                }
            }
        }
    }

    /// The starting accumulator of `op` (NaN for max/min, replaced by the first item).
    pub fn start(&self, op: ReduceOp) -> FloatValue<'ctx> {
        self.f64c(match op {
            ReduceOp::Sum | ReduceOp::Mean => 0.0,
            ReduceOp::Prod => 1.0,
            ReduceOp::Max | ReduceOp::Min => f64::NAN,
        })
    }

    /// `i == 0` as an `i1`.
    pub fn is_first(&mut self, i: IntValue<'ctx>) -> Res<IntValue<'ctx>> {
        let zero = self.t.i64.const_zero();
        Ok(self.b.build_int_compare(IntPredicate::EQ, i, zero, "")?)
    }

    pub fn reduce(&mut self, id: ValueId, op: ReduceOp, a: ValueId) -> Res<Repr<'ctx>> {
        let len = self.len_of(a)?;
        let dtype = self.ty(id)?.dtype;
        let r = match self.repr(a)? {
            Repr::Scalar(x) => {
                let acc = self.start(op);
                let t = self.bool_const(true);
                self.combine(op, acc, x, Some(t))?
            }
            Repr::Buf(p) => {
                let init = self.start(op);
                let var = self.var(init)?;
                self.each(len, |s, i| {
                    let x = s.load(p, i)?;
                    let first = match i {
                        Ix::C(c) => (c == 0).then(|| s.bool_const(true)),
                        Ix::V(v) => Some(s.is_first(v)?),
                    };
                    let acc = s.use_var(var)?;
                    let acc = s.combine(op, acc, x, first)?;
                    s.def_var(var, acc)
                })?;
                self.use_var(var)?
            }
            Repr::Batch { .. } => return Err(internal("reduce of a batched value")),
        };
        let r = if op == ReduceOp::Mean {
            let n = self.f64c(len as f64);
            self.b.build_float_div(r, n, "")?
        } else {
            r
        };
        Ok(Repr::Scalar(self.round(r, dtype)?))
    }
}
