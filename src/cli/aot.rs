//! `sci compile FILE -o FILE.o` and `--emit header`: ahead-of-time compilation for C hosts.
//!
//! The object holds every function of every module of the file, plus the derivative
//! functions of `sci::jit::with_derivatives` (the Jacobian of `rhs`, the gradient of
//! `loss`), with the C ABI of `docs/abi.md`; the header declares them. With `-o FILE.o` and
//! `--emit header` both are written (`FILE.h` beside the object).

use sci::ir::Module;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

/// True when the output path asks for an object file.
pub fn wants_object(output: Option<&Path>) -> bool {
    output.is_some_and(|p| p.extension().is_some_and(|e| e == "o" || e == "obj"))
}

/// Writes the object (when `output` is an object path) and/or the header (when `header`).
pub fn run(
    file: &Path,
    modules: &[Module],
    header: bool,
    output: Option<&Path>,
) -> Result<ExitCode, String> {
    let modules: Vec<Module> = modules
        .iter()
        .map(|m| sci::jit::with_derivatives(m).0)
        .collect();
    let source_name = file
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "model.sci".into());
    if wants_object(output) {
        let path = output.unwrap_or(Path::new("model.o"));
        write_object(&modules, path)?;
        if header {
            let h =
                sci::codegen::header::c_header(&modules, &source_name).map_err(|e| e.message)?;
            let hpath: PathBuf = path.with_extension("h");
            std::fs::write(&hpath, h)
                .map_err(|e| format!("cannot write `{}`: {e}", hpath.display()))?;
        }
        return Ok(ExitCode::SUCCESS);
    }
    let h = sci::codegen::header::c_header(&modules, &source_name).map_err(|e| e.message)?;
    super::write_output(output, &h)?;
    Ok(ExitCode::SUCCESS)
}

#[cfg(feature = "cranelift")]
fn write_object(modules: &[Module], path: &Path) -> Result<(), String> {
    let options = sci::codegen::cranelift::CraneliftOptions::default();
    let object = sci::codegen::cranelift::emit_object(modules, &options).map_err(|e| e.message)?;
    std::fs::write(path, object.bytes)
        .map_err(|e| format!("cannot write `{}`: {e}", path.display()))
}

#[cfg(not(feature = "cranelift"))]
fn write_object(_: &[Module], path: &Path) -> Result<(), String> {
    Err(format!(
        "cannot write `{}`: this build of sci has no native back end (rebuild with the \
         `cranelift` feature, which is on by default)",
        path.display()
    ))
}
