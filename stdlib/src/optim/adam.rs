//! Adam (Kingma & Ba, 2015) with the usual bias correction.
//!
//! Written by hand: argmin has no Adam, and the update is a few lines.

use super::eval::{Evaluator, Phase, inf_norm};
use super::progress::{self, AdamState, Control, Progress};
use super::{StopReason, TrainOptions};
use crate::Error;

/// Decay of the first-moment (mean) estimate.
pub(super) const BETA1: f64 = 0.9;
/// Decay of the second-moment (uncentred variance) estimate.
pub(super) const BETA2: f64 = 0.999;
/// Added to the denominator so a zero gradient component does not divide by zero.
pub(super) const EPSILON: f64 = 1e-8;

/// Adam's state: the moment estimates and the powers `β₁ᵗ`, `β₂ᵗ` for the bias correction.
#[derive(Clone, Debug)]
pub(super) struct Adam {
    lr: f64,
    m: Vec<f64>,
    v: Vec<f64>,
    beta1_t: f64,
    beta2_t: f64,
}

impl Adam {
    /// Fresh moments for `n` parameters.
    pub(super) fn new(n: usize, lr: f64) -> Adam {
        Adam {
            lr,
            m: vec![0.0; n],
            v: vec![0.0; n],
            beta1_t: 1.0,
            beta2_t: 1.0,
        }
    }

    /// Moments saved by [`Adam::state`], continued with learning rate `lr`.
    pub(super) fn resumed(state: &AdamState, lr: f64) -> Adam {
        Adam {
            lr,
            m: state.m.clone(),
            v: state.v.clone(),
            beta1_t: state.beta1_t,
            beta2_t: state.beta2_t,
        }
    }

    /// A copy of the moments, to resume from.
    pub(super) fn state(&self) -> AdamState {
        AdamState {
            m: self.m.clone(),
            v: self.v.clone(),
            beta1_t: self.beta1_t,
            beta2_t: self.beta2_t,
        }
    }

    /// One update of `p` along the gradient `g` with weight decay `λ = decay`:
    /// `g ← g + λp` (for every parameter not marked in `held`, whose gradient stays zero),
    /// `m ← β₁m + (1−β₁)g`, `v ← β₂v + (1−β₂)g²`, `p ← p − lr·m̂/(√v̂ + ε)` with
    /// `m̂ = m/(1−β₁ᵗ)`, `v̂ = v/(1−β₂ᵗ)`.
    pub(super) fn step(&mut self, p: &mut [f64], g: &[f64], decay: f64, held: &[bool]) {
        // Running products rather than powi(t): t may exceed i32 and this is exact enough.
        self.beta1_t *= BETA1;
        self.beta2_t *= BETA2;
        let c1 = 1.0 - self.beta1_t;
        let c2 = 1.0 - self.beta2_t;
        for (k, (((p, g), m), v)) in p
            .iter_mut()
            .zip(g)
            .zip(&mut self.m)
            .zip(&mut self.v)
            .enumerate()
        {
            let g = if decay != 0.0 && !held.get(k).copied().unwrap_or(false) {
                g + decay * *p
            } else {
                *g
            };
            *m = BETA1 * *m + (1.0 - BETA1) * g;
            *v = BETA2 * *v + (1.0 - BETA2) * g * g;
            let m_hat = *m / c1;
            let v_hat = *v / c2;
            *p -= self.lr * m_hat / (v_hat.sqrt() + EPSILON);
        }
    }
}

/// Runs Adam steps `first..=last` of a phase that began at step 1 (`first > 1` when a
/// run resumes with the moments `start`), recording the loss after each. `ev` must hold the
/// loss and gradient at `p`. Returns `Some` when training should stop (the gradient fell
/// below the tolerance, or the caller asked to stop).
#[allow(clippy::too_many_arguments)]
pub(super) fn run(
    ev: &mut Evaluator<'_>,
    p: &mut [f64],
    first: usize,
    last: usize,
    start: Option<&AdamState>,
    options: &TrainOptions,
    losses: &mut Vec<f64>,
    progress: &mut dyn FnMut(&Progress<'_>) -> Control,
) -> Result<Option<StopReason>, Error> {
    ev.phase = Phase::Adam { lr: options.lr };
    let mut adam = match start {
        Some(state) => Adam::resumed(state, options.lr),
        None => Adam::new(p.len(), options.lr),
    };
    let held = if options.weight_decay != 0.0 {
        ev.held()
    } else {
        Vec::new()
    };
    for t in first..=last {
        if inf_norm(ev.grad()) <= options.grad_tol {
            return Ok(Some(StopReason::Converged));
        }
        let step = t;
        ev.step = step;
        let lr = options.lr_at(t);
        adam.lr = lr;
        ev.phase = Phase::Adam { lr };
        adam.step(p, ev.grad(), options.weight_decay, &held);
        // New points before the loss after step t is measured, so that loss (and the
        // gradient of step t+1) are on the points step t+1 trains on. Never after the last
        // Adam step: an L-BFGS phase needs one fixed set of points.
        if let Some(every) = options.resample_every
            && t % every == 0
            && t < last
        {
            ev.resample((t / every) as u64)?;
        }
        ev.eval(p)?;
        losses.push(ev.loss());
        let loss = ev.loss();
        ev.sample_terms(step, p)?;
        ev.sample_test(step, p)?;
        let (best_loss, best) = ev.best().unwrap_or((loss, p));
        let info = Progress {
            terms: ev.terms_at(step),
            test: ev.test_at(step),
            step,
            total: options.steps,
            loss,
            best_loss,
            phase: progress::Phase::Adam,
            lr: Some(lr),
            best,
            current: p,
            losses,
            adam: Some(&adam),
            evaluations: ev.evaluations,
        };
        if progress(&info) == Control::Stop {
            return Ok(Some(StopReason::Interrupted));
        }
    }
    Ok(None)
}
