//! The C ABI end to end: `sci compile MODEL.sci -o MODEL.o --emit header` writes an object
//! file and a header; a C program compiled with the system `cc` against both calls the
//! model's functions and prints the numbers, which must match the JIT's.
//!
//! Covered: scalar, tensor and batched arguments; the Lotka–Volterra right-hand side, initial
//! state, outputs and Jacobian; a PINN loss and its gradient on batches of points; the
//! parameter defaults and layout constants of the header; a batch-size mismatch status; the
//! workspace forms (`NAME_ws`), which allocate nothing once the workspace is as large as
//! the `peak` a call reports.

#![cfg(feature = "cranelift")]

use std::path::{Path, PathBuf};
use std::process::Command;

fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("sci_c_abi_{}_{name}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn example(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("examples")
        .join(name)
}

/// `sci compile SRC -o DIR/STEM.o --emit header`.
fn compile_object(src: &Path, dir: &Path, stem: &str) {
    let status = Command::new(env!("CARGO_BIN_EXE_sci"))
        .arg("compile")
        .arg(src)
        .arg("-o")
        .arg(dir.join(format!("{stem}.o")))
        .args(["--emit", "header"])
        .status()
        .unwrap();
    assert!(status.success(), "sci compile failed for {}", src.display());
    assert!(dir.join(format!("{stem}.h")).exists());
}

/// Compiles `main.c` with the object and runs it; returns stdout's numbers per line.
fn build_and_run(dir: &Path, stem: &str, program: &str) -> Vec<Vec<f64>> {
    build_and_run_linked(dir, stem, program, &[])
}

/// [`build_and_run`] with extra linker arguments.
fn build_and_run_linked(dir: &Path, stem: &str, program: &str, link: &[&str]) -> Vec<Vec<f64>> {
    std::fs::write(dir.join("main.c"), program).unwrap();
    let exe = dir.join("main");
    let out = Command::new("cc")
        .current_dir(dir)
        .args(["-std=c99", "-Wall", "-Wextra", "-Werror", "-O1", "main.c"])
        .arg(format!("{stem}.o"))
        .args(link)
        .args(["-lm", "-o"])
        .arg(&exe)
        .output()
        .expect("the C compiler `cc` must be installed to test the C ABI");
    assert!(
        out.status.success(),
        "cc failed:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let run = Command::new(&exe).output().unwrap();
    assert!(
        run.status.success(),
        "the C program failed:\n{}{}",
        String::from_utf8_lossy(&run.stdout),
        String::from_utf8_lossy(&run.stderr)
    );
    String::from_utf8(run.stdout)
        .unwrap()
        .lines()
        .map(|l| l.split_whitespace().map(|x| x.parse().unwrap()).collect())
        .collect()
}

fn assert_close(got: &[f64], want: &[f64], rtol: f64, what: &str) {
    assert_eq!(got.len(), want.len(), "{what}: {got:?} vs {want:?}");
    for (g, w) in got.iter().zip(want) {
        assert!(
            (g - w).abs() <= rtol * w.abs().max(1e-300) + 1e-300,
            "{what}: C gave {got:?}, the JIT {want:?}"
        );
    }
}

#[test]
fn lotka_volterra_from_c() {
    let dir = scratch("lv");
    compile_object(&example("lotka_volterra.sci"), &dir, "lv");
    let program = r#"
#include <stdio.h>
#include "lv.h"

static void show(const double *x, int n) {
    for (int i = 0; i < n; i++) printf("%.17g ", x[i]);
    printf("\n");
}

int main(void) {
    double y[SCI_LOTKAVOLTERRA_N_STATES], dy[SCI_LOTKAVOLTERRA_N_STATES];
    double jac[SCI_LOTKAVOLTERRA_N_STATES * SCI_LOTKAVOLTERRA_N_STATES];
    double out[SCI_LOTKAVOLTERRA_N_OUTPUTS];
    const double *p = sci_LotkaVolterra_params_default;
    if (sci_LotkaVolterra_y0(p, y) != SCI_OK) return 1;
    show(y, 2);
    if (sci_LotkaVolterra_rhs(0.0, y, p, dy) != SCI_OK) return 2;
    show(dy, 2);
    double y1[2] = {1.25, 0.5};
    if (sci_LotkaVolterra_rhs(0.0, y1, p, dy) != SCI_OK) return 3;
    show(dy, 2);
    if (sci_LotkaVolterra_jacobian_rhs(0.0, y1, p, jac) != SCI_OK) return 4;
    show(jac, 4);
    if (sci_LotkaVolterra_outputs(0.0, y1, p, out) != SCI_OK) return 5;
    show(out, 2);
    printf("%d %d\n", SCI_LOTKAVOLTERRA_PARAM_GAMMA, SCI_LOTKAVOLTERRA_STATE_PRED);
    return 0;
}
"#;
    let lines = build_and_run(&dir, "lv", program);
    let compiled = sci::Compiler::new()
        .compile_file(example("lotka_volterra.sci"))
        .unwrap();
    let lv = compiled.model("LotkaVolterra").unwrap();
    let p = lv.params();
    let y0 = lv.y0(&p).unwrap();
    assert_eq!(lines[0], y0);
    let mut dy = vec![0.0; 2];
    lv.rhs(0.0, &y0, &p, &mut dy).unwrap();
    // Arithmetic only: bit-identical.
    assert_eq!(lines[1], dy);
    // Hand computation: α·x − β·x·y, δ·x·y − γ·y at (1.25, 0.5).
    let (x, y) = (1.25, 0.5);
    assert_eq!(lines[2], vec![1.5 * x - x * y, x * y - 3.0 * y]);
    assert_eq!(lines[3], vec![1.5 - y, -x, y, x - 3.0]);
    let mut out = vec![0.0; 2];
    lv.outputs(0.0, &[x, y], &p, &mut out).unwrap();
    // `log` is the system libm's in C and the libm crate's in the JIT.
    assert_close(&lines[4], &out, 1e-14, "outputs");
    assert_eq!(lines[5], vec![2.0, 1.0]);
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn pinn_loss_and_gradient_on_batches_from_c() {
    let dir = scratch("pinn");
    compile_object(&example("poisson2d_pinn.sci"), &dir, "pinn");
    let program = r#"
#include <stdio.h>
#include <stdlib.h>
#include "pinn.h"

#define NI 7
#define NE 5

int main(void) {
    double ix[NI], iy[NI], ex[NE], ey[NE], loss;
    for (int i = 0; i < NI; i++) { ix[i] = (i + 0.5) / NI; iy[i] = (i * 3 % NI + 0.25) / NI; }
    for (int i = 0; i < NE; i++) { ex[i] = (double)(i % 2); ey[i] = i / (NE - 1.0); }
    const double *p = sci_Poisson2D_params_default;
    if (sci_Poisson2D_loss(p, ix, NI, iy, NI, ex, NE, ey, NE, &loss) != SCI_OK) return 1;
    printf("%.17g\n", loss);
    double *g = malloc(sizeof(double) * SCI_POISSON2D_N_PARAMS);
    if (sci_Poisson2D_grad_loss(p, ix, NI, iy, NI, ex, NE, ey, NE, g) != SCI_OK) return 2;
    for (int i = 0; i < SCI_POISSON2D_N_PARAMS; i++) printf("%.17g ", g[i]);
    printf("\n");
    /* Batched inputs of one map must have the same number of points. */
    int status = sci_Poisson2D_loss(p, ix, NI, iy, NI - 1, ex, NE, ey, NE, &loss);
    printf("%d %d\n", status, SCI_BATCH_MISMATCH);
    free(g);
    return 0;
}
"#;
    let lines = build_and_run(&dir, "pinn", program);
    let (ni, ne) = (7usize, 5usize);
    let ix: Vec<f64> = (0..ni).map(|i| (i as f64 + 0.5) / ni as f64).collect();
    let iy: Vec<f64> = (0..ni)
        .map(|i| ((i * 3 % ni) as f64 + 0.25) / ni as f64)
        .collect();
    let ex: Vec<f64> = (0..ne).map(|i| (i % 2) as f64).collect();
    let ey: Vec<f64> = (0..ne).map(|i| i as f64 / (ne as f64 - 1.0)).collect();
    let compiled = sci::Compiler::new()
        .compile_file(example("poisson2d_pinn.sci"))
        .unwrap();
    let m = compiled.model("Poisson2D").unwrap();
    let batch = sci::Batch::new()
        .with("interior.x", &ix)
        .with("interior.y", &iy)
        .with("edge.x", &ex)
        .with("edge.y", &ey);
    let (loss, grad) = m.loss_and_grad(&m.params(), &batch).unwrap();
    assert_close(&lines[0], &[loss], 1e-11, "loss");
    assert_close(&lines[1], &grad, 1e-9, "gradient");
    assert_eq!(lines[2], vec![2.0, 2.0]);
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_sized_workspace_makes_a_training_step_allocate_nothing() {
    let dir = scratch("workspace");
    compile_object(&example("poisson2d_pinn.sci"), &dir, "ws");
    let program = r#"
#include <stdio.h>
#include <stdlib.h>
#include "ws.h"

/* Every malloc of the program and of the object goes through here (-Wl,--wrap=malloc). */
static long mallocs = 0;
void *__real_malloc(size_t n);
void *__wrap_malloc(size_t n) { mallocs++; return __real_malloc(n); }

#define N 300
#define P SCI_POISSON2D_N_PARAMS

int main(void) {
    static double ix[N], iy[N], ex[N], ey[N], plain[P + 1], first[P + 1], sized[P + 1];
    for (int i = 0; i < N; i++) {
        ix[i] = (i + 0.5) / N; iy[i] = (i * 7 % N + 0.25) / N;
        ex[i] = (double)(i % 2); ey[i] = i / (N - 1.0);
    }
    const double *p = sci_Poisson2D_params_default;
    if (sci_Poisson2D_value_and_grad_loss(p, ix, N, iy, N, ex, N, ey, N, plain) != SCI_OK)
        return 1;
    sci_workspace ws = {0};
    long before = mallocs;
    if (sci_Poisson2D_value_and_grad_loss_ws(p, ix, N, iy, N, ex, N, ey, N, first, &ws) != SCI_OK)
        return 2;
    long unsized = mallocs - before;
    /* Not `malloc`: the compiler may move a known allocator call past `before` below. */
    ws.base = __real_malloc(sizeof(double) * ws.peak);
    ws.size = ws.peak;
    before = mallocs;
    for (int k = 0; k < 3; k++)
        if (sci_Poisson2D_value_and_grad_loss_ws(p, ix, N, iy, N, ex, N, ey, N, sized, &ws) != SCI_OK)
            return 3;
    long after = mallocs - before;
    printf("%ld %ld %zu %zu\n", unsized, after, ws.used, ws.peak);
    for (int i = 0; i <= P; i++) printf("%.17g ", plain[i]);
    printf("\n");
    for (int i = 0; i <= P; i++) printf("%.17g ", first[i]);
    printf("\n");
    for (int i = 0; i <= P; i++) printf("%.17g ", sized[i]);
    printf("\n");
    free(ws.base);
    return 0;
}
"#;
    let lines = build_and_run_linked(&dir, "ws", program, &["-Wl,--wrap=malloc"]);
    let (empty, after, used, peak) = (lines[0][0], lines[0][1], lines[0][2], lines[0][3]);
    assert!(
        empty > 0.0,
        "the empty workspace should fall back to malloc"
    );
    assert_eq!(
        after, 0.0,
        "three calls with a sized workspace allocated {after} times"
    );
    assert_eq!(used, 0.0, "a call gives its workspace back");
    assert!(peak > 0.0);
    // The same numbers whichever memory the work buffers come from.
    assert_eq!(lines[1], lines[2]);
    assert_eq!(lines[1], lines[3]);
    let _ = std::fs::remove_dir_all(&dir);
}
