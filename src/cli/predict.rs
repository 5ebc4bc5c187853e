//! `sci predict`: a trained model's networks evaluated over its domain — on a grid over
//! the box its residuals declare, or at the points of a table — written as a table
//! (CSV/NPY/JSON) and plotted (a line over one coordinate, heat maps over two), compared
//! with reference values when a table of them is given.
//!
//! The networks are found by their role (`net(NAME)`) and their arguments by their input
//! roles (`arg(NAME)`) in the compiled module; the bounds of a coordinate are those of the
//! point sets that sample it. Outputs are written together, only when everything succeeded.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::Args;
use sci::ir::{Module, Role};
use sci::stdlib::Error;
use sci::stdlib::checkpoint;
use sci::stdlib::data::{
    NamedArray, Outputs, Table, names_columns, npz_bytes, read_table, table_bytes,
};

use super::heatmap::{Field, heatmap_svg};
use super::runtime_common::{
    DeviceArgs, check_output, check_plot_output, choose_model, compile, report,
};

#[derive(Args, Debug)]
pub struct PredictArgs {
    /// The `.sci` file.
    file: PathBuf,
    /// The back end that compiles the model: cranelift, llvm or interp.
    #[arg(long, default_value = "cranelift")]
    backend: String,
    #[command(flatten)]
    device: DeviceArgs,
    /// The model to evaluate (needed when the file has several models with networks).
    #[arg(long)]
    model: Option<String>,
    /// Parameters from a checkpoint written by `sci train --out` (default: the model's
    /// initial parameters).
    #[arg(long)]
    params_file: Option<PathBuf>,
    /// Grid points along each coordinate (default: 201 for one coordinate, 101 for two,
    /// 21 for three or more).
    #[arg(long)]
    grid: Option<usize>,
    /// Evaluate at the rows of this table instead of a grid: a CSV whose header names the
    /// coordinates, or an NPY array whose columns are the coordinates in order.
    #[arg(long, conflicts_with_all = ["grid", "compare"])]
    points: Option<PathBuf>,
    /// Compare with reference values: a CSV naming the coordinates and some of the outputs
    /// (`u`, `uvp[2]`); the networks are evaluated at its rows, the error of every output it
    /// holds is reported, and the table gains `NAME.reference` and `NAME.error` columns.
    #[arg(long, conflicts_with = "grid")]
    compare: Option<PathBuf>,
    /// Write the values (coordinates, then every output) to a .csv, .npy, .json or .npz
    /// file (an archive of the axes and each network's values shaped like the grid).
    #[arg(long)]
    out: Option<PathBuf>,
    /// Plot to an .svg or .png file: the outputs against the coordinate (one coordinate), or a
    /// heat map per output (two coordinates, on a grid).
    #[arg(long)]
    plot: Option<PathBuf>,
}

/// The most points one prediction evaluates.
const MAX_POINTS: usize = 10_000_000;

pub fn run(args: &PredictArgs, color: bool) -> Result<ExitCode, String> {
    super::check_output_paths(
        &[
            Some(&args.file),
            args.params_file.as_deref(),
            args.points.as_deref(),
            args.compare.as_deref(),
        ],
        &[
            ("--out", args.out.as_deref()),
            ("--plot", args.plot.as_deref()),
        ],
    )?;
    let compiled = match compile(&args.file, &args.backend, &args.device, color) {
        Ok(c) => c,
        Err(code) => return Ok(code),
    };
    match predict(args, &compiled) {
        Ok(()) => Ok(ExitCode::SUCCESS),
        Err(e) => Ok(report(&e)),
    }
}

fn predict(args: &PredictArgs, compiled: &sci::Compiled) -> Result<(), Error> {
    let name = choose_model(compiled, args.model.as_deref(), "with networks", |m| {
        m.functions
            .iter()
            .any(|(_, f)| matches!(f.role, Role::Net(_)))
    })?;
    let model = compiled.model(&name)?;
    let nets = sci::runtime::networks(model.ir());
    if let Some(out) = &args.out {
        check_output(out, &["csv", "npy", "npz", "json"], "--out")?;
    }
    if let Some(plot) = &args.plot {
        check_plot_output(plot)?;
    }
    let p = match &args.params_file {
        Some(path) => sci::runtime::params_from_checkpoint(&model, &checkpoint::load(path)?)?,
        None => model.params(),
    };
    // Every argument any network takes, in order of first appearance.
    let mut coords: Vec<String> = Vec::new();
    for net in &nets {
        for a in &net.args {
            if !coords.contains(a) {
                coords.push(a.clone());
            }
        }
    }
    let (points, grid, reference) = match (&args.points, &args.compare) {
        (Some(path), _) => (points_from(path, &read_table(path)?, &coords)?, None, None),
        (None, Some(path)) => {
            // Read once: its rows are the points, its columns the reference values.
            let table = read_table(path)?;
            (points_from(path, &table, &coords)?, None, Some(table))
        }
        (None, None) => {
            let axes = grid_axes(model.ir(), &coords, args.grid)?;
            (grid_points(&axes), Some(axes), None)
        }
    };

    // Evaluate every network at every point.
    let mut columns = coords.clone();
    let mut values: Vec<Vec<f64>> = coords
        .iter()
        .enumerate()
        .map(|(c, _)| points.iter().map(|pt| pt[c]).collect())
        .collect();
    for net in &nets {
        let function = model.function(&net.function)?;
        let positions: Vec<usize> = net
            .args
            .iter()
            .map(|a| coords.iter().position(|c| c == a).unwrap_or(0))
            .collect();
        let mut outs = vec![Vec::with_capacity(points.len()); net.outputs];
        for pt in &points {
            let scalars: Vec<[f64; 1]> = positions.iter().map(|&c| [pt[c]]).collect();
            let mut call: Vec<&[f64]> = vec![&p];
            call.extend(scalars.iter().map(|s| s.as_slice()));
            let y = function.call(&call)?;
            for (k, v) in y.iter().take(net.outputs).enumerate() {
                outs[k].push(*v);
            }
        }
        columns.extend(net.columns());
        values.extend(outs);
    }

    let mut errors = Vec::new();
    if let (Some(table), Some(path)) = (&reference, &args.compare) {
        let predicted = columns.len();
        for c in coords.len()..predicted {
            let Some(want) = table.column(&columns[c]) else {
                continue;
            };
            let got = &values[c];
            let diff: Vec<f64> = got.iter().zip(&want).map(|(g, w)| g - w).collect();
            errors.push((
                columns[c].clone(),
                relative_l2(&diff, &want),
                max_abs(&diff),
            ));
            columns.push(format!("{}.reference", columns[c]));
            values.push(want);
            columns.push(format!("{}.error", columns[c]));
            values.push(diff);
        }
        if errors.is_empty() {
            let outs: Vec<String> = nets
                .iter()
                .flat_map(sci::runtime::Network::columns)
                .collect();
            return Err(Error::input(format!(
                "`--compare {}` has no column named like an output ({}).",
                path.display(),
                outs.join(", ")
            ))
            .with_help("name the reference values' columns after the networks' outputs"));
        }
    }

    let svg = match &args.plot {
        Some(_) => Some(plot(&name, &coords, &columns, &values, grid.as_ref())?),
        None => None,
    };
    let mut outputs = Outputs::new();
    if let Some(out) = &args.out {
        let rows = points.len();
        let mut flat = Vec::with_capacity(rows * columns.len());
        for r in 0..rows {
            flat.extend(values.iter().map(|col| col[r]));
        }
        let table = Table::new(columns.clone(), flat);
        let bytes = match &grid {
            // On a grid, an archive holds the axes and each network's values shaped like
            // the grid (with a last axis for several outputs).
            Some(axes) if super::run::is_npz(out) => {
                npz_bytes(out, &grid_arrays(axes, &nets, &values[coords.len()..]))?
            }
            _ => table_bytes(out, &table)?,
        };
        outputs.stage(out, &bytes)?;
    }
    if let (Some(path), Some(svg)) = (&args.plot, svg) {
        outputs.stage(path, &super::png::plot_bytes(path, &svg)?)?;
    }
    outputs.commit()?;

    outln!(
        "{name}: {} at {} points ({})",
        nets.iter()
            .map(|n| format!("{}({})", n.name, n.args.join(", ")))
            .collect::<Vec<_>>()
            .join(", "),
        points.len(),
        match &grid {
            Some(axes) => axes
                .iter()
                .map(|(c, v)| format!("{c} in [{}, {}]", v[0], v[v.len() - 1]))
                .collect::<Vec<_>>()
                .join(", "),
            None => "the given points".to_string(),
        }
    );
    for c in coords.len()..columns.len() {
        if columns[c].ends_with(".reference") || columns[c].ends_with(".error") {
            continue;
        }
        let (lo, hi) = values[c]
            .iter()
            .fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), v| {
                (lo.min(*v), hi.max(*v))
            });
        outln!("  {}: min {lo:.6e}, max {hi:.6e}", columns[c]);
    }
    for (column, rel, max) in &errors {
        outln!("  {column}: relative L2 error {rel:.3e}, largest error {max:.3e}");
    }
    for path in [&args.out, &args.plot].into_iter().flatten() {
        outln!("wrote {}", path.display());
    }
    Ok(())
}

/// The grid's axes, then every network's values with the grid's shape (`[nx, ny]`, or
/// `[nx, ny, k]` for `k` outputs); `outputs` holds the output columns in network order.
fn grid_arrays(
    axes: &[(String, Vec<f64>)],
    nets: &[sci::runtime::Network],
    outputs: &[Vec<f64>],
) -> Vec<NamedArray> {
    let dims: Vec<usize> = axes.iter().map(|(_, a)| a.len()).collect();
    let mut arrays: Vec<NamedArray> = axes
        .iter()
        .map(|(name, axis)| NamedArray {
            name: name.clone(),
            shape: vec![axis.len()],
            values: axis.clone(),
        })
        .collect();
    let mut columns = outputs.iter();
    for net in nets {
        let parts: Vec<&Vec<f64>> = columns.by_ref().take(net.outputs).collect();
        let points = parts.first().map_or(0, |c| c.len());
        let mut shape = dims.clone();
        if net.outputs > 1 {
            shape.push(net.outputs);
        }
        let values = (0..points)
            .flat_map(|r| parts.iter().map(move |c| c[r]))
            .collect();
        arrays.push(NamedArray {
            name: net.name.clone(),
            shape,
            values,
        });
    }
    arrays
}

/// `‖diff‖₂ / ‖reference‖₂` (the absolute norm when the reference is zero).
fn relative_l2(diff: &[f64], reference: &[f64]) -> f64 {
    let norm = |v: &[f64]| v.iter().map(|x| x * x).sum::<f64>().sqrt();
    let scale = norm(reference);
    if scale > 0.0 {
        norm(diff) / scale
    } else {
        norm(diff)
    }
}

fn max_abs(v: &[f64]) -> f64 {
    v.iter().fold(0.0, |m: f64, x| m.max(x.abs()))
}

/// The points of `table` (read from `path`): its columns named like the coordinates (CSV),
/// or its first columns in the coordinates' order (NPY).
fn points_from(path: &Path, table: &Table, coords: &[String]) -> Result<Vec<Vec<f64>>, Error> {
    let columns: Vec<Vec<f64>> = if names_columns(path) {
        coords
            .iter()
            .map(|c| {
                table.column(c).ok_or_else(|| {
                    Error::input(format!(
                        "`{}` has no column `{c}`; its columns are: {}.",
                        path.display(),
                        table.columns.join(", ")
                    ))
                    .with_help(format!(
                        "the networks take {}: name the columns so",
                        coords.join(", ")
                    ))
                })
            })
            .collect::<Result<_, _>>()?
    } else {
        if table.columns.len() < coords.len() {
            return Err(Error::input(format!(
                "`{}` has {} columns, but the networks take {} coordinates ({}).",
                path.display(),
                table.columns.len(),
                coords.len(),
                coords.join(", ")
            )));
        }
        (0..coords.len())
            .map(|c| table.column(&table.columns[c]).unwrap_or_default())
            .collect()
    };
    let rows = table.rows();
    if rows == 0 {
        return Err(Error::input(format!("`{}` has no rows.", path.display())));
    }
    Ok((0..rows)
        .map(|r| columns.iter().map(|col| col[r]).collect())
        .collect())
}

/// The grid's coordinates: `n` evenly spaced values over each coordinate's declared bounds
/// (the union of the boxes of the point sets that sample it).
fn grid_axes(
    module: &Module,
    coords: &[String],
    grid: Option<usize>,
) -> Result<Vec<(String, Vec<f64>)>, Error> {
    let n = grid.unwrap_or(match coords.len() {
        1 => 201,
        2 => 101,
        _ => 21,
    });
    if n < 2 {
        return Err(Error::input("`--grid` must be at least 2."));
    }
    let total = (0..coords.len()).try_fold(1usize, |acc, _| acc.checked_mul(n));
    if total.is_none_or(|t| t > MAX_POINTS) {
        return Err(Error::input(format!(
            "A grid of {n} points along each of {} coordinates is too large (at most {MAX_POINTS} points).",
            coords.len()
        ))
        .with_help("choose a smaller --grid, or give the points with --points"));
    }
    coords
        .iter()
        .map(|c| {
            let bounds = module
                .manifest
                .point_sets
                .iter()
                .flat_map(|s| &s.coords)
                .filter(|k| &k.name == c)
                .fold(None, |acc: Option<(f64, f64)>, k| {
                    Some(acc.map_or((k.lo, k.hi), |(lo, hi)| (lo.min(k.lo), hi.max(k.hi))))
                });
            let Some((lo, hi)) = bounds else {
                return Err(Error::input(format!(
                    "`{c}` is not a coordinate of a declared domain, so its range is unknown."
                ))
                .with_help("give the points to evaluate at with --points FILE.csv"));
            };
            let axis = (0..n)
                .map(|k| {
                    if k + 1 == n {
                        hi
                    } else {
                        lo + (hi - lo) * k as f64 / (n - 1) as f64
                    }
                })
                .collect();
            Ok((c.clone(), axis))
        })
        .collect()
}

/// Every point of the grid, the first coordinate varying slowest.
fn grid_points(axes: &[(String, Vec<f64>)]) -> Vec<Vec<f64>> {
    let mut points = vec![Vec::new()];
    for (_, axis) in axes {
        points = points
            .into_iter()
            .flat_map(|pt| {
                axis.iter().map(move |v| {
                    let mut next = pt.clone();
                    next.push(*v);
                    next
                })
            })
            .collect();
    }
    points
}

/// A line plot over one coordinate or heat maps over a two-coordinate grid.
fn plot(
    name: &str,
    coords: &[String],
    columns: &[String],
    values: &[Vec<f64>],
    grid: Option<&Vec<(String, Vec<f64>)>>,
) -> Result<String, Error> {
    let outputs = || {
        (coords.len()..columns.len())
            .filter(|&c| !columns[c].ends_with(".error"))
            .map(|c| (columns[c].clone(), values[c].clone()))
    };
    match (coords.len(), grid) {
        (1, _) => {
            // Sorted by the coordinate, so lines join neighbours (table points may be in
            // any order).
            let mut order: Vec<usize> = (0..values[0].len()).collect();
            order.sort_by(|&a, &b| values[0][a].total_cmp(&values[0][b]));
            let x: Vec<f64> = order.iter().map(|&r| values[0][r]).collect();
            let series: Vec<(String, Vec<f64>)> = outputs()
                .map(|(n, v)| (n, order.iter().map(|&r| v[r]).collect()))
                .collect();
            let y_label = match series.as_slice() {
                [(only, _)] => only.clone(),
                _ => "value".to_string(),
            };
            super::plot::trajectory_svg(name, &coords[0], &y_label, &x, &series, false, false)
                .map_err(Error::numerical)
        }
        (2, Some(axes)) => {
            let fields: Vec<Field> = outputs()
                .map(|(name, values)| Field { name, values })
                .collect();
            heatmap_svg(
                name,
                (&axes[0].0, &axes[0].1),
                (&axes[1].0, &axes[1].1),
                &fields,
            )
            .map_err(Error::numerical)
        }
        (2, None) => Err(Error::input(
            "A heat map needs a grid; the points of a table cannot be drawn as one.",
        )
        .with_help("plot on a grid (leave out --points and --compare)")),
        (k, _) => Err(Error::input(format!(
            "The networks take {k} coordinates; plots show one (a line) or two (a heat map)."
        ))),
    }
}
