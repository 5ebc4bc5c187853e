//! The keywords of the language with one line each, for completion and hover.

/// Whether a keyword starts a line (a model member or a top-level item) or appears inside
/// expressions and declarations.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Place {
    /// `model`, `fn`, `use`, `const` at file level.
    Item,
    /// `param`, `state`, `der`, … inside a model.
    Member,
    /// `if`, `then`, `in`, `and`, … inside expressions and headers.
    Expr,
}

/// `(keyword, place, doc)` for every keyword.
pub const KEYWORDS: &[(&str, Place, &str)] = &[
    (
        "model",
        Place::Item,
        "`model Name { … }`: a model: its parameters, states, equations and losses.",
    ),
    (
        "fn",
        Place::Item,
        "`fn name(x: real[n]) = body`: a function (generic over the shape variables of its parameters).",
    ),
    (
        "use",
        Place::Item,
        "`use nn.{mlp}`: brings library items into scope.",
    ),
    (
        "const",
        Place::Item,
        "`const name: unit = value`: a compile-time constant.",
    ),
    (
        "param",
        Place::Member,
        "`param name: unit = default`: a trainable or fittable parameter.",
    ),
    (
        "state",
        Place::Member,
        "`state name[i in 0..n]: unit = initial`: a state of an ODE model.",
    ),
    (
        "let",
        Place::Member,
        "`let name = value`: a named intermediate quantity.",
    ),
    (
        "output",
        Place::Member,
        "`output name = value`: a derived quantity recorded when the model runs.",
    ),
    (
        "der",
        Place::Member,
        "`der(x) = value`: the time derivative of the state x.",
    ),
    (
        "domain",
        Place::Member,
        "`domain omega: t in [0, 1], x in [-1, 1]`: a region where residuals are sampled.",
    ),
    (
        "net",
        Place::Member,
        "`net u(t, x) = mlp(hidden: [20, 20], activation: tanh)`: a neural network.",
    ),
    (
        "residual",
        Place::Member,
        "`residual name on domain where cond, points 256: value`: an equation enforced at sampled points.",
    ),
    (
        "loss",
        Place::Member,
        "`loss = value`: the quantity minimised when training or fitting.",
    ),
    (
        "data",
        Place::Member,
        "`data obs(t: s, y) = csv(\"file.csv\")`: a data set read when the model runs.",
    ),
    (
        "when",
        Place::Member,
        "`when h < 0 { reinit(v, -0.8 * v) }`: an event: when the condition becomes true, reset states or `stop`.",
    ),
    (
        "component",
        Place::Member,
        "`component pump = Pump(rate: 2.0)`: another model's members in this one, under `pump.`; the bindings give its parameters values (connections: `Tank(inflow: upper.outflow)`).",
    ),
    (
        "circuit",
        Place::Member,
        "`circuit psi(qubits: n) { h(0); for i in 0..n { ry(theta[i], i) } }`: a parametrised quantum circuit; `expval(psi, H)` in the loss simulates it.",
    ),
    (
        "observable",
        Place::Member,
        "`observable H = -sum(i in 0..n: Z(i) * Z(mod(i + 1, n))) - sum(i in 0..n: X(i))`: a Hermitian operator, a real sum of Pauli strings.",
    ),
    (
        "for",
        Place::Expr,
        "`for i in 0..n { … }`: inside a circuit, the gates once per index value (unrolled when compiling).",
    ),
    (
        "fixed",
        Place::Expr,
        "`param k = 1.0 fixed`: a parameter that training keeps at its value (`--param` still sets it).",
    ),
    (
        "on",
        Place::Expr,
        "`residual r on omega`: the domain a residual is sampled on.",
    ),
    (
        "where",
        Place::Expr,
        "`where cond`: restricts a residual to part of its domain (a boundary).",
    ),
    (
        "if",
        Place::Expr,
        "`if cond then a else b`: a conditional value.",
    ),
    (
        "then",
        Place::Expr,
        "`if cond then a else b`: the value when the condition holds.",
    ),
    (
        "else",
        Place::Expr,
        "`if cond then a else b`: the value otherwise.",
    ),
    (
        "in",
        Place::Expr,
        "`i in 0..n`: an index range (end exclusive), or a coordinate interval.",
    ),
    ("and", Place::Expr, "Logical and (also `∧`)."),
    ("or", Place::Expr, "Logical or (also `∨`)."),
    ("not", Place::Expr, "Logical not (also `¬`)."),
    (
        "real",
        Place::Expr,
        "`real`, `real[3]`, `real[n, m] m/s`: a real scalar or array type.",
    ),
];

/// The documentation of a keyword.
pub fn doc(word: &str) -> Option<&'static str> {
    KEYWORDS
        .iter()
        .find(|(k, _, _)| *k == word)
        .map(|(_, _, d)| *d)
}

/// The words with a meaning inside an event (`when … { … }`) only, with one line each:
/// they are names elsewhere, so hover and completion offer them only there.
pub const EVENT_WORDS: &[(&str, &str)] = &[
    (
        "reinit",
        "`reinit(x, value)`: in a `when` block, the state `x` (or one element, `x[0]`) takes `value`, computed from the states just before the event.",
    ),
    (
        "stop",
        "`stop`: in a `when` block, the solve ends at the event; its state is the last row of the output.",
    ),
    (
        "every",
        "`every(period, start: t0)`: as a `when` condition, fires at `t0`, `t0 + period`, … inside the time span (`start` defaults to its start).",
    ),
];

/// The documentation of an event word.
pub fn event_word_doc(word: &str) -> Option<&'static str> {
    EVENT_WORDS
        .iter()
        .find(|(w, _)| *w == word)
        .map(|(_, d)| *d)
}
