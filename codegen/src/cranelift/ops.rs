//! Lowering of the unstructured ops: scalar math, data movement, linear algebra and
//! whole-tensor reductions. Each follows `sci_ir::interp` exactly (see `docs/ir.md`,
//! "Interpreter numerics"): sums run left to right from `+0.0` with no fused multiply-add,
//! `min`/`max` propagate NaN and keep the first operand on ties.

use super::lower::{FnLower, Ix, Repr, Res, UNROLL, internal};
use cranelift_codegen::ir::condcodes::{FloatCC, IntCC};
use cranelift_codegen::ir::types::{F64, I64};
use cranelift_codegen::ir::{InstBuilder, Value};
use cranelift_frontend::Variable;
use cranelift_module::{DataDescription, Module as ClModule};
use sci_ir::interp::PowiForm;
use sci_ir::types::element_count;
use sci_ir::{BinaryOp, CmpOp, DType, ReduceOp, Type, UnaryOp, ValueId};

impl<'a, 'b, M: ClModule> FnLower<'a, 'b, M> {
    /// 1.0 if `c` (an `i8` truth value) holds, else 0.0.
    pub fn bool_value(&mut self, c: Value) -> Value {
        let one = self.f64c(1.0);
        let zero = self.f64c(0.0);
        self.b.ins().select(c, one, zero)
    }

    /// `x != 0` as a truth value (true for NaN, as in the interpreter).
    pub fn truthy(&mut self, x: Value) -> Value {
        let zero = self.f64c(0.0);
        self.b.ins().fcmp(FloatCC::NotEqual, x, zero)
    }

    /// `max` that propagates NaN and returns `a` on ties.
    pub fn max_nan(&mut self, a: Value, b: Value) -> Value {
        let ge = self.b.ins().fcmp(FloatCC::GreaterThanOrEqual, a, b);
        self.pick_nan(ge, a, b)
    }

    /// `min` that propagates NaN and returns `a` on ties.
    pub fn min_nan(&mut self, a: Value, b: Value) -> Value {
        let le = self.b.ins().fcmp(FloatCC::LessThanOrEqual, a, b);
        self.pick_nan(le, a, b)
    }

    fn pick_nan(&mut self, first: Value, a: Value, b: Value) -> Value {
        let r = self.b.ins().select(first, a, b);
        let unordered = self.b.ins().fcmp(FloatCC::Unordered, a, b);
        let nan = self.f64c(f64::NAN);
        self.b.ins().select(unordered, nan, r)
    }

    pub fn unary(&mut self, op: UnaryOp, x: Value) -> Res<Value> {
        let name = match op {
            UnaryOp::Neg => return Ok(self.b.ins().fneg(x)),
            UnaryOp::Abs => return Ok(self.b.ins().fabs(x)),
            UnaryOp::Sqrt => return Ok(self.b.ins().sqrt(x)),
            UnaryOp::Floor => return Ok(self.b.ins().floor(x)),
            UnaryOp::Not => {
                let zero = self.f64c(0.0);
                let c = self.b.ins().fcmp(FloatCC::Equal, x, zero);
                return Ok(self.bool_value(c));
            }
            UnaryOp::Sigmoid => {
                // x ≥ 0: 1/(1+e^-x); else e^x/(1+e^x). Both use e = exp(-|x|).
                let ax = self.b.ins().fabs(x);
                let nx = self.b.ins().fneg(ax);
                let e = self.math("exp", &[nx])?;
                let one = self.f64c(1.0);
                let den = self.b.ins().fadd(one, e);
                let pos = self.b.ins().fdiv(one, den);
                let neg = self.b.ins().fdiv(e, den);
                let zero = self.f64c(0.0);
                let c = self.b.ins().fcmp(FloatCC::GreaterThanOrEqual, x, zero);
                return Ok(self.b.ins().select(c, pos, neg));
            }
            UnaryOp::Softplus => {
                // max(x, 0) + log1p(exp(-|x|)).
                let ax = self.b.ins().fabs(x);
                let nx = self.b.ins().fneg(ax);
                let e = self.math("exp", &[nx])?;
                let l = self.math("log1p", &[e])?;
                let zero = self.f64c(0.0);
                let m = self.max_nan(x, zero);
                return Ok(self.b.ins().fadd(m, l));
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
    pub fn powi(&mut self, x: Value, n: i32) -> Res<Value> {
        Ok(match PowiForm::of(n) {
            PowiForm::One => self.f64c(1.0),
            PowiForm::Identity => x,
            PowiForm::Square => self.b.ins().fmul(x, x),
            PowiForm::Reciprocal => {
                let one = self.f64c(1.0);
                self.b.ins().fdiv(one, x)
            }
            PowiForm::Pow => {
                let e = self.f64c(f64::from(n));
                return self.math("pow", &[x, e]);
            }
        })
    }

    pub fn binary(&mut self, op: BinaryOp, a: Value, b: Value) -> Res<Value> {
        Ok(match op {
            BinaryOp::Add => self.b.ins().fadd(a, b),
            BinaryOp::Sub => self.b.ins().fsub(a, b),
            BinaryOp::Mul => self.b.ins().fmul(a, b),
            BinaryOp::Div => self.b.ins().fdiv(a, b),
            BinaryOp::Pow => return self.math("pow", &[a, b]),
            BinaryOp::Atan2 => return self.math("atan2", &[a, b]),
            BinaryOp::Min => self.min_nan(a, b),
            BinaryOp::Max => self.max_nan(a, b),
            BinaryOp::And | BinaryOp::Or => {
                let x = self.truthy(a);
                let y = self.truthy(b);
                let c = if op == BinaryOp::And {
                    self.b.ins().band(x, y)
                } else {
                    self.b.ins().bor(x, y)
                };
                self.bool_value(c)
            }
        })
    }

    pub fn compare(&mut self, op: CmpOp, a: Value, b: Value) -> Value {
        let cc = match op {
            CmpOp::Eq => FloatCC::Equal,
            CmpOp::Ne => FloatCC::NotEqual,
            CmpOp::Lt => FloatCC::LessThan,
            CmpOp::Le => FloatCC::LessThanOrEqual,
            CmpOp::Gt => FloatCC::GreaterThan,
            CmpOp::Ge => FloatCC::GreaterThanOrEqual,
        };
        let c = self.b.ins().fcmp(cc, a, b);
        self.bool_value(c)
    }

    /// Conversion to `to` (the rounding to `f32` is done by the caller for every op).
    pub fn cast(&mut self, x: Value, to: DType) -> Value {
        match to {
            DType::F64 | DType::F32 => x,
            DType::I64 => {
                // Truncates toward zero, saturates, NaN → 0: Rust's `as i64`.
                let i = self.b.ins().fcvt_to_sint_sat(I64, x);
                self.b.ins().fcvt_from_sint(F64, i)
            }
            DType::Bool => {
                let c = self.truthy(x);
                self.bool_value(c)
            }
        }
    }

    /// A constant tensor in read-only data.
    pub fn literal(&mut self, ty: &Type, xs: &[f64]) -> Res<Repr> {
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
        let bytes: Vec<u8> = xs
            .iter()
            .flat_map(|x| round(*x).to_le_bytes())
            .chain(std::iter::repeat_n(0u8, if xs.is_empty() { 8 } else { 0 }))
            .collect();
        let mut desc = DataDescription::new();
        desc.define(bytes.into_boxed_slice());
        desc.set_align(8);
        let data = self
            .m
            .declare_anonymous_data(false, false)
            .map_err(|e| internal(&e.to_string()))?;
        self.m
            .define_data(data, &desc)
            .map_err(|e| internal(&e.to_string()))?;
        let gv = self.m.declare_data_in_func(data, self.b.func);
        Ok(Repr::Buf(self.b.ins().symbol_value(I64, gv)))
    }

    pub fn broadcast(&mut self, id: ValueId, a: ValueId) -> Res<Repr> {
        let shape = self.ty(id)?.shape.clone();
        let from = self.ty(a)?.shape.clone();
        if shape.is_empty() {
            return Ok(Repr::Scalar(self.scalar(a)?));
        }
        let dst = self.dest(id)?;
        let len = self.len_of(id)?;
        if let Repr::Scalar(x) = self.repr(a)? {
            self.each(len, |s, i| {
                s.store(dst, i, x);
                Ok(())
            })?;
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
            let lin = s.linear(&extents, idx);
            let mut off = s.b.ins().iconst(I64, 0);
            for (&i, &st) in idx.iter().zip(&strides) {
                if st != 0 {
                    let t = s.b.ins().imul_imm_s(i, st as i64);
                    off = s.b.ins().iadd(off, t);
                }
            }
            let x = s.load(src, Ix::V(off));
            s.store(dst, Ix::V(lin), x);
            Ok(())
        })?;
        Ok(Repr::Buf(dst))
    }

    pub fn index(
        &mut self,
        id: ValueId,
        array: ValueId,
        indices: &[ValueId],
        fill: Option<f64>,
    ) -> Res<Repr> {
        let shape = self.ty(array)?.shape.clone();
        let ty = self.ty(id)?;
        let dtype = ty.dtype;
        let scalar_result = ty.shape.is_empty();
        let sub = element_count(shape.get(indices.len()..).unwrap_or(&[]))
            .ok_or_else(|| internal("shape overflow"))?;
        let total = element_count(&shape).ok_or_else(|| internal("shape overflow"))?;
        let a = self.buf(array)?;
        let mut off = self.b.ins().iconst(I64, 0);
        let mut ok: Option<Value> = None;
        for (&i, &n) in indices.iter().zip(&shape) {
            let x = self.scalar(i)?;
            let (inr, iv) = match self.int_of.get(&x) {
                Some(&iv) => (
                    self.b
                        .ins()
                        .icmp_imm_s(IntCC::UnsignedLessThan, iv, n as i64),
                    iv,
                ),
                None => {
                    let zero = self.f64c(0.0);
                    let nf = self.f64c(n as f64);
                    let ge = self.b.ins().fcmp(FloatCC::GreaterThanOrEqual, x, zero);
                    let lt = self.b.ins().fcmp(FloatCC::LessThan, x, nf);
                    let inr = self.b.ins().band(ge, lt);
                    (inr, self.b.ins().fcvt_to_sint_sat(I64, x))
                }
            };
            let scaled = self.b.ins().imul_imm_s(off, n as i64);
            off = self.b.ins().iadd(scaled, iv);
            ok = Some(match ok {
                Some(prev) => self.b.ins().band(prev, inr),
                None => inr,
            });
        }
        let ok = ok.ok_or_else(|| internal("index without indices"))?;
        match fill {
            None => {
                let bad = self.b.ins().bxor_imm_s(ok, 1);
                self.fail_if(bad, crate::Status::IndexOutOfRange);
                if scalar_result {
                    Ok(Repr::Scalar(self.load(a, Ix::V(off))))
                } else {
                    Ok(Repr::Buf(self.addr(a, Ix::V(off), sub)))
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
                    let zero = self.b.ins().iconst(I64, 0);
                    let safe = self.b.ins().select(ok, off, zero);
                    let y = self.load(a, Ix::V(safe));
                    Ok(Repr::Scalar(self.b.ins().select(ok, y, xv)))
                } else {
                    let fillbuf = self.dest(id)?;
                    self.each(sub, |s, i| {
                        s.store(fillbuf, i, xv);
                        Ok(())
                    })?;
                    let p = self.addr(a, Ix::V(off), sub);
                    Ok(Repr::Buf(self.b.ins().select(ok, p, fillbuf)))
                }
            }
        }
    }

    pub fn concat(&mut self, id: ValueId, parts: &[ValueId]) -> Res<Repr> {
        let dst = self.dest(id)?;
        let mut offset = 0usize;
        for &p in parts {
            let len = self.len_of(p)?;
            let at = self.addr(dst, Ix::C(offset), 1);
            let r = self.repr(p)?;
            self.store_repr(r, at, len)?;
            offset += len;
        }
        Ok(Repr::Buf(dst))
    }

    pub fn reshape(&mut self, id: ValueId, a: ValueId) -> Res<Repr> {
        let to_scalar = self.ty(id)?.shape.is_empty();
        match self.repr(a)? {
            Repr::Scalar(x) if to_scalar => Ok(Repr::Scalar(x)),
            Repr::Scalar(x) => {
                let dst = self.dest(id)?;
                self.store(dst, Ix::C(0), x);
                Ok(Repr::Buf(dst))
            }
            Repr::Buf(p) if to_scalar => Ok(Repr::Scalar(self.load(p, Ix::C(0)))),
            Repr::Buf(p) => Ok(Repr::Buf(p)),
            Repr::Batch { .. } => Err(internal("reshape of a batched value")),
        }
    }

    pub fn transpose(&mut self, id: ValueId, a: ValueId) -> Res<Repr> {
        let (m, n) = match self.ty(a)?.shape[..] {
            [m, n] => (m, n),
            _ => return Err(internal("transpose of a non-matrix")),
        };
        let src = self.buf(a)?;
        let dst = self.dest(id)?;
        let mut idx = Vec::new();
        self.nest(&[n, m], &mut idx, &mut |s, idx| {
            let (j, i) = (idx[0], idx[1]);
            let d = s.linear(&[n, m], &[j, i]);
            let o = s.linear(&[m, n], &[i, j]);
            let x = s.load(src, Ix::V(o));
            s.store(dst, Ix::V(d), x);
            Ok(())
        })?;
        Ok(Repr::Buf(dst))
    }

    /// `Σ_{l<k} f(l)` left to right from `+0.0`, unrolled when `k` is small.
    pub fn sum_of(
        &mut self,
        k: usize,
        mut term: impl FnMut(&mut Self, Ix) -> Res<Value>,
    ) -> Res<Value> {
        let zero = self.f64c(0.0);
        if k <= UNROLL {
            let mut acc = zero;
            for l in 0..k {
                let t = term(self, Ix::C(l))?;
                acc = self.b.ins().fadd(acc, t);
            }
            return Ok(acc);
        }
        let var = self.b.declare_var(F64);
        self.b.def_var(var, zero);
        self.repeat(k, |s, l| {
            let t = term(s, Ix::V(l))?;
            let acc = s.b.use_var(var);
            let acc = s.b.ins().fadd(acc, t);
            s.b.def_var(var, acc);
            Ok(())
        })?;
        Ok(self.b.use_var(var))
    }

    pub fn dot(&mut self, id: ValueId, a: ValueId, b: ValueId) -> Res<Repr> {
        let k = self.len_of(a)?;
        let (pa, pb) = (self.buf(a)?, self.buf(b)?);
        let r = self.sum_of(k, |s, l| {
            let x = s.load(pa, l);
            let y = s.load(pb, l);
            Ok(s.b.ins().fmul(x, y))
        })?;
        let dtype = self.ty(id)?.dtype;
        Ok(Repr::Scalar(self.round(r, dtype)))
    }

    /// `tanh` of a whole `f64` tensor through the vector kernel (`vtanh::sci_tanh_n`, libm's
    /// bits), when the options link sci's kernels (the JIT) and the tensor is large enough
    /// to pay for the call; `None` leaves it to the element loop.
    pub fn tanh_buffer(&mut self, id: ValueId, a: ValueId) -> Res<Option<Repr>> {
        if !crate::vtanh::kernel_applies(self.opts.threads.is_some(), self.ty(id)?) {
            return Ok(None);
        }
        let len = self.len_of(id)?;
        let src = self.buf(a)?;
        let dst = self.dest(id)?;
        let n = self.b.ins().iconst(I64, len as i64);
        self.kernel("sci_tanh_n", &[src, dst, n])?;
        Ok(Some(Repr::Buf(dst)))
    }

    /// `matvec` and `matmul`: `[m, k] × [k, n]` with `n = 1` for a vector. Large `f64`
    /// products call the JIT's matrix-product kernel when the options allow it.
    pub fn matmul(&mut self, id: ValueId, a: ValueId, b: ValueId) -> Res<Repr> {
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
            let dims = [m, n, k].map(|d| self.b.ins().iconst(I64, d as i64));
            self.kernel("sci_matmul", &[dims[0], dims[1], dims[2], pa, pb, dst])?;
            return Ok(Repr::Buf(dst));
        }
        let mut idx = Vec::new();
        self.nest(&[m, n], &mut idx, &mut |s, idx| {
            let (i, j) = (idx[0], idx[1]);
            let row = s.addr(pa, Ix::V(i), k);
            let col = s.addr(pb, Ix::V(j), 1);
            let r = s.sum_of(k, |s, l| {
                let x = s.load(row, l);
                let y = match l {
                    Ix::C(c) => s.load(col, Ix::C(c * n)),
                    Ix::V(v) => {
                        let at = s.b.ins().imul_imm_s(v, n as i64);
                        s.load(col, Ix::V(at))
                    }
                };
                Ok(s.b.ins().fmul(x, y))
            })?;
            let r = s.round(r, dtype);
            let at = s.linear(&[m, n], &[i, j]);
            s.store(dst, Ix::V(at), r);
            Ok(())
        })?;
        Ok(Repr::Buf(dst))
    }

    /// Combines `acc` with `x` for `op` (sum and mean add; max/min take `x` on the first
    /// item, when `first` holds).
    pub fn combine(&mut self, op: ReduceOp, acc: Value, x: Value, first: Option<Value>) -> Value {
        match op {
            ReduceOp::Sum | ReduceOp::Mean => self.b.ins().fadd(acc, x),
            ReduceOp::Prod => self.b.ins().fmul(acc, x),
            ReduceOp::Max | ReduceOp::Min => {
                let r = if op == ReduceOp::Max {
                    self.max_nan(acc, x)
                } else {
                    self.min_nan(acc, x)
                };
                match first {
                    Some(f) => self.b.ins().select(f, x, r),
                    None => r,
                }
            }
        }
    }

    /// The starting accumulator of `op` (NaN for max/min, replaced by the first item).
    pub fn start(&mut self, op: ReduceOp) -> Value {
        self.f64c(match op {
            ReduceOp::Sum | ReduceOp::Mean => 0.0,
            ReduceOp::Prod => 1.0,
            ReduceOp::Max | ReduceOp::Min => f64::NAN,
        })
    }

    pub fn reduce(&mut self, id: ValueId, op: ReduceOp, a: ValueId) -> Res<Repr> {
        let len = self.len_of(a)?;
        let dtype = self.ty(id)?.dtype;
        let r = match self.repr(a)? {
            Repr::Scalar(x) => {
                let acc = self.start(op);
                let t = self_true(self);
                self.combine(op, acc, x, Some(t))
            }
            Repr::Buf(p) => {
                let var: Variable = self.b.declare_var(F64);
                let init = self.start(op);
                self.b.def_var(var, init);
                self.each(len, |s, i| {
                    let x = s.load(p, i);
                    let first = match i {
                        Ix::C(c) => (c == 0).then(|| self_true(s)),
                        Ix::V(v) => Some(s.b.ins().icmp_imm_s(IntCC::Equal, v, 0)),
                    };
                    let acc = s.b.use_var(var);
                    let acc = s.combine(op, acc, x, first);
                    s.b.def_var(var, acc);
                    Ok(())
                })?;
                self.b.use_var(var)
            }
            Repr::Batch { .. } => return Err(internal("reduce of a batched value")),
        };
        let r = if op == ReduceOp::Mean {
            let n = self.f64c(len as f64);
            self.b.ins().fdiv(r, n)
        } else {
            r
        };
        Ok(Repr::Scalar(self.round(r, dtype)))
    }
}

/// An `i8` true.
fn self_true<M: ClModule>(s: &mut FnLower<'_, '_, M>) -> Value {
    s.b.ins().iconst(cranelift_codegen::ir::types::I8, 1)
}
