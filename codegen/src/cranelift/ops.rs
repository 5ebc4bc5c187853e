//! Cranelift's own fast paths for whole-tensor ops: the vector `tanh` kernel and `F64X2`
//! arithmetic.

use super::lower::{FnLower, PairOp, Repr, Res};
use crate::lower::{Emit, Env};
use cranelift_codegen::ir::InstBuilder;
use cranelift_codegen::ir::types::I64;
use cranelift_module::Module as ClModule;
use sci_ir::interp::PowiForm;
use sci_ir::{BinaryOp, Op, UnaryOp, ValueId};

impl<M: ClModule> FnLower<'_, '_, M> {
    /// The vector `tanh` kernel, and `F64X2` code for + − × ÷, negation and squares.
    pub fn fast_paths(&mut self, id: ValueId, op: &Op) -> Res<Option<Repr>> {
        let (pair, operands) = match op {
            Op::Unary(UnaryOp::Tanh, a) => return self.tanh_buffer(id, *a),
            Op::Unary(UnaryOp::Neg, a) => (PairOp::Neg, vec![*a]),
            Op::Binary(BinaryOp::Add, a, b) => (PairOp::Add, vec![*a, *b]),
            Op::Binary(BinaryOp::Sub, a, b) => (PairOp::Sub, vec![*a, *b]),
            Op::Binary(BinaryOp::Mul, a, b) => (PairOp::Mul, vec![*a, *b]),
            Op::Binary(BinaryOp::Div, a, b) => (PairOp::Div, vec![*a, *b]),
            Op::Powi(a, n) if PowiForm::of(*n) == PowiForm::Square => (PairOp::Square, vec![*a]),
            _ => return Ok(None),
        };
        self.elementwise_pairs(id, &operands, pair)
    }

    /// `tanh` of a whole `f64` tensor through the vector kernel (`vtanh::sci_tanh_n`, libm's
    /// bits), when the options link sci's kernels (the JIT) and the tensor is large enough
    /// to pay for the call; `None` leaves it to the element loop.
    pub fn tanh_buffer(&mut self, id: ValueId, a: ValueId) -> Res<Option<Repr>> {
        if !crate::vtanh::kernel_applies(self.opts.links_runtime(), self.ty(id)?) {
            return Ok(None);
        }
        let len = self.len_of(id)?;
        let src = self.buf(a)?;
        let dst = Emit::dest(self, id)?;
        let n = self.b.ins().iconst(I64, len as i64);
        self.kernel("sci_tanh_n", &[src, dst, n])?;
        Ok(Some(Repr::Buf(dst)))
    }
}
