//! A reduction over tiles whose partials are large (a gradient per tile: a Fourier neural
//! operator's sample contributes 550k numbers), combined in tile order as they arrive.
//!
//! Why: storing every tile's partial and combining them afterwards (what
//! [`TileMap::run_tiles`](super::TileMap) does for small partials) writes and rereads
//! `tiles × per` numbers — 88 MB per step for 20 samples of that operator, far beyond the
//! caches. Here the tiles are handed out in order, each partial is added to the accumulator
//! as soon as every tile before it has been, and a partial finished early waits in a
//! buffer: only a few buffers (about one per thread) exist at once, and they (and the list
//! they wait in) are reused from call to call, so a warm call allocates nothing. The order
//! of the additions is the tiles' order, as everywhere else, so the result is the same bit
//! for bit on any number of threads.
//!
//! Nothing here blocks on another thread's progress: a thread that finishes a tile out of
//! turn leaves its partial and goes on, and whoever completes the tile in turn adds every
//! waiting partial that follows it.

use super::add_partial;
use sci_ir::ReduceOp;
use std::sync::{Mutex, PoisonError};

/// The spare buffers kept between calls, at most this many bytes in all (enough for a few
/// partials of a 550k-weight gradient; larger partials are allocated per call).
const SPARE_BYTES_MAX: usize = 64 << 20;

/// Buffers of partials, reused across calls (reallocating megabytes per training step
/// costs page faults on every first touch).
static SPARE: Mutex<Vec<Vec<f64>>> = Mutex::new(Vec::new());

/// A buffer of `len` elements (contents unspecified), from the spares when one fits.
pub(super) fn buffer(len: usize) -> Vec<f64> {
    let reused = SPARE.lock().ok().and_then(|mut spare| {
        let at = spare.iter().position(|b| b.len() == len)?;
        Some(spare.swap_remove(at))
    });
    reused.unwrap_or_else(|| vec![0.0; len])
}

/// A parked partial: its tile, and the partial (`None`: the tile failed).
type Parked = (usize, Option<Vec<f64>>);

/// The list partials are parked in, kept between calls with its capacity (so a warm call
/// allocates nothing).
static PARKING: Mutex<Vec<Parked>> = Mutex::new(Vec::new());

/// Gives `b` back to the spares (or drops it when they are full).
fn recycle(b: Vec<f64>) {
    if let Ok(mut spare) = SPARE.lock() {
        let held: usize = spare.iter().map(|b| b.len() * 8).sum();
        if held + b.len() * 8 <= SPARE_BYTES_MAX {
            spare.push(b);
        }
    }
}

/// The accumulator and the partials waiting for their turn.
pub(super) struct OrderedReduce {
    op: ReduceOp,
    acc: *mut f64,
    len: usize,
    state: Mutex<State>,
}

// SAFETY: `acc` is written only by the thread holding the tile in turn (see `deliver`),
// one at a time; everything else is behind the mutex.
unsafe impl Send for OrderedReduce {}
// SAFETY: as above.
unsafe impl Sync for OrderedReduce {}

struct State {
    /// The next tile to add.
    next: usize,
    /// Tiles finished out of turn: their partial, or `None` for a failed tile (nothing to
    /// add; the caller reports its status). A few at most (about one per thread).
    waiting: Vec<Parked>,
}

impl OrderedReduce {
    /// A reduction by `op` into the `len` initialised elements at `acc`.
    ///
    /// # Safety
    /// `acc` holds `len` elements, valid and not otherwise accessed until the last tile has
    /// been delivered.
    pub(super) unsafe fn new(op: ReduceOp, acc: *mut f64, len: usize) -> Self {
        OrderedReduce {
            op,
            acc,
            len,
            state: Mutex::new(State {
                next: 0,
                waiting: std::mem::take(
                    &mut *PARKING.lock().unwrap_or_else(PoisonError::into_inner),
                ),
            }),
        }
    }

    /// Tile `k`'s partial (`None`: the tile failed), delivered once per tile. Adds it, and
    /// the waiting partials after it, when every earlier tile has been added; otherwise
    /// leaves it waiting.
    pub(super) fn deliver(&self, k: usize, partial: Option<Vec<f64>>) {
        let mut item = (k, partial);
        loop {
            {
                let mut state = self.state.lock().unwrap_or_else(PoisonError::into_inner);
                if item.0 != state.next {
                    state.waiting.push(item);
                    return;
                }
            }
            // This thread holds the tile in turn: no other can until `next` moves on.
            if let Some(p) = item.1 {
                // SAFETY: see `new`; only the holder of the tile in turn gets here.
                let acc = unsafe { std::slice::from_raw_parts_mut(self.acc, self.len) };
                add_partial(self.op, acc, &p, item.0 == 0);
                recycle(p);
            }
            let mut state = self.state.lock().unwrap_or_else(PoisonError::into_inner);
            state.next += 1;
            let next = state.next;
            match state.waiting.iter().position(|(k, _)| *k == next) {
                Some(at) => item = state.waiting.swap_remove(at),
                None => return,
            }
        }
    }
}

impl Drop for OrderedReduce {
    /// Gives the parking list back, emptied, for the next call.
    fn drop(&mut self) {
        let state = self.state.get_mut().unwrap_or_else(PoisonError::into_inner);
        let mut waiting = std::mem::take(&mut state.waiting);
        waiting.clear();
        let mut parking = PARKING.lock().unwrap_or_else(PoisonError::into_inner);
        if waiting.capacity() > parking.capacity() {
            *parking = waiting;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::combine;
    use super::*;

    /// Out-of-order deliveries add in tile order: the same bits as the sequential loop.
    #[test]
    fn partials_are_added_in_tile_order() {
        let partials: Vec<Vec<f64>> = (0..6)
            .map(|k| vec![0.1 * (k as f64 + 1.0), 1e16 * (-1f64).powi(k), 1.0 / 3.0])
            .collect();
        let mut sequential = vec![0.5, 1.0, 0.0];
        for (k, p) in partials.iter().enumerate() {
            for (a, y) in sequential.iter_mut().zip(p) {
                *a = combine(ReduceOp::Sum, *a, *y, k == 0);
            }
        }
        let mut acc = vec![0.5, 1.0, 0.0];
        // SAFETY: `acc` outlives the reduction and is not touched meanwhile.
        let reduce = unsafe { OrderedReduce::new(ReduceOp::Sum, acc.as_mut_ptr(), 3) };
        for k in [3, 1, 0, 5, 2, 4] {
            reduce.deliver(k, Some(partials[k].clone()));
        }
        drop(reduce);
        let bits = |v: &[f64]| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
        assert_eq!(bits(&acc), bits(&sequential));
    }

    /// A failed tile adds nothing but lets the tiles after it be added.
    #[test]
    fn a_failed_tile_does_not_stall_the_rest() {
        let mut acc = vec![0.0];
        // SAFETY: as above.
        let reduce = unsafe { OrderedReduce::new(ReduceOp::Sum, acc.as_mut_ptr(), 1) };
        reduce.deliver(2, Some(vec![4.0]));
        reduce.deliver(1, None);
        reduce.deliver(0, Some(vec![1.0]));
        drop(reduce);
        assert_eq!(acc, [5.0]);
    }
}
