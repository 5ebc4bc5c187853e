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
//! channel mixing is one batched matrix product over the modes: the weights, stored
//! `[modes, 2·width_in, width_out]` (real parts, then imaginary), times each mode's pair of
//! rows `[[X_r, −X_i], [X_i, X_r]]`, which gives the mode's real and imaginary outputs at
//! once. (Before the IR had batched products, the spectrum was spread over a block diagonal
//! for one plain product: `modes` times the multiply-adds, all but one in 16 with a zero.)

use super::Res;
use super::cx::{FnCx, Statics};
use super::params::{FnoSlots, LayerSlots};
use crate::hir::{FnoHir, NetHir};
use sci_ir::{BinaryOp, Function, Op, Type, UnaryOp, ValueId};

/// The IR name of an operator's function on a grid of shape `grid`: `net.G.grid256`,
/// `net.G.grid85x85`.
fn operator_function_name(net: &NetHir, grid: &[usize]) -> String {
    let sizes: Vec<String> = grid.iter().map(|s| s.to_string()).collect();
    format!("net.{}.grid{}", net.name, sizes.join("x"))
}

/// A new `net.NAME.gridS(θ, a: f64[S])` (or `gridS1xS2`, `a: f64[S1, S2]`) being built,
/// with its two inputs.
pub(super) fn operator_function<'s, 'a>(
    st: &'s Statics<'a>,
    net: &NetHir,
    grid: &[usize],
) -> Res<(FnCx<'s, 'a>, ValueId, ValueId)> {
    let inputs = vec![
        ("θ".to_string(), Type::f64(vec![st.theta.layout.len])),
        (
            net.inputs.first().cloned().unwrap_or_else(|| "a".into()),
            Type::f64(grid.to_vec()),
        ),
    ];
    let cx = FnCx::new(
        st,
        &operator_function_name(net, grid),
        "an operator",
        inputs,
    );
    let (theta, a) = (cx.input(0)?, cx.input(1)?);
    Ok((cx, theta, a))
}

/// The grid coordinates `x_j = j/(S − 1)` as a row `[1, S]` (Li et al.'s
/// `linspace(0, 1, S)`), the operators' second input channel or trunk input.
pub(super) fn grid_row(cx: &mut FnCx, grid: usize) -> ValueId {
    let coords: Vec<f64> = (0..grid)
        .map(|j| j as f64 / (grid - 1).max(1) as f64)
        .collect();
    cx.push(Op::Literal(coords), Type::f64(vec![1, grid]), Some("x"))
}

/// The coordinates of every point of a grid of shape `grid`, one row per axis (`[axes,
/// points]`, the points row-major): for `[S1, S2]`, `x_i = i/(S1 − 1)` then `y_j = j/(S2 −
/// 1)` at point `(i, j)`, Li et al.'s `get_grid`. Each axis's coordinates are a literal
/// broadcast over the other axis (the IR text stays small on large grids).
fn grid_rows(cx: &mut FnCx, grid: &[usize]) -> ValueId {
    let &[s1, s2] = grid else {
        return grid_row(cx, grid.first().copied().unwrap_or(1));
    };
    let points = s1 * s2;
    let axis = |cx: &mut FnCx, size: usize, shape: Vec<usize>| {
        let coords: Vec<f64> = (0..size)
            .map(|j| j as f64 / (size - 1).max(1) as f64)
            .collect();
        let line = cx.push(Op::Literal(coords), Type::f64(shape), None);
        let field = cx.push(Op::Broadcast(line), Type::f64(vec![s1, s2]), None);
        cx.push(Op::Reshape(field), Type::f64(vec![1, points]), None)
    };
    let x = axis(cx, s1, vec![s1, 1]);
    let y = axis(cx, s2, vec![1, s2]);
    cx.push(
        Op::Concat(vec![x, y]),
        Type::f64(vec![2, points]),
        Some("x"),
    )
}

/// Builds `net.NAME.gridS`.
pub(super) fn lower_operator(
    st: &Statics,
    net: &NetHir,
    fno: &FnoHir,
    slots: &FnoSlots,
    grid: &[usize],
) -> Res<Function> {
    let (mut cx, theta, a) = operator_function(st, net, grid)?;
    let points: usize = grid.iter().product();
    let mut op = Builder {
        cx: &mut cx,
        theta,
        net,
        grid,
        points,
    };
    let a_row = op.cx.push(Op::Reshape(a), Type::f64(vec![1, points]), None);
    let x_rows = grid_rows(op.cx, grid);
    let channels = op.cx.push(
        Op::Concat(vec![a_row, x_rows]),
        Type::f64(vec![1 + grid.len(), points]),
        None,
    );
    let mut v = op.linear(&slots.lift, channels, "lift")?;
    for (l, (spectral, pointwise)) in slots.layers.iter().enumerate() {
        let k = op.spectral(fno, *spectral, v, l)?;
        let w = op.linear(pointwise, v, &format!("layer{l}"))?;
        let ty = Type::f64(vec![fno.width, points]);
        v = op
            .cx
            .push(Op::Binary(BinaryOp::Add, k, w), ty.clone(), None);
        if l + 1 < slots.layers.len() {
            v = op.gelu(v, &ty);
        }
    }
    let h = op.linear(&slots.projection, v, "projection")?;
    let h = op.gelu(h, &Type::f64(vec![fno.projection, points]));
    let u = op.linear(&slots.output, h, "output")?;
    let out = cx.push(Op::Reshape(u), Type::f64(grid.to_vec()), Some("out"));
    Ok(cx.finish(out))
}

/// `W·h + b` for `h: [cols, n]` → `[rows, n]`, the layer's weights and bias read from θ
/// under `names` (the bias broadcast along the `n` columns): the operators' linear maps.
pub(super) fn affine(
    cx: &mut FnCx,
    theta: ValueId,
    net: &NetHir,
    layer: &LayerSlots,
    names: &[String; 2],
    h: ValueId,
    n: usize,
) -> Res<ValueId> {
    let rows = layer.rows;
    let w = cx.slot_value(
        theta,
        layer.w,
        &[rows, layer.cols],
        None,
        &names[0],
        net.span,
    )?;
    let b = cx.slot_value(theta, layer.b, &[rows], None, &names[1], net.span)?;
    let ty = Type::f64(vec![rows, n]);
    let wh = cx.push(Op::MatMul(w, h), ty.clone(), None);
    let column = cx.push(Op::Reshape(b), Type::f64(vec![rows, 1]), None);
    let bias = if n == 1 {
        column
    } else {
        cx.push(Op::Broadcast(column), ty.clone(), None)
    };
    Ok(cx.push(Op::Binary(BinaryOp::Add, wh, bias), ty, None))
}

/// The operator's weights and the function being built.
struct Builder<'a, 'c, 'p> {
    cx: &'a mut FnCx<'c, 'p>,
    theta: ValueId,
    net: &'a NetHir,
    /// The grid's shape, and its number of points.
    grid: &'a [usize],
    points: usize,
}

impl Builder<'_, '_, '_> {
    /// `W·v + b` for channels `v: [cols, S]` → `[rows, S]`.
    fn linear(&mut self, layer: &LayerSlots, v: ValueId, name: &str) -> Res<ValueId> {
        let names = [
            format!("{}.{name}.w", self.net.name),
            format!("{}.{name}.b", self.net.name),
        ];
        affine(self.cx, self.theta, self.net, layer, &names, v, self.points)
    }

    /// `irfft(R ⊙ rfft(v)[:modes], S)` for `v: [width, S]`; on a 2-D grid `irfft2(R ⊙
    /// rfft2(v)[corners], S1, S2)` for `v: [width, S1·S2]`.
    fn spectral(&mut self, fno: &FnoHir, offset: usize, v: ValueId, l: usize) -> Res<ValueId> {
        let spectrum = self.forward(fno, v);
        let mixed = self.mix(fno, offset, spectrum, l)?;
        Ok(self.inverse(fno, mixed))
    }

    /// The kept frequencies of each channel of `v`: `[2, width, m]` (those of a 2-D grid
    /// flattened, rows then columns).
    fn forward(&mut self, fno: &FnoHir, v: ValueId) -> ValueId {
        let (w, m) = (fno.width, fno.mixed_modes());
        match *self.grid {
            [s1, s2] => {
                let field = self
                    .cx
                    .push(Op::Reshape(v), Type::f64(vec![w, s1, s2]), None);
                let kept = [fno.modes, fno.modes];
                let spectrum = self.cx.push(
                    Op::Rfft2 {
                        signal: field,
                        modes: kept,
                    },
                    Type::f64(vec![2, w, 2 * fno.modes, fno.modes]),
                    None,
                );
                self.cx
                    .push(Op::Reshape(spectrum), Type::f64(vec![2, w, m]), None)
            }
            _ => self.cx.push(
                Op::Rfft {
                    signal: v,
                    modes: m,
                },
                Type::f64(vec![2, w, m]),
                None,
            ),
        }
    }

    /// The channels of each kept frequency of `spectrum` (`[2, width, m]`) mixed by the
    /// layer's complex weights (θ from `offset`): `[2, width, m]`.
    fn mix(&mut self, fno: &FnoHir, offset: usize, spectrum: ValueId, l: usize) -> Res<ValueId> {
        let (w, m) = (fno.width, fno.mixed_modes());
        // Per mode k, the weights W_k = [R_r; R_i] ([2·width_in, width_out], stored
        // `[modes, 2, width_in, width_out]`) and the rows L_k = [[X_r, −X_i], [X_i, X_r]]
        // ([2, 2·width_in]): L_k·W_k is (Re, Im) of Σ_i R[i, o]·X[i, k]. One batched
        // product over the modes mixes them all.
        let weights = self.cx.slot_value(
            self.theta,
            offset,
            &[m, 2 * w, w],
            None,
            &format!("{}.spectral{l}", self.net.name),
            self.net.span,
        )?;
        let mut parts = Vec::with_capacity(2);
        for part in 0..2 {
            let index = self.cx.index_const(part);
            parts.push(self.cx.push(
                Op::Index {
                    array: spectrum,
                    indices: vec![index],
                    fill: None,
                },
                Type::f64(vec![w, m]),
                None,
            ));
        }
        let (real, imaginary) = (parts[0], parts[1]);
        let negated = self.cx.push(
            Op::Unary(UnaryOp::Neg, imaginary),
            Type::f64(vec![w, m]),
            None,
        );
        // Rows (L_k row, input) by columns k, then k first: [modes, 2, 2·width].
        let rows = self.cx.push(
            Op::Concat(vec![real, negated, imaginary, real]),
            Type::f64(vec![4 * w, m]),
            None,
        );
        let by_mode = self
            .cx
            .push(Op::Transpose(rows), Type::f64(vec![m, 4 * w]), None);
        let lhs = self
            .cx
            .push(Op::Reshape(by_mode), Type::f64(vec![m, 2, 2 * w]), None);
        let mixed = self
            .cx
            .push(Op::MatMul(lhs, weights), Type::f64(vec![m, 2, w]), None);
        // Back to the spectrum's layout [2, width, modes].
        let flat = self
            .cx
            .push(Op::Reshape(mixed), Type::f64(vec![m, 2 * w]), None);
        let by_channel = self
            .cx
            .push(Op::Transpose(flat), Type::f64(vec![2 * w, m]), None);
        Ok(self
            .cx
            .push(Op::Reshape(by_channel), Type::f64(vec![2, w, m]), None))
    }

    /// The channels back on the grid from their kept frequencies (`[2, width, m]`):
    /// `[width, points]`.
    fn inverse(&mut self, fno: &FnoHir, out_spectrum: ValueId) -> ValueId {
        let w = fno.width;
        match *self.grid {
            [s1, s2] => {
                let corners = self.cx.push(
                    Op::Reshape(out_spectrum),
                    Type::f64(vec![2, w, 2 * fno.modes, fno.modes]),
                    None,
                );
                let field = self.cx.push(
                    Op::Irfft2 {
                        spectrum: corners,
                        n: [s1, s2],
                    },
                    Type::f64(vec![w, s1, s2]),
                    None,
                );
                self.cx
                    .push(Op::Reshape(field), Type::f64(vec![w, s1 * s2]), None)
            }
            _ => self.cx.push(
                Op::Irfft {
                    spectrum: out_spectrum,
                    n: self.points,
                },
                Type::f64(vec![w, self.points]),
                None,
            ),
        }
    }

    /// GELU, `0.5·x·(1 + erf(x/√2))`, elementwise (one IR op, `UnaryOp::Gelu`).
    fn gelu(&mut self, x: ValueId, ty: &Type) -> ValueId {
        self.cx.push(Op::Unary(UnaryOp::Gelu, x), ty.clone(), None)
    }
}
