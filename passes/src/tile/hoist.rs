//! Loop-invariant work out of tile bodies.
//!
//! A tiled body computes its uniform values (those that do not depend on the points) once
//! per tile: the transposes of the weight matrices that a network's reverse pass
//! multiplies with, the biases broadcast over the lanes, products of weights. They are the
//! same for every tile, so they move in front of the `tile_map` and are computed once per
//! call (the outlined tile functions receive them as captures). Views (slices and reshapes
//! of θ) and constants move only when a moved value needs them: alone they cost nothing in
//! the body, and a constant inside the body is an immediate operand.
//!
//! A value that can fail at run time (an `index` that may be out of range, a call) stays in
//! the body, so a map over no points still fails nowhere.

use crate::ad::value_uses;
use sci_ir::{Block, Function, Op, ValueId};
use std::collections::HashSet;

/// Moves the loop-invariant values of `block` (a tile body) out of it; returns them in
/// order, to be placed before the `tile_map`.
pub(super) fn hoist_invariants(f: &Function, block: &mut Block) -> Vec<ValueId> {
    let mut varying: HashSet<ValueId> = block.args.iter().copied().collect();
    // Values that may move: independent of the tile, safe anywhere, with every operand
    // defined in the body movable too.
    let mut movable: HashSet<ValueId> = HashSet::new();
    let in_body: HashSet<ValueId> = block.body.iter().copied().collect();
    for &id in &block.body {
        let Some(v) = f.values.get(id) else {
            return Vec::new();
        };
        let Ok(uses) = value_uses(&f.values, id) else {
            return Vec::new();
        };
        if uses.iter().any(|u| varying.contains(u)) {
            varying.insert(id);
            continue;
        }
        let operands_movable = uses
            .iter()
            .all(|u| !in_body.contains(u) || movable.contains(u));
        if operands_movable && !may_fail(f, &v.op) {
            movable.insert(id);
        }
    }
    // Of those, the ones worth moving and what they need.
    let mut moved: HashSet<ValueId> = HashSet::new();
    for &id in block.body.iter().rev() {
        let Some(v) = f.values.get(id) else {
            return Vec::new();
        };
        if !movable.contains(&id) || !(moved.contains(&id) || worth_moving(f, id)) {
            continue;
        }
        if matches!(v.op, Op::Arg(_)) {
            continue;
        }
        moved.insert(id);
        if let Ok(uses) = value_uses(&f.values, id) {
            moved.extend(uses.into_iter().filter(|u| in_body.contains(u)));
        }
    }
    if moved.is_empty() || moved.contains(&block.result) {
        return Vec::new();
    }
    let (out, stay): (Vec<ValueId>, Vec<ValueId>) =
        block.body.iter().partition(|id| moved.contains(id));
    block.body = stay;
    out
}

/// True for work that costs something per tile: an op over more than one element that is
/// not a view or a constant, or a loop.
fn worth_moving(f: &Function, id: ValueId) -> bool {
    let Some(v) = f.values.get(id) else {
        return false;
    };
    match &v.op {
        Op::Tabulate { .. } | Op::Fold { .. } => true,
        Op::Arg(_)
        | Op::Const(_)
        | Op::Literal(_)
        | Op::Slice { .. }
        | Op::Reshape(_)
        | Op::Index { .. } => false,
        _ => v.ty.element_count().is_some_and(|n| n > 1),
    }
}

/// True when evaluating `op` may stop with a run-time failure: a call, an `index` without
/// `fill` whose indices are not constants known to be in range, or a loop whose body holds
/// either.
fn may_fail(f: &Function, op: &Op) -> bool {
    may_fail_within(f, op, 0)
}

fn may_fail_within(f: &Function, op: &Op, depth: usize) -> bool {
    if let Some(block) = op.block() {
        return depth > 64
            || block.body.iter().any(|id| {
                f.values
                    .get(*id)
                    .is_none_or(|v| may_fail_within(f, &v.op, depth + 1))
            });
    }
    match op {
        Op::Call { .. } | Op::Deriv { .. } => true,
        Op::Index {
            array,
            indices,
            fill: None,
        } => {
            let Some(shape) = f.values.get(*array).map(|a| a.ty.shape.clone()) else {
                return true;
            };
            indices.len() > shape.len()
                || indices.iter().zip(&shape).any(|(i, &n)| {
                    !matches!(f.values.get(*i).map(|v| &v.op),
                        Some(Op::Const(c)) if *c >= 0.0 && (*c as usize) < n && c.fract() == 0.0)
                })
        }
        _ => false,
    }
}
