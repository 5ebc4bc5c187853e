//! Differential-algebraic models: algebraic equations `0 = value` and the states they
//! determine.
//!
//! A model with algebraic equations is a semi-explicit DAE `y' = f(t, y, z)`,
//! `0 = g(t, y, z)`: its states without `der` are the algebraic states `z`, and the
//! equations' elements (flattened, in declaration order) fill their rows of the system, so
//! the solver's mass matrix is `diag(1, 0)`. The counts must match (E0232); that the
//! equations determine the algebraic states (index 1: `∂g/∂z` non-singular) is checked by
//! the solver at the initial state, where it is known.

use super::env::{Checker, Ctx};
use super::ops::to_real;
use crate::ast::Expr;
use crate::hir::StateId;
use sci_diag::{Diagnostic, Span};

impl Checker<'_> {
    /// `0 = value`: a real value of any shape and unit (each element is one equation),
    /// seeing what a `der` equation sees.
    pub fn check_algebraic(&mut self, value: &Expr, span: Span) {
        self.member_scope(Ctx::Der);
        let v = self.expr(value);
        self.end_member_scope();
        let Some(v) = v else {
            return;
        };
        if !self.numeric(&v, "An algebraic equation") {
            return;
        }
        if v.ty().batch.is_some() {
            let desc = self.ty_desc(v.ty());
            self.report(
                Diagnostic::error(
                    "E0307",
                    format!(
                        "An algebraic equation cannot hold one value per point: this is a {desc}."
                    ),
                )
                .with_primary(value.span, "a batched value"),
            );
            return;
        }
        if let Some(m) = self.model.as_mut() {
            m.algebraic.push((to_real(v.h), span));
        }
    }

    /// The states without `der` are algebraic; their elements must be as many as the
    /// algebraic equations' (E0232).
    pub(super) fn algebraic_rules(&mut self) {
        let Some(env) = self.model.as_ref() else {
            return;
        };
        let count = |shape: &[usize]| shape.iter().product::<usize>();
        let states: Vec<(StateId, String, usize, Span)> = (env.der_seen.iter().enumerate())
            .filter(|(_, seen)| seen.is_none())
            .filter_map(|(i, _)| {
                let st = env.states.get(i)?.as_ref()?;
                Some((
                    StateId(i as u32),
                    st.name.clone(),
                    count(&st.shape),
                    st.span,
                ))
            })
            .collect();
        let equations: usize = env.algebraic.iter().map(|(h, _)| count(&h.ty.shape)).sum();
        let unknowns: usize = states.iter().map(|s| s.2).sum();
        if equations == unknowns && unknowns > 0 {
            let ids = states.iter().map(|s| s.0).collect();
            if let Some(m) = self.model.as_mut() {
                m.algebraic_states = ids;
            }
            return;
        }
        let first_eq = env.algebraic.first().map(|(_, s)| *s);
        let names: Vec<String> = states.iter().map(|s| format!("`{}`", s.1)).collect();
        let mut d = Diagnostic::error(
            "E0232",
            format!(
                "The model has {equations} algebraic equation{} but {unknowns} algebraic \
                 state{} (the states without `der`{}).",
                if equations == 1 { "" } else { "s" },
                if unknowns == 1 { "" } else { "s" },
                if names.is_empty() {
                    String::new()
                } else {
                    format!(": {}", names.join(", "))
                }
            ),
        );
        if let Some(span) = first_eq {
            d = d.with_primary(span, "an algebraic equation");
        }
        for (_, name, _, span) in &states {
            d = d.with_secondary(*span, format!("`{name}` has no `der`"));
        }
        d = d.with_help(if equations > unknowns {
            "declare a state for each extra equation (`state z = 0.0`, an initial guess), \
             or remove equations"
                .to_string()
        } else {
            "give each algebraic state an equation `0 = …`, or a `der` equation".to_string()
        });
        self.report(d);
    }
}
