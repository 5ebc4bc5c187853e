//! The diffsol peer of `bench/run.sh`: the same problems as `benches/peers.rs`, written in
//! DiffSL, JIT-compiled by diffsl's Cranelift back end and solved by diffsol's BDF with the
//! same linear algebra sci's runtime uses (faer: dense LU for Robertson, sparse LU for the
//! Brusselator).
//!
//! `diffsol-peer --data inputs.json --out diffsol.json [--scale S] [--max-n N | --only-n N]`
//! reads the inputs sci
//! wrote (states, parameters, output times, tolerances, sci's values), checks its own
//! values against sci's, and writes its timings in the format `bench/report.py` reads.

use diffsol::{
    ConstantOp, CraneliftJitModule, FaerLU, FaerMat, FaerSparseLU, FaerSparseMat, FaerVec, Matrix,
    NonLinearOp, NonLinearOpJacobian, OdeBuilder, OdeEquations, OdeSolverMethod,
    OdeSolverStopReason, Vector,
};
use serde_json::{Value, json};
use std::collections::HashMap;
use std::hint::black_box;
use std::time::Instant;

type Res<T> = Result<T, Box<dyn std::error::Error>>;
type Cg = CraneliftJitModule;

fn main() {
    if let Err(e) = run() {
        eprintln!("diffsol-peer: {e}");
        std::process::exit(1);
    }
}

fn flag(args: &[String], name: &str) -> Option<String> {
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1).cloned())
}

fn run() -> Res<()> {
    let args: Vec<String> = std::env::args().collect();
    let data = flag(&args, "--data").ok_or("missing `--data inputs.json`")?;
    let out = flag(&args, "--out").ok_or("missing `--out FILE`")?;
    let scale: f64 = flag(&args, "--scale")
        .map(|s| s.parse())
        .transpose()?
        .unwrap_or(1.0);
    // `--max-n N` skips the Brusselator sizes above N; `--only-n N` runs that size alone
    // (bench/run.sh runs the largest apart, under a memory cap: DiffSL's compile of it can
    // take more memory than the machine has).
    let size_flag =
        |name| -> Res<Option<u64>> { Ok(flag(&args, name).map(|s| s.parse()).transpose()?) };
    let (max_n, only_n) = (size_flag("--max-n")?, size_flag("--only-n")?);
    let inputs: Value = serde_json::from_str(&std::fs::read_to_string(&data)?)?;
    let mut results = serde_json::Map::new();

    if only_n.is_none() {
        eprintln!("diffsol: Robertson");
        robertson(&inputs["robertson"], &mut results, scale)?;
    }
    for case in inputs["brusselator"]
        .as_array()
        .ok_or("no brusselator inputs")?
    {
        let n = case["n"].as_u64().unwrap_or(0);
        if max_n.is_some_and(|m| n > m) || only_n.is_some_and(|o| n != o) {
            continue;
        }
        eprintln!("diffsol: 2-D Brusselator N = {n}");
        brusselator_calls(case, &mut results, scale)?;
    }
    if only_n.is_none() {
        eprintln!("diffsol: 2-D Brusselator solve");
        brusselator_solve(&inputs["brusselator_solve"], &mut results, scale, false)?;
    }
    // The large solve runs with its size (`--only-n`), after the compile of that size.
    let large = &inputs["brusselator_solve_large"];
    if only_n.is_some() && large["n"].as_u64() == only_n {
        eprintln!(
            "diffsol: 2-D Brusselator solve N = {} (one solve)",
            large["n"]
        );
        brusselator_solve(large, &mut results, scale, true)?;
    }

    let doc = json!({
        "tool": "diffsol",
        "version": "diffsol 0.18.0 + diffsl 0.12.5 (Cranelift JIT)",
        "threads": 1,
        "results": results,
    });
    std::fs::write(&out, serde_json::to_string(&doc)?)?;
    eprintln!("diffsol: wrote {out}");
    Ok(())
}

// ---------------------------------------------------------------------------------------
// Timing: the same procedure as benches/peers.rs.

fn time_calls(min_samples: usize, budget_s: f64, mut f: impl FnMut()) -> Value {
    const SAMPLE_S: f64 = 2e-3;
    let mut k = 1usize;
    loop {
        let t = Instant::now();
        for _ in 0..k {
            f();
        }
        let e = t.elapsed().as_secs_f64();
        if e >= SAMPLE_S || k >= 1 << 24 {
            break;
        }
        k = (k * 2)
            .max((k as f64 * SAMPLE_S / e.max(1e-9) * 1.2) as usize)
            .min(1 << 24);
    }
    let start = Instant::now();
    let mut per_call = Vec::new();
    while per_call.len() < min_samples
        || (start.elapsed().as_secs_f64() < budget_s && per_call.len() < 201)
    {
        let t = Instant::now();
        for _ in 0..k {
            f();
        }
        per_call.push(t.elapsed().as_secs_f64() / k as f64);
    }
    per_call.sort_by(f64::total_cmp);
    json!({
        "median_s": per_call[per_call.len() / 2],
        "min_s": per_call[0],
        "max_s": per_call[per_call.len() - 1],
        "samples": per_call.len(),
        "calls_per_sample": k,
    })
}

// ---------------------------------------------------------------------------------------
// Helpers

fn floats(v: &Value) -> Res<Vec<f64>> {
    v.as_array()
        .ok_or("expected an array of numbers")?
        .iter()
        .map(|x| x.as_f64().ok_or_else(|| "expected a number".into()))
        .collect()
}

fn rows(v: &Value) -> Res<Vec<Vec<f64>>> {
    v.as_array()
        .ok_or("expected an array of arrays")?
        .iter()
        .map(floats)
        .collect()
}

/// Norm-wise relative difference `max|a − b| / max|b|` (as in benches/peers.rs).
fn rel_diff(a: &[f64], b: &[f64]) -> f64 {
    if a.len() != b.len() {
        return f64::INFINITY;
    }
    let scale = b
        .iter()
        .fold(0.0f64, |m, x| m.max(x.abs()))
        .max(f64::MIN_POSITIVE);
    let diff = a
        .iter()
        .zip(b)
        .fold(0.0f64, |m, (x, y)| m.max((x - y).abs()));
    diff / scale
}

fn max_rel_diff(a: &[Vec<f64>], b: &[Vec<f64>]) -> f64 {
    if a.len() != b.len() {
        return f64::INFINITY;
    }
    a.iter()
        .zip(b)
        .map(|(x, y)| rel_diff(x, y))
        .fold(0.0, f64::max)
}

/// Steps `solver` to `t_end` and interpolates at `times` as they are passed, exactly as
/// sci's runtime drives diffsol (stdlib/src/ode/driver.rs), so both do the same solver work.
fn drive<'a, Eqn, S>(mut solver: S, t_end: f64, times: &[f64]) -> Res<(Vec<Vec<f64>>, Value)>
where
    Eqn: diffsol::OdeEquations<T = f64, V = FaerVec<f64>> + 'a,
    S: OdeSolverMethod<'a, Eqn>,
{
    solver.set_stop_time(t_end)?;
    let mut y = Vec::with_capacity(times.len());
    let mut next = 0;
    loop {
        let reason = solver.step()?;
        let t = solver.state().t;
        let stop = matches!(reason, OdeSolverStopReason::TstopReached);
        while next < times.len() && (times[next] <= t || stop) {
            y.push(solver.interpolate(times[next])?.clone_as_vec());
            next += 1;
        }
        if stop {
            break;
        }
    }
    let s = solver.get_statistics();
    let stats = json!({
        "steps": s.number_of_steps,
        "lu_setups": s.number_of_linear_solver_setups,
        "newton_iterations": s.number_of_nonlinear_solver_iterations,
        "error_test_failures": s.number_of_error_test_failures,
    });
    Ok((y, stats))
}

// ---------------------------------------------------------------------------------------
// Robertson

const ROBERTSON: &str = "
in_i { k1 = 0.04, k2 = 3.0e7, k3 = 1.0e4 }
u_i { y1 = 1.0, y2 = 0.0, y3 = 0.0 }
F_i {
    -k1 * y1 + k3 * y2 * y3,
    k1 * y1 - k3 * y2 * y3 - k2 * y2 * y2,
    k2 * y2 * y2,
}
";

fn robertson(inp: &Value, results: &mut serde_json::Map<String, Value>, scale: f64) -> Res<()> {
    let p = floats(&inp["params"])?;
    let (rtol, atol) = (
        inp["rtol"].as_f64().ok_or("rtol")?,
        inp["atol"].as_f64().ok_or("atol")?,
    );
    let t_end = inp["t_end"].as_f64().ok_or("t_end")?;
    let times = floats(&inp["times"])?;
    let build = || {
        OdeBuilder::<FaerMat<f64>>::new()
            .p(p.clone())
            .rtol(rtol)
            .atol([atol])
            .build_from_diffsl::<Cg>(ROBERTSON)
    };
    let compile = time_calls(5, 5.0 * scale, || {
        black_box(build().unwrap());
    });
    let problem = build()?;
    let (y, stats) = drive(problem.bdf::<FaerLU<f64>>()?, t_end, &times)?;
    let solve = time_calls(5, 8.0 * scale, || {
        black_box(drive(problem.bdf::<FaerLU<f64>>().unwrap(), t_end, &times).unwrap());
    });
    let mut s = solve;
    s["stats"] = stats;
    s["check"] = json!({
        "vs_sci": max_rel_diff(&y, &rows(&inp["states"])?),
        "vs_reference": max_rel_diff(&y, &rows(&inp["reference"])?),
    });
    results.insert("robertson.compile".into(), compile);
    results.insert("robertson.solve".into(), s);
    Ok(())
}

// ---------------------------------------------------------------------------------------
// The 2-D Brusselator

/// The 2-D Brusselator of examples/brusselator2d.sci in DiffSL: the periodic 5-point
/// Laplacian as a sparse matrix (flat index `i·n + j`), `u` then `v` in the state.
fn brusselator_diffsl(n: usize) -> String {
    let nn = n * n;
    let mut lap = Vec::with_capacity(5 * nn);
    for i in 0..n {
        for j in 0..n {
            let r = i * n + j;
            let mut cols = [
                ((i + n - 1) % n) * n + j,
                ((i + 1) % n) * n + j,
                i * n + (j + n - 1) % n,
                i * n + (j + 1) % n,
            ];
            cols.sort_unstable();
            let mut entries: Vec<(usize, f64)> = cols.iter().map(|&c| (c, 1.0)).collect();
            entries.push((r, -4.0));
            entries.sort_by_key(|e| e.0);
            for (c, v) in entries {
                lap.push(format!("({r}, {c}): {v:?}"));
            }
        }
    }
    let coord = |k: usize, of_row: bool| {
        let idx = if of_row { k / n } else { k % n };
        format!("{:?}", (idx as f64 + 0.5) / n as f64)
    };
    let xx: Vec<String> = (0..nn).map(|k| coord(k, true)).collect();
    let yy: Vec<String> = (0..nn).map(|k| coord(k, false)).collect();
    format!(
        "in_i {{ A = 1.0, B = 3.4, alpha = 10.0 }}
L_ij {{ {lap} }}
xx_i {{ {xx} }}
yy_i {{ {yy} }}
u_i {{
    (0:{nn}): uu = 22.0 * yy_i * pow(1.0 - yy_i, 1.5),
    ({nn}:{nn2}): vv = 27.0 * xx_i * pow(1.0 - xx_i, 1.5),
}}
lapu_i {{ L_ij * uu_j }}
lapv_i {{ L_ij * vv_j }}
F_i {{
    A + uu_i * uu_i * vv_i - (B + 1.0) * uu_i + alpha * lapu_i * {inv_dx2:?},
    B * uu_i - uu_i * uu_i * vv_i + alpha * lapv_i * {inv_dx2:?},
}}
",
        lap = lap.join(", "),
        xx = xx.join(", "),
        yy = yy.join(", "),
        nn2 = 2 * nn,
        inv_dx2 = (n * n) as f64,
    )
}

fn build_bruss(
    code: &str,
    p: &[f64],
    rtol: f64,
    atol: f64,
) -> Res<diffsol::OdeSolverProblem<diffsol::DiffSl<FaerSparseMat<f64>, Cg>>> {
    Ok(OdeBuilder::<FaerSparseMat<f64>>::new()
        .p(p.to_vec())
        .rtol(rtol)
        .atol([atol])
        .build_from_diffsl::<Cg>(code)?)
}

fn brusselator_calls(
    inp: &Value,
    results: &mut serde_json::Map<String, Value>,
    scale: f64,
) -> Res<()> {
    let n = inp["n"].as_u64().ok_or("n")? as usize;
    let p = floats(&inp["params"])?;
    let t = inp["t"].as_f64().ok_or("t")?;
    let code = brusselator_diffsl(n);
    let min_compiles = match n {
        0..=32 => 5,
        33..=64 => 3,
        _ => 1,
    };
    let compile = time_calls(min_compiles, 10.0 * scale, || {
        black_box(build_bruss(&code, &p, 1e-6, 1e-9).unwrap());
    });
    let problem = build_bruss(&code, &p, 1e-6, 1e-9)?;
    let ctx = *problem.context();
    let y = FaerVec::from_vec(floats(&inp["y"])?, ctx);
    let rhs = problem.eqn.rhs();
    let mut dy = FaerVec::zeros(2 * n * n, ctx);
    rhs.call_inplace(&y, t, &mut dy);
    let rhs_check = rel_diff(&dy.clone_as_vec(), &floats(&inp["rhs"])?);
    let mut jac = rhs.jacobian(&y, t);
    let jac_check = csr_diff(&jac, inp)?;
    let rhs_t = time_calls(11, 2.0 * scale, || {
        rhs.call_inplace(black_box(&y), t, &mut dy);
    });
    let jac_t = time_calls(11, 2.0 * scale, || {
        rhs.jacobian_inplace(black_box(&y), t, &mut jac);
    });
    let key = format!("bruss{n}");
    let mut r = rhs_t;
    r["check"] = json!({"vs_sci": rhs_check});
    let mut j = jac_t;
    j["check"] = json!({"vs_sci": jac_check.0, "pattern": jac_check.1});
    results.insert(format!("{key}.compile"), compile);
    results.insert(format!("{key}.rhs"), r);
    results.insert(format!("{key}.jac"), j);
    Ok(())
}

/// The relative difference of a sparse Jacobian from sci's CSR values, and a note on the
/// patterns (entries one side has and the other lacks must be zero).
fn csr_diff(jac: &FaerSparseMat<f64>, inp: &Value) -> Res<(f64, String)> {
    let row_ptr = floats(&inp["row_ptr"])?;
    let col_idx = floats(&inp["col_idx"])?;
    let vals = floats(&inp["jac"])?;
    let mut sci: HashMap<(usize, usize), f64> = HashMap::new();
    for r in 0..row_ptr.len() - 1 {
        for k in row_ptr[r] as usize..row_ptr[r + 1] as usize {
            sci.insert((r, col_idx[k] as usize), vals[k]);
        }
    }
    let (idx, v) = jac.triplet_iter();
    let mut peer: HashMap<(usize, usize), f64> = HashMap::new();
    for ((r, c), x) in idx.zip(v) {
        *peer.entry((r, c)).or_insert(0.0) += x;
    }
    let scale = vals.iter().fold(0.0f64, |m, x| m.max(x.abs()));
    let mut diff = 0.0f64;
    for (k, a) in &peer {
        diff = diff.max((a - sci.get(k).copied().unwrap_or(0.0)).abs());
    }
    for (k, b) in &sci {
        diff = diff.max((b - peer.get(k).copied().unwrap_or(0.0)).abs());
    }
    Ok((
        diff / scale,
        format!("{} entries (sci: {})", peer.len(), sci.len()),
    ))
}

/// The BDF solve of sci's inputs; `once`: timed by the one solve (a large size), without
/// a reference solution to compare with.
fn brusselator_solve(
    inp: &Value,
    results: &mut serde_json::Map<String, Value>,
    scale: f64,
    once: bool,
) -> Res<()> {
    let n = inp["n"].as_u64().ok_or("n")? as usize;
    let p = floats(&inp["params"])?;
    let (rtol, atol) = (
        inp["rtol"].as_f64().ok_or("rtol")?,
        inp["atol"].as_f64().ok_or("atol")?,
    );
    let t_end = inp["t_end"].as_f64().ok_or("t_end")?;
    let times = floats(&inp["times"])?;
    let code = brusselator_diffsl(n);
    let problem = build_bruss(&code, &p, rtol, atol)?;
    // The DiffSL initial state is computed from the formula; it must be sci's.
    let y0 = problem.eqn.init().call(0.0).clone_as_vec();
    let init_check = rel_diff(&y0, &floats(&inp["y0"])?);
    let started = Instant::now();
    let (y, stats) = drive(problem.bdf::<FaerSparseLU<f64>>()?, t_end, &times)?;
    let first = started.elapsed().as_secs_f64();
    let mut s = if once {
        json!({"median_s": first, "min_s": first, "max_s": first, "samples": 1, "calls_per_sample": 1})
    } else {
        time_calls(3, 8.0 * scale, || {
            black_box(drive(problem.bdf::<FaerSparseLU<f64>>().unwrap(), t_end, &times).unwrap());
        })
    };
    let vs_reference = match inp["reference"] {
        Value::Null => None,
        ref r => Some(max_rel_diff(&y, &rows(r)?)),
    };
    s["stats"] = stats;
    s["check"] = json!({
        "vs_sci": max_rel_diff(&y, &rows(&inp["states"])?),
        "vs_reference": vs_reference,
        "initial_state": init_check,
    });
    results.insert(format!("bruss{n}.solve"), s);
    Ok(())
}
