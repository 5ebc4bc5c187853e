//! The LLVM back end (feature `llvm`) through the embedding API and the CLI: the same
//! answers as Cranelift and the interpreter, object files and shared libraries, `--target-cpu`.
#![cfg(feature = "llvm")]

use std::path::Path;
use std::process::{Command, Output};

use sci::BackendKind;
use sci::stdlib::ode::{Method, SolveOptions};

fn sci(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_sci"))
        .args(args)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .expect("the sci binary runs")
}

fn compile(name: &str, backend: BackendKind) -> sci::Compiled {
    let path = format!("{}/examples/{name}", env!("CARGO_MANIFEST_DIR"));
    sci::Compiler::new()
        .backend(backend)
        .compile_file(&path)
        .unwrap_or_else(|e| panic!("{name}: {e}"))
}

/// The PINN loss gradient (second derivatives inside) agrees with Cranelift's to 1e-12.
#[test]
fn pinn_loss_and_gradient_agree_with_cranelift() {
    let (t, x) = ([0.1, 0.5, 0.9], [-0.5, 0.0, 0.5]);
    let (t0, x0) = ([0.0], [0.25]);
    let (tb, xb) = ([0.3, 0.7], [-1.0, 1.0]);
    let batch = sci::Batch::new()
        .with("pde.t", &t)
        .with("pde.x", &x)
        .with("initial.t", &t0)
        .with("initial.x", &x0)
        .with("boundary.t", &tb)
        .with("boundary.x", &xb);
    let llvm = compile("burgers_pinn.sci", BackendKind::Llvm);
    let cl = compile("burgers_pinn.sci", BackendKind::Cranelift);
    let a = llvm.model("BurgersPINN").unwrap();
    let b = cl.model("BurgersPINN").unwrap();
    let p = a.params();
    let (la, ga) = a.loss_and_grad(&p, &batch).unwrap();
    let (lb, gb) = b.loss_and_grad(&p, &batch).unwrap();
    assert!((la - lb).abs() <= 1e-12 * lb.abs());
    let scale = gb.iter().fold(0.0f64, |m, g| m.max(g.abs()));
    for (x, y) in ga.iter().zip(&gb) {
        assert!((x - y).abs() <= 1e-12 * scale, "{x} vs {y}");
    }
}

/// A stiff solve on LLVM code reaches Robertson's reference value at t = 40 (1e-6).
#[test]
fn robertson_on_llvm_reaches_the_reference_value() {
    let c = compile("robertson.sci", BackendKind::Llvm);
    let m = c.model("Robertson").unwrap();
    let options = SolveOptions {
        method: Method::Bdf,
        span: Some((0.0, 40.0)),
        times: Some(vec![40.0]),
        rtol: 1e-10,
        atol: 1e-14,
        ..SolveOptions::default()
    };
    let traj = m.simulate(&m.params(), &options).unwrap();
    assert!((traj.states[0][0] - 0.7158270687193974).abs() < 1e-6);
}

#[test]
fn the_cli_runs_and_compiles_with_llvm() {
    let out = sci(&[
        "run",
        "examples/lotka_volterra.sci",
        "--backend",
        "llvm",
        "--times",
        "1",
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("llvm_cli");
    std::fs::create_dir_all(&dir).unwrap();
    // `sci compile -o x.so` defaults to LLVM when it is built in.
    let so = dir.join("lv.so");
    let out = sci(&[
        "compile",
        "examples/lotka_volterra.sci",
        "-o",
        so.to_str().unwrap(),
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let bytes = std::fs::read(&so).unwrap();
    assert_eq!(&bytes[..4], b"\x7fELF");
    let obj = dir.join("lv.o");
    let out = sci(&[
        "compile",
        "examples/lotka_volterra.sci",
        "-o",
        obj.to_str().unwrap(),
        "--target-cpu",
        "x86-64-v2",
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let out = sci(&[
        "compile",
        "examples/lotka_volterra.sci",
        "-o",
        obj.to_str().unwrap(),
        "--target-cpu",
        "skylak",
    ]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("skylake"));
}
