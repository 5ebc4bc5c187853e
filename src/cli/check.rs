//! `sci check`: parse, check and lower files, reporting every diagnostic.

use std::path::PathBuf;
use std::process::ExitCode;

pub fn run(files: &[PathBuf], color: bool) -> Result<ExitCode, String> {
    let mut failed = 0;
    for path in files {
        let (_, analysis) = super::analyze_and_report(path, color)?;
        if analysis.has_errors() {
            failed += 1;
        } else {
            let models = analysis.checked.program.models.len();
            let functions = analysis.checked.program.functions.len();
            outln!(
                "{}: ok ({} model{}, {} function{})",
                path.display(),
                models,
                plural(models),
                functions,
                plural(functions)
            );
        }
    }
    if failed > 0 {
        errln!(
            "{failed} of {} file{} failed to check",
            files.len(),
            plural(files.len())
        );
        Ok(ExitCode::from(1))
    } else {
        Ok(ExitCode::SUCCESS)
    }
}

fn plural(n: usize) -> &'static str {
    if n == 1 { "" } else { "s" }
}
