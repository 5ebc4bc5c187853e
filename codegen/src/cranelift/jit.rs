//! JIT compilation into executable memory, and safe calls into it.
//!
//! Each compiled module owns one `JITModule`; dropping the [`JitCode`] frees its memory.
//! Rust calls every function through its packed entry (see `define_packed`), after
//! [`check_call`](crate::interp::check_call) has checked every length, so the native code
//! only ever reads and writes within the slices it was given.

use super::{CraneliftOptions, cl_error, define_module, isa};
use crate::interp::function_table;
use crate::{CallError, CodegenError, CompiledFunction, CompiledModule};
use cranelift_jit::{JITBuilder, JITModule};
use sci_ir::ValidModule;
use std::fmt;

use crate::native::Packed;

/// Natively compiled functions of one module.
pub struct JitCode {
    functions: Vec<CompiledFunction>,
    entries: Vec<Option<Packed>>,
    code: Option<OwnedJit>,
}

/// The JIT module that owns the code.
struct OwnedJit(JITModule);

// SAFETY: after `finalize_definitions` the module is never used again except to free its
// memory when the owner drops (which takes `&mut self`, so no call can be running). The code
// itself is immutable and reentrant: functions keep all state in their own frames.
unsafe impl Send for OwnedJit {}
unsafe impl Sync for OwnedJit {}

impl fmt::Debug for JitCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let names: Vec<&str> = self.functions.iter().map(|f| f.name.as_str()).collect();
        f.debug_struct("JitCode")
            .field("functions", &names)
            .finish()
    }
}

impl Drop for JitCode {
    fn drop(&mut self) {
        self.entries.clear();
        if let Some(OwnedJit(module)) = self.code.take() {
            // SAFETY: the entries (the only pointers into the code) are gone, and `&mut self`
            // guarantees no call is in progress.
            unsafe { module.free_memory() };
        }
    }
}

/// JIT-compiles every available function of `module`.
pub(super) fn compile(
    module: &ValidModule,
    options: &CraneliftOptions,
) -> Result<JitCode, CodegenError> {
    let module = module.module();
    let functions = function_table(module);
    let mut builder = JITBuilder::with_isa(
        isa(options, false)?,
        cranelift_module::default_libcall_names(),
    );
    for f in crate::libm::MATH {
        builder.symbol(f.name, f.address());
    }
    for (name, ptr) in crate::libm::allocator_symbols()
        .into_iter()
        .chain(crate::libm::kernel_symbols())
    {
        builder.symbol(name, ptr);
    }
    let mut jit = JITModule::new(builder);
    let defined = match define_module(&mut jit, module, &functions, options, true).and_then(|d| {
        jit.finalize_definitions()
            .map_err(|e| cl_error("link the compiled code", e))?;
        Ok(d)
    }) {
        Ok(d) => d,
        Err(e) => {
            // SAFETY: no pointer into the module's memory was handed out.
            unsafe { jit.free_memory() };
            return Err(e);
        }
    };
    let entries = defined
        .iter()
        .map(|d| {
            d.and_then(|d| d.packed).map(|id| {
                let ptr = jit.get_finalized_function(id);
                // SAFETY: `id` is a packed entry, defined by `define_packed` with exactly the
                // signature of `Packed` in the platform's C calling convention.
                unsafe { std::mem::transmute::<*const u8, Packed>(ptr) }
            })
        })
        .collect();
    Ok(JitCode {
        functions,
        entries,
        code: Some(OwnedJit(jit)),
    })
}

impl CompiledModule for JitCode {
    fn backend(&self) -> &'static str {
        "cranelift"
    }

    fn functions(&self) -> &[CompiledFunction] {
        &self.functions
    }

    fn call_flat(&self, index: usize, inputs: &[&[f64]], out: &mut [f64]) -> Result<(), CallError> {
        crate::native::call_packed(&self.functions, &self.entries, index, inputs, out)
    }
}
