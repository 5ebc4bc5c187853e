//! Element-local sparse Jacobians of array right-hand sides.
//!
//! A right-hand side written as `tabulate`s over grids (`der(u[i, j]) = …`) computes each
//! result element from a few reads of the state (`u[i, j]`, `u[i - 1, j]`, …). Its Jacobian
//! row at a point is the derivative of that one scalar body with respect to those reads:
//! this module differentiates the body once per distinct read (forward mode with a one-hot
//! seed, so only the ops on the read's path get a derivative, and structural zeros cost
//! nothing), tabulates these local derivatives over the grid, and gathers them into the CSR
//! values in pattern order through tables computed here from the reads' indices. No
//! colouring, no compressed products: the work is the body's derivative per read, and the
//! entries of a linear stencil are a constant or two per point.
//!
//! It applies when the function's result is a concatenation of `tabulate`s with scalar
//! bodies (through reshapes), whose bodies read the input only through `index` of views
//! of it (slices, reshapes), possibly through other such `tabulate`s (inlined), with
//! indices computed from the loop counters by integer arithmetic, comparisons and selects,
//! and whose ops have derivative rules here. Anything else returns `None`, and the caller
//! keeps the compressed (coloured) evaluation.

use super::{Pattern, csr_order};
use sci_ir::manifest::DerivativeKind;
use sci_ir::types::element_count;
use sci_ir::{BinaryOp, Block, DType, Function, Op, Type, UnaryOp, Value, ValueId};
use std::collections::HashMap;

/// At most this many points (over all output `tabulate`s) times reads are tabulated.
const MAX_LOCAL_ENTRIES: usize = 1 << 24;
/// At most this many values in one flattened body (inlining is bounded).
const MAX_BODY: usize = 4096;

/// The CSR values of `∂f/∂(input wrt)` computed element-locally, as a function of `f`'s
/// inputs returning `f64[nnz]` in `pattern` order, or `None` where this does not apply.
pub fn local_values(f: &Function, wrt: usize, pattern: &Pattern) -> Option<Function> {
    let input = *f.inputs().get(wrt)?;
    let outputs = output_tabulates(f)?;
    let mut g = f.derived(
        format!("sparse_jac.{}", f.name),
        DerivativeKind::SparseJacobian,
        &[wrt],
    );
    let mut grids = Vec::new();
    let mut row0 = 0usize;
    for t in outputs {
        let grid = local_grid(&mut g, f, input, t, pattern, row0)?;
        row0 += grid.terms.len();
        grids.push(grid);
    }
    if row0 != pattern.n_rows {
        return None;
    }
    match csr_order::in_csr_order(&mut g, &grids, pattern) {
        Some(values) => g.body.result = values,
        None => gather(&mut g, grids, pattern.nnz())?,
    }
    crate::cleanup::cleanup_function(&mut g);
    Some(g)
}

/// The local derivatives of one output `tabulate`, not yet tabulated: its body and their
/// sweeps, and which of them make each entry of its rows.
pub(super) struct Grid {
    pub extents: Vec<usize>,
    /// The body's block arguments (the counters).
    pub args: Vec<ValueId>,
    /// The flat body followed by the sweeps.
    pub block: Vec<ValueId>,
    /// The body's own values: the first `primal` of `block`.
    pub primal: usize,
    /// The local derivatives, one per group of reads, values of `block`.
    pub tangents: Vec<ValueId>,
    /// Per point, per entry of its row: the local derivatives whose sum is the entry.
    pub terms: Vec<Vec<Vec<usize>>>,
}

impl Grid {
    /// Tabulates `entries` (values of the block, one per element of a point) over the grid
    /// and returns the flat result, `f64[points × entries]`.
    pub fn tabulate(
        &self,
        g: &mut Function,
        block: Vec<ValueId>,
        entries: Vec<ValueId>,
    ) -> Option<ValueId> {
        tabulate_entries(g, &self.extents, &self.args, block, entries)
    }
}

/// Tabulates `entries` (scalar values of `block`, a grid body over the counters `args`)
/// over `extents`, appends it to `g`'s body and returns the flat result,
/// `f64[points × entries]`.
pub(super) fn tabulate_entries(
    g: &mut Function,
    extents: &[usize],
    args: &[ValueId],
    mut block: Vec<ValueId>,
    entries: Vec<ValueId>,
) -> Option<ValueId> {
    let width = entries.len();
    let points = element_count(extents)?;
    let yielded = g.values.push(Value {
        op: Op::Concat(entries),
        ty: Type::f64(vec![width]),
        name: None,
    });
    block.push(yielded);
    let mut shape = extents.to_vec();
    shape.push(width);
    let local = g.values.push(Value {
        op: Op::Tabulate {
            extents: extents.to_vec(),
            body: Block {
                args: args.to_vec(),
                body: block,
                result: yielded,
            },
        },
        ty: Type::f64(shape),
        name: None,
    });
    let flat = g.values.push(Value {
        op: Op::Reshape(local),
        ty: Type::f64(vec![points.checked_mul(width)?]),
        name: None,
    });
    g.body.body.extend([local, flat]);
    Some(flat)
}

/// Differentiates the body of output `tabulate` `t` (rows from `row0`) once per distinct
/// read of `input`, in `g`.
fn local_grid(
    g: &mut Function,
    f: &Function,
    input: ValueId,
    t: ValueId,
    pattern: &Pattern,
    row0: usize,
) -> Option<Grid> {
    let (extents, body) = match f.values.get(t).map(|v| &v.op) {
        Some(Op::Tabulate { extents, body }) => (extents.clone(), body.clone()),
        _ => return None,
    };
    let points = element_count(&extents)?;
    let mut flat = Flattener {
        g,
        src: f,
        input,
        block: Vec::new(),
        reads: Vec::new(),
    };
    let args: Vec<ValueId> = (0..extents.len())
        .map(|d| flat.push(Op::Arg(d), Type::index()))
        .collect();
    let mut map: HashMap<ValueId, ValueId> = body.args.iter().copied().zip(args.clone()).collect();
    let result = flat.inline(&body, &mut map, 0)?;
    let (block, reads) = (flat.block, flat.reads);
    // The reads, grouped by the input element they read at each point.
    let mut groups: Vec<(Vec<Option<usize>>, Vec<ValueId>)> = Vec::new();
    for (v, leaf) in &reads {
        let cols = columns(g, &args, &extents, *v, leaf)?;
        match groups.iter_mut().find(|(c, _)| *c == cols) {
            Some((_, vs)) => vs.push(*v),
            None => groups.push((cols, vec![*v])),
        }
    }
    groups.retain(|(c, _)| c.iter().any(Option::is_some));
    let k_count = groups.len().max(1);
    if points.checked_mul(k_count)? > MAX_LOCAL_ENTRIES || block.len() > MAX_BODY {
        return None;
    }
    // One forward sweep of the body per group of reads.
    let primal = block.len();
    let mut sweep = Sweeper { g, block, primal };
    let mut tangents = Vec::with_capacity(k_count);
    let mut forms = Vec::with_capacity(k_count);
    for (_, seeds) in &groups {
        let (v, form) = sweep.tangent(result, seeds)?;
        tangents.push(v);
        forms.push(form);
    }
    if tangents.is_empty() {
        tangents.push(sweep.constant(0.0));
    }
    let block = std::mem::take(&mut sweep.block);
    // Which local derivatives make each entry of each row of this output.
    let mut terms = Vec::with_capacity(points);
    for p in 0..points {
        let row = row0 + p;
        let cols = pattern.row_ptr.get(row..=row + 1)?;
        let row_cols = pattern.col_idx.get(cols[0]..cols[1])?;
        let mut entry_terms = vec![Vec::new(); row_cols.len()];
        let mut memo = point_memo(&args, &multi_index(p, &extents));
        for (k, ((col_of, _), form)) in groups.iter().zip(&forms).enumerate() {
            let Some(c) = col_of.get(p).copied().flatten() else {
                continue;
            };
            // A derivative structurally zero at this point is no term of its entry.
            if form.zero_at(g, &mut memo) {
                continue;
            }
            // A read whose column is not in the pattern has a zero derivative there (the
            // pattern covers every non-zero).
            if let Ok(at) = row_cols.binary_search(&c) {
                entry_terms.get_mut(at)?.push(k);
            }
        }
        terms.push(entry_terms);
    }
    Some(Grid {
        extents,
        args,
        block,
        primal,
        tangents,
        terms,
    })
}

/// The `tabulate`s whose elements make the result of `f`, in order (through `concat` and
/// `reshape`), or `None` if the result is made otherwise.
fn output_tabulates(f: &Function) -> Option<Vec<ValueId>> {
    let result = f.body.result;
    let parts = match &f.values.get(result)?.op {
        Op::Concat(parts) => parts.clone(),
        _ => vec![result],
    };
    parts
        .into_iter()
        .map(|mut v| {
            while let Some(Op::Reshape(a)) = f.values.get(v).map(|x| &x.op) {
                v = *a;
            }
            let value = f.values.get(v)?;
            match &value.op {
                Op::Tabulate { body, .. }
                    if value.ty.dtype == DType::F64
                        && f.values.get(body.result)?.ty.shape.is_empty() =>
                {
                    Some(v)
                }
                _ => None,
            }
        })
        .collect()
}

/// A view of the input: its first element's offset in the input and its shape.
#[derive(Clone, Debug, PartialEq)]
struct Leaf {
    offset: usize,
    shape: Vec<usize>,
}

/// The input view `v` of `f` is, if it is one (the input itself, or slices and reshapes).
fn leaf(f: &Function, input: ValueId, v: ValueId) -> Option<Leaf> {
    let value = f.values.get(v)?;
    if v == input {
        return Some(Leaf {
            offset: 0,
            shape: value.ty.shape.clone(),
        });
    }
    match &value.op {
        Op::Reshape(a) => Some(Leaf {
            offset: leaf(f, input, *a)?.offset,
            shape: value.ty.shape.clone(),
        }),
        Op::Slice { array, start, .. } => {
            let inner = leaf(f, input, *array)?;
            let sub: usize = inner.shape.get(1..)?.iter().product();
            Some(Leaf {
                offset: inner.offset + start * sub,
                shape: value.ty.shape.clone(),
            })
        }
        _ => None,
    }
}

/// Copies a `tabulate` body into one flat block of the new function, inlining the
/// elements it reads of other `tabulate`s, and records its reads of the input.
struct Flattener<'a> {
    g: &'a mut Function,
    src: &'a Function,
    input: ValueId,
    block: Vec<ValueId>,
    /// The values reading an input element, with the view they read.
    reads: Vec<(ValueId, Leaf)>,
}

impl Flattener<'_> {
    fn push(&mut self, op: Op, ty: Type) -> ValueId {
        let v = self.g.values.push(Value { op, ty, name: None });
        if !matches!(self.g.values[v].op, Op::Arg(_)) {
            self.block.push(v);
        }
        v
    }

    /// Copies `body` (arguments already in `map`); returns its result's copy.
    fn inline(
        &mut self,
        body: &Block,
        map: &mut HashMap<ValueId, ValueId>,
        depth: usize,
    ) -> Option<ValueId> {
        if depth > 8 || self.block.len() > MAX_BODY {
            return None;
        }
        for &v in &body.body {
            let value = self.src.values.get(v)?;
            let m = |x: &ValueId| map.get(x).copied().unwrap_or(*x);
            let new = match &value.op {
                Op::Index {
                    array,
                    indices,
                    fill,
                } if value.ty.shape.is_empty() => {
                    let indices: Vec<ValueId> = indices.iter().map(m).collect();
                    let target = self.src.values.get(*array)?;
                    if let Some(l) = leaf(self.src, self.input, *array) {
                        let r = self.push(
                            Op::Index {
                                array: *array,
                                indices,
                                fill: *fill,
                            },
                            value.ty.clone(),
                        );
                        self.reads.push((r, l));
                        r
                    } else if let (Op::Tabulate { body: inner, .. }, None) = (&target.op, fill) {
                        // An element of another grid: its body at these indices.
                        let mut inner_map: HashMap<ValueId, ValueId> =
                            inner.args.iter().copied().zip(indices).collect();
                        self.inline(inner, &mut inner_map, depth + 1)?
                    } else if depends_on(self.src, *array, self.input) {
                        return None;
                    } else {
                        self.push(
                            Op::Index {
                                array: *array,
                                indices,
                                fill: *fill,
                            },
                            value.ty.clone(),
                        )
                    }
                }
                op if op.block().is_some() => return None,
                op => {
                    // A scalar view of the input from outside the body (a parameter `α`
                    // sliced from θ) is a read at the same element at every point.
                    for &x in &op.operands() {
                        if !map.contains_key(&x)
                            && let Some(l) = leaf(self.src, self.input, x)
                            && element_count(&l.shape) == Some(1)
                        {
                            let r = self.push(Op::Reshape(x), Type::scalar());
                            self.reads.push((r, l));
                            map.insert(x, r);
                        }
                    }
                    // An operand not copied yet is from outside the body; one that depends
                    // on the input is a read this module cannot see.
                    if op
                        .operands()
                        .iter()
                        .any(|x| !map.contains_key(x) && depends_on(self.src, *x, self.input))
                    {
                        return None;
                    }
                    let mut op = op.clone();
                    op.map_operands(&mut |x| map.get(&x).copied().unwrap_or(x));
                    self.push(op, value.ty.clone())
                }
            };
            map.insert(v, new);
        }
        map.get(&body.result).copied()
    }
}

/// Whether value `v` of `f` depends on `input` (through operands and nested blocks).
fn depends_on(f: &Function, v: ValueId, input: ValueId) -> bool {
    let mut stack = vec![v];
    let mut seen = std::collections::HashSet::new();
    while let Some(x) = stack.pop() {
        if x == input {
            return true;
        }
        if !seen.insert(x) {
            continue;
        }
        let Some(value) = f.values.get(x) else {
            return true;
        };
        stack.extend(value.op.operands());
        if let Some(b) = value.op.block() {
            stack.extend(b.body.iter().copied());
            stack.push(b.result);
        }
    }
    false
}

/// The input element (the column) read by `read` at every point of the grid `extents`,
/// row-major (`None` where its indices are out of range), from the integer values of the
/// flat block; `None` if an index is not integer arithmetic on the counters.
fn columns(
    g: &Function,
    args: &[ValueId],
    extents: &[usize],
    read: ValueId,
    leaf: &Leaf,
) -> Option<Vec<Option<usize>>> {
    let points = element_count(extents)?;
    let indices = match &g.values.get(read)?.op {
        Op::Index { indices, .. } => indices,
        // A scalar read from outside the body: the same element everywhere.
        Op::Reshape(_) if element_count(&leaf.shape) == Some(1) => {
            return Some(vec![Some(leaf.offset); points]);
        }
        _ => return None,
    };
    let mut out = Vec::with_capacity(points);
    for p in 0..points {
        let mut memo = point_memo(args, &multi_index(p, extents));
        let mut lin = Some(0usize);
        for (&i, &n) in indices.iter().zip(&leaf.shape) {
            let x = int_value(g, i, &mut memo, 0)?;
            lin = match (lin, usize::try_from(x)) {
                (Some(l), Ok(x)) if x < n => Some(l * n + x),
                _ => None,
            };
        }
        out.push(lin.map(|l| leaf.offset + l));
    }
    Some(out)
}

/// The value of integer or truth value `v` at the point in `memo` (block arguments set).
pub(super) fn int_value(
    g: &Function,
    v: ValueId,
    memo: &mut HashMap<ValueId, i64>,
    depth: usize,
) -> Option<i64> {
    if let Some(x) = memo.get(&v) {
        return Some(*x);
    }
    if depth > 64 {
        return None;
    }
    let value = g.values.get(v)?;
    let get = |x: &ValueId, memo: &mut HashMap<ValueId, i64>| int_value(g, *x, memo, depth + 1);
    let x = match &value.op {
        Op::Const(c) if c.fract() == 0.0 && c.abs() < (1u64 << 52) as f64 => *c as i64,
        Op::Binary(op, a, b) => {
            let (a, b) = (get(a, memo)?, get(b, memo)?);
            match op {
                BinaryOp::Add => a.checked_add(b)?,
                BinaryOp::Sub => a.checked_sub(b)?,
                BinaryOp::Mul => a.checked_mul(b)?,
                BinaryOp::And => i64::from(a != 0 && b != 0),
                BinaryOp::Or => i64::from(a != 0 || b != 0),
                _ => return None,
            }
        }
        Op::Unary(UnaryOp::Not, a) => i64::from(get(a, memo)? == 0),
        Op::Compare(op, a, b) => {
            let (a, b) = (get(a, memo)?, get(b, memo)?);
            // Exact in `f64`: the IR computes these integers in `f64` too.
            let exact = |x: i64| x.unsigned_abs() < 1 << 52;
            if !(exact(a) && exact(b)) {
                return None;
            }
            i64::from(super::detect::compare(*op, a as f64, b as f64))
        }
        Op::Select(c, a, b) => {
            if get(c, memo)? != 0 {
                get(a, memo)?
            } else {
                get(b, memo)?
            }
        }
        _ => return None,
    };
    memo.insert(v, x);
    Some(x)
}

/// A derivative in a forward sweep: structurally zero, one, a value, or a select of two
/// derivatives on a condition of the body. Selects stay symbolic while they are small, so
/// that ops on them apply to each side (`select(c, 1, 0) · α / h²` becomes `select(c,
/// α / h², 0)`, whose sides do not depend on the point), and so that where a derivative
/// is structurally zero can be decided per point when the gather tables are made.
#[derive(Clone, Debug, PartialEq)]
enum Tan {
    Zero,
    One,
    Of(ValueId),
    Sel(ValueId, Box<Tan>, Box<Tan>),
}

/// At most this many leaves in one symbolic select tree (beyond, it becomes a value).
const MAX_LEAVES: usize = 16;

impl Tan {
    fn leaves(&self) -> usize {
        match self {
            Tan::Sel(_, a, b) => a.leaves() + b.leaves(),
            _ => 1,
        }
    }

    /// Whether the derivative is structurally zero at the point whose block arguments are
    /// in `memo` (a condition that cannot be evaluated leaves both sides possible).
    fn zero_at(&self, g: &Function, memo: &mut HashMap<ValueId, i64>) -> bool {
        match self {
            Tan::Zero => true,
            Tan::One | Tan::Of(_) => false,
            Tan::Sel(c, a, b) => match int_value(g, *c, memo, 0) {
                Some(0) => b.zero_at(g, memo),
                Some(_) => a.zero_at(g, memo),
                None => a.zero_at(g, memo) && b.zero_at(g, memo),
            },
        }
    }
}

/// Emits forward sweeps of a flat body, one per group of seeded reads.
struct Sweeper<'a> {
    g: &'a mut Function,
    block: Vec<ValueId>,
    /// The body's own values: the first `primal` of `block` (sweeps append after them).
    primal: usize,
}

impl Sweeper<'_> {
    fn push(&mut self, op: Op, ty: Type) -> ValueId {
        let v = self.g.values.push(Value { op, ty, name: None });
        self.block.push(v);
        v
    }

    fn constant(&mut self, x: f64) -> ValueId {
        self.push(Op::Const(x), Type::scalar())
    }

    fn value(&mut self, t: &Tan) -> ValueId {
        match t {
            Tan::Zero => self.constant(0.0),
            Tan::One => self.constant(1.0),
            Tan::Of(v) => *v,
            Tan::Sel(c, a, b) => {
                let (x, y) = (self.value(a), self.value(b));
                self.push(Op::Select(*c, x, y), Type::scalar())
            }
        }
    }

    fn bin(&mut self, op: BinaryOp, a: ValueId, b: ValueId) -> ValueId {
        self.push(Op::Binary(op, a, b), Type::scalar())
    }

    /// `t · x` (`t` a derivative, `x` a value).
    fn scale(&mut self, t: &Tan, x: ValueId) -> Tan {
        match t {
            Tan::Zero => Tan::Zero,
            Tan::One => Tan::Of(x),
            Tan::Of(v) => Tan::Of(self.bin(BinaryOp::Mul, *v, x)),
            Tan::Sel(c, a, b) => {
                Tan::Sel(*c, Box::new(self.scale(a, x)), Box::new(self.scale(b, x)))
            }
        }
    }

    /// `t / x`.
    fn divide(&mut self, t: &Tan, x: ValueId) -> Tan {
        match t {
            Tan::Zero => Tan::Zero,
            Tan::Sel(c, a, b) => {
                Tan::Sel(*c, Box::new(self.divide(a, x)), Box::new(self.divide(b, x)))
            }
            t => {
                let v = self.value(t);
                Tan::Of(self.bin(BinaryOp::Div, v, x))
            }
        }
    }

    fn add(&mut self, a: &Tan, b: &Tan) -> Tan {
        match (a, b) {
            (Tan::Zero, t) | (t, Tan::Zero) => t.clone(),
            (Tan::Sel(c, x, y), t) | (t, Tan::Sel(c, x, y))
                if (x.leaves() + y.leaves()) * t.leaves() <= MAX_LEAVES =>
            {
                Tan::Sel(*c, Box::new(self.add(x, t)), Box::new(self.add(y, t)))
            }
            (a, b) => {
                let (a, b) = (self.value(a), self.value(b));
                Tan::Of(self.bin(BinaryOp::Add, a, b))
            }
        }
    }

    fn neg(&mut self, t: &Tan) -> Tan {
        match t {
            Tan::Zero => Tan::Zero,
            Tan::Sel(c, a, b) => Tan::Sel(*c, Box::new(self.neg(a)), Box::new(self.neg(b))),
            t => {
                let v = self.value(t);
                Tan::Of(self.push(Op::Unary(UnaryOp::Neg, v), Type::scalar()))
            }
        }
    }

    /// The derivative of `result` when the reads in `seeds` move together (the others
    /// fixed), emitted into the block after the body: its value and its symbolic form.
    fn tangent(&mut self, result: ValueId, seeds: &[ValueId]) -> Option<(ValueId, Tan)> {
        let mut tan: HashMap<ValueId, Tan> = seeds.iter().map(|&s| (s, Tan::One)).collect();
        let body: Vec<ValueId> = self.block.get(..self.primal)?.to_vec();
        for v in body {
            if tan.contains_key(&v) {
                continue;
            }
            let value = self.g.values.get(v)?.clone();
            let t = |x: &ValueId| tan.get(x).cloned().unwrap_or(Tan::Zero);
            let d = match &value.op {
                _ if !value.ty.dtype.is_float() || !value.ty.shape.is_empty() => Tan::Zero,
                Op::Binary(op, a, b) => {
                    let (ta, tb) = (t(a), t(b));
                    if ta == Tan::Zero && tb == Tan::Zero {
                        Tan::Zero
                    } else {
                        match op {
                            BinaryOp::Add => self.add(&ta, &tb),
                            BinaryOp::Sub => {
                                let nb = self.neg(&tb);
                                self.add(&ta, &nb)
                            }
                            BinaryOp::Mul => {
                                let x = self.scale(&ta, *b);
                                let y = self.scale(&tb, *a);
                                self.add(&x, &y)
                            }
                            BinaryOp::Div => {
                                // (ta − (a/b)·tb) / b
                                let q = self.scale(&tb, v);
                                let nq = self.neg(&q);
                                let num = self.add(&ta, &nq);
                                self.divide(&num, *b)
                            }
                            _ => return None,
                        }
                    }
                }
                Op::Unary(op, a) => {
                    let ta = t(a);
                    if ta == Tan::Zero {
                        Tan::Zero
                    } else {
                        match op {
                            UnaryOp::Neg => self.neg(&ta),
                            UnaryOp::Exp => self.scale(&ta, v),
                            UnaryOp::Tanh => {
                                // 1 − tanh²
                                let sq = self.bin(BinaryOp::Mul, v, v);
                                let one = self.constant(1.0);
                                let d = self.bin(BinaryOp::Sub, one, sq);
                                self.scale(&ta, d)
                            }
                            UnaryOp::Sin => {
                                let c = self.push(Op::Unary(UnaryOp::Cos, *a), Type::scalar());
                                self.scale(&ta, c)
                            }
                            UnaryOp::Cos => {
                                let s = self.push(Op::Unary(UnaryOp::Sin, *a), Type::scalar());
                                let d = self.scale(&ta, s);
                                self.neg(&d)
                            }
                            UnaryOp::Log => self.divide(&ta, *a),
                            UnaryOp::Sqrt => {
                                let two = self.constant(2.0);
                                let d = self.bin(BinaryOp::Mul, two, v);
                                self.divide(&ta, d)
                            }
                            _ => return None,
                        }
                    }
                }
                Op::Powi(a, n) => {
                    let ta = t(a);
                    match (&ta, n) {
                        (Tan::Zero, _) | (_, 0) => Tan::Zero,
                        (_, 1) => ta,
                        _ => {
                            let p = self.push(Op::Powi(*a, n - 1), Type::scalar());
                            let k = self.constant(f64::from(*n));
                            let d = self.bin(BinaryOp::Mul, k, p);
                            self.scale(&ta, d)
                        }
                    }
                }
                Op::Select(c, a, b) => match (t(a), t(b)) {
                    (Tan::Zero, Tan::Zero) => Tan::Zero,
                    (ta, tb) if ta.leaves() + tb.leaves() <= MAX_LEAVES => {
                        Tan::Sel(*c, Box::new(ta), Box::new(tb))
                    }
                    (ta, tb) => {
                        let (x, y) = (self.value(&ta), self.value(&tb));
                        Tan::Of(self.push(Op::Select(*c, x, y), Type::scalar()))
                    }
                },
                Op::Cast(a) | Op::Reshape(a) => t(a),
                Op::Const(_) | Op::Arg(_) | Op::Index { .. } | Op::Compare(..) => Tan::Zero,
                _ => return None,
            };
            tan.insert(v, d);
        }
        let r = tan.get(&result).cloned().unwrap_or(Tan::Zero);
        Some((self.value(&r), r))
    }
}

/// The block arguments of a grid point, for [`int_value`].
pub(super) fn point_memo(args: &[ValueId], at: &[usize]) -> HashMap<ValueId, i64> {
    args.iter()
        .copied()
        .zip(at.iter().map(|&x| x as i64))
        .collect()
}

/// The row-major multi-index of point `p` of grid `extents`.
pub(super) fn multi_index(mut p: usize, extents: &[usize]) -> Vec<usize> {
    let mut at = vec![0; extents.len()];
    for (x, &e) in at.iter_mut().zip(extents).rev() {
        *x = p % e.max(1);
        p /= e.max(1);
    }
    at
}

/// Makes `g` return the CSR values by a gather: every grid tabulates all its local
/// derivatives, and each entry sums the positions of its terms in their concatenation,
/// read through integer tables.
fn gather(g: &mut Function, grids: Vec<Grid>, nnz: usize) -> Option<()> {
    let mut parts = Vec::with_capacity(grids.len());
    let mut terms: Vec<Vec<Vec<usize>>> = Vec::new();
    let mut count = 0usize;
    for mut grid in grids {
        let k_count = grid.tangents.len();
        for (p, point) in grid.terms.iter().enumerate() {
            let base = count + p * k_count;
            terms.push(
                point
                    .iter()
                    .map(|entry| entry.iter().map(|k| base + k).collect())
                    .collect(),
            );
        }
        count += grid.terms.len() * k_count;
        let block = std::mem::take(&mut grid.block);
        parts.push(grid.tabulate(g, block, grid.tangents.clone())?);
    }
    let width = terms
        .iter()
        .flatten()
        .map(Vec::len)
        .max()
        .unwrap_or(0)
        .max(1);
    // Position `count` is a zero: entries with fewer terms (or none) read it.
    let mut tables = vec![Vec::with_capacity(nnz); width];
    for entry in terms.iter().flatten() {
        for (m, table) in tables.iter_mut().enumerate() {
            table.push(entry.get(m).copied().unwrap_or(count) as f64);
        }
    }
    if tables.first()?.len() != nnz {
        return None;
    }
    let push = |g: &mut Function, op: Op, ty: Type| g.values.push(Value { op, ty, name: None });
    let zero = push(g, Op::Literal(vec![0.0]), Type::f64(vec![1]));
    let mut all = parts;
    all.push(zero);
    let local = push(g, Op::Concat(all), Type::f64(vec![count + 1]));
    g.body.body.extend([zero, local]);
    let literals: Vec<ValueId> = tables
        .into_iter()
        .map(|t| {
            let l = push(g, Op::Literal(t), Type::tensor(DType::I64, vec![nnz]));
            g.body.body.push(l);
            l
        })
        .collect();
    let q = push(g, Op::Arg(0), Type::index());
    let mut body = Vec::new();
    let mut sum: Option<ValueId> = None;
    for l in literals {
        let at = push(
            g,
            Op::Index {
                array: l,
                indices: vec![q],
                fill: None,
            },
            Type::index(),
        );
        let x = push(
            g,
            Op::Index {
                array: local,
                indices: vec![at],
                fill: None,
            },
            Type::scalar(),
        );
        body.extend([at, x]);
        sum = Some(match sum {
            None => x,
            Some(s) => {
                let a = push(g, Op::Binary(BinaryOp::Add, s, x), Type::scalar());
                body.push(a);
                a
            }
        });
    }
    let result = sum?;
    let values = push(
        g,
        Op::Tabulate {
            extents: vec![nnz],
            body: Block {
                args: vec![q],
                body,
                result,
            },
        },
        Type::f64(vec![nnz]),
    );
    g.body.body.push(values);
    g.body.result = values;
    Some(())
}
