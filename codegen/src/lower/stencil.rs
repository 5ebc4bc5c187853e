//! Boundary splitting of `tabulate` loops, for stencils.
//!
//! A stencil written as `if i == 0 then u[n - 1] else u[i - 1]` tests its boundary at every
//! point, and each neighbour read (`u[i - 1] fill 0`) checks its range at every point.
//! Splitting each loop where such a test or check changes its answer (`i = 0`,
//! `1 ≤ i < n − 1`, `i = n − 1`) leaves pieces on which all of them are known: the interior
//! of the grid, most of its points, runs with no test, no select and no range check.
//!
//! The answers come from integer intervals of the body's index values on each piece, so a
//! piece computes exactly what the whole loop computed there. The pieces nest as the loops
//! did (each dimension's pieces inside one counter value of the dimension before), so the
//! points run in the same row-major order and the first failure stays the first. A value is
//! left out of a piece only when nothing there needs it and computing it cannot fail.

use sci_ir::{BinaryOp, Block, CmpOp, DType, Function, Op, UnaryOp, ValueId};
use std::collections::{HashMap, HashSet};

/// What is known about a value of a `tabulate` body on one piece of its index space.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Fact {
    /// A comparison (or logic on comparisons) with a known answer.
    Truth(bool),
    /// A `select` whose condition is known: the value of this operand.
    Same(ValueId),
    /// An `index` whose indices are in range at every point: no check, no fill.
    InRange,
    /// Nothing on this piece needs the value, and computing it cannot fail.
    Unused,
}

/// The facts of one piece, by value.
pub(crate) type Facts = HashMap<ValueId, Fact>;

/// A `tabulate`'s loops split at its boundaries.
#[derive(Debug)]
pub(crate) struct Split {
    /// Per dimension, outermost first: the counter ranges `lo..hi` of its pieces, in order.
    pub bounds: Vec<Vec<(usize, usize)>>,
    /// The facts of each combination of pieces, row-major over `bounds`.
    pieces: Vec<Facts>,
}

impl Split {
    /// The facts of the piece numbered `key` (one piece number per dimension).
    pub fn facts(&self, key: &[usize]) -> Option<&Facts> {
        let mut lin = 0;
        for (k, b) in key.iter().zip(&self.bounds) {
            lin = lin * b.len() + k;
        }
        self.pieces.get(lin)
    }
}

/// At most this many pieces: each is a copy of the body in the generated code.
const MAX_PIECES: usize = 32;
/// At most this many body values over all pieces.
const MAX_SPLIT_VALUES: usize = 8192;
/// Interval bounds stay within ±2^52, where `f64` holds every integer exactly (the IR
/// computes `i64` values in `f64`).
const EXACT: i64 = 1 << 52;

/// The split of `tabulate [extents] body` of `f`, or `None` where no piece would know more
/// than the whole loop (or the pieces would be too many).
pub(crate) fn split(f: &Function, extents: &[usize], body: &Block) -> Option<Split> {
    if body.args.len() != extents.len() || extents.iter().any(|&e| e as i64 >= EXACT) {
        return None;
    }
    let bounds = piece_bounds(f, extents, body);
    let count = bounds.iter().map(Vec::len).product::<usize>();
    if count == 0 || count > MAX_PIECES || count.saturating_mul(body.body.len()) > MAX_SPLIT_VALUES
    {
        return None;
    }
    let nested = nested_refs(f, body);
    let mut pieces = Vec::with_capacity(count);
    let mut key = vec![0usize; bounds.len()];
    let mut known = false;
    for _ in 0..count {
        let ranges: Vec<(i64, i64)> = key
            .iter()
            .zip(&bounds)
            .map(|(&k, b)| (b[k].0 as i64, b[k].1 as i64 - 1))
            .collect();
        let facts = piece_facts(f, body, &ranges, &nested);
        known |= facts
            .values()
            .any(|x| matches!(x, Fact::Truth(_) | Fact::InRange));
        pieces.push(facts);
        // The next key, row-major.
        for d in (0..key.len()).rev() {
            key[d] += 1;
            if key[d] < bounds[d].len() {
                break;
            }
            key[d] = 0;
        }
    }
    known.then_some(Split { bounds, pieces })
}

/// A value that is a block argument plus a constant: `(dimension, offset)`.
type Affine = (usize, i64);

/// The integral constant `v`, if it is one (within [`EXACT`]).
fn constant(f: &Function, v: ValueId) -> Option<i64> {
    match f.values.get(v).map(|x| &x.op) {
        Some(Op::Const(c)) if c.fract() == 0.0 && c.abs() < EXACT as f64 => Some(*c as i64),
        _ => None,
    }
}

/// Whether `v` is a scalar of dtype `dtype`.
fn scalar_of(f: &Function, v: ValueId, dtype: DType) -> bool {
    f.values
        .get(v)
        .is_some_and(|x| x.ty.dtype == dtype && x.ty.shape.is_empty() && !x.ty.batched)
}

/// Per dimension, the pieces: the counter values where a comparison of an argument plus a
/// constant with a constant, or the range check of an index that is an argument plus a
/// constant, can change its answer.
fn piece_bounds(f: &Function, extents: &[usize], body: &Block) -> Vec<Vec<(usize, usize)>> {
    let mut affine: HashMap<ValueId, Affine> = HashMap::new();
    for (d, &a) in body.args.iter().enumerate() {
        affine.insert(a, (d, 0));
    }
    let mut cuts: Vec<Vec<i64>> = extents.iter().map(|&e| vec![0, e as i64]).collect();
    for &v in &body.body {
        let Some(value) = f.values.get(v) else {
            continue;
        };
        match &value.op {
            Op::Binary(op @ (BinaryOp::Add | BinaryOp::Sub), a, b)
                if scalar_of(f, v, DType::I64) =>
            {
                let sign = if *op == BinaryOp::Add { 1 } else { -1 };
                let shifted = match (
                    affine.get(a),
                    constant(f, *b),
                    constant(f, *a),
                    affine.get(b),
                ) {
                    (Some(&(d, off)), Some(c), _, _) => Some((d, off + sign * c)),
                    (_, _, Some(c), Some(&(d, off))) if *op == BinaryOp::Add => Some((d, off + c)),
                    _ => None,
                };
                if let Some((d, off)) = shifted
                    && off.abs() < EXACT
                {
                    affine.insert(v, (d, off));
                }
            }
            Op::Compare(_, a, b) => {
                let pair = match (
                    affine.get(a),
                    constant(f, *b),
                    constant(f, *a),
                    affine.get(b),
                ) {
                    (Some(&x), Some(c), _, _) | (_, _, Some(c), Some(&x)) => Some((x, c)),
                    _ => None,
                };
                if let Some(((d, off), c)) = pair {
                    // `x == c` holds only at x = c; `<`, `≤`, `>`, `≥` change there or at c + 1.
                    cuts[d].extend([c - off, c - off + 1]);
                }
            }
            Op::Index { array, indices, .. } => {
                let Some(shape) = f.values.get(*array).map(|x| &x.ty.shape) else {
                    continue;
                };
                for (i, &n) in indices.iter().zip(shape) {
                    if let Some(&(d, off)) = affine.get(i) {
                        cuts[d].extend([-off, n as i64 - off]);
                    }
                }
            }
            _ => {}
        }
    }
    cuts.into_iter()
        .zip(extents)
        .map(|(mut c, &e)| {
            c.retain(|&x| (0..=e as i64).contains(&x));
            c.sort_unstable();
            c.dedup();
            c.windows(2)
                .map(|w| (w[0] as usize, w[1] as usize))
                .collect()
        })
        .collect()
}

/// The values of the enclosing body that the blocks nested in `body` read: they must be
/// computed on every piece.
fn nested_refs(f: &Function, body: &Block) -> HashSet<ValueId> {
    let mut refs = HashSet::new();
    let mut stack: Vec<&Block> = body
        .body
        .iter()
        .filter_map(|&v| f.values.get(v).and_then(|x| x.op.block()))
        .collect();
    while let Some(b) = stack.pop() {
        refs.insert(b.result);
        for &v in &b.body {
            if let Some(x) = f.values.get(v) {
                refs.extend(x.op.operands());
                if let Some(inner) = x.op.block() {
                    stack.push(inner);
                }
            }
        }
    }
    refs
}

/// The facts of the piece where block argument `d` ranges over `ranges[d]` (inclusive).
fn piece_facts(
    f: &Function,
    body: &Block,
    ranges: &[(i64, i64)],
    nested: &HashSet<ValueId>,
) -> Facts {
    let mut interval: HashMap<ValueId, (i64, i64)> = HashMap::new();
    for (&a, &r) in body.args.iter().zip(ranges) {
        interval.insert(a, r);
    }
    let range_of = |interval: &HashMap<ValueId, (i64, i64)>, v: ValueId| {
        interval
            .get(&v)
            .copied()
            .or_else(|| constant(f, v).map(|c| (c, c)))
    };
    let mut facts = Facts::new();
    for &v in &body.body {
        let Some(value) = f.values.get(v) else {
            continue;
        };
        match &value.op {
            Op::Binary(op @ (BinaryOp::Add | BinaryOp::Sub | BinaryOp::Mul), a, b)
                if scalar_of(f, v, DType::I64) =>
            {
                if let (Some(x), Some(y)) = (range_of(&interval, *a), range_of(&interval, *b))
                    && let Some(r) = combine(*op, x, y)
                {
                    interval.insert(v, r);
                }
            }
            Op::Binary(op @ (BinaryOp::And | BinaryOp::Or), a, b) => {
                let truth = |x: &ValueId| match facts.get(x) {
                    Some(Fact::Truth(t)) => Some(*t),
                    _ => None,
                };
                let answer = match (op, truth(a), truth(b)) {
                    (BinaryOp::And, Some(false), _) | (BinaryOp::And, _, Some(false)) => {
                        Some(false)
                    }
                    (BinaryOp::Or, Some(true), _) | (BinaryOp::Or, _, Some(true)) => Some(true),
                    (_, Some(x), Some(_)) => Some(x),
                    _ => None,
                };
                if let Some(t) = answer
                    && scalar_of(f, v, DType::Bool)
                {
                    facts.insert(v, Fact::Truth(t));
                }
            }
            Op::Unary(UnaryOp::Not, a) => {
                if let Some(Fact::Truth(t)) = facts.get(a).copied()
                    && scalar_of(f, v, DType::Bool)
                {
                    facts.insert(v, Fact::Truth(!t));
                }
            }
            Op::Compare(op, a, b) => {
                if let (Some(x), Some(y)) = (range_of(&interval, *a), range_of(&interval, *b))
                    && let Some(t) = decide(*op, x, y)
                {
                    facts.insert(v, Fact::Truth(t));
                }
            }
            Op::Select(c, a, b) if value.ty.shape.is_empty() => {
                if let Some(Fact::Truth(t)) = facts.get(c) {
                    let chosen = if *t { *a } else { *b };
                    // Chains of decided selects resolve to the value finally chosen.
                    let chosen = match facts.get(&chosen) {
                        Some(Fact::Same(x)) => *x,
                        _ => chosen,
                    };
                    facts.insert(v, Fact::Same(chosen));
                }
            }
            Op::Index { array, indices, .. } if value.ty.shape.is_empty() => {
                let Some(shape) = f.values.get(*array).map(|x| &x.ty.shape) else {
                    continue;
                };
                // An element of an integer table (a gather's positions) lies between the
                // table's least and greatest entries.
                if scalar_of(f, v, DType::I64)
                    && let Some(Op::Literal(xs)) = f.values.get(*array).map(|x| &x.op)
                    && let Some(r) = literal_range(xs)
                {
                    interval.insert(v, r);
                }
                let in_range = indices.len() == shape.len()
                    && indices.iter().zip(shape).all(|(i, &n)| {
                        range_of(&interval, *i).is_some_and(|(lo, hi)| lo >= 0 && hi < n as i64)
                    });
                if in_range {
                    facts.insert(v, Fact::InRange);
                }
            }
            _ => {}
        }
    }
    mark_unused(f, body, nested, &mut facts);
    facts
}

/// Marks the body values nothing on the piece needs (the sides of decided selects not
/// chosen, and what only they read), where computing them cannot fail. A decided select
/// stays: its users read it, and it reads only the operand chosen.
fn mark_unused(f: &Function, body: &Block, nested: &HashSet<ValueId>, facts: &mut Facts) {
    let mut live: HashSet<ValueId> = nested.clone();
    live.insert(body.result);
    for &v in body.body.iter().rev() {
        let Some(value) = f.values.get(v) else {
            continue;
        };
        let fact = facts.get(&v).copied();
        if !live.contains(&v) && cannot_fail(&value.op, fact, value.ty.shape.is_empty()) {
            facts.insert(v, Fact::Unused);
            continue;
        }
        match fact {
            Some(Fact::Truth(_)) => {}
            Some(Fact::Same(x)) => {
                live.insert(x);
            }
            _ => live.extend(value.op.operands()),
        }
    }
}

/// Whether computing a value with `op` can never fail the call.
fn cannot_fail(op: &Op, fact: Option<Fact>, scalar: bool) -> bool {
    scalar
        && match op {
            Op::Const(_)
            | Op::Unary(..)
            | Op::Binary(..)
            | Op::Powi(..)
            | Op::Compare(..)
            | Op::Select(..)
            | Op::Cast(_) => true,
            Op::Index { fill, .. } => fill.is_some() || fact == Some(Fact::InRange),
            _ => false,
        }
}

/// The least and greatest entries of an integer table, if all are integral within
/// [`EXACT`].
fn literal_range(xs: &[f64]) -> Option<(i64, i64)> {
    let exact = |x: &f64| x.fract() == 0.0 && x.abs() < EXACT as f64;
    if xs.is_empty() || !xs.iter().all(exact) {
        return None;
    }
    let lo = xs.iter().fold(f64::INFINITY, |m, x| m.min(*x));
    let hi = xs.iter().fold(f64::NEG_INFINITY, |m, x| m.max(*x));
    Some((lo as i64, hi as i64))
}

/// The interval of `x op y`, if it stays within [`EXACT`].
fn combine(op: BinaryOp, x: (i64, i64), y: (i64, i64)) -> Option<(i64, i64)> {
    let (lo, hi) = match op {
        BinaryOp::Add => (x.0.checked_add(y.0)?, x.1.checked_add(y.1)?),
        BinaryOp::Sub => (x.0.checked_sub(y.1)?, x.1.checked_sub(y.0)?),
        BinaryOp::Mul => {
            let p = [
                x.0.checked_mul(y.0)?,
                x.0.checked_mul(y.1)?,
                x.1.checked_mul(y.0)?,
                x.1.checked_mul(y.1)?,
            ];
            (*p.iter().min()?, *p.iter().max()?)
        }
        _ => return None,
    };
    (lo > -EXACT && hi < EXACT).then_some((lo, hi))
}

/// The answer of `x op y` for every pair of values in the two intervals, if it is the same.
fn decide(op: CmpOp, x: (i64, i64), y: (i64, i64)) -> Option<bool> {
    let always_lt = x.1 < y.0;
    let always_gt = x.0 > y.1;
    let always_eq = x.0 == x.1 && y.0 == y.1 && x.0 == y.0;
    let never_eq = always_lt || always_gt;
    match op {
        CmpOp::Eq if always_eq => Some(true),
        CmpOp::Eq if never_eq => Some(false),
        CmpOp::Ne if always_eq => Some(false),
        CmpOp::Ne if never_eq => Some(true),
        CmpOp::Lt if always_lt => Some(true),
        CmpOp::Lt if x.0 >= y.1 => Some(false),
        CmpOp::Le if x.1 <= y.0 => Some(true),
        CmpOp::Le if always_gt => Some(false),
        CmpOp::Gt if always_gt => Some(true),
        CmpOp::Gt if x.1 <= y.0 => Some(false),
        CmpOp::Ge if x.0 >= y.1 => Some(true),
        CmpOp::Ge if always_lt => Some(false),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use sci_ir::Module;

    fn module() -> Module {
        let text = include_str!("../../../ir/tests/filetests/stencil_pieces.sir");
        sci_ir::read_module(sci_diag::FileId(0), text).expect("the filetest reads")
    }

    /// The split of the `tabulate` of function `name` (its first value with a block).
    fn split_of(m: &Module, name: &str) -> Option<Split> {
        let f = &m.functions[m.function(name).expect("function")];
        f.values.iter().find_map(|(_, v)| match &v.op {
            Op::Tabulate { extents, body } => Some(split(f, extents, body)),
            _ => None,
        })?
    }

    fn named(m: &Module, func: &str, value: &str) -> ValueId {
        let f = &m.functions[m.function(func).expect("function")];
        f.values
            .iter()
            .find(|(_, v)| v.name.as_deref() == Some(value))
            .map(|(id, _)| id)
            .expect("value")
    }

    #[test]
    fn periodic_grid_splits_into_edges_and_interior() {
        let m = module();
        let s = split_of(&m, "periodic").expect("split");
        assert_eq!(
            s.bounds,
            vec![vec![(0, 1), (1, 4), (4, 5)], vec![(0, 1), (1, 2), (2, 3)]]
        );
        let interior = s.facts(&[1, 1]).expect("facts");
        let v = |name| named(&m, "periodic", name);
        // Decided, and read by nothing that remains.
        assert_eq!(interior.get(&v("top")), Some(&Fact::Unused));
        assert_eq!(interior.get(&v("up")), Some(&Fact::Same(v("up_in"))));
        assert_eq!(interior.get(&v("up_in")), Some(&Fact::InRange));
        assert_eq!(interior.get(&v("up_wrap")), Some(&Fact::Unused));
        let corner = s.facts(&[0, 2]).expect("facts");
        assert_eq!(corner.get(&v("up")), Some(&Fact::Same(v("up_wrap"))));
        assert_eq!(corner.get(&v("up_in")), Some(&Fact::Unused));
        assert_eq!(corner.get(&v("right")), Some(&Fact::Same(v("right_wrap"))));
        assert_eq!(corner.get(&v("left")), Some(&Fact::Same(v("left_in"))));
    }

    #[test]
    fn a_read_that_can_fail_stays_where_no_select_needs_it() {
        let m = module();
        let s = split_of(&m, "strict").expect("split");
        assert_eq!(s.bounds, vec![vec![(0, 3), (3, 4)]]);
        let next = named(&m, "strict", "next");
        assert_eq!(
            s.facts(&[0]).expect("facts").get(&next),
            Some(&Fact::InRange)
        );
        // At i = 3 the read of x[4] is not chosen, but it fails the call as in the IR.
        assert_eq!(s.facts(&[1]).expect("facts").get(&next), None);
    }

    #[test]
    fn scaled_indices_and_logic_are_decided() {
        let m = module();
        let s = split_of(&m, "logic").expect("split");
        assert_eq!(s.bounds, vec![vec![(0, 1), (1, 4), (4, 5)]]);
        let v = |name| named(&m, "logic", name);
        // Inside, `not (first or last)` holds; at the last point `first and last` does not.
        assert_eq!(
            s.facts(&[1]).expect("facts").get(&v("f")),
            Some(&Fact::Same(v("ten")))
        );
        let last = s.facts(&[2]).expect("facts");
        assert_eq!(last.get(&v("f")), Some(&Fact::Same(v("w"))));
        assert_eq!(last.get(&v("v")), Some(&Fact::InRange));
        // `2 i - 1` is not a counter plus a constant: no cut, the loop stays whole.
        assert!(split_of(&m, "scaled").is_none());
    }
}
