//! Gaussian random fields `N(0, C)` with `C = σ²(−Δ + τ²I)^(−γ)`, the input functions of
//! the neural-operator benchmarks, drawn reproducibly from `(seed, sample)`.
//!
//! **Conventions.** `C` is diagonal in the eigenfunctions of the Laplacian, so a field is a
//! Karhunen–Loève series: with `−Δφ_k = μ_k φ_k` (φ_k orthonormal in L²), the coefficient of
//! `φ_k` is `ξ_k·sqrt(λ_k)`, `λ_k = σ²(μ_k + τ²)^(−γ)`, `ξ_k` independent standard normals.
//! The field's pointwise variance is then `Σ_k λ_k φ_k(x)²`, the variance of the continuous
//! covariance, truncated to the modes the grid resolves.
//!
//! - [`PeriodicField`] (the unit interval with periodic conditions; Burgers' initial
//!   conditions, `N(0, 625(−Δ + 25I)^(−2))`): `φ_k = e^(2πikx)`, `μ_k = 4π²k²`. A real field
//!   pairs `k` with `−k`: `u(x) = Σ_{k≥1} sqrt(2λ_k)(a_k cos 2πkx − b_k sin 2πkx)` with `a_k`,
//!   `b_k` standard normals, so `Var u(x) = Σ_{k≠0} λ_k` exactly, at every `x`. Mode 0 is
//!   left out (the fields have mean zero over the interval, as Burgers' equation conserves
//!   the mean), and so is the Nyquist mode `k = n/2`, which a grid of `n` points cannot tell
//!   from `−n/2`: the modes are `1 ≤ k ≤ (n − 1)/2`. The grid values are one inverse real FFT
//!   of the spectrum `X_k = sqrt(λ_k/2)(a_k + i b_k)` (realfft's unnormalised inverse sums
//!   `X_k` and its conjugate for `−k`). Mode `k` takes the `2k−1`-th and `2k`-th normal
//!   of the sample's stream whatever `n` is, so the same `(seed, sample)` on a finer grid
//!   draws the same low modes.
//! - [`NeumannField2d`] (the unit square with zero Neumann conditions; Darcy's
//!   permeability, `N(0, (−Δ + 9I)^(−2))`): the cosine series
//!   `ψ(x, y) = Σ_{k,l} ξ_kl sqrt(λ_kl) cos(πkx) cos(πly)`, `λ_kl = σ²(π²(k² + l²) + τ²)^(−γ)`,
//!   `k, l = 0, …, m − 1` on a grid of `m` nodes per axis (`x_i = i/(m − 1)`: exactly the
//!   cosines such a grid resolves; higher ones alias onto them), the constant mode `(0, 0)`
//!   dropped. The cosines are not normalised (as in Li et al.'s generator): the field is
//!   only ever thresholded at zero, which no positive scale changes. It is evaluated
//!   separably, `Ψ = C Z Cᵀ` with `C_ik = cos(πk x_i)`, two dense matrix products. The
//!   normals are drawn shell by shell (`max(k, l) = 0, 1, …`, [`shell_order`]), so here too
//!   a finer grid draws the same low modes.
//!
//! **Reproducibility.** The normals come from ChaCha8 keyed by `(seed, sample)` through
//! Box–Muller with the Rust `libm` (no platform libm), so a seed gives the same draws, bit
//! for bit, on every platform, and each sample's draws are independent of how many samples
//! there are or which thread draws them. The transforms (rustfft, faer's matrix product)
//! choose SIMD kernels for the CPU they run on, which may change the last bits of a value
//! between machines, not the draws.

use std::sync::Arc;

use faer::{Accum, Mat, Par};
use rand_chacha::ChaCha8Rng;
use rand_chacha::rand_core::{Rng, SeedableRng};
use realfft::ComplexToReal;
use realfft::num_complex::Complex;

use crate::Error;

/// The covariance `σ²(−Δ + τ²I)^(−γ)`: its eigenvalue on a Laplacian eigenfunction with
/// eigenvalue `μ` (of `−Δ`) is `σ²(μ + τ²)^(−γ)`.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Covariance {
    /// `σ²`.
    pub scale: f64,
    /// `τ²`.
    pub shift: f64,
    /// `γ`.
    pub power: f64,
}

impl Covariance {
    /// Burgers' initial conditions in Li et al.: `625(−Δ + 25I)^(−2)`.
    pub const BURGERS: Covariance = Covariance {
        scale: 625.0,
        shift: 25.0,
        power: 2.0,
    };

    /// The field whose sign makes Darcy's permeability in Li et al.: `(−Δ + 9I)^(−2)`.
    pub const DARCY: Covariance = Covariance {
        scale: 1.0,
        shift: 9.0,
        power: 2.0,
    };

    /// The eigenvalue on an eigenfunction of `−Δ` with eigenvalue `mu`.
    pub fn eigenvalue(&self, mu: f64) -> f64 {
        self.scale * libm::pow(mu + self.shift, -self.power)
    }

    fn check(&self) -> Result<(), Error> {
        let ok = self.scale.is_finite()
            && self.scale >= 0.0
            && self.shift.is_finite()
            && self.shift > 0.0
            && self.power.is_finite()
            && self.power > 0.0;
        if ok {
            Ok(())
        } else {
            Err(Error::input(format!(
                "The covariance σ²(−Δ + τ²I)^(−γ) needs σ² ≥ 0, τ² > 0 and γ > 0 (finite); \
                 got σ² = {}, τ² = {}, γ = {}.",
                self.scale, self.shift, self.power
            )))
        }
    }
}

/// The standard normals of one sample: a stream that depends on `(seed, sample)` only.
pub struct SampleRng {
    rng: ChaCha8Rng,
    /// Box–Muller makes normals in pairs; the second waits here.
    spare: Option<f64>,
}

impl SampleRng {
    /// The stream of sample `sample` of the data set drawn with `seed`.
    pub fn new(seed: u64, sample: u64) -> SampleRng {
        let mut key = [0u8; 32];
        key[..8].copy_from_slice(&seed.to_le_bytes());
        key[8..16].copy_from_slice(&sample.to_le_bytes());
        // A tag keeps these streams apart from the collocation points' (`sample.rs` keys
        // ChaCha8 with `(seed, round)` in the same first 16 bytes).
        key[16..24].copy_from_slice(b"fields\0\0");
        SampleRng {
            rng: ChaCha8Rng::from_seed(key),
            spare: None,
        }
    }

    /// The next standard normal, by Box–Muller.
    pub fn normal(&mut self) -> f64 {
        if let Some(z) = self.spare.take() {
            return z;
        }
        let scale = 1.0 / (1u64 << 53) as f64;
        // u1 in (0, 1], so its logarithm is finite; u2 in [0, 1).
        let u1 = ((self.rng.next_u64() >> 11) + 1) as f64 * scale;
        let u2 = (self.rng.next_u64() >> 11) as f64 * scale;
        let radius = (-2.0 * libm::log(u1)).sqrt();
        let angle = 2.0 * std::f64::consts::PI * u2;
        self.spare = Some(radius * libm::sin(angle));
        radius * libm::cos(angle)
    }
}

/// Periodic fields on the unit interval at `x_j = j/n`, drawn by one inverse real FFT (see
/// the module header for the conventions).
pub struct PeriodicField {
    points: usize,
    /// `sqrt(λ_k / 2)` for `k = 1, …, modes`: the scale of `a_k + i b_k` in the spectrum.
    amplitudes: Vec<f64>,
    /// `λ_k` for `k = 1, …, modes`.
    eigenvalues: Vec<f64>,
    inverse: Arc<dyn ComplexToReal<f64>>,
}

impl PeriodicField {
    /// Fields of covariance `covariance` on `points` grid points (at least 3, for one
    /// mode).
    pub fn new(points: usize, covariance: Covariance) -> Result<PeriodicField, Error> {
        covariance.check()?;
        if points < 3 {
            return Err(Error::input(format!(
                "A periodic random field needs at least 3 grid points to hold a mode; got \
                 {points}."
            )));
        }
        let modes = (points - 1) / 2;
        let eigenvalues: Vec<f64> = (1..=modes)
            .map(|k| {
                let wavenumber = 2.0 * std::f64::consts::PI * k as f64;
                covariance.eigenvalue(wavenumber * wavenumber)
            })
            .collect();
        let amplitudes = eigenvalues.iter().map(|l| (l / 2.0).sqrt()).collect();
        let inverse = realfft::RealFftPlanner::<f64>::new().plan_fft_inverse(points);
        Ok(PeriodicField {
            points,
            amplitudes,
            eigenvalues,
            inverse,
        })
    }

    /// The grid points per field.
    pub fn points(&self) -> usize {
        self.points
    }

    /// The highest mode `k` the fields hold.
    pub fn modes(&self) -> usize {
        self.amplitudes.len()
    }

    /// The variance of every grid value: `Σ_{1 ≤ |k| ≤ modes} λ_k`.
    pub fn pointwise_variance(&self) -> f64 {
        2.0 * self.eigenvalues.iter().sum::<f64>()
    }

    /// One field, from the sample's stream.
    pub fn sample(&self, rng: &mut SampleRng) -> Result<Vec<f64>, Error> {
        let mut spectrum = self.inverse.make_input_vec();
        for (k, amplitude) in self.amplitudes.iter().enumerate() {
            let (a, b) = (rng.normal(), rng.normal());
            spectrum[k + 1] = Complex::new(amplitude * a, amplitude * b);
        }
        let mut field = self.inverse.make_output_vec();
        self.inverse
            .process(&mut spectrum, &mut field)
            .map_err(|e| {
                Error::numerical(format!("The inverse FFT of a random field failed: {e}."))
            })?;
        Ok(field)
    }
}

/// Fields with zero Neumann conditions on the unit square, at the nodes `(x_i, y_j)`,
/// `x_i = i/(m − 1)`, as cosine series (see the module header).
pub struct NeumannField2d {
    points: usize,
    /// `cos(πk x_i)`: row `i`, column `k`.
    cosines: Mat<f64>,
    /// `sqrt(λ_kl)`, row-major `[modes, modes]`, 0 for the constant mode.
    amplitudes: Vec<f64>,
}

impl NeumannField2d {
    /// Fields of covariance `covariance` on `points × points` nodes (at least 2 per axis),
    /// with the modes `k, l = 0, …, points − 1`.
    pub fn new(points: usize, covariance: Covariance) -> Result<NeumannField2d, Error> {
        covariance.check()?;
        if points < 2 {
            return Err(Error::input(format!(
                "A random field on the unit square needs at least 2 nodes per axis; got \
                 {points}."
            )));
        }
        let modes = points;
        let intervals = points - 1;
        // cos(πk·i/(m−1)) with the angle reduced exactly, in integers, to [0, 2π): the
        // products k·i reach m² and their cosines would lose digits to the reduction.
        let cosines = Mat::from_fn(points, modes, |i, k| {
            let turn = (k * i) % (2 * intervals);
            libm::cos(std::f64::consts::PI * turn as f64 / intervals as f64)
        });
        let pi2 = std::f64::consts::PI * std::f64::consts::PI;
        let mut amplitudes = Vec::with_capacity(modes * modes);
        for k in 0..modes {
            for l in 0..modes {
                let mu = pi2 * (k * k + l * l) as f64;
                amplitudes.push(if k + l == 0 {
                    0.0
                } else {
                    covariance.eigenvalue(mu).sqrt()
                });
            }
        }
        Ok(NeumannField2d {
            points,
            cosines,
            amplitudes,
        })
    }

    /// Nodes per axis.
    pub fn points(&self) -> usize {
        self.points
    }

    /// One field, row-major `[points, points]`: element `i·m + j` is `ψ(x_i, y_j)`.
    pub fn sample(&self, rng: &mut SampleRng) -> Vec<f64> {
        let m = self.points;
        let modes = self.cosines.ncols();
        // The normals are drawn shell by shell ([`shell_order`]), so a finer grid (more
        // modes) draws the same low modes; the (0, 0) one is drawn too, and unused.
        let mut coefficients = Mat::<f64>::zeros(modes, modes);
        for (k, l) in shell_order(modes) {
            coefficients[(k, l)] = rng.normal() * self.amplitudes[k * modes + l];
        }
        // Ψ = C Z Cᵀ, sequentially: the caller runs samples on its own threads.
        let mut half = Mat::<f64>::zeros(m, modes);
        faer::linalg::matmul::matmul(
            half.as_mut(),
            Accum::Replace,
            self.cosines.as_ref(),
            coefficients.as_ref(),
            1.0,
            Par::Seq,
        );
        let mut field = Mat::<f64>::zeros(m, m);
        faer::linalg::matmul::matmul(
            field.as_mut(),
            Accum::Replace,
            half.as_ref(),
            self.cosines.transpose(),
            1.0,
            Par::Seq,
        );
        let mut out = Vec::with_capacity(m * m);
        for i in 0..m {
            out.extend((0..m).map(|j| field[(i, j)]));
        }
        out
    }
}

/// The modes `(k, l)`, `k, l < modes`, in the order their normals are drawn: by shells
/// `max(k, l) = s` for `s = 0, 1, …`, each shell as `(s, 0), …, (s, s)` then
/// `(0, s), …, (s − 1, s)`. Mode `(k, l)` is therefore the same draw of a sample's stream
/// for every number of modes that contains it.
pub fn shell_order(modes: usize) -> impl Iterator<Item = (usize, usize)> {
    (0..modes).flat_map(|s| {
        (0..=s)
            .map(move |l| (s, l))
            .chain((0..s).map(move |k| (k, s)))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normals_have_unit_variance_and_repeat_per_seed_and_sample() {
        let mut rng = SampleRng::new(7, 3);
        let draws: Vec<f64> = (0..200_000).map(|_| rng.normal()).collect();
        let mean = draws.iter().sum::<f64>() / draws.len() as f64;
        let var = draws.iter().map(|z| (z - mean) * (z - mean)).sum::<f64>() / draws.len() as f64;
        assert!(mean.abs() < 0.01, "{mean}");
        assert!((var - 1.0).abs() < 0.01, "{var}");
        let mut again = SampleRng::new(7, 3);
        assert_eq!(again.normal(), draws[0]);
        assert_eq!(again.normal(), draws[1]);
        let mut other = SampleRng::new(7, 4);
        assert_ne!(other.normal(), draws[0]);
    }

    #[test]
    fn periodic_fields_have_the_covariances_variance_at_every_point() {
        let field = PeriodicField::new(64, Covariance::BURGERS).unwrap();
        assert_eq!(field.modes(), 31);
        // The formula, summed independently: Σ_{k≠0, |k|≤31} 625 (4π²k² + 25)^(−2).
        let expected: f64 = (1..=31)
            .map(|k| {
                let mu = 4.0 * std::f64::consts::PI.powi(2) * f64::from(k * k);
                2.0 * 625.0 / (mu + 25.0).powi(2)
            })
            .sum();
        assert!((field.pointwise_variance() - expected).abs() < 1e-12 * expected);
        // About 0.35, nearly all of it in the first mode.
        assert!((0.3..0.4).contains(&expected), "{expected}");
        let samples = 4000;
        let mut sum_sq = vec![0.0; 64];
        let mut sum = vec![0.0; 64];
        for s in 0..samples {
            let u = field.sample(&mut SampleRng::new(1, s)).unwrap();
            // Mode 0 is dropped: every field has mean zero over the grid.
            assert!(u.iter().sum::<f64>().abs() < 1e-12);
            for (j, v) in u.iter().enumerate() {
                sum[j] += v;
                sum_sq[j] += v * v;
            }
        }
        // The variance at each point (the standard error of a variance estimate from 4000
        // draws is sqrt(2/4000) ≈ 2.2 %), and averaged over the points (far tighter).
        let mut average = 0.0;
        for j in 0..64 {
            let var = sum_sq[j] / samples as f64 - (sum[j] / samples as f64).powi(2);
            assert!(
                (var / expected - 1.0).abs() < 0.1,
                "point {j}: {var} vs {expected}"
            );
            average += var / 64.0;
        }
        assert!(
            (average / expected - 1.0).abs() < 0.03,
            "{average} vs {expected}"
        );
    }

    /// `Σ_{k=1}^{modes} sqrt(2λ_k)(a_k cos 2πkx − b_k sin 2πkx)` from a sample's normals,
    /// summed term by term.
    fn burgers_series(seed: u64, sample: u64, modes: usize, x: f64) -> f64 {
        let mut rng = SampleRng::new(seed, sample);
        let mut value = 0.0;
        for k in 1..=modes {
            let (a, b) = (rng.normal(), rng.normal());
            let angle = 2.0 * std::f64::consts::PI * k as f64 * x;
            let lambda =
                Covariance::BURGERS.eigenvalue((2.0 * std::f64::consts::PI * k as f64).powi(2));
            value += (2.0 * lambda).sqrt() * (a * angle.cos() - b * angle.sin());
        }
        value
    }

    #[test]
    fn a_periodic_field_is_the_real_series_of_its_normals_on_every_grid() {
        // The FFT's scaling and the stream's layout: the grid values are the series of the
        // module header, and a field on 16 points holds the same modes 1..=7 as one on 64
        // points from the same stream (which adds modes 8..=31).
        for points in [16, 64, 65] {
            let field = PeriodicField::new(points, Covariance::BURGERS).unwrap();
            let u = field.sample(&mut SampleRng::new(5, 9)).unwrap();
            for (j, value) in u.iter().enumerate() {
                let x = j as f64 / points as f64;
                let series = burgers_series(5, 9, field.modes(), x);
                assert!(
                    (value - series).abs() < 1e-12,
                    "n = {points}, x = {x}: {value} vs {series}"
                );
            }
        }
        let a = PeriodicField::new(16, Covariance::BURGERS).unwrap();
        let b = PeriodicField::new(16, Covariance::BURGERS).unwrap();
        assert_eq!(
            a.sample(&mut SampleRng::new(5, 9)).unwrap(),
            b.sample(&mut SampleRng::new(5, 9)).unwrap()
        );
        assert_ne!(
            a.sample(&mut SampleRng::new(5, 9)).unwrap(),
            a.sample(&mut SampleRng::new(5, 10)).unwrap()
        );
    }

    #[test]
    fn neumann_fields_have_the_series_variance_and_a_patchy_sign() {
        let m = 17;
        let field = NeumannField2d::new(m, Covariance::DARCY).unwrap();
        let samples = 3000;
        let mut sum_sq = vec![0.0; m * m];
        let (mut positive, mut agreeing) = (0usize, 0usize);
        for s in 0..samples {
            let psi = field.sample(&mut SampleRng::new(2, s));
            for (acc, v) in sum_sq.iter_mut().zip(&psi) {
                *acc += v * v;
            }
            positive += psi.iter().filter(|v| **v >= 0.0).count();
            for i in 0..m {
                for j in 1..m {
                    agreeing += usize::from((psi[i * m + j] >= 0.0) == (psi[i * m + j - 1] >= 0.0));
                    agreeing +=
                        usize::from((psi[j * m + i] >= 0.0) == (psi[(j - 1) * m + i] >= 0.0));
                }
            }
        }
        // The variance at node (i, j) is Σ λ_kl cos²(πk x_i) cos²(πl y_j).
        let pi2 = std::f64::consts::PI.powi(2);
        let variance = |i: usize, j: usize| -> f64 {
            let (x, y) = (i as f64 / (m - 1) as f64, j as f64 / (m - 1) as f64);
            let mut v = 0.0;
            for k in 0..m {
                for l in 0..m {
                    if k + l > 0 {
                        let lambda = 1.0 / (pi2 * (k * k + l * l) as f64 + 9.0).powi(2);
                        let (ck, cl) = (
                            (std::f64::consts::PI * k as f64 * x).cos(),
                            (std::f64::consts::PI * l as f64 * y).cos(),
                        );
                        v += lambda * ck * ck * cl * cl;
                    }
                }
            }
            v
        };
        for (i, j) in [(0, 0), (8, 8), (3, 11), (16, 5)] {
            let empirical = sum_sq[i * m + j] / samples as f64;
            let exact = variance(i, j);
            assert!(
                (empirical / exact - 1.0).abs() < 0.1,
                "node ({i}, {j}): {empirical} vs {exact}"
            );
        }
        // Mean zero: about half the nodes of all fields are non-negative (a = 12 there).
        let share = positive as f64 / (samples as usize * m * m) as f64;
        assert!((share - 0.5).abs() < 0.05, "{share}");
        // The sign pattern is made of patches, not noise: the field is smooth (its spectrum
        // falls as (k² + l²)^(−2)), so neighbouring nodes nearly always share a sign, where
        // independent signs would agree half the time.
        let agreement = agreeing as f64 / (samples as usize * 2 * m * (m - 1)) as f64;
        assert!(agreement > 0.85, "{agreement}");
    }

    #[test]
    fn a_neumann_field_is_the_cosine_series_it_draws() {
        // The separable product against the series summed term by term from the same
        // normals, and the sign pattern that makes Darcy's coefficient.
        let m = 9;
        let field = NeumannField2d::new(m, Covariance::DARCY).unwrap();
        let psi = field.sample(&mut SampleRng::new(11, 0));
        let mut rng = SampleRng::new(11, 0);
        let mut xi = vec![0.0; m * m];
        for (k, l) in shell_order(m) {
            xi[k * m + l] = rng.normal();
        }
        let pi = std::f64::consts::PI;
        for i in 0..m {
            for j in 0..m {
                let (x, y) = (i as f64 / 8.0, j as f64 / 8.0);
                let mut direct = 0.0;
                for k in 0..m {
                    for l in 0..m {
                        if k + l > 0 {
                            let mu = pi * pi * (k * k + l * l) as f64;
                            direct += xi[k * m + l] / (mu + 9.0)
                                * (pi * k as f64 * x).cos()
                                * (pi * l as f64 * y).cos();
                        }
                    }
                }
                let value = psi[i * m + j];
                assert!(
                    (value - direct).abs() < 1e-12,
                    "({i}, {j}): {value} vs {direct}"
                );
                assert_eq!(value >= 0.0, direct >= 0.0);
            }
        }
    }

    #[test]
    fn shells_visit_every_mode_once_and_keep_their_place_on_finer_grids() {
        let order: Vec<(usize, usize)> = shell_order(3).collect();
        assert_eq!(
            order,
            [
                (0, 0),
                (1, 0),
                (1, 1),
                (0, 1),
                (2, 0),
                (2, 1),
                (2, 2),
                (0, 2),
                (1, 2)
            ]
        );
        let finer: Vec<(usize, usize)> = shell_order(40).collect();
        assert_eq!(finer[..9], order[..]);
        let mut seen = finer.clone();
        seen.sort_unstable();
        seen.dedup();
        assert_eq!(seen.len(), 1600);
        // So a field on a finer grid holds the same low modes: on 17 nodes less its shells
        // 9..17 (summed here term by term from the same stream), it is the field on 9
        // nodes, at the nodes the two grids share.
        let coarse = NeumannField2d::new(9, Covariance::DARCY).unwrap();
        let fine = NeumannField2d::new(17, Covariance::DARCY).unwrap();
        let a = coarse.sample(&mut SampleRng::new(3, 1));
        let b = fine.sample(&mut SampleRng::new(3, 1));
        let mut rng = SampleRng::new(3, 1);
        let outer: Vec<(usize, usize, f64)> = shell_order(17)
            .map(|(k, l)| (k, l, rng.normal()))
            .filter(|&(k, l, _)| k.max(l) >= 9)
            .collect();
        let pi = std::f64::consts::PI;
        for i in 0..9 {
            for j in 0..9 {
                let (x, y) = (i as f64 / 8.0, j as f64 / 8.0);
                let high: f64 = (outer.iter())
                    .map(|&(k, l, xi)| {
                        let mu = pi * pi * (k * k + l * l) as f64;
                        xi / (mu + 9.0) * (pi * k as f64 * x).cos() * (pi * l as f64 * y).cos()
                    })
                    .sum();
                let (low, full) = (a[i * 9 + j], b[2 * i * 17 + 2 * j]);
                assert!(
                    (full - high - low).abs() < 1e-12,
                    "({i}, {j}): {full} − {high} vs {low}"
                );
            }
        }
    }

    #[test]
    fn bad_sizes_and_covariances_are_refused() {
        assert!(PeriodicField::new(2, Covariance::BURGERS).is_err());
        assert!(NeumannField2d::new(1, Covariance::DARCY).is_err());
        let bad = Covariance {
            shift: 0.0,
            ..Covariance::BURGERS
        };
        assert!(PeriodicField::new(16, bad).is_err());
    }
}
