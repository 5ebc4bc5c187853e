//! What an event does to the state and to its sensitivities: the reset `y⁺ = R_k(t, y⁻)`,
//! the event time's own sensitivity `τ_θ = dt*/dθ` at a crossing, and the jump of
//! `s = dy/dθ` across the event (the formulas are in [`super::events`]).
//!
//! Sensitivities here are diffsol's batch lanes flattened: lane `j` (parameter `j`) is
//! `s[j n .. (j + 1) n]`.
//!
//! For a DAE, `f` in the formulas is the velocity `ẏ` (the algebraic rows of the
//! right-hand side are residuals, not derivatives), a reset is followed by solving for the
//! algebraic states again, and the sensitivities' algebraic rows are made consistent at the
//! new state (see `dae.rs`).

use super::OdeSystem;
use super::dae::{Dae, Moment};
use super::validate::fmt_time;
use crate::Error;

/// The event methods of a system at fixed parameters.
pub(crate) struct Jumps<'s> {
    system: &'s dyn OdeSystem,
    p: &'s [f64],
    n: usize,
    np: usize,
    dae: Option<&'s Dae<'s>>,
}

impl<'s> Jumps<'s> {
    pub fn new(system: &'s dyn OdeSystem, p: &'s [f64], dae: Option<&'s Dae<'s>>) -> Self {
        Jumps {
            system,
            p,
            n: system.n_states(),
            np: system.n_params(),
            dae,
        }
    }

    /// `ẏ` at `(t, y)`: `f(t, y)` for an ODE, for a DAE with the algebraic states' derivatives
    /// in the algebraic rows.
    pub fn velocity(&self, t: f64, y: &[f64]) -> Result<Vec<f64>, Error> {
        if let Some(dae) = self.dae {
            return dae.velocity(t, y, Moment::During);
        }
        let mut dy = vec![0.0; self.n];
        self.system.rhs(t, y, self.p, &mut dy);
        Ok(dy)
    }

    /// For a DAE, the algebraic rows of the sensitivities `s` made consistent at the state
    /// `(t, y)` after a reset; nothing for an ODE.
    pub fn settle_sens(&self, t: f64, y: &[f64], s: &mut [f64]) -> Result<(), Error> {
        match self.dae {
            Some(dae) => dae.settle_sens(t, y, s, Moment::Reset),
            None => Ok(()),
        }
    }

    /// `R_k(t, y)`, for a DAE with the algebraic states then solved for again (the values
    /// the reset leaves in them are the guesses); a state that is not finite afterwards is
    /// an error naming the event.
    pub fn reset(&self, k: usize, t: f64, y: &[f64]) -> Result<Vec<f64>, Error> {
        let mut y_new = y.to_vec();
        self.system.event_reset(k, t, y, self.p, &mut y_new);
        if let Some((i, v)) = y_new.iter().enumerate().find(|(_, v)| !v.is_finite()) {
            return Err(Error::numerical(format!(
                "The reset of {} at t = {} made {} {v}.",
                super::names::event(self.system, k),
                fmt_time(t),
                super::names::state(self.system, i)
            ))
            .with_help(
                "check the reset's formula (a division by zero, a logarithm of a non-positive \
                 value) at the state where the event fired",
            ));
        }
        match self.dae {
            Some(dae) => dae.consistent(t, &y_new, Moment::Reset),
            None => Ok(y_new),
        }
    }

    /// `τ_θ = −(g_y s + g_θ) / (g_y f + g_t)` for crossing event `k` at `(t, y)` with
    /// `f = f(t, y)` and sensitivities `s`: one value per parameter.
    pub fn event_time_sens(
        &self,
        k: usize,
        t: f64,
        (y, f): (&[f64], &[f64]),
        s: &[f64],
    ) -> Result<Vec<f64>, Error> {
        let nev = self.system.events().len();
        let mut out = vec![0.0; nev];
        let mut g_t = vec![0.0; nev];
        self.system
            .event_conditions_jac_mul(t, y, self.p, f, &mut out);
        self.system
            .event_conditions_time_derivative(t, y, self.p, &mut g_t);
        let rate = out[k] + g_t[k];
        if rate == 0.0 || !rate.is_finite() {
            return Err(Error::numerical(format!(
                "The sensitivities cannot be carried across {} at t = {}: its \
                 condition's rate of change there (∂g/∂y · f + ∂g/∂t) is {rate}, so the event \
                 time does not depend smoothly on the parameters.",
                super::names::event(self.system, k),
                fmt_time(t)
            ))
            .with_help(
                "a condition that only touches zero has no well-defined crossing time; make \
                 the condition cross zero, or solve without sensitivities (a hand-written \
                 system must implement `event_conditions_jac_mul` and, for conditions with \
                 `t` in them, `event_conditions_time_derivative`)",
            ));
        }
        let mut e = vec![0.0; self.np];
        let mut by_param = vec![0.0; nev];
        let tau = (0..self.np)
            .map(|j| {
                self.system
                    .event_conditions_jac_mul(t, y, self.p, self.lane(s, j), &mut out);
                e[j] = 1.0;
                self.system
                    .event_conditions_param_jac_mul(t, y, self.p, &e, &mut by_param);
                e[j] = 0.0;
                -(out[k] + by_param[k]) / rate
            })
            .collect();
        Ok(tau)
    }

    /// `s⁺ = R_y s⁻ + R_θ + (R_y f⁻ + R_t − f⁺) τ_θ` for reset event `k` at `t` from
    /// `(y⁻, f⁻)` to `f⁺`; `tau` is `None` at a scheduled event (`τ_θ = 0`).
    pub fn reset_sens(
        &self,
        k: usize,
        t: f64,
        (y, f_before): (&[f64], &[f64]),
        f_after: &[f64],
        s: &[f64],
        tau: Option<&[f64]>,
    ) -> Vec<f64> {
        let n = self.n;
        // The direction the event time's shift moves the state in: `R_y f⁻ + R_t − f⁺`.
        let shift = tau.map(|_| {
            let mut r_f = vec![0.0; n];
            let mut r_t = vec![0.0; n];
            self.system
                .event_reset_jac_mul(k, t, y, self.p, f_before, &mut r_f);
            self.system
                .event_reset_time_derivative(k, t, y, self.p, &mut r_t);
            (0..n)
                .map(|i| r_f[i] + r_t[i] - f_after[i])
                .collect::<Vec<f64>>()
        });
        let mut out = vec![0.0; n * self.np];
        let mut e = vec![0.0; self.np];
        let mut by_param = vec![0.0; n];
        for j in 0..self.np {
            let lane = &mut out[j * n..(j + 1) * n];
            self.system
                .event_reset_jac_mul(k, t, y, self.p, self.lane(s, j), lane);
            e[j] = 1.0;
            self.system
                .event_reset_param_jac_mul(k, t, y, self.p, &e, &mut by_param);
            e[j] = 0.0;
            for i in 0..n {
                lane[i] += by_param[i];
            }
            if let (Some(shift), Some(tau)) = (&shift, tau) {
                for i in 0..n {
                    lane[i] += shift[i] * tau[j];
                }
            }
        }
        out
    }

    /// `s + f τ_θ`: the sensitivities of the state at a stop whose time moves with `θ`.
    pub fn stop_sens(&self, f: &[f64], s: &[f64], tau: &[f64]) -> Vec<f64> {
        let n = self.n;
        let mut out = s.to_vec();
        for (j, lane) in out.chunks_mut(n).take(self.np).enumerate() {
            for i in 0..n {
                lane[i] += f[i] * tau[j];
            }
        }
        out
    }

    /// `ds = f_y s + f_θ` at `(t, y)`: the sensitivities' derivative, which the solvers
    /// restart from after a reset.
    pub fn sens_rhs(&self, t: f64, y: &[f64], s: &[f64]) -> Vec<f64> {
        let (n, np) = (self.n, self.np);
        let mut out = vec![0.0; n * np];
        let mut f_p = vec![0.0; n * np];
        let dense_f_p = self.system.param_jacobian(t, y, self.p, &mut f_p);
        let mut e = vec![0.0; np];
        let mut by_param = vec![0.0; n];
        for j in 0..np {
            let lane = &mut out[j * n..(j + 1) * n];
            self.system.jac_mul(t, y, self.p, self.lane(s, j), lane);
            if dense_f_p {
                for i in 0..n {
                    lane[i] += f_p[i * np + j];
                }
            } else {
                e[j] = 1.0;
                self.system.param_jac_mul(t, y, self.p, &e, &mut by_param);
                e[j] = 0.0;
                for i in 0..n {
                    lane[i] += by_param[i];
                }
            }
        }
        out
    }

    fn lane<'a>(&self, s: &'a [f64], j: usize) -> &'a [f64] {
        &s[j * self.n..(j + 1) * self.n]
    }
}
