//! The stepping loop of one solve attempt: stepping a diffsol solver to the end time,
//! writing the output (requested times, every step, dense output) as it goes, and stopping
//! at events (located within the step just taken, or scheduled) to fire them and restart
//! the solver from the state after them.

use std::cell::Cell;

use diffsol::error::DiffsolError;
use diffsol::{FaerVec, OdeEquations, OdeSolverMethod, OdeSolverStopReason, Vector, VectorCommon};

use super::OdeSystem;
use super::adapter::Counters;
use super::dae::{Dae, Moment};
use super::driver::{AUTO_PROJECTION_AFTER, AUTO_RECHECK_EVERY, Failure, solver_failure};
use super::event_group::{self, EventLog};
use super::event_jumps::Jumps;
use super::event_roots::Conditions;
use super::event_schedule::Schedule;
use super::events::EventOccurrence;
use super::validate::fmt_time;
use crate::Error;

/// Nodes per step of dense output: the step's end and `DENSE_NODES_PER_STEP - 1` interior
/// points of the solver's own interpolant.
const DENSE_NODES_PER_STEP: usize = 4;

/// `Auto`'s stiffness test at `(t, y)` over the rest of the span.
pub(super) type StiffTest<'a> = dyn Fn(f64, &[f64]) -> bool + 'a;

/// What the stepping loop needs, per attempt.
pub(super) struct Drive<'d> {
    pub system: &'d dyn OdeSystem,
    pub p: &'d [f64],
    /// `Auto`'s stiffness test at a state of the explicit attempt.
    pub stiff_now: Option<&'d StiffTest<'d>>,
    pub label: &'static str,
    pub times: &'d [f64],
    /// Output at every step instead of at `times`.
    pub at_steps: bool,
    /// Keep every step for dense output.
    pub dense: bool,
    pub t0: f64,
    pub t_end: f64,
    pub sens: bool,
    pub n: usize,
    pub np: usize,
    pub max_steps: usize,
    pub budget: Option<usize>,
    /// The scheduled events' times within the span, per event.
    pub schedule: &'d [(usize, Vec<f64>)],
    pub max_events: usize,
    pub progress: &'d mut dyn FnMut(f64),
    /// The time of the last accepted step (read after a panic).
    pub last_t: &'d Cell<f64>,
    pub steps: &'d Cell<usize>,
    pub counters: &'d Counters,
    pub rtol: f64,
    pub atol: f64,
    /// A DAE's algebraic states (consistency after resets, velocities).
    pub dae: Option<&'d Dae<'d>>,
}

/// The output of a successful attempt.
pub(super) struct Output {
    /// The output times (the requested ones, or every step's), cut at a stop.
    pub t: Vec<f64>,
    pub y: Vec<Vec<f64>>,
    pub sens: Option<Vec<Vec<f64>>>,
    /// With dense output: its nodes `(t, y)`, increasing in `t` (twice at a reset).
    pub dense_nodes: Option<Vec<(f64, Vec<f64>)>>,
    pub events: Vec<EventOccurrence>,
}

/// The output being written.
struct Collect {
    t: Vec<f64>,
    y: Vec<Vec<f64>>,
    sens: Option<Vec<Vec<f64>>>,
    /// The next requested time to write.
    next: usize,
    dense_nodes: Option<Vec<(f64, Vec<f64>)>>,
}

/// The event machinery of one attempt.
struct Events<'s> {
    conditions: Conditions<'s>,
    jumps: Jumps<'s>,
    schedule: Schedule,
    log: EventLog,
    /// Where the search for the next crossing starts: the last step's end or event, and
    /// the conditions' values there (`None` without crossing events).
    from: (f64, Option<Vec<f64>>),
    /// The time the solver is set to stop at: the next scheduled event, or the end.
    stop_at: f64,
}

/// Whether the integration goes on after a group of events.
enum Flow {
    Go,
    Done,
}

/// Turns a diffsol failure at time `t` into the error the solve reports.
type Fail<'f> = dyn Fn(DiffsolError, f64) -> Failure + 'f;

impl Drive<'_> {
    /// Steps `solver` to `t_end` (or to a stop), interpolating at the output times as they
    /// are passed and firing events on the way. `before_step` adjusts the solver before
    /// each step (the Newton failure budget).
    pub(super) fn run<'a, Eqn, S>(
        &mut self,
        mut solver: S,
        mut before_step: impl FnMut(&mut S),
    ) -> Result<Output, Failure>
    where
        Eqn: OdeEquations<T = f64, V = FaerVec<f64>> + 'a,
        S: OdeSolverMethod<'a, Eqn>,
    {
        let (label, counters, rtol, atol) = (self.label, self.counters, self.rtol, self.atol);
        let fail = move |e: DiffsolError, t: f64| {
            Failure::Error(
                solver_failure(label, t, counters, Some(&e)).with_help(format!(
                    "try looser tolerances (now rtol = {rtol:e}, atol = {atol:e}) or another \
                     solver, and check the model for a singularity near this time"
                )),
            )
        };
        let y0 = solver.state().y.clone_as_vec();
        if let Some(dae) = self.dae {
            // diffsol starts the algebraic states' derivatives at zero; the solvers' first
            // step (the explicit first stage of ESDIRK34, BDF's predictor) does better from
            // the derivative of the constraint.
            let dy = dae.velocity(self.t0, &y0, Moment::Start)?;
            fill_lanes(solver.state_mut().dy, &dy, self.n);
        }
        let mut out = Collect {
            t: Vec::with_capacity(self.times.len()),
            y: Vec::with_capacity(self.times.len()),
            sens: self.sens.then(|| Vec::with_capacity(self.times.len())),
            next: 0,
            // The nodes of dense output, `(t, y)`: the start, then per step (below) interior
            // points of the solver's interpolant and the step's end.
            dense_nodes: self.dense.then(|| vec![(self.t0, y0.clone())]),
        };
        if self.at_steps {
            let s = self.lanes(&solver);
            self.push_row(&mut out, self.t0, y0.clone(), &s);
        }
        let mut ev = Events {
            conditions: Conditions::new(self.system, self.p),
            jumps: Jumps::new(self.system, self.p, self.dae),
            schedule: Schedule::new(self.schedule.to_vec()),
            log: EventLog::new(
                self.max_events,
                (self.t0, self.t_end),
                super::names::events(self.system),
            ),
            from: (self.t0, None),
            stop_at: self.t_end,
        };
        if ev.conditions.any() {
            let g = ev.conditions.eval(self.t0, &y0)?;
            ev.conditions.arm(&g);
            ev.from.1 = Some(g);
        }
        // Scheduled events at the start act on the initial state before the first step.
        let due = ev
            .schedule
            .take_due(self.t0, slack(self.t0, solver.state().h));
        let flow = if due.is_empty() {
            ev.stop_at = ev.schedule.peek().unwrap_or(self.t_end);
            solver
                .set_stop_time(ev.stop_at)
                .map_err(|e| fail(e, self.t0))?;
            Flow::Go
        } else {
            let scheduled: Vec<usize> = due.iter().map(|&(_, k)| k).collect();
            self.fire(
                &mut solver,
                &mut ev,
                &mut out,
                self.t0,
                (&[], &scheduled),
                true,
                &fail,
            )?
        };
        if let Flow::Go = flow {
            self.step_to_end(&mut solver, &mut before_step, &mut ev, &mut out, &fail)?;
        }
        Ok(Output {
            t: out.t,
            y: out.y,
            sens: out.sens,
            dense_nodes: out.dense_nodes,
            events: ev.log.occurrences,
        })
    }

    /// The loop over the steps, from the start (after any events there) to the end or a
    /// stop.
    fn step_to_end<'a, Eqn, S>(
        &mut self,
        solver: &mut S,
        before_step: &mut impl FnMut(&mut S),
        ev: &mut Events<'_>,
        out: &mut Collect,
        fail: &Fail<'_>,
    ) -> Result<(), Failure>
    where
        Eqn: OdeEquations<T = f64, V = FaerVec<f64>> + 'a,
        S: OdeSolverMethod<'a, Eqn>,
    {
        loop {
            let steps = self.steps.get();
            if self.budget.is_some_and(|b| steps >= b) {
                return Err(Failure::Stiff);
            }
            if steps >= self.max_steps {
                return Err(self.too_many_steps(solver.state().t).into());
            }
            let t_before = solver.state().t;
            before_step(solver);
            let reason = solver.step().map_err(|e| fail(e, t_before))?;
            self.steps.set(steps + 1);
            let state = solver.state();
            let (t, h) = (state.t, state.h);
            self.last_t.set(t);
            self.check_finite(state.y, t, "solution")?;
            if self.sens {
                self.check_finite(state.s, t, "sensitivity")?;
            }
            let at_stop = matches!(reason, OdeSolverStopReason::TstopReached);

            // The first crossing within the step, if any: the step's output ends there.
            let mut t_piece = t;
            let mut crossing = Vec::new();
            let mut g_end = None;
            if let (true, (t_from, Some(g_from))) = (ev.conditions.any(), &ev.from) {
                let g = ev.conditions.eval(t, &solver.state().y.clone_as_vec())?;
                if !ev.conditions.crossed(t, &g).is_empty() {
                    let y_at = |tm: f64| {
                        let y = solver.interpolate(tm);
                        y.map(|y| self.settle(tm, y.clone_as_vec(), &mut []))
                            .map_err(|e| fail(e, t).into_error())
                    };
                    let root = ev.conditions.locate((*t_from, g_from), (t, &g), y_at)?;
                    if let Some(k) = root.pinned {
                        let name = super::names::event(self.system, k);
                        return Err(event_group::pinned(&name, root.t).into());
                    }
                    (t_piece, crossing) = (root.t, root.events);
                }
                g_end = Some(g);
            }
            // Scheduled events due: at the time the solver was stopped at, or within
            // rounding of a crossing.
            let due = if !crossing.is_empty() {
                ev.schedule.take_due(t_piece, slack(t_piece, h))
            } else if at_stop {
                let due = ev.schedule.take_due(ev.stop_at, slack(ev.stop_at, h));
                if !due.is_empty() {
                    t_piece = ev.stop_at;
                }
                due
            } else {
                Vec::new()
            };
            let event = !crossing.is_empty() || !due.is_empty();
            let finished = at_stop && !event && ev.stop_at >= self.t_end;

            // The output on the piece of the step before `t_piece`.
            self.dense_interior(solver, out, t_piece, fail)?;
            while out.next < self.times.len()
                && (self.times[out.next] < t_piece
                    || (!event && (self.times[out.next] <= t || finished)))
            {
                let tk = self.times[out.next];
                // A scheduled stop may lie a rounding error past the step's end.
                let at = tk.min(t);
                let y = solver.interpolate(at).map_err(|e| fail(e, t))?;
                let mut s = if self.sens {
                    let s = solver.interpolate_sens(at).map_err(|e| fail(e, t))?;
                    s.clone_as_vec()
                } else {
                    Vec::new()
                };
                let y = self.settle(at, y.clone_as_vec(), &mut s);
                self.push_row(out, tk, y, &s);
                out.next += 1;
            }

            if event {
                if t_piece < t {
                    solver
                        .state_mut_back(t_piece)
                        .map_err(|e| fail(e, t_piece))?;
                }
                if let Some(nodes) = out.dense_nodes.as_mut() {
                    let y = self.settle(t_piece, solver.state().y.clone_as_vec(), &mut []);
                    nodes.push((t_piece, y));
                }
                let scheduled: Vec<usize> = due.iter().map(|&(_, k)| k).collect();
                let flow = self.fire(
                    solver,
                    ev,
                    out,
                    t_piece,
                    (&crossing, &scheduled),
                    false,
                    fail,
                )?;
                if let Flow::Done = flow {
                    return Ok(());
                }
            } else {
                let y = solver.state().y.clone_as_vec();
                if let Some(nodes) = out.dense_nodes.as_mut() {
                    nodes.push((t, y.clone()));
                }
                if self.at_steps {
                    let s = self.lanes(solver);
                    self.push_row(out, t, y, &s);
                }
                if let Some(g) = g_end {
                    ev.conditions.pass(t, &g);
                    ev.from = (t, Some(g));
                } else {
                    ev.from.0 = t;
                }
                (self.progress)(t);
                if finished {
                    return Ok(());
                }
            }
            let t = solver.state().t;
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
    }

    /// Fires the events due at `t` (`(crossing, scheduled)`, the solver's state being the one
    /// just before them), writes their rows, restarts the solver from the state after them
    /// and re-arms the conditions. `at_start`: the events act on the initial state, whose
    /// row is already written.
    #[allow(clippy::too_many_arguments)]
    fn fire<'a, Eqn, S>(
        &mut self,
        solver: &mut S,
        ev: &mut Events<'_>,
        out: &mut Collect,
        t: f64,
        (crossing, scheduled): (&[usize], &[usize]),
        at_start: bool,
        fail: &Fail<'_>,
    ) -> Result<Flow, Failure>
    where
        Eqn: OdeEquations<T = f64, V = FaerVec<f64>> + 'a,
        S: OdeSolverMethod<'a, Eqn>,
    {
        // The state just before the events: interpolated when a crossing was located
        // within the step.
        let mut s_before = self.lanes(solver);
        let y_before = self.settle(t, solver.state().y.clone_as_vec(), &mut s_before);
        // The probes of re-arming take the last step as their time scale.
        let h = (t - ev.from.0).abs().max(solver.state().h.abs());
        let fired = event_group::fire(
            &ev.jumps,
            self.system.events(),
            &mut ev.log,
            t,
            (crossing, scheduled),
            (y_before.clone(), s_before.clone()),
            self.sens,
        )?;
        if fired.reset && !at_start && self.at_steps {
            self.push_row(out, t, y_before.clone(), &s_before);
        }
        if fired.reset
            && let Some(nodes) = out.dense_nodes.as_mut()
        {
            nodes.push((t, fired.y.clone()));
        }
        if fired.stop {
            // The last row: the state the integration stopped in; requested times after it
            // are dropped.
            if !(at_start && !fired.reset && self.at_steps) {
                self.push_row(out, t, fired.y, &fired.s);
            }
            out.next = self.times.len();
            (self.progress)(t);
            return Ok(Flow::Done);
        }
        let f_before = ev.jumps.velocity(t, &y_before)?;
        let dy = ev.jumps.velocity(t, &fired.y)?;
        let ds = if self.sens {
            ev.jumps.sens_rhs(t, &fired.y, &fired.s)
        } else {
            Vec::new()
        };
        self.check_finite_slice(&fired.s, t, "sensitivity")?;
        write_state(solver, t, (&fired.y, &dy), (&fired.s, &ds), self.n);
        if self.at_steps {
            self.push_row(out, t, fired.y.clone(), &fired.s);
        }
        // Right-continuous: a requested time at the event reports the state after it.
        let end = self.t_end - t <= slack(t, h);
        while out.next < self.times.len() && (self.times[out.next] <= t || end) {
            self.push_row(out, self.times[out.next], fired.y.clone(), &fired.s);
            out.next += 1;
        }
        if ev.conditions.any() {
            ev.conditions
                .rearm(t, (&y_before, &f_before), (&fired.y, &dy), &fired.events, h)?;
            ev.from = (t, Some(ev.conditions.eval(t, &fired.y)?));
        } else {
            ev.from.0 = t;
        }
        (self.progress)(t);
        if end {
            return Ok(Flow::Done);
        }
        ev.stop_at = ev.schedule.peek().unwrap_or(self.t_end);
        solver.set_stop_time(ev.stop_at).map_err(|e| fail(e, t))?;
        Ok(Flow::Go)
    }

    /// Dense output: interior nodes of the solver's own interpolant between the last node
    /// and `t` (see `dense.rs` for why).
    fn dense_interior<'a, Eqn, S>(
        &self,
        solver: &S,
        out: &mut Collect,
        t: f64,
        fail: &Fail<'_>,
    ) -> Result<(), Failure>
    where
        Eqn: OdeEquations<T = f64, V = FaerVec<f64>> + 'a,
        S: OdeSolverMethod<'a, Eqn>,
    {
        let Some(nodes) = out.dense_nodes.as_mut() else {
            return Ok(());
        };
        let t_prev = nodes.last().map_or(t, |(s, _)| *s);
        for k in 1..DENSE_NODES_PER_STEP {
            let tk = t_prev + (t - t_prev) * k as f64 / DENSE_NODES_PER_STEP as f64;
            if tk > t_prev && tk < t {
                let yk = solver.interpolate(tk).map_err(|e| fail(e, t))?;
                nodes.push((tk, self.settle(tk, yk.clone_as_vec(), &mut [])));
            }
        }
        Ok(())
    }

    /// For a DAE, an interpolated state `y` at `t` with its algebraic states solved for again
    /// from their interpolated values, and the algebraic rows of the sensitivities `s`
    /// (flattened lanes; empty for none) made consistent; `y` itself for an ODE. The
    /// solvers' interpolants are good for the differential states, but the Runge–Kutta
    /// methods' continuous extension is built from stage derivatives, which for algebraic
    /// states are not accurate derivatives: ESDIRK34 at rtol 1e-10 interpolated an RC
    /// circuit's current 30 times worse than it stepped it. Solving the constraint makes the
    /// algebraic states as accurate as the differential ones they follow from (one or two
    /// Newton iterations from the interpolated values). Where Newton fails the interpolated
    /// values are kept: the step around them was accepted, so this is an output, not a
    /// reason to stop.
    fn settle(&self, t: f64, y: Vec<f64>, s: &mut [f64]) -> Vec<f64> {
        let Some(dae) = self.dae else {
            return y;
        };
        match dae.consistent(t, &y, Moment::During) {
            Ok(y) => {
                if !s.is_empty() {
                    let mut settled = s.to_vec();
                    if dae.settle_sens(t, &y, &mut settled, Moment::During).is_ok() {
                        s.copy_from_slice(&settled);
                    }
                }
                y
            }
            Err(_) => y,
        }
    }

    /// The solver's sensitivities as flattened lanes (`n` values per parameter); empty
    /// without sensitivities.
    fn lanes<'a, Eqn, S>(&self, solver: &S) -> Vec<f64>
    where
        Eqn: OdeEquations<T = f64, V = FaerVec<f64>> + 'a,
        S: OdeSolverMethod<'a, Eqn>,
    {
        if !self.sens {
            return Vec::new();
        }
        let mut s = solver.state().s.clone_as_vec();
        s.truncate(self.n * self.np);
        s
    }

    /// Writes a row: time, state and (with sensitivities) `s` as lanes.
    fn push_row(&self, out: &mut Collect, t: f64, y: Vec<f64>, s: &[f64]) {
        out.t.push(t);
        out.y.push(y);
        if let Some(sens) = out.sens.as_mut() {
            sens.push(self.row_major_sens(s));
        }
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
        let position = lanes
            .flat_map(|lane| lane.iter())
            .position(|v| !v.is_finite());
        self.non_finite(position, t, what)
    }

    fn check_finite_slice(&self, v: &[f64], t: f64, what: &str) -> Result<(), Error> {
        self.non_finite(v.iter().position(|v| !v.is_finite()), t, what)
    }

    /// The error for a value that is not finite at flattened index `position`, if any.
    fn non_finite(&self, position: Option<usize>, t: f64, what: &str) -> Result<(), Error> {
        let Some(i) = position else {
            return Ok(());
        };
        let component = if what == "sensitivity" && self.n > 0 {
            format!("d y[{}] / d θ[{}]", i % self.n, i / self.n)
        } else {
            super::names::state(self.system, i)
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

/// Times closer than this to `t` are the same time to the solver: diffsol's own rounding
/// allowance for stop times (`100 ε (|t| + |h|)`), doubled.
fn slack(t: f64, h: f64) -> f64 {
    200.0 * f64::EPSILON * (t.abs() + h.abs())
}

/// Puts the state after events into the solver: time, `y` and `dy = f(t, y)`, and the
/// sensitivities and their derivative (diffsol's lanes; empty without them). The solver
/// restarts from it (BDF at first order, the Runge–Kutta methods from `dy`).
fn write_state<'a, Eqn, S>(
    solver: &mut S,
    t: f64,
    (y, dy): (&[f64], &[f64]),
    (s, ds): (&[f64], &[f64]),
    n: usize,
) where
    Eqn: OdeEquations<T = f64, V = FaerVec<f64>> + 'a,
    S: OdeSolverMethod<'a, Eqn>,
{
    let state = solver.state_mut();
    *state.t = t;
    fill_lanes(state.y, y, n);
    fill_lanes(state.dy, dy, n);
    if !s.is_empty() {
        fill_lanes(state.s, s, n);
        fill_lanes(state.ds, ds, n);
    }
}

/// Copies flattened lanes (`n` values each) into a (batched) diffsol vector.
fn fill_lanes(v: &mut FaerVec<f64>, lanes: &[f64], n: usize) {
    v.for_each_batch_host([], |lane, [], b| {
        if let Some(src) = lanes.get(b * n..(b + 1) * n) {
            lane.copy_from_slice(src);
        }
    });
}
