//! `sci compile FILE -o FILE.o|FILE.so` and `--emit header`: ahead-of-time compilation for
//! C hosts, with LLVM (O3, `--target-cpu`; the default when built in) or Cranelift. A shared
//! library is the object linked by the system C compiler (`cc -shared … -lm`).
//!
//! The object holds every function of every module of the file, plus the derivative
//! functions of `sci::jit::with_derivatives` (the Jacobian of `rhs`, the gradient of
//! `loss`), with the C ABI of `docs/abi.md`; the header declares them. With `-o FILE.o` and
//! `--emit header` both are written (`FILE.h` beside the object).
//!
//! `sci compile FILE --target nvptx --emit ptx [-o FILE.ptx]` writes PTX for NVIDIA GPUs
//! instead (feature `mlir`): the kernels of the model's batched `map`s, derivative functions
//! included, and the column reductions, as `sci_codegen::mlir::emit_ptx` makes them.

use sci::ir::Module;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

/// True when the output path asks for an object file or a shared library.
pub fn wants_object(output: Option<&Path>) -> bool {
    output.is_some_and(|p| {
        p.extension()
            .is_some_and(|e| e == "o" || e == "obj" || e == "so")
    })
}

/// Which back end writes the object, and for which CPU.
pub struct Target<'a> {
    pub backend: sci::BackendKind,
    pub cpu: Option<&'a str>,
}

/// Writes the object (when `output` is an object path) and/or the header (when `header`).
pub fn run(
    file: &Path,
    modules: &[Module],
    header: bool,
    output: Option<&Path>,
    target: &Target<'_>,
) -> Result<ExitCode, String> {
    let modules: Vec<Module> = modules
        .iter()
        .map(|m| sci::jit::with_derivatives(m).map(|(m, _)| m))
        .collect::<Result<_, _>>()?;
    let source_name = file
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "model.sci".into());
    if wants_object(output) {
        let path = output.unwrap_or(Path::new("model.o"));
        let bytes = object_bytes(&modules, target)?;
        // The header first, the object (or library) with it: both or neither replaced.
        let mut outputs = sci::stdlib::data::Outputs::new();
        if header {
            let h =
                sci::codegen::header::c_header(&modules, &source_name).map_err(|e| e.message)?;
            let hpath: PathBuf = path.with_extension("h");
            outputs
                .stage(&hpath, h.as_bytes())
                .map_err(|e| e.to_string())?;
        }
        if path.extension().is_some_and(|e| e == "so") {
            link_shared(&bytes, path)?;
        } else {
            outputs.stage(path, &bytes).map_err(|e| e.to_string())?;
        }
        outputs.commit().map_err(|e| e.to_string())?;
        return Ok(ExitCode::SUCCESS);
    }
    let h = sci::codegen::header::c_header(&modules, &source_name).map_err(|e| e.message)?;
    super::write_output(output, &h)?;
    Ok(ExitCode::SUCCESS)
}

/// Err when this build cannot write PTX (no `mlir` feature).
pub fn check_ptx_support() -> Result<(), String> {
    if cfg!(feature = "mlir") {
        Ok(())
    } else {
        Err(
            "this build of sci has no MLIR back end, which writes PTX: rebuild with \
             `--features mlir` (after `scripts/install-llvm.sh`)"
                .to_string(),
        )
    }
}

/// Writes the PTX of the file's model (one module) to `output`, or stdout.
pub fn ptx(file: &Path, modules: &[Module], output: Option<&Path>) -> Result<ExitCode, String> {
    let module = match modules {
        [m] => m,
        _ => {
            let names: Vec<&str> = modules.iter().map(|m| m.name.as_str()).collect();
            return Err(format!(
                "`{}` defines {} modules ({}); PTX is written for files with one",
                file.display(),
                modules.len(),
                names.join(", ")
            ));
        }
    };
    // The module `sci run`/`sci train --device gpu` run, so kernel names and parameters
    // agree with what the runtime launches (ODE models add derivative functions to it).
    let text = ptx_text(&sci::jit::runtime_module(module)?)?;
    super::write_output(output, &text)?;
    Ok(ExitCode::SUCCESS)
}

#[cfg(feature = "mlir")]
fn ptx_text(module: &Module) -> Result<String, String> {
    let options = sci::codegen::mlir::PtxOptions::default();
    let ptx = sci::codegen::mlir::emit_ptx(module, &options).map_err(|e| e.message)?;
    Ok(ptx.text)
}

#[cfg(not(feature = "mlir"))]
fn ptx_text(_: &Module) -> Result<String, String> {
    check_ptx_support().map(|()| String::new())
}

/// The object file's bytes from the chosen back end.
fn object_bytes(modules: &[Module], target: &Target<'_>) -> Result<Vec<u8>, String> {
    let tiled: Vec<Module> = modules
        .iter()
        .map(|m| sci::jit::batch_major(m, target.backend).into_owned())
        .collect();
    let modules = &tiled[..];
    match target.backend {
        sci::BackendKind::Llvm => llvm_object(modules, target.cpu),
        sci::BackendKind::Cranelift => {
            if target.cpu.is_some() {
                return Err(
                    "`--target-cpu` applies to the LLVM back end; Cranelift objects use the \
                     architecture's baseline instruction set"
                        .to_string(),
                );
            }
            cranelift_object(modules)
        }
        other => Err(format!(
            "the {} back end does not write object files; use llvm or cranelift",
            other.name()
        )),
    }
}

#[cfg(feature = "llvm")]
fn llvm_object(modules: &[Module], cpu: Option<&str>) -> Result<Vec<u8>, String> {
    let options = sci::codegen::llvm::LlvmOptions::default();
    let object = sci::codegen::llvm::emit_object(modules, &options, cpu).map_err(|e| e.message)?;
    Ok(object.bytes)
}

#[cfg(not(feature = "llvm"))]
fn llvm_object(_: &[Module], _: Option<&str>) -> Result<Vec<u8>, String> {
    Err(
        "this build of sci has no LLVM back end (rebuild with `--features llvm`, after \
         `scripts/install-llvm.sh`); use `--backend cranelift`"
            .to_string(),
    )
}

#[cfg(feature = "cranelift")]
fn cranelift_object(modules: &[Module]) -> Result<Vec<u8>, String> {
    let options = sci::codegen::cranelift::CraneliftOptions::default();
    let object = sci::codegen::cranelift::emit_object(modules, &options).map_err(|e| e.message)?;
    Ok(object.bytes)
}

#[cfg(not(feature = "cranelift"))]
fn cranelift_object(_: &[Module]) -> Result<Vec<u8>, String> {
    Err(
        "this build of sci has no Cranelift back end (rebuild with the `cranelift` feature, \
         which is on by default)"
            .to_string(),
    )
}

/// Links the object into a shared library with the system C compiler; the temporary object
/// is removed whatever happens.
fn link_shared(object: &[u8], path: &Path) -> Result<(), String> {
    let tmp = path.with_extension(format!("tmp-{}.o", std::process::id()));
    std::fs::write(&tmp, object).map_err(|e| format!("cannot write `{}`: {e}", tmp.display()))?;
    let status = std::process::Command::new("cc")
        .arg("-shared")
        .arg("-o")
        .arg(path)
        .arg(&tmp)
        .arg("-lm")
        .status();
    let _ = std::fs::remove_file(&tmp);
    match status {
        Ok(s) if s.success() => Ok(()),
        Ok(s) => Err(format!(
            "`cc -shared` failed ({s}) linking `{}`",
            path.display()
        )),
        Err(e) => Err(format!(
            "cannot run the C compiler `cc` to link `{}`: {e}",
            path.display()
        )),
    }
}
