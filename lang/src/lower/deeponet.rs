//! DeepONets: `net.NAME.gridS(θ: f64[p], a: f64[S]) -> f64[S]` (Lu et al., Nature Machine
//! Intelligence 2021), the unstacked form with a bias.
//!
//! The branch network reads the input function at the grid's `S` points (its sensors) and
//! ends in `features` values `b`; the trunk network reads each output point's coordinate
//! `x_j = j/(S − 1)` and ends in `features` values `t_j`, with the activation on its last
//! layer too (as DeepXDE); the output is `u_j = b · t_j + b₀`. The trunk runs on every
//! point at once: its layers are matrix products with the `[1, S]` row of coordinates.

use super::Res;
use super::cx::Statics;
use super::net::activate;
use super::operator::{affine, grid_row, operator_function};
use super::params::DeepOnetSlots;
use crate::hir::{DeepOnetHir, NetHir};
use sci_ir::{BinaryOp, Function, Op, Type};

/// Builds `net.NAME.gridS` for a DeepONet.
pub(super) fn lower_deeponet(
    st: &Statics,
    net: &NetHir,
    d: &DeepOnetHir,
    slots: &DeepOnetSlots,
    grid: usize,
) -> Res<Function> {
    let (mut cx, theta, a) = operator_function(st, net, &[grid])?;
    // The branch: a column of sensor values through the layers, `[features, 1]`.
    let mut b = cx.push(Op::Reshape(a), Type::f64(vec![grid, 1]), None);
    for (k, layer) in slots.branch.iter().enumerate() {
        let last = k + 1 == slots.branch.len();
        let names = layer_names(net, "branch", k);
        b = affine(&mut cx, theta, net, layer, &names, b, 1)?;
        if !last {
            b = activate(&mut cx, d.activation, b, &Type::f64(vec![layer.rows, 1]))?;
        }
    }
    // The trunk: every point's coordinate at once, `[features, S]`.
    let mut t = grid_row(&mut cx, grid);
    for (k, layer) in slots.trunk.iter().enumerate() {
        let names = layer_names(net, "trunk", k);
        t = affine(&mut cx, theta, net, layer, &names, t, grid)?;
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

/// The IR names of layer `k` of the branch or trunk (`part`): `NAME.part.wK`, `NAME.part.bK`.
fn layer_names(net: &NetHir, part: &str, k: usize) -> [String; 2] {
    [
        format!("{}.{part}.w{k}", net.name),
        format!("{}.{part}.b{k}", net.name),
    ]
}
