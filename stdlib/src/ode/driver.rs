//! The solve itself: choosing the storage and method, stepping a diffsol solver to the end
//! time while writing dense output, the automatic stiff fallback, and turning diffsol's
//! failures into errors a scientist can act on.

use std::cell::Cell;
use std::panic::{AssertUnwindSafe, catch_unwind};

use diffsol::error::OdeSolverError;
use diffsol::matrix::MatrixRef;
use diffsol::{
    DiffsolError, FaerMat, FaerSparseMat, FaerVec, OdeBuilder, OdeEquations, OdeSolverMethod,
    OdeSolverStopReason, Vector, VectorCommon,
};

use super::adapter::{Counters, SystemEqn, SystemMatrix, sparse_without_pattern};
use super::dense::DenseOutput;
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
const AUTO_PROJECTION_AFTER: usize = 1_000;
/// With [`Method::Auto`], a problem whose stiffness index `ρ(J)·(t_end − t0)` at the start
/// exceeds this goes straight to BDF. `ρ(J)` is bounded by Gershgorin's theorem (the largest
/// absolute row sum of the Jacobian at `(t0, y0)`); an explicit method needs at least about
/// `ρ·T / 3.3` steps for stability, so above this bound Tsit5 would take thousands of steps
/// that BDF does not. The test is repeated every [`AUTO_RECHECK_EVERY`] Tsit5 steps at the
/// current state over the rest of the span, so problems that become stiff later (Robertson,
/// after its fast transient) switch early; the step budget is the last resort.
pub const AUTO_STIFFNESS_INDEX: f64 = 1e4;
/// How often (in Tsit5 steps) `Auto` repeats the stiffness test during the solve.
const AUTO_RECHECK_EVERY: usize = 50;
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
    let ((t0, t_end), times) = validate::check(system, p, options)?;
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
    check_start(system, p, t0)?;

    let plan = Plan {
        system,
        p,
        options,
        pattern,
        times: &times,
        t0,
        t_end,
        // `dy/dθ` with no parameters is an empty matrix: nothing to integrate (and diffsol
        // cannot make a sensitivity context with zero lanes).
        sens: options.sensitivities && system.n_params() > 0,
    };
    let mut stats = SolveStats::default();
    // How far the last attempt integrated.
    let mut reached = t0;
    let out = match options.method {
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
    let dense = (out.dense_nodes).map(|nodes| DenseOutput::new(system, p, nodes));
    Ok(Solution {
        t: out.t,
        y: out.y,
        sens,
        stats,
        dense,
    })
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

/// The initial state and its derivative must be finite, or the solvers' first step-size
/// guess is NaN (which some of diffsol's code paths do not survive).
fn check_start(system: &dyn OdeSystem, p: &[f64], t0: f64) -> Result<(), Error> {
    let n = system.n_states();
    let mut y0 = vec![0.0; n];
    system.y0(p, &mut y0);
    if let Some((i, v)) = y0.iter().enumerate().find(|(_, v)| !v.is_finite()) {
        return Err(Error::numerical(format!(
            "The initial state is not finite: component {i} is {v}."
        ))
        .with_help("check the initial values and the parameters they depend on"));
    }
    let mut dy = vec![0.0; n];
    system.rhs(t0, &y0, p, &mut dy);
    if let Some((i, v)) = dy.iter().enumerate().find(|(_, v)| !v.is_finite()) {
        return Err(Error::numerical(format!(
            "The right-hand side is not finite at the start (t = {}): component {i} of dy/dt is {v}.",
            fmt_time(t0)
        ))
        .with_help(
            "check the model for divisions by zero, or logarithms and square roots of \
             negative values, at the initial state",
        ));
    }
    Ok(())
}

fn method_label(method: Method) -> &'static str {
    match method {
        Method::Auto | Method::Tsit5 => "Tsit5",
        Method::Bdf => "BDF",
        Method::Esdirk34 => "ESDIRK34",
        Method::TrBdf2 => "TR-BDF2",
    }
}

/// Nodes per step of dense output: the step's end and `DENSE_NODES_PER_STEP - 1` interior
/// points of the solver's own interpolant.
const DENSE_NODES_PER_STEP: usize = 4;

/// Everything an attempt needs, fixed for the whole solve.
struct Plan<'s> {
    system: &'s dyn OdeSystem,
    p: &'s [f64],
    options: &'s SolveOptions,
    pattern: Option<&'s Sparsity>,
    times: &'s [f64],
    t0: f64,
    t_end: f64,
    sens: bool,
}

/// The output of a successful attempt.
struct Output {
    /// The output times (the requested ones, or every step's).
    t: Vec<f64>,
    y: Vec<Vec<f64>>,
    sens: Option<Vec<Vec<f64>>>,
    /// With dense output: its nodes `(t, y)`, increasing in `t`.
    dense_nodes: Option<Vec<(f64, Vec<f64>)>>,
}

/// Why an attempt stopped short.
enum Failure {
    /// `Auto`'s explicit step budget ran out: try a stiff solver.
    Stiff,
    Error(Error),
}

impl Failure {
    /// The error to report; `Stiff` only arises with a step budget, which only `Auto`'s
    /// first attempt has.
    fn into_error(self) -> Error {
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

/// `Auto`'s stiffness test at `(t, y)` over the rest of the span.
type StiffTest<'a> = dyn Fn(f64, &[f64]) -> bool + 'a;

/// What the stepping loop needs, per attempt.
struct Drive<'d> {
    /// `Auto`'s stiffness test at a state of the explicit attempt.
    stiff_now: Option<&'d StiffTest<'d>>,
    label: &'static str,
    times: &'d [f64],
    /// Output at every step instead of at `times`.
    at_steps: bool,
    /// Keep every step for dense output.
    dense: bool,
    t0: f64,
    t_end: f64,
    sens: bool,
    n: usize,
    np: usize,
    max_steps: usize,
    budget: Option<usize>,
    progress: &'d mut dyn FnMut(f64),
    /// The time of the last accepted step (read after a panic).
    last_t: &'d Cell<f64>,
    steps: &'d Cell<usize>,
    counters: &'d Counters,
    rtol: f64,
    atol: f64,
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
                progress: &mut *progress,
                last_t: &last_t,
                steps: &steps,
                counters: &counters,
                rtol: self.options.rtol,
                atol: self.options.atol,
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
        let eqn = SystemEqn::<M>::new(self.system, self.p, self.pattern, drive.counters)?;
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

impl Drive<'_> {
    /// Steps `solver` to `t_end`, interpolating at the output times as they are passed.
    /// `before_step` adjusts the solver before each step (the Newton failure budget).
    fn run<'a, Eqn, S>(
        &mut self,
        mut solver: S,
        mut before_step: impl FnMut(&mut S),
    ) -> Result<Output, Failure>
    where
        Eqn: OdeEquations<T = f64, V = FaerVec<f64>> + 'a,
        S: OdeSolverMethod<'a, Eqn>,
    {
        let ntimes = self.times.len();
        let mut out_t = self.times.to_vec();
        let mut y = Vec::with_capacity(ntimes);
        let mut sens = self.sens.then(|| Vec::with_capacity(ntimes));
        let mut next = 0;
        // Every step's state as the solver holds it, the start's first.
        macro_rules! record {
            ($state:expr) => {{
                let state = $state;
                out_t.push(state.t);
                y.push(state.y.clone_as_vec());
                if let Some(sens) = sens.as_mut() {
                    sens.push(self.row_major_sens(&state.s.clone_as_vec()));
                }
            }};
        }
        // The nodes of dense output, `(t, y)`: the start, then per step (below) interior
        // points of the solver's interpolant and the step's end.
        let mut dense_nodes = self.dense.then(|| {
            let start = solver.state();
            vec![(start.t, start.y.clone_as_vec())]
        });
        if self.at_steps {
            record!(solver.state());
        }
        let fail = |e: DiffsolError, t: f64| {
            Failure::Error(
                solver_failure(self.label, t, self.counters, Some(&e)).with_help(format!(
                    "try looser tolerances (now rtol = {:e}, atol = {:e}) or another solver, \
                     and check the model for a singularity near this time",
                    self.rtol, self.atol
                )),
            )
        };
        solver
            .set_stop_time(self.t_end)
            .map_err(|e| fail(e, self.t0))?;
        loop {
            let steps = self.steps.get();
            if self.budget.is_some_and(|b| steps >= b) {
                return Err(Failure::Stiff);
            }
            if steps >= self.max_steps {
                return Err(self.too_many_steps(solver.state().t).into());
            }
            let t_before = solver.state().t;
            before_step(&mut solver);
            let reason = solver.step().map_err(|e| fail(e, t_before))?;
            self.steps.set(steps + 1);
            let state = solver.state();
            let t = state.t;
            self.last_t.set(t);
            self.check_finite(state.y, t, "solution")?;
            if self.sens {
                self.check_finite(state.s, t, "sensitivity")?;
            }
            if self.at_steps {
                record!(solver.state());
            }
            // Dense output: the solver's own interpolant at interior nodes of the step,
            // then its end (see `dense.rs` for why).
            if let Some(nodes) = dense_nodes.as_mut() {
                let t_prev = nodes.last().map_or(t, |(s, _)| *s);
                for k in 1..DENSE_NODES_PER_STEP {
                    let tk = t_prev + (t - t_prev) * k as f64 / DENSE_NODES_PER_STEP as f64;
                    if tk > t_prev && tk < t {
                        let yk = solver.interpolate(tk).map_err(|e| fail(e, t))?;
                        nodes.push((tk, yk.clone_as_vec()));
                    }
                }
                nodes.push((t, solver.state().y.clone_as_vec()));
            }
            while next < ntimes && (self.times[next] <= t || reason_is_stop(reason)) {
                let tk = self.times[next];
                y.push(
                    solver
                        .interpolate(tk)
                        .map_err(|e| fail(e, t))?
                        .clone_as_vec(),
                );
                if let Some(sens) = sens.as_mut() {
                    let s = solver.interpolate_sens(tk).map_err(|e| fail(e, t))?;
                    sens.push(self.row_major_sens(&s.clone_as_vec()));
                }
                next += 1;
            }
            (self.progress)(t);
            if reason_is_stop(reason) {
                break;
            }
            if self.looks_stiff(steps + 1, t) {
                return Err(Failure::Stiff);
            }
            if let Some(stiff_now) = self.stiff_now
                && (steps + 1).is_multiple_of(AUTO_RECHECK_EVERY)
                && stiff_now(t, &solver.state().y.clone_as_vec())
            {
                return Err(Failure::Stiff);
            }
        }
        Ok(Output {
            t: out_t,
            y,
            sens,
            dense_nodes,
        })
    }

    /// `Auto`'s early stiffness test: see [`AUTO_PROJECTION_AFTER`].
    fn looks_stiff(&self, steps: usize, t: f64) -> bool {
        let Some(budget) = self.budget else {
            return false;
        };
        if steps < AUTO_PROJECTION_AFTER || !steps.is_multiple_of(100) {
            return false;
        }
        let done = (t - self.t0) / (self.t_end - self.t0);
        done <= 0.0 || steps as f64 / done > 10.0 * budget as f64
    }

    /// diffsol's sensitivities hold one batch lane (`n` values) per parameter; ours are
    /// `n × n_params`, row-major.
    fn row_major_sens(&self, lanes: &[f64]) -> Vec<f64> {
        let (n, np) = (self.n, self.np);
        let mut out = vec![0.0; n * np];
        for (j, lane) in lanes.chunks(n).take(np).enumerate() {
            for (i, v) in lane.iter().enumerate() {
                out[i * np + j] = *v;
            }
        }
        out
    }

    fn check_finite(&self, v: &FaerVec<f64>, t: f64, what: &str) -> Result<(), Error> {
        // Column by column (one column per batch lane) in place: this runs after every step.
        let lanes = v.inner().col_iter();
        let Some(i) = lanes
            .flat_map(|lane| lane.iter())
            .position(|v| !v.is_finite())
        else {
            return Ok(());
        };
        let component = if what == "sensitivity" && self.n > 0 {
            format!("d y[{}] / d θ[{}]", i % self.n, i / self.n)
        } else {
            format!("component {i}")
        };
        let cause = match self.counters.first_non_finite.get() {
            Some(tn) => format!(
                "; the right-hand side first evaluated to NaN or infinity at t = {}",
                fmt_time(tn)
            ),
            None => String::new(),
        };
        Err(Error::numerical(format!(
            "The {what} became NaN or infinite at t = {} ({component}), integrating with {}{cause}.",
            fmt_time(t),
            self.label
        ))
        .with_help(
            "the model may blow up in finite time, or produce NaN for these values; check it \
             near this time, or tighten the tolerances",
        ))
    }

    fn too_many_steps(&self, t: f64) -> Error {
        Error::numerical(format!(
            "The {} solver took its maximum of {} steps and stopped at t = {}, before the end time {}.",
            self.label,
            self.max_steps,
            fmt_time(t),
            fmt_time(self.t_end)
        ))
        .with_help(
            "raise the step limit (`max_steps`; `sci run --max-steps N`), loosen the \
             tolerances, or, if the problem is stiff, use `bdf`",
        )
    }
}

fn reason_is_stop(reason: OdeSolverStopReason<f64>) -> bool {
    matches!(reason, OdeSolverStopReason::TstopReached)
}

/// A failure of the solver itself, as a sentence.
fn solver_failure(label: &str, t: f64, counters: &Counters, error: Option<&DiffsolError>) -> Error {
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
