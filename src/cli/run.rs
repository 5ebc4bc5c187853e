//! `sci run`: solve an ODE model and write its trajectory (CSV, NPY or JSON) and a plot.
//!
//! Every option is validated before the solve, and outputs are written only once
//! everything succeeded (each atomically), so a failed run leaves no file behind.

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Instant;

use clap::Args;
use sci::runtime::Trajectory;
use sci::stdlib::Error;
use sci::stdlib::checkpoint;
use sci::stdlib::data::{Outputs, npz_bytes, table_bytes};
use sci::stdlib::ode::{JacobianKind, Method, SolveOptions, SwitchReason};

use super::ranks::Ranks;
use super::run_plot::{PlotChoice, trajectory_plot};
use super::runtime_common::{
    DeviceArgs, apply_overrides, check_output, check_plot_output, choose_model, compile_with,
    note_device, progress_bar, report,
};

#[derive(Args, Debug)]
pub struct RunArgs {
    /// The `.sci` file.
    pub file: PathBuf,
    /// The back end that compiles the model: cranelift (compiles fast), llvm (fastest code;
    /// needs a build with `--features llvm`) or interp (the reference interpreter).
    #[arg(long, default_value = "cranelift")]
    backend: String,
    #[command(flatten)]
    pub device: DeviceArgs,
    /// The model to solve (needed when the file has several ODE models).
    #[arg(long)]
    model: Option<String>,
    /// Start time (default: the model's `domain time: t in [t0, t1]`, else 0).
    #[arg(long, allow_hyphen_values = true)]
    t0: Option<f64>,
    /// End time (default: the model's time domain; required when it has none).
    #[arg(long, allow_hyphen_values = true)]
    t_end: Option<f64>,
    /// The solver: auto (Tsit5, switching to BDF when the problem is stiff), tsit5, bdf,
    /// esdirk34, trbdf2.
    #[arg(long, default_value = "auto")]
    solver: String,
    /// Relative tolerance.
    #[arg(long, default_value_t = 1e-6, allow_hyphen_values = true)]
    rtol: f64,
    /// Absolute tolerance.
    #[arg(long, default_value_t = 1e-9, allow_hyphen_values = true)]
    atol: f64,
    /// The most steps the solver may take before giving up.
    #[arg(long, default_value_t = 1_000_000)]
    max_steps: usize,
    /// The Jacobian the implicit solvers factor: auto, dense or sparse.
    #[arg(long, default_value = "auto")]
    jacobian: String,
    /// Number of evenly spaced output times (including both ends).
    #[arg(long, default_value_t = DEFAULT_POINTS)]
    points: usize,
    /// Output times, comma separated (instead of --points).
    #[arg(long, value_delimiter = ',', allow_hyphen_values = true)]
    times: Option<Vec<f64>>,
    /// Where to report the solution: `steps` (at every step the solver took, where it
    /// computed it: a spike of Van der Pol's is never skipped), `log` (`--points` times
    /// spaced geometrically, as with --log-t) or a number N (N evenly spaced times, as
    /// `--points N`).
    #[arg(long, conflicts_with_all = ["times", "points"])]
    saveat: Option<String>,
    /// Parameter or constant overrides, `NAME=VALUE` or `NAME=v1,v2,…` in the declared unit
    /// (repeatable). A constant is compiled in; one that sizes an array cannot be changed.
    #[arg(long = "param")]
    pub params: Vec<String>,
    /// Parameters from a checkpoint written by `sci train --out`.
    #[arg(long)]
    pub params_file: Option<PathBuf>,
    /// Write the trajectory (t, states, outputs) to a .csv (units in the header), .npy,
    /// .npz (one named array per quantity, with its shape) or .json file.
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Write the events that fired to a .csv, .npy or .json table: the time, the event's
    /// number (in the model's order of `when`s; the run's summary lists their conditions)
    /// and the states just after it.
    #[arg(long)]
    pub events: Option<PathBuf>,
    /// Plot the states to an .svg or .png file (arrays of more than 12 elements as
    /// space–time heat maps; the data a loss fits as circles over the lines).
    #[arg(long)]
    pub plot: Option<PathBuf>,
    /// What to plot: states, outputs or elements, comma separated (`theta,energy`, `u[3]`).
    #[arg(long, value_delimiter = ',')]
    pub vars: Vec<String>,
    /// Solve an ensemble: one solve per member, members varying parameters and initial
    /// states: `grid: k1 = 0.02..0.06 x5; y1 = 0.9, 1.0` (`x5`: five values; `log` after it
    /// spaces them geometrically), `uniform 64: k1 = 0.03..0.05; k2 = 1e6..1e8 log` (also
    /// `lhs N:`, `sobol N:`, with `seed S` after N), or a CSV file with a column per
    /// quantity. `--out` writes every member (a `member` column first), `--plot` the means
    /// in 5–95 % bands; over the ranks of `mpirun` with `--features mpi`.
    #[arg(long, value_name = "SPEC")]
    pub ensemble: Option<String>,
    /// With --ensemble: write the mean and the 5, 50 and 95 % quantiles of every state and
    /// output across the members at each output time (.csv, .npy, .npz or .json).
    #[arg(long, requires = "ensemble")]
    pub summary: Option<PathBuf>,
    /// Logarithmic time: output times spaced geometrically (unless --times is given) and a
    /// logarithmic time axis in the plot.
    #[arg(long)]
    pub log_t: bool,
    /// Logarithmic value axis in the plot (positive values only).
    #[arg(long)]
    pub log_y: bool,
    /// A circuit model (no states): measure every circuit this many times and print the
    /// counts of the most frequent outcomes (`--seed` for other draws).
    #[arg(long)]
    pub shots: Option<usize>,
    /// The seed of `--shots`' draws (the same seed, the same outcomes everywhere).
    #[arg(long, default_value_t = 0, requires = "shots")]
    pub seed: u64,
}

/// Output times when none are asked for.
const DEFAULT_POINTS: usize = 201;

/// The most output times of one trajectory (each a row of the table).
const MAX_OUTPUT_POINTS: usize = 10_000_000;

pub fn run(args: &RunArgs, color: bool, ranks: &Ranks) -> Result<ExitCode, String> {
    // Before any work: no output may replace an input or another output.
    super::check_output_paths(
        &[Some(&args.file), args.params_file.as_deref()],
        &[
            ("--out", args.out.as_deref()),
            ("--events", args.events.as_deref()),
            ("--plot", args.plot.as_deref()),
            ("--summary", args.summary.as_deref()),
        ],
    )?;
    let compiled = match compile_with(
        &args.file,
        &args.backend,
        &args.device,
        color,
        sci::Compiler::new(),
        &args.params,
    ) {
        Ok(c) => c,
        Err(code) => return Ok(code),
    };
    match solve(args, &compiled, ranks) {
        Ok(code) => Ok(code),
        Err(Failure::Model(why)) => {
            // The model compiled but cannot be solved: a fault of the model, not of a run.
            errln!("error: {why}");
            Ok(ExitCode::from(1))
        }
        Err(Failure::Run(e)) => Ok(report(&e)),
    }
}

/// The parameters of a run: a checkpoint's (`--params-file`) or the model's, with the
/// `--param NAME=VALUE` overrides applied.
pub fn run_params(
    args: &RunArgs,
    compiled: &sci::Compiled,
    model: &sci::Model<'_>,
) -> Result<Vec<f64>, Error> {
    let mut p = match &args.params_file {
        Some(path) => {
            let cp = checkpoint::load(path)?;
            sci::runtime::params_from_checkpoint(model, &cp)?
        }
        None => model.params(),
    };
    apply_overrides(compiled, model, &mut p, &args.params)?;
    Ok(p)
}

/// Why `sci run` failed: the model cannot be solved at all (exit 1), or this run could not
/// (bad options or data, exit 2; the solver gave up, exit 3).
enum Failure {
    Model(String),
    Run(Error),
}

impl From<Error> for Failure {
    fn from(e: Error) -> Failure {
        Failure::Run(e)
    }
}

impl From<sci::JitError> for Failure {
    fn from(e: sci::JitError) -> Failure {
        Failure::Run(e.into())
    }
}

fn solve(args: &RunArgs, compiled: &sci::Compiled, ranks: &Ranks) -> Result<ExitCode, Failure> {
    if let Some(name) = super::run_circuit::circuit_model(compiled, args.model.as_deref()) {
        return Ok(super::run_circuit::run(args, compiled, &name, ranks)?);
    }
    if args.shots.is_some() {
        return Err(Failure::Run(
            Error::input("`--shots` measures the circuits of a model without states.")
                .with_help("leave it out to solve the model's ODEs"),
        ));
    }
    let name = choose_model(compiled, args.model.as_deref(), "with states", |m| {
        m.function_with_role(&sci::ir::Role::Rhs).is_some()
    })?;
    note_device(compiled, &name);
    let model = compiled.model(&name)?;
    if let Some(why) = sci::runtime::system::missing_derivative(&model) {
        return Err(Failure::Model(why));
    }
    let options = options(args, compiled, &name)?;
    if let Some(out) = &args.out {
        check_output(out, &["csv", "npy", "npz", "json"], "--out")?;
    }
    if let Some(path) = &args.events {
        check_output(path, &["csv", "npy", "json"], "--events")?;
    }
    if let Some(plot) = &args.plot {
        check_plot_output(plot)?;
    }
    let p = run_params(args, compiled, &model)?;
    if let Some(spec) = &args.ensemble {
        return Ok(super::ensemble::run(
            args, spec, &model, &p, &options, ranks,
        )?);
    }
    if ranks.collective().rank() != 0 {
        // One trajectory is one solve: rank 0's.
        return Ok(ExitCode::SUCCESS);
    }

    let (t0, t_end) = options.span.unwrap_or_default();
    let bar = progress_bar(1000, &format!("solving {name}"));
    let started = Instant::now();
    let result = model.simulate_with_progress(&p, &options, &mut |t| {
        bar.set_position((((t - t0) / (t_end - t0)).clamp(0.0, 1.0) * 1000.0) as u64);
    });
    bar.finish_and_clear();
    let traj = result?;
    let elapsed = started.elapsed();

    let svg = match &args.plot {
        Some(_) => {
            // The data a fit was made to, over the fitted solution; a data file that cannot
            // be read only costs the markers.
            let data_dir = super::train::data_dir(&args.file);
            let observed = match sci::runtime::observations(&model, &data_dir) {
                Ok(observed) => observed,
                Err(e) => {
                    errln!("warning: the plot shows no observations: {}", e.message);
                    Vec::new()
                }
            };
            let choice = PlotChoice {
                vars: &args.vars,
                log_t: args.log_t,
                log_y: args.log_y,
                observed: &observed,
            };
            Some(trajectory_plot(&traj, model.ir(), &choice)?)
        }
        None => None,
    };
    // Every output written in full first, then all renamed into place together.
    let mut outputs = Outputs::new();
    if let Some(out) = &args.out {
        // An archive keeps every quantity's name and shape (`u`: times × 200 cells).
        let bytes = if is_npz(out) {
            npz_bytes(out, &traj.arrays())?
        } else {
            table_bytes(out, &traj.table())?
        };
        outputs.stage(out, &bytes)?;
    }
    if let Some(path) = &args.events {
        outputs.stage(path, &table_bytes(path, &traj.events_table())?)?;
    }
    if let (Some(path), Some(svg)) = (&args.plot, svg) {
        outputs.stage(path, &super::png::plot_bytes(path, &svg)?)?;
    }
    outputs.commit()?;
    summary(&traj, &options, elapsed.as_secs_f64());
    if let Some(out) = &args.out {
        outln!(
            "wrote {} ({} rows × {} columns)",
            out.display(),
            traj.t.len(),
            1 + traj.state_names.len() + traj.output_names.len()
        );
    }
    if let Some(path) = &args.events {
        outln!("wrote {} ({} events)", path.display(), traj.events.len());
    }
    if let Some(path) = &args.plot {
        outln!("wrote {}", path.display());
    }
    Ok(ExitCode::SUCCESS)
}

/// The solver options from the command line and the model's time span.
fn options(args: &RunArgs, compiled: &sci::Compiled, model: &str) -> Result<SolveOptions, Error> {
    let method: Method = args.solver.parse()?;
    let jacobian = match args.jacobian.to_ascii_lowercase().as_str() {
        "auto" => JacobianKind::Auto,
        "dense" => JacobianKind::Dense,
        "sparse" => JacobianKind::Sparse,
        other => {
            return Err(
                Error::input(format!("There is no Jacobian kind `{other}`."))
                    .with_help("use auto, dense or sparse"),
            );
        }
    };
    let span = compiled.model(model)?.time_span();
    let t0 = args.t0.or(span.map(|s| s.0)).unwrap_or(0.0);
    let t_end = match args.t_end.or(span.map(|s| s.1)) {
        Some(t) => t,
        None => {
            return Err(Error::input(format!(
                "Model `{model}` declares no time span, so the end time is unknown."
            ))
            .with_help(
                "pass `--t-end T`, or declare the span in the model: `domain time: t in [0, T]`",
            ));
        }
    };
    let save = match (&args.times, args.saveat.as_deref()) {
        (Some(times), _) => SaveAt::Times(times.clone()),
        (None, Some(saveat)) => saveat.parse()?,
        (None, None) if args.log_t => SaveAt::Log(args.points),
        (None, None) => SaveAt::Even(args.points),
    };
    if let SaveAt::Even(points) | SaveAt::Log(points) = save {
        if points < 2 {
            return Err(Error::input(format!(
                "A trajectory needs at least 2 output times, not {points}."
            )));
        }
        if points > MAX_OUTPUT_POINTS {
            return Err(Error::input(format!(
                "{points} output times is too large: a trajectory has at most \
                 {MAX_OUTPUT_POINTS}."
            ))
            .with_help("write fewer points, or choose the times with `--times`"));
        }
    }
    let times = match save {
        SaveAt::Times(times) => Some(times),
        SaveAt::Steps => None,
        SaveAt::Log(points) => Some(log_times(t0, t_end, points)),
        SaveAt::Even(points) => Some(
            (0..points)
                .map(|k| match k + 1 == points {
                    true => t_end,
                    false => t0 + (t_end - t0) * k as f64 / (points - 1) as f64,
                })
                .collect(),
        ),
    };
    Ok(SolveOptions {
        method,
        span: Some((t0, t_end)),
        at_steps: times.is_none(),
        times,
        rtol: args.rtol,
        atol: args.atol,
        jacobian,
        sensitivities: false,
        max_steps: args.max_steps,
        ..SolveOptions::default()
    })
}

/// Where a trajectory is reported.
enum SaveAt {
    /// These times.
    Times(Vec<f64>),
    /// Every solver step.
    Steps,
    /// This many evenly spaced times.
    Even(usize),
    /// This many geometrically spaced times.
    Log(usize),
}

impl std::str::FromStr for SaveAt {
    type Err = Error;
    fn from_str(s: &str) -> Result<SaveAt, Error> {
        match s.trim().to_ascii_lowercase().as_str() {
            "steps" => Ok(SaveAt::Steps),
            "log" => Ok(SaveAt::Log(DEFAULT_POINTS)),
            other => other.parse().map(SaveAt::Even).map_err(|_| {
                Error::input(format!("`--saveat {s}` names no output times."))
                    .with_help("use `steps`, `log` or a number of evenly spaced times")
            }),
        }
    }
}

/// `points` output times for a logarithmic time axis: `t0`, then geometrically spaced
/// times from `t_end`·10⁻⁸ past `t0` (the fast transients of a stiff problem) to `t_end`.
fn log_times(t0: f64, t_end: f64, points: usize) -> Vec<f64> {
    let span = t_end - t0;
    let first = span * 1e-8;
    let rest = points - 1;
    let mut times = vec![t0];
    times.extend((0..rest).map(|k| {
        if k + 1 == rest {
            t_end
        } else {
            let exponent = k as f64 / (rest - 1).max(1) as f64;
            t0 + first * (span / first).powf(exponent)
        }
    }));
    times
}

/// Whether `path` names an `.npz` archive.
pub fn is_npz(path: &Path) -> bool {
    path.extension()
        .and_then(|e| e.to_str())
        .is_some_and(|e| e.eq_ignore_ascii_case("npz"))
}

/// What was solved, how, and the final state.
fn summary(traj: &Trajectory, options: &SolveOptions, seconds: f64) {
    let stats = &traj.stats;
    let method = stats.method.map_or("?", |m| m.name());
    let chosen = if options.method == Method::Auto {
        " (auto)"
    } else {
        ""
    };
    let (t0, t_end) = options.span.unwrap_or_default();
    // An event that stops the solve ends it early: say where, and why.
    let (reached, stopped) = match (traj.stopped_by, traj.t.last()) {
        (Some(k), Some(&t)) => (
            t,
            format!(
                " (stopped by `{}`; the span ends at {t_end})",
                traj.event_labels.get(k).map_or("?", String::as_str)
            ),
        ),
        _ => (t_end, String::new()),
    };
    // A declared time unit other than seconds is said (`0 ≤ t ≤ 160 day`).
    let unit = (traj.declared_time_unit())
        .map(|u| format!(" {u}"))
        .unwrap_or_default();
    outln!(
        "{}: solved {} ≤ t ≤ {}{unit}{stopped} with {method}{chosen}{}: {} steps, {} rhs evaluations, {} Jacobians, {:.3} s",
        traj.model,
        t0,
        reached,
        if stats.sparse { ", sparse LU" } else { "" },
        stats.steps,
        stats.rhs_evals,
        stats.jacobian_evals,
        seconds
    );
    if stats.algebraic_states > 0 {
        let n = stats.algebraic_states;
        outln!(
            "  a differential-algebraic model: {n} algebraic state{} kept on the constraints (made consistent at the start)",
            if n == 1 { "" } else { "s" }
        );
    }
    if let Some(switch) = &stats.switch {
        let how = match switch.reason {
            SwitchReason::StiffAtStart => "the Jacobian at t0 shows the problem is stiff".into(),
            SwitchReason::StiffOnTheWay | SwitchReason::ExplicitFailed => format!(
                "tsit5 took {} steps ({} rhs evaluations) to t = {:.4e} and {}",
                switch.explicit_steps,
                switch.explicit_rhs_evals,
                switch.reached,
                if switch.reason == SwitchReason::StiffOnTheWay {
                    "found the problem stiff"
                } else {
                    "failed"
                }
            ),
        };
        outln!(
            "  auto: {how}, so {method} solved it from t = {t0}: {} steps, {} rhs evaluations",
            stats.steps - switch.explicit_steps,
            stats.rhs_evals - switch.explicit_rhs_evals
        );
    }
    let Some(last) = traj.states.last() else {
        return;
    };
    let t = traj.t.last().copied().unwrap_or(t_end);
    outln!("at t = {t}:");
    let shown = traj.state_names.len().min(12);
    for (name, value) in traj.state_names.iter().zip(last).take(shown) {
        outln!("  {name} = {value:.10e}");
    }
    if traj.state_names.len() > shown {
        outln!("  … {} more states", traj.state_names.len() - shown);
    }
    if let Some(out) = traj.outputs.last() {
        for (name, value) in traj.output_names.iter().zip(out).take(12) {
            outln!("  {name} = {value:.10e}");
        }
    }
    events_summary(traj);
}

/// The events that fired: how many of each, and the first few with their times.
fn events_summary(traj: &Trajectory) {
    if traj.events.is_empty() {
        if !traj.event_labels.is_empty() {
            outln!("no event fired");
        }
        return;
    }
    let label = |k: usize| traj.event_labels.get(k).map_or("?", String::as_str);
    let mut counts = vec![0usize; traj.event_labels.len()];
    for e in &traj.events {
        if let Some(c) = counts.get_mut(e.event) {
            *c += 1;
        }
    }
    let per_event: Vec<String> = (counts.iter().enumerate())
        .filter(|(_, c)| **c > 0)
        .map(|(k, c)| format!("`{}` ×{c}", label(k)))
        .collect();
    let count = traj.events.len();
    let plural = if count == 1 { "" } else { "s" };
    outln!("{count} event{plural}: {}", per_event.join(", "));
    const SHOWN: usize = 10;
    for e in traj.events.iter().take(SHOWN) {
        outln!("  t = {:.10e}  {}", e.t, label(e.event));
    }
    if traj.events.len() > SHOWN {
        outln!(
            "  … {} more (all in `--out x.npz`: events.t, events.index, events.state)",
            traj.events.len() - SHOWN
        );
    }
}
