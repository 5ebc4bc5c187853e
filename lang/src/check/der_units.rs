//! The unit of a `der` right-hand side that is not the state's unit per time unit (E0405),
//! with the fixes that apply: a conversion of the right-hand side when only the scale
//! differs, the model's time unit when the right-hand side is "per day" and the model
//! counts in seconds, or the state's unit when the state has none.

use super::env::Checker;
use crate::ast::{self, DomainDim, MemberKind};
use crate::hir::StateHir;
use crate::units::Pretty;
use sci_diag::Diagnostic;
use sci_ir::Unit;

impl Checker<'_> {
    /// E0405 for `der(x) = value` with `value` in `got` where `want` (the unit of `x` per
    /// the model's time unit) is needed.
    pub(super) fn der_unit_mismatch(
        &self,
        eq: &ast::DerEquation,
        state: &StateHir,
        got: Unit,
        want: Unit,
    ) -> Diagnostic {
        let name = &eq.target.name;
        let time = self.model.as_ref().and_then(|m| m.time_unit);
        let per = match time {
            Some(t) if t == Unit::base(2) => "second".to_string(),
            Some(t) => Pretty(t).to_string(),
            None => "unit of time".to_string(),
        };
        // The right-hand side is the value to convert (the help `conversion_to` gives when
        // only the scale differs).
        let mut d = self.conversion_to(
            format!(
                "`der({name})` must be in {} (the unit of `{name}` per {per}), but the \
                 right-hand side is in {}.",
                Pretty(want),
                Pretty(got)
            ),
            (eq.value.span, got),
            (
                state.span,
                format!("`{name}` is in {}", Self::unit_desc(&state.unit)),
            ),
            want,
        );
        d.code = "E0405";
        if got.same_dimension(&want) {
            // Or, more often what was meant: count time in the unit the right-hand side is
            // per.
            if let Some(line) = self.time_unit_fix(state, got) {
                d = d.with_note(format!(
                    "or, if the model's time is counted in that unit, declare it: `{line}`"
                ));
            }
            return d;
        }
        let unannotated = state.unit.is_some_and(|u| u == Unit::DIMENSIONLESS);
        if let (Some(t), true) = (time, unannotated)
            && let Some(suggest) = got.mul(&t)
        {
            let suggest = Pretty(suggest);
            d = d.with_help(format!(
                "if `{name}` is meant to be in {suggest}, declare it: `state {name}: {suggest} = …`"
            ));
        }
        d
    }

    /// `domain time: t in [t0, t1] UNIT` with the time unit that makes `got` the state's
    /// unit per time, when that unit has a name (`day`, `h`, `ms`).
    fn time_unit_fix(&self, state: &StateHir, got: Unit) -> Option<String> {
        let time = state.unit?.div(&got)?;
        if time.dims != Unit::base(2).dims {
            return None;
        }
        let symbol = Pretty(time).to_string();
        if !symbol.chars().all(|c| c.is_alphabetic()) {
            return None;
        }
        let span = self.time_span_text();
        let (name, lo, hi) = span.as_ref().map_or(("time", "0", "1"), |(n, lo, hi)| {
            (n.as_str(), lo.as_str(), hi.as_str())
        });
        Some(format!("domain {name}: t in [{lo}, {hi}] {symbol}"))
    }

    /// The model's time span as written: its name and bounds.
    fn time_span_text(&self) -> Option<(String, String, String)> {
        let members = self.model.as_ref()?.members;
        members.iter().find_map(|m| match &m.kind {
            MemberKind::Domain(d) if super::model::is_time_span(d) => {
                let DomainDim { lo, hi, .. } = d.dims.first()?;
                Some((
                    d.name.name.clone(),
                    crate::fmt::expr_text(lo),
                    crate::fmt::expr_text(hi),
                ))
            }
            _ => None,
        })
    }
}
