//! Collocation points from a module's manifest: the one place that turns a point set
//! ([`sci_ir::manifest::PointSet`]) and a training seed into points, for `sci train` and
//! for the GPU check that must draw exactly the same ones.

use sci_ir::Manifest;
use sci_ir::manifest::{PointSet, Sampling as IrSampling};
use sci_stdlib::Error;
use sci_stdlib::sample::{SampleSpec, Sampling, sample};

/// The sampler's specification of point set `set`, with `points` points (the set's own
/// count when `None`).
pub fn sample_spec(set: &PointSet, points: Option<usize>) -> SampleSpec {
    SampleSpec {
        bounds: set.coords.iter().map(|c| (c.lo, c.hi)).collect(),
        fixed: set.fixed.clone(),
        points: points.unwrap_or(set.points),
        sampling: match set.sampling {
            IrSampling::Uniform => Sampling::Uniform,
            IrSampling::LatinHypercube => Sampling::LatinHypercube,
            IrSampling::Sobol => Sampling::Sobol,
        },
    }
}

/// The seed of point set `set` for training seed `seed`: each set gets its own stream,
/// decided by the declaration index of the residual that opens it.
pub fn set_seed(set: &PointSet, seed: u64) -> u64 {
    seed.wrapping_add((set.seed_index as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15))
}

/// The points of every point set of `manifest` for resampling round `round`, per set and
/// per coordinate (`out[set][coord][k]`), `points` per set when given.
pub fn draw_all(
    manifest: &Manifest,
    seed: u64,
    round: u64,
    points: Option<usize>,
) -> Result<Vec<Vec<Vec<f64>>>, Error> {
    manifest
        .point_sets
        .iter()
        .map(|set| sample(&sample_spec(set, points), set_seed(set, seed), round))
        .collect()
}
