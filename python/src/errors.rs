//! The package's exceptions and how sci's errors become them: a compile error carries the
//! rendered diagnostics (source excerpt, hint); bad input is `ValueError`/`TypeError`; a
//! computation that failed on valid input (a solver that could not meet its tolerances)
//! is `sci.SolveError`.

use pyo3::create_exception;
use pyo3::exceptions::{PyException, PyOSError, PyRuntimeError, PyValueError};
use pyo3::prelude::*;
use sci::stdlib::{Error, ErrorKind};

create_exception!(
    sci,
    CompileError,
    PyException,
    "A model or function failed to compile: the message is the rendered diagnostics \
     (what is wrong, where, and a hint); `diagnostics` lists them one by one."
);
create_exception!(
    sci,
    SolveError,
    PyRuntimeError,
    "A computation failed on valid input: the ODE solver could not meet its tolerances, the \
     loss became NaN, training diverged."
);

/// A runtime error of sci as the Python exception of its kind.
pub fn runtime(e: Error) -> PyErr {
    let text = e.to_string();
    match e.kind {
        ErrorKind::Input => PyValueError::new_err(text),
        ErrorKind::Numerical => SolveError::new_err(text),
        ErrorKind::Io => PyOSError::new_err(text),
    }
}

/// A failed call of compiled code (wrong sizes, a refused derivative) as `ValueError`.
pub fn call(e: sci::JitError) -> PyErr {
    PyValueError::new_err(e.to_string())
}
