//! Sequentially thresholded least squares (STLSQ, Brunton, Proctor & Kutz 2016): fit the
//! derivatives by least squares on the library, drop the small coefficients, refit on the
//! terms that remain, until the set of terms stops changing.
//!
//! # Scaling and the threshold
//!
//! Before fitting, every column `θ_j` of Θ is divided by its 2-norm, as PySINDy's
//! `normalize_columns` does, and every target `ẏ` by its own 2-norm; coefficients are scaled
//! back afterwards. The threshold applies to the scaled coefficients
//!
//! ```text
//! ξ̃_j = ξ_j · ‖θ_j‖₂ / ‖ẏ‖₂,
//! ```
//!
//! the size of term `j`'s contribution `ξ_j θ_j` relative to the derivative it helps to
//! explain: `0.01` drops a term that carries less than 1 % of the derivative's norm. This
//! is PySINDy's convention divided by `‖ẏ‖₂`; the extra division makes one threshold mean
//! the same for every output, whatever its units or the number of samples.
//!
//! # The least-squares solver
//!
//! One Householder QR of the scaled `[Θ | Ẏ]` (faer) reduces the whole problem to its
//! triangular factor `R` (`(k + outputs)` square at most): for any subset `S` of terms,
//! `‖Θ_S ξ − ẏ_i‖ = ‖R_S ξ − r_i‖`, where `r_i` is `ẏ_i`'s column of `R`. Every refit of
//! every output at every threshold is then a small problem on `R`, and the residuals are
//! computed from it without forming `Θξ` again. QR rather than the normal equations:
//! polynomial libraries are ill-conditioned (`1`, `z`, `z^2` with `z` around 25), and
//! `ΘᵀΘ` would square their condition number. The small problems are solved by QR too,
//! with a ridge term `α‖ξ̃‖²` as extra rows `√α·I`, which keeps them solvable when two
//! candidate terms are (nearly) the same column; since the columns have unit norm, `α` is
//! relative to them, and the default (`1e-12`) barely changes a well-posed fit. The ridge
//! steers the thresholding only: the final fit on the terms that remain is plain least
//! squares (PySINDy's `unbias`), unless that one is singular.

use faer::Mat;
use faer::prelude::SolveLstsq;

use crate::Error;

/// The default ridge weight `α` (relative to unit-norm columns).
pub const DEFAULT_ALPHA: f64 = 1e-12;

/// A regression problem prepared for many fits: Θ and the targets scaled, reduced by one
/// QR factorisation.
#[derive(Clone, Debug)]
pub struct Regression {
    rows: usize,
    terms: usize,
    outputs: usize,
    alpha: f64,
    /// `‖θ_j‖₂` (0 for a zero column, which never enters a fit).
    column_norms: Vec<f64>,
    /// `‖ẏ_i‖₂` (0 for a zero target, whose coefficients are all zero).
    target_norms: Vec<f64>,
    /// The triangular factor of the scaled `[Θ | Ẏ]`, `min(rows, k + outputs) × (k + outputs)`.
    r: Mat<f64>,
}

/// The coefficients of one fit.
#[derive(Clone, Debug, PartialEq)]
pub struct Fit {
    /// `coefficients[i][j]`: the coefficient of term `j` in output `i`, in the data's units
    /// (exactly zero for a term not in the model).
    pub coefficients: Vec<Vec<f64>>,
    /// The same coefficients scaled as the threshold sees them (`ξ̃`, see the module header).
    pub scaled: Vec<Vec<f64>>,
    /// Per output, the residual sum of squares `‖Θξ_i − ẏ_i‖²` in the data's units.
    pub rss: Vec<f64>,
    /// Per output, `rss / ‖ẏ_i‖²` (0 for a zero target): the fraction of the derivative's
    /// squared norm left unexplained.
    pub relative_rss: Vec<f64>,
}

impl Fit {
    /// The number of nonzero coefficients over all outputs.
    pub fn nonzero(&self) -> usize {
        self.coefficients
            .iter()
            .flatten()
            .filter(|&&c| c != 0.0)
            .count()
    }

    /// Which coefficients are nonzero, output after output.
    pub fn support(&self) -> Vec<bool> {
        self.coefficients
            .iter()
            .flatten()
            .map(|&c| c != 0.0)
            .collect()
    }
}

impl Regression {
    /// Prepares the regression of `targets` (`rows × outputs`, row-major) on `theta`
    /// (`rows × terms`, row-major) with ridge weight `alpha`.
    ///
    /// Errors: sizes that do not match, no rows or no terms, fewer rows than terms (the
    /// problem is underdetermined), NaN or infinite values, a negative or non-finite
    /// `alpha`.
    pub fn new(
        theta: &[f64],
        rows: usize,
        targets: &[f64],
        alpha: f64,
    ) -> Result<Regression, Error> {
        if rows == 0 {
            return Err(Error::input("There are no samples to fit.")
                .with_help("give at least one row of data"));
        }
        if theta.is_empty() || !theta.len().is_multiple_of(rows) {
            return Err(Error::input(format!(
                "Θ has {} values, not a whole number of rows of {rows} samples.",
                theta.len()
            )));
        }
        if targets.is_empty() || !targets.len().is_multiple_of(rows) {
            return Err(Error::input(format!(
                "The targets have {} values, not a whole number of outputs over {rows} rows.",
                targets.len()
            )));
        }
        let terms = theta.len() / rows;
        let outputs = targets.len() / rows;
        if terms > rows {
            return Err(underdetermined(terms, rows));
        }
        if !(alpha.is_finite() && alpha >= 0.0) {
            return Err(Error::input(format!(
                "The ridge weight α = {alpha} is not a finite non-negative number."
            ))
            .with_help("use a small α such as 1e-12, or 0 for plain least squares"));
        }
        if let Some(i) = theta.iter().position(|v| !v.is_finite()) {
            return Err(Error::input(format!(
                "Θ holds {} at row {}, term {} (counted from 0).",
                theta[i],
                i / terms,
                i % terms
            )));
        }
        if let Some(i) = targets.iter().position(|v| !v.is_finite()) {
            return Err(Error::input(format!(
                "The targets hold {} at row {}, output {} (counted from 0).",
                targets[i],
                i / outputs,
                i % outputs
            )));
        }
        let column_norms: Vec<f64> = (0..terms)
            .map(|j| norm(theta.iter().skip(j).step_by(terms).copied()))
            .collect();
        let target_norms: Vec<f64> = (0..outputs)
            .map(|i| norm(targets.iter().skip(i).step_by(outputs).copied()))
            .collect();
        let scaled = Mat::from_fn(rows, terms + outputs, |r, c| {
            let (v, n) = if c < terms {
                (theta[r * terms + c], column_norms[c])
            } else {
                (targets[r * outputs + c - terms], target_norms[c - terms])
            };
            if n > 0.0 { v / n } else { 0.0 }
        });
        let r = scaled.qr().thin_R().to_owned();
        Ok(Regression {
            rows,
            terms,
            outputs,
            alpha,
            column_norms,
            target_norms,
            r,
        })
    }

    pub fn rows(&self) -> usize {
        self.rows
    }

    pub fn terms(&self) -> usize {
        self.terms
    }

    pub fn outputs(&self) -> usize {
        self.outputs
    }

    /// The least-squares fit on every (nonzero) term: STLSQ at threshold 0.
    pub fn least_squares(&self) -> Result<Fit, Error> {
        self.stlsq(0.0)
    }

    /// STLSQ at `threshold` (on the scaled coefficients, see the module header): per
    /// output, fit, set every coefficient with `|ξ̃_j| < threshold` to zero, refit on the
    /// rest, until no coefficient is dropped. The set of terms only ever shrinks, so this
    /// takes at most `terms + 1` fits per output; the result is the least-squares fit on
    /// the final set (without the ridge, see the module header).
    ///
    /// Errors: a negative or non-finite threshold; a fit that is not finite (with `α = 0`
    /// and two identical columns, say).
    pub fn stlsq(&self, threshold: f64) -> Result<Fit, Error> {
        if !(threshold.is_finite() && threshold >= 0.0) {
            return Err(Error::input(format!(
                "The threshold {threshold} is not a finite non-negative number."
            ))
            .with_help("thresholds apply to |coefficient|·‖term‖/‖derivative‖: try 0.01"));
        }
        let mut fit = Fit {
            coefficients: Vec::with_capacity(self.outputs),
            scaled: Vec::with_capacity(self.outputs),
            rss: Vec::with_capacity(self.outputs),
            relative_rss: Vec::with_capacity(self.outputs),
        };
        for i in 0..self.outputs {
            let (scaled, relative) = self.stlsq_output(i, threshold)?;
            self.push_output(&mut fit, i, scaled, relative);
        }
        Ok(fit)
    }

    /// The plain least-squares fit of every output on the terms its `supports` entry
    /// names (indices into the library; one entry per output).
    ///
    /// Errors: not one support per output, an index past the library, a singular fit
    /// (a repeated or zero column in a support).
    pub fn fit_supports(&self, supports: &[Vec<usize>]) -> Result<Fit, Error> {
        if supports.len() != self.outputs {
            return Err(Error::input(format!(
                "{} supports for {} outputs.",
                supports.len(),
                self.outputs
            )));
        }
        let mut fit = Fit {
            coefficients: Vec::with_capacity(self.outputs),
            scaled: Vec::with_capacity(self.outputs),
            rss: Vec::with_capacity(self.outputs),
            relative_rss: Vec::with_capacity(self.outputs),
        };
        for (i, support) in supports.iter().enumerate() {
            let (scaled, relative) = self.fit_output(i, support)?;
            self.push_output(&mut fit, i, scaled, relative);
        }
        Ok(fit)
    }

    /// Output `i`'s plain least-squares fit on `support`: the scaled coefficients (zero
    /// off the support) and the relative RSS.
    pub(crate) fn fit_output(&self, i: usize, support: &[usize]) -> Result<(Vec<f64>, f64), Error> {
        if let Some(&j) = support.iter().find(|&&j| j >= self.terms) {
            return Err(Error::input(format!(
                "Term {j} is past the library's {} terms.",
                self.terms
            )));
        }
        if support.iter().any(|&j| self.column_norms[j] == 0.0) {
            return Err(Error::numerical(
                "The least-squares fit is singular: a library term is zero on every sample.",
            ));
        }
        let xi = self.solve(i, support, 0.0)?;
        let mut scaled = vec![0.0; self.terms];
        for (&j, &c) in support.iter().zip(&xi) {
            scaled[j] = c;
        }
        let relative = self.relative_rss(i, &scaled);
        Ok((scaled, relative))
    }

    /// Appends output `i`'s fit (scaled coefficients, relative RSS) to `fit` in the data's
    /// units.
    fn push_output(&self, fit: &mut Fit, i: usize, scaled: Vec<f64>, relative: f64) {
        let y = self.target_norms[i];
        let coefficients = scaled
            .iter()
            .zip(&self.column_norms)
            .map(|(&c, &n)| if c == 0.0 { 0.0 } else { c * y / n })
            .collect();
        fit.coefficients.push(coefficients);
        fit.scaled.push(scaled);
        fit.rss.push(relative * y * y);
        fit.relative_rss.push(relative);
    }

    /// STLSQ for output `i`: the scaled coefficients and the relative RSS.
    fn stlsq_output(&self, i: usize, threshold: f64) -> Result<(Vec<f64>, f64), Error> {
        let mut support: Vec<usize> = if self.target_norms[i] > 0.0 {
            (0..self.terms)
                .filter(|&j| self.column_norms[j] > 0.0)
                .collect()
        } else {
            Vec::new()
        };
        // The support shrinks at every pass that does not stop, so `terms + 1` passes are
        // always enough; the bound only makes that explicit.
        for _ in 0..=self.terms {
            let xi = self.solve(i, &support, self.alpha)?;
            let kept: Vec<usize> = support
                .iter()
                .zip(&xi)
                .filter(|(_, c)| c.abs() >= threshold)
                .map(|(&j, _)| j)
                .collect();
            if kept.len() == support.len() {
                // The final refit without the ridge (PySINDy's `unbias`), so that exact data
                // give exact coefficients; the ridge's fit stays when that one is singular.
                let xi = match self.alpha > 0.0 {
                    true => self.solve(i, &support, 0.0).unwrap_or(xi),
                    false => xi,
                };
                let mut scaled = vec![0.0; self.terms];
                for (&j, &c) in support.iter().zip(&xi) {
                    scaled[j] = c;
                }
                let relative = self.relative_rss(i, &scaled);
                return Ok((scaled, relative));
            }
            support = kept;
        }
        Err(Error::numerical(
            "Thresholded least squares did not settle on a set of terms.",
        ))
    }

    /// The ridge least-squares coefficients of output `i` on the terms `support`, through
    /// `R`: `min ‖R_S ξ − r_i‖² + α‖ξ‖²`.
    fn solve(&self, i: usize, support: &[usize], alpha: f64) -> Result<Vec<f64>, Error> {
        let s = support.len();
        if s == 0 {
            return Ok(Vec::new());
        }
        let n = self.r.nrows();
        let sqrt_alpha = alpha.sqrt();
        let extra = if alpha > 0.0 { s } else { 0 };
        let a = Mat::from_fn(n + extra, s, |row, col| {
            if row < n {
                self.r[(row, support[col])]
            } else if row - n == col {
                sqrt_alpha
            } else {
                0.0
            }
        });
        let b = Mat::from_fn(n + extra, 1, |row, _| {
            if row < n {
                self.r[(row, self.terms + i)]
            } else {
                0.0
            }
        });
        let qr = a.qr();
        // Rank deficiency shows on R's diagonal; the tolerance is LAPACK's (and NumPy's
        // `lstsq`) default, the number of rows times the machine epsilon.
        let diagonal: Vec<f64> = (qr.thin_R().diagonal().column_vector().iter())
            .map(|d| d.abs())
            .collect();
        let largest = diagonal.iter().copied().fold(0.0, f64::max);
        let smallest = diagonal.iter().copied().fold(f64::INFINITY, f64::min);
        let tolerance = (n + extra) as f64 * f64::EPSILON * largest;
        let x = qr.solve_lstsq(&b);
        let xi: Vec<f64> = (0..s).map(|j| x[(j, 0)]).collect();
        if smallest > tolerance && xi.iter().all(|c| c.is_finite()) {
            Ok(xi)
        } else {
            Err(Error::numerical(
                "The least-squares fit is singular: two library terms are the same column.",
            )
            .with_help("use a ridge weight α > 0, or leave out the repeated terms"))
        }
    }

    /// `‖R ξ̃ − r_i‖²`: the scaled residual of output `i`, `‖Θ̃ξ̃ − ẏ_i/‖ẏ_i‖‖²`.
    fn relative_rss(&self, i: usize, scaled: &[f64]) -> f64 {
        (0..self.r.nrows())
            .map(|row| {
                let fitted: f64 = scaled
                    .iter()
                    .enumerate()
                    .filter(|(_, c)| **c != 0.0)
                    .map(|(j, c)| self.r[(row, j)] * c)
                    .sum();
                let e = fitted - self.r[(row, self.terms + i)];
                e * e
            })
            .sum()
    }
}

/// STLSQ in one call: [`Regression::new`] then [`Regression::stlsq`].
pub fn stlsq(
    theta: &[f64],
    rows: usize,
    targets: &[f64],
    threshold: f64,
    alpha: f64,
) -> Result<Fit, Error> {
    Regression::new(theta, rows, targets, alpha)?.stlsq(threshold)
}

/// The error for a library with more terms than samples.
pub(crate) fn underdetermined(terms: usize, rows: usize) -> Error {
    Error::input(format!(
        "The library has {terms} terms but the data only {rows} rows: the regression is \
         underdetermined."
    ))
    .with_help("use a lower degree or fewer functions, or give more samples")
}

/// The 2-norm without overflow or underflow: scaled by the largest magnitude first.
fn norm(values: impl Iterator<Item = f64> + Clone) -> f64 {
    let scale = values.clone().fold(0.0f64, |m, v| m.max(v.abs()));
    if scale == 0.0 {
        return 0.0;
    }
    scale * values.map(|v| (v / scale).powi(2)).sum::<f64>().sqrt()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ErrorKind;
    use crate::discover::tests::noise;

    /// Θ (`rows × k`) with entries in [−1, 1).
    fn random_theta(rows: usize, k: usize, seed: u64) -> Vec<f64> {
        let mut state = seed;
        (0..rows * k).map(|_| noise(&mut state)).collect()
    }

    fn multiply(theta: &[f64], k: usize, xi: &[&[f64]]) -> Vec<f64> {
        theta
            .chunks_exact(k)
            .flat_map(|row| {
                xi.iter()
                    .map(|x| row.iter().zip(*x).map(|(a, b)| a * b).sum::<f64>())
            })
            .collect()
    }

    #[test]
    fn recovers_a_known_sparse_solution_from_noisy_targets() {
        let (rows, k) = (200, 8);
        let theta = random_theta(rows, k, 7);
        let truth_a = [0.0, 2.0, 0.0, 0.0, -0.5, 0.0, 0.0, 0.0];
        let truth_b = [1.5, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 3.0];
        let mut targets = multiply(&theta, k, &[&truth_a, &truth_b]);
        let mut state = 99;
        for t in &mut targets {
            *t += 1e-3 * noise(&mut state);
        }
        let plain = stlsq(&theta, rows, &targets, 0.0, DEFAULT_ALPHA).unwrap();
        assert_eq!(plain.nonzero(), 16, "least squares keeps every term");
        let fit = stlsq(&theta, rows, &targets, 0.05, DEFAULT_ALPHA).unwrap();
        for (got, want) in fit.coefficients.iter().zip([&truth_a, &truth_b]) {
            for (g, w) in got.iter().zip(want) {
                if *w == 0.0 {
                    assert_eq!(*g, 0.0, "{got:?}");
                } else {
                    assert!((g - w).abs() < 1e-3, "{got:?}");
                }
            }
        }
        // The residual is the noise: rows · E[u²] with u uniform in ±1e-3 is 200·1e-6/3.
        for rss in &fit.rss {
            assert!(*rss > 2e-5 && *rss < 1.4e-4, "{rss}");
        }
    }

    #[test]
    fn exact_targets_give_exact_coefficients_and_zero_residual() {
        let (rows, k) = (50, 5);
        let theta = random_theta(rows, k, 3);
        let truth = [0.0, 0.0, -7.25, 0.0, 0.125];
        let targets = multiply(&theta, k, &[&truth]);
        // Term 4 carries about 0.125/7.25 ≈ 1.7 % of the target's norm.
        let fit = stlsq(&theta, rows, &targets, 0.01, 0.0).unwrap();
        for (g, w) in fit.coefficients[0].iter().zip(&truth) {
            assert!((g - w).abs() < 1e-12, "{g} vs {w}");
        }
        assert!(fit.relative_rss[0] < 1e-28, "{}", fit.relative_rss[0]);
    }

    #[test]
    fn threshold_applies_to_the_relative_contribution() {
        // y = θ0 + 0.05 θ1 with orthogonal columns of equal norm: term 1 carries
        // 0.05/√(1 + 0.05²) ≈ 0.04994 of ‖y‖ — dropped at 0.05, kept at 0.0499.
        let rows = 4;
        let theta = [1.0, 1.0, 1.0, -1.0, 1.0, 1.0, 1.0, -1.0];
        let targets: Vec<f64> = theta.chunks(2).map(|r| r[0] + 0.05 * r[1]).collect();
        let regression = Regression::new(&theta, rows, &targets, 0.0).unwrap();
        let plain = regression.least_squares().unwrap();
        let expected = 0.05 / (1.0f64 + 0.05 * 0.05).sqrt();
        assert!((plain.scaled[0][1] - expected).abs() < 1e-14);
        let kept = regression.stlsq(0.0499).unwrap();
        assert_eq!(kept.support(), [true, true]);
        let dropped = regression.stlsq(0.05).unwrap();
        assert_eq!(dropped.support(), [true, false]);
        // Refitted on the remaining term: the orthogonal column's share is gone, θ0 keeps 1.
        assert!((dropped.coefficients[0][0] - 1.0).abs() < 1e-14);
        assert!((dropped.rss[0] - 4.0 * 0.05 * 0.05).abs() < 1e-14);
    }

    #[test]
    fn column_and_target_scaling_do_not_change_the_model() {
        let (rows, k) = (120, 6);
        let theta = random_theta(rows, k, 11);
        let truth = [0.0, 1.0, 0.0, 0.02, 0.0, -4.0];
        let mut targets = multiply(&theta, k, &[&truth]);
        let mut state = 5;
        for t in &mut targets {
            *t += 1e-4 * noise(&mut state);
        }
        let base = stlsq(&theta, rows, &targets, 0.004, DEFAULT_ALPHA).unwrap();
        // Column 3 in other units (×1e6) and the target in others (×1e-3): the same terms,
        // the same scaled coefficients, the unscaled ones converted.
        let mut rescaled = theta.clone();
        for row in rescaled.chunks_exact_mut(k) {
            row[3] *= 1e6;
        }
        let small: Vec<f64> = targets.iter().map(|t| t * 1e-3).collect();
        let other = stlsq(&rescaled, rows, &small, 0.004, DEFAULT_ALPHA).unwrap();
        assert_eq!(base.support(), other.support());
        assert_eq!(base.nonzero(), 3);
        for j in 0..k {
            let (a, b) = (base.scaled[0][j], other.scaled[0][j]);
            assert!((a - b).abs() < 1e-9 * a.abs().max(1.0), "{a} vs {b}");
        }
        let c3 = other.coefficients[0][3] * 1e6 / 1e-3;
        assert!((c3 - base.coefficients[0][3]).abs() < 1e-9, "{c3}");
        assert!((base.coefficients[0][3] - 0.02).abs() < 1e-4);
    }

    #[test]
    fn zero_columns_and_zero_targets_get_zero_coefficients() {
        let rows = 10;
        let mut theta = random_theta(rows, 3, 1);
        for row in theta.chunks_exact_mut(3) {
            row[1] = 0.0;
        }
        let targets: Vec<f64> = theta
            .chunks_exact(3)
            .flat_map(|r| [2.0 * r[0] - r[2], 0.0])
            .collect();
        let fit = stlsq(&theta, rows, &targets, 0.0, 0.0).unwrap();
        assert_eq!(fit.support(), [true, false, true, false, false, false]);
        assert_eq!(fit.rss[1], 0.0);
        assert_eq!(fit.relative_rss[1], 0.0);
    }

    #[test]
    fn duplicate_columns_need_the_ridge() {
        let rows = 10;
        let mut theta = random_theta(rows, 3, 2);
        for row in theta.chunks_exact_mut(3) {
            row[2] = row[0];
        }
        let targets: Vec<f64> = theta.chunks_exact(3).map(|r| r[0] + r[1]).collect();
        // With the ridge the duplicated term is split evenly and the fit is exact.
        let fit = stlsq(&theta, rows, &targets, 0.0, DEFAULT_ALPHA).unwrap();
        let c = &fit.coefficients[0];
        assert!(
            (c[0] - 0.5).abs() < 1e-6 && (c[2] - 0.5).abs() < 1e-6,
            "{c:?}"
        );
        assert!((c[1] - 1.0).abs() < 1e-6);
        // Without it the solve is singular: an error, not a panic or a meaningless model.
        let err = stlsq(&theta, rows, &targets, 0.0, 0.0).unwrap_err();
        assert_eq!(err.kind, ErrorKind::Numerical);
        assert!(err.message.contains("singular"), "{err}");
    }

    #[test]
    fn as_many_terms_as_rows_interpolates() {
        // 3 rows, 3 terms, 2 outputs: `[Θ | Ẏ]` is wider than tall, R is 3 × 5.
        let theta = [1.0, 0.0, 0.0, 1.0, 1.0, 0.0, 1.0, 1.0, 1.0];
        let targets = [1.0, -1.0, 3.0, 0.0, 6.0, 2.0];
        let fit = stlsq(&theta, 3, &targets, 0.0, DEFAULT_ALPHA).unwrap();
        let expected = [[1.0, 2.0, 3.0], [-1.0, 1.0, 2.0]];
        for (got, want) in fit.coefficients.iter().zip(expected) {
            for (g, w) in got.iter().zip(want) {
                assert!((g - w).abs() < 1e-12, "{got:?}");
            }
        }
        assert!(fit.rss.iter().all(|r| *r < 1e-24));
    }

    #[test]
    fn bad_inputs_are_errors() {
        let theta = random_theta(4, 2, 1);
        let targets = [1.0; 4];
        assert!(Regression::new(&[], 0, &[], 0.0).is_err());
        assert!(Regression::new(&theta[..7], 4, &targets, 0.0).is_err());
        assert!(Regression::new(&theta, 4, &targets[..3], 0.0).is_err());
        let under = Regression::new(&theta, 1, &targets[..1], 0.0).unwrap_err();
        assert!(under.message.contains("underdetermined"), "{under}");
        assert!(Regression::new(&theta, 4, &targets, -1.0).is_err());
        assert!(Regression::new(&theta, 4, &targets, f64::NAN).is_err());
        let mut nan = theta.clone();
        nan[5] = f64::NAN;
        let err = Regression::new(&nan, 4, &targets, 0.0).unwrap_err();
        assert_eq!(
            err.message,
            "Θ holds NaN at row 2, term 1 (counted from 0)."
        );
        let mut inf = targets;
        inf[3] = f64::INFINITY;
        assert!(Regression::new(&theta, 4, &inf, 0.0).is_err());
        let regression = Regression::new(&theta, 4, &targets, 0.0).unwrap();
        assert!(regression.stlsq(-0.1).is_err());
        assert!(regression.stlsq(f64::NAN).is_err());
    }
}
