//! `Function`: a free function of a program (`fn` in the source), called with NumPy
//! arrays. A generic function is compiled for the shapes of its arguments on first call.

use std::sync::Arc;

use pyo3::exceptions::PyKeyError;
use pyo3::prelude::*;
use pyo3::types::PyTuple;
use sci::Tensor;

use crate::arrays::{self, array};
use crate::errors;
use crate::program::Program;

/// A compiled free function: `f(x, y)` with scalars or arrays, returning a float or an array.
#[pyclass(frozen, module = "sci._sci")]
pub struct Function {
    program: Py<Program>,
    compiled: Arc<sci::Compiled>,
    name: String,
}

impl Function {
    pub fn new(program: Py<Program>, name: String) -> PyResult<Function> {
        let compiled = program.get().compiled.clone();
        compiled
            .function(&name)
            .map_err(|e| PyKeyError::new_err(e.to_string()))?;
        Ok(Function {
            program,
            compiled,
            name,
        })
    }
}

impl Function {
    /// Another handle on the same function.
    pub fn clone_ref(&self, py: Python<'_>) -> Function {
        Function {
            program: self.program.clone_ref(py),
            compiled: self.compiled.clone(),
            name: self.name.clone(),
        }
    }

    pub fn name_str(&self) -> &str {
        &self.name
    }

    /// Calls the function on flat arguments of `shapes`; returns its flat result.
    pub fn call_shaped(&self, args: &[&[f64]], shapes: &[Vec<usize>]) -> Result<Vec<f64>, String> {
        let mut tensors = Vec::with_capacity(args.len());
        for (data, shape) in args.iter().zip(shapes) {
            tensors.push(Tensor::new(shape.clone(), data.to_vec()).map_err(|e| e.to_string())?);
        }
        let function = self
            .compiled
            .function(&self.name)
            .map_err(|e| e.to_string())?;
        Ok(function
            .call_tensors(&tensors)
            .map_err(|e| e.to_string())?
            .data)
    }
}

#[pymethods]
impl Function {
    #[getter]
    fn name(&self) -> &str {
        &self.name
    }

    /// Calls the function; each argument is a number or an array (its shape is the
    /// argument's shape). Returns a float for a scalar result, else an array.
    #[pyo3(signature = (*args))]
    fn __call__<'py>(
        &self,
        py: Python<'py>,
        args: &Bound<'py, PyTuple>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let mut tensors = Vec::with_capacity(args.len());
        for (k, arg) in args.iter().enumerate() {
            let data = arrays::floats(&arg, &format!("argument {}", k + 1))?;
            let tensor = Tensor::new(data.shape().to_vec(), data.slice().to_vec())
                .map_err(|e| pyo3::exceptions::PyValueError::new_err(e.to_string()))?;
            tensors.push(tensor);
        }
        let function = self.compiled.function(&self.name).map_err(errors::call)?;
        let result = py
            .detach(|| function.call_tensors(&tensors))
            .map_err(errors::call)?;
        let mut shape: Vec<usize> = result.batch.into_iter().collect();
        shape.extend(&result.shape);
        if shape.is_empty() {
            return Ok(result
                .data
                .first()
                .copied()
                .unwrap_or(f64::NAN)
                .into_pyobject(py)?
                .into_any());
        }
        array(py, result.data, &shape)
    }

    fn __repr__(&self) -> String {
        format!("<sci.Function {}>", self.name)
    }

    /// Pickled as its program and name.
    fn __reduce__<'py>(&self, py: Python<'py>) -> PyResult<crate::program::Reduced<'py>> {
        let rebuild = py.import("sci")?.getattr("_rebuild_function")?;
        Ok((rebuild, (self.program.clone_ref(py), self.name.clone())))
    }
}
