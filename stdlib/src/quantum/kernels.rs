//! Applying one gate, already turned into numbers (a [`Kernel`]), to a state vector in
//! place.
//!
//! A one-qubit gate on qubit `q` couples the amplitude pairs `(i, i + 2^q)` with bit `q` of
//! `i` clear; a two-qubit gate couples quadruples. The state is walked in blocks of
//! `2^(q+1)` amplitudes whose lower and upper halves are the pairs' two members, so the
//! innermost loop runs over two (or four) contiguous slices with no per-amplitude branch
//! and LLVM can vectorise it. Large states are cut into [`UNIT`]-sized pieces that rayon
//! works on in parallel; every amplitude is written by exactly one piece, from the same
//! inputs, so the result is the same on any number of threads. Nothing here allocates.
//!
//! Diagonal and controlled gates have their own kernels because they touch fewer
//! amplitudes: a phase on `|1⟩` never reads the `|0⟩` half of the state, which halves the
//! memory traffic of a gate that is limited by memory bandwidth.

use num_complex::Complex64 as C;
use rayon::prelude::*;

use super::layout::{PARALLEL_MIN, UNIT};
use super::matrices::{Mat2, Mat4, dagger2, dagger4, exchange_qubits};

const ONE: C = C::new(1.0, 0.0);

/// A gate as the simulator applies it. Two-qubit kernels index their matrices by
/// `2·bit(qubits[0]) + bit(qubits[1])`, as [`super::matrices`] does.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Kernel {
    /// A dense 2×2 on one qubit.
    Single { qubit: usize, m: Mat2 },
    /// `diag(d[0], d[1])` on one qubit.
    Diagonal { qubit: usize, d: [C; 2] },
    /// `m` on `target` where `control` is 1.
    Controlled {
        control: usize,
        target: usize,
        m: Mat2,
    },
    /// A diagonal 4×4 on two qubits.
    Diagonal2 { qubits: [usize; 2], d: [C; 4] },
    /// A dense 4×4 on two qubits.
    Two { qubits: [usize; 2], m: Mat4 },
    /// Exchanges two qubits.
    Swap { qubits: [usize; 2] },
}

impl Kernel {
    /// The inverse gate (the conjugate transpose: every gate is unitary).
    pub fn dagger(&self) -> Kernel {
        match *self {
            Kernel::Single { qubit, m } => Kernel::Single {
                qubit,
                m: dagger2(&m),
            },
            Kernel::Diagonal { qubit, d } => Kernel::Diagonal {
                qubit,
                d: d.map(|x| x.conj()),
            },
            Kernel::Controlled { control, target, m } => Kernel::Controlled {
                control,
                target,
                m: dagger2(&m),
            },
            Kernel::Diagonal2 { qubits, d } => Kernel::Diagonal2 {
                qubits,
                d: d.map(|x| x.conj()),
            },
            Kernel::Two { qubits, m } => Kernel::Two {
                qubits,
                m: dagger4(&m),
            },
            Kernel::Swap { qubits } => Kernel::Swap { qubits },
        }
    }

    /// Applies the gate to `psi` (length `2^n`, every qubit index below `n`).
    pub fn apply(&self, psi: &mut [C]) {
        match *self {
            Kernel::Single { qubit, m } => for_each_pair(psi, qubit, &Dense2(m)),
            Kernel::Diagonal { qubit, d } if d[0] == ONE => {
                for_each_pair(psi, qubit, &PhaseOnOne(d[1]));
            }
            Kernel::Diagonal { qubit, d } => for_each_pair(psi, qubit, &Diag2(d)),
            Kernel::Controlled { control, target, m } if control > target => {
                for_each_quad(psi, target, control, &ControlIsHigh(m));
            }
            Kernel::Controlled { control, target, m } => {
                for_each_quad(psi, control, target, &ControlIsLow(m));
            }
            Kernel::Diagonal2 { qubits: [a, b], d } => {
                // Quadruples are ordered by (higher qubit, lower qubit).
                let d = if a > b { d } else { [d[0], d[2], d[1], d[3]] };
                let (lo, hi) = (a.min(b), a.max(b));
                if d[0] == ONE && d[1] == ONE && d[2] == ONE {
                    for_each_quad(psi, lo, hi, &PhaseOnOneOne(d[3]));
                } else {
                    for_each_quad(psi, lo, hi, &Diag4(d));
                }
            }
            Kernel::Two { qubits: [a, b], m } if a > b => for_each_quad(psi, b, a, &Dense4(m)),
            Kernel::Two { qubits: [a, b], m } => {
                for_each_quad(psi, a, b, &Dense4(exchange_qubits(&m)));
            }
            Kernel::Swap { qubits: [a, b] } => for_each_quad(psi, a.min(b), a.max(b), &SwapOp),
        }
    }
}

/// What a one-qubit kernel does to one pair `(a, b) = (ψ_i, ψ_{i+2^q})`.
trait PairOp: Sync {
    fn apply(&self, a: &mut C, b: &mut C);
}

/// What a two-qubit kernel does to one quadruple, named by (higher bit, lower bit).
trait QuadOp: Sync {
    fn apply(&self, x00: &mut C, x01: &mut C, x10: &mut C, x11: &mut C);
}

struct Dense2(Mat2);

impl PairOp for Dense2 {
    #[inline(always)]
    fn apply(&self, a: &mut C, b: &mut C) {
        let m = &self.0;
        let (u, v) = (*a, *b);
        *a = m[0][0] * u + m[0][1] * v;
        *b = m[1][0] * u + m[1][1] * v;
    }
}

struct Diag2([C; 2]);

impl PairOp for Diag2 {
    #[inline(always)]
    fn apply(&self, a: &mut C, b: &mut C) {
        *a *= self.0[0];
        *b *= self.0[1];
    }
}

/// `diag(1, p)`: Z, S, T, phase and fused products of them.
struct PhaseOnOne(C);

impl PairOp for PhaseOnOne {
    #[inline(always)]
    fn apply(&self, _: &mut C, b: &mut C) {
        *b *= self.0;
    }
}

/// `m` on the lower qubit where the higher one (the control) is 1.
struct ControlIsHigh(Mat2);

impl QuadOp for ControlIsHigh {
    #[inline(always)]
    fn apply(&self, _: &mut C, _: &mut C, x10: &mut C, x11: &mut C) {
        Dense2(self.0).apply(x10, x11);
    }
}

/// `m` on the higher qubit where the lower one (the control) is 1.
struct ControlIsLow(Mat2);

impl QuadOp for ControlIsLow {
    #[inline(always)]
    fn apply(&self, _: &mut C, x01: &mut C, _: &mut C, x11: &mut C) {
        Dense2(self.0).apply(x01, x11);
    }
}

struct Diag4([C; 4]);

impl QuadOp for Diag4 {
    #[inline(always)]
    fn apply(&self, x00: &mut C, x01: &mut C, x10: &mut C, x11: &mut C) {
        *x00 *= self.0[0];
        *x01 *= self.0[1];
        *x10 *= self.0[2];
        *x11 *= self.0[3];
    }
}

/// `diag(1, 1, 1, p)`: CZ and controlled phases.
struct PhaseOnOneOne(C);

impl QuadOp for PhaseOnOneOne {
    #[inline(always)]
    fn apply(&self, _: &mut C, _: &mut C, _: &mut C, x11: &mut C) {
        *x11 *= self.0;
    }
}

/// A dense 4×4 indexed by `2·bit(higher) + bit(lower)`.
struct Dense4(Mat4);

impl QuadOp for Dense4 {
    #[inline(always)]
    fn apply(&self, x00: &mut C, x01: &mut C, x10: &mut C, x11: &mut C) {
        let m = &self.0;
        let v = [*x00, *x01, *x10, *x11];
        let row = |r: usize| m[r][0] * v[0] + m[r][1] * v[1] + m[r][2] * v[2] + m[r][3] * v[3];
        *x00 = row(0);
        *x01 = row(1);
        *x10 = row(2);
        *x11 = row(3);
    }
}

struct SwapOp;

impl QuadOp for SwapOp {
    #[inline(always)]
    fn apply(&self, _: &mut C, x01: &mut C, x10: &mut C, _: &mut C) {
        std::mem::swap(x01, x10);
    }
}

/// Calls `op` on every pair of amplitudes that differ in bit `qubit`, in parallel pieces
/// for large states.
fn for_each_pair<P: PairOp>(psi: &mut [C], qubit: usize, op: &P) {
    let s = 1usize << qubit;
    if psi.len() < PARALLEL_MIN {
        pairs_in(psi, s, op);
    } else if 2 * s <= UNIT {
        // Whole blocks fit in a unit: units are independent.
        psi.par_chunks_mut(UNIT)
            .for_each(|chunk| pairs_in(chunk, s, op));
    } else {
        // A block spans several units: cut its two halves in step.
        psi.par_chunks_mut(2 * s).for_each(|block| {
            let (lo, hi) = block.split_at_mut(s);
            lo.par_chunks_mut(UNIT / 2)
                .zip(hi.par_chunks_mut(UNIT / 2))
                .for_each(|(l, h)| pair_run(l, h, op));
        });
    }
}

/// The pairs within `psi`, a whole number of blocks of `2s` amplitudes.
fn pairs_in<P: PairOp>(psi: &mut [C], s: usize, op: &P) {
    if s == 1 {
        // Neighbours: one loop over `[ψ_2k, ψ_2k+1]` rather than a loop of length one per
        // block.
        let (pairs, _) = psi.as_chunks_mut::<2>();
        for [a, b] in pairs {
            op.apply(a, b);
        }
    } else {
        for block in psi.chunks_exact_mut(2 * s) {
            let (lo, hi) = block.split_at_mut(s);
            pair_run(lo, hi, op);
        }
    }
}

#[inline(always)]
fn pair_run<P: PairOp>(lo: &mut [C], hi: &mut [C], op: &P) {
    for (a, b) in lo.iter_mut().zip(hi) {
        op.apply(a, b);
    }
}

/// Calls `op` on every quadruple of amplitudes that differ in bits `lo_qubit < hi_qubit`,
/// in parallel pieces for large states.
fn for_each_quad<Q: QuadOp>(psi: &mut [C], lo_qubit: usize, hi_qubit: usize, op: &Q) {
    let (sl, sh) = (1usize << lo_qubit, 1usize << hi_qubit);
    if psi.len() < PARALLEL_MIN {
        quads_in(psi, sl, sh, op);
    } else if 2 * sh <= UNIT {
        psi.par_chunks_mut(UNIT)
            .for_each(|chunk| quads_in(chunk, sl, sh, op));
    } else {
        psi.par_chunks_mut(2 * sh).for_each(|block| {
            let (h0, h1) = block.split_at_mut(sh);
            if 2 * sl <= UNIT / 2 {
                h0.par_chunks_mut(UNIT / 2)
                    .zip(h1.par_chunks_mut(UNIT / 2))
                    .for_each(|(c0, c1)| quads_in_halves(c0, c1, sl, op));
            } else {
                // Both qubits are high: cut all four members' runs in step.
                h0.par_chunks_mut(2 * sl)
                    .zip(h1.par_chunks_mut(2 * sl))
                    .for_each(|(b0, b1)| {
                        let (x00, x01) = b0.split_at_mut(sl);
                        let (x10, x11) = b1.split_at_mut(sl);
                        let piece = UNIT / 4;
                        x00.par_chunks_mut(piece)
                            .zip(x01.par_chunks_mut(piece))
                            .zip(x10.par_chunks_mut(piece).zip(x11.par_chunks_mut(piece)))
                            .for_each(|((a, b), (c, d))| quad_run(a, b, c, d, op));
                    });
            }
        });
    }
}

/// The quadruples within `psi`, a whole number of blocks of `2sh` amplitudes.
fn quads_in<Q: QuadOp>(psi: &mut [C], sl: usize, sh: usize, op: &Q) {
    for block in psi.chunks_exact_mut(2 * sh) {
        let (h0, h1) = block.split_at_mut(sh);
        quads_in_halves(h0, h1, sl, op);
    }
}

/// The quadruples whose higher bit is 0 in `h0` and 1 at the same offset in `h1`.
fn quads_in_halves<Q: QuadOp>(h0: &mut [C], h1: &mut [C], sl: usize, op: &Q) {
    if sl == 1 {
        let (p0, _) = h0.as_chunks_mut::<2>();
        let (p1, _) = h1.as_chunks_mut::<2>();
        for ([x00, x01], [x10, x11]) in p0.iter_mut().zip(p1) {
            op.apply(x00, x01, x10, x11);
        }
    } else {
        for (b0, b1) in h0.chunks_exact_mut(2 * sl).zip(h1.chunks_exact_mut(2 * sl)) {
            let (x00, x01) = b0.split_at_mut(sl);
            let (x10, x11) = b1.split_at_mut(sl);
            quad_run(x00, x01, x10, x11, op);
        }
    }
}

#[inline(always)]
fn quad_run<Q: QuadOp>(x00: &mut [C], x01: &mut [C], x10: &mut [C], x11: &mut [C], op: &Q) {
    for (((a, b), c), d) in x00.iter_mut().zip(x01).zip(x10).zip(x11) {
        op.apply(a, b, c, d);
    }
}
