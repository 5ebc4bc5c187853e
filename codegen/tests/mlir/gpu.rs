//! The GPU path: PTX assembled by `ptxas -arch=sm_90`, with the kernel ABI's entries and
//! parameter counts, and the libdevice error.

use crate::{filetest_modules, has_deriv, read, structured};
use sci_codegen::mlir::{PtxOptions, emit_ptx};
use sci_ir::Module;
use sci_ir::kernels::kernel_sites;
use sci_ir::random::{RandomOptions, random_function};
use std::path::{Path, PathBuf};
use std::process::Command;

/// `ptxas`: `$SCI_PTXAS`, else the one `scripts/install-ptxas.sh` installs.
fn ptxas() -> PathBuf {
    if let Some(p) = std::env::var_os("SCI_PTXAS") {
        return PathBuf::from(p);
    }
    let p = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../target/cuda-tools/nvidia/cuda_nvcc/bin/ptxas");
    assert!(
        p.is_file(),
        "ptxas not found at {}: run `scripts/install-ptxas.sh` (or set SCI_PTXAS)",
        p.display()
    );
    p
}

/// Assembles `ptx` for sm_90; panics with ptxas's message when it fails.
fn assemble(label: &str, ptx: &str) {
    let dir = std::env::temp_dir().join(format!("sci-mlir-ptx-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let name: String = label
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
        .collect();
    let file = dir.join(format!("{name}.ptx"));
    std::fs::write(&file, ptx).unwrap();
    let out = Command::new(ptxas())
        .arg("-arch=sm_90")
        .arg(&file)
        .arg("-o")
        .arg(file.with_extension("cubin"))
        .output()
        .expect("cannot run ptxas");
    assert!(
        out.status.success(),
        "ptxas rejected the PTX of {label}:\n{}\n{}",
        String::from_utf8_lossy(&out.stderr),
        ptx
    );
    let _ = std::fs::remove_file(&file);
    let _ = std::fs::remove_file(file.with_extension("cubin"));
}

/// The `.entry` names of `ptx` with their parameter counts, in order.
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
            if l.trim_start().starts_with(')') || l.trim_end().ends_with(')') {
                break;
            }
        }
        out.push((name, params));
    }
    out
}

/// Emits, checks the entries against the kernel ABI, and assembles the PTX of `module`.
fn check_ptx(label: &str, module: &Module) -> String {
    let ptx = emit_ptx(module, &PtxOptions::default()).unwrap_or_else(|e| panic!("{label}: {e}"));
    let sites = kernel_sites(module);
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
        want.push((format!("sci_reduce_cols_{op}"), 3 + 5 * 2));
    }
    let names: Vec<String> = want.iter().map(|w| w.0.clone()).collect();
    assert_eq!(ptx.kernels, names, "{label}");
    let mut got = entries(&ptx.text);
    got.sort();
    want.sort();
    assert_eq!(
        got, want,
        "{label}: entries and parameter counts\n{}",
        ptx.text
    );
    assert!(ptx.text.contains(".target sm_90"), "{label}");
    assert!(!ptx.text.contains(".extern"), "{label}: unresolved externs");
    assert!(ptx.text.contains(".f64"), "{label}: no f64 code");
    assemble(label, &ptx.text);
    ptx.text
}

/// A Burgers-like PINN residual: a 2-20-20-1 tanh MLP per collocation point (matvecs with
/// captured weights), a fused `reduce_batch mean`, and a second map calling a device
/// function.
pub const MLP: &str = r#"
module Mlp

func layer(%w: f64[20, 20], %b: f64[20], %h: f64[20]) -> f64[20] {
  %z: f64[20] = matvec %w, %h
  %y: f64[20] = add %z, %b
  %a: f64[20] = tanh %y
  return %a
}

func loss(%w1: f64[20, 2], %b1: f64[20], %w2: f64[20, 20], %b2: f64[20], %w3: f64[20], %tx: batch f64[2]) -> f64 {
  %r: batch f64 = map %tx (%p: f64[2]) {
    %z1: f64[20] = matvec %w1, %p
    %y1: f64[20] = add %z1, %b1
    %h1: f64[20] = tanh %y1
    %h2: f64[20] = call @layer(%w2, %b2, %h1)
    %u: f64 = dot %w3, %h2
    %c0: i64 = const 0
    %t: f64 = index %p[%c0]
    %e: f64 = exp %t
    %s: f64 = sub %u, %e
    %sq: f64 = mul %s, %s
    yield %sq
  }
  %l: f64 = reduce_batch mean %r
  return %l
}

func bounds(%tx: batch f64[2], %k: batch i64) -> batch f64[2] {
  %v: f64[3] = literal [0.5, -1, 2]
  %r: batch f64[2] = map %tx, %k (%p: f64[2], %ki: i64) {
    %x: f64 = index %v[%ki]
    %b: f64[2] = broadcast %x
    %q: f64[2] = mul %b, %p
    %f: f32[2] = cast %q
    %g: f32[2] = sqrt %f
    %back: f64[2] = cast %g
    yield %back
  }
  return %r
}
"#;

#[test]
fn mlp_kernels_assemble_with_the_abi_parameters() {
    let module = read(MLP);
    let text = check_ptx("mlp", &module);
    // tanh and exp come from libdevice, linked in (its polynomials use FMAs): no external
    // calls remain.
    assert!(text.contains("fma.rn.f64"), "libdevice code missing");
    let sites = kernel_sites(&module);
    assert_eq!(sites.len(), 2);
    assert_eq!(sites[0].captures.len(), 5, "{:?}", sites[0]);
}

#[test]
fn filetest_maps_and_random_maps_assemble() {
    let mut assembled = 0;
    for (path, module) in filetest_modules() {
        if kernel_sites(&module).is_empty() || has_deriv(&module) {
            continue;
        }
        check_ptx(&path.display().to_string(), &module);
        assembled += 1;
    }
    assert!(assembled >= 1, "no filetest has a map");
    eprintln!("assembled: {assembled} filetest modules");
    let mut with_maps = 0;
    for seed in 0..40 {
        let module = random_function(seed, &RandomOptions::default());
        if kernel_sites(&module).is_empty() {
            continue;
        }
        check_ptx(&format!("random {seed}"), &module);
        with_maps += 1;
    }
    eprintln!("assembled: {with_maps} random modules");
    assert!(with_maps >= 10, "only {with_maps} random modules have maps");
}

#[test]
fn structured_module_kernels_assemble() {
    check_ptx("structured", &structured());
}

#[test]
fn a_module_without_maps_has_the_reduction_kernels_only() {
    let module =
        read("module Plain\nfunc f(%x: f64) -> f64 {\n  %y: f64 = mul %x, %x\n  return %y\n}\n");
    let text = check_ptx("plain", &module);
    assert_eq!(entries(&text).len(), 4);
}

#[test]
fn missing_libdevice_is_a_clear_error() {
    let options = PtxOptions {
        libdevice: None,
        ..PtxOptions::default()
    };
    let err = emit_ptx(&read(MLP), &options).unwrap_err();
    assert!(err.message.contains("libdevice"), "{}", err.message);
    assert!(err.message.contains("install-ptxas.sh"), "{}", err.message);
    assert!(err.message.contains("tanh"), "{}", err.message);
    let missing = PtxOptions {
        libdevice: Some(PathBuf::from("/nonexistent/libdevice.10.bc")),
        ..PtxOptions::default()
    };
    let err = emit_ptx(&read(MLP), &missing).unwrap_err();
    assert!(err.message.contains("/nonexistent/"), "{}", err.message);
    // Without math functions no libdevice is needed.
    let plain = read(
        "module P\nfunc f(%x: batch f64) -> batch f64 {\n  %r: batch f64 = map %x (%a: f64) {\n    %y: f64 = mul %a, %a\n    yield %y\n  }\n  return %r\n}\n",
    );
    let ptx = emit_ptx(&plain, &options).unwrap();
    assert_eq!(ptx.kernels.len(), 5);
    assemble("plain_without_libdevice", &ptx.text);
}
