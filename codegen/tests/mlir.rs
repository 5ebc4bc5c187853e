//! What is specific to the MLIR back end (its CPU path's numbers are checked with every
//! other back end's in `backends.rs`): the MLIR text it writes (this file), the GPU path's PTX assembled by a real `ptxas -arch=sm_90` with exactly the kernel
//! entries and parameters of the kernel ABI (`mlir/gpu.rs`), and the kernels run on the CPU
//! against the interpreter (`mlir/emulated.rs`); see `docs/mlir.md`.
//!
//! `ptxas` comes from `$SCI_PTXAS`, else from `scripts/install-ptxas.sh`'s
//! `target/cuda-tools/`; the PTX tests fail with a message when neither exists.

#![cfg(feature = "mlir")]

mod common;
mod mlir {
    pub mod emulated;
    pub mod gpu;
}

pub use common::{filetest_modules, has_deriv, read, structured};
use sci_codegen::Backend;
use sci_codegen::mlir::{MlirBackend, PtxOptions, emit_gpu_mlir, emit_mlir, emit_ptx};
use sci_ir::kernels::kernel_sites;

#[test]
fn invalid_ir_is_an_error_with_a_sentence_for_ptx() {
    let text = "module Bad\n\nfunc f(%x: f64[2], %y: f64[3]) -> f64[2] {\n  %s: f64[2] = add %x, %y\n  return %s\n}\n";
    let module = sci_ir::read_module(sci_diag::FileId(0), text).unwrap();
    let err = emit_ptx(&module, &PtxOptions::default()).unwrap_err();
    assert!(err.message.contains("not valid IR"), "{}", err.message);
    assert_eq!(MlirBackend::new().name(), "mlir");
}

/// The emitted text is structured MLIR: loops are `scf.for`, buffers `memref`, math the
/// libm shims, with no fast-math flag anywhere.
#[test]
fn emitted_mlir_is_structured_and_strict() {
    let text = emit_mlir(&structured()).unwrap();
    for needle in [
        "func.func @sci_f0(%a0: memref<?xf64>, %a0o: index, %out: memref<?xf64>, %outo: index) -> i32",
        "scf.for",
        "iter_args(",
        "memref.load",
        "func.call @sci_libm_sin(",
        "func.func private @sci_libm_pow(f64, f64) -> f64",
        "memref.global \"private\" constant",
        "memref.alloc(",
        "memref.dealloc",
    ] {
        assert!(text.contains(needle), "`{needle}` missing from:\n{text}");
    }
    assert!(!text.contains("fastmath"), "{text}");
    let (gpu, names) = emit_gpu_mlir(&structured()).unwrap();
    assert!(gpu.contains("gpu.module @sci_kernels"), "{gpu}");
    assert!(
        gpu.contains("math.tanh") || gpu.contains("math.exp"),
        "{gpu}"
    );
    assert!(!gpu.contains("sci_libm"), "{gpu}");
    assert_eq!(names.len(), kernel_sites(&structured()).len() + 4);
}
