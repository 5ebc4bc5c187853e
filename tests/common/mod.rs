//! What the root crate's test files share.

#![allow(dead_code)] // each test binary uses its own part

use std::path::PathBuf;

/// Every example model (`examples/*.sci`), in name order.
pub fn example_paths() -> Vec<PathBuf> {
    files_with_extension("examples", "sci")
}

/// The files of directory `dir` (relative to the repository root) whose extension is
/// `ext`, in name order.
pub fn files_with_extension(dir: &str, ext: &str) -> Vec<PathBuf> {
    let mut paths: Vec<_> =
        std::fs::read_dir(std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join(dir))
            .unwrap()
            .map(|e| e.unwrap().path())
            .filter(|p| p.extension().is_some_and(|e| e == ext))
            .collect();
    paths.sort();
    paths
}
