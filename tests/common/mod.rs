//! What the root crate's test files share.

#![allow(dead_code)] // each test binary uses its own part

use std::path::PathBuf;

/// Every example model (`examples/*.sci`), in name order.
pub fn example_paths() -> Vec<PathBuf> {
    let mut paths: Vec<_> = std::fs::read_dir(concat!(env!("CARGO_MANIFEST_DIR"), "/examples"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "sci"))
        .collect();
    paths.sort();
    paths
}
