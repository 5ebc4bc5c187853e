//! Choosing STLSQ's threshold: sweep thresholds, keep every distinct model, score each by
//! the corrected Akaike information criterion (AICc), return the best with the Pareto front
//! of model size against residual.
//!
//! # The criterion
//!
//! ```text
//! AICc = N·ln(RSS/N) + 2k + 2k(k + 1)/(N − k − 1)
//! ```
//!
//! with `N = rows · outputs`, `k` the number of nonzero coefficients over all outputs, and
//! `RSS` the residual sum of squares of the *scaled* targets (`Σ_i ‖ẏ_i − Θξ_i‖²/‖ẏ_i‖²`,
//! see the scaling in [`mod@super::stlsq`]): a derivative in large units would otherwise decide
//! the model alone. AICc rather than AIC because `k` is not always small against `N` for
//! short series; with `N − k − 1 ≤ 0` the score is infinite.
//!
//! The RSS is floored at `outputs · floor²` ([`SelectOptions::noise_floor`]): residuals
//! smaller than that count as an exact fit. Without the floor, derivatives that carry no
//! noise but a systematic error (finite differences, interpolated solver output) let every
//! extra term fit a little of that error, the logarithm rewards it without bound, and AICc
//! picks the densest model; with it, among models that fit to within the floor the one with
//! the fewest terms wins. On noisy data the residuals lie far above the floor and it has no
//! effect.

use std::collections::HashMap;

use super::stlsq::{Fit, Regression};
use crate::Error;

/// The sweep's thresholds reach down to at least this (a term carrying 0.01 % of a
/// derivative's norm), below the least-squares fit's smallest coefficient when that is
/// larger (see [`select`]).
pub const SWEEP_LOWEST: f64 = 1e-4;

/// How the threshold is chosen.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct SelectOptions {
    /// How many thresholds to try, log-spaced between the smallest nonzero scaled
    /// coefficient of the least-squares fit (or [`SWEEP_LOWEST`], if lower) and the largest
    /// (at least 2).
    pub thresholds: usize,
    /// The relative residual (`‖ẏ − Θξ‖/‖ẏ‖` per output) below which a fit counts as exact.
    pub noise_floor: f64,
}

impl Default for SelectOptions {
    fn default() -> SelectOptions {
        SelectOptions {
            thresholds: 50,
            noise_floor: 1e-3,
        }
    }
}

/// One model of the Pareto front.
#[derive(Clone, Debug, PartialEq)]
pub struct FrontPoint {
    /// A threshold that gives this model: the geometric mean of the lowest and highest
    /// swept thresholds that gave it (the safest value to run STLSQ with again).
    pub threshold: f64,
    /// The number of nonzero coefficients over all outputs.
    pub terms: usize,
    /// The residual sum of squares over all outputs, in the data's units.
    pub rss: f64,
    /// The residual sum of squares of the scaled targets (what the criterion sees).
    pub relative_rss: f64,
    /// The model's AICc.
    pub aicc: f64,
}

/// The model chosen by the criterion and the front it was chosen from.
#[derive(Clone, Debug, PartialEq)]
pub struct Selection {
    /// The chosen model's coefficients.
    pub fit: Fit,
    /// The models no other model beats in both size and residual, by increasing number of
    /// terms (so with strictly decreasing relative RSS).
    pub front: Vec<FrontPoint>,
    /// The index of the chosen model in `front`.
    pub chosen: usize,
}

/// AICc of a model with `k` coefficients and residual `rss` over `n` observations
/// (infinite when `n ≤ k + 1`, where the correction is undefined).
pub fn aicc(n: usize, k: usize, rss: f64) -> f64 {
    if n <= k + 1 {
        return f64::INFINITY;
    }
    let (n, k) = (n as f64, k as f64);
    n * (rss / n).ln() + 2.0 * k + 2.0 * k * (k + 1.0) / (n - k - 1.0)
}

/// The Bayesian information criterion of a model with `k` coefficients and residual `rss`
/// over `n` observations: `n·ln(RSS/n) + k·ln(n)` (infinite for `n = 0`).
///
/// Where AICc aims at the model that predicts best, and lets a spurious term through
/// whenever it lowers the residual by more than a factor `e^(-2/n)`, BIC is consistent:
/// with more data it settles on the true support. That is the right aim when the
/// candidates are few and sparse and the question is which terms are there (choosing
/// among candidate equations by the data, as `sci discover` does for a trained network).
pub fn bic(n: usize, k: usize, rss: f64) -> f64 {
    if n == 0 {
        return f64::INFINITY;
    }
    let (n, k) = (n as f64, k as f64);
    n * (rss / n).ln() + k * n.ln()
}

/// The extended BIC of Chen & Chen (2008, with γ = 1) for a model whose output `i` keeps
/// `supports[i]` of a library of `library` terms: [`bic`] plus `2·Σᵢ ln C(library,
/// supports[i])`.
///
/// BIC charges a term for its coefficient only; when the terms are picked out of a large
/// library, which terms they are is information too. The extra charge is minus twice the
/// log prior of the support when every number of terms is equally likely a priori and
/// every support of a given size too: a 3-term support chosen among 23 terms costs
/// `2·ln 1771 ≈ 15` on top of its coefficients, a 1-term one `2·ln 23 ≈ 6.3`. Without
/// it, out of 64 candidates some 3-term combination of powers always mimics `x*y` along a
/// short orbit segment a little better than `x*y` itself (4 of the first 4 noise seeds of
/// Rackauckas et al.'s experiment had one within BIC's reach).
pub fn extended_bic(n: usize, supports: &[usize], library: usize, rss: f64) -> f64 {
    let k = supports.iter().sum();
    let prior: f64 = supports.iter().map(|&s| ln_binomial(library, s)).sum();
    bic(n, k, rss) + 2.0 * prior
}

/// `ln C(n, k)` (`-∞` for `k > n`), by a sum of logarithms: exact enough for libraries of
/// any size sci builds, and without a log-gamma function.
fn ln_binomial(n: usize, k: usize) -> f64 {
    if k > n {
        return f64::NEG_INFINITY;
    }
    let k = k.min(n - k);
    (1..=k).map(|j| ((n - k + j) as f64 / j as f64).ln()).sum()
}

/// Sweeps STLSQ's threshold over `regression` and returns the model with the lowest AICc
/// (ties: the fewer terms) with the Pareto front (see the module header).
///
/// Errors: fewer than two thresholds, a negative or non-finite noise floor, and the errors
/// of [`Regression::stlsq`].
pub fn select(regression: &Regression, options: &SelectOptions) -> Result<Selection, Error> {
    if options.thresholds < 2 {
        return Err(Error::input(format!(
            "The threshold sweep needs at least 2 thresholds, not {}.",
            options.thresholds
        ))
        .with_help("the default, 50, suits most problems"));
    }
    if !(options.noise_floor.is_finite() && options.noise_floor >= 0.0) {
        return Err(Error::input(format!(
            "The noise floor {} is not a finite non-negative number.",
            options.noise_floor
        ))
        .with_help("the default, 1e-3, counts a fit to 0.1 % as exact; 0 turns the floor off"));
    }
    let plain = regression.least_squares()?;
    let magnitudes = plain.scaled.iter().flatten().map(|c| c.abs());
    let smallest = magnitudes
        .clone()
        .filter(|&c| c > 0.0)
        .fold(f64::INFINITY, f64::min);
    let largest = magnitudes.fold(0.0, f64::max);
    // With nearly collinear columns (a degree-5 library along one orbit) every
    // least-squares coefficient is large, the smallest among them far above the band where
    // the true terms survive and the spurious ones do not: the sweep reaches down to
    // `SWEEP_LOWEST` whatever the fit says.
    let smallest = smallest.min(SWEEP_LOWEST);
    let thresholds: Vec<f64> = if largest > 0.0 {
        let ratio = largest / smallest;
        let last = (options.thresholds - 1) as f64;
        (0..options.thresholds)
            .map(|i| smallest * ratio.powf(i as f64 / last))
            .collect()
    } else {
        vec![0.0]
    };

    // Distinct models by support, with the range of thresholds that gave each.
    let mut models: Vec<(Fit, f64, f64)> = Vec::new();
    let mut seen: HashMap<Vec<bool>, usize> = HashMap::new();
    for &threshold in &thresholds {
        let fit = regression.stlsq(threshold)?;
        match seen.get(&fit.support()) {
            Some(&m) => models[m].2 = threshold,
            None => {
                seen.insert(fit.support(), models.len());
                models.push((fit, threshold, threshold));
            }
        }
    }

    let outputs = regression.outputs();
    let n = regression.rows() * outputs;
    let floor = outputs as f64 * options.noise_floor * options.noise_floor;
    let mut points: Vec<(FrontPoint, Fit)> = models
        .into_iter()
        .map(|(fit, lo, hi)| {
            let relative_rss: f64 = fit.relative_rss.iter().sum();
            let terms = fit.nonzero();
            let point = FrontPoint {
                threshold: (lo * hi).sqrt(),
                terms,
                rss: fit.rss.iter().sum(),
                relative_rss,
                aicc: aicc(n, terms, relative_rss.max(floor)),
            };
            (point, fit)
        })
        .collect();

    // The front: by size, then residual; a model stays only if it fits strictly better
    // than every smaller one.
    points.sort_by(|(a, _), (b, _)| {
        a.terms
            .cmp(&b.terms)
            .then(a.relative_rss.total_cmp(&b.relative_rss))
    });
    let mut front: Vec<(FrontPoint, Fit)> = Vec::new();
    for (point, fit) in points {
        if front
            .last()
            .is_none_or(|(best, _)| point.relative_rss < best.relative_rss)
        {
            front.push((point, fit));
        }
    }
    // The best score; `min_by` keeps the first of equals, which on the sorted front is the
    // model with the fewest terms. (A model off the front never scores better than the
    // one that beats it: AICc does not decrease with either size or residual.)
    let chosen = front
        .iter()
        .enumerate()
        .min_by(|(_, (a, _)), (_, (b, _))| a.aicc.total_cmp(&b.aicc))
        .map_or(0, |(i, _)| i);
    let (front, mut fits): (Vec<FrontPoint>, Vec<Fit>) = front.into_iter().unzip();
    let fit = fits.swap_remove(chosen);
    Ok(Selection { fit, front, chosen })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ErrorKind;
    use crate::discover::tests::noise;

    /// A two-output problem over 10 random terms, the truth using 4 of them at different
    /// magnitudes, with noise of relative size `level`.
    fn problem(level: f64) -> (Regression, [[f64; 10]; 2]) {
        let (rows, k) = (300, 10);
        let mut state = 17;
        let theta: Vec<f64> = (0..rows * k).map(|_| noise(&mut state)).collect();
        let mut truth = [[0.0; 10]; 2];
        truth[0][1] = 3.0;
        truth[0][6] = -0.8;
        truth[1][0] = 1.0;
        truth[1][9] = 0.3;
        let targets: Vec<f64> = theta
            .chunks_exact(k)
            .flat_map(|row| truth.map(|xi| row.iter().zip(xi).map(|(a, b)| a * b).sum::<f64>()))
            .map(|y| y + level * noise(&mut state))
            .collect();
        let regression = Regression::new(&theta, rows, &targets, 1e-12).unwrap();
        (regression, truth)
    }

    #[test]
    fn bic_formula() {
        let expected = 100.0 * (0.02f64).ln() + 3.0 * (100f64).ln();
        assert!((bic(100, 3, 2.0) - expected).abs() < 1e-12);
        assert_eq!(bic(0, 1, 1.0), f64::INFINITY);
        // BIC's penalty per term exceeds AICc's once ln(n) > 2 (n ≥ 8) and the correction
        // is small.
        assert!(bic(100, 4, 2.0) - bic(100, 3, 2.0) > aicc(100, 4, 2.0) - aicc(100, 3, 2.0));
    }

    #[test]
    fn extended_bic_charges_the_choice_of_terms() {
        assert!((ln_binomial(23, 3) - 1771f64.ln()).abs() < 1e-12);
        assert_eq!(ln_binomial(5, 0), 0.0);
        assert_eq!(ln_binomial(5, 5), 0.0);
        assert_eq!(ln_binomial(3, 4), f64::NEG_INFINITY);
        let base = bic(62, 4, 0.1);
        let expected = base + 2.0 * (23f64.ln() + 1771f64.ln());
        assert!((extended_bic(62, &[1, 3], 23, 0.1) - expected).abs() < 1e-9);
        // At the same residual, another term always costs more (up to half the library).
        for k in 0..11 {
            assert!(extended_bic(62, &[1, k + 1], 23, 0.1) > extended_bic(62, &[1, k], 23, 0.1));
        }
    }

    #[test]
    fn aicc_formula() {
        let (n, k, rss) = (100usize, 3usize, 2.0f64);
        let expected = 100.0 * (0.02f64).ln() + 6.0 + 2.0 * 3.0 * 4.0 / 96.0;
        assert!((aicc(n, k, rss) - expected).abs() < 1e-12);
        assert_eq!(aicc(5, 4, 1.0), f64::INFINITY);
        // More terms at the same residual always score worse.
        assert!(aicc(100, 4, 2.0) > aicc(100, 3, 2.0));
    }

    #[test]
    fn noisy_data_keeps_the_true_terms() {
        let (regression, truth) = problem(0.01);
        let selection = select(&regression, &SelectOptions::default()).unwrap();
        // AIC's penalty of 2 per term lets through a noise term whose fit improves the
        // log-likelihood by more than 1 (about one in six, for Gaussian noise): the chosen
        // model holds every true term, and any extra one carries a tiny share.
        for (i, (got, want)) in selection.fit.coefficients.iter().zip(truth).enumerate() {
            for (j, (g, w)) in got.iter().zip(want).enumerate() {
                if w == 0.0 {
                    assert!(selection.fit.scaled[i][j].abs() < 0.01, "{got:?}");
                } else {
                    assert!((g - w).abs() < 0.01, "{got:?}");
                }
            }
        }
        // The exact support is on the front, its coefficients within 1 %.
        let four = selection.front.iter().find(|p| p.terms == 4).unwrap();
        let fit = regression.stlsq(four.threshold).unwrap();
        for (got, want) in fit.coefficients.iter().zip(truth) {
            for (g, w) in got.iter().zip(want) {
                assert_eq!(*g == 0.0, w == 0.0, "{got:?}");
                assert!((g - w).abs() <= 0.01 * w.abs(), "{got:?}");
            }
        }
        // Rerunning STLSQ at the reported threshold gives the chosen model again.
        let chosen = &selection.front[selection.chosen];
        assert_eq!(regression.stlsq(chosen.threshold).unwrap(), selection.fit);
    }

    #[test]
    fn aicc_is_minimal_at_the_chosen_model_and_grows_with_terms_at_equal_fit() {
        let (regression, _) = problem(0.01);
        let selection = select(&regression, &SelectOptions::default()).unwrap();
        let best = selection.front[selection.chosen].aicc;
        assert!(selection.front.iter().all(|p| p.aicc >= best));
        for p in &selection.front {
            let n = regression.rows() * regression.outputs();
            assert_eq!(p.aicc, aicc(n, p.terms, p.relative_rss.max(2e-6)));
        }
    }

    #[test]
    fn the_front_is_monotone() {
        for level in [0.0, 0.01, 0.3] {
            let (regression, _) = problem(level);
            let selection = select(&regression, &SelectOptions::default()).unwrap();
            let front = &selection.front;
            for pair in front.windows(2) {
                assert!(pair[1].terms > pair[0].terms, "{front:#?}");
                assert!(pair[1].relative_rss < pair[0].relative_rss, "{front:#?}");
            }
            // With noise, the full least-squares model fits best: the front's last point.
            // (Exact targets leave only rounding behind the true model's, which the full
            // model need not beat.)
            if level > 0.0 {
                assert!(front.len() >= 3, "{front:#?}");
                assert_eq!(front.last().unwrap().terms, 20);
            }
        }
    }

    #[test]
    fn the_floor_keeps_exact_data_from_overfitting() {
        let (regression, _) = problem(0.0);
        let with_floor = select(&regression, &SelectOptions::default()).unwrap();
        assert_eq!(with_floor.front[with_floor.chosen].terms, 4);
        // With exact targets every model's residual is rounding; whatever the unfloored
        // criterion picks, the floored one picks the fewest terms that fit.
        let without = SelectOptions {
            noise_floor: 0.0,
            ..SelectOptions::default()
        };
        let bare = select(&regression, &without).unwrap();
        assert!(bare.front[bare.chosen].terms >= 4);
    }

    #[test]
    fn zero_targets_give_the_empty_model() {
        let theta = [1.0, 2.0, 3.0, 4.0, 5.0, 7.0];
        let regression = Regression::new(&theta, 3, &[0.0; 3], 0.0).unwrap();
        let selection = select(&regression, &SelectOptions::default()).unwrap();
        assert_eq!(selection.front.len(), 1);
        assert_eq!(selection.fit.nonzero(), 0);
    }

    #[test]
    fn bad_options_are_errors() {
        let (regression, _) = problem(0.01);
        for options in [
            SelectOptions {
                thresholds: 1,
                ..SelectOptions::default()
            },
            SelectOptions {
                noise_floor: -1.0,
                ..SelectOptions::default()
            },
            SelectOptions {
                noise_floor: f64::NAN,
                ..SelectOptions::default()
            },
        ] {
            let err = select(&regression, &options).unwrap_err();
            assert_eq!(err.kind, ErrorKind::Input);
        }
    }
}
