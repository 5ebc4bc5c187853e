//! The formatter on every example: the output is snapshotted, re-parses to the same tree
//! (modulo spans) and is a fixed point of formatting.

use sci_diag::FileId;
use sci_lang::fmt::{format_source, same_syntax};
use sci_lang::parser::parse;

#[test]
fn examples_format_idempotently_to_the_same_tree() {
    insta::glob!("../../examples", "*.sci", |path| {
        let src = std::fs::read_to_string(path).unwrap();
        let once = format_source(FileId(0), &src).unwrap();
        let twice = format_source(FileId(0), &once).unwrap();
        assert_eq!(
            once,
            twice,
            "{}: formatting is not idempotent",
            path.display()
        );
        let before = parse(FileId(0), &src).file;
        let after = parse(FileId(0), &once).file;
        assert!(
            same_syntax(&before, &after),
            "{}: the tree changed",
            path.display()
        );
        insta::assert_snapshot!(once);
    });
}
