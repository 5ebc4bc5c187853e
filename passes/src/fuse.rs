//! Shared work across batch reductions over the same points.
//!
//! A loss with several residuals on one point set, `mean(r1²) + mean(r2²) + mean(r3²)`, is
//! lowered as one `reduce_batch mean (map X { rᵢ² })` per residual, each map evaluating the
//! network and its input derivatives at the same points `X` again. This pass merges such
//! reductions (same reduction, same batched inputs in the same order, scalar per-point
//! values, each map used only by its reduction) into one:
//!
//! ```text
//! %m: batch f64[3] = map X (p) { …r1²…; …r2²…; …r3²…; yield concat [r1², r2², r3²] }
//! %s: f64[3] = reduce_batch mean %m
//! %l1 = index %s[0]   %l2 = index %s[1]   %l3 = index %s[2]
//! ```
//!
//! and then runs CSE, which merges the now-visible duplicates inside the one body: the
//! network's forward pass (inlined once per residual by derivative expansion), and every
//! derivative sweep the residuals have in common. The gradient taken afterwards reverses
//! one body. Each component of the merged reduction is summed over the points in the same
//! order as before, so results are bit-identical to the unmerged loss.
//!
//! The merge is made only where it is safe without reordering anything else: the merged
//! map is placed after everything the bodies read and before the first use of any merged
//! reduction; otherwise the group is left alone.

use crate::ad::{free_values, replace_uses, use_counts, value_uses};
use crate::cleanup::{cse, dce};
use sci_ir::{Block, DType, Function, Module, Op, ReduceOp, Type, Value, ValueId};
use std::collections::HashMap;

/// Merges reductions over the same points and removes the work they then share, in every
/// function of `m`; returns how many reductions were merged into others.
pub fn share_point_work(m: &mut Module) -> usize {
    let mut merged = 0;
    let ids: Vec<_> = m.functions.iter().map(|(id, _)| id).collect();
    for id in ids {
        if let Some(f) = m.functions.get_mut(id) {
            merged += share_point_work_function(f);
        }
    }
    merged
}

/// [`share_point_work`] for one function.
pub fn share_point_work_function(f: &mut Function) -> usize {
    let groups = candidate_groups(f);
    let mut merged = 0;
    for group in groups {
        let group = placeable(f, &group);
        if group.len() > 1 && merge(f, &group).is_some() {
            merged += group.len() - 1;
        }
    }
    if merged > 0 {
        cse(f);
        dce(f);
    }
    merged
}

/// One `reduce_batch op (map inputs { scalar })` at the top level.
#[derive(Clone, Debug)]
struct Member {
    reduction: ValueId,
    map: ValueId,
}

/// The top-level reductions that may merge, grouped by (reduction, inputs), in order.
fn candidate_groups(f: &Function) -> Vec<Vec<Member>> {
    let uses = use_counts(f);
    let mut keys: Vec<(ReduceOp, Vec<ValueId>)> = Vec::new();
    let mut groups: Vec<Vec<Member>> = Vec::new();
    for &id in &f.body.body {
        let Some(Value {
            op: Op::ReduceBatch(op, map),
            ty,
            ..
        }) = f.values.get(id)
        else {
            continue;
        };
        if !is_f64_scalar(ty) || uses.get(map) != Some(&1) || !f.body.body.contains(map) {
            continue;
        }
        let Some(Value {
            op: Op::Map { inputs, body },
            ..
        }) = f.values.get(*map)
        else {
            continue;
        };
        if inputs.is_empty() || body.args.len() != inputs.len() {
            continue;
        }
        if !f
            .values
            .get(body.result)
            .is_some_and(|v| is_f64_scalar(&v.ty))
        {
            continue;
        }
        let key = (*op, inputs.clone());
        let member = Member {
            reduction: id,
            map: *map,
        };
        match keys.iter().position(|k| *k == key) {
            Some(k) => groups[k].push(member),
            None => {
                keys.push(key);
                groups.push(vec![member]);
            }
        }
    }
    groups
}

fn is_f64_scalar(ty: &Type) -> bool {
    ty.dtype == DType::F64 && ty.shape.is_empty()
}

/// Where the merged map of `group` can go in `top`: after everything the bodies and inputs
/// read and before the first use of any merged reduction (`None`: nowhere).
fn placement(f: &Function, top: &[ValueId], group: &[Member]) -> Option<usize> {
    let position: HashMap<ValueId, usize> = top.iter().enumerate().map(|(k, v)| (*v, k)).collect();
    let members: Vec<ValueId> = group.iter().flat_map(|m| [m.map, m.reduction]).collect();
    let mut place = 0;
    for m in group {
        let Op::Map { inputs, body } = &f.values.get(m.map)?.op else {
            return None;
        };
        let read = free_values(&f.values, body).ok()?;
        for v in read.iter().chain(inputs) {
            if let Some(&k) = position.get(v) {
                place = place.max(k + 1);
            }
        }
    }
    let reductions: Vec<ValueId> = group.iter().map(|m| m.reduction).collect();
    let first_use = top
        .iter()
        .enumerate()
        .filter(|(_, v)| !members.contains(v))
        .find(|(_, v)| {
            value_uses(&f.values, **v).is_ok_and(|used| used.iter().any(|u| reductions.contains(u)))
        })
        .map_or(top.len(), |(k, _)| k);
    (place <= first_use).then_some(place)
}

/// The largest subgroup, in order, that has a placement: a member that would leave none
/// (its body reads a value computed from an earlier member's result) stays apart.
fn placeable(f: &Function, group: &[Member]) -> Vec<Member> {
    let top = &f.body.body;
    let mut chosen: Vec<Member> = Vec::new();
    for m in group {
        chosen.push(m.clone());
        if placement(f, top, &chosen).is_none() {
            chosen.pop();
        }
    }
    chosen
}

/// Merges one group; `None` (nothing changed) when the merged map has no valid place.
fn merge(f: &mut Function, group: &[Member]) -> Option<()> {
    let top = f.body.body.clone();
    let place = placement(f, &top, group)?;
    let members: Vec<ValueId> = group.iter().flat_map(|m| [m.map, m.reduction]).collect();

    // One body: the first map's arguments stand for every map's.
    let (op, inputs, args) = match (
        f.values.get(group[0].reduction).map(|v| &v.op),
        f.values.get(group[0].map).map(|v| &v.op),
    ) {
        (Some(Op::ReduceBatch(op, _)), Some(Op::Map { inputs, body })) => {
            (*op, inputs.clone(), body.args.clone())
        }
        _ => return None,
    };
    let mut body = Vec::new();
    let mut results = Vec::with_capacity(group.len());
    for m in group {
        let Some(Op::Map { body: b, .. }) = f.values.get(m.map).map(|v| v.op.clone()) else {
            return None;
        };
        for (mine, first) in b.args.iter().zip(&args) {
            if mine != first {
                replace_uses(f, *mine, *first);
            }
        }
        body.extend(b.body);
        // `replace_uses` rewrote the block's result in place when it was an argument.
        let Some(Op::Map { body: b, .. }) = f.values.get(m.map).map(|v| &v.op) else {
            return None;
        };
        results.push(b.result);
    }
    let n = group.len();
    let stacked = push(f, Op::Concat(results), Type::f64(vec![n]));
    body.push(stacked);
    let map = push(
        f,
        Op::Map {
            inputs,
            body: Block {
                args,
                body,
                result: stacked,
            },
        },
        Type::f64(vec![n]).batched(),
    );
    let sums = push(f, Op::ReduceBatch(op, map), Type::f64(vec![n]));
    let mut new = vec![map, sums];
    for (k, m) in group.iter().enumerate() {
        let ty = f.values.get(m.reduction)?.ty.clone();
        let at = push(f, Op::Const(k as f64), Type::index());
        let component = push(
            f,
            Op::Index {
                array: sums,
                indices: vec![at],
                fill: None,
            },
            ty,
        );
        replace_uses(f, m.reduction, component);
        new.extend([at, component]);
    }
    // The old maps' bodies now belong to the merged map: the old values leave the block.
    let mut rebuilt = Vec::with_capacity(top.len() + new.len());
    for (k, v) in top.iter().enumerate() {
        if k == place {
            rebuilt.append(&mut new);
        }
        if !members.contains(v) {
            rebuilt.push(*v);
        }
    }
    rebuilt.append(&mut new);
    f.body.body = rebuilt;
    // The old maps and reductions are in no block now; leave nothing in them that refers
    // to the merged body's values.
    for v in &members {
        if let Some(old) = f.values.get_mut(*v) {
            old.op = Op::Const(0.0);
        }
    }
    Some(())
}

fn push(f: &mut Function, op: Op, ty: Type) -> ValueId {
    f.values.push(Value { op, ty, name: None })
}
