//! `--device gpu` where it cannot run: a build without the `cuda` feature says to rebuild
//! with it; a build with it, on a machine without CUDA (CI, the development machine), says
//! "no CUDA device". Either way: exit code 2, one error line and a hint, no output file.
//! The embedding API answers the same through `Compiler::device`.

use std::path::Path;
use std::process::{Command, Output};

fn sci(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_sci"))
        .args(args)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .expect("sci runs")
}

/// Whether this test runs where a CUDA device is usable (then the errors below do not
/// apply and the GPU check in `bench/gpu/` is the test).
fn gpu_usable() -> bool {
    sci::jit::cuda_device(sci::Device::Cuda).is_ok()
}

/// The error of `--device gpu` in this build on this machine.
fn expected_error() -> &'static str {
    if cfg!(feature = "cuda") {
        "error: no CUDA device: "
    } else {
        "error: This build of sci has no CUDA runtime."
    }
}

fn assert_refused(out: &Output, written: &Path) {
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "stderr: {stderr}");
    let lines: Vec<&str> = stderr.lines().collect();
    assert_eq!(lines.len(), 2, "one error line and one hint: {stderr}");
    assert!(lines[0].starts_with(expected_error()), "{stderr}");
    assert!(lines[1].starts_with("help: "), "{stderr}");
    if !cfg!(feature = "cuda") {
        assert!(lines[1].contains("--features cuda"), "{stderr}");
    } else {
        assert!(lines[1].contains("--device cpu"), "{stderr}");
    }
    assert!(
        out.stdout.is_empty(),
        "nothing starts: {}",
        String::from_utf8_lossy(&out.stdout)
    );
    assert!(
        !written.exists(),
        "no partial output: {}",
        written.display()
    );
}

#[test]
fn train_on_the_gpu_without_one_exits_2_and_writes_nothing() {
    if gpu_usable() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let params = dir.path().join("params.json");
    let losses = dir.path().join("losses.csv");
    let out = sci(&[
        "train",
        "examples/burgers_pinn.sci",
        "--device",
        "gpu",
        "--steps",
        "2",
        "--out",
        params.to_str().unwrap(),
        "--losses",
        losses.to_str().unwrap(),
    ]);
    assert_refused(&out, &params);
    assert!(!losses.exists());
}

#[test]
fn run_on_the_gpu_without_one_exits_2_and_writes_nothing() {
    if gpu_usable() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let csv = dir.path().join("traj.csv");
    let out = sci(&[
        "run",
        "examples/lotka_volterra.sci",
        "--device",
        "cuda",
        "--ptx",
        "model.ptx",
        "--out",
        csv.to_str().unwrap(),
    ]);
    assert_refused(&out, &csv);
}

#[test]
fn device_options_are_checked() {
    let out = sci(&["train", "examples/burgers_pinn.sci", "--device", "tpu"]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr.contains("There is no device called `tpu`"),
        "{stderr}"
    );
    let out = sci(&["run", "examples/lotka_volterra.sci", "--ptx", "x.ptx"]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr.contains("`--ptx` is for `--device gpu`"), "{stderr}");
}

#[test]
fn the_gpu_check_needs_the_cuda_build_and_a_device() {
    let dir = tempfile::tempdir().unwrap();
    let ptx = dir.path().join("m.ptx");
    std::fs::write(&ptx, "// no kernels\n").unwrap();
    let out = sci(&[
        "gpu-check",
        "examples/burgers_pinn.sci",
        "--ptx",
        ptx.to_str().unwrap(),
        "--steps",
        "1",
    ]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    if !cfg!(feature = "cuda") {
        // Not a subcommand of this build.
        assert!(stderr.contains("gpu-check"), "{stderr}");
    } else if gpu_usable() {
        assert!(
            stderr.contains("no kernel `sci_reduce_cols_sum`"),
            "{stderr}"
        );
    } else {
        assert!(stderr.contains("error: no CUDA device: "), "{stderr}");
    }
}

#[test]
fn the_embedding_api_reports_the_device_in_words() {
    let src = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/burgers_pinn.sci"),
    )
    .unwrap();
    let cpu = sci::Compiler::new()
        .device(sci::Device::Cpu)
        .compile_source("b.sci", &src)
        .unwrap();
    assert_eq!(cpu.device(), sci::Device::Cpu);
    assert!(cpu.model("BurgersPINN").unwrap().gpu().is_none());
    if gpu_usable() {
        return;
    }
    let err = sci::Compiler::new()
        .device(sci::Device::Cuda)
        .ptx("unused.ptx")
        .compile_source("b.sci", &src)
        .unwrap_err();
    let text = err.render();
    let want = if cfg!(feature = "cuda") {
        "no CUDA device: "
    } else {
        "rebuild with `--features cuda`"
    };
    assert!(text.contains(want), "{text}");
    assert_eq!("gpu".parse::<sci::Device>(), Ok(sci::Device::Cuda));
    assert_eq!(sci::Device::Cuda.to_string(), "gpu");
    assert_eq!(sci::Device::Cuda.is_built_in(), cfg!(feature = "cuda"));
}
