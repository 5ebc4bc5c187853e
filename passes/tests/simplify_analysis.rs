//! The e-class analysis is sound: on random expressions, a class proven never `-0` never
//! evaluates to `-0`, and a folded constant is exactly what the interpreter computes, at
//! every combination of special inputs.

use proptest::prelude::*;
use sci_ir::{Interpreter, Tensor};
use sci_passes::simplify::{expr_facts, pattern_module};

const INPUTS: &[f64] = &[
    0.0,
    -0.0,
    1.0,
    -1.0,
    0.5,
    -2.5,
    1e-300,
    -1e-300,
    5e-324,
    -5e-324,
    1e300,
    f64::INFINITY,
    f64::NEG_INFINITY,
    f64::NAN,
];

const CONSTANTS: &[&str] = &[
    "0", "-0", "1", "-1", "2", "0.5", "1e-300", "-1e-300", "inf", "NaN",
];

/// Random expressions over the variables `?x`, `?y` (written as pattern variables so that
/// `pattern_module` can compile them).
fn expr() -> impl Strategy<Value = String> {
    let leaf = prop_oneof![
        Just("?x".to_string()),
        Just("?y".to_string()),
        proptest::sample::select(CONSTANTS).prop_map(str::to_string),
    ];
    leaf.prop_recursive(5, 24, 3, |inner| {
        let unary = proptest::sample::select(
            &[
                "neg", "abs", "sqrt", "exp", "cosh", "sigmoid", "softplus", "floor", "tanh", "sin",
                "powi_2", "powi_3", "powi_-2",
            ][..],
        );
        let binary = proptest::sample::select(&["+", "-", "*", "/", "min", "max"][..]);
        prop_oneof![
            (unary, inner.clone()).prop_map(|(op, a)| format!("({op} {a})")),
            (binary, inner.clone(), inner.clone()).prop_map(|(op, a, b)| format!("({op} {a} {b})")),
            (inner.clone(), inner.clone(), inner.clone(), inner)
                .prop_map(|(a, b, c, d)| format!("(select (< {a} {b}) {c} {d})")),
        ]
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]
    #[test]
    fn never_negative_zero_and_folding_are_sound(e in expr()) {
        let facts = expr_facts(&e.replace("?x", "x").replace("?y", "y")).unwrap();
        let (m, vars) = pattern_module(&e).unwrap();
        let interp = Interpreter::new(&m).unwrap();
        let mut points = vec![vec![]];
        for _ in &vars {
            points = points
                .into_iter()
                .flat_map(|p: Vec<f64>| INPUTS.iter().map(move |x| [p.clone(), vec![*x]].concat()))
                .collect();
        }
        for p in points {
            let args: Vec<Tensor> = p.iter().map(|x| Tensor::scalar(*x)).collect();
            let r = interp.call_named("f", &args).unwrap().as_scalar().unwrap();
            if facts.never_neg_zero {
                prop_assert!(r.to_bits() != (-0.0f64).to_bits(), "{e} at {p:?} is -0");
            }
            if let Some(bits) = facts.value {
                let c = f64::from_bits(bits);
                prop_assert!(c.to_bits() == r.to_bits() || (c.is_nan() && r.is_nan()), "{e}: folded {c}, computed {r}");
            }
        }
    }
}
