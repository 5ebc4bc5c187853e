//! L-BFGS (Nocedal & Wright, Algorithm 7.4/7.5) with a strong-Wolfe line search
//! (Algorithm 3.5/3.6), written here rather than taken from `argmin` for two reasons that
//! matter when the loss comes from an ODE solve:
//!
//! - a trial point where the objective cannot be evaluated (the solver fails for parameters
//!   far from the data, the loss overflows) must shorten the step, not end training; argmin's
//!   line searches treat any evaluation error as fatal;
//! - the first step must be scaled by the gradient (`1/‖g‖`): a unit step along `−g` with
//!   gradients in the hundreds throws the parameters into another basin, and argmin's
//!   L-BFGS cannot scale its first step.
//!
//! Every function evaluation goes through the [`Evaluator`] (cache, best point, NaN checks).

use super::eval::{Evaluator, Phase, inf_norm};
use super::progress::{self, Control, Progress};
use super::{StopReason, TrainOptions};
use crate::{Error, ErrorKind};

/// Objective evaluations allowed to one line search before the step counts as stuck.
const MAX_TRIALS: usize = 40;
/// Sufficient decrease (Armijo) and curvature constants of the strong Wolfe conditions.
const C1: f64 = 1e-4;
const C2: f64 = 0.9;

/// The loss and gradient at a trial point, or `None` where the objective failed
/// numerically (treated as "too far").
type Trial = Option<(f64, Vec<f64>)>;

fn dot(a: &[f64], b: &[f64]) -> f64 {
    a.iter().zip(b).map(|(x, y)| x * y).sum()
}

fn axpy(p: &[f64], alpha: f64, d: &[f64]) -> Vec<f64> {
    p.iter().zip(d).map(|(x, y)| x + alpha * y).collect()
}

/// Evaluates at `p`; a numerical failure (or non-finite parameters) is `Ok(None)`.
fn try_eval(ev: &mut Evaluator<'_>, p: &[f64], trials: &mut usize) -> Result<Trial, Error> {
    if p.iter().any(|x| !x.is_finite()) {
        return Ok(None);
    }
    *trials += 1;
    match ev.eval(p) {
        Ok(()) => Ok(Some((ev.loss(), ev.grad().to_vec()))),
        Err(e) if e.kind == ErrorKind::Numerical => Ok(None),
        Err(e) => Err(e),
    }
}

/// The line search result: the accepted step, its loss and gradient.
struct Accepted {
    alpha: f64,
    loss: f64,
    grad: Vec<f64>,
}

/// Strong-Wolfe line search along `d` from `p` (loss `f0`, directional derivative
/// `g0d < 0`), starting at `alpha0` (Nocedal & Wright, Algorithms 3.5 and 3.6). A trial
/// where the objective fails is "too far": the step shrinks tenfold. `None` when no step
/// lowered the loss.
fn line_search(
    ev: &mut Evaluator<'_>,
    p: &[f64],
    d: &[f64],
    f0: f64,
    g0d: f64,
    alpha0: f64,
) -> Result<Option<Accepted>, Error> {
    let mut trials = 0;
    // The best point with sufficient decrease, if the search ends without a Wolfe point.
    let mut fallback: Option<Accepted> = None;
    let keep = |acc: &Accepted, fallback: &mut Option<Accepted>| {
        if acc.loss <= f0 + C1 * acc.alpha * g0d
            && fallback.as_ref().is_none_or(|b| acc.loss < b.loss)
        {
            *fallback = Some(Accepted {
                alpha: acc.alpha,
                loss: acc.loss,
                grad: acc.grad.clone(),
            });
        }
    };
    // Bracketing: (lo, f_lo, gd_lo) is the last step with sufficient decrease and a
    // still-descending slope.
    let (mut lo, mut f_lo, mut gd_lo) = (0.0, f0, g0d);
    let mut alpha = alpha0;
    let (mut hi, mut f_hi);
    loop {
        if trials >= MAX_TRIALS {
            return Ok(fallback);
        }
        let x = axpy(p, alpha, d);
        let Some((f, g)) = try_eval(ev, &x, &mut trials)? else {
            alpha = lo + 0.1 * (alpha - lo);
            continue;
        };
        let gd = dot(&g, d);
        let acc = Accepted {
            alpha,
            loss: f,
            grad: g,
        };
        keep(&acc, &mut fallback);
        if f > f0 + C1 * alpha * g0d || (f >= f_lo && alpha > 0.0 && lo > 0.0) {
            (hi, f_hi) = (alpha, f);
            break;
        }
        if gd.abs() <= -C2 * g0d {
            return Ok(Some(acc));
        }
        if gd >= 0.0 {
            (hi, f_hi) = (lo, f_lo);
            (lo, f_lo, gd_lo) = (alpha, f, gd);
            break;
        }
        (lo, f_lo, gd_lo) = (alpha, f, gd);
        alpha *= 2.0;
    }
    // Zoom between lo (sufficient decrease, slope pointing to hi) and hi.
    loop {
        if trials >= MAX_TRIALS || (hi - lo).abs() <= 1e-16 * lo.abs().max(hi.abs()).max(1e-300) {
            return Ok(fallback);
        }
        let width = hi - lo;
        // Minimiser of the quadratic through f_lo, gd_lo and f_hi, safeguarded to the
        // inner 80 % of the interval.
        let denom = 2.0 * (f_hi - f_lo - gd_lo * width);
        let mut next = if f_hi.is_finite() && denom > 0.0 {
            lo - gd_lo * width * width / denom
        } else {
            lo + 0.5 * width
        };
        let (a, b) = if lo < hi { (lo, hi) } else { (hi, lo) };
        let margin = 0.1 * (b - a);
        if !next.is_finite() || next < a + margin || next > b - margin {
            next = 0.5 * (a + b);
        }
        let x = axpy(p, next, d);
        let Some((f, g)) = try_eval(ev, &x, &mut trials)? else {
            (hi, f_hi) = (next, f64::INFINITY);
            continue;
        };
        let gd = dot(&g, d);
        let acc = Accepted {
            alpha: next,
            loss: f,
            grad: g,
        };
        keep(&acc, &mut fallback);
        if f > f0 + C1 * next * g0d || f >= f_lo {
            (hi, f_hi) = (next, f);
            continue;
        }
        if gd.abs() <= -C2 * g0d {
            return Ok(Some(acc));
        }
        if gd * (hi - lo) >= 0.0 {
            (hi, f_hi) = (lo, f_lo);
        }
        (lo, f_lo, gd_lo) = (next, f, gd);
    }
}

/// Runs up to `count` L-BFGS steps from `p`, numbered `first..first+count`, recording the
/// loss after each. Returns `Some` when training should stop early.
pub(super) fn run(
    ev: &mut Evaluator<'_>,
    p: &mut Vec<f64>,
    first: usize,
    count: usize,
    options: &TrainOptions,
    losses: &mut Vec<f64>,
    progress: &mut dyn FnMut(&Progress<'_>) -> Control,
) -> Result<Option<StopReason>, Error> {
    ev.phase = Phase::Lbfgs;
    ev.eval(p)?;
    let (mut f, mut g) = (ev.loss(), ev.grad().to_vec());
    let m = options.lbfgs_memory.max(1);
    let mut history: std::collections::VecDeque<(Vec<f64>, Vec<f64>, f64)> =
        std::collections::VecDeque::with_capacity(m);
    for k in 0..count {
        let step = first + k;
        ev.step = step;
        if inf_norm(&g) <= options.grad_tol {
            return Ok(Some(StopReason::Converged));
        }
        // Two-loop recursion: d = −H g, with H0 = γ I, γ = sᵀy / yᵀy of the newest pair.
        let mut q = g.clone();
        let mut alphas = Vec::with_capacity(history.len());
        for (s, y, rho) in history.iter().rev() {
            let a = rho * dot(s, &q);
            for (qi, yi) in q.iter_mut().zip(y) {
                *qi -= a * yi;
            }
            alphas.push(a);
        }
        let gamma = history
            .back()
            .map_or(1.0, |(s, y, _)| dot(s, y) / dot(y, y));
        for qi in &mut q {
            *qi *= gamma;
        }
        for ((s, y, rho), a) in history.iter().zip(alphas.iter().rev()) {
            let b = rho * dot(y, &q);
            for (qi, si) in q.iter_mut().zip(s) {
                *qi += (a - b) * si;
            }
        }
        let mut d: Vec<f64> = q.iter().map(|x| -x).collect();
        let mut g0d = dot(&g, &d);
        if g0d.is_nan() || g0d >= 0.0 {
            // Not a descent direction (bad curvature pairs): restart from steepest descent.
            history.clear();
            d = g.iter().map(|x| -x).collect();
            g0d = dot(&g, &d);
        }
        // The first step (no curvature information yet) is scaled to move by ~1 in norm.
        let alpha0 = if history.is_empty() {
            (1.0 / dot(&g, &g).sqrt()).min(1.0)
        } else {
            1.0
        };
        let Some(acc) = line_search(ev, p, &d, f, g0d, alpha0)? else {
            return Ok(Some(StopReason::NoProgress));
        };
        let x: Vec<f64> = axpy(p, acc.alpha, &d);
        let s: Vec<f64> = x.iter().zip(p.iter()).map(|(a, b)| a - b).collect();
        let y: Vec<f64> = acc.grad.iter().zip(&g).map(|(a, b)| a - b).collect();
        let sy = dot(&s, &y);
        // Keep the pair only when it carries positive curvature (H stays positive definite).
        if sy > 1e-12 * dot(&y, &y).sqrt() * dot(&s, &s).sqrt() {
            if history.len() == m {
                history.pop_front();
            }
            history.push_back((s, y, 1.0 / sy));
        }
        let before = f;
        *p = x;
        f = acc.loss;
        g = acc.grad;
        losses.push(f);
        ev.sample_terms(step, p)?;
        ev.sample_test(step, p)?;
        let (best_loss, best) = ev.best().unwrap_or((f, p));
        let info = Progress {
            terms: ev.terms_at(step),
            test: ev.test_at(step),
            step,
            total: options.steps,
            loss: f,
            best_loss,
            phase: progress::Phase::Lbfgs,
            lr: None,
            best,
            current: p,
            losses,
            adam: None,
            evaluations: ev.evaluations,
        };
        if progress(&info) == Control::Stop {
            return Ok(Some(StopReason::Interrupted));
        }
        if f >= before {
            return Ok(Some(StopReason::NoProgress));
        }
    }
    Ok(None)
}
