//! Using trained models from the command line: `sci predict` over the declared domain (a
//! grid, a table of points, a comparison with reference values; line plots and heat
//! maps), and `sci eval` with a checkpoint, a table of points, and the model's own data.

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

fn scratch(test: &str) -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR"))
        .join("cli_predict")
        .join(test);
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn path(p: &Path) -> &str {
    p.to_str().unwrap()
}

/// A CSV's header and rows.
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

/// Trains the Poisson PINN briefly and returns its checkpoint.
fn trained_poisson(dir: &Path) -> PathBuf {
    let params = dir.join("poisson.json");
    let out = sci(&[
        "train",
        "examples/poisson2d_pinn.sci",
        "--steps",
        "30",
        "--optimizer",
        "lbfgs",
        "--out",
        path(&params),
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    params
}

/// `sci eval`'s value of one scalar function at one point.
fn eval_scalar(args: &[&str]) -> f64 {
    let out = sci(args);
    assert!(out.status.success(), "{}", stderr(&out));
    let text = stdout(&out);
    let first = text.lines().next().unwrap();
    first.split('=').nth(1).unwrap().trim().parse().unwrap()
}

/// The texts of an SVG's `<text>` elements.
fn texts(svg: &str) -> Vec<String> {
    svg.split("<text")
        .skip(1)
        .filter_map(|t| {
            let body = t.split_once('>')?.1;
            Some(body.split("</text>").next()?.trim().to_string())
        })
        .collect()
}

#[test]
fn predict_writes_a_trained_field_on_a_grid_and_draws_a_heat_map() {
    let dir = scratch("grid");
    let params = trained_poisson(&dir);
    let (table, plot) = (dir.join("u.csv"), dir.join("u.svg"));
    let out = sci(&[
        "predict",
        "examples/poisson2d_pinn.sci",
        "--params-file",
        path(&params),
        "--grid",
        "5",
        "--out",
        path(&table),
        "--plot",
        path(&plot),
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(
        stdout(&out).contains("u(x, y) at 25 points (x in [0, 1], y in [0, 1])"),
        "{}",
        stdout(&out)
    );
    let (header, rows) = read_csv(&table);
    assert_eq!(header, ["x", "y", "u"]);
    assert_eq!(rows.len(), 25);
    // x varies slowest, both over the declared square.
    assert_eq!(
        (rows[0][0], rows[0][1], rows[1][1], rows[5][0]),
        (0.0, 0.0, 0.25, 0.25)
    );
    assert_eq!((rows[24][0], rows[24][1]), (1.0, 1.0));
    // The values are the trained network's, as the reference interpreter computes them.
    for row in [&rows[6], &rows[18]] {
        let (x, y) = (format!("x={}", row[0]), format!("y={}", row[1]));
        let want = eval_scalar(&[
            "eval",
            "examples/poisson2d_pinn.sci",
            "net.u",
            &x,
            &y,
            "--params-file",
            path(&params),
        ]);
        assert!(
            (row[2] - want).abs() <= 1e-12 * want.abs().max(1.0),
            "{} vs {want}",
            row[2]
        );
    }
    // A heat map: one cell per grid point and a colour bar, labelled by the coordinates.
    let svg = std::fs::read_to_string(&plot).unwrap();
    assert!(svg.starts_with("<svg"));
    assert!(
        svg.matches("<rect").count() >= 25 + 64,
        "{}",
        svg.matches("<rect").count()
    );
    let labels = texts(&svg);
    for label in ["x", "y", "u", "Poisson2D"] {
        assert!(
            labels.iter().any(|t| t == label),
            "{label} not in {labels:?}"
        );
    }
}

#[test]
fn predict_compares_with_reference_values() {
    let dir = scratch("compare");
    let params = trained_poisson(&dir);
    // The exact solution u = sin(πx) sin(πy) at a few points.
    let reference = dir.join("exact.csv");
    let points = [(0.5, 0.5), (0.25, 0.75), (0.1, 0.9), (0.8, 0.3)];
    let mut text = String::from("y,x,u\n");
    for (x, y) in points {
        let u = (std::f64::consts::PI * x).sin() * (std::f64::consts::PI * y).sin();
        text.push_str(&format!("{y},{x},{u}\n"));
    }
    std::fs::write(&reference, text).unwrap();
    let table = dir.join("cmp.csv");
    let out = sci(&[
        "predict",
        "examples/poisson2d_pinn.sci",
        "--params-file",
        path(&params),
        "--compare",
        path(&reference),
        "--out",
        path(&table),
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    let (header, rows) = read_csv(&table);
    assert_eq!(header, ["x", "y", "u", "u.reference", "u.error"]);
    // Columns are found by name, whatever their order in the reference file.
    for (row, (x, y)) in rows.iter().zip(points) {
        assert_eq!((row[0], row[1]), (x, y));
        assert_eq!(row[4], row[2] - row[3]);
    }
    let norm = |k: usize| rows.iter().map(|r| r[k] * r[k]).sum::<f64>().sqrt();
    let rel = norm(4) / norm(3);
    let line = format!("u: relative L2 error {rel:.3e}");
    assert!(stdout(&out).contains(&line), "{line} in {}", stdout(&out));
}

#[test]
fn predict_draws_a_one_dimensional_network_as_lines_with_every_output() {
    let dir = scratch("lines");
    let model = dir.join("osc.sci");
    std::fs::write(
        &model,
        "use nn.{mlp}\n\nmodel Osc {\n    domain time: t in [0, 2]\n\n    \
         net z(t) = mlp(hidden: [4], activation: tanh, outputs: 2, seed: 2)\n\n    \
         residual ode on time, points 16: d(z, t)[0] - z(t)[1]\n\n    loss = mean(ode^2)\n}\n",
    )
    .unwrap();
    let (table, plot) = (dir.join("z.npy"), dir.join("z.svg"));
    let out = sci(&[
        "predict",
        path(&model),
        "--grid",
        "9",
        "--out",
        path(&table),
        "--plot",
        path(&plot),
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(
        stdout(&out).contains("z[0]: min") && stdout(&out).contains("z[1]: min"),
        "{}",
        stdout(&out)
    );
    let svg = std::fs::read_to_string(&plot).unwrap();
    let labels = texts(&svg);
    for label in ["z[0]", "z[1]", "t"] {
        assert!(
            labels.iter().any(|t| t == label),
            "{label} not in {labels:?}"
        );
    }
    // NPY: 9 rows of t, z[0], z[1].
    let bytes = std::fs::read(&table).unwrap();
    assert!(String::from_utf8_lossy(&bytes[..128]).contains("(9, 3, )"));
}

#[test]
fn predict_explains_what_it_cannot_do() {
    let dir = scratch("refused");
    for (args, message) in [
        (vec!["examples/robertson.sci"], "with networks"),
        (
            vec!["examples/poisson2d_pinn.sci", "--grid", "1"],
            "`--grid` must be at least 2",
        ),
        (
            vec!["examples/poisson2d_pinn.sci", "--grid", "100000"],
            "is too large",
        ),
        // A network inside an ODE takes states, which have no declared range.
        (
            vec!["examples/lv_ude.sci"],
            "`prey` is not a coordinate of a declared domain",
        ),
    ] {
        let mut all = vec!["predict"];
        all.extend(args.iter().copied());
        let out = sci(&all);
        assert_eq!(out.status.code(), Some(2), "{all:?}: {}", stderr(&out));
        assert!(stderr(&out).contains(message), "{all:?}: {}", stderr(&out));
    }
    // A table of points lacking a coordinate, and a comparison naming no output.
    let pts = dir.join("pts.csv");
    std::fs::write(&pts, "x,v\n0.5,1\n").unwrap();
    let out = sci(&[
        "predict",
        "examples/poisson2d_pinn.sci",
        "--points",
        path(&pts),
    ]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains("has no column `y`"),
        "{}",
        stderr(&out)
    );
    std::fs::write(&pts, "x,y,v\n0.5,0.5,1\n").unwrap();
    let out = sci(&[
        "predict",
        "examples/poisson2d_pinn.sci",
        "--compare",
        path(&pts),
    ]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains("no column named like an output (u)"),
        "{}",
        stderr(&out)
    );
    // Scattered points cannot be a heat map; nothing is written.
    let plot = dir.join("p.svg");
    let out = sci(&[
        "predict",
        "examples/poisson2d_pinn.sci",
        "--points",
        path(&pts),
        "--plot",
        path(&plot),
    ]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains("A heat map needs a grid"),
        "{}",
        stderr(&out)
    );
    assert!(!plot.exists());
    // The UDE's network at given states.
    let states = dir.join("states.csv");
    std::fs::write(&states, "prey,pred\n10,5\n").unwrap();
    let out = sci(&["predict", "examples/lv_ude.sci", "--points", path(&states)]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(stdout(&out).contains("h[0]: min"), "{}", stdout(&out));
}

#[test]
fn eval_takes_a_checkpoint_a_table_of_points_and_the_models_data() {
    let dir = scratch("eval");
    let params = trained_poisson(&dir);
    // Many points at once from a table whose columns are named like the inputs.
    let pts = dir.join("pts.csv");
    std::fs::write(&pts, "x,y\n0.5,0.5\n0.25,0.75\n").unwrap();
    let out = sci(&[
        "eval",
        "examples/poisson2d_pinn.sci",
        "residual.interior",
        "--params-file",
        path(&params),
        "--points",
        path(&pts),
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    let text = stdout(&out);
    assert_eq!(text.matches(';').count(), 1, "two points: {text}");
    // The trained loss, as `sci train --init` starts from it.
    let loss = eval_scalar(&[
        "eval",
        "examples/poisson2d_pinn.sci",
        "loss",
        "--params-file",
        path(&params),
    ]);
    let out = sci(&[
        "train",
        "examples/poisson2d_pinn.sci",
        "--steps",
        "1",
        "--init",
        path(&params),
    ]);
    assert!(
        stdout(&out).contains(&format!("loss {loss:.6e} →")),
        "{loss} {}",
        stdout(&out)
    );
    // A data fit's loss reads the model's own data file.
    let loss = eval_scalar(&["eval", "examples/lv_ude.sci", "loss"]);
    let out = sci(&["train", "examples/lv_ude.sci", "--steps", "1"]);
    assert!(
        stdout(&out).contains(&format!("loss {loss:.6e} →")),
        "{loss} {}",
        stdout(&out)
    );
}
