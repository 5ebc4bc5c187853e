//! What the vector kernels of unary functions (`vtanh`, `vexp`, `verf`) share: the
//! dispatch to the widest vectors the CPU has, and the C entry point generated code calls.
//!
//! Each kernel writes its elementwise loop once (`#[inline(always)]`, lanes the compiler
//! vectorises); [`unary_kernel!`] compiles it again for AVX-512F and for AVX2, picks one at
//! run time, and wraps it for the JITs' symbol tables.

/// Defines, for the loop `generic(x, y)`: `avx512` and `avx2` (the loop compiled for those
/// features; tests call them directly), `slice(x, y)` (the widest the CPU has), and the C
/// entry point `entry(x, y, n)` over raw buffers.
macro_rules! unary_kernel {
    (
        what: $what:literal,
        generic: $generic:ident,
        avx512: $avx512:ident,
        avx2: $avx2:ident,
        slice: $slice:ident,
        entry: $entry:ident $(,)?
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
    };
}

pub(crate) use unary_kernel;
