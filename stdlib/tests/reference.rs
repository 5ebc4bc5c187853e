//! Tests of the reference solutions: the Cole–Hopf solution of the Burgers benchmark
//! against its own symmetries, its initial and boundary conditions, the PDE itself, the
//! quadrature refined, and the slope published by Basdevant et al. (1986).

use sci_stdlib::reference::{burgers_cole_hopf, burgers_cole_hopf_dx, burgers_cole_hopf_refined};
use std::f64::consts::PI;

/// The viscosity of the benchmark (Raissi et al. 2019).
const NU: f64 = 0.01 / PI;

/// `n + 1` evenly spaced points from `a` to `b`.
fn grid(a: f64, b: f64, n: usize) -> Vec<f64> {
    (0..=n).map(|i| a + (b - a) * i as f64 / n as f64).collect()
}

/// Times from just after the start to well past the shock, the shock time 1/π included.
fn times() -> Vec<f64> {
    vec![
        1e-6,
        0.01,
        0.1,
        0.25,
        1.0 / PI,
        0.4,
        1.6037 / PI,
        0.75,
        1.0,
        3.0,
    ]
}

#[test]
fn initial_condition_is_minus_sine() {
    for x in grid(-1.0, 1.0, 40) {
        assert_eq!(burgers_cole_hopf(NU, 0.0, x), -(PI * x).sin(), "x = {x}");
        assert_eq!(
            burgers_cole_hopf_dx(NU, 0.0, x),
            -PI * (PI * x).cos(),
            "x = {x}"
        );
    }
}

#[test]
fn tends_to_the_initial_condition_as_time_goes_to_zero() {
    // |u_t| ≤ |u u_x| + ν |u_xx| ≤ π + νπ² near t = 0, so after 1e-6 the change is < 4e-6.
    for x in grid(-1.0, 1.0, 20) {
        let u = burgers_cole_hopf(NU, 1e-6, x);
        assert!((u + (PI * x).sin()).abs() < 4e-6, "x = {x}: {u}");
    }
}

#[test]
fn is_odd_in_x_and_zero_at_the_centre() {
    for t in times() {
        assert_eq!(burgers_cole_hopf(NU, t, 0.0).abs(), 0.0, "t = {t}");
        for x in grid(0.05, 1.0, 19) {
            let (right, left) = (burgers_cole_hopf(NU, t, x), burgers_cole_hopf(NU, t, -x));
            assert!(
                (right + left).abs() < 1e-13,
                "t = {t}, x = {x}: {right} vs {left}"
            );
        }
    }
}

#[test]
fn vanishes_on_the_boundary() {
    for t in times() {
        for x in [-1.0, 1.0] {
            let u = burgers_cole_hopf(NU, t, x);
            assert!(u.abs() < 1e-10, "t = {t}, x = {x}: {u}");
        }
    }
}

#[test]
fn obeys_the_maximum_principle() {
    for t in times() {
        for x in grid(-1.0, 1.0, 40) {
            let u = burgers_cole_hopf(NU, t, x);
            assert!(u.abs() <= 1.0 + 1e-12, "t = {t}, x = {x}: {u}");
        }
    }
}

#[test]
fn doubling_the_quadrature_changes_nothing() {
    let mut worst: f64 = 0.0;
    for t in times() {
        for x in grid(-1.0, 1.0, 16) {
            let coarse = burgers_cole_hopf_refined(NU, t, x, 1);
            let fine = burgers_cole_hopf_refined(NU, t, x, 2);
            worst = worst.max((coarse - fine).abs());
        }
    }
    assert!(worst < 1e-10, "largest change {worst:e}");
}

#[test]
fn reproduces_the_published_steepest_slope() {
    // Basdevant et al. (1986): for ν = 0.01/π the slope at x = 0 is steepest at
    // t = 1.6037/π, where |∂u/∂x| = 152.00516. (At t = 1/π, where the inviscid solution
    // would break, the slope is still only about 34.)
    let t_max = 1.6037 / PI;
    let slope = burgers_cole_hopf_dx(NU, t_max, 0.0);
    assert!(
        ((-slope) - 152.00516).abs() / 152.00516 < 1e-6,
        "slope {slope}"
    );
    // Steepest: the slope is shallower a little before and a little after.
    for dt in [-0.01 / PI, 0.01 / PI] {
        let nearby = burgers_cole_hopf_dx(NU, t_max + dt, 0.0);
        assert!(nearby.abs() < slope.abs(), "t = {}: {nearby}", t_max + dt);
    }
    // The slope from differentiating under the integral agrees with a difference quotient.
    let h = 1e-6;
    let quotient = (burgers_cole_hopf(NU, t_max, h) - burgers_cole_hopf(NU, t_max, -h)) / (2.0 * h);
    assert!(
        (quotient - slope).abs() / slope.abs() < 1e-6,
        "{quotient} vs {slope}"
    );
}

#[test]
fn matches_an_independent_high_precision_quadrature() {
    // (t, x, u, u_x) from mpmath at 40 digits: adaptive tanh-sinh quadrature of the same
    // Cole–Hopf integrals on 400 subintervals of the truncated line.
    let table = [
        (0.25, 0.3, -0.9827241174291003, 0.3889085376297535),
        (1.0 / PI, 0.01, -0.3163933356145144, -27.070268024874274),
        (0.75, 0.005, -0.5166748827772287, -76.6675446049361),
        (0.75, -0.6, 0.37082810079480594, 0.9123902073366777),
        (1.0, 0.002, -0.16499095991096965, -79.61826133657517),
        (3.0, 0.5, -0.15048810426665787, 0.3007418400608161),
        (0.05, 0.9, -0.26830544909802556, 2.625248963291881),
    ];
    for (t, x, u, u_x) in table {
        let (ours, ours_x) = (burgers_cole_hopf(NU, t, x), burgers_cole_hopf_dx(NU, t, x));
        assert!((ours - u).abs() < 1e-14, "t = {t}, x = {x}: {ours} vs {u}");
        assert!(
            (ours_x - u_x).abs() < 1e-12 * u_x.abs().max(1.0),
            "t = {t}, x = {x}: {ours_x} vs {u_x}"
        );
    }
}

/// `u_t + u u_x − ν u_xx` at `(t, x)`: `u_x` from [`burgers_cole_hopf_dx`], `u_t` and
/// `u_xx` by central differences of step `h` (error `O(h²)` plus rounding `O(ε/h)`).
fn residual(nu: f64, t: f64, x: f64) -> f64 {
    let h = 1e-5;
    let u = burgers_cole_hopf(nu, t, x);
    let u_t = (burgers_cole_hopf(nu, t + h, x) - burgers_cole_hopf(nu, t - h, x)) / (2.0 * h);
    let u_x = burgers_cole_hopf_dx(nu, t, x);
    let u_xx =
        (burgers_cole_hopf_dx(nu, t, x + h) - burgers_cole_hopf_dx(nu, t, x - h)) / (2.0 * h);
    u_t + u * u_x - nu * u_xx
}

#[test]
fn satisfies_the_pde_away_from_the_shock() {
    // The difference quotients are good to about 1e-9 here (largest residual seen: 2e-9);
    // the tolerance leaves room for that and still catches any real error in u or u_x.
    for nu in [NU, 0.1] {
        for t in [0.1, 0.3, 0.6, 0.9] {
            for x in [-0.75, -0.5, -0.25, 0.25, 0.5, 0.75] {
                let r = residual(nu, t, x);
                assert!(r.abs() < 1e-7, "ν = {nu}, t = {t}, x = {x}: residual {r:e}");
            }
        }
    }
}

#[test]
fn returns_nan_outside_the_domain() {
    for (nu, t, x) in [
        (0.0, 0.5, 0.5),
        (-NU, 0.5, 0.5),
        (NU, -0.5, 0.5),
        (f64::NAN, 0.5, 0.5),
        (NU, f64::INFINITY, 0.5),
        (NU, 0.5, f64::NAN),
        (NU, 0.0, f64::INFINITY),
    ] {
        assert!(burgers_cole_hopf(nu, t, x).is_nan(), "({nu}, {t}, {x})");
        assert!(burgers_cole_hopf_dx(nu, t, x).is_nan(), "({nu}, {t}, {x})");
    }
}
