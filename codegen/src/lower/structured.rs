//! The structured ops over blocks (`tabulate`, `fold`, `map`) and batch reductions, as
//! functions over any [`Lower`] (called from its dispatch).
//!
//! `tabulate` and `fold` become counted loops whose body is the block, lowered once (a
//! scalar `fold` carries its accumulator through the loop). `map` is a loop over the points
//! of its batched inputs, whose count is a run-time value. `reduce_batch sum` and `mean` use
//! Neumaier's compensated summation where the back end asks for it
//! ([`Emit::compensated_batch_sums`]; the error then does not grow with the number of
//! points), else a plain left-to-right sum that matches the interpreter bit for bit.

use super::stencil::{self, Split};
use super::{
    DescWord, Emit, FBin, FCmp, FUn, ICmp, Ix, Lower, NestBody, Repr, ReprOf, Res, internal,
};
use crate::abi::{Status, batch_source};
use crate::parallel::{Descriptor, TileShape, Word, outlined_call, threads_for};
use sci_ir::{Block, FuncId, Op, ReduceOp, ValueId};

/// A batched input of a `map`: its address and elements per point.
pub(crate) struct BatchInput<P> {
    pub ptr: P,
    pub per: usize,
}

/// The batched inputs of a `map` or `tile_map`, their common number of points `n`, and how
/// many points to `run`: `n`, or none where the counts differ and failures do not exit.
pub(crate) struct Batches<P, I> {
    pub inputs: Vec<BatchInput<P>>,
    pub n: I,
    pub run: I,
}

pub(crate) fn tabulate<'a, E: Lower<'a>>(
    s: &mut E,
    id: ValueId,
    extents: &[usize],
    body: &Block,
) -> Res<ReprOf<E>> {
    let dst = s.dest(id)?;
    let per = s.len_of(body.result)?;
    // A point's elements made by a `concat` in the body (the rows of a Jacobian, the local
    // derivatives of a stencil) are concatenated straight into the point's slot.
    let result_is_concat = body.body.contains(&body.result)
        && matches!(
            s.function().values.get(body.result).map(|v| &v.op),
            Some(Op::Concat(_))
        );
    let mut idx = Vec::new();
    let mut item = |s: &mut E, idx: &[E::I]| {
        let args = idx
            .iter()
            .map(|i| Ok(Repr::Scalar(s.index_value(i.clone())?)))
            .collect::<Res<Vec<_>>>()?;
        let lin = s.linear(extents, idx)?;
        let at = s.addr(dst.clone(), lin, per)?;
        if result_is_concat && !s.values().facts.contains_key(&body.result) {
            return s.with_target(body.result, at, |s| s.run_block(body, args).map(|_| ()));
        }
        let item = s.run_block(body, args)?;
        s.store_repr(item, at, per)
    };
    match stencil::split(s.function(), extents, body) {
        Some(split) => split_nest(s, &split, &mut idx, &mut Vec::new(), &mut item)?,
        None => s.nest(extents, &mut idx, &mut item)?,
    }
    Ok(Repr::Buf(dst))
}

/// The loops of a split `tabulate` (`stencil::split`): per dimension, one loop per piece
/// (a single counter value needs none), nested as the whole loops were, so the points run
/// in the same order; `body` runs with the facts of the piece it is in.
fn split_nest<'a, E: Lower<'a>>(
    s: &mut E,
    split: &Split,
    idx: &mut Vec<E::I>,
    key: &mut Vec<usize>,
    body: &mut NestBody<'_, E>,
) -> Res<()> {
    let Some(pieces) = split.bounds.get(idx.len()) else {
        let facts = split
            .facts(key)
            .ok_or_else(|| internal::<E>("a piece of a split tabulate without facts"))?;
        let outer = s.values_mut().facts.clone();
        s.values_mut()
            .facts
            .extend(facts.iter().map(|(k, v)| (*k, *v)));
        let r = body(s, idx);
        s.values_mut().facts = outer;
        return r;
    };
    for (k, &(lo, hi)) in pieces.iter().enumerate() {
        key.push(k);
        if hi - lo == 1 {
            let i = s.ic(lo)?;
            idx.push(i);
            split_nest(s, split, idx, key, body)?;
            idx.pop();
        } else {
            s.for_loop(Ix::C(lo), Ix::C(hi), Vec::new(), &mut |s, i, _| {
                idx.push(i);
                split_nest(s, split, idx, key, body)?;
                idx.pop();
                Ok(Vec::new())
            })?;
        }
        key.pop();
    }
    Ok(())
}

pub(crate) fn fold<'a, E: Lower<'a>>(
    s: &mut E,
    id: ValueId,
    op: ReduceOp,
    extent: usize,
    body: &Block,
) -> Res<ReprOf<E>> {
    let ty = s.ty(id)?;
    let dtype = ty.dtype;
    let width = s.len_of(id)?;
    let first_of = |s: &mut E, i: E::I| {
        let zero = s.ic(0)?;
        s.icmp(ICmp::Eq, i, zero)
    };
    if ty.shape.is_empty() {
        let init = s.start(op)?;
        let r = s.for_loop(Ix::C(0), Ix::C(extent), vec![init], &mut |s, i, acc| {
            let x = s.index_value(i.clone())?;
            let item = match s.run_block(body, vec![Repr::Scalar(x)])? {
                Repr::Scalar(v) => v,
                Repr::Buf(p) => s.load(p, Ix::C(0))?,
                Repr::Batch { .. } => return Err(internal::<E>("batched fold item")),
            };
            let first = first_of(s, i)?;
            let acc = single::<E>(acc)?;
            Ok(vec![s.combine(op, acc, item, Some(first))?])
        })?;
        let mut r = single::<E>(r)?;
        if op == ReduceOp::Mean {
            let n = s.f64c(extent as f64)?;
            r = s.fbin(FBin::Div, r, n)?;
        }
        return Ok(Repr::Scalar(s.round(r, dtype)?));
    }
    let acc = s.dest(id)?;
    let init = s.start(op)?;
    s.each(width, &mut |s, j| s.store(acc.clone(), j, init.clone()))?;
    s.repeat(Ix::C(extent), &mut |s, i| {
        let x = s.index_value(i.clone())?;
        let p = match s.run_block(body, vec![Repr::Scalar(x)])? {
            Repr::Buf(p) => p,
            _ => return Err(internal::<E>("fold item of the wrong shape")),
        };
        let first = first_of(s, i)?;
        s.each(width, &mut |s, j| {
            let a = s.load(acc.clone(), j.clone())?;
            let y = s.load(p.clone(), j.clone())?;
            let r = s.combine(op, a, y, Some(first.clone()))?;
            s.store(acc.clone(), j, r)
        })
    })?;
    s.each(width, &mut |s, j| {
        let mut r = s.load(acc.clone(), j.clone())?;
        if op == ReduceOp::Mean {
            let n = s.f64c(extent as f64)?;
            r = s.fbin(FBin::Div, r, n)?;
        }
        let r = s.round(r, dtype)?;
        s.store(acc.clone(), j, r)
    })?;
    Ok(Repr::Buf(acc))
}

/// The batched `inputs` of a `map` or `tile_map`, their common number of points, and
/// how many points to run: the same, or none where the counts differ and failures do
/// not exit (the call fails, so no input is read beyond its end).
pub(crate) fn batch_inputs<'a, E: Lower<'a>>(
    s: &mut E,
    inputs: &[ValueId],
) -> Res<Batches<E::P, E::I>> {
    let mut ins = Vec::with_capacity(inputs.len());
    let mut count: Option<(E::I, E::I)> = None;
    for &i in inputs {
        let Repr::Batch { ptr, n } = s.repr(i)? else {
            return Err(internal::<E>("map over an unbatched value"));
        };
        count = Some(match count {
            None => (n.clone(), n),
            Some((first, run)) => {
                let differ = s.icmp(ICmp::Ne, first.clone(), n)?;
                s.fail_if(differ.clone(), Status::BatchMismatch)?;
                let run = if E::FAILURE_EXITS {
                    run
                } else {
                    let zero = s.ic(0)?;
                    s.select_i(differ, zero, run)?
                };
                (first, run)
            }
        });
        ins.push(BatchInput {
            ptr,
            per: s.len_of(i)?,
        });
    }
    let (n, run) = count.ok_or_else(|| internal::<E>("map without inputs"))?;
    Ok(Batches {
        inputs: ins,
        n,
        run,
    })
}

pub(crate) fn map<'a, E: Lower<'a>>(
    s: &mut E,
    id: ValueId,
    inputs: &[ValueId],
    body: &Block,
) -> Res<ReprOf<E>> {
    let Batches {
        inputs: batches,
        n,
        run,
    } = batch_inputs(s, inputs)?;
    let mut scalar = Vec::with_capacity(inputs.len());
    for &i in inputs {
        scalar.push(s.ty(i)?.shape.is_empty());
    }
    let per = s.len_of(id)?;
    let dst = s.alloc_batch(id, n.clone(), per)?;
    s.repeat(Ix::V(run), &mut |s, p| {
        let mut args = Vec::with_capacity(batches.len());
        for (b, &scalar) in batches.iter().zip(&scalar) {
            let at = s.addr(b.ptr.clone(), Ix::V(p.clone()), b.per)?;
            args.push(if scalar {
                Repr::Scalar(s.load(at, Ix::C(0))?)
            } else {
                Repr::Buf(at)
            });
        }
        let item = s.run_block(body, args)?;
        let at = s.addr(dst.clone(), Ix::V(p), per)?;
        s.store_repr(item, at, per)
    })?;
    Ok(Repr::Batch { ptr: dst, n })
}

pub(crate) fn reduce_batch<'a, E: Lower<'a>>(
    s: &mut E,
    id: ValueId,
    op: ReduceOp,
    a: ValueId,
) -> Res<ReprOf<E>> {
    let Repr::Batch { ptr, n } = s.repr(a)? else {
        return Err(internal::<E>("reduce_batch of an unbatched value"));
    };
    let per = s.len_of(a)?;
    let ty = s.ty(id)?;
    let dtype = ty.dtype;
    if matches!(op, ReduceOp::Max | ReduceOp::Min | ReduceOp::Mean) {
        let zero = s.ic(0)?;
        let empty = s.icmp(ICmp::Eq, n.clone(), zero)?;
        s.fail_if(empty, Status::EmptyBatch)?;
    }
    let compensated = matches!(op, ReduceOp::Sum | ReduceOp::Mean) && s.compensated_batch_sums();
    let dst = if ty.shape.is_empty() {
        None
    } else {
        Some(s.dest(id)?)
    };
    let mut result = None;
    s.each(per, &mut |s, e| {
        let column = s.addr(ptr.clone(), e.clone(), 1)?;
        let r = if compensated {
            neumaier(s, column, n.clone(), per)?
        } else {
            let init = s.start(op)?;
            let r = s.for_loop(Ix::C(0), Ix::V(n.clone()), vec![init], &mut |s, p, acc| {
                let at = s.ix_mul(Ix::V(p.clone()), per)?;
                let x = s.load(column.clone(), at)?;
                let zero = s.ic(0)?;
                let first = s.icmp(ICmp::Eq, p, zero)?;
                let acc = single::<E>(acc)?;
                Ok(vec![s.combine(op, acc, x, Some(first))?])
            })?;
            single::<E>(r)?
        };
        let r = if op == ReduceOp::Mean {
            let nf = s.count_to_f64(n.clone())?;
            s.fbin(FBin::Div, r, nf)?
        } else {
            r
        };
        let r = s.round(r, dtype)?;
        match &dst {
            Some(d) => s.store(d.clone(), e, r),
            None => {
                result = Some(r);
                Ok(())
            }
        }
    })?;
    match (dst, result) {
        (Some(d), _) => Ok(Repr::Buf(d)),
        (None, Some(r)) => Ok(Repr::Scalar(r)),
        (None, None) => Err(internal::<E>("reduce_batch of an empty point")),
    }
}

/// Neumaier's compensated sum over the `n` points of a batch column (`column` is its
/// first element, points `per` elements apart). When the running sum is not finite the
/// plain sum is returned (as the interpreter would).
pub(crate) fn neumaier<'a, E: Lower<'a>>(
    s: &mut E,
    column: E::P,
    n: E::I,
    per: usize,
) -> Res<E::F> {
    let zero = s.f64c(0.0)?;
    let r = s.for_loop(
        Ix::C(0),
        Ix::V(n),
        vec![zero.clone(), zero],
        &mut |s, p, carried| {
            let [acc, c] = <[E::F; 2]>::try_from(carried)
                .map_err(|_| internal::<E>("compensated sum state"))?;
            let at = s.ix_mul(Ix::V(p), per)?;
            let x = s.load(column.clone(), at)?;
            let t = s.fbin(FBin::Add, acc.clone(), x.clone())?;
            let a = s.fun(FUn::Abs, acc.clone())?;
            let b = s.fun(FUn::Abs, x.clone())?;
            let big = s.fcmp(FCmp::Ge, a, b)?;
            // |acc| ≥ |x|: the low bits lost are (acc − t) + x, else (x − t) + acc.
            let d1 = s.fbin(FBin::Sub, acc.clone(), t.clone())?;
            let d1 = s.fbin(FBin::Add, d1, x.clone())?;
            let d2 = s.fbin(FBin::Sub, x, t.clone())?;
            let d2 = s.fbin(FBin::Add, d2, acc)?;
            let d = s.select_f(big, d1, d2)?;
            let c = s.fbin(FBin::Add, c, d)?;
            Ok(vec![t, c])
        },
    )?;
    let [acc, c] = <[E::F; 2]>::try_from(r).map_err(|_| internal::<E>("compensated sum state"))?;
    let total = s.fbin(FBin::Add, acc.clone(), c)?;
    let a = s.fun(FUn::Abs, acc.clone())?;
    let inf = s.f64c(f64::INFINITY)?;
    let finite = s.fcmp(FCmp::Lt, a, inf)?;
    s.select_f(finite, total, acc)
}

/// The one value of a single-value loop.
fn single<'a, E: Emit<'a>>(values: Vec<E::F>) -> Res<E::F> {
    values
        .into_iter()
        .next()
        .ok_or_else(|| internal::<E>("loop without its value"))
}

/// `tile_map`: tiles of `lanes` points. Each tile's inputs are gathered into the block
/// arguments' buffers (lanes innermost, the last point repeated in the padding), the body
/// runs once over the whole tile, and its result is scattered to the output batch or
/// combined into the accumulator. Where the back end links sci's tile runtime and the body
/// calls an outlined tile function, the runtime runs the tiles instead (on threads; the
/// partials combined in tile order, so the bits do not depend on the thread count).
pub(crate) fn tile_map<'a, E: Lower<'a>>(
    s: &mut E,
    id: ValueId,
    inputs: &[ValueId],
    lanes: usize,
    reduce: Option<ReduceOp>,
    body: &Block,
) -> Res<ReprOf<E>> {
    if !E::TILE_MAPS {
        return Err(crate::CodegenError::new(format!(
            "The {} back end compiles `map`s, not `tile_map`s: give it the module before \
             `sci_passes::tile` (GPU kernels run one thread per point).",
            E::NAME
        )));
    }
    let batches = batch_inputs(s, inputs)?;
    let n = batches.n.clone();
    let mut tiles = Vec::with_capacity(inputs.len());
    for (b, &arg) in batches.inputs.into_iter().zip(&body.args) {
        tiles.push((b, s.dest(arg)?));
    }
    let mask_arg = *body
        .args
        .last()
        .ok_or_else(|| internal::<E>("tile_map without a mask argument"))?;
    let mask = s.dest(mask_arg)?;
    if matches!(reduce, Some(ReduceOp::Max | ReduceOp::Min | ReduceOp::Mean)) {
        let zero = s.ic(0)?;
        let empty = s.icmp(ICmp::Eq, n.clone(), zero)?;
        s.fail_if(empty, Status::EmptyBatch)?;
    }
    let ty = s.ty(id)?;
    let per = s.len_of(id)?;
    // Where the result goes: the batch, or the accumulator (a cell for a scalar).
    let out = match reduce {
        None => s.alloc_batch(id, n.clone(), per)?,
        Some(_) if !ty.shape.is_empty() => s.dest(id)?,
        Some(_) => s.stack_cells(1)?,
    };
    if let Some(op) = reduce {
        let init = s.start(op)?;
        s.each(per, &mut |s, e| s.store(out.clone(), e, init.clone()))?;
    }
    let tile = Tiles {
        n: n.clone(),
        lanes,
        per,
        reduce,
        out: out.clone(),
    };
    match outlined_call(s.function(), body).and_then(|(f, c)| {
        let threads = threads_for(s.module(), f, s.tile_runtime(f)?);
        Some((f, c, threads))
    }) {
        Some((func, captures, threads)) => run_tiles(s, &tile, &tiles, func, &captures, threads)?,
        None => tile_loop(s, &tile, &tiles, mask, body)?,
    }
    let Some(op) = reduce else {
        return Ok(Repr::Batch { ptr: out, n });
    };
    let finish = |s: &mut E, e: Ix<E::I>| {
        let r = s.load(out.clone(), e.clone())?;
        let r = if op == ReduceOp::Mean {
            let nf = s.count_to_f64(n.clone())?;
            s.fbin(FBin::Div, r, nf)?
        } else {
            r
        };
        s.round(r, ty.dtype)
    };
    if ty.shape.is_empty() {
        return Ok(Repr::Scalar(finish(s, Ix::C(0))?));
    }
    s.each(per, &mut |s, e| {
        let r = finish(s, e.clone())?;
        s.store(out.clone(), e, r)
    })?;
    Ok(Repr::Buf(out))
}

/// What the tiles of one `tile_map` share.
struct Tiles<I, P> {
    n: I,
    lanes: usize,
    /// Elements per point of the result.
    per: usize,
    reduce: Option<ReduceOp>,
    /// The result batch, or the accumulator.
    out: P,
}

/// Each batched input with the buffer its tile is gathered into.
type TileInputs<P> = [(BatchInput<P>, P)];

/// The generated loop over the tiles: gather, body, scatter or combine.
fn tile_loop<'a, E: Lower<'a>>(
    s: &mut E,
    t: &Tiles<E::I, E::P>,
    ins: &TileInputs<E::P>,
    mask: E::P,
    body: &Block,
) -> Res<()> {
    let Tiles {
        lanes, per, reduce, ..
    } = *t;
    let n = t.n.clone();
    let padded = s.ic(lanes - 1)?;
    let padded = s.iadd(n.clone(), padded)?;
    let count = s.idiv(padded, lanes)?;
    let one = s.ic(1)?;
    let last = s.isub(n.clone(), one)?;
    let lanes_c = s.ic(lanes)?;
    s.repeat(Ix::V(count), &mut |s, k| {
        let base = s.imul(k.clone(), lanes)?;
        for (b, tile) in ins {
            s.repeat(Ix::C(lanes), &mut |s, l| {
                let p = s.iadd(base.clone(), l.clone())?;
                let beyond = s.icmp(ICmp::Ult, last.clone(), p.clone())?;
                let p = s.select_i(beyond, last.clone(), p)?;
                let from = s.addr(b.ptr.clone(), Ix::V(p), b.per)?;
                let to = s.addr(tile.clone(), Ix::V(l), 1)?;
                s.each(b.per, &mut |s, e| {
                    let x = s.load(from.clone(), e.clone())?;
                    let at = s.ix_mul(e, lanes)?;
                    s.store(to.clone(), at, x)
                })
            })?;
        }
        s.repeat(Ix::C(lanes), &mut |s, l| {
            let p = s.iadd(base.clone(), l.clone())?;
            let real = s.icmp(ICmp::Ult, p, n.clone())?;
            let m = s.bool_to_f64(real)?;
            s.store(mask.clone(), Ix::V(l), m)
        })?;
        let args = ins
            .iter()
            .map(|(_, tile)| Repr::Buf(tile.clone()))
            .chain([Repr::Buf(mask.clone())])
            .collect();
        let item = s.run_block(body, args)?;
        let Some(op) = reduce else {
            let Repr::Buf(item) = item else {
                return Err(internal::<E>("tile_map tile of the wrong shape"));
            };
            let left = s.isub(n.clone(), base.clone())?;
            let partial = s.icmp(ICmp::Ult, left.clone(), lanes_c.clone())?;
            let real = s.select_i(partial, left, lanes_c.clone())?;
            return s.repeat(Ix::V(real), &mut |s, l| {
                let p = s.iadd(base.clone(), l.clone())?;
                let to = s.addr(t.out.clone(), Ix::V(p), per)?;
                let from = s.addr(item.clone(), Ix::V(l), 1)?;
                s.each(per, &mut |s, e| {
                    let at = s.ix_mul(e.clone(), lanes)?;
                    let x = s.load(from.clone(), at)?;
                    s.store(to.clone(), e, x)
                })
            });
        };
        let zero = s.ic(0)?;
        let first = s.icmp(ICmp::Eq, k, zero)?;
        s.each(per, &mut |s, e| {
            let y = match &item {
                Repr::Scalar(v) => v.clone(),
                Repr::Buf(p) => s.load(p.clone(), e.clone())?,
                Repr::Batch { .. } => return Err(internal::<E>("batched tile_map partial")),
            };
            let a = s.load(t.out.clone(), e.clone())?;
            let r = s.combine(op, a, y, Some(first.clone()))?;
            s.store(t.out.clone(), e, r)
        })
    })
}

/// Fills the tile runtime's descriptor (`parallel::Descriptor`, one 8-byte word per entry,
/// then one cell per captured scalar) and calls the runtime.
fn run_tiles<'a, E: Lower<'a>>(
    s: &mut E,
    t: &Tiles<E::I, E::P>,
    ins: &TileInputs<E::P>,
    func: FuncId,
    captures: &[ValueId],
    threads: usize,
) -> Res<()> {
    let widths: Vec<usize> = ins.iter().map(|(b, _)| b.per).collect();
    let shape = TileShape {
        lanes: t.lanes,
        per: t.per,
    };
    let words = Descriptor::layout(&widths, captures.len(), shape, t.reduce, threads);
    let desc = s.stack_cells(words.len() + captures.len())?;
    for (k, word) in words.iter().enumerate() {
        let w = match *word {
            Word::Const(c) => DescWord::Int(s.ic(c as usize)?),
            Word::Entry => DescWord::Entry(func),
            Word::Points => DescWord::Int(t.n.clone()),
            Word::Out => DescWord::Ptr(t.out.clone()),
            Word::Input(i) => DescWord::Ptr(
                ins.get(i)
                    .map(|(b, _)| b.ptr.clone())
                    .ok_or_else(|| internal::<E>("tile input out of range"))?,
            ),
            Word::Captured(a) => {
                let v = *captures
                    .get(a)
                    .ok_or_else(|| internal::<E>("tile capture out of range"))?;
                match s.repr(v)? {
                    Repr::Buf(p) => DescWord::Ptr(p),
                    Repr::Scalar(x) => {
                        let cell = words.len() + a;
                        s.store(desc.clone(), Ix::C(cell), x)?;
                        DescWord::Ptr(s.addr(desc.clone(), Ix::C(cell), 1)?)
                    }
                    Repr::Batch { .. } => {
                        return Err(internal::<E>("batched value captured by a tile"));
                    }
                }
            }
        };
        s.store_word(desc.clone(), k, w)?;
    }
    s.call_tile_runtime(desc)
}

/// A call of IR function `func`: scalar arguments as values, the result in a new batch
/// with as many points as the batched argument the ABI names (`abi::batch_source`), or in
/// the planned buffer.
pub(crate) fn call<'a, E: Lower<'a>>(
    s: &mut E,
    id: ValueId,
    func: FuncId,
    args: &[ValueId],
) -> Res<ReprOf<E>> {
    let callee = s
        .module()
        .functions
        .get(func)
        .ok_or_else(|| internal::<E>("call of a function out of range"))?;
    let mut held = Vec::with_capacity(args.len());
    for (k, &a) in args.iter().enumerate() {
        let want = callee
            .input_type(k)
            .ok_or_else(|| internal::<E>("call with too many arguments"))?;
        held.push(if !want.batched && want.shape.is_empty() {
            Repr::Scalar(s.scalar(a)?)
        } else {
            s.repr(a)?
        });
    }
    let ty = s.ty(id)?;
    let per = s.len_of(id)?;
    let (out, n) = if ty.batched {
        let k = batch_source(s.module(), func, 0)
            .ok_or_else(|| internal::<E>("batched result without a batched input"))?;
        let Some(Repr::Batch { n, .. }) = held.get(k) else {
            return Err(internal::<E>("batch source is not batched"));
        };
        let n = n.clone();
        (s.alloc_batch(id, n.clone(), per)?, Some(n))
    } else {
        (s.dest(id)?, None)
    };
    s.call_code(func, &held, out.clone())?;
    Ok(match n {
        Some(n) => Repr::Batch { ptr: out, n },
        None if ty.shape.is_empty() => Repr::Scalar(s.load(out, Ix::C(0))?),
        None => Repr::Buf(out),
    })
}
