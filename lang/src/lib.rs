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

pub mod ast;
pub mod hir;

// --- syntax (lexer, grammar, parser driver, formatter) ---
pub mod fmt;
pub mod lexer;
pub mod parser;

// --- semantics (units, built-ins, resolution, checking, lowering) ---
pub mod builtins;
pub mod check;
pub mod lower;
pub mod units;
