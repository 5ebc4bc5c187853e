//! JIT compilation through LLVM's MCJIT, and safe calls into the code.
//!
//! Pipeline: declare and lower every available function into one LLVM module for the host
//! (`target-cpu`/`target-features` of this machine), verify it, run `default<O3>` with the
//! new pass manager, hand it to an MCJIT execution engine at `OptimizationLevel::Aggressive`,
//! bind the external symbols (math shims, `malloc`, `free`), and take the address of each
//! packed entry.
//!
//! Ownership: a compiled module owns its LLVM context and execution engine (which owns the
//! LLVM module and the machine code). The engine is dropped before the context. Rust calls
//! every function through its packed entry, after
//! [`check_call`](crate::interp::check_call) has checked every length, so the native code
//! only ever reads and writes within the slices it was given.

use super::machine::{Purpose, llvm_error, target_machine};
use super::runtime;
use super::{LlvmOptions, declare, define_packed, lower};
use crate::interp::function_table;
use crate::{CallError, CodegenError, CompiledFunction, CompiledModule};
use inkwell::OptimizationLevel;
use inkwell::context::Context;
use inkwell::execution_engine::ExecutionEngine;
use inkwell::module::Module as LlModule;
use inkwell::passes::PassBuilderOptions;
use sci_ir::{Module, ValidModule};
use std::fmt;

use crate::native::Packed;

/// Natively compiled functions of one module.
pub struct LlvmCode {
    functions: Vec<CompiledFunction>,
    entries: Vec<Option<Packed>>,
    /// Declared after `entries`, so the code outlives the pointers into it while dropping.
    _code: OwnedEngine,
}

/// The LLVM objects that own the machine code.
///
/// Invariant: `_engine` was created from a module of `*context`; its lifetime parameter was
/// erased to `'static` because the two live together in this struct. The context is boxed
/// (its address never changes) and declared after the engine, so Rust drops the engine (and
/// with it the LLVM module and the code) first and the context last, as LLVM requires. No
/// other handle to the engine exists: the `Module` that shared its reference count was
/// dropped at the end of compilation.
struct OwnedEngine {
    _engine: ExecutionEngine<'static>,
    _context: Box<Context>,
}

// SAFETY: after compilation nothing uses the engine or the context again except to drop
// them (which takes ownership, so no call can be running). Their reference counts are not
// shared with any other handle (see the invariant above), so no other thread can touch them.
// The machine code is immutable and reentrant: functions keep all state in their own frames.
unsafe impl Send for OwnedEngine {}
unsafe impl Sync for OwnedEngine {}

impl fmt::Debug for LlvmCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let names: Vec<&str> = self.functions.iter().map(|f| f.name.as_str()).collect();
        f.debug_struct("LlvmCode")
            .field("functions", &names)
            .finish()
    }
}

/// JIT-compiles every available function of `module`.
pub(super) fn compile(
    module: &ValidModule,
    options: &LlvmOptions,
) -> Result<LlvmCode, CodegenError> {
    let module = module.module();
    let functions = function_table(module);
    let context = Box::new(Context::create());
    let (engine, addresses) = build(&context, module, &functions, options)?;
    // SAFETY: only the lifetime changes; `OwnedEngine` keeps the context alive (and in
    // place) for as long as the engine, and drops it after the engine.
    let engine =
        unsafe { std::mem::transmute::<ExecutionEngine<'_>, ExecutionEngine<'static>>(engine) };
    let code = OwnedEngine {
        _engine: engine,
        _context: context,
    };
    let entries = addresses
        .into_iter()
        .map(|a| {
            a.map(|addr| {
                // SAFETY: `addr` is the address of a packed entry, defined by
                // `define_packed` with exactly the signature of `Packed` in the platform's C
                // calling convention, in code owned by `code`.
                unsafe { std::mem::transmute::<usize, Packed>(addr) }
            })
        })
        .collect();
    Ok(LlvmCode {
        functions,
        entries,
        _code: code,
    })
}

/// The optimised LLVM IR of `module` as text (what the JIT compiles), for inspection
/// (`--emit llvm-ir`) and tests.
pub fn emit_llvm_ir(module: &Module, options: &LlvmOptions) -> Result<String, CodegenError> {
    crate::check_valid(module)?;
    let functions = function_table(module);
    let context = Context::create();
    let (m, _) = optimized_module(&context, module, &functions, options)?;
    Ok(m.print_to_string().to_string())
}

/// Builds the LLVM module of `ir` in `cx`, verifies it and optimises it; returns it with the
/// name of each function's packed entry (`None` where the function is unavailable).
fn optimized_module<'ctx>(
    cx: &'ctx Context,
    ir: &Module,
    table: &[CompiledFunction],
    options: &LlvmOptions,
) -> Result<(LlModule<'ctx>, Vec<Option<String>>), CodegenError> {
    let (machine, host) = target_machine(None, Purpose::Jit)?;
    let m = cx.create_module(&crate::abi::c_identifier(&ir.name));
    m.set_triple(&machine.get_triple());
    m.set_data_layout(&machine.get_target_data().get_data_layout());
    let decls = declare(cx, &m, ir, table, &host, true)?;
    let b = cx.create_builder();
    let names = crate::abi::symbol_names(ir);
    let mut packed_names = Vec::with_capacity(table.len());
    for (k, entry) in table.iter().enumerate() {
        let Some(func) = decls.funcs.get(k).copied().flatten() else {
            packed_names.push(None);
            continue;
        };
        let f = ir
            .functions
            .get(entry.id)
            .ok_or_else(|| lower::internal("function out of range"))?;
        lower::lower_function(cx, &m, &b, ir, f, func, &decls, options)?;
        let name = format!(
            "{}__packed",
            names
                .get(k)
                .ok_or_else(|| lower::internal("symbol out of range"))?
        );
        let entry = decls
            .packed
            .get(k)
            .copied()
            .flatten()
            .ok_or_else(|| lower::internal("function without a packed entry"))?;
        define_packed(cx, f, func, entry)?;
        packed_names.push(Some(name));
    }
    m.verify().map_err(|e| {
        lower::internal(&format!(
            "LLVM rejected the generated module `{}`: {}",
            ir.name,
            e.to_string_lossy()
        ))
    })?;
    let passes = PassBuilderOptions::create();
    passes.set_loop_vectorization(true);
    passes.set_loop_slp_vectorization(true);
    passes.set_loop_interleaving(options.loop_unrolling);
    passes.set_loop_unrolling(options.loop_unrolling);
    m.run_passes("default<O3>", &machine, passes)
        .map_err(|e| llvm_error("optimise the module", e.to_string_lossy()))?;
    Ok((m, packed_names))
}

/// Builds, optimises and links the LLVM module of `ir` in `cx`; returns the engine and the
/// address of each function's packed entry (`None` where the function is unavailable).
fn build<'ctx>(
    cx: &'ctx Context,
    ir: &Module,
    table: &[CompiledFunction],
    options: &LlvmOptions,
) -> Result<(ExecutionEngine<'ctx>, Vec<Option<usize>>), CodegenError> {
    let (m, packed_names) = optimized_module(cx, ir, table, options)?;
    let engine = m
        .create_jit_execution_engine(OptimizationLevel::Aggressive)
        .map_err(|e| llvm_error("create a JIT", e.to_string_lossy()))?;
    // Bind what the optimised module still references. Other declarations (`memcpy`,
    // `memset`, which the optimiser may introduce) resolve against the process.
    for func in m.get_functions() {
        if func.count_basic_blocks() != 0 {
            continue;
        }
        let name = func.get_name().to_string_lossy();
        if let Some(addr) = runtime::definition_of(&name) {
            engine.add_global_mapping(&func, addr);
        }
    }
    let mut addresses = Vec::with_capacity(packed_names.len());
    for name in packed_names {
        addresses.push(match name {
            None => None,
            Some(name) => Some(
                engine
                    .get_function_address(&name)
                    .map_err(|e| llvm_error(&format!("link `{name}`"), e))?,
            ),
        });
    }
    Ok((engine, addresses))
}

impl CompiledModule for LlvmCode {
    fn backend(&self) -> &'static str {
        "llvm"
    }

    fn functions(&self) -> &[CompiledFunction] {
        &self.functions
    }

    fn call_flat(&self, index: usize, inputs: &[&[f64]], out: &mut [f64]) -> Result<(), CallError> {
        crate::native::call_packed(&self.functions, &self.entries, index, inputs, out)
    }
}
