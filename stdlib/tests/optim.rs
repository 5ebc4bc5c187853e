//! The optimisers on hand-written objectives: L-BFGS on Rosenbrock, Adam against a
//! hand-computed update, the Adam-then-L-BFGS recipe, resampling, failures and the
//! best-parameters guarantee.

use proptest::prelude::*;
use sci_stdlib::optim::{
    Control, Objective, Optimizer, Phase, Progress, StopReason, TrainOptions, train, train_from,
};
use sci_stdlib::{Error, ErrorKind};

/// The n-dimensional Rosenbrock function, minimum 0 at (1, …, 1).
struct Rosenbrock {
    n: usize,
}

impl Objective for Rosenbrock {
    fn n_params(&self) -> usize {
        self.n
    }
    fn value_and_grad(&mut self, p: &[f64], grad: &mut [f64]) -> Result<f64, Error> {
        let mut f = 0.0;
        grad.fill(0.0);
        for i in 0..self.n - 1 {
            let a = p[i + 1] - p[i] * p[i];
            let b = 1.0 - p[i];
            f += 100.0 * a * a + b * b;
            grad[i] += -400.0 * a * p[i] - 2.0 * b;
            grad[i + 1] += 200.0 * a;
        }
        Ok(f)
    }
}

/// `Σ a_i (p_i − c_i)² + b`, recording evaluations and resampling calls.
#[derive(Default)]
struct Quadratic {
    a: Vec<f64>,
    c: Vec<f64>,
    evaluations: usize,
    /// `(round, evaluations before the call)` for every resample.
    resamples: Vec<(u64, usize)>,
}

impl Quadratic {
    fn new(a: &[f64], c: &[f64]) -> Quadratic {
        Quadratic {
            a: a.to_vec(),
            c: c.to_vec(),
            ..Quadratic::default()
        }
    }
    fn loss(&self, p: &[f64]) -> f64 {
        (0..p.len())
            .map(|i| self.a[i] * (p[i] - self.c[i]) * (p[i] - self.c[i]))
            .sum()
    }
}

impl Objective for Quadratic {
    fn n_params(&self) -> usize {
        self.a.len()
    }
    fn value_and_grad(&mut self, p: &[f64], grad: &mut [f64]) -> Result<f64, Error> {
        self.evaluations += 1;
        for i in 0..p.len() {
            grad[i] = 2.0 * self.a[i] * (p[i] - self.c[i]);
        }
        Ok(self.loss(p))
    }
    fn resample(&mut self, round: u64) -> Result<(), Error> {
        self.resamples.push((round, self.evaluations));
        Ok(())
    }
}

fn options(optimizer: Optimizer, steps: usize, lr: f64) -> TrainOptions {
    TrainOptions {
        optimizer,
        steps,
        lr,
        ..TrainOptions::default()
    }
}

fn no_progress() -> impl FnMut(&Progress<'_>) -> Control {
    |_| Control::Continue
}

#[test]
fn lbfgs_finds_the_minimum_of_rosenbrock_2d() {
    let mut p = vec![-1.2, 1.0];
    let report = train(
        &mut Rosenbrock { n: 2 },
        &mut p,
        &options(Optimizer::Lbfgs, 500, 1e-3),
        &mut no_progress(),
    )
    .unwrap();
    for x in &p {
        assert!((x - 1.0).abs() < 1e-6, "{p:?} {report:?}");
    }
    assert!(report.final_loss < 1e-12);
    assert_eq!(report.losses.len(), report.steps + 1);
    assert_ne!(
        report.stopped,
        StopReason::Steps,
        "converges well before 500 steps"
    );
    assert!(report.evaluations >= report.steps);
}

#[test]
fn lbfgs_finds_the_minimum_of_rosenbrock_10d() {
    let mut p: Vec<f64> = (0..10)
        .map(|i| if i % 2 == 0 { -1.2 } else { 1.0 })
        .collect();
    let report = train(
        &mut Rosenbrock { n: 10 },
        &mut p,
        &options(Optimizer::Lbfgs, 1000, 1e-3),
        &mut no_progress(),
    )
    .unwrap();
    for x in &p {
        assert!((x - 1.0).abs() < 1e-6, "{p:?} {report:?}");
    }
}

/// Rosenbrock recording every point it is asked about.
struct Recording {
    inner: Rosenbrock,
    points: Vec<Vec<f64>>,
}

impl Objective for Recording {
    fn n_params(&self) -> usize {
        self.inner.n
    }
    fn value_and_grad(&mut self, p: &[f64], grad: &mut [f64]) -> Result<f64, Error> {
        self.points.push(p.to_vec());
        self.inner.value_and_grad(p, grad)
    }
}

#[test]
fn lbfgs_evaluates_each_point_once() {
    // argmin asks for the cost and then the gradient of each trial point (and again for
    // the accepted one): the cache answers all but the first.
    let mut obj = Recording {
        inner: Rosenbrock { n: 3 },
        points: Vec::new(),
    };
    let mut p = vec![-1.0, 0.5, 2.0];
    let report = train(
        &mut obj,
        &mut p,
        &options(Optimizer::Lbfgs, 30, 1e-3),
        &mut no_progress(),
    )
    .unwrap();
    assert_eq!(obj.points.len(), report.evaluations);
    for pair in obj.points.windows(2) {
        assert_ne!(pair[0], pair[1]);
    }
    assert!(report.evaluations < 3 * report.steps + 1, "{report:?}");
}

#[test]
fn lbfgs_stops_on_the_gradient_tolerance() {
    let mut p = vec![-1.2, 1.0];
    let report = train(
        &mut Rosenbrock { n: 2 },
        &mut p,
        &TrainOptions {
            grad_tol: 1e-4,
            ..options(Optimizer::Lbfgs, 500, 1e-3)
        },
        &mut no_progress(),
    )
    .unwrap();
    assert_eq!(report.stopped, StopReason::Converged);
    assert!(report.steps < 500);
    assert!(
        (p[0] - 1.0).abs() < 1e-3 && (p[1] - 1.0).abs() < 1e-3,
        "{p:?}"
    );
}

#[test]
fn adam_converges_on_a_convex_quadratic() {
    let mut q = Quadratic::new(&[1.0, 10.0, 0.5], &[1.0, -2.0, 3.0]);
    let mut p = vec![0.0; 3];
    let report = train(
        &mut q,
        &mut p,
        &TrainOptions {
            grad_tol: 1e-6,
            ..options(Optimizer::Adam, 20_000, 0.05)
        },
        &mut no_progress(),
    )
    .unwrap();
    assert_eq!(report.stopped, StopReason::Converged, "{report:?}");
    for (x, c) in p.iter().zip(&q.c) {
        assert!((x - c).abs() < 1e-5, "{p:?}");
    }
    // One evaluation per step plus the starting point.
    assert_eq!(report.evaluations, report.steps + 1);
    assert_eq!(q.evaluations, report.evaluations);
}

#[test]
fn adam_matches_the_textbook_update_for_two_steps() {
    let mut q = Quadratic::new(&[1.0, 3.0], &[2.0, -1.0]);
    let p0 = vec![0.5, 0.25];
    let lr = 0.01;
    let mut p = p0.clone();
    let mut seen = Vec::new();
    let report = train(
        &mut q,
        &mut p,
        &options(Optimizer::Adam, 2, lr),
        &mut |info| {
            seen.push((info.step, info.loss));
            Control::Continue
        },
    )
    .unwrap();

    // By hand: m_t = β1 m + (1-β1) g, v_t = β2 v + (1-β2) g², bias-corrected by 1-β^t.
    let (b1, b2, eps) = (0.9f64, 0.999f64, 1e-8);
    let grad = |x: &[f64]| -> Vec<f64> { (0..2).map(|i| 2.0 * q.a[i] * (x[i] - q.c[i])).collect() };
    let mut x = p0.clone();
    let (mut m, mut v) = (vec![0.0; 2], vec![0.0; 2]);
    let mut expected_losses = vec![q.loss(&x)];
    for t in 1..=2 {
        let g = grad(&x);
        for i in 0..2 {
            m[i] = b1 * m[i] + (1.0 - b1) * g[i];
            v[i] = b2 * v[i] + (1.0 - b2) * g[i] * g[i];
            let m_hat = m[i] / (1.0 - b1.powi(t));
            let v_hat = v[i] / (1.0 - b2.powi(t));
            x[i] -= lr * m_hat / (v_hat.sqrt() + eps);
        }
        expected_losses.push(q.loss(&x));
    }
    assert_eq!(p, x, "bit-identical parameters after two steps");
    assert_eq!(report.losses, expected_losses);
    assert_eq!(seen, vec![(1, expected_losses[1]), (2, expected_losses[2])]);
    assert_eq!(report.steps, 2);
    assert_eq!(report.stopped, StopReason::Steps);
    // Each step moves every coordinate by about lr (m̂/√v̂ ≈ ±1 while g changes slowly).
    for i in 0..2 {
        assert!(((p0[i] - x[i]).abs() - 2.0 * lr).abs() < 1e-4);
    }
}

#[test]
fn adam_then_lbfgs_reaches_the_rosenbrock_minimum() {
    let mut p = vec![-1.2, 1.0];
    let mut steps_seen = Vec::new();
    let report = train(
        &mut Rosenbrock { n: 2 },
        &mut p,
        &options(Optimizer::AdamLbfgs, 400, 1e-2),
        &mut |info| {
            steps_seen.push(info.step);
            Control::Continue
        },
    )
    .unwrap();
    for x in &p {
        assert!((x - 1.0).abs() < 1e-6, "{p:?} {report:?}");
    }
    // 200 Adam steps (one evaluation each), then L-BFGS steps numbered on from 201.
    assert!(report.steps > 200, "{report:?}");
    assert_eq!(steps_seen, (1..=report.steps).collect::<Vec<_>>());
    assert_eq!(report.losses.len(), report.steps + 1);
    assert!(report.evaluations > report.steps);
}

#[test]
fn the_adam_phase_takes_the_steps_asked_for() {
    let mut p = vec![-1.2, 1.0];
    let mut phases = Vec::new();
    let opts = TrainOptions {
        adam_steps: Some(30),
        ..options(Optimizer::AdamLbfgs, 400, 1e-2)
    };
    assert_eq!(opts.phases(), (30, 370));
    let report = train(&mut Rosenbrock { n: 2 }, &mut p, &opts, &mut |info| {
        phases.push(info.phase);
        Control::Continue
    })
    .unwrap();
    assert!(report.steps > 30, "{report:?}");
    assert!(
        phases[..30].iter().all(|&ph| ph == Phase::Adam),
        "{phases:?}"
    );
    assert!(
        phases[30..].iter().all(|&ph| ph == Phase::Lbfgs),
        "{phases:?}"
    );
    for x in &p {
        assert!((x - 1.0).abs() < 1e-6, "{p:?} {report:?}");
    }
    // Without it, half the steps; a phase longer than the run is refused.
    assert_eq!(
        options(Optimizer::AdamLbfgs, 401, 1e-2).phases(),
        (200, 201)
    );
    let too_long = TrainOptions {
        adam_steps: Some(401),
        ..options(Optimizer::AdamLbfgs, 400, 1e-2)
    };
    let err = train(
        &mut Rosenbrock { n: 2 },
        &mut p,
        &too_long,
        &mut no_progress(),
    )
    .unwrap_err();
    assert!(err.to_string().contains("longer than the run"), "{err}");
}

/// Rosenbrock with its two kinds of terms reported apart.
struct RosenbrockTerms;

impl Objective for RosenbrockTerms {
    fn n_params(&self) -> usize {
        2
    }
    fn value_and_grad(&mut self, p: &[f64], grad: &mut [f64]) -> Result<f64, Error> {
        Rosenbrock { n: 2 }.value_and_grad(p, grad)
    }
    fn terms(&mut self, p: &[f64]) -> Result<Vec<f64>, Error> {
        let a = p[1] - p[0] * p[0];
        Ok(vec![100.0 * a * a, (1.0 - p[0]) * (1.0 - p[0])])
    }
}

#[test]
fn loss_terms_are_sampled_where_asked_and_sum_to_the_loss() {
    for optimizer in [Optimizer::Adam, Optimizer::AdamLbfgs] {
        let mut p = vec![-1.2, 1.0];
        let mut seen = Vec::new();
        let opts = TrainOptions {
            terms_every: Some(7),
            ..options(optimizer, 30, 1e-2)
        };
        let report = train(&mut RosenbrockTerms, &mut p, &opts, &mut |info| {
            if let Some(terms) = info.terms {
                seen.push((info.step, terms.to_vec()));
            }
            Control::Continue
        })
        .unwrap();
        let steps: Vec<usize> = report.terms.iter().map(|(s, _)| *s).collect();
        let mut want = vec![0, 1, 7, 14, 21, 28];
        if report.steps == 30 {
            want.push(30);
        }
        assert_eq!(steps, want, "{optimizer:?}");
        // The callback saw every sample after a step; each sample sums to that step's loss.
        assert_eq!(seen, report.terms[1..].to_vec());
        for (step, terms) in &report.terms {
            let total: f64 = terms.iter().sum();
            let loss = report.losses[*step];
            assert!(
                (total - loss).abs() <= 1e-12 * loss.abs().max(1.0),
                "{step}: {total} {loss}"
            );
        }
    }
    // Without the option, or for an objective without terms, none.
    let mut p = vec![-1.2, 1.0];
    let report = train(
        &mut RosenbrockTerms,
        &mut p,
        &options(Optimizer::Adam, 5, 1e-2),
        &mut no_progress(),
    )
    .unwrap();
    assert!(report.terms.is_empty());
    let opts = TrainOptions {
        terms_every: Some(1),
        ..options(Optimizer::Adam, 5, 1e-2)
    };
    let report = train(&mut Rosenbrock { n: 2 }, &mut p, &opts, &mut no_progress()).unwrap();
    assert!(report.terms.is_empty());
}

#[test]
fn resampling_happens_every_n_adam_steps_only() {
    // Rounds 1, 2, 3 are drawn after steps 3, 6, 9 (before the loss after those steps is
    // measured: evaluation 1 is the starting point, then one per step).
    let mut q = Quadratic::new(&[1.0], &[5.0]);
    let mut p = vec![0.0];
    let opts = TrainOptions {
        resample_every: Some(3),
        ..options(Optimizer::Adam, 10, 1e-3)
    };
    train(&mut q, &mut p, &opts, &mut no_progress()).unwrap();
    assert_eq!(q.resamples, vec![(1, 3), (2, 6), (3, 9)]);

    // Not after the last Adam step, and never in the L-BFGS phase.
    let mut q = Quadratic::new(&[1.0], &[5.0]);
    let mut p = vec![0.0];
    let opts = TrainOptions {
        resample_every: Some(3),
        ..options(Optimizer::AdamLbfgs, 18, 1e-3)
    };
    train(&mut q, &mut p, &opts, &mut no_progress()).unwrap();
    assert_eq!(q.resamples, vec![(1, 3), (2, 6)]);
}

/// A quadratic whose loss turns NaN at evaluation `nan_at` (1-based) and stays NaN.
struct NanAfter {
    inner: Quadratic,
    nan_at: usize,
    gradient_only: bool,
}

impl Objective for NanAfter {
    fn n_params(&self) -> usize {
        self.inner.n_params()
    }
    fn value_and_grad(&mut self, p: &[f64], grad: &mut [f64]) -> Result<f64, Error> {
        let loss = self.inner.value_and_grad(p, grad)?;
        if self.inner.evaluations >= self.nan_at {
            if self.gradient_only {
                grad[0] = f64::INFINITY;
            } else {
                return Ok(f64::NAN);
            }
        }
        Ok(loss)
    }
}

#[test]
fn a_nan_loss_is_a_numerical_error_naming_the_step() {
    let mut obj = NanAfter {
        inner: Quadratic::new(&[1.0, 1.0], &[1.0, 1.0]),
        nan_at: 4,
        gradient_only: false,
    };
    let mut p = vec![0.0, 0.0];
    let err = train(
        &mut obj,
        &mut p,
        &options(Optimizer::Adam, 100, 0.1),
        &mut no_progress(),
    )
    .unwrap_err();
    assert_eq!(err.kind, ErrorKind::Numerical);
    assert_eq!(err.message, "The loss became NaN at step 3 of 100.");
    assert!(err.help.unwrap().contains("learning rate (it is 0.1)"));
    // The best parameters so far (after step 2) are kept.
    assert!(p[0] > 0.15 && p[0] < 0.25, "{p:?}");

    let mut obj = NanAfter {
        inner: Quadratic::new(&[1.0], &[1.0]),
        nan_at: 1,
        gradient_only: true,
    };
    let err = train(
        &mut obj,
        &mut [0.0],
        &options(Optimizer::Lbfgs, 10, 0.1),
        &mut no_progress(),
    )
    .unwrap_err();
    assert_eq!(err.kind, ErrorKind::Numerical);
    assert_eq!(
        err.message,
        "The gradient of the loss is infinite at the starting parameters (parameter index 0)."
    );

    // In an L-BFGS line search, a point where the loss cannot be evaluated is a step too
    // long: the search shrinks it; when every trial fails, training stops without progress
    // and keeps the starting point.
    let mut obj = NanAfter {
        inner: Quadratic::new(&[1.0], &[1.0]),
        nan_at: 2,
        gradient_only: false,
    };
    let mut p = [0.0];
    let report = train(
        &mut obj,
        &mut p,
        &options(Optimizer::Lbfgs, 10, 0.1),
        &mut no_progress(),
    )
    .unwrap();
    assert_eq!(report.stopped, StopReason::NoProgress);
    assert_eq!(p, [0.0]);
}

/// Fails numerically beyond a radius around the origin, like an ODE solve that breaks down
/// for parameters far from the data.
struct FailsFarOut {
    inner: Quadratic,
    radius: f64,
}

impl Objective for FailsFarOut {
    fn n_params(&self) -> usize {
        self.inner.n_params()
    }
    fn value_and_grad(&mut self, p: &[f64], grad: &mut [f64]) -> Result<f64, Error> {
        if p.iter().any(|x| x.abs() > self.radius) {
            return Err(Error::numerical("the solver failed"));
        }
        self.inner.value_and_grad(p, grad)
    }
}

#[test]
fn lbfgs_backs_off_from_points_where_the_objective_fails() {
    // The first L-BFGS trial (a unit step along −∇, to x ≈ 20) fails; the search shrinks the
    // step and still reaches the minimum at x = 2.
    let mut obj = FailsFarOut {
        inner: Quadratic::new(&[10.0], &[2.0]),
        radius: 5.0,
    };
    let mut p = [0.0];
    let report = train(
        &mut obj,
        &mut p,
        &options(Optimizer::Lbfgs, 50, 0.1),
        &mut no_progress(),
    )
    .unwrap();
    assert!((p[0] - 2.0).abs() < 1e-6, "{p:?} {report:?}");
}

/// Fails with an input error at evaluation `fail_at`.
struct FailsAt {
    inner: Quadratic,
    fail_at: usize,
}

impl Objective for FailsAt {
    fn n_params(&self) -> usize {
        self.inner.n_params()
    }
    fn value_and_grad(&mut self, p: &[f64], grad: &mut [f64]) -> Result<f64, Error> {
        if self.inner.evaluations + 1 >= self.fail_at {
            return Err(Error::input("the data ran out"));
        }
        self.inner.value_and_grad(p, grad)
    }
}

#[test]
fn objective_errors_come_back_unchanged() {
    for optimizer in [Optimizer::Adam, Optimizer::Lbfgs] {
        let mut obj = FailsAt {
            inner: Quadratic::new(&[1.0, 2.0], &[3.0, 4.0]),
            fail_at: 3,
        };
        let err = train(
            &mut obj,
            &mut [0.0, 0.0],
            &options(optimizer, 10, 0.1),
            &mut no_progress(),
        )
        .unwrap_err();
        assert_eq!(err, Error::input("the data ran out"), "{optimizer:?}");
    }
}

/// `x²` with a gradient of the wrong sign: no line search can succeed.
struct WrongGradient;

impl Objective for WrongGradient {
    fn n_params(&self) -> usize {
        1
    }
    fn value_and_grad(&mut self, p: &[f64], grad: &mut [f64]) -> Result<f64, Error> {
        grad[0] = -2.0 * p[0];
        Ok(p[0] * p[0])
    }
}

#[test]
fn a_failed_line_search_stops_with_no_progress() {
    let mut p = vec![1.5];
    let report = train(
        &mut WrongGradient,
        &mut p,
        &options(Optimizer::Lbfgs, 10, 1e-3),
        &mut no_progress(),
    )
    .unwrap();
    // The line search either fails outright or accepts a point with a higher loss; either
    // way training stops and the starting point, the best seen, is returned.
    assert_eq!(report.stopped, StopReason::NoProgress, "{report:?}");
    assert!(report.steps <= 1);
    assert_eq!(report.losses[0], 2.25);
    assert_eq!(p, vec![1.5]);
    assert_eq!(report.final_loss, 2.25);
}

#[test]
fn bad_options_are_input_errors() {
    let cases = [
        (options(Optimizer::Adam, 0, 1e-3), "at least one step"),
        (options(Optimizer::Adam, 10, 0.0), "learning rate"),
        (options(Optimizer::Adam, 10, -1.0), "learning rate"),
        (options(Optimizer::Adam, 10, f64::NAN), "learning rate"),
        (options(Optimizer::Adam, 10, f64::INFINITY), "learning rate"),
        (
            TrainOptions {
                resample_every: Some(0),
                ..options(Optimizer::Adam, 10, 1e-3)
            },
            "every 0 steps",
        ),
        (
            TrainOptions {
                lbfgs_memory: 0,
                ..options(Optimizer::Lbfgs, 10, 1e-3)
            },
            "history",
        ),
        (
            TrainOptions {
                grad_tol: -1.0,
                ..options(Optimizer::Lbfgs, 10, 1e-3)
            },
            "gradient tolerance",
        ),
    ];
    for (opts, text) in cases {
        let mut q = Quadratic::new(&[1.0], &[0.0]);
        let err = train(&mut q, &mut [1.0], &opts, &mut no_progress()).unwrap_err();
        assert_eq!(err.kind, ErrorKind::Input, "{opts:?}");
        assert!(err.message.contains(text), "{}", err.message);
        assert_eq!(q.evaluations, 0);
    }
    let mut q = Quadratic::new(&[1.0, 1.0], &[0.0, 0.0]);
    let err = train(
        &mut q,
        &mut [1.0],
        &TrainOptions::default(),
        &mut no_progress(),
    )
    .unwrap_err();
    assert_eq!(
        err.message,
        "The model has 2 parameters but 1 starting values were given."
    );
}

#[test]
fn optimizer_names_round_trip() {
    for (name, opt) in Optimizer::ALL {
        assert_eq!(name.parse::<Optimizer>().unwrap(), *opt);
        assert_eq!(opt.name(), *name);
    }
    assert_eq!("ADAM".parse::<Optimizer>().unwrap(), Optimizer::Adam);
    let err = "sgd".parse::<Optimizer>().unwrap_err();
    assert_eq!(err.kind, ErrorKind::Input);
    assert_eq!(
        err.help.as_deref(),
        Some("the optimisers are: adam, lbfgs, adam+lbfgs")
    );
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(48))]

    /// Whatever the optimiser does (a learning rate large enough to oscillate, L-BFGS line
    /// searches), the returned parameters have the lowest loss seen.
    #[test]
    fn the_best_parameters_are_returned(
        a in proptest::collection::vec(0.1f64..10.0, 1..4),
        start in -5.0f64..5.0,
        lr in 0.01f64..3.0,
        steps in 1usize..40,
        which in 0usize..3,
    ) {
        let n = a.len();
        let c: Vec<f64> = (0..n).map(|i| i as f64 - 1.0).collect();
        let mut q = Quadratic::new(&a, &c);
        let mut p = vec![start; n];
        let optimizer = Optimizer::ALL[which].1;
        let report = train(&mut q, &mut p, &options(optimizer, steps, lr), &mut no_progress())
            .unwrap();
        let min_recorded = report.losses.iter().copied().fold(f64::INFINITY, f64::min);
        prop_assert_eq!(q.loss(&p), report.final_loss);
        prop_assert!(report.final_loss <= min_recorded);
        if optimizer == Optimizer::Adam {
            prop_assert_eq!(report.final_loss, min_recorded);
        }
        prop_assert_eq!(report.losses.len(), report.steps + 1);
        prop_assert!(report.steps <= steps);
    }
}

/// A quadratic whose minimum moves with every redraw of the points, so a resumed run that
/// trained on other points than the interrupted one would end elsewhere.
struct Drifting {
    round: u64,
}

impl Objective for Drifting {
    fn n_params(&self) -> usize {
        3
    }
    fn value_and_grad(&mut self, p: &[f64], grad: &mut [f64]) -> Result<f64, Error> {
        let shift = 0.1 * self.round as f64;
        let mut f = 0.0;
        for (i, (x, g)) in p.iter().zip(grad.iter_mut()).enumerate() {
            let d = x - (i as f64 + 1.0) - shift;
            f += (i as f64 + 1.0) * d * d * (1.0 + 0.1 * d * d);
            *g = (i as f64 + 1.0) * (2.0 * d + 0.4 * d * d * d);
        }
        Ok(f)
    }
    fn resample(&mut self, round: u64) -> Result<(), Error> {
        self.round = round;
        Ok(())
    }
}

#[test]
fn a_resumed_adam_run_continues_bit_for_bit() {
    let opts = TrainOptions {
        resample_every: Some(7),
        ..options(Optimizer::Adam, 60, 0.05)
    };
    let mut whole = vec![0.0; 3];
    let report = train(
        &mut Drifting { round: 0 },
        &mut whole,
        &opts,
        &mut no_progress(),
    )
    .unwrap();

    // The same run stopped after step 25 (a Ctrl-C), then resumed in a fresh process.
    let mut saved = None;
    let mut first = vec![0.0; 3];
    let stopped = train(&mut Drifting { round: 0 }, &mut first, &opts, &mut |info| {
        if info.step == 25 {
            saved = Some(info.state());
            return Control::Stop;
        }
        Control::Continue
    })
    .unwrap();
    assert_eq!(stopped.stopped, StopReason::Interrupted);
    assert_eq!(stopped.steps, 25);
    let state = saved.unwrap();
    assert_eq!(state.step, 25);
    assert!(state.adam.is_some());
    let mut resumed = vec![f64::NAN; 3];
    let rest = train_from(
        &mut Drifting { round: 0 },
        &mut resumed,
        &opts,
        Some(&state),
        &mut no_progress(),
    )
    .unwrap();
    assert_eq!(resumed, whole);
    assert_eq!(rest.losses, report.losses);
    assert_eq!(rest.steps, 60);
    assert_eq!(rest.final_loss, report.final_loss);
}

#[test]
fn a_run_resumed_in_its_lbfgs_phase_numbers_steps_on_and_converges() {
    let opts = options(Optimizer::AdamLbfgs, 400, 1e-2);
    let mut saved = None;
    let mut p = vec![-1.2, 1.0];
    train(&mut Rosenbrock { n: 2 }, &mut p, &opts, &mut |info| {
        if info.step == 205 {
            assert_eq!(info.phase, Phase::Lbfgs);
            assert_eq!(info.lr, None);
            saved = Some(info.state());
            return Control::Stop;
        }
        Control::Continue
    })
    .unwrap();
    let state = saved.unwrap();
    assert!(state.adam.is_none());
    let mut seen = Vec::new();
    let report = train_from(
        &mut Rosenbrock { n: 2 },
        &mut p,
        &opts,
        Some(&state),
        &mut |info| {
            seen.push(info.step);
            Control::Continue
        },
    )
    .unwrap();
    assert_eq!(seen.first(), Some(&206));
    assert_eq!(&report.losses[..206], &state.losses[..]);
    for x in &p {
        assert!((x - 1.0).abs() < 1e-6, "{p:?} {report:?}");
    }
}

#[test]
fn a_saved_state_that_does_not_fit_the_run_is_refused() {
    let opts = options(Optimizer::Adam, 10, 0.1);
    let mut saved = None;
    let mut p = vec![0.0; 3];
    train(&mut Drifting { round: 0 }, &mut p, &opts, &mut |info| {
        saved = Some(info.state());
        Control::Continue
    })
    .unwrap();
    let done = saved.unwrap();
    assert_eq!(done.step, 10);
    // Finished: asking for the same 10 steps again is a mistake with a hint.
    let err = train_from(
        &mut Drifting { round: 0 },
        &mut p,
        &opts,
        Some(&done),
        &mut no_progress(),
    )
    .unwrap_err();
    assert_eq!(err.kind, ErrorKind::Input);
    assert!(
        err.message.contains("already took 10 of 10 steps"),
        "{err:?}"
    );
    // More steps continue it.
    let more = options(Optimizer::Adam, 12, 0.1);
    let report = train_from(
        &mut Drifting { round: 0 },
        &mut p,
        &more,
        Some(&done),
        &mut no_progress(),
    )
    .unwrap();
    assert_eq!(report.steps, 12);
    // A state for another number of parameters.
    let mut wrong = done.clone();
    wrong.current.pop();
    let err = train_from(
        &mut Drifting { round: 0 },
        &mut p,
        &more,
        Some(&wrong),
        &mut no_progress(),
    )
    .unwrap_err();
    assert!(
        err.message
            .contains("holds 2 parameters, but the model has 3"),
        "{err:?}"
    );
}

#[test]
fn training_stops_when_the_loss_reaches_the_tolerance() {
    let opts = TrainOptions {
        loss_tol: Some(1e-6),
        ..options(Optimizer::Lbfgs, 500, 1e-3)
    };
    let mut p = vec![-1.2, 1.0];
    let report = train(&mut Rosenbrock { n: 2 }, &mut p, &opts, &mut no_progress()).unwrap();
    assert_eq!(report.stopped, StopReason::LossTol);
    let (last, before) = (report.losses[report.steps], report.losses[report.steps - 1]);
    assert!(last <= 1e-6 && before > 1e-6, "{report:?}");
    assert!(report.steps < 500);
}

/// A loss that cannot be improved: flat, with a gradient that keeps Adam moving.
struct Flat;

impl Objective for Flat {
    fn n_params(&self) -> usize {
        1
    }
    fn value_and_grad(&mut self, _: &[f64], grad: &mut [f64]) -> Result<f64, Error> {
        grad[0] = 1.0;
        Ok(2.0)
    }
}

#[test]
fn training_stops_after_patience_steps_without_improvement() {
    let opts = TrainOptions {
        patience: Some(5),
        ..options(Optimizer::Adam, 100, 1e-3)
    };
    let mut p = vec![0.0];
    let report = train(&mut Flat, &mut p, &opts, &mut no_progress()).unwrap();
    assert_eq!(report.stopped, StopReason::Plateau);
    assert_eq!(report.steps, 5);
    // The best parameters are the first ones: no step improved on them.
    assert_eq!(p, [0.0]);
}
