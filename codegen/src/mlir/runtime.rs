//! How MLIR CPU code names the math functions it calls: `@sci_libm_NAME`, bound by the
//! execution engine to the shared shims over the `libm` crate (`crate::libm`) — the
//! functions the interpreter uses — so the MLIR CPU path agrees with the oracle bit for bit.
//! (`sqrt`, `floor`, `abs` and `trunc` are `math` ops that become exact LLVM intrinsics.)

/// The symbol of libm function `name` in MLIR CPU code.
pub(super) fn symbol(name: &str) -> String {
    format!("sci_libm_{name}")
}
