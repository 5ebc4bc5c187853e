//! Reverse mode: the adjoint rule of every op.
//!
//! [`Cx::backprop`] walks source values in reverse and pushes each value's cotangent to
//! the values it reads, accumulating with `add`; only *active* values (floats that depend
//! on the variables being differentiated) receive cotangents.
//!
//! Tensor ops have their textbook adjoints: `broadcast` sums over the broadcast axes,
//! `index` scatters (a `tabulate` that is the cotangent at the indexed place and zero
//! elsewhere: the IR has no scatter op), `slice` pads with zeros, `concat` slices. Loops are
//! reversed by recomputing their body: the adjoint of a `tabulate` or `fold` is a `fold`
//! sum over the same range whose body recomputes one iteration, runs its reverse sweep and
//! yields the cotangents of everything the body reads from outside, packed into one vector.
//! The adjoint of a `map` is a `map` of per-point reverse sweeps: cotangents of batched
//! inputs stay batched, cotangents of outer values are summed with `reduce_batch`.

use super::AdError;
use super::cx::Cx;
use super::emit::plain;
use super::forward::{LoopKind, one};
use super::graph::free_values;
use super::rules::{self, product_of_others, product_terms};
use sci_ir::{Block, CmpOp, FuncId, Op, ReduceOp, Type, ValueId};
use std::collections::HashMap;

/// Cotangents of source values.
pub(crate) type Adj = HashMap<ValueId, ValueId>;

impl Cx<'_, '_> {
    /// Adds `ct` to the cotangent of `target` (ignored when `target` is not active).
    pub fn accumulate(
        &mut self,
        adj: &mut Adj,
        target: ValueId,
        ct: ValueId,
    ) -> Result<(), AdError> {
        if !self.active.contains(&target) {
            return Ok(());
        }
        let new = match adj.get(&target) {
            Some(&old) => self.em.add(old, ct)?,
            None => ct,
        };
        adj.insert(target, new);
        Ok(())
    }

    /// The reverse sweep over `body` (source values, in definition order). On return `adj`
    /// holds the whole cotangent of every value the body reads.
    pub fn backprop(&mut self, body: &[ValueId], adj: &mut Adj) -> Result<(), AdError> {
        let outer = std::mem::take(&mut self.slices);
        for &v in body.iter().rev() {
            // Every use of `v` comes after it: its slices' cotangents are all known.
            self.flush_slices(v, adj)?;
            if let Some(&ct) = adj.get(&v) {
                self.adjoint(v, ct, adj)?;
            }
        }
        // Arrays defined outside the body (arguments, enclosing blocks' values).
        let rest: Vec<ValueId> = self.slices.keys().copied().collect();
        for v in rest {
            self.flush_slices(v, adj)?;
        }
        self.slices = outer;
        Ok(())
    }

    /// Adds the cotangents of `array`'s slices to its cotangent: one concatenation of them
    /// and zeros when they do not overlap (a network's weight blocks), else each padded.
    fn flush_slices(&mut self, array: ValueId, adj: &mut Adj) -> Result<(), AdError> {
        let Some(mut segments) = self.slices.remove(&array) else {
            return Ok(());
        };
        let aty = plain(&self.em.ty(array)?);
        segments.sort_by_key(|&(start, _, _)| start);
        let disjoint = segments.windows(2).all(|w| w[0].0 + w[0].1 <= w[1].0);
        if !disjoint || segments.len() == 1 {
            for (start, len, ct) in segments {
                let x = self.pad(ct, &aty, start, len)?;
                self.accumulate(adj, array, x)?;
            }
            return Ok(());
        }
        let total = aty.shape.first().copied().unwrap_or(0);
        let tail: Vec<usize> = aty.shape.iter().skip(1).copied().collect();
        let mut parts = Vec::with_capacity(2 * segments.len() + 1);
        let mut at = 0usize;
        for (start, len, ct) in segments {
            if start > at {
                let mut shape = vec![start - at];
                shape.extend(tail.iter().copied());
                parts.push(self.em.full(0.0, &Type::tensor(aty.dtype, shape))?);
            }
            parts.push(ct);
            at = start + len;
        }
        if total > at {
            let mut shape = vec![total - at];
            shape.extend(tail.iter().copied());
            parts.push(self.em.full(0.0, &Type::tensor(aty.dtype, shape))?);
        }
        let x = self.em.push(Op::Concat(parts), aty);
        self.accumulate(adj, array, x)
    }

    fn adjoint(&mut self, src: ValueId, ct: ValueId, adj: &mut Adj) -> Result<(), AdError> {
        let v = self.src(src)?;
        if !v.ty.dtype.is_float() {
            return Ok(());
        }
        let y = self.p(src);
        match &v.op {
            Op::Arg(_) | Op::Const(_) | Op::Literal(_) | Op::Compare(..) => {}
            Op::Unary(op, a) => {
                if self.active.contains(a) {
                    let pa = self.p(*a);
                    if let Some(f) = rules::unary(&mut self.em, *op, pa, y)? {
                        let c = f.apply(&mut self.em, ct)?;
                        self.accumulate(adj, *a, c)?;
                    }
                }
            }
            Op::Binary(op, a, b) => {
                let (wa, wb) = (self.active.contains(a), self.active.contains(b));
                let (pa, pb) = (self.p(*a), self.p(*b));
                let (fa, fb) = rules::binary(&mut self.em, *op, pa, pb, y, wa, wb)?;
                if let Some(f) = fa {
                    let c = f.apply(&mut self.em, ct)?;
                    self.accumulate(adj, *a, c)?;
                }
                if let Some(f) = fb {
                    let c = f.apply(&mut self.em, ct)?;
                    self.accumulate(adj, *b, c)?;
                }
            }
            Op::Powi(a, n) => {
                if self.active.contains(a) {
                    let pa = self.p(*a);
                    if let Some(f) = rules::powi(&mut self.em, pa, *n)? {
                        let c = f.apply(&mut self.em, ct)?;
                        self.accumulate(adj, *a, c)?;
                    }
                }
            }
            Op::Select(c, a, b) => {
                let pc = self.p(*c);
                if self.active.contains(a) {
                    let x = self.em.select_or_zero(pc, ct)?;
                    self.accumulate(adj, *a, x)?;
                }
                if self.active.contains(b) {
                    let x = self.em.zero_or_select(pc, ct)?;
                    self.accumulate(adj, *b, x)?;
                }
            }
            Op::Cast(a) => {
                if self.active.contains(a) {
                    let dtype = self.em.ty(*a)?.dtype;
                    let x = self.em.cast(ct, dtype)?;
                    self.accumulate(adj, *a, x)?;
                }
            }
            Op::Broadcast(a) => {
                if self.active.contains(a) {
                    let from = self.em.shape(*a)?;
                    let x = self.unbroadcast(ct, &from)?;
                    self.accumulate(adj, *a, x)?;
                }
            }
            Op::Index { array, indices, .. } => {
                if self.active.contains(array) {
                    let indices: Vec<ValueId> = indices.iter().map(|i| self.p(*i)).collect();
                    let aty = plain(&self.em.ty(*array)?);
                    let x = self.scatter(ct, &aty, &indices)?;
                    self.accumulate(adj, *array, x)?;
                }
            }
            Op::Slice { array, start, len } => {
                if self.active.contains(array) {
                    self.slices
                        .entry(*array)
                        .or_default()
                        .push((*start, *len, ct));
                }
            }
            Op::Concat(parts) => {
                let mut offset = 0usize;
                for p in parts {
                    let pty = plain(&self.em.ty(*p)?);
                    let len = pty.shape.first().copied().unwrap_or(1);
                    if self.active.contains(p) {
                        let mut shape = self.em.shape(ct)?;
                        if let Some(first) = shape.first_mut() {
                            *first = len;
                        }
                        let s = self.em.push(
                            Op::Slice {
                                array: ct,
                                start: offset,
                                len,
                            },
                            Type::tensor(pty.dtype, shape),
                        );
                        let x = self.em.reshape(s, &pty.shape)?;
                        self.accumulate(adj, *p, x)?;
                    }
                    offset += len;
                }
            }
            Op::Reshape(a) => {
                if self.active.contains(a) {
                    let shape = self.em.shape(*a)?;
                    let x = self.em.reshape(ct, &shape)?;
                    self.accumulate(adj, *a, x)?;
                }
            }
            Op::Transpose(a) => {
                if self.active.contains(a) {
                    let aty = plain(&self.em.ty(*a)?);
                    let x = self.em.push(Op::Transpose(ct), aty);
                    self.accumulate(adj, *a, x)?;
                }
            }
            // The adjoint of a real DFT is the inverse DFT with the inverse's weights undone,
            // and the other way round (see `sci_ir::spectral`): one transform each.
            Op::Rfft { signal, modes } => {
                if self.active.contains(signal) {
                    let aty = plain(&self.em.ty(*signal)?);
                    let n = aty.shape.last().copied().unwrap_or(1);
                    let weights = (0..*modes)
                        .map(|k| 1.0 / sci_ir::spectral::inverse_weight(k, n))
                        .collect();
                    let w = self.weighted(ct, weights)?;
                    let x = self.em.push(Op::Irfft { spectrum: w, n }, aty);
                    self.accumulate(adj, *signal, x)?;
                }
            }
            Op::Irfft { spectrum, n } => {
                if self.active.contains(spectrum) {
                    let aty = plain(&self.em.ty(*spectrum)?);
                    let m = aty.shape.last().copied().unwrap_or(1);
                    let x = self.em.push(
                        Op::Rfft {
                            signal: ct,
                            modes: m,
                        },
                        aty,
                    );
                    let weights = (0..m)
                        .map(|k| sci_ir::spectral::inverse_weight(k, *n))
                        .collect();
                    let x = self.weighted(x, weights)?;
                    self.accumulate(adj, *spectrum, x)?;
                }
            }
            // The same in two dimensions: the inverse's weights depend on the last axis's
            // frequency only (`sci_ir::spectral::irfft2`).
            Op::Rfft2 { signal, modes } => {
                if self.active.contains(signal) {
                    let aty = plain(&self.em.ty(*signal)?);
                    let n = match aty.shape[..] {
                        [.., n1, n2] => [n1, n2],
                        _ => return Err(AdError::internal("rfft2 of a non-matrix")),
                    };
                    let weights = (0..modes[1])
                        .map(|k| n[0] as f64 / sci_ir::spectral::inverse_weight(k, n[1]))
                        .collect();
                    let w = self.weighted(ct, weights)?;
                    let x = self.em.push(Op::Irfft2 { spectrum: w, n }, aty);
                    self.accumulate(adj, *signal, x)?;
                }
            }
            Op::Irfft2 { spectrum, n } => {
                if self.active.contains(spectrum) {
                    let aty = plain(&self.em.ty(*spectrum)?);
                    let (rows, m2) = match aty.shape[..] {
                        [.., rows, m2] => (rows, m2),
                        _ => return Err(AdError::internal("irfft2 of a non-matrix")),
                    };
                    let x = self.em.push(
                        Op::Rfft2 {
                            signal: ct,
                            modes: [rows / 2, m2],
                        },
                        aty,
                    );
                    let weights = (0..m2)
                        .map(|k| sci_ir::spectral::inverse_weight(k, n[1]) / n[0] as f64)
                        .collect();
                    let x = self.weighted(x, weights)?;
                    self.accumulate(adj, *spectrum, x)?;
                }
            }
            Op::Dot(a, b) => {
                let (pa, pb) = (self.p(*a), self.p(*b));
                for (target, other) in [(*a, pb), (*b, pa)] {
                    if self.active.contains(&target) {
                        let shape = self.em.shape(target)?;
                        let c = self.em.broadcast(ct, &shape)?;
                        let x = self.em.mul(c, other)?;
                        self.accumulate(adj, target, x)?;
                    }
                }
            }
            Op::MatVec(m, x) => {
                let (pm, px) = (self.p(*m), self.p(*x));
                let mty = plain(&self.em.ty(*m)?);
                let (rows, cols) = match mty.shape.as_slice() {
                    [r, c] => (*r, *c),
                    _ => return Err(AdError::internal("matvec of a non-matrix")),
                };
                if self.active.contains(m) {
                    // outer(ct, x) as matmul([m,1], [1,n])
                    let c = self.em.reshape(ct, &[rows, 1])?;
                    let r = self.em.reshape(px, &[1, cols])?;
                    let o = self.em.push(Op::MatMul(c, r), mty.clone());
                    self.accumulate(adj, *m, o)?;
                }
                if self.active.contains(x) {
                    let t = self
                        .em
                        .push(Op::Transpose(pm), Type::tensor(mty.dtype, vec![cols, rows]));
                    let o = self
                        .em
                        .push(Op::MatVec(t, ct), Type::tensor(mty.dtype, vec![cols]));
                    self.accumulate(adj, *x, o)?;
                }
            }
            Op::MatMul(a, b) => {
                let (pa, pb) = (self.p(*a), self.p(*b));
                let aty = plain(&self.em.ty(*a)?);
                let bty = plain(&self.em.ty(*b)?);
                if self.active.contains(a) {
                    let bt = self.transposed(pb)?;
                    let o = self.em.push(Op::MatMul(ct, bt), aty);
                    self.accumulate(adj, *a, o)?;
                }
                if self.active.contains(b) {
                    let at = self.transposed(pa)?;
                    let o = self.em.push(Op::MatMul(at, ct), bty);
                    self.accumulate(adj, *b, o)?;
                }
            }
            Op::Reduce(op, a) => {
                if self.active.contains(a) {
                    let x = self.adjoint_reduce(*op, *a, ct, y)?;
                    self.accumulate(adj, *a, x)?;
                }
            }
            Op::Tabulate { extents, body } => {
                self.adjoint_tabulate(extents, body, ct, adj)?;
            }
            Op::Fold { op, extent, body } => {
                self.adjoint_fold(*op, *extent, body, ct, y, adj)?;
            }
            Op::Map { inputs, body } => {
                self.adjoint_map(inputs, body, ct, adj)?;
            }
            Op::ReduceBatch(op, a) => {
                if self.active.contains(a) {
                    let x = self.adjoint_reduce_batch(*op, *a, ct, y)?;
                    self.accumulate(adj, *a, x)?;
                }
            }
            Op::Call { func, args } => self.adjoint_call(*func, args, ct, adj)?,
            Op::Deriv { .. } => return Err(AdError::unexpanded()),
            Op::TileMap { .. } => return Err(AdError::tiled()),
        }
        Ok(())
    }

    /// `x` times `weights` along its last axis (one weight per element of that axis).
    fn weighted(&mut self, x: ValueId, weights: Vec<f64>) -> Result<ValueId, AdError> {
        let ty = plain(&self.em.ty(x)?);
        let w = self.em.push(
            Op::Literal(weights.clone()),
            Type::tensor(ty.dtype, vec![weights.len()]),
        );
        let w = self.em.broadcast(w, &ty.shape)?;
        self.em.mul(x, w)
    }

    fn transposed(&mut self, m: ValueId) -> Result<ValueId, AdError> {
        let ty = plain(&self.em.ty(m)?);
        // The last two axes swap; leading axes (a batch of matrices) stay.
        let shape = match ty.shape.as_slice() {
            [batch @ .., r, c] => {
                let mut shape = batch.to_vec();
                shape.extend([*c, *r]);
                shape
            }
            _ => return Err(AdError::internal("transpose of a non-matrix")),
        };
        Ok(self
            .em
            .push(Op::Transpose(m), Type::tensor(ty.dtype, shape)))
    }

    /// Sums `ct` over the axes that broadcasting `from` to `ct`'s shape added or stretched.
    fn unbroadcast(&mut self, ct: ValueId, from: &[usize]) -> Result<ValueId, AdError> {
        let to = self.em.shape(ct)?;
        if to == from {
            return Ok(ct);
        }
        if from.is_empty() {
            return self.em.reduce(ReduceOp::Sum, ct);
        }
        let lead = to.len().saturating_sub(from.len());
        let summed: Vec<usize> = (0..to.len())
            .filter(|&k| k < lead || (from.get(k - lead) == Some(&1) && to.get(k) != Some(&1)))
            .collect();
        let summed_extents: Vec<usize> =
            summed.iter().filter_map(|&k| to.get(k).copied()).collect();
        let dtype = self.em.ty(ct)?.dtype;
        self.tabulate_with(from, |cx, js| {
            cx.nested_folds(&summed_extents, |cx, is| {
                let mut idx = Vec::with_capacity(to.len());
                for k in 0..to.len() {
                    let i = match summed.iter().position(|&s| s == k) {
                        Some(p) => is.get(p).copied(),
                        None => js.get(k - lead).copied(),
                    };
                    idx.push(i.ok_or_else(|| AdError::internal("broadcast axes"))?);
                }
                Ok(cx.em.push(
                    Op::Index {
                        array: ct,
                        indices: idx,
                        fill: None,
                    },
                    Type::tensor(dtype, Vec::new()),
                ))
            })
        })
    }

    /// The cotangent of an array read at `indices`: `ct` at that place, zero elsewhere.
    fn scatter(
        &mut self,
        ct: ValueId,
        aty: &Type,
        indices: &[ValueId],
    ) -> Result<ValueId, AdError> {
        let k = indices.len();
        let lead: Vec<usize> = aty.shape.iter().take(k).copied().collect();
        let tail: Vec<usize> = aty.shape.iter().skip(k).copied().collect();
        self.tabulate_with(&lead, |cx, js| {
            let mut cond: Option<ValueId> = None;
            for (j, i) in js.iter().zip(indices) {
                let e = cx.em.compare(CmpOp::Eq, *j, *i)?;
                cond = Some(match cond {
                    None => e,
                    Some(c) => cx.em.binary(sci_ir::BinaryOp::And, c, e)?,
                });
            }
            let cond = cond.ok_or_else(|| AdError::internal("index without indices"))?;
            let cond = if tail.is_empty() {
                cond
            } else {
                cx.em.push(Op::Broadcast(cond), Type::boolean(tail.clone()))
            };
            cx.em.select_or_zero(cond, ct)
        })
    }

    /// The cotangent of an array sliced at `start..start+len`: `ct` padded with zeros.
    fn pad(
        &mut self,
        ct: ValueId,
        aty: &Type,
        start: usize,
        len: usize,
    ) -> Result<ValueId, AdError> {
        let total = aty.shape.first().copied().unwrap_or(0);
        let tail: Vec<usize> = aty.shape.iter().skip(1).copied().collect();
        let mut parts = Vec::new();
        let zeros = |cx: &mut Self, n: usize| {
            let mut shape = vec![n];
            shape.extend(tail.iter().copied());
            cx.em.full(0.0, &Type::tensor(aty.dtype, shape))
        };
        if start > 0 {
            parts.push(zeros(self, start)?);
        }
        parts.push(ct);
        let after = total.saturating_sub(start + len);
        if after > 0 {
            parts.push(zeros(self, after)?);
        }
        if parts.len() == 1 {
            return Ok(ct);
        }
        Ok(self.em.push(Op::Concat(parts), aty.clone()))
    }

    fn adjoint_reduce(
        &mut self,
        op: ReduceOp,
        a: ValueId,
        ct: ValueId,
        y: ValueId,
    ) -> Result<ValueId, AdError> {
        let pa = self.p(a);
        let aty = plain(&self.em.ty(a)?);
        let shape = aty.shape.clone();
        match op {
            ReduceOp::Sum => self.em.broadcast(ct, &shape),
            ReduceOp::Mean => {
                let n = aty.element_count().unwrap_or(1) as f64;
                let c = self.em.scale(ct, 1.0 / n)?;
                self.em.broadcast(c, &shape)
            }
            ReduceOp::Max | ReduceOp::Min => {
                let m = self.em.broadcast(y, &shape)?;
                let c = self.em.compare(CmpOp::Eq, pa, m)?;
                let ind = self.em.indicator(c, aty.dtype)?;
                let cnt = self.em.reduce(ReduceOp::Sum, ind)?;
                let q = self.em.div(ct, cnt)?;
                let q = self.em.broadcast(q, &shape)?;
                self.em.select_or_zero(c, q)
            }
            ReduceOp::Prod => {
                let (nonzero, count) = product_terms(&mut self.em, pa)?;
                let pn = self.em.reduce(ReduceOp::Prod, nonzero)?;
                let nz = self.em.reduce(ReduceOp::Sum, count)?;
                let pn = self.em.broadcast(pn, &shape)?;
                let nz = self.em.broadcast(nz, &shape)?;
                let others = product_of_others(&mut self.em, pa, pn, nz)?;
                let c = self.em.broadcast(ct, &shape)?;
                self.em.mul(c, others)
            }
        }
    }

    /// Emits `tabulate extents (js) { f(js) }` (just `f()` for no extents).
    pub fn tabulate_with(
        &mut self,
        extents: &[usize],
        f: impl FnOnce(&mut Self, &[ValueId]) -> Result<ValueId, AdError>,
    ) -> Result<ValueId, AdError> {
        if extents.is_empty() {
            return f(self, &[]);
        }
        let tys = vec![Type::index(); extents.len()];
        let args = self.em.begin(&tys);
        let out = f(self, &args)?;
        let out_ty = plain(&self.em.ty(out)?);
        let block = self.em.end(args, out)?;
        let mut shape = extents.to_vec();
        shape.extend(out_ty.shape.iter().copied());
        Ok(self.em.push(
            Op::Tabulate {
                extents: extents.to_vec(),
                body: block,
            },
            Type::tensor(out_ty.dtype, shape),
        ))
    }

    /// Emits nested `fold sum` loops over `extents` around `f(indices)` (just `f()` for
    /// no extents).
    pub fn nested_folds(
        &mut self,
        extents: &[usize],
        f: impl FnOnce(&mut Self, &[ValueId]) -> Result<ValueId, AdError>,
    ) -> Result<ValueId, AdError> {
        let mut indices = Vec::with_capacity(extents.len());
        let mut opened = Vec::with_capacity(extents.len());
        for _ in extents {
            let args = self.em.begin(&[Type::index()]);
            indices.extend(args.iter().copied());
            opened.push(args);
        }
        let mut out = f(self, &indices)?;
        for (args, &extent) in opened.into_iter().zip(extents).rev() {
            let ty = plain(&self.em.ty(out)?);
            let block = self.em.end(args, out)?;
            out = self.em.push(
                Op::Fold {
                    op: ReduceOp::Sum,
                    extent,
                    body: block,
                },
                ty,
            );
        }
        Ok(out)
    }

    /// Inside a loop whose indices are `indices` (mapped to `body`'s arguments), recomputes
    /// `body`, seeds its result with `seed(result)`, runs the reverse sweep and packs the
    /// cotangents of `extra`, `free` and `reads` (values of the body) into one vector.
    pub(crate) fn body_sweep(
        &mut self,
        body: &Block,
        indices: &[ValueId],
        free: &[ValueId],
        extra: &[ValueId],
        reads: &[ValueId],
        seed: impl FnOnce(&mut Self, ValueId) -> Result<ValueId, AdError>,
    ) -> Result<ValueId, AdError> {
        self.push_layer()?;
        for (a, n) in body.args.iter().zip(indices) {
            self.set_p(*a, *n);
        }
        let out = (|| {
            self.clone_body(&body.body)?;
            let r = self.p(body.result);
            let s = seed(self, r)?;
            let mut local = Adj::new();
            self.accumulate(&mut local, body.result, s)?;
            self.backprop(&body.body, &mut local)?;
            let mut parts = Vec::with_capacity(extra.len() + free.len() + reads.len());
            for v in extra.iter().chain(free).chain(reads) {
                let part = match local.get(v) {
                    Some(&c) => c,
                    None => {
                        let ty = plain(&self.em.ty(*v)?);
                        self.em.full(
                            0.0,
                            &Type {
                                batched: false,
                                ..ty
                            },
                        )?
                    }
                };
                parts.push(part);
            }
            self.em.pack(&parts)
        })();
        self.pop_layer();
        out
    }

    /// Adds the cotangents packed in `packed` (one vector, unbatched) to `free`'s.
    pub(crate) fn unpack_into(
        &mut self,
        packed: ValueId,
        mut offset: usize,
        free: &[ValueId],
        adj: &mut Adj,
    ) -> Result<(), AdError> {
        for &f in free {
            let ty = plain(&self.em.ty(f)?);
            let x = self.em.unpack(packed, offset, &ty)?;
            offset += ty.element_count().unwrap_or(0);
            self.accumulate(adj, f, x)?;
        }
        Ok(())
    }

    pub(crate) fn active_free(&self, body: &Block) -> Result<Vec<ValueId>, AdError> {
        Ok(free_values(self.em.values, body)?
            .into_iter()
            .filter(|v| self.active.contains(v))
            .collect())
    }

    fn adjoint_tabulate(
        &mut self,
        extents: &[usize],
        body: &Block,
        ct: ValueId,
        adj: &mut Adj,
    ) -> Result<(), AdError> {
        let rty = plain(&self.em.ty(body.result)?);
        self.loop_adjoint(extents, body, adj, |cx, is, _| {
            Ok(cx.em.push(
                Op::Index {
                    array: ct,
                    indices: is.to_vec(),
                    fill: None,
                },
                rty.clone(),
            ))
        })
    }

    fn adjoint_fold(
        &mut self,
        op: ReduceOp,
        extent: usize,
        body: &Block,
        ct: ValueId,
        y: ValueId,
        adj: &mut Adj,
    ) -> Result<(), AdError> {
        if self.active_free(body)?.is_empty() {
            return Ok(());
        }
        match op {
            ReduceOp::Sum | ReduceOp::Mean => {
                let c = if op == ReduceOp::Mean {
                    self.em.scale(ct, 1.0 / extent.max(1) as f64)?
                } else {
                    ct
                };
                self.loop_adjoint(&[extent], body, adj, |_, _, _| Ok(c))
            }
            ReduceOp::Max | ReduceOp::Min => {
                let cnt = self.loop_block(
                    LoopKind::Fold(ReduceOp::Sum, extent),
                    body,
                    false,
                    |cx, r, _| {
                        let c = cx.em.compare(CmpOp::Eq, r, y)?;
                        let dtype = cx.em.ty(r)?.dtype;
                        cx.em.indicator(c, dtype)
                    },
                )?;
                let q = self.em.div(ct, cnt)?;
                self.loop_adjoint(&[extent], body, adj, |cx, _, r| {
                    let c = cx.em.compare(CmpOp::Eq, r, y)?;
                    cx.em.select_or_zero(c, q)
                })
            }
            ReduceOp::Prod => {
                let pn = self.loop_block(
                    LoopKind::Fold(ReduceOp::Prod, extent),
                    body,
                    false,
                    |cx, r, _| Ok(product_terms(&mut cx.em, r)?.0),
                )?;
                let nz = self.loop_block(
                    LoopKind::Fold(ReduceOp::Sum, extent),
                    body,
                    false,
                    |cx, r, _| Ok(product_terms(&mut cx.em, r)?.1),
                )?;
                self.loop_adjoint(&[extent], body, adj, |cx, _, r| {
                    let others = product_of_others(&mut cx.em, r, pn, nz)?;
                    cx.em.mul(ct, others)
                })
            }
        }
    }

    fn adjoint_map(
        &mut self,
        inputs: &[ValueId],
        body: &Block,
        ct: ValueId,
        adj: &mut Adj,
    ) -> Result<(), AdError> {
        let free = self.active_free(body)?;
        let act: Vec<(ValueId, ValueId)> = inputs
            .iter()
            .zip(&body.args)
            .filter(|(i, _)| self.active.contains(*i))
            .map(|(i, a)| (*i, *a))
            .collect();
        if free.is_empty() && act.is_empty() {
            return Ok(());
        }
        let mut map_inputs: Vec<ValueId> = inputs.iter().map(|i| self.p(*i)).collect();
        map_inputs.push(ct);
        let arg_sources: Vec<ValueId> = act.iter().map(|(_, a)| *a).collect();
        let packed = self.map_points(&map_inputs, |cx, points| {
            let (ct_point, args) = points
                .split_last()
                .ok_or_else(|| AdError::internal("map without arguments"))?;
            let ct_point = *ct_point;
            cx.body_sweep(body, args, &free, &arg_sources, &[], |_, _| Ok(ct_point))
        })?;
        let mut offset = 0usize;
        for (input, arg) in &act {
            let ty = plain(&self.em.ty(*arg)?);
            let off = offset;
            let x = self.map_points(&[packed], |cx, p| {
                let point = one(p)?;
                cx.em.unpack(point, off, &ty)
            })?;
            offset += ty.element_count().unwrap_or(0);
            self.accumulate(adj, *input, x)?;
        }
        if !free.is_empty() {
            let total = self.reduce_batch(ReduceOp::Sum, packed)?;
            self.unpack_into(total, offset, &free, adj)?;
        }
        Ok(())
    }

    fn adjoint_reduce_batch(
        &mut self,
        op: ReduceOp,
        a: ValueId,
        ct: ValueId,
        y: ValueId,
    ) -> Result<ValueId, AdError> {
        let pa = self.p(a);
        let cty = plain(&self.em.ty(ct)?);
        match op {
            ReduceOp::Sum => self.map_points(&[pa], |_, _| Ok(ct)),
            ReduceOp::Mean => {
                let ones = self.map_points(&[pa], |cx, _| {
                    cx.em.full(1.0, &Type::tensor(cty.dtype, Vec::new()))
                })?;
                let cnt = self.reduce_batch(ReduceOp::Sum, ones)?;
                let cnt = self.em.broadcast(cnt, &cty.shape)?;
                let q = self.em.div(ct, cnt)?;
                self.map_points(&[pa], |_, _| Ok(q))
            }
            ReduceOp::Max | ReduceOp::Min => {
                let ind = self.map_points(&[pa], |cx, p| {
                    let x = one(p)?;
                    let c = cx.em.compare(CmpOp::Eq, x, y)?;
                    cx.em.indicator(c, cty.dtype)
                })?;
                let cnt = self.reduce_batch(ReduceOp::Sum, ind)?;
                let q = self.em.div(ct, cnt)?;
                self.map_points(&[pa], |cx, p| {
                    let x = one(p)?;
                    let c = cx.em.compare(CmpOp::Eq, x, y)?;
                    cx.em.select_or_zero(c, q)
                })
            }
            ReduceOp::Prod => {
                let (pn, nz) = self.batch_product_parts(pa)?;
                self.map_points(&[pa], |cx, p| {
                    let x = one(p)?;
                    let others = product_of_others(&mut cx.em, x, pn, nz)?;
                    cx.em.mul(ct, others)
                })
            }
        }
    }

    fn adjoint_call(
        &mut self,
        func: FuncId,
        args: &[ValueId],
        ct: ValueId,
        adj: &mut Adj,
    ) -> Result<(), AdError> {
        if !args.iter().any(|a| self.active.contains(a)) {
            return Ok(());
        }
        let actual: Vec<ValueId> = args.iter().map(|a| self.p(*a)).collect();
        for (a, x) in args.iter().zip(&actual) {
            if self.active.contains(a) {
                self.active.insert(*x);
            }
        }
        // A layer only to bound the depth of calls within calls.
        self.push_layer()?;
        let swept = (|| {
            let (top, result) = self.import_call(func, &actual)?;
            self.mark_active(&top)?;
            let mut local = Adj::new();
            self.accumulate(&mut local, result, ct)?;
            self.backprop(&top, &mut local)?;
            Ok(local)
        })();
        self.pop_layer();
        let local = swept?;
        // Cotangents reached the values passed in; credit them to the source arguments
        // (once per distinct argument value).
        let mut seen = std::collections::HashSet::new();
        for (a, x) in args.iter().zip(&actual) {
            if !seen.insert(*x) {
                continue;
            }
            if let Some(&c) = local.get(x) {
                self.accumulate(adj, *a, c)?;
            }
        }
        Ok(())
    }
}
