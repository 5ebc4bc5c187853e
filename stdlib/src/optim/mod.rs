//! Minimising a loss over parameters: Adam and L-BFGS.
//!
//! Both optimisers are written here, and each says why: Adam because it is a few lines
//! (argmin has none); L-BFGS with a strong-Wolfe line search because fitting through ODE
//! solves needs a line search that treats a failed evaluation as a step too long and a
//! first step scaled by the gradient, which argmin's L-BFGS does not offer. Both see the
//! objective through one evaluator ([`eval`]) that caches the last point, rejects
//! non-finite values and keeps the best parameters.

mod adam;
mod eval;
mod lbfgs;

use crate::Error;
use eval::Evaluator;

/// A differentiable loss of the parameters.
pub trait Objective {
    fn n_params(&self) -> usize;
    /// The loss at `p`, its gradient written to `grad` (length `n_params`).
    fn value_and_grad(&mut self, p: &[f64], grad: &mut [f64]) -> Result<f64, Error>;
    /// Draw new collocation points (called every `resample_every` steps when set). The
    /// default keeps the points.
    fn resample(&mut self, round: u64) -> Result<(), Error> {
        let _ = round;
        Ok(())
    }
}

/// The optimisation method.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Optimizer {
    Adam,
    Lbfgs,
    /// Adam for the first half of the steps, then L-BFGS: the usual PINN recipe.
    AdamLbfgs,
}

impl Optimizer {
    /// Every optimiser with its command-line name.
    pub const ALL: &'static [(&'static str, Optimizer)] = &[
        ("adam", Optimizer::Adam),
        ("lbfgs", Optimizer::Lbfgs),
        ("adam+lbfgs", Optimizer::AdamLbfgs),
    ];

    /// The command-line name.
    pub fn name(self) -> &'static str {
        Optimizer::ALL
            .iter()
            .find(|(_, o)| *o == self)
            .map(|(n, _)| *n)
            .unwrap_or("adam")
    }
}

impl std::str::FromStr for Optimizer {
    type Err = Error;
    fn from_str(s: &str) -> Result<Optimizer, Error> {
        Optimizer::ALL
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(s))
            .map(|(_, o)| *o)
            .ok_or_else(|| {
                let names: Vec<&str> = Optimizer::ALL.iter().map(|(n, _)| *n).collect();
                Error::input(format!("There is no optimiser called `{s}`."))
                    .with_help(format!("the optimisers are: {}", names.join(", ")))
            })
    }
}

/// How to train.
#[derive(Clone, Debug, PartialEq)]
pub struct TrainOptions {
    pub optimizer: Optimizer,
    /// Optimiser iterations (one gradient step for Adam, one line-searched step for L-BFGS).
    pub steps: usize,
    /// Adam's learning rate.
    pub lr: f64,
    /// Draw new collocation points every this many steps (Adam phase only).
    pub resample_every: Option<usize>,
    /// Stop when the gradient's infinity norm falls below this.
    pub grad_tol: f64,
    /// L-BFGS history length.
    pub lbfgs_memory: usize,
}

impl Default for TrainOptions {
    fn default() -> TrainOptions {
        TrainOptions {
            optimizer: Optimizer::Adam,
            steps: 1000,
            lr: 1e-3,
            resample_every: None,
            grad_tol: 0.0,
            lbfgs_memory: 10,
        }
    }
}

/// Why training stopped.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StopReason {
    /// All steps were taken.
    Steps,
    /// The gradient norm fell below `grad_tol`.
    Converged,
    /// L-BFGS could not decrease the loss any further.
    NoProgress,
}

/// The history of a training run.
#[derive(Clone, Debug, PartialEq)]
pub struct TrainReport {
    /// The loss before each step, and after the last one (`steps + 1` values).
    pub losses: Vec<f64>,
    pub final_loss: f64,
    pub steps: usize,
    pub stopped: StopReason,
    /// Loss and gradient evaluations (L-BFGS line searches take several per step).
    pub evaluations: usize,
}

/// Minimises `objective` starting from `params`, which hold the best parameters found when
/// this returns. `progress(step, loss)` is called after every step.
///
/// Steps are numbered from 1; `progress(k, loss)` reports the loss after step `k`.
/// `params` holds the parameters with the lowest loss evaluated (also when an error is
/// returned after some evaluations), and `final_loss` is their loss. With resampling, the
/// loss after step `k` is measured on the points drawn for step `k + 1`.
/// `AdamLbfgs` takes `steps / 2` Adam steps, then L-BFGS from the last Adam iterate.
pub fn train(
    objective: &mut dyn Objective,
    params: &mut [f64],
    options: &TrainOptions,
    progress: &mut dyn FnMut(usize, f64),
) -> Result<TrainReport, Error> {
    validate(objective.n_params(), params.len(), options)?;
    let (adam_steps, lbfgs_steps) = match options.optimizer {
        Optimizer::Adam => (options.steps, 0),
        Optimizer::Lbfgs => (0, options.steps),
        Optimizer::AdamLbfgs => (options.steps / 2, options.steps - options.steps / 2),
    };
    let mut ev = Evaluator::new(objective, params.len(), options.steps);
    let mut p = params.to_vec();
    // Capped: `steps` is user input, and an early stop is common.
    let mut losses = Vec::with_capacity(options.steps.min(1 << 16) + 1);
    let outcome = (|| {
        ev.eval(&p)?;
        losses.push(ev.loss());
        if adam_steps > 0 {
            let stop = adam::run(
                &mut ev,
                &mut p,
                1,
                adam_steps,
                options,
                &mut losses,
                progress,
            )?;
            if let Some(stop) = stop {
                return Ok(stop);
            }
        }
        if lbfgs_steps > 0 {
            let stop = lbfgs::run(
                &mut ev,
                &mut p,
                adam_steps + 1,
                lbfgs_steps,
                options,
                &mut losses,
                progress,
            )?;
            if let Some(stop) = stop {
                return Ok(stop);
            }
        }
        Ok(StopReason::Steps)
    })();
    // The best point is kept even when a later step failed.
    let best_loss = match ev.best() {
        Some((loss, best)) => {
            params.copy_from_slice(best);
            loss
        }
        None => f64::NAN,
    };
    let stopped = outcome?;
    Ok(TrainReport {
        steps: losses.len() - 1,
        losses,
        final_loss: best_loss,
        stopped,
        evaluations: ev.evaluations,
    })
}

/// Rejects options no optimiser can run with.
fn validate(n_params: usize, given: usize, options: &TrainOptions) -> Result<(), Error> {
    if given != n_params {
        return Err(Error::input(format!(
            "The model has {n_params} parameters but {given} starting values were given."
        )));
    }
    if options.steps == 0 {
        return Err(Error::input("Training needs at least one step.")
            .with_help("set the number of steps to 1 or more"));
    }
    if !(options.lr > 0.0 && options.lr.is_finite()) {
        return Err(Error::input(format!(
            "The learning rate must be a positive number, not {}.",
            options.lr
        ))
        .with_help("values between 1e-4 and 1e-2 are usual for Adam"));
    }
    if options.grad_tol.is_nan() || options.grad_tol < 0.0 {
        return Err(Error::input(format!(
            "The gradient tolerance must be zero or positive, not {}.",
            options.grad_tol
        ))
        .with_help("use 0 to always take every step"));
    }
    if options.resample_every == Some(0) {
        return Err(
            Error::input("Collocation points cannot be redrawn every 0 steps.")
                .with_help("give a positive number of steps, or leave resampling off"),
        );
    }
    if options.optimizer != Optimizer::Adam && options.lbfgs_memory == 0 {
        return Err(
            Error::input("L-BFGS needs a history of at least one step, not 0.")
                .with_help("a history of 5 to 20 steps is usual"),
        );
    }
    Ok(())
}
