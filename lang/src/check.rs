//! Semantic analysis: names, order, dtypes, shapes, units and model rules.
//!
//! [`check`] turns a parsed [`ast::SourceFile`] into the checked program ([`hir::Program`]),
//! the diagnostics found on the way, and the side tables the language server needs
//! ([`SemanticInfo`]: the type of every expression, every definition, every reference).
//!
//! How it works, in order:
//! 1. `use` declarations are resolved against the built-in modules ([`crate::builtins`]).
//! 2. File-level constants and functions, then each model's members, are collected into
//!    name tables (duplicates are reported with both places).
//! 3. A dependency graph over the definitions (from the free names of their expressions)
//!    is sorted topologically; cycles are reported as `a → b → a`. Source order never
//!    matters.
//! 4. Each definition is checked in that order ([`expr`], [`calls`], [`deriv`]): every
//!    expression gets a dtype, a static shape, a batch and a unit; constants are folded
//!    ([`fold`]); index ranges are proved or given the Dirichlet fill ([`index`]).
//! 5. Model rules ([`model`], [`residual`]): every state has one `der`, residuals have a
//!    loss, `where` clauses are normalised, the loss is an unbatched scalar.
//! 6. Functions ([`functions`]) are checked once generically (shape variables get probe
//!    sizes) and instantiated per argument signature at call sites. Prelude functions
//!    ([`crate::prelude`], written in sci) are found after the user's names and
//!    instantiated the same way, on their first call only; their bodies see only the
//!    prelude and the built-ins, and nothing of them is recorded in [`SemanticInfo`].
//!
//! Models and function instances that have errors are left out of the program, so lowering
//! only ever sees checked HIR. The checker never panics; recursion is bounded everywhere.

mod algebraic;
pub(crate) use model::is_time_span;
mod calls;
mod decls;
mod deps;
mod der_units;
mod deriv;
pub mod dump;
mod env;
mod events;
mod expr;
mod file;
pub mod fold;
mod functions;
mod index;
mod interp;
mod model;
mod nets;
mod ops;
mod quantum;
mod residual;
pub mod suggest;

use crate::ast;
use crate::hir;
use sci_diag::{Diagnostic, Span};
use std::collections::HashMap;

pub use dump::dump_program;

/// The result of checking one file.
#[derive(Clone, Debug, Default)]
pub struct Checked {
    /// Every model and function instance that checked without errors.
    pub program: hir::Program,
    /// Errors and warnings, in the order found.
    pub diagnostics: Vec<Diagnostic>,
    /// Side tables for the language server.
    pub info: SemanticInfo,
}

/// What the language server needs for hover, go to definition, references and rename.
#[derive(Clone, Debug, Default)]
pub struct SemanticInfo {
    /// The type of every checked expression (for generic functions, of the first
    /// instance checked).
    pub types: HashMap<ast::ExprId, hir::Ty>,
    /// Every user definition, in the order found.
    pub definitions: Vec<Definition>,
    /// `(use, definition name)` span pairs, sorted and without duplicates.
    pub references: Vec<(Span, Span)>,
}

/// One named thing the user defined.
#[derive(Clone, Debug, PartialEq)]
pub struct Definition {
    pub name: String,
    pub kind: DefKind,
    /// The span of the name where it is defined.
    pub span: Span,
    /// Its type, once known (`None` for models, functions, domains and data sets).
    pub ty: Option<hir::Ty>,
    /// Documentation; the parser does not keep comments yet, so always `None`.
    pub doc: Option<String>,
}

/// What kind of thing a [`Definition`] is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum DefKind {
    Model,
    Const,
    Param,
    State,
    Let,
    Output,
    Domain,
    /// A coordinate of a domain (`x` of `x in [-1, 1]`).
    Coord,
    Net,
    Residual,
    Data,
    /// A column of a data set.
    Column,
    /// A quantum circuit.
    Circuit,
    /// A quantum observable.
    Observable,
    Fn,
    /// A parameter of a function.
    FnParam,
    /// An index variable (`i` of `u[i in 0..n]` or `sum(i in 0..n: …)`).
    IndexVar,
    /// A shape variable of a generic function (`n` of `x: real[n]`).
    ShapeVar,
}

/// Stack of the thread the checker runs on. Checking recurses along expressions (bounded
/// by `env::MAX_EXPR_DEPTH` levels across function bodies), and unoptimised builds use
/// several KiB per level; a dedicated stack keeps that safe on any caller's thread (the
/// memory is only reserved, and committed as it is used).
const CHECK_STACK_BYTES: usize = 64 << 20;

/// Runs `f` on a helper thread with [`CHECK_STACK_BYTES`] of stack, or on the current
/// thread if no thread can be started.
fn with_large_stack<T: Send>(f: &(dyn Fn() -> T + Sync)) -> T {
    let spawned = std::thread::scope(|s| {
        let handle = std::thread::Builder::new()
            .name("sci-check".into())
            .stack_size(CHECK_STACK_BYTES)
            .spawn_scoped(s, f)
            .ok()?;
        Some(match handle.join() {
            Ok(result) => result,
            Err(panic) => std::panic::resume_unwind(panic),
        })
    });
    match spawned {
        Some(result) => result,
        None => f(),
    }
}

pub use env::{NO_OVERRIDES, Overrides};
pub use interp::TableSource;

/// Checks a whole file.
pub fn check(file: &ast::SourceFile) -> Checked {
    check_with(file, &NO_OVERRIDES)
}

/// Checks a whole file with the values of some constants given from outside the source
/// (`sci run --param n=…`): each replaces the folded value of every constant of its name
/// (E0227 if the number of values does not match the constant's shape).
pub fn check_with(file: &ast::SourceFile, overrides: &Overrides) -> Checked {
    check_with_inputs(file, overrides, None)
}

/// [`check_with`], reading the data sets used as inputs (`interp`) from `tables`.
pub fn check_with_inputs(
    file: &ast::SourceFile,
    overrides: &Overrides,
    tables: Option<&(dyn TableSource + Sync)>,
) -> Checked {
    // Components are expanded first; a file without them is checked as it is.
    let any_components = file
        .items
        .iter()
        .any(|i| matches!(&i.kind, ast::ItemKind::Model(m) if crate::flatten::has_components(m)));
    let flat = any_components.then(|| crate::flatten::flatten(file));
    let (target, expansion) = match &flat {
        Some((f, d)) => (f, d.clone()),
        None => (file, Vec::new()),
    };
    with_large_stack(&|| {
        let tables = tables.map(|t| t as &dyn TableSource);
        let mut checker = env::Checker::new(target, overrides, tables);
        checker.check_file();
        drop_repeated_component_errors(&mut checker);
        let mut checked = checker.finish();
        checked.diagnostics.splice(0..0, expansion.clone());
        for model in &mut checked.program.models {
            model.components = crate::flatten::component_models(file, &model.name);
        }
        checked
    })
}

/// A mistake inside a model used as a component is reported when that model is checked on
/// its own; its copies in the hosts would report it again under the component's name. So
/// a host's diagnostics whose place lies inside another model that has errors of its own
/// are dropped.
fn drop_repeated_component_errors(checker: &mut env::Checker<'_>) {
    let broken: Vec<sci_diag::Span> = (checker.model_diags.iter())
        .filter(|(_, range)| {
            checker
                .diags
                .get(range.clone())
                .is_some_and(|d| d.iter().any(Diagnostic::is_error))
        })
        .map(|(span, _)| *span)
        .collect();
    if broken.is_empty() {
        return;
    }
    let inside =
        |outer: &sci_diag::Span, s: &sci_diag::Span| outer.start <= s.start && s.end <= outer.end;
    let mut keep = vec![true; checker.diags.len()];
    for (host, range) in &checker.model_diags {
        for k in range.clone() {
            let Some(at) = checker.diags.get(k).and_then(Diagnostic::primary_span) else {
                continue;
            };
            if broken.iter().any(|m| m != host && inside(m, &at)) {
                keep[k] = false;
            }
        }
    }
    let mut k = 0;
    checker.diags.retain(|_| {
        k += 1;
        keep[k - 1]
    });
}

/// Instantiates a (possibly generic) file-level function with concrete argument shapes, for
/// `sci eval` of a function no model calls. Arguments are unit-free. Returns the id of the
/// instance in `checked.program.functions` (an existing one when the signature was already
/// instantiated), or the diagnostics explaining why it cannot be instantiated.
pub fn instantiate(
    file: &ast::SourceFile,
    checked: &mut Checked,
    fn_name: &str,
    arg_shapes: &[Vec<usize>],
) -> Result<hir::FnInstanceId, Vec<Diagnostic>> {
    let slot = std::sync::Mutex::new(checked);
    with_large_stack(&|| {
        let mut checked = slot.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        instantiate_here(file, &mut checked, fn_name, arg_shapes)
    })
}

fn instantiate_here(
    file: &ast::SourceFile,
    checked: &mut Checked,
    fn_name: &str,
    arg_shapes: &[Vec<usize>],
) -> Result<hir::FnInstanceId, Vec<Diagnostic>> {
    let mut checker = env::Checker::new(file, &NO_OVERRIDES, None);
    checker.adopt_functions(std::mem::take(&mut checked.program.functions));
    checker.prepare_file();
    // Problems of the file itself were reported by `check`; only new ones matter here.
    checker.diags.clear();
    let result = checker.instantiate_by_name(fn_name, arg_shapes);
    let diags = std::mem::take(&mut checker.diags);
    checked.program.functions = checker.take_functions();
    match result {
        Some(id) if !sci_diag::has_errors(&diags) => Ok(id),
        _ => {
            if diags.is_empty() {
                Err(vec![Diagnostic::error(
                    "E0310",
                    format!("The function `{fn_name}` could not be instantiated."),
                )])
            } else {
                Err(diags)
            }
        }
    }
}
