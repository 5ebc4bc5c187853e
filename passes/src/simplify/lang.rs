//! The e-graph language: the scalar/elementwise fragment of the IR.
//!
//! Every e-node is elementwise, so all nodes of one e-class have one type (dtype and
//! shape), which the analysis tracks. Anything outside the fragment (tensor ops, structured
//! ops, calls, index arithmetic, `f32`) enters the e-graph as an opaque [`Node::Leaf`].
//!
//! Constants are typed: `Num { bits, ty }` is a tensor of type `ty` with every element
//! `f64::from_bits(bits)`. In rule patterns the type is [`ANY_TYPE`], which
//! [`egg::Language::matches`] treats as a wildcard, and the rule applier gives constants
//! of a right-hand side the type of the e-class being rewritten. (Consequence for rule
//! authors: a constant must not be the whole of a ground non-leaf subterm of a left-hand
//! side, such as `(neg 1)`, because egg looks such subterms up by exact hash; the rule
//! table tests check this.)
//!
//! The text syntax (for rules, tests and `simplify_expr`) is egg's s-expressions: `+ - * /
//! pow min max atan2`, `neg abs sqrt exp log sin cos tan asin acos atan sinh cosh tanh erf
//! floor sigmoid softplus`, `powi_N` for an integer power `N`, `== != < <= > >=`, `select`,
//! numbers (`0`, `-0`, `0.5`, `inf`, `NaN`), and leaves `a`…`z` or `vN`.

use egg::{FromOp, Id, Language};
use sci_ir::{BinaryOp, CmpOp, UnaryOp};
use std::fmt;

/// The type index of pattern constants: matches a constant of any type.
pub const ANY_TYPE: u32 = u32::MAX;

/// One e-node.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Node {
    /// A constant tensor of type `ty` (an index into the analysis' type table), every
    /// element `f64::from_bits(bits)`.
    Num { bits: u64, ty: u32 },
    /// An opaque value, by index into the bridge's leaf table.
    Leaf(u32),
    /// A [`UnaryOp`], by index into [`UnaryOp::ALL`].
    Unary(u8, [Id; 1]),
    /// A [`BinaryOp`], by index into [`BinaryOp::ALL`].
    Binary(u8, [Id; 2]),
    /// Integer power.
    Powi(i32, [Id; 1]),
    /// A [`CmpOp`], by index into [`CmpOp::ALL`]; the class is `bool`.
    Compare(u8, [Id; 2]),
    /// `select cond, a, b`.
    Select([Id; 3]),
}

/// The index of a unary op in [`UnaryOp::ALL`].
pub fn unary_code(op: UnaryOp) -> u8 {
    UnaryOp::ALL.iter().position(|o| *o == op).unwrap_or(0) as u8
}

/// The index of a binary op in [`BinaryOp::ALL`].
pub fn binary_code(op: BinaryOp) -> u8 {
    BinaryOp::ALL.iter().position(|o| *o == op).unwrap_or(0) as u8
}

/// The index of a comparison in [`CmpOp::ALL`].
pub fn compare_code(op: CmpOp) -> u8 {
    CmpOp::ALL.iter().position(|o| *o == op).unwrap_or(0) as u8
}

/// The unary op with code `c`.
pub fn unary_op(c: u8) -> Option<UnaryOp> {
    UnaryOp::ALL.get(c as usize).copied()
}

/// The binary op with code `c`.
pub fn binary_op(c: u8) -> Option<BinaryOp> {
    BinaryOp::ALL.get(c as usize).copied()
}

/// The comparison with code `c`.
pub fn compare_op(c: u8) -> Option<CmpOp> {
    CmpOp::ALL.get(c as usize).copied()
}

impl Node {
    /// A constant of value `x` and type `ty`.
    pub fn num(x: f64, ty: u32) -> Node {
        Node::Num {
            bits: x.to_bits(),
            ty,
        }
    }

    /// The constant's value, if this is a constant.
    pub fn value(&self) -> Option<f64> {
        match self {
            Node::Num { bits, .. } => Some(f64::from_bits(*bits)),
            _ => None,
        }
    }
}

/// The s-expression spelling of a binary op.
fn binary_symbol(op: BinaryOp) -> &'static str {
    match op {
        BinaryOp::Add => "+",
        BinaryOp::Sub => "-",
        BinaryOp::Mul => "*",
        BinaryOp::Div => "/",
        other => other.name(),
    }
}

/// The s-expression spelling of a comparison.
fn compare_symbol(op: CmpOp) -> &'static str {
    match op {
        CmpOp::Eq => "==",
        CmpOp::Ne => "!=",
        CmpOp::Lt => "<",
        CmpOp::Le => "<=",
        CmpOp::Gt => ">",
        CmpOp::Ge => ">=",
    }
}

impl Language for Node {
    type Discriminant = std::mem::Discriminant<Node>;

    fn discriminant(&self) -> Self::Discriminant {
        std::mem::discriminant(self)
    }

    fn matches(&self, other: &Self) -> bool {
        match (self, other) {
            (Node::Num { bits: a, ty: ta }, Node::Num { bits: b, ty: tb }) => {
                a == b && (ta == tb || *ta == ANY_TYPE || *tb == ANY_TYPE)
            }
            (Node::Leaf(a), Node::Leaf(b)) => a == b,
            (Node::Unary(a, _), Node::Unary(b, _)) => a == b,
            (Node::Binary(a, _), Node::Binary(b, _)) => a == b,
            (Node::Powi(a, _), Node::Powi(b, _)) => a == b,
            (Node::Compare(a, _), Node::Compare(b, _)) => a == b,
            (Node::Select(_), Node::Select(_)) => true,
            _ => false,
        }
    }

    fn children(&self) -> &[Id] {
        match self {
            Node::Num { .. } | Node::Leaf(_) => &[],
            Node::Unary(_, c) | Node::Powi(_, c) => c,
            Node::Binary(_, c) | Node::Compare(_, c) => c,
            Node::Select(c) => c,
        }
    }

    fn children_mut(&mut self) -> &mut [Id] {
        match self {
            Node::Num { .. } | Node::Leaf(_) => &mut [],
            Node::Unary(_, c) | Node::Powi(_, c) => c,
            Node::Binary(_, c) | Node::Compare(_, c) => c,
            Node::Select(c) => c,
        }
    }
}

impl fmt::Display for Node {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Node::Num { bits, .. } => write!(f, "{}", f64::from_bits(*bits)),
            Node::Leaf(k) if *k < 26 => write!(f, "{}", char::from(b'a' + *k as u8)),
            Node::Leaf(k) => write!(f, "v{k}"),
            Node::Unary(c, _) => f.write_str(unary_op(*c).map_or("?", UnaryOp::name)),
            Node::Binary(c, _) => f.write_str(binary_op(*c).map_or("?", binary_symbol)),
            Node::Powi(n, _) => write!(f, "powi_{n}"),
            Node::Compare(c, _) => f.write_str(compare_op(*c).map_or("?", compare_symbol)),
            Node::Select(_) => f.write_str("select"),
        }
    }
}

/// Why an s-expression atom is not a node.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParseNodeError(pub String);

impl fmt::Display for ParseNodeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl FromOp for Node {
    type Error = ParseNodeError;

    fn from_op(op: &str, children: Vec<Id>) -> Result<Self, Self::Error> {
        let bad = || {
            ParseNodeError(format!(
                "`{op}` with {} operands is not an operation of the simplifier's language",
                children.len()
            ))
        };
        let one = |c: &[Id]| -> Option<[Id; 1]> { c.try_into().ok() };
        let two = |c: &[Id]| -> Option<[Id; 2]> { c.try_into().ok() };
        let three = |c: &[Id]| -> Option<[Id; 3]> { c.try_into().ok() };
        if children.is_empty() {
            if let Ok(x) = op.parse::<f64>() {
                return Ok(Node::num(x, ANY_TYPE));
            }
            if let Some(k) = leaf_index(op) {
                return Ok(Node::Leaf(k));
            }
            return Err(bad());
        }
        if let Some(n) = op.strip_prefix("powi_") {
            let n: i32 = n.parse().map_err(|_| bad())?;
            return one(&children).map(|c| Node::Powi(n, c)).ok_or_else(bad);
        }
        if op == "select" {
            return three(&children).map(Node::Select).ok_or_else(bad);
        }
        if let Some(u) = UnaryOp::ALL.iter().find(|u| u.name() == op) {
            return one(&children)
                .map(|c| Node::Unary(unary_code(*u), c))
                .ok_or_else(bad);
        }
        if let Some(b) = BinaryOp::ALL.iter().find(|b| binary_symbol(**b) == op) {
            return two(&children)
                .map(|c| Node::Binary(binary_code(*b), c))
                .ok_or_else(bad);
        }
        if let Some(c) = CmpOp::ALL.iter().find(|c| compare_symbol(**c) == op) {
            return two(&children)
                .map(|ch| Node::Compare(compare_code(*c), ch))
                .ok_or_else(bad);
        }
        Err(bad())
    }
}

/// `a`…`z` are leaves 0…25, `vN` is leaf `N`.
fn leaf_index(op: &str) -> Option<u32> {
    let bytes = op.as_bytes();
    if let [c] = bytes
        && c.is_ascii_lowercase()
    {
        return Some(u32::from(c - b'a'));
    }
    op.strip_prefix('v').and_then(|n| n.parse().ok())
}
