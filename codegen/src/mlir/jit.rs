//! The CPU path: the module's MLIR lowered to the `llvm` dialect and compiled by MLIR's
//! execution engine (LLVM ORC JIT, `-O3`), and safe calls into it.
//!
//! The engine makes a packed entry `_mlir_sci_fK(void **args)` for every public function:
//! `args` points to one slot per LLVM-level argument (a `memref<?xf64>` is five: allocated
//! and aligned pointer, offset, size, stride) and, last, to the `i32` result. Rust calls
//! every function through it after [`check_call`] has checked every length, so the code
//! only reads and writes within the slices it was given.

use super::function::emit_function;
use super::lower::{Shared, Target, func_symbol, internal};
use super::pipeline::{CPU_PIPELINE, Session, non_llvm_op};
use super::runtime;
use crate::abi::Status;
use crate::interp::{check_call, function_table};
use crate::{CallError, CodegenError, CompiledFunction, CompiledModule};
use melior::ExecutionEngine;
use sci_ir::ValidModule;
use std::fmt;

/// A packed entry.
pub(super) type Packed = unsafe extern "C" fn(*mut *mut ());

/// Natively compiled functions of one module.
pub struct MlirCode {
    functions: Vec<CompiledFunction>,
    entries: Vec<Option<Packed>>,
    /// Owns the code; dropped last.
    _engine: Engine,
}

/// The execution engine that owns the code.
pub(super) struct Engine(ExecutionEngine);

// SAFETY: after compilation (every entry was looked up in `compile`), the engine is never
// used again except to be destroyed when the owner drops, which takes `&mut self`, so no
// call can be running. The code itself is immutable and reentrant: functions keep all state
// in their own frames and heap buffers, and the `libm` shims are pure.
unsafe impl Send for Engine {}
unsafe impl Sync for Engine {}

impl fmt::Debug for MlirCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let names: Vec<&str> = self.functions.iter().map(|f| f.name.as_str()).collect();
        f.debug_struct("MlirCode")
            .field("functions", &names)
            .finish()
    }
}

/// The MLIR text of every available function of `module` for the CPU, with the table of
/// functions.
pub(super) fn cpu_module_text(
    module: &ValidModule,
) -> Result<(String, Vec<CompiledFunction>), CodegenError> {
    let module = module.module();
    let functions = function_table(module);
    let mut cx = Shared::new(Target::Cpu);
    let mut funcs = Vec::new();
    for entry in &functions {
        if entry.unavailable.is_some() {
            continue;
        }
        let f = module
            .functions
            .get(entry.id)
            .ok_or_else(|| internal("function out of range"))?;
        funcs.push(emit_function(module, entry.id.index(), f, &mut cx, false)?);
    }
    let mut text = String::from("module {\n");
    for (name, arity) in &cx.math {
        let tys = vec!["f64"; *arity].join(", ");
        text.push_str(&format!(
            "  func.func private @{}({tys}) -> f64\n",
            super::runtime::symbol(name)
        ));
    }
    for g in &cx.globals {
        text.push_str(&format!("  {g}\n"));
    }
    for f in &funcs {
        text.push_str(f);
    }
    text.push_str("}\n");
    Ok((text, functions))
}

/// JIT-compiles every available function of `module` at LLVM optimisation level
/// `opt_level`.
pub(super) fn compile(module: &ValidModule, opt_level: usize) -> Result<MlirCode, CodegenError> {
    let (text, functions) = cpu_module_text(module)?;
    let engine = Engine::new(&text, opt_level)?;
    let mut entries = Vec::with_capacity(functions.len());
    for f in &functions {
        entries.push(match f.unavailable {
            Some(_) => None,
            None => Some(engine.packed(&func_symbol(f.id.index()))?),
        });
    }
    Ok(MlirCode {
        functions,
        entries,
        _engine: engine,
    })
}

// melior 0.27's `ExecutionEngine` is `struct { raw: MlirExecutionEngine }`, and
// `MlirExecutionEngine` is `#[repr(C)] struct { ptr: *mut c_void }`: one pointer.
const _: () = assert!(std::mem::size_of::<ExecutionEngine>() == std::mem::size_of::<*mut ()>());

/// Whether creating the engine failed (melior returns the C API's null handle unchecked;
/// any use of it would dereference null).
fn engine_is_null(engine: &ExecutionEngine) -> bool {
    // SAFETY: the type is exactly one pointer in size (asserted above), so its only field,
    // the C handle's pointer, is all of it; reading it as a pointer reads that field.
    let raw: *mut () = unsafe { std::mem::transmute_copy(engine) };
    raw.is_null()
}

impl Engine {
    /// Lowers MLIR `text` for the CPU and JIT-compiles it, with the `libm` shims bound.
    pub(super) fn new(text: &str, opt_level: usize) -> Result<Engine, CodegenError> {
        let session = Session::new();
        let mut m = session.parse(text)?;
        session.run(&mut m, CPU_PIPELINE)?;
        // The engine cannot report a failed translation (melior returns it unchecked), so
        // check here that only `llvm` ops are left.
        if let Some(op) = non_llvm_op(&m) {
            return Err(internal(&format!(
                "`{op}` was not lowered to the LLVM dialect"
            )));
        }
        let engine = ExecutionEngine::new(&m, opt_level, &[], false, false);
        if engine_is_null(&engine) {
            return Err(CodegenError::new(
                "MLIR's execution engine could not translate or JIT-compile the module.",
            ));
        }
        for f in crate::libm::MATH {
            // SAFETY: the shim is an `extern "C"` function of the signature the generated
            // declaration `@sci_libm_NAME` has (one or two `f64`, returning `f64`).
            unsafe { engine.register_symbol(&runtime::symbol(f.name), f.address() as *mut ()) };
        }
        Ok(Engine(engine))
    }

    /// The packed entry of public function `symbol`.
    pub(super) fn packed(&self, symbol: &str) -> Result<Packed, CodegenError> {
        let wrapper = format!("_mlir_{symbol}");
        let ptr = self.0.lookup(&wrapper);
        if ptr.is_null() {
            return Err(internal(&format!("the JIT has no `{wrapper}`")));
        }
        // SAFETY: `_mlir_NAME` is the execution engine's packed wrapper of `NAME`, which
        // takes exactly one `void **` in the C calling convention.
        Ok(unsafe { std::mem::transmute::<*mut (), Packed>(ptr) })
    }
}

/// Appends the five slots of a `memref` descriptor of `len` elements at `ptr`.
pub(super) fn push_memref<T>(slots: &mut Vec<u64>, ptr: *const T, len: usize) {
    let p = ptr as usize as u64;
    slots.extend([p, p, 0, len as u64, 1]);
}

impl CompiledModule for MlirCode {
    fn backend(&self) -> &'static str {
        "mlir"
    }

    fn functions(&self) -> &[CompiledFunction] {
        &self.functions
    }

    fn call_flat(&self, index: usize, inputs: &[&[f64]], out: &mut [f64]) -> Result<(), CallError> {
        let (f, points) = check_call(&self.functions, index, inputs, out)?;
        let entry = self
            .entries
            .get(index)
            .copied()
            .flatten()
            .ok_or_else(|| CallError::new(format!("`{}` has no compiled code.", f.name)))?;
        // The argument slots, in the order of `function::params`.
        let mut slots: Vec<u64> = Vec::with_capacity(7 * (inputs.len() + 1));
        for ((spec, data), n) in f.signature.inputs.iter().zip(inputs).zip(&points) {
            if spec.batched {
                push_memref(&mut slots, data.as_ptr(), data.len());
                slots.extend([0, *n as u64]);
            } else if spec.shape.is_empty() {
                slots.push(data.first().copied().unwrap_or(0.0).to_bits());
            } else {
                push_memref(&mut slots, data.as_ptr(), data.len());
                slots.push(0);
            }
        }
        push_memref(&mut slots, out.as_mut_ptr(), out.len());
        slots.push(0);
        let mut status: i32 = -1;
        let mut args: Vec<*mut ()> = slots.iter_mut().map(|s| s as *mut u64 as *mut ()).collect();
        args.push(&mut status as *mut i32 as *mut ());
        // SAFETY: `check_call` verified the number of inputs, that each unbatched input has
        // exactly its shape's element count (so scalars have one element), that each
        // batched input holds `points[k]` whole points, and that `out` has exactly the
        // result's element count; the descriptors say exactly that, and the compiled code
        // reads and writes only within those bounds (indices are range-checked at run
        // time, inputs are only read). Every slot is 8 bytes, as the wrapper reads them
        // (`double`, pointer or `i64`), and the last one receives the `i32` status. `out`
        // cannot alias an input (Rust borrows); the code lives as long as `self`.
        unsafe { entry(args.as_mut_ptr()) };
        Status::call_result(&f.name, status)
    }
}
