//! `sci compile`: print the AST or the IR of a file, write an object file and C header, or
//! write PTX for NVIDIA GPUs (`--target nvptx --emit ptx`, feature `mlir`).

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
    /// Print op counts before and after simplification per function (on stderr).
    #[arg(long)]
    stats: bool,
    /// Let simplification use rules that can change results (x*0 → 0, reassociation, ...).
    #[arg(long)]
    fast_math: bool,
    /// The back end for `-o FILE.o|FILE.so`: llvm (O3; the default when this build has it)
    /// or cranelift.
    #[arg(long)]
    backend: Option<String>,
    /// The CPU to optimise an LLVM object for (`skylake`, `x86-64-v3`, …; default: this
    /// machine's).
    #[arg(long)]
    target_cpu: Option<String>,
    /// What the code runs on: this machine, NVIDIA GPUs (`nvptx`, with `--emit ptx`; needs
    /// a build with `--features mlir`), or WebAssembly (`wasm32`, with `-o FILE.wasm`;
    /// needs `--features llvm`).
    #[arg(long, value_enum, default_value_t = Arch::Host)]
    target: Arch,
}

#[derive(Copy, Clone, Debug, PartialEq, Eq, ValueEnum)]
enum Arch {
    /// The host CPU (objects, headers, IR).
    Host,
    /// NVIDIA GPUs (sm_90): PTX from the MLIR back end.
    Nvptx,
    /// WebAssembly (`-o FILE.wasm`, with its loader `FILE.mjs`, `FILE.d.mts` and
    /// `FILE.json`): LLVM's wasm32 back end; see docs/deploy.md.
    Wasm32,
}

#[derive(Copy, Clone, Debug, PartialEq, Eq, ValueEnum)]
enum Emit {
    /// The syntax tree, as parsed.
    Ast,
    /// The IR text format (`.sir`), which `sci_ir::read` parses back.
    Ir,
    /// A C header declaring the functions of the object file (`-o FILE.o`; see docs/abi.md).
    Header,
    /// Every function with derivatives expanded and simplified, as IR and as mathematics.
    Simplified,
    /// Gradients (of the loss, of scalar functions) as IR.
    Grad,
    /// Jacobians (of the ODE right-hand side in y and θ, of functions) as IR.
    Jac,
    /// Hessians (of the loss, of scalar functions) as IR.
    Hessian,
    /// PTX for NVIDIA GPUs (`--target nvptx`): one kernel per batched `map` (with the
    /// derivative functions `sci run`/`sci train` use) and the column reductions; see
    /// docs/mlir.md.
    Ptx,
}

pub fn run(args: &CompileArgs, color: bool) -> Result<ExitCode, String> {
    if let Some(out) = &args.output {
        let mut outputs = vec![("-o", Some(out.as_path()))];
        // An object file comes with its header.
        let header = out.with_extension("h");
        if super::aot::wants_object(Some(out)) && args.emit == Emit::Header {
            outputs.push(("-o (header)", Some(header.as_path())));
        }
        let companions = match args.target {
            Arch::Wasm32 => super::wasm::companion_paths(out).to_vec(),
            _ => Vec::new(),
        };
        outputs.extend(
            companions
                .iter()
                .map(|p| ("-o (loader)", Some(p.as_path()))),
        );
        super::check_output_paths(&[Some(&args.file)], &outputs)?;
    }
    let ptx = args.emit == Emit::Ptx || args.target == Arch::Nvptx;
    if ptx {
        if args.emit != Emit::Ptx {
            return Err("`--target nvptx` writes PTX only: add `--emit ptx`".to_string());
        }
        // Before reading the file: a build without the back end cannot do it at all.
        super::aot::check_ptx_support()?;
    }
    let wasm = if args.target == Arch::Wasm32 {
        if args.emit != Emit::Ir || args.backend.is_some() || args.target_cpu.is_some() {
            return Err(
                "`--target wasm32` writes a WebAssembly module with LLVM: give only \
                 `-o FILE.wasm` (no `--emit`, `--backend` or `--target-cpu`)"
                    .to_string(),
            );
        }
        Some(super::wasm::output_path(args.output.as_deref())?)
    } else {
        None
    };
    let (sources, analysis) = super::analyze_and_report(&args.file, color)?;
    if analysis.has_errors() {
        return Ok(ExitCode::from(1));
    }
    if let Some(path) = wasm {
        return super::wasm::run(&args.file, &analysis.modules, path);
    }
    if ptx {
        return super::aot::ptx(&args.file, &analysis.modules, args.output.as_deref());
    }
    // `-o FILE.o` writes an object file; `--emit header` a C header (both: FILE.h too).
    if args.emit == Emit::Header || super::aot::wants_object(args.output.as_deref()) {
        let header = args.emit == Emit::Header;
        let backend = match &args.backend {
            Some(name) => name.parse::<sci::BackendKind>()?,
            None if sci::BackendKind::Llvm.is_available() => sci::BackendKind::Llvm,
            None => sci::BackendKind::Cranelift,
        };
        return super::aot::run(
            &args.file,
            &analysis.modules,
            header,
            args.output.as_deref(),
            &super::aot::Target {
                backend,
                cpu: args.target_cpu.as_deref(),
            },
        );
    }
    let derivative = match args.emit {
        Emit::Grad => Some(super::derivatives::Kind::Grad),
        Emit::Jac => Some(super::derivatives::Kind::Jac),
        Emit::Hessian => Some(super::derivatives::Kind::Hessian),
        _ => None,
    };
    // With a derivative emit, `--stats` reports the derivative functions it prints.
    let simplified = if args.emit == Emit::Simplified || (args.stats && derivative.is_none()) {
        match super::simplified::simplify_modules(&analysis.modules, args.fast_math) {
            Ok(s) => Some(s),
            Err(diagnostics) => {
                err!("{}", sci::render::render_all(&diagnostics, &sources, color));
                return Ok(ExitCode::from(1));
            }
        }
    } else {
        None
    };
    if let (true, Some(s)) = (args.stats, &simplified) {
        err!("{}", super::simplified::stats_tables(s));
    }
    let text = match args.emit {
        Emit::Ast => sci::lang::parser::dump(&analysis.ast),
        Emit::Simplified => {
            super::simplified::render(simplified.as_deref().unwrap_or(&[]), args.fast_math)
        }
        Emit::Header | Emit::Ptx => String::new(),
        Emit::Grad | Emit::Jac | Emit::Hessian => {
            let options = sci_passes::simplify::SimplifyOptions {
                fast_math: args.fast_math,
                ..Default::default()
            };
            let kind = derivative.ok_or("a derivative emit without a kind")?;
            super::derivatives::render(&analysis.modules, kind, &options, args.stats)?
        }
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
