//! The MLIR back end (feature `mlir`, melior against the system MLIR 22): IR functions to
//! MLIR (`func`, `arith`, `math`, `scf`, `memref`), then either
//!
//! - the CPU path, [`MlirBackend`]: lowered to the `llvm` dialect and JIT-compiled by
//!   MLIR's execution engine, so the whole lowering is checked against the interpreter by
//!   the differential suite; or
//! - the GPU path, [`emit_ptx`]: one `gpu.func` kernel per `map` at the top level of a
//!   function (`sci_ir::kernels`) plus column-reduction kernels, lowered through NVVM to PTX
//!   text, in process; [`KernelEmulator`] runs the same kernels on the CPU, with the
//!   launch configuration of the kernel ABI, for tests without a GPU.
//!
//! The lowering writes MLIR *text* (readable, testable without MLIR) that melior parses; the
//! pass pipelines are textual too ([`CPU_PIPELINE`], [`gpu_pipeline`]). Design, kernel ABI
//! and limits: `docs/mlir.md`.

mod call;
mod emit;
mod emulate;
mod function;
mod jit;
mod kernels;
mod layout;
mod lower;
mod ops;
mod pipeline;
mod ptx;
mod runtime;
mod text;

pub use emulate::{KernelEmulator, REDUCE_BLOCK, SITE_BLOCK};
pub use jit::MlirCode;
pub use pipeline::{CPU_PIPELINE, gpu_pipeline};
pub use ptx::{LIBDEVICE_IN_REPO, Ptx, PtxOptions, default_libdevice, emit_ptx};

use crate::{Backend, CodegenError, CompiledModule};
use sci_ir::{Module, ValidModule};

/// Settings of the MLIR CPU back end.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct MlirOptions {
    /// LLVM's optimisation level for the JIT (0–3).
    pub opt_level: u8,
}

impl Default for MlirOptions {
    fn default() -> MlirOptions {
        MlirOptions { opt_level: 3 }
    }
}

/// The MLIR CPU path as a [`Backend`].
#[derive(Clone, Copy, Debug, Default)]
pub struct MlirBackend {
    pub options: MlirOptions,
}

impl MlirBackend {
    /// The back end with default options (`-O3`).
    pub fn new() -> MlirBackend {
        MlirBackend::default()
    }

    /// The back end with the given options.
    pub fn with_options(options: MlirOptions) -> MlirBackend {
        MlirBackend { options }
    }
}

impl Backend for MlirBackend {
    fn name(&self) -> &'static str {
        "mlir"
    }

    fn compile(&self, module: &ValidModule) -> Result<Box<dyn CompiledModule>, CodegenError> {
        Ok(Box::new(jit::compile(
            module,
            usize::from(self.options.opt_level.min(3)),
        )?))
    }
}

/// The MLIR text the CPU path compiles for `module` (every function that has code, with
/// the calling convention of `docs/mlir.md`), before any pass.
pub fn emit_mlir(module: &Module) -> Result<String, CodegenError> {
    Ok(jit::cpu_module_text(&crate::validate(module)?)?.0)
}

/// The MLIR text of `module`'s GPU kernels (a `gpu.module @sci_kernels`) before any pass,
/// and the kernel names.
pub fn emit_gpu_mlir(module: &Module) -> Result<(String, Vec<String>), CodegenError> {
    let (text, names, _) = kernels::kernel_module_text(module, kernels::Mode::Gpu)?;
    Ok((text, names))
}
