//! Batch-major maps (`sci_passes::tile`): on every example with its derivatives and on the
//! IR filetests, the tiled module validates, prints and reads back, and the interpreter gives
//! the same numbers as on the untiled module (to rounding: lanes are summed before tiles) for
//! 0, 1 and odd numbers of points, a tile's remainder and several tiles, with several lane
//! counts. The PINN's loss and gradient are tiled completely, with the reductions fused.
//! Outlining the tile bodies (`outline_tiles`, what the JITs' tile runtime needs) changes no
//! bit of any result.

mod common;

use sci::ir::random::random_inputs;
use sci::ir::{FuncId, Interpreter, Module, Op, Tensor};
use sci_codegen::difftest::Tolerance;
use sci_passes::tile::{is_single_call, outline_tiles, tile_module};

fn example_modules() -> Vec<(String, Module)> {
    let mut out = Vec::new();
    for path in common::example_paths() {
        let compiled = sci::Compiler::new()
            .compile_file(&path)
            .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        for m in &compiled.modules {
            // A paper-sized network (`burgers_fno`, 550k weights) takes the interpreter
            // minutes per point; its architecture is tiled at a small size below.
            if m.params.len > 100_000 {
                continue;
            }
            let (with, _) = sci::jit::with_derivatives(m).unwrap();
            out.push((path.display().to_string(), with));
        }
    }
    out
}

fn filetest_modules() -> Vec<(String, Module)> {
    common::files_with_extension("ir/tests/filetests", "sir")
        .into_iter()
        .filter_map(|p| {
            let text = std::fs::read_to_string(&p).unwrap();
            let m = sci::ir::read::read_module(sci::diag::FileId(0), &text).ok()?;
            sci::ir::validate::validate_module(&m).ok()?;
            Some((p.display().to_string(), m))
        })
        .collect()
}

/// Inputs of `func` with every batched input resized to `points` points.
fn inputs_with_points(m: &Module, func: FuncId, points: usize, seed: u64) -> Vec<Tensor> {
    random_inputs(m, func, seed)
        .into_iter()
        .map(|t| match t.batch {
            Some(n) if n > 0 => {
                let per = t.data.len() / n;
                let data = (0..points * per)
                    .map(|k| t.data[k % t.data.len()] * (1.0 + 0.01 * (k / t.data.len()) as f64))
                    .collect();
                Tensor {
                    batch: Some(points),
                    data,
                    ..t
                }
            }
            _ => t,
        })
        .collect()
}

fn agree(a: &Result<Tensor, sci::ir::EvalError>, b: &Result<Tensor, sci::ir::EvalError>) -> bool {
    match (a, b) {
        // The untiled result is the reference.
        (Ok(want), Ok(got)) => Tolerance {
            rtol: 1e-9,
            atol: 1e-11,
            normwise: false,
        }
        .agree(want, got),
        (Err(_), Err(_)) => true,
        _ => false,
    }
}

fn check(name: &str, module: &Module, lanes: usize, counts: &[usize]) -> usize {
    let mut tiled = module.clone();
    let n = tile_module(&mut tiled, lanes);
    sci::ir::validate::validate_module(&tiled)
        .unwrap_or_else(|e| panic!("{name}: tiled IR does not validate: {e:?}"));
    let text = sci::ir::print::print_module(&tiled);
    let back = sci::ir::read::read_module(sci::diag::FileId(0), &text)
        .unwrap_or_else(|e| panic!("{name}: tiled IR does not read back: {e:?}"));
    assert_eq!(back, tiled, "{name}: tiled IR round trip");
    let mut outlined = tiled.clone();
    let bodies = outline_tiles(&mut outlined);
    sci::ir::validate::validate_module(&outlined)
        .unwrap_or_else(|e| panic!("{name}: outlined IR does not validate: {e:?}"));
    let text = sci::ir::print::print_module(&outlined);
    let back = sci::ir::read::read_module(sci::diag::FileId(0), &text)
        .unwrap_or_else(|e| panic!("{name}: outlined IR does not read back: {e:?}"));
    assert_eq!(back, outlined, "{name}: outlined IR round trip");
    let mut tile_maps = 0;
    for (_, f) in outlined.functions.iter() {
        for v in &f.body.body {
            if let Op::TileMap { body, .. } = &f.values[*v].op {
                tile_maps += 1;
                assert!(
                    is_single_call(f, body),
                    "{name}::{}: body not outlined",
                    f.name
                );
            }
        }
    }
    assert_eq!(outlined.functions.len(), tiled.functions.len() + bodies);
    assert!(bodies <= tile_maps);
    assert_eq!(outline_tiles(&mut outlined), 0, "{name}: outlining twice");
    let plain = Interpreter::new(module).unwrap();
    let fast = Interpreter::new(&tiled).unwrap();
    let split = Interpreter::new(&outlined).unwrap();
    for (id, f) in module.functions.iter() {
        if !f
            .inputs()
            .iter()
            .any(|v| f.values.get(*v).is_some_and(|v| v.ty.batched))
        {
            continue;
        }
        for &points in counts {
            let ins = inputs_with_points(module, id, points, points as u64);
            let want = plain.call(id, &ins);
            let got = fast.call(id, &ins);
            assert!(
                agree(&want, &got),
                "{name}::{} with {points} points, {lanes} lanes: untiled {want:?} but tiled {got:?}",
                f.name
            );
            let same = match (&got, &split.call(id, &ins)) {
                (Ok(a), Ok(b)) => {
                    a.data
                        .iter()
                        .zip(&b.data)
                        .all(|(x, y)| x.to_bits() == y.to_bits() || (x.is_nan() && y.is_nan()))
                        && a.data.len() == b.data.len()
                }
                (Err(_), Err(_)) => true,
                _ => false,
            };
            assert!(same, "{name}::{}: outlining changed the result", f.name);
        }
    }
    n
}

#[test]
fn tiled_modules_agree_with_the_untiled_ones_on_every_example_and_filetest() {
    let mut tiled = 0;
    for (name, module) in example_modules().iter().chain(&filetest_modules()) {
        tiled += check(name, module, 4, &[0, 1, 3, 4, 5, 9]);
    }
    assert!(tiled > 20, "only {tiled} maps were tiled");
}

/// Both PINNs (Kovasznay's reverse pass builds one-hot adjoints of the network's three
/// outputs with `tabulate`s that depend on the point) are tiled completely.
#[test]
fn the_pinns_are_tiled_completely_with_fused_reductions() {
    let modules = example_modules();
    for example in ["burgers_pinn.sci", "kovasznay.sci"] {
        let (name, pinn) = modules.iter().find(|(n, _)| n.ends_with(example)).unwrap();
        for lanes in [1, 3, 8, 32] {
            check(
                name,
                pinn,
                lanes,
                &[0, 1, 2, lanes - 1, lanes + 1, 3 * lanes + 5],
            );
        }
        let mut tiled = pinn.clone();
        tile_module(&mut tiled, 32);
        for fname in ["loss", "grad.loss"] {
            let f = &tiled.functions[tiled.function(fname).unwrap()];
            let ops: Vec<&Op> = f.body.body.iter().map(|v| &f.values[*v].op).collect();
            assert!(
                !ops.iter().any(|op| matches!(op, Op::Map { .. })),
                "{example}: {fname} still has an untiled map"
            );
            assert!(
                ops.iter().any(|op| matches!(
                    op,
                    Op::TileMap {
                        reduce: Some(_),
                        ..
                    }
                )),
                "{example}: {fname} has no fused reduction"
            );
        }
    }
}

/// A neural operator applied per sample (matrix products of per-sample activations, no
/// tile form) runs one sample per tile, on the tile runtime's threads, with the numbers
/// of the untiled map.
#[test]
fn operators_run_one_sample_per_tile() {
    let source = "use nn.{fno}

model Op {
    data pairs(a: real[8], u: real[8]) = npy(\"a.npy\", \"u.npy\")
    net G(a) = fno(modes: 2, width: 3, layers: 2, projection: 4)
    loss = mean(norm(G(pairs.a) - pairs.u)^2)
}
";
    let compiled = sci::Compiler::new()
        .backend(sci::BackendKind::Interpreter)
        .compile_source("op.sci", source)
        .unwrap();
    let model = compiled.model("Op").unwrap();
    let untiled = model.ir().clone();
    let mut tiled = untiled.clone();
    assert!(tile_module(&mut tiled, 8) > 0);
    sci::ir::validate::validate_module(&tiled).unwrap();
    let loss = tiled.function("grad.loss").unwrap();
    let f = tiled.functions.get(loss).unwrap();
    assert!(
        f.body.body.iter().any(|v| matches!(
            f.values.get(*v).map(|v| &v.op),
            Some(Op::TileMap {
                lanes: 1,
                reduce: Some(_),
                ..
            })
        )),
        "the gradient's map over samples is a reducing tile_map of one lane"
    );
    let rows: Vec<f64> = (0..5 * 16)
        .map(|k| ((k * 37) % 11) as f64 / 11.0 - 0.4)
        .collect();
    let inputs = [
        Tensor::vector(model.params()),
        Tensor::batch(vec![16], 5, rows).unwrap(),
    ];
    for name in ["loss", "grad.loss"] {
        let run = |m: &Module| {
            let id = m.function(name).unwrap();
            Interpreter::new(m).unwrap().call(id, &inputs).unwrap()
        };
        let (a, b) = (run(&untiled), run(&tiled));
        for (x, y) in a.data.iter().zip(&b.data) {
            assert_eq!(
                x.to_bits(),
                y.to_bits(),
                "{name}: one point per tile sums in order"
            );
        }
    }
}
