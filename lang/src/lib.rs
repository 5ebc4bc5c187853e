//! The sci front end: source text → AST → checked model → IR.
//!
//! ```text
//! parse (lexer + lalrpop grammar) ─▶ ast::SourceFile + diagnostics   (never fails)
//! check (resolve, order, types/shapes/units) ─▶ checked program + diagnostics
//! lower ─▶ sci_ir::Module per model (and one for free functions)
//! format ─▶ canonical source text (what `sci fmt` writes)
//! ```
//!
//! Architecture invariants: this crate does no I/O (the caller passes source text and file
//! ids) and never panics on any input; every problem is a `sci_diag::Diagnostic` with a span.
//! It knows nothing of terminals, editors or back ends.

#![deny(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

pub mod ast;
pub mod hir;

// --- syntax (lexer, grammar, parser driver, formatter) ---
pub mod fmt;
pub mod lexer;
pub mod parser;

// --- semantics (units, built-ins, the prelude, resolution, checking, lowering) ---
pub mod builtins;
pub mod check;
pub mod flatten;
pub mod lower;
pub mod prelude;
pub mod units;

use sci_diag::{Diagnostic, FileId};

/// Everything the front end produced for one source text, errors included.
#[derive(Clone, Debug)]
pub struct FrontEnd {
    pub ast: ast::SourceFile,
    pub checked: check::Checked,
    /// The lowered modules; empty when there were errors. Derivative operators are still
    /// `deriv` placeholders here (the AD pass of `sci-passes` expands them).
    pub modules: Vec<sci_ir::Module>,
    /// Parse, check and lowering diagnostics, in that order.
    pub diagnostics: Vec<Diagnostic>,
}

/// Runs parse → check → lower on one source text: the pipeline that `sci check` and the
/// language server share. Never fails: problems are diagnostics.
pub fn analyze(file: FileId, text: &str) -> FrontEnd {
    analyze_with(file, text, &check::NO_OVERRIDES)
}

/// [`analyze`] with the values of some constants given from outside the source (see
/// [`check::check_with`]).
pub fn analyze_with(file: FileId, text: &str, overrides: &check::Overrides) -> FrontEnd {
    analyze_with_inputs(file, text, overrides, None)
}

/// [`analyze_with`], reading the data sets used as inputs (`interp`) from `tables` (see
/// [`check::TableSource`]).
pub fn analyze_with_inputs(
    file: FileId,
    text: &str,
    overrides: &check::Overrides,
    tables: Option<&(dyn check::TableSource + Sync)>,
) -> FrontEnd {
    let parsed = parser::parse(file, text);
    let mut diagnostics = parsed.diagnostics;
    let syntax_errors = sci_diag::has_errors(&diagnostics);
    let checked = check::check_with_inputs(&parsed.file, overrides, tables);
    // Members that failed to parse are missing from the tree, so warnings such as "never
    // used" would be noise while the file has syntax errors; only errors are kept then.
    diagnostics.extend(
        checked
            .diagnostics
            .iter()
            .filter(|d| !syntax_errors || d.is_error())
            .cloned(),
    );
    let mut modules = Vec::new();
    // Without a table source a model that interpolates data cannot be compiled (its values
    // are compiled in); an editor checks it all the same and gets no modules.
    let unloaded = (checked.program.models.iter()).any(|m| !m.unloaded_inputs.is_empty());
    let compilable = tables.is_some() || !unloaded;
    if compilable && !sci_diag::has_errors(&diagnostics) {
        match lower::lower_program(&checked.program) {
            Ok(m) => modules = m,
            Err(errs) => diagnostics.extend(errs),
        }
    }
    FrontEnd {
        ast: parsed.file,
        checked,
        modules,
        diagnostics,
    }
}
