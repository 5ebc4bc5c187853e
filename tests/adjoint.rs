//! Adjoint gradients of losses over ODE trajectories agree with forward sensitivities on
//! compiled models, at the training defaults (rtol 1e-8, atol 1e-10): Robertson's stiff
//! kinetics fitted to its species, the Lotka–Volterra UDE (354 parameters, a network), and
//! a Brusselator with per-cell rate constants (sparse Jacobian). Plus the choices and
//! refusals of `--sensitivity` from the command line.

mod common;

use common::{sci_in, scratch, stderr, stdout};
use sci::runtime::{TrainSetup, Trainer};
use sci::stdlib::ode::Sensitivity;

/// Robertson's kinetics with the rate constants as parameters, fitted to two species.
const ROBERTSON_FIT: &str = "
model RobertsonFit {
    param k1 = 0.05
    param k2 = 2.5e7
    param k3 = 1.2e4
    state y1 = 1.0
    state y2 = 0.0
    state y3 = 0.0
    der(y1) = -k1 * y1 + k3 * y2 * y3
    der(y2) = k1 * y1 - k3 * y2 * y3 - k2 * y2^2
    der(y3) = k2 * y2^2
    data obs(t, a, c) = csv(\"robertson.csv\")
    loss = mean((y1(obs.t) - obs.a)^2 + (y3(obs.t) - obs.c)^2)
    domain time: t in [0, 4e4]
}
";

/// Robertson's solution at the true rates (0.04, 3e7, 1e4), five significant digits.
const ROBERTSON_DATA: &str = "t,a,c
0.4,0.98517,0.014796
4,0.90552,0.094449
40,0.71583,0.28416
400,0.45052,0.54946
4000,0.18320,0.81680
40000,0.038983,0.96102
";

/// A 1-D Brusselator of 16 cells with a rate pair per cell: 32 states, 33 parameters.
const BRUSSELATOR_FIT: &str = "
model BrusselatorFit {
    const n = 16
    const dx = 1.0 / (n + 1)
    param A[i in 0..n] = 1.0 + 0.05 * i
    param B[i in 0..n] = 3.0 - 0.05 * i
    param alpha = 0.02
    state u[i in 0..n] = 1 + sin(2 * π * (i + 1) * dx)
    state v[i in 0..n] = 3.0
    let u_left[i in 0..n] = if i == 0 then 1.0 else u[i - 1]
    let u_right[i in 0..n] = if i == n - 1 then 1.0 else u[i + 1]
    let v_left[i in 0..n] = if i == 0 then 3.0 else v[i - 1]
    let v_right[i in 0..n] = if i == n - 1 then 3.0 else v[i + 1]
    der(u[i]) = A[i] + u[i]^2 * v[i] - (B[i] + 1) * u[i]
        + alpha * (u_left[i] - 2 * u[i] + u_right[i]) / dx^2
    der(v[i]) = B[i] * u[i] - u[i]^2 * v[i] + alpha * (v_left[i] - 2 * v[i] + v_right[i]) / dx^2
    data obs(t, m) = csv(\"brusselator.csv\")
    loss = mean((u(obs.t)[2] - obs.m)^2 + (v(obs.t)[5] - 2 * obs.m)^2)
    domain time: t in [0, 10]
}
";

const BRUSSELATOR_DATA: &str = "t,m\n1,1.2\n2,1.5\n5,1.1\n10,2.0\n";

/// The loss's gradient at the model's parameters by `sensitivity`, at rtol 1e-8 and
/// `atol`.
fn gradient(
    compiled: &sci::Compiled,
    name: &str,
    dir: &std::path::Path,
    sensitivity: Sensitivity,
    atol: f64,
) -> (f64, Vec<f64>) {
    let mut setup = TrainSetup {
        data_dir: dir.to_path_buf(),
        sensitivity,
        ..TrainSetup::default()
    };
    setup.solve.atol = atol;
    let mut trainer = Trainer::new(compiled, name, setup).unwrap();
    assert_eq!(trainer.sensitivity(), sensitivity, "{name}");
    let p = trainer.model().params();
    let mut grad = vec![0.0; p.len()];
    let loss = trainer.loss_and_grad(&p, &mut grad).unwrap();
    (loss, grad)
}

/// Forward and adjoint gradients of model `name` at rtol 1e-8 and `atol` agree to 1e-6:
/// the difference's norm relative to the gradient's, and every component relative to the
/// larger of itself and a thousandth of the largest.
fn assert_agree(compiled: &sci::Compiled, name: &str, dir: &std::path::Path, atol: f64) {
    let (loss_f, forward) = gradient(compiled, name, dir, Sensitivity::Forward, atol);
    let (loss_a, adjoint) = gradient(compiled, name, dir, Sensitivity::Adjoint, atol);
    assert_close(name, &forward, &adjoint, 1e-6);
    // The adjoint's forward solve runs at tighter tolerances (`ADJOINT_TOLERANCE_FACTOR`),
    // and a fit's loss is a small difference of the solution and the data.
    assert!(
        (loss_f - loss_a).abs() <= 1e-5 * loss_f.abs(),
        "{name}: losses {loss_f} {loss_a}"
    );
}

/// `got` is within `rel` of `want` (see [`assert_agree`]).
fn assert_close(name: &str, want: &[f64], got: &[f64], rel: f64) {
    let norm = |v: &[f64]| v.iter().map(|x| x * x).sum::<f64>().sqrt();
    let diff: Vec<f64> = want.iter().zip(got).map(|(w, g)| w - g).collect();
    let scale = norm(want);
    assert!(scale > 0.0, "{name}: zero gradient");
    assert!(
        norm(&diff) <= rel * scale,
        "{name}: |Δ| / |g| = {:e}",
        norm(&diff) / scale
    );
    let largest = want.iter().fold(0.0f64, |m, w| m.max(w.abs()));
    for (j, (w, g)) in want.iter().zip(got).enumerate() {
        let err = (w - g).abs() / w.abs().max(1e-3 * largest);
        assert!(
            err <= rel,
            "{name}: dL/dθ{j}: {w:e} against {g:e} ({err:e})"
        );
    }
}

fn compile(source: &str) -> sci::Compiled {
    sci::Compiler::new()
        .adjoint(true)
        .compile_source("fit.sci", source)
        .unwrap()
}

#[test]
fn robertson_forward_and_adjoint_gradients_agree() {
    let dir = scratch("adjoint_robertson");
    std::fs::write(dir.join("robertson.csv"), ROBERTSON_DATA).unwrap();
    let compiled = compile(ROBERTSON_FIT);
    // y2 stays below 4e-5: an absolute tolerance of 1e-12 resolves it.
    assert_agree(&compiled, "RobertsonFit", &dir, 1e-12);
    // At the default atol 1e-10 forward sensitivities are 1.7e-6 off (y2 resolved to a few
    // digits); the adjoint, solved 100 times tighter, stays within 1e-6 of a reference
    // (forward sensitivities at rtol 1e-12).
    let mut setup = TrainSetup {
        data_dir: dir.clone(),
        sensitivity: Sensitivity::Forward,
        ..TrainSetup::default()
    };
    setup.solve.rtol = 1e-12;
    setup.solve.atol = 1e-16;
    let mut trainer = Trainer::new(&compiled, "RobertsonFit", setup).unwrap();
    let p = trainer.model().params();
    let mut reference = vec![0.0; p.len()];
    trainer.loss_and_grad(&p, &mut reference).unwrap();
    let (_, adjoint) = gradient(&compiled, "RobertsonFit", &dir, Sensitivity::Adjoint, 1e-10);
    assert_close("RobertsonFit", &reference, &adjoint, 1e-6);
}

#[test]
fn lv_ude_forward_and_adjoint_gradients_agree() {
    let path = format!("{}/examples/lv_ude.sci", env!("CARGO_MANIFEST_DIR"));
    let compiled = sci::Compiler::new()
        .adjoint(true)
        .compile_file(&path)
        .unwrap();
    let dir = sci::model_dir(std::path::Path::new(&path));
    assert_agree(&compiled, "LotkaVolterraUDE", &dir, 1e-10);
    // 354 parameters: `auto` takes the adjoint.
    let setup = TrainSetup {
        data_dir: dir,
        ..TrainSetup::default()
    };
    let trainer = Trainer::new(&compiled, "LotkaVolterraUDE", setup).unwrap();
    assert_eq!(trainer.sensitivity(), Sensitivity::Adjoint);
}

#[test]
fn brusselator_forward_and_adjoint_gradients_agree() {
    let dir = scratch("adjoint_brusselator");
    std::fs::write(dir.join("brusselator.csv"), BRUSSELATOR_DATA).unwrap();
    assert_agree(&compile(BRUSSELATOR_FIT), "BrusselatorFit", &dir, 1e-10);
}

#[test]
fn auto_needs_the_adjoint_products_and_adjoint_asks_for_them() {
    // Compiled without them: `auto` falls back to forward sensitivities, `adjoint` says
    // how to compile.
    let dir = scratch("adjoint_not_compiled");
    std::fs::write(dir.join("brusselator.csv"), BRUSSELATOR_DATA).unwrap();
    let plain = sci::Compiler::new()
        .compile_source("fit.sci", BRUSSELATOR_FIT)
        .unwrap();
    let setup = |sensitivity| TrainSetup {
        data_dir: dir.clone(),
        sensitivity,
        ..TrainSetup::default()
    };
    let trainer = Trainer::new(&plain, "BrusselatorFit", setup(Sensitivity::Auto)).unwrap();
    assert_eq!(trainer.sensitivity(), Sensitivity::Forward);
    let e = Trainer::new(&plain, "BrusselatorFit", setup(Sensitivity::Adjoint))
        .err()
        .unwrap();
    assert!(
        e.help
            .as_deref()
            .unwrap_or("")
            .contains("Compiler::adjoint(true)"),
        "{e}"
    );
    // Compiled with them: 33 parameters, so `auto` takes the adjoint.
    let with_adjoint = compile(BRUSSELATOR_FIT);
    let trainer = Trainer::new(&with_adjoint, "BrusselatorFit", setup(Sensitivity::Auto)).unwrap();
    assert_eq!(trainer.sensitivity(), Sensitivity::Adjoint);
}

#[test]
fn sci_train_takes_the_adjoint_and_refuses_it_for_events() {
    let dir = scratch("adjoint_cli");
    std::fs::write(dir.join("brusselator.csv"), BRUSSELATOR_DATA).unwrap();
    std::fs::write(dir.join("fit.sci"), BRUSSELATOR_FIT).unwrap();
    let run = |sensitivity: &str| {
        sci_in(
            &dir,
            &[
                "train",
                "fit.sci",
                "--steps",
                "2",
                "--sensitivity",
                sensitivity,
            ],
        )
    };
    for (choice, said) in [
        ("adjoint", "the adjoint method"),
        ("auto", "the adjoint method"),
        ("forward", "forward sensitivities"),
    ] {
        let out = run(choice);
        assert!(out.status.success(), "{choice}: {}", stderr(&out));
        assert!(
            stdout(&out).contains(&format!("gradients through the ODE solves by {said}")),
            "{choice}: {}",
            stdout(&out)
        );
    }
    let out = run("backward");
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains("forward, adjoint, auto"),
        "{}",
        stderr(&out)
    );
    // A model with a reset: the adjoint does not cover events yet.
    std::fs::write(dir.join("decay.csv"), "t,x\n0.5,0.6\n1.5,0.5\n").unwrap();
    std::fs::write(
        dir.join("dosed.sci"),
        "model Dosed {\n    param k = 1.0\n    state x = 1.0\n    der(x) = -k * x\n    \
         when every(1.0) { reinit(x, x + 0.5) }\n    data obs(t, x) = csv(\"decay.csv\")\n    \
         loss = mean((x(obs.t) - obs.x)^2)\n    domain time: t in [0, 2]\n}\n",
    )
    .unwrap();
    let out = sci_in(
        &dir,
        &[
            "train",
            "dosed.sci",
            "--steps",
            "2",
            "--sensitivity",
            "adjoint",
        ],
    );
    assert_eq!(out.status.code(), Some(2), "{}", stdout(&out));
    let err = stderr(&out);
    assert!(err.contains("do not cover systems with events"), "{err}");
    assert!(err.contains("--sensitivity forward"), "{err}");
    let out = sci_in(&dir, &["train", "dosed.sci", "--steps", "2"]);
    assert!(out.status.success(), "{}", stderr(&out));
}

/// The compiled `(∂f/∂y)ᵀλ, (∂f/∂θ)ᵀλ` of a model whose loops read a per-block parameter
/// (`A[a]` in a loop over `[a, p]`: a gather that leaves `p` unused, summed over) equal the
/// transposed dense Jacobians.
#[test]
fn adjoint_products_of_per_block_parameters_are_the_transposed_jacobians() {
    let source = "
model Blocks {
    param A[a in 0..3] = 1.0 + 0.5 * a
    param k = 0.3
    state u[a in 0..3, p in 0..4] = 1 + 0.1 * p + 0.2 * a
    der(u[a, p]) = A[a] * u[a, p]^2 - k * (if p > 0 then u[a, p - 1] else u[a, p]) * A[a]
    domain time: t in [0, 1]
}
";
    let compiled = compile(source);
    let model = compiled.model("Blocks").unwrap();
    let (n, np) = (model.n_states(), model.n_params());
    let p = model.params();
    let y: Vec<f64> = (0..n).map(|i| 0.5 + 0.07 * i as f64).collect();
    let lambda: Vec<f64> = (0..n).map(|i| (i as f64 * 0.37).sin()).collect();
    let mut jac = vec![0.0; n * n];
    let mut pjac = vec![0.0; n * np];
    model.jacobian(0.2, &y, &p, &mut jac).unwrap();
    model.param_jacobian(0.2, &y, &p, &mut pjac).unwrap();
    let mut both = vec![0.0; n + np];
    model.rhs_vjp(0.2, &y, &p, &lambda, &mut both).unwrap();
    for j in 0..n {
        let want: f64 = (0..n).map(|i| lambda[i] * jac[i * n + j]).sum();
        assert!((both[j] - want).abs() <= 1e-12 * (1.0 + want.abs()), "y{j}");
    }
    for j in 0..np {
        let want: f64 = (0..n).map(|i| lambda[i] * pjac[i * np + j]).sum();
        assert!(
            (both[n + j] - want).abs() <= 1e-12 * (1.0 + want.abs()),
            "θ{j}: {} {want}",
            both[n + j]
        );
    }
}
