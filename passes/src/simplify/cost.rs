//! The FLOP-count cost model: extraction's cost function and an estimate for whole functions.
//!
//! Costs are per element, in rough "additions": `+ - * neg abs min max floor`, comparisons
//! and `select` cost 1; `/` and `sqrt` 4; `exp log sin cos tan asin acos atan sinh cosh
//! tanh erf` and `powi` (libm's `pow`, but `x*x` for the square: [`powi_cost`]) 20; `sigmoid` 22; `pow`, `atan2` and
//! `softplus` 40. Constants and opaque leaves cost 0. The numbers follow the usual latency
//! ratios of a modern x86 core with a vectorised libm; only their order matters for
//! extraction.

use super::lang::{Node, binary_op, unary_op};
use egg::{CostFunction, Id, Language};
use sci_ir::{BinaryOp, FuncId, Module, Op, UnaryOp, ValueId, types::element_count};
use std::collections::{HashMap, HashSet};

/// The cost of one element of a unary op.
pub fn unary_cost(op: UnaryOp) -> u64 {
    use UnaryOp::*;
    match op {
        Neg | Abs | Floor | Not => 1,
        Sqrt => 4,
        Exp | Log | Sin | Cos | Tan | Asin | Acos | Atan | Sinh | Cosh | Tanh | Erf => 20,
        Sigmoid => 22,
        Softplus => 40,
        Gelu => 26,
        Dgelu => 48,
    }
}

/// The cost of one element of a binary op.
pub fn binary_cost(op: BinaryOp) -> u64 {
    use BinaryOp::*;
    match op {
        Add | Sub | Mul | Min | Max | And | Or => 1,
        Div => 4,
        Pow | Atan2 => 40,
    }
}

/// The cost of `powi x, n`: libm's `pow`, except for the exponents computed as `1`, `x`,
/// `x*x` or `1/x` (`sci_ir::interp::PowiForm`).
pub fn powi_cost(n: i32) -> u64 {
    use sci_ir::interp::PowiForm;
    match PowiForm::of(n) {
        PowiForm::One | PowiForm::Identity => 0,
        PowiForm::Square => 1,
        PowiForm::Reciprocal => 4,
        PowiForm::Pow => 20,
    }
}

/// The cost of one e-node, children excluded.
pub fn node_cost(node: &Node) -> u64 {
    match node {
        Node::Num { .. } | Node::Leaf(_) => 0,
        Node::Unary(c, _) => unary_op(*c).map_or(20, unary_cost),
        Node::Binary(c, _) => binary_op(*c).map_or(40, binary_cost),
        Node::Powi(n, _) => powi_cost(*n),
        Node::Compare(..) | Node::Select(_) => 1,
    }
}

/// Extraction's cost function: the sum of node costs over the term (a tree cost), then,
/// to break ties, the number of nodes that were not in the input, so that a term the rules
/// cannot make cheaper is printed as it was written (not with its operands commuted).
#[derive(Clone, Debug, Default)]
pub struct FlopCost {
    original: HashSet<Node>,
}

impl FlopCost {
    /// A cost function preferring the given (canonical) nodes on ties.
    pub fn new(original: HashSet<Node>) -> FlopCost {
        FlopCost { original }
    }

    /// Whether `node` (with canonical children) was in the input.
    pub fn is_original(&self, node: &Node) -> bool {
        self.original.contains(node)
    }
}

impl CostFunction<Node> for FlopCost {
    /// `(FLOPs, new nodes)`, compared lexicographically.
    type Cost = (u64, u64);

    fn cost<C>(&mut self, enode: &Node, mut costs: C) -> (u64, u64)
    where
        C: FnMut(Id) -> (u64, u64),
    {
        let novelty = u64::from(!self.original.contains(enode));
        enode
            .children()
            .iter()
            .fold((node_cost(enode), novelty), |acc, c| {
                let k = costs(*c);
                (acc.0.saturating_add(k.0), acc.1.saturating_add(k.1))
            })
    }
}

/// An estimate of the floating-point work of one call of `func` (per batch point for
/// batched functions): elementwise ops cost their per-element cost times their element
/// count, `dot`/`matvec`/`matmul` two per multiply-add, reductions one per element,
/// `tabulate` and `fold` their body times their extent, `map` its body once, calls their
/// callee. Data movement (`index`, `slice`, `concat`, `reshape`, `broadcast`, constants)
/// costs nothing.
pub fn estimate_flops(m: &Module, func: FuncId) -> u64 {
    let mut memo = HashMap::new();
    function_flops(m, func, &mut memo, 0)
}

/// [`estimate_flops`] for a function that need not be in `m` (callees are looked up in `m`).
pub fn estimate_function_flops(m: &Module, f: &sci_ir::Function) -> u64 {
    let mut memo = HashMap::new();
    block_flops(m, f, &f.body, &mut memo, 0, 0)
}

fn function_flops(m: &Module, func: FuncId, memo: &mut HashMap<FuncId, u64>, depth: usize) -> u64 {
    if let Some(&c) = memo.get(&func) {
        return c;
    }
    // The call graph of valid IR has no cycles; the depth bound covers invalid input.
    if depth > 64 {
        return 0;
    }
    let Some(f) = m.functions.get(func) else {
        return 0;
    };
    let c = block_flops(m, f, &f.body, memo, depth, 0);
    memo.insert(func, c);
    c
}

fn block_flops(
    m: &Module,
    f: &sci_ir::Function,
    block: &sci_ir::Block,
    memo: &mut HashMap<FuncId, u64>,
    depth: usize,
    nesting: usize,
) -> u64 {
    if nesting > 64 {
        return 0;
    }
    let elements = |v: ValueId| -> u64 {
        f.values
            .get(v)
            .and_then(|x| element_count(&x.ty.shape))
            .unwrap_or(0) as u64
    };
    let shape = |v: ValueId| -> Vec<usize> {
        f.values
            .get(v)
            .map(|x| x.ty.shape.clone())
            .unwrap_or_default()
    };
    let mut total: u64 = 0;
    for &v in &block.body {
        let Some(value) = f.values.get(v) else {
            continue;
        };
        let n = elements(v);
        let c = match &value.op {
            Op::Unary(op, _) => unary_cost(*op).saturating_mul(n),
            Op::Binary(op, _, _) => binary_cost(*op).saturating_mul(n),
            Op::Powi(_, k) => powi_cost(*k).saturating_mul(n),
            Op::Compare(..) | Op::Select(..) => n,
            Op::Dot(a, _) => 2 * elements(*a),
            Op::MatVec(a, _) => 2 * elements(*a),
            Op::MatMul(a, b) => {
                let cols = shape(*b).last().copied().unwrap_or(0) as u64;
                2u64.saturating_mul(elements(*a)).saturating_mul(cols)
            }
            Op::Reduce(_, a) | Op::ReduceBatch(_, a) => elements(*a),
            // As the matrix products they become (`crate::spectral`).
            Op::Rfft { signal, modes } => 4u64
                .saturating_mul(elements(*signal))
                .saturating_mul(*modes as u64),
            Op::Irfft { n: points, .. } => 2u64.saturating_mul(n).saturating_mul(*points as u64),
            // Separable (`crate::spectral`): about the products of both axes' transforms.
            Op::Rfft2 { signal, modes } => 4u64
                .saturating_mul(elements(*signal))
                .saturating_mul((modes[0] + modes[1]) as u64),
            Op::Irfft2 { n: points, .. } => 4u64
                .saturating_mul(n)
                .saturating_mul((points[0] + points[1]) as u64),
            Op::Tabulate { extents, body } => {
                let count = element_count(extents).unwrap_or(0) as u64;
                count.saturating_mul(block_flops(m, f, body, memo, depth, nesting + 1))
            }
            Op::Fold { extent, body, .. } => {
                let per = block_flops(m, f, body, memo, depth, nesting + 1).saturating_add(n);
                (*extent as u64).saturating_mul(per)
            }
            Op::Map { body, .. } | Op::TileMap { body, .. } => {
                block_flops(m, f, body, memo, depth, nesting + 1)
            }
            Op::Call { func, .. } => function_flops(m, *func, memo, depth + 1),
            _ => 0,
        };
        total = total.saturating_add(c);
    }
    total
}
