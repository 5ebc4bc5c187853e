//! Adam (Kingma & Ba, 2015) with the usual bias correction.
//!
//! Written by hand: argmin has no Adam, and the update is a few lines.

use super::eval::{Evaluator, Phase, inf_norm};
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

    /// One update of `p` along the gradient `g`:
    /// `m ← β₁m + (1−β₁)g`, `v ← β₂v + (1−β₂)g²`, `p ← p − lr·m̂/(√v̂ + ε)` with
    /// `m̂ = m/(1−β₁ᵗ)`, `v̂ = v/(1−β₂ᵗ)`.
    pub(super) fn step(&mut self, p: &mut [f64], g: &[f64]) {
        // Running products rather than powi(t): t may exceed i32 and this is exact enough.
        self.beta1_t *= BETA1;
        self.beta2_t *= BETA2;
        let c1 = 1.0 - self.beta1_t;
        let c2 = 1.0 - self.beta2_t;
        for (((p, g), m), v) in p.iter_mut().zip(g).zip(&mut self.m).zip(&mut self.v) {
            *m = BETA1 * *m + (1.0 - BETA1) * g;
            *v = BETA2 * *v + (1.0 - BETA2) * g * g;
            let m_hat = *m / c1;
            let v_hat = *v / c2;
            *p -= self.lr * m_hat / (v_hat.sqrt() + EPSILON);
        }
    }
}

/// Runs `count` Adam steps from `p`, numbered `first..first+count`, recording the loss
/// after each. `ev` must hold the loss and gradient at `p`. Returns `Some` when training
/// should stop (the gradient fell below the tolerance).
pub(super) fn run(
    ev: &mut Evaluator<'_>,
    p: &mut [f64],
    first: usize,
    count: usize,
    options: &TrainOptions,
    losses: &mut Vec<f64>,
    progress: &mut dyn FnMut(usize, f64),
) -> Result<Option<StopReason>, Error> {
    ev.phase = Phase::Adam { lr: options.lr };
    let mut adam = Adam::new(p.len(), options.lr);
    for t in 1..=count {
        if inf_norm(ev.grad()) <= options.grad_tol {
            return Ok(Some(StopReason::Converged));
        }
        let step = first + t - 1;
        ev.step = step;
        adam.step(p, ev.grad());
        // New points before the loss after step t is measured, so that loss (and the
        // gradient of step t+1) are on the points step t+1 trains on. Never after the last
        // Adam step: an L-BFGS phase needs one fixed set of points.
        if let Some(every) = options.resample_every
            && t % every == 0
            && t < count
        {
            ev.resample((t / every) as u64)?;
        }
        ev.eval(p)?;
        losses.push(ev.loss());
        progress(step, ev.loss());
    }
    Ok(None)
}
