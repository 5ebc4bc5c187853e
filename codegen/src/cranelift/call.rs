//! The call instruction of an IR function call, in Cranelift under the sci ABI
//! (`crate::abi`); the arguments, the result buffer and the batch count are the shared
//! lowering's (`lower::structured::call`).

use super::lower::{FnLower, Repr, Res, internal};
use cranelift_codegen::ir::Value;
use cranelift_module::Module as ClModule;
use sci_ir::FuncId;

impl<M: ClModule> FnLower<'_, '_, M> {
    /// `status = NAME(args..., out[, ws])`; a failure status fails this call too.
    pub fn call_function(&mut self, func: FuncId, args: &[Repr], out: Value) -> Res<()> {
        let code = self
            .imports
            .funcs
            .get(func.index())
            .copied()
            .flatten()
            .ok_or_else(|| internal("call of a function without code"))?;
        let mut params = Vec::with_capacity(args.len() + 2);
        for a in args {
            match *a {
                Repr::Scalar(x) | Repr::Buf(x) => params.push(x),
                Repr::Batch { ptr, n } => params.extend([ptr, n]),
            }
        }
        params.push(out);
        params.extend(self.ws);
        let status = self.call_import(code, &params)?;
        self.fail_on_status(status);
        Ok(())
    }
}
