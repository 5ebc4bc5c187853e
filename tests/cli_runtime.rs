//! `sci run` and `sci train` as a user runs them: answers on the examples, files written,
//! and wrong inputs rejected with exit code 2 and no file left behind.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

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
        .join("cli_runtime")
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

/// Runs `sci args` and checks the bad-input contract: exit code 2, `message` in the error,
/// and no file left in `dir`.
fn assert_rejected(args: &[&str], message: &str, dir: &Path) {
    let out = sci(args);
    assert_eq!(out.status.code(), Some(2), "{args:?}: {}", stderr(&out));
    assert!(
        stderr(&out).contains(message),
        "{args:?}: expected `{message}` in:\n{}",
        stderr(&out)
    );
    assert!(
        files_in(dir).is_empty(),
        "{args:?} left {:?}",
        files_in(dir)
    );
}

/// `--param` sets constants too (compiled in): the pendulum under the Moon's gravity
/// swings slower, and the value reaches everything computed from `g`; a constant that sizes
/// a state is refused with the state it sizes, as is a constant given too many values.
#[test]
fn run_overrides_constants_that_fix_no_shape() {
    let dir = scratch("const_override");
    let (earth, moon) = (dir.join("earth.csv"), dir.join("moon.csv"));
    for (out, extra) in [(&earth, None), (&moon, Some("g=1.62"))] {
        let mut args = vec![
            "run",
            "examples/pendulum.sci",
            "--out",
            out.to_str().unwrap(),
        ];
        if let Some(item) = extra {
            args.extend(["--param", item]);
        }
        let o = sci(&args);
        assert!(o.status.success(), "{}", stderr(&o));
    }
    let (header, earth) = read_csv(&earth);
    let (_, moon) = read_csv(&moon);
    // theta'' = -(g/L) sin(theta) - c theta': at the first output step the acceleration
    // from rest scales with g.
    let theta = header.iter().position(|h| h.starts_with("theta")).unwrap();
    let drop = |rows: &[Vec<f64>]| rows[0][theta] - rows[1][theta];
    let ratio = drop(&moon) / drop(&earth);
    assert!((ratio - 1.62 / 9.81).abs() < 1e-3, "ratio {ratio}");
    let scratch_dir = scratch("const_override_refused");
    let out = scratch_dir.join("h.csv");
    let out = out.to_str().unwrap();
    assert_rejected(
        &[
            "run",
            "examples/heat1d.sci",
            "--param",
            "n=10",
            "--out",
            out,
        ],
        "it sizes the state `u` of `Heat1D` (200 → 10 elements)",
        &scratch_dir,
    );
    assert_rejected(
        &[
            "run",
            "examples/pendulum.sci",
            "--param",
            "g=1,2",
            "--out",
            out,
        ],
        "Constant `g` has 1 value, but 2 were given",
        &scratch_dir,
    );
}

/// Parses a CSV written by `sci run` into its header and rows.
fn read_csv(path: &Path) -> (Vec<String>, Vec<Vec<f64>>) {
    let text = std::fs::read_to_string(path).unwrap();
    let mut lines = text.lines();
    let header = lines
        .next()
        .unwrap()
        .split(',')
        .map(str::to_string)
        .collect();
    let rows = lines
        .map(|l| l.split(',').map(|v| v.parse().unwrap()).collect())
        .collect();
    (header, rows)
}

#[test]
fn run_solves_every_ode_example_and_writes_csv_and_svg() {
    let dir = scratch("every_example");
    for name in [
        "lotka_volterra",
        "robertson",
        "van_der_pol",
        "pendulum",
        "heat1d",
        "brusselator",
        "brusselator2d",
    ] {
        let csv = dir.join(format!("{name}.csv"));
        let svg = dir.join(format!("{name}.svg"));
        let out = sci(&[
            "run",
            &format!("examples/{name}.sci"),
            "--out",
            csv.to_str().unwrap(),
            "--plot",
            svg.to_str().unwrap(),
        ]);
        assert!(out.status.success(), "{name}: {}", stderr(&out));
        assert!(stdout(&out).contains("solved"), "{name}: {}", stdout(&out));
        let (header, rows) = read_csv(&csv);
        assert_eq!(header[0], "t");
        assert_eq!(rows.len(), 201, "{name}");
        assert!(rows.iter().flatten().all(|v| v.is_finite()), "{name}");
        let svg = std::fs::read_to_string(&svg).unwrap();
        assert!(
            svg.starts_with("<svg") && svg.contains("<polyline"),
            "{name}"
        );
    }
}

/// Robertson at t = 40 from the command line: the published value of y1 to 1e-6.
#[test]
fn run_robertson_reaches_the_reference_value() {
    let dir = scratch("robertson");
    let csv = dir.join("r.csv");
    let out = sci(&[
        "run",
        "examples/robertson.sci",
        "--solver",
        "bdf",
        "--rtol",
        "1e-10",
        "--atol",
        "1e-14",
        "--times",
        "40,100000",
        "--out",
        csv.to_str().unwrap(),
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    let (header, rows) = read_csv(&csv);
    assert_eq!(header, ["t", "y1", "y2", "y3", "mass"]);
    assert!((rows[0][1] - 0.7158270687193974).abs() < 1e-6 * 0.716);
}

/// A stiff model the examples do not contain (the HIRES problem of Schäfer, 8 species),
/// solved to the reference values of the IVP test set at t = 321.8122 (relative 1e-4).
#[test]
fn run_solves_an_unseen_stiff_model_to_its_reference_values() {
    let dir = scratch("hires");
    let model = dir.join("hires.sci");
    std::fs::write(
        &model,
        "model Hires {
    domain time: t in [0, 321.8122]
    state y1 = 1.0
    state y2 = 0.0
    state y3 = 0.0
    state y4 = 0.0
    state y5 = 0.0
    state y6 = 0.0
    state y7 = 0.0
    state y8 = 0.0057
    der(y1) = -1.71 * y1 + 0.43 * y2 + 8.32 * y3 + 0.0007
    der(y2) = 1.71 * y1 - 8.75 * y2
    der(y3) = -10.03 * y3 + 0.43 * y4 + 0.035 * y5
    der(y4) = 8.32 * y2 + 1.71 * y3 - 1.12 * y4
    der(y5) = -1.745 * y5 + 0.43 * y6 + 0.43 * y7
    der(y6) = -280.0 * y6 * y8 + 0.69 * y4 + 1.71 * y5 - 0.43 * y6 + 0.69 * y7
    der(y7) = 280.0 * y6 * y8 - 1.81 * y7
    der(y8) = -280.0 * y6 * y8 + 1.81 * y7
}
",
    )
    .unwrap();
    let csv = dir.join("hires.csv");
    let out = sci(&[
        "run",
        model.to_str().unwrap(),
        "--rtol",
        "1e-10",
        "--atol",
        "1e-12",
        "--times",
        "321.8122",
        "--out",
        csv.to_str().unwrap(),
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    let (_, rows) = read_csv(&csv);
    let reference = [
        0.7371312573325668e-3,
        0.1442485726316185e-3,
        0.5888729740967575e-4,
        0.1175651343283149e-2,
        0.2386356198831331e-2,
        0.6238968252742796e-2,
        0.2849998395185769e-2,
        0.2850001604814231e-2,
    ];
    for (i, want) in reference.iter().enumerate() {
        let got = rows[0][i + 1];
        assert!(
            (got - want).abs() < 1e-4 * want.abs(),
            "y{}: {got} vs {want}",
            i + 1
        );
    }
}

#[test]
fn run_rejects_bad_options_with_exit_code_2_and_writes_nothing() {
    let dir = scratch("bad_run");
    let csv = dir.join("out.csv");
    let csv = csv.to_str().unwrap();
    let cases: &[(&[&str], &str)] = &[
        (&["--rtol", "-1e-6"], "relative tolerance"),
        (&["--atol", "0"], "absolute tolerance"),
        (&["--solver", "rk99"], "no ODE solver called `rk99`"),
        (&["--t-end", "-5"], "end time"),
        (&["--jacobian", "banded"], "no Jacobian kind"),
        (&["--param", "alpha=x"], "not a list of numbers"),
        (&["--param", "zeta=1"], "no parameter or constant `zeta`"),
        (&["--times", "3,1"], "sorted"),
    ];
    for (extra, message) in cases {
        let mut args = vec!["run", "examples/lotka_volterra.sci", "--out", csv];
        args.extend_from_slice(extra);
        assert_rejected(&args, message, &dir);
    }
    // An output in a directory that does not exist, and an unknown extension.
    let out = sci(&[
        "run",
        "examples/lotka_volterra.sci",
        "--out",
        "/nonexistent/dir/x.csv",
    ]);
    assert_eq!(out.status.code(), Some(2));
    let out = sci(&[
        "run",
        "examples/lotka_volterra.sci",
        "--out",
        csv.replace(".csv", ".xlsx").as_str(),
    ]);
    assert_eq!(out.status.code(), Some(2));
    assert!(files_in(&dir).is_empty());
    // A model without a time span needs --t-end.
    let model = dir.join("nospan.sci");
    std::fs::write(
        &model,
        "model Decay {\n    state x = 1.0\n    der(x) = -x\n}\n",
    )
    .unwrap();
    let out = sci(&["run", model.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("--t-end"), "{}", stderr(&out));
    let out = sci(&[
        "run",
        model.to_str().unwrap(),
        "--t-end",
        "1",
        "--times",
        "1",
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(stdout(&out).contains("x = 3.678794"), "{}", stdout(&out));
}

const LV_FIT: &str = "model LVFit {
    param alpha = 1.35
    param beta = 0.9
    param gamma = 2.7
    param delta = 1.1
    state prey = 10.0
    state pred = 5.0
    der(prey) = alpha * prey - beta * prey * pred
    der(pred) = delta * prey * pred - gamma * pred
    data obs(t, prey, pred) = csv(\"obs.csv\")
    loss = mean((prey(obs.t) - obs.prey)^2 + (pred(obs.t) - obs.pred)^2)
}
";

/// Observations of Lotka–Volterra at θ = (1.5, 1, 3, 1), from `sci run` itself.
fn write_observations(dir: &Path) {
    let csv = dir.join("obs.csv");
    let out = sci(&[
        "run",
        "examples/lotka_volterra.sci",
        "--rtol",
        "1e-10",
        "--atol",
        "1e-12",
        "--times",
        "0,0.5,1,1.5,2,2.5,3,3.5,4,4.5,5,5.5,6",
        "--out",
        csv.to_str().unwrap(),
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
}

#[test]
fn train_recovers_ode_parameters_and_writes_its_outputs() {
    let dir = scratch("train_lv");
    write_observations(&dir);
    let model = dir.join("fit.sci");
    std::fs::write(&model, LV_FIT).unwrap();
    let params = dir.join("params.json");
    let losses = dir.join("losses.csv");
    let plot = dir.join("loss.svg");
    let out = sci(&[
        "train",
        model.to_str().unwrap(),
        "--optimizer",
        "lbfgs",
        "--steps",
        "200",
        "--out",
        params.to_str().unwrap(),
        "--losses",
        losses.to_str().unwrap(),
        "--plot",
        plot.to_str().unwrap(),
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    let json: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&params).unwrap()).unwrap();
    let value = |name: &str| {
        json["params"]
            .as_array()
            .unwrap()
            .iter()
            .find(|p| p["name"] == name)
            .unwrap()["values"][0]
            .as_f64()
            .unwrap()
    };
    // Noise-free data: the fit recovers θ to 1e-4.
    for (name, want) in [
        ("alpha", 1.5),
        ("beta", 1.0),
        ("gamma", 3.0),
        ("delta", 1.0),
    ] {
        assert!(
            (value(name) - want).abs() < 1e-4,
            "{name} = {}",
            value(name)
        );
    }
    let (header, rows) = read_csv(&losses);
    assert_eq!(header, ["step", "loss"]);
    assert!(rows.last().unwrap()[1] < 1e-8 * rows[0][1]);
    assert!(std::fs::read_to_string(&plot).unwrap().starts_with("<svg"));
    // The checkpoint feeds `sci run`.
    let out = sci(&[
        "run",
        model.to_str().unwrap(),
        "--t-end",
        "6",
        "--params-file",
        params.to_str().unwrap(),
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
}

#[test]
fn train_runs_the_pinn_and_ude_examples() {
    let dir = scratch("train_examples");
    for (name, steps) in [("burgers_pinn", "3"), ("lv_ude", "2")] {
        let params = dir.join(format!("{name}.json"));
        let out = sci(&[
            "train",
            &format!("examples/{name}.sci"),
            "--steps",
            steps,
            "--out",
            params.to_str().unwrap(),
        ]);
        assert!(out.status.success(), "{name}: {}", stderr(&out));
        assert!(stdout(&out).contains("loss"), "{name}: {}", stdout(&out));
        let json: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(&params).unwrap()).unwrap();
        assert!(json["params"].as_array().is_some_and(|p| !p.is_empty()));
    }
}

#[test]
fn train_rejects_bad_inputs_with_exit_code_2_and_writes_nothing() {
    let dir = scratch("bad_train");
    write_observations(&dir);
    std::fs::write(
        dir.join("wrong_columns.csv"),
        "time,rabbits,foxes\n0,10,5\n1,2,3\n",
    )
    .unwrap();
    let good = dir.join("fit.sci");
    std::fs::write(&good, LV_FIT).unwrap();
    let missing = dir.join("missing.sci");
    std::fs::write(&missing, LV_FIT.replace("obs.csv", "nowhere.csv")).unwrap();
    let columns = dir.join("columns.sci");
    std::fs::write(&columns, LV_FIT.replace("obs.csv", "wrong_columns.csv")).unwrap();
    let out_dir = dir.join("out");
    std::fs::create_dir_all(&out_dir).unwrap();
    let params = out_dir.join("p.json");
    let params = params.to_str().unwrap();
    let cases: &[(&Path, &[&str], &str)] = &[
        (&missing, &[], "nowhere.csv"),
        (&columns, &[], "no column `t`"),
        (&good, &["--optimizer", "sgd"], "no optimiser called `sgd`"),
        (&good, &["--lr", "-0.1"], "learning rate"),
        (&good, &["--steps", "0"], "step"),
        (&good, &["--solver", "euler"], "no ODE solver"),
        (&good, &["--rtol", "-1"], "relative tolerance"),
        (&good, &["--init", "/nonexistent/p.json"], "p.json"),
    ];
    for (model, extra, message) in cases {
        let mut args = vec![
            "train",
            model.to_str().unwrap(),
            "--steps",
            "2",
            "--out",
            params,
        ];
        args.extend_from_slice(extra);
        assert_rejected(&args, message, &out_dir);
    }
}

/// Without the `llvm` feature, asking for LLVM is a clear error, not a crash.
#[cfg(not(feature = "llvm"))]
#[test]
fn llvm_backend_without_the_feature_is_a_clear_error() {
    let out = sci(&["run", "examples/lotka_volterra.sci", "--backend", "llvm"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("--features llvm"), "{}", stderr(&out));
    let out = sci(&["run", "examples/lotka_volterra.sci", "--backend", "gpu"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains("no back end called `gpu`"),
        "{}",
        stderr(&out)
    );
}

/// `sci run … | head`: a reader that closes the pipe early neither crashes sci (Rust's
/// `println!` panics on EPIPE) nor stops it writing its output file.
#[test]
fn a_closed_stdout_is_not_a_crash() {
    let dir = scratch("closed_stdout");
    let csv = dir.join("lv.csv");
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_sci"))
        .args(["run", "examples/lotka_volterra.sci", "--out"])
        .arg(&csv)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    // Close the read end before sci prints anything.
    drop(child.stdout.take());
    let out = child.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(!stderr(&out).contains("panicked"), "{}", stderr(&out));
    assert!(csv.exists(), "the trajectory was not written");
}

/// No command destroys a file it reads or writes twice: an output equal to an input, two
/// outputs on one path, or an output that is a directory is refused with exit code 2
/// before any work, and every file is as it was (`sci fmt` and `-o` write atomically).
#[test]
fn outputs_never_replace_inputs_or_each_other() {
    let dir = scratch("outputs_never_replace");
    let model = dir.join("m.sci");
    std::fs::copy(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/lotka_volterra.sci"),
        &model,
    )
    .unwrap();
    let source = std::fs::read_to_string(&model).unwrap();
    let keep = dir.join("keep.csv");
    std::fs::write(&keep, "keep\n").unwrap();
    let sub = dir.join("a_directory");
    std::fs::create_dir_all(&sub).unwrap();
    let (m, k, s) = (
        model.to_str().unwrap(),
        keep.to_str().unwrap(),
        sub.to_str().unwrap(),
    );
    let same = dir.join("same.json");
    let same = same.to_str().unwrap();
    let cases: Vec<(Vec<&str>, &str)> = vec![
        (vec!["compile", m, "-o", m], "would overwrite the input"),
        (vec!["run", m, "--out", m], "would overwrite the input"),
        (vec!["run", m, "--out", k, "--plot", s], "is a directory"),
        (
            vec!["run", m, "--out", k, "--plot", k],
            "each output needs its own file",
        ),
        (
            vec!["train", m, "--steps", "1", "--out", same, "--losses", same],
            "each output needs its own file",
        ),
    ];
    for (args, message) in cases {
        let o = sci(&args);
        assert_eq!(o.status.code(), Some(2), "{args:?}: {}", stderr(&o));
        assert!(stderr(&o).contains(message), "{args:?}: {}", stderr(&o));
        assert_eq!(std::fs::read_to_string(&model).unwrap(), source, "{args:?}");
        assert_eq!(
            std::fs::read_to_string(&keep).unwrap(),
            "keep\n",
            "{args:?}"
        );
    }
    assert_eq!(files_in(&dir), ["a_directory", "keep.csv", "m.sci"]);
}

/// A model written as IR (`sci compile --emit ir`) runs and trains from the `.sir` file
/// alone, with the same answers as its source: the manifest carries the time span and
/// the point sets.
#[test]
fn run_and_train_take_a_model_written_as_ir() {
    let dir = scratch("ir_module");
    let sir = dir.join("vdp.sir");
    let o = sci(&[
        "compile",
        "examples/van_der_pol.sci",
        "--emit",
        "ir",
        "-o",
        sir.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let (from_ir, from_source) = (dir.join("ir.csv"), dir.join("source.csv"));
    for (model, out) in [
        (sir.to_str().unwrap(), &from_ir),
        ("examples/van_der_pol.sci", &from_source),
    ] {
        let o = sci(&["run", model, "--out", out.to_str().unwrap()]);
        assert!(o.status.success(), "{model}: {}", stderr(&o));
    }
    assert_eq!(
        std::fs::read(&from_ir).unwrap(),
        std::fs::read(&from_source).unwrap()
    );
    let pinn = dir.join("poisson.sir");
    let o = sci(&[
        "compile",
        "examples/poisson2d_pinn.sci",
        "--emit",
        "ir",
        "-o",
        pinn.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let losses: Vec<String> = [pinn.to_str().unwrap(), "examples/poisson2d_pinn.sci"]
        .iter()
        .map(|model| {
            let o = sci(&["train", model, "--steps", "3"]);
            assert!(o.status.success(), "{model}: {}", stderr(&o));
            let text = stdout(&o);
            text.lines()
                .find(|l| l.contains("loss "))
                .unwrap_or_else(|| panic!("{model}: no loss line in {text}"))
                .split(" in ")
                .next()
                .unwrap()
                .to_string()
        })
        .collect();
    assert_eq!(losses[0], losses[1]);
}

/// The arrays of an `.npz` archive: name → (shape, values).
/// Runs `sci ARGS --out NPZ` and checks the archive's members, `(name, shape)`, in order.
fn assert_npz_shapes(npz: &Path, args: &[&str], expected: &[(&str, &[usize])]) {
    let mut all = args.to_vec();
    all.extend(["--out", npz.to_str().unwrap()]);
    let out = sci(&all);
    assert!(out.status.success(), "{}", stderr(&out));
    let arrays = read_npz(npz);
    let shapes: Vec<(&str, &[usize])> = arrays
        .iter()
        .map(|(n, s, _)| (n.as_str(), s.as_slice()))
        .collect();
    assert_eq!(shapes, expected);
}

fn read_npz(path: &Path) -> Vec<(String, Vec<usize>, Vec<f64>)> {
    let mut zip = zip::ZipArchive::new(std::fs::File::open(path).unwrap()).unwrap();
    let mut arrays = Vec::new();
    for k in 0..zip.len() {
        let mut member = zip.by_index(k).unwrap();
        let name = member.name().unwrap().trim_end_matches(".npy").to_string();
        let mut bytes = Vec::new();
        std::io::Read::read_to_end(&mut member, &mut bytes).unwrap();
        let npy = npyz::NpyFile::new(&bytes[..]).unwrap();
        let shape = npy.shape().iter().map(|&d| d as usize).collect();
        arrays.push((name, shape, npy.into_vec::<f64>().unwrap()));
    }
    arrays
}

#[test]
fn outputs_keep_names_units_and_shapes() {
    let dir = scratch("formats");
    // CSV: units in the header, read back by name as a data set would be.
    let csv = dir.join("p.csv");
    let out = sci(&[
        "run",
        "examples/pendulum.sci",
        "--out",
        csv.to_str().unwrap(),
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    let (header, rows) = read_csv(&csv);
    assert_eq!(
        header,
        [
            "t",
            "theta",
            "omega [1/s]",
            "height [m]",
            "energy [m^2/s^2]"
        ]
    );
    let table = sci::stdlib::data::read_table(&csv).unwrap();
    assert_eq!(table.columns, ["t", "theta", "omega", "height", "energy"]);
    assert_eq!(table.unit(2), Some("1/s"));
    // JSON: one object per column, with its unit.
    let json_path = dir.join("p.json");
    let out = sci(&[
        "run",
        "examples/pendulum.sci",
        "--out",
        json_path.to_str().unwrap(),
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    let json: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&json_path).unwrap()).unwrap();
    let omega = &json["columns"][2];
    assert_eq!(
        (omega["name"].as_str(), omega["unit"].as_str()),
        (Some("omega"), Some("1/s"))
    );
    let values: Vec<f64> = serde_json::from_value(omega["values"].clone()).unwrap();
    assert_eq!(values, rows.iter().map(|r| r[2]).collect::<Vec<_>>());
    // NPZ: every quantity by name with its shape — the heat equation's 200 cells per time.
    assert_npz_shapes(
        &dir.join("h.npz"),
        &["run", "examples/heat1d.sci", "--points", "11"],
        &[("t", &[11][..]), ("u", &[11, 200][..]), ("mid", &[11][..])],
    );
    // A grid prediction: the axes, and the field shaped like the grid.
    assert_npz_shapes(
        &dir.join("k.npz"),
        &["predict", "examples/kovasznay.sci", "--grid", "4"],
        &[("x", &[4][..]), ("y", &[4][..]), ("uvp", &[4, 4, 3][..])],
    );
}
