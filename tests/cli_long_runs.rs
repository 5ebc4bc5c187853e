//! Long `sci train` runs as a batch job sees them: progress lines on a pipe, periodic
//! checkpoints, stopping rules, an interrupt that saves everything, and `--resume`
//! continuing a run exactly where it stopped.

use std::io::{BufRead, BufReader, Lines};
use std::path::{Path, PathBuf};
use std::process::{ChildStderr, Command, Output, Stdio};

/// A small PINN (u' = −u, u(0) = 1): a training step takes well under a millisecond.
const DECAY: &str = "\
use nn.{mlp}

model Decay {
    domain omega: t in [0, 1]

    net u(t) = mlp(hidden: [6], activation: tanh, seed: 1)

    residual ode on omega, points 32: d(u, t) + u
    residual start on omega where t == 0, points 1: u - 1

    loss = mean(ode^2) + mean(start^2)
}
";

fn sci(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_sci"))
        .args(args)
        .output()
        .expect("the sci binary runs")
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

/// A training run of the scratch model that would take 10⁸ Adam steps (the test ends it),
/// with `extra` options and a progress line on stderr after every step: the process and
/// those lines.
fn endless_run(model: &str, extra: &[&str]) -> (Running, Lines<BufReader<ChildStderr>>) {
    let mut child = Running(
        Command::new(env!("CARGO_BIN_EXE_sci"))
            .args([
                "train",
                model,
                "--optimizer",
                "adam",
                "--steps",
                "100000000",
                "--log-every",
                "1",
            ])
            .args(extra)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap(),
    );
    let lines = BufReader::new(child.0.stderr.take().unwrap()).lines();
    (child, lines)
}

/// Asserts that `sci ARGS` is refused as a bad invocation (exit 2) saying `why`.
fn refused(args: &[&str], why: &str) {
    let out = sci(args);
    assert_eq!(out.status.code(), Some(2), "{args:?}: {}", stderr(&out));
    assert!(stderr(&out).contains(why), "{args:?}: {}", stderr(&out));
}

/// A fresh scratch directory holding the model, per test.
fn scratch(test: &str) -> (PathBuf, String) {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR"))
        .join("cli_long_runs")
        .join(test);
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let model = dir.join("decay.sci");
    std::fs::write(&model, DECAY).unwrap();
    let model = model.to_str().unwrap().to_string();
    (dir, model)
}

fn json(path: &Path) -> serde_json::Value {
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

/// Every parameter value of a checkpoint, as bits.
fn param_bits(path: &Path) -> Vec<u64> {
    json(path)["params"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|b| b["values"].as_array().unwrap().clone())
        .map(|v| v.as_f64().unwrap().to_bits())
        .collect()
}

fn path(p: &Path) -> &str {
    p.to_str().unwrap()
}

/// A training run in the background, killed when the test ends — also when an assertion
/// fails first: a run of 10⁸ steps must not outlive its test.
struct Running(std::process::Child);

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[test]
fn progress_lines_are_printed_when_stderr_is_not_a_terminal() {
    let (_dir, model) = scratch("lines");
    let out = sci(&[
        "train",
        &model,
        "--optimizer",
        "adam",
        "--steps",
        "20",
        "--log-every",
        "5",
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    let lines: Vec<String> = stderr(&out)
        .lines()
        .filter(|l| l.starts_with("step"))
        .map(str::to_string)
        .collect();
    // After the first step, every fifth, and the last.
    let steps: Vec<&str> = lines
        .iter()
        .map(|l| l.split_whitespace().nth(1).unwrap())
        .collect();
    assert_eq!(
        steps,
        ["1/20", "5/20", "10/20", "15/20", "20/20"],
        "{lines:#?}"
    );
    for (line, tail) in lines.iter().zip(["eta", "eta", "eta", "eta", "elapsed"]) {
        assert!(
            line.contains("loss ") && line.contains("best ") && line.contains("adam lr 1.0e-3"),
            "{line}"
        );
        assert!(line.contains(tail), "{line}");
    }
    assert!(
        !lines[4].contains("eta"),
        "no ETA after the last step: {}",
        lines[4]
    );
}

#[test]
fn a_resumed_run_ends_where_the_uninterrupted_run_ends() {
    let (dir, model) = scratch("resume");
    let whole = dir.join("whole.json");
    let out = sci(&[
        "train",
        &model,
        "--optimizer",
        "adam",
        "--steps",
        "30",
        "--seed",
        "7",
        "--out",
        path(&whole),
    ]);
    assert!(out.status.success(), "{}", stderr(&out));

    // The same run, its checkpoint saved every 10 steps; the file after step 20 is kept.
    let part = dir.join("part.json");
    let out = sci(&[
        "train",
        &model,
        "--optimizer",
        "adam",
        "--steps",
        "20",
        "--seed",
        "7",
        "--checkpoint-every",
        "10",
        "--out",
        path(&part),
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(json(&part)["training"]["step"], 20);
    // Resumed to 30 steps in all, replacing its own checkpoint; the seed comes from the file.
    let losses = dir.join("losses.csv");
    let out = sci(&[
        "train",
        &model,
        "--optimizer",
        "adam",
        "--steps",
        "30",
        "--resume",
        path(&part),
        "--out",
        path(&part),
        "--losses",
        path(&losses),
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(
        stdout(&out).contains("resuming at step 20 of 30"),
        "{}",
        stdout(&out)
    );
    assert_eq!(param_bits(&part), param_bits(&whole));
    let (mut resumed, whole) = (
        json(&part)["training"].clone(),
        json(&whole)["training"].clone(),
    );
    // The resumed process evaluates its starting point once more.
    assert_eq!(
        resumed["evaluations"],
        whole["evaluations"].as_u64().unwrap() + 1
    );
    resumed["evaluations"] = whole["evaluations"].clone();
    assert_eq!(resumed, whole);
    // The loss history covers the whole run, steps 0 to 30.
    let history = std::fs::read_to_string(&losses).unwrap();
    assert_eq!(history.lines().count(), 1 + 31);
}

#[test]
fn a_checkpoint_is_written_while_training() {
    let (dir, model) = scratch("periodic");
    let out_path = dir.join("run.json");
    let (_child, mut lines) = endless_run(
        &model,
        &["--checkpoint-every", "10", "--out", path(&out_path)],
    );
    // Once step 15 is reported, the save after step 10 (or a later one) is on disk.
    loop {
        let line = lines.next().expect("a progress line").unwrap();
        if line.starts_with("step") && line.split_whitespace().nth(1).unwrap().starts_with("15/") {
            break;
        }
    }
    let saved = json(&out_path);
    let step = saved["training"]["step"].as_u64().unwrap();
    assert!(step >= 10 && step.is_multiple_of(10), "{step}");
    assert_eq!(saved["meta"]["steps"].as_f64(), Some(step as f64));
    assert_eq!(
        saved["training"]["losses"].as_array().unwrap().len() as u64,
        step + 1
    );
    assert!(saved["training"]["adam"]["m"].as_array().is_some());
}

#[test]
fn an_interrupt_saves_the_best_parameters_history_and_plot() {
    let (dir, model) = scratch("interrupt");
    let out_path = dir.join("run.json");
    let losses = dir.join("losses.csv");
    let plot = dir.join("losses.svg");
    let (mut child, mut lines) = endless_run(
        &model,
        &[
            "--out",
            path(&out_path),
            "--losses",
            path(&losses),
            "--plot",
            path(&plot),
        ],
    );
    // Wait until training runs (a progress line), then send SIGINT as Ctrl-C would.
    loop {
        let line = lines.next().expect("a progress line").unwrap();
        if line.starts_with("step") {
            break;
        }
    }
    let kill = Command::new("kill")
        .args(["-INT", &child.0.id().to_string()])
        .status()
        .unwrap();
    assert!(kill.success());
    let rest: Vec<String> = lines.map(Result::unwrap).collect();
    let status = child.0.wait().unwrap();
    assert_eq!(status.code(), Some(130), "{rest:#?}");
    let mut summary = String::new();
    std::io::Read::read_to_string(&mut child.0.stdout.take().unwrap(), &mut summary).unwrap();
    assert!(summary.contains("stopped: interrupted"), "{summary}");
    // Everything asked for is written, consistently: the history is the run's.
    let saved = json(&out_path);
    let step = saved["training"]["step"].as_u64().unwrap() as usize;
    assert!(step >= 1);
    let history = std::fs::read_to_string(&losses).unwrap();
    assert_eq!(history.lines().count(), 1 + step + 1);
    assert!(std::fs::read_to_string(&plot).unwrap().starts_with("<svg"));
    // The saved parameters have the lowest loss of the history.
    let best = saved["meta"]["loss"].as_f64().unwrap();
    let lowest = saved["training"]["losses"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l.as_f64().unwrap())
        .fold(f64::INFINITY, f64::min);
    assert_eq!(best, lowest);
    // And the run goes on from there.
    let more = (step + 3).to_string();
    let out = sci(&[
        "train",
        &model,
        "--optimizer",
        "adam",
        "--steps",
        &more,
        "--resume",
        path(&out_path),
        "--out",
        path(&out_path),
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(json(&out_path)["training"]["step"], step + 3);
}

#[test]
fn stopping_rules_end_the_run_early_and_say_why() {
    let (_dir, model) = scratch("rules");
    let out = sci(&[
        "train",
        &model,
        "--steps",
        "500",
        "--optimizer",
        "lbfgs",
        "--tol",
        "1e-3",
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(
        stdout(&out).contains("stopped: loss reached --tol"),
        "{}",
        stdout(&out)
    );
    // A learning rate far too large: the loss soon stops improving.
    let out = sci(&[
        "train",
        &model,
        "--optimizer",
        "adam",
        "--steps",
        "500",
        "--lr",
        "0.5",
        "--patience",
        "2",
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    let text = stdout(&out);
    assert!(
        text.contains("stopped: no improvement for --patience steps"),
        "{text}"
    );
    assert!(!text.contains("in 500 steps"), "{text}");
}

#[test]
fn contradictory_long_run_options_are_refused_before_work() {
    let (dir, model) = scratch("refused");
    let ckpt = dir.join("c.json");
    for (args, message) in [
        (vec!["--checkpoint-every", "5"], "no `--out` was given"),
        (vec!["--log-every", "0"], "`--log-every` must be at least 1"),
        (vec!["--patience", "0"], "`--patience` must be at least 1"),
        (
            vec!["--resume", path(&ckpt), "--init", path(&ckpt)],
            "cannot be used with",
        ),
        (vec!["--resume", path(&ckpt)], "c.json"),
    ] {
        let mut all = vec![
            "train",
            model.as_str(),
            "--optimizer",
            "adam",
            "--steps",
            "5",
        ];
        all.extend(args.iter().copied());
        refused(&all, message);
    }
    // A checkpoint without a training state (written by hand or an older sci).
    std::fs::write(&ckpt, r#"{"model": "Decay", "params": [], "meta": {}}"#).unwrap();
    refused(
        &[
            "train",
            &model,
            "--optimizer",
            "adam",
            "--steps",
            "5",
            "--resume",
            path(&ckpt),
        ],
        "holds no training state",
    );
}

#[test]
fn the_default_schedule_follows_the_kind_of_loss() {
    let (_dir, model) = scratch("schedule");
    // `--tol` huge: the run stops after its first step; the first line states the schedule.
    let first_line = |args: &[&str]| {
        let out = sci(args);
        assert!(out.status.success(), "{args:?}: {}", stderr(&out));
        stdout(&out).lines().next().unwrap_or_default().to_string()
    };
    let pinn = first_line(&["train", &model, "--tol", "1e30"]);
    assert!(
        pinn.contains(
            "adam for 2000 steps (lr 1.0e-3), then L-BFGS up to step 20000 \
             (the default for a physics-informed loss"
        ),
        "{pinn}"
    );
    let ude = first_line(&["train", "examples/lv_ude.sci", "--tol", "1e30"]);
    assert!(
        ude.contains("500 × lbfgs (the default for a loss over ODE solutions"),
        "{ude}"
    );
    // Steps given: the kind's optimiser, Adam for half of them unless told otherwise.
    let halves = first_line(&["train", &model, "--steps", "40", "--tol", "1e30"]);
    assert!(
        halves.ends_with("adam for 20 steps (lr 1.0e-3), then L-BFGS up to step 40"),
        "{halves}"
    );
    let phase = [
        "train",
        &model,
        "--steps",
        "40",
        "--adam-steps",
        "5",
        "--tol",
        "1e30",
    ];
    assert!(first_line(&phase).contains("adam for 5 steps"));
    // Another optimiser named alone runs 1000 steps; an Adam phase needs adam+lbfgs.
    let adam = first_line(&["train", &model, "--optimizer", "adam", "--tol", "1e30"]);
    assert!(adam.ends_with("1000 × adam (lr 1.0e-3)"), "{adam}");
    refused(
        &["train", &model, "--optimizer", "lbfgs", "--adam-steps", "5"],
        "`--adam-steps` sets the Adam phase of adam+lbfgs",
    );
    refused(
        &["train", &model, "--steps", "4", "--adam-steps", "5"],
        "longer than the run",
    );
}

#[test]
fn the_loss_terms_are_reported_written_and_plotted() {
    let (dir, model) = scratch("terms");
    let (losses, plot) = (dir.join("losses.csv"), dir.join("losses.svg"));
    let out = sci(&[
        "train",
        &model,
        "--steps",
        "40",
        "--log-every",
        "20",
        "--losses",
        path(&losses),
        "--plot",
        path(&plot),
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    // Every progress line names the terms (`loss = mean(ode^2) + mean(start^2)`).
    let lines: Vec<String> = stderr(&out)
        .lines()
        .filter(|l| l.starts_with("step"))
        .map(str::to_string)
        .collect();
    assert_eq!(lines.len(), 3, "{lines:#?}");
    for line in &lines {
        assert!(
            line.contains("terms: ode ") && line.contains(", start "),
            "{line}"
        );
    }
    // The history: a column per term, sampled at the start, after step 1 and every
    // twentieth of the lines' interval; the samples add up to the loss.
    let text = std::fs::read_to_string(&losses).unwrap();
    let mut rows = text.lines();
    assert_eq!(rows.next(), Some("step,loss,ode,start"));
    let sampled: Vec<Vec<f64>> = rows
        .map(|r| {
            r.split(',')
                .map(|v| v.parse::<f64>().unwrap())
                .collect::<Vec<_>>()
        })
        .filter(|r| !r[2].is_nan())
        .collect();
    let steps: Vec<f64> = sampled.iter().map(|r| r[0]).collect();
    assert_eq!(steps.first(), Some(&0.0));
    assert_eq!(steps.last(), Some(&40.0));
    assert!(steps.len() == 41, "{steps:?}");
    for r in &sampled {
        assert!((r[2] + r[3] - r[1]).abs() <= 1e-12 * r[1], "{r:?}");
    }
    // The plot: the loss and each term, with a legend naming them.
    let svg = std::fs::read_to_string(&plot).unwrap();
    assert_eq!(svg.matches("<polyline class=\"series\"").count(), 3);
    for name in ["loss", "ode", "start"] {
        assert!(svg.contains(&format!(">\n{name}\n</text>")), "{name}");
    }
}

#[test]
fn frozen_parameters_keep_their_values_while_the_rest_train() {
    let (dir, _) = scratch("freeze");
    let block = |path: &Path, name: &str| -> Vec<f64> {
        let saved = json(path);
        let params = saved["params"].as_array().unwrap();
        let b = params.iter().find(|b| b["name"] == name).unwrap();
        b["values"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_f64().unwrap())
            .collect()
    };
    let (frozen, free) = (dir.join("frozen.json"), dir.join("free.json"));
    let run = |out: &Path, extra: &[&str]| {
        let mut args = vec![
            "train",
            "examples/lv_ude.sci",
            "--steps",
            "3",
            "--out",
            path(out),
        ];
        args.extend_from_slice(extra);
        let o = sci(&args);
        assert!(o.status.success(), "{}", stderr(&o));
        stdout(&o)
    };
    let said = run(&frozen, &["--freeze", "alpha,gamma"]);
    assert!(said.contains("356 parameters (2 frozen)"), "{said}");
    run(&free, &[]);
    // The known physics stays exactly as declared; the network moves either way.
    assert_eq!(block(&frozen, "alpha"), [1.3]);
    assert_eq!(block(&frozen, "gamma"), [0.8]);
    assert_ne!(block(&free, "alpha"), [1.3]);
    assert_ne!(block(&frozen, "h.w0"), block(&free, "h.w0"));
    // A whole network by its name; an unknown name is refused before any work.
    run(&frozen, &["--freeze", "h"]);
    let h = block(&frozen, "h.b2");
    assert!(h.iter().all(|v| *v == 0.0), "{h:?}");
    refused(
        &["train", "examples/lv_ude.sci", "--freeze", "beta"],
        "the model has no parameter `beta`",
    );
}
