//! Components end to end (`examples/tanks.sci`): the host's solution against the component
//! model solved on its own, the steady state of the connected tanks, and the command line
//! (the host is the model `sci run` picks; its components' parameters are set by path).

use std::process::Command;

use sci::stdlib::ode::{Method, SolveOptions};

fn tight(times: Vec<f64>) -> SolveOptions {
    SolveOptions {
        method: Method::Tsit5,
        times: Some(times),
        rtol: 1e-11,
        atol: 1e-13,
        ..SolveOptions::default()
    }
}

/// The upper tank of `TwoTanks` is the `Tank` model with area 2 and inflow `feed`: the two
/// solutions agree (1e-8); both tanks settle at (feed / c)² = 0.25 m (1e-3 by t = 300).
#[test]
fn the_connected_tanks_follow_their_components() {
    let c = sci::Compiler::new()
        .compile_file(concat!(env!("CARGO_MANIFEST_DIR"), "/examples/tanks.sci"))
        .unwrap();
    let host = c.model("TwoTanks").unwrap();
    let tank = c.model("Tank").unwrap();
    let times = vec![5.0, 20.0, 60.0, 100.0];
    let both = host
        .simulate(&host.params(), &tight(times.clone()))
        .unwrap();
    let mut p = tank.params();
    // Tank's parameters: area, outlet, inflow.
    p[0] = 2.0;
    p[2] = 0.05;
    let alone = tank.simulate(&p, &tight(times.clone())).unwrap();
    let upper = both.column("upper.h").unwrap();
    for (k, t) in times.iter().enumerate() {
        assert!(
            (upper[k] - alone.states[k][0]).abs() < 1e-8,
            "h({t}): {} vs {}",
            upper[k],
            alone.states[k][0]
        );
    }
    let end = host.simulate(&host.params(), &tight(vec![300.0])).unwrap();
    for h in &end.states[0] {
        assert!((h - 0.25).abs() < 1e-3, "{:?}", end.states[0]);
    }
}

/// `sci run examples/tanks.sci` runs the host, not its component's model, and
/// `--param upper.outlet=0.2` sets the upper tank's outlet (its steady level falls to
/// (0.05/0.2)² = 0.0625 m).
#[test]
fn sci_run_picks_the_host_and_sets_component_parameters() {
    let run = |extra: &[&str]| {
        let mut args = vec!["run", "examples/tanks.sci", "--t-end", "300"];
        args.extend_from_slice(extra);
        let o = Command::new(env!("CARGO_BIN_EXE_sci"))
            .args(&args)
            .current_dir(env!("CARGO_MANIFEST_DIR"))
            .output()
            .unwrap();
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        String::from_utf8_lossy(&o.stdout).to_string()
    };
    let out = run(&[]);
    assert!(out.starts_with("TwoTanks:"), "{out}");
    let out = run(&["--param", "upper.outlet=0.2"]);
    let line = out
        .lines()
        .find(|l| l.trim_start().starts_with("upper.h ="))
        .unwrap();
    let h: f64 = line.split('=').nth(1).unwrap().trim().parse().unwrap();
    assert!((h - 0.0625).abs() < 1e-3, "{out}");
}
