//! The operations of the IR.
//!
//! Every op defines exactly one value. Elementwise ops require operands of the same shape
//! (broadcasting is an explicit [`Op::Broadcast`]), so back ends and AD never guess shapes.

use crate::module::{Block, FuncId, ValueId};

/// Elementwise functions of one argument.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum UnaryOp {
    Neg,
    Abs,
    Sqrt,
    Exp,
    Log,
    Sin,
    Cos,
    Tan,
    Asin,
    Acos,
    Atan,
    Sinh,
    Cosh,
    Tanh,
    Erf,
    Floor,
    /// `1 / (1 + exp(-x))`.
    Sigmoid,
    /// `log(1 + exp(x))`, computed without overflow.
    Softplus,
    /// The exact GELU, `(0.5·x)·(1 + erf(x·(1/√2)))` (`interp::gelu`): one op, so that
    /// networks save one tensor per layer for reverse mode and the back ends run one
    /// vector kernel, not six elementwise passes.
    Gelu,
    /// GELU's derivative, `0.5·(1 + erf(x·(1/√2))) + x·(exp(−0.5·x²)·(1/√(2π)))`
    /// (`interp::dgelu`): what reverse and forward mode multiply by.
    Dgelu,
    /// Logical not (bool only).
    Not,
}

impl UnaryOp {
    /// Every unary op, for tables and property tests.
    pub const ALL: [UnaryOp; 21] = [
        UnaryOp::Neg,
        UnaryOp::Abs,
        UnaryOp::Sqrt,
        UnaryOp::Exp,
        UnaryOp::Log,
        UnaryOp::Sin,
        UnaryOp::Cos,
        UnaryOp::Tan,
        UnaryOp::Asin,
        UnaryOp::Acos,
        UnaryOp::Atan,
        UnaryOp::Sinh,
        UnaryOp::Cosh,
        UnaryOp::Tanh,
        UnaryOp::Erf,
        UnaryOp::Floor,
        UnaryOp::Sigmoid,
        UnaryOp::Softplus,
        UnaryOp::Gelu,
        UnaryOp::Dgelu,
        UnaryOp::Not,
    ];

    /// The text-format mnemonic.
    pub fn name(self) -> &'static str {
        match self {
            UnaryOp::Neg => "neg",
            UnaryOp::Abs => "abs",
            UnaryOp::Sqrt => "sqrt",
            UnaryOp::Exp => "exp",
            UnaryOp::Log => "log",
            UnaryOp::Sin => "sin",
            UnaryOp::Cos => "cos",
            UnaryOp::Tan => "tan",
            UnaryOp::Asin => "asin",
            UnaryOp::Acos => "acos",
            UnaryOp::Atan => "atan",
            UnaryOp::Sinh => "sinh",
            UnaryOp::Cosh => "cosh",
            UnaryOp::Tanh => "tanh",
            UnaryOp::Erf => "erf",
            UnaryOp::Floor => "floor",
            UnaryOp::Sigmoid => "sigmoid",
            UnaryOp::Softplus => "softplus",
            UnaryOp::Gelu => "gelu",
            UnaryOp::Dgelu => "dgelu",
            UnaryOp::Not => "not",
        }
    }

    /// The op with the given mnemonic.
    pub fn from_name(name: &str) -> Option<UnaryOp> {
        UnaryOp::ALL.into_iter().find(|op| op.name() == name)
    }
}

/// Elementwise functions of two arguments of the same shape and dtype.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum BinaryOp {
    Add,
    Sub,
    Mul,
    Div,
    /// Real power `a^b` (`powf`).
    Pow,
    Min,
    Max,
    /// `atan2(a, b)`.
    Atan2,
    /// Logical and (bool only).
    And,
    /// Logical or (bool only).
    Or,
}

impl BinaryOp {
    /// Every binary op.
    pub const ALL: [BinaryOp; 10] = [
        BinaryOp::Add,
        BinaryOp::Sub,
        BinaryOp::Mul,
        BinaryOp::Div,
        BinaryOp::Pow,
        BinaryOp::Min,
        BinaryOp::Max,
        BinaryOp::Atan2,
        BinaryOp::And,
        BinaryOp::Or,
    ];

    /// The text-format mnemonic.
    pub fn name(self) -> &'static str {
        match self {
            BinaryOp::Add => "add",
            BinaryOp::Sub => "sub",
            BinaryOp::Mul => "mul",
            BinaryOp::Div => "div",
            BinaryOp::Pow => "pow",
            BinaryOp::Min => "min",
            BinaryOp::Max => "max",
            BinaryOp::Atan2 => "atan2",
            BinaryOp::And => "and",
            BinaryOp::Or => "or",
        }
    }

    /// The op with the given mnemonic.
    pub fn from_name(name: &str) -> Option<BinaryOp> {
        BinaryOp::ALL.into_iter().find(|op| op.name() == name)
    }
}

/// Elementwise comparisons; the result is `bool` of the operands' shape.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum CmpOp {
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
}

impl CmpOp {
    /// Every comparison.
    pub const ALL: [CmpOp; 6] = [
        CmpOp::Eq,
        CmpOp::Ne,
        CmpOp::Lt,
        CmpOp::Le,
        CmpOp::Gt,
        CmpOp::Ge,
    ];

    /// The text-format mnemonic.
    pub fn name(self) -> &'static str {
        match self {
            CmpOp::Eq => "eq",
            CmpOp::Ne => "ne",
            CmpOp::Lt => "lt",
            CmpOp::Le => "le",
            CmpOp::Gt => "gt",
            CmpOp::Ge => "ge",
        }
    }

    /// The comparison with the given mnemonic.
    pub fn from_name(name: &str) -> Option<CmpOp> {
        CmpOp::ALL.into_iter().find(|op| op.name() == name)
    }
}

/// How a reduction combines elements.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ReduceOp {
    Sum,
    Prod,
    Max,
    Min,
    /// Sum divided by the number of elements (or of batch points).
    Mean,
}

impl ReduceOp {
    /// Every reduction.
    pub const ALL: [ReduceOp; 5] = [
        ReduceOp::Sum,
        ReduceOp::Prod,
        ReduceOp::Max,
        ReduceOp::Min,
        ReduceOp::Mean,
    ];

    /// The text-format mnemonic.
    pub fn name(self) -> &'static str {
        match self {
            ReduceOp::Sum => "sum",
            ReduceOp::Prod => "prod",
            ReduceOp::Max => "max",
            ReduceOp::Min => "min",
            ReduceOp::Mean => "mean",
        }
    }

    /// The reduction with the given mnemonic.
    pub fn from_name(name: &str) -> Option<ReduceOp> {
        ReduceOp::ALL.into_iter().find(|op| op.name() == name)
    }
}

/// What an op computes. The result type is stored beside it in [`crate::Value`].
///
/// Operands are [`ValueId`]s of the same function. Structured ops (`Tabulate`, `Fold`, `Map`)
/// own a [`Block`] whose values may use values defined before the op in enclosing blocks.
#[derive(Clone, Debug, PartialEq)]
pub enum Op {
    /// Argument `k` of the enclosing block: a function input at the top level, an index
    /// variable in `tabulate`/`fold`, or a per-point value in `map`.
    Arg(usize),
    /// A scalar constant of the value's dtype (bools are 0/1, indices are integral).
    Const(f64),
    /// A constant tensor, row-major, with as many elements as the value's shape.
    Literal(Vec<f64>),
    /// Elementwise function of one operand.
    Unary(UnaryOp, ValueId),
    /// Elementwise function of two operands of equal shape.
    Binary(BinaryOp, ValueId, ValueId),
    /// Elementwise integer power `a^n`.
    Powi(ValueId, i32),
    /// Elementwise comparison, giving `bool`.
    Compare(CmpOp, ValueId, ValueId),
    /// Elementwise `if cond then a else b`; all three of one shape.
    Select(ValueId, ValueId, ValueId),
    /// Conversion to the value's dtype (`i64 → f64`, `bool → f64`, `f64 ↔ f32`).
    Cast(ValueId),
    /// Broadcast to the value's shape by numpy rules on trailing axes.
    Broadcast(ValueId),
    /// Element (or sub-tensor along leading axes) at dynamic `i64` indices. When an index is
    /// out of range the result is `fill` if given; without `fill` the index must be in range.
    Index {
        array: ValueId,
        indices: Vec<ValueId>,
        fill: Option<f64>,
    },
    /// `len` consecutive sub-tensors along axis 0, starting at `start`.
    Slice {
        array: ValueId,
        start: usize,
        len: usize,
    },
    /// Concatenation along axis 0; scalars count as one-element vectors.
    Concat(Vec<ValueId>),
    /// Same elements, the value's shape.
    Reshape(ValueId),
    /// Swap the last two axes: of a matrix, or of each matrix of a batch.
    Transpose(ValueId),
    /// The discrete Fourier transform of real signals along the last axis, unnormalised
    /// (`numpy.fft.rfft`), keeping the first `modes` frequencies: `f64[..., n]` →
    /// `f64[2, ..., modes]`, the real parts then the imaginary parts (complex values are
    /// split along a leading axis of 2; `1 ≤ modes ≤ n/2 + 1`).
    Rfft { signal: ValueId, modes: usize },
    /// The inverse of [`Op::Rfft`] onto `n` points (`numpy.fft.irfft(X, n)`, normalised by
    /// `1/n`): `f64[2, ..., m]` → `f64[..., n]`, the `m ≤ n/2 + 1` frequencies given and
    /// zeros above them; as numpy, the imaginary parts of frequency 0 and (for even `n`)
    /// `n/2` are ignored.
    Irfft { spectrum: ValueId, n: usize },
    /// The 2-D discrete Fourier transform of real signals over the last two axes,
    /// unnormalised (`numpy.fft.rfft2`), keeping the `modes[0]` lowest non-negative and the
    /// `modes[0]` highest (negative) frequencies of the first axis and the `modes[1]`
    /// lowest of the second: `f64[..., n1, n2]` → `f64[2, ..., 2·modes[0], modes[1]]`, split
    /// complex (`1 ≤ modes[0]`, `2·modes[0] ≤ n1`, `1 ≤ modes[1] ≤ n2/2 + 1`; see
    /// `crate::spectral`).
    Rfft2 { signal: ValueId, modes: [usize; 2] },
    /// The inverse of [`Op::Rfft2`] onto `n[0] × n[1]` points (`numpy.fft.irfft2(X, n)` of
    /// the spectrum with zeros at the frequencies not given): `f64[2, ..., 2·m1, m2]` →
    /// `f64[..., n1, n2]`.
    Irfft2 { spectrum: ValueId, n: [usize; 2] },
    /// Inner product of two vectors.
    Dot(ValueId, ValueId),
    /// Matrix `[m, n]` times vector `[n]`.
    MatVec(ValueId, ValueId),
    /// Matrix `[m, k]` times matrix `[k, n]`, or each matrix of a batch `[..., m, k]` times
    /// the same one of `[..., k, n]` (the leading axes equal).
    MatMul(ValueId, ValueId),
    /// Reduction over all elements of a tensor, giving a scalar.
    Reduce(ReduceOp, ValueId),
    /// Builds a tensor of shape `extents ++ shape(body result)`; the body has one `i64`
    /// argument per extent.
    Tabulate { extents: Vec<usize>, body: Block },
    /// `op` over `i in 0..extent` of the body's result; the body has one `i64` argument.
    Fold {
        op: ReduceOp,
        extent: usize,
        body: Block,
    },
    /// The batch dimension: runs the body once per point. Every input is batched (all with
    /// the same number of points at run time); the body receives one argument per input, the
    /// per-point value. The result is batched.
    Map { inputs: Vec<ValueId>, body: Block },
    /// A `map` run batch-major, `lanes` points at a time (made by `sci_passes::tile` from a
    /// `map`, never by the front end). The body receives each input as a tile of shape
    /// `per-point shape ++ [lanes]` (structure of arrays: lane `l` of tile `k` is point
    /// `k·lanes + l`; the last tile is padded by repeating the last point) and, last, a
    /// `bool[lanes]` mask of the lanes that are real points. Without `reduce` the body yields
    /// `result shape ++ [lanes]` and the op's value is batched, one point per real lane. With
    /// `reduce`, the body yields the tile's partial result (it masks the padding itself), the
    /// partials are combined tile by tile in order, and the value is unbatched (`mean`
    /// divides the combined sum by the number of points).
    TileMap {
        inputs: Vec<ValueId>,
        lanes: usize,
        reduce: Option<ReduceOp>,
        body: Block,
    },
    /// Reduction of a batched value over its points, giving an unbatched value of the
    /// per-point shape.
    ReduceBatch(ReduceOp, ValueId),
    /// Call of another function of the module; the result is its result.
    Call { func: FuncId, args: Vec<ValueId> },
    /// Placeholder: the derivative of `of` with respect to `wrt` (each an argument of an
    /// enclosing block), in order, as `d(u, x, x)`. Shape: `shape(of) ++ shape(wrt...)`.
    /// The AD pass expands it; the interpreter refuses it.
    Deriv { of: ValueId, wrt: Vec<ValueId> },
}

impl Op {
    /// The mnemonic used by the text format for this op's kind.
    pub fn mnemonic(&self) -> &'static str {
        match self {
            Op::Arg(_) => "arg",
            Op::Const(_) => "const",
            Op::Literal(_) => "literal",
            Op::Unary(op, _) => op.name(),
            Op::Binary(op, _, _) => op.name(),
            Op::Powi(_, _) => "powi",
            Op::Compare(op, _, _) => op.name(),
            Op::Select(_, _, _) => "select",
            Op::Cast(_) => "cast",
            Op::Broadcast(_) => "broadcast",
            Op::Index { .. } => "index",
            Op::Slice { .. } => "slice",
            Op::Concat(_) => "concat",
            Op::Reshape(_) => "reshape",
            Op::Transpose(_) => "transpose",
            Op::Rfft { .. } => "rfft",
            Op::Irfft { .. } => "irfft",
            Op::Rfft2 { .. } => "rfft2",
            Op::Irfft2 { .. } => "irfft2",
            Op::Dot(_, _) => "dot",
            Op::MatVec(_, _) => "matvec",
            Op::MatMul(_, _) => "matmul",
            Op::Reduce(_, _) => "reduce",
            Op::Tabulate { .. } => "tabulate",
            Op::Fold { .. } => "fold",
            Op::Map { .. } => "map",
            Op::TileMap { .. } => "tile_map",
            Op::ReduceBatch(_, _) => "reduce_batch",
            Op::Call { .. } => "call",
            Op::Deriv { .. } => "deriv",
        }
    }

    /// The operands this op reads directly (not those inside its block).
    pub fn operands(&self) -> Vec<ValueId> {
        match self {
            Op::Arg(_) | Op::Const(_) | Op::Literal(_) => Vec::new(),
            Op::Unary(_, a)
            | Op::Powi(a, _)
            | Op::Cast(a)
            | Op::Broadcast(a)
            | Op::Reshape(a)
            | Op::Transpose(a)
            | Op::Reduce(_, a)
            | Op::ReduceBatch(_, a) => vec![*a],
            Op::Slice { array, .. } => vec![*array],
            Op::Rfft { signal: a, .. }
            | Op::Irfft { spectrum: a, .. }
            | Op::Rfft2 { signal: a, .. }
            | Op::Irfft2 { spectrum: a, .. } => vec![*a],
            Op::Binary(_, a, b)
            | Op::Compare(_, a, b)
            | Op::Dot(a, b)
            | Op::MatVec(a, b)
            | Op::MatMul(a, b) => vec![*a, *b],
            Op::Select(c, a, b) => vec![*c, *a, *b],
            Op::Index { array, indices, .. } => {
                let mut v = vec![*array];
                v.extend(indices);
                v
            }
            Op::Concat(parts) => parts.clone(),
            Op::Tabulate { .. } | Op::Fold { .. } => Vec::new(),
            Op::Map { inputs, .. } | Op::TileMap { inputs, .. } => inputs.clone(),
            Op::Call { args, .. } => args.clone(),
            Op::Deriv { of, wrt } => {
                let mut v = vec![*of];
                v.extend(wrt);
                v
            }
        }
    }

    /// The block of a structured op.
    pub fn block(&self) -> Option<&Block> {
        match self {
            Op::Tabulate { body, .. }
            | Op::Fold { body, .. }
            | Op::Map { body, .. }
            | Op::TileMap { body, .. } => Some(body),
            _ => None,
        }
    }

    /// Mutable access to the block of a structured op.
    pub fn block_mut(&mut self) -> Option<&mut Block> {
        match self {
            Op::Tabulate { body, .. }
            | Op::Fold { body, .. }
            | Op::Map { body, .. }
            | Op::TileMap { body, .. } => Some(body),
            _ => None,
        }
    }

    /// Replaces every value handle of the op, its block's arguments, body and result
    /// included, by `f(handle)` (for renumbering, inlining and remapping passes).
    pub fn map_values(&mut self, mut f: impl FnMut(ValueId) -> ValueId) {
        self.map_operands(&mut f);
        if let Some(block) = self.block_mut() {
            let mut m = |id: &mut ValueId| *id = f(*id);
            block.args.iter_mut().for_each(&mut m);
            block.body.iter_mut().for_each(&mut m);
            m(&mut block.result);
        }
    }

    /// Replaces the handles of the op's own operands ([`Op::operands`]) by `f(handle)`,
    /// leaving its block alone (for passes that copy a structured op's block themselves).
    pub fn map_operands(&mut self, mut f: impl FnMut(ValueId) -> ValueId) {
        let mut m = |id: &mut ValueId| *id = f(*id);
        match self {
            Op::Arg(_) | Op::Const(_) | Op::Literal(_) => {}
            Op::Unary(_, a)
            | Op::Powi(a, _)
            | Op::Cast(a)
            | Op::Broadcast(a)
            | Op::Reshape(a)
            | Op::Transpose(a)
            | Op::Reduce(_, a)
            | Op::ReduceBatch(_, a)
            | Op::Slice { array: a, .. }
            | Op::Rfft { signal: a, .. }
            | Op::Irfft { spectrum: a, .. }
            | Op::Rfft2 { signal: a, .. }
            | Op::Irfft2 { spectrum: a, .. } => m(a),
            Op::Binary(_, a, b)
            | Op::Compare(_, a, b)
            | Op::Dot(a, b)
            | Op::MatVec(a, b)
            | Op::MatMul(a, b) => {
                m(a);
                m(b);
            }
            Op::Select(c, a, b) => {
                m(c);
                m(a);
                m(b);
            }
            Op::Index { array, indices, .. } => {
                m(array);
                indices.iter_mut().for_each(&mut m);
            }
            Op::Concat(parts) | Op::Call { args: parts, .. } => parts.iter_mut().for_each(&mut m),
            Op::Map { inputs, .. } | Op::TileMap { inputs, .. } => {
                inputs.iter_mut().for_each(&mut m)
            }
            Op::Tabulate { .. } | Op::Fold { .. } => {}
            Op::Deriv { of, wrt } => {
                m(of);
                wrt.iter_mut().for_each(&mut m);
            }
        }
    }
}
