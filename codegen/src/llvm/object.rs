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

use super::runtime::MATH_PREFIX;
use super::{Host, LlvmOptions, declare, lower};
use crate::interp::function_table;
use crate::{CodegenError, CompiledFunction};
use inkwell::OptimizationLevel;
use inkwell::context::Context;
use inkwell::module::Module as LlModule;
use inkwell::passes::PassBuilderOptions;
use inkwell::targets::{
    CodeModel, FileType, InitializationConfig, RelocMode, Target, TargetMachine,
};
use sci_ir::Module;
use std::collections::HashSet;
use std::fmt;

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

/// The x86-64 CPUs of LLVM 22 (`llc -mtriple=x86_64 -mcpu=help`, less the 32-bit-only
/// processors, on which LLVM aborts the process when asked for 64-bit code). LLVM merely
/// warns on stderr about a name it does not know, so names are checked here.
const X86_64_CPUS: &[&str] = &[
    "alderlake",
    "amdfam10",
    "arrowlake",
    "arrowlake-s",
    "arrowlake_s",
    "athlon-fx",
    "athlon64",
    "athlon64-sse3",
    "atom",
    "atom_sse4_2",
    "atom_sse4_2_movbe",
    "barcelona",
    "bdver1",
    "bdver2",
    "bdver3",
    "bdver4",
    "bonnell",
    "broadwell",
    "btver1",
    "btver2",
    "cannonlake",
    "cascadelake",
    "clearwaterforest",
    "cooperlake",
    "core-avx-i",
    "core-avx2",
    "core2",
    "core_2_duo_sse4_1",
    "core_2_duo_ssse3",
    "core_2nd_gen_avx",
    "core_3rd_gen_avx",
    "core_4th_gen_avx",
    "core_4th_gen_avx_tsx",
    "core_5th_gen_avx",
    "core_5th_gen_avx_tsx",
    "core_aes_pclmulqdq",
    "core_i7_sse4_2",
    "corei7",
    "corei7-avx",
    "diamondrapids",
    "emeraldrapids",
    "generic",
    "goldmont",
    "goldmont-plus",
    "goldmont_plus",
    "gracemont",
    "grandridge",
    "graniterapids",
    "graniterapids-d",
    "graniterapids_d",
    "haswell",
    "icelake-client",
    "icelake-server",
    "icelake_client",
    "icelake_server",
    "ivybridge",
    "k8",
    "k8-sse3",
    "knl",
    "knm",
    "lunarlake",
    "meteorlake",
    "mic_avx512",
    "nehalem",
    "nocona",
    "novalake",
    "opteron",
    "opteron-sse3",
    "pantherlake",
    "penryn",
    "raptorlake",
    "rocketlake",
    "sandybridge",
    "sapphirerapids",
    "sierraforest",
    "silvermont",
    "skx",
    "skylake",
    "skylake-avx512",
    "skylake_avx512",
    "slm",
    "tigerlake",
    "tremont",
    "westmere",
    "wildcatlake",
    "x86-64",
    "x86-64-v2",
    "x86-64-v3",
    "x86-64-v4",
    "znver1",
    "znver2",
    "znver3",
    "znver4",
    "znver5",
];

fn llvm_error(what: &str, e: impl fmt::Display) -> CodegenError {
    let detail = e.to_string();
    let detail = detail.trim_end().trim_end_matches('.');
    CodegenError::new(format!("LLVM could not {what}: {detail}."))
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
    let mut tables = Vec::with_capacity(modules.len());
    for module in modules {
        sci_ir::validate_module(module).map_err(|errs| crate::interp::invalid_ir(module, &errs))?;
        tables.push(function_table(module));
    }
    let (machine, host) = target_machine(target_cpu)?;
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
        let decls = declare(&cx, &part, ir, &table, &host)?;
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
    optimize(&m, &machine, options)?;
    bind_math_to_libm(&m)?;
    let buffer = machine
        .write_to_memory_buffer(&m, FileType::Object)
        .map_err(|e| llvm_error("write the object file", e.to_string_lossy()))?;
    Ok(ObjectCode {
        bytes: buffer.as_slice().to_vec(),
        modules: infos,
        cpu: host.cpu,
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

/// The target machine for this machine's triple and `cpu` (see [`emit_object`]), and the
/// CPU/features for the per-function attributes.
fn target_machine(cpu: Option<&str>) -> Result<(TargetMachine, Host), CodegenError> {
    Target::initialize_native(&InitializationConfig::default())
        .map_err(|e| llvm_error("initialise the native target", e))?;
    let triple = TargetMachine::get_default_triple();
    let triple_name = triple.as_str().to_string_lossy().into_owned();
    let host = match cpu {
        None | Some("native") => Host {
            cpu: TargetMachine::get_host_cpu_name()
                .to_string_lossy()
                .into_owned(),
            features: TargetMachine::get_host_cpu_features()
                .to_string_lossy()
                .into_owned(),
        },
        Some(name) => {
            check_cpu(name, &triple_name)?;
            // No feature string: the named CPU's own features.
            Host {
                cpu: name.to_string(),
                features: String::new(),
            }
        }
    };
    let target = Target::from_triple(&triple)
        .map_err(|e| llvm_error("find a target for this machine", e.to_string_lossy()))?;
    let machine = target
        .create_target_machine(
            &triple,
            &host.cpu,
            &host.features,
            OptimizationLevel::Aggressive,
            RelocMode::PIC,
            CodeModel::Default,
        )
        .ok_or_else(|| {
            CodegenError::new(format!(
                "LLVM could not create a target machine for {triple_name} with CPU `{}`.",
                host.cpu
            ))
        })?;
    Ok((machine, host))
}

/// Accepts `name` when it is an x86-64 CPU LLVM knows (and the target is x86-64).
fn check_cpu(name: &str, triple: &str) -> Result<(), CodegenError> {
    if !triple.starts_with("x86_64") {
        return Err(CodegenError::new(format!(
            "Cannot generate code for the CPU `{name}`: sci knows the CPU names of x86-64 \
             only, and this machine is {triple}. Leave the target CPU out (or say `native`) \
             to compile for this machine's CPU."
        )));
    }
    if X86_64_CPUS.contains(&name) {
        return Ok(());
    }
    let hint = match closest_cpu(name) {
        Some(c) => format!(" Did you mean `{c}`?"),
        None => String::new(),
    };
    Err(CodegenError::new(format!(
        "`{name}` is not an x86-64 CPU that LLVM knows.{hint} Use a name such as `x86-64` \
         (any 64-bit x86 machine), `x86-64-v2`, `x86-64-v3`, `x86-64-v4`, `haswell`, \
         `skylake-avx512` or `znver4`, or `native` for this machine's CPU."
    )))
}

/// The known CPU nearest to `name` in edit distance, if one is close (a typo).
fn closest_cpu(name: &str) -> Option<&'static str> {
    let lower = name.to_ascii_lowercase();
    X86_64_CPUS
        .iter()
        .map(|c| (edit_distance(&lower, c), *c))
        .filter(|(d, c)| *d <= 2.max(c.len() / 4))
        .min_by_key(|(d, _)| *d)
        .map(|(_, c)| c)
}

/// Levenshtein distance over bytes (CPU names are ASCII).
fn edit_distance(a: &str, b: &str) -> usize {
    let (a, b) = (a.as_bytes(), b.as_bytes());
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, &ca) in a.iter().enumerate() {
        let mut diag = row[0];
        row[0] = i + 1;
        for (j, &cb) in b.iter().enumerate() {
            let above = row[j + 1];
            row[j + 1] = (diag + usize::from(ca != cb))
                .min(above + 1)
                .min(row[j] + 1);
            diag = above;
        }
    }
    row[b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn typos_suggest_the_nearest_cpu() {
        assert_eq!(edit_distance("kitten", "sitting"), 3);
        assert_eq!(closest_cpu("skylak"), Some("skylake"));
        assert_eq!(closest_cpu("x86_64-v3"), Some("x86-64-v3"));
        assert_eq!(closest_cpu("pentium-9000"), None);
    }
}
