//! `Model.simulate` and its result, `Solution`: times, states, outputs, sensitivities,
//! events and solver statistics as NumPy arrays. The solve runs with the GIL released.

use numpy::PyArray1;
use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;
use pyo3::types::{PyDict, PyString};
use sci::stdlib::ode::{JacobianKind, Method, SolveOptions};

use crate::arrays::{self, array, array1};
use crate::errors;
use crate::model::Model;

/// The arguments of `Model.simulate`.
pub struct Request<'a, 'py> {
    pub t_eval: Option<&'a Bound<'py, PyAny>>,
    pub params: Option<&'a Bound<'py, PyAny>>,
    pub t_span: Option<(f64, f64)>,
    pub solver: String,
    pub rtol: f64,
    pub atol: f64,
    pub sensitivities: bool,
    pub max_steps: usize,
    pub jacobian: String,
}

/// A solution of a model's ODE at the requested times.
#[pyclass(frozen, module = "sci._sci")]
pub struct Solution {
    /// The model's name.
    #[pyo3(get)]
    model: String,
    /// The output times, shape `(n_times,)`.
    #[pyo3(get)]
    t: Py<PyAny>,
    /// The states, shape `(n_times, n_states)`: `y[k]` is the state at `t[k]`.
    #[pyo3(get)]
    y: Py<PyAny>,
    /// The model's outputs, shape `(n_times, n_outputs)`.
    #[pyo3(get)]
    outputs: Py<PyAny>,
    /// With `sensitivities=True`, `dy/dθ`, shape `(n_times, n_states, n_params)`; else `None`.
    #[pyo3(get)]
    sensitivities: Option<Py<PyAny>>,
    #[pyo3(get)]
    state_names: Vec<String>,
    #[pyo3(get)]
    output_names: Vec<String>,
    /// Solver statistics: `method`, `steps`, `rhs_evals`, `jacobian_evals`, `sparse`,
    /// `switched_at` (where `auto` went to BDF, or `None`).
    #[pyo3(get)]
    stats: Py<PyDict>,
    /// The events that fired, in order: dicts with `event` (index), `label` (the
    /// condition as written), `t`, `y_before`, `y_after`.
    #[pyo3(get)]
    events: Vec<Py<PyDict>>,
    /// The index of the event that ended the solve (`when … { stop }`), or `None`.
    #[pyo3(get)]
    stopped_by: Option<usize>,
    /// The unit of time, as written in the model (`day`), or `None` without units.
    #[pyo3(get)]
    time_unit: Option<String>,
}

#[pymethods]
impl Solution {
    /// `solution["prey"]`: one state or output element over time (`"t"` for the times).
    fn __getitem__<'py>(&self, py: Python<'py>, name: &str) -> PyResult<Bound<'py, PyAny>> {
        if name == "t" {
            return Ok(self.t.bind(py).clone());
        }
        let column = |table: &Py<PyAny>, k: usize| -> PyResult<Bound<'py, PyAny>> {
            let slice = pyo3::types::PySlice::full(py);
            table.bind(py).get_item((slice, k))
        };
        if let Some(k) = self.state_names.iter().position(|n| n == name) {
            return column(&self.y, k);
        }
        if let Some(k) = self.output_names.iter().position(|n| n == name) {
            return column(&self.outputs, k);
        }
        let mut names = self.state_names.clone();
        names.extend(self.output_names.iter().cloned());
        Err(pyo3::exceptions::PyKeyError::new_err(format!(
            "The solution has no state or output `{name}`; it has t, {}.",
            arrays::list_names(&names)
        )))
    }

    fn __repr__(&self, py: Python<'_>) -> PyResult<String> {
        let n: usize = self.t.bind(py).len()?;
        Ok(format!(
            "<sci.Solution of {}: {n} times, {} states, {} outputs>",
            self.model,
            self.state_names.len(),
            self.output_names.len()
        ))
    }
}

fn parse_jacobian(text: &str) -> PyResult<JacobianKind> {
    match text.to_ascii_lowercase().as_str() {
        "auto" => Ok(JacobianKind::Auto),
        "dense" => Ok(JacobianKind::Dense),
        "sparse" => Ok(JacobianKind::Sparse),
        _ => Err(PyValueError::new_err(format!(
            "There is no Jacobian kind `{text}`; use \"auto\", \"dense\" or \"sparse\"."
        ))),
    }
}

/// The solve options of a request: output times from `t_eval` (an array, or `"steps"`
/// for the solver's own steps), the span from `t_span`, else from the times, else the
/// model's.
fn options(model: &Model, r: &Request<'_, '_>) -> PyResult<SolveOptions> {
    let method: Method = r.solver.parse().map_err(errors::runtime)?;
    let mut options = SolveOptions {
        method,
        rtol: r.rtol,
        atol: r.atol,
        sensitivities: r.sensitivities,
        max_steps: r.max_steps,
        jacobian: parse_jacobian(&r.jacobian)?,
        span: r.t_span,
        ..SolveOptions::default()
    };
    match r.t_eval {
        None => {}
        Some(t) if t.is_none() => {}
        Some(t) if t.is_instance_of::<PyString>() => {
            if t.extract::<String>()? != "steps" {
                return Err(PyValueError::new_err(
                    "`t_eval` is an array of times, or \"steps\" for the solver's own steps.",
                ));
            }
            options.at_steps = true;
        }
        Some(t) => {
            let times = arrays::floats(t, "t_eval")?;
            if times.shape().len() != 1 {
                return Err(PyValueError::new_err(format!(
                    "`t_eval` must be a 1-D array of times; it has shape {}.",
                    arrays::describe_shape(times.shape())
                )));
            }
            let times = times.slice().to_vec();
            if options.span.is_none() {
                let t0 = model
                    .model()?
                    .time_span()
                    .map_or(times.first().copied().unwrap_or(0.0), |(t0, _)| t0);
                options.span = times.last().map(|&t_end| (t0, t_end));
            }
            options.times = Some(times);
        }
    }
    Ok(options)
}

pub fn simulate(model: &Model, py: Python<'_>, r: Request<'_, '_>) -> PyResult<Solution> {
    let p = model.theta(r.params)?;
    let options = options(model, &r)?;
    let compiled = model.model()?;
    let trajectory = py
        .detach(|| compiled.simulate(&p, &options))
        .map_err(errors::runtime)?;
    let nt = trajectory.t.len();
    let n = trajectory.state_names.len();
    let n_out = trajectory.output_names.len();
    let flat = |rows: &[Vec<f64>]| -> Vec<f64> { rows.iter().flatten().copied().collect() };
    let sensitivities = match &trajectory.sensitivities {
        Some(s) => Some(array(py, flat(s), &[nt, n, p.len()])?.unbind()),
        None => None,
    };
    let stats = PyDict::new(py);
    let s = &trajectory.stats;
    stats.set_item("method", s.method.map(|m| m.name()))?;
    stats.set_item("steps", s.steps)?;
    stats.set_item("rhs_evals", s.rhs_evals)?;
    stats.set_item("jacobian_evals", s.jacobian_evals)?;
    stats.set_item("sparse", s.sparse)?;
    stats.set_item("switched_at", s.switch.as_ref().map(|w| w.reached))?;
    stats.set_item("algebraic_states", s.algebraic_states)?;
    let mut events = Vec::new();
    for e in &trajectory.events {
        let d = PyDict::new(py);
        d.set_item("event", e.event)?;
        d.set_item("label", trajectory.event_labels.get(e.event))?;
        d.set_item("t", e.t)?;
        d.set_item("y_before", array1(py, e.y_before.clone()))?;
        d.set_item("y_after", array1(py, e.y_after.clone()))?;
        events.push(d.unbind());
    }
    Ok(Solution {
        time_unit: trajectory.declared_time_unit(),
        model: trajectory.model.clone(),
        t: PyArray1::from_slice(py, &trajectory.t).into_any().unbind(),
        y: array(py, flat(&trajectory.states), &[nt, n])?.unbind(),
        outputs: array(py, flat(&trajectory.outputs), &[nt, n_out])?.unbind(),
        sensitivities,
        state_names: trajectory.state_names,
        output_names: trajectory.output_names,
        stats: stats.unbind(),
        events,
        stopped_by: trajectory.stopped_by,
    })
}
