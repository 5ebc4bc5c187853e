//! The IR ↔ e-graph bridge.
//!
//! Each block gets its own e-graph. Its elementwise `f64` values (`neg`…`softplus` except
//! `not`, `add`…`atan2`, `powi`, comparisons of `f64`s, `select` of `f64`s, `f64`/`bool`
//! constants and broadcasts of them) become e-nodes; everything else — block arguments,
//! values of enclosing blocks, tensor ops, `index`, `cast`, structured ops, calls, `deriv`,
//! `i64` and `f32` arithmetic — is an opaque leaf. Structured ops keep their kind and get
//! their own blocks simplified the same way, recursively.
//!
//! Back to IR: the block is re-emitted in its original order. Opaque values are copied;
//! before each one, the extracted terms of its operands (and of every value of this block
//! its nested blocks use) are materialised, one IR value per e-class, so sharing is kept
//! and duplicates disappear. A materialised value keeps the name and unit of an original
//! value of its class. Constants of non-scalar type become `const` + `broadcast`.
//!
//! If anything does not fit — a rule produced classes of different types, or an extracted
//! term uses an opaque value defined after the op that needs it — the bridge reports an
//! error and the caller keeps the function unsimplified.

use super::analysis::Facts;
use super::cost::FlopCost;
use super::extract::extract;
use super::lang::{
    ANY_TYPE, Node, binary_code, binary_op, compare_code, compare_op, unary_code, unary_op,
};
use crate::cleanup::block_tree_refs;
use egg::{EGraph, Id, Language, Rewrite, Runner, StopReason};
use sci_ir::{
    BinaryOp, Block, DType, Function, FunctionBuilder, Op, Type, UnaryOp, Value, ValueId,
};
use std::collections::HashMap;
use std::time::Duration;

/// Limits and counters of one function's e-graph runs.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct EggReport {
    /// E-graphs run (one per block with elementwise values).
    pub egraphs: usize,
    /// Total e-nodes at the end of all runs.
    pub nodes: usize,
    /// Most iterations of one run.
    pub iterations: usize,
    /// Why runs stopped, with counts ("saturated", "iteration limit", "node limit").
    pub stop_reasons: Vec<(String, usize)>,
}

impl EggReport {
    fn stopped(&mut self, reason: &str) {
        match self.stop_reasons.iter_mut().find(|(r, _)| r == reason) {
            Some((_, n)) => *n += 1,
            None => self.stop_reasons.push((reason.to_string(), 1)),
        }
    }
}

/// Limits of one e-graph run.
#[derive(Clone, Copy, Debug)]
pub struct Limits {
    pub iter_limit: usize,
    pub node_limit: usize,
}

/// Rebuilds `f` with every block simplified by `rules`.
pub fn simplify_function(
    f: &Function,
    rules: &[Rewrite<Node, Facts>],
    limits: Limits,
) -> Result<(Function, EggReport), String> {
    let mut inputs = Vec::new();
    for &a in &f.body.args {
        let v = value(f, a)?;
        inputs.push((v.name.clone().unwrap_or_default(), v.ty.clone()));
    }
    let mut bridge = Bridge {
        f,
        rules,
        limits,
        b: FunctionBuilder::new(f.name.clone(), inputs),
        map: HashMap::new(),
        ctx: Vec::new(),
        report: EggReport::default(),
    };
    for (k, &a) in f.body.args.iter().enumerate() {
        let new = bridge.b.input(k).ok_or("internal error: missing input")?;
        bridge.map.insert(a, new);
    }
    let result = bridge.block(&f.body, 0)?;
    let report = bridge.report;
    let mut out = bridge.b.finish(result);
    out.role = f.role.clone();
    out.input_roles = f.input_roles.clone();
    for (&old, &new) in f.body.args.iter().zip(out.body.args.clone().iter()) {
        let name = f.values.get(old).and_then(|v| v.name.clone());
        if let Some(v) = out.values.get_mut(new) {
            v.name = name;
        }
    }
    Ok((out, report))
}

fn value(f: &Function, id: ValueId) -> Result<&Value, String> {
    f.values
        .get(id)
        .ok_or_else(|| format!("internal error: %{} is out of range", id.index()))
}

/// The e-graph of one block and what was materialised from it.
struct Ctx {
    egraph: EGraph<Node, Facts>,
    /// Elementwise values of the block → their e-class.
    class_of: HashMap<ValueId, Id>,
    /// Leaf index → the original value it stands for.
    leaves: Vec<ValueId>,
    /// The cheapest node of each canonical class.
    best: HashMap<Id, Node>,
    /// Canonical class → its materialised value.
    done: HashMap<Id, ValueId>,
    /// Canonical class → the first original value in it (for its name and unit).
    origin: HashMap<Id, ValueId>,
}

struct Bridge<'a> {
    f: &'a Function,
    rules: &'a [Rewrite<Node, Facts>],
    limits: Limits,
    b: FunctionBuilder,
    /// Original → new, for arguments and opaque values.
    map: HashMap<ValueId, ValueId>,
    /// One context per open block, innermost last.
    ctx: Vec<Ctx>,
    report: EggReport,
}

impl Bridge<'_> {
    /// Emits the body of `block` into the builder's innermost block; returns its result.
    fn block(&mut self, block: &Block, depth: usize) -> Result<ValueId, String> {
        if depth > 64 {
            return Err("blocks nest too deep".into());
        }
        let ctx = self.build_egraph(block)?;
        self.ctx.push(ctx);
        let out = self.emit(block, depth);
        self.ctx.pop();
        out
    }

    fn build_egraph(&mut self, block: &Block) -> Result<Ctx, String> {
        let f = self.f;
        let mut egraph: EGraph<Node, Facts> = EGraph::new(Facts::default());
        let mut class_of: HashMap<ValueId, Id> = HashMap::new();
        let mut leaf_of: HashMap<ValueId, Id> = HashMap::new();
        let mut leaves = Vec::new();
        let mut origin = HashMap::new();
        let mut added: Vec<Node> = Vec::new();
        for &v in &block.body {
            let val = value(f, v)?;
            let Some((node, operands)) = to_node(f, val, &mut egraph.analysis) else {
                continue;
            };
            let mut children = Vec::with_capacity(operands.len());
            for o in operands {
                let id = match class_of.get(&o) {
                    Some(&id) => id,
                    None => match leaf_of.get(&o) {
                        Some(&id) => id,
                        // A constant of an enclosing block is a constant here too.
                        None if is_constant(f, o) => {
                            let Some((num, _)) = to_node(f, value(f, o)?, &mut egraph.analysis)
                            else {
                                return Err("internal error: constant".into());
                            };
                            let id = egraph.add(num);
                            leaf_of.insert(o, id);
                            id
                        }
                        None => {
                            let ty = &value(f, o)?.ty;
                            let t = egraph.analysis.intern(ty.dtype, ty.shape.clone());
                            let nnz = never_negative_zero(&value(f, o)?.op);
                            let k = egraph.analysis.add_leaf(t, nnz);
                            leaves.push(o);
                            let id = egraph.add(Node::Leaf(k));
                            leaf_of.insert(o, id);
                            id
                        }
                    },
                };
                children.push(id);
            }
            let mut it = children.into_iter();
            let node = node.map_children(|_| it.next().unwrap_or(Id::from(0)));
            added.push(node.clone());
            let id = egraph.add(node);
            class_of.insert(v, id);
            origin.entry(id).or_insert(v);
        }
        let mut best = HashMap::new();
        if !class_of.is_empty() {
            egraph.rebuild();
            let runner = Runner::default()
                .with_egraph(egraph)
                .with_iter_limit(self.limits.iter_limit)
                .with_node_limit(self.limits.node_limit)
                // Never a wall-clock limit: the output must not depend on machine speed.
                .with_time_limit(Duration::MAX)
                .run(self.rules);
            let reason = match &runner.stop_reason {
                Some(StopReason::Saturated) => "saturated",
                Some(StopReason::IterationLimit(_)) => "iteration limit",
                Some(StopReason::NodeLimit(_)) => "node limit",
                Some(StopReason::TimeLimit(_)) => "time limit",
                Some(StopReason::Other(_)) | None => "other",
            };
            self.report.stopped(reason);
            self.report.egraphs += 1;
            self.report.iterations = self.report.iterations.max(runner.iterations.len());
            egraph = runner.egraph;
            self.report.nodes += egraph.total_size();
            if egraph.analysis.type_conflict {
                return Err("a rewrite joined values of different types".into());
            }
            let original = added
                .into_iter()
                .map(|n| n.map_children(|c| egraph.find(c)))
                .collect();
            let anchored = anchored_values(f, block, &class_of)
                .into_iter()
                .filter_map(|v| class_of.get(&v).map(|id| egraph.find(*id)))
                .collect();
            best = extract(&egraph, &anchored, FlopCost::new(original));
        }
        let class_of = class_of
            .into_iter()
            .map(|(v, id)| (v, egraph.find(id)))
            .collect();
        let mut canonical_origin = HashMap::new();
        let mut origins: Vec<(Id, ValueId)> = origin.into_iter().collect();
        origins.sort_by_key(|(_, v)| *v);
        for (id, v) in origins {
            canonical_origin.entry(egraph.find(id)).or_insert(v);
        }
        Ok(Ctx {
            egraph,
            class_of,
            leaves,
            best,
            done: HashMap::new(),
            origin: canonical_origin,
        })
    }

    fn emit(&mut self, block: &Block, depth: usize) -> Result<ValueId, String> {
        let f = self.f;
        let top = self.ctx.len() - 1;
        for &v in &block.body {
            if self
                .ctx
                .get(top)
                .is_some_and(|c| c.class_of.contains_key(&v))
            {
                continue;
            }
            let val = value(f, v)?;
            // A structured op's block is rebuilt first; then its operands are resolved.
            let mut op = val.op.clone();
            if let Some(body) = val.op.block() {
                let rebuilt = self.nested(body, depth)?;
                if let Some(b) = op.block_mut() {
                    *b = rebuilt;
                }
            }
            let mut new = HashMap::new();
            for o in val.op.operands() {
                new.insert(o, self.resolve(o)?);
            }
            op.map_operands(|x| new.get(&x).copied().unwrap_or(x));
            let id = match &val.name {
                Some(n) => self.b.push_named(op, val.ty.clone(), n.clone()),
                None => self.b.push(op, val.ty.clone()),
            };
            self.map.insert(v, id);
        }
        self.resolve(block.result)
    }

    /// Materialises what `body` needs from outside, then emits it as a new block.
    fn nested(&mut self, body: &Block, depth: usize) -> Result<Block, String> {
        for r in block_tree_refs(self.f, body) {
            self.resolve(r)?;
        }
        let mut arg_types = Vec::new();
        for &a in &body.args {
            let v = value(self.f, a)?;
            arg_types.push((v.name.clone(), v.ty.clone()));
        }
        let new_args = self.b.begin_block(arg_types);
        for (&old, &new) in body.args.iter().zip(&new_args) {
            self.map.insert(old, new);
        }
        let result = self.block(body, depth + 1)?;
        Ok(self.b.end_block(result))
    }

    /// The new value standing for the original value `old` where the builder is now.
    fn resolve(&mut self, old: ValueId) -> Result<ValueId, String> {
        if let Some(&new) = self.map.get(&old) {
            return Ok(new);
        }
        let top = self.ctx.len().saturating_sub(1);
        for k in (0..self.ctx.len()).rev() {
            let Some(&class) = self.ctx.get(k).and_then(|c| c.class_of.get(&old)) else {
                continue;
            };
            if k == top {
                return self.materialize(class);
            }
            // Values of enclosing blocks were materialised before this block was opened.
            return self
                .ctx
                .get(k)
                .and_then(|c| c.done.get(&c.egraph.find(class)).copied())
                .ok_or_else(|| format!("internal error: %{} was not materialised", old.index()));
        }
        Err(format!(
            "an extracted term uses %{} before its definition",
            old.index()
        ))
    }

    /// Emits the extracted term of `class` of the innermost e-graph (post-order, no
    /// recursion, one value per class).
    fn materialize(&mut self, class: Id) -> Result<ValueId, String> {
        let top = self
            .ctx
            .len()
            .checked_sub(1)
            .ok_or("internal error: no block")?;
        let mut stack = vec![(class, false)];
        let mut steps = 0usize;
        while let Some((c, expanded)) = stack.pop() {
            steps += 1;
            if steps > 50_000_000 {
                return Err("extraction did not terminate".into());
            }
            let ctx = self.ctx.get(top).ok_or("internal error: no block")?;
            let c = ctx.egraph.find(c);
            if ctx.done.contains_key(&c) {
                continue;
            }
            let node = ctx
                .best
                .get(&c)
                .cloned()
                .ok_or("internal error: no extracted node")?;
            if !expanded {
                stack.push((c, true));
                for &child in node.children() {
                    if !ctx.done.contains_key(&ctx.egraph.find(child)) {
                        stack.push((child, false));
                    }
                }
                continue;
            }
            let new = self.emit_node(top, c, &node)?;
            if let Some(ctx) = self.ctx.get_mut(top) {
                ctx.done.insert(c, new);
            }
        }
        let ctx = self.ctx.get(top).ok_or("internal error: no block")?;
        ctx.done
            .get(&ctx.egraph.find(class))
            .copied()
            .ok_or_else(|| "internal error: class not materialised".into())
    }

    /// Emits one node whose children are materialised.
    fn emit_node(&mut self, top: usize, class: Id, node: &Node) -> Result<ValueId, String> {
        let ctx = self.ctx.get(top).ok_or("internal error: no block")?;
        let data = &ctx.egraph[class].data;
        let (dtype, shape) = ctx
            .egraph
            .analysis
            .types
            .get(data.ty as usize)
            .cloned()
            .ok_or("internal error: untyped class")?;
        let origin = ctx.origin.get(&class).and_then(|v| self.f.values.get(*v));
        let unit = origin.and_then(|v| v.ty.unit);
        let name = origin.and_then(|v| v.name.clone());
        let ty = Type::tensor(dtype, shape.clone()).with_unit(unit);
        let kid = |i: usize| -> Result<ValueId, String> {
            let c = node
                .children()
                .get(i)
                .ok_or("internal error: missing child")?;
            ctx.done
                .get(&ctx.egraph.find(*c))
                .copied()
                .ok_or_else(|| "internal error: child not materialised".into())
        };
        let op = match node {
            Node::Num { bits, ty: t } => {
                if *t == ANY_TYPE {
                    return Err("internal error: untyped constant".into());
                }
                let c = f64::from_bits(*bits);
                if shape.is_empty() {
                    Op::Const(c)
                } else {
                    let scalar = self.b.push(Op::Const(c), Type::tensor(dtype, Vec::new()));
                    Op::Broadcast(scalar)
                }
            }
            Node::Leaf(k) => {
                let old = *ctx
                    .leaves
                    .get(*k as usize)
                    .ok_or("internal error: unknown leaf")?;
                return self.resolve(old);
            }
            Node::Unary(c, _) => Op::Unary(unary_op(*c).ok_or("bad unary op")?, kid(0)?),
            Node::Binary(c, _) => {
                Op::Binary(binary_op(*c).ok_or("bad binary op")?, kid(0)?, kid(1)?)
            }
            Node::Powi(n, _) => Op::Powi(kid(0)?, *n),
            Node::Compare(c, _) => {
                Op::Compare(compare_op(*c).ok_or("bad comparison")?, kid(0)?, kid(1)?)
            }
            Node::Select(_) => Op::Select(kid(0)?, kid(1)?, kid(2)?),
        };
        Ok(match name {
            Some(n) => self.b.push_named(op, ty, n),
            None => self.b.push(op, ty),
        })
    }
}

/// The elementwise values of `block` that the rebuilt block computes in any case: those an
/// opaque op, a nested block or the block result uses, and those used twice or more. The
/// extractor counts them as free for their users (see `super::extract`).
fn anchored_values(f: &Function, block: &Block, class_of: &HashMap<ValueId, Id>) -> Vec<ValueId> {
    let mut uses: HashMap<ValueId, usize> = HashMap::new();
    let mut bump = |v: ValueId, n: usize| {
        if class_of.contains_key(&v) {
            *uses.entry(v).or_insert(0) += n;
        }
    };
    for &v in &block.body {
        let Some(value) = f.values.get(v) else {
            continue;
        };
        let weight = if class_of.contains_key(&v) { 1 } else { 2 };
        for o in value.op.operands() {
            bump(o, weight);
        }
        if let Some(inner) = value.op.block() {
            for r in block_tree_refs(f, inner) {
                bump(r, 2);
            }
        }
    }
    bump(block.result, 2);
    let mut out: Vec<ValueId> = uses
        .into_iter()
        .filter(|(_, n)| *n >= 2)
        .map(|(v, _)| v)
        .collect();
    out.sort();
    out
}

/// Ops whose result is never `-0`: sums start from `+0` in the IR's semantics (`+0 + -0 =
/// +0`), so sums, means, dot and matrix products cannot end at `-0`.
fn never_negative_zero(op: &Op) -> bool {
    use sci_ir::ReduceOp::{Mean, Sum};
    matches!(
        op,
        Op::Reduce(Sum | Mean, _)
            | Op::ReduceBatch(Sum | Mean, _)
            | Op::Fold { op: Sum | Mean, .. }
            | Op::Dot(..)
            | Op::MatVec(..)
            | Op::MatMul(..)
    )
}

/// True for an `f64`/`bool` constant or a broadcast of one.
fn is_constant(f: &Function, v: ValueId) -> bool {
    let Some(value) = f.values.get(v) else {
        return false;
    };
    if value.ty.batched || !matches!(value.ty.dtype, DType::F64 | DType::Bool) {
        return false;
    }
    match value.op {
        Op::Const(_) => true,
        Op::Broadcast(a) => f
            .values
            .get(a)
            .is_some_and(|x| matches!(x.op, Op::Const(_))),
        _ => false,
    }
}

/// The e-node for an elementwise value (children to be filled from the returned operands),
/// or `None` if the value is opaque.
fn to_node(f: &Function, v: &Value, facts: &mut Facts) -> Option<(Node, Vec<ValueId>)> {
    let ty = &v.ty;
    if ty.batched {
        return None;
    }
    let dtype_of = |x: ValueId| f.values.get(x).map(|x| x.ty.dtype);
    let z = Id::from(0);
    let float = ty.dtype == DType::F64;
    let node = match &v.op {
        Op::Const(c) if matches!(ty.dtype, DType::F64 | DType::Bool) => {
            let t = facts.intern(ty.dtype, ty.shape.clone());
            return Some((Node::num(*c, t), Vec::new()));
        }
        Op::Broadcast(a) if matches!(ty.dtype, DType::F64 | DType::Bool) => {
            let src = f.values.get(*a)?;
            let Op::Const(c) = src.op else {
                return None;
            };
            let t = facts.intern(ty.dtype, ty.shape.clone());
            return Some((Node::num(c, t), Vec::new()));
        }
        Op::Unary(op, a) if float && *op != UnaryOp::Not => {
            (Node::Unary(unary_code(*op), [z]), vec![*a])
        }
        Op::Binary(op, a, b) if float && !matches!(op, BinaryOp::And | BinaryOp::Or) => {
            (Node::Binary(binary_code(*op), [z, z]), vec![*a, *b])
        }
        Op::Powi(a, n) if float => (Node::Powi(*n, [z]), vec![*a]),
        Op::Compare(op, a, b) if ty.dtype == DType::Bool && dtype_of(*a) == Some(DType::F64) => {
            (Node::Compare(compare_code(*op), [z, z]), vec![*a, *b])
        }
        Op::Select(c, a, b) if float && dtype_of(*c) == Some(DType::Bool) => {
            (Node::Select([z, z, z]), vec![*c, *a, *b])
        }
        _ => return None,
    };
    Some(node)
}
