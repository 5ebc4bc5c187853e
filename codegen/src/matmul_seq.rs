//! Small matrix products in the element loop's order, with the widest vectors the CPU has.
//!
//! A product below [`crate::libm::MATMUL_KERNEL_MIN`] multiply–adds stays in the order the
//! generated element loop and the interpreter use — per output element `acc = 0; acc = acc
//! + a[i,l]·b[l,j]` for `l` ascending, no fused multiply–add — so it agrees with them bit
//! for bit (the GEMM kernel for large products sums in its own order). The generated loop
//! is scalar (one dot product per element); this kernel runs the same operations with the
//! loop over `l` outside the one over `j`, so each `c[i, j..j+8]` is one vector: the same
//! additions in the same order per element, eight elements at a time. A tile of a network's
//! reverse pass has a dozen such products (`[1, 20] × [20, 64]`, outer products
//! `[20, 1] × [1, 64]`).

/// Products with fewer columns than this stay in the generated loop (too narrow for a
/// vector, and the call costs more than it saves).
pub(crate) const MATMUL_SEQ_MIN_COLUMNS: usize = 8;

#[inline(always)]
fn matmul_seq_generic(m: usize, n: usize, k: usize, a: &[f64], b: &[f64], c: &mut [f64]) {
    for (i, row) in c.chunks_exact_mut(n).take(m).enumerate() {
        row.fill(0.0);
        for l in 0..k {
            let x = a[i * k + l];
            let b_row = &b[l * n..(l + 1) * n];
            for (cj, bj) in row.iter_mut().zip(b_row) {
                *cj += x * *bj;
            }
        }
    }
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f")]
fn matmul_seq_avx512(m: usize, n: usize, k: usize, a: &[f64], b: &[f64], c: &mut [f64]) {
    matmul_seq_generic(m, n, k, a, b, c)
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
fn matmul_seq_avx2(m: usize, n: usize, k: usize, a: &[f64], b: &[f64], c: &mut [f64]) {
    matmul_seq_generic(m, n, k, a, b, c)
}

/// `c = a · b` (`[m, k] × [k, n]`, row-major) in the element loop's order.
fn matmul_seq(m: usize, n: usize, k: usize, a: &[f64], b: &[f64], c: &mut [f64]) {
    #[cfg(target_arch = "x86_64")]
    {
        if std::arch::is_x86_feature_detected!("avx512f") {
            // SAFETY: the CPU has AVX-512F (checked above).
            return unsafe { matmul_seq_avx512(m, n, k, a, b, c) };
        }
        if std::arch::is_x86_feature_detected!("avx2") {
            // SAFETY: the CPU has AVX2 (checked above).
            return unsafe { matmul_seq_avx2(m, n, k, a, b, c) };
        }
    }
    matmul_seq_generic(m, n, k, a, b, c)
}

/// `c = a · b` for row-major `a: [m, k]`, `b: [k, n]`, `c: [m, n]`, summed as the element
/// loop sums. Generated code calls this for small products with at least
/// [`MATMUL_SEQ_MIN_COLUMNS`] columns.
///
/// # Safety
/// `a` holds `m·k` elements, `b` `k·n`, `c` `m·n`; `c` overlaps neither.
pub(crate) unsafe extern "C" fn sci_matmul_seq(
    m: u64,
    n: u64,
    k: u64,
    a: *const f64,
    b: *const f64,
    c: *mut f64,
) {
    let (m, n, k) = (m as usize, n as usize, k as usize);
    if m == 0 || n == 0 {
        return;
    }
    // SAFETY: the caller's contract.
    let (a, b, c) = unsafe {
        (
            std::slice::from_raw_parts(a, m * k),
            std::slice::from_raw_parts(b, k * n),
            std::slice::from_raw_parts_mut(c, m * n),
        )
    };
    matmul_seq(m, n, k, a, b, c);
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The generated loop's order, written out.
    fn element_loop(m: usize, n: usize, k: usize, a: &[f64], b: &[f64]) -> Vec<f64> {
        let mut c = vec![0.0; m * n];
        for i in 0..m {
            for j in 0..n {
                let mut acc = 0.0;
                for l in 0..k {
                    acc += a[i * k + l] * b[l * n + j];
                }
                c[i * n + j] = acc;
            }
        }
        c
    }

    #[test]
    fn same_bits_as_the_element_loop() {
        let mut seed = 7u64;
        let mut next = || {
            seed = seed
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            ((seed >> 11) as f64 / (1u64 << 53) as f64 - 0.5) * 1e3
        };
        for (m, n, k) in [(1, 64, 20), (20, 64, 1), (3, 9, 7), (2, 8, 0), (5, 17, 33)] {
            let a: Vec<f64> = (0..m * k).map(|_| next()).collect();
            let mut b: Vec<f64> = (0..k * n).map(|_| next()).collect();
            if let Some(x) = b.first_mut() {
                *x = -0.0;
            }
            let mut c = vec![f64::NAN; m * n];
            // SAFETY: the buffers have the sizes the kernel reads and writes.
            unsafe {
                sci_matmul_seq(
                    m as u64,
                    n as u64,
                    k as u64,
                    a.as_ptr(),
                    b.as_ptr(),
                    c.as_mut_ptr(),
                )
            };
            let want = element_loop(m, n, k, &a, &b);
            assert!(
                c.iter().zip(&want).all(|(x, y)| x.to_bits() == y.to_bits()),
                "{m}×{k}×{n}"
            );
        }
    }
}
