//! Lowering of the structured ops (`tabulate`, `fold`, `map`), batch reductions and calls.
//!
//! `tabulate` and `fold` become counted loops whose body is the block, lowered once.
//! `map` is a loop over the points of its batched inputs, whose count is a run-time value.
//! `reduce_batch sum` and `mean` use Neumaier's compensated summation by default (the error
//! does not grow with the number of points), or a plain left-to-right sum that matches the
//! interpreter bit for bit ([`BatchSum`](super::BatchSum)).

use super::BatchSum;
use super::lower::{FnLower, Ix, Repr, Res, internal};
use crate::abi::{Status, batch_source};
use crate::parallel::{Descriptor, TileShape, Word, outlined_call};
use cranelift_codegen::ir::condcodes::{FloatCC, IntCC};
use cranelift_codegen::ir::types::{F64, I64};
use cranelift_codegen::ir::{InstBuilder, MemFlagsData, Value};
use cranelift_module::Module as ClModule;
use sci_ir::{Block, FuncId, ReduceOp, ValueId};

/// A `tile_map` run by the tile runtime: what its descriptor holds.
struct TileCall<'v> {
    func: FuncId,
    captures: &'v [ValueId],
    /// Each batched input's address and elements per point.
    batches: &'v [(Value, usize)],
    n: Value,
    lanes: usize,
    per: usize,
    reduce: Option<ReduceOp>,
    /// The result batch, or the accumulator.
    out: Value,
}

impl<'a, 'b, M: ClModule> FnLower<'a, 'b, M> {
    /// Runs `block` with its arguments bound to `args` and returns its result.
    fn run_block(&mut self, block: &Block, args: &[Repr]) -> Res<Repr> {
        for (&a, &r) in block.args.iter().zip(args) {
            self.set(a, r);
        }
        self.lower_body(&block.body)?;
        self.repr(block.result)
    }

    pub fn tabulate(&mut self, id: ValueId, extents: &[usize], body: &Block) -> Res<Repr> {
        let dst = self.dest(id)?;
        let per = self.len_of(body.result)?;
        let mut idx = Vec::new();
        self.nest(extents, &mut idx, &mut |s, idx| {
            let args: Vec<Repr> = idx
                .iter()
                .map(|&i| Repr::Scalar(s.index_value(i)))
                .collect();
            let item = s.run_block(body, &args)?;
            let lin = s.linear(extents, idx);
            let at = s.addr(dst, Ix::V(lin), per);
            s.store_repr(item, at, per)
        })?;
        Ok(Repr::Buf(dst))
    }

    pub fn fold(&mut self, id: ValueId, op: ReduceOp, extent: usize, body: &Block) -> Res<Repr> {
        let dtype = self.ty(id)?.dtype;
        let width = self.len_of(id)?;
        if self.ty(id)?.shape.is_empty() {
            let var = self.b.declare_var(F64);
            let init = self.start(op);
            self.b.def_var(var, init);
            self.repeat(extent, |s, i| {
                let x = s.index_value(i);
                let item = s.run_block(body, &[Repr::Scalar(x)])?;
                let item = match item {
                    Repr::Scalar(v) => v,
                    Repr::Buf(p) => s.load(p, Ix::C(0)),
                    Repr::Batch { .. } => return Err(internal("batched fold item")),
                };
                let first = s.b.ins().icmp_imm_s(IntCC::Equal, i, 0);
                let acc = s.b.use_var(var);
                let acc = s.combine(op, acc, item, Some(first));
                s.b.def_var(var, acc);
                Ok(())
            })?;
            let mut r = self.b.use_var(var);
            if op == ReduceOp::Mean {
                let n = self.f64c(extent as f64);
                r = self.b.ins().fdiv(r, n);
            }
            return Ok(Repr::Scalar(self.round(r, dtype)));
        }
        let acc = self.dest(id)?;
        let init = self.start(op);
        self.each(width, |s, j| {
            s.store(acc, j, init);
            Ok(())
        })?;
        self.repeat(extent, |s, i| {
            let x = s.index_value(i);
            let item = s.run_block(body, &[Repr::Scalar(x)])?;
            let p = match item {
                Repr::Buf(p) => p,
                _ => return Err(internal("fold item of the wrong shape")),
            };
            let first = s.b.ins().icmp_imm_s(IntCC::Equal, i, 0);
            s.each(width, |s, j| {
                let a = s.load(acc, j);
                let y = s.load(p, j);
                let r = s.combine(op, a, y, Some(first));
                s.store(acc, j, r);
                Ok(())
            })
        })?;
        self.each(width, |s, j| {
            let mut r = s.load(acc, j);
            if op == ReduceOp::Mean {
                let n = s.f64c(extent as f64);
                r = s.b.ins().fdiv(r, n);
            }
            let r = s.round(r, dtype);
            s.store(acc, j, r);
            Ok(())
        })?;
        Ok(Repr::Buf(acc))
    }

    pub fn map(&mut self, id: ValueId, inputs: &[ValueId], body: &Block) -> Res<Repr> {
        let (batches, n) = self.batch_inputs(inputs)?;
        let mut ins = Vec::with_capacity(inputs.len());
        for (&i, (ptr, len)) in inputs.iter().zip(batches) {
            ins.push((ptr, len, self.ty(i)?.shape.is_empty()));
        }
        let per = self.len_of(id)?;
        let dst = self.alloc_batch(id, n, per)?;
        self.repeat_dyn(n, |s, p| {
            let args = ins
                .iter()
                .map(|&(ptr, len, scalar)| {
                    if scalar {
                        Repr::Scalar(s.load(ptr, Ix::V(p)))
                    } else {
                        Repr::Buf(s.addr(ptr, Ix::V(p), len))
                    }
                })
                .collect::<Vec<_>>();
            let item = s.run_block(body, &args)?;
            let at = s.addr(dst, Ix::V(p), per);
            s.store_repr(item, at, per)
        })?;
        Ok(Repr::Batch { ptr: dst, n })
    }

    /// `tile_map`: a loop over tiles of `lanes` points; each tile's inputs are gathered
    /// into the block arguments' frame buffers (lanes innermost, the last point repeated in
    /// the padding), then the body runs once over the whole tile.
    pub fn tile_map(
        &mut self,
        id: ValueId,
        inputs: &[ValueId],
        lanes: usize,
        reduce: Option<ReduceOp>,
        body: &Block,
    ) -> Res<Repr> {
        let (batches, n) = self.batch_inputs(inputs)?;
        let mut ins = Vec::with_capacity(inputs.len());
        for ((ptr, width), &arg) in batches.into_iter().zip(&body.args) {
            ins.push((ptr, width, self.dest(arg)?));
        }
        let mask_arg = *body
            .args
            .last()
            .ok_or_else(|| internal("tile_map without a mask argument"))?;
        let mask = self.dest(mask_arg)?;
        if matches!(reduce, Some(ReduceOp::Max | ReduceOp::Min | ReduceOp::Mean)) {
            let empty = self.b.ins().icmp_imm_s(IntCC::Equal, n, 0);
            self.fail_if(empty, Status::EmptyBatch);
        }
        let per = self.len_of(id)?;
        let dtype = self.ty(id)?.dtype;
        let scalar = self.ty(id)?.shape.is_empty();
        // Where the result goes: the batch, or the accumulator (a variable for a scalar).
        let dst = match reduce {
            None => Some(self.alloc_batch(id, n, per)?),
            Some(_) if !scalar => Some(self.dest(id)?),
            Some(_) => None,
        };
        let acc_var = self.b.declare_var(F64);
        if let Some(op) = reduce {
            let init = self.start(op);
            match dst {
                Some(d) => self.each(per, |s, e| {
                    s.store(d, e, init);
                    Ok(())
                })?,
                None => self.b.def_var(acc_var, init),
            }
        }
        if let Some((func, captures)) = self.runtime_tiles(body) {
            // The tile runtime runs the tiles (on threads) and combines the partials into
            // the accumulator in memory: a stack cell for a scalar result.
            let batches: Vec<(Value, usize)> = ins.iter().map(|&(p, w, _)| (p, w)).collect();
            let cell = match (reduce, dst) {
                (Some(_), None) => {
                    let cell = self.stack_words(1);
                    let init = self.b.use_var(acc_var);
                    self.store(cell, Ix::C(0), init);
                    Some(cell)
                }
                _ => None,
            };
            let out = dst
                .or(cell)
                .ok_or_else(|| internal("tile_map without a result buffer"))?;
            let tile = TileCall {
                func,
                captures: &captures,
                batches: &batches,
                n,
                lanes,
                per,
                reduce,
                out,
            };
            self.tile_map_runtime(&tile)?;
            if let Some(cell) = cell {
                let r = self.load(cell, Ix::C(0));
                self.b.def_var(acc_var, r);
            }
        } else {
            self.tile_loop(id, &ins, n, lanes, reduce, body, dst, acc_var, mask)?;
        }
        let Some(op) = reduce else {
            return Ok(Repr::Batch {
                ptr: dst.ok_or_else(|| internal("tile_map without a result buffer"))?,
                n,
            });
        };
        let finish = |s: &mut Self, r: Value| {
            let r = if op == ReduceOp::Mean {
                let nf = s.b.ins().fcvt_from_uint(F64, n);
                s.b.ins().fdiv(r, nf)
            } else {
                r
            };
            s.round(r, dtype)
        };
        match dst {
            Some(d) => {
                self.each(per, |s, e| {
                    let r = s.load(d, e);
                    let r = finish(s, r);
                    s.store(d, e, r);
                    Ok(())
                })?;
                Ok(Repr::Buf(d))
            }
            None => {
                let r = self.b.use_var(acc_var);
                Ok(Repr::Scalar(finish(self, r)))
            }
        }
    }

    /// The generated loop over the tiles of a `tile_map`: gather, body, scatter or combine.
    #[allow(clippy::too_many_arguments)]
    fn tile_loop(
        &mut self,
        id: ValueId,
        ins: &[(Value, usize, Value)],
        n: Value,
        lanes: usize,
        reduce: Option<ReduceOp>,
        body: &Block,
        dst: Option<Value>,
        acc_var: cranelift_frontend::Variable,
        mask: Value,
    ) -> Res<()> {
        let per = self.len_of(id)?;
        let lanes_c = self
            .b
            .ins()
            .iconst(cranelift_codegen::ir::types::I64, lanes as i64);
        let padded = self.b.ins().iadd_imm_s(n, lanes as i64 - 1);
        let tiles = self.b.ins().udiv(padded, lanes_c);
        let last = self.b.ins().iadd_imm_s(n, -1);
        // Element `e` of lane 0 in a tile (lanes are the innermost axis).
        let lane_of = |s: &mut Self, e: Ix| match e {
            Ix::C(c) => Ix::C(c * lanes),
            Ix::V(v) => Ix::V(s.b.ins().imul_imm_s(v, lanes as i64)),
        };
        self.repeat_dyn(tiles, |s, k| {
            let base = s.b.ins().imul_imm_s(k, lanes as i64);
            for &(ptr, width, tile) in ins {
                s.repeat(lanes, |s, l| {
                    let p = s.b.ins().iadd(base, l);
                    let beyond = s.b.ins().icmp(IntCC::SignedGreaterThan, p, last);
                    let p = s.b.ins().select(beyond, last, p);
                    let from = s.addr(ptr, Ix::V(p), width);
                    let to = s.addr(tile, Ix::V(l), 1);
                    s.each(width, |s, e| {
                        let x = s.load(from, e);
                        let at = lane_of(s, e);
                        s.store(to, at, x);
                        Ok(())
                    })
                })?;
            }
            s.repeat(lanes, |s, l| {
                let p = s.b.ins().iadd(base, l);
                let real = s.b.ins().icmp(IntCC::SignedLessThan, p, n);
                let one = s.f64c(1.0);
                let zero = s.f64c(0.0);
                let m = s.b.ins().select(real, one, zero);
                s.store(mask, Ix::V(l), m);
                Ok(())
            })?;
            let args: Vec<Repr> = ins
                .iter()
                .map(|x| Repr::Buf(x.2))
                .chain([Repr::Buf(mask)])
                .collect();
            let item = s.run_block(body, &args)?;
            match reduce {
                None => {
                    let item = match item {
                        Repr::Buf(p) => p,
                        _ => return Err(internal("tile_map tile of the wrong shape")),
                    };
                    let dst = dst.ok_or_else(|| internal("tile_map without a result buffer"))?;
                    let left = s.b.ins().isub(n, base);
                    let real = s.b.ins().icmp(IntCC::SignedLessThan, left, lanes_c);
                    let count = s.b.ins().select(real, left, lanes_c);
                    s.repeat_dyn(count, |s, l| {
                        let p = s.b.ins().iadd(base, l);
                        let to = s.addr(dst, Ix::V(p), per);
                        let from = s.addr(item, Ix::V(l), 1);
                        s.each(per, |s, e| {
                            let at = lane_of(s, e);
                            let x = s.load(from, at);
                            s.store(to, e, x);
                            Ok(())
                        })
                    })
                }
                Some(op) => {
                    let first = s.b.ins().icmp_imm_s(IntCC::Equal, k, 0);
                    match (dst, item) {
                        (Some(d), Repr::Buf(p)) => s.each(per, |s, e| {
                            let a = s.load(d, e);
                            let y = s.load(p, e);
                            let r = s.combine(op, a, y, Some(first));
                            s.store(d, e, r);
                            Ok(())
                        }),
                        (None, item) => {
                            let y = match item {
                                Repr::Scalar(v) => v,
                                Repr::Buf(p) => s.load(p, Ix::C(0)),
                                Repr::Batch { .. } => {
                                    return Err(internal("batched tile_map partial"));
                                }
                            };
                            let a = s.b.use_var(acc_var);
                            let r = s.combine(op, a, y, Some(first));
                            s.b.def_var(acc_var, r);
                            Ok(())
                        }
                        _ => Err(internal("tile_map partial of the wrong shape")),
                    }
                }
            }
        })
    }

    /// The tile function and captured values of a `tile_map` whose tiles the runtime runs:
    /// an outlined body (`parallel::outlined_call`) calling a function with a packed entry,
    /// when the options allow it.
    fn runtime_tiles(&self, body: &Block) -> Option<(FuncId, Vec<ValueId>)> {
        self.opts.threads?;
        let (func, captures) = outlined_call(self.f, body)?;
        self.imports.packed.get(func.index()).copied().flatten()?;
        Some((func, captures))
    }

    /// Fills the tile runtime's descriptor (`parallel::Descriptor`) and calls it.
    fn tile_map_runtime(&mut self, t: &TileCall<'_>) -> Res<()> {
        let entry = self
            .imports
            .packed
            .get(t.func.index())
            .copied()
            .flatten()
            .ok_or_else(|| internal("tile function without a packed entry"))?;
        let widths: Vec<usize> = t.batches.iter().map(|b| b.1).collect();
        let shape = TileShape {
            lanes: t.lanes,
            per: t.per,
        };
        let threads = self.opts.threads.unwrap_or(0);
        let words = Descriptor::layout(&widths, t.captures.len(), shape, t.reduce, threads);
        // The descriptor, then one cell per captured scalar.
        let desc = self.stack_words(words.len() + t.captures.len());
        let put = |s: &mut Self, word: usize, x: Value| {
            s.b.ins()
                .store(MemFlagsData::trusted(), x, desc, (word * 8) as i32);
        };
        for (k, word) in words.iter().enumerate() {
            let x = match *word {
                Word::Const(c) => self.b.ins().iconst(I64, c as i64),
                Word::Entry => self.func_address(entry),
                Word::Points => t.n,
                Word::Out => t.out,
                Word::Input(i) => t.batches[i].0,
                Word::Captured(a) => match self.repr(t.captures[a])? {
                    Repr::Buf(p) => p,
                    Repr::Scalar(x) => {
                        let cell = words.len() + a;
                        put(self, cell, x);
                        self.b.ins().iadd_imm_s(desc, (cell * 8) as i64)
                    }
                    Repr::Batch { .. } => {
                        return Err(internal("batched value captured by a tile"));
                    }
                },
            };
            put(self, k, x);
        }
        let status = self.kernel_status("sci_tile_map", &[desc])?;
        self.fail_on_status(status);
        Ok(())
    }

    /// The buffers and per-point lengths of the batched `inputs` of a `map` or `tile_map`,
    /// and their common number of points (a mismatch fails the call).
    fn batch_inputs(&mut self, inputs: &[ValueId]) -> Res<(Vec<(Value, usize)>, Value)> {
        let mut ins = Vec::with_capacity(inputs.len());
        let mut count = None;
        for &i in inputs {
            let Repr::Batch { ptr, n } = self.repr(i)? else {
                return Err(internal("map over an unbatched value"));
            };
            match count {
                None => count = Some(n),
                Some(first) => {
                    let differ = self.b.ins().icmp(IntCC::NotEqual, first, n);
                    self.fail_if(differ, Status::BatchMismatch);
                }
            }
            ins.push((ptr, self.len_of(i)?));
        }
        let n = count.ok_or_else(|| internal("map without inputs"))?;
        Ok((ins, n))
    }

    pub fn reduce_batch(&mut self, id: ValueId, op: ReduceOp, a: ValueId) -> Res<Repr> {
        let (ptr, n) = match self.repr(a)? {
            Repr::Batch { ptr, n } => (ptr, n),
            _ => return Err(internal("reduce_batch of an unbatched value")),
        };
        let per = self.len_of(a)?;
        let dtype = self.ty(id)?.dtype;
        if matches!(op, ReduceOp::Max | ReduceOp::Min | ReduceOp::Mean) {
            let empty = self.b.ins().icmp_imm_s(IntCC::Equal, n, 0);
            self.fail_if(empty, Status::EmptyBatch);
        }
        let compensated = matches!(op, ReduceOp::Sum | ReduceOp::Mean)
            && self.batch_sum() == BatchSum::Compensated;
        let scalar = self.ty(id)?.shape.is_empty();
        let dst = if scalar { None } else { Some(self.dest(id)?) };
        let mut result = None;
        self.each(per, |s, e| {
            let r = if compensated {
                s.neumaier(ptr, n, e, per)?
            } else {
                let var = s.b.declare_var(F64);
                let init = s.start(op);
                s.b.def_var(var, init);
                s.repeat_dyn(n, |s, p| {
                    let at = s.point_elem(p, e, per);
                    let x = s.load(ptr, Ix::V(at));
                    let first = s.b.ins().icmp_imm_s(IntCC::Equal, p, 0);
                    let acc = s.b.use_var(var);
                    let acc = s.combine(op, acc, x, Some(first));
                    s.b.def_var(var, acc);
                    Ok(())
                })?;
                s.b.use_var(var)
            };
            let r = if op == ReduceOp::Mean {
                let nf = s.b.ins().fcvt_from_uint(F64, n);
                s.b.ins().fdiv(r, nf)
            } else {
                r
            };
            let r = s.round(r, dtype);
            match dst {
                Some(d) => s.store(d, e, r),
                None => result = Some(r),
            }
            Ok(())
        })?;
        match (dst, result) {
            (Some(d), _) => Ok(Repr::Buf(d)),
            (None, Some(r)) => Ok(Repr::Scalar(r)),
            (None, None) => Err(internal("reduce_batch of an empty point")),
        }
    }

    /// The position of element `e` of point `p` in a batch of `per`-element points.
    fn point_elem(&mut self, p: Value, e: Ix, per: usize) -> Value {
        let base = self.b.ins().imul_imm_s(p, per as i64);
        match e {
            Ix::C(0) => base,
            Ix::C(c) => self.b.ins().iadd_imm_s(base, c as i64),
            Ix::V(v) => self.b.ins().iadd(base, v),
        }
    }

    /// Neumaier's compensated sum of element `e` over the `n` points at `ptr`. When the
    /// running sum is not finite the plain sum is returned (as the interpreter would).
    fn neumaier(&mut self, ptr: Value, n: Value, e: Ix, per: usize) -> Res<Value> {
        let sum = self.b.declare_var(F64);
        let comp = self.b.declare_var(F64);
        let zero = self.f64c(0.0);
        self.b.def_var(sum, zero);
        self.b.def_var(comp, zero);
        self.repeat_dyn(n, |s, p| {
            let at = s.point_elem(p, e, per);
            let x = s.load(ptr, Ix::V(at));
            let acc = s.b.use_var(sum);
            let c = s.b.use_var(comp);
            let t = s.b.ins().fadd(acc, x);
            let big = {
                let a = s.b.ins().fabs(acc);
                let b = s.b.ins().fabs(x);
                s.b.ins().fcmp(FloatCC::GreaterThanOrEqual, a, b)
            };
            // |acc| ≥ |x|: the low bits lost are (acc − t) + x, else (x − t) + acc.
            let d1 = s.b.ins().fsub(acc, t);
            let d1 = s.b.ins().fadd(d1, x);
            let d2 = s.b.ins().fsub(x, t);
            let d2 = s.b.ins().fadd(d2, acc);
            let d = s.b.ins().select(big, d1, d2);
            let c = s.b.ins().fadd(c, d);
            s.b.def_var(sum, t);
            s.b.def_var(comp, c);
            Ok(())
        })?;
        let acc = self.b.use_var(sum);
        let c = self.b.use_var(comp);
        let total = self.b.ins().fadd(acc, c);
        let a = self.b.ins().fabs(acc);
        let inf = self.f64c(f64::INFINITY);
        let finite = self.b.ins().fcmp(FloatCC::LessThan, a, inf);
        Ok(self.b.ins().select(finite, total, acc))
    }

    pub fn call(&mut self, id: ValueId, func: FuncId, args: &[ValueId]) -> Res<Repr> {
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
            (self.alloc_batch(id, n, per)?, Some(n))
        } else {
            (self.dest(id)?, None)
        };
        params.push(out);
        let status = self.call_import(code, &params)?;
        self.fail_on_status(status);
        Ok(match n {
            Some(n) => Repr::Batch { ptr: out, n },
            None if ty.shape.is_empty() => Repr::Scalar(self.load(out, Ix::C(0))),
            None => Repr::Buf(out),
        })
    }
}
