//! Derivative operators: `der`, `d`/`∂`, `grad`, `jacobian`, `hessian`, `laplacian`.
//!
//! All partial derivatives become [`HExprKind::Deriv`] with the variables in order:
//! coordinates of the residual's domain ([`DiffVar::Coord`]) or parameters of the
//! enclosing function ([`DiffVar::Local`]). The result shape is `shape(of) ++ shape(wrt…)`
//! and the unit is `unit(of) / Π unit(wrt)`. `laplacian` is desugared into a sum of
//! unmixed second derivatives (over the domain's coordinates except `t` when no variables
//! are named).

use super::calls::arg_name;
use super::env::{Checker, Ctx, Local, MemberRef, Val};
use super::ops::to_real;
use crate::ast::{Arg, ExprKind, Ident};
use crate::builtins::DerivOp;
use crate::hir::{Binary, Binder, DiffVar, HExpr, HExprKind, Reduction, Scalar, Ty};
use sci_diag::{Diagnostic, Span};
use sci_ir::Unit;

/// A variable to differentiate with respect to.
#[derive(Clone, Debug)]
struct Wrt {
    var: DiffVar,
    shape: Vec<usize>,
    unit: Option<Unit>,
}

impl<'f> Checker<'f> {
    /// Checks a derivative operator call.
    pub fn deriv(&mut self, op: DerivOp, callee: &Ident, args: &[Arg], span: Span) -> Option<Val> {
        if let Some(named) = args.iter().find_map(|a| a.name.as_ref()) {
            self.report(
                Diagnostic::error(
                    "E0305",
                    format!("`{}` takes no named arguments.", callee.name),
                )
                .with_primary(named.span, "named argument"),
            );
            return None;
        }
        match op {
            DerivOp::Der => self.der_value(callee, args, span),
            DerivOp::Laplacian => self.laplacian(callee, args, span),
            _ => {
                let sig = match op {
                    DerivOp::Partial => format!("{}(f, x, …)", callee.name),
                    _ => format!("{}(f, x)", callee.name),
                };
                let (Some(first), rest) = (args.first(), args.get(1..).unwrap_or(&[])) else {
                    self.arity(callee, 0, "a function and a variable", &sig, span);
                    return None;
                };
                let two = op != DerivOp::Partial;
                if rest.is_empty() || (two && rest.len() != 1) {
                    let expected = if two {
                        "two arguments"
                    } else {
                        "a function and at least one variable"
                    };
                    self.arity(callee, args.len(), expected, &sig, span);
                    return None;
                }
                if !self.deriv_allowed(callee, span) {
                    return None;
                }
                let of = self.expr(&first.value);
                let mut wrt = Vec::new();
                for a in rest {
                    wrt.push(self.wrt(callee, a));
                }
                let of = of?;
                let mut wrt: Vec<Wrt> = wrt.into_iter().collect::<Option<_>>()?;
                if !self.numeric(&of, &format!("`{}`", callee.name)) {
                    return None;
                }
                let of_shape = of.ty().shape.clone();
                match op {
                    DerivOp::Grad | DerivOp::Hessian if !of_shape.is_empty() => {
                        let s = self.shape_desc(&of_shape);
                        self.report(
                            Diagnostic::error(
                                "E0302",
                                format!(
                                    "`{}` needs a scalar function, but this has shape {s}.",
                                    callee.name
                                ),
                            )
                            .with_primary(of.h.span, format!("shape {s}"))
                            .with_help("use `jacobian` for vector-valued functions"),
                        );
                        return None;
                    }
                    DerivOp::Hessian => {
                        let again = wrt.first()?.clone();
                        wrt.push(again);
                    }
                    _ => {}
                }
                Some(Val::fixed(self.deriv_expr(to_real(of.h), &wrt, span)?))
            }
        }
    }

    /// True if partial derivatives can be taken here.
    fn deriv_allowed(&mut self, callee: &Ident, span: Span) -> bool {
        if matches!(self.scope.ctx, Ctx::Residual(_) | Ctx::FnBody) {
            return true;
        }
        self.report(
            Diagnostic::error("E0311", format!("`{}` is not available {}.", callee.name, self.scope.ctx.describe()))
                .with_primary(span, "derivative here")
                .with_note("partial derivatives are taken in residuals (with respect to the domain's coordinates) and in functions (with respect to their parameters)")
                .with_help("for the time derivative of a state use `der(x)`"),
        );
        false
    }

    /// The variable named by a `d(…)` argument.
    fn wrt(&mut self, callee: &Ident, arg: &Arg) -> Option<Wrt> {
        let Some(id) = arg_name(arg) else {
            self.report(
                Diagnostic::error(
                    "E0311",
                    format!(
                        "`{}` differentiates with respect to a variable, written as a bare name.",
                        callee.name
                    ),
                )
                .with_primary(arg.value.span, "not a variable name"),
            );
            return None;
        };
        let local = self
            .scope
            .locals
            .iter()
            .rev()
            .find(|l| l.name() == id.name)
            .cloned();
        let w = match local {
            Some(Local::Coord {
                index,
                unit,
                span: def,
                ..
            }) => {
                self.reference(id.span, def);
                Wrt {
                    var: DiffVar::Coord(index),
                    shape: Vec::new(),
                    unit,
                }
            }
            Some(Local::Param {
                index,
                ty,
                span: def,
                ..
            }) => {
                self.reference(id.span, def);
                Wrt {
                    var: DiffVar::Local(index),
                    shape: ty.shape.clone(),
                    unit: ty.unit,
                }
            }
            _ => {
                let what = match self.scope.ctx {
                    Ctx::Residual(_) => "a coordinate of the residual's domain",
                    _ => "a parameter of the function",
                };
                self.report(
                    Diagnostic::error("E0311", format!("`{}` can only differentiate with respect to {what}, and `{}` is not one.", callee.name, id.name))
                        .with_primary(id.span, "not a differentiation variable"),
                );
                return None;
            }
        };
        let ty = Ty {
            shape: w.shape.clone(),
            ..Ty::real(w.unit)
        };
        self.record_type(arg.value.id, &ty);
        Some(w)
    }

    /// `Deriv { of, wrt }` with its type.
    fn deriv_expr(&mut self, of: HExpr, wrt: &[Wrt], span: Span) -> Option<HExpr> {
        let mut shape = of.ty.shape.clone();
        let mut unit = of.ty.unit;
        for w in wrt {
            shape.extend(w.shape.iter().copied());
            if let (Some(u), Some(wu)) = (unit, w.unit) {
                unit = match u.div(&wu) {
                    Some(x) => Some(x),
                    None => {
                        self.report(
                            Diagnostic::error(
                                "E0406",
                                "The unit of this derivative is too large to represent.",
                            )
                            .with_primary(span, "unit exponents overflow"),
                        );
                        return None;
                    }
                };
            }
        }
        let ty = Ty {
            scalar: Scalar::Real,
            shape,
            batch: of.ty.batch,
            unit,
        };
        Some(Self::mk(
            HExprKind::Deriv {
                of: Box::new(of),
                wrt: wrt.iter().map(|w| w.var).collect(),
            },
            ty,
            span,
        ))
    }

    /// `laplacian(f)` / `laplacian(f, x, y)`.
    fn laplacian(&mut self, callee: &Ident, args: &[Arg], span: Span) -> Option<Val> {
        let Some(first) = args.first() else {
            self.arity(callee, 0, "at least one argument", "laplacian(f)", span);
            return None;
        };
        if !self.deriv_allowed(callee, span) {
            return None;
        }
        let of = self.expr(&first.value);
        let mut vars = Vec::new();
        let rest = args.get(1..).unwrap_or(&[]);
        for a in rest {
            vars.push(self.wrt(callee, a));
        }
        let of = of?;
        let mut vars: Vec<Wrt> = vars.into_iter().collect::<Option<_>>()?;
        if !self.numeric(&of, "`laplacian`") {
            return None;
        }
        if rest.is_empty() {
            // Every coordinate of the domain except the time `t`.
            vars = self
                .scope
                .locals
                .iter()
                .filter_map(|l| match l {
                    Local::Coord {
                        name, index, unit, ..
                    } if name != "t" => Some(Wrt {
                        var: DiffVar::Coord(*index),
                        shape: Vec::new(),
                        unit: *unit,
                    }),
                    _ => None,
                })
                .collect();
            if vars.is_empty() {
                let why = if matches!(self.scope.ctx, Ctx::FnBody) {
                    "inside a function, name the variables"
                } else {
                    "the domain has no coordinates other than `t`"
                };
                self.report(
                    Diagnostic::error("E0311", format!("`laplacian(f)` has no variables to differentiate with respect to: {why}."))
                        .with_primary(span, "no variables")
                        .with_help("write `laplacian(f, x, y)`"),
                );
                return None;
            }
        }
        let of = to_real(of.h);
        let mut total: Option<HExpr> = None;
        let mut first_unit_span: Option<(Unit, Span)> = None;
        for w in &vars {
            let term = if w.shape.is_empty() {
                self.deriv_expr(of.clone(), &[w.clone(), w.clone()], span)?
            } else {
                self.trace_of_hessian(&of, w, span)?
            };
            if let (Some(u), Some((u0, _))) = (term.ty.unit, first_unit_span)
                && u != u0
            {
                let (u0, u) = (crate::units::Pretty(u0), crate::units::Pretty(u));
                self.report(
                    Diagnostic::error("E0402", format!("The terms of this laplacian have different units, {u0} and {u}."))
                        .with_primary(span, "coordinates with different units")
                        .with_help("the laplacian adds second derivatives; all variables must have the same unit"),
                );
                return None;
            }
            if first_unit_span.is_none() {
                first_unit_span = term.ty.unit.map(|u| (u, span));
            }
            total = Some(match total {
                None => term,
                Some(acc) => {
                    let ty = acc.ty.clone();
                    Self::mk(
                        HExprKind::Binary(Binary::Add, Box::new(acc), Box::new(term)),
                        ty,
                        span,
                    )
                }
            });
        }
        total.map(Val::fixed)
    }

    /// `Σ_j ∂²f/∂x_j²` for a vector parameter `x`.
    fn trace_of_hessian(&mut self, of: &HExpr, w: &Wrt, span: Span) -> Option<HExpr> {
        let &[n] = w.shape.as_slice() else {
            self.report(
                Diagnostic::error(
                    "E0302",
                    "`laplacian` with respect to a matrix is not supported.",
                )
                .with_primary(span, "matrix variable")
                .with_help("differentiate with respect to a vector or scalars"),
            );
            return None;
        };
        if !of.ty.shape.is_empty() {
            let s = self.shape_desc(&of.ty.shape);
            self.report(
                Diagnostic::error("E0302", format!("`laplacian` with respect to a vector needs a scalar function, but this has shape {s}."))
                    .with_primary(of.span, format!("shape {s}")),
            );
            return None;
        }
        let hessian = self.deriv_expr(of.clone(), &[w.clone(), w.clone()], span)?;
        let id = self.fresh_binder();
        let j = Self::mk(
            HExprKind::IndexVar(id),
            Ty {
                unit: self.dimensionless(),
                ..Ty::int()
            },
            span,
        );
        let elem_ty = Ty {
            shape: Vec::new(),
            ..hessian.ty.clone()
        };
        let diag = Self::mk(
            HExprKind::Index {
                base: Box::new(hessian),
                indices: vec![j.clone(), j],
                fill: None,
            },
            elem_ty.clone(),
            span,
        );
        Some(Self::mk(
            HExprKind::Reduce {
                op: Reduction::Sum,
                binders: vec![Binder {
                    id,
                    name: "j".into(),
                    start: 0,
                    end: n as i64,
                    span,
                }],
                body: Box::new(diag),
            },
            elem_ty,
            span,
        ))
    }

    /// `der(x)` used as a value (in `let`s and outputs): the state's right-hand side.
    fn der_value(&mut self, callee: &Ident, args: &[Arg], span: Span) -> Option<Val> {
        let [arg] = args else {
            self.arity(callee, args.len(), "one argument", "der(x)", span);
            return None;
        };
        let (target, indices) = match &arg.value.kind {
            ExprKind::Name(id) => (id, None),
            ExprKind::Index { base, indices } => match &base.kind {
                ExprKind::Name(id) => (id, Some(indices)),
                _ => return self.der_not_state(arg.value.span, None),
            },
            _ => return self.der_not_state(arg.value.span, None),
        };
        let found = self
            .model
            .as_ref()
            .filter(|_| self.scope.model_visible && self.scope.ctx != Ctx::FnBody)
            .and_then(|m| m.names.get(&target.name))
            .copied();
        let Some((MemberRef::State(s), def)) = found else {
            return self.der_not_state(target.span, Some(&target.name));
        };
        self.reference(target.span, def);
        match self.scope.ctx {
            Ctx::Let | Ctx::Output | Ctx::Event => {}
            Ctx::Der => {
                self.report(
                    Diagnostic::error("E0204", "A `der` equation cannot use the time derivative of a state.")
                        .with_primary(span, "der(…) used on a right-hand side")
                        .with_help("write out the other state's right-hand side, or put it in a `let` used by both"),
                );
                return None;
            }
            _ => {
                self.not_here(
                    span,
                    format!("`der({})`", target.name),
                    "time derivatives are available in `let`s and outputs of an ODE model",
                    None,
                );
                return None;
            }
        }
        let model = self.model.as_ref()?;
        let st = model.states.get(s.index())?.as_ref()?;
        let unit = match (st.unit, model.time_unit) {
            (Some(u), Some(t)) => u.div(&t),
            _ => None,
        };
        let ty = Ty {
            shape: st.shape.clone(),
            ..Ty::real(unit)
        };
        self.record_type(
            arg.value.id,
            &Ty {
                shape: st.shape.clone(),
                ..Ty::real(st.unit)
            },
        );
        let value = Val::fixed(Self::mk(HExprKind::Der(s), ty, span));
        match indices {
            None => Some(value),
            Some(ix) => self.index(value, ix, span),
        }
    }

    fn der_not_state(&mut self, span: Span, name: Option<&str>) -> Option<Val> {
        let msg = match name {
            Some(n) => format!("`der` takes a state, and `{n}` is not a state of this model."),
            None => "`der` takes the name of a state.".to_string(),
        };
        self.report(
            Diagnostic::error("E0210", msg)
                .with_primary(span, "not a state")
                .with_help("declare it with `state x = …` to give it a time derivative"),
        );
        None
    }
}
