//! Sums over a state vector that give the same bits on any number of threads.
//!
//! A sum over `0..len` is halved until the pieces have [`UNIT`] terms or fewer; each piece
//! is summed in index order, and the halves' sums are added as the recursion returns, on
//! whichever threads `rayon::join` puts them. The tree of additions depends on `len` alone,
//! so one thread and many give the same bits, and nothing is allocated for partial sums.

use num_complex::Complex64 as C;

use super::layout::{PARALLEL_MIN, UNIT};

const ZERO: C = C::new(0.0, 0.0);

/// `Σ f(g0, g1)` over pieces `g0..g1` that cover `0..len`, where `f` sums its piece in
/// order.
pub fn sum_over<F>(len: usize, f: &F) -> C
where
    F: Fn(usize, usize) -> C + Sync,
{
    sum_range(0, len, len >= PARALLEL_MIN, f)
}

fn sum_range<F>(start: usize, end: usize, parallel: bool, f: &F) -> C
where
    F: Fn(usize, usize) -> C + Sync,
{
    if end - start <= UNIT {
        return f(start, end);
    }
    let mid = start + (end - start) / 2;
    let (a, b) = if parallel {
        rayon::join(
            || sum_range(start, mid, parallel, f),
            || sum_range(mid, end, parallel, f),
        )
    } else {
        (
            sum_range(start, mid, parallel, f),
            sum_range(mid, end, parallel, f),
        )
    };
    a + b
}

/// `Σ_{k < n} term(k)` in four interleaved accumulators: term `k` goes to accumulator
/// `k mod 4`, so consecutive additions do not wait on each other (a single running sum is
/// bound by the latency of floating-point addition, several times slower than the loads).
/// The grouping is fixed by `n`, so the bits are too.
#[inline(always)]
pub fn interleaved_sum(n: usize, term: impl Fn(usize) -> C) -> C {
    let mut acc = [ZERO; 4];
    let full = n - n % 4;
    let mut k = 0;
    while k < full {
        acc[0] += term(k);
        acc[1] += term(k + 1);
        acc[2] += term(k + 2);
        acc[3] += term(k + 3);
        k += 4;
    }
    for (a, k) in acc.iter_mut().zip(full..n) {
        *a += term(k);
    }
    (acc[0] + acc[1]) + (acc[2] + acc[3])
}

/// `⟨a|b⟩ = Σ conj(a_i)·b_i`.
pub fn dot(a: &[C], b: &[C]) -> C {
    sum_over(a.len().min(b.len()), &|g0, g1| {
        let (a, b) = (&a[g0..g1], &b[g0..g1]);
        interleaved_sum(a.len().min(b.len()), |k| a[k].conj() * b[k])
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The sum is the plain sum up to rounding, and the same bits on one thread and four.
    #[test]
    fn sums_are_right_and_independent_of_threads() {
        let len = 1 << 16;
        let a: Vec<C> = (0..len)
            .map(|i| C::new((i as f64).sin(), (i as f64 * 0.3).cos()))
            .collect();
        let b: Vec<C> = (0..len)
            .map(|i| C::new((i as f64 * 0.7).cos(), 1.0 / (1.0 + i as f64)))
            .collect();
        let plain: C = a.iter().zip(&b).map(|(x, y)| x.conj() * y).sum();
        let one = rayon::ThreadPoolBuilder::new()
            .num_threads(1)
            .build()
            .unwrap()
            .install(|| dot(&a, &b));
        let four = rayon::ThreadPoolBuilder::new()
            .num_threads(4)
            .build()
            .unwrap()
            .install(|| dot(&a, &b));
        assert!((one - plain).norm() < 1e-9 * plain.norm().max(1.0));
        assert_eq!(
            (one.re.to_bits(), one.im.to_bits()),
            (four.re.to_bits(), four.im.to_bits())
        );
    }
}
