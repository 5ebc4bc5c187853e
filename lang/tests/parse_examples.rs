//! Every example under `examples/` parses without diagnostics; the tree is snapshotted as
//! a compact dump (see `sci_lang::parser::dump`).

use sci_diag::FileId;
use sci_lang::parser::{dump, parse};

#[test]
fn examples_parse_cleanly() {
    insta::glob!("../../examples", "*.sci", |path| {
        let src = std::fs::read_to_string(path).unwrap();
        let parsed = parse(FileId(0), &src);
        assert!(
            parsed.diagnostics.is_empty(),
            "{}: {:#?}",
            path.display(),
            parsed.diagnostics
        );
        insta::assert_snapshot!(dump(&parsed.file));
    });
}
