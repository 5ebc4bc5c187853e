//! The command line under hostile use: random subcommands (`run`, `train`, `compile`,
//! `eval`, `fmt`) with random flags (numbers out of
//! range, NaN, garbage, paths that are directories, inputs or each other, missing
//! directories), some with stdout and stderr closed. Every run must end within a time
//! limit with an exit code of the README's table (0–3, never a panic or a signal), leave the
//! model file untouched, leave every output it was given as it was unless the whole command
//! succeeded, and leave no stray files. Deterministic (fixed seeds), so a failure
//! reproduces; `SCI_FUZZ_CASES=N` runs more cases than the default.

mod common;

use sci::ir::random::SplitMix64 as Rng;
use std::collections::BTreeMap;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// Invocations run by default (CI): a few seconds in all.
const DEFAULT_CASES: usize = 300;
/// The longest one invocation may take.
const LIMIT: Duration = Duration::from_secs(60);

/// Numbers a user (or a script) might pass by mistake.
const NUMBERS: &[&str] = &[
    "0",
    "-1",
    "0.5",
    "3",
    "1e-300",
    "1e300",
    "nan",
    "inf",
    "-inf",
    "abc",
    "",
    "18446744073709551615",
    "1000000000000",
    "-0",
    "1e5",
];

/// A small ODE model and a small loss model, written into each case's directory.
const ODE: &str = "model Decay {\n    param k = 0.5\n    state x = 1.0\n    der(x) = -k * x\n    output twice = 2 * x\n    domain time: t in [0, 2]\n}\n";
const LOSS: &str =
    "model Fit {\n    param a = 0.5\n    param b = -1.0\n    loss = (a - 2)^2 + (b + 1)^2 * 3\n}\n";

/// What a case's directory holds before the command runs: file names and contents.
fn snapshot(dir: &Path) -> BTreeMap<String, Option<Vec<u8>>> {
    let mut out = BTreeMap::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let entry = entry.unwrap();
        let name = entry.file_name().to_string_lossy().into_owned();
        let contents = entry
            .path()
            .is_file()
            .then(|| std::fs::read(entry.path()).unwrap());
        out.insert(name, contents);
    }
    out
}

/// One invocation: its arguments and which of them are output paths.
struct Case {
    args: Vec<String>,
    outputs: Vec<PathBuf>,
    /// Whether stdout and stderr are closed before the command writes.
    closed_pipes: bool,
}

/// The output paths a case may name (in `dir`).
fn output_path(rng: &mut Rng, dir: &Path, model: &Path, ext: &str, taken: &[PathBuf]) -> PathBuf {
    match rng.below(8) {
        // A new file, the usual case (twice as likely).
        0 | 1 => dir.join(format!("out{}.{ext}", rng.below(1000))),
        // An existing file whose contents must survive a failed command.
        2 => {
            let p = dir.join(format!("keep{}.{ext}", rng.below(1000)));
            std::fs::write(&p, b"precious").unwrap();
            p
        }
        3 => dir.join("a_directory"),
        4 => model.to_path_buf(),
        5 => dir.join("no_such_dir").join(format!("x.{ext}")),
        // Another output of the same command.
        6 => taken
            .first()
            .cloned()
            .unwrap_or_else(|| dir.join(format!("o.{ext}"))),
        _ => dir.join(format!("wrong{}.txt", rng.below(10))),
    }
}

fn number(rng: &mut Rng) -> String {
    NUMBERS[rng.below(NUMBERS.len())].to_string()
}

/// A random invocation of `sci` on `model` (an ODE model) or `loss_model`.
fn random_case(rng: &mut Rng, dir: &Path, ode: &Path, loss: &Path) -> Case {
    let mut args: Vec<String> = Vec::new();
    let mut outputs: Vec<PathBuf> = Vec::new();
    let flag = |args: &mut Vec<String>, name: &str, value: String| {
        args.push(name.to_string());
        args.push(value);
    };
    match rng.below(7) {
        0 | 1 => {
            args.extend(["run".to_string(), ode.display().to_string()]);
            for _ in 0..rng.below(5) {
                match rng.below(13) {
                    0 => flag(&mut args, "--t0", number(rng)),
                    1 => flag(&mut args, "--t-end", number(rng)),
                    2 => flag(&mut args, "--rtol", number(rng)),
                    3 => flag(&mut args, "--atol", number(rng)),
                    4 => flag(&mut args, "--points", number(rng)),
                    5 => {
                        let times = (0..rng.below(4)).map(|_| number(rng)).collect::<Vec<_>>();
                        flag(&mut args, "--times", times.join(","))
                    }
                    6 => {
                        let name = ["k", "x", "nosuch", ""][rng.below(4)];
                        flag(&mut args, "--param", format!("{name}={}", number(rng)))
                    }
                    7 => {
                        let solver = ["auto", "bdf", "tsit5", "esdirk34", "trbdf2", "euler"];
                        flag(
                            &mut args,
                            "--solver",
                            solver[rng.below(solver.len())].into(),
                        )
                    }
                    8 => {
                        let kind = ["auto", "dense", "sparse", "banded"];
                        flag(&mut args, "--jacobian", kind[rng.below(kind.len())].into())
                    }
                    9 => {
                        let ext = ["csv", "npy", "json"][rng.below(3)];
                        let p = output_path(rng, dir, ode, ext, &outputs);
                        flag(&mut args, "--out", p.display().to_string());
                        outputs.push(p);
                    }
                    10 => {
                        let p = output_path(rng, dir, ode, "svg", &outputs);
                        flag(&mut args, "--plot", p.display().to_string());
                        outputs.push(p);
                    }
                    11 => {
                        let p = [
                            dir.join("missing.json"),
                            dir.join("a_directory"),
                            ode.into(),
                        ];
                        flag(
                            &mut args,
                            "--params-file",
                            p[rng.below(3)].display().to_string(),
                        )
                    }
                    _ => args.push("--log-t".into()),
                }
            }
        }
        2 | 3 => {
            args.extend(["train".to_string(), loss.display().to_string()]);
            // Training length from a short list: a huge `--steps` is a long run, not a bug.
            let steps = ["0", "1", "3", "-1", "abc", ""][rng.below(6)];
            flag(&mut args, "--steps", steps.into());
            for _ in 0..rng.below(5) {
                match rng.below(10) {
                    0 => flag(&mut args, "--lr", number(rng)),
                    1 => flag(&mut args, "--seed", number(rng)),
                    2 => flag(&mut args, "--resample-every", number(rng)),
                    3 => flag(&mut args, "--grad-tol", number(rng)),
                    4 => {
                        let o = ["adam", "lbfgs", "adam+lbfgs", "sgd"];
                        flag(&mut args, "--optimizer", o[rng.below(o.len())].into())
                    }
                    5 => {
                        let name = ["a", "b", "nosuch"][rng.below(3)];
                        flag(&mut args, "--param", format!("{name}={}", number(rng)))
                    }
                    6 => {
                        let p = output_path(rng, dir, loss, "json", &outputs);
                        flag(&mut args, "--out", p.display().to_string());
                        outputs.push(p);
                    }
                    7 => {
                        let ext = ["csv", "npy", "json"][rng.below(3)];
                        let p = output_path(rng, dir, loss, ext, &outputs);
                        flag(&mut args, "--losses", p.display().to_string());
                        outputs.push(p);
                    }
                    8 => {
                        let p = output_path(rng, dir, loss, "svg", &outputs);
                        flag(&mut args, "--plot", p.display().to_string());
                        outputs.push(p);
                    }
                    _ => {
                        let p = [
                            dir.join("missing.json"),
                            dir.join("a_directory"),
                            loss.into(),
                        ];
                        flag(&mut args, "--init", p[rng.below(3)].display().to_string())
                    }
                }
            }
        }
        4 => {
            args.extend(["compile".to_string(), ode.display().to_string()]);
            let emit = [
                "ir",
                "ast",
                "jac",
                "grad",
                "hessian",
                "simplified",
                "header",
                "nonsense",
            ];
            flag(&mut args, "--emit", emit[rng.below(emit.len())].into());
            if rng.below(2) == 0 {
                let ext = ["sir", "o", "txt"][rng.below(3)];
                let p = output_path(rng, dir, ode, ext, &outputs);
                flag(&mut args, "-o", p.display().to_string());
                // An object file comes with its C header (docs/abi.md).
                if ext == "o" {
                    outputs.push(p.with_extension("h"));
                }
                outputs.push(p);
            }
        }
        6 => {
            // `fmt` rewrites its files in place: a copy of a model (an output of the
            // command), badly laid out or broken, or paths that are no model file.
            args.push("fmt".to_string());
            let check_only = rng.below(2) == 0;
            if check_only {
                args.push("--check".to_string());
            }
            for _ in 0..1 + rng.below(2) {
                let target = match rng.below(5) {
                    0 => {
                        let p = dir.join("messy.sci");
                        std::fs::write(&p, ODE.replace("    ", "  ").replace(" = ", "=")).unwrap();
                        p
                    }
                    1 => {
                        let p = dir.join("broken.sci");
                        std::fs::write(&p, "model B {\n  state x = \n}\n").unwrap();
                        p
                    }
                    2 => dir.join("a_directory"),
                    3 => dir.join("missing.sci"),
                    _ => PathBuf::from("/dev/zero"),
                };
                if !check_only {
                    outputs.push(target.clone());
                }
                args.push(target.display().to_string());
            }
        }
        _ => {
            let function = ["rhs", "y0", "outputs", "loss", "nosuch"][rng.below(5)];
            args.extend([
                "eval".to_string(),
                ode.display().to_string(),
                function.into(),
            ]);
            for _ in 0..rng.below(3) {
                let name = ["t", "x", "k", "nosuch"][rng.below(4)];
                args.push(format!("{name}={}", number(rng)));
            }
        }
    }
    Case {
        args,
        outputs,
        closed_pipes: rng.below(5) == 0,
    }
}

/// Runs `sci` with `args` in `dir`; returns its exit code (`None`: killed by a signal) and
/// stderr, panicking if it outlives [`LIMIT`].
fn run(case: &Case, dir: &Path) -> (Option<i32>, String) {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_sci"));
    cmd.args(&case.args)
        .current_dir(dir)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = cmd.spawn().expect("the sci binary runs");
    let (mut out, mut err) = (child.stdout.take(), child.stderr.take());
    if case.closed_pipes {
        // Both pipes closed before the command writes anything.
        drop(out.take());
        drop(err.take());
    }
    // Drain the pipes on threads so a chatty command cannot block on a full pipe.
    let drain = |pipe: Option<Box<dyn Read + Send>>| {
        std::thread::spawn(move || {
            let mut text = String::new();
            if let Some(mut p) = pipe {
                let mut bytes = Vec::new();
                let _ = p.read_to_end(&mut bytes);
                text = String::from_utf8_lossy(&bytes).into_owned();
            }
            text
        })
    };
    let out = drain(out.map(|p| Box::new(p) as Box<dyn Read + Send>));
    let err = drain(err.map(|p| Box::new(p) as Box<dyn Read + Send>));
    let started = Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if started.elapsed() > LIMIT {
            let _ = child.kill();
            panic!("`sci {}` ran past {LIMIT:?}", case.args.join(" "));
        }
        std::thread::sleep(Duration::from_millis(10));
    };
    let _ = out.join();
    (status.code(), err.join().unwrap_or_default())
}

#[test]
fn random_command_lines_never_panic_hang_or_lose_a_file() {
    let cases = std::env::var("SCI_FUZZ_CASES")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(DEFAULT_CASES);
    let root = Path::new(env!("CARGO_TARGET_TMPDIR")).join("cli_robustness");
    let mut rng = Rng::new(0x5C1_F022);
    let mut codes = BTreeMap::new();
    for k in 0..cases {
        let dir = root.join(format!("case{k}"));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(dir.join("a_directory")).unwrap();
        let (ode, loss) = (dir.join("decay.sci"), dir.join("fit.sci"));
        std::fs::write(&ode, ODE).unwrap();
        std::fs::write(&loss, LOSS).unwrap();
        let case = random_case(&mut rng, &dir, &ode, &loss);
        let before = snapshot(&dir);
        let (code, stderr) = run(&case, &dir);
        let what = format!("case {k}: `sci {}`", case.args.join(" "));
        assert!(
            matches!(code, Some(0..=3)),
            "{what}: exit {code:?} (killed by a signal if None)\n{stderr}"
        );
        assert!(!stderr.contains("panicked"), "{what}: panicked\n{stderr}");
        let after = snapshot(&dir);
        // The models are inputs: never written.
        for model in ["decay.sci", "fit.sci"] {
            assert_eq!(before[model], after[model], "{what}: {model} was changed");
        }
        // A failed command changes nothing and leaves nothing; a successful one changes
        // only its outputs.
        for (name, contents) in &before {
            let is_output = case
                .outputs
                .iter()
                .any(|p| p.file_name().is_some_and(|n| n == name.as_str()));
            if code != Some(0) || !is_output {
                assert_eq!(
                    after.get(name),
                    Some(contents),
                    "{what}: {name} changed\n{stderr}"
                );
            }
        }
        for name in after.keys().filter(|n| !before.contains_key(*n)) {
            let named = case.outputs.iter().any(|p| {
                p.parent() == Some(dir.as_path())
                    && p.file_name().is_some_and(|n| n == name.as_str())
            });
            assert!(
                code == Some(0) && named,
                "{what}: left `{name}` behind (exit {code:?})\n{stderr}"
            );
        }
        *codes.entry(code).or_insert(0usize) += 1;
        let _ = std::fs::remove_dir_all(&dir);
    }
    eprintln!("exit codes over {cases} cases: {codes:?}");
    // The cases must exercise both outcomes, or they test little.
    assert!(
        codes.get(&Some(0)).copied().unwrap_or(0) >= cases / 10,
        "{codes:?}"
    );
    assert!(
        codes.get(&Some(2)).copied().unwrap_or(0) >= cases / 10,
        "{codes:?}"
    );
}
