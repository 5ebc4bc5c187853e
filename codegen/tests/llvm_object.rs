//! Object files from the LLVM back end: a relocatable ELF that exports every compiled
//! function under its C symbol and references nothing but libm and the allocator; a C
//! program compiled with the system `cc` against it and the header of `c_header` prints the
//! interpreter's numbers (scalars, tensors, batches, calls between functions, libm math,
//! a status), for the host CPU and for a named one; unknown CPU names are errors.

#![cfg(feature = "llvm")]

use object::{Object, ObjectSymbol};
use sci_codegen::llvm::{LlvmOptions, ObjectCode, emit_object};
use sci_codegen::{Backend, InterpreterBackend, header::c_header};
use sci_ir::Module;
use std::path::{Path, PathBuf};
use std::process::Command;

/// Math through libm, a call between functions, an `f32` cast.
const DEMO: &str = "module Demo

func wave(%x: f64, %y: f64) -> f64 {
  %s: f64 = sin %x
  %e: f64 = exp %y
  %m: f64 = mul %s, %e
  %p: f64 = pow %y, %x
  %t: f64 = tanh %p
  %r: f64 = add %m, %t
  return %r
}

func twice(%x: f64, %y: f64) -> f64 {
  %a: f64 = call @wave(%x, %y)
  %b: f64 = call @wave(%y, %x)
  %r: f64 = atan2 %a, %b
  return %r
}
";

fn read(text: &str) -> Module {
    sci_ir::read_module(sci_diag::FileId(0), text).unwrap()
}

fn filetest(name: &str) -> Module {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../ir/tests/filetests")
        .join(name);
    read(&std::fs::read_to_string(path).unwrap())
}

/// Three modules in one object: scalars and math, tensors (`LotkaVolterra`), batches and
/// `reduce_batch` (`Fit`).
fn modules() -> Vec<Module> {
    vec![
        read(DEMO),
        filetest("lotka_volterra.sir"),
        filetest("map_reduce.sir"),
    ]
}

fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("sci_llvm_object_{}_{name}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// The symbols `emit_object` says it defined.
fn exported(code: &ObjectCode) -> Vec<String> {
    code.modules
        .iter()
        .flatten()
        .filter_map(|(_, s)| s.clone())
        .collect()
}

#[test]
fn the_object_is_elf_and_exports_every_function() {
    let modules = modules();
    let code = emit_object(&modules, &LlvmOptions::default(), None).unwrap();
    assert!(code.bytes.starts_with(b"\x7fELF"));
    let file = object::File::parse(&*code.bytes).unwrap();
    assert_eq!(file.kind(), object::ObjectKind::Relocatable);
    let want = exported(&code);
    let names: Vec<String> = modules
        .iter()
        .flat_map(sci_codegen::abi::symbol_names)
        .collect();
    assert_eq!(want, names, "every function has code");
    for name in &want {
        let sym = file
            .symbol_by_name(name)
            .unwrap_or_else(|| panic!("`{name}` is not in the object"));
        assert!(sym.is_definition() && sym.is_global(), "`{name}`: {sym:?}");
    }
    // Only libm, the allocator and the C library's memory functions are left to the linker:
    // no private `sci.libm.*` name survives.
    let allowed = [
        "sin", "cos", "tan", "asin", "acos", "atan", "sinh", "cosh", "tanh", "exp", "log", "log1p",
        "erf", "pow", "atan2", "floor", "malloc", "free", "memcpy", "memset", "memmove",
    ];
    let undefined: Vec<String> = file
        .symbols()
        .filter(|s| s.is_undefined() && !s.name().unwrap_or("").is_empty())
        .map(|s| s.name().unwrap().to_string())
        .collect();
    for name in &undefined {
        assert!(
            allowed.contains(&name.as_str()),
            "unexpected undefined symbol `{name}` (all: {undefined:?})"
        );
    }
    assert!(undefined.iter().any(|n| n == "sin"), "{undefined:?}");
    // The packed entries are the JIT's; objects do not export them.
    assert!(
        file.symbols()
            .all(|s| !s.name().unwrap_or("").ends_with("__packed"))
    );
}

const PROGRAM: &str = r#"
#include <stdio.h>
#include "model.h"

static void show(const double *x, int n) {
    for (int i = 0; i < n; i++) printf("%.17g ", x[i]);
    printf("\n");
}

int main(void) {
    double r;
    if (sci_Demo_wave(0.5, 1.25, &r) != SCI_OK) return 1;
    show(&r, 1);
    if (sci_Demo_twice(0.5, 1.25, &r) != SCI_OK) return 2;
    show(&r, 1);
    double y[2] = {1.25, 0.5}, dy[2];
    if (sci_LotkaVolterra_rhs(0.0, y, sci_LotkaVolterra_params_default, dy) != SCI_OK) return 3;
    show(dy, 2);
    double theta[2] = {2, 1}, pts[8] = {0, 1, 1, 3, 2, 4, 0.5, -1}, res[4];
    if (sci_Fit_residual(theta, pts, 4, res) != SCI_OK) return 4;
    show(res, 4);
    if (sci_Fit_loss(theta, pts, 4, &r) != SCI_OK) return 5;
    show(&r, 1);
    /* An empty batch has no mean: a status, not a crash. */
    printf("%d %d\n", sci_Fit_loss(theta, pts, 0, &r), SCI_EMPTY_BATCH);
    return 0;
}
"#;

/// Writes the object and header, compiles `PROGRAM` against them with `cc` and runs it;
/// returns stdout's numbers per line.
fn run_c(dir: &Path, modules: &[Module], code: &ObjectCode) -> Vec<Vec<f64>> {
    std::fs::write(dir.join("model.o"), &code.bytes).unwrap();
    std::fs::write(dir.join("model.h"), c_header(modules, "model.sci").unwrap()).unwrap();
    std::fs::write(dir.join("main.c"), PROGRAM).unwrap();
    let exe = dir.join("main");
    let out = Command::new("cc")
        .current_dir(dir)
        .args([
            "-std=c99", "-Wall", "-Wextra", "-Werror", "-O1", "main.c", "model.o", "-lm", "-o",
        ])
        .arg(&exe)
        .output()
        .expect("the C compiler `cc` must be installed to test object files");
    assert!(
        out.status.success(),
        "cc failed:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // Position-independent: the object also links into a shared library.
    let so = Command::new("cc")
        .current_dir(dir)
        .args(["-shared", "model.o", "-lm", "-o", "libmodel.so"])
        .output()
        .unwrap();
    assert!(
        so.status.success(),
        "cc -shared failed:\n{}",
        String::from_utf8_lossy(&so.stderr)
    );
    let run = Command::new(&exe).output().unwrap();
    assert!(
        run.status.success(),
        "the C program failed:\n{}{}",
        String::from_utf8_lossy(&run.stdout),
        String::from_utf8_lossy(&run.stderr)
    );
    String::from_utf8(run.stdout)
        .unwrap()
        .lines()
        .map(|l| l.split_whitespace().map(|x| x.parse().unwrap()).collect())
        .collect()
}

/// Calls function `name` of `module` in the interpreter on flat inputs.
fn interp(module: &Module, name: &str, inputs: &[&[f64]], len: usize) -> Vec<f64> {
    let compiled = InterpreterBackend
        .compile(&sci_codegen::validate(module).unwrap())
        .unwrap();
    let index = compiled
        .functions()
        .iter()
        .position(|f| f.name == name)
        .unwrap();
    let mut out = vec![0.0; len];
    compiled.call_flat(index, inputs, &mut out).unwrap();
    out
}

fn assert_close(got: &[f64], want: &[f64], what: &str) {
    assert_eq!(got.len(), want.len(), "{what}: {got:?} vs {want:?}");
    for (g, w) in got.iter().zip(want) {
        assert!(
            (g - w).abs() <= 1e-14 * w.abs() + 1e-300,
            "{what}: C gave {got:?}, the interpreter {want:?}"
        );
    }
}

/// The C program's numbers against the interpreter: arithmetic bit for bit, libm math
/// within 1e-14 (the C side uses the system libm, the interpreter the `libm` crate).
fn check_against_interpreter(lines: &[Vec<f64>], modules: &[Module]) {
    let (demo, lv, fit) = (&modules[0], &modules[1], &modules[2]);
    assert_close(
        &lines[0],
        &interp(demo, "wave", &[&[0.5], &[1.25]], 1),
        "wave",
    );
    assert_close(
        &lines[1],
        &interp(demo, "twice", &[&[0.5], &[1.25]], 1),
        "twice",
    );
    let p = lv.params.defaults();
    assert_eq!(
        lines[2],
        interp(lv, "rhs", &[&[0.0], &[1.25, 0.5], &p], 2),
        "rhs"
    );
    let (theta, pts) = ([2.0, 1.0], [0.0, 1.0, 1.0, 3.0, 2.0, 4.0, 0.5, -1.0]);
    assert_eq!(
        lines[3],
        interp(fit, "residual", &[&theta, &pts], 4),
        "residual"
    );
    // The default compensated batch sum is within a few ulps of the interpreter's.
    assert_close(&lines[4], &interp(fit, "loss", &[&theta, &pts], 1), "loss");
    assert_eq!(lines[5], vec![3.0, 3.0], "empty batch status");
}

#[test]
fn a_c_program_linked_against_the_object_prints_the_interpreters_numbers() {
    let dir = scratch("host");
    let modules = modules();
    let code = emit_object(&modules, &LlvmOptions::default(), None).unwrap();
    assert!(!code.cpu.is_empty());
    let lines = run_c(&dir, &modules, &code);
    check_against_interpreter(&lines, &modules);
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_named_target_cpu_gives_a_portable_object() {
    let dir = scratch("x86_64");
    let modules = modules();
    let code = emit_object(&modules, &LlvmOptions::default(), Some("x86-64")).unwrap();
    assert_eq!(code.cpu, "x86-64");
    let lines = run_c(&dir, &modules, &code);
    check_against_interpreter(&lines, &modules);
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn unknown_target_cpus_are_errors() {
    let modules = vec![read(DEMO)];
    let err = emit_object(&modules, &LlvmOptions::default(), Some("skylak")).unwrap_err();
    assert!(
        err.message
            .starts_with("`skylak` is not an x86-64 CPU that LLVM knows. Did you mean `skylake`?"),
        "{}",
        err.message
    );
    // A 32-bit processor would make LLVM abort the process: refused before LLVM sees it.
    let err = emit_object(&modules, &LlvmOptions::default(), Some("i686")).unwrap_err();
    assert!(err.message.contains("`i686`"), "{}", err.message);
    assert!(emit_object(&modules, &LlvmOptions::default(), Some("native")).is_ok());
}

#[test]
fn modules_whose_symbols_clash_are_refused() {
    let err = emit_object(&[read(DEMO), read(DEMO)], &LlvmOptions::default(), None).unwrap_err();
    assert!(
        err.message
            .starts_with("Two functions would both be exported as `sci_Demo_wave`"),
        "{}",
        err.message
    );
}
