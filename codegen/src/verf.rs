//! `erf` over a whole buffer with the host's widest vectors, bit for bit libm's `erf`.
//!
//! `erf` is an eighth of a neural operator's training step when called per element (GELU is
//! `0.5·x·(1 + erf(x/√2))`), and musl's `erf` branches on the argument's range (five
//! formulas, the one for `1.25 ≤ |x| < 6` through two calls of `exp`), so nothing
//! vectorises it. This is the same algorithm — `libm` 0.2's `erf`, and its `exp` for the
//! arguments `erf` passes it (`vexp`'s lane) — written without branches per argument: every
//! lane computes each range's formula with the same operations in the same order, and a
//! select keeps the one musl would have taken, so the results are musl's bits (the tests
//! compare them on special values, every range boundary and millions of random arguments).
//! Two lane functions share the work: one for `|x| < 1.25`, where most of GELU's arguments
//! are, over the whole buffer; one for the rest (the `exp`s: five times the cost) over the
//! large arguments only, gathered into whole vectors, so a layer pays for its few large
//! arguments alone. The interpreter keeps calling `libm::erf`; generated code calls
//! [`sci_erf_n`] for buffers.
//!
//! Written here rather than taken from a SIMD math crate because those round differently
//! from libm, and the interpreter is the oracle every back end must match bit for bit.

use crate::unary_kernel::{LANES, map_lanes};
use crate::vexp::exp_moderate_lane;

/// Arguments per block of [`erf_slice_generic`] (a multiple of `LANES`).
const BLOCK: usize = 256;

/// The bits of 1.25: `|x|` at least this takes the `exp` range's formulas (or is NaN, ±∞).
const NEAR_BITS: u64 = 0x3ff4_0000_0000_0000;

// musl's constants, by their bits (the comments of its `erf`).
const ERX: f64 = f64::from_bits(0x3feb_0ac1_6000_0000);
const EFX8: f64 = f64::from_bits(0x3ff0_6eba_8214_db69);
// erf on [0, 0.84375]: x + x·PP(x²)/QQ(x²).
const PP0: f64 = f64::from_bits(0x3fc0_6eba_8214_db68);
const PP1: f64 = f64::from_bits(0xbfd4_cd7d_691c_b913);
const PP2: f64 = f64::from_bits(0xbf9d_2a51_dbd7_194f);
const PP3: f64 = f64::from_bits(0xbf77_a291_2366_68e4);
const PP4: f64 = f64::from_bits(0xbef8_ead6_1200_16ac);
const QQ1: f64 = f64::from_bits(0x3fd9_7779_cdda_dc09);
const QQ2: f64 = f64::from_bits(0x3fb0_a54c_5536_ceba);
const QQ3: f64 = f64::from_bits(0x3f74_d022_c4d3_6b0f);
const QQ4: f64 = f64::from_bits(0x3f21_5dc9_221c_1a10);
const QQ5: f64 = f64::from_bits(0xbed0_9c43_42a2_6120);
// erf on [0.84375, 1.25]: ERX + PA(|x| - 1)/QA(|x| - 1).
const PA0: f64 = f64::from_bits(0xbf63_59b8_bef7_7538);
const PA1: f64 = f64::from_bits(0x3fda_8d00_ad92_b34d);
const PA2: f64 = f64::from_bits(0xbfd7_d240_fbb8_c3f1);
const PA3: f64 = f64::from_bits(0x3fd4_5fca_8051_20e4);
const PA4: f64 = f64::from_bits(0xbfbc_6398_3d3e_28ec);
const PA5: f64 = f64::from_bits(0x3fa2_2a36_5997_95eb);
const PA6: f64 = f64::from_bits(0xbf61_bf38_0a96_073f);
const QA1: f64 = f64::from_bits(0x3fbb_3e66_18ee_e323);
const QA2: f64 = f64::from_bits(0x3fe1_4af0_92eb_6f33);
const QA3: f64 = f64::from_bits(0x3fb2_635c_d99f_e9a7);
const QA4: f64 = f64::from_bits(0x3fc0_2660_e763_351f);
const QA5: f64 = f64::from_bits(0x3f8b_edc2_6b51_dd1c);
const QA6: f64 = f64::from_bits(0x3f88_8b54_5735_151d);
// erfc on [1.25, 1/0.35]: RA(1/x²)/SA(1/x²) in the exponent.
const RA0: f64 = f64::from_bits(0xbf84_3412_600d_6435);
const RA1: f64 = f64::from_bits(0xbfe6_3416_e4ba_7360);
const RA2: f64 = f64::from_bits(0xc025_1e04_41b0_e726);
const RA3: f64 = f64::from_bits(0xc04f_300a_e4cb_a38d);
const RA4: f64 = f64::from_bits(0xc064_4cb1_8428_2266);
const RA5: f64 = f64::from_bits(0xc067_135c_ebcc_abb2);
const RA6: f64 = f64::from_bits(0xc054_5265_57e4_d2f2);
const RA7: f64 = f64::from_bits(0xc023_a0ef_c69a_c25c);
const SA1: f64 = f64::from_bits(0x4033_a6b9_bd70_7687);
const SA2: f64 = f64::from_bits(0x4061_350c_526a_e721);
const SA3: f64 = f64::from_bits(0x407b_290d_d58a_1a71);
const SA4: f64 = f64::from_bits(0x4084_2b19_21ec_2868);
const SA5: f64 = f64::from_bits(0x407a_d021_5770_0314);
const SA6: f64 = f64::from_bits(0x405b_28a3_ee48_ae2c);
const SA7: f64 = f64::from_bits(0x401a_47ef_8e48_4a93);
const SA8: f64 = f64::from_bits(0xbfae_eff2_ee74_9a62);
// erfc on [1/0.35, 28]: RB(1/x²)/SB(1/x²) in the exponent.
const RB0: f64 = f64::from_bits(0xbf84_3412_39e8_6f4a);
const RB1: f64 = f64::from_bits(0xbfe9_93ba_70c2_85de);
const RB2: f64 = f64::from_bits(0xc031_c209_555f_995a);
const RB3: f64 = f64::from_bits(0xc064_145d_43c5_ed98);
const RB4: f64 = f64::from_bits(0xc083_ec88_1375_f228);
const RB5: f64 = f64::from_bits(0xc090_0461_6a2e_5992);
const RB6: f64 = f64::from_bits(0xc07e_384e_9bdc_383f);
const SB1: f64 = f64::from_bits(0x403e_568b_261d_5190);
const SB2: f64 = f64::from_bits(0x4074_5cae_221b_9f0a);
const SB3: f64 = f64::from_bits(0x4098_02eb_189d_5118);
const SB4: f64 = f64::from_bits(0x40a8_ffb7_688c_246a);
const SB5: f64 = f64::from_bits(0x40a3_f219_cedf_3be6);
const SB6: f64 = f64::from_bits(0x407d_a874_e79f_e763);
const SB7: f64 = f64::from_bits(0xc036_70e2_4271_2d62);

/// The numerators of musl's four rational functions (`x²` ↦ PP on `|x| < 0.84375`,
/// `|x| - 1` ↦ PA below 1.25, `1/x²` ↦ RA below 1/0.35 and RB above), coefficient `j` of
/// each in row `j`, padded with zeros to one degree: one Horner evaluation with the row's
/// coefficient of the lane's range is each lane's polynomial, the same bits (a padding
/// zero adds `a·0 = ±0` to the last true coefficient, which is nonzero, and so changes
/// nothing).
const NUM: [[f64; 4]; 8] = [
    [PP0, PA0, RA0, RB0],
    [PP1, PA1, RA1, RB1],
    [PP2, PA2, RA2, RB2],
    [PP3, PA3, RA3, RB3],
    [PP4, PA4, RA4, RB4],
    [0.0, PA5, RA5, RB5],
    [0.0, PA6, RA6, RB6],
    [0.0, 0.0, RA7, 0.0],
];

/// The denominators (`1 + a·(…)`), coefficient `j + 1` in row `j`, likewise.
const DEN: [[f64; 4]; 8] = [
    [QQ1, QA1, SA1, SB1],
    [QQ2, QA2, SA2, SB2],
    [QQ3, QA3, SA3, SB3],
    [QQ4, QA4, SA4, SB4],
    [QQ5, QA5, SA5, SB5],
    [0.0, QA6, SA6, SB6],
    [0.0, 0.0, SA7, SB7],
    [0.0, 0.0, SA8, 0.0],
];

/// The entry of a row of [`NUM`] or [`DEN`] for a lane's range.
#[inline(always)]
fn pick(row: [f64; 4], small: bool, mid: bool, near: bool) -> f64 {
    if small {
        row[0]
    } else if mid {
        row[1]
    } else if near {
        row[2]
    } else {
        row[3]
    }
}

/// musl's `erf(x)`, branch-free: each range's formula computed, a select keeping the one
/// musl takes. `FAR = false` computes the ranges below `|x| = 1.25`, `FAR = true` the others
/// (the `exp` range, `|x| ≥ 6`, NaN, ±∞); an argument of the other kind gives an unspecified
/// number.
#[inline(always)]
fn erf_lane<const FAR: bool>(x: f64) -> f64 {
    let bits = x.to_bits();
    let negative = bits >> 63 != 0;
    let ix = ((bits >> 32) & 0x7fff_ffff) as u32;
    let ax = f64::from_bits(bits & (u64::MAX >> 1));
    let special = FAR && ix >= 0x7ff0_0000;
    let tiny = !FAR && ix < 0x3e30_0000;
    let small = !FAR && ix < 0x3feb_0000;
    let mid = !FAR;
    let near = ix < 0x4006_db6d;
    // musl's `1/x` (NaN, ±∞) and `1/(x·x)` (1.25 ≤ |x| < 6) as one division of the
    // selected operand.
    let inv = if FAR {
        1.0 / if special { x } else { ax * ax }
    } else {
        0.0
    };
    // The range's rational function: r/s in x² (|x| < 0.84375), p/q in |x| - 1 (< 1.25),
    // ra/sa or rb/sb in 1/x² (< 6), as one Horner evaluation of each padded polynomial and
    // one division (below 1.25, from the highest degree those take).
    let a = if small {
        x * x
    } else if mid {
        ax - 1.0
    } else {
        inv
    };
    let (num_top, den_top) = if FAR { (7, 7) } else { (6, 5) };
    let mut num = pick(NUM[num_top], small, mid, near);
    for row in NUM[..num_top].iter().rev() {
        num = pick(*row, small, mid, near) + a * num;
    }
    let mut den = pick(DEN[den_top], small, mid, near);
    for row in DEN[..den_top].iter().rev() {
        den = pick(*row, small, mid, near) + a * den;
    }
    let ratio = num / (1.0 + a * den);
    // |x| < 1.25: erfc = (1 - ERX) - p/q; |x| < 6: erfc = exp(-z·z - 0.5625)·exp((z - |x|)
    // (z + |x|) + r/s)/|x|, z being |x| with its low word cleared.
    let erfc = if FAR {
        let z = f64::from_bits(ax.to_bits() & 0xffff_ffff_0000_0000);
        exp_moderate_lane(-z * z - 0.5625) * exp_moderate_lane((z - ax) * (z + ax) + ratio) / ax
    } else {
        1.0 - ERX - ratio
    };
    let y = if !FAR || ix < 0x4018_0000 {
        1.0 - erfc
    } else {
        1.0 - f64::from_bits(0x0010_0000_0000_0000)
    };
    if special {
        1.0 - if negative { 2.0 } else { 0.0 } + inv
    } else if tiny {
        0.125 * (8.0 * x + EFX8 * x)
    } else if small {
        // |x| < 0.84375: x + x·r/s.
        x + x * ratio
    } else if negative {
        -y
    } else {
        y
    }
}

/// `y[i] = erf_lane::<FAR>(x[i])` for every element, `LANES` at a time.
#[inline(always)]
fn erf_lanes<const FAR: bool>(x: &[f64], y: &mut [f64]) {
    map_lanes(x, y, erf_lane::<FAR>)
}

/// `y[i] = erf(x[i])` for every element, `BLOCK` at a time: every argument through the
/// formulas below 1.25 in magnitude (most of GELU's arguments are there); then the others
/// (the `exp` range, and NaN, ±∞), gathered into a buffer, through the formulas of theirs,
/// `LANES` at a time, and scattered back over the first results, so that the few large
/// arguments among many small ones cost only their own lanes.
#[inline(always)]
fn erf_slice_generic(x: &[f64], y: &mut [f64]) {
    let magnitude = |x: &f64| x.to_bits() & (u64::MAX >> 1);
    for (x, y) in x.chunks(BLOCK).zip(y.chunks_mut(BLOCK)) {
        // The large arguments' indices, from the chunks that have any (written at every
        // step, counted when large: no branch per argument).
        let mut far = [0u16; BLOCK];
        let mut count = 0;
        for (c, xc) in x.chunks(LANES).enumerate() {
            if xc.iter().map(magnitude).fold(0, u64::max) < NEAR_BITS {
                continue;
            }
            for (i, xi) in xc.iter().enumerate() {
                far[count] = (c * LANES + i) as u16;
                count += usize::from(magnitude(xi) >= NEAR_BITS);
            }
        }
        if count < x.len() {
            erf_lanes::<false>(x, y);
        }
        if count == 0 {
            continue;
        }
        // Padded with ∞ (a far argument) to whole vectors.
        let padded = count.next_multiple_of(LANES);
        let mut xs = [f64::INFINITY; BLOCK];
        let mut ys = [0.0; BLOCK];
        for (xj, &i) in xs.iter_mut().zip(&far[..count]) {
            *xj = x[usize::from(i)];
        }
        erf_lanes::<true>(&xs[..padded], &mut ys[..padded]);
        for (yj, &i) in ys.iter().zip(&far[..count]) {
            y[usize::from(i)] = *yj;
        }
    }
}

crate::unary_kernel::unary_kernel!(
    what: "erf",
    generic: erf_slice_generic,
    avx512: erf_slice_avx512,
    avx2: erf_slice_avx2,
    slice: erf_slice,
    entry: sci_erf_n,
    routes: erf_routes,
);

#[cfg(test)]
mod tests {
    use super::*;
    use crate::unary_kernel::testing::{assert_libm_bits, bits, step, uniform};

    /// `erf` of `xs` by the kernel (the widest vectors), by AVX2 where the CPU has it, by
    /// the plain loop, and lane by lane, against libm's bits.
    fn check(xs: &[f64]) {
        let mut results = erf_routes(xs);
        let lanes = xs
            .iter()
            .map(|x| {
                if x.to_bits() & (u64::MAX >> 1) < NEAR_BITS {
                    erf_lane::<false>(*x)
                } else {
                    erf_lane::<true>(*x)
                }
            })
            .collect();
        results.push(("lane", lanes));
        assert_libm_bits("erf", libm::erf, xs, &results);
    }

    #[test]
    fn special_values_and_range_boundaries_match_libm() {
        let mut xs = vec![
            0.0,
            f64::MIN_POSITIVE,
            f64::MIN_POSITIVE.next_down(),
            5e-324,
            1e-310,
            1e-300,
            1e-20,
            2f64.powi(-28),
            0.5,
            0.84375,
            1.0,
            1.25,
            1.0 / 0.35,
            2.0,
            6.0,
            28.0,
            1e300,
            f64::MAX,
            f64::INFINITY,
            f64::NAN,
        ];
        // Every range boundary, with neighbours on both sides.
        for x in [2f64.powi(-28), 0.84375, 1.25, 1.0 / 0.35, 6.0] {
            for d in -3..=3 {
                xs.push(step(x, d));
            }
        }
        // The same by high words (musl compares those), low words at both ends and random.
        let mut seed = 0x5851_f42d_4c95_7f2du64;
        for w in [
            0x3e30_0000u64,
            0x3feb_0000,
            0x3ff4_0000,
            0x4006_db6d,
            0x4018_0000,
            0x7ff0_0000,
        ] {
            for d in [-2i64, -1, 0, 1, 2] {
                let base = ((w as i64 + d) as u64) << 32;
                let ends = [0u64, 1, 0x8000_0000, 0xffff_ffff];
                let lows = ends
                    .into_iter()
                    .chain((0..256).map(|_| bits(&mut seed) >> 32));
                for low in lows {
                    xs.push(f64::from_bits(base | low));
                }
            }
        }
        // Where the first exp's reduction changes k (-z² - 0.5625 = (k + 0.5)·ln2).
        for k in 3..60 {
            let at = ((k as f64 + 0.5) * std::f64::consts::LN_2 - 0.5625).sqrt();
            if at < 6.0 {
                for d in -3..=3 {
                    xs.push(step(at, d));
                }
            }
        }
        let negated: Vec<f64> = xs.iter().map(|x| -x).collect();
        xs.extend(negated);
        check(&xs);
    }

    #[test]
    fn random_arguments_match_libm_bit_for_bit() {
        let mut seed = 0x9e37_79b9_7f4a_7c15u64;
        // Uniform in [-8, 8] (every range erf computes), GELU's arguments x/√2 for a
        // standard normal x (a sum of uniforms: mostly small, a few large among them),
        // log-uniform magnitudes (subnormal to huge), and raw bit patterns (NaNs,
        // infinities, subnormals included).
        let near: Vec<f64> = (0..1_000_000)
            .map(|_| uniform(&mut seed, -8.0, 8.0))
            .collect();
        check(&near);
        let gelu: Vec<f64> = (0..1_000_000)
            .map(|_| (0..4).map(|_| uniform(&mut seed, -1.5, 1.5)).sum())
            .collect();
        check(&gelu);
        let logs: Vec<f64> = (0..1_000_000)
            .map(|_| {
                let s = if bits(&mut seed) & 1 == 0 { 1.0 } else { -1.0 };
                s * 10f64.powf(uniform(&mut seed, -12.0, 2.0))
            })
            .collect();
        check(&logs);
        let tiny: Vec<f64> = (0..200_000)
            .map(|_| {
                let s = if bits(&mut seed) & 1 == 0 { 1.0 } else { -1.0 };
                s * 10f64.powf(uniform(&mut seed, -324.0, -12.0))
            })
            .collect();
        check(&tiny);
        let raw: Vec<f64> = (0..200_000)
            .map(|_| f64::from_bits(bits(&mut seed)))
            .collect();
        check(&raw);
    }

    #[test]
    fn the_kernel_handles_every_length() {
        // Across vectors and blocks, with large arguments at the ends and in between.
        for n in (0..20).chain([BLOCK - 1, BLOCK, BLOCK + 1, 2 * BLOCK + 9]) {
            let xs: Vec<f64> = (0..n).map(|i| (i as f64 * 0.37).sin() * 3.0).collect();
            let mut ys = vec![f64::NAN; n];
            // SAFETY: both buffers hold `n` elements and do not overlap.
            unsafe { sci_erf_n(xs.as_ptr(), ys.as_mut_ptr(), n as u64) };
            for (x, y) in xs.iter().zip(&ys) {
                assert_eq!(y.to_bits(), libm::erf(*x).to_bits());
            }
        }
    }
}
