//! `Model.simulate` and its result, `Solution`: times, states, outputs, sensitivities,
//! events and solver statistics as NumPy arrays. The solve runs with the GIL released.

use numpy::PyArray1;
use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;
use pyo3::sync::PyOnceLock;
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

/// A solution of a model's ODE at the requested times. Its arrays are made from the
/// solver's result when first read (and kept), so a solve pays only for what is used.
#[pyclass(frozen, module = "sci._sci")]
pub struct Solution {
    trajectory: sci::runtime::Trajectory,
    n_params: usize,
    t: PyOnceLock<Py<PyAny>>,
    y: PyOnceLock<Py<PyAny>>,
    outputs: PyOnceLock<Py<PyAny>>,
}

/// Rows of equal length as one row-major vector.
fn flat(rows: &[Vec<f64>]) -> Vec<f64> {
    rows.iter().flatten().copied().collect()
}

impl Solution {
    fn table<'py>(
        &self,
        py: Python<'py>,
        cell: &PyOnceLock<Py<PyAny>>,
        rows: &[Vec<f64>],
        width: usize,
    ) -> PyResult<Bound<'py, PyAny>> {
        let nt = self.trajectory.t.len();
        cell.get_or_try_init(py, || Ok(array(py, flat(rows), &[nt, width])?.unbind()))
            .map(|a| a.bind(py).clone())
    }
}

#[pymethods]
impl Solution {
    /// The model's name.
    #[getter]
    fn model(&self) -> &str {
        &self.trajectory.model
    }

    /// The output times, shape `(n_times,)`.
    #[getter]
    fn t<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        self.t
            .get_or_try_init(py, || -> PyResult<Py<PyAny>> {
                Ok(PyArray1::from_slice(py, &self.trajectory.t)
                    .into_any()
                    .unbind())
            })
            .map(|a| a.bind(py).clone())
    }

    /// The states, shape `(n_times, n_states)`: `y[k]` is the state at `t[k]`.
    #[getter]
    fn y<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        let n = self.trajectory.state_names.len();
        self.table(py, &self.y, &self.trajectory.states, n)
    }

    /// The model's outputs, shape `(n_times, n_outputs)`.
    #[getter]
    fn outputs<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        let n = self.trajectory.output_names.len();
        self.table(py, &self.outputs, &self.trajectory.outputs, n)
    }

    /// With `sensitivities=True`, `dy/dθ`, shape `(n_times, n_states, n_params)`; else `None`.
    #[getter]
    fn sensitivities<'py>(&self, py: Python<'py>) -> PyResult<Option<Bound<'py, PyAny>>> {
        let Some(s) = &self.trajectory.sensitivities else {
            return Ok(None);
        };
        let shape = [s.len(), self.trajectory.state_names.len(), self.n_params];
        Ok(Some(array(py, flat(s), &shape)?))
    }

    #[getter]
    fn state_names(&self) -> Vec<String> {
        self.trajectory.state_names.clone()
    }

    #[getter]
    fn output_names(&self) -> Vec<String> {
        self.trajectory.output_names.clone()
    }

    /// Solver statistics: `method`, `steps`, `rhs_evals`, `jacobian_evals`, `sparse`,
    /// `switched_at` (where `auto` went to BDF, or `None`), `algebraic_states`.
    #[getter]
    fn stats<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        let stats = PyDict::new(py);
        let s = &self.trajectory.stats;
        stats.set_item("method", s.method.map(|m| m.name()))?;
        stats.set_item("steps", s.steps)?;
        stats.set_item("rhs_evals", s.rhs_evals)?;
        stats.set_item("jacobian_evals", s.jacobian_evals)?;
        stats.set_item("sparse", s.sparse)?;
        stats.set_item("switched_at", s.switch.as_ref().map(|w| w.reached))?;
        stats.set_item("algebraic_states", s.algebraic_states)?;
        Ok(stats)
    }

    /// The events that fired, in order: dicts with `event` (index), `label` (the
    /// condition as written), `t`, `y_before`, `y_after`.
    #[getter]
    fn events<'py>(&self, py: Python<'py>) -> PyResult<Vec<Bound<'py, PyDict>>> {
        let mut events = Vec::new();
        for e in &self.trajectory.events {
            let d = PyDict::new(py);
            d.set_item("event", e.event)?;
            d.set_item("label", self.trajectory.event_labels.get(e.event))?;
            d.set_item("t", e.t)?;
            d.set_item("y_before", array1(py, e.y_before.clone()))?;
            d.set_item("y_after", array1(py, e.y_after.clone()))?;
            events.push(d);
        }
        Ok(events)
    }

    /// The index of the event that ended the solve (`when … { stop }`), or `None`.
    #[getter]
    fn stopped_by(&self) -> Option<usize> {
        self.trajectory.stopped_by
    }

    /// The unit of time, as written in the model (`day`), or `None` without units.
    #[getter]
    fn time_unit(&self) -> Option<String> {
        self.trajectory.declared_time_unit()
    }

    /// `solution["prey"]`: one state or output element over time (`"t"` for the times).
    fn __getitem__<'py>(&self, py: Python<'py>, name: &str) -> PyResult<Bound<'py, PyAny>> {
        if name == "t" {
            return self.t(py);
        }
        let slice = pyo3::types::PySlice::full(py);
        if let Some(k) = self.trajectory.state_names.iter().position(|n| n == name) {
            return self.y(py)?.get_item((slice, k));
        }
        if let Some(k) = self.trajectory.output_names.iter().position(|n| n == name) {
            return self.outputs(py)?.get_item((slice, k));
        }
        let mut names = self.trajectory.state_names.clone();
        names.extend(self.trajectory.output_names.iter().cloned());
        Err(pyo3::exceptions::PyKeyError::new_err(format!(
            "The solution has no state or output `{name}`; it has t, {}.",
            arrays::list_names(&names)
        )))
    }

    fn __repr__(&self) -> String {
        format!(
            "<sci.Solution of {}: {} times, {} states, {} outputs>",
            self.trajectory.model,
            self.trajectory.t.len(),
            self.trajectory.state_names.len(),
            self.trajectory.output_names.len()
        )
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
pub fn options(model: &Model, r: &Request<'_, '_>) -> PyResult<SolveOptions> {
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
    Ok(Solution {
        trajectory,
        n_params: p.len(),
        t: PyOnceLock::new(),
        y: PyOnceLock::new(),
        outputs: PyOnceLock::new(),
    })
}

/// Seconds per call of `calls` solves through the Rust API alone, in this process: the
/// request read once, then `Model::simulate` in a loop, its result dropped. The overhead
/// benchmark (`bench/python_api.py`) interleaves it with the same solve from Python, so the
/// two share the process, the allocator and the machine's state.
#[pyfunction]
#[pyo3(signature = (model, t_eval, params, calls, *, t_span = None, solver = "auto".to_string(), rtol = 1e-6, atol = 1e-9, jacobian = "auto".to_string()))]
#[allow(clippy::too_many_arguments)]
pub fn rust_simulate_seconds(
    py: Python<'_>,
    model: &Bound<'_, Model>,
    t_eval: &Bound<'_, PyAny>,
    params: &Bound<'_, PyAny>,
    calls: usize,
    t_span: Option<(f64, f64)>,
    solver: String,
    rtol: f64,
    atol: f64,
    jacobian: String,
) -> PyResult<f64> {
    let model = model.get();
    let request = Request {
        t_eval: Some(t_eval),
        params: Some(params),
        t_span,
        solver,
        rtol,
        atol,
        sensitivities: false,
        max_steps: 1_000_000,
        jacobian,
    };
    let p = model.theta(request.params)?;
    let options = options(model, &request)?;
    let compiled = model.model()?;
    py.detach(|| {
        let started = std::time::Instant::now();
        for _ in 0..calls {
            std::hint::black_box(compiled.simulate(&p, &options)?);
        }
        Ok(started.elapsed().as_secs_f64() / calls.max(1) as f64)
    })
    .map_err(errors::runtime)
}
