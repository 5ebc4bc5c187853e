//! Adjoint gradients against forward sensitivities: the same loss over the same solution,
//! its gradient chained through `dy/dθ` (forward) and by one backward solve (adjoint), on a
//! non-stiff problem (Lotka–Volterra, Tsit5 and BDF), a stiff one (Robertson, BDF) and a
//! sparse one whose Jacobian pattern is not symmetric (so a transposition mistake shows).

mod common;

use common::{LV_THETA, LotkaVolterra, ROBERTSON_K, Robertson};
use sci_stdlib::ErrorKind;
use sci_stdlib::ode::{
    EventAction, EventSpec, EventTrigger, JacobianKind, Method, OdeSystem, Sensitivity,
    SolveOptions, Sparsity, adjoint_forward, adjoint_gradient, solve,
};

/// `L = Σ_k ½ |y(t_k) − d_k|²` with `d_k` a fixed pattern: its `∂L/∂y(t_k)` per time.
fn cotangents(y: &[Vec<f64>]) -> Vec<Vec<f64>> {
    y.iter()
        .enumerate()
        .map(|(k, row)| {
            (row.iter().enumerate())
                .map(|(i, v)| v - 0.5 * v.abs() * (1.0 + ((k + 2 * i) % 3) as f64) / 3.0)
                .collect()
        })
        .collect()
}

/// The gradient by forward sensitivities and by the adjoint, at the same options.
fn both_gradients(
    system: &dyn OdeSystem,
    p: &[f64],
    options: &SolveOptions,
) -> (Vec<f64>, Vec<f64>) {
    let (n, np) = (system.n_states(), system.n_params());
    let forward = solve(
        system,
        p,
        &SolveOptions {
            sensitivities: true,
            ..options.clone()
        },
        &mut |_| {},
    )
    .unwrap_or_else(|e| panic!("forward sensitivities: {e}"));
    let g = cotangents(&forward.y);
    let sens = forward.sens.as_ref().expect("sensitivities were requested");
    let mut by_forward = vec![0.0; np];
    for (gk, sk) in g.iter().zip(sens) {
        for i in 0..n {
            for (j, out) in by_forward.iter_mut().enumerate() {
                *out += gk[i] * sk[i * np + j];
            }
        }
    }
    let dense = adjoint_forward(system, p, options, &mut |_| {})
        .unwrap_or_else(|e| panic!("forward solve: {e}"));
    let adjoint = adjoint_gradient(system, p, options, &dense, &cotangents(&dense.y))
        .unwrap_or_else(|e| panic!("adjoint: {e}"));
    assert!(adjoint.stats.steps > 0 && adjoint.quadrature_evals > 0);
    (by_forward, adjoint.gradient)
}

/// Every component within `rel` of the forward gradient, relative to the larger of the
/// component and a thousandth of the largest component (entries many orders below the
/// rest are as uncertain as the rest in absolute terms).
fn assert_agree(forward: &[f64], adjoint: &[f64], rel: f64, what: &str) {
    let scale = forward.iter().fold(0.0f64, |m, g| m.max(g.abs()));
    assert!(scale > 0.0, "{what}: the gradient is zero");
    for (j, (f, a)) in forward.iter().zip(adjoint).enumerate() {
        let err = (f - a).abs() / f.abs().max(1e-3 * scale);
        assert!(
            err <= rel,
            "{what}: dL/dθ{j}: forward {f:e}, adjoint {a:e}, relative difference {err:e}"
        );
    }
}

fn options(method: Method, t_end: f64, times: Vec<f64>) -> SolveOptions {
    SolveOptions {
        method,
        span: Some((0.0, t_end)),
        times: Some(times),
        rtol: 1e-8,
        atol: 1e-10,
        ..SolveOptions::default()
    }
}

#[test]
fn lotka_volterra_adjoint_matches_forward_sensitivities() {
    // The initial populations are parameters too: the `(∂y0/∂θ)ᵀ λ(t0)` term. Reference:
    // forward sensitivities with Tsit5 at rtol 1e-12 (their own error ~1e-10).
    let times: Vec<f64> = (0..=20).map(|k| 0.25 * f64::from(k)).collect();
    let accurate = SolveOptions {
        rtol: 1e-12,
        atol: 1e-13,
        ..options(Method::Tsit5, 5.0, times.clone())
    };
    let (reference, _) = both_gradients(&LotkaVolterra, &LV_THETA, &accurate);
    let (fwd, adj) = both_gradients(
        &LotkaVolterra,
        &LV_THETA,
        &options(Method::Tsit5, 5.0, times.clone()),
    );
    assert_agree(&fwd, &adj, 1e-6, "Lotka–Volterra, Tsit5");
    assert_agree(
        &reference,
        &adj,
        1e-6,
        "Lotka–Volterra, Tsit5 adjoint against the reference",
    );
    // BDF's forward sensitivities are 6e-6 off at rtol 1e-8 (its global error is hundreds
    // of times rtol); the adjoint, solved at tighter tolerances, is within 1e-6 (measured
    // 6e-7).
    let (fwd, adj) = both_gradients(&LotkaVolterra, &LV_THETA, &options(Method::Bdf, 5.0, times));
    assert_agree(
        &reference,
        &fwd,
        2e-5,
        "Lotka–Volterra, BDF forward against the reference",
    );
    assert_agree(
        &reference,
        &adj,
        2e-6,
        "Lotka–Volterra, BDF adjoint against the reference",
    );
}

#[test]
fn robertson_adjoint_matches_forward_sensitivities() {
    // Stiff: λ is integrated backwards by BDF too; output times over eight decades.
    let times = vec![0.0, 1e-3, 0.4, 4.0, 40.0, 400.0, 4e3, 4e4];
    let (fwd, adj) = both_gradients(&Robertson, &ROBERTSON_K, &options(Method::Bdf, 4e4, times));
    assert_agree(&fwd, &adj, 1e-6, "Robertson");
}

/// Periodic upwind advection with diffusion and a per-cell decay, `n` cells:
/// `u_i' = D (u_{i−1} − 2u_i + u_{i+1}) − c (u_i − u_{i−1}) − k_i u_i`, the left
/// neighbour of cell 0 being cell n − 1 but cell n − 1's right neighbour being nothing (an
/// outflow), so the pattern has (0, n−1) and not (n−1, 0). θ = (D, c, k_0 … k_{n−1}).
struct Advection {
    n: usize,
    pattern: Sparsity,
}

impl Advection {
    fn new(n: usize) -> Advection {
        let mut row_ptr = vec![0];
        let mut col_idx = Vec::new();
        for i in 0..n {
            let mut cols = vec![i];
            cols.push(if i == 0 { n - 1 } else { i - 1 });
            if i + 1 < n {
                cols.push(i + 1);
            }
            cols.sort_unstable();
            col_idx.extend(cols);
            row_ptr.push(col_idx.len());
        }
        Advection {
            n,
            pattern: Sparsity {
                n,
                row_ptr,
                col_idx,
            },
        }
    }

    fn left(&self, i: usize) -> usize {
        if i == 0 { self.n - 1 } else { i - 1 }
    }

    fn theta(&self) -> Vec<f64> {
        let mut p = vec![0.3, 2.0];
        p.extend((0..self.n).map(|i| 0.1 + 0.05 * (i % 4) as f64));
        p
    }
}

impl OdeSystem for Advection {
    fn n_states(&self) -> usize {
        self.n
    }
    fn n_params(&self) -> usize {
        self.n + 2
    }
    fn rhs(&self, _t: f64, u: &[f64], p: &[f64], du: &mut [f64]) {
        for i in 0..self.n {
            let l = u[self.left(i)];
            let r = if i + 1 < self.n { u[i + 1] } else { 0.0 };
            du[i] = p[0] * (l - 2.0 * u[i] + r) - p[1] * (u[i] - l) - p[2 + i] * u[i];
        }
    }
    fn jac_mul(&self, _t: f64, _u: &[f64], p: &[f64], v: &[f64], out: &mut [f64]) {
        for i in 0..self.n {
            let l = v[self.left(i)];
            let r = if i + 1 < self.n { v[i + 1] } else { 0.0 };
            out[i] = p[0] * (l - 2.0 * v[i] + r) - p[1] * (v[i] - l) - p[2 + i] * v[i];
        }
    }
    fn param_jac_mul(&self, _t: f64, u: &[f64], _p: &[f64], v: &[f64], out: &mut [f64]) {
        for i in 0..self.n {
            let l = u[self.left(i)];
            let r = if i + 1 < self.n { u[i + 1] } else { 0.0 };
            out[i] = v[0] * (l - 2.0 * u[i] + r) - v[1] * (u[i] - l) - v[2 + i] * u[i];
        }
    }
    fn sparsity(&self) -> Option<&Sparsity> {
        Some(&self.pattern)
    }
    fn jacobian_values(&self, _t: f64, _u: &[f64], p: &[f64], values: &mut [f64]) {
        let rows = self.pattern.row_ptr.windows(2).enumerate();
        for (i, range) in rows {
            let entries = values[range[0]..range[1]].iter_mut();
            for (value, &j) in entries.zip(&self.pattern.col_idx[range[0]..range[1]]) {
                *value = if j == i {
                    -2.0 * p[0] - p[1] - p[2 + i]
                } else if j == self.left(i) {
                    p[0] + p[1]
                } else {
                    p[0]
                };
            }
        }
    }
    fn y0(&self, _p: &[f64], y0: &mut [f64]) {
        for (i, y) in y0.iter_mut().enumerate() {
            let x = (i as f64 + 0.5) / self.n as f64;
            *y = (-40.0 * (x - 0.3) * (x - 0.3)).exp();
        }
    }
    fn y0_param_jac_mul(&self, _p: &[f64], _v: &[f64], out: &mut [f64]) {
        out.fill(0.0);
    }
}

#[test]
fn sparse_adjoint_with_an_unsymmetric_pattern_matches_forward() {
    let system = Advection::new(40);
    let times: Vec<f64> = (1..=8).map(|k| 0.5 * f64::from(k)).collect();
    let o = SolveOptions {
        jacobian: JacobianKind::Sparse,
        ..options(Method::Bdf, 4.0, times)
    };
    let (fwd, adj) = both_gradients(&system, &system.theta(), &o);
    assert_agree(&fwd, &adj, 1e-6, "advection, sparse BDF");
}

/// Lotka–Volterra with a scheduled event (a harvest): a system with events.
struct Harvested {
    events: Vec<EventSpec>,
}

impl OdeSystem for Harvested {
    fn n_states(&self) -> usize {
        2
    }
    fn n_params(&self) -> usize {
        6
    }
    fn rhs(&self, t: f64, y: &[f64], p: &[f64], dy: &mut [f64]) {
        LotkaVolterra.rhs(t, y, p, dy);
    }
    fn jac_mul(&self, t: f64, y: &[f64], p: &[f64], v: &[f64], out: &mut [f64]) {
        LotkaVolterra.jac_mul(t, y, p, v, out);
    }
    fn param_jac_mul(&self, t: f64, y: &[f64], p: &[f64], v: &[f64], out: &mut [f64]) {
        LotkaVolterra.param_jac_mul(t, y, p, v, out);
    }
    fn y0(&self, p: &[f64], y0: &mut [f64]) {
        LotkaVolterra.y0(p, y0);
    }
    fn y0_param_jac_mul(&self, p: &[f64], v: &[f64], out: &mut [f64]) {
        LotkaVolterra.y0_param_jac_mul(p, v, out);
    }
    fn events(&self) -> &[EventSpec] {
        &self.events
    }
}

#[test]
fn the_adjoint_refuses_what_it_does_not_cover() {
    let o = SolveOptions {
        dense: true,
        ..options(Method::Tsit5, 1.0, vec![0.5, 1.0])
    };
    // No dense output.
    let plain = SolveOptions {
        dense: false,
        ..o.clone()
    };
    let sol = solve(&LotkaVolterra, &LV_THETA, &plain, &mut |_| {}).expect("solves");
    let g = cotangents(&sol.y);
    let e = adjoint_gradient(&LotkaVolterra, &LV_THETA, &plain, &sol, &g).unwrap_err();
    assert_eq!(e.kind, ErrorKind::Input);
    assert!(e.to_string().contains("dense"), "{e}");
    // Cotangents of the wrong shape.
    let sol = solve(&LotkaVolterra, &LV_THETA, &o, &mut |_| {}).expect("solves");
    let e = adjoint_gradient(&LotkaVolterra, &LV_THETA, &o, &sol, &g[..1]).unwrap_err();
    assert!(e.to_string().contains("2 output times"), "{e}");
    // Events: refused by `Adjoint`, sent to forward sensitivities by `Auto`.
    let harvested = Harvested {
        events: vec![EventSpec {
            trigger: EventTrigger::Scheduled,
            action: EventAction::Reset,
        }],
    };
    let e = Sensitivity::Adjoint.resolve(&harvested).unwrap_err();
    assert!(e.to_string().contains("events"), "{e}");
    assert!(e.help.as_deref().unwrap_or("").contains("forward"));
    assert_eq!(
        Sensitivity::Auto.resolve(&harvested).ok(),
        Some(Sensitivity::Forward)
    );
    let e = adjoint_gradient(&harvested, &LV_THETA, &o, &sol, &g).unwrap_err();
    assert!(e.to_string().contains("events"), "{e}");
}

#[test]
fn auto_takes_the_adjoint_for_many_parameters() {
    // 6 parameters: forward. 42 parameters: adjoint.
    assert_eq!(
        Sensitivity::Auto.resolve(&LotkaVolterra).ok(),
        Some(Sensitivity::Forward)
    );
    assert_eq!(
        Sensitivity::Auto.resolve(&Advection::new(40)).ok(),
        Some(Sensitivity::Adjoint)
    );
    assert_eq!(
        "Adjoint".parse::<Sensitivity>().ok(),
        Some(Sensitivity::Adjoint)
    );
    let e = "backward".parse::<Sensitivity>().unwrap_err();
    assert!(e.to_string().contains("`backward`"), "{e}");
}
