//! Collocation points in a box domain: uniform, Latin hypercube or Sobol, reproducible from
//! a seed.
//!
//! Reproducibility: uniform and Latin hypercube points come from ChaCha8 seeded with
//! `(seed, round)` and are turned into floats and permutations by code here (not by `rand`'s
//! distributions, whose output may change between versions), so the same `(seed, round)`
//! gives the same points on every platform and build. Sobol points are Owen-scrambled
//! (`sobol_burley`) with a scramble seed derived from `(seed, round)`.

use rand_chacha::ChaCha8Rng;
use rand_chacha::rand_core::{Rng, SeedableRng};

use crate::Error;

/// How points are drawn.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Sampling {
    Uniform,
    LatinHypercube,
    Sobol,
}

/// The points of one residual: a box, the coordinates its `where` clause fixes, how many.
#[derive(Clone, Debug, PartialEq)]
pub struct SampleSpec {
    /// Per coordinate: `(lo, hi)`.
    pub bounds: Vec<(f64, f64)>,
    /// A conjunction of fixings, each a disjunction of alternatives `(coordinate, value)`:
    /// `x == -1 or x == 1` is one entry with two alternatives. Points are split evenly
    /// between the alternatives of each fixing.
    pub fixed: Vec<Vec<(usize, f64)>>,
    pub points: usize,
    pub sampling: Sampling,
}

/// Draws `spec.points` points, returned per coordinate: `out[c][k]` is coordinate `c` of
/// point `k` (the layout a batched input wants). `round` selects a fresh, independent set
/// for resampling; the same `(seed, round)` gives the same points.
///
/// Every coordinate is first drawn from the box; then, for each fixing, the points are
/// split into as many groups as it has alternatives (sizes differing by at most one, the
/// larger groups first) and each group gets its alternative's coordinate set to the value.
/// The first fixing groups points in order (`0..n/2`, `n/2..n` for two alternatives); later
/// fixings group a random permutation of the points, so that combinations of alternatives
/// are mixed rather than aligned. If two fixings set the same coordinate, the later wins.
pub fn sample(spec: &SampleSpec, seed: u64, round: u64) -> Result<Vec<Vec<f64>>, Error> {
    validate(spec)?;
    let n = spec.points;
    let mut rng = chacha(seed, round);
    let mut out: Vec<Vec<f64>> = match spec.sampling {
        Sampling::Uniform => spec
            .bounds
            .iter()
            .map(|&(lo, hi)| (0..n).map(|_| lerp(lo, hi, unit(&mut rng))).collect())
            .collect(),
        Sampling::LatinHypercube => spec
            .bounds
            .iter()
            .map(|&(lo, hi)| {
                // One point per stratum [j/n, (j+1)/n), strata assigned by a permutation.
                let mut strata: Vec<usize> = (0..n).collect();
                shuffle(&mut strata, &mut rng);
                strata
                    .into_iter()
                    .map(|j| lerp(lo, hi, (j as f64 + unit(&mut rng)) / n as f64))
                    .collect()
            })
            .collect(),
        Sampling::Sobol => {
            let base = sobol_seed(seed, round);
            spec.bounds
                .iter()
                .enumerate()
                .map(|(c, &(lo, hi))| (0..n).map(|k| lerp(lo, hi, sobol(k, c, base))).collect())
                .collect()
        }
    };
    for (e, fixing) in spec.fixed.iter().enumerate() {
        let mut order: Vec<usize> = (0..n).collect();
        if e > 0 {
            shuffle(&mut order, &mut rng);
        }
        let m = fixing.len();
        let mut start = 0;
        for (a, &(coord, value)) in fixing.iter().enumerate() {
            let size = n / m + usize::from(a < n % m);
            for &k in &order[start..start + size] {
                out[coord][k] = value;
            }
            start += size;
        }
    }
    Ok(out)
}

/// Rejects specs no sampler can draw from, naming the offending coordinate.
fn validate(spec: &SampleSpec) -> Result<(), Error> {
    if spec.points == 0 {
        return Err(
            Error::input("At least one collocation point is needed, not 0.")
                .with_help("ask for a positive number of points"),
        );
    }
    for (c, &(lo, hi)) in spec.bounds.iter().enumerate() {
        if !lo.is_finite() || !hi.is_finite() {
            return Err(Error::input(format!(
                "Coordinate {c} of the domain has bounds {lo} and {hi}; both must be finite."
            ))
            .with_help("sample from a finite box; rescale unbounded coordinates"));
        }
        if lo >= hi {
            return Err(Error::input(format!(
                "Coordinate {c} of the domain runs from {lo} to {hi}; the lower bound must \
                 be below the upper one."
            ))
            .with_help("swap the bounds, or fix the coordinate instead of sampling it"));
        }
    }
    let dims = spec.bounds.len();
    for fixing in &spec.fixed {
        if fixing.is_empty() {
            return Err(Error::input(
                "A fixed-coordinate condition has no alternatives to choose from.",
            ));
        }
        for &(coord, value) in fixing {
            let Some(&(lo, hi)) = spec.bounds.get(coord) else {
                return Err(Error::input(format!(
                    "A condition fixes coordinate {coord}, but the domain has only {dims} \
                     coordinates."
                )));
            };
            if !(lo..=hi).contains(&value) {
                return Err(Error::input(format!(
                    "A condition fixes coordinate {coord} to {value}, outside its range \
                     [{lo}, {hi}]."
                ))
                .with_help("fix the coordinate to a value inside the domain"));
            }
        }
    }
    Ok(())
}

/// The generator for `(seed, round)`: both words in the 256-bit ChaCha key.
/// A random permutation of `0..n` (the order of a data set's rows in one epoch of
/// mini-batch training); the same `(seed, round)` gives the same order everywhere.
pub fn permutation(n: usize, seed: u64, round: u64) -> Vec<usize> {
    let mut order: Vec<usize> = (0..n).collect();
    shuffle(&mut order, &mut chacha(seed, round));
    order
}

fn chacha(seed: u64, round: u64) -> ChaCha8Rng {
    let mut key = [0u8; 32];
    key[..8].copy_from_slice(&seed.to_le_bytes());
    key[8..16].copy_from_slice(&round.to_le_bytes());
    ChaCha8Rng::from_seed(key)
}

/// A uniform float in [0, 1) from the top 53 bits of one draw.
fn unit(rng: &mut ChaCha8Rng) -> f64 {
    (rng.next_u64() >> 11) as f64 * (1.0 / (1u64 << 53) as f64)
}

/// An index in `0..bound` (`bound > 0`), by the multiply-shift map (bias below 2⁻⁶⁰ for any
/// realistic bound).
fn below(rng: &mut ChaCha8Rng, bound: usize) -> usize {
    ((u128::from(rng.next_u64()) * bound as u128) >> 64) as usize
}

/// Fisher–Yates.
fn shuffle(v: &mut [usize], rng: &mut ChaCha8Rng) {
    for i in (1..v.len()).rev() {
        let j = below(rng, i + 1);
        v.swap(i, j);
    }
}

/// `lo + (hi − lo)·u`, kept inside `[lo, hi]` despite rounding, and computed without
/// overflow when `hi − lo` exceeds the largest float.
fn lerp(lo: f64, hi: f64, u: f64) -> f64 {
    let w = hi - lo;
    let x = if w.is_finite() {
        lo + w * u
    } else {
        lo * (1.0 - u) + hi * u
    };
    x.clamp(lo, hi)
}

/// SplitMix64's finaliser: a bijective mix of 64 bits.
fn mix(mut z: u64) -> u64 {
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// The Sobol scramble seed for `(seed, round)`.
fn sobol_seed(seed: u64, round: u64) -> u64 {
    mix(mix(seed) ^ round.wrapping_mul(0x9e37_79b9_7f4a_7c15))
}

/// `sobol_burley` gives 2¹⁶ points in 256 dimensions per seed; beyond either, the sequence
/// is continued with a fresh scramble seed per block (Burley's "padding").
const SOBOL_POINTS: usize = 1 << 16;
const SOBOL_DIMS: usize = sobol_burley::NUM_DIMENSIONS as usize;

/// Coordinate `c` of Sobol point `k`, in [0, 1) (at f32's resolution of 2⁻²⁴, ample for
/// collocation points).
fn sobol(k: usize, c: usize, base: u64) -> f64 {
    let block = (k / SOBOL_POINTS) as u64;
    let dim_block = (c / SOBOL_DIMS) as u64;
    let s = if block == 0 && dim_block == 0 {
        base
    } else {
        mix(base ^ mix(block.wrapping_add(1)) ^ mix(dim_block.wrapping_add(1) << 32))
    };
    // The index and dimension are reduced below the crate's limits, so it cannot panic.
    let index = (k % SOBOL_POINTS) as u32;
    let dim = (c % SOBOL_DIMS) as u32;
    f64::from(sobol_burley::sample(index, dim, (s ^ (s >> 32)) as u32))
}
