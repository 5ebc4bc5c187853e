//! `sci dataset` as a user runs it: the files it writes (read back with sci's own NPY
//! reader), the same functions at two resolutions from one seed, and bad options refused
//! with exit code 2 and nothing written.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use sci::stdlib::data::{Table, read_table};

fn sci(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_sci"))
        .args(args)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .expect("the sci binary runs")
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// A fresh scratch directory per test.
fn scratch(test: &str) -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR"))
        .join("dataset")
        .join(test);
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn files_in(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

/// Runs `sci dataset burgers` with `--out DIR/NAME` and reads the two arrays back.
fn burgers(dir: &Path, name: &str, extra: &[&str]) -> (Table, Table) {
    let prefix = dir.join(name);
    let prefix = prefix.to_str().unwrap();
    let mut args = vec!["dataset", "burgers", "--out", prefix];
    args.extend_from_slice(extra);
    let out = sci(&args);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(stdout(&out).contains("wrote"), "{}", stdout(&out));
    let a = read_table(&dir.join(format!("{name}_a.npy"))).unwrap();
    let u = read_table(&dir.join(format!("{name}_u.npy"))).unwrap();
    (a, u)
}

#[test]
fn burgers_writes_samples_by_grid_and_the_same_functions_at_two_resolutions() {
    let dir = scratch("burgers");
    let common = ["--samples", "3", "--solve-grid", "64", "--seed", "4"];
    let (a32, u32) = burgers(&dir, "fine", &[&common[..], &["--grid", "32"]].concat());
    for table in [&a32, &u32] {
        assert_eq!((table.rows(), table.columns.len()), (3, 32));
        assert!(table.values.iter().all(|v| v.is_finite()));
    }
    // Different samples, and solutions smaller than their initial conditions (viscosity).
    assert_ne!(a32.values[..32], a32.values[32..64]);
    let norm = |v: &[f64]| v.iter().map(|x| x * x).sum::<f64>();
    for k in 0..3 {
        let row = k * 32..(k + 1) * 32;
        assert!(norm(&u32.values[row.clone()]) < norm(&a32.values[row]));
    }
    // The same seed at --grid 16: every other point of --grid 32, bit for bit (one solve
    // grid, subsampled), on another thread count.
    let (a16, u16) = burgers(
        &dir,
        "coarse",
        &[&common[..], &["--grid", "16", "--threads", "1"]].concat(),
    );
    assert_eq!((a16.rows(), a16.columns.len()), (3, 16));
    for (coarse, fine) in [(&a16, &a32), (&u16, &u32)] {
        for k in 0..3 {
            for j in 0..16 {
                assert_eq!(coarse.values[k * 16 + j], fine.values[k * 32 + 2 * j]);
            }
        }
    }
    // Another seed, other functions.
    let (other, _) = burgers(
        &dir,
        "other",
        &["--samples", "1", "--grid", "32", "--solve-grid", "64"],
    );
    assert_ne!(other.values[..], a32.values[..32]);
}

/// The shape in an NPY header (sci's table reader takes 1-D and 2-D arrays only) and the
/// float64 data after it.
fn npy(path: &Path) -> (Vec<usize>, Vec<f64>) {
    let bytes = std::fs::read(path).unwrap();
    assert!(bytes.starts_with(b"\x93NUMPY\x01\x00"));
    let header_len = u16::from_le_bytes([bytes[8], bytes[9]]) as usize;
    let header = std::str::from_utf8(&bytes[10..10 + header_len]).unwrap();
    assert!(header.contains("'descr': '<f8'"), "{header}");
    assert!(header.contains("'fortran_order': False"), "{header}");
    let inside = &header[header.find("'shape': (").unwrap() + 10..];
    let shape = inside[..inside.find(')').unwrap()]
        .split(',')
        .filter(|d| !d.trim().is_empty())
        .map(|d| d.trim().parse().unwrap())
        .collect();
    let data = bytes[10 + header_len..]
        .chunks_exact(8)
        .map(|b| f64::from_le_bytes(b.try_into().unwrap()))
        .collect();
    (shape, data)
}

#[test]
fn darcy_writes_coefficients_and_solutions_on_the_square() {
    let dir = scratch("darcy");
    let prefix = dir.join("darcy");
    let run = |grid: &str, name: &str| {
        let prefix = dir.join(name);
        let out = sci(&[
            "dataset",
            "darcy",
            "--samples",
            "2",
            "--grid",
            grid,
            "--solve-grid",
            "17",
            "--out",
            prefix.to_str().unwrap(),
        ]);
        assert!(out.status.success(), "{}", stderr(&out));
    };
    run("9", "darcy");
    let (shape, a) = npy(&dir.join("darcy_a.npy"));
    assert_eq!(shape, [2, 9, 9]);
    let (shape, u) = npy(&prefix.with_file_name("darcy_u.npy"));
    assert_eq!(shape, [2, 9, 9]);
    assert!(a.iter().all(|&v| v == 3.0 || v == 12.0));
    assert!(a.contains(&3.0) && a.contains(&12.0));
    for k in 0..2 {
        let field = &u[k * 81..(k + 1) * 81];
        for t in 0..9 {
            for boundary in [t, 72 + t, 9 * t, 9 * t + 8] {
                assert_eq!(field[boundary], 0.0);
            }
        }
        // Positive inside, below the solution for a ≡ 3 (about 0.0737 / 3 at the centre).
        assert!(
            field[40] > 0.0 && field[40] < 0.0737 / 3.0 + 1e-3,
            "{}",
            field[40]
        );
    }
    // Every other node of the 9 × 9 grid is the 5 × 5 grid.
    run("5", "coarse");
    let (shape, coarse) = npy(&dir.join("coarse_u.npy"));
    assert_eq!(shape, [2, 5, 5]);
    for k in 0..2 {
        for i in 0..5 {
            for j in 0..5 {
                assert_eq!(coarse[k * 25 + i * 5 + j], u[k * 81 + 2 * i * 9 + 2 * j]);
            }
        }
    }
}

#[test]
fn bad_options_are_refused_with_exit_code_2_and_nothing_written() {
    let dir = scratch("refused");
    let prefix = dir.join("d");
    let prefix = prefix.to_str().unwrap();
    let missing = dir.join("no/such/dir/d");
    let cases: Vec<(Vec<&str>, &str)> = vec![
        (
            vec!["burgers", "--samples", "0", "--out", prefix],
            "--samples 0",
        ),
        (
            vec![
                "burgers",
                "--samples",
                "2",
                "--grid",
                "30",
                "--solve-grid",
                "64",
                "--out",
                prefix,
            ],
            "not a multiple",
        ),
        (
            vec!["burgers", "--samples", "2", "--grid", "2", "--out", prefix],
            "too coarse",
        ),
        (
            vec![
                "burgers",
                "--samples",
                "2",
                "--grid",
                "16",
                "--solve-grid",
                "32",
                "--viscosity",
                "0",
                "--out",
                prefix,
            ],
            "--viscosity",
        ),
        (
            vec![
                "burgers",
                "--samples",
                "2",
                "--out",
                missing.to_str().unwrap(),
            ],
            "does not exist",
        ),
        (
            vec![
                "darcy",
                "--samples",
                "2",
                "--grid",
                "10",
                "--solve-grid",
                "17",
                "--out",
                prefix,
            ],
            "multiple of (grid − 1)",
        ),
        (
            vec!["darcy", "--samples", "0", "--out", prefix],
            "--samples 0",
        ),
    ];
    for (args, expected) in cases {
        let mut all = vec!["dataset"];
        all.extend(args);
        let out = sci(&all);
        assert_eq!(out.status.code(), Some(2), "{all:?}: {}", stderr(&out));
        assert!(stderr(&out).contains(expected), "{all:?}: {}", stderr(&out));
        assert!(stderr(&out).contains("help:") || expected != "does not exist");
    }
    assert!(files_in(&dir).is_empty(), "{:?}", files_in(&dir));
}
