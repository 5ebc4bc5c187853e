//! Structural queries and edits on a function's value graph.
//!
//! Free values of blocks (what a structured op reads from outside its block), the place of
//! every value (which block, which position, in which global order), dependency slices,
//! use replacement, and `compact`: dead-value removal plus renumbering in the order the
//! `.sir` reader rebuilds, so transformed functions print plainly.
//!
//! Walks recurse over block nesting only; nesting is bounded by [`MAX_DEPTH`], checked.

use super::AdError;
use sci_ir::{Arena, Block, Function, Op, Value, ValueId};
use std::collections::{HashMap, HashSet};

/// Deepest block nesting the transforms follow (the validator allows 64).
pub(crate) const MAX_DEPTH: usize = 96;

/// The value behind a handle.
pub(crate) fn val(values: &Arena<Value>, id: ValueId) -> Result<&Value, AdError> {
    values
        .get(id)
        .ok_or_else(|| AdError::internal(format!("value %{} does not exist", id.index())))
}

/// Values read inside `block` (at any depth) that are defined outside it, in order of
/// first use; the block's result counts as a use.
pub(crate) fn free_values(values: &Arena<Value>, block: &Block) -> Result<Vec<ValueId>, AdError> {
    let mut defined = HashSet::new();
    let mut used = Vec::new();
    collect_block(values, block, &mut defined, &mut used, 0)?;
    let mut seen = HashSet::new();
    Ok(used
        .into_iter()
        .filter(|u| !defined.contains(u) && seen.insert(*u))
        .collect())
}

fn collect_block(
    values: &Arena<Value>,
    block: &Block,
    defined: &mut HashSet<ValueId>,
    used: &mut Vec<ValueId>,
    depth: usize,
) -> Result<(), AdError> {
    if depth > MAX_DEPTH {
        return Err(AdError::limit());
    }
    defined.extend(block.args.iter().copied());
    for &id in &block.body {
        defined.insert(id);
        let v = val(values, id)?;
        used.extend(v.op.operands());
        if let Some(inner) = v.op.block() {
            collect_block(values, inner, defined, used, depth + 1)?;
        }
    }
    used.push(block.result);
    Ok(())
}

/// What a value reads: its operands and, for a structured op, its block's free values.
pub(crate) fn uses(values: &Arena<Value>, id: ValueId) -> Result<Vec<ValueId>, AdError> {
    let v = val(values, id)?;
    let mut out = v.op.operands();
    if let Some(block) = v.op.block() {
        out.extend(free_values(values, block)?);
    }
    Ok(out)
}

/// Where a value is defined.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Place {
    /// The structured op owning the block (None: the function's top-level block).
    pub owner: Option<ValueId>,
    /// Position in the block's body (`usize::MAX` for block arguments).
    pub pos: usize,
    /// Global definition order: a preorder over blocks, a block's contents before values
    /// defined after its op.
    pub order: usize,
}

/// The place of every value reachable from the function's blocks.
pub(crate) fn places(f: &Function) -> Result<HashMap<ValueId, Place>, AdError> {
    let mut out = HashMap::new();
    let mut counter = 0usize;
    place_block(&f.values, &f.body, None, &mut out, &mut counter, 0)?;
    Ok(out)
}

fn place_block(
    values: &Arena<Value>,
    block: &Block,
    owner: Option<ValueId>,
    out: &mut HashMap<ValueId, Place>,
    counter: &mut usize,
    depth: usize,
) -> Result<(), AdError> {
    if depth > MAX_DEPTH {
        return Err(AdError::limit());
    }
    for &a in &block.args {
        out.insert(
            a,
            Place {
                owner,
                pos: usize::MAX,
                order: *counter,
            },
        );
        *counter += 1;
    }
    for (pos, &id) in block.body.iter().enumerate() {
        if let Some(inner) = val(values, id)?.op.block() {
            place_block(values, inner, Some(id), out, counter, depth + 1)?;
        }
        out.insert(
            id,
            Place {
                owner,
                pos,
                order: *counter,
            },
        );
        *counter += 1;
    }
    Ok(())
}

/// The block owned by `owner` (the top-level block for `None`).
pub(crate) fn block_mut(f: &mut Function, owner: Option<ValueId>) -> Option<&mut Block> {
    match owner {
        None => Some(&mut f.body),
        Some(o) => f.values.get_mut(o)?.op.block_mut(),
    }
}

/// The block owned by `owner` (the top-level block for `None`).
pub(crate) fn block_ref(f: &Function, owner: Option<ValueId>) -> Option<&Block> {
    match owner {
        None => Some(&f.body),
        Some(o) => f.values.get(o)?.op.block(),
    }
}

/// The values visible at a place that `target` depends on and that depend on one of
/// `seeds`, in definition order (the seeds themselves excluded). Values inside blocks of
/// structured ops are not listed: the structured op stands for them.
pub(crate) fn slice(
    f: &Function,
    places: &HashMap<ValueId, Place>,
    target: ValueId,
    seeds: &[ValueId],
) -> Result<Vec<ValueId>, AdError> {
    // Backward: everything `target` reads, transitively (through block free values).
    let mut needed = HashSet::new();
    let mut stack = vec![target];
    while let Some(v) = stack.pop() {
        if !needed.insert(v) {
            continue;
        }
        for u in uses(&f.values, v)? {
            if !needed.contains(&u) {
                stack.push(u);
            }
        }
    }
    let mut needed: Vec<ValueId> = needed.into_iter().collect();
    needed.sort_by_key(|v| places.get(v).map_or(usize::MAX, |p| p.order));
    // Forward: which of them depend on a seed.
    let mut active: HashSet<ValueId> = seeds.iter().copied().collect();
    let mut out = Vec::new();
    for v in needed {
        if active.contains(&v) {
            continue;
        }
        if uses(&f.values, v)?.iter().any(|u| active.contains(u)) {
            active.insert(v);
            out.push(v);
        }
    }
    Ok(out)
}

/// Replaces every use of `old` by `new`: operands and block results. Block argument and
/// body lists are left alone (where values are defined does not change).
pub(crate) fn replace_uses(f: &mut Function, old: ValueId, new: ValueId) {
    let swap = |id: ValueId| if id == old { new } else { id };
    let ids: Vec<ValueId> = f.values.iter().map(|(id, _)| id).collect();
    for id in ids {
        if let Some(v) = f.values.get_mut(id) {
            if matches!(v.op, Op::Arg(_)) {
                continue;
            }
            let saved = v.op.block().map(|b| (b.args.clone(), b.body.clone()));
            v.op.map_values(swap);
            if let (Some(b), Some((args, body))) = (v.op.block_mut(), saved) {
                b.args = args;
                b.body = body;
            }
        }
    }
    f.body.result = swap(f.body.result);
}

/// Removes values the result does not need and renumbers the rest in builder order (the
/// function's inputs, then per line its block's values and the line's value), so the
/// printer writes the function plainly. Block arguments are kept.
pub(crate) fn compact(f: &Function) -> Result<Function, AdError> {
    let mut live = HashSet::new();
    live.insert(f.body.result);
    mark_live(&f.values, &f.body, &mut live, 0)?;
    let mut map: HashMap<ValueId, ValueId> = HashMap::new();
    let mut values = Arena::new();
    let args = copy_args(&f.values, &f.body.args, &mut values, &mut map)?;
    let body = copy_body(&f.values, &f.body.body, &live, &mut values, &mut map, 0)?;
    let result = *map
        .get(&f.body.result)
        .ok_or_else(|| AdError::internal("the result of a function is not defined"))?;
    Ok(Function {
        name: f.name.clone(),
        values,
        body: Block { args, body, result },
        role: f.role.clone(),
        input_roles: f.input_roles.clone(),
    })
}

fn mark_live(
    values: &Arena<Value>,
    block: &Block,
    live: &mut HashSet<ValueId>,
    depth: usize,
) -> Result<(), AdError> {
    if depth > MAX_DEPTH {
        return Err(AdError::limit());
    }
    for &id in block.body.iter().rev() {
        if !live.contains(&id) {
            continue;
        }
        let v = val(values, id)?;
        live.extend(v.op.operands());
        if let Some(inner) = v.op.block() {
            live.insert(inner.result);
            mark_live(values, inner, live, depth + 1)?;
        }
    }
    Ok(())
}

fn copy_args(
    old: &Arena<Value>,
    args: &[ValueId],
    values: &mut Arena<Value>,
    map: &mut HashMap<ValueId, ValueId>,
) -> Result<Vec<ValueId>, AdError> {
    let mut out = Vec::with_capacity(args.len());
    for &a in args {
        let new = values.push(val(old, a)?.clone());
        map.insert(a, new);
        out.push(new);
    }
    Ok(out)
}

fn copy_body(
    old: &Arena<Value>,
    body: &[ValueId],
    live: &HashSet<ValueId>,
    values: &mut Arena<Value>,
    map: &mut HashMap<ValueId, ValueId>,
    depth: usize,
) -> Result<Vec<ValueId>, AdError> {
    if depth > MAX_DEPTH {
        return Err(AdError::limit());
    }
    let mut out = Vec::new();
    for &id in body {
        if !live.contains(&id) {
            continue;
        }
        let mut v = val(old, id)?.clone();
        if let Some(inner) = v.op.block() {
            let inner = inner.clone();
            let args = copy_args(old, &inner.args, values, map)?;
            let body = copy_body(old, &inner.body, live, values, map, depth + 1)?;
            let result = *map
                .get(&inner.result)
                .ok_or_else(|| AdError::internal("a block result is not defined"))?;
            if let Some(b) = v.op.block_mut() {
                *b = Block { args, body, result };
            }
            // The block now holds new handles; remap only the operands.
            let operands = v.op.operands();
            let remap: HashMap<ValueId, ValueId> = operands
                .into_iter()
                .map(|o| (o, map.get(&o).copied().unwrap_or(o)))
                .collect();
            let block = v.op.block().cloned();
            v.op.map_values(|x| remap.get(&x).copied().unwrap_or(x));
            if let (Some(b), Some(saved)) = (v.op.block_mut(), block) {
                *b = saved;
            }
        } else {
            v.op.map_values(|x| map.get(&x).copied().unwrap_or(x));
        }
        let new = values.push(v);
        map.insert(id, new);
        out.push(new);
    }
    Ok(out)
}

/// How many times each value is used (operands and block results).
pub(crate) fn use_counts(g: &Function) -> HashMap<ValueId, usize> {
    let mut counts: HashMap<ValueId, usize> = HashMap::new();
    for (_, v) in g.values.iter() {
        for o in v.op.operands() {
            *counts.entry(o).or_default() += 1;
        }
        if let Some(b) = v.op.block() {
            *counts.entry(b.result).or_default() += 1;
        }
    }
    *counts.entry(g.body.result).or_default() += 1;
    counts
}
