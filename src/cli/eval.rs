//! `sci eval`: evaluate one function of a compiled file with the reference interpreter.
//!
//! Arguments are `NAME=VALUES`. `NAME` is an input of the function (`t`, `y`, `θ`, `x`, a
//! residual's coordinate), or the name of a parameter or state, which then overrides that
//! slice of θ or y. Inputs that are not given take defaults: θ from the parameters'
//! defaults, y from `y0(θ)`, `t` = 0. `VALUES` is a comma-separated list (`1,2,3` or
//! `[1, 2, 3]`); for batched inputs, points are separated by `;` (`0,0.5;0.1,0.2`).

use clap::Args;
use sci::Tensor;
use sci::ir::{FuncId, Layout, Module, Type};
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(Args, Debug)]
pub struct EvalArgs {
    /// The `.sci` file.
    file: PathBuf,
    /// The function to evaluate: `rhs`, `y0`, `outputs`, `loss`, `residual.NAME`, or a `fn`.
    function: String,
    /// Inputs and overrides, as `NAME=VALUES`.
    values: Vec<String>,
    /// The model whose function to use (needed when several models define it).
    #[arg(long)]
    model: Option<String>,
    /// Parameters from a checkpoint written by `sci train --out` (before `NAME=VALUES`
    /// overrides of single parameters).
    #[arg(long)]
    params_file: Option<PathBuf>,
    /// Values of the function's inputs from a table: each column named like an input
    /// (`t`, `x`, `pde.t`) gives that input, one value per row (a CSV with a header).
    #[arg(long)]
    points: Option<PathBuf>,
}

pub fn run(args: &EvalArgs, color: bool) -> Result<ExitCode, String> {
    let (sources, mut analysis) = super::analyze_and_report(&args.file, color)?;
    if analysis.has_errors() {
        return Ok(ExitCode::from(1));
    }
    let mut assignments = parse_assignments(&args.values)?;
    if let Some(path) = &args.points {
        assignments.extend(table_assignments(path)?);
    }
    let mut function = args.function.clone();
    let modules = match find_function(&analysis.modules, &function, args.model.as_deref())? {
        Some(_) => analysis.modules.clone(),
        None => {
            // A generic fn no model instantiates: instantiate it for the given shapes.
            let shapes: Vec<Vec<usize>> = assignments.iter().map(|a| a.shape()).collect();
            match sci::instantiate_generic(&analysis.ast, &mut analysis.checked, &function, &shapes)
            {
                Ok((symbol, mut modules)) => {
                    function = symbol;
                    sci::expand(&mut modules)
                        .map_err(|d| sci::render::render_all(&d, &sources, color))?;
                    modules
                }
                Err(diagnostics) => {
                    err!("{}", sci::render::render_all(&diagnostics, &sources, color));
                    // A function the file does not have is a bad argument (2); one with
                    // errors for these shapes is an error in the input (1).
                    let unknown = diagnostics.iter().all(|d| d.code == "E0201");
                    return Ok(ExitCode::from(if unknown { 2 } else { 1 }));
                }
            }
        }
    };
    let (module, func) = find_function(&modules, &function, args.model.as_deref())?
        .ok_or_else(|| unknown_function(&modules, &function))?;
    let theta = match &args.params_file {
        Some(path) => {
            let checkpoint = sci::stdlib::checkpoint::load(path).map_err(|e| e.to_string())?;
            sci::runtime::theta_from_checkpoint(module, &checkpoint).map_err(|e| e.to_string())?
        }
        None => module.params.defaults(),
    };
    if module.functions[func].role == sci::ir::Role::Loss
        && !assignments.iter().any(|a| is_input(module, func, &a.name))
    {
        return model_loss(args, module, theta, &assignments);
    }
    let inputs = build_inputs(module, func, theta, &assignments)?;
    let result = sci::ir::interp::eval(module, func, &inputs).map_err(|e| e.to_string())?;
    let text = describe_result(module, &args.function, &result);
    // A closed pipe is not an error of ours (see `outln!`).
    let _ = std::io::Write::write_all(&mut std::io::stdout(), text.as_bytes());
    Ok(ExitCode::SUCCESS)
}

/// One `NAME=VALUES` argument: a list of points, each a list of numbers.
struct Assignment {
    name: String,
    points: Vec<Vec<f64>>,
    bracketed: bool,
}

impl Assignment {
    /// The shape the values suggest: a scalar for one unbracketed number, else a vector.
    fn shape(&self) -> Vec<usize> {
        match self.points.as_slice() {
            [one] if one.len() == 1 && !self.bracketed => Vec::new(),
            [one] => vec![one.len()],
            many => vec![many.len(), many.first().map_or(0, Vec::len)],
        }
    }

    fn flat(&self) -> Vec<f64> {
        self.points.iter().flatten().copied().collect()
    }
}

fn parse_assignments(values: &[String]) -> Result<Vec<Assignment>, String> {
    values
        .iter()
        .map(|arg| {
            let (name, rhs) = arg
                .split_once('=')
                .ok_or_else(|| format!("expected NAME=VALUES, got `{arg}`"))?;
            let trimmed = rhs.trim();
            let bracketed = trimmed.starts_with('[');
            let body = trimmed.trim_start_matches('[').trim_end_matches(']');
            let points = body
                .split(';')
                .map(|point| {
                    point
                        .split(',')
                        .filter(|s| !s.trim().is_empty())
                        .map(|s| {
                            s.trim()
                                .parse::<f64>()
                                .map_err(|_| format!("`{}` in `{arg}` is not a number", s.trim()))
                        })
                        .collect::<Result<Vec<f64>, String>>()
                })
                .collect::<Result<Vec<_>, String>>()?;
            Ok(Assignment {
                name: name.trim().to_string(),
                points,
                bracketed,
            })
        })
        .collect()
}

/// Whether `name` is an input of function `func`.
fn is_input(module: &Module, func: FuncId, name: &str) -> bool {
    let f = &module.functions[func];
    f.inputs()
        .iter()
        .any(|&id| f.values[id].name.as_deref() == Some(name))
}

/// The model's loss on its own inputs, as `sci train` sees it before its first step: the
/// collocation points of seed 0 and the data files the model names (through ODE solves
/// for trajectories), evaluated by the reference interpreter.
fn model_loss(
    args: &EvalArgs,
    module: &Module,
    mut theta: Vec<f64>,
    assignments: &[Assignment],
) -> Result<ExitCode, String> {
    for a in assignments {
        let slot = module.params.slot(&a.name).ok_or_else(|| {
            format!(
                "`{}` is not a parameter of `{}`; the loss takes the model's points and data",
                a.name, module.name
            )
        })?;
        set_slot(&mut theta, slot, a)?;
    }
    let compiled = sci::Compiler::new()
        .backend(sci::BackendKind::Interpreter)
        .compile_file(&args.file)
        .map_err(|e| e.to_string())?;
    let setup = sci::runtime::TrainSetup {
        data_dir: super::train::data_dir(&args.file),
        ..sci::runtime::TrainSetup::default()
    };
    let loss = sci::runtime::Trainer::new(&compiled, &module.name, setup)
        .and_then(|mut trainer| trainer.loss(&theta))
        .map_err(|e| e.to_string())?;
    outln!("loss = {loss}");
    outln!("  (on the model's data and its collocation points for seed 0, as `sci train` starts)");
    Ok(ExitCode::SUCCESS)
}

/// One assignment per column of the table at `path`: the column's values as points.
fn table_assignments(path: &std::path::Path) -> Result<Vec<Assignment>, String> {
    if !sci::stdlib::data::names_columns(path) {
        return Err(format!(
            "`--points {}`: the table must name its columns after the inputs (a CSV with a \
             header row)",
            path.display()
        ));
    }
    let table = sci::stdlib::data::read_table(path).map_err(|e| e.to_string())?;
    Ok(table
        .columns
        .iter()
        .map(|name| Assignment {
            name: name.clone(),
            points: table
                .column(name)
                .unwrap_or_default()
                .into_iter()
                .map(|v| vec![v])
                .collect(),
            bracketed: true,
        })
        .collect())
}

/// Finds `name` in the modules (restricted to `model` if given). `Ok(None)` if absent.
fn find_function<'m>(
    modules: &'m [Module],
    name: &str,
    model: Option<&str>,
) -> Result<Option<(&'m Module, FuncId)>, String> {
    let hits: Vec<(&Module, FuncId)> = modules
        .iter()
        .filter(|m| model.is_none_or(|want| m.name == want))
        .filter_map(|m| m.function(name).map(|f| (m, f)))
        .collect();
    match hits.as_slice() {
        [] => {
            if let Some(want) = model
                && !modules.iter().any(|m| m.name == want)
            {
                let names: Vec<&str> = modules.iter().map(|m| m.name.as_str()).collect();
                return Err(format!(
                    "there is no model `{want}`; the file defines: {}",
                    names.join(", ")
                ));
            }
            Ok(None)
        }
        [one] => Ok(Some(*one)),
        many => {
            let names: Vec<&str> = many.iter().map(|(m, _)| m.name.as_str()).collect();
            Err(format!(
                "`{name}` is defined by several models ({}); choose one with --model",
                names.join(", ")
            ))
        }
    }
}

fn unknown_function(modules: &[Module], name: &str) -> String {
    let mut names: Vec<String> = modules
        .iter()
        .flat_map(|m| {
            m.functions
                .iter()
                .map(move |(_, f)| format!("{} ({})", f.name, m.name))
        })
        .collect();
    names.sort();
    format!(
        "there is no function `{name}`; available: {}",
        names.join(", ")
    )
}

/// Builds the argument list: given inputs, then defaults for θ, y and t, then overrides of
/// single parameters and states.
fn build_inputs(
    module: &Module,
    func: FuncId,
    mut theta: Vec<f64>,
    assignments: &[Assignment],
) -> Result<Vec<Tensor>, String> {
    let function = &module.functions[func];
    let input_names: Vec<(String, Type)> = function
        .inputs()
        .iter()
        .map(|&id| {
            let v = &function.values[id];
            (v.name.clone().unwrap_or_default(), v.ty.clone())
        })
        .collect();
    let mut overrides_y: Vec<&Assignment> = Vec::new();
    let mut given: Vec<Option<Tensor>> = vec![None; input_names.len()];
    for a in assignments {
        if let Some(k) = input_names.iter().position(|(n, _)| *n == a.name) {
            let ty = &input_names[k].1;
            given[k] = Some(to_tensor(a, ty)?);
        } else if let Some(slot) = module.params.slot(&a.name) {
            set_slot(&mut theta, slot, a)?;
        } else if module.states.slot(&a.name).is_some() {
            overrides_y.push(a);
        } else {
            let mut known: Vec<String> = input_names.iter().map(|(n, _)| n.clone()).collect();
            known.extend(module.params.slots.iter().map(|s| s.name.clone()));
            known.extend(module.states.slots.iter().map(|s| s.name.clone()));
            return Err(format!(
                "`{}` is not an input, parameter or state of `{}`; known names: {}",
                a.name,
                function.name,
                known.join(", ")
            ));
        }
    }
    let mut inputs = Vec::with_capacity(input_names.len());
    for (k, (name, ty)) in input_names.iter().enumerate() {
        let value = match given[k].take() {
            Some(t) => t,
            None if is_theta(name) => Tensor::vector(theta.clone()),
            None if name == "t" && ty.shape.is_empty() => Tensor::scalar(0.0),
            None if name == "y" && !module.states.slots.is_empty() => {
                let mut y = initial_state(module, &theta)?;
                for a in &overrides_y {
                    if let Some(slot) = module.states.slot(&a.name) {
                        set_slot(&mut y, slot, a)?;
                    }
                }
                Tensor::vector(y)
            }
            None => {
                return Err(format!(
                    "missing input `{name}: {ty}` of `{}`; pass it as {name}=VALUES",
                    function.name
                ));
            }
        };
        inputs.push(value);
    }
    Ok(inputs)
}

fn is_theta(name: &str) -> bool {
    name == "θ" || name == "theta"
}

fn initial_state(module: &Module, theta: &[f64]) -> Result<Vec<f64>, String> {
    let y0 = module
        .function("y0")
        .ok_or_else(|| "the model has states but no `y0` function".to_string())?;
    let y = sci::ir::interp::eval(module, y0, &[Tensor::vector(theta.to_vec())])
        .map_err(|e| format!("evaluating y0: {e}"))?;
    Ok(y.data)
}

fn set_slot(flat: &mut [f64], slot: &sci::ir::Slot, a: &Assignment) -> Result<(), String> {
    let values = a.flat();
    let len = sci::ir::types::element_count(&slot.shape).unwrap_or(0);
    if values.len() != len {
        return Err(format!(
            "`{}` has {len} element{}, but {} value{} were given",
            slot.name,
            if len == 1 { "" } else { "s" },
            values.len(),
            if values.len() == 1 { "" } else { "s" }
        ));
    }
    flat.get_mut(slot.offset..slot.offset + len)
        .ok_or_else(|| format!("slot `{}` lies outside its vector", slot.name))?
        .copy_from_slice(&values);
    Ok(())
}

fn to_tensor(a: &Assignment, ty: &Type) -> Result<Tensor, String> {
    let per_point = ty.element_count().unwrap_or(0);
    let values = a.flat();
    if ty.batched {
        if per_point == 0 || !values.len().is_multiple_of(per_point) {
            return Err(format!(
                "`{}` expects points of {per_point} value{} each ({ty}); got {} values",
                a.name,
                if per_point == 1 { "" } else { "s" },
                values.len()
            ));
        }
        return Tensor::batch(ty.shape.clone(), values.len() / per_point, values)
            .map_err(|e| e.to_string());
    }
    if values.len() != per_point {
        return Err(format!(
            "`{}` expects {per_point} value{} ({ty}); got {}",
            a.name,
            if per_point == 1 { "" } else { "s" },
            values.len()
        ));
    }
    Tensor::new(ty.shape.clone(), values).map_err(|e| e.to_string())
}

/// Prints the result, labelled by the layout it corresponds to when there is one.
fn describe_result(module: &Module, function: &str, result: &Tensor) -> String {
    let layout: Option<(&Layout, &str)> = match function {
        "rhs" => Some((&module.states, "der")),
        "y0" => Some((&module.states, "")),
        "outputs" => Some((&module.outputs, "")),
        _ => None,
    };
    let mut out = String::new();
    match layout {
        Some((layout, wrap)) if result.batch.is_none() && layout.len == result.data.len() => {
            for slot in &layout.slots {
                let len = sci::ir::types::element_count(&slot.shape).unwrap_or(0);
                let values = &result.data[slot.offset..slot.offset + len];
                let name = if wrap.is_empty() {
                    slot.name.clone()
                } else {
                    format!("{wrap}({})", slot.name)
                };
                out.push_str(&format!(
                    "{name} = {}\n",
                    format_values(values, &slot.shape)
                ));
            }
        }
        _ => {
            out.push_str(&format!("{function} = {}\n", format_tensor(result)));
        }
    }
    out
}

/// Row-major values as nested brackets: `1`, `[1, 2]`, `[[1, 2], [3, 4]]`.
fn format_values(values: &[f64], shape: &[usize]) -> String {
    match shape {
        [] => values.first().map(|v| format!("{v}")).unwrap_or_default(),
        [_] => {
            let items: Vec<String> = values.iter().map(|v| format!("{v}")).collect();
            format!("[{}]", items.join(", "))
        }
        [rows, inner @ ..] => {
            let per_row = values.len() / (*rows).max(1);
            let items: Vec<String> = values
                .chunks(per_row.max(1))
                .map(|row| format_values(row, inner))
                .collect();
            format!("[{}]", items.join(", "))
        }
    }
}

fn format_tensor(t: &Tensor) -> String {
    match t.batch {
        None => format_values(&t.data, &t.shape),
        Some(points) => {
            let per = t.data.len() / points.max(1);
            let rows: Vec<String> = t
                .data
                .chunks(per.max(1))
                .map(|c| format_values(c, &t.shape))
                .collect();
            format!("[{}]", rows.join("; "))
        }
    }
}
