//! `mpirun -n 2` against one process (feature `mpi`; `scripts/test.sh` installs MPICH):
//! data-parallel training follows the one-process run to round-off, an ensemble over two
//! ranks writes the serial run's members, and a failure ends every rank with its status.

#![cfg(feature = "mpi")]

use std::path::Path;
use std::process::{Command, Output};

fn sci(dir: &Path, ranks: Option<usize>, args: &[&str]) -> Output {
    let sci = env!("CARGO_BIN_EXE_sci");
    let mut command = match ranks {
        Some(n) => {
            let mut c = Command::new("mpirun");
            c.args(["-n", &n.to_string(), sci]);
            c
        }
        None => Command::new(sci),
    };
    let out = command.args(args).current_dir(dir).output().unwrap();
    assert!(
        out.status.code().is_some(),
        "killed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

/// The standard output of `sci args` on `ranks`, which must succeed.
fn stdout_of(dir: &Path, ranks: Option<usize>, args: &[&str]) -> String {
    let out = sci(dir, ranks, args);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn example(name: &str) -> String {
    format!("{}/examples/{name}", env!("CARGO_MANIFEST_DIR"))
}

fn params(path: &Path) -> Vec<f64> {
    let c = sci::stdlib::checkpoint::load(path).unwrap();
    c.params.into_iter().flat_map(|b| b.values).collect()
}

#[test]
fn two_ranks_train_to_the_one_process_parameters() {
    let dir = tempfile::tempdir().unwrap();
    let train = |ranks, out: &str, losses: &str| {
        let args = [
            "train",
            &example("burgers_pinn.sci"),
            "--optimizer",
            "adam",
            "--steps",
            "40",
            "--threads",
            "1",
            "--resample-every",
            "20",
            "--out",
            out,
            "--losses",
            losses,
        ];
        stdout_of(dir.path(), ranks, &args)
    };
    let one = train(None, "one.json", "one.csv");
    let two = train(Some(2), "two.json", "two.csv");
    assert!(two.contains("data-parallel over 2 ranks"), "{two}");
    // Rank 0 alone prints the summary.
    assert_eq!(two.matches("BurgersPINN: loss").count(), 1, "{two}");
    assert!(!one.contains("data-parallel"));
    let (p1, p2) = (
        params(&dir.path().join("one.json")),
        params(&dir.path().join("two.json")),
    );
    let scale = p1.iter().fold(0.0f64, |m, x| m.max(x.abs()));
    let worst = p1
        .iter()
        .zip(&p2)
        .fold(0.0f64, |m, (a, b)| m.max((a - b).abs()));
    assert!(worst <= 1e-10 * scale, "parameters differ by {worst:e}");
    let l1 = sci::stdlib::data::read_table(&dir.path().join("one.csv")).unwrap();
    let l2 = sci::stdlib::data::read_table(&dir.path().join("two.csv")).unwrap();
    for (a, b) in l1
        .column("loss")
        .unwrap()
        .iter()
        .zip(l2.column("loss").unwrap())
    {
        assert!((a - b).abs() <= 1e-12 * a.abs(), "losses {a} vs {b}");
    }
}

#[test]
fn an_ensemble_over_two_ranks_writes_the_serial_members() {
    let dir = tempfile::tempdir().unwrap();
    let spec = "lhs 16 seed 4: k1 = 0.036..0.044; k3 = 9e3..1.1e4";
    let run = |ranks, out: &str| {
        let args = [
            "run",
            &example("robertson.sci"),
            "--ensemble",
            spec,
            "--points",
            "30",
            "--threads",
            "1",
            "--out",
            out,
            "--summary",
            &format!("summary_{out}"),
        ];
        stdout_of(dir.path(), ranks, &args)
    };
    run(None, "one.csv");
    let two = run(Some(2), "two.csv");
    assert!(two.contains("ensemble of 16 members over 2 ranks"), "{two}");
    let read = |name: &str| std::fs::read(dir.path().join(name)).unwrap();
    assert_eq!(read("one.csv"), read("two.csv"));
    assert_eq!(read("summary_one.csv"), read("summary_two.csv"));
}

#[test]
fn an_error_ends_every_rank_with_its_status() {
    let dir = tempfile::tempdir().unwrap();
    // 255 points do not split over 2 ranks.
    let text = std::fs::read_to_string(example("burgers_pinn.sci")).unwrap();
    let text = text.replace("points 256: u + sin", "points 255: u + sin");
    std::fs::write(dir.path().join("odd.sci"), text).unwrap();
    let out = sci(
        dir.path(),
        Some(2),
        &["train", "odd.sci", "--steps", "5", "--out", "p.json"],
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains(
            ": error: The points and rows of the loss cannot be split evenly over 2 ranks"
        ),
        "{stderr}"
    );
    assert!(stderr.contains("rank "), "{stderr}");
    assert!(!dir.path().join("p.json").exists());
    // One solve is rank 0's: it alone writes.
    let out = sci(
        dir.path(),
        Some(2),
        &["run", &example("robertson.sci"), "--out", "r.csv"],
    );
    assert!(out.status.success());
    assert_eq!(
        String::from_utf8_lossy(&out.stdout)
            .matches("wrote r.csv")
            .count(),
        1
    );
}

/// The processes whose command line mentions `needle` (the ranks of one run).
fn processes_with(needle: &str) -> Vec<u32> {
    let mut pids = Vec::new();
    for entry in std::fs::read_dir("/proc").unwrap().flatten() {
        let Some(pid) = entry
            .file_name()
            .to_str()
            .and_then(|n| n.parse::<u32>().ok())
        else {
            continue;
        };
        let cmdline = std::fs::read(entry.path().join("cmdline")).unwrap_or_default();
        let cmdline = String::from_utf8_lossy(&cmdline).replace('\0', " ");
        if cmdline.contains(needle) && cmdline.contains(" train ") && !cmdline.contains("mpirun") {
            pids.push(pid);
        }
    }
    pids
}

#[test]
fn a_signal_to_the_ranks_stops_them_after_the_same_step_and_rank_0_saves() {
    use std::io::{BufRead, BufReader};
    let dir = tempfile::tempdir().unwrap();
    let model = dir.path().join("signalled.sci");
    std::fs::copy(example("burgers_pinn.sci"), &model).unwrap();
    let mut child = Command::new("mpirun")
        .args(["-n", "2", env!("CARGO_BIN_EXE_sci"), "train"])
        .arg(&model)
        .args([
            "--optimizer",
            "adam",
            "--steps",
            "1000000",
            "--threads",
            "1",
        ])
        .args(["--log-every", "1", "--out", "p.json", "--losses", "l.csv"])
        .current_dir(dir.path())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    // Training has started when rank 0 reports its first steps.
    let mut stderr = BufReader::new(child.stderr.take().unwrap());
    let mut line = String::new();
    while !line.contains("step") {
        line.clear();
        assert!(stderr.read_line(&mut line).unwrap() > 0, "no progress line");
    }
    let needle = model.to_str().unwrap();
    let pids = processes_with(needle);
    assert_eq!(pids.len(), 2, "the ranks: {pids:?}");
    // As a scheduler's time limit does: a SIGTERM to every rank, at slightly different times.
    for pid in pids {
        let status = Command::new("sh")
            .args(["-c", &format!("kill -TERM {pid}")])
            .status()
            .unwrap();
        assert!(status.success());
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    let mut rest = String::new();
    std::io::Read::read_to_string(&mut stderr, &mut rest).unwrap();
    let out = child.wait_with_output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(130), "{stdout}\n{rest}");
    assert!(stdout.contains("stopped: interrupted"), "{stdout}");
    assert!(dir.path().join("p.json").exists());
    let losses = sci::stdlib::data::read_table(&dir.path().join("l.csv")).unwrap();
    assert!(losses.rows() > 1);
}
