//! Snapshot tests of the simplifier on small IR files (`tests/simplify/*.sir`): the
//! simplified IR, its readable mathematics and the op-count table. A `; options:
//! fast-math` header enables the unsafe rules. Default results must be bit-identical and
//! fast-math results close, on random inputs.

use sci_diag::FileId;
use sci_ir::math::module_to_math;
use sci_ir::random::random_inputs;
use sci_ir::{Interpreter, Module, Tensor, print_module, read_module, validate_module};
use sci_passes::simplify::{SimplifyOptions, simplify_module};

fn check_values(before: &Module, after: &Module, fast: bool) {
    let (ib, ia) = (
        Interpreter::new(before).unwrap(),
        Interpreter::new(after).unwrap(),
    );
    for (id, f) in before.functions.iter() {
        for seed in 0..8 {
            let inputs = random_inputs(before, id, seed);
            let b: Tensor = ib.call(id, &inputs).unwrap();
            let a: Tensor = ia.call_named(&f.name, &inputs).unwrap();
            let ok = if fast {
                b.approx_eq(&a, 1e-12, 1e-12)
            } else {
                b.data
                    .iter()
                    .zip(&a.data)
                    .all(|(x, y)| x.to_bits() == y.to_bits() || (x.is_nan() && y.is_nan()))
            };
            assert!(ok, "`{}`: {b} became {a}", f.name);
        }
    }
}

#[test]
fn simplify_filetests() {
    insta::glob!("simplify/*.sir", |path| {
        let text = std::fs::read_to_string(path).unwrap();
        let fast = text.lines().any(|l| l.trim() == "; options: fast-math");
        let opts = if fast {
            SimplifyOptions::fast_math()
        } else {
            SimplifyOptions::default()
        };
        let before = read_module(FileId(0), &text).unwrap();
        let mut after = before.clone();
        let stats = simplify_module(&mut after, &opts);
        validate_module(&after).unwrap_or_else(|e| panic!("{e:?}\n{after}"));
        check_values(&before, &after, fast);
        for f in &stats.functions {
            assert!(f.ops_after < f.ops_before, "{f:?}");
            assert!(f.note.is_none(), "{f:?}");
        }
        let out = format!(
            "{}\n{}\n{}",
            print_module(&after),
            module_to_math(&after),
            stats.table()
        );
        insta::assert_snapshot!(out);
    });
}
