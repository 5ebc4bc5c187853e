//! Semi-explicit index-1 DAEs: `u' = f_u(t, u, z)`, `0 = f_z(t, u, z)`, where the states
//! marked [`OdeSystem::algebraic`] are the algebraic states `z` and their rows of the
//! right-hand side are the algebraic equations' residuals.
//!
//! diffsol integrates them with the mass matrix `M = diag(1 for u, 0 for z)` (BDF and the
//! SDIRK methods handle a singular `M`; see `adapter.rs`). What is here is what happens
//! around the integration:
//!
//! - **Consistent states.** Before the first step and after every reset the algebraic
//!   states are solved for by Newton's method on `f_alg(t, u, z) = 0` in `z`, from the
//!   values in the state as guesses, with the block `∂f_alg/∂z` (`dae_block.rs`) and a
//!   backtracking line search on the residual's norm. A singular block is an input error:
//!   the algebraic equations do not determine the algebraic states, so the DAE's index is
//!   higher than 1. diffsol has its own consistent initialisation (Brown, Hindmarsh and
//!   Petzold's, run when a solver is built); we run ours first so that the failures are
//!   ours to explain (which states, what residual, which index problem), and hand diffsol a
//!   state that is already consistent, so that its own iteration has nothing left to do.
//! - **Velocities.** `ẏ` is `f` on the differential rows, but the rows of `f` for the
//!   algebraic states are residuals, not derivatives: differentiating the constraint gives
//!   `ż = −(∂f_alg/∂z)⁻¹ (∂f_alg/∂u · u' + ∂f_alg/∂t)`. The solvers start from it (diffsol
//!   would start from `ż = 0`), the event formulas take it (the rate of a condition on an
//!   algebraic state, the shift of a moving event time) and dense output interpolates with
//!   it. `∂f_alg/∂t` is not part of [`OdeSystem`], so it is a forward difference in `t`
//!   (exactly zero for equations without explicit time dependence).
//! - **Output.** At interpolated times (requested output times, dense output's interior
//!   nodes, the search for an event's time) the algebraic states are solved for again from
//!   the interpolated ones, the sensitivities' algebraic rows likewise (see
//!   `Drive::settle` in `stepping.rs` for why).
//! - **Sensitivities.** The algebraic rows of `s = dy/dθ` follow from differentiating the
//!   constraint in `θ` at a fixed time: `s_z = −(∂f_alg/∂z)⁻¹ (∂f_alg/∂u · s_u + ∂f_alg/∂θ)`,
//!   at the start (with `s_u = ∂u0/∂θ`) and after every reset. diffsol integrates the
//!   sensitivity equations `M s' = f_y s + f_θ` with the same mass matrix.

use super::OdeSystem;
use super::dae_block::{Block, Singular};
use super::validate::fmt_time;
use crate::Error;

/// Newton iterations allowed to make the algebraic states consistent.
const MAX_NEWTON_ITERATIONS: usize = 50;
/// Newton has converged when its last step was at most this fraction of the error
/// tolerance in every algebraic state (or at rounding level); the iteration converges
/// quadratically, so the state it leaves is then far more accurate than the solver needs.
const NEWTON_STEP_FRACTION: f64 = 1e-3;
/// The line search halves the Newton step at most until it is this fraction of it.
const MIN_STEP_FRACTION: f64 = 1.0 / 1024.0;
/// The decrease of the residual's norm a line-search step must achieve, per unit of step
/// fraction (Armijo's condition).
const ARMIJO: f64 = 1e-4;

/// Where consistency is established, for the messages.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Moment {
    /// Before the first step.
    Start,
    /// After a reset.
    Reset,
    /// During the integration (a velocity or sensitivities at an event, dense output).
    During,
}

impl Moment {
    fn at(self, t: f64) -> String {
        match self {
            Moment::Start => format!("at the start (t = {})", fmt_time(t)),
            Moment::Reset => format!("after the reset at t = {}", fmt_time(t)),
            Moment::During => format!("at t = {}", fmt_time(t)),
        }
    }
}

/// A DAE at fixed parameters: which states are algebraic, and the operations above.
pub(crate) struct Dae<'s> {
    system: &'s dyn OdeSystem,
    p: &'s [f64],
    n: usize,
    np: usize,
    /// The algebraic states, increasing.
    alg: Vec<usize>,
    /// `slot[i]`: the position of state `i` among the algebraic states.
    slot: Vec<Option<usize>>,
    rtol: f64,
    atol: f64,
    /// The length of the span: the time scale of the difference in `t` of `velocity`.
    span: f64,
}

impl<'s> Dae<'s> {
    /// The DAE of `system`, `None` for an ODE (no state marked algebraic). A marking of the
    /// wrong length and a system with only algebraic states are input errors.
    pub fn new(
        system: &'s dyn OdeSystem,
        p: &'s [f64],
        (rtol, atol): (f64, f64),
        (t0, t_end): (f64, f64),
    ) -> Result<Option<Dae<'s>>, Error> {
        let n = system.n_states();
        let marks = system.algebraic();
        if marks.is_empty() {
            return Ok(None);
        }
        if marks.len() != n {
            return Err(Error::input(format!(
                "The system marks {} state{} as algebraic or differential, but it has {n} states.",
                marks.len(),
                if marks.len() == 1 { "" } else { "s" }
            ))
            .with_help(
                "`algebraic()` must be empty (an ODE) or have one entry per state (true for an \
                 algebraic state)",
            ));
        }
        let alg: Vec<usize> = (0..n).filter(|&i| marks[i]).collect();
        if alg.is_empty() {
            return Ok(None);
        }
        if alg.len() == n {
            return Err(Error::input(format!(
                "All {n} states of the system are algebraic: there is nothing to integrate."
            ))
            .with_help(
                "a DAE needs at least one differential state (an equation for a time \
                 derivative); equations without any are a nonlinear system to solve, not to \
                 integrate",
            ));
        }
        let mut slot = vec![None; n];
        for (k, &i) in alg.iter().enumerate() {
            slot[i] = Some(k);
        }
        Ok(Some(Dae {
            system,
            p,
            n,
            np: system.n_params(),
            alg,
            slot,
            rtol,
            atol,
            span: t_end - t0,
        }))
    }

    /// How many states are algebraic.
    pub fn len(&self) -> usize {
        self.alg.len()
    }

    /// The mass matrix's diagonal: 1 for a differential state, 0 for an algebraic one.
    pub fn mass_diagonal(&self) -> Vec<f64> {
        self.slot
            .iter()
            .map(|s| if s.is_some() { 0.0 } else { 1.0 })
            .collect()
    }

    /// Sets the algebraic rows of `v` to zero.
    pub fn zero_algebraic(&self, v: &mut [f64]) {
        for &i in &self.alg {
            v[i] = 0.0;
        }
    }

    /// `y` with its algebraic states solved for by Newton's method (their values in `y` are
    /// the starting guesses); the differential states are kept.
    pub fn consistent(&self, t: f64, y: &[f64], moment: Moment) -> Result<Vec<f64>, Error> {
        let mut y = y.to_vec();
        let mut r = self.residual(t, &y);
        let mut norm = norm2(&r);
        if !norm.is_finite() {
            return Err(self.not_finite_residual(t, moment));
        }
        let mut trial = y.clone();
        // The factors of the last iterate's block, kept while Newton converges fast (the
        // chord method: close to the solution the block hardly changes, and forming it costs
        // a Jacobian; from interpolated outputs one block usually serves to the end).
        let mut kept: Option<Block> = None;
        let mut formed = false;
        for iteration in 1..=MAX_NEWTON_ITERATIONS {
            let (block, stale) = match kept.take() {
                Some(block) => (block, true),
                None => match self.block_at(t, &y) {
                    Ok(block) => (block, false),
                    // The block at the starting point is the index check; singular at a later
                    // iterate, Newton has wandered to a singular point of regular equations.
                    Err(why) if !formed || why == Singular::NotFinite => {
                        return Err(self.singular(t, moment, why));
                    }
                    Err(_) => {
                        return Err(self
                            .no_convergence(t, moment, iteration - 1, norm)
                            .with_help(format!(
                                "Newton's iteration reached a point where the algebraic \
                                 equations' Jacobian with respect to the algebraic states is \
                                 singular; {}",
                                self.no_convergence_help(moment)
                            )));
                    }
                },
            };
            formed = true;
            let mut dz = r.clone();
            block.solve(&mut dz);
            let small = self.alg.iter().zip(&dz).all(|(&i, d)| {
                let z = y[i].abs();
                d.abs()
                    <= (NEWTON_STEP_FRACTION * (self.rtol * z + self.atol))
                        .max(16.0 * f64::EPSILON * z)
            });
            // Backtrack until the residual's norm decreases enough (a step at rounding level
            // is taken as it is: the residual there is rounding noise).
            let mut fraction = 1.0;
            let accepted = loop {
                trial.copy_from_slice(&y);
                for (&i, d) in self.alg.iter().zip(&dz) {
                    trial[i] -= fraction * d;
                }
                let r_trial = self.residual(t, &trial);
                let n_trial = norm2(&r_trial);
                if n_trial.is_finite() && (small || n_trial <= (1.0 - ARMIJO * fraction) * norm) {
                    break Some((r_trial, n_trial));
                }
                fraction /= 2.0;
                if fraction < MIN_STEP_FRACTION {
                    break None;
                }
            };
            let Some((r_new, n_new)) = accepted else {
                if stale {
                    // Try again with the block at this iterate.
                    continue;
                }
                return Err(self.no_convergence(t, moment, iteration, norm));
            };
            std::mem::swap(&mut y, &mut trial);
            if small || n_new == 0.0 {
                return Ok(y);
            }
            if n_new <= 0.25 * norm {
                kept = Some(block);
            }
            (r, norm) = (r_new, n_new);
        }
        Err(self.no_convergence(t, moment, MAX_NEWTON_ITERATIONS, norm))
    }

    /// `ẏ` at `(t, y)`: `f` on the differential rows, `ż` from the differentiated constraint
    /// (see the module header).
    pub fn velocity(&self, t: f64, y: &[f64], moment: Moment) -> Result<Vec<f64>, Error> {
        let (n, p) = (self.n, self.p);
        let mut f = vec![0.0; n];
        self.system.rhs(t, y, p, &mut f);
        let mut v = f.clone();
        for &i in &self.alg {
            v[i] = 0.0;
        }
        let mut jv = vec![0.0; n];
        self.system.jac_mul(t, y, p, &v, &mut jv);
        // A forward difference (a backward one could step before t0, where a model need not
        // be defined), with a step on the span's time scale but above rounding in `t`.
        let eps = f64::EPSILON;
        let h = (eps.sqrt() * self.span).max(1e3 * eps * t.abs());
        let h = (t + h) - t;
        let mut f_h = vec![0.0; n];
        self.system.rhs(t + h, y, p, &mut f_h);
        let mut r: Vec<f64> = self
            .alg
            .iter()
            .map(|&i| jv[i] + (f_h[i] - f[i]) / h)
            .collect();
        self.block(t, y, moment)?.solve(&mut r);
        for (&i, dz) in self.alg.iter().zip(&r) {
            v[i] = -dz;
        }
        Ok(v)
    }

    /// Replaces the algebraic rows of the sensitivities `s` (diffsol's flattened lanes, `n`
    /// values per parameter) at the consistent state `(t, y)` by the consistent ones,
    /// `s_z = −(∂f_alg/∂z)⁻¹ (∂f_alg/∂u · s_u + ∂f_alg/∂θ)`.
    pub fn settle_sens(
        &self,
        t: f64,
        y: &[f64],
        s: &mut [f64],
        moment: Moment,
    ) -> Result<(), Error> {
        let (n, np, p) = (self.n, self.np, self.p);
        if np == 0 {
            return Ok(());
        }
        let block = self.block(t, y, moment)?;
        let mut f_p = vec![0.0; n * np];
        let dense_f_p = self.system.param_jacobian(t, y, p, &mut f_p);
        let (mut w, mut out, mut by_param) = (vec![0.0; n], vec![0.0; n], vec![0.0; n]);
        let mut e = vec![0.0; np];
        for (j, lane) in s.chunks_mut(n).take(np).enumerate() {
            w.copy_from_slice(lane);
            for &i in &self.alg {
                w[i] = 0.0;
            }
            self.system.jac_mul(t, y, p, &w, &mut out);
            if dense_f_p {
                for (i, o) in out.iter_mut().enumerate() {
                    *o += f_p[i * np + j];
                }
            } else {
                e[j] = 1.0;
                self.system.param_jac_mul(t, y, p, &e, &mut by_param);
                e[j] = 0.0;
                for (o, b) in out.iter_mut().zip(&by_param) {
                    *o += b;
                }
            }
            let mut r: Vec<f64> = self.alg.iter().map(|&i| out[i]).collect();
            block.solve(&mut r);
            for (&i, sz) in self.alg.iter().zip(&r) {
                lane[i] = -sz;
            }
        }
        Ok(())
    }

    /// The consistent initial sensitivities at the consistent initial state `(t0, y0)`:
    /// `∂y0/∂θ` on the differential rows, the algebraic rows from [`Dae::settle_sens`].
    pub fn initial_sens(&self, t0: f64, y0: &[f64]) -> Result<Vec<f64>, Error> {
        let (n, np) = (self.n, self.np);
        let mut s = vec![0.0; n * np];
        let mut e = vec![0.0; np];
        for (j, lane) in s.chunks_mut(n).enumerate() {
            e[j] = 1.0;
            self.system.y0_param_jac_mul(self.p, &e, lane);
            e[j] = 0.0;
        }
        self.settle_sens(t0, y0, &mut s, Moment::Start)?;
        Ok(s)
    }

    /// The algebraic rows of `f(t, y)`.
    fn residual(&self, t: f64, y: &[f64]) -> Vec<f64> {
        let mut f = vec![0.0; self.n];
        self.system.rhs(t, y, self.p, &mut f);
        self.alg.iter().map(|&i| f[i]).collect()
    }

    /// `∂f_alg/∂z` at `(t, y)`, factored; singular is the index error.
    fn block(&self, t: f64, y: &[f64], moment: Moment) -> Result<Block, Error> {
        self.block_at(t, y)
            .map_err(|why| self.singular(t, moment, why))
    }

    /// `∂f_alg/∂z` at `(t, y)`, factored, or why it is singular.
    fn block_at(&self, t: f64, y: &[f64]) -> Result<Block, Singular> {
        let (n, m, p) = (self.n, self.alg.len(), self.p);
        let mut a = vec![0.0; m * m];
        match self.system.sparsity() {
            // One evaluation of the sparse Jacobian's values (the pattern was validated).
            Some(pattern) => {
                let mut values = vec![0.0; pattern.col_idx.len()];
                self.system.jacobian_values(t, y, p, &mut values);
                for (ri, &r) in self.alg.iter().enumerate() {
                    let entries = pattern.row_ptr[r]..pattern.row_ptr[r + 1];
                    for (&c, &v) in pattern.col_idx[entries.clone()]
                        .iter()
                        .zip(&values[entries])
                    {
                        if let Some(cj) = self.slot[c] {
                            a[ri * m + cj] = v;
                        }
                    }
                }
            }
            // One product per algebraic column.
            None => {
                let (mut e, mut col) = (vec![0.0; n], vec![0.0; n]);
                for (cj, &c) in self.alg.iter().enumerate() {
                    e[c] = 1.0;
                    self.system.jac_mul(t, y, p, &e, &mut col);
                    e[c] = 0.0;
                    for (ri, &r) in self.alg.iter().enumerate() {
                        a[ri * m + cj] = col[r];
                    }
                }
            }
        }
        Block::factor(m, a)
    }

    /// The error for a singular `∂f_alg/∂z`.
    fn singular(&self, t: f64, moment: Moment, why: Singular) -> Error {
        let states = |pos: &[usize]| -> Vec<usize> { pos.iter().map(|&k| self.alg[k]).collect() };
        let detail = match why {
            Singular::NotFinite => {
                return Error::numerical(format!(
                    "The Jacobian of the algebraic equations is NaN or infinite {}.",
                    moment.at(t)
                ))
                .with_help(
                    "check the algebraic equations for divisions by zero, or logarithms and \
                     square roots of negative values, at this state (at the start: at the \
                     initial guesses of the algebraic states)",
                );
            }
            Singular::ZeroRows(rows) => {
                let rows = states(&rows);
                format!(
                    "the algebraic equation{} in row{} {} depend{} on none of the algebraic \
                     states here",
                    plural(rows.len()),
                    plural(rows.len()),
                    list(&rows),
                    if rows.len() == 1 { "s" } else { "" }
                )
            }
            Singular::ZeroColumns(cols) => {
                let cols = states(&cols);
                format!(
                    "none of the algebraic equations depends on algebraic state{} {} here",
                    plural(cols.len()),
                    list(&cols)
                )
            }
            Singular::Rank => "it is singular".to_string(),
        };
        Error::input(format!(
            "The algebraic equations do not determine the algebraic states ({}) {}: their \
             Jacobian with respect to those states, ∂f_alg/∂z, is singular ({detail}). The DAE \
             is of index higher than 1, which the solvers cannot integrate.",
            self.states(),
            moment.at(t)
        ))
        .with_help(
            "reduce the index: differentiate the algebraic equations in time until they \
             involve the algebraic states (for a pendulum in Cartesian coordinates, replace the \
             position constraint x² + y² = L² by its second derivative, which involves the \
             rod's tension); if the Jacobian is singular only at this state (as for \
             0 = z² − x at z = 0), start the algebraic states from other guesses",
        )
    }

    fn no_convergence(&self, t: f64, moment: Moment, iterations: usize, norm: f64) -> Error {
        Error::numerical(format!(
            "Newton's method could not solve the algebraic equations for the algebraic states \
             ({}) {}: after {iterations} iteration{} the norm of the equations' residuals is \
             {norm:.3e}.",
            self.states(),
            moment.at(t),
            plural(iterations)
        ))
        .with_help(self.no_convergence_help(moment))
    }

    fn no_convergence_help(&self, moment: Moment) -> &'static str {
        match moment {
            Moment::Start => {
                "give the algebraic states initial values closer to a solution of their \
                 equations (the initial values are Newton's starting guesses), and check that \
                 the equations have a solution at the differential states' initial values"
            }
            _ => {
                "check that the algebraic equations have a solution at the state the reset \
                 leaves (the algebraic states' values before the reset are the starting \
                 guesses)"
            }
        }
    }

    fn not_finite_residual(&self, t: f64, moment: Moment) -> Error {
        Error::numerical(format!(
            "The algebraic equations' residuals are NaN or infinite {}, before Newton's method \
             could solve them for the algebraic states ({}).",
            moment.at(t),
            self.states()
        ))
        .with_help(
            "give the algebraic states initial guesses at which their equations can be \
             evaluated (no divisions by zero, no logarithms or square roots of negative values)",
        )
    }

    /// "components 2 and 4", or their names (`` `lambda` ``): the algebraic states, for
    /// the messages.
    fn states(&self) -> String {
        let named: Option<Vec<String>> = (self.alg.iter())
            .map(|&i| self.system.state_name(i).map(|n| format!("`{n}`")))
            .collect();
        match named {
            Some(names) => names.join(", "),
            None => format!("component{} {}", plural(self.alg.len()), list(&self.alg)),
        }
    }
}

fn norm2(v: &[f64]) -> f64 {
    v.iter().map(|x| x * x).sum::<f64>().sqrt()
}

fn plural(n: usize) -> &'static str {
    if n == 1 { "" } else { "s" }
}

/// "3", "3 and 5", "1, 2 and 6", or the first few of a long list and how many.
fn list(items: &[usize]) -> String {
    const SHOWN: usize = 6;
    let names: Vec<String> = items.iter().map(|i| i.to_string()).collect();
    match names.len() {
        0 => String::new(),
        1 => names[0].clone(),
        k if k <= SHOWN => format!("{} and {}", names[..k - 1].join(", "), names[k - 1]),
        k => format!("{}, … ({k} in all)", names[..SHOWN].join(", ")),
    }
}

#[cfg(test)]
mod tests {
    use super::list;

    #[test]
    fn lists_read_as_sentences() {
        assert_eq!(list(&[3]), "3");
        assert_eq!(list(&[3, 5]), "3 and 5");
        assert_eq!(list(&[1, 2, 6]), "1, 2 and 6");
        assert_eq!(
            list(&(0..10).collect::<Vec<_>>()),
            "0, 1, 2, 3, 4, 5, … (10 in all)"
        );
    }
}
