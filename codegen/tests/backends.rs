//! Every back end of this build, the interpreter included, over the same suites against the
//! reference interpreter: the IR filetests (the structured stress module among them, also
//! with its edge-case inputs), every example (lowered with its derivative functions, also
//! batch-major as the JITs compile it), random IR programs, run-time failures, unexpanded
//! derivatives, and calls from many threads. A back end joins by adding one entry to
//! [`backends`]; what is specific to one back end (LLVM's vectorised IR, MLIR's text and
//! PTX) stays in its own test file.
//!
//! Bars: bit-identical to the interpreter with sequential batch sums (Cranelift, LLVM and
//! MLIR call the interpreter's libm and add in its order); within 1e-12 relative with the
//! default compensated batch sums.

mod common;

use common::{example_modules, filetest_modules, read, structured};
use sci_codegen::difftest::{Inputs, Report, Tolerance, check_module, structured_inputs};
use sci_codegen::{Backend, InterpreterBackend};
use sci_ir::random::{RandomOptions, random_function};
use sci_ir::{FuncId, Module, Tensor};

/// One configuration under test.
struct Under {
    label: &'static str,
    backend: Box<dyn Backend>,
    tol: Tolerance,
    /// How many of the random programs it compiles (an LLVM `-O3` or MLIR compile costs
    /// tens of milliseconds, so the slower configurations take a prefix).
    random_programs: usize,
}

fn backends() -> Vec<Under> {
    let mut all = vec![Under {
        label: "interpreter",
        backend: Box::new(InterpreterBackend),
        tol: Tolerance::EXACT,
        random_programs: 220,
    }];
    #[cfg(feature = "cranelift")]
    {
        use sci_codegen::cranelift::{BatchSum, CraneliftBackend, CraneliftOptions};
        all.push(Under {
            label: "cranelift (sequential sums)",
            backend: Box::new(CraneliftBackend::with_options(CraneliftOptions {
                batch_sum: BatchSum::Sequential,
                matmul_kernel: false,
                ..CraneliftOptions::default()
            })),
            tol: Tolerance::EXACT,
            random_programs: 220,
        });
        // Three threads asked for explicitly: every tile map, however small its body, runs
        // on the pool (the automatic count keeps cheap bodies on the calling thread).
        all.push(Under {
            label: "cranelift",
            backend: Box::new(CraneliftBackend::with_options(CraneliftOptions {
                threads: Some(3),
                ..CraneliftOptions::default()
            })),
            tol: Tolerance::DEFAULT,
            random_programs: 220,
        });
    }
    #[cfg(feature = "llvm")]
    {
        use sci_codegen::llvm::{BatchSum, LlvmBackend, LlvmOptions};
        all.push(Under {
            label: "llvm (sequential sums)",
            backend: Box::new(LlvmBackend::with_options(LlvmOptions {
                batch_sum: BatchSum::Sequential,
                matmul_kernel: false,
                ..LlvmOptions::default()
            })),
            tol: Tolerance::EXACT,
            random_programs: 220,
        });
        all.push(Under {
            label: "llvm",
            backend: Box::new(LlvmBackend::with_options(LlvmOptions {
                threads: Some(3),
                ..LlvmOptions::default()
            })),
            tol: Tolerance::DEFAULT,
            random_programs: 40,
        });
    }
    #[cfg(feature = "mlir")]
    all.push(Under {
        label: "mlir",
        backend: Box::new(sci_codegen::mlir::MlirBackend::new()),
        tol: Tolerance::EXACT,
        random_programs: 220,
    });
    all
}

/// Checks `module` on `under`, adding to `total` and `failures`.
fn check(
    under: &Under,
    label: &str,
    module: &Module,
    inputs: &Inputs<'_>,
    total: &mut Report,
    failures: &mut Vec<String>,
) {
    check_within(under, under.tol, label, module, inputs, total, failures);
}

/// [`check`] within tolerance `tol`.
fn check_within(
    under: &Under,
    tol: Tolerance,
    label: &str,
    module: &Module,
    inputs: &Inputs<'_>,
    total: &mut Report,
    failures: &mut Vec<String>,
) {
    match check_module(&*under.backend, module, inputs, tol) {
        Ok((r, m)) => {
            *total += r;
            failures.extend(m.iter().map(|m| format!("{}: {label}: {m}", under.label)));
        }
        Err(e) => failures.push(format!("{}: {label}: {e}", under.label)),
    }
}

#[test]
fn ir_filetests_match_the_interpreter() {
    let modules = filetest_modules();
    assert!(modules.iter().any(|(p, _)| p.ends_with("structured.sir")));
    for under in backends() {
        let (mut total, mut failures) = (Report::default(), Vec::new());
        for (path, module) in &modules {
            let label = path.display().to_string();
            check(
                &under,
                &label,
                module,
                &Inputs::Random(0..20),
                &mut total,
                &mut failures,
            );
        }
        assert!(failures.is_empty(), "{}", failures.join("\n"));
        assert!(total.compared > 300, "{}: {total:?}", under.label);
    }
}

/// Every example, as `sci` compiles it for the interpreter and MLIR, and batch-major with
/// its tile bodies outlined, as the CPU JITs compile it (`sci::jit::batch_major`).
#[test]
fn every_example_matches_the_interpreter() {
    let examples = example_modules();
    assert!(examples.len() >= 10, "{} lowered examples", examples.len());
    for under in backends() {
        let (mut total, mut failures) = (Report::default(), Vec::new());
        for (path, module) in &examples {
            let label = path.display().to_string();
            check(
                &under,
                &label,
                module,
                &Inputs::Random(0..2),
                &mut total,
                &mut failures,
            );
            if under.label != "mlir" {
                let mut tiled = module.clone();
                sci_passes::tile::tile_module(&mut tiled, sci_passes::tile::DEFAULT_LANES);
                sci_passes::tile::outline_tiles(&mut tiled);
                let label = format!("{label} batch-major");
                // Matrix-product kernels over a tile reorder the sums of a dense layer.
                let tol = if under.tol == Tolerance::EXACT {
                    Tolerance::EXACT
                } else {
                    Tolerance::NORMWISE
                };
                let inputs = Inputs::Random(0..2);
                check_within(
                    &under,
                    tol,
                    &label,
                    &tiled,
                    &inputs,
                    &mut total,
                    &mut failures,
                );
            }
        }
        assert!(failures.is_empty(), "{}", failures.join("\n"));
        // Every function of every example has code (derivatives are expanded).
        assert_eq!(total.unavailable, 0, "{}: {total:?}", under.label);
        assert!(total.compared > 100, "{}: {total:?}", under.label);
    }
}

#[test]
fn structured_stress_module_with_edge_cases() {
    let module = structured();
    let given = |m: &Module, f: FuncId| structured_inputs(m, f);
    for under in backends() {
        let (mut report, mut failures) = (Report::default(), Vec::new());
        check(
            &under,
            "structured",
            &module,
            &Inputs::Given(&given),
            &mut report,
            &mut failures,
        );
        assert!(failures.is_empty(), "{}", failures.join("\n"));
        // Every function has code, and the run-time failures were seen on both sides.
        assert_eq!(report.unavailable, 0, "{}: {report:?}", under.label);
        assert!(report.compared > 250, "{}: {report:?}", under.label);
        assert!(report.both_failed >= 10, "{}: {report:?}", under.label);
    }
}

/// The same suites on batch-major modules (`sci_passes::tile`, as the CPU back ends get
/// them): one lane, and four lanes, so that tiles have remainders and padding; each also
/// with its tile bodies outlined (`outline_tiles`), which the JITs run through the tile
/// runtime on threads (failures inside tiles included). MLIR takes untiled modules (one GPU
/// thread per point) and is not run here.
#[test]
fn tiled_modules_match_the_interpreter() {
    let mut modules = filetest_modules();
    modules.extend((0..60).map(|s| {
        (
            format!("seed {s}").into(),
            random_function(s, &RandomOptions::default()),
        )
    }));
    let given = |m: &Module, f: FuncId| structured_inputs(m, f);
    for under in backends().into_iter().filter(|u| u.label != "mlir") {
        let (mut total, mut failures) = (Report::default(), Vec::new());
        let mut tiled_maps = 0;
        for (lanes, outline) in [(1, false), (4, false), (1, true), (4, true)] {
            for (path, module) in &modules {
                let mut tiled = module.clone();
                tiled_maps += sci_passes::tile::tile_module(&mut tiled, lanes);
                if outline {
                    sci_passes::tile::outline_tiles(&mut tiled);
                }
                let outlined = if outline { ", outlined" } else { "" };
                let label = format!("{} tiled by {lanes}{outlined}", path.display());
                let inputs = if path.ends_with("structured.sir") {
                    Inputs::Given(&given)
                } else {
                    Inputs::Random(0..6)
                };
                check(&under, &label, &tiled, &inputs, &mut total, &mut failures);
            }
        }
        assert!(failures.is_empty(), "{}", failures.join("\n"));
        assert!(
            tiled_maps >= 10,
            "{}: only {tiled_maps} maps tiled",
            under.label
        );
        assert!(total.both_failed >= 10, "{}: {total:?}", under.label);
    }
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
    let programs: Vec<(u64, Module)> = (0..200)
        .map(|s| (s, random_function(s, &small)))
        .chain((1000..1020).map(|s| (s, random_function(s, &large))))
        .collect();
    for under in backends() {
        let (mut total, mut failures) = (Report::default(), Vec::new());
        for (seed, module) in programs.iter().take(under.random_programs) {
            let inputs = Inputs::Random(*seed..*seed + 2);
            check(
                &under,
                &format!("seed {seed}"),
                module,
                &inputs,
                &mut total,
                &mut failures,
            );
        }
        assert!(failures.is_empty(), "{}", failures.join("\n"));
        assert!(
            total.compared >= under.random_programs,
            "{}: {total:?}",
            under.label
        );
    }
}

#[test]
fn compiled_code_runs_on_many_threads() {
    let module = structured();
    let valid = sci_codegen::validate(&module).unwrap();
    let x = Tensor {
        shape: vec![32],
        batch: None,
        data: (0..32).map(|k| k as f64 * 0.1).collect(),
    };
    let want = sci_ir::Interpreter::new(&module)
        .unwrap()
        .call_named("fold_sum", std::slice::from_ref(&x))
        .unwrap();
    for under in backends() {
        let code = under.backend.compile(&valid).unwrap();
        let index = code.index_of("fold_sum").unwrap();
        std::thread::scope(|s| {
            for _ in 0..4 {
                s.spawn(|| {
                    for _ in 0..100 {
                        let mut out = [0.0];
                        code.call_flat(index, &[&x.data], &mut out).unwrap();
                        assert_eq!(out[0].to_bits(), want.data[0].to_bits(), "{}", under.label);
                    }
                });
            }
        });
    }
}

#[test]
fn wrong_lengths_are_errors_not_calls() {
    let valid = sci_codegen::validate(&structured()).unwrap();
    for under in backends() {
        let code = under.backend.compile(&valid).unwrap();
        let k = code.index_of("map_scale").unwrap();
        let cases: [(&[&[f64]], usize, &str); 3] = [
            (&[&[1.0, 2.0], &[1.0; 7]], 6, "whole number of points"),
            (&[&[1.0, 2.0], &[1.0; 6]], 5, "must have 6 elements"),
            (&[&[1.0, 2.0], &[1.0; 9]], 6, "batch size mismatch"),
        ];
        for (inputs, out_len, want) in cases {
            let err = code
                .call_flat(k, inputs, &mut vec![0.0; out_len])
                .unwrap_err();
            assert!(
                err.message.contains(want),
                "{}: {}",
                under.label,
                err.message
            );
        }
        let err = code.call_flat(99, &[], &mut []).unwrap_err();
        assert!(
            err.message.contains("no function #99"),
            "{}: {}",
            under.label,
            err.message
        );
    }
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
    let valid = sci_codegen::validate(&module).unwrap();
    for under in backends() {
        let code = under.backend.compile(&valid).unwrap();
        for name in ["g", "h"] {
            let k = code.index_of(name).unwrap();
            assert!(code.functions()[k].unavailable.is_some(), "{}", under.label);
            let err = code.call_flat(k, &[&[1.0]], &mut [0.0]).unwrap_err();
            assert!(
                err.message.contains("deriv"),
                "{}: {}",
                under.label,
                err.message
            );
        }
        let (report, mismatches) =
            check_module(&*under.backend, &module, &Inputs::Random(0..5), under.tol).unwrap();
        assert!(mismatches.is_empty(), "{}", under.label);
        assert_eq!(
            (report.compared, report.unavailable),
            (5, 2),
            "{}",
            under.label
        );
    }
}

#[test]
fn invalid_ir_is_refused_before_any_back_end_sees_it() {
    let text = "module Bad\n\nfunc f(%x: f64[2], %y: f64[3]) -> f64[2] {\n  %s: f64[2] = add %x, %y\n  return %s\n}\n";
    let module = sci_ir::read_module(sci_diag::FileId(0), text).unwrap();
    let err = sci_codegen::validate(&module).unwrap_err();
    assert!(err.message.contains("not valid IR"), "{}", err.message);
    assert!(err.message.contains("f64[3]"), "{}", err.message);
}

#[test]
fn every_back_end_has_its_name() {
    let names: Vec<&str> = backends().iter().map(|u| u.backend.name()).collect();
    assert_eq!(names[0], "interpreter");
    #[cfg(feature = "cranelift")]
    assert!(names.contains(&"cranelift"));
    #[cfg(feature = "llvm")]
    assert!(names.contains(&"llvm"));
    #[cfg(feature = "mlir")]
    assert!(names.contains(&"mlir"));
}

/// Real DFTs (`rfft`, `irfft`) as the back ends get them: expanded into matrix products by
/// `sci_passes::spectral` (the pipeline's `expand-spectral`), at the top level and inside a
/// map over points (also batch-major on the CPU back ends), against the interpreter; the
/// expansion itself is held to the interpreter's defining sums to 1e-12.
#[test]
fn spectral_ops_expanded_match_the_interpreter() {
    let module = read(
        r#"
func layer(%x: f64[3, 16], %w: f64[2, 3, 6]) -> f64[3, 16] {
  %s: f64[2, 3, 6] = rfft %x, 6
  %p: f64[2, 3, 6] = mul %s, %w
  %y: f64[3, 16] = irfft %p, 16
  return %y
}

func per_point(%x: batch f64[8], %w: f64[2, 5]) -> batch f64[8] {
  %y: batch f64[8] = map %x (%xi: f64[8]) {
    %s: f64[2, 5] = rfft %xi, 5
    %p: f64[2, 5] = mul %s, %w
    %t: f64[2, 5] = tanh %p
    %r: f64[8] = irfft %t, 8
    yield %r
  }
  return %y
}
"#,
    );
    check_expanded_spectral(
        &module,
        Expanded {
            label: "spectral",
            ops: 4,
            tol: None,
            seeds: 0..6,
            tiled_maps: Some(1),
            compared: 12,
        },
    );
}

/// What [`check_expanded_spectral`] expects of a module.
struct Expanded {
    label: &'static str,
    /// Spectral ops the expansion replaces.
    ops: usize,
    /// The tolerance against the interpreter (`None`: each back end's own).
    tol: Option<Tolerance>,
    seeds: std::ops::Range<u64>,
    /// Maps the tile pass must tile (`None`: not checked).
    tiled_maps: Option<usize>,
    /// Values compared at least, per back end.
    compared: usize,
}

/// `module` with its spectral ops expanded (`sci_passes::spectral`): equal to the defining
/// sums (the interpreter on the unexpanded module) to 1e-12, then on every back end against
/// the interpreter, untiled and (CPU back ends) batch-major with 4 lanes.
fn check_expanded_spectral(module: &Module, want: Expanded) {
    let mut expanded = module.clone();
    assert_eq!(
        sci_passes::spectral::expand_spectral(&mut expanded),
        want.ops
    );
    for (f, _) in module.functions.iter() {
        for seed in 0..3 {
            let args = sci_ir::random::random_inputs(module, f, seed);
            let exact = sci_ir::eval(module, f, &args).unwrap();
            let got = sci_ir::eval(&expanded, f, &args).unwrap();
            assert!(
                Tolerance::DEFAULT.agree(&exact, &got),
                "{got:?} vs {exact:?}"
            );
        }
    }
    for under in backends() {
        let (mut total, mut failures) = (Report::default(), Vec::new());
        let tol = want.tol.unwrap_or(under.tol);
        let inputs = Inputs::Random(want.seeds.clone());
        check_within(
            &under,
            tol,
            want.label,
            &expanded,
            &inputs,
            &mut total,
            &mut failures,
        );
        if under.label != "mlir" {
            let mut tiled = expanded.clone();
            let count = sci_passes::tile::tile_module(&mut tiled, 4);
            if let Some(maps) = want.tiled_maps {
                assert_eq!(count, maps);
            }
            let label = format!("{}, tiled", want.label);
            check_within(
                &under,
                tol,
                &label,
                &tiled,
                &inputs,
                &mut total,
                &mut failures,
            );
        }
        assert!(failures.is_empty(), "{}", failures.join("\n"));
        assert!(
            total.compared >= want.compared,
            "{}: {total:?}",
            under.label
        );
    }
}

/// Batched matrix products (leading batch axes) on every back end: large enough per matrix
/// for the matrix kernel, which each matrix of the batch calls at its offset, and small
/// ones the loop nest computes; their transposes; and a per-point batched product with
/// shared weights inside a map (a neural operator's per-mode channel mixing).
#[test]
fn batched_products_match_the_interpreter() {
    let module = read(
        r#"
func large(%a: f64[3, 16, 32], %b: f64[3, 32, 8]) -> f64[3, 8, 16] {
  %c: f64[3, 16, 8] = matmul %a, %b
  %t: f64[3, 8, 16] = transpose %c
  return %t
}

func small(%a: f64[2, 2, 3], %b: f64[2, 3, 1]) -> f64[2, 2, 1] {
  %c: f64[2, 2, 1] = matmul %a, %b
  return %c
}

func mixing(%x: batch f64[4, 6, 1], %w: f64[4, 6, 6]) -> batch f64[4, 6, 1] {
  %y: batch f64[4, 6, 1] = map %x (%xi: f64[4, 6, 1]) {
    %p: f64[4, 6, 1] = matmul %w, %xi
    %t: f64[4, 6, 1] = tanh %p
    yield %t
  }
  return %y
}
"#,
    );
    for under in backends() {
        let (mut total, mut failures) = (Report::default(), Vec::new());
        check_within(
            &under,
            Tolerance::DEFAULT,
            "batched",
            &module,
            &Inputs::Random(0..4),
            &mut total,
            &mut failures,
        );
        assert!(failures.is_empty(), "{}", failures.join("\n"));
        assert!(total.compared >= 12, "{}: {total:?}", under.label);
    }
}

/// The 2-D transforms, expanded, on every back end: a spectral layer over channels, and
/// one per point inside a map (tiled one point per tile where the back end tiles).
#[test]
fn two_dimensional_spectral_ops_expanded_match_the_interpreter() {
    let module = read(
        r#"
func layer(%x: f64[3, 6, 8], %w: f64[2, 3, 4, 3]) -> f64[3, 6, 8] {
  %s: f64[2, 3, 4, 3] = rfft2 %x, 2, 3
  %p: f64[2, 3, 4, 3] = mul %s, %w
  %y: f64[3, 6, 8] = irfft2 %p, 6, 8
  return %y
}

func per_point(%x: batch f64[5, 6], %w: f64[2, 4, 2]) -> batch f64[5, 6] {
  %y: batch f64[5, 6] = map %x (%xi: f64[5, 6]) {
    %s: f64[2, 4, 2] = rfft2 %xi, 2, 2
    %p: f64[2, 4, 2] = mul %s, %w
    %t: f64[2, 4, 2] = tanh %p
    %r: f64[5, 6] = irfft2 %t, 5, 6
    yield %r
  }
  return %y
}
"#,
    );
    check_expanded_spectral(
        &module,
        Expanded {
            label: "2-D spectral",
            ops: 8,
            tol: Some(Tolerance::DEFAULT),
            seeds: 0..4,
            tiled_maps: None,
            compared: 8,
        },
    );
}

/// `erf` and `exp` of tensors, which the JITs compute with their vector kernels
/// (`sci_erf_n`, `sci_exp_n`, from 8 elements), against the interpreter's libm bit for bit
/// on every back end: special values, each range boundary of musl's `erf` and `exp` with its
/// neighbours, subnormal and overflowing results, random arguments; GELU and its slope as a
/// neural operator computes them, a tensor below the kernels' minimum (libm per element),
/// and the same per point inside a map, also batch-major with outlined tiles.
#[test]
fn erf_and_exp_of_tensors_are_libm_bit_for_bit() {
    let module = read(
        r#"
module VectorMath

func erf_of(%x: f64[256]) -> f64[256] {
  %y: f64[256] = erf %x
  return %y
}

func exp_of(%x: f64[256]) -> f64[256] {
  %y: f64[256] = exp %x
  return %y
}

func gelu(%x: f64[16, 16]) -> f64[16, 16] {
  %c: f64 = const 0.7071067811865476
  %h: f64 = const 0.5
  %o: f64 = const 1
  %cs: f64[16, 16] = broadcast %c
  %hs: f64[16, 16] = broadcast %h
  %os: f64[16, 16] = broadcast %o
  %u: f64[16, 16] = mul %x, %cs
  %e: f64[16, 16] = erf %u
  %p: f64[16, 16] = add %os, %e
  %hx: f64[16, 16] = mul %hs, %x
  %y: f64[16, 16] = mul %hx, %p
  return %y
}

func gelu_slope(%x: f64[16, 16]) -> f64[16, 16] {
  %m: f64 = const -0.5
  %ms: f64[16, 16] = broadcast %m
  %x2: f64[16, 16] = mul %x, %x
  %a: f64[16, 16] = mul %ms, %x2
  %g: f64[16, 16] = exp %a
  return %g
}

func short(%x: f64[5]) -> f64[5] {
  %e: f64[5] = erf %x
  %g: f64[5] = exp %x
  %y: f64[5] = sub %e, %g
  return %y
}

func per_point(%x: batch f64[32]) -> batch f64[32] {
  %y: batch f64[32] = map %x (%xi: f64[32]) {
    %e: f64[32] = erf %xi
    %g: f64[32] = exp %e
    %t: f64[32] = tanh %g
    yield %t
  }
  return %y
}
"#,
    );
    // Arguments: musl's range boundaries for erf (2^-28, 0.84375, 1.25, 1/0.35, 6) and
    // exp (0.5 ln2, 1.5 ln2, its overflow and underflow thresholds) with two neighbours on
    // each side, special values, then random ones (uniform in [-8, 8] and over exp's whole
    // range, log-uniform magnitudes), 256 per set.
    let mut xs = vec![
        0.0,
        -0.0,
        5e-324,
        -5e-324,
        f64::MIN_POSITIVE,
        1e-300,
        1.0,
        f64::MAX,
        f64::MIN,
        f64::INFINITY,
        f64::NEG_INFINITY,
        f64::NAN,
    ];
    for b in [
        2f64.powi(-28),
        0.84375,
        1.25,
        1.0 / 0.35,
        6.0,
        0.5 * std::f64::consts::LN_2,
        1.5 * std::f64::consts::LN_2,
        709.782712893384,
        708.3964185322641,
        745.1332191019411,
    ] {
        for x in [
            b.next_down().next_down(),
            b.next_down(),
            b,
            b.next_up(),
            b.next_up().next_up(),
        ] {
            xs.extend([x, -x]);
        }
    }
    let mut seed = 0x853c_49e6_748f_ea9bu64;
    let mut uniform = |lo: f64, hi: f64| {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        lo + (seed >> 11) as f64 / (1u64 << 53) as f64 * (hi - lo)
    };
    while xs.len() < 256 * 12 {
        let x = match xs.len() % 3 {
            0 => uniform(-8.0, 8.0),
            1 => uniform(-750.0, 712.0),
            _ => uniform(-1.0, 1.0).signum() * 10f64.powf(uniform(-320.0, 3.0)),
        };
        xs.push(x);
    }
    let sets: Vec<&[f64]> = xs.chunks(256).collect();
    let args = |f: &str| -> Vec<Vec<Tensor>> {
        let tensor = |data: &[f64]| match f {
            "gelu" | "gelu_slope" => Tensor::new(vec![16, 16], data.to_vec()).unwrap(),
            "short" => Tensor::vector(data[..5].to_vec()),
            "per_point" => Tensor::batch(vec![32], 8, data.to_vec()).unwrap(),
            _ => Tensor::vector(data.to_vec()),
        };
        // The first set also for `short` from its special values and boundaries on.
        let mut all: Vec<Vec<Tensor>> = sets.iter().map(|s| vec![tensor(s)]).collect();
        if f == "short" {
            all.extend(xs[..60].chunks_exact(5).map(|s| vec![tensor(s)]));
        }
        all
    };
    let mut tiled = module.clone();
    assert_eq!(sci_passes::tile::tile_module(&mut tiled, 4), 1);
    sci_passes::tile::outline_tiles(&mut tiled);
    for under in backends() {
        let mut compared = 0;
        for (label, m) in [("untiled", &module), ("tiled", &tiled)] {
            if label == "tiled" && under.label == "mlir" {
                continue;
            }
            let valid = sci_codegen::validate(m).unwrap();
            let code = under.backend.compile(&valid).unwrap();
            // The functions above (not the tile functions outlined from them).
            let named = m
                .functions
                .iter()
                .filter(|(_, func)| module.functions.iter().any(|(_, g)| g.name == func.name));
            for (f, func) in named {
                for args in args(&func.name) {
                    let want = sci_ir::eval(m, f, &args).unwrap();
                    let got = code.call(&func.name, &args).unwrap();
                    assert_eq!(want.shape, got.shape);
                    for (i, (w, g)) in want.data.iter().zip(&got.data).enumerate() {
                        assert!(
                            w.to_bits() == g.to_bits() || (w.is_nan() && g.is_nan()),
                            "{}, {label}: {}[{i}] of {:e}: {w:e} (interpreter) but {g:e}",
                            under.label,
                            func.name,
                            args[0].data[i],
                        );
                    }
                    compared += 1;
                }
            }
        }
        assert!(compared >= 60, "{}: {compared}", under.label);
    }
}
