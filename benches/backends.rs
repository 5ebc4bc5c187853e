//! LLVM against Cranelift, side by side in one run (`cargo bench --features llvm --bench
//! backends`; never run by the test suite): compile time of each example (the whole
//! `Compiler::compile_source`, derivative functions included) and the median time of one
//! call of the kernels that dominate solves and training — `rhs` and the sparse Jacobian of
//! the 2-D Brusselator, `rhs` and the sparse Jacobian of the composite plate computed whole
//! and with their θ-only values kept, the loss and gradient of the Burgers PINN on its declared
//! 2,560 points. Prints a Markdown table (`docs/llvm.md` keeps the last one).

use std::hint::black_box;
use std::path::Path;
use std::time::{Duration, Instant};

use sci::BackendKind;

fn source(name: &str) -> String {
    std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("examples")
            .join(name),
    )
    .expect("the example exists")
}

/// The median of `f`'s run time over enough repetitions to fill about half a second.
fn median(mut f: impl FnMut()) -> Duration {
    f();
    let start = Instant::now();
    f();
    let once = start.elapsed().max(Duration::from_nanos(50));
    let reps = (Duration::from_millis(500).as_nanos() / once.as_nanos()).clamp(5, 100_000);
    let batch = (reps / 25).max(1);
    let mut samples: Vec<Duration> = (0..25)
        .map(|_| {
            let t = Instant::now();
            for _ in 0..batch {
                f();
            }
            t.elapsed() / batch as u32
        })
        .collect();
    samples.sort();
    samples[samples.len() / 2]
}

fn compile(name: &str, backend: BackendKind) -> (sci::Compiled, Duration) {
    let text = source(name);
    let start = Instant::now();
    let compiled = sci::Compiler::new()
        .backend(backend)
        .compile_source(name, &text)
        .expect("the example compiles");
    (compiled, start.elapsed())
}

fn fmt(d: Duration) -> String {
    let s = d.as_secs_f64();
    if s >= 1.0 {
        format!("{s:.2} s")
    } else if s >= 1e-3 {
        format!("{:.2} ms", s * 1e3)
    } else {
        format!("{:.2} µs", s * 1e6)
    }
}

/// Rows of (what, per-backend duration).
fn measure(backend: BackendKind) -> Vec<(String, Duration)> {
    let mut rows = Vec::new();
    for name in [
        "lotka_volterra.sci",
        "brusselator2d.sci",
        "burgers_pinn.sci",
    ] {
        let (_, took) = compile(name, backend);
        rows.push((format!("compile {name}"), took));
    }
    let (c, _) = compile("brusselator2d.sci", backend);
    let m = c.model("Brusselator2D").unwrap();
    let p = m.params();
    let y = m.y0(&p).unwrap();
    let mut dy = vec![0.0; y.len()];
    rows.push((
        "brusselator2d rhs (2048 states)".into(),
        median(|| m.rhs(0.0, black_box(&y), &p, &mut dy).unwrap()),
    ));
    let nnz = m.jacobian_sparsity().unwrap().col_idx.len();
    let mut values = vec![0.0; nnz];
    rows.push((
        format!("brusselator2d sparse Jacobian ({nnz} non-zeros)"),
        median(|| m.jacobian_csr(0.0, black_box(&y), &p, &mut values).unwrap()),
    ));
    let (c, _) = compile("composite_heat.sci", backend);
    let m = c.model("CompositeHeat").unwrap();
    let p = m.params();
    let y: Vec<f64> = (0..m.n_states())
        .map(|k| 0.3 * (k as f64 * 0.37).sin())
        .collect();
    let mut dy = vec![0.0; y.len()];
    rows.push((
        format!("composite_heat rhs ({} states), all of it", y.len()),
        median(|| m.rhs(0.0, black_box(&y), &p, &mut dy).unwrap()),
    ));
    let mut cache = sci::InvariantCache::new();
    rows.push((
        "composite_heat rhs, θ-only values kept (as in a solve)".into(),
        median(|| {
            m.rhs_cached(&mut cache, 0.0, black_box(&y), &p, &mut dy)
                .unwrap()
        }),
    ));
    let nnz = m.jacobian_sparsity().unwrap().col_idx.len();
    let mut values = vec![0.0; nnz];
    rows.push((
        format!("composite_heat sparse Jacobian ({nnz} non-zeros), all of it"),
        median(|| m.jacobian_csr(0.0, black_box(&y), &p, &mut values).unwrap()),
    ));
    let mut cache = sci::InvariantCache::new();
    rows.push((
        "composite_heat sparse Jacobian, θ-only parts kept (as in a solve)".into(),
        median(|| {
            m.jacobian_csr_cached(&mut cache, 0.0, black_box(&y), &p, &mut values)
                .unwrap()
        }),
    ));
    let (c, _) = compile("burgers_pinn.sci", backend);
    let m = c.model("BurgersPINN").unwrap();
    let p = m.params();
    let grid = |n: usize, lo: f64, hi: f64| -> Vec<f64> {
        (0..n)
            .map(|k| lo + (hi - lo) * ((k * 7919) % n) as f64 / n as f64)
            .collect()
    };
    let (t, x) = (grid(2048, 0.0, 1.0), grid(2048, -1.0, 1.0));
    let (t0, x0) = (vec![0.0; 256], grid(256, -1.0, 1.0));
    let tb = grid(256, 0.0, 1.0);
    let xb: Vec<f64> = (0..256)
        .map(|k| if k % 2 == 0 { -1.0 } else { 1.0 })
        .collect();
    let batch = sci::Batch::new()
        .with("pde.t", &t)
        .with("pde.x", &x)
        .with("initial.t", &t0)
        .with("initial.x", &x0)
        .with("boundary.t", &tb)
        .with("boundary.x", &xb);
    let mut grad = vec![0.0; p.len()];
    rows.push((
        "burgers_pinn loss + gradient (2560 points)".into(),
        median(|| {
            m.loss_and_grad_into(black_box(&p), &batch, &mut grad)
                .unwrap();
        }),
    ));
    rows
}

fn main() {
    let cranelift = measure(BackendKind::Cranelift);
    let llvm = BackendKind::Llvm
        .is_available()
        .then(|| measure(BackendKind::Llvm));
    println!("| | Cranelift | LLVM | LLVM / Cranelift |");
    println!("|---|---|---|---|");
    for (k, (what, cl)) in cranelift.iter().enumerate() {
        match &llvm {
            Some(rows) => {
                let ll = rows[k].1;
                println!(
                    "| {what} | {} | {} | {:.2} |",
                    fmt(*cl),
                    fmt(ll),
                    ll.as_secs_f64() / cl.as_secs_f64()
                );
            }
            None => println!("| {what} | {} | (build with --features llvm) | |", fmt(*cl)),
        }
    }
}
