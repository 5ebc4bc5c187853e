//! Simplification and clean-up on random IR programs (`sci_ir::random`): the output
//! validates, and by default evaluates to bit-identical results (NaN payloads aside); with
//! fast-math it still validates and evaluates.

use sci_ir::random::{RandomOptions, random_function, random_inputs};
use sci_ir::{Interpreter, Module, Tensor, validate_module};
use sci_passes::cleanup::cleanup_module;
use sci_passes::simplify::{SimplifyOptions, simplify_module};

const SEEDS: u64 = 300;

/// Same bits, except that any NaN equals any NaN.
fn same_bits(a: &Tensor, b: &Tensor) -> bool {
    a.shape == b.shape
        && a.batch == b.batch
        && a.data.len() == b.data.len()
        && a.data
            .iter()
            .zip(&b.data)
            .all(|(x, y)| x.to_bits() == y.to_bits() || (x.is_nan() && y.is_nan()))
}

fn eval_f(m: &Module, inputs: &[Tensor]) -> Option<Tensor> {
    let f = m.function("f")?;
    Interpreter::new(m)
        .ok()?
        .with_step_limit(200_000)
        .call(f, inputs)
        .ok()
}

fn options(seed: u64) -> RandomOptions {
    RandomOptions {
        ops: 8 + (seed % 32) as usize,
        ..RandomOptions::default()
    }
}

#[test]
fn default_simplification_is_bit_identical_on_random_programs() {
    let mut compared = 0;
    for seed in 0..SEEDS {
        let original = random_function(seed, &options(seed));
        let mut simplified = original.clone();
        let stats = simplify_module(&mut simplified, &SimplifyOptions::default());
        validate_module(&simplified).unwrap_or_else(|e| {
            panic!("seed {seed}: invalid after simplification: {e:?}\n{simplified}")
        });
        for f in &stats.functions {
            assert!(
                f.note.is_none() || !f.note.as_deref().unwrap_or("").contains("internal"),
                "seed {seed}: {f:?}"
            );
            assert!(f.ops_after <= f.ops_before, "seed {seed}: {f:?}");
        }
        let Some(f) = original.function("f") else {
            continue;
        };
        let inputs = random_inputs(&original, f, seed);
        let before = eval_f(&original, &inputs);
        let after = eval_f(&simplified, &inputs);
        if let (Some(b), Some(a)) = (&before, &after) {
            assert!(
                same_bits(b, a),
                "seed {seed}: {b} became {a}\n{original}\n{simplified}"
            );
            compared += 1;
        }
        assert_eq!(
            before.is_some(),
            after.is_some(),
            "seed {seed}: evaluation changed\n{original}\n{simplified}"
        );
    }
    assert!(compared > SEEDS / 2, "only {compared} programs evaluated");
}

#[test]
fn cleanup_is_bit_identical_on_random_programs() {
    for seed in 0..SEEDS {
        let original = random_function(seed, &options(seed));
        let mut cleaned = original.clone();
        cleanup_module(&mut cleaned);
        validate_module(&cleaned)
            .unwrap_or_else(|e| panic!("seed {seed}: invalid after clean-up: {e:?}\n{cleaned}"));
        let Some(f) = original.function("f") else {
            continue;
        };
        let inputs = random_inputs(&original, f, seed);
        let before = eval_f(&original, &inputs);
        let after = eval_f(&cleaned, &inputs);
        if let (Some(b), Some(a)) = (&before, &after) {
            assert!(same_bits(b, a), "seed {seed}: {b} became {a}");
        }
        assert_eq!(before.is_some(), after.is_some(), "seed {seed}");
    }
}

#[test]
fn fast_math_simplification_validates_on_random_programs() {
    for seed in 0..SEEDS / 3 {
        let original = random_function(seed, &options(seed));
        let mut simplified = original.clone();
        simplify_module(&mut simplified, &SimplifyOptions::fast_math());
        validate_module(&simplified).unwrap_or_else(|e| {
            panic!("seed {seed}: invalid after fast-math: {e:?}\n{simplified}")
        });
    }
}
