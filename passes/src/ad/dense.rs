//! Dense Jacobians, Hessian-vector products and Hessians of whole functions.
//!
//! The Jacobian is built in place like a language derivative (see [`super::expand`]):
//! forward mode with one tangent sweep per input element when the input is no larger than
//! the result, otherwise one reverse sweep per result element. Hessian-vector products are
//! forward over reverse (a `jvp` of the gradient), and the dense Hessian is the Jacobian of
//! the gradient, which the size rule makes forward over reverse as well.

use super::expand::{Mode, derivative_in_place};
use super::graph::compact;
use super::{AdError, function, grad_function, jvp_function};
use sci_ir::manifest::DerivativeKind;
use sci_ir::{FuncId, Function, Module, Role};

/// The Jacobian of `func` with respect to input `wrt`: shape `shape(result) ++ shape(input)`.
pub fn jacobian(module: &Module, func: FuncId, wrt: usize) -> Result<Function, AdError> {
    jacobian_function(module, function(module, func)?, wrt)
}

/// [`jacobian`] of a function that need not be in the module.
pub fn jacobian_function(module: &Module, f: &Function, wrt: usize) -> Result<Function, AdError> {
    jacobian_with(module, f, wrt, Mode::Auto)
}

/// The Jacobian built with a given sweep (tests compare forward and reverse).
pub(crate) fn jacobian_with(
    module: &Module,
    f: &Function,
    wrt: usize,
    mode: Mode,
) -> Result<Function, AdError> {
    super::check_wrt(f, &[wrt])?;
    super::expand::callees_first(module)?;
    let x = *f
        .inputs()
        .get(wrt)
        .ok_or_else(|| AdError::internal("input"))?;
    let mut g = f.derived(format!("jac.{}", f.name), DerivativeKind::Jacobian, &[wrt]);
    let result = g.body.result;
    let (emitted, r) = derivative_in_place(module, &mut g, None, result, x, mode)?;
    g.body.body.extend(emitted);
    g.body.result = r;
    compact(&g)
}

/// Forward-mode Jacobian (one `jvp` per input element), for tests and benchmarks.
pub fn jacobian_forward(module: &Module, f: &Function, wrt: usize) -> Result<Function, AdError> {
    jacobian_with(module, f, wrt, Mode::Forward)
}

/// Reverse-mode Jacobian (one `vjp` per result element), for tests and benchmarks.
pub fn jacobian_reverse(module: &Module, f: &Function, wrt: usize) -> Result<Function, AdError> {
    jacobian_with(module, f, wrt, Mode::Reverse)
}

/// Hessian-vector product of a scalar function, forward over reverse: the inputs of
/// `func`, then a direction `v` shaped like input `wrt`; the result is `H v`.
pub fn hvp(module: &Module, func: FuncId, wrt: usize) -> Result<Function, AdError> {
    hvp_function(module, function(module, func)?, wrt)
}

/// [`hvp`] of a function that need not be in the module.
pub fn hvp_function(module: &Module, f: &Function, wrt: usize) -> Result<Function, AdError> {
    let g = grad_function(module, f, &[wrt])?;
    let mut h = jvp_function(module, &g, &[wrt])?;
    h.name = format!("hvp.{}", f.name);
    h.role = Role::derivative(DerivativeKind::Hvp, &f.role, &[wrt]);
    Ok(h)
}

/// The dense Hessian of a scalar function with respect to input `wrt`: shape
/// `shape(input) ++ shape(input)`.
pub fn hessian(module: &Module, func: FuncId, wrt: usize) -> Result<Function, AdError> {
    hessian_function(module, function(module, func)?, wrt)
}

/// [`hessian`] of a function that need not be in the module.
pub fn hessian_function(module: &Module, f: &Function, wrt: usize) -> Result<Function, AdError> {
    let g = grad_function(module, f, &[wrt])?;
    let mut h = jacobian_with(module, &g, wrt, Mode::Forward)?;
    h.name = format!("hessian.{}", f.name);
    h.role = Role::derivative(DerivativeKind::Hessian, &f.role, &[wrt]);
    Ok(h)
}

/// A function of `f`'s inputs computing one derivative sweep per seed: with `reverse`
/// false, `seeds` holds `k` tangents of input `wrt` and the result is `[k, numel(result)]`
/// (row `c` is `J · seed_c`); with `reverse` true, `seeds` holds `k` cotangents of the
/// result and the result is `[k, numel(input)]` (row `c` is `Jᵀ · seed_c`). The sweeps are
/// one loop over the seeds (a `tabulate`), so the code has one copy of the derivative.
pub(crate) fn seeded_sweeps(
    module: &Module,
    f: &Function,
    wrt: usize,
    seeds: Vec<f64>,
    k: usize,
    reverse: bool,
) -> Result<Function, AdError> {
    use super::cx::Cx;
    use super::emit::plain;
    use super::graph::{places, slice};
    use super::reverse::Adj;
    use sci_ir::{Op, Type};

    super::check_wrt(f, &[wrt])?;
    super::expand::callees_first(module)?;
    let x = *f
        .inputs()
        .get(wrt)
        .ok_or_else(|| AdError::internal("input"))?;
    let (prefix, kind) = if reverse {
        ("vjps", DerivativeKind::Vjps)
    } else {
        ("jvps", DerivativeKind::Jvps)
    };
    let mut g = f.derived(format!("{prefix}.{}", f.name), kind, &[wrt]);
    let r = g.body.result;
    let xty = plain(
        g.values
            .get(x)
            .map(|v| &v.ty)
            .ok_or_else(|| AdError::internal("input"))?,
    );
    let rty = plain(
        g.values
            .get(r)
            .map(|v| &v.ty)
            .ok_or_else(|| AdError::internal("result"))?,
    );
    if xty.batched || rty.batched {
        return Err(AdError::request(
            "Jacobians of batched functions are taken per point.",
        ));
    }
    let (seed_ty, out_ty) = if reverse { (&rty, &xty) } else { (&xty, &rty) };
    let out_n = out_ty.element_count().unwrap_or(0);
    let mut lit_shape = vec![k];
    lit_shape.extend(seed_ty.shape.iter().copied());
    if seeds.len() != k * seed_ty.element_count().unwrap_or(0) {
        return Err(AdError::internal("seed matrix of the wrong size"));
    }
    let pl = places(&g)?;
    let sl = slice(&g, &pl, r, &[x])?;
    let (emitted, out) = {
        let mut cx = Cx::new(module, &mut g.values);
        let lit = cx
            .em
            .push(Op::Literal(seeds), Type::tensor(seed_ty.dtype, lit_shape));
        if reverse {
            cx.active.insert(x);
            cx.mark_active(&sl)?;
        }
        let out = cx.tabulate_with(&[k], |cx, c| {
            let seed = cx.em.push(
                Op::Index {
                    array: lit,
                    indices: c.to_vec(),
                    fill: None,
                },
                seed_ty.clone(),
            );
            let d = if reverse {
                let mut adj = Adj::new();
                cx.accumulate(&mut adj, r, seed)?;
                cx.backprop(&sl, &mut adj)?;
                match adj.get(&x) {
                    Some(&c) => c,
                    None => cx.em.full(0.0, &xty)?,
                }
            } else {
                cx.set_t(x, seed);
                for &v in &sl {
                    cx.tangent(v)?;
                }
                cx.t_or_zero(r)?
            };
            cx.em.reshape(d, &[out_n])
        })?;
        (cx.em.finish(), out)
    };
    g.body.body.extend(emitted);
    g.body.result = out;
    compact(&g)
}
