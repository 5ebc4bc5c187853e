//! Tidy checks of the source tree, the project's invariants that no compiler enforces by
//! itself: every source file opens with a `//!` header saying what it is for; the crates
//! inherit the workspace's lints (`unsafe_code` forbidden), the root crate's library and
//! binary forbid `unsafe` themselves, and the core crates deny `unwrap`, `expect` and
//! `panic!` in their library code.

use std::path::{Path, PathBuf};

const ROOT: &str = env!("CARGO_MANIFEST_DIR");

/// The crates' source directories (not tests, benches or examples).
const SOURCE_DIRS: &[&str] = &[
    "src",
    "diag/src",
    "ir/src",
    "lang/src",
    "passes/src",
    "codegen/src",
    "stdlib/src",
    "lsp/src",
    "python/src",
];

/// The core crates: no I/O, no panics.
const CORE: &[&str] = &["diag", "ir", "lang", "passes"];

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

#[test]
fn every_source_file_has_a_module_header() {
    let mut files = Vec::new();
    for dir in SOURCE_DIRS {
        rust_files(&Path::new(ROOT).join(dir), &mut files);
    }
    files.push(Path::new(ROOT).join("lang/build.rs"));
    assert!(files.len() > 100, "only {} files found", files.len());
    let missing: Vec<String> = files
        .iter()
        .filter(|f| {
            let text = std::fs::read_to_string(f).unwrap();
            !text.starts_with("//!")
        })
        .map(|f| f.strip_prefix(ROOT).unwrap_or(f).display().to_string())
        .collect();
    assert!(
        missing.is_empty(),
        "files without a `//!` header saying what they are for: {missing:?}"
    );
}

#[test]
fn the_lint_policy_is_in_place() {
    let read = |p: &str| std::fs::read_to_string(Path::new(ROOT).join(p)).unwrap();
    let workspace = read("Cargo.toml");
    assert!(
        workspace.contains("[workspace.lints.rust]\nunsafe_code = \"forbid\""),
        "the workspace forbids unsafe code"
    );
    for krate in ["diag", "ir", "lang", "passes", "stdlib", "lsp"] {
        let manifest = read(&format!("{krate}/Cargo.toml"));
        assert!(
            manifest.contains("[lints]\nworkspace = true"),
            "{krate} inherits the workspace lints"
        );
    }
    for file in ["src/lib.rs", "src/main.rs"] {
        assert!(read(file).contains("#![forbid(unsafe_code)]"), "{file}");
    }
    // The Python extension (its own workspace) allows `unsafe` only in its XLA FFI
    // handler.
    assert!(read("python/src/lib.rs").contains("#![deny(unsafe_code)]"));
    for krate in CORE {
        assert!(
            read(&format!("{krate}/src/lib.rs"))
                .contains("#![deny(clippy::unwrap_used, clippy::expect_used, clippy::panic)]"),
            "{krate} denies unwrap, expect and panic"
        );
    }
}

/// `(name, version)` of every package in a `Cargo.lock`.
fn locked_packages(path: &str) -> Vec<(String, String)> {
    let text = std::fs::read_to_string(Path::new(ROOT).join(path)).unwrap();
    let mut out = Vec::new();
    let mut name = None;
    for line in text.lines() {
        if let Some(n) = line.strip_prefix("name = ") {
            name = Some(n.trim_matches('"').to_string());
        } else if let (Some(v), Some(n)) = (line.strip_prefix("version = "), name.take()) {
            out.push((n, v.trim_matches('"').to_string()));
        }
    }
    out
}

#[test]
fn the_python_package_builds_against_the_same_crate_versions() {
    // Its own lock file (a separate workspace), kept equal to the root's for every crate
    // both use, so the wheel computes what the command-line tool computes.
    let root = locked_packages("Cargo.lock");
    let python = locked_packages("python/Cargo.lock");
    assert!(python.len() > 50);
    let differing: Vec<String> = python
        .iter()
        .filter(|(n, v)| {
            root.iter().any(|(rn, rv)| rn == n && rv != v)
                && !root.contains(&(n.clone(), v.clone()))
        })
        .map(|(n, v)| format!("{n} {v}"))
        .collect();
    assert!(
        differing.is_empty(),
        "python/Cargo.lock locks other versions than Cargo.lock: {differing:?} (copy the \
         root lock file over it and build once)"
    );
}
