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

/// splitmix64: a tiny deterministic generator, enough to pick mutations and flags.
pub struct Rng(pub u64);

impl Rng {
    pub fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// A number in `0..n` (0 when `n` is 0).
    pub fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
}
