//! Events (`when`) end to end on the examples, from the Rust API and the command line:
//! event times and states against closed forms, every solver, sensitivities across events
//! against finite differences, a fit through events, the IR text form, and `sci run`'s
//! report. Tolerances are stated next to each check.

use std::path::{Path, PathBuf};
use std::process::Command;

use sci::runtime::{TrainSetup, Trainer};
use sci::stdlib::ode::{Method, SolveOptions};
use sci::stdlib::optim::Objective;

fn compile(name: &str) -> sci::Compiled {
    let path = format!("{}/examples/{name}", env!("CARGO_MANIFEST_DIR"));
    sci::Compiler::new()
        .compile_file(&path)
        .unwrap_or_else(|e| panic!("{name} failed to compile:\n{e}"))
}

fn tight(method: Method) -> SolveOptions {
    SolveOptions {
        method,
        rtol: 1e-10,
        atol: 1e-12,
        ..SolveOptions::default()
    }
}

const G: f64 = 9.81;

/// The bouncing ball's impacts from rest at h0: the first after √(2·h0/g), then flights of
/// 2·e^k·√(2·h0/g).
fn impact_times(h0: f64, e: f64, count: usize) -> Vec<f64> {
    let fall = (2.0 * h0 / G).sqrt();
    let mut times = vec![fall];
    for k in 1..count {
        let last = times[k - 1];
        times.push(last + 2.0 * e.powi(k as i32) * fall);
    }
    times
}

/// Every impact of the bouncing ball in 10 s, with every solver, at the analytic times to
/// 1e-8 (the condition `h < 0` is located by root finding on the solver's interpolant,
/// exact for the ball's piecewise quadratic height), and the velocity just after each
/// impact is −e times the one before it.
#[test]
fn bounce_times_match_the_closed_form_with_every_solver() {
    let c = compile("bouncing_ball.sci");
    let m = c.model("BouncingBall").unwrap();
    let p = m.params();
    let want = impact_times(10.0, 0.8, 5);
    for method in [
        Method::Auto,
        Method::Tsit5,
        Method::Bdf,
        Method::Esdirk34,
        Method::TrBdf2,
    ] {
        let traj = m.simulate(&p, &tight(method)).unwrap();
        assert!(traj.events.len() >= 5, "{method:?}: {:?}", traj.events);
        for (k, (e, t)) in traj.events.iter().zip(&want).enumerate() {
            assert_eq!(e.event, 0);
            assert!(
                (e.t - t).abs() < 1e-8,
                "{method:?} impact {k}: {} vs {t}",
                e.t
            );
            let (v_before, v_after) = (e.y_before[1], e.y_after[1]);
            assert!(v_before < 0.0 && (v_after + 0.8 * v_before).abs() < 1e-9 * v_before.abs());
        }
        assert_eq!(traj.event_labels, ["h < 0"]);
        assert_eq!(traj.stopped_by, None);
    }
}

/// The dose schedule: just after the n-th dose the amount is D·(1 − rⁿ)/(1 − r) with
/// r = exp(−k·τ), and between doses it decays exponentially (relative 1e-8).
#[test]
fn doses_follow_the_geometric_series() {
    let c = compile("dosing.sci");
    let m = c.model("Dosing").unwrap();
    let p = m.params();
    let (dose, tau, k): (f64, f64, f64) = (100.0, 12.0, 0.1);
    let r: f64 = (-k * tau).exp();
    // Half-way between doses, and at the end.
    let times: Vec<f64> = (0..10).map(|n| n as f64 * tau + 6.0).collect();
    let traj = m
        .simulate(
            &p,
            &SolveOptions {
                times: Some(times.clone()),
                ..tight(Method::Auto)
            },
        )
        .unwrap();
    // Doses at 0, 12, …, 120: eleven, the one at t0 included.
    assert_eq!(traj.events.len(), 11, "{:?}", traj.events);
    for (n, e) in traj.events.iter().enumerate() {
        assert!((e.t - n as f64 * tau).abs() < 1e-12, "dose {n} at {}", e.t);
        let after = dose * (1.0 - r.powi(n as i32 + 1)) / (1.0 - r);
        assert!(
            (e.y_after[0] - after).abs() < 1e-8 * after,
            "after dose {n}: {} vs {after}",
            e.y_after[0]
        );
    }
    for (n, (t, y)) in times.iter().zip(&traj.states).enumerate() {
        let after = dose * (1.0 - r.powi(n as i32 + 1)) / (1.0 - r);
        let want = after * (-k * 6.0).exp();
        assert!(
            (y[0] - want).abs() < 1e-8 * want,
            "t = {t}: {} vs {want}",
            y[0]
        );
    }
}

/// A terminal event: without drag the projectile lands after 2·v0·sin θ/g at a range of
/// v0²·sin 2θ/g (1e-8); the solution ends there and says which event stopped it.
#[test]
fn the_projectile_stops_where_it_lands() {
    let c = compile("projectile.sci");
    let m = c.model("Projectile").unwrap();
    let mut p = m.params();
    p[0] = 0.0; // no drag
    let traj = m.simulate(&p, &tight(Method::Auto)).unwrap();
    let (v0, angle) = (50.0f64, std::f64::consts::FRAC_PI_4);
    let flight = 2.0 * v0 * angle.sin() / G;
    let range = v0 * v0 * (2.0 * angle).sin() / G;
    let t_last = *traj.t.last().unwrap();
    let last = traj.states.last().unwrap();
    assert!((t_last - flight).abs() < 1e-8, "{t_last} vs {flight}");
    assert!(
        (last[0] - range).abs() < 1e-8 * range,
        "{} vs {range}",
        last[0]
    );
    assert!(last[1].abs() < 1e-8, "height at landing {}", last[1]);
    assert_eq!(traj.stopped_by, Some(0));
    assert!(traj.t.iter().all(|&t| t <= t_last));
    // With drag it lands sooner and shorter.
    let dragged = m.simulate(&m.params(), &tight(Method::Auto)).unwrap();
    assert!(*dragged.t.last().unwrap() < flight);
    assert!(dragged.states.last().unwrap()[0] < range);
}

/// Sensitivities across events: d h(t)/d e and d v(t)/d e after three bounces against
/// central differences of the whole solve (relative 1e-5), with Tsit5 and BDF.
#[test]
fn sensitivities_follow_the_events() {
    let c = compile("bouncing_ball.sci");
    let m = c.model("BouncingBall").unwrap();
    let p = m.params();
    let times = vec![6.0, 8.5];
    for method in [Method::Tsit5, Method::Bdf] {
        let options = SolveOptions {
            times: Some(times.clone()),
            ..tight(method)
        };
        let with_sens = SolveOptions {
            sensitivities: true,
            ..options.clone()
        };
        let traj = m.simulate(&p, &with_sens).unwrap();
        let sens = traj.sensitivities.as_ref().unwrap();
        let h = 1e-6;
        let mut pp = p.clone();
        pp[0] += h;
        let up = m.simulate(&pp, &options).unwrap();
        pp[0] -= 2.0 * h;
        let down = m.simulate(&pp, &options).unwrap();
        for k in 0..times.len() {
            for (i, &ad) in sens[k].iter().enumerate() {
                let fd = (up.states[k][i] - down.states[k][i]) / (2.0 * h);
                assert!(
                    (fd - ad).abs() < 1e-5 * fd.abs().max(1.0),
                    "{method:?} d y{i}/d e at t = {}: {ad} vs {fd}",
                    times[k]
                );
            }
        }
    }
}

/// A loss over a solution with events: its gradient in e (through the sensitivities
/// across the bounces) against central differences of the loss (relative 1e-5).
#[test]
fn a_fit_through_events_has_the_right_gradient() {
    let dir = tempfile::tempdir().unwrap();
    // Heights observed at e = 0.7 (whose bounces pile up at t = 8.09: the data stop at 7.8).
    let c = compile("bouncing_ball.sci");
    let m = c.model("BouncingBall").unwrap();
    let times: Vec<f64> = (1..40).map(|k| k as f64 * 0.2).collect();
    let truth = m
        .simulate(
            &[0.7],
            &SolveOptions {
                span: Some((0.0, 7.9)),
                times: Some(times),
                ..tight(Method::Auto)
            },
        )
        .unwrap();
    let mut csv = String::from("t,h\n");
    for (t, y) in truth.t.iter().zip(&truth.states) {
        csv.push_str(&format!("{t},{}\n", y[0]));
    }
    std::fs::write(dir.path().join("heights.csv"), csv).unwrap();
    let source = std::fs::read_to_string(format!(
        "{}/examples/bouncing_ball.sci",
        env!("CARGO_MANIFEST_DIR")
    ))
    .unwrap()
    .replace(
        "    domain time:",
        "    data obs(t: s, h: m) = csv(\"heights.csv\")\n    loss = mean((h(obs.t) - obs.h)^2)\n    domain time:",
    );
    let c = sci::Compiler::new()
        .compile_source("ball_fit.sci", &source)
        .unwrap();
    let setup = TrainSetup {
        data_dir: dir.path().to_path_buf(),
        ..TrainSetup::default()
    };
    let mut trainer = Trainer::new(&c, "BouncingBall", setup).unwrap();
    let p = vec![0.8];
    let mut grad = vec![0.0];
    let loss = trainer.value_and_grad(&p, &mut grad).unwrap();
    assert!(loss > 0.0);
    let h = 1e-6;
    let fd = (trainer.loss(&[0.8 + h]).unwrap() - trainer.loss(&[0.8 - h]).unwrap()) / (2.0 * h);
    assert!(
        (grad[0] - fd).abs() < 1e-5 * fd.abs(),
        "dL/de: {} vs {fd}",
        grad[0]
    );
    // At the true value the loss is (nearly) zero.
    assert!(trainer.loss(&[0.7]).unwrap() < 1e-12);
}

/// The events survive the IR text form: a module written by `sci compile --emit ir` and
/// read back solves with the same events.
#[test]
fn events_survive_the_ir_text_form() {
    let c = compile("bouncing_ball.sci");
    let text = sci::ir::print::print_module(c.module("BouncingBall").unwrap());
    assert!(text.contains("event \"h < 0\" falling reset"), "{text}");
    let from_ir = sci::Compiler::new()
        .compile_ir("ball.sir", &text)
        .unwrap_or_else(|e| panic!("{}", e.render()));
    let a = c.model("BouncingBall").unwrap();
    let b = from_ir.model("BouncingBall").unwrap();
    let ta = a.simulate(&a.params(), &tight(Method::Auto)).unwrap();
    let tb = b.simulate(&b.params(), &tight(Method::Auto)).unwrap();
    assert_eq!(ta.events.len(), tb.events.len());
    for (x, y) in ta.events.iter().zip(&tb.events) {
        assert_eq!(x.t, y.t);
    }
}

fn sci(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_sci"))
        .args(args)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .unwrap()
}

fn scratch(test: &str) -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("events_{test}"));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// The solver's messages name the model's events by their conditions: a ball that comes
/// to rest (restitution 0.5: its bounces pile up at t = 3·√(2·h0/g) = 4.28 s) is a Zeno
/// point of "the event `h < 0`".
#[test]
fn event_errors_name_the_condition() {
    let c = compile("bouncing_ball.sci");
    let m = c.model("BouncingBall").unwrap();
    let e = m.simulate(&[0.5], &tight(Method::Auto)).unwrap_err();
    assert!(e.message.contains("The event `h < 0` fired"), "{e:?}");
}

/// `sci run` reports the events (how many, the first with their times; which one
/// stopped the solve), and `--out x.npz` holds them.
#[test]
fn sci_run_reports_and_writes_the_events() {
    let o = sci(&["run", "examples/bouncing_ball.sci"]);
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert!(out.contains("events: `h < 0` ×"), "{out}");
    assert!(out.contains("t = 1.4278431229e0  h < 0"), "{out}");
    let o = sci(&["run", "examples/projectile.sci"]);
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(
        out.contains("(stopped by `y < 0`; the span ends at 60)"),
        "{out}"
    );
    assert!(out.contains("1 event: `y < 0` ×1"), "{out}");
    let dir = scratch("npz");
    let npz = dir.join("ball.npz");
    let o = sci(&[
        "run",
        "examples/bouncing_ball.sci",
        "--out",
        npz.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let mut zip = zip::ZipArchive::new(std::fs::File::open(&npz).unwrap()).unwrap();
    let mut shapes = Vec::new();
    for k in 0..zip.len() {
        let mut member = zip.by_index(k).unwrap();
        let name = member.name().unwrap().trim_end_matches(".npy").to_string();
        let mut bytes = Vec::new();
        std::io::Read::read_to_end(&mut member, &mut bytes).unwrap();
        let npy = npyz::NpyFile::new(&bytes[..]).unwrap();
        shapes.push((name, npy.shape().to_vec()));
    }
    let events = shapes.iter().find(|(n, _)| n == "events.t").unwrap().1[0];
    assert!(events >= 5, "{shapes:?}");
    for (name, shape) in [
        ("events.t", vec![events]),
        ("events.index", vec![events]),
        ("events.state", vec![events, 2]),
    ] {
        assert!(shapes.contains(&(name.to_string(), shape)), "{shapes:?}");
    }
}

/// `sci run --events events.csv` writes one row per event: its time, its number and the
/// states just after it (the ball's velocity reversed and scaled by e at each impact).
#[test]
fn sci_run_writes_the_events_table() {
    let dir = scratch("table");
    let path = dir.join("events.csv");
    let o = sci(&[
        "run",
        "examples/bouncing_ball.sci",
        "--events",
        path.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert!(String::from_utf8_lossy(&o.stdout).contains("(7 events)"));
    let text = std::fs::read_to_string(&path).unwrap();
    let mut lines = text.lines();
    assert_eq!(lines.next(), Some("t,event,h [m],v [m/s]"));
    let rows: Vec<Vec<f64>> = lines
        .map(|l| l.split(',').map(|v| v.parse().unwrap()).collect())
        .collect();
    assert_eq!(rows.len(), 7);
    let first = impact_times(10.0, 0.8, 1)[0];
    assert!((rows[0][0] - first).abs() < 1e-6, "{:?}", rows[0]);
    assert_eq!(rows[0][1], 0.0);
    // Just after the first impact: upward at 0.8 of the impact speed g·t1.
    assert!((rows[0][3] - 0.8 * G * first).abs() < 1e-4, "{:?}", rows[0]);
    // An events file of another kind is refused before any work.
    let o = sci(&["run", "examples/bouncing_ball.sci", "--events", "x.txt"]);
    assert_eq!(o.status.code(), Some(2));
}
