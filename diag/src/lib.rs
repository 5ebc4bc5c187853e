//! Diagnostics as data.
//!
//! Every stage of sci (lexer, parser, checker, IR reader, validator) reports problems as
//! [`Diagnostic`] values: a stable code, a severity, a one-sentence message, labelled source
//! spans, notes and an optional help line. Nothing here renders or prints; only the CLI
//! turns diagnostics into terminal output (with ariadne) and only the language server turns
//! them into LSP types. Keeping them plain data lets tests snapshot them and lets the two
//! front doors present the same facts.

#![deny(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod plain;

pub use plain::render_plain;

use std::fmt;

/// Identifies one source text inside a [`SourceMap`]-like table owned by the caller.
///
/// The core crates never read files, so a `FileId` is only a number the caller gave them.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub struct FileId(pub u32);

/// A half-open byte range `start..end` in one source file.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub struct Span {
    pub file: FileId,
    pub start: u32,
    pub end: u32,
}

impl Span {
    /// A span in `file` covering bytes `start..end`.
    pub fn new(file: FileId, start: usize, end: usize) -> Span {
        Span {
            file,
            start: clamp_u32(start),
            end: clamp_u32(end.max(start)),
        }
    }

    /// The smallest span covering both `self` and `other` (which must be in the same file).
    pub fn to(self, other: Span) -> Span {
        Span {
            file: self.file,
            start: self.start.min(other.start),
            end: self.end.max(other.end),
        }
    }

    /// The byte range as `usize`s, for slicing the source text.
    pub fn range(self) -> std::ops::Range<usize> {
        self.start as usize..self.end as usize
    }

    /// Length in bytes.
    pub fn len(self) -> usize {
        (self.end - self.start) as usize
    }

    /// True for a zero-width span (an insertion point such as "expected `)` here").
    pub fn is_empty(self) -> bool {
        self.start == self.end
    }
}

fn clamp_u32(n: usize) -> u32 {
    u32::try_from(n).unwrap_or(u32::MAX)
}

/// How serious a diagnostic is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Severity {
    /// The input is rejected.
    Error,
    /// The input is accepted but probably not what was meant.
    Warning,
    /// Extra information, never blocks compilation.
    Note,
}

impl fmt::Display for Severity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Severity::Error => "error",
            Severity::Warning => "warning",
            Severity::Note => "note",
        })
    }
}

/// A span with a short message saying what is at that place.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Label {
    pub span: Span,
    pub message: String,
    /// The primary label marks the place the problem is; secondary labels give context.
    pub primary: bool,
}

/// One problem found in the input.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Diagnostic {
    /// A stable code such as `E0101`, documented in `docs/diagnostics.md`.
    pub code: &'static str,
    pub severity: Severity,
    /// One sentence saying what is wrong, in the user's terms.
    pub message: String,
    /// Places in the source; the first primary label is where the problem is reported.
    pub labels: Vec<Label>,
    /// Extra facts ("the state `u` has 200 elements").
    pub notes: Vec<String>,
    /// What to do about it, when there is an obvious answer.
    pub help: Option<String>,
}

impl Diagnostic {
    /// A new error with the given code and message and no labels yet.
    pub fn error(code: &'static str, message: impl Into<String>) -> Diagnostic {
        Diagnostic {
            code,
            severity: Severity::Error,
            message: message.into(),
            labels: Vec::new(),
            notes: Vec::new(),
            help: None,
        }
    }

    /// A new warning with the given code and message.
    pub fn warning(code: &'static str, message: impl Into<String>) -> Diagnostic {
        Diagnostic {
            severity: Severity::Warning,
            ..Diagnostic::error(code, message)
        }
    }

    /// Adds the primary label: the place the problem is.
    pub fn with_primary(mut self, span: Span, message: impl Into<String>) -> Diagnostic {
        self.labels.push(Label {
            span,
            message: message.into(),
            primary: true,
        });
        self
    }

    /// Adds a secondary label giving context.
    pub fn with_secondary(mut self, span: Span, message: impl Into<String>) -> Diagnostic {
        self.labels.push(Label {
            span,
            message: message.into(),
            primary: false,
        });
        self
    }

    /// Adds a note.
    pub fn with_note(mut self, note: impl Into<String>) -> Diagnostic {
        self.notes.push(note.into());
        self
    }

    /// Sets the help line.
    pub fn with_help(mut self, help: impl Into<String>) -> Diagnostic {
        self.help = Some(help.into());
        self
    }

    /// The span of the first primary label, or of the first label, if any.
    pub fn primary_span(&self) -> Option<Span> {
        self.labels
            .iter()
            .find(|l| l.primary)
            .or_else(|| self.labels.first())
            .map(|l| l.span)
    }

    /// True if this diagnostic rejects the input.
    pub fn is_error(&self) -> bool {
        self.severity == Severity::Error
    }
}

impl fmt::Display for Diagnostic {
    /// A plain one-line form (`error[E0101]: message`) for logs and tests; the CLI renders
    /// the full form with source excerpts.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}[{}]: {}", self.severity, self.code, self.message)
    }
}

/// True if any diagnostic in the list is an error.
pub fn has_errors(diagnostics: &[Diagnostic]) -> bool {
    diagnostics.iter().any(Diagnostic::is_error)
}

/// Converts byte offsets to 0-based (line, column-in-chars) positions of one text.
///
/// Used by tests and renderers; the LSP converts to UTF-16 itself.
#[derive(Clone, Debug)]
pub struct LineIndex {
    line_starts: Vec<usize>,
}

impl LineIndex {
    /// Indexes the line starts of `text`.
    pub fn new(text: &str) -> LineIndex {
        let mut line_starts = vec![0];
        line_starts.extend(text.match_indices('\n').map(|(i, _)| i + 1));
        LineIndex { line_starts }
    }

    /// The 0-based line and character column of byte `offset` in `text`.
    pub fn line_col(&self, text: &str, offset: usize) -> (usize, usize) {
        let offset = offset.min(text.len());
        let line = match self.line_starts.binary_search(&offset) {
            Ok(l) => l,
            Err(l) => l - 1,
        };
        let start = self.line_starts[line];
        let col = text
            .get(start..offset)
            .map(|s| s.chars().count())
            .unwrap_or(0);
        (line, col)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn span_join_covers_both() {
        let a = Span::new(FileId(0), 3, 5);
        let b = Span::new(FileId(0), 10, 12);
        assert_eq!(a.to(b), Span::new(FileId(0), 3, 12));
        assert_eq!(b.to(a), Span::new(FileId(0), 3, 12));
    }

    #[test]
    fn builder_keeps_primary_first() {
        let d = Diagnostic::error("E0001", "bad")
            .with_secondary(Span::new(FileId(0), 0, 1), "context")
            .with_primary(Span::new(FileId(0), 4, 6), "here")
            .with_help("fix it");
        assert_eq!(d.primary_span(), Some(Span::new(FileId(0), 4, 6)));
        assert_eq!(d.to_string(), "error[E0001]: bad");
        assert!(has_errors(&[d]));
    }

    #[test]
    fn line_index_counts_chars_not_bytes() {
        let text = "α = 1\nβ = 2";
        let idx = LineIndex::new(text);
        assert_eq!(idx.line_col(text, 0), (0, 0));
        let beta = text.find('β').unwrap();
        assert_eq!(idx.line_col(text, beta), (1, 0));
        assert_eq!(idx.line_col(text, beta + 'β'.len_utf8() + 1), (1, 2));
    }
}
