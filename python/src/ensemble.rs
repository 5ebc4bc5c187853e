//! `Model.ensemble` and its result, `EnsembleResult`: one solve per member (a `sci run
//! --ensemble` description, or a dict of values per member), on threads with the GIL
//! released; every member's states and outputs as 3-D arrays (NaN rows for a failed
//! member), the failures with their values and reasons, and the statistics across members.

use numpy::PyArray1;
use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;
use pyo3::types::{PyDict, PyString};
use sci::runtime::ensemble::{Ensemble, EnsembleRun};

use crate::arrays::{self, array};
use crate::errors;
use crate::model::Model;
use crate::solve::Request;

/// The members of an ensemble: a description string, or `{name: values per member}`.
fn members(members: &Bound<'_, PyAny>, dir: &std::path::Path) -> PyResult<Ensemble> {
    if members.is_instance_of::<PyString>() {
        let spec: String = members.extract()?;
        return Ensemble::parse(&spec, dir).map_err(errors::runtime);
    }
    let Ok(dict) = members.cast::<PyDict>() else {
        return Err(PyValueError::new_err(
            "`members` is a description (\"lhs 64: k1 = 0.03..0.05\") or a dict of values per member.",
        ));
    };
    let mut names = Vec::new();
    let mut columns: Vec<Vec<f64>> = Vec::new();
    for (name, values) in dict.iter() {
        let name: String = name.extract()?;
        let values = arrays::floats(&values, &format!("members[{name:?}]"))?;
        if values.shape().len() != 1 {
            return Err(PyValueError::new_err(format!(
                "`members[{name:?}]` must be a 1-D array of values, one per member; it has shape {}.",
                arrays::describe_shape(values.shape())
            )));
        }
        names.push(name);
        columns.push(values.slice().to_vec());
    }
    let count = columns.first().map_or(0, Vec::len);
    if let Some((name, c)) = names.iter().zip(&columns).find(|(_, c)| c.len() != count) {
        return Err(PyValueError::new_err(format!(
            "Every quantity needs a value per member: `{}` has {count}, `{name}` {}.",
            names[0],
            c.len()
        )));
    }
    let members = (0..count)
        .map(|k| columns.iter().map(|c| c[k]).collect())
        .collect();
    Ok(Ensemble { names, members })
}

/// Solves an ensemble of `model`; see `sci.Model.ensemble` in the stubs.
pub fn ensemble(
    model: &Model,
    py: Python<'_>,
    spec: &Bound<'_, PyAny>,
    request: Request<'_, '_>,
    threads: usize,
) -> PyResult<EnsembleResult> {
    let dir = model.program.get().options.data_dir.clone();
    let ensemble = members(spec, std::path::Path::new(&dir))?;
    let p = model.theta(request.params)?;
    let options = crate::solve::options(model, &request)?;
    let compiled = model.model()?;
    let run = py
        .detach(|| ensemble.solve(&compiled, &p, &options, threads))
        .map_err(errors::runtime)?;
    Ok(EnsembleResult { run })
}

/// Every member of an ensemble: `values` (members × varied), `t`, `y` (members × times ×
/// states) and `outputs` (members × times × outputs) with NaN where a member failed or
/// stopped early, `ok`, `failures`, and `summary()` across the members.
#[pyclass(frozen, module = "sci._sci")]
pub struct EnsembleResult {
    run: EnsembleRun,
}

impl EnsembleResult {
    /// The output times: the longest member's.
    fn times(&self) -> Vec<f64> {
        (self.run.members.iter())
            .filter_map(|m| m.solution())
            .map(|s| s.t.clone())
            .max_by_key(Vec::len)
            .unwrap_or_default()
    }

    /// Members × times × width, from each member's rows (`states` or `outputs`).
    fn cube<'py>(&self, py: Python<'py>, states: bool) -> PyResult<Bound<'py, PyAny>> {
        let times = self.times().len();
        let width = match states {
            true => self.run.state_names.len(),
            false => self.run.output_names.len(),
        };
        let mut data = vec![f64::NAN; self.run.members.len() * times * width];
        for (m, block) in self
            .run
            .members
            .iter()
            .zip(data.chunks_mut((times * width).max(1)))
        {
            let Some(s) = m.solution() else { continue };
            let rows = if states { &s.states } else { &s.outputs };
            for (row, out) in rows.iter().zip(block.chunks_mut(width.max(1))) {
                out[..row.len().min(width)].copy_from_slice(&row[..row.len().min(width)]);
            }
        }
        array(py, data, &[self.run.members.len(), times, width])
    }
}

#[pymethods]
impl EnsembleResult {
    /// The varied parameters and initial states, in the columns of `values`.
    #[getter]
    fn names(&self) -> Vec<String> {
        self.run.names.clone()
    }

    /// Each member's values of `names`, shape `(n_members, n_varied)`.
    #[getter]
    fn values<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        let data: Vec<f64> = self
            .run
            .members
            .iter()
            .flat_map(|m| m.values.clone())
            .collect();
        array(py, data, &[self.run.members.len(), self.run.names.len()])
    }

    #[getter]
    fn t<'py>(&self, py: Python<'py>) -> Bound<'py, PyArray1<f64>> {
        PyArray1::from_vec(py, self.times())
    }

    #[getter]
    fn y<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        self.cube(py, true)
    }

    #[getter]
    fn outputs<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        self.cube(py, false)
    }

    #[getter]
    fn state_names(&self) -> Vec<String> {
        self.run.state_names.clone()
    }

    #[getter]
    fn output_names(&self) -> Vec<String> {
        self.run.output_names.clone()
    }

    /// Per member, whether its solve succeeded.
    #[getter]
    fn ok<'py>(&self, py: Python<'py>) -> Vec<bool> {
        let _ = py;
        self.run.members.iter().map(|m| m.outcome.is_ok()).collect()
    }

    /// The failed members: `(index, {name: value}, why)`.
    #[getter]
    fn failures<'py>(&self, py: Python<'py>) -> PyResult<Vec<(usize, Bound<'py, PyDict>, String)>> {
        let mut out = Vec::new();
        for m in self.run.failures() {
            let values = PyDict::new(py);
            for (name, v) in self.run.names.iter().zip(&m.values) {
                values.set_item(name, v)?;
            }
            let why = m.outcome.as_ref().err().cloned().unwrap_or_default();
            out.push((m.index, values, why));
        }
        Ok(out)
    }

    /// Statistics across the solved members at each time: `{"t", "members", "y1_mean",
    /// "y1_q05", "y1_q50", "y1_q95", …}` (as `sci run --summary`).
    fn summary<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        let table = self.run.summary();
        let out = PyDict::new(py);
        for name in &table.columns {
            out.set_item(
                name,
                PyArray1::from_vec(py, table.column(name).unwrap_or_default()),
            )?;
        }
        Ok(out)
    }

    fn __len__(&self) -> usize {
        self.run.members.len()
    }

    fn __repr__(&self) -> String {
        format!(
            "<sci.EnsembleResult of {}: {} members, {} failed>",
            self.run.model,
            self.run.members.len(),
            self.run.failures().count()
        )
    }
}
