//! Sums over a state vector that give the same bits on any number of threads: inner
//! products `⟨a|b⟩` and matrix elements `⟨λ|D|ψ⟩` of a one- or two-qubit matrix `D`.
//!
//! Every sum is cut into units fixed by the state's length alone ([`unit_len`]); each unit
//! is summed in index order (on whichever thread), and the units' partial sums are then
//! added in order on the calling thread. The partial sums live in a buffer the caller
//! keeps, so a reduction allocates nothing once the buffer has grown.
//!
//! The adjoint gradient needs `⟨λ|∂U/∂θ|ψ⟩` for every parameter. Computing it directly
//! from the two vectors reads each once and needs no third vector for `∂U/∂θ|ψ⟩`.

use num_complex::Complex64 as C;
use rayon::prelude::*;

use super::layout::{PARALLEL_MIN, insert_zero, unit_len};
use super::matrices::{Mat2, Mat4, exchange_qubits};

const ZERO: C = C::new(0.0, 0.0);

/// `Σ_g f(g0, g1)` over the groups `0..len/per_group`, cut into the fixed units of a state
/// of `len` amplitudes (`per_group` amplitudes per group: 1, 2 for pairs, 4 for
/// quadruples); `f` sums the groups `g0..g1` in order.
pub fn sum_units<F>(len: usize, per_group: usize, partials: &mut Vec<C>, f: F) -> C
where
    F: Fn(usize, usize) -> C + Sync,
{
    let unit = unit_len(len);
    let groups = unit / per_group;
    partials.clear();
    partials.resize(len / unit, ZERO);
    let fill = |(u, out): (usize, &mut C)| *out = f(u * groups, (u + 1) * groups);
    if len < PARALLEL_MIN {
        partials.iter_mut().enumerate().for_each(fill);
    } else {
        partials.par_iter_mut().enumerate().for_each(fill);
    }
    partials.iter().fold(ZERO, |acc, &p| acc + p)
}

/// `⟨a|b⟩ = Σ conj(a_i)·b_i`.
pub fn dot(a: &[C], b: &[C], partials: &mut Vec<C>) -> C {
    sum_units(a.len(), 1, partials, |g0, g1| {
        a[g0..g1]
            .iter()
            .zip(&b[g0..g1])
            .fold(ZERO, |acc, (x, y)| acc + x.conj() * y)
    })
}

/// `⟨λ|D|ψ⟩` for a 2×2 `d` on `qubit`.
pub fn matrix_element_single(
    lam: &[C],
    psi: &[C],
    qubit: usize,
    d: &Mat2,
    partials: &mut Vec<C>,
) -> C {
    let s = 1usize << qubit;
    let pair = |l0: C, l1: C, p0: C, p1: C| {
        l0.conj() * (d[0][0] * p0 + d[0][1] * p1) + l1.conj() * (d[1][0] * p0 + d[1][1] * p1)
    };
    sum_units(psi.len(), 2, partials, |g0, g1| {
        let mut acc = ZERO;
        if s == 1 {
            // Neighbouring pairs: one loop over the whole range.
            let (lp, _) = lam[2 * g0..2 * g1].as_chunks::<2>();
            let (pp, _) = psi[2 * g0..2 * g1].as_chunks::<2>();
            for ([l0, l1], [p0, p1]) in lp.iter().zip(pp) {
                acc += pair(*l0, *l1, *p0, *p1);
            }
            return acc;
        }
        let mut g = g0;
        while g < g1 {
            // The pairs from `g` to the end of its block are contiguous.
            let run = (s - (g & (s - 1))).min(g1 - g);
            let base = insert_zero(g, qubit);
            let (l0, l1) = (&lam[base..base + run], &lam[base + s..base + s + run]);
            let (p0, p1) = (&psi[base..base + run], &psi[base + s..base + s + run]);
            for (((a, b), c), e) in l0.iter().zip(l1).zip(p0).zip(p1) {
                acc += pair(*a, *b, *c, *e);
            }
            g += run;
        }
        acc
    })
}

/// `⟨λ|D|ψ⟩` for a 4×4 `d` on `qubits`, indexed by `2·bit(qubits[0]) + bit(qubits[1])`.
pub fn matrix_element_two(
    lam: &[C],
    psi: &[C],
    qubits: [usize; 2],
    d: &Mat4,
    partials: &mut Vec<C>,
) -> C {
    let [a, b] = qubits;
    // Quadruples are visited by (higher bit, lower bit).
    let d = if a > b { *d } else { exchange_qubits(d) };
    let (lo, hi) = (a.min(b), a.max(b));
    let (sl, sh) = (1usize << lo, 1usize << hi);
    sum_units(psi.len(), 4, partials, |g0, g1| {
        let mut acc = ZERO;
        let mut g = g0;
        while g < g1 {
            let run = (sl - (g & (sl - 1))).min(g1 - g);
            let base = insert_zero(insert_zero(g, lo), hi);
            let offsets = [base, base + sl, base + sh, base + sh + sl];
            let l = offsets.map(|o| &lam[o..o + run]);
            let p = offsets.map(|o| &psi[o..o + run]);
            for k in 0..run {
                let v = [p[0][k], p[1][k], p[2][k], p[3][k]];
                for (r, row) in d.iter().enumerate() {
                    let dv = row[0] * v[0] + row[1] * v[1] + row[2] * v[2] + row[3] * v[3];
                    acc += l[r][k].conj() * dv;
                }
            }
            g += run;
        }
        acc
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn state(n: usize, seed: u64) -> Vec<C> {
        // A cheap deterministic pseudo-random state.
        let mut x = seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1;
        (0..1usize << n)
            .map(|_| {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                let re = (x >> 11) as f64 / (1u64 << 53) as f64 - 0.5;
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                let im = (x >> 11) as f64 / (1u64 << 53) as f64 - 0.5;
                C::new(re, im)
            })
            .collect()
    }

    /// The matrix elements against a plain loop over all index pairs, on states large
    /// enough to be split into several units, for low and high qubits.
    #[test]
    fn matrix_elements_match_a_plain_loop() {
        let n = 15;
        let (lam, psi) = (state(n, 1), state(n, 2));
        let mut partials = Vec::new();
        let d2: Mat2 = [
            [C::new(0.3, 0.1), C::new(-0.2, 0.5)],
            [C::new(0.7, -0.4), C::new(0.1, 0.9)],
        ];
        for q in [0, 1, 5, 11, 12, 14] {
            let got = matrix_element_single(&lam, &psi, q, &d2, &mut partials);
            let mut want = ZERO;
            for i in (0..1usize << n).filter(|i| i & (1 << q) == 0) {
                let j = i | 1 << q;
                want += lam[i].conj() * (d2[0][0] * psi[i] + d2[0][1] * psi[j]);
                want += lam[j].conj() * (d2[1][0] * psi[i] + d2[1][1] * psi[j]);
            }
            assert!((got - want).norm() < 1e-9, "qubit {q}: {got} vs {want}");
        }
        let mut d4 = [[ZERO; 4]; 4];
        for (r, row) in d4.iter_mut().enumerate() {
            for (c, x) in row.iter_mut().enumerate() {
                *x = C::new((r * 4 + c) as f64 * 0.1 - 0.7, (r as f64 - c as f64) * 0.2);
            }
        }
        for (a, b) in [(0, 1), (1, 0), (0, 14), (14, 0), (3, 12), (13, 12), (11, 2)] {
            let got = matrix_element_two(&lam, &psi, [a, b], &d4, &mut partials);
            let mut want = ZERO;
            for i in (0..1usize << n).filter(|i| i & (1 << a | 1 << b) == 0) {
                let idx = [i, i | 1 << b, i | 1 << a, i | 1 << a | 1 << b];
                for r in 0..4 {
                    for c in 0..4 {
                        want += lam[idx[r]].conj() * d4[r][c] * psi[idx[c]];
                    }
                }
            }
            assert!(
                (got - want).norm() < 1e-9,
                "qubits ({a}, {b}): {got} vs {want}"
            );
        }
    }
}
