//! Phase 3 of validation: the typing rule of every op, and the batch rules.
//!
//! Runs only after handles and scoping are known to be good, but still uses `get` so that
//! it cannot panic if called on its own. Units are never compared.

use super::{BlockKind, CODE_BATCH, CODE_CALL, CODE_TYPE, Checker};
use crate::module::{Block, Value, ValueId};
use crate::op::{BinaryOp, Op, ReduceOp, UnaryOp};
use crate::types::{DType, Type, element_count};

/// Which dtypes an op accepts.
#[derive(Clone, Copy)]
pub(crate) enum Accepts {
    Float,
    Numeric,
    Bool,
}

impl Accepts {
    fn allows(self, d: DType) -> bool {
        match self {
            Accepts::Float => d.is_float(),
            Accepts::Numeric => d.is_float() || d == DType::I64,
            Accepts::Bool => d == DType::Bool,
        }
    }

    fn words(self) -> &'static str {
        match self {
            Accepts::Float => "floating-point (f64 or f32)",
            Accepts::Numeric => "numeric (f64, f32 or i64)",
            Accepts::Bool => "bool",
        }
    }
}

pub(crate) fn unary_accepts(op: UnaryOp) -> Accepts {
    match op {
        UnaryOp::Not => Accepts::Bool,
        UnaryOp::Neg | UnaryOp::Abs => Accepts::Numeric,
        _ => Accepts::Float,
    }
}

pub(crate) fn binary_accepts(op: BinaryOp) -> Accepts {
    match op {
        BinaryOp::And | BinaryOp::Or => Accepts::Bool,
        BinaryOp::Add | BinaryOp::Sub | BinaryOp::Mul | BinaryOp::Min | BinaryOp::Max => {
            Accepts::Numeric
        }
        BinaryOp::Div | BinaryOp::Pow | BinaryOp::Atan2 => Accepts::Float,
    }
}

pub(crate) fn reduce_accepts(op: ReduceOp) -> Accepts {
    match op {
        ReduceOp::Mean => Accepts::Float,
        _ => Accepts::Numeric,
    }
}

/// True if a reduction of zero elements has no value (max, min, mean).
pub(crate) fn needs_elements(op: ReduceOp) -> bool {
    matches!(op, ReduceOp::Max | ReduceOp::Min | ReduceOp::Mean)
}

/// True if `x` is a valid element of dtype `d` (integral for i64, 0/1 for bool).
pub fn fits_dtype(x: f64, d: DType) -> bool {
    match d {
        DType::F64 | DType::F32 => true,
        DType::I64 => x.is_finite() && x.fract() == 0.0 && x.abs() <= 9.007_199_254_740_992e15,
        DType::Bool => x == 0.0 || x == 1.0,
    }
}

/// Numpy broadcasting on trailing axes: can `from` be broadcast to `to`?
pub fn broadcasts_to(from: &[usize], to: &[usize]) -> bool {
    from.len() <= to.len()
        && from
            .iter()
            .rev()
            .zip(to.iter().rev())
            .all(|(&f, &t)| f == t || f == 1)
}

fn show_shape(shape: &[usize]) -> String {
    let dims: Vec<String> = shape.iter().map(|d| d.to_string()).collect();
    format!("[{}]", dims.join(", "))
}

/// The layout part of a type, for messages (units are not part of typing).
fn show(ty: &Type) -> String {
    ty.clone().with_unit(None).to_string()
}

impl<'a> Checker<'a> {
    fn ty(&self, id: ValueId) -> Option<&'a Type> {
        self.f.values.get(id).map(|v| &v.ty)
    }

    pub(super) fn check_types(&mut self) {
        let f = self.f;
        self.types_block(&f.body, BlockKind::Top);
    }

    fn types_block(&mut self, block: &'a Block, kind: BlockKind) {
        let nested = kind != BlockKind::Top;
        if nested {
            for &a in &block.args {
                if self.ty(a).is_some_and(|t| t.batched) {
                    self.err(
                        Some(a),
                        CODE_BATCH,
                        "A block argument is batched; only function inputs, `map` results and calls may be batched, and only in the top-level block.".to_string(),
                    );
                }
            }
        }
        for &id in &block.body {
            let Some(v) = self.f.values.get(id) else {
                continue;
            };
            if nested && v.ty.batched {
                self.err(
                    Some(id),
                    CODE_BATCH,
                    "A batched value is defined inside a block; batched values live only in the top-level block of a function.".to_string(),
                );
            }
            self.check_batch_operands(id, &v.op);
            self.check_op(id, v);
            if let Some(inner) = v.op.block() {
                self.types_block(inner, BlockKind::of(&v.op));
            }
        }
        if nested && self.ty(block.result).is_some_and(|t| t.batched) {
            self.err(
                None,
                CODE_BATCH,
                format!(
                    "A block yields the batched value %{}; a block's result must be one per-point or plain value.",
                    block.result.index()
                ),
            );
        }
    }

    /// Batched operands are allowed only as `map` inputs, the operand of `reduce_batch`,
    /// and call arguments whose callee input is batched.
    fn check_batch_operands(&mut self, id: ValueId, op: &Op) {
        match op {
            Op::Map { .. } | Op::TileMap { .. } | Op::ReduceBatch(..) => return,
            Op::Call { func, args } => {
                let callee = self.m.functions.get(*func);
                for (k, a) in args.iter().enumerate() {
                    let input_batched = callee
                        .and_then(|c| c.input_type(k))
                        .is_some_and(|t| t.batched);
                    if !input_batched && self.ty(*a).is_some_and(|t| t.batched) {
                        self.batch_use_error(id, op, *a);
                    }
                }
                return;
            }
            _ => {}
        }
        for a in op.operands() {
            if self.ty(a).is_some_and(|t| t.batched) {
                self.batch_use_error(id, op, a);
            }
        }
    }

    fn batch_use_error(&mut self, id: ValueId, op: &Op, a: ValueId) {
        self.err(
            Some(id),
            CODE_BATCH,
            format!(
                "`{}` cannot use the batched value %{} directly; per-point computations go inside a `map`, and `reduce_batch` turns a batched value into a plain one.",
                op.mnemonic(),
                a.index()
            ),
        );
    }

    fn type_error(&mut self, id: ValueId, message: String) {
        self.err(Some(id), CODE_TYPE, message);
    }

    /// Compares the declared type with what the op computes (dtype, shape, batch flag).
    fn expect(
        &mut self,
        id: ValueId,
        declared: &Type,
        dtype: DType,
        shape: Vec<usize>,
        batched: bool,
    ) {
        let want = Type {
            dtype,
            shape,
            batched,
            unit: None,
        };
        if !declared.same_layout(&want) {
            let what = self
                .f
                .values
                .get(id)
                .map(|v| v.op.mnemonic())
                .unwrap_or("op");
            self.type_error(
                id,
                format!(
                    "`{what}` gives {} here, but the value is declared {}.",
                    show(&want),
                    show(declared)
                ),
            );
        }
    }

    fn check_dtype(
        &mut self,
        id: ValueId,
        mnemonic: &str,
        operand: ValueId,
        t: &Type,
        acc: Accepts,
    ) -> bool {
        if acc.allows(t.dtype) {
            return true;
        }
        self.type_error(
            id,
            format!(
                "`{mnemonic}` needs a {} operand, but %{} is {}.",
                acc.words(),
                operand.index(),
                show(t)
            ),
        );
        false
    }

    fn check_value_fits(&mut self, id: ValueId, what: &str, x: f64, d: DType) {
        if !fits_dtype(x, d) {
            let need = match d {
                DType::Bool => "0 or 1",
                _ => "an integer within ±2^53",
            };
            self.type_error(
                id,
                format!("The {what} {x:?} is not a valid {d} (it must be {need})."),
            );
        }
    }

    fn same_elementwise(
        &mut self,
        id: ValueId,
        mnemonic: &str,
        pairs: &[(ValueId, &Type)],
    ) -> bool {
        let Some(&(first, ft)) = pairs.first() else {
            return true;
        };
        for &(other, ot) in pairs.iter().skip(1) {
            if ft.dtype != ot.dtype || ft.shape != ot.shape {
                self.type_error(
                    id,
                    format!(
                        "`{mnemonic}` needs operands of the same dtype and shape, but %{} is {} and %{} is {}.",
                        first.index(),
                        show(ft),
                        other.index(),
                        show(ot)
                    ),
                );
                return false;
            }
        }
        true
    }

    fn check_op(&mut self, id: ValueId, v: &'a Value) {
        let declared = &v.ty;
        let mn = v.op.mnemonic();
        match &v.op {
            Op::Arg(_) => {}
            Op::Const(x) => {
                self.check_value_fits(id, "constant", *x, declared.dtype);
                self.expect(id, declared, declared.dtype, Vec::new(), false);
            }
            Op::Literal(data) => {
                for x in data {
                    self.check_value_fits(id, "literal element", *x, declared.dtype);
                }
                match element_count(&declared.shape) {
                    Some(n) if n == data.len() => {}
                    _ => self.type_error(
                        id,
                        format!(
                            "The literal has {} elements but its type {} needs {}.",
                            data.len(),
                            show(declared),
                            element_count(&declared.shape)
                                .map(|n| n.to_string())
                                .unwrap_or_else(|| "too many".to_string())
                        ),
                    ),
                }
                self.expect(id, declared, declared.dtype, declared.shape.clone(), false);
            }
            Op::Unary(op, a) => {
                let Some(at) = self.ty(*a) else { return };
                if self.check_dtype(id, mn, *a, at, unary_accepts(*op)) {
                    self.expect(id, declared, at.dtype, at.shape.clone(), false);
                }
            }
            Op::Binary(op, a, b) => {
                let (Some(at), Some(bt)) = (self.ty(*a), self.ty(*b)) else {
                    return;
                };
                if self.same_elementwise(id, mn, &[(*a, at), (*b, bt)])
                    && self.check_dtype(id, mn, *a, at, binary_accepts(*op))
                {
                    self.expect(id, declared, at.dtype, at.shape.clone(), false);
                }
            }
            Op::Powi(a, _) => {
                let Some(at) = self.ty(*a) else { return };
                if self.check_dtype(id, mn, *a, at, Accepts::Float) {
                    self.expect(id, declared, at.dtype, at.shape.clone(), false);
                }
            }
            Op::Compare(_, a, b) => {
                let (Some(at), Some(bt)) = (self.ty(*a), self.ty(*b)) else {
                    return;
                };
                if self.same_elementwise(id, mn, &[(*a, at), (*b, bt)]) {
                    self.expect(id, declared, DType::Bool, at.shape.clone(), false);
                }
            }
            Op::Select(c, a, b) => {
                let (Some(ct), Some(at), Some(bt)) = (self.ty(*c), self.ty(*a), self.ty(*b)) else {
                    return;
                };
                let cond_ok = self.check_dtype(id, mn, *c, ct, Accepts::Bool);
                if cond_ok && ct.shape != at.shape {
                    self.type_error(
                        id,
                        format!(
                            "`select` needs a condition of the same shape as its branches, but %{} is {} and %{} is {}.",
                            c.index(),
                            show(ct),
                            a.index(),
                            show(at)
                        ),
                    );
                } else if cond_ok && self.same_elementwise(id, mn, &[(*a, at), (*b, bt)]) {
                    self.expect(id, declared, at.dtype, at.shape.clone(), false);
                }
            }
            Op::Cast(a) => {
                let Some(at) = self.ty(*a) else { return };
                self.expect(id, declared, declared.dtype, at.shape.clone(), false);
            }
            Op::Broadcast(a) => {
                let Some(at) = self.ty(*a) else { return };
                if !broadcasts_to(&at.shape, &declared.shape) {
                    self.type_error(
                        id,
                        format!(
                            "%{} of shape {} cannot be broadcast to {} (trailing axes must match or be 1).",
                            a.index(),
                            show_shape(&at.shape),
                            show_shape(&declared.shape)
                        ),
                    );
                } else {
                    self.expect(id, declared, at.dtype, declared.shape.clone(), false);
                }
            }
            Op::Index {
                array,
                indices,
                fill,
            } => self.check_index(id, declared, *array, indices, *fill),
            Op::Slice { array, start, len } => {
                let Some(at) = self.ty(*array) else { return };
                let Some((&first, rest)) = at.shape.split_first() else {
                    self.type_error(
                        id,
                        format!(
                            "`slice` needs an array, but %{} is a scalar.",
                            array.index()
                        ),
                    );
                    return;
                };
                match start.checked_add(*len) {
                    Some(end) if end <= first => {
                        let mut shape = vec![*len];
                        shape.extend_from_slice(rest);
                        self.expect(id, declared, at.dtype, shape, false);
                    }
                    _ => self.type_error(
                        id,
                        format!(
                            "`slice` takes elements {start}..{} of an axis of length {first}.",
                            start.saturating_add(*len)
                        ),
                    ),
                }
            }
            Op::Concat(parts) => self.check_concat(id, declared, parts),
            Op::Rfft { signal, modes } => self.check_rfft(id, declared, *signal, *modes),
            Op::Irfft { spectrum, n } => self.check_irfft(id, declared, *spectrum, *n),
            Op::Rfft2 { signal, modes } => self.check_rfft2(id, declared, *signal, *modes),
            Op::Irfft2 { spectrum, n } => self.check_irfft2(id, declared, *spectrum, *n),
            Op::Reshape(a) => {
                let Some(at) = self.ty(*a) else { return };
                if element_count(&at.shape) != element_count(&declared.shape) {
                    self.type_error(
                        id,
                        format!(
                            "`reshape` cannot turn shape {} into {}: the element counts differ.",
                            show_shape(&at.shape),
                            show_shape(&declared.shape)
                        ),
                    );
                } else {
                    self.expect(id, declared, at.dtype, declared.shape.clone(), false);
                }
            }
            Op::Transpose(a) => {
                let Some(at) = self.ty(*a) else { return };
                if let [batch @ .., m, n] = &at.shape[..] {
                    let mut shape = batch.to_vec();
                    shape.extend([*n, *m]);
                    self.expect(id, declared, at.dtype, shape, false);
                } else {
                    self.type_error(
                        id,
                        format!(
                            "`transpose` needs a matrix (or a batch of them), but %{} has shape {}.",
                            a.index(),
                            show_shape(&at.shape)
                        ),
                    );
                }
            }
            Op::Dot(a, b) | Op::MatVec(a, b) | Op::MatMul(a, b) => {
                self.check_linear_algebra(id, declared, &v.op, *a, *b)
            }
            Op::Reduce(op, a) => {
                let Some(at) = self.ty(*a) else { return };
                if !self.check_dtype(id, mn, *a, at, reduce_accepts(*op)) {
                    return;
                }
                if needs_elements(*op) && element_count(&at.shape) == Some(0) {
                    self.type_error(
                        id,
                        format!("`reduce {}` of an empty tensor has no value.", op.name()),
                    );
                    return;
                }
                self.expect(id, declared, at.dtype, Vec::new(), false);
            }
            Op::Tabulate { extents, body } => {
                if extents.is_empty() {
                    self.type_error(id, "`tabulate` needs at least one extent.".to_string());
                    return;
                }
                if !self.check_index_args(id, body, extents.len()) {
                    return;
                }
                let Some(rt) = self.ty(body.result) else {
                    return;
                };
                let mut shape = extents.clone();
                shape.extend_from_slice(&rt.shape);
                self.expect(id, declared, rt.dtype, shape, false);
            }
            Op::Fold { op, extent, body } => {
                if !self.check_index_args(id, body, 1) {
                    return;
                }
                let Some(rt) = self.ty(body.result) else {
                    return;
                };
                if !self.check_dtype(id, mn, body.result, rt, reduce_accepts(*op)) {
                    return;
                }
                if *extent == 0 && needs_elements(*op) {
                    self.type_error(
                        id,
                        format!("`fold {}` over zero iterations has no value.", op.name()),
                    );
                    return;
                }
                self.expect(id, declared, rt.dtype, rt.shape.clone(), false);
            }
            Op::Map { inputs, body } => self.check_map(id, declared, inputs, body),
            Op::TileMap {
                inputs,
                lanes,
                reduce,
                body,
            } => self.check_tile_map(id, declared, inputs, *lanes, *reduce, body),
            Op::ReduceBatch(op, a) => {
                let Some(at) = self.ty(*a) else { return };
                if !at.batched {
                    self.err(
                        Some(id),
                        CODE_BATCH,
                        format!(
                            "`reduce_batch` needs a batched operand, but %{} is {}.",
                            a.index(),
                            show(at)
                        ),
                    );
                    return;
                }
                if self.check_dtype(id, mn, *a, at, reduce_accepts(*op)) {
                    self.expect(id, declared, at.dtype, at.shape.clone(), false);
                }
            }
            Op::Call { func, args } => self.check_call(id, declared, *func, args),
            Op::Deriv { of, wrt } => {
                let Some(ot) = self.ty(*of) else { return };
                if wrt.is_empty() {
                    self.type_error(id, "`deriv` needs at least one variable.".to_string());
                    return;
                }
                if !self.check_dtype(id, mn, *of, ot, Accepts::Float) {
                    return;
                }
                let mut shape = ot.shape.clone();
                for w in wrt {
                    let Some(wt) = self.ty(*w) else { return };
                    if !self.check_dtype(id, mn, *w, wt, Accepts::Float) {
                        return;
                    }
                    shape.extend_from_slice(&wt.shape);
                }
                self.expect(id, declared, ot.dtype, shape, false);
            }
        }
    }

    fn check_index(
        &mut self,
        id: ValueId,
        declared: &Type,
        array: ValueId,
        indices: &[ValueId],
        fill: Option<f64>,
    ) {
        let Some(at) = self.ty(array) else { return };
        if indices.is_empty() {
            self.type_error(id, "`index` needs at least one index.".to_string());
            return;
        }
        if indices.len() > at.shape.len() {
            self.type_error(
                id,
                format!(
                    "`index` uses {} indices into %{} of shape {}, which has only {} axes.",
                    indices.len(),
                    array.index(),
                    show_shape(&at.shape),
                    at.shape.len()
                ),
            );
            return;
        }
        for i in indices {
            let Some(it) = self.ty(*i) else { return };
            if it.dtype != DType::I64 || !it.shape.is_empty() {
                self.type_error(
                    id,
                    format!(
                        "`index` needs scalar i64 indices, but %{} is {}.",
                        i.index(),
                        show(it)
                    ),
                );
                return;
            }
        }
        if let Some(x) = fill {
            self.check_value_fits(id, "fill value", x, at.dtype);
        }
        let shape = at.shape.get(indices.len()..).unwrap_or(&[]).to_vec();
        self.expect(id, declared, at.dtype, shape, false);
    }

    fn check_concat(&mut self, id: ValueId, declared: &Type, parts: &[ValueId]) {
        let Some(&first) = parts.first() else {
            self.type_error(id, "`concat` needs at least one part.".to_string());
            return;
        };
        let Some(ft) = self.ty(first) else { return };
        let trailing = |t: &Type| t.shape.get(1..).unwrap_or(&[]).to_vec();
        let leading = |t: &Type| t.shape.first().copied().unwrap_or(1);
        let mut total: usize = 0;
        for p in parts {
            let Some(pt) = self.ty(*p) else { return };
            if pt.dtype != ft.dtype || trailing(pt) != trailing(ft) {
                self.type_error(
                    id,
                    format!(
                        "`concat` needs parts of one dtype whose shapes agree after the first axis, but %{} is {} and %{} is {}.",
                        first.index(),
                        show(ft),
                        p.index(),
                        show(pt)
                    ),
                );
                return;
            }
            total = total.saturating_add(leading(pt));
        }
        let mut shape = vec![total];
        shape.extend(trailing(ft));
        self.expect(id, declared, ft.dtype, shape, false);
    }

    /// `rfft %a, modes`: `f[..., n]` → `f[2, ..., modes]`, `1 ≤ modes ≤ n/2 + 1`.
    fn check_rfft(&mut self, id: ValueId, declared: &Type, a: ValueId, modes: usize) {
        let Some(at) = self.ty(a) else { return };
        if !self.check_dtype(id, "rfft", a, at, Accepts::Float) {
            return;
        }
        let Some((&n, lead)) = at.shape.split_last() else {
            self.type_error(
                id,
                format!(
                    "`rfft` needs signals along an axis, but %{} is a scalar.",
                    a.index()
                ),
            );
            return;
        };
        if modes == 0 || modes > n / 2 + 1 {
            self.type_error(
                id,
                format!(
                    "`rfft` of {n} points has frequencies 0..={}, so it cannot keep {modes} modes.",
                    n / 2
                ),
            );
            return;
        }
        let mut shape = vec![2];
        shape.extend_from_slice(lead);
        shape.push(modes);
        self.expect(id, declared, at.dtype, shape, false);
    }

    /// `irfft %a, n`: `f[2, ..., m]` → `f[..., n]`, `1 ≤ m ≤ n/2 + 1`.
    fn check_irfft(&mut self, id: ValueId, declared: &Type, a: ValueId, n: usize) {
        let Some(at) = self.ty(a) else { return };
        if !self.check_dtype(id, "irfft", a, at, Accepts::Float) {
            return;
        }
        let (Some(&2), Some(&m)) = (at.shape.first(), at.shape.last()) else {
            self.type_error(
                id,
                format!(
                    "`irfft` needs a spectrum of shape [2, ..., modes] (real and imaginary \
                     parts), but %{} has shape {}.",
                    a.index(),
                    show_shape(&at.shape)
                ),
            );
            return;
        };
        if at.shape.len() < 2 || n == 0 || m == 0 || m > n / 2 + 1 {
            self.type_error(
                id,
                format!(
                    "`irfft` onto {n} points takes 1 to {} frequencies, not the {} of %{}.",
                    n / 2 + 1,
                    if at.shape.len() < 2 { 0 } else { m },
                    a.index()
                ),
            );
            return;
        }
        let mut shape = at.shape[1..at.shape.len() - 1].to_vec();
        shape.push(n);
        self.expect(id, declared, at.dtype, shape, false);
    }

    /// `rfft2 %a, m1, m2`: `f[..., n1, n2]` → `f[2, ..., 2·m1, m2]`, `1 ≤ m1`, `2·m1 ≤ n1`,
    /// `1 ≤ m2 ≤ n2/2 + 1`.
    fn check_rfft2(&mut self, id: ValueId, declared: &Type, a: ValueId, [m1, m2]: [usize; 2]) {
        let Some(at) = self.ty(a) else { return };
        if !self.check_dtype(id, "rfft2", a, at, Accepts::Float) {
            return;
        }
        let [lead @ .., n1, n2] = &at.shape[..] else {
            self.type_error(
                id,
                format!(
                    "`rfft2` needs signals over two axes, but %{} has shape {}.",
                    a.index(),
                    show_shape(&at.shape)
                ),
            );
            return;
        };
        let (n1, n2) = (*n1, *n2);
        if m1 == 0 || 2 * m1 > n1 || m2 == 0 || m2 > n2 / 2 + 1 {
            self.type_error(
                id,
                format!(
                    "`rfft2` of {n1} × {n2} points keeps 1 to {} frequencies at each end of the                      first axis and 1 to {} of the second, not {m1} and {m2}.",
                    n1 / 2,
                    n2 / 2 + 1
                ),
            );
            return;
        }
        let mut shape = vec![2];
        shape.extend_from_slice(lead);
        shape.extend([2 * m1, m2]);
        self.expect(id, declared, at.dtype, shape, false);
    }

    /// `irfft2 %a, n1, n2`: `f[2, ..., 2·m1, m2]` → `f[..., n1, n2]`.
    fn check_irfft2(&mut self, id: ValueId, declared: &Type, a: ValueId, [n1, n2]: [usize; 2]) {
        let Some(at) = self.ty(a) else { return };
        if !self.check_dtype(id, "irfft2", a, at, Accepts::Float) {
            return;
        }
        let [2, middle @ .., rows, m2] = &at.shape[..] else {
            self.type_error(
                id,
                format!(
                    "`irfft2` needs a spectrum of shape [2, ..., rows, modes] (real and                      imaginary parts), but %{} has shape {}.",
                    a.index(),
                    show_shape(&at.shape)
                ),
            );
            return;
        };
        let (rows, m2) = (*rows, *m2);
        if rows == 0 || rows % 2 != 0 || rows > n1 || m2 == 0 || m2 > n2 / 2 + 1 {
            self.type_error(
                id,
                format!(
                    "`irfft2` onto {n1} × {n2} points takes an even number of rows up to {n1}                      and 1 to {} frequencies of the second axis, not {rows} and {m2}.",
                    n2 / 2 + 1
                ),
            );
            return;
        }
        let mut shape = middle.to_vec();
        shape.extend([n1, n2]);
        self.expect(id, declared, at.dtype, shape, false);
    }

    fn check_linear_algebra(
        &mut self,
        id: ValueId,
        declared: &Type,
        op: &Op,
        a: ValueId,
        b: ValueId,
    ) {
        let (Some(at), Some(bt)) = (self.ty(a), self.ty(b)) else {
            return;
        };
        let mn = op.mnemonic();
        if !self.check_dtype(id, mn, a, at, Accepts::Float)
            || !self.check_dtype(id, mn, b, bt, Accepts::Float)
        {
            return;
        }
        if at.dtype != bt.dtype {
            self.type_error(
                id,
                format!(
                    "`{mn}` needs operands of one dtype, but %{} is {} and %{} is {}.",
                    a.index(),
                    show(at),
                    b.index(),
                    show(bt)
                ),
            );
            return;
        }
        let result = match (op, &at.shape[..], &bt.shape[..]) {
            (Op::Dot(..), [n], [k]) if n == k => Some(Vec::new()),
            (Op::MatVec(..), [m, n], [k]) if n == k => Some(vec![*m]),
            (Op::MatMul(..), [ba @ .., m, k1], [bb @ .., k2, n]) if k1 == k2 && ba == bb => {
                let mut shape = ba.to_vec();
                shape.extend([*m, *n]);
                Some(shape)
            }
            _ => None,
        };
        match result {
            Some(shape) => self.expect(id, declared, at.dtype, shape, false),
            None => {
                let need = match op {
                    Op::Dot(..) => "two vectors of one length",
                    Op::MatVec(..) => "a matrix [m, n] and a vector [n]",
                    _ => {
                        "matrices [m, k] and [k, n] (or batches [..., m, k] and [..., k, n] of one shape)"
                    }
                };
                self.type_error(
                    id,
                    format!(
                        "`{mn}` needs {need}, but %{} has shape {} and %{} has shape {}.",
                        a.index(),
                        show_shape(&at.shape),
                        b.index(),
                        show_shape(&bt.shape)
                    ),
                );
            }
        }
    }

    /// The block of `tabulate`/`fold` takes `count` scalar i64 arguments.
    fn check_index_args(&mut self, id: ValueId, body: &Block, count: usize) -> bool {
        let mn = self
            .f
            .values
            .get(id)
            .map(|v| v.op.mnemonic())
            .unwrap_or("op");
        if body.args.len() != count {
            self.type_error(
                id,
                format!(
                    "The block of `{mn}` must take {count} index argument(s), but it takes {}.",
                    body.args.len()
                ),
            );
            return false;
        }
        for a in &body.args {
            let Some(t) = self.ty(*a) else { return false };
            if t.dtype != DType::I64 || !t.shape.is_empty() || t.batched {
                self.type_error(
                    id,
                    format!(
                        "The index argument %{} of `{mn}` must be a scalar i64, but it is {}.",
                        a.index(),
                        show(t)
                    ),
                );
                return false;
            }
        }
        true
    }

    fn check_tile_map(
        &mut self,
        id: ValueId,
        declared: &Type,
        inputs: &[ValueId],
        lanes: usize,
        reduce: Option<ReduceOp>,
        body: &Block,
    ) {
        if inputs.is_empty() || lanes == 0 {
            self.type_error(
                id,
                "`tile_map` needs at least one batched input and at least one lane.".to_string(),
            );
            return;
        }
        if body.args.len() != inputs.len() + 1 {
            self.type_error(
                id,
                format!(
                    "`tile_map` has {} inputs, so its block takes {} arguments (one tile per input and the lane mask), not {}.",
                    inputs.len(),
                    inputs.len() + 1,
                    body.args.len()
                ),
            );
            return;
        }
        let tile = |mut t: Type| {
            t.shape.push(lanes);
            t
        };
        if !self.check_point_args(id, "tile_map", inputs, &body.args, tile) {
            return;
        }
        let mask = body.args[inputs.len()];
        let want = Type::boolean(vec![lanes]);
        if let Some(mt) = self.ty(mask)
            && !mt.same_layout(&want)
        {
            self.type_error(
                id,
                format!(
                    "The last block argument %{} of `tile_map`, the lane mask, is {} but should be {}.",
                    mask.index(),
                    show(mt),
                    show(&want)
                ),
            );
            return;
        }
        let Some(rt) = self.ty(body.result) else {
            return;
        };
        match reduce {
            Some(op) => {
                let (dtype, shape) = (rt.dtype, rt.shape.clone());
                if self.check_dtype(id, "tile_map", body.result, rt, reduce_accepts(op)) {
                    self.expect(id, declared, dtype, shape, false);
                }
            }
            None => {
                let mut shape = rt.shape.clone();
                if shape.pop() != Some(lanes) {
                    self.type_error(
                        id,
                        format!(
                            "The block of `tile_map` yields {}, whose last axis should be the {lanes} lanes.",
                            show(rt)
                        ),
                    );
                    return;
                }
                self.expect(id, declared, rt.dtype, shape, true);
            }
        }
    }

    fn check_map(&mut self, id: ValueId, declared: &Type, inputs: &[ValueId], body: &Block) {
        if inputs.is_empty() {
            self.type_error(id, "`map` needs at least one batched input.".to_string());
            return;
        }
        if body.args.len() != inputs.len() {
            self.type_error(
                id,
                format!(
                    "`map` has {} inputs but its block takes {} arguments.",
                    inputs.len(),
                    body.args.len()
                ),
            );
            return;
        }
        if !self.check_point_args(id, "map", inputs, &body.args, |t| t) {
            return;
        }
        let Some(rt) = self.ty(body.result) else {
            return;
        };
        self.expect(id, declared, rt.dtype, rt.shape.clone(), true);
    }

    /// The block arguments of a `map` or `tile_map` (`op`) against its inputs: each input is
    /// batched, and argument `k` has the layout `arg_type(point type of input k)`.
    fn check_point_args(
        &mut self,
        id: ValueId,
        op: &str,
        inputs: &[ValueId],
        args: &[ValueId],
        arg_type: impl Fn(Type) -> Type,
    ) -> bool {
        for (input, arg) in inputs.iter().zip(args) {
            let (Some(it), Some(at)) = (self.ty(*input), self.ty(*arg)) else {
                return false;
            };
            if !it.batched {
                self.err(
                    Some(id),
                    CODE_BATCH,
                    format!(
                        "`{op}` needs batched inputs, but %{} is {}.",
                        input.index(),
                        show(it)
                    ),
                );
                return false;
            }
            let point = it.per_point();
            let want = arg_type(point.clone());
            if !at.same_layout(&want) {
                let should = if want.same_layout(&point) {
                    String::new()
                } else {
                    format!(", so it should be {}", show(&want))
                };
                self.type_error(
                    id,
                    format!(
                        "The block argument %{} of `{op}` is {} but the input %{} has points of type {}{should}.",
                        arg.index(),
                        show(at),
                        input.index(),
                        show(&point)
                    ),
                );
                return false;
            }
        }
        true
    }

    fn check_call(
        &mut self,
        id: ValueId,
        declared: &Type,
        func: crate::module::FuncId,
        args: &[ValueId],
    ) {
        let Some(callee) = self.m.functions.get(func) else {
            return;
        };
        if std::ptr::eq(callee, self.f) {
            self.err(
                Some(id),
                CODE_CALL,
                format!(
                    "The function `{}` calls itself; recursion is not allowed in the IR.",
                    callee.name
                ),
            );
            return;
        }
        if args.len() != callee.inputs().len() {
            self.err(
                Some(id),
                CODE_CALL,
                format!(
                    "The call passes {} arguments but `{}` takes {}.",
                    args.len(),
                    callee.name,
                    callee.inputs().len()
                ),
            );
            return;
        }
        for (k, a) in args.iter().enumerate() {
            let (Some(at), Some(it)) = (self.ty(*a), callee.input_type(k)) else {
                self.err(
                    Some(id),
                    CODE_CALL,
                    format!("The callee `{}` is itself invalid.", callee.name),
                );
                return;
            };
            if !at.same_layout(it) {
                self.err(
                    Some(id),
                    CODE_CALL,
                    format!(
                        "Argument {k} of the call to `{}` is {} but the function takes {}.",
                        callee.name,
                        show(at),
                        show(it)
                    ),
                );
                return;
            }
        }
        let Some(rt) = callee.result_type() else {
            self.err(
                Some(id),
                CODE_CALL,
                format!("The callee `{}` is itself invalid.", callee.name),
            );
            return;
        };
        self.expect(id, declared, rt.dtype, rt.shape.clone(), rt.batched);
    }
}
