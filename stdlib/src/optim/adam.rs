//! Adam (Kingma & Ba, 2015) with the usual bias correction.
//!
//! Written by hand: argmin has no Adam, and the update is a few lines.

use super::eval::{Evaluator, Phase, inf_norm};
use super::progress::{self, AdamState, Control, Progress};
use super::{StopReason, TrainOptions};
use crate::Error;
use rayon::prelude::*;

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
    ///
    /// Vectors of at least [`PARALLEL_MIN`] parameters are updated in chunks on `threads`:
    /// a neural operator's 550k weights took a tenth of a training step on one core while
    /// the other waited.
    pub(super) fn step(
        &mut self,
        p: &mut [f64],
        g: &[f64],
        decay: f64,
        held: &[bool],
        threads: &Threads,
    ) {
        // Running products rather than powi(t): t may exceed i32 and this is exact enough.
        self.beta1_t *= BETA1;
        self.beta2_t *= BETA2;
        let update = Update {
            lr: self.lr,
            c1: 1.0 - self.beta1_t,
            c2: 1.0 - self.beta2_t,
            decay,
        };
        let n = p.len().min(g.len()).min(self.m.len()).min(self.v.len());
        if n < PARALLEL_MIN || matches!(threads, Threads::One) {
            update.run(p, g, &mut self.m, &mut self.v, held, 0);
            return;
        }
        let (m, v) = (&mut self.m, &mut self.v);
        let chunks = p[..n]
            .par_chunks_mut(CHUNK)
            .zip(g[..n].par_chunks(CHUNK))
            .zip(m[..n].par_chunks_mut(CHUNK))
            .zip(v[..n].par_chunks_mut(CHUNK))
            .enumerate();
        let work = || {
            chunks.for_each(|(k, (((p, g), m), v))| update.run(p, g, m, v, held, k * CHUNK));
        };
        match threads {
            Threads::Pool(pool) => pool.install(work),
            _ => work(),
        }
    }
}

/// Where [`Adam::step`] runs its chunks.
pub(super) enum Threads {
    One,
    /// Rayon's global pool (all cores).
    All,
    Pool(rayon::ThreadPool),
}

impl Threads {
    /// For `TrainOptions::threads` (0: all cores); a pool that cannot be built runs on one.
    pub(super) fn new(threads: usize) -> Threads {
        match threads {
            0 => Threads::All,
            1 => Threads::One,
            n => rayon::ThreadPoolBuilder::new()
                .num_threads(n)
                .build()
                .map_or(Threads::One, Threads::Pool),
        }
    }
}

/// Parameter vectors at least this long are updated in parallel ([`Adam::step`]).
const PARALLEL_MIN: usize = 1 << 16;
/// Parameters per parallel chunk.
const CHUNK: usize = 1 << 14;

/// One step's constants: the rate, the bias corrections `1 − βᵗ`, the weight decay.
struct Update {
    lr: f64,
    c1: f64,
    c2: f64,
    decay: f64,
}

impl Update {
    /// Updates one chunk of the parameters, whose first is parameter `offset` (for
    /// `held`).
    fn run(
        &self,
        p: &mut [f64],
        g: &[f64],
        m: &mut [f64],
        v: &mut [f64],
        held: &[bool],
        offset: usize,
    ) {
        for (k, (((p, g), m), v)) in p.iter_mut().zip(g).zip(m).zip(v).enumerate() {
            let g = if self.decay != 0.0 && !held.get(offset + k).copied().unwrap_or(false) {
                g + self.decay * *p
            } else {
                *g
            };
            *m = BETA1 * *m + (1.0 - BETA1) * g;
            *v = BETA2 * *v + (1.0 - BETA2) * g * g;
            let m_hat = *m / self.c1;
            let v_hat = *v / self.c2;
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
    // A pool only where a step would use it (building one starts its threads).
    let threads = Threads::new(if p.len() >= PARALLEL_MIN {
        options.threads
    } else {
        1
    });
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
        adam.step(p, ev.grad(), options.weight_decay, &held, &threads);
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

#[cfg(test)]
mod tests {
    use super::*;

    /// A large vector's update in parallel chunks (all cores, a pool of 3) is the
    /// sequential update, bit for bit, with weight decay and held parameters.
    #[test]
    fn parallel_updates_are_the_sequential_ones() {
        let n = PARALLEL_MIN + CHUNK / 3;
        let p0: Vec<f64> = (0..n).map(|k| (k as f64 * 0.37).sin()).collect();
        let g: Vec<f64> = (0..n).map(|k| (k as f64 * 1.91).cos() * 1e-2).collect();
        let held: Vec<bool> = (0..n).map(|k| k % 7 == 0).collect();
        let run = |threads: Threads| {
            let (mut p, mut adam) = (p0.clone(), Adam::new(n, 1e-3));
            for _ in 0..3 {
                adam.step(&mut p, &g, 1e-4, &held, &threads);
            }
            p.iter().map(|x| x.to_bits()).collect::<Vec<_>>()
        };
        let one = run(Threads::One);
        assert_ne!(one, p0.iter().map(|x| x.to_bits()).collect::<Vec<_>>());
        assert_eq!(run(Threads::All), one);
        assert_eq!(run(Threads::new(3)), one);
    }
}
