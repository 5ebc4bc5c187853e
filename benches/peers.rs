//! The sci side of the benchmarks against peers (JAX, CasADi, SciPy, diffsol): run by
//! `bench/run.sh`, never by the test suite.
//!
//! `cargo bench --bench peers -- --out RESULTS.json --data DIR` compiles the examples, writes
//! the inputs every tool must use and sci's values on them to `DIR/inputs.json` (collocation
//! points, network weights, Brusselator states, output times, tolerances), times compilation,
//! per-call kernels and full solves, counts the kernels' FLOPs on the IR, measures this
//! machine's peak FMA throughput, and writes the timings to `RESULTS.json`. The peers read
//! `inputs.json`, check their values against sci's, and time the same work; `bench/report.py`
//! puts the two side by side. See `bench/README.md`.

use sci::Simplify;
use sci::stdlib::ode::{JacobianKind, Method, SolveOptions};
use sci::stdlib::sample::{SampleSpec, Sampling, sample};
use serde_json::{Value, json};
use std::collections::HashMap;
use std::hint::black_box;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;
use std::time::Instant;

#[path = "timing/mod.rs"]
mod timing;
use timing::{Timing, time_calls};

/// Error tolerances of every timed solve, in every tool.
const RTOL: f64 = 1e-6;
const ATOL: f64 = 1e-9;
/// Tolerances of the reference solutions the solves are checked against.
const REF_RTOL: f64 = 1e-10;
const REF_ATOL: f64 = 1e-13;

/// Sizes of the 2-D Brusselator for the per-call kernels.
const BRUSS_SIZES: [usize; 3] = [32, 64, 128];
/// Size of the 2-D Brusselator that is solved.
const BRUSS_SOLVE_N: usize = 32;
/// The larger size solved once (32,768 states; a solve takes about a minute, so one timed
/// solve and no tight reference solution: the peers are checked against sci's values).
const BRUSS_LARGE_SOLVE_N: usize = 128;

type Res<T> = Result<T, Box<dyn std::error::Error>>;

/// The back end every timed compilation uses (`--backend`, Cranelift by default).
static BACKEND: OnceLock<sci::BackendKind> = OnceLock::new();

/// Which functions the pass pipeline simplifies (`--simplify off|training|all`; the
/// compiler's default when not given), to measure what simplification does to run and
/// compile times.
static SIMPLIFY: OnceLock<Simplify> = OnceLock::new();

/// A compiler for the chosen back end.
fn compiler() -> sci::Compiler {
    let c = sci::Compiler::new().backend(*BACKEND.get().unwrap_or(&sci::BackendKind::Cranelift));
    match SIMPLIFY.get() {
        Some(&which) => c.simplify(which),
        None => c,
    }
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    // `cargo bench` passes `--bench`; anything else (a stray `cargo test --benches`) must not
    // start minutes of timing, and neither must a plain `cargo bench` (no `--out`).
    let wanted = args.iter().any(|a| a == "--out" || a == "--peak-only");
    if !args.iter().any(|a| a == "--bench") || !wanted {
        println!(
            "peers: run through `cargo bench --bench peers -- --out FILE` (see bench/README.md)"
        );
        return;
    }
    if let Err(e) = run(&args) {
        eprintln!("peers: {e}");
        std::process::exit(1);
    }
}

fn flag(args: &[String], name: &str) -> Option<String> {
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1).cloned())
}

fn run(args: &[String]) -> Res<()> {
    if args.iter().any(|a| a == "--peak-only") {
        println!("{}", peak::measure());
        return Ok(());
    }
    let out = PathBuf::from(flag(args, "--out").ok_or("missing `--out FILE`")?);
    let data_dir = flag(args, "--data")
        .map(PathBuf::from)
        .unwrap_or_else(|| out.parent().unwrap_or(Path::new(".")).join("data"));
    // `--scale 0.2` shortens every timing budget (a smoke run); medians need the default.
    let scale: f64 = flag(args, "--scale")
        .map(|s| s.parse())
        .transpose()?
        .unwrap_or(1.0);
    // `--backend llvm` times the LLVM back end (a build with `--features llvm`); the peers'
    // inputs come from the Cranelift run, so this one writes none (`--no-inputs`).
    let backend: sci::BackendKind = flag(args, "--backend")
        .as_deref()
        .unwrap_or("cranelift")
        .parse()?;
    if !backend.is_available() {
        return Err(format!(
            "this build has no `{}` back end (build with its feature)",
            backend.name()
        )
        .into());
    }
    let _ = BACKEND.set(backend);
    let simplify = match flag(args, "--simplify").as_deref() {
        None => None,
        Some("off") => Some(Simplify::Off),
        Some("training") => Some(Simplify::Training),
        Some("all") => Some(Simplify::All),
        Some(other) => {
            return Err(format!("`--simplify {other}`: use off, training or all").into());
        }
    };
    if let Some(which) = simplify {
        let _ = SIMPLIFY.set(which);
    }
    let write_inputs = !args.iter().any(|a| a == "--no-inputs");
    std::fs::create_dir_all(&data_dir)?;
    if let Some(dir) = out.parent() {
        std::fs::create_dir_all(dir)?;
    }
    // `--only pinn|bruss|robertson|bruss_solve|bruss_solve_large` runs one group (to look at one number
    // again); the inputs of the peers are then not written.
    let only = flag(args, "--only");
    let run_group = |name: &str| only.as_deref().is_none_or(|o| o == name);
    let mut results: HashMap<String, Value> = HashMap::new();
    let mut inputs = serde_json::Map::new();

    eprintln!("sci: peak FMA throughput");
    let peak = peak::measure();
    if run_group("pinn") {
        eprintln!("sci: Burgers PINN");
        inputs.insert("pinn".into(), pinn(&mut results, scale)?);
    }
    if run_group("bruss") {
        let mut bruss = Vec::new();
        for n in BRUSS_SIZES {
            eprintln!("sci: 2-D Brusselator N = {n}");
            bruss.push(brusselator_calls(n, &mut results, scale)?);
        }
        inputs.insert("brusselator".into(), Value::Array(bruss));
    }
    if run_group("robertson") {
        eprintln!("sci: Robertson solve");
        inputs.insert("robertson".into(), robertson_solve(&mut results, scale)?);
    }
    if run_group("bruss_solve") {
        eprintln!("sci: 2-D Brusselator solve N = {BRUSS_SOLVE_N}");
        inputs.insert(
            "brusselator_solve".into(),
            brusselator_solve(BRUSS_SOLVE_N, &mut results, scale)?,
        );
    }
    if run_group("bruss_solve_large") {
        eprintln!("sci: 2-D Brusselator solve N = {BRUSS_LARGE_SOLVE_N} (one solve)");
        inputs.insert(
            "brusselator_solve_large".into(),
            brusselator_solve(BRUSS_LARGE_SOLVE_N, &mut results, scale)?,
        );
    }

    if only.is_none() && write_inputs {
        write_json(&data_dir.join("inputs.json"), &Value::Object(inputs))?;
    }
    let results: serde_json::Map<String, Value> = results.into_iter().collect();
    write_json(
        &out,
        &json!({
            "tool": "sci",
            "version": env!("CARGO_PKG_VERSION"),
            "backend": backend.name(),
            "threads": std::thread::available_parallelism().map_or(1, |n| n.get()),
            "scale": scale,
            "peak": peak,
            "results": results,
        }),
    )?;
    eprintln!("sci: wrote {} and {}", out.display(), data_dir.display());
    Ok(())
}

fn write_json(path: &Path, v: &Value) -> Res<()> {
    std::fs::write(path, serde_json::to_string(v)?)?;
    Ok(())
}

fn example(name: &str) -> Res<(String, String)> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("examples")
        .join(name);
    let text = std::fs::read_to_string(&path)?;
    Ok((path.display().to_string(), text))
}

/// The 2-D Brusselator example at grid size `n` (the example declares `const n = 32`).
fn brusselator_source(n: usize) -> Res<(String, String)> {
    let (path, text) = example("brusselator2d.sci")?;
    if !text.contains("const n = 32") {
        return Err("examples/brusselator2d.sci no longer declares `const n = 32`".into());
    }
    Ok((
        path,
        text.replacen("const n = 32", &format!("const n = {n}"), 1),
    ))
}

// ---------------------------------------------------------------------------------------
// Timing

// ---------------------------------------------------------------------------------------
// FLOP counts

/// FLOPs of one evaluation of `name` in `m`, with every batched value (`map` over points)
/// counted once per point: `sci_passes::ad::cost::flops` counts a `map` body once, so the
/// top-level ops are costed one by one here and `map`s and batch reductions multiplied by
/// the number of points of their inputs (`batch_len` gives it for each batched input).
fn flops(m: &sci::Module, name: &str, batch_len: &HashMap<String, usize>) -> Res<u64> {
    use sci::ir::Op;
    let fid = m
        .function(name)
        .ok_or_else(|| format!("`{}` has no function `{name}`", m.name))?;
    let f = m.functions.get(fid).ok_or("bad function handle")?;
    let mut len: HashMap<sci::ir::ValueId, usize> = HashMap::new();
    for &a in f.inputs() {
        if let Some(v) = f.values.get(a)
            && let Some(n) = v.name.as_ref().and_then(|n| batch_len.get(n))
        {
            len.insert(a, *n);
        }
    }
    let mut total = 0u64;
    for &id in &f.body.body {
        let v = f.values.get(id).ok_or("bad value handle")?;
        let points =
            v.op.operands()
                .iter()
                .filter_map(|o| len.get(o))
                .max()
                .copied();
        let mut one = f.clone();
        let cost = match &v.op {
            Op::Map { body, .. } => {
                one.body.body = body.body.clone();
                sci_passes::ad::cost::flops(m, &one) * points.unwrap_or(1) as u64
            }
            Op::ReduceBatch(..) => points.unwrap_or(1) as u64,
            _ => {
                one.body.body = vec![id];
                sci_passes::ad::cost::flops(m, &one) * points.unwrap_or(1) as u64
            }
        };
        total = total.saturating_add(cost);
        if v.ty.batched
            && let Some(n) = points
        {
            len.insert(id, n);
        }
    }
    Ok(total)
}

// ---------------------------------------------------------------------------------------
// Problems

/// Norm-wise relative difference `max|a − b| / max|b|`.
fn rel_diff(a: &[f64], b: &[f64]) -> f64 {
    let scale = b
        .iter()
        .fold(0.0f64, |m, x| m.max(x.abs()))
        .max(f64::MIN_POSITIVE);
    let diff = a
        .iter()
        .zip(b)
        .fold(0.0f64, |m, (x, y)| m.max((x - y).abs()));
    if a.len() != b.len() {
        return f64::INFINITY;
    }
    diff / scale
}

/// The Burgers PINN: compile time, loss + gradient (and the loss alone) per call on
/// 2048 + 256 + 256 points.
fn pinn(results: &mut HashMap<String, Value>, scale: f64) -> Res<Value> {
    let (path, text) = example("burgers_pinn.sci")?;
    let compile = time_calls(5, 10.0 * scale, || {
        black_box(compiler().compile_source(&path, &text).unwrap());
    });
    let compiled = compiler().compile_source(&path, &text)?;
    let m = compiled.model("BurgersPINN")?;
    let theta = m.params();
    // The collocation points: uniform in the box, with the `where` fixings applied.
    let box_ = vec![(0.0, 1.0), (-1.0, 1.0)];
    let spec = |fixed: Vec<Vec<(usize, f64)>>, points| SampleSpec {
        bounds: box_.clone(),
        fixed,
        points,
        sampling: Sampling::Uniform,
    };
    let sets = [
        ("pde", sample(&spec(vec![], 2048), 0, 0)?),
        ("initial", sample(&spec(vec![vec![(0, 0.0)]], 256), 0, 1)?),
        (
            "boundary",
            sample(&spec(vec![vec![(1, -1.0), (1, 1.0)]], 256), 0, 2)?,
        ),
    ];
    let mut points: serde_json::Map<String, Value> = serde_json::Map::new();
    let mut batch_len = HashMap::new();
    let mut owned: Vec<(String, Vec<f64>)> = Vec::new();
    for (name, coords) in &sets {
        for (c, coord) in ["t", "x"].iter().enumerate() {
            let key = format!("{name}.{coord}");
            batch_len.insert(key.clone(), coords[c].len());
            points.insert(key.clone(), json!(coords[c]));
            owned.push((key, coords[c].clone()));
        }
    }
    let mut batch = sci::Batch::new();
    for (name, data) in &owned {
        batch.set(name, data);
    }
    let mut grad = vec![0.0; theta.len()];
    let loss = m.loss_and_grad_into(&theta, &batch, &mut grad)?;
    let step = time_calls(11, 3.0 * scale, || {
        black_box(m.loss_and_grad_into(&theta, &batch, &mut grad).unwrap());
    });
    let loss_only = time_calls(11, 2.0 * scale, || {
        black_box(m.loss(&theta, &batch).unwrap());
    });
    // The same step on one thread, against JAX pinned to one core.
    let one = compiler().threads(1).compile_source(&path, &text)?;
    let m1 = one.model("BurgersPINN")?;
    let step_1thread = time_calls(11, 3.0 * scale, || {
        black_box(m1.loss_and_grad_into(&theta, &batch, &mut grad).unwrap());
    });
    let ir = m.ir();
    let f_loss = flops(ir, "loss", &batch_len)?;
    let f_grad = flops(ir, sci::jit::LOSS_GRAD, &batch_len)?;
    results.insert("pinn.compile".into(), compile.json());
    let mut loss_json = loss_only.json();
    loss_json["flops"] = json!(f_loss);
    results.insert("pinn.loss".into(), loss_json);
    let mut step_json = step.json();
    step_json["flops"] = json!(f_loss + f_grad);
    step_json["flops_detail"] = json!({"loss": f_loss, "grad": f_grad});
    let mut one_json = step_1thread.json();
    one_json["flops"] = step_json["flops"].clone();
    results.insert("pinn.loss_grad".into(), step_json);
    results.insert("pinn.loss_grad_1thread".into(), one_json);
    // Network layout for the peers: each layer's W (out × in, row-major) then b.
    let layers: Vec<Value> = ir
        .params
        .slots
        .iter()
        .map(|s| json!({"name": s.name, "offset": s.offset, "shape": s.shape}))
        .collect();
    Ok(json!({
        "theta": theta,
        "layers": layers,
        "nu": 0.01 / std::f64::consts::PI,
        "points": points,
        "loss": loss,
        "grad": grad,
    }))
}

/// The 2-D Brusselator at size `n`: compile time, `rhs` and sparse Jacobian per call.
fn brusselator_calls(n: usize, results: &mut HashMap<String, Value>, scale: f64) -> Res<Value> {
    let (path, text) = brusselator_source(n)?;
    let min_compiles = match n {
        0..=32 => 5,
        33..=64 => 3,
        _ => 1,
    };
    let compile = time_calls(min_compiles, 10.0 * scale, || {
        black_box(compiler().compile_source(&path, &text).unwrap());
    });
    let compiled = compiler().compile_source(&path, &text)?;
    let m = compiled.model("Brusselator2D")?;
    let p = m.params();
    // A state without the initial condition's symmetries, so no Jacobian entry is zero by
    // accident.
    let y: Vec<f64> = m
        .y0(&p)?
        .iter()
        .enumerate()
        .map(|(k, v)| v * (1.0 + 0.1 * (k as f64).sin()) + 0.01)
        .collect();
    let t = 0.0;
    let mut dy = vec![0.0; m.n_states()];
    m.rhs(t, &y, &p, &mut dy)?;
    let pattern = m.jacobian_sparsity()?;
    let mut jac = vec![0.0; pattern.col_idx.len()];
    m.jacobian_csr(t, &y, &p, &mut jac)?;
    let rhs = time_calls(11, 2.0 * scale, || {
        m.rhs(t, black_box(&y), &p, &mut dy).unwrap();
    });
    let jac_t = time_calls(11, 2.0 * scale, || {
        m.jacobian_csr(t, black_box(&y), &p, &mut jac).unwrap();
    });
    let ir = m.ir();
    let none = HashMap::new();
    let key = format!("bruss{n}");
    results.insert(format!("{key}.compile"), compile.json());
    let mut r = rhs.json();
    r["flops"] = json!(flops(ir, "rhs", &none)?);
    results.insert(format!("{key}.rhs"), r);
    let mut j = jac_t.json();
    j["flops"] = json!(flops(ir, sci::jit::SPARSE_JACOBIAN, &none)?);
    j["nnz"] = json!(pattern.col_idx.len());
    j["colors"] = json!(pattern.n_colors);
    results.insert(format!("{key}.jac"), j);
    Ok(json!({
        "n": n,
        "params": p,
        "t": t,
        "y": y,
        "rhs": dy,
        "row_ptr": pattern.row_ptr,
        "col_idx": pattern.col_idx,
        "jac": jac,
    }))
}

/// One timed solve of `model` (BDF at [`RTOL`], [`ATOL`]) and a tight reference solve.
struct SolveCase<'a> {
    key: &'a str,
    path: String,
    text: String,
    model: &'a str,
    t_end: f64,
    times: Vec<f64>,
    jacobian: JacobianKind,
    /// A solve too long to repeat: timed once, no reference solve, no compile timing (the
    /// per-call group times the compile of this size).
    once: bool,
}

fn solve_case(case: SolveCase<'_>, results: &mut HashMap<String, Value>, scale: f64) -> Res<Value> {
    if !case.once {
        let compile = time_calls(5, 5.0 * scale, || {
            black_box(compiler().compile_source(&case.path, &case.text).unwrap());
        });
        results.insert(format!("{}.compile", case.key), compile.json());
    }
    let compiled = compiler().compile_source(&case.path, &case.text)?;
    let m = compiled.model(case.model)?;
    let p = m.params();
    let options = |rtol, atol| SolveOptions {
        method: Method::Bdf,
        span: Some((0.0, case.t_end)),
        times: Some(case.times.clone()),
        rtol,
        atol,
        jacobian: case.jacobian,
        ..SolveOptions::default()
    };
    let timed = options(RTOL, ATOL);
    let started = Instant::now();
    let traj = m.simulate(&p, &timed)?;
    let first = started.elapsed().as_secs_f64();
    let (solve, reference) = if case.once {
        let solve = Timing {
            median: first,
            min: first,
            max: first,
            samples: 1,
            calls_per_sample: 1,
        };
        (solve, None)
    } else {
        let reference = m.simulate(&p, &options(REF_RTOL, REF_ATOL))?;
        let solve = time_calls(5, 8.0 * scale, || {
            black_box(m.simulate(&p, &timed).unwrap());
        });
        (solve, Some(reference))
    };
    let err = reference.as_ref().map(|reference| {
        traj.states
            .iter()
            .zip(&reference.states)
            .map(|(a, b)| rel_diff(a, b))
            .fold(0.0, f64::max)
    });
    let mut s = solve.json();
    s["stats"] = json!({
        "steps": traj.stats.steps,
        "rhs_evals": traj.stats.rhs_evals,
        "jacobian_evals": traj.stats.jacobian_evals,
        "sparse": traj.stats.sparse,
    });
    s["check"] = json!({"vs_sci": 0.0, "vs_reference": err});
    results.insert(format!("{}.solve", case.key), s);
    Ok(json!({
        "params": p,
        "y0": m.y0(&p)?,
        "t_end": case.t_end,
        "times": case.times,
        "rtol": RTOL,
        "atol": ATOL,
        "states": traj.states,
        "reference": reference.map(|r| r.states),
        "reference_tolerances": [REF_RTOL, REF_ATOL],
    }))
}

/// Robertson's kinetics to t = 10⁵, dense LU.
fn robertson_solve(results: &mut HashMap<String, Value>, scale: f64) -> Res<Value> {
    let (path, text) = example("robertson.sci")?;
    solve_case(
        SolveCase {
            key: "robertson",
            path,
            text,
            model: "Robertson",
            t_end: 1e5,
            times: vec![0.4, 4.0, 40.0, 400.0, 4e3, 4e4, 1e5],
            jacobian: JacobianKind::Dense,
            once: false,
        },
        results,
        scale,
    )
}

/// The 2-D Brusselator (2 n² states) over its declared span t ∈ [0, 10], sparse LU; the
/// large size is solved once.
fn brusselator_solve(n: usize, results: &mut HashMap<String, Value>, scale: f64) -> Res<Value> {
    let (path, text) = brusselator_source(n)?;
    let key = format!("bruss{n}");
    let mut v = solve_case(
        SolveCase {
            key: &key,
            path,
            text,
            model: "Brusselator2D",
            t_end: 10.0,
            times: (0..=10).map(f64::from).collect(),
            jacobian: JacobianKind::Sparse,
            once: n == BRUSS_LARGE_SOLVE_N,
        },
        results,
        scale,
    )?;
    v["n"] = json!(n);
    Ok(v)
}

// ---------------------------------------------------------------------------------------
// Peak floating-point throughput

/// This machine's peak f64 throughput on one core, measured: independent chains of fused
/// multiply-adds (scalar, 256-bit, 512-bit where the CPU has them), enough chains to cover
/// the FMA latency on every port. The best is the peak.
mod peak {
    use serde_json::{Value, json};
    use std::time::Instant;

    /// Runs `kernel(iters)` (which does `flops_per_iter · iters` FLOPs) for about 0.2 s and
    /// returns GFLOP/s (best of three).
    fn rate(flops_per_iter: f64, kernel: impl Fn(u64) -> f64) -> f64 {
        let mut iters = 1u64 << 16;
        loop {
            let t = Instant::now();
            std::hint::black_box(kernel(iters));
            if t.elapsed().as_secs_f64() > 0.05 {
                break;
            }
            iters *= 2;
        }
        (0..3)
            .map(|_| {
                let t = Instant::now();
                std::hint::black_box(kernel(iters));
                flops_per_iter * iters as f64 / t.elapsed().as_secs_f64() / 1e9
            })
            .fold(0.0, f64::max)
    }

    #[cfg(target_arch = "x86_64")]
    pub fn measure() -> Value {
        use x86::*;
        let mut out = serde_json::Map::new();
        let mut best = ("scalar", 0.0f64);
        let mut add = |name: &'static str, g: f64| {
            out.insert(format!("{name}_gflops"), json!(g));
            if g > best.1 {
                best = (name, g);
            }
        };
        if is_x86_feature_detected!("fma") {
            // SAFETY: the CPU has FMA (checked above).
            add("scalar_fma", rate(2.0 * 12.0, |n| unsafe { fma_scalar(n) }));
            if is_x86_feature_detected!("avx2") {
                // SAFETY: the CPU has AVX2 and FMA.
                add("avx2_fma", rate(8.0 * 12.0, |n| unsafe { fma_256(n) }));
            }
            if is_x86_feature_detected!("avx512f") {
                // SAFETY: the CPU has AVX-512F.
                add("avx512_fma", rate(16.0 * 12.0, |n| unsafe { fma_512(n) }));
            }
        }
        out.insert("peak_gflops".into(), json!(best.1));
        out.insert("peak_kind".into(), json!(best.0));
        out.insert(
            "method".into(),
            json!("measured: 12 independent FMA chains per width, one core, best of 3"),
        );
        Value::Object(out)
    }

    #[cfg(not(target_arch = "x86_64"))]
    pub fn measure() -> Value {
        let g = rate(2.0 * 8.0, |n| {
            let mut a = [1.0f64, 1.1, 1.2, 1.3, 1.4, 1.5, 1.6, 1.7];
            for _ in 0..n {
                for x in a.iter_mut() {
                    *x = x.mul_add(0.999_999, 1e-7);
                }
            }
            a.iter().sum()
        });
        json!({"peak_gflops": g, "peak_kind": "scalar_fma",
               "method": "measured: 8 independent scalar FMA chains, one core"})
    }

    #[cfg(target_arch = "x86_64")]
    mod x86 {
        use std::arch::x86_64::*;

        macro_rules! chains {
            ($set1:ident, $fma:ident, $add:ident, $n:expr) => {{
                // Opaque constants, so the compiler cannot fold or shorten the chains.
                let a = $set1(std::hint::black_box(0.999_999));
                let b = $set1(std::hint::black_box(1e-7));
                let (mut c0, mut c1, mut c2, mut c3) =
                    ($set1(1.0), $set1(1.1), $set1(1.2), $set1(1.3));
                let (mut c4, mut c5, mut c6, mut c7) =
                    ($set1(1.4), $set1(1.5), $set1(1.6), $set1(1.7));
                let (mut c8, mut c9, mut c10, mut c11) =
                    ($set1(1.8), $set1(1.9), $set1(2.0), $set1(2.1));
                for _ in 0..$n {
                    c0 = $fma(c0, a, b);
                    c1 = $fma(c1, a, b);
                    c2 = $fma(c2, a, b);
                    c3 = $fma(c3, a, b);
                    c4 = $fma(c4, a, b);
                    c5 = $fma(c5, a, b);
                    c6 = $fma(c6, a, b);
                    c7 = $fma(c7, a, b);
                    c8 = $fma(c8, a, b);
                    c9 = $fma(c9, a, b);
                    c10 = $fma(c10, a, b);
                    c11 = $fma(c11, a, b);
                }
                let s = $add(
                    $add($add(c0, c1), $add(c2, c3)),
                    $add($add(c4, c5), $add(c6, c7)),
                );
                $add(s, $add($add(c8, c9), $add(c10, c11)))
            }};
        }

        #[target_feature(enable = "fma")]
        pub fn fma_scalar(n: u64) -> f64 {
            let s = chains!(_mm_set_sd, _mm_fmadd_sd, _mm_add_sd, n);
            _mm_cvtsd_f64(s)
        }

        #[target_feature(enable = "avx2,fma")]
        pub fn fma_256(n: u64) -> f64 {
            let s = chains!(_mm256_set1_pd, _mm256_fmadd_pd, _mm256_add_pd, n);
            _mm256_cvtsd_f64(s)
        }

        #[target_feature(enable = "avx512f")]
        pub fn fma_512(n: u64) -> f64 {
            let s = chains!(_mm512_set1_pd, _mm512_fmadd_pd, _mm512_add_pd, n);
            _mm512_reduce_add_pd(s)
        }
    }
}
