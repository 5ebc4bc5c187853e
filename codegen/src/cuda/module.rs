//! PTX loaded into the driver: the kernel entries it declares (read from the text, so a
//! PTX file written for another model is caught by its parameter counts before anything
//! runs) and a function handle per entry.

use crate::CodegenError;
use crate::cuda::launch::{REDUCE_PARAM_COUNT, reduce_kernels};
use crate::cuda::runtime::{CudaRuntime, describe, guard};
use cudarc::driver::{result, sys};
use std::collections::HashMap;
use std::ffi::{CString, c_void};
use std::sync::Arc;

/// One `.entry` of a PTX text.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PtxEntry {
    pub name: String,
    /// Its number of `.param`s.
    pub params: usize,
}

/// The kernel entries declared in `ptx`, in order (`.entry NAME( .param …, … )`).
pub fn ptx_entries(ptx: &str) -> Vec<PtxEntry> {
    let mut out = Vec::new();
    let mut rest = ptx;
    while let Some(at) = rest.find(".entry") {
        rest = &rest[at + ".entry".len()..];
        let name: String = rest
            .trim_start()
            .chars()
            .take_while(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '$' | '.'))
            .collect();
        if name.is_empty() {
            continue;
        }
        let params = match (rest.find('('), rest.find(')')) {
            (Some(open), Some(close)) if open < close => {
                rest[open..close].matches(".param").count()
            }
            _ => 0,
        };
        out.push(PtxEntry { name, params });
    }
    out
}

/// Checks that `entries` hold the four column-reduction kernels with the parameters the
/// runtime passes.
pub fn check_reduce_kernels(entries: &[PtxEntry]) -> Result<(), CodegenError> {
    for name in reduce_kernels() {
        match entries.iter().find(|e| e.name == name) {
            Some(e) if e.params == REDUCE_PARAM_COUNT => {}
            Some(e) => {
                return Err(CodegenError::new(format!(
                    "The PTX kernel `{name}` has {} parameters where the runtime passes \
                     {REDUCE_PARAM_COUNT}; the PTX was written by another version of sci.",
                    e.params
                )));
            }
            None => {
                return Err(CodegenError::new(format!(
                    "The PTX has no kernel `{name}`; write it with `sci compile --target \
                     nvptx --emit ptx`."
                )));
            }
        }
    }
    Ok(())
}

/// A PTX module loaded in a [`CudaRuntime`]'s context.
#[derive(Debug)]
pub struct CudaModule {
    runtime: Arc<CudaRuntime>,
    module: sys::CUmodule,
    entries: Vec<PtxEntry>,
    functions: HashMap<String, sys::CUfunction>,
}

// SAFETY: module and function handles are plain driver handles, valid in any thread once
// the context is bound (every use binds it first); `CudaModule` never mutates them after
// loading and unloads the module once, in `drop`.
unsafe impl Send for CudaModule {}
// SAFETY: as above; shared use only reads the handles.
unsafe impl Sync for CudaModule {}

impl CudaModule {
    /// JIT-compiles `ptx` for the device and finds every entry. The text must hold the four
    /// column-reduction kernels (every module `sci compile --target nvptx` writes does);
    /// the driver's compile log is part of the error when the PTX does not load.
    pub fn load(runtime: &Arc<CudaRuntime>, ptx: &str) -> Result<CudaModule, CodegenError> {
        let entries = ptx_entries(ptx);
        check_reduce_kernels(&entries)?;
        let text = CString::new(ptx)
            .map_err(|_| CodegenError::new("The PTX text contains a NUL byte."))?;
        let module = guard(|| load_data(runtime, &text)).map_err(CodegenError::new)?;
        // From here `module` is owned by the value, so an error below unloads it.
        let mut loaded = CudaModule {
            runtime: runtime.clone(),
            module,
            entries,
            functions: HashMap::new(),
        };
        for e in &loaded.entries {
            let name = CString::new(e.name.as_str())
                .map_err(|_| CodegenError::new("A PTX entry name contains a NUL byte."))?;
            // SAFETY: `module` was loaded above and is unloaded only when `loaded` drops.
            let f = guard(|| {
                unsafe { result::module::get_function(module, name) }
                    .map_err(|e| format!("finding a PTX kernel: {}", describe(e)))
            })
            .map_err(CodegenError::new)?;
            loaded.functions.insert(e.name.clone(), f);
        }
        Ok(loaded)
    }

    /// The entries of the PTX, in order.
    pub fn entries(&self) -> &[PtxEntry] {
        &self.entries
    }

    /// The entry called `name`.
    pub fn entry(&self, name: &str) -> Option<&PtxEntry> {
        self.entries.iter().find(|e| e.name == name)
    }

    /// The function handle of kernel `name` (valid while `self` lives).
    pub(crate) fn function(&self, name: &str) -> Option<sys::CUfunction> {
        self.functions.get(name).copied()
    }
}

/// `cuModuleLoadDataEx` with an error log, so a PTX the driver rejects says why.
fn load_data(runtime: &CudaRuntime, ptx: &CString) -> Result<sys::CUmodule, String> {
    runtime
        .context()
        .bind_to_thread()
        .map_err(|e| format!("binding the CUDA context: {}", describe(e)))?;
    let mut log = vec![0u8; 16 * 1024];
    let mut options = [
        sys::CUjit_option::CU_JIT_ERROR_LOG_BUFFER,
        sys::CUjit_option::CU_JIT_ERROR_LOG_BUFFER_SIZE_BYTES,
    ];
    // The driver reads option values as pointer-sized words: the buffer's address, then
    // its size as an integer.
    let mut values: [*mut c_void; 2] = [log.as_mut_ptr().cast(), log.len() as *mut c_void];
    let mut module: sys::CUmodule = std::ptr::null_mut();
    // SAFETY: `ptx` is a NUL-terminated image that outlives the call; `options` and
    // `values` are two matching entries; the log buffer has the size stated and outlives
    // the call; the driver writes the module handle to `module`.
    let status = unsafe {
        sys::cuModuleLoadDataEx(
            &mut module,
            ptx.as_ptr().cast(),
            options.len() as u32,
            options.as_mut_ptr(),
            values.as_mut_ptr(),
        )
    };
    match status.result() {
        Ok(()) => Ok(module),
        Err(e) => {
            let end = log.iter().position(|&b| b == 0).unwrap_or(log.len());
            let text = String::from_utf8_lossy(&log[..end]);
            Err(format!(
                "The CUDA driver could not load the PTX: {}{}",
                describe(e),
                if text.trim().is_empty() {
                    String::new()
                } else {
                    format!(": {}", text.trim())
                }
            ))
        }
    }
}

impl Drop for CudaModule {
    fn drop(&mut self) {
        let module = self.module;
        // A failure to unload leaks the module; there is nobody to tell in `drop`.
        let _ = guard(|| {
            self.runtime.context().bind_to_thread().map_err(describe)?;
            // SAFETY: the module was loaded by `load` and is unloaded only here, once;
            // its functions are not used after `self` drops.
            unsafe { result::module::unload(module) }.map_err(describe)
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const PTX: &str = "//
.version 8.0
.target sm_90
.address_size 64

.visible .entry sci_f3_loss_v150(
\t.param .u64 sci_f3_loss_v150_param_0,
\t.param .u64 sci_f3_loss_v150_param_1,
\t.param .u64 sci_f3_loss_v150_param_2
)
{
\tret;
}
.visible .entry sci_reduce_cols_sum()
{
}
";

    #[test]
    fn entries_and_their_parameters_are_read_from_the_text() {
        let entries = ptx_entries(PTX);
        assert_eq!(
            entries,
            [
                PtxEntry {
                    name: "sci_f3_loss_v150".into(),
                    params: 3
                },
                PtxEntry {
                    name: "sci_reduce_cols_sum".into(),
                    params: 0
                }
            ]
        );
        assert!(ptx_entries("").is_empty());
        assert!(ptx_entries(".entry").is_empty());
        assert!(ptx_entries(".entry (").is_empty());
        assert_eq!(ptx_entries(".entry x )(").len(), 1);
    }
}
