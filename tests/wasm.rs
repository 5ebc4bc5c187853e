//! WebAssembly (`sci compile --target wasm32`, `sci::wasm`) run in wasmtime against the
//! reference interpreter and the native LLVM JIT, over the back ends' differential suite:
//! the IR filetests (the structured stress module with its edge cases among them), every
//! lowered example of `codegen/tests/examples` (also batch-major with outlined tiles, as
//! the JITs and `sci::wasm::compile` get them), random IR programs, and every
//! `examples/*.sci` compiled through the front end by `sci::wasm::compile`. Every module
//! passes wabt's `wasm-validate`.
//!
//! Bars (measured on this suite; the numbers are printed with `--nocapture`):
//! - arithmetic-only functions: **bit-identical** to the native LLVM JIT (the same
//!   lowering, compensated batch sums included) and to the interpreter (except compensated
//!   `reduce_batch` sums: 1e-12 relative, `Tolerance::DEFAULT`, as for every native back
//!   end);
//! - functions calling libm: wasi-libc's musl (whose `exp`, `log`, `pow` are ARM's
//!   optimized routines) and the `libm` crate the interpreter and JITs call (fdlibm's
//!   algorithms) differ by at most 2 ulps per call (`LIBM_ULPS`, measured function by
//!   function, gelu/dgelu more where `1 + erf` cancels); whole functions within 1e-14
//!   norm-wise relative (`MATH`; measured at most 1.4e-15);
//! - batch-major code against the JIT: 1e-12 norm-wise (`Tolerance::NORMWISE`): the JITs'
//!   matrix-product kernels reorder a layer's sums; wasm adds in the interpreter's order.
//!
//! Run-time failures give the native statuses, and wrong input sizes are errors.

#![cfg(feature = "wasmtime")]

mod common;

use sci::codegen::difftest::{Inputs, Report, Tolerance, check_module, structured_inputs};
use sci::codegen::{Backend, CodegenError, CompiledFunction, CompiledModule};
use sci::ir::random::{RandomOptions, random_function, random_inputs};
use sci::ir::{FuncId, Interpreter, Module, Op, Tensor, ValidModule};
use sci::wasm::Runtime;
use sci::wasm::runtime::WasmModule;
use std::path::{Path, PathBuf};

// ---------------------------------------------------------------------------------------
// Validation with wabt

/// wabt's `wasm-validate`, or a failure saying how to install it.
fn wasm_validate_binary() -> PathBuf {
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .map(|d| d.join("wasm-validate"))
        .find(|p| p.is_file())
        .unwrap_or_else(|| {
            panic!(
                "wabt's `wasm-validate` is not on the PATH: install it with \
                 `scripts/install-system.sh wasm` (Debian's `wabt`)"
            )
        })
}

/// Runs `wasm-validate` on `bytes`; a failure names `label` and wabt's message.
fn validate_wasm(bytes: &[u8], label: &str) {
    let validator = wasm_validate_binary();
    static SEQUENCE: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
    let k = SEQUENCE.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let path = Path::new(env!("CARGO_TARGET_TMPDIR"))
        .join(format!("wasm-validate-{}-{k}.wasm", std::process::id()));
    std::fs::write(&path, bytes).unwrap();
    let out = std::process::Command::new(&validator)
        .arg(&path)
        .output()
        .unwrap();
    let _ = std::fs::remove_file(&path);
    assert!(
        out.status.success(),
        "{label}: wasm-validate rejects the module:\n{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// `sci::wasm::runtime::WasmBackend` with every module checked by `wasm-validate` first.
struct ValidatingBackend;

impl Backend for ValidatingBackend {
    fn name(&self) -> &'static str {
        "wasm32 (wasmtime, validated)"
    }

    fn compile(&self, module: &ValidModule) -> Result<Box<dyn CompiledModule>, CodegenError> {
        let ir = module.module();
        let package = sci::wasm::compile_lowered(std::slice::from_ref(ir), "test", "test.wasm")
            .map_err(CodegenError::new)?;
        validate_wasm(&package.wasm, &ir.name);
        Ok(Box::new(WasmModule::new(module, &package)?))
    }
}

// ---------------------------------------------------------------------------------------
// The suites

fn read_sir(path: &Path) -> Option<Module> {
    let text = std::fs::read_to_string(path).unwrap();
    let module = sci::ir::read_module(sci::diag::FileId(0), &text).ok()?;
    sci::ir::validate_module(&module).ok()?;
    Some(module)
}

fn sir_files(dir: &str) -> Vec<PathBuf> {
    common::files_with_extension(dir, "sir")
}

/// Every IR filetest module that reads and validates.
fn filetest_modules() -> Vec<(String, Module)> {
    sir_files("ir/tests/filetests")
        .iter()
        .filter_map(|p| Some((p.display().to_string(), read_sir(p)?)))
        .collect()
}

/// The lowered examples of the back ends' suite (`codegen/tests/examples`).
fn lowered_examples() -> Vec<(String, Module)> {
    sir_files("codegen/tests/examples")
        .iter()
        .map(|p| (p.display().to_string(), read_sir(p).unwrap()))
        .collect()
}

/// `module` batch-major with its tile bodies outlined (as `sci::jit::batch_major` makes it).
fn batch_major(module: &Module) -> Module {
    let mut tiled = module.clone();
    sci::passes::tile::tile_module(&mut tiled, sci::passes::tile::DEFAULT_LANES);
    sci::passes::tile::outline_tiles(&mut tiled);
    tiled
}

// ---------------------------------------------------------------------------------------
// What a function computes: arithmetic only, or transcendental math; compensated sums

#[derive(Clone, Copy, Default)]
struct Kind {
    /// Calls libm (`sin`, `exp`, `pow`, `erf`, the activations built on them, FFTs).
    math: bool,
    /// Sums batches (compensated in compiled code, left to right in the interpreter).
    batch_sum: bool,
}

fn op_kind(op: &Op) -> Kind {
    use sci::ir::{BinaryOp, ReduceOp, UnaryOp};
    let math = match op {
        Op::Unary(u, _) => !matches!(
            u,
            UnaryOp::Neg | UnaryOp::Abs | UnaryOp::Sqrt | UnaryOp::Floor | UnaryOp::Not
        ),
        Op::Binary(b, _, _) => matches!(b, BinaryOp::Pow | BinaryOp::Atan2),
        Op::Powi(_, n) => !matches!(n, -1..=2),
        Op::Rfft { .. } | Op::Irfft { .. } | Op::Rfft2 { .. } | Op::Irfft2 { .. } => true,
        _ => false,
    };
    let batch_sum = match op {
        Op::ReduceBatch(r, _) => matches!(r, ReduceOp::Sum | ReduceOp::Mean),
        Op::TileMap { reduce, .. } => matches!(reduce, Some(ReduceOp::Sum | ReduceOp::Mean)),
        _ => false,
    };
    Kind { math, batch_sum }
}

/// The kind of every function, callees included.
fn kinds(module: &Module) -> Vec<Kind> {
    let ids: Vec<FuncId> = module.functions.iter().map(|(id, _)| id).collect();
    let mut kinds: Vec<Kind> =
        ids.iter()
            .map(|&id| {
                module.functions.get(id).unwrap().values.iter().fold(
                    Kind::default(),
                    |k, (_, v)| {
                        let o = op_kind(&v.op);
                        Kind {
                            math: k.math || o.math,
                            batch_sum: k.batch_sum || o.batch_sum,
                        }
                    },
                )
            })
            .collect();
    // Through calls, to a fixed point.
    loop {
        let mut changed = false;
        for (k, &id) in ids.iter().enumerate() {
            for (_, v) in module.functions.get(id).unwrap().values.iter() {
                if let Op::Call { func, .. } = &v.op
                    && let Some(c) = ids.iter().position(|i| i == func)
                {
                    let (math, sum) = (kinds[c].math, kinds[c].batch_sum);
                    if (math && !kinds[k].math) || (sum && !kinds[k].batch_sum) {
                        kinds[k].math |= math;
                        kinds[k].batch_sum |= sum;
                        changed = true;
                    }
                }
            }
        }
        if !changed {
            return kinds;
        }
    }
}

// ---------------------------------------------------------------------------------------
// Three-way comparison: wasm against the interpreter and the native LLVM JIT

/// Distance in units in the last place (0 for equal bits, NaN and NaN, or +0 and -0).
fn ulps(a: f64, b: f64) -> u64 {
    if a.to_bits() == b.to_bits() || (a.is_nan() && b.is_nan()) || a == b {
        return 0;
    }
    if a.is_nan() || b.is_nan() {
        return u64::MAX;
    }
    let ordered = |x: f64| {
        let i = x.to_bits() as i64;
        if i < 0 { i64::MIN - i } else { i }
    };
    ordered(a).abs_diff(ordered(b))
}

fn max_ulps(a: &Tensor, b: &Tensor) -> u64 {
    if a.shape != b.shape || a.batch != b.batch || a.data.len() != b.data.len() {
        return u64::MAX;
    }
    a.data
        .iter()
        .zip(&b.data)
        .map(|(x, y)| ulps(*x, *y))
        .max()
        .unwrap_or(0)
}

/// The kind of a failure message: the statuses the interpreter and compiled code share.
fn failure_kind(message: &str) -> &'static str {
    for kind in ["out of range", "batch size mismatch", "empty batch"] {
        if message.contains(kind) {
            return kind;
        }
    }
    "other"
}

/// What a comparison found.
#[derive(Default)]
struct Tally {
    compared: usize,
    both_failed: usize,
    /// Calls of functions that call libm, and the most ulps wasm differed from the JIT and
    /// the interpreter by on them.
    math_calls: usize,
    math_ulps_jit: u64,
    math_ulps_interp: u64,
    /// The largest norm-wise relative difference (`max|wasm − other| / max|other|`) on them,
    /// against the JIT and the interpreter (where neither side reorders sums).
    math_rel_jit: f64,
    math_rel_interp: f64,
    failures: Vec<String>,
}

impl Tally {
    fn merge(&mut self, o: Tally) {
        self.compared += o.compared;
        self.both_failed += o.both_failed;
        self.math_calls += o.math_calls;
        self.math_ulps_jit = self.math_ulps_jit.max(o.math_ulps_jit);
        self.math_ulps_interp = self.math_ulps_interp.max(o.math_ulps_interp);
        self.math_rel_jit = self.math_rel_jit.max(o.math_rel_jit);
        self.math_rel_interp = self.math_rel_interp.max(o.math_rel_interp);
        self.failures.extend(o.failures);
    }
}

/// How far wasm may be from the interpreter and the JIT on functions that call libm:
/// wasi-libc's musl (exp, log and pow from ARM's optimized routines) and the `libm` crate
/// (fdlibm's) differ by up to 2 ulps on the functions themselves (`LIBM_ULPS`), which
/// derivatives and sums carry into their results. Measured on this suite: at most 53 ulps
/// on an element (a Jacobian entry of `lv_scenario1`'s network, where terms cancel) and at
/// most 1.4e-15 norm-wise relative difference (`max|wasm − native| / max|native|`);
/// asserted: within 1e-14 norm-wise.
const MATH: Tolerance = Tolerance {
    rtol: 1e-14,
    atol: 0.0,
    normwise: true,
};

/// `max|got − want| / max|want|` over the finite elements (0 for equal results).
fn normwise_rel(want: &Tensor, got: &Tensor) -> f64 {
    let scale = want
        .data
        .iter()
        .filter(|w| w.is_finite())
        .fold(0.0f64, |m, w| m.max(w.abs()));
    let diff = want
        .data
        .iter()
        .zip(&got.data)
        .filter(|(w, g)| w.is_finite() && g.is_finite())
        .fold(0.0f64, |m, (w, g)| m.max((w - g).abs()));
    if diff == 0.0 { 0.0 } else { diff / scale }
}

/// A call of a function in wasm.
type WasmCall<'a> = dyn FnMut(&CompiledFunction, &[Tensor]) -> Result<Tensor, String> + 'a;

/// Compares, for every function of `module` with code and every input set, wasm (`wasm`)
/// with the interpreter and the native LLVM JIT (`jit`, compiled from the same IR).
/// `normwise`: batch-major code, whose matrix-product kernels reorder sums (against the
/// interpreter only).
fn compare(
    label: &str,
    module: &Module,
    sets: &dyn Fn(&Module, FuncId) -> Vec<Vec<Tensor>>,
    wasm: &mut WasmCall<'_>,
    normwise: bool,
) -> Tally {
    let mut tally = Tally::default();
    let valid = match sci::codegen::validate(module) {
        Ok(v) => v,
        Err(e) => {
            tally.failures.push(format!("{label}: {e}"));
            return tally;
        }
    };
    let jit = match sci::codegen::llvm_backend().and_then(|b| b.compile(&valid)) {
        Ok(j) => j,
        Err(e) => {
            tally.failures.push(format!("{label}: llvm: {e}"));
            return tally;
        }
    };
    let kinds = kinds(module);
    let ids: Vec<FuncId> = module.functions.iter().map(|(id, _)| id).collect();
    let interp = Interpreter::of_valid(&valid).with_step_limit(2_000_000);
    for f in jit.functions().to_vec() {
        if f.unavailable.is_some() {
            continue;
        }
        let kind = ids
            .iter()
            .position(|&i| i == f.id)
            .map(|k| kinds[k])
            .unwrap_or_default();
        for args in sets(module, f.id) {
            let want = interp.call(f.id, &args).map_err(|e| e.message);
            if let Err(e) = &want
                && (e.contains("step limit") || e.contains("too large") || e.contains("stack"))
            {
                continue;
            }
            let native = jit.call(&f.name, &args).map_err(|e| e.message);
            let got = wasm(&f, &args);
            let show = |r: &Result<Tensor, String>| {
                let mut s = match r {
                    Ok(t) => t.to_string(),
                    Err(e) => format!("error: {e}"),
                };
                if s.len() > 160 {
                    let mut cut = 160;
                    while !s.is_char_boundary(cut) {
                        cut -= 1;
                    }
                    s.truncate(cut);
                    s.push('…');
                }
                s
            };
            let what = || {
                format!(
                    "{label}::{} (math {}, batch sums {})",
                    f.name, kind.math, kind.batch_sum
                )
            };
            match (&want, &native, &got) {
                (Err(w), Err(n), Err(g)) => {
                    if failure_kind(w) == failure_kind(g) && failure_kind(n) == failure_kind(g) {
                        tally.both_failed += 1;
                    } else {
                        tally.failures.push(format!(
                            "{}: interpreter `{w}`, JIT `{n}`, wasm `{g}`",
                            what()
                        ));
                    }
                }
                (Ok(w), Ok(n), Ok(g)) => {
                    tally.compared += 1;
                    let to_jit = max_ulps(n, g);
                    let to_interp = max_ulps(w, g);
                    if kind.math {
                        tally.math_calls += 1;
                    }
                    // Against the JIT: the same lowering, so the same bits, libm aside,
                    // except the matrix-product kernels of batch-major code, which only
                    // the native JITs use and which reorder a layer's sums.
                    let jit_ok = if normwise {
                        Tolerance::NORMWISE.agree(n, g)
                    } else if kind.math {
                        tally.math_ulps_jit = tally.math_ulps_jit.max(to_jit);
                        tally.math_rel_jit = tally.math_rel_jit.max(normwise_rel(n, g));
                        to_jit == 0 || MATH.agree(n, g)
                    } else {
                        to_jit == 0
                    };
                    // Against the interpreter: the same bits unless the native code differs
                    // from it too (compensated sums, matrix-product kernels), or libm.
                    if kind.math && !kind.batch_sum {
                        tally.math_ulps_interp = tally.math_ulps_interp.max(to_interp);
                        tally.math_rel_interp = tally.math_rel_interp.max(normwise_rel(w, g));
                    }
                    let interp_ok = if kind.batch_sum || normwise {
                        let tol = if normwise {
                            Tolerance::NORMWISE
                        } else {
                            Tolerance::DEFAULT
                        };
                        tol.agree(w, g)
                    } else if kind.math {
                        to_interp == 0 || MATH.agree(w, g)
                    } else {
                        to_interp == 0
                    };
                    if !jit_ok || !interp_ok {
                        tally.failures.push(format!(
                            "{}: interpreter {}, JIT {}, wasm {} ({to_jit} ulps from the JIT, \
                             {to_interp} from the interpreter)",
                            what(),
                            show(&want),
                            show(&native),
                            show(&got)
                        ));
                    }
                }
                _ => tally.failures.push(format!(
                    "{}: interpreter {}, JIT {}, wasm {}",
                    what(),
                    show(&want),
                    show(&native),
                    show(&got)
                )),
            }
        }
    }
    tally
}

/// [`compare`] with the module compiled by [`ValidatingBackend`] on its own.
fn compare_module(
    label: &str,
    module: &Module,
    sets: &dyn Fn(&Module, FuncId) -> Vec<Vec<Tensor>>,
    normwise: bool,
) -> Tally {
    let compiled = sci::codegen::validate(module)
        .map_err(|e| e.message)
        .and_then(|v| ValidatingBackend.compile(&v).map_err(|e| e.message));
    let code = match compiled {
        Ok(c) => c,
        Err(e) => {
            return Tally {
                failures: vec![format!("{label}: wasm: {e}")],
                ..Tally::default()
            };
        }
    };
    let mut wasm =
        |f: &CompiledFunction, args: &[Tensor]| code.call(&f.name, args).map_err(|e| e.message);
    compare(label, module, sets, &mut wasm, normwise)
}

fn random_sets(seeds: std::ops::Range<u64>) -> impl Fn(&Module, FuncId) -> Vec<Vec<Tensor>> {
    move |m, f| seeds.clone().map(|s| random_inputs(m, f, s)).collect()
}

fn report(what: &str, tally: &Tally) {
    eprintln!(
        "{what}: {} calls compared, {} failed alike, {} calls into libm: at most {} ulps \
         ({:.1e} norm-wise) from the JIT, {} ulps ({:.1e}) from the interpreter",
        tally.compared,
        tally.both_failed,
        tally.math_calls,
        tally.math_ulps_jit,
        tally.math_rel_jit,
        tally.math_ulps_interp,
        tally.math_rel_interp
    );
    assert!(
        tally.failures.is_empty(),
        "{what}: {} disagreements:\n{}",
        tally.failures.len(),
        tally.failures.join("\n")
    );
}

// ---------------------------------------------------------------------------------------
// The tests

#[test]
fn ir_filetests_match_the_interpreter_and_the_jit() {
    let mut tally = Tally::default();
    let structured = |m: &Module, f: FuncId| structured_inputs(m, f);
    for (label, module) in filetest_modules() {
        if label.ends_with("structured.sir") {
            tally.merge(compare_module(&label, &module, &structured, false));
        } else {
            tally.merge(compare_module(&label, &module, &random_sets(0..10), false));
        }
    }
    report("IR filetests", &tally);
    assert!(tally.compared > 300, "{}", tally.compared);
    assert!(tally.both_failed >= 10, "{}", tally.both_failed);
}

#[test]
fn lowered_examples_match_the_interpreter_and_the_jit() {
    let mut tally = Tally::default();
    let examples = lowered_examples();
    assert!(examples.len() >= 20, "{} lowered examples", examples.len());
    for (label, module) in &examples {
        tally.merge(compare_module(label, module, &random_sets(0..2), false));
        let tiled = batch_major(module);
        let label = format!("{label} batch-major");
        tally.merge(compare_module(&label, &tiled, &random_sets(0..2), true));
    }
    report("lowered examples", &tally);
    assert!(tally.compared > 100, "{}", tally.compared);
    assert!(tally.math_calls > 20, "{}", tally.math_calls);
}

#[test]
fn random_programs_match_the_interpreter_and_the_jit() {
    let small = RandomOptions::default();
    let large = RandomOptions {
        ops: 40,
        max_depth: 3,
        max_extent: 9,
        ..RandomOptions::default()
    };
    let mut tally = Tally::default();
    let programs = (0..40)
        .map(|s| (s, random_function(s, &small)))
        .chain((1000..1005).map(|s| (s, random_function(s, &large))));
    for (seed, module) in programs {
        let label = format!("seed {seed}");
        tally.merge(compare_module(
            &label,
            &module,
            &random_sets(seed..seed + 2),
            false,
        ));
    }
    report("random programs", &tally);
    assert!(tally.compared >= 45, "{}", tally.compared);
}

/// `difftest::check_module`, the harness every back end plugs into, with the structured
/// stress module's edge cases (NaN, infinities, empty and mismatched batches, indices out
/// of range).
#[test]
fn the_difftest_harness_accepts_the_wasm_backend() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("ir/tests/filetests/structured.sir");
    let module = read_sir(&path).unwrap();
    let given = |m: &Module, f: FuncId| structured_inputs(m, f);
    let (report, mismatches) = check_module(
        &sci::wasm::runtime::WasmBackend,
        &module,
        &Inputs::Given(&given),
        Tolerance::DEFAULT,
    )
    .unwrap();
    let shown: Vec<String> = mismatches.iter().map(|m| m.to_string()).collect();
    assert!(mismatches.is_empty(), "{}", shown.join("\n"));
    assert_eq!(report.unavailable, 0, "{report:?}");
    assert!(report.compared > 250, "{report:?}");
    assert!(report.both_failed >= 10, "{report:?}");
    let _: Report = report;
}

/// Every `examples/*.sci` through the front end and `sci::wasm::compile` (derivatives
/// added, batch-major), as `sci compile --target wasm32` writes it, against the interpreter
/// and the LLVM JIT on the same lowered IR.
#[test]
fn front_end_examples_match_the_interpreter_and_the_jit() {
    let mut tally = Tally::default();
    let mut files = 0;
    for path in common::example_paths() {
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        let text = std::fs::read_to_string(&path).unwrap();
        let analysis = sci::analyze_in(
            sci::diag::FileId(0),
            &text,
            path.parent().unwrap_or(Path::new(".")),
        );
        assert!(!analysis.has_errors(), "{name}: {:?}", analysis.diagnostics);
        let lowered: Vec<Module> = analysis
            .modules
            .iter()
            .map(|m| {
                let (ir, _) = sci::jit::with_derivatives(m).unwrap();
                sci::jit::batch_major(&ir, sci::BackendKind::Llvm).into_owned()
            })
            .collect();
        // Paper-sized networks (`burgers_fno`: 550k weights) reach the back ends at a small
        // size elsewhere; random inputs for them would make the interpreter the test.
        if lowered.iter().any(|m| m.params.len > 100_000) {
            continue;
        }
        let package = sci::wasm::compile(&analysis.modules, &name, "model.wasm")
            .unwrap_or_else(|e| panic!("{name}: {e}"));
        validate_wasm(&package.wasm, &name);
        let mut rt = Runtime::new(&package).unwrap_or_else(|e| panic!("{name}: {e}"));
        files += 1;
        for module in &lowered {
            let label = format!("{name}::{}", module.name);
            let model = module.name.clone();
            let mut wasm = |f: &CompiledFunction, args: &[Tensor]| {
                let inputs: Vec<&[f64]> = args.iter().map(|t| t.data.as_slice()).collect();
                let data = rt.call(&model, &f.name, &inputs)?;
                let sig = &f.signature;
                Ok(Tensor {
                    shape: sig.result.shape.clone(),
                    batch: if sig.result.batched {
                        sig.result_points(&inputs)
                    } else {
                        None
                    },
                    data,
                })
            };
            tally.merge(compare(&label, module, &random_sets(0..2), &mut wasm, true));
        }
    }
    report("examples/*.sci", &tally);
    assert!(files >= 20, "{files} examples");
    assert!(tally.compared > 100, "{}", tally.compared);
}

// ---------------------------------------------------------------------------------------
// Statuses and errors

fn lotka_volterra() -> Runtime {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/lotka_volterra.sci");
    let text = std::fs::read_to_string(path).unwrap();
    let analysis = sci::analyze(sci::diag::FileId(0), &text);
    let package = sci::wasm::compile(&analysis.modules, "lotka_volterra.sci", "lv.wasm").unwrap();
    Runtime::new(&package).unwrap()
}

/// An index out of range without a fill value and batches of different sizes: the status
/// the native code returns, by name, and the same failure as the interpreter's.
#[test]
fn statuses_are_the_native_ones() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("ir/tests/filetests/structured.sir");
    let module = read_sir(&path).unwrap();
    let valid = sci::codegen::validate(&module).unwrap();
    let native = sci::codegen::llvm_backend()
        .unwrap()
        .compile(&valid)
        .unwrap();
    let package =
        sci::wasm::compile_lowered(std::slice::from_ref(&module), "structured.sir", "s.wasm")
            .unwrap();
    let mut rt = Runtime::new(&package).unwrap();
    let name = module.name.clone();
    // `pick` with every index the structured inputs try, out of range ones included.
    let pick = module
        .functions
        .iter()
        .find(|(_, f)| f.name == "pick")
        .map(|(id, _)| id)
        .unwrap();
    let mut out_of_range = 0;
    for args in structured_inputs(&module, pick) {
        let inputs: Vec<&[f64]> = args.iter().map(|t| t.data.as_slice()).collect();
        let k = native.index_of("pick").unwrap();
        let mut out = vec![0.0; native.functions()[k].signature.result_len(&inputs).unwrap()];
        let want = native.call_flat(k, &inputs, &mut out);
        let got = rt.call(&name, "pick", &inputs);
        match (want, got) {
            (Ok(()), Ok(g)) => assert_eq!(
                out.iter().map(|x| x.to_bits()).collect::<Vec<_>>(),
                g.iter().map(|x| x.to_bits()).collect::<Vec<_>>()
            ),
            (Err(w), Err(g)) => {
                assert_eq!(
                    w.message,
                    format!(
                        "`pick` failed: {}",
                        sci::codegen::Status::IndexOutOfRange.message()
                    )
                );
                assert!(
                    g.contains("status 1 (SCI_INDEX_OUT_OF_RANGE)") && g.contains("out of range"),
                    "{g}"
                );
                out_of_range += 1;
            }
            (w, g) => panic!("native {w:?}, wasm {g:?}"),
        }
    }
    assert!(out_of_range >= 2, "{out_of_range} indices out of range");
    // A map over batches of 2 and 3 points.
    let err = rt
        .call(&name, "map_scale", &[&[1.0, 2.0], &[1.0; 9]])
        .unwrap_err();
    assert!(err.contains("status 2 (SCI_BATCH_MISMATCH)"), "{err}");
    let k = native.index_of("map_scale").unwrap();
    let native_err = native
        .call_flat(k, &[&[1.0, 2.0], &[1.0; 9]], &mut [0.0; 6])
        .unwrap_err();
    assert!(
        native_err.message.contains("batch size mismatch"),
        "{native_err}"
    );
    // `reduce_batch max` of no points.
    let err = rt.call(&name, "rb_max", &[&[]]).unwrap_err();
    assert!(err.contains("status 3 (SCI_EMPTY_BATCH)"), "{err}");
    let k = native.index_of("rb_max").unwrap();
    let native_err = native.call_flat(k, &[&[]], &mut [0.0; 3]).unwrap_err();
    assert!(native_err.message.contains("empty batch"), "{native_err}");
    // The runtime is still usable after failures, and memory was given back.
    let before = rt.memory_bytes();
    for _ in 0..1000 {
        let _ = rt.call(&name, "map_scale", &[&[1.0, 2.0], &[1.0; 9]]);
    }
    assert_eq!(
        rt.memory_bytes(),
        before,
        "failing calls leak linear memory"
    );
}

#[test]
fn wrong_inputs_are_errors_not_calls() {
    let mut rt = lotka_volterra();
    let theta = rt.params_default("LotkaVolterra").unwrap();
    let y = rt.call("LotkaVolterra", "y0", &[&theta]).unwrap();
    let cases: Vec<(Vec<&[f64]>, &str)> = vec![
        (
            vec![&[0.0], &y],
            "takes 3 inputs (t, y, θ) but 2 were given",
        ),
        (
            vec![&[0.0], &y[..1], &theta],
            "input 1 (`y`) of `rhs` must have 2 elements",
        ),
        (
            vec![&[0.0, 1.0], &y, &theta],
            "input 0 (`t`) of `rhs` must have 1 elements",
        ),
        (vec![&[0.0], &y, &[]], "input 2 (`θ`) of `rhs`"),
    ];
    for (inputs, want) in cases {
        let err = rt.call("LotkaVolterra", "rhs", &inputs).unwrap_err();
        assert!(err.contains(want), "{err}");
    }
    let err = rt.call("LotkaVolterra", "nope", &[]).unwrap_err();
    assert!(
        err.contains("no compiled function `nope`") && err.contains("rhs"),
        "{err}"
    );
    let err = rt.call("Nope", "rhs", &[]).unwrap_err();
    assert!(
        err.contains("no model `Nope`") && err.contains("LotkaVolterra"),
        "{err}"
    );
    assert!(rt.params_default("Nope").is_err());
    // Corrupt inputs to the runtime itself are errors too.
    let err = Runtime::from_parts(b"not wasm", "{}").unwrap_err();
    assert!(err.contains("cannot compile"), "{err}");
    let package = {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/lotka_volterra.sci");
        let text = std::fs::read_to_string(path).unwrap();
        let analysis = sci::analyze(sci::diag::FileId(0), &text);
        sci::wasm::compile(&analysis.modules, "lotka_volterra.sci", "lv.wasm").unwrap()
    };
    let err = Runtime::from_parts(&package.wasm, "{").unwrap_err();
    assert!(err.contains("not JSON"), "{err}");
    let err = Runtime::from_parts(&package.wasm, r#"{"format": "sci-abi-0"}"#).unwrap_err();
    assert!(err.contains("sci-abi-1"), "{err}");
    let renamed = package
        .description
        .replace("sci_LotkaVolterra_rhs", "sci_Nope_rhs");
    let err = Runtime::from_parts(&package.wasm, &renamed).unwrap_err();
    assert!(err.contains("does not export `sci_Nope_rhs`"), "{err}");
}

/// The Lotka–Volterra right-hand side in wasm: the native numbers, by [`Runtime::call`]
/// and by a prepared call that copies without allocating.
#[test]
fn calls_and_prepared_calls_give_the_native_numbers() {
    let mut rt = lotka_volterra();
    let theta = rt.params_default("LotkaVolterra").unwrap();
    let compiled = sci::Compiler::new()
        .compile_file(Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/lotka_volterra.sci"))
        .unwrap();
    let lv = compiled.model("LotkaVolterra").unwrap();
    assert_eq!(lv.params(), theta);
    let y = lv.y0(&theta).unwrap();
    assert_eq!(rt.call("LotkaVolterra", "y0", &[&theta]).unwrap(), y);
    let mut dy = vec![0.0; 2];
    lv.rhs(0.5, &y, &theta, &mut dy).unwrap();
    assert_eq!(
        rt.call("LotkaVolterra", "rhs", &[&[0.5], &y, &theta])
            .unwrap(),
        dy
    );
    let mut jac = vec![0.0; 4];
    lv.jacobian(0.5, &y, &theta, &mut jac).unwrap();
    assert_eq!(
        rt.call("LotkaVolterra", "jacobian.rhs", &[&[0.5], &y, &theta])
            .unwrap(),
        jac
    );
    let before = rt.memory_bytes();
    {
        let mut call = rt
            .prepare("LotkaVolterra", "rhs", &[&[0.5], &y, &theta])
            .unwrap();
        assert_eq!(call.result_len(), 2);
        let mut got = vec![0.0; 2];
        for k in 0..100 {
            let y2 = [y[0] + k as f64, y[1] * 0.5];
            call.set_input(0, &[k as f64]).unwrap();
            call.set_input(1, &y2).unwrap();
            call.run().unwrap();
            call.result_into(&mut got).unwrap();
            lv.rhs(k as f64, &y2, &theta, &mut dy).unwrap();
            assert_eq!(got, dy);
        }
        assert!(
            call.set_input(1, &[1.0])
                .unwrap_err()
                .contains("prepared with 2")
        );
        assert!(
            call.set_input(0, &[1.0, 2.0])
                .unwrap_err()
                .contains("scalar")
        );
        assert!(
            call.set_input(7, &[1.0])
                .unwrap_err()
                .contains("no input 7")
        );
        assert!(call.result_into(&mut [0.0; 3]).is_err());
    }
    assert_eq!(rt.memory_bytes(), before);
    let names: Vec<&str> = rt.functions().map(|f| f.name.as_str()).collect();
    assert!(names.contains(&"jacobian.rhs"), "{names:?}");
}

// ---------------------------------------------------------------------------------------
// libm: wasi-libc's musl against the `libm` crate, function by function

/// Inputs for the libm probes: uniform on [-10, 10], log-uniform magnitudes from 1e-300 to
/// 1e300 of either sign, and edge values.
fn probe_inputs(n: usize, seed: u64) -> Vec<f64> {
    let mut state = seed;
    let mut next = move || {
        state = state.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = state;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        ((z ^ (z >> 31)) >> 11) as f64 / (1u64 << 53) as f64
    };
    let mut xs = vec![
        0.0,
        -0.0,
        1.0,
        -1.0,
        0.5,
        f64::NAN,
        f64::INFINITY,
        f64::NEG_INFINITY,
        f64::MIN_POSITIVE,
        f64::MAX,
        1e-310,
        std::f64::consts::PI,
        709.78,
        -745.1,
    ];
    while xs.len() < n {
        let u = next();
        let x = if xs.len() % 2 == 0 {
            20.0 * u - 10.0
        } else {
            let sign = if next() < 0.5 { -1.0 } else { 1.0 };
            sign * 10f64.powf(600.0 * u - 300.0)
        };
        xs.push(x);
    }
    xs
}

/// Per function of libm (and the activations built on it), the most ulps wasm's result
/// differs from the interpreter's (the `libm` crate, which the JITs call too) on
/// [`probe_inputs`]. Measured with 20,000 inputs per function (this file's bound).
const LIBM_ULPS: &[(&str, u64)] = &[
    ("exp", 1),
    ("log", 1),
    ("sin", 0),
    ("cos", 0),
    ("tan", 0),
    ("asin", 0),
    ("acos", 0),
    ("atan", 0),
    ("sinh", 0),
    ("cosh", 2),
    ("tanh", 0),
    ("erf", 1),
    ("sigmoid", 2),
    ("softplus", 2),
    // 0.5·x·(1 + erf(x/√2)): erf's ulp, magnified where 1 + erf cancels (x ≈ -2.3).
    ("gelu", 37),
    ("dgelu", 64),
    ("pow", 1),
    ("atan2", 0),
];

#[test]
fn libm_functions_against_the_libm_crate() {
    let mut text = String::from("module Libm\n\n");
    for (name, _) in LIBM_ULPS {
        if matches!(*name, "pow" | "atan2") {
            text.push_str(&format!(
                "func {name}(%x: batch f64, %y: batch f64) -> batch f64 {{\n  %r: batch f64 = map %x, %y (%xi: f64, %yi: f64) {{\n    %v: f64 = {name} %xi, %yi\n    yield %v\n  }}\n  return %r\n}}\n\n"
            ));
        } else {
            text.push_str(&format!(
                "func {name}(%x: batch f64) -> batch f64 {{\n  %r: batch f64 = map %x (%xi: f64) {{\n    %v: f64 = {name} %xi\n    yield %v\n  }}\n  return %r\n}}\n\n"
            ));
        }
    }
    let module = sci::ir::read_module(sci::diag::FileId(0), &text).unwrap();
    let valid = sci::codegen::validate(&module).unwrap();
    let package =
        sci::wasm::compile_lowered(std::slice::from_ref(&module), "libm.sir", "libm.wasm").unwrap();
    validate_wasm(&package.wasm, "libm probes");
    let mut rt = Runtime::new(&package).unwrap();
    let interp = Interpreter::of_valid(&valid);
    let n = 20_000;
    let mut table = Vec::new();
    let mut failures = Vec::new();
    for (name, bound) in LIBM_ULPS {
        let x = probe_inputs(n, 1);
        let binary = matches!(*name, "pow" | "atan2");
        let y = probe_inputs(n, 2);
        let mut inputs: Vec<&[f64]> = vec![&x];
        let mut args = vec![Tensor {
            shape: vec![],
            batch: Some(n),
            data: x.clone(),
        }];
        if binary {
            inputs.push(&y);
            args.push(Tensor {
                shape: vec![],
                batch: Some(n),
                data: y.clone(),
            });
        }
        let got = rt.call("Libm", name, &inputs).unwrap();
        let want = interp.call_named(name, &args).unwrap();
        let (mut worst, mut differ, mut at) = (0u64, 0usize, 0usize);
        for (k, (g, w)) in got.iter().zip(&want.data).enumerate() {
            let u = ulps(*g, *w);
            if u > 0 {
                differ += 1;
            }
            if u > worst {
                worst = u;
                at = k;
            }
        }
        table.push(format!(
            "{name:>8}: {differ:>5} of {n} results differ, at most {worst} ulps (x = {:e}{})",
            x[at],
            if binary {
                format!(", y = {:e}", y[at])
            } else {
                String::new()
            }
        ));
        if worst > *bound {
            failures.push(format!("{name}: {worst} ulps > {bound}"));
        }
    }
    eprintln!(
        "wasi-libc (wasm) against the libm crate:\n{}",
        table.join("\n")
    );
    assert!(
        failures.is_empty(),
        "{}\n{}",
        failures.join("\n"),
        table.join("\n")
    );
}
