//! `sci._sci`, the native half of the `sci` Python package: compiled programs, models and
//! functions with NumPy arrays in and out, the ODE solvers and the trainer with the GIL
//! released, and the XLA FFI handlers `sci.jax` registers with JAX.
//!
//! The Python half (`sci/__init__.py`) chooses between a path and source text, caches
//! compiled programs, and holds the JAX wrappers (`sci/jax.py`); everything that touches
//! sci's own types is here.

// Only the XLA FFI handler (`ffi.rs`) needs `unsafe`: it reads the call frame XLA passes.
#![deny(unsafe_code)]

mod arrays;
mod ensemble;
mod errors;
mod ffi;

mod function;
mod model;
mod program;
mod solve;
mod train;

use pyo3::prelude::*;

/// The native module. Its names are re-exported by `sci/__init__.py`.
#[pymodule]
fn _sci(m: &Bound<'_, PyModule>) -> PyResult<()> {
    let py = m.py();
    m.add("__version__", env!("CARGO_PKG_VERSION"))?;
    m.add("CompileError", py.get_type::<errors::CompileError>())?;
    m.add("SolveError", py.get_type::<errors::SolveError>())?;
    m.add_class::<program::Program>()?;
    m.add_class::<model::Model>()?;
    m.add_class::<function::Function>()?;
    m.add_class::<solve::Solution>()?;
    m.add_class::<ensemble::EnsembleResult>()?;
    m.add_class::<train::TrainResult>()?;
    m.add_function(wrap_pyfunction!(program::compile_source, m)?)?;
    m.add_function(wrap_pyfunction!(ffi::jax_register, m)?)?;
    m.add_function(wrap_pyfunction!(ffi::jax_register_function, m)?)?;
    m.add_function(wrap_pyfunction!(ffi::ffi_handler_address, m)?)?;
    m.add_function(wrap_pyfunction!(solve::rust_simulate_seconds, m)?)?;

    Ok(())
}
