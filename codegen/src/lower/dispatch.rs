//! The dispatch over ops: each value of a block body, in order, to its lowering.

use super::stencil::Fact;
use super::{Ix, Repr, ReprOf, Res, Tensors, exact_index, internal, structured};
use crate::CodegenError;
use sci_ir::{BinaryOp, Block, DType, Op, ValueId};

/// Lowering of whole block bodies.
pub(crate) trait Lower<'a>: Tensors<'a> {
    /// Lowers the values of a block body in order (on a piece of a split `tabulate`, with
    /// what is known there: decided tests and selects, values not needed).
    fn lower_body(&mut self, body: &[ValueId]) -> Res<()> {
        for &id in body {
            let r = match self.values().facts.get(&id).copied() {
                Some(Fact::Unused) => continue,
                Some(Fact::Truth(t)) => Repr::Scalar(self.f64c(if t { 1.0 } else { 0.0 })?),
                Some(Fact::Same(v)) => self.repr(v)?,
                Some(Fact::InRange) | None => self.lower_value(id)?,
            };
            self.set(id, r);
        }
        Ok(())
    }

    /// Runs `block` with its arguments bound to `args` and returns its result.
    fn run_block(&mut self, block: &Block, args: Vec<ReprOf<Self>>) -> Res<ReprOf<Self>> {
        for (&a, r) in block.args.iter().zip(args) {
            self.set(a, r);
        }
        self.lower_body(&block.body)?;
        self.repr(block.result)
    }

    fn lower_value(&mut self, id: ValueId) -> Res<ReprOf<Self>> {
        let f = self.function();
        let v = f
            .values
            .get(id)
            .ok_or_else(|| internal::<Self>("value out of range"))?;
        let ty = &v.ty;
        if let Some(r) = self.fast_elementwise(id, &v.op)? {
            return Ok(r);
        }
        match &v.op {
            Op::Arg(_) => Err(internal::<Self>("`arg` in a block body")),
            Op::Const(x) => {
                let x = if ty.dtype == DType::F32 {
                    *x as f32 as f64
                } else {
                    *x
                };
                Ok(Repr::Scalar(self.f64c(x)?))
            }
            Op::Literal(xs) => self.literal(id, ty, xs),
            Op::Unary(op, a) => self.elementwise(id, &[*a], &|s, x| s.unary(*op, x[0].clone())),
            Op::Binary(op, a, b) => {
                let r = self.elementwise(id, &[*a, *b], &|s, x| {
                    s.binary(*op, x[0].clone(), x[1].clone())
                })?;
                if let Repr::Scalar(x) = &r {
                    self.track_index(x, *op, *a, *b)?;
                }
                Ok(r)
            }
            Op::Powi(a, n) => self.elementwise(id, &[*a], &|s, x| s.powi(x[0].clone(), *n)),
            Op::Compare(op, a, b) => self.elementwise(id, &[*a, *b], &|s, x| {
                s.compare(*op, x[0].clone(), x[1].clone())
            }),
            Op::Select(c, a, b) => self.elementwise(id, &[*c, *a, *b], &|s, x| {
                s.select(x[0].clone(), x[1].clone(), x[2].clone())
            }),
            Op::Cast(a) => self.elementwise(id, &[*a], &|s, x| s.cast(x[0].clone(), ty.dtype)),
            Op::Broadcast(a) => self.broadcast(id, *a),
            Op::Index { array, indices, .. }
                if ty.shape.is_empty() && self.values().facts.get(&id) == Some(&Fact::InRange) =>
            {
                self.index_in_range(*array, indices)
            }
            Op::Index {
                array,
                indices,
                fill,
            } => self.index(id, *array, indices, *fill),
            Op::Slice { array, start, .. } => self.slice(*array, *start),
            Op::Concat(parts) => self.concat(id, parts),
            Op::Reshape(a) => self.reshape(id, *a),
            Op::Transpose(a) => self.transpose(id, *a),
            Op::Dot(a, b) => self.dot(id, *a, *b),
            Op::MatVec(a, b) | Op::MatMul(a, b) => self.matmul(id, *a, *b),
            Op::Reduce(op, a) => self.reduce(id, *op, *a),
            Op::Tabulate { extents, body } => structured::tabulate(self, id, extents, body),
            Op::Fold { op, extent, body } => structured::fold(self, id, *op, *extent, body),
            Op::Map { inputs, body } => structured::map(self, id, inputs, body),
            Op::TileMap {
                inputs,
                lanes,
                reduce,
                body,
            } => structured::tile_map(self, id, inputs, *lanes, *reduce, body),
            Op::ReduceBatch(op, a) => structured::reduce_batch(self, id, *op, *a),
            Op::Call { func, args } => structured::call(self, id, *func, args),
            Op::Rfft { .. } | Op::Irfft { .. } | Op::Rfft2 { .. } | Op::Irfft2 { .. } => {
                Err(CodegenError::new(format!(
                    "`{}` still contains a discrete Fourier transform (`{}`); run \
                 `sci_passes::spectral::expand_spectral` before compiling it.",
                    f.name,
                    v.op.mnemonic()
                )))
            }
            Op::Deriv { .. } => Err(CodegenError::new(format!(
                "`{}` still contains a derivative placeholder (`deriv`); run the AD pass before \
                 compiling it.",
                f.name
            ))),
        }
    }

    /// An element of `array` at indices known to be in range (on a piece of a split
    /// `tabulate`): no check, no fill.
    fn index_in_range(&mut self, array: ValueId, indices: &[ValueId]) -> Res<ReprOf<Self>> {
        let shape = &self.ty(array)?.shape;
        let base = self.buf(array)?;
        let mut lin = Ix::C(0);
        for (&i, &n) in indices.iter().zip(shape) {
            let iv = match self.index_form(i)? {
                Some(iv) => iv,
                None => {
                    let x = self.scalar(i)?;
                    self.f64_to_index(x)?
                }
            };
            let scaled = self.ix_mul(lin, n)?;
            lin = self.ix_add(scaled, Ix::V(iv))?;
        }
        Ok(Repr::Scalar(self.element(array, lin.clone(), base, lin)?))
    }

    /// Records the index form of `x = a OP b` when it is an index computed from indices
    /// (`i - 1`, `j + 1` in a stencil), so that indexing with it skips the `f64` range
    /// check and conversion. A negative result wraps to a huge index, which the range check
    /// rejects as it rejects the negative `f64`.
    fn track_index(&mut self, x: &Self::F, op: BinaryOp, a: ValueId, b: ValueId) -> Res<()> {
        let f = self.function();
        let is_index = f
            .values
            .get(a)
            .is_some_and(|v| v.ty.dtype == DType::I64 && v.ty.shape.is_empty() && !v.ty.batched);
        if !is_index || !matches!(op, BinaryOp::Add | BinaryOp::Sub) {
            return Ok(());
        }
        let (Some(ia), Some(ib)) = (self.index_form(a)?, self.index_form(b)?) else {
            return Ok(());
        };
        let i = match op {
            BinaryOp::Add => self.iadd(ia, ib)?,
            _ => self.isub(ia, ib)?,
        };
        self.remember_index(x.clone(), i);
        Ok(())
    }

    /// The index form of scalar `v`: a loop counter's (or one computed from them), or a
    /// small non-negative integral constant's.
    fn index_form(&mut self, v: ValueId) -> Res<Option<Self::I>> {
        if let Repr::Scalar(x) = self.repr(v)?
            && let Some(i) = self.int_of(&x)
        {
            return Ok(Some(i));
        }
        match self.function().values.get(v).map(|v| &v.op) {
            Some(Op::Const(c)) => exact_index(*c).map(|i| self.ic(i)).transpose(),
            _ => Ok(None),
        }
    }
}

impl<'a, E: Tensors<'a>> Lower<'a> for E {}
