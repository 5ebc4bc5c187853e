//! The Cranelift back end: IR modules to machine code, in memory (JIT, [`CraneliftBackend`])
//! or in an object file for C hosts ([`emit_object`]).
//!
//! Every IR function becomes one native function with the C ABI of [`crate::abi`]; calls
//! between IR functions are native calls. How values are represented and where buffers live
//! is described in `lower.rs` and `plan.rs`; math functions in `runtime.rs`.

mod call;
mod emit;
mod jit;
mod lower;
mod object;
mod ops;

pub use jit::JitCode;
pub use object::{ObjectCode, emit_object};

pub use crate::BatchSum;

use crate::abi::WORKSPACE_SUFFIX;
use crate::interp::function_table;
use crate::{Backend, CodegenError, CompiledFunction, CompiledModule};
use cranelift_codegen::ir::types::{F64, I32, I64};
use cranelift_codegen::ir::{AbiParam, InstBuilder, MemFlagsData, StackSlotData, StackSlotKind};
use cranelift_codegen::isa::OwnedTargetIsa;
use cranelift_codegen::settings::{self, Configurable};
use cranelift_frontend::{FunctionBuilder, FunctionBuilderContext};
use cranelift_module::{FuncId as ClFuncId, Linkage, Module as ClModule};
use lower::Imports;
use sci_ir::{Module, ValidModule};

/// Settings of the Cranelift back end.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CraneliftOptions {
    pub batch_sum: BatchSum,
    /// Run Cranelift's optimiser (`opt_level = speed`); off compiles faster.
    pub optimize: bool,
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

impl CraneliftOptions {
    /// Whether generated code may call into sci (the JIT: kernels, the tile runtime, the
    /// work arena); object files link without it.
    pub(crate) fn links_runtime(&self) -> bool {
        self.threads.is_some()
    }
}

impl Default for CraneliftOptions {
    fn default() -> CraneliftOptions {
        CraneliftOptions {
            batch_sum: BatchSum::default(),
            optimize: true,
            matmul_kernel: true,
            threads: Some(0),
        }
    }
}

/// The Cranelift JIT as a [`Backend`].
#[derive(Clone, Copy, Debug, Default)]
pub struct CraneliftBackend {
    pub options: CraneliftOptions,
}

impl CraneliftBackend {
    /// The back end with default options.
    pub fn new() -> CraneliftBackend {
        CraneliftBackend::default()
    }

    /// The back end with the given options.
    pub fn with_options(options: CraneliftOptions) -> CraneliftBackend {
        CraneliftBackend { options }
    }
}

impl Backend for CraneliftBackend {
    fn name(&self) -> &'static str {
        "cranelift"
    }

    fn compile(&self, module: &ValidModule) -> Result<Box<dyn CompiledModule>, CodegenError> {
        Ok(Box::new(jit::compile(module, &self.options)?))
    }
}

fn cl_error(what: &str, e: impl std::fmt::Display) -> CodegenError {
    CodegenError::new(format!("Cranelift could not {what}: {e}"))
}

/// The target: the host with its CPU features (JIT) or the host's baseline (objects, which
/// may run on another machine of the same architecture; position-independent for PIE
/// executables).
fn isa(options: &CraneliftOptions, for_object: bool) -> Result<OwnedTargetIsa, CodegenError> {
    let mut flags = settings::builder();
    let set = |flags: &mut settings::Builder, k: &str, v: &str| {
        flags
            .set(k, v)
            .map_err(|e| cl_error(&format!("set `{k}`"), e))
    };
    set(
        &mut flags,
        "opt_level",
        if options.optimize { "speed" } else { "none" },
    )?;
    set(
        &mut flags,
        "enable_verifier",
        if cfg!(debug_assertions) {
            "true"
        } else {
            "false"
        },
    )?;
    set(&mut flags, "use_colocated_libcalls", "false")?;
    set(
        &mut flags,
        "is_pic",
        if for_object { "true" } else { "false" },
    )?;
    // Frames above a page are probed, so a deep host stack fails cleanly.
    set(&mut flags, "enable_probestack", "true")?;
    set(&mut flags, "probestack_strategy", "inline")?;
    let builder = cranelift_native::builder_with_options(!for_object)
        .map_err(|e| cl_error("target this machine", e))?;
    builder
        .finish(settings::Flags::new(flags))
        .map_err(|e| cl_error("configure the target", e))
}

/// The native code of one function and, for the JIT, its packed entry.
#[derive(Clone, Copy, Debug)]
struct Defined {
    packed: Option<ClFuncId>,
}

/// Declares and defines every available function of `ir` in `m` under the sci ABI, with
/// packed entry points when `packed` (the JIT's uniform entry, see `jit.rs`).
fn define_module<M: ClModule>(
    m: &mut M,
    ir: &Module,
    table: &[CompiledFunction],
    options: &CraneliftOptions,
    packed: bool,
) -> Result<Vec<Option<Defined>>, CodegenError> {
    let names = crate::abi::symbol_names(ir);
    let mut funcs = Vec::with_capacity(table.len());
    for (entry, name) in table.iter().zip(&names) {
        let f = ir
            .functions
            .get(entry.id)
            .ok_or_else(|| lower::internal("function out of range"))?;
        if entry.unavailable.is_some() {
            funcs.push(None);
            continue;
        }
        // Object code: the body is `NAME_ws` (with the caller's workspace), `NAME` a
        // wrapper passing an empty one.
        let workspace = !packed;
        let body = if workspace {
            format!("{name}{WORKSPACE_SUFFIX}")
        } else {
            name.clone()
        };
        let sig = lower::abi_signature(m, f, workspace);
        let id = m
            .declare_function(&body, Linkage::Export, &sig)
            .map_err(|e| cl_error(&format!("declare `{body}`"), e))?;
        funcs.push(Some(id));
    }
    // Packed entries are declared up front: a `tile_map` passes its tile function's to the
    // tile runtime, and that function is defined after its caller.
    let mut packed_ids = Vec::with_capacity(table.len());
    for (k, name) in names.iter().enumerate().take(table.len()) {
        let declared = match (packed, funcs.get(k).copied().flatten()) {
            (true, Some(_)) => Some(declare_packed(m, name)?),
            _ => None,
        };
        packed_ids.push(declared);
    }
    let imports = Imports {
        funcs,
        packed: packed_ids,
    };
    let mut ctx = m.make_context();
    let mut fctx = FunctionBuilderContext::new();
    let mut out = Vec::with_capacity(table.len());
    for (k, entry) in table.iter().enumerate() {
        let Some(id) = imports.funcs.get(k).copied().flatten() else {
            out.push(None);
            continue;
        };
        let f = ir
            .functions
            .get(entry.id)
            .ok_or_else(|| lower::internal("function out of range"))?;
        let workspace = !packed;
        ctx.func.signature = lower::abi_signature(m, f, workspace);
        let builder = FunctionBuilder::new(&mut ctx.func, &mut fctx);
        lower::lower_function(m, builder, ir, f, &imports, options, workspace)?;
        m.define_function(id, &mut ctx)
            .map_err(|e| cl_error(&format!("compile `{}`", f.name), e))?;
        m.clear_context(&mut ctx);
        if workspace {
            let name = names
                .get(k)
                .ok_or_else(|| lower::internal("function out of range"))?;
            define_plain_entry(m, &mut ctx, &mut fctx, f, id, name)?;
        }
        let packed = match imports.packed.get(k).copied().flatten() {
            Some(entry) => Some(define_packed(m, &mut ctx, &mut fctx, f, id, entry)?),
            None => None,
        };
        out.push(Some(Defined { packed }));
    }
    Ok(out)
}

/// `int32_t NAME__packed(const double *const *args, const size_t *counts, double *out)`:
/// loads each argument from `args` (scalars through a pointer) and each batch count from
/// `counts`, then calls `NAME`. One Rust type can call every function through it.
fn define_packed<M: ClModule>(
    m: &mut M,
    ctx: &mut cranelift_codegen::Context,
    fctx: &mut FunctionBuilderContext,
    f: &sci_ir::Function,
    target: ClFuncId,
    id: ClFuncId,
) -> Result<ClFuncId, CodegenError> {
    ctx.func.signature = packed_signature(m);
    {
        let mut b = FunctionBuilder::new(&mut ctx.func, fctx);
        let entry = b.create_block();
        b.append_block_params_for_function_params(entry);
        b.switch_to_block(entry);
        b.seal_block(entry);
        let (args, counts, out) = {
            let p = b.block_params(entry);
            (p[0], p[1], p[2])
        };
        let flags = MemFlagsData::trusted();
        let mut call_args = Vec::new();
        for k in 0..f.inputs().len() {
            let ty = f
                .input_type(k)
                .ok_or_else(|| lower::internal("input out of range"))?;
            let p = b.ins().load(I64, flags, args, (k * 8) as i32);
            if ty.batched {
                let n = b.ins().load(I64, flags, counts, (k * 8) as i32);
                call_args.extend([p, n]);
            } else if ty.shape.is_empty() {
                call_args.push(b.ins().load(F64, flags, p, 0));
            } else {
                call_args.push(p);
            }
        }
        call_args.push(out);
        let callee = m.declare_func_in_func(target, b.func);
        let call = b.ins().call(callee, &call_args);
        let status = b.inst_results(call)[0];
        b.ins().return_(&[status]);
        let config = m.target_config();
        b.finalize(config);
    }
    m.define_function(id, ctx)
        .map_err(|e| cl_error("compile a packed entry", e))?;
    m.clear_context(ctx);
    Ok(id)
}

/// `int32_t NAME(ARGS..., double *out)`: calls `NAME_ws` with an empty workspace (every
/// work buffer then comes from `malloc`), the entry of object code without a workspace.
fn define_plain_entry<M: ClModule>(
    m: &mut M,
    ctx: &mut cranelift_codegen::Context,
    fctx: &mut FunctionBuilderContext,
    f: &sci_ir::Function,
    body: ClFuncId,
    name: &str,
) -> Result<(), CodegenError> {
    let sig = lower::abi_signature(m, f, false);
    let id = m
        .declare_function(name, Linkage::Export, &sig)
        .map_err(|e| cl_error(&format!("declare `{name}`"), e))?;
    ctx.func.signature = sig;
    {
        let mut b = FunctionBuilder::new(&mut ctx.func, fctx);
        let entry = b.create_block();
        b.append_block_params_for_function_params(entry);
        b.switch_to_block(entry);
        b.seal_block(entry);
        // `sci_workspace { base, size, used, peak }`, all zero.
        let slot =
            b.create_sized_stack_slot(StackSlotData::new(StackSlotKind::ExplicitSlot, 32, 3));
        let ws = b.ins().stack_addr(I64, slot, 0);
        let zero = b.ins().iconst(I64, 0);
        for k in 0..4 {
            b.ins().store(MemFlagsData::trusted(), zero, ws, k * 8);
        }
        let mut args = b.block_params(entry).to_vec();
        args.push(ws);
        let callee = m.declare_func_in_func(body, b.func);
        let call = b.ins().call(callee, &args);
        let status = b.inst_results(call)[0];
        b.ins().return_(&[status]);
        let config = m.target_config();
        b.finalize(config);
    }
    m.define_function(id, ctx)
        .map_err(|e| cl_error(&format!("compile `{name}`"), e))?;
    m.clear_context(ctx);
    Ok(())
}

/// The signature of every packed entry: `(args, counts, out) -> status`.
fn packed_signature<M: ClModule>(m: &M) -> cranelift_codegen::ir::Signature {
    let mut sig = m.make_signature();
    sig.params
        .extend([AbiParam::new(I64), AbiParam::new(I64), AbiParam::new(I64)]);
    sig.returns.push(AbiParam::new(I32));
    sig
}

/// Declares the packed entry `NAME__packed` of the function with symbol `name`.
fn declare_packed<M: ClModule>(m: &mut M, name: &str) -> Result<ClFuncId, CodegenError> {
    let sig = packed_signature(m);
    m.declare_function(&format!("{name}__packed"), Linkage::Local, &sig)
        .map_err(|e| cl_error("declare a packed entry", e))
}

/// The table of functions of `module`, after validating it.
fn checked_table(module: &Module) -> Result<Vec<CompiledFunction>, CodegenError> {
    crate::check_valid(module)?;
    Ok(function_table(module))
}
