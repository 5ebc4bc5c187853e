//! Outputs of one command are replaced together: staged files become their destinations
//! only on commit; dropped uncommitted (a later step failed), they leave every existing file
//! as it was and no temporary file behind.

use sci_stdlib::data::Outputs;
use std::path::{Path, PathBuf};

fn scratch(name: &str) -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR"))
        .join("outputs")
        .join(name);
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn names(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    v.sort();
    v
}

#[test]
fn staged_files_replace_their_destinations_only_on_commit() {
    let dir = scratch("commit");
    let (a, b) = (dir.join("a.csv"), dir.join("b.svg"));
    std::fs::write(&a, "old a").unwrap();
    let mut outputs = Outputs::new();
    outputs.stage(&a, b"new a").unwrap();
    outputs.stage(&b, b"new b").unwrap();
    // Staged, not committed: the destinations are untouched.
    assert_eq!(std::fs::read_to_string(&a).unwrap(), "old a");
    assert!(!b.exists());
    outputs.commit().unwrap();
    assert_eq!(std::fs::read_to_string(&a).unwrap(), "new a");
    assert_eq!(std::fs::read_to_string(&b).unwrap(), "new b");
    assert_eq!(names(&dir), ["a.csv", "b.svg"]);
}

#[test]
fn a_failed_stage_leaves_every_file_as_it_was() {
    let dir = scratch("failed");
    let a = dir.join("a.csv");
    std::fs::write(&a, "old a").unwrap();
    let mut outputs = Outputs::new();
    outputs.stage(&a, b"new a").unwrap();
    // The second output's directory does not exist: the command fails here.
    let err = outputs
        .stage(&dir.join("missing").join("b.svg"), b"new b")
        .unwrap_err();
    assert!(err.message.contains("does not exist"), "{}", err.message);
    drop(outputs);
    assert_eq!(std::fs::read_to_string(&a).unwrap(), "old a");
    assert_eq!(names(&dir), ["a.csv"], "no temporary file left");
}
