//! The Rust side of the Python package's overhead benchmark (`bench/python_api.sh`): the
//! calls the package makes, timed through the Rust API, so `bench/python_api.py` can put
//! the same calls from Python beside them in one run. Never run by the test suite.
//!
//! `cargo bench --bench api -- --out RESULTS.json` times Robertson's BDF solve (the
//! benchmark's settings: t = 10⁵, rtol 1e-6, atol 1e-9, dense LU), one Robertson `rhs`
//! call, and the Burgers PINN's loss and gradient on the points `sci train` draws (seed 0).

use sci::runtime::{TrainSetup, Trainer};
use sci::stdlib::ode::{JacobianKind, Method, SolveOptions};
use serde_json::json;
use std::hint::black_box;
use std::path::Path;

#[path = "timing/mod.rs"]
mod timing;
use timing::time_calls;

type Res<T> = Result<T, Box<dyn std::error::Error>>;

/// The output times of the timed Robertson solve (those of `benches/peers.rs`).
const ROBERTSON_TIMES: [f64; 7] = [0.4, 4.0, 40.0, 400.0, 4e3, 4e4, 1e5];

fn main() -> Res<()> {
    let args: Vec<String> = std::env::args().collect();
    let Some(out) = args
        .iter()
        .position(|a| a == "--out")
        .and_then(|k| args.get(k + 1))
    else {
        eprintln!("usage: cargo bench --bench api -- --out RESULTS.json");
        return Ok(());
    };
    let examples = Path::new(env!("CARGO_MANIFEST_DIR")).join("examples");

    let robertson = sci::Compiler::new().compile_file(examples.join("robertson.sci"))?;
    let m = robertson.model("Robertson")?;
    let p = m.params();
    let options = SolveOptions {
        method: Method::Bdf,
        span: Some((0.0, 1e5)),
        times: Some(ROBERTSON_TIMES.to_vec()),
        rtol: 1e-6,
        atol: 1e-9,
        jacobian: JacobianKind::Dense,
        ..SolveOptions::default()
    };
    let solve = time_calls(11, 8.0, || {
        black_box(m.simulate(&p, &options).unwrap());
    });
    let y = m.y0(&p)?;
    let mut dy = vec![0.0; y.len()];
    let rhs = time_calls(11, 2.0, || {
        m.rhs(0.0, black_box(&y), &p, &mut dy).unwrap();
        black_box(&dy);
    });

    let burgers = sci::Compiler::new().compile_file(examples.join("burgers_pinn.sci"))?;
    let pinn = burgers.model("BurgersPINN")?;
    let trainer = Trainer::for_model(pinn, TrainSetup::default())?;
    let inputs = trainer.inputs();
    let mut batch = sci::Batch::new();
    for (name, data) in &inputs {
        batch.set(name, data);
    }
    let theta = pinn.params();
    let mut grad = vec![0.0; theta.len()];
    let step = time_calls(11, 4.0, || {
        black_box(pinn.loss_and_grad_into(&theta, &batch, &mut grad).unwrap());
    });

    let results = json!({
        "robertson.solve": solve.json(),
        "robertson.rhs": rhs.json(),
        "pinn.loss_grad": step.json(),
        "pinn.points": inputs.iter().map(|(n, d)| (n.clone(), d.len())).collect::<std::collections::BTreeMap<_, _>>(),
    });
    std::fs::write(out, serde_json::to_string_pretty(&results)?)?;
    eprintln!("api: wrote {out}");
    Ok(())
}
