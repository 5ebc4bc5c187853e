//! The rewrite rules, as a named table.
//!
//! Each rule says whether it is *IEEE-safe*: whether it gives the same bits as the original
//! for every input, signed zeros, infinities and NaN included (NaN payloads aside), under
//! the IR's semantics (`docs/ir.md`: IEEE arithmetic, `powi`/`pow` and transcendental
//! functions from the `libm` crate). Only safe rules run by default; the others need
//! `SimplifyOptions::fast_math`. The `why` column is the argument; the property tests in
//! `passes/tests/simplify_rules.rs` check every safe rule on sampled special and random
//! inputs.
//!
//! Syntax: egg patterns over the language of [`super::lang`]. Constants in a right-hand
//! side take the type of the e-class being rewritten (every rule is elementwise, so that is
//! the type of every subterm).

/// What a rule is about.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Group {
    /// Identities of `+ - * /`, negation, `select`.
    Algebra,
    /// `powi`, `pow`, `sqrt`.
    Powers,
    /// `exp` and `log`.
    ExpLog,
    /// `sin`, `cos`, `tan`.
    Trig,
    /// `tanh`, `sigmoid`, `softplus` and their derivative identities.
    Activation,
    /// Shapes that differentiation produces (chain rule products, `select` from `relu`-like
    /// functions, products with negated factors).
    Derivative,
}

impl Group {
    /// The group's name in tables.
    pub fn name(self) -> &'static str {
        match self {
            Group::Algebra => "algebra",
            Group::Powers => "powers",
            Group::ExpLog => "exp_log",
            Group::Trig => "trig",
            Group::Activation => "activation",
            Group::Derivative => "derivative",
        }
    }
}

/// A side condition on a rule's match, about a pattern variable's e-class.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Guard {
    /// Always applies.
    Always,
    /// The variable is a constant `±2^k` whose reciprocal is a normal number
    /// (`|k| ≤ 1022`), so `x / c` and `x * (1/c)` round the same real number.
    PowerOfTwo(&'static str),
    /// The variable is a finite non-zero constant.
    NonZeroConst(&'static str),
    /// The variable is the constant `true`.
    True(&'static str),
    /// The variable is the constant `false`.
    False(&'static str),
    /// The analysis proves the variable is never `-0` (see `analysis::never_neg_zero`).
    NeverNegZero(&'static str),
}

/// One rewrite rule.
#[derive(Clone, Copy, Debug)]
pub struct RuleSpec {
    /// Unique name (used in tests and docs).
    pub name: &'static str,
    pub group: Group,
    /// Left-hand side (egg pattern).
    pub lhs: &'static str,
    /// Right-hand side (egg pattern).
    pub rhs: &'static str,
    /// Gives the same bits as the left-hand side on every input (NaN payloads aside).
    pub ieee_safe: bool,
    pub guard: Guard,
    /// Why the rule is (or is not) IEEE-safe.
    pub why: &'static str,
}

const fn rule(
    name: &'static str,
    group: Group,
    lhs: &'static str,
    rhs: &'static str,
    ieee_safe: bool,
    why: &'static str,
) -> RuleSpec {
    RuleSpec {
        name,
        group,
        lhs,
        rhs,
        ieee_safe,
        guard: Guard::Always,
        why,
    }
}

const fn guarded(spec: RuleSpec, guard: Guard) -> RuleSpec {
    RuleSpec { guard, ..spec }
}

use Group::*;

const EXACT_SIGN: &str = "negation is exact and IEEE rounding is symmetric in sign";
const LIBM_SYMMETRIC: &str =
    "libm computes on |x| and restores the sign, so the function is exactly odd/even";

/// Every rule the simplifier knows.
pub const RULES: &[RuleSpec] = &[
    // ---- algebra: IEEE-safe ----
    rule(
        "add-comm",
        Algebra,
        "(+ ?a ?b)",
        "(+ ?b ?a)",
        true,
        "IEEE addition is commutative",
    ),
    rule(
        "mul-comm",
        Algebra,
        "(* ?a ?b)",
        "(* ?b ?a)",
        true,
        "IEEE multiplication is commutative",
    ),
    rule(
        "add-neg-zero",
        Algebra,
        "(+ ?a -0)",
        "?a",
        true,
        "a + (-0) = a for every a, +0 and -0 included",
    ),
    rule(
        "sub-zero",
        Algebra,
        "(- ?a 0)",
        "?a",
        true,
        "a - (+0) = a + (-0) = a",
    ),
    rule(
        "mul-one",
        Algebra,
        "(* ?a 1)",
        "?a",
        true,
        "multiplication by 1 is exact",
    ),
    rule(
        "div-one",
        Algebra,
        "(/ ?a 1)",
        "?a",
        true,
        "division by 1 is exact",
    ),
    rule(
        "neg-neg",
        Algebra,
        "(neg (neg ?a))",
        "?a",
        true,
        "negation flips the sign bit",
    ),
    rule(
        "sub-to-add-neg",
        Algebra,
        "(- ?a ?b)",
        "(+ ?a (neg ?b))",
        true,
        "IEEE 754 defines a - b as a + (-b)",
    ),
    rule(
        "add-neg-to-sub",
        Algebra,
        "(+ ?a (neg ?b))",
        "(- ?a ?b)",
        true,
        "IEEE 754 defines a - b as a + (-b)",
    ),
    rule(
        "sub-neg",
        Algebra,
        "(- ?a (neg ?b))",
        "(+ ?a ?b)",
        true,
        "a - (-b) = a + b by definition",
    ),
    rule(
        "neg-zero-sub",
        Algebra,
        "(- -0 ?a)",
        "(neg ?a)",
        true,
        "-0 - a = -0 + (-a) = -a, also for a = ±0",
    ),
    rule(
        "mul-minus-one",
        Algebra,
        "(* ?a -1)",
        "(neg ?a)",
        true,
        "multiplication by -1 is exact",
    ),
    rule(
        "neg-mul",
        Algebra,
        "(neg (* ?a ?b))",
        "(* (neg ?a) ?b)",
        true,
        EXACT_SIGN,
    ),
    rule(
        "mul-neg",
        Algebra,
        "(* (neg ?a) ?b)",
        "(neg (* ?a ?b))",
        true,
        EXACT_SIGN,
    ),
    rule(
        "neg-div",
        Algebra,
        "(neg (/ ?a ?b))",
        "(/ (neg ?a) ?b)",
        true,
        EXACT_SIGN,
    ),
    rule(
        "div-neg",
        Algebra,
        "(/ (neg ?a) ?b)",
        "(neg (/ ?a ?b))",
        true,
        EXACT_SIGN,
    ),
    rule(
        "div-by-neg",
        Algebra,
        "(/ ?a (neg ?b))",
        "(neg (/ ?a ?b))",
        true,
        EXACT_SIGN,
    ),
    rule(
        "add-self",
        Algebra,
        "(+ ?a ?a)",
        "(* ?a 2)",
        true,
        "a + a and 2a are the same exact doubling (and overflow alike)",
    ),
    guarded(
        rule(
            "div-pow2",
            Algebra,
            "(/ ?a ?c)",
            "(* ?a (/ 1 ?c))",
            true,
            "1/c is exact for c = ±2^k, so both round the same real number",
        ),
        Guard::PowerOfTwo("?c"),
    ),
    rule(
        "abs-neg",
        Algebra,
        "(abs (neg ?a))",
        "(abs ?a)",
        true,
        "abs clears the sign bit",
    ),
    rule(
        "abs-abs",
        Algebra,
        "(abs (abs ?a))",
        "(abs ?a)",
        true,
        "abs is idempotent",
    ),
    rule(
        "select-same",
        Algebra,
        "(select ?c ?a ?a)",
        "?a",
        true,
        "both branches are the same value",
    ),
    guarded(
        rule(
            "add-zero-exact",
            Algebra,
            "(+ ?a 0)",
            "?a",
            true,
            "a + 0 = a unless a = -0, and a is proven never -0 (sums start at +0; exp, cosh, abs, even powers)",
        ),
        Guard::NeverNegZero("?a"),
    ),
    guarded(
        rule(
            "select-true",
            Algebra,
            "(select ?c ?a ?b)",
            "?a",
            true,
            "the condition is the constant true",
        ),
        Guard::True("?c"),
    ),
    guarded(
        rule(
            "select-false",
            Algebra,
            "(select ?c ?a ?b)",
            "?b",
            true,
            "the condition is the constant false",
        ),
        Guard::False("?c"),
    ),
    // ---- algebra: fast-math only ----
    rule(
        "add-zero",
        Algebra,
        "(+ ?a 0)",
        "?a",
        false,
        "-0 + 0 = +0, not -0",
    ),
    rule(
        "zero-sub",
        Algebra,
        "(- 0 ?a)",
        "(neg ?a)",
        false,
        "0 - 0 = +0 but -(0) = -0",
    ),
    rule(
        "neg-sub",
        Algebra,
        "(neg (- ?a ?b))",
        "(- ?b ?a)",
        false,
        "for a = b: -(a - b) = -0 but b - a = +0",
    ),
    rule(
        "mul-zero",
        Algebra,
        "(* ?a 0)",
        "0",
        false,
        "inf * 0 and NaN * 0 are NaN, -1 * 0 = -0",
    ),
    rule(
        "sub-self",
        Algebra,
        "(- ?a ?a)",
        "0",
        false,
        "inf - inf and NaN - NaN are NaN",
    ),
    rule(
        "div-self",
        Algebra,
        "(/ ?a ?a)",
        "1",
        false,
        "0/0 and inf/inf are NaN",
    ),
    rule(
        "zero-div",
        Algebra,
        "(/ 0 ?a)",
        "0",
        false,
        "0/0 is NaN, 0/-1 = -0",
    ),
    rule(
        "add-assoc",
        Algebra,
        "(+ (+ ?a ?b) ?c)",
        "(+ ?a (+ ?b ?c))",
        false,
        "reassociation changes rounding",
    ),
    rule(
        "add-assoc-rev",
        Algebra,
        "(+ ?a (+ ?b ?c))",
        "(+ (+ ?a ?b) ?c)",
        false,
        "reassociation changes rounding",
    ),
    rule(
        "mul-assoc",
        Algebra,
        "(* (* ?a ?b) ?c)",
        "(* ?a (* ?b ?c))",
        false,
        "reassociation changes rounding",
    ),
    rule(
        "mul-assoc-rev",
        Algebra,
        "(* ?a (* ?b ?c))",
        "(* (* ?a ?b) ?c)",
        false,
        "reassociation changes rounding",
    ),
    rule(
        "distribute",
        Algebra,
        "(* ?a (+ ?b ?c))",
        "(+ (* ?a ?b) (* ?a ?c))",
        false,
        "distributivity changes rounding",
    ),
    rule(
        "factor",
        Algebra,
        "(+ (* ?a ?b) (* ?a ?c))",
        "(* ?a (+ ?b ?c))",
        false,
        "distributivity changes rounding",
    ),
    rule(
        "factor-sub",
        Algebra,
        "(- (* ?a ?b) (* ?a ?c))",
        "(* ?a (- ?b ?c))",
        false,
        "distributivity changes rounding",
    ),
    guarded(
        rule(
            "div-const",
            Algebra,
            "(/ ?a ?c)",
            "(* ?a (/ 1 ?c))",
            false,
            "1/c is rounded, then the product is rounded again",
        ),
        Guard::NonZeroConst("?c"),
    ),
    rule(
        "mul-div-cancel",
        Algebra,
        "(/ (* ?a ?b) ?b)",
        "?a",
        false,
        "wrong for b = 0, inf, NaN and changes rounding",
    ),
    rule(
        "div-div",
        Algebra,
        "(/ (/ ?a ?b) ?c)",
        "(/ ?a (* ?b ?c))",
        false,
        "b*c can overflow or round",
    ),
    rule(
        "mul-recip",
        Algebra,
        "(* ?a (/ 1 ?b))",
        "(/ ?a ?b)",
        false,
        "1/b is rounded first on the left",
    ),
    rule(
        "sub-add-cancel",
        Algebra,
        "(- (+ ?a ?b) ?b)",
        "?a",
        false,
        "a + b can round or overflow",
    ),
    rule(
        "add-sub-cancel",
        Algebra,
        "(+ (- ?a ?b) ?b)",
        "?a",
        false,
        "a - b can round or overflow",
    ),
    rule(
        "neg-add",
        Algebra,
        "(+ (neg ?a) (neg ?b))",
        "(neg (+ ?a ?b))",
        false,
        "-a + a = +0 but -(a + -a) = -0",
    ),
    // ---- powers ----
    rule(
        "powi-zero",
        Powers,
        "(powi_0 ?a)",
        "1",
        true,
        "pow(x, 0) = 1 for every x, NaN included",
    ),
    rule(
        "powi-one",
        Powers,
        "(powi_1 ?a)",
        "?a",
        true,
        "libm's pow returns x itself for y = 1",
    ),
    rule(
        "powi-two",
        Powers,
        "(powi_2 ?a)",
        "(* ?a ?a)",
        true,
        "libm's pow returns x*x for y = 2",
    ),
    rule(
        "powi-minus-one",
        Powers,
        "(powi_-1 ?a)",
        "(/ 1 ?a)",
        true,
        "libm's pow returns 1/x for y = -1",
    ),
    rule(
        "powi-even-neg",
        Powers,
        "(powi_2 (neg ?a))",
        "(powi_2 ?a)",
        true,
        "libm's pow works on |x| and fixes the sign for integer y",
    ),
    rule(
        "pow-to-powi-2",
        Powers,
        "(pow ?a 2)",
        "(powi_2 ?a)",
        true,
        "powi is defined as libm's pow with the exponent as f64",
    ),
    rule(
        "pow-to-powi-3",
        Powers,
        "(pow ?a 3)",
        "(powi_3 ?a)",
        true,
        "powi is defined as libm's pow with the exponent as f64",
    ),
    rule(
        "pow-to-powi-minus-1",
        Powers,
        "(pow ?a -1)",
        "(powi_-1 ?a)",
        true,
        "powi is defined as libm's pow with the exponent as f64",
    ),
    rule(
        "pow-to-powi-minus-2",
        Powers,
        "(pow ?a -2)",
        "(powi_-2 ?a)",
        true,
        "powi is defined as libm's pow with the exponent as f64",
    ),
    rule(
        "powi-three",
        Powers,
        "(powi_3 ?a)",
        "(* (* ?a ?a) ?a)",
        false,
        "pow rounds once, the products twice",
    ),
    rule(
        "powi-minus-two",
        Powers,
        "(powi_-2 ?a)",
        "(/ 1 (* ?a ?a))",
        false,
        "pow rounds once, the product and quotient twice",
    ),
    rule(
        "powi-square-mul",
        Powers,
        "(* (powi_2 ?a) ?a)",
        "(powi_3 ?a)",
        false,
        "pow rounds once, the product twice",
    ),
    rule(
        "pow-half",
        Powers,
        "(pow ?a 0.5)",
        "(sqrt ?a)",
        false,
        "pow(-0, 0.5) = +0 but sqrt(-0) = -0; pow(-inf, 0.5) = inf",
    ),
    rule(
        "sqrt-square",
        Powers,
        "(* (sqrt ?a) (sqrt ?a))",
        "?a",
        false,
        "NaN for a < 0, and rounding",
    ),
    rule(
        "sqrt-of-square",
        Powers,
        "(sqrt (* ?a ?a))",
        "(abs ?a)",
        false,
        "a*a can overflow or underflow",
    ),
    // ---- exp / log ----
    rule(
        "log-exp",
        ExpLog,
        "(log (exp ?a))",
        "?a",
        false,
        "exp overflows for a > 709.8 and rounds",
    ),
    rule(
        "exp-log",
        ExpLog,
        "(exp (log ?a))",
        "?a",
        false,
        "NaN for a < 0, and rounding",
    ),
    rule(
        "exp-sum",
        ExpLog,
        "(* (exp ?a) (exp ?b))",
        "(exp (+ ?a ?b))",
        false,
        "rounding and overflow differ",
    ),
    rule(
        "exp-diff",
        ExpLog,
        "(/ (exp ?a) (exp ?b))",
        "(exp (- ?a ?b))",
        false,
        "rounding and overflow differ",
    ),
    rule(
        "exp-neg",
        ExpLog,
        "(/ 1 (exp ?a))",
        "(exp (neg ?a))",
        false,
        "rounding differs",
    ),
    rule(
        "log-product",
        ExpLog,
        "(+ (log ?a) (log ?b))",
        "(log (* ?a ?b))",
        false,
        "log(-1) + log(-1) is NaN, log(1) is 0",
    ),
    rule(
        "log-quotient",
        ExpLog,
        "(- (log ?a) (log ?b))",
        "(log (/ ?a ?b))",
        false,
        "negative arguments and rounding",
    ),
    // ---- trigonometry ----
    rule(
        "sin-odd",
        Trig,
        "(sin (neg ?a))",
        "(neg (sin ?a))",
        false,
        "not guaranteed by libm's argument reduction",
    ),
    rule(
        "cos-even",
        Trig,
        "(cos (neg ?a))",
        "(cos ?a)",
        false,
        "not guaranteed by libm's argument reduction",
    ),
    rule(
        "tan-def",
        Trig,
        "(/ (sin ?a) (cos ?a))",
        "(tan ?a)",
        false,
        "tan rounds once, the quotient three times",
    ),
    rule(
        "pythagoras",
        Trig,
        "(+ (* (sin ?a) (sin ?a)) (* (cos ?a) (cos ?a)))",
        "1",
        false,
        "holds only up to rounding; NaN for infinite a",
    ),
    rule(
        "sec-squared",
        Trig,
        "(/ 1 (* (cos ?a) (cos ?a)))",
        "(+ 1 (* (tan ?a) (tan ?a)))",
        false,
        "the derivative of tan, up to rounding",
    ),
    // ---- activations and their derivatives ----
    rule(
        "tanh-odd",
        Activation,
        "(tanh (neg ?a))",
        "(neg (tanh ?a))",
        true,
        LIBM_SYMMETRIC,
    ),
    rule(
        "cosh-even",
        Activation,
        "(cosh (neg ?a))",
        "(cosh ?a)",
        true,
        LIBM_SYMMETRIC,
    ),
    rule(
        "tanh-def",
        Activation,
        "(/ (sinh ?a) (cosh ?a))",
        "(tanh ?a)",
        false,
        "up to rounding; NaN for large a on the left",
    ),
    rule(
        "tanh-derivative",
        Activation,
        "(/ 1 (* (cosh ?a) (cosh ?a)))",
        "(- 1 (* (tanh ?a) (tanh ?a)))",
        false,
        "sech² = 1 - tanh², up to rounding",
    ),
    rule(
        "tanh-derivative-powi",
        Activation,
        "(powi_-2 (cosh ?a))",
        "(- 1 (* (tanh ?a) (tanh ?a)))",
        false,
        "sech² = 1 - tanh², up to rounding",
    ),
    rule(
        "sigmoid-def",
        Activation,
        "(/ 1 (+ 1 (exp (neg ?a))))",
        "(sigmoid ?a)",
        false,
        "sigmoid is computed in a stable form",
    ),
    rule(
        "sigmoid-exp-form",
        Activation,
        "(/ (exp ?a) (+ 1 (exp ?a)))",
        "(sigmoid ?a)",
        false,
        "sigmoid is computed in a stable form",
    ),
    rule(
        "sigmoid-derivative",
        Activation,
        "(/ (exp (neg ?a)) (* (+ 1 (exp (neg ?a))) (+ 1 (exp (neg ?a)))))",
        "(* (sigmoid ?a) (- 1 (sigmoid ?a)))",
        false,
        "σ' = σ(1-σ), up to rounding",
    ),
    rule(
        "sigmoid-derivative-powi",
        Activation,
        "(/ (exp (neg ?a)) (powi_2 (+ 1 (exp (neg ?a)))))",
        "(* (sigmoid ?a) (- 1 (sigmoid ?a)))",
        false,
        "σ' = σ(1-σ), up to rounding",
    ),
    rule(
        "softplus-def",
        Activation,
        "(log (+ 1 (exp ?a)))",
        "(softplus ?a)",
        false,
        "softplus is computed in a stable form",
    ),
    // ---- derivative results ----
    rule(
        "neg-neg-mul",
        Derivative,
        "(* (neg ?a) (neg ?b))",
        "(* ?a ?b)",
        true,
        EXACT_SIGN,
    ),
    rule(
        "neg-neg-div",
        Derivative,
        "(/ (neg ?a) (neg ?b))",
        "(/ ?a ?b)",
        true,
        EXACT_SIGN,
    ),
    rule(
        "select-mul",
        Derivative,
        "(* (select ?c ?x ?y) ?a)",
        "(select ?c (* ?x ?a) (* ?y ?a))",
        true,
        "case analysis: each point takes one branch",
    ),
    rule(
        "select-add",
        Derivative,
        "(+ (select ?c ?x ?y) ?a)",
        "(select ?c (+ ?x ?a) (+ ?y ?a))",
        true,
        "case analysis: each point takes one branch",
    ),
    rule(
        "select-neg",
        Derivative,
        "(neg (select ?c ?x ?y))",
        "(select ?c (neg ?x) (neg ?y))",
        true,
        "case analysis: each point takes one branch",
    ),
    rule(
        "select-factor",
        Derivative,
        "(select ?c (* ?x ?a) (* ?y ?a))",
        "(* (select ?c ?x ?y) ?a)",
        true,
        "case analysis: each point takes one branch",
    ),
    rule(
        "chain-scale",
        Derivative,
        "(* ?c (* ?d ?a))",
        "(* (* ?c ?d) ?a)",
        false,
        "reassociation changes rounding (folds constant factors of chain rules)",
    ),
    rule(
        "sum-of-scaled",
        Derivative,
        "(+ (* ?c ?a) (* ?d ?a))",
        "(* (+ ?c ?d) ?a)",
        false,
        "distributivity changes rounding",
    ),
];

/// The rule with the given name.
pub fn rule_named(name: &str) -> Option<&'static RuleSpec> {
    RULES.iter().find(|r| r.name == name)
}
