//! The embedding API through the host program `examples/embed.rs` and directly: values,
//! derivatives, conservation laws, gradient descent, and the errors callers see.

#[path = "../examples/embed.rs"]
mod embed;

use std::path::Path;

fn example(name: &str) -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("examples")
        .join(name)
}

#[test]
fn host_program_integrates_lotka_volterra_and_conserves_its_invariant() {
    let mut out = String::new();
    let summary = embed::run(&example("lotka_volterra.sci"), &mut out).unwrap();
    assert!(
        out.contains("model LotkaVolterra: 2 states, 4 parameters"),
        "{out}"
    );
    let (_, y) = &summary.finals[0];
    // V = δ·x − γ·ln x + β·y − α·ln y is conserved along trajectories.
    let v = |x: f64, y: f64| x - 3.0 * x.ln() + y - 1.5 * y.ln();
    assert!((v(y[0], y[1]) - v(10.0, 5.0)).abs() < 1e-6, "{out}");
}

#[test]
fn host_program_trains_a_pinn() {
    let mut out = String::new();
    let summary = embed::run(&example("burgers_pinn.sci"), &mut out).unwrap();
    let (_, before, after) = summary.losses[0];
    assert!(after < before, "{out}");
}

#[test]
fn jit_agrees_with_the_interpreter_backend() {
    let path = example("lv_ude.sci");
    let native = sci::Compiler::new().compile_file(&path).unwrap();
    let interp = sci::Compiler::new()
        .backend(sci::BackendKind::Interpreter)
        .compile_file(&path)
        .unwrap();
    let (a, b) = (
        native.model("LotkaVolterraUDE").unwrap(),
        interp.model("LotkaVolterraUDE").unwrap(),
    );
    let p = a.params();
    let y = a.y0(&p).unwrap();
    let (mut ja, mut jb) = (vec![0.0; 4], vec![0.0; 4]);
    a.jacobian(0.3, &y, &p, &mut ja).unwrap();
    b.jacobian(0.3, &y, &p, &mut jb).unwrap();
    assert_eq!(ja, jb);
    let obs: Vec<f64> = (0..12).map(|i| i as f64 * 0.1).collect();
    let traj: Vec<f64> = (0..8).map(|i| 1.0 + i as f64 * 0.05).collect();
    let batch = sci::Batch::new().with("obs", &obs).with("obs.traj", &traj);
    let (la, ga) = a.loss_and_grad(&p, &batch).unwrap();
    let (lb, gb) = b.loss_and_grad(&p, &batch).unwrap();
    assert!((la - lb).abs() <= 1e-12 * lb.abs());
    for (x, y) in ga.iter().zip(&gb) {
        assert!((x - y).abs() <= 1e-12 * y.abs() + 1e-15, "{x} vs {y}");
    }
}

#[test]
fn callers_get_clear_errors() {
    let compiled = sci::Compiler::new()
        .compile_file(example("lotka_volterra.sci"))
        .unwrap();
    let err = compiled.model("Lotka").unwrap_err().to_string();
    assert!(
        err.contains("no model named `Lotka`") && err.contains("LotkaVolterra"),
        "{err}"
    );
    let lv = compiled.model("LotkaVolterra").unwrap();
    let p = lv.params();
    let mut dy = vec![0.0; 2];
    let err = lv
        .rhs(0.0, &[1.0, 2.0, 3.0], &p, &mut dy)
        .unwrap_err()
        .to_string();
    assert!(err.contains("`y`") && err.contains("3 elements"), "{err}");
    let err = lv
        .rhs(0.0, &[1.0, 2.0], &p, &mut [0.0; 3])
        .unwrap_err()
        .to_string();
    assert!(err.contains("output buffer"), "{err}");
    let err = lv.loss(&p, &sci::Batch::new()).unwrap_err().to_string();
    assert!(err.contains("no function `loss`"), "{err}");

    let pinn = sci::Compiler::new()
        .compile_file(example("poisson2d_pinn.sci"))
        .unwrap();
    let m = pinn.model("Poisson2D").unwrap();
    let xs = [0.5, 0.25];
    let err = m
        .loss(&m.params(), &sci::Batch::new().with("interior.x", &xs))
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("interior.y") && err.contains("edge.x"),
        "{err}"
    );
    let err = m
        .loss(&m.params(), &sci::Batch::new().with("interior.z", &xs))
        .unwrap_err()
        .to_string();
    assert!(err.contains("no input `interior.z`"), "{err}");
    // Batched inputs read by one map must have the same number of points.
    let batch = sci::Batch::new()
        .with("interior.x", &xs)
        .with("interior.y", &xs[..1])
        .with("edge.x", &xs)
        .with("edge.y", &xs);
    let err = m.loss(&m.params(), &batch).unwrap_err().to_string();
    assert!(err.contains("batch size mismatch"), "{err}");
}

#[test]
fn free_functions_and_generic_instances() {
    let compiled = sci::Compiler::new()
        .compile_file(example("rosenbrock.sci"))
        .unwrap();
    let relu = compiled.function("relu").unwrap();
    assert_eq!(relu.call(&[&[-2.0]]).unwrap(), vec![0.0]);
    assert_eq!(relu.call(&[&[3.0]]).unwrap(), vec![3.0]);
    let r = compiled.function("rosenbrock").unwrap();
    assert_eq!(r.call(&[&[1.0; 5]]).unwrap(), vec![0.0]);
    // (1 − 0)² + 100·(0 − 0)² = 1 per term.
    assert_eq!(r.call(&[&[0.0; 4]]).unwrap(), vec![3.0]);
    let g = compiled.function("rosenbrock_grad").unwrap();
    // ∂/∂x0 of 100(x1 − x0²)² + (1 − x0)² at 0 is −2; ∂/∂x1 is 0 there.
    assert_eq!(g.call(&[&[0.0, 0.0]]).unwrap(), vec![-2.0, 0.0]);
    let err = compiled.function("nope").unwrap_err().to_string();
    assert!(err.contains("no function named `nope`"), "{err}");
}

#[test]
fn compiling_without_a_backend_answers_errors() {
    let compiled = sci::Compiler::new()
        .backend(sci::BackendKind::None)
        .compile_file(example("lotka_volterra.sci"))
        .unwrap();
    assert!(!compiled.modules.is_empty());
    let err = compiled.model("LotkaVolterra").unwrap_err().to_string();
    assert!(err.contains("without a back end"), "{err}");
}

#[test]
fn sparse_jacobian_equals_the_dense_one() {
    let compiled = sci::Compiler::new()
        .compile_file(example("heat1d.sci"))
        .unwrap();
    let m = compiled.model("Heat1D").unwrap();
    let p = m.params();
    let y: Vec<f64> = (0..m.n_states()).map(|i| (i as f64 * 0.37).sin()).collect();
    let n = m.n_states();
    let mut dense = vec![0.0; n * n];
    m.jacobian(0.0, &y, &p, &mut dense).unwrap();
    let pattern = m.jacobian_sparsity().unwrap();
    assert!(pattern.n_colors <= 3, "{} colours", pattern.n_colors);
    let mut values = vec![0.0; pattern.col_idx.len()];
    m.jacobian_csr(0.0, &y, &p, &mut values).unwrap();
    let mut from_csr = vec![0.0; n * n];
    for r in 0..n {
        for k in pattern.row_ptr[r]..pattern.row_ptr[r + 1] {
            from_csr[r * n + pattern.col_idx[k]] = values[k];
        }
    }
    for (a, b) in from_csr.iter().zip(&dense) {
        assert!((a - b).abs() <= 1e-12 * b.abs().max(1.0), "{a} vs {b}");
    }
}

/// A heterogeneous medium (examples/composite_heat.sci): the values of its right-hand side
/// and of its Jacobian that depend on θ alone are computed once per parameter change.
/// Through a cache both equal the plain functions', a new θ recomputes them, and a stiff
/// solve computes them once however many right-hand sides and Jacobians it takes.
#[test]
fn theta_only_jacobian_parts_are_computed_once_per_parameter_change() {
    use sci::stdlib::ode::{JacobianKind, Method, SolveOptions};
    let compiled = sci::Compiler::new()
        .compile_file(example("composite_heat.sci"))
        .unwrap();
    let m = compiled.model("CompositeHeat").unwrap();
    let pattern = m.jacobian_sparsity().unwrap();
    assert!(pattern.element_local);
    for f in ["rhs", "sparse_jacobian.rhs", "jacobian.rhs.p"] {
        assert!(
            m.has_function(&format!("{f}.invariant")) && m.has_function(&format!("{f}.update")),
            "{f}: the conductivities are worth computing once"
        );
    }
    let n = m.n_states();
    let y: Vec<f64> = (0..n).map(|i| 0.3 * (i as f64 * 0.37).sin()).collect();
    let [mut cache, mut rhs_cache, mut theta_cache] = [(); 3].map(|_| sci::InvariantCache::new());
    let nnz = pattern.col_idx.len();
    let (mut plain, mut cached) = (vec![0.0; nnz], vec![0.0; nnz]);
    for (k, p) in [vec![2.0, 1.0], vec![2.0, 1.0], vec![0.5, -1.5]]
        .iter()
        .enumerate()
    {
        m.jacobian_csr(0.1, &y, p, &mut plain).unwrap();
        m.jacobian_csr_cached(&mut cache, 0.1, &y, p, &mut cached)
            .unwrap();
        for (a, b) in cached.iter().zip(&plain) {
            assert!(
                (a - b).abs() <= 1e-14 * b.abs().max(1.0),
                "θ = {p:?}: {a} vs {b}"
            );
        }
        // The first θ once, the second θ once more.
        assert_eq!(cache.invariant_evaluations(), [1, 1, 2][k], "θ = {p:?}");
        let (mut dy, mut dy_cached) = (vec![0.0; n], vec![0.0; n]);
        m.rhs(0.1, &y, p, &mut dy).unwrap();
        m.rhs_cached(&mut rhs_cache, 0.1, &y, p, &mut dy_cached)
            .unwrap();
        assert_eq!(dy_cached, dy, "θ = {p:?}: rhs");
        assert_eq!(rhs_cache.invariant_evaluations(), [1, 1, 2][k]);
        let (mut dp, mut dp_cached) = (vec![0.0; 2 * n], vec![0.0; 2 * n]);
        m.param_jacobian(0.1, &y, p, &mut dp).unwrap();
        m.param_jacobian_cached(&mut theta_cache, 0.1, &y, p, &mut dp_cached)
            .unwrap();
        for (a, b) in dp_cached.iter().zip(&dp) {
            assert!(
                (a - b).abs() <= 1e-14 * b.abs().max(1.0),
                "θ = {p:?}: ∂f/∂θ {a} vs {b}"
            );
        }
    }
    let system = sci::runtime::CompiledSystem::new(m).unwrap();
    let options = SolveOptions {
        method: Method::Bdf,
        span: Some((0.0, 0.5)),
        jacobian: JacobianKind::Sparse,
        ..SolveOptions::default()
    };
    let solution = sci::stdlib::ode::solve(&system, &m.params(), &options, &mut |_| {}).unwrap();
    assert!(solution.stats.sparse);
    assert!(solution.stats.jacobian_evals >= 2, "{:?}", solution.stats);
    assert_eq!(system.invariant_evaluations(), [1, 1, 0]);
    // With forward sensitivities `∂f/∂θ` too, once.
    let system = sci::runtime::CompiledSystem::new(m).unwrap();
    let options = SolveOptions {
        sensitivities: true,
        ..options
    };
    let solution = sci::stdlib::ode::solve(&system, &m.params(), &options, &mut |_| {}).unwrap();
    assert!(solution.sens.is_some());
    assert_eq!(system.invariant_evaluations(), [1, 1, 1]);
    // The Brusselator's constant entries (α/h²) are the same at every point: nothing to
    // keep (the lowering computes them once per call).
    let compiled = sci::Compiler::new()
        .compile_file(example("brusselator2d.sci"))
        .unwrap();
    let b = compiled.model("Brusselator2D").unwrap();
    for f in ["rhs", "sparse_jacobian.rhs", "jacobian.rhs.p"] {
        assert!(!b.has_function(&format!("{f}.invariant")), "{f}");
    }
}

/// A system too large for a dense Jacobian (the 2-D Brusselator on a 128 × 128 grid:
/// 32,768 states, a dense Jacobian of 2^30 elements) still compiles: the dense Jacobian is
/// missing with a reason, the sparse one is there and equals the right-hand side's finite
/// differences along a direction.
#[test]
fn a_system_too_large_for_a_dense_jacobian_compiles_with_the_sparse_one() {
    let text = std::fs::read_to_string(example("brusselator2d.sci"))
        .unwrap()
        .replace("const n = 32", "const n = 128");
    let compiled = sci::Compiler::new()
        .compile_source("brusselator128.sci", &text)
        .unwrap();
    let m = compiled.model("Brusselator2D").unwrap();
    let (p, n) = (m.params(), m.n_states());
    assert_eq!(n, 32768);
    let y: Vec<f64> = m.y0(&p).unwrap().iter().map(|v| v + 0.01).collect();
    let mut dense = vec![0.0; 4];
    let err = m.jacobian(0.0, &y, &p, &mut dense).unwrap_err().to_string();
    assert!(err.contains("sparse Jacobian"), "{err}");
    let pattern = m.jacobian_sparsity().unwrap();
    assert_eq!(pattern.col_idx.len(), 6 * n);
    let mut values = vec![0.0; pattern.col_idx.len()];
    m.jacobian_csr(0.0, &y, &p, &mut values).unwrap();
    // J·v against central differences of the right-hand side: a cubic in the state (u²v),
    // so the truncation error is h²·|v|³ (below 1e-4 here), and a large step keeps the
    // cancellation small (the diffusion terms are 10⁵ times the state).
    let v: Vec<f64> = (0..n)
        .map(|k| ((k * 7919) % 13) as f64 / 13.0 - 0.5)
        .collect();
    let h = 1e-2;
    let (mut plus, mut minus) = (vec![0.0; n], vec![0.0; n]);
    let shifted = |s: f64| -> Vec<f64> { y.iter().zip(&v).map(|(a, b)| a + s * b).collect() };
    m.rhs(0.0, &shifted(h), &p, &mut plus).unwrap();
    m.rhs(0.0, &shifted(-h), &p, &mut minus).unwrap();
    for r in (0..n).step_by(97) {
        let jv: f64 = (pattern.row_ptr[r]..pattern.row_ptr[r + 1])
            .map(|k| values[k] * v[pattern.col_idx[k]])
            .sum();
        let fd = (plus[r] - minus[r]) / (2.0 * h);
        assert!(
            (jv - fd).abs() <= 1e-5 * (1.0 + fd.abs()),
            "row {r}: J·v {jv} vs {fd}"
        );
    }
}

/// `loss_and_grad` is one call of `value_and_grad.loss`: its value is the loss (to the last
/// bits: the points are summed in another order once tiled; exactly in the interpreter) and
/// its gradient is `grad.loss`'s (bit for bit), on the Burgers PINN; a short buffer is an error.
#[test]
fn loss_and_grad_is_one_fused_call_with_the_loss_and_its_gradient() {
    let pinn = std::fs::read_to_string(example("burgers_pinn.sci")).unwrap();
    for backend in [sci::BackendKind::Cranelift, sci::BackendKind::Interpreter] {
        let c = sci::Compiler::new()
            .backend(backend)
            .compile_source("burgers_pinn.sci", &pinn)
            .unwrap();
        let m = c.model("BurgersPINN").unwrap();
        assert!(m.has_function(sci::jit::LOSS_VALUE_GRAD));
        let data: Vec<(String, Vec<f64>)> = m
            .loss_inputs()
            .unwrap()
            .into_iter()
            .map(|(name, _)| {
                let xs = (0..301)
                    .map(|k| {
                        let u = (k as f64 * 0.618_033_988_7).fract();
                        if name.ends_with(".x") {
                            2.0 * u - 1.0
                        } else {
                            u
                        }
                    })
                    .collect();
                (name, xs)
            })
            .collect();
        let mut batch = sci::Batch::new();
        for (name, xs) in &data {
            batch.set(name, xs);
        }
        let p = m.params();
        let (loss, grad) = m.loss_and_grad(&p, &batch).unwrap();
        let alone = m.loss(&p, &batch).unwrap();
        let args: Vec<&[f64]> = std::iter::once(&p[..])
            .chain(data.iter().map(|(_, xs)| &xs[..]))
            .collect();
        let want = m
            .function(sci::jit::LOSS_GRAD)
            .unwrap()
            .call(&args)
            .unwrap();
        if backend == sci::BackendKind::Interpreter {
            assert_eq!(loss.to_bits(), alone.to_bits());
        } else {
            assert!(
                (loss - alone).abs() <= 1e-14 * alone.abs(),
                "{loss} vs {alone}"
            );
        }
        assert_eq!(grad.len(), want.len());
        for (k, (g, w)) in grad.iter().zip(&want).enumerate() {
            assert_eq!(g.to_bits(), w.to_bits(), "{backend:?}: ∂/∂θ{k}: {g} vs {w}");
        }
        let mut short = vec![0.0; grad.len() - 1];
        let err = m.loss_and_grad_into(&p, &batch, &mut short).unwrap_err();
        assert!(err.to_string().contains("parameters"), "{err}");
    }
}
