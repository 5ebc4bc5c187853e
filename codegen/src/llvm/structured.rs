//! Lowering of the structured ops (`tabulate`, `fold`, `map`), batch reductions and calls
//! to LLVM IR.
//!
//! `tabulate` and `fold` become counted loops whose body is the block, lowered once, so
//! LLVM's loop vectoriser and unroller see plain loops. `map` is a loop over the points of
//! its batched inputs, whose count is a run-time value. `reduce_batch sum` and `mean` use
//! Neumaier's compensated summation by default (the error does not grow with the number of
//! points), or a plain left-to-right sum that matches the interpreter bit for bit
//! ([`BatchSum`](super::BatchSum)).

use super::BatchSum;
use super::lower::{FnLower, Ix, Repr, Res, internal};
use crate::abi::{Status, batch_source};
use crate::parallel::{Descriptor, TileShape, Word, outlined_call};
use inkwell::values::{BasicMetadataValueEnum, BasicValueEnum, FloatValue, IntValue, PointerValue};
use inkwell::{FloatPredicate, IntPredicate};
use sci_ir::{Block, FuncId, ReduceOp, ValueId};

/// A `tile_map` run by the tile runtime: what its descriptor holds.
struct TileCall<'v, 'ctx> {
    func: FuncId,
    captures: &'v [ValueId],
    /// Each batched input's address and elements per point.
    batches: &'v [(PointerValue<'ctx>, usize)],
    n: IntValue<'ctx>,
    lanes: usize,
    per: usize,
    reduce: Option<ReduceOp>,
    /// The result batch, or the accumulator.
    out: PointerValue<'ctx>,
}

/// A `tile_map` run by a generated loop.
#[derive(Clone, Copy)]
struct TileLoop<'v, 'ctx> {
    /// Each batched input's address, elements per point, and tile buffer.
    ins: &'v [(PointerValue<'ctx>, usize, PointerValue<'ctx>)],
    n: IntValue<'ctx>,
    lanes: usize,
    per: usize,
    reduce: Option<ReduceOp>,
    /// The result batch, or the accumulator of a tensor result.
    dst: Option<PointerValue<'ctx>>,
    /// The accumulator of a scalar result.
    acc_var: Option<PointerValue<'ctx>>,
    mask: PointerValue<'ctx>,
}

impl<'a, 'ctx> FnLower<'a, 'ctx> {
    /// Runs `block` with its arguments bound to `args` and returns its result.
    fn run_block(&mut self, block: &Block, args: &[Repr<'ctx>]) -> Res<Repr<'ctx>> {
        for (&a, &r) in block.args.iter().zip(args) {
            self.set(a, r);
        }
        self.lower_body(&block.body)?;
        self.repr(block.result)
    }

    /// Binds the index arguments of a `tabulate`/`fold` block to loop counters.
    fn index_args(&mut self, block: &Block, idx: &[IntValue<'ctx>]) -> Res<Vec<Repr<'ctx>>> {
        block
            .args
            .iter()
            .zip(idx)
            .map(|(&a, &i)| Ok(Repr::Scalar(self.index_value(a, i)?)))
            .collect()
    }

    pub fn tabulate(&mut self, id: ValueId, extents: &[usize], body: &Block) -> Res<Repr<'ctx>> {
        let dst = self.dest(id)?;
        let per = self.len_of(body.result)?;
        let mut idx = Vec::new();
        self.nest(extents, &mut idx, &mut |s, idx| {
            let args = s.index_args(body, idx)?;
            let item = s.run_block(body, &args)?;
            let lin = s.linear(extents, idx)?;
            let at = s.addr(dst, Ix::V(lin), per)?;
            s.store_repr(item, at, per)
        })?;
        Ok(Repr::Buf(dst))
    }

    pub fn fold(
        &mut self,
        id: ValueId,
        op: ReduceOp,
        extent: usize,
        body: &Block,
    ) -> Res<Repr<'ctx>> {
        let dtype = self.ty(id)?.dtype;
        let width = self.len_of(id)?;
        if self.ty(id)?.shape.is_empty() {
            let init = self.start(op);
            let var = self.var(init)?;
            self.repeat(extent, |s, i| {
                let args = s.index_args(body, &[i])?;
                let item = s.run_block(body, &args)?;
                let item = match item {
                    Repr::Scalar(v) => v,
                    Repr::Buf(p) => s.load(p, Ix::C(0))?,
                    Repr::Batch { .. } => return Err(internal("batched fold item")),
                };
                let first = s.is_first(i)?;
                let acc = s.use_var(var)?;
                let acc = s.combine(op, acc, item, Some(first))?;
                s.def_var(var, acc)
            })?;
            let mut r = self.use_var(var)?;
            if op == ReduceOp::Mean {
                let n = self.f64c(extent as f64);
                r = self.b.build_float_div(r, n, "")?;
            }
            return Ok(Repr::Scalar(self.round(r, dtype)?));
        }
        let acc = self.dest(id)?;
        let init = self.start(op);
        self.each(width, |s, j| s.store(acc, j, init))?;
        self.repeat(extent, |s, i| {
            let args = s.index_args(body, &[i])?;
            let item = s.run_block(body, &args)?;
            let p = match item {
                Repr::Buf(p) => p,
                _ => return Err(internal("fold item of the wrong shape")),
            };
            let first = s.is_first(i)?;
            s.each(width, |s, j| {
                let a = s.load(acc, j)?;
                let y = s.load(p, j)?;
                let r = s.combine(op, a, y, Some(first))?;
                s.store(acc, j, r)
            })
        })?;
        self.each(width, |s, j| {
            let mut r = s.load(acc, j)?;
            if op == ReduceOp::Mean {
                let n = s.f64c(extent as f64);
                r = s.b.build_float_div(r, n, "")?;
            }
            let r = s.round(r, dtype)?;
            s.store(acc, j, r)
        })?;
        Ok(Repr::Buf(acc))
    }

    pub fn map(&mut self, id: ValueId, inputs: &[ValueId], body: &Block) -> Res<Repr<'ctx>> {
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
                    Ok(if scalar {
                        Repr::Scalar(s.load(ptr, Ix::V(p))?)
                    } else {
                        Repr::Buf(s.addr(ptr, Ix::V(p), len)?)
                    })
                })
                .collect::<Res<Vec<_>>>()?;
            let item = s.run_block(body, &args)?;
            let at = s.addr(dst, Ix::V(p), per)?;
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
    ) -> Res<Repr<'ctx>> {
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
            let empty = self.is_first(n)?;
            self.fail_if(empty, Status::EmptyBatch)?;
        }
        let per = self.len_of(id)?;
        let dtype = self.ty(id)?.dtype;
        let scalar = self.ty(id)?.shape.is_empty();
        let dst = match reduce {
            None => Some(self.alloc_batch(id, n, per)?),
            Some(_) if !scalar => Some(self.dest(id)?),
            Some(_) => None,
        };
        let acc_var = match reduce {
            Some(op) => {
                let init = self.start(op);
                match dst {
                    Some(d) => {
                        self.each(per, |s, e| s.store(d, e, init))?;
                        None
                    }
                    None => Some(self.var(init)?),
                }
            }
            None => None,
        };
        if let Some((func, captures)) = self.runtime_tiles(body) {
            // The tile runtime runs the tiles (on threads) and combines the partials into
            // the accumulator in memory (the variable's slot for a scalar result).
            let batches: Vec<(PointerValue<'ctx>, usize)> =
                ins.iter().map(|&(p, w, _)| (p, w)).collect();
            let out = dst
                .or(acc_var)
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
        } else {
            let tile = TileLoop {
                ins: &ins,
                n,
                lanes,
                per,
                reduce,
                dst,
                acc_var,
                mask,
            };
            self.tile_loop(&tile, body)?;
        }
        let Some(op) = reduce else {
            return Ok(Repr::Batch {
                ptr: dst.ok_or_else(|| internal("tile_map without a result buffer"))?,
                n,
            });
        };
        let finish = |s: &mut Self, r: FloatValue<'ctx>| -> Res<FloatValue<'ctx>> {
            let r = if op == ReduceOp::Mean {
                let nf = s.b.build_unsigned_int_to_float(n, s.t.f64, "")?;
                s.b.build_float_div(r, nf, "")?
            } else {
                r
            };
            s.round(r, dtype)
        };
        match (dst, acc_var) {
            (Some(d), _) => {
                self.each(per, |s, e| {
                    let r = s.load(d, e)?;
                    let r = finish(s, r)?;
                    s.store(d, e, r)
                })?;
                Ok(Repr::Buf(d))
            }
            (None, Some(var)) => {
                let r = self.use_var(var)?;
                Ok(Repr::Scalar(finish(self, r)?))
            }
            (None, None) => Err(internal("tile_map without an accumulator")),
        }
    }

    /// The generated loop over the tiles of a `tile_map`: gather, body, scatter or combine.
    fn tile_loop(&mut self, t: &TileLoop<'_, 'ctx>, body: &Block) -> Res<()> {
        let TileLoop {
            ins,
            n,
            lanes,
            per,
            reduce,
            dst,
            acc_var,
            mask,
        } = *t;
        let lanes_c = self.i64c(lanes);
        let padded = self.b.build_int_add(n, self.i64c(lanes - 1), "")?;
        let tiles = self.b.build_int_unsigned_div(padded, lanes_c, "")?;
        let last = self.b.build_int_sub(n, self.i64c(1), "")?;
        // Element `e` of lane 0 in a tile (lanes are the innermost axis).
        let lane_of = |s: &mut Self, e: Ix<'ctx>| -> Res<Ix<'ctx>> {
            Ok(match e {
                Ix::C(c) => Ix::C(c * lanes),
                Ix::V(v) => Ix::V(s.b.build_int_nuw_mul(v, s.i64c(lanes), "")?),
            })
        };
        self.repeat_dyn(tiles, |s, k| {
            let base = s.b.build_int_nuw_mul(k, lanes_c, "")?;
            for &(ptr, width, tile) in ins {
                s.repeat(lanes, |s, l| {
                    let p = s.b.build_int_nuw_add(base, l, "")?;
                    let beyond = s.b.build_int_compare(IntPredicate::SGT, p, last, "")?;
                    let p = s.b.build_select(beyond, last, p, "")?.into_int_value();
                    let from = s.addr(ptr, Ix::V(p), width)?;
                    let to = s.addr(tile, Ix::V(l), 1)?;
                    s.each(width, |s, e| {
                        let x = s.load(from, e)?;
                        let at = lane_of(s, e)?;
                        s.store(to, at, x)
                    })
                })?;
            }
            s.repeat(lanes, |s, l| {
                let p = s.b.build_int_nuw_add(base, l, "")?;
                let real = s.b.build_int_compare(IntPredicate::SLT, p, n, "")?;
                let m =
                    s.b.build_select(real, s.f64c(1.0), s.f64c(0.0), "")?
                        .into_float_value();
                s.store(mask, Ix::V(l), m)
            })?;
            let args: Vec<Repr<'ctx>> = ins
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
                    let left = s.b.build_int_sub(n, base, "")?;
                    let real =
                        s.b.build_int_compare(IntPredicate::SLT, left, lanes_c, "")?;
                    let count = s.b.build_select(real, left, lanes_c, "")?.into_int_value();
                    s.repeat_dyn(count, |s, l| {
                        let p = s.b.build_int_nuw_add(base, l, "")?;
                        let to = s.addr(dst, Ix::V(p), per)?;
                        let from = s.addr(item, Ix::V(l), 1)?;
                        s.each(per, |s, e| {
                            let at = lane_of(s, e)?;
                            let x = s.load(from, at)?;
                            s.store(to, e, x)
                        })
                    })
                }
                Some(op) => {
                    let first = s.is_first(k)?;
                    match (dst, acc_var, item) {
                        (Some(d), _, Repr::Buf(p)) => s.each(per, |s, e| {
                            let a = s.load(d, e)?;
                            let y = s.load(p, e)?;
                            let r = s.combine(op, a, y, Some(first))?;
                            s.store(d, e, r)
                        }),
                        (None, Some(var), item) => {
                            let y = match item {
                                Repr::Scalar(v) => v,
                                Repr::Buf(p) => s.load(p, Ix::C(0))?,
                                Repr::Batch { .. } => {
                                    return Err(internal("batched tile_map partial"));
                                }
                            };
                            let a = s.use_var(var)?;
                            let r = s.combine(op, a, y, Some(first))?;
                            s.def_var(var, r)
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
        self.decls.packed.get(func.index()).copied().flatten()?;
        Some((func, captures))
    }

    /// Fills the tile runtime's descriptor (`parallel::Descriptor`) and calls it.
    fn tile_map_runtime(&mut self, t: &TileCall<'_, 'ctx>) -> Res<()> {
        let entry = self
            .decls
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
        let desc = self.stack_words(words.len() + t.captures.len())?;
        let i64_ty = self.t.i64.into();
        let put = |s: &mut Self, word: usize, x: BasicValueEnum<'ctx>| -> Res<()> {
            let at = s.gep_ty(i64_ty, desc, Ix::C(word))?;
            s.b.build_store(at, x)?;
            Ok(())
        };
        for (k, word) in words.iter().enumerate() {
            let x: BasicValueEnum<'ctx> = match *word {
                Word::Const(c) => self.t.i64.const_int(c, false).into(),
                Word::Entry => entry.as_global_value().as_pointer_value().into(),
                Word::Points => t.n.into(),
                Word::Out => t.out.into(),
                Word::Input(i) => t.batches[i].0.into(),
                Word::Captured(a) => match self.repr(t.captures[a])? {
                    Repr::Buf(p) => p.into(),
                    Repr::Scalar(x) => {
                        let cell = words.len() + a;
                        put(self, cell, x.into())?;
                        self.gep_ty(i64_ty, desc, Ix::C(cell))?.into()
                    }
                    Repr::Batch { .. } => {
                        return Err(internal("batched value captured by a tile"));
                    }
                },
            };
            put(self, k, x)?;
        }
        let status = self
            .b
            .build_call(self.decls.tile_map, &[desc.into()], "")?
            .try_as_basic_value()
            .basic()
            .ok_or_else(|| internal("sci_tile_map without a result"))?
            .into_int_value();
        self.fail_on_status(status)
    }

    /// The buffers and per-point lengths of the batched `inputs` of a `map` or `tile_map`,
    /// and their common number of points (a mismatch fails the call).
    fn batch_inputs(
        &mut self,
        inputs: &[ValueId],
    ) -> Res<(Vec<(PointerValue<'ctx>, usize)>, IntValue<'ctx>)> {
        let mut ins = Vec::with_capacity(inputs.len());
        let mut count = None;
        for &i in inputs {
            let Repr::Batch { ptr, n } = self.repr(i)? else {
                return Err(internal("map over an unbatched value"));
            };
            match count {
                None => count = Some(n),
                Some(first) => {
                    let differ = self.b.build_int_compare(IntPredicate::NE, first, n, "")?;
                    self.fail_if(differ, Status::BatchMismatch)?;
                }
            }
            ins.push((ptr, self.len_of(i)?));
        }
        let n = count.ok_or_else(|| internal("map without inputs"))?;
        Ok((ins, n))
    }

    pub fn reduce_batch(&mut self, id: ValueId, op: ReduceOp, a: ValueId) -> Res<Repr<'ctx>> {
        let (ptr, n) = match self.repr(a)? {
            Repr::Batch { ptr, n } => (ptr, n),
            _ => return Err(internal("reduce_batch of an unbatched value")),
        };
        let per = self.len_of(a)?;
        let dtype = self.ty(id)?.dtype;
        if matches!(op, ReduceOp::Max | ReduceOp::Min | ReduceOp::Mean) {
            // No points (`n == 0`).
            let empty = self.is_first(n)?;
            self.fail_if(empty, Status::EmptyBatch)?;
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
                let init = s.start(op);
                let var = s.var(init)?;
                s.repeat_dyn(n, |s, p| {
                    let at = s.point_elem(p, e, per)?;
                    let x = s.load(ptr, Ix::V(at))?;
                    let first = s.is_first(p)?;
                    let acc = s.use_var(var)?;
                    let acc = s.combine(op, acc, x, Some(first))?;
                    s.def_var(var, acc)
                })?;
                s.use_var(var)?
            };
            let r = if op == ReduceOp::Mean {
                let nf = s.b.build_unsigned_int_to_float(n, s.t.f64, "")?;
                s.b.build_float_div(r, nf, "")?
            } else {
                r
            };
            let r = s.round(r, dtype)?;
            match dst {
                Some(d) => s.store(d, e, r)?,
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
    fn point_elem(&mut self, p: IntValue<'ctx>, e: Ix<'ctx>, per: usize) -> Res<IntValue<'ctx>> {
        let perc = self.i64c(per);
        let base = self.b.build_int_nuw_mul(p, perc, "")?;
        Ok(match e {
            Ix::C(0) => base,
            Ix::C(c) => {
                let cc = self.i64c(c);
                self.b.build_int_nuw_add(base, cc, "")?
            }
            Ix::V(v) => self.b.build_int_nuw_add(base, v, "")?,
        })
    }

    /// Neumaier's compensated sum of element `e` over the `n` points at `ptr`. When the
    /// running sum is not finite the plain sum is returned (as the interpreter would).
    fn neumaier(
        &mut self,
        ptr: PointerValue<'ctx>,
        n: IntValue<'ctx>,
        e: Ix<'ctx>,
        per: usize,
    ) -> Res<FloatValue<'ctx>> {
        let zero = self.f64c(0.0);
        let sum = self.var(zero)?;
        let comp = self.var(zero)?;
        self.repeat_dyn(n, |s, p| {
            let at = s.point_elem(p, e, per)?;
            let x = s.load(ptr, Ix::V(at))?;
            let acc = s.use_var(sum)?;
            let c = s.use_var(comp)?;
            let t = s.b.build_float_add(acc, x, "")?;
            let a = s.intrinsic("llvm.fabs", acc)?;
            let bx = s.intrinsic("llvm.fabs", x)?;
            let big = s.b.build_float_compare(FloatPredicate::OGE, a, bx, "")?;
            // |acc| ≥ |x|: the low bits lost are (acc − t) + x, else (x − t) + acc.
            let d1 = s.b.build_float_sub(acc, t, "")?;
            let d1 = s.b.build_float_add(d1, x, "")?;
            let d2 = s.b.build_float_sub(x, t, "")?;
            let d2 = s.b.build_float_add(d2, acc, "")?;
            let d = s.b.build_select(big, d1, d2, "")?.into_float_value();
            let c = s.b.build_float_add(c, d, "")?;
            s.def_var(sum, t)?;
            s.def_var(comp, c)
        })?;
        let acc = self.use_var(sum)?;
        let c = self.use_var(comp)?;
        let total = self.b.build_float_add(acc, c, "")?;
        let a = self.intrinsic("llvm.fabs", acc)?;
        let inf = self.f64c(f64::INFINITY);
        let finite = self
            .b
            .build_float_compare(FloatPredicate::OLT, a, inf, "")?;
        Ok(self
            .b
            .build_select(finite, total, acc, "")?
            .into_float_value())
    }

    pub fn call(&mut self, id: ValueId, func: FuncId, args: &[ValueId]) -> Res<Repr<'ctx>> {
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
            (self.alloc_batch(id, n, per)?, Some(n))
        } else {
            (self.dest(id)?, None)
        };
        params.push(out.into());
        let status = self.call_fn(callee, &params)?.into_int_value();
        self.fail_on_status(status)?;
        Ok(match n {
            Some(n) => Repr::Batch { ptr: out, n },
            None if ty.shape.is_empty() => Repr::Scalar(self.load(out, Ix::C(0))?),
            None => Repr::Buf(out),
        })
    }
}
