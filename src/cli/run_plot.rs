//! What `sci run --plot` draws: the states (or the states and outputs chosen with `--vars`)
//! against time, each labelled with its unit, on linear or logarithmic axes; array states
//! too large to read as lines (a heat equation's 200 cells) as space–time heat maps; the
//! model's observations (the data its loss fits) as markers over the lines they observe.

use sci::ir::{Layout, Module, Slot};
use sci::runtime::{Observed, Trajectory};
use sci::stdlib::Error;

use super::heatmap::{Field, heatmap_svg};
use super::plot::{Axes, DataMarks, trajectory_with_data_svg};

/// The most elements an array is drawn with as lines by default; larger arrays become
/// heat maps.
pub const MAX_LINES: usize = 12;

/// How to plot a trajectory.
pub struct PlotChoice<'a> {
    /// States, outputs or elements to draw (`theta`, `u`, `u[3]`); empty: every state.
    pub vars: &'a [String],
    pub log_t: bool,
    pub log_y: bool,
    /// Observations to draw over the lines of the quantities they name.
    pub observed: &'a [Observed],
}

/// A quantity to draw: its label and its values at every time.
struct Series {
    /// The state, output or element (`prey`, `u[3]`).
    name: String,
    label: String,
    unit: Option<String>,
    values: Vec<f64>,
}

/// The SVG of `traj` (of the model `ir`) as `choice` asks.
pub fn trajectory_plot(
    traj: &Trajectory,
    ir: &Module,
    choice: &PlotChoice<'_>,
) -> Result<String, Error> {
    let states = traj.states.as_slice();
    let outputs = traj.outputs.as_slice();
    // Every slot that can be chosen, with where its values live.
    let slots: Vec<(&Slot, &[Vec<f64>])> = ir
        .states
        .slots
        .iter()
        .map(|s| (s, states))
        .chain(ir.outputs.slots.iter().map(|s| (s, outputs)))
        .collect();
    let mut lines = Vec::new();
    let mut maps = Vec::new();
    if choice.vars.is_empty() {
        for &(slot, rows) in slots.iter().take(ir.states.slots.len()) {
            if elements(slot) > MAX_LINES {
                maps.push((slot, rows));
            } else {
                lines.extend(slot_series(slot, rows));
            }
        }
        // Heat maps of the large arrays; the scalars then go unplotted unless chosen.
        if !maps.is_empty() {
            lines.clear();
        }
    } else {
        for var in choice.vars {
            let var = var.trim();
            if let Some(&(slot, rows)) = slots.iter().find(|(s, _)| s.name == var) {
                if elements(slot) > MAX_LINES {
                    maps.push((slot, rows));
                } else {
                    lines.extend(slot_series(slot, rows));
                }
            } else if let Some(series) = element_series(&slots, var) {
                lines.push(series);
            } else {
                return Err(unknown_var(var, ir));
            }
        }
        if !maps.is_empty() && !lines.is_empty() {
            return Err(Error::input(
                "`--vars` mixes arrays drawn as heat maps with quantities drawn as lines.",
            )
            .with_help("plot them separately, or choose single elements such as `u[3]`"));
        }
    }
    if !maps.is_empty() {
        return heat_maps(traj, &maps, choice.log_t);
    }
    let y_label = match lines.as_slice() {
        [one] => one.label.clone(),
        [first, rest @ ..] if rest.iter().all(|s| s.unit == first.unit) => {
            with_unit("value", first.unit.as_deref())
        }
        _ => "value".to_string(),
    };
    let marks = data_marks(&lines, choice.observed);
    let series: Vec<(String, Vec<f64>)> = lines.into_iter().map(|s| (s.label, s.values)).collect();
    let x_label = with_unit("t", traj.declared_time_unit().as_deref());
    let axes = Axes {
        title: &traj.model,
        x_label: &x_label,
        y_label: &y_label,
        log_x: choice.log_t,
        log_y: choice.log_y,
    };
    trajectory_with_data_svg(&axes, &traj.t, &series, &marks).map_err(Error::numerical)
}

/// The observations of the drawn quantities: a data column named like a line's quantity
/// (`obs.prey` over `prey`), labelled `prey (obs)`.
fn data_marks(lines: &[Series], observed: &[Observed]) -> Vec<DataMarks> {
    let mut marks = Vec::new();
    for data in observed {
        for (column, values) in &data.columns {
            if let Some(series) = lines.iter().position(|s| &s.name == column) {
                marks.push(DataMarks {
                    series,
                    name: format!("{column} ({})", data.data),
                    points: data.t.iter().copied().zip(values.iter().copied()).collect(),
                });
            }
        }
    }
    marks
}

fn elements(slot: &Slot) -> usize {
    slot.shape.iter().product()
}

/// The unit of a slot as a label suffix, `None` for plain numbers.
fn unit_text(slot: &Slot) -> Option<String> {
    let unit = slot.unit.as_ref()?;
    let text = sci::lang::units::describe(unit);
    (text != "1").then_some(text)
}

fn with_unit(name: &str, unit: Option<&str>) -> String {
    match unit {
        Some(u) => format!("{name} [{u}]"),
        None => name.to_string(),
    }
}

/// One series per element of `slot` (`u[0]`, `u[1]`, … for arrays).
fn slot_series(slot: &Slot, rows: &[Vec<f64>]) -> Vec<Series> {
    let names = sci::runtime::element_names(&Layout {
        slots: vec![Slot {
            offset: 0,
            ..slot.clone()
        }],
        len: elements(slot),
    });
    let unit = unit_text(slot);
    names
        .into_iter()
        .enumerate()
        .map(|(k, name)| Series {
            label: with_unit(&name, unit.as_deref()),
            name,
            unit: unit.clone(),
            values: rows
                .iter()
                .map(|r| r.get(slot.offset + k).copied().unwrap_or(f64::NAN))
                .collect(),
        })
        .collect()
}

/// The series of one element named like `u[3]` or `A[0,1]`.
fn element_series(slots: &[(&Slot, &[Vec<f64>])], var: &str) -> Option<Series> {
    let (name, _) = var.split_once('[')?;
    let &(slot, rows) = slots.iter().find(|(s, _)| s.name == name)?;
    slot_series(slot, rows).into_iter().find(|s| s.name == var)
}

fn unknown_var(var: &str, ir: &Module) -> Error {
    let names: Vec<&str> = ir
        .states
        .slots
        .iter()
        .chain(&ir.outputs.slots)
        .map(|s| s.name.as_str())
        .collect();
    Error::input(format!(
        "`--vars {var}`: the model has no state or output `{var}`."
    ))
    .with_help(format!(
        "its states and outputs are: {} (an element: `NAME[i]`)",
        names.join(", ")
    ))
}

/// One space–time heat map per array: time along x, the element index along y.
fn heat_maps(
    traj: &Trajectory,
    maps: &[(&Slot, &[Vec<f64>])],
    log_t: bool,
) -> Result<String, Error> {
    if log_t {
        return Err(Error::input(
            "`--log-t` applies to line plots; arrays are drawn as heat maps over linear time.",
        )
        .with_help("choose single elements with `--vars u[0],u[10]` for lines on log time"));
    }
    let fields: Vec<Field> = maps
        .iter()
        .map(|&(slot, rows)| {
            let n = elements(slot);
            let values = rows
                .iter()
                .flat_map(|r| (0..n).map(move |j| r.get(slot.offset + j).copied()))
                .map(|v| v.unwrap_or(f64::NAN))
                .collect();
            Field {
                name: with_unit(&slot.name, unit_text(slot).as_deref()),
                values,
            }
        })
        .collect();
    let n = maps.iter().map(|(s, _)| elements(s)).max().unwrap_or(0);
    let index: Vec<f64> = (0..n).map(|j| j as f64).collect();
    // Arrays of different lengths cannot share the index axis.
    if let Some((slot, _)) = maps.iter().find(|(s, _)| elements(s) != n) {
        return Err(Error::input(format!(
            "The arrays to draw have different lengths (`{}` has {}, another {n}).",
            slot.name,
            elements(slot)
        ))
        .with_help("plot them one at a time with `--vars`"));
    }
    heatmap_svg(&traj.model, ("t", &traj.t), ("index", &index), &fields).map_err(Error::numerical)
}
