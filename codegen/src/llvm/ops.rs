//! LLVM's own fast paths for whole-tensor ops (the vector `tanh`, `erf` and `exp` kernels)
//! and small helpers of its structured lowering.

use super::lower::{FnLower, Repr, Res, internal};
use crate::lower::{Emit, Env};
use sci_ir::{UnaryOp, ValueId};

impl<'ctx> FnLower<'_, 'ctx> {
    /// `tanh`, `erf` or `exp` of a whole `f64` tensor through its vector kernel
    /// (`libm::UNARY_KERNELS`, libm's bits), when the options link sci's kernels (the JIT)
    /// and the tensor is large enough to pay for the call; `None` leaves it to the element
    /// loop.
    pub fn unary_buffer(
        &mut self,
        id: ValueId,
        op: UnaryOp,
        a: ValueId,
    ) -> Res<Option<Repr<'ctx>>> {
        let linked = self.opts.links_runtime();
        let Some(name) = crate::libm::unary_kernel(linked, op, self.ty(id)?) else {
            return Ok(None);
        };
        let kernel = *self
            .decls
            .unary_n
            .get(name)
            .ok_or_else(|| internal(&format!("`{name}` not declared")))?;
        let len = self.len_of(id)?;
        let src = self.buf(a)?;
        let dst = Emit::dest(self, id)?;
        let n = self.i64c(len);
        self.b
            .build_call(kernel, &[src.into(), dst.into(), n.into()], "")?;
        Ok(Some(Repr::Buf(dst)))
    }
}
