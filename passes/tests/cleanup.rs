//! Filetests for the clean-up passes: every `tests/cleanup/*.sir` names its pass in a
//! `; pass:` header (`cse`, `dce`, `fold`, `cleanup`, `fuse`). The pass runs on every function;
//! the output must validate and give bit-identical results on random inputs, and its
//! printed form is snapshotted (`INSTA_UPDATE=always cargo test -p sci-passes` to accept).

use sci_diag::FileId;
use sci_ir::random::random_inputs;
use sci_ir::{Interpreter, Module, Tensor, print_module, read_module, validate_module};
use sci_passes::cleanup::{cleanup_function, cse, dce, fold_constants};
use sci_passes::fuse::share_point_work_function;

fn same_bits(a: &Tensor, b: &Tensor) -> bool {
    a.shape == b.shape
        && a.batch == b.batch
        && a.data
            .iter()
            .zip(&b.data)
            .all(|(x, y)| x.to_bits() == y.to_bits() || (x.is_nan() && y.is_nan()))
}

fn assert_same_values(before: &Module, after: &Module) {
    let (ib, ia) = (
        Interpreter::new(before).unwrap(),
        Interpreter::new(after).unwrap(),
    );
    for (id, f) in before.functions.iter() {
        for seed in 0..4 {
            let inputs = random_inputs(before, id, seed);
            let (b, a) = (ib.call(id, &inputs), ia.call_named(&f.name, &inputs));
            match (b, a) {
                (Ok(b), Ok(a)) => assert!(same_bits(&b, &a), "`{}`: {b} became {a}", f.name),
                (b, a) => panic!("`{}`: {b:?} / {a:?}", f.name),
            }
        }
    }
}

#[test]
fn cleanup_filetests() {
    insta::glob!("cleanup/*.sir", |path| {
        let text = std::fs::read_to_string(path).unwrap();
        let pass = text
            .lines()
            .find_map(|l| l.strip_prefix("; pass: "))
            .expect("a `; pass:` header")
            .trim()
            .to_string();
        let before = read_module(FileId(0), &text).unwrap();
        validate_module(&before).unwrap();
        let mut after = before.clone();
        let ids: Vec<_> = after.functions.iter().map(|(id, _)| id).collect();
        for id in ids {
            let f = &mut after.functions[id];
            match pass.as_str() {
                "cse" => cse(f),
                "dce" => dce(f),
                "fold" => {
                    fold_constants(f);
                }
                "cleanup" => cleanup_function(f),
                "fuse" => {
                    share_point_work_function(f);
                }
                other => panic!("unknown pass `{other}`"),
            }
        }
        validate_module(&after).unwrap_or_else(|e| panic!("{e:?}\n{after}"));
        assert_same_values(&before, &after);
        let out = print_module(&after);
        // The output is in builder order: it prints without the `indexed` form.
        assert!(pass == "fold" || !out.contains("indexed"), "{out}");
        insta::assert_snapshot!(out);
    });
}

#[test]
fn passes_leave_broken_functions_alone() {
    let text = "module M\nfunc f(%x: f64) -> f64 {\n  %y: f64 = mul %x, %x\n  return %y\n}\n";
    let m = read_module(FileId(0), text).unwrap();
    let mut f = m.functions.iter().next().unwrap().1.clone();
    // Point the result at a value that does not exist.
    f.body.result = sci_ir::Handle::from_index(99);
    let broken = f.clone();
    cse(&mut f);
    dce(&mut f);
    fold_constants(&mut f);
    assert_eq!(f, broken);
}

/// `share_point_work` and the batch-major rewrite on maps whose structure is broken (an
/// argument or an input missing, a dangling result or operand) change what they can and
/// never panic.
#[test]
fn point_work_sharing_survives_broken_maps() {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/cleanup");
    for file in ["fuse.sir", "fuse_value_grad.sir"] {
        let text = std::fs::read_to_string(format!("{dir}/{file}")).unwrap();
        let m = read_module(FileId(0), &text).unwrap();
        let f = m.functions.iter().next().unwrap().1.clone();
        let maps: Vec<_> = f
            .values
            .iter()
            .filter(|(_, v)| matches!(v.op, sci_ir::Op::Map { .. }))
            .map(|(id, _)| id)
            .collect();
        let dangling = sci_ir::Handle::from_index(99_999);
        for &id in &maps {
            for mutation in 0..4 {
                let mut g = f.clone();
                if let sci_ir::Op::Map { inputs, body } = &mut g.values[id].op {
                    match mutation {
                        0 => {
                            body.args.pop();
                        }
                        1 => {
                            inputs.pop();
                        }
                        2 => body.result = dangling,
                        _ => {
                            if let Some(first) = inputs.first_mut() {
                                *first = dangling;
                            }
                        }
                    }
                }
                let mut tiled = g.clone();
                share_point_work_function(&mut g);
                sci_passes::tile::tile_function(&mut tiled, 4);
            }
        }
    }
}
