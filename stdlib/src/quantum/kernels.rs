//! Applying one gate, already turned into numbers (a [`Kernel`]), in place to a state
//! vector, or to two state vectors at once (the adjoint sweep undoes each gate on `ψ` and
//! `λ` in one pass).
//!
//! The kernels say what happens to one pair or quadruple of amplitudes; [`super::traverse`]
//! finds the pairs, splits the work over threads and keeps the loops free of branches.
//! Diagonal and controlled gates have their own kernels because they touch fewer
//! amplitudes: a phase on `|1⟩` never reads the `|0⟩` half of the state, which halves the
//! memory traffic of a gate whose cost is memory bandwidth. Nothing here allocates.

use num_complex::Complex64 as C;

use super::matrices::{Act2, Mat2, Mat4, dagger2, dagger4, exchange_qubits, real2};
use super::traverse::{Lanes, PairWork, QuadWork, pairs, quads};

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

    /// Applies the gate to `v`: one state vector, or two (each gets the gate), of length
    /// `2^n` with every qubit index below `n`.
    pub fn apply<L: ApplyLanes>(&self, psi: L) {
        match *self {
            Kernel::Single { qubit, m } => match real2(&m) {
                Some(r) => pairs(psi, qubit, &Each(Dense2(r))),
                None => pairs(psi, qubit, &Each(Dense2(m))),
            },
            Kernel::Diagonal { qubit, d } if d[0] == ONE => {
                pairs(psi, qubit, &Each(PhaseOnOne(d[1])));
            }
            Kernel::Diagonal { qubit, d } => pairs(psi, qubit, &Each(Diag2(d))),
            Kernel::Controlled { control, target, m } => match (control > target, real2(&m)) {
                (true, Some(r)) => quads(psi, target, control, &Each(ControlIsHigh(r))),
                (true, None) => quads(psi, target, control, &Each(ControlIsHigh(m))),
                (false, Some(r)) => quads(psi, control, target, &Each(ControlIsLow(r))),
                (false, None) => quads(psi, control, target, &Each(ControlIsLow(m))),
            },
            Kernel::Diagonal2 { qubits: [a, b], d } => {
                // Quadruples are ordered by (higher qubit, lower qubit).
                let d = if a > b { d } else { [d[0], d[2], d[1], d[3]] };
                let (lo, hi) = (a.min(b), a.max(b));
                if d[0] == ONE && d[1] == ONE && d[2] == ONE {
                    quads(psi, lo, hi, &Each(PhaseOnOneOne(d[3])));
                } else {
                    quads(psi, lo, hi, &Each(Diag4(d)));
                }
            }
            Kernel::Two { qubits: [a, b], m } if a > b => quads(psi, b, a, &Each(Dense4(m))),
            Kernel::Two { qubits: [a, b], m } => {
                quads(psi, a, b, &Each(Dense4(exchange_qubits(&m))));
            }
            Kernel::Swap { qubits: [a, b] } => quads(psi, a.min(b), a.max(b), &Each(SwapOp)),
        }
    }
}

/// What a one-qubit kernel does to one pair `(a, b) = (ψ_i, ψ_{i+2^q})`.
pub trait PairOp: Sync {
    fn apply(&self, a: &mut C, b: &mut C);
}

/// What a two-qubit kernel does to one quadruple, named by (higher bit, lower bit).
pub trait QuadOp: Sync {
    fn apply(&self, x00: &mut C, x01: &mut C, x10: &mut C, x11: &mut C);
}

/// A dense 2×2, complex or real.
struct Dense2<M>(M);

impl<M: Act2> PairOp for Dense2<M> {
    #[inline(always)]
    fn apply(&self, a: &mut C, b: &mut C) {
        [*a, *b] = self.0.act([*a, *b]);
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
struct ControlIsHigh<M>(M);

impl<M: Act2> QuadOp for ControlIsHigh<M> {
    #[inline(always)]
    fn apply(&self, _: &mut C, _: &mut C, x10: &mut C, x11: &mut C) {
        Dense2(self.0).apply(x10, x11);
    }
}

/// `m` on the higher qubit where the lower one (the control) is 1.
struct ControlIsLow<M>(M);

impl<M: Act2> QuadOp for ControlIsLow<M> {
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

/// Lanes a kernel can run over: one state vector, or two that each get the same gate.
pub trait ApplyLanes: Lanes {
    /// `op` on each pair `(lo[k], hi[k])`.
    fn pair_run<P: PairOp>(lo: Self, hi: Self, op: &P);
    /// `op` on each quadruple `(x00[k], x01[k], x10[k], x11[k])`.
    fn quad_run<Q: QuadOp>(x00: Self, x01: Self, x10: Self, x11: Self, op: &Q);
}

impl ApplyLanes for &mut [C] {
    #[inline(always)]
    fn pair_run<P: PairOp>(lo: Self, hi: Self, op: &P) {
        for (a, b) in lo.iter_mut().zip(hi) {
            op.apply(a, b);
        }
    }

    #[inline(always)]
    fn quad_run<Q: QuadOp>(x00: Self, x01: Self, x10: Self, x11: Self, op: &Q) {
        for (((a, b), c), d) in x00.iter_mut().zip(x01).zip(x10).zip(x11) {
            op.apply(a, b, c, d);
        }
    }
}

impl<'a> ApplyLanes for (&'a mut [C], &'a mut [C]) {
    #[inline(always)]
    fn pair_run<P: PairOp>(lo: Self, hi: Self, op: &P) {
        <&mut [C]>::pair_run(lo.0, hi.0, op);
        <&mut [C]>::pair_run(lo.1, hi.1, op);
    }

    fn quad_run<Q: QuadOp>(x00: Self, x01: Self, x10: Self, x11: Self, op: &Q) {
        <&mut [C]>::quad_run(x00.0, x01.0, x10.0, x11.0, op);
        <&mut [C]>::quad_run(x00.1, x01.1, x10.1, x11.1, op);
    }
}

/// A per-pair or per-quadruple operation run over every pair or quadruple.
struct Each<O>(O);

impl<L: ApplyLanes, P: PairOp> PairWork<L> for Each<P> {
    type Out = ();
    #[inline(always)]
    fn run(&self, lo: L, hi: L) {
        L::pair_run(lo, hi, &self.0);
    }
}

impl<L: ApplyLanes, Q: QuadOp> QuadWork<L> for Each<Q> {
    type Out = ();
    #[inline(always)]
    fn run(&self, x00: L, x01: L, x10: L, x11: L) {
        L::quad_run(x00, x01, x10, x11, &self.0);
    }
}
