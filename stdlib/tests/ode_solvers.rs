//! The ODE solvers on classic problems with known answers: Robertson's stiff kinetics,
//! the stiff Van der Pol oscillator, Lotka–Volterra's conserved quantity, the 1-D heat
//! equation's eigenmode decay (sparse and dense Jacobians), and forward sensitivities
//! against finite differences of the solver.

mod common;

use common::{LV_THETA, LotkaVolterra, ROBERTSON_K, Robertson};
use sci_stdlib::ode::{
    JacobianKind, Method, OdeSystem, Solution, SolveOptions, Sparsity, SwitchReason, solve,
};

// ---------------------------------------------------------------------------------------
// Systems
// ---------------------------------------------------------------------------------------

/// Van der Pol, θ = (μ): y1' = y2, y2' = μ (1 − y1²) y2 − y1; y0 = (2, 0). Gives its dense
/// Jacobian directly (the other systems use the default, one product per column).
struct VanDerPol;

impl OdeSystem for VanDerPol {
    fn n_states(&self) -> usize {
        2
    }
    fn n_params(&self) -> usize {
        1
    }
    fn rhs(&self, _t: f64, y: &[f64], p: &[f64], dy: &mut [f64]) {
        dy[0] = y[1];
        dy[1] = p[0] * (1.0 - y[0] * y[0]) * y[1] - y[0];
    }
    fn jac_mul(&self, _t: f64, y: &[f64], p: &[f64], v: &[f64], out: &mut [f64]) {
        out[0] = v[1];
        out[1] = (-2.0 * p[0] * y[0] * y[1] - 1.0) * v[0] + p[0] * (1.0 - y[0] * y[0]) * v[1];
    }
    fn param_jac_mul(&self, _t: f64, y: &[f64], _p: &[f64], v: &[f64], out: &mut [f64]) {
        out[0] = 0.0;
        out[1] = (1.0 - y[0] * y[0]) * y[1] * v[0];
    }
    fn jacobian(&self, _t: f64, y: &[f64], p: &[f64], jac: &mut [f64]) {
        jac.copy_from_slice(&[
            0.0,
            1.0,
            -2.0 * p[0] * y[0] * y[1] - 1.0,
            p[0] * (1.0 - y[0] * y[0]),
        ]);
    }
    fn y0(&self, _p: &[f64], y0: &mut [f64]) {
        y0.copy_from_slice(&[2.0, 0.0]);
    }
    fn y0_param_jac_mul(&self, _p: &[f64], _v: &[f64], out: &mut [f64]) {
        out.fill(0.0);
    }
}

/// The 1-D heat equation u_t = D u_xx on (0, 1), u = 0 at both ends, by central
/// differences on `n` interior points x_i = i h, h = 1/(n + 1); θ = (D). The initial state
/// sin(π x) is an eigenvector of the semi-discrete operator, so the exact solution of the
/// ODE system is exp(−λ t) sin(π x_i) with λ = D (4/h²) sin²(π h / 2).
struct Heat {
    n: usize,
    pattern: Option<Sparsity>,
}

impl Heat {
    fn new(n: usize, with_pattern: bool) -> Heat {
        let mut row_ptr = vec![0];
        let mut col_idx = Vec::new();
        for i in 0..n {
            col_idx.extend((i.saturating_sub(1)..(i + 2).min(n)).collect::<Vec<_>>());
            row_ptr.push(col_idx.len());
        }
        Heat {
            n,
            pattern: with_pattern.then_some(Sparsity {
                n,
                row_ptr,
                col_idx,
            }),
        }
    }
    fn h(&self) -> f64 {
        1.0 / (self.n as f64 + 1.0)
    }
    fn decay_rate(&self, d: f64) -> f64 {
        let h = self.h();
        d * 4.0 / (h * h) * (std::f64::consts::PI * h / 2.0).sin().powi(2)
    }
    fn mode(&self, i: usize) -> f64 {
        (std::f64::consts::PI * (i + 1) as f64 * self.h()).sin()
    }
}

impl OdeSystem for Heat {
    fn n_states(&self) -> usize {
        self.n
    }
    fn n_params(&self) -> usize {
        1
    }
    fn rhs(&self, _t: f64, y: &[f64], p: &[f64], dy: &mut [f64]) {
        let c = p[0] / (self.h() * self.h());
        for i in 0..self.n {
            let left = if i > 0 { y[i - 1] } else { 0.0 };
            let right = if i + 1 < self.n { y[i + 1] } else { 0.0 };
            dy[i] = c * (left - 2.0 * y[i] + right);
        }
    }
    fn jac_mul(&self, t: f64, _y: &[f64], p: &[f64], v: &[f64], out: &mut [f64]) {
        // Linear: J v = f(v).
        self.rhs(t, v, p, out);
    }
    fn param_jac_mul(&self, t: f64, y: &[f64], _p: &[f64], v: &[f64], out: &mut [f64]) {
        self.rhs(t, y, &[v[0]], out);
    }
    fn sparsity(&self) -> Option<&Sparsity> {
        self.pattern.as_ref()
    }
    fn jacobian_values(&self, _t: f64, _y: &[f64], p: &[f64], values: &mut [f64]) {
        let c = p[0] / (self.h() * self.h());
        let mut k = 0;
        for i in 0..self.n {
            for j in i.saturating_sub(1)..(i + 2).min(self.n) {
                values[k] = if i == j { -2.0 * c } else { c };
                k += 1;
            }
        }
    }
    fn y0(&self, _p: &[f64], y0: &mut [f64]) {
        for (i, v) in y0.iter_mut().enumerate() {
            *v = self.mode(i);
        }
    }
    fn y0_param_jac_mul(&self, _p: &[f64], _v: &[f64], out: &mut [f64]) {
        out.fill(0.0);
    }
}

// ---------------------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------------------

fn run(system: &dyn OdeSystem, p: &[f64], options: SolveOptions) -> Solution {
    let mut seen = Vec::new();
    let sol = solve(system, p, &options, &mut |t| seen.push(t))
        .unwrap_or_else(|e| panic!("solve failed: {e}"));
    // Progress ends at t_end and goes backwards at most once (when `Auto` restarts).
    assert_eq!(seen.last().copied(), options.span.map(|(_, t_end)| t_end));
    let restarts = seen.windows(2).filter(|w| w[1] < w[0]).count();
    assert!(restarts <= usize::from(options.method == Method::Auto));
    sol
}

fn opts(method: Method, t_end: f64, rtol: f64, atol: f64) -> SolveOptions {
    SolveOptions {
        method,
        span: Some((0.0, t_end)),
        rtol,
        atol,
        ..SolveOptions::default()
    }
}

fn assert_rel(got: f64, want: f64, rel: f64, what: &str) {
    let err = (got - want).abs() / want.abs();
    assert!(
        err <= rel,
        "{what}: got {got:e}, want {want:e}, relative error {err:e} > {rel:e}"
    );
}

/// `assert_rel` on each component of a state.
fn assert_state(got: &[f64], want: &[f64], rel: f64, what: &str) {
    for (i, (g, w)) in got.iter().zip(want).enumerate() {
        assert_rel(*g, *w, rel, &format!("{what}: y{}", i + 1));
    }
}

// ---------------------------------------------------------------------------------------
// Robertson
// ---------------------------------------------------------------------------------------

/// Reference values of Robertson's problem. t = 40: Hairer & Wanner's reference solution.
/// t = 4e4 and 1e5: a pure-Python 3-stage Radau IIA integration with fixed geometric steps
/// (h = max(1e-6, 4e-3 t) and h = max(1e-7, 1e-3 t) agree to 12 digits and reproduce the
/// t = 40 values to all digits shown); our BDF at rtol 1e-12 and ESDIRK34 at rtol 1e-11
/// agree with it to 1e-9.
const ROBERTSON_REF: [(f64, [f64; 3]); 3] = [
    (
        40.0,
        [
            0.7158270687193974,
            9.185534764557763e-06,
            0.2841637457458383,
        ],
    ),
    (
        4e4,
        [3.898337708548e-02, 1.621768315910e-07, 9.610164607377e-01],
    ),
    (
        1e5,
        [1.786592114210e-02, 7.274751468436e-08, 9.821340061104e-01],
    ),
];

/// CVODE's values at t = 4e4 from its `cvRoberts_dns` example (as listed in diffsol's
/// Robertson test model), computed at rtol 1e-4: good to about 2e-4 relative.
const ROBERTSON_CVODE_4E4: [f64; 3] = [3.898902e-02, 1.622006e-07, 9.610108e-01];

fn robertson(method: Method, rtol: f64, atol: f64) -> Solution {
    let mut o = opts(method, 1e5, rtol, atol);
    o.times = Some(ROBERTSON_REF.iter().map(|(t, _)| *t).collect());
    run(&Robertson, &ROBERTSON_K, o)
}

#[test]
fn robertson_bdf_and_esdirk34_match_the_reference() {
    for method in [Method::Bdf, Method::Esdirk34] {
        // rtol 1e-8, atol 1e-12 (y2 is ~1e-7 at the end): the measured relative error is at
        // most 6e-8 at t = 40 and 9e-7 later (ESDIRK34 at t = 1e5); we allow 2e-6 and 5e-6.
        let sol = robertson(method, 1e-8, 1e-12);
        assert_eq!(sol.stats.method, Some(method));
        for (k, (t, want)) in ROBERTSON_REF.iter().enumerate() {
            let rel = if *t <= 40.0 { 2e-6 } else { 5e-6 };
            assert_state(&sol.y[k], want, rel, &format!("{method:?} at t = {t}"));
            // Linear invariants are kept by every linear multistep and Runge–Kutta method,
            // up to the Newton iterations' error.
            let mass: f64 = sol.y[k].iter().sum();
            assert!(
                (mass - 1.0).abs() < 1e-10,
                "{method:?}: y1 + y2 + y3 = {mass} at t = {t}"
            );
        }
        assert_state(
            &sol.y[1],
            &ROBERTSON_CVODE_4E4,
            2e-4,
            "against CVODE at t = 4e4",
        );
        assert!(sol.stats.jacobian_evals > 0 && sol.stats.steps > 0);
        assert!(!sol.stats.sparse);
    }
}

#[test]
fn robertson_trbdf2_at_default_tolerances() {
    // TR-BDF2 is second order: at rtol 1e-6, atol 1e-12 its measured relative error is
    // 3.5e-5; we allow 1e-3.
    let sol = robertson(Method::TrBdf2, 1e-6, 1e-12);
    for (k, (t, want)) in ROBERTSON_REF.iter().enumerate() {
        assert_state(&sol.y[k], want, 1e-3, &format!("TR-BDF2 at t = {t}"));
    }
}

#[test]
fn auto_switches_to_bdf_for_robertson() {
    // Tsit5 finds it stiff after its fast transient, BDF answers: measured relative error
    // 6e-6 at rtol 1e-6; we allow 1e-4.
    let sol = robertson(Method::Auto, 1e-6, 1e-10);
    assert_eq!(sol.stats.method, Some(Method::Bdf));
    // The switch is reported, with what the explicit attempt did (if it ran at all).
    let switch = sol.stats.switch.as_ref().expect("a switch to BDF");
    assert!(switch.explicit_steps <= sol.stats.steps);
    assert!(switch.explicit_rhs_evals <= sol.stats.rhs_evals);
    // Not stiff at (t0, y0): found by the repeated test after the fast transient.
    assert_eq!(switch.reason, SwitchReason::StiffOnTheWay);
    assert!((50..1000).contains(&switch.explicit_steps), "{switch:?}");
    for (k, (t, want)) in ROBERTSON_REF.iter().enumerate() {
        assert_state(&sol.y[k], want, 1e-4, &format!("Auto at t = {t}"));
    }
}

// ---------------------------------------------------------------------------------------
// Van der Pol, μ = 1000
// ---------------------------------------------------------------------------------------

#[test]
fn van_der_pol_stiff_solutions_agree() {
    // From y = (2, 0) the solution jumps near t ≈ μ (3/2 − ln 2) ≈ 807 and again a period
    // (T ≈ 1614) later: t ∈ [0, 2000] covers both. Reference: BDF at rtol = atol = 1e-10.
    // Measured worst differences of y1 (amplitude 2) over the 201 default output times:
    // BDF at the default tolerances (rtol 1e-6, atol 1e-9) 7.5e-5, ESDIRK34 at rtol 1e-6
    // 1.1e-4; we allow 1e-3.
    let mu = [1000.0];
    let reference = run(&VanDerPol, &mu, opts(Method::Bdf, 2000.0, 1e-10, 1e-10));
    let default_tol = run(
        &VanDerPol,
        &mu,
        SolveOptions {
            method: Method::Bdf,
            span: Some((0.0, 2000.0)),
            ..SolveOptions::default()
        },
    );
    let esdirk = run(&VanDerPol, &mu, opts(Method::Esdirk34, 2000.0, 1e-6, 1e-9));
    for sol in [&default_tol, &esdirk] {
        assert_eq!(sol.t, reference.t);
        for k in 0..sol.t.len() {
            let d = (sol.y[k][0] - reference.y[k][0]).abs();
            assert!(
                d < 1e-3,
                "{:?} at t = {}: y1 differs by {d:e}",
                sol.stats.method,
                sol.t[k]
            );
        }
    }
    // Both jumps happened: y1 is back on the positive branch at the end, after a stretch
    // on the negative one.
    assert!(reference.y.iter().any(|y| y[0] < -1.5));
    assert!(reference.y.last().unwrap()[0] > 1.0);
    // The limit cycle stays within |y1| ≤ 2 (up to the solver's error).
    assert!(reference.y.iter().all(|y| y[0].abs() <= 2.0 + 1e-6));
}

// ---------------------------------------------------------------------------------------
// Lotka–Volterra
// ---------------------------------------------------------------------------------------

fn lv_invariant(p: &[f64], y: &[f64]) -> f64 {
    let (alpha, beta, gamma, delta) = (p[0], p[1], p[2], p[3]);
    delta * y[0] - gamma * y[0].ln() + beta * y[1] - alpha * y[1].ln()
}

#[test]
fn lotka_volterra_conserves_its_first_integral() {
    // V = δx − γ ln x + βy − α ln y is constant along solutions. Tsit5 at rtol 1e-8,
    // atol 1e-10 keeps it to 3e-8 relative over t ∈ [0, 10] (measured); we allow 1e-7.
    let sol = run(
        &LotkaVolterra,
        &LV_THETA,
        opts(Method::Tsit5, 10.0, 1e-8, 1e-10),
    );
    let v0 = lv_invariant(&LV_THETA, &LV_THETA[4..6]);
    assert_eq!(sol.y[0], LV_THETA[4..6].to_vec());
    for (t, y) in sol.t.iter().zip(&sol.y) {
        assert_rel(
            lv_invariant(&LV_THETA, y),
            v0,
            1e-7,
            &format!("V at t = {t}"),
        );
    }
}

#[test]
fn auto_keeps_tsit5_for_lotka_volterra() {
    let sol = run(
        &LotkaVolterra,
        &LV_THETA,
        opts(Method::Auto, 10.0, 1e-6, 1e-9),
    );
    assert_eq!(sol.stats.method, Some(Method::Tsit5));
    assert_eq!(sol.stats.switch, None);
    assert!(!sol.stats.sparse);
    assert_eq!(sol.stats.jacobian_evals, 0);
    let v0 = lv_invariant(&LV_THETA, &LV_THETA[4..6]);
    let v_end = lv_invariant(&LV_THETA, sol.y.last().unwrap());
    // Measured 4e-6 at rtol 1e-6; we allow 1e-5.
    assert_rel(v_end, v0, 1e-5, "V at t = 10 (rtol 1e-6)");
}

#[test]
fn default_output_is_201_points_from_t0_to_t_end() {
    let sol = run(
        &LotkaVolterra,
        &LV_THETA,
        SolveOptions {
            span: Some((1.0, 3.0)),
            ..SolveOptions::default()
        },
    );
    assert_eq!(sol.t.len(), 201);
    assert_eq!(sol.y.len(), 201);
    assert_eq!((sol.t[0], sol.t[200]), (1.0, 3.0));
    assert!((sol.t[100] - 2.0).abs() < 1e-15);
    assert!(sol.sens.is_none());
    // Repeated and end-point output times are fine.
    let o = SolveOptions {
        times: Some(vec![0.0, 0.5, 0.5, 10.0]),
        ..opts(Method::Bdf, 10.0, 1e-6, 1e-9)
    };
    let sol = run(&LotkaVolterra, &LV_THETA, o);
    assert_eq!(sol.t, vec![0.0, 0.5, 0.5, 10.0]);
    assert_eq!(sol.y[1], sol.y[2]);
}

#[test]
fn output_at_every_step_is_the_solvers_own_states() {
    // Every step of every method, with sensitivities: t0 first, t_end last, one row per
    // step, each state on the first integral as closely as at interpolated times.
    let v0 = lv_invariant(&LV_THETA, &LV_THETA[4..6]);
    for method in [Method::Tsit5, Method::Bdf, Method::Auto] {
        let o = SolveOptions {
            at_steps: true,
            sensitivities: true,
            ..opts(method, 10.0, 1e-8, 1e-10)
        };
        let sol = run(&LotkaVolterra, &LV_THETA, o);
        assert_eq!(sol.t.len(), sol.stats.steps + 1, "{method:?}");
        assert_eq!((sol.t[0], *sol.t.last().unwrap()), (0.0, 10.0));
        assert!(sol.t.windows(2).all(|w| w[0] < w[1]), "{method:?}");
        assert_eq!(sol.y.len(), sol.t.len());
        assert_eq!(sol.y[0], LV_THETA[4..6].to_vec());
        let sens = sol.sens.as_ref().unwrap();
        assert_eq!(sens.len(), sol.t.len());
        // dy/dθ at t0 is ∂y0/∂θ: the identity on θ[4..6].
        assert_eq!(
            sens[0],
            vec![0., 0., 0., 0., 1., 0., 0., 0., 0., 0., 0., 1.]
        );
        for (t, y) in sol.t.iter().zip(&sol.y) {
            let v = lv_invariant(&LV_THETA, y);
            assert_rel(v, v0, 1e-6, &format!("{method:?}: V at step t = {t}"));
        }
    }
    // Times and every step at once are refused.
    let both = SolveOptions {
        at_steps: true,
        times: Some(vec![0.0, 1.0]),
        ..opts(Method::Tsit5, 10.0, 1e-6, 1e-9)
    };
    let err = solve(&LotkaVolterra, &LV_THETA, &both, &mut |_| {}).unwrap_err();
    assert!(err.to_string().contains("every step at once"), "{err}");
}

#[test]
fn dense_output_interpolates_between_the_steps() {
    // At the steps it is the solver's state; between them it stays within a few
    // tolerances of the solver's own interpolant at those times (the same steps: output
    // times do not change the step sequence). Measured: 1.6e-8 (Tsit5, rtol 1e-8), 4e-10
    // (BDF, rtol 1e-8), 5e-6 (Tsit5, rtol 1e-5).
    let probe: Vec<f64> = (0..=997).map(|k| 10.0 * f64::from(k) / 997.0).collect();
    for (method, rtol, bound) in [
        (Method::Tsit5, 1e-8, 5e-8),
        (Method::Bdf, 1e-8, 1e-8),
        (Method::Tsit5, 1e-5, 2e-5),
    ] {
        let dense = SolveOptions {
            dense: true,
            ..opts(method, 10.0, rtol, rtol * 1e-2)
        };
        let sol = run(&LotkaVolterra, &LV_THETA, dense);
        let d = sol.dense.as_ref().unwrap();
        assert_eq!(d.span(), (0.0, 10.0));
        assert_eq!(d.nodes().len(), 4 * sol.stats.steps + 1, "{method:?}");
        // The requested outputs are unchanged by asking for dense output too.
        assert_eq!(sol.t.len(), 201);
        let own = run(
            &LotkaVolterra,
            &LV_THETA,
            SolveOptions {
                times: Some(probe.clone()),
                ..opts(method, 10.0, rtol, rtol * 1e-2)
            },
        );
        assert_eq!(own.stats.steps, sol.stats.steps);
        let mut worst: f64 = 0.0;
        for (t, y) in probe.iter().zip(&own.y) {
            let z = d.at(*t).unwrap();
            for (a, b) in z.iter().zip(y) {
                worst = worst.max((a - b).abs() / b.abs().max(1.0));
            }
        }
        assert!(worst <= bound, "{method:?} rtol {rtol}: {worst:e}");
        // Exact at the steps.
        let at_steps = run(
            &LotkaVolterra,
            &LV_THETA,
            SolveOptions {
                at_steps: true,
                ..opts(method, 10.0, rtol, rtol * 1e-2)
            },
        );
        for (t, y) in at_steps.t.iter().zip(&at_steps.y) {
            assert_eq!(&d.at(*t).unwrap(), y);
        }
        assert!(d.at(10.5).is_err() && d.at(f64::NAN).is_err());
    }
    // Off unless asked for.
    let sol = run(
        &LotkaVolterra,
        &LV_THETA,
        opts(Method::Tsit5, 1.0, 1e-6, 1e-9),
    );
    assert!(sol.dense.is_none());
}

// ---------------------------------------------------------------------------------------
// Heat equation: sparse and dense Jacobians
// ---------------------------------------------------------------------------------------

#[test]
fn heat_sparse_and_dense_agree_with_the_exact_decay() {
    let heat = Heat::new(64, true);
    let d = [1.0];
    let times = vec![0.0, 0.01, 0.05, 0.1];
    let solve_with = |jacobian| {
        let o = SolveOptions {
            times: Some(times.clone()),
            jacobian,
            ..opts(Method::Bdf, 0.1, 1e-8, 1e-10)
        };
        run(&heat, &d, o)
    };
    let auto = solve_with(JacobianKind::Auto);
    let sparse = solve_with(JacobianKind::Sparse);
    let dense = solve_with(JacobianKind::Dense);
    // n = 64 ≥ 32 states and 190 / 64² = 4.6% non-zeros: Auto chooses the sparse LU.
    assert!(auto.stats.sparse && sparse.stats.sparse && !dense.stats.sparse);
    assert_eq!(auto.y, sparse.y);
    let lambda = heat.decay_rate(d[0]);
    for (k, t) in times.iter().enumerate() {
        for i in 0..heat.n {
            // Same Jacobian values, different LU: agreement to rounding, 1e-10 allowed.
            let diff = (sparse.y[k][i] - dense.y[k][i]).abs();
            assert!(diff < 1e-10, "sparse and dense differ by {diff:e}");
            // Exact solution of the semi-discrete system; BDF's global error at rtol 1e-8
            // is 6e-9 here (amplitude ≤ 1); we allow 1e-7.
            let exact = (-lambda * t).exp() * heat.mode(i);
            let err = (sparse.y[k][i] - exact).abs();
            assert!(err < 1e-7, "t = {t}, x_{i}: error {err:e}");
        }
    }
    // The SDIRK methods on the sparse path too: at rtol 1e-6 the measured error is at most
    // 2.2e-6 (ESDIRK34) and 5e-6 (TR-BDF2); we allow 2e-5.
    for method in [Method::Esdirk34, Method::TrBdf2] {
        let o = SolveOptions {
            times: Some(times.clone()),
            ..opts(method, 0.1, 1e-6, 1e-9)
        };
        let sol = run(&heat, &d, o);
        assert!(sol.stats.sparse);
        for (k, t) in times.iter().enumerate() {
            for i in 0..heat.n {
                let exact = (-lambda * t).exp() * heat.mode(i);
                let err = (sol.y[k][i] - exact).abs();
                assert!(err < 2e-5, "{method:?} at t = {t}, x_{i}: error {err:e}");
            }
        }
    }
    // Without a pattern the dense Jacobian is used whatever Auto would like.
    let no_pattern = Heat::new(64, false);
    let o = SolveOptions {
        times: Some(times.clone()),
        ..opts(Method::Bdf, 0.1, 1e-8, 1e-10)
    };
    let plain = run(&no_pattern, &d, o);
    assert!(!plain.stats.sparse);
    assert!((plain.y[3][32] - dense.y[3][32]).abs() < 1e-10);
}

#[test]
fn auto_falls_back_to_sparse_bdf_for_long_heat_runs() {
    // To t = 50 Tsit5 would need ~6·10⁵ steps (stability limit h ≈ 3.3/λ_max with
    // λ_max ≈ 4·10⁴): the start test sees it (λ_max·T ≫ 1), and BDF with the sparse
    // Jacobian solves it. The mode has decayed by exp(−493): all ≈ 0.
    let heat = Heat::new(100, true);
    let sol = run(&heat, &[1.0], opts(Method::Auto, 50.0, 1e-6, 1e-9));
    assert_eq!(sol.stats.method, Some(Method::Bdf));
    assert!(sol.stats.sparse);
    let switch = sol.stats.switch.as_ref().expect("a switch to BDF");
    assert_eq!(switch.reason, SwitchReason::StiffAtStart);
    assert!(sol.y.last().unwrap().iter().all(|v| v.abs() < 1e-8));
}

/// `y' = −k(t)·(y − cos t)`, `k = 1 + 10⁶ t²` (θ unused): mild at t = 0 (k = 1), stiff
/// later (k = 10⁶ at t = 1), tracking `cos t` ever more tightly.
struct StiffensLater;

impl StiffensLater {
    fn k(t: f64) -> f64 {
        1.0 + 1e6 * t * t
    }
}

impl OdeSystem for StiffensLater {
    fn n_states(&self) -> usize {
        1
    }
    fn n_params(&self) -> usize {
        1
    }
    fn rhs(&self, t: f64, y: &[f64], _p: &[f64], dy: &mut [f64]) {
        dy[0] = -Self::k(t) * (y[0] - t.cos());
    }
    fn jac_mul(&self, t: f64, _y: &[f64], _p: &[f64], v: &[f64], out: &mut [f64]) {
        out[0] = -Self::k(t) * v[0];
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
}

#[test]
fn auto_reports_stiffness_found_on_the_way() {
    // k·T = 1·10 at the start: not stiff by the start test. The test repeated every 50
    // steps finds k·(T − t) past 10⁴ early (k = 3601 at t ≈ 0.06), long before the step
    // budget or its projection would; BDF takes over and is reported with Tsit5's counts.
    let sol = run(&StiffensLater, &[0.0], opts(Method::Auto, 10.0, 1e-6, 1e-9));
    assert_eq!(sol.stats.method, Some(Method::Bdf));
    let switch = sol.stats.switch.as_ref().expect("a switch to BDF");
    assert_eq!(switch.reason, SwitchReason::StiffOnTheWay);
    assert!((50..1000).contains(&switch.explicit_steps), "{switch:?}");
    assert!(switch.reached > 0.0 && switch.reached < 10.0, "{switch:?}");
    assert!(sol.stats.steps > switch.explicit_steps);
    // The answer: y tracks cos t to O(1/k) once k is large.
    let y_end = sol.y.last().unwrap()[0];
    assert!((y_end - 10f64.cos()).abs() < 1e-5, "{y_end}");
}

// ---------------------------------------------------------------------------------------
// Forward sensitivities
// ---------------------------------------------------------------------------------------

#[test]
fn lotka_volterra_sensitivities_match_finite_differences() {
    // Reference: central differences (relative step 1e-5) of Tsit5 solutions at
    // rtol = atol = 1e-11; their own error is ~1e-8. (Differences of an adaptive BDF are
    // noisier: its step and order choices jump with θ.) Solver sensitivities at rtol =
    // atol = 1e-9, error measured as |s − fd| / (1 + |fd|): Tsit5 ~1e-8, BDF ~4e-7 (its
    // global error, like the state's, is a few hundred times rtol); we allow 5e-6.
    let times = vec![0.0, 2.5, 5.0];
    let plain = SolveOptions {
        times: Some(times.clone()),
        ..opts(Method::Tsit5, 5.0, 1e-11, 1e-11)
    };
    let fd: Vec<Vec<[f64; 2]>> = (0..6)
        .map(|j| {
            let eps = 1e-5 * LV_THETA[j];
            let shifted = |sign: f64| {
                let mut p = LV_THETA;
                p[j] += sign * eps;
                run(&LotkaVolterra, &p, plain.clone())
            };
            let (up, down) = (shifted(1.0), shifted(-1.0));
            (0..times.len())
                .map(|k| [0, 1].map(|i| (up.y[k][i] - down.y[k][i]) / (2.0 * eps)))
                .collect()
        })
        .collect();
    for method in [Method::Tsit5, Method::Bdf] {
        let o = SolveOptions {
            times: Some(times.clone()),
            sensitivities: true,
            ..opts(method, 5.0, 1e-9, 1e-9)
        };
        let sol = run(&LotkaVolterra, &LV_THETA, o);
        let sens = sol.sens.as_ref().expect("sensitivities were requested");
        assert_eq!(sens.len(), times.len());
        // At t0, dy/dθ = ∂y0/∂θ: the identity on (x0, y0), zero elsewhere.
        assert_eq!(
            sens[0],
            vec![0., 0., 0., 0., 1., 0., 0., 0., 0., 0., 0., 1.]
        );
        for (j, fd) in fd.iter().enumerate() {
            for (k, t) in times.iter().enumerate().skip(1) {
                for i in 0..2 {
                    let s = sens[k][i * 6 + j];
                    let err = (s - fd[k][i]).abs() / (1.0 + fd[k][i].abs());
                    assert!(
                        err < 5e-6,
                        "{method:?}: d y{i} / d θ{j} at t = {t}: solver {s:e}, FD {:e}",
                        fd[k][i]
                    );
                }
            }
        }
    }
}

#[test]
fn robertson_sensitivities_with_bdf_on_the_sparse_path_match_dense() {
    // The sparse storage needs explicit parameter-Jacobian patterns: check that path gives
    // what the dense one does (Robertson has 3 states, so force it through a pattern).
    struct RobertsonSparse(Sparsity);
    impl OdeSystem for RobertsonSparse {
        fn n_states(&self) -> usize {
            3
        }
        fn n_params(&self) -> usize {
            3
        }
        fn rhs(&self, t: f64, y: &[f64], p: &[f64], dy: &mut [f64]) {
            Robertson.rhs(t, y, p, dy)
        }
        fn jac_mul(&self, t: f64, y: &[f64], p: &[f64], v: &[f64], out: &mut [f64]) {
            Robertson.jac_mul(t, y, p, v, out)
        }
        fn param_jac_mul(&self, t: f64, y: &[f64], p: &[f64], v: &[f64], out: &mut [f64]) {
            Robertson.param_jac_mul(t, y, p, v, out)
        }
        fn sparsity(&self) -> Option<&Sparsity> {
            Some(&self.0)
        }
        fn jacobian_values(&self, t: f64, y: &[f64], p: &[f64], values: &mut [f64]) {
            let mut jac = [0.0; 9];
            Robertson.jacobian(t, y, p, &mut jac);
            // Pattern: row 0 {0, 1, 2}, row 1 {0, 1, 2}, row 2 {1}.
            let entries = [0, 1, 2, 3, 4, 5, 7];
            for (v, e) in values.iter_mut().zip(entries) {
                *v = jac[e];
            }
        }
        fn y0(&self, p: &[f64], y0: &mut [f64]) {
            Robertson.y0(p, y0)
        }
        fn y0_param_jac_mul(&self, p: &[f64], v: &[f64], out: &mut [f64]) {
            Robertson.y0_param_jac_mul(p, v, out)
        }
    }
    let system = RobertsonSparse(Sparsity {
        n: 3,
        row_ptr: vec![0, 3, 6, 7],
        col_idx: vec![0, 1, 2, 0, 1, 2, 1],
    });
    let solve_with = |jacobian| {
        let o = SolveOptions {
            times: Some(vec![1.0, 40.0]),
            sensitivities: true,
            jacobian,
            ..opts(Method::Bdf, 40.0, 1e-8, 1e-12)
        };
        run(&system, &ROBERTSON_K, o)
    };
    let sparse = solve_with(JacobianKind::Sparse);
    let dense = solve_with(JacobianKind::Dense);
    // Auto keeps 3 states dense.
    assert!(!solve_with(JacobianKind::Auto).stats.sparse);
    assert!(sparse.stats.sparse);
    let (sparse, dense) = (sparse.sens.unwrap(), dense.sens.unwrap());
    for (a, b) in sparse.iter().zip(&dense) {
        for (x, y) in a.iter().zip(b) {
            assert!(
                (x - y).abs() <= 1e-9 * (1.0 + y.abs()),
                "sparse {x:e} vs dense {y:e}"
            );
        }
    }
    // d y1 / d k1 at t = 40 is negative (a faster first reaction leaves less y1), and the
    // sensitivities of y1 + y2 + y3 = 1 sum to zero.
    assert!(sparse[1][0] < 0.0);
    for j in 0..3 {
        let total: f64 = (0..3).map(|i| sparse[1][i * 3 + j]).sum();
        assert!(
            total.abs() < 1e-8,
            "d(y1 + y2 + y3)/dk{} = {total:e}",
            j + 1
        );
    }
}

#[test]
fn many_lane_products_through_the_sparse_jacobian_match_the_exact_sensitivities() {
    // u' = D u_xx − k u on 80 interior points, θ = (D, k): the mode sin(π x) decays as
    // exp(−(λ(D) + k) t) with λ(D) = D · λ(1), so ∂u/∂D = −t λ(1) u and ∂u/∂k = −t u.
    // Integrating sensitivities multiplies two lanes by ∂f/∂y at each point; a system
    // that says its sparse Jacobian costs one product gets them from the Jacobian formed
    // once (counted), one that says nothing from `jac_mul` per lane. Both must agree with
    // the exact sensitivities.
    struct Decay {
        heat: Heat,
        values_cost: Option<usize>,
        values_calls: std::cell::Cell<usize>,
    }
    impl OdeSystem for Decay {
        fn n_states(&self) -> usize {
            self.heat.n
        }
        fn n_params(&self) -> usize {
            2
        }
        fn rhs(&self, t: f64, y: &[f64], p: &[f64], dy: &mut [f64]) {
            self.heat.rhs(t, y, &p[..1], dy);
            for (d, u) in dy.iter_mut().zip(y) {
                *d -= p[1] * u;
            }
        }
        fn jac_mul(&self, t: f64, _y: &[f64], p: &[f64], v: &[f64], out: &mut [f64]) {
            self.rhs(t, v, p, out);
        }
        fn param_jac_mul(&self, t: f64, y: &[f64], _p: &[f64], v: &[f64], out: &mut [f64]) {
            self.heat.rhs(t, y, &v[..1], out);
            for (d, u) in out.iter_mut().zip(y) {
                *d -= v[1] * u;
            }
        }
        fn sparsity(&self) -> Option<&Sparsity> {
            self.heat.sparsity()
        }
        fn jacobian_values_cost(&self) -> Option<usize> {
            self.values_cost
        }
        fn jacobian_values(&self, t: f64, y: &[f64], p: &[f64], values: &mut [f64]) {
            self.values_calls.set(self.values_calls.get() + 1);
            self.heat.jacobian_values(t, y, &p[..1], values);
            let pattern = self.heat.pattern.as_ref().expect("a pattern");
            for r in 0..self.heat.n {
                let row = pattern.row_ptr[r]..pattern.row_ptr[r + 1];
                for (v, &c) in values[row.clone()].iter_mut().zip(&pattern.col_idx[row]) {
                    if c == r {
                        *v -= p[1];
                    }
                }
            }
        }
        fn y0(&self, p: &[f64], y0: &mut [f64]) {
            self.heat.y0(p, y0)
        }
        fn y0_param_jac_mul(&self, _p: &[f64], _v: &[f64], out: &mut [f64]) {
            out.fill(0.0);
        }
    }
    let (d, k, t_end) = (0.01, 0.5, 1.0);
    for values_cost in [Some(1), None] {
        let system = Decay {
            heat: Heat::new(80, true),
            values_cost,
            values_calls: std::cell::Cell::new(0),
        };
        let o = SolveOptions {
            times: Some(vec![t_end]),
            sensitivities: true,
            jacobian: JacobianKind::Sparse,
            ..opts(Method::Bdf, t_end, 1e-10, 1e-12)
        };
        let sol = run(&system, &[d, k], o);
        let lambda1 = system.heat.decay_rate(1.0);
        let decay = (-(lambda1 * d + k) * t_end).exp();
        let sens = &sol.sens.as_ref().expect("sensitivities")[0];
        for i in 0..system.heat.n {
            let u = decay * system.heat.mode(i);
            let what = format!("{values_cost:?}: point {i}");
            assert_rel(sol.y[0][i], u, 1e-6, &format!("{what}: u"));
            assert_rel(
                sens[i * 2],
                -t_end * lambda1 * u,
                1e-5,
                &format!("{what}: du/dD"),
            );
            assert_rel(sens[i * 2 + 1], -t_end * u, 1e-5, &format!("{what}: du/dk"));
        }
        // Without a cost the values are formed only for the iteration matrix (once per
        // Jacobian update); with one, also at every point the lanes are multiplied.
        let (values_calls, updates) = (system.values_calls.get(), sol.stats.jacobian_evals);
        match values_cost {
            Some(_) => assert!(values_calls > updates, "{values_calls} vs {updates}"),
            None => assert_eq!(values_calls, updates),
        }
    }
}
