//! Inlining: replaces `call`s by copies of the callee's body.
//!
//! The AD transforms do not need it (they copy callee bodies where they differentiate
//! through a call), but derivative expansion inlines the calls a derivative depends on so
//! that the primal values are computed once and shared by every derivative of them.

use super::cx::Cx;
use super::graph::{MAX_DEPTH, block_mut, compact, replace_uses, val};
use super::{AdError, function};
use sci_ir::{Block, Function, Module, Op, ValueId};

/// Most calls one function may have inlined (guards against call trees that explode).
const MAX_INLINED: usize = 10_000;

/// A copy of `module` where every call in every function is inlined.
pub fn inline_calls(module: &Module) -> Result<Module, AdError> {
    let mut out = module.clone();
    let ids: Vec<_> = module.functions.iter().map(|(id, _)| id).collect();
    for id in ids {
        let g = inline_calls_function(module, function(module, id)?)?;
        if let Some(slot) = out.functions.get_mut(id) {
            *slot = g;
        }
    }
    Ok(out)
}

/// `f` with every call (at any depth, transitively) inlined.
pub fn inline_calls_function(module: &Module, f: &Function) -> Result<Function, AdError> {
    super::expand::callees_first(module)?;
    let mut g = f.clone();
    for _ in 0..MAX_INLINED {
        match find_call(&g, None, &g.body, 0)? {
            Some((owner, pos, call)) => inline_at(module, &mut g, owner, pos, call)?,
            None => return compact(&g),
        }
    }
    Err(AdError::request(format!(
        "Inlining the calls of `{}` would copy more than {MAX_INLINED} function bodies.",
        f.name
    )))
}

/// The first call in `block` or its nested blocks: (owner, position, value).
fn find_call(
    f: &Function,
    owner: Option<ValueId>,
    block: &Block,
    depth: usize,
) -> Result<Option<(Option<ValueId>, usize, ValueId)>, AdError> {
    if depth > MAX_DEPTH {
        return Err(AdError::limit());
    }
    for (pos, &id) in block.body.iter().enumerate() {
        let v = val(&f.values, id)?;
        if matches!(v.op, Op::Call { .. }) {
            return Ok(Some((owner, pos, id)));
        }
        if let Some(inner) = v.op.block()
            && let Some(hit) = find_call(f, Some(id), inner, depth + 1)?
        {
            return Ok(Some(hit));
        }
    }
    Ok(None)
}

/// Inlines the call `call`, at position `pos` of the block owned by `owner`.
pub(crate) fn inline_at(
    module: &Module,
    g: &mut Function,
    owner: Option<ValueId>,
    pos: usize,
    call: ValueId,
) -> Result<(), AdError> {
    let v = val(&g.values, call)?.clone();
    let Op::Call { func, args } = v.op else {
        return Err(AdError::internal("inlining something that is not a call"));
    };
    let (emitted, result) = {
        let mut cx = Cx::new(module, &mut g.values);
        let (_, result) = cx.import_call(func, &args)?;
        (cx.em.finish(), result)
    };
    if emitted.contains(&result)
        && let Some(r) = g.values.get_mut(result)
    {
        if v.name.is_some() {
            r.name = v.name.clone();
        }
        r.ty.unit = v.ty.unit;
    }
    let block = block_mut(g, owner).ok_or_else(|| AdError::internal("the call's block"))?;
    if block.body.get(pos) != Some(&call) {
        return Err(AdError::internal("the call moved"));
    }
    block.body.splice(pos..=pos, emitted);
    replace_uses(g, call, result);
    Ok(())
}
