//! Natively compiled models and functions: typed, safe handles for Rust hosts.
//!
//! [`Compiler::compile_source`](crate::Compiler::compile_source) and
//! [`compile_file`](crate::Compiler::compile_file) compile every model to native code
//! (Cranelift by default, see [`BackendKind`]) together with the derivatives a host needs:
//! the Jacobian of `rhs` with respect to the state and the gradient of `loss` with respect to
//! the parameters θ, and a sparse (CSR) Jacobian. The handles below check every length at the boundary and report
//! problems as [`JitError`]s; callers never write `unsafe`, and the machine code is freed
//! when the last [`Compiled`] that owns it drops.
//!
//! ```
//! let src = "model LV {
//!     param a = 1.5
//!     param b = 1.0
//!     state x = 10.0
//!     state y = 5.0
//!     der(x) = a * x - b * x * y
//!     der(y) = x * y - 3 * y
//! }";
//! let compiled = sci::Compiler::new().compile_source("lv.sci", src)?;
//! let lv = compiled.model("LV")?;
//! let p = lv.params();                // default θ = [1.5, 1.0]
//! let y = lv.y0(&p)?;                 // [10, 5]
//! let mut dy = vec![0.0; lv.n_states()];
//! lv.rhs(0.0, &y, &p, &mut dy)?;
//! assert_eq!(dy, vec![1.5 * 10.0 - 10.0 * 5.0, 10.0 * 5.0 - 15.0]);
//! let mut jac = vec![0.0; 4];         // ∂f/∂y, row-major
//! lv.jacobian(0.0, &y, &p, &mut jac)?;
//! assert_eq!(jac, vec![1.5 - 5.0, -10.0, 5.0, 10.0 - 3.0]);
//! // Shapes are checked: a state vector of the wrong length is an error, not a crash.
//! assert!(lv.rhs(0.0, &[1.0], &p, &mut dy).is_err());
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! Free functions, generic ones included (instantiated for the argument lengths on first
//! use):
//!
//! ```
//! let src = "fn rosenbrock(x: real[n]) = sum(i in 0..n - 1: 100 * (x[i + 1] - x[i]^2)^2 + (1 - x[i])^2)";
//! let compiled = sci::Compiler::new().compile_source("r.sci", src)?;
//! let f = compiled.function("rosenbrock")?;
//! assert_eq!(f.call(&[&[1.0, 1.0, 1.0]])?, vec![0.0]);
//! assert_eq!(f.call(&[&[0.0, 0.0]])?, vec![1.0]);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

mod device;
mod entries;

pub use device::{Device, GpuInfo, MAX_PTX_BYTES, PtxSource, cuda_device};
use entries::{Entries, Entry};

use crate::{Compiled, Tensor};
pub(crate) use device::DeviceSetup;
use sci_codegen::{CompiledModule, Signature};
use sci_ir::Module;
use sci_passes::pipeline::{self, Derivatives};
use smallvec::SmallVec;
use std::borrow::Cow;
use std::collections::HashMap;
use std::fmt;
use std::sync::{Arc, Mutex};

/// Which engine runs compiled functions.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BackendKind {
    /// Native code through Cranelift (feature `cranelift`, on by default): compiles fast.
    Cranelift,
    /// Native code through LLVM at O3 for the host CPU (feature `llvm`): the fastest code,
    /// compiled more slowly.
    Llvm,
    /// Native code through MLIR (func/arith/math/scf/memref, then LLVM) and its execution
    /// engine (feature `mlir`): the CPU path of the lowering that also writes GPU kernels.
    Mlir,
    /// The reference interpreter: slow, always available, the numeric oracle.
    Interpreter,
    /// No code: only the IR is produced; the handles answer an error.
    None,
}

impl Default for BackendKind {
    /// Cranelift when the build has it, else the interpreter.
    fn default() -> BackendKind {
        if cfg!(feature = "cranelift") {
            BackendKind::Cranelift
        } else {
            BackendKind::Interpreter
        }
    }
}

impl BackendKind {
    /// Every back end with its command-line name.
    pub const ALL: &'static [(&'static str, BackendKind)] = &[
        ("cranelift", BackendKind::Cranelift),
        ("llvm", BackendKind::Llvm),
        ("mlir", BackendKind::Mlir),
        ("interp", BackendKind::Interpreter),
    ];

    /// The command-line name.
    pub fn name(self) -> &'static str {
        BackendKind::ALL
            .iter()
            .find(|(_, b)| *b == self)
            .map_or("none", |(n, _)| *n)
    }

    /// Whether this build of sci can run the back end.
    pub fn is_available(self) -> bool {
        match self {
            BackendKind::Cranelift => cfg!(feature = "cranelift"),
            BackendKind::Llvm => cfg!(feature = "llvm"),
            BackendKind::Mlir => cfg!(feature = "mlir"),
            BackendKind::Interpreter | BackendKind::None => true,
        }
    }
}

impl std::str::FromStr for BackendKind {
    type Err = String;
    fn from_str(s: &str) -> Result<BackendKind, String> {
        BackendKind::ALL
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(s))
            .map(|(_, b)| *b)
            .ok_or_else(|| {
                let names: Vec<&str> = BackendKind::ALL.iter().map(|(n, _)| *n).collect();
                format!(
                    "There is no back end called `{s}`; the back ends are: {}.",
                    names.join(", ")
                )
            })
    }
}

/// A failed call or lookup through the embedding API: a sentence for users.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct JitError {
    pub message: String,
}

impl JitError {
    pub(crate) fn new(message: impl Into<String>) -> JitError {
        JitError {
            message: message.into(),
        }
    }
}

impl fmt::Display for JitError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for JitError {}

impl From<sci_codegen::CallError> for JitError {
    fn from(e: sci_codegen::CallError) -> JitError {
        JitError::new(e.message)
    }
}

pub use sci_passes::pipeline::{
    JACOBIAN, JVP_EVENTS_PARAMS, JVP_EVENTS_STATE, JVP_EVENTS_TIME, JVP_RESETS_PARAMS,
    JVP_RESETS_STATE, JVP_RESETS_TIME, JVP_RHS_PARAMS, JVP_RHS_STATE, JVP_Y0, LOSS_GRAD,
    LOSS_VALUE_GRAD, PARAM_JACOBIAN, SPARSE_JACOBIAN, VJP_RHS, VJP_Y0, loss_grad_wrt,
};

/// The structure of a sparse matrix in compressed sparse row form: the columns of row `r`
/// are `col_idx[row_ptr[r]..row_ptr[r + 1]]`, sorted; values come in the same order.
/// `n_colors` is the sweeps (colours) one evaluation of the values takes, instead of
/// `n_cols` for a dense forward-mode Jacobian; `element_local` says whether the values are
/// computed element-locally (each entry from its body's local derivative, about the cost of
/// one right-hand side) rather than by `n_colors` compressed sweeps.
pub use sci_passes::pipeline::SparsePattern as CsrPattern;

/// What [`Model::rhs_cached`], [`Model::jacobian_csr_cached`] and
/// [`Model::param_jacobian_cached`] keep between calls: the
/// values of one function (use one cache per function) that depend on θ alone, for the θ
/// and the compiled model they were computed for.
#[derive(Clone, Debug, Default)]
pub struct InvariantCache {
    /// The module's [`NativeModule::id`] and the function split.
    owner: Option<(u64, Entry)>,
    params: Vec<f64>,
    invariant: Vec<f64>,
    evaluations: usize,
}

impl InvariantCache {
    /// An empty cache (the first call fills it).
    pub fn new() -> InvariantCache {
        InvariantCache::default()
    }

    /// How many times the θ-only values were computed (once per parameter change).
    pub fn invariant_evaluations(&self) -> usize {
        self.evaluations
    }

    /// Whether the cache holds the values of `owner` at `p` (bit for bit).
    fn holds(&self, owner: (u64, Entry), p: &[f64]) -> bool {
        self.owner == Some(owner)
            && self.params.len() == p.len()
            && self
                .params
                .iter()
                .zip(p)
                .all(|(a, b)| a.to_bits() == b.to_bits())
    }
}

/// The compiled code of one module.
pub(crate) struct NativeModule {
    /// The IR that was compiled: the module plus its derivative functions.
    pub ir: Module,
    pub code: Box<dyn CompiledModule>,
    /// Where the conventional functions are in `code`.
    pub entries: Entries,
    /// Why a derivative function could not be built, by its name.
    pub missing: HashMap<String, String>,
    /// The pattern of [`SPARSE_JACOBIAN`], when it was built.
    pub sparsity: Option<CsrPattern>,
    /// Distinct for every compiled module of the process ([`InvariantCache`] checks it).
    pub id: u64,
    /// What runs on the GPU, when the module's batched functions moved there.
    pub gpu: Option<GpuInfo>,
    /// The packed value-and-gradient buffer of [`Model::loss_and_grad_into`], kept so a
    /// training step allocates nothing (a concurrent caller that finds it taken uses its
    /// own).
    pub scratch: Mutex<Vec<f64>>,
}

/// A generic function's name and the shapes of its arguments.
type InstanceKey = (String, Vec<Vec<usize>>);

/// Native code for every module of a compilation (shared by clones of `Compiled`).
pub(crate) struct Native {
    pub backend: BackendKind,
    /// Threads for the tiles of batched maps (0: all cores).
    pub threads: usize,
    pub device: Device,
    pub modules: Vec<NativeModule>,
    /// Generic functions instantiated on demand, by name and argument shapes.
    pub instances: Mutex<HashMap<InstanceKey, Arc<NativeModule>>>,
}

impl fmt::Debug for Native {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let names: Vec<&str> = self.modules.iter().map(|m| m.ir.name.as_str()).collect();
        f.debug_struct("Native")
            .field("backend", &self.backend)
            .field("device", &self.device)
            .field("modules", &names)
            .finish()
    }
}

/// Compiles `modules` with `backend` after the pass pipeline's back stage (`passes`: the
/// derivative functions, simplification), and moves their batched functions to the device
/// of `setup`.
pub(crate) fn build<M: std::borrow::Borrow<Module>>(
    modules: &[M],
    backend: BackendKind,
    passes: &pipeline::Options,
    setup: &DeviceSetup,
    threads: usize,
) -> Result<Native, String> {
    let mut out = Vec::new();
    if backend != BackendKind::None {
        for m in modules {
            out.push(compile_module(m.borrow(), backend, passes, threads)?);
        }
        out = device::place_all(out, setup)?;
    }
    Ok(Native {
        backend,
        threads,
        device: setup.device,
        modules: out,
        instances: Mutex::new(HashMap::new()),
    })
}

/// `m` without its loss-term functions (`loss_term.NAME`) when they come last, as lowering
/// and the `.sir` text put them (no other function can call them, so the others keep their
/// handles); otherwise `m` as it is, uncopied. What [`crate::Compiler`] compiles unless
/// asked for the terms, and what PTX is written for.
pub fn without_loss_terms(m: &Module) -> Cow<'_, Module> {
    let is_term = |f: &sci_ir::Function| matches!(f.role, sci_ir::Role::LossTerm(_));
    let keep = m.functions.iter().take_while(|(_, f)| !is_term(f)).count();
    if keep == m.functions.len() || m.functions.iter().skip(keep).any(|(_, f)| !is_term(f)) {
        return Cow::Borrowed(m);
    }
    let mut functions = sci_ir::Arena::new();
    for (_, f) in m.functions.iter().take(keep) {
        functions.push(f.clone());
    }
    Cow::Owned(Module {
        name: m.name.clone(),
        functions,
        params: m.params.clone(),
        states: m.states.clone(),
        outputs: m.outputs.clone(),
        manifest: m.manifest.clone(),
    })
}

/// The module the runtime compiles for `m`: the pass pipeline's back stage
/// (`sci_passes::pipeline`) with every derivative function the runtime uses (those of
/// [`with_derivatives`], the Jacobian-vector products and gradients of the solvers and fits,
/// the sparse Jacobian), without the loss's terms. PTX for [`Device::Cuda`] must be
/// written for this module: kernel names carry function indices.
pub fn runtime_module(m: &Module) -> Result<Module, String> {
    let m = without_loss_terms(m);
    Ok(pipeline::back(&m, &pipeline::Options::new(Derivatives::Runtime))?.0)
}

/// `m` through the pass pipeline's back stage with the derivative functions the embedding
/// API and C hosts use: [`JACOBIAN`] (`∂rhs/∂y`, inputs as `rhs`) when `m` has `rhs`, and
/// [`LOSS_GRAD`] and [`LOSS_VALUE_GRAD`] (inputs as `loss`) when it has `loss`. Also
/// returns, per derivative that could not be built, why.
pub fn with_derivatives(m: &Module) -> Result<(Module, HashMap<String, String>), String> {
    let (ir, added) = pipeline::back(m, &pipeline::Options::new(Derivatives::Api))?;
    Ok((ir, added.missing))
}

/// The module a back end compiles: for the CPU back ends (Cranelift, LLVM) every `map` it
/// can is rewritten batch-major (`sci_passes::tile`: tiles of points, structure of arrays,
/// matrix products over the tile); the MLIR back end (one GPU thread per point) and the
/// interpreter (the oracle of the untiled IR) take the module as it is. The JITs also
/// outline each tile body (in `compile_module`); object files do not need that.
pub fn batch_major(ir: &Module, backend: BackendKind) -> Cow<'_, Module> {
    if !matches!(backend, BackendKind::Cranelift | BackendKind::Llvm) {
        return Cow::Borrowed(ir);
    }
    let mut m = ir.clone();
    sci_passes::tile::tile_module(&mut m, sci_passes::tile::DEFAULT_LANES);
    Cow::Owned(m)
}

fn compile_module(
    m: &Module,
    backend: BackendKind,
    passes: &pipeline::Options,
    threads: usize,
) -> Result<NativeModule, String> {
    let (ir, added) = pipeline::back(m, passes)?;
    let mut native = batch_major(&ir, backend);
    if matches!(backend, BackendKind::Cranelift | BackendKind::Llvm) {
        // Each tile body becomes a function of its own, which the JITs' tile runtime calls
        // tile by tile on `threads` threads (`sci_codegen`'s `parallel` module).
        sci_passes::tile::outline_tiles(native.to_mut());
    }
    let valid = sci_codegen::validate(&native).map_err(|e| e.message)?;
    let code = match backend {
        BackendKind::Interpreter => {
            sci_codegen::Backend::compile(&sci_codegen::InterpreterBackend, &valid)
        }
        BackendKind::Llvm => {
            sci_codegen::llvm_backend_threads(threads).and_then(|b| b.compile(&valid))
        }
        BackendKind::Mlir => sci_codegen::mlir_backend().and_then(|b| b.compile(&valid)),
        _ => sci_codegen::default_backend_threads(threads).and_then(|b| b.compile(&valid)),
    }
    .map_err(|e| e.message)?;
    Ok(NativeModule {
        entries: Entries::find(&ir, code.as_ref()),
        ir,
        code,
        missing: added.missing,
        sparsity: added.sparsity,
        id: next_module_id(),
        gpu: None,
        scratch: Mutex::new(Vec::new()),
    })
}

/// A new [`NativeModule::id`].
pub(crate) fn next_module_id() -> u64 {
    static NEXT: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(1);
    NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed)
}

impl Compiled {
    /// The back end that compiled this program.
    pub fn backend(&self) -> BackendKind {
        self.native.backend
    }

    /// The device its batched functions run on.
    pub fn device(&self) -> Device {
        self.native.device
    }

    fn native_module(&self, name: &str) -> Result<&NativeModule, JitError> {
        if self.native.backend == BackendKind::None {
            return Err(JitError::new(
                "This program was compiled without a back end (`BackendKind::None`); choose \
                 one with `sci::Compiler::new().backend(..)`.",
            ));
        }
        self.native
            .modules
            .iter()
            .find(|m| m.ir.name == name)
            .ok_or_else(|| {
                let names: Vec<&str> = self
                    .native
                    .modules
                    .iter()
                    .map(|m| m.ir.name.as_str())
                    .filter(|n| *n != "functions")
                    .collect();
                JitError::new(format!(
                    "There is no model named `{name}`; the program has: {}.",
                    if names.is_empty() {
                        "no models".to_string()
                    } else {
                        names.join(", ")
                    }
                ))
            })
    }

    /// The model called `name`.
    pub fn model(&self, name: &str) -> Result<Model<'_>, JitError> {
        Ok(Model {
            m: self.native_module(name)?,
        })
    }

    /// The free function `name` (`fn` in the source). A generic function is instantiated
    /// for the shapes of its arguments when it is called.
    pub fn function(&self, name: &str) -> Result<Function<'_>, JitError> {
        if let Ok(m) = self.native_module("functions")
            && let Some(index) = m.code.index_of(name)
        {
            return Ok(Function {
                inner: Inner::Concrete { m, index },
            });
        }
        if self.native.backend == BackendKind::None {
            self.native_module(name)?;
        }
        let declared = self
            .program
            .functions
            .iter()
            .any(|f| f.name == name || f.symbol == name);
        let is_generic = declared || self.declares_fn(name);
        if is_generic {
            return Ok(Function {
                inner: Inner::Generic {
                    compiled: self,
                    name: name.to_string(),
                },
            });
        }
        Err(JitError::new(format!(
            "There is no function named `{name}`{}.",
            match self.native_module("functions") {
                Ok(m) => format!(
                    "; the program has: {}",
                    m.code
                        .functions()
                        .iter()
                        .map(|f| f.name.as_str())
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
                Err(_) => String::new(),
            }
        )))
    }

    /// The names of the file's free functions (`fn` items, generic ones included: they are
    /// compiled for the shapes of their first call), in source order; for a program read
    /// from IR, the functions its `functions` module holds.
    pub fn function_names(&self) -> Vec<String> {
        let mut names: Vec<String> = match &self.front {
            Some(front) => {
                let front = front.lock().unwrap_or_else(|p| p.into_inner());
                (front.ast.items.iter())
                    .filter_map(|item| match &item.kind {
                        sci_lang::ast::ItemKind::Fn(f) => Some(f.name.name.clone()),
                        _ => None,
                    })
                    .collect()
            }
            None => (self.native_module("functions").into_iter())
                .flat_map(|m| m.code.functions().iter().map(|f| f.name.clone()))
                .collect(),
        };
        let mut seen = std::collections::HashSet::new();
        names.retain(|n| seen.insert(n.clone()));
        names
    }

    /// Whether the file declares `fn name` (in the syntax tree kept from compiling it).
    fn declares_fn(&self, name: &str) -> bool {
        let Some(front) = &self.front else {
            return false;
        };
        let front = front.lock().unwrap_or_else(|p| p.into_inner());
        front.ast.items.iter().any(|item| match &item.kind {
            sci_lang::ast::ItemKind::Fn(f) => f.name.name == name,
            _ => false,
        })
    }

    /// Compiles (once) generic function `name` for argument shapes `shapes`.
    fn instance(&self, name: &str, shapes: &[Vec<usize>]) -> Result<Arc<NativeModule>, JitError> {
        let key = (name.to_string(), shapes.to_vec());
        if let Some(m) = self
            .native
            .instances
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(&key)
        {
            return Ok(m.clone());
        }
        let render = |d: &[crate::diag::Diagnostic]| {
            d.iter()
                .map(|d| d.message.clone())
                .collect::<Vec<_>>()
                .join(" ")
        };
        let (symbol, mut modules) = {
            let front = self.front.as_ref().ok_or_else(|| {
                JitError::new(format!(
                    "`{name}` cannot be instantiated for new shapes: this program was read \
                     from IR, which has no source to instantiate from."
                ))
            })?;
            let mut front = front.lock().unwrap_or_else(|p| p.into_inner());
            let front = &mut *front;
            crate::instantiate_generic(&front.ast, &mut front.checked, name, shapes)
                .map_err(|d| JitError::new(render(&d)))?
        };
        let mut module = modules
            .drain(..)
            .find(|m| m.name == "functions")
            .ok_or_else(|| JitError::new(format!("`{name}` lowered to no function.")))?;
        pipeline::front(&mut module).map_err(|d| JitError::new(render(&d)))?;
        let native = Arc::new(
            compile_module(
                &module,
                self.native.backend,
                &pipeline::Options::new(Derivatives::None),
                self.native.threads,
            )
            .map_err(JitError::new)?,
        );
        if native.code.index_of(&symbol).is_none() {
            return Err(JitError::new(format!("`{symbol}` was not compiled.")));
        }
        let mut cache = self
            .native
            .instances
            .lock()
            .unwrap_or_else(|p| p.into_inner());
        cache.insert(key.clone(), native.clone());
        // Remember the symbol under the key's name too.
        cache.insert((symbol, shapes.to_vec()), native.clone());
        Ok(native)
    }
}

/// A compiled model: typed entry points for its conventional functions
/// (`rhs`, `y0`, `outputs`, `loss`, and their derivatives).
#[derive(Clone, Copy)]
pub struct Model<'c> {
    m: &'c NativeModule,
}

impl fmt::Debug for Model<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Model")
            .field("name", &self.m.ir.name)
            .finish()
    }
}

impl<'c> Model<'c> {
    /// The model's name.
    pub fn name(&self) -> &'c str {
        &self.m.ir.name
    }

    /// The compiled IR module (layouts of θ, y and the outputs; every function).
    pub fn ir(&self) -> &'c Module {
        &self.m.ir
    }

    /// What runs on the GPU (`None` when nothing does: [`Device::Cpu`], or a model
    /// without batched maps).
    pub fn gpu(&self) -> Option<&'c GpuInfo> {
        self.m.gpu.as_ref()
    }

    /// Number of state variables (the length of `y`).
    pub fn n_states(&self) -> usize {
        self.m.ir.states.len
    }

    /// Number of parameters (the length of θ).
    pub fn n_params(&self) -> usize {
        self.m.ir.params.len
    }

    /// Number of outputs.
    pub fn n_outputs(&self) -> usize {
        self.m.ir.outputs.len
    }

    /// The default parameter vector θ (declared defaults; initial network weights).
    pub fn params(&self) -> Vec<f64> {
        self.m.ir.params.defaults()
    }

    /// A function of the model by name (`rhs`, `residual.pde`, `net.u`, `jacobian.rhs`, …).
    pub fn function(&self, name: &str) -> Result<Function<'c>, JitError> {
        match self.m.code.index_of(name) {
            Some(index) => Ok(Function {
                inner: Inner::Concrete { m: self.m, index },
            }),
            None => Err(self.no_function(name)),
        }
    }

    /// Why the derivative function `name` was not generated (refused as too large), if it
    /// was asked for and refused.
    pub fn missing_reason(&self, name: &str) -> Option<&'c str> {
        self.m.missing.get(name).map(String::as_str)
    }

    fn no_function(&self, name: &str) -> JitError {
        if let Some(reason) = self.m.missing.get(name) {
            return JitError::new(format!(
                "Model `{}` has no `{name}`: {}.",
                self.m.ir.name,
                reason.trim_end_matches('.')
            ));
        }
        let names: Vec<&str> = self
            .m
            .code
            .functions()
            .iter()
            .map(|f| f.name.as_str())
            .collect();
        JitError::new(format!(
            "Model `{}` has no function `{name}`; it has: {}.",
            self.m.ir.name,
            names.join(", ")
        ))
    }

    /// Calls a conventional function of the model (found when it was compiled).
    fn call_entry(&self, entry: Entry, inputs: &[&[f64]], out: &mut [f64]) -> Result<(), JitError> {
        let index = self
            .m
            .entries
            .get(entry)
            .ok_or_else(|| self.no_function(entry.name()))?;
        self.call_index(index, inputs, out)
    }

    /// Calls the function called `name`.
    fn call_into(&self, name: &str, inputs: &[&[f64]], out: &mut [f64]) -> Result<(), JitError> {
        let index = self
            .m
            .code
            .index_of(name)
            .ok_or_else(|| self.no_function(name))?;
        self.call_index(index, inputs, out)
    }

    fn call_index(&self, index: usize, inputs: &[&[f64]], out: &mut [f64]) -> Result<(), JitError> {
        self.m
            .code
            .call_flat(index, inputs, out)
            .map_err(|e| JitError::new(format!("{}: {}", self.m.ir.name, e.message)))
    }

    /// The right-hand side `dy = f(t, y, θ)` of the ODE.
    pub fn rhs(&self, t: f64, y: &[f64], p: &[f64], dy: &mut [f64]) -> Result<(), JitError> {
        self.call_entry(Entry::Rhs, &[&[t], y, p], dy)
    }

    /// The initial state `y0(θ)`.
    pub fn y0(&self, p: &[f64]) -> Result<Vec<f64>, JitError> {
        let mut y = vec![0.0; self.n_states()];
        self.call_entry(Entry::Y0, &[p], &mut y)?;
        Ok(y)
    }

    /// The outputs at `(t, y)`.
    pub fn outputs(&self, t: f64, y: &[f64], p: &[f64], out: &mut [f64]) -> Result<(), JitError> {
        self.call_entry(Entry::Outputs, &[&[t], y, p], out)
    }

    /// `out = ∂f/∂y · v`, the Jacobian of the right-hand side times a vector, by forward-mode
    /// AD (no Jacobian is formed).
    pub fn jac_mul(
        &self,
        t: f64,
        y: &[f64],
        p: &[f64],
        v: &[f64],
        out: &mut [f64],
    ) -> Result<(), JitError> {
        self.call_entry(Entry::JvpRhsState, &[&[t], y, p, v], out)
    }

    /// `out = ∂f/∂θ · v` (`v` has length [`Model::n_params`]), by forward-mode AD.
    pub fn param_jac_mul(
        &self,
        t: f64,
        y: &[f64],
        p: &[f64],
        v: &[f64],
        out: &mut [f64],
    ) -> Result<(), JitError> {
        self.call_entry(Entry::JvpRhsParams, &[&[t], y, p, v], out)
    }

    /// The dense `∂f/∂θ`, row-major `n × p` (`jac[i * p + j] = ∂f_i/∂θ_j`).
    pub fn param_jacobian(
        &self,
        t: f64,
        y: &[f64],
        p: &[f64],
        jac: &mut [f64],
    ) -> Result<(), JitError> {
        self.call_entry(Entry::ParamJacobian, &[&[t], y, p], jac)
    }

    /// `out = [λᵀ ∂f/∂y, λᵀ ∂f/∂θ]` (length `n + p`) at `(t, y)`: one reverse-mode sweep
    /// (the adjoint equations' right-hand side and quadrature). Compiled only with
    /// [`crate::Compiler::adjoint`], and only for models with parameters.
    pub fn rhs_vjp(
        &self,
        t: f64,
        y: &[f64],
        p: &[f64],
        lambda: &[f64],
        out: &mut [f64],
    ) -> Result<(), JitError> {
        self.adjoint_entry(Entry::VjpRhs)?;
        self.call_entry(Entry::VjpRhs, &[&[t], y, p, lambda], out)
    }

    /// `out = λᵀ ∂y0/∂θ` (length `p`), by reverse-mode AD; compiled as [`Model::rhs_vjp`].
    pub fn y0_vjp(&self, p: &[f64], lambda: &[f64], out: &mut [f64]) -> Result<(), JitError> {
        self.adjoint_entry(Entry::VjpY0)?;
        self.call_entry(Entry::VjpY0, &[p, lambda], out)
    }

    /// Whether the adjoint method's products were compiled ([`Model::rhs_vjp`],
    /// [`Model::y0_vjp`]; models without parameters have none).
    pub fn has_adjoint(&self) -> bool {
        self.m.entries.get(Entry::VjpRhs).is_some() && self.m.entries.get(Entry::VjpY0).is_some()
    }

    fn adjoint_entry(&self, entry: Entry) -> Result<(), JitError> {
        if self.m.entries.get(entry).is_some() || self.m.missing.contains_key(entry.name()) {
            return Ok(());
        }
        Err(JitError::new(format!(
            "Model `{}` was compiled without the adjoint method's products (`{}`); compile \
             it with `Compiler::adjoint(true)`.",
            self.m.ir.name,
            entry.name()
        )))
    }

    /// `out = ∂y0/∂θ · v`, by forward-mode AD.
    pub fn y0_param_jac_mul(&self, p: &[f64], v: &[f64], out: &mut [f64]) -> Result<(), JitError> {
        self.call_entry(Entry::JvpY0, &[p, v], out)
    }

    /// The model's events, as its manifest describes them (empty without `when`).
    pub fn events(&self) -> &'c [sci_ir::manifest::Event] {
        &self.m.ir.manifest.events
    }

    /// The events' conditions `g(t, y, θ)` (one per event; see [`Model::events`]).
    pub fn event_conditions(
        &self,
        t: f64,
        y: &[f64],
        p: &[f64],
        g: &mut [f64],
    ) -> Result<(), JitError> {
        self.call_entry(Entry::Events, &[&[t], y, p], g)
    }

    /// `out = ∂g/∂y · v`, `∂g/∂θ · v` or `∂g/∂t · v` (`wrt` 1, 2 or 0; `v` of the length of
    /// `y`, θ, or one), by forward-mode AD.
    pub fn event_conditions_jvp(
        &self,
        wrt: usize,
        t: f64,
        y: &[f64],
        p: &[f64],
        v: &[f64],
        out: &mut [f64],
    ) -> Result<(), JitError> {
        let entry = match wrt {
            0 => Entry::JvpEventsTime,
            1 => Entry::JvpEventsState,
            _ => Entry::JvpEventsParams,
        };
        self.call_entry(entry, &[&[t], y, p, v], out)
    }

    /// The state after each event at `(t, y)`, row-major `m × n` (row `k` for event `k`).
    pub fn event_resets(
        &self,
        t: f64,
        y: &[f64],
        p: &[f64],
        out: &mut [f64],
    ) -> Result<(), JitError> {
        self.call_entry(Entry::EventResets, &[&[t], y, p], out)
    }

    /// `out = ∂resets/∂y · v`, `∂resets/∂θ · v` or `∂resets/∂t · v` (`wrt` 1, 2 or 0),
    /// row-major `m × n`.
    pub fn event_resets_jvp(
        &self,
        wrt: usize,
        t: f64,
        y: &[f64],
        p: &[f64],
        v: &[f64],
        out: &mut [f64],
    ) -> Result<(), JitError> {
        let entry = match wrt {
            0 => Entry::JvpResetsTime,
            1 => Entry::JvpResetsState,
            _ => Entry::JvpResetsParams,
        };
        self.call_entry(entry, &[&[t], y, p, v], out)
    }

    /// Whether the model has the function `name` (compiled and callable).
    pub fn has_function(&self, name: &str) -> bool {
        self.m.code.index_of(name).is_some()
    }

    /// The dense Jacobian `∂f/∂y` of the right-hand side, row-major `n × n`
    /// (`jac[i * n + j] = ∂f_i/∂y_j`), by automatic differentiation.
    pub fn jacobian(&self, t: f64, y: &[f64], p: &[f64], jac: &mut [f64]) -> Result<(), JitError> {
        self.call_entry(Entry::Jacobian, &[&[t], y, p], jac)
    }

    /// The pattern of the sparse Jacobian `∂f/∂y` (CSR), found by sparsity detection on the
    /// IR; [`Model::jacobian_csr`] fills its values.
    pub fn jacobian_sparsity(&self) -> Result<&'c CsrPattern, JitError> {
        self.m
            .sparsity
            .as_ref()
            .ok_or_else(|| self.no_function(SPARSE_JACOBIAN))
    }

    /// The non-zero values of `∂f/∂y` in the order of [`Model::jacobian_sparsity`]
    /// (`values.len()` is its number of non-zeros), by compressed AD: one sweep per colour.
    pub fn jacobian_csr(
        &self,
        t: f64,
        y: &[f64],
        p: &[f64],
        values: &mut [f64],
    ) -> Result<(), JitError> {
        self.call_entry(Entry::SparseJacobian, &[&[t], y, p], values)
    }

    /// [`Model::jacobian_csr`], computing the parts of the values that depend on θ alone
    /// (a heterogeneous medium's conductivities, constant entries) only when θ differs
    /// from the last call with `cache`, as an ODE solve's Jacobian updates do; where the
    /// model has no such parts worth keeping, the same as [`Model::jacobian_csr`].
    pub fn jacobian_csr_cached(
        &self,
        cache: &mut InvariantCache,
        t: f64,
        y: &[f64],
        p: &[f64],
        values: &mut [f64],
    ) -> Result<(), JitError> {
        self.call_cached(Entry::SparseJacobian, cache, (t, y, p), values)
    }

    /// [`Model::rhs`], computing the values that depend on θ alone (a heterogeneous
    /// medium's coefficients) only when θ differs from the last call with `cache`; where
    /// the model has none worth keeping, the same as [`Model::rhs`].
    pub fn rhs_cached(
        &self,
        cache: &mut InvariantCache,
        t: f64,
        y: &[f64],
        p: &[f64],
        dy: &mut [f64],
    ) -> Result<(), JitError> {
        self.call_cached(Entry::Rhs, cache, (t, y, p), dy)
    }

    /// [`Model::param_jacobian`], computing the values that depend on θ alone only when θ
    /// differs from the last call with `cache`.
    pub fn param_jacobian_cached(
        &self,
        cache: &mut InvariantCache,
        t: f64,
        y: &[f64],
        p: &[f64],
        jac: &mut [f64],
    ) -> Result<(), JitError> {
        self.call_cached(Entry::ParamJacobian, cache, (t, y, p), jac)
    }

    /// Calls `entry` at `(t, y, θ)`: where it was split, its `update` part, after its
    /// `invariant` part when `cache` does not hold that for θ.
    fn call_cached(
        &self,
        entry: Entry,
        cache: &mut InvariantCache,
        (t, y, p): (f64, &[f64], &[f64]),
        out: &mut [f64],
    ) -> Result<(), JitError> {
        let Some(split) = self.m.entries.split(entry) else {
            return self.call_entry(entry, &[&[t], y, p], out);
        };
        let owner = (self.m.id, entry);
        if !cache.holds(owner, p) {
            cache.owner = None;
            cache.invariant.resize(split.len, 0.0);
            self.call_index(split.invariant, &[p], &mut cache.invariant)?;
            cache.owner = Some(owner);
            cache.params.clear();
            cache.params.extend_from_slice(p);
            cache.evaluations += 1;
        }
        self.call_index(split.update, &[&[t], y, p, &cache.invariant], out)
    }

    /// The batched inputs of `loss` after θ, in order: name and per-point shape
    /// (`pde.t: []`, `obs: [3]`). A [`Batch`] gives each by name.
    pub fn loss_inputs(&self) -> Result<Vec<(String, Vec<usize>)>, JitError> {
        let sig = self.signature(Entry::Loss)?;
        Ok(sig
            .inputs
            .iter()
            .skip(1)
            .map(|a| (a.name.clone(), a.shape.clone()))
            .collect())
    }

    fn signature(&self, entry: Entry) -> Result<&'c Signature, JitError> {
        let index = self
            .m
            .entries
            .get(entry)
            .ok_or_else(|| self.no_function(entry.name()))?;
        Ok(&self.m.code.functions()[index].signature)
    }

    /// The inputs of `loss` (or its gradient): θ, then the batch's data in order.
    /// θ and the batch's inputs in the order of the loss's signature (on the stack: a
    /// training step allocates nothing).
    fn loss_args<'a>(
        &self,
        p: &'a [f64],
        batch: &'a Batch<'a>,
    ) -> Result<SmallVec<[&'a [f64]; 8]>, JitError> {
        let sig = self.signature(Entry::Loss)?;
        let wanted = || sig.inputs.iter().skip(1).map(|a| a.name.as_str());
        if let Some((extra, _)) = batch
            .inputs
            .iter()
            .find(|(n, _)| !wanted().any(|w| w == n.as_str()))
        {
            return Err(JitError::new(format!(
                "The loss of `{}` has no input `{extra}`; its inputs are: {}.",
                self.m.ir.name,
                wanted().collect::<Vec<_>>().join(", ")
            )));
        }
        let mut args = SmallVec::new();
        args.push(p);
        for name in wanted() {
            match batch.inputs.iter().find(|(n, _)| n == name) {
                Some((_, data)) => args.push(*data),
                None => {
                    let missing: Vec<&str> = wanted()
                        .filter(|w| !batch.inputs.iter().any(|(n, _)| n == w))
                        .collect();
                    return Err(JitError::new(format!(
                        "The batch lacks the loss inputs {} (give each with `Batch::with`).",
                        missing.join(", ")
                    )));
                }
            }
        }
        Ok(args)
    }

    /// The loss at θ on a batch of points.
    pub fn loss(&self, p: &[f64], batch: &Batch<'_>) -> Result<f64, JitError> {
        let args = self.loss_args(p, batch)?;
        let mut out = [0.0];
        self.call_entry(Entry::Loss, &args, &mut out)?;
        Ok(out[0])
    }

    /// The names of the loss's additive terms (`pde`, `initial`, …; see
    /// [`Model::loss_terms`]), empty when the loss is a single term.
    pub fn loss_term_names(&self) -> Vec<&'c str> {
        self.loss_term_functions().map(|(name, _)| name).collect()
    }

    /// The loss-term functions, `(term name, function name)`, in order.
    fn loss_term_functions(&self) -> impl Iterator<Item = (&'c str, &'c str)> + use<'c> {
        let ir: &'c Module = &self.m.ir;
        ir.functions.iter().filter_map(|(_, f)| match &f.role {
            sci_ir::Role::LossTerm(name) => Some((name.as_str(), f.name.as_str())),
            _ => None,
        })
    }

    /// The loss's additive terms at θ on a batch (`mean(pde^2)`, `10 * mean(edge^2)`, …:
    /// they sum to [`Model::loss`]), in the order of [`Model::loss_term_names`].
    pub fn loss_terms(&self, p: &[f64], batch: &Batch<'_>) -> Result<Vec<f64>, JitError> {
        let args = self.loss_args(p, batch)?;
        let mut out = Vec::new();
        for (_, function) in self.loss_term_functions() {
            let value = self.function(function)?.call(&args)?;
            out.push(value.first().copied().unwrap_or(f64::NAN));
        }
        Ok(out)
    }

    /// The loss and its gradient with respect to θ (reverse-mode AD), written to `grad`
    /// (length [`Model::n_params`]).
    pub fn loss_and_grad_into(
        &self,
        p: &[f64],
        batch: &Batch<'_>,
        grad: &mut [f64],
    ) -> Result<f64, JitError> {
        let args = self.loss_args(p, batch)?;
        if self.m.entries.get(Entry::LossValueGrad).is_some() {
            // One call: the forward pass once. `grad` is checked here (the call checks the
            // packed buffer, one longer).
            if grad.len() != self.n_params() {
                return Err(JitError::new(format!(
                    "The gradient buffer has {} elements; `{}` has {} parameters.",
                    grad.len(),
                    self.m.ir.name,
                    self.n_params()
                )));
            }
            let mut kept = self.m.scratch.try_lock();
            let mut own = Vec::new();
            let packed = match kept.as_deref_mut() {
                Ok(v) => v,
                Err(_) => &mut own,
            };
            packed.clear();
            packed.resize(grad.len() + 1, 0.0);
            self.call_entry(Entry::LossValueGrad, &args, packed)?;
            grad.copy_from_slice(&packed[1..]);
            return Ok(packed[0]);
        }
        let mut out = [0.0];
        self.call_entry(Entry::Loss, &args, &mut out)?;
        self.call_entry(Entry::LossGrad, &args, grad)?;
        Ok(out[0])
    }

    /// The gradient of the loss with respect to its input `input` (a trajectory
    /// `obs.traj`, an expectation value `expval(C, O)`), written to `grad` (the input's
    /// length).
    pub fn loss_grad_wrt_input(
        &self,
        p: &[f64],
        batch: &Batch<'_>,
        input: &str,
        grad: &mut [f64],
    ) -> Result<(), JitError> {
        let args = self.loss_args(p, batch)?;
        let k = self
            .signature(Entry::Loss)?
            .inputs
            .iter()
            .position(|a| a.name == input)
            .ok_or_else(|| self.no_function(&loss_grad_wrt(input)))?;
        let role = pipeline::loss_grad_role(k);
        let name = self
            .m
            .ir
            .function_with_role(&role)
            .and_then(|f| self.m.ir.functions.get(f))
            .map(|f| f.name.clone())
            .ok_or_else(|| self.no_function(&loss_grad_wrt(input)))?;
        self.call_into(&name, &args, grad)
    }

    /// The loss and its gradient with respect to θ.
    pub fn loss_and_grad(&self, p: &[f64], batch: &Batch<'_>) -> Result<(f64, Vec<f64>), JitError> {
        let mut grad = vec![0.0; self.n_params()];
        let loss = self.loss_and_grad_into(p, batch, &mut grad)?;
        Ok((loss, grad))
    }
}

/// The data of a loss evaluation: each batched input of `loss` by name (see
/// [`Model::loss_inputs`]), its points one after another.
#[derive(Clone, Debug, Default)]
pub struct Batch<'a> {
    inputs: Vec<(String, &'a [f64])>,
}

impl<'a> Batch<'a> {
    /// An empty batch.
    pub fn new() -> Batch<'a> {
        Batch::default()
    }

    /// The batch with input `name` set to `data` (replacing an earlier value).
    pub fn with(mut self, name: &str, data: &'a [f64]) -> Batch<'a> {
        self.set(name, data);
        self
    }

    /// Sets input `name` to `data`.
    pub fn set(&mut self, name: &str, data: &'a [f64]) {
        self.inputs.retain(|(n, _)| n != name);
        self.inputs.push((name.to_string(), data));
    }
}

/// A compiled function.
#[derive(Clone)]
pub struct Function<'c> {
    inner: Inner<'c>,
}

#[derive(Clone)]
enum Inner<'c> {
    Concrete {
        m: &'c NativeModule,
        index: usize,
    },
    Generic {
        compiled: &'c Compiled,
        name: String,
    },
}

impl fmt::Debug for Function<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.inner {
            Inner::Concrete { m, index } => f
                .debug_struct("Function")
                .field("name", &m.code.functions().get(*index).map(|f| &f.name))
                .finish(),
            Inner::Generic { name, .. } => f
                .debug_struct("Function")
                .field("name", name)
                .field("generic", &true)
                .finish(),
        }
    }
}

impl Function<'_> {
    /// The signature, for a function that is not generic.
    pub fn signature(&self) -> Option<&Signature> {
        match &self.inner {
            Inner::Concrete { m, index } => m.code.functions().get(*index).map(|f| &f.signature),
            Inner::Generic { .. } => None,
        }
    }

    /// Calls the function on flat row-major inputs and returns its flat result. For a
    /// generic function each argument of one element is taken as a scalar and any other as
    /// a vector; use [`Function::call_tensors`] for matrices.
    pub fn call(&self, args: &[&[f64]]) -> Result<Vec<f64>, JitError> {
        match &self.inner {
            Inner::Concrete { m, index } => call_flat(m, *index, args),
            Inner::Generic { compiled, name } => {
                let scalars: Vec<Vec<usize>> = args
                    .iter()
                    .map(|a| if a.len() == 1 { vec![] } else { vec![a.len()] })
                    .collect();
                let (m, index) = match generic(compiled, name, &scalars) {
                    Ok(x) => x,
                    Err(first) => {
                        // A one-element argument may be a vector of length 1.
                        let vectors: Vec<Vec<usize>> = args.iter().map(|a| vec![a.len()]).collect();
                        if vectors == scalars {
                            return Err(first);
                        }
                        generic(compiled, name, &vectors).map_err(|_| first)?
                    }
                };
                call_flat(&m, index, args)
            }
        }
    }

    /// Calls the function on tensors (any shapes, batches included).
    pub fn call_tensors(&self, args: &[Tensor]) -> Result<Tensor, JitError> {
        match &self.inner {
            Inner::Concrete { m, index } => call_tensors(m, *index, args),
            Inner::Generic { compiled, name } => {
                let shapes: Vec<Vec<usize>> = args.iter().map(|t| t.shape.clone()).collect();
                let (m, index) = generic(compiled, name, &shapes)?;
                call_tensors(&m, index, args)
            }
        }
    }
}

fn generic(
    compiled: &Compiled,
    name: &str,
    shapes: &[Vec<usize>],
) -> Result<(Arc<NativeModule>, usize), JitError> {
    let m = compiled.instance(name, shapes)?;
    let shapes_of = |f: &sci_codegen::CompiledFunction| -> Vec<Vec<usize>> {
        f.signature.inputs.iter().map(|a| a.shape.clone()).collect()
    };
    let symbol_index = m
        .code
        .functions()
        .iter()
        .position(|f| {
            (f.name == name || f.name.starts_with(&format!("{name}["))) && shapes_of(f) == shapes
        })
        .ok_or_else(|| JitError::new(format!("`{name}` has no instance for these shapes.")))?;
    Ok((m, symbol_index))
}

fn call_flat(m: &NativeModule, index: usize, args: &[&[f64]]) -> Result<Vec<f64>, JitError> {
    let f = m
        .code
        .functions()
        .get(index)
        .ok_or_else(|| JitError::new("internal error: function out of range"))?;
    f.signature.check_inputs(&f.name, args)?;
    let len = f.signature.result_len(args).unwrap_or(0);
    let mut out = vec![0.0; len];
    m.code.call_flat(index, args, &mut out)?;
    Ok(out)
}

fn call_tensors(m: &NativeModule, index: usize, args: &[Tensor]) -> Result<Tensor, JitError> {
    let f = m
        .code
        .functions()
        .get(index)
        .ok_or_else(|| JitError::new("internal error: function out of range"))?;
    Ok(m.code.call(&f.name, args)?)
}
