//! What the back ends' test files share: the IR filetest modules (the structured stress
//! module among them) read from `ir/tests/filetests`, and the lowered examples read from
//! `codegen/tests/examples` (kept equal to the compiler's output by
//! `tests/lowered_examples.rs`).

#![allow(dead_code)] // each test binary uses its own part

use sci_ir::Module;
use std::path::{Path, PathBuf};

/// Reads and validates a module written in the IR text format.
pub fn read(text: &str) -> Module {
    let module = sci_ir::read_module(sci_diag::FileId(0), text).unwrap();
    sci_ir::validate_module(&module).unwrap();
    module
}

fn filetest_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../ir/tests/filetests")
}

/// Every IR filetest module that reads and validates, with its path, in name order.
pub fn filetest_modules() -> Vec<(PathBuf, Module)> {
    let mut paths: Vec<_> = std::fs::read_dir(filetest_dir())
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    paths.sort();
    let mut modules = Vec::new();
    for path in paths {
        let text = std::fs::read_to_string(&path).unwrap();
        let Ok(module) = sci_ir::read_module(sci_diag::FileId(0), &text) else {
            continue;
        };
        if sci_ir::validate_module(&module).is_ok() {
            modules.push((path, module));
        }
    }
    modules
}

/// The structured stress module (`ir/tests/filetests/structured.sir`); its edge-case inputs
/// are `sci_codegen::difftest::structured_inputs`.
pub fn structured() -> Module {
    read(&std::fs::read_to_string(filetest_dir().join("structured.sir")).unwrap())
}

/// Whether any function of `module` still has a `deriv` placeholder.
pub fn has_deriv(module: &Module) -> bool {
    module.functions.iter().any(|(_, f)| {
        f.values
            .iter()
            .any(|(_, v)| matches!(v.op, sci_ir::Op::Deriv { .. }))
    })
}

/// Every lowered example (`examples/*.sci` compiled with its derivative functions), with
/// its path, in name order.
pub fn example_modules() -> Vec<(PathBuf, Module)> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/examples");
    let mut paths: Vec<_> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "sir"))
        .collect();
    paths.sort();
    paths
        .into_iter()
        .map(|p| {
            let module = read(&std::fs::read_to_string(&p).unwrap());
            (p, module)
        })
        .collect()
}
