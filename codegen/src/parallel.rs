//! Threads over tiles: the runtime the JITs call for a `tile_map` whose body is one call of
//! an outlined tile function (`sci_passes::tile::outline_tiles`).
//!
//! Written once, here, for every native back end: generated code fills a descriptor (the
//! tile function's packed entry, the batched inputs, the captured values, the result) and
//! calls [`sci_tile_map`], which gathers each tile's inputs into buffers of the thread's
//! work arena (`crate::arena`: nothing is allocated once warm), calls the tile function and
//! scatters its result, on a rayon pool of the requested size.
//!
//! Results do not depend on the number of threads, bit for bit: every tile computes the same
//! numbers wherever it runs, a `tile_map` without reduction writes disjoint points, and the
//! partials of a reducing `tile_map` are combined in tile order — exactly the order of the
//! sequential loop the back ends generate otherwise: small partials stored per tile and
//! combined afterwards, large ones (a gradient per sample) added as they arrive
//! ([`ordered`]).

mod ordered;

use crate::arena;
use rayon::prelude::*;
use sci_ir::interp::{max_nan, min_nan};
use sci_ir::{Block, FuncId, Function, Module, Op, ReduceOp, ValueId};
use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, OnceLock, PoisonError};

/// `int32_t NAME__packed(const double *const *args, const size_t *counts, double *out)`.
type Packed = unsafe extern "C" fn(*const *const f64, *const usize, *mut f64) -> i32;

/// Words of the descriptor before the per-input and per-argument entries.
pub(crate) const HEADER_WORDS: usize = 9;

/// The layout of the descriptor generated code passes to [`sci_tile_map`], in `u64` words:
///
/// | word | meaning |
/// |---|---|
/// | 0 | the tile function's packed entry |
/// | 1 | number of points `n` |
/// | 2 | lanes per tile |
/// | 3 | elements per point of the result (of the partial, when reducing) |
/// | 4 | 0, or 1 + the reduction's index in `ReduceOp::ALL` |
/// | 5 | result: `n × per` elements, or the accumulator (`per` elements, initialised) |
/// | 6 | threads (0: all cores) |
/// | 7 | number of batched inputs `I` |
/// | 8 | number of arguments of the tile function `A` |
/// | 9 + 2i, 10 + 2i | input `i`: address, elements per point |
/// | 9 + 2I + 2a, 10 + 2I + 2a | argument `a`: kind (0 captured, 1 + i tile of input `i`, 1 + I the mask), address of a captured value |
pub(crate) struct Descriptor;

impl Descriptor {
    /// Word offset of input `i`'s entry.
    pub fn input(i: usize) -> usize {
        HEADER_WORDS + 2 * i
    }

    /// Word offset of argument `a`'s entry, with `inputs` batched inputs.
    pub fn arg(inputs: usize, a: usize) -> usize {
        HEADER_WORDS + 2 * inputs + 2 * a
    }

    /// The descriptor of a `tile_map` with batched inputs of `widths` elements per point and
    /// `captures` captured values, word by word: the layout, in one place for every back end
    /// (each only turns [`Word`]s into values and stores them).
    pub fn layout(
        widths: &[usize],
        captures: usize,
        shape: TileShape,
        reduce: Option<ReduceOp>,
        threads: usize,
    ) -> Vec<Word> {
        let inputs = widths.len();
        let args = captures + inputs + 1;
        let mut words = vec![
            Word::Entry,
            Word::Points,
            Word::Const(shape.lanes as u64),
            Word::Const(shape.per as u64),
            Word::Const(reduce_code(reduce)),
            Word::Out,
            Word::Const(threads as u64),
            Word::Const(inputs as u64),
            Word::Const(args as u64),
        ];
        for (i, &w) in widths.iter().enumerate() {
            words.extend([Word::Input(i), Word::Const(w as u64)]);
        }
        for a in 0..captures {
            words.extend([Word::Const(0), Word::Captured(a)]);
        }
        for j in 0..=inputs {
            words.extend([Word::Const(1 + j as u64), Word::Const(0)]);
        }
        words
    }
}

/// Lanes per tile and result elements per point of a `tile_map`.
#[derive(Clone, Copy, Debug)]
pub(crate) struct TileShape {
    pub lanes: usize,
    pub per: usize,
}

/// One word of a descriptor, as generated code must fill it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Word {
    /// A constant.
    Const(u64),
    /// The tile function's packed entry.
    Entry,
    /// The number of points.
    Points,
    /// The result batch or the accumulator.
    Out,
    /// The address of batched input `i`.
    Input(usize),
    /// The address of captured value `a` (a scalar is first stored in cell `a` after the
    /// descriptor).
    Captured(usize),
}

/// The tile function and captured values of a `tile_map` body in the form
/// `sci_passes::tile::outline_tiles` leaves: one call yielding its result, whose last
/// arguments are the block's own. Such a `tile_map` can run on the tile runtime.
pub(crate) fn outlined_call(f: &Function, body: &Block) -> Option<(FuncId, Vec<ValueId>)> {
    let [only] = body.body.as_slice() else {
        return None;
    };
    if *only != body.result {
        return None;
    }
    let Op::Call { func, args } = &f.values.get(*only)?.op else {
        return None;
    };
    let captured = args.len().checked_sub(body.args.len())?;
    if args.get(captured..)? != body.args.as_slice() {
        return None;
    }
    Some((*func, args.get(..captured)?.to_vec()))
}

/// Tile bodies doing less work than this (elements produced per tile, summed over the
/// tile function's values) run on the calling thread: waking the pool's threads costs
/// more than such a body (a point count `map X { 1 }` is a few dozen elements per tile;
/// a network's tile tens of thousands).
const THREADED_TILE_WORK_MIN: usize = 2048;

/// The thread count word for a `tile_map` whose tile function is `func`: an explicit
/// count (`threads > 0`) as asked; the automatic one (0: all cores) unless the body is too
/// cheap to share out (see [`THREADED_TILE_WORK_MIN`]), then 1.
pub(crate) fn threads_for(module: &Module, func: FuncId, threads: usize) -> usize {
    if threads != 0 {
        return threads;
    }
    let work: usize = module.functions.get(func).map_or(usize::MAX, |f| {
        f.body
            .body
            .iter()
            .filter_map(|v| f.values.get(*v)?.ty.element_count())
            .sum()
    });
    if work < THREADED_TILE_WORK_MIN {
        1
    } else {
        threads
    }
}

/// The code of a reduction in word 4 (0: none).
fn reduce_code(op: Option<ReduceOp>) -> u64 {
    op.and_then(|op| ReduceOp::ALL.iter().position(|o| *o == op))
        .map_or(0, |k| k as u64 + 1)
}

/// A pointer that may cross threads: every use writes a region no other thread touches.
#[derive(Clone, Copy)]
struct Shared(*mut f64);
impl Shared {
    /// The address (a method, so closures capture the `Send` wrapper, not the pointer).
    fn at(self, k: usize) -> *mut f64 {
        // SAFETY: callers stay within the region the pointer was made for.
        unsafe { self.0.add(k) }
    }
}

// SAFETY: see the type's documentation; the regions are disjoint per tile.
unsafe impl Send for Shared {}
// SAFETY: as above.
unsafe impl Sync for Shared {}

/// The descriptor, read where it is needed (decoding it into vectors would allocate).
#[derive(Clone, Copy)]
struct Desc(*const u64);
// SAFETY: the descriptor is read only, and outlives the call that shares it with threads.
unsafe impl Send for Desc {}
// SAFETY: as above.
unsafe impl Sync for Desc {}

/// The decoded header of a descriptor.
struct TileMap {
    desc: Desc,
    func: Packed,
    n: usize,
    lanes: usize,
    per: usize,
    reduce: Option<ReduceOp>,
    out: Shared,
    /// Number of batched inputs and of the tile function's arguments.
    inputs: usize,
    args: usize,
}

/// A failed allocation of work memory (as `abi::Status::OutOfMemory`).
const OUT_OF_MEMORY: i32 = crate::abi::Status::OutOfMemory as i32;

impl TileMap {
    /// Word `k` of the descriptor.
    fn word(&self, k: usize) -> u64 {
        // SAFETY: every word index used is within the layout `sci_tile_map`'s caller wrote.
        unsafe { *self.desc.0.add(k) }
    }

    /// Batched input `i`: its address and elements per point.
    fn input(&self, i: usize) -> (*const f64, usize) {
        let at = Descriptor::input(i);
        (
            self.word(at) as usize as *const f64,
            self.word(at + 1) as usize,
        )
    }

    /// Argument `a`: `Ok(k)` the k-th tile buffer (input `k`, or the mask for
    /// `k = inputs`), `Err(address)` a captured value.
    fn arg(&self, a: usize) -> Result<usize, *const f64> {
        let at = Descriptor::arg(self.inputs, a);
        match self.word(at) {
            0 => Err(self.word(at + 1) as usize as *const f64),
            k => Ok(k as usize - 1),
        }
    }

    /// Elements of one tile's result.
    fn out_len(&self) -> usize {
        if self.reduce.is_some() {
            self.per.max(1)
        } else {
            (self.per * self.lanes).max(1)
        }
    }

    /// Runs tile `k` in buffers from this thread's work arena (`crate::arena`: reused from
    /// call to call, so nothing is allocated once warm) and hands its result (lanes
    /// innermost; `per` values when reducing) to `done`. Returns the tile function's status.
    ///
    /// # Safety
    /// The descriptor's addresses are valid as documented on [`Descriptor`].
    unsafe fn run_tile(&self, k: usize, done: impl FnOnce(&[f64])) -> i32 {
        let mark = arena::sci_arena_mark();
        // SAFETY: the caller's contract.
        let status = unsafe { self.run_tile_in_arena(k, None, done) };
        arena::sci_arena_release(mark);
        status
    }

    /// Runs tile `k` as [`TileMap::run_tile`] does, its result written to `dst` (of
    /// [`TileMap::out_len`] elements). Returns the tile function's status.
    ///
    /// # Safety
    /// As [`TileMap::run_tile`].
    unsafe fn run_tile_into(&self, k: usize, dst: &mut [f64]) -> i32 {
        let mark = arena::sci_arena_mark();
        // SAFETY: the caller's contract.
        let status = unsafe { self.run_tile_in_arena(k, Some(dst), |_| {}) };
        arena::sci_arena_release(mark);
        status
    }

    /// [`TileMap::run_tile`] after the arena's mark; the result in `dst` when given, else
    /// in the arena.
    ///
    /// # Safety
    /// As [`TileMap::run_tile`].
    unsafe fn run_tile_in_arena(
        &self,
        k: usize,
        dst: Option<&mut [f64]>,
        done: impl FnOnce(&[f64]),
    ) -> i32 {
        let lanes = self.lanes;
        let buffer = |len: usize| -> Option<&mut [f64]> {
            let p = arena::sci_arena_alloc((len.max(1) * 8) as u64).cast::<f64>();
            // SAFETY: a fresh, 64-byte aligned region of `len` f64 (any bits are a valid
            // f64), this thread's alone until the arena is released after the tile.
            (!p.is_null()).then(|| unsafe { std::slice::from_raw_parts_mut(p, len) })
        };
        let ptrs = arena::sci_arena_alloc((self.args.max(1) * 8) as u64).cast::<*const f64>();
        let mask_at = self.inputs;
        let out = match dst {
            Some(d) if d.len() == self.out_len() => Some(d),
            Some(_) => return OUT_OF_MEMORY,
            None => buffer(self.out_len()),
        };
        let (Some(mask), Some(out)) = (buffer(lanes), out) else {
            return OUT_OF_MEMORY;
        };
        if ptrs.is_null() {
            return OUT_OF_MEMORY;
        }
        let base = k * lanes;
        let last = self.n - 1;
        for (l, m) in mask.iter_mut().enumerate() {
            *m = if base + l < self.n { 1.0 } else { 0.0 };
        }
        // Each input's tile is gathered when its first argument is met (inputs beyond the
        // eighth, which tiled networks do not have, each time).
        let mut tiles: [Option<*const f64>; 8] = [None; 8];
        for a in 0..self.args {
            let p = match self.arg(a) {
                Err(captured) => captured,
                Ok(t) if t == mask_at => mask.as_ptr(),
                Ok(t) => match tiles.get(t).copied().flatten() {
                    Some(p) => p,
                    None => {
                        let (ptr, width) = self.input(t);
                        let Some(tile) = buffer(width * lanes) else {
                            return OUT_OF_MEMORY;
                        };
                        for l in 0..lanes {
                            let p = (base + l).min(last);
                            // SAFETY: `p < n` and the input holds `n × width` elements.
                            let point =
                                unsafe { std::slice::from_raw_parts(ptr.add(p * width), width) };
                            for (e, x) in point.iter().enumerate() {
                                tile[e * lanes + l] = *x;
                            }
                        }
                        if let Some(slot) = tiles.get_mut(t) {
                            *slot = Some(tile.as_ptr());
                        }
                        tile.as_ptr()
                    }
                },
            };
            // SAFETY: `ptrs` holds `args` pointers.
            unsafe { ptrs.add(a).write(p) };
        }
        // SAFETY: `func` is the packed entry of the tile function, whose arguments are
        // exactly `args` (unbatched, so `counts` is never read) and whose result has the
        // size of `out`.
        let status = unsafe { (self.func)(ptrs, std::ptr::null(), out.as_mut_ptr()) };
        if status == 0 {
            done(out);
        }
        status
    }

    /// Writes tile `k`'s result (`tile`, lanes innermost) to its points of the result.
    ///
    /// # Safety
    /// `out` holds `n × per` elements and no other thread writes tile `k`'s points.
    unsafe fn scatter(&self, tile: &[f64], k: usize) {
        let base = k * self.lanes;
        let count = self.lanes.min(self.n - base);
        for l in 0..count {
            // SAFETY: point `base + l < n`; see the function's contract.
            let to = unsafe {
                std::slice::from_raw_parts_mut(self.out.0.add((base + l) * self.per), self.per)
            };
            for (e, y) in to.iter_mut().enumerate() {
                *y = tile[e * self.lanes + l];
            }
        }
    }

    /// Runs every tile on `threads` threads (0: all cores); the first failing tile's status
    /// (in tile order). Each tile's status, and its partial when reducing, are kept in the
    /// calling thread's work arena and read in tile order afterwards.
    ///
    /// # Safety
    /// The descriptor's addresses are valid as documented on [`Descriptor`].
    unsafe fn run(&self, threads: usize) -> i32 {
        let tiles = self.n.div_ceil(self.lanes);
        if tiles == 0 {
            return 0;
        }
        let mark = arena::sci_arena_mark();
        // SAFETY: the caller's contract.
        let status = unsafe { self.run_tiles(tiles, threads) };
        arena::sci_arena_release(mark);
        status
    }

    /// [`TileMap::run`] after the arena's mark.
    ///
    /// # Safety
    /// As [`TileMap::run`].
    unsafe fn run_tiles(&self, tiles: usize, threads: usize) -> i32 {
        if let Some(op) = self.reduce
            && self.per >= ORDERED_PARTIAL_MIN
        {
            // SAFETY: the caller's contract.
            return unsafe { self.run_ordered(op, tiles, threads) };
        }
        let per = self.per;
        let partial_len = if self.reduce.is_some() { per } else { 0 };
        let statuses = arena::sci_arena_alloc((tiles * 8) as u64).cast::<f64>();
        let partials =
            arena::sci_arena_alloc((tiles * partial_len * 8).max(8) as u64).cast::<f64>();
        if statuses.is_null() || partials.is_null() {
            return OUT_OF_MEMORY;
        }
        let (statuses, partials) = (Shared(statuses), Shared(partials));
        let work = |k: usize| {
            // SAFETY: the caller's contract; tile `k` writes its own status slot, its own
            // partial slot or its own points of the result.
            unsafe {
                let status = self.run_tile(k, |tile| {
                    if self.reduce.is_some() {
                        let to = std::slice::from_raw_parts_mut(partials.at(k * per), per);
                        to.copy_from_slice(&tile[..per]);
                    } else {
                        self.scatter(tile, k);
                    }
                });
                statuses.at(k).write(f64::from(status));
            }
        };
        if threads == 1 || tiles == 1 {
            (0..tiles).for_each(work);
        } else {
            in_pool(threads, || (0..tiles).into_par_iter().for_each(work));
        }
        // SAFETY: every slot was written above.
        let statuses = unsafe { std::slice::from_raw_parts(statuses.at(0), tiles) };
        if let Some(&failed) = statuses.iter().find(|&&s| s != 0.0) {
            return failed as i32;
        }
        if let Some(op) = self.reduce {
            // SAFETY: the accumulator holds `per` initialised elements; the partials were
            // all written (no tile failed).
            let (acc, partials) = unsafe {
                (
                    std::slice::from_raw_parts_mut(self.out.0, per),
                    std::slice::from_raw_parts(partials.at(0), tiles * per),
                )
            };
            for (k, partial) in partials.chunks_exact(per.max(1)).enumerate() {
                add_partial(op, acc, partial, k == 0);
            }
        }
        0
    }
}

/// Partials of at least this many elements are added as they arrive ([`ordered`]) rather
/// than stored per tile: 16k elements (128 KB) per tile stored for a few dozen tiles
/// already overflow a core's L2 cache.
const ORDERED_PARTIAL_MIN: usize = 16 * 1024;

impl TileMap {
    /// A reducing `tile_map` with large partials ([`ordered`]): tiles handed out in order
    /// to `threads` workers (0: all cores), each partial added in tile order as soon as
    /// the ones before it have been.
    ///
    /// # Safety
    /// As [`TileMap::run`]; the accumulator holds `per` initialised elements.
    unsafe fn run_ordered(&self, op: ReduceOp, tiles: usize, threads: usize) -> i32 {
        let per = self.per;
        // SAFETY: the accumulator is the descriptor's result, `per` elements, written only
        // through the reduction until it ends.
        let reduce = unsafe { ordered::OrderedReduce::new(op, self.out.0, per) };
        let next = AtomicUsize::new(0);
        let first_failure = Mutex::new(None::<(usize, i32)>);
        let worker = || {
            loop {
                let k = next.fetch_add(1, Ordering::Relaxed);
                if k >= tiles {
                    break;
                }
                let mut partial = ordered::buffer(per);
                // SAFETY: the caller's contract; `partial` has `out_len() = per` elements.
                let status = unsafe { self.run_tile_into(k, &mut partial) };
                if status == 0 {
                    reduce.deliver(k, Some(partial));
                } else {
                    let mut failure = first_failure.lock().unwrap_or_else(PoisonError::into_inner);
                    if failure.is_none_or(|(j, _)| k < j) {
                        *failure = Some((k, status));
                    }
                    drop(failure);
                    reduce.deliver(k, None);
                }
            }
        };
        if threads == 1 {
            worker();
        } else {
            // One worker per thread, started by a parallel loop (its jobs live on the
            // stack: a scope's spawned jobs would be allocated every call).
            in_pool(threads, || {
                let workers = rayon::current_num_threads().min(tiles);
                (0..workers).into_par_iter().for_each(|_| worker());
            });
        }
        let failure = first_failure
            .into_inner()
            .unwrap_or_else(PoisonError::into_inner);
        failure.map_or(0, |(_, status)| status)
    }
}

/// `acc ← acc ∘ partial` element by element, as [`combine`] does (the partial of the first
/// tile when `first`); sums (the gradients) as a plain loop the compiler vectorises.
fn add_partial(op: ReduceOp, acc: &mut [f64], partial: &[f64], first: bool) {
    match op {
        ReduceOp::Sum | ReduceOp::Mean => {
            for (a, y) in acc.iter_mut().zip(partial) {
                *a += *y;
            }
        }
        _ => {
            for (a, y) in acc.iter_mut().zip(partial) {
                *a = combine(op, *a, *y, first);
            }
        }
    }
}

/// One step of a reduction over tiles, as the generated sequential loop does it.
fn combine(op: ReduceOp, acc: f64, x: f64, first: bool) -> f64 {
    match op {
        ReduceOp::Sum | ReduceOp::Mean => acc + x,
        ReduceOp::Prod => acc * x,
        ReduceOp::Max if first => x,
        ReduceOp::Min if first => x,
        ReduceOp::Max => max_nan(acc, x),
        ReduceOp::Min => min_nan(acc, x),
    }
}

/// Runs `f` on a pool of `threads` threads (0: rayon's global pool, all cores). Pools are
/// built once per size and kept.
fn in_pool<R: Send>(threads: usize, f: impl FnOnce() -> R + Send) -> R {
    static POOLS: OnceLock<Mutex<HashMap<usize, Arc<rayon::ThreadPool>>>> = OnceLock::new();
    if threads == 0 {
        return f();
    }
    let pool = POOLS
        .get_or_init(Default::default)
        .lock()
        .ok()
        .and_then(|mut pools| {
            if let Some(p) = pools.get(&threads) {
                return Some(p.clone());
            }
            let p = Arc::new(
                rayon::ThreadPoolBuilder::new()
                    .num_threads(threads)
                    .build()
                    .ok()?,
            );
            pools.insert(threads, p.clone());
            Some(p)
        });
    match pool {
        Some(p) => p.install(f),
        // No pool could be built: the global one still gives the same numbers.
        None => f(),
    }
}

/// Runs a `tile_map` described by `desc` (see [`Descriptor`]); returns 0 or the status of
/// the first failing tile.
///
/// # Safety
/// `desc` points to a descriptor as documented on [`Descriptor`], whose addresses are valid
/// for the call; called only by generated code.
pub(crate) unsafe extern "C" fn sci_tile_map(desc: *const u64) -> i32 {
    // SAFETY: the caller's contract: the header is readable.
    let word = |k: usize| unsafe { *desc.add(k) };
    let inputs = word(7) as usize;
    let args = word(8) as usize;
    let reduce = match word(4) {
        0 => None,
        k => ReduceOp::ALL.get(k as usize - 1).copied(),
    };
    let lanes = word(2) as usize;
    let n = word(1) as usize;
    if lanes == 0 {
        return 0;
    }
    let map = TileMap {
        desc: Desc(desc),
        // SAFETY: word 0 is the address of a packed entry (the caller's contract).
        func: unsafe { std::mem::transmute::<usize, Packed>(word(0) as usize) },
        n,
        lanes,
        per: word(3) as usize,
        reduce,
        out: Shared(word(5) as usize as *mut f64),
        inputs,
        args,
    };
    // SAFETY: the caller's contract.
    unsafe { map.run(word(6) as usize) }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The words generated code writes are where [`sci_tile_map`] reads them.
    #[test]
    fn the_layout_matches_the_reader() {
        let widths = [3, 1];
        let shape = TileShape { lanes: 8, per: 2 };
        let words = Descriptor::layout(&widths, 2, shape, Some(ReduceOp::Mean), 3);
        let args = 2 + widths.len() + 1;
        assert_eq!(words.len(), HEADER_WORDS + 2 * widths.len() + 2 * args);
        assert_eq!(words[0], Word::Entry);
        assert_eq!(words[1], Word::Points);
        assert_eq!(words[2], Word::Const(8));
        assert_eq!(words[3], Word::Const(2));
        assert_eq!(words[4], Word::Const(reduce_code(Some(ReduceOp::Mean))));
        assert_eq!(words[5], Word::Out);
        assert_eq!(words[6], Word::Const(3));
        assert_eq!(words[7], Word::Const(widths.len() as u64));
        assert_eq!(words[8], Word::Const(args as u64));
        for (i, w) in widths.iter().enumerate() {
            assert_eq!(words[Descriptor::input(i)], Word::Input(i));
            assert_eq!(words[Descriptor::input(i) + 1], Word::Const(*w as u64));
        }
        for a in 0..2 {
            assert_eq!(words[Descriptor::arg(widths.len(), a)], Word::Const(0));
            assert_eq!(
                words[Descriptor::arg(widths.len(), a) + 1],
                Word::Captured(a)
            );
        }
        for j in 0..=widths.len() {
            let at = Descriptor::arg(widths.len(), 2 + j);
            assert_eq!(words[at], Word::Const(1 + j as u64));
        }
    }
}
