//! Helpers shared by the AD tests: evaluating transformed functions, finite differences
//! (central, with Richardson extrapolation), random directions, comparisons.

#![allow(dead_code)]

use sci_ir::interp::Tensor;
use sci_ir::random::SplitMix64;
use sci_ir::{FuncId, Function, Module, validate_module};

/// `module` with `f` added (callable by the interpreter); `f` must validate there.
pub fn with_fn(module: &Module, f: &Function) -> (Module, FuncId) {
    let mut m = module.clone();
    let mut f = f.clone();
    // Function names must be unique in a module.
    while m.function(&f.name).is_some() {
        f.name.push('\'');
    }
    let id = m.functions.push(f);
    if let Err(e) = validate_module(&m) {
        let text = sci_ir::print_module(&m);
        panic!("transformed function does not validate: {e:?}\n{text}");
    }
    (m, id)
}

/// Evaluates a function that need not be in the module.
pub fn eval_fn(module: &Module, f: &Function, args: &[Tensor]) -> Tensor {
    let (m, id) = with_fn(module, f);
    sci_ir::eval(&m, id, args).unwrap_or_else(|e| panic!("eval of `{}` failed: {e}", f.name))
}

/// Evaluates `func` of `module`.
pub fn eval(module: &Module, func: FuncId, args: &[Tensor]) -> Tensor {
    sci_ir::eval(module, func, args).unwrap_or_else(|e| panic!("eval failed: {e}"))
}

/// `a + h·v` elementwise (same shape and batch).
pub fn axpy(a: &Tensor, h: f64, v: &Tensor) -> Tensor {
    Tensor {
        shape: a.shape.clone(),
        batch: a.batch,
        data: a.data.iter().zip(&v.data).map(|(x, d)| x + h * d).collect(),
    }
}

/// Central difference of `g(s) = f(inputs + s·dirs)` at 0 with step `h`, extrapolated
/// (Richardson, error O(h⁴)). `dirs[k]` is `None` for inputs held fixed.
pub fn fd_directional(
    f: &dyn Fn(&[Tensor]) -> Tensor,
    inputs: &[Tensor],
    dirs: &[Option<Tensor>],
    h: f64,
) -> Vec<f64> {
    let at = |s: f64| -> Vec<f64> {
        let moved: Vec<Tensor> = inputs
            .iter()
            .zip(dirs)
            .map(|(x, d)| match d {
                Some(d) => axpy(x, s, d),
                None => x.clone(),
            })
            .collect();
        f(&moved).data
    };
    let d = |h: f64| -> Vec<f64> {
        let (p, m) = (at(h), at(-h));
        p.iter().zip(&m).map(|(a, b)| (a - b) / (2.0 * h)).collect()
    };
    let (d1, d2) = (d(h), d(h / 2.0));
    d1.iter()
        .zip(&d2)
        .map(|(a, b)| (4.0 * b - a) / 3.0)
        .collect()
}

/// A random tensor shaped like `like`, entries in [-1, 1].
pub fn random_like(like: &Tensor, rng: &mut SplitMix64) -> Tensor {
    Tensor {
        shape: like.shape.clone(),
        batch: like.batch,
        data: like.data.iter().map(|_| rng.uniform(-1.0, 1.0)).collect(),
    }
}

/// Largest relative difference `|a − b| / (scale + |b|)` over elements.
pub fn rel_err(a: &[f64], b: &[f64], scale: f64) -> f64 {
    assert_eq!(a.len(), b.len(), "lengths differ");
    a.iter()
        .zip(b)
        .map(|(x, y)| {
            if x.is_nan() && y.is_nan() {
                0.0
            } else {
                (x - y).abs() / (scale + y.abs())
            }
        })
        .fold(0.0, f64::max)
}

/// Asserts `got ≈ want` elementwise with relative tolerance `tol` (floor 1 on the scale).
#[track_caller]
pub fn assert_close(got: &[f64], want: &[f64], tol: f64, what: &str) {
    let e = rel_err(got, want, 1.0);
    assert!(
        e <= tol,
        "{what}: relative error {e:e} > {tol:e}\n got: {got:?}\nwant: {want:?}"
    );
}

/// Sum of elementwise products.
pub fn inner(a: &[f64], b: &[f64]) -> f64 {
    a.iter().zip(b).map(|(x, y)| x * y).sum()
}

/// Reads a module from `.sir` text (panics with the diagnostics on error).
pub fn read(text: &str) -> Module {
    sci_ir::read_module(sci_diag::FileId(0), text)
        .unwrap_or_else(|e| panic!("bad test IR: {e:?}\n{text}"))
}
