//! The MLIR back end: the CPU path against the interpreter (every IR filetest module,
//! random programs, every structured op with edge values and run-time failures; this file),
//! the GPU path's PTX assembled by a real `ptxas -arch=sm_90` with exactly the kernel
//! entries and parameters of the kernel ABI (`mlir/gpu.rs`), and the kernels run on the CPU
//! against the interpreter (`mlir/emulated.rs`); see `docs/mlir.md`.
//!
//! `ptxas` comes from `$SCI_PTXAS`, else from `scripts/install-ptxas.sh`'s
//! `target/cuda-tools/`; the PTX tests fail with a message when neither exists.

#![cfg(feature = "mlir")]

mod mlir {
    pub mod emulated;
    pub mod gpu;
    pub mod structured;
}

use mlir::structured::{STRUCTURED, structured_inputs};
use sci_codegen::Backend;
use sci_codegen::difftest::{Inputs, Report, Tolerance, check_module};
use sci_codegen::mlir::{MlirBackend, PtxOptions, emit_gpu_mlir, emit_mlir, emit_ptx};
use sci_ir::kernels::kernel_sites;
use sci_ir::random::{RandomOptions, random_function};
use sci_ir::{FuncId, Module, Tensor};
use std::path::{Path, PathBuf};

/// The bar of the brief: 1e-12 relative. (The CPU path calls the interpreter's libm and
/// sums left to right, so it is in fact bit-identical; `exact_where_the_interpreter_is`
/// checks that on the structured module.)
const TOL: Tolerance = Tolerance::DEFAULT;

pub fn read(text: &str) -> Module {
    let module = sci_ir::read_module(sci_diag::FileId(0), text).unwrap();
    sci_ir::validate_module(&module).unwrap();
    module
}

fn check(
    label: &str,
    module: &Module,
    inputs: &Inputs<'_>,
    tol: Tolerance,
) -> (Report, Vec<String>) {
    match check_module(&MlirBackend::new(), module, inputs, tol) {
        Ok((r, m)) => (r, m.iter().map(|m| format!("{label}: {m}")).collect()),
        Err(e) => (Report::default(), vec![format!("{label}: {e}")]),
    }
}

pub fn filetest_modules() -> Vec<(PathBuf, Module)> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../ir/tests/filetests");
    let mut paths: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    paths.sort();
    let mut modules = Vec::new();
    for path in paths {
        let text = std::fs::read_to_string(&path).unwrap();
        let Ok(module) = sci_ir::read_module(sci_diag::FileId(0), &text) else {
            continue;
        };
        if sci_ir::validate_module(&module).is_ok() {
            modules.push((path, module));
        }
    }
    modules
}

#[test]
fn ir_filetests_match_the_interpreter() {
    let mut checked = 0;
    let mut failures = Vec::new();
    for (path, module) in filetest_modules() {
        let (report, f) = check(
            &path.display().to_string(),
            &module,
            &Inputs::Random(0..20),
            TOL,
        );
        checked += report.compared;
        failures.extend(f);
    }
    eprintln!("filetests: {checked} calls compared");
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    assert!(checked > 100, "only {checked} calls compared");
}

/// 220 random programs (200 small, 20 large), two input sets each.
#[test]
fn random_programs_match_the_interpreter() {
    let small = RandomOptions::default();
    let large = RandomOptions {
        ops: 40,
        max_depth: 3,
        max_extent: 9,
        ..RandomOptions::default()
    };
    let mut total = Report::default();
    let mut failures = Vec::new();
    let seeds = (0..200)
        .map(|s| (s, &small))
        .chain((1000..1020).map(|s| (s, &large)));
    for (seed, options) in seeds {
        let module = random_function(seed, options);
        let (r, f) = check(
            &format!("seed {seed}"),
            &module,
            &Inputs::Random(seed..seed + 2),
            TOL,
        );
        total += r;
        failures.extend(f);
    }
    eprintln!("random programs: {total:?}");
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    assert!(total.compared > 400, "{total:?}");
}

#[test]
fn structured_ops_match_the_interpreter() {
    let module = read(STRUCTURED);
    let given = |m: &Module, f: FuncId| structured_inputs(m, f);
    let (report, failures) = check("structured", &module, &Inputs::Given(&given), TOL);
    eprintln!("structured: {report:?}");
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    // Every function has code, and the run-time failures were seen on both sides.
    assert_eq!(report.unavailable, 0, "{report:?}");
    assert!(report.compared > 250, "{report:?}");
    assert!(report.both_failed >= 10, "{report:?}");
}

/// The CPU path calls the interpreter's libm and adds in the interpreter's order, so it is
/// bit-identical to it.
#[test]
fn exact_where_the_interpreter_is() {
    let module = read(STRUCTURED);
    let given = |m: &Module, f: FuncId| structured_inputs(m, f);
    let (_, failures) = check(
        "structured",
        &module,
        &Inputs::Given(&given),
        Tolerance::EXACT,
    );
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn compiled_code_runs_on_many_threads() {
    let module = read(STRUCTURED);
    let code = MlirBackend::new().compile(&module).unwrap();
    let x = Tensor::vector((0..32).map(|k| k as f64 * 0.1).collect());
    let want = sci_ir::Interpreter::new(&module)
        .unwrap()
        .call_named("fold_sum", std::slice::from_ref(&x))
        .unwrap();
    let index = code.index_of("fold_sum").unwrap();
    std::thread::scope(|s| {
        for _ in 0..4 {
            s.spawn(|| {
                for _ in 0..100 {
                    let mut out = [0.0];
                    code.call_flat(index, &[&x.data], &mut out).unwrap();
                    assert_eq!(out[0].to_bits(), want.data[0].to_bits());
                }
            });
        }
    });
}

#[test]
fn wrong_lengths_are_errors_not_calls() {
    let module = read(STRUCTURED);
    let code = MlirBackend::new().compile(&module).unwrap();
    let k = code.index_of("map_scale").unwrap();
    let err = code
        .call_flat(k, &[&[1.0, 2.0], &[1.0; 7]], &mut [0.0; 6])
        .unwrap_err();
    assert!(
        err.message.contains("whole number of points"),
        "{}",
        err.message
    );
    let err = code
        .call_flat(k, &[&[1.0, 2.0], &[1.0; 6]], &mut [0.0; 5])
        .unwrap_err();
    assert!(
        err.message.contains("must have 6 elements"),
        "{}",
        err.message
    );
    let err = code
        .call_flat(k, &[&[1.0, 2.0], &[1.0; 9]], &mut [0.0; 6])
        .unwrap_err();
    assert!(
        err.message.contains("batch size mismatch"),
        "{}",
        err.message
    );
    let err = code.call_flat(99, &[], &mut []).unwrap_err();
    assert!(err.message.contains("no function #99"), "{}", err.message);
}

#[test]
fn deriv_placeholders_are_unavailable_not_compiled() {
    let module = read(
        r#"
module D

func f(%x: f64) -> f64 {
  %y: f64 = sin %x
  return %y
}

func g(%x: f64) -> f64 {
  %y: f64 = mul %x, %x
  %d: f64 = deriv %y wrt %x
  return %d
}

func h(%x: f64) -> f64 {
  %d: f64 = call @g(%x)
  return %d
}
"#,
    );
    let code = MlirBackend::new().compile(&module).unwrap();
    for name in ["g", "h"] {
        let k = code.index_of(name).unwrap();
        assert!(code.functions()[k].unavailable.is_some());
        let err = code.call_flat(k, &[&[1.0]], &mut [0.0]).unwrap_err();
        assert!(err.message.contains("deriv"), "{}", err.message);
    }
    let (report, mismatches) =
        check_module(&MlirBackend::new(), &module, &Inputs::Random(0..5), TOL).unwrap();
    assert!(mismatches.is_empty());
    assert_eq!((report.compared, report.unavailable), (5, 2));
}

#[test]
fn invalid_ir_is_an_error_with_a_sentence() {
    let text = "module Bad\n\nfunc f(%x: f64[2], %y: f64[3]) -> f64[2] {\n  %s: f64[2] = add %x, %y\n  return %s\n}\n";
    let module = sci_ir::read_module(sci_diag::FileId(0), text).unwrap();
    let err = MlirBackend::new().compile(&module).unwrap_err();
    assert!(err.message.contains("not valid IR"), "{}", err.message);
    let err = emit_ptx(&module, &PtxOptions::default()).unwrap_err();
    assert!(err.message.contains("not valid IR"), "{}", err.message);
    assert_eq!(MlirBackend::new().name(), "mlir");
}

/// The emitted text is structured MLIR: loops are `scf.for`, buffers `memref`, math the
/// libm shims, with no fast-math flag anywhere.
#[test]
fn emitted_mlir_is_structured_and_strict() {
    let text = emit_mlir(&read(STRUCTURED)).unwrap();
    for needle in [
        "func.func @sci_f0(%a0: memref<?xf64>, %a0o: index, %out: memref<?xf64>, %outo: index) -> i32",
        "scf.for",
        "iter_args(",
        "memref.load",
        "func.call @sci_libm_sin(",
        "func.func private @sci_libm_pow(f64, f64) -> f64",
        "memref.global \"private\" constant",
        "memref.alloc(",
        "memref.dealloc",
    ] {
        assert!(text.contains(needle), "`{needle}` missing from:\n{text}");
    }
    assert!(!text.contains("fastmath"), "{text}");
    let (gpu, names) = emit_gpu_mlir(&read(STRUCTURED)).unwrap();
    assert!(gpu.contains("gpu.module @sci_kernels"), "{gpu}");
    assert!(
        gpu.contains("math.tanh") || gpu.contains("math.exp"),
        "{gpu}"
    );
    assert!(!gpu.contains("sci_libm"), "{gpu}");
    assert_eq!(names.len(), kernel_sites(&read(STRUCTURED)).len() + 4);
}

pub fn has_deriv(module: &Module) -> bool {
    module.functions.iter().any(|(_, f)| {
        f.values
            .iter()
            .any(|(_, v)| matches!(v.op, sci_ir::Op::Deriv { .. }))
    })
}
