//! The e-class analysis: the type of every class and constant folding.
//!
//! Types: every node of a class computes a tensor of one dtype and shape (all nodes are
//! elementwise), kept as an index into [`Facts::types`]. A rule that merged classes of
//! different types would be a bug; it sets [`Facts::type_conflict`] and the bridge then
//! keeps the function unsimplified rather than emit invalid IR.
//!
//! Constant folding: a class whose node has constant children gets the constant value,
//! computed by the reference interpreter (`crate::cleanup::eval_op`), so folding is exact
//! in the IR's semantics; `modify` then adds the constant as a node of the class, which
//! costs nothing to extract.

use super::lang::{ANY_TYPE, Node, binary_op, compare_op, unary_op};
use egg::{Analysis, DidMerge, EGraph, Id};
use sci_ir::{DType, Handle, Op, Shape};
use std::collections::HashMap;

/// What the analysis knows about one class.
#[derive(Clone, Debug, PartialEq)]
pub struct Data {
    /// Index into [`Facts::types`].
    pub ty: u32,
    /// The bits of the constant every element equals, if known.
    pub value: Option<u64>,
    /// Proven: no element is ever `-0` (so `x + 0 = x` exactly).
    pub never_neg_zero: bool,
}

/// The analysis state: the type table, the leaves' types, folding cache, and conflicts.
#[derive(Clone, Debug, Default)]
pub struct Facts {
    /// Interned `(dtype, shape)` pairs.
    pub types: Vec<(DType, Shape)>,
    index: HashMap<(DType, Shape), u32>,
    /// The type index of each leaf, and whether it is proven never `-0`.
    pub leaves: Vec<(u32, bool)>,
    /// Set when a merge joined classes of different types (a rule bug).
    pub type_conflict: bool,
    /// Merges that joined two different constants (possible only with fast-math rules).
    pub value_conflicts: usize,
    cache: HashMap<(Node, Vec<u64>), Option<u64>>,
}

impl Facts {
    /// The index of `(dtype, shape)`, added if new.
    pub fn intern(&mut self, dtype: DType, shape: Shape) -> u32 {
        if let Some(&k) = self.index.get(&(dtype, shape.clone())) {
            return k;
        }
        let k = self.types.len() as u32;
        self.types.push((dtype, shape.clone()));
        self.index.insert((dtype, shape), k);
        k
    }

    /// The dtype of a type index.
    pub fn dtype(&self, ty: u32) -> Option<DType> {
        self.types.get(ty as usize).map(|t| t.0)
    }

    /// Adds a leaf of the given type, known never to be `-0` or not; returns its index.
    pub fn add_leaf(&mut self, ty: u32, never_neg_zero: bool) -> u32 {
        self.leaves.push((ty, never_neg_zero));
        (self.leaves.len() - 1) as u32
    }

    /// Folds `node` (children replaced by their constants' bits) with the interpreter.
    fn fold(&mut self, node: &Node, args: Vec<(u64, u32)>, out: u32) -> Option<u64> {
        let out_dtype = self.dtype(out)?;
        let key = (node.clone().map_children(|_| Id::from(0)), {
            let mut k: Vec<u64> = args.iter().map(|a| a.0).collect();
            k.extend(args.iter().map(|a| u64::from(a.1)));
            k
        });
        if let Some(hit) = self.cache.get(&key) {
            return *hit;
        }
        let h = |k: usize| Handle::from_index(k);
        let op = match node {
            Node::Unary(c, _) => Op::Unary(unary_op(*c)?, h(0)),
            Node::Binary(c, _) => Op::Binary(binary_op(*c)?, h(0), h(1)),
            Node::Powi(n, _) => Op::Powi(h(0), *n),
            Node::Compare(c, _) => Op::Compare(compare_op(*c)?, h(0), h(1)),
            _ => return None,
        };
        let mut operands = Vec::new();
        for (k, (bits, ty)) in args.iter().enumerate() {
            operands.push((h(k), f64::from_bits(*bits), self.dtype(*ty)?));
        }
        let r = crate::cleanup::eval_op(&op, &operands, out_dtype).map(f64::to_bits);
        self.cache.insert(key, r);
        r
    }
}

use egg::Language;

impl Analysis<Node> for Facts {
    type Data = Data;

    fn make(egraph: &mut EGraph<Node, Self>, enode: &Node, _id: Id) -> Data {
        let child = |i: Id| egraph[i].data.clone();
        let (ty, value, nnz) = match enode {
            Node::Num { bits, ty } => (*ty, Some(*bits), *bits != (-0.0f64).to_bits()),
            Node::Leaf(k) => {
                let (ty, nnz) = egraph
                    .analysis
                    .leaves
                    .get(*k as usize)
                    .copied()
                    .unwrap_or((ANY_TYPE, false));
                (ty, None, nnz)
            }
            Node::Select([c, a, b]) => {
                let (c, a, b) = (child(*c), child(*a), child(*b));
                if a.ty != b.ty {
                    egraph.analysis.type_conflict = true;
                }
                let value = match c.value.map(f64::from_bits) {
                    Some(x) if x != 0.0 => a.value,
                    Some(_) => b.value,
                    None => None,
                };
                (a.ty, value, a.never_neg_zero && b.never_neg_zero)
            }
            Node::Compare(_, [a, b]) => {
                let (a, b) = (child(*a), child(*b));
                if a.ty != b.ty {
                    egraph.analysis.type_conflict = true;
                }
                let shape = egraph
                    .analysis
                    .types
                    .get(a.ty as usize)
                    .map(|t| t.1.clone())
                    .unwrap_or_default();
                let ty = egraph.analysis.intern(DType::Bool, shape);
                let value = match (a.value, b.value) {
                    (Some(x), Some(y)) => {
                        egraph.analysis.fold(enode, vec![(x, a.ty), (y, b.ty)], ty)
                    }
                    _ => None,
                };
                (ty, value, true)
            }
            other => {
                let kids: Vec<Data> = other.children().iter().map(|i| child(*i)).collect();
                let ty = kids.first().map_or(ANY_TYPE, |d| d.ty);
                if kids.iter().any(|d| d.ty != ty) {
                    egraph.analysis.type_conflict = true;
                }
                let nnz = never_neg_zero(other, &kids);
                let args: Option<Vec<(u64, u32)>> =
                    kids.iter().map(|d| d.value.map(|v| (v, d.ty))).collect();
                let value = args.and_then(|args| egraph.analysis.fold(other, args, ty));
                (ty, value, nnz)
            }
        };
        if ty == ANY_TYPE {
            egraph.analysis.type_conflict = true;
        }
        let nnz = nnz || value.is_some_and(|v| v != (-0.0f64).to_bits());
        Data {
            ty,
            value,
            never_neg_zero: nnz,
        }
    }

    fn merge(&mut self, a: &mut Data, b: Data) -> DidMerge {
        if a.ty != b.ty {
            self.type_conflict = true;
        }
        // Equal values: a proof about either node holds for the class.
        let nnz_changed = b.never_neg_zero && !a.never_neg_zero;
        a.never_neg_zero |= b.never_neg_zero;
        let DidMerge(changed_a, changed_b) = self.merge_value(a, &b);
        DidMerge(
            changed_a || nnz_changed,
            changed_b || (a.never_neg_zero != b.never_neg_zero),
        )
    }

    fn modify(egraph: &mut EGraph<Node, Self>, id: Id) {
        let data = egraph[id].data.clone();
        if let Some(bits) = data.value
            && data.ty != ANY_TYPE
        {
            let num = egraph.add(Node::Num { bits, ty: data.ty });
            egraph.union(id, num);
        }
    }
}

impl Facts {
    fn merge_value(&mut self, a: &mut Data, b: &Data) -> DidMerge {
        match (a.value, b.value) {
            (None, Some(v)) => {
                a.value = Some(v);
                DidMerge(true, false)
            }
            (Some(_), None) => DidMerge(false, true),
            (Some(x), Some(y)) => {
                let both_nan = f64::from_bits(x).is_nan() && f64::from_bits(y).is_nan();
                if x != y && !both_nan {
                    self.value_conflicts += 1;
                }
                DidMerge(false, x != y)
            }
            (None, None) => DidMerge(false, false),
        }
    }
}

/// Whether an arithmetic node is proven never `-0`, from its children's proofs.
///
/// `a + b` is `-0` only if both are `-0` (exact non-zero sums never round to zero);
/// `a - b` only if `a` is `-0`; `exp`, `cosh`, `abs`, `sigmoid`, `softplus` and even powers
/// are never `-0`; `sqrt` and `floor` keep `-0` only from `-0`; `min`/`max` return one of
/// their operands. Products can underflow to `-0` and are never proven.
fn never_neg_zero(node: &Node, kids: &[Data]) -> bool {
    use sci_ir::{BinaryOp, UnaryOp};
    let kid = |k: usize| kids.get(k).is_some_and(|d| d.never_neg_zero);
    match node {
        Node::Unary(c, _) => match unary_op(*c) {
            Some(
                UnaryOp::Exp | UnaryOp::Cosh | UnaryOp::Abs | UnaryOp::Sigmoid | UnaryOp::Softplus,
            ) => true,
            Some(UnaryOp::Sqrt | UnaryOp::Floor) => kid(0),
            _ => false,
        },
        Node::Binary(c, _) => match binary_op(*c) {
            Some(BinaryOp::Add) => kid(0) || kid(1),
            Some(BinaryOp::Sub) => kid(0),
            Some(BinaryOp::Min | BinaryOp::Max) => kid(0) && kid(1),
            _ => false,
        },
        Node::Powi(n, _) => n % 2 == 0,
        _ => false,
    }
}
