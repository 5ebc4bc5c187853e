//! DeepONets: `net.NAME.gridS(θ: f64[p], a: f64[S]) -> f64[S]` (Lu et al., Nature Machine
//! Intelligence 2021), the unstacked form with a bias.
//!
//! The branch network reads the input function at the grid's `S` points (its sensors) and
//! ends in `features` values `b`; the trunk network reads each output point's coordinate
//! `x_j = j/(S − 1)` and ends in `features` values `t_j`, with the activation on its last
//! layer too (as DeepXDE); the output is `u_j = b · t_j + b₀`. The trunk runs on every
//! point at once: its layers are matrix products with the `[1, S]` row of coordinates.

use super::Res;
use super::cx::{FnCx, Statics};
use super::net::activate;
use super::operator::{grid_row, operator_function};
use super::params::{DeepOnetSlots, LayerSlots};
use crate::hir::{DeepOnetHir, NetHir};
use sci_ir::{BinaryOp, Function, Op, Type, ValueId};

/// Builds `net.NAME.gridS` for a DeepONet.
pub(super) fn lower_deeponet(
    st: &Statics,
    net: &NetHir,
    d: &DeepOnetHir,
    slots: &DeepOnetSlots,
    grid: usize,
) -> Res<Function> {
    let (mut cx, theta, a) = operator_function(st, net, grid)?;
    // The branch: a column of sensor values through the layers, `[features, 1]`.
    let mut b = cx.push(Op::Reshape(a), Type::f64(vec![grid, 1]), None);
    for (k, layer) in slots.branch.iter().enumerate() {
        let last = k + 1 == slots.branch.len();
        b = layer_on(&mut cx, theta, net, "branch", k, layer, b, 1)?;
        if !last {
            b = activate(&mut cx, d.activation, b, &Type::f64(vec![layer.rows, 1]))?;
        }
    }
    // The trunk: every point's coordinate at once, `[features, S]`.
    let mut t = grid_row(&mut cx, grid);
    for (k, layer) in slots.trunk.iter().enumerate() {
        t = layer_on(&mut cx, theta, net, "trunk", k, layer, t, grid)?;
        t = activate(&mut cx, d.activation, t, &Type::f64(vec![layer.rows, grid]))?;
    }
    // u_j = Σ_k t[k, j] b[k] + b₀.
    let features = d.features;
    let tt = cx.push(Op::Transpose(t), Type::f64(vec![grid, features]), None);
    let bv = cx.push(Op::Reshape(b), Type::f64(vec![features]), None);
    let u = cx.push(Op::MatVec(tt, bv), Type::f64(vec![grid]), None);
    let bias = cx.slot_value(
        theta,
        slots.bias,
        &[1],
        None,
        &format!("{}.bias", net.name),
        net.span,
    )?;
    let bias = cx.push(Op::Broadcast(bias), Type::f64(vec![grid]), None);
    let out = cx.push(
        Op::Binary(BinaryOp::Add, u, bias),
        Type::f64(vec![grid]),
        Some("out"),
    );
    Ok(cx.finish(out))
}

/// `W·h + b` for `h: [cols, n]` → `[rows, n]`.
#[allow(clippy::too_many_arguments)]
fn layer_on(
    cx: &mut FnCx,
    theta: ValueId,
    net: &NetHir,
    part: &str,
    k: usize,
    layer: &LayerSlots,
    h: ValueId,
    n: usize,
) -> Res<ValueId> {
    let w = cx.slot_value(
        theta,
        layer.w,
        &[layer.rows, layer.cols],
        None,
        &format!("{}.{part}.w{k}", net.name),
        net.span,
    )?;
    let b = cx.slot_value(
        theta,
        layer.b,
        &[layer.rows],
        None,
        &format!("{}.{part}.b{k}", net.name),
        net.span,
    )?;
    let ty = Type::f64(vec![layer.rows, n]);
    let wh = cx.push(Op::MatMul(w, h), ty.clone(), None);
    let column = cx.push(Op::Reshape(b), Type::f64(vec![layer.rows, 1]), None);
    let bias = if n == 1 {
        column
    } else {
        cx.push(Op::Broadcast(column), ty.clone(), None)
    };
    Ok(cx.push(Op::Binary(BinaryOp::Add, wh, bias), ty, None))
}
