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
use sci::runtime::data_selection::{Judgement, Refit, judge, no_data, refit};
use sci::runtime::discovered::{DataModel, coefficient_name, data_model};
use sci::runtime::network_rewrite::{output_name, replace_network};
use sci::runtime::{TrainSetup, Trainer};
use sci::stdlib::Error;
use sci::stdlib::checkpoint;
use sci::stdlib::data::{Outputs, read_table};
use sci::stdlib::discover::{
    self, CandidateOptions, Discovered, LibrarySpec, Options, SelectOptions, Threshold,
    finite_difference, savitzky_golay,
};
use sci::stdlib::ode::SolveOptions;

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
    /// The ridge weight that steers the thresholding, relative to unit-norm library columns
    /// (the final fit on the kept terms is plain least squares). Raise it (PySINDy uses
    /// 0.05) when the library is nearly collinear along the data, as along one orbit.
    #[arg(long, default_value_t = sci::stdlib::discover::DEFAULT_ALPHA)]
    ridge: f64,
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
    /// With a model file: how to choose among candidate equations. `data` refits each
    /// sparse candidate's coefficients against the model's data and keeps the one with the
    /// lowest extended BIC there (the written coefficients are the refitted ones); `network` takes
    /// the one AICc chooses on the network's outputs; `auto` is `data` when the model's loss
    /// compares its solution with data.
    #[arg(long, value_enum, default_value_t = Select::Auto)]
    select: Select,
}

/// How `sci discover MODEL` chooses among candidate equations.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
enum Select {
    Auto,
    Data,
    Network,
}

/// How many judged candidates `sci discover` prints.
const SHOWN_CANDIDATES: usize = 8;

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
        let refitted = refit(
            &compile_written(&text, out, &dir)?,
            &dir,
            args.refit_steps,
            &|_| true,
        )?;
        print_refit(&refitted);
        let refitted = refitted.params;
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
        alpha: args.ridge,
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

fn print_refit(refit: &Refit) {
    outln!(
        "refitted the coefficients against the data: loss {:.4e} -> {:.4e} ({} L-BFGS steps)",
        refit.before,
        refit.after,
        refit.steps
    );
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
    if let Some(out) = &args.out {
        check_output(out, &["sci"], "--out")?;
        if super::file_identity(out) == super::file_identity(path) {
            return Err(Error::input("`--out` names the model file itself.")
                .with_help("write the discovered model to another file: --out found.sci"));
        }
    }
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
    let samples = sci::runtime::along_solution(&model, &p, net, &solution)?;
    let (data, targets, rows) = (samples.args, samples.outputs, samples.rows);
    let spec = library_spec(args);
    let options = discover_options(args);
    let dir = sci::model_dir(path);
    let by_data = match args.select {
        Select::Network => false,
        Select::Data if !compares_with_data(&compiled, &name, &dir) => return Err(no_data()),
        Select::Data => true,
        Select::Auto => compares_with_data(&compiled, &name, &dir),
    };
    let (found, candidates) = if by_data {
        let candidate_options = CandidateOptions::default();
        discover::discover_candidates(
            &data,
            &targets,
            &net.args,
            &spec,
            &options,
            &candidate_options,
        )?
    } else {
        let found = discover::discover(&data, &targets, &net.args, &spec, &options)?;
        (found, Vec::new())
    };
    outln!(
        "{} along the solution of `{name}` ({} times), {} candidate terms in {}",
        net.name,
        rows,
        found.library.len(),
        net.args.join(", ")
    );
    if by_data {
        outln!("by AICc on {}'s outputs:", net.name);
    }
    for (k, eq) in found.equations.iter().enumerate() {
        outln!("{}[{k}] = {}", net.name, eq.right_hand_side());
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
    let rewrite = |found: &Discovered, coefficients: Option<&[f64]>| -> Result<String, Error> {
        let text = replace_network(&source, &name, &net.name, found, coefficients, &trained)
            .map_err(|why| Error::input(format!("Cannot replace `{}`: {why}.", net.name)))?;
        sci::lang::fmt::format_source(sci::diag::FileId(0), &text)
            .map_err(|_| Error::numerical("internal error: the rewritten model does not parse"))
    };
    // Only the coefficients move in a refit: the model's own parameters keep their trained
    // values.
    let prefix = format!("c_{}", net.name);
    let moves = |n: &str| n.starts_with(&prefix);
    let output = |k: usize| output_name(&net.name, k);
    if by_data {
        // The written model's name in messages, when there is no `--out`.
        let shown = args
            .out
            .clone()
            .unwrap_or_else(|| dir.join("discovered.sci"));
        let compile = |c: &Discovered| compile_written(&rewrite(c, None)?, &shown, &dir);
        let judgement = judge(&candidates, &compile, &dir, args.refit_steps, &moves)?;
        print_judgement(&judgement, &candidates, &net.name);
        let best = &judgement.judged[0];
        let chosen = &candidates[best.candidate];
        let coefficients = refitted_coefficients(chosen, &best.refit.params, &output);
        outln!("chosen by the data, coefficients refitted:");
        for (k, eq) in refitted_equations(chosen, &coefficients).iter().enumerate() {
            outln!("{}[{k}] = {}", net.name, eq.right_hand_side());
        }
        if let Some(out) = &args.out {
            let text = relocated(&rewrite(chosen, Some(&coefficients))?, &name, out, &dir)?;
            write_model(&text, out, &dir)?;
        }
        return Ok(());
    }
    let Some(out) = &args.out else {
        return Ok(());
    };
    let mut text = rewrite(&found, None)?;
    if args.refit {
        let compiled = compile_written(&text, out, &dir)?;
        let refitted = refit(&compiled, &dir, args.refit_steps, &moves)?;
        print_refit(&refitted);
        let coefficients = refitted_coefficients(&found, &refitted.params, &output);
        text = rewrite(&found, Some(&coefficients))?;
    }
    write_model(&relocated(&text, &name, out, &dir)?, out, &dir)
}

/// `text` (model `name`, read from `dir`) as written to `out`: where `out` is in another
/// directory, its data paths as seen from there ([`data_path_from`]), so the written model
/// reads the same files.
fn relocated(text: &str, name: &str, out: &Path, dir: &Path) -> Result<String, Error> {
    let out_dir = sci::model_dir(out);
    if out_dir.canonicalize().ok() == dir.canonicalize().ok() {
        return Ok(text.to_string());
    }
    let moved = |path: &str| data_path_from(&dir.join(path), &out_dir);
    sci::runtime::network_rewrite::relocate_data(text, name, &moved)
        .map_err(|why| Error::input(format!("Cannot write the model elsewhere: {why}.")))
}

/// Whether model `name`'s loss compares a solution with data (so the data can judge
/// candidate equations).
fn compares_with_data(compiled: &sci::Compiled, name: &str, dir: &Path) -> bool {
    let setup = TrainSetup {
        data_dir: dir.to_path_buf(),
        ..TrainSetup::default()
    };
    Trainer::new(compiled, name, setup).is_ok_and(|t| t.observations().is_some())
}

/// The judged candidates, best first (at most [`SHOWN_CANDIDATES`]).
fn print_judgement(judgement: &Judgement, candidates: &[Discovered], net: &str) {
    outln!(
        "{} candidates refitted against the data ({} measured values{}); extended BIC on the data:",
        judgement.judged.len() + judgement.failed,
        judgement.observations,
        match judgement.failed {
            0 => String::new(),
            n => format!(", {n} whose solution failed left out"),
        }
    );
    for (rank, judged) in judgement.judged.iter().take(SHOWN_CANDIDATES).enumerate() {
        let candidate = &candidates[judged.candidate];
        let output = |k: usize| output_name(net, k);
        let coefficients = refitted_coefficients(candidate, &judged.refit.params, &output);
        let equations: Vec<String> = (refitted_equations(candidate, &coefficients).iter())
            .enumerate()
            .map(|(k, eq)| format!("{net}[{k}] = {}", eq.right_hand_side()))
            .collect();
        outln!(
            "  {:>8.1}  loss {:.4e}  {:>2} terms  {}{}",
            judged.ebic,
            judged.refit.after,
            judged.terms,
            equations.join("; "),
            if rank == 0 { "  <- chosen" } else { "" }
        );
    }
}

/// `found`'s equations with `coefficients` (in the order of their terms).
fn refitted_equations(found: &Discovered, coefficients: &[f64]) -> Vec<discover::Equation> {
    let mut values = coefficients.iter();
    (found.equations.iter())
        .map(|eq| discover::Equation {
            variable: eq.variable.clone(),
            terms: (eq.terms.iter())
                .map(|(term, c)| (term.clone(), values.next().copied().unwrap_or(*c)))
                .collect(),
        })
        .collect()
}
