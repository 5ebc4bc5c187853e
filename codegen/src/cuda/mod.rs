//! The CUDA runtime (feature `cuda`): runs the kernel sites of a module (its top-level
//! batched `map`s, see [`sci_ir::kernels`]) as PTX kernels on an NVIDIA GPU.
//!
//! The driver (`libcuda.so`) is loaded at run time through cudarc, so a build with this
//! feature runs everywhere and answers "no CUDA device: …" where there is none
//! ([`CudaRuntime::new`]). The PTX comes from the MLIR back end (`sci compile --target nvptx
//! --emit ptx`, or `sci_codegen::mlir::emit_ptx` in builds with `mlir`); nothing here
//! compiles code.
//!
//! - [`runtime`]: the driver, device buffers, copies, raw launches;
//! - [`module`]: PTX loaded into the driver, its entries and their parameter counts;
//! - [`launch`]: the kernel ABI as pure functions (parameter lists, geometry, finishing a
//!   reduction's partials), tested without a GPU;
//! - [`cache`]: device copies found again by content (θ, collocation points, results);
//! - [`executor`]: [`CudaExecutor`], the interpreter's offload that launches the kernels;
//! - [`compiled`]: [`GpuModule`], a compiled module whose batched functions run on the GPU
//!   and the rest on CPU code.
//!
//! `docs/gpu.md` describes the whole path and the check on a GPU machine.

pub mod cache;
pub mod compiled;
pub mod executor;
pub mod launch;
pub mod module;
pub mod runtime;

pub use compiled::GpuModule;
pub use executor::CudaExecutor;
pub use module::CudaModule;
pub use runtime::CudaRuntime;

#[cfg(test)]
mod tests {
    use super::*;

    /// This machine (CI, the development machine) has no GPU: the runtime says so in
    /// words, without a panic. On a GPU machine the runtime opens the device instead.
    #[test]
    fn the_runtime_answers_no_cuda_device_or_opens_one() {
        match CudaRuntime::new() {
            Err(e) => {
                assert!(e.message.starts_with("no CUDA device: "), "{e}");
                assert!(!e.message.contains('\n'), "{e}");
            }
            Ok(rt) => assert!(!rt.device().is_empty()),
        }
    }
}
