//! MLIR in process, through melior: a context with every dialect, parsing the emitted
//! text, and running a textual pass pipeline, with MLIR's diagnostics turned into
//! [`CodegenError`] sentences instead of lines on stderr.

use crate::CodegenError;
use melior::Context;
use melior::dialect::DialectRegistry;
use melior::ir::Module as MlirModule;
use melior::ir::operation::{OperationLike, WalkOrder, WalkResult};
use melior::pass::PassManager;
use melior::utility::{
    parse_pass_pipeline, register_all_dialects, register_all_llvm_translations, register_all_passes,
};
use std::sync::{Arc, Mutex};

/// The CPU pipeline: structured control flow, memrefs, math (only intrinsics remain on the
/// CPU: `libm` functions are calls), arithmetic and functions down to the `llvm` dialect.
pub const CPU_PIPELINE: &str = "builtin.module(func.func(canonicalize,cse),convert-scf-to-cf,\
convert-math-to-llvm,expand-strided-metadata,finalize-memref-to-llvm,convert-cf-to-llvm,\
convert-arith-to-llvm,convert-index-to-llvm,convert-func-to-llvm,reconcile-unrealized-casts)";

/// The GPU pipeline for `chip` (e.g. `sm_90`), linking `libdevice` when given: attach the
/// NVVM target, lower the `gpu.module` to NVVM (libdevice calls for math functions first,
/// LLVM intrinsics for the rest), and serialise it to PTX text (`format=isa`: no CUDA
/// toolkit is needed).
pub fn gpu_pipeline(chip: &str, libdevice: Option<&str>) -> String {
    let link = libdevice.map(|l| format!(" l={l}")).unwrap_or_default();
    format!(
        "builtin.module(nvvm-attach-target{{chip={chip} features=+ptx80 O=3{link}}},\
         gpu.module(convert-scf-to-cf,convert-gpu-to-nvvm,convert-math-to-llvm,canonicalize,cse,\
         reconcile-unrealized-casts),gpu-module-to-binary{{format=isa}})"
    )
}

/// A context with every dialect, extension and LLVM translation registered, collecting
/// its diagnostics.
pub(super) struct Session {
    pub context: Context,
    diagnostics: Arc<Mutex<Vec<String>>>,
}

impl Session {
    pub fn new() -> Session {
        register_all_passes();
        let registry = DialectRegistry::new();
        register_all_dialects(&registry);
        let context = Context::new();
        context.append_dialect_registry(&registry);
        register_all_llvm_translations(&context);
        // One thread: compiles are small, and the host may run many at once.
        context.enable_multi_threading(false);
        let diagnostics = Arc::new(Mutex::new(Vec::new()));
        let sink = Arc::clone(&diagnostics);
        context.attach_diagnostic_handler(move |d| {
            if let Ok(mut v) = sink.lock() {
                v.push(format!("{} ({})", d, d.location()));
            }
            true
        });
        Session {
            context,
            diagnostics,
        }
    }

    /// The diagnostics so far, joined, and forgotten.
    fn take_diagnostics(&self) -> String {
        match self.diagnostics.lock() {
            Ok(mut v) => {
                let s = v.join("; ");
                v.clear();
                s
            }
            Err(_) => String::new(),
        }
    }

    /// Parses MLIR text.
    pub fn parse(&self, text: &str) -> Result<MlirModule<'_>, CodegenError> {
        MlirModule::parse(&self.context, text).ok_or_else(|| {
            let why = self.take_diagnostics();
            // Quote the offending line (locations read `loc("-":LINE:COL)`).
            let line = why
                .split("\"-\":")
                .nth(1)
                .and_then(|rest| rest.split(':').next())
                .and_then(|n| n.parse::<usize>().ok())
                .and_then(|n| text.lines().nth(n.saturating_sub(1)))
                .map(|l| format!(" in `{}`", l.trim()))
                .unwrap_or_default();
            CodegenError::new(format!(
                "internal error in the MLIR back end: MLIR rejected the emitted code: {why}{line}"
            ))
        })
    }

    /// Runs `pipeline` (textual, anchored at `builtin.module`) on `module`.
    pub fn run(&self, module: &mut MlirModule<'_>, pipeline: &str) -> Result<(), CodegenError> {
        let pm = PassManager::new(&self.context);
        parse_pass_pipeline(pm.as_operation_pass_manager(), pipeline).map_err(|e| {
            CodegenError::new(format!(
                "internal error in the MLIR back end: bad pass pipeline `{pipeline}`: {e}"
            ))
        })?;
        pm.run(module).map_err(|_| {
            CodegenError::new(format!(
                "MLIR could not lower the module: {}",
                self.take_diagnostics()
            ))
        })
    }
}

/// The first op of `module` that is not in the `llvm` dialect (the execution engine can
/// translate nothing else), if any.
pub(super) fn non_llvm_op(module: &MlirModule<'_>) -> Option<String> {
    let mut found = None;
    module.as_operation().walk(WalkOrder::PreOrder, |op| {
        let name = op.name();
        let name = name.as_string_ref().as_str().unwrap_or("?").to_string();
        if name.starts_with("llvm.") || name == "builtin.module" {
            WalkResult::Advance
        } else {
            found = Some(name);
            WalkResult::Interrupt
        }
    });
    found
}
