//! Dense Jacobians made element-locally: the same local derivatives as the sparse
//! Jacobian ([`super::local`]), laid out over a full pattern so the values come in
//! row-major order, which is the dense Jacobian.
//!
//! This serves `∂f/∂θ` of grid right-hand sides: every point of a reaction–diffusion grid
//! reads the same few scalar parameters (`A`, `B`, `α`), so each row of `∂f/∂θ` is the
//! body's derivative with respect to each, computed in one pass over the grid that shares
//! the body's own values — where forward mode would run one whole tangent sweep of the
//! right-hand side per parameter.

use super::Pattern;
use super::local::local_values;
use crate::ad::{AdError, cost, jacobian_function};
use sci_ir::manifest::DerivativeKind;
use sci_ir::types::element_count;
use sci_ir::{FuncId, Function, Module, Op, Role, Type, Value};

/// At most this many entries (result elements × input elements) are made element-locally.
const MAX_DENSE_ENTRIES: usize = 1 << 20;

/// [`dense_jacobian_function`] of function `func` of `module`.
pub fn dense_jacobian(module: &Module, func: FuncId, wrt: usize) -> Result<Function, AdError> {
    let f = module
        .functions
        .get(func)
        .ok_or_else(|| AdError::request("There is no such function in the module."))?;
    dense_jacobian_function(module, f, wrt)
}

/// The dense Jacobian of `f` with respect to input `wrt` (shape `shape(result) ++
/// shape(input)`, as [`crate::ad::jacobian`]): element-local where that applies and costs
/// fewer FLOPs, else by automatic differentiation.
pub fn dense_jacobian_function(
    module: &Module,
    f: &Function,
    wrt: usize,
) -> Result<Function, AdError> {
    let by_ad = jacobian_function(module, f, wrt)?;
    match element_local_dense(f, wrt) {
        Some(local) if cost::flops(module, &local) < cost::flops(module, &by_ad) => Ok(local),
        _ => Ok(by_ad),
    }
}

/// The element-local dense Jacobian, or `None` where the local method does not apply.
pub fn element_local_dense(f: &Function, wrt: usize) -> Option<Function> {
    let input = f.values.get(*f.inputs().get(wrt)?)?;
    let result = f.values.get(f.body.result)?;
    let (rows, cols) = (
        element_count(&result.ty.shape)?,
        element_count(&input.ty.shape)?,
    );
    if rows.checked_mul(cols)? > MAX_DENSE_ENTRIES {
        return None;
    }
    let pattern = Pattern {
        n_rows: rows,
        n_cols: cols,
        row_ptr: (0..=rows).map(|r| r * cols).collect(),
        col_idx: (0..rows).flat_map(|_| 0..cols).collect(),
    };
    let mut g = local_values(f, wrt, &pattern)?;
    let mut shape = result.ty.shape.clone();
    shape.extend(input.ty.shape.iter().copied());
    let flat = g.body.result;
    let shaped = g.values.push(Value {
        op: Op::Reshape(flat),
        ty: Type::f64(shape),
        name: None,
    });
    g.body.body.push(shaped);
    g.body.result = shaped;
    g.name = format!("jac.{}", f.name);
    g.role = Role::derivative(DerivativeKind::Jacobian, &f.role, &[wrt]);
    Some(g)
}
