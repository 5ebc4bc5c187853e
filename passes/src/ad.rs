//! Automatic differentiation as IR → IR transforms.
//!
//! Every transform takes a function of a module and returns a new, ordinary [`Function`]
//! (not added to the module; calls in it still refer to the module's functions), so
//! transforms nest to any order: the gradient of a Jacobian-vector product, the Hessian of
//! a gradient, the third derivative of a network and then its gradient with respect to the
//! weights.
//!
//! | transform | inputs of the new function | result |
//! |---|---|---|
//! | [`jvp`] | the inputs, then one tangent per `wrt` input | the directional derivative |
//! | [`vjp`] | the inputs, then a cotangent of the result | the cotangent of the `wrt` input (several: flattened and concatenated) |
//! | [`grad`] | the inputs | the gradient of a scalar result (several `wrt`: flattened and concatenated) |
//! | [`jacobian`] | the inputs | `shape(result) ++ shape(input)` |
//! | [`hvp`] | the inputs, then a direction | the Hessian-vector product (forward over reverse) |
//! | [`hessian`] | the inputs | `shape(input) ++ shape(input)` |
//!
//! [`expand_derivatives`] replaces the language's `deriv` placeholders in place.
//! [`taylor`] holds the second-order Taylor mode used for `d(u, x, x)` and `laplacian`.
//!
//! How: forward mode ([`forward`]) and reverse mode ([`reverse`]) are rule tables over one
//! emitter ([`cx`]) that writes new values into the function being transformed; the derivative
//! code reuses the function's primal values, and loops recompute their bodies. Outputs are
//! compacted (dead values removed, renumbered) and validate.

pub mod cost;
mod cx;
mod dense;
mod emit;
mod expand;
mod forward;
mod graph;
mod inline;
mod loops;
mod reverse;
mod rules;
pub mod taylor;

pub(crate) use dense::seeded_sweeps;
pub use dense::{
    hessian, hessian_function, hvp, hvp_function, jacobian, jacobian_forward, jacobian_function,
    jacobian_reverse,
};
pub use expand::{
    ExpandOptions, SecondOrder, expand_derivatives, expand_derivatives_with, expand_function,
};
pub(crate) use graph::{replace_uses, use_counts, uses as value_uses};
pub use inline::{inline_calls, inline_calls_function};

use cx::Cx;
use emit::plain;
use graph::compact;
use reverse::Adj;
use sci_diag::Diagnostic;
use sci_ir::manifest::DerivativeKind;
use sci_ir::{FuncId, Function, InputRole, Module, Op, Value, ValueId};
use std::fmt;

/// The most values a function may hold while its derivatives are expanded: enough for
/// the fourth derivatives of deep networks, and well short of the minutes and gigabytes
/// that a 16th-order derivative of a small network takes (about 10⁹ values).
pub const MAX_EXPANDED_VALUES: usize = 500_000;

/// Why a derivative could not be built.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AdError {
    /// Diagnostic code (E07xx).
    pub code: &'static str,
    /// A full sentence.
    pub message: String,
}

impl AdError {
    fn new(code: &'static str, message: impl Into<String>) -> AdError {
        AdError {
            code,
            message: message.into(),
        }
    }

    /// A request that does not make sense (a bad input index, a non-scalar gradient, …).
    pub(crate) fn request(message: impl Into<String>) -> AdError {
        AdError::new("E0701", message)
    }

    /// A `deriv` placeholder reached a transform.
    pub(crate) fn unexpanded() -> AdError {
        AdError::new(
            "E0702",
            "The function still contains a `deriv` placeholder; expand derivatives first.",
        )
    }

    /// A `tile_map` (made after differentiation, for the back ends) reached a transform.
    pub(crate) fn tiled() -> AdError {
        AdError::new(
            "E0702",
            "The function contains a `tile_map`, which is made for the back ends after \
             differentiation; differentiate the function before tiling its maps.",
        )
    }

    /// Nesting or size limits.
    pub(crate) fn limit() -> AdError {
        AdError::new(
            "E0703",
            "The derivative is nested too deeply to build (more than 96 levels of loops or calls).",
        )
    }

    /// Derivative code past [`MAX_EXPANDED_VALUES`] (each order of nested differentiation
    /// multiplies the code of the previous one, so high orders of large networks explode).
    pub(crate) fn too_large(values: usize) -> AdError {
        AdError::new(
            "E0705",
            format!(
                "The derivative code would hold more than {MAX_EXPANDED_VALUES} operations \
                 ({values} so far); each order of differentiation multiplies the code of the \
                 one before. Lower the derivative's order or the network's size."
            ),
        )
    }

    /// [`AdError::too_large`] when `g` is past the limit.
    pub(crate) fn check_size(g: &Function) -> Result<(), AdError> {
        match g.values.len() {
            n if n > MAX_EXPANDED_VALUES => Err(AdError::too_large(n)),
            _ => Ok(()),
        }
    }

    /// Broken input or a bug: the IR does not have the structure the transform relies on.
    pub(crate) fn internal(what: impl Into<String>) -> AdError {
        AdError::new(
            "E0704",
            format!("Cannot differentiate malformed IR: {}.", what.into()),
        )
    }

    /// The error as a diagnostic (IR has no source spans).
    pub fn to_diagnostic(&self) -> Diagnostic {
        Diagnostic::error(self.code, self.message.clone())
    }
}

impl fmt::Display for AdError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for AdError {}

/// An error if the module's functions call each other in a cycle (invalid IR).
pub(crate) fn check_acyclic(module: &Module) -> Result<(), AdError> {
    expand::callees_first(module).map(|_| ())
}

/// The function `func` of `module`.
pub(crate) fn function(module: &Module, func: FuncId) -> Result<&Function, AdError> {
    module.functions.get(func).ok_or_else(|| {
        AdError::request(format!(
            "There is no function #{} in the module.",
            func.index()
        ))
    })
}

/// Checks that `wrt` names distinct float inputs of `f`.
fn check_wrt(f: &Function, wrt: &[usize]) -> Result<(), AdError> {
    if wrt.is_empty() {
        return Err(AdError::request(format!(
            "Differentiating `{}` needs at least one input to differentiate with respect to.",
            f.name
        )));
    }
    for (n, &k) in wrt.iter().enumerate() {
        let ty = f.input_type(k).ok_or_else(|| {
            AdError::request(format!(
                "`{}` has {} inputs, so it cannot be differentiated with respect to input {k}.",
                f.name,
                f.inputs().len()
            ))
        })?;
        if !ty.dtype.is_float() {
            return Err(AdError::request(format!(
                "Input {k} of `{}` is {}, not a real number, so it has no derivative.",
                f.name, ty
            )));
        }
        if wrt.iter().take(n).any(|&j| j == k) {
            return Err(AdError::request(format!(
                "Input {k} of `{}` is named twice.",
                f.name
            )));
        }
    }
    Ok(())
}

/// The name of input `k` of `f` (`in3` where it has none).
pub(crate) fn input_name(f: &Function, k: usize) -> String {
    f.inputs()
        .get(k)
        .and_then(|id| f.values.get(*id))
        .and_then(|v| v.name.clone())
        .unwrap_or_else(|| format!("in{k}"))
}

/// Forward mode: the derivative of `func` in the direction of tangents of the `wrt` inputs.
pub fn jvp(module: &Module, func: FuncId, wrt: &[usize]) -> Result<Function, AdError> {
    jvp_function(module, function(module, func)?, wrt)
}

/// [`jvp`] of a function that need not be in the module (calls refer to the module).
pub fn jvp_function(module: &Module, f: &Function, wrt: &[usize]) -> Result<Function, AdError> {
    check_wrt(f, wrt)?;
    expand::callees_first(module)?;
    let mut g = f.derived(format!("jvp.{}", f.name), DerivativeKind::Jvp, wrt);
    let mut seeds = Vec::with_capacity(wrt.len());
    for &k in wrt {
        let ty = plain(
            f.input_type(k)
                .ok_or_else(|| AdError::internal("input type"))?,
        );
        let name = format!("d{}", input_name(f, k));
        let t = g.push_input(ty, Some(name), InputRole::Tangent { of: k });
        let x = *f
            .inputs()
            .get(k)
            .ok_or_else(|| AdError::internal("input"))?;
        seeds.push((x, t));
    }
    let body = g.body.body.clone();
    let result = g.body.result;
    let (emitted, out) = {
        let mut cx = Cx::new(module, &mut g.values);
        for (x, t) in seeds {
            cx.set_t(x, t);
        }
        for &v in &body {
            cx.tangent(v)?;
        }
        let out = cx.t_or_zero(result)?;
        (cx.em.finish(), out)
    };
    g.body.body.extend(emitted);
    g.body.result = out;
    compact(&g)
}

/// Reverse mode: the cotangent of the `wrt` inputs given a cotangent of the result.
pub fn vjp(module: &Module, func: FuncId, wrt: &[usize]) -> Result<Function, AdError> {
    vjp_function(module, function(module, func)?, wrt)
}

/// [`vjp`] of a function that need not be in the module.
pub fn vjp_function(module: &Module, f: &Function, wrt: &[usize]) -> Result<Function, AdError> {
    check_wrt(f, wrt)?;
    let rty = f
        .result_type()
        .ok_or_else(|| AdError::internal("the result has no type"))?;
    if !rty.dtype.is_float() {
        return Err(AdError::request(format!(
            "The result of `{}` is {rty}, not real, so it has no derivative.",
            f.name
        )));
    }
    let mut g = f.derived(format!("vjp.{}", f.name), DerivativeKind::Vjp, wrt);
    let ct = g.push_input(plain(rty), Some("ct".into()), InputRole::Cotangent);
    expand::callees_first(module)?;
    reverse_sweep(module, &mut g, f, wrt, ct, false)?;
    compact(&g)
}

/// Reverse mode for a scalar result: the gradient with respect to the `wrt` inputs.
pub fn grad(module: &Module, func: FuncId, wrt: &[usize]) -> Result<Function, AdError> {
    grad_function(module, function(module, func)?, wrt)
}

/// [`grad`] of a function that need not be in the module.
pub fn grad_function(module: &Module, f: &Function, wrt: &[usize]) -> Result<Function, AdError> {
    gradient(module, f, wrt, false)
}

/// The value and the gradient in one function: `[f(x), ∂f/∂x...]`, the value first. The
/// forward pass runs once and the reverse sweep reuses its values, so a training step is
/// one call instead of `f` then [`grad`].
pub fn value_and_grad(module: &Module, func: FuncId, wrt: &[usize]) -> Result<Function, AdError> {
    gradient(module, function(module, func)?, wrt, true)
}

/// [`grad_function`], with the value packed in front of the gradient when `with_value`.
fn gradient(
    module: &Module,
    f: &Function,
    wrt: &[usize],
    with_value: bool,
) -> Result<Function, AdError> {
    check_wrt(f, wrt)?;
    let batched_wrt = wrt
        .iter()
        .any(|&k| f.input_type(k).is_some_and(|t| t.batched));
    if with_value && batched_wrt {
        return Err(AdError::request(format!(
            "`{}`: a value and a gradient with respect to a batched input cannot be packed in \
             one vector; use `grad` and the function itself.",
            f.name
        )));
    }
    let rty = f
        .result_type()
        .ok_or_else(|| AdError::internal("the result has no type"))?;
    if !rty.shape.is_empty() || rty.batched || !rty.dtype.is_float() {
        return Err(AdError::request(format!(
            "`{}` returns {rty}; a gradient needs a real scalar result (use `jacobian` or `vjp`).",
            f.name
        )));
    }
    let (prefix, kind) = if with_value {
        ("value_and_grad", DerivativeKind::ValueAndGradient)
    } else {
        ("grad", DerivativeKind::Gradient)
    };
    let mut g = f.derived(format!("{prefix}.{}", f.name), kind, wrt);
    let one = g.values.push(Value {
        op: Op::Const(1.0),
        ty: plain(rty),
        name: None,
    });
    g.body.body.push(one);
    expand::callees_first(module)?;
    reverse_sweep(module, &mut g, f, wrt, one, with_value)?;
    AdError::check_size(&g)?;
    compact(&g)
}

/// Appends the reverse sweep of `f`'s body (copied in `g`) seeded with `ct` and makes the
/// cotangents of the `wrt` inputs `g`'s result (packed after `f`'s result when
/// `with_value`).
fn reverse_sweep(
    module: &Module,
    g: &mut Function,
    f: &Function,
    wrt: &[usize],
    ct: ValueId,
    with_value: bool,
) -> Result<(), AdError> {
    let body = f.body.body.clone();
    let result = f.body.result;
    let xs: Vec<ValueId> = wrt
        .iter()
        .map(|&k| {
            f.inputs()
                .get(k)
                .copied()
                .ok_or_else(|| AdError::internal("input"))
        })
        .collect::<Result<_, _>>()?;
    if xs.len() > 1 {
        for &x in &xs {
            if f.values.get(x).is_some_and(|v| v.ty.batched) {
                return Err(AdError::request(format!(
                    "`{}`: the cotangents of several inputs are concatenated, which batched inputs cannot be; differentiate with respect to the batched input alone.",
                    f.name
                )));
            }
        }
    }
    let (emitted, out) = {
        let mut cx = Cx::new(module, &mut g.values);
        cx.active.extend(xs.iter().copied());
        cx.mark_active(&body)?;
        let mut adj = Adj::new();
        cx.accumulate(&mut adj, result, ct)?;
        cx.backprop(&body, &mut adj)?;
        let mut outs = Vec::with_capacity(xs.len() + 1);
        if with_value {
            outs.push(result);
        }
        for &x in &xs {
            outs.push(match adj.get(&x) {
                Some(&c) => c,
                None => cx.em.full_like(0.0, x)?,
            });
        }
        let out = match outs.as_slice() {
            [one] => *one,
            _ => cx.em.pack(&outs)?,
        };
        (cx.em.finish(), out)
    };
    g.body.body.extend(emitted);
    g.body.result = out;
    Ok(())
}
