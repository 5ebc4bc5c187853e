//! One-line tests for every rewrite rule, egg-style, and the IEEE-safety property of the
//! rules marked safe.
//!
//! - `CASES`: `(rule, input, expected)`: running *only that rule* (plus constant folding)
//!   on the input must prove it equal to the expected expression. Every rule has a case.
//! - `UNSAFE_IN_DEFAULT`: identities that change IEEE results; the default rule set must
//!   not prove them.
//! - Safe rules are value-preserving: both sides are compiled to IR (`pattern_module`) and
//!   evaluated by the interpreter on a grid of special values (±0, ±1, ±2, subnormals,
//!   ±max, ±inf, NaN, …) and on random bit patterns; the bits must agree (any NaN equals any
//!   NaN).

use proptest::prelude::*;
use sci_ir::{Interpreter, Module, Tensor};
use sci_passes::simplify::{
    Group, Guard, RULES, RuleSpec, SimplifyOptions, compile_rules, pattern_module, proves_equal,
    rule_named, simplify_expr,
};

/// `(rule, input, expected)`; leaves are the letters `x`, `y`, `z`.
const CASES: &[(&str, &str, &str)] = &[
    ("add-comm", "(+ x y)", "(+ y x)"),
    ("mul-comm", "(* x y)", "(* y x)"),
    ("add-neg-zero", "(+ x -0)", "x"),
    ("sub-zero", "(- x 0)", "x"),
    ("mul-one", "(* x 1)", "x"),
    ("div-one", "(/ x 1)", "x"),
    ("neg-neg", "(neg (neg x))", "x"),
    ("sub-to-add-neg", "(- x y)", "(+ x (neg y))"),
    ("add-neg-to-sub", "(+ x (neg y))", "(- x y)"),
    ("sub-neg", "(- x (neg y))", "(+ x y)"),
    ("neg-zero-sub", "(- -0 x)", "(neg x)"),
    ("mul-minus-one", "(* x -1)", "(neg x)"),
    ("neg-mul", "(neg (* x y))", "(* (neg x) y)"),
    ("mul-neg", "(* (neg x) y)", "(neg (* x y))"),
    ("neg-div", "(neg (/ x y))", "(/ (neg x) y)"),
    ("div-neg", "(/ (neg x) y)", "(neg (/ x y))"),
    ("div-by-neg", "(/ x (neg y))", "(neg (/ x y))"),
    ("add-self", "(+ x x)", "(* x 2)"),
    ("div-pow2", "(/ x 4)", "(* x 0.25)"),
    ("div-pow2", "(/ x -0.5)", "(* x -2)"),
    ("add-zero-exact", "(+ (exp x) 0)", "(exp x)"),
    (
        "add-zero-exact",
        "(+ (+ (abs x) (neg y)) 0)",
        "(+ (abs x) (neg y))",
    ),
    ("abs-neg", "(abs (neg x))", "(abs x)"),
    ("abs-abs", "(abs (abs x))", "(abs x)"),
    ("select-same", "(select (< x y) z z)", "z"),
    ("select-true", "(select (< 1 2) x y)", "x"),
    ("select-false", "(select (> 1 2) x y)", "y"),
    ("add-zero", "(+ x 0)", "x"),
    ("zero-sub", "(- 0 x)", "(neg x)"),
    ("neg-sub", "(neg (- x y))", "(- y x)"),
    ("mul-zero", "(* x 0)", "0"),
    ("sub-self", "(- x x)", "0"),
    ("div-self", "(/ x x)", "1"),
    ("zero-div", "(/ 0 x)", "0"),
    ("add-assoc", "(+ (+ x y) z)", "(+ x (+ y z))"),
    ("add-assoc-rev", "(+ x (+ y z))", "(+ (+ x y) z)"),
    ("mul-assoc", "(* (* x y) z)", "(* x (* y z))"),
    ("mul-assoc-rev", "(* x (* y z))", "(* (* x y) z)"),
    ("distribute", "(* x (+ y z))", "(+ (* x y) (* x z))"),
    ("factor", "(+ (* x y) (* x z))", "(* x (+ y z))"),
    ("factor-sub", "(- (* x y) (* x z))", "(* x (- y z))"),
    ("div-const", "(/ x 3)", "(* x 0.3333333333333333)"),
    ("mul-div-cancel", "(/ (* x y) y)", "x"),
    ("div-div", "(/ (/ x y) z)", "(/ x (* y z))"),
    ("mul-recip", "(* x (/ 1 y))", "(/ x y)"),
    ("sub-add-cancel", "(- (+ x y) y)", "x"),
    ("add-sub-cancel", "(+ (- x y) y)", "x"),
    ("neg-add", "(+ (neg x) (neg y))", "(neg (+ x y))"),
    ("powi-zero", "(powi_0 x)", "1"),
    ("powi-one", "(powi_1 x)", "x"),
    ("powi-two", "(powi_2 x)", "(* x x)"),
    ("powi-minus-one", "(powi_-1 x)", "(/ 1 x)"),
    ("powi-even-neg", "(powi_2 (neg x))", "(powi_2 x)"),
    ("pow-to-powi-2", "(pow x 2)", "(powi_2 x)"),
    ("pow-to-powi-3", "(pow x 3)", "(powi_3 x)"),
    ("pow-to-powi-minus-1", "(pow x -1)", "(powi_-1 x)"),
    ("pow-to-powi-minus-2", "(pow x -2)", "(powi_-2 x)"),
    ("powi-three", "(powi_3 x)", "(* (* x x) x)"),
    ("powi-minus-two", "(powi_-2 x)", "(/ 1 (* x x))"),
    ("powi-square-mul", "(* (powi_2 x) x)", "(powi_3 x)"),
    ("pow-half", "(pow x 0.5)", "(sqrt x)"),
    ("sqrt-square", "(* (sqrt x) (sqrt x))", "x"),
    ("sqrt-of-square", "(sqrt (* x x))", "(abs x)"),
    ("log-exp", "(log (exp x))", "x"),
    ("exp-log", "(exp (log x))", "x"),
    ("exp-sum", "(* (exp x) (exp y))", "(exp (+ x y))"),
    ("exp-diff", "(/ (exp x) (exp y))", "(exp (- x y))"),
    ("exp-neg", "(/ 1 (exp x))", "(exp (neg x))"),
    ("log-product", "(+ (log x) (log y))", "(log (* x y))"),
    ("log-quotient", "(- (log x) (log y))", "(log (/ x y))"),
    ("sin-odd", "(sin (neg x))", "(neg (sin x))"),
    ("cos-even", "(cos (neg x))", "(cos x)"),
    ("tan-def", "(/ (sin x) (cos x))", "(tan x)"),
    (
        "pythagoras",
        "(+ (* (sin x) (sin x)) (* (cos x) (cos x)))",
        "1",
    ),
    (
        "sec-squared",
        "(/ 1 (* (cos x) (cos x)))",
        "(+ 1 (* (tan x) (tan x)))",
    ),
    ("tanh-odd", "(tanh (neg x))", "(neg (tanh x))"),
    ("cosh-even", "(cosh (neg x))", "(cosh x)"),
    ("tanh-def", "(/ (sinh x) (cosh x))", "(tanh x)"),
    (
        "tanh-derivative",
        "(/ 1 (* (cosh x) (cosh x)))",
        "(- 1 (* (tanh x) (tanh x)))",
    ),
    (
        "tanh-derivative-powi",
        "(powi_-2 (cosh x))",
        "(- 1 (* (tanh x) (tanh x)))",
    ),
    ("sigmoid-def", "(/ 1 (+ 1 (exp (neg x))))", "(sigmoid x)"),
    (
        "sigmoid-exp-form",
        "(/ (exp x) (+ 1 (exp x)))",
        "(sigmoid x)",
    ),
    (
        "sigmoid-derivative",
        "(/ (exp (neg x)) (* (+ 1 (exp (neg x))) (+ 1 (exp (neg x)))))",
        "(* (sigmoid x) (- 1 (sigmoid x)))",
    ),
    (
        "sigmoid-derivative-powi",
        "(/ (exp (neg x)) (powi_2 (+ 1 (exp (neg x)))))",
        "(* (sigmoid x) (- 1 (sigmoid x)))",
    ),
    ("softplus-def", "(log (+ 1 (exp x)))", "(softplus x)"),
    ("neg-neg-mul", "(* (neg x) (neg y))", "(* x y)"),
    ("neg-neg-div", "(/ (neg x) (neg y))", "(/ x y)"),
    (
        "select-mul",
        "(* (select (< x y) 1 0) z)",
        "(select (< x y) (* 1 z) (* 0 z))",
    ),
    (
        "select-add",
        "(+ (select (< x y) 1 0) z)",
        "(select (< x y) (+ 1 z) (+ 0 z))",
    ),
    (
        "select-neg",
        "(neg (select (< x y) x y))",
        "(select (< x y) (neg x) (neg y))",
    ),
    (
        "select-factor",
        "(select (< x y) (* 2 z) (* 3 z))",
        "(* (select (< x y) 2 3) z)",
    ),
    ("chain-scale", "(* 2 (* 3 x))", "(* 6 x)"),
    ("sum-of-scaled", "(+ (* 2 x) (* 3 x))", "(* 5 x)"),
];

/// Identities that change IEEE results: the default (safe) rule set must not prove them.
const UNSAFE_IN_DEFAULT: &[(&str, &str)] = &[
    ("(+ x 0)", "x"),
    ("(- 0 x)", "(neg x)"),
    ("(* x 0)", "0"),
    ("(- x x)", "0"),
    ("(/ x x)", "1"),
    ("(/ 0 x)", "0"),
    ("(neg (- x y))", "(- y x)"),
    ("(+ (+ x y) z)", "(+ x (+ y z))"),
    ("(* (* x y) z)", "(* x (* y z))"),
    ("(* x (+ y z))", "(+ (* x y) (* x z))"),
    ("(/ x 3)", "(* x 0.3333333333333333)"),
    ("(/ x 0)", "(* x inf)"),
    ("(powi_3 x)", "(* (* x x) x)"),
    ("(pow x 0.5)", "(sqrt x)"),
    ("(log (exp x))", "x"),
    ("(sin (neg x))", "(neg (sin x))"),
    ("(+ (neg x) (neg y))", "(neg (+ x y))"),
    ("(/ 1 (* (cosh x) (cosh x)))", "(- 1 (* (tanh x) (tanh x)))"),
];

fn opts() -> SimplifyOptions {
    SimplifyOptions {
        fast_math: true,
        iter_limit: 6,
        node_limit: 5_000,
    }
}

#[test]
fn every_rule_proves_its_one_line_cases_on_its_own() {
    for (name, input, expected) in CASES {
        let rule = rule_named(name).unwrap_or_else(|| panic!("no rule named `{name}`"));
        let proved = proves_equal(input, expected, &[rule], &opts()).unwrap();
        assert!(
            proved,
            "rule `{name}` does not turn {input} into {expected}"
        );
    }
}

#[test]
fn the_rule_table_is_well_formed() {
    let all: Vec<&RuleSpec> = RULES.iter().collect();
    compile_rules(&all).unwrap();
    let mut names: Vec<&str> = RULES.iter().map(|r| r.name).collect();
    names.sort();
    names.dedup();
    assert_eq!(names.len(), RULES.len(), "rule names must be unique");
    for r in RULES {
        assert!(
            !r.why.is_empty(),
            "rule `{}` says nothing about its safety",
            r.name
        );
        if let Guard::PowerOfTwo(v)
        | Guard::NonZeroConst(v)
        | Guard::True(v)
        | Guard::False(v)
        | Guard::NeverNegZero(v) = r.guard
        {
            assert!(
                r.lhs.contains(v),
                "rule `{}`: guard variable {v} is not in the left side",
                r.name
            );
        }
    }
    for g in [
        Group::Algebra,
        Group::Powers,
        Group::ExpLog,
        Group::Trig,
        Group::Activation,
        Group::Derivative,
    ] {
        assert!(
            RULES.iter().any(|r| r.group == g),
            "no rule in group {}",
            g.name()
        );
    }
    assert!(RULES.iter().filter(|r| r.ieee_safe).count() >= 30);
}

#[test]
fn every_rule_has_a_one_line_case() {
    for rule in RULES {
        assert!(
            CASES.iter().any(|(name, _, _)| *name == rule.name),
            "rule `{}` has no case in CASES",
            rule.name
        );
    }
}

#[test]
fn the_default_rules_do_not_prove_unsafe_identities() {
    let safe: Vec<&RuleSpec> = RULES.iter().filter(|r| r.ieee_safe).collect();
    for (a, b) in UNSAFE_IN_DEFAULT {
        let proved = proves_equal(a, b, &safe, &SimplifyOptions::default()).unwrap();
        assert!(!proved, "the IEEE-safe rules prove {a} = {b}");
    }
    let all: Vec<&RuleSpec> = RULES.iter().collect();
    let fast_proves = UNSAFE_IN_DEFAULT
        .iter()
        .filter(|(a, b)| proves_equal(a, b, &all, &opts()).unwrap())
        .count();
    assert!(fast_proves >= UNSAFE_IN_DEFAULT.len() - 2, "{fast_proves}");
}

#[test]
fn simplify_expr_extracts_the_cheapest_form() {
    let safe = SimplifyOptions::default();
    let fast = SimplifyOptions::fast_math();
    let table: &[(&str, &SimplifyOptions, &str)] = &[
        ("(* (+ x -0) 1)", &safe, "x"),
        ("(+ x 0)", &safe, "(+ x 0)"),
        ("(+ x 0)", &fast, "x"),
        ("(* x 0)", &safe, "(* x 0)"),
        ("(* x 0)", &fast, "0"),
        ("(/ x 2)", &safe, "(* x 0.5)"),
        ("(+ (* 2 3) x)", &safe, "(+ 6 x)"),
        ("(powi_2 (neg x))", &safe, "(* x x)"),
        ("(- x (neg y))", &safe, "(+ x y)"),
        ("(- (* x y) (* x z))", &fast, "(* x (- y z))"),
        (
            "(/ 1 (* (cosh x) (cosh x)))",
            &fast,
            "(- 1 (* (tanh x) (tanh x)))",
        ),
    ];
    for (input, o, expected) in table {
        let got = simplify_expr(input, o).unwrap();
        assert_eq!(&got, expected, "{input} (fast_math: {})", o.fast_math);
    }
}

// ---- IEEE safety of the safe rules ----

const SPECIAL: &[f64] = &[
    0.0,
    -0.0,
    1.0,
    -1.0,
    2.0,
    -2.0,
    0.5,
    3.0,
    -0.1,
    0.7,
    1e-310,
    -5e-324,
    f64::MIN_POSITIVE,
    f64::MAX,
    -f64::MAX,
    1e300,
    710.0,
    f64::INFINITY,
    f64::NEG_INFINITY,
    f64::NAN,
];

const POWERS_OF_TWO: &[f64] = &[
    2.0,
    0.5,
    -2.0,
    4.0,
    -0.125,
    1.0,
    -1.0,
    2.2250738585072014e-308,
    4.49423283715579e307,
];

fn same(a: f64, b: f64) -> bool {
    a.to_bits() == b.to_bits() || (a.is_nan() && b.is_nan())
}

/// Both sides of a rule, compiled for the interpreter.
struct Sides {
    lhs: Module,
    rhs: Module,
    vars: Vec<String>,
    rhs_vars: Vec<String>,
}

fn sides(rule: &RuleSpec) -> Sides {
    let (lhs, vars) = pattern_module(rule.lhs).unwrap();
    let (rhs, rhs_vars) = pattern_module(rule.rhs).unwrap();
    Sides {
        lhs,
        rhs,
        vars,
        rhs_vars,
    }
}

/// The candidate values of each variable of the left-hand side.
fn domains(rule: &RuleSpec, s: &Sides) -> Vec<Vec<f64>> {
    let f = s.lhs.function("f").unwrap();
    let func = &s.lhs.functions[f];
    s.vars
        .iter()
        .enumerate()
        .map(|(k, name)| {
            let guard_var = match rule.guard {
                Guard::Always => None,
                Guard::PowerOfTwo(v)
                | Guard::NonZeroConst(v)
                | Guard::True(v)
                | Guard::False(v)
                | Guard::NeverNegZero(v) => Some(v.trim_start_matches('?')),
            };
            match (rule.guard, guard_var == Some(name.as_str())) {
                (Guard::PowerOfTwo(_), true) => POWERS_OF_TWO.to_vec(),
                (Guard::True(_), true) => vec![1.0],
                (Guard::False(_), true) => vec![0.0],
                (Guard::NeverNegZero(_), true) => SPECIAL
                    .iter()
                    .copied()
                    .filter(|x| x.to_bits() != (-0.0f64).to_bits())
                    .collect(),
                _ if func.input_type(k).unwrap().dtype == sci_ir::DType::Bool => vec![0.0, 1.0],
                _ => SPECIAL.to_vec(),
            }
        })
        .collect()
}

/// Evaluates both sides at `point` (values of the left-hand side's variables).
fn check_point(rule: &RuleSpec, s: &Sides, point: &[f64]) -> Result<(), String> {
    let eval = |m: &Module, names: &[String]| -> f64 {
        let args: Vec<Tensor> = names
            .iter()
            .map(|n| {
                let k = s.vars.iter().position(|v| v == n).unwrap();
                Tensor::scalar(point[k])
            })
            .collect();
        Interpreter::new(m)
            .unwrap()
            .call_named("f", &args)
            .unwrap()
            .as_scalar()
            .unwrap()
    };
    let l = eval(&s.lhs, &s.vars);
    let r = eval(&s.rhs, &s.rhs_vars);
    if same(l, r) {
        Ok(())
    } else {
        Err(format!(
            "rule `{}` is marked IEEE-safe but at {:?} = {point:?} the left side gives {l:?} and the right {r:?}",
            rule.name, s.vars
        ))
    }
}

#[test]
fn safe_rules_preserve_bits_on_special_values() {
    let mut checked = 0;
    for rule in RULES.iter().filter(|r| r.ieee_safe) {
        let s = sides(rule);
        let domains = domains(rule, &s);
        let mut point = vec![0.0; domains.len()];
        let mut idx = vec![0usize; domains.len()];
        loop {
            for (k, d) in domains.iter().enumerate() {
                point[k] = d[idx[k]];
            }
            check_point(rule, &s, &point).unwrap();
            checked += 1;
            // Odometer over the grid.
            let mut k = 0;
            while k < idx.len() {
                idx[k] += 1;
                if idx[k] < domains[k].len() {
                    break;
                }
                idx[k] = 0;
                k += 1;
            }
            if k == idx.len() {
                break;
            }
        }
    }
    assert!(checked > 10_000, "{checked}");
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]
    #[test]
    fn safe_rules_preserve_bits_on_random_values(
        values in proptest::collection::vec(any::<f64>(), 4),
        small in proptest::collection::vec(-30.0f64..30.0, 4),
        choose in proptest::collection::vec(any::<bool>(), 4),
    ) {
        for rule in RULES.iter().filter(|r| r.ieee_safe) {
            let s = sides(rule);
            let domains = domains(rule, &s);
            let point: Vec<f64> = domains
                .iter()
                .enumerate()
                .map(|(k, d)| {
                    if d.len() < SPECIAL.len() {
                        let x = d[values[k].to_bits() as usize % d.len()];
                        if matches!(rule.guard, Guard::NeverNegZero(_)) && choose[k] && values[k].to_bits() != (-0.0f64).to_bits() {
                            values[k]
                        } else {
                            x
                        }
                    } else if choose[k] {
                        values[k]
                    } else {
                        small[k]
                    }
                })
                .collect();
            if let Err(e) = check_point(rule, &s, &point) {
                prop_assert!(false, "{}", e);
            }
        }
    }
}
