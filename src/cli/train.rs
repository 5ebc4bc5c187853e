//! `sci train`: minimise a model's loss (physics-informed residuals, data fits through ODE
//! solutions) and write the parameters, the loss history and a loss plot.
//!
//! Options and data files are validated before training, and outputs are written only
//! once training succeeded (each atomically), so a failed run leaves no file behind.

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Instant;

use clap::Args;
use sci::runtime::{TrainSetup, Trainer};
use sci::stdlib::Error;
use sci::stdlib::checkpoint;
use sci::stdlib::data::{Outputs, Table, table_bytes};
use sci::stdlib::ode::{Method, SolveOptions};
use sci::stdlib::optim::{Objective, Optimizer, StopReason, TrainOptions, train};

use super::runtime_common::{
    DeviceArgs, apply_overrides, check_output, choose_model, compile, note_device, progress_bar,
    report,
};

#[derive(Args, Debug)]
pub struct TrainArgs {
    /// The `.sci` file.
    file: PathBuf,
    /// The back end that compiles the model: cranelift (compiles fast), llvm (fastest code;
    /// needs a build with `--features llvm`) or interp (the reference interpreter).
    #[arg(long, default_value = "cranelift")]
    backend: String,
    #[command(flatten)]
    device: DeviceArgs,
    /// The model to train (needed when the file has several models with a loss).
    #[arg(long)]
    model: Option<String>,
    /// Optimiser iterations.
    #[arg(long, default_value_t = 1000)]
    steps: usize,
    /// The optimiser: adam, lbfgs, or adam+lbfgs (Adam for half the steps, then L-BFGS).
    #[arg(long, default_value = "adam")]
    optimizer: String,
    /// Adam's learning rate.
    #[arg(long, default_value_t = 1e-3, allow_hyphen_values = true)]
    lr: f64,
    /// Seed of the collocation points.
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// Draw new collocation points every N steps (Adam only).
    #[arg(long)]
    resample_every: Option<usize>,
    /// Stop when the gradient's largest component falls below this.
    #[arg(long, default_value_t = 0.0)]
    grad_tol: f64,
    /// Start from the parameters of a checkpoint (written by `--out`).
    #[arg(long)]
    init: Option<PathBuf>,
    /// Parameter overrides for the start, `NAME=VALUE` (repeatable).
    #[arg(long = "param")]
    params: Vec<String>,
    /// The ODE solver for losses over trajectories.
    #[arg(long, default_value = "auto")]
    solver: String,
    /// Relative tolerance of the ODE solver.
    #[arg(long, default_value_t = 1e-8, allow_hyphen_values = true)]
    rtol: f64,
    /// Absolute tolerance of the ODE solver.
    #[arg(long, default_value_t = 1e-10, allow_hyphen_values = true)]
    atol: f64,
    /// Write the trained parameters to a .json checkpoint.
    #[arg(long)]
    out: Option<PathBuf>,
    /// Write the loss history (step, loss) to a .csv, .npy or .json file.
    #[arg(long)]
    losses: Option<PathBuf>,
    /// Plot the loss history to an .svg file.
    #[arg(long)]
    plot: Option<PathBuf>,
}

pub fn run(args: &TrainArgs, color: bool) -> Result<ExitCode, String> {
    // Before any work: no output may replace an input or another output.
    let inputs: Vec<&Path> = std::iter::once(args.file.as_path())
        .chain(args.init.as_deref())
        .collect();
    let outputs: Vec<(&str, &Path)> = [
        ("--out", &args.out),
        ("--losses", &args.losses),
        ("--plot", &args.plot),
    ]
    .into_iter()
    .filter_map(|(flag, p)| Some((flag, p.as_deref()?)))
    .collect();
    super::check_output_paths(&inputs, &outputs)?;
    let compiled = match compile(&args.file, &args.backend, &args.device, color) {
        Ok(c) => c,
        Err(code) => return Ok(code),
    };
    let name = match choose_model(&compiled, args.model.as_deref(), "with a loss", |m| {
        m.function_with_role(&sci::ir::Role::Loss).is_some()
    }) {
        Ok(name) => name,
        Err(e) => return Ok(report(&e)),
    };
    if let Some(why) = no_gradient(&compiled, &name) {
        // The model compiled but cannot be trained: a fault of the model, not of a run.
        errln!("error: {why}");
        return Ok(ExitCode::from(1));
    }
    match fit(args, &compiled, &name) {
        Ok(()) => Ok(ExitCode::SUCCESS),
        Err(e) => Ok(report(&e)),
    }
}

/// Why model `name` has no gradient of its loss (a derivative refused as too large,
/// E0705), if it has none.
fn no_gradient(compiled: &sci::Compiled, name: &str) -> Option<String> {
    let model = compiled.model(name).ok()?;
    if model.has_function(sci::jit::LOSS_VALUE_GRAD) || model.has_function(sci::jit::LOSS_GRAD) {
        return None;
    }
    model.function(sci::jit::LOSS_GRAD).err().map(|e| e.message)
}

fn fit(args: &TrainArgs, compiled: &sci::Compiled, name: &str) -> Result<(), Error> {
    note_device(compiled, name);
    let optimizer: Optimizer = args.optimizer.parse()?;
    let method: Method = args.solver.parse()?;
    let options = TrainOptions {
        optimizer,
        steps: args.steps,
        lr: args.lr,
        resample_every: args.resample_every,
        grad_tol: args.grad_tol,
        ..TrainOptions::default()
    };
    if let Some(out) = &args.out {
        check_output(out, &["json"], "--out")?;
    }
    if let Some(path) = &args.losses {
        check_output(path, &["csv", "npy", "json"], "--losses")?;
    }
    if let Some(path) = &args.plot {
        check_output(path, &["svg"], "--plot")?;
    }
    let setup = TrainSetup {
        seed: args.seed,
        data_dir: data_dir(&args.file),
        solve: SolveOptions {
            method,
            rtol: args.rtol,
            atol: args.atol,
            ..SolveOptions::default()
        },
    };
    let mut trainer = Trainer::new(compiled, name, setup)?;
    let model = trainer.model();
    let mut p = match &args.init {
        Some(path) => trainer.params_from(&checkpoint::load(path)?)?,
        None => model.params(),
    };
    apply_overrides(&model, &mut p, &args.params)?;

    outln!(
        "training {name}: {} parameters, {} × {}",
        trainer.n_params(),
        args.steps,
        optimizer.name()
    );
    let bar = progress_bar(args.steps as u64, &format!("training {name}"));
    let started = Instant::now();
    let result = train(&mut trainer, &mut p, &options, &mut |step, loss| {
        bar.set_position(step as u64);
        bar.set_message(format!("loss {loss:.4e}"));
    });
    bar.finish_and_clear();
    let report = result?;
    let elapsed = started.elapsed().as_secs_f64();

    let svg = match &args.plot {
        Some(_) => Some(
            super::plot::loss_svg(&format!("{name}: training loss"), &report.losses)
                .map_err(Error::numerical)?,
        ),
        None => None,
    };
    // Every output written in full first, then all renamed into place together.
    let mut outputs = Outputs::new();
    if let Some(out) = &args.out {
        let meta = vec![
            ("loss".to_string(), report.final_loss),
            ("steps".to_string(), report.steps as f64),
            ("seed".to_string(), args.seed as f64),
        ];
        outputs.stage(
            out,
            &checkpoint::to_bytes(out, &trainer.checkpoint(&p, meta))?,
        )?;
    }
    if let Some(path) = &args.losses {
        let values = report
            .losses
            .iter()
            .enumerate()
            .flat_map(|(k, l)| [k as f64, *l])
            .collect();
        let table = Table {
            columns: vec!["step".to_string(), "loss".to_string()],
            values,
        };
        outputs.stage(path, &table_bytes(path, &table)?)?;
    }
    if let (Some(path), Some(svg)) = (&args.plot, svg) {
        outputs.stage(path, svg.as_bytes())?;
    }
    outputs.commit()?;

    let first = report.losses.first().copied().unwrap_or(f64::NAN);
    outln!(
        "{name}: loss {first:.6e} → {:.6e} in {} steps ({} evaluations, {elapsed:.2} s){}",
        report.final_loss,
        report.steps,
        report.evaluations,
        match report.stopped {
            StopReason::Steps => "",
            StopReason::Converged => ", converged",
            StopReason::NoProgress => ", stopped: no further progress",
        }
    );
    // Scalar parameters are what a fit is usually about; networks are too big to print.
    for slot in &model.ir().params.slots {
        if slot.shape.is_empty() {
            outln!("  {} = {:.10e}", slot.name, p[slot.offset]);
        }
    }
    for path in [&args.out, &args.losses, &args.plot].into_iter().flatten() {
        outln!("wrote {}", path.display());
    }
    Ok(())
}

/// Data paths in a model are relative to the model file.
fn data_dir(file: &Path) -> PathBuf {
    match file.parent() {
        Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
        _ => PathBuf::from("."),
    }
}
