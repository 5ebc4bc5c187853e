//! The functions of a model's events: `events(t, y, θ) -> f64[m]` and
//! `event_resets(t, y, θ) -> f64[m·n]`.
//!
//! `events` holds each event's crossing function `g_k = a − b` (for `when a < b`, …; 0
//! for a scheduled event, which the solver fires by time). `event_resets` holds, row-major,
//! the state vector after each event: `y` with the `reinit`ed elements replaced (`y` itself
//! for an event that stops). One function per purpose rather than one per event keeps the
//! derivative functions (their Jacobian-vector products in `y` and θ, for sensitivities
//! across events) to a fixed few; events are rare, so computing every row when one fires
//! costs nothing that matters.

use super::cx::{FnCx, Statics};
use super::{Res, diag, ode};
use crate::hir::{EventTrigger, ResetHir};
use sci_ir::{Function, Op, Type, ValueId};

/// `events(t, y, θ) -> f64[m]`.
pub(super) fn lower_event_conditions(st: &Statics) -> Res<Function> {
    let model = st
        .model
        .ok_or_else(|| diag::internal(st.span, "events without a model"))?;
    let mut cx = FnCx::new(st, "events", "an event's condition", ode::ode_inputs(st));
    ode::bind_ode_inputs(&mut cx)?;
    let roots: Vec<_> = model
        .events
        .iter()
        .filter_map(|e| match &e.trigger {
            EventTrigger::Crossing { g, .. } => Some(g),
            EventTrigger::Every { .. } => None,
        })
        .collect();
    cx.prepare(&roots)?;
    let mut parts = Vec::with_capacity(model.events.len());
    for e in &model.events {
        let g = match &e.trigger {
            EventTrigger::Crossing { g, .. } => {
                let v = cx.expr(g, None)?;
                cx.conform(v, &Type::scalar(), e.span)?
            }
            EventTrigger::Every { .. } => cx.push(Op::Const(0.0), Type::scalar(), None),
        };
        parts.push(g);
    }
    let out = cx.push(
        Op::Concat(parts),
        Type::f64(vec![model.events.len()]),
        Some("g"),
    );
    Ok(cx.finish(out))
}

/// `event_resets(t, y, θ) -> f64[m·n]`: row `k` is the state after event `k`.
pub(super) fn lower_event_resets(st: &Statics) -> Res<Function> {
    let model = st
        .model
        .ok_or_else(|| diag::internal(st.span, "event resets without a model"))?;
    let mut cx = FnCx::new(st, "event_resets", "a `reinit` value", ode::ode_inputs(st));
    ode::bind_ode_inputs(&mut cx)?;
    let roots: Vec<_> = (model.events.iter())
        .flat_map(|e| e.resets.iter().map(|r| &r.value))
        .collect();
    cx.prepare(&roots)?;
    let y = cx
        .inputs
        .y
        .ok_or_else(|| diag::internal(st.span, "event resets without y"))?;
    let n = st.states.len;
    let mut rows = Vec::new();
    for e in &model.events {
        for (s, slot) in st.states.slots.iter().enumerate() {
            let len = sci_ir::types::element_count(&slot.shape).unwrap_or(0);
            let mine: Vec<&ResetHir> = e.resets.iter().filter(|r| r.state.index() == s).collect();
            rows.extend(state_piece(
                &mut cx,
                y,
                slot.offset,
                len,
                &slot.shape,
                &mine,
                e.span,
            )?);
        }
    }
    let m = model.events.len();
    let out = cx.push(Op::Concat(rows), Type::f64(vec![m * n]), Some("y_after"));
    Ok(cx.finish(out))
}

/// The pieces of one state's elements after an event: slices of `y` where nothing is
/// reset, the new values where something is.
fn state_piece(
    cx: &mut FnCx,
    y: ValueId,
    offset: usize,
    len: usize,
    shape: &[usize],
    resets: &[&ResetHir],
    span: sci_diag::Span,
) -> Res<Vec<ValueId>> {
    let slice = |cx: &mut FnCx, start: usize, count: usize| {
        cx.push(
            Op::Slice {
                array: y,
                start: offset + start,
                len: count,
            },
            Type::f64(vec![count]),
            None,
        )
    };
    if let Some(whole) = resets.iter().find(|r| r.element.is_none()) {
        let v = cx.expr(&whole.value, None)?;
        let target = Type::f64(shape.to_vec());
        let v = cx.conform(v, &target, span)?;
        let flat = if shape.len() == 1 {
            v
        } else {
            let ty = cx.ty(v)?;
            cx.push(
                Op::Reshape(v),
                Type {
                    shape: vec![len],
                    ..ty
                },
                None,
            )
        };
        return Ok(vec![flat]);
    }
    let mut elements: Vec<(usize, &ResetHir)> = resets
        .iter()
        .filter_map(|r| r.element.map(|k| (k, *r)))
        .collect();
    elements.sort_by_key(|(k, _)| *k);
    let mut pieces = Vec::new();
    let mut next = 0;
    for (k, r) in elements {
        if k > next {
            pieces.push(slice(cx, next, k - next));
        }
        let v = cx.expr(&r.value, None)?;
        pieces.push(cx.conform(v, &Type::scalar(), r.span)?);
        next = k + 1;
    }
    if next < len {
        pieces.push(slice(cx, next, len - next));
    }
    Ok(pieces)
}
