//! Diagnostics as plain, stable text: the form tests snapshot and compare (the terminal's
//! rendering, with excerpts and colour, is the CLI's `src/render.rs`).
//!
//! One block per diagnostic: `error[E0201]: message`, then each label as
//! `--> line:col-line:col `source text`: message` (primary) or with blanks (secondary),
//! then `note:` and `help:` lines. Lines and columns count from 1; columns in characters.

use crate::{Diagnostic, LineIndex};
use std::fmt::Write;

/// `diagnostics` about `src` in the plain form described in the module header.
pub fn render_plain(src: &str, diagnostics: &[Diagnostic]) -> String {
    let index = LineIndex::new(src);
    let pos = |offset: u32| {
        let (l, c) = index.line_col(src, offset as usize);
        format!("{}:{}", l + 1, c + 1)
    };
    let mut out = String::new();
    for d in diagnostics {
        let _ = writeln!(out, "{}[{}]: {}", d.severity, d.code, d.message);
        for l in &d.labels {
            let kind = if l.primary { "-->" } else { "   " };
            let text = src.get(l.span.range()).unwrap_or("");
            let _ = writeln!(
                out,
                "  {kind} {}-{} `{text}`: {}",
                pos(l.span.start),
                pos(l.span.end),
                l.message
            );
        }
        for n in &d.notes {
            let _ = writeln!(out, "  note: {n}");
        }
        if let Some(h) = &d.help {
            let _ = writeln!(out, "  help: {h}");
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{FileId, Span};

    #[test]
    fn every_part_of_a_diagnostic_is_shown() {
        let src = "model M {\n  der(x) = y\n}\n";
        let d = Diagnostic::error("E0201", "There is no definition called `y` here.")
            .with_primary(Span::new(FileId(0), 21, 22), "not defined")
            .with_secondary(Span::new(FileId(0), 12, 18), "in this equation")
            .with_note("names are case-sensitive")
            .with_help("define `y`");
        assert_eq!(
            render_plain(src, &[d]),
            "error[E0201]: There is no definition called `y` here.\n  \
             --> 2:12-2:13 `y`: not defined\n      \
             2:3-2:9 `der(x)`: in this equation\n  \
             note: names are case-sensitive\n  help: define `y`\n"
        );
    }
}
