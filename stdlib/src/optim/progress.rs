//! What a training run tells its caller after every step, how the caller stops it, and the
//! state that lets a stopped run continue later exactly where it was.
//!
//! A caller that wants to survive long runs (progress lines, periodic checkpoints, a saved
//! result on Ctrl-C) needs, at each step, the best parameters so far and a [`TrainState`]
//! to resume from; building the state copies the parameters, so [`Progress`] hands out
//! references and builds it only on request.

use super::adam::Adam;

/// The optimiser taking a step.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Phase {
    Adam,
    Lbfgs,
}

impl Phase {
    /// The command-line name.
    pub fn name(self) -> &'static str {
        match self {
            Phase::Adam => "adam",
            Phase::Lbfgs => "lbfgs",
        }
    }
}

/// What the caller's callback answers after each step.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Control {
    Continue,
    /// End training now (an interrupt): the result is the best parameters so far, and the
    /// report says [`super::StopReason::Interrupted`].
    Stop,
}

/// Adam's moment estimates and bias-correction powers.
#[derive(Clone, Debug, PartialEq)]
pub struct AdamState {
    pub m: Vec<f64>,
    pub v: Vec<f64>,
    pub beta1_t: f64,
    pub beta2_t: f64,
}

/// Where a run stands after a step: enough to continue it later. Resuming an Adam phase
/// continues bit for bit (the moments are kept); resuming inside an L-BFGS phase starts its
/// curvature history afresh from the current iterate.
#[derive(Clone, Debug, PartialEq)]
pub struct TrainState {
    /// Steps taken so far.
    pub step: usize,
    /// The loss before the first step and after each step taken (`step + 1` values).
    pub losses: Vec<f64>,
    /// The current iterate (not necessarily the best point).
    pub current: Vec<f64>,
    /// The lowest loss seen and its parameters.
    pub best_loss: f64,
    pub best: Vec<f64>,
    /// Adam's state, when the step was an Adam step.
    pub adam: Option<AdamState>,
    /// Objective evaluations so far.
    pub evaluations: usize,
}

/// The run after one step, as the progress callback sees it.
pub struct Progress<'a> {
    /// The step just taken (steps are numbered from 1).
    pub step: usize,
    /// Steps the run was asked for.
    pub total: usize,
    /// The loss after this step.
    pub loss: f64,
    /// The lowest loss seen so far.
    pub best_loss: f64,
    pub phase: Phase,
    /// Adam's learning rate (`None` in the L-BFGS phase).
    pub lr: Option<f64>,
    pub(super) best: &'a [f64],
    /// The loss's terms after this step, when they were sampled here
    /// ([`super::TrainOptions::terms_every`]).
    pub terms: Option<&'a [f64]>,
    /// The loss on held-out data after this step, when it was sampled here
    /// ([`super::TrainOptions::test_every`]).
    pub test: Option<f64>,
    pub(super) current: &'a [f64],
    pub(super) losses: &'a [f64],
    pub(super) adam: Option<&'a Adam>,
    pub(super) evaluations: usize,
}

impl Progress<'_> {
    /// The parameters with the lowest loss so far.
    pub fn best(&self) -> &[f64] {
        self.best
    }

    /// The loss history so far (`step + 1` values).
    pub fn losses(&self) -> &[f64] {
        self.losses
    }

    /// A copy of the run's state, to resume from (see [`super::train_from`]).
    pub fn state(&self) -> TrainState {
        TrainState {
            step: self.step,
            losses: self.losses.to_vec(),
            current: self.current.to_vec(),
            best_loss: self.best_loss,
            best: self.best.to_vec(),
            adam: self.adam.map(Adam::state),
            evaluations: self.evaluations,
        }
    }
}
