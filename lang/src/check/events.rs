//! Events: `when condition { reinit(x, value) … }` and `when condition { stop }`.
//!
//! The condition is a comparison of two scalars, read as the zero crossing of their
//! difference `g = a − b` in the direction the comparison becomes true (`<`, `<=`: falling;
//! `>`, `>=`: rising), or `every(period[, start: t0])`, a schedule folded at compile time
//! (so it does not depend on θ, and sensitivities need no derivative of the event times).
//! Conditions and new values see what a `der` equation sees: states, parameters, `let`s and
//! `t`. E0228 covers a block or condition of the wrong form, E0229 a block that both stops
//! and resets, or resets one state twice.

use super::env::{Checker, Ctx, MemberRef, Val};
use super::ops::to_real;
use crate::ast::{self, Expr, ExprKind};
use crate::hir::{Binary, EventHir, EventTrigger, HExpr, HExprKind, ResetHir, Ty};
use sci_diag::{Diagnostic, Span};

/// The help of E0228 for a condition.
const CONDITION_HELP: &str =
    "write a comparison such as `h < 0` or `t >= 10`, or `every(24)` for a schedule";

impl<'f> Checker<'f> {
    /// `when condition { actions }`: checks it and records it in the model.
    pub fn check_when(&mut self, w: &'f ast::When, span: Span) {
        self.member_scope(Ctx::Event);
        let trigger = self.event_trigger(&w.condition);
        let actions = self.event_actions(w, span);
        self.end_member_scope();
        let (Some(trigger), Some((resets, stop))) = (trigger, actions) else {
            return;
        };
        let label = crate::fmt::expr_text(&w.condition);
        if let Some(env) = self.model.as_mut() {
            env.events.push(EventHir {
                label,
                trigger,
                resets,
                stop,
                span,
            });
        }
    }

    fn event_trigger(&mut self, condition: &Expr) -> Option<EventTrigger> {
        match &condition.kind {
            ExprKind::Call { callee, args } if callee.name == "every" => {
                self.every(args, condition.span)
            }
            ExprKind::Binary(op, a, b) => {
                let rising = match op {
                    ast::BinaryOp::Lt | ast::BinaryOp::Le => false,
                    ast::BinaryOp::Gt | ast::BinaryOp::Ge => true,
                    _ => return self.bad_condition(condition),
                };
                let g = self.crossing(a, b)?;
                Some(EventTrigger::Crossing { g, rising })
            }
            _ => self.bad_condition(condition),
        }
    }

    fn bad_condition(&mut self, condition: &Expr) -> Option<EventTrigger> {
        let why = match &condition.kind {
            ExprKind::Binary(ast::BinaryOp::Eq | ast::BinaryOp::Ne, _, _) => {
                "an exact (in)equality is almost never met at a solver's step; an event fires \
                 when a value crosses a threshold"
            }
            ExprKind::Binary(ast::BinaryOp::And | ast::BinaryOp::Or, _, _) => {
                "an event watches one quantity crossing a threshold; combine the parts \
                 into one value (`min(a, b) < 0`), or write one event per part"
            }
            _ => "an event fires when a quantity crosses a threshold",
        };
        self.report(
            Diagnostic::error(
                "E0228",
                "An event's condition must be a comparison `a < b`, `a <= b`, `a > b`, `a >= b`, or `every(period)`.",
            )
            .with_primary(condition.span, "not a crossing or a schedule")
            .with_note(why)
            .with_help(CONDITION_HELP),
        );
        None
    }

    /// `g = a − b` for the crossing condition `a ⋚ b`: two real scalars in one unit.
    fn crossing(&mut self, a: &Expr, b: &Expr) -> Option<HExpr> {
        let (a_val, b_val) = (self.expr(a), self.expr(b));
        let (mut a_val, mut b_val) = (a_val?, b_val?);
        for (v, e) in [(&a_val, a), (&b_val, b)] {
            if !self.numeric(v, "An event's condition") {
                return None;
            }
            if !v.ty().shape.is_empty() || v.ty().batch.is_some() {
                let desc = self.ty_desc(v.ty());
                self.report(
                    Diagnostic::error(
                        "E0302",
                        format!("An event's condition compares two scalars, but this is a {desc}."),
                    )
                    .with_primary(e.span, "not a scalar")
                    .with_help("compare one element (`u[0] < 0`) or a reduction (`min(u) < 0`)"),
                );
                return None;
            }
        }
        if !self.same_units("compare", &mut a_val, &mut b_val) {
            return None;
        }
        let (ha, hb) = (to_real(a_val.h), to_real(b_val.h));
        let ty = Ty::real(ha.ty.unit.or(hb.ty.unit));
        let span = ha.span.to(hb.span);
        Some(Self::mk(
            HExprKind::Binary(Binary::Sub, Box::new(ha), Box::new(hb)),
            ty,
            span,
        ))
    }

    /// `every(period)` or `every(period, start: t0)`: both folded, the period positive.
    fn every(&mut self, args: &[ast::Arg], span: Span) -> Option<EventTrigger> {
        let mut period = None;
        let mut start = None;
        for (k, arg) in args.iter().enumerate() {
            match (k, arg.name.as_ref().map(|n| n.name.as_str())) {
                (0, None) => {
                    period = Some(self.schedule_time(&arg.value, "The period of `every`")?)
                }
                (_, Some("start")) => {
                    start = Some(self.schedule_time(&arg.value, "The start of `every`")?)
                }
                _ => {
                    self.report(
                        Diagnostic::error(
                            "E0228",
                            "`every` takes a period and, optionally, `start:`.",
                        )
                        .with_primary(arg.value.span, "not expected here")
                        .with_help("write `every(24)` or `every(24, start: 6)`"),
                    );
                    return None;
                }
            }
        }
        let Some(period) = period else {
            self.report(
                Diagnostic::error("E0228", "`every` needs a period.")
                    .with_primary(span, "no period")
                    .with_help("write `every(24)` for an event every 24 time units"),
            );
            return None;
        };
        if period.is_nan() || period <= 0.0 {
            self.report(
                Diagnostic::error(
                    "E0228",
                    format!("The period of `every` must be positive, but it is {period}."),
                )
                .with_primary(span, "not a positive period"),
            );
            return None;
        }
        Some(EventTrigger::Every { period, start })
    }

    /// A time of a schedule: a real constant in the model's time unit.
    fn schedule_time(&mut self, e: &Expr, what: &str) -> Option<f64> {
        let mut v = self.expr(e)?;
        if !self.numeric(&v, what) {
            return None;
        }
        let time = self.model.as_ref().and_then(|m| m.time_unit);
        if v.flex {
            self.adapt_literal(&mut v, time);
        } else if let (Some(got), Some(want)) = (v.ty().unit, time)
            && got != want
        {
            let d = self.conversion_to(
                format!(
                    "{what} must be in {}, the model's time unit, but it is in {}.",
                    crate::units::Pretty(want),
                    crate::units::Pretty(got)
                ),
                (e.span, got),
                (e.span, String::new()),
                want,
            );
            self.report(d);
            return None;
        }
        let t = self.fold_val(&v, what)?;
        if !t.shape.is_empty() {
            self.report(
                Diagnostic::error("E0302", format!("{what} must be a single number."))
                    .with_primary(e.span, "not a scalar"),
            );
            return None;
        }
        Some(t.first())
    }

    /// The block: `reinit`s, or `stop`.
    fn event_actions(&mut self, w: &'f ast::When, span: Span) -> Option<(Vec<ResetHir>, bool)> {
        let mut resets: Vec<ResetHir> = Vec::new();
        let mut stop: Option<Span> = None;
        let mut ok = true;
        for action in &w.actions {
            match &action.kind {
                ExprKind::Name(id) if id.name == "stop" => stop = Some(action.span),
                ExprKind::Call { callee, args } if callee.name == "reinit" => {
                    match self.reinit(args, action.span) {
                        Some(r) => {
                            if let Some(prev) = resets
                                .iter()
                                .find(|p| (p.state, p.element) == (r.state, r.element))
                            {
                                self.report(
                                    Diagnostic::error(
                                        "E0229",
                                        "This event sets the same state twice.",
                                    )
                                    .with_primary(r.span, "set again here")
                                    .with_secondary(prev.span, "first set here")
                                    .with_help("combine the two into one `reinit`"),
                                );
                                ok = false;
                            }
                            resets.push(r);
                        }
                        None => ok = false,
                    }
                }
                _ => {
                    self.report(
                        Diagnostic::error(
                            "E0228",
                            "An event's block holds `reinit(state, value)` and `stop` only.",
                        )
                        .with_primary(action.span, "not an event action")
                        .with_help("write `reinit(v, -0.8 * v)` to set a state, or `stop` to end the solve"),
                    );
                    ok = false;
                }
            }
        }
        if w.actions.is_empty() {
            self.report(
                Diagnostic::error("E0228", "This event does nothing: its block is empty.")
                    .with_primary(span, "an empty event")
                    .with_help("add `reinit(state, value)` or `stop`"),
            );
            return None;
        }
        if let (Some(stop), Some(first)) = (stop, resets.first()) {
            self.report(
                Diagnostic::error(
                    "E0229",
                    "An event that stops the solve cannot also set states.",
                )
                .with_primary(stop, "stops here")
                .with_secondary(first.span, "sets a state here")
                .with_help("the solve ends at the event with the states it has; remove the `reinit`s or the `stop`"),
            );
            ok = false;
        }
        ok.then_some((resets, stop.is_some()))
    }

    /// `reinit(x, value)` or `reinit(x[i, j], value)`.
    fn reinit(&mut self, args: &[ast::Arg], span: Span) -> Option<ResetHir> {
        let [target, value] = args else {
            self.report(
                Diagnostic::error(
                    "E0305",
                    format!(
                        "`reinit` takes a state and its new value, but it was given {} arguments.",
                        args.len()
                    ),
                )
                .with_primary(span, "expects `reinit(state, value)`"),
            );
            return None;
        };
        if target.name.is_some() || value.name.is_some() {
            self.report(
                Diagnostic::error("E0228", "`reinit` takes no named arguments.")
                    .with_primary(span, "named argument")
                    .with_help("write `reinit(v, -0.8 * v)`"),
            );
            return None;
        }
        let (name, indices) = match &target.value.kind {
            ExprKind::Name(id) => (id, &[][..]),
            ExprKind::Index { base, indices } => match &base.kind {
                ExprKind::Name(id) => (id, &indices[..]),
                _ => return self.not_a_state_target(&target.value),
            },
            _ => return self.not_a_state_target(&target.value),
        };
        let found = self
            .model
            .as_ref()
            .and_then(|m| m.names.get(&name.name))
            .copied();
        let (state, def) = match found {
            Some((MemberRef::State(s), def)) => (s, def),
            Some(_) => return self.not_a_state_target(&target.value),
            None => {
                self.unknown_name(name, Some("state"));
                return None;
            }
        };
        self.reference(name.span, def);
        let st = self.model.as_ref()?.states.get(state.index())?.clone()?;
        let element = self.reset_element(&st.shape, indices, &target.value, &name.name)?;
        let want_shape: &[usize] = if element.is_some() { &[] } else { &st.shape };
        let mut v = self.expr(&value.value)?;
        if !self.numeric(&v, "The new value of a state") {
            return None;
        }
        if !v.ty().shape.is_empty() && v.ty().shape != want_shape {
            let (w, g) = (self.shape_desc(want_shape), self.shape_desc(&v.ty().shape));
            self.report(
                Diagnostic::error(
                    "E0302",
                    format!(
                        "The new value of `{}` must have shape {w}, but it has shape {g}.",
                        name.name
                    ),
                )
                .with_primary(value.value.span, format!("shape {g}"))
                .with_secondary(
                    st.span,
                    format!("`{}` has shape {}", name.name, self.shape_desc(&st.shape)),
                ),
            );
            return None;
        }
        if !self.reset_unit(&mut v, &st, &value.value, &name.name) {
            return None;
        }
        Some(ResetHir {
            state,
            element,
            value: to_real(v.h),
            span,
        })
    }

    fn not_a_state_target(&mut self, target: &Expr) -> Option<ResetHir> {
        self.report(
            Diagnostic::error(
                "E0228",
                "`reinit` sets a state: its first argument must be a state or one element of it.",
            )
            .with_primary(target.span, "not a state")
            .with_help("write `reinit(v, -0.8 * v)` or `reinit(u[0], 1)`"),
        );
        None
    }

    /// The row-major element `x[i, j]` names (constant indices, in range), or `None` for
    /// the whole state.
    fn reset_element(
        &mut self,
        shape: &[usize],
        indices: &[Expr],
        target: &Expr,
        name: &str,
    ) -> Option<Option<usize>> {
        if indices.is_empty() {
            return Some(None);
        }
        if indices.len() != shape.len() {
            self.report(
                Diagnostic::error(
                    "E0306",
                    format!(
                        "`{name}` has {} axes, but `reinit` indexes it with {}.",
                        shape.len(),
                        indices.len()
                    ),
                )
                .with_primary(target.span, "wrong number of indices"),
            );
            return None;
        }
        let mut flat = 0usize;
        for (e, &n) in indices.iter().zip(shape) {
            let k = self.const_int(e, "The index of a `reinit`")?;
            if k < 0 || k as usize >= n {
                self.report(
                    Diagnostic::error(
                        "E0304",
                        format!(
                            "The index {k} is outside `{name}` (0 to {}).",
                            n.saturating_sub(1)
                        ),
                    )
                    .with_primary(e.span, "out of range"),
                );
                return None;
            }
            flat = flat * n + k as usize;
        }
        Some(Some(flat))
    }

    /// The new value in the state's unit (a bare number takes it).
    fn reset_unit(
        &mut self,
        v: &mut Val,
        st: &crate::hir::StateHir,
        value: &Expr,
        name: &str,
    ) -> bool {
        if v.flex {
            self.adapt_literal(v, st.unit);
            return true;
        }
        match (v.ty().unit, st.unit) {
            (Some(got), Some(want)) if got != want => {
                let d = self.conversion_to(
                    format!(
                        "The new value of `{name}` must be in {}, but it is in {}.",
                        crate::units::Pretty(want),
                        crate::units::Pretty(got)
                    ),
                    (value.span, got),
                    (
                        st.span,
                        format!("`{name}` is in {}", crate::units::Pretty(want)),
                    ),
                    want,
                );
                self.report(d);
                false
            }
            _ => true,
        }
    }
}
