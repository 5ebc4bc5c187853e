//! WebAssembly objects: the IR modules of [`emit_object`](super::emit_object) compiled by
//! LLVM's `wasm32` back end into one relocatable WebAssembly object, which the `sci` binary
//! links (`wasm-ld`) with wasi-libc's allocator and math library into a module that imports
//! nothing (`docs/deploy.md`).
//!
//! Why LLVM's target rather than an emitter of our own (e.g. over `wasm-encoder`): the
//! module needs a libm and an allocator compiled for wasm32 inside it, so results do not
//! depend on the host's `Math`, and those exist as wasm32 objects only (wasi-libc's musl
//! libm and dlmalloc) — linking them needs relocatable objects, which LLVM writes and
//! `wasm-ld` links. LLVM also optimises at `-O3` with 128-bit SIMD, which an emitter of
//! our own would have to redo; the lowering is the same shared one either way.
//!
//! The ABI is `docs/abi.md`'s over linear memory with two differences wasm32 forces or
//! makes simpler: addresses are 32-bit, and every `size_t` of the ABI (batch point counts,
//! the workspace's fields, each a 64-bit slot) stays a 64-bit integer (a JavaScript
//! `BigInt`), so one lowering serves both pointer widths. Work memory comes from the
//! module's own `malloc` (through `sci.malloc64`, which refuses sizes past 4 GiB).

use super::lower::{Res, Types, internal};
use super::machine::llvm_error;
use super::object::emit_object_for;
use super::{Host, LlvmOptions, ObjectCode};
use crate::CodegenError;
use inkwell::OptimizationLevel;
use inkwell::context::Context;
use inkwell::module::{Linkage, Module as LlModule};
use inkwell::targets::{CodeModel, InitializationConfig, RelocMode, Target, TargetTriple};
use inkwell::values::FunctionValue;
use sci_ir::Module;

/// The WebAssembly target triple (wasi-libc's objects are `wasm32-wasi`; the generated
/// code uses no WASI call, so it names no operating system).
pub const WASM_TRIPLE: &str = "wasm32-unknown-unknown";
/// The CPU: LLVM's generic WebAssembly (sign extension, mutable globals, non-trapping
/// float-to-int conversion, bulk memory, multi-value, reference types).
pub const WASM_CPU: &str = "generic";
/// Features beyond the generic CPU: 128-bit SIMD, which Node ≥ 16, every current browser
/// and wasmtime run.
pub const WASM_FEATURES: &str = "+simd128";

/// Compiles every available function of `modules` into one relocatable WebAssembly object
/// (`wasm32`, `-O3`, SIMD). Its undefined symbols are the math functions (`sin`, `exp`, …),
/// `malloc` and `free`, for `wasm-ld` to take from wasi-libc.
pub fn emit_wasm_object(
    modules: &[Module],
    options: &LlvmOptions,
) -> Result<ObjectCode, CodegenError> {
    Target::initialize_webassembly(&InitializationConfig::default());
    let triple = TargetTriple::create(WASM_TRIPLE);
    let target = Target::from_triple(&triple)
        .map_err(|e| llvm_error("find the WebAssembly target", e.to_string_lossy()))?;
    let machine = target
        .create_target_machine(
            &triple,
            WASM_CPU,
            WASM_FEATURES,
            OptimizationLevel::Aggressive,
            RelocMode::Static,
            CodeModel::Default,
        )
        .ok_or_else(|| {
            CodegenError::new("LLVM could not create a target machine for wasm32.".to_string())
        })?;
    let host = Host {
        cpu: WASM_CPU.to_string(),
        features: WASM_FEATURES.to_string(),
        wasm32: true,
    };
    emit_object_for(modules, options, &machine, &host)
}

/// `ptr sci.malloc64(i64 bytes)`: the lowering's `malloc` with a 64-bit size, over the
/// module's `malloc(size_t)` with a 32-bit one; sizes past 4 GiB answer null (the lowering's
/// out-of-memory status) instead of wrapping around.
pub(super) fn malloc64<'ctx>(cx: &'ctx Context, m: &LlModule<'ctx>) -> Res<FunctionValue<'ctx>> {
    let t = Types::new(cx);
    let malloc = match m.get_function("malloc") {
        Some(f) => f,
        None => m.add_function(
            "malloc",
            t.ptr.fn_type(&[t.i32.into()], false),
            Some(Linkage::External),
        ),
    };
    let wrapper = m.add_function(
        "sci.malloc64",
        t.ptr.fn_type(&[t.i64.into()], false),
        Some(Linkage::Private),
    );
    let b = cx.create_builder();
    let entry = cx.append_basic_block(wrapper, "entry");
    let call = cx.append_basic_block(wrapper, "call");
    let refuse = cx.append_basic_block(wrapper, "refuse");
    b.position_at_end(entry);
    let bytes = wrapper
        .get_nth_param(0)
        .ok_or_else(|| internal("sci.malloc64 without its parameter"))?
        .into_int_value();
    let fits = b.build_int_compare(
        inkwell::IntPredicate::ULE,
        bytes,
        t.i64.const_int(u64::from(u32::MAX), false),
        "fits",
    )?;
    b.build_conditional_branch(fits, call, refuse)?;
    b.position_at_end(call);
    let narrow = b.build_int_truncate(bytes, t.i32, "")?;
    let p = b
        .build_call(malloc, &[narrow.into()], "")?
        .try_as_basic_value()
        .basic()
        .ok_or_else(|| internal("malloc without result"))?;
    b.build_return(Some(&p))?;
    b.position_at_end(refuse);
    b.build_return(Some(&t.ptr.const_null()))?;
    Ok(wrapper)
}
