//! Reference solutions computed by the project itself, for tests and benchmarks.
//!
//! The viscous Burgers equation is the standard physics-informed-network benchmark (Raissi
//! et al. 2019, `ν = 0.01/π`); its exact solution by the Cole–Hopf transformation
//! (Basdevant et al. 1986) is the yardstick a trained network is measured against.
//!
//! # How the integrals are evaluated
//!
//! Cole–Hopf gives, with `f(y) = exp(−cos(πy)/(2πν))`,
//!
//! ```text
//! u(t, x) = − ∫ sin(π(x−η)) f(x−η) exp(−η²/(4νt)) dη / ∫ f(x−η) exp(−η²/(4νt)) dη
//! ```
//!
//! over the whole line (the initial condition is 2-periodic and odd, so the boundary values
//! `u(t, ±1) = 0` hold by symmetry). Both integrands are `exp(φ(η))` times a bounded factor,
//! with `φ(η) = −cos(π(x−η))/(2πν) − η²/(4νt)`. For `ν = 0.01/π` the cosine term swings
//! by ±50 in the exponent, so `exp(φ)` is evaluated relative to the running maximum of `φ`
//! (log-sum-exp): nothing overflows and the ratio is unchanged.
//!
//! Gauss–Hermite quadrature in `s = η/√(4νt)` is a poor fit here: it treats
//! `f(x − √(4νt)·s)` as a smooth polynomial-like factor, but `f` can grow like `exp(s²)` and
//! cancel the Hermite weight exactly (at `x = 0` that happens at `t = 1/π`, where the shock
//! forms), and then the integrand spreads out to `|s| ≈ 10` instead of decaying. We instead
//! use composite 16-point Gauss–Legendre quadrature on `|η| ≤ R`, with
//! `R = √(4νt (1/(πν) + 46))`: since `max φ ≥ φ(0) ≥ −1/(2πν)` and `φ(η) ≤ 1/(2πν) −
//! η²/(4νt)`, every point outside `R` has `exp(φ − max φ) < e^{−46} ≈ 1e-20`. Panels are
//! no wider than the narrowest feature of `exp(φ)`, whose curvature scale is
//! `σ = (π/(2ν) + 1/(2νt))^{−1/2}`; the tests check that doubling the number of panels
//! changes `u` by less than `1e-10` (in practice ~1e-15) and that the slope at the origin
//! reproduces the published 152.00516.
//!
//! Each node `η` is paired with its mirror `−η`, which makes `u(t, 0) = 0` and
//! `u(t, −x) = −u(t, x)` hold exactly. An independent 40-digit mpmath quadrature agrees to
//! within 1e-15 (see `stdlib/tests/reference.rs`). The cost is `O(R/σ)` integrand
//! evaluations: about 1,100 for the benchmark at `t = 1`; it grows like `1/√ν` for small
//! viscosities.

use std::sync::OnceLock;

/// Points of the Gauss–Legendre rule used on each panel.
const GAUSS_POINTS: usize = 16;

/// How far below its maximum the integrand may be dropped: `e^{−46} ≈ 1e-20`.
const TAIL_LOG: f64 = 46.0;

/// Panels per curvature scale `σ` of the integrand at refinement 1 (see the module docs).
const PANELS_PER_SIGMA: f64 = 1.0;

/// The largest number of panels one evaluation uses; beyond it (viscosities far below the
/// benchmark's) the accuracy degrades instead of the call taking unbounded time.
const MAX_PANELS: f64 = 1.0e6;

/// The viscous Burgers equation `u_t + u u_x = ν u_xx` on `x ∈ [−1, 1]` with
/// `u(0, x) = −sin(πx)` and `u(t, ±1) = 0`, by the Cole–Hopf transformation, its integrals
/// evaluated by quadrature.
///
/// `t = 0` returns the initial condition exactly. Inputs outside the problem's domain
/// (`ν ≤ 0`, `t < 0`, any non-finite argument) return NaN rather than failing; `x` outside
/// `[−1, 1]` returns the 2-periodic odd continuation, which is what the formula gives.
pub fn burgers_cole_hopf(nu: f64, t: f64, x: f64) -> f64 {
    burgers_cole_hopf_refined(nu, t, x, 1)
}

/// [`burgers_cole_hopf`] with `refinement` times as many quadrature panels (1 is the
/// default; 0 is treated as 1). Doubling it is how the tests measure the quadrature error.
pub fn burgers_cole_hopf_refined(nu: f64, t: f64, x: f64, refinement: u32) -> f64 {
    if t == 0.0 && x.is_finite() && nu.is_finite() && nu > 0.0 {
        return -(std::f64::consts::PI * x).sin();
    }
    match cole_hopf_sums(nu, t, x, refinement) {
        Some(sums) => sums.u(),
        None => f64::NAN,
    }
}

/// The slope `∂u/∂x` of [`burgers_cole_hopf`], by differentiating under the integrals:
/// with `N`, `D` the numerator and denominator integrals, `∂u/∂x = −N_x/D + u²/(2ν)`,
/// where `N_x` integrates `π cos(π(x−η)) + sin²(π(x−η))/(2ν)` against the same weight.
///
/// `t = 0` returns `−π cos(πx)`; invalid input returns NaN as for [`burgers_cole_hopf`].
pub fn burgers_cole_hopf_dx(nu: f64, t: f64, x: f64) -> f64 {
    if t == 0.0 && x.is_finite() && nu.is_finite() && nu > 0.0 {
        return -std::f64::consts::PI * (std::f64::consts::PI * x).cos();
    }
    match cole_hopf_sums(nu, t, x, 1) {
        Some(sums) => {
            let u = sums.u();
            -sums.numerator_dx / sums.denominator + u * u / (2.0 * nu)
        }
        None => f64::NAN,
    }
}

/// The three Cole–Hopf integrals, all scaled by the same `exp(−max φ)`.
struct Sums {
    numerator: f64,
    numerator_dx: f64,
    denominator: f64,
}

impl Sums {
    fn u(&self) -> f64 {
        -self.numerator / self.denominator
    }
}

/// Evaluates the integrals for `t > 0`; `None` for input outside the domain.
fn cole_hopf_sums(nu: f64, t: f64, x: f64, refinement: u32) -> Option<Sums> {
    use std::f64::consts::PI;
    if !(nu.is_finite() && t.is_finite() && x.is_finite() && nu > 0.0 && t > 0.0) {
        return None;
    }
    let four_nu_t = 4.0 * nu * t;
    let half_range = (four_nu_t * (1.0 / (PI * nu) + TAIL_LOG)).sqrt();
    let sigma = 1.0 / (PI / (2.0 * nu) + 1.0 / (2.0 * nu * t)).sqrt();
    // Panels cover [0, R]; each node η is used together with its mirror −η, so that the
    // symmetries hold exactly in floating point: u(t, 0) = 0 and u(t, −x) = −u(t, x).
    let wanted = (half_range / sigma * PANELS_PER_SIGMA * f64::from(refinement.max(1)))
        .ceil()
        .clamp(1.0, MAX_PANELS);
    if !wanted.is_finite() {
        return None;
    }
    // In range [1, 1e6] after the clamp, so the conversion is exact.
    let panels = wanted as usize;
    let width = half_range / wanted;
    let rule = gauss_legendre();
    let inv_two_pi_nu = 1.0 / (2.0 * PI * nu);
    let inv_two_nu = 1.0 / (2.0 * nu);

    // Running log-sum-exp: all sums are kept relative to exp(max_phi); when a larger
    // exponent turns up, the sums so far are rescaled.
    let mut max_phi = f64::NEG_INFINITY;
    let mut sums = Sums {
        numerator: 0.0,
        numerator_dx: 0.0,
        denominator: 0.0,
    };
    for panel in 0..panels {
        let centre = width * (panel as f64 + 0.5);
        for &(node, weight) in rule {
            let eta = centre + 0.5 * width * node;
            let gauss = eta * eta / four_nu_t;
            let (sin_plus, cos_plus) = (PI * (x - eta)).sin_cos();
            let (sin_minus, cos_minus) = (PI * (x + eta)).sin_cos();
            let phi_plus = -cos_plus * inv_two_pi_nu - gauss;
            let phi_minus = -cos_minus * inv_two_pi_nu - gauss;
            let phi = phi_plus.max(phi_minus);
            if phi > max_phi {
                let scale = (max_phi - phi).exp();
                sums.numerator *= scale;
                sums.numerator_dx *= scale;
                sums.denominator *= scale;
                max_phi = phi;
            }
            let w_plus = weight * (phi_plus - max_phi).exp();
            let w_minus = weight * (phi_minus - max_phi).exp();
            sums.numerator += w_plus * sin_plus + w_minus * sin_minus;
            sums.numerator_dx += w_plus * (PI * cos_plus + sin_plus * sin_plus * inv_two_nu)
                + w_minus * (PI * cos_minus + sin_minus * sin_minus * inv_two_nu);
            sums.denominator += w_plus + w_minus;
        }
    }
    // The common factor width/2 of the Gauss–Legendre weights cancels in every ratio.
    (sums.denominator > 0.0).then_some(sums)
}

/// The 16-point Gauss–Legendre rule on `[−1, 1]` as `(node, weight)` pairs, computed once.
fn gauss_legendre() -> &'static [(f64, f64)] {
    static RULE: OnceLock<Vec<(f64, f64)>> = OnceLock::new();
    RULE.get_or_init(|| gauss_legendre_rule(GAUSS_POINTS))
}

/// The `n`-point Gauss–Legendre rule: the nodes are the roots of `P_n`, found by Newton's
/// method from the Chebyshev-like guesses `cos(π(i − 1/4)/(n + 1/2))`, which converge to
/// machine precision in a few steps; the weights are `2/((1 − x²) P_n'(x)²)`.
fn gauss_legendre_rule(n: usize) -> Vec<(f64, f64)> {
    use std::f64::consts::PI;
    let nf = n as f64;
    let mut rule = Vec::with_capacity(n);
    for i in 1..=n {
        let mut x = (PI * (i as f64 - 0.25) / (nf + 0.5)).cos();
        let mut derivative = 1.0;
        for _ in 0..100 {
            let (p, dp) = legendre_with_derivative(n, x);
            derivative = dp;
            let step = p / dp;
            x -= step;
            if step.abs() <= 1e-16 {
                let (_, dp) = legendre_with_derivative(n, x);
                derivative = dp;
                break;
            }
        }
        rule.push((x, 2.0 / ((1.0 - x * x) * derivative * derivative)));
    }
    rule
}

/// `P_n(x)` and `P_n'(x)` by the three-term recurrence.
fn legendre_with_derivative(n: usize, x: f64) -> (f64, f64) {
    let (mut previous, mut current) = (1.0, x);
    for k in 2..=n {
        let k = k as f64;
        let next = ((2.0 * k - 1.0) * x * current - (k - 1.0) * previous) / k;
        previous = current;
        current = next;
    }
    let derivative = n as f64 * (x * current - previous) / (x * x - 1.0);
    (current, derivative)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gauss_legendre_integrates_polynomials_exactly() {
        let rule = gauss_legendre_rule(GAUSS_POINTS);
        let total: f64 = rule.iter().map(|&(_, w)| w).sum();
        assert!((total - 2.0).abs() < 1e-14);
        // x^30 has degree 2n − 2 and integrates to 2/31 exactly.
        let moment: f64 = rule.iter().map(|&(x, w)| w * x.powi(30)).sum();
        assert!((moment - 2.0 / 31.0).abs() < 1e-14, "{moment}");
    }
}
