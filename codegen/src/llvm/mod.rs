//! The LLVM back end (feature `llvm`): IR modules to machine code through LLVM 22, JIT-
//! compiled in memory with MCJIT at `-O3` for the host CPU ([`LlvmBackend`]).
//!
//! It mirrors the Cranelift back end op for op: every IR function becomes one native
//! function with the C ABI of [`crate::abi`] (calls between IR functions are native calls),
//! values are represented and buffers planned the same way (`lower.rs`, `plan.rs`), math
//! functions are the `libm` crate's (`runtime.rs`), and `tabulate`/`fold`/`map`/
//! `reduce_batch` are counted loops that LLVM's loop vectoriser can work on. No fast-math
//! flags are set, so results agree with the interpreter bit for bit (with
//! [`BatchSum::Sequential`]) or within the project's tolerance (the default compensated batch
//! sums). The module is verified before it is optimised with the new pass manager's
//! `default<O3>` pipeline; compilation and calls are in `jit.rs`.

mod call;
mod emit;
mod jit;
mod lower;
mod machine;
mod object;
mod ops;
mod runtime;
mod wasm;

pub use jit::{LlvmCode, emit_llvm_ir};
pub use object::{ObjectCode, emit_object};
pub use wasm::{WASM_CPU, WASM_FEATURES, emit_wasm_object};

pub use crate::BatchSum;

use crate::abi::WORKSPACE_SUFFIX;
use crate::{Backend, CodegenError, CompiledModule};
use inkwell::attributes::{Attribute, AttributeLoc};
use inkwell::context::Context;
use inkwell::intrinsics::Intrinsic;
use inkwell::module::{Linkage, Module as LlModule};
use inkwell::types::{BasicMetadataTypeEnum, BasicTypeEnum};
use inkwell::values::FunctionValue;
use lower::{Res, Types, internal};
use sci_ir::{Function, Module, ValidModule};
use std::collections::HashMap;

/// Settings of the LLVM back end.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LlvmOptions {
    pub batch_sum: BatchSum,
    /// Let `-O3` unroll loops (fully, for constant trip counts) and interleave vectorised
    /// loops. Off by default: on `burgers_pinn`'s `grad.loss` it multiplied compile time by
    /// 7 (9.4 s instead of 1.3 s) for calls 20% faster; vectorisation and the rest of `-O3`
    /// run either way (those calls were 3× faster than Cranelift's without it).
    pub loop_unrolling: bool,
    /// Large `matmul`s call the matrix-product kernel (`libm::sci_matmul`: SIMD, the
    /// kernel's own summation order) instead of a loop that adds in the interpreter's order.
    /// JIT only (object files must link without sci); off for bit-identical results.
    pub matmul_kernel: bool,
    /// How the tiles of a `tile_map` whose body calls an outlined tile function
    /// (`sci_passes::tile::outline_tiles`) run: `Some(n)`, on the tile runtime
    /// (`parallel::sci_tile_map`) with `n` threads (`Some(0)`: all cores); `None`, in a
    /// generated loop (object files, which link without sci). Results are the same bits
    /// either way.
    pub threads: Option<usize>,
}

impl LlvmOptions {
    /// Whether generated code may call into sci (the JIT: kernels, the tile runtime, the
    /// work arena); object files link without it.
    pub(crate) fn links_runtime(&self) -> bool {
        self.threads.is_some()
    }
}

impl Default for LlvmOptions {
    fn default() -> LlvmOptions {
        LlvmOptions {
            batch_sum: BatchSum::default(),
            loop_unrolling: false,
            matmul_kernel: true,
            threads: Some(0),
        }
    }
}

/// The LLVM JIT as a [`Backend`].
#[derive(Clone, Copy, Debug, Default)]
pub struct LlvmBackend {
    pub options: LlvmOptions,
}

impl LlvmBackend {
    /// The back end with default options.
    pub fn new() -> LlvmBackend {
        LlvmBackend::default()
    }

    /// The back end with the given options.
    pub fn with_options(options: LlvmOptions) -> LlvmBackend {
        LlvmBackend { options }
    }
}

impl Backend for LlvmBackend {
    fn name(&self) -> &'static str {
        "llvm"
    }

    fn compile(&self, module: &ValidModule) -> Result<Box<dyn CompiledModule>, CodegenError> {
        Ok(Box::new(jit::compile(module, &self.options)?))
    }
}

/// The host CPU, for the per-function `target-cpu`/`target-features` attributes (MCJIT's
/// own target machine is generic; the attributes make its code generator use the host's
/// instruction set).
pub(crate) struct Host {
    pub cpu: String,
    pub features: String,
    /// WebAssembly (`wasm32`): 32-bit addresses and `size_t`, no stack probes (`wasm.rs`).
    pub wasm32: bool,
}

/// The functions a module declares: the IR functions (`None` where unavailable), the math
/// functions, `malloc` and `free`.
pub(crate) struct Decls<'ctx> {
    /// Whether the functions take the caller's workspace (object code; `NAME_ws`).
    pub workspace: bool,
    pub funcs: Vec<Option<FunctionValue<'ctx>>>,
    pub math: HashMap<&'static str, FunctionValue<'ctx>>,
    pub malloc: FunctionValue<'ctx>,
    pub free: FunctionValue<'ctx>,
    /// `void sci_matmul(i64 m, i64 n, i64 k, ptr a, ptr b, ptr c)` (`libm::sci_matmul`).
    pub matmul: FunctionValue<'ctx>,
    /// The same signature, summing in the element loop's order
    /// (`matmul_seq::sci_matmul_seq`).
    pub matmul_seq: FunctionValue<'ctx>,
    /// `i32 sci_tile_map(ptr desc)` (`parallel::sci_tile_map`).
    pub tile_map: FunctionValue<'ctx>,
    /// `void NAME(ptr x, ptr y, i64 n)` by name: the vector kernels of `tanh`, `erf` and
    /// `exp` (`libm::UNARY_KERNELS`).
    pub unary_n: HashMap<&'static str, FunctionValue<'ctx>>,
    /// `i64 sci_arena_mark()`, `ptr sci_arena_alloc(i64)`, `void sci_arena_release(i64)`
    /// (`arena`).
    pub arena_mark: FunctionValue<'ctx>,
    pub arena_alloc: FunctionValue<'ctx>,
    pub arena_release: FunctionValue<'ctx>,
    /// The packed entry of each IR function (JIT only; `None` elsewhere), declared here and
    /// defined by [`define_packed`].
    pub packed: Vec<Option<FunctionValue<'ctx>>>,
}

impl<'ctx> Decls<'ctx> {
    /// The declaration of intrinsic `name` overloaded on `types`.
    pub fn intrinsic(
        &self,
        m: &LlModule<'ctx>,
        name: &str,
        types: &[BasicTypeEnum<'ctx>],
    ) -> Res<FunctionValue<'ctx>> {
        Intrinsic::find(name)
            .and_then(|i| i.get_declaration(m, types))
            .ok_or_else(|| internal(&format!("LLVM has no intrinsic `{name}`")))
    }
}

fn enum_attr(cx: &Context, name: &str, value: u64) -> Attribute {
    cx.create_enum_attribute(Attribute::get_named_enum_kind_id(name), value)
}

/// The LLVM type of IR function `f` under the sci ABI: scalars by value (`double`), tensors
/// by pointer, batches as pointer and `i64` count, then `out`; returns the `i32` status.
/// With `workspace`, the `_ws` form that takes a `sci_workspace *` after `out` (objects).
fn abi_type<'ctx>(
    t: &Types<'ctx>,
    f: &Function,
    workspace: bool,
) -> inkwell::types::FunctionType<'ctx> {
    let mut params: Vec<BasicMetadataTypeEnum<'ctx>> = Vec::new();
    for k in 0..f.inputs().len() {
        match f.input_type(k) {
            Some(ty) if ty.batched => {
                params.push(t.ptr.into());
                params.push(t.i64.into());
            }
            Some(ty) if ty.shape.is_empty() => params.push(t.f64.into()),
            _ => params.push(t.ptr.into()),
        }
    }
    params.push(t.ptr.into());
    if workspace {
        params.push(t.ptr.into());
    }
    t.i32.fn_type(&params, false)
}

/// Declares every available IR function (under its C symbol), the math functions and the
/// allocator in `m`.
fn declare<'ctx>(
    cx: &'ctx Context,
    m: &LlModule<'ctx>,
    ir: &Module,
    table: &[crate::CompiledFunction],
    host: &Host,
    packed: bool,
) -> Res<Decls<'ctx>> {
    let t = Types::new(cx);
    let names = crate::abi::symbol_names(ir);
    let workspace = !packed;
    let mut funcs = Vec::with_capacity(table.len());
    for (entry, name) in table.iter().zip(&names) {
        if entry.unavailable.is_some() {
            funcs.push(None);
            continue;
        }
        let f = ir
            .functions
            .get(entry.id)
            .ok_or_else(|| internal("function out of range"))?;
        // Object code: the body is `NAME_ws` (with the caller's workspace), `NAME` a
        // wrapper passing an empty one (`define_plain_entries`).
        let body = if workspace {
            format!("{name}{WORKSPACE_SUFFIX}")
        } else {
            name.clone()
        };
        let func = m.add_function(&body, abi_type(&t, f, workspace), Some(Linkage::External));
        add_code_attributes(cx, func, host);
        // The ABI forbids `out` to overlap any input.
        let out_index = func.count_params().saturating_sub(1 + u32::from(workspace));
        func.add_attribute(AttributeLoc::Param(out_index), enum_attr(cx, "noalias", 0));
        funcs.push(Some(func));
    }
    // Pure functions: `memory(none)` is the `memory` attribute with every location NoModRef.
    let pure = [
        enum_attr(cx, "memory", 0),
        enum_attr(cx, "nounwind", 0),
        enum_attr(cx, "willreturn", 0),
        enum_attr(cx, "nosync", 0),
        enum_attr(cx, "nofree", 0),
    ];
    let mut math = HashMap::new();
    for f in crate::libm::MATH {
        let params: Vec<BasicMetadataTypeEnum<'ctx>> = vec![t.f64.into(); f.arity()];
        let func = m.add_function(
            &runtime::symbol(f),
            t.f64.fn_type(&params, false),
            Some(Linkage::External),
        );
        for a in pure {
            func.add_attribute(AttributeLoc::Function, a);
        }
        math.insert(f.name, func);
    }
    let malloc = if host.wasm32 {
        wasm::malloc64(cx, m)?
    } else {
        m.add_function(
            "malloc",
            t.ptr.fn_type(&[t.i64.into()], false),
            Some(Linkage::External),
        )
    };
    let free = m.add_function(
        "free",
        cx.void_type().fn_type(&[t.ptr.into()], false),
        Some(Linkage::External),
    );
    let matmul_type = cx.void_type().fn_type(
        &[
            t.i64.into(),
            t.i64.into(),
            t.i64.into(),
            t.ptr.into(),
            t.ptr.into(),
            t.ptr.into(),
        ],
        false,
    );
    let matmul_seq = m.add_function("sci_matmul_seq", matmul_type, Some(Linkage::External));
    let matmul = m.add_function("sci_matmul", matmul_type, Some(Linkage::External));
    let tile_map = m.add_function(
        "sci_tile_map",
        t.i32.fn_type(&[t.ptr.into()], false),
        Some(Linkage::External),
    );
    let unary_type = cx
        .void_type()
        .fn_type(&[t.ptr.into(), t.ptr.into(), t.i64.into()], false);
    let unary_n = crate::libm::UNARY_KERNELS
        .iter()
        .map(|&(_, name)| {
            let f = m.add_function(name, unary_type, Some(Linkage::External));
            (name, f)
        })
        .collect();
    let arena_mark = m.add_function(
        "sci_arena_mark",
        t.i64.fn_type(&[], false),
        Some(Linkage::External),
    );
    let arena_alloc = m.add_function(
        "sci_arena_alloc",
        t.ptr.fn_type(&[t.i64.into()], false),
        Some(Linkage::External),
    );
    let arena_release = m.add_function(
        "sci_arena_release",
        cx.void_type().fn_type(&[t.i64.into()], false),
        Some(Linkage::External),
    );
    let packed_type = t
        .i32
        .fn_type(&[t.ptr.into(), t.ptr.into(), t.ptr.into()], false);
    let packed = funcs
        .iter()
        .zip(&names)
        .map(|(f, name)| {
            f.filter(|_| packed).map(|_| {
                let entry = m.add_function(
                    &format!("{name}__packed"),
                    packed_type,
                    Some(Linkage::External),
                );
                add_code_attributes(cx, entry, host);
                entry
            })
        })
        .collect();
    Ok(Decls {
        workspace,
        funcs,
        math,
        malloc,
        free,
        matmul,
        matmul_seq,
        tile_map,
        unary_n,
        arena_mark,
        arena_alloc,
        arena_release,
        packed,
    })
}

/// Attributes of every function with code: the host CPU, stack probes (frames up to 32 KiB
/// live on the stack, so a nearly full stack faults cleanly), no unwinding.
fn add_code_attributes<'ctx>(cx: &'ctx Context, func: FunctionValue<'ctx>, host: &Host) {
    for (k, v) in [
        ("target-cpu", host.cpu.as_str()),
        ("target-features", host.features.as_str()),
        ("probe-stack", "inline-asm"),
    ] {
        // WebAssembly has no stack probes: its linker puts the stack first in memory
        // (`--stack-first`), so an overflow traps on an address below zero instead.
        if k == "probe-stack" && host.wasm32 {
            continue;
        }
        func.add_attribute(AttributeLoc::Function, cx.create_string_attribute(k, v));
    }
    func.add_attribute(AttributeLoc::Function, enum_attr(cx, "nounwind", 0));
}

/// Defines `int32_t NAME__packed(const double *const *args, const size_t *counts, double
/// *out)`: loads each argument from `args` (scalars through a pointer) and each batch count
/// from `counts`, then calls `NAME`. One Rust type can call every function through it.
fn define_packed<'ctx>(
    cx: &'ctx Context,
    f: &Function,
    target: FunctionValue<'ctx>,
    func: FunctionValue<'ctx>,
) -> Res<()> {
    let t = Types::new(cx);
    let b = cx.create_builder();
    let entry = cx.append_basic_block(func, "entry");
    b.position_at_end(entry);
    let param = |k: u32| {
        func.get_nth_param(k)
            .map(|p| p.into_pointer_value())
            .ok_or_else(|| internal("packed entry without parameters"))
    };
    let (args, counts, out) = (param(0)?, param(1)?, param(2)?);
    let mut call_args: Vec<inkwell::values::BasicMetadataValueEnum<'ctx>> = Vec::new();
    for k in 0..f.inputs().len() {
        let ty = f
            .input_type(k)
            .ok_or_else(|| internal("input out of range"))?;
        let kc = t.i64.const_int(k as u64, false);
        let at = lower::gep(&b, t.ptr.into(), args, kc)?;
        let p = b.build_load(t.ptr, at, "")?.into_pointer_value();
        if ty.batched {
            let at = lower::gep(&b, t.i64.into(), counts, kc)?;
            let n = b.build_load(t.i64, at, "")?;
            call_args.push(p.into());
            call_args.push(n.into());
        } else if ty.shape.is_empty() {
            call_args.push(b.build_load(t.f64, p, "")?.into());
        } else {
            call_args.push(p.into());
        }
    }
    call_args.push(out.into());
    let status = b
        .build_call(target, &call_args, "")?
        .try_as_basic_value()
        .basic()
        .ok_or_else(|| internal("call without result"))?;
    b.build_return(Some(&status))?;
    Ok(())
}

/// Defines `NAME(ARGS..., out)` for every function of `decls` (object code): a call of
/// `NAME_ws` with an empty workspace, so every work buffer comes from `malloc`.
pub(crate) fn define_plain_entries<'ctx>(
    cx: &'ctx Context,
    m: &LlModule<'ctx>,
    ir: &Module,
    decls: &Decls<'ctx>,
    host: &Host,
) -> Res<()> {
    let t = Types::new(cx);
    let b = cx.create_builder();
    let names = crate::abi::symbol_names(ir);
    for ((f, body), name) in ir
        .functions
        .iter()
        .map(|(_, f)| f)
        .zip(&decls.funcs)
        .zip(&names)
    {
        let Some(body) = body else {
            continue;
        };
        let func = m.add_function(name, abi_type(&t, f, false), Some(Linkage::External));
        add_code_attributes(cx, func, host);
        let entry = cx.append_basic_block(func, "entry");
        b.position_at_end(entry);
        // `sci_workspace { base, size, used, peak }`, all zero.
        let ws_type = t.i64.array_type(4);
        let ws = b.build_alloca(ws_type, "ws")?;
        b.build_store(ws, ws_type.const_zero())?;
        let mut args: Vec<inkwell::values::BasicMetadataValueEnum<'ctx>> =
            func.get_params().into_iter().map(Into::into).collect();
        args.push(ws.into());
        let status = b
            .build_call(*body, &args, "")?
            .try_as_basic_value()
            .basic()
            .ok_or_else(|| internal("call without result"))?;
        b.build_return(Some(&status))?;
    }
    Ok(())
}
