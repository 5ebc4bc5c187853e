//! `tanh` over a whole buffer with the host's widest vectors, bit for bit libm's `tanh`.
//!
//! `tanh` is a third of a PINN step's time when called per element (musl's `tanh` and
//! `expm1` branch on the argument's range, so nothing vectorises them). This is the same
//! algorithm — `libm` 0.2's `tanh` and the part of its `expm1` that `tanh` reaches
//! (arguments `±2|x|` with `|x| ≤ 20`) — written without branches: every lane computes each
//! range's formula with the same operations in the same order, and a select keeps the one
//! musl would have taken, so the results are musl's bits (the tests compare them on special
//! values, every range boundary and millions of random arguments). The interpreter keeps
//! calling `libm::tanh`; generated code calls [`sci_tanh_n`] for buffers.
//!
//! Written here rather than taken from a SIMD math crate because those round differently
//! from libm, and the interpreter is the oracle every back end must match bit for bit.

// musl's constants, by their bits (the comments of its `expm1`).
const LN2_HI: f64 = f64::from_bits(0x3fe6_2e42_fee0_0000);
const LN2_LO: f64 = f64::from_bits(0x3dea_39ef_3579_3c76);
const INVLN2: f64 = f64::from_bits(0x3ff7_1547_652b_82fe);
const Q1: f64 = f64::from_bits(0xbfa1_1111_1111_10f4);
const Q2: f64 = f64::from_bits(0x3f5a_01a0_19fe_5585);
const Q3: f64 = f64::from_bits(0xbf14_ce19_9eaa_dbb7);
const Q4: f64 = f64::from_bits(0x3ed0_cfca_86e6_5239);
const Q5: f64 = f64::from_bits(0xbe8a_fdb7_6e09_c32d);

use crate::unary_kernel::map_lanes;

/// `2^k` for an integral `k` in `[-1022, 1023]`, by placing `k + 1023` in the exponent field
/// (no integer conversion, so it vectorises).
#[inline(always)]
pub(crate) fn pow2(k: f64) -> f64 {
    const SHIFT: f64 = 4_503_599_627_370_496.0; // 2^52: k + 1023 lands in the low bits
    f64::from_bits((k + (1023.0 + SHIFT)).to_bits() << 52)
}

/// musl's `expm1(x)` for the arguments `tanh` passes it (finite, `|x| ≤ 40`), every branch
/// evaluated and the right one selected. Other arguments give unspecified numbers (callers
/// select another formula for them). `k` is carried as an integral `f64`: musl's
/// `(INVLN2 * x ± 0.5) as i32` is the truncation, exact for these arguments (`|k| ≤ 58`).
#[inline(always)]
fn expm1_lane(x0: f64) -> f64 {
    let hx = ((x0.to_bits() >> 32) & 0x7fff_ffff) as i64;
    let negative = x0 < 0.0;
    // Argument reduction: |x| in (0.5 ln2, 1.5 ln2) takes k = ±1, larger |x| the rounded
    // k = x / ln2, smaller |x| none (k = 0, c = 0).
    let reduce = hx > 0x3fd6_2e42;
    let near = hx < 0x3ff0_a2b2;
    let hi1 = if negative { x0 + LN2_HI } else { x0 - LN2_HI };
    let lo1 = if negative { -LN2_LO } else { LN2_LO };
    let k1 = if negative { -1.0 } else { 1.0 };
    let tn = (INVLN2 * x0 + if negative { -0.5 } else { 0.5 }).trunc();
    let hin = x0 - tn * LN2_HI;
    let lon = tn * LN2_LO;
    let hi = if near { hi1 } else { hin };
    let lo = if near { lo1 } else { lon };
    let kr = if near { k1 } else { tn };
    let xr = hi - lo;
    let cr = (hi - xr) - lo;
    let x = if reduce { xr } else { x0 };
    let c = if reduce { cr } else { 0.0 };
    let k = if reduce { kr } else { 0.0 };
    // x is now in the primary range.
    let hfx = 0.5 * x;
    let hxs = x * hfx;
    let r1 = 1.0 + hxs * (Q1 + hxs * (Q2 + hxs * (Q3 + hxs * (Q4 + hxs * Q5))));
    let t = 3.0 - r1 * hfx;
    let e0 = hxs * ((r1 - t) / (6.0 - x * t));
    let y_k0 = x - (x * e0 - hxs);
    let e = x * (e0 - c) - c;
    let e = e - hxs;
    let y_km1 = 0.5 * (x - e) - 0.5;
    let y_k1 = if x < -0.25 {
        -2.0 * (e - (x + 0.5))
    } else {
        1.0 + 2.0 * (x - e)
    };
    let twopk = pow2(k);
    let uf = pow2(-k);
    let y_far = (x - e + 1.0) * twopk - 1.0;
    let y_small_k = (x - e + (1.0 - uf)) * twopk;
    let y_large_k = (x - (e + uf) + 1.0) * twopk;
    let y_k = if !(0.0..=56.0).contains(&k) {
        y_far
    } else if k < 20.0 {
        y_small_k
    } else {
        y_large_k
    };
    let y = if k == 0.0 {
        y_k0
    } else if k == -1.0 {
        y_km1
    } else if k == 1.0 {
        y_k1
    } else {
        y_k
    };
    // |x| < 2^-54 returns x itself (before any reduction).
    if !reduce && hx < 0x3c90_0000 { x0 } else { y }
}

/// musl's `tanh(x)`, branch-free (see the module docs).
#[inline(always)]
fn tanh_lane(x: f64) -> f64 {
    let bits = x.to_bits();
    let negative = bits >> 63 != 0;
    let ax = f64::from_bits(bits & (u64::MAX >> 1));
    let w = (bits & (u64::MAX >> 1)) >> 32;
    let w = w as u32;
    let a = if w > 0x3fd0_58ae { 2.0 * ax } else { -2.0 * ax };
    let em = expm1_lane(a);
    // musl's four formulas, `1 - 0/|x|`, `1 - 2/(em+2)`, `em/(em+2)` and `-em/(em+2)`, as one
    // division of the selected operands (the same correctly rounded quotient).
    let big = w > 0x4034_0000;
    let large = w > 0x3fe1_93ea;
    let mid = w > 0x3fd0_58ae;
    let num = if big {
        0.0
    } else if large {
        2.0
    } else if mid {
        em
    } else {
        -em
    };
    let den = if big { ax } else { em + 2.0 };
    let q = num / den;
    let t = if large {
        1.0 - q
    } else if mid || w >= 0x0010_0000 {
        q
    } else {
        ax
    };
    if negative { -t } else { t }
}

/// `y[i] = tanh(x[i])` for every element, [`LANES`](crate::unary_kernel::LANES) at a time.
#[inline(always)]
fn tanh_slice_generic(x: &[f64], y: &mut [f64]) {
    map_lanes(x, y, tanh_lane)
}

crate::unary_kernel::unary_kernel!(
    what: "tanh",
    generic: tanh_slice_generic,
    avx512: tanh_slice_avx512,
    avx2: tanh_slice_avx2,
    slice: tanh_slice,
    entry: sci_tanh_n,
    routes: tanh_routes,
);

#[cfg(test)]
mod tests {
    use super::*;
    use crate::unary_kernel::testing::{assert_libm_bits, bits};

    /// `tanh` of `xs` by every route the CPU can take, against libm's bits.
    fn check(xs: &[f64]) {
        assert_libm_bits("tanh", libm::tanh, xs, &tanh_routes(xs));
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
            2f64.powi(-54),
            0.25,
            0.5,
            1.0,
            20.0,
            20.000000000000004,
            19.999999999999996,
            40.0,
            710.0,
            f64::MAX,
            f64::INFINITY,
            f64::NAN,
        ];
        // Every branch boundary of tanh (high words) and of the expm1 it calls (at 2|x|),
        // with neighbours on both sides.
        for w in [
            0x3fe1_93eau64,
            0x3fd0_58ae,
            0x4034_0000,
            0x0010_0000,
            0x3fd6_2e42 - 0x0010_0000,
            0x3ff0_a2b2 - 0x0010_0000,
            0x3c90_0000 - 0x0010_0000,
        ] {
            for d in [-2i64, -1, 0, 1, 2] {
                let base = ((w as i64 + d) as u64) << 32;
                for low in [0u64, 1, 0x8000_0000, 0xffff_ffff] {
                    xs.push(f64::from_bits(base | low));
                }
            }
        }
        // Around each k = round(2|x| / ln2) switch of expm1's reduction.
        for k in 0..60 {
            let at = (k as f64 + 0.5) * std::f64::consts::LN_2 / 2.0;
            for d in -3i64..=3 {
                xs.push(f64::from_bits((at.to_bits() as i64 + d) as u64));
            }
        }
        let negated: Vec<f64> = xs.iter().map(|x| -x).collect();
        xs.extend(negated);
        check(&xs);
    }

    #[test]
    fn random_arguments_match_libm_bit_for_bit() {
        let mut seed = 0x9e37_79b9_7f4a_7c15u64;
        // Uniform in [-25, 25] (every range tanh computes), log-uniform magnitudes, and raw
        // bit patterns (NaNs, infinities, subnormals included).
        let uniform: Vec<f64> = (0..400_000)
            .map(|_| (bits(&mut seed) >> 11) as f64 / (1u64 << 53) as f64 * 50.0 - 25.0)
            .collect();
        check(&uniform);
        let logs: Vec<f64> = (0..400_000)
            .map(|_| {
                let m = (bits(&mut seed) >> 11) as f64 / (1u64 << 53) as f64;
                let s = if bits(&mut seed) & 1 == 0 { 1.0 } else { -1.0 };
                s * 10f64.powf(-30.0 + 32.0 * m)
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
            unsafe { sci_tanh_n(xs.as_ptr(), ys.as_mut_ptr(), n as u64) };
            for (x, y) in xs.iter().zip(&ys) {
                assert_eq!(y.to_bits(), libm::tanh(*x).to_bits());
            }
        }
    }
}
