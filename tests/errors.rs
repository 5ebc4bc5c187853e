//! One deliberately wrong file per error class under `tests/errors/`, each snapshotted with
//! its source and the diagnostics exactly as `sci check` renders them (without colour).
//!
//! Refresh after an intended change with `INSTA_UPDATE=always cargo test --test errors`,
//! then read the `.snap` diffs.

use sci::SourceMap;

#[test]
fn every_broken_file_is_rejected_with_a_located_message() {
    insta::glob!("errors/*.sci", |path| {
        let text = std::fs::read_to_string(path).unwrap();
        let name = format!(
            "tests/errors/{}",
            path.file_name().unwrap().to_string_lossy()
        );
        let mut sources = SourceMap::new();
        let file = sources.add(name.clone(), text.clone());
        let analysis = sci::analyze(file, &text);
        assert!(
            analysis.has_errors(),
            "{name} was accepted, but every file in tests/errors must be rejected"
        );
        for d in analysis.diagnostics.iter().filter(|d| d.is_error()) {
            let span = d
                .primary_span()
                .unwrap_or_else(|| panic!("{name}: `{d}` has no source location"));
            assert!(
                span.end as usize <= text.len(),
                "{name}: `{d}` points past the end of the file"
            );
            assert!(!d.message.is_empty());
        }
        let rendered = sci::render::render_all(&analysis.diagnostics, &sources, false);
        insta::assert_snapshot!(format!("{text}\n----- sci check -----\n{rendered}"));
    });
}
