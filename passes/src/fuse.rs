//! Shared work across batch reductions over the same points.
//!
//! A loss with several residuals on one point set, `mean(r1²) + mean(r2²) + mean(r3²)`, is
//! lowered as one `reduce_batch mean (map X { rᵢ² })` per residual, each map evaluating the
//! network and its input derivatives at the same points `X` again. This pass merges such
//! reductions (`sum` or `mean`, the same batched inputs in the same order, scalar or vector
//! per-point values, each map used only by its reduction) into one:
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
//! order as before, so results are bit-identical to the unmerged loss. Sums and means merge
//! as one sum, each mean then divided by the point count as `reduce_batch mean` divides.
//!
//! The same merge serves `value_and_grad`: the value's `mean` map and the gradient's reverse
//! map, which recomputes the forward pass, become one body in which the forward pass runs
//! once. Two rewrites first give them the same inputs: a map that only counts the points of
//! another map's result reads the points themselves, and a map yielding one value for every
//! point (the `1/n` seed) is read as that value.
//!
//! The merged map goes where the first map was, and the top-level block is put back in
//! dependency order (what the other maps read moves before it, what uses their results
//! after). A map that reads one of the other reductions (a gradient whose seed depends on
//! the loss value) is left apart, so no merge creates a cycle.

use crate::ad::{replace_uses, use_counts, value_uses};
use crate::cleanup::{cse, dce};
use crate::tile::inline_calls_in_maps;
use sci_ir::{BinaryOp, Block, DType, Function, Module, Op, ReduceOp, Type, Value, ValueId};
use std::collections::HashSet;

/// Merges reductions over the same points and removes the work they then share, in every
/// function of `m`; returns how many reductions were merged into others.
pub fn share_point_work(m: &mut Module) -> usize {
    let mut merged = 0;
    let ids: Vec<_> = m.functions.iter().map(|(id, _)| id).collect();
    for id in ids {
        let Some(f) = m.functions.get_mut(id) else {
            continue;
        };
        let here = share_point_work_function(f);
        merged += here;
        // A merged body may evaluate the network once as a call (the value's map) and once
        // inlined (the gradient's, which derivative code needs inlined): inlined both, CSE
        // sees one forward pass.
        if here > 0
            && inline_calls_in_maps(m, id)
            && let Some(f) = m.functions.get_mut(id)
        {
            cse(f);
            dce(f);
        }
    }
    merged
}

/// [`share_point_work`] for one function.
pub fn share_point_work_function(f: &mut Function) -> usize {
    forward_batch_sources(f);
    inline_uniform_inputs(f);
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

/// Maps that read only the number of points of a batched input (the `1/n` seeds and point
/// counts of a gradient, `map %residual (r) { 1 }`) take it from where that batch came
/// from instead: input `k` of a map whose body never reads its argument `k`, when it is
/// the result of another map, becomes that map's first input (the same number of points).
/// So the residual map is no longer needed only to be counted.
fn forward_batch_sources(f: &mut Function) {
    let top = f.body.body.clone();
    for &id in &top {
        let Some(Op::Map { inputs, body }) = f.values.get(id).map(|v| &v.op) else {
            continue;
        };
        // A broken map (arguments and inputs differ in number) is left alone.
        if body.args.len() != inputs.len() {
            continue;
        }
        let read = block_reads(f, body);
        let mut new_inputs = inputs.clone();
        for (k, arg) in body.args.iter().enumerate() {
            if read.contains(arg) {
                continue;
            }
            // Follow producers of unread inputs back to a batch that is not a map's result
            // (bounded: each step moves to an earlier value).
            for _ in 0..top.len() {
                let source = new_inputs[k];
                match f.values.get(source).map(|v| &v.op) {
                    Some(Op::Map { inputs: up, .. }) if !up.is_empty() && top.contains(&source) => {
                        new_inputs[k] = up[0];
                    }
                    _ => break,
                }
            }
        }
        // An unread argument takes the type of its new input's points.
        let args = body.args.clone();
        for (arg, input) in args.iter().zip(&new_inputs) {
            let Some(ty) = f.values.get(*input).map(|v| v.ty.per_point()) else {
                continue;
            };
            if let Some(a) = f.values.get_mut(*arg)
                && !read.contains(arg)
            {
                a.ty = ty;
            }
        }
        if let Some(Op::Map { inputs, .. }) = f.values.get_mut(id).map(|v| &mut v.op) {
            *inputs = new_inputs;
        }
    }
}

/// A map input that is the same value at every point (a gradient's seed `map %r (p) {
/// %c }` with `%c` computed outside) is read as that value: the consumer's argument is
/// replaced by `%c` and the input dropped, so the consumer has the same inputs as the
/// maps it may merge with.
fn inline_uniform_inputs(f: &mut Function) {
    let top = f.body.body.clone();
    for &id in &top {
        while let Some(Op::Map { inputs, body }) = f.values.get(id).map(|v| &v.op) {
            if body.args.len() != inputs.len() {
                break;
            }
            let found = inputs.iter().enumerate().find_map(|(k, x)| {
                let Some(Op::Map {
                    inputs: up_inputs,
                    body: up,
                }) = f.values.get(*x).map(|v| &v.op)
                else {
                    return None;
                };
                let inside = up.args.contains(&up.result) || up.body.contains(&up.result);
                // Sharing an input: the same points, so dropping it checks no fewer sizes.
                let same_points = up_inputs.iter().any(|u| inputs.contains(u));
                (!inside && same_points && top.contains(x) && inputs.len() > 1)
                    .then_some((k, up.result))
            });
            let Some((k, value)) = found else { break };
            let (mut inputs, mut body) = (inputs.clone(), body.clone());
            let arg = body.args.remove(k);
            inputs.remove(k);
            replace_uses(f, arg, value);
            for (j, a) in body.args.iter().enumerate().skip(k) {
                if let Some(v) = f.values.get_mut(*a) {
                    v.op = Op::Arg(j);
                }
            }
            if let Some(Op::Map { inputs: i, body: b }) = f.values.get_mut(id).map(|v| &mut v.op) {
                *i = inputs;
                b.args = body.args;
                if b.result == arg {
                    b.result = value;
                }
            }
        }
    }
}

/// Every value read inside `block` (at any depth), its result included.
fn block_reads(f: &Function, block: &Block) -> Vec<ValueId> {
    let mut read = vec![block.result];
    for id in &block.body {
        if let Ok(uses) = value_uses(&f.values, *id) {
            read.extend(uses);
        }
    }
    read
}

/// One `reduce_batch sum|mean (map inputs { scalar or vector })` at the top level.
#[derive(Clone, Debug)]
struct Member {
    reduction: ValueId,
    map: ValueId,
    op: ReduceOp,
    /// Elements per point (1 for a scalar).
    width: usize,
}

/// The top-level reductions that may merge, grouped by their map's inputs, in order.
fn candidate_groups(f: &Function) -> Vec<Vec<Member>> {
    let uses = use_counts(f);
    let mut keys: Vec<Vec<ValueId>> = Vec::new();
    let mut groups: Vec<Vec<Member>> = Vec::new();
    for &id in &f.body.body {
        let Some(Value {
            op: Op::ReduceBatch(op @ (ReduceOp::Sum | ReduceOp::Mean), map),
            ty,
            ..
        }) = f.values.get(id)
        else {
            continue;
        };
        let Some(width) = f64_width(ty) else {
            continue;
        };
        if uses.get(map) != Some(&1) || !f.body.body.contains(map) {
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
        let member = Member {
            reduction: id,
            map: *map,
            op: *op,
            width,
        };
        match keys.iter().position(|k| k == inputs) {
            Some(k) => groups[k].push(member),
            None => {
                keys.push(inputs.clone());
                groups.push(vec![member]);
            }
        }
    }
    groups
}

/// The number of elements of an `f64` scalar or vector.
fn f64_width(ty: &Type) -> Option<usize> {
    match ty.shape.as_slice() {
        _ if ty.dtype != DType::F64 => None,
        [] => Some(1),
        [n] => Some(*n),
        _ => None,
    }
}

/// The top-level values `m`'s map reads, directly or through other top-level values.
fn reach(f: &Function, top: &HashSet<ValueId>, m: &Member) -> HashSet<ValueId> {
    let mut seen = HashSet::new();
    let mut stack = value_uses(&f.values, m.map).unwrap_or_default();
    while let Some(v) = stack.pop() {
        if top.contains(&v) && seen.insert(v) {
            stack.extend(value_uses(&f.values, v).unwrap_or_default());
        }
    }
    seen
}

/// The largest subgroup, in order, whose maps read none of its reductions (a gradient
/// whose seed depends on the loss value cannot be computed in the value's own map): a
/// member that would close such a cycle stays apart.
fn placeable(f: &Function, group: &[Member]) -> Vec<Member> {
    let top: HashSet<ValueId> = f.body.body.iter().copied().collect();
    let reaches: Vec<HashSet<ValueId>> = group.iter().map(|m| reach(f, &top, m)).collect();
    let mut chosen: Vec<usize> = Vec::new();
    for k in 0..group.len() {
        let clash = chosen.iter().any(|&c| {
            reaches[c].contains(&group[k].reduction) || reaches[k].contains(&group[c].reduction)
        });
        if !clash {
            chosen.push(k);
        }
    }
    chosen.into_iter().map(|k| group[k].clone()).collect()
}

/// `body` reordered so that every value comes after the top-level values it reads, keeping
/// the given order wherever it already is one (a depth-first order, iterative so that
/// long chains cannot overflow the stack); `None` if the reads have a cycle.
fn dependency_order(f: &Function, body: &[ValueId]) -> Option<Vec<ValueId>> {
    let in_body: HashSet<ValueId> = body.iter().copied().collect();
    let mut done: HashSet<ValueId> = HashSet::new();
    let mut open: HashSet<ValueId> = HashSet::new();
    let mut out = Vec::with_capacity(body.len());
    for &root in body {
        let mut stack = vec![(root, false)];
        while let Some((v, expanded)) = stack.pop() {
            if done.contains(&v) {
                continue;
            }
            if expanded {
                open.remove(&v);
                done.insert(v);
                out.push(v);
                continue;
            }
            if !open.insert(v) {
                return None;
            }
            stack.push((v, true));
            let reads = value_uses(&f.values, v).ok()?;
            for u in reads.into_iter().rev() {
                if in_body.contains(&u) && !done.contains(&u) {
                    stack.push((u, false));
                }
            }
        }
    }
    Some(out)
}

/// Merges one group; `None` (nothing changed) when the merged map has no valid place.
fn merge(f: &mut Function, group: &[Member]) -> Option<()> {
    let top = f.body.body.clone();
    let place = top.iter().position(|v| *v == group[0].map)?;
    let members: Vec<ValueId> = group.iter().flat_map(|m| [m.map, m.reduction]).collect();

    // One body: the first map's arguments stand for every map's.
    let (inputs, args) = match f.values.get(group[0].map).map(|v| &v.op) {
        Some(Op::Map { inputs, body }) => (inputs.clone(), body.args.clone()),
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
    let n: usize = group.iter().map(|m| m.width).sum();
    let stacked = push(f, Op::Concat(results), Type::f64(vec![n]));
    body.push(stacked);
    // Sums and means together: one sum, each mean divided by the number of points as the
    // reduction itself divides (`acc / n`, so the same bits).
    let mixed = group.iter().any(|m| m.op != group[0].op);
    let op = if mixed { ReduceOp::Sum } else { group[0].op };
    let mut new = Vec::new();
    let count = if mixed {
        Some(point_count(f, &inputs, &mut new)?)
    } else {
        None
    };
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
    new.extend([map, sums]);
    let mut offset = 0;
    for m in group {
        let ty = f.values.get(m.reduction)?.ty.clone();
        let mut component = if ty.shape.is_empty() {
            let at = push(f, Op::Const(offset as f64), Type::index());
            new.push(at);
            push(
                f,
                Op::Index {
                    array: sums,
                    indices: vec![at],
                    fill: None,
                },
                ty.clone(),
            )
        } else {
            push(
                f,
                Op::Slice {
                    array: sums,
                    start: offset,
                    len: m.width,
                },
                ty.clone(),
            )
        };
        new.push(component);
        if let (Some((n, defined)), ReduceOp::Mean) = (count, m.op) {
            component = mean_of(f, component, n, defined, &ty, &mut new);
        }
        replace_uses(f, m.reduction, component);
        offset += m.width;
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
    // The merged map reads what every member read: later values move up, or it moves down.
    f.body.body = dependency_order(f, &rebuilt)?;
    // The old maps and reductions are in no block now; leave nothing in them that refers
    // to the merged body's values.
    for v in &members {
        if let Some(old) = f.values.get_mut(*v) {
            old.op = Op::Const(0.0);
        }
    }
    Some(())
}

/// The number of points of a batch with `inputs`, and a value that is exactly 1 where the
/// points are not empty and fails (like `reduce_batch mean` of no points) otherwise:
/// `reduce_batch sum` and `reduce_batch mean` of a map yielding 1. The new values are
/// appended to `new`.
fn point_count(
    f: &mut Function,
    inputs: &[ValueId],
    new: &mut Vec<ValueId>,
) -> Option<(ValueId, ValueId)> {
    let mut out = [ValueId::from_index(0); 2];
    // The count over the first input alone is the one a gradient's `1/n` seed already
    // computes (CSE merges them); the check over all inputs is a map of its own, so each
    // map has one reduction and tiles with it fused.
    let first = inputs.get(..1)?;
    for (slot, op, inputs) in [(0, ReduceOp::Sum, first), (1, ReduceOp::Mean, inputs)] {
        let slot = &mut out[slot];
        let mut args = Vec::with_capacity(inputs.len());
        for (k, x) in inputs.iter().enumerate() {
            let ty = f.values.get(*x)?.ty.per_point();
            args.push(push(f, Op::Arg(k), ty));
        }
        let one = push(f, Op::Const(1.0), Type::scalar());
        let ones = push(
            f,
            Op::Map {
                inputs: inputs.to_vec(),
                body: Block {
                    args,
                    body: vec![one],
                    result: one,
                },
            },
            Type::scalar().batched(),
        );
        *slot = push(f, Op::ReduceBatch(op, ones), Type::scalar());
        new.extend([ones, *slot]);
    }
    Some((out[0], out[1]))
}

/// `sum / count * defined`, elementwise for a vector `sum` (see [`point_count`]).
fn mean_of(
    f: &mut Function,
    sum: ValueId,
    count: ValueId,
    defined: ValueId,
    ty: &Type,
    new: &mut Vec<ValueId>,
) -> ValueId {
    let (count, defined) = if ty.shape.is_empty() {
        (count, defined)
    } else {
        let c = push(f, Op::Broadcast(count), ty.clone());
        let d = push(f, Op::Broadcast(defined), ty.clone());
        new.extend([c, d]);
        (c, d)
    };
    let mean = push(f, Op::Binary(BinaryOp::Div, sum, count), ty.clone());
    let checked = push(f, Op::Binary(BinaryOp::Mul, mean, defined), ty.clone());
    new.extend([mean, checked]);
    checked
}

fn push(f: &mut Function, op: Op, ty: Type) -> ValueId {
    f.values.push(Value { op, ty, name: None })
}
