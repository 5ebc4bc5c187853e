//! The MLIR back end through the root crate: `sci compile --target nvptx --emit ptx` on the
//! Burgers PINN (one `.entry` per kernel site of the module the CLI compiles, plus the four
//! column reductions, assembled by `ptxas -arch=sm_90`) and a snapshot of the MLIR text of
//! a small module; models solved and trained with `--backend mlir`. (Every example's
//! functions run through the MLIR CPU path in `codegen/tests/backends.rs`, with every
//! other back end.)
//!
//! `ptxas` comes from `$SCI_PTXAS`, else from `scripts/install-ptxas.sh`'s
//! `target/cuda-tools/`; the PTX tests fail with a message when neither exists.

#![cfg(feature = "mlir")]

use sci::codegen::mlir::emit_mlir;
use sci::ir::kernels::kernel_sites;
use std::path::{Path, PathBuf};
use std::process::Command;

const BURGERS: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/examples/burgers_pinn.sci");

fn sci() -> Command {
    Command::new(env!("CARGO_BIN_EXE_sci"))
}

fn ptxas() -> PathBuf {
    if let Some(p) = std::env::var_os("SCI_PTXAS") {
        return PathBuf::from(p);
    }
    let p =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("target/cuda-tools/nvidia/cuda_nvcc/bin/ptxas");
    assert!(
        p.is_file(),
        "ptxas not found at {}: run `scripts/install-ptxas.sh` (or set SCI_PTXAS)",
        p.display()
    );
    p
}

/// The `.entry` names of `ptx` with their parameter counts.
fn entries(ptx: &str) -> Vec<(String, usize)> {
    let mut out = Vec::new();
    let mut lines = ptx.lines();
    while let Some(line) = lines.next() {
        let Some(rest) = line.trim().strip_prefix(".visible .entry ") else {
            continue;
        };
        let name = rest.split('(').next().unwrap().trim().to_string();
        let mut params = 0;
        for l in lines.by_ref() {
            if l.trim_start().starts_with(".param") {
                params += 1;
            }
            if l.trim_end().ends_with(')') {
                break;
            }
        }
        out.push((name, params));
    }
    out.sort();
    out
}

/// The module `sci compile` compiles for `path`: the front end (derivatives expanded) and
/// the derivative functions the runtime adds (`sci::jit::runtime_module`).
fn compiled_module(path: &str) -> sci::Module {
    let text = std::fs::read_to_string(path).unwrap();
    let analysis = sci::analyze(sci::diag::FileId(0), &text);
    assert!(!analysis.has_errors(), "{:?}", analysis.diagnostics);
    assert_eq!(analysis.modules.len(), 1);
    sci::jit::runtime_module(&analysis.modules[0]).unwrap()
}

#[test]
fn burgers_ptx_has_one_entry_per_kernel_site_and_assembles() {
    let out = sci()
        .args(["compile", BURGERS, "--target", "nvptx", "--emit", "ptx"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let ptx = String::from_utf8(out.stdout).unwrap();
    let module = compiled_module(BURGERS);
    let sites = kernel_sites(&module);
    // The residuals, their derivatives, and the loss gradient all batch over points.
    assert!(sites.len() >= 4, "{sites:?}");
    let mut want: Vec<(String, usize)> = sites
        .iter()
        .map(|s| {
            (
                s.name.clone(),
                1 + 5 * (s.inputs.len() + s.captures.len() + 2),
            )
        })
        .collect();
    for op in ["sum", "prod", "max", "min"] {
        want.push((format!("sci_reduce_cols_{op}"), 13));
    }
    want.sort();
    assert_eq!(entries(&ptx), want);
    assert!(ptx.contains(".target sm_90") && !ptx.contains(".extern"));

    // `-o` writes the same text; ptxas assembles it.
    let dir = std::env::temp_dir().join(format!("sci-ptx-cli-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("burgers.ptx");
    let status = sci()
        .args([
            "compile", BURGERS, "--target", "nvptx", "--emit", "ptx", "-o",
        ])
        .arg(&file)
        .status()
        .unwrap();
    assert!(status.success());
    assert_eq!(std::fs::read_to_string(&file).unwrap(), ptx);
    let out = Command::new(ptxas())
        .arg("-arch=sm_90")
        .arg(&file)
        .arg("-o")
        .arg(dir.join("burgers.cubin"))
        .output()
        .expect("cannot run ptxas");
    assert!(
        out.status.success(),
        "ptxas: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn nvptx_needs_emit_ptx() {
    let out = sci()
        .args(["compile", BURGERS, "--target", "nvptx"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("--emit ptx"), "{err}");
}

/// The MLIR text of a small module: the calling convention, loops, the status word and a
/// map (see docs/mlir.md).
#[test]
fn mlir_text_of_a_small_module() {
    let text = "module Small
func scale(%θ: f64[2], %x: batch f64) -> f64 {
  %c0: i64 = const 0
  %a: f64 = index %θ[%c0]
  %r: batch f64 = map %x (%xi: f64) {
    %y: f64 = mul %a, %xi
    %t: f64 = tanh %y
    yield %t
  }
  %s: f64 = reduce_batch sum %r
  return %s
}
";
    let module = sci::ir::read_module(sci::diag::FileId(0), text).unwrap();
    insta::assert_snapshot!("small_module_mlir", emit_mlir(&module).unwrap());
}

/// The embedding API and the CLI run models on the MLIR CPU path (`--backend mlir`): a stiff
/// solve reaches Robertson's published value and training takes steps.
#[test]
fn models_run_and_train_on_the_mlir_backend() {
    use sci::stdlib::ode::{Method, SolveOptions};
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/examples/robertson.sci");
    let text = std::fs::read_to_string(path).unwrap();
    let compiled = sci::Compiler::new()
        .backend(sci::BackendKind::Mlir)
        .compile_source(path, &text)
        .unwrap();
    let m = compiled.model("Robertson").unwrap();
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

    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("mlir_cli");
    std::fs::create_dir_all(&dir).unwrap();
    let params = dir.join("p.json");
    let out = sci()
        .args([
            "train",
            "examples/burgers_pinn.sci",
            "--backend",
            "mlir",
            "--steps",
            "3",
        ])
        .arg("--out")
        .arg(&params)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let json = std::fs::read_to_string(&params).unwrap();
    assert!(json.contains("u.w0"), "{json}");
}
