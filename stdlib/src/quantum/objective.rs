//! A variational circuit's expectation value as a loss for [`crate::optim`]: parameters →
//! circuit → `⟨H⟩`, with its gradient, so Adam and L-BFGS train circuits as they train
//! any other model.

use super::circuit::Circuit;
use super::observable::Observable;
use super::simulator::{GradientMethod, Simulator};
use crate::Error;
use crate::optim::Objective;

/// The loss `θ ↦ ⟨ψ(θ)|H|ψ(θ)⟩` of a circuit and an observable. It owns its simulator, so
/// training allocates nothing after the first evaluation.
#[derive(Clone, Debug)]
pub struct ExpvalObjective {
    circuit: Circuit,
    observable: Observable,
    n_params: usize,
    method: GradientMethod,
    simulator: Simulator,
}

impl ExpvalObjective {
    /// The loss of `circuit` measured by `observable`, over `n_params` parameters (at least
    /// [`Circuit::n_params`]; extra ones get a zero gradient). Both are checked here.
    pub fn new(
        circuit: Circuit,
        observable: Observable,
        n_params: usize,
    ) -> Result<ExpvalObjective, Error> {
        circuit.validate(&vec![0.0; n_params])?;
        observable.validate(circuit.n_qubits)?;
        Ok(ExpvalObjective {
            circuit,
            observable,
            n_params,
            method: GradientMethod::Adjoint,
            simulator: Simulator::new(),
        })
    }

    /// The same loss with gradients by `method` (adjoint by default).
    pub fn with_method(mut self, method: GradientMethod) -> ExpvalObjective {
        self.method = method;
        self
    }

    /// The circuit.
    pub fn circuit(&self) -> &Circuit {
        &self.circuit
    }

    /// The simulator, holding the state of the last evaluation's forward pass.
    pub fn simulator(&self) -> &Simulator {
        &self.simulator
    }
}

impl Objective for ExpvalObjective {
    fn n_params(&self) -> usize {
        self.n_params
    }

    fn value_and_grad(&mut self, p: &[f64], grad: &mut [f64]) -> Result<f64, Error> {
        self.simulator
            .expval_and_grad_with(self.method, &self.circuit, p, &self.observable, grad)
    }
}
