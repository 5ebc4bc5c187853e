//! The discrete Fourier transforms of [`Op::Rfft`](crate::Op::Rfft) and
//! [`Op::Irfft`](crate::Op::Irfft), and their 2-D forms [`Op::Rfft2`](crate::Op::Rfft2) and
//! [`Op::Irfft2`](crate::Op::Irfft2): their definition as sums (the interpreter's reference),
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

/// The frequency of row `r` of a 2-D spectrum that keeps `m1` rows at each end of `n1`:
/// `r` for `r < m1`, else the negative frequency `n1 − 2·m1 + r` (numpy's order).
pub fn row_frequency(r: usize, m1: usize, n1: usize) -> usize {
    if r < m1 { r } else { n1 + r - 2 * m1 }
}

/// The 2-D transform of [`Op::Rfft2`](crate::Op::Rfft2) of every `n1 × n2` signal of
/// `signal` (row-major): `[2, signals, 2·m1, m2]`, real parts first, by its defining sum
/// `X_k = Σ_j x_j e^{−iθ}`, `θ = 2π (j1 k1/n1 + j2 k2/n2)`.
pub fn rfft2(signal: &[f64], [n1, n2]: [usize; 2], [m1, m2]: [usize; 2]) -> Vec<f64> {
    let per = n1 * n2;
    let signals = signal.len().checked_div(per).unwrap_or(0);
    let rows = 2 * m1;
    let mut out = vec![0.0; 2 * signals * rows * m2];
    let (re, im) = out.split_at_mut(signals * rows * m2);
    for (p, x) in signal.chunks_exact(per).enumerate() {
        for r in 0..rows {
            let k1 = row_frequency(r, m1, n1);
            for k2 in 0..m2 {
                let (mut a, mut b) = (0.0, 0.0);
                for j1 in 0..n1 {
                    for j2 in 0..n2 {
                        let t = angle2([j1, j2], [k1, k2], [n1, n2]);
                        let v = x[j1 * n2 + j2];
                        a += v * t.cos();
                        b -= v * t.sin();
                    }
                }
                let at = (p * rows + r) * m2 + k2;
                re[at] = a;
                im[at] = b;
            }
        }
    }
    out
}

/// The inverse of [`rfft2`] onto `n1 × n2` points: `x_j = Σ_k w_{k2} (Re X_k cos θ − Im X_k
/// sin θ)` with `w_{k2}` = [`inverse_weight`]`(k2, n2)/n1` — numpy's `irfft2` of the
/// spectrum with zeros at the frequencies not kept (its last axis's real transform ignores
/// the imaginary parts of frequencies 0 and `n2/2`, which the sines make vanish here).
pub fn irfft2(spectrum: &[f64], [rows, m2]: [usize; 2], [n1, n2]: [usize; 2]) -> Vec<f64> {
    let per = rows * m2;
    let signals = (spectrum.len() / 2).checked_div(per).unwrap_or(0);
    let (re, im) = spectrum.split_at(signals * per);
    let m1 = rows / 2;
    let mut out = vec![0.0; signals * n1 * n2];
    for p in 0..signals {
        for j1 in 0..n1 {
            for j2 in 0..n2 {
                let mut sum = 0.0;
                for r in 0..rows {
                    let k1 = row_frequency(r, m1, n1);
                    for k2 in 0..m2 {
                        let t = angle2([j1, j2], [k1, k2], [n1, n2]);
                        let at = (p * rows + r) * m2 + k2;
                        let w = inverse_weight(k2, n2) / n1 as f64;
                        sum += w * (re[at] * t.cos() - im[at] * t.sin());
                    }
                }
                out[(p * n1 + j1) * n2 + j2] = sum;
            }
        }
    }
    out
}

/// `θ = 2π (j1 k1/n1 + j2 k2/n2)`, each term reduced exactly, the sum reduced once more.
fn angle2([j1, j2]: [usize; 2], [k1, k2]: [usize; 2], [n1, n2]: [usize; 2]) -> f64 {
    let a = ((j1 as u128 * k1 as u128) % n1 as u128) as f64 / n1 as f64;
    let b = ((j2 as u128 * k2 as u128) % n2 as u128) as f64 / n2 as f64;
    let turns = a + b;
    std::f64::consts::TAU * if turns >= 1.0 { turns - 1.0 } else { turns }
}

/// The matrices of the first axis's transform in [`rfft2`] and [`irfft2`] (how
/// `sci_passes::spectral` expands them): `(C, S)`, each `2·m1 × n1` row-major, with
/// `C_rj = cos θ`, `S_rj = sin θ`, `θ = 2π j k1(r)/n1` ([`row_frequency`]).
pub fn row_matrices(n1: usize, m1: usize) -> (Vec<f64>, Vec<f64>) {
    let rows = 2 * m1;
    let mut c = Vec::with_capacity(rows * n1);
    let mut s = Vec::with_capacity(rows * n1);
    for r in 0..rows {
        let k1 = row_frequency(r, m1, n1);
        for j in 0..n1 {
            let t = angle(j, k1, n1);
            c.push(t.cos());
            s.push(t.sin());
        }
    }
    (c, s)
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

    /// numpy.fft.rfft2 of a 4 × 5 signal, the rows of frequencies 0 and −1 (one kept at each
    /// end) and columns 0..2; the round trip when every frequency is kept; numpy.fft.irfft2
    /// of a spectrum that is not a real signal's (the imaginary parts at column 0 count
    /// through the first axis's complex transform, as in numpy).
    #[test]
    fn two_dimensional_sums_match_numpy() {
        let x: Vec<f64> = (0..20).map(|i| ((i * 7) % 11) as f64 - 4.0).collect();
        let spectrum = rfft2(&x, [4, 5], [1, 2]);
        // np.fft.rfft2(x)[[0, 3], :2]
        let want_re = [18.0, -9.5, 2.0, -5.5];
        let want_im = [0.0, 3.718469352603707, 2.0, 2.80238997221936];
        for k in 0..4 {
            assert!((spectrum[k] - want_re[k]).abs() < 1e-12, "{spectrum:?}");
            assert!((spectrum[4 + k] - want_im[k]).abs() < 1e-12, "{spectrum:?}");
        }
        // All frequencies: rows 0, 1 | 2, 3 of 4 (two at each end), columns 0..=2 of 5.
        let full = rfft2(&x, [4, 5], [2, 3]);
        let back = irfft2(&full, [4, 3], [4, 5]);
        for (b, v) in back.iter().zip(&x) {
            assert!((b - v).abs() < 1e-12, "{back:?}");
        }
        // Y[0, 0] = 1+0.5i, Y[0, 1] = 2−i, Y[3, 0] = −0.5+2i, Y[3, 1] = 0.25+0.75i.
        let y = [1.0, 2.0, -0.5, 0.25, 0.5, -1.0, 2.0, 0.75];
        let got = irfft2(&y, [2, 2], [4, 5]);
        let want = [
            0.25,
            0.11830523664174203,
            -0.14233419242705134,
            -0.17172345504167502,
            0.07075241082698434,
            0.42500000000000004,
            0.3538617379900048,
            0.0009934830834485765,
            -0.1459528299896697,
            0.1160976089162164,
            0.25,
            0.2955128643672677,
            0.036284445135566994,
            -0.1694403931667986,
            -0.037356916336036064,
            0.07500000000000001,
            0.05995636301900495,
            -0.10704323037493296,
            -0.19521101821880393,
            -0.08270211442526809,
        ];
        for (g, w) in got.iter().zip(want) {
            assert!((g - w).abs() < 1e-14, "{got:?}");
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
