//! `sci compile FILE --target wasm32 -o model.wasm`: the module, its loader (`model.mjs`),
//! types (`model.d.mts`) and description (`model.json`) from [`sci::wasm::compile`], written
//! together or not at all.

use sci::ir::Module;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

/// Writes the module and its companions for `output` (`FILE.wasm`).
pub fn run(file: &Path, modules: &[Module], output: Option<&Path>) -> Result<ExitCode, String> {
    let Some(path) = output.filter(|p| p.extension().is_some_and(|e| e == "wasm")) else {
        return Err("`--target wasm32` writes a WebAssembly module: add `-o FILE.wasm`".into());
    };
    let source_name = file
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "model.sci".into());
    let wasm_name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "model.wasm".into());
    let package = sci::wasm::compile(modules, &source_name, &wasm_name)?;
    let mut outputs = sci::stdlib::data::Outputs::new();
    for (p, bytes) in [
        (path.with_extension("mjs"), package.loader.as_bytes()),
        (path.with_extension("d.mts"), package.types.as_bytes()),
        (path.with_extension("json"), package.description.as_bytes()),
        (path.to_path_buf(), &package.wasm[..]),
    ] {
        outputs.stage(&p, bytes).map_err(|e| e.to_string())?;
    }
    outputs.commit().map_err(|e| e.to_string())?;
    Ok(ExitCode::SUCCESS)
}

/// The other files `-o FILE.wasm` writes, for the output-path checks before any work.
pub fn companion_paths(path: &Path) -> [PathBuf; 3] {
    [
        path.with_extension("mjs"),
        path.with_extension("d.mts"),
        path.with_extension("json"),
    ]
}
