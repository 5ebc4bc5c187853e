//! The checker's answer to each deliberately wrong file in `tests/errors/` (the files for
//! names, order, types, shapes and units), snapshotted with the source and every
//! diagnostic: code, message, labels with line:col, notes and help.

use sci_diag::{Diagnostic, FileId, LineIndex};
use sci_lang::check::check;
use sci_lang::parser::parse;
use std::path::Path;

/// Diagnostics in a stable, readable text form.
fn render(src: &str, diags: &[Diagnostic]) -> String {
    let index = LineIndex::new(src);
    let pos = |offset: u32| {
        let (l, c) = index.line_col(src, offset as usize);
        format!("{}:{}", l + 1, c + 1)
    };
    let mut out = String::new();
    for d in diags {
        out.push_str(&format!("{}[{}]: {}\n", d.severity, d.code, d.message));
        for l in &d.labels {
            let kind = if l.primary { "-->" } else { "   " };
            let text = src.get(l.span.range()).unwrap_or("");
            out.push_str(&format!(
                "  {kind} {}-{} `{text}`: {}\n",
                pos(l.span.start),
                pos(l.span.end),
                l.message
            ));
        }
        for n in &d.notes {
            out.push_str(&format!("  note: {n}\n"));
        }
        if let Some(h) = &d.help {
            out.push_str(&format!("  help: {h}\n"));
        }
    }
    out
}

#[test]
fn wrong_files_are_explained() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/errors");
    insta::glob!(dir.as_path(), "*.sci", |path| {
        let name = path.file_name().unwrap().to_string_lossy().to_string();
        let classes = ["name_", "order_", "type_", "shape_", "unit_"];
        if !classes.iter().any(|c| name.starts_with(c)) {
            return;
        }
        let src = std::fs::read_to_string(path).unwrap();
        let parsed = parse(FileId(0), &src);
        assert!(parsed.diagnostics.is_empty(), "{name} must parse cleanly");
        let checked = check(&parsed.file);
        assert!(
            sci_diag::has_errors(&checked.diagnostics),
            "{name} was accepted by the checker"
        );
        for d in &checked.diagnostics {
            let span = d.primary_span().expect("every diagnostic has a place");
            assert!(span.end as usize <= src.len());
        }
        insta::assert_snapshot!(format!(
            "{src}\n----- check -----\n{}",
            render(&src, &checked.diagnostics)
        ));
    });
}
