//! `sci discover DATA`: equations found in data (SINDy: sequentially thresholded least
//! squares over a library of candidate terms, the threshold chosen by AICc), printed with
//! their coefficients and the Pareto front of the sweep, and written as a sci model that
//! checks, solves, and refits its coefficients against the data (`--refit`, or later
//! `sci train`).
//!
//! The derivatives come from the samples: 4th-order finite differences, or a
//! Savitzky–Golay fit for noisy data (`--smooth WINDOW`).

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::Args;
use sci::runtime::discovered::{DataModel, data_model};
use sci::runtime::{TrainSetup, Trainer};
use sci::stdlib::Error;
use sci::stdlib::data::{Outputs, read_table};
use sci::stdlib::discover::{
    self, Discovered, LibrarySpec, Options, SelectOptions, Threshold, finite_difference,
    savitzky_golay,
};
use sci::stdlib::optim::{Optimizer, TrainOptions, train};

use super::runtime_common::{check_output, report};

#[derive(Args, Debug)]
pub struct DiscoverArgs {
    /// The data: a CSV with a header (or an NPY array) holding a time column and the
    /// variables, one row per sample, sorted by time.
    data: PathBuf,
    /// The time column (default: the first column).
    #[arg(long)]
    time: Option<String>,
    /// The variables whose equations to find, comma separated (default: every column but
    /// the time).
    #[arg(long, value_delimiter = ',')]
    vars: Vec<String>,
    /// The highest total degree of the polynomial terms (1, x, y, x^2, x*y, …).
    #[arg(long, default_value_t = 3)]
    degree: u32,
    /// Functions of each variable to add to the library, comma separated: sin, cos, exp,
    /// tanh.
    #[arg(long, value_delimiter = ',')]
    functions: Vec<String>,
    /// A fixed threshold on the scaled coefficients (a term's share of the derivative's
    /// norm), instead of the one AICc chooses.
    #[arg(long)]
    threshold: Option<f64>,
    /// The relative residual (‖ẏ − Θξ‖/‖ẏ‖ per variable) below which two models count as
    /// equally exact, so AICc prefers the one with fewer terms: about the accuracy of the
    /// estimated derivatives.
    #[arg(long, default_value_t = 1e-2)]
    noise_floor: f64,
    /// Estimate the derivatives by a Savitzky–Golay fit over this many samples (odd;
    /// for noisy data) instead of finite differences.
    #[arg(long)]
    smooth: Option<usize>,
    /// Write the equations as a sci model (`.sci`): a parameter per coefficient, the data
    /// and a loss over it.
    #[arg(long)]
    out: Option<PathBuf>,
    /// The name of the written model.
    #[arg(long, default_value = "Discovered")]
    name: String,
    /// Refit the coefficients against the data (L-BFGS on the written model's loss, through
    /// its ODE solution) before writing it; needs --out.
    #[arg(long, requires = "out")]
    refit: bool,
    /// L-BFGS steps of the refit.
    #[arg(long, default_value_t = 200)]
    refit_steps: usize,
}

/// The polynomial order of `--smooth`'s local fits.
const SMOOTH_ORDER: usize = 3;

pub fn run(args: &DiscoverArgs) -> Result<ExitCode, String> {
    match discover_and_write(args) {
        Ok(()) => Ok(ExitCode::SUCCESS),
        Err(e) => Ok(report(&e)),
    }
}

fn discover_and_write(args: &DiscoverArgs) -> Result<(), Error> {
    if let Some(out) = &args.out {
        check_output(out, &["sci"], "--out")?;
        if super::file_identity(out) == super::file_identity(&args.data) {
            return Err(Error::input("`--out` names the data file itself."));
        }
    }
    let table = read_table(&args.data)?;
    let time = match &args.time {
        Some(t) => t.clone(),
        None => table
            .columns
            .first()
            .cloned()
            .ok_or_else(|| Error::input("The data has no columns."))?,
    };
    let variables: Vec<String> = if args.vars.is_empty() {
        table
            .columns
            .iter()
            .filter(|c| **c != time)
            .cloned()
            .collect()
    } else {
        args.vars.clone()
    };
    let column = |name: &str| -> Result<usize, Error> {
        table.columns.iter().position(|c| c == name).ok_or_else(|| {
            Error::input(format!(
                "The data `{}` has no column `{name}`.",
                args.data.display()
            ))
            .with_help(format!("its columns are: {}", table.columns.join(", ")))
        })
    };
    let time_column = column(&time)?;
    let columns: Vec<usize> = variables
        .iter()
        .map(|v| column(v))
        .collect::<Result<_, _>>()?;
    if variables.is_empty() {
        return Err(
            Error::input("There are no variables to discover equations for.")
                .with_help("the data needs a column besides the time, or name them with --vars"),
        );
    }
    let width = table.columns.len();
    let rows = table.values.len() / width.max(1);
    let t: Vec<f64> = (0..rows)
        .map(|r| table.values[r * width + time_column])
        .collect();
    let data: Vec<f64> = (0..rows)
        .flat_map(|r| columns.iter().map(move |&c| (r, c)))
        .map(|(r, c)| table.values[r * width + c])
        .collect();
    let derivatives = match args.smooth {
        Some(window) => savitzky_golay(&t, &data, variables.len(), window, SMOOTH_ORDER)?,
        None => finite_difference(&t, &data, variables.len())?,
    };
    let spec = LibrarySpec {
        degree: args.degree,
        functions: args.functions.clone(),
    };
    let options = Options {
        threshold: match args.threshold {
            Some(x) => Threshold::Fixed(x),
            None => Threshold::Select(SelectOptions {
                noise_floor: args.noise_floor,
                ..SelectOptions::default()
            }),
        },
        ..Options::default()
    };
    let found = discover::discover(&data, &derivatives, &variables, &spec, &options)?;
    print_discovered(&found, &options, rows, &spec);

    let Some(out) = &args.out else {
        return Ok(());
    };
    let dir = sci::model_dir(out);
    let data_path = data_path_from(&args.data, &dir);
    let provenance = format!(
        "Discovered by `sci discover {}` (STLSQ over {} candidate terms, threshold {:.3e}).",
        args.data.display(),
        found.library.len(),
        found.threshold
    );
    let model = DataModel {
        name: &args.name,
        data_path: &data_path,
        time: &time,
        variables: &variables,
        initial: &data[..variables.len()],
        span: (t[0], t[rows - 1]),
        provenance: &provenance,
    };
    let mut text = data_model(&found, &model, None);
    if args.refit {
        let refitted = refit(&text, out, &dir, args.refit_steps)?;
        text = data_model(&found, &model, Some(&refitted));
    }
    // The file must check and compile: a model this command writes is one it can read.
    compile_written(&text, out, &dir)?;
    let mut outputs = Outputs::new();
    outputs.stage(out, text.as_bytes())?;
    outputs.commit()?;
    outln!("wrote {}", out.display());
    Ok(())
}

fn print_discovered(found: &Discovered, options: &Options, rows: usize, spec: &LibrarySpec) {
    outln!(
        "{} samples, {} candidate terms (degree {}{}){}",
        rows,
        found.library.len(),
        spec.degree,
        if spec.functions.is_empty() {
            String::new()
        } else {
            format!(", {}", spec.functions.join(", "))
        },
        match options.threshold {
            Threshold::Fixed(x) => format!(", threshold {x:.3e} (fixed)"),
            Threshold::Select(_) => format!(", threshold {:.3e} chosen by AICc", found.threshold),
        }
    );
    outln!("{found}");
    if found.front.len() > 1 {
        outln!("Pareto front (terms: relative residual, AICc):");
        for (k, point) in found.front.iter().enumerate() {
            outln!(
                "  {:>3} terms: {:.3e}, {:.1}{}",
                point.terms,
                point.relative_rss,
                point.aicc,
                if k == found.chosen { "  <- chosen" } else { "" }
            );
        }
    }
}

/// The data file as the written model reads it: its name when the model sits beside it,
/// else its absolute path.
fn data_path_from(data: &Path, model_dir: &Path) -> String {
    let data_dir = sci::model_dir(data);
    let same = match (data_dir.canonicalize(), model_dir.canonicalize()) {
        (Ok(a), Ok(b)) => a == b,
        _ => false,
    };
    match (same, data.file_name()) {
        (true, Some(name)) => name.to_string_lossy().into_owned(),
        _ => data
            .canonicalize()
            .unwrap_or_else(|_| data.to_path_buf())
            .display()
            .to_string(),
    }
}

fn compile_written(text: &str, out: &Path, dir: &Path) -> Result<sci::Compiled, Error> {
    sci::Compiler::new()
        .data_dir(dir)
        .compile_source(&out.display().to_string(), text)
        .map_err(|e| {
            Error::numerical(format!(
                "internal error: the written model does not compile:\n{}",
                e.render()
            ))
        })
}

/// The coefficients after `steps` L-BFGS steps on the written model's loss (the squared
/// distance of its solution from the data), in the order of its parameters.
fn refit(text: &str, out: &Path, dir: &Path, steps: usize) -> Result<Vec<f64>, Error> {
    let compiled = compile_written(text, out, dir)?;
    let name = compiled
        .models()
        .next()
        .map(|m| m.name.clone())
        .ok_or_else(|| Error::numerical("internal error: the written model has no model"))?;
    let setup = TrainSetup {
        data_dir: dir.to_path_buf(),
        ..TrainSetup::default()
    };
    let mut trainer = Trainer::new(&compiled, &name, setup)?;
    let mut p = trainer.model().params();
    let before = trainer.loss(&p)?;
    let options = TrainOptions {
        optimizer: Optimizer::Lbfgs,
        steps,
        ..TrainOptions::default()
    };
    let report = train(&mut trainer, &mut p, &options, &mut |_| {
        sci::stdlib::optim::Control::Continue
    })?;
    outln!(
        "refitted the coefficients against the data: loss {before:.4e} -> {:.4e} ({} L-BFGS steps)",
        report.final_loss,
        report.steps
    );
    Ok(p)
}
