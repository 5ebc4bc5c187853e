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

/// The fix E0121 offers for a quantity named without `let`, applied, checks clean.
#[test]
fn the_missing_let_fix_applies_cleanly() {
    let src = "model M {\n    param k = 2\n    state x = 1\n    F = -k * x\n    der(x) = F\n}\n";
    let parsed = parse(FileId(0), src);
    let d = parsed
        .diagnostics
        .iter()
        .find(|d| d.code == "E0121")
        .unwrap_or_else(|| panic!("{:#?}", parsed.diagnostics));
    let help = d.help.as_deref().unwrap();
    let fix = help.split('`').nth(1).unwrap();
    assert_eq!(fix, "let F = -k * x");
    let fixed = src.replace("    F = -k * x", &format!("    {fix}"));
    let analysis = sci_lang::analyze(FileId(0), &fixed);
    assert!(
        analysis.diagnostics.is_empty(),
        "{:#?}",
        analysis.diagnostics
    );
    // A continuation that is not an assignment is still a missing operator (E0110).
    let parsed = parse(FileId(0), "model M {\n    param k = 2\n    k\n}\n");
    assert!(parsed.diagnostics.iter().all(|d| d.code != "E0121"));
}

/// The fix E0123 offers for `v = …` inside `when`, applied, checks clean.
#[test]
fn the_event_assignment_fix_applies_cleanly() {
    let src = "model M {\n    param e = 0.8\n    state h = 1\n    state v = 0\n    der(h) = v\n    der(v) = -9.81\n    when h < 0 { v = -e * v }\n}\n";
    let parsed = parse(FileId(0), src);
    let d = parsed
        .diagnostics
        .iter()
        .find(|d| d.code == "E0123")
        .unwrap_or_else(|| panic!("{:#?}", parsed.diagnostics));
    assert_eq!(parsed.diagnostics.len(), 1, "{:#?}", parsed.diagnostics);
    let fix = d.help.as_deref().unwrap().split('`').nth(1).unwrap();
    assert_eq!(fix, "reinit(v, -e * v)");
    let fixed = src.replace("v = -e * v", fix);
    let analysis = sci_lang::analyze(FileId(0), &fixed);
    assert!(
        analysis.diagnostics.is_empty(),
        "{:#?}",
        analysis.diagnostics
    );
}
