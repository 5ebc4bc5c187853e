//! The objective as both optimisers see it: one evaluation per distinct point (the last
//! point is cached, so asking for the loss and then the gradient at the same parameters
//! costs one call), non-finite results turned into errors that name the step, and the
//! best parameters seen so far.

use super::Objective;
use crate::Error;

/// Which optimiser is running, for the hint of a non-finite loss.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(super) enum Phase {
    Adam { lr: f64 },
    Lbfgs,
}

/// Wraps the objective with a cache of the last point, an evaluation count and the best
/// point seen.
pub(super) struct Evaluator<'o> {
    objective: &'o mut dyn Objective,
    /// The last point evaluated, its loss and gradient; meaningful when `cached`.
    point: Vec<f64>,
    loss: f64,
    grad: Vec<f64>,
    cached: bool,
    /// The point with the lowest loss seen, and that loss (`None` before the first call).
    best: Option<(f64, Vec<f64>)>,
    /// Calls to the objective.
    pub evaluations: usize,
    /// The step being taken (0 while evaluating the starting point), for error messages.
    pub step: usize,
    total_steps: usize,
    pub phase: Phase,
    /// Sample the objective's terms every this many steps (and at the start, after the
    /// first and the last step).
    pub terms_every: Option<usize>,
    /// The samples, `(step, terms)`.
    pub terms_log: Vec<(usize, Vec<f64>)>,
    /// Sample the loss on held-out data every this many steps (and at the start and after
    /// the last step).
    pub test_every: Option<usize>,
    /// The samples, `(step, test loss)`.
    pub tests_log: Vec<(usize, f64)>,
}

impl<'o> Evaluator<'o> {
    pub fn new(objective: &'o mut dyn Objective, n: usize, total_steps: usize) -> Self {
        Evaluator {
            objective,
            point: Vec::with_capacity(n),
            loss: f64::NAN,
            grad: vec![0.0; n],
            cached: false,
            best: None,
            evaluations: 0,
            step: 0,
            total_steps,
            phase: Phase::Lbfgs,
            terms_every: None,
            terms_log: Vec::new(),
            test_every: None,
            tests_log: Vec::new(),
        }
    }

    /// Records the loss on held-out data at `p`, the point after step `step`, when the
    /// run samples it there.
    pub fn sample_test(&mut self, step: usize, p: &[f64]) -> Result<(), Error> {
        let Some(every) = self.test_every else {
            return Ok(());
        };
        if !(step == 0 || step == self.total_steps || step.is_multiple_of(every.max(1))) {
            return Ok(());
        }
        if let Some(loss) = self.objective.test_loss(p)? {
            self.tests_log.push((step, loss));
        }
        Ok(())
    }

    /// The test loss sampled after step `step`, if it was.
    pub fn test_at(&self, step: usize) -> Option<f64> {
        match self.tests_log.last() {
            Some((at, loss)) if *at == step => Some(*loss),
            _ => None,
        }
    }

    /// The parameters the objective holds at their values ([`Objective::held`]).
    pub fn held(&self) -> Vec<bool> {
        self.objective.held()
    }

    /// Records the objective's terms at `p`, the point after step `step`, when the run
    /// samples them there.
    pub fn sample_terms(&mut self, step: usize, p: &[f64]) -> Result<(), Error> {
        let Some(every) = self.terms_every else {
            return Ok(());
        };
        if !(step <= 1 || step == self.total_steps || step.is_multiple_of(every.max(1))) {
            return Ok(());
        }
        let terms = self.objective.terms(p)?;
        if !terms.is_empty() {
            self.terms_log.push((step, terms));
        }
        Ok(())
    }

    /// The terms sampled after step `step`, if they were.
    pub fn terms_at(&self, step: usize) -> Option<&[f64]> {
        match self.terms_log.last() {
            Some((at, terms)) if *at == step => Some(terms),
            _ => None,
        }
    }

    /// Whether `p` is the point evaluated last (so [`Evaluator::eval`] is free).
    pub fn is_cached(&self, p: &[f64]) -> bool {
        self.cached && self.point == p
    }

    /// Evaluates the loss and gradient at `p` unless they are cached; afterwards
    /// [`Evaluator::loss`] and [`Evaluator::grad`] are those of `p`.
    pub fn eval(&mut self, p: &[f64]) -> Result<(), Error> {
        if self.is_cached(p) {
            return Ok(());
        }
        self.cached = false;
        self.grad.fill(0.0);
        let loss = self.objective.value_and_grad(p, &mut self.grad)?;
        self.evaluations += 1;
        if !loss.is_finite() {
            return Err(self.non_finite(None, loss));
        }
        if let Some(i) = self.grad.iter().position(|g| !g.is_finite()) {
            return Err(self.non_finite(Some(i), self.grad[i]));
        }
        self.point.clear();
        self.point.extend_from_slice(p);
        self.loss = loss;
        self.cached = true;
        match &mut self.best {
            Some((best_loss, best)) if loss < *best_loss => {
                *best_loss = loss;
                best.clear();
                best.extend_from_slice(p);
            }
            Some(_) => {}
            None => self.best = Some((loss, p.to_vec())),
        }
        Ok(())
    }

    /// The loss at the last point evaluated.
    pub fn loss(&self) -> f64 {
        self.loss
    }

    /// The gradient at the last point evaluated.
    pub fn grad(&self) -> &[f64] {
        &self.grad
    }

    /// Continues a run that had made `evaluations` calls and seen `best` (loss `best_loss`)
    /// as its lowest point.
    pub fn resume(&mut self, best_loss: f64, best: &[f64], evaluations: usize) {
        self.best = Some((best_loss, best.to_vec()));
        self.evaluations = evaluations;
    }

    /// The lowest loss seen and its parameters.
    pub fn best(&self) -> Option<(f64, &[f64])> {
        self.best.as_ref().map(|(l, p)| (*l, p.as_slice()))
    }

    /// Asks the objective for new collocation points; the cached loss belongs to the old
    /// points, so it is dropped.
    pub fn resample(&mut self, round: u64) -> Result<(), Error> {
        self.cached = false;
        self.objective.resample(round)
    }

    /// The error for a NaN or infinite loss (`param == None`) or gradient component.
    fn non_finite(&self, param: Option<usize>, value: f64) -> Error {
        let what = if value.is_nan() { "NaN" } else { "infinite" };
        let message = match (param, self.step) {
            (None, 0) => format!("The loss is {what} at the starting parameters."),
            (None, step) => format!(
                "The loss became {what} at step {step} of {}.",
                self.total_steps
            ),
            (Some(i), 0) => format!(
                "The gradient of the loss is {what} at the starting parameters \
                 (parameter index {i})."
            ),
            (Some(i), step) => format!(
                "The gradient of the loss became {what} at step {step} of {} \
                 (parameter index {i}).",
                self.total_steps
            ),
        };
        const CAUSES: &str = "divisions by zero, logarithms or square roots of negative \
                              numbers, or overflowing exponentials";
        let help = match (self.step, self.phase) {
            (0, _) => format!("check the parameters' starting values and the model for {CAUSES}"),
            (_, Phase::Adam { lr }) => {
                format!("lower the learning rate (it is {lr}), or check the model for {CAUSES}")
            }
            (_, Phase::Lbfgs) => format!(
                "L-BFGS's line search tried parameters where the loss is not finite; \
                 starting with Adam (`adam+lbfgs`) often avoids this; also check the model \
                 for {CAUSES}"
            ),
        };
        Error::numerical(message).with_help(help)
    }
}

/// The largest absolute component (0 for an empty vector).
pub(super) fn inf_norm(v: &[f64]) -> f64 {
    v.iter().fold(0.0, |m: f64, x| m.max(x.abs()))
}
