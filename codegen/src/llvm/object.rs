//! Ahead-of-time compilation through LLVM: IR modules into one relocatable object file (ELF
//! on Linux) with the C ABI of `docs/abi.md` — the same exported symbols (`sci_M_f`, see
//! [`crate::abi::symbol_names`]) as the Cranelift back end's `emit_object`, so the header of
//! [`crate::header::c_header`] serves both. Like Cranelift's objects, it exports no packed
//! entries (those are the JIT's), calls the system libm for math (link with `-lm`) and the C
//! library's `malloc`/`free`, and is position-independent (links into PIE executables and
//! shared libraries).
//!
//! Unlike Cranelift's objects (the architecture's baseline), the code is `-O3` for the host
//! CPU by default; `target_cpu` names another (an x86-64 CPU LLVM knows, e.g. `x86-64-v3`,
//! `znver4`, or `x86-64` for any 64-bit x86 machine).
//!
//! Math: lowering calls private names (`sci.libm.sin`, see `runtime.rs`) so that the
//! optimiser neither constant-folds with the compiler's libm nor rewrites calls
//! (`pow(2, x)` → `exp2(x)`). The JIT binds those names to the `libm` crate; an object has no
//! such binding, so after optimisation each declaration is renamed to its C name (`sin`)
//! and the C host's libm (glibc on Linux) supplies it. Results may then differ from the
//! interpreter's in the last bit, exactly as with Cranelift's objects.

use super::machine::{Purpose, llvm_error, target_machine};
use super::runtime::MATH_PREFIX;
use super::{Host, LlvmOptions, declare, lower};
use crate::interp::function_table;
use crate::{CodegenError, CompiledFunction};
use inkwell::context::Context;
use inkwell::module::Module as LlModule;
use inkwell::passes::PassBuilderOptions;
use inkwell::targets::{FileType, TargetMachine};
use sci_ir::Module;
use std::collections::HashSet;

/// An object file and what it defines (as `cranelift::ObjectCode`).
#[derive(Clone, Debug)]
pub struct ObjectCode {
    /// The object file's bytes.
    pub bytes: Vec<u8>,
    /// Per module (in the order given): every function, with its C symbol where it has code.
    pub modules: Vec<Vec<(CompiledFunction, Option<String>)>>,
    /// The CPU the code was generated for (the host's name when `target_cpu` was `None`).
    pub cpu: String,
}

/// Compiles every available function of `modules` into one relocatable object for this
/// machine's target triple, `-O3`, position-independent. `target_cpu` is the CPU to
/// generate code for: `None` (or `"native"`) is this machine's CPU with all its features;
/// any other name must be an x86-64 CPU LLVM knows, else the answer is an error.
pub fn emit_object(
    modules: &[Module],
    options: &LlvmOptions,
    target_cpu: Option<&str>,
) -> Result<ObjectCode, CodegenError> {
    let (machine, host) = target_machine(target_cpu, Purpose::Object)?;
    emit_object_for(modules, options, &machine, &host)
}

/// [`emit_object`] for a given target machine (this machine's, or WebAssembly's:
/// `wasm.rs`).
pub(super) fn emit_object_for(
    modules: &[Module],
    options: &LlvmOptions,
    machine: &TargetMachine,
    host: &Host,
) -> Result<ObjectCode, CodegenError> {
    // Object files link against the C library alone: no calls into sci's kernels.
    let options = &LlvmOptions {
        matmul_kernel: false,
        threads: None,
        ..*options
    };
    let mut tables = Vec::with_capacity(modules.len());
    for module in modules {
        crate::check_valid(module)?;
        tables.push(function_table(module));
    }
    let cx = Context::create();
    let m = cx.create_module("sci");
    m.set_triple(&machine.get_triple());
    m.set_data_layout(&machine.get_target_data().get_data_layout());
    let mut infos = Vec::with_capacity(modules.len());
    let mut symbols = HashSet::new();
    for (ir, table) in modules.iter().zip(tables) {
        // Within a module `symbol_names` keeps symbols apart; across modules two names
        // (`my-model`, `my_model`) can still become one C identifier.
        for (f, name) in table.iter().zip(crate::abi::symbol_names(ir)) {
            if f.unavailable.is_none() && !symbols.insert(name.clone()) {
                return Err(CodegenError::new(format!(
                    "Two functions would both be exported as `{name}` from the object file \
                     (the second is `{}` of module `{}`); rename one of the modules.",
                    f.name, ir.name
                )));
            }
        }
        // One LLVM module per IR module (each declares the math functions and the allocator
        // once), linked into the object's module.
        let part = cx.create_module(&crate::abi::c_identifier(&ir.name));
        part.set_triple(&machine.get_triple());
        part.set_data_layout(&machine.get_target_data().get_data_layout());
        let decls = declare(&cx, &part, ir, &table, host, false)?;
        let b = cx.create_builder();
        for (k, entry) in table.iter().enumerate() {
            let Some(func) = decls.funcs.get(k).copied().flatten() else {
                continue;
            };
            let f = ir
                .functions
                .get(entry.id)
                .ok_or_else(|| lower::internal("function out of range"))?;
            lower::lower_function(&cx, &part, &b, ir, f, func, &decls, options)?;
        }
        super::define_plain_entries(&cx, &part, ir, &decls, host)?;
        m.link_in_module(part).map_err(|e| {
            lower::internal(&format!(
                "LLVM could not link module `{}` into the object: {}",
                ir.name,
                e.to_string_lossy()
            ))
        })?;
        let names = crate::abi::symbol_names(ir);
        infos.push(
            table
                .into_iter()
                .zip(names)
                .map(|(f, name)| {
                    let symbol = f.unavailable.is_none().then_some(name);
                    (f, symbol)
                })
                .collect(),
        );
    }
    m.verify().map_err(|e| {
        lower::internal(&format!(
            "LLVM rejected the generated module: {}",
            e.to_string_lossy()
        ))
    })?;
    optimize(&m, machine, options)?;
    bind_math_to_libm(&m)?;
    let buffer = machine
        .write_to_memory_buffer(&m, FileType::Object)
        .map_err(|e| llvm_error("write the object file", e.to_string_lossy()))?;
    Ok(ObjectCode {
        bytes: buffer.as_slice().to_vec(),
        modules: infos,
        cpu: host.cpu.clone(),
    })
}

/// `default<O3>` with the JIT's settings (see `jit.rs`).
fn optimize(
    m: &LlModule<'_>,
    machine: &TargetMachine,
    options: &LlvmOptions,
) -> Result<(), CodegenError> {
    let passes = PassBuilderOptions::create();
    passes.set_loop_vectorization(true);
    passes.set_loop_slp_vectorization(true);
    passes.set_loop_interleaving(options.loop_unrolling);
    passes.set_loop_unrolling(options.loop_unrolling);
    m.run_passes("default<O3>", machine, passes)
        .map_err(|e| llvm_error("optimise the module", e.to_string_lossy()))
}

/// Renames the remaining `sci.libm.NAME` declarations to `NAME`, the C library's function,
/// after optimisation (so the optimiser never saw a libm name it would fold or rewrite).
fn bind_math_to_libm(m: &LlModule<'_>) -> Result<(), CodegenError> {
    for func in m.get_functions() {
        if func.count_basic_blocks() != 0 {
            continue;
        }
        let name = func.get_name().to_string_lossy().into_owned();
        let Some(c_name) = name.strip_prefix(MATH_PREFIX) else {
            continue;
        };
        match m.get_function(c_name) {
            // The optimiser introduced the C function itself (it does not, today): share it.
            Some(existing) if existing.get_type() == func.get_type() => {
                func.replace_all_uses_with(existing);
                // SAFETY: `func` has no uses left and no other handle to it is kept.
                unsafe { func.delete() };
            }
            Some(_) => {
                return Err(lower::internal(&format!(
                    "the object declares `{c_name}` with another type than `{name}`"
                )));
            }
            None => func.as_global_value().set_name(c_name),
        }
    }
    Ok(())
}
