//! `sci compile FILE --target wasm32 -o model.wasm`: the module, its loader (`model.mjs`),
//! types (`model.d.mts`) and description (`model.json`) from [`sci::wasm::compile`], written
//! together or not at all.

use sci::ir::Module;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

/// The module's path, `-o FILE.wasm`, or the error saying to give one.
pub fn output_path(output: Option<&Path>) -> Result<&Path, String> {
    output
        .filter(|p| p.extension().is_some_and(|e| e == "wasm"))
        .ok_or_else(|| "`--target wasm32` writes a WebAssembly module: add `-o FILE.wasm`".into())
}

/// Writes the module at `path` (`FILE.wasm`) and its companions beside it.
pub fn run(file: &Path, modules: &[Module], path: &Path) -> Result<ExitCode, String> {
    let file_name = |p: &Path, default: &str| {
        p.file_name()
            .map_or_else(|| default.into(), |n| n.to_string_lossy().into_owned())
    };
    let package = sci::wasm::compile(
        modules,
        &file_name(file, "model.sci"),
        &file_name(path, "model.wasm"),
    )?;
    let [loader, types, description] = companion_paths(path);
    let mut outputs = sci::stdlib::data::Outputs::new();
    for (p, bytes) in [
        (loader, package.loader.as_bytes()),
        (types, package.types.as_bytes()),
        (description, package.description.as_bytes()),
        (path.to_path_buf(), &package.wasm[..]),
    ] {
        outputs.stage(&p, bytes).map_err(|e| e.to_string())?;
    }
    outputs.commit().map_err(|e| e.to_string())?;
    Ok(ExitCode::SUCCESS)
}

/// The other files `-o FILE.wasm` writes: the loader, its types and the description.
pub fn companion_paths(path: &Path) -> [PathBuf; 3] {
    [
        path.with_extension("mjs"),
        path.with_extension("d.mts"),
        path.with_extension("json"),
    ]
}
