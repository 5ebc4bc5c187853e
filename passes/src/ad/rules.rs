//! Local derivatives of the elementwise ops, shared by forward and reverse mode.
//!
//! A [`Factor`] says how a tangent (forward) or cotangent (reverse) passes through one
//! operand of an elementwise op: `t ↦ t · f`, `t ↦ t / f`, and the cheap special cases.
//! Derivatives are written with the op's own result `y` where that saves work
//! (`exp' = y`, `tanh' = 1 − y²`, `sigmoid' = y (1 − y)`).

use super::AdError;
use super::emit::Emitter;
use sci_ir::{BinaryOp, CmpOp, DType, UnaryOp, ValueId};

/// How a (co)tangent passes through one operand of an elementwise op.
#[derive(Clone, Copy, Debug)]
pub(crate) enum Factor {
    /// `t`.
    Id,
    /// `−t`.
    Neg,
    /// `t · f`.
    Mul(ValueId),
    /// `t / f`.
    Div(ValueId),
    /// `c ? −t : t`.
    FlipIf(ValueId),
    /// `c ? t : 0`.
    Keep(ValueId),
    /// `c ? 0 : t`.
    Drop(ValueId),
}

impl Factor {
    /// Applies the factor to a (co)tangent `t`.
    pub fn apply(self, em: &mut Emitter, t: ValueId) -> Result<ValueId, AdError> {
        match self {
            Factor::Id => Ok(t),
            Factor::Neg => em.neg(t),
            Factor::Mul(f) => em.mul(t, f),
            Factor::Div(f) => em.div(t, f),
            Factor::FlipIf(c) => {
                let n = em.neg(t)?;
                em.select(c, n, t)
            }
            Factor::Keep(c) => em.select_or_zero(c, t),
            Factor::Drop(c) => em.zero_or_select(c, t),
        }
    }
}

/// The derivative of `y = op(a)` as a factor; `None` where it is zero (`floor`) or the op
/// is not on reals (`not`).
pub(crate) fn unary(
    em: &mut Emitter,
    op: UnaryOp,
    a: ValueId,
    y: ValueId,
) -> Result<Option<Factor>, AdError> {
    let ty = em.ty(a)?;
    if !ty.dtype.is_float() {
        return Ok(None);
    }
    let f = match op {
        UnaryOp::Neg => Factor::Neg,
        UnaryOp::Abs => {
            let z = em.full(0.0, &ty)?;
            Factor::FlipIf(em.compare(CmpOp::Lt, a, z)?)
        }
        UnaryOp::Sqrt => {
            // d sqrt(a) = 1 / (2 y)
            let two_y = em.scale(y, 2.0)?;
            Factor::Div(two_y)
        }
        UnaryOp::Exp => Factor::Mul(y),
        UnaryOp::Log => Factor::Div(a),
        UnaryOp::Sin => Factor::Mul(em.unary(UnaryOp::Cos, a)?),
        UnaryOp::Cos => {
            let s = em.unary(UnaryOp::Sin, a)?;
            Factor::Mul(em.neg(s)?)
        }
        UnaryOp::Tan => {
            // 1 + y²
            let y2 = em.powi(y, 2)?;
            let one = em.full(1.0, &ty)?;
            Factor::Mul(em.add(one, y2)?)
        }
        UnaryOp::Asin | UnaryOp::Acos => {
            // ±1 / sqrt(1 − a²)
            let a2 = em.powi(a, 2)?;
            let one = em.full(1.0, &ty)?;
            let d = em.sub(one, a2)?;
            let r = em.unary(UnaryOp::Sqrt, d)?;
            if op == UnaryOp::Asin {
                Factor::Div(r)
            } else {
                Factor::Div(em.neg(r)?)
            }
        }
        UnaryOp::Atan => {
            let a2 = em.powi(a, 2)?;
            let one = em.full(1.0, &ty)?;
            Factor::Div(em.add(one, a2)?)
        }
        UnaryOp::Sinh => Factor::Mul(em.unary(UnaryOp::Cosh, a)?),
        UnaryOp::Cosh => Factor::Mul(em.unary(UnaryOp::Sinh, a)?),
        UnaryOp::Tanh => {
            let y2 = em.powi(y, 2)?;
            let one = em.full(1.0, &ty)?;
            Factor::Mul(em.sub(one, y2)?)
        }
        UnaryOp::Erf => {
            // 2/√π · exp(−a²)
            let a2 = em.powi(a, 2)?;
            let na2 = em.neg(a2)?;
            let e = em.unary(UnaryOp::Exp, na2)?;
            Factor::Mul(em.scale(e, std::f64::consts::FRAC_2_SQRT_PI)?)
        }
        UnaryOp::Sigmoid => {
            let one = em.full(1.0, &ty)?;
            let omy = em.sub(one, y)?;
            Factor::Mul(em.mul(y, omy)?)
        }
        UnaryOp::Softplus => Factor::Mul(em.unary(UnaryOp::Sigmoid, a)?),
        UnaryOp::Gelu => Factor::Mul(em.unary(UnaryOp::Dgelu, a)?),
        UnaryOp::Dgelu => Factor::Mul(gelu_second(em, a, &ty)?),
        UnaryOp::Floor | UnaryOp::Not => return Ok(None),
    };
    Ok(Some(f))
}

/// `a²` and `φ(a)`, the standard normal density `exp(−0.5·a²)·(1/√(2π))`: what GELU's
/// higher derivatives are made of.
fn square_and_density(em: &mut Emitter, a: ValueId) -> Result<(ValueId, ValueId), AdError> {
    let a2 = em.powi(a, 2)?;
    let h = em.scale(a2, -0.5)?;
    let e = em.unary(UnaryOp::Exp, h)?;
    Ok((a2, em.scale(e, sci_ir::interp::INV_SQRT_2PI)?))
}

/// GELU's second derivative `φ(a)·(2 − a²)` (the derivative of `dgelu`).
pub(crate) fn gelu_second(
    em: &mut Emitter,
    a: ValueId,
    ty: &sci_ir::Type,
) -> Result<ValueId, AdError> {
    let (a2, phi) = square_and_density(em, a)?;
    let two = em.full(2.0, ty)?;
    let f = em.sub(two, a2)?;
    em.mul(phi, f)
}

/// GELU's third derivative `φ(a)·a·(a² − 4)` (the second of `dgelu`).
pub(crate) fn gelu_third(
    em: &mut Emitter,
    a: ValueId,
    ty: &sci_ir::Type,
) -> Result<ValueId, AdError> {
    let (a2, phi) = square_and_density(em, a)?;
    let four = em.full(4.0, ty)?;
    let f = em.sub(a2, four)?;
    let af = em.mul(a, f)?;
    em.mul(phi, af)
}

/// The partial derivatives of `y = op(a, b)` with respect to `a` (when `want_a`) and `b`
/// (when `want_b`); `None` where zero or not wanted.
pub(crate) fn binary(
    em: &mut Emitter,
    op: BinaryOp,
    a: ValueId,
    b: ValueId,
    y: ValueId,
    want_a: bool,
    want_b: bool,
) -> Result<(Option<Factor>, Option<Factor>), AdError> {
    let ty = em.ty(a)?;
    if !ty.dtype.is_float() {
        return Ok((None, None));
    }
    let (fa, fb) = match op {
        BinaryOp::Add => (Some(Factor::Id), Some(Factor::Id)),
        BinaryOp::Sub => (Some(Factor::Id), Some(Factor::Neg)),
        BinaryOp::Mul => (Some(Factor::Mul(b)), Some(Factor::Mul(a))),
        BinaryOp::Div => {
            let fb = if want_b {
                // ∂(a/b)/∂b = −y / b
                let q = em.div(y, b)?;
                Some(Factor::Mul(em.neg(q)?))
            } else {
                None
            };
            (Some(Factor::Div(b)), fb)
        }
        BinaryOp::Pow => {
            let fa = if want_a {
                // b · a^(b−1)
                let one = em.full(1.0, &ty)?;
                let bm1 = em.sub(b, one)?;
                let p = em.binary(BinaryOp::Pow, a, bm1)?;
                Some(Factor::Mul(em.mul(b, p)?))
            } else {
                None
            };
            let fb = if want_b {
                // y · log(a)
                let l = em.unary(UnaryOp::Log, a)?;
                Some(Factor::Mul(em.mul(y, l)?))
            } else {
                None
            };
            (fa, fb)
        }
        BinaryOp::Min | BinaryOp::Max => {
            // Ties give `a`, as the interpreter does.
            let cmp = if op == BinaryOp::Min {
                CmpOp::Le
            } else {
                CmpOp::Ge
            };
            let c = em.compare(cmp, a, b)?;
            (Some(Factor::Keep(c)), Some(Factor::Drop(c)))
        }
        BinaryOp::Atan2 => {
            // atan2(a, b): ∂a = b / (a² + b²), ∂b = −a / (a² + b²)
            let a2 = em.powi(a, 2)?;
            let b2 = em.powi(b, 2)?;
            let den = em.add(a2, b2)?;
            let fa = if want_a {
                Some(Factor::Mul(em.div(b, den)?))
            } else {
                None
            };
            let fb = if want_b {
                let q = em.div(a, den)?;
                Some(Factor::Mul(em.neg(q)?))
            } else {
                None
            };
            (fa, fb)
        }
        BinaryOp::And | BinaryOp::Or => (None, None),
    };
    Ok((fa.filter(|_| want_a), fb.filter(|_| want_b)))
}

/// The derivative of `a^n` as a factor (`None` for `n = 0`).
pub(crate) fn powi(em: &mut Emitter, a: ValueId, n: i32) -> Result<Option<Factor>, AdError> {
    match n {
        0 => Ok(None),
        1 => Ok(Some(Factor::Id)),
        _ => {
            let p = if n == 2 { a } else { em.powi(a, n - 1)? };
            Ok(Some(Factor::Mul(em.scale(p, f64::from(n))?)))
        }
    }
}

/// For a product of `a`'s elements (or points, or fold iterations), the product of all
/// the *other* factors at each element, exact when some factors are zero: `pn` is the
/// product of the non-zero factors and `nz` the number of zero factors (both broadcast to
/// `a`'s shape by the caller).
pub(crate) fn product_of_others(
    em: &mut Emitter,
    a: ValueId,
    pn: ValueId,
    nz: ValueId,
) -> Result<ValueId, AdError> {
    let ty = em.ty(a)?;
    let zero = em.full(0.0, &ty)?;
    let one = em.full(1.0, &ty)?;
    let a_is_zero = em.compare(CmpOp::Eq, a, zero)?;
    let nz_is_one = em.compare(CmpOp::Eq, nz, one)?;
    let nz_is_zero = em.compare(CmpOp::Eq, nz, zero)?;
    let at_zero = em.select(nz_is_one, pn, zero)?;
    let q = em.div(pn, a)?;
    let elsewhere = em.select(nz_is_zero, q, zero)?;
    em.select(a_is_zero, at_zero, elsewhere)
}

/// `a == 0 ? 1 : a` and `a == 0 ? 1 : 0` (as `a`'s dtype): the terms of the non-zero
/// product and of the zero count.
pub(crate) fn product_terms(em: &mut Emitter, a: ValueId) -> Result<(ValueId, ValueId), AdError> {
    let ty = em.ty(a)?;
    let zero = em.full(0.0, &ty)?;
    let one = em.full(1.0, &ty)?;
    let is_zero = em.compare(CmpOp::Eq, a, zero)?;
    let nonzero = em.select(is_zero, one, a)?;
    let count = em.indicator(
        is_zero,
        if ty.dtype == DType::F32 {
            DType::F32
        } else {
            DType::F64
        },
    )?;
    Ok((nonzero, count))
}
