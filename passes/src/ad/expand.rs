//! Expansion of the language's derivatives: every `deriv of wrt x, y, …` placeholder is
//! replaced by code computing `∂ⁿ of / ∂x ∂y …` in place.
//!
//! One order at a time, the derivative of the current value with respect to the next
//! variable is emitted right before the placeholder, reusing the primal values of the
//! function: forward mode (one tangent sweep per element of the variable, inside a
//! `tabulate` for arrays) or, when the current value has fewer elements than the variable
//! (a gradient), one reverse sweep per element of the value. Higher orders differentiate the
//! code the previous order emitted, so `d(u, x, x, x)` is forward over forward over forward
//! and `hessian` is forward over reverse. Unmixed second derivatives with respect to a
//! scalar (`d(u, x, x)`, the terms of `laplacian`) may use second-order Taylor mode
//! instead (see [`super::taylor`]), when that emits fewer ops.
//!
//! Calls the derivative depends on are inlined first, so every derivative of a network
//! shares one forward pass.

use super::cx::Cx;
use super::emit::plain;
use super::graph::{
    Place, block_mut, block_ref, compact, places, replace_uses, slice, use_counts, val,
};
use super::inline::inline_at;
use super::reverse::Adj;
use super::{AdError, taylor};
use sci_diag::Diagnostic;
use sci_ir::types::element_count;
use sci_ir::{CmpOp, DType, FuncId, Function, Module, Op, Type, ValueId};
use std::collections::{HashMap, HashSet};

/// How unmixed second derivatives `d(u, x, x)` of a scalar variable are built.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum SecondOrder {
    /// Taylor mode when it emits fewer ops than nested forward mode (the default).
    #[default]
    Auto,
    /// Always forward over forward.
    Nested,
    /// Always second-order Taylor mode.
    Taylor,
}

/// Options of [`expand_derivatives_with`].
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ExpandOptions {
    pub second_order: SecondOrder,
}

/// Replaces every `deriv` placeholder of every function by its derivative.
pub fn expand_derivatives(module: &mut Module) -> Result<(), Vec<Diagnostic>> {
    expand_derivatives_with(module, &ExpandOptions::default())
}

/// [`expand_derivatives`] with options.
pub fn expand_derivatives_with(
    module: &mut Module,
    options: &ExpandOptions,
) -> Result<(), Vec<Diagnostic>> {
    let order = callees_first(module).map_err(|e| vec![e.to_diagnostic()])?;
    let mut errors = Vec::new();
    for id in order {
        let Some(f) = module.functions.get(id) else {
            continue;
        };
        if !has_deriv(f) {
            continue;
        }
        match expand_function(module, f, options) {
            Ok(g) => {
                if let Some(slot) = module.functions.get_mut(id) {
                    *slot = g;
                }
            }
            Err(e) => errors.push(
                e.to_diagnostic()
                    .with_note(format!("while expanding the derivatives in `{}`", f.name)),
            ),
        }
    }
    if errors.is_empty() {
        Ok(())
    } else {
        Err(errors)
    }
}

fn has_deriv(f: &Function) -> bool {
    f.values
        .iter()
        .any(|(_, v)| matches!(v.op, Op::Deriv { .. }))
}

/// The module's functions, every callee before its callers; an error if calls form a
/// cycle.
pub(crate) fn callees_first(module: &Module) -> Result<Vec<FuncId>, AdError> {
    let ids: Vec<FuncId> = module.functions.iter().map(|(id, _)| id).collect();
    let callees = |id: FuncId| -> Vec<FuncId> {
        module
            .functions
            .get(id)
            .map(|f| {
                f.values
                    .iter()
                    .filter_map(|(_, v)| match v.op {
                        Op::Call { func, .. } => Some(func),
                        _ => None,
                    })
                    .collect()
            })
            .unwrap_or_default()
    };
    // Iterative depth-first post-order; a cycle is an error (the validator rejects them).
    let mut state: HashMap<FuncId, u8> = HashMap::new();
    let mut out = Vec::with_capacity(ids.len());
    for root in ids {
        if state.contains_key(&root) {
            continue;
        }
        let mut stack = vec![(root, callees(root), 0usize)];
        state.insert(root, 1);
        while let Some((id, cs, next)) = stack.last_mut() {
            if let Some(&c) = cs.get(*next) {
                *next += 1;
                match state.get(&c) {
                    None => {
                        state.insert(c, 1);
                        let cc = callees(c);
                        stack.push((c, cc, 0));
                    }
                    Some(1) => {
                        return Err(AdError::request(
                            "The functions of the module call each other in a cycle.",
                        ));
                    }
                    _ => {}
                }
            } else {
                let id = *id;
                state.insert(id, 2);
                out.push(id);
                stack.pop();
            }
        }
    }
    Ok(out)
}

/// `f` with all its `deriv` placeholders expanded (callees must have none).
pub fn expand_function(
    module: &Module,
    f: &Function,
    options: &ExpandOptions,
) -> Result<Function, AdError> {
    let mut g = f.clone();
    let mut guard = 0usize;
    loop {
        guard += 1;
        if guard > 100_000 {
            return Err(AdError::limit());
        }
        let pl = places(&g)?;
        let mut derivs: Vec<(ValueId, Place)> = pl
            .iter()
            .filter(|(id, _)| {
                g.values
                    .get(**id)
                    .is_some_and(|v| matches!(v.op, Op::Deriv { .. }))
            })
            .map(|(id, p)| (*id, *p))
            .collect();
        derivs.sort_by_key(|(_, p)| p.order);
        let Some(&(d, place)) = derivs.first() else {
            break;
        };
        let Op::Deriv { of, wrt } = val(&g.values, d)?.op.clone() else {
            continue;
        };
        // Inline the visible calls this derivative depends on, then start again.
        // (Calls the other terms of a Laplacian depend on are the same calls.)
        let sl = slice(&g, &pl, of, &wrt)?;
        let call = sl.iter().copied().find(|v| {
            g.values
                .get(*v)
                .is_some_and(|x| matches!(x.op, Op::Call { .. }))
        });
        if let Some(call) = call {
            let p = pl
                .get(&call)
                .copied()
                .ok_or_else(|| AdError::internal("the call has no place"))?;
            inline_at(module, &mut g, p.owner, p.pos, call)?;
            continue;
        }
        if options.second_order != SecondOrder::Nested
            && let Some(tree) = laplacian_tree(&g, &pl, d)?
            && expand_laplacian(module, &mut g, &tree, options)?
        {
            continue;
        }
        expand_one(module, &mut g, d, place, of, &wrt, options)?;
        if g.values.len() > super::MAX_EXPANDED_VALUES {
            // Many derivatives, each within the limit, can pass it together.
            g = compact(&g)?;
            AdError::check_size(&g)?;
        }
    }
    compact(&g)
}

/// A sum of unmixed second derivatives of one value with respect to distinct scalars:
/// the `laplacian` of the language (`d(u,x,x) + d(u,y,y) + …`).
struct LaplacianTree {
    /// The outermost `add`.
    root: ValueId,
    /// The `deriv`s and inner `add`s, all used only inside the tree.
    parts: Vec<ValueId>,
    of: ValueId,
    vars: Vec<ValueId>,
    owner: Option<ValueId>,
}

/// The Laplacian tree that derivative `d` is a leaf of, if it is one.
fn laplacian_tree(
    g: &Function,
    pl: &HashMap<ValueId, Place>,
    d: ValueId,
) -> Result<Option<LaplacianTree>, AdError> {
    let counts = use_counts(g);
    let leaf = |id: ValueId| -> Option<(ValueId, ValueId)> {
        match &g.values.get(id)?.op {
            Op::Deriv { of, wrt } => match wrt.as_slice() {
                [x, y] if x == y && g.values.get(*x)?.ty.shape.is_empty() => Some((*of, *x)),
                _ => None,
            },
            _ => None,
        }
    };
    let Some((of, _)) = leaf(d) else {
        return Ok(None);
    };
    let owner = pl.get(&d).and_then(|p| p.owner);
    let same_block = |id: ValueId| pl.get(&id).is_some_and(|p| p.owner == owner);
    // The user of an inner node: the unique `add` that reads it, in the same block.
    let parent = |id: ValueId| -> Option<ValueId> {
        if counts.get(&id) != Some(&1) {
            return None;
        }
        let block = block_ref(g, owner)?;
        block.body.iter().copied().find(|&u| {
            matches!(g.values.get(u).map(|v| &v.op), Some(Op::Binary(sci_ir::BinaryOp::Add, a, b)) if *a == id || *b == id)
        })
    };
    // A node of the tree: a leaf of `of`, or an add of two nodes (depth-bounded).
    fn is_node(
        g: &Function,
        n: ValueId,
        leaf: &dyn Fn(ValueId) -> Option<(ValueId, ValueId)>,
        of: ValueId,
        depth: usize,
    ) -> bool {
        if depth > 64 {
            return false;
        }
        if let Some((o, _)) = leaf(n) {
            return o == of;
        }
        match g.values.get(n).map(|v| &v.op) {
            Some(Op::Binary(sci_ir::BinaryOp::Add, a, b)) => {
                is_node(g, *a, leaf, of, depth + 1) && is_node(g, *b, leaf, of, depth + 1)
            }
            _ => false,
        }
    }
    // Climb while the parent adds another node of the tree.
    let mut cur = d;
    while let Some(p) = parent(cur) {
        let other = match g.values.get(p).map(|v| &v.op) {
            Some(Op::Binary(_, a, b)) => {
                if *a == cur {
                    *b
                } else {
                    *a
                }
            }
            _ => break,
        };
        if !is_node(g, other, &leaf, of, 0) {
            break;
        }
        cur = p;
    }
    if cur == d {
        return Ok(None);
    }
    let root = cur;
    // Collect the leaves under the root; inner nodes and leaves must be used only here.
    let mut parts = Vec::new();
    let mut vars = Vec::new();
    let mut stack = vec![root];
    while let Some(n) = stack.pop() {
        if !same_block(n) || (n != root && counts.get(&n) != Some(&1)) {
            return Ok(None);
        }
        if let Some((o, x)) = leaf(n) {
            if o != of || vars.contains(&x) {
                return Ok(None);
            }
            vars.push(x);
            parts.push(n);
            continue;
        }
        match g.values.get(n).map(|v| &v.op) {
            Some(Op::Binary(sci_ir::BinaryOp::Add, a, b)) => {
                if n != root {
                    parts.push(n);
                }
                stack.push(*a);
                stack.push(*b);
            }
            _ => return Ok(None),
        }
    }
    if vars.len() < 2 {
        return Ok(None);
    }
    Ok(Some(LaplacianTree {
        root,
        parts,
        of,
        vars,
        owner,
    }))
}

/// Replaces a Laplacian tree by one collapsed Taylor sweep. Returns false (leaving `g`
/// alone) when Taylor mode does not apply or, for [`SecondOrder::Auto`], when expanding
/// the terms one by one is cheaper.
fn expand_laplacian(
    module: &Module,
    g: &mut Function,
    tree: &LaplacianTree,
    options: &ExpandOptions,
) -> Result<bool, AdError> {
    let mut h = g.clone();
    let Ok((emitted, r)) = taylor::second_in_place(module, &mut h, tree.owner, tree.of, &tree.vars)
    else {
        return Ok(false);
    };
    if let Some(v) = h.values.get_mut(r) {
        let root = g.values.get(tree.root);
        v.ty.unit = root.and_then(|x| x.ty.unit);
        v.name = root.and_then(|x| x.name.clone());
    }
    let block = block_mut(&mut h, tree.owner).ok_or_else(|| AdError::internal("block"))?;
    let pos = block
        .body
        .iter()
        .position(|v| *v == tree.root)
        .ok_or_else(|| AdError::internal("the Laplacian moved"))?;
    block.body.splice(pos..pos, emitted);
    block
        .body
        .retain(|v| *v != tree.root && !tree.parts.contains(v));
    replace_uses(&mut h, tree.root, r);
    if options.second_order == SecondOrder::Auto {
        // Compare with the terms expanded one by one (nested forward mode each).
        let nested = expand_function(
            module,
            g,
            &ExpandOptions {
                second_order: SecondOrder::Nested,
            },
        );
        let grouped = expand_function(module, &h, options);
        if let (Ok(n), Ok(t)) = (nested, grouped)
            && super::cost::flops(module, &t) > super::cost::flops(module, &n)
        {
            return Ok(false);
        }
    }
    *g = h;
    Ok(true)
}

fn expand_one(
    module: &Module,
    g: &mut Function,
    d: ValueId,
    place: Place,
    of: ValueId,
    wrt: &[ValueId],
    options: &ExpandOptions,
) -> Result<(), AdError> {
    for &x in wrt {
        let xt = &val(&g.values, x)?.ty;
        if xt.batched || !xt.dtype.is_float() {
            return Err(AdError::request(format!(
                "A derivative is taken with respect to a value of type {xt}, which must be a real, unbatched input."
            )));
        }
    }
    let owner = place.owner;
    let mut emitted_all: HashSet<ValueId> = HashSet::new();
    let mut cur = of;
    let mut k = 0usize;
    while let Some(&x) = wrt.get(k) {
        let scalar_x = val(&g.values, x)?.ty.shape.is_empty();
        let twice = wrt.get(k + 1) == Some(&x);
        let (emitted, r) = if twice && scalar_x && options.second_order != SecondOrder::Nested {
            k += 2;
            second_in_place(module, g, owner, cur, x, options.second_order)?
        } else {
            k += 1;
            derivative_in_place(module, g, owner, cur, x, Mode::Auto)?
        };
        emitted_all.extend(emitted.iter().copied());
        let block =
            block_mut(g, owner).ok_or_else(|| AdError::internal("the block of a derivative"))?;
        let pos = block
            .body
            .iter()
            .position(|v| *v == d)
            .ok_or_else(|| AdError::internal("the derivative moved"))?;
        block.body.splice(pos..pos, emitted);
        cur = r;
    }
    let dv = val(&g.values, d)?.clone();
    if emitted_all.contains(&cur)
        && let Some(v) = g.values.get_mut(cur)
    {
        v.ty.unit = dv.ty.unit;
        if dv.name.is_some() {
            v.name = dv.name.clone();
        }
    }
    replace_uses(g, d, cur);
    let block =
        block_mut(g, owner).ok_or_else(|| AdError::internal("the block of a derivative"))?;
    block.body.retain(|v| *v != d);
    Ok(())
}

/// `d²of/dx²` for scalar `x`: Taylor mode or nested forward mode, the one with fewer ops
/// for [`SecondOrder::Auto`].
fn second_in_place(
    module: &Module,
    g: &mut Function,
    owner: Option<ValueId>,
    of: ValueId,
    x: ValueId,
    how: SecondOrder,
) -> Result<(Vec<ValueId>, ValueId), AdError> {
    if how == SecondOrder::Taylor {
        return taylor::second_in_place(module, g, owner, of, &[x]);
    }
    // Build both on copies and keep the smaller (by ops the result needs).
    let mut a = g.clone();
    let nested = nested_second(module, &mut a, owner, of, x)?;
    let mut b = g.clone();
    let taylor = taylor::second_in_place(module, &mut b, owner, of, &[x]);
    match taylor {
        Ok(t)
            if live_flops(module, &b, &t.0, t.1)?
                <= live_flops(module, &a, &nested.0, nested.1)? =>
        {
            *g = b;
            Ok(t)
        }
        _ => {
            *g = a;
            Ok(nested)
        }
    }
}

/// Forward over forward for `d²of/dx²`; the emitted values of both orders.
fn nested_second(
    module: &Module,
    g: &mut Function,
    owner: Option<ValueId>,
    of: ValueId,
    x: ValueId,
) -> Result<(Vec<ValueId>, ValueId), AdError> {
    let (mut first, r1) = derivative_in_place(module, g, owner, of, x, Mode::Forward)?;
    // The second order must see the first: splice temporarily at the end of the block.
    let block = block_mut(g, owner).ok_or_else(|| AdError::internal("block"))?;
    let at = block.body.len();
    block.body.extend(first.iter().copied());
    let second = derivative_in_place(module, g, owner, r1, x, Mode::Forward);
    let block = block_mut(g, owner).ok_or_else(|| AdError::internal("block"))?;
    block.body.truncate(at);
    let (second, r2) = second?;
    first.extend(second);
    Ok((first, r2))
}

/// Floating-point operations of the values among `emitted` that `result` needs.
pub(crate) fn live_flops(
    module: &Module,
    g: &Function,
    emitted: &[ValueId],
    result: ValueId,
) -> Result<u64, AdError> {
    let mut live = HashSet::new();
    live.insert(result);
    let mut kept = Vec::new();
    for &id in emitted.iter().rev() {
        if !live.contains(&id) {
            continue;
        }
        kept.push(id);
        let v = val(&g.values, id)?;
        live.extend(v.op.operands());
        if v.op.block().is_some() {
            live.extend(super::graph::uses(&g.values, id)?);
        }
    }
    super::cost::flops_of(Some(module), &g.values, &kept, 0)
}

/// Which sweep [`derivative_in_place`] uses.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Mode {
    /// One tangent sweep per element of the variable.
    Forward,
    /// One reverse sweep per element of the value.
    Reverse,
    /// Reverse when the value has fewer elements than the variable.
    Auto,
}

/// Emits (without splicing) the derivative of `of` with respect to `x`, shape
/// `shape(of) ++ shape(x)`, for insertion in the block owned by `owner` after every value
/// `of` depends on. Returns the new values in order and the derivative.
pub(crate) fn derivative_in_place(
    module: &Module,
    g: &mut Function,
    owner: Option<ValueId>,
    of: ValueId,
    x: ValueId,
    mode: Mode,
) -> Result<(Vec<ValueId>, ValueId), AdError> {
    let _ = block_ref(g, owner).ok_or_else(|| AdError::internal("the block of a derivative"))?;
    let pl = places(g)?;
    let sl = slice(g, &pl, of, &[x])?;
    let oty = plain(&val(&g.values, of)?.ty);
    let xty = plain(&val(&g.values, x)?.ty);
    if oty.batched || xty.batched {
        return Err(AdError::request(
            "Derivatives of batched values are taken per point, inside a `map`.",
        ));
    }
    if !oty.dtype.is_float() {
        return Err(AdError::request(format!(
            "A value of type {oty} has no derivative."
        )));
    }
    let no = oty.element_count().unwrap_or(0);
    let nx = xty.element_count().unwrap_or(0);
    let reverse = match mode {
        Mode::Forward => false,
        Mode::Reverse => true,
        Mode::Auto => no < nx,
    };
    let mut out_shape = oty.shape.clone();
    out_shape.extend(xty.shape.iter().copied());
    if element_count(&out_shape).is_none() {
        return Err(AdError::request(
            "The derivative would have too many elements.",
        ));
    }
    let mut cx = Cx::new(module, &mut g.values);
    let depends = of == x || !sl.is_empty();
    let r = if !depends {
        cx.em.full(0.0, &Type::tensor(oty.dtype, out_shape))?
    } else if !reverse {
        let raw = cx.tabulate_with(&xty.shape, |cx, js| {
            let seed = one_hot(cx, js, &xty)?;
            cx.set_t(x, seed);
            for &v in &sl {
                cx.tangent(v)?;
            }
            cx.t_or_zero(of)
        })?;
        move_axes(&mut cx, raw, xty.shape.len(), &oty)?
    } else {
        cx.active.insert(x);
        cx.mark_active(&sl)?;
        cx.tabulate_with(&oty.shape, |cx, is| {
            let seed = one_hot(cx, is, &oty)?;
            let mut adj = Adj::new();
            cx.accumulate(&mut adj, of, seed)?;
            cx.backprop(&sl, &mut adj)?;
            match adj.get(&x) {
                Some(&c) => Ok(c),
                None => cx.em.full(0.0, &xty),
            }
        })?
    };
    let emitted = cx.em.finish();
    // Each order multiplies the code: stop before the next one does.
    AdError::check_size(g)?;
    Ok((emitted, r))
}

/// The basis tensor of type `ty` that is 1 at `js` (1 itself for a scalar).
fn one_hot(cx: &mut Cx, js: &[ValueId], ty: &Type) -> Result<ValueId, AdError> {
    let dtype = if ty.dtype == DType::F32 {
        DType::F32
    } else {
        DType::F64
    };
    if ty.shape.is_empty() {
        return Ok(cx.em.scalar(1.0, dtype));
    }
    cx.tabulate_with(&ty.shape, |cx, ks| {
        let mut cond: Option<ValueId> = None;
        for (k, j) in ks.iter().zip(js) {
            let e = cx.em.compare(CmpOp::Eq, *k, *j)?;
            cond = Some(match cond {
                None => e,
                Some(c) => cx.em.binary(sci_ir::BinaryOp::And, c, e)?,
            });
        }
        let cond = cond.ok_or_else(|| AdError::internal("one-hot of a scalar"))?;
        cx.em.cast(cond, dtype)
    })
}

/// `raw` of shape `shape(x) ++ shape(of)` rearranged to `shape(of) ++ shape(x)`.
fn move_axes(cx: &mut Cx, raw: ValueId, x_rank: usize, oty: &Type) -> Result<ValueId, AdError> {
    if x_rank == 0 || oty.shape.is_empty() {
        return Ok(raw);
    }
    let raw_shape = cx.em.shape(raw)?;
    let xs: Vec<usize> = raw_shape.iter().take(x_rank).copied().collect();
    let mut extents = oty.shape.clone();
    extents.extend(xs.iter().copied());
    let o_rank = oty.shape.len();
    cx.tabulate_with(&extents, |cx, ids| {
        let mut indices: Vec<ValueId> = ids.iter().skip(o_rank).copied().collect();
        indices.extend(ids.iter().take(o_rank).copied());
        Ok(cx.em.push(
            Op::Index {
                array: raw,
                indices,
                fill: None,
            },
            Type::tensor(oty.dtype, Vec::new()),
        ))
    })
}
