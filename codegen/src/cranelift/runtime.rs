//! The functions compiled code calls: math from libm, and `malloc`/`free`.
//!
//! Generated code calls the C names (`sin`, `exp`, `pow`, …). An object file resolves them
//! against the system libm when linked with `-lm`. The JIT resolves them to `extern "C"`
//! shims over the `libm` crate — the very functions the interpreter uses — so JIT results
//! are bit-identical to the oracle. `sqrt`, `floor`, `abs`, `min`/`max` and the arithmetic
//! are Cranelift instructions (correctly rounded or exact, like libm's).

/// One math function called by generated code.
#[derive(Clone, Copy, Debug)]
pub(crate) struct MathFn {
    /// The C symbol.
    pub name: &'static str,
    /// 1 or 2 `double` arguments.
    pub arity: usize,
    /// The JIT's definition.
    pub ptr: *const u8,
}

macro_rules! shims1 {
    ($($name:ident => $f:path),* $(,)?) => {
        $(extern "C" fn $name(x: f64) -> f64 { $f(x) })*
    };
}

macro_rules! shims2 {
    ($($name:ident => $f:path),* $(,)?) => {
        $(extern "C" fn $name(x: f64, y: f64) -> f64 { $f(x, y) })*
    };
}

shims1! {
    sci_sin => libm::sin, sci_cos => libm::cos, sci_tan => libm::tan,
    sci_asin => libm::asin, sci_acos => libm::acos, sci_atan => libm::atan,
    sci_sinh => libm::sinh, sci_cosh => libm::cosh, sci_tanh => libm::tanh,
    sci_exp => libm::exp, sci_log => libm::log, sci_log1p => libm::log1p,
    sci_erf => libm::erf, sci_floor => libm::floor, sci_sqrt => libm::sqrt,
}

shims2! {
    sci_pow => libm::pow, sci_atan2 => libm::atan2,
}

/// Every math function generated code may call, with its JIT definition.
pub(crate) fn math_functions() -> Vec<MathFn> {
    let one = |name, f: extern "C" fn(f64) -> f64| MathFn {
        name,
        arity: 1,
        ptr: f as *const u8,
    };
    let two = |name, f: extern "C" fn(f64, f64) -> f64| MathFn {
        name,
        arity: 2,
        ptr: f as *const u8,
    };
    vec![
        one("sin", sci_sin),
        one("cos", sci_cos),
        one("tan", sci_tan),
        one("asin", sci_asin),
        one("acos", sci_acos),
        one("atan", sci_atan),
        one("sinh", sci_sinh),
        one("cosh", sci_cosh),
        one("tanh", sci_tanh),
        one("exp", sci_exp),
        one("log", sci_log),
        one("log1p", sci_log1p),
        one("erf", sci_erf),
        // Cranelift calls these if the target lacks the instruction (no SSE4.1).
        one("floor", sci_floor),
        one("sqrt", sci_sqrt),
        two("pow", sci_pow),
        two("atan2", sci_atan2),
    ]
}

unsafe extern "C" {
    fn malloc(size: usize) -> *mut u8;
    fn free(ptr: *mut u8);
}

/// `malloc` and `free` for the JIT (the C library's, which object files also call).
pub(crate) fn allocator_symbols() -> [(&'static str, *const u8); 2] {
    [("malloc", malloc as *const u8), ("free", free as *const u8)]
}
