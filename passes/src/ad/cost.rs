//! A floating-point operation count of IR, for choosing between derivative strategies
//! and for reports.
//!
//! Elementwise arithmetic costs one per element, `dot`/`matvec`/`matmul` two per
//! multiply-add, reductions one per element, loops their body times their trip count;
//! a `map` body counts once (the cost per point). Data movement (`index`, `slice`,
//! `concat`, `reshape`, `broadcast`, `transpose`, casts, constants) is free.

use super::AdError;
use super::graph::{MAX_DEPTH, val};
use sci_ir::{Arena, Function, Module, Op, Value, ValueId};

/// Estimated floating-point operations of one evaluation of `f` (per point inside `map`),
/// counting the bodies of the functions it calls (from `module`).
pub fn flops(module: &Module, f: &Function) -> u64 {
    flops_of(Some(module), &f.values, &f.body.body, 0).unwrap_or(u64::MAX)
}

/// Number of ops (values other than block arguments) of `f`, at every depth.
pub fn op_count(f: &Function) -> usize {
    f.op_count()
}

pub(crate) fn flops_of(
    module: Option<&Module>,
    values: &Arena<Value>,
    body: &[ValueId],
    depth: usize,
) -> Result<u64, AdError> {
    if depth > MAX_DEPTH {
        return Err(AdError::limit());
    }
    let mut total: u64 = 0;
    for &id in body {
        let v = val(values, id)?;
        let n = v.ty.element_count().unwrap_or(0) as u64;
        let shape_of = |x: ValueId| val(values, x).map(|v| v.ty.shape.clone());
        let cost = match &v.op {
            Op::Unary(..) | Op::Binary(..) | Op::Powi(..) | Op::Compare(..) | Op::Select(..) => n,
            Op::Dot(a, _) => 2 * shape_of(*a)?.first().copied().unwrap_or(0) as u64,
            Op::MatVec(a, _) | Op::MatMul(a, _) => {
                let k = shape_of(*a)?.last().copied().unwrap_or(0) as u64;
                2 * n * k
            }
            Op::Reduce(_, a) => val(values, *a)?.ty.element_count().unwrap_or(0) as u64,
            // As the matrix products they become (`crate::spectral`): 2 per element and mode.
            Op::Rfft { signal, modes } => {
                let inputs = val(values, *signal)?.ty.element_count().unwrap_or(0) as u64;
                4u64.saturating_mul(inputs).saturating_mul(*modes as u64)
            }
            // Separable: the last axis's transform, then the first's (`crate::spectral`).
            Op::Rfft2 { signal, modes } => {
                let inputs = val(values, *signal)?.ty.element_count().unwrap_or(0) as u64;
                4u64.saturating_mul(inputs)
                    .saturating_mul(modes[1] as u64)
                    .saturating_add(8u64.saturating_mul(n).saturating_mul(modes[0] as u64))
            }
            Op::Irfft2 {
                spectrum,
                n: points,
            } => {
                let inputs = val(values, *spectrum)?.ty.element_count().unwrap_or(0) as u64;
                8u64.saturating_mul(inputs)
                    .saturating_mul(points[0] as u64)
                    .saturating_add(2u64.saturating_mul(n).saturating_mul(inputs))
            }
            Op::Irfft { spectrum, .. } => {
                let inputs = val(values, *spectrum)?.ty.element_count().unwrap_or(0) as u64;
                2u64.saturating_mul(inputs).saturating_mul(n)
            }
            Op::ReduceBatch(..) => n,
            Op::Tabulate { extents, body } => {
                let trips: u64 = extents
                    .iter()
                    .fold(1u64, |a, e| a.saturating_mul(*e as u64));
                trips.saturating_mul(flops_of(module, values, &body.body, depth + 1)?)
            }
            Op::Fold { extent, body, .. } => {
                let inner = flops_of(module, values, &body.body, depth + 1)?;
                (*extent as u64).saturating_mul(inner.saturating_add(n))
            }
            Op::Map { body, .. } => flops_of(module, values, &body.body, depth + 1)?,
            Op::Call { func, .. } => match module.and_then(|m| m.functions.get(*func)) {
                Some(callee) => flops_of(module, &callee.values, &callee.body.body, depth + 1)?,
                None => 0,
            },
            _ => 0,
        };
        total = total.saturating_add(cost);
    }
    Ok(total)
}
