//! `sci fmt`: rewrite files in the canonical style, or check that they are.
//!
//! All or nothing: every file is read and formatted first; only when all of them could be
//! (none unreadable, none with syntax errors) are the changed ones replaced, together
//! (`Outputs`: each written in full beside its file, then all renamed into place), so a
//! failure on one file never leaves the others half done.

use std::path::PathBuf;
use std::process::ExitCode;

use sci::stdlib::data::Outputs;

pub fn run(files: &[PathBuf], check: bool, color: bool) -> Result<ExitCode, String> {
    let mut changed = Vec::new();
    let mut broken = 0;
    for path in files {
        let (sources, file) = super::load(path)?;
        let text = sources.text(file);
        match sci::lang::fmt::format_source(file, text) {
            Err(diagnostics) => {
                err!("{}", sci::render::render_all(&diagnostics, &sources, color));
                broken += 1;
            }
            Ok(formatted) if formatted == text => {}
            Ok(formatted) => changed.push((path, formatted)),
        }
    }
    if check {
        for (path, _) in &changed {
            errln!("{} is not formatted", path.display());
        }
    } else if broken == 0 {
        let mut outputs = Outputs::new();
        for (path, formatted) in &changed {
            outputs
                .stage(path, formatted.as_bytes())
                .map_err(|e| e.to_string())?;
        }
        outputs.commit().map_err(|e| e.to_string())?;
        for (path, _) in &changed {
            outln!("formatted {}", path.display());
        }
    } else if !changed.is_empty() {
        errln!(
            "{} file(s) with syntax errors: none of the {} others was rewritten",
            broken,
            changed.len()
        );
    }
    if broken > 0 || (check && !changed.is_empty()) {
        Ok(ExitCode::from(1))
    } else {
        Ok(ExitCode::SUCCESS)
    }
}
