//! Minimising a loss over parameters: Adam and L-BFGS.
//!
//! Both optimisers are written here, and each says why: Adam because it is a few lines
//! (argmin has none); L-BFGS with a strong-Wolfe line search because fitting through ODE
//! solves needs a line search that treats a failed evaluation as a step too long and a
//! first step scaled by the gradient, which argmin's L-BFGS does not offer. Both see the
//! objective through one evaluator ([`eval`]) that caches the last point, rejects
//! non-finite values and keeps the best parameters.

mod adam;
mod all_reduced;
mod eval;
mod freeze;
mod lbfgs;
mod progress;

use crate::Error;
pub use all_reduced::AllReduced;
use eval::Evaluator;
pub use freeze::Freeze;
pub use progress::{AdamState, Control, Phase, Progress, TrainState};

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
    /// The loss's additive terms at `p` (they sum to the loss), for watching which part of
    /// a loss dominates; sampled every [`TrainOptions::terms_every`] steps. The default has
    /// none.
    fn terms(&mut self, p: &[f64]) -> Result<Vec<f64>, Error> {
        let _ = p;
        Ok(Vec::new())
    }
    /// The loss at `p` on held-out data (a test set), sampled every
    /// [`TrainOptions::test_every`] steps; `None` (the default) when there is none.
    fn test_loss(&mut self, p: &[f64]) -> Result<Option<f64>, Error> {
        let _ = p;
        Ok(None)
    }
    /// Per parameter, whether it is held at its value (its gradient is always zero), so
    /// weight decay leaves it alone too; empty (the default) when none is.
    fn held(&self) -> Vec<bool> {
        Vec::new()
    }
}

/// The optimisation method.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Optimizer {
    Adam,
    Lbfgs,
    /// Adam for the first [`TrainOptions::adam_steps`] steps (half of them unless set),
    /// then L-BFGS: the usual PINN recipe.
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
    /// The length of `AdamLbfgs`'s Adam phase (`None`: half the steps); at most `steps`.
    pub adam_steps: Option<usize>,
    /// Draw new collocation points every this many steps (Adam phase only).
    pub resample_every: Option<usize>,
    /// Stop when the gradient's infinity norm falls below this.
    pub grad_tol: f64,
    /// L-BFGS history length.
    pub lbfgs_memory: usize,
    /// Stop when the loss falls to this value or below.
    pub loss_tol: Option<f64>,
    /// Stop when the lowest loss has not improved for this many steps.
    pub patience: Option<usize>,
    /// Evaluate the loss's terms ([`Objective::terms`]) at the start, after the first and
    /// the last step and every this many steps ([`TrainReport::terms`], [`Progress::terms`]).
    pub terms_every: Option<usize>,
    /// Adam's weight decay: `λ·p` added to the gradient before the moments (an L2 penalty
    /// `λ/2·|p|²` on the parameters that are not held, as `torch.optim.Adam`'s
    /// `weight_decay`; the loss reported is without it).
    pub weight_decay: f64,
    /// Adam's learning rate multiplied by `factor` every `every` steps (a step schedule:
    /// `lr·factor^⌊(t−1)/every⌋` at step `t`).
    pub lr_decay: Option<LrDecay>,
    /// Evaluate the loss on the objective's held-out data ([`Objective::test_loss`]) at the
    /// start, every this many steps and after the last ([`TrainReport::tests`]).
    pub test_every: Option<usize>,
    /// Return the last iterate rather than the point of lowest loss: with mini-batches
    /// the losses of different steps are on different data and do not compare.
    pub keep_last: bool,
    /// Threads for the optimiser's own updates of large parameter vectors (0: all cores;
    /// the objective's threads are its own). The update is elementwise, so the result is
    /// the same bits on any number.
    pub threads: usize,
}

/// A step schedule of Adam's learning rate ([`TrainOptions::lr_decay`]).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct LrDecay {
    pub every: usize,
    pub factor: f64,
}

impl TrainOptions {
    /// Adam's learning rate at step `step` (from 1).
    pub fn lr_at(&self, step: usize) -> f64 {
        match self.lr_decay {
            Some(LrDecay { every, factor }) if every > 0 => {
                let drops = (step.saturating_sub(1) / every).min(i32::MAX as usize) as i32;
                self.lr * factor.powi(drops)
            }
            _ => self.lr,
        }
    }
}

impl Default for TrainOptions {
    fn default() -> TrainOptions {
        TrainOptions {
            optimizer: Optimizer::Adam,
            steps: 1000,
            lr: 1e-3,
            adam_steps: None,
            resample_every: None,
            grad_tol: 0.0,
            lbfgs_memory: 10,
            loss_tol: None,
            patience: None,
            terms_every: None,
            weight_decay: 0.0,
            lr_decay: None,
            test_every: None,
            keep_last: false,
            threads: 0,
        }
    }
}

impl TrainOptions {
    /// The steps of the Adam phase and of the L-BFGS phase, in this order.
    pub fn phases(&self) -> (usize, usize) {
        let adam = match self.optimizer {
            Optimizer::Adam => self.steps,
            Optimizer::Lbfgs => 0,
            Optimizer::AdamLbfgs => self.adam_steps.unwrap_or(self.steps / 2).min(self.steps),
        };
        (adam, self.steps - adam)
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
    /// The loss fell to `loss_tol`.
    LossTol,
    /// The lowest loss did not improve for `patience` steps.
    Plateau,
    /// The caller's progress callback asked to stop (an interrupt).
    Interrupted,
}

impl StopReason {
    /// Why training ended, as the end of a sentence ("stopped: …"); `None` when every
    /// step was taken.
    pub fn describe(self) -> Option<&'static str> {
        match self {
            StopReason::Steps => None,
            StopReason::Converged => Some("converged (gradient below --grad-tol)"),
            StopReason::NoProgress => Some("no further progress"),
            StopReason::LossTol => Some("loss reached --tol"),
            StopReason::Plateau => Some("no improvement for --patience steps"),
            StopReason::Interrupted => Some("interrupted"),
        }
    }
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
    /// The loss's terms where they were sampled ([`TrainOptions::terms_every`]): `(step,
    /// values)`, step 0 being the start (not kept across a resumed run's first part).
    pub terms: Vec<(usize, Vec<f64>)>,
    /// The loss on held-out data where it was sampled ([`TrainOptions::test_every`]):
    /// `(step, loss)`, step 0 being the start (not kept across a resumed run's first part).
    pub tests: Vec<(usize, f64)>,
    /// Where the run stood after its last step, to continue it with more steps
    /// ([`train_from`]): kept when every step was taken or a stopping rule or the caller
    /// stopped it; `None` when it ended converged or without progress, or took no step.
    pub state: Option<TrainState>,
}

/// Minimises `objective` starting from `params`, which hold the best parameters found when
/// this returns. `progress` is called after every step and may stop the run.
///
/// Steps are numbered from 1; `progress` sees the loss after step `k`.
/// `params` holds the parameters with the lowest loss evaluated (also when an error is
/// returned after some evaluations), and `final_loss` is their loss. With resampling, the
/// loss after step `k` is measured on the points drawn for step `k + 1`.
/// `AdamLbfgs` takes [`TrainOptions::phases`]'s Adam steps, then L-BFGS from the last
/// Adam iterate.
pub fn train(
    objective: &mut dyn Objective,
    params: &mut [f64],
    options: &TrainOptions,
    progress: &mut dyn FnMut(&Progress<'_>) -> Control,
) -> Result<TrainReport, Error> {
    train_from(objective, params, options, None, progress)
}

/// [`train`], continuing the run that `start` describes (from [`Progress::state`]) up to
/// `options.steps` steps in all; `params` is overwritten by the result as in [`train`].
/// The options must be the run's own (the same optimiser and step count).
pub fn train_from(
    objective: &mut dyn Objective,
    params: &mut [f64],
    options: &TrainOptions,
    start: Option<&TrainState>,
    progress: &mut dyn FnMut(&Progress<'_>) -> Control,
) -> Result<TrainReport, Error> {
    validate(objective.n_params(), params.len(), options)?;
    if let Some(state) = start {
        validate_state(state, params.len(), options)?;
    }
    let (adam_steps, lbfgs_steps) = options.phases();
    let mut ev = Evaluator::new(objective, params.len(), options.steps);
    ev.terms_every = options.terms_every;
    ev.test_every = options.test_every;
    let done = start.map_or(0, |s| s.step);
    let mut p = match start {
        Some(state) => state.current.clone(),
        None => params.to_vec(),
    };
    // Capped: `steps` is user input, and an early stop is common.
    let mut losses = Vec::with_capacity(options.steps.min(1 << 16) + 1);
    // The stopping rules watch the steps through the caller's callback.
    let mut since_best = 0usize;
    let mut lowest = f64::INFINITY;
    if let Some(state) = start {
        losses.extend_from_slice(&state.losses);
        ev.resume(state.best_loss, &state.best, state.evaluations);
        let best_at = (0..state.losses.len())
            .min_by(|&a, &b| state.losses[a].total_cmp(&state.losses[b]))
            .unwrap_or(0);
        lowest = state.losses.get(best_at).copied().unwrap_or(f64::INFINITY);
        since_best = state.losses.len().saturating_sub(1 + best_at);
        // The collocation points the interrupted run was training on at this step.
        if let Some(every) = options.resample_every {
            let last_redraw = done.min(adam_steps.saturating_sub(1));
            let round = last_redraw / every;
            if round > 0 {
                ev.resample(round as u64)?;
            }
        }
    }
    let mut first_eval = ev.eval(&p);
    if first_eval.is_ok() && start.is_none() {
        losses.push(ev.loss());
        lowest = ev.loss();
        first_eval = ev.sample_terms(0, &p).and_then(|()| ev.sample_test(0, &p));
    }
    let mut rule = None;
    let mut last_state = None;
    let mut watched = |info: &Progress<'_>| -> Control {
        let control = if progress(info) == Control::Stop {
            Control::Stop
        } else {
            if info.loss < lowest {
                lowest = info.loss;
                since_best = 0;
            } else {
                since_best += 1;
            }
            if options.loss_tol.is_some_and(|tol| info.loss <= tol) {
                rule = Some(StopReason::LossTol);
                Control::Stop
            } else if options.patience.is_some_and(|n| since_best >= n) {
                rule = Some(StopReason::Plateau);
                Control::Stop
            } else {
                Control::Continue
            }
        };
        // Copied only at the end: the history grows with every step.
        if control == Control::Stop || info.step == info.total {
            last_state = Some(info.state());
        }
        control
    };
    let outcome = (|| {
        first_eval?;
        if done < adam_steps {
            let stop = adam::run(
                &mut ev,
                &mut p,
                done + 1,
                adam_steps,
                start.and_then(|s| s.adam.as_ref()),
                options,
                &mut losses,
                &mut watched,
            )?;
            if let Some(stop) = stop {
                return Ok(stop);
            }
        }
        if lbfgs_steps > 0 {
            let first = done.max(adam_steps) + 1;
            let stop = lbfgs::run(
                &mut ev,
                &mut p,
                first,
                options.steps + 1 - first,
                options,
                &mut losses,
                &mut watched,
            )?;
            if let Some(stop) = stop {
                return Ok(stop);
            }
        }
        Ok(StopReason::Steps)
    })();
    // The best point is kept even when a later step failed.
    let best_loss = match ev.best() {
        _ if options.keep_last && ev.is_cached(&p) => {
            params.copy_from_slice(&p);
            ev.loss()
        }
        Some((loss, best)) => {
            params.copy_from_slice(best);
            loss
        }
        None => f64::NAN,
    };
    let stopped = match outcome? {
        StopReason::Interrupted => rule.unwrap_or(StopReason::Interrupted),
        other => other,
    };
    Ok(TrainReport {
        steps: losses.len() - 1,
        losses,
        final_loss: best_loss,
        stopped,
        evaluations: ev.evaluations,
        terms: std::mem::take(&mut ev.terms_log),
        tests: std::mem::take(&mut ev.tests_log),
        state: last_state,
    })
}

/// Rejects a state that cannot belong to a run of `options` over `n` parameters.
fn validate_state(state: &TrainState, n: usize, options: &TrainOptions) -> Result<(), Error> {
    let help = "resume with the options of the run that wrote the checkpoint";
    if state.current.len() != n || state.best.len() != n {
        return Err(Error::input(format!(
            "The saved training state holds {} parameters, but the model has {n}.",
            state.current.len()
        ))
        .with_help(help));
    }
    if state.losses.len() != state.step + 1 {
        return Err(Error::input(format!(
            "The saved training state is inconsistent: {} steps but {} losses.",
            state.step,
            state.losses.len()
        )));
    }
    if state.step >= options.steps {
        return Err(Error::input(format!(
            "The saved run already took {} of {} steps.",
            state.step, options.steps
        ))
        .with_help("ask for more steps with --steps to continue it"));
    }
    let (adam_phase, _) = options.phases();
    if state.step > 0 && state.step < adam_phase && state.adam.is_none() {
        return Err(Error::input(format!(
            "The saved run was not taking Adam steps at step {}, but `{}` would be.",
            state.step,
            options.optimizer.name()
        ))
        .with_help(help));
    }
    Ok(())
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
    if options.optimizer == Optimizer::AdamLbfgs
        && let Some(adam) = options.adam_steps
        && adam > options.steps
    {
        return Err(Error::input(format!(
            "The Adam phase of {adam} steps is longer than the run's {} steps.",
            options.steps
        ))
        .with_help("give fewer Adam steps, or more steps in all"));
    }
    if options.test_every == Some(0) {
        return Err(Error::input(
            "The test loss cannot be sampled every 0 steps.",
        ));
    }
    if !(options.weight_decay >= 0.0 && options.weight_decay.is_finite()) {
        return Err(Error::input(format!(
            "The weight decay must be zero or a positive number, not {}.",
            options.weight_decay
        ))
        .with_help("values such as 1e-4 are usual"));
    }
    if let Some(LrDecay { every, factor }) = options.lr_decay
        && (every == 0 || !(factor > 0.0 && factor.is_finite()))
    {
        return Err(Error::input(format!(
            "A learning-rate schedule needs a positive interval and factor, not every {every} steps by {factor}."
        ))
        .with_help("halving every 100 epochs is usual: factor 0.5"));
    }
    if options.terms_every == Some(0) {
        return Err(Error::input("Loss terms cannot be sampled every 0 steps."));
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
