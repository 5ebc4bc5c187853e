//! `sci dataset`: training data for neural operators (Li et al.'s Burgers and Darcy
//! benchmarks), made with sci's own solvers — nothing is downloaded.
//!
//! Each problem draws an input function per sample from a Gaussian random field, solves on
//! a fine grid and keeps every k-th point, and writes `PREFIX_a.npy` (the inputs) and
//! `PREFIX_u.npy` (the solutions), float64 in C order, `[samples, grid]` or
//! `[samples, grid, grid]`. A sample is a function of `(seed, sample index)` alone, so the
//! samples run on any number of threads with the same result, and the same seed at two
//! `--grid`s gives the same functions at two resolutions (zero-shot super-resolution).
//!
//! Options are checked before any work; both files are written atomically after the last
//! sample (a failed run leaves no file). Exit codes as for `sci run`: 2 for
//! bad options, 3 when a solve fails. See `docs/datasets.md`.

mod burgers;
mod darcy;

use std::ffi::OsString;
use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use clap::{Args, Subcommand};
use sci::stdlib::Error;
use sci::stdlib::data::Outputs;
use sci::stdlib::operator_data::npy_bytes;

use super::progress::duration;
use super::runtime_common::{progress_bar, report};

#[derive(Args, Debug)]
pub struct DatasetArgs {
    #[command(subcommand)]
    problem: Problem,
}

#[derive(Subcommand, Debug)]
enum Problem {
    /// Viscous Burgers' equation u_t + (u²/2)_x = ν u_xx on the periodic unit interval:
    /// initial conditions u0 ~ N(0, 625(−Δ + 25I)⁻²) and solutions u(·, T), solved with
    /// sci's BDF solver on a compiled sci model.
    Burgers(burgers::BurgersArgs),
    /// Darcy flow −∇·(a∇u) = 1 on the unit square, u = 0 on the boundary: coefficients
    /// a = 12 where ψ ≥ 0 and 3 where ψ < 0, ψ ~ N(0, (−Δ + 9I)⁻²), and solutions u.
    Darcy(darcy::DarcyArgs),
}

/// What every problem asks for.
#[derive(Args, Debug)]
struct CommonArgs {
    /// How many (input, solution) pairs to make.
    #[arg(long)]
    samples: usize,
    /// The seed of the random fields: sample k of a seed is the same function at every
    /// --grid and thread count.
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// The prefix of the output files: `--out data/NAME` writes `data/NAME_a.npy` (inputs)
    /// and `data/NAME_u.npy` (solutions); the directory must exist.
    #[arg(long)]
    out: PathBuf,
    /// Threads solving samples in parallel (0: one per core; at most 4 per core). The data
    /// are the same for every count.
    #[arg(long, value_name = "N", default_value_t = 0)]
    threads: usize,
}

/// The most values one output array may hold (2³⁰ float64s: 8 GiB).
const MAX_VALUES: usize = 1 << 30;

/// The most `--threads` per core.
const MAX_THREADS_PER_CORE: usize = 4;

pub fn run(args: &DatasetArgs) -> Result<ExitCode, String> {
    let result = match &args.problem {
        Problem::Burgers(args) => burgers::run(args),
        Problem::Darcy(args) => darcy::run(args),
    };
    Ok(match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => report(&e),
    })
}

/// The two files of `--out PREFIX`: `PREFIX_a.npy` and `PREFIX_u.npy`, after checking that
/// they can be written (the directory exists, neither is a directory).
fn output_paths(prefix: &Path) -> Result<(PathBuf, PathBuf), Error> {
    let text = prefix.as_os_str().to_string_lossy();
    let names_a_directory = text.is_empty()
        || text.ends_with(std::path::MAIN_SEPARATOR)
        || text.ends_with('/')
        || prefix.file_name().is_none();
    if names_a_directory {
        return Err(Error::input(format!(
            "`--out {text}` names a directory; it is the prefix of the file names."
        ))
        .with_help("`--out data/burgers` writes data/burgers_a.npy and data/burgers_u.npy"));
    }
    let dir = match prefix.parent() {
        Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
        _ => PathBuf::from("."),
    };
    if !dir.is_dir() {
        return Err(Error::input(format!(
            "Cannot write `{text}_a.npy`: the directory `{}` does not exist.",
            dir.display()
        ))
        .with_help(format!(
            "create it first (`mkdir -p {}`), or choose another `--out` prefix",
            dir.display()
        )));
    }
    let with_suffix = |suffix: &str| {
        let mut name = OsString::from(prefix.as_os_str());
        name.push(suffix);
        PathBuf::from(name)
    };
    let (a, u) = (with_suffix("_a.npy"), with_suffix("_u.npy"));
    super::check_output_paths(&[], &[("--out", Some(&a)), ("--out", Some(&u))])
        .map_err(Error::input)?;
    Ok((a, u))
}

/// The checks every problem's sizes share: at least one sample, arrays of a sane size.
fn check_sizes(samples: usize, values_per_sample: usize) -> Result<(), Error> {
    if samples == 0 {
        return Err(Error::input("`--samples 0` makes no data set.")
            .with_help("ask for at least one sample, e.g. `--samples 1200`"));
    }
    match samples.checked_mul(values_per_sample) {
        Some(n) if n <= MAX_VALUES => Ok(()),
        _ => Err(Error::input(format!(
            "{samples} samples of {values_per_sample} values each are more than one array \
             may hold ({MAX_VALUES} values, 8 GiB)."
        ))
        .with_help("make fewer samples per file, or a coarser --grid")),
    }
}

/// A positive finite number, or an error naming its flag.
fn positive(flag: &str, value: f64) -> Result<f64, Error> {
    if value.is_finite() && value > 0.0 {
        Ok(value)
    } else {
        Err(Error::input(format!(
            "`{flag} {value}` must be a positive number."
        )))
    }
}

/// One sample at the output grid: the input function and the solution.
struct Sample {
    input: Vec<f64>,
    solution: Vec<f64>,
}

/// The data set's arrays, `[samples, …]` row-major.
struct DataSet {
    inputs: Vec<f64>,
    solutions: Vec<f64>,
    /// How long the samples took.
    elapsed: Duration,
    /// The threads that made them.
    threads: usize,
}

/// Makes `samples` samples on `threads` threads (0: every core): `make(state, k)` makes
/// sample `k`, each thread with its own `state` from `init`. Samples are handed out one at a
/// time (their cost varies), and placed by index, so the result does not depend on the
/// threads. The first failure stops the others; the error of the lowest failed sample is
/// returned. A bar on a terminal shows progress.
fn make_samples<State>(
    what: &str,
    samples: usize,
    threads: usize,
    init: impl Fn() -> Result<State, Error> + Sync,
    make: impl Fn(&mut State, usize) -> Result<Sample, Error> + Sync,
) -> Result<DataSet, Error> {
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    // More threads than cores gain nothing and each holds its own work memory (a Darcy
    // factor is tens of megabytes), so a request is capped at a few per core.
    let threads = match threads {
        0 => cores,
        n => n.min(MAX_THREADS_PER_CORE * cores),
    }
    .clamp(1, samples.max(1));
    let bar = std::io::stderr()
        .is_terminal()
        .then(|| progress_bar(samples as u64, what));
    let started = Instant::now();
    let next = AtomicUsize::new(0);
    let failed = AtomicBool::new(false);
    let done: Mutex<Vec<(usize, Result<Sample, Error>)>> = Mutex::new(Vec::new());
    let setup_error: Mutex<Option<Error>> = Mutex::new(None);
    std::thread::scope(|scope| {
        for _ in 0..threads {
            scope.spawn(|| {
                let mut state = match init() {
                    Ok(state) => state,
                    Err(e) => {
                        failed.store(true, Ordering::Relaxed);
                        if let Ok(mut slot) = setup_error.lock() {
                            slot.get_or_insert(e);
                        }
                        return;
                    }
                };
                while !failed.load(Ordering::Relaxed) {
                    let k = next.fetch_add(1, Ordering::Relaxed);
                    if k >= samples {
                        break;
                    }
                    let sample = make(&mut state, k);
                    if sample.is_err() {
                        failed.store(true, Ordering::Relaxed);
                    }
                    if let Ok(mut done) = done.lock() {
                        done.push((k, sample));
                    }
                    if let Some(bar) = &bar {
                        bar.inc(1);
                    }
                }
            });
        }
    });
    if let Some(bar) = &bar {
        bar.finish_and_clear();
    }
    let elapsed = started.elapsed();
    let poisoned = || Error::numerical("A thread making samples panicked.");
    if let Some(e) = setup_error.into_inner().map_err(|_| poisoned())? {
        return Err(e);
    }
    let mut done = done.into_inner().map_err(|_| poisoned())?;
    done.sort_by_key(|(k, _)| *k);
    if let Some(pos) = done.iter().position(|(_, s)| s.is_err()) {
        let (k, sample) = done.swap_remove(pos);
        return match sample {
            Err(mut e) => {
                e.message = format!("Sample {k}: {}", e.message);
                Err(e)
            }
            Ok(_) => Err(Error::numerical("A sample failed.")),
        };
    }
    if done.len() != samples {
        return Err(Error::numerical(format!(
            "Only {} of {samples} samples were made.",
            done.len()
        )));
    }
    // Sized once (no doubling of a large array), and each sample freed as it is copied.
    let (input_len, solution_len) = match done.first() {
        Some((_, Ok(first))) => (first.input.len(), first.solution.len()),
        _ => (0, 0),
    };
    let mut inputs = Vec::with_capacity(samples * input_len);
    let mut solutions = Vec::with_capacity(samples * solution_len);
    for (_, sample) in done {
        let sample = sample?;
        inputs.extend_from_slice(&sample.input);
        solutions.extend_from_slice(&sample.solution);
    }
    Ok(DataSet {
        inputs,
        solutions,
        elapsed,
        threads,
    })
}

/// Writes the data set's two arrays, each of `shape` (samples first), atomically and
/// together, and prints what was written.
fn write(
    (a_path, u_path): (&Path, &Path),
    shape: &[usize],
    data: &DataSet,
    what: &str,
) -> Result<(), Error> {
    let mut outputs = Outputs::new();
    outputs.stage(a_path, &npy_bytes(shape, &data.inputs)?)?;
    outputs.stage(u_path, &npy_bytes(shape, &data.solutions)?)?;
    outputs.commit()?;
    let dims: Vec<String> = shape.iter().map(usize::to_string).collect();
    outln!(
        "wrote {} and {}: float64 [{}] each; {what}; {} on {} thread{}",
        a_path.display(),
        u_path.display(),
        dims.join(", "),
        duration(data.elapsed),
        data.threads,
        if data.threads == 1 { "" } else { "s" }
    );
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn output_prefixes_name_two_files_in_an_existing_directory() {
        let dir = std::env::temp_dir();
        let (a, u) = output_paths(&dir.join("burgers")).unwrap();
        assert_eq!(a, dir.join("burgers_a.npy"));
        assert_eq!(u, dir.join("burgers_u.npy"));
        let missing = output_paths(Path::new("no/such/dir/burgers")).unwrap_err();
        assert!(
            missing.message.contains("does not exist"),
            "{}",
            missing.message
        );
        assert!(missing.help.is_some());
        assert!(output_paths(Path::new("data/")).is_err());
        assert!(output_paths(Path::new("")).is_err());
    }

    #[test]
    fn samples_land_in_order_whatever_the_threads() {
        let make = |_: &mut (), k: usize| {
            Ok(Sample {
                input: vec![k as f64; 2],
                solution: vec![-(k as f64)],
            })
        };
        for threads in [1, 2, 3, 8] {
            let data = make_samples("test", 7, threads, || Ok(()), make).unwrap();
            assert_eq!(
                data.inputs,
                [0., 0., 1., 1., 2., 2., 3., 3., 4., 4., 5., 5., 6., 6.]
            );
            assert_eq!(data.solutions, [0., -1., -2., -3., -4., -5., -6.]);
        }
        let failing = |_: &mut (), k: usize| {
            if k == 3 {
                Err(Error::numerical("no"))
            } else {
                make(&mut (), k)
            }
        };
        let e = make_samples("test", 7, 2, || Ok(()), failing)
            .err()
            .unwrap();
        assert_eq!(e.message, "Sample 3: no");
    }
}
