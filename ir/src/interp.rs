//! The reference interpreter: the numeric oracle for every back end and derivative.
//!
//! It evaluates a validated module op by op in `f64` (the semantics are in `docs/ir.md`):
//! `f32` results are rounded through `f32` after every op, `i64` and `bool` values are
//! stored as integral `f64`s, sums run left to right, transcendental functions come from
//! `libm`. It is written to be obviously right, not fast.
//!
//! It never panics: invalid IR, bad arguments, out-of-range indices without `fill`, empty
//! batches, unexpanded `deriv`s and too-deep nesting all become an [`EvalError`].
//!
//! With an offload ([`Interpreter::with_offload`], see [`offload`]) the batched `map`s at
//! the top level of functions (the kernel sites of [`crate::kernels`]) run elsewhere, a GPU
//! for instance, and the interpreter evaluates only the host work around them.

mod kernels;
pub mod offload;
mod tensor;

pub use kernels::{
    INV_SQRT_2PI, PowiForm, cast, dgelu, gelu, max_nan, min_nan, powi, round_f32, sigmoid, softplus,
};
pub use offload::{MapOffload, SiteResult};
pub use tensor::{Tensor, close};

use crate::kernels::{KernelSite, kernel_sites};
use crate::module::{Block, FuncId, Function, Module, Value, ValueId};
use crate::op::{Op, ReduceOp};
use crate::types::{DType, Type, element_count};
use crate::validate::{ValidationError, fits_dtype, validate_module};
use kernels::Reducer;
use offload::Offload;
use std::borrow::Cow;
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

/// A module that passed [`validate_module`], kept unchangeable so that it stays valid:
/// [`Interpreter::of_valid`] evaluates it without validating it again.
#[derive(Clone, Debug, PartialEq)]
pub struct ValidModule(Module);

impl ValidModule {
    /// Validates `module`.
    pub fn new(module: Module) -> Result<ValidModule, EvalError> {
        Ok(ValidModule::validate(module)?)
    }

    /// Validates `module`, returning every validation error when it is not valid.
    pub fn validate(module: Module) -> Result<ValidModule, Vec<ValidationError>> {
        validate_module(&module)?;
        Ok(ValidModule(module))
    }

    /// The module.
    pub fn module(&self) -> &Module {
        &self.0
    }

    /// The module back.
    pub fn into_inner(self) -> Module {
        self.0
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
    /// Where kernel sites run, when not here.
    offload: Option<Offload<'m>>,
}

impl<'m> Interpreter<'m> {
    /// Validates `module`.
    pub fn new(module: &'m Module) -> Result<Interpreter<'m>, EvalError> {
        validate_module(module)?;
        Ok(Interpreter {
            module,
            steps: Cell::new(0),
            step_limit: u64::MAX,
            offload: None,
        })
    }

    /// An interpreter over a module validated when it was wrapped (no second validation:
    /// hosts that keep a module and evaluate each call with a fresh interpreter).
    pub fn of_valid(module: &'m ValidModule) -> Interpreter<'m> {
        Interpreter {
            module: &module.0,
            steps: Cell::new(0),
            step_limit: u64::MAX,
            offload: None,
        }
    }

    /// Hands every kernel site ([`kernel_sites`] of the module) to `offload` instead of
    /// evaluating it here (see [`offload`]).
    pub fn with_offload(mut self, offload: &'m dyn MapOffload) -> Interpreter<'m> {
        self.offload = Some(Offload {
            hook: offload,
            sites: Cow::Owned(kernel_sites(self.module)),
        });
        self
    }

    /// [`Interpreter::with_offload`] with the module's sites computed beforehand (a host
    /// that evaluates many calls finds them once). Only maps listed in `sites` are
    /// offloaded; each must be a site of this module as [`kernel_sites`] gives it.
    pub fn with_offload_sites(
        mut self,
        offload: &'m dyn MapOffload,
        sites: &'m [KernelSite],
    ) -> Interpreter<'m> {
        self.offload = Some(Offload {
            hook: offload,
            sites: Cow::Borrowed(sites),
        });
        self
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
        let mut frame = Frame::new(func, f, depth);
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

    /// Evaluates kernel site `site` on the host, as the plain interpreter evaluates its map
    /// (and, for a fused site, the `reduce_batch` after it): the reference for
    /// [`MapOffload`]s. `inputs` are the map's batched inputs and `captures` the values of
    /// `site.captures`, in order. The answer is flat, as [`MapOffload::run_site`] answers.
    pub fn eval_site(
        &self,
        site: &KernelSite,
        inputs: &[&Tensor],
        captures: &[&Tensor],
    ) -> Result<Vec<f64>, EvalError> {
        let f = self.module.functions.get(site.func).ok_or_else(|| {
            EvalError::new(format!(
                "There is no function #{} in the module.",
                site.func.index()
            ))
        })?;
        let map = value(f, site.map)?;
        let Op::Map { inputs: ids, .. } = &map.op else {
            return Err(EvalError::new(format!(
                "internal error: %{} is not a map",
                site.map.index()
            )));
        };
        if ids.len() != inputs.len() || site.captures.len() != captures.len() {
            return Err(EvalError::new(format!(
                "The site `{}` takes {} inputs and {} captures, but {} and {} were given.",
                site.name,
                ids.len(),
                site.captures.len(),
                inputs.len(),
                captures.len()
            )));
        }
        let mut frame = Frame::new(site.func, f, 0);
        for (&id, t) in ids
            .iter()
            .zip(inputs)
            .chain(site.captures.iter().zip(captures))
        {
            frame.set(id, (*t).clone());
        }
        let mut t = frame.eval(self, map)?;
        round_if_f32(&map.ty, &mut t);
        let Some((_, reduce)) = site.reduce else {
            return Ok(t.data);
        };
        frame.set(site.map, t);
        let r = value(f, reduce)?;
        let mut t = frame.eval(self, r)?;
        round_if_f32(&r.ty, &mut t);
        Ok(t.data)
    }

    /// The site whose map is value `id` of `func`, when sites are offloaded.
    fn site(&self, func: FuncId, id: ValueId) -> Option<(&dyn MapOffload, &KernelSite)> {
        let offload = self.offload.as_ref()?;
        Some((offload.hook, offload.site(func, id)?))
    }
}

/// Rounds every element through `f32` when `ty` is `f32` (after every op, as documented).
fn round_if_f32(ty: &Type, t: &mut Tensor) {
    if ty.dtype == DType::F32 {
        t.data.iter_mut().for_each(|x| *x = round_f32(*x));
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
    func: FuncId,
    f: &'f Function,
    env: Vec<Option<Tensor>>,
    depth: usize,
    /// Top-level `reduce_batch`es whose value an offloaded fused site already stored.
    precomputed: Vec<ValueId>,
}

impl<'f> Frame<'f> {
    fn new(func: FuncId, f: &'f Function, depth: usize) -> Frame<'f> {
        Frame {
            func,
            f,
            env: vec![None; f.values.len()],
            depth,
            precomputed: Vec::new(),
        }
    }

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
            if self.precomputed.contains(&id) {
                continue;
            }
            let v = value(self.f, id)?;
            if matches!(v.op, Op::Map { .. })
                && let Some((hook, site)) = interp.site(self.func, id)
                && self.offload(hook, site, v)?
            {
                continue;
            }
            let mut t = self.eval(interp, v)?;
            round_if_f32(&v.ty, &mut t);
            self.set(id, t);
        }
        Ok(())
    }

    /// Hands the map `v` (kernel site `site`) to `hook`; false when the site is left to
    /// the interpreter (an empty batch, or the hook declined).
    fn offload(
        &mut self,
        hook: &dyn MapOffload,
        site: &KernelSite,
        v: &'f Value,
    ) -> Result<bool, EvalError> {
        let Op::Map { inputs, .. } = &v.op else {
            return Ok(false);
        };
        let ins: Vec<&Tensor> = inputs
            .iter()
            .map(|i| self.get(*i))
            .collect::<Result<_, _>>()?;
        let points = batch_points(&ins)?;
        let per = checked_elements(&v.ty.shape)?;
        if per.checked_mul(points).is_none_or(|n| n > MAX_ELEMENTS) {
            return Err(EvalError::new(
                "The result of `map` would be too large to evaluate.",
            ));
        }
        if points == 0 {
            return Ok(false);
        }
        let caps: Vec<&Tensor> = site
            .captures
            .iter()
            .map(|c| self.get(*c))
            .collect::<Result<_, _>>()?;
        let data = match hook.run_site(site, &ins, &caps)? {
            SiteResult::Done(data) => data,
            SiteResult::Declined => return Ok(false),
        };
        let (id, ty, t) = match site.reduce {
            Some((_, reduce)) => {
                let ty = &value(self.f, reduce)?.ty;
                (reduce, ty, Tensor::new(ty.shape.clone(), data))
            }
            None => (
                site.map,
                &v.ty,
                Tensor::batch(v.ty.shape.clone(), points, data),
            ),
        };
        let mut t = t.map_err(|e| {
            EvalError::new(format!(
                "The offload answered the wrong size for the kernel site `{}`: {}",
                site.name, e.message
            ))
        })?;
        round_if_f32(ty, &mut t);
        self.set(id, t);
        if id != site.map {
            self.precomputed.push(id);
        }
        Ok(true)
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
            Op::Rfft { signal, modes } => {
                let a = self.get(*signal)?;
                let n = a.shape.last().copied().unwrap_or(1);
                Tensor::new(ty.shape.clone(), crate::spectral::rfft(&a.data, n, *modes))
            }
            Op::Rfft2 { signal, modes } => {
                let a = self.get(*signal)?;
                let n = match a.shape[..] {
                    [.., n1, n2] => [n1, n2],
                    _ => return Err(EvalError::new("internal error: rfft2 of a non-matrix")),
                };
                Tensor::new(ty.shape.clone(), crate::spectral::rfft2(&a.data, n, *modes))
            }
            Op::Irfft2 { spectrum, n } => {
                let a = self.get(*spectrum)?;
                let m = match a.shape[..] {
                    [.., rows, m2] => [rows, m2],
                    _ => return Err(EvalError::new("internal error: irfft2 of a non-matrix")),
                };
                Tensor::new(ty.shape.clone(), crate::spectral::irfft2(&a.data, m, *n))
            }
            Op::Irfft { spectrum, n } => {
                let a = self.get(*spectrum)?;
                let m = a.shape.last().copied().unwrap_or(1);
                Tensor::new(ty.shape.clone(), crate::spectral::irfft(&a.data, m, *n))
            }
            Op::Transpose(a) => {
                let a = self.get(*a)?;
                let (batch, m, n) = match &a.shape[..] {
                    [batch @ .., m, n] => (batch, *m, *n),
                    _ => return Err(EvalError::new("internal error: transpose of a non-matrix")),
                };
                let count: usize = batch.iter().product();
                let mut data = Vec::with_capacity(count * m * n);
                for b in 0..count {
                    let base = b * m * n;
                    for j in 0..n {
                        for i in 0..m {
                            data.push(a.data.get(base + i * n + j).copied().unwrap_or(f64::NAN));
                        }
                    }
                }
                Tensor::new(ty.shape.clone(), data)
            }
            Op::Dot(a, b) | Op::MatVec(a, b) | Op::MatMul(a, b) => {
                let (a, b) = (self.get(*a)?, self.get(*b)?);
                // Every product shape is a batch of [m, k] × [k, n] with m or n possibly
                // absent (the batch axes lead and are the same in both operands).
                let (batch, m, k) = match &a.shape[..] {
                    [k] => (&[][..], 1, *k),
                    [batch @ .., m, k] => (batch, *m, *k),
                    _ => return Err(EvalError::new("internal error: bad linear algebra shape")),
                };
                let n = match b.shape[..] {
                    [_] => 1,
                    [.., _, n] => n,
                    _ => return Err(EvalError::new("internal error: bad linear algebra shape")),
                };
                let count: usize = batch.iter().product();
                let mut data = Vec::with_capacity(count * m * n);
                for p in 0..count {
                    let (ab, bb) = (p * m * k, p * k * n);
                    for i in 0..m {
                        for j in 0..n {
                            let mut acc = 0.0;
                            for l in 0..k {
                                let x = a.data.get(ab + i * k + l).copied().unwrap_or(f64::NAN);
                                let y = b.data.get(bb + l * n + j).copied().unwrap_or(f64::NAN);
                                acc += x * y;
                            }
                            data.push(acc);
                        }
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
            Op::TileMap {
                inputs,
                lanes,
                reduce,
                body,
            } => self.tile_map(interp, ty, inputs, *lanes, *reduce, body),
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
        let (ins, points, per) = self.batch_inputs(inputs, ty, 1, "map")?;
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

    /// The batched inputs of a `map` or `tile_map` (`op`), their common number of points, and
    /// the elements per point of its result type `ty`; the result (`points` points) and one
    /// tile (`lanes` points) must fit the size limit.
    fn batch_inputs(
        &mut self,
        inputs: &[ValueId],
        ty: &Type,
        lanes: usize,
        op: &str,
    ) -> Result<(Vec<Tensor>, usize, usize), EvalError> {
        let ins: Vec<Tensor> = inputs
            .iter()
            .map(|i| self.take(*i))
            .collect::<Result<_, _>>()?;
        let points = batch_points(&ins.iter().collect::<Vec<_>>())?;
        let per = checked_elements(&ty.shape)?;
        let fits = |count: usize| per.checked_mul(count).is_some_and(|n| n <= MAX_ELEMENTS);
        if !fits(points) || !fits(lanes) {
            return Err(EvalError::new(format!(
                "The result of `{op}` would be too large to evaluate."
            )));
        }
        Ok((ins, points, per))
    }

    /// `tile_map`: see [`Op::TileMap`] for the layout of tiles and the padding.
    fn tile_map(
        &mut self,
        interp: &Interpreter<'_>,
        ty: &Type,
        inputs: &[ValueId],
        lanes: usize,
        reduce: Option<ReduceOp>,
        body: &'f Block,
    ) -> Result<Tensor, EvalError> {
        let (ins, points, per) = self.batch_inputs(inputs, ty, lanes, "tile_map")?;
        let tiles = points.div_ceil(lanes);
        self.nested(|frame| {
            let mut data = Vec::with_capacity(if reduce.is_some() { 0 } else { per * points });
            // A mean adds the partials up and divides by the number of points at the end.
            let combine = |op| match op {
                ReduceOp::Mean => ReduceOp::Sum,
                op => op,
            };
            let mut partials = reduce.map(|op| Reducer::new(combine(op), per));
            for k in 0..tiles {
                let mut args = Vec::with_capacity(ins.len() + 1);
                for t in &ins {
                    let width = t.elements();
                    let mut tile = vec![0.0; width * lanes];
                    for l in 0..lanes {
                        let p = (k * lanes + l).min(points - 1);
                        for (e, x) in t.point(p).unwrap_or(&[]).iter().enumerate() {
                            tile[e * lanes + l] = *x;
                        }
                    }
                    let mut shape = t.shape.clone();
                    shape.push(lanes);
                    args.push(Tensor::new(shape, tile)?);
                }
                let mask = (0..lanes)
                    .map(|l| kernels::bool_f64(k * lanes + l < points))
                    .collect();
                args.push(Tensor::new(vec![lanes], mask)?);
                let item = frame.run_block(interp, body, args)?;
                match partials.as_mut() {
                    Some(r) => r.push(&item.data),
                    None => {
                        for l in 0..lanes.min(points - k * lanes) {
                            data.extend((0..per).map(|e| {
                                item.data.get(e * lanes + l).copied().unwrap_or(f64::NAN)
                            }));
                        }
                    }
                }
            }
            match (partials, reduce) {
                (Some(r), Some(op)) => {
                    let empty = || {
                        EvalError::new(format!(
                            "`tile_map {}` of an empty batch has no value.",
                            op.name()
                        ))
                    };
                    if points == 0 && op == ReduceOp::Mean {
                        return Err(empty());
                    }
                    let mut out = r.finish().ok_or_else(empty)?;
                    if op == ReduceOp::Mean {
                        let n = points as f64;
                        out.iter_mut().for_each(|x| *x /= n);
                    }
                    Tensor::new(ty.shape.clone(), out)
                }
                _ => Tensor::batch(ty.shape.clone(), points, data),
            }
        })
    }
}

/// The common number of points of `map` inputs.
fn batch_points(ins: &[&Tensor]) -> Result<usize, EvalError> {
    let points = ins.first().and_then(|t| t.batch).unwrap_or(0);
    for t in ins {
        if t.batch != Some(points) {
            return Err(EvalError::new(format!(
                "`map` inputs have different numbers of points ({} and {}); batch size mismatch.",
                points,
                t.batch.unwrap_or(0)
            )));
        }
    }
    Ok(points)
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
