//! The adjoint gradient of `⟨ψ(θ)|H|ψ(θ)⟩` (Jones & Gacon 2020, "Efficient calculation of
//! gradients in classical simulations of variational quantum algorithms"): after one
//! forward pass, one sweep backwards through the gates with two state vectors.
//!
//! With `|ψ_i⟩ = U_i ⋯ U_1|0⟩` and `⟨λ_i| = ⟨ψ_N|H U_N ⋯ U_{i+1}`, the derivative with
//! respect to an angle of gate `i` is `2·Re⟨λ_i|∂U_i/∂angle|ψ_{i−1}⟩`. The sweep starts
//! from `ψ_N` and `λ_N = H|ψ_N⟩` and undoes each gate on both (`ψ ← U_i†ψ`, `λ ← U_i†λ`).
//! A parametrised gate's step is one pass over both vectors ([`Step`]): each pair (or
//! quadruple) of `ψ` and `λ` is read once, `U†` applied to both, and
//! `conj(λ_i)·∂U·ψ_{i−1}` summed on the way. So the `∂U/∂θ|ψ⟩` vector of the paper's
//! formulation is never stored: two state vectors in all, and O(gates) passes whatever
//! the number of parameters. A parameter shared by several gates, or scaled
//! (`scale·θ[k] + offset`), collects `scale ×` each gate's derivative.

use num_complex::Complex64 as C;

use super::circuit::{Angle, Circuit, Op};
use super::matrices::{
    self, Act2, GateMatrix, Mat2, Mat4, Real2, dagger2, dagger4, exchange_qubits, real2,
};
use super::observable::MaskedObservable;
use super::program::{kernel, resolve_angles};
use super::reduce::dot;
use super::traverse::{PairWork, QuadWork, pairs, quads};

const ZERO: C = C::new(0.0, 0.0);

/// `⟨ψ|H|ψ⟩` and its gradient in `θ` written to `grad` (length `θ.len()`), for `psi` holding
/// the circuit's final state. `psi` and `lam` (the same length) are overwritten; `circuit`
/// and `theta` have been validated and `observable` built for the circuit's qubits.
pub fn gradient(
    circuit: &Circuit,
    theta: &[f64],
    observable: &MaskedObservable,
    psi: &mut [C],
    lam: &mut [C],
    grad: &mut [f64],
) -> f64 {
    observable.apply(psi, lam);
    let value = dot(psi, lam).re;
    grad.fill(0.0);
    // Gates before the first parametrised one contribute nothing: the sweep stops there.
    let first = circuit
        .ops
        .iter()
        .position(|op| parameters(op).1 > 0)
        .unwrap_or(circuit.ops.len());
    for op in circuit.ops[first..].iter().rev() {
        let angles = resolve_angles(&op.gate, theta);
        let (params, count) = parameters(op);
        let m = matrices::matrix(&op.gate, &angles);
        // The derivative of slot `params[j].0`, of the gate's own shape.
        let derivative = |j: usize| matrices::derivative(&op.gate, &angles, params[j].0);
        let elements = match (m, count) {
            (_, 0) => {
                kernel(&op.gate, &op.qubits, m)
                    .dagger()
                    .apply((&mut *psi, &mut *lam));
                continue;
            }
            (GateMatrix::One(u), 1) => single_step::<1>(psi, lam, op.qubits[0], &u, derivative),
            (GateMatrix::One(u), 2) => single_step::<2>(psi, lam, op.qubits[0], &u, derivative),
            (GateMatrix::One(u), _) => single_step::<3>(psi, lam, op.qubits[0], &u, derivative),
            (GateMatrix::Two(u), _) => {
                two_step(psi, lam, [op.qubits[0], op.qubits[1]], &u, derivative(0))
            }
        };
        for (&(_, index, scale), e) in params.iter().zip(elements).take(count) {
            grad[index] += scale * 2.0 * e.re;
        }
    }
    value
}

/// The parametrised angles of `op` as `(slot, parameter index, scale)`, and how many.
fn parameters(op: &Op) -> ([(usize, usize, f64); 3], usize) {
    let mut params = [(0, 0, 0.0); 3];
    let mut count = 0;
    for (slot, angle) in op.gate.angles().iter().enumerate() {
        if let Angle::Param { index, scale, .. } = *angle
            && count < 3
        {
            params[count] = (slot, index, scale);
            count += 1;
        }
    }
    (params, count)
}

/// Undoes the one-qubit gate `u` on `qubit` in `psi` and `lam` and returns
/// `⟨λ|∂U_j|U†ψ⟩` for the first `N` parametrised angles.
fn single_step<const N: usize>(
    psi: &mut [C],
    lam: &mut [C],
    qubit: usize,
    u: &Mat2,
    derivative: impl Fn(usize) -> Option<GateMatrix>,
) -> [C; 3] {
    let inverse = dagger2(u);
    let derivatives: [Mat2; N] = std::array::from_fn(|j| match derivative(j) {
        Some(GateMatrix::One(d)) => d,
        _ => [[ZERO; 2]; 2],
    });
    // Real gates (RY) take real arithmetic, when their derivatives are real too.
    let real: Option<(Real2, [Real2; N])> = real2(&inverse).and_then(|inverse| {
        let mut d = [[[0.0; 2]; 2]; N];
        for (r, c) in d.iter_mut().zip(&derivatives) {
            *r = real2(c)?;
        }
        Some((inverse, d))
    });
    let sums = match real {
        Some((inverse, derivatives)) => pairs(
            (psi, lam),
            qubit,
            &Step {
                inverse,
                derivatives,
            },
        ),
        None => pairs(
            (psi, lam),
            qubit,
            &Step {
                inverse,
                derivatives,
            },
        ),
    };
    std::array::from_fn(|j| sums.get(j).copied().unwrap_or(ZERO))
}

/// Undoes the two-qubit gate `u` on `qubits` in `psi` and `lam` and returns
/// `⟨λ|∂U|U†ψ⟩` (two-qubit gates have one angle).
fn two_step(
    psi: &mut [C],
    lam: &mut [C],
    qubits: [usize; 2],
    u: &Mat4,
    derivative: Option<GateMatrix>,
) -> [C; 3] {
    let d = match derivative {
        Some(GateMatrix::Two(d)) => d,
        _ => [[ZERO; 4]; 4],
    };
    let [a, b] = qubits;
    // Quadruples are visited by (higher bit, lower bit).
    let order = |m: &Mat4| if a > b { *m } else { exchange_qubits(m) };
    let step = Step {
        inverse: dagger4(&order(u)),
        derivatives: [order(&d)],
    };
    let [e] = quads((psi, lam), a.min(b), a.max(b), &step);
    [e, ZERO, ZERO]
}

/// One backward step of a parametrised gate: `inverse = U†` applied to `ψ` and `λ`, and
/// `Σ conj(λ)·derivatives[j]·(U†ψ)` summed for each angle, in one pass.
struct Step<M, const N: usize> {
    inverse: M,
    derivatives: [M; N],
}

/// `m·v` for a 4×4.
#[inline(always)]
fn mul4(m: &Mat4, v: [C; 4]) -> [C; 4] {
    std::array::from_fn(|r| m[r][0] * v[0] + m[r][1] * v[1] + m[r][2] * v[2] + m[r][3] * v[3])
}

/// `Σ_r conj(l_r)·(m·v)_r`.
#[inline(always)]
fn element<const K: usize>(l: &[C; K], mv: [C; K]) -> C {
    l.iter()
        .zip(mv)
        .fold(ZERO, |acc, (l, x)| acc + l.conj() * x)
}

impl<M: Act2, const N: usize> Step<M, N> {
    /// One pair: `p` of `ψ`, `l` of `λ`, both overwritten.
    #[inline(always)]
    fn pair(&self, p: [&mut C; 2], l: [&mut C; 2], sums: &mut [C; N]) {
        let before = self.inverse.act([*p[0], *p[1]]);
        let lam = [*l[0], *l[1]];
        for (sum, d) in sums.iter_mut().zip(&self.derivatives) {
            *sum += element(&lam, d.act(before));
        }
        let lam_before = self.inverse.act(lam);
        let [p0, p1] = p;
        let [l0, l1] = l;
        (*p0, *p1) = (before[0], before[1]);
        (*l0, *l1) = (lam_before[0], lam_before[1]);
    }
}

impl<M: Act2, const N: usize> PairWork<(&mut [C], &mut [C])> for Step<M, N> {
    type Out = [C; N];

    #[inline(always)]
    fn run(&self, lo: (&mut [C], &mut [C]), hi: (&mut [C], &mut [C])) -> [C; N] {
        let mut sums = [ZERO; N];
        let ((p0, l0), (p1, l1)) = (lo, hi);
        for (((p0, p1), l0), l1) in p0.iter_mut().zip(p1).zip(l0).zip(l1) {
            self.pair([p0, p1], [l0, l1], &mut sums);
        }
        sums
    }
}

impl Step<Mat4, 1> {
    /// One quadruple of `ψ` and of `λ`, both overwritten.
    #[inline(always)]
    fn quad(&self, p: [&mut C; 4], l: [&mut C; 4]) -> C {
        let before = mul4(&self.inverse, [*p[0], *p[1], *p[2], *p[3]]);
        let lam = [*l[0], *l[1], *l[2], *l[3]];
        let e = element(&lam, mul4(&self.derivatives[0], before));
        let lam_before = mul4(&self.inverse, lam);
        for (x, v) in p.into_iter().zip(before) {
            *x = v;
        }
        for (x, v) in l.into_iter().zip(lam_before) {
            *x = v;
        }
        e
    }
}

impl QuadWork<(&mut [C], &mut [C])> for Step<Mat4, 1> {
    type Out = [C; 1];

    #[inline(always)]
    fn run(
        &self,
        x00: (&mut [C], &mut [C]),
        x01: (&mut [C], &mut [C]),
        x10: (&mut [C], &mut [C]),
        x11: (&mut [C], &mut [C]),
    ) -> [C; 1] {
        let mut sum = ZERO;
        let p = x00.0.iter_mut().zip(x01.0).zip(x10.0).zip(x11.0);
        let l = x00.1.iter_mut().zip(x01.1).zip(x10.1).zip(x11.1);
        for ((((p0, p1), p2), p3), (((l0, l1), l2), l3)) in p.zip(l) {
            sum += self.quad([p0, p1, p2, p3], [l0, l1, l2, l3]);
        }
        [sum]
    }
}
