//! Rendering diagnostics for terminals with ariadne.
//!
//! This is the only place diagnostics become text with source excerpts (the language server
//! converts them to LSP types instead). Rendering is deterministic: with `color = false` the
//! output is plain ASCII-art text that the snapshot tests store.
//!
//! Rendering is linear in the input: [`render_all`] indexes the sources once for all its
//! diagnostics, at most [`MAX_EXCERPTS`] of them get source excerpts, and one whose
//! excerpt would show a line longer than [`MAX_EXCERPT_LINE`] bytes (a model written on one
//! line) gets the one-line form with its location instead. (Indexing the sources again for
//! every diagnostic, and excerpting a long line every time, made a one-line model with
//! 4,000 warnings take minutes and gigabytes to report.)

use crate::SourceMap;
use ariadne::{Cache, Color, Config, IndexType, Label, Report, ReportKind};
use sci_diag::{Diagnostic, FileId, Severity};

/// At most this many diagnostics of one [`render_all`] get source excerpts; the rest get
/// the one-line form with their location.
pub const MAX_EXCERPTS: usize = 100;
/// Source lines longer than this many bytes are not excerpted.
pub const MAX_EXCERPT_LINE: usize = 500;

/// Renders every diagnostic, in order, into one string.
pub fn render_all(diagnostics: &[Diagnostic], sources: &SourceMap, color: bool) -> String {
    let mut cache = cache(sources);
    let lines = LineIndex::new(sources);
    let mut out = String::new();
    for (k, d) in diagnostics.iter().enumerate() {
        if k < MAX_EXCERPTS && lines.excerpt_fits(sources, d) {
            out.push_str(&render_with(d, sources, color, &mut cache));
        } else {
            out.push_str(&lines.one_line(sources, d));
        }
    }
    if diagnostics.len() > MAX_EXCERPTS {
        out.push_str(&format!(
            "({} diagnostics; the first {MAX_EXCERPTS} with source excerpts)\n",
            diagnostics.len()
        ));
    }
    out
}

/// ariadne's cache of every source, built once per rendering.
fn cache(sources: &SourceMap) -> impl Cache<String> {
    ariadne::sources(
        sources
            .iter()
            .map(|(_, name, text)| (name.to_string(), text.to_string()))
            .collect::<Vec<_>>(),
    )
}

/// Where the lines of every source start, to place a span on its line.
struct LineIndex {
    starts: Vec<Vec<usize>>,
}

impl LineIndex {
    fn new(sources: &SourceMap) -> LineIndex {
        LineIndex {
            starts: sources
                .iter()
                .map(|(_, _, text)| {
                    std::iter::once(0)
                        .chain(text.match_indices('\n').map(|(i, _)| i + 1))
                        .collect()
                })
                .collect(),
        }
    }

    /// The line (from 0) holding byte `at` of `file`, and the line's byte range.
    fn line(
        &self,
        sources: &SourceMap,
        file: FileId,
        at: usize,
    ) -> (usize, std::ops::Range<usize>) {
        let Some(starts) = self.starts.get(file.0 as usize) else {
            return (0, 0..0);
        };
        let k = starts.partition_point(|&s| s <= at).saturating_sub(1);
        let start = starts.get(k).copied().unwrap_or(0);
        let end = starts
            .get(k + 1)
            .copied()
            .unwrap_or_else(|| sources.text(file).len());
        (k, start..end)
    }

    /// Whether every line the diagnostic's labels start or end on is short enough to show.
    fn excerpt_fits(&self, sources: &SourceMap, d: &Diagnostic) -> bool {
        d.labels.iter().all(|l| {
            let range = clamp(sources, l.span.file, l.span.range());
            [range.start, range.end].iter().all(|&at| {
                let (_, line) = self.line(sources, l.span.file, at);
                line.len() <= MAX_EXCERPT_LINE
            })
        })
    }

    /// The one-line form with the primary span's place: `error[E0101]: message` then
    /// `  --> file:line:column` (and the help).
    fn one_line(&self, sources: &SourceMap, d: &Diagnostic) -> String {
        let mut out = format!("{d}\n");
        if let Some(span) = d.primary_span() {
            let at = clamp(sources, span.file, span.range()).start;
            let (k, line) = self.line(sources, span.file, at);
            let column = sources
                .text(span.file)
                .get(line.start..at)
                .map_or(0, |s| s.chars().count());
            out.push_str(&format!(
                "  --> {}:{}:{}\n",
                sources.name(span.file),
                k + 1,
                column + 1
            ));
        }
        if let Some(help) = &d.help {
            out.push_str(&format!("  help: {help}\n"));
        }
        out
    }
}

/// Renders one diagnostic with the source excerpts its labels point at.
pub fn render(diagnostic: &Diagnostic, sources: &SourceMap, color: bool) -> String {
    render_with(diagnostic, sources, color, &mut cache(sources))
}

/// [`render`] with a cache of the sources built once for many diagnostics.
fn render_with(
    diagnostic: &Diagnostic,
    sources: &SourceMap,
    color: bool,
    cache: &mut impl Cache<String>,
) -> String {
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
    let mut out = Vec::new();
    match report.finish().write(cache, &mut out) {
        // ariadne prints notes and help under a source excerpt; without a label there is
        // none, and they would be lost.
        Ok(()) if diagnostic.labels.is_empty() => {
            let mut text = String::from_utf8_lossy(&out).into_owned();
            for note in &diagnostic.notes {
                text.push_str(&format!("    Note: {note}\n"));
            }
            if let Some(help) = &diagnostic.help {
                text.push_str(&format!("    Help: {help}\n"));
            }
            text
        }
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
