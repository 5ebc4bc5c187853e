//! The simulator's workspace: the state vectors and scratch buffers a run needs, kept
//! between calls so that repeated evaluations (a training loop) allocate nothing once the
//! buffers have grown to the circuit's size.
//!
//! A forward pass starts from `|0…0⟩` and applies the circuit's fused kernels
//! (`program`). The adjoint gradient holds two state vectors (`ψ` and `λ = H|ψ⟩`);
//! expectation values and parameter-shift gradients hold one.

use num_complex::Complex64 as C;

use super::adjoint;
use super::circuit::Circuit;
use super::kernels::Kernel;
use super::matrices::Mat2;
use super::observable::{MaskedObservable, Observable};
use super::program::{Shift, compile};
use super::shift;
use crate::Error;

const ZERO: C = C::new(0.0, 0.0);

/// How gradients are computed.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum GradientMethod {
    /// One forward pass and one backward sweep: cost independent of the number of
    /// parameters (the default).
    #[default]
    Adjoint,
    /// Two or four circuit evaluations per parametrised angle: the check on the adjoint
    /// method.
    ParameterShift,
}

/// A reusable state-vector simulator.
///
/// Amplitudes are `Complex64` in little-endian qubit order: amplitude `i` is that of the
/// basis state whose qubit `q` is bit `q` of `i` (qubit 0 is the least significant bit).
#[derive(Clone, Debug)]
pub struct Simulator {
    psi: Vec<C>,
    lam: Vec<C>,
    program: Vec<Kernel>,
    pending: Vec<Option<Mat2>>,
    observable: MaskedObservable,
    fusion: bool,
}

impl Default for Simulator {
    fn default() -> Simulator {
        Simulator::new()
    }
}

impl Simulator {
    /// A simulator with gate fusion on and no buffers yet.
    pub fn new() -> Simulator {
        Simulator {
            psi: Vec::new(),
            lam: Vec::new(),
            program: Vec::new(),
            pending: Vec::new(),
            observable: MaskedObservable::default(),
            fusion: true,
        }
    }

    /// Turns the fusion of one-qubit gate runs on or off (on by default; off applies every
    /// gate on its own, for checking fusion).
    pub fn set_fusion(&mut self, fusion: bool) {
        self.fusion = fusion;
    }

    /// The state left by the last forward pass ([`Simulator::run`], [`Simulator::expval`];
    /// a gradient's backward sweep overwrites it).
    pub fn state(&self) -> &[C] {
        &self.psi
    }

    /// How many state vectors the simulator holds now (each `2^n` amplitudes): 1 after
    /// forward passes only, 2 once an adjoint gradient has been taken.
    pub fn state_vectors_held(&self) -> usize {
        usize::from(self.psi.capacity() > 0) + usize::from(self.lam.capacity() > 0)
    }

    /// The state `circuit` prepares from `|0…0⟩` with parameters `theta`.
    pub fn run(&mut self, circuit: &Circuit, theta: &[f64]) -> Result<&[C], Error> {
        circuit.validate(theta)?;
        self.forward(circuit, theta, None)?;
        Ok(&self.psi)
    }

    /// Applies `circuit` with parameters `theta` to `state` in place (length `2^n_qubits`).
    pub fn apply(
        &mut self,
        circuit: &Circuit,
        theta: &[f64],
        state: &mut [C],
    ) -> Result<(), Error> {
        circuit.validate(theta)?;
        let len = 1usize << circuit.n_qubits;
        if state.len() != len {
            return Err(Error::input(format!(
                "A state of {} amplitudes was given to a circuit of {} qubits, which needs \
                 2^{} = {len}.",
                state.len(),
                circuit.n_qubits,
                circuit.n_qubits
            )));
        }
        compile(
            circuit,
            theta,
            None,
            self.fusion,
            &mut self.pending,
            &mut self.program,
        );
        for k in &self.program {
            k.apply(&mut *state);
        }
        Ok(())
    }

    /// `⟨ψ(θ)|H|ψ(θ)⟩` for the state `circuit` prepares.
    pub fn expval(
        &mut self,
        circuit: &Circuit,
        theta: &[f64],
        observable: &Observable,
    ) -> Result<f64, Error> {
        circuit.validate(theta)?;
        self.observable.build(observable, circuit.n_qubits)?;
        self.forward(circuit, theta, None)?;
        Ok(self.observable.expectation(&self.psi))
    }

    /// `⟨ψ(θ)|H|ψ(θ)⟩` and its gradient in `θ` (written to `grad`, of `θ`'s length) by the
    /// adjoint method.
    pub fn expval_and_grad(
        &mut self,
        circuit: &Circuit,
        theta: &[f64],
        observable: &Observable,
        grad: &mut [f64],
    ) -> Result<f64, Error> {
        self.expval_and_grad_with(GradientMethod::Adjoint, circuit, theta, observable, grad)
    }

    /// [`Simulator::expval_and_grad`] by the given method.
    pub fn expval_and_grad_with(
        &mut self,
        method: GradientMethod,
        circuit: &Circuit,
        theta: &[f64],
        observable: &Observable,
        grad: &mut [f64],
    ) -> Result<f64, Error> {
        circuit.validate(theta)?;
        if grad.len() != theta.len() {
            return Err(Error::input(format!(
                "The gradient buffer has {} entries for {} parameters.",
                grad.len(),
                theta.len()
            )));
        }
        self.observable.build(observable, circuit.n_qubits)?;
        match method {
            GradientMethod::Adjoint => {
                self.forward(circuit, theta, None)?;
                resize_state(&mut self.lam, self.psi.len())?;
                Ok(adjoint::gradient(
                    circuit,
                    theta,
                    &self.observable,
                    &mut self.psi,
                    &mut self.lam,
                    grad,
                ))
            }
            GradientMethod::ParameterShift => {
                // Sized once here, so the evaluations below cannot fail.
                resize_state(&mut self.psi, 1 << circuit.n_qubits)?;
                Ok(shift::gradient(circuit, grad, |s| {
                    self.forward_unchecked(circuit, theta, s);
                    self.observable.expectation(&self.psi)
                }))
            }
        }
    }

    /// Prepares `ψ` for the validated `circuit` at `theta` with `shift`.
    fn forward(
        &mut self,
        circuit: &Circuit,
        theta: &[f64],
        shift: Option<Shift>,
    ) -> Result<(), Error> {
        resize_state(&mut self.psi, 1 << circuit.n_qubits)?;
        self.forward_unchecked(circuit, theta, shift);
        Ok(())
    }

    /// [`Simulator::forward`] with `ψ` already of the circuit's size.
    fn forward_unchecked(&mut self, circuit: &Circuit, theta: &[f64], shift: Option<Shift>) {
        compile(
            circuit,
            theta,
            shift,
            self.fusion,
            &mut self.pending,
            &mut self.program,
        );
        self.psi.fill(ZERO);
        self.psi[0] = C::new(1.0, 0.0);
        for k in &self.program {
            k.apply(self.psi.as_mut_slice());
        }
    }
}

/// Gives `v` length `len`, reusing its memory, and reports a failed allocation as an error
/// rather than aborting.
fn resize_state(v: &mut Vec<C>, len: usize) -> Result<(), Error> {
    if v.len() != len {
        v.clear();
        v.try_reserve_exact(len).map_err(|_| {
            Error::input(format!(
                "There is not enough memory for a state vector of {len} amplitudes ({} MiB).",
                (len * std::mem::size_of::<C>()) >> 20
            ))
            .with_help("simulate fewer qubits")
        })?;
        v.resize(len, ZERO);
    }
    Ok(())
}
