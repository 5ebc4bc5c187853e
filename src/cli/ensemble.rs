//! `sci run --ensemble SPEC`: one solve per member of a parameter grid, draws from ranges
//! or a table of members, on threads (`--threads`) and over the ranks of an `mpirun`;
//! rank 0 writes every member's trajectory in one table with a member column (`--out`),
//! the statistics across the members (`--summary`: mean and quantiles per output time) and
//! a plot of the means in their 5–95 % bands (`--plot`). Members that fail are listed with
//! their values; the others are still written. Exit status 3 only when none solved.

use std::path::Path;
use std::time::Instant;

use sci::runtime::ensemble::{Ensemble, EnsembleRun, QUANTILES, mean_column, quantile_column};
use sci::stdlib::Error;
use sci::stdlib::data::{Outputs, Table, npz_bytes, table_bytes};
use sci::stdlib::ode::SolveOptions;

use super::plot::{Axes, bands_svg};
use super::ranks::Ranks;
use super::run::{RunArgs, is_npz};
use super::run_plot::MAX_LINES;
use super::runtime_common::{EXIT_NUMERICAL, check_output, check_plot_output};

/// The most failed members listed one by one.
const LISTED_FAILURES: usize = 20;

/// Solves the ensemble `spec` of `model` from parameters `p` and writes what was asked.
pub fn run(
    args: &RunArgs,
    spec: &str,
    model: &sci::Model<'_>,
    p: &[f64],
    options: &SolveOptions,
    ranks: &Ranks,
) -> Result<std::process::ExitCode, Error> {
    for (flag, path) in [("--out", &args.out), ("--summary", &args.summary)] {
        if let Some(path) = path {
            check_output(path, &["csv", "npy", "npz", "json"], flag)?;
        }
    }
    if let Some(plot) = &args.plot {
        check_plot_output(plot)?;
    }
    if args.events.is_some() {
        return Err(
            Error::input("`--events` writes one trajectory's events, not an ensemble's.")
                .with_help("drop --events, or run one member without --ensemble"),
        );
    }
    let ensemble = Ensemble::parse(spec, Path::new("."))?;
    let collective = ranks.collective();
    let threads = args.device.threads;
    let started = Instant::now();
    let run = ensemble.solve_over(model, p, options, threads, collective)?;
    let elapsed = started.elapsed().as_secs_f64();
    let Some(run) = run else {
        // Rank 0 writes and reports.
        return Ok(std::process::ExitCode::SUCCESS);
    };
    let solved = run.members.len() - run.failures().count();
    if solved == 0 {
        report_failures(&run);
        errln!("error: no member of the ensemble solved, so nothing was written");
        return Ok(std::process::ExitCode::from(EXIT_NUMERICAL));
    }
    let mut outputs = Outputs::new();
    if let Some(out) = &args.out {
        outputs.stage(out, &table_file(out, &run.table())?)?;
    }
    if let Some(path) = &args.summary {
        outputs.stage(path, &table_file(path, &run.summary())?)?;
    }
    if let Some(path) = &args.plot {
        let svg = plot(&run, args)?;
        outputs.stage(path, &super::png::plot_bytes(path, &svg)?)?;
    }
    outputs.commit()?;
    let threads_note = match threads {
        0 => "all cores".to_string(),
        1 => "1 thread".to_string(),
        n => format!("{n} threads"),
    };
    outln!(
        "{}: ensemble of {} members over {} rank{} ({threads_note} each): {solved} solved, {} failed, {elapsed:.3} s",
        run.model,
        run.members.len(),
        collective.size(),
        if collective.size() == 1 { "" } else { "s" },
        run.members.len() - solved,
    );
    report_failures(&run);
    for path in [&args.out, &args.summary].into_iter().flatten() {
        outln!("wrote {}", path.display());
    }
    if let Some(path) = &args.plot {
        outln!("wrote {}", path.display());
    }
    Ok(std::process::ExitCode::SUCCESS)
}

/// A table as the bytes of `path`'s format (an `.npz` archive: a column per array).
fn table_file(path: &Path, table: &Table) -> Result<Vec<u8>, Error> {
    match is_npz(path) {
        true => npz_bytes(path, &table.arrays()),
        false => table_bytes(path, table),
    }
}

/// The failed members with their values, on stderr.
fn report_failures(run: &EnsembleRun) {
    let failed: Vec<_> = run.failures().collect();
    for m in failed.iter().take(LISTED_FAILURES) {
        let values: Vec<String> = (run.names.iter().zip(&m.values))
            .map(|(n, v)| format!("{n} = {}", show(*v)))
            .collect();
        let why = m.outcome.as_ref().err().map_or("", String::as_str);
        errln!("member {} ({}) failed: {why}", m.index, values.join(", "));
    }
    if failed.len() > LISTED_FAILURES {
        errln!(
            "… and {} more failed members",
            failed.len() - LISTED_FAILURES
        );
    }
}

/// The means of the chosen quantities (`--vars`, else the states, at most a dozen) in
/// their 5–95 % bands.
fn plot(run: &EnsembleRun, args: &RunArgs) -> Result<String, Error> {
    let summary = run.summary();
    let variables = run.variables();
    let chosen: Vec<&String> = match args.vars.is_empty() {
        true => run.state_names.iter().take(MAX_LINES).collect(),
        false => {
            let mut chosen = Vec::new();
            for v in &args.vars {
                let Some(name) = variables.iter().find(|n| *n == v) else {
                    return Err(Error::input(format!(
                        "`--vars {v}` names no state or output element of `{}`.",
                        run.model
                    ))
                    .with_help(format!("they are: {}", variables.join(", "))));
                };
                chosen.push(name);
            }
            chosen
        }
    };
    let column = |name: &str| summary.column(name).unwrap_or_default();
    let t = column("t");
    let series: Vec<(String, Vec<f64>)> = (chosen.iter())
        .map(|v| (format!("{v} (mean)"), column(&mean_column(v))))
        .collect();
    let (low, high) = (QUANTILES[0], QUANTILES[2]);
    let bands: Vec<(Vec<f64>, Vec<f64>)> = (chosen.iter())
        .map(|v| {
            (
                column(&quantile_column(v, low)),
                column(&quantile_column(v, high)),
            )
        })
        .collect();
    let title = format!(
        "{}: {} members, means and 5–95 % bands",
        run.model,
        run.members.len()
    );
    let axes = Axes {
        title: &title,
        x_label: "t",
        y_label: "value",
        log_x: args.log_t,
        log_y: args.log_y,
    };
    bands_svg(&axes, &t, &series, &bands).map_err(Error::numerical)
}

/// A value as a person reads it: plain for moderate magnitudes, else in exponent form.
fn show(v: f64) -> String {
    match v == 0.0 || (1e-4..1e6).contains(&v.abs()) {
        true => format!("{v}"),
        false => format!("{v:e}"),
    }
}
