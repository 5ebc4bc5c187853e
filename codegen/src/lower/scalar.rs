//! Scalar ops, as `sci_ir::interp` computes them (see `docs/ir.md`, "Interpreter
//! numerics"): `min`/`max` propagate NaN and keep the first operand on ties, logic treats
//! any non-zero (NaN included) as true, `powi` takes the interpreter's forms.

use super::{BBin, Emit, FBin, FCmp, FUn, Res};
use sci_ir::interp::PowiForm;
use sci_ir::{BinaryOp, CmpOp, DType, ReduceOp, UnaryOp};

/// Scalar ops over the primitives of [`Emit`].
pub(crate) trait Scalars<'a>: Emit<'a> {
    /// `x != 0` as a truth value (true for NaN, as in the interpreter).
    fn truthy(&mut self, x: Self::F) -> Res<Self::B> {
        let zero = self.f64c(0.0)?;
        self.fcmp(FCmp::Ne, x, zero)
    }

    /// `max` that propagates NaN and returns `a` on ties.
    fn max_nan(&mut self, a: Self::F, b: Self::F) -> Res<Self::F> {
        let ge = self.fcmp(FCmp::Ge, a.clone(), b.clone())?;
        self.pick_nan(ge, a, b)
    }

    /// `min` that propagates NaN and returns `a` on ties.
    fn min_nan(&mut self, a: Self::F, b: Self::F) -> Res<Self::F> {
        let le = self.fcmp(FCmp::Le, a.clone(), b.clone())?;
        self.pick_nan(le, a, b)
    }

    /// `first ? a : b`, or NaN when either is NaN.
    fn pick_nan(&mut self, first: Self::B, a: Self::F, b: Self::F) -> Res<Self::F> {
        let r = self.select_f(first, a.clone(), b.clone())?;
        let unordered = self.fcmp(FCmp::Uno, a, b)?;
        let nan = self.f64c(f64::NAN)?;
        self.select_f(unordered, nan, r)
    }

    /// `1 + erf(x·(1/√2))`, GELU's `2Φ(x)`, as `interp::gelu` computes it.
    fn one_plus_erf_scaled(&mut self, x: Self::F) -> Res<Self::F> {
        let c = self.f64c(std::f64::consts::FRAC_1_SQRT_2)?;
        let t = self.fbin(FBin::Mul, x, c)?;
        let e = self.math("erf", &[t])?;
        let one = self.f64c(1.0)?;
        self.fbin(FBin::Add, one, e)
    }

    fn unary(&mut self, op: UnaryOp, x: Self::F) -> Res<Self::F> {
        let name = match op {
            UnaryOp::Neg => return self.fun(FUn::Neg, x),
            UnaryOp::Abs => return self.fun(FUn::Abs, x),
            UnaryOp::Sqrt => return self.fun(FUn::Sqrt, x),
            UnaryOp::Floor => return self.fun(FUn::Floor, x),
            UnaryOp::Not => {
                let zero = self.f64c(0.0)?;
                let c = self.fcmp(FCmp::Eq, x, zero)?;
                return self.bool_to_f64(c);
            }
            UnaryOp::Sigmoid => {
                // x ≥ 0: 1/(1+e^-x); else e^x/(1+e^x). Both use e = exp(-|x|).
                let ax = self.fun(FUn::Abs, x.clone())?;
                let nx = self.fun(FUn::Neg, ax)?;
                let e = self.math("exp", &[nx])?;
                let one = self.f64c(1.0)?;
                let den = self.fbin(FBin::Add, one.clone(), e.clone())?;
                let pos = self.fbin(FBin::Div, one, den.clone())?;
                let neg = self.fbin(FBin::Div, e, den)?;
                let zero = self.f64c(0.0)?;
                let c = self.fcmp(FCmp::Ge, x, zero)?;
                return self.select_f(c, pos, neg);
            }
            // As `sci_ir::interp::gelu` and `dgelu`, operation for operation.
            UnaryOp::Gelu => {
                let p = self.one_plus_erf_scaled(x.clone())?;
                let half = self.f64c(0.5)?;
                let hx = self.fbin(FBin::Mul, half, x)?;
                return self.fbin(FBin::Mul, hx, p);
            }
            UnaryOp::Dgelu => {
                let p = self.one_plus_erf_scaled(x.clone())?;
                let half = self.f64c(0.5)?;
                let phi = self.fbin(FBin::Mul, half, p)?;
                let x2 = self.fbin(FBin::Mul, x.clone(), x.clone())?;
                let nh = self.f64c(-0.5)?;
                let u = self.fbin(FBin::Mul, nh, x2)?;
                let ex = self.math("exp", &[u])?;
                let k = self.f64c(sci_ir::interp::INV_SQRT_2PI)?;
                let d = self.fbin(FBin::Mul, ex, k)?;
                let xd = self.fbin(FBin::Mul, x, d)?;
                return self.fbin(FBin::Add, phi, xd);
            }
            UnaryOp::Softplus => {
                // max(x, 0) + log1p(exp(-|x|)).
                let ax = self.fun(FUn::Abs, x.clone())?;
                let nx = self.fun(FUn::Neg, ax)?;
                let e = self.math("exp", &[nx])?;
                let l = self.math("log1p", &[e])?;
                let zero = self.f64c(0.0)?;
                let m = self.max_nan(x, zero)?;
                return self.fbin(FBin::Add, m, l);
            }
            UnaryOp::Exp => "exp",
            UnaryOp::Log => "log",
            UnaryOp::Sin => "sin",
            UnaryOp::Cos => "cos",
            UnaryOp::Tan => "tan",
            UnaryOp::Asin => "asin",
            UnaryOp::Acos => "acos",
            UnaryOp::Atan => "atan",
            UnaryOp::Sinh => "sinh",
            UnaryOp::Cosh => "cosh",
            UnaryOp::Tanh => "tanh",
            UnaryOp::Erf => "erf",
        };
        self.math(name, &[x])
    }

    /// `powi x, n` in the form the interpreter computes it (`sci_ir::interp::PowiForm`).
    fn powi(&mut self, x: Self::F, n: i32) -> Res<Self::F> {
        match PowiForm::of(n) {
            PowiForm::One => self.f64c(1.0),
            PowiForm::Identity => Ok(x),
            PowiForm::Square => self.fbin(FBin::Mul, x.clone(), x),
            PowiForm::Reciprocal => {
                let one = self.f64c(1.0)?;
                self.fbin(FBin::Div, one, x)
            }
            PowiForm::Pow => {
                let e = self.f64c(f64::from(n))?;
                self.math("pow", &[x, e])
            }
        }
    }

    fn binary(&mut self, op: BinaryOp, a: Self::F, b: Self::F) -> Res<Self::F> {
        match op {
            BinaryOp::Add => self.fbin(FBin::Add, a, b),
            BinaryOp::Sub => self.fbin(FBin::Sub, a, b),
            BinaryOp::Mul => self.fbin(FBin::Mul, a, b),
            BinaryOp::Div => self.fbin(FBin::Div, a, b),
            BinaryOp::Pow => self.math("pow", &[a, b]),
            BinaryOp::Atan2 => self.math("atan2", &[a, b]),
            BinaryOp::Min => self.min_nan(a, b),
            BinaryOp::Max => self.max_nan(a, b),
            BinaryOp::And | BinaryOp::Or => {
                let x = self.truthy(a)?;
                let y = self.truthy(b)?;
                let logic = if op == BinaryOp::And {
                    BBin::And
                } else {
                    BBin::Or
                };
                let c = self.bbin(logic, x, y)?;
                self.bool_to_f64(c)
            }
        }
    }

    fn compare(&mut self, op: CmpOp, a: Self::F, b: Self::F) -> Res<Self::F> {
        let cc = match op {
            CmpOp::Eq => FCmp::Eq,
            CmpOp::Ne => FCmp::Ne,
            CmpOp::Lt => FCmp::Lt,
            CmpOp::Le => FCmp::Le,
            CmpOp::Gt => FCmp::Gt,
            CmpOp::Ge => FCmp::Ge,
        };
        let c = self.fcmp(cc, a, b)?;
        self.bool_to_f64(c)
    }

    /// `c != 0 ? a : b`.
    fn select(&mut self, c: Self::F, a: Self::F, b: Self::F) -> Res<Self::F> {
        let t = self.truthy(c)?;
        self.select_f(t, a, b)
    }

    /// Conversion to `to` (the rounding to `f32` is done by the caller for every op).
    fn cast(&mut self, x: Self::F, to: DType) -> Res<Self::F> {
        match to {
            DType::F64 | DType::F32 => Ok(x),
            DType::I64 => self.trunc_to_int(x),
            DType::Bool => {
                let c = self.truthy(x)?;
                self.bool_to_f64(c)
            }
        }
    }

    /// Combines `acc` with `x` for `op` (sum and mean add; max/min take `x` on the first
    /// item, when `first` holds).
    fn combine(
        &mut self,
        op: ReduceOp,
        acc: Self::F,
        x: Self::F,
        first: Option<Self::B>,
    ) -> Res<Self::F> {
        match op {
            ReduceOp::Sum | ReduceOp::Mean => self.fbin(FBin::Add, acc, x),
            ReduceOp::Prod => self.fbin(FBin::Mul, acc, x),
            ReduceOp::Max | ReduceOp::Min => {
                let r = if op == ReduceOp::Max {
                    self.max_nan(acc, x.clone())?
                } else {
                    self.min_nan(acc, x.clone())?
                };
                match first {
                    Some(f) => self.select_f(f, x, r),
                    None => Ok(r),
                }
            }
        }
    }

    /// The starting accumulator of `op` (NaN for max/min, replaced by the first item).
    fn start(&mut self, op: ReduceOp) -> Res<Self::F> {
        self.f64c(match op {
            ReduceOp::Sum | ReduceOp::Mean => 0.0,
            ReduceOp::Prod => 1.0,
            ReduceOp::Max | ReduceOp::Min => f64::NAN,
        })
    }
}

impl<'a, E: Emit<'a>> Scalars<'a> for E {}
