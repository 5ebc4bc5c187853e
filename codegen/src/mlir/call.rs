//! Calls of IR functions, lowered to MLIR (`func.call` on memrefs) under the sci ABI (`crate::abi`): a
//! batched result takes its point count from the batched argument the ABI names, and a
//! callee's failure status fails the caller.

use super::emit::Region;
use super::lower::{FnLower, MEM, Repr, Res, func_symbol, internal};
use crate::abi::batch_source;
use crate::lower::Env;
use sci_ir::{FuncId, ValueId};

impl FnLower<'_> {
    pub fn call_function(&mut self, id: ValueId, func: FuncId, args: &[ValueId]) -> Res<Repr> {
        let callee = self
            .ir
            .functions
            .get(func)
            .ok_or_else(|| internal("call of a function out of range"))?;
        let mut params: Vec<String> = Vec::new();
        let mut tys: Vec<&str> = Vec::new();
        let mut counts = Vec::new();
        for (k, &a) in args.iter().enumerate() {
            let want = callee
                .input_type(k)
                .ok_or_else(|| internal("call with too many arguments"))?;
            if !want.batched && want.shape.is_empty() {
                params.push(self.scalar(a)?);
                tys.push("f64");
                counts.push(None);
                continue;
            }
            match self.repr(a)? {
                Repr::Buf(Region { mem, off }) if !want.batched => {
                    let o = self.ix(&off);
                    params.extend([mem, o]);
                    tys.extend([MEM, "index"]);
                    counts.push(None);
                }
                Repr::Batch {
                    ptr: Region { mem, off },
                    n,
                } if want.batched => {
                    let o = self.ix(&off);
                    params.extend([mem, o, n.clone()]);
                    tys.extend([MEM, "index", "index"]);
                    counts.push(Some(n));
                }
                _ => return Err(internal("call argument of the wrong kind")),
            }
        }
        let ty = self.ty(id)?;
        let per = self.len_of(id)?;
        let (out, ooff, n) = if ty.batched {
            let k = batch_source(self.ir, func, 0)
                .ok_or_else(|| internal("batched result without a batched input"))?;
            let n = counts
                .get(k)
                .cloned()
                .flatten()
                .ok_or_else(|| internal("batch source is not batched"))?;
            let (m, o) = self.batch_buffer(id, &n, per)?;
            (m, o, Some(n))
        } else {
            let (m, o) = self.planned(id)?;
            (m, o, None)
        };
        let o = self.ix(&ooff);
        params.extend([out.clone(), o]);
        tys.extend([MEM, "index"]);
        let status = self.def(format!(
            "func.call @{}({}) : ({}) -> i32",
            func_symbol(func.index()),
            params.join(", "),
            tys.join(", ")
        ));
        self.fail_on_status(&status);
        Ok(match n {
            Some(n) => Repr::Batch {
                ptr: Region {
                    mem: out,
                    off: ooff,
                },
                n,
            },
            None if ty.shape.is_empty() => Repr::Scalar(self.load_at(&out, &ooff)),
            None => Repr::Buf(Region {
                mem: out,
                off: ooff,
            }),
        })
    }
}
