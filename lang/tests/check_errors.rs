//! The checker's answer to each deliberately wrong file in `tests/errors/` (the files for
//! names, order, types, shapes and units), snapshotted with the source and every
//! diagnostic: code, message, labels with line:col, notes and help.

use sci_diag::{FileId, render_plain};
use sci_lang::check::check;
use sci_lang::parser::parse;
use std::path::Path;

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
            render_plain(&src, &checked.diagnostics)
        ));
    });
}

/// E0303's fix for a range bound from a generic size, applied, checks clean and sums the
/// first half.
#[test]
fn an_uneven_generic_range_is_fixed_by_floor() {
    let src = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../tests/errors/shape_generic_uneven_range.sci"),
    )
    .unwrap();
    let checked = check(&parse(FileId(0), &src).file);
    let d = checked
        .diagnostics
        .iter()
        .find(|d| d.code == "E0303")
        .unwrap();
    assert!(d.message.contains("for every size `n`"), "{}", d.message);
    assert!(
        !d.message.contains("1000"),
        "a stand-in size leaked: {}",
        d.message
    );
    let help = d.help.as_deref().unwrap();
    let fix = help.rsplit('`').nth(1).unwrap();
    assert_eq!(fix, "floor(n / 2)");
    let fixed = src.replace("0..n / 2", &format!("0..{fix}"));
    let checked = check(&parse(FileId(0), &fixed).file);
    assert!(checked.diagnostics.is_empty(), "{:#?}", checked.diagnostics);
}
