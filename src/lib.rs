//! sci: a compiler for a declarative scientific modelling language.
//!
//! This root crate is the front door: the embedding API for Rust hosts and the `sci`
//! command-line tool (`src/main.rs`, `src/cli/`). It owns the only I/O of the compiler
//! (reading model files) and the only terminal rendering of diagnostics ([`render`]).
//!
//! ```text
//! source ─parse─▶ AST ─check─▶ HIR ─lower─▶ IR ─expand derivatives─▶ IR ─Cranelift─▶ native code
//!                                                                      └─interpreter─▶ numbers (the oracle)
//! ```
//!
//! Native code is reached through typed handles ([`Compiled::model`], [`Compiled::function`];
//! see [`jit`]). The IR modules stay available, for instance to evaluate a function with the
//! reference interpreter:
//!
//! ```
//! let src = "model Decay { param k = 0.5\n state x = 2.0\n der(x) = -k * x }";
//! let compiled = sci::Compiler::new().compile_source("decay.sci", src).unwrap();
//! let model = compiled.module("Decay").unwrap();
//! let dx = sci::eval(model, "rhs", &[
//!     sci::Tensor::scalar(0.0),
//!     sci::Tensor::vector(vec![2.0]),
//!     sci::Tensor::vector(model.params.defaults()),
//! ]).unwrap();
//! assert_eq!(dx.data, vec![-1.0]);
//! ```

#![forbid(unsafe_code)]

pub mod jit;
#[cfg(feature = "mpi")]
pub mod mpi;
pub mod render;
pub mod runtime;
pub mod wasm;

use sci_diag::{Diagnostic, FileId};
use sci_lang::{ast, check, hir};
use std::path::Path;

pub use jit::{BackendKind, Batch, CsrPattern, Device, InvariantCache, JitError, Model};
pub use sci_codegen as codegen;
pub use sci_diag as diag;
pub use sci_ir as ir;
pub use sci_ir::Module;
pub use sci_ir::interp::Tensor;
pub use sci_lang as lang;
pub use sci_passes as passes;
pub use sci_passes::pipeline::Simplify;
pub use sci_stdlib as stdlib;

/// The source texts of one compilation, by [`FileId`].
#[derive(Clone, Debug, Default)]
pub struct SourceMap {
    files: Vec<(String, String)>,
}

impl SourceMap {
    /// An empty map.
    pub fn new() -> SourceMap {
        SourceMap::default()
    }

    /// Adds a source text under a display name (usually its path) and returns its id.
    pub fn add(&mut self, name: impl Into<String>, text: impl Into<String>) -> FileId {
        self.files.push((name.into(), text.into()));
        FileId(self.files.len() as u32 - 1)
    }

    /// The display name of a file: one this map issued, or a prelude module
    /// (`stdlib/prelude/nn.sci`); `"<unknown>"` otherwise.
    pub fn name(&self, file: FileId) -> &str {
        self.files
            .get(file.0 as usize)
            .map(|(n, _)| n.as_str())
            .or_else(|| sci_lang::prelude::name(file))
            .unwrap_or("<unknown>")
    }

    /// The text of a file (a prelude module's source for its reserved id; empty for an id
    /// this map did not issue).
    pub fn text(&self, file: FileId) -> &str {
        self.files
            .get(file.0 as usize)
            .map(|(_, t)| t.as_str())
            .or_else(|| sci_lang::prelude::source(file))
            .unwrap_or("")
    }

    /// Every file as `(id, name, text)`, the prelude modules last (diagnostics inside
    /// prelude functions point into them).
    pub fn iter(&self) -> impl Iterator<Item = (FileId, &str, &str)> {
        let prelude = sci_lang::prelude::FILES.into_iter().filter_map(|f| {
            Some((
                f,
                sci_lang::prelude::name(f)?,
                sci_lang::prelude::source(f)?,
            ))
        });
        self.files
            .iter()
            .enumerate()
            .map(|(i, (n, t))| (FileId(i as u32), n.as_str(), t.as_str()))
            .chain(prelude)
    }
}

/// Everything the front end produced for one file, errors included.
#[derive(Clone, Debug)]
pub struct Analysis {
    pub file: FileId,
    pub ast: ast::SourceFile,
    pub checked: check::Checked,
    /// The lowered modules; empty when there were errors.
    pub modules: Vec<Module>,
    /// Parse, check and lowering diagnostics, in that order.
    pub diagnostics: Vec<Diagnostic>,
}

impl Analysis {
    /// True if any diagnostic is an error.
    pub fn has_errors(&self) -> bool {
        sci_diag::has_errors(&self.diagnostics)
    }
}

/// Runs parse → check → lower → derivative expansion on one source text. Never fails:
/// problems are diagnostics.
pub fn analyze(file: FileId, text: &str) -> Analysis {
    analyze_with(file, text, &check::NO_OVERRIDES)
}

/// [`analyze`] for a model file in `dir`: the data sets it uses as inputs (`interp`) are
/// read relative to it (`analyze` reads them relative to the current directory).
pub fn analyze_in(file: FileId, text: &str, dir: &Path) -> Analysis {
    analyze_inputs(file, text, &check::NO_OVERRIDES, dir)
}

/// [`analyze`] with the values of some constants given from outside the source, by name
/// (row-major, in each constant's declared unit).
pub fn analyze_with(file: FileId, text: &str, constants: &check::Overrides) -> Analysis {
    analyze_inputs(file, text, constants, Path::new("."))
}

/// Reads the data sets a model uses as inputs (`interp`) from files relative to a
/// directory (the model file's), for the checker, which does no I/O itself.
pub struct FileTables {
    dir: std::path::PathBuf,
}

impl FileTables {
    /// Data files relative to `dir`.
    pub fn in_dir(dir: impl Into<std::path::PathBuf>) -> FileTables {
        FileTables { dir: dir.into() }
    }
}

impl check::TableSource for FileTables {
    fn columns(&self, name: &str, path: &str, columns: &[String]) -> Result<Vec<Vec<f64>>, String> {
        let source = sci_ir::manifest::DataSource {
            name: name.to_string(),
            path: path.to_string(),
            columns: columns.to_vec(),
            shapes: Vec::new(),
            paths: Vec::new(),
            test: 0,
        };
        runtime::fit::read_columns(&source, &self.dir).map_err(|e| match e.help {
            Some(help) => format!("{} ({help})", e.message),
            None => e.message,
        })
    }
}

fn analyze_inputs(file: FileId, text: &str, constants: &check::Overrides, dir: &Path) -> Analysis {
    let tables = FileTables {
        dir: dir.to_path_buf(),
    };
    let front = sci_lang::analyze_with_inputs(file, text, constants, Some(&tables));
    let mut diagnostics = front.diagnostics;
    let mut modules = front.modules;
    diagnostics.extend(expand_derivatives(&mut modules));
    if sci_diag::has_errors(&diagnostics) {
        modules.clear();
    }
    Analysis {
        file,
        ast: front.ast,
        checked: front.checked,
        modules,
        diagnostics,
    }
}

/// Lowers a checked program to IR modules and expands its derivative placeholders
/// (`d(u, x)`, `grad`, `hessian`, `laplacian`), so every function the modules hold can be
/// evaluated and compiled.
pub fn lower(program: &hir::Program) -> Result<Vec<Module>, Vec<Diagnostic>> {
    let mut modules = sci_lang::lower::lower_program(program)?;
    let diagnostics = expand_derivatives(&mut modules);
    if diagnostics.is_empty() {
        Ok(modules)
    } else {
        Err(diagnostics)
    }
}

/// The front stage of the pass pipeline (`sci_passes::pipeline`) on every module: the
/// `deriv` placeholders (`d(u, x)`, `grad`, `hessian`, `laplacian`) replaced by derivative
/// code, maps over the same points merged; returns the problems found.
fn expand_derivatives(modules: &mut [Module]) -> Vec<Diagnostic> {
    let mut diagnostics = Vec::new();
    for module in modules {
        if let Err(errs) = sci_passes::pipeline::front(module) {
            diagnostics.extend(errs);
        }
    }
    diagnostics
}

/// A failed compilation: the diagnostics and the sources they point into.
#[derive(Clone, Debug)]
pub struct CompileError {
    pub diagnostics: Vec<Diagnostic>,
    pub sources: SourceMap,
}

impl CompileError {
    /// The diagnostics rendered as plain text with source excerpts.
    pub fn render(&self) -> String {
        render::render_all(&self.diagnostics, &self.sources, false)
    }
}

impl std::fmt::Display for CompileError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.render())
    }
}

impl std::error::Error for CompileError {}

/// The result of compiling one file: its IR modules (one per model, plus `functions`).
#[derive(Clone, Debug)]
pub struct Compiled {
    pub modules: Vec<Module>,
    pub program: hir::Program,
    /// Warnings (errors make compilation fail).
    pub warnings: Vec<Diagnostic>,
    pub sources: SourceMap,
    /// The native code of every module (see [`jit`]), freed when the last clone drops.
    native: std::sync::Arc<jit::Native>,
    /// The syntax tree and checked program, kept to instantiate generic functions for new
    /// shapes without parsing and checking the source again (`None` for a module read from
    /// IR text).
    front: Option<std::sync::Arc<std::sync::Mutex<FrontEnd>>>,
}

/// A file's syntax tree and checked program (see [`instantiate_generic`]).
#[derive(Debug)]
pub(crate) struct FrontEnd {
    pub ast: ast::SourceFile,
    pub checked: check::Checked,
}

/// Instantiates the file-level (or prelude) function `name` for argument `shapes` in a
/// checked program — no parsing or checking again — and lowers the program with the new
/// instance. Returns the instance's symbol (its name in the IR) and the modules, their
/// derivatives not yet expanded ([`expand`] the ones needed). The one route of `sci eval`
/// and [`Compiled::function`] to generic functions.
pub fn instantiate_generic(
    ast: &ast::SourceFile,
    checked: &mut check::Checked,
    name: &str,
    shapes: &[Vec<usize>],
) -> Result<(String, Vec<Module>), Vec<Diagnostic>> {
    let id = check::instantiate(ast, checked, name, shapes)?;
    let symbol = checked
        .program
        .functions
        .get(id.index())
        .map(|f| f.symbol.clone())
        .ok_or_else(|| {
            vec![Diagnostic::error(
                "E0201",
                format!("`{name}` could not be instantiated."),
            )]
        })?;
    Ok((symbol, sci_lang::lower::lower_program(&checked.program)?))
}

/// Expands the derivatives of `modules` (as [`lower`] does after lowering).
pub fn expand(modules: &mut [Module]) -> Result<(), Vec<Diagnostic>> {
    let diagnostics = expand_derivatives(modules);
    if diagnostics.is_empty() {
        Ok(())
    } else {
        Err(diagnostics)
    }
}

impl Compiled {
    /// The module of the model with this name (or `functions` for free functions).
    pub fn module(&self, name: &str) -> Option<&Module> {
        self.modules.iter().find(|m| m.name == name)
    }

    /// The modules of the models, in declaration order (without the free functions'
    /// module).
    pub fn models(&self) -> impl Iterator<Item = &Module> {
        self.modules.iter().filter(|m| m.name != FUNCTIONS_MODULE)
    }
}

/// The name of the module that holds a program's free functions.
pub const FUNCTIONS_MODULE: &str = "functions";

/// Compiles sci source into IR and native code.
#[derive(Clone, Debug)]
pub struct Compiler {
    backend: BackendKind,
    derivatives: bool,
    /// Whether the adjoint method's products are compiled too.
    adjoint: bool,
    /// Which functions the pass pipeline simplifies with e-graphs before code generation.
    simplify: sci_passes::pipeline::Simplify,
    /// The device batched functions run on (see [`jit::Device`]).
    device: jit::DeviceSetup,
    /// Threads for the tiles of batched maps (0: all cores).
    threads: usize,
    /// Whether the loss's term functions are compiled.
    loss_terms: bool,
    /// Values of constants that replace the source's.
    constants: check::Overrides,
    /// The directory data files used as inputs (`interp`) are read from.
    data_dir: std::path::PathBuf,
}

impl Default for Compiler {
    fn default() -> Compiler {
        Compiler {
            backend: BackendKind::default(),
            derivatives: true,
            adjoint: false,
            simplify: sci_passes::pipeline::SIMPLIFY_BY_DEFAULT,
            device: jit::DeviceSetup::default(),
            threads: 0,
            loss_terms: false,
            constants: check::Overrides::new(),
            data_dir: std::path::PathBuf::from("."),
        }
    }
}

impl Compiler {
    /// A compiler with default settings: the default back end ([`BackendKind`]) and the
    /// derivative functions of [`jit`] (the Jacobian of `rhs`, the gradient of `loss`).
    pub fn new() -> Compiler {
        Compiler::default()
    }

    /// Chooses the engine that runs compiled functions.
    pub fn backend(mut self, backend: BackendKind) -> Compiler {
        self.backend = backend;
        self
    }

    /// Runs the tiles of batched maps (PINN residuals, losses over points) on `n` threads;
    /// 0, the default, uses every core. Results are the same bits for every `n`: each tile
    /// computes the same numbers wherever it runs, and partial sums are combined in tile
    /// order.
    pub fn threads(mut self, n: usize) -> Compiler {
        self.threads = n;
        self
    }

    /// Whether to build and compile the derivative functions (on by default).
    pub fn derivatives(mut self, on: bool) -> Compiler {
        self.derivatives = on;
        self
    }

    /// Whether to also compile the adjoint method's products `(∂rhs/∂y)ᵀλ, (∂rhs/∂θ)ᵀλ`
    /// and `(∂y0/∂θ)ᵀλ` (off by default: they add about two thirds to a small model's
    /// compile time). Needed by [`Model::rhs_vjp`], [`Model::y0_vjp`] and adjoint
    /// gradients ([`runtime::TrainSetup::sensitivity`]); implies [`Compiler::derivatives`].
    pub fn adjoint(mut self, on: bool) -> Compiler {
        self.adjoint = on;
        self
    }

    /// Whether to compile the loss's additive terms (`loss_term.NAME`, for
    /// [`Model::loss_terms`]; off by default: they take about a fifth of a PINN's compile
    /// time and only training monitors use them). The IR has them either way.
    pub fn loss_terms(mut self, on: bool) -> Compiler {
        self.loss_terms = on;
        self
    }

    /// Which functions to simplify with e-graphs (IEEE-safe rules: results keep their
    /// bits) before generating code: by default those training calls thousands of times
    /// (`Simplify::Training`); see `docs/simplification.md` for what it costs and gains.
    pub fn simplify(mut self, which: sci_passes::pipeline::Simplify) -> Compiler {
        self.simplify = which;
        self
    }

    /// Gives constant `name` the value `values` (row-major, in its declared unit) in place
    /// of the source's, in every model that has a constant of that name (file-level ones
    /// included). Constants are folded at compile time, so this takes a compile; a
    /// constant that sizes arrays changes their shapes.
    pub fn constant(mut self, name: impl Into<String>, values: Vec<f64>) -> Compiler {
        self.constants.insert(name.into(), values);
        self
    }

    /// The directory the data sets a model uses as inputs (`interp`) are read from: the
    /// model file's (`compile_file` sets it); by default the current directory.
    pub fn data_dir(mut self, dir: impl Into<std::path::PathBuf>) -> Compiler {
        self.data_dir = dir.into();
        self
    }

    /// Compiles a source text; `name` is used in diagnostics.
    pub fn compile_source(&self, name: &str, text: &str) -> Result<Compiled, CompileError> {
        let mut sources = SourceMap::new();
        let file = sources.add(name, text);
        let analysis = analyze_inputs(file, text, &self.constants, &self.data_dir);
        if analysis.has_errors() {
            return Err(CompileError {
                diagnostics: analysis.diagnostics,
                sources,
            });
        }
        let native = self.native(&analysis.modules, &sources)?;
        Ok(Compiled {
            modules: analysis.modules,
            program: analysis.checked.program.clone(),
            warnings: analysis.diagnostics,
            sources,
            native: std::sync::Arc::new(native),
            front: Some(std::sync::Arc::new(std::sync::Mutex::new(FrontEnd {
                ast: analysis.ast,
                checked: analysis.checked,
            }))),
        })
    }

    /// Compiles a module in the `.sir` text format (what `sci compile --emit ir` writes):
    /// its manifest says what each function and input is for, so the result solves and
    /// trains like a compiled source file. Derivative functions of the conventional ones
    /// that the text holds are dropped and built again, as for a source file, so the set
    /// of derivatives is always the compiler's own; generic functions cannot be
    /// instantiated (the module has no source).
    pub fn compile_ir(&self, name: &str, text: &str) -> Result<Compiled, CompileError> {
        let mut sources = SourceMap::new();
        let file = sources.add(name, text);
        let fail = |diagnostics: Vec<Diagnostic>, sources: SourceMap| {
            Err(CompileError {
                diagnostics,
                sources,
            })
        };
        let mut module = match sci_ir::read_module(file, text) {
            Ok(m) => m,
            Err(diagnostics) => return fail(diagnostics, sources),
        };
        if let Err(errors) = sci_ir::validate_module(&module) {
            return fail(errors.iter().map(|e| e.to_diagnostic()).collect(), sources);
        }
        drop_conventional_derivatives(&mut module);
        let modules = vec![module];
        let native = self.native(&modules, &sources)?;
        Ok(Compiled {
            modules,
            program: hir::Program::default(),
            warnings: Vec::new(),
            sources,
            native: std::sync::Arc::new(native),
            front: None,
        })
    }

    /// The native code of `modules`, or the back end's failure as a diagnostic.
    fn native(&self, modules: &[Module], sources: &SourceMap) -> Result<jit::Native, CompileError> {
        // Copied only where there are terms to leave out.
        let modules: Vec<std::borrow::Cow<'_, Module>> = if self.loss_terms {
            modules.iter().map(std::borrow::Cow::Borrowed).collect()
        } else {
            modules.iter().map(jit::without_loss_terms).collect()
        };
        jit::build(
            &modules,
            self.backend,
            &sci_passes::pipeline::Options {
                derivatives: match (self.derivatives, self.adjoint) {
                    (_, true) => sci_passes::pipeline::Derivatives::Adjoint,
                    (true, false) => sci_passes::pipeline::Derivatives::Runtime,
                    (false, false) => sci_passes::pipeline::Derivatives::None,
                },
                simplify: self.simplify,
            },
            &self.device,
            self.threads,
        )
        .map_err(|message| CompileError {
            diagnostics: vec![Diagnostic::error(
                "E0801",
                format!("The back end could not compile this program: {message}"),
            )],
            sources: sources.clone(),
        })
    }

    /// Reads and compiles a file.
    pub fn compile_file(
        &self,
        path: impl AsRef<Path>,
    ) -> Result<Compiled, Box<dyn std::error::Error>> {
        let path = path.as_ref();
        let text = read_source_file(path)
            .map_err(|why| format!("cannot read `{}`: {why}", path.display()))?;
        let compiler = self.clone().data_dir(model_dir(path));
        Ok(compiler.compile_source(&path.display().to_string(), &text)?)
    }
}

/// The directory of a model file (where its data files are), `.` for a bare file name.
pub fn model_dir(path: &Path) -> std::path::PathBuf {
    match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
        _ => std::path::PathBuf::from("."),
    }
}

/// Removes the derivative functions of conventional functions (`jacobian.rhs`,
/// `grad.loss`, …): the compiler adds them to every module it compiles.
fn drop_conventional_derivatives(module: &mut Module) {
    let kept: Vec<sci_ir::Function> = module
        .functions
        .iter()
        .filter(|(_, f)| {
            !(matches!(f.role, sci_ir::Role::Derivative(_)) && f.role.is_conventional())
        })
        .map(|(_, f)| f.clone())
        .collect();
    if kept.len() == module.functions.len() {
        return;
    }
    // No function calls a conventional derivative, so the kept calls stay valid once
    // their callees' indices are renumbered.
    let index: std::collections::HashMap<String, sci_ir::FuncId> = kept
        .iter()
        .enumerate()
        .map(|(k, f)| (f.name.clone(), sci_ir::FuncId::from_index(k)))
        .collect();
    let names: Vec<String> = module
        .functions
        .iter()
        .map(|(_, f)| f.name.clone())
        .collect();
    let mut functions = sci_ir::Arena::new();
    for mut f in kept {
        let ids: Vec<sci_ir::ValueId> = f.values.iter().map(|(id, _)| id).collect();
        for id in ids {
            if let Some(sci_ir::Value {
                op: sci_ir::Op::Call { func, .. },
                ..
            }) = f.values.get_mut(id)
                && let Some(new) = names.get(func.index()).and_then(|n| index.get(n))
            {
                *func = *new;
            }
        }
        functions.push(f);
    }
    module.functions = functions;
}

/// The largest model file the tools and [`Compiler::compile_file`] read, in bytes (the
/// parser refuses longer text the same way: `sci_lang::parser::MAX_SOURCE_BYTES`).
pub const MAX_SOURCE_BYTES: u64 = sci_lang::parser::MAX_SOURCE_BYTES as u64;

/// The text of the model file `path`: a regular file (so `/dev/zero` is an error, not a read
/// that never ends) of at most [`MAX_SOURCE_BYTES`], in UTF-8.
pub fn read_source_file(path: &Path) -> Result<String, sci_stdlib::files::ReadFailure> {
    sci_stdlib::files::read_regular_text(path, MAX_SOURCE_BYTES)
}

/// Evaluates the function `name` of `module` with the reference interpreter.
pub fn eval(module: &Module, name: &str, args: &[Tensor]) -> Result<Tensor, String> {
    let func = module.function(name).ok_or_else(|| {
        let names: Vec<&str> = module
            .functions
            .iter()
            .map(|(_, f)| f.name.as_str())
            .collect();
        format!(
            "module `{}` has no function `{name}`; it has: {}",
            module.name,
            names.join(", ")
        )
    })?;
    sci_ir::interp::eval(module, func, args).map_err(|e| e.to_string())
}
