//! `interp(data.column, at, method: linear)`: a column of a data set as a function of the
//! set's first (time) column, so measured inputs (a temperature, a dose rate, a rainfall
//! series) can drive the equations.
//!
//! The values are read when checking, through the host's [`TableSource`] (this crate does
//! no I/O), and the interpolant is written out in terms of ordinary expressions: with the
//! knots `x₀ < … < x_{n−1}` as constant arrays, each segment contributes its piece where
//! `x_k ≤ t < x_{k+1}` and the pieces are summed. Everything after the checker (folding,
//! derivatives, every back end) handles it unchanged, and `∂/∂t` — which the Jacobian needs
//! when the argument depends on a state — is the piece's slope. An evaluation costs O(n);
//! for series of up to a few thousand points that is a fraction of a right-hand side.
//!
//! Methods: `linear` (default), `cubic` (a natural cubic spline: continuous first and
//! second derivatives, which adaptive steppers like), `previous` (the last value at or
//! before `t`: a schedule of set points). Outside the data's time range the value is held
//! at the end values; the runtime refuses a solve whose span leaves that range, through the
//! manifest's `input` facts ([`InputHir`]).

use super::env::{Checker, Val};
use super::ops::to_real;
use crate::ast::{self, Expr, ExprKind};
use crate::hir::{Binary, Compare, DataId, HExpr, HExprKind, InputHir, Reduction, Ty};
use sci_diag::{Diagnostic, Span};
use sci_ir::Unit;

/// How a host gives the checker the values of data sets used as inputs (`interp`).
pub trait TableSource {
    /// The declared `columns` of the data set `name`, read from the file at `path` (as the
    /// model wrote it, relative to the model file), each as a vector of values in the
    /// declared order; or why not.
    fn columns(&self, name: &str, path: &str, columns: &[String]) -> Result<Vec<Vec<f64>>, String>;
}

/// The interpolation methods.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Method {
    Linear,
    Cubic,
    Previous,
}

const METHODS: &[(&str, Method)] = &[
    ("linear", Method::Linear),
    ("cubic", Method::Cubic),
    ("previous", Method::Previous),
];

/// The knots and values of one column, checked.
struct Series {
    x: Vec<f64>,
    y: Vec<f64>,
}

impl Checker<'_> {
    /// `interp(data.column, at, method: …)`.
    pub fn interp(&mut self, callee: &ast::Ident, args: &[ast::Arg], span: Span) -> Option<Val> {
        let signature = "interp(data.column, t, method: linear)";
        let mut positional = args.iter().filter(|a| a.name.is_none());
        let (Some(column), Some(at)) = (positional.next(), positional.next()) else {
            self.arity(
                callee,
                args.len(),
                "a data column and a time",
                signature,
                span,
            );
            return None;
        };
        if positional.next().is_some() {
            self.arity(
                callee,
                args.len(),
                "a data column and a time",
                signature,
                span,
            );
            return None;
        }
        let mut method = Method::Linear;
        for a in args.iter().filter(|a| a.name.is_some()) {
            let key = a.name.as_ref().map_or("", |n| n.name.as_str());
            let chosen = match (&a.value.kind, key) {
                (ExprKind::Name(id), "method") => METHODS.iter().find(|(n, _)| *n == id.name),
                _ => None,
            };
            match chosen {
                Some((_, m)) => method = *m,
                None => {
                    self.report(
                        Diagnostic::error(
                            "E0230",
                            "`interp` takes `method: linear`, `method: cubic` or `method: previous`.",
                        )
                        .with_primary(a.value.span, "not an interpolation method")
                        .with_help(format!("write `{signature}`")),
                    );
                    return None;
                }
            }
        }
        let (data, col) = self.input_column(&column.value)?;
        let hir = self.model.as_ref()?.data.get(data.index())?.clone()?;
        if col == 0 {
            self.report(
                Diagnostic::error(
                    "E0230",
                    format!(
                        "`{}.{}` is the time column of `{}`: interpolate another column in it.",
                        hir.name, hir.columns[0].0, hir.name
                    ),
                )
                .with_primary(column.value.span, "the time column"),
            );
            return None;
        }
        let time_unit = hir.columns.first().and_then(|c| c.1);
        let value_unit = hir.columns.get(col).and_then(|c| c.1);
        let mut at_val = self.expr(&at.value)?;
        if !self.numeric(&at_val, "The time of `interp`") {
            return None;
        }
        if !at_val.ty().shape.is_empty() || at_val.ty().batch.is_some() {
            let desc = self.ty_desc(at_val.ty());
            self.report(
                Diagnostic::error(
                    "E0302",
                    format!("`interp` takes one time, but this is a {desc}."),
                )
                .with_primary(at.value.span, "not a scalar"),
            );
            return None;
        }
        if at_val.flex {
            self.adapt_literal(&mut at_val, time_unit);
        } else if let (Some(got), Some(want)) = (at_val.ty().unit, time_unit)
            && got != want
        {
            let d = self.conversion_to(
                format!(
                    "The time of `interp` must be in {} (the unit of `{}.{}`), but it is in {}.",
                    crate::units::Pretty(want),
                    hir.name,
                    hir.columns[0].0,
                    crate::units::Pretty(got)
                ),
                (at.value.span, got),
                (at.value.span, String::new()),
                want,
            );
            self.report(d);
            return None;
        }
        let at_h = to_real(at_val.h);
        let Some(series) = self.input_series(data, col, column.value.span) else {
            // No values (no source, or a problem already reported): a typed stand-in, which
            // lowering refuses if it is ever compiled.
            if self.tables.is_none()
                && let Some(m) = self.model.as_mut()
            {
                m.unloaded_inputs.push(span);
            }
            return Some(Val::fixed(Self::mk(
                HExprKind::Const(f64::NAN),
                Ty::real(value_unit),
                span,
            )));
        };
        self.note_input(data, &series, span);
        let h = interpolant(&series, method, at_h, time_unit, value_unit, span);
        Some(Val::fixed(h))
    }

    /// The data set and column index of `obs.column`.
    fn input_column(&mut self, e: &Expr) -> Option<(DataId, usize)> {
        let bad = |this: &mut Self| {
            this.report(
                Diagnostic::error(
                    "E0230",
                    "`interp` interpolates a column of a data set: its first argument is `data.column`.",
                )
                .with_primary(e.span, "not a data column")
                .with_help("declare `data weather(t, temp) = csv(\"weather.csv\")` and write `interp(weather.temp, t)`"),
            );
            None
        };
        let ExprKind::Field { base, field } = &e.kind else {
            return bad(self);
        };
        let ExprKind::Name(id) = &base.kind else {
            return bad(self);
        };
        let found = self.model.as_ref()?.names.get(&id.name).copied();
        let Some((super::env::MemberRef::Data(data), def)) = found else {
            return bad(self);
        };
        self.reference(id.span, def);
        let hir = self.model.as_ref()?.data.get(data.index())?.clone()?;
        let Some(col) = hir.columns.iter().position(|(c, _)| *c == field.name) else {
            let names: Vec<&str> = hir.columns.iter().map(|(c, _)| c.as_str()).collect();
            self.report(
                Diagnostic::error(
                    "E0214",
                    format!("The data set `{}` has no column `{}`.", id.name, field.name),
                )
                .with_primary(field.span, "unknown column")
                .with_note(format!("its columns are: {}", names.join(", ")))
                .with_help("an input's columns are declared: `data weather(t, temp) = csv(…)`"),
            );
            return None;
        };
        if let Some(col_span) = self.column_span(data, col) {
            self.reference(field.span, col_span);
        }
        Some((data, col))
    }

    /// The checked knots and values of column `col` of `data` (read once per data set).
    fn input_series(&mut self, data: DataId, col: usize, at: Span) -> Option<Series> {
        let tables = self.tables?;
        let hir = self.model.as_ref()?.data.get(data.index())?.clone()?;
        let columns = match self.model.as_ref()?.loaded.get(&data) {
            Some(c) => c.clone()?,
            None => {
                let names: Vec<String> = hir.columns.iter().map(|(c, _)| c.clone()).collect();
                let read = match tables.columns(&hir.name, &hir.path, &names) {
                    Ok(c) => Some(c),
                    Err(why) => {
                        self.report(
                            Diagnostic::error(
                                "E0231",
                                format!(
                                    "The data set `{}` is used as an input, but it cannot be read: {why}",
                                    hir.name
                                ),
                            )
                            .with_primary(hir.span, "read when compiling")
                            .with_help("the path is relative to the model file"),
                        );
                        None
                    }
                };
                let read = read.and_then(|c| self.checked_times(&hir, c));
                if let Some(m) = self.model.as_mut() {
                    m.loaded.insert(data, read.clone());
                }
                read?
            }
        };
        let (x, y) = (columns.first()?.clone(), columns.get(col)?.clone());
        if let Some(row) = y.iter().position(|v| !v.is_finite()) {
            self.report(
                Diagnostic::error(
                    "E0231",
                    format!(
                        "Row {} of `{}.{}` is {}, not a finite number.",
                        row + 1,
                        hir.name,
                        hir.columns[col].0,
                        y[row]
                    ),
                )
                .with_primary(at, "interpolated here")
                .with_help("fill or drop the rows without a value"),
            );
            return None;
        }
        Some(Series { x, y })
    }

    /// The time column: at least two rows, finite, strictly increasing.
    fn checked_times(
        &mut self,
        hir: &crate::hir::DataHir,
        columns: Vec<Vec<f64>>,
    ) -> Option<Vec<Vec<f64>>> {
        let times = columns.first()?;
        let name = format!("{}.{}", hir.name, hir.columns.first()?.0);
        let problem = if times.len() < 2 {
            Some(format!(
                "`{name}` has {} row(s); interpolation needs at least two.",
                times.len()
            ))
        } else if let Some(row) = times.iter().position(|t| !t.is_finite()) {
            Some(format!(
                "row {} of `{name}` is {}, not a finite time.",
                row + 1,
                times[row]
            ))
        } else {
            times.windows(2).position(|w| w[1] <= w[0]).map(|k| {
                format!(
                    "the times of `{name}` must increase, but row {} ({}) is not after row {} ({}).",
                    k + 2,
                    times[k + 1],
                    k + 1,
                    times[k]
                )
            })
        };
        if let Some(why) = problem {
            self.report(
                Diagnostic::error(
                    "E0231",
                    format!("The data set `{}` cannot be interpolated: {why}", hir.name),
                )
                .with_primary(hir.span, "its first column is the time")
                .with_help("sort the rows by time and remove repeated times"),
            );
            return None;
        }
        Some(columns)
    }

    /// Records the time range an input covers, for the runtime's check of the solve's span.
    fn note_input(&mut self, data: DataId, series: &Series, at: Span) {
        let Some(m) = self.model.as_mut() else {
            return;
        };
        let Some(hir) = m.data.get(data.index()).cloned().flatten() else {
            return;
        };
        if m.inputs.iter().any(|i| i.data == hir.name) {
            return;
        }
        m.inputs.push(InputHir {
            data: hir.name.clone(),
            path: hir.path.clone(),
            first: series.x.first().copied().unwrap_or(0.0),
            last: series.x.last().copied().unwrap_or(0.0),
            span: at,
        });
    }
}

/// The interpolant at `at` as an expression over constant arrays of the segments.
fn interpolant(
    s: &Series,
    method: Method,
    at: HExpr,
    time_unit: Option<Unit>,
    value_unit: Option<Unit>,
    span: Span,
) -> HExpr {
    let n = s.x.len();
    let segments = n - 1;
    let scalar = |kind, unit| HExpr {
        kind,
        ty: Ty::real(unit),
        span,
    };
    let array = |values: Vec<f64>, unit| HExpr {
        kind: HExprKind::ConstArray(values),
        ty: Ty {
            shape: vec![segments],
            ..Ty::real(unit)
        },
        span,
    };
    let bin = |op, a: HExpr, b: HExpr, unit| {
        let shape = if a.ty.shape.is_empty() {
            b.ty.shape.clone()
        } else {
            a.ty.shape.clone()
        };
        HExpr {
            kind: HExprKind::Binary(op, Box::new(a), Box::new(b)),
            ty: Ty {
                shape,
                ..Ty::real(unit)
            },
            span,
        }
    };
    let (first, last) = (s.x[0], s.x[n - 1]);
    // The time held inside the data's range.
    let held = bin(
        Binary::Min,
        bin(
            Binary::Max,
            at,
            scalar(HExprKind::Const(first), time_unit),
            time_unit,
        ),
        scalar(HExprKind::Const(last), time_unit),
        time_unit,
    );
    let left: Vec<f64> = s.x[..segments].to_vec();
    let right: Vec<f64> = s.x[1..].to_vec();
    // Each segment is [x_k, x_{k+1}); the last one is closed (its right end moved past the
    // last knot), so exactly one segment holds any time of the range.
    let mut open_right = right.clone();
    open_right[segments - 1] = last + (last - first).abs().max(1.0);
    let y_left: Vec<f64> = s.y[..segments].to_vec();
    let y_right: Vec<f64> = s.y[1..].to_vec();
    let width: Vec<f64> = left.iter().zip(&right).map(|(a, b)| b - a).collect();
    let piece = match method {
        Method::Previous => array(y_left, value_unit),
        Method::Linear => {
            // y_k + (y_{k+1} − y_k)·(t − x_k)/(x_{k+1} − x_k)
            let slope: Vec<f64> = (y_left.iter().zip(&y_right).zip(&width))
                .map(|((a, b), h)| (b - a) / h)
                .collect();
            let slope_unit = value_unit.zip(time_unit).and_then(|(v, t)| v.div(&t));
            let dt = bin(
                Binary::Sub,
                held.clone(),
                array(left.clone(), time_unit),
                time_unit,
            );
            bin(
                Binary::Add,
                array(y_left, value_unit),
                bin(Binary::Mul, array(slope, slope_unit), dt, value_unit),
                value_unit,
            )
        }
        Method::Cubic => {
            let m = natural_spline_second_derivatives(&s.x, &s.y);
            // a·y_k + b·y_{k+1} + ((a³ − a)·M_k + (b³ − b)·M_{k+1})·h²/6, with
            // a = (x_{k+1} − t)/h and b = (t − x_k)/h (dimensionless); the M terms carry
            // h²/6 folded in, so they are in the values' unit.
            let dimless = Some(Unit::DIMENSIONLESS).filter(|_| time_unit.is_some());
            let inv_h: Vec<f64> = width.iter().map(|h| 1.0 / h).collect();
            let inv_unit = time_unit.and_then(|t| Unit::DIMENSIONLESS.div(&t));
            let a = bin(
                Binary::Mul,
                bin(
                    Binary::Sub,
                    array(right.clone(), time_unit),
                    held.clone(),
                    time_unit,
                ),
                array(inv_h.clone(), inv_unit),
                dimless,
            );
            let b = bin(
                Binary::Mul,
                bin(
                    Binary::Sub,
                    held.clone(),
                    array(left.clone(), time_unit),
                    time_unit,
                ),
                array(inv_h, inv_unit),
                dimless,
            );
            let cube_minus = |w: HExpr| {
                let cube = HExpr {
                    kind: HExprKind::Powi(Box::new(w.clone()), 3),
                    ty: w.ty.clone(),
                    span,
                };
                bin(Binary::Sub, cube, w, dimless)
            };
            let mk: Vec<f64> = (0..segments)
                .map(|k| m[k] * width[k] * width[k] / 6.0)
                .collect();
            let mk1: Vec<f64> = (0..segments)
                .map(|k| m[k + 1] * width[k] * width[k] / 6.0)
                .collect();
            let linear_part = bin(
                Binary::Add,
                bin(
                    Binary::Mul,
                    a.clone(),
                    array(y_left, value_unit),
                    value_unit,
                ),
                bin(
                    Binary::Mul,
                    b.clone(),
                    array(y_right, value_unit),
                    value_unit,
                ),
                value_unit,
            );
            let curvature = bin(
                Binary::Add,
                bin(
                    Binary::Mul,
                    cube_minus(a),
                    array(mk, value_unit),
                    value_unit,
                ),
                bin(
                    Binary::Mul,
                    cube_minus(b),
                    array(mk1, value_unit),
                    value_unit,
                ),
                value_unit,
            );
            bin(Binary::Add, linear_part, curvature, value_unit)
        }
    };
    let boolean = |kind| HExpr {
        kind,
        ty: Ty {
            shape: vec![segments],
            ..Ty::boolean()
        },
        span,
    };
    let zero = array(vec![0.0; segments], value_unit);
    let after_left = boolean(HExprKind::Compare(
        Compare::Ge,
        Box::new(held.clone()),
        Box::new(array(left, time_unit)),
    ));
    let before_right = boolean(HExprKind::Compare(
        Compare::Lt,
        Box::new(held.clone()),
        Box::new(array(open_right, time_unit)),
    ));
    let in_segment = |v: HExpr| HExpr {
        kind: HExprKind::Select(
            Box::new(after_left.clone()),
            Box::new(HExpr {
                kind: HExprKind::Select(
                    Box::new(before_right.clone()),
                    Box::new(v),
                    Box::new(zero.clone()),
                ),
                ty: zero.ty.clone(),
                span,
            }),
            Box::new(zero.clone()),
        ),
        ty: zero.ty.clone(),
        span,
    };
    let summed = HExpr {
        kind: HExprKind::ReduceAll(Reduction::Sum, Box::new(in_segment(piece))),
        ty: Ty::real(value_unit),
        span,
    };
    if method != Method::Previous {
        return summed;
    }
    // At the last knot itself, the last value.
    let at_end = HExpr {
        kind: HExprKind::Compare(
            Compare::Ge,
            Box::new(held),
            Box::new(scalar(HExprKind::Const(last), time_unit)),
        ),
        ty: Ty::boolean(),
        span,
    };
    HExpr {
        kind: HExprKind::Select(
            Box::new(at_end),
            Box::new(scalar(HExprKind::Const(s.y[n - 1]), value_unit)),
            Box::new(summed),
        ),
        ty: Ty::real(value_unit),
        span,
    }
}

/// The second derivatives `M` of the natural cubic spline through `(x, y)` (`M₀ = M_{n−1}
/// = 0`), by the Thomas algorithm on the tridiagonal system of the interior knots.
fn natural_spline_second_derivatives(x: &[f64], y: &[f64]) -> Vec<f64> {
    let n = x.len();
    let mut m = vec![0.0; n];
    if n < 3 {
        return m;
    }
    let h: Vec<f64> = x.windows(2).map(|w| w[1] - w[0]).collect();
    // Rows i = 1..n-1: h[i-1]·M[i-1] + 2(h[i-1]+h[i])·M[i] + h[i]·M[i+1] = rhs[i].
    let interior = n - 2;
    let mut diag = vec![0.0; interior];
    let mut upper = vec![0.0; interior];
    let mut rhs = vec![0.0; interior];
    for k in 0..interior {
        let i = k + 1;
        diag[k] = 2.0 * (h[i - 1] + h[i]);
        upper[k] = h[i];
        rhs[k] = 6.0 * ((y[i + 1] - y[i]) / h[i] - (y[i] - y[i - 1]) / h[i - 1]);
    }
    // Forward sweep (the sub-diagonal of row k is h[k]).
    for k in 1..interior {
        let w = h[k] / diag[k - 1];
        diag[k] -= w * upper[k - 1];
        rhs[k] -= w * rhs[k - 1];
    }
    for k in (0..interior).rev() {
        let next = if k + 1 < interior { m[k + 2] } else { 0.0 };
        m[k + 1] = (rhs[k] - upper[k] * next) / diag[k];
    }
    m
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The spline of a cubic's samples: its second derivatives are exact in the interior
    /// only for a natural spline of a function with zero curvature at the ends; a
    /// parabola's knots give a symmetric solution.
    #[test]
    fn spline_second_derivatives_solve_the_tridiagonal_system() {
        let x: Vec<f64> = (0..6).map(|k| k as f64).collect();
        let y: Vec<f64> = x.iter().map(|v| v * v).collect();
        let m = natural_spline_second_derivatives(&x, &y);
        assert_eq!((m[0], m[5]), (0.0, 0.0));
        // Residuals of the interior rows.
        for i in 1..5 {
            let r = m[i - 1] + 4.0 * m[i] + m[i + 1] - 6.0 * (y[i + 1] - 2.0 * y[i] + y[i - 1]);
            assert!(r.abs() < 1e-12, "row {i}: {r}");
        }
        assert!((m[2] - m[3]).abs() < 1e-12);
    }
}
