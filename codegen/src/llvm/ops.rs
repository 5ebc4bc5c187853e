//! LLVM's own fast paths for whole-tensor ops (the vector `tanh` kernel) and small helpers
//! of its structured lowering.

use super::lower::{FnLower, Repr, Res};
use crate::lower::{Emit, Env};
use sci_ir::ValueId;

impl<'ctx> FnLower<'_, 'ctx> {
    /// `tanh` of a whole `f64` tensor through the vector kernel (`vtanh::sci_tanh_n`, libm's
    /// bits), when the options link sci's kernels (the JIT) and the tensor is large enough
    /// to pay for the call; `None` leaves it to the element loop.
    pub fn tanh_buffer(&mut self, id: ValueId, a: ValueId) -> Res<Option<Repr<'ctx>>> {
        if !crate::vtanh::kernel_applies(self.opts.links_runtime(), self.ty(id)?) {
            return Ok(None);
        }
        let len = self.len_of(id)?;
        let src = self.buf(a)?;
        let dst = Emit::dest(self, id)?;
        let n = self.i64c(len);
        self.b
            .build_call(self.decls.tanh_n, &[src.into(), dst.into(), n.into()], "")?;
        Ok(Some(Repr::Buf(dst)))
    }
}
