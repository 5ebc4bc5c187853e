//! Reading Python arguments as `f64` data, with errors that name the argument and say what
//! was expected; and NumPy arrays out without copying the results.
//!
//! A C-contiguous `float64` array is read in place. Anything else NumPy can read as real
//! numbers (lists, integers, `float32`, strided views) is converted once; complex numbers,
//! strings and objects are a `TypeError`, a wrong size a `ValueError`.

use numpy::{PyArray1, PyArrayDyn, PyArrayMethods, PyReadonlyArrayDyn, PyUntypedArrayMethods};
use pyo3::exceptions::{PyTypeError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::{PyDict, PyList};

/// An argument read as contiguous `f64` numbers: borrowed from NumPy when it already was
/// a C-contiguous `float64` array, else converted once.
pub struct Floats<'py> {
    held: Held<'py>,
}

enum Held<'py> {
    Array(PyReadonlyArrayDyn<'py, f64>),
    /// A flat list of numbers, read without going through NumPy (the common `t_eval`).
    List {
        data: Vec<f64>,
        shape: [usize; 1],
    },
}

impl Floats<'_> {
    /// The elements, row-major.
    pub fn slice(&self) -> &[f64] {
        match &self.held {
            // `floats` only builds contiguous arrays.
            Held::Array(a) => a.as_slice().unwrap_or(&[]),
            Held::List { data, .. } => data,
        }
    }

    pub fn shape(&self) -> &[usize] {
        match &self.held {
            Held::Array(a) => a.shape(),
            Held::List { shape, .. } => shape,
        }
    }
}

/// `value` as `f64` numbers; `what` names the argument in errors (`y`, `params`).
pub fn floats<'py>(value: &Bound<'py, PyAny>, what: &str) -> PyResult<Floats<'py>> {
    if let Ok(array) = value.cast::<PyArrayDyn<f64>>()
        && array.is_c_contiguous()
    {
        return Ok(Floats {
            held: Held::Array(array.readonly()),
        });
    }
    if value.is_instance_of::<PyList>()
        && let Ok(data) = value.extract::<Vec<f64>>()
    {
        let shape = [data.len()];
        return Ok(Floats {
            held: Held::List { data, shape },
        });
    }
    let py = value.py();
    let np = py.import("numpy")?;
    let array = np.call_method1("asarray", (value,)).map_err(|e| {
        PyTypeError::new_err(format!(
            "`{what}` cannot be read as an array of numbers: {e}"
        ))
    })?;
    let kind: String = array.getattr("dtype")?.getattr("kind")?.extract()?;
    match kind.as_str() {
        "f" | "i" | "u" | "b" => {}
        "c" => {
            return Err(PyTypeError::new_err(format!(
                "`{what}` holds complex numbers; sci computes with real (float64) numbers."
            )));
        }
        _ => {
            let dtype = array.getattr("dtype")?.str()?.to_string();
            return Err(PyTypeError::new_err(format!(
                "`{what}` has dtype {dtype}; sci needs real numbers (float64, or integers it can convert)."
            )));
        }
    }
    let kwargs = PyDict::new(py);
    kwargs.set_item("dtype", np.getattr("float64")?)?;
    kwargs.set_item("order", "C")?;
    // Not `ascontiguousarray`: it makes a 0-d array (a scalar) 1-d.
    let converted = np.call_method("asarray", (array,), Some(&kwargs))?;
    let array = converted.cast_into::<PyArrayDyn<f64>>()?;
    Ok(Floats {
        held: Held::Array(array.readonly()),
    })
}

/// `value` as a vector of `n` numbers (a 1-D array, or a scalar when `n` is 1). `names`
/// describes the elements for the error message (`the states prey, predator`).
pub fn vector<'py>(
    value: &Bound<'py, PyAny>,
    what: &str,
    n: usize,
    names: &dyn Fn() -> String,
) -> PyResult<Floats<'py>> {
    let data = floats(value, what)?;
    let shape = data.shape();
    let fits = match shape.len() {
        1 => shape[0] == n,
        0 => n == 1,
        _ => false,
    };
    if !fits {
        return Err(PyValueError::new_err(format!(
            "`{what}` must be a 1-D array of {n} number{} ({}); it has shape {}.",
            if n == 1 { "" } else { "s" },
            names(),
            describe_shape(shape)
        )));
    }
    Ok(data)
}

/// A shape as Python writes it: `(3,)`, `(2, 4)`, `()`.
pub fn describe_shape(shape: &[usize]) -> String {
    match shape {
        [] => "()".to_string(),
        [n] => format!("({n},)"),
        _ => format!(
            "({})",
            shape
                .iter()
                .map(usize::to_string)
                .collect::<Vec<_>>()
                .join(", ")
        ),
    }
}

/// A result vector as a NumPy array (the vector's buffer becomes the array's: no copy).
pub fn array1<'py>(py: Python<'py>, data: Vec<f64>) -> Bound<'py, PyArray1<f64>> {
    PyArray1::from_vec(py, data)
}

/// A row-major result as a NumPy array of `shape` (no copy).
pub fn array<'py>(py: Python<'py>, data: Vec<f64>, shape: &[usize]) -> PyResult<Bound<'py, PyAny>> {
    let flat = PyArray1::from_vec(py, data);
    Ok(flat.reshape(shape.to_vec())?.into_any())
}

/// A list of names for an error message, shortened past eight.
pub fn list_names(names: &[String]) -> String {
    const SHOWN: usize = 8;
    if names.len() <= SHOWN {
        names.join(", ")
    } else {
        format!("{}, … ({} in all)", names[..SHOWN].join(", "), names.len())
    }
}
