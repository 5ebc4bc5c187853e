//! The calling convention of compiled functions (the C ABI of `docs/abi.md`).
//!
//! Every IR function `f(x0, x1, …) -> r` of module `M` becomes the C function
//!
//! ```c
//! int32_t sci_M_f(ARG0, ARG1, …, double *out);
//! ```
//!
//! where an unbatched scalar input is a `double` passed by value, an unbatched tensor a
//! `const double *` to its row-major elements, and a batched input a `const double *` to
//! its points (one after another) followed by a `size_t` point count. The result is written
//! to `out`: one `double` for a scalar, the row-major elements of a tensor, or the points of
//! a batched result, whose count is that of the batched input named by
//! [`Signature::result_batch_source`]. Every element type travels as `double` (`i64` and
//! `bool` values are integral). The return value is a [`Status`]; `out` must not overlap
//! any input.

use crate::CallError;
use sci_ir::validate::fits_dtype;
use sci_ir::{DType, FuncId, Module, Op, Tensor, Type};

/// Byte offsets of the fields of `sci_workspace` (`docs/abi.md`, `header::c_header`):
/// `double *base; size_t size, used, peak;` (sizes in doubles).
pub(crate) const WS_BASE: i32 = 0;
pub(crate) const WS_SIZE: i32 = 8;
pub(crate) const WS_USED: i32 = 16;
pub(crate) const WS_PEAK: i32 = 24;

/// The suffix of the workspace form of every function of an object file:
/// `int32_t sci_M_f_ws(ARGS..., double *out, sci_workspace *ws)` (`docs/abi.md`).
pub const WORKSPACE_SUFFIX: &str = "_ws";

/// The `out` parameter of a compiled function's parameters, and the caller's workspace
/// after it when the function takes one (the workspace form of an object file); `None` when
/// there is no `out`.
pub(crate) fn out_and_workspace<T: Copy>(params: &[T], workspace: bool) -> Option<(T, Option<T>)> {
    match *params {
        [.., out, ws] if workspace => Some((out, Some(ws))),
        [.., out] => Some((out, None)),
        [] => None,
    }
}

/// What a compiled function returns.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[repr(i32)]
pub enum Status {
    /// Success: `out` holds the result.
    Ok = 0,
    /// An `index` without a fill value was out of range.
    IndexOutOfRange = 1,
    /// A `map` read batched inputs with different numbers of points.
    BatchMismatch = 2,
    /// `reduce_batch max`, `min` or `mean` of a batch with no points.
    EmptyBatch = 3,
    /// A work buffer could not be allocated.
    OutOfMemory = 4,
}

impl Status {
    /// Every status, in code order.
    pub const ALL: [Status; 5] = [
        Status::Ok,
        Status::IndexOutOfRange,
        Status::BatchMismatch,
        Status::EmptyBatch,
        Status::OutOfMemory,
    ];

    /// The outcome of a call of `function` that returned `code`: `Ok`, or the error saying
    /// what failed (or that the code is unknown).
    pub(crate) fn call_result(function: &str, code: i32) -> Result<(), CallError> {
        match Status::from_code(code) {
            Some(Status::Ok) => Ok(()),
            Some(s) => Err(CallError::new(format!(
                "`{function}` failed: {}",
                s.message()
            ))),
            None => Err(CallError::new(format!(
                "`{function}` returned the unknown status {code}."
            ))),
        }
    }

    /// The status with this code.
    pub fn from_code(code: i32) -> Option<Status> {
        Status::ALL.into_iter().find(|s| *s as i32 == code)
    }

    /// The name used in C headers (`SCI_INDEX_OUT_OF_RANGE`).
    pub fn c_name(self) -> &'static str {
        match self {
            Status::Ok => "SCI_OK",
            Status::IndexOutOfRange => "SCI_INDEX_OUT_OF_RANGE",
            Status::BatchMismatch => "SCI_BATCH_MISMATCH",
            Status::EmptyBatch => "SCI_EMPTY_BATCH",
            Status::OutOfMemory => "SCI_OUT_OF_MEMORY",
        }
    }

    /// A sentence for users.
    pub fn message(self) -> &'static str {
        match self {
            Status::Ok => "The call succeeded.",
            Status::IndexOutOfRange => {
                "An index was out of range and the `index` has no fill value."
            }
            Status::BatchMismatch => {
                "A `map` read batched inputs with different numbers of points; batch size mismatch."
            }
            Status::EmptyBatch => {
                "`reduce_batch max`, `min` or `mean` of an empty batch has no value."
            }
            Status::OutOfMemory => "A work buffer could not be allocated (out of memory).",
        }
    }
}

/// One input or the result of a compiled function.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ArgSpec {
    /// The IR name of the input (`y`, `θ`, `pde.t`), or `in{k}` when it has none.
    pub name: String,
    pub dtype: DType,
    /// The per-point shape.
    pub shape: Vec<usize>,
    pub batched: bool,
}

impl ArgSpec {
    fn of(name: String, ty: &Type) -> ArgSpec {
        ArgSpec {
            name,
            dtype: ty.dtype,
            shape: ty.shape.clone(),
            batched: ty.batched,
        }
    }

    /// Elements per point (all elements when unbatched).
    pub fn per_point(&self) -> usize {
        sci_ir::types::element_count(&self.shape).unwrap_or(0)
    }

    /// True for an unbatched scalar, which the C ABI passes by value.
    pub fn by_value(&self) -> bool {
        self.shape.is_empty() && !self.batched
    }

    /// `f64[2, 3]`, `batch f64`.
    pub fn describe(&self) -> String {
        Type {
            dtype: self.dtype,
            shape: self.shape.clone(),
            batched: self.batched,
            unit: None,
        }
        .to_string()
    }
}

/// The inputs and result of a compiled function.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Signature {
    pub inputs: Vec<ArgSpec>,
    pub result: ArgSpec,
    /// For a batched result: the input whose point count the result has.
    pub result_batch_source: Option<usize>,
}

impl Signature {
    /// The signature of `func` in `module` (`None` for a handle not in the module).
    pub fn of(module: &Module, func: FuncId) -> Option<Signature> {
        let f = module.functions.get(func)?;
        let inputs = f
            .inputs()
            .iter()
            .enumerate()
            .filter_map(|(k, &id)| {
                let v = f.values.get(id)?;
                let name = v.name.clone().unwrap_or_else(|| format!("in{k}"));
                Some(ArgSpec::of(name, &v.ty))
            })
            .collect();
        let result = ArgSpec::of("out".into(), f.result_type()?);
        let result_batch_source = if result.batched {
            batch_source(module, func, 0)
        } else {
            None
        };
        Some(Signature {
            inputs,
            result,
            result_batch_source,
        })
    }

    /// Checks flat inputs against the signature and returns the point count of each input
    /// (1 for unbatched inputs).
    pub fn check_inputs(&self, function: &str, inputs: &[&[f64]]) -> Result<Vec<usize>, CallError> {
        let mut points = vec![0; inputs.len()];
        self.check_inputs_into(function, inputs, &mut points)?;
        Ok(points.into_iter().map(|n| n as usize).collect())
    }

    /// As [`Signature::check_inputs`], writing the point counts to `points` (at least one
    /// slot per input) rather than to a new vector: the JITs' calls allocate nothing.
    pub fn check_inputs_into(
        &self,
        function: &str,
        inputs: &[&[f64]],
        points: &mut [u64],
    ) -> Result<(), CallError> {
        if inputs.len() != self.inputs.len() {
            return Err(CallError::new(format!(
                "`{function}` takes {} inputs ({}) but {} were given.",
                self.inputs.len(),
                self.describe_inputs(),
                inputs.len()
            )));
        }
        if points.len() < inputs.len() {
            return Err(CallError::new(format!(
                "Internal error: {} point slots for the {} inputs of `{function}`.",
                points.len(),
                inputs.len()
            )));
        }
        for (k, ((spec, data), slot)) in self.inputs.iter().zip(inputs).zip(points).enumerate() {
            let per = spec.per_point();
            let n = if spec.batched {
                if per == 0 {
                    return Err(CallError::new(format!(
                        "Input {k} (`{}`) of `{function}` is a batch of empty points, which a flat \
                         slice cannot describe; pass a tensor with an explicit batch instead.",
                        spec.name
                    )));
                }
                if data.len() % per != 0 {
                    return Err(CallError::new(format!(
                        "Input {k} (`{}`) of `{function}` is a batch of points of {} elements \
                         each, but it has {} elements, which is not a whole number of points.",
                        spec.name,
                        per,
                        data.len()
                    )));
                }
                data.len() / per
            } else {
                if data.len() != per {
                    return Err(CallError::new(format!(
                        "Input {k} (`{}`) of `{function}` must have shape {} ({per} elements), \
                         but it has {} elements.",
                        spec.name,
                        spec.describe(),
                        data.len()
                    )));
                }
                1
            };
            if let Some(bad) = data.iter().find(|x| !fits_dtype(**x, spec.dtype)) {
                return Err(CallError::new(format!(
                    "Input {k} (`{}`) of `{function}` is {} but holds {bad:?}.",
                    spec.name, spec.dtype
                )));
            }
            *slot = n as u64;
        }
        Ok(())
    }

    /// Checks tensors (shape and batch flag) against the signature.
    pub fn check_tensors(&self, function: &str, args: &[Tensor]) -> Result<(), CallError> {
        if args.len() != self.inputs.len() {
            return Err(CallError::new(format!(
                "`{function}` takes {} inputs ({}) but {} were given.",
                self.inputs.len(),
                self.describe_inputs(),
                args.len()
            )));
        }
        for (k, (spec, t)) in self.inputs.iter().zip(args).enumerate() {
            let want_len = spec.per_point().checked_mul(t.batch.unwrap_or(1));
            if t.shape != spec.shape
                || t.batch.is_some() != spec.batched
                || want_len != Some(t.data.len())
            {
                return Err(CallError::new(format!(
                    "Input {k} (`{}`) of `{function}` must be {}, but it is {}.",
                    spec.name,
                    spec.describe(),
                    describe_tensor(t)
                )));
            }
            if spec.batched && spec.per_point() == 0 {
                return Err(CallError::new(format!(
                    "Input {k} (`{}`) of `{function}` is a batch of empty points, which compiled \
                     code cannot receive.",
                    spec.name
                )));
            }
        }
        Ok(())
    }

    /// The number of points of the result for these inputs (`None` if it is unbatched or
    /// the inputs are malformed).
    pub fn result_points(&self, inputs: &[&[f64]]) -> Option<usize> {
        let k = self.result_batch_source?;
        let per = self.inputs.get(k)?.per_point();
        inputs.get(k)?.len().checked_div(per)
    }

    /// The number of elements `out` must have for these inputs.
    pub fn result_len(&self, inputs: &[&[f64]]) -> Option<usize> {
        let per = self.result.per_point();
        if self.result.batched {
            per.checked_mul(self.result_points(inputs)?)
        } else {
            Some(per)
        }
    }

    /// `t: f64, y: f64[2]`.
    pub fn describe_inputs(&self) -> String {
        let parts: Vec<String> = self
            .inputs
            .iter()
            .map(|a| format!("{}: {}", a.name, a.describe()))
            .collect();
        parts.join(", ")
    }
}

fn describe_tensor(t: &Tensor) -> String {
    let shape: Vec<String> = t.shape.iter().map(|d| d.to_string()).collect();
    match t.batch {
        Some(p) => format!(
            "a batch of {p} points of shape [{}] with {} elements",
            shape.join(", "),
            t.data.len()
        ),
        None => format!(
            "a tensor of shape [{}] with {} elements",
            shape.join(", "),
            t.data.len()
        ),
    }
}

/// The input of `func` whose point count its batched result has: the first input of the
/// `map` that makes it, traced through calls.
pub fn batch_source(module: &Module, func: FuncId, depth: usize) -> Option<usize> {
    if depth > 64 {
        return None;
    }
    let f = module.functions.get(func)?;
    let mut v = f.body.result;
    // Bounded walk: each step moves to an earlier value.
    for _ in 0..f.values.len() + 1 {
        match &f.values.get(v)?.op {
            Op::Arg(_) => return f.inputs().iter().position(|&a| a == v),
            Op::Map { inputs, .. }
            | Op::TileMap {
                inputs,
                reduce: None,
                ..
            } => v = *inputs.first()?,
            Op::Call { func: callee, args } => {
                let k = batch_source(module, *callee, depth + 1)?;
                v = *args.get(k)?;
            }
            _ => return None,
        }
    }
    None
}

/// A C identifier made of `s`: letters, digits and `_` kept, everything else `_`, a leading
/// digit prefixed with `_`.
pub fn c_identifier(s: &str) -> String {
    let mut out: String = s
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
        .collect();
    while out.ends_with('_') && out.len() > 1 {
        out.pop();
    }
    if out.is_empty() || out.starts_with(|c: char| c.is_ascii_digit()) {
        out.insert(0, '_');
    }
    out
}

/// The C symbol of every function of `module`, in the module's order: `sci_M_f` with `M`
/// and `f` made C identifiers; a clash gets the function's index appended.
pub fn symbol_names(module: &Module) -> Vec<String> {
    let prefix = format!("sci_{}_", c_identifier(&module.name));
    let mut names: Vec<String> = Vec::new();
    // Each function also has its workspace form `NAME_ws`: no name may be another's.
    let taken = |names: &[String], name: &str| {
        names.iter().any(|n| {
            n == name
                || format!("{n}{WORKSPACE_SUFFIX}") == name
                || *n == format!("{name}{WORKSPACE_SUFFIX}")
        })
    };
    for (id, f) in module.functions.iter() {
        let mut name = format!("{prefix}{}", c_identifier(&f.name));
        if taken(&names, &name) {
            name = format!("{name}_{}", id.index());
        }
        names.push(name);
    }
    names
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn identifiers_are_c_identifiers() {
        assert_eq!(c_identifier("residual.pde"), "residual_pde");
        assert_eq!(c_identifier("rosenbrock[4]"), "rosenbrock_4");
        assert_eq!(c_identifier("θ"), "_");
        assert_eq!(c_identifier("2x"), "_2x");
    }

    #[test]
    fn no_symbol_is_another_functions_workspace_form() {
        let m = sci_ir::read_module(
            sci_diag::FileId(0),
            "module M\nfunc f(%x: f64) -> f64 {\n  return %x\n}\n\
             func f_ws(%x: f64) -> f64 {\n  return %x\n}\n",
        )
        .unwrap();
        let names = symbol_names(&m);
        assert_eq!(names[0], "sci_M_f");
        assert_ne!(names[1], "sci_M_f_ws");
    }

    #[test]
    fn status_codes_round_trip() {
        for s in Status::ALL {
            assert_eq!(Status::from_code(s as i32), Some(s));
        }
        assert_eq!(Status::from_code(99), None);
    }
}
