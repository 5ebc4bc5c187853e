//! The math functions generated code calls, and the C library's allocator: one table for
//! every native back end (Cranelift, LLVM, MLIR's CPU path).
//!
//! Generated code calls libm by function (`sin`, `pow`, …); each back end names the symbol its
//! own way (Cranelift the C name, LLVM a private `sci.libm.` name it cannot constant-fold,
//! MLIR `sci_libm_NAME`), and every JIT binds that symbol to the shim below: an
//! `extern "C"` function over the `libm` crate — the very functions the interpreter uses — so
//! JIT results are bit-identical to the oracle. Object files call the system libm instead
//! (link with `-lm`). `sqrt` and `floor` are machine instructions on every target we
//! generate for; their shims serve Cranelift on CPUs without SSE4.1, where it calls them.

use sci_ir::UnaryOp;

/// A shim: one or two `f64` arguments, an `f64` result, the C calling convention.
#[derive(Clone, Copy, Debug)]
pub(crate) enum Shim {
    One(extern "C" fn(f64) -> f64),
    Two(extern "C" fn(f64, f64) -> f64),
}

/// One math function generated code may call.
#[derive(Clone, Copy, Debug)]
pub(crate) struct MathFn {
    /// The C name (`sin`).
    pub name: &'static str,
    /// The JIT's definition.
    pub shim: Shim,
}

impl MathFn {
    /// 1 or 2 `double` arguments.
    #[cfg(any(feature = "llvm", test))]
    pub fn arity(&self) -> usize {
        match self.shim {
            Shim::One(_) => 1,
            Shim::Two(_) => 2,
        }
    }

    /// The address of the shim, for a JIT's symbol table.
    pub fn address(&self) -> *const u8 {
        match self.shim {
            Shim::One(f) => f as *const u8,
            Shim::Two(f) => f as *const u8,
        }
    }
}

macro_rules! math_table {
    (one: $($n1:ident),* ; two: $($n2:ident),* $(,)?) => {
        mod shims {
            $(pub(super) extern "C" fn $n1(x: f64) -> f64 { libm::$n1(x) })*
            $(pub(super) extern "C" fn $n2(x: f64, y: f64) -> f64 { libm::$n2(x, y) })*
        }
        /// Every math function generated code may call.
        pub(crate) static MATH: &[MathFn] = &[
            $(MathFn { name: stringify!($n1), shim: Shim::One(shims::$n1) },)*
            $(MathFn { name: stringify!($n2), shim: Shim::Two(shims::$n2) },)*
        ];
    };
}

math_table! {
    one: sin, cos, tan, asin, acos, atan, sinh, cosh, tanh, exp, log, log1p, erf, floor, sqrt;
    two: pow, atan2,
}

/// The math function with C name `name`.
#[cfg(any(feature = "llvm", test))]
pub(crate) fn math_fn(name: &str) -> Option<&'static MathFn> {
    MATH.iter().find(|f| f.name == name)
}

unsafe extern "C" {
    fn malloc(size: usize) -> *mut u8;
    fn free(ptr: *mut u8);
}

/// `malloc` and `free` for the JITs (the C library's, which object files also call).
pub(crate) fn allocator_symbols() -> [(&'static str, *const u8); 2] {
    [("malloc", malloc as *const u8), ("free", free as *const u8)]
}

/// `tanh`, `erf`, `exp`, `gelu` and `dgelu` of tensors with at least this many elements go
/// to their vector kernels ([`UNARY_KERNELS`], the same bits as libm's functions and the
/// interpreter's GELU).
pub(crate) const UNARY_KERNEL_MIN: usize = 8;

/// The unary functions with a vector kernel over buffers, `void NAME(const double *x,
/// double *y, uint64_t n)` computing the interpreter's bits for each element (`vtanh`,
/// `verf`, `vexp`: libm's; `vgelu`: `interp::gelu` and `dgelu`).
pub(crate) const UNARY_KERNELS: [(UnaryOp, &str); 5] = [
    (UnaryOp::Tanh, "sci_tanh_n"),
    (UnaryOp::Erf, "sci_erf_n"),
    (UnaryOp::Exp, "sci_exp_n"),
    (UnaryOp::Gelu, "sci_gelu_n"),
    (UnaryOp::Dgelu, "sci_dgelu_n"),
];

/// The kernel generated code calls for `op` of a value of type `ty`, if any: `op` has one
/// ([`UNARY_KERNELS`]) and `ty` is an unbatched `f64` tensor of at least
/// [`UNARY_KERNEL_MIN`] elements, in code that links sci's kernels (`linked`: the JITs,
/// whose options run the tile runtime; not object files, which keep the per-element libm
/// call).
pub(crate) fn unary_kernel(linked: bool, op: UnaryOp, ty: &sci_ir::Type) -> Option<&'static str> {
    let applies = linked
        && ty.dtype == sci_ir::DType::F64
        && !ty.shape.is_empty()
        && !ty.batched
        && ty.element_count().is_some_and(|n| n >= UNARY_KERNEL_MIN);
    let (_, name) = UNARY_KERNELS.iter().find(|(o, _)| *o == op)?;
    applies.then_some(*name)
}

/// Products with at least this many multiply–adds go to [`sci_matmul`]; smaller ones stay
/// loops (cheap inline, and added in the interpreter's order: the per-point products of
/// untiled code, a small network's Jacobian, agree with the interpreter bit for bit).
pub(crate) const MATMUL_KERNEL_MIN: usize = 2048;

/// Which kernel a JIT-compiled `f64` matrix product `[m, k] × [k, n]` calls.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum MatmulKernel {
    /// [`sci_matmul`]: large products.
    Gemm,
    /// `matmul_seq::sci_matmul_seq`: small ones with a row to vectorise, summed in the
    /// element loop's order (the same bits).
    Sequential,
}

impl MatmulKernel {
    /// The kernel for `[m, n, k]`; `None`: the generated loop (too narrow to vectorise).
    pub(crate) fn for_dims([m, n, k]: [usize; 3]) -> Option<MatmulKernel> {
        if m * n * k >= MATMUL_KERNEL_MIN {
            Some(MatmulKernel::Gemm)
        } else if n >= crate::matmul_seq::MATMUL_SEQ_MIN_COLUMNS {
            Some(MatmulKernel::Sequential)
        } else {
            None
        }
    }

    /// The kernel's symbol.
    pub(crate) fn symbol(self) -> &'static str {
        match self {
            MatmulKernel::Gemm => "sci_matmul",
            MatmulKernel::Sequential => "sci_matmul_seq",
        }
    }
}

/// Products of at least this many multiply–adds (`m·n·k`) go to faer's packed GEMM, smaller
/// ones to nano-gemm's unpacked micro-kernels. Measured on one core (AVX-512, f64): faer
/// ran `[64, 64] × [64, 256]` at 123 GFLOP/s against nano-gemm's 80 and `[128, 64] × [64,
/// 256]` at 119 against 91, while nano-gemm stays ahead at `64³` (107 against 79) and
/// below, where packing costs more than it saves.
const FAER_GEMM_MIN: usize = 1 << 19;

/// `c = a · b` for row-major `a: [m, k]`, `b: [k, n]`, `c: [m, n]`: large products by
/// faer's GEMM, the others by `nano-gemm`'s micro-kernels for the host's widest vectors
/// (written as `cᵀ = bᵀ aᵀ`, column-major, the layout its fastest kernels take). Generated
/// code calls this for large `matmul`s; both run on the calling thread (the tile runtime
/// owns the threads).
///
/// # Safety
/// `a`, `b` and `c` point to `m·k`, `k·n` and `m·n` valid `f64`s; `c` overlaps neither.
pub(crate) unsafe extern "C" fn sci_matmul(
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
    if k == 0 {
        // SAFETY: `c` has `m·n` elements (the caller's contract).
        unsafe { std::ptr::write_bytes(c, 0, m * n) };
        return;
    }
    if m * n * k >= FAER_GEMM_MIN {
        // SAFETY: the caller's contract: valid, row-major, `c` not overlapping.
        let (a, b, c) = unsafe {
            (
                std::slice::from_raw_parts(a, m * k),
                std::slice::from_raw_parts(b, k * n),
                std::slice::from_raw_parts_mut(c, m * n),
            )
        };
        faer::linalg::matmul::matmul(
            faer::MatMut::from_row_major_slice_mut(c, m, n),
            faer::Accum::Replace,
            faer::MatRef::from_row_major_slice(a, m, k),
            faer::MatRef::from_row_major_slice(b, k, n),
            1.0,
            faer::Par::Seq,
        );
        return;
    }
    let plan = nano_gemm::Plan::new_colmajor_lhs_and_dst_f64(n, m, k);
    // SAFETY: the strides describe exactly the caller's buffers: dst `cᵀ` is n × m with
    // column stride n, lhs `bᵀ` is n × k with column stride n, rhs `aᵀ` is k × m with column
    // stride k; alpha = 0 so `c` is only written.
    unsafe {
        plan.execute_unchecked(
            n, m, k, c, 1, n as isize, b, 1, n as isize, a, 1, k as isize, 0.0, 1.0, false, false,
        );
    }
}

/// The kernels generated code may call, for the JITs' symbol tables.
pub(crate) fn kernel_symbols() -> [(&'static str, *const u8); 16] {
    [
        ("sci_gelu_n", crate::vgelu::sci_gelu_n as *const u8),
        ("sci_dgelu_n", crate::vgelu::sci_dgelu_n as *const u8),
        ("sci_select", crate::vecops::sci_select as *const u8),
        ("sci_broadcast", crate::vecops::sci_broadcast as *const u8),
        ("sci_transpose", crate::vecops::sci_transpose as *const u8),
        ("sci_ew", crate::vecops::sci_ew as *const u8),
        ("sci_fill", crate::vecops::sci_fill as *const u8),
        ("sci_arena_mark", crate::arena::sci_arena_mark as *const u8),
        (
            "sci_arena_alloc",
            crate::arena::sci_arena_alloc as *const u8,
        ),
        (
            "sci_arena_release",
            crate::arena::sci_arena_release as *const u8,
        ),
        ("sci_matmul", sci_matmul as *const u8),
        (
            "sci_matmul_seq",
            crate::matmul_seq::sci_matmul_seq as *const u8,
        ),
        ("sci_tile_map", crate::parallel::sci_tile_map as *const u8),
        ("sci_tanh_n", crate::vtanh::sci_tanh_n as *const u8),
        ("sci_erf_n", crate::verf::sci_erf_n as *const u8),
        ("sci_exp_n", crate::vexp::sci_exp_n as *const u8),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_unique_and_found() {
        for (k, f) in MATH.iter().enumerate() {
            assert!(
                MATH[..k].iter().all(|g| g.name != f.name),
                "{} twice",
                f.name
            );
            assert!(std::ptr::eq(math_fn(f.name).unwrap(), f));
        }
        assert_eq!(math_fn("pow").map(MathFn::arity), Some(2));
        assert_eq!(math_fn("tanh").map(MathFn::arity), Some(1));
        assert!(math_fn("exp2").is_none());
    }

    #[test]
    fn every_unary_kernel_is_bound_for_the_jits() {
        let symbols = kernel_symbols();
        for (op, name) in UNARY_KERNELS {
            assert!(symbols.iter().any(|(s, _)| *s == name), "{name}");
            // The element loop's fallback: libm's function, or (GELU) code calling erf, exp.
            let fallback = match op {
                UnaryOp::Gelu | UnaryOp::Dgelu => vec!["erf", "exp"],
                _ => vec![op.name()],
            };
            for f in fallback {
                assert!(math_fn(f).is_some(), "{name}: no libm {f}");
            }
        }
    }

    #[test]
    fn the_matmul_kernel_multiplies_row_major_matrices() {
        for (m, n, k) in [(1, 1, 1), (3, 5, 2), (20, 32, 20), (7, 1, 9), (2, 3, 0)] {
            let a: Vec<f64> = (0..m * k).map(|i| (i as f64 * 0.7).sin()).collect();
            let b: Vec<f64> = (0..k * n).map(|i| (i as f64 * 1.3).cos()).collect();
            let mut c = vec![f64::NAN; m * n];
            // SAFETY: the buffers have the sizes the kernel reads and writes.
            unsafe {
                sci_matmul(
                    m as u64,
                    n as u64,
                    k as u64,
                    a.as_ptr(),
                    b.as_ptr(),
                    c.as_mut_ptr(),
                )
            };
            for i in 0..m {
                for j in 0..n {
                    let want: f64 = (0..k).map(|l| a[i * k + l] * b[l * n + j]).sum();
                    assert!(
                        (c[i * n + j] - want).abs() < 1e-12,
                        "{m}×{n}×{k} at {i},{j}"
                    );
                }
            }
        }
    }
}
