//! Every example checks without errors; the checked program of each is snapshotted.

use sci_diag::{FileId, LineIndex};
use sci_lang::check::{check, dump_program};
use sci_lang::parser::parse;
use std::path::Path;

/// Renders diagnostics as `line:col code message` lines (for failure messages).
fn render(src: &str, diags: &[sci_diag::Diagnostic]) -> String {
    let index = LineIndex::new(src);
    let mut out = String::new();
    for d in diags {
        let (l, c) = d
            .primary_span()
            .map(|s| index.line_col(src, s.start as usize))
            .unwrap_or((0, 0));
        out.push_str(&format!(
            "{}:{} {}[{}] {}\n",
            l + 1,
            c + 1,
            d.severity,
            d.code,
            d.message
        ));
        for n in &d.notes {
            out.push_str(&format!("    note: {n}\n"));
        }
        if let Some(h) = &d.help {
            out.push_str(&format!("    help: {h}\n"));
        }
    }
    out
}

#[test]
fn examples_check_cleanly() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples");
    insta::glob!(dir.as_path(), "*.sci", |path| {
        let src = std::fs::read_to_string(path).unwrap();
        let parsed = parse(FileId(0), &src);
        assert!(
            parsed.diagnostics.is_empty(),
            "{}",
            render(&src, &parsed.diagnostics)
        );
        let checked = check(&parsed.file);
        assert!(
            checked.diagnostics.is_empty(),
            "{}:\n{}",
            path.display(),
            render(&src, &checked.diagnostics)
        );
        insta::assert_snapshot!(dump_program(&checked.program));
    });
}
