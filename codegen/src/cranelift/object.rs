//! Ahead-of-time compilation: IR modules into one relocatable object file (ELF on Linux)
//! whose exported functions follow the C ABI of `docs/abi.md`. Math functions are the system
//! libm's (link with `-lm`); buffers come from the C library's `malloc`.

use super::{CraneliftOptions, checked_table, cl_error, define_module, isa};
use crate::{CodegenError, CompiledFunction};
use cranelift_object::{ObjectBuilder, ObjectModule};
use sci_ir::Module;

/// An object file and what it defines.
#[derive(Clone, Debug)]
pub struct ObjectCode {
    /// The object file's bytes.
    pub bytes: Vec<u8>,
    /// Per module (in the order given): every function, with its C symbol where it has code.
    pub modules: Vec<Vec<(CompiledFunction, Option<String>)>>,
}

/// Compiles every available function of `modules` into one object file.
pub fn emit_object(
    modules: &[Module],
    options: &CraneliftOptions,
) -> Result<ObjectCode, CodegenError> {
    let builder = ObjectBuilder::new(
        isa(options, true)?,
        "sci",
        cranelift_module::default_libcall_names(),
    )
    .map_err(|e| cl_error("start an object file", e))?;
    let mut obj = ObjectModule::new(builder);
    // Object files link against the C library alone: no calls into sci's kernels.
    let options = &CraneliftOptions {
        matmul_kernel: false,
        threads: None,
        ..*options
    };
    let mut infos = Vec::with_capacity(modules.len());
    for module in modules {
        let table = checked_table(module)?;
        let defined = define_module(&mut obj, module, &table, options, false)?;
        let names = crate::abi::symbol_names(module);
        infos.push(
            table
                .into_iter()
                .zip(defined)
                .zip(names)
                .map(|((f, d), name)| (f, d.map(|_| name)))
                .collect(),
        );
    }
    let bytes = obj
        .finish()
        .emit()
        .map_err(|e| cl_error("write the object file", e))?;
    Ok(ObjectCode {
        bytes,
        modules: infos,
    })
}
