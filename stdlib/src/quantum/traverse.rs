//! Walking one or two state vectors in lockstep, pair by pair (one-qubit gates) or
//! quadruple by quadruple (two-qubit gates), in parallel for large states, with sums that
//! give the same bits on any number of threads.
//!
//! A gate on qubit `q` couples amplitudes `i` and `i + 2^q` (bit `q` of `i` clear). The
//! state is a sequence of blocks of `2^(q+1)` amplitudes whose lower and upper halves hold
//! the pairs' two members, so the work on a piece is a loop over two contiguous runs with no
//! per-amplitude branch, which LLVM vectorises. Pieces are found by halving: a state of
//! several blocks splits between blocks; a single block splits into its two halves, which
//! are then halved together; two-qubit gates do the same once more for the lower qubit.
//! Halving stops at [`UNIT`] amplitudes, and the halves go to `rayon::join` for states of
//! [`PARALLEL_MIN`] amplitudes or more.
//!
//! Every amplitude is written by exactly one piece from the same inputs, so gates give the
//! same bits on any number of threads. A piece's work may also return a sum (the adjoint
//! gradient's matrix elements); the sums of two halves are added as the recursion returns,
//! so the tree of additions depends on the state's length and the qubits alone, never on
//! the threads, and reductions are reproducible too. Nothing here allocates.
//!
//! Two vectors walked together (`ψ` and `λ` in the adjoint sweep) are a [`Lanes`] value of
//! two slices, so one pass reads and writes both.

use num_complex::Complex64 as C;

use super::layout::{PARALLEL_MIN, UNIT};

/// Equal-length pieces of one or more state vectors, cut in lockstep.
pub trait Lanes: Sized + Send {
    /// The length of each piece.
    fn len(&self) -> usize;
    /// Each piece cut at `mid`.
    fn split_at(self, mid: usize) -> (Self, Self);
    /// Calls `f(lo, hi)` with the two halves of each block of `2s` amplitudes (the pieces
    /// hold whole blocks).
    fn for_blocks(self, s: usize, f: impl FnMut(Self, Self));
    /// Calls `f(a_lo, a_hi, b_lo, b_hi)` with the halves of each block of `2s` of `a` and
    /// of the matching block of `b`.
    fn for_block_pairs(a: Self, b: Self, s: usize, f: impl FnMut(Self, Self, Self, Self));
}

/// Blocks of `B = 2s` amplitudes as fixed-size arrays when `s` is 1, 2 or 4, so that the
/// work's loop over a half (one, two or four pairs) is unrolled instead of a loop of a
/// few iterations per block; wider blocks have loops long enough to vectorise as they are.
macro_rules! by_block_size {
    ($s:expr, $body:ident) => {
        match $s {
            1 => {
                $body!(2)
            }
            2 => {
                $body!(4)
            }
            4 => {
                $body!(8)
            }
            _ => {
                $body!()
            }
        }
    };
}

impl Lanes for &mut [C] {
    fn len(&self) -> usize {
        <[C]>::len(self)
    }

    fn split_at(self, mid: usize) -> (Self, Self) {
        self.split_at_mut(mid)
    }

    #[inline(always)]
    fn for_blocks(self, s: usize, mut f: impl FnMut(Self, Self)) {
        macro_rules! each {
            ($b:literal) => {{
                for block in self.as_chunks_mut::<$b>().0 {
                    let (lo, hi) = block.split_at_mut($b / 2);
                    f(lo, hi);
                }
            }};
            () => {{
                for block in self.chunks_exact_mut(2 * s) {
                    let (lo, hi) = block.split_at_mut(s);
                    f(lo, hi);
                }
            }};
        }
        by_block_size!(s, each)
    }

    #[inline(always)]
    fn for_block_pairs(a: Self, b: Self, s: usize, mut f: impl FnMut(Self, Self, Self, Self)) {
        macro_rules! each {
            ($b:literal) => {{
                for (x, y) in a
                    .as_chunks_mut::<$b>()
                    .0
                    .iter_mut()
                    .zip(b.as_chunks_mut::<$b>().0)
                {
                    let (x0, x1) = x.split_at_mut($b / 2);
                    let (y0, y1) = y.split_at_mut($b / 2);
                    f(x0, x1, y0, y1);
                }
            }};
            () => {{
                for (x, y) in a.chunks_exact_mut(2 * s).zip(b.chunks_exact_mut(2 * s)) {
                    let (x0, x1) = x.split_at_mut(s);
                    let (y0, y1) = y.split_at_mut(s);
                    f(x0, x1, y0, y1);
                }
            }};
        }
        by_block_size!(s, each)
    }
}

impl<'a> Lanes for (&'a mut [C], &'a mut [C]) {
    fn len(&self) -> usize {
        self.0.len().min(self.1.len())
    }

    fn split_at(self, mid: usize) -> (Self, Self) {
        let (a0, a1) = self.0.split_at_mut(mid);
        let (b0, b1) = self.1.split_at_mut(mid);
        ((a0, b0), (a1, b1))
    }

    #[inline(always)]
    fn for_blocks(self, s: usize, mut f: impl FnMut(Self, Self)) {
        <&mut [C]>::for_block_pairs(self.0, self.1, s, |a0, a1, b0, b1| f((a0, b0), (a1, b1)));
    }

    #[inline(always)]
    fn for_block_pairs(a: Self, b: Self, s: usize, mut f: impl FnMut(Self, Self, Self, Self)) {
        macro_rules! each {
            ($b:literal) => {{
                let blocks =
                    a.0.as_chunks_mut::<$b>()
                        .0
                        .iter_mut()
                        .zip(a.1.as_chunks_mut::<$b>().0);
                let others =
                    b.0.as_chunks_mut::<$b>()
                        .0
                        .iter_mut()
                        .zip(b.1.as_chunks_mut::<$b>().0);
                for ((x, y), (z, w)) in blocks.zip(others) {
                    let (x0, x1) = x.split_at_mut($b / 2);
                    let (y0, y1) = y.split_at_mut($b / 2);
                    let (z0, z1) = z.split_at_mut($b / 2);
                    let (w0, w1) = w.split_at_mut($b / 2);
                    f((x0, y0), (x1, y1), (z0, w0), (z1, w1));
                }
            }};
            () => {{
                let blocks = a.0.chunks_exact_mut(2 * s).zip(a.1.chunks_exact_mut(2 * s));
                let others = b.0.chunks_exact_mut(2 * s).zip(b.1.chunks_exact_mut(2 * s));
                for ((x, y), (z, w)) in blocks.zip(others) {
                    let (x0, x1) = x.split_at_mut(s);
                    let (y0, y1) = y.split_at_mut(s);
                    let (z0, z1) = z.split_at_mut(s);
                    let (w0, w1) = w.split_at_mut(s);
                    f((x0, y0), (x1, y1), (z0, w0), (z1, w1));
                }
            }};
        }
        by_block_size!(s, each)
    }
}

/// What a piece's work returns, added over pieces.
pub trait Partial: Send + Copy {
    fn zero() -> Self;
    fn add(self, other: Self) -> Self;
}

impl Partial for () {
    fn zero() {}
    fn add(self, _: ()) {}
}

impl<const N: usize> Partial for [C; N] {
    fn zero() -> [C; N] {
        [C::new(0.0, 0.0); N]
    }
    fn add(self, other: [C; N]) -> [C; N] {
        std::array::from_fn(|k| self[k] + other[k])
    }
}

/// The work of a one-qubit gate on runs of pairs.
pub trait PairWork<L>: Sync {
    type Out: Partial;
    /// Pairs `(lo[k], hi[k])`.
    fn run(&self, lo: L, hi: L) -> Self::Out;
}

/// The work of a two-qubit gate on runs of quadruples, named by (higher bit, lower bit).
pub trait QuadWork<L>: Sync {
    type Out: Partial;
    /// Quadruples `(x00[k], x01[k], x10[k], x11[k])`.
    fn run(&self, x00: L, x01: L, x10: L, x11: L) -> Self::Out;
}

/// Runs `work` on every pair of amplitudes of `v` that differ in bit `qubit`.
pub fn pairs<L: Lanes, W: PairWork<L>>(v: L, qubit: usize, work: &W) -> W::Out {
    let parallel = v.len() >= PARALLEL_MIN;
    pair_blocks(v, 1 << qubit, work, parallel)
}

/// Runs `work` on every quadruple of amplitudes of `v` that differ in bits `lo_qubit <
/// hi_qubit`.
pub fn quads<L: Lanes, W: QuadWork<L>>(v: L, lo_qubit: usize, hi_qubit: usize, work: &W) -> W::Out {
    let parallel = v.len() >= PARALLEL_MIN;
    quad_blocks(v, 1 << lo_qubit, 1 << hi_qubit, work, parallel)
}

/// `a() + b()`, in parallel when `parallel`; the sum is the same either way.
fn fork<O: Partial>(
    parallel: bool,
    a: impl FnOnce() -> O + Send,
    b: impl FnOnce() -> O + Send,
) -> O {
    if parallel {
        let (x, y) = rayon::join(a, b);
        x.add(y)
    } else {
        a().add(b())
    }
}

/// `v`: a whole number of blocks of `2s` amplitudes.
fn pair_blocks<L: Lanes, W: PairWork<L>>(v: L, s: usize, work: &W, parallel: bool) -> W::Out {
    let len = v.len();
    if len == 2 * s {
        let (lo, hi) = v.split_at(s);
        return pair_halves(lo, hi, work, parallel);
    }
    if len > UNIT {
        let (a, b) = v.split_at(len / 2);
        return fork(
            parallel,
            || pair_blocks(a, s, work, parallel),
            || pair_blocks(b, s, work, parallel),
        );
    }
    let mut out = W::Out::zero();
    v.for_blocks(s, |lo, hi| out = out.add(work.run(lo, hi)));
    out
}

/// `lo`, `hi`: the two halves of one block, or matching pieces of them.
fn pair_halves<L: Lanes, W: PairWork<L>>(lo: L, hi: L, work: &W, parallel: bool) -> W::Out {
    let len = lo.len();
    if len > UNIT / 2 {
        let (l0, l1) = lo.split_at(len / 2);
        let (h0, h1) = hi.split_at(len / 2);
        return fork(
            parallel,
            || pair_halves(l0, h0, work, parallel),
            || pair_halves(l1, h1, work, parallel),
        );
    }
    work.run(lo, hi)
}

/// `v`: a whole number of blocks of `2sh` amplitudes.
fn quad_blocks<L: Lanes, W: QuadWork<L>>(
    v: L,
    sl: usize,
    sh: usize,
    work: &W,
    parallel: bool,
) -> W::Out {
    let len = v.len();
    if len == 2 * sh {
        let (h0, h1) = v.split_at(sh);
        return quad_halves(h0, h1, sl, work, parallel);
    }
    if len > UNIT {
        let (a, b) = v.split_at(len / 2);
        return fork(
            parallel,
            || quad_blocks(a, sl, sh, work, parallel),
            || quad_blocks(b, sl, sh, work, parallel),
        );
    }
    let mut out = W::Out::zero();
    v.for_blocks(sh, |h0, h1| {
        L::for_block_pairs(h0, h1, sl, |x00, x01, x10, x11| {
            out = out.add(work.run(x00, x01, x10, x11));
        });
    });
    out
}

/// `h0`, `h1`: matching pieces (whole blocks of `2sl`) where the higher bit is 0 and 1.
fn quad_halves<L: Lanes, W: QuadWork<L>>(
    h0: L,
    h1: L,
    sl: usize,
    work: &W,
    parallel: bool,
) -> W::Out {
    let len = h0.len();
    if len == 2 * sl {
        let (x00, x01) = h0.split_at(sl);
        let (x10, x11) = h1.split_at(sl);
        return quad_runs(x00, x01, x10, x11, work, parallel);
    }
    if len > UNIT / 2 {
        let (a0, b0) = h0.split_at(len / 2);
        let (a1, b1) = h1.split_at(len / 2);
        return fork(
            parallel,
            || quad_halves(a0, a1, sl, work, parallel),
            || quad_halves(b0, b1, sl, work, parallel),
        );
    }
    let mut out = W::Out::zero();
    L::for_block_pairs(h0, h1, sl, |x00, x01, x10, x11| {
        out = out.add(work.run(x00, x01, x10, x11));
    });
    out
}

/// Four matching runs of a quadruple's members.
fn quad_runs<L: Lanes, W: QuadWork<L>>(
    x00: L,
    x01: L,
    x10: L,
    x11: L,
    work: &W,
    parallel: bool,
) -> W::Out {
    let len = x00.len();
    if len > UNIT / 4 {
        let m = len / 2;
        let (a00, b00) = x00.split_at(m);
        let (a01, b01) = x01.split_at(m);
        let (a10, b10) = x10.split_at(m);
        let (a11, b11) = x11.split_at(m);
        return fork(
            parallel,
            || quad_runs(a00, a01, a10, a11, work, parallel),
            || quad_runs(b00, b01, b10, b11, work, parallel),
        );
    }
    work.run(x00, x01, x10, x11)
}

#[cfg(test)]
mod tests {
    use super::*;

    impl Partial for usize {
        fn zero() -> usize {
            0
        }
        fn add(self, other: usize) -> usize {
            self + other
        }
    }

    /// Checks, on a state whose amplitudes hold their own indices, that every pair it is
    /// given differs in bit `s` only, and counts them.
    struct CheckPairs {
        s: usize,
    }

    impl PairWork<&mut [C]> for CheckPairs {
        type Out = usize;
        fn run(&self, lo: &mut [C], hi: &mut [C]) -> usize {
            for (a, b) in lo.iter_mut().zip(hi.iter_mut()) {
                let i = a.re as usize;
                assert_eq!(i & self.s, 0);
                assert_eq!(b.re as usize, i | self.s);
                a.im += 1.0;
                b.im += 1.0;
            }
            lo.len()
        }
    }

    struct CheckQuads {
        sl: usize,
        sh: usize,
    }

    impl QuadWork<&mut [C]> for CheckQuads {
        type Out = usize;
        fn run(&self, x00: &mut [C], x01: &mut [C], x10: &mut [C], x11: &mut [C]) -> usize {
            for (((a, b), c), d) in x00
                .iter_mut()
                .zip(x01.iter_mut())
                .zip(x10.iter_mut())
                .zip(x11.iter_mut())
            {
                let i = a.re as usize;
                assert_eq!(i & (self.sl | self.sh), 0);
                assert_eq!(b.re as usize, i | self.sl);
                assert_eq!(c.re as usize, i | self.sh);
                assert_eq!(d.re as usize, i | self.sl | self.sh);
                for x in [a, b, c, d] {
                    x.im += 1.0;
                }
            }
            x00.len()
        }
    }

    fn indexed(n: usize) -> Vec<C> {
        (0..1usize << n).map(|i| C::new(i as f64, 0.0)).collect()
    }

    /// Every pair and quadruple is visited exactly once, small states and states split over
    /// many units alike, low and high qubits.
    #[test]
    fn every_pair_and_quadruple_is_visited_once() {
        for n in [1, 2, 5, 12, 13, 15] {
            for q in 0..n {
                let mut v = indexed(n);
                let count = pairs(v.as_mut_slice(), q, &CheckPairs { s: 1 << q });
                assert_eq!(count, 1 << (n - 1));
                assert!(v.iter().all(|a| a.im == 1.0), "n = {n}, q = {q}");
            }
            for lo in 0..n {
                for hi in lo + 1..n {
                    let mut v = indexed(n);
                    let work = CheckQuads {
                        sl: 1 << lo,
                        sh: 1 << hi,
                    };
                    let count = quads(v.as_mut_slice(), lo, hi, &work);
                    assert_eq!(count, 1 << (n - 2));
                    assert!(v.iter().all(|a| a.im == 1.0), "n = {n}, qubits {lo} {hi}");
                }
            }
        }
    }
}
