//! Time derivatives of sampled series, for discovering equations from data alone: finite
//! differences for smooth data, Savitzky–Golay (local least-squares polynomials) for noisy
//! data. Both work on any strictly increasing times, uniform or not.
//!
//! Finite differences take five-point stencils, centred inside and shifted to one side at
//! the two first and two last samples, with weights from Fornberg's algorithm for the
//! actual times: fourth order everywhere, on uniform and non-uniform grids alike (on a
//! uniform grid they are the textbook `(f₋₂ − 8f₋₁ + 8f₁ − f₂)/12h` inside and
//! `(−25f₀ + 48f₁ − 36f₂ + 16f₃ − 3f₄)/12h` at the ends). Series of 2 to 4 samples use every
//! sample (order one less than their length).

use faer::Mat;
use faer::prelude::SolveLstsq;

use crate::Error;

/// The five-point stencil of the finite differences.
const STENCIL: usize = 5;

/// `d/dt` of every column of `data` (`t.len() × columns`, row-major) by fourth-order finite
/// differences (see the module header); the result has the same layout.
///
/// Errors: fewer than 2 samples, times not finite and strictly increasing, `data` of the
/// wrong length, NaN or infinite data (named by row and column).
pub fn finite_difference(t: &[f64], data: &[f64], columns: usize) -> Result<Vec<f64>, Error> {
    check(t, data, columns)?;
    let n = t.len();
    let width = STENCIL.min(n);
    let mut out = vec![0.0; data.len()];
    for i in 0..n {
        let lo = i.saturating_sub(width / 2).min(n - width);
        let weights = fornberg_first_derivative(t[i], &t[lo..lo + width]);
        for c in 0..columns {
            out[i * columns + c] = weights
                .iter()
                .enumerate()
                .map(|(j, w)| w * data[(lo + j) * columns + c])
                .sum();
        }
    }
    Ok(out)
}

/// `d/dt` of every column of `data` (`t.len() × columns`, row-major) by Savitzky–Golay
/// filtering: at each sample, the least-squares polynomial of degree `order` through the
/// `window` samples around it (centred; shifted inwards near the ends, so every sample has
/// a full window), differentiated there. Smooths noise at the price of bias on features
/// narrower than the window; exact for polynomials of degree up to `order`.
///
/// Errors: those of [`finite_difference`], an even `window`, `order` 0 (a constant has no
/// slope), a window not longer than `order` (the fit would interpolate, not smooth) or
/// longer than the series.
pub fn savitzky_golay(
    t: &[f64],
    data: &[f64],
    columns: usize,
    window: usize,
    order: usize,
) -> Result<Vec<f64>, Error> {
    check(t, data, columns)?;
    let n = t.len();
    if order == 0 {
        return Err(Error::input(
            "A Savitzky–Golay derivative needs a polynomial order of at least 1.",
        )
        .with_help("order 2 or 3 suits most data"));
    }
    if window.is_multiple_of(2) || window <= order || window > n {
        return Err(Error::input(format!(
            "The Savitzky–Golay window of {window} samples must be odd, longer than the \
             polynomial order ({order}) and no longer than the series ({n} samples)."
        ))
        .with_help("e.g. a window of 2·order + 1 samples or more, odd"));
    }
    let mut out = vec![0.0; data.len()];
    for i in 0..n {
        let lo = i.saturating_sub(window / 2).min(n - window);
        let times = &t[lo..lo + window];
        // Offsets scaled to [−1, 1] keep the Vandermonde matrix well-conditioned.
        let scale = times.iter().map(|&s| (s - t[i]).abs()).fold(0.0, f64::max);
        let v = Mat::from_fn(window, order + 1, |r, p| {
            power((times[r] - t[i]) / scale, p)
        });
        let y = Mat::from_fn(window, columns, |r, c| data[(lo + r) * columns + c]);
        // The polynomial's linear coefficient is its slope at t[i] (in scaled time).
        let coefficients = v.qr().solve_lstsq(&y);
        for c in 0..columns {
            out[i * columns + c] = coefficients[(1, c)] / scale;
        }
    }
    Ok(out)
}

fn power(x: f64, p: usize) -> f64 {
    (0..p).fold(1.0, |acc, _| acc * x)
}

/// The weights of the first derivative at `at` from values at `nodes` (distinct), by
/// Fornberg's recursion ("Generation of finite difference formulas on arbitrarily spaced
/// grids", Math. Comp. 1988): stable for any spacing, exact for polynomials of degree
/// below `nodes.len()`.
fn fornberg_first_derivative(at: f64, nodes: &[f64]) -> Vec<f64> {
    let n = nodes.len();
    // c[j][d]: the weight of node j in derivative d (0 or 1) over the nodes seen so far.
    let mut c = vec![[0.0f64; 2]; n];
    c[0][0] = 1.0;
    let mut c1 = 1.0;
    let mut c4 = nodes[0] - at;
    for i in 1..n {
        let mut c2 = 1.0;
        let c5 = c4;
        c4 = nodes[i] - at;
        for j in 0..i {
            let c3 = nodes[i] - nodes[j];
            c2 *= c3;
            if j == i - 1 {
                c[i][1] = c1 * (c[i - 1][0] - c5 * c[i - 1][1]) / c2;
                c[i][0] = -c1 * c5 * c[i - 1][0] / c2;
            }
            c[j][1] = (c4 * c[j][1] - c[j][0]) / c3;
            c[j][0] = c4 * c[j][0] / c3;
        }
        c1 = c2;
    }
    c.iter().map(|w| w[1]).collect()
}

/// The checks both methods share.
fn check(t: &[f64], data: &[f64], columns: usize) -> Result<(), Error> {
    let n = t.len();
    if n < 2 {
        return Err(
            Error::input(format!("A derivative needs at least 2 samples, not {n}."))
                .with_help("give a longer time series"),
        );
    }
    if columns == 0 || n.checked_mul(columns) != Some(data.len()) {
        return Err(Error::input(format!(
            "The data has {} values, not {n} rows (one per time) of {columns} columns.",
            data.len()
        ))
        .with_help("give one row of data per sample time"));
    }
    if let Some(i) = t.iter().position(|s| !s.is_finite()) {
        return Err(Error::input(format!(
            "The time at row {i} is {} (rows counted from 0).",
            t[i]
        )));
    }
    if let Some(i) = t.windows(2).position(|w| w[1] <= w[0]) {
        return Err(Error::input(format!(
            "The times must increase strictly, but row {} has t = {} after t = {} \
             (rows counted from 0).",
            i + 1,
            t[i + 1],
            t[i]
        ))
        .with_help("sort the samples by time and remove repeated times"));
    }
    if let Some(i) = data.iter().position(|v| !v.is_finite()) {
        return Err(Error::input(format!(
            "The data holds {} at row {}, column {} (counted from 0).",
            data[i],
            i / columns,
            i % columns
        )));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ErrorKind;

    fn uniform(n: usize, h: f64) -> Vec<f64> {
        (0..n).map(|i| i as f64 * h).collect()
    }

    /// The largest error of the finite-difference derivative of `sin` on `t`.
    fn sin_error(t: &[f64]) -> f64 {
        let data: Vec<f64> = t.iter().map(|s| s.sin()).collect();
        let d = finite_difference(t, &data, 1).unwrap();
        d.iter()
            .zip(t)
            .map(|(d, s)| (d - s.cos()).abs())
            .fold(0.0, f64::max)
    }

    #[test]
    fn uniform_weights_are_the_textbook_ones() {
        let t = uniform(5, 0.5);
        let centre = fornberg_first_derivative(1.0, &t);
        let expected = [1.0, -8.0, 0.0, 8.0, -1.0].map(|w: f64| w / 6.0);
        let end = fornberg_first_derivative(0.0, &t);
        let expected_end = [-25.0, 48.0, -36.0, 16.0, -3.0].map(|w: f64| w / 6.0);
        for (got, want) in centre
            .iter()
            .chain(&end)
            .zip(expected.iter().chain(&expected_end))
        {
            assert!((got - want).abs() < 1e-12, "{centre:?} {end:?}");
        }
    }

    #[test]
    fn exact_on_quartics_uniform_or_not() {
        let grids = [
            uniform(9, 0.3),
            vec![0.0, 0.1, 0.35, 0.4, 0.9, 1.0, 1.7, 2.0, 2.05],
        ];
        for t in grids {
            // Two columns: a quartic and a line.
            let data: Vec<f64> = t
                .iter()
                .flat_map(|&s| [s.powi(4) - 2.0 * s * s + 3.0, 5.0 - 2.0 * s])
                .collect();
            let d = finite_difference(&t, &data, 2).unwrap();
            for (row, &s) in d.chunks(2).zip(&t) {
                let want = 4.0 * s.powi(3) - 4.0 * s;
                assert!((row[0] - want).abs() < 1e-9, "{} vs {want} at {s}", row[0]);
                assert!((row[1] + 2.0).abs() < 1e-11);
            }
        }
    }

    #[test]
    fn fourth_order_convergence_uniform_and_not() {
        // Halving the spacing divides the error by about 2⁴ = 16, ends included.
        let e1 = sin_error(&uniform(41, 0.1));
        let e2 = sin_error(&uniform(81, 0.05));
        assert!(e1 / e2 > 13.0 && e1 / e2 < 20.0, "{e1} {e2}");
        // A smoothly stretched grid t = τ + 0.3τ² (spacing varying by a factor 2.2).
        let stretched = |n: usize| -> Vec<f64> {
            (0..n)
                .map(|i| {
                    let tau = 4.0 * i as f64 / (n - 1) as f64;
                    tau + 0.3 * tau * tau
                })
                .collect()
        };
        let e1 = sin_error(&stretched(161));
        let e2 = sin_error(&stretched(321));
        assert!(e1 / e2 > 13.0 && e1 / e2 < 20.0, "{e1} {e2}");
    }

    #[test]
    fn short_series_use_every_sample() {
        let t = [0.0, 1.0];
        let d = finite_difference(&t, &[1.0, 3.0], 1).unwrap();
        assert_eq!(d, [2.0, 2.0]);
        let t = [0.0, 1.0, 3.0];
        let data: Vec<f64> = t.iter().map(|s| s * s).collect();
        let d = finite_difference(&t, &data, 1).unwrap();
        for (d, s) in d.iter().zip(t) {
            assert!((d - 2.0 * s).abs() < 1e-12);
        }
    }

    #[test]
    fn savitzky_golay_is_exact_on_its_polynomials_and_smooths_noise() {
        let t = uniform(30, 0.1);
        let data: Vec<f64> = t.iter().map(|s| 1.0 - s + 0.5 * s.powi(3)).collect();
        let d = savitzky_golay(&t, &data, 1, 7, 3).unwrap();
        for (d, s) in d.iter().zip(&t) {
            assert!((d - (1.5 * s * s - 1.0)).abs() < 1e-10, "{d} at {s}");
        }

        // sin with ±1e-3 noise: finite differences amplify the noise by ~1/h, the local
        // quadratic fits average it out.
        let t = uniform(400, 0.01);
        let mut state: u64 = 42;
        let data: Vec<f64> = t
            .iter()
            .map(|s| {
                state = state
                    .wrapping_mul(6364136223846793005)
                    .wrapping_add(1442695040888963407);
                s.sin() + 1e-3 * ((state >> 11) as f64 / (1u64 << 52) as f64 - 1.0)
            })
            .collect();
        let rms = |d: &[f64]| {
            let sum: f64 = d.iter().zip(&t).map(|(d, s)| (d - s.cos()).powi(2)).sum();
            (sum / d.len() as f64).sqrt()
        };
        let fd = rms(&finite_difference(&t, &data, 1).unwrap());
        let sg = rms(&savitzky_golay(&t, &data, 1, 41, 2).unwrap());
        assert!(sg < 0.1 * fd, "{sg} vs {fd}");
        assert!(sg < 0.02, "{sg}");
    }

    #[test]
    fn bad_inputs_are_errors() {
        let t = uniform(10, 0.1);
        let data = vec![1.0; 10];
        let cases = [
            finite_difference(&[0.0], &[1.0], 1),
            finite_difference(&t, &data[..9], 1),
            finite_difference(&t, &data, 0),
            finite_difference(&[0.0, 1.0, 1.0], &[1.0; 3], 1),
            finite_difference(&[0.0, f64::NAN], &[1.0; 2], 1),
            savitzky_golay(&t, &data, 1, 4, 2),
            savitzky_golay(&t, &data, 1, 3, 3),
            savitzky_golay(&t, &data, 1, 11, 2),
            savitzky_golay(&t, &data, 1, 5, 0),
        ];
        for case in cases {
            assert_eq!(case.unwrap_err().kind, ErrorKind::Input);
        }
        let mut nan = vec![1.0; 20];
        nan[7] = f64::NAN;
        let err = finite_difference(&t, &nan, 2).unwrap_err();
        assert_eq!(
            err.message,
            "The data holds NaN at row 3, column 1 (counted from 0)."
        );
        let err = finite_difference(&[0.0, 2.0, 1.0], &[1.0; 3], 1).unwrap_err();
        assert!(err.message.contains("row 2 has t = 1 after t = 2"), "{err}");
    }
}
