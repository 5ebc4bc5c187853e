//! Ensembles and sweeps: the Rust API (members against closed forms, threads, shares of
//! ranks gathered) and `sci run --ensemble` (tables, summary, plot, failed members).

use std::path::Path;
use std::process::{Command, Output};

use sci::runtime::ensemble::{Ensemble, Range, Varied};
use sci::stdlib::collective::{Collective, Solo};
use sci::stdlib::ode::SolveOptions;
use sci::stdlib::sample::Sampling;

const DECAY: &str = "model Decay {
    param k = 0.5
    state x = 2.0
    der(x) = -k * x
    output double = 2 * x
    domain time: t in [0, 2]
}";

fn options() -> SolveOptions {
    SolveOptions {
        times: Some(vec![0.0, 0.5, 1.0, 2.0]),
        rtol: 1e-10,
        atol: 1e-12,
        ..SolveOptions::default()
    }
}

#[test]
fn members_vary_parameters_and_initial_states() {
    let c = sci::Compiler::new()
        .compile_source("decay.sci", DECAY)
        .unwrap();
    let model = c.model("Decay").unwrap();
    let ensemble = Ensemble::grid(vec![
        Varied::range("k", 0.1, 0.9, 5, false).unwrap(),
        Varied::values("x", vec![1.0, 3.0]),
    ]);
    assert_eq!(ensemble.len(), 10);
    let run = ensemble
        .solve(&model, &model.params(), &options(), 0)
        .unwrap();
    assert_eq!(run.failures().count(), 0);
    for (m, values) in run.members.iter().zip(&ensemble.members) {
        assert_eq!(&m.values, values);
        let (k, x0) = (values[0], values[1]);
        let s = m.solution().unwrap();
        for (t, y) in s.t.iter().zip(&s.states) {
            let exact = x0 * (-k * t).exp();
            assert!(
                (y[0] - exact).abs() < 1e-8,
                "k {k} x0 {x0} t {t}: {} vs {exact}",
                y[0]
            );
        }
        assert_eq!(s.outputs[3][0], 2.0 * s.states[3][0]);
    }
    // The summary across members: the mean of x(0) over the grid is 2, the median of x(2)
    // lies between the quantiles.
    let summary = run.summary();
    assert_eq!(summary.column("members").unwrap(), vec![10.0; 4]);
    assert_eq!(summary.column("x_mean").unwrap()[0], 2.0);
    let (q05, q50, q95) = (
        summary.column("x_q05").unwrap()[3],
        summary.column("x_q50").unwrap()[3],
        summary.column("x_q95").unwrap()[3],
    );
    assert!(q05 < q50 && q50 < q95);
    assert!(summary.column("double_mean").is_some());
    // One table of every member, a member column first.
    let table = run.table();
    assert_eq!(table.columns[..4], ["member", "k", "x", "t"]);
    assert_eq!(table.rows(), 10 * 4);
}

#[test]
fn threads_and_ranks_give_the_members_of_one_serial_run() {
    let c = sci::Compiler::new()
        .compile_file(Path::new(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/examples/robertson.sci"
        )))
        .unwrap();
    let model = c.model("Robertson").unwrap();
    let ranges = vec![
        Range::new("k1", 0.036, 0.044, false).unwrap(),
        Range::new("k3", 5e3, 2e4, true).unwrap(),
    ];
    let ensemble = Ensemble::sample(ranges, 12, Sampling::LatinHypercube, 1).unwrap();
    let options = SolveOptions {
        times: Some(vec![0.0, 1.0, 40.0, 1e3]),
        ..SolveOptions::default()
    };
    let p = model.params();
    let serial = ensemble.solve(&model, &p, &options, 1).unwrap();
    let threaded = ensemble.solve(&model, &p, &options, 0).unwrap();
    assert_eq!(serial, threaded);
    // Three ranks each solve their share; gathered in rank order they are the serial run.
    struct Rank(usize);
    impl Collective for Rank {
        fn rank(&self) -> usize {
            self.0
        }
        fn size(&self) -> usize {
            3
        }
        fn sum(&self, _: &mut [f64]) {}
        fn gather(&self, bytes: &[u8]) -> Option<Vec<Vec<u8>>> {
            Solo.gather(bytes)
        }
    }
    let mut members = Vec::new();
    for r in 0..3 {
        let part = ensemble
            .solve_over(&model, &p, &options, 1, &Rank(r))
            .unwrap()
            .unwrap();
        assert_eq!(part.members.len(), 4);
        members.extend(part.members);
    }
    assert_eq!(members, serial.members);
}

#[test]
fn bad_ensembles_are_refused() {
    let c = sci::Compiler::new()
        .compile_source("decay.sci", DECAY)
        .unwrap();
    let model = c.model("Decay").unwrap();
    let p = model.params();
    let unknown = Ensemble::grid(vec![Varied::values("q", vec![1.0])]);
    let e = unknown.solve(&model, &p, &options(), 1).unwrap_err();
    assert!(
        e.message.contains("no parameter or state `q`"),
        "{}",
        e.message
    );
    assert!(e.help.unwrap().contains("k"));
    let at_steps = SolveOptions {
        at_steps: true,
        ..SolveOptions::default()
    };
    let grid = Ensemble::grid(vec![Varied::values("k", vec![1.0])]);
    assert!(grid.solve(&model, &p, &at_steps, 1).is_err());
    // Trajectories that could not be kept are refused before any solve.
    let many = Ensemble::grid(vec![Varied::range("k", 0.1, 1.0, 10_000, false).unwrap()]);
    let dense = SolveOptions {
        times: Some((0..200_000).map(|k| k as f64 * 1e-5).collect()),
        ..SolveOptions::default()
    };
    let e = many.solve(&model, &p, &dense, 1).unwrap_err();
    assert!(e.message.contains("would take 48.0 GB"), "{}", e.message);
}

fn sci(dir: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_sci"))
        .args(args)
        .current_dir(dir)
        .env_remove("PMI_SIZE")
        .env_remove("OMPI_COMM_WORLD_SIZE")
        .env_remove("PMIX_RANK")
        .env_remove("PMIX_SIZE")
        .output()
        .unwrap()
}

fn robertson() -> String {
    concat!(env!("CARGO_MANIFEST_DIR"), "/examples/robertson.sci").to_string()
}

#[test]
fn the_command_line_writes_members_a_summary_and_a_plot() {
    let dir = tempfile::tempdir().unwrap();
    let spec = "lhs 16 seed 2: k1 = 0.036..0.044; k2 = 2.7e7..3.3e7; k3 = 9e3..1.1e4";
    let out = sci(
        dir.path(),
        &[
            "run",
            &robertson(),
            "--ensemble",
            spec,
            "--points",
            "20",
            "--log-t",
            "--out",
            "members.csv",
            "--summary",
            "summary.csv",
            "--plot",
            "bands.svg",
        ],
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        stdout.contains("ensemble of 16 members over 1 rank"),
        "{stdout}"
    );
    assert!(stdout.contains("16 solved, 0 failed"), "{stdout}");
    let members = sci::stdlib::data::read_table(&dir.path().join("members.csv")).unwrap();
    assert_eq!(members.rows(), 16 * 20);
    assert_eq!(members.columns[..5], ["member", "k1", "k2", "k3", "t"]);
    let summary = sci::stdlib::data::read_table(&dir.path().join("summary.csv")).unwrap();
    assert_eq!(summary.rows(), 20);
    // Mass is conserved in every member, so in every statistic.
    for name in ["mass_mean", "mass_q05", "mass_q95"] {
        for m in summary.column(name).unwrap() {
            assert!((m - 1.0).abs() < 1e-5, "{name} {m}");
        }
    }
    let svg = std::fs::read_to_string(dir.path().join("bands.svg")).unwrap();
    assert_eq!(svg.matches("class=\"band\"").count(), 3);

    // The same run from a CSV of the members' values.
    let table = sci::stdlib::data::Table::new(
        vec!["k1".into(), "y1".into()],
        vec![0.04, 1.0, 0.04, 0.5, 0.05, -1e300],
    );
    sci::stdlib::data::write_table(&dir.path().join("sets.csv"), &table).unwrap();
    let out = sci(
        dir.path(),
        &[
            "run",
            &robertson(),
            "--ensemble",
            "sets.csv",
            "--out",
            "sets_out.npy",
        ],
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    // A member that fails is reported with its values; the others are written.
    assert!(out.status.success(), "{stderr}");
    assert!(
        stderr.contains("member 2 (k1 = 0.05, y1 = -1e300) failed"),
        "{stderr}"
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("2 solved, 1 failed"));
    assert!(dir.path().join("sets_out.npy").exists());
}

#[test]
fn command_line_mistakes_write_nothing() {
    let dir = tempfile::tempdir().unwrap();
    for (spec, says) in [
        ("grid: kk = 1, 2", "no parameter or state `kk`"),
        ("grid: k1 = 0..1", "number of values"),
        ("normal 4: k1 = 0..1", "no kind of ensemble"),
    ] {
        let out = sci(
            dir.path(),
            &["run", &robertson(), "--ensemble", spec, "--out", "x.csv"],
        );
        assert_eq!(out.status.code(), Some(2), "{spec}");
        assert!(
            String::from_utf8_lossy(&out.stderr).contains(says),
            "{spec}"
        );
        assert!(!dir.path().join("x.csv").exists());
    }
    // Every member failing is a failed computation.
    let out = sci(
        dir.path(),
        &[
            "run",
            &robertson(),
            "--ensemble",
            "grid: y1 = -1e300",
            "--out",
            "x.csv",
        ],
    );
    assert_eq!(out.status.code(), Some(3));
    assert!(!dir.path().join("x.csv").exists());
    // A build without MPI started as one of several ranks refuses rather than run the job
    // on every rank.
    let out = Command::new(env!("CARGO_BIN_EXE_sci"))
        .args(["run", &robertson()])
        .env("PMI_SIZE", "2")
        .output()
        .unwrap();
    if cfg!(feature = "mpi") {
        return;
    }
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("built without MPI"));
}
