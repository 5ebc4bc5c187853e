//! Every derivative of every example against finite differences through the interpreter:
//! ODE Jacobians in y and θ (dense, and sparse with their colourings), loss gradients,
//! PINN residuals (second and third order), Rosenbrock's gradient and Hessian in closed
//! form; Taylor mode against nested forward mode with its op counts; `sci compile --emit
//! grad|jac|hessian`.

mod common;

use sci::Tensor;
use sci::ir::{self, FuncId, Function, Module};
use sci_passes::ad::{self, ExpandOptions, SecondOrder};
use sci_passes::sparsity;
use std::process::Command;

fn compile(name: &str) -> Vec<Module> {
    let path = format!("{}/examples/{name}.sci", env!("CARGO_MANIFEST_DIR"));
    sci::Compiler::new()
        .compile_file(&path)
        .unwrap_or_else(|e| panic!("{name}: {e}"))
        .modules
}

fn compile_source(text: &str) -> Vec<Module> {
    sci::Compiler::new()
        .compile_source("test.sci", text)
        .unwrap_or_else(|e| panic!("{e}"))
        .modules
}

/// The lowered modules of a source, derivatives not yet expanded.
fn lowered(text: &str) -> Vec<Module> {
    let parsed = sci::lang::parser::parse(sci::diag::FileId(0), text);
    let checked = sci::lang::check::check(&parsed.file);
    sci::lang::lower::lower_program(&checked.program).unwrap()
}

fn example_text(name: &str) -> String {
    std::fs::read_to_string(format!(
        "{}/examples/{name}.sci",
        env!("CARGO_MANIFEST_DIR")
    ))
    .unwrap()
}

fn eval_fn(m: &Module, f: &Function, args: &[Tensor]) -> Tensor {
    let mut mm = m.clone();
    let id = mm.functions.push(f.clone());
    ir::validate::validate_module(&mm).unwrap_or_else(|e| panic!("{e:?}"));
    ir::eval(&mm, id, args).unwrap_or_else(|e| panic!("{e}"))
}

/// A split function at `(t, y, θ)` as a host calls it: its update fed its invariant part.
fn eval_split(m: &Module, split: &sparsity::InvariantSplit, x: &[Tensor]) -> Tensor {
    let mut with = x.to_vec();
    with.push(eval_fn(m, &split.invariant, &x[2..]));
    eval_fn(m, &split.update, &with)
}

fn eval(m: &Module, id: FuncId, args: &[Tensor]) -> Tensor {
    ir::eval(m, id, args).unwrap_or_else(|e| panic!("{e}"))
}

/// Central differences along `dirs`, Richardson-extrapolated (error O(h⁴)).
fn fd(
    f: &dyn Fn(&[Tensor]) -> Vec<f64>,
    x: &[Tensor],
    dirs: &[Option<Vec<f64>>],
    h: f64,
) -> Vec<f64> {
    let at = |s: f64| {
        let moved: Vec<Tensor> = x
            .iter()
            .zip(dirs)
            .map(|(t, d)| match d {
                Some(d) => Tensor {
                    data: t.data.iter().zip(d).map(|(a, b)| a + s * b).collect(),
                    ..t.clone()
                },
                None => t.clone(),
            })
            .collect();
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

/// A deterministic pseudo-random number in [-1, 1).
fn rnd(k: usize) -> f64 {
    let mut z = (k as u64).wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    ((z ^ (z >> 31)) >> 11) as f64 / (1u64 << 52) as f64 - 1.0
}

fn has_deriv(m: &Module) -> bool {
    m.functions.iter().any(|(_, f)| {
        f.values
            .iter()
            .any(|(_, v)| matches!(v.op, ir::Op::Deriv { .. }))
    })
}

#[test]
fn every_example_has_its_derivatives_expanded_and_validates() {
    for path in common::example_paths() {
        let c = sci::Compiler::new().compile_file(&path).unwrap();
        for m in &c.modules {
            assert!(!has_deriv(m), "{}: a deriv is left", path.display());
            ir::validate::validate_module(m)
                .unwrap_or_else(|e| panic!("{}: {e:?}", path.display()));
        }
    }
}

const ODES: [&str; 9] = [
    "lotka_volterra",
    "pendulum",
    "robertson",
    "van_der_pol",
    "heat1d",
    "brusselator",
    "lv_ude",
    "brusselator2d",
    "composite_heat",
];

/// A random state near the initial value, default parameters perturbed.
fn ode_point(m: &Module) -> Vec<Tensor> {
    let theta: Vec<f64> = m
        .params
        .defaults()
        .iter()
        .enumerate()
        .map(|(k, x)| x * (1.0 + 0.1 * rnd(k)))
        .collect();
    let y0 = sci::eval(m, "y0", &[Tensor::vector(theta.clone())]).unwrap();
    let y: Vec<f64> = y0
        .data
        .iter()
        .enumerate()
        .map(|(k, x)| x + 0.1 * rnd(1000 + k))
        .collect();
    vec![
        Tensor::scalar(0.3),
        Tensor::vector(y),
        Tensor::vector(theta),
    ]
}

/// Up to `k` columns out of `n`: the first, the last, and evenly spread ones between.
fn sample_columns(n: usize, k: usize) -> Vec<usize> {
    if n <= k {
        return (0..n).collect();
    }
    (0..k).map(|j| j * (n - 1) / (k - 1)).collect()
}

/// Dense Jacobians of every ODE right-hand side in y and θ against finite differences
/// (every column for small systems, up to 12 spread columns for the large ones, 6 for the
/// 2-D Brusselator).
#[test]
fn ode_jacobians_in_states_and_parameters_match_finite_differences() {
    for name in ODES {
        let m = &compile(name)[0];
        let rhs = m.function("rhs").unwrap();
        let x = ode_point(m);
        let n_rows = x[1].data.len();
        for wrt in [1, 2] {
            let n = x[wrt].data.len();
            let cols = sample_columns(n, if n * n_rows > 100_000 { 6 } else { 12 });
            // Column by column with one jvp each (the dense Jacobian function is checked
            // against these below for the small systems).
            let jvp = ad::jvp(m, rhs, &[wrt]).unwrap();
            for &c in &cols {
                let mut e = vec![0.0; n];
                e[c] = 1.0;
                let mut args = x.clone();
                args.push(Tensor::vector(e.clone()));
                let got = eval_fn(m, &jvp, &args);
                let mut dirs = vec![None, None, None];
                dirs[wrt] = Some(e);
                let want = fd(
                    &|a| eval(m, rhs, a).data,
                    &x,
                    &dirs,
                    1e-4 * (1.0 + x[wrt].data[c].abs()),
                );
                close(
                    &got.data,
                    &want,
                    1e-6,
                    &format!("{name}: ∂rhs/∂{}[{c}]", ["t", "y", "θ"][wrt]),
                );
            }
            if n * n_rows <= 100_000 {
                let jac = ad::jacobian(m, rhs, wrt).unwrap();
                let dense = eval_fn(m, &jac, &x);
                assert_eq!(dense.shape, vec![n_rows, n]);
                for &c in cols.iter().take(8) {
                    let mut e = vec![0.0; n];
                    e[c] = 1.0;
                    let mut args = x.clone();
                    args.push(Tensor::vector(e));
                    let col = eval_fn(m, &jvp, &args);
                    let d: Vec<f64> = (0..n_rows).map(|r| dense.data[r * n + c]).collect();
                    close(
                        &d,
                        &col.data,
                        1e-14,
                        &format!("{name}: dense Jacobian column {c}"),
                    );
                }
            }
        }
    }
}

/// Sparse Jacobians: the pattern covers every non-zero, the CSR values equal the dense
/// Jacobian, and the colour counts are small constants.
#[test]
fn sparse_jacobians_equal_dense_ones_with_few_colours() {
    let mut report = String::new();
    for name in ODES {
        let m = &compile(name)[0];
        let rhs = m.function("rhs").unwrap();
        let x = ode_point(m);
        for wrt in [1, 2] {
            let sj = sparsity::sparse_jacobian(m, rhs, wrt).unwrap();
            let values = eval_fn(m, &sj.values, &x);
            assert_eq!(values.data.len(), sj.col_idx.len());
            let compressed = eval_fn(m, &sj.compressed, &x);
            if sj.element_local {
                // Computed per entry: the same numbers up to rounding.
                close(
                    &sj.decompress(&compressed.data),
                    &values.data,
                    1e-12,
                    &format!("{name}: element-local values vs decompression"),
                );
            } else {
                assert_eq!(
                    sj.decompress(&compressed.data),
                    values.data,
                    "{name}: decompression"
                );
            }
            // The θ-only parts, where they are split off, make the same values.
            let split = sparsity::split_invariant(&sj.values, 2).filter(|_| sj.element_local);
            if let Some(split) = &split {
                assert_eq!(
                    eval_split(m, split, &x).data,
                    values.data,
                    "{name}: values from the θ-only parts"
                );
            }
            let sparse = sj.to_dense(&values.data);
            let (rows, cols) = (sj.n_rows, sj.n_cols);
            let jvp = ad::jvp(m, rhs, &[wrt]).unwrap();
            // Every column for the small systems; 16 for the 2-D Brusselator (the full
            // comparison takes minutes in a debug build: SCI_SLOW_TESTS=1 runs it).
            let all = rows * cols <= 100_000 || std::env::var_os("SCI_SLOW_TESTS").is_some();
            let check = if all {
                (0..cols).collect()
            } else {
                sample_columns(cols, 16)
            };
            for c in check {
                let mut e = vec![0.0; cols];
                e[c] = 1.0;
                let mut args = x.clone();
                args.push(Tensor::vector(e));
                let dense = eval_fn(m, &jvp, &args);
                let sp: Vec<f64> = (0..rows).map(|r| sparse[r * cols + c]).collect();
                close(
                    &sp,
                    &dense.data,
                    1e-12,
                    &format!("{name}: sparse vs dense column {c} (wrt {wrt})"),
                );
            }
            // J·v for a random v, all columns at once.
            let v: Vec<f64> = (0..cols).map(|k| rnd(5000 + k)).collect();
            let mut args = x.clone();
            args.push(Tensor::vector(v.clone()));
            let jv = eval_fn(m, &jvp, &args);
            let spv: Vec<f64> = (0..rows)
                .map(|r| (0..cols).map(|c| sparse[r * cols + c] * v[c]).sum())
                .collect();
            close(&spv, &jv.data, 1e-11, &format!("{name}: sparse J·v"));
            report.push_str(&format!(
                "{name} ∂rhs/∂{}: {rows} x {cols}, nnz {}, {} {:?} colours ({} the other way){}{}\n",
                ["t", "y", "θ"][wrt],
                sj.col_idx.len(),
                sj.n_colors,
                sj.direction,
                sj.other_colors,
                if sj.element_local {
                    ", element-local values"
                } else {
                    ""
                },
                match &split {
                    Some(s) => format!(", {} θ-only values", s.len),
                    None => String::new(),
                }
            ));
        }
    }
    // The right-hand side's and the dense `∂f/∂θ`'s θ-only values, where they are split
    // off, give the same numbers.
    for name in ODES {
        let m = &compile(name)[0];
        let rhs = m.function("rhs").unwrap();
        let x = ode_point(m);
        let param_jacobian = sparsity::dense_jacobian(m, rhs, 2).unwrap();
        let functions = [
            ("rhs", m.functions.get(rhs).unwrap(), eval(m, rhs, &x)),
            (
                "dense ∂rhs/∂θ",
                &param_jacobian,
                eval_fn(m, &param_jacobian, &x),
            ),
        ];
        for (what, f, want) in functions {
            if let Some(split) = sparsity::split_invariant(f, 2) {
                assert_eq!(
                    eval_split(m, &split, &x).data,
                    want.data,
                    "{name}: {what} from its θ-only values"
                );
                report.push_str(&format!("{name} {what}: {} θ-only values\n", split.len));
            }
        }
    }
    insta::assert_snapshot!("colour_counts", report);
}

#[test]
fn loss_gradients_match_finite_differences() {
    for (name, points) in [("burgers_pinn", 3), ("poisson2d_pinn", 3), ("lv_ude", 4)] {
        let m = &compile(name)[0];
        let loss = m.function("loss").unwrap();
        let f = m.functions.get(loss).unwrap();
        let mut args = vec![Tensor::vector(m.params.defaults())];
        for k in 1..f.inputs().len() {
            let ty = f.input_type(k).unwrap();
            let per = ty.element_count().unwrap();
            let data = (0..per * points).map(|j| 0.8 * rnd(100 * k + j)).collect();
            args.push(Tensor::batch(ty.shape.clone(), points, data).unwrap());
        }
        let g = ad::grad(m, loss, &[0]).unwrap();
        let grad = eval_fn(m, &g, &args);
        for d in 0..2 {
            let v: Vec<f64> = (0..grad.data.len())
                .map(|k| rnd(7000 * (d + 1) + k))
                .collect();
            let mut dirs = vec![None; args.len()];
            dirs[0] = Some(v.clone());
            let want = fd(&|a| eval(m, loss, a).data, &args, &dirs, 1e-3)[0];
            let got: f64 = grad.data.iter().zip(&v).map(|(a, b)| a * b).sum();
            assert!(
                (got - want).abs() <= 1e-6 * (1.0 + want.abs()),
                "{name}: ∇loss·v = {got} vs {want}"
            );
        }
    }
}

/// The network of a PINN module at one point.
fn net_at(m: &Module, net: &str, theta: &[f64], coords: &[f64]) -> f64 {
    let mut args = vec![Tensor::vector(theta.to_vec())];
    args.extend(coords.iter().map(|c| Tensor::scalar(*c)));
    sci::eval(m, net, &args).unwrap().data[0]
}

/// Finite-difference derivative of `f` along axis `axis`, order 1..=3 (Richardson).
fn fd_axis(f: &dyn Fn(&[f64]) -> f64, at: &[f64], axis: usize, order: usize, h: f64) -> f64 {
    let g = |s: f64| {
        let mut p = at.to_vec();
        p[axis] += s;
        f(&p)
    };
    let d = |h: f64| match order {
        1 => (g(h) - g(-h)) / (2.0 * h),
        2 => (g(h) - 2.0 * g(0.0) + g(-h)) / (h * h),
        _ => (g(2.0 * h) - 2.0 * g(h) + 2.0 * g(-h) - g(-2.0 * h)) / (2.0 * h * h * h),
    };
    (4.0 * d(h / 2.0) - d(h)) / 3.0
}

#[test]
fn pinn_residuals_match_finite_differences_of_the_network() {
    let m = &compile("burgers_pinn")[0];
    let theta = m.params.defaults();
    let (ts, xs) = ([0.1, 0.6, 0.9], [0.3, -0.4, 0.75]);
    let r = sci::eval(
        m,
        "residual.pde",
        &[
            Tensor::vector(theta.clone()),
            Tensor::batch(vec![], 3, ts.to_vec()).unwrap(),
            Tensor::batch(vec![], 3, xs.to_vec()).unwrap(),
        ],
    )
    .unwrap();
    let u = |p: &[f64]| net_at(m, "net.u", &theta, p);
    let nu = 0.01 / std::f64::consts::PI;
    for k in 0..3 {
        let p = [ts[k], xs[k]];
        let want = fd_axis(&u, &p, 0, 1, 1e-3) + u(&p) * fd_axis(&u, &p, 1, 1, 1e-3)
            - nu * fd_axis(&u, &p, 1, 2, 1e-2);
        assert!(
            (r.data[k] - want).abs() < 1e-6 * (1.0 + want.abs()),
            "Burgers point {k}: {} vs {want}",
            r.data[k]
        );
    }
    let m = &compile("poisson2d_pinn")[0];
    let theta = m.params.defaults();
    let (xs, ys) = ([0.1, 0.6, 0.9], [0.3, 0.45, 0.75]);
    let r = sci::eval(
        m,
        "residual.interior",
        &[
            Tensor::vector(theta.clone()),
            Tensor::batch(vec![], 3, xs.to_vec()).unwrap(),
            Tensor::batch(vec![], 3, ys.to_vec()).unwrap(),
        ],
    )
    .unwrap();
    let u = |p: &[f64]| net_at(m, "net.u", &theta, p);
    let pi = std::f64::consts::PI;
    for k in 0..3 {
        let p = [xs[k], ys[k]];
        let lap = fd_axis(&u, &p, 0, 2, 1e-2) + fd_axis(&u, &p, 1, 2, 1e-2);
        let want = lap + 2.0 * pi * pi * (pi * p[0]).sin() * (pi * p[1]).sin();
        assert!(
            (r.data[k] - want).abs() < 1e-6 * (1.0 + want.abs()),
            "Poisson point {k}: {} vs {want}",
            r.data[k]
        );
    }
}

const KDV: &str = r#"
use nn.{mlp}
model KdV {
    domain omega: t in [0, 1], x in [-1, 1]
    net u(t, x) = mlp(hidden: [8, 8], activation: tanh, seed: 3)
    residual pde on omega, points 64: d(u, t) + 6 * u * d(u, x) + d(u, x, x, x)
    residual mixed on omega, points 64: d(u, t, x, x)
    loss = mean(pde^2) + mean(mixed^2)
}
"#;

/// Third-order and mixed third-order derivatives of a network, and the gradient of a loss
/// built from them with respect to the weights.
#[test]
fn third_order_pinn_derivatives_and_their_weight_gradient() {
    let m = &compile_source(KDV)[0];
    let theta = m.params.defaults();
    let (ts, xs) = ([0.2, 0.7], [0.35, -0.5]);
    let batch = |v: &[f64]| Tensor::batch(vec![], v.len(), v.to_vec()).unwrap();
    let args = [Tensor::vector(theta.clone()), batch(&ts), batch(&xs)];
    let pde = sci::eval(m, "residual.pde", &args).unwrap();
    let mixed = sci::eval(m, "residual.mixed", &args).unwrap();
    let u = |p: &[f64]| net_at(m, "net.u", &theta, p);
    for k in 0..2 {
        let p = [ts[k], xs[k]];
        let uxxx = fd_axis(&u, &p, 1, 3, 2e-2);
        let want = fd_axis(&u, &p, 0, 1, 1e-3) + 6.0 * u(&p) * fd_axis(&u, &p, 1, 1, 1e-3) + uxxx;
        assert!(
            (pde.data[k] - want).abs() < 1e-6 * (1.0 + want.abs()),
            "KdV point {k}: {} vs {want}",
            pde.data[k]
        );
        // d(u, t, x, x): first differences in t of second differences in x.
        let uxx = |q: &[f64]| fd_axis(&u, q, 1, 2, 1e-2);
        let want = fd_axis(&uxx, &p, 0, 1, 1e-2);
        assert!(
            (mixed.data[k] - want).abs() < 1e-5 * (1.0 + want.abs()),
            "u_txx point {k}: {} vs {want}",
            mixed.data[k]
        );
    }
    let loss = m.function("loss").unwrap();
    // Both residuals are sampled alike, so they share one point set: one (t, x) input pair.
    let largs = [Tensor::vector(theta.clone()), batch(&ts), batch(&xs)];
    let g = eval_fn(m, &ad::grad(m, loss, &[0]).unwrap(), &largs);
    for d in 0..2 {
        let v: Vec<f64> = (0..theta.len()).map(|k| rnd(900 * (d + 3) + k)).collect();
        let want = fd(
            &|a| eval(m, loss, a).data,
            &largs,
            &[Some(v.clone()), None, None],
            1e-3,
        )[0];
        let got: f64 = g.data.iter().zip(&v).map(|(a, b)| a * b).sum();
        assert!(
            (got - want).abs() <= 1e-6 * (1.0 + want.abs()),
            "∇θ KdV loss·v = {got} vs {want}"
        );
    }
}

#[test]
fn rosenbrock_gradient_and_hessian_match_closed_forms() {
    let src = format!(
        "{}\nfn g4(x: real[4]) = rosenbrock_grad(x)\nfn h4(x: real[4]) = rosenbrock_hessian(x)\n",
        example_text("rosenbrock")
    );
    let m = compile_source(&src)
        .into_iter()
        .find(|m| m.name == "functions")
        .unwrap();
    let x = [0.3, -0.8, 1.2, 0.5];
    let g = sci::eval(&m, "g4", &[Tensor::vector(x.to_vec())]).unwrap();
    let h = sci::eval(&m, "h4", &[Tensor::vector(x.to_vec())]).unwrap();
    let mut want_g = [0.0; 4];
    let mut want_h = [0.0; 16];
    for i in 0..3 {
        let (a, b) = (x[i], x[i + 1]);
        want_g[i] += -400.0 * a * (b - a * a) - 2.0 * (1.0 - a);
        want_g[i + 1] += 200.0 * (b - a * a);
        want_h[i * 4 + i] += 1200.0 * a * a - 400.0 * b + 2.0;
        want_h[i * 4 + i + 1] += -400.0 * a;
        want_h[(i + 1) * 4 + i] += -400.0 * a;
        want_h[(i + 1) * 4 + i + 1] += 200.0;
    }
    close(&g.data, &want_g, 1e-13, "Rosenbrock gradient");
    assert_eq!(h.shape, vec![4, 4]);
    close(&h.data, &want_h, 1e-13, "Rosenbrock Hessian");
}

/// Taylor mode (collapsed, for `d(u, x, x)` and the forward Laplacian) against nested
/// forward mode: the same values, and the op counts of both (snapshotted).
#[test]
fn taylor_mode_agrees_with_nested_forward_mode_and_costs_less() {
    let mut table = String::from(
        "| model | function | nested: ops | nested: flops | Taylor: ops | Taylor: flops |\n|---|---|---|---|---|---|\n",
    );
    for (name, residual, coords) in [
        ("burgers_pinn", "residual.pde", ["t", "x"]),
        ("poisson2d_pinn", "residual.interior", ["x", "y"]),
    ] {
        let base = lowered(&example_text(name)).remove(0);
        let mut built = Vec::new();
        for second in [SecondOrder::Nested, SecondOrder::Taylor, SecondOrder::Auto] {
            let mut m = base.clone();
            ad::expand_derivatives_with(
                &mut m,
                &ExpandOptions {
                    second_order: second,
                },
            )
            .unwrap();
            ir::validate::validate_module(&m).unwrap();
            built.push(m);
        }
        let pts = |k: usize| {
            Tensor::batch(vec![], 4, (0..4).map(|j| 0.7 * rnd(31 * k + j)).collect()).unwrap()
        };
        let args = [Tensor::vector(base.params.defaults()), pts(1), pts(2)];
        let values: Vec<Vec<f64>> = built
            .iter()
            .map(|m| sci::eval(m, residual, &args).unwrap().data)
            .collect();
        close(
            &values[1],
            &values[0],
            1e-12,
            &format!("{name}: Taylor vs nested"),
        );
        close(
            &values[2],
            &values[0],
            1e-12,
            &format!("{name}: automatic vs nested"),
        );
        let _ = coords;
        for func in [residual, "loss"] {
            let count = |m: &Module| {
                let f = m.functions.get(m.function(func).unwrap()).unwrap();
                (f.op_count(), ad::cost::flops(m, f))
            };
            let (n_ops, n_flops) = count(&built[0]);
            let (t_ops, t_flops) = count(&built[1]);
            assert!(
                t_flops < n_flops,
                "{name} {func}: Taylor mode is not cheaper"
            );
            assert_eq!(
                count(&built[2]),
                (t_ops, t_flops),
                "{name} {func}: automatic choice"
            );
            table.push_str(&format!(
                "| {name} | {func} | {n_ops} | {n_flops} | {t_ops} | {t_flops} |\n"
            ));
        }
    }
    insta::assert_snapshot!("taylor_vs_nested_op_counts", table);
}

fn sci_cli(args: &[&str]) -> (bool, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_sci"))
        .args(args)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .unwrap();
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn cli_emits_gradients_jacobians_and_hessians_as_ir_that_reads_back() {
    for (file, emit, expect) in [
        ("examples/heat1d.sci", "jac", "func jac_y.rhs"),
        ("examples/brusselator2d.sci", "jac", "2048 x 2048"),
        ("examples/lotka_volterra.sci", "jac", "func jac_p.rhs"),
        ("examples/burgers_pinn.sci", "grad", "func grad.loss"),
        ("examples/rosenbrock.sci", "grad", "func grad.softsign"),
        (
            "examples/rosenbrock.sci",
            "hessian",
            "func hessian.softsign",
        ),
        (
            "examples/van_der_pol.sci",
            "hessian",
            "nothing to take Hessians",
        ),
    ] {
        let (ok, out, err) = sci_cli(&["compile", file, "--emit", emit]);
        assert!(ok, "{file} --emit {emit}: {err}");
        assert!(
            out.contains(expect),
            "{file} --emit {emit}: no `{expect}` in\n{out}"
        );
        if out.contains("func ") {
            let m = ir::read::read_module(sci::diag::FileId(0), &out)
                .unwrap_or_else(|e| panic!("{e:?}\n{out}"));
            ir::validate::validate_module(&m).unwrap();
        }
    }
    let (_, out, _) = sci_cli(&["compile", "examples/heat1d.sci", "--emit", "jac"]);
    assert!(
        out.contains("598 structural non-zeros, 3 column (forward) colours"),
        "{out}"
    );
}

#[test]
fn cli_evaluates_residuals_with_derivatives() {
    let (ok, out, err) = sci_cli(&[
        "eval",
        "examples/burgers_pinn.sci",
        "residual.pde",
        "t=0.1;0.2",
        "x=0.3;-0.4",
    ]);
    assert!(ok, "{err}");
    assert!(out.starts_with("residual.pde = ["), "{out}");
}

/// The compiled adjoint products, `[λᵀ ∂f/∂y, λᵀ ∂f/∂θ]` and `λᵀ ∂y0/∂θ` (one reverse sweep
/// each), equal the transposed forward products of every ODE example with parameters:
/// `⟨λ, J v⟩ = ⟨Jᵀλ, v⟩` for spread unit vectors `v`, to rounding. Compiled only when asked
/// for.
#[test]
fn adjoint_products_are_the_transposed_forward_products() {
    let plain = sci::Compiler::new()
        .compile_file(format!(
            "{}/examples/robertson.sci",
            env!("CARGO_MANIFEST_DIR")
        ))
        .unwrap();
    let model = plain.model("Robertson").unwrap();
    assert!(!model.has_adjoint());
    let e = model
        .y0_vjp(&model.params(), &[1.0; 3], &mut [0.0; 3])
        .unwrap_err();
    assert!(e.message.contains("Compiler::adjoint(true)"), "{e}");
    for name in ODES {
        let path = format!("{}/examples/{name}.sci", env!("CARGO_MANIFEST_DIR"));
        let compiled = sci::Compiler::new()
            .adjoint(true)
            .compile_file(&path)
            .unwrap();
        let m = compiled.models().next().unwrap().name.clone();
        let model = compiled.model(&m).unwrap();
        let (n, np) = (model.n_states(), model.n_params());
        if np == 0 {
            assert!(!model.has_function(sci::jit::VJP_RHS), "{name}");
            continue;
        }
        let p: Vec<f64> = (model.params().iter().enumerate())
            .map(|(k, x)| x * (1.0 + 0.1 * rnd(k)))
            .collect();
        let y: Vec<f64> = (model.y0(&p).unwrap().iter().enumerate())
            .map(|(k, x)| x + 0.1 * rnd(1000 + k))
            .collect();
        let lambda: Vec<f64> = (0..n).map(|k| rnd(2000 + k)).collect();
        let mut adjoint = vec![0.0; n + np];
        model.rhs_vjp(0.3, &y, &p, &lambda, &mut adjoint).unwrap();
        let dot = |a: &[f64], b: &[f64]| a.iter().zip(b).map(|(x, y)| x * y).sum::<f64>();
        // The size of the terms of a dot product: what its rounding is relative to.
        let magnitude =
            |a: &[f64], b: &[f64]| 1.0 + a.iter().zip(b).map(|(x, y)| (x * y).abs()).sum::<f64>();
        let mut column = vec![0.0; n];
        for c in sample_columns(n, 12) {
            let mut e = vec![0.0; n];
            e[c] = 1.0;
            model.jac_mul(0.3, &y, &p, &e, &mut column).unwrap();
            let want = dot(&lambda, &column);
            let scale = magnitude(&lambda, &column);
            assert!(
                (adjoint[c] - want).abs() <= 1e-13 * scale,
                "{name}: (Jᵀλ)[{c}] = {} but ⟨λ, J e⟩ = {want}",
                adjoint[c]
            );
        }
        for c in sample_columns(np, 12) {
            let mut e = vec![0.0; np];
            e[c] = 1.0;
            model.param_jac_mul(0.3, &y, &p, &e, &mut column).unwrap();
            let want = dot(&lambda, &column);
            let scale = magnitude(&lambda, &column);
            assert!(
                (adjoint[n + c] - want).abs() <= 1e-13 * scale,
                "{name}: (∂f/∂θᵀλ)[{c}] = {} but ⟨λ, ∂f/∂θ e⟩ = {want}",
                adjoint[n + c]
            );
            let mut y0_adjoint = vec![0.0; np];
            model.y0_vjp(&p, &lambda, &mut y0_adjoint).unwrap();
            let mut y0_column = vec![0.0; n];
            model.y0_param_jac_mul(&p, &e, &mut y0_column).unwrap();
            let want = dot(&lambda, &y0_column);
            assert!(
                (y0_adjoint[c] - want).abs() <= 1e-13 * (1.0 + want.abs()),
                "{name}: (∂y0/∂θᵀλ)[{c}]"
            );
        }
    }
}
