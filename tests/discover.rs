//! `sci discover`: equations found in sampled trajectories — Lorenz's 7 terms from data
//! alone (coefficients within 1 %), Lotka–Volterra's 4 with the coefficients refitted
//! through the ODE solution — or in a trained network (an affine one exactly; Rackauckas
//! et al.'s UDE, whose missing terms the data choose), written as models that check, solve
//! and train; and the errors for input that cannot be used.

mod common;

use std::path::Path;

use common::{sci_in, scratch, stderr, stdout};

fn example(name: &str) -> String {
    format!("{}/examples/{name}.sci", env!("CARGO_MANIFEST_DIR"))
}

/// The parameters of the model written to `path`, by name.
fn written_params(path: &Path) -> Vec<(String, f64)> {
    let compiled = sci::Compiler::new().compile_file(path).unwrap();
    let model = compiled.model("Discovered").unwrap();
    let names = sci::runtime::element_names(&model.ir().params);
    names.into_iter().zip(model.params()).collect()
}

fn assert_params(found: &[(String, f64)], truth: &[(&str, f64)], rel: f64) {
    let names: Vec<&str> = found.iter().map(|(n, _)| n.as_str()).collect();
    let want: Vec<&str> = truth.iter().map(|(n, _)| *n).collect();
    assert_eq!(names, want, "the support");
    for ((name, got), (_, want)) in found.iter().zip(truth) {
        assert!(
            ((got - want) / want).abs() <= rel,
            "{name} = {got}, want {want} within {rel}"
        );
    }
}

#[test]
fn lorenz_equations_from_its_trajectory_alone() {
    let dir = scratch("discover_lorenz");
    let run = sci_in(
        &dir,
        &[
            "run",
            &example("lorenz"),
            "--points",
            "5001",
            "--rtol",
            "1e-10",
            "--atol",
            "1e-12",
            "--out",
            "lorenz.csv",
        ],
    );
    assert!(run.status.success(), "{}", stderr(&run));
    let out = sci_in(
        &dir,
        &[
            "discover",
            "lorenz.csv",
            "--degree",
            "2",
            "--out",
            "found.sci",
        ],
    );
    assert!(out.status.success(), "{}", stderr(&out));
    let text = stdout(&out);
    assert!(text.contains("dx/dt = -10.00 x + 10.00 y"), "{text}");
    assert!(text.contains("dz/dt = -2.667 z + 1.000 x*y"), "{text}");
    assert!(
        text.contains("<- chosen"),
        "the Pareto front is printed: {text}"
    );
    assert_params(
        &written_params(&dir.join("found.sci")),
        &[
            ("c_x_x", -10.0),
            ("c_x_y", 10.0),
            ("c_y_x", 28.0),
            ("c_y_y", -1.0),
            ("c_y_x_z", -1.0),
            ("c_z_z", -8.0 / 3.0),
            ("c_z_x_y", 1.0),
        ],
        0.01,
    );
    // The written model checks, is in canonical format and solves.
    let check = sci_in(&dir, &["check", "found.sci"]);
    assert!(check.status.success(), "{}", stderr(&check));
    let fmt = sci_in(&dir, &["fmt", "--check", "found.sci"]);
    assert!(fmt.status.success(), "{}", stderr(&fmt));
    let solve = sci_in(&dir, &["run", "found.sci", "--points", "11"]);
    assert!(solve.status.success(), "{}", stderr(&solve));
}

#[test]
fn lotka_volterra_terms_refitted_through_the_ode_solution() {
    let dir = scratch("discover_lv");
    let run = sci_in(
        &dir,
        &[
            "run",
            &example("lotka_volterra"),
            "--points",
            "401",
            "--rtol",
            "1e-10",
            "--atol",
            "1e-12",
            "--out",
            "lv.csv",
        ],
    );
    assert!(run.status.success(), "{}", stderr(&run));
    let out = sci_in(
        &dir,
        &[
            "discover",
            "lv.csv",
            "--vars",
            "prey,pred",
            "--degree",
            "3",
            "--out",
            "lv.sci",
            "--refit",
        ],
    );
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(stdout(&out).contains("refitted the coefficients"));
    // The example's α, β, γ, δ = 1.5, 1, 3, 1: after the refit to the solver's tolerance.
    assert_params(
        &written_params(&dir.join("lv.sci")),
        &[
            ("c_prey_prey", 1.5),
            ("c_prey_prey_pred", -1.0),
            ("c_pred_pred", -3.0),
            ("c_pred_prey_pred", 1.0),
        ],
        1e-6,
    );
    // `sci train` refits the written model too (its data and loss are in it).
    let train = sci_in(&dir, &["train", "lv.sci", "--steps", "2"]);
    assert!(train.status.success(), "{}", stderr(&train));
}

#[test]
fn bad_data_and_options_are_input_errors() {
    let dir = scratch("discover_errors");
    std::fs::write(dir.join("d.csv"), "t,x\n0,1\n1,2\n").unwrap();
    std::fs::write(
        dir.join("few.csv"),
        "t,x,y\n0,1,2\n0.1,1.1,2.1\n0.2,1.2,2.3\n",
    )
    .unwrap();
    let cases: [(&[&str], &str); 5] = [
        (
            &["discover", "d.csv", "--vars", "nope"],
            "has no column `nope`",
        ),
        (&["discover", "d.csv", "--out", "d.csv"], "--out"),
        (&["discover", "d.csv", "--out", "model.txt"], ".sci"),
        (&["discover", "few.csv", "--degree", "3"], "terms"),
        (&["discover", "missing.csv"], "missing.csv"),
    ];
    for (args, expect) in cases {
        let out = sci_in(&dir, args);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {}", stderr(&out));
        assert!(stderr(&out).contains(expect), "{args:?}: {}", stderr(&out));
    }
    assert!(!dir.join("model.txt").exists());
    assert_eq!(
        std::fs::read_to_string(dir.join("d.csv")).unwrap(),
        "t,x\n0,1\n1,2\n",
        "the data is never overwritten"
    );
}

/// A universal differential equation whose network is affine (identity activation), so
/// its exact terms are known: discovery over degree-1 terms recovers them, and the written
/// model — the network replaced by them — has the same right-hand side.
const LINEAR_UDE: &str = "use nn.{mlp}

model LinearUDE {
    param a = 0.5

    net h(x, y) = mlp(hidden: [3], activation: identity, outputs: 2, seed: 1)

    state x = 1.0
    state y = 2.0

    der(x) = -a * x + h(x, y)[0]
    der(y) = h(2 * y, x)[1]

    domain time: t in [0, 2]
}
";

#[test]
fn a_trained_network_replaced_by_its_terms() {
    let dir = scratch("discover_network");
    std::fs::write(dir.join("ude.sci"), LINEAR_UDE).unwrap();
    let compiled = sci::Compiler::new()
        .compile_file(dir.join("ude.sci"))
        .unwrap();
    let model = compiled.model("LinearUDE").unwrap();
    // "Trained" parameters: the initial ones, scaled so they are not the defaults.
    let p: Vec<f64> = model.params().iter().map(|x| 1.5 * x).collect();
    let checkpoint = sci::runtime::checkpoint(&model, &p, Vec::new());
    let path = dir.join("trained.json");
    sci::stdlib::checkpoint::save(&path, &checkpoint).unwrap();

    let out = sci_in(
        &dir,
        &[
            "discover",
            "ude.sci",
            "--params-file",
            "trained.json",
            "--degree",
            "1",
            "--out",
            "found.sci",
        ],
    );
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(stdout(&out).contains("h[0] = "), "{}", stdout(&out));
    let text = std::fs::read_to_string(dir.join("found.sci")).unwrap();
    assert!(!text.contains("net h"), "{text}");
    assert!(
        text.contains("param a = 0.75"),
        "the model's own parameters keep their trained values: {text}"
    );

    // The network's affine map from three evaluations, against the written coefficients.
    let net = model.function("net.h").unwrap();
    let at = |x: f64, y: f64| net.call(&[&p, &[x], &[y]]).unwrap();
    let (h00, h10, h01) = (at(0.0, 0.0), at(1.0, 0.0), at(0.0, 1.0));
    let found = sci::Compiler::new()
        .compile_file(dir.join("found.sci"))
        .unwrap();
    let rewritten = found.model("LinearUDE").unwrap();
    let params: Vec<(String, f64)> = sci::runtime::element_names(&rewritten.ir().params)
        .into_iter()
        .zip(rewritten.params())
        .collect();
    let value = |name: &str| {
        params
            .iter()
            .find(|(n, _)| n == name)
            .map_or(0.0, |(_, v)| *v)
    };
    for k in 0..2 {
        let close = |got: f64, want: f64| (got - want).abs() <= 1e-9 * (1.0 + want.abs());
        assert!(close(value(&format!("c_h{k}_1")), h00[k]), "{params:?}");
        assert!(
            close(value(&format!("c_h{k}_x")), h10[k] - h00[k]),
            "{params:?}"
        );
        assert!(
            close(value(&format!("c_h{k}_y")), h01[k] - h00[k]),
            "{params:?}"
        );
    }
    // Same right-hand side (the second use's arguments `2 * y, x` substituted too).
    for (t, y) in [(0.0, [1.0, 2.0]), (0.7, [-0.3, 0.9])] {
        let mut want = [0.0; 2];
        model.rhs(t, &y, &p, &mut want).unwrap();
        let mut got = [0.0; 2];
        rewritten.rhs(t, &y, &rewritten.params(), &mut got).unwrap();
        for (g, w) in got.iter().zip(want) {
            assert!(
                (g - w).abs() <= 1e-9 * (1.0 + w.abs()),
                "{got:?} vs {want:?}"
            );
        }
    }
    let check = sci_in(&dir, &["fmt", "--check", "found.sci"]);
    assert!(check.status.success(), "{}", stderr(&check));

    // A model without data cannot have its candidates judged by the data.
    let out = sci_in(
        &dir,
        &[
            "discover",
            "ude.sci",
            "--params-file",
            "trained.json",
            "--select",
            "data",
        ],
    );
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("--select network"),
        "{}",
        stderr(&out)
    );

    // Without trained parameters: an input error.
    let out = sci_in(&dir, &["discover", "ude.sci"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("--params-file"), "{}", stderr(&out));
}

/// Rackauckas et al.'s experiment (`examples/lv_scenario1.sci`) from a committed training
/// result — the example's network trained on its data with the schedule its header gives
/// (`tests/fixtures/lv_scenario1_trained.json`): the network's outputs alone choose a
/// 20-term model, the data choose exactly `x*y` in both outputs, refitted to within 10 %
/// of (−0.9, +0.8), and the written model checks and solves.
#[test]
fn the_data_choose_the_missing_lotka_volterra_terms() {
    let dir = scratch("discover_lv_scenario1");
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    std::fs::create_dir_all(dir.join("data")).unwrap();
    for (from, to) in [
        ("examples/lv_scenario1.sci", "lv.sci"),
        ("examples/data/lv_scenario1.csv", "data/lv_scenario1.csv"),
        ("tests/fixtures/lv_scenario1_trained.json", "trained.json"),
    ] {
        std::fs::copy(root.join(from), dir.join(to)).unwrap();
    }
    let library = ["--degree", "5", "--functions", "sin"];
    let discover = |extra: &[&str]| {
        let mut args = vec!["discover", "lv.sci", "--params-file", "trained.json"];
        args.extend(library);
        args.extend(extra);
        sci_in(&dir, &args)
    };

    let out = discover(&["--out", "found.sci"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let text = stdout(&out);
    assert!(text.contains("(62 measured values"), "{text}");
    let chosen = text.split("chosen by the data").nth(1).unwrap_or_default();
    assert!(chosen.contains("U[0] = -0.9"), "{text}");
    let compiled = sci::Compiler::new()
        .compile_file(dir.join("found.sci"))
        .unwrap();
    let model = compiled.model("LotkaVolterraScenario1").unwrap();
    let names = sci::runtime::element_names(&model.ir().params);
    let coefficients: Vec<(String, f64)> = names
        .into_iter()
        .zip(model.params())
        .filter(|(n, _)| n.starts_with("c_"))
        .collect();
    assert_params(&coefficients, &[("c_U0_x_y", -0.9), ("c_U1_x_y", 0.8)], 0.1);
    assert!(
        sci_in(&dir, &["fmt", "--check", "found.sci"])
            .status
            .success()
    );
    let run = sci_in(
        &dir,
        &["run", "found.sci", "--t-end", "50", "--points", "11"],
    );
    assert!(run.status.success(), "{}", stderr(&run));

    // Written elsewhere, the model reads the same data (by absolute paths; the choice on
    // the network's outputs writes it the same way, faster).
    let elsewhere = scratch("discover_lv_scenario1_elsewhere").join("found.sci");
    let out = discover(&["--select", "network", "--out", elsewhere.to_str().unwrap()]);
    assert!(out.status.success(), "{}", stderr(&out));
    let text = std::fs::read_to_string(&elsewhere).unwrap();
    let data = dir.join("data/lv_scenario1.csv").canonicalize().unwrap();
    assert!(
        text.contains(&format!("csv(\"{}\")", data.display())),
        "{text}"
    );
    let loss = sci_in(&dir, &["eval", elsewhere.to_str().unwrap(), "loss"]);
    assert!(loss.status.success(), "{}", stderr(&loss));

    // The model file itself is no output: refused before any work, the file untouched.
    let before = std::fs::read(dir.join("lv.sci")).unwrap();
    let out = discover(&["--out", "lv.sci"]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("the model file itself"),
        "{}",
        stderr(&out)
    );
    assert_eq!(std::fs::read(dir.join("lv.sci")).unwrap(), before);

    // On the network's outputs alone, AICc keeps far more than the two true terms.
    let out = discover(&["--select", "network"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let dense = stdout(&out);
    let u0 = dense.lines().find(|l| l.starts_with("U[0] = ")).unwrap();
    assert!(
        u0.matches(" + ").count() + u0.matches(" - ").count() >= 4,
        "{dense}"
    );
}

/// The same choice through the Rust API: the network along the solution, the candidates,
/// and their judgement by the data.
#[test]
fn the_data_choose_the_missing_terms_through_the_rust_api() {
    use sci::runtime::data_selection::judge;
    use sci::stdlib::discover::{CandidateOptions, LibrarySpec, Options, discover_candidates};

    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let path = root.join("examples/lv_scenario1.sci");
    let compiled = sci::Compiler::new().compile_file(&path).unwrap();
    let model = compiled.model("LotkaVolterraScenario1").unwrap();
    let checkpoint =
        sci::stdlib::checkpoint::load(&root.join("tests/fixtures/lv_scenario1_trained.json"))
            .unwrap();
    let p = sci::runtime::params_from_checkpoint(&model, &checkpoint).unwrap();
    let options = sci::stdlib::ode::SolveOptions {
        rtol: 1e-8,
        atol: 1e-10,
        ..Default::default()
    };
    let solution = model.simulate(&p, &options).unwrap();
    let networks = sci::runtime::networks(model.ir());
    let net = &networks[0];
    let samples = sci::runtime::along_solution(&model, &p, net, &solution).unwrap();
    assert_eq!(samples.rows, solution.t.len());
    let library = LibrarySpec {
        degree: 5,
        functions: vec!["sin".into()],
    };
    let (_, candidates) = discover_candidates(
        &samples.args,
        &samples.outputs,
        &net.args,
        &library,
        &Options::default(),
        &CandidateOptions::default(),
    )
    .unwrap();
    assert!(candidates.len() > 16 && candidates.len() <= 65);

    let source = std::fs::read_to_string(&path).unwrap();
    let fixed = vec![
        ("alpha".to_string(), vec![1.3]),
        ("delta".to_string(), vec![1.8]),
    ];
    let dir = root.join("examples");
    let compile = |c: &sci::stdlib::discover::Discovered| {
        let text = sci::runtime::network_rewrite::replace_network(
            &source,
            "LotkaVolterraScenario1",
            "U",
            c,
            None,
            &fixed,
        )
        .unwrap();
        Ok(sci::Compiler::new()
            .data_dir(&dir)
            .compile_source("found.sci", &text)
            .unwrap())
    };
    let judgement = judge(&candidates, &compile, &dir, 200, &|n| n.starts_with("c_U")).unwrap();
    assert_eq!(judgement.observations, 62);
    let best = &judgement.judged[0];
    let chosen = &candidates[best.candidate];
    let terms: Vec<String> = (chosen.equations.iter())
        .flat_map(|e| e.terms.iter().map(|(t, _)| t.to_string()))
        .collect();
    assert_eq!(terms, ["x*y", "x*y"]);
    let refitted: Vec<f64> = (best.refit.params.iter())
        .filter(|(n, _)| n.starts_with("c_U"))
        .map(|(_, v)| *v)
        .collect();
    assert!((refitted[0] + 0.9).abs() <= 0.09, "{refitted:?}");
    assert!((refitted[1] - 0.8).abs() <= 0.08, "{refitted:?}");
    // Best first.
    for pair in judgement.judged.windows(2) {
        assert!(pair[0].ebic <= pair[1].ebic);
    }
}
