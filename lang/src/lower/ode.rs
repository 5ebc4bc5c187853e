//! The functions of an ODE model: `rhs(t, y, θ)`, `y0(θ)` and `outputs(t, y, θ)`.
//!
//! Each returns one flat `f64` vector: the per-state (or per-output) values flattened
//! row-major and concatenated in declaration order, matching `Module::states` and
//! `Module::outputs`.

use super::cx::{FnCx, Key, Statics};
use super::{Res, diag};
use crate::hir::{OutputId, StateId};
use sci_ir::{DType, Function, Op, Type, ValueId};

pub(super) fn ode_inputs(st: &Statics) -> Vec<(String, Type)> {
    let time_unit = st.model.and_then(|m| m.time_unit);
    vec![
        ("t".to_string(), Type::scalar().with_unit(time_unit)),
        ("y".to_string(), Type::f64(vec![st.states.len])),
        ("θ".to_string(), Type::f64(vec![st.theta.layout.len])),
    ]
}

pub(super) fn bind_ode_inputs(cx: &mut FnCx) -> Res<()> {
    cx.inputs.time = Some(cx.input(0)?);
    cx.inputs.y = Some(cx.input(1)?);
    cx.inputs.theta = Some(cx.input(2)?);
    Ok(())
}

/// `rhs(t: f64, y: f64[n], θ: f64[p]) -> f64[n]`: the time derivative of every state
/// (the residual of its algebraic equations for an algebraic state).
pub(super) fn lower_rhs(st: &Statics) -> Res<Function> {
    let model = st
        .model
        .ok_or_else(|| diag::internal(st.span, "rhs without a model"))?;
    let mut cx = FnCx::new(st, "rhs", "the right-hand side", ode_inputs(st));
    bind_ode_inputs(&mut cx)?;
    let roots: Vec<_> = model
        .states
        .iter()
        .filter_map(|s| s.rhs.as_ref().map(|d| &d.value))
        .chain(&model.algebraic)
        .collect();
    cx.prepare(&roots)?;
    // The algebraic equations' residuals, flattened in order: the rows of the algebraic
    // states, in their order (the solver's mass matrix is zero there).
    let mut residuals = Vec::new();
    for g in &model.algebraic {
        let v = cx.expr(g, None)?;
        residuals.push(flatten(&mut cx, v)?);
    }
    let residual_len: usize = (model.algebraic.iter())
        .map(|g| g.ty.shape.iter().product::<usize>())
        .sum();
    let residual = match residuals.is_empty() {
        true => None,
        false => Some(concat(&mut cx, residuals, residual_len, "g")?),
    };
    let mut used = 0;
    let mut parts = Vec::with_capacity(model.states.len());
    for (k, s) in model.states.iter().enumerate() {
        let id = StateId(k as u32);
        if let Some(g) = residual
            && model.algebraic_states.contains(&id)
        {
            let len: usize = s.shape.iter().product();
            parts.push(cx.push(
                Op::Slice {
                    array: g,
                    start: used,
                    len,
                },
                Type::f64(vec![len]),
                None,
            ));
            used += len;
            continue;
        }
        let v = cx.entity(Key::Der(id), s.span)?;
        parts.push(flatten(&mut cx, v)?);
    }
    let out = concat(&mut cx, parts, st.states.len, "der")?;
    Ok(cx.finish(out))
}

/// `y0(θ: f64[p]) -> f64[n]`: the initial state.
pub(super) fn lower_y0(st: &Statics) -> Res<Function> {
    let model = st
        .model
        .ok_or_else(|| diag::internal(st.span, "y0 without a model"))?;
    let inputs = vec![("θ".to_string(), Type::f64(vec![st.theta.layout.len]))];
    let mut cx = FnCx::new(st, "y0", "the initial values", inputs);
    cx.inputs.theta = Some(cx.input(0)?);
    let roots: Vec<_> = model.states.iter().map(|s| &s.init.value).collect();
    cx.prepare(&roots)?;
    let mut parts = Vec::with_capacity(model.states.len());
    for s in &model.states {
        let v = cx.defn(&s.init, &s.shape, &s.name, s.span)?;
        parts.push(flatten(&mut cx, v)?);
    }
    let out = concat(&mut cx, parts, st.states.len, "y0")?;
    Ok(cx.finish(out))
}

/// `outputs(t: f64, y: f64[n], θ: f64[p]) -> f64[k]`: every output, flattened.
pub(super) fn lower_outputs(st: &Statics, len: usize) -> Res<Function> {
    let model = st
        .model
        .ok_or_else(|| diag::internal(st.span, "outputs without a model"))?;
    let mut cx = FnCx::new(st, "outputs", "the outputs", ode_inputs(st));
    bind_ode_inputs(&mut cx)?;
    outputs_body(cx, model, len)
}

/// `outputs(θ: f64[p], expval.C.O: f64…) -> f64[k]`: the outputs of a model without states
/// but with circuits, from θ and the expectation values the runtime simulates (one input
/// per pair of the outputs' `expval`s, in `output_expval_pairs`' order).
pub(super) fn lower_circuit_outputs(st: &Statics, len: usize) -> Res<Function> {
    let model = st
        .model
        .ok_or_else(|| diag::internal(st.span, "outputs without a model"))?;
    let pairs = super::loss::output_expval_pairs(model);
    let mut inputs = vec![("θ".to_string(), Type::f64(vec![st.theta.layout.len]))];
    for &(c, o) in &pairs {
        let (Some(ch), Some(oh)) = (
            model.circuits.get(c.index()),
            model.observables.get(o.index()),
        ) else {
            return Err(diag::internal(st.span, "an expval of an unknown circuit"));
        };
        inputs.push((format!("expval.{}.{}", ch.name, oh.name), Type::scalar()));
    }
    let mut cx = FnCx::new(st, "outputs", "the outputs", inputs);
    cx.inputs.theta = Some(cx.input(0)?);
    for (k, &pair) in pairs.iter().enumerate() {
        let value = cx.input(k + 1)?;
        cx.inputs.expvals.insert(pair, value);
    }
    outputs_body(cx, model, len)
}

/// Every output of `model`, flattened into one vector, with `cx`'s inputs bound.
fn outputs_body(mut cx: FnCx, model: &crate::hir::ModelHir, len: usize) -> Res<Function> {
    let roots: Vec<_> = model.outputs.iter().map(|o| &o.defn.value).collect();
    cx.prepare(&roots)?;
    let mut parts = Vec::with_capacity(model.outputs.len());
    for (k, o) in model.outputs.iter().enumerate() {
        let v = cx.entity(Key::Output(OutputId(k as u32)), o.span)?;
        parts.push(flatten(&mut cx, v)?);
    }
    let out = concat(&mut cx, parts, len, "outputs")?;
    Ok(cx.finish(out))
}

/// The flat result: the parts concatenated, or the single part when it already is the
/// whole vector (one array state).
fn concat(cx: &mut FnCx, parts: Vec<ValueId>, len: usize, name: &str) -> Res<ValueId> {
    if let [only] = parts[..]
        && cx.ty(only)?.shape == [len]
    {
        return Ok(only);
    }
    Ok(cx.push(Op::Concat(parts), Type::f64(vec![len]), Some(name)))
}

/// A value as a vector for concatenation: scalars and vectors as they are (concat takes
/// scalars as one-element vectors), higher ranks reshaped row-major.
fn flatten(cx: &mut FnCx, v: ValueId) -> Res<ValueId> {
    let mut ty = cx.ty(v)?;
    let mut v = v;
    if ty.dtype != DType::F64 {
        ty = Type {
            dtype: DType::F64,
            unit: None,
            ..ty
        };
        v = cx.push(Op::Cast(v), ty.clone(), None);
    }
    if ty.shape.len() <= 1 {
        return Ok(v);
    }
    let n = ty.element_count().unwrap_or(0);
    Ok(cx.push(
        Op::Reshape(v),
        Type {
            shape: vec![n],
            ..ty
        },
        None,
    ))
}
