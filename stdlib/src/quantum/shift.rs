//! The parameter-shift gradient: each parametrised angle moved by fixed shifts, the circuit
//! re-evaluated, the derivative read off exactly (not a finite difference). It costs two
//! or four circuit evaluations per angle, so it is the check on the adjoint gradient, and
//! the rule a quantum device could use.
//!
//! The expectation as a function of one angle `a` is a trigonometric polynomial whose
//! frequencies are the differences of the eigenvalues of the gate's generator:
//!
//! - generators with eigenvalues ±1/2 (RX, RY, RZ, RXX, RYY, RZZ; `phase(φ) = e^{iφ/2}·RZ(φ)`
//!   up to a global phase; each angle of `U(θ, φ, λ) = phase(φ)·RY(θ)·phase(λ)`) give the
//!   single frequency 1 and the two-term rule `∂f = [f(a + π/2) − f(a − π/2)] / 2`;
//! - controlled rotations have generator `|1⟩⟨1| ⊗ P/2`, eigenvalues {0, 0, ±1/2}, so
//!   frequencies 1/2 and 1, and need the four-term rule (Anselmetti et al. 2021)
//!   `∂f = d₊[f(a + π/2) − f(a − π/2)] − d₋[f(a + 3π/2) − f(a − 3π/2)]`,
//!   `d± = (√2 ± 1) / (4√2)`.
//!
//! Each angle is shifted on its own gate ("per-op" shifting), so a parameter shared by
//! several gates sums their derivatives, each times its `scale`.

use std::f64::consts::{FRAC_PI_2, SQRT_2};

use super::circuit::{Angle, Circuit, Gate};
use super::program::Shift;

/// Which shift rule a gate's angles obey.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ShiftRule {
    TwoTerm,
    FourTerm,
}

/// The rule for the angles of `gate`.
pub fn rule(gate: &Gate) -> ShiftRule {
    match gate {
        Gate::Crx(_) | Gate::Cry(_) | Gate::Crz(_) => ShiftRule::FourTerm,
        _ => ShiftRule::TwoTerm,
    }
}

/// The expectation and its gradient in `θ` (written to `grad`, length `θ.len()`), where
/// `expval(shift)` evaluates the circuit with one angle shifted (or none).
pub fn gradient(
    circuit: &Circuit,
    grad: &mut [f64],
    mut expval: impl FnMut(Option<Shift>) -> f64,
) -> f64 {
    let value = expval(None);
    grad.fill(0.0);
    for (op, gate) in circuit.ops.iter().map(|o| &o.gate).enumerate() {
        for (slot, angle) in gate.angles().iter().enumerate() {
            let Angle::Param { index, scale, .. } = *angle else {
                continue;
            };
            let mut at = |delta: f64| expval(Some(Shift { op, slot, delta }));
            let derivative = match rule(gate) {
                ShiftRule::TwoTerm => (at(FRAC_PI_2) - at(-FRAC_PI_2)) / 2.0,
                ShiftRule::FourTerm => {
                    let d_plus = (SQRT_2 + 1.0) / (4.0 * SQRT_2);
                    let d_minus = (SQRT_2 - 1.0) / (4.0 * SQRT_2);
                    let near = at(FRAC_PI_2) - at(-FRAC_PI_2);
                    let far = at(3.0 * FRAC_PI_2) - at(-3.0 * FRAC_PI_2);
                    d_plus * near - d_minus * far
                }
            };
            grad[index] += scale * derivative;
        }
    }
    value
}
