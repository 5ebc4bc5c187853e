//! The numeric definition of every elementwise function and reduction.
//!
//! These functions *are* the semantics that back ends are compared against (see
//! `docs/ir.md`, "Interpreter numerics"). Transcendental functions come from the `libm`
//! crate so the oracle gives the same bits on every platform.

use crate::op::{BinaryOp, CmpOp, ReduceOp, UnaryOp};
use crate::types::DType;

/// `max` that propagates NaN; on ties (including `-0` vs `+0`) the first operand.
pub fn max_nan(a: f64, b: f64) -> f64 {
    if a.is_nan() || b.is_nan() {
        f64::NAN
    } else if a >= b {
        a
    } else {
        b
    }
}

/// `min` that propagates NaN; on ties the first operand.
pub fn min_nan(a: f64, b: f64) -> f64 {
    if a.is_nan() || b.is_nan() {
        f64::NAN
    } else if a <= b {
        a
    } else {
        b
    }
}

/// Logistic sigmoid without overflow: `1/(1+e^-x)` for `x ≥ 0`, `e^x/(1+e^x)` otherwise.
pub fn sigmoid(x: f64) -> f64 {
    if x >= 0.0 {
        1.0 / (1.0 + libm::exp(-x))
    } else {
        let e = libm::exp(x);
        e / (1.0 + e)
    }
}

/// `log(1 + e^x)` without overflow: `max(x, 0) + log1p(e^-|x|)`.
pub fn softplus(x: f64) -> f64 {
    max_nan(x, 0.0) + libm::log1p(libm::exp(-x.abs()))
}

/// The exact GELU, `(0.5·x)·(1 + erf(x·(1/√2)))`, in this order of operations (the
/// back ends' scalar code and vector kernels compute the same bits).
pub fn gelu(x: f64) -> f64 {
    (0.5 * x) * (1.0 + libm::erf(x * std::f64::consts::FRAC_1_SQRT_2))
}

/// `1/√(2π)`, the standard normal density at 0.
pub const INV_SQRT_2PI: f64 = 0.398_942_280_401_432_7;

/// GELU's derivative `Φ(x) + x·φ(x)`: `0.5·(1 + erf(x·(1/√2))) + x·(exp(−0.5·(x·x))·(1/√(2π)))`,
/// in this order of operations.
pub fn dgelu(x: f64) -> f64 {
    let phi = 0.5 * (1.0 + libm::erf(x * std::f64::consts::FRAC_1_SQRT_2));
    phi + x * (libm::exp(-0.5 * (x * x)) * INV_SQRT_2PI)
}

/// One elementwise function of one argument.
pub fn unary(op: UnaryOp, x: f64) -> f64 {
    match op {
        UnaryOp::Neg => -x,
        UnaryOp::Abs => x.abs(),
        UnaryOp::Sqrt => libm::sqrt(x),
        UnaryOp::Exp => libm::exp(x),
        UnaryOp::Log => libm::log(x),
        UnaryOp::Sin => libm::sin(x),
        UnaryOp::Cos => libm::cos(x),
        UnaryOp::Tan => libm::tan(x),
        UnaryOp::Asin => libm::asin(x),
        UnaryOp::Acos => libm::acos(x),
        UnaryOp::Atan => libm::atan(x),
        UnaryOp::Sinh => libm::sinh(x),
        UnaryOp::Cosh => libm::cosh(x),
        UnaryOp::Tanh => libm::tanh(x),
        UnaryOp::Erf => libm::erf(x),
        UnaryOp::Floor => libm::floor(x),
        UnaryOp::Sigmoid => sigmoid(x),
        UnaryOp::Softplus => softplus(x),
        UnaryOp::Gelu => gelu(x),
        UnaryOp::Dgelu => dgelu(x),
        UnaryOp::Not => bool_f64(x == 0.0),
    }
}

/// One elementwise function of two arguments.
pub fn binary(op: BinaryOp, a: f64, b: f64) -> f64 {
    match op {
        BinaryOp::Add => a + b,
        BinaryOp::Sub => a - b,
        BinaryOp::Mul => a * b,
        BinaryOp::Div => a / b,
        BinaryOp::Pow => libm::pow(a, b),
        BinaryOp::Min => min_nan(a, b),
        BinaryOp::Max => max_nan(a, b),
        BinaryOp::Atan2 => libm::atan2(a, b),
        BinaryOp::And => bool_f64(a != 0.0 && b != 0.0),
        BinaryOp::Or => bool_f64(a != 0.0 || b != 0.0),
    }
}

/// IEEE comparison (false with NaN, except `ne`).
pub fn compare(op: CmpOp, a: f64, b: f64) -> f64 {
    bool_f64(match op {
        CmpOp::Eq => a == b,
        CmpOp::Ne => a != b,
        CmpOp::Lt => a < b,
        CmpOp::Le => a <= b,
        CmpOp::Gt => a > b,
        CmpOp::Ge => a >= b,
    })
}

/// How `powi x, n` is computed. Its value is always `pow(x, n)`; the cheap forms are the
/// exponents for which libm's `pow` returns exactly that expression (fdlibm's special cases
/// `y = 0, 1, 2, -1`), so every back end may use them and still agree bit for bit. They
/// matter: `powi x, 2` is all over derivative code (`1 - tanh²`) and a `pow` call per element
/// was the largest single cost of the PINN gradient.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PowiForm {
    /// `n = 0`: `1` (also for NaN and infinite `x`).
    One,
    /// `n = 1`: `x`.
    Identity,
    /// `n = 2`: `x * x`.
    Square,
    /// `n = -1`: `1 / x`.
    Reciprocal,
    /// Any other `n`: `pow(x, n)`.
    Pow,
}

impl PowiForm {
    /// The form of `powi x, n`.
    pub fn of(n: i32) -> Self {
        match n {
            0 => Self::One,
            1 => Self::Identity,
            2 => Self::Square,
            -1 => Self::Reciprocal,
            _ => Self::Pow,
        }
    }
}

/// `x^n`, which is `pow(x, n)` (computed in the cheap form where that is exact).
pub fn powi(x: f64, n: i32) -> f64 {
    match PowiForm::of(n) {
        PowiForm::One => 1.0,
        PowiForm::Identity => x,
        PowiForm::Square => x * x,
        PowiForm::Reciprocal => 1.0 / x,
        PowiForm::Pow => libm::pow(x, n as f64),
    }
}

/// Conversion to `to`: floats keep their value (rounded through `f32` for `f32`), `i64`
/// truncates toward zero and saturates (NaN gives 0), `bool` is `x != 0` (NaN gives true).
pub fn cast(x: f64, to: DType) -> f64 {
    match to {
        DType::F64 => x,
        DType::F32 => round_f32(x),
        DType::I64 => (x as i64) as f64,
        DType::Bool => bool_f64(x != 0.0),
    }
}

/// Rounds to the nearest `f32` (ties to even), back in an `f64`.
pub fn round_f32(x: f64) -> f64 {
    x as f32 as f64
}

/// 1 for true, 0 for false.
pub fn bool_f64(b: bool) -> f64 {
    if b { 1.0 } else { 0.0 }
}

/// A running reduction: start, combine left to right, finish.
#[derive(Clone, Debug)]
pub struct Reducer {
    op: ReduceOp,
    acc: Vec<f64>,
    count: usize,
}

impl Reducer {
    /// A reduction of tensors with `width` elements each.
    pub fn new(op: ReduceOp, width: usize) -> Reducer {
        let start = match op {
            ReduceOp::Sum | ReduceOp::Mean => 0.0,
            ReduceOp::Prod => 1.0,
            // Replaced by the first item.
            ReduceOp::Max | ReduceOp::Min => f64::NAN,
        };
        Reducer {
            op,
            acc: vec![start; width],
            count: 0,
        }
    }

    /// Combines one more item (elementwise); items shorter than `width` are padded with NaN.
    pub fn push(&mut self, item: &[f64]) {
        let first = self.count == 0;
        for (i, acc) in self.acc.iter_mut().enumerate() {
            let x = item.get(i).copied().unwrap_or(f64::NAN);
            *acc = match self.op {
                ReduceOp::Sum | ReduceOp::Mean => *acc + x,
                ReduceOp::Prod => *acc * x,
                ReduceOp::Max if first => x,
                ReduceOp::Min if first => x,
                ReduceOp::Max => max_nan(*acc, x),
                ReduceOp::Min => min_nan(*acc, x),
            };
        }
        self.count += 1;
    }

    /// The result; `None` for max/min/mean of nothing.
    pub fn finish(self) -> Option<Vec<f64>> {
        match self.op {
            ReduceOp::Sum | ReduceOp::Prod => Some(self.acc),
            _ if self.count == 0 => None,
            ReduceOp::Mean => {
                let n = self.count as f64;
                Some(self.acc.into_iter().map(|x| x / n).collect())
            }
            ReduceOp::Max | ReduceOp::Min => Some(self.acc),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn softplus_and_sigmoid_do_not_overflow() {
        assert_eq!(softplus(1000.0), 1000.0);
        assert_eq!(softplus(-1000.0), 0.0);
        assert!((softplus(0.0) - std::f64::consts::LN_2).abs() < 1e-16);
        assert_eq!(sigmoid(-1000.0), 0.0);
        assert_eq!(sigmoid(1000.0), 1.0);
        assert_eq!(sigmoid(0.0), 0.5);
    }

    /// GELU against its definition (Φ the normal CDF), and its derivative against central
    /// differences.
    #[test]
    fn gelu_and_its_derivative() {
        assert_eq!(gelu(0.0), 0.0);
        assert!((gelu(1.0) - 0.841_344_746_068_542_9).abs() < 1e-15);
        assert!((gelu(-1.0) + 0.158_655_253_931_457_05).abs() < 1e-15);
        for x in [-6.0, -1.3, -0.2, 0.0, 0.4, 1.7, 5.0] {
            let h = 1e-6;
            let fd = (gelu(x + h) - gelu(x - h)) / (2.0 * h);
            assert!((dgelu(x) - fd).abs() < 1e-9, "{x}: {} vs {fd}", dgelu(x));
        }
        assert!((INV_SQRT_2PI - 1.0 / (2.0 * std::f64::consts::PI).sqrt()).abs() < 1e-17);
    }

    #[test]
    fn min_max_propagate_nan() {
        assert!(max_nan(f64::NAN, 1.0).is_nan());
        assert!(min_nan(1.0, f64::NAN).is_nan());
        assert_eq!(max_nan(1.0, 2.0), 2.0);
        assert_eq!(min_nan(1.0, 2.0), 1.0);
    }

    #[test]
    fn casts_truncate_and_saturate() {
        assert_eq!(cast(-2.7, DType::I64), -2.0);
        assert_eq!(cast(f64::NAN, DType::I64), 0.0);
        assert_eq!(cast(0.1, DType::F32), 0.1f32 as f64);
        assert_eq!(cast(-0.5, DType::Bool), 1.0);
    }

    #[test]
    fn erf_is_accurate() {
        // erf(1) = 0.8427007929497149 (to double precision).
        assert!((unary(UnaryOp::Erf, 1.0) - 0.842_700_792_949_714_9).abs() < 1e-16);
    }

    #[test]
    fn reductions_of_nothing() {
        assert_eq!(Reducer::new(ReduceOp::Sum, 1).finish(), Some(vec![0.0]));
        assert_eq!(Reducer::new(ReduceOp::Prod, 1).finish(), Some(vec![1.0]));
        assert_eq!(Reducer::new(ReduceOp::Max, 1).finish(), None);
        let mut r = Reducer::new(ReduceOp::Mean, 2);
        r.push(&[1.0, 2.0]);
        r.push(&[3.0, 6.0]);
        assert_eq!(r.finish(), Some(vec![2.0, 4.0]));
    }
}
