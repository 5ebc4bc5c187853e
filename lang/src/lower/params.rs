//! The parameter vector θ of a model: its layout and the initial network weights.
//!
//! θ holds, in order, every `param` (declaration order) and then, per `net` (declaration
//! order) and per layer `k` (input side first), the weight matrix `NAME.w{k}` of shape
//! `[out, in]` (row-major) and the bias `NAME.b{k}` of shape `[out]`.
//!
//! Weights are drawn uniformly from `[-L, L)`: Glorot (the default) with
//! `L = sqrt(6 / (fan_in + fan_out))`, He (`mlp(init: he)`) with `L = sqrt(6 / fan_in)`;
//! biases start at zero. The random numbers come from
//! [`SplitMix64`], seeded with the net's `seed`, one stream per net, consumed matrix after
//! matrix in row-major order.

use super::diag;
use super::{Res, ir_shape_len};
use crate::hir::{DeepOnetHir, FnoHir, Init, ModelHir, NetHir, OperatorHir};
use sci_ir::Layout;

/// The largest θ we lay out: 50 million numbers (400 MB of defaults). Anything larger is
/// almost certainly a typo in a network's layer sizes.
pub(super) const MAX_THETA: usize = 50_000_000;

/// Where one layer of a network lives in θ.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(super) struct LayerSlots {
    /// Offset of the weight matrix `[rows, cols]`.
    pub w: usize,
    /// Offset of the bias vector `[rows]`.
    pub b: usize,
    /// Outputs of the layer.
    pub rows: usize,
    /// Inputs of the layer.
    pub cols: usize,
}

/// Where a Fourier neural operator's weights live in θ (offsets; shapes from its
/// [`FnoHir`]): the lift `[width, 1 + axes]` + `[width]`, per Fourier layer the spectral
/// weights `[mixed modes, 2, width_in, width_out]` (real, imaginary parts; `modes` in 1-D,
/// `2·modes·modes` in 2-D: [`FnoHir::mixed_modes`]), the pointwise map `[width, width]` +
/// `[width]`, then the projection `[projection, width]` + `[projection]` and the output
/// `[1, projection]` + `[1]`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(super) struct FnoSlots {
    pub lift: LayerSlots,
    /// Per Fourier layer: the spectral weights' offset and the pointwise map.
    pub layers: Vec<(usize, LayerSlots)>,
    pub projection: LayerSlots,
    pub output: LayerSlots,
}

/// Where a DeepONet's weights live in θ: the branch's layers (input: the grid's values),
/// the trunk's (input: the coordinate), the output bias.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(super) struct DeepOnetSlots {
    pub branch: Vec<LayerSlots>,
    pub trunk: Vec<LayerSlots>,
    pub bias: usize,
}

/// A neural operator's weights.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(super) enum OperatorSlots {
    Fno(FnoSlots),
    DeepOnet(DeepOnetSlots),
}

/// The θ layout of a model plus the offsets of each network's layers.
#[derive(Clone, Debug, Default)]
pub(super) struct Theta {
    pub layout: Layout,
    /// Per net (by `NetId`), its layers from input to output (empty for an operator).
    pub nets: Vec<Vec<LayerSlots>>,
    /// Per net (by `NetId`), its weights when it is a neural operator.
    pub operators: Vec<Option<OperatorSlots>>,
}

impl Theta {
    /// The offset of parameter `p` (params are the first slots, in order).
    pub fn param_offset(&self, p: usize) -> Option<usize> {
        self.layout.slots.get(p).map(|s| s.offset)
    }
}

/// Lays out θ for `model`.
pub(super) fn theta_layout(model: &ModelHir) -> Res<Theta> {
    let mut theta = Theta::default();
    for p in &model.params {
        let len = ir_shape_len(&p.shape, p.span)?;
        if p.default.len() != len {
            return Err(diag::internal(
                p.span,
                format!(
                    "the default of parameter `{}` has {} values but its shape needs {len}",
                    p.name,
                    p.default.len()
                ),
            ));
        }
        check_total(theta.layout.len, len, model, p.span)?;
        theta
            .layout
            .push(p.name.clone(), p.shape.clone(), p.unit, p.default.clone());
        if let Some(slot) = theta.layout.slots.last_mut() {
            slot.fixed = p.fixed;
        }
    }
    for net in &model.nets {
        if let Some(op) = &net.operator {
            let slots = match op {
                OperatorHir::Fno(fno) => {
                    OperatorSlots::Fno(operator_layout(&mut theta.layout, net, fno, model)?)
                }
                OperatorHir::DeepOnet(d) => {
                    OperatorSlots::DeepOnet(deeponet_layout(&mut theta.layout, net, d, model)?)
                }
            };
            theta.nets.push(Vec::new());
            theta.operators.push(Some(slots));
            continue;
        }
        theta.operators.push(None);
        let mut rng = SplitMix64::new(net.seed);
        let widths: Vec<usize> = std::iter::once(net.inputs.len())
            .chain(net.hidden.iter().copied())
            .chain(std::iter::once(net.outputs))
            .collect();
        let layers = perceptron_layers(
            &mut theta.layout,
            &mut rng,
            &net.name,
            &widths,
            net.init,
            model,
            net.span,
        )?;
        theta.nets.push(layers);
    }
    Ok(theta)
}

/// Lays out a DeepONet's weights as `mlp`'s are (Glorot-uniform weights, zero biases):
/// the branch `NAME.branch.w{k}`/`.b{k}` from the grid's `s` values (its sensors, the grid
/// it is applied on; none when it is never applied) through the hidden sizes to the
/// features, the trunk `NAME.trunk.w{k}`/`.b{k}` from the one coordinate, then the output
/// bias `NAME.bias`.
fn deeponet_layout(
    layout: &mut Layout,
    net: &NetHir,
    d: &DeepOnetHir,
    model: &ModelHir,
) -> Res<DeepOnetSlots> {
    let mut rng = SplitMix64::new(net.seed);
    let Some(&sensors) = d.grids.first().and_then(|g| g.first()) else {
        return Ok(DeepOnetSlots::default());
    };
    let mut stack = |layout: &mut Layout, part: &str, input: usize, hidden: &[usize]| {
        let widths: Vec<usize> = std::iter::once(input)
            .chain(hidden.iter().copied())
            .chain(std::iter::once(d.features))
            .collect();
        let prefix = format!("{}.{part}", net.name);
        perceptron_layers(
            layout,
            &mut rng,
            &prefix,
            &widths,
            Init::Glorot,
            model,
            net.span,
        )
    };
    let branch = stack(layout, "branch", sensors, &d.branch)?;
    let trunk = stack(layout, "trunk", 1, &d.trunk)?;
    let bias = layout.push(format!("{}.bias", net.name), vec![1], None, vec![0.0]);
    Ok(DeepOnetSlots {
        branch,
        trunk,
        bias,
    })
}

/// Lays out a Fourier neural operator's weights, initialised as the reference
/// implementation's PyTorch modules are (so results compare with it): every linear map's
/// weights and biases uniform in `±1/sqrt(fan_in)`, the spectral weights' real and
/// imaginary parts uniform in `[0, 1/width²)`. One stream per net (its `seed`), consumed
/// slot after slot in θ's order.
fn operator_layout(
    layout: &mut Layout,
    net: &NetHir,
    fno: &FnoHir,
    model: &ModelHir,
) -> Res<FnoSlots> {
    let mut rng = SplitMix64::new(net.seed);
    let linear = |layout: &mut Layout,
                  rng: &mut SplitMix64,
                  name: &str,
                  rows: usize,
                  cols: usize|
     -> Res<LayerSlots> {
        check_total(
            layout.len,
            rows.saturating_mul(cols).saturating_add(rows),
            model,
            net.span,
        )?;
        let limit = 1.0 / (cols.max(1) as f64).sqrt();
        let weights: Vec<f64> = (0..rows * cols).map(|_| rng.uniform_in(limit)).collect();
        let biases: Vec<f64> = (0..rows).map(|_| rng.uniform_in(limit)).collect();
        let w = layout.push(
            format!("{}.{name}.w", net.name),
            vec![rows, cols],
            None,
            weights,
        );
        let b = layout.push(format!("{}.{name}.b", net.name), vec![rows], None, biases);
        Ok(LayerSlots { w, b, rows, cols })
    };
    let width = fno.width;
    // The input's value and one coordinate per axis of the grid.
    let lift = linear(layout, &mut rng, "lift", width, fno.dims() + 1)?;
    let mut layers = Vec::with_capacity(fno.layers);
    let modes = fno.mixed_modes();
    for l in 0..fno.layers {
        let count = 2usize
            .saturating_mul(width)
            .saturating_mul(modes)
            .saturating_mul(width);
        check_total(layout.len, count, model, net.span)?;
        let scale = 1.0 / (width * width) as f64;
        let weights: Vec<f64> = (0..count).map(|_| scale * rng.next_unit()).collect();
        let spectral = layout.push(
            format!("{}.spectral{l}", net.name),
            vec![modes, 2, width, width],
            None,
            weights,
        );
        let pointwise = linear(layout, &mut rng, &format!("layer{l}"), width, width)?;
        layers.push((spectral, pointwise));
    }
    let projection = linear(layout, &mut rng, "projection", fno.projection, width)?;
    let output = linear(layout, &mut rng, "output", 1, fno.projection)?;
    Ok(FnoSlots {
        lift,
        layers,
        projection,
        output,
    })
}

/// The half-width `L` of the uniform distribution `[-L, L)` the weights of a layer with
/// `fan_in` inputs and `fan_out` outputs are drawn from: Glorot `sqrt(6 / (fan_in +
/// fan_out))` (variance `2 / (fan_in + fan_out)`), He `sqrt(6 / fan_in)` (variance
/// `2 / fan_in`). The prelude's `glorot_scale` and `he_scale` are the same formulas.
pub(super) fn init_limit(init: Init, fan_in: usize, fan_out: usize) -> f64 {
    let denominator = match init {
        Init::Glorot => fan_in.saturating_add(fan_out),
        Init::He => fan_in,
    };
    (6.0 / denominator.max(1) as f64).sqrt()
}

/// The layers of a perceptron through `widths` (input side first), laid out as
/// `PREFIX.w{k}` (`[out, in]`, drawn from `rng` by `init`) and `PREFIX.b{k}` (zeros):
/// `mlp`'s, and a DeepONet's branch and trunk.
fn perceptron_layers(
    layout: &mut Layout,
    rng: &mut SplitMix64,
    prefix: &str,
    widths: &[usize],
    init: Init,
    model: &ModelHir,
    span: sci_diag::Span,
) -> Res<Vec<LayerSlots>> {
    let mut layers = Vec::with_capacity(widths.len().saturating_sub(1));
    for (k, pair) in widths.windows(2).enumerate() {
        let (cols, rows) = (pair[0], pair[1]);
        let count = rows.saturating_mul(cols);
        check_total(layout.len, count.saturating_add(rows), model, span)?;
        let limit = init_limit(init, cols, rows);
        let weights: Vec<f64> = (0..count).map(|_| rng.uniform_in(limit)).collect();
        let w = layout.push(format!("{prefix}.w{k}"), vec![rows, cols], None, weights);
        let b = layout.push(format!("{prefix}.b{k}"), vec![rows], None, vec![0.0; rows]);
        layers.push(LayerSlots { w, b, rows, cols });
    }
    Ok(layers)
}

fn check_total(have: usize, more: usize, model: &ModelHir, span: sci_diag::Span) -> Res<()> {
    match have.checked_add(more) {
        Some(total) if total <= MAX_THETA => Ok(()),
        _ => Err(diag::too_many_params(model, span)),
    }
}

/// The splitmix64 generator (Steele, Lea & Flood 2014), written out here rather than taken
/// from a crate so that initial weights are bit-for-bit the same on every platform and in
/// every version of sci: a checkpoint or a published result stays reproducible even if a
/// random-number crate changes its algorithm, and the front end gains no dependency.
#[derive(Clone, Debug)]
pub struct SplitMix64 {
    state: u64,
}

impl SplitMix64 {
    /// A generator whose first output depends only on `seed`.
    pub fn new(seed: u64) -> SplitMix64 {
        SplitMix64 { state: seed }
    }

    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.state = self.state.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.state;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// A uniform number in `[0, 1)` from the top 53 bits (exact in f64).
    pub fn next_unit(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 * (1.0 / (1u64 << 53) as f64)
    }

    /// A uniform number in `[-limit, limit)`.
    pub fn uniform_in(&mut self, limit: f64) -> f64 {
        limit * (2.0 * self.next_unit() - 1.0)
    }
}
