//! The discrete Fourier transforms of [`Op::Rfft`](crate::Op::Rfft) and
//! [`Op::Irfft`](crate::Op::Irfft): their definition as sums (the interpreter's reference),
//! and the same transforms as matrices, which is how the compiled back ends run them
//! (`sci_passes::spectral` turns each op into matrix products).
//!
//! # Conventions (numpy's)
//!
//! For a real signal `x` of `n` points, `X_k = Σ_j x_j e^{−2πi jk/n}`, unnormalised, kept
//! for `k < modes ≤ n/2 + 1`. The inverse onto `n` points from `m` frequencies is
//!
//! ```text
//! x_j = (1/n) Σ_{k<m} c_k (Re X_k cos θ_jk − Im X_k sin θ_jk),   θ_jk = 2π jk/n,
//! ```
//!
//! with `c_0 = 1`, `c_{n/2} = 1` for even `n` (the Nyquist frequency), and `c_k = 2`
//! otherwise: the frequencies above `m` are zero, and the imaginary parts of frequencies 0
//! and `n/2` drop out (their sines vanish), as in `numpy.fft.irfft(X, n)`.
//!
//! Complex values are split: a spectrum of shape `[..., m]` is stored as `[2, ..., m]`, the
//! real parts then the imaginary parts, so that every other op of the IR applies to them
//! unchanged.
//!
//! Angles are reduced exactly (`jk mod n`) before the cosine, so large `n·k` lose nothing.

/// `θ_jk = 2π (jk mod n)/n`.
pub fn angle(j: usize, k: usize, n: usize) -> f64 {
    let r = ((j as u128 * k as u128) % n as u128) as f64;
    std::f64::consts::TAU * r / n as f64
}

/// The weight `c_k / n` of frequency `k` in the inverse onto `n` points (see the module
/// header).
pub fn inverse_weight(k: usize, n: usize) -> f64 {
    let nyquist = n.is_multiple_of(2) && k == n / 2;
    let c = if k == 0 || nyquist { 1.0 } else { 2.0 };
    c / n as f64
}

/// The first `modes` frequencies of every row of `signal` (rows of `n` points, row-major):
/// `[2, rows, modes]`, real parts first.
pub fn rfft(signal: &[f64], n: usize, modes: usize) -> Vec<f64> {
    let rows = signal.len().checked_div(n).unwrap_or(0);
    let mut out = vec![0.0; 2 * rows * modes];
    let (re, im) = out.split_at_mut(rows * modes);
    for (r, x) in signal.chunks_exact(n).enumerate() {
        for k in 0..modes {
            let (mut a, mut b) = (0.0, 0.0);
            for (j, &v) in x.iter().enumerate() {
                let t = angle(j, k, n);
                a += v * t.cos();
                b -= v * t.sin();
            }
            re[r * modes + k] = a;
            im[r * modes + k] = b;
        }
    }
    out
}

/// Every row of `spectrum` (`[2, rows, m]`, real parts first) transformed back onto `n`
/// points: `[rows, n]`.
pub fn irfft(spectrum: &[f64], m: usize, n: usize) -> Vec<f64> {
    let rows = (spectrum.len() / 2).checked_div(m).unwrap_or(0);
    let (re, im) = spectrum.split_at(rows * m);
    let mut out = vec![0.0; rows * n];
    for r in 0..rows {
        for j in 0..n {
            let mut sum = 0.0;
            for k in 0..m {
                let t = angle(j, k, n);
                sum += inverse_weight(k, n) * (re[r * m + k] * t.cos() - im[r * m + k] * t.sin());
            }
            out[r * n + j] = sum;
        }
    }
    out
}

/// The matrices of [`rfft`]: `(C, S)`, each `n × modes` row-major, with
/// `Re X = x·C` and `Im X = x·S` for a row `x` (`C_jk = cos θ_jk`, `S_jk = −sin θ_jk`).
pub fn rfft_matrices(n: usize, modes: usize) -> (Vec<f64>, Vec<f64>) {
    let mut c = Vec::with_capacity(n * modes);
    let mut s = Vec::with_capacity(n * modes);
    for j in 0..n {
        for k in 0..modes {
            let t = angle(j, k, n);
            c.push(t.cos());
            s.push(-t.sin());
        }
    }
    (c, s)
}

/// The matrices of [`irfft`]: `(A, B)`, each `m × n` row-major, with
/// `x = Re X·A + Im X·B` (`A_kj = w_k cos θ_jk`, `B_kj = −w_k sin θ_jk`, `w_k` the
/// [`inverse_weight`]).
pub fn irfft_matrices(m: usize, n: usize) -> (Vec<f64>, Vec<f64>) {
    let mut a = Vec::with_capacity(m * n);
    let mut b = Vec::with_capacity(m * n);
    for k in 0..m {
        let w = inverse_weight(k, n);
        for j in 0..n {
            let t = angle(j, k, n);
            a.push(w * t.cos());
            b.push(-w * t.sin());
        }
    }
    (a, b)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// numpy.fft.rfft([1, 2, 0, -1, 3]) and numpy.fft.irfft of it with n = 5 and 6.
    #[test]
    fn sums_match_numpy() {
        let x = [1.0, 2.0, 0.0, -1.0, 3.0];
        let spectrum = rfft(&x, 5, 3);
        let want_re = [5.0, 3.3541019662496847, -3.3541019662496847];
        let want_im = [0.0, 0.3632712640026804, 1.5388417685876266];
        for k in 0..3 {
            assert!((spectrum[k] - want_re[k]).abs() < 1e-14, "{spectrum:?}");
            assert!((spectrum[3 + k] - want_im[k]).abs() < 1e-14, "{spectrum:?}");
        }
        // The round trip onto the signal's own length is exact to rounding.
        let back = irfft(&spectrum, 3, 5);
        for (b, x) in back.iter().zip(x) {
            assert!((b - x).abs() < 1e-14, "{back:?}");
        }
        // numpy.fft.irfft(numpy.fft.rfft(x), 6): onto another length.
        let six = irfft(&spectrum, 3, 6);
        let want = [
            0.8333333333333333,
            1.4022745863856738,
            1.1726913069700846,
            -1.4027346441664563,
            0.4939753596965819,
            2.5004600577807823,
        ];
        for (g, w) in six.iter().zip(want) {
            assert!((g - w).abs() < 1e-14, "{six:?}");
        }
        // numpy.fft.irfft([1+0.5j, 2-1j, 3+5j], 4): the Nyquist frequency (k = 2) counts
        // once, and the imaginary parts at 0 and 2 drop out.
        let four = irfft(&[1.0, 2.0, 3.0, 0.5, -1.0, 5.0], 3, 4);
        for (g, w) in four.iter().zip([2.0, 0.0, 0.0, -1.0]) {
            assert!((g - w).abs() < 1e-14, "{four:?}");
        }
    }

    #[test]
    fn matrices_are_the_sums() {
        let x: Vec<f64> = (0..16).map(|i| ((i * 7) % 5) as f64 - 1.5).collect();
        let (n, m) = (8, 5);
        let spectrum = rfft(&x, n, m);
        let (c, s) = rfft_matrices(n, m);
        for r in 0..2 {
            for k in 0..m {
                let re: f64 = (0..n).map(|j| x[r * n + j] * c[j * m + k]).sum();
                let im: f64 = (0..n).map(|j| x[r * n + j] * s[j * m + k]).sum();
                assert!((re - spectrum[r * m + k]).abs() < 1e-13);
                assert!((im - spectrum[2 * m + r * m + k]).abs() < 1e-13);
            }
        }
        let back = irfft(&spectrum, m, n);
        let (a, b) = irfft_matrices(m, n);
        for r in 0..2 {
            for j in 0..n {
                let v: f64 = (0..m)
                    .map(|k| {
                        spectrum[r * m + k] * a[k * n + j]
                            + spectrum[2 * m + r * m + k] * b[k * n + j]
                    })
                    .sum();
                assert!((v - back[r * n + j]).abs() < 1e-13);
                // All n/2 + 1 frequencies of a real signal give it back.
                assert!((back[r * n + j] - x[r * n + j]).abs() < 1e-13);
            }
        }
    }
}
