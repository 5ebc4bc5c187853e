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
use sci::ir::Role;
use sci::runtime::discovered::{DataModel, coefficient_name, data_model};
use sci::runtime::network_rewrite::{output_name, replace_network};
use sci::runtime::{TrainSetup, Trainer};
use sci::stdlib::Error;
use sci::stdlib::checkpoint;
use sci::stdlib::data::{Outputs, read_table};
use sci::stdlib::discover::{
    self, Discovered, LibrarySpec, Options, SelectOptions, Threshold, finite_difference,
    savitzky_golay,
};
use sci::stdlib::ode::SolveOptions;
use sci::stdlib::optim::{Freeze, Optimizer, TrainOptions, train};

use super::runtime_common::{check_output, choose_model, report};

#[derive(Args, Debug)]
pub struct DiscoverArgs {
    /// The data: a CSV with a header (or an NPY array) holding a time column and the
    /// variables, one row per sample, sorted by time. Or a model file (`.sci`) whose
    /// trained network (`--params-file`) is to be expressed in terms of its arguments.
    data: PathBuf,
    /// With a model file: the trained parameters (a checkpoint from `sci train --out`).
    #[arg(long)]
    params_file: Option<PathBuf>,
    /// With a model file: the network to replace (needed when it has several).
    #[arg(long)]
    net: Option<String>,
    /// With a model file: the model (needed when the file has several with networks).
    #[arg(long)]
    model: Option<String>,
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
    let result = if args.data.extension().is_some_and(|e| e == "sci") {
        discover_network(args)
    } else {
        discover_and_write(args)
    };
    match result {
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
    let column = |name: &str| -> Result<Vec<f64>, Error> {
        table.column(name).ok_or_else(|| {
            Error::input(format!(
                "The data `{}` has no column `{name}`.",
                args.data.display()
            ))
            .with_help(format!("its columns are: {}", table.columns.join(", ")))
        })
    };
    let t = column(&time)?;
    let series: Vec<Vec<f64>> = variables
        .iter()
        .map(|v| column(v))
        .collect::<Result<_, _>>()?;
    if variables.is_empty() {
        return Err(
            Error::input("There are no variables to discover equations for.")
                .with_help("the data needs a column besides the time, or name them with --vars"),
        );
    }
    let rows = table.rows();
    // Row-major samples: one row per time, one column per variable.
    let data: Vec<f64> = (0..rows)
        .flat_map(|r| series.iter().map(move |s| s[r]))
        .collect();
    let derivatives = match args.smooth {
        Some(window) => savitzky_golay(&t, &data, variables.len(), window, SMOOTH_ORDER)?,
        None => finite_difference(&t, &data, variables.len())?,
    };
    let spec = library_spec(args);
    let options = discover_options(args);
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
        let refitted = refit(&text, out, &dir, args.refit_steps, &|_| true)?;
        let coefficients =
            refitted_coefficients(&found, &refitted, &|k| found.equations[k].variable.clone());
        text = data_model(&found, &model, Some(&coefficients));
    }
    write_model(&text, out, &dir)
}

fn library_spec(args: &DiscoverArgs) -> LibrarySpec {
    LibrarySpec {
        degree: args.degree,
        functions: args.functions.clone(),
    }
}

fn discover_options(args: &DiscoverArgs) -> Options {
    Options {
        threshold: match args.threshold {
            Some(x) => Threshold::Fixed(x),
            None => Threshold::Select(SelectOptions {
                noise_floor: args.noise_floor,
                ..SelectOptions::default()
            }),
        },
        ..Options::default()
    }
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

/// Writes the model `text` to `out` (atomically) once it compiles: a model this command
/// writes is one it can read.
fn write_model(text: &str, out: &Path, dir: &Path) -> Result<(), Error> {
    compile_written(text, out, dir)?;
    let mut outputs = Outputs::new();
    outputs.stage(out, text.as_bytes())?;
    outputs.commit()?;
    outln!("wrote {}", out.display());
    Ok(())
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

/// The parameters, by name in the model's order, after `steps` L-BFGS steps on the written
/// model's loss (the squared distance of its solution from the data); only those `moves`
/// accepts (by name) change.
fn refit(
    text: &str,
    out: &Path,
    dir: &Path,
    steps: usize,
    moves: &dyn Fn(&str) -> bool,
) -> Result<Vec<(String, f64)>, Error> {
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
    let names = sci::runtime::element_names(&trainer.model().ir().params);
    let frozen: Vec<bool> = names.iter().map(|n| !moves(n)).collect();
    let mut keep = |_: &sci::stdlib::optim::Progress<'_>| sci::stdlib::optim::Control::Continue;
    let report = if frozen.iter().any(|&f| f) {
        let mut objective = Freeze::new(&mut trainer, frozen)?;
        train(&mut objective, &mut p, &options, &mut keep)?
    } else {
        train(&mut trainer, &mut p, &options, &mut keep)?
    };
    outln!(
        "refitted the coefficients against the data: loss {before:.4e} -> {:.4e} ({} L-BFGS steps)",
        report.final_loss,
        report.steps
    );
    Ok(names.into_iter().zip(p).collect())
}

/// The refitted values of `found`'s coefficients, in the order of its equations' terms;
/// `owner(k)` names the coefficients of equation `k` (see [`coefficient_name`]).
fn refitted_coefficients(
    found: &Discovered,
    refitted: &[(String, f64)],
    owner: &dyn Fn(usize) -> String,
) -> Vec<f64> {
    let mut values = Vec::new();
    for (k, eq) in found.equations.iter().enumerate() {
        for (term, c) in &eq.terms {
            let name = coefficient_name(&owner(k), term);
            let refit = refitted.iter().find(|(n, _)| *n == name);
            values.push(refit.map_or(*c, |(_, v)| *v));
        }
    }
    values
}

/// `sci discover MODEL.sci --params-file P.json`: the network of a trained universal
/// differential equation evaluated along the model's solution, its outputs expressed in
/// terms of its arguments, and the model written with the network replaced by them.
fn discover_network(args: &DiscoverArgs) -> Result<(), Error> {
    let path = &args.data;
    let compiled = sci::Compiler::new()
        .compile_file(path)
        .map_err(|e| Error::input(e.to_string()))?;
    let name = choose_model(&compiled, args.model.as_deref(), "with networks", |m| {
        m.functions
            .iter()
            .any(|(_, f)| matches!(f.role, Role::Net(_)))
    })?;
    let model = compiled.model(&name)?;
    let networks = sci::runtime::networks(model.ir());
    let net = match (&args.net, networks.as_slice()) {
        (Some(n), _) => networks.iter().find(|x| &x.name == n).ok_or_else(|| {
            Error::input(format!("Model `{name}` has no network `{n}`.")).with_help(format!(
                "its networks are: {}",
                networks
                    .iter()
                    .map(|x| x.name.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            ))
        })?,
        (None, [only]) => only,
        (None, _) => {
            return Err(Error::input(format!(
                "Model `{name}` has several networks; name the one to discover with --net."
            )));
        }
    };
    let params_file = args.params_file.as_ref().ok_or_else(|| {
        Error::input("Discovering a network's equations needs its trained parameters.")
            .with_help("give the checkpoint `sci train --out` wrote: --params-file params.json")
    })?;
    let p = sci::runtime::params_from_checkpoint(&model, &checkpoint::load(params_file)?)?;
    if model.n_states() == 0 {
        return Err(Error::input(format!(
            "Model `{name}` has no states: `sci discover` finds the network's terms along the \
             solution of a differential equation."
        )));
    }
    let solution = model.simulate(
        &p,
        &SolveOptions {
            rtol: 1e-8,
            atol: 1e-10,
            ..SolveOptions::default()
        },
    )?;
    // The network's arguments along the solution: states by name, or the time.
    let columns: Vec<Option<usize>> = net
        .args
        .iter()
        .map(|a| match a.as_str() {
            "t" => Ok(None),
            _ => solution
                .state_names
                .iter()
                .position(|s| s == a)
                .map(Some)
                .ok_or_else(|| {
                    Error::input(format!(
                        "The network `{}` takes `{a}`, which is neither a state nor the time.",
                        net.name
                    ))
                }),
        })
        .collect::<Result<_, _>>()?;
    let function = model.function(&net.function)?;
    let rows = solution.t.len();
    let mut data = Vec::with_capacity(rows * columns.len());
    let mut targets = Vec::with_capacity(rows * net.outputs);
    for (t, y) in solution.t.iter().zip(&solution.states) {
        let values: Vec<[f64; 1]> = (columns.iter()).map(|c| [c.map_or(*t, |i| y[i])]).collect();
        data.extend(values.iter().map(|v| v[0]));
        let mut call: Vec<&[f64]> = vec![&p];
        call.extend(values.iter().map(|v| v.as_slice()));
        let out = function.call(&call)?;
        targets.extend(out.iter().take(net.outputs));
    }
    let spec = library_spec(args);
    let options = discover_options(args);
    let found = discover::discover(&data, &targets, &net.args, &spec, &options)?;
    outln!(
        "{} along the solution of `{name}` ({} times), {} candidate terms in {}",
        net.name,
        rows,
        found.library.len(),
        net.args.join(", ")
    );
    for (k, eq) in found.equations.iter().enumerate() {
        outln!("{}[{k}] = {}", net.name, eq.right_hand_side());
    }
    let Some(out) = &args.out else {
        return Ok(());
    };
    if sci::model_dir(out).canonicalize().ok() != sci::model_dir(path).canonicalize().ok() {
        return Err(Error::input(
            "`--out` must be in the model's directory: the model reads its data relative to it.",
        ));
    }
    // The model's own parameters (not the network's weights), at their trained values.
    let weights = format!("{}.", net.name);
    let trained: Vec<(String, Vec<f64>)> = (model.ir().params.slots.iter())
        .filter(|s| !s.name.starts_with(&weights) && s.shape.len() <= 1)
        .map(|s| {
            let count: usize = s.shape.iter().product();
            (s.name.clone(), p[s.offset..s.offset + count].to_vec())
        })
        .collect();
    let source = sci::read_source_file(path)
        .map_err(|why| Error::input(format!("cannot read `{}`: {why}", path.display())))?;
    let rewrite = |coefficients: Option<&[f64]>| -> Result<String, Error> {
        let text = replace_network(&source, &name, &net.name, &found, coefficients, &trained)
            .map_err(|why| Error::input(format!("Cannot replace `{}`: {why}.", net.name)))?;
        sci::lang::fmt::format_source(sci::diag::FileId(0), &text)
            .map_err(|_| Error::numerical("internal error: the rewritten model does not parse"))
    };
    let dir = sci::model_dir(path);
    let mut text = rewrite(None)?;
    if args.refit {
        // Only the coefficients move: the model's own parameters keep their trained values.
        let prefix = format!("c_{}", net.name);
        let refitted = refit(&text, out, &dir, args.refit_steps, &|n| {
            n.starts_with(&prefix)
        })?;
        let coefficients = refitted_coefficients(&found, &refitted, &|k| output_name(&net.name, k));
        text = rewrite(Some(&coefficients))?;
    }
    write_model(&text, out, &dir)
}
