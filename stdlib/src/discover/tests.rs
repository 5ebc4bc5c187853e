//! End-to-end checks of [`super::discover`]: the Lorenz system from its solver trajectory
//! alone, Lotka–Volterra from exact derivatives against a large library, the printed
//! equations, and every input error.

use super::*;
use crate::ErrorKind;
use crate::ode::{Method, OdeSystem, SolveOptions, solve};

/// A deterministic pseudo-random number in [−1, 1) (a 64-bit LCG's top bits), for the
/// noisy-data tests of every part.
pub(super) fn noise(state: &mut u64) -> f64 {
    *state = state
        .wrapping_mul(6364136223846793005)
        .wrapping_add(1442695040888963407);
    (*state >> 11) as f64 / (1u64 << 52) as f64 - 1.0
}

/// Lorenz with σ = 10, ρ = 28, β = 8/3, from (−8, 7, 27).
struct Lorenz;

const SIGMA: f64 = 10.0;
const RHO: f64 = 28.0;
const BETA: f64 = 8.0 / 3.0;

impl OdeSystem for Lorenz {
    fn n_states(&self) -> usize {
        3
    }
    fn n_params(&self) -> usize {
        0
    }
    fn rhs(&self, _t: f64, y: &[f64], _p: &[f64], dy: &mut [f64]) {
        dy[0] = SIGMA * (y[1] - y[0]);
        dy[1] = y[0] * (RHO - y[2]) - y[1];
        dy[2] = y[0] * y[1] - BETA * y[2];
    }
    fn jac_mul(&self, _t: f64, y: &[f64], _p: &[f64], v: &[f64], out: &mut [f64]) {
        out[0] = SIGMA * (v[1] - v[0]);
        out[1] = (RHO - y[2]) * v[0] - v[1] - y[0] * v[2];
        out[2] = y[1] * v[0] + y[0] * v[1] - BETA * v[2];
    }
    fn param_jac_mul(&self, _t: f64, _y: &[f64], _p: &[f64], _v: &[f64], out: &mut [f64]) {
        out.fill(0.0);
    }
    fn y0(&self, _p: &[f64], y0: &mut [f64]) {
        y0.copy_from_slice(&[-8.0, 7.0, 27.0]);
    }
    fn y0_param_jac_mul(&self, _p: &[f64], _v: &[f64], out: &mut [f64]) {
        out.fill(0.0);
    }
}

/// The coefficient of `term` in `equation` (0 when absent).
fn coefficient(equation: &Equation, term: &str) -> f64 {
    equation
        .terms
        .iter()
        .find(|(t, _)| t.name == term)
        .map_or(0.0, |(_, c)| *c)
}

/// Checks that `found` has exactly the terms of `truth` (per variable: term, coefficient)
/// with every coefficient within `tolerance` relative; returns the largest relative error.
fn check_equations(found: &Discovered, truth: &[&[(&str, f64)]], tolerance: f64) -> f64 {
    let mut worst: f64 = 0.0;
    for (equation, expected) in found.equations.iter().zip(truth) {
        let names: Vec<&str> = equation
            .terms
            .iter()
            .map(|(t, _)| t.name.as_str())
            .collect();
        let wanted: Vec<&str> = expected.iter().map(|(t, _)| *t).collect();
        assert_eq!(names, wanted, "d{}/dt:\n{found}", equation.variable);
        for (term, want) in expected.iter() {
            let got = coefficient(equation, term);
            let error = ((got - want) / want).abs();
            worst = worst.max(error);
            assert!(
                error < tolerance,
                "d{}/dt: {term} has {got}, not {want}\n{found}",
                equation.variable
            );
        }
    }
    worst
}

#[test]
fn lorenz_from_its_trajectory_alone() {
    let h = 0.002;
    let times: Vec<f64> = (0..=5000).map(|i| i as f64 * h).collect();
    let options = SolveOptions {
        method: Method::Tsit5,
        span: Some((0.0, 10.0)),
        times: Some(times.clone()),
        rtol: 1e-10,
        atol: 1e-12,
        ..SolveOptions::default()
    };
    let solution = solve(&Lorenz, &[], &options, &mut |_| {}).unwrap();
    assert_eq!(solution.t.len(), times.len());
    let data: Vec<f64> = solution.y.concat();
    let derivatives = finite_difference(&solution.t, &data, 3).unwrap();

    let found = discover(
        &data,
        &derivatives,
        &["x", "y", "z"],
        &LibrarySpec::default(),
        &Options::default(),
    )
    .unwrap();
    let truth: [&[(&str, f64)]; 3] = [
        &[("x", -SIGMA), ("y", SIGMA)],
        &[("x", RHO), ("y", -1.0), ("x*z", -1.0)],
        &[("z", -BETA), ("x*y", 1.0)],
    ];
    let worst = check_equations(&found, &truth, 0.01);
    println!("\n{found}\nthreshold {:.3e}", found.threshold);
    for (equation, expected) in found.equations.iter().zip(truth) {
        for (term, want) in expected {
            let got = coefficient(equation, term);
            let error = (got - want) / want;
            println!(
                "  d{}/dt  {term:4} {got:+.10} (relative error {error:+.2e})",
                equation.variable
            );
        }
    }
    println!("largest relative error {worst:.2e}");
    for point in &found.front {
        println!(
            "  k = {:2}  relative RSS = {:.3e}  AICc = {:.1}  threshold = {:.3e}",
            point.terms, point.relative_rss, point.aicc, point.threshold
        );
    }
    assert_eq!(found.front[found.chosen].terms, 7);
    assert_eq!(
        found.to_string().lines().next(),
        Some("dx/dt = -10.00 x + 10.00 y")
    );
    for pair in found.front.windows(2) {
        assert!(pair[1].terms > pair[0].terms && pair[1].rss < pair[0].rss);
    }

    // Why the noise floor: the finite differences' error is systematic, extra terms fit a
    // little of it (11 terms take 10 % off the 7 terms' residual), and the bare AICc
    // rewards that far beyond its 2-per-term penalty.
    let bare = Options {
        threshold: Threshold::Select(SelectOptions {
            noise_floor: 0.0,
            ..SelectOptions::default()
        }),
        ..Options::default()
    };
    let overfitted = discover(
        &data,
        &derivatives,
        &["x", "y", "z"],
        &LibrarySpec::default(),
        &bare,
    )
    .unwrap();
    assert!(overfitted.front[overfitted.chosen].terms > 7);
}

/// `(x, y)` on a scattered set of points in [0.2, 3]² with the Lotka–Volterra right-hand
/// side `ẋ = 2/3 x − 4/3 x y`, `ẏ = −y + x y` evaluated there.
fn lotka_volterra(rows: usize) -> (Vec<f64>, Vec<f64>) {
    let mut state: u64 = 2024;
    let mut uniform = move || {
        state = state
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        0.2 + 2.8 * ((state >> 11) as f64 / (1u64 << 53) as f64)
    };
    let data: Vec<f64> = (0..2 * rows).map(|_| uniform()).collect();
    let derivatives = data
        .chunks_exact(2)
        .flat_map(|p| {
            let (x, y) = (p[0], p[1]);
            [2.0 / 3.0 * x - 4.0 / 3.0 * x * y, -y + x * y]
        })
        .collect();
    (data, derivatives)
}

/// `ẋ`, `ẏ` over polynomials in `x, y` to degree 5 plus `sin`, with the default options.
fn discover_to_degree_five_and_sin(data: &[f64], derivatives: &[f64]) -> Discovered {
    let library = LibrarySpec {
        degree: 5,
        functions: vec!["sin".into()],
    };
    discover(
        data,
        derivatives,
        &["x", "y"],
        &library,
        &Options::default(),
    )
    .unwrap()
}

#[test]
fn lotka_volterra_interaction_from_a_large_library() {
    let (data, derivatives) = lotka_volterra(300);
    let found = discover_to_degree_five_and_sin(&data, &derivatives);
    assert_eq!(found.library.len(), 23);
    let truth: [&[(&str, f64)]; 2] = [
        &[("x", 2.0 / 3.0), ("x*y", -4.0 / 3.0)],
        &[("y", -1.0), ("x*y", 1.0)],
    ];
    let worst = check_equations(&found, &truth, 1e-9);
    println!("{found}\nlargest relative error {worst:.2e}");
    assert_eq!(
        found.to_string(),
        "dx/dt = 0.6667 x - 1.333 x*y\ndy/dt = -1.000 y + 1.000 x*y"
    );
    // The coefficient matrix agrees with the equations, zeros included.
    let x_y = found
        .library
        .terms()
        .iter()
        .position(|t| t.name == "x*y")
        .unwrap();
    assert_eq!(
        found.coefficients[1][x_y],
        coefficient(&found.equations[1], "x*y")
    );
    assert_eq!(
        found.coefficients[0].iter().filter(|c| **c != 0.0).count(),
        2
    );
}

/// Along one orbit the degree-5 + sin library is nearly collinear: every least-squares
/// coefficient is large (the smallest scaled one was 0.82), and a sweep that started there
/// never reached the band where the spurious terms go and the true ones stay; it chose
/// `dx/dt = 0`. The sweep now reaches down to `SWEEP_LOWEST`. Lotka–Volterra of Rackauckas
/// et al. (α, β, γ, δ = 1.3, 0.9, 0.8, 1.8) on t ∈ [0, 3], 201 samples (RK4 with a fine
/// step), derivatives by finite differences.
#[test]
fn lotka_volterra_on_one_orbit_with_finite_differences() {
    let f = |x: f64, y: f64| [1.3 * x - 0.9 * x * y, 0.8 * x * y - 1.8 * y];
    let (mut z, h, every) = ([0.44249296, 4.6280594], 1e-4, 150);
    let (mut t, mut data) = (Vec::new(), Vec::new());
    for k in 0..=200 * every {
        if k % every == 0 {
            t.push(k as f64 * h);
            data.extend(z);
        }
        let k1 = f(z[0], z[1]);
        let k2 = f(z[0] + 0.5 * h * k1[0], z[1] + 0.5 * h * k1[1]);
        let k3 = f(z[0] + 0.5 * h * k2[0], z[1] + 0.5 * h * k2[1]);
        let k4 = f(z[0] + h * k3[0], z[1] + h * k3[1]);
        for i in 0..2 {
            z[i] += h / 6.0 * (k1[i] + 2.0 * k2[i] + 2.0 * k3[i] + k4[i]);
        }
    }
    let derivatives = super::finite_difference(&t, &data, 2).unwrap();
    let found = discover_to_degree_five_and_sin(&data, &derivatives);
    let truth: [&[(&str, f64)]; 2] = [&[("x", 1.3), ("x*y", -0.9)], &[("y", -1.8), ("x*y", 0.8)]];
    let worst = check_equations(&found, &truth, 1e-3);
    println!("{found}\nlargest relative error {worst:.2e}");
}

#[test]
fn a_fixed_threshold_gives_one_model() {
    let (data, derivatives) = lotka_volterra(100);
    let options = Options {
        threshold: Threshold::Fixed(0.05),
        ..Options::default()
    };
    let found = discover(
        &data,
        &derivatives,
        &["x", "y"],
        &LibrarySpec::default(),
        &options,
    )
    .unwrap();
    assert_eq!(found.front.len(), 1);
    assert_eq!(found.front[0].terms, 4);
    assert_eq!(found.threshold, 0.05);
    assert!(found.front[0].rss < 1e-24, "{}", found.front[0].rss);
}

#[test]
fn equations_print_constants_and_small_and_large_coefficients() {
    let library = Library::new(&["u"], &LibrarySpec::default()).unwrap();
    let terms = library.terms();
    let equation = Equation {
        variable: "u".into(),
        terms: vec![
            (terms[0].clone(), 2.5),
            (terms[1].clone(), -1.234567e-5),
            (terms[2].clone(), 123456.0),
        ],
    };
    assert_eq!(
        equation.to_string(),
        "du/dt = 2.500 - 1.235e-5 u + 1.235e5 u^2"
    );
    let empty = Equation {
        variable: "u".into(),
        terms: vec![],
    };
    assert_eq!(empty.to_string(), "du/dt = 0");
    let negative_constant = Equation {
        variable: "u".into(),
        terms: vec![(terms[0].clone(), -0.05)],
    };
    assert_eq!(negative_constant.to_string(), "du/dt = -0.05000");
}

#[test]
fn bad_inputs_are_errors_not_panics() {
    let spec = LibrarySpec::default();
    let options = Options::default();
    let (data, derivatives) = lotka_volterra(20);
    let run = |data: &[f64], derivatives: &[f64], variables: &[&str], spec: &LibrarySpec| {
        discover(data, derivatives, variables, spec, &options).unwrap_err()
    };

    let empty = run(&[], &[], &["x", "y"], &spec);
    assert!(empty.message.contains("no data"), "{empty}");
    let ragged = run(&data[..39], &derivatives[..39], &["x", "y"], &spec);
    assert!(
        ragged.message.contains("not a whole number of rows"),
        "{ragged}"
    );
    let short = run(&data, &derivatives[..38], &["x", "y"], &spec);
    assert!(
        short.message.contains("derivatives have 38 values"),
        "{short}"
    );

    let mut nan = data.clone();
    nan[13] = f64::NAN;
    let err = run(&nan, &derivatives, &["x", "y"], &spec);
    assert_eq!(
        err.message,
        "The data holds NaN at row 6, column `y` (rows counted from 0)."
    );
    let mut inf = derivatives.clone();
    inf[4] = f64::NEG_INFINITY;
    let err = run(&data, &inf, &["x", "y"], &spec);
    assert_eq!(
        err.message,
        "The derivatives hold -inf at row 2, column `dx/dt` (rows counted from 0)."
    );

    // 21 terms of degree 5 in two variables, 20 rows.
    let quintic = LibrarySpec {
        degree: 5,
        functions: vec![],
    };
    let err = run(&data, &derivatives, &["x", "y"], &quintic);
    assert!(
        err.message.contains("21 terms but the data only 20 rows"),
        "{err}"
    );
    assert!(err.help.as_deref().unwrap().contains("lower degree"));

    let unknown = LibrarySpec {
        degree: 1,
        functions: vec!["sqrt".into()],
    };
    let err = run(&data, &derivatives, &["x", "y"], &unknown);
    assert!(err.help.as_deref().unwrap().contains("sin, cos, exp, tanh"));
    let err = run(&data, &derivatives, &[], &spec);
    assert!(err.message.contains("at least one variable"), "{err}");

    let overflow = LibrarySpec {
        degree: 1,
        functions: vec!["exp".into()],
    };
    let mut big = data.clone();
    big[0] = 1e3;
    let err = run(&big, &derivatives, &["x", "y"], &overflow);
    assert!(
        err.message.contains("`exp(x)` is infinite at row 0"),
        "{err}"
    );

    for threshold in [Threshold::Fixed(-1.0), Threshold::Fixed(f64::INFINITY)] {
        let options = Options {
            threshold,
            ..Options::default()
        };
        let err = discover(&data, &derivatives, &["x", "y"], &spec, &options).unwrap_err();
        assert_eq!(err.kind, ErrorKind::Input);
    }
    let options = Options {
        alpha: -1.0,
        ..Options::default()
    };
    let err = discover(&data, &derivatives, &["x", "y"], &spec, &options).unwrap_err();
    assert_eq!(err.kind, ErrorKind::Input);
}
