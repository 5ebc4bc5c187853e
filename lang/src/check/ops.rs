//! Typing rules of operators: dtype promotion, shape broadcasting, batches and units.
//!
//! - Arithmetic needs numbers; `Int` operands become `Real` (`ToReal`) unless both are
//!   `Int` in `+ - *` (index arithmetic). `/` always gives `Real`.
//! - Shapes must be equal, or one a scalar, or one a trailing suffix of the other.
//! - Batches: an unbatched value combines with any batch; two different batches never mix.
//! - Units: `+ - min max atan2`, comparisons and `if` branches need equal units; `*` and `/`
//!   multiply and divide them; literals adapt to the other side (`x + 1`, `t == 0`).

use super::env::{Checker, Val};
use super::fold;
use crate::ast::{self, BinaryOp};
use crate::hir::{BatchKind, Binary, Compare, HExpr, HExprKind, Scalar, Ty, Unary};
use sci_diag::{Diagnostic, Span};
use sci_ir::Unit;
use sci_ir::unit::Rational;

/// Largest number of elements of any value (keeps folding and allocation bounded).
pub const MAX_ELEMENTS: usize = 100_000_000;

/// Converts an `Int`/`Bool` expression to `Real` (constants directly).
pub fn to_real(h: HExpr) -> HExpr {
    if h.ty.scalar == Scalar::Real {
        return h;
    }
    let ty = Ty {
        scalar: Scalar::Real,
        ..h.ty.clone()
    };
    match h.kind {
        HExprKind::Const(v) => HExpr {
            kind: HExprKind::Const(v),
            ty,
            span: h.span,
        },
        HExprKind::ConstArray(v) => HExpr {
            kind: HExprKind::ConstArray(v),
            ty,
            span: h.span,
        },
        _ => {
            let span = h.span;
            HExpr {
                kind: HExprKind::ToReal(Box::new(h)),
                ty,
                span,
            }
        }
    }
}

/// The shape two elementwise operands broadcast to.
pub fn broadcast(a: &[usize], b: &[usize]) -> Option<Vec<usize>> {
    if a == b || b.is_empty() || (a.len() > b.len() && a.ends_with(b)) {
        Some(a.to_vec())
    } else if a.is_empty() || (b.len() > a.len() && b.ends_with(a)) {
        Some(b.to_vec())
    } else {
        None
    }
}

impl<'f> Checker<'f> {
    /// The batch of a combination of two values, or an error if they mix two batches.
    pub fn join_batch(
        &mut self,
        a: Option<BatchKind>,
        b: Option<BatchKind>,
        span_a: Span,
        span_b: Span,
    ) -> Option<Option<BatchKind>> {
        match (a, b) {
            (None, x) | (x, None) => Some(x),
            (Some(x), Some(y)) if x == y => Some(Some(x)),
            (Some(x), Some(y)) => {
                let dx = self.batch_desc(x);
                let dy = self.batch_desc(y);
                self.report(
                    Diagnostic::error(
                        "E0307",
                        format!("This combines values of {dx} with values of {dy}."),
                    )
                    .with_primary(span_a, format!("one value per {}", batch_item(x)))
                    .with_secondary(span_b, format!("one value per {}", batch_item(y)))
                    .with_note(
                        "the two batches have different points, so their values cannot be paired",
                    )
                    .with_help("reduce each one first, e.g. `mean(a^2) + mean(b^2)`"),
                );
                None
            }
        }
    }

    /// Words for a batch: "the points of the residual `pde`".
    pub fn batch_desc(&self, b: BatchKind) -> String {
        let model = self.model.as_ref();
        match b {
            BatchKind::Residual(r) => {
                let name = model
                    .and_then(|m| {
                        m.names
                            .iter()
                            .find(|(_, v)| v.0 == super::env::MemberRef::Residual(r))
                    })
                    .map(|(n, _)| n.clone())
                    .unwrap_or_default();
                format!("the points of the residual `{name}`")
            }
            BatchKind::Data(d) => {
                let name = model
                    .and_then(|m| {
                        m.names
                            .iter()
                            .find(|(_, v)| v.0 == super::env::MemberRef::Data(d))
                    })
                    .map(|(n, _)| n.clone())
                    .unwrap_or_default();
                format!("the rows of the data set `{name}`")
            }
        }
    }

    /// The shape two operands broadcast to, or a shape error showing both.
    pub fn join_shape(&mut self, what: &str, a: &Val, b: &Val) -> Option<Vec<usize>> {
        match broadcast(&a.ty().shape, &b.ty().shape) {
            Some(s) => Some(s),
            None => {
                let (sa, sb) = (
                    self.shape_desc(&a.ty().shape),
                    self.shape_desc(&b.ty().shape),
                );
                self.report(
                    Diagnostic::error(
                        "E0302",
                        format!("Cannot {what} values of shapes {sa} and {sb}."),
                    )
                    .with_primary(a.h.span, format!("shape {sa}"))
                    .with_secondary(b.h.span, format!("shape {sb}"))
                    .with_note("elementwise operations need equal shapes, or a scalar on one side"),
                );
                None
            }
        }
    }

    /// Replaces a literal by a constant in `unit` (its value is unchanged: `1` next to
    /// metres is one metre).
    pub fn adapt_literal(&self, v: &mut Val, unit: Option<Unit>) {
        if !v.flex {
            return;
        }
        v.flex = false;
        if let Ok(t) = fold::eval(&self.functions, &v.h) {
            let ty = Ty {
                unit,
                ..v.h.ty.clone()
            };
            v.h = if ty.shape.is_empty() {
                HExpr {
                    kind: HExprKind::Const(t.first()),
                    ty,
                    span: v.h.span,
                }
            } else {
                HExpr {
                    kind: HExprKind::ConstArray(t.data),
                    ty,
                    span: v.h.span,
                }
            };
        } else {
            v.h.ty.unit = unit;
        }
    }

    /// Makes the units of two operands equal (adapting a literal), or reports both units.
    /// `what` completes "Cannot … a value in m and a value in s".
    pub fn same_units(&mut self, what: &str, a: &mut Val, b: &mut Val) -> bool {
        let (ua, ub) = (a.ty().unit, b.ty().unit);
        let (Some(ua), Some(ub)) = (ua, ub) else {
            return true;
        };
        if a.flex && !b.flex {
            self.adapt_literal(a, Some(ub));
            return true;
        }
        if b.flex && !a.flex {
            self.adapt_literal(b, Some(ua));
            return true;
        }
        if ua == ub {
            return true;
        }
        let (pa, pb) = (crate::units::Pretty(ua), crate::units::Pretty(ub));
        let d = self.unit_mismatch(
            format!("Cannot {what} a value in {pa} and a value in {pb}."),
            (a.h.span, ua),
            (b.h.span, ub),
        );
        self.report(d);
        false
    }

    /// A unit-mismatch diagnostic with both sides labelled and, when only the scale
    /// differs, the conversion factor.
    pub fn unit_mismatch(
        &self,
        message: String,
        left: (Span, Unit),
        right: (Span, Unit),
    ) -> Diagnostic {
        let (l, r) = (crate::units::Pretty(left.1), crate::units::Pretty(right.1));
        let mut d = Diagnostic::error("E0402", message)
            .with_primary(left.0, format!("this is in {l}"))
            .with_secondary(right.0, format!("this is in {r}"));
        if left.1.same_dimension(&right.1) {
            let factor = right.1.scale / left.1.scale;
            let ratio = crate::units::ratio(&left.1, &right.1);
            d = d
                .with_note(format!("both measure the same dimension, but 1 {r} = {factor} {l}"))
                .with_help(format!(
                    "convert with a constant: `const factor: {ratio} = {factor}`, then multiply the value in {r} by `factor`"
                ));
        }
        d
    }

    /// A value in `got` where `want` is required (a declaration, an argument, a result):
    /// E0402 with the value as the primary label, `target` as the secondary, and, when only
    /// the scale differs, the constant that converts *the value* (`const factor: want/got`),
    /// so applying the help fixes the value rather than the declaration.
    pub fn conversion_to(
        &self,
        message: String,
        value: (Span, Unit),
        target: (Span, String),
        want: Unit,
    ) -> Diagnostic {
        let got = value.1;
        let (pw, pg) = (crate::units::Pretty(want), crate::units::Pretty(got));
        let mut d =
            Diagnostic::error("E0402", message).with_primary(value.0, format!("this is in {pg}"));
        if target.0 != value.0 {
            d = d.with_secondary(target.0, target.1);
        }
        if got.same_dimension(&want) {
            let factor = got.scale / want.scale;
            let ratio = crate::units::ratio(&want, &got);
            d = d
                .with_note(format!("both measure the same dimension, but 1 {pg} = {factor} {pw}"))
                .with_help(format!(
                    "convert with a constant: `const factor: {ratio} = {factor}`, then multiply this value by `factor`"
                ));
        }
        d
    }

    /// Requires a number (not a boolean); converts nothing.
    pub fn numeric(&mut self, v: &Val, what: &str) -> bool {
        if v.ty().scalar == Scalar::Bool {
            self.report(
                Diagnostic::error("E0301", format!("{what} needs a number, but this is a true/false value."))
                    .with_primary(v.h.span, "a boolean")
                    .with_help("comparisons give true/false; use `if cond then a else b` to turn them into numbers"),
            );
            return false;
        }
        true
    }

    /// Requires a boolean.
    pub fn boolean(&mut self, v: &Val, what: &str) -> bool {
        if v.ty().scalar != Scalar::Bool {
            let desc = self.ty_desc(v.ty());
            self.report(
                Diagnostic::error(
                    "E0301",
                    format!("{what} needs a true/false value, but this is a {desc}."),
                )
                .with_primary(v.h.span, "not a condition")
                .with_help("write a comparison such as `x > 0`"),
            );
            return false;
        }
        true
    }

    /// Checks `a op b`.
    pub fn binary(
        &mut self,
        op: BinaryOp,
        a: &ast::Expr,
        b: &ast::Expr,
        span: Span,
    ) -> Option<Val> {
        let va = self.expr(a);
        let vb = self.expr(b);
        let (a, b) = (va?, vb?);
        match op {
            BinaryOp::And | BinaryOp::Or => self.logical(op, a, b, span),
            BinaryOp::Add | BinaryOp::Sub => self.additive(op, a, b, span),
            BinaryOp::Mul | BinaryOp::Div => self.multiplicative(op, a, b, span),
            BinaryOp::Pow => self.power(a, b, span),
            _ => self.comparison(op, a, b, span),
        }
    }

    fn logical(&mut self, op: BinaryOp, a: Val, b: Val, span: Span) -> Option<Val> {
        let what = format!("`{}`", op.symbol());
        if !(self.boolean(&a, &what) & self.boolean(&b, &what)) {
            return None;
        }
        let shape = self.join_shape("combine", &a, &b)?;
        let batch = self.join_batch(a.ty().batch, b.ty().batch, a.h.span, b.h.span)?;
        let bop = if op == BinaryOp::And {
            Binary::And
        } else {
            Binary::Or
        };
        let ty = Ty {
            shape,
            batch,
            ..Ty::boolean()
        };
        Some(Val::fixed(Self::mk(
            HExprKind::Binary(bop, Box::new(a.h), Box::new(b.h)),
            ty,
            span,
        )))
    }

    /// Shared part of `+ - min max atan2`: equal units, promoted dtype.
    pub fn same_unit_pair(
        &mut self,
        what: &str,
        verb: &str,
        mut a: Val,
        mut b: Val,
        keep_int: bool,
    ) -> Option<(HExpr, HExpr, Ty, bool)> {
        if !(self.numeric(&a, what) & self.numeric(&b, what)) {
            return None;
        }
        let shape = self.join_shape(verb, &a, &b)?;
        let batch = self.join_batch(a.ty().batch, b.ty().batch, a.h.span, b.h.span)?;
        if !self.same_units(verb, &mut a, &mut b) {
            return None;
        }
        let flex = a.flex && b.flex;
        let both_int = a.ty().scalar == Scalar::Int && b.ty().scalar == Scalar::Int;
        let unit = a.ty().unit.or(b.ty().unit);
        let (ha, hb, scalar) = if both_int && keep_int {
            (a.h, b.h, Scalar::Int)
        } else {
            (to_real(a.h), to_real(b.h), Scalar::Real)
        };
        let ty = Ty {
            scalar,
            shape,
            batch,
            unit,
        };
        Some((ha, hb, ty, flex))
    }

    fn additive(&mut self, op: BinaryOp, a: Val, b: Val, span: Span) -> Option<Val> {
        let (verb, bop) = if op == BinaryOp::Add {
            ("add", Binary::Add)
        } else {
            ("subtract", Binary::Sub)
        };
        let (ha, hb, ty, flex) =
            self.same_unit_pair(&format!("`{}`", op.symbol()), verb, a, b, true)?;
        Some(Val {
            h: Self::mk(HExprKind::Binary(bop, Box::new(ha), Box::new(hb)), ty, span),
            flex,
        })
    }

    fn comparison(&mut self, op: BinaryOp, a: Val, b: Val, span: Span) -> Option<Val> {
        let cop = match op {
            BinaryOp::Eq => Compare::Eq,
            BinaryOp::Ne => Compare::Ne,
            BinaryOp::Lt => Compare::Lt,
            BinaryOp::Le => Compare::Le,
            BinaryOp::Gt => Compare::Gt,
            _ => Compare::Ge,
        };
        let (ha, hb, ty, _) =
            self.same_unit_pair(&format!("`{}`", op.symbol()), "compare", a, b, true)?;
        let ty = Ty {
            scalar: Scalar::Bool,
            unit: None,
            ..ty
        };
        Some(Val::fixed(Self::mk(
            HExprKind::Compare(cop, Box::new(ha), Box::new(hb)),
            ty,
            span,
        )))
    }

    fn multiplicative(&mut self, op: BinaryOp, a: Val, b: Val, span: Span) -> Option<Val> {
        let what = format!("`{}`", op.symbol());
        if !(self.numeric(&a, &what) & self.numeric(&b, &what)) {
            return None;
        }
        let verb = if op == BinaryOp::Mul {
            "multiply"
        } else {
            "divide"
        };
        let shape = self.join_shape(verb, &a, &b)?;
        let batch = self.join_batch(a.ty().batch, b.ty().batch, a.h.span, b.h.span)?;
        let unit = match (a.ty().unit, b.ty().unit) {
            (Some(ua), Some(ub)) => {
                let u = if op == BinaryOp::Mul {
                    ua.mul(&ub)
                } else {
                    ua.div(&ub)
                };
                match u {
                    Some(u) => Some(u),
                    None => {
                        self.report(
                            Diagnostic::error(
                                "E0406",
                                "The unit of this product is too large to represent.",
                            )
                            .with_primary(span, "unit exponents overflow"),
                        );
                        return None;
                    }
                }
            }
            _ => None,
        };
        let flex = a.flex && b.flex;
        let both_int = a.ty().scalar == Scalar::Int && b.ty().scalar == Scalar::Int;
        let (ha, hb, scalar) = if both_int && op == BinaryOp::Mul {
            (a.h, b.h, Scalar::Int)
        } else {
            (to_real(a.h), to_real(b.h), Scalar::Real)
        };
        let bop = if op == BinaryOp::Mul {
            Binary::Mul
        } else {
            Binary::Div
        };
        let ty = Ty {
            scalar,
            shape,
            batch,
            unit,
        };
        Some(Val {
            h: Self::mk(HExprKind::Binary(bop, Box::new(ha), Box::new(hb)), ty, span),
            flex,
        })
    }

    /// `a ^ b`: a constant whole exponent gives `Powi` (any unit); a constant fraction
    /// gives a real power with a rational unit; otherwise both sides must be dimensionless.
    fn power(&mut self, a: Val, b: Val, span: Span) -> Option<Val> {
        if !(self.numeric(&a, "`^`") & self.numeric(&b, "`^`")) {
            return None;
        }
        if !b.ty().shape.is_empty() {
            let sb = self.shape_desc(&b.ty().shape);
            self.report(
                Diagnostic::error(
                    "E0302",
                    format!("The exponent of `^` must be a scalar, but it has shape {sb}."),
                )
                .with_primary(b.h.span, format!("shape {sb}")),
            );
            return None;
        }
        let flex = a.flex && b.flex;
        let base_unit = a.ty().unit;
        let exponent = if b.ty().batch.is_none() {
            fold::eval(&self.functions, &b.h).ok().map(|t| t.first())
        } else {
            None
        };
        if let Some(bu) = b.ty().unit
            && !b.flex
            && !bu.is_dimensionless()
        {
            let bu = crate::units::Pretty(bu);
            self.report(
                Diagnostic::error(
                    "E0404",
                    format!("The exponent of `^` must be dimensionless, but it is in {bu}."),
                )
                .with_primary(b.h.span, format!("this is in {bu}")),
            );
            return None;
        }
        if let Some(n) = exponent
            && n.fract() == 0.0
            && n.abs() <= 1024.0
        {
            let n = n as i32;
            let unit = match base_unit {
                Some(u) => Some(self.pow_unit(u, Rational::int(n), span)?),
                None => None,
            };
            let ty = Ty {
                scalar: Scalar::Real,
                unit,
                ..a.ty().clone()
            };
            return Some(Val {
                h: Self::mk(HExprKind::Powi(Box::new(to_real(a.h)), n), ty, span),
                flex,
            });
        }
        let unit = match base_unit {
            Some(u) if !u.is_dimensionless() => {
                let Some(p) = exponent.and_then(as_fraction) else {
                    let u = crate::units::Pretty(u);
                    let what = if exponent.is_some() {
                        "a simple fraction such as 1/2 or 3/2"
                    } else {
                        "a constant"
                    };
                    self.report(
                        Diagnostic::error(
                            "E0404",
                            format!("`^` of a value in {u} needs an exponent that is {what}."),
                        )
                        .with_primary(b.h.span, "this exponent")
                        .with_secondary(a.h.span, format!("this is in {u}"))
                        .with_note("the unit of the result would depend on the exponent's value")
                        .with_help("divide the base by a constant of its unit to make it dimensionless first"),
                    );
                    return None;
                };
                Some(self.pow_unit(u, p, span)?)
            }
            other => other,
        };
        let shape = a.ty().shape.clone();
        let batch = self.join_batch(a.ty().batch, b.ty().batch, a.h.span, b.h.span)?;
        let ty = Ty {
            scalar: Scalar::Real,
            shape,
            batch,
            unit,
        };
        Some(Val {
            h: Self::mk(
                HExprKind::Binary(Binary::Pow, Box::new(to_real(a.h)), Box::new(to_real(b.h))),
                ty,
                span,
            ),
            flex,
        })
    }

    /// `unit ^ p`, reporting overflow.
    pub fn pow_unit(&mut self, unit: Unit, p: Rational, span: Span) -> Option<Unit> {
        match unit.powr(p) {
            Some(u) => Some(u),
            None => {
                self.report(
                    Diagnostic::error("E0406", "The unit of this power is too large to represent.")
                        .with_primary(span, "unit exponents overflow"),
                );
                None
            }
        }
    }

    /// Checks a prefix operator.
    pub fn unary(&mut self, op: ast::UnaryOp, a: &ast::Expr, span: Span) -> Option<Val> {
        let v = self.expr(a)?;
        match op {
            ast::UnaryOp::Plus => {
                if !self.numeric(&v, "unary `+`") {
                    return None;
                }
                Some(v)
            }
            ast::UnaryOp::Neg => {
                if !self.numeric(&v, "`-`") {
                    return None;
                }
                let ty = v.ty().clone();
                let h = match v.h.kind {
                    HExprKind::Const(c) => Self::mk(HExprKind::Const(-c), ty, span),
                    kind => Self::mk(
                        HExprKind::Unary(Unary::Neg, Box::new(HExpr { kind, ..v.h })),
                        ty,
                        span,
                    ),
                };
                Some(Val { h, flex: v.flex })
            }
            ast::UnaryOp::Not => {
                if !self.boolean(&v, "`not`") {
                    return None;
                }
                let ty = v.ty().clone();
                Some(Val::fixed(Self::mk(
                    HExprKind::Unary(Unary::Not, Box::new(v.h)),
                    ty,
                    span,
                )))
            }
        }
    }
}

/// Words for one element of a batch.
fn batch_item(b: BatchKind) -> &'static str {
    match b {
        BatchKind::Residual(_) => "collocation point",
        BatchKind::Data(_) => "data row",
    }
}

/// `x` as a fraction with a small denominator, if it is one (0.5 → 1/2).
fn as_fraction(x: f64) -> Option<Rational> {
    (1..=12).find_map(|den| {
        let num = x * den as f64;
        if (num - num.round()).abs() < 1e-9 && num.abs() < 1e6 {
            Rational::new(num.round() as i64, den)
        } else {
            None
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn broadcasting_rules() {
        assert_eq!(broadcast(&[3], &[]), Some(vec![3]));
        assert_eq!(broadcast(&[], &[2, 2]), Some(vec![2, 2]));
        assert_eq!(broadcast(&[4, 3], &[3]), Some(vec![4, 3]));
        assert_eq!(broadcast(&[3], &[4]), None);
        assert_eq!(broadcast(&[3, 4], &[3]), None);
    }

    #[test]
    fn fractions() {
        assert_eq!(as_fraction(0.5), Rational::new(1, 2));
        assert_eq!(as_fraction(1.5), Rational::new(3, 2));
        assert_eq!(as_fraction(1.0 / 3.0), Rational::new(1, 3));
        assert_eq!(as_fraction(std::f64::consts::PI), None);
    }
}
