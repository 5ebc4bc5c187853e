//! Forward mode: the tangent rule of every op.
//!
//! [`Cx::tangent`] emits the tangent of one source value from the tangents of the values
//! it reads (absent tangents are zero and cost nothing). Structured ops are differentiated
//! structurally: the tangent of a `tabulate` is a `tabulate` of tangents (its body is
//! recomputed inside the new block), the same for `fold` sums and `map`; products,
//! maxima and minima over folds, reductions and batches use exact closed forms (see
//! `rules::product_of_others`; ties of max/min share the derivative equally). Calls are
//! differentiated by copying the callee's body in place.

use super::AdError;
use super::cx::Cx;
use super::emit::plain;
use super::rules::{self, product_of_others, product_terms};
use sci_ir::{BinaryOp, Block, CmpOp, Op, ReduceOp, Type, ValueId};

impl Cx<'_, '_> {
    /// The zero tangent of source value `src` (a `map` when it is batched).
    pub fn zero_tangent(&mut self, src: ValueId) -> Result<ValueId, AdError> {
        let like = self.p(src);
        self.em.full_like(0.0, like)
    }

    /// The tangent of `src`, materialising a zero where it has none.
    pub fn t_or_zero(&mut self, src: ValueId) -> Result<ValueId, AdError> {
        match self.t(src) {
            Some(t) => Ok(t),
            None => self.zero_tangent(src),
        }
    }

    /// Emits the tangent of source value `src` (whose primal is `self.p(src)`) and records
    /// it; nothing is emitted when it is zero.
    pub fn tangent(&mut self, src: ValueId) -> Result<(), AdError> {
        let v = self.src(src)?;
        if !v.ty.dtype.is_float() {
            return Ok(());
        }
        let y = self.p(src);
        let ty = plain(&v.ty);
        let t = match &v.op {
            Op::Arg(_) | Op::Const(_) | Op::Literal(_) | Op::Compare(..) => None,
            Op::Unary(op, a) => match self.t(*a) {
                None => None,
                Some(da) => {
                    let pa = self.p(*a);
                    match rules::unary(&mut self.em, *op, pa, y)? {
                        Some(f) => Some(f.apply(&mut self.em, da)?),
                        None => None,
                    }
                }
            },
            Op::Binary(op, a, b) => self.tangent_binary(*op, *a, *b, y)?,
            Op::Powi(a, n) => match self.t(*a) {
                None => None,
                Some(da) => {
                    let pa = self.p(*a);
                    match rules::powi(&mut self.em, pa, *n)? {
                        Some(f) => Some(f.apply(&mut self.em, da)?),
                        None => None,
                    }
                }
            },
            Op::Select(c, a, b) => {
                if self.t(*a).is_none() && self.t(*b).is_none() {
                    None
                } else {
                    let da = self.t_or_zero(*a)?;
                    let db = self.t_or_zero(*b)?;
                    let pc = self.p(*c);
                    Some(self.em.select(pc, da, db)?)
                }
            }
            Op::Cast(a) => match self.t(*a) {
                Some(da) if self.em.ty(*a)?.dtype.is_float() => Some(self.em.cast(da, ty.dtype)?),
                _ => None,
            },
            Op::Broadcast(a) => match self.t(*a) {
                Some(da) => Some(self.em.push(Op::Broadcast(da), ty)),
                None => None,
            },
            Op::Index {
                array,
                indices,
                fill,
            } => match self.t(*array) {
                Some(da) => {
                    let indices = indices.iter().map(|i| self.p(*i)).collect();
                    Some(self.em.push(
                        Op::Index {
                            array: da,
                            indices,
                            fill: fill.map(|_| 0.0),
                        },
                        ty,
                    ))
                }
                None => None,
            },
            Op::Slice { array, start, len } => match self.t(*array) {
                Some(da) => Some(self.em.push(
                    Op::Slice {
                        array: da,
                        start: *start,
                        len: *len,
                    },
                    ty,
                )),
                None => None,
            },
            Op::Concat(parts) => {
                if parts.iter().all(|p| self.t(*p).is_none()) {
                    None
                } else {
                    let mut ds = Vec::with_capacity(parts.len());
                    for p in parts {
                        ds.push(self.t_or_zero(*p)?);
                    }
                    Some(self.em.push(Op::Concat(ds), ty))
                }
            }
            Op::Reshape(a) => self
                .t(*a)
                .map(|da| self.em.push(Op::Reshape(da), ty.clone())),
            Op::Transpose(a) => self
                .t(*a)
                .map(|da| self.em.push(Op::Transpose(da), ty.clone())),
            // Linear: the tangent goes through the same transform.
            Op::Rfft { signal, modes } => self.t(*signal).map(|da| {
                let op = Op::Rfft {
                    signal: da,
                    modes: *modes,
                };
                self.em.push(op, ty.clone())
            }),
            Op::Irfft { spectrum, n } => self.t(*spectrum).map(|da| {
                let op = Op::Irfft {
                    spectrum: da,
                    n: *n,
                };
                self.em.push(op, ty.clone())
            }),
            Op::Rfft2 { signal, modes } => self.t(*signal).map(|da| {
                let op = Op::Rfft2 {
                    signal: da,
                    modes: *modes,
                };
                self.em.push(op, ty.clone())
            }),
            Op::Irfft2 { spectrum, n } => self.t(*spectrum).map(|da| {
                let op = Op::Irfft2 {
                    spectrum: da,
                    n: *n,
                };
                self.em.push(op, ty.clone())
            }),
            Op::Dot(a, b) => self.tangent_bilinear(*a, *b, &ty, Op::Dot)?,
            Op::MatVec(a, b) => self.tangent_bilinear(*a, *b, &ty, Op::MatVec)?,
            Op::MatMul(a, b) => self.tangent_bilinear(*a, *b, &ty, Op::MatMul)?,
            Op::Reduce(op, a) => match self.t(*a) {
                Some(da) => Some(self.tangent_reduce(*op, *a, da, y)?),
                None => None,
            },
            Op::Tabulate { extents, body } => {
                if self.block_has_tangent(body)? {
                    Some(
                        self.loop_tabulate(extents, body, true, |cx, r, dr| match dr {
                            Some(d) => Ok(d),
                            None => cx.em.full_like(0.0, r),
                        })?,
                    )
                } else {
                    None
                }
            }
            Op::Fold { op, extent, body } => {
                if self.block_has_tangent(body)? {
                    Some(self.tangent_fold(*op, *extent, body, y)?)
                } else {
                    None
                }
            }
            Op::Map { inputs, body } => self.tangent_map(inputs, body, &ty)?,
            Op::ReduceBatch(op, a) => match self.t(*a) {
                Some(da) => Some(self.tangent_reduce_batch(*op, *a, da, y, &ty)?),
                None => None,
            },
            Op::Call { func, args } => {
                if args.iter().all(|a| self.t(*a).is_none()) {
                    None
                } else {
                    self.tangent_call(*func, args)?
                }
            }
            Op::Deriv { .. } => return Err(AdError::unexpanded()),
            Op::TileMap { .. } => return Err(AdError::tiled()),
        };
        if let Some(t) = t {
            self.set_t(src, t);
        }
        Ok(())
    }

    fn tangent_binary(
        &mut self,
        op: BinaryOp,
        a: ValueId,
        b: ValueId,
        y: ValueId,
    ) -> Result<Option<ValueId>, AdError> {
        let (da, db) = (self.t(a), self.t(b));
        if da.is_none() && db.is_none() {
            return Ok(None);
        }
        let (pa, pb) = (self.p(a), self.p(b));
        if matches!(op, BinaryOp::Min | BinaryOp::Max) {
            let cmp = if op == BinaryOp::Min {
                CmpOp::Le
            } else {
                CmpOp::Ge
            };
            let c = self.em.compare(cmp, pa, pb)?;
            let da = self.t_or_zero(a)?;
            let db = self.t_or_zero(b)?;
            return Ok(Some(self.em.select(c, da, db)?));
        }
        let (fa, fb) = rules::binary(&mut self.em, op, pa, pb, y, da.is_some(), db.is_some())?;
        let ta = match (da, fa) {
            (Some(d), Some(f)) => Some(f.apply(&mut self.em, d)?),
            _ => None,
        };
        let tb = match (db, fb) {
            (Some(d), Some(f)) => Some(f.apply(&mut self.em, d)?),
            _ => None,
        };
        self.em.add_opt(ta, tb)
    }

    /// `op(da, b) + op(a, db)` for the bilinear ops.
    fn tangent_bilinear(
        &mut self,
        a: ValueId,
        b: ValueId,
        ty: &Type,
        make: fn(ValueId, ValueId) -> Op,
    ) -> Result<Option<ValueId>, AdError> {
        let (pa, pb) = (self.p(a), self.p(b));
        let ta = self.t(a).map(|da| self.em.push(make(da, pb), ty.clone()));
        let tb = self.t(b).map(|db| self.em.push(make(pa, db), ty.clone()));
        self.em.add_opt(ta, tb)
    }

    fn tangent_reduce(
        &mut self,
        op: ReduceOp,
        a: ValueId,
        da: ValueId,
        y: ValueId,
    ) -> Result<ValueId, AdError> {
        let pa = self.p(a);
        let shape = self.em.shape(a)?;
        match op {
            ReduceOp::Sum | ReduceOp::Mean => self.em.reduce(op, da),
            ReduceOp::Max | ReduceOp::Min => {
                // The mean of the tangents at the elements equal to the extremum.
                let m = self.em.broadcast(y, &shape)?;
                let c = self.em.compare(CmpOp::Eq, pa, m)?;
                let sel = self.em.select_or_zero(c, da)?;
                let num = self.em.reduce(ReduceOp::Sum, sel)?;
                let dtype = self.em.ty(a)?.dtype;
                let ind = self.em.indicator(c, dtype)?;
                let cnt = self.em.reduce(ReduceOp::Sum, ind)?;
                self.em.div(num, cnt)
            }
            ReduceOp::Prod => {
                let (nonzero, count) = product_terms(&mut self.em, pa)?;
                let pn = self.em.reduce(ReduceOp::Prod, nonzero)?;
                let nz = self.em.reduce(ReduceOp::Sum, count)?;
                let pn = self.em.broadcast(pn, &shape)?;
                let nz = self.em.broadcast(nz, &shape)?;
                let others = product_of_others(&mut self.em, pa, pn, nz)?;
                let terms = self.em.mul(da, others)?;
                self.em.reduce(ReduceOp::Sum, terms)
            }
        }
    }

    /// Emits a loop (`tabulate`, or `fold` with `op`) over a copy of `body`; `tangents`
    /// also differentiates the copy. `finish` gets the copy's result and its tangent and
    /// returns what the loop yields.
    pub fn loop_block(
        &mut self,
        kind: LoopKind,
        body: &Block,
        tangents: bool,
        finish: impl FnOnce(&mut Self, ValueId, Option<ValueId>) -> Result<ValueId, AdError>,
    ) -> Result<ValueId, AdError> {
        let args = self.em.begin_like(&body.args)?;
        self.push_layer()?;
        for (a, n) in body.args.iter().zip(&args) {
            self.set_p(*a, *n);
        }
        let inner = (|| {
            for &b in &body.body {
                self.clone_value(b)?;
                if tangents {
                    self.tangent(b)?;
                }
            }
            let rp = self.p(body.result);
            let rt = self.t(body.result);
            finish(self, rp, rt)
        })();
        self.pop_layer();
        let out = inner?;
        let out_ty = plain(&self.em.ty(out)?);
        let block = self.em.end(args, out)?;
        Ok(match kind {
            LoopKind::Tabulate(extents) => {
                let mut shape = extents.clone();
                shape.extend(out_ty.shape.iter().copied());
                self.em.push(
                    Op::Tabulate {
                        extents,
                        body: block,
                    },
                    Type::tensor(out_ty.dtype, shape),
                )
            }
            LoopKind::Fold(op, extent) => self.em.push(
                Op::Fold {
                    op,
                    extent,
                    body: block,
                },
                out_ty,
            ),
        })
    }

    /// [`Cx::loop_block`] as a `tabulate` over `extents`.
    pub fn loop_tabulate(
        &mut self,
        extents: &[usize],
        body: &Block,
        tangents: bool,
        finish: impl FnOnce(&mut Self, ValueId, Option<ValueId>) -> Result<ValueId, AdError>,
    ) -> Result<ValueId, AdError> {
        self.loop_block(LoopKind::Tabulate(extents.to_vec()), body, tangents, finish)
    }

    fn tangent_fold(
        &mut self,
        op: ReduceOp,
        extent: usize,
        body: &Block,
        y: ValueId,
    ) -> Result<ValueId, AdError> {
        let fold = |op| LoopKind::Fold(op, extent);
        match op {
            ReduceOp::Sum | ReduceOp::Mean => {
                self.loop_block(fold(op), body, true, |cx, r, dr| match dr {
                    Some(d) => Ok(d),
                    None => cx.em.full_like(0.0, r),
                })
            }
            ReduceOp::Max | ReduceOp::Min => {
                let cnt = self.loop_block(fold(ReduceOp::Sum), body, false, |cx, r, _| {
                    let c = cx.em.compare(CmpOp::Eq, r, y)?;
                    let dtype = cx.em.ty(r)?.dtype;
                    cx.em.indicator(c, dtype)
                })?;
                let num = self.loop_block(fold(ReduceOp::Sum), body, true, |cx, r, dr| {
                    let dr = match dr {
                        Some(d) => d,
                        None => cx.em.full_like(0.0, r)?,
                    };
                    let c = cx.em.compare(CmpOp::Eq, r, y)?;
                    cx.em.select_or_zero(c, dr)
                })?;
                self.em.div(num, cnt)
            }
            ReduceOp::Prod => {
                let pn = self.loop_block(fold(ReduceOp::Prod), body, false, |cx, r, _| {
                    Ok(product_terms(&mut cx.em, r)?.0)
                })?;
                let nz = self.loop_block(fold(ReduceOp::Sum), body, false, |cx, r, _| {
                    Ok(product_terms(&mut cx.em, r)?.1)
                })?;
                self.loop_block(fold(ReduceOp::Sum), body, true, |cx, r, dr| {
                    let dr = match dr {
                        Some(d) => d,
                        None => cx.em.full_like(0.0, r)?,
                    };
                    let others = product_of_others(&mut cx.em, r, pn, nz)?;
                    cx.em.mul(dr, others)
                })
            }
        }
    }

    fn tangent_map(
        &mut self,
        inputs: &[ValueId],
        body: &Block,
        ty: &Type,
    ) -> Result<Option<ValueId>, AdError> {
        let with_tangent: Vec<(usize, ValueId)> = inputs
            .iter()
            .enumerate()
            .filter_map(|(k, i)| self.t(*i).map(|t| (k, t)))
            .collect();
        if with_tangent.is_empty() && !self.block_has_tangent(body)? {
            return Ok(None);
        }
        let mut new_inputs: Vec<ValueId> = inputs.iter().map(|i| self.p(*i)).collect();
        let mut arg_types = Vec::new();
        for &a in &body.args {
            arg_types.push(self.em.ty(a)?);
        }
        for &(k, t) in &with_tangent {
            new_inputs.push(t);
            let a = *body
                .args
                .get(k)
                .ok_or_else(|| AdError::internal("a map has fewer arguments than inputs"))?;
            arg_types.push(plain(&self.em.ty(a)?));
        }
        let args = self.em.begin(&arg_types);
        self.push_layer()?;
        for (a, n) in body.args.iter().zip(&args) {
            self.set_p(*a, *n);
        }
        for (j, &(k, _)) in with_tangent.iter().enumerate() {
            if let (Some(a), Some(n)) = (body.args.get(k), args.get(body.args.len() + j)) {
                self.set_t(*a, *n);
            }
        }
        let inner = (|| {
            for &b in &body.body {
                self.clone_value(b)?;
                self.tangent(b)?;
            }
            self.t_or_zero(body.result)
        })();
        self.pop_layer();
        let out = inner?;
        let block = self.em.end(args, out)?;
        Ok(Some(self.em.push(
            Op::Map {
                inputs: new_inputs,
                body: block,
            },
            ty.clone(),
        )))
    }

    /// Emits `map inputs (points) { f(points) }`; the result is batched.
    pub fn map_points(
        &mut self,
        inputs: &[ValueId],
        f: impl FnOnce(&mut Self, &[ValueId]) -> Result<ValueId, AdError>,
    ) -> Result<ValueId, AdError> {
        let mut tys = Vec::with_capacity(inputs.len());
        for &i in inputs {
            tys.push(plain(&self.em.ty(i)?.per_point()));
        }
        let args = self.em.begin(&tys);
        let out = f(self, &args)?;
        let out_ty = plain(&self.em.ty(out)?).batched();
        let block = self.em.end(args, out)?;
        Ok(self.em.push(
            Op::Map {
                inputs: inputs.to_vec(),
                body: block,
            },
            out_ty,
        ))
    }

    /// `reduce_batch op` of a batched value.
    pub fn reduce_batch(&mut self, op: ReduceOp, a: ValueId) -> Result<ValueId, AdError> {
        let ty = plain(&self.em.ty(a)?.per_point());
        Ok(self.em.push(Op::ReduceBatch(op, a), ty))
    }

    fn tangent_reduce_batch(
        &mut self,
        op: ReduceOp,
        a: ValueId,
        da: ValueId,
        y: ValueId,
        ty: &Type,
    ) -> Result<ValueId, AdError> {
        let pa = self.p(a);
        match op {
            ReduceOp::Sum | ReduceOp::Mean => Ok(self.em.push(Op::ReduceBatch(op, da), ty.clone())),
            ReduceOp::Max | ReduceOp::Min => {
                let sel = self.map_points(&[pa, da], |cx, p| {
                    let (x, dx) = two(p)?;
                    let c = cx.em.compare(CmpOp::Eq, x, y)?;
                    cx.em.select_or_zero(c, dx)
                })?;
                let num = self.reduce_batch(ReduceOp::Sum, sel)?;
                let ind = self.map_points(&[pa], |cx, p| {
                    let x = one(p)?;
                    let c = cx.em.compare(CmpOp::Eq, x, y)?;
                    let dtype = cx.em.ty(x)?.dtype;
                    cx.em.indicator(c, dtype)
                })?;
                let cnt = self.reduce_batch(ReduceOp::Sum, ind)?;
                self.em.div(num, cnt)
            }
            ReduceOp::Prod => {
                let (pn, nz) = self.batch_product_parts(pa)?;
                let terms = self.map_points(&[pa, da], |cx, p| {
                    let (x, dx) = two(p)?;
                    let others = product_of_others(&mut cx.em, x, pn, nz)?;
                    cx.em.mul(dx, others)
                })?;
                self.reduce_batch(ReduceOp::Sum, terms)
            }
        }
    }

    /// The product of the non-zero points and the number of zero points of a batch.
    pub fn batch_product_parts(&mut self, pa: ValueId) -> Result<(ValueId, ValueId), AdError> {
        let nonzero = self.map_points(&[pa], |cx, p| Ok(product_terms(&mut cx.em, one(p)?)?.0))?;
        let pn = self.reduce_batch(ReduceOp::Prod, nonzero)?;
        let count = self.map_points(&[pa], |cx, p| Ok(product_terms(&mut cx.em, one(p)?)?.1))?;
        let nz = self.reduce_batch(ReduceOp::Sum, count)?;
        Ok((pn, nz))
    }

    fn tangent_call(
        &mut self,
        func: sci_ir::FuncId,
        args: &[ValueId],
    ) -> Result<Option<ValueId>, AdError> {
        let actual: Vec<ValueId> = args.iter().map(|a| self.p(*a)).collect();
        let (top, result) = self.import_call(func, &actual)?;
        self.push_layer()?;
        for (a, x) in args.iter().zip(&actual) {
            if let Some(t) = self.t(*a) {
                self.set_t(*x, t);
            }
        }
        let inner = (|| {
            for &v in &top {
                self.tangent(v)?;
            }
            Ok(self.t(result))
        })();
        self.pop_layer();
        inner
    }
}

/// The kind of loop [`Cx::loop_block`] emits.
#[derive(Clone, Debug)]
pub enum LoopKind {
    Tabulate(Vec<usize>),
    Fold(ReduceOp, usize),
}

/// The one argument of a `map` body.
pub(crate) fn one(p: &[ValueId]) -> Result<ValueId, AdError> {
    p.first()
        .copied()
        .ok_or_else(|| AdError::internal("a map body has no argument"))
}

/// The two arguments of a `map` body.
pub(crate) fn two(p: &[ValueId]) -> Result<(ValueId, ValueId), AdError> {
    match p {
        [x, y, ..] => Ok((*x, *y)),
        _ => Err(AdError::internal("a map body has too few arguments")),
    }
}
