//! The Rust snippets of README.md ("Using sci from Rust"), statement for statement, so the
//! README cannot drift from the API. Keep the two in sync.

use std::error::Error;

#[test]
fn readme_ode_snippet() -> Result<(), Box<dyn Error>> {
    std::env::set_current_dir(env!("CARGO_MANIFEST_DIR"))?;
    // --- README ---
    let compiled = sci::Compiler::new().compile_file("examples/lotka_volterra.sci")?;
    let lv = compiled.model("LotkaVolterra")?;
    let p = lv.params(); // default θ
    let y = lv.y0(&p)?; // [10, 5]
    let mut dy = vec![0.0; lv.n_states()];
    lv.rhs(0.0, &y, &p, &mut dy)?; // [-35, 35]
    let mut jac = vec![0.0; 4];
    lv.jacobian(0.0, &y, &p, &mut jac)?; // ∂rhs/∂y, row-major
    // --- end ---
    assert_eq!(y, vec![10.0, 5.0]);
    assert_eq!(dy, vec![-35.0, 35.0]);
    // ∂/∂prey = α − β·pred = −3.5, ∂/∂pred = −β·prey = −10; δ·pred = 5, δ·prey − γ = 7.
    assert_eq!(jac, vec![-3.5, -10.0, 5.0, 7.0]);
    Ok(())
}

#[test]
fn readme_loss_snippet() -> Result<(), Box<dyn Error>> {
    std::env::set_current_dir(env!("CARGO_MANIFEST_DIR"))?;
    // --- README ---
    let compiled = sci::Compiler::new().compile_file("examples/burgers_pinn.sci")?;
    let pinn = compiled.model("BurgersPINN")?;
    let p = pinn.params(); // 921 network weights
    let (t, x) = ([0.1, 0.5, 0.9], [-0.5, 0.0, 0.5]); // three collocation points
    let (t0, x0) = ([0.0], [0.25]);
    let (tb, xb) = ([0.3, 0.7], [-1.0, 1.0]);
    let batch = sci::Batch::new()
        .with("pde.t", &t)
        .with("pde.x", &x)
        .with("initial.t", &t0)
        .with("initial.x", &x0)
        .with("boundary.t", &tb)
        .with("boundary.x", &xb);
    let (loss, grad) = pinn.loss_and_grad(&p, &batch)?; // grad: ∂loss/∂θ, 921 values
    // --- end ---
    assert_eq!(grad.len(), 921);
    assert!(loss.is_finite() && loss > 0.0);
    // The gradient agrees with a central difference along a random-ish direction.
    let v: Vec<f64> = (0..p.len())
        .map(|i| ((i * 7919) % 13) as f64 / 13.0 - 0.5)
        .collect();
    let h = 1e-6;
    let shifted = |s: f64| -> Result<f64, Box<dyn Error>> {
        let q: Vec<f64> = p.iter().zip(&v).map(|(a, b)| a + s * b).collect();
        Ok(pinn.loss(&q, &batch)?)
    };
    let fd = (shifted(h)? - shifted(-h)?) / (2.0 * h);
    let ad: f64 = grad.iter().zip(&v).map(|(g, d)| g * d).sum();
    assert!(
        (fd - ad).abs() <= 1e-6 * ad.abs().max(1.0),
        "fd {fd} vs ad {ad}"
    );
    Ok(())
}

#[test]
fn readme_solve_snippet() -> Result<(), Box<dyn Error>> {
    std::env::set_current_dir(env!("CARGO_MANIFEST_DIR"))?;
    // --- README ---
    use sci::stdlib::ode::{Method, SolveOptions};
    let compiled = sci::Compiler::new().compile_file("examples/robertson.sci")?;
    let rober = compiled.model("Robertson")?;
    let options = SolveOptions {
        method: Method::Bdf,
        times: Some(vec![40.0, 1e5]),
        rtol: 1e-10,
        atol: 1e-14,
        ..SolveOptions::default()
    };
    let traj = rober.simulate(&rober.params(), &options)?; // over its declared t ∈ [0, 1e5]
    // traj.states[0][0] = 0.7158270687…
    // --- end ---
    assert!((traj.states[0][0] - 0.7158270687193974).abs() < 1e-6);
    Ok(())
}
