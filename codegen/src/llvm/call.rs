//! Calls of IR functions, lowered to LLVM IR under the sci ABI (`crate::abi`): a
//! batched result takes its point count from the batched argument the ABI names, and a
//! callee's failure status fails the caller.

use super::lower::{FnLower, Ix, Repr, Res, internal};
use crate::abi::batch_source;
use crate::lower::Env;
use inkwell::values::BasicMetadataValueEnum;
use sci_ir::{FuncId, ValueId};

impl<'ctx> FnLower<'_, 'ctx> {
    pub fn call_function(
        &mut self,
        id: ValueId,
        func: FuncId,
        args: &[ValueId],
    ) -> Res<Repr<'ctx>> {
        let callee = self
            .decls
            .funcs
            .get(func.index())
            .copied()
            .flatten()
            .ok_or_else(|| internal("call of a function without code"))?;
        let mut params: Vec<BasicMetadataValueEnum<'ctx>> = Vec::with_capacity(args.len() + 1);
        let mut batch_counts = Vec::new();
        for &a in args {
            match self.repr(a)? {
                Repr::Scalar(x) => params.push(x.into()),
                Repr::Buf(p) => params.push(p.into()),
                Repr::Batch { ptr, n } => {
                    params.push(ptr.into());
                    params.push(n.into());
                    batch_counts.push(Some(n));
                    continue;
                }
            }
            batch_counts.push(None);
        }
        let ty = self.ty(id)?;
        let per = self.len_of(id)?;
        let (out, n) = if ty.batched {
            let k = batch_source(self.ir, func, 0)
                .ok_or_else(|| internal("batched result without a batched input"))?;
            let n = batch_counts
                .get(k)
                .copied()
                .flatten()
                .ok_or_else(|| internal("batch source is not batched"))?;
            (self.batch_buffer(id, n, per)?, Some(n))
        } else {
            (self.planned(id)?, None)
        };
        params.push(out.into());
        if let Some(ws) = self.ws {
            params.push(ws.into());
        }
        let status = self.call_fn(callee, &params)?.into_int_value();
        self.fail_on_status(status)?;
        Ok(match n {
            Some(n) => Repr::Batch { ptr: out, n },
            None if ty.shape.is_empty() => Repr::Scalar(self.load_f64(out, Ix::C(0))?),
            None => Repr::Buf(out),
        })
    }
}
