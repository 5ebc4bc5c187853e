//! Adjoint against forward sensitivities as the parameters grow: the 2-D Brusselator on a
//! 32 × 32 periodic grid (2048 states, sparse BDF) with its rate constants `A`, `B` given
//! per block of cells, `P ∈ {4, 32, 256, 2048}` parameters (2048: a pair per cell), fitted
//! to two cells' trajectories. Per `P`: one forward BDF solve (the loss), the gradient by
//! forward sensitivities, and the gradient by the adjoint, in one run; the crossover is
//! the smallest `P` where the adjoint is faster.
//!
//! `cargo bench --bench adjoint -- [--out docs/adjoint-benchmarks.md] [--json FILE]
//! [--scale S]` (`bench/adjoint.sh` runs it); `--scale` multiplies the timing budgets.
//! `--print-model P` prints the model with `P` parameters (to run it with the CLI).

mod timing;

use std::fmt::Write as _;
use std::time::Instant;

use sci::runtime::{TrainSetup, Trainer};
use sci::stdlib::ode::{Method, Sensitivity, SolveOptions};

const N: usize = 32;
/// Blocks of cells `(rows, columns)` sharing one `A` and one `B`: `P = 2 · rows · columns`.
const BLOCKS: [(usize, usize); 4] = [(2, 1), (4, 4), (16, 8), (32, 32)];
/// Forward sensitivities are not measured at a `P` where the previous measurement,
/// extrapolated linearly, passes this (P = 2048 would take many minutes).
const FORWARD_BUDGET_S: f64 = 120.0;

/// The model with rates per block: the grid is written as `[block row, row in block,
/// block column, column in block]`, so a cell's rates are `A[block row, block column]`
/// (the language indexes with `+ - *` only). Neighbours wrap around periodically.
fn model(gi: usize, gj: usize) -> String {
    let (bi, bj) = (N / gi, N / gj);
    let shift = |field: &str, di: i32, dj: i32| neighbour(field, di, dj, gi, bi, gj, bj);
    let lap = |f: &str| {
        format!(
            "{} + {} + {} + {} - 4 * {f}[a, p, b, q]",
            shift(f, -1, 0),
            shift(f, 1, 0),
            shift(f, 0, -1),
            shift(f, 0, 1)
        )
    };
    format!(
        "model BrusselatorRates {{
    const dx = 1.0 / {N}
    const alpha = 0.1
    param A[a in 0..{gi}, b in 0..{gj}] = 1.0
    param B[a in 0..{gi}, b in 0..{gj}] = 3.4
    state u[a in 0..{gi}, p in 0..{bi}, b in 0..{gj}, q in 0..{bj}] =
        22 * ((b * {bj} + q + 0.5) * dx) * (1 - (b * {bj} + q + 0.5) * dx)^1.5
    state v[a in 0..{gi}, p in 0..{bi}, b in 0..{gj}, q in 0..{bj}] =
        27 * ((a * {bi} + p + 0.5) * dx) * (1 - (a * {bi} + p + 0.5) * dx)^1.5
    let lap_u[a in 0..{gi}, p in 0..{bi}, b in 0..{gj}, q in 0..{bj}] = {}
    let lap_v[a in 0..{gi}, p in 0..{bi}, b in 0..{gj}, q in 0..{bj}] = {}
    der(u[a, p, b, q]) = A[a, b] + u[a, p, b, q]^2 * v[a, p, b, q]
        - (B[a, b] + 1) * u[a, p, b, q] + alpha * lap_u[a, p, b, q] / dx^2
    der(v[a, p, b, q]) = B[a, b] * u[a, p, b, q] - u[a, p, b, q]^2 * v[a, p, b, q]
        + alpha * lap_v[a, p, b, q] / dx^2
    data obs(t, m) = csv(\"obs.csv\")
    loss = mean((u(obs.t)[0, 0, 0, 0] - obs.m)^2 + (v(obs.t)[{}, 0, {}, 0] - obs.m)^2)
    domain time: t in [0, 1]
}}
",
        lap("u"),
        lap("v"),
        gi - 1,
        gj - 1,
    )
}

/// `field` at the neighbour `(di, dj)` of `[a, p, b, q]`, wrapping around: one read per
/// case, chosen by conditionals on the indices. Every read is a loop index plus a constant
/// on each axis (the wrap to the last row of the previous block is `p + size − 1` under
/// `p == 0`, not the constant `size − 1`), the form whose reverse-mode derivative is a
/// transposed gather (linear work; `passes/src/ad/loops.rs`).
fn neighbour(field: &str, di: i32, dj: i32, gi: usize, bi: usize, gj: usize, bj: usize) -> String {
    let offset = |index: &str, by: i64| match by {
        0 => index.to_string(),
        by if by > 0 => format!("{index} + {by}"),
        by => format!("{index} - {}", -by),
    };
    // Along one axis: per case its condition and the (block, within) offsets.
    let axis = |block: &str, within: &str, blocks: usize, size: usize, d: i32| {
        let (blocks, size) = (blocks as i64, size as i64);
        match d {
            -1 => vec![
                (format!("{within} > 0"), 0, -1),
                (format!("{block} > 0"), -1, size - 1),
                ("true".to_string(), blocks - 1, size - 1),
            ],
            1 => vec![
                (format!("{within} < {}", size - 1), 0, 1),
                (format!("{block} < {}", blocks - 1), 1, 1 - size),
                ("true".to_string(), 1 - blocks, 1 - size),
            ],
            _ => vec![("true".to_string(), 0, 0)],
        }
    };
    let cases = if di != 0 {
        axis("a", "p", gi, bi, di)
    } else {
        axis("b", "q", gj, bj, dj)
    };
    let read = |block_by: i64, within_by: i64| {
        if di != 0 {
            format!(
                "{field}[{}, {}, b, q]",
                offset("a", block_by),
                offset("p", within_by)
            )
        } else {
            format!(
                "{field}[a, p, {}, {}]",
                offset("b", block_by),
                offset("q", within_by)
            )
        }
    };
    let mut text = String::new();
    let mut open = 0;
    for (condition, block_by, within_by) in &cases {
        if condition == "true" {
            text.push_str(&read(*block_by, *within_by));
        } else {
            let _ = write!(
                text,
                "(if {condition} then {} else ",
                read(*block_by, *within_by)
            );
            open += 1;
        }
    }
    text.push_str(&")".repeat(open));
    text
}

struct Row {
    params: usize,
    solve_s: f64,
    /// `None` when skipped (see `FORWARD_BUDGET_S`), with the projected time.
    forward_s: Option<f64>,
    projected: Option<f64>,
    adjoint_s: f64,
    agreement: Option<f64>,
    /// The timings in full (samples, spread), for `--json`.
    raw: serde_json::Value,
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let value = |flag: &str| {
        args.iter()
            .position(|a| a == flag)
            .and_then(|k| args.get(k + 1))
            .cloned()
    };
    let out = value("--out");
    let json_out = value("--json");
    // `--print-model P`: the model with P parameters, to run it with the CLI.
    if let Some(params) = value("--print-model") {
        let params: usize = params
            .parse()
            .expect("--print-model takes a parameter count");
        let (gi, gj) = (BLOCKS.iter())
            .find(|(gi, gj)| 2 * gi * gj == params)
            .expect("P is one of 4, 32, 256, 2048");
        print!("{}", model(*gi, *gj));
        return;
    }
    let scale: f64 = value("--scale").map_or(1.0, |s| s.parse().expect("--scale takes a number"));
    let dir = std::env::temp_dir().join(format!("sci-adjoint-bench-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("a scratch directory");
    std::fs::write(
        dir.join("obs.csv"),
        "t,m\n0.25,1.2\n0.5,1.5\n0.75,1.1\n1,2.0\n",
    )
    .expect("the data file");
    let mut rows = Vec::new();
    for (gi, gj) in BLOCKS {
        let source = model(gi, gj);
        let compiled = sci::Compiler::new()
            .adjoint(true)
            .compile_source("brusselator_rates.sci", &source)
            .unwrap_or_else(|e| panic!("{}", e.render()));
        let trainer = |sensitivity| {
            Trainer::new(
                &compiled,
                "BrusselatorRates",
                TrainSetup {
                    data_dir: dir.clone(),
                    solve: SolveOptions {
                        method: Method::Bdf,
                        rtol: 1e-6,
                        atol: 1e-8,
                        ..SolveOptions::default()
                    },
                    sensitivity,
                    ..TrainSetup::default()
                },
            )
            .expect("a trainer")
        };
        let (mut forward, mut adjoint) =
            (trainer(Sensitivity::Forward), trainer(Sensitivity::Adjoint));
        let p = forward.model().params();
        let params = p.len();
        let solve = timing::time_calls(3, 2.0 * scale, || {
            forward.loss(&p).expect("the loss");
        });
        let mut g_forward = vec![0.0; params];
        let mut g_adjoint = vec![0.0; params];
        let adjoint_t = timing::time_calls(3, 4.0 * scale, || {
            adjoint
                .loss_and_grad(&p, &mut g_adjoint)
                .expect("adjoint gradient");
        });
        // Forward sensitivities grow with P: measured while the previous P's time,
        // extrapolated linearly, stays within `FORWARD_BUDGET_S`; a single call above 2 s.
        let projected = rows
            .last()
            .map(|r: &Row| r.forward_s.unwrap_or(f64::INFINITY) * params as f64 / r.params as f64);
        let (forward_s, forward_raw) = if projected.is_some_and(|t| t > FORWARD_BUDGET_S) {
            (None, serde_json::json!({"skipped_projected_s": projected}))
        } else {
            let started = Instant::now();
            forward
                .loss_and_grad(&p, &mut g_forward)
                .expect("forward gradient");
            let once = started.elapsed().as_secs_f64();
            if once > 2.0 {
                (Some(once), serde_json::json!({"single_s": once}))
            } else {
                let t = timing::time_calls(3, 4.0 * scale, || {
                    forward
                        .loss_and_grad(&p, &mut g_forward)
                        .expect("forward gradient");
                });
                (Some(t.median), t.json())
            }
        };
        let norm = |v: &[f64]| v.iter().map(|x| x * x).sum::<f64>().sqrt();
        let diff: Vec<f64> = g_forward
            .iter()
            .zip(&g_adjoint)
            .map(|(f, a)| f - a)
            .collect();
        let agreement = forward_s.map(|_| norm(&diff) / norm(&g_forward));
        let row = Row {
            params,
            solve_s: solve.median,
            forward_s,
            adjoint_s: adjoint_t.median,
            projected,
            agreement,
            raw: serde_json::json!({
                "params": params,
                "solve": solve.json(),
                "forward": forward_raw,
                "adjoint": adjoint_t.json(),
            }),
        };
        eprintln!(
            "P = {:4}: solve {:.4} s, forward {}, adjoint {:.4} s ({:.2}× a solve), ‖Δg‖/‖g‖ {}",
            row.params,
            row.solve_s,
            forward_cell(&row),
            row.adjoint_s,
            row.adjoint_s / row.solve_s,
            row.agreement
                .map_or("–".to_string(), |a| format!("{a:.1e}"))
        );
        rows.push(row);
    }
    let _ = std::fs::remove_dir_all(&dir);
    if let Some(path) = json_out {
        let raw: Vec<&serde_json::Value> = rows.iter().map(|r| &r.raw).collect();
        std::fs::write(&path, serde_json::to_string_pretty(&raw).expect("json"))
            .expect("writing the timings");
    }
    let report = markdown(&rows);
    match out {
        Some(path) => std::fs::write(&path, report).expect("writing the report"),
        None => print!("{report}"),
    }
}

fn markdown(rows: &[Row]) -> String {
    let mut s = String::new();
    let _ = writeln!(
        s,
        "# Adjoint against forward sensitivities\n\n\
         Written by `bench/adjoint.sh` (`cargo bench --bench adjoint`); do not edit. Measured \
         {} on this machine ({} cores), one run.\n\n\
         The 2-D Brusselator on a 32 × 32 periodic grid (2048 states, α = 0.1, t ∈ [0, 1]), \
         its rate constants `A`, `B` given per block of cells (P = 2048: a pair per cell), \
         fitted to two cells' trajectories at four times. BDF with the sparse LU, rtol 1e-6, \
         atol 1e-8. *Solve*: one forward solve and the loss; *forward*: the gradient by forward \
         sensitivities (`--sensitivity forward`; not run where the previous P's time, \
         extrapolated linearly, passes 2 minutes); *adjoint*: by the adjoint \
         (`--sensitivity adjoint`: a forward solve with dense output and the backward solve, \
         both at 100× tighter tolerances, and the quadrature). Medians. The models differ \
         only in how the grid is blocked, yet their solves do not cost the same: at P = 2048 \
         the within-block axes have extent 1, which the generated code runs less well, so \
         compare the adjoint with the forward solve of the same row.\n",
        today(),
        std::thread::available_parallelism().map_or(1, |n| n.get()),
    );
    let _ = writeln!(
        s,
        "| P | solve | forward | adjoint | adjoint / solve | forward / adjoint | ‖Δg‖ / ‖g‖ |\n\
         |---:|---:|---:|---:|---:|---:|---:|"
    );
    for r in rows {
        let _ = writeln!(
            s,
            "| {} | {} | {} | {} | {:.2}× | {} | {} |",
            r.params,
            seconds(r.solve_s),
            forward_cell(r),
            seconds(r.adjoint_s),
            r.adjoint_s / r.solve_s,
            r.forward_s
                .map_or("–".to_string(), |f| format!("{:.2}×", f / r.adjoint_s)),
            r.agreement.map_or("–".to_string(), |a| format!("{a:.1e}"))
        );
    }
    let _ = writeln!(
        s,
        "\n**Crossover**: {}. `--sensitivity auto` takes the adjoint from 32 parameters.",
        crossover(rows)
    );
    if let Some(last) = rows.last() {
        let _ = writeln!(
            s,
            "\n**Target** (adjoint gradient ≤ 5× one forward BDF solve at P = {}): {:.2}× — {}.",
            last.params,
            last.adjoint_s / last.solve_s,
            if last.adjoint_s <= 5.0 * last.solve_s {
                "met"
            } else {
                "not met"
            }
        );
    }
    s
}

/// The forward time, or why there is none.
fn forward_cell(r: &Row) -> String {
    match (r.forward_s, r.projected) {
        (Some(f), _) => seconds(f),
        (None, Some(p)) => format!("not run (≈ {} extrapolated)", seconds(p)),
        (None, None) => "not run".to_string(),
    }
}

/// Where forward and adjoint cost the same: between the two measured P around the change
/// of sign, interpolated linearly in P.
fn crossover(rows: &[Row]) -> String {
    let measured: Vec<(f64, f64)> = (rows.iter())
        .filter_map(|r| r.forward_s.map(|f| (r.params as f64, f - r.adjoint_s)))
        .collect();
    match measured.windows(2).find(|w| w[0].1 < 0.0 && w[1].1 >= 0.0) {
        Some(w) => {
            let ((p0, d0), (p1, d1)) = (w[0], w[1]);
            let at = p0 + (p1 - p0) * (-d0) / (d1 - d0);
            format!(
                "forward sensitivities are faster below P ≈ {at:.0}, the adjoint above \
                 (interpolated between P = {p0} and {p1})"
            )
        }
        None if measured.first().is_some_and(|m| m.1 >= 0.0) => {
            "the adjoint is faster at every P measured".to_string()
        }
        None => "the adjoint was not faster at any P measured".to_string(),
    }
}

fn seconds(s: f64) -> String {
    if s >= 1.0 {
        format!("{s:.2} s")
    } else {
        format!("{:.1} ms", s * 1e3)
    }
}

fn today() -> String {
    std::process::Command::new("date")
        .arg("+%Y-%m-%d")
        .output()
        .ok()
        .and_then(|o| String::from_utf8(o.stdout).ok())
        .map_or_else(|| "?".to_string(), |d| d.trim().to_string())
}
