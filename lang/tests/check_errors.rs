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
