//! Dense output: the solution at any time of the span, from the solver's own steps.
//!
//! While the solver steps, each step's end and three interior points of the solver's own
//! interpolant (at a quarter, half and three quarters of the step) are kept; afterwards the
//! solution between two such nodes is the cubic Hermite polynomial through their states and
//! derivatives `f(t, y)`. It is continuous with a continuous derivative and exact at the
//! steps; its interpolation error is of order `(h/4)⁴` in a step of length `h`, 256 times
//! less than Hermite over whole steps (which was 300 times Tsit5's tolerance on
//! Lotka–Volterra at rtol 1e-8), and stays within a few tolerances of the solver's own
//! interpolant (measured in `stdlib/tests/ode_solvers.rs`: 1.6e-8 relative for Tsit5 and
//! 4e-10 for BDF at rtol 1e-8, 5e-6 for Tsit5 at rtol 1e-5). For the solver's own values at
//! given times, ask for them with [`super::SolveOptions::times`]; this is for evaluating a
//! solution afterwards, at times not known before the solve (plots zoomed in, a loss at new
//! data times). Cost: three interpolations while stepping and four right-hand side
//! evaluations per step after the solve, and `4 n` numbers per step kept.
//!
//! For a DAE the derivatives at the nodes are the velocities `ẏ` (the algebraic rows of `f`
//! are residuals): see `dae.rs`.
//!
//! Events that reset the state leave two nodes at their time, the states before and after:
//! no polynomial spans the jump, and [`DenseOutput::at`] is right-continuous there (the
//! state after the reset at the event time itself, the piece before it just before).
//!
//! Written here: diffsol interpolates only inside the step just taken, and a Hermite table
//! is a few lines.

use super::OdeSystem;
use super::dae::{Dae, Moment};
use crate::Error;

/// The solution between its steps.
#[derive(Clone, Debug, PartialEq)]
pub struct DenseOutput {
    /// The step times, increasing: the start, then every step's end (an event's time twice
    /// when it reset the state: before, then after).
    t: Vec<f64>,
    /// The state at each time.
    y: Vec<Vec<f64>>,
    /// `ẏ` at each time: `f(t, y)`, or a DAE's velocity.
    dy: Vec<Vec<f64>>,
}

impl DenseOutput {
    /// The table of `nodes` (`(t, y)`, increasing `t`; a time twice for a jump), with `f`
    /// evaluated at each (one right-hand side evaluation per node, after the solve; for a
    /// DAE, the velocity).
    pub(crate) fn new(
        system: &dyn OdeSystem,
        p: &[f64],
        dae: Option<&Dae<'_>>,
        nodes: Vec<(f64, Vec<f64>)>,
    ) -> Self {
        let n = system.n_states();
        let mut out = DenseOutput {
            t: Vec::with_capacity(nodes.len()),
            y: Vec::with_capacity(nodes.len()),
            dy: Vec::with_capacity(nodes.len()),
        };
        for (t, y) in nodes {
            // A zero-length step adds nothing to interpolate; a second state at the same time
            // is an event's jump, kept so that each side is interpolated on its own.
            let repeat = |last: &f64| t < *last || (t == *last && out.y.last() == Some(&y));
            if out.t.last().is_some_and(repeat) {
                continue;
            }
            let mut dy = vec![0.0; n];
            system.rhs(t, &y, p, &mut dy);
            if let Some(dae) = dae {
                // The nodes are states the solve went through, where `∂f_alg/∂z` was
                // regular (a singular one would have stopped it), so failing here is next to
                // impossible; the algebraic rows then get a zero derivative rather than the
                // whole output failing after a successful solve.
                match dae.velocity(t, &y, Moment::During) {
                    Ok(v) => dy = v,
                    Err(_) => dae.zero_algebraic(&mut dy),
                }
            }
            out.t.push(t);
            out.y.push(y);
            out.dy.push(dy);
        }
        out
    }

    /// The times of the nodes (the start first, then per step its interior nodes and its
    /// end; an event's time twice where it reset the state).
    pub fn nodes(&self) -> &[f64] {
        &self.t
    }

    /// The interval the output covers.
    pub fn span(&self) -> (f64, f64) {
        (
            self.t.first().copied().unwrap_or(f64::NAN),
            self.t.last().copied().unwrap_or(f64::NAN),
        )
    }

    /// The state at time `t` of the span; at the time of a reset, the state after it.
    pub fn at(&self, t: f64) -> Result<Vec<f64>, Error> {
        let mut y = vec![0.0; self.y.first().map_or(0, Vec::len)];
        self.at_into(t, &mut y)?;
        Ok(y)
    }

    /// [`DenseOutput::at`] into `y` (one entry per state), without allocating: for callers
    /// that interpolate at every step of another solve (the adjoint equations).
    pub fn at_into(&self, t: f64, y: &mut [f64]) -> Result<(), Error> {
        let (t0, t1) = self.span();
        if !(t >= t0 && t <= t1) {
            return Err(Error::input(format!(
                "The dense output covers {t0} ≤ t ≤ {t1}; t = {t} is outside it."
            )));
        }
        let n = self.y[0].len();
        if y.len() != n {
            return Err(Error::input(format!(
                "The dense output has {n} states, but room for {} was given.",
                y.len()
            )));
        }
        // The step [t[k], t[k + 1]] holding t: the last node at or before t, so the state
        // after a jump at t itself, and t[k + 1] > t.
        let k = self.t.partition_point(|&s| s <= t).saturating_sub(1);
        if k + 1 >= self.t.len() {
            y.copy_from_slice(&self.y[self.t.len() - 1]);
            return Ok(());
        }
        let h = self.t[k + 1] - self.t[k];
        let s = (t - self.t[k]) / h;
        let (s2, s3) = (s * s, s * s * s);
        let h00 = 2.0 * s3 - 3.0 * s2 + 1.0;
        let h10 = s3 - 2.0 * s2 + s;
        let h01 = -2.0 * s3 + 3.0 * s2;
        let h11 = s3 - s2;
        let (y0, y1) = (&self.y[k], &self.y[k + 1]);
        let (f0, f1) = (&self.dy[k], &self.dy[k + 1]);
        for (i, yi) in y.iter_mut().enumerate() {
            *yi = h00 * y0[i] + h * (h10 * f0[i] + h11 * f1[i]) + h01 * y1[i];
        }
        Ok(())
    }

    /// [`DenseOutput::at_into`] continued past either end by the state there: solvers
    /// integrating along this solution (the adjoint equations) may evaluate their
    /// right-hand side beyond their end while choosing the first step (they never step
    /// past it, but their last node may lie a rounding error outside); a polynomial
    /// continued that far would be meaningless.
    pub(crate) fn clamped_into(&self, t: f64, y: &mut [f64]) -> Result<(), Error> {
        // Not `f64::clamp`, which panics on the NaN span of an empty output.
        let (t0, t1) = self.span();
        let t = if t < t0 {
            t0
        } else if t > t1 {
            t1
        } else {
            t
        };
        self.at_into(t, y)
    }
}
