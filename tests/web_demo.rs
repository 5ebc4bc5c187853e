//! The demo page (`web/`) with the WebAssembly modules this build's `sci` compiles: its
//! JavaScript solver in Node, and the page in headless Chromium (playwright-core, installed
//! by `web/test/install.sh`), both against sci's native solution of Robertson's kinetics at
//! the default parameters and with a slider moved. Needs node, npm and Chromium
//! (`scripts/install-system.sh web`); without them the tests fail and say so.
//!
//! The site is built in `target/web-demo/site` (serve it with `node web/test/serve.mjs
//! target/web-demo/site` to look at what was tested) and the screenshot written to
//! `target/web-demo/screenshot.png`.
#![cfg(feature = "llvm")]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::OnceLock;

const ROOT: &str = env!("CARGO_MANIFEST_DIR");

/// Robertson's `k1` (examples/robertson.sci), the slider the browser test moves, where it
/// moves it (the page maps a slider position s to default·10^s) and the states it reads.
const K1_DEFAULT: f64 = 0.04;
const SLIDER: f64 = 0.5;
const STATES: [&str; 3] = ["y1", "y2", "y3"];

fn web_demo_dir() -> PathBuf {
    Path::new(ROOT).join("target/web-demo")
}

/// Panics naming the install step when a tool the tests drive is missing.
fn require(tool: &str, path: &str) {
    let runs = Command::new(path)
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success());
    assert!(
        runs,
        "{tool} (`{path} --version`) does not run: the web demo's tests need node, npm and \
         Chromium; install them with `scripts/install-system.sh web` (or set CHROMIUM=PATH)"
    );
}

fn chromium() -> String {
    std::env::var("CHROMIUM").unwrap_or_else(|_| "/usr/bin/chromium".into())
}

fn show(what: &str, out: &Output) -> String {
    format!(
        "{what}: {}\n--- stdout\n{}--- stderr\n{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

/// Robertson's state at t = 1e5 from `sci run` with tight tolerances, with `--param`s.
fn native_final_state(params: &[String]) -> Vec<f64> {
    let out_file = web_demo_dir().join(format!("native-{}.json", params.len()));
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_sci"));
    cmd.current_dir(ROOT).args([
        "run",
        "examples/robertson.sci",
        "--rtol",
        "1e-10",
        "--atol",
        "1e-14",
        "--times",
        "100000",
        "--out",
    ]);
    cmd.arg(&out_file);
    for p in params {
        cmd.args(["--param", p]);
    }
    let out = cmd.output().expect("sci runs");
    assert!(out.status.success(), "{}", show("sci run", &out));
    let table: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&out_file).unwrap()).unwrap();
    let columns = table["columns"].as_array().expect("columns");
    STATES
        .iter()
        .map(|name| {
            let column = columns
                .iter()
                .find(|c| c["name"] == *name)
                .unwrap_or_else(|| panic!("no column {name} in {}", out_file.display()));
            column["values"][0].as_f64().expect("a number")
        })
        .collect()
}

/// The site (the page's files, models compiled now by the `sci` under test) and the
/// expected values, built once per test process.
fn site() -> &'static (PathBuf, PathBuf) {
    static SITE: OnceLock<(PathBuf, PathBuf)> = OnceLock::new();
    SITE.get_or_init(|| {
        let dir = web_demo_dir();
        let site = dir.join("site");
        let _ = std::fs::remove_dir_all(&site);
        std::fs::create_dir_all(&site).unwrap();
        // The page: web/'s own files (its subdirectories are the committed models and the tests).
        for entry in std::fs::read_dir(Path::new(ROOT).join("web")).unwrap() {
            let path = entry.unwrap().path();
            let keep = path.is_file()
                && path
                    .extension()
                    .is_some_and(|e| e == "html" || e == "mjs" || e == "css");
            if keep {
                std::fs::copy(&path, site.join(path.file_name().unwrap())).unwrap();
            }
        }
        let out = Command::new(Path::new(ROOT).join("web/build.sh"))
            .arg(site.join("models"))
            .env("SCI", env!("CARGO_BIN_EXE_sci"))
            .output()
            .expect("web/build.sh runs");
        assert!(out.status.success(), "{}", show("web/build.sh", &out));

        let k1 = K1_DEFAULT * 10f64.powf(SLIDER);
        let expected = serde_json::json!({
            "rtol": 1e-5,
            "atol": 1e-9,
            "maxSolveMs": 200,
            "default": { "final": native_final_state(&[]) },
            "moved": {
                "param": "k1",
                "slider": SLIDER,
                "value": k1,
                "final": native_final_state(&[format!("k1={k1:e}")]),
            },
        });
        let expected_file = dir.join("expected.json");
        std::fs::write(&expected_file, expected.to_string()).unwrap();
        (site, expected_file)
    })
}

fn node(args: &[&Path], env: &[(&str, &str)]) -> Output {
    let mut cmd = Command::new("node");
    cmd.current_dir(ROOT).args(args);
    for (k, v) in env {
        cmd.env(k, v);
    }
    cmd.output().expect("node runs")
}

/// web/solver.mjs alone, in Node, on the freshly compiled Robertson module.
#[test]
fn the_javascript_solver_matches_the_native_solution() {
    require("node", "node");
    let (site, expected) = site();
    let out = node(
        &[
            Path::new("web/test/solver.mjs"),
            &site.join("models"),
            expected,
        ],
        &[],
    );
    println!("{}", String::from_utf8_lossy(&out.stdout));
    assert!(
        out.status.success(),
        "{}",
        show("web/test/solver.mjs", &out)
    );
}

/// The page in headless Chromium: every example solves; Robertson's final state, before and
/// after moving the k1 slider, is the native one to 1e-5; a warm solve takes under 200 ms.
#[test]
fn the_demo_page_solves_robertson_in_headless_chromium() {
    require("node", "node");
    require("npm", "npm");
    require("Chromium", &chromium());
    let (site, expected) = site();

    let install = Command::new(Path::new(ROOT).join("web/test/install.sh"))
        .output()
        .expect("web/test/install.sh runs");
    assert!(
        install.status.success(),
        "{}",
        show("web/test/install.sh", &install)
    );
    let stdout = String::from_utf8_lossy(&install.stdout);
    let node_modules = stdout.lines().last().expect("the node_modules path").trim();

    let screenshot = web_demo_dir().join("screenshot.png");
    let _ = std::fs::remove_file(&screenshot);
    let out = node(
        &[
            Path::new("web/test/browser.mjs"),
            site,
            expected,
            &screenshot,
        ],
        &[("WEB_TOOLS", node_modules), ("CHROMIUM", &chromium())],
    );
    println!("{}", String::from_utf8_lossy(&out.stdout));
    eprintln!("{}", String::from_utf8_lossy(&out.stderr));
    assert!(
        out.status.success(),
        "{}",
        show("web/test/browser.mjs", &out)
    );
    assert!(
        screenshot.is_file(),
        "no screenshot at {}",
        screenshot.display()
    );
}
