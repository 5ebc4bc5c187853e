//! The solve itself: choosing the storage and method, the automatic stiff fallback, and
//! turning diffsol's failures into errors a scientist can act on (the stepping loop is in
//! `stepping.rs`).

use std::cell::Cell;
use std::panic::{AssertUnwindSafe, catch_unwind};

use diffsol::error::OdeSolverError;
use diffsol::matrix::MatrixRef;
use diffsol::{DiffsolError, FaerMat, FaerSparseMat, OdeBuilder, OdeSolverMethod};

use super::adapter::{Counters, Start, SystemEqn, SystemMatrix, sparse_without_pattern};
use super::dae::{Dae, Moment};
use super::dense::DenseOutput;
use super::stepping::{Drive, Output, StiffTest};
use super::validate::{self, fmt_time};
use super::{
    JacobianKind, Method, OdeSystem, Solution, SolveOptions, SolveStats, Sparsity, Switch,
    SwitchReason,
};
use crate::Error;

/// The automatic choice of a sparse Jacobian: the system gives a pattern, has at least this
/// many states, and at most [`SPARSE_MAX_DENSITY`] of the entries are structural non-zeros.
/// Below that size a dense LU is as fast and simpler.
pub const SPARSE_MIN_STATES: usize = 32;
/// See [`SPARSE_MIN_STATES`].
pub const SPARSE_MAX_DENSITY: f64 = 0.2;

/// With [`Method::Auto`], the most steps Tsit5 may take before the problem counts as stiff
/// and the solve starts again with BDF.
pub const AUTO_EXPLICIT_STEP_BUDGET: usize = 20_000;
/// After this many Tsit5 steps, `Auto` also gives up early when the steps so far
/// extrapolate to more than ten times the budget for the whole interval.
pub(super) const AUTO_PROJECTION_AFTER: usize = 1_000;
/// With [`Method::Auto`], a problem whose stiffness index `ρ(J)·(t_end − t0)` at the start
/// exceeds this goes straight to BDF. `ρ(J)` is bounded by Gershgorin's theorem (the largest
/// absolute row sum of the Jacobian at `(t0, y0)`); an explicit method needs at least about
/// `ρ·T / 3.3` steps for stability, so above this bound Tsit5 would take thousands of steps
/// that BDF does not. The test is repeated every [`AUTO_RECHECK_EVERY`] Tsit5 steps at the
/// current state over the rest of the span, so problems that become stiff later (Robertson,
/// after its fast transient) switch early; the step budget is the last resort.
pub const AUTO_STIFFNESS_INDEX: f64 = 1e4;
/// How often (in Tsit5 steps) `Auto` repeats the stiffness test during the solve.
pub(super) const AUTO_RECHECK_EVERY: usize = 50;
/// Largest system whose dense Jacobian `Auto` forms for the stiffness test when the system
/// gives no sparsity pattern.
const AUTO_DENSE_TEST_MAX_STATES: usize = 1024;
/// Newton convergence failures allowed within one step (CVODE's `maxncf`).
const NEWTON_FAILURES_PER_STEP: usize = 10;

/// Solves the system; see [`super::solve`].
pub(crate) fn solve(
    system: &dyn OdeSystem,
    p: &[f64],
    options: &SolveOptions,
    progress: &mut dyn FnMut(f64),
) -> Result<Solution, Error> {
    solve_inner(system, p, options, progress, false).map(|(solution, _)| solution)
}

/// A dense output's nodes `(t, y)`, in time order.
pub(crate) type Nodes = Vec<(f64, Vec<f64>)>;

/// [`solve`] with [`SolveOptions::dense`], returning the dense output's nodes `(t, y)` as
/// the solver gave them (the start, then per step its interior nodes and its end) instead
/// of a [`DenseOutput`], which would evaluate the right-hand side at each: for the
/// adjoint's quadrature, which evaluates its own products there.
pub(crate) fn solve_keeping_nodes(
    system: &dyn OdeSystem,
    p: &[f64],
    options: &SolveOptions,
    progress: &mut dyn FnMut(f64),
) -> Result<(Solution, Nodes), Error> {
    let options = SolveOptions {
        dense: true,
        ..options.clone()
    };
    solve_inner(system, p, &options, progress, true)
        .map(|(solution, nodes)| (solution, nodes.unwrap_or_default()))
}

fn solve_inner(
    system: &dyn OdeSystem,
    p: &[f64],
    options: &SolveOptions,
    progress: &mut dyn FnMut(f64),
    raw_nodes: bool,
) -> Result<(Solution, Option<Nodes>), Error> {
    let ((t0, t_end), times) = validate::check(system, p, options)?;
    let schedule = validate::check_events(system, p, (t0, t_end), options)?;
    let n = system.n_states();
    let pattern = system.sparsity();
    if let Some(pattern) = pattern {
        validate::check_pattern(pattern, n)?;
    }
    let sparse = match options.jacobian {
        JacobianKind::Auto => pattern.is_some_and(|pat| prefers_sparse(pat, n)),
        JacobianKind::Dense => false,
        JacobianKind::Sparse if pattern.is_none() => return Err(sparse_without_pattern()),
        JacobianKind::Sparse => true,
    };
    let dae = Dae::new(system, p, (options.rtol, options.atol), (t0, t_end))?;
    if dae.is_some() && options.method == Method::Tsit5 {
        return Err(explicit_refuses_dae());
    }
    // `dy/dθ` with no parameters is an empty matrix: nothing to integrate (and diffsol
    // cannot make a sensitivity context with zero lanes).
    let sens = options.sensitivities && system.n_params() > 0;
    let y0 = initial_state(system, p, t0, dae.as_ref())?;
    let start = match &dae {
        Some(dae) => Some(Start {
            s0: if sens {
                dae.initial_sens(t0, &y0)?
            } else {
                Vec::new()
            },
            y0,
        }),
        None => None,
    };

    let plan = Plan {
        system,
        p,
        options,
        pattern,
        times: &times,
        schedule: &schedule,
        t0,
        t_end,
        sens,
        dae: dae.as_ref(),
        start: start.as_ref(),
    };
    let mut stats = SolveStats {
        algebraic_states: dae.as_ref().map_or(0, Dae::len),
        ..SolveStats::default()
    };
    // How far the last attempt integrated.
    let mut reached = t0;
    let out = match options.method {
        // An explicit method cannot solve the algebraic equations: BDF from the start, with
        // no switch to report.
        Method::Auto if dae.is_some() => plan
            .attempt(
                Method::Bdf,
                sparse,
                None,
                progress,
                &mut stats,
                &mut reached,
            )
            .map_err(Failure::into_error)?,
        Method::Auto if stiff_at_start(system, p, (t0, t_end)) => {
            stats.switch = Some(Switch {
                reason: SwitchReason::StiffAtStart,
                reached: t0,
                explicit_steps: 0,
                explicit_rhs_evals: 0,
            });
            plan.attempt(
                Method::Bdf,
                sparse,
                None,
                progress,
                &mut stats,
                &mut reached,
            )
            .map_err(Failure::into_error)?
        }
        Method::Auto => {
            let budget = AUTO_EXPLICIT_STEP_BUDGET.min(options.max_steps);
            match plan.attempt(
                Method::Tsit5,
                false,
                Some(budget),
                progress,
                &mut stats,
                &mut reached,
            ) {
                Ok(out) => out,
                // Explicit steps exhausted or collapsed: the problem is stiff (or worse);
                // start again with BDF, whose own failure is then the one reported.
                Err(failure) => {
                    stats.switch = Some(Switch {
                        reason: match failure {
                            Failure::Stiff => SwitchReason::StiffOnTheWay,
                            Failure::Error(_) => SwitchReason::ExplicitFailed,
                        },
                        reached,
                        explicit_steps: stats.steps,
                        explicit_rhs_evals: stats.rhs_evals,
                    });
                    plan.attempt(
                        Method::Bdf,
                        sparse,
                        None,
                        progress,
                        &mut stats,
                        &mut reached,
                    )
                    .map_err(Failure::into_error)?
                }
            }
        }
        method => plan
            .attempt(method, sparse, None, progress, &mut stats, &mut reached)
            .map_err(Failure::into_error)?,
    };
    let sens = options
        .sensitivities
        .then(|| out.sens.unwrap_or_else(|| vec![Vec::new(); out.t.len()]));
    let (dense, nodes) = match out.dense_nodes {
        Some(nodes) if raw_nodes => (None, Some(nodes)),
        nodes => (
            nodes.map(|nodes| DenseOutput::new(system, p, dae.as_ref(), nodes)),
            None,
        ),
    };
    let solution = Solution {
        t: out.t,
        y: out.y,
        sens,
        stats,
        dense,
        events: out.events,
    };
    Ok((solution, nodes))
}

/// `Auto`'s stiffness test at the start: see [`AUTO_STIFFNESS_INDEX`].
fn stiff_at_start(system: &dyn OdeSystem, p: &[f64], (t0, t_end): (f64, f64)) -> bool {
    let mut y0 = vec![0.0; system.n_states()];
    system.y0(p, &mut y0);
    stiff_from(system, p, t0, &y0, t_end)
}

/// Whether the rest of the solve from `(t, y)` to `t_end` is stiff by the test of
/// [`AUTO_STIFFNESS_INDEX`].
fn stiff_from(system: &dyn OdeSystem, p: &[f64], t: f64, y0: &[f64], t_end: f64) -> bool {
    let n = system.n_states();
    let t0 = t;
    let row_sums: Vec<f64> = match system.sparsity() {
        Some(pattern) => {
            let mut values = vec![0.0; pattern.col_idx.len()];
            system.jacobian_values(t, y0, p, &mut values);
            pattern
                .row_ptr
                .windows(2)
                .map(|w| {
                    values
                        .get(w[0]..w[1])
                        .map_or(0.0, |r| r.iter().map(|v| v.abs()).sum())
                })
                .collect()
        }
        None if n <= AUTO_DENSE_TEST_MAX_STATES => {
            let mut jac = vec![0.0; n * n];
            system.jacobian(t, y0, p, &mut jac);
            jac.chunks(n.max(1))
                .map(|row| row.iter().map(|v| v.abs()).sum())
                .collect()
        }
        None => return false,
    };
    let rho = row_sums.iter().copied().fold(0.0, f64::max);
    rho.is_finite() && rho * (t_end - t0) > AUTO_STIFFNESS_INDEX
}

/// The automatic sparse rule: see [`SPARSE_MIN_STATES`].
fn prefers_sparse(pattern: &Sparsity, n: usize) -> bool {
    let density = pattern.col_idx.len() as f64 / (n as f64 * n as f64);
    n >= SPARSE_MIN_STATES && density <= SPARSE_MAX_DENSITY
}

/// The initial state: the system's, with a DAE's algebraic states made consistent. It and
/// its derivative must be finite, or the solvers' first step-size guess is NaN (which some
/// of diffsol's code paths do not survive).
fn initial_state(
    system: &dyn OdeSystem,
    p: &[f64],
    t0: f64,
    dae: Option<&Dae<'_>>,
) -> Result<Vec<f64>, Error> {
    let n = system.n_states();
    let mut y0 = vec![0.0; n];
    system.y0(p, &mut y0);
    if let Some((i, v)) = y0.iter().enumerate().find(|(_, v)| !v.is_finite()) {
        return Err(Error::numerical(format!(
            "The initial state is not finite: {} is {v}.",
            super::names::state(system, i)
        ))
        .with_help("check the initial values and the parameters they depend on"));
    }
    if let Some(dae) = dae {
        y0 = dae.consistent(t0, &y0, Moment::Start)?;
    }
    let mut dy = vec![0.0; n];
    system.rhs(t0, &y0, p, &mut dy);
    if let Some((i, v)) = dy.iter().enumerate().find(|(_, v)| !v.is_finite()) {
        return Err(Error::numerical(format!(
            "The right-hand side is not finite at the start (t = {}): the derivative of {} is {v}.",
            fmt_time(t0),
            super::names::state(system, i)
        ))
        .with_help(
            "check the model for divisions by zero, or logarithms and square roots of \
             negative values, at the initial state",
        ));
    }
    Ok(y0)
}

/// The input error for Tsit5 asked to solve a DAE.
fn explicit_refuses_dae() -> Error {
    Error::input(
        "The tsit5 solver cannot solve a system with algebraic equations (a DAE): an explicit \
         method has no way to keep them satisfied.",
    )
    .with_help("use bdf (the default picks it), esdirk34 or trbdf2")
}

fn method_label(method: Method) -> &'static str {
    match method {
        Method::Auto | Method::Tsit5 => "Tsit5",
        Method::Bdf => "BDF",
        Method::Esdirk34 => "ESDIRK34",
        Method::TrBdf2 => "TR-BDF2",
    }
}

/// Everything an attempt needs, fixed for the whole solve.
struct Plan<'s> {
    system: &'s dyn OdeSystem,
    p: &'s [f64],
    options: &'s SolveOptions,
    pattern: Option<&'s Sparsity>,
    times: &'s [f64],
    /// The scheduled events' times within the span, per event.
    schedule: &'s [(usize, Vec<f64>)],
    t0: f64,
    t_end: f64,
    sens: bool,
    /// A DAE's algebraic states, and its consistent start.
    dae: Option<&'s Dae<'s>>,
    start: Option<&'s Start>,
}

/// Why an attempt stopped short.
pub(super) enum Failure {
    /// `Auto`'s explicit step budget ran out: try a stiff solver.
    Stiff,
    Error(Error),
}

impl Failure {
    /// The error to report; `Stiff` only arises with a step budget, which only `Auto`'s
    /// first attempt has.
    pub(super) fn into_error(self) -> Error {
        match self {
            Failure::Error(e) => e,
            Failure::Stiff => {
                Error::numerical("The explicit solver ran out of steps: the problem looks stiff.")
                    .with_help("use `bdf`")
            }
        }
    }
}

impl From<Error> for Failure {
    fn from(e: Error) -> Failure {
        Failure::Error(e)
    }
}

impl Plan<'_> {
    /// One solve with one method; adds its work to `stats`.
    fn attempt(
        &self,
        method: Method,
        sparse: bool,
        budget: Option<usize>,
        progress: &mut dyn FnMut(f64),
        stats: &mut SolveStats,
        reached: &mut f64,
    ) -> Result<Output, Failure> {
        // Tsit5 never forms a Jacobian, so the storage does not matter to it.
        let implicit = method != Method::Tsit5;
        let sparse = sparse && implicit;
        let counters = Counters::default();
        let last_t = Cell::new(self.t0);
        let steps = Cell::new(0);
        let label = method_label(method);
        // diffsol asserts and unwraps on some numerical paths (a NaN error norm in BDF's
        // order selection, a failed sparse LU factorisation): catch those panics and report
        // them as failures at the time the integration had reached.
        let result = catch_unwind(AssertUnwindSafe(|| {
            // `Auto`'s explicit attempt re-tests stiffness as it goes.
            let stiff_now = |t: f64, y: &[f64]| stiff_from(self.system, self.p, t, y, self.t_end);
            let mut drive = Drive {
                system: self.system,
                p: self.p,
                stiff_now: budget.map(|_| &stiff_now as &StiffTest<'_>),
                label,
                times: self.times,
                at_steps: self.options.at_steps,
                dense: self.options.dense,
                t0: self.t0,
                t_end: self.t_end,
                sens: self.sens,
                n: self.system.n_states(),
                np: self.system.n_params(),
                max_steps: self.options.max_steps,
                budget,
                schedule: self.schedule,
                max_events: self.options.max_events,
                progress: &mut *progress,
                last_t: &last_t,
                steps: &steps,
                counters: &counters,
                rtol: self.options.rtol,
                atol: self.options.atol,
                dae: self.dae,
            };
            if sparse {
                self.run::<FaerSparseMat<f64>>(method, &mut drive)
            } else {
                self.run::<FaerMat<f64>>(method, &mut drive)
            }
        }));
        stats.steps += steps.get();
        *reached = last_t.get();
        stats.rhs_evals += counters.rhs_evals.get();
        stats.jacobian_evals += counters.jacobian_evals.get();
        let result = result.unwrap_or_else(|_| {
            Err(Failure::Error(
                solver_failure(label, last_t.get(), &counters, None).with_help(
                    "the iteration matrix may be singular or the model may produce NaN; \
                     try another solver or tighter tolerances",
                ),
            ))
        });
        if result.is_ok() {
            stats.method = Some(method);
            stats.sparse = sparse;
        }
        result
    }

    /// Builds the diffsol problem with matrix storage `M` and runs `method` on it.
    fn run<M>(&self, method: Method, drive: &mut Drive<'_>) -> Result<Output, Failure>
    where
        M: SystemMatrix,
        for<'b> &'b M: MatrixRef<M>,
    {
        let o = self.options;
        if self.dae.is_some() && matches!(method, Method::Auto | Method::Tsit5) {
            return Err(explicit_refuses_dae().into());
        }
        let dae = self
            .dae
            .zip(self.start)
            .map(|(dae, start)| (dae.mass_diagonal(), start));
        let eqn = SystemEqn::<M>::new(self.system, self.p, self.pattern, drive.counters, dae)?;
        let mut builder = OdeBuilder::<M>::new()
            .t0(self.t0)
            .rtol(o.rtol)
            .atol([o.atol])
            .p(self.p.iter().copied());
        if self.sens {
            // Sensitivities take part in error control, at the state's tolerances.
            builder = builder.sens_rtol(o.rtol).sens_atol([o.atol]);
        }
        let mut problem = builder
            .build_from_eqn(eqn)
            .map_err(|e| setup_failure(drive.label, &e))?;
        // diffsol's smallest step is an absolute 1e-13; scale it down for short intervals
        // so that problems on tiny time scales are not cut off.
        problem.ode_options.min_timestep = 1e-13 * (self.t_end - self.t0).min(1.0);
        let setup = |e: DiffsolError| Failure::Error(setup_failure(drive.label, &e));
        type Ls<M> = <M as SystemMatrix>::Solver;
        // diffsol counts Newton failures over the whole solve against one limit, so a long
        // solve with occasional failures would eventually abort; we re-arm the limit before
        // every step to allow `NEWTON_FAILURES_PER_STEP` per step, as CVODE does.
        macro_rules! newton_budget {
            () => {
                |s: &mut _| {
                    let fails = OdeSolverMethod::get_statistics(s).number_of_nonlinear_solver_fails;
                    OdeSolverMethod::config_mut(s).maximum_newton_fails =
                        fails + NEWTON_FAILURES_PER_STEP;
                }
            };
        }
        match (method, self.sens) {
            (Method::Auto | Method::Tsit5, false) => {
                drive.run(problem.tsit45().map_err(setup)?, |_| {})
            }
            (Method::Auto | Method::Tsit5, true) => {
                drive.run(problem.tsit45_sens().map_err(setup)?, |_| {})
            }
            (Method::Bdf, false) => {
                drive.run(problem.bdf::<Ls<M>>().map_err(setup)?, newton_budget!())
            }
            (Method::Bdf, true) => drive.run(
                problem.bdf_sens::<Ls<M>>().map_err(setup)?,
                newton_budget!(),
            ),
            (Method::Esdirk34, false) => drive.run(
                problem.esdirk34::<Ls<M>>().map_err(setup)?,
                newton_budget!(),
            ),
            (Method::Esdirk34, true) => drive.run(
                problem.esdirk34_sens::<Ls<M>>().map_err(setup)?,
                newton_budget!(),
            ),
            (Method::TrBdf2, false) => {
                drive.run(problem.tr_bdf2::<Ls<M>>().map_err(setup)?, newton_budget!())
            }
            (Method::TrBdf2, true) => drive.run(
                problem.tr_bdf2_sens::<Ls<M>>().map_err(setup)?,
                newton_budget!(),
            ),
        }
    }
}

/// A failure of the solver itself, as a sentence.
pub(super) fn solver_failure(
    label: &str,
    t: f64,
    counters: &Counters,
    error: Option<&DiffsolError>,
) -> Error {
    let reason = match (counters.first_non_finite.get(), error) {
        (Some(tn), _) => format!(
            "the right-hand side evaluated to NaN or infinity at t = {}",
            fmt_time(tn)
        ),
        (None, Some(DiffsolError::OdeSolverError(e))) => match e {
            OdeSolverError::StepSizeTooSmall { .. } => {
                "the step size fell below the smallest allowed".to_string()
            }
            OdeSolverError::TooManyErrorTestFailures { num_failures, .. } => {
                format!("{num_failures} successive step attempts failed the error test")
            }
            OdeSolverError::TooManyNonlinearSolverFailures { num_failures, .. } => {
                format!("the Newton iteration failed to converge {num_failures} times")
            }
            other => format!("{other}"),
        },
        (None, Some(other)) => format!("{other}"),
        (None, None) => {
            "it stopped on an internal failure (for instance a singular iteration matrix)"
                .to_string()
        }
    };
    Error::numerical(format!(
        "The {label} solver could not continue past t = {}: {reason}.",
        fmt_time(t)
    ))
}

fn setup_failure(label: &str, e: &DiffsolError) -> Error {
    Error::numerical(format!("The {label} solver could not be set up: {e}."))
}
