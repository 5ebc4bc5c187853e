//! Checking expressions: literals, names, `if`, indexing, fields, arrays and reductions.
//! Calls are in `calls`, operators in `ops`, derivative operators in `deriv`.

use super::DefKind;
use super::env::{Checker, Ctx, Local, MAX_EXPR_DEPTH, MemberRef, Val};
use super::fold;
use super::ops::{broadcast, to_real};
use super::suggest::did_you_mean;
use crate::ast::{self, Expr, ExprKind, Ident};
use crate::builtins::{self, BuiltinKind};
use crate::hir::{Binder, HExpr, HExprKind, Reduction, Scalar, Ty};
use sci_diag::{Diagnostic, Span};
use sci_ir::unit::Rational;

/// The largest whole number a constant may fold to (sizes, bounds, counts): beyond it
/// `f64` no longer holds every whole number exactly.
const MAX_WHOLE: f64 = 9.0e15;

impl<'f> Checker<'f> {
    /// Checks an expression in the current scope; `None` means an error was reported.
    pub fn expr(&mut self, e: &Expr) -> Option<Val> {
        if self.expr_depth >= MAX_EXPR_DEPTH {
            self.report(
                Diagnostic::error("E0223", "This expression is nested too deeply to check.")
                    .with_primary(e.span, "too deeply nested")
                    .with_help("split it into several `let` definitions"),
            );
            return None;
        }
        self.expr_depth += 1;
        let r = self.expr_inner(e);
        self.expr_depth -= 1;
        if let Some(v) = &r {
            self.record_type(e.id, &v.h.ty);
        }
        r
    }

    fn expr_inner(&mut self, e: &Expr) -> Option<Val> {
        match &e.kind {
            ExprKind::Number { value, text } => Some(self.literal(*value, text, e.span)),
            ExprKind::Str(_) => {
                self.report(
                    Diagnostic::error(
                        "E0301",
                        "A text string can only be the file name of a data source.",
                    )
                    .with_primary(e.span, "a string")
                    .with_help("write `data obs(t, y) = csv(\"file.csv\")`"),
                );
                None
            }
            ExprKind::Name(id) => self.name(id),
            ExprKind::Unary(op, a) => self.unary(*op, a, e.span),
            ExprKind::Binary(op, a, b) => self.binary(*op, a, b, e.span),
            ExprKind::Call { callee, args } => self.call(callee, args, e.span),
            ExprKind::Index { base, indices } => {
                let b = self.expr(base)?;
                self.index(b, indices, e.span)
            }
            ExprKind::Field { base, field } => self.field(base, field, e.span),
            ExprKind::If {
                cond,
                then,
                otherwise,
            } => self.if_expr(cond, then, otherwise, e.span),
            ExprKind::Reduce { op, binders, body } => self.reduce(op, binders, body, e.span),
            ExprKind::Array(items) => self.array(items, e.span),
            ExprKind::Error => None,
        }
    }

    /// A number literal: `Int` when written without a point or exponent.
    fn literal(&mut self, value: f64, text: &str, span: Span) -> Val {
        let integral =
            !text.contains(['.', 'e', 'E']) && value.fract() == 0.0 && value.abs() < 9.0e15;
        let ty = Ty {
            scalar: if integral { Scalar::Int } else { Scalar::Real },
            unit: self.dimensionless(),
            ..Ty::real(None)
        };
        Val {
            h: Self::mk(HExprKind::Const(value), ty, span),
            flex: true,
        }
    }

    /// A folded constant as an expression.
    pub fn const_expr(&self, c: &super::env::ConstVal, span: Span) -> HExpr {
        let ty = Ty {
            scalar: c.scalar,
            shape: c.shape.clone(),
            batch: None,
            unit: if c.scalar == Scalar::Bool {
                None
            } else {
                self.adapt_unit(c.unit)
            },
        };
        if c.shape.is_empty() {
            Self::mk(
                HExprKind::Const(c.data.first().copied().unwrap_or(0.0)),
                ty,
                span,
            )
        } else {
            Self::mk(HExprKind::ConstArray(c.data.clone()), ty, span)
        }
    }

    /// Resolves a name used as a value.
    pub fn name(&mut self, id: &Ident) -> Option<Val> {
        let span = id.span;
        // 1. Locals: index variables, function parameters, coordinates, shape variables.
        if let Some(local) = self
            .scope
            .locals
            .iter()
            .rev()
            .find(|l| l.name() == id.name)
            .cloned()
        {
            return Some(self.local_value(&local, span));
        }
        // 2. Model members.
        if self.scope.model_visible
            && let Some((what, def_span)) = self
                .model
                .as_ref()
                .and_then(|m| m.names.get(&id.name))
                .copied()
            && (self.scope.ctx != Ctx::FnBody || matches!(what, MemberRef::Const | MemberRef::Fn))
        {
            self.reference(span, def_span);
            return self.member_value(what, id);
        }
        // 3. Constants (model, then file).
        if let Some((value, def_span)) = self.lookup_const(&id.name) {
            self.reference(span, def_span);
            return value.map(|c| Val::fixed(self.const_expr(&c, span)));
        }
        // 4. Functions used without arguments.
        if let Some(f) = self.lookup_fn(&id.name) {
            if let Some(entry) = self.fn_entry(&f) {
                let def = entry.decl.name.span;
                self.reference(span, def);
            }
            self.report(
                Diagnostic::error(
                    "E0205",
                    format!("`{}` is a function; it needs arguments.", id.name),
                )
                .with_primary(span, "a function used as a value")
                .with_help(format!("call it: `{}(…)`", id.name)),
            );
            return None;
        }
        // 5. The time of an ODE model.
        if id.name == "t"
            && let Some(m) = &self.model
            && m.is_ode
        {
            if matches!(
                self.scope.ctx,
                Ctx::Let | Ctx::Output | Ctx::Der | Ctx::Event
            ) {
                let ty = Ty::real(m.time_unit);
                return Some(Val::fixed(Self::mk(HExprKind::Time, ty, span)));
            }
            self.report(
                Diagnostic::error(
                    "E0204",
                    format!(
                        "The time `t` is not available {}.",
                        self.scope.ctx.describe()
                    ),
                )
                .with_primary(span, "time used here")
                .with_note("`t` can be used in `der` equations, `let`s and outputs"),
            );
            return None;
        }
        // 6. Built-in constants and functions.
        if let Some(b) = builtins::lookup(&id.name) {
            if let BuiltinKind::Constant(v) = b.kind {
                let ty = Ty::real(self.dimensionless());
                return Some(Val {
                    h: Self::mk(HExprKind::Const(v), ty, span),
                    flex: true,
                });
            }
            self.report(
                Diagnostic::error(
                    "E0205",
                    format!("`{}` is a built-in function; it needs arguments.", id.name),
                )
                .with_primary(span, "a function used as a value")
                .with_help(format!("call it: `{}`", b.signature)),
            );
            return None;
        }
        self.unknown_name(id, None);
        None
    }

    /// Reports an unknown name with the closest visible name.
    pub fn unknown_name(&mut self, id: &Ident, what: Option<&str>) {
        let names = self.visible_names();
        let mut d = Diagnostic::error(
            "E0201",
            format!(
                "There is no {} called `{}` here.",
                what.unwrap_or("definition"),
                id.name
            ),
        )
        .with_primary(id.span, "not defined");
        if let Some(s) = did_you_mean(&id.name, names.iter().map(String::as_str)) {
            d = d.with_help(format!("did you mean `{s}`?"));
        } else if id.name == "t" {
            d = d.with_note("`t` is the time only in models with states; in a residual it must be a coordinate of the domain");
        }
        self.report(d);
    }

    fn local_value(&mut self, local: &Local, span: Span) -> Val {
        match local {
            Local::Index { id, span: def, .. } => {
                self.reference(span, *def);
                let ty = Ty {
                    unit: self.dimensionless(),
                    ..Ty::int()
                };
                Val::fixed(Self::mk(HExprKind::IndexVar(*id), ty, span))
            }
            Local::Param {
                index,
                ty,
                span: def,
                ..
            } => {
                self.reference(span, *def);
                Val::fixed(Self::mk(HExprKind::Local(*index), ty.clone(), span))
            }
            Local::Coord {
                index,
                unit,
                batch,
                span: def,
                ..
            } => {
                self.reference(span, *def);
                let ty = Ty {
                    batch: Some(*batch),
                    ..Ty::real(*unit)
                };
                Val::fixed(Self::mk(HExprKind::Coord(*index), ty, span))
            }
            Local::ShapeVar {
                value, span: def, ..
            } => {
                self.reference(span, *def);
                let ty = Ty {
                    unit: self.dimensionless(),
                    ..Ty::int()
                };
                Val::fixed(Self::mk(HExprKind::Const(*value as f64), ty, span))
            }
        }
    }

    /// Reports a member used where it is not available.
    pub fn not_here(&mut self, span: Span, what: String, note: &str, help: Option<String>) {
        let mut d = Diagnostic::error(
            "E0204",
            format!("{what} cannot be used {}.", self.scope.ctx.describe()),
        )
        .with_primary(span, "not available here")
        .with_note(note.to_string());
        if let Some(h) = help {
            d = d.with_help(h);
        }
        self.report(d);
    }

    fn member_value(&mut self, what: MemberRef, id: &Ident) -> Option<Val> {
        let span = id.span;
        let name = &id.name;
        let ctx = self.scope.ctx;
        let model = self.model.as_ref()?;
        match what {
            MemberRef::Const => {
                let c = model.consts.get(name)?.value.clone()?;
                Some(Val::fixed(self.const_expr(&c, span)))
            }
            MemberRef::Param(p) => {
                if matches!(ctx, Ctx::Const | Ctx::ParamDefault) {
                    self.not_here(
                        span,
                        format!("The parameter `{name}`"),
                        "parameters change during fitting; constants and defaults must be known when the model is compiled",
                        Some("use a `const`, or compute the value in a `let`".into()),
                    );
                    return None;
                }
                let param = model.params.get(p.index())?.as_ref()?;
                let ty = Ty {
                    shape: param.shape.clone(),
                    ..Ty::real(param.unit)
                };
                Some(Val::fixed(Self::mk(HExprKind::Param(p), ty, span)))
            }
            MemberRef::State(s) => {
                match ctx {
                    Ctx::Let | Ctx::Output | Ctx::Der | Ctx::Event => {}
                    Ctx::Loss => {
                        self.not_here(
                            span,
                            format!("The state `{name}`"),
                            "a state is a function of time; the loss sees it only at the times of a data set",
                            Some(format!("evaluate it at the data times, e.g. `{name}(obs.t)`")),
                        );
                        return None;
                    }
                    _ => {
                        self.not_here(
                            span,
                            format!("The state `{name}`"),
                            "states are available in `der` equations, `let`s and outputs",
                            None,
                        );
                        return None;
                    }
                }
                let st = model.states.get(s.index())?.as_ref()?;
                let ty = Ty {
                    shape: st.shape.clone(),
                    ..Ty::real(st.unit)
                };
                Some(Val::fixed(Self::mk(HExprKind::State(s), ty, span)))
            }
            MemberRef::Let(l) => {
                let slot = model.lets.get(l.index())?.as_ref()?;
                let dynamic = slot.dynamic;
                let ty = Ty {
                    shape: slot.hir.shape.clone(),
                    ..Ty::real(slot.hir.unit)
                };
                let allowed = match ctx {
                    Ctx::Let | Ctx::Output | Ctx::Der | Ctx::Event => true,
                    Ctx::Residual(_) | Ctx::Loss => !dynamic,
                    _ => false,
                };
                if !allowed {
                    let note = if dynamic {
                        "this `let` depends on the states or the time, so it exists only in `der` equations, `let`s and outputs"
                    } else {
                        "a `let` is computed from parameters and states; constants, defaults and initial values cannot use it"
                    };
                    self.not_here(span, format!("The `let` `{name}`"), note, None);
                    return None;
                }
                Some(Val::fixed(Self::mk(HExprKind::Let(l), ty, span)))
            }
            MemberRef::Output(o) => {
                if ctx != Ctx::Output {
                    self.not_here(
                        span,
                        format!("The output `{name}`"),
                        "outputs are recorded results; only other outputs can use them",
                        Some(format!(
                            "make `{name}` a `let` and output it with `output {name}_out = {name}`"
                        )),
                    );
                    return None;
                }
                let out = model.outputs.get(o.index())?.as_ref()?;
                let ty = Ty {
                    shape: out.shape.clone(),
                    ..Ty::real(out.unit)
                };
                Some(Val::fixed(Self::mk(HExprKind::Output(o), ty, span)))
            }
            MemberRef::Residual(r) => {
                if ctx != Ctx::Loss {
                    self.not_here(
                        span,
                        format!("The residual `{name}`"),
                        "residuals are the per-point values the loss combines",
                        Some(format!("use it in the loss, e.g. `loss = mean({name}^2)`")),
                    );
                    return None;
                }
                let res = model.residuals.get(r.index())?.as_ref()?;
                let ty = Ty {
                    batch: Some(crate::hir::BatchKind::Residual(r)),
                    ..res.value.ty.clone()
                };
                Some(Val::fixed(Self::mk(HExprKind::Residual(r), ty, span)))
            }
            MemberRef::Net(n) => {
                if let Ctx::Residual(_) = ctx {
                    return self.net_at_coords(n, id);
                }
                let inputs = model
                    .nets
                    .get(n.index())?
                    .as_ref()
                    .map(|n| n.inputs.join(", "))
                    .unwrap_or_default();
                self.report(
                    Diagnostic::error("E0205", format!("The network `{name}` needs its inputs here."))
                        .with_primary(span, "a network used without arguments")
                        .with_note("only inside a residual does a bare network mean its value at the point's coordinates")
                        .with_help(format!("call it: `{name}({inputs})`")),
                );
                None
            }
            MemberRef::Data(_) => {
                self.report(
                    Diagnostic::error(
                        "E0214",
                        format!("The data set `{name}` is a table; use one of its columns."),
                    )
                    .with_primary(span, "a data set used as a value")
                    .with_help(format!("write `{name}.column`")),
                );
                None
            }
            MemberRef::Domain(_) => {
                self.report(
                    Diagnostic::error("E0204", format!("The domain `{name}` is not a value."))
                        .with_primary(span, "a domain")
                        .with_help(format!("use it in a residual: `residual r on {name}: …`")),
                );
                None
            }
            MemberRef::Circuit(_) | MemberRef::Observable(_) => {
                let what = if matches!(what, MemberRef::Circuit(_)) {
                    "circuit"
                } else {
                    "observable"
                };
                self.report(
                    Diagnostic::error("E0204", format!("The {what} `{name}` is not a number."))
                        .with_primary(span, format!("a {what}"))
                        .with_help(
                            "its number is an expectation value: `expval(psi, H)` in the loss or an output",
                        ),
                );
                None
            }
            MemberRef::Fn => {
                self.report(
                    Diagnostic::error(
                        "E0205",
                        format!("`{name}` is a function; it needs arguments."),
                    )
                    .with_primary(span, "a function used as a value")
                    .with_help(format!("call it: `{name}(…)`")),
                );
                None
            }
        }
    }

    /// `if cond then a else b`.
    fn if_expr(&mut self, cond: &Expr, then: &Expr, otherwise: &Expr, span: Span) -> Option<Val> {
        let c = self.expr(cond);
        let a = self.expr(then);
        let b = self.expr(otherwise);
        let (c, mut a, mut b) = (c?, a?, b?);
        if !self.boolean(&c, "The condition of `if`") {
            return None;
        }
        let scalars = (a.ty().scalar, b.ty().scalar);
        let scalar = match scalars {
            (Scalar::Bool, Scalar::Bool) => Scalar::Bool,
            (Scalar::Int, Scalar::Int) => Scalar::Int,
            (Scalar::Bool, _) | (_, Scalar::Bool) => {
                self.report(
                    Diagnostic::error("E0301", "The two branches of `if` must both be numbers or both be true/false values.")
                        .with_primary(a.h.span, self.ty_desc(a.ty()))
                        .with_secondary(b.h.span, self.ty_desc(b.ty())),
                );
                return None;
            }
            _ => Scalar::Real,
        };
        let shape = self.join_shape("choose between", &a, &b)?;
        let shape = match broadcast(&c.ty().shape, &shape) {
            Some(s) => s,
            None => {
                let (sc, sv) = (self.shape_desc(&c.ty().shape), self.shape_desc(&shape));
                self.report(
                    Diagnostic::error(
                        "E0302",
                        format!("The condition has shape {sc} but the branches have shape {sv}."),
                    )
                    .with_primary(c.h.span, format!("shape {sc}"))
                    .with_secondary(a.h.span, format!("shape {sv}")),
                );
                return None;
            }
        };
        let batch = self.join_batch(a.ty().batch, b.ty().batch, a.h.span, b.h.span)?;
        let batch = self.join_batch(c.ty().batch, batch, c.h.span, span)?;
        if scalar != Scalar::Bool && !self.same_units("choose between", &mut a, &mut b) {
            return None;
        }
        let unit = if scalar == Scalar::Bool {
            None
        } else {
            a.ty().unit.or(b.ty().unit)
        };
        let (ha, hb) = if scalar == Scalar::Real {
            (to_real(a.h), to_real(b.h))
        } else {
            (a.h, b.h)
        };
        let ty = Ty {
            scalar,
            shape,
            batch,
            unit,
        };
        Some(Val::fixed(Self::mk(
            HExprKind::Select(Box::new(c.h), Box::new(ha), Box::new(hb)),
            ty,
            span,
        )))
    }

    /// `base.field`: a column of a data set.
    fn field(&mut self, base: &Expr, field: &Ident, span: Span) -> Option<Val> {
        let ExprKind::Name(id) = &base.kind else {
            self.report(
                Diagnostic::error("E0214", "Only data sets have fields (`obs.t`).")
                    .with_primary(span, "not a data column"),
            );
            return None;
        };
        let found = self
            .model
            .as_ref()
            .filter(|_| self.scope.model_visible && self.scope.ctx != Ctx::FnBody)
            .and_then(|m| m.names.get(&id.name))
            .copied();
        let Some((MemberRef::Data(did), def_span)) = found else {
            let mut d = Diagnostic::error(
                "E0214",
                format!(
                    "`{}` is not a data set, so `{}.{}` has no meaning.",
                    id.name, id.name, field.name
                ),
            )
            .with_primary(id.span, "not a data set");
            if builtins::module_exports(&id.name).is_some() {
                d = d.with_help(format!(
                    "import the name instead: `use {}.{{{}}}`, then write `{}`",
                    id.name, field.name, field.name
                ));
            }
            self.report(d);
            return None;
        };
        self.reference(id.span, def_span);
        self.record_type(base.id, &Ty::real(None));
        let mut data = self
            .model
            .as_ref()?
            .data
            .get(did.index())?
            .as_ref()?
            .clone();
        let open = self
            .model
            .as_ref()
            .is_some_and(|m| m.open_data.contains(&did));
        if open
            && !data.columns.iter().any(|(c, _)| *c == field.name)
            && self.scope.ctx == Ctx::Loss
        {
            // A column of a CSV data set declared without columns: read by its header name.
            let unit = self.dimensionless();
            data.columns.push((field.name.clone(), unit));
            if let Some(slot) = self
                .model
                .as_mut()
                .and_then(|m| m.data.get_mut(did.index()))
            {
                *slot = Some(data.clone());
            }
        }
        let Some(column) = data.columns.iter().position(|(c, _)| *c == field.name) else {
            let names: Vec<&str> = data.columns.iter().map(|(c, _)| c.as_str()).collect();
            let mut d = Diagnostic::error(
                "E0214",
                format!("The data set `{}` has no column `{}`.", id.name, field.name),
            )
            .with_primary(field.span, "unknown column")
            .with_note(format!("its columns are: {}", names.join(", ")));
            if let Some(s) = did_you_mean(&field.name, names.iter().copied()) {
                d = d.with_help(format!("did you mean `{s}`?"));
            }
            self.report(d);
            return None;
        };
        if self.scope.ctx != Ctx::Loss {
            self.not_here(
                span,
                format!("The data column `{}.{}`", id.name, field.name),
                "data columns are batches of observations; only the loss compares with them",
                Some(format!(
                    "to drive the equations with it, interpolate it in time: `interp({}.{}, t)`",
                    id.name, field.name
                )),
            );
            return None;
        }
        if let Some(col_span) = self.column_span(did, column) {
            self.reference(field.span, col_span);
        }
        let unit = data.columns.get(column).and_then(|c| c.1);
        let ty = Ty {
            shape: data.shape(column).to_vec(),
            batch: Some(crate::hir::BatchKind::Data(did)),
            ..Ty::real(self.adapt_unit(unit))
        };
        Some(Val::fixed(Self::mk(
            HExprKind::DataColumn { data: did, column },
            ty,
            span,
        )))
    }

    /// `op(i in a..b, …: body)`.
    fn reduce(
        &mut self,
        op: &Ident,
        binders: &[ast::IndexBinder],
        body: &Expr,
        span: Span,
    ) -> Option<Val> {
        let reduction = match op.name.as_str() {
            "sum" => Reduction::Sum,
            "prod" => Reduction::Prod,
            "max" => Reduction::Max,
            "min" => Reduction::Min,
            "mean" => Reduction::Mean,
            other => {
                self.report(
                    Diagnostic::error("E0205", format!("`{other}` is not a reduction."))
                        .with_primary(op.span, "unknown reduction")
                        .with_help("the reductions are sum, prod, max, min and mean"),
                );
                return None;
            }
        };
        let before = self.scope.locals.len();
        let hb = self.bind_indices(binders);
        let v = match hb {
            Some(_) => self.expr(body),
            None => None,
        };
        self.scope.locals.truncate(before);
        let (hb, v) = (hb?, v?);
        if !self.numeric(&v, &format!("`{}`", op.name)) {
            return None;
        }
        let terms: i64 = hb
            .iter()
            .fold(1i64, |acc, b| acc.saturating_mul(b.end - b.start));
        let mut unit = v.ty().unit;
        if reduction == Reduction::Prod
            && let Some(u) = unit
            && !u.is_dimensionless()
        {
            let p = Rational::new(terms, 1).unwrap_or(Rational::int(1));
            unit = Some(self.pow_unit(u, p, span)?);
        }
        let scalar = if reduction == Reduction::Mean || v.ty().scalar == Scalar::Real {
            Scalar::Real
        } else {
            Scalar::Int
        };
        let body = if scalar == Scalar::Real {
            to_real(v.h)
        } else {
            v.h
        };
        let ty = Ty {
            scalar,
            unit,
            ..body.ty.clone()
        };
        Some(Val::fixed(Self::mk(
            HExprKind::Reduce {
                op: reduction,
                binders: hb,
                body: Box::new(body),
            },
            ty,
            span,
        )))
    }

    /// Checks index binders (`i in 0..n`), pushing them as locals; the caller pops them.
    pub fn bind_indices(&mut self, binders: &[ast::IndexBinder]) -> Option<Vec<Binder>> {
        let mut out = Vec::new();
        let mut ok = true;
        let mut total: usize = 1;
        for b in binders {
            if let Some(prev) = out.iter().find(|p: &&Binder| p.name == b.var.name) {
                self.report(
                    Diagnostic::error(
                        "E0202",
                        format!("The index `{}` is bound twice.", b.var.name),
                    )
                    .with_primary(b.var.span, "bound again here")
                    .with_secondary(prev.span, "first bound here"),
                );
                ok = false;
                continue;
            }
            let start = self.const_int(&b.start, "The start of an index range");
            let end = self.const_int(&b.end, "The end of an index range");
            let (Some(start), Some(end)) = (start, end) else {
                ok = false;
                continue;
            };
            if end < start {
                self.report(
                    Diagnostic::error(
                        "E0309",
                        format!("The range {start}..{end} of `{}` is backwards.", b.var.name),
                    )
                    .with_primary(b.span, format!("{start}..{end}"))
                    .with_note("ranges `a..b` include a and exclude b, so b must be at least a"),
                );
                ok = false;
                continue;
            }
            total = total.saturating_mul(usize::try_from(end - start).unwrap_or(usize::MAX));
            if total > super::ops::MAX_ELEMENTS && !self.scope.probe {
                self.report(
                    Diagnostic::error("E0309", format!("The index ranges here have {total} combinations, more than sci supports."))
                        .with_primary(b.span, "too large")
                        .with_note(format!("the limit is {} elements", super::ops::MAX_ELEMENTS)),
                );
                ok = false;
                continue;
            }
            let id = self.fresh_binder();
            self.define(&b.var.name, DefKind::IndexVar, b.var.span, Some(Ty::int()));
            self.scope.locals.push(Local::Index {
                name: b.var.name.clone(),
                id,
                start,
                end,
                span: b.var.span,
            });
            out.push(Binder {
                id,
                name: b.var.name.clone(),
                start,
                end,
                span: b.var.span,
            });
        }
        ok.then_some(out)
    }

    /// `[a, b, c]`: equal shapes, equal units.
    fn array(&mut self, items: &[Expr], span: Span) -> Option<Val> {
        if items.is_empty() {
            self.report(
                Diagnostic::error("E0302", "An empty array has no elements and no shape.")
                    .with_primary(span, "empty array"),
            );
            return None;
        }
        let mut vals = Vec::new();
        for item in items {
            vals.push(self.expr(item));
        }
        let mut vals: Vec<Val> = vals.into_iter().collect::<Option<_>>()?;
        for v in &vals {
            if !self.numeric(v, "An array element") {
                return None;
            }
        }
        // The first element with a fixed unit sets the unit; literals adapt to it.
        let lead = vals.iter().position(|v| !v.flex).unwrap_or(0);
        let mut first = vals.get(lead)?.clone();
        let mut batch = None;
        for (k, item) in vals.iter_mut().enumerate() {
            if item.ty().shape != first.ty().shape {
                let (s0, s1) = (
                    self.shape_desc(&first.ty().shape),
                    self.shape_desc(&item.ty().shape),
                );
                self.report(
                    Diagnostic::error("E0302", format!("The elements of an array must have equal shapes, but here are {s0} and {s1}."))
                        .with_primary(item.h.span, format!("shape {s1}"))
                        .with_secondary(first.h.span, format!("shape {s0}")),
                );
                return None;
            }
            if k != lead && !self.same_units("put in one array", &mut first, item) {
                return None;
            }
            batch = self.join_batch(batch, item.ty().batch, item.h.span, span)?;
        }
        let flex = vals.iter().all(|v| v.flex);
        let all_int = vals.iter().all(|v| v.ty().scalar == Scalar::Int);
        let mut shape = vec![vals.len()];
        shape.extend(first.ty().shape.iter().copied());
        let ty = Ty {
            scalar: if all_int { Scalar::Int } else { Scalar::Real },
            shape,
            batch,
            unit: first.ty().unit,
        };
        let hs: Vec<HExpr> = vals
            .into_iter()
            .map(|v| if all_int { v.h } else { to_real(v.h) })
            .collect();
        Some(Val {
            h: Self::mk(HExprKind::Array(hs), ty, span),
            flex,
        })
    }

    /// Checks `e` and folds it to a whole number (range bounds, sizes, option values).
    pub fn const_int(&mut self, e: &Expr, what: &str) -> Option<i64> {
        let v = self.expr(e)?;
        let t = self.fold_val(&v, what)?;
        let x = t.first();
        if t.shape.is_empty() && x.fract() != 0.0 && x.is_finite() {
            // Checking a generic function, the value came from stand-in sizes the user never
            // wrote: say it in terms of the shape variables.
            let mut help = "round it down to a whole number with `floor(…)`".to_string();
            let (why, label) = if self.scope.probe && !self.scope.shape_names.is_empty() {
                if let Some((_, first)) = self.scope.shape_names.first() {
                    help = format!("{help}, as in `floor({first} / 2)`");
                }
                let names: Vec<String> = (self.scope.shape_names.iter())
                    .map(|(_, name)| format!("`{name}`"))
                    .collect();
                (
                    format!(
                        "{what} must be a whole number for every size {}, and this one is not \
                         (a division that does not come out even).",
                        names.join(", ")
                    ),
                    "not whole for every size".to_string(),
                )
            } else {
                (
                    format!(
                        "{what} must be a whole number, but it is {}.",
                        fmt_value(&t)
                    ),
                    format!("= {}", fmt_value(&t)),
                )
            };
            self.report(
                Diagnostic::error("E0303", why)
                    .with_primary(e.span, label)
                    .with_help(help),
            );
            return None;
        }
        let why = if !t.shape.is_empty() || x.fract() != 0.0 {
            format!(
                "{what} must be a whole number, but it is {}.",
                fmt_value(&t)
            )
        } else if x.abs() > MAX_WHOLE {
            // Whole but beyond what any size or count can be (and what `f64` holds exactly).
            format!(
                "{what} is too large: {} (at most {MAX_WHOLE:e}).",
                fmt_value(&t)
            )
        } else {
            return Some(x as i64);
        };
        self.report(
            Diagnostic::error("E0303", why).with_primary(e.span, format!("= {}", fmt_value(&t))),
        );
        None
    }

    /// Folds a checked value, reporting why it is not a compile-time constant.
    pub fn fold_val(&mut self, v: &Val, what: &str) -> Option<fold::Tensor> {
        match fold::eval(&self.functions, &v.h) {
            Ok(t) => Some(t),
            Err(e) => {
                self.report_fold_error(e, v.h.span, what, "use constants (`const`) here");
                None
            }
        }
    }

    /// Reports why `what` (the value at `span`) has no compile-time value; `help` says
    /// what may be used instead of run-time values.
    pub fn report_fold_error(&mut self, e: fold::FoldError, span: Span, what: &str, help: &str) {
        match e {
            fold::FoldError::NotConstant(why, at) => {
                let mut d = Diagnostic::error(
                    "E0221",
                    format!("{what} must be known when the model is compiled, but it uses {why}."),
                )
                .with_primary(at, format!("{why} is only known at run time"));
                if at != span {
                    d = d.with_secondary(span, "in this value");
                }
                self.report(d.with_help(help.to_string()));
            }
            fold::FoldError::TooExpensive(at) => {
                if !self.scope.probe {
                    self.report(
                        Diagnostic::error(
                            "E0223",
                            format!("{what} is too expensive to compute when compiling."),
                        )
                        .with_primary(at, "too much work at compile time"),
                    );
                }
            }
            fold::FoldError::OutOfRange(at) => {
                self.report(
                    Diagnostic::error("E0304", format!("{what} reads outside an array."))
                        .with_primary(at, "index out of range"),
                );
            }
        }
    }

    /// The definition span of column `column` of data set `did`.
    pub fn column_span(&self, did: crate::hir::DataId, column: usize) -> Option<Span> {
        let m = self.model.as_ref()?;
        let name = m
            .names
            .iter()
            .find(|(_, v)| v.0 == MemberRef::Data(did))
            .map(|(n, _)| n.clone())?;
        self.model_members().iter().find_map(|mem| match &mem.kind {
            ast::MemberKind::Data(d) if d.name.name == name => {
                d.columns.get(column).map(|c| c.name.span)
            }
            _ => None,
        })
    }

    /// The members of the model being checked.
    pub fn model_members(&self) -> &'f [ast::Member] {
        self.model.as_ref().map_or(&[], |m| m.members)
    }
}

/// A folded value for messages.
pub fn fmt_value(t: &fold::Tensor) -> String {
    if t.shape.is_empty() {
        format!("{}", t.first())
    } else {
        format!("an array of shape {:?}", t.shape)
    }
}
