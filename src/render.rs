//! Rendering diagnostics for terminals with ariadne.
//!
//! This is the only place diagnostics become text with source excerpts (the language server
//! converts them to LSP types instead). Rendering is deterministic: with `color = false` the
//! output is plain ASCII-art text that the snapshot tests store.

use crate::SourceMap;
use ariadne::{Color, Config, IndexType, Label, Report, ReportKind};
use sci_diag::{Diagnostic, FileId, Severity};

/// Renders every diagnostic, in order, into one string.
pub fn render_all(diagnostics: &[Diagnostic], sources: &SourceMap, color: bool) -> String {
    diagnostics
        .iter()
        .map(|d| render(d, sources, color))
        .collect()
}

/// Renders one diagnostic with the source excerpts its labels point at.
pub fn render(diagnostic: &Diagnostic, sources: &SourceMap, color: bool) -> String {
    let kind = match diagnostic.severity {
        Severity::Error => ReportKind::Error,
        Severity::Warning => ReportKind::Warning,
        Severity::Note => ReportKind::Advice,
    };
    let fallback_file = diagnostic
        .primary_span()
        .map(|s| s.file)
        .unwrap_or(FileId(0));
    let name = |file: FileId| sources.name(file).to_string();
    let anchor = diagnostic
        .primary_span()
        .map(|s| (name(s.file), clamp(sources, s.file, s.range())))
        .unwrap_or_else(|| (name(fallback_file), 0..0));
    let mut report = Report::build(kind, anchor)
        .with_config(
            Config::default()
                .with_color(color)
                .with_index_type(IndexType::Byte),
        )
        .with_code(diagnostic.code)
        .with_message(&diagnostic.message);
    for (order, label) in diagnostic.labels.iter().enumerate() {
        let span = (
            name(label.span.file),
            clamp(sources, label.span.file, label.span.range()),
        );
        let mut l = Label::new(span)
            .with_message(&label.message)
            .with_order(order as i32);
        if color {
            l = l.with_color(if label.primary {
                Color::Red
            } else {
                Color::Blue
            });
        }
        report = report.with_label(l);
    }
    for note in &diagnostic.notes {
        report = report.with_note(note);
    }
    if let Some(help) = &diagnostic.help {
        report = report.with_help(help);
    }
    let cache = ariadne::sources(
        sources
            .iter()
            .map(|(id, name, text)| {
                let _ = id;
                (name.to_string(), text.to_string())
            })
            .collect::<Vec<_>>(),
    );
    let mut out = Vec::new();
    match report.finish().write(cache, &mut out) {
        Ok(()) => String::from_utf8_lossy(&out).into_owned(),
        // The cache holds every file a label can name, so this only happens for spans that
        // point outside any known file; fall back to the one-line form rather than lose it.
        Err(_) => format!("{diagnostic}\n"),
    }
}

/// Clamps a byte range to the file and to char boundaries, so a stale or synthetic span
/// never makes the renderer fail.
fn clamp(
    sources: &SourceMap,
    file: FileId,
    range: std::ops::Range<usize>,
) -> std::ops::Range<usize> {
    let text = sources.text(file);
    let mut start = range.start.min(text.len());
    let mut end = range.end.clamp(start, text.len());
    while !text.is_char_boundary(start) {
        start -= 1;
    }
    while !text.is_char_boundary(end) {
        end += 1;
    }
    start..end
}
