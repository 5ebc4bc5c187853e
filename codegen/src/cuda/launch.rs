//! The launch side of the kernel ABI, as pure functions: parameter lists, launch
//! geometry, and finishing a column reduction's partials on the host. Nothing here
//! touches the driver, so all of it is tested on machines without a GPU.
//!
//! Kernels are `gpu.func`s lowered with MLIR's default memref calling convention: a
//! `memref<?xf64>` parameter is five PTX parameters (allocated pointer, aligned pointer,
//! offset, size, stride), passed here as `(p, p, 0, len, 1)`; an `index` is an `i64`. Every
//! parameter is eight bytes.

use sci_ir::ReduceOp;
use sci_ir::interp::{max_nan, min_nan};
use sci_ir::kernels::REDUCE_KERNEL;

/// Threads per block of a site kernel (one thread per point).
pub const SITE_BLOCK: u32 = 256;
/// Threads per block of a column-reduction kernel (one thread per column).
pub const REDUCE_BLOCK: u32 = 128;
/// Most chunks (block rows) a column reduction splits the points into: about one per
/// streaming multiprocessor of an H200 (132), so every SM gets work for narrow results.
pub const MAX_CHUNKS: usize = 120;

/// One kernel parameter; each is eight bytes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Param {
    /// An `index` (`i64`) value.
    Index(i64),
    /// A device pointer.
    Ptr(u64),
}

impl Param {
    /// The parameter's eight bytes, as the kernel reads them.
    pub fn word(self) -> u64 {
        match self {
            Param::Index(i) => i as u64,
            Param::Ptr(p) => p,
        }
    }
}

/// A device buffer as the launch sees it: its address and its length in elements.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Buffer {
    pub ptr: u64,
    pub len: usize,
}

/// Grid and block dimensions of one launch.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Geometry {
    pub grid: (u32, u32, u32),
    pub block: (u32, u32, u32),
}

/// How a column reduction of `points × width` values is split.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ReducePlan {
    /// Block rows: the number of partial results per column.
    pub chunks: usize,
    /// Points per chunk (the last chunk may hold fewer, or none).
    pub chunk: usize,
    pub geometry: Geometry,
}

/// An `index` parameter, or why the value does not fit.
fn index(n: usize, what: &str) -> Result<Param, String> {
    i64::try_from(n)
        .map(Param::Index)
        .map_err(|_| format!("{what} ({n}) does not fit a kernel's 64-bit index."))
}

/// The five parameters of a `memref<?xT>` descriptor for `buf`.
pub fn memref(buf: Buffer) -> Result<[Param; 5], String> {
    Ok([
        Param::Ptr(buf.ptr),
        Param::Ptr(buf.ptr),
        Param::Index(0),
        index(buf.len, "A buffer's length")?,
        Param::Index(1),
    ])
}

/// The parameters of a site kernel: `(points, inputs…, captures…, out, status)`.
pub fn site_params(
    points: usize,
    inputs: &[Buffer],
    captures: &[Buffer],
    out: Buffer,
    status: Buffer,
) -> Result<Vec<Param>, String> {
    let mut params = vec![index(points, "The number of points")?];
    for &buf in inputs.iter().chain(captures).chain([&out, &status]) {
        params.extend(memref(buf)?);
    }
    Ok(params)
}

/// The number of PTX parameters of the kernel of a site with `inputs` batched inputs and
/// `captures` captures.
pub fn site_param_count(inputs: usize, captures: usize) -> usize {
    1 + 5 * (inputs + captures + 2)
}

/// The parameters of a column-reduction kernel: `(points, width, chunk, input, partials)`.
pub fn reduce_params(
    points: usize,
    width: usize,
    chunk: usize,
    input: Buffer,
    partials: Buffer,
) -> Result<Vec<Param>, String> {
    let mut params = vec![
        index(points, "The number of points")?,
        index(width, "The width of a reduction")?,
        index(chunk, "A reduction chunk")?,
    ];
    params.extend(memref(input)?);
    params.extend(memref(partials)?);
    Ok(params)
}

/// The number of PTX parameters of a column-reduction kernel.
pub const REDUCE_PARAM_COUNT: usize = 13;

/// The entry name of the column-reduction kernel for `op` (`mean` uses `sum`).
pub fn reduce_kernel(op: ReduceOp) -> String {
    let op = match op {
        ReduceOp::Mean => ReduceOp::Sum,
        op => op,
    };
    format!("{REDUCE_KERNEL}_{}", op.name())
}

/// The four reduction kernels every PTX module holds.
pub fn reduce_kernels() -> [String; 4] {
    [ReduceOp::Sum, ReduceOp::Prod, ReduceOp::Max, ReduceOp::Min].map(reduce_kernel)
}

/// Blocks of `block` threads that cover `n` threads, as a grid dimension.
fn blocks(n: usize, block: u32, what: &str) -> Result<u32, String> {
    u32::try_from(n.div_ceil(block as usize).max(1))
        .map_err(|_| format!("{what} ({n}) needs more thread blocks than a launch allows."))
}

/// One thread per point, [`SITE_BLOCK`] threads per block.
pub fn site_geometry(points: usize) -> Result<Geometry, String> {
    Ok(Geometry {
        grid: (blocks(points, SITE_BLOCK, "The number of points")?, 1, 1),
        block: (SITE_BLOCK, 1, 1),
    })
}

/// One thread per column, one block row per chunk of points: `min(points, MAX_CHUNKS)`
/// chunks of `ceil(points / chunks)` points.
pub fn reduce_plan(points: usize, width: usize) -> Result<ReducePlan, String> {
    let chunks = points.clamp(1, MAX_CHUNKS);
    let chunk = points.div_ceil(chunks).max(1);
    Ok(ReducePlan {
        chunks,
        chunk,
        geometry: Geometry {
            grid: (
                blocks(width, REDUCE_BLOCK, "The width of a reduction")?,
                chunks as u32,
                1,
            ),
            block: (REDUCE_BLOCK, 1, 1),
        },
    })
}

/// The identity of `op`'s kernel: what an empty chunk holds.
pub fn identity(op: ReduceOp) -> f64 {
    match op {
        ReduceOp::Sum | ReduceOp::Mean => 0.0,
        ReduceOp::Prod => 1.0,
        ReduceOp::Max => f64::NEG_INFINITY,
        ReduceOp::Min => f64::INFINITY,
    }
}

/// `op` of two partial results, as the kernels combine values.
pub fn combine(op: ReduceOp, a: f64, b: f64) -> f64 {
    match op {
        ReduceOp::Sum | ReduceOp::Mean => a + b,
        ReduceOp::Prod => a * b,
        ReduceOp::Max => max_nan(a, b),
        ReduceOp::Min => min_nan(a, b),
    }
}

/// The reduced value from `partials` (`chunks × width`, row-major), combined in chunk
/// order; `mean` divides by `points`. `None` when `partials` is not a whole number of rows.
pub fn finish_partials(
    op: ReduceOp,
    partials: &[f64],
    width: usize,
    points: usize,
) -> Option<Vec<f64>> {
    if width == 0 {
        return partials.is_empty().then(Vec::new);
    }
    if !partials.len().is_multiple_of(width) {
        return None;
    }
    let mut acc = vec![identity(op); width];
    for row in partials.chunks(width) {
        for (a, &x) in acc.iter_mut().zip(row) {
            *a = combine(op, *a, x);
        }
    }
    if op == ReduceOp::Mean {
        let n = points as f64;
        acc.iter_mut().for_each(|a| *a /= n);
    }
    Some(acc)
}

#[cfg(test)]
mod tests {
    use super::*;
    use sci_ir::random::SplitMix64;

    /// What a reduction kernel computes, on the host: the reference for the partials.
    fn emulate_kernel(op: ReduceOp, input: &[f64], points: usize, width: usize) -> Vec<f64> {
        let plan = reduce_plan(points, width).unwrap();
        let mut partials = vec![identity(op); plan.chunks * width];
        for c in 0..plan.chunks {
            for j in 0..width {
                let lo = (c * plan.chunk).min(points);
                let hi = ((c + 1) * plan.chunk).min(points);
                for p in lo..hi {
                    let x = input[p * width + j];
                    partials[c * width + j] = combine(op, partials[c * width + j], x);
                }
            }
        }
        partials
    }

    /// `reduce_batch op` as the interpreter computes it.
    fn interpreter(op: ReduceOp, input: &[f64], points: usize, width: usize) -> Vec<f64> {
        use sci_ir::{FunctionBuilder, Module, Op, Tensor, Type};
        let mut m = Module::new("r");
        let mut b = FunctionBuilder::new("f", vec![("x".into(), Type::f64(vec![width]).batched())]);
        let x = b.input(0).unwrap();
        let r = b.push(Op::ReduceBatch(op, x), Type::f64(vec![width]));
        m.functions.push(b.finish(r));
        let arg = Tensor::batch(vec![width], points, input.to_vec()).unwrap();
        sci_ir::eval(&m, sci_ir::FuncId::from_index(0), &[arg])
            .unwrap()
            .data
    }

    #[test]
    fn a_site_kernel_gets_points_then_five_words_per_buffer() {
        let b = |ptr, len| Buffer { ptr, len };
        let params = site_params(
            7,
            &[b(0x100, 7), b(0x200, 14)],
            &[b(0x300, 921)],
            b(0x400, 7),
            b(0x500, 1),
        )
        .unwrap();
        assert_eq!(params.len(), site_param_count(2, 1));
        assert_eq!(params[0], Param::Index(7));
        let memref_at = |k: usize| &params[1 + 5 * k..6 + 5 * k];
        assert_eq!(
            memref_at(1),
            [
                Param::Ptr(0x200),
                Param::Ptr(0x200),
                Param::Index(0),
                Param::Index(14),
                Param::Index(1)
            ]
        );
        assert_eq!(memref_at(2)[3], Param::Index(921));
        assert_eq!(memref_at(3)[0], Param::Ptr(0x400));
        assert_eq!(memref_at(4)[0], Param::Ptr(0x500));
        assert_eq!(Param::Index(-1).word(), u64::MAX);
        let r = reduce_params(5, 3, 2, b(0x10, 15), b(0x20, 9)).unwrap();
        assert_eq!(r.len(), REDUCE_PARAM_COUNT);
        assert_eq!(&r[..3], [Param::Index(5), Param::Index(3), Param::Index(2)]);
        assert_eq!(r[8], Param::Ptr(0x20));
        assert_eq!(r[11], Param::Index(9));
    }

    #[test]
    fn geometry_covers_every_point_and_column() {
        assert_eq!(site_geometry(1).unwrap().grid, (1, 1, 1));
        assert_eq!(site_geometry(256).unwrap().grid, (1, 1, 1));
        assert_eq!(site_geometry(257).unwrap().grid, (2, 1, 1));
        assert_eq!(site_geometry(2048).unwrap().block, (256, 1, 1));
        assert!(site_geometry(usize::MAX).is_err());
        let plan = reduce_plan(2048, 921).unwrap();
        assert_eq!(plan.chunks, 120);
        assert_eq!(plan.chunk, 18);
        assert!(plan.chunks * plan.chunk >= 2048);
        assert_eq!(plan.geometry.grid, (8, 120, 1));
        assert_eq!(plan.geometry.block, (128, 1, 1));
        let small = reduce_plan(3, 1).unwrap();
        assert_eq!((small.chunks, small.chunk), (3, 1));
        assert_eq!(reduce_kernel(ReduceOp::Mean), "sci_reduce_cols_sum");
        assert_eq!(reduce_kernels()[2], "sci_reduce_cols_max");
    }

    #[test]
    fn finished_partials_match_the_interpreter() {
        let mut rng = SplitMix64::new(9);
        for &(points, width) in &[(1, 1), (3, 2), (121, 1), (2048, 5), (250, 3), (7, 0)] {
            let mut input: Vec<f64> = (0..points * width)
                .map(|_| rng.uniform(-2.0, 2.0))
                .collect();
            for op in ReduceOp::ALL {
                let partials = emulate_kernel(op, &input, points, width);
                let got = finish_partials(op, &partials, width, points).unwrap();
                let want = interpreter(op, &input, points, width);
                assert_eq!(got.len(), want.len());
                for (g, w) in got.iter().zip(&want) {
                    // Sums are reordered; max and min are exact.
                    assert!(
                        (g - w).abs() <= 1e-13 * w.abs().max(1.0),
                        "{op:?} {points}×{width}: {g} vs {w}"
                    );
                    if matches!(op, ReduceOp::Max | ReduceOp::Min) {
                        assert_eq!(g.to_bits(), w.to_bits());
                    }
                }
            }
            if let Some(x) = input.get_mut(points * width / 2) {
                *x = f64::NAN;
                for op in ReduceOp::ALL {
                    let partials = emulate_kernel(op, &input, points, width);
                    let got = finish_partials(op, &partials, width, points).unwrap();
                    let want = interpreter(op, &input, points, width);
                    for (g, w) in got.iter().zip(&want) {
                        assert_eq!(g.is_nan(), w.is_nan(), "NaN propagates through {op:?}");
                    }
                }
            }
        }
        assert_eq!(finish_partials(ReduceOp::Sum, &[1.0, 2.0, 3.0], 2, 1), None);
        assert_eq!(finish_partials(ReduceOp::Sum, &[], 0, 4), Some(vec![]));
    }
}
