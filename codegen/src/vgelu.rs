//! `gelu` and `dgelu` of whole buffers (`sci_ir::interp::gelu`, `dgelu`: the exact GELU
//! and its derivative) for the JITs: the arithmetic around `erf` and `exp` in vector loops,
//! `erf` and `exp` by their vector kernels (`verf`, `vexp`: libm's bits), a block of
//! [`BLOCK`] elements at a time in stack buffers. Every element goes through the
//! interpreter's operations in its order, so the results are its bits.

use std::f64::consts::FRAC_1_SQRT_2;

use sci_ir::interp::INV_SQRT_2PI;

/// Elements per block (two or three 2 KB stack buffers).
const BLOCK: usize = 256;

/// `y = (0.5·x)·(1 + erf(x·(1/√2)))`, element by element.
#[inline(always)]
fn gelu_slice_generic(x: &[f64], y: &mut [f64]) {
    let (mut t, mut e) = ([0.0; BLOCK], [0.0; BLOCK]);
    for (xs, ys) in x.chunks(BLOCK).zip(y.chunks_mut(BLOCK)) {
        let n = xs.len();
        for (ti, xi) in t.iter_mut().zip(xs) {
            *ti = xi * FRAC_1_SQRT_2;
        }
        crate::verf::erf_slice(&t[..n], &mut e[..n]);
        for ((yi, xi), ei) in ys.iter_mut().zip(xs).zip(&e) {
            *yi = (0.5 * xi) * (1.0 + ei);
        }
    }
}

/// `y = 0.5·(1 + erf(x·(1/√2))) + x·(exp(−0.5·(x·x))·(1/√(2π)))`, element by element.
#[inline(always)]
fn dgelu_slice_generic(x: &[f64], y: &mut [f64]) {
    let (mut t, mut e, mut u) = ([0.0; BLOCK], [0.0; BLOCK], [0.0; BLOCK]);
    for (xs, ys) in x.chunks(BLOCK).zip(y.chunks_mut(BLOCK)) {
        let n = xs.len();
        for ((ti, ui), xi) in t.iter_mut().zip(u.iter_mut()).zip(xs) {
            *ti = xi * FRAC_1_SQRT_2;
            *ui = -0.5 * (xi * xi);
        }
        crate::verf::erf_slice(&t[..n], &mut e[..n]);
        crate::vexp::exp_slice(&u[..n], &mut t[..n]);
        for (((yi, xi), ei), di) in ys.iter_mut().zip(xs).zip(&e).zip(&t) {
            *yi = 0.5 * (1.0 + ei) + xi * (di * INV_SQRT_2PI);
        }
    }
}

crate::unary_kernel::unary_kernel!(
    what: "gelu",
    generic: gelu_slice_generic,
    avx512: gelu_slice_avx512,
    avx2: gelu_slice_avx2,
    slice: gelu_slice,
    entry: sci_gelu_n,
    routes: gelu_routes,
);

crate::unary_kernel::unary_kernel!(
    what: "dgelu",
    generic: dgelu_slice_generic,
    avx512: dgelu_slice_avx512,
    avx2: dgelu_slice_avx2,
    slice: dgelu_slice,
    entry: sci_dgelu_n,
    routes: dgelu_routes,
);

#[cfg(test)]
mod tests {
    use super::*;
    use crate::unary_kernel::testing::{assert_libm_bits, uniform};

    /// Arguments across the ranges of `erf` and `exp` (tiny, moderate, the tails where
    /// `exp(−x²/2)` underflows), specials, and a length that leaves a partial block.
    fn arguments() -> Vec<f64> {
        let mut xs = vec![
            0.0,
            -0.0,
            1e-300,
            -1e-20,
            0.5,
            -1.0,
            3.0,
            -6.0,
            27.0,
            -40.0,
            1e300,
            f64::INFINITY,
            f64::NEG_INFINITY,
            f64::NAN,
        ];
        let mut seed = 0x9e37_79b9_7f4a_7c15;
        xs.extend((0..3 * BLOCK + 37).map(|_| uniform(&mut seed, -9.0, 9.0)));
        xs
    }

    #[test]
    fn gelu_is_the_interpreters_bit_for_bit() {
        let xs = arguments();
        assert_libm_bits("gelu", sci_ir::interp::gelu, &xs, &gelu_routes(&xs));
    }

    #[test]
    fn dgelu_is_the_interpreters_bit_for_bit() {
        let xs = arguments();
        assert_libm_bits("dgelu", sci_ir::interp::dgelu, &xs, &dgelu_routes(&xs));
    }
}
