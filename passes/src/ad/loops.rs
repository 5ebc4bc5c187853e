//! Reverse mode through `tabulate` and `fold`: one backward loop over the iterations.
//!
//! Each iteration recomputes the body, runs its reverse sweep and yields the cotangents of
//! the outer values the body reads. Summed over iterations, that is a vector per outer
//! value per iteration — quadratic work for the common pattern of a loop reading an outer
//! array at its own index (`u[i-1]`, `u[i]`, `u[i+1]`, `x[i+1] - x[i]²`), whose cotangent
//! in one iteration is zero but for one element.
//!
//! Such reads are therefore treated as *gathers*: an outer array every use of which in the
//! body is `a[i_{π(1)} + c_1, …, i_{π(r)} + c_r]` (one element: each axis indexed by a
//! distinct loop index plus a constant) gets no per-iteration cotangent. Instead the loop (a
//! `tabulate` over the iterations) records the cotangent of every such read, and the
//! cotangent of `a` is the transposed gather `ā[j] = Σ_reads Σ_u ct_read[j − c, u]` (zero
//! where `j − c` is outside the loop), summed over the loop indices `u` the read does not
//! use: a per-block parameter `A[a, b]` read in a loop over `[a, p, b, q]` sums over `p` and
//! `q`. Linear work either way. Everything else the body reads is packed and summed as
//! before.

use super::AdError;
use super::cx::Cx;
use super::emit::plain;
use super::graph::free_values;
use super::reverse::Adj;
use sci_ir::{BinaryOp, Block, DType, Op, Type, ValueId};
use std::collections::HashSet;

/// A read `array[i_{axes[m].0} + axes[m].1, …]` in a loop body.
struct Read {
    value: ValueId,
    array: ValueId,
    axes: Vec<(usize, i64)>,
}

impl Cx<'_, '_> {
    /// Emits the adjoint of a loop over `extents` (a `tabulate`, or a `fold` with one
    /// extent) with body `body`; `seed(indices, result)` is the cotangent of one
    /// iteration's result. Adds the cotangents of the outer values to `adj`.
    pub(crate) fn loop_adjoint(
        &mut self,
        extents: &[usize],
        body: &Block,
        adj: &mut Adj,
        seed: impl Fn(&mut Self, &[ValueId], ValueId) -> Result<ValueId, AdError>,
    ) -> Result<(), AdError> {
        let free = self.active_free(body)?;
        if free.is_empty() {
            return Ok(());
        }
        let (gathered, reads) = self.gathered_reads(body, &free)?;
        let rest: Vec<ValueId> = free
            .iter()
            .copied()
            .filter(|v| !gathered.contains(v))
            .collect();
        if reads.is_empty() {
            let packed = self.nested_folds(extents, |cx, is| {
                cx.body_sweep(body, is, &rest, &[], &[], |cx, r| seed(cx, is, r))
            })?;
            return self.unpack_into(packed, 0, &rest, adj);
        }
        // The gathered arrays get no cotangent inside the loop.
        for a in &gathered {
            self.active.remove(a);
        }
        let read_ids: Vec<ValueId> = reads.iter().map(|r| r.value).collect();
        let table = self.tabulate_with(extents, |cx, is| {
            cx.body_sweep(body, is, &rest, &[], &read_ids, |cx, r| seed(cx, is, r))
        });
        self.active.extend(gathered.iter().copied());
        let table = table?;
        let mut offset = 0usize;
        for &v in &rest {
            offset += self.em.ty(v)?.element_count().unwrap_or(0);
        }
        let width = offset + reads.len();
        if !rest.is_empty() {
            let total = self.nested_folds(extents, |cx, is| {
                Ok(cx.em.push(
                    Op::Index {
                        array: table,
                        indices: is.to_vec(),
                        fill: None,
                    },
                    Type::f64(vec![width]),
                ))
            })?;
            self.unpack_into(total, 0, &rest, adj)?;
        }
        for (j, read) in reads.iter().enumerate() {
            let k = self.em.scalar((offset + j) as f64, DType::I64);
            let ct_read = self.tabulate_with(extents, |cx, is| {
                let mut indices = is.to_vec();
                indices.push(k);
                Ok(cx.em.push(
                    Op::Index {
                        array: table,
                        indices,
                        fill: None,
                    },
                    Type::scalar(),
                ))
            })?;
            let aty = plain(&self.em.ty(read.array)?);
            let loops = extents.len();
            // The loop indices the read does not use: summed over.
            let unused: Vec<usize> = (0..loops)
                .filter(|k| read.axes.iter().all(|(used, _)| used != k))
                .collect();
            let unused_extents: Vec<usize> = unused.iter().map(|&k| extents[k]).collect();
            let back = self.tabulate_with(&aty.shape, |cx, js| {
                let mut indices = vec![None; loops];
                for (m, &(k, c)) in read.axes.iter().enumerate() {
                    let j = *js.get(m).ok_or_else(|| AdError::internal("gather axes"))?;
                    let i = if c == 0 {
                        j
                    } else {
                        let cc = cx.em.scalar(c as f64, DType::I64);
                        cx.em.push(Op::Binary(BinaryOp::Sub, j, cc), Type::index())
                    };
                    if let Some(slot) = indices.get_mut(k) {
                        *slot = Some(i);
                    }
                }
                let read_at = |cx: &mut Self, indices: Vec<Option<ValueId>>| {
                    let indices: Vec<ValueId> = indices
                        .into_iter()
                        .collect::<Option<_>>()
                        .ok_or_else(|| AdError::internal("gather axes"))?;
                    Ok(cx.em.push(
                        Op::Index {
                            array: ct_read,
                            indices,
                            fill: Some(0.0),
                        },
                        Type::scalar(),
                    ))
                };
                if unused.is_empty() {
                    return read_at(cx, indices);
                }
                cx.nested_folds(&unused_extents, |cx, us| {
                    for (&k, &u) in unused.iter().zip(us) {
                        indices[k] = Some(u);
                    }
                    read_at(cx, indices)
                })
            })?;
            let back = self.em.cast(back, aty.dtype)?;
            self.accumulate(adj, read.array, back)?;
        }
        Ok(())
    }

    /// The outer arrays among `free` that `body` reads only as gathers, and those reads.
    fn gathered_reads(
        &self,
        body: &Block,
        free: &[ValueId],
    ) -> Result<(Vec<ValueId>, Vec<Read>), AdError> {
        let loops = body.args.len();
        let mut bad: HashSet<ValueId> = HashSet::new();
        let mut reads = Vec::new();
        let candidate = |v: &ValueId| free.contains(v);
        for &id in &body.body {
            let v = self.em.value(id)?;
            if let Some(inner) = v.op.block() {
                for u in free_values(self.em.values, inner)? {
                    if candidate(&u) {
                        bad.insert(u);
                    }
                }
            }
            match &v.op {
                Op::Index { array, indices, .. } if candidate(array) => {
                    let aty = &self.em.value(*array)?.ty;
                    let axes: Option<Vec<(usize, i64)>> = indices
                        .iter()
                        .map(|i| self.affine_index(body, *i))
                        .collect();
                    // One element (every axis indexed), each loop index at most once.
                    let ok = match &axes {
                        Some(axes) => {
                            let mut seen = HashSet::new();
                            axes.len() == aty.shape.len()
                                && axes.len() <= loops
                                && aty.dtype.is_float()
                                && axes.iter().all(|(k, _)| seen.insert(*k))
                        }
                        None => false,
                    };
                    match (ok, axes) {
                        (true, Some(axes)) => reads.push(Read {
                            value: id,
                            array: *array,
                            axes,
                        }),
                        _ => {
                            bad.insert(*array);
                        }
                    }
                    for i in indices {
                        if candidate(i) {
                            bad.insert(*i);
                        }
                    }
                }
                op => {
                    for o in op.operands() {
                        if candidate(&o) {
                            bad.insert(o);
                        }
                    }
                }
            }
        }
        if candidate(&body.result) {
            bad.insert(body.result);
        }
        let gathered: Vec<ValueId> = free
            .iter()
            .copied()
            .filter(|a| !bad.contains(a) && reads.iter().any(|r| r.array == *a))
            .collect();
        reads.retain(|r| gathered.contains(&r.array) && self.active.contains(&r.value));
        let gathered = gathered
            .into_iter()
            .filter(|a| reads.iter().any(|r| r.array == *a))
            .collect();
        Ok((gathered, reads))
    }

    /// `(k, c)` when `v` is loop index `k` plus the constant `c`.
    fn affine_index(&self, body: &Block, v: ValueId) -> Option<(usize, i64)> {
        if let Some(k) = body.args.iter().position(|a| *a == v) {
            return Some((k, 0));
        }
        let int = |x: ValueId| match self.em.value(x).ok()? {
            sci_ir::Value {
                op: Op::Const(c),
                ty,
                ..
            } if ty.dtype == DType::I64 && c.abs() < 1e15 => Some(*c as i64),
            _ => None,
        };
        let arg = |x: ValueId| body.args.iter().position(|a| *a == x);
        match &self.em.value(v).ok()?.op {
            Op::Binary(BinaryOp::Add, a, b) => match (arg(*a), int(*b), int(*a), arg(*b)) {
                (Some(k), Some(c), _, _) | (_, _, Some(c), Some(k)) => Some((k, c)),
                _ => None,
            },
            Op::Binary(BinaryOp::Sub, a, b) => Some((arg(*a)?, -int(*b)?)),
            _ => None,
        }
    }
}
