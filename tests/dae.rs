//! Differential-algebraic models (`0 = …`) end to end on the examples: an RC circuit
//! against its closed form, Robertson's kinetics as a DAE against the ODE example, the
//! Cartesian pendulum against the pendulum in its angle, sensitivities against the
//! closed form's derivatives, and the refusals (Tsit5; a constraint of index higher than 1).

use std::process::Command;

use sci::stdlib::ode::{Method, SolveOptions};

fn compile(name: &str) -> sci::Compiled {
    let path = format!("{}/examples/{name}", env!("CARGO_MANIFEST_DIR"));
    sci::Compiler::new()
        .compile_file(&path)
        .unwrap_or_else(|e| panic!("{name} failed to compile:\n{e}"))
}

fn at(times: Vec<f64>, method: Method, rtol: f64, atol: f64) -> SolveOptions {
    SolveOptions {
        method,
        times: Some(times),
        rtol,
        atol,
        ..SolveOptions::default()
    }
}

/// v = V·(1 − e^(−t/RC)) and the algebraic current i = (V/R)·e^(−t/RC), from an
/// inconsistent initial guess i = 0 (made consistent: i(0) = V/R), with every DAE method.
#[test]
fn the_rc_circuit_follows_its_closed_form() {
    let c = compile("rc_circuit.sci");
    let m = c.model("RCCircuit").unwrap();
    let (r, cap, v_src) = (1000.0, 1e-3, 5.0);
    let times = vec![0.0, 0.5, 1.0, 3.0, 5.0];
    for method in [Method::Auto, Method::Bdf, Method::Esdirk34, Method::TrBdf2] {
        let traj = m
            .simulate(&m.params(), &at(times.clone(), method, 1e-10, 1e-12))
            .unwrap();
        assert_eq!(
            traj.stats.method,
            Some(if method == Method::Auto {
                Method::Bdf
            } else {
                method
            })
        );
        for (k, t) in times.iter().enumerate() {
            let decay = (-t / (r * cap)).exp();
            let (v, i) = (v_src * (1.0 - decay), v_src / r * decay);
            let got = &traj.states[k];
            assert!(
                (got[0] - v).abs() < 1e-7,
                "{method:?} v({t}) = {} vs {v}",
                got[0]
            );
            assert!(
                (got[1] - i).abs() < 1e-9,
                "{method:?} i({t}) = {} vs {i}",
                got[1]
            );
        }
    }
}

/// Robertson with mass conservation as its algebraic equation matches the ODE example at
/// t = 40 and 1e5 (relative 1e-6; 1e-5 for the tiny y2).
#[test]
fn robertson_as_a_dae_matches_the_ode() {
    let dae = compile("robertson_dae.sci");
    let ode = compile("robertson.sci");
    let (a, b) = (
        dae.model("RobertsonDAE").unwrap(),
        ode.model("Robertson").unwrap(),
    );
    let options = at(vec![40.0, 1e5], Method::Bdf, 1e-10, 1e-14);
    let (ta, tb) = (
        a.simulate(&a.params(), &options).unwrap(),
        b.simulate(&b.params(), &options).unwrap(),
    );
    for k in 0..2 {
        for (i, tol) in [(0, 1e-6), (1, 1e-5), (2, 1e-6)] {
            let (x, y) = (ta.states[k][i], tb.states[k][i]);
            assert!(
                (x - y).abs() <= tol * y.abs(),
                "y{} at #{k}: {x} vs {y}",
                i + 1
            );
        }
        let total: f64 = ta.states[k].iter().sum();
        assert!((total - 1.0).abs() < 1e-12, "conservation: {total}");
    }
}

/// The Cartesian pendulum (index 1, its tension algebraic) against the same pendulum
/// solved in its angle, θ'' = −(g/L)·sin θ: angle to 1e-6 over ten seconds; the rod's length
/// drifts by less than 1e-6.
#[test]
fn the_cartesian_pendulum_matches_the_angle_form() {
    let dae = compile("pendulum_dae.sci");
    let angle_model = "model Angle {
    const g = 9.81
    state theta = 0.5
    state omega = 0.0
    der(theta) = omega
    der(omega) = -g * sin(theta)
    domain time: t in [0, 10]
}";
    let ode = sci::Compiler::new()
        .compile_source("angle.sci", angle_model)
        .unwrap();
    let (a, b) = (
        dae.model("PendulumDAE").unwrap(),
        ode.model("Angle").unwrap(),
    );
    let times: Vec<f64> = (1..=20).map(|k| k as f64 * 0.5).collect();
    let ta = a
        .simulate(&a.params(), &at(times.clone(), Method::Bdf, 1e-10, 1e-12))
        .unwrap();
    let tb = b
        .simulate(&b.params(), &at(times.clone(), Method::Tsit5, 1e-12, 1e-14))
        .unwrap();
    let angle = ta.column("angle").unwrap();
    let length = ta.column("length").unwrap();
    for (k, t) in times.iter().enumerate() {
        let want = tb.states[k][0];
        assert!(
            (angle[k] - want).abs() < 1e-6,
            "θ({t}) = {} vs {want}",
            angle[k]
        );
        assert!(
            (length[k] - 1.0).abs() < 1e-6,
            "length({t}) = {}",
            length[k]
        );
    }
}

/// Forward sensitivities of a DAE against the derivatives of the closed form in (R, C, V):
/// with e = exp(−t/RC), v = V(1 − e) and i = (V/R)·e, relative 1e-7.
#[test]
fn dae_sensitivities_match_the_closed_form() {
    let c = compile("rc_circuit.sci");
    let m = c.model("RCCircuit").unwrap();
    let p = m.params();
    let (r, cap, v_src) = (p[0], p[1], p[2]);
    let times = vec![0.7, 2.0];
    let traj = m
        .simulate(
            &p,
            &SolveOptions {
                sensitivities: true,
                ..at(times.clone(), Method::Bdf, 1e-10, 1e-12)
            },
        )
        .unwrap();
    let sens = traj.sensitivities.as_ref().unwrap();
    for (k, t) in times.iter().enumerate() {
        let tau = r * cap;
        let e = (-t / tau).exp();
        // d e/dR = e·t/(R²C), d e/dC = e·t/(RC²).
        let (de_dr, de_dc) = (e * t / (r * tau), e * t / (cap * tau));
        let dv = [-v_src * de_dr, -v_src * de_dc, 1.0 - e];
        let di = [
            -v_src / (r * r) * e + v_src / r * de_dr,
            v_src / r * de_dc,
            e / r,
        ];
        for (i, want) in [dv, di].iter().enumerate() {
            for (j, w) in want.iter().enumerate() {
                let got = sens[k][i * 3 + j];
                assert!(
                    (got - w).abs() <= 1e-7 * w.abs().max(1e-12),
                    "d y{i}/d θ{j} at t = {t}: {got} vs {w}"
                );
            }
        }
    }
}

fn sci(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_sci"))
        .args(args)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .unwrap()
}

/// `sci run` solves a DAE with BDF by default and refuses Tsit5 with the reason; a
/// constraint of index 3 (the pendulum's position constraint) is refused with the advice
/// to differentiate it.
#[test]
fn sci_run_solves_daes_and_refuses_what_it_cannot() {
    let o = sci(&["run", "examples/pendulum_dae.sci"]);
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert!(out.contains("with bdf"), "{out}");
    let o = sci(&["run", "examples/rc_circuit.sci", "--solver", "tsit5"]);
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(2), "{err}");
    assert!(err.to_lowercase().contains("algebraic"), "{err}");
    let index3 = "model Index3 {
    const g = 9.81
    state x = 0.479425538604203
    state y = -0.8775825618903728
    state vx = 0.0
    state vy = 0.0
    state lambda = 1.0
    der(x) = vx
    der(y) = vy
    der(vx) = -lambda * x
    der(vy) = -lambda * y - g
    0 = x^2 + y^2 - 1
    domain time: t in [0, 1]
}";
    let c = sci::Compiler::new()
        .compile_source("index3.sci", index3)
        .unwrap();
    let m = c.model("Index3").unwrap();
    let e = m
        .simulate(&m.params(), &SolveOptions::default())
        .unwrap_err();
    let text = format!("{} {}", e.message, e.help.clone().unwrap_or_default());
    assert!(text.contains("index"), "{text}");
    assert!(
        text.contains("`lambda`"),
        "the algebraic state by name: {text}"
    );
    assert!(text.to_lowercase().contains("differentiat"), "{text}");
}
