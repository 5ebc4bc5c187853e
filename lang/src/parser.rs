//! The parser driver: source text → [`ast::SourceFile`] plus diagnostics. Never fails.
//!
//! ```text
//! lexer::lex ─▶ prepare (close unclosed models, cut too-deep regions)
//!            ─▶ grammar (lalrpop, LALR(1), error recovery at item/member/value level)
//!            ─▶ errors (recovered parse errors → readable diagnostics)
//!            ─▶ ast::number_exprs
//! ```
//!
//! Architecture invariant: whatever the input, [`parse`] returns a tree no deeper than
//! [`MAX_EXPR_DEPTH`] (so later recursive passes and `Drop` are safe) and at least one error
//! diagnostic whenever the source is not well formed.

mod build;
pub mod dump;
mod errors;
pub mod normalize;
mod prepare;

// Generated code: its `panic!`/`unwrap` are the parser generator's own state-machine
// invariants (unreachable for any token stream), outside the crate's lint policy.
lalrpop_util::lalrpop_mod!(
    #[allow(
        clippy::all,
        clippy::pedantic,
        clippy::unwrap_used,
        clippy::expect_used,
        clippy::panic,
        unused_qualifications,
        unused_parens
    )]
    grammar
);

use crate::ast::{self, SourceFile};
use crate::lexer;
use sci_diag::{Diagnostic, FileId};

pub use dump::dump;
pub use normalize::same_syntax;

/// The deepest expression tree the parser builds; deeper source is reported (E0115).
pub const MAX_EXPR_DEPTH: usize = 256;

/// The longest source text parsed, in bytes (16 MiB); longer text is reported (E0100)
/// without being read, so time and memory stay bounded on any input.
pub const MAX_SOURCE_BYTES: usize = 16 << 20;

/// The result of parsing one file: always a tree, plus what was wrong.
#[derive(Clone, Debug)]
pub struct Parsed {
    pub file: SourceFile,
    /// Lexical and syntax errors in source order.
    pub diagnostics: Vec<Diagnostic>,
}

/// Parses the text `src` of `file`. Never fails and never panics; broken parts are dropped
/// or become `ExprKind::Error`, each with a diagnostic. Expression ids are assigned.
pub fn parse(file: FileId, src: &str) -> Parsed {
    if src.len() > MAX_SOURCE_BYTES {
        return Parsed {
            file: SourceFile::default(),
            diagnostics: vec![too_long(file, src.len())],
        };
    }
    let lexed = lexer::lex(file, src);
    let prepared = prepare::prepare(file, lexed.tokens, src.len());
    let mut diagnostics = lexed.diagnostics;
    diagnostics.extend(prepared.diagnostics);

    let mut ctx = build::Ctx::new(file);
    let result = grammar::SourceFileParser::new().parse(
        &mut ctx,
        prepared
            .tokens
            .iter()
            .cloned()
            .map(Ok::<_, std::convert::Infallible>),
    );
    let describer = errors::Describer {
        file,
        tokens: &prepared.tokens,
        synthetic: &prepared.synthetic,
        src,
    };
    for recovery in &ctx.recoveries {
        diagnostics.push(describer.describe(&recovery.error));
    }
    let mut source_file = match result {
        Ok(f) => f,
        Err(e) => {
            // Recovery at item level accepts any input, so this is not expected; report it
            // rather than lose it.
            diagnostics.push(describer.describe(&e));
            SourceFile::default()
        }
    };
    diagnostics.extend(ctx.diagnostics);
    tidy(&mut diagnostics);
    ast::number_exprs(&mut source_file);
    Parsed {
        file: source_file,
        diagnostics,
    }
}

/// E0100: the text is longer than [`MAX_SOURCE_BYTES`].
fn too_long(file: FileId, len: usize) -> Diagnostic {
    Diagnostic::error(
        "E0100",
        format!(
            "This file has {len} bytes, more than the {MAX_SOURCE_BYTES} sci reads in one model \
             file."
        ),
    )
    .with_primary(sci_diag::Span::new(file, 0, 0), "the file is not read past here")
    .with_help("a model this large is usually generated: generate arrays (`u[i in 0..n]`) instead of one line per element")
}

/// Sorts diagnostics by position and drops repeats: two reports with the same code at the
/// same place, and a second "nested too deeply" inside the region of a first.
fn tidy(diagnostics: &mut Vec<Diagnostic>) {
    diagnostics.sort_by_key(|d| d.primary_span().map(|s| (s.start, s.end)));
    let mut kept: Vec<Diagnostic> = Vec::with_capacity(diagnostics.len());
    for d in diagnostics.drain(..) {
        let span = d.primary_span();
        let repeat = kept.iter().rev().take(8).any(|k| {
            k.code == d.code
                && (k.primary_span() == span
                    || (d.code == "E0115"
                        && matches!((k.primary_span(), span), (Some(a), Some(b))
                            if b.start <= a.end.saturating_add(1) || a.start == b.start)))
        });
        if !repeat {
            kept.push(d);
        }
    }
    *diagnostics = kept;
}
