//! Broken inputs under `tests/errors/parse_*.sci` (one per parse-error class): the
//! diagnostics (code, message, labels with line:column, notes, help) are snapshotted
//! together with the source. Every file must produce at least one error, and the parser
//! must still return a tree.

use sci_diag::{FileId, render_plain};
use sci_lang::parser::{dump, parse};

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
            render_plain(&src, &parsed.diagnostics),
            dump(&parsed.file)
        );
        insta::assert_snapshot!(report);
    });
}
