//! Training some parameters while others keep their values (`sci train --freeze`): the
//! known physics of a universal differential equation stays put while the network learns.
//!
//! The frozen components of the gradient are zeroed, so neither optimiser ever moves them:
//! Adam's moments stay zero there (its step is exactly 0) and L-BFGS's steps and gradient
//! differences have zeros there, so its direction does too. The values are kept bit for bit.

use super::Objective;
use crate::Error;

/// `objective` with the parameters marked in `frozen` held fixed.
pub struct Freeze<'o> {
    objective: &'o mut dyn Objective,
    frozen: Vec<bool>,
}

impl<'o> Freeze<'o> {
    /// Holds `frozen[i]` parameters fixed; `frozen` has one flag per parameter.
    pub fn new(objective: &'o mut dyn Objective, frozen: Vec<bool>) -> Result<Self, Error> {
        if frozen.len() != objective.n_params() {
            return Err(Error::input(format!(
                "{} parameters were marked frozen or not, but the objective has {}.",
                frozen.len(),
                objective.n_params()
            )));
        }
        Ok(Freeze { objective, frozen })
    }
}

impl Objective for Freeze<'_> {
    fn n_params(&self) -> usize {
        self.objective.n_params()
    }
    fn value_and_grad(&mut self, p: &[f64], grad: &mut [f64]) -> Result<f64, Error> {
        let loss = self.objective.value_and_grad(p, grad)?;
        for (g, &frozen) in grad.iter_mut().zip(&self.frozen) {
            if frozen {
                *g = 0.0;
            }
        }
        Ok(loss)
    }
    fn resample(&mut self, round: u64) -> Result<(), Error> {
        self.objective.resample(round)
    }
    fn terms(&mut self, p: &[f64]) -> Result<Vec<f64>, Error> {
        self.objective.terms(p)
    }
    fn test_loss(&mut self, p: &[f64]) -> Result<Option<f64>, Error> {
        self.objective.test_loss(p)
    }
    fn held(&self) -> Vec<bool> {
        let inner = self.objective.held();
        self.frozen
            .iter()
            .enumerate()
            .map(|(k, &f)| f || inner.get(k).copied().unwrap_or(false))
            .collect()
    }
}
