//! What the vector kernels of unary functions (`vtanh`, `vexp`, `verf`) share: the
//! dispatch to the widest vectors the CPU has, and the C entry point generated code calls.
//!
//! Each kernel writes its elementwise loop once (`#[inline(always)]`, lanes the compiler
//! vectorises); [`unary_kernel!`] compiles it again for AVX-512F and for AVX2, picks one at
//! run time, and wraps it for the JITs' symbol tables.

/// Defines, for the loop `generic(x, y)`: `avx512` and `avx2` (the loop compiled for those
/// features), `slice(x, y)` (the widest the CPU has), the C entry point `entry(x, y, n)`
/// over raw buffers, and for the tests `routes(x)`: the results by every path the CPU can
/// take (`slice`, AVX2, the plain loop), each to be held to libm's bits.
macro_rules! unary_kernel {
    (
        what: $what:literal,
        generic: $generic:ident,
        avx512: $avx512:ident,
        avx2: $avx2:ident,
        slice: $slice:ident,
        entry: $entry:ident,
        routes: $routes:ident $(,)?
    ) => {
        #[cfg(target_arch = "x86_64")]
        #[target_feature(enable = "avx512f")]
        fn $avx512(x: &[f64], y: &mut [f64]) {
            $generic(x, y)
        }

        #[cfg(target_arch = "x86_64")]
        #[target_feature(enable = "avx2")]
        fn $avx2(x: &[f64], y: &mut [f64]) {
            $generic(x, y)
        }

        #[doc = concat!(
            "`y = ", $what, "(x)` elementwise with the widest vectors this CPU has (`x`, `y` \
             of one length)."
        )]
        pub(crate) fn $slice(x: &[f64], y: &mut [f64]) {
            #[cfg(target_arch = "x86_64")]
            {
                if std::arch::is_x86_feature_detected!("avx512f") {
                    // SAFETY: the CPU has AVX-512F (checked above).
                    return unsafe { $avx512(x, y) };
                }
                if std::arch::is_x86_feature_detected!("avx2") {
                    // SAFETY: the CPU has AVX2 (checked above).
                    return unsafe { $avx2(x, y) };
                }
            }
            $generic(x, y)
        }

        #[doc = concat!(
            "`y[i] = ", $what, "(x[i])` for `i < n`: the kernel generated code calls for `",
            $what, "` of a buffer."
        )]
        ///
        /// # Safety
        /// `x` and `y` point to `n` valid `f64`s each; they do not overlap.
        pub(crate) unsafe extern "C" fn $entry(x: *const f64, y: *mut f64, n: u64) {
            let n = n as usize;
            if n == 0 {
                return;
            }
            // SAFETY: the caller's contract.
            let (x, y) = unsafe {
                (
                    std::slice::from_raw_parts(x, n),
                    std::slice::from_raw_parts_mut(y, n),
                )
            };
            $slice(x, y);
        }

        #[cfg(test)]
        fn $routes(x: &[f64]) -> Vec<(&'static str, Vec<f64>)> {
            let mut results = vec![("vector", vec![0.0; x.len()])];
            $slice(x, &mut results[0].1);
            #[cfg(target_arch = "x86_64")]
            if std::arch::is_x86_feature_detected!("avx2") {
                let mut ys = vec![0.0; x.len()];
                // SAFETY: the CPU has AVX2 (checked above).
                unsafe { $avx2(x, &mut ys) };
                results.push(("AVX2", ys));
            }
            let mut plain = vec![0.0; x.len()];
            $generic(x, &mut plain);
            results.push(("scalar", plain));
            results
        }
    };
}

pub(crate) use unary_kernel;

/// Lanes per step of the kernels' vector loops.
pub(crate) const LANES: usize = 8;

/// `y[i] = lane(x[i])` for every element, [`LANES`] at a time: whole chunks the compiler
/// vectorises (`lane` is branch-free and inlined), then the remainder.
#[inline(always)]
pub(crate) fn map_lanes(x: &[f64], y: &mut [f64], lane: impl Fn(f64) -> f64) {
    let mut xs = x.chunks_exact(LANES);
    let mut ys = y.chunks_exact_mut(LANES);
    for (xc, yc) in (&mut xs).zip(&mut ys) {
        for (yi, xi) in yc.iter_mut().zip(xc) {
            *yi = lane(*xi);
        }
    }
    for (yi, xi) in ys.into_remainder().iter_mut().zip(xs.remainder()) {
        *yi = lane(*xi);
    }
}

/// What the kernels' tests share: bit comparison and deterministic arguments.
#[cfg(test)]
pub(crate) mod testing {
    /// Whether `got` is `want`'s bits (any NaN for a NaN).
    pub(crate) fn same(got: f64, want: f64) -> bool {
        got.to_bits() == want.to_bits() || (got.is_nan() && want.is_nan())
    }

    /// Asserts that every route's result (`results`, as the kernels' `routes` give them)
    /// is `libm(x)` bit for bit for each argument of `xs`; `what` names the function.
    pub(crate) fn assert_libm_bits(
        what: &str,
        libm: fn(f64) -> f64,
        xs: &[f64],
        results: &[(&str, Vec<f64>)],
    ) {
        for (i, x) in xs.iter().enumerate() {
            let want = libm(*x);
            for (how, ys) in results {
                let y = ys[i];
                assert!(
                    same(y, want),
                    "{what}({x:e}) = {want:e} (libm) but {y:e} ({how})"
                );
            }
        }
    }

    /// A small deterministic generator (xorshift), so the tests need no dependency.
    pub(crate) fn bits(seed: &mut u64) -> u64 {
        *seed ^= *seed << 13;
        *seed ^= *seed >> 7;
        *seed ^= *seed << 17;
        *seed
    }

    /// A uniform number in `[lo, hi)`.
    pub(crate) fn uniform(seed: &mut u64, lo: f64, hi: f64) -> f64 {
        lo + (bits(seed) >> 11) as f64 / (1u64 << 53) as f64 * (hi - lo)
    }

    /// `x` and the `d`-th float after it (`d < 0`: before), in bits; `x` finite.
    pub(crate) fn step(x: f64, d: i64) -> f64 {
        let mut y = x;
        for _ in 0..d.unsigned_abs() {
            y = if d > 0 { y.next_up() } else { y.next_down() };
        }
        y
    }
}
