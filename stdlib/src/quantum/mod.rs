//! Differentiable simulation of variational quantum circuits: parameters → circuit →
//! expectation value of an observable, with its gradient, as a loss to train.
//!
//! The language lowers a circuit declaration to a [`Circuit`] (plain data: gates on qubits,
//! angles constant or affine in a parameter) and a Hamiltonian to an [`Observable`] (a
//! real-weighted sum of Pauli strings), then calls [`expval`], [`expval_and_grad`] or, in a
//! training loop, a [`Simulator`] that keeps its buffers between calls
//! ([`ExpvalObjective`] wraps one as an [`crate::optim::Objective`]).
//!
//! ```
//! use sci_stdlib::quantum::{Angle, Circuit, Gate, Observable, Pauli, Simulator};
//! let n = 6;
//! let mut c = Circuit::new(n);
//! for q in 0..n { c.push(Gate::H, &[q]); }
//! for l in 0..n / 2 {                      // the Hamiltonian variational ansatz
//!     for i in 0..n { c.push(Gate::Rzz(Angle::param(2 * l)), &[i, (i + 1) % n]); }
//!     for q in 0..n { c.push(Gate::Rx(Angle::param(2 * l + 1)), &[q]); }
//! }
//! let mut h = Observable::new();           // the periodic critical transverse-field Ising ring
//! for i in 0..n { h.add(-1.0, &[(Pauli::Z, i), (Pauli::Z, (i + 1) % n)]); }
//! for i in 0..n { h.add(-1.0, &[(Pauli::X, i)]); }
//! let theta = vec![0.1; n];
//! let mut grad = vec![0.0; theta.len()];
//! let energy = Simulator::new().expval_and_grad(&c, &theta, &h, &mut grad).unwrap();
//! // No state goes below the ground energy, −2 / sin(π / 2n).
//! assert!(energy >= -2.0 / (std::f64::consts::PI / (2.0 * n as f64)).sin() - 1e-12);
//! assert!(grad.iter().all(|g| g.is_finite()));
//! ```
//!
//! Conventions: a state of `n` qubits is `2^n` `Complex64` amplitudes in little-endian
//! order, amplitude `i` belonging to the basis state whose qubit `q` is bit `q` of `i`
//! (qubit 0 is the least significant bit); circuits start in `|0…0⟩`; rotations are
//! `R_P(θ) = exp(−iθP/2)`; a two-qubit gate's matrix is indexed by `2·bit(qubits[0]) +
//! bit(qubits[1])`, the control being `qubits[0]`.
//!
//! The parts, one job each:
//! - [`circuit`]: the circuit as data and its validation;
//! - `matrices`: gate matrices and their derivatives in each angle;
//! - `layout`: the sizes that cut a state into units of work;
//! - `traverse`: walking one or two states pair by pair or quadruple by quadruple, with
//!   rayon above 2^14 amplitudes and the same bits on any number of threads;
//! - `kernels`: what each kind of gate does to a pair or quadruple (real matrices in
//!   real arithmetic, diagonal and controlled gates touching only what they change);
//! - `reduce`: thread-count-independent sums (`⟨a|b⟩`, expectation values);
//! - `program`: circuit + parameters → kernels, with one-qubit gate runs fused;
//! - [`observable`]: Pauli sums, their expectation and action by bit masks;
//! - `adjoint`: the adjoint gradient (two state vectors, one fused pass per gate);
//! - `shift`: the parameter-shift gradient (two- and four-term rules), the check;
//! - [`simulator`]: the reusable workspace;
//! - [`sampling`]: probabilities and seeded measurement samples;
//! - [`objective`]: the expectation as an optimiser's loss.

mod adjoint;
pub mod circuit;
mod kernels;
mod layout;
mod matrices;
pub mod objective;
pub mod observable;
mod program;
mod reduce;
pub mod sampling;
mod shift;
pub mod simulator;
mod traverse;

pub use circuit::{Angle, Circuit, Gate, MAX_QUBITS, Op};
pub use num_complex::Complex64;
pub use objective::ExpvalObjective;
pub use observable::{Observable, Pauli, Term};
pub use sampling::{probabilities, sample};
pub use simulator::{GradientMethod, Simulator};

use crate::Error;

/// The state `circuit` prepares from `|0…0⟩` with parameters `theta`.
pub fn simulate(circuit: &Circuit, theta: &[f64]) -> Result<Vec<Complex64>, Error> {
    let mut sim = Simulator::new();
    sim.run(circuit, theta)?;
    Ok(sim.state().to_vec())
}

/// Applies `circuit` with parameters `theta` to `state` in place (length `2^n_qubits`).
pub fn apply_circuit(
    circuit: &Circuit,
    theta: &[f64],
    state: &mut [Complex64],
) -> Result<(), Error> {
    Simulator::new().apply(circuit, theta, state)
}

/// `⟨ψ(θ)|H|ψ(θ)⟩` for the state `circuit` prepares with parameters `theta`.
pub fn expval(circuit: &Circuit, theta: &[f64], observable: &Observable) -> Result<f64, Error> {
    Simulator::new().expval(circuit, theta, observable)
}

/// `⟨ψ(θ)|H|ψ(θ)⟩` and its gradient in `θ`, by the adjoint method.
pub fn expval_and_grad(
    circuit: &Circuit,
    theta: &[f64],
    observable: &Observable,
) -> Result<(f64, Vec<f64>), Error> {
    expval_and_grad_with(GradientMethod::Adjoint, circuit, theta, observable)
}

/// `⟨ψ(θ)|H|ψ(θ)⟩` and its gradient in `θ`, by `method`.
pub fn expval_and_grad_with(
    method: GradientMethod,
    circuit: &Circuit,
    theta: &[f64],
    observable: &Observable,
) -> Result<(f64, Vec<f64>), Error> {
    let mut grad = vec![0.0; theta.len()];
    let value =
        Simulator::new().expval_and_grad_with(method, circuit, theta, observable, &mut grad)?;
    Ok((value, grad))
}
