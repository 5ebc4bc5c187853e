//! Every example checks without errors; the checked program of each is snapshotted.

use sci_diag::{FileId, render_plain};
use sci_lang::check::{check, dump_program};
use sci_lang::parser::parse;
use std::path::Path;

#[test]
fn examples_check_cleanly() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples");
    insta::glob!(dir.as_path(), "*.sci", |path| {
        let src = std::fs::read_to_string(path).unwrap();
        let parsed = parse(FileId(0), &src);
        assert!(
            parsed.diagnostics.is_empty(),
            "{}",
            render_plain(&src, &parsed.diagnostics)
        );
        let checked = check(&parsed.file);
        assert!(
            checked.diagnostics.is_empty(),
            "{}:\n{}",
            path.display(),
            render_plain(&src, &checked.diagnostics)
        );
        insta::assert_snapshot!(dump_program(&checked.program));
    });
}
