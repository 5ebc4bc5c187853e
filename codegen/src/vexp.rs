//! `exp` over a whole buffer with the host's widest vectors, bit for bit libm's `exp`.
//!
//! A neural operator's GELU derivative (`exp(-x²/2)`) and every softmax-like expression call
//! `exp` per element, and musl's `exp` branches on the argument's range (overflow,
//! underflow, three argument reductions, `scalbn`'s prescaling for subnormal and near-overflow
//! results), so nothing vectorises it. This is the same algorithm — `libm` 0.2's `exp` and
//! the `scalbn` it ends with — written without branches: every lane computes each path with
//! the same operations in the same order, and a select keeps the one musl would have taken,
//! so the results are musl's bits for every argument (the tests compare them on special
//! values, every range boundary, subnormal results and millions of random arguments). The
//! interpreter keeps calling `libm::exp`; generated code calls [`sci_exp_n`] for buffers, and
//! `verf` uses the same lane for the two `exp`s of `erf`.
//!
//! Written here rather than taken from a SIMD math crate because those round differently
//! from libm, and the interpreter is the oracle every back end must match bit for bit.

use crate::unary_kernel::map_lanes;
use crate::vtanh::pow2;

// musl's constants, by their bits (the comments of its `exp`).
const LN2HI: f64 = f64::from_bits(0x3fe6_2e42_fee0_0000);
const LN2LO: f64 = f64::from_bits(0x3dea_39ef_3579_3c76);
const INVLN2: f64 = f64::from_bits(0x3ff7_1547_652b_82fe);
const P1: f64 = f64::from_bits(0x3fc5_5555_5555_553e);
const P2: f64 = f64::from_bits(0xbf66_c16c_16be_bd93);
const P3: f64 = f64::from_bits(0x3f11_566a_af25_de2c);
const P4: f64 = f64::from_bits(0xbebb_bd41_c5d2_6bf1);
const P5: f64 = f64::from_bits(0x3e66_3769_72be_a4d0);
/// musl's overflow and underflow thresholds (709.782712893383973096 and
/// -745.13321910194110842).
const OVERFLOW: f64 = f64::from_bits(0x4086_2e42_fefa_39ef);
const UNDERFLOW: f64 = f64::from_bits(0xc087_4910_d52d_3051);
/// `2^1023` and `2^-969` (`scalbn`'s prescaling factors for `k > 1023` and `k < -1022`).
const X1P1023: f64 = f64::from_bits(0x7fe0_0000_0000_0000);
const X1P_969: f64 = f64::from_bits(0x0360_0000_0000_0000);

/// musl's `exp(x0)` as `(y, k)` with `exp(x0) = scalbn(y, k)`, every reduction computed and
/// the right one selected, for finite `|x0| < 746` (other arguments give unspecified
/// numbers: callers select another result for them). `k` is carried as an integral `f64`:
/// musl's `(INVLN2 * x ± 0.5) as i32` is the truncation, exact here (`|k| ≤ 1075`).
#[inline(always)]
fn exp_parts(x0: f64) -> (f64, f64) {
    let bits = x0.to_bits();
    let hx = ((bits >> 32) & 0x7fff_ffff) as u32;
    let negative = bits >> 63 != 0;
    // Argument reduction: |x| ≥ 1.5 ln2 takes the rounded k = x / ln2, |x| in
    // (0.5 ln2, 1.5 ln2) k = ±1, smaller |x| none (k = 0: hi = x, lo = 0, the same
    // operations with k = 0 leave x as it is).
    let kn = (INVLN2 * x0 + if negative { -0.5 } else { 0.5 }).trunc();
    let k = if hx >= 0x3ff0_a2b2 {
        kn
    } else if hx > 0x3fd6_2e42 {
        if negative { -1.0 } else { 1.0 }
    } else {
        0.0
    };
    let hi = x0 - k * LN2HI;
    let lo = k * LN2LO;
    let x = hi - lo;
    // x is now in the primary range.
    let xx = x * x;
    let c = x - xx * (P1 + xx * (P2 + xx * (P3 + xx * (P4 + xx * P5))));
    let y = 1.0 + (x * c / (2.0 - c) - lo + hi);
    // A high word at most 2^-28's returns 1 + x (before any reduction).
    if hx > 0x3e30_0000 {
        (y, k)
    } else {
        (1.0 + x0, 0.0)
    }
}

/// musl's `exp(x)` for finite `|x| < 708` (`2^k` a normal number), as `erf` calls it.
#[inline(always)]
pub(crate) fn exp_moderate_lane(x: f64) -> f64 {
    let (y, k) = exp_parts(x);
    // scalbn(y, k) with k in [-1022, 1023] is one multiplication by 2^k (by 1 for k = 0,
    // where musl returns y).
    y * pow2(k)
}

/// musl's `exp(x)` for every `x`, branch-free (see the module docs).
#[inline(always)]
pub(crate) fn exp_lane(x: f64) -> f64 {
    let (y, k) = exp_parts(x);
    // scalbn(y, k): k above 1023 first scales by 2^1023, k below -1022 by 2^-969 (exact, so
    // a subnormal result is rounded once, by the last multiplication), k = 0 by 1.
    let (pre, k) = if k > 1023.0 {
        (X1P1023, k - 1023.0)
    } else if k < -1022.0 {
        (X1P_969, k + 969.0)
    } else {
        (1.0, k)
    };
    let scaled = y * pre * pow2(k);
    if x.is_nan() {
        x
    } else if x > OVERFLOW {
        // Overflow (x ≠ ∞ too): musl's x · 2^1023.
        x * X1P1023
    } else if x < UNDERFLOW {
        0.0
    } else {
        scaled
    }
}

/// `y[i] = exp(x[i])` for every element, [`LANES`](crate::unary_kernel::LANES) at a time.
#[inline(always)]
fn exp_slice_generic(x: &[f64], y: &mut [f64]) {
    map_lanes(x, y, exp_lane)
}

crate::unary_kernel::unary_kernel!(
    what: "exp",
    generic: exp_slice_generic,
    avx512: exp_slice_avx512,
    avx2: exp_slice_avx2,
    slice: exp_slice,
    entry: sci_exp_n,
    routes: exp_routes,
);

#[cfg(test)]
mod tests {
    use super::*;
    use crate::unary_kernel::testing::{assert_libm_bits, bits, same, step, uniform};

    /// `exp` of `xs` by the kernel (the widest vectors), by AVX2 where the CPU has it, by
    /// the plain loop, and (`|x| < 700`) by `erf`'s lane, against libm's bits.
    fn check(xs: &[f64]) {
        assert_libm_bits("exp", libm::exp, xs, &exp_routes(xs));
        for x in xs {
            let want = libm::exp(*x);
            if x.abs() < 700.0 {
                let m = exp_moderate_lane(*x);
                assert!(
                    same(m, want),
                    "exp({x:e}) = {want:e} (libm) but {m:e} (moderate)"
                );
            }
        }
    }

    #[test]
    fn special_values_and_range_boundaries_match_libm() {
        let mut xs = vec![
            0.0,
            -0.0,
            f64::MIN_POSITIVE,
            5e-324,
            1e-300,
            1e-20,
            2f64.powi(-28),
            2f64.powi(-53),
            2f64.powi(-54),
            0.5,
            1.0,
            100.0,
            708.0,
            709.0,
            // exp's overflow and underflow thresholds, subnormal results, the last k's.
            OVERFLOW,
            -708.3964185322641,
            -708.4,
            -720.0,
            -740.0,
            -745.0,
            UNDERFLOW,
            -746.0,
            f64::MAX,
            f64::MIN,
            f64::INFINITY,
            f64::NEG_INFINITY,
            f64::NAN,
            -f64::NAN,
        ];
        for x in [
            OVERFLOW,
            -708.3964185322641,
            UNDERFLOW,
            0.5 * std::f64::consts::LN_2,
            1.5 * std::f64::consts::LN_2,
        ] {
            for d in -3..=3 {
                xs.push(step(x, d));
                xs.push(-step(x, d));
            }
        }
        // Every branch boundary (high words), with neighbours on both sides, low words at
        // both ends and random.
        let mut seed = 0x5851_f42d_4c95_7f2du64;
        for w in [0x4086_232bu64, 0x3fd6_2e42, 0x3ff0_a2b2, 0x3e30_0000] {
            for d in [-2i64, -1, 0, 1, 2] {
                let base = ((w as i64 + d) as u64) << 32;
                let ends = [0u64, 1, 0x8000_0000, 0xffff_ffff];
                let lows = ends
                    .into_iter()
                    .chain((0..256).map(|_| bits(&mut seed) >> 32));
                for low in lows {
                    xs.push(f64::from_bits(base | low));
                    xs.push(-f64::from_bits(base | low));
                }
            }
        }
        // Around each switch of the rounded k = x / ln2, and of scalbn's prescaling
        // (k = 1024, k < -1022).
        for k in -1080..1030 {
            let at = (k as f64 + 0.5) * std::f64::consts::LN_2;
            for d in -2..=2 {
                xs.push(step(at, d));
            }
        }
        check(&xs);
    }

    #[test]
    fn random_arguments_match_libm_bit_for_bit() {
        let mut seed = 0x2545_f491_4f6c_dd1du64;
        // Uniform over the finite range (subnormal and near-overflow results included),
        // uniform in [-8, 8], log-uniform magnitudes, and raw bit patterns (NaNs,
        // infinities, subnormal arguments included).
        let wide: Vec<f64> = (0..500_000)
            .map(|_| uniform(&mut seed, -750.0, 712.0))
            .collect();
        check(&wide);
        let near: Vec<f64> = (0..500_000)
            .map(|_| uniform(&mut seed, -8.0, 8.0))
            .collect();
        check(&near);
        let logs: Vec<f64> = (0..500_000)
            .map(|_| {
                let s = if bits(&mut seed) & 1 == 0 { 1.0 } else { -1.0 };
                s * 10f64.powf(uniform(&mut seed, -20.0, 3.0))
            })
            .collect();
        check(&logs);
        let raw: Vec<f64> = (0..200_000)
            .map(|_| f64::from_bits(bits(&mut seed)))
            .collect();
        check(&raw);
    }

    #[test]
    fn the_kernel_handles_every_length() {
        for n in 0..20 {
            let xs: Vec<f64> = (0..n).map(|i| i as f64 * 0.37 - 3.0).collect();
            let mut ys = vec![f64::NAN; n];
            // SAFETY: both buffers hold `n` elements and do not overlap.
            unsafe { sci_exp_n(xs.as_ptr(), ys.as_mut_ptr(), n as u64) };
            for (x, y) in xs.iter().zip(&ys) {
                assert_eq!(y.to_bits(), libm::exp(*x).to_bits());
            }
        }
    }
}
