//! Solving an ODE model: the compiled system handed to `sci_stdlib::ode::solve`, the
//! outputs evaluated along the solution, and the result as a table.

use sci_ir::Layout;
use sci_stdlib::Error;
use sci_stdlib::data::{NamedArray, Table};
use sci_stdlib::ode::{self, DenseOutput, EventOccurrence, SolveOptions, SolveStats};

use super::element_names;
use super::system::CompiledSystem;
use crate::jit::Model;

/// A solution of an ODE model at the requested times.
#[derive(Clone, Debug, PartialEq)]
pub struct Trajectory {
    pub model: String,
    pub t: Vec<f64>,
    /// One name per state element (`prey`, `u[3]`).
    pub state_names: Vec<String>,
    /// `states[k]` is the state vector at `t[k]`.
    pub states: Vec<Vec<f64>>,
    pub output_names: Vec<String>,
    /// `outputs[k]` are the model's outputs at `t[k]`.
    pub outputs: Vec<Vec<f64>>,
    /// With sensitivities: `dy/dθ` at each time, row-major `n_states × n_params`.
    pub sensitivities: Option<Vec<Vec<f64>>>,
    pub stats: SolveStats,
    /// The model's states and outputs as named, shaped and unit-carrying slots.
    pub state_layout: Layout,
    pub output_layout: Layout,
    /// With [`SolveOptions::dense`](sci_stdlib::ode::SolveOptions::dense): the state at any
    /// time of the span ([`Trajectory::state_at`]).
    pub dense: Option<DenseOutput>,
    /// The events that fired, in order: which (an index into `event_labels`), when, and the
    /// state before and after.
    pub events: Vec<EventOccurrence>,
    /// The condition of each of the model's events as written (`h < 0`).
    pub event_labels: Vec<String>,
    /// The unit time is counted in (seconds, or the model's declared time unit), when the
    /// model uses units.
    pub time_unit: Option<sci_ir::Unit>,
    /// The event that ended the solve early (`when … { stop }`), if one did.
    pub stopped_by: Option<usize>,
}

impl Trajectory {
    /// The state at time `t` from the dense output (solved with
    /// [`SolveOptions::dense`](sci_stdlib::ode::SolveOptions::dense)).
    pub fn state_at(&self, t: f64) -> Result<Vec<f64>, Error> {
        match &self.dense {
            Some(dense) => dense.at(t),
            None => Err(Error::input(
                "The trajectory has no dense output: it was solved without it.",
            )
            .with_help("solve with `SolveOptions { dense: true, .. }`")),
        }
    }

    /// The trajectory as a table: `t`, the states, the outputs.
    pub fn table(&self) -> Table {
        let mut columns = vec!["t".to_string()];
        columns.extend(self.state_names.iter().cloned());
        columns.extend(self.output_names.iter().cloned());
        let mut values = Vec::with_capacity(columns.len() * self.t.len());
        for (k, &t) in self.t.iter().enumerate() {
            values.push(t);
            values.extend_from_slice(&self.states[k]);
            if let Some(out) = self.outputs.get(k) {
                values.extend_from_slice(out);
            }
        }
        let mut units = vec![self.declared_time_unit()];
        units.extend(element_units(&self.state_layout));
        if !self.output_names.is_empty() {
            units.extend(element_units(&self.output_layout));
        }
        if units.iter().all(Option::is_none) {
            units.clear();
        }
        Table {
            columns,
            values,
            units,
        }
    }

    /// The trajectory as named arrays with their shapes, for an `.npz` archive: `t`
    /// (`[times]`), then every state and output (`[times, …shape]`: a 200-cell `u` is
    /// `[times, 200]`), then, if events fired, `events.t`, `events.index` (`[events]`) and
    /// `events.state` (`[events, n_states]`, the states after each).
    pub fn arrays(&self) -> Vec<NamedArray> {
        let times = self.t.len();
        let mut arrays = vec![NamedArray {
            name: "t".to_string(),
            shape: vec![times],
            values: self.t.clone(),
        }];
        let outputs = if self.output_names.is_empty() {
            None
        } else {
            Some((&self.output_layout, &self.outputs))
        };
        for (layout, rows) in std::iter::once((&self.state_layout, &self.states)).chain(outputs) {
            for slot in &layout.slots {
                let count: usize = slot.shape.iter().product();
                let mut shape = vec![times];
                shape.extend(slot.shape.iter().copied());
                let values = rows
                    .iter()
                    .flat_map(|r| (0..count).map(move |j| r.get(slot.offset + j).copied()))
                    .map(|v| v.unwrap_or(f64::NAN))
                    .collect();
                arrays.push(NamedArray {
                    name: slot.name.clone(),
                    shape,
                    values,
                });
            }
        }
        if !self.events.is_empty() {
            let k = self.events.len();
            let n = self.state_names.len();
            arrays.push(NamedArray {
                name: "events.t".to_string(),
                shape: vec![k],
                values: self.events.iter().map(|e| e.t).collect(),
            });
            arrays.push(NamedArray {
                name: "events.index".to_string(),
                shape: vec![k],
                values: self.events.iter().map(|e| e.event as f64).collect(),
            });
            arrays.push(NamedArray {
                name: "events.state".to_string(),
                shape: vec![k, n],
                values: (self.events.iter())
                    .flat_map(|e| e.y_after.iter().copied())
                    .collect(),
            });
        }
        arrays
    }

    /// The time unit as written, when the model declares one other than seconds
    /// (`domain time: t in [0, 160] day` gives `day`): what tables, plots and summaries
    /// put beside `t`. Time in seconds goes without a unit, as it always has.
    pub fn declared_time_unit(&self) -> Option<String> {
        (self.time_unit)
            .filter(|u| *u != sci_ir::Unit::base(2))
            .map(|u| sci_lang::units::describe(&u))
    }

    /// The events that fired as a table: `t`, `event` (the event's number, in the model's
    /// order of `when`s) and the states just after it, with their units.
    pub fn events_table(&self) -> Table {
        let mut columns = vec!["t".to_string(), "event".to_string()];
        columns.extend(self.state_names.iter().cloned());
        let mut values = Vec::with_capacity(columns.len() * self.events.len());
        for e in &self.events {
            values.push(e.t);
            values.push(e.event as f64);
            values.extend_from_slice(&e.y_after);
        }
        let mut units = vec![self.declared_time_unit(), None];
        units.extend(element_units(&self.state_layout));
        if units.iter().all(Option::is_none) {
            units.clear();
        }
        Table {
            columns,
            values,
            units,
        }
    }

    /// The values of the state or output called `name` (an element name such as `u[3]`)
    /// at every time, or the times for `t`.
    pub fn column(&self, name: &str) -> Option<Vec<f64>> {
        if name == "t" {
            return Some(self.t.clone());
        }
        if let Some(i) = self.state_names.iter().position(|n| n == name) {
            return Some(self.states.iter().map(|y| y[i]).collect());
        }
        let i = self.output_names.iter().position(|n| n == name)?;
        Some(self.outputs.iter().map(|o| o[i]).collect())
    }
}

/// The unit of every element of a layout (`None` for plain numbers), in element order.
fn element_units(layout: &Layout) -> Vec<Option<String>> {
    let mut units = Vec::with_capacity(layout.len);
    for slot in &layout.slots {
        // As the user would write it: `km`, `1/day`, not a decimal-scaled SI unit.
        let text = slot
            .unit
            .as_ref()
            .map(sci_lang::units::describe)
            .filter(|u| u != "1");
        let count: usize = slot.shape.iter().product();
        units.extend(std::iter::repeat_n(text, count));
    }
    units
}

impl Model<'_> {
    /// The unit the model counts time in (`t` of its right-hand side): seconds, or the
    /// unit its time span declares (`domain time: t in [0, 160] day`); `None` without units.
    pub fn time_unit(&self) -> Option<sci_ir::Unit> {
        let ir = self.ir();
        let rhs = ir.function_with_role(&sci_ir::Role::Rhs)?;
        ir.functions.get(rhs)?.input_type(0)?.unit
    }

    /// The time span the model declares with a domain over `t` alone
    /// (`domain time: t in [0, 40]`), if it has one (from its IR manifest).
    pub fn time_span(&self) -> Option<(f64, f64)> {
        self.ir().manifest.time_span
    }

    /// Whether `p` has one value per element of θ.
    pub fn check_params(&self, p: &[f64]) -> Result<(), Error> {
        match p.len() == self.n_params() {
            true => Ok(()),
            false => Err(Error::input(format!(
                "Model `{}` has {} parameters, but {} values were given.",
                self.name(),
                self.n_params(),
                p.len()
            ))),
        }
    }

    /// Solves the model's ODE at parameters `p` (see [`Model::params`] for the defaults),
    /// over `options.span`, or the span the model declares when that is `None` (as in
    /// `SolveOptions::default()`).
    pub fn simulate(&self, p: &[f64], options: &SolveOptions) -> Result<Trajectory, Error> {
        self.simulate_with_progress(p, options, &mut |_| {})
    }

    /// [`Model::simulate`], calling `progress(t)` as the integration advances.
    pub fn simulate_with_progress(
        &self,
        p: &[f64],
        options: &SolveOptions,
        progress: &mut dyn FnMut(f64),
    ) -> Result<Trajectory, Error> {
        self.simulate_from(p, &[], options, progress)
    }

    /// [`Model::simulate_with_progress`] from other initial values of some state elements:
    /// `initial` holds `(element, value)` pairs (elements numbered as in
    /// [`Trajectory::state_names`]); the others start from the model's `y0(θ)`.
    pub fn simulate_from(
        &self,
        p: &[f64],
        initial: &[(usize, f64)],
        options: &SolveOptions,
        progress: &mut dyn FnMut(f64),
    ) -> Result<Trajectory, Error> {
        let system = CompiledSystem::new(*self)?.with_initial(initial)?;
        self.check_params(p)?;
        let declared;
        let options = match (options.span, self.time_span()) {
            (Some(_), _) => options,
            (None, Some(span)) => {
                declared = SolveOptions {
                    span: Some(span),
                    ..options.clone()
                };
                &declared
            }
            (None, None) => {
                return Err(Error::input(format!(
                    "Model `{}` declares no time span, and none was given.",
                    self.name()
                ))
                .with_help(
                    "set `SolveOptions::span`, or declare the span in the model: `domain time: t in [0, T]`",
                ));
            }
        };
        if let Some(span) = options.span {
            check_input_ranges(self, span)?;
        }
        let solution = ode::solve(&system, p, options, progress);
        if let Some(e) = system.take_error() {
            return Err(e.into());
        }
        let solution = solution?;
        let ir = self.ir();
        let mut outputs = Vec::new();
        if self.n_outputs() > 0 {
            for (t, y) in solution.t.iter().zip(&solution.y) {
                let mut out = vec![0.0; self.n_outputs()];
                self.outputs(*t, y, p, &mut out)?;
                outputs.push(out);
            }
        }
        Ok(Trajectory {
            model: self.name().to_string(),
            t: solution.t,
            state_names: element_names(&ir.states),
            states: solution.y,
            output_names: if self.n_outputs() > 0 {
                element_names(&ir.outputs)
            } else {
                Vec::new()
            },
            outputs,
            sensitivities: solution.sens,
            stats: solution.stats,
            state_layout: ir.states.clone(),
            output_layout: ir.outputs.clone(),
            dense: solution.dense,
            stopped_by: (solution.events.last())
                .map(|e| e.event)
                .filter(|&k| self.events().get(k).is_some_and(|e| e.stop)),
            events: solution.events,
            event_labels: self.events().iter().map(|e| e.label.clone()).collect(),
            time_unit: self.time_unit(),
        })
    }
}

/// A solve over `(t0, t1)` must stay inside the time range of every data set the model
/// interpolates (`interp`): outside it the compiled interpolant only holds the end values.
pub(crate) fn check_input_ranges(model: &Model<'_>, (t0, t1): (f64, f64)) -> Result<(), Error> {
    for input in &model.ir().manifest.inputs {
        if t0 < input.first || t1 > input.last {
            return Err(Error::input(format!(
                "The solve runs from t = {t0} to t = {t1}, but the data set `{}` (`{}`) that \
                 the model interpolates covers only t = {} to t = {}.",
                input.name, input.path, input.first, input.last
            ))
            .with_help(
                "solve over a span inside the data's (`--t0`, `--t-end`), or extend the data",
            ));
        }
    }
    Ok(())
}
