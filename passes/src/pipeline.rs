//! The pass pipeline: the one, fixed, named list of passes ([`PIPELINE`]) that every entry
//! point runs — the analysis behind `sci check`/`eval`/the language server (the front
//! stage), the JIT, object files and PTX (the back stage) — so that the derivative set and
//! the code the back ends see are computed once, in one place.
//!
//! ```text
//! front: expand-derivatives → share-point-work
//! back:  add-derivatives → share-point-work → simplify → expand-spectral → cleanup →
//!        validate
//! ```
//!
//! In debug builds (and so in every test) the validator also runs after every pass, and a
//! pass that breaks the IR is reported by name.

mod derivatives;

pub use derivatives::{
    Added, Derivatives, JACOBIAN, JVP_EVENTS_PARAMS, JVP_EVENTS_STATE, JVP_EVENTS_TIME,
    JVP_RESETS_PARAMS, JVP_RESETS_STATE, JVP_RESETS_TIME, JVP_RHS_PARAMS, JVP_RHS_STATE, JVP_Y0,
    LOSS_GRAD, LOSS_VALUE_GRAD, PARAM_JACOBIAN, SPARSE_JACOBIAN, SparsePattern, VJP_RHS, VJP_Y0,
    loss_grad_role, loss_grad_wrt,
};

use crate::simplify::{SimplifyOptions, simplify_function};
use sci_diag::Diagnostic;
use sci_ir::{FuncId, Module, Role, validate_module};

/// One pass of the pipeline.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Pass {
    /// `d(u, x)`, `grad`, `hessian`, `laplacian` inside functions become derivative code.
    ExpandDerivatives,
    /// Maps over the same points are merged, so residuals on one point set (and a value
    /// with its gradient) compute the network's values and derivatives there once.
    SharePointWork,
    /// The derivative functions the host asks for ([`Derivatives`]).
    AddDerivatives,
    /// E-graph simplification with the IEEE-safe rules (results keep their bits) of the
    /// functions [`Options::simplify`] selects.
    Simplify,
    /// Real DFTs (`rfft`, `irfft`) become matrix products (`crate::spectral`).
    ExpandSpectral,
    /// Constant folding, common-subexpression and dead-code elimination.
    Cleanup,
    /// The validator: the result is well-formed IR.
    Validate,
}

/// The stage a pass runs in: the front stage once per analysis, the back stage once per
/// compilation of a module.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Stage {
    Front,
    Back,
}

/// The passes, in order, with their stage.
pub const PIPELINE: [(Stage, Pass); 8] = [
    (Stage::Front, Pass::ExpandDerivatives),
    (Stage::Front, Pass::SharePointWork),
    (Stage::Back, Pass::AddDerivatives),
    (Stage::Back, Pass::SharePointWork),
    (Stage::Back, Pass::Simplify),
    (Stage::Back, Pass::ExpandSpectral),
    (Stage::Back, Pass::Cleanup),
    (Stage::Back, Pass::Validate),
];

impl Pass {
    /// The pass's name in reports.
    pub fn name(self) -> &'static str {
        match self {
            Pass::ExpandDerivatives => "expand-derivatives",
            Pass::SharePointWork => "share-point-work",
            Pass::AddDerivatives => "add-derivatives",
            Pass::Simplify => "simplify",
            Pass::ExpandSpectral => "expand-spectral",
            Pass::Cleanup => "cleanup",
            Pass::Validate => "validate",
        }
    }
}

/// What the back stage builds.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Options {
    /// The derivative functions the host asks for.
    pub derivatives: Derivatives,
    /// Which functions the e-graph simplifier (IEEE-safe rules only) rewrites.
    pub simplify: Simplify,
}

/// Which functions the back stage simplifies.
///
/// Measured on the benchmarks (`docs/simplification.md`, "Simplification by default"): the
/// simplifier makes a PINN's loss and gradient a few per cent faster and costs about 40 %
/// more compile time, repaid within a few hundred training steps; on ODE models it saves a
/// few per cent of a Jacobian but doubles the compile time, which one solve never repays.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Simplify {
    /// No function.
    Off,
    /// The functions training calls thousands of times: residuals, losses and their
    /// derivatives (the default).
    Training,
    /// Every function.
    All,
}

impl Simplify {
    /// Whether a function with role `role` is simplified.
    pub fn selects(self, role: &Role) -> bool {
        match self {
            Simplify::Off => false,
            Simplify::All => true,
            Simplify::Training => is_training(role),
        }
    }
}

/// A loss, a residual, or a derivative of one.
fn is_training(role: &Role) -> bool {
    match role {
        Role::Loss | Role::Residual(_) => true,
        Role::Derivative(d) => is_training(&d.of),
        _ => false,
    }
}

impl Options {
    /// The back stage for `derivatives`, with the default choices.
    pub fn new(derivatives: Derivatives) -> Options {
        Options {
            derivatives,
            simplify: SIMPLIFY_BY_DEFAULT,
        }
    }
}

/// What the back stage simplifies unless asked otherwise (see [`Simplify`]).
pub const SIMPLIFY_BY_DEFAULT: Simplify = Simplify::Training;

/// Runs the front stage on `module` in place.
pub fn front(module: &mut Module) -> Result<(), Vec<Diagnostic>> {
    let no_options = Options::new(Derivatives::None);
    for (stage, pass) in PIPELINE {
        if stage == Stage::Front {
            run_pass(module, pass, &no_options)?;
        }
    }
    Ok(())
}

/// Runs the back stage: `module` with the derivative functions of `options`, simplified
/// and cleaned up as it asks, validated; and what adding the derivatives found.
pub fn back(module: &Module, options: &Options) -> Result<(Module, Added), String> {
    let mut m = module.clone();
    let mut added = Added::default();
    for (stage, pass) in PIPELINE {
        if stage != Stage::Back {
            continue;
        }
        if pass == Pass::AddDerivatives {
            added = derivatives::add(&mut m, options.derivatives);
            check_between(&m, pass).map_err(render)?;
            continue;
        }
        run_pass(&mut m, pass, options).map_err(render)?;
    }
    Ok((m, added))
}

fn render(diagnostics: Vec<Diagnostic>) -> String {
    diagnostics
        .iter()
        .map(|d| d.message.clone())
        .collect::<Vec<_>>()
        .join(" ")
}

fn run_pass(m: &mut Module, pass: Pass, options: &Options) -> Result<(), Vec<Diagnostic>> {
    match pass {
        Pass::ExpandDerivatives => crate::ad::expand_derivatives(m)?,
        Pass::SharePointWork => {
            crate::fuse::share_point_work(m);
        }
        // Needs the host's request: run by `back`.
        Pass::AddDerivatives => {}
        Pass::Simplify => {
            let selected: Vec<FuncId> = m
                .functions
                .iter()
                .filter(|(_, f)| options.simplify.selects(&f.role))
                .map(|(id, _)| id)
                .collect();
            let rules = SimplifyOptions::default();
            for id in selected {
                simplify_function(m, id, &rules);
            }
        }
        Pass::ExpandSpectral => {
            crate::spectral::expand_spectral(m);
        }
        Pass::Cleanup => crate::cleanup::cleanup_module(m),
        Pass::Validate => {
            return validate_module(m)
                .map_err(|errors| errors.iter().map(|e| e.to_diagnostic()).collect());
        }
    }
    check_between(m, pass)
}

/// In debug builds, the validator after `pass`; a failure names the pass.
fn check_between(m: &Module, pass: Pass) -> Result<(), Vec<Diagnostic>> {
    if !cfg!(debug_assertions) {
        return Ok(());
    }
    validate_module(m).map_err(|errors| {
        errors
            .iter()
            .map(|e| {
                let mut d = e.to_diagnostic();
                d.message = format!("after the `{}` pass: {}", pass.name(), d.message);
                d
            })
            .collect()
    })
}
