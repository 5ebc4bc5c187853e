//! The adjoint gradient of `⟨ψ(θ)|H|ψ(θ)⟩` (Jones & Gacon 2020, "Efficient calculation of
//! gradients in classical simulations of variational quantum algorithms"): after one
//! forward pass, one sweep backwards through the gates with two state vectors.
//!
//! With `|ψ_i⟩ = U_i ⋯ U_1|0⟩` and `⟨λ_i| = ⟨ψ_N|H U_N ⋯ U_{i+1}`, the derivative with
//! respect to an angle of gate `i` is `2·Re⟨λ_i|∂U_i/∂angle|ψ_{i−1}⟩`. The sweep starts
//! from `ψ_N` and `λ_N = H|ψ_N⟩`, and at each gate undoes it on both (`ψ ← U_i†ψ`,
//! `λ ← U_i†λ`), reading the matrix element in between. That element is summed straight
//! from `λ` and `ψ` ([`super::reduce`]), so the `∂U/∂θ|ψ⟩` vector of the paper's
//! formulation is never stored: two state vectors in all, O(gates) gate applications
//! whatever the number of parameters. A parameter shared by several gates, or scaled
//! (`scale·θ[k] + offset`), collects `scale ×` each gate's derivative.

use num_complex::Complex64 as C;

use super::circuit::{Angle, Circuit};
use super::matrices::{self, GateMatrix};
use super::observable::MaskedObservable;
use super::program::{kernel, resolve_angles};
use super::reduce::{dot, matrix_element_single, matrix_element_two};

/// `⟨ψ|H|ψ⟩` and its gradient in `θ` written to `grad` (length `θ.len()`), for `psi` holding
/// the circuit's final state. `psi` and `lam` (the same length) are overwritten; `circuit`
/// and `theta` have been validated and `observable` built for the circuit's qubits.
pub fn gradient(
    circuit: &Circuit,
    theta: &[f64],
    observable: &MaskedObservable,
    psi: &mut [C],
    lam: &mut [C],
    partials: &mut Vec<C>,
    grad: &mut [f64],
) -> f64 {
    observable.apply(psi, lam);
    let value = dot(psi, lam, partials).re;
    grad.fill(0.0);
    // Gates before the first parametrised one contribute nothing: the sweep stops there.
    let first = circuit
        .ops
        .iter()
        .position(|op| {
            op.gate
                .angles()
                .iter()
                .any(|a| matches!(a, Angle::Param { .. }))
        })
        .unwrap_or(circuit.ops.len());
    for (i, op) in circuit.ops.iter().enumerate().skip(first).rev() {
        let angles = resolve_angles(&op.gate, theta);
        let inverse = kernel(&op.gate, &op.qubits, matrices::matrix(&op.gate, &angles)).dagger();
        inverse.apply(psi);
        for (slot, angle) in op.gate.angles().iter().enumerate() {
            let Angle::Param { index, scale, .. } = *angle else {
                continue;
            };
            let element = match matrices::derivative(&op.gate, &angles, slot) {
                Some(GateMatrix::One(d)) => {
                    matrix_element_single(lam, psi, op.qubits[0], &d, partials)
                }
                Some(GateMatrix::Two(d)) => {
                    matrix_element_two(lam, psi, [op.qubits[0], op.qubits[1]], &d, partials)
                }
                None => continue,
            };
            grad[index] += scale * 2.0 * element.re;
        }
        if i > first {
            inverse.apply(lam);
        }
    }
    value
}
