//! End-to-end tests over `examples/`: every example checks, lowers to valid IR that the IR
//! reader parses back to the same module, and the interpreter's values for the right-hand
//! sides match values computed by hand.

mod common;

use common::example_paths as examples;
use sci::{Tensor, ir};

fn compile(name: &str) -> sci::Compiled {
    let path = format!("{}/examples/{name}", env!("CARGO_MANIFEST_DIR"));
    sci::Compiler::new()
        .compile_file(&path)
        .unwrap_or_else(|e| panic!("{name} failed to compile:\n{e}"))
}

#[test]
fn there_are_at_least_eight_examples() {
    assert!(examples().len() >= 8, "{:?}", examples());
}

#[test]
fn every_example_checks_lowers_and_round_trips_through_the_ir_text_format() {
    for path in examples() {
        let compiled = sci::Compiler::new()
            .compile_file(&path)
            .unwrap_or_else(|e| panic!("{} failed:\n{e}", path.display()));
        assert!(
            !compiled.modules.is_empty(),
            "{} produced no IR",
            path.display()
        );
        for module in &compiled.modules {
            ir::validate::validate_module(module)
                .unwrap_or_else(|e| panic!("{}: invalid IR: {e:?}", path.display()));
            let text = ir::print::print_module(module);
            let back = ir::read::read_module(sci::diag::FileId(0), &text).unwrap_or_else(|e| {
                panic!("{}: IR does not read back: {e:?}\n{text}", path.display())
            });
            assert_eq!(
                &back,
                module,
                "{}: IR round trip changed the module",
                path.display()
            );
            assert_eq!(ir::print::print_module(&back), text);
        }
    }
}

/// Evaluates `rhs(t, y, θ)` at the model's initial state and default parameters.
fn rhs_at_start(module: &ir::Module, t: f64) -> Vec<f64> {
    let theta = Tensor::vector(module.params.defaults());
    let y = sci::eval(module, "y0", std::slice::from_ref(&theta)).unwrap();
    sci::eval(
        module,
        "rhs",
        &[Tensor::scalar(t), Tensor::vector(y.data), theta],
    )
    .unwrap()
    .data
}

fn assert_close(got: &[f64], want: &[f64], rel: f64) {
    assert_eq!(got.len(), want.len(), "got {got:?}, want {want:?}");
    for (i, (g, w)) in got.iter().zip(want).enumerate() {
        let scale = w.abs().max(1e-300);
        assert!(
            (g - w).abs() <= rel * scale || (g - w).abs() <= 1e-300,
            "element {i}: got {g}, want {w} (all: {got:?})"
        );
    }
}

#[test]
fn lotka_volterra_rhs_matches_hand_computation() {
    let c = compile("lotka_volterra.sci");
    let m = c.module("LotkaVolterra").unwrap();
    // prey = 10, pred = 5: 1.5·10 − 1·10·5 = −35; 1·10·5 − 3·5 = 35.
    assert_close(&rhs_at_start(m, 0.0), &[-35.0, 35.0], 1e-15);
}

#[test]
fn robertson_rhs_matches_hand_computation() {
    let c = compile("robertson.sci");
    let m = c.module("Robertson").unwrap();
    let theta = Tensor::vector(m.params.defaults());
    let y = [0.9, 1e-5, 0.1];
    let got = sci::eval(
        m,
        "rhs",
        &[Tensor::scalar(0.0), Tensor::vector(y.to_vec()), theta],
    )
    .unwrap()
    .data;
    let (k1, k2, k3) = (0.04, 3.0e7, 1.0e4);
    let want = [
        -k1 * y[0] + k3 * y[1] * y[2],
        k1 * y[0] - k3 * y[1] * y[2] - k2 * y[1] * y[1],
        k2 * y[1] * y[1],
    ];
    assert_close(&got, &want, 1e-14);
}

#[test]
fn van_der_pol_rhs_matches_hand_computation() {
    let c = compile("van_der_pol.sci");
    let m = c.module("VanDerPol").unwrap();
    // x = 2, v = 0: dx = 0, dv = 1000·(1 − 4)·0 − 2 = −2.
    assert_close(&rhs_at_start(m, 0.0), &[0.0, -2.0], 1e-15);
}

#[test]
fn pendulum_rhs_and_outputs_match_hand_computation() {
    let c = compile("pendulum.sci");
    let m = c.module("Pendulum").unwrap();
    let want_domega = -(9.81 / 1.0) * 0.3f64.sin() - 0.1 * 0.0;
    assert_close(&rhs_at_start(m, 0.0), &[0.0, want_domega], 1e-15);
    let theta = Tensor::vector(m.params.defaults());
    let y = Tensor::vector(vec![0.3, 0.5]);
    let out = sci::eval(m, "outputs", &[Tensor::scalar(0.0), y, theta]).unwrap();
    let height = 1.0 * (1.0 - 0.3f64.cos());
    let energy = 0.5 * (1.0f64 * 0.5).powi(2) + 9.81 * height;
    assert_close(&out.data, &[height, energy], 1e-14);
}

#[test]
fn heat_equation_rhs_is_the_three_point_stencil_with_zero_boundaries() {
    let c = compile("heat1d.sci");
    let m = c.module("Heat1D").unwrap();
    let n = 200;
    let dx = 1.0 / (n as f64 + 1.0);
    let u: Vec<f64> = (0..n).map(|i| ((i * i) % 7) as f64 * 0.25 - 0.5).collect();
    let theta = Tensor::vector(m.params.defaults());
    let got = sci::eval(
        m,
        "rhs",
        &[Tensor::scalar(0.0), Tensor::vector(u.clone()), theta],
    )
    .unwrap()
    .data;
    let at = |i: isize| {
        if i < 0 || i >= n as isize {
            0.0
        } else {
            u[i as usize]
        }
    };
    let want: Vec<f64> = (0..n as isize)
        .map(|i| 0.1 * (at(i - 1) - 2.0 * at(i) + at(i + 1)) / (dx * dx))
        .collect();
    assert_close(&got, &want, 1e-12);
}

#[test]
fn heat_equation_initial_state_is_the_sine_mode() {
    let c = compile("heat1d.sci");
    let m = c.module("Heat1D").unwrap();
    let y0 = sci::eval(m, "y0", &[Tensor::vector(m.params.defaults())]).unwrap();
    let dx = 1.0 / 201.0;
    let want: Vec<f64> = (0..200)
        .map(|i| (std::f64::consts::PI * (i as f64 + 1.0) * dx).sin())
        .collect();
    assert_close(&y0.data, &want, 1e-14);
}

#[test]
fn brusselator_rhs_uses_the_boundary_values() {
    let c = compile("brusselator.sci");
    let m = c.module("Brusselator").unwrap();
    let n = 32;
    let dx = 1.0 / 33.0;
    let (a, b, alpha) = (1.0, 3.0, 0.02);
    let u: Vec<f64> = (0..n).map(|i| 1.0 + 0.01 * i as f64).collect();
    let v: Vec<f64> = (0..n).map(|i| 3.0 - 0.02 * i as f64).collect();
    let mut y = u.clone();
    y.extend(&v);
    let got = sci::eval(
        m,
        "rhs",
        &[
            Tensor::scalar(0.0),
            Tensor::vector(y),
            Tensor::vector(m.params.defaults()),
        ],
    )
    .unwrap()
    .data;
    let nb = |w: &[f64], i: isize, edge: f64| {
        if i < 0 || i >= n as isize {
            edge
        } else {
            w[i as usize]
        }
    };
    let mut want = Vec::new();
    for i in 0..n as isize {
        let ui = u[i as usize];
        let vi = v[i as usize];
        let lap = (nb(&u, i - 1, 1.0) - 2.0 * ui + nb(&u, i + 1, 1.0)) / (dx * dx);
        want.push(a + ui * ui * vi - (b + 1.0) * ui + alpha * lap);
    }
    for i in 0..n as isize {
        let ui = u[i as usize];
        let vi = v[i as usize];
        let lap = (nb(&v, i - 1, 3.0) - 2.0 * vi + nb(&v, i + 1, 3.0)) / (dx * dx);
        want.push(b * ui - ui * ui * vi + alpha * lap);
    }
    assert_close(&got, &want, 1e-12);
}

#[test]
fn burgers_pinn_has_the_expected_parameter_layout() {
    let c = compile("burgers_pinn.sci");
    let m = c.module("BurgersPINN").unwrap();
    // 2-20-20-20-1: (2·20+20) + (20·20+20) + (20·20+20) + (20·1+1) = 60 + 420 + 420 + 21.
    assert_eq!(m.params.len, 921);
    assert!(m.function("loss").is_some());
}
