//! [`WasmBackend`]: a `sci_codegen::Backend` over the runtime, so the differential suite
//! holds WebAssembly to the interpreter like any native back end.

use super::Runtime;
use crate::codegen::{
    Backend, CallError, CodegenError, CompiledFunction, CompiledModule, InterpreterBackend,
};
use crate::ir::ValidModule;
use crate::wasm::WasmPackage;
use std::sync::Mutex;

/// A [`Backend`] that compiles a module to WebAssembly ([`compile_lowered`](crate::wasm::compile_lowered):
/// LLVM's wasm32 back end, wasi-libc) and runs it in wasmtime: what
/// `sci_codegen::difftest::check_module` needs to hold WebAssembly to the interpreter.
/// Calls are serialised (one instance per compiled module).
#[derive(Clone, Copy, Debug, Default)]
pub struct WasmBackend;

impl Backend for WasmBackend {
    fn name(&self) -> &'static str {
        "wasm32 (wasmtime)"
    }

    fn compile(&self, module: &ValidModule) -> Result<Box<dyn CompiledModule>, CodegenError> {
        let package = super::super::compile_lowered(
            std::slice::from_ref(module.module()),
            "difftest",
            "difftest.wasm",
        )
        .map_err(CodegenError::new)?;
        Ok(Box::new(WasmModule::new(module, &package)?))
    }
}

/// A module compiled by [`WasmBackend`].
#[derive(Debug)]
pub struct WasmModule {
    table: Vec<CompiledFunction>,
    /// Per function of the table, its entry in the runtime (`None`: no code).
    entries: Vec<Option<usize>>,
    runtime: Mutex<Runtime>,
}

impl WasmModule {
    /// `package` (compiled from `module` alone, e.g. by
    /// [`compile_lowered`](crate::wasm::compile_lowered)) instantiated, with `module`'s function
    /// table.
    pub fn new(module: &ValidModule, package: &WasmPackage) -> Result<WasmModule, CodegenError> {
        // The interpreter's table: every function with its signature and, for those with
        // an unexpanded `deriv`, why it has no code (the description omits their symbols).
        let table = InterpreterBackend.compile(module)?.functions().to_vec();
        let ir = module.module();
        let runtime = Runtime::new(package).map_err(CodegenError::new)?;
        let entries = table
            .iter()
            .map(|f| {
                runtime
                    .entries
                    .iter()
                    .position(|e| e.spec.module == ir.name && e.spec.name == f.name)
            })
            .collect();
        Ok(WasmModule {
            table,
            entries,
            runtime: Mutex::new(runtime),
        })
    }
}

impl CompiledModule for WasmModule {
    fn backend(&self) -> &'static str {
        "wasm32 (wasmtime)"
    }

    fn functions(&self) -> &[CompiledFunction] {
        &self.table
    }

    fn call_flat(&self, index: usize, inputs: &[&[f64]], out: &mut [f64]) -> Result<(), CallError> {
        let f = self.table.get(index).ok_or_else(|| {
            CallError::new(format!(
                "There is no function #{index}; the module has {}.",
                self.table.len()
            ))
        })?;
        if let Some(why) = &f.unavailable {
            return Err(CallError::new(why.clone()));
        }
        // The native back ends' checks and messages, before any code runs.
        f.signature.check_inputs(&f.name, inputs)?;
        let want = f.signature.result_len(inputs).unwrap_or(0);
        if out.len() != want {
            return Err(CallError::new(format!(
                "The output buffer of `{}` must have {want} elements (its result is {}), but it \
                 has {}.",
                f.name,
                f.signature.result.describe(),
                out.len()
            )));
        }
        let k = self.entries[index].ok_or_else(|| {
            CallError::new(format!(
                "`{}` is not exported by the WebAssembly module.",
                f.name
            ))
        })?;
        let mut rt = self
            .runtime
            .lock()
            .map_err(|_| CallError::new("an earlier call panicked holding the runtime"))?;
        let result = rt.call_index(k, inputs).map_err(CallError::new)?;
        if result.len() != out.len() {
            return Err(CallError::new(format!(
                "`{}` answered {} numbers in WebAssembly where its signature says {}: the \
                 module's description does not match its IR.",
                f.name,
                result.len(),
                out.len()
            )));
        }
        out.copy_from_slice(&result);
        Ok(())
    }
}
