//! Outlining tile bodies: the body of every top-level `tile_map` becomes a function of its
//! own, `NAME.tileK(captures..., tiles..., mask)`, and the `tile_map` body a single call of it.
//!
//! Why: a back end can then run the tiles of one `tile_map` on several threads by calling
//! that function once per tile from a runtime written once in Rust (`sci_codegen`'s
//! `parallel` module), with per-thread tile buffers, instead of generating threaded code in
//! every back end. The outlined module is ordinary IR: the interpreter runs it, the
//! validator checks it, and a back end without threads lowers the call like any other.

use crate::cleanup::dce;
use crate::cleanup::rebuild::block_tree_refs;
use sci_ir::Arena;
use sci_ir::{Block, FuncId, Function, Module, Op, Value, ValueId};
use std::collections::{HashMap, HashSet};

/// Outlines the body of every top-level `tile_map` of every function of `m` whose body is
/// not already a single call; returns how many bodies were outlined.
pub fn outline_tiles(m: &mut Module) -> usize {
    let ids: Vec<FuncId> = m.functions.iter().map(|(id, _)| id).collect();
    let mut count = 0;
    for id in ids {
        let mut k = 0;
        while let Some((site, tile_fn, captures)) =
            m.functions.get(id).and_then(|f| next_outline(m, f, &mut k))
        {
            let new_id = m.functions.push(tile_fn);
            let Some(f) = m.functions.get_mut(id) else {
                break;
            };
            replace_body(f, site, new_id, captures);
            count += 1;
        }
    }
    count
}

/// The next top-level `tile_map` of `f` worth outlining, its outlined body, named `F.tileK`
/// with the first `K ≥ *k` that is free in `m`, and the values the body captures.
fn next_outline(
    m: &Module,
    f: &Function,
    k: &mut usize,
) -> Option<(ValueId, Function, Vec<ValueId>)> {
    for &v in &f.body.body {
        let Some(Op::TileMap { body, .. }) = f.values.get(v).map(|v| &v.op) else {
            continue;
        };
        if is_single_call(f, body) {
            continue;
        }
        let name = loop {
            let name = format!("{}.tile{}", f.name, *k);
            *k += 1;
            if m.function(&name).is_none() {
                break name;
            }
        };
        let captures = block_tree_refs(f, body);
        if let Some(g) = outline(f, body, &captures, name) {
            return Some((v, g, captures));
        }
    }
    None
}

/// True if `body` is `%r = call @g(...)` yielding `%r`.
pub fn is_single_call(f: &Function, body: &Block) -> bool {
    matches!(body.body.as_slice(), [only] if *only == body.result
        && matches!(f.values.get(*only).map(|v| &v.op), Some(Op::Call { .. })))
}

/// The function computing `body`: its inputs are the values the body uses from outside
/// (`captures`, in first-use order), then the block's arguments. `None` if a captured value
/// is batched (a tile body only sees uniform values) or a handle is out of range.
fn outline(f: &Function, body: &Block, captures: &[ValueId], name: String) -> Option<Function> {
    let mut values = Arena::new();
    let mut map: HashMap<ValueId, ValueId> = HashMap::new();
    let mut args = Vec::new();
    for (k, &c) in captures.iter().chain(&body.args).enumerate() {
        let v = f.values.get(c)?;
        if v.ty.batched {
            return None;
        }
        let id = values.push(Value {
            op: Op::Arg(k),
            ty: v.ty.clone(),
            name: v.name.clone(),
        });
        map.insert(c, id);
        args.push(id);
    }
    // Everything the body defines (nested blocks included), in arena order, so that each
    // value keeps its place relative to the others.
    let mut inner = Vec::new();
    let mut stack = vec![body];
    let mut seen = HashSet::new();
    while let Some(b) = stack.pop() {
        if !std::ptr::eq(b, body) {
            inner.extend(b.args.iter().copied());
        }
        for &v in &b.body {
            inner.push(v);
            if let Some(block) = f.values.get(v).and_then(|v| v.op.block()) {
                stack.push(block);
            }
        }
    }
    inner.retain(|v| seen.insert(*v));
    inner.sort_by_key(|v| v.index());
    let mut pushed = Vec::with_capacity(inner.len());
    for &v in &inner {
        let id = values.push(f.values.get(v)?.clone());
        map.insert(v, id);
        pushed.push(id);
    }
    let remap = |v: ValueId| map.get(&v).copied();
    // Every handle the copied ops use is in `map` (captures, arguments, inner values).
    let mut missing = false;
    for &id in &pushed {
        let value = values.get_mut(id)?;
        value.op.map_values(|v| {
            remap(v).unwrap_or_else(|| {
                missing = true;
                v
            })
        });
    }
    if missing {
        return None;
    }
    let block = Block {
        args,
        body: body.body.iter().map(|v| remap(*v)).collect::<Option<_>>()?,
        result: remap(body.result)?,
    };
    Some(Function::new(name, values, block))
}

/// Makes the body of the `tile_map` at `site` a call of `callee` (the outlined body) with
/// the `captures` and the block's arguments, then drops the values left unused.
fn replace_body(f: &mut Function, site: ValueId, callee: FuncId, captures: Vec<ValueId>) {
    let Some(Op::TileMap { body, .. }) = f.values.get(site).map(|v| &v.op) else {
        return;
    };
    let Some(ty) = f.values.get(body.result).map(|v| v.ty.clone()) else {
        return;
    };
    let call_args: Vec<ValueId> = captures.iter().chain(&body.args).copied().collect();
    let call = f.values.push(Value {
        op: Op::Call {
            func: callee,
            args: call_args,
        },
        ty,
        name: None,
    });
    if let Some(Op::TileMap { body, .. }) = f.values.get_mut(site).map(|v| &mut v.op) {
        body.body = vec![call];
        body.result = call;
    }
    dce(f);
}
