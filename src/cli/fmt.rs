//! `sci fmt`: rewrite files in the canonical style, or check that they are.

use std::path::PathBuf;
use std::process::ExitCode;

pub fn run(files: &[PathBuf], check: bool, color: bool) -> Result<ExitCode, String> {
    let mut unformatted = 0;
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
            Ok(formatted) => {
                if check {
                    errln!("{} is not formatted", path.display());
                    unformatted += 1;
                } else {
                    // Atomically: a full disk or a crash leaves the model as it was.
                    super::write_file(path, formatted.as_bytes())?;
                    outln!("formatted {}", path.display());
                }
            }
        }
    }
    if broken > 0 || unformatted > 0 {
        Ok(ExitCode::from(1))
    } else {
        Ok(ExitCode::SUCCESS)
    }
}
