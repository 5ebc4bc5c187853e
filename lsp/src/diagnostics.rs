//! The compiler's diagnostics as LSP diagnostics (`textDocument/publishDiagnostics`).
//!
//! The message is the compiler's sentence, followed by its notes and its help line (editors
//! show the whole text on hover); secondary labels become related information pointing at
//! the other places, with their label text. Diagnostics are data in the compiler, so this is
//! the only place that knows how the editor presents them.

use crate::analysis::Analysis;
use lsp_types::{
    DiagnosticRelatedInformation, DiagnosticSeverity, DiagnosticTag, Location, NumberOrString,
    Range, Uri,
};
use sci_diag::{Diagnostic, Severity};

/// Every diagnostic of an analysis, converted.
pub fn to_lsp_all(analysis: &Analysis, uri: &Uri) -> Vec<lsp_types::Diagnostic> {
    analysis
        .diagnostics
        .iter()
        .map(|d| to_lsp(analysis, uri, d))
        .collect()
}

/// One diagnostic, converted.
pub fn to_lsp(analysis: &Analysis, uri: &Uri, d: &Diagnostic) -> lsp_types::Diagnostic {
    let text = &analysis.text;
    let range = d
        .primary_span()
        .map(|s| analysis.lines.range(text, s))
        .unwrap_or_default();
    let related: Vec<DiagnosticRelatedInformation> = d
        .labels
        .iter()
        .filter(|l| !l.primary)
        .map(|l| DiagnosticRelatedInformation {
            location: Location {
                uri: uri.clone(),
                range: analysis.lines.range(text, l.span),
            },
            message: if l.message.is_empty() {
                "related".to_string()
            } else {
                l.message.clone()
            },
        })
        .collect();
    lsp_types::Diagnostic {
        range,
        severity: Some(match d.severity {
            Severity::Error => DiagnosticSeverity::ERROR,
            Severity::Warning => DiagnosticSeverity::WARNING,
            Severity::Note => DiagnosticSeverity::INFORMATION,
        }),
        code: Some(NumberOrString::String(d.code.to_string())),
        code_description: None,
        source: Some("sci".to_string()),
        message: message(d),
        related_information: (!related.is_empty()).then_some(related),
        // "Never used" warnings let editors grey the name out.
        tags: (d.code == "W0201").then(|| vec![DiagnosticTag::UNNECESSARY]),
        data: None,
    }
}

/// The full text of a diagnostic: the sentence, the primary label when it adds something,
/// the notes and the help line.
pub fn message(d: &Diagnostic) -> String {
    let mut m = d.message.clone();
    for note in &d.notes {
        m.push_str("\nnote: ");
        m.push_str(note);
    }
    if let Some(help) = &d.help {
        m.push_str("\nhelp: ");
        m.push_str(help);
    }
    m
}

/// True if two LSP ranges overlap or touch (a zero-width request range inside a
/// diagnostic, or a cursor at its end, counts).
pub fn touches(a: Range, b: Range) -> bool {
    a.start <= b.end && b.start <= a.end
}
