//! Broken inputs under `tests/errors/parse_*.sci` (one per parse-error class): the
//! diagnostics (code, message, labels with line:column, notes, help) are snapshotted
//! together with the source. Every file must produce at least one error, and the parser
//! must still return a tree.

use sci_diag::{Diagnostic, FileId, LineIndex};
use sci_lang::parser::{dump, parse};
use std::fmt::Write;

/// One diagnostic per block: `error[E0111] 3:15: message`, then its labels, notes, help.
fn render(src: &str, diagnostics: &[Diagnostic]) -> String {
    let index = LineIndex::new(src);
    let pos = |offset: u32| {
        let (l, c) = index.line_col(src, offset as usize);
        format!("{}:{}", l + 1, c + 1)
    };
    let mut out = String::new();
    for d in diagnostics {
        let at = d.primary_span().map(|s| pos(s.start)).unwrap_or_default();
        writeln!(out, "{}[{}] {at}: {}", d.severity, d.code, d.message).unwrap();
        for l in &d.labels {
            let kind = if l.primary { "primary" } else { "secondary" };
            writeln!(
                out,
                "  {kind} {}-{}: {}",
                pos(l.span.start),
                pos(l.span.end),
                l.message
            )
            .unwrap();
        }
        for n in &d.notes {
            writeln!(out, "  note: {n}").unwrap();
        }
        if let Some(h) = &d.help {
            writeln!(out, "  help: {h}").unwrap();
        }
    }
    out
}

#[test]
fn broken_files_report_readable_errors() {
    insta::glob!("../../tests/errors", "parse_*.sci", |path| {
        let src = std::fs::read_to_string(path).unwrap();
        let parsed = parse(FileId(0), &src);
        assert!(
            parsed.diagnostics.iter().any(|d| d.is_error()),
            "{} parsed without errors",
            path.display()
        );
        let shown: String = if src.len() > 2000 {
            format!("({} bytes)", src.len())
        } else {
            src.clone()
        };
        let report = format!(
            "{shown}\n---- diagnostics ----\n{}---- tree ----\n{}",
            render(&src, &parsed.diagnostics),
            dump(&parsed.file)
        );
        insta::assert_snapshot!(report);
    });
}
