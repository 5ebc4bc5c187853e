//! `sci._sci.compile_source` and `Program`: one compiled source file (its models and free
//! functions), with what it was compiled from so it pickles.

use std::sync::Arc;

use pyo3::exceptions::{PyKeyError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::{PyDict, PyList, PyTuple};
use sci::diag::{Diagnostic, LineIndex};

use crate::errors::CompileError;
use crate::function::Function;
use crate::model::Model;

/// What `__reduce__` of a model or function returns: the function that rebuilds it (in
/// `sci/__init__.py`) and its program and name.
pub type Reduced<'py> = (Bound<'py, PyAny>, (Py<Program>, String));

/// How a program was compiled: kept to compile it again when unpickled.
#[derive(Clone, Debug)]
pub struct Options {
    pub backend: sci::BackendKind,
    pub threads: usize,
    pub data_dir: String,
    pub constants: Vec<(String, Vec<f64>)>,
    pub ir: bool,
}

/// A compiled sci file: its models and free functions, ready to call. Made by
/// `sci.compile`; pickles (by its source, compiled again on loading).
#[pyclass(frozen, module = "sci._sci")]
pub struct Program {
    pub compiled: Arc<sci::Compiled>,
    /// The name diagnostics use (the file's path, or `<string>`).
    pub name: String,
    pub text: String,
    pub options: Options,
}

/// Compiles sci source text (or `.sir` IR text with `ir=True`). The GIL is released while
/// compiling. Raises `sci.CompileError` with the rendered diagnostics.
#[pyfunction]
#[allow(clippy::too_many_arguments)]
#[pyo3(signature = (text, name = "<string>".to_string(), *, data_dir = ".".to_string(), backend = "cranelift".to_string(), threads = 0, constants = None, ir = false))]
pub fn compile_source(
    py: Python<'_>,
    text: String,
    name: String,
    data_dir: String,
    backend: String,
    threads: usize,
    constants: Option<&Bound<'_, PyDict>>,
    ir: bool,
) -> PyResult<Program> {
    let backend: sci::BackendKind = backend.parse().map_err(PyValueError::new_err)?;
    if !backend.is_available() {
        return Err(PyValueError::new_err(format!(
            "This build of the sci package has no `{}` back end; it has `cranelift` and `interp`.",
            backend.name()
        )));
    }
    let mut values = Vec::new();
    if let Some(constants) = constants {
        for (key, value) in constants.iter() {
            let key: String = key.extract()?;
            let what = format!("constants[{key:?}]");
            let data = crate::arrays::floats(&value, &what)?;
            values.push((key, data.slice().to_vec()));
        }
    }
    let options = Options {
        backend,
        threads,
        data_dir,
        constants: values,
        ir,
    };
    let compiled = py
        .detach(|| compile(&text, &name, &options))
        .map_err(|e| compile_error(py, &e))?;
    Ok(Program {
        compiled: Arc::new(compiled),
        name,
        text,
        options,
    })
}

fn compile(text: &str, name: &str, options: &Options) -> Result<sci::Compiled, sci::CompileError> {
    // With the adjoint method's products: `Model.rhs_vjp`, the JAX rules and adjoint
    // gradients use them, and a Python session does not notice the milliseconds.
    let mut compiler = sci::Compiler::new()
        .adjoint(true)
        .backend(options.backend)
        .threads(options.threads)
        .data_dir(&options.data_dir);
    for (key, values) in &options.constants {
        compiler = compiler.constant(key.clone(), values.clone());
    }
    if options.ir {
        compiler.compile_ir(name, text)
    } else {
        compiler.compile_source(name, text)
    }
}

/// `sci.CompileError` with the rendered text and each diagnostic as a dict (`code`,
/// `severity`, `message`, `line`, `column` — 1-based —, `notes`, `help`).
fn compile_error(py: Python<'_>, e: &sci::CompileError) -> PyErr {
    let err = CompileError::new_err(e.render());
    let described = || -> PyResult<()> {
        let list = PyList::empty(py);
        for d in &e.diagnostics {
            list.append(diagnostic_dict(py, d, &e.sources)?)?;
        }
        err.value(py).setattr("diagnostics", list)?;
        Ok(())
    };
    match described() {
        Ok(()) => err,
        Err(other) => other,
    }
}

fn diagnostic_dict<'py>(
    py: Python<'py>,
    d: &Diagnostic,
    sources: &sci::SourceMap,
) -> PyResult<Bound<'py, PyDict>> {
    let dict = PyDict::new(py);
    dict.set_item("code", d.code)?;
    dict.set_item("severity", format!("{:?}", d.severity).to_lowercase())?;
    dict.set_item("message", &d.message)?;
    let place = d.labels.iter().find(|l| l.primary).map(|l| {
        let text = sources.text(l.span.file);
        LineIndex::new(text).line_col(text, l.span.start as usize)
    });
    dict.set_item("line", place.map(|(l, _)| l + 1))?;
    dict.set_item("column", place.map(|(_, c)| c + 1))?;
    dict.set_item("notes", d.notes.clone())?;
    dict.set_item("help", d.help.clone())?;
    Ok(dict)
}

impl Program {
    /// The model names, in declaration order.
    fn model_names(&self) -> Vec<String> {
        self.compiled.models().map(|m| m.name.clone()).collect()
    }
}

#[pymethods]
impl Program {
    /// The names of the models, in declaration order.
    #[getter]
    fn models(&self) -> Vec<String> {
        self.model_names()
    }

    /// The names of the free functions (`fn` in the source), in source order; a generic
    /// one is compiled for the shapes of its first call.
    #[getter]
    fn functions(&self) -> Vec<String> {
        self.compiled.function_names()
    }

    /// The back end that compiled it (`cranelift` or `interp`).
    #[getter]
    fn backend(&self) -> &'static str {
        self.compiled.backend().name()
    }

    /// The warnings, rendered with their source excerpts.
    #[getter]
    fn warnings(&self) -> String {
        sci::render::render_all(&self.compiled.warnings, &self.compiled.sources, false)
    }

    /// The source it was compiled from.
    #[getter]
    fn source(&self) -> &str {
        &self.text
    }

    /// The data files compiled into the models as inputs (`interp`), as paths from the
    /// working directory: `sci.compile`'s cache compiles again when one changes.
    #[getter]
    fn input_files(&self) -> Vec<String> {
        let dir = std::path::Path::new(&self.options.data_dir);
        let mut files: Vec<String> = self
            .compiled
            .models()
            .flat_map(|m| m.manifest.inputs.iter())
            .map(|input| dir.join(&input.path).display().to_string())
            .collect();
        files.sort();
        files.dedup();
        files
    }

    /// The model called `name`; without a name, the program's only model.
    #[pyo3(signature = (name = None))]
    fn model(slf: &Bound<'_, Self>, name: Option<String>) -> PyResult<Model> {
        let this = slf.get();
        let names = this.model_names();
        let name = match name {
            Some(name) => name,
            None => match names.as_slice() {
                [only] => only.clone(),
                [] => return Err(PyValueError::new_err("The program has no models.")),
                _ => {
                    return Err(PyValueError::new_err(format!(
                        "The program has several models ({}); name one: `program.model(\"{}\")`.",
                        names.join(", "),
                        names[0]
                    )));
                }
            },
        };
        if !names.contains(&name) {
            return Err(PyKeyError::new_err(format!(
                "There is no model named `{name}`; the program has: {}.",
                if names.is_empty() {
                    "no models".to_string()
                } else {
                    names.join(", ")
                }
            )));
        }
        Model::new(slf.clone().unbind(), name)
    }

    /// `program["Name"]`: the model called `Name`.
    fn __getitem__(slf: &Bound<'_, Self>, name: String) -> PyResult<Model> {
        Program::model(slf, Some(name))
    }

    /// The free function `name`, callable with NumPy arrays.
    fn function(slf: &Bound<'_, Self>, name: String) -> PyResult<Function> {
        Function::new(slf.clone().unbind(), name)
    }

    /// The IR of model `name` (or of the free functions, `"functions"`) in the `.sir` text
    /// format, after derivative expansion.
    fn ir(&self, name: &str) -> PyResult<String> {
        self.compiled
            .module(name)
            .map(sci::ir::print_module)
            .ok_or_else(|| PyKeyError::new_err(format!("There is no module named `{name}`.")))
    }

    fn __repr__(&self) -> String {
        format!(
            "<sci.Program {:?}: models {:?}, backend {}>",
            self.name,
            self.model_names(),
            self.compiled.backend().name()
        )
    }

    /// Pickled as its source and options; loading compiles it again (through
    /// `sci.compile`'s cache, so a process compiles a program once).
    fn __reduce__<'py>(
        &self,
        py: Python<'py>,
    ) -> PyResult<(Bound<'py, PyAny>, Bound<'py, PyTuple>)> {
        let rebuild = py.import("sci")?.getattr("_rebuild_program")?;
        let constants = PyDict::new(py);
        for (key, values) in &self.options.constants {
            constants.set_item(key, values.clone())?;
        }
        let args = PyTuple::new(
            py,
            [
                self.text.clone().into_pyobject(py)?.into_any(),
                self.name.clone().into_pyobject(py)?.into_any(),
                self.options.data_dir.clone().into_pyobject(py)?.into_any(),
                self.options.backend.name().into_pyobject(py)?.into_any(),
                self.options.threads.into_pyobject(py)?.into_any(),
                constants.into_any(),
                pyo3::types::PyBool::new(py, self.options.ir)
                    .to_owned()
                    .into_any(),
            ],
        )?;
        Ok((rebuild, args))
    }
}
