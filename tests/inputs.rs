//! Data as inputs of the equations (`interp(data.column, t, method: …)`): solutions against
//! closed forms for linear and step inputs, the spline through its knots, a lookup table of
//! a state (the Jacobian through the interpolant), the span check against the data's
//! range, and the errors for data that cannot be interpolated.

use std::path::{Path, PathBuf};
use std::process::Command;

use sci::stdlib::ode::{Method, SolveOptions};

fn scratch(test: &str) -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("inputs_{test}"));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// Writes `name` with a `t,u` header and the rows, and the model source next to it;
/// compiles the model (data read relative to its directory).
fn compile_with_data(
    dir: &Path,
    rows: &[(f64, f64)],
    source: &str,
) -> Result<sci::Compiled, String> {
    let mut csv = String::from("t,u\n");
    for (t, u) in rows {
        csv.push_str(&format!("{t},{u}\n"));
    }
    std::fs::write(dir.join("input.csv"), csv).unwrap();
    let path = dir.join("model.sci");
    std::fs::write(&path, source).unwrap();
    sci::Compiler::new()
        .compile_file(&path)
        .map_err(|e| e.to_string())
}

fn relaxation(method: &str) -> String {
    format!(
        "model Relax {{
    param tau = 2.0
    data drive(t, u) = csv(\"input.csv\")
    state x = 1.0
    der(x) = (interp(drive.u, t, method: {method}) - x) / tau
    output u = interp(drive.u, t, method: {method})
    domain time: t in [0, 10]
}}"
    )
}

fn tight(times: Vec<f64>) -> SolveOptions {
    SolveOptions {
        method: Method::Bdf,
        times: Some(times),
        rtol: 1e-11,
        atol: 1e-13,
        ..SolveOptions::default()
    }
}

/// A linear input u = a + b·t (given at 11 knots) drives x' = (u − x)/τ, whose solution is
/// x = a + b(t − τ) + (x0 − a + bτ)·e^{−t/τ}: linear and cubic interpolation reproduce a
/// linear input exactly, so both match to 1e-8.
#[test]
fn a_linear_input_gives_the_closed_form() {
    let dir = scratch("linear");
    let (a, b, tau, x0) = (3.0, 0.5, 2.0, 1.0);
    let rows: Vec<(f64, f64)> = (0..=10).map(|k| (k as f64, a + b * k as f64)).collect();
    for method in ["linear", "cubic"] {
        let c = compile_with_data(&dir, &rows, &relaxation(method)).unwrap();
        let m = c.model("Relax").unwrap();
        let times = vec![0.5, 2.25, 7.0, 10.0];
        let traj = m.simulate(&m.params(), &tight(times.clone())).unwrap();
        for (k, t) in times.iter().enumerate() {
            let want = a + b * (t - tau) + (x0 - a + b * tau) * (-t / tau).exp();
            let got = traj.states[k][0];
            assert!(
                (got - want).abs() < 1e-8,
                "{method} x({t}) = {got} vs {want}"
            );
            let u = traj.outputs[k][0];
            assert!((u - (a + b * t)).abs() < 1e-12, "{method} u({t}) = {u}");
        }
    }
}

/// `previous` holds each value until the next time: a step from 0 to 2 at t = 4 gives
/// x = e^{−t/τ} before it and 2 + (x(4) − 2)·e^{−(t−4)/τ} after (1e-8).
#[test]
fn a_step_input_held_by_previous() {
    let dir = scratch("step");
    let rows = [(0.0, 0.0), (4.0, 2.0), (10.0, 2.0)];
    let c = compile_with_data(&dir, &rows, &relaxation("previous")).unwrap();
    let m = c.model("Relax").unwrap();
    let times = vec![3.0, 6.0, 10.0];
    let traj = m.simulate(&m.params(), &tight(times.clone())).unwrap();
    let x4 = (-4.0f64 / 2.0).exp();
    let want = [
        (-3.0f64 / 2.0).exp(),
        2.0 + (x4 - 2.0) * (-(6.0 - 4.0) / 2.0f64).exp(),
        2.0 + (x4 - 2.0) * (-(10.0 - 4.0) / 2.0f64).exp(),
    ];
    for (k, w) in want.iter().enumerate() {
        let got = traj.states[k][0];
        assert!((got - w).abs() < 1e-8, "x({}) = {got} vs {w}", times[k]);
    }
    // At the last knot, the last value; just before a knot, the previous one.
    assert_eq!(traj.outputs[2][0], 2.0);
}

/// The cubic spline passes through every knot and follows a smooth signal between them:
/// samples of sin at 21 knots over [0, 10] give the signal to 1e-3 in between.
#[test]
fn the_spline_passes_through_its_knots() {
    let dir = scratch("spline");
    let rows: Vec<(f64, f64)> = (0..=20)
        .map(|k| {
            let t = k as f64 * 0.5;
            (t, t.sin())
        })
        .collect();
    let c = compile_with_data(&dir, &rows, &relaxation("cubic")).unwrap();
    let m = c.model("Relax").unwrap();
    let knots: Vec<f64> = rows.iter().map(|r| r.0).collect();
    let traj = m.simulate(&m.params(), &tight(knots.clone())).unwrap();
    for (k, (_, u)) in rows.iter().enumerate() {
        assert!(
            (traj.outputs[k][0] - u).abs() < 1e-12,
            "at knot {}",
            knots[k]
        );
    }
    let between: Vec<f64> = (0..40).map(|k| 1.0 + k as f64 * 0.2 + 0.1).collect();
    let traj = m.simulate(&m.params(), &tight(between.clone())).unwrap();
    for (k, t) in between.iter().enumerate() {
        let u = traj.outputs[k][0];
        assert!((u - t.sin()).abs() < 1e-3, "u({t}) = {u} vs {}", t.sin());
    }
}

/// A lookup table of a state (a nonlinear characteristic given as data): the Jacobian of
/// the right-hand side goes through the interpolant (the segment's slope), and matches
/// central differences of the right-hand side.
#[test]
fn a_table_of_a_state_has_the_right_jacobian() {
    let dir = scratch("table");
    let rows: Vec<(f64, f64)> = (0..=20)
        .map(|k| {
            let v = k as f64 * 0.25;
            (v, v * v)
        })
        .collect();
    let source = "model Table {
    data curve(t, u) = csv(\"input.csv\")
    state x = 1.3
    state y = 0.0
    der(x) = -interp(curve.u, x, method: cubic)
    der(y) = interp(curve.u, x)
    domain time: t in [0, 1]
}";
    let c = compile_with_data(&dir, &rows, source).unwrap();
    let m = c.model("Table").unwrap();
    let p = m.params();
    let y = vec![1.3, 0.2];
    let mut jac = vec![0.0; 4];
    m.jacobian(0.0, &y, &p, &mut jac).unwrap();
    let h = 1e-6;
    for j in 0..2 {
        let (mut up, mut down) = (y.clone(), y.clone());
        up[j] += h;
        down[j] -= h;
        let (mut fu, mut fd) = (vec![0.0; 2], vec![0.0; 2]);
        m.rhs(0.0, &up, &p, &mut fu).unwrap();
        m.rhs(0.0, &down, &p, &mut fd).unwrap();
        for i in 0..2 {
            let fdiff = (fu[i] - fd[i]) / (2.0 * h);
            assert!(
                (jac[i * 2 + j] - fdiff).abs() < 1e-6,
                "∂f{i}/∂y{j}: {} vs {fdiff}",
                jac[i * 2 + j]
            );
        }
    }
    // The linear interpolant's slope on [1.25, 1.5] is (1.5² − 1.25²)/0.25 = 2.75.
    assert!((jac[2] - 2.75).abs() < 1e-12, "{}", jac[2]);
}

fn sci(args: &[&str], dir: &Path) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_sci"))
        .args(args)
        .current_dir(dir)
        .output()
        .unwrap()
}

/// A solve beyond the data's times is refused before it starts (exit 2, naming the data
/// and its range); data that cannot be interpolated is a compile error at the data set.
#[test]
fn spans_and_data_are_checked() {
    let dir = scratch("checks");
    let rows: Vec<(f64, f64)> = (0..=10).map(|k| (k as f64, 1.0)).collect();
    compile_with_data(&dir, &rows, &relaxation("linear")).unwrap();
    let o = sci(&["run", "model.sci", "--t-end", "12"], &dir);
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(2), "{err}");
    assert!(
        err.contains("covers only t = 0 to t = 10") && err.contains("`drive`"),
        "{err}"
    );
    let o = sci(&["run", "model.sci"], &dir);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    // Unsorted times, a missing file, a method that does not exist.
    let bad = compile_with_data(
        &dir,
        &[(0.0, 1.0), (2.0, 1.0), (1.0, 1.0)],
        &relaxation("linear"),
    )
    .unwrap_err();
    assert!(
        bad.contains("E0231") && bad.contains("must increase"),
        "{bad}"
    );
    std::fs::remove_file(dir.join("input.csv")).unwrap();
    let missing = sci::Compiler::new()
        .compile_file(dir.join("model.sci"))
        .unwrap_err()
        .to_string();
    assert!(
        missing.contains("E0231") && missing.contains("input.csv"),
        "{missing}"
    );
    let wrong = compile_with_data(&dir, &rows, &relaxation("spline")).unwrap_err();
    assert!(wrong.contains("E0230"), "{wrong}");
    // A column used directly in an equation says how to interpolate it.
    let direct = compile_with_data(
        &dir,
        &rows,
        &relaxation("linear").replace(
            "der(x) = (interp(drive.u, t, method: linear) - x)",
            "der(x) = (drive.u - x)",
        ),
    )
    .unwrap_err();
    assert!(direct.contains("interp(drive.u, t)"), "{direct}");
}

/// The example: a building driven by two days of hourly outdoor temperatures, in hours.
#[test]
fn the_building_example_follows_the_outdoor_temperature() {
    let c = sci::Compiler::new()
        .compile_file(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/examples/building.sci"
        ))
        .unwrap();
    let m = c.model("Building").unwrap();
    let traj = m.simulate(&m.params(), &SolveOptions::default()).unwrap();
    let t_out = traj.column("T_out").unwrap();
    // The spline reproduces the hourly data at whole hours (the output times are every
    // 0.24 h: t = 24 is row 100).
    assert!((traj.t[100] - 24.0).abs() < 1e-12);
    let at_24 = 283.0 + 5.0 * (2.0 * std::f64::consts::PI * (24.0 - 9.0) / 24.0).sin();
    assert!(
        (t_out[100] - at_24).abs() < 1e-3,
        "{} vs {at_24}",
        t_out[100]
    );
    let text = sci::ir::print::print_module(c.module("Building").unwrap());
    assert!(
        text.contains("input weather \"data/outdoor_temperature.csv\" [0, 48]"),
        "{text}"
    );
}
