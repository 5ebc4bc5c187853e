//! How LLVM-compiled code names the functions it calls (the table is `crate::libm`).
//!
//! Generated code calls math functions under private names (`sci.libm.sin`, …) rather than
//! the C names: LLVM recognises `sin`, `pow`, `exp`, … as library functions and would
//! constant-fold them with the host's libm or rewrite them (`pow(2, x)` → `exp2(x)`), and
//! the results would no longer be the interpreter's. The private names are declared pure
//! (`memory(none)`, `nounwind`, `willreturn`), so LLVM may still hoist and share the calls.
//! The JIT binds each name to the shared shim over the `libm` crate. `sqrt`, `floor`,
//! `fabs`, `min`/`max` and the arithmetic are LLVM instructions or intrinsics (correctly
//! rounded or exact).

use crate::libm::{MathFn, allocator_symbols, kernel_symbols, math_fn};

/// The prefix of the private math symbols.
pub(crate) const MATH_PREFIX: &str = "sci.libm.";

/// The symbol generated code calls for `f`.
pub(crate) fn symbol(f: &MathFn) -> String {
    format!("{MATH_PREFIX}{}", f.name)
}

/// The definition of the external symbol `name` the JIT must bind, if it is one of ours.
pub(crate) fn definition_of(name: &str) -> Option<usize> {
    if let Some(short) = name.strip_prefix(MATH_PREFIX) {
        return math_fn(short).map(|f| f.address() as usize);
    }
    allocator_symbols()
        .into_iter()
        .chain(kernel_symbols())
        .find(|(n, _)| *n == name)
        .map(|(_, p)| p as usize)
}
