//! The reference interpreter: the numeric oracle for every back end and derivative.
//!
//! It evaluates a validated module op by op in `f64` (the semantics are in `docs/ir.md`):
//! `f32` results are rounded through `f32` after every op, `i64` and `bool` values are
//! stored as integral `f64`s, sums run left to right, transcendental functions come from
//! `libm`. It is written to be obviously right, not fast.
//!
//! It never panics: invalid IR, bad arguments, out-of-range indices without `fill`, empty
//! batches, unexpanded `deriv`s and too-deep nesting all become an [`EvalError`].

mod kernels;
mod tensor;

pub use kernels::{cast, max_nan, min_nan, round_f32, sigmoid, softplus};
pub use tensor::{Tensor, close};

use crate::module::{Block, FuncId, Function, Module, Value, ValueId};
use crate::op::Op;
use crate::types::{DType, Type, element_count};
use crate::validate::{ValidationError, fits_dtype, validate_module};
use kernels::Reducer;
use std::cell::Cell;
use std::fmt;
use tensor::show_shape;

/// Deepest nesting of calls plus blocks the interpreter follows.
pub const MAX_EVAL_DEPTH: usize = 128;

/// Largest number of elements one value may have, to keep memory bounded.
pub const MAX_ELEMENTS: usize = 1 << 26;

/// Why evaluation failed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EvalError {
    /// A full sentence saying what went wrong.
    pub message: String,
}

impl EvalError {
    /// An error with the given message.
    pub fn new(message: impl Into<String>) -> EvalError {
        EvalError {
            message: message.into(),
        }
    }
}

impl fmt::Display for EvalError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for EvalError {}

impl From<Vec<ValidationError>> for EvalError {
    fn from(errors: Vec<ValidationError>) -> EvalError {
        let lines: Vec<String> = errors.iter().map(|e| e.to_string()).collect();
        EvalError::new(format!(
            "The module is not valid IR, so it cannot be evaluated: {}",
            lines.join("; ")
        ))
    }
}

/// Validates `module` and evaluates `func` on `args`.
pub fn eval(module: &Module, func: FuncId, args: &[Tensor]) -> Result<Tensor, EvalError> {
    Interpreter::new(module)?.call(func, args)
}

/// An interpreter over a module validated once, for evaluating many calls.
pub struct Interpreter<'m> {
    module: &'m Module,
    /// Ops evaluated so far, across calls.
    steps: Cell<u64>,
    step_limit: u64,
}

impl<'m> Interpreter<'m> {
    /// Validates `module`.
    pub fn new(module: &'m Module) -> Result<Interpreter<'m>, EvalError> {
        validate_module(module)?;
        Ok(Interpreter {
            module,
            steps: Cell::new(0),
            step_limit: u64::MAX,
        })
    }

    /// Stops evaluation with an error once `limit` ops have been evaluated in total
    /// (property tests use this to bound the work of random programs).
    pub fn with_step_limit(mut self, limit: u64) -> Interpreter<'m> {
        self.step_limit = limit;
        self
    }

    fn step(&self) -> Result<(), EvalError> {
        let n = self.steps.get().saturating_add(1);
        self.steps.set(n);
        if n > self.step_limit {
            return Err(EvalError::new(format!(
                "Evaluation stopped after {} ops (the step limit).",
                self.step_limit
            )));
        }
        Ok(())
    }

    /// Evaluates `func` on `args`.
    pub fn call(&self, func: FuncId, args: &[Tensor]) -> Result<Tensor, EvalError> {
        self.call_at(func, args, 0)
    }

    /// Evaluates the function called `name`.
    pub fn call_named(&self, name: &str, args: &[Tensor]) -> Result<Tensor, EvalError> {
        let func = self
            .module
            .function(name)
            .ok_or_else(|| EvalError::new(format!("The module has no function named `{name}`.")))?;
        self.call(func, args)
    }

    fn call_at(&self, func: FuncId, args: &[Tensor], depth: usize) -> Result<Tensor, EvalError> {
        let f = self.module.functions.get(func).ok_or_else(|| {
            EvalError::new(format!(
                "There is no function #{} in the module.",
                func.index()
            ))
        })?;
        if depth > MAX_EVAL_DEPTH {
            return Err(EvalError::new(format!(
                "Calls and blocks are nested more than {MAX_EVAL_DEPTH} deep (stack depth limit)."
            )));
        }
        if args.len() != f.inputs().len() {
            return Err(EvalError::new(format!(
                "`{}` takes {} arguments but {} were given.",
                f.name,
                f.inputs().len(),
                args.len()
            )));
        }
        let mut frame = Frame {
            f,
            env: vec![None; f.values.len()],
            depth,
        };
        for (k, (&id, arg)) in f.inputs().iter().zip(args).enumerate() {
            let ty = &value(f, id)?.ty;
            check_arg(f, k, ty, arg)?;
            let mut arg = arg.clone();
            if ty.dtype == DType::F32 {
                arg.data.iter_mut().for_each(|x| *x = round_f32(*x));
            }
            frame.set(id, arg);
        }
        frame.run(self, &f.body)?;
        frame.take(f.body.result)
    }
}

fn check_arg(f: &Function, k: usize, ty: &Type, arg: &Tensor) -> Result<(), EvalError> {
    let describe = |t: &Tensor| match t.batch {
        Some(p) => format!("a batch of {p} points of shape {}", show_shape(&t.shape)),
        None => format!("shape {}", show_shape(&t.shape)),
    };
    let want = if ty.batched {
        format!("a batch of points of shape {}", show_shape(&ty.shape))
    } else {
        format!("shape {}", show_shape(&ty.shape))
    };
    let points = arg.batch.unwrap_or(1);
    if arg.shape != ty.shape
        || arg.batch.is_some() != ty.batched
        || element_count(&arg.shape).and_then(|c| c.checked_mul(points)) != Some(arg.data.len())
    {
        return Err(EvalError::new(format!(
            "Argument {k} of `{}` must have {want}, but it has {} with {} elements.",
            f.name,
            describe(arg),
            arg.data.len()
        )));
    }
    if let Some(bad) = arg.data.iter().find(|x| !fits_dtype(**x, ty.dtype)) {
        return Err(EvalError::new(format!(
            "Argument {k} of `{}` is {} but holds {bad:?}.",
            f.name, ty.dtype
        )));
    }
    Ok(())
}

fn value(f: &Function, id: ValueId) -> Result<&Value, EvalError> {
    f.values
        .get(id)
        .ok_or_else(|| EvalError::new(format!("internal error: %{} is out of range", id.index())))
}

/// The values of one function invocation.
struct Frame<'f> {
    f: &'f Function,
    env: Vec<Option<Tensor>>,
    depth: usize,
}

impl<'f> Frame<'f> {
    fn set(&mut self, id: ValueId, t: Tensor) {
        if let Some(slot) = self.env.get_mut(id.index()) {
            *slot = Some(t);
        }
    }

    fn get(&self, id: ValueId) -> Result<&Tensor, EvalError> {
        self.env
            .get(id.index())
            .and_then(|t| t.as_ref())
            .ok_or_else(|| {
                EvalError::new(format!(
                    "internal error: %{} is used before it is computed",
                    id.index()
                ))
            })
    }

    fn take(&self, id: ValueId) -> Result<Tensor, EvalError> {
        self.get(id).cloned()
    }

    /// Evaluates the body of `block` (its arguments must be set).
    fn run(&mut self, interp: &Interpreter<'_>, block: &'f Block) -> Result<(), EvalError> {
        for &id in &block.body {
            interp.step()?;
            let v = value(self.f, id)?;
            let mut t = self.eval(interp, v)?;
            if v.ty.dtype == DType::F32 {
                for x in &mut t.data {
                    *x = round_f32(*x);
                }
            }
            self.set(id, t);
        }
        Ok(())
    }

    /// Runs `block` with the given arguments and returns its result.
    fn run_block(
        &mut self,
        interp: &Interpreter<'_>,
        block: &'f Block,
        args: Vec<Tensor>,
    ) -> Result<Tensor, EvalError> {
        for (&a, t) in block.args.iter().zip(args) {
            self.set(a, t);
        }
        self.run(interp, block)?;
        self.take(block.result)
    }

    fn eval(&mut self, interp: &Interpreter<'_>, v: &'f Value) -> Result<Tensor, EvalError> {
        let ty = &v.ty;
        match &v.op {
            Op::Arg(k) => Err(EvalError::new(format!(
                "internal error: `arg {k}` outside a block's arguments"
            ))),
            Op::Const(x) => Ok(Tensor::scalar(*x)),
            Op::Literal(xs) => Tensor::new(ty.shape.clone(), xs.clone()),
            Op::Unary(op, a) => Ok(map1(self.get(*a)?, |x| kernels::unary(*op, x))),
            Op::Binary(op, a, b) => map2(self.get(*a)?, self.get(*b)?, |x, y| {
                kernels::binary(*op, x, y)
            }),
            Op::Powi(a, n) => Ok(map1(self.get(*a)?, |x| kernels::powi(x, *n))),
            Op::Compare(op, a, b) => map2(self.get(*a)?, self.get(*b)?, |x, y| {
                kernels::compare(*op, x, y)
            }),
            Op::Select(c, a, b) => {
                let (c, a, b) = (self.get(*c)?, self.get(*a)?, self.get(*b)?);
                let data = c
                    .data
                    .iter()
                    .zip(a.data.iter().zip(&b.data))
                    .map(|(c, (a, b))| if *c != 0.0 { *a } else { *b })
                    .collect();
                Tensor::new(a.shape.clone(), data)
            }
            Op::Cast(a) => Ok(map1(self.get(*a)?, |x| kernels::cast(x, ty.dtype))),
            Op::Broadcast(a) => broadcast(self.get(*a)?, &ty.shape),
            Op::Index {
                array,
                indices,
                fill,
            } => {
                let idx: Vec<f64> = indices
                    .iter()
                    .map(|i| self.get(*i).map(|t| t.as_scalar().unwrap_or(-1.0)))
                    .collect::<Result<_, _>>()?;
                index(self.get(*array)?, &idx, *fill)
            }
            Op::Slice { array, start, len } => {
                let a = self.get(*array)?;
                let sub = element_count(a.shape.get(1..).unwrap_or(&[])).unwrap_or(0);
                let data = a
                    .data
                    .get(start.saturating_mul(sub)..start.saturating_add(*len).saturating_mul(sub))
                    .ok_or_else(|| EvalError::new("internal error: slice out of range"))?;
                Tensor::new(ty.shape.clone(), data.to_vec())
            }
            Op::Concat(parts) => {
                let mut data = Vec::new();
                for p in parts {
                    data.extend_from_slice(&self.get(*p)?.data);
                }
                Tensor::new(ty.shape.clone(), data)
            }
            Op::Reshape(a) => Tensor::new(ty.shape.clone(), self.get(*a)?.data.clone()),
            Op::Transpose(a) => {
                let a = self.get(*a)?;
                let (m, n) = match a.shape[..] {
                    [m, n] => (m, n),
                    _ => return Err(EvalError::new("internal error: transpose of a non-matrix")),
                };
                let mut data = Vec::with_capacity(m * n);
                for j in 0..n {
                    for i in 0..m {
                        data.push(a.data.get(i * n + j).copied().unwrap_or(f64::NAN));
                    }
                }
                Tensor::new(vec![n, m], data)
            }
            Op::Dot(a, b) | Op::MatVec(a, b) | Op::MatMul(a, b) => {
                let (a, b) = (self.get(*a)?, self.get(*b)?);
                // Every product shape is [m, k] × [k, n] with m or n possibly absent.
                let (m, k) = match a.shape[..] {
                    [k] => (1, k),
                    [m, k] => (m, k),
                    _ => return Err(EvalError::new("internal error: bad linear algebra shape")),
                };
                let n = match b.shape[..] {
                    [_] => 1,
                    [_, n] => n,
                    _ => return Err(EvalError::new("internal error: bad linear algebra shape")),
                };
                let mut data = Vec::with_capacity(m * n);
                for i in 0..m {
                    for j in 0..n {
                        let mut acc = 0.0;
                        for l in 0..k {
                            let x = a.data.get(i * k + l).copied().unwrap_or(f64::NAN);
                            let y = b.data.get(l * n + j).copied().unwrap_or(f64::NAN);
                            acc += x * y;
                        }
                        data.push(acc);
                    }
                }
                Tensor::new(ty.shape.clone(), data)
            }
            Op::Reduce(op, a) => {
                let a = self.get(*a)?;
                let mut r = Reducer::new(*op, 1);
                for x in &a.data {
                    r.push(std::slice::from_ref(x));
                }
                let out = r.finish().ok_or_else(|| {
                    EvalError::new(format!(
                        "`reduce {}` of an empty tensor has no value.",
                        op.name()
                    ))
                })?;
                Tensor::new(Vec::new(), out)
            }
            Op::Tabulate { extents, body } => self.tabulate(interp, ty, extents, body),
            Op::Fold { op, extent, body } => self.nested(|frame| {
                let width = element_count(&ty.shape).unwrap_or(0);
                let mut r = Reducer::new(*op, width);
                for i in 0..*extent {
                    let item = frame.run_block(interp, body, vec![Tensor::scalar(i as f64)])?;
                    r.push(&item.data);
                }
                let out = r.finish().ok_or_else(|| {
                    EvalError::new(format!(
                        "`fold {}` over zero iterations has no value.",
                        op.name()
                    ))
                })?;
                Tensor::new(ty.shape.clone(), out)
            }),
            Op::Map { inputs, body } => self.map(interp, ty, inputs, body),
            Op::ReduceBatch(op, a) => {
                let a = self.get(*a)?;
                let points = a.batch.unwrap_or(0);
                let mut r = Reducer::new(*op, a.elements());
                for p in 0..points {
                    r.push(a.point(p).unwrap_or(&[]));
                }
                let out = r.finish().ok_or_else(|| {
                    EvalError::new(format!(
                        "`reduce_batch {}` of an empty batch has no value.",
                        op.name()
                    ))
                })?;
                Tensor::new(a.shape.clone(), out)
            }
            Op::Call { func, args } => {
                let args: Vec<Tensor> = args
                    .iter()
                    .map(|a| self.take(*a))
                    .collect::<Result<_, _>>()?;
                interp.call_at(*func, &args, self.depth + 1)
            }
            Op::Deriv { .. } => Err(EvalError::new(
                "The function still contains a `deriv` placeholder; run the AD pass before evaluating it.",
            )),
        }
    }

    /// Runs `body` one level deeper, enforcing the depth limit.
    fn nested<T>(
        &mut self,
        body: impl FnOnce(&mut Self) -> Result<T, EvalError>,
    ) -> Result<T, EvalError> {
        if self.depth >= MAX_EVAL_DEPTH {
            return Err(EvalError::new(format!(
                "Calls and blocks are nested more than {MAX_EVAL_DEPTH} deep (stack depth limit)."
            )));
        }
        self.depth += 1;
        let out = body(self);
        self.depth -= 1;
        out
    }

    fn tabulate(
        &mut self,
        interp: &Interpreter<'_>,
        ty: &Type,
        extents: &[usize],
        body: &'f Block,
    ) -> Result<Tensor, EvalError> {
        let total = checked_elements(&ty.shape)?;
        let points = element_count(extents).unwrap_or(0);
        let per = total.checked_div(points).unwrap_or(0);
        self.nested(|frame| {
            let mut data = Vec::with_capacity(total);
            let mut idx = vec![0usize; extents.len()];
            for _ in 0..points {
                let args = idx.iter().map(|&i| Tensor::scalar(i as f64)).collect();
                let item = frame.run_block(interp, body, args)?;
                if item.data.len() != per {
                    return Err(EvalError::new(
                        "internal error: tabulate body has the wrong size",
                    ));
                }
                data.extend_from_slice(&item.data);
                // Row-major: the last index runs fastest.
                for (i, &e) in idx.iter_mut().zip(extents).rev() {
                    *i += 1;
                    if *i < e {
                        break;
                    }
                    *i = 0;
                }
            }
            Tensor::new(ty.shape.clone(), data)
        })
    }

    fn map(
        &mut self,
        interp: &Interpreter<'_>,
        ty: &Type,
        inputs: &[ValueId],
        body: &'f Block,
    ) -> Result<Tensor, EvalError> {
        let ins: Vec<Tensor> = inputs
            .iter()
            .map(|i| self.take(*i))
            .collect::<Result<_, _>>()?;
        let points = ins.first().and_then(|t| t.batch).unwrap_or(0);
        for t in &ins {
            if t.batch != Some(points) {
                return Err(EvalError::new(format!(
                    "`map` inputs have different numbers of points ({} and {}); batch size mismatch.",
                    points,
                    t.batch.unwrap_or(0)
                )));
            }
        }
        let per = checked_elements(&ty.shape)?;
        if per.checked_mul(points).is_none_or(|n| n > MAX_ELEMENTS) {
            return Err(EvalError::new(
                "The result of `map` would be too large to evaluate.",
            ));
        }
        self.nested(|frame| {
            let mut data = Vec::with_capacity(per * points);
            for p in 0..points {
                let args = ins
                    .iter()
                    .map(|t| Tensor::new(t.shape.clone(), t.point(p).unwrap_or(&[]).to_vec()))
                    .collect::<Result<Vec<_>, _>>()?;
                let item = frame.run_block(interp, body, args)?;
                data.extend_from_slice(&item.data);
            }
            Tensor::batch(ty.shape.clone(), points, data)
        })
    }
}

fn checked_elements(shape: &[usize]) -> Result<usize, EvalError> {
    element_count(shape)
        .filter(|n| *n <= MAX_ELEMENTS)
        .ok_or_else(|| {
            EvalError::new(format!(
                "A value of shape {} is too large for the interpreter (limit {MAX_ELEMENTS} elements).",
                show_shape(shape)
            ))
        })
}

fn map1(a: &Tensor, f: impl Fn(f64) -> f64) -> Tensor {
    Tensor {
        shape: a.shape.clone(),
        batch: None,
        data: a.data.iter().map(|x| f(*x)).collect(),
    }
}

fn map2(a: &Tensor, b: &Tensor, f: impl Fn(f64, f64) -> f64) -> Result<Tensor, EvalError> {
    if a.data.len() != b.data.len() {
        return Err(EvalError::new(
            "internal error: elementwise operands differ in size",
        ));
    }
    Ok(Tensor {
        shape: a.shape.clone(),
        batch: None,
        data: a.data.iter().zip(&b.data).map(|(x, y)| f(*x, *y)).collect(),
    })
}

/// Numpy broadcasting of `a` to `shape` (trailing axes aligned; extent-1 axes repeat).
fn broadcast(a: &Tensor, shape: &[usize]) -> Result<Tensor, EvalError> {
    let total = checked_elements(shape)?;
    let offset = shape.len().saturating_sub(a.shape.len());
    // Strides of `a`, aligned with the trailing axes of `shape`; 0 on repeated axes.
    let mut strides = vec![0usize; shape.len()];
    let mut stride = 1usize;
    for (i, &n) in a.shape.iter().enumerate().rev() {
        if let Some(s) = strides.get_mut(i + offset) {
            *s = if n == 1 { 0 } else { stride };
        }
        stride = stride.saturating_mul(n);
    }
    let mut data = Vec::with_capacity(total);
    let mut idx = vec![0usize; shape.len()];
    for _ in 0..total {
        let src: usize = idx.iter().zip(&strides).map(|(i, s)| i * s).sum();
        data.push(a.data.get(src).copied().unwrap_or(f64::NAN));
        for (i, &e) in idx.iter_mut().zip(shape).rev() {
            *i += 1;
            if *i < e {
                break;
            }
            *i = 0;
        }
    }
    Tensor::new(shape.to_vec(), data)
}

/// The sub-tensor of `a` at the leading indices `idx`, or `fill` when one is out of range.
fn index(a: &Tensor, idx: &[f64], fill: Option<f64>) -> Result<Tensor, EvalError> {
    let rest = a.shape.get(idx.len()..).unwrap_or(&[]).to_vec();
    let sub = element_count(&rest).unwrap_or(0);
    let mut offset = 0usize;
    for (axis, (&i, &n)) in idx.iter().zip(&a.shape).enumerate() {
        if !(i >= 0.0 && i < n as f64) {
            return match fill {
                Some(x) => Tensor::new(rest, vec![x; sub]),
                None => Err(EvalError::new(format!(
                    "Index {} is out of range for axis {axis} of length {n}, and the `index` has no fill value.",
                    crate::print::format_f64(i)
                ))),
            };
        }
        offset = offset * n + i as usize;
    }
    let start = offset * sub;
    let data = a
        .data
        .get(start..start + sub)
        .ok_or_else(|| EvalError::new("internal error: index out of range"))?;
    Tensor::new(rest, data.to_vec())
}
