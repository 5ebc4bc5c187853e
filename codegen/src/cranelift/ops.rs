//! Cranelift's own fast paths for whole-tensor ops: sci's vector kernels (`tanh`, `erf`,
//! `exp`, elementwise arithmetic, selects, fills, broadcasts, transposes) where the code
//! links sci, and `F64X2` arithmetic.

use super::lower::{FnLower, PairOp, Repr, Res};
use crate::lower::tensor::broadcast_strides;
use crate::lower::{Emit, Env};
use crate::vecops::{BROADCAST_MAX_RANK, EW_KERNEL_MIN, Ew};
use cranelift_codegen::ir::InstBuilder;
use cranelift_codegen::ir::types::{F64, I64};
use cranelift_module::Module as ClModule;
use sci_ir::interp::PowiForm;
use sci_ir::{BinaryOp, DType, Op, UnaryOp, ValueId};

impl<M: ClModule> FnLower<'_, '_, M> {
    /// The vector `tanh`, `erf` and `exp` kernels; + − × ÷, negation and squares by sci's
    /// elementwise kernel (`vecops::sci_ew`, AVX-512/AVX2) where the code links sci, else as
    /// `F64X2` code; broadcasts of a scalar by `vecops::sci_fill`.
    pub fn fast_paths(&mut self, id: ValueId, op: &Op) -> Res<Option<Repr>> {
        match op {
            Op::Broadcast(a) => return self.broadcast_buffer(id, *a),
            Op::Transpose(a) => return self.transpose_buffer(id, *a),
            Op::Select(c, a, b) => return self.select_buffer(id, [*c, *a, *b]),
            _ => {}
        }
        let (pair, operands) = match op {
            Op::Unary(
                op @ (UnaryOp::Tanh | UnaryOp::Erf | UnaryOp::Exp | UnaryOp::Gelu | UnaryOp::Dgelu),
                a,
            ) => {
                return self.unary_buffer(id, *op, *a);
            }
            Op::Unary(UnaryOp::Neg, a) => (PairOp::Neg, vec![*a]),
            Op::Binary(BinaryOp::Add, a, b) => (PairOp::Add, vec![*a, *b]),
            Op::Binary(BinaryOp::Sub, a, b) => (PairOp::Sub, vec![*a, *b]),
            Op::Binary(BinaryOp::Mul, a, b) => (PairOp::Mul, vec![*a, *b]),
            Op::Binary(BinaryOp::Div, a, b) => (PairOp::Div, vec![*a, *b]),
            Op::Powi(a, n) if PowiForm::of(*n) == PowiForm::Square => (PairOp::Square, vec![*a]),
            _ => return Ok(None),
        };
        if let Some(r) = self.elementwise_kernel(id, &operands, pair)? {
            return Ok(Some(r));
        }
        self.elementwise_pairs(id, &operands, pair)
    }

    /// Whether an elementwise result of type `id` goes to one of sci's kernels.
    fn kernel_sized(&self, id: ValueId) -> Res<Option<usize>> {
        let ty = self.ty(id)?;
        let len = self.len_of(id)?;
        let big = self.opts.links_runtime()
            && ty.dtype == DType::F64
            && !ty.shape.is_empty()
            && !ty.batched
            && len >= EW_KERNEL_MIN;
        Ok(big.then_some(len))
    }

    /// `op` over whole tensors by `vecops::sci_ew` (`None`: not worth a call here).
    fn elementwise_kernel(
        &mut self,
        id: ValueId,
        operands: &[ValueId],
        op: PairOp,
    ) -> Res<Option<Repr>> {
        let Some(len) = self.kernel_sized(id)? else {
            return Ok(None);
        };
        let mut ptrs = Vec::with_capacity(2);
        for &a in operands {
            match self.repr(a)? {
                Repr::Buf(p) => ptrs.push(p),
                _ => return Ok(None),
            }
        }
        let code = match op {
            PairOp::Add => Ew::Add,
            PairOp::Sub => Ew::Sub,
            PairOp::Mul => Ew::Mul,
            PairOp::Div => Ew::Div,
            PairOp::Neg => Ew::Neg,
            PairOp::Square => Ew::Square,
        };
        let (a, b) = match ptrs[..] {
            [a] => (a, a),
            [a, b] => (a, b),
            _ => return Ok(None),
        };
        let dst = Emit::dest(self, id)?;
        let code = self.b.ins().iconst(I64, code as i64);
        let n = self.b.ins().iconst(I64, len as i64);
        self.kernel("sci_ew", &[code, a, b, dst, n])?;
        Ok(Some(Repr::Buf(dst)))
    }

    /// A broadcast by `vecops::sci_fill` (of a scalar) or `vecops::sci_broadcast` (of a
    /// tensor; its extents and strides in read-only data); `None`: not worth a call here.
    fn broadcast_buffer(&mut self, id: ValueId, a: ValueId) -> Res<Option<Repr>> {
        let Some(len) = self.kernel_sized(id)? else {
            return Ok(None);
        };
        let shape = &self.ty(id)?.shape;
        let from = &self.ty(a)?.shape;
        let src = match self.repr(a)? {
            Repr::Scalar(x) => {
                let dst = Emit::dest(self, id)?;
                let n = self.b.ins().iconst(I64, len as i64);
                let f = self.import("sci_fill", &[F64, I64, I64], None)?;
                let r = self.func_ref(f);
                self.b.ins().call(r, &[x, dst, n]);
                return Ok(Some(Repr::Buf(dst)));
            }
            Repr::Buf(p) if shape.len() <= BROADCAST_MAX_RANK => p,
            _ => return Ok(None),
        };
        let strides = broadcast_strides(shape, from);
        let words: Vec<f64> = shape.iter().chain(&strides).map(|&k| k as f64).collect();
        let desc = self.literal_data(id, &words)?;
        let dst = Emit::dest(self, id)?;
        let rank = self.b.ins().iconst(I64, shape.len() as i64);
        self.kernel("sci_broadcast", &[src, dst, desc, rank])?;
        Ok(Some(Repr::Buf(dst)))
    }

    /// A transpose (of each matrix of a batch) by `vecops::sci_transpose` (`None`: not
    /// worth a call here).
    fn transpose_buffer(&mut self, id: ValueId, a: ValueId) -> Res<Option<Repr>> {
        let (Some(_), [batch @ .., m, n]) = (self.kernel_sized(id)?, &self.ty(a)?.shape[..]) else {
            return Ok(None);
        };
        let batch: usize = batch.iter().product();
        let Repr::Buf(src) = self.repr(a)? else {
            return Ok(None);
        };
        let dst = Emit::dest(self, id)?;
        let [batch, m, n] = [batch, *m, *n].map(|d| self.b.ins().iconst(I64, d as i64));
        self.kernel("sci_transpose", &[src, dst, batch, m, n])?;
        Ok(Some(Repr::Buf(dst)))
    }

    /// A select of whole tensors by `vecops::sci_select` (`None`: not worth a call here).
    fn select_buffer(&mut self, id: ValueId, operands: [ValueId; 3]) -> Res<Option<Repr>> {
        let Some(len) = self.kernel_sized(id)? else {
            return Ok(None);
        };
        let mut ptrs = [None; 3];
        for (p, a) in ptrs.iter_mut().zip(operands) {
            if let Repr::Buf(b) = self.repr(a)? {
                *p = Some(b);
            }
        }
        let [Some(c), Some(a), Some(b)] = ptrs else {
            return Ok(None);
        };
        let dst = Emit::dest(self, id)?;
        let n = self.b.ins().iconst(I64, len as i64);
        self.kernel("sci_select", &[c, a, b, dst, n])?;
        Ok(Some(Repr::Buf(dst)))
    }

    /// `tanh`, `erf` or `exp` of a whole `f64` tensor through its vector kernel
    /// (`libm::UNARY_KERNELS`, libm's bits), when the options link sci's kernels (the JIT)
    /// and the tensor is large enough to pay for the call; `None` leaves it to the element
    /// loop.
    pub fn unary_buffer(&mut self, id: ValueId, op: UnaryOp, a: ValueId) -> Res<Option<Repr>> {
        let linked = self.opts.links_runtime();
        let Some(name) = crate::libm::unary_kernel(linked, op, self.ty(id)?) else {
            return Ok(None);
        };
        let len = self.len_of(id)?;
        let src = self.buf(a)?;
        let dst = Emit::dest(self, id)?;
        let n = self.b.ins().iconst(I64, len as i64);
        self.kernel(name, &[src, dst, n])?;
        Ok(Some(Repr::Buf(dst)))
    }
}
