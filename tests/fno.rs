//! Fourier neural operators from the language: `net G(a) = fno(…)` on data sets of
//! functions on a grid (`data d(a: real[s], u: real[s]) = npy("a.npy", "u.npy")`).
//!
//! The oracle is a direct implementation of the architecture below (the defining DFT sums,
//! loops over channels): the interpreter and Cranelift must compute its values; their
//! gradients must agree with each other and with central differences; training with
//! mini-batches must lower the held-out loss.

mod common;

use sci::runtime::{TrainSetup, Trainer};
use sci::stdlib::data::{Table, write_table};
use sci::stdlib::optim::Objective;

const GRID: usize = 16;

/// A small operator: 3 modes, 4 channels, 2 layers, a projection of 5.
fn model(test: &str) -> String {
    format!(
        "use nn.{{fno}}

model Op {{
    data pairs(a: real[{GRID}], u: real[{GRID}]) = npy(\"a.npy\", \"u.npy\"{test})
    net G(a) = fno(modes: 3, width: 4, layers: 2, projection: 5, seed: 3)
    loss = mean(norm(G(pairs.a) - pairs.u)^2)
}}
"
    )
}

/// Three rows of `[a; u]`.
fn rows() -> Vec<f64> {
    let mut rows = Vec::new();
    for r in 0..3 {
        for j in 0..GRID {
            let x = j as f64 / GRID as f64;
            rows.push((2.0 * std::f64::consts::PI * (r as f64 + 1.0) * x).sin() + 0.1 * r as f64);
        }
        for j in 0..GRID {
            rows.push(0.5 * (j as f64 / GRID as f64) - 0.2 * r as f64);
        }
    }
    rows
}

/// The operator at `a`, computed directly.
fn reference(m: &sci::Model<'_>, p: &[f64], a: &[f64]) -> Vec<f64> {
    let (modes, width, layers) = (3, 4, 2);
    let x: Vec<f64> = (0..GRID).map(|j| j as f64 / (GRID - 1) as f64).collect();
    let mut v = common::reference_layer(m, p, "lift", &[a.to_vec(), x]);
    let angle = |j: usize, k: usize| 2.0 * std::f64::consts::PI * (j * k) as f64 / GRID as f64;
    for l in 0..layers {
        let r = common::param_block(m, p, &format!("G.spectral{l}"));
        // X[i][k] = Σ_j v[i][j] e^{−iθ}
        let spectrum: Vec<Vec<(f64, f64)>> = (0..width)
            .map(|i| {
                (0..modes)
                    .map(|k| {
                        (0..GRID).fold((0.0, 0.0), |(re, im), j| {
                            (
                                re + v[i][j] * angle(j, k).cos(),
                                im - v[i][j] * angle(j, k).sin(),
                            )
                        })
                    })
                    .collect()
            })
            .collect();
        let at =
            |part: usize, o: usize, k: usize, i: usize| r[((k * 2 + part) * width + i) * width + o];
        let w = common::reference_layer(m, p, &format!("layer{l}"), &v);
        let mut next = vec![vec![0.0; GRID]; width];
        for o in 0..width {
            let mixed: Vec<(f64, f64)> = (0..modes)
                .map(|k| {
                    (0..width).fold((0.0, 0.0), |(re, im), i| {
                        let (xr, xi) = spectrum[i][k];
                        let (rr, ri) = (at(0, o, k, i), at(1, o, k, i));
                        (re + rr * xr - ri * xi, im + rr * xi + ri * xr)
                    })
                })
                .collect();
            for j in 0..GRID {
                let mut k_v = 0.0;
                for (k, (yr, yi)) in mixed.iter().enumerate() {
                    let c = if k == 0 || 2 * k == GRID { 1.0 } else { 2.0 };
                    k_v += c * (yr * angle(j, k).cos() - yi * angle(j, k).sin());
                }
                let y = k_v / GRID as f64 + w[o][j];
                next[o][j] = if l + 1 < layers {
                    common::reference_gelu(y)
                } else {
                    y
                };
            }
        }
        v = next;
    }
    common::reference_projection(m, p, &v)
}

fn compile(backend: sci::BackendKind, source: &str) -> sci::Compiled {
    sci::Compiler::new()
        .backend(backend)
        .compile_source("op.sci", source)
        .unwrap_or_else(|e| panic!("{e}"))
}

#[test]
fn an_operator_computes_its_architecture_on_every_back_end() {
    let rows = rows();
    let mut results = Vec::new();
    for backend in [sci::BackendKind::Interpreter, sci::BackendKind::Cranelift] {
        let c = compile(backend, &model(""));
        let m = c.model("Op").unwrap();
        // Perturbed weights, so that no block is symmetric by chance.
        let p: Vec<f64> = (m.params().iter().enumerate())
            .map(|(k, v)| v + 0.01 * ((k * 7919) % 13) as f64 / 13.0)
            .collect();
        let mut batch = sci::Batch::new();
        batch.set("pairs", &rows);
        let (loss, grad) = m.loss_and_grad(&p, &batch).unwrap();
        let expected = common::reference_squared_loss(&rows, GRID, |a| reference(&m, &p, a));
        assert!(
            (loss - expected).abs() <= 1e-12 * expected.abs(),
            "{backend:?}: {loss} vs the reference {expected}"
        );
        // Central differences on a spread of weights (every block is reached).
        let label = format!("{backend:?}");
        common::assert_loss_gradient_matches_central_differences(
            &m,
            &p,
            &batch,
            &grad,
            (0..p.len()).step_by(7),
            &label,
        );
        results.push((loss, grad));
    }
    let ((_, ga), (_, gb)) = (&results[0], &results[1]);
    for (k, (a, b)) in ga.iter().zip(gb).enumerate() {
        assert!(
            (a - b).abs() <= 1e-10 * (1.0 + a.abs()),
            "θ[{k}]: {a} vs {b}"
        );
    }
}

/// Writes `[count, points]` arrays `a.npy` and `u.npy` into `dir`: `u` a smoothed `a`, the
/// same functions at every number of points.
fn write_pairs(dir: &std::path::Path, count: usize, points: usize) {
    let mut a = Vec::new();
    let mut u = Vec::new();
    for r in 0..count {
        let phase = 0.37 * r as f64;
        let amplitude = 1.0 + 0.1 * (r % 5) as f64;
        for j in 0..points {
            let x = 2.0 * std::f64::consts::PI * j as f64 / points as f64;
            a.push(amplitude * ((x + phase).sin() + 0.3 * (3.0 * x - phase).cos()));
            u.push(amplitude * (0.8 * (x + phase).sin() + 0.05 * (3.0 * x - phase).cos()));
        }
    }
    let columns: Vec<String> = (0..points).map(|j| format!("c{j}")).collect();
    write_table(&dir.join("a.npy"), &Table::new(columns.clone(), a)).unwrap();
    write_table(&dir.join("u.npy"), &Table::new(columns, u)).unwrap();
}

fn trainer_setup(dir: &std::path::Path, batch: Option<usize>) -> TrainSetup {
    TrainSetup {
        data_dir: dir.to_path_buf(),
        batch,
        seed: 5,
        ..TrainSetup::default()
    }
}

#[test]
fn mini_batches_train_and_the_held_out_rows_give_the_test_loss() {
    let dir = tempfile::tempdir().unwrap();
    write_pairs(dir.path(), 24, GRID);
    let c = compile(sci::BackendKind::Cranelift, &model(", test: 4"));
    let mut trainer = Trainer::new(&c, "Op", trainer_setup(dir.path(), Some(6))).unwrap();
    assert_eq!(trainer.data_rows(), vec![("pairs", 20, 4)]);
    assert_eq!(trainer.steps_per_epoch(), Some(4));
    let mut p = trainer.model().params();
    let options = sci::stdlib::optim::TrainOptions {
        steps: 60,
        lr: 1e-2,
        resample_every: Some(1),
        weight_decay: 1e-4,
        test_every: Some(4),
        keep_last: true,
        ..Default::default()
    };
    let report = sci::stdlib::optim::train(&mut trainer, &mut p, &options, &mut |_| {
        sci::stdlib::optim::Control::Continue
    })
    .unwrap();
    // The test loss after every epoch, from the start to the end.
    let steps: Vec<usize> = report.tests.iter().map(|(s, _)| *s).collect();
    assert_eq!(steps, (0..=15).map(|e| 4 * e).collect::<Vec<_>>());
    let (first, last) = (report.tests[0].1, report.tests[15].1);
    assert!(
        last < 0.5 * first,
        "the test loss went from {first} to {last}"
    );
    // A batch is a subset of the training rows: 20 rows in batches of 6, 6, 6 and 2, and
    // step 60's gradient is on the last batch of an epoch.
    let batch = trainer.inputs().remove(0).1;
    assert_eq!(batch.len(), 2 * 2 * GRID);
    // The test loss is the loss on the last 4 rows, at the parameters returned (the last).
    let rows = sci::stdlib::data::read_array(&dir.path().join("a.npy"))
        .unwrap()
        .1;
    let targets = sci::stdlib::data::read_array(&dir.path().join("u.npy"))
        .unwrap()
        .1;
    let mut held_out = Vec::new();
    for r in 20..24 {
        held_out.extend_from_slice(&rows[r * GRID..(r + 1) * GRID]);
        held_out.extend_from_slice(&targets[r * GRID..(r + 1) * GRID]);
    }
    let mut on_test = sci::Batch::new();
    on_test.set("pairs", &held_out);
    let expected = trainer.model().loss(&p, &on_test).unwrap();
    assert_eq!(trainer.test_loss(&p).unwrap(), Some(expected));
    assert_eq!(expected, last);
    // The same seed gives the same batches, so the same run.
    let mut again = Trainer::new(&c, "Op", trainer_setup(dir.path(), Some(6))).unwrap();
    let mut q = again.model().params();
    let report2 = sci::stdlib::optim::train(&mut again, &mut q, &options, &mut |_| {
        sci::stdlib::optim::Control::Continue
    })
    .unwrap();
    assert_eq!(report.losses, report2.losses);
    assert_eq!(p, q);
    assert!(again.n_params() > 0);
}

#[test]
fn grid_data_and_operators_are_checked() {
    for (source, says) in [
        (
            model("").replace("net G(a)", "net G(a, b)"),
            "takes one input",
        ),
        (
            model("").replace("modes: 3", "modes: 12"),
            "a grid of 16 points has only 9",
        ),
        (
            model("").replace("npy(\"a.npy\", \"u.npy\")", "npy(\"a.npy\")"),
            "read one file per column",
        ),
        (
            model("").replace("npy(\"a.npy\", \"u.npy\")", "csv(\"a.csv\", \"u.csv\")"),
            "its own .npy file",
        ),
        (
            model("").replace("seed: 3", "seeds: 3"),
            "`fno` has no option `seeds`",
        ),
        (
            model("").replace("G(pairs.a)", "G(pairs.a[0])"),
            "maps a function on a grid",
        ),
        (model(", test: 0"), "at least one row"),
    ] {
        let err = sci::Compiler::new()
            .backend(sci::BackendKind::Interpreter)
            .compile_source("op.sci", &source)
            .err()
            .unwrap_or_else(|| panic!("no error for:\n{source}"))
            .to_string();
        assert!(err.contains(says), "expected `{says}` in:\n{err}");
    }
}

fn sci(dir: &std::path::Path, args: &[&str]) -> (bool, String) {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_sci"))
        .current_dir(dir)
        .args(args)
        .output()
        .unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.success(), text)
}

/// `sci train --batch --epochs` with a test split, then the trained operator evaluated on
/// the same functions on a grid twice as fine (`--steps 0 --param s=32 --data …`).
#[test]
fn the_command_line_trains_by_epochs_and_evaluates_on_a_finer_grid() {
    let dir = tempfile::tempdir().unwrap();
    write_pairs(dir.path(), 24, GRID);
    let fine = dir.path().join("fine");
    std::fs::create_dir(&fine).unwrap();
    write_pairs(&fine, 24, 2 * GRID);
    let source = model(", test: 4")
        .replace("model Op {", "model Op {\n    const s = 16")
        .replace(&format!("real[{GRID}]"), "real[s]")
        .replace(
            "mean(norm(G(pairs.a) - pairs.u)^2)",
            "mean(norm(G(pairs.a) - pairs.u) / norm(pairs.u))",
        );
    std::fs::write(dir.path().join("op.sci"), source).unwrap();
    let (ok, text) = sci(
        dir.path(),
        &[
            "train",
            "op.sci",
            "--batch",
            "5",
            "--epochs",
            "6",
            "--lr",
            "0.01",
            "--weight-decay",
            "1e-4",
            "--lr-step",
            "3",
            "--out",
            "op.json",
            "--losses",
            "losses.csv",
        ],
    );
    assert!(ok, "{text}");
    assert!(
        text.contains("20 training rows in batches of 5 (4 steps per epoch), 4 test rows"),
        "{text}"
    );
    assert!(text.contains("in 24 steps"), "{text}");
    assert!(
        text.contains("lr 5.0e-3"),
        "the rate halves after 3 epochs:\n{text}"
    );
    let losses = std::fs::read_to_string(dir.path().join("losses.csv")).unwrap();
    assert!(
        losses.lines().next().unwrap().ends_with(",test"),
        "{losses}"
    );
    let tests: Vec<f64> = (losses.lines().skip(1))
        .filter_map(|l| l.rsplit(',').next()?.parse().ok())
        .filter(|x: &f64| x.is_finite())
        .collect();
    assert_eq!(
        tests.len(),
        7,
        "the test loss at the start and after each epoch:\n{losses}"
    );
    assert!(tests[6] < tests[0], "{tests:?}");
    // Evaluation only, on the same grid, then zero-shot on the finer grid.
    let (ok, coarse) = sci(
        dir.path(),
        &["train", "op.sci", "--init", "op.json", "--steps", "0"],
    );
    assert!(ok, "{coarse}");
    assert!(coarse.contains("Op: test loss"), "{coarse}");
    let (ok, fine_text) = sci(
        dir.path(),
        &[
            "train",
            "op.sci",
            "--init",
            "op.json",
            "--steps",
            "0",
            "--param",
            "s=32",
            "--data",
            "pairs=fine/a.npy,fine/u.npy",
        ],
    );
    assert!(ok, "{fine_text}");
    let test_loss = |text: &str| -> f64 {
        let line = text
            .lines()
            .find(|l| l.starts_with("Op: test loss"))
            .unwrap();
        line.rsplit(' ').next().unwrap().parse().unwrap()
    };
    let (at16, at32) = (test_loss(&coarse), test_loss(&fine_text));
    assert!(
        at32.is_finite() && (at32 - at16).abs() < 0.5 * at16 + 0.05,
        "{at16} vs {at32}"
    );
    // Files that do not fit are refused, naming the shape.
    let (ok, text) = sci(
        dir.path(),
        &[
            "train",
            "op.sci",
            "--init",
            "op.json",
            "--steps",
            "0",
            "--data",
            "pairs=fine/a.npy,fine/u.npy",
        ],
    );
    assert!(!ok && text.contains("needs [rows, 16]"), "{text}");
    let (ok, text) = sci(
        dir.path(),
        &["train", "op.sci", "--steps", "0", "--data", "obs=x.npy"],
    );
    assert!(!ok && text.contains("no data set `obs`"), "{text}");
}
