//! `sci train`: minimise a model's loss (physics-informed residuals, data fits through ODE
//! solutions) and write the parameters, the loss history and a loss plot.
//!
//! Options and data files are validated before training, and outputs are written only
//! once training succeeded (all together, each atomically), so a failed run leaves no file
//! behind. Long runs: progress lines when stderr is not a terminal, `--checkpoint-every`,
//! stopping rules (`--tol`, `--patience`), and on SIGINT/SIGTERM the best parameters so far,
//! the loss history and the plot are written before exiting with [`EXIT_INTERRUPTED`];
//! `--resume` continues a run from its checkpoint.

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Instant;

use clap::Args;
use sci::runtime::fit::Shard;
use sci::runtime::{LossKind, TrainSetup, Trainer};
use sci::stdlib::Error;
use sci::stdlib::checkpoint::{self, Checkpoint};
use sci::stdlib::collective::Collective;
use sci::stdlib::data::{Outputs, Table, table_bytes, write_atomic};
use sci::stdlib::ode::{Method, Sensitivity, SolveOptions};
use sci::stdlib::optim::{
    AllReduced, Control, Freeze, LrDecay, Objective, Optimizer, StopReason, TrainOptions,
    TrainReport, TrainState, train_from,
};

use super::progress::{Reporter, duration};
use super::ranks::Ranks;
use super::runtime_common::{
    DeviceArgs, apply_overrides, check_output, check_plot_output, choose_model, compile_with,
    note_device, parameters_help, report,
};

/// The exit status of a run stopped by SIGINT or SIGTERM after saving its outputs (the
/// shell's convention for a SIGINT, 128 + 2).
pub const EXIT_INTERRUPTED: u8 = 130;

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
    /// Optimiser iterations (default: the model kind's schedule, or 1000 with another
    /// optimiser).
    #[arg(long)]
    steps: Option<usize>,
    /// The optimiser: adam, lbfgs, or adam+lbfgs (Adam for `--adam-steps`, by default half
    /// the steps, then L-BFGS). Default: adam+lbfgs (2000 Adam steps, then L-BFGS up to step
    /// 20000) for physics-informed and data losses, lbfgs (500 steps) for losses over ODE
    /// solutions and over expectation values of quantum circuits.
    #[arg(long)]
    optimizer: Option<String>,
    /// Adam's learning rate.
    #[arg(long, default_value_t = 1e-3, allow_hyphen_values = true)]
    lr: f64,
    /// With adam+lbfgs: the steps Adam takes before L-BFGS.
    #[arg(long)]
    adam_steps: Option<usize>,
    /// Seed of the collocation points.
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// Draw new collocation points every N steps (Adam only).
    #[arg(long)]
    resample_every: Option<usize>,
    /// Stop when the gradient's largest component falls below this.
    #[arg(long, default_value_t = 0.0)]
    grad_tol: f64,
    /// Stop when the loss falls to this value.
    #[arg(long, allow_hyphen_values = true)]
    tol: Option<f64>,
    /// Stop when the lowest loss has not improved for this many steps.
    #[arg(long)]
    patience: Option<usize>,
    /// Start from the parameters of a checkpoint (written by `--out`).
    #[arg(long, conflicts_with = "resume")]
    init: Option<PathBuf>,
    /// Continue the run a checkpoint saved (with `--checkpoint-every`, at the end, or on an
    /// interrupt) up to `--steps` steps in all; give the run's own options.
    #[arg(long)]
    resume: Option<PathBuf>,
    /// Save the `--out` checkpoint every N steps while training.
    #[arg(long)]
    checkpoint_every: Option<usize>,
    /// With stderr not a terminal, print a progress line every N steps (default: every
    /// tenth of the run, and at least every 30 s).
    #[arg(long)]
    log_every: Option<usize>,
    /// Parameter overrides for the start, or constant overrides, `NAME=VALUE` in the
    /// declared unit (repeatable). A constant is compiled in; one that sizes an array
    /// cannot be changed.
    #[arg(long = "param")]
    params: Vec<String>,
    /// Parameters (or networks) that keep their values, comma separated: the known physics
    /// of a UDE stays put while the network learns (`--freeze alpha,gamma`). Parameters
    /// declared `fixed` in the model are kept without it.
    #[arg(long, value_delimiter = ',')]
    freeze: Vec<String>,
    /// The ODE solver for losses over trajectories.
    #[arg(long, default_value = "auto")]
    solver: String,
    /// Relative tolerance of the ODE solver.
    #[arg(long, default_value_t = 1e-8, allow_hyphen_values = true)]
    rtol: f64,
    /// Absolute tolerance of the ODE solver.
    #[arg(long, default_value_t = 1e-10, allow_hyphen_values = true)]
    atol: f64,
    /// How gradients through the ODE solves get dy/dθ: forward sensitivities (cost grows
    /// with the parameters), the adjoint method (about two more solves whatever their
    /// number), or auto (the adjoint from 32 parameters, for models without events or
    /// algebraic states).
    #[arg(long, default_value = "auto")]
    sensitivity: String,
    /// Read a data set from other files, `NAME=FILE[,FILE…]` (one per column for a data
    /// set of grid functions; relative to the current directory): a trained operator on
    /// data at another resolution, with `--param` for the constant that sizes its columns
    /// (repeatable).
    #[arg(long = "data")]
    data: Vec<String>,
    /// Train on mini-batches of this many rows of the data (shuffled every epoch, seeded
    /// by --seed), with Adam; the loss and best loss shown are the batches'.
    #[arg(long)]
    batch: Option<usize>,
    /// With --batch: passes over the training rows (sets the steps; conflicts with
    /// --steps).
    #[arg(long, requires = "batch", conflicts_with = "steps")]
    epochs: Option<usize>,
    /// Adam's weight decay λ: λ·θ added to the gradient (an L2 penalty; as PyTorch's
    /// Adam `weight_decay`).
    #[arg(long, default_value_t = 0.0)]
    weight_decay: f64,
    /// Multiply Adam's learning rate by --lr-factor every N epochs (with --batch) or steps.
    #[arg(long)]
    lr_step: Option<usize>,
    /// The factor of --lr-step.
    #[arg(long, default_value_t = 0.5)]
    lr_factor: f64,
    /// Write the trained parameters to a .json checkpoint.
    #[arg(long)]
    out: Option<PathBuf>,
    /// Write the loss history (step, loss) to a .csv, .npy or .json file.
    #[arg(long)]
    losses: Option<PathBuf>,
    /// Plot the loss history and the loss's terms to an .svg or .png file.
    #[arg(long)]
    plot: Option<PathBuf>,
}

pub fn run(args: &TrainArgs, color: bool, ranks: &Ranks) -> Result<ExitCode, String> {
    // Before any work: no output may replace an input or another output.
    // `--resume run.json --out run.json` is allowed: the run replaces its own checkpoint.
    super::check_output_paths(
        &[Some(&args.file), args.init.as_deref()],
        &[
            ("--out", args.out.as_deref()),
            ("--losses", args.losses.as_deref()),
            ("--plot", args.plot.as_deref()),
        ],
    )?;
    // The loss's terms are watched during training (progress lines, --losses, --plot) on
    // the CPU; a GPU runs the module its PTX was written for, which has none.
    let on_cpu = args.device.device.eq_ignore_ascii_case("cpu");
    let sensitivity: Sensitivity = match args.sensitivity.parse() {
        Ok(s) => s,
        Err(e) => return Ok(report(&e)),
    };
    // The adjoint's products cost compile time only where they may be used.
    let compiler =
        (sci::Compiler::new().loss_terms(on_cpu)).adjoint(sensitivity != Sensitivity::Forward);
    let compiled = match compile_with(
        &args.file,
        &args.backend,
        &args.device,
        color,
        compiler,
        &args.params,
    ) {
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
    match fit(args, &compiled, &name, ranks) {
        Ok(code) => Ok(code),
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

fn fit(
    args: &TrainArgs,
    compiled: &sci::Compiled,
    name: &str,
    ranks: &Ranks,
) -> Result<ExitCode, Error> {
    let collective = ranks.collective();
    note_device(compiled, name);
    let optimizer: Option<Optimizer> = args.optimizer.as_deref().map(str::parse).transpose()?;
    let method: Method = args.solver.parse()?;
    check_long_run_options(args)?;
    if let Some(out) = &args.out {
        check_output(out, &["json"], "--out")?;
    }
    if let Some(path) = &args.losses {
        check_output(path, &["csv", "npy", "npz", "json"], "--losses")?;
    }
    if let Some(path) = &args.plot {
        check_plot_output(path)?;
    }
    let resumed = match &args.resume {
        Some(path) => Some(resume_from(path, name)?),
        None => None,
    };
    // A resumed run draws its collocation points from its own seed.
    let seed = resumed
        .as_ref()
        .and_then(|(c, _)| c.meta_value("seed"))
        .map_or(args.seed, |s| s as u64);
    let setup = TrainSetup {
        seed,
        data_dir: data_dir(&args.file),
        solve: SolveOptions {
            method,
            rtol: args.rtol,
            atol: args.atol,
            ..SolveOptions::default()
        },
        sensitivity: args.sensitivity.parse()?,
        data_files: data_files(&args.data)?,
        batch: args.batch,
        shard: Shard {
            rank: collective.rank(),
            ranks: collective.size(),
        },
    };
    let mut trainer = Trainer::new(compiled, name, setup)?;
    let options = train_options(args, optimizer, trainer.kind(), &trainer)?;
    let frozen_mask = frozen_params(&trainer.model(), &args.freeze)?;
    let model = trainer.model();
    let mut p = match (&args.init, &resumed) {
        (Some(path), _) => trainer.params_from(&checkpoint::load(path)?)?,
        (None, Some((c, _))) => trainer.params_from(c)?,
        (None, None) => model.params(),
    };
    apply_overrides(compiled, &model, &mut p, &args.params)?;
    if args.steps == Some(0) {
        return evaluate(&mut trainer, &p, name, collective);
    }
    let start: Option<TrainState> = resumed.map(|(_, state)| state);
    let first_step = start.as_ref().map_or(0, |s| s.step);

    let schedule = describe_schedule(&options);
    // Declared `fixed` in the model, and held by `--freeze` (those not fixed already).
    let fixed = trainer.fixed().iter().filter(|&&f| f).count();
    let frozen = (frozen_mask.iter().zip(trainer.fixed()))
        .filter(|(frozen, fixed)| **frozen && !**fixed)
        .count();
    let frozen_note = match (fixed, frozen) {
        (0, 0) => String::new(),
        (k, 0) => format!(" ({k} fixed)"),
        (0, k) => format!(" ({k} frozen)"),
        (k, l) => format!(" ({k} fixed, {l} frozen)"),
    };
    let chosen = match optimizer.is_none() && args.steps.is_none() {
        true => format!(
            " (the default for {}; --optimizer and --steps change it)",
            trainer.kind().describe()
        ),
        false => String::new(),
    };
    if ranks.several() {
        outln!(
            "data-parallel over {} ranks: each evaluates its share of the points and rows, one all-reduce per evaluation",
            collective.size()
        );
    }
    match &start {
        Some(state) => outln!(
            "training {name}: {} parameters{frozen_note}, resuming at step {} of {schedule}{chosen}",
            trainer.n_params(),
            state.step,
        ),
        None => outln!(
            "training {name}: {} parameters{frozen_note}, {schedule}{chosen}",
            trainer.n_params(),
        ),
    }
    if trainer.kind() == LossKind::OdeFit {
        outln!(
            "gradients through the ODE solves by {}",
            match trainer.sensitivity() {
                Sensitivity::Adjoint => "the adjoint method",
                _ => "forward sensitivities",
            }
        );
    }
    let interrupted = interrupt_flag()?;
    let term_names: Vec<String> = trainer.term_names().iter().map(|n| n.to_string()).collect();
    let epoch_len = trainer.steps_per_epoch();
    let mut reporter = Reporter::new(name, options.steps, first_step, args.log_every)
        .with_terms(term_names.clone())
        .with_epochs(epoch_len);
    for (data, train, test) in trainer.data_rows() {
        match (test, epoch_len) {
            (0, _) => {}
            (_, Some(n)) => outln!(
                "data `{data}`: {train} training rows in batches of {} ({n} steps per epoch), {test} test rows (loss on them after every epoch)",
                args.batch.unwrap_or(train)
            ),
            (_, None) => outln!("data `{data}`: {train} training rows, {test} test rows"),
        }
    }
    // The loss's terms: in every progress line, and about 20 times between two lines for
    // the history and the plot (a forward pass each, ~1 % of the run's work). The test
    // loss after every epoch, or with every line.
    let options = TrainOptions {
        terms_every: (!term_names.is_empty()).then(|| terms_interval(reporter.every())),
        test_every: Some(epoch_len.unwrap_or(reporter.every())),
        ..options
    };
    let started = Instant::now();
    let mut checkpoint_error = None;
    let speaks = collective.rank() == 0;
    let periodic = |info: &sci::stdlib::optim::Progress<'_>| {
        let (Some(every), Some(out), true) = (args.checkpoint_every, &args.out, speaks) else {
            return Ok(());
        };
        if !info.step.is_multiple_of(every) || info.step == info.total {
            return Ok(());
        }
        let mut c =
            sci::runtime::checkpoint(&model, info.best(), meta(info.best_loss, info.step, seed));
        c.training = Some(info.state());
        write_atomic(out, &checkpoint::to_bytes(out, &c)?)
    };
    let result = {
        let mut frozen;
        let objective: &mut dyn Objective = if frozen_mask.iter().any(|&f| f) {
            frozen = Freeze::new(&mut trainer, frozen_mask)?;
            &mut frozen
        } else {
            &mut trainer
        };
        // Over several ranks every evaluation is summed, the interrupt flag with it, and
        // the callback stops on whether any rank's was set: every rank stops after the
        // same step.
        let mut all_reduced;
        let (objective, stop): (&mut dyn Objective, _) = match ranks.several() {
            true => {
                all_reduced = AllReduced::new(objective, collective).with_stop(interrupted.clone());
                let stop = all_reduced.stop_any();
                (&mut all_reduced, stop)
            }
            false => (objective, interrupted.clone()),
        };
        let mut progress = |info: &sci::stdlib::optim::Progress<'_>| {
            reporter.step(info);
            if let Err(e) = periodic(info) {
                checkpoint_error = Some(e);
                return Control::Stop;
            }
            if stop.load(Ordering::Relaxed) {
                return Control::Stop;
            }
            Control::Continue
        };
        train_from(objective, &mut p, &options, start.as_ref(), &mut progress)
    };
    reporter.finish();
    if let Some(e) = checkpoint_error {
        return Err(e);
    }
    let report = result?;
    let elapsed = started.elapsed();
    if speaks {
        write_outputs(args, &trainer, &p, &report, name, seed, &term_names)?;
    }
    summarise(args, &model, &p, &report, name, elapsed);
    if report.stopped == StopReason::Interrupted {
        if args.out.is_none() {
            errln!("note: no --out was given, so the parameters were not saved");
        }
        return Ok(ExitCode::from(EXIT_INTERRUPTED));
    }
    Ok(ExitCode::SUCCESS)
}

/// `--steps 0`: the loss (and the test loss) at the starting parameters, no training.
/// Over several ranks each evaluates its share, and the shares are summed.
fn evaluate(
    trainer: &mut Trainer<'_>,
    p: &[f64],
    name: &str,
    collective: &dyn Collective,
) -> Result<ExitCode, Error> {
    for (data, train, test) in trainer.data_rows() {
        outln!("data `{data}`: {train} training rows, {test} test rows");
    }
    let mut loss = [trainer.loss(p)?];
    collective.sum(&mut loss);
    outln!("{name}: loss {:.6e}", loss[0]);
    if let Some(test) = trainer.test_loss(p)? {
        let mut test = [test];
        collective.sum(&mut test);
        outln!("{name}: test loss {:.6e}", test[0]);
    }
    Ok(ExitCode::SUCCESS)
}

/// `--data NAME=FILE[,FILE…]` items, the files made absolute from the current directory
/// (the model's own paths are relative to the model file).
fn data_files(items: &[String]) -> Result<Vec<(String, Vec<String>)>, Error> {
    let cwd = std::env::current_dir()
        .map_err(|e| Error::io(format!("Cannot read the current directory: {e}.")))?;
    items
        .iter()
        .map(|item| {
            let Some((name, files)) = item.split_once('=') else {
                return Err(
                    Error::input(format!("`--data {item}`: expected NAME=FILE[,FILE…]."))
                        .with_help("for example `--data pairs=a512.npy,u512.npy`"),
                );
            };
            let files = files
                .split(',')
                .map(|f| cwd.join(f.trim()).to_string_lossy().into_owned())
                .collect();
            Ok((name.trim().to_string(), files))
        })
        .collect()
}

/// The run's options: those given, the rest from the schedule of the loss's kind
/// ([`LossKind::options`]).
fn train_options(
    args: &TrainArgs,
    optimizer: Option<Optimizer>,
    kind: LossKind,
    trainer: &Trainer<'_>,
) -> Result<TrainOptions, Error> {
    // The base schedule, and the steps `--lr-step` counts in (an epoch's, or one).
    let (base, step_unit) = match trainer.steps_per_epoch() {
        Some(n) => {
            // Mini-batches: Adam, a new batch every step, the last iterate kept.
            if optimizer.is_some_and(|o| o != Optimizer::Adam) {
                return Err(Error::input(
                    "Mini-batches (--batch) train with Adam: L-BFGS needs the whole loss.",
                )
                .with_help("drop --optimizer, or train on every row without --batch"));
            }
            let steps = match (args.epochs, args.steps) {
                (Some(epochs), _) => epochs.saturating_mul(n),
                (None, Some(steps)) => steps,
                (None, None) => 100 * n,
            };
            let base = TrainOptions {
                optimizer: Optimizer::Adam,
                steps,
                resample_every: Some(1),
                keep_last: true,
                ..TrainOptions::default()
            };
            (base, n)
        }
        None => {
            if args.batch.is_some() {
                return Err(Error::input(
                    "`--batch` takes mini-batches of the model's data sets, but its loss reads none.",
                )
                .with_help("drop --batch"));
            }
            let options = kind.options(optimizer, args.steps, args.adam_steps);
            if args.adam_steps.is_some() && options.optimizer != Optimizer::AdamLbfgs {
                return Err(Error::input(format!(
                    "`--adam-steps` sets the Adam phase of adam+lbfgs, but this run uses {}.",
                    options.optimizer.name()
                ))
                .with_help("add `--optimizer adam+lbfgs`"));
            }
            let base = TrainOptions {
                resample_every: args.resample_every,
                ..options
            };
            (base, 1)
        }
    };
    Ok(TrainOptions {
        lr: args.lr,
        grad_tol: args.grad_tol,
        loss_tol: args.tol,
        patience: args.patience,
        weight_decay: args.weight_decay,
        threads: args.device.threads,
        lr_decay: args.lr_step.map(|every| LrDecay {
            every: every.saturating_mul(step_unit),
            factor: args.lr_factor,
        }),
        ..base
    })
}

/// The steps between two samples of the loss's terms: a divisor of `line_every` (so every
/// progress line has them) near a twentieth of it.
fn terms_interval(line_every: usize) -> usize {
    let parts = (1..=20)
        .rev()
        .find(|d| line_every.is_multiple_of(*d))
        .unwrap_or(1);
    (line_every / parts).max(1)
}

/// One flag per parameter: whether `--freeze` names its block (a parameter or a network's
/// weights, `u` or `u.w0`).
fn frozen_params(model: &sci::Model<'_>, names: &[String]) -> Result<Vec<bool>, Error> {
    sci::runtime::schedule::frozen_mask(&model.ir().params, names).map_err(|name| {
        Error::input(format!(
            "`--freeze {name}`: the model has no parameter `{name}`."
        ))
        .with_help(parameters_help(model))
    })
}

/// The optimiser, steps and phases of a run, as its first line states them.
fn describe_schedule(options: &TrainOptions) -> String {
    let steps = options.steps;
    let lr = options.lr;
    match options.optimizer {
        Optimizer::Adam => format!("{steps} × adam (lr {lr:.1e})"),
        Optimizer::Lbfgs => format!("{steps} × lbfgs"),
        Optimizer::AdamLbfgs => {
            let (adam, _) = options.phases();
            format!("adam for {adam} steps (lr {lr:.1e}), then L-BFGS up to step {steps}")
        }
    }
}

/// Options of long runs that contradict each other, refused before any work.
fn check_long_run_options(args: &TrainArgs) -> Result<(), Error> {
    if args.checkpoint_every.is_some() && args.out.is_none() {
        return Err(Error::input(
            "`--checkpoint-every` saves the `--out` checkpoint, but no `--out` was given.",
        )
        .with_help("add `--out run.json`"));
    }
    for (flag, value) in [
        ("--checkpoint-every", args.checkpoint_every),
        ("--log-every", args.log_every),
        ("--patience", args.patience),
    ] {
        if value == Some(0) {
            return Err(Error::input(format!("`{flag}` must be at least 1, not 0.")));
        }
    }
    if let Some(tol) = args.tol
        && tol.is_nan()
    {
        return Err(Error::input("`--tol` must be a number, not NaN."));
    }
    Ok(())
}

/// The checkpoint to resume from and its training state, which must be of model `name`.
fn resume_from(path: &Path, name: &str) -> Result<(Checkpoint, TrainState), Error> {
    let c = checkpoint::load(path)?;
    if c.model != name {
        return Err(Error::input(format!(
            "`--resume {}` is a checkpoint of model `{}`, not of `{name}`.",
            path.display(),
            c.model
        )));
    }
    let Some(state) = c.training.clone() else {
        return Err(Error::input(format!(
            "`--resume {}` holds no training state to continue.",
            path.display()
        ))
        .with_help(
            "its run ended converged or was written by an older sci; start a new run \
             from its parameters with --init",
        ));
    };
    Ok((c, state))
}

/// Registers SIGINT and SIGTERM: the first sets the returned flag (training stops after
/// the step in progress and saves), a second ends the process at once.
fn interrupt_flag() -> Result<Arc<AtomicBool>, Error> {
    let flag = Arc::new(AtomicBool::new(false));
    for signal in [signal_hook::consts::SIGINT, signal_hook::consts::SIGTERM] {
        // The conditional shutdown first: it acts only once the flag is already set.
        signal_hook::flag::register_conditional_shutdown(
            signal,
            i32::from(EXIT_INTERRUPTED),
            Arc::clone(&flag),
        )
        .and_then(|_| signal_hook::flag::register(signal, Arc::clone(&flag)))
        .map_err(|e| Error::io(format!("Cannot watch for interrupts: {e}.")))?;
    }
    Ok(flag)
}

/// The metadata of a checkpoint.
fn meta(loss: f64, steps: usize, seed: u64) -> Vec<(String, f64)> {
    vec![
        ("loss".to_string(), loss),
        ("steps".to_string(), steps as f64),
        ("seed".to_string(), seed as f64),
    ]
}

/// Writes every output in full first, then renames all into place together.
fn write_outputs(
    args: &TrainArgs,
    trainer: &Trainer<'_>,
    p: &[f64],
    report: &TrainReport,
    name: &str,
    seed: u64,
    term_names: &[String],
) -> Result<(), Error> {
    let svg = match &args.plot {
        Some(_) => {
            // Each term's samples, `(step, value)`.
            let mut terms: Vec<(String, Vec<(f64, f64)>)> = (term_names.iter().enumerate())
                .map(|(k, term)| {
                    let samples = (report.terms.iter())
                        .filter_map(|(step, values)| Some((*step as f64, *values.get(k)?)))
                        .collect();
                    (term.clone(), samples)
                })
                .collect();
            if !report.tests.is_empty() {
                let samples = report.tests.iter().map(|(s, l)| (*s as f64, *l)).collect();
                terms.push(("test".to_string(), samples));
            }
            let title = format!("{name}: training loss");
            Some(super::plot::loss_svg(&title, &report.losses, &terms).map_err(Error::numerical)?)
        }
        None => None,
    };
    let mut outputs = Outputs::new();
    if let Some(out) = &args.out {
        let mut c = trainer.checkpoint(p, meta(report.final_loss, report.steps, seed));
        c.training = report.state.clone();
        outputs.stage(out, &checkpoint::to_bytes(out, &c)?)?;
    }
    if let Some(path) = &args.losses {
        // A column per term, NaN at the steps where it was not sampled.
        let mut sampled = vec![None; report.losses.len()];
        for (step, values) in &report.terms {
            if let Some(slot) = sampled.get_mut(*step) {
                *slot = Some(values.as_slice());
            }
        }
        // The test loss where it was measured (after each epoch), NaN elsewhere.
        let mut tests = vec![f64::NAN; report.losses.len()];
        for (step, loss) in &report.tests {
            if let Some(slot) = tests.get_mut(*step) {
                *slot = *loss;
            }
        }
        let with_test = !report.tests.is_empty();
        let mut values = Vec::with_capacity(report.losses.len() * (3 + term_names.len()));
        for (k, (loss, terms)) in report.losses.iter().zip(&sampled).enumerate() {
            values.extend([k as f64, *loss]);
            values.extend(
                (0..term_names.len())
                    .map(|j| terms.and_then(|t| t.get(j).copied()).unwrap_or(f64::NAN)),
            );
            if with_test {
                values.push(tests[k]);
            }
        }
        let columns = ["step", "loss"]
            .into_iter()
            .map(String::from)
            .chain(term_names.iter().cloned())
            .chain(with_test.then(|| "test".to_string()))
            .collect();
        let table = Table::new(columns, values);
        outputs.stage(path, &table_bytes(path, &table)?)?;
    }
    if let (Some(path), Some(svg)) = (&args.plot, svg) {
        outputs.stage(path, &super::png::plot_bytes(path, &svg)?)?;
    }
    outputs.commit()
}

/// The run's summary on stdout.
fn summarise(
    args: &TrainArgs,
    model: &sci::Model<'_>,
    p: &[f64],
    report: &TrainReport,
    name: &str,
    elapsed: std::time::Duration,
) {
    let first = report.losses.first().copied().unwrap_or(f64::NAN);
    outln!(
        "{name}: loss {first:.6e} → {:.6e} in {} steps ({} evaluations, {}){}",
        report.final_loss,
        report.steps,
        report.evaluations,
        duration(elapsed),
        match report.stopped.describe() {
            Some(why) => format!(", stopped: {why}"),
            None => String::new(),
        }
    );
    if let (Some((_, first)), Some((_, last))) = (report.tests.first(), report.tests.last()) {
        outln!("{name}: test loss {first:.6e} → {last:.6e}");
    }
    // Scalar parameters are what a fit is usually about; networks are too big to print.
    for slot in &model.ir().params.slots {
        if slot.shape.is_empty() {
            outln!("  {} = {:.10e}", slot.name, p[slot.offset]);
        }
    }
    // A variational circuit's answer is its expectation values and its likeliest outcomes.
    if !model.ir().manifest.circuits.is_empty() {
        match sci::runtime::quantum::summary(model.ir(), p, 4) {
            Ok(lines) => lines.iter().for_each(|l| outln!("  {l}")),
            Err(e) => errln!("warning: could not simulate the trained circuits: {e}"),
        }
    }
    for path in [&args.out, &args.losses, &args.plot].into_iter().flatten() {
        outln!("wrote {}", path.display());
    }
}

/// Data paths in a model are relative to the model file.
pub fn data_dir(file: &Path) -> PathBuf {
    match file.parent() {
        Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
        _ => PathBuf::from("."),
    }
}
