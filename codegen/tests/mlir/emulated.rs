//! The kernels run on the CPU (`KernelEmulator`, the ABI's launch configuration) against
//! the interpreter.

use super::gpu::MLP;
use crate::{filetest_modules, has_deriv, read, structured};
use sci_codegen::difftest::structured_inputs;
use sci_codegen::mlir::{KernelEmulator, SITE_BLOCK};
use sci_ir::interp::close;
use sci_ir::kernels::kernel_sites;
use sci_ir::random::{RandomOptions, random_function, random_inputs};
use sci_ir::{FuncId, Module, ReduceOp, Tensor, ValueId};

/// The value `v` of the top level of `func` on `args`, by the interpreter: `func` cut
/// after `v` and returning it, added to the module as a new function.
fn probe(module: &Module, func: FuncId, v: ValueId, args: &[Tensor]) -> Result<Tensor, String> {
    let mut m = module.clone();
    let mut g = m.functions.get(func).unwrap().clone();
    // Inputs are not in the body: nothing of it is needed.
    let keep = g
        .body
        .body
        .iter()
        .position(|&x| x == v)
        .map_or(0, |p| p + 1);
    g.body.body.truncate(keep);
    g.body.result = v;
    g.name = "probe".into();
    let id = m.functions.push(g);
    let interp = sci_ir::Interpreter::new(&m).map_err(|e| e.message)?;
    interp.call(id, args).map_err(|e| e.message)
}

/// What the emulated kernels of `module` were checked on.
#[derive(Debug, Default)]
struct Emulated {
    points: usize,
    failed_points: usize,
    reductions: usize,
}

/// Runs every kernel site of `module` (and its fused reduction, in chunks of 2 points) on
/// the inputs `sets(func)` gives, with the interpreter's values of the site's inputs and
/// captures, and compares with the interpreter's value of the map (and of the reduction).
fn check_emulation(
    label: &str,
    module: &Module,
    sets: &dyn Fn(FuncId) -> Vec<Vec<Tensor>>,
    tally: &mut Emulated,
) {
    let emu = KernelEmulator::new(module).unwrap_or_else(|e| panic!("{label}: {e}"));
    for (k, site) in emu.sites().iter().enumerate() {
        for args in sets(site.func) {
            let eval = |v| probe(module, site.func, v, &args);
            let (Ok(inputs), Ok(captures)) = (
                site.inputs
                    .iter()
                    .map(|&v| eval(v))
                    .collect::<Result<Vec<_>, _>>(),
                site.captures
                    .iter()
                    .map(|&v| eval(v))
                    .collect::<Result<Vec<_>, _>>(),
            ) else {
                continue;
            };
            let points = inputs[0].batch.unwrap();
            if inputs.iter().any(|t| t.batch != Some(points)) {
                continue;
            }
            let ins: Vec<&[f64]> = inputs.iter().map(|t| t.data.as_slice()).collect();
            let caps: Vec<&[f64]> = captures.iter().map(|t| t.data.as_slice()).collect();
            let mut out = vec![0.0; site.point_len * points];
            let status = emu.run_site(k, points, &ins, &caps, &mut out).unwrap();
            match eval(site.map) {
                Ok(want) => {
                    assert_eq!(status, 0, "{label}: {} failed", site.name);
                    assert_eq!(want.data.len(), out.len(), "{label}: {}", site.name);
                    for (g, w) in out.iter().zip(&want.data) {
                        assert!(
                            close(*g, *w, 0.0, 0.0),
                            "{label}: {} gives {g} where the interpreter gives {w}",
                            site.name
                        );
                    }
                    tally.points += points;
                }
                Err(e) => {
                    assert!(e.contains("out of range"), "{label}: {e}");
                    assert_eq!(status, 1, "{label}: {} did not fail: {e}", site.name);
                    assert!(out.iter().any(|x| x.is_nan()), "{label}: no NaN point");
                    tally.failed_points += 1;
                    continue;
                }
            }
            let Some((op, r)) = site.reduce else {
                continue;
            };
            let Ok(want) = eval(r) else {
                continue;
            };
            let width = site.point_len;
            let chunks = points.div_ceil(2).max(1);
            let mut partials = vec![0.0; chunks * width];
            emu.run_reduce(op, points, width, 2, &out, &mut partials)
                .unwrap();
            for j in 0..width {
                let mut acc = partials[j];
                for c in 1..chunks {
                    let x = partials[c * width + j];
                    acc = match op {
                        ReduceOp::Sum | ReduceOp::Mean => acc + x,
                        ReduceOp::Prod => acc * x,
                        ReduceOp::Max => sci_ir::interp::max_nan(acc, x),
                        ReduceOp::Min => sci_ir::interp::min_nan(acc, x),
                    };
                }
                if op == ReduceOp::Mean {
                    acc /= points as f64;
                }
                // The host rounds the finished value to the reduction's dtype.
                let f = module.functions.get(site.func).unwrap();
                if f.values.get(r).unwrap().ty.dtype == sci_ir::DType::F32 {
                    acc = acc as f32 as f64;
                }
                assert!(
                    close(acc, want.data[j], 1e-12, 1e-13),
                    "{label}: {} reduced {op:?} gives {acc} where the interpreter gives {}",
                    site.name,
                    want.data[j]
                );
            }
            tally.reductions += 1;
        }
    }
}

/// The kernels, run on the CPU with the ABI's launch configuration, compute what the
/// interpreter computes: per point bit for bit (same libm), reductions to 1e-12.
#[test]
fn emulated_kernels_match_the_interpreter() {
    let mut tally = Emulated::default();
    let mlp = read(MLP);
    let structured = structured();
    // 300 points: two blocks of 256 threads, the second partly idle.
    let many = |m: &Module, f: FuncId| {
        let mut sets: Vec<Vec<Tensor>> = (0..3).map(|s| random_inputs(m, f, s)).collect();
        let mut big = random_inputs(m, f, 9);
        for t in &mut big {
            if let Some(p) = t.batch {
                let per = t.data.len() / p;
                t.batch = Some(300);
                t.data = (0..300 * per)
                    .map(|k| t.data[k % t.data.len()] * (1.0 + k as f64 * 1e-3))
                    .collect();
            }
        }
        sets.push(big);
        sets
    };
    check_emulation("mlp", &mlp, &|f| many(&mlp, f), &mut tally);
    check_emulation(
        "structured",
        &structured,
        &|f| structured_inputs(&structured, f),
        &mut tally,
    );
    for (path, module) in filetest_modules() {
        if kernel_sites(&module).is_empty() || has_deriv(&module) {
            continue;
        }
        let label = path.display().to_string();
        check_emulation(&label, &module, &|f| many(&module, f), &mut tally);
    }
    for seed in 0..60 {
        let module = random_function(seed, &RandomOptions::default());
        if kernel_sites(&module).is_empty() {
            continue;
        }
        let sets = |f| {
            (0..3)
                .map(|s| random_inputs(&module, f, seed * 7 + s))
                .collect()
        };
        check_emulation(&format!("random {seed}"), &module, &sets, &mut tally);
    }
    eprintln!("emulated: {tally:?}");
    assert!(tally.points > 2000, "{tally:?}");
    assert!(tally.failed_points >= 2, "{tally:?}");
    assert!(tally.reductions >= 10, "{tally:?}");
}

#[test]
fn emulated_reductions_follow_the_abi() {
    let emu = KernelEmulator::new(&read(MLP)).unwrap();
    // 5 points of width 3, chunks of 2: rows 0-1, 2-3, 4, and an empty fourth chunk.
    let input: Vec<f64> = (0..15).map(|k| k as f64 - 7.0).collect();
    let mut partials = vec![0.0; 4 * 3];
    emu.run_reduce(ReduceOp::Sum, 5, 3, 2, &input, &mut partials)
        .unwrap();
    assert_eq!(
        partials,
        [
            -11.0, -9.0, -7.0, 1.0, 3.0, 5.0, 5.0, 6.0, 7.0, 0.0, 0.0, 0.0
        ]
    );
    emu.run_reduce(ReduceOp::Max, 5, 3, 2, &input, &mut partials)
        .unwrap();
    let inf = f64::INFINITY;
    assert_eq!(
        partials,
        [
            -4.0, -3.0, -2.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, -inf, -inf, -inf
        ]
    );
    emu.run_reduce(ReduceOp::Min, 5, 3, 2, &input, &mut partials)
        .unwrap();
    assert_eq!(partials[9..], [inf, inf, inf]);
    emu.run_reduce(ReduceOp::Prod, 5, 3, 2, &input, &mut partials)
        .unwrap();
    assert_eq!(partials[..3], [-7.0 * -4.0, -6.0 * -3.0, -5.0 * -2.0]);
    assert_eq!(partials[9..], [1.0, 1.0, 1.0]);
    let mut nan_input = input.clone();
    nan_input[4] = f64::NAN;
    emu.run_reduce(ReduceOp::Max, 5, 3, 2, &nan_input, &mut partials)
        .unwrap();
    assert!(partials[1].is_nan() && !partials[0].is_nan());
    // 300 columns: three blocks of 128 threads.
    let wide: Vec<f64> = (0..600).map(|k| k as f64).collect();
    let mut out = vec![0.0; 300];
    emu.run_reduce(ReduceOp::Sum, 2, 300, 2, &wide, &mut out)
        .unwrap();
    assert!(
        out.iter()
            .enumerate()
            .all(|(j, x)| *x == (2 * j + 300) as f64)
    );
    // Lengths are checked.
    assert!(
        emu.run_reduce(ReduceOp::Sum, 5, 3, 2, &input[1..], &mut partials)
            .is_err()
    );
    assert!(
        emu.run_site(0, 2, &[&[0.0; 3]], &[], &mut [0.0; 2])
            .is_err()
    );
    assert!(emu.run_site(9, 0, &[], &[], &mut []).is_err());
    assert_eq!(SITE_BLOCK, 256);
}
