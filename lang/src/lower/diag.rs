//! The diagnostics lowering can report (codes E05xx).
//!
//! The checker only hands over programs that checked, so most of these mean that the HIR
//! broke one of its documented invariants: a bug in sci, reported as a diagnostic rather
//! than a panic so that the user still gets a message with a place.

use crate::hir::ModelHir;
use sci_diag::{Diagnostic, Span};

/// A diagnostic on the heap: lowering recurses, and a small `Err` keeps every frame small.
pub(super) type Diag = Box<Diagnostic>;

/// E0501: the checked program contradicts itself (a dangling id, a shape that does not
/// fit). Always a compiler bug.
pub(super) fn internal(span: Span, what: impl Into<String>) -> Diag {
    let what = what.into();
    Box::new(
        Diagnostic::error(
            "E0501",
            format!("The compiler could not translate this definition: {what}."),
        )
        .with_primary(span, "while translating this")
        .with_note("This is a bug in sci, not in your model.")
        .with_help("Please report it together with the model file."),
    )
}

/// E0502: functions that call each other in a cycle.
pub(super) fn recursion(span: Span, cycle: &[String]) -> Diag {
    Box::new(Diagnostic::error(
        "E0502",
        format!(
            "The functions {} call each other in a cycle, and compiled functions cannot be recursive.",
            cycle
                .iter()
                .map(|n| format!("`{n}`"))
                .collect::<Vec<_>>()
                .join(" → ")
        ),
    )
    .with_primary(span, "this function is part of the cycle")
    .with_help("Rewrite the computation with a reduction such as `sum(i in 0..n: …)`."))
}

/// E0503: an expression nested more deeply than lowering supports.
pub(super) fn too_deep(span: Span, limit: usize) -> Diag {
    Box::new(Diagnostic::error(
        "E0503",
        format!("This expression is nested more than {limit} levels deep, which is more than the compiler supports."),
    )
    .with_primary(span, "nested too deeply")
    .with_help("Split it into several `let` definitions."))
}

/// E0504: a quantity used where it has no value (time in an initial value, a state in a
/// loss, a coordinate outside a residual).
pub(super) fn unavailable(span: Span, what: &str, context: &str) -> Diag {
    Box::new(
        Diagnostic::error("E0504", format!("{what} has no value in {context}."))
            .with_primary(span, "used here"),
    )
}

/// E0505: θ would be too large.
pub(super) fn too_many_params(model: &ModelHir, span: Span) -> Diag {
    Box::new(Diagnostic::error(
        "E0505",
        format!(
            "The model `{}` would have more than {} parameters, more than the compiler supports.",
            model.name,
            super::params::MAX_THETA
        ),
    )
    .with_primary(span, "this definition makes the parameter vector too large")
    .with_help("Check the sizes of the networks' hidden layers."))
}
