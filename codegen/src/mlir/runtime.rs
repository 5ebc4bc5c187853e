//! The math functions CPU code calls: `@sci_libm_NAME`, bound by the execution engine to
//! `extern "C"` shims over the `libm` crate — the functions the interpreter uses — so the
//! MLIR CPU path agrees with the oracle bit for bit. (`sqrt`, `floor`, `abs` and `trunc`
//! are `math` ops that become exact LLVM intrinsics.)

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
    sci_erf => libm::erf,
}

shims2! {
    sci_pow => libm::pow, sci_atan2 => libm::atan2,
}

/// Every function with a shim.
pub(super) const NAMES: [&str; 15] = [
    "sin", "cos", "tan", "asin", "acos", "atan", "sinh", "cosh", "tanh", "exp", "log", "log1p",
    "erf", "pow", "atan2",
];

/// The address of the shim of libm function `name` (`sin`, `pow`, …).
pub(super) fn shim(name: &str) -> Option<*mut ()> {
    let one = |f: extern "C" fn(f64) -> f64| Some(f as *mut ());
    let two = |f: extern "C" fn(f64, f64) -> f64| Some(f as *mut ());
    match name {
        "sin" => one(sci_sin),
        "cos" => one(sci_cos),
        "tan" => one(sci_tan),
        "asin" => one(sci_asin),
        "acos" => one(sci_acos),
        "atan" => one(sci_atan),
        "sinh" => one(sci_sinh),
        "cosh" => one(sci_cosh),
        "tanh" => one(sci_tanh),
        "exp" => one(sci_exp),
        "log" => one(sci_log),
        "log1p" => one(sci_log1p),
        "erf" => one(sci_erf),
        "pow" => two(sci_pow),
        "atan2" => two(sci_atan2),
        _ => None,
    }
}
