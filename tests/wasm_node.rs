//! `sci compile --target wasm32` in Node: the generated loader (`model.mjs`) of several
//! examples, driven by `tests/wasm_node/check.mjs`, against the native JIT (Cranelift,
//! `sci::Compiler`) through the Rust API, with the bounds of `tests/wasm.rs`:
//! - arithmetic-only functions (Robertson, Lotka–Volterra): bit-identical;
//! - functions calling libm (the pendulum's `sin`/`cos`): within 1e-14 norm-wise relative
//!   (wasi-libc's musl against the `libm` crate: at most 2 ulps per call);
//! - a PINN's batched network and its loss and gradient (`burgers_pinn`): within 1e-12
//!   norm-wise (the JIT's matrix-product kernels reorder a layer's sums; wasm adds in the
//!   interpreter's order; compensated batch sums on both sides).
//!
//! Also the loader's errors: a wrong input size is a `RangeError`, a wrong argument count a
//! `TypeError`, a failing status a `SciError` with the status's name. Numbers cross the
//! process boundary as the hexadecimal bits of doubles.

#![cfg(feature = "llvm")]

mod common;

use serde_json::{Value, json};
use std::path::{Path, PathBuf};

/// `node`, or a failure saying how to install it.
fn node() -> PathBuf {
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .map(|d| d.join("node"))
        .find(|p| p.is_file())
        .unwrap_or_else(|| {
            panic!(
                "`node` (Node.js >= 18) is not on the PATH: install it with \
                 `scripts/install-system.sh wasm`"
            )
        })
}

fn bits(xs: &[f64]) -> Vec<String> {
    xs.iter().map(|x| format!("{:016x}", x.to_bits())).collect()
}

fn from_bits(v: &Value) -> Vec<f64> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|s| f64::from_bits(u64::from_str_radix(s.as_str().unwrap(), 16).unwrap()))
        .collect()
}

#[derive(Clone, Copy, Debug)]
enum Bound {
    /// Bit-identical.
    Exact,
    /// Within `rtol` norm-wise: `max|got − want| ≤ rtol · max|want|`.
    Normwise(f64),
}

fn agree(want: &[f64], got: &[f64], bound: Bound) -> bool {
    if want.len() != got.len() {
        return false;
    }
    match bound {
        Bound::Exact => want
            .iter()
            .zip(got)
            .all(|(w, g)| w.to_bits() == g.to_bits() || (w.is_nan() && g.is_nan())),
        Bound::Normwise(rtol) => {
            let scale = want.iter().fold(0.0f64, |m, w| m.max(w.abs()));
            want.iter()
                .zip(got)
                .all(|(w, g)| (w - g).abs() <= rtol * scale || (w.is_nan() && g.is_nan()))
        }
    }
}

/// One call for the Node script, with what the JIT answered.
struct Case {
    id: usize,
    what: String,
    want: Result<Vec<f64>, String>,
    bound: Bound,
    json: Value,
}

/// Inputs for `function` of `model`: the default parameters for `θ`, a perturbed initial
/// state for `y`, deterministic values elsewhere; `points` per batched input.
fn inputs_for(model: &sci::Model<'_>, function: &str, points: &[usize]) -> Vec<Vec<f64>> {
    let f = model.function(function).unwrap();
    let sig = f.signature().unwrap().clone();
    let params = model.params();
    sig.inputs
        .iter()
        .enumerate()
        .map(|(k, input)| {
            let n = input.per_point() * if input.batched { points[k] } else { 1 };
            if input.name == "θ" {
                params.clone()
            } else if input.name == "y" {
                model
                    .y0(&params)
                    .unwrap()
                    .iter()
                    .enumerate()
                    .map(|(j, v)| v * (1.0 + 0.1 * (j as f64).sin()) + 0.01)
                    .collect()
            } else {
                (0..n)
                    .map(|j| ((j + 3 * k) as f64 * 0.37).sin() * 0.9)
                    .collect()
            }
        })
        .collect()
}

#[test]
fn generated_loaders_in_node_give_the_native_numbers() {
    let node = node();
    let dir = common::scratch("wasm_node");
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    // (example, model, functions, bound)
    let plan: [(&str, &str, &[&str], Bound); 4] = [
        (
            "robertson",
            "Robertson",
            &["y0", "rhs", "jacobian.rhs", "outputs"],
            Bound::Exact,
        ),
        (
            "lotka_volterra",
            "LotkaVolterra",
            &["y0", "rhs", "jacobian.rhs"],
            Bound::Exact,
        ),
        (
            "pendulum",
            "Pendulum",
            &["y0", "rhs", "jacobian.rhs", "outputs"],
            Bound::Normwise(1e-14),
        ),
        (
            "burgers_pinn",
            "BurgersPINN",
            &["net.u", "residual.pde", "loss", "value_and_grad.loss"],
            Bound::Normwise(1e-12),
        ),
    ];
    let mut cases: Vec<Case> = Vec::new();
    let mut natives = Vec::new();
    for (example, model, functions, bound) in plan {
        let src = root.join(format!("examples/{example}.sci"));
        let wasm = dir.join(format!("{example}.wasm"));
        compile_wasm(&src, &wasm);
        for ext in ["mjs", "d.mts", "json"] {
            assert!(
                wasm.with_extension(ext).is_file(),
                "{example}.{ext} missing"
            );
        }
        let loader = wasm.with_extension("mjs").display().to_string();
        let compiled = sci::Compiler::new().compile_file(&src).unwrap();
        let m = compiled.model(model).unwrap();
        natives.push((loader.clone(), model.to_string(), m.params()));
        for function in functions {
            let points = [6, 5, 5, 4, 4, 3, 3];
            let inputs = inputs_for(&m, function, &points);
            let refs: Vec<&[f64]> = inputs.iter().map(|v| v.as_slice()).collect();
            let want = m
                .function(function)
                .unwrap()
                .call(&refs)
                .map_err(|e| e.to_string());
            let id = cases.len();
            cases.push(Case {
                id,
                what: format!("{example}: {model}.{function}"),
                want,
                bound,
                json: json!({
                    "id": id,
                    "loader": loader,
                    "model": model,
                    "function": function,
                    "inputs": inputs.iter().map(|v| bits(v)).collect::<Vec<_>>(),
                }),
            });
        }
        if example == "burgers_pinn" {
            // The loader's alias for `value_and_grad.loss`.
            let inputs = inputs_for(&m, "value_and_grad.loss", &[0, 5, 5, 4, 4, 3, 3]);
            let refs: Vec<&[f64]> = inputs.iter().map(|v| v.as_slice()).collect();
            let want = m
                .function("value_and_grad.loss")
                .unwrap()
                .call(&refs)
                .map_err(|e| e.to_string());
            let names = m.loss_inputs().unwrap();
            let batch = names
                .iter()
                .zip(&inputs[1..])
                .fold(sci::Batch::new(), |b, ((name, _), v)| b.with(name, v));
            let (value, grad) = m.loss_and_grad(&inputs[0], &batch).unwrap();
            let mut api = vec![value];
            api.extend(grad);
            assert_eq!(
                want.as_ref().unwrap(),
                &api,
                "loss_and_grad is value_and_grad.loss"
            );
            let id = cases.len();
            cases.push(Case {
                id,
                what: "burgers_pinn: BurgersPINN.loss_and_grad".into(),
                want,
                bound,
                json: json!({
                    "id": id,
                    "loader": loader,
                    "model": model,
                    "function": "value_and_grad.loss",
                    "alias": "loss_and_grad",
                    "inputs": inputs.iter().map(|v| bits(v)).collect::<Vec<_>>(),
                }),
            });
        }
    }
    // The loader's errors.
    let robertson = dir.join("robertson.mjs").display().to_string();
    let burgers = dir.join("burgers_pinn.mjs").display().to_string();
    let compiled = sci::Compiler::new()
        .compile_file(root.join("examples/burgers_pinn.sci"))
        .unwrap();
    let pinn = compiled.model("BurgersPINN").unwrap();
    // `pde.t` with 7 points and `pde.x` with 6: the native code's batch mismatch.
    let mismatched = inputs_for(&pinn, "loss", &[0, 7, 6, 4, 4, 3, 3]);
    let refs: Vec<&[f64]> = mismatched.iter().map(|v| v.as_slice()).collect();
    let native_err = pinn.function("loss").unwrap().call(&refs).unwrap_err();
    assert!(
        native_err.to_string().contains("batch size mismatch"),
        "{native_err}"
    );
    let errors = [
        (
            json!({"loader": robertson, "model": "Robertson", "function": "rhs",
                   "inputs": [bits(&[0.0]), bits(&[1.0, 0.0]), bits(&[0.04, 3e7, 1e4])]}),
            "RangeError",
            "`rhs`: input `y` has 3 elements [3], not 2",
        ),
        (
            json!({"loader": robertson, "model": "Robertson", "function": "rhs",
                   "inputs": [bits(&[0.0]), bits(&[1.0, 0.0, 0.0])]}),
            "TypeError",
            "`rhs` takes 3 inputs (t, y, θ) but 2 were given",
        ),
        (
            json!({"loader": burgers, "model": "BurgersPINN", "function": "loss",
                   "inputs": mismatched.iter().map(|v| bits(v)).collect::<Vec<_>>()}),
            "SciError",
            "SCI_BATCH_MISMATCH",
        ),
    ];
    let mut all: Vec<Value> = cases.iter().map(|c| c.json.clone()).collect();
    let first_error = all.len();
    for (k, (case, _, _)) in errors.iter().enumerate() {
        let mut case = case.clone();
        case["id"] = json!(first_error + k);
        all.push(case);
    }
    let input = dir.join("cases.json");
    std::fs::write(&input, serde_json::to_string(&all).unwrap()).unwrap();
    let out = std::process::Command::new(&node)
        .arg(root.join("tests/wasm_node/check.mjs"))
        .arg(&input)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "node check.mjs failed:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let answer: Value = serde_json::from_slice(&out.stdout).unwrap();
    let results = answer["results"].as_array().unwrap();
    assert_eq!(results.len(), all.len());
    let mut failures = Vec::new();
    for case in &cases {
        let r = &results[case.id];
        match (&case.want, r["ok"].as_bool()) {
            (Ok(want), Some(true)) => {
                let got = from_bits(&r["bits"]);
                if !agree(want, &got, case.bound) {
                    let worst = want
                        .iter()
                        .zip(&got)
                        .map(|(w, g)| (w - g).abs())
                        .fold(0.0f64, f64::max);
                    failures.push(format!(
                        "{}: {} numbers, largest difference {worst:e} (bound {:?})",
                        case.what,
                        want.len(),
                        case.bound
                    ));
                }
            }
            (want, _) => failures.push(format!("{}: JIT {want:?}, node {r}", case.what)),
        }
    }
    for (k, (_, name, message)) in errors.iter().enumerate() {
        let r = &results[first_error + k];
        let ok = r["ok"] == json!(false)
            && r["name"] == json!(name)
            && (r["message"].as_str().unwrap_or("").contains(message)
                || r["statusName"] == json!(message));
        if !ok {
            failures.push(format!("error case {k}: want {name} ({message}), got {r}"));
        }
    }
    let status = &results[first_error + 2];
    assert_eq!(status["isSciError"], json!(true), "{status}");
    assert_eq!(status["status"], json!(2), "{status}");
    assert_eq!(results[first_error]["isRangeError"], json!(true));
    // The loader's default parameters are the model's.
    for (loader, model, params) in &natives {
        let d = answer["defaults"]
            .as_array()
            .unwrap()
            .iter()
            .find(|d| d["loader"] == json!(loader) && d["model"] == json!(model))
            .unwrap_or_else(|| panic!("no defaults for {model}"));
        let got = from_bits(&d["bits"]);
        if !agree(params, &got, Bound::Exact) {
            failures.push(format!("{model}: paramsDefault differs from Model::params"));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    assert_eq!(cases.len(), 16, "calls compared");
}

/// `sci compile SRC --target wasm32 -o WASM`, which must succeed.
fn compile_wasm(src: &Path, wasm: &Path) {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_sci"))
        .arg("compile")
        .arg(src)
        .args(["--target", "wasm32", "-o"])
        .arg(wasm)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "sci compile {} --target wasm32: {}",
        src.display(),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// TypeScript's compiler: `$SCI_TSC`, `tsc` on the PATH, or one installed into the target
/// directory (`npm install --prefix target/tsc typescript@5`).
fn tsc() -> Option<PathBuf> {
    if let Some(p) = std::env::var_os("SCI_TSC") {
        return Some(PathBuf::from(p));
    }
    let path = std::env::var_os("PATH").unwrap_or_default();
    let target = Path::new(env!("CARGO_TARGET_TMPDIR"))
        .parent()?
        .to_path_buf();
    std::env::split_paths(&path)
        .map(|d| d.join("tsc"))
        .chain([target.join("tsc/node_modules/.bin/tsc")])
        .find(|p| p.is_file())
}

/// The generated `.d.mts` type-checks (`tsc --strict`) with a program that calls the
/// loaders of two examples as documented: typed methods, aliases, `SciError` (TypeScript
/// takes the types of `./model.mjs` from `model.d.mts`). CI sets `SCI_TSC`
/// (scripts/test.sh installs TypeScript under target/); elsewhere, without a `tsc`, this
/// test says so and passes.
#[test]
fn generated_types_check_with_typescript() {
    let Some(tsc) = tsc() else {
        eprintln!(
            "skipped: no TypeScript compiler (set SCI_TSC, or `npm install --prefix \
             target/tsc typescript@5`)"
        );
        return;
    };
    let dir = common::scratch("wasm_node_types");
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    for example in ["robertson", "burgers_pinn"] {
        let wasm = dir.join(format!("{example}.wasm"));
        compile_wasm(&root.join(format!("examples/{example}.sci")), &wasm);
    }
    let program = r#"import { load, SciError } from "./robertson.mjs";
import * as pinn from "./burgers_pinn.mjs";
const sci = await load();
const m = sci.Robertson;
const dy: Float64Array = m.rhs(0, [1, 0, 0], m.paramsDefault);
const jac: Float64Array = m.jacobian(0, dy, m.paramsDefault);
const slots: string[] = m.layout.params.slots.map((s) => s.name);
const p = await pinn.load();
const b = p.BurgersPINN;
const g: Float64Array = b.loss_and_grad(b.paramsDefault, [0.1], [0.2], [0], [0.3], [0.4], [1]);
try {
  m.rhs(0, [1], m.paramsDefault);
} catch (e: unknown) {
  if (e instanceof SciError) console.log(e.statusName, e.status);
}
console.log(dy, jac, slots, g);
"#;
    std::fs::write(dir.join("use.ts"), program).unwrap();
    let out = std::process::Command::new(&tsc)
        .args([
            "--noEmit",
            "--strict",
            "--target",
            "es2022",
            "--module",
            "es2022",
            "--moduleResolution",
            "bundler",
            "--lib",
            "es2022,dom",
            "use.ts",
            "robertson.d.mts",
            "burgers_pinn.d.mts",
        ])
        .current_dir(&dir)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "tsc rejects the generated types:\n{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}
