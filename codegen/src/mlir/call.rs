//! The call instruction of an IR function call, in MLIR (`func.call` on memrefs) under
//! the sci ABI (`crate::abi`); the arguments, the result buffer and the batch count are the
//! shared lowering's (`lower::structured::call`).

use super::emit::Region;
use super::lower::{FnLower, MEM, Repr, func_symbol};
use sci_ir::FuncId;

impl FnLower<'_> {
    /// `%status = func.call @NAME(args..., out)`: scalars as `f64`, tensors as a buffer and
    /// an offset, batches with their point count; a failure status is recorded.
    pub fn call_function(&mut self, func: FuncId, args: &[Repr], out: Region) {
        let mut params: Vec<String> = Vec::new();
        let mut tys: Vec<&str> = Vec::new();
        for a in args {
            match a {
                Repr::Scalar(x) => {
                    params.push(x.clone());
                    tys.push("f64");
                }
                Repr::Buf(Region { mem, off }) => {
                    let o = self.ix(off);
                    params.extend([mem.clone(), o]);
                    tys.extend([MEM, "index"]);
                }
                Repr::Batch {
                    ptr: Region { mem, off },
                    n,
                } => {
                    let o = self.ix(off);
                    params.extend([mem.clone(), o, n.clone()]);
                    tys.extend([MEM, "index", "index"]);
                }
            }
        }
        let o = self.ix(&out.off);
        params.extend([out.mem, o]);
        tys.extend([MEM, "index"]);
        let status = self.def(format!(
            "func.call @{}({}) : ({}) -> i32",
            func_symbol(func.index()),
            params.join(", "),
            tys.join(", ")
        ));
        self.fail_on_status(&status);
    }
}
