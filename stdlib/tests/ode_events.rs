//! Events in the ODE solvers, on hand-written systems with known answers: a bouncing ball
//! (crossing events with a reset), a terminal event, periodic dosing (scheduled resets), a
//! condition with explicit time dependence, sensitivities across events against finite
//! differences, the output rows around events, and the guards (Zeno points, event limits,
//! malformed schedules, NaN conditions).

use sci_stdlib::ErrorKind;
use sci_stdlib::ode::{
    Crossing, DEFAULT_MAX_EVENTS, EventAction, EventSpec, EventTrigger, JacobianKind, Method,
    OdeSystem, Solution, SolveOptions, Sparsity, SwitchReason, solve,
};

// ---------------------------------------------------------------------------------------
// Systems
// ---------------------------------------------------------------------------------------

/// A ball dropped from `H0` with no speed: `h' = v`, `v' = −g`; θ = (g, e). When `h` falls
/// through 0 the speed reverses and shrinks: `v ← −e v`.
struct Ball {
    pattern: Sparsity,
    events: [EventSpec; 1],
}

const H0: f64 = 10.0;
const BALL_THETA: [f64; 2] = [9.81, 0.8];

impl Ball {
    fn new() -> Ball {
        Ball::crossing(Crossing::Falling)
    }

    /// The ball whose bounce fires on the given crossings of `h = 0`.
    fn crossing(crossing: Crossing) -> Ball {
        Ball {
            events: [EventSpec {
                trigger: EventTrigger::Crossing(crossing),
                action: EventAction::Reset,
            }],
            // Row 0: ∂h'/∂v; row 1: nothing (the diagonal kept for the sparse LU).
            pattern: Sparsity {
                n: 2,
                row_ptr: vec![0, 2, 3],
                col_idx: vec![0, 1, 1],
            },
        }
    }
}

impl OdeSystem for Ball {
    fn n_states(&self) -> usize {
        2
    }
    fn n_params(&self) -> usize {
        2
    }
    fn rhs(&self, _t: f64, y: &[f64], p: &[f64], dy: &mut [f64]) {
        dy[0] = y[1];
        dy[1] = -p[0];
    }
    fn jac_mul(&self, _t: f64, _y: &[f64], _p: &[f64], v: &[f64], out: &mut [f64]) {
        out[0] = v[1];
        out[1] = 0.0;
    }
    fn param_jac_mul(&self, _t: f64, _y: &[f64], _p: &[f64], v: &[f64], out: &mut [f64]) {
        out[0] = 0.0;
        out[1] = -v[0];
    }
    fn sparsity(&self) -> Option<&Sparsity> {
        Some(&self.pattern)
    }
    fn jacobian_values(&self, _t: f64, _y: &[f64], _p: &[f64], values: &mut [f64]) {
        values.copy_from_slice(&[0.0, 1.0, 0.0]);
    }
    fn y0(&self, _p: &[f64], y0: &mut [f64]) {
        y0.copy_from_slice(&[H0, 0.0]);
    }
    fn y0_param_jac_mul(&self, _p: &[f64], _v: &[f64], out: &mut [f64]) {
        out.fill(0.0);
    }
    fn events(&self) -> &[EventSpec] {
        &self.events
    }
    fn event_conditions(&self, _t: f64, y: &[f64], _p: &[f64], g: &mut [f64]) {
        g[0] = y[0];
    }
    fn event_conditions_jac_mul(
        &self,
        _t: f64,
        _y: &[f64],
        _p: &[f64],
        v: &[f64],
        out: &mut [f64],
    ) {
        out[0] = v[0];
    }
    fn event_conditions_param_jac_mul(
        &self,
        _t: f64,
        _y: &[f64],
        _p: &[f64],
        _v: &[f64],
        out: &mut [f64],
    ) {
        out[0] = 0.0;
    }
    fn event_reset(&self, _k: usize, _t: f64, y: &[f64], p: &[f64], y_new: &mut [f64]) {
        y_new[1] = -p[1] * y[1];
    }
    fn event_reset_jac_mul(
        &self,
        _k: usize,
        _t: f64,
        _y: &[f64],
        p: &[f64],
        v: &[f64],
        out: &mut [f64],
    ) {
        out[0] = v[0];
        out[1] = -p[1] * v[1];
    }
    fn event_reset_param_jac_mul(
        &self,
        _k: usize,
        _t: f64,
        y: &[f64],
        _p: &[f64],
        v: &[f64],
        out: &mut [f64],
    ) {
        out[0] = 0.0;
        out[1] = -y[1] * v[1];
    }
}

/// The ball's exact motion: the bounce times, and the state at any time.
struct BallExact {
    g: f64,
    /// The bounce times, and the upward speed just after each.
    bounces: Vec<(f64, f64)>,
}

impl BallExact {
    fn new([g, e]: [f64; 2], t_end: f64) -> BallExact {
        let t1 = (2.0 * H0 / g).sqrt();
        let mut bounces = vec![(t1, e * g * t1)];
        while let Some(&(t, v)) = bounces.last() {
            let next = t + 2.0 * v / g;
            if next > t_end || bounces.len() > 50 {
                break;
            }
            bounces.push((next, e * v));
        }
        BallExact { g, bounces }
    }

    /// `(h, v)` at `t` (right-continuous at the bounces).
    fn at(&self, t: f64) -> [f64; 2] {
        let last = self.bounces.iter().rev().find(|(tb, _)| *tb <= t);
        let (t0, h0, v0) = match last {
            Some(&(tb, v)) => (tb, 0.0, v),
            None => (0.0, H0, 0.0),
        };
        let s = t - t0;
        [h0 + v0 * s - 0.5 * self.g * s * s, v0 - self.g * s]
    }
}

/// `y' = 1` from 0, stopped when `y` rises through `C`: θ = (a) with `y' = a` so that the
/// stop time moves with θ.
struct Terminal;

const STOP_AT: f64 = 2.5;
const TERMINAL_EVENTS: [EventSpec; 1] = [EventSpec {
    trigger: EventTrigger::Crossing(Crossing::Rising),
    action: EventAction::Stop,
}];

impl OdeSystem for Terminal {
    fn n_states(&self) -> usize {
        1
    }
    fn n_params(&self) -> usize {
        1
    }
    fn rhs(&self, _t: f64, _y: &[f64], p: &[f64], dy: &mut [f64]) {
        dy[0] = p[0];
    }
    fn jac_mul(&self, _t: f64, _y: &[f64], _p: &[f64], _v: &[f64], out: &mut [f64]) {
        out[0] = 0.0;
    }
    fn param_jac_mul(&self, _t: f64, _y: &[f64], _p: &[f64], v: &[f64], out: &mut [f64]) {
        out[0] = v[0];
    }
    fn y0(&self, _p: &[f64], y0: &mut [f64]) {
        y0[0] = 0.0;
    }
    fn y0_param_jac_mul(&self, _p: &[f64], _v: &[f64], out: &mut [f64]) {
        out[0] = 0.0;
    }
    fn events(&self) -> &[EventSpec] {
        &TERMINAL_EVENTS
    }
    fn event_conditions(&self, _t: f64, y: &[f64], _p: &[f64], g: &mut [f64]) {
        g[0] = y[0] - STOP_AT;
    }
    fn event_conditions_jac_mul(
        &self,
        _t: f64,
        _y: &[f64],
        _p: &[f64],
        v: &[f64],
        out: &mut [f64],
    ) {
        out[0] = v[0];
    }
    fn event_conditions_param_jac_mul(
        &self,
        _t: f64,
        _y: &[f64],
        _p: &[f64],
        _v: &[f64],
        out: &mut [f64],
    ) {
        out[0] = 0.0;
    }
}

/// One-compartment elimination `c' = −k c` with a dose `D` every `PERIOD` hours from 0;
/// θ = (k, D).
struct Dosing;

const PERIOD: f64 = 24.0;
const DOSING_THETA: [f64; 2] = [0.1, 100.0];
const DOSING_SPAN: (f64, f64) = (0.0, 120.0);
const DOSING_EVENTS: [EventSpec; 1] = [EventSpec {
    trigger: EventTrigger::Scheduled,
    action: EventAction::Reset,
}];

impl OdeSystem for Dosing {
    fn n_states(&self) -> usize {
        1
    }
    fn n_params(&self) -> usize {
        2
    }
    fn rhs(&self, _t: f64, y: &[f64], p: &[f64], dy: &mut [f64]) {
        dy[0] = -p[0] * y[0];
    }
    fn jac_mul(&self, _t: f64, _y: &[f64], p: &[f64], v: &[f64], out: &mut [f64]) {
        out[0] = -p[0] * v[0];
    }
    fn param_jac_mul(&self, _t: f64, y: &[f64], _p: &[f64], v: &[f64], out: &mut [f64]) {
        out[0] = -y[0] * v[0];
    }
    fn y0(&self, _p: &[f64], y0: &mut [f64]) {
        y0[0] = 0.0;
    }
    fn y0_param_jac_mul(&self, _p: &[f64], _v: &[f64], out: &mut [f64]) {
        out[0] = 0.0;
    }
    fn events(&self) -> &[EventSpec] {
        &DOSING_EVENTS
    }
    fn event_times(&self, _k: usize, _p: &[f64], (t0, t_end): (f64, f64)) -> Vec<f64> {
        (0..)
            .map(|n| t0 + PERIOD * n as f64)
            .take_while(|t| *t <= t_end)
            .collect()
    }
    fn event_reset(&self, _k: usize, _t: f64, y: &[f64], p: &[f64], y_new: &mut [f64]) {
        y_new[0] = y[0] + p[1];
    }
    fn event_reset_jac_mul(
        &self,
        _k: usize,
        _t: f64,
        _y: &[f64],
        _p: &[f64],
        v: &[f64],
        out: &mut [f64],
    ) {
        out[0] = v[0];
    }
    fn event_reset_param_jac_mul(
        &self,
        _k: usize,
        _t: f64,
        _y: &[f64],
        _p: &[f64],
        v: &[f64],
        out: &mut [f64],
    ) {
        out[0] = v[1];
    }
}

/// The dosing model's closed form: `(c just before, c just after)` dose `n` at `24 n`, and
/// `c(t)` (right-continuous at the doses).
fn dosing_exact([k, d]: [f64; 2], n: usize) -> (f64, f64) {
    let r = (-k * PERIOD).exp();
    // c just after dose n = D (1 + r + … + rⁿ).
    let after = d * (1.0 - r.powi(n as i32 + 1)) / (1.0 - r);
    (after - d, after)
}

fn dosing_at(theta: [f64; 2], t: f64) -> f64 {
    let n = (t / PERIOD).floor() as usize;
    let (_, after) = dosing_exact(theta, n);
    after * (-theta[0] * (t - PERIOD * n as f64)).exp()
}

/// `y' = −y` from 1, with `y ← y + 1` when `t − 3` rises through 0 (a condition that
/// depends on time only) and, as event 1, a second reset `y ← 2 y` at the same time (the
/// two must apply in index order).
struct Clock;

const CLOCK_EVENTS: [EventSpec; 2] = [
    EventSpec {
        trigger: EventTrigger::Crossing(Crossing::Rising),
        action: EventAction::Reset,
    },
    EventSpec {
        trigger: EventTrigger::Crossing(Crossing::Either),
        action: EventAction::Reset,
    },
];

impl OdeSystem for Clock {
    fn n_states(&self) -> usize {
        1
    }
    fn n_params(&self) -> usize {
        0
    }
    fn rhs(&self, _t: f64, y: &[f64], _p: &[f64], dy: &mut [f64]) {
        dy[0] = -y[0];
    }
    fn jac_mul(&self, _t: f64, _y: &[f64], _p: &[f64], v: &[f64], out: &mut [f64]) {
        out[0] = -v[0];
    }
    fn param_jac_mul(&self, _t: f64, _y: &[f64], _p: &[f64], _v: &[f64], out: &mut [f64]) {
        out[0] = 0.0;
    }
    fn y0(&self, _p: &[f64], y0: &mut [f64]) {
        y0[0] = 1.0;
    }
    fn y0_param_jac_mul(&self, _p: &[f64], _v: &[f64], out: &mut [f64]) {
        out[0] = 0.0;
    }
    fn events(&self) -> &[EventSpec] {
        &CLOCK_EVENTS
    }
    fn event_conditions(&self, t: f64, _y: &[f64], _p: &[f64], g: &mut [f64]) {
        g[0] = t - 3.0;
        g[1] = 3.0 - t;
    }
    fn event_conditions_time_derivative(&self, _t: f64, _y: &[f64], _p: &[f64], out: &mut [f64]) {
        out.copy_from_slice(&[1.0, -1.0]);
    }
    fn event_reset(&self, k: usize, _t: f64, y: &[f64], _p: &[f64], y_new: &mut [f64]) {
        y_new[0] = if k == 0 { y[0] + 1.0 } else { 2.0 * y[0] };
    }
}

// ---------------------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------------------

const METHODS: [Method; 5] = [
    Method::Tsit5,
    Method::Bdf,
    Method::Esdirk34,
    Method::TrBdf2,
    Method::Auto,
];

fn opts(method: Method, span: (f64, f64), rtol: f64, atol: f64) -> SolveOptions {
    SolveOptions {
        method,
        span: Some(span),
        rtol,
        atol,
        ..SolveOptions::default()
    }
}

fn run(system: &dyn OdeSystem, p: &[f64], options: &SolveOptions) -> Solution {
    solve(system, p, options, &mut |_| {}).unwrap_or_else(|e| panic!("solve failed: {e}"))
}

fn assert_close(got: f64, want: f64, tol: f64, what: &str) {
    let err = (got - want).abs() / want.abs().max(1.0);
    assert!(
        err <= tol,
        "{what}: got {got:e}, want {want:e}, error {err:e} > {tol:e}"
    );
}

/// The bounce times of a solve.
fn bounce_times(sol: &Solution) -> Vec<f64> {
    sol.events.iter().map(|e| e.t).collect()
}

// ---------------------------------------------------------------------------------------
// Crossing events with resets: the bouncing ball
// ---------------------------------------------------------------------------------------

#[test]
fn ball_bounces_at_the_exact_times_in_every_method() {
    let t_end = 9.0;
    let exact = BallExact::new(BALL_THETA, t_end);
    assert!(exact.bounces.len() >= 5);
    let times: Vec<f64> = (0..=90).map(|k| k as f64 * 0.1).collect();
    for method in METHODS {
        for jacobian in [JacobianKind::Dense, JacobianKind::Sparse] {
            let o = SolveOptions {
                times: Some(times.clone()),
                jacobian,
                ..opts(method, (0.0, t_end), 1e-10, 1e-12)
            };
            let sol = run(&Ball::new(), &BALL_THETA, &o);
            let what = format!("{method:?} {jacobian:?}");
            let got = bounce_times(&sol);
            assert_eq!(got.len(), exact.bounces.len(), "{what}: {got:?}");
            let worst = got
                .iter()
                .zip(&exact.bounces)
                .map(|(t, (te, _))| (t - te).abs())
                .fold(0.0, f64::max);
            eprintln!("{what}: worst bounce-time error {worst:e}");
            for (k, (t, (te, _))) in got.iter().zip(&exact.bounces).take(5).enumerate() {
                assert_close(*t, *te, 1e-8, &format!("{what}: bounce {k}"));
            }
            assert_eq!(sol.t, times, "{what}");
            for (t, y) in sol.t.iter().zip(&sol.y) {
                let want = exact.at(*t);
                assert!(
                    (y[0] - want[0]).abs() < 1e-7 && (y[1] - want[1]).abs() < 1e-7,
                    "{what}: at t = {t}: {y:?}, want {want:?}"
                );
            }
        }
    }
}

#[test]
fn ball_bounces_the_same_on_either_crossing() {
    // With `Either`, the bounce leaves h a rounding error from zero, moving up: it is armed
    // above (the side the flow takes it to) and does not fire again until the next fall.
    let exact = BallExact::new(BALL_THETA, 9.0);
    for method in [Method::Tsit5, Method::Bdf] {
        let sol = run(
            &Ball::crossing(Crossing::Either),
            &BALL_THETA,
            &opts(method, (0.0, 9.0), 1e-10, 1e-12),
        );
        let got = bounce_times(&sol);
        assert_eq!(got.len(), exact.bounces.len(), "{method:?}: {got:?}");
        for (t, (te, _)) in got.iter().zip(&exact.bounces) {
            assert_close(*t, *te, 1e-8, &format!("{method:?} either"));
        }
    }
    // `Rising` never fires: the ball only ever reaches the floor from above.
    let sol = run(
        &Ball::crossing(Crossing::Rising),
        &BALL_THETA,
        &opts(Method::Tsit5, (0.0, 3.0), 1e-10, 1e-12),
    );
    assert!(sol.events.is_empty());
    assert!(sol.y.last().unwrap()[0] < 0.0);
}

/// `x' = 1` from 0 with `x ← 0` when `x − 1` rises through 0: a sawtooth whose reset moves
/// the condition far from its zero (so it is re-armed below, by its value).
struct Sawtooth;

impl OdeSystem for Sawtooth {
    fn n_states(&self) -> usize {
        1
    }
    fn n_params(&self) -> usize {
        0
    }
    fn rhs(&self, _t: f64, _y: &[f64], _p: &[f64], dy: &mut [f64]) {
        dy[0] = 1.0;
    }
    fn jac_mul(&self, _t: f64, _y: &[f64], _p: &[f64], _v: &[f64], out: &mut [f64]) {
        out[0] = 0.0;
    }
    fn param_jac_mul(&self, _t: f64, _y: &[f64], _p: &[f64], _v: &[f64], out: &mut [f64]) {
        out[0] = 0.0;
    }
    fn y0(&self, _p: &[f64], y0: &mut [f64]) {
        y0[0] = 0.0;
    }
    fn y0_param_jac_mul(&self, _p: &[f64], _v: &[f64], out: &mut [f64]) {
        out[0] = 0.0;
    }
    fn events(&self) -> &[EventSpec] {
        &CLOCK_EVENTS[..1]
    }
    fn event_conditions(&self, _t: f64, y: &[f64], _p: &[f64], g: &mut [f64]) {
        g[0] = y[0] - 1.0;
    }
    fn event_reset(&self, _k: usize, _t: f64, _y: &[f64], _p: &[f64], y_new: &mut [f64]) {
        y_new[0] = 0.0;
    }
}

#[test]
fn sawtooth_fires_once_per_tooth() {
    for method in METHODS {
        let o = SolveOptions {
            times: Some(vec![0.5, 2.5, 9.25]),
            ..opts(method, (0.0, 9.5), 1e-8, 1e-10)
        };
        let sol = run(&Sawtooth, &[], &o);
        let got = bounce_times(&sol);
        assert_eq!(got.len(), 9, "{method:?}: {got:?}");
        for (n, t) in got.iter().enumerate() {
            assert!(
                (t - (n + 1) as f64).abs() < 1e-10,
                "{method:?}: tooth {n} at {t}"
            );
        }
        for (y, want) in sol.y.iter().zip([0.5, 0.5, 0.25]) {
            assert!((y[0] - want).abs() < 1e-9, "{method:?}: {y:?}, want {want}");
        }
    }
}

#[test]
fn ball_events_record_the_states_before_and_after() {
    let sol = run(
        &Ball::new(),
        &BALL_THETA,
        &opts(Method::Tsit5, (0.0, 9.0), 1e-10, 1e-12),
    );
    let exact = BallExact::new(BALL_THETA, 9.0);
    for (occ, &(t, v_up)) in sol.events.iter().zip(&exact.bounces) {
        assert_eq!(occ.event, 0);
        assert_close(occ.t, t, 1e-8, "bounce time");
        // At the bounce: on the floor (to the root tolerance), falling before, rising after.
        assert!(occ.y_before[0].abs() < 1e-9, "{occ:?}");
        assert_eq!(occ.y_after[0], occ.y_before[0]);
        assert_close(occ.y_before[1], -v_up / BALL_THETA[1], 1e-8, "speed before");
        assert_close(occ.y_after[1], v_up, 1e-8, "speed after");
        assert_eq!(occ.y_after[1], -BALL_THETA[1] * occ.y_before[1]);
    }
}

#[test]
fn ball_with_sensitivities_and_each_output_mode() {
    // Sensitivities on (so the state is integrated with them), at steps and with dense
    // output: the bounce times do not change, and every mode shows the jumps.
    let exact = BallExact::new(BALL_THETA, 9.0);
    for method in METHODS {
        let base = SolveOptions {
            sensitivities: true,
            ..opts(method, (0.0, 9.0), 1e-10, 1e-12)
        };
        let at_steps = run(
            &Ball::new(),
            &BALL_THETA,
            &SolveOptions {
                at_steps: true,
                dense: true,
                ..base.clone()
            },
        );
        let got = bounce_times(&at_steps);
        assert_eq!(got.len(), exact.bounces.len(), "{method:?}");
        for (t, (te, _)) in got.iter().zip(&exact.bounces) {
            assert_close(*t, *te, 1e-8, &format!("{method:?} with sensitivities"));
        }
        // Each bounce is two rows at its time: before (falling), after (rising).
        for occ in &at_steps.events {
            let rows: Vec<usize> = (0..at_steps.t.len())
                .filter(|&r| at_steps.t[r] == occ.t)
                .collect();
            assert_eq!(rows.len(), 2, "{method:?}: rows at {}", occ.t);
            assert_eq!(at_steps.y[rows[0]], occ.y_before);
            assert_eq!(at_steps.y[rows[1]], occ.y_after);
            assert_eq!(rows[1], rows[0] + 1);
        }
        assert!(at_steps.t.windows(2).all(|w| w[0] <= w[1]));
        assert_eq!(at_steps.t.last(), Some(&9.0));
        // Dense output: right-continuous at a bounce, each piece on its own.
        let dense = at_steps.dense.as_ref().expect("dense output");
        let first = &at_steps.events[0];
        assert_eq!(dense.at(first.t).unwrap(), first.y_after);
        let just_before = dense.at(first.t - 1e-9).unwrap();
        assert!(
            (just_before[1] - first.y_before[1]).abs() < 1e-7,
            "{just_before:?}"
        );
        for k in 0..=900 {
            let t = k as f64 * 0.01;
            let (got, want) = (dense.at(t).unwrap(), exact.at(t));
            assert!(
                (got[0] - want[0]).abs() < 1e-7 && (got[1] - want[1]).abs() < 1e-7,
                "{method:?} dense at {t}: {got:?}, want {want:?}"
            );
        }
    }
}

#[test]
fn requested_time_at_an_event_reports_the_state_after_it() {
    // Dosing at 24 h: a requested time exactly at a dose is after the dose.
    let times = vec![0.0, 23.0, 24.0, 30.0, 48.0];
    for method in METHODS {
        let o = SolveOptions {
            times: Some(times.clone()),
            ..opts(method, (0.0, 50.0), 1e-12, 1e-12)
        };
        let sol = run(&Dosing, &DOSING_THETA, &o);
        assert_eq!(sol.t, times);
        assert_close(sol.y[0][0], DOSING_THETA[1], 1e-12, "dose at t0");
        assert_close(
            sol.y[2][0],
            dosing_exact(DOSING_THETA, 1).1,
            1e-8,
            "after dose 1",
        );
        assert_close(
            sol.y[4][0],
            dosing_exact(DOSING_THETA, 2).1,
            1e-8,
            "after dose 2",
        );
    }
}

// ---------------------------------------------------------------------------------------
// Terminal events
// ---------------------------------------------------------------------------------------

#[test]
fn terminal_event_ends_the_integration_at_its_time() {
    for method in METHODS {
        // Requested times past the stop are dropped; the stop is the last row.
        let o = SolveOptions {
            times: Some(vec![0.0, 1.0, 2.0, 3.0, 4.0]),
            ..opts(method, (0.0, 5.0), 1e-8, 1e-10)
        };
        let sol = run(&Terminal, &[1.0], &o);
        assert_eq!(sol.t.len(), 4, "{method:?}: {:?}", sol.t);
        assert_eq!(&sol.t[..3], &[0.0, 1.0, 2.0]);
        assert!(
            (sol.t[3] - STOP_AT).abs() < 1e-12,
            "{method:?}: {}",
            sol.t[3]
        );
        assert!((sol.y[3][0] - STOP_AT).abs() < 1e-12);
        assert_eq!(sol.events.len(), 1);
        assert_eq!(sol.events[0].y_before, sol.events[0].y_after);
        // A requested time at the stop: the stop is located to a bracket of ~1e-14, so the
        // requested 2.5 is just before the stop (a row, then the stop's) or just after it
        // (dropped) or exactly at it (one row); either way the stop's row is last.
        let o = SolveOptions {
            times: Some(vec![0.0, 2.5, 4.0]),
            ..o
        };
        let sol = run(&Terminal, &[1.0], &o);
        let t_stop = *sol.t.last().unwrap();
        assert!((t_stop - STOP_AT).abs() < 1e-12);
        let expected = if t_stop > 2.5 { 3 } else { 2 };
        assert_eq!(sol.t.len(), expected, "{method:?}: {:?}", sol.t);
        // At steps: the stop is the last row.
        let o = SolveOptions {
            times: None,
            at_steps: true,
            dense: true,
            ..o
        };
        let sol = run(&Terminal, &[1.0], &o);
        assert!((sol.t.last().unwrap() - STOP_AT).abs() < 1e-12);
        assert!(sol.t.iter().all(|&t| t <= sol.t.last().copied().unwrap()));
        let dense = sol.dense.as_ref().unwrap();
        assert!((dense.span().1 - STOP_AT).abs() < 1e-12);
    }
}

#[test]
fn terminal_event_sensitivity_includes_the_moving_stop_time() {
    // y' = a stopped at y = 2.5: the final state is 2.5 whatever a, so dy/da = 0 there,
    // while the sensitivity before the stop is t = 2.5 / a.
    for method in METHODS {
        let o = SolveOptions {
            sensitivities: true,
            times: Some(vec![1.0, 5.0]),
            ..opts(method, (0.0, 5.0), 1e-8, 1e-10)
        };
        let sol = run(&Terminal, &[2.0], &o);
        let sens = sol.sens.as_ref().unwrap();
        assert_close(sens[0][0], 1.0, 1e-8, "dy/da at t = 1");
        assert!(sens[1][0].abs() < 1e-8, "{method:?}: {}", sens[1][0]);
        assert!((sol.t[1] - STOP_AT / 2.0).abs() < 1e-12);
    }
}

// ---------------------------------------------------------------------------------------
// Scheduled events: periodic dosing
// ---------------------------------------------------------------------------------------

#[test]
fn periodic_dosing_matches_the_geometric_series() {
    let times: Vec<f64> = (0..=60).map(|k| k as f64 * 2.0).collect();
    for method in METHODS {
        let o = SolveOptions {
            times: Some(times.clone()),
            ..opts(method, DOSING_SPAN, 1e-12, 1e-12)
        };
        let sol = run(&Dosing, &DOSING_THETA, &o);
        // Doses at 0, 24, …, 120 (the last at the end time).
        assert_eq!(sol.events.len(), 6, "{method:?}");
        for (n, occ) in sol.events.iter().enumerate() {
            let (before, after) = dosing_exact(DOSING_THETA, n);
            assert_eq!(
                occ.t,
                PERIOD * n as f64,
                "{method:?}: scheduled times are exact"
            );
            assert_close(
                occ.y_before[0],
                before,
                1e-8,
                &format!("{method:?} before dose {n}"),
            );
            assert_close(
                occ.y_after[0],
                after,
                1e-8,
                &format!("{method:?} after dose {n}"),
            );
        }
        for (t, y) in sol.t.iter().zip(&sol.y) {
            assert_close(
                y[0],
                dosing_at(DOSING_THETA, *t),
                1e-8,
                &format!("{method:?} at {t}"),
            );
        }
    }
}

#[test]
fn dosing_rows_at_steps_land_on_the_dose_times() {
    let o = SolveOptions {
        at_steps: true,
        ..opts(Method::Bdf, DOSING_SPAN, 1e-8, 1e-10)
    };
    let sol = run(&Dosing, &DOSING_THETA, &o);
    // t0 twice (the initial state, then after the first dose), each dose twice.
    assert_eq!(&sol.t[..2], &[0.0, 0.0]);
    assert_eq!(sol.y[0][0], 0.0);
    assert_eq!(sol.y[1][0], DOSING_THETA[1]);
    for n in 1..=5 {
        let t = PERIOD * n as f64;
        assert_eq!(sol.t.iter().filter(|&&s| s == t).count(), 2, "dose at {t}");
    }
    assert_eq!(sol.t.last(), Some(&120.0));
}

/// `y' = −k y` from 1 with a scheduled stop at `t = 2`; θ = (k).
struct ScheduledStop;

const SCHEDULED_STOP: [EventSpec; 1] = [EventSpec {
    trigger: EventTrigger::Scheduled,
    action: EventAction::Stop,
}];

impl OdeSystem for ScheduledStop {
    fn n_states(&self) -> usize {
        1
    }
    fn n_params(&self) -> usize {
        1
    }
    fn rhs(&self, _t: f64, y: &[f64], p: &[f64], dy: &mut [f64]) {
        dy[0] = -p[0] * y[0];
    }
    fn jac_mul(&self, _t: f64, _y: &[f64], p: &[f64], v: &[f64], out: &mut [f64]) {
        out[0] = -p[0] * v[0];
    }
    fn param_jac_mul(&self, _t: f64, y: &[f64], _p: &[f64], v: &[f64], out: &mut [f64]) {
        out[0] = -y[0] * v[0];
    }
    fn y0(&self, _p: &[f64], y0: &mut [f64]) {
        y0[0] = 1.0;
    }
    fn y0_param_jac_mul(&self, _p: &[f64], _v: &[f64], out: &mut [f64]) {
        out[0] = 0.0;
    }
    fn events(&self) -> &[EventSpec] {
        &SCHEDULED_STOP
    }
    fn event_times(&self, _k: usize, _p: &[f64], _span: (f64, f64)) -> Vec<f64> {
        vec![2.0]
    }
}

#[test]
fn scheduled_stop_ends_at_its_time_exactly() {
    for method in METHODS {
        let o = SolveOptions {
            times: Some(vec![1.0, 3.0, 4.0]),
            sensitivities: true,
            dense: true,
            ..opts(method, (0.0, 5.0), 1e-10, 1e-12)
        };
        let sol = run(&ScheduledStop, &[0.5], &o);
        assert_eq!(sol.t, vec![1.0, 2.0], "{method:?}");
        assert_close(sol.y[1][0], (-1.0f64).exp(), 1e-8, "y at the stop");
        // The stop time does not move with θ: dy/dk = −t y.
        let sens = sol.sens.as_ref().unwrap();
        assert_close(
            sens[1][0],
            -2.0 * (-1.0f64).exp(),
            1e-7,
            "dy/dk at the stop",
        );
        assert_eq!(sol.dense.as_ref().unwrap().span(), (0.0, 2.0));
        assert_eq!(sol.events.len(), 1);
    }
}

// ---------------------------------------------------------------------------------------
// Conditions that depend on time; simultaneous events
// ---------------------------------------------------------------------------------------

#[test]
fn time_condition_fires_at_its_time_and_simultaneous_events_go_in_index_order() {
    for method in METHODS {
        let o = SolveOptions {
            times: Some(vec![2.0, 3.0, 4.0]),
            ..opts(method, (0.0, 5.0), 1e-12, 1e-12)
        };
        let sol = run(&Clock, &[], &o);
        assert_eq!(sol.events.len(), 2, "{method:?}: {:?}", sol.events);
        for (k, occ) in sol.events.iter().enumerate() {
            assert_eq!(occ.event, k);
            assert!((occ.t - 3.0).abs() < 1e-12, "{method:?}: {}", occ.t);
        }
        // y(3⁻) = e⁻³, then (y + 1), then doubled.
        let before = (-3.0f64).exp();
        assert_close(sol.events[0].y_before[0], before, 1e-8, "before");
        assert_close(
            sol.events[1].y_after[0],
            2.0 * (before + 1.0),
            1e-8,
            "after",
        );
        assert_close(
            sol.y[1][0],
            2.0 * (before + 1.0),
            1e-8,
            "right-continuous at 3",
        );
        assert_close(
            sol.y[2][0],
            2.0 * (before + 1.0) * (-1.0f64).exp(),
            1e-8,
            "at 4",
        );
    }
}

/// `y' = 1` from `y0 = 0`, a `Rising` event on `y` (zero at the start) that stops.
struct ZeroAtStart;

impl OdeSystem for ZeroAtStart {
    fn n_states(&self) -> usize {
        1
    }
    fn n_params(&self) -> usize {
        0
    }
    fn rhs(&self, _t: f64, _y: &[f64], _p: &[f64], dy: &mut [f64]) {
        dy[0] = 1.0;
    }
    fn jac_mul(&self, _t: f64, _y: &[f64], _p: &[f64], _v: &[f64], out: &mut [f64]) {
        out[0] = 0.0;
    }
    fn param_jac_mul(&self, _t: f64, _y: &[f64], _p: &[f64], _v: &[f64], out: &mut [f64]) {
        out[0] = 0.0;
    }
    fn y0(&self, _p: &[f64], y0: &mut [f64]) {
        y0[0] = 0.0;
    }
    fn y0_param_jac_mul(&self, _p: &[f64], _v: &[f64], out: &mut [f64]) {
        out[0] = 0.0;
    }
    fn events(&self) -> &[EventSpec] {
        &TERMINAL_EVENTS
    }
    fn event_conditions(&self, _t: f64, y: &[f64], _p: &[f64], g: &mut [f64]) {
        g[0] = y[0];
    }
}

#[test]
fn a_condition_zero_at_the_start_does_not_fire_there() {
    let sol = run(
        &ZeroAtStart,
        &[],
        &opts(Method::Tsit5, (0.0, 1.0), 1e-8, 1e-10),
    );
    assert!(sol.events.is_empty(), "{:?}", sol.events);
    assert_eq!(sol.t.last(), Some(&1.0));
}

// ---------------------------------------------------------------------------------------
// Sensitivities across events
// ---------------------------------------------------------------------------------------

/// Central differences of a whole solve's outputs (state `i` at every requested time)
/// with relative step `rel` in each parameter.
fn central_differences(
    system: &dyn OdeSystem,
    theta: &[f64],
    o: &SolveOptions,
    rel: f64,
) -> Vec<Vec<Vec<f64>>> {
    (0..theta.len())
        .map(|j| {
            let eps = rel * theta[j];
            let shifted = |sign: f64| {
                let mut p = theta.to_vec();
                p[j] += sign * eps;
                run(system, &p, o)
            };
            let (up, down) = (shifted(1.0), shifted(-1.0));
            up.y.iter()
                .zip(&down.y)
                .map(|(u, d)| {
                    u.iter()
                        .zip(d)
                        .map(|(u, d)| (u - d) / (2.0 * eps))
                        .collect()
                })
                .collect()
        })
        .collect()
}

/// The solver's sensitivities with every method at `o` against central differences of
/// Tsit5 solves at `reference`.
fn check_sensitivities(
    system: &dyn OdeSystem,
    theta: &[f64],
    (reference, o): (&SolveOptions, &SolveOptions),
    what: &str,
) {
    let fd = central_differences(system, theta, reference, 1e-5);
    let (n, np) = (system.n_states(), system.n_params());
    for method in METHODS {
        let with_sens = SolveOptions {
            method,
            sensitivities: true,
            ..o.clone()
        };
        let sol = run(system, theta, &with_sens);
        let sens = sol.sens.as_ref().unwrap();
        assert_eq!(sens.len(), fd[0].len());
        let mut worst: f64 = 0.0;
        for (r, row) in sens.iter().enumerate() {
            for i in 0..n {
                for j in 0..np {
                    let (got, want) = (row[i * np + j], fd[j][r][i]);
                    let err = (got - want).abs() / want.abs().max(1.0);
                    worst = worst.max(err);
                    assert!(
                        err < 1e-5,
                        "{what} {method:?}: d y{i}/d θ{j} at t = {}: {got:e} vs finite \
                         differences {want:e}",
                        sol.t[r]
                    );
                }
            }
        }
        eprintln!("{what} {method:?}: worst sensitivity error {worst:e}");
    }
}

#[test]
fn ball_sensitivities_across_bounces_match_finite_differences() {
    // Times after the first, second and third bounce (1.43, 3.71, 5.54).
    let reference = SolveOptions {
        times: Some(vec![1.0, 2.0, 4.0, 5.0, 6.0]),
        ..opts(Method::Tsit5, (0.0, 6.0), 1e-12, 1e-14)
    };
    let o = SolveOptions {
        rtol: 1e-10,
        atol: 1e-12,
        ..reference.clone()
    };
    check_sensitivities(&Ball::new(), &BALL_THETA, (&reference, &o), "ball");
    let sparse = SolveOptions {
        jacobian: JacobianKind::Sparse,
        ..o
    };
    check_sensitivities(
        &Ball::new(),
        &BALL_THETA,
        (&reference, &sparse),
        "ball, sparse",
    );
}

#[test]
fn dosing_sensitivities_match_finite_differences() {
    let reference = SolveOptions {
        times: Some(vec![10.0, 24.0, 30.0, 60.0, 100.0, 120.0]),
        ..opts(Method::Tsit5, DOSING_SPAN, 1e-12, 1e-12)
    };
    let o = SolveOptions {
        rtol: 1e-10,
        atol: 1e-10,
        ..reference.clone()
    };
    check_sensitivities(&Dosing, &DOSING_THETA, (&reference, &o), "dosing");
}

/// `y' = −k y` from 1 with, when `t − T` rises through 0, `y ← y + D + t / 2`; θ = (k, T,
/// D). The event time is a parameter (`∂g/∂θ` and `∂g/∂t` at work) and the reset depends
/// on time (`∂R/∂t`): for `t > T`, `y = (e^{−kT} + D + T/2) e^{−k(t − T)}`.
struct Timed;

const TIMED_THETA: [f64; 3] = [0.3, 2.0, 1.5];
const TIMED_EVENTS: [EventSpec; 1] = [EventSpec {
    trigger: EventTrigger::Crossing(Crossing::Rising),
    action: EventAction::Reset,
}];

impl OdeSystem for Timed {
    fn n_states(&self) -> usize {
        1
    }
    fn n_params(&self) -> usize {
        3
    }
    fn rhs(&self, _t: f64, y: &[f64], p: &[f64], dy: &mut [f64]) {
        dy[0] = -p[0] * y[0];
    }
    fn jac_mul(&self, _t: f64, _y: &[f64], p: &[f64], v: &[f64], out: &mut [f64]) {
        out[0] = -p[0] * v[0];
    }
    fn param_jac_mul(&self, _t: f64, y: &[f64], _p: &[f64], v: &[f64], out: &mut [f64]) {
        out[0] = -y[0] * v[0];
    }
    fn y0(&self, _p: &[f64], y0: &mut [f64]) {
        y0[0] = 1.0;
    }
    fn y0_param_jac_mul(&self, _p: &[f64], _v: &[f64], out: &mut [f64]) {
        out[0] = 0.0;
    }
    fn events(&self) -> &[EventSpec] {
        &TIMED_EVENTS
    }
    fn event_conditions(&self, t: f64, _y: &[f64], p: &[f64], g: &mut [f64]) {
        g[0] = t - p[1];
    }
    fn event_conditions_jac_mul(
        &self,
        _t: f64,
        _y: &[f64],
        _p: &[f64],
        _v: &[f64],
        out: &mut [f64],
    ) {
        out[0] = 0.0;
    }
    fn event_conditions_param_jac_mul(
        &self,
        _t: f64,
        _y: &[f64],
        _p: &[f64],
        v: &[f64],
        out: &mut [f64],
    ) {
        out[0] = -v[1];
    }
    fn event_conditions_time_derivative(&self, _t: f64, _y: &[f64], _p: &[f64], out: &mut [f64]) {
        out[0] = 1.0;
    }
    fn event_reset(&self, _k: usize, t: f64, y: &[f64], p: &[f64], y_new: &mut [f64]) {
        y_new[0] = y[0] + p[2] + 0.5 * t;
    }
    fn event_reset_jac_mul(
        &self,
        _k: usize,
        _t: f64,
        _y: &[f64],
        _p: &[f64],
        v: &[f64],
        out: &mut [f64],
    ) {
        out[0] = v[0];
    }
    fn event_reset_param_jac_mul(
        &self,
        _k: usize,
        _t: f64,
        _y: &[f64],
        _p: &[f64],
        v: &[f64],
        out: &mut [f64],
    ) {
        out[0] = v[2];
    }
    fn event_reset_time_derivative(
        &self,
        _k: usize,
        _t: f64,
        _y: &[f64],
        _p: &[f64],
        out: &mut [f64],
    ) {
        out[0] = 0.5;
    }
}

#[test]
fn sensitivities_to_the_event_time_and_a_time_dependent_reset() {
    let [k, big_t, d] = TIMED_THETA;
    let times = vec![1.0, 3.0, 4.0];
    let reference = SolveOptions {
        times: Some(times.clone()),
        ..opts(Method::Tsit5, (0.0, 4.0), 1e-12, 1e-14)
    };
    let o = SolveOptions {
        rtol: 1e-10,
        atol: 1e-12,
        ..reference.clone()
    };
    check_sensitivities(&Timed, &TIMED_THETA, (&reference, &o), "timed");
    // And against the closed form after the event.
    let sol = run(
        &Timed,
        &TIMED_THETA,
        &SolveOptions {
            sensitivities: true,
            ..o
        },
    );
    for (r, &t) in times.iter().enumerate().skip(1) {
        let a = (-k * big_t).exp() + d + 0.5 * big_t;
        let decay = (-k * (t - big_t)).exp();
        let want = [
            (-big_t * (-k * big_t).exp() - (t - big_t) * a) * decay,
            (-k * (-k * big_t).exp() + 0.5 + k * a) * decay,
            decay,
        ];
        assert_close(sol.y[r][0], a * decay, 1e-9, "y");
        for (j, (got, want)) in sol.sens.as_ref().unwrap()[r].iter().zip(want).enumerate() {
            assert_close(*got, want, 1e-8, &format!("dy/dθ{j}"));
        }
    }
}

// ---------------------------------------------------------------------------------------
// Stiff fallback
// ---------------------------------------------------------------------------------------

/// `y' = −k(t)(y − cos t)` with `k = 1 + 10⁶ t²` (stiff later), doses `y ← y + 1` at
/// `t = 0.01` and `0.5` (scheduled), and a stop when `y` falls through `0.5`.
struct StiffDosed;

const STIFF_EVENTS: [EventSpec; 2] = [
    EventSpec {
        trigger: EventTrigger::Scheduled,
        action: EventAction::Reset,
    },
    EventSpec {
        trigger: EventTrigger::Crossing(Crossing::Falling),
        action: EventAction::Stop,
    },
];

impl OdeSystem for StiffDosed {
    fn n_states(&self) -> usize {
        1
    }
    fn n_params(&self) -> usize {
        0
    }
    fn rhs(&self, t: f64, y: &[f64], _p: &[f64], dy: &mut [f64]) {
        dy[0] = -(1.0 + 1e6 * t * t) * (y[0] - t.cos());
    }
    fn jac_mul(&self, t: f64, _y: &[f64], _p: &[f64], v: &[f64], out: &mut [f64]) {
        out[0] = -(1.0 + 1e6 * t * t) * v[0];
    }
    fn param_jac_mul(&self, _t: f64, _y: &[f64], _p: &[f64], _v: &[f64], out: &mut [f64]) {
        out[0] = 0.0;
    }
    fn y0(&self, _p: &[f64], y0: &mut [f64]) {
        y0[0] = 0.0;
    }
    fn y0_param_jac_mul(&self, _p: &[f64], _v: &[f64], out: &mut [f64]) {
        out[0] = 0.0;
    }
    fn events(&self) -> &[EventSpec] {
        &STIFF_EVENTS
    }
    fn event_times(&self, _k: usize, _p: &[f64], _span: (f64, f64)) -> Vec<f64> {
        vec![0.01, 0.5]
    }
    fn event_conditions(&self, _t: f64, y: &[f64], _p: &[f64], g: &mut [f64]) {
        g[1] = y[0] - 0.5;
    }
    fn event_reset(&self, _k: usize, _t: f64, y: &[f64], _p: &[f64], y_new: &mut [f64]) {
        y_new[0] = y[0] + 1.0;
    }
}

#[test]
fn auto_restarts_events_with_bdf() {
    // Tsit5 doses at 0.01, then gives up (stiff on the way, near t = 0.06); BDF solves
    // again from t0 and fires each event once: the doses (the first lifts y across 0.5
    // upwards, which is no crossing of a `Falling` event and, being a reset, fires nothing
    // anyway), then the stop when y, tracking cos t, falls through 0.5 at π/3.
    let sol = run(
        &StiffDosed,
        &[],
        &opts(Method::Auto, (0.0, 2.0), 1e-8, 1e-10),
    );
    assert_eq!(sol.stats.method, Some(Method::Bdf));
    let switch = sol.stats.switch.as_ref().expect("a switch");
    assert_eq!(switch.reason, SwitchReason::StiffOnTheWay);
    assert!(switch.reached > 0.01, "{switch:?}");
    let events: Vec<(usize, f64)> = sol.events.iter().map(|e| (e.event, e.t)).collect();
    assert_eq!(events.len(), 3, "{events:?}");
    assert_eq!(&events[..2], &[(0, 0.01), (0, 0.5)]);
    assert_eq!(events[2].0, 1);
    assert!(
        (events[2].1 - std::f64::consts::FRAC_PI_3).abs() < 1e-5,
        "{events:?}"
    );
    assert_eq!(sol.t.last(), Some(&events[2].1));
}

// ---------------------------------------------------------------------------------------
// Guards
// ---------------------------------------------------------------------------------------

#[test]
fn zeno_ball_is_a_numerical_error_naming_the_event_and_time() {
    // e = 0.5: the bounces come ever faster and accumulate at
    // t_Z = t1 (1 + 2e / (1 − e)) = 3 t1 ≈ 4.28353; once a bounce's flight is below the
    // time resolution the ball cannot get clear of the floor. e = 0: it stays on the floor
    // and the event fires again and again at one time.
    let t_zeno = 3.0 * (2.0 * H0 / 9.81f64).sqrt();
    for e in [0.5, 0.0] {
        for method in [Method::Tsit5, Method::Bdf, Method::Esdirk34, Method::TrBdf2] {
            let err = solve(
                &Ball::new(),
                &[9.81, e],
                &opts(method, (0.0, 100.0), 1e-10, 1e-12),
                &mut |_| {},
            )
            .expect_err("a ball coming to rest fires ever more events");
            assert_eq!(err.kind, ErrorKind::Numerical, "{err}");
            assert!(err.message.starts_with("Event 0 fired"), "{err}");
            assert!(err.message.contains("Zeno"), "{err}");
            assert!(err.help.is_some(), "{err}");
            if e > 0.0 {
                assert!(
                    err.message.contains(&format!("t = {t_zeno:.5}")),
                    "{method:?}: {err}"
                );
            } else {
                assert!(err.message.contains("t = 1.42784"), "{method:?}: {err}");
            }
        }
    }
}

#[test]
fn event_limit_is_a_numerical_error() {
    let o = SolveOptions {
        max_events: 3,
        ..opts(Method::Tsit5, (0.0, 9.0), 1e-8, 1e-10)
    };
    let e = solve(&Ball::new(), &BALL_THETA, &o, &mut |_| {}).unwrap_err();
    assert_eq!(e.kind, ErrorKind::Numerical);
    assert!(e.message.contains("More than 3 events"), "{e}");
    assert!(e.message.contains("event 0"), "{e}");
    assert_eq!(SolveOptions::default().max_events, DEFAULT_MAX_EVENTS);
    let o = SolveOptions { max_events: 0, ..o };
    let e = solve(&Ball::new(), &BALL_THETA, &o, &mut |_| {}).unwrap_err();
    assert_eq!(e.kind, ErrorKind::Input);
}

/// A scheduled event whose times are out of order or not finite; a crossing event whose
/// condition is NaN.
struct Malformed {
    times: Vec<f64>,
}

const MALFORMED_EVENTS: [EventSpec; 2] = [
    EventSpec {
        trigger: EventTrigger::Scheduled,
        action: EventAction::Reset,
    },
    EventSpec {
        trigger: EventTrigger::Crossing(Crossing::Either),
        action: EventAction::Stop,
    },
];

impl OdeSystem for Malformed {
    fn n_states(&self) -> usize {
        1
    }
    fn n_params(&self) -> usize {
        0
    }
    fn rhs(&self, _t: f64, _y: &[f64], _p: &[f64], dy: &mut [f64]) {
        dy[0] = 1.0;
    }
    fn jac_mul(&self, _t: f64, _y: &[f64], _p: &[f64], _v: &[f64], out: &mut [f64]) {
        out[0] = 0.0;
    }
    fn param_jac_mul(&self, _t: f64, _y: &[f64], _p: &[f64], _v: &[f64], out: &mut [f64]) {
        out[0] = 0.0;
    }
    fn y0(&self, _p: &[f64], y0: &mut [f64]) {
        y0[0] = 0.0;
    }
    fn y0_param_jac_mul(&self, _p: &[f64], _v: &[f64], out: &mut [f64]) {
        out[0] = 0.0;
    }
    fn events(&self) -> &[EventSpec] {
        &MALFORMED_EVENTS
    }
    fn event_times(&self, _k: usize, _p: &[f64], _span: (f64, f64)) -> Vec<f64> {
        self.times.clone()
    }
    fn event_conditions(&self, _t: f64, y: &[f64], _p: &[f64], g: &mut [f64]) {
        // NaN once y passes 0.5.
        g[1] = if y[0] > 0.5 { f64::NAN } else { 1.0 };
    }
}

#[test]
fn malformed_schedules_and_nan_conditions_are_errors() {
    let o = opts(Method::Tsit5, (0.0, 1.0), 1e-8, 1e-10);
    let e = solve(
        &Malformed {
            times: vec![0.5, 0.2],
        },
        &[],
        &o,
        &mut |_| {},
    )
    .unwrap_err();
    assert_eq!(e.kind, ErrorKind::Input);
    assert!(
        e.message.contains("event 0") && e.message.contains("sorted"),
        "{e}"
    );
    let e = solve(
        &Malformed {
            times: vec![f64::NAN],
        },
        &[],
        &o,
        &mut |_| {},
    )
    .unwrap_err();
    assert_eq!(e.kind, ErrorKind::Input);
    assert!(e.message.contains("finite"), "{e}");
    let e = solve(&Malformed { times: vec![] }, &[], &o, &mut |_| {}).unwrap_err();
    assert_eq!(e.kind, ErrorKind::Numerical);
    assert!(
        e.message.contains("condition of event 1") && e.message.contains("NaN"),
        "{e}"
    );
}
