//! Adjoint sensitivities: the gradient of a loss over a solution's states at given times,
//! `L(θ) = Σ_k g_k(y(t_k; θ))`, for about the cost of one more solve whatever the number of
//! parameters (forward sensitivities integrate one more system of `n` states per
//! parameter).
//!
//! The continuous adjoint: `λ' = −(∂f/∂y)ᵀ λ`, integrated backwards from the last time
//! with `λ = 0`, jumps `λ += ∂L/∂y(t_k)` at each output time, and
//!
//! ```text
//! dL/dθ = (∂y0/∂θ)ᵀ λ(t0) + ∫_{t0}^{T} (∂f/∂θ)ᵀ λ dt.
//! ```
//!
//! Why this and not diffsol's checkpointed adjoint or a discrete adjoint of the steps: the
//! backward equations are an ordinary [`OdeSystem`] (`adjoint_system.rs`), so they go
//! through the same solvers as every other solve — the method that answered the forward
//! solve (BDF for stiff problems), the sparse LU with the transposed pattern, the same
//! error messages — and their products are the system's own [`OdeSystem::rhs_vjp`] (for a
//! compiled model, one reverse sweep of the IR's AD giving `(∂f/∂y)ᵀλ` and `(∂f/∂θ)ᵀλ`
//! together). The forward state between steps comes from its dense output, which keeps
//! four nodes per step (like diffsol's checkpoint segments, which re-solve and store every
//! step). The integral over θ is not solved for: that would make the backward system
//! `n + p` states with a dense `p × n` Jacobian block. It is a quadrature over the backward
//! solve's own nodes (each step's end and three interior points of the solver's
//! interpolant), Boole's rule on the quarters of each step: one product per node, order 6,
//! so its error stays below the solver's.
//!
//! The gradient agrees with forward sensitivities to about the solvers' tolerance
//! (`stdlib/tests/ode_adjoint.rs`, and `tests/adjoint.rs` on compiled models). Systems
//! with events or algebraic states are refused: a reset's jump conditions and a DAE's
//! adjoint are not written yet; forward sensitivities cover them.

use super::adjoint_system::AdjointSystem;
use super::{Method, OdeSystem, Solution, SolveOptions, SolveStats, driver};
use crate::Error;

/// How a gradient through an ODE solve gets `dy/dθ`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Sensitivity {
    /// Integrate `dy/dθ` with the state: `n·p` more unknowns, exact at every output time.
    Forward,
    /// One backward solve of the adjoint equations per gradient ([`adjoint_gradient`]).
    Adjoint,
    /// The adjoint for systems with at least [`AUTO_ADJOINT_MIN_PARAMS`] parameters,
    /// forward sensitivities otherwise and for systems the adjoint does not cover (events,
    /// algebraic states).
    Auto,
}

/// [`Sensitivity::Auto`] takes the adjoint from this many parameters on. Forward
/// sensitivities add about half a solve per parameter (a Jacobian product and a
/// back-substitution per step each), the adjoint a fixed cost of about a dozen solves (the
/// forward and backward solves at tighter tolerances, a reverse sweep per node): measured
/// on the 2048-state Brusselator (`docs/adjoint-benchmarks.md`), forward and adjoint cost
/// the same at about 30 parameters. The number of states does not move the crossover much,
/// since both costs scale with the solve's; it enters through the solve time itself.
pub const AUTO_ADJOINT_MIN_PARAMS: usize = 32;

impl Sensitivity {
    /// Every choice with its command-line name.
    pub const ALL: &'static [(&'static str, Sensitivity)] = &[
        ("forward", Sensitivity::Forward),
        ("adjoint", Sensitivity::Adjoint),
        ("auto", Sensitivity::Auto),
    ];

    /// The command-line name.
    pub fn name(self) -> &'static str {
        Sensitivity::ALL
            .iter()
            .find(|(_, s)| *s == self)
            .map_or("auto", |(n, _)| *n)
    }

    /// [`Sensitivity::Forward`] or [`Sensitivity::Adjoint`] for `system`: `Auto` decided,
    /// the adjoint refused (an input error) for a system it does not cover.
    pub fn resolve(self, system: &dyn OdeSystem) -> Result<Sensitivity, Error> {
        let unsupported = unsupported(system);
        match self {
            Sensitivity::Forward => Ok(Sensitivity::Forward),
            Sensitivity::Adjoint => match unsupported {
                Some(why) => Err(Error::input(format!(
                    "Adjoint sensitivities do not cover systems with {why}."
                ))
                .with_help("use forward sensitivities (`--sensitivity forward`)")),
                None => Ok(Sensitivity::Adjoint),
            },
            Sensitivity::Auto => {
                if unsupported.is_none() && system.n_params() >= AUTO_ADJOINT_MIN_PARAMS {
                    Ok(Sensitivity::Adjoint)
                } else {
                    Ok(Sensitivity::Forward)
                }
            }
        }
    }
}

impl std::str::FromStr for Sensitivity {
    type Err = Error;
    fn from_str(s: &str) -> Result<Sensitivity, Error> {
        Sensitivity::ALL
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(s))
            .map(|(_, m)| *m)
            .ok_or_else(|| {
                Error::input(format!("There is no sensitivity method called `{s}`."))
                    .with_help("the choices are: forward, adjoint, auto")
            })
    }
}

/// What the adjoint does not cover in `system`, in words, if anything.
fn unsupported(system: &dyn OdeSystem) -> Option<&'static str> {
    if !system.events().is_empty() {
        Some("events (`when`)")
    } else if system.algebraic().iter().any(|&a| a) {
        Some("algebraic states (a DAE)")
    } else {
        None
    }
}

/// An adjoint gradient and what computing it took.
#[derive(Clone, Debug, PartialEq)]
pub struct AdjointGradient {
    /// `dL/dθ`, one entry per parameter.
    pub gradient: Vec<f64>,
    /// The backward solves' counters, summed over the segments between output times.
    pub stats: SolveStats,
    /// `(∂f/∂y)ᵀλ, (∂f/∂θ)ᵀλ` evaluations of the quadrature.
    pub quadrature_evals: usize,
}

/// The adjoint's forward and backward solves run at the requested tolerances times this.
/// The backward equations' Jacobian is evaluated along the forward solution, so the
/// forward's error enters the gradient amplified where the Jacobian depends strongly on a
/// small state (Robertson's `y2`, at a relative accuracy set by `atol`): at rtol 1e-8 the
/// adjoint gradient was 3e-5 off on Robertson, and 3e-7 with both solves 100 times tighter,
/// which makes it as accurate as forward sensitivities (whose error control covers
/// `dy/dθ` too) for a few more steps (BDF's step count grows like `tol^(−1/(q+1))`).
pub const ADJOINT_TOLERANCE_FACTOR: f64 = 0.01;

/// `options` for one of the adjoint's solves: tolerances tightened by
/// [`ADJOINT_TOLERANCE_FACTOR`].
fn tightened(options: &SolveOptions) -> SolveOptions {
    SolveOptions {
        rtol: options.rtol * ADJOINT_TOLERANCE_FACTOR,
        atol: options.atol * ADJOINT_TOLERANCE_FACTOR,
        ..options.clone()
    }
}

/// The forward solve of an adjoint gradient: `options` with dense output and the tightened
/// tolerances of [`ADJOINT_TOLERANCE_FACTOR`] (no forward sensitivities). Its states at
/// the output times give the loss and its `∂L/∂y`, then [`adjoint_gradient`] the gradient.
pub fn adjoint_forward(
    system: &dyn OdeSystem,
    p: &[f64],
    options: &SolveOptions,
    progress: &mut dyn FnMut(f64),
) -> Result<Solution, Error> {
    Sensitivity::Adjoint.resolve(system)?;
    let options = SolveOptions {
        dense: true,
        sensitivities: false,
        ..tightened(options)
    };
    driver::solve(system, p, &options, progress)
}

/// The gradient of `L = Σ_k g_k(y(t_k))` with respect to θ, by the adjoint method.
///
/// `forward` is [`adjoint_forward`]'s solution of `system` at `p` and `options` (its output
/// times are the `t_k`); `dl_dy[k]` is `∂L/∂y` at `forward.t[k]` (`n` entries; an output
/// time without a term of the loss gets zeros). The backward solves use the method that
/// answered the forward solve, and `options`' tightened tolerances, Jacobian storage and
/// step limit.
///
/// Errors: a system with events or algebraic states, a forward solution without dense
/// output or with sensitivities' shapes that do not match (input errors), and the backward
/// solver's failures (numerical errors).
pub fn adjoint_gradient(
    system: &dyn OdeSystem,
    p: &[f64],
    options: &SolveOptions,
    forward: &Solution,
    dl_dy: &[Vec<f64>],
) -> Result<AdjointGradient, Error> {
    Sensitivity::Adjoint.resolve(system)?;
    let (n, np) = (system.n_states(), system.n_params());
    let Some(dense) = &forward.dense else {
        return Err(Error::input(
            "The adjoint needs the forward solution between its steps, and this solve kept none.",
        )
        .with_help("solve with `SolveOptions::dense` set"));
    };
    if p.len() != np {
        return Err(Error::input(format!(
            "The system has {np} parameters, but {} values were given.",
            p.len()
        )));
    }
    if dl_dy.len() != forward.t.len() || dl_dy.iter().any(|row| row.len() != n) {
        return Err(Error::input(format!(
            "The adjoint needs ∂L/∂y at each of the {} output times, {n} numbers each.",
            forward.t.len()
        )));
    }
    if forward.t.windows(2).any(|w| w[1] < w[0]) {
        return Err(Error::input(
            "The forward solution's output times must be increasing.",
        ));
    }
    let (t0, _) = dense.span();
    let adjoint = AdjointSystem::new(system, p, dense);
    let mut backward = Backward {
        system,
        p,
        forward: dense,
        adjoint: &adjoint,
        options: SolveOptions {
            method: forward.stats.method.unwrap_or(Method::Bdf),
            times: None,
            at_steps: false,
            dense: true,
            sensitivities: false,
            ..tightened(options)
        },
        lambda: vec![0.0; n],
        mu: vec![0.0; np],
        stats: SolveStats::default(),
        quadrature_evals: 0,
    };
    // Backwards over the output times: integrate down to each, then add its jump.
    let mut reached: Option<f64> = None;
    for (t, row) in forward.t.iter().zip(dl_dy).rev() {
        if let Some(hi) = reached.filter(|hi| t < hi) {
            backward.integrate(hi, *t)?;
        }
        for (l, g) in backward.lambda.iter_mut().zip(row) {
            *l += g;
        }
        reached = Some(*t);
    }
    if let Some(hi) = reached.filter(|hi| t0 < *hi) {
        backward.integrate(hi, t0)?;
    }
    let mut gradient = backward.mu;
    if np > 0 {
        let mut initial = vec![0.0; np];
        system.y0_vjp(p, &backward.lambda, &mut initial);
        for (g, i) in gradient.iter_mut().zip(&initial) {
            *g += i;
        }
    }
    Ok(AdjointGradient {
        gradient,
        stats: backward.stats,
        quadrature_evals: backward.quadrature_evals,
    })
}

/// The backward pass's state: `λ` at the time reached, and the integral so far.
struct Backward<'a> {
    system: &'a dyn OdeSystem,
    p: &'a [f64],
    forward: &'a super::DenseOutput,
    adjoint: &'a AdjointSystem<'a>,
    options: SolveOptions,
    lambda: Vec<f64>,
    mu: Vec<f64>,
    stats: SolveStats,
    quadrature_evals: usize,
}

impl Backward<'_> {
    /// Takes `λ` from `hi` back to `lo < hi` and adds `∫_lo^hi (∂f/∂θ)ᵀ λ dt` to `μ`.
    fn integrate(&mut self, hi: f64, lo: f64) -> Result<(), Error> {
        self.adjoint.set_start(&self.lambda);
        let options = SolveOptions {
            span: Some((-hi, -lo)),
            times: Some(vec![-lo]),
            ..self.options.clone()
        };
        let solved = driver::solve_keeping_nodes(self.adjoint, &[], &options, &mut |_| {});
        if let Some(e) = self.adjoint.take_failure() {
            return Err(e);
        }
        let (solved, nodes) = solved?;
        add_stats(&mut self.stats, &solved.stats);
        let Some(lambda) = solved.y.last() else {
            return Err(Error::numerical(format!(
                "The adjoint solve from t = {hi} back to t = {lo} returned no state."
            )));
        };
        self.lambda.copy_from_slice(lambda);
        if !self.mu.is_empty() {
            self.quadrature(&nodes)?;
        }
        Ok(())
    }

    /// Adds `∫ (∂f/∂θ)ᵀ λ ds` over the backward solve's nodes to `μ`: one product per node
    /// (the solver's own states and interpolants, no extra solve), combined by Newton–Cotes
    /// rules on each run of equally spaced nodes — Boole's rule (order 6) on the four
    /// quarters of a step, Simpson's or the 3/8 rule on what remains of a run.
    fn quadrature(&mut self, nodes: &[(f64, Vec<f64>)]) -> Result<(), Error> {
        let n = self.lambda.len();
        let (mut y, mut discard) = (vec![0.0; n], vec![0.0; n]);
        let mut values: Vec<Vec<f64>> = Vec::with_capacity(nodes.len());
        for (s, lambda) in nodes {
            let mut f_p = vec![0.0; self.mu.len()];
            self.forward.clamped_into(-s, &mut y)?;
            self.system
                .rhs_vjp(-s, &y, self.p, lambda, &mut discard, &mut f_p);
            values.push(f_p);
            self.quadrature_evals += 1;
        }
        let s: Vec<f64> = nodes.iter().map(|(s, _)| *s).collect();
        let mut start = 0;
        while start + 1 < s.len() {
            // The run of intervals as long as the first (to rounding).
            let h = s[start + 1] - s[start];
            let mut end = start + 1;
            while end + 1 < s.len() && ((s[end + 1] - s[end]) - h).abs() <= 1e-9 * h.abs() {
                end += 1;
            }
            let mut k = start;
            while k < end {
                let (weights, width): (&[f64], usize) = match end - k {
                    1 => (&[0.5, 0.5], 1),
                    2 => (&[1.0 / 3.0, 4.0 / 3.0, 1.0 / 3.0], 2),
                    3 => (&[3.0 / 8.0, 9.0 / 8.0, 9.0 / 8.0, 3.0 / 8.0], 3),
                    _ => (
                        &[
                            14.0 / 45.0,
                            64.0 / 45.0,
                            24.0 / 45.0,
                            64.0 / 45.0,
                            14.0 / 45.0,
                        ],
                        4,
                    ),
                };
                for (w, f) in weights.iter().zip(&values[k..=k + width]) {
                    for (m, v) in self.mu.iter_mut().zip(f) {
                        *m += w * h * v;
                    }
                }
                k += width;
            }
            start = end;
        }
        Ok(())
    }
}

fn add_stats(total: &mut SolveStats, one: &SolveStats) {
    total.method = one.method;
    total.sparse = one.sparse;
    total.steps += one.steps;
    total.rhs_evals += one.rhs_evals;
    total.jacobian_evals += one.jacobian_evals;
}
