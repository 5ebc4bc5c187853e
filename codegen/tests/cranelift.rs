//! The Cranelift back end against the interpreter: every IR filetest module and random
//! programs, bit for bit with sequential batch sums and within 1e-12 with the default
//! compensated sums.

use sci_codegen::Backend;
use sci_codegen::cranelift::{BatchSum, CraneliftBackend, CraneliftOptions};
use sci_codegen::difftest::{Inputs, Tolerance, check_module};
use sci_ir::random::{RandomOptions, random_function};
use std::path::Path;

fn exact() -> CraneliftBackend {
    CraneliftBackend::with_options(CraneliftOptions {
        batch_sum: BatchSum::Sequential,
        ..CraneliftOptions::default()
    })
}

#[test]
fn ir_filetests_match_the_interpreter_bit_for_bit() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../ir/tests/filetests");
    let mut checked = 0;
    let mut failures = Vec::new();
    let mut paths: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    paths.sort();
    for path in paths {
        let text = std::fs::read_to_string(&path).unwrap();
        let Ok(module) = sci_ir::read_module(sci_diag::FileId(0), &text) else {
            continue;
        };
        if sci_ir::validate_module(&module).is_err() {
            continue;
        }
        let (report, mismatches) =
            check_module(&exact(), &module, &Inputs::Random(0..20), Tolerance::EXACT).unwrap();
        checked += report.compared;
        failures.extend(
            mismatches
                .iter()
                .map(|m| format!("{}: {m}", path.display())),
        );
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    assert!(checked > 100, "only {checked} calls compared");
}

#[test]
fn random_programs_match_the_interpreter() {
    let options = RandomOptions::default();
    let mut compared = 0;
    let mut failures = Vec::new();
    for seed in 0..100 {
        let module = random_function(seed, &options);
        for (backend, tol) in [
            (exact(), Tolerance::EXACT),
            (CraneliftBackend::new(), Tolerance::DEFAULT),
        ] {
            match check_module(&backend, &module, &Inputs::Random(seed..seed + 3), tol) {
                Ok((r, m)) => {
                    compared += r.compared;
                    failures.extend(m.iter().map(|m| format!("seed {seed}: {m}")));
                }
                Err(e) => failures.push(format!("seed {seed}: {e}")),
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    assert!(compared > 300, "only {compared} calls compared");
}

#[test]
fn backend_name() {
    assert_eq!(CraneliftBackend::new().name(), "cranelift");
}
