//! Derivatives through prelude functions (`stdlib/prelude/*.sci`): `d(f(x), x)` and
//! `d(f(x), x, x)` of every scalar prelude function (and the built-in `gelu`), `grad`/`jacobian` of the vector ones,
//! and a derivative of a prelude activation applied to a network inside a PINN residual,
//! all after `sci::analyze` has expanded the derivatives, checked against central finite
//! differences (Richardson-extrapolated) through the reference interpreter.

use sci::Tensor;
use sci::diag::FileId;
use sci::ir::Module;
use sci::ir::interp::Interpreter;

/// The expanded modules of a source that must compile without errors.
fn modules(src: &str) -> Vec<Module> {
    let a = sci::analyze(FileId(0), src);
    let errs: Vec<String> = a
        .diagnostics
        .iter()
        .filter(|d| d.is_error())
        .map(|d| d.to_string())
        .collect();
    assert!(errs.is_empty(), "{errs:#?}");
    a.modules
}

fn module<'a>(ms: &'a [Module], name: &str) -> &'a Module {
    ms.iter().find(|m| m.name == name).unwrap()
}

fn call(m: &Module, f: &str, args: &[Tensor]) -> Vec<f64> {
    Interpreter::new(m)
        .unwrap()
        .call_named(f, args)
        .unwrap_or_else(|e| panic!("{f}: {e}"))
        .data
}

/// d/ds f(x + s·dir) at s = 0 by central differences with Richardson extrapolation.
fn fd(f: &dyn Fn(&[f64]) -> Vec<f64>, x: &[f64], dir: &[f64], h: f64) -> Vec<f64> {
    let at = |s: f64| {
        let moved: Vec<f64> = x.iter().zip(dir).map(|(a, d)| a + s * d).collect();
        f(&moved)
    };
    let d = |h: f64| -> Vec<f64> {
        at(h)
            .iter()
            .zip(at(-h))
            .map(|(a, b)| (a - b) / (2.0 * h))
            .collect()
    };
    d(h).iter()
        .zip(d(h / 2.0))
        .map(|(a, b)| (4.0 * b - a) / 3.0)
        .collect()
}

#[track_caller]
fn close(got: &[f64], want: &[f64], tol: f64, what: &str) {
    assert_eq!(got.len(), want.len(), "{what}: lengths");
    for (k, (a, b)) in got.iter().zip(want).enumerate() {
        assert!(
            (a - b).abs() <= tol * (1.0 + b.abs()),
            "{what}: element {k}: {a} vs {b} (tolerance {tol:e})"
        );
    }
}

/// `(call, points)`: scalar prelude calls of `x` and where to differentiate them (away
/// from the kinks of `clamp`, `huber`, `elu`, `leaky_relu`, `smoothstep`).
const SCALAR: &[(&str, &[f64])] = &[
    ("clamp(x, -1, 2)", &[-0.5, 0.3, 1.9]),
    ("lerp(1, 3, x)", &[-0.4, 0.6]),
    ("lerp(x, 2 * x, 0.3)", &[1.7]),
    ("smoothstep(1, 3, x)", &[1.2, 2.0, 2.9]),
    ("sinc(x)", &[-4.0, -0.3, 0.005, 0.02, 1.0, 7.5]),
    ("logit(x)", &[0.05, 0.5, 0.93]),
    ("hypot(x, 2)", &[-3.0, 0.5, 4.0]),
    ("huber(x, 1)", &[-2.5, -0.4, 0.6, 3.0]),
    ("silu(x)", &[-5.0, -0.5, 0.8, 6.0]),
    ("swish(x, 1.7)", &[-2.0, 0.3, 4.0]),
    ("elu(x, 0.8)", &[-3.0, -0.2, 0.4, 5.0]),
    ("selu(x)", &[-1.5, 0.7]),
    ("leaky_relu(x, 0.05)", &[-2.0, 1.5]),
    ("mish(x)", &[-4.0, -0.6, 0.0, 1.3, 9.0]),
    // A built-in (one IR op with its own derivative op), beside the prelude's.
    ("gelu(x)", &[-3.0, -0.4, 0.0, 0.7, 4.0]),
    ("softsign(x)", &[-3.0, -0.1, 0.2, 8.0]),
    ("glorot_scale(x, 20)", &[2.0, 50.0]),
    ("he_scale(x)", &[3.0, 400.0]),
];

fn scalar_source() -> String {
    let mut src = String::from(
        "use nn.{silu, swish, elu, selu, leaky_relu, mish, softsign, glorot_scale, he_scale}\n",
    );
    for (k, (expr, _)) in SCALAR.iter().enumerate() {
        src.push_str(&format!(
            "fn v{k}(x) = {expr}\nfn d{k}(x) = d({expr}, x)\nfn dd{k}(x) = d({expr}, x, x)\n"
        ));
    }
    src
}

#[test]
fn first_and_second_derivatives_of_every_scalar_prelude_function() {
    let ms = modules(&scalar_source());
    let m = module(&ms, "functions");
    for (k, (expr, points)) in SCALAR.iter().enumerate() {
        let f = |name: String| move |x: &[f64]| call(m, &name, &[Tensor::scalar(x[0])]);
        for &x in *points {
            let d1 = call(m, &format!("d{k}"), &[Tensor::scalar(x)]);
            let d2 = call(m, &format!("dd{k}"), &[Tensor::scalar(x)]);
            let fd1 = fd(&f(format!("v{k}")), &[x], &[1.0], 2e-4);
            let fd2 = fd(&f(format!("d{k}")), &[x], &[1.0], 2e-4);
            close(&d1, &fd1, 1e-8, &format!("d({expr})/dx at {x}"));
            close(&d2, &fd2, 1e-8, &format!("d²({expr})/dx² at {x}"));
        }
    }
}

/// The built-in `gelu` is `x·Φ(x)`: its values at a few points.
#[test]
fn gelu_is_x_times_the_normal_cdf() {
    let ms = modules("fn g(x) = gelu(x)");
    let m = module(&ms, "functions");
    // x·Φ(x) with Φ(1) = 0.8413447460685429, Φ(−1) = 1 − Φ(1), Φ(2) = 0.9772498680518208.
    for (x, want) in [
        (0.0, 0.0),
        (1.0, 0.841_344_746_068_542_9),
        (-1.0, -0.158_655_253_931_457_05),
        (2.0, 1.954_499_736_103_641_6),
    ] {
        close(&call(m, "g", &[Tensor::scalar(x)]), &[want], 1e-15, "gelu");
    }
}

#[test]
fn sinc_has_its_exact_derivatives_at_zero() {
    let ms = modules("fn d1(x) = d(sinc(x), x)\nfn d2(x) = d(sinc(x), x, x)");
    let m = module(&ms, "functions");
    assert_eq!(call(m, "d1", &[Tensor::scalar(0.0)]), [0.0]);
    close(
        &call(m, "d2", &[Tensor::scalar(0.0)]),
        &[-1.0 / 3.0],
        1e-15,
        "sinc''(0)",
    );
}

#[test]
fn gradients_of_the_vector_prelude_functions() {
    let src = "use nn.{softmax, dense}
        fn lse(x: real[3]) = logsumexp(x)
        fn g_lse(x: real[3]) = grad(logsumexp(x), x)
        fn sm(x: real[3]) = softmax(x)
        fn j_sm(x: real[3]) = jacobian(softmax(x), x)
        fn j_dense(W: real[2, 3], x: real[3]) = jacobian(dense(W, [1, -1], x), x)
        fn j_dense_w(W: real[2, 3], x: real[3]) = jacobian(dense(W, [1, -1], x), W)
        fn dn(W: real[2, 3], x: real[3]) = dense(W, [1, -1], x)";
    let ms = modules(src);
    let m = module(&ms, "functions");
    let x = [0.3, -1.2, 2.0];
    let v = |x: &[f64]| Tensor::vector(x.to_vec());
    // grad logsumexp = softmax, exactly the same formula.
    let g = call(m, "g_lse", &[v(&x)]);
    close(&g, &call(m, "sm", &[v(&x)]), 1e-15, "grad logsumexp");
    // Jacobian of softmax: column k is the directional derivative along e_k.
    let j = call(m, "j_sm", &[v(&x)]);
    for k in 0..3 {
        let mut e = [0.0; 3];
        e[k] = 1.0;
        let col = fd(&|y| call(m, "sm", &[v(y)]), &x, &e, 1e-3);
        let got: Vec<f64> = (0..3).map(|i| j[3 * i + k]).collect();
        close(&got, &col, 1e-9, &format!("jacobian softmax column {k}"));
    }
    // dense(W, b, x) = W·x + b: the Jacobian in x is W; in W, directional derivatives.
    let w = [1.0, -2.0, 0.5, 4.0, -3.0, 0.25];
    let wt = || Tensor::new(vec![2, 3], w.to_vec()).unwrap();
    assert_eq!(call(m, "j_dense", &[wt(), v(&x)]), w);
    let jw = call(m, "j_dense_w", &[wt(), v(&x)]);
    for k in 0..6 {
        let mut e = [0.0; 6];
        e[k] = 1.0;
        let col = fd(
            &|ww| {
                call(
                    m,
                    "dn",
                    &[Tensor::new(vec![2, 3], ww.to_vec()).unwrap(), v(&x)],
                )
            },
            &w,
            &e,
            1e-3,
        );
        let got: Vec<f64> = (0..2).map(|i| jw[6 * i + k]).collect();
        close(&got, &col, 1e-9, &format!("d dense / d W[{k}]"));
    }
}

#[test]
fn derivative_of_a_prelude_activation_of_a_network_in_a_residual() {
    let src = "use nn.{mlp, mish, silu}
        model P {
            domain box: x in [0, 1]
            net u(x) = mlp(hidden: [6, 6], activation: tanh, seed: 3, init: he)
            residual value on box, points 8: mish(u) + silu(x * u)
            residual slope on box, points 8: d(mish(u) + silu(x * u), x)
            residual curve on box, points 8: d(mish(u), x, x)
            residual slope_mish on box, points 8: d(mish(u), x)
            loss = mean(value^2) + mean(slope^2) + mean(curve^2) + mean(slope_mish^2)
        }";
    let ms = modules(src);
    let m = module(&ms, "P");
    let theta = Tensor::vector(m.params.defaults());
    let xs = [0.05, 0.3, 0.55, 0.9];
    let r = |name: &str, x: &[f64]| {
        let pts = Tensor::batch(vec![], x.len(), x.to_vec()).unwrap();
        call(m, &format!("residual.{name}"), &[theta.clone(), pts])
    };
    let ones = [1.0; 4];
    let slope = r("slope", &xs);
    close(
        &slope,
        &fd(&|x| r("value", x), &xs, &ones, 1e-3),
        1e-8,
        "slope",
    );
    let curve = r("curve", &xs);
    let fd2 = fd(&|x| r("slope_mish", x), &xs, &ones, 1e-3);
    close(&curve, &fd2, 1e-8, "curve");
}
