//! Command-line interface: argument parsing (clap) and one module per subcommand.
//!
//! Exit codes: 0 success; 1 the input has errors (diagnostics were printed); 2 the command
//! could not run (unreadable file, bad arguments, unknown function, bad data or options);
//! 3 the computation failed on valid input (`sci run`/`sci train`: the solver gave up, the
//! loss became NaN).
//!
//! Standard output goes through `outln!`: a reader that goes away (`sci run … | head`)
//! must neither crash sci nor stop it writing its output files. In a run over several MPI
//! ranks only rank 0 prints through these macros ([`ranks`]); errors are printed by the
//! rank they happen on ([`runtime_common::report`]).

/// `println!` for results on standard output that tolerates a closed pipe: what cannot be
/// printed is dropped (Rust ignores SIGPIPE, so `println!` would panic on EPIPE).
macro_rules! outln {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        if crate::cli::ranks::speaks() {
            let _ = writeln!(std::io::stdout(), $($arg)*);
        }
    }};
}

/// `eprint!` that tolerates a closed stderr (`sci check bad.sci 2>&1 | head -1`): the
/// message is lost, the command goes on to its exit code instead of panicking.
macro_rules! err {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        if crate::cli::ranks::speaks() {
            let _ = write!(std::io::stderr(), $($arg)*);
        }
    }};
}

/// `eprintln!` that tolerates a closed stderr (see [`err!`]).
macro_rules! errln {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        if crate::cli::ranks::speaks() {
            let _ = writeln!(std::io::stderr(), $($arg)*);
        }
    }};
}

mod aot;
mod check;
mod compile;
mod dataset;
mod derivatives;
mod discover;
mod ensemble;
mod eval;
mod fmt;
#[cfg(feature = "cuda")]
mod gpu_check;
mod heatmap;
mod plot;
mod png;
mod predict;
mod progress;
mod ranks;
mod run;
mod run_circuit;
mod run_plot;
mod runtime_common;
mod simplified;
mod train;
mod wasm;

use clap::{Parser, Subcommand, ValueEnum};
use sci::SourceMap;
use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

/// sci — a compiler for scientific models: equations and losses to differentiated code.
#[derive(Parser, Debug)]
#[command(name = "sci", version, about, long_about = None)]
pub struct Cli {
    /// When to colour diagnostics.
    #[arg(long, value_enum, default_value_t = ColorChoice::Auto, global = true)]
    color: ColorChoice,
    #[command(subcommand)]
    command: Command,
}

#[derive(Copy, Clone, Debug, PartialEq, Eq, ValueEnum)]
enum ColorChoice {
    Auto,
    Always,
    Never,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Parse and check model files; print diagnostics; exit 1 if any has errors.
    Check {
        /// The `.sci` files to check.
        #[arg(required = true)]
        files: Vec<PathBuf>,
    },
    /// Compile a model file and print an intermediate form.
    Compile(compile::CompileArgs),
    /// Evaluate a function of a model (rhs, y0, outputs, loss, a fn) with the reference
    /// interpreter.
    Eval(eval::EvalArgs),
    /// Solve an ODE model: write the trajectory (CSV/NPY/JSON) and plot it (SVG).
    Run(run::RunArgs),
    /// Train a model's loss (PINN residuals, data fits, UDEs): write the parameters (JSON),
    /// the loss history and a plot.
    Train(train::TrainArgs),
    /// Find equations in data (sparse regression over candidate terms) and write them as a
    /// model that solves and refits against the data.
    Discover(discover::DiscoverArgs),
    /// Evaluate a (trained) model's networks over its domain or at given points: write the
    /// values (CSV/NPY/JSON), plot them (line or heat map), compare with reference values.
    Predict(predict::PredictArgs),
    /// Generate training data for neural operators with sci's own solvers: Burgers or Darcy
    /// inputs drawn from Gaussian random fields and their solutions, as NPY arrays.
    Dataset(dataset::DatasetArgs),
    /// Check a model's GPU kernels (PTX) against the CPU: results and time per call of its
    /// batched functions and training step (builds with `--features cuda`).
    #[cfg(feature = "cuda")]
    GpuCheck(gpu_check::GpuCheckArgs),
    /// Run the language server on stdin/stdout (for editors; builds with the `lsp` feature).
    #[cfg(feature = "lsp")]
    Lsp,
    /// Format model files in the canonical style.
    Fmt {
        /// The `.sci` files to format (rewritten in place unless --check).
        #[arg(required = true)]
        files: Vec<PathBuf>,
        /// Do not write; exit 1 if any file is not formatted.
        #[arg(long)]
        check: bool,
    },
}

/// Runs a parsed command line.
pub fn run(cli: Cli) -> ExitCode {
    let color = match cli.color {
        ColorChoice::Always => true,
        ColorChoice::Never => false,
        ColorChoice::Auto => std::io::stderr().is_terminal(),
    };
    let result = match cli.command {
        Command::Check { files } => check::run(&files, color),
        Command::Compile(args) => compile::run(&args, color),
        Command::Eval(args) => eval::run(&args, color),
        Command::Fmt { files, check } => fmt::run(&files, check, color),
        Command::Run(args) => with_ranks(|ranks| run::run(&args, color, ranks)),
        Command::Train(args) => with_ranks(|ranks| train::run(&args, color, ranks)),
        Command::Predict(args) => predict::run(&args, color),
        Command::Discover(args) => discover::run(&args),
        Command::Dataset(args) => dataset::run(&args),
        #[cfg(feature = "cuda")]
        Command::GpuCheck(args) => gpu_check::run(&args, color),
        // The protocol asks for exit code 1 when the client exits without `shutdown`.
        #[cfg(feature = "lsp")]
        Command::Lsp => match sci_lsp::run_stdio() {
            Ok(()) => Ok(ExitCode::SUCCESS),
            Err(why) => {
                errln!("sci lsp: {why}");
                Ok(ExitCode::from(1))
            }
        },
    };
    match result {
        Ok(code) => code,
        Err(message) => {
            errln!("error: {message}");
            ExitCode::from(2)
        }
    }
}

/// Runs `command` as one of the ranks of an `mpirun` when a launcher started this process
/// (else as the only one): an error on any rank ends them all with its status.
fn with_ranks(
    command: impl FnOnce(&ranks::Ranks) -> Result<ExitCode, String>,
) -> Result<ExitCode, String> {
    let ranks = match ranks::Ranks::start() {
        Ok(ranks) => ranks,
        Err(e) => return Ok(runtime_common::report(&e)),
    };
    let code = match command(&ranks) {
        Ok(code) => code,
        Err(message) => {
            runtime_common::error_lines(&[format!("error: {message}")]);
            ExitCode::from(2)
        }
    };
    Ok(ranks.finish(code))
}

/// Reads a source file into a new source map.
fn load(path: &Path) -> Result<(SourceMap, sci::diag::FileId), String> {
    let text = read_source(path)?;
    let mut sources = SourceMap::new();
    let file = sources.add(path.display().to_string(), text);
    Ok((sources, file))
}

/// The text of model file `path`: a regular file of at most [`sci::MAX_SOURCE_BYTES`] (so
/// `sci check /dev/zero` is an error, not a read that never ends), in UTF-8.
fn read_source(path: &Path) -> Result<String, String> {
    sci::read_source_file(path).map_err(|why| format!("cannot read `{}`: {why}", path.display()))
}

/// Loads and analyses a file, printing its diagnostics to stderr.
fn analyze_and_report(path: &Path, color: bool) -> Result<(SourceMap, sci::Analysis), String> {
    let (sources, file) = load(path)?;
    let analysis = sci::analyze_in(file, sources.text(file), &sci::model_dir(path));
    err!(
        "{}",
        sci::render::render_all(&analysis.diagnostics, &sources, color)
    );
    Ok((sources, analysis))
}

/// What identifies the file `path` names, whether or not it exists yet: its canonical
/// path, or its directory's canonical path joined with its name.
fn file_identity(path: &Path) -> std::path::PathBuf {
    if let Ok(p) = path.canonicalize() {
        return p;
    }
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    match (dir.canonicalize(), path.file_name()) {
        (Ok(d), Some(name)) => d.join(name),
        _ => path.to_path_buf(),
    }
}

/// Refuses, before any work, outputs that would destroy an input or each other, or that
/// are directories: `outputs` are `(flag, path)`, `inputs` the files the command reads;
/// options not given (`None`) are skipped.
fn check_output_paths(
    inputs: &[Option<&Path>],
    outputs: &[(&str, Option<&Path>)],
) -> Result<(), String> {
    let inputs: Vec<&Path> = inputs.iter().flatten().copied().collect();
    let outputs: Vec<(&str, &Path)> = outputs
        .iter()
        .filter_map(|&(flag, path)| Some((flag, path?)))
        .collect();
    for (k, (flag, out)) in outputs.iter().enumerate() {
        if out.is_dir() {
            return Err(format!(
                "`{flag} {}` is a directory; name a file to write.",
                out.display()
            ));
        }
        let id = file_identity(out);
        if let Some(input) = inputs.iter().find(|i| file_identity(i) == id) {
            return Err(format!(
                "`{flag} {}` would overwrite the input `{}`; choose another output path.",
                out.display(),
                input.display()
            ));
        }
        if let Some((other, _)) = outputs[..k].iter().find(|(_, o)| file_identity(o) == id) {
            return Err(format!(
                "`{other}` and `{flag}` both name `{}`; each output needs its own file.",
                out.display()
            ));
        }
    }
    Ok(())
}

/// Writes `bytes` to `path` through a temporary file renamed into place, so a failure
/// never leaves the file cut off.
fn write_file(path: &Path, bytes: &[u8]) -> Result<(), String> {
    sci::stdlib::data::write_atomic(path, bytes).map_err(|e| e.to_string())
}

/// Writes `text` to `out` (a file) or stdout.
fn write_output(out: Option<&Path>, text: &str) -> Result<(), String> {
    match out {
        Some(path) => write_file(path, text.as_bytes()),
        None => {
            use std::io::Write as _;
            // A closed pipe is not an error of ours (see `outln!`).
            let _ = write!(std::io::stdout(), "{text}");
            Ok(())
        }
    }
}
