//! The functions LLVM-compiled code calls: math from the `libm` crate, and `malloc`/`free`.
//!
//! Generated code calls math functions under private names (`sci.libm.sin`, …) rather than
//! the C names: LLVM recognises `sin`, `pow`, `exp`, … as library functions and would
//! constant-fold them with the host's libm or rewrite them (`pow(2, x)` → `exp2(x)`), and
//! the results would no longer be the interpreter's. The private names are declared pure
//! (`memory(none)`, `nounwind`, `willreturn`), so LLVM may still hoist and share the calls.
//! The JIT maps each name to an `extern "C"` shim over the `libm` crate — the very
//! functions the interpreter (and the Cranelift JIT) use — so results agree bit for bit.
//! `sqrt`, `floor`, `fabs`, `min`/`max` and the arithmetic are LLVM instructions or
//! intrinsics (correctly rounded or exact).

/// One math function called by generated code.
#[derive(Clone, Copy, Debug)]
pub(crate) struct MathFn {
    /// The C name of the function (`sin`).
    pub name: &'static str,
    /// 1 or 2 `double` arguments.
    pub arity: usize,
    /// Its definition.
    pub ptr: usize,
}

impl MathFn {
    /// The symbol generated code calls.
    pub fn symbol(&self) -> String {
        format!("{MATH_PREFIX}{}", self.name)
    }
}

/// The prefix of the private math symbols.
pub(crate) const MATH_PREFIX: &str = "sci.libm.";

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

/// Every math function generated code may call, with its definition.
pub(crate) fn math_functions() -> Vec<MathFn> {
    let one = |name, f: extern "C" fn(f64) -> f64| MathFn {
        name,
        arity: 1,
        ptr: f as usize,
    };
    let two = |name, f: extern "C" fn(f64, f64) -> f64| MathFn {
        name,
        arity: 2,
        ptr: f as usize,
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
        two("pow", sci_pow),
        two("atan2", sci_atan2),
    ]
}

unsafe extern "C" {
    fn malloc(size: usize) -> *mut u8;
    fn free(ptr: *mut u8);
}

/// `malloc` and `free` for the JIT (the C library's).
pub(crate) fn allocator_symbols() -> [(&'static str, usize); 2] {
    [
        ("malloc", malloc as *const () as usize),
        ("free", free as *const () as usize),
    ]
}

/// The definition of the external symbol `name` the JIT must bind, if it is one of ours.
pub(crate) fn definition_of(name: &str) -> Option<usize> {
    if let Some(short) = name.strip_prefix(MATH_PREFIX) {
        return math_functions()
            .into_iter()
            .find(|f| f.name == short)
            .map(|f| f.ptr);
    }
    allocator_symbols()
        .into_iter()
        .find(|(n, _)| *n == name)
        .map(|(_, p)| p)
}
