//! Lowering of the structured ops (`tabulate`, `fold`, `map`), batch reductions and calls.
//!
//! `tabulate` and `fold` become `scf.for` nests whose body is the block, lowered once (a
//! scalar `fold` carries its accumulator in `iter_args`). `map` is an `scf.for` over the
//! points of its batched inputs, whose count is a run-time `index`. `reduce_batch` adds up
//! points left to right, like the interpreter (the native back ends' compensated summation
//! is not used: the MLIR CPU path is the GPU kernels' reference, and the GPU reduces in
//! chunks anyway).

use super::lower::{FnLower, MEM, Repr, Res, func_symbol, internal};
use super::text::Ix;
use crate::abi::{Status, batch_source};
use sci_ir::{Block, FuncId, ReduceOp, ValueId};

impl FnLower<'_> {
    /// Runs `block` with its arguments bound to `args` and returns its result.
    pub fn run_block(&mut self, block: &Block, args: Vec<Repr>) -> Res<Repr> {
        for (&a, r) in block.args.iter().zip(args) {
            self.set(a, r);
        }
        self.lower_body(&block.body)?;
        self.repr(block.result)
    }

    pub fn tabulate(&mut self, id: ValueId, extents: &[usize], body: &Block) -> Res<Repr> {
        let (dst, doff) = self.dest(id)?;
        let per = self.len_of(body.result)?;
        let mut idx = Vec::new();
        self.nest(extents, &mut idx, &mut |s, idx| {
            let args: Vec<Repr> = idx.iter().map(|i| Repr::Scalar(s.index_value(i))).collect();
            let item = s.run_block(body, args)?;
            let lin = s.linear(extents, idx);
            let at = s.at(&doff, &lin, per);
            s.store_repr(&item, (&dst, &at), per)
        })?;
        Ok(Repr::Buf {
            mem: dst,
            off: doff,
        })
    }

    pub fn fold(&mut self, id: ValueId, op: ReduceOp, extent: usize, body: &Block) -> Res<Repr> {
        let dtype = self.ty(id)?.dtype;
        let width = self.len_of(id)?;
        if self.ty(id)?.shape.is_empty() {
            let init = self.start(op);
            let r = self.for_loop(&Ix::C(0), &Ix::C(extent), &[init], |s, i, acc| {
                let x = s.index_value(i);
                let item = match s.run_block(body, vec![Repr::Scalar(x)])? {
                    Repr::Scalar(v) => v,
                    Repr::Buf { mem, off } => s.load(&mem, &off),
                    Repr::Batch { .. } => return Err(internal("batched fold item")),
                };
                let first = s.is_index(i, 0);
                Ok(vec![s.combine(op, &acc[0], &item, Some(&first))])
            })?;
            let mut r = r[0].clone();
            if op == ReduceOp::Mean {
                let n = self.cf64(extent as f64);
                r = self.def(format!("arith.divf {r}, {n} : f64"));
            }
            return Ok(Repr::Scalar(self.round(&r, dtype)));
        }
        let (acc, aoff) = self.dest(id)?;
        let init = self.start(op);
        self.each(width, |s, j| {
            let at = s.add(&aoff, &j);
            s.store(&init, &acc, &at);
            Ok(())
        })?;
        self.repeat(extent, |s, i| {
            let x = s.index_value(i);
            let (p, poff) = match s.run_block(body, vec![Repr::Scalar(x)])? {
                Repr::Buf { mem, off } => (mem, off),
                _ => return Err(internal("fold item of the wrong shape")),
            };
            let first = s.is_index(i, 0);
            s.each(width, |s, j| {
                let at = s.add(&aoff, &j);
                let a = s.load(&acc, &at);
                let from = s.add(&poff, &j);
                let y = s.load(&p, &from);
                let r = s.combine(op, &a, &y, Some(&first));
                s.store(&r, &acc, &at);
                Ok(())
            })
        })?;
        self.each(width, |s, j| {
            let at = s.add(&aoff, &j);
            let mut r = s.load(&acc, &at);
            if op == ReduceOp::Mean {
                let n = s.cf64(extent as f64);
                r = s.def(format!("arith.divf {r}, {n} : f64"));
            }
            let r = s.round(&r, dtype);
            s.store(&r, &acc, &at);
            Ok(())
        })?;
        Ok(Repr::Buf {
            mem: acc,
            off: aoff,
        })
    }

    pub fn map(&mut self, id: ValueId, inputs: &[ValueId], body: &Block) -> Res<Repr> {
        let mut ins = Vec::with_capacity(inputs.len());
        for &i in inputs {
            match self.repr(i)? {
                Repr::Batch { mem, off, n } => {
                    let scalar = self.ty(i)?.shape.is_empty();
                    ins.push((mem, off, n, self.len_of(i)?, scalar))
                }
                _ => return Err(internal("map over an unbatched value")),
            }
        }
        let n = ins
            .first()
            .map(|x| x.2.clone())
            .ok_or_else(|| internal("map without inputs"))?;
        // With mismatched batches no point runs (the call fails), so no input is read
        // beyond its end.
        let mut count = n.clone();
        for (_, _, m, _, _) in &ins[1..] {
            let differ = self.def(format!("arith.cmpi ne, {n}, {m} : index"));
            self.fail_if(&differ, Status::BatchMismatch);
            let zero = self.cidx(0);
            count = self.select(&differ, &zero, &count, "index");
        }
        let per = self.len_of(id)?;
        let (dst, doff) = self.alloc_batch(id, &n, per)?;
        self.for_range(&Ix::C(0), &Ix::V(count), |s, p| {
            let p = Ix::V(p.to_string());
            let mut args = Vec::with_capacity(ins.len());
            for (mem, off, _, len, scalar) in &ins {
                let at = s.at(off, &p, *len);
                args.push(if *scalar {
                    Repr::Scalar(s.load(mem, &at))
                } else {
                    Repr::Buf {
                        mem: mem.clone(),
                        off: at,
                    }
                });
            }
            let item = s.run_block(body, args)?;
            let at = s.at(&doff, &p, per);
            s.store_repr(&item, (&dst, &at), per)?;
            Ok(())
        })?;
        Ok(Repr::Batch {
            mem: dst,
            off: doff,
            n,
        })
    }

    pub fn reduce_batch(&mut self, id: ValueId, op: ReduceOp, a: ValueId) -> Res<Repr> {
        let (mem, off, n) = match self.repr(a)? {
            Repr::Batch { mem, off, n } => (mem, off, n),
            _ => return Err(internal("reduce_batch of an unbatched value")),
        };
        let per = self.len_of(a)?;
        let dtype = self.ty(id)?.dtype;
        if matches!(op, ReduceOp::Max | ReduceOp::Min | ReduceOp::Mean) {
            let zero = self.cidx(0);
            let empty = self.def(format!("arith.cmpi eq, {n}, {zero} : index"));
            self.fail_if(&empty, Status::EmptyBatch);
        }
        let scalar = self.ty(id)?.shape.is_empty();
        let dst = if scalar { None } else { Some(self.dest(id)?) };
        let mut result = None;
        self.each(per, |s, e| {
            let init = s.start(op);
            let col = s.add(&off, &e);
            let r = s.for_loop(&Ix::C(0), &Ix::V(n.clone()), &[init], |s, p, acc| {
                let at = s.at(&col, &Ix::V(p.to_string()), per);
                let x = s.load(&mem, &at);
                let first = s.is_index(p, 0);
                Ok(vec![s.combine(op, &acc[0], &x, Some(&first))])
            })?;
            let mut r = r[0].clone();
            if op == ReduceOp::Mean {
                let nf = s.index_to_f64(&n);
                r = s.def(format!("arith.divf {r}, {nf} : f64"));
            }
            let r = s.round(&r, dtype);
            match &dst {
                Some((d, doff)) => {
                    let at = s.add(doff, &e);
                    s.store(&r, d, &at);
                }
                None => result = Some(r),
            }
            Ok(())
        })?;
        match (dst, result) {
            (Some((mem, off)), _) => Ok(Repr::Buf { mem, off }),
            (None, Some(r)) => Ok(Repr::Scalar(r)),
            (None, None) => Err(internal("reduce_batch of an empty point")),
        }
    }

    pub fn call(&mut self, id: ValueId, func: FuncId, args: &[ValueId]) -> Res<Repr> {
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
                Repr::Buf { mem, off } if !want.batched => {
                    let o = self.ix(&off);
                    params.extend([mem, o]);
                    tys.extend([MEM, "index"]);
                    counts.push(None);
                }
                Repr::Batch { mem, off, n } if want.batched => {
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
            let (m, o) = self.alloc_batch(id, &n, per)?;
            (m, o, Some(n))
        } else {
            let (m, o) = self.dest(id)?;
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
                mem: out,
                off: ooff,
                n,
            },
            None if ty.shape.is_empty() => Repr::Scalar(self.load(&out, &ooff)),
            None => Repr::Buf {
                mem: out,
                off: ooff,
            },
        })
    }
}
