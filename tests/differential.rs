//! Differential tests of the examples: every native back end against the reference
//! interpreter on every function of every example (derivatives expanded), plus the
//! derivative functions the embedding API adds (`jacobian.rhs`, `grad.loss`), on random
//! inputs. (The IR filetests and random IR programs run on every back end in
//! `codegen/tests/backends.rs`.) The harness is `sci_codegen::difftest::check_module`,
//! generic over `Backend`.
//!
//! Cranelift with sequential batch sums must be bit-identical to the interpreter (it calls
//! the same libm); with its default compensated sums it must agree to 1e-12 relative.

#![cfg(feature = "cranelift")]

use sci_codegen::Backend;
use sci_codegen::cranelift::{BatchSum, CraneliftBackend, CraneliftOptions};
use sci_codegen::difftest::{Inputs, Report, Tolerance, check_module};
use sci_ir::Module;

/// The back ends under test, each with the tolerance it must meet.
fn backends() -> Vec<(Box<dyn Backend>, Tolerance)> {
    vec![
        (
            Box::new(CraneliftBackend::with_options(CraneliftOptions {
                batch_sum: BatchSum::Sequential,
                matmul_kernel: false,
                ..CraneliftOptions::default()
            })),
            Tolerance::EXACT,
        ),
        (Box::new(CraneliftBackend::new()), Tolerance::DEFAULT),
        #[cfg(feature = "llvm")]
        (
            Box::new(sci::codegen::llvm::LlvmBackend::with_options(
                sci::codegen::llvm::LlvmOptions {
                    batch_sum: sci::codegen::llvm::BatchSum::Sequential,
                    matmul_kernel: false,
                    ..Default::default()
                },
            )),
            Tolerance::EXACT,
        ),
        #[cfg(feature = "llvm")]
        (
            Box::new(sci::codegen::llvm::LlvmBackend::new()),
            Tolerance::DEFAULT,
        ),
    ]
}

fn check_all(modules: &[(String, Module)], inputs: impl Fn(&str) -> Inputs<'static>) -> Report {
    let mut total = Report::default();
    let mut failures = Vec::new();
    for (backend, tol) in backends() {
        for (label, module) in modules {
            match check_module(&*backend, module, &inputs(label), tol) {
                Ok((report, mismatches)) => {
                    total += report;
                    failures.extend(
                        mismatches
                            .iter()
                            .map(|m| format!("[{}] {label}: {m}", backend.name())),
                    );
                }
                Err(e) => failures.push(format!("[{}] {label}: {e}", backend.name())),
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    total
}

#[test]
fn every_example_matches_the_interpreter() {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/examples");
    let mut paths: Vec<_> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "sci"))
        .collect();
    paths.sort();
    let mut modules = Vec::new();
    for path in &paths {
        // The interpreter back end compiles nothing natively; it gives the IR with the
        // derivative functions the embedding API adds.
        let compiled = sci::Compiler::new()
            .backend(sci::BackendKind::Interpreter)
            .compile_file(path)
            .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        for m in &compiled.modules {
            let ir = match compiled.model(&m.name) {
                Ok(model) => model.ir().clone(),
                Err(_) => m.clone(),
            };
            let name = path.file_name().unwrap().to_string_lossy();
            modules.push((format!("{name}::{}", ir.name), ir));
        }
    }
    let report = check_all(&modules, |_| Inputs::Random(0..2));
    let functions: usize = modules.iter().map(|(_, m)| m.functions.len()).sum();
    eprintln!("{functions} functions");
    eprintln!("examples: {report:?}");
    // Every function of every example has code (derivatives are expanded).
    assert_eq!(report.unavailable, 0, "{report:?}");
    assert!(report.compared > 100, "{report:?}");
}
