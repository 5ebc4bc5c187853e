//! `sci compile`: print the AST or the IR of a file.

use clap::{Args, ValueEnum};
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(Args, Debug)]
pub struct CompileArgs {
    /// The `.sci` file to compile.
    file: PathBuf,
    /// What to print.
    #[arg(long, value_enum, default_value_t = Emit::Ir)]
    emit: Emit,
    /// Write to this file instead of stdout.
    #[arg(short, long)]
    output: Option<PathBuf>,
}

#[derive(Copy, Clone, Debug, PartialEq, Eq, ValueEnum)]
enum Emit {
    /// The syntax tree, as parsed.
    Ast,
    /// The IR text format (`.sir`), which `sci_ir::read` parses back.
    Ir,
}

pub fn run(args: &CompileArgs, color: bool) -> Result<ExitCode, String> {
    let (_, analysis) = super::analyze_and_report(&args.file, color)?;
    if analysis.has_errors() {
        return Ok(ExitCode::from(1));
    }
    let text = match args.emit {
        Emit::Ast => sci::lang::parser::dump(&analysis.ast),
        Emit::Ir => analysis
            .modules
            .iter()
            .map(sci::ir::print::print_module)
            .collect::<Vec<_>>()
            .join("\n"),
    };
    let mut text = text;
    if !text.ends_with('\n') {
        text.push('\n');
    }
    super::write_output(args.output.as_deref(), &text)?;
    Ok(ExitCode::SUCCESS)
}
