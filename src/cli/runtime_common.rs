//! What `sci run` and `sci train` share: compiling the file for the runtime (back end and
//! device), choosing the model, reporting runtime errors with the right exit code, writing
//! outputs so that a failed command leaves no file behind, and progress bars.

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

use clap::Args;
use indicatif::{ProgressBar, ProgressStyle};
use sci::stdlib::{Error, ErrorKind};
use sci::{Compiled, Compiler, Device};

/// Where batched maps run (`--device`, `--ptx`).
#[derive(Args, Debug, Clone)]
pub struct DeviceArgs {
    /// Where batched maps (PINN residuals, losses over points) run: cpu, or gpu (an NVIDIA
    /// GPU through the CUDA driver; needs a build with `--features cuda`).
    #[arg(long, default_value = "cpu")]
    pub device: String,
    /// The model's GPU kernels for `--device gpu`: a file written by `sci compile --target
    /// nvptx --emit ptx` (needed by builds without the `mlir` feature).
    #[arg(long, value_name = "FILE")]
    pub ptx: Option<PathBuf>,
    /// Threads for the points of batched maps on the CPU, and for Adam's update of large
    /// parameter vectors in `sci train` (0: every core). Results are the same bits for every
    /// count.
    #[arg(long, value_name = "N", default_value_t = 0)]
    pub threads: usize,
}

/// The device of `args`, checked against this build and this machine before any work, so
/// that `--device gpu` without a GPU fails at once (exit 2) and writes nothing.
fn device(args: &DeviceArgs) -> Result<Device, ExitCode> {
    let fail = |message: &str, help: &str| {
        errln!("error: {message}\nhelp: {help}");
        Err(ExitCode::from(2))
    };
    let device: Device = match args.device.parse() {
        Ok(d) => d,
        Err(message) => return fail(&message, "use `--device cpu` or `--device gpu`"),
    };
    if device == Device::Cpu {
        if args.ptx.is_some() {
            return fail(
                "`--ptx` is for `--device gpu`.",
                "add `--device gpu`, or drop `--ptx`",
            );
        }
        return Ok(device);
    }
    if !device.is_built_in() {
        return fail(
            "This build of sci has no CUDA runtime.",
            "rebuild with `--features cuda` (`cargo build --release --features cuda`), or use \
             `--device cpu`",
        );
    }
    if let Err(message) = sci::jit::cuda_device(device) {
        return fail(
            &message,
            "`--device gpu` needs an NVIDIA GPU and its driver (libcuda.so); use `--device cpu` \
             here",
        );
    }
    if args.ptx.is_none() && !cfg!(feature = "mlir") {
        return fail(
            "This build of sci cannot write PTX (it has no `mlir` feature).",
            "pass `--ptx FILE`, written by `sci compile --target nvptx --emit ptx MODEL.sci`",
        );
    }
    Ok(device)
}

/// Exit status for a computation that failed on valid input (the solver gave up, the loss
/// became NaN).
pub const EXIT_NUMERICAL: u8 = 3;

/// Prints a runtime error and returns its exit code: 2 for bad input and file problems,
/// [`EXIT_NUMERICAL`] for numerical failures.
pub fn report(e: &Error) -> ExitCode {
    let mut lines = vec![format!("error: {}", e.message)];
    lines.extend(e.help.as_ref().map(|help| format!("help: {help}")));
    error_lines(&lines);
    match e.kind {
        ErrorKind::Input | ErrorKind::Io => ExitCode::from(2),
        ErrorKind::Numerical => ExitCode::from(EXIT_NUMERICAL),
    }
}

/// Writes the lines of an error on stderr, on every rank: prefixed with the rank when the
/// run has several (the error may be this rank's alone), in one write, so that a rank
/// that ends the others (`MPI_Abort`) never leaves them, or itself, half a message.
pub fn error_lines(lines: &[String]) {
    use std::io::Write as _;
    let (rank, size) = super::ranks::rank_and_size();
    let mut text = String::new();
    for line in lines {
        if size > 1 {
            text.push_str(&format!("rank {rank}: "));
        }
        text.push_str(line);
        text.push('\n');
    }
    let _ = std::io::stderr().write_all(text.as_bytes());
}

/// Compiles `path` with the JIT of `backend` (a name: cranelift, llvm, interp) for the
/// device of `device`; prints diagnostics. `Err(code)` when it did not compile.
pub fn compile(
    path: &Path,
    backend: &str,
    device_args: &DeviceArgs,
    color: bool,
) -> Result<Compiled, ExitCode> {
    compile_with(path, backend, device_args, color, Compiler::new(), &[])
}

/// [`compile`] starting from `compiler`'s settings (`sci train` asks for the loss's terms).
/// `overrides` are the `--param NAME=VALUE` items: those that name constants of the source
/// rather than parameters are compiled in (constants are folded at compile time), which
/// takes a second compile; [`apply_overrides`] sets the parameters afterwards.
pub fn compile_with(
    path: &Path,
    backend: &str,
    device_args: &DeviceArgs,
    color: bool,
    compiler: Compiler,
    overrides: &[String],
) -> Result<Compiled, ExitCode> {
    let compiled = compile_once(path, backend, device_args, color, compiler.clone())?;
    let constants = match constant_overrides(&compiled, overrides) {
        Ok(c) if c.is_empty() => return Ok(compiled),
        Ok(c) => c,
        Err(e) => return Err(report(&e)),
    };
    let mut with_constants = compiler;
    for (name, values) in &constants {
        with_constants = with_constants.constant(name.clone(), values.clone());
    }
    let recompiled = compile_once(path, backend, device_args, color, with_constants)?;
    match same_layouts(&compiled, &recompiled, &constants) {
        Ok(()) => Ok(recompiled),
        Err(e) => Err(report(&e)),
    }
}

/// `NAME=VALUE` (VALUE one number or a comma-separated list, optionally in brackets).
pub fn parse_override(item: &str) -> Result<(&str, Vec<f64>), Error> {
    let (name, value) = item
        .split_once('=')
        .ok_or_else(|| Error::input(format!("`--param {item}` is not of the form NAME=VALUE.")))?;
    let values: Result<Vec<f64>, _> = value
        .trim()
        .trim_start_matches('[')
        .trim_end_matches(']')
        .split(',')
        .map(|v| v.trim().parse::<f64>())
        .collect();
    let values = values.map_err(|_| {
        Error::input(format!(
            "`--param {item}`: `{value}` is not a list of numbers."
        ))
    })?;
    Ok((name.trim(), values))
}

/// "1 value", "3 values".
fn count_values(n: usize) -> String {
    if n == 1 {
        "1 value".into()
    } else {
        format!("{n} values")
    }
}

/// "1 was", "3 were".
fn given(n: usize) -> String {
    if n == 1 {
        "1 was".into()
    } else {
        format!("{n} were")
    }
}

/// Whether `name` is a parameter of some model of `compiled`.
fn is_parameter(compiled: &Compiled, name: &str) -> bool {
    compiled
        .modules
        .iter()
        .any(|m| m.params.slot(name).is_some())
}

/// The constants of the source (file-level and every model's), by name.
fn constants(compiled: &Compiled) -> impl Iterator<Item = &sci::lang::hir::ConstHir> {
    let program = &compiled.program;
    program
        .consts
        .iter()
        .chain(program.models.iter().flat_map(|m| m.consts.iter()))
}

/// The `--param` items that name a constant of the source and no parameter.
fn constant_overrides(
    compiled: &Compiled,
    overrides: &[String],
) -> Result<sci::lang::check::Overrides, Error> {
    let mut out = sci::lang::check::Overrides::new();
    for item in overrides {
        let (name, values) = parse_override(item)?;
        if is_parameter(compiled, name) {
            continue;
        }
        if let Some(c) = constants(compiled).find(|c| c.name == name) {
            if values.len() != c.value.len() {
                return Err(Error::input(format!(
                    "Constant `{name}` has {}, but {} given.",
                    count_values(c.value.len()),
                    given(values.len())
                )));
            }
            out.insert(name.to_string(), values);
        }
    }
    Ok(out)
}

/// A constant that sizes a state, parameter or output cannot be changed from the command
/// line: outputs, checkpoints and data would no longer match the model's layout.
fn same_layouts(
    before: &Compiled,
    after: &Compiled,
    constants: &sci::lang::check::Overrides,
) -> Result<(), Error> {
    for (old, new) in before.modules.iter().zip(&after.modules) {
        let layouts = [
            ("parameter", &old.params, &new.params),
            ("state", &old.states, &new.states),
            ("output", &old.outputs, &new.outputs),
        ];
        for (what, old_layout, new_layout) in layouts {
            for (a, b) in old_layout.slots.iter().zip(&new_layout.slots) {
                if a.shape != b.shape {
                    let names: Vec<String> = constants.keys().map(|n| format!("`{n}`")).collect();
                    let count = |shape: &[usize]| shape.iter().product::<usize>();
                    return Err(Error::input(format!(
                        "`--param` cannot change {}: it sizes the {what} `{}` of `{}` ({} → {} elements).",
                        names.join(", "),
                        a.name,
                        old.name,
                        count(&a.shape),
                        count(&b.shape)
                    ))
                    .with_help(
                        "a constant that fixes a shape can only be changed in the source; \
                         `--param` changes the others",
                    ));
                }
            }
        }
    }
    Ok(())
}

/// One compile of `path` with `compiler`'s settings; prints diagnostics.
fn compile_once(
    path: &Path,
    backend: &str,
    device_args: &DeviceArgs,
    color: bool,
    compiler: Compiler,
) -> Result<Compiled, ExitCode> {
    let device = device(device_args)?;
    let backend: sci::BackendKind = match backend.parse() {
        Ok(b) => b,
        Err(message) => {
            errln!("error: {message}");
            return Err(ExitCode::from(2));
        }
    };
    if !backend.is_available() {
        errln!(
            "error: This build of sci has no {} back end.\nhelp: rebuild with `--features {}`, or use `--backend cranelift`",
            backend.name(),
            backend.name()
        );
        return Err(ExitCode::from(2));
    }
    let text = match super::read_source(path) {
        Ok(text) => text,
        Err(e) => {
            errln!("error: {e}");
            return Err(ExitCode::from(2));
        }
    };
    let mut compiler = compiler
        .backend(backend)
        .device(device)
        .threads(device_args.threads)
        .data_dir(sci::model_dir(path));
    if let Some(ptx) = &device_args.ptx {
        compiler = compiler.ptx_file(ptx);
    }
    // A `.sir` file is a module in the IR text format, self-described by its manifest.
    let name = path.display().to_string();
    let result = if path.extension().is_some_and(|e| e == "sir") {
        compiler.compile_ir(&name, &text)
    } else {
        compiler.compile_source(&name, &text)
    };
    match result {
        Ok(compiled) => {
            err!(
                "{}",
                sci::render::render_all(&compiled.warnings, &compiled.sources, color)
            );
            Ok(compiled)
        }
        Err(e) => {
            err!(
                "{}",
                sci::render::render_all(&e.diagnostics, &e.sources, color)
            );
            Err(ExitCode::from(1))
        }
    }
}

/// Notes on stderr about what of model `name` runs on the GPU, when one was asked for.
pub fn note_device(compiled: &Compiled, name: &str) {
    if compiled.device() == Device::Cpu {
        return;
    }
    let Ok(model) = compiled.model(name) else {
        return;
    };
    match model.gpu() {
        None => errln!("note: model `{name}` has no batched maps; it runs on the CPU"),
        Some(info) => {
            errln!(
                "note: on {}: {}",
                info.device,
                if info.functions.is_empty() {
                    "nothing (no kernel in the PTX matches the model)".to_string()
                } else {
                    info.functions.join(", ")
                }
            );
            if !info.missing_kernels.is_empty() {
                errln!(
                    "note: {} batched maps have no kernel in the PTX and run on the CPU: {}",
                    info.missing_kernels.len(),
                    info.missing_kernels.join(", ")
                );
            }
        }
    }
}

/// The model to use: the one named, or the only one that `wanted` accepts.
pub fn choose_model(
    compiled: &Compiled,
    name: Option<&str>,
    what: &str,
    wanted: impl Fn(&sci::Module) -> bool,
) -> Result<String, Error> {
    let models: Vec<&sci::Module> = compiled.models().collect();
    if let Some(name) = name {
        return models
            .iter()
            .find(|m| m.name == name)
            .map(|m| m.name.clone())
            .ok_or_else(|| {
                let names: Vec<&str> = models.iter().map(|m| m.name.as_str()).collect();
                Error::input(format!("There is no model called `{name}`."))
                    .with_help(format!("the file defines: {}", names.join(", ")))
            });
    }
    let mut fitting: Vec<&str> = models
        .iter()
        .filter(|m| wanted(m))
        .map(|m| m.name.as_str())
        .collect();
    // A model used as a component of another is a part, not the system to run.
    let parts: Vec<&str> = (compiled.program.models.iter())
        .flat_map(|m| m.components.iter().map(String::as_str))
        .collect();
    if fitting.iter().any(|m| !parts.contains(m)) {
        fitting.retain(|m| !parts.contains(m));
    }
    match fitting.as_slice() {
        [one] => Ok(one.to_string()),
        [] => Err(Error::input(format!("The file defines no model {what}."))),
        many => Err(Error::input(format!(
            "The file defines several models {what}: {}.",
            many.join(", ")
        ))
        .with_help("choose one with `--model NAME`")),
    }
}

/// Checks, before any work, that `path` can be written: its directory exists and its
/// extension is one of `extensions`.
/// [`check_output`] for `--plot`: `.svg`, or `.png` when the system has a font for its
/// labels.
pub fn check_plot_output(path: &Path) -> Result<(), Error> {
    check_output(path, &["svg", "png"], "--plot")?;
    if super::png::is_png(path) {
        super::png::fonts()?;
    }
    Ok(())
}

pub fn check_output(path: &Path, extensions: &[&str], flag: &str) -> Result<(), Error> {
    let ext = path
        .extension()
        .and_then(|e| e.to_str())
        .unwrap_or("")
        .to_ascii_lowercase();
    if !extensions.contains(&ext.as_str()) {
        return Err(Error::input(format!(
            "`{flag} {}` must end in {}.",
            path.display(),
            extensions
                .iter()
                .map(|e| format!(".{e}"))
                .collect::<Vec<_>>()
                .join(", ")
        )));
    }
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
        _ => PathBuf::from("."),
    };
    if !dir.is_dir() {
        return Err(Error::input(format!(
            "Cannot write `{}`: the directory `{}` does not exist.",
            path.display(),
            dir.display()
        )));
    }
    Ok(())
}

/// A progress bar on stderr (drawn only when stderr is a terminal), `len` units long.
pub fn progress_bar(len: u64, what: &str) -> ProgressBar {
    if !super::ranks::speaks() {
        return ProgressBar::hidden();
    }
    let bar = ProgressBar::new(len);
    let style = ProgressStyle::with_template(
        "{spinner} {prefix} [{elapsed_precise}] {wide_bar} {percent:>3}% {msg}",
    )
    .unwrap_or_else(|_| ProgressStyle::default_bar());
    bar.set_style(style);
    bar.set_prefix(what.to_string());
    bar.enable_steady_tick(Duration::from_millis(200));
    bar
}

/// The help for a parameter name the model does not have: the names it has.
pub fn parameters_help(model: &sci::Model<'_>) -> String {
    let names: Vec<&str> = (model.ir().params.slots.iter())
        .map(|s| s.name.as_str())
        .collect();
    format!("its parameters are: {}", names.join(", "))
}

/// Sets the `NAME=VALUE` parameter overrides in θ. Items that name a constant of the
/// source were compiled in by [`compile_with`] and are skipped here.
pub fn apply_overrides(
    compiled: &Compiled,
    model: &sci::Model<'_>,
    p: &mut [f64],
    overrides: &[String],
) -> Result<(), Error> {
    for item in overrides {
        let (name, values) = parse_override(item)?;
        let Some(slot) = model.ir().params.slot(name) else {
            if constants(compiled).any(|c| c.name == name) {
                continue;
            }
            let consts: Vec<&str> = constants(compiled).map(|c| c.name.as_str()).collect();
            let mut help = parameters_help(model);
            if !consts.is_empty() {
                help.push_str(&format!("; its constants: {}", consts.join(", ")));
            }
            return Err(Error::input(format!(
                "Model `{}` has no parameter or constant `{name}`.",
                model.name()
            ))
            .with_help(help));
        };
        let count: usize = slot.shape.iter().product();
        if values.len() != count {
            return Err(Error::input(format!(
                "Parameter `{name}` has {}, but {} given.",
                count_values(count),
                given(values.len())
            )));
        }
        p[slot.offset..slot.offset + count].copy_from_slice(&values);
    }
    Ok(())
}
