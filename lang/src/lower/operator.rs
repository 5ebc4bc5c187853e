//! Fourier neural operators: `net.NAME.gridS(θ: f64[p], a: f64[S]) -> f64[S]`, one
//! function per grid size the model applies the operator on (the weights are shared).
//!
//! The architecture of Li et al. (ICLR 2021), as their reference code computes it:
//! 1. lift: `v = P·[a; x] + p` with the grid coordinate `x_j = j/(S−1)` as a second input
//!    channel (`[width, S]`);
//! 2. per Fourier layer: `v ← σ(K v + W v + b)`, `K v = irfft(R ⊙ rfft(v)[:modes], S)`
//!    with complex weights `R[o, k, i]` mixing the channels of each kept frequency `k`
//!    (`out[o, k] = Σ_i R[o, k, i] · V[i, k]`), σ = GELU except after the last layer;
//! 3. projection: `u = Q₂·σ(Q₁ v + q₁) + q₂`, one output channel.
//!
//! Spectra are split complex (`[2, width, modes]`, `sci_ir::Op::Rfft`). The per-mode
//! channel mixing has no batched matrix product in the IR: it is an elementwise product of
//! the weights with the spectrum broadcast over the output channels, summed over the input
//! channels by a matrix–vector product with ones — the same arithmetic as a product per
//! mode, in ops every back end and the derivative passes already have.

use super::Res;
use super::cx::{FnCx, Statics};
use super::params::{FnoSlots, LayerSlots};
use crate::hir::{FnoHir, NetHir};
use sci_ir::{BinaryOp, Function, Op, Type, UnaryOp, ValueId};

/// The IR name of an operator's function on a grid of `grid` points.
pub(super) fn operator_function_name(net: &NetHir, grid: usize) -> String {
    format!("net.{}.grid{grid}", net.name)
}

/// Builds `net.NAME.gridS`.
pub(super) fn lower_operator(
    st: &Statics,
    net: &NetHir,
    fno: &FnoHir,
    slots: &FnoSlots,
    grid: usize,
) -> Res<Function> {
    let inputs = vec![
        ("θ".to_string(), Type::f64(vec![st.theta.layout.len])),
        (
            net.inputs.first().cloned().unwrap_or_else(|| "a".into()),
            Type::f64(vec![grid]),
        ),
    ];
    let name = operator_function_name(net, grid);
    let mut cx = FnCx::new(st, &name, "an operator", inputs);
    let theta = cx.input(0)?;
    let a = cx.input(1)?;
    let mut op = Builder {
        cx: &mut cx,
        theta,
        net,
        grid,
    };
    let a_row = op.cx.push(Op::Reshape(a), Type::f64(vec![1, grid]), None);
    let coords: Vec<f64> = (0..grid)
        .map(|j| j as f64 / (grid - 1).max(1) as f64)
        .collect();
    let x_row = op
        .cx
        .push(Op::Literal(coords), Type::f64(vec![1, grid]), Some("x"));
    let channels = op.cx.push(
        Op::Concat(vec![a_row, x_row]),
        Type::f64(vec![2, grid]),
        None,
    );
    let mut v = op.linear(&slots.lift, channels, "lift")?;
    for (l, (spectral, pointwise)) in slots.layers.iter().enumerate() {
        let k = op.spectral(fno, *spectral, v, l)?;
        let w = op.linear(pointwise, v, &format!("layer{l}"))?;
        let ty = Type::f64(vec![fno.width, grid]);
        v = op
            .cx
            .push(Op::Binary(BinaryOp::Add, k, w), ty.clone(), None);
        if l + 1 < slots.layers.len() {
            v = op.gelu(v, &ty);
        }
    }
    let h = op.linear(&slots.projection, v, "projection")?;
    let h = op.gelu(h, &Type::f64(vec![fno.projection, grid]));
    let u = op.linear(&slots.output, h, "output")?;
    let out = cx.push(Op::Reshape(u), Type::f64(vec![grid]), Some("out"));
    Ok(cx.finish(out))
}

/// The operator's weights and the function being built.
struct Builder<'a, 'c, 'p> {
    cx: &'a mut FnCx<'c, 'p>,
    theta: ValueId,
    net: &'a NetHir,
    grid: usize,
}

impl Builder<'_, '_, '_> {
    /// `W·v + b` for channels `v: [cols, S]` → `[rows, S]`.
    fn linear(&mut self, layer: &LayerSlots, v: ValueId, name: &str) -> Res<ValueId> {
        let (rows, s) = (layer.rows, self.grid);
        let w = self.cx.slot_value(
            self.theta,
            layer.w,
            &[rows, layer.cols],
            None,
            &format!("{}.{name}.w", self.net.name),
            self.net.span,
        )?;
        let b = self.cx.slot_value(
            self.theta,
            layer.b,
            &[rows],
            None,
            &format!("{}.{name}.b", self.net.name),
            self.net.span,
        )?;
        let ty = Type::f64(vec![rows, s]);
        let wv = self.cx.push(Op::MatMul(w, v), ty.clone(), None);
        let column = self.cx.push(Op::Reshape(b), Type::f64(vec![rows, 1]), None);
        let bias = self.cx.push(Op::Broadcast(column), ty.clone(), None);
        Ok(self.cx.push(Op::Binary(BinaryOp::Add, wv, bias), ty, None))
    }

    /// `irfft(R ⊙ rfft(v)[:modes], S)` for `v: [width, S]`.
    fn spectral(&mut self, fno: &FnoHir, offset: usize, v: ValueId, l: usize) -> Res<ValueId> {
        let (w, m, s) = (fno.width, fno.modes, self.grid);
        let spectrum = self.cx.push(
            Op::Rfft {
                signal: v,
                modes: m,
            },
            Type::f64(vec![2, w, m]),
            None,
        );
        let weights = self.cx.slot_value(
            self.theta,
            offset,
            &[2, w, m, w],
            None,
            &format!("{}.spectral{l}", self.net.name),
            self.net.span,
        )?;
        // The parts of the spectrum as [modes, width_in], broadcast over the output channels.
        let mut parts = Vec::with_capacity(2);
        for part in 0..2 {
            let index = self.cx.index_const(part);
            let x = self.cx.push(
                Op::Index {
                    array: spectrum,
                    indices: vec![index],
                    fill: None,
                },
                Type::f64(vec![w, m]),
                None,
            );
            let xt = self.cx.push(Op::Transpose(x), Type::f64(vec![m, w]), None);
            parts.push(
                self.cx
                    .push(Op::Broadcast(xt), Type::f64(vec![w, m, w]), None),
            );
        }
        let mut weight_parts = Vec::with_capacity(2);
        for part in 0..2 {
            let index = self.cx.index_const(part);
            weight_parts.push(self.cx.push(
                Op::Index {
                    array: weights,
                    indices: vec![index],
                    fill: None,
                },
                Type::f64(vec![w, m, w]),
                None,
            ));
        }
        let cube = Type::f64(vec![w, m, w]);
        let mul =
            |cx: &mut FnCx, a, b| cx.push(Op::Binary(BinaryOp::Mul, a, b), cube.clone(), None);
        let (xr, xi, rr, ri) = (parts[0], parts[1], weight_parts[0], weight_parts[1]);
        let rr_xr = mul(self.cx, rr, xr);
        let ri_xi = mul(self.cx, ri, xi);
        let rr_xi = mul(self.cx, rr, xi);
        let ri_xr = mul(self.cx, ri, xr);
        let re = self
            .cx
            .push(Op::Binary(BinaryOp::Sub, rr_xr, ri_xi), cube.clone(), None);
        let im = self
            .cx
            .push(Op::Binary(BinaryOp::Add, rr_xi, ri_xr), cube.clone(), None);
        let ones = self
            .cx
            .push(Op::Literal(vec![1.0; w]), Type::f64(vec![w]), None);
        let mut mixed = Vec::with_capacity(2);
        for product in [re, im] {
            let rows = self
                .cx
                .push(Op::Reshape(product), Type::f64(vec![w * m, w]), None);
            let summed = self
                .cx
                .push(Op::MatVec(rows, ones), Type::f64(vec![w * m]), None);
            mixed.push(
                self.cx
                    .push(Op::Reshape(summed), Type::f64(vec![1, w, m]), None),
            );
        }
        let out_spectrum = self
            .cx
            .push(Op::Concat(mixed), Type::f64(vec![2, w, m]), None);
        Ok(self.cx.push(
            Op::Irfft {
                spectrum: out_spectrum,
                n: s,
            },
            Type::f64(vec![w, s]),
            None,
        ))
    }

    /// GELU, `0.5·x·(1 + erf(x/√2))`, elementwise.
    fn gelu(&mut self, x: ValueId, ty: &Type) -> ValueId {
        let scalar = |cx: &mut FnCx, c: f64| {
            let v = cx.push(Op::Const(c), Type::scalar(), None);
            cx.push(Op::Broadcast(v), ty.clone(), None)
        };
        let inv_sqrt2 = scalar(self.cx, std::f64::consts::FRAC_1_SQRT_2);
        let one = scalar(self.cx, 1.0);
        let half = scalar(self.cx, 0.5);
        let scaled = self
            .cx
            .push(Op::Binary(BinaryOp::Mul, x, inv_sqrt2), ty.clone(), None);
        let erf = self
            .cx
            .push(Op::Unary(UnaryOp::Erf, scaled), ty.clone(), None);
        let one_plus = self
            .cx
            .push(Op::Binary(BinaryOp::Add, one, erf), ty.clone(), None);
        let hx = self
            .cx
            .push(Op::Binary(BinaryOp::Mul, half, x), ty.clone(), None);
        self.cx
            .push(Op::Binary(BinaryOp::Mul, hx, one_plus), ty.clone(), None)
    }
}
