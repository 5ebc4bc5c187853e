//! What is specific to the LLVM back end: the optimised IR it JIT-compiles. Its numbers are
//! checked with every other back end's in `backends.rs`.

#![cfg(feature = "llvm")]

mod common;

use sci_codegen::llvm::LlvmOptions;

/// The optimised IR: loops over tensors are vectorised for the host, no instruction has a
/// fast-math flag, and math functions are the private `libm` shims (which LLVM cannot
/// constant-fold or rewrite with the host's libm).
#[test]
fn optimised_ir_is_vectorised_without_fast_math() {
    let ir =
        sci_codegen::llvm::emit_llvm_ir(&common::structured(), &LlvmOptions::default()).unwrap();
    assert!(ir.contains("x double>"), "no vector code:\n{ir}");
    for flag in [
        " fast ",
        " reassoc ",
        " contract ",
        " nnan ",
        " ninf ",
        " nsz ",
        " arcp ",
        " afn ",
    ] {
        assert!(!ir.contains(flag), "fast-math flag `{flag}` in:\n{ir}");
    }
    assert!(
        !ir.contains("fmuladd") && !ir.contains("llvm.fma"),
        "fused multiply-add"
    );
    assert!(ir.contains("@sci.libm.sin("), "sin is not the libm shim");
    for libc in ["@sin(", "@exp(", "@cos(", "@tanh(", "@pow("] {
        assert!(!ir.contains(libc), "{libc} called directly");
    }
}
