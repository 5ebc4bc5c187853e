//! The LLVM target machine, for the JIT and for object files alike: this machine's triple,
//! the host CPU or a named one (checked against LLVM's x86-64 CPU list, with a did-you-mean),
//! `-O3`, and the relocation model and code model each use needs.

use super::Host;
use crate::CodegenError;
use inkwell::OptimizationLevel;
use inkwell::targets::{CodeModel, InitializationConfig, RelocMode, Target, TargetMachine};
use std::fmt;

/// What the machine's code is for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Purpose {
    /// In-process code (MCJIT): the JIT code model.
    Jit,
    /// A relocatable object for shared libraries: position-independent.
    Object,
}

/// An LLVM failure as a sentence.
pub(super) fn llvm_error(what: &str, e: impl fmt::Display) -> CodegenError {
    let detail = e.to_string();
    let detail = detail.trim_end().trim_end_matches('.');
    CodegenError::new(format!("LLVM could not {what}: {detail}."))
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

/// The target machine for this machine's triple and `cpu` (`None` or `native`: this
/// machine's CPU with all its features; else a named x86-64 CPU, checked), and the
/// CPU/features for the per-function attributes.
pub(super) fn target_machine(
    cpu: Option<&str>,
    purpose: Purpose,
) -> Result<(TargetMachine, Host), CodegenError> {
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
            wasm32: false,
        },
        Some(name) => {
            check_cpu(name, &triple_name)?;
            // No feature string: the named CPU's own features.
            Host {
                cpu: name.to_string(),
                features: String::new(),
                wasm32: false,
            }
        }
    };
    let (reloc, code_model) = match purpose {
        Purpose::Jit => (RelocMode::Default, CodeModel::JITDefault),
        Purpose::Object => (RelocMode::PIC, CodeModel::Default),
    };
    let target = Target::from_triple(&triple)
        .map_err(|e| llvm_error("find a target for this machine", e.to_string_lossy()))?;
    let machine = target
        .create_target_machine(
            &triple,
            &host.cpu,
            &host.features,
            OptimizationLevel::Aggressive,
            reloc,
            code_model,
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
