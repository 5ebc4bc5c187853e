//! Benchmarks (`cargo bench --bench pipeline`; never run by the test suite).
//!
//! - `compile/EXAMPLE`: one example through the whole pipeline — parse, check, lower, expand
//!   derivatives, build the Jacobian of `rhs` and the gradient of `loss`, Cranelift JIT —
//!   as `sci::Compiler::new().compile_source` does it. `frontend/EXAMPLE` stops before the
//!   back end (no derivative functions, no code), to separate the two.
//! - `call/…`: one native call of `rhs`, `jacobian.rhs`, `loss` and `loss + grad` on the
//!   examples (PINN losses on their declared numbers of collocation points).

use criterion::{Criterion, criterion_group, criterion_main};
use std::hint::black_box;
use std::path::Path;

fn source(name: &str) -> (String, String) {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("examples")
        .join(name);
    let text = std::fs::read_to_string(&path).unwrap();
    (path.display().to_string(), text)
}

fn examples() -> Vec<String> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("examples");
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".sci"))
        .collect();
    names.sort();
    names
}

fn compile(c: &mut Criterion) {
    let mut group = c.benchmark_group("compile");
    for name in examples() {
        let (path, text) = source(&name);
        group.bench_function(name.trim_end_matches(".sci"), |b| {
            b.iter(|| {
                sci::Compiler::new()
                    .compile_source(&path, black_box(&text))
                    .unwrap()
            })
        });
    }
    group.finish();
    let mut group = c.benchmark_group("frontend");
    for name in [
        "burgers_pinn.sci",
        "poisson2d_pinn.sci",
        "lotka_volterra.sci",
    ] {
        let (path, text) = source(name);
        let frontend = sci::Compiler::new()
            .backend(sci::BackendKind::None)
            .derivatives(false);
        group.bench_function(name.trim_end_matches(".sci"), |b| {
            b.iter(|| frontend.compile_source(&path, black_box(&text)).unwrap())
        });
    }
    group.finish();
}

fn ode_calls(c: &mut Criterion) {
    let mut group = c.benchmark_group("call");
    for (file, model) in [
        ("lotka_volterra.sci", "LotkaVolterra"),
        ("brusselator.sci", "Brusselator"),
        ("heat1d.sci", "Heat1D"),
        ("robertson.sci", "Robertson"),
    ] {
        let (path, text) = source(file);
        let compiled = sci::Compiler::new().compile_source(&path, &text).unwrap();
        let m = compiled.model(model).unwrap();
        let p = m.params();
        let y = m.y0(&p).unwrap();
        let n = m.n_states();
        let mut dy = vec![0.0; n];
        group.bench_function(format!("{model}/rhs"), |b| {
            b.iter(|| m.rhs(0.0, black_box(&y), &p, &mut dy).unwrap())
        });
        let mut jac = vec![0.0; n * n];
        group.bench_function(format!("{model}/jacobian"), |b| {
            b.iter(|| m.jacobian(0.0, black_box(&y), &p, &mut jac).unwrap())
        });
    }
    group.finish();
}

/// `n` points of input `k` spread over `[0, 1)`.
fn points(n: usize, k: usize) -> Vec<f64> {
    (0..n)
        .map(|i| ((i as f64 + 0.5) * (0.618_033_988_75 + 0.1 * k as f64)).fract())
        .collect()
}

fn loss_calls(c: &mut Criterion) {
    let mut group = c.benchmark_group("call");
    group.sample_size(20);
    for (file, model, sizes) in [
        (
            "burgers_pinn.sci",
            "BurgersPINN",
            &[2048, 2048, 256, 256, 256, 256][..],
        ),
        (
            "poisson2d_pinn.sci",
            "Poisson2D",
            &[1024, 1024, 256, 256][..],
        ),
    ] {
        let (path, text) = source(file);
        let compiled = sci::Compiler::new().compile_source(&path, &text).unwrap();
        let m = compiled.model(model).unwrap();
        let p = m.params();
        let inputs = m.loss_inputs().unwrap();
        let data: Vec<Vec<f64>> = sizes
            .iter()
            .enumerate()
            .map(|(k, &n)| points(n, k))
            .collect();
        let mut batch = sci::Batch::new();
        for ((name, _), d) in inputs.iter().zip(&data) {
            batch.set(name, d);
        }
        let mut grad = vec![0.0; p.len()];
        group.bench_function(format!("{model}/loss"), |b| {
            b.iter(|| m.loss(black_box(&p), &batch).unwrap())
        });
        group.bench_function(format!("{model}/loss_and_grad"), |b| {
            b.iter(|| {
                m.loss_and_grad_into(black_box(&p), &batch, &mut grad)
                    .unwrap()
            })
        });
    }
    group.finish();
}

criterion_group!(benches, compile, ode_calls, loss_calls);
criterion_main!(benches);
