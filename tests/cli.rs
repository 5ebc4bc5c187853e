//! The `sci` binary as a user runs it: exit codes, output, files written.

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

fn scratch(name: &str) -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("cli");
    std::fs::create_dir_all(&dir).unwrap();
    dir.join(name)
}

#[test]
fn check_accepts_every_example() {
    let mut args = vec!["check", "--color", "never"];
    let mut examples: Vec<String> =
        std::fs::read_dir(concat!(env!("CARGO_MANIFEST_DIR"), "/examples"))
            .unwrap()
            .map(|e| format!("examples/{}", e.unwrap().file_name().to_string_lossy()))
            .filter(|p| p.ends_with(".sci"))
            .collect();
    examples.sort();
    args.extend(examples.iter().map(String::as_str));
    let out = sci(&args);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(stdout(&out).matches(": ok").count(), examples.len());
}

#[test]
fn check_rejects_a_broken_file_with_exit_code_1_and_a_located_message() {
    let path = scratch("broken.sci");
    std::fs::write(
        &path,
        "model M {\n    state x = 1.0\n    der(x) = -k * x\n}\n",
    )
    .unwrap();
    let out = sci(&["check", "--color", "never", path.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1));
    let err = stderr(&out);
    assert!(err.contains("broken.sci:3:"), "{err}");
    assert!(err.contains('k'), "{err}");
}

#[test]
fn check_reports_an_unreadable_file_with_exit_code_2() {
    let out = sci(&["check", "does/not/exist.sci"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("cannot read"), "{}", stderr(&out));
}

#[test]
fn eval_rhs_uses_default_parameters_and_initial_state() {
    let out = sci(&["eval", "examples/lotka_volterra.sci", "rhs"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(stdout(&out), "der(prey) = -35\nder(pred) = 35\n");
}

#[test]
fn eval_accepts_inputs_and_parameter_overrides() {
    let out = sci(&[
        "eval",
        "examples/lotka_volterra.sci",
        "rhs",
        "y=2,3",
        "alpha=2",
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    // 2·2 − 1·2·3 = −2; 1·2·3 − 3·3 = −3.
    assert_eq!(stdout(&out), "der(prey) = -2\nder(pred) = -3\n");
}

#[test]
fn eval_instantiates_a_generic_function_for_the_given_shapes() {
    let out = sci(&["eval", "examples/rosenbrock.sci", "rosenbrock", "x=1,1,1,1"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(stdout(&out), "rosenbrock = 0\n");
    let out = sci(&["eval", "examples/rosenbrock.sci", "rosenbrock", "x=0,0"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(stdout(&out), "rosenbrock = 1\n");
}

#[test]
fn eval_expands_derivatives_and_prints_matrices_by_rows() {
    // f = 100(x₂ − x₁²)² + (1 − x₁)²: ∇f(1, 2) = (−400, 200); ∇²f(1, 1) = [[802, −400], [−400, 200]].
    let out = sci(&[
        "eval",
        "examples/rosenbrock.sci",
        "rosenbrock_grad",
        "x=1,2",
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(stdout(&out), "rosenbrock_grad = [-400, 200]\n");
    let out = sci(&[
        "eval",
        "examples/rosenbrock.sci",
        "rosenbrock_hessian",
        "x=1,1",
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(
        stdout(&out),
        "rosenbrock_hessian = [[802, -400], [-400, 200]]\n"
    );
}

#[test]
fn eval_names_the_known_inputs_when_given_an_unknown_one() {
    let out = sci(&["eval", "examples/lotka_volterra.sci", "rhs", "zeta=1"]);
    assert_eq!(out.status.code(), Some(2));
    let err = stderr(&out);
    assert!(err.contains("zeta") && err.contains("alpha"), "{err}");
}

#[test]
fn compile_emits_ir_that_reads_back() {
    let path = scratch("lv.sir");
    let out = sci(&[
        "compile",
        "examples/lotka_volterra.sci",
        "--emit",
        "ir",
        "-o",
        path.to_str().unwrap(),
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    let text = std::fs::read_to_string(&path).unwrap();
    assert!(text.contains("rhs"), "{text}");
    let module = sci::ir::read::read_module(sci::diag::FileId(0), &text).unwrap();
    assert_eq!(sci::ir::print::print_module(&module), text);
}

#[test]
fn compile_emits_the_syntax_tree() {
    let out = sci(&["compile", "examples/van_der_pol.sci", "--emit", "ast"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let text = stdout(&out);
    assert!(text.contains("VanDerPol") && text.contains("mu"), "{text}");
}

#[test]
fn fmt_check_passes_on_the_examples_and_fails_on_a_messy_file() {
    let out = sci(&[
        "fmt",
        "--check",
        "examples/lotka_volterra.sci",
        "examples/heat1d.sci",
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    let path = scratch("messy.sci");
    std::fs::write(&path, "model   M{param k=1\nstate x=1\nder(x)=-k*x}\n").unwrap();
    let out = sci(&["fmt", "--check", path.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1));
    let out = sci(&["fmt", path.to_str().unwrap()]);
    assert!(out.status.success(), "{}", stderr(&out));
    let out = sci(&["fmt", "--check", path.to_str().unwrap()]);
    assert!(out.status.success(), "{}", stderr(&out));
    let out = sci(&["check", path.to_str().unwrap()]);
    assert!(out.status.success(), "{}", stderr(&out));
}

/// A closed stdout and stderr (`sci check bad.sci 2>&1 | head -1`) cost the messages, not
/// the exit code: no panic (101) on any subcommand's error or success path.
#[test]
fn closed_stdout_and_stderr_do_not_panic() {
    let bad = scratch("closed_pipes_bad.sci");
    std::fs::write(&bad, "model M {\n  state x = 1\n  der(x) = y\n}\n").unwrap();
    let bad = bad.to_str().unwrap();
    let cases: Vec<(Vec<&str>, i32)> = vec![
        (vec!["check", bad], 1),
        (vec!["check", "examples/lotka_volterra.sci"], 0),
        (vec!["compile", bad], 1),
        (vec!["compile", "examples/lotka_volterra.sci"], 0),
        (vec!["fmt", "--check", bad], 1),
        (vec!["eval", bad, "rhs"], 1),
        (vec!["run", bad], 1),
        (
            vec!["run", "examples/lotka_volterra.sci", "--rtol", "-1"],
            2,
        ),
        (vec!["train", bad], 1),
        (vec!["run", "examples/lotka_volterra.sci"], 0),
    ];
    for (args, code) in cases {
        let mut child = Command::new(env!("CARGO_BIN_EXE_sci"))
            .args(&args)
            .current_dir(env!("CARGO_MANIFEST_DIR"))
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .expect("the sci binary runs");
        // Close both pipes' reading ends: every write the command makes fails.
        drop(child.stdout.take());
        drop(child.stderr.take());
        let status = child.wait().unwrap();
        assert_eq!(status.code(), Some(code), "{args:?}");
    }
}

/// Sizes and files that would exhaust time or memory are refused with exit code 2 and a
/// message: a device as the model file (`/dev/zero` never ends), output point counts past
/// the limit (one overflowed `usize` arithmetic, the other asked for terabytes).
#[test]
fn unbounded_inputs_are_refused() {
    // A data set and a checkpoint that are directories (with the right extensions).
    let data_dir = scratch("observations.csv");
    std::fs::create_dir_all(&data_dir).unwrap();
    let model = scratch("data_is_a_directory.sci");
    std::fs::write(
        &model,
        format!(
            "model D {{\n  param k = 1.0\n  state x = 1.0\n  der(x) = -k * x\n  \
             data obs(t, x) = csv(\"{}\")\n  loss = mean((x(obs.t) - obs.x)^2)\n  \
             domain time: t in [0, 1]\n}}\n",
            data_dir.display()
        ),
    )
    .unwrap();
    let model = model.to_str().unwrap();
    let checkpoint_dir = scratch("params.json");
    std::fs::create_dir_all(&checkpoint_dir).unwrap();
    let checkpoint_dir = checkpoint_dir.to_str().unwrap();
    let cases: Vec<(Vec<&str>, &str)> = vec![
        (vec!["check", "/dev/zero"], "not a regular file"),
        (vec!["run", "/dev/zero"], "not a regular file"),
        (vec!["train", model, "--steps", "1"], "not a regular file"),
        (
            vec![
                "run",
                "examples/lotka_volterra.sci",
                "--params-file",
                checkpoint_dir,
            ],
            "not a regular file",
        ),
        (
            vec!["train", "examples/lv_ude.sci", "--init", checkpoint_dir],
            "not a regular file",
        ),
        (
            vec![
                "run",
                "examples/lotka_volterra.sci",
                "--points",
                "18446744073709551615",
            ],
            "too large",
        ),
        (
            vec![
                "run",
                "examples/lotka_volterra.sci",
                "--points",
                "1000000000000",
            ],
            "too large",
        ),
    ];
    for (args, message) in cases {
        if args.contains(&"/dev/zero") && !Path::new("/dev/zero").exists() {
            continue;
        }
        let o = sci(&args);
        assert_eq!(o.status.code(), Some(2), "{args:?}: {}", stderr(&o));
        assert!(stderr(&o).contains(message), "{args:?}: {}", stderr(&o));
    }
}

/// Reporting is linear in the input: a model on one line with 4,000 unused parameters (once
/// minutes and gigabytes to report) gets excerpts for none of them (the line is too long to
/// show) and one short entry each, with its place.
#[test]
fn diagnostics_of_a_long_line_are_reported_in_linear_space() {
    let path = scratch("long_line.sci");
    let params: Vec<String> = (0..4000).map(|k| format!("param p{k} = 1")).collect();
    let text = format!(
        "model M {{ {} state x = 1 der(x) = -x }}\n",
        params.join(" ")
    );
    std::fs::write(&path, &text).unwrap();
    let o = sci(&["check", "--color", "never", path.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let err = stderr(&o);
    assert_eq!(err.matches("warning[W0201]").count(), 4000);
    assert!(err.len() < 4000 * 200, "{} bytes of diagnostics", err.len());
    assert!(err.contains("long_line.sci:1:17"), "{}", &err[..300]);
    assert!(err.contains("(4000 diagnostics; the first 100 with source excerpts)"));
}

/// A function the file does not have is a bad argument (exit 2), and the message lists the
/// functions it has.
#[test]
fn eval_of_an_unknown_function_lists_the_known_ones() {
    let out = sci(&["eval", "examples/rosenbrock.sci", "rosenbrok", "x=1,1"]);
    assert_eq!(out.status.code(), Some(2));
    let err = stderr(&out);
    assert!(
        err.contains("its functions are: ") && err.contains("did you mean `rosenbrock`"),
        "{err}"
    );
}

/// `sci check` reads on past a file it cannot read: every other file is still checked, and
/// the exit code says a file could not be read (2).
#[test]
fn check_goes_on_past_a_missing_file() {
    let out = sci(&[
        "check",
        "examples/no_such_model.sci",
        "examples/pendulum.sci",
    ]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stdout(&out).contains("examples/pendulum.sci: ok"),
        "{}",
        stdout(&out)
    );
    let err = stderr(&out);
    assert!(
        err.contains("no_such_model.sci") && err.contains("1 of 2 files failed to check"),
        "{err}"
    );
}

/// A chain of calls is measured whole, even when its inner functions were checked first:
/// one 32 deep checks and runs (derivatives included), one 33 deep is refused by the
/// checker (E0223) instead of failing at run time.
#[test]
fn call_chains_past_the_limit_are_refused_by_the_checker() {
    let chain = |n: usize| {
        let mut src = String::from("fn f0(x: real) = x + 1.0\n");
        for k in 1..n {
            src.push_str(&format!("fn f{k}(x: real) = f{}(x) + 1.0\n", k - 1));
        }
        src.push_str(&format!(
            "model C {{\n    state y = 1.0\n    der(y) = -0.001 * f{}(y)\n}}\n",
            n - 1
        ));
        let path = scratch(&format!("chain{n}.sci"));
        std::fs::write(&path, src).unwrap();
        path
    };
    let ok = chain(32);
    let ok = ok.to_str().unwrap();
    assert_eq!(sci(&["check", ok]).status.code(), Some(0));
    let run = sci(&["run", ok, "--t-end", "1", "--solver", "bdf"]);
    assert_eq!(run.status.code(), Some(0), "{}", stderr(&run));
    let deep = chain(33);
    let out = sci(&["check", deep.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).contains("E0223") && stderr(&out).contains("more than 32 deep"),
        "{}",
        stderr(&out)
    );
}

/// The README's exit codes hold for every subcommand: 0 success, 1 errors in the input,
/// 2 the command could not run (bad options, missing files, an unknown function), 3 the
/// computation failed on valid input (a solver gave up, the loss is NaN).
#[test]
fn exit_codes_follow_the_readme_table() {
    let file = |name: &str, text: &str| {
        let path = scratch(name);
        std::fs::write(&path, text).unwrap();
        path.to_str().unwrap().to_string()
    };
    let bad = file(
        "exit_bad.sci",
        "model B {\n  state x = 1.0\n  der(x) = y\n}\n",
    );
    // x' = x², x(0) = 1 is infinite at t = 1.
    let blows_up = file(
        "exit_blowup.sci",
        "model U {\n  state x = 1.0\n  der(x) = x^2\n}\n",
    );
    let nan_loss = file(
        "exit_nan.sci",
        "model N {\n  param a = 1.0\n  loss = sqrt(-a)\n}\n",
    );
    let missing = "examples/no_such_file.sci";
    let lv = "examples/lotka_volterra.sci";
    let cases: Vec<(Vec<&str>, i32)> = vec![
        (vec!["check", lv], 0),
        (vec!["check", &bad], 1),
        (vec!["check", missing], 2),
        (vec!["fmt", "--check", lv], 0),
        (vec!["fmt", "--check", &bad], 1),
        (vec!["fmt", "--check", missing], 2),
        (vec!["compile", lv], 0),
        (vec!["compile", &bad], 1),
        (vec!["compile", missing], 2),
        (vec!["compile", lv, "--emit", "nonsense"], 2),
        (vec!["eval", lv, "rhs"], 0),
        (vec!["eval", &bad, "rhs"], 1),
        (vec!["eval", lv, "no_such_function"], 2),
        (vec!["run", lv, "--t-end", "1"], 0),
        (vec!["run", &bad], 1),
        (vec!["run", lv, "--rtol", "-1"], 2),
        (vec!["run", &blows_up, "--t-end", "2"], 3),
        (vec!["train", "examples/lv_ude.sci", "--steps", "2"], 0),
        (vec!["train", &bad], 1),
        (vec!["train", missing], 2),
        (vec!["train", &nan_loss, "--steps", "3"], 3),
        (vec!["no-such-subcommand"], 2),
    ];
    for (args, code) in cases {
        let out = sci(&args);
        assert_eq!(out.status.code(), Some(code), "{args:?}: {}", stderr(&out));
    }
}

/// A PINN whose residual is the `order`-th derivative of a small network, written to a
/// scratch file.
fn high_derivative_model(order: usize) -> PathBuf {
    let path = scratch(&format!("derivative_of_order_{order}.sci"));
    let xs = vec!["x"; order].join(", ");
    std::fs::write(
        &path,
        format!(
            "use nn.{{mlp}}\nmodel W {{\n    domain omega: x in [0, 1]\n    \
             net h(x) = mlp(hidden: [8, 8], activation: tanh, outputs: 1, seed: 1)\n    \
             residual r on omega, points 8: d(h, {xs}) - h\n    loss = mean(r^2)\n}}\n"
        ),
    )
    .unwrap();
    path
}

/// Each order of nested differentiation multiplies the code of the one before: a 20th
/// derivative of a small network is refused (E0705) once the code passes the limit (it used
/// to run for minutes and exhaust memory; this test would not finish then).
#[test]
fn derivative_code_past_the_size_limit_is_refused() {
    let path = high_derivative_model(20);
    let o = sci(&["compile", "--color", "never", path.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    assert!(stderr(&o).contains("[E0705]"), "{}", stderr(&o));
    assert!(stderr(&o).contains("Lower the derivative's order"));
}

/// A model whose residual expands within the limit but whose loss gradient would not: it
/// compiles, but training it is a fault of the model (exit 1, the reason given), not a run
/// that failed (exit 3).
#[test]
fn training_without_a_buildable_gradient_is_a_model_error() {
    let path = high_derivative_model(13);
    let o = sci(&["train", path.to_str().unwrap(), "--steps", "1"]);
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    assert!(stderr(&o).contains("has no `grad.loss`"), "{}", stderr(&o));
    assert!(stderr(&o).contains("Lower the derivative's order"));
}

#[test]
fn wasm32_needs_a_wasm_output_and_nothing_else() {
    let o = sci(&["compile", "examples/robertson.sci", "--target", "wasm32"]);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(stderr(&o).contains("add `-o FILE.wasm`"), "{}", stderr(&o));
    let out = scratch("wasm32_header.wasm");
    let o = sci(&[
        "compile",
        "examples/robertson.sci",
        "--target",
        "wasm32",
        "--emit",
        "header",
        "-o",
        out.to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(
        stderr(&o).contains("give only `-o FILE.wasm`"),
        "{}",
        stderr(&o)
    );
    assert!(!out.exists());
}

/// Without the LLVM back end, `--target wasm32` says which feature writes WebAssembly and
/// writes none of the four files.
#[cfg(not(feature = "llvm"))]
#[test]
fn wasm32_without_llvm_names_the_feature() {
    let out = scratch("no_llvm.wasm");
    let o = sci(&[
        "compile",
        "examples/robertson.sci",
        "--target",
        "wasm32",
        "-o",
        out.to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(stderr(&o).contains("--features llvm"), "{}", stderr(&o));
    for ext in ["wasm", "mjs", "d.mts", "json"] {
        assert!(!out.with_extension(ext).exists(), "{ext} written");
    }
}
