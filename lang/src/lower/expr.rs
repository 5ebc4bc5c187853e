//! Lowering of HIR expressions to IR values, with explicit broadcasts and casts.
//!
//! Each arm builds exactly the IR its HIR node means; the result type of every new value is
//! the HIR type (units included), so printed IR shows the units the checker proved.

use super::cx::{FnCx, Key, MAX_DEPTH, Point, ir_type};
use super::{Res, diag};
use crate::hir::{Binder, DiffVar, HExpr, HExprKind, Reduction};
use sci_ir::{BinaryOp, DType, Op, Type, UnaryOp, ValueId};

impl FnCx<'_, '_> {
    /// Lowers `e`; a new value at the root gets `name`.
    pub fn expr(&mut self, e: &HExpr, name: Option<&str>) -> Res<ValueId> {
        if self.depth >= MAX_DEPTH {
            return Err(diag::too_deep(e.span, MAX_DEPTH));
        }
        self.depth += 1;
        let r = self.expr_inner(e, name);
        self.depth -= 1;
        r
    }

    /// Dispatches on the kind of node. Each group is its own (never inlined) method so that
    /// the recursion `expr → expr_inner → group → expr` keeps small stack frames.
    fn expr_inner(&mut self, e: &HExpr, name: Option<&str>) -> Res<ValueId> {
        use HExprKind as K;
        match &e.kind {
            K::Const(_) | K::ConstArray(_) | K::Array(_) => self.constant(e, name),
            K::Param(_)
            | K::State(_)
            | K::Let(_)
            | K::Output(_)
            | K::Der(_)
            | K::Residual(_)
            | K::StateAt { .. } => self.reference(e),
            K::Time | K::Coord(_) | K::IndexVar(_) | K::Local(_) | K::DataColumn { .. } => {
                self.leaf(e, name)
            }
            K::Expval {
                circuit,
                observable,
            } => self
                .inputs
                .expvals
                .get(&(*circuit, *observable))
                .copied()
                .ok_or_else(|| diag::unavailable(e.span, "An expectation value", self.context)),
            K::Unary(..) | K::Binary(..) | K::Powi(..) => self.arithmetic(e, name),
            K::Compare(..) | K::Select(..) | K::ToReal(..) => self.logic(e, name),
            K::Index { .. } => self.index(e, name),
            K::Reduce { .. } | K::ReduceAll(..) | K::ReduceBatch(..) => self.reduction(e, name),
            K::Dot(..)
            | K::MatVec(..)
            | K::MatMul(..)
            | K::Transpose(..)
            | K::Rfft(..)
            | K::Irfft(..)
            | K::Rfft2(..)
            | K::Irfft2(..) => self.linear_algebra(e, name),
            K::Call { func, args } => self.call(*func, args, ir_type(&e.ty), name, e.span),
            K::Net { net, args } => self.net_call(*net, args, ir_type(&e.ty), name, e.span),
            K::Deriv { .. } => self.derivative(e, name),
        }
    }

    #[inline(never)]
    fn constant(&mut self, e: &HExpr, name: Option<&str>) -> Res<ValueId> {
        let ty = ir_type(&e.ty);
        match &e.kind {
            HExprKind::Const(c) if ty.shape.is_empty() => Ok(self.push(Op::Const(*c), ty, name)),
            HExprKind::Const(c) => {
                let scalar = Type {
                    shape: Vec::new(),
                    ..ty.clone()
                };
                let v = self.push(Op::Const(*c), scalar, None);
                Ok(self.push(Op::Broadcast(v), ty, name))
            }
            HExprKind::ConstArray(values) => {
                if ty.element_count() != Some(values.len()) {
                    return Err(diag::internal(
                        e.span,
                        format!(
                            "a constant array has {} values but its type is {ty}",
                            values.len()
                        ),
                    ));
                }
                match values.as_slice() {
                    [v] if ty.shape.is_empty() => Ok(self.push(Op::Const(*v), ty, name)),
                    _ => Ok(self.push(Op::Literal(values.clone()), ty, name)),
                }
            }
            HExprKind::Array(items) => self.stack(items, ty, name, e),
            _ => Err(diag::internal(e.span, "a constant was expected")),
        }
    }

    #[inline(never)]
    fn reference(&mut self, e: &HExpr) -> Res<ValueId> {
        use HExprKind as K;
        let key = match &e.kind {
            K::Param(p) => Key::Param(*p),
            K::State(s) => Key::State(*s),
            K::Let(l) => Key::Let(*l),
            K::Output(o) => Key::Output(*o),
            K::Der(s) => Key::Der(*s),
            K::Residual(r) => Key::Residual(*r),
            K::StateAt { state, data, .. } => Key::StateAt(*state, *data),
            _ => return Err(diag::internal(e.span, "a reference was expected")),
        };
        self.entity(key, e.span)
    }

    #[inline(never)]
    fn leaf(&mut self, e: &HExpr, name: Option<&str>) -> Res<ValueId> {
        use HExprKind as K;
        match &e.kind {
            K::Time => self
                .inputs
                .time
                .ok_or_else(|| diag::unavailable(e.span, "The time `t`", self.context)),
            K::Coord(k) => match &self.point {
                Some(Point::Residual { coords, .. }) => coords.get(*k).copied().ok_or_else(|| {
                    diag::internal(e.span, format!("coordinate {k} does not exist"))
                }),
                _ => Err(diag::unavailable(
                    e.span,
                    "A domain coordinate",
                    "this place (coordinates exist only inside a residual)",
                )),
            },
            K::IndexVar(b) => self.binder(*b).ok_or_else(|| {
                diag::internal(e.span, "an index variable is used outside its range")
            }),
            K::Local(k) => self.inputs.locals.get(*k).copied().ok_or_else(|| {
                diag::internal(e.span, format!("function parameter {k} does not exist"))
            }),
            K::DataColumn { data, column } => match self.point.clone() {
                Some(Point::Data { id, row, .. }) if id == *data => {
                    let hir = self
                        .st
                        .model
                        .and_then(|m| m.data.get(data.index()))
                        .ok_or_else(|| diag::internal(e.span, "a data set that does not exist"))?;
                    if !hir.shape(*column).is_empty() {
                        // A function on a grid: its slice of the row.
                        let len = hir.column_len(*column);
                        let part = self.push(
                            Op::Slice {
                                array: row,
                                start: hir.column_offset(*column),
                                len,
                            },
                            Type::f64(vec![len]),
                            None,
                        );
                        return Ok(self.push(Op::Reshape(part), ir_type(&e.ty), name));
                    }
                    let idx = self.index_const(hir.column_offset(*column) as i64);
                    let array = row;
                    Ok(self.push(
                        Op::Index {
                            array,
                            indices: vec![idx],
                            fill: None,
                        },
                        ir_type(&e.ty),
                        name,
                    ))
                }
                _ => Err(diag::unavailable(
                    e.span,
                    "A data column",
                    "this place (columns exist only inside `mean(...)` over that data set)",
                )),
            },
            _ => Err(diag::internal(e.span, "a leaf was expected")),
        }
    }

    #[inline(never)]
    fn arithmetic(&mut self, e: &HExpr, name: Option<&str>) -> Res<ValueId> {
        let ty = ir_type(&e.ty);
        match &e.kind {
            HExprKind::Unary(op, a) => {
                let av = self.expr(a, None)?;
                let av = self.conform(av, &ty, a.span)?;
                Ok(self.push(Op::Unary(*op, av), ty, name))
            }
            HExprKind::Binary(op, a, b) => {
                let av = self.expr(a, None)?;
                let bv = self.expr(b, None)?;
                if ty.dtype == DType::I64
                    && matches!(op, BinaryOp::Div | BinaryOp::Pow | BinaryOp::Atan2)
                {
                    return self.via_real(&ty, name, e.span, |cx, real| {
                        let av = cx.conform(av, real, a.span)?;
                        let bv = cx.conform(bv, real, b.span)?;
                        let q = cx.push(Op::Binary(*op, av, bv), real.clone(), None);
                        Ok(if *op == BinaryOp::Div {
                            cx.push(Op::Unary(UnaryOp::Floor, q), real.clone(), None)
                        } else {
                            q
                        })
                    });
                }
                let av = self.conform(av, &ty, a.span)?;
                let bv = self.conform(bv, &ty, b.span)?;
                Ok(self.push(Op::Binary(*op, av, bv), ty, name))
            }
            HExprKind::Powi(a, n) => {
                let av = self.expr(a, None)?;
                if ty.dtype == DType::I64 {
                    return self.via_real(&ty, name, e.span, |cx, real| {
                        let av = cx.conform(av, real, a.span)?;
                        Ok(cx.push(Op::Powi(av, *n), real.clone(), None))
                    });
                }
                let av = self.conform(av, &ty, a.span)?;
                Ok(self.push(Op::Powi(av, *n), ty, name))
            }
            _ => Err(diag::internal(e.span, "arithmetic was expected")),
        }
    }

    #[inline(never)]
    fn logic(&mut self, e: &HExpr, name: Option<&str>) -> Res<ValueId> {
        let ty = ir_type(&e.ty);
        match &e.kind {
            HExprKind::Compare(op, a, b) => {
                let av = self.expr(a, None)?;
                let bv = self.expr(b, None)?;
                // Compare in the wider dtype: an index against a real becomes real.
                let (at, bt) = (self.ty(av)?, self.ty(bv)?);
                let dtype = if at.dtype == bt.dtype {
                    at.dtype
                } else {
                    DType::F64
                };
                let target = Type::tensor(dtype, ty.shape.clone());
                let av = self.conform(av, &target, a.span)?;
                let bv = self.conform(bv, &target, b.span)?;
                Ok(self.push(Op::Compare(*op, av, bv), ty, name))
            }
            HExprKind::Select(c, a, b) => {
                let cv = self.expr(c, None)?;
                let cv = self.conform(cv, &Type::boolean(ty.shape.clone()), c.span)?;
                let av = self.expr(a, None)?;
                let bv = self.expr(b, None)?;
                let av = self.conform(av, &ty, a.span)?;
                let bv = self.conform(bv, &ty, b.span)?;
                Ok(self.push(Op::Select(cv, av, bv), ty, name))
            }
            HExprKind::ToReal(a) => {
                let av = self.expr(a, None)?;
                if self.ty(av)?.dtype == ty.dtype {
                    return Ok(av);
                }
                Ok(self.push(Op::Cast(av), ty, name))
            }
            _ => Err(diag::internal(e.span, "a comparison was expected")),
        }
    }

    #[inline(never)]
    fn index(&mut self, e: &HExpr, name: Option<&str>) -> Res<ValueId> {
        let HExprKind::Index {
            base,
            indices,
            fill,
        } = &e.kind
        else {
            return Err(diag::internal(e.span, "an index was expected"));
        };
        let array = self.expr(base, None)?;
        let mut idx = Vec::with_capacity(indices.len());
        for i in indices {
            let v = self.expr(i, None)?;
            if self.ty(v)?.dtype != DType::I64 {
                return Err(diag::internal(i.span, "an index is not an integer"));
            }
            idx.push(v);
        }
        let op = Op::Index {
            array,
            indices: idx,
            fill: *fill,
        };
        Ok(self.push(op, ir_type(&e.ty), name))
    }

    #[inline(never)]
    fn reduction(&mut self, e: &HExpr, name: Option<&str>) -> Res<ValueId> {
        let ty = ir_type(&e.ty);
        match &e.kind {
            HExprKind::Reduce { body, binders, .. } if binders.is_empty() => self.expr(body, name),
            HExprKind::Reduce { op, binders, body } => self.fold(*op, binders, body, &ty, name),
            HExprKind::ReduceAll(op, a) => {
                let av = self.expr(a, None)?;
                Ok(self.push(Op::Reduce(*op, av), ty, name))
            }
            HExprKind::ReduceBatch(op, a) => self.reduce_batch(*op, a, ty, name, e.span),
            _ => Err(diag::internal(e.span, "a reduction was expected")),
        }
    }

    #[inline(never)]
    fn linear_algebra(&mut self, e: &HExpr, name: Option<&str>) -> Res<ValueId> {
        let ty = ir_type(&e.ty);
        let op = match &e.kind {
            HExprKind::Transpose(a) => Op::Transpose(self.expr(a, None)?),
            HExprKind::Rfft(a, modes) => Op::Rfft {
                signal: self.expr(a, None)?,
                modes: *modes,
            },
            HExprKind::Irfft(a, n) => Op::Irfft {
                spectrum: self.expr(a, None)?,
                n: *n,
            },
            HExprKind::Rfft2(a, modes) => Op::Rfft2 {
                signal: self.expr(a, None)?,
                modes: *modes,
            },
            HExprKind::Irfft2(a, n) => Op::Irfft2 {
                spectrum: self.expr(a, None)?,
                n: *n,
            },
            HExprKind::Dot(a, b) => Op::Dot(self.expr(a, None)?, self.expr(b, None)?),
            HExprKind::MatVec(a, b) => Op::MatVec(self.expr(a, None)?, self.expr(b, None)?),
            HExprKind::MatMul(a, b) => Op::MatMul(self.expr(a, None)?, self.expr(b, None)?),
            _ => return Err(diag::internal(e.span, "linear algebra was expected")),
        };
        Ok(self.push(op, ty, name))
    }

    #[inline(never)]
    fn derivative(&mut self, e: &HExpr, name: Option<&str>) -> Res<ValueId> {
        let HExprKind::Deriv { of, wrt } = &e.kind else {
            return Err(diag::internal(e.span, "a derivative was expected"));
        };
        let ofv = self.expr(of, None)?;
        let mut vars = Vec::with_capacity(wrt.len());
        for w in wrt {
            vars.push(self.diff_var(*w, e)?);
        }
        Ok(self.push(Op::Deriv { of: ofv, wrt: vars }, ir_type(&e.ty), name))
    }

    /// Integer division and powers, which the IR defines on reals only: computed in f64
    /// (exact for integers below 2^53; division rounds towards −∞) and cast back to i64.
    fn via_real(
        &mut self,
        ty: &Type,
        name: Option<&str>,
        span: sci_diag::Span,
        f: impl FnOnce(&mut Self, &Type) -> Res<ValueId>,
    ) -> Res<ValueId> {
        let real = Type::f64(ty.shape.clone());
        let r = f(self, &real)?;
        if self.ty(r)?.dtype != DType::F64 {
            return Err(diag::internal(span, "integer arithmetic went wrong"));
        }
        Ok(self.push(Op::Cast(r), ty.clone(), name))
    }

    /// Makes `v` fit `target`'s dtype and shape: a cast for index or bool values used as
    /// reals, a broadcast for a scalar (or trailing-suffix) value used as an array.
    pub fn conform(&mut self, v: ValueId, target: &Type, span: sci_diag::Span) -> Res<ValueId> {
        let mut vt = self.ty(v)?;
        let mut v = v;
        if vt.dtype != target.dtype && target.dtype.is_float() {
            vt = Type {
                dtype: target.dtype,
                ..vt
            };
            v = self.push(Op::Cast(v), vt.clone(), None);
        }
        if vt.shape != target.shape {
            if !broadcastable(&vt.shape, &target.shape) {
                return Err(diag::internal(
                    span,
                    format!("a value of type {vt} cannot be broadcast to {target}"),
                ));
            }
            let bt = Type {
                shape: target.shape.clone(),
                ..vt
            };
            v = self.push(Op::Broadcast(v), bt, None);
        }
        Ok(v)
    }

    /// `[a, b, …]`: scalars concatenate directly; arrays get a new leading axis each first.
    fn stack(&mut self, items: &[HExpr], ty: Type, name: Option<&str>, e: &HExpr) -> Res<ValueId> {
        let elem = Type {
            shape: ty.shape.get(1..).map(<[usize]>::to_vec).unwrap_or_default(),
            ..ty.clone()
        };
        let mut parts = Vec::with_capacity(items.len());
        for item in items {
            let v = self.expr(item, None)?;
            let v = self.conform(v, &elem, item.span)?;
            let v = if elem.shape.is_empty() {
                v
            } else {
                let mut shape = vec![1];
                shape.extend(&elem.shape);
                let rt = Type {
                    shape,
                    ..elem.clone()
                };
                self.push(Op::Reshape(v), rt, None)
            };
            parts.push(v);
        }
        if ty.shape.first() != Some(&items.len()) {
            return Err(diag::internal(
                e.span,
                "an array literal's type does not match its items",
            ));
        }
        Ok(self.push(Op::Concat(parts), ty, name))
    }

    /// `op(i in a..b, j in c..d: body)` as nested folds, outermost binder first.
    fn fold(
        &mut self,
        op: Reduction,
        binders: &[Binder],
        body: &HExpr,
        ty: &Type,
        name: Option<&str>,
    ) -> Res<ValueId> {
        let Some((first, rest)) = binders.split_first() else {
            let v = self.expr(body, None)?;
            return self.conform(v, ty, body.span);
        };
        let args = self.begin_block(vec![(Some(first.name.clone()), Type::index())]);
        let index = match args.first() {
            Some(&arg) => self.offset_index(arg, first.start),
            None => return Err(diag::internal(first.span, "a reduction lost its index")),
        };
        self.bind(first.id, index);
        let inner = self.fold(op, rest, body, ty, None);
        self.unbind(first.id);
        let inner = inner?;
        let block = self.end_block(inner);
        Ok(self.push(
            Op::Fold {
                op,
                extent: first.extent(),
                body: block,
            },
            ty.clone(),
            name,
        ))
    }

    /// The index value `start + arg` of a binder whose block argument is `arg`.
    pub fn offset_index(&mut self, arg: ValueId, start: i64) -> ValueId {
        if start == 0 {
            return arg;
        }
        let c = self.index_const(start);
        self.push(Op::Binary(BinaryOp::Add, arg, c), Type::index(), None)
    }

    /// The block argument a derivative is taken with respect to.
    fn diff_var(&self, w: DiffVar, e: &HExpr) -> Res<ValueId> {
        match w {
            DiffVar::Coord(k) => match &self.point {
                Some(Point::Residual { coords, .. }) => coords.get(k).copied().ok_or_else(|| {
                    diag::internal(e.span, format!("coordinate {k} does not exist"))
                }),
                _ => Err(diag::unavailable(
                    e.span,
                    "A derivative with respect to a coordinate",
                    "this place (coordinates exist only inside a residual)",
                )),
            },
            DiffVar::Local(k) => self.inputs.locals.get(k).copied().ok_or_else(|| {
                diag::unavailable(
                    e.span,
                    "A derivative with respect to a function parameter",
                    "this place",
                )
            }),
        }
    }

    /// A unary op on a freshly computed value (used by network activations).
    pub fn unary(&mut self, op: UnaryOp, v: ValueId, ty: &Type) -> ValueId {
        self.push(Op::Unary(op, v), ty.clone(), None)
    }
}

/// True if `from` broadcasts to `to` by numpy rules on trailing axes (each trailing extent
/// equal or 1, and no more axes than the target).
fn broadcastable(from: &[usize], to: &[usize]) -> bool {
    from.len() <= to.len()
        && from
            .iter()
            .rev()
            .zip(to.iter().rev())
            .all(|(f, t)| f == t || *f == 1)
}
