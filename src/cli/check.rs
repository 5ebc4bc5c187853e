//! `sci check`: parse, check and lower files, reporting every diagnostic.

use std::path::PathBuf;
use std::process::ExitCode;

pub fn run(files: &[PathBuf], color: bool) -> Result<ExitCode, String> {
    let mut failed = 0;
    // Files that could not be read are reported, and the others still checked.
    let mut unreadable = 0;
    for path in files {
        let analysis = match super::analyze_and_report(path, color) {
            Ok((_, analysis)) => analysis,
            Err(why) => {
                errln!("error: {why}");
                unreadable += 1;
                continue;
            }
        };
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
    if failed + unreadable > 0 {
        errln!(
            "{} of {} file{} failed to check",
            failed + unreadable,
            files.len(),
            plural(files.len())
        );
    }
    // A file that could not be read is the command failing to run (2); errors in the
    // input are 1.
    Ok(match (unreadable, failed) {
        (0, 0) => ExitCode::SUCCESS,
        (0, _) => ExitCode::from(1),
        _ => ExitCode::from(2),
    })
}

fn plural(n: usize) -> &'static str {
    if n == 1 { "" } else { "s" }
}
