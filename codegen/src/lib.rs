//! Back ends: one [`Backend`] trait, a reference implementation on the interpreter, and the
//! Cranelift code generator (feature `cranelift`, on by default).
//!
//! A back end compiles a validated IR [`Module`] into a [`CompiledModule`]: a table of
//! functions, each with its [`Signature`] (the shapes it takes and gives) and a safe entry
//! point, [`CompiledModule::call_flat`], that checks every length before native code runs.
//! The native calling convention is the C ABI of `docs/abi.md` ([`abi`]); the same functions
//! are written to object files for C hosts ([`cranelift::emit_object`]) with a header
//! ([`header::c_header`]).
//!
//! Functions that still contain a `deriv` placeholder (or call one that does) are not
//! compiled: they are listed in the table with the reason, and calling them is a clear
//! [`CallError`], never a panic.

pub mod abi;
#[cfg(any(feature = "cranelift", feature = "llvm", feature = "mlir"))]
mod arena;
#[cfg(feature = "cranelift")]
pub mod cranelift;
#[cfg(feature = "cuda")]
pub mod cuda;
pub mod describe;
pub mod difftest;
pub mod header;
pub mod interp;
#[cfg(any(feature = "cranelift", feature = "llvm", feature = "mlir"))]
mod libm;
#[cfg(feature = "llvm")]
pub mod llvm;
#[cfg(any(feature = "cranelift", feature = "llvm", feature = "mlir"))]
mod lower;
#[cfg(any(feature = "cranelift", feature = "llvm", feature = "mlir"))]
mod matmul_seq;
#[cfg(feature = "mlir")]
pub mod mlir;
#[cfg(any(feature = "cranelift", feature = "llvm"))]
mod native;
#[cfg(any(feature = "cranelift", feature = "llvm", feature = "mlir"))]
mod parallel;
#[cfg(any(feature = "cranelift", feature = "llvm", feature = "mlir"))]
mod plan;
#[cfg(any(feature = "cranelift", feature = "llvm", feature = "mlir"))]
mod unary_kernel;
#[cfg(any(feature = "cranelift", feature = "llvm", feature = "mlir"))]
mod vecops;
#[cfg(any(feature = "cranelift", feature = "llvm", feature = "mlir"))]
mod verf;
#[cfg(any(feature = "cranelift", feature = "llvm", feature = "mlir"))]
mod vexp;
#[cfg(any(feature = "cranelift", feature = "llvm", feature = "mlir"))]
mod vgelu;
#[cfg(any(feature = "cranelift", feature = "llvm", feature = "mlir"))]
mod vtanh;

pub use abi::{ArgSpec, Signature, Status};
pub use interp::InterpreterBackend;

use sci_ir::{FuncId, Module, Tensor, ValidModule};
use std::fmt;

/// How the native back ends' `reduce_batch sum` and `mean` add up points.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum BatchSum {
    /// Neumaier's compensated summation: the error stays a few ulps whatever the number of
    /// points (the default).
    #[default]
    Compensated,
    /// Left to right, like the interpreter: bit-identical to it.
    Sequential,
}

/// Why a module could not be compiled.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CodegenError {
    /// A full sentence.
    pub message: String,
}

impl CodegenError {
    /// An error with the given message.
    pub fn new(message: impl Into<String>) -> CodegenError {
        CodegenError {
            message: message.into(),
        }
    }
}

impl fmt::Display for CodegenError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for CodegenError {}

/// Why a call of a compiled function failed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CallError {
    /// A full sentence.
    pub message: String,
}

impl CallError {
    /// An error with the given message.
    pub fn new(message: impl Into<String>) -> CallError {
        CallError {
            message: message.into(),
        }
    }
}

impl fmt::Display for CallError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for CallError {}

/// A code generator.
pub trait Backend {
    /// A short name for messages and test reports (`"cranelift"`).
    fn name(&self) -> &'static str;

    /// Compiles every function of `module` that can be compiled. The module is valid by
    /// construction ([`validate`] makes one), so no back end validates it again; functions
    /// with unexpanded derivatives are listed as unavailable (see
    /// [`CompiledFunction::unavailable`]).
    fn compile(&self, module: &ValidModule) -> Result<Box<dyn CompiledModule>, CodegenError>;
}

/// Validates `module` for [`Backend::compile`]: invalid IR is an error naming every problem.
pub fn validate(module: &Module) -> Result<ValidModule, CodegenError> {
    ValidModule::validate(module.clone()).map_err(|errs| interp::invalid_ir(module, &errs))
}

/// The check of [`validate`] for entry points that compile a `&Module` once and keep no copy
/// (object files, headers, LLVM IR and PTX text): the same error, no clone.
pub(crate) fn check_valid(module: &Module) -> Result<(), CodegenError> {
    sci_ir::validate_module(module).map_err(|errs| interp::invalid_ir(module, &errs))
}

/// One function of a compiled module.
#[derive(Clone, Debug, PartialEq)]
pub struct CompiledFunction {
    /// The IR name (`rhs`, `residual.pde`, `rosenbrock[4]`).
    pub name: String,
    /// Its id in the IR module.
    pub id: FuncId,
    /// Inputs and result.
    pub signature: Signature,
    /// Why the function has no code (an unexpanded `deriv`), or `None` when it can be called.
    pub unavailable: Option<String>,
}

/// Compiled code for one module. Dropping it frees the code.
pub trait CompiledModule: Send + Sync + fmt::Debug {
    /// The back end that produced it.
    fn backend(&self) -> &'static str;

    /// Every function of the module, in the module's order.
    fn functions(&self) -> &[CompiledFunction];

    /// Calls function number `index` (a position in [`CompiledModule::functions`]) on flat
    /// row-major inputs, writing its flat result to `out`.
    ///
    /// Each unbatched input must have exactly its shape's element count; a batched input any
    /// whole number of points (its length divided by the per-point count). `out` must have
    /// exactly [`Signature::result_len`] elements for those inputs. Violations, run-time
    /// failures (an index out of range, batches of different sizes) and unavailable
    /// functions are errors; nothing panics.
    fn call_flat(&self, index: usize, inputs: &[&[f64]], out: &mut [f64]) -> Result<(), CallError>;

    /// The position of the function called `name`.
    fn index_of(&self, name: &str) -> Option<usize> {
        self.functions().iter().position(|f| f.name == name)
    }

    /// Calls the function called `name` on tensors (a convenience over
    /// [`CompiledModule::call_flat`] with the same checks, for tests and tools).
    fn call(&self, name: &str, args: &[Tensor]) -> Result<Tensor, CallError> {
        let index = self.index_of(name).ok_or_else(|| {
            CallError::new(format!(
                "The compiled module has no function named `{name}`."
            ))
        })?;
        let sig = &self.functions()[index].signature;
        sig.check_tensors(name, args)?;
        let inputs: Vec<&[f64]> = args.iter().map(|t| t.data.as_slice()).collect();
        let points = sig.result_points(&inputs);
        let mut out = vec![0.0; sig.result_len(&inputs).unwrap_or(0)];
        self.call_flat(index, &inputs, &mut out)?;
        Ok(Tensor {
            shape: sig.result.shape.clone(),
            batch: if sig.result.batched { points } else { None },
            data: out,
        })
    }
}

/// The back end this build uses by default: Cranelift when the feature is on, else none.
pub fn default_backend() -> Result<Box<dyn Backend>, CodegenError> {
    default_backend_threads(0)
}

/// The default back end, running the tiles of outlined `tile_map`s on `threads` threads
/// (0: all cores). Results are the same bits for every thread count.
pub fn default_backend_threads(threads: usize) -> Result<Box<dyn Backend>, CodegenError> {
    #[cfg(feature = "cranelift")]
    {
        Ok(Box::new(cranelift::CraneliftBackend::with_options(
            cranelift::CraneliftOptions {
                threads: Some(threads),
                ..Default::default()
            },
        )))
    }
    #[cfg(not(feature = "cranelift"))]
    {
        let _ = threads;
        Err(CodegenError::new(
            "This build of sci has no native back end; rebuild with the `cranelift` feature \
             (on by default) or use the interpreter.",
        ))
    }
}

/// The LLVM back end (feature `llvm`), or a clear error when this build does not have it.
pub fn llvm_backend() -> Result<Box<dyn Backend>, CodegenError> {
    llvm_backend_threads(0)
}

/// The LLVM back end, running the tiles of outlined `tile_map`s on `threads` threads (0: all
/// cores).
pub fn llvm_backend_threads(threads: usize) -> Result<Box<dyn Backend>, CodegenError> {
    #[cfg(feature = "llvm")]
    {
        Ok(Box::new(llvm::LlvmBackend::with_options(
            llvm::LlvmOptions {
                threads: Some(threads),
                ..Default::default()
            },
        )))
    }
    #[cfg(not(feature = "llvm"))]
    {
        let _ = threads;
        Err(CodegenError::new(
            "This build of sci has no LLVM back end; rebuild with `--features llvm` (it needs \
             the system LLVM 22: `scripts/install-llvm.sh`) or use the default Cranelift back end.",
        ))
    }
}

/// The MLIR back end's CPU path (feature `mlir`), or a clear error when this build does not
/// have it.
pub fn mlir_backend() -> Result<Box<dyn Backend>, CodegenError> {
    #[cfg(feature = "mlir")]
    {
        Ok(Box::new(mlir::MlirBackend::new()))
    }
    #[cfg(not(feature = "mlir"))]
    {
        Err(CodegenError::new(
            "This build of sci has no MLIR back end; rebuild with `--features mlir` (it needs \
             the system MLIR 22: `scripts/install-llvm.sh`) or use the default Cranelift back end.",
        ))
    }
}
