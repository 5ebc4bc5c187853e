//! The call instruction of an IR function call, in LLVM IR under the sci ABI
//! (`crate::abi`); the arguments, the result buffer and the batch count are the shared
//! lowering's (`lower::structured::call`).

use super::lower::{FnLower, Repr, Res, internal};
use inkwell::values::{BasicMetadataValueEnum, PointerValue};
use sci_ir::FuncId;

impl<'ctx> FnLower<'_, 'ctx> {
    /// `status = NAME(args..., out[, ws])`; a failure status fails this call too.
    pub fn call_function(
        &mut self,
        func: FuncId,
        args: &[Repr<'ctx>],
        out: PointerValue<'ctx>,
    ) -> Res<()> {
        let callee = self
            .decls
            .funcs
            .get(func.index())
            .copied()
            .flatten()
            .ok_or_else(|| internal("call of a function without code"))?;
        let mut params: Vec<BasicMetadataValueEnum<'ctx>> = Vec::with_capacity(args.len() + 2);
        for a in args {
            match *a {
                Repr::Scalar(x) => params.push(x.into()),
                Repr::Buf(p) => params.push(p.into()),
                Repr::Batch { ptr, n } => {
                    params.push(ptr.into());
                    params.push(n.into());
                }
            }
        }
        params.push(out.into());
        if let Some(ws) = self.ws {
            params.push(ws.into());
        }
        let status = self.call_fn(callee, &params)?.into_int_value();
        self.fail_on_status(status)
    }
}
