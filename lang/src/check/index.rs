//! Index range analysis: proving that `u[i-1]` stays inside `u`.
//!
//! An index that is affine in the index variables (`c0 + c1·i + c2·j`) ranges over an
//! interval computed from the variables' ranges. When the interval lies inside the axis,
//! the read needs no check. Otherwise, inside an array definition or an indexed `der`
//! equation, the read gets the Dirichlet fill 0 (neighbours outside the grid read the
//! boundary value 0, see LANGUAGE.md); anywhere else it is an error showing the range.

use super::env::{Checker, Local, Val};
use super::fold;
use crate::ast::Expr;
use crate::hir::{Binary, BinderId, HExpr, HExprKind, Scalar, Ty};
use sci_diag::{Diagnostic, Span};

/// `constant + Σ coefficient·variable`.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Affine {
    pub constant: i128,
    pub terms: Vec<(BinderId, i128)>,
}

impl Affine {
    fn add(mut self, other: Affine, sign: i128) -> Affine {
        // Saturating: absurd coefficients only make the interval wider, never a panic.
        self.constant = self
            .constant
            .saturating_add(sign.saturating_mul(other.constant));
        for (v, c) in other.terms {
            let c = sign.saturating_mul(c);
            match self.terms.iter_mut().find(|(w, _)| *w == v) {
                Some(t) => t.1 = t.1.saturating_add(c),
                None => self.terms.push((v, c)),
            }
        }
        self
    }

    fn scale(mut self, k: i128) -> Affine {
        self.constant = self.constant.saturating_mul(k);
        for t in &mut self.terms {
            t.1 = t.1.saturating_mul(k);
        }
        self
    }

    fn constant_value(&self) -> Option<i128> {
        self.terms
            .iter()
            .all(|(_, c)| *c == 0)
            .then_some(self.constant)
    }
}

/// The affine form of an integer index expression, if it has one.
pub fn affine(h: &HExpr, depth: u32) -> Option<Affine> {
    if depth > 64 {
        return None;
    }
    match &h.kind {
        HExprKind::Const(v) if v.fract() == 0.0 && v.abs() < 1e15 => Some(Affine {
            constant: *v as i128,
            terms: Vec::new(),
        }),
        HExprKind::IndexVar(id) => Some(Affine {
            constant: 0,
            terms: vec![(*id, 1)],
        }),
        HExprKind::Unary(crate::hir::Unary::Neg, a) => Some(affine(a, depth + 1)?.scale(-1)),
        HExprKind::Binary(Binary::Add, a, b) => {
            Some(affine(a, depth + 1)?.add(affine(b, depth + 1)?, 1))
        }
        HExprKind::Binary(Binary::Sub, a, b) => {
            Some(affine(a, depth + 1)?.add(affine(b, depth + 1)?, -1))
        }
        HExprKind::Binary(Binary::Mul, a, b) => {
            let (fa, fb) = (affine(a, depth + 1)?, affine(b, depth + 1)?);
            if let Some(k) = fa.constant_value() {
                Some(fb.scale(k))
            } else {
                fb.constant_value().map(|k| fa.scale(k))
            }
        }
        _ => None,
    }
}

impl<'f> Checker<'f> {
    /// `base[indices]` on an already checked base.
    pub fn index(&mut self, base: Val, indices: &[Expr], span: Span) -> Option<Val> {
        let mut checked = Vec::new();
        let mut ok = true;
        for ix in indices {
            match self.index_value(ix) {
                Some(h) => checked.push(h),
                None => ok = false,
            }
        }
        if !ok {
            return None;
        }
        let shape = base.ty().shape.clone();
        if indices.len() > shape.len() {
            let message = if shape.is_empty() {
                "This value is a scalar; it has no elements to index.".to_string()
            } else {
                format!(
                    "This array has shape {} ({} axes) but is indexed with {} indices.",
                    self.shape_desc(&shape),
                    shape.len(),
                    indices.len()
                )
            };
            self.report(
                Diagnostic::error("E0306", message)
                    .with_primary(span, format!("{} indices", indices.len()))
                    .with_secondary(base.h.span, self.ty_desc(base.ty())),
            );
            return None;
        }
        let mut fill = None;
        for (k, h) in checked.iter().enumerate() {
            let dim = shape.get(k).copied().unwrap_or(0);
            if !self.index_in_range(h, dim, &base, indices.get(k).map_or(span, |e| e.span)) {
                if self.scope.stencil {
                    fill = Some(0.0);
                } else {
                    return None;
                }
            }
        }
        let ty = Ty {
            shape: shape.get(indices.len()..).unwrap_or(&[]).to_vec(),
            ..base.ty().clone()
        };
        Some(Val::fixed(Self::mk(
            HExprKind::Index {
                base: Box::new(base.h),
                indices: checked,
                fill,
            },
            ty,
            span,
        )))
    }

    /// One index: an `Int` scalar, or a constant whole number.
    fn index_value(&mut self, e: &Expr) -> Option<HExpr> {
        let v = self.expr(e)?;
        if !v.ty().shape.is_empty() || v.ty().batch.is_some() {
            let desc = self.ty_desc(v.ty());
            self.report(
                Diagnostic::error(
                    "E0303",
                    format!("An index must be a single whole number, but this is a {desc}."),
                )
                .with_primary(e.span, "not a scalar index"),
            );
            return None;
        }
        if let Some(u) = v.ty().unit
            && !v.flex
            && !u.is_dimensionless()
        {
            let u = crate::units::Pretty(u);
            self.report(
                Diagnostic::error(
                    "E0303",
                    format!("An index must be a plain number, but this is in {u}."),
                )
                .with_primary(e.span, format!("this is in {u}")),
            );
            return None;
        }
        match v.ty().scalar {
            Scalar::Int => Some(v.h),
            Scalar::Bool => {
                self.report(
                    Diagnostic::error(
                        "E0303",
                        "An index must be a whole number, but this is a true/false value.",
                    )
                    .with_primary(e.span, "a boolean index"),
                );
                None
            }
            Scalar::Real => match fold::eval(&self.functions, &v.h) {
                Ok(t) if t.first().fract() == 0.0 && t.first().abs() < 9.0e15 => {
                    let ty = Ty {
                        unit: self.dimensionless(),
                        ..Ty::int()
                    };
                    Some(Self::mk(HExprKind::Const(t.first()), ty, e.span))
                }
                Ok(t) => {
                    self.report(
                        Diagnostic::error(
                            "E0303",
                            format!(
                                "An index must be a whole number, but this is {}.",
                                t.first()
                            ),
                        )
                        .with_primary(e.span, format!("= {}", t.first()))
                        .with_help(
                            "round it with `floor(…)` in a constant, or use integer arithmetic",
                        ),
                    );
                    None
                }
                Err(_) => {
                    self.report(
                        Diagnostic::error("E0303", "An index must be a whole number, but this is a real number.")
                            .with_primary(e.span, "a real-valued index")
                            .with_note("index arithmetic uses `+`, `-` and `*` on index variables and whole-number constants; `/` gives a real number"),
                    );
                    None
                }
            },
        }
    }

    /// The interval `[lo, hi]` an affine index takes over the ranges of its variables.
    fn interval(&self, a: &Affine) -> Option<(i128, i128)> {
        let mut lo = a.constant;
        let mut hi = a.constant;
        for (id, c) in &a.terms {
            let (start, end) = self.scope.locals.iter().find_map(|l| match l {
                Local::Index {
                    id: b, start, end, ..
                } if b == id => Some((*start as i128, *end as i128)),
                _ => None,
            })?;
            if end <= start {
                // An empty range: the read never happens.
                return Some((0, -1));
            }
            let (x, y) = (c.saturating_mul(start), c.saturating_mul(end - 1));
            lo = lo.saturating_add(x.min(y));
            hi = hi.saturating_add(x.max(y));
        }
        Some((lo, hi))
    }

    /// True if the index `h` into an axis of length `dim` provably stays in range. Reports
    /// an error (returning false) when it does not and no fill applies; returns false
    /// silently inside stencils (the caller sets the fill).
    pub fn index_in_range(&mut self, h: &HExpr, dim: usize, base: &Val, span: Span) -> bool {
        let dim = dim as i128;
        let Some((form, (lo, hi))) = affine(h, 0).and_then(|f| self.interval(&f).map(|i| (f, i)))
        else {
            if self.scope.stencil {
                return false;
            }
            if self.scope.probe {
                // Checked again with concrete sizes at each instantiation.
                return true;
            }
            self.report(
                Diagnostic::error("E0304", "sci cannot prove that this index stays inside the array.")
                    .with_primary(span, "index not provably in range")
                    .with_secondary(base.h.span, format!("this has {dim} elements along this axis"))
                    .with_note("indices are checked when they are sums of index variables times whole numbers plus a constant")
                    .with_help("write the index as `i + k` or `k*i`, or use it inside an array definition where outside reads give 0"),
            );
            return false;
        };
        if lo > hi || (lo >= 0 && hi < dim) {
            return true;
        }
        let constant = form.constant_value().is_some();
        if self.scope.stencil && !constant {
            // A neighbour (`u[i - 1]`, `u[i + 2]`) steps outside by at most its offset; a
            // read that overruns further (`w[i]` with `w` shorter than `i`'s range) is a
            // size mismatch, not a boundary: it still reads the fill, with a warning.
            let reach = form.constant.saturating_abs();
            let overrun = (hi - (dim - 1)).max(-lo);
            if overrun > reach && !self.scope.probe {
                let range = format!("{}..={}", self.count_desc(lo), self.count_desc(hi));
                self.report(
                    Diagnostic::warning(
                        "W0202",
                        format!(
                            "This index runs over {range}, but the array has {} elements \
                             along this axis: the reads past its end give 0.",
                            self.count_desc(dim)
                        ),
                    )
                    .with_primary(span, format!("index takes {range}"))
                    .with_secondary(base.h.span, format!("{} elements", self.count_desc(dim)))
                    .with_note(
                        "reads outside an array give 0 for grid neighbours such as `u[i - 1]`, \
                         which step past the edge by their offset; this one steps further",
                    )
                    .with_help("make the sizes agree, or shrink the index range"),
                );
            }
            return false;
        }
        // With probe sizes, a read outside the array is outside for every size (the probe
        // sizes are large), so it is reported in terms of the shape variable.
        let range = if lo == hi {
            format!("the value {}", self.count_desc(lo))
        } else {
            format!(
                "the values {}..={}",
                self.count_desc(lo),
                self.count_desc(hi)
            )
        };
        let (last, count) = (self.count_desc(dim - 1), self.count_desc(dim));
        let mut d = Diagnostic::error(
            "E0304",
            format!("This index takes {range}, but the array has indices 0..={last}."),
        )
        .with_primary(span, format!("index takes {range}"))
        .with_secondary(base.h.span, format!("{count} elements along this axis"));
        if !constant {
            d = d.with_help("shrink the index range, or define the array elementwise (`let v[i in 0..n] = …`) where reads outside the grid give 0");
        }
        self.report(d);
        false
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::hir::Ty;
    use sci_diag::FileId;

    fn sp() -> Span {
        Span::new(FileId(0), 0, 0)
    }
    fn var(i: u32) -> HExpr {
        HExpr {
            kind: HExprKind::IndexVar(BinderId(i)),
            ty: Ty::int(),
            span: sp(),
        }
    }
    fn c(v: f64) -> HExpr {
        HExpr {
            kind: HExprKind::Const(v),
            ty: Ty::int(),
            span: sp(),
        }
    }
    fn bin(op: Binary, a: HExpr, b: HExpr) -> HExpr {
        HExpr {
            kind: HExprKind::Binary(op, Box::new(a), Box::new(b)),
            ty: Ty::int(),
            span: sp(),
        }
    }

    #[test]
    fn affine_forms() {
        let e = bin(Binary::Sub, bin(Binary::Mul, c(2.0), var(0)), c(1.0));
        assert_eq!(
            affine(&e, 0),
            Some(Affine {
                constant: -1,
                terms: vec![(BinderId(0), 2)]
            })
        );
        assert_eq!(affine(&bin(Binary::Mul, var(0), var(1)), 0), None);
        let cancel = bin(Binary::Sub, var(0), var(0));
        assert_eq!(affine(&cancel, 0).unwrap().constant_value(), Some(0));
    }
}
