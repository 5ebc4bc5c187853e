//! Solve-invariant parts of functions over grids, computed once per parameter change.
//!
//! During one ODE solve θ is fixed and only `t` and `y` move. Much of a discretised
//! operator does not depend on them — a heterogeneous medium's conductivity at every cell
//! face, and in its Jacobian the entries `k(x) / h²` and the sum of a cell's face
//! conductivities on the diagonal — yet it is computed again at every call of the
//! right-hand side and at every Jacobian update. This pass splits a function `f(t, y, θ)`
//! with `tabulate`s over grids (a right-hand side, element-local Jacobian values, the
//! dense `∂f/∂θ`) in two:
//!
//! - `invariant(θ) → f64[len]`: per grid point, the values of the grid body that depend on
//!   the point but on neither `t` nor `y`, where something that does vary uses them (the
//!   *frontier*: maximal invariant subexpressions), or where they are entries themselves;
//! - `update(t, y, θ, invariant) → f(t, y, θ)`: the same function reading the frontier
//!   from `invariant` instead of computing it: a constant entry becomes a copy.
//!
//! The host calls `invariant` when θ changes and `update` at every call. A grid that
//! depends on θ alone as a whole (the conductivities themselves) is read in place.
//! The split is made only where it pays: the work it removes per point, weighted by what
//! the operations cost ([`weight`]), must be at least twice the loads it adds.
//! Subexpressions that do not depend on the point either (`α / h²`) stay where they are:
//! the lowering computes them once per call already, and the stencil split decides the
//! index tests that select them.

use sci_ir::types::element_count;
use sci_ir::{
    BinaryOp, DType, Function, InputRole, Op, Role, SplitPart, Type, UnaryOp, Value, ValueId,
};
use std::collections::HashSet;

/// A function split into its solve-invariant part and the rest (see the module header).
#[derive(Clone, Debug)]
pub struct InvariantSplit {
    /// `θ → f64[len]`.
    pub invariant: Function,
    /// The inputs of the original function, then `f64[len]` from `invariant`.
    pub update: Function,
    /// Number of invariant values (all grid points of all split grids).
    pub len: usize,
}

/// Splits `f` into the part that depends only on its input `params` (θ; every other input
/// moves during a solve) and the update reading it, or `None` where nothing worth
/// hoisting is found.
pub fn split_invariant(f: &Function, params: usize) -> Option<InvariantSplit> {
    let params_arg = *f.inputs().get(params)?;
    let varying: Vec<usize> = (0..f.inputs().len()).filter(|&k| k != params).collect();
    let varies = varying_values(f, &varying);
    let mut plans = Vec::new();
    for &t in &f.body.body {
        if let Some(plan) = plan_grid(f, t, &varies) {
            plans.push(plan);
        }
    }
    if plans.is_empty() {
        return None;
    }
    let mut len = 0usize;
    for plan in &mut plans {
        plan.offset = len;
        len = len.checked_add(plan.points.checked_mul(plan.frontier.len())?)?;
    }
    let invariant = invariant_function(f, &plans, params_arg, params, len)?;
    let update = update_function(f, &plans, len)?;
    Some(InvariantSplit {
        invariant,
        update,
        len,
    })
}

/// What is hoisted out of one top-level `tabulate`.
struct GridPlan {
    tabulate: ValueId,
    extents: Vec<usize>,
    points: usize,
    /// The body values read from the invariant array instead, in its order per point.
    frontier: Vec<ValueId>,
    /// The body values the frontier needs, in body order.
    cone: Vec<ValueId>,
    /// First element of this grid's values in the invariant array.
    offset: usize,
}

/// Which values of `f` depend on the inputs `varying` (through operands and blocks).
fn varying_values(f: &Function, varying: &[usize]) -> Vec<bool> {
    let mut varies = vec![false; f.values.len()];
    for &k in varying {
        if let Some(a) = f.inputs().get(k) {
            varies[a.index()] = true;
        }
    }
    mark_block(f, &f.body.body, &mut varies);
    varies
}

fn mark_block(f: &Function, body: &[ValueId], varies: &mut [bool]) {
    for &v in body {
        let Some(value) = f.values.get(v) else {
            continue;
        };
        let mut x = value
            .op
            .operands()
            .iter()
            .any(|o| varies.get(o.index()).copied().unwrap_or(true));
        if let Some(b) = value.op.block() {
            mark_block(f, &b.body, varies);
            x |= b.body.iter().any(|o| varies[o.index()]) || varies[b.result.index()];
        }
        varies[v.index()] = x;
    }
}

/// The frontier of top-level `tabulate` `t` with a flat body, if hoisting it pays.
fn plan_grid(f: &Function, t: ValueId, varies: &[bool]) -> Option<GridPlan> {
    let Op::Tabulate { extents, body } = &f.values.get(t)?.op else {
        return None;
    };
    if body.body.iter().any(|&v| f.values[v].op.block().is_some()) {
        return None;
    }
    let points = element_count(extents)?;
    let in_body: HashSet<ValueId> = body.body.iter().copied().collect();
    // Values that differ from point to point: those depending on the counters.
    let mut per_point: HashSet<ValueId> = body.args.iter().copied().collect();
    for &v in &body.body {
        if f.values[v]
            .op
            .operands()
            .iter()
            .any(|o| per_point.contains(o))
        {
            per_point.insert(v);
        }
    }
    let hoistable = |v: ValueId| {
        in_body.contains(&v) && per_point.contains(&v) && !varies[v.index()] && {
            let ty = &f.values[v].ty;
            ty.dtype == DType::F64 && ty.shape.is_empty()
        }
    };
    // Operands of what stays: the varying values and what the point yields.
    let result = &f.values.get(body.result)?.op;
    let sinks: Vec<ValueId> = body
        .body
        .iter()
        .copied()
        .filter(|v| varies[v.index()])
        .collect();
    let mut frontier: Vec<ValueId> = Vec::new();
    let consider = |v: ValueId, frontier: &mut Vec<ValueId>| {
        if hoistable(v) && !frontier.contains(&v) && weight_of(f, reach(f, [v], hoistable)) > 1 {
            frontier.push(v);
        }
    };
    match result {
        Op::Concat(parts) => parts.iter().for_each(|&p| consider(p, &mut frontier)),
        _ => consider(body.result, &mut frontier),
    }
    for &s in &sinks {
        for o in f.values[s].op.operands() {
            consider(o, &mut frontier);
        }
    }
    if frontier.is_empty() {
        return None;
    }
    // What the body still computes per point with the frontier loaded (from the varying
    // values and what the point yields), and so what it saves.
    let live = reach(f, sinks.into_iter().chain([body.result]), |v| {
        in_body.contains(&v) && !frontier.contains(&v)
    });
    let saved = weight_of(
        f,
        body.body
            .iter()
            .copied()
            .filter(|&v| hoistable(v) && !live.contains(&v)),
    );
    if saved < 2 * frontier.len() as u64 {
        return None;
    }
    // The values the frontier needs from the body (itself included), in body order.
    let needed = reach(f, frontier.iter().copied(), |v| in_body.contains(&v));
    let cone = body
        .body
        .iter()
        .copied()
        .filter(|v| needed.contains(v))
        .collect();
    Some(GridPlan {
        tabulate: t,
        extents: extents.clone(),
        points,
        frontier,
        cone,
        offset: 0,
    })
}

/// The values reached from `roots` backwards through operands, following only values for
/// which `follow` holds.
fn reach(
    f: &Function,
    roots: impl IntoIterator<Item = ValueId>,
    follow: impl Fn(ValueId) -> bool,
) -> HashSet<ValueId> {
    let mut seen = HashSet::new();
    let mut work: Vec<ValueId> = roots.into_iter().collect();
    while let Some(v) = work.pop() {
        if !follow(v) || !seen.insert(v) {
            continue;
        }
        if let Some(value) = f.values.get(v) {
            work.extend(value.op.operands());
        }
    }
    seen
}

/// The cost units of the values `values` (by [`weight`]).
fn weight_of(f: &Function, values: impl IntoIterator<Item = ValueId>) -> u64 {
    values
        .into_iter()
        .filter_map(|v| f.values.get(v))
        .map(|v| weight(&v.op))
        .sum()
}

/// What an operation costs relative to an addition, for the decision to hoist (not the
/// FLOP count of reports, which counts `exp` as one: replacing it by a load saves far
/// more than replacing an addition).
fn weight(op: &Op) -> u64 {
    match op {
        Op::Binary(BinaryOp::Div, ..) | Op::Unary(UnaryOp::Sqrt, _) => 4,
        Op::Binary(BinaryOp::Pow | BinaryOp::Atan2, ..) => 16,
        Op::Binary(..) | Op::Powi(..) => 1,
        Op::Unary(UnaryOp::Neg | UnaryOp::Abs | UnaryOp::Floor | UnaryOp::Not, _) => 1,
        Op::Unary(..) => 8,
        _ => 0,
    }
}

fn push(g: &mut Function, op: Op, ty: Type) -> ValueId {
    g.values.push(Value { op, ty, name: None })
}

/// `θ → f64[len]`: every plan's frontier tabulated over its grid, concatenated.
fn invariant_function(
    f: &Function,
    plans: &[GridPlan],
    params_arg: ValueId,
    params: usize,
    len: usize,
) -> Option<Function> {
    let mut g = f.clone();
    g.name = format!("{}.invariant", f.name);
    g.role = Role::split(SplitPart::Invariant, &f.role);
    let mut parts = Vec::with_capacity(plans.len());
    for plan in plans {
        let Op::Tabulate { body, .. } = &f.values.get(plan.tabulate)?.op else {
            return None;
        };
        parts.push(super::local::tabulate_entries(
            &mut g,
            &plan.extents,
            &body.args,
            plan.cone.clone(),
            plan.frontier.clone(),
        )?);
    }
    g.body.result = match parts.as_slice() {
        [one] => *one,
        _ => {
            let all = push(&mut g, Op::Concat(parts), Type::f64(vec![len]));
            g.body.body.push(all);
            all
        }
    };
    // θ is the only input.
    let role = f.input_role(params).clone();
    g.values.get_mut(params_arg)?.op = Op::Arg(0);
    g.body.args = vec![params_arg];
    g.input_roles = if role == InputRole::Plain {
        Vec::new()
    } else {
        vec![role]
    };
    crate::cleanup::cleanup_function(&mut g);
    Some(g)
}

/// The original function with an input `f64[len]` from which each frontier value is read.
fn update_function(f: &Function, plans: &[GridPlan], len: usize) -> Option<Function> {
    let mut g = f.clone();
    g.name = format!("{}.update", f.name);
    g.role = Role::split(SplitPart::Update, &f.role);
    let invariant = g.push_input(
        Type::f64(vec![len]),
        Some("invariant".into()),
        InputRole::Invariant,
    );
    for plan in plans {
        let width = plan.frontier.len();
        let count = plan.points * width;
        let Op::Tabulate { body, .. } = &g.values.get(plan.tabulate)?.op else {
            return None;
        };
        let (args, mut inner, result) = (body.args.clone(), body.body.clone(), body.result);
        // A grid that depends on θ alone is the invariant values themselves.
        let whole = plan.frontier == [result];
        let mut shape = plan.extents.clone();
        if !whole {
            shape.push(width);
        }
        // This grid's part of the invariant values, `[extents…, width]`.
        let mut defs = Vec::new();
        let mut part = invariant;
        if count != len {
            let slice = Op::Slice {
                array: invariant,
                start: plan.offset,
                len: count,
            };
            part = push(&mut g, slice, Type::f64(vec![count]));
            defs.push(part);
        }
        let at = g.body.body.iter().position(|&v| v == plan.tabulate)?;
        if whole {
            g.values.get_mut(plan.tabulate)?.op = Op::Reshape(part);
            g.body.body.splice(at..at, defs);
            continue;
        }
        let view = push(&mut g, Op::Reshape(part), Type::f64(shape));
        defs.push(view);
        g.body.body.splice(at..at, defs);
        for (k, &v) in plan.frontier.iter().enumerate() {
            let c = push(&mut g, Op::Const(k as f64), Type::index());
            let mut indices = args.clone();
            indices.push(c);
            g.values.get_mut(v)?.op = Op::Index {
                array: view,
                indices,
                fill: None,
            };
            let at = inner.iter().position(|&x| x == v)?;
            inner.insert(at, c);
        }
        if let Some(Value {
            op: Op::Tabulate { body, .. },
            ..
        }) = g.values.get_mut(plan.tabulate)
        {
            body.body = inner;
        }
    }
    crate::cleanup::cleanup_function(&mut g);
    Some(g)
}
