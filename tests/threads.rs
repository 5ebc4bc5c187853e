//! Threads over tiles: the PINN's loss and gradient, compiled with 1, 2 and 3 threads for
//! the tiles of its batched maps, give the same bits (per-tile partials are combined in tile
//! order), on Cranelift and on LLVM, for point counts that fill no tile exactly; and agree
//! with the interpreter on the untiled module. Both ways of combining partials are covered:
//! the example's small gradient (stored per tile, combined afterwards) and a wide network's
//! (over 16k weights: added as the tiles finish, `sci_codegen`'s `parallel::ordered`).

mod common;

use common::{PINN_HIDDEN, WIDE_HIDDEN};
use sci::{BackendKind, Batch, Compiler};

/// `n` values of the loss input `name` (`pde.t`, `pde.x`, …): quasi-random, in `[0, 1]`
/// for times and `[-1, 1]` for positions.
fn points(name: &str, n: usize) -> Vec<f64> {
    let salt = name.len() as f64;
    (0..n)
        .map(|k| {
            let u = ((k as f64 + 0.5) * 0.618_033_988_7 + 0.1 * salt).fract();
            if name.ends_with(".x") {
                2.0 * u - 1.0
            } else {
                u
            }
        })
        .collect()
}

/// The loss and gradient of the Burgers PINN (its network's layers `hidden`) with
/// `threads` threads, at its initial θ and `n` points per residual.
fn loss_and_grad(backend: BackendKind, threads: usize, n: usize, hidden: &str) -> (f64, Vec<f64>) {
    let (path, text) = common::burgers_pinn_with(hidden);
    let compiled = Compiler::new()
        .backend(backend)
        .threads(threads)
        .compile_source(path, &text)
        .unwrap();
    let model = compiled.model("BurgersPINN").unwrap();
    let inputs = model.loss_inputs().unwrap();
    let data: Vec<(String, Vec<f64>)> = inputs
        .iter()
        .map(|(name, shape)| {
            assert!(shape.is_empty(), "{name}: {shape:?}");
            (name.clone(), points(name, n))
        })
        .collect();
    let mut batch = Batch::new();
    for (name, xs) in &data {
        batch.set(name, xs);
    }
    model.loss_and_grad(&model.params(), &batch).unwrap()
}

fn same_bits(a: &(f64, Vec<f64>), b: &(f64, Vec<f64>)) -> bool {
    a.0.to_bits() == b.0.to_bits()
        && a.1.len() == b.1.len()
        && a.1
            .iter()
            .zip(&b.1)
            .all(|(x, y)| x.to_bits() == y.to_bits())
}

fn check(backend: BackendKind) {
    for (hidden, n) in [
        (PINN_HIDDEN, 1),
        (PINN_HIDDEN, 63),
        (PINN_HIDDEN, 1000),
        (WIDE_HIDDEN, 1000),
    ] {
        let one = loss_and_grad(backend, 1, n, hidden);
        if hidden == WIDE_HIDDEN {
            assert!(one.1.len() > 16 * 1024, "{} weights", one.1.len());
        }
        assert!(one.0.is_finite() && one.0 > 0.0);
        for threads in [2, 3, 0] {
            let many = loss_and_grad(backend, threads, n, hidden);
            assert!(
                same_bits(&one, &many),
                "{backend:?}, {n} points: 1 thread gives {} but {threads} give {}",
                one.0,
                many.0
            );
        }
        // The oracle: the interpreter on the untiled module.
        let want = loss_and_grad(BackendKind::Interpreter, 1, n, hidden);
        let close = |x: f64, y: f64| (x - y).abs() <= 1e-9 * (1.0 + y.abs());
        assert!(close(one.0, want.0), "{backend:?}: {} vs {}", one.0, want.0);
        for (k, (x, y)) in one.1.iter().zip(&want.1).enumerate() {
            assert!(close(*x, *y), "{backend:?}: ∂/∂θ{k} {x} vs {y}");
        }
    }
}

#[test]
fn cranelift_results_do_not_depend_on_the_thread_count() {
    check(BackendKind::Cranelift);
}

#[cfg(feature = "llvm")]
#[test]
fn llvm_results_do_not_depend_on_the_thread_count() {
    check(BackendKind::Llvm);
}
