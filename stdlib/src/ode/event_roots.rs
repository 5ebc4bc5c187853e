//! Crossing events: which side of zero each condition is armed on, which conditions have
//! crossed at a point, where in a step the first crossing is, and re-arming after events
//! (the rules are in [`super::events`]).
//!
//! Written here rather than through diffsol's `Root` operator: diffsol fires on any sign
//! change (no direction per event), resets every event through one operator, stops its
//! search at a fixed tolerance and unwraps interpolation failures inside it, and has no
//! notion of a condition that must not fire again on the zero it just left. Locating the
//! root ourselves on `solver.interpolate` gives per-event directions and resets, the
//! re-arming rule, and scheduled events in the same loop.

use super::OdeSystem;
use super::events::{Crossing, EventSpec};
use super::validate::fmt_time;
use crate::Error;

/// The side of zero a condition was last seen strictly on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Side {
    Below,
    Above,
}

impl Side {
    fn of(g: f64) -> Option<Side> {
        if g > 0.0 {
            Some(Side::Above)
        } else if g < 0.0 {
            Some(Side::Below)
        } else {
            None
        }
    }
}

/// Whether a condition armed on `side` fires on reaching the value `g`.
fn fires(side: Option<Side>, g: f64, crossing: Crossing) -> bool {
    match side {
        Some(Side::Below) => g >= 0.0 && crossing != Crossing::Falling,
        Some(Side::Above) => g <= 0.0 && crossing != Crossing::Rising,
        None => false,
    }
}

/// The most secant or bisection steps of one root search. Bisection alone halves a step of
/// any length to the tolerance (about `2e-14` of it) in under 50.
const MAX_SEARCH_STEPS: usize = 200;

/// The bracket a root search stops at, relative to `|t| + |h|` (CVODE's choice): far below
/// any solver tolerance, a few hundred roundoffs of the time.
pub(crate) const ROOT_TOL: f64 = 100.0 * f64::EPSILON;

/// A condition within this many root tolerances of zero (times its rate) counts as at its
/// zero when re-arming after an event.
const ZERO_BAND: f64 = 10.0;

/// The first crossing within a step.
pub(crate) struct Root {
    /// The right end of the final bracket: every event in `events` has crossed here.
    pub t: f64,
    /// The events that fire at `t`, in index order.
    pub events: Vec<usize>,
    /// An event that crossed again as soon as it was allowed to after firing (see
    /// [`Conditions::rearm`]): the flow never carried its condition clear of the zero it
    /// fired on.
    pub pinned: Option<usize>,
}

/// The crossing events of a system and the side each is armed on.
pub(crate) struct Conditions<'s> {
    system: &'s dyn OdeSystem,
    p: &'s [f64],
    specs: &'s [EventSpec],
    /// Per event (scheduled ones stay `None`): the side its condition was last seen
    /// strictly on; `None` until it is seen nonzero.
    sides: Vec<Option<Side>>,
    /// Per event: before this time the condition is still leaving the zero it last fired
    /// on (see [`Conditions::rearm`]); it neither fires nor changes side.
    not_before: Vec<f64>,
    any: bool,
}

impl<'s> Conditions<'s> {
    pub fn new(system: &'s dyn OdeSystem, p: &'s [f64]) -> Self {
        let specs = system.events();
        Conditions {
            system,
            p,
            specs,
            sides: vec![None; specs.len()],
            not_before: vec![f64::NEG_INFINITY; specs.len()],
            any: specs.iter().any(|s| s.crossing().is_some()),
        }
    }

    /// Whether there is any crossing event (if not, nothing here needs calling).
    pub fn any(&self) -> bool {
        self.any
    }

    /// `g(t, y)`; a NaN in a crossing event's condition is an error naming it.
    pub fn eval(&self, t: f64, y: &[f64]) -> Result<Vec<f64>, Error> {
        let mut g = vec![0.0; self.specs.len()];
        self.system.event_conditions(t, y, self.p, &mut g);
        for (k, spec) in self.specs.iter().enumerate() {
            if spec.crossing().is_some() && !g[k].is_finite() {
                return Err(Error::numerical(format!(
                    "The condition of {} is {} at t = {}.",
                    super::names::event(self.system, k),
                    g[k],
                    fmt_time(t)
                ))
                .with_help(
                    "the condition must be a finite number wherever the solution goes; check \
                     it for divisions by zero or logarithms of non-positive values near this \
                     time",
                ));
            }
        }
        Ok(g)
    }

    /// Arms every condition on the side of its value at the start (`g` from [`Self::eval`]);
    /// one exactly at zero waits until it is seen nonzero.
    pub fn arm(&mut self, g: &[f64]) {
        for (side, &gk) in self.sides.iter_mut().zip(g) {
            *side = Side::of(gk);
        }
        self.not_before.fill(f64::NEG_INFINITY);
        self.clear_scheduled();
    }

    fn clear_scheduled(&mut self) {
        for (side, spec) in self.sides.iter_mut().zip(self.specs) {
            if spec.crossing().is_none() {
                *side = None;
            }
        }
    }

    /// The events whose condition has crossed at time `t`, where it takes the values `g`,
    /// in index order.
    pub fn crossed(&self, t: f64, g: &[f64]) -> Vec<usize> {
        self.specs
            .iter()
            .enumerate()
            .filter(|(k, spec)| {
                t >= self.not_before[*k]
                    && spec
                        .crossing()
                        .is_some_and(|c| fires(self.sides[*k], g[*k], c))
            })
            .map(|(k, _)| k)
            .collect()
    }

    /// Moves the sides on to a time `t` where nothing fired: each condition is now on the
    /// side of its value `g` there (or stays armed where it was, if it is exactly zero or
    /// still leaving the zero it fired on).
    pub fn pass(&mut self, t: f64, g: &[f64]) {
        for (k, side) in self.sides.iter_mut().enumerate() {
            if t < self.not_before[k] {
                continue;
            }
            if let Some(s) = Side::of(g[k]) {
                *side = Some(s);
            }
        }
        self.clear_scheduled();
    }

    /// The first crossing in `(a, b]`, where `ga` are the values at `a` (nothing crossed
    /// there) and `gb` those at `b` (some event crossed); `y_at` is the solver's interpolant.
    ///
    /// CVODE's method: a secant step on the condition whose secant root is earliest, with
    /// the Illinois weighting once one end of the bracket stays put, then every condition
    /// checked at the new point to keep the earliest crossing bracketed.
    pub fn locate(
        &self,
        (a, ga): (f64, &[f64]),
        (b, gb): (f64, &[f64]),
        mut y_at: impl FnMut(f64) -> Result<Vec<f64>, Error>,
    ) -> Result<Root, Error> {
        let tol = ROOT_TOL * (b.abs() + (b - a).abs());
        let (mut a, mut ga) = (a, ga.to_vec());
        let (mut b, mut gb) = (b, gb.to_vec());
        let mut events = self.crossed(b, &gb);
        let mut alpha = 1.0;
        // Which end moved last: `true` for `b` (the crossing is in the lower part).
        let mut last_moved_b: Option<bool> = None;
        for _ in 0..MAX_SEARCH_STEPS {
            if b - a <= tol || events.is_empty() {
                break;
            }
            let mid = self
                .secant(&events, (a, &ga), (b, &gb), alpha)
                .unwrap_or(0.5 * (a + b))
                .clamp(a + 0.5 * tol, b - 0.5 * tol);
            let g_mid = self.eval(mid, &y_at(mid)?)?;
            let hit = self.crossed(mid, &g_mid);
            let moved_b = !hit.is_empty();
            if moved_b {
                (b, gb, events) = (mid, g_mid, hit);
            } else {
                (a, ga) = (mid, g_mid);
            }
            alpha = match last_moved_b {
                Some(prev) if prev == moved_b && moved_b => 0.5 * alpha,
                Some(prev) if prev == moved_b => 2.0 * alpha,
                _ => 1.0,
            };
            last_moved_b = Some(moved_b);
        }
        let pinned = events
            .iter()
            .copied()
            .find(|&k| b <= self.not_before[k] + 2.0 * tol);
        Ok(Root {
            t: b,
            events,
            pinned,
        })
    }

    /// The earliest secant root among the crossed conditions that are strictly on their
    /// armed side at `a` (the others give no secant: after an event a condition may sit a
    /// rounding error on the other side of zero); `None` when there is none.
    fn secant(
        &self,
        events: &[usize],
        (a, ga): (f64, &[f64]),
        (b, gb): (f64, &[f64]),
        alpha: f64,
    ) -> Option<f64> {
        events
            .iter()
            .filter(|&&k| Side::of(ga[k]).is_some() && Side::of(ga[k]) == self.sides[k])
            .map(|&k| b - (b - a) * gb[k] / (gb[k] - alpha * ga[k]))
            .filter(|t| t.is_finite())
            .min_by(f64::total_cmp)
    }

    /// Re-arms every condition after events at `t` took the state from `before` to `after`
    /// (each `(y, f(t, y))`); `fired` are the events that fired, `h` the last step's length
    /// (the time scale of the probes). See the rules in [`super::events`].
    pub fn rearm(
        &mut self,
        t: f64,
        before: (&[f64], &[f64]),
        after: (&[f64], &[f64]),
        fired: &[usize],
        h: f64,
    ) -> Result<(), Error> {
        let tol = ROOT_TOL * (t.abs() + h.abs());
        let (g_after, rate_after) = self.rate(t, after, h)?;
        let fired_crossing = fired.iter().any(|&k| self.specs[k].crossing().is_some());
        let before = if fired_crossing {
            Some(self.rate(t, before, h)?)
        } else {
            None
        };
        for (k, side) in self.sides.iter_mut().enumerate() {
            let g = g_after[k];
            // No further from zero than at the crossing (the reset left the condition
            // alone), or within the root tolerance's reach of it.
            let near_zero = before.as_ref().is_some_and(|(g_before, rate_before)| {
                let band = ZERO_BAND * tol * rate_before[k].abs().max(rate_after[k].abs());
                g.abs() <= g_before[k].abs() + band
            });
            self.not_before[k] = f64::NEG_INFINITY;
            if fired.contains(&k) && near_zero {
                // Still at the zero it fired on: armed on the side the flow takes it to, or
                // (not moving) where it was, so that falling back fires it again.
                let rate = rate_after[k];
                if let Some(s) = Side::of(rate) {
                    *side = Some(s);
                    // A rounding error on the other side of zero is no new crossing: the
                    // condition is left alone until the flow has had the time to carry it
                    // clear (twice the time to cover its distance from zero).
                    if Side::of(g) != Some(s) {
                        self.not_before[k] = t + 2.0 * g.abs() / rate.abs();
                    }
                }
            } else if let Some(s) = Side::of(g) {
                *side = Some(s);
            }
        }
        self.clear_scheduled();
        Ok(())
    }

    /// The conditions at `(t, y)` and their rates of change along the flow `f`, from one
    /// probe a short time along the tangent: `(g(t + δ, y + δ f) − g(t, y)) / δ`.
    fn rate(
        &self,
        t: f64,
        (y, f): (&[f64], &[f64]),
        h: f64,
    ) -> Result<(Vec<f64>, Vec<f64>), Error> {
        let delta = (f64::EPSILON.sqrt() * h.abs()).max(16.0 * f64::EPSILON * t.abs());
        let delta = if delta > 0.0 { delta } else { f64::EPSILON };
        let g = self.eval(t, y)?;
        let probe: Vec<f64> = y.iter().zip(f).map(|(y, f)| y + delta * f).collect();
        let g_probe = self.eval(t + delta, &probe)?;
        let rate = g_probe
            .iter()
            .zip(&g)
            .map(|(p, g)| (p - g) / delta)
            .collect();
        Ok((g, rate))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn directions() {
        use Crossing::*;
        assert!(fires(Some(Side::Below), 0.0, Rising));
        assert!(fires(Some(Side::Below), 1.0, Either));
        assert!(!fires(Some(Side::Below), 1.0, Falling));
        assert!(fires(Some(Side::Above), 0.0, Falling));
        assert!(!fires(Some(Side::Above), -1.0, Rising));
        assert!(!fires(None, 0.0, Either));
        assert!(!fires(Some(Side::Below), -1.0, Either));
    }
}
