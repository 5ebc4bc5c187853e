//! `Model`: a compiled model's entry points — `rhs`, `y0`, `outputs`, the Jacobians, the
//! loss and its gradient — with parameters as an array or by name.

use std::sync::Arc;

use numpy::PyArray1;
use pyo3::exceptions::{PyKeyError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::{PyDict, PyTuple};

use crate::arrays::{self, Floats, array, array1, describe_shape, list_names};
use crate::errors;
use crate::program::Program;

/// Two arrays returned together (`rhs_vjp`'s cotangents).
type ArrayPair<'py> = (Bound<'py, PyArray1<f64>>, Bound<'py, PyArray1<f64>>);

/// A model of a compiled program: `rhs(t, y, params)`, `simulate(...)`, `loss(...)`,
/// `train(...)`. Parameters are given as a vector θ (`model.params` is the default) or as
/// a dict `{name: value}` of the ones to change.
#[pyclass(frozen, module = "sci._sci")]
pub struct Model {
    pub program: Py<Program>,
    pub compiled: Arc<sci::Compiled>,
    pub name: String,
}

impl Model {
    pub fn new(program: Py<Program>, name: String) -> PyResult<Model> {
        let compiled = program.get().compiled.clone();
        compiled.model(&name).map_err(errors::call)?;
        Ok(Model {
            program,
            compiled,
            name,
        })
    }

    /// Another handle on the same model.
    pub fn clone_ref(&self, py: Python<'_>) -> Model {
        Model {
            program: self.program.clone_ref(py),
            compiled: self.compiled.clone(),
            name: self.name.clone(),
        }
    }

    /// `(vᵀ ∂f/∂y, vᵀ ∂f/∂θ)` at `(t, y)` into `out_y` and `out_p`: one reverse sweep of the
    /// compiled `vjp.rhs` (for a model without parameters, `Jᵀv` from the dense Jacobian).
    pub fn rhs_vjp(
        &self,
        t: f64,
        y: &[f64],
        p: &[f64],
        v: &[f64],
        out_y: &mut [f64],
        out_p: &mut [f64],
    ) -> Result<(), sci::JitError> {
        let m = self.model().map_err(|e| sci::JitError {
            message: e.to_string(),
        })?;
        let n = m.n_states();
        if m.n_params() == 0 {
            let mut jac = vec![0.0; n * n];
            m.jacobian(t, y, p, &mut jac)?;
            out_y.fill(0.0);
            for (row, &vi) in jac.chunks_exact(n).zip(v) {
                for (o, &a) in out_y.iter_mut().zip(row) {
                    *o += a * vi;
                }
            }
            return Ok(());
        }
        let mut both = vec![0.0; n + m.n_params()];
        m.rhs_vjp(t, y, p, v, &mut both)?;
        out_y.copy_from_slice(&both[..n]);
        out_p.copy_from_slice(&both[n..]);
        Ok(())
    }

    /// The compiled model (a lookup by name: cheap).
    pub fn model(&self) -> PyResult<sci::Model<'_>> {
        self.compiled.model(&self.name).map_err(errors::call)
    }

    /// θ from `params`: the defaults when `None`, the defaults with the named slots replaced
    /// for a dict, else a vector of every parameter.
    pub fn theta(&self, params: Option<&Bound<'_, PyAny>>) -> PyResult<Vec<f64>> {
        let model = self.model()?;
        let mut theta = model.params();
        let Some(params) = params else {
            return Ok(theta);
        };
        if params.is_none() {
            return Ok(theta);
        }
        let layout = &model.ir().params;
        if let Ok(dict) = params.cast::<PyDict>() {
            for (key, value) in dict.iter() {
                let key: String = key.extract()?;
                let Some(slot) = layout.slot(&key) else {
                    let names: Vec<String> = layout.slots.iter().map(|s| s.name.clone()).collect();
                    return Err(PyKeyError::new_err(format!(
                        "Model `{}` has no parameter `{key}`; its parameters are: {}.",
                        self.name,
                        list_names(&names)
                    )));
                };
                let shape: Vec<usize> = slot.shape.to_vec();
                let count: usize = shape.iter().product();
                let what = format!("params[{key:?}]");
                let data = arrays::floats(&value, &what)?;
                if data.slice().len() != count
                    || (data.shape() != shape && !data.shape().is_empty())
                {
                    return Err(PyValueError::new_err(format!(
                        "`{what}` must have shape {}; it has shape {}.",
                        describe_shape(&shape),
                        describe_shape(data.shape())
                    )));
                }
                theta[slot.offset..slot.offset + count].copy_from_slice(data.slice());
            }
            return Ok(theta);
        }
        let n = theta.len();
        let data = arrays::vector(params, "params", n, &|| {
            format!(
                "the parameters {}",
                list_names(&sci::runtime::element_names(layout))
            )
        })?;
        theta.copy_from_slice(data.slice());
        Ok(theta)
    }

    /// `y` as the model's state vector.
    pub fn state<'py>(&self, y: &Bound<'py, PyAny>) -> PyResult<Floats<'py>> {
        let model = self.model()?;
        arrays::vector(y, "y", model.n_states(), &|| {
            let names = sci::runtime::element_names(&model.ir().states);
            format!("the states {}", list_names(&names))
        })
    }
}

#[pymethods]
impl Model {
    #[getter]
    fn name(&self) -> &str {
        &self.name
    }

    /// The program this model belongs to.
    #[getter]
    fn program(&self, py: Python<'_>) -> Py<Program> {
        self.program.clone_ref(py)
    }

    #[getter]
    fn n_states(&self) -> PyResult<usize> {
        Ok(self.model()?.n_states())
    }

    #[getter]
    fn n_params(&self) -> PyResult<usize> {
        Ok(self.model()?.n_params())
    }

    #[getter]
    fn n_outputs(&self) -> PyResult<usize> {
        Ok(self.model()?.n_outputs())
    }

    /// One name per element of the state vector (`prey`, `u[3]`).
    #[getter]
    fn state_names(&self) -> PyResult<Vec<String>> {
        Ok(sci::runtime::element_names(&self.model()?.ir().states))
    }

    /// One name per element of θ (`alpha`, `net.W1[0,2]`).
    #[getter]
    fn param_names(&self) -> PyResult<Vec<String>> {
        Ok(sci::runtime::element_names(&self.model()?.ir().params))
    }

    /// One name per output element.
    #[getter]
    fn output_names(&self) -> PyResult<Vec<String>> {
        Ok(sci::runtime::element_names(&self.model()?.ir().outputs))
    }

    /// The default θ: declared values and initial network weights (a new array each time).
    #[getter]
    fn params<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyArray1<f64>>> {
        Ok(array1(py, self.model()?.params()))
    }

    /// The parameters by name: `{name: value}` (scalars as floats, arrays in their shapes),
    /// at the defaults or at θ = `params`.
    #[pyo3(signature = (params = None))]
    fn parameters<'py>(
        &self,
        py: Python<'py>,
        params: Option<&Bound<'py, PyAny>>,
    ) -> PyResult<Bound<'py, PyDict>> {
        let theta = self.theta(params)?;
        let model = self.model()?;
        let dict = PyDict::new(py);
        for slot in &model.ir().params.slots {
            let shape: Vec<usize> = slot.shape.to_vec();
            let count: usize = shape.iter().product();
            let values = theta[slot.offset..slot.offset + count].to_vec();
            if shape.is_empty() {
                dict.set_item(&slot.name, values[0])?;
            } else {
                dict.set_item(&slot.name, array(py, values, &shape)?)?;
            }
        }
        Ok(dict)
    }

    /// The names of the parameters declared `fixed` (training leaves them).
    #[getter]
    fn fixed_params(&self) -> PyResult<Vec<String>> {
        Ok(self
            .model()?
            .ir()
            .params
            .slots
            .iter()
            .filter(|s| s.fixed)
            .map(|s| s.name.clone())
            .collect())
    }

    /// θ as one vector: the defaults with `params` (a dict by name, or a full vector) applied.
    #[pyo3(signature = (params = None))]
    fn theta_of<'py>(
        &self,
        py: Python<'py>,
        params: Option<&Bound<'py, PyAny>>,
    ) -> PyResult<Bound<'py, PyArray1<f64>>> {
        Ok(array1(py, self.theta(params)?))
    }

    /// The time span the model declares (`domain time: t in [t0, t1]`), or `None`.
    #[getter]
    fn time_span(&self) -> PyResult<Option<(f64, f64)>> {
        Ok(self.model()?.time_span())
    }

    /// `dy/dt = f(t, y; θ)`.
    #[pyo3(signature = (t, y, params = None))]
    fn rhs<'py>(
        &self,
        py: Python<'py>,
        t: f64,
        y: &Bound<'py, PyAny>,
        params: Option<&Bound<'py, PyAny>>,
    ) -> PyResult<Bound<'py, PyArray1<f64>>> {
        let model = self.model()?;
        let y = self.state(y)?;
        let p = self.theta(params)?;
        let mut dy = vec![0.0; model.n_states()];
        model.rhs(t, y.slice(), &p, &mut dy).map_err(errors::call)?;
        Ok(array1(py, dy))
    }

    /// The initial state `y0(θ)`.
    #[pyo3(signature = (params = None))]
    fn y0<'py>(
        &self,
        py: Python<'py>,
        params: Option<&Bound<'py, PyAny>>,
    ) -> PyResult<Bound<'py, PyArray1<f64>>> {
        let p = self.theta(params)?;
        Ok(array1(py, self.model()?.y0(&p).map_err(errors::call)?))
    }

    /// The model's outputs at `(t, y)`.
    #[pyo3(signature = (t, y, params = None))]
    fn outputs<'py>(
        &self,
        py: Python<'py>,
        t: f64,
        y: &Bound<'py, PyAny>,
        params: Option<&Bound<'py, PyAny>>,
    ) -> PyResult<Bound<'py, PyArray1<f64>>> {
        let model = self.model()?;
        let y = self.state(y)?;
        let p = self.theta(params)?;
        let mut out = vec![0.0; model.n_outputs()];
        model
            .outputs(t, y.slice(), &p, &mut out)
            .map_err(errors::call)?;
        Ok(array1(py, out))
    }

    /// `∂f/∂y` at `(t, y)`: a dense `(n, n)` array, or with `sparse=True` a
    /// `scipy.sparse.csr_array` with the pattern found on the IR (values by sci's sparse
    /// Jacobian).
    #[pyo3(signature = (t, y, params = None, *, sparse = false))]
    fn jacobian<'py>(
        &self,
        py: Python<'py>,
        t: f64,
        y: &Bound<'py, PyAny>,
        params: Option<&Bound<'py, PyAny>>,
        sparse: bool,
    ) -> PyResult<Bound<'py, PyAny>> {
        let model = self.model()?;
        let y = self.state(y)?;
        let p = self.theta(params)?;
        let n = model.n_states();
        if !sparse {
            let mut jac = vec![0.0; n * n];
            model
                .jacobian(t, y.slice(), &p, &mut jac)
                .map_err(errors::call)?;
            return array(py, jac, &[n, n]);
        }
        let pattern = model.jacobian_sparsity().map_err(errors::call)?;
        let mut values = vec![0.0; pattern.col_idx.len()];
        model
            .jacobian_csr(t, y.slice(), &p, &mut values)
            .map_err(errors::call)?;
        let to_i64 = |v: &[usize]| -> Vec<i64> { v.iter().map(|&x| x as i64).collect() };
        let indices = PyArray1::from_vec(py, to_i64(&pattern.col_idx));
        let indptr = PyArray1::from_vec(py, to_i64(&pattern.row_ptr));
        let scipy = py.import("scipy.sparse").map_err(|_| {
            pyo3::exceptions::PyImportError::new_err(
                "`jacobian(..., sparse=True)` returns a scipy.sparse array: install SciPy \
                 (`pip install scipy`).",
            )
        })?;
        let parts = PyTuple::new(
            py,
            [
                array1(py, values).into_any(),
                indices.into_any(),
                indptr.into_any(),
            ],
        )?;
        scipy
            .getattr("csr_array")?
            .call1((parts, (pattern.n_rows, pattern.n_cols)))
    }

    /// `∂f/∂θ` at `(t, y)`: a dense `(n_states, n_params)` array.
    #[pyo3(signature = (t, y, params = None))]
    fn param_jacobian<'py>(
        &self,
        py: Python<'py>,
        t: f64,
        y: &Bound<'py, PyAny>,
        params: Option<&Bound<'py, PyAny>>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let model = self.model()?;
        let y = self.state(y)?;
        let p = self.theta(params)?;
        let (n, np) = (model.n_states(), model.n_params());
        let mut jac = vec![0.0; n * np];
        model
            .param_jacobian(t, y.slice(), &p, &mut jac)
            .map_err(errors::call)?;
        array(py, jac, &[n, np])
    }

    /// `(vᵀ ∂f/∂y, vᵀ ∂f/∂θ)` at `(t, y)`: the reverse-mode product (one sweep), what an
    /// adjoint method or `jax.vjp` needs.
    #[pyo3(name = "rhs_vjp", signature = (t, y, v, params = None))]
    fn py_rhs_vjp<'py>(
        &self,
        py: Python<'py>,
        t: f64,
        y: &Bound<'py, PyAny>,
        v: &Bound<'py, PyAny>,
        params: Option<&Bound<'py, PyAny>>,
    ) -> PyResult<ArrayPair<'py>> {
        let m = self.model()?;
        let y = self.state(y)?;
        let v = arrays::vector(v, "v", m.n_states(), &|| "one per state".to_string())?;
        let p = self.theta(params)?;
        let mut out_y = vec![0.0; m.n_states()];
        let mut out_p = vec![0.0; m.n_params()];
        self.rhs_vjp(t, y.slice(), &p, v.slice(), &mut out_y, &mut out_p)
            .map_err(errors::call)?;
        Ok((array1(py, out_y), array1(py, out_p)))
    }

    /// The loss's batched inputs after θ: `[(name, per-point shape), ...]`, in order.
    #[getter]
    fn loss_inputs(&self) -> PyResult<Vec<(String, Vec<usize>)>> {
        self.model()?.loss_inputs().map_err(errors::call)
    }

    /// The inputs `sci train` would give the loss at this seed: the collocation points drawn
    /// for each residual and the data sets' columns, by name (`{"pde.x": array, ...}`).
    /// Pass them back as `inputs=` to evaluate the loss on fixed points.
    #[pyo3(signature = (seed = 0))]
    fn sample_inputs<'py>(&self, py: Python<'py>, seed: u64) -> PyResult<Bound<'py, PyDict>> {
        let dir = self.program.get().options.data_dir.clone();
        let model = self.model()?;
        let inputs = py
            .detach(|| crate::train::trainer(model, seed, &dir).map(|t| t.inputs()))
            .map_err(errors::runtime)?;
        let dict = PyDict::new(py);
        for (name, data) in inputs {
            dict.set_item(name, array1(py, data))?;
        }
        Ok(dict)
    }

    /// The loss at θ. With `inputs` (a dict: each name of `loss_inputs` to its points,
    /// `(n_points, *shape)` or flat), on those; without, on what `sci train` uses (points
    /// drawn with `seed`, the data files; an ODE solved for a loss over its trajectory).
    #[pyo3(signature = (params = None, inputs = None, *, seed = 0))]
    fn loss(
        &self,
        py: Python<'_>,
        params: Option<&Bound<'_, PyAny>>,
        inputs: Option<&Bound<'_, PyDict>>,
        seed: u64,
    ) -> PyResult<f64> {
        let p = self.theta(params)?;
        let model = self.model()?;
        match inputs {
            Some(inputs) => {
                let held = batch_inputs(&model, inputs)?;
                let batch = held.batch();
                py.detach(|| model.loss(&p, &batch)).map_err(errors::call)
            }
            None => {
                let dir = self.program.get().options.data_dir.clone();
                py.detach(|| {
                    let mut trainer = crate::train::trainer(model, seed, &dir)?;
                    trainer.loss(&p)
                })
                .map_err(errors::runtime)
            }
        }
    }

    /// `(loss, gradient)` at θ in one call (the forward pass once), on `inputs` or on what
    /// `sci train` uses (see `loss`). Parameters declared `fixed` get their true derivative
    /// here (training keeps them by zeroing it).
    #[pyo3(signature = (params = None, inputs = None, *, seed = 0))]
    fn loss_and_grad<'py>(
        &self,
        py: Python<'py>,
        params: Option<&Bound<'py, PyAny>>,
        inputs: Option<&Bound<'py, PyDict>>,
        seed: u64,
    ) -> PyResult<(f64, Bound<'py, PyArray1<f64>>)> {
        let p = self.theta(params)?;
        let model = self.model()?;
        let mut grad = vec![0.0; model.n_params()];
        let loss = match inputs {
            Some(inputs) => {
                let held = batch_inputs(&model, inputs)?;
                let batch = held.batch();
                py.detach(|| model.loss_and_grad_into(&p, &batch, &mut grad))
                    .map_err(errors::call)?
            }
            None => {
                let dir = self.program.get().options.data_dir.clone();
                py.detach(|| {
                    let mut trainer = crate::train::trainer(model, seed, &dir)?;
                    trainer.loss_and_grad(&p, &mut grad)
                })
                .map_err(errors::runtime)?
            }
        };
        Ok((loss, array1(py, grad)))
    }

    /// Solves the model's ODE; see `sci.Model.simulate` in the stubs for the arguments.
    #[pyo3(signature = (t_eval = None, params = None, *, t_span = None, solver = "auto".to_string(), rtol = 1e-6, atol = 1e-9, sensitivities = false, max_steps = 1_000_000, jacobian = "auto".to_string()))]
    #[allow(clippy::too_many_arguments)]
    fn simulate(
        &self,
        py: Python<'_>,
        t_eval: Option<&Bound<'_, PyAny>>,
        params: Option<&Bound<'_, PyAny>>,
        t_span: Option<(f64, f64)>,
        solver: String,
        rtol: f64,
        atol: f64,
        sensitivities: bool,
        max_steps: usize,
        jacobian: String,
    ) -> PyResult<crate::solve::Solution> {
        crate::solve::simulate(
            self,
            py,
            crate::solve::Request {
                t_eval,
                params,
                t_span,
                solver,
                rtol,
                atol,
                sensitivities,
                max_steps,
                jacobian,
            },
        )
    }

    /// Solves one member per set of values; see `sci.Model.ensemble` in the stubs.
    #[pyo3(signature = (members, t_eval = None, params = None, *, threads = 0, t_span = None, solver = "auto".to_string(), rtol = 1e-6, atol = 1e-9, max_steps = 1_000_000, jacobian = "auto".to_string()))]
    #[allow(clippy::too_many_arguments)]
    fn ensemble(
        &self,
        py: Python<'_>,
        members: &Bound<'_, PyAny>,
        t_eval: Option<&Bound<'_, PyAny>>,
        params: Option<&Bound<'_, PyAny>>,
        threads: usize,
        t_span: Option<(f64, f64)>,
        solver: String,
        rtol: f64,
        atol: f64,
        max_steps: usize,
        jacobian: String,
    ) -> PyResult<crate::ensemble::EnsembleResult> {
        let request = crate::solve::Request {
            t_eval,
            params,
            t_span,
            solver,
            rtol,
            atol,
            sensitivities: false,
            max_steps,
            jacobian,
        };
        crate::ensemble::ensemble(self, py, members, request, threads)
    }

    /// Trains θ on the model's loss; see `sci.Model.train` in the stubs for the arguments.
    #[pyo3(signature = (params = None, *, steps = None, optimizer = None, lr = None, seed = 0, resample_every = None, loss_tol = None, patience = None, freeze = Vec::new(), callback = None, solver = "auto".to_string(), rtol = 1e-8, atol = 1e-10, sensitivity = "auto".to_string()))]
    #[allow(clippy::too_many_arguments)]
    fn train(
        &self,
        py: Python<'_>,
        params: Option<&Bound<'_, PyAny>>,
        steps: Option<usize>,
        optimizer: Option<String>,
        lr: Option<f64>,
        seed: u64,
        resample_every: Option<usize>,
        loss_tol: Option<f64>,
        patience: Option<usize>,
        freeze: Vec<String>,
        callback: Option<Bound<'_, PyAny>>,
        solver: String,
        rtol: f64,
        atol: f64,
        sensitivity: String,
    ) -> PyResult<crate::train::TrainResult> {
        crate::train::train(
            self,
            py,
            crate::train::Request {
                params,
                steps,
                optimizer,
                lr,
                seed,
                resample_every,
                loss_tol,
                patience,
                freeze,
                callback,
                solver,
                rtol,
                atol,
                sensitivity,
            },
        )
    }

    fn __repr__(&self) -> PyResult<String> {
        let model = self.model()?;
        Ok(format!(
            "<sci.Model {}: {} states, {} parameters, {} outputs>",
            self.name,
            model.n_states(),
            model.n_params(),
            model.n_outputs()
        ))
    }

    /// Pickled as its program and name.
    fn __reduce__<'py>(&self, py: Python<'py>) -> PyResult<crate::program::Reduced<'py>> {
        let rebuild = py.import("sci")?.getattr("_rebuild_model")?;
        Ok((rebuild, (self.program.clone_ref(py), self.name.clone())))
    }
}

/// The loss inputs given from Python, read and checked against the loss's signature.
pub struct HeldInputs<'py> {
    data: Vec<(String, Floats<'py>)>,
}

impl HeldInputs<'_> {
    pub fn batch(&self) -> sci::Batch<'_> {
        let mut batch = sci::Batch::new();
        for (name, data) in &self.data {
            batch.set(name, data.slice());
        }
        batch
    }
}

/// Reads `inputs` (name → points) for the loss of `model`: every input named, none extra,
/// each a whole number of points of its shape (the compiled call checks that inputs
/// sampled together have as many points).
pub fn batch_inputs<'py>(
    model: &sci::Model<'_>,
    inputs: &Bound<'py, PyDict>,
) -> PyResult<HeldInputs<'py>> {
    let wanted = model.loss_inputs().map_err(errors::call)?;
    let names: Vec<String> = wanted.iter().map(|(n, _)| n.clone()).collect();
    let mut data = Vec::new();
    for (key, value) in inputs.iter() {
        let key: String = key.extract()?;
        let Some((_, shape)) = wanted.iter().find(|(n, _)| *n == key) else {
            return Err(PyKeyError::new_err(format!(
                "The loss of `{}` has no input `{key}`; its inputs are: {}.",
                model.name(),
                list_names(&names)
            )));
        };
        let what = format!("inputs[{key:?}]");
        let floats = arrays::floats(&value, &what)?;
        let per_point: usize = shape.iter().product();
        let n = floats.slice().len();
        if per_point == 0 || n % per_point != 0 {
            return Err(PyValueError::new_err(format!(
                "`{what}` has {n} numbers, not a whole number of points of shape {}.",
                describe_shape(shape)
            )));
        }
        data.push((key, floats));
    }
    let missing: Vec<String> = names
        .iter()
        .filter(|n| !data.iter().any(|(k, _)| k == *n))
        .cloned()
        .collect();
    if !missing.is_empty() {
        return Err(PyKeyError::new_err(format!(
            "`inputs` lacks the loss inputs {}; `model.loss_inputs` lists them all.",
            missing.join(", ")
        )));
    }
    Ok(HeldInputs { data })
}
