//! Network functions: `net.NAME(θ: f64[p], in1: f64, …) -> f64` (or `f64[k]` for `k > 1`
//! outputs), a multilayer perceptron whose weights are slices of θ.
//!
//! Per layer `h ← W·h + b`, then the activation on every hidden layer and none on the last.
//! Activations: `tanh`, `sigmoid`, `softplus` and `sin` are unary ops; `relu(x) = max(x, 0)`;
//! `gelu(x) = 0.5·x·(1 + erf(x/√2))` (the exact form, not the tanh approximation).

use super::Res;
use super::cx::{FnCx, Statics};
use super::params::LayerSlots;
use crate::hir::{Activation, NetHir};
use sci_ir::{BinaryOp, Function, InputRole, Op, Role, Type, UnaryOp, ValueId};

/// The IR name of a network's function.
pub(super) fn net_function_name(net: &NetHir) -> String {
    format!("net.{}", net.name)
}

/// Builds `net.NAME`.
pub(super) fn lower_net(st: &Statics, net: &NetHir, layers: &[LayerSlots]) -> Res<Function> {
    let mut inputs = vec![("θ".to_string(), Type::f64(vec![st.theta.layout.len]))];
    inputs.extend(net.inputs.iter().map(|n| (n.clone(), Type::scalar())));
    let mut cx = FnCx::new(st, &net_function_name(net), "a network", inputs);
    let theta = cx.input(0)?;
    let mut args = Vec::with_capacity(net.inputs.len());
    for k in 0..net.inputs.len() {
        args.push(cx.input(k + 1)?);
    }
    let mut h = cx.push(Op::Concat(args), Type::f64(vec![net.inputs.len()]), None);
    for (k, layer) in layers.iter().enumerate() {
        let w = cx.slot_value(
            theta,
            layer.w,
            &[layer.rows, layer.cols],
            None,
            &format!("{}.w{k}", net.name),
            net.span,
        )?;
        let b = cx.slot_value(
            theta,
            layer.b,
            &[layer.rows],
            None,
            &format!("{}.b{k}", net.name),
            net.span,
        )?;
        let ty = Type::f64(vec![layer.rows]);
        let wh = cx.push(Op::MatVec(w, h), ty.clone(), None);
        h = cx.push(Op::Binary(BinaryOp::Add, wh, b), ty.clone(), None);
        if k + 1 < layers.len() {
            h = activate(&mut cx, net.activation, h, &ty)?;
        }
    }
    let out = if net.outputs == 1 {
        cx.push(Op::Reshape(h), Type::scalar(), Some("out"))
    } else {
        h
    };
    let mut f = cx.finish(out);
    // A host (`sci predict`) evaluates the network over its domain by these roles.
    f.role = Role::Net(net.name.clone());
    f.input_roles = std::iter::once(InputRole::Params)
        .chain(net.inputs.iter().cloned().map(InputRole::Argument))
        .collect();
    Ok(f)
}

/// The activation applied elementwise to `x` of type `ty`.
pub(super) fn activate(cx: &mut FnCx, act: Activation, x: ValueId, ty: &Type) -> Res<ValueId> {
    Ok(match act {
        Activation::Tanh => cx.unary(UnaryOp::Tanh, x, ty),
        Activation::Sigmoid => cx.unary(UnaryOp::Sigmoid, x, ty),
        Activation::Softplus => cx.unary(UnaryOp::Softplus, x, ty),
        Activation::Sin => cx.unary(UnaryOp::Sin, x, ty),
        Activation::Identity => x,
        Activation::Rbf => {
            // exp(−x²)
            let square = cx.push(Op::Binary(BinaryOp::Mul, x, x), ty.clone(), None);
            let negated = cx.unary(UnaryOp::Neg, square, ty);
            cx.unary(UnaryOp::Exp, negated, ty)
        }
        Activation::Relu => {
            let zero = constant(cx, 0.0, ty)?;
            cx.push(Op::Binary(BinaryOp::Max, x, zero), ty.clone(), None)
        }
        Activation::Gelu => cx.unary(UnaryOp::Gelu, x, ty),
    })
}

/// A constant broadcast to `ty`.
fn constant(cx: &mut FnCx, c: f64, ty: &Type) -> Res<ValueId> {
    let v = cx.push(Op::Const(c), Type::scalar(), None);
    cx.conform(v, ty, cx.st.span)
}
