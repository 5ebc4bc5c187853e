//! Threads over tiles: the runtime the JITs call for a `tile_map` whose body is one call of
//! an outlined tile function (`sci_passes::tile::outline_tiles`).
//!
//! Written once, here, for every native back end: generated code fills a descriptor (the
//! tile function's packed entry, the batched inputs, the captured values, the result) and
//! calls [`sci_tile_map`], which gathers each tile's inputs into per-thread buffers, calls
//! the tile function and scatters its result, on a rayon pool of the requested size.
//!
//! Results do not depend on the number of threads, bit for bit: every tile computes the same
//! numbers wherever it runs, a `tile_map` without reduction writes disjoint points, and the
//! partials of a reducing `tile_map` are stored per tile and combined afterwards in tile
//! order — exactly the order of the sequential loop the back ends generate otherwise.

use rayon::prelude::*;
use sci_ir::interp::{max_nan, min_nan};
use sci_ir::{Block, FuncId, Function, Op, ReduceOp, ValueId};
use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock};

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

/// The code of a reduction in word 4 (0: none).
fn reduce_code(op: Option<ReduceOp>) -> u64 {
    op.and_then(|op| ReduceOp::ALL.iter().position(|o| *o == op))
        .map_or(0, |k| k as u64 + 1)
}

/// A pointer that may cross threads: every use writes a region no other thread touches.
#[derive(Clone, Copy)]
struct Shared(*mut f64);
// SAFETY: see the type's documentation; the regions are disjoint per tile.
unsafe impl Send for Shared {}
// SAFETY: as above.
unsafe impl Sync for Shared {}

/// The decoded descriptor.
struct TileMap {
    func: Packed,
    n: usize,
    lanes: usize,
    per: usize,
    reduce: Option<ReduceOp>,
    out: Shared,
    /// Batched inputs: base address (shared, read only) and elements per point.
    inputs: Vec<(Shared, usize)>,
    /// Per argument: `Err(address)` of a captured value, `Ok(k)` the k-th tile buffer
    /// (input `k`, or the mask for `k = inputs.len()`).
    args: Vec<Result<usize, Shared>>,
}

/// The buffers one thread gathers tiles into.
struct Scratch {
    tiles: Vec<Vec<f64>>,
    out: Vec<f64>,
    ptrs: Vec<*const f64>,
}

impl TileMap {
    fn scratch(&self) -> Scratch {
        let mut tiles: Vec<Vec<f64>> = self
            .inputs
            .iter()
            .map(|&(_, w)| vec![0.0; w * self.lanes])
            .collect();
        tiles.push(vec![0.0; self.lanes]);
        let out_len = if self.reduce.is_some() {
            self.per.max(1)
        } else {
            (self.per * self.lanes).max(1)
        };
        Scratch {
            tiles,
            out: vec![0.0; out_len],
            ptrs: Vec::with_capacity(self.args.len()),
        }
    }

    /// Runs tile `k` into `s.out`; returns the tile function's status.
    ///
    /// # Safety
    /// The descriptor's addresses are valid as documented on [`Descriptor`].
    unsafe fn run_tile(&self, s: &mut Scratch, k: usize) -> i32 {
        let base = k * self.lanes;
        let last = self.n - 1;
        for (&(ptr, width), tile) in self.inputs.iter().zip(&mut s.tiles) {
            for l in 0..self.lanes {
                let p = (base + l).min(last);
                // SAFETY: `p < n` and the input holds `n × width` elements.
                let point = unsafe { std::slice::from_raw_parts(ptr.0.add(p * width), width) };
                for (e, x) in point.iter().enumerate() {
                    tile[e * self.lanes + l] = *x;
                }
            }
        }
        if let Some(mask) = s.tiles.last_mut() {
            for (l, m) in mask.iter_mut().enumerate() {
                *m = if base + l < self.n { 1.0 } else { 0.0 };
            }
        }
        s.ptrs.clear();
        for a in &self.args {
            s.ptrs.push(match a {
                Ok(t) => s.tiles.get(*t).map_or(std::ptr::null(), |t| t.as_ptr()),
                Err(p) => p.0 as *const f64,
            });
        }
        // SAFETY: `func` is the packed entry of the tile function, whose arguments are
        // exactly `args` (unbatched, so `counts` is never read) and whose result has the
        // size of `out`.
        unsafe { (self.func)(s.ptrs.as_ptr(), std::ptr::null(), s.out.as_mut_ptr()) }
    }

    /// Writes tile `k`'s result (`s.out`, lanes innermost) to its points of the result.
    ///
    /// # Safety
    /// `out` holds `n × per` elements and no other thread writes tile `k`'s points.
    unsafe fn scatter(&self, s: &Scratch, k: usize) {
        let base = k * self.lanes;
        let count = self.lanes.min(self.n - base);
        for l in 0..count {
            // SAFETY: point `base + l < n`; see the function's contract.
            let to = unsafe {
                std::slice::from_raw_parts_mut(self.out.0.add((base + l) * self.per), self.per)
            };
            for (e, y) in to.iter_mut().enumerate() {
                *y = s.out[e * self.lanes + l];
            }
        }
    }

    /// Runs every tile on `threads` threads (0: all cores); the first failing tile's status.
    ///
    /// # Safety
    /// The descriptor's addresses are valid as documented on [`Descriptor`].
    unsafe fn run(&self, threads: usize) -> i32 {
        let tiles = self.n.div_ceil(self.lanes);
        if tiles == 0 {
            return 0;
        }
        let per = self.per;
        // One tile: its partial (reducing), else its points scattered into the result.
        let work = |k: usize, s: &mut Scratch| -> Result<Option<Vec<f64>>, i32> {
            // SAFETY: the caller's contract.
            let status = unsafe { self.run_tile(s, k) };
            if status != 0 {
                return Err(status);
            }
            if self.reduce.is_some() {
                return Ok(Some(s.out[..per].to_vec()));
            }
            // SAFETY: tile `k`'s points are written by this task only.
            unsafe { self.scatter(s, k) };
            Ok(None)
        };
        // Either way, the first failing tile in tile order gives the status.
        let partials: Result<Vec<Option<Vec<f64>>>, i32> = if threads == 1 || tiles == 1 {
            let mut s = self.scratch();
            (0..tiles).map(|k| work(k, &mut s)).collect()
        } else {
            let each: Vec<Result<Option<Vec<f64>>, i32>> = in_pool(threads, || {
                (0..tiles)
                    .into_par_iter()
                    .map_init(|| self.scratch(), |s, k| work(k, s))
                    .collect()
            });
            each.into_iter().collect()
        };
        let partials = match partials {
            Ok(p) => p,
            Err(status) => return status,
        };
        if let Some(op) = self.reduce {
            // SAFETY: the accumulator holds `per` initialised elements.
            let acc = unsafe { std::slice::from_raw_parts_mut(self.out.0, per) };
            for (k, partial) in partials.iter().flatten().enumerate() {
                for (a, y) in acc.iter_mut().zip(partial) {
                    *a = combine(op, *a, *y, k == 0);
                }
            }
        }
        0
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
        // SAFETY: word 0 is the address of a packed entry (the caller's contract).
        func: unsafe { std::mem::transmute::<usize, Packed>(word(0) as usize) },
        n,
        lanes,
        per: word(3) as usize,
        reduce,
        out: Shared(word(5) as usize as *mut f64),
        inputs: (0..inputs)
            .map(|i| {
                let at = Descriptor::input(i);
                (Shared(word(at) as usize as *mut f64), word(at + 1) as usize)
            })
            .collect(),
        args: (0..args)
            .map(|a| {
                let at = Descriptor::arg(inputs, a);
                match word(at) {
                    0 => Err(Shared(word(at + 1) as usize as *mut f64)),
                    k => Ok(k as usize - 1),
                }
            })
            .collect(),
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
