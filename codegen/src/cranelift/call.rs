//! Calls of IR functions, lowered to Cranelift under the sci ABI (`crate::abi`): a
//! batched result takes its point count from the batched argument the ABI names, and a
//! callee's failure status fails the caller.

use super::lower::{FnLower, Ix, Repr, Res, internal};
use crate::abi::batch_source;
use crate::lower::Env;
use cranelift_module::Module as ClModule;
use sci_ir::{FuncId, ValueId};

impl<M: ClModule> FnLower<'_, '_, M> {
    pub fn call_function(&mut self, id: ValueId, func: FuncId, args: &[ValueId]) -> Res<Repr> {
        let code = self
            .imports
            .funcs
            .get(func.index())
            .copied()
            .flatten()
            .ok_or_else(|| internal("call of a function without code"))?;
        let mut params = Vec::with_capacity(args.len() + 1);
        let mut batch_counts = Vec::new();
        for &a in args {
            match self.repr(a)? {
                Repr::Scalar(x) => params.push(x),
                Repr::Buf(p) => params.push(p),
                Repr::Batch { ptr, n } => {
                    params.push(ptr);
                    params.push(n);
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
        params.push(out);
        params.extend(self.ws);
        let status = self.call_import(code, &params)?;
        self.fail_on_status(status);
        Ok(match n {
            Some(n) => Repr::Batch { ptr: out, n },
            None if ty.shape.is_empty() => Repr::Scalar(self.load_f64(out, Ix::C(0))),
            None => Repr::Buf(out),
        })
    }
}
