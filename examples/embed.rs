//! A Rust host embedding sci: compile a model file to native code and use it.
//!
//! ```text
//! cargo run --example embed -- examples/lotka_volterra.sci
//! cargo run --example embed -- examples/burgers_pinn.sci
//! ```
//!
//! For an ODE model it integrates `y' = rhs(t, y, θ)` with classical Runge–Kutta from
//! `y0(θ)` and prints the Jacobian `∂rhs/∂y` at the start. For a model with a loss it samples
//! points in `[0, 1]` for every batched input of the loss and takes a few gradient-descent
//! steps on θ, printing the loss. `tests/embed.rs` runs this program on the examples.

use std::error::Error;
use std::fmt::Write as _;
use std::path::Path;

/// What a run found, for tests.
#[derive(Debug, Default)]
pub struct Summary {
    /// Per ODE model: the state after integrating to `t = 1`.
    pub finals: Vec<(String, Vec<f64>)>,
    /// Per loss model: the loss before and after the descent steps.
    pub losses: Vec<(String, f64, f64)>,
}

/// Compiles `path` and exercises every model in it, writing a report to `out`.
pub fn run(path: &Path, out: &mut String) -> Result<Summary, Box<dyn Error>> {
    let start = std::time::Instant::now();
    let compiled = sci::Compiler::new().compile_file(path)?;
    writeln!(
        out,
        "compiled {} in {:.1} ms ({:?} back end)",
        path.display(),
        start.elapsed().as_secs_f64() * 1e3,
        compiled.backend()
    )?;
    let mut summary = Summary::default();
    let names: Vec<String> = compiled
        .modules
        .iter()
        .map(|m| m.name.clone())
        .filter(|n| n != "functions")
        .collect();
    for name in names {
        let model = compiled.model(&name)?;
        let p = model.params();
        writeln!(
            out,
            "model {name}: {} states, {} parameters",
            model.n_states(),
            model.n_params()
        )?;
        if model.n_states() > 0 {
            let y = integrate(&model, &p, 1.0, 1000)?;
            writeln!(out, "  y(1) = {}", show(&y))?;
            let y0 = model.y0(&p)?;
            let n = model.n_states();
            let mut jac = vec![0.0; n * n];
            model.jacobian(0.0, &y0, &p, &mut jac)?;
            if n <= 4 {
                writeln!(out, "  ∂f/∂y at t = 0: {}", show(&jac))?;
            }
            summary.finals.push((name.clone(), y));
        }
        if let Ok(inputs) = model.loss_inputs() {
            let (before, after) = descend(&model, &p, &inputs, out)?;
            summary.losses.push((name.clone(), before, after));
        }
    }
    Ok(summary)
}

/// Classical Runge–Kutta from `y0(θ)` over `[0, t_end]` in `steps` steps.
fn integrate(
    model: &sci::Model<'_>,
    p: &[f64],
    t_end: f64,
    steps: usize,
) -> Result<Vec<f64>, sci::JitError> {
    let n = model.n_states();
    let h = t_end / steps as f64;
    let mut y = model.y0(p)?;
    let (mut k1, mut k2, mut k3, mut k4) = (vec![0.0; n], vec![0.0; n], vec![0.0; n], vec![0.0; n]);
    let mut tmp = vec![0.0; n];
    for step in 0..steps {
        let t = step as f64 * h;
        model.rhs(t, &y, p, &mut k1)?;
        axpy(&mut tmp, &y, 0.5 * h, &k1);
        model.rhs(t + 0.5 * h, &tmp, p, &mut k2)?;
        axpy(&mut tmp, &y, 0.5 * h, &k2);
        model.rhs(t + 0.5 * h, &tmp, p, &mut k3)?;
        axpy(&mut tmp, &y, h, &k3);
        model.rhs(t + h, &tmp, p, &mut k4)?;
        for i in 0..n {
            y[i] += h / 6.0 * (k1[i] + 2.0 * k2[i] + 2.0 * k3[i] + k4[i]);
        }
    }
    Ok(y)
}

/// `out = y + a·x`.
fn axpy(out: &mut [f64], y: &[f64], a: f64, x: &[f64]) {
    for ((o, y), x) in out.iter_mut().zip(y).zip(x) {
        *o = y + a * x;
    }
}

/// A few steps of gradient descent on points spread over `[0, 1]`.
fn descend(
    model: &sci::Model<'_>,
    p: &[f64],
    inputs: &[(String, Vec<usize>)],
    out: &mut String,
) -> Result<(f64, f64), Box<dyn Error>> {
    // 64 points per input; each coordinate a different low-discrepancy sequence.
    let data: Vec<Vec<f64>> = inputs
        .iter()
        .enumerate()
        .map(|(k, (_, shape))| {
            let per: usize = shape.iter().product();
            (0..64 * per)
                .map(|i| ((i as f64 + 0.5) * (0.618_033_988_75 + 0.1 * k as f64)).fract())
                .collect()
        })
        .collect();
    let mut batch = sci::Batch::new();
    for ((name, _), d) in inputs.iter().zip(&data) {
        batch.set(name, d);
    }
    let mut theta = p.to_vec();
    let mut grad = vec![0.0; theta.len()];
    let first = model.loss_and_grad_into(&theta, &batch, &mut grad)?;
    let mut loss = first;
    let rate = 1e-3;
    for _ in 0..20 {
        for (t, g) in theta.iter_mut().zip(&grad) {
            *t -= rate * g;
        }
        loss = model.loss_and_grad_into(&theta, &batch, &mut grad)?;
    }
    writeln!(
        out,
        "  loss {first:.6e} → {loss:.6e} after 20 gradient steps"
    )?;
    Ok((first, loss))
}

fn show(x: &[f64]) -> String {
    let parts: Vec<String> = x.iter().take(6).map(|v| format!("{v:.6}")).collect();
    let more = if x.len() > 6 { ", …" } else { "" };
    format!("[{}{more}]", parts.join(", "))
}

#[cfg_attr(test, allow(dead_code))]
fn main() -> Result<(), Box<dyn Error>> {
    let path = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "examples/lotka_volterra.sci".into());
    let mut out = String::new();
    run(Path::new(&path), &mut out)?;
    print!("{out}");
    Ok(())
}
