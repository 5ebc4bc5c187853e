//! WebAssembly modules for serverless functions, edge runtimes and browsers (needs the
//! `llvm` feature; `sci compile FILE --target wasm32 -o model.wasm`; docs/deploy.md).
//!
//! LLVM's wasm32 back end compiles every function of the file, derivatives included
//! (`sci_codegen::llvm::emit_wasm_object`); `wasm-ld` links the object with wasi-libc's
//! `libc.a`, which supplies the allocator and musl's libm compiled for wasm32, so the
//! module imports nothing and its numbers do not depend on the host's `Math`. Beside
//! `model.wasm` come `model.mjs` (an ES-module loader with one wrapper per function),
//! `model.d.mts` (its TypeScript types) and `model.json` (the layouts and signatures,
//! `sci_codegen::describe`): [`WasmPackage`].
//!
//! This runs a linker, so it lives here rather than in the core crates (which do no I/O).

mod loader;
#[cfg(feature = "wasmtime")]
pub mod runtime;

#[cfg(feature = "wasmtime")]
pub use runtime::Runtime;

use crate::ir::Module;
use std::path::{Path, PathBuf};

/// The stack in linear memory: first (`--stack-first`), so an overflow traps instead of
/// overwriting data; 1 MiB holds a call's frame (up to 32 KiB) many times over.
const STACK_BYTES: usize = 1 << 20;

/// A WebAssembly module and the files that go with it.
#[derive(Clone, Debug)]
pub struct WasmPackage {
    /// The module (`FILE.wasm`): every function, its allocator and libm; imports nothing.
    pub wasm: Vec<u8>,
    /// The ES-module loader (`FILE.mjs`), with one wrapper per function.
    pub loader: String,
    /// The loader's TypeScript declarations (`FILE.d.mts`).
    pub types: String,
    /// The JSON description of layouts and functions (`FILE.json`).
    pub description: String,
    /// The C symbols the module exports (besides `malloc`, `free`, `memory`, `_initialize`).
    pub symbols: Vec<String>,
}

/// Compiles `modules` (as the front end lowered them) to WebAssembly, with the derivative
/// functions `sci compile` adds to objects (`jacobian.rhs`, `grad.loss`, …); `source` names
/// the `.sci` file in comments, `wasm_file` the module's file name, which the loader loads
/// by default.
pub fn compile(modules: &[Module], source: &str, wasm_file: &str) -> Result<WasmPackage, String> {
    let modules: Vec<Module> = modules
        .iter()
        .map(|m| {
            crate::jit::with_derivatives(m)
                .map(|(m, _)| crate::jit::batch_major(&m, crate::BackendKind::Llvm).into_owned())
        })
        .collect::<Result<_, _>>()?;
    compile_lowered(&modules, source, wasm_file)
}

/// As [`compile`], for modules that already have every function they should export.
pub fn compile_lowered(
    modules: &[Module],
    source: &str,
    wasm_file: &str,
) -> Result<WasmPackage, String> {
    let (object, symbols) = wasm_object(modules)?;
    let description =
        crate::codegen::describe::json_description(modules, source).map_err(|e| e.message)?;
    let wasm = link(&object, &symbols)?;
    let first = modules.first().map_or("Model", |m| m.name.as_str());
    let loader = loader::module_loader(&description, source, wasm_file, first);
    let types = loader::type_declarations(&description, source)?;
    Ok(WasmPackage {
        wasm,
        loader,
        types,
        description,
        symbols,
    })
}

/// The relocatable wasm32 object of `modules` and the C symbols it defines (one per
/// function with code), which the module exports.
#[cfg(feature = "llvm")]
fn wasm_object(modules: &[Module]) -> Result<(Vec<u8>, Vec<String>), String> {
    let options = crate::codegen::llvm::LlvmOptions::default();
    let object =
        crate::codegen::llvm::emit_wasm_object(modules, &options).map_err(|e| e.message)?;
    let symbols = object
        .modules
        .into_iter()
        .flatten()
        .filter_map(|(_, symbol)| symbol)
        .collect();
    Ok((object.bytes, symbols))
}

#[cfg(not(feature = "llvm"))]
fn wasm_object(_: &[Module]) -> Result<(Vec<u8>, Vec<String>), String> {
    Err(
        "this build of sci has no LLVM back end, which writes WebAssembly: rebuild with \
         `--features llvm` (after `scripts/install-llvm.sh`)"
            .to_string(),
    )
}

/// Links `object` with wasi-libc into a module exporting `symbols`, `malloc`, `free` and
/// its memory; the temporary files are removed whatever happens.
fn link(object: &[u8], symbols: &[String]) -> Result<Vec<u8>, String> {
    let linker = find_linker()?;
    let libc = find_wasi_libc()?;
    static SEQUENCE: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
    let k = SEQUENCE.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let dir = std::env::temp_dir().join(format!("sci-wasm-{}-{k}", std::process::id()));
    std::fs::create_dir_all(&dir).map_err(|e| format!("cannot create `{}`: {e}", dir.display()))?;
    let result = link_in(&dir, &linker, &libc, object, symbols);
    let _ = std::fs::remove_dir_all(&dir);
    result
}

fn link_in(
    dir: &Path,
    linker: &Path,
    libc: &Path,
    object: &[u8],
    symbols: &[String],
) -> Result<Vec<u8>, String> {
    let obj = dir.join("model.o");
    let out = dir.join("model.wasm");
    std::fs::write(&obj, object).map_err(|e| format!("cannot write `{}`: {e}", obj.display()))?;
    let mut cmd = std::process::Command::new(linker);
    // A reactor (WASI's term for a library module): `_initialize` runs the C library's
    // constructors once, where a command would wrap every export in them.
    let reactor = libc.with_file_name("crt1-reactor.o");
    cmd.arg("--no-entry")
        .arg("--strip-debug")
        .arg("--stack-first")
        .arg("-z")
        .arg(format!("stack-size={STACK_BYTES}"))
        .arg("--export=malloc")
        .arg("--export=free");
    for s in symbols {
        cmd.arg(format!("--export={s}"));
    }
    if reactor.is_file() {
        cmd.arg(&reactor).arg("--export=_initialize");
    }
    cmd.arg(&obj).arg(libc).arg("-o").arg(&out);
    let output = cmd
        .output()
        .map_err(|e| format!("cannot run the linker `{}`: {e}", linker.display()))?;
    if !output.status.success() {
        return Err(format!(
            "`{}` failed ({}) linking the WebAssembly module:\n{}",
            linker.display(),
            output.status,
            String::from_utf8_lossy(&output.stderr).trim_end()
        ));
    }
    std::fs::read(&out).map_err(|e| format!("cannot read `{}`: {e}", out.display()))
}

/// `wasm-ld`: `$SCI_WASM_LD`, else on the `PATH` (`wasm-ld`, `wasm-ld-22`), else LLVM 22's.
fn find_linker() -> Result<PathBuf, String> {
    if let Some(p) = std::env::var_os("SCI_WASM_LD") {
        return Ok(PathBuf::from(p));
    }
    let path = std::env::var_os("PATH").unwrap_or_default();
    for dir in std::env::split_paths(&path) {
        for name in ["wasm-ld", "wasm-ld-22"] {
            let p = dir.join(name);
            if p.is_file() {
                return Ok(p);
            }
        }
    }
    let llvm = Path::new("/usr/lib/llvm-22/bin/wasm-ld");
    if llvm.is_file() {
        return Ok(llvm.to_path_buf());
    }
    Err(
        "cannot find the WebAssembly linker `wasm-ld`: install Debian's `lld-22` \
         (`scripts/install-system.sh wasm`) or set SCI_WASM_LD to it"
            .to_string(),
    )
}

/// wasi-libc's `libc.a` for wasm32: under `$WASI_SYSROOT`, else Debian's or wasi-sdk's.
fn find_wasi_libc() -> Result<PathBuf, String> {
    let mut candidates = Vec::new();
    if let Some(root) = std::env::var_os("WASI_SYSROOT") {
        candidates.push(PathBuf::from(root).join("lib/wasm32-wasi/libc.a"));
    }
    candidates.push(PathBuf::from("/usr/lib/wasm32-wasi/libc.a"));
    candidates.push(PathBuf::from(
        "/opt/wasi-sdk/share/wasi-sysroot/lib/wasm32-wasi/libc.a",
    ));
    candidates.into_iter().find(|p| p.is_file()).ok_or_else(|| {
        "cannot find wasi-libc's `libc.a` for wasm32 (the module's allocator and math \
         library): install Debian's `wasi-libc` (`scripts/install-system.sh wasm`) or set \
         WASI_SYSROOT to a wasi-sysroot"
            .to_string()
    })
}
