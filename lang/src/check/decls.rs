//! Named definitions (`const`, `param`, `state`, `let`, `output`) and `der` equations:
//! their binders, values, shapes and units, folded where they must be constant.

use super::DefKind;
use super::env::{Checker, ConstVal, Ctx, LetSlot, MemberRef, Val};
use super::fold;
use super::model::visit_children;
use super::ops::to_real;
use crate::ast::{self, Decl};
use crate::hir::{
    Binder, ConstHir, Defn, HExpr, HExprKind, LetHir, LetId, OutputHir, OutputId, ParamHir,
    ParamId, Scalar, StateHir, StateId, Ty,
};
use sci_diag::{Diagnostic, Span};
use sci_ir::Unit;

/// What kind of named definition a [`Decl`] is.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum DeclKind {
    Const,
    Param,
    State,
    Let,
    Output,
}

impl DeclKind {
    fn word(self) -> &'static str {
        match self {
            DeclKind::Const => "constant",
            DeclKind::Param => "parameter",
            DeclKind::State => "state",
            DeclKind::Let => "`let`",
            DeclKind::Output => "output",
        }
    }
}

/// A checked definition: its binders, value, full shape and unit.
pub struct DeclOut {
    pub binders: Vec<Binder>,
    pub value: HExpr,
    pub shape: Vec<usize>,
    pub unit: Option<Unit>,
}

impl DeclOut {
    /// The shape, the unit and the element rule (binders and value) of the definition.
    fn into_parts(self) -> (Vec<usize>, Option<Unit>, Defn) {
        let defn = Defn {
            binders: self.binders,
            value: self.value,
        };
        (self.shape, self.unit, defn)
    }
}

impl<'f> Checker<'f> {
    /// Checks a definition inside its member scope (`ctx`) and records its type for hover.
    fn check_scoped_decl(&mut self, d: &Decl, ctx: Ctx, kind: DeclKind) -> Option<DeclOut> {
        self.member_scope(ctx);
        let out = self.check_decl(d, kind);
        self.end_member_scope();
        let out = out?;
        self.record_decl_type(d, &out);
        Some(out)
    }

    /// Records the type of a definition's name (the language server's hover).
    fn record_decl_type(&mut self, d: &Decl, out: &DeclOut) {
        self.set_def_ty(
            d.name.span,
            &Ty {
                shape: out.shape.clone(),
                ..Ty::real(out.unit)
            },
        );
    }

    /// Checks a named definition's binders, value and annotation.
    pub fn check_decl(&mut self, d: &Decl, kind: DeclKind) -> Option<DeclOut> {
        let ctx = match kind {
            DeclKind::Const => Ctx::Const,
            DeclKind::Param => Ctx::ParamDefault,
            DeclKind::State => Ctx::StateInit,
            DeclKind::Let => Ctx::Let,
            DeclKind::Output => Ctx::Output,
        };
        self.scope.ctx = ctx;
        self.scope.stencil = !d.index.is_empty()
            && matches!(kind, DeclKind::State | DeclKind::Let | DeclKind::Output);
        let before = self.scope.locals.len();
        let binders = self.bind_indices(&d.index);
        let value = if binders.is_some() {
            self.expr(&d.value)
        } else {
            None
        };
        self.scope.locals.truncate(before);
        self.scope.stencil = false;
        // The annotation: `real[3]` and/or a unit.
        self.scope.ctx = Ctx::Const;
        let mut ann_shape = None;
        let mut ann_unit = None;
        let mut ann_ok = true;
        if let Some(ann) = &d.ty {
            if let Some(dims) = &ann.tensor {
                let mut shape = Vec::new();
                for e in dims {
                    match self.const_int(e, "An array size") {
                        Some(n) if n >= 0 => shape.push(n as usize),
                        Some(n) => {
                            self.report(
                                Diagnostic::error(
                                    "E0309",
                                    format!("An array size must not be negative, but this is {n}."),
                                )
                                .with_primary(e.span, format!("= {n}")),
                            );
                            ann_ok = false;
                        }
                        None => ann_ok = false,
                    }
                }
                ann_shape = Some(shape);
            }
            if let Some(u) = &ann.unit {
                match crate::units::resolve(u) {
                    Ok(u) => ann_unit = Some(u),
                    Err(ds) => {
                        self.diags.extend(ds);
                        ann_ok = false;
                    }
                }
            }
        }
        self.scope.ctx = ctx;
        let (mut binders, mut value) = (binders?, value?);
        if !ann_ok {
            return None;
        }
        let name = &d.name.name;
        let word = kind.word();
        if value.ty().scalar == Scalar::Bool {
            self.report(
                Diagnostic::error(
                    "E0301",
                    format!(
                        "The {word} `{name}` must be a number, but its value is a true/false value."
                    ),
                )
                .with_primary(d.value.span, "a boolean")
                .with_help("use `if cond then 1 else 0` to turn a condition into a number"),
            );
            return None;
        }
        if let Some(b) = value.ty().batch {
            let what = self.batch_desc(b);
            self.report(
                Diagnostic::error(
                    "E0307",
                    format!("The {word} `{name}` cannot hold one value per point of {what}."),
                )
                .with_primary(d.value.span, "a batched value"),
            );
            return None;
        }
        // Shape: binder extents, then the value's shape.
        let mut shape: Vec<usize> = binders.iter().map(Binder::extent).collect();
        shape.extend(value.ty().shape.iter().copied());
        if let Some(want) = ann_shape
            && want != shape
        {
            if binders.is_empty() && value.ty().shape.is_empty() {
                // A scalar value fills the whole declared array.
                for (k, &n) in want.iter().enumerate() {
                    let id = self.fresh_binder();
                    binders.push(Binder {
                        id,
                        name: format!("_i{k}"),
                        start: 0,
                        end: n as i64,
                        span: d.name.span,
                    });
                }
                shape = want;
            } else {
                let (w, g) = (self.shape_desc(&want), self.shape_desc(&shape));
                self.report(
                    Diagnostic::error("E0302", format!("The {word} `{name}` is declared with shape {w}, but its value has shape {g}."))
                        .with_primary(d.value.span, format!("shape {g}"))
                        .with_secondary(d.ty.as_ref().map_or(d.name.span, |t| t.span), format!("declared {w}")),
                );
                return None;
            }
        }
        if sci_ir::types::element_count(&shape).is_none_or(|n| n > super::ops::MAX_ELEMENTS) {
            self.report(
                Diagnostic::error(
                    "E0302",
                    format!(
                        "The {word} `{name}` would have more than {} elements.",
                        super::ops::MAX_ELEMENTS
                    ),
                )
                .with_primary(d.name.span, "too large"),
            );
            return None;
        }
        // Unit: the annotation's (a literal adapts to it), else the value's.
        let unit = if !self.scope.units_on {
            None
        } else if let Some(want) = ann_unit {
            if value.flex {
                self.adapt_literal(&mut value, Some(want));
            } else if let Some(got) = value.ty().unit
                && got != want
            {
                let ann_span = d.ty.as_ref().map_or(d.name.span, |t| t.span);
                let (pw, pg) = (crate::units::Pretty(want), crate::units::Pretty(got));
                let diag = self.conversion_to(
                    format!("The {word} `{name}` is declared in {pw}, but its value is in {pg}."),
                    (d.value.span, got),
                    (ann_span, format!("declared in {pw}")),
                    want,
                );
                self.report(diag);
                return None;
            }
            Some(want)
        } else {
            Some(value.ty().unit.unwrap_or(Unit::DIMENSIONLESS))
        };
        let keep_int = kind == DeclKind::Const && value.ty().scalar == Scalar::Int;
        let mut h = if keep_int { value.h } else { to_real(value.h) };
        h.ty.unit = unit;
        Some(DeclOut {
            binders,
            value: h,
            shape,
            unit,
        })
    }

    /// Folds a checked definition to its elements.
    pub fn fold_decl(&mut self, out: &DeclOut, what: &str) -> Option<Vec<f64>> {
        let bs: Vec<_> = out.binders.iter().map(|b| (b.id, b.start, b.end)).collect();
        match fold::eval_defn(&self.functions, &bs, &out.value) {
            Ok(t) => Some(t.data),
            Err(_) => {
                // Re-fold the value alone for a precise message.
                let v = Val::fixed(out.value.clone());
                self.fold_val(&v, what);
                None
            }
        }
    }

    /// A `const` (file-level when `in_model` is false).
    pub fn check_const(&mut self, d: &'f Decl, in_model: bool) {
        if in_model {
            self.member_scope(Ctx::Const);
        } else {
            self.scope = super::env::Scope::new(Ctx::Const, self.file_units, false);
        }
        let out = self.check_decl(d, DeclKind::Const);
        let value = out.and_then(|out| {
            let data = self.fold_decl(&out, &format!("The constant `{}`", d.name.name))?;
            Some(ConstVal {
                scalar: out.value.ty.scalar,
                shape: out.shape,
                unit: out.unit,
                data,
            })
        });
        if in_model {
            self.end_member_scope();
        }
        let Some(mut value) = value else {
            return;
        };
        self.apply_override(d, &mut value);
        let ty = Ty {
            scalar: value.scalar,
            shape: value.shape.clone(),
            batch: None,
            unit: value.unit,
        };
        self.set_def_ty(d.name.span, &ty);
        if in_model {
            if let Some(env) = self.model.as_mut() {
                env.const_list.push(ConstHir {
                    name: d.name.name.clone(),
                    shape: value.shape.clone(),
                    unit: value.unit,
                    value: value.data.clone(),
                    span: d.name.span,
                });
                if let Some(e) = env.consts.get_mut(&d.name.name) {
                    e.value = Some(value);
                }
            }
        } else {
            self.file_const_list.push(ConstHir {
                name: d.name.name.clone(),
                shape: value.shape.clone(),
                unit: value.unit,
                value: value.data.clone(),
                span: d.name.span,
            });
            if let Some(e) = self.file_consts.get_mut(&d.name.name) {
                e.value = Some(value);
            }
        }
    }

    /// Replaces a constant's folded value by the one given from outside the source, if
    /// any (E0227 when the number of values differs from the constant's).
    fn apply_override(&mut self, d: &Decl, value: &mut ConstVal) {
        let Some(given) = self.overrides.get(&d.name.name) else {
            return;
        };
        if given.len() == value.data.len() {
            value.data = given.clone();
            return;
        }
        self.diags.push(
            Diagnostic::error(
                "E0227",
                format!(
                    "`{}` was given {} value{} from outside the source, but it has {}.",
                    d.name.name,
                    given.len(),
                    if given.len() == 1 { "" } else { "s" },
                    value.data.len()
                ),
            )
            .with_primary(d.name.span, "the constant whose value was given")
            .with_help(format!(
                "give {} comma-separated values, row-major",
                value.data.len()
            )),
        );
    }

    pub fn check_param(&mut self, id: ParamId, d: &Decl) {
        self.member_scope(Ctx::ParamDefault);
        let out = self.check_decl(d, DeclKind::Param);
        let default = out
            .as_ref()
            .and_then(|o| self.fold_decl(o, &format!("The default of `{}`", d.name.name)));
        self.end_member_scope();
        let (Some(out), Some(default)) = (out, default) else {
            return;
        };
        self.record_decl_type(d, &out);
        if let Some(slot) = self
            .model
            .as_mut()
            .and_then(|m| m.params.get_mut(id.index()))
        {
            *slot = Some(ParamHir {
                name: d.name.name.clone(),
                shape: out.shape,
                unit: out.unit,
                default,
                fixed: d.fixed.is_some(),
                span: d.name.span,
            });
        }
    }

    pub fn check_state(&mut self, id: StateId, d: &Decl) {
        let Some(out) = self.check_scoped_decl(d, Ctx::StateInit, DeclKind::State) else {
            return;
        };
        let (shape, unit, defn) = out.into_parts();
        if let Some(slot) = self
            .model
            .as_mut()
            .and_then(|m| m.states.get_mut(id.index()))
        {
            *slot = Some(StateHir {
                name: d.name.name.clone(),
                shape,
                unit,
                init: defn,
                rhs: None,
                span: d.name.span,
            });
        }
    }

    pub fn check_let(&mut self, id: LetId, d: &Decl) {
        let Some(out) = self.check_scoped_decl(d, Ctx::Let, DeclKind::Let) else {
            return;
        };
        let dynamic = self.is_dynamic(&out.value, 0);
        let (shape, unit, defn) = out.into_parts();
        if let Some(slot) = self.model.as_mut().and_then(|m| m.lets.get_mut(id.index())) {
            *slot = Some(LetSlot {
                hir: LetHir {
                    name: d.name.name.clone(),
                    shape,
                    unit,
                    defn,
                    span: d.name.span,
                },
                dynamic,
            });
        }
    }

    /// True if an expression depends on time (states, `t`, `der`, time-dependent lets).
    pub fn is_dynamic(&self, h: &HExpr, depth: u32) -> bool {
        if depth > 400 {
            return true;
        }
        let lets = self.model.as_ref().map(|m| &m.lets);
        let mut dynamic = false;
        visit_children(h, &mut |c| {
            dynamic |= match &c.kind {
                HExprKind::State(_) | HExprKind::Time | HExprKind::Der(_) => true,
                HExprKind::Let(l) => lets
                    .and_then(|ls| ls.get(l.index()))
                    .and_then(|s| s.as_ref())
                    .is_none_or(|s| s.dynamic),
                _ => self.is_dynamic(c, depth + 1),
            };
        });
        dynamic
    }

    pub fn check_output(&mut self, id: OutputId, d: &Decl) {
        let Some(out) = self.check_scoped_decl(d, Ctx::Output, DeclKind::Output) else {
            return;
        };
        let (shape, unit, defn) = out.into_parts();
        if let Some(slot) = self
            .model
            .as_mut()
            .and_then(|m| m.outputs.get_mut(id.index()))
        {
            *slot = Some(OutputHir {
                name: d.name.name.clone(),
                shape,
                unit,
                defn,
                span: d.name.span,
            });
        }
    }

    /// `der(u[i]) = value`.
    pub fn check_der(&mut self, eq: &ast::DerEquation, span: Span) {
        let found = self
            .model
            .as_ref()
            .and_then(|m| m.names.get(&eq.target.name))
            .copied();
        let s = match found {
            Some((MemberRef::State(s), def)) => {
                self.reference(eq.target.span, def);
                s
            }
            Some((_, def)) => {
                self.report(
                    Diagnostic::error(
                        "E0210",
                        format!(
                            "`der` takes a state, and `{}` is not a state of this model.",
                            eq.target.name
                        ),
                    )
                    .with_primary(eq.target.span, "not a state")
                    .with_secondary(def, "defined here")
                    .with_help(format!(
                        "declare it with `state {} = …` to give it a time derivative",
                        eq.target.name
                    )),
                );
                return;
            }
            None => {
                self.unknown_name(&eq.target, Some("state"));
                return;
            }
        };
        let Some(env) = self.model.as_mut() else {
            return;
        };
        if let Some(prev) = env.der_seen.get(s.index()).copied().flatten() {
            self.report(
                Diagnostic::error("E0212", format!("The state `{}` has two `der` equations.", eq.target.name))
                    .with_primary(span, "second equation")
                    .with_secondary(prev, "first equation")
                    .with_help("each state has exactly one right-hand side; combine the terms into one equation"),
            );
            return;
        }
        if let Some(seen) = env.der_seen.get_mut(s.index()) {
            *seen = Some(span);
        }
        let Some(state) = env.states.get(s.index()).cloned().flatten() else {
            return;
        };
        let k = eq.indices.len();
        if k > state.shape.len() {
            let message = if state.shape.is_empty() {
                format!(
                    "`{}` is a scalar state, so `der({})` takes no indices.",
                    eq.target.name, eq.target.name
                )
            } else {
                format!(
                    "`{}` has {} axes, but `der({}[…])` has {k} indices.",
                    eq.target.name,
                    state.shape.len(),
                    eq.target.name
                )
            };
            self.report(
                Diagnostic::error("E0213", message)
                    .with_primary(span, format!("{k} indices"))
                    .with_secondary(
                        state.span,
                        format!("shape {}", self.shape_desc(&state.shape)),
                    ),
            );
            return;
        }
        self.member_scope(Ctx::Der);
        let mut binders = Vec::new();
        for (j, ix) in eq.indices.iter().enumerate() {
            if let Some(prev) = eq
                .indices
                .get(..j)
                .and_then(|p| p.iter().find(|q| q.name == ix.name))
            {
                self.report(
                    Diagnostic::error(
                        "E0213",
                        format!(
                            "The index `{}` is used twice on the left of `der`.",
                            ix.name
                        ),
                    )
                    .with_primary(ix.span, "again here")
                    .with_secondary(prev.span, "first here")
                    .with_help("use one index variable per axis: `der(A[i, j])`"),
                );
                self.end_member_scope();
                return;
            }
            let id = self.fresh_binder();
            let end = state.shape.get(j).copied().unwrap_or(0) as i64;
            self.define(&ix.name, DefKind::IndexVar, ix.span, Some(Ty::int()));
            self.scope.locals.push(super::env::Local::Index {
                name: ix.name.clone(),
                id,
                start: 0,
                end,
                span: ix.span,
            });
            binders.push(Binder {
                id,
                name: ix.name.clone(),
                start: 0,
                end,
                span: ix.span,
            });
        }
        self.scope.stencil = k > 0;
        let value = self.expr(&eq.value);
        self.scope.stencil = false;
        let rest: Vec<usize> = state.shape.get(k..).unwrap_or(&[]).to_vec();
        let result = value.and_then(|mut v| {
            if !self.numeric(&v, "A right-hand side") {
                return None;
            }
            if let Some(b) = v.ty().batch {
                let what = self.batch_desc(b);
                self.report(
                    Diagnostic::error(
                        "E0307",
                        format!("A right-hand side cannot hold one value per point of {what}."),
                    )
                    .with_primary(eq.value.span, "a batched value"),
                );
                return None;
            }
            if v.ty().shape != rest {
                if v.ty().shape.is_empty() {
                    for (j, &n) in rest.iter().enumerate() {
                        let id = self.fresh_binder();
                        binders.push(Binder {
                            id,
                            name: format!("_i{}", k + j),
                            start: 0,
                            end: n as i64,
                            span: eq.target.span,
                        });
                    }
                } else {
                    let (w, g) = (self.shape_desc(&rest), self.shape_desc(&v.ty().shape));
                    self.report(
                        Diagnostic::error(
                            "E0302",
                            format!(
                                "The right-hand side must have shape {w}, but it has shape {g}."
                            ),
                        )
                        .with_primary(eq.value.span, format!("shape {g}"))
                        .with_secondary(
                            state.span,
                            format!(
                                "`{}` has shape {}",
                                eq.target.name,
                                self.shape_desc(&state.shape)
                            ),
                        ),
                    );
                    return None;
                }
            }
            let time = self.model.as_ref().and_then(|m| m.time_unit);
            let want = match (state.unit, time) {
                (Some(u), Some(t)) => u.div(&t),
                _ => None,
            };
            if let Some(want) = want {
                if v.flex {
                    self.adapt_literal(&mut v, Some(want));
                } else if let Some(got) = v.ty().unit
                    && got != want
                {
                    let d = self.der_unit_mismatch(eq, &state, got, want);
                    self.report(d);
                    return None;
                }
            }
            let mut h = to_real(v.h);
            h.ty.unit = want.or(h.ty.unit);
            Some(h)
        });
        self.end_member_scope();
        let Some(value) = result else {
            return;
        };
        if let Some(st) = self
            .model
            .as_mut()
            .and_then(|m| m.states.get_mut(s.index()))
            .and_then(|x| x.as_mut())
        {
            st.rhs = Some(Defn { binders, value });
        }
    }
}
