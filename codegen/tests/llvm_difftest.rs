//! The LLVM back end against the interpreter: every IR filetest module, random programs,
//! and hand-written modules for each structured op (loops long enough for LLVM's loop
//! vectoriser, edge values, run-time failures), bit for bit with sequential batch sums and
//! within 1e-12 with the default compensated sums — the Cranelift back end's bar.

#![cfg(feature = "llvm")]

use sci_codegen::Backend;
use sci_codegen::difftest::{Inputs, Report, Tolerance, check_module};
use sci_codegen::llvm::{BatchSum, LlvmBackend, LlvmOptions};
use sci_ir::random::{RandomOptions, random_function, random_inputs};
use sci_ir::{FuncId, Module, Tensor};
use std::path::Path;

fn exact() -> LlvmBackend {
    LlvmBackend::with_options(LlvmOptions {
        batch_sum: BatchSum::Sequential,
        ..LlvmOptions::default()
    })
}

/// Checks `module` on both configurations; returns the report and the failures.
fn check_both(label: &str, module: &Module, inputs: &Inputs<'_>) -> (Report, Vec<String>) {
    let mut total = Report::default();
    let mut failures = Vec::new();
    for (backend, tol) in [
        (exact(), Tolerance::EXACT),
        (LlvmBackend::new(), Tolerance::DEFAULT),
    ] {
        match check_module(&backend, module, inputs, tol) {
            Ok((r, m)) => {
                total += r;
                failures.extend(m.iter().map(|m| format!("{label}: {m}")));
            }
            Err(e) => failures.push(format!("{label}: {e}")),
        }
    }
    (total, failures)
}

#[test]
fn ir_filetests_match_the_interpreter_bit_for_bit() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../ir/tests/filetests");
    let mut checked = 0;
    let mut failures = Vec::new();
    let mut paths: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    paths.sort();
    for path in paths {
        let text = std::fs::read_to_string(&path).unwrap();
        let Ok(module) = sci_ir::read_module(sci_diag::FileId(0), &text) else {
            continue;
        };
        if sci_ir::validate_module(&module).is_err() {
            continue;
        }
        let (report, mismatches) =
            check_module(&exact(), &module, &Inputs::Random(0..20), Tolerance::EXACT).unwrap();
        checked += report.compared;
        failures.extend(
            mismatches
                .iter()
                .map(|m| format!("{}: {m}", path.display())),
        );
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    assert!(checked > 100, "only {checked} calls compared");
}

/// 220 random programs, bit for bit with sequential batch sums; the first 40 also with the
/// default compensated sums (an LLVM `-O3` compile costs tens of milliseconds, so the suite
/// stays within seconds).
#[test]
fn random_programs_match_the_interpreter() {
    let small = RandomOptions::default();
    let large = RandomOptions {
        ops: 40,
        max_depth: 3,
        max_extent: 9,
        ..RandomOptions::default()
    };
    let mut compared = 0;
    let mut failures = Vec::new();
    let seeds = (0..200)
        .map(|s| (s, &small))
        .chain((1000..1020).map(|s| (s, &large)));
    for (n, (seed, options)) in seeds.enumerate() {
        let module = random_function(seed, options);
        let inputs = Inputs::Random(seed..seed + 2);
        let label = format!("seed {seed}");
        let (r, f) = if n < 40 {
            check_both(&label, &module, &inputs)
        } else {
            match check_module(&exact(), &module, &inputs, Tolerance::EXACT) {
                Ok((r, m)) => (r, m.iter().map(|m| format!("{label}: {m}")).collect()),
                Err(e) => (Report::default(), vec![format!("{label}: {e}")]),
            }
        };
        compared += r.compared;
        failures.extend(f);
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    assert!(compared > 400, "only {compared} calls compared");
}

/// One module with every structured op in loops long enough to be vectorised, nested
/// loops, sub-tensor bodies, fills, f32, a frame too large for the stack, and the run-time
/// failures (index out of range, batch mismatch, empty batch).
const STRUCTURED: &str = r#"
module Structured

func tab_sin(%x: f64[20]) -> f64[20] {
  %t: f64[20] = tabulate [20] (%i: i64) {
    %xi: f64 = index %x[%i]
    %s: f64 = sin %xi
    %m: f64 = mul %s, %xi
    yield %m
  }
  return %t
}

func tab_transpose(%a: f64[3, 12]) -> f64[12, 3] {
  %t: f64[12, 3] = tabulate [12, 3] (%j: i64, %i: i64) {
    %v: f64 = index %a[%i, %j]
    yield %v
  }
  return %t
}

func tab_rows(%a: f64[10, 4]) -> f64[10, 4] {
  %t: f64[10, 4] = tabulate [10] (%i: i64) {
    %row: f64[4] = index %a[%i]
    %sq: f64[4] = mul %row, %row
    yield %sq
  }
  return %t
}

func stencil(%u: f64[16]) -> f64[16] {
  %t: f64[16] = tabulate [16] (%i: i64) {
    %one: i64 = const 1
    %im1: i64 = sub %i, %one
    %ip1: i64 = add %i, %one
    %l: f64 = index %u[%im1] fill 0
    %r: f64 = index %u[%ip1] fill 0
    %rows: f64 = index %u[%i]
    %s: f64 = add %l, %r
    %d: f64 = sub %s, %rows
    yield %d
  }
  return %t
}

func fold_sum(%x: f64[32]) -> f64 {
  %s: f64 = fold sum 32 (%i: i64) {
    %xi: f64 = index %x[%i]
    %e: f64 = exp %xi
    yield %e
  }
  return %s
}

func fold_prod(%x: f64[32]) -> f64 {
  %s: f64 = fold prod 32 (%i: i64) {
    %xi: f64 = index %x[%i]
    yield %xi
  }
  return %s
}

func fold_max(%x: f64[32]) -> f64 {
  %s: f64 = fold max 32 (%i: i64) {
    %xi: f64 = index %x[%i]
    yield %xi
  }
  return %s
}

func fold_min(%x: f64[32]) -> f64 {
  %s: f64 = fold min 32 (%i: i64) {
    %xi: f64 = index %x[%i]
    yield %xi
  }
  return %s
}

func fold_mean(%x: f64[32]) -> f64 {
  %s: f64 = fold mean 32 (%i: i64) {
    %xi: f64 = index %x[%i]
    %t: f64 = tanh %xi
    yield %t
  }
  return %s
}

func fold_cols(%a: f64[9, 3]) -> f64[3] {
  %m: f64[3] = fold max 9 (%i: i64) {
    %row: f64[3] = index %a[%i]
    yield %row
  }
  return %m
}

func fold_rows_sum(%a: f64[12, 10]) -> f64[10] {
  %m: f64[10] = fold sum 12 (%i: i64) {
    %row: f64[10] = index %a[%i]
    yield %row
  }
  return %m
}

func row_sums(%a: f64[10, 10]) -> f64[10] {
  %t: f64[10] = tabulate [10] (%i: i64) {
    %s: f64 = fold sum 10 (%j: i64) {
      %v: f64 = index %a[%i, %j]
      yield %v
    }
    yield %s
  }
  return %t
}

func map_scale(%x: batch f64, %y: batch f64[3]) -> batch f64[3] {
  %r: batch f64[3] = map %x, %y (%xi: f64, %yi: f64[3]) {
    %b: f64[3] = broadcast %xi
    %p: f64[3] = mul %b, %yi
    yield %p
  }
  return %r
}

func map_loss(%θ: f64[2], %x: batch f64) -> f64 {
  %c0: i64 = const 0
  %c1: i64 = const 1
  %a: f64 = index %θ[%c0]
  %b: f64 = index %θ[%c1]
  %r: batch f64 = map %x (%xi: f64) {
    %ax: f64 = mul %a, %xi
    %p: f64 = add %ax, %b
    %s: f64 = sigmoid %p
    %sq: f64 = mul %s, %s
    yield %sq
  }
  %l: f64 = reduce_batch mean %r
  return %l
}

func rb_sum(%x: batch f64[3]) -> f64[3] {
  %r: f64[3] = reduce_batch sum %x
  return %r
}

func rb_prod(%x: batch f64) -> f64 {
  %r: f64 = reduce_batch prod %x
  return %r
}

func rb_max(%x: batch f64[3]) -> f64[3] {
  %r: f64[3] = reduce_batch max %x
  return %r
}

func rb_min(%x: batch f64) -> f64 {
  %r: f64 = reduce_batch min %x
  return %r
}

func rb_mean(%x: batch f64[12]) -> f64[12] {
  %r: f64[12] = reduce_batch mean %x
  return %r
}

func pick(%x: f64[4], %i: i64) -> f64 {
  %v: f64 = index %x[%i]
  return %v
}

func pick_row(%a: f64[3, 4], %i: i64) -> f64[4] {
  %v: f64[4] = index %a[%i] fill -1
  %w: f64[4] = add %v, %v
  return %w
}

func f32_tab(%x: f32[10]) -> f32[10] {
  %t: f32[10] = tabulate [10] (%i: i64) {
    %xi: f32 = index %x[%i]
    %third: f32 = const 0.3333333333333333
    %m: f32 = mul %xi, %third
    %e: f32 = exp %m
    yield %e
  }
  return %t
}

func big_frame(%x: f64[5000]) -> f64 {
  %t: f64[5000] = tabulate [5000] (%i: i64) {
    %xi: f64 = index %x[%i]
    %c: f64 = cos %xi
    yield %c
  }
  %s: f64 = reduce sum %t
  return %s
}
"#;

fn structured() -> Module {
    let module = sci_ir::read_module(sci_diag::FileId(0), STRUCTURED).unwrap();
    sci_ir::validate_module(&module).unwrap();
    module
}

/// Edge values for min/max/NaN handling.
const EDGES: [f64; 8] = [
    0.0,
    -0.0,
    f64::NAN,
    f64::INFINITY,
    f64::NEG_INFINITY,
    1e300,
    -1e-300,
    2.5,
];

/// Inputs for `func`: random sets, sets salted with edge values, batches of 0 and 1000
/// points, mismatched batches and indices out of range.
fn structured_inputs(module: &Module, func: FuncId) -> Vec<Vec<Tensor>> {
    let name = module.functions.get(func).unwrap().name.as_str();
    let mut sets: Vec<Vec<Tensor>> = (0..4).map(|s| random_inputs(module, func, s)).collect();
    for salt in 0..EDGES.len() {
        let mut set = random_inputs(module, func, 100 + salt as u64);
        for t in &mut set {
            for (k, x) in t.data.iter_mut().enumerate() {
                if k % 3 == salt % 3 {
                    *x = EDGES[(k + salt) % EDGES.len()];
                }
            }
        }
        if !name.starts_with("pick") {
            sets.push(set);
        }
    }
    let batch = |per: usize, points: usize, scale: f64| Tensor {
        shape: if per == 1 { vec![] } else { vec![per] },
        batch: Some(points),
        data: (0..per * points)
            .map(|k| ((k as f64) * 0.37).sin() * scale)
            .collect(),
    };
    match name {
        "rb_sum" => {
            sets.push(vec![batch(3, 0, 1.0)]);
            sets.push(vec![batch(3, 1000, 1e3)]);
        }
        "rb_prod" | "rb_min" => {
            sets.push(vec![batch(1, 0, 1.0)]);
            sets.push(vec![batch(1, 1000, 1.5)]);
        }
        "rb_max" => {
            sets.push(vec![batch(3, 0, 1.0)]);
            sets.push(vec![batch(3, 1000, 1.0)]);
        }
        "rb_mean" => {
            sets.push(vec![batch(12, 0, 1.0)]);
            sets.push(vec![batch(12, 1000, 1e5)]);
        }
        "map_scale" => {
            sets.push(vec![batch(1, 5, 1.0), batch(3, 4, 1.0)]);
            sets.push(vec![batch(1, 0, 1.0), batch(3, 0, 1.0)]);
            sets.push(vec![batch(1, 300, 1.0), batch(3, 300, 2.0)]);
        }
        "map_loss" => {
            let theta = Tensor {
                shape: vec![2],
                batch: None,
                data: vec![0.5, -0.25],
            };
            sets.push(vec![theta.clone(), batch(1, 0, 1.0)]);
            sets.push(vec![theta, batch(1, 777, 3.0)]);
        }
        "pick" | "pick_row" => {
            for i in [-1.0, 0.0, 2.0, 3.0, 4.0, 7.0] {
                let mut set = random_inputs(module, func, 7);
                set[1].data[0] = i;
                sets.push(set);
            }
        }
        _ => {}
    }
    sets
}

#[test]
fn structured_ops_match_the_interpreter() {
    let module = structured();
    let given = |m: &Module, f: FuncId| structured_inputs(m, f);
    let (report, failures) = check_both("structured", &module, &Inputs::Given(&given));
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    // Every function has code, and the run-time failures were seen on both sides.
    assert_eq!(report.unavailable, 0, "{report:?}");
    assert!(report.compared > 300, "{report:?}");
    assert!(report.both_failed >= 10, "{report:?}");
}

#[test]
fn compiled_code_runs_on_many_threads() {
    let module = structured();
    let code = LlvmBackend::new().compile(&module).unwrap();
    let x = Tensor {
        shape: vec![32],
        batch: None,
        data: (0..32).map(|k| k as f64 * 0.1).collect(),
    };
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
fn deriv_placeholders_are_unavailable_not_compiled() {
    let text = r#"
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
"#;
    let module = sci_ir::read_module(sci_diag::FileId(0), text).unwrap();
    sci_ir::validate_module(&module).unwrap();
    let code = LlvmBackend::new().compile(&module).unwrap();
    for name in ["g", "h"] {
        let k = code.index_of(name).unwrap();
        assert!(code.functions()[k].unavailable.is_some());
        let err = code.call_flat(k, &[&[1.0]], &mut [0.0]).unwrap_err();
        assert!(err.message.contains("deriv"), "{}", err.message);
    }
    let (report, mismatches) =
        check_module(&exact(), &module, &Inputs::Random(0..5), Tolerance::EXACT).unwrap();
    assert!(mismatches.is_empty());
    assert_eq!((report.compared, report.unavailable), (5, 2));
}

#[test]
fn invalid_ir_is_an_error_with_a_sentence() {
    let text = "module Bad\n\nfunc f(%x: f64[2], %y: f64[3]) -> f64[2] {\n  %s: f64[2] = add %x, %y\n  return %s\n}\n";
    let module = sci_ir::read_module(sci_diag::FileId(0), text).unwrap();
    let err = LlvmBackend::new().compile(&module).unwrap_err();
    assert!(err.message.contains("not valid IR"), "{}", err.message);
    assert!(
        err.message.ends_with('.') || err.message.contains("f64[3]"),
        "{}",
        err.message
    );
}

/// The optimised IR: loops over tensors are vectorised for the host, no instruction has a
/// fast-math flag, and math functions are the private `libm` shims (which LLVM cannot
/// constant-fold or rewrite with the host's libm).
#[test]
fn optimised_ir_is_vectorised_without_fast_math() {
    let ir = sci_codegen::llvm::emit_llvm_ir(&structured(), &LlvmOptions::default()).unwrap();
    assert!(ir.contains("x double>"), "no vector code:\n{ir}");
    for flag in [
        " fast ",
        " reassoc ",
        " contract ",
        " nnan ",
        " ninf ",
        " nsz ",
        " arcp ",
        " afn ",
    ] {
        assert!(!ir.contains(flag), "fast-math flag `{flag}` in:\n{ir}");
    }
    assert!(
        !ir.contains("fmuladd") && !ir.contains("llvm.fma"),
        "fused multiply-add"
    );
    assert!(ir.contains("@sci.libm.sin("), "sin is not the libm shim");
    for libc in ["@sin(", "@exp(", "@cos(", "@tanh(", "@pow("] {
        assert!(!ir.contains(libc), "{libc} called directly");
    }
}

#[test]
fn backend_name() {
    assert_eq!(LlvmBackend::new().name(), "llvm");
}
