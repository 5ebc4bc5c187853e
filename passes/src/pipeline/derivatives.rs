//! The derivative functions hosts ask for, by name and role: the embedding API and C hosts
//! take the Jacobian of `rhs` and the gradient of `loss`; the runtime also takes the
//! Jacobian-vector products of the ODE solvers, the dense `∂f/∂θ` of forward sensitivities,
//! the gradients of `loss` in its trajectory and expectation-value inputs, and the sparse
//! Jacobian.

use std::collections::HashMap;

use sci_ir::manifest::DerivativeKind;
use sci_ir::{FuncId, Function, InputRole, Module, Role, Type};

use crate::ad::AdError;
use crate::sparsity::SparseJacobian;

/// Name of the `rhs` Jacobian with respect to the state (`∂rhs/∂y`).
pub const JACOBIAN: &str = "jacobian.rhs";
/// Name of the gradient of `loss` with respect to θ.
pub const LOSS_GRAD: &str = "grad.loss";
/// Name of `[loss, ∂loss/∂θ...]` in one function (the forward pass once, its values reused
/// by the reverse sweep; inputs as `loss`).
pub const LOSS_VALUE_GRAD: &str = "value_and_grad.loss";
/// Name of the CSR values of `∂rhs/∂y`.
pub const SPARSE_JACOBIAN: &str = "sparse_jacobian.rhs";
/// Name of `∂rhs/∂y · v` (inputs `t, y, θ, v`), for the ODE solvers (Newton iterations,
/// sensitivities).
pub const JVP_RHS_STATE: &str = "jvp.rhs.y";
/// Name of `∂rhs/∂θ · v` (inputs `t, y, θ, v`), for forward sensitivities.
pub const JVP_RHS_PARAMS: &str = "jvp.rhs.p";
/// Name of `∂y0/∂θ · v` (inputs `θ, v`), for forward sensitivities.
pub const JVP_Y0: &str = "jvp.y0";
/// Name of the dense `∂rhs/∂θ` (inputs as `rhs`, row-major `n × p`): forward sensitivities
/// need `∂f/∂θ · e_j` for every parameter, and one reverse-mode Jacobian is far cheaper
/// than `p` products when networks make `p` large.
pub const PARAM_JACOBIAN: &str = "jacobian.rhs.p";
/// Name of `[λᵀ ∂rhs/∂y, λᵀ ∂rhs/∂θ]` (inputs `t, y, θ, λ`; one reverse sweep gives both,
/// `n + p` values): the adjoint equations' right-hand side and quadrature.
pub const VJP_RHS: &str = "vjp.rhs";
/// Name of `λᵀ ∂y0/∂θ` (inputs `θ, λ`): the adjoint gradient's initial-state term.
pub const VJP_Y0: &str = "vjp.y0";

/// Names of the products of the event functions (inputs `t, y, θ, v`; see
/// `docs/lowering.md`): `∂events/∂y · v`, `∂events/∂θ · v`, `∂events/∂t · v` (`v` a scalar),
/// `∂event_resets/∂y · v`, `∂event_resets/∂θ · v`, `∂event_resets/∂t · v`, for sensitivities
/// across events.
pub const JVP_EVENTS_STATE: &str = "jvp.events.y";
/// See [`JVP_EVENTS_STATE`].
pub const JVP_EVENTS_PARAMS: &str = "jvp.events.p";
/// See [`JVP_EVENTS_STATE`].
pub const JVP_EVENTS_TIME: &str = "jvp.events.t";
/// See [`JVP_EVENTS_STATE`].
pub const JVP_RESETS_STATE: &str = "jvp.event_resets.y";
/// See [`JVP_EVENTS_STATE`].
pub const JVP_RESETS_PARAMS: &str = "jvp.event_resets.p";
/// `∂event_resets/∂t · v` (`v` a scalar). See [`JVP_EVENTS_STATE`].
pub const JVP_RESETS_TIME: &str = "jvp.event_resets.t";

/// Name of the gradient of `loss` with respect to its input `input` (a data set's
/// trajectory `obs.traj`, or an expectation value `expval(C, O)`), so fits through ODE
/// solutions can chain it with the sensitivities, and variational circuits with the
/// circuit's gradient.
pub fn loss_grad_wrt(input: &str) -> String {
    format!("grad.loss.{input}")
}

/// Which derivative functions a host asks for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Derivatives {
    /// None: the module as lowered (generic function instances, `--derivatives false`).
    None,
    /// The embedding API's and C hosts': [`JACOBIAN`], [`LOSS_GRAD`], [`LOSS_VALUE_GRAD`].
    Api,
    /// Those and the runtime's: [`JVP_RHS_STATE`], [`JVP_RHS_PARAMS`], [`JVP_Y0`],
    /// [`PARAM_JACOBIAN`], [`loss_grad_wrt`] per trajectory and expectation-value input,
    /// [`SPARSE_JACOBIAN`], and with events [`JVP_EVENTS_STATE`] and its siblings; where
    /// `rhs`, [`SPARSE_JACOBIAN`] or [`PARAM_JACOBIAN`] has work that depends on θ alone,
    /// its parts `NAME.invariant` and `NAME.update` (roles `invariant(R)`, `update(R)`).
    Runtime,
    /// Those and the adjoint method's: [`VJP_RHS`] and [`VJP_Y0`] (asked for only where
    /// an adjoint gradient may be taken: they add about two thirds to the compile time of a
    /// small model).
    Adjoint,
}

/// The structure of the sparse Jacobian, when it was built.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SparsePattern {
    pub n_rows: usize,
    pub n_cols: usize,
    pub row_ptr: Vec<usize>,
    pub col_idx: Vec<usize>,
    /// Sweeps (colours) one evaluation of the values takes.
    pub n_colors: usize,
    /// Whether the values are computed element-locally.
    pub element_local: bool,
}

/// What adding the derivatives found.
#[derive(Clone, Debug, Default)]
pub struct Added {
    /// Why a derivative function could not be built, by its name.
    pub missing: HashMap<String, String>,
    /// The pattern of [`SPARSE_JACOBIAN`], when it was built.
    pub sparsity: Option<SparsePattern>,
}

/// Adds the derivative functions of `which` to `ir`, in a fixed order (the order decides
/// function indices, which GPU kernel names carry).
pub(super) fn add(ir: &mut Module, which: Derivatives) -> Added {
    let mut added = Added::default();
    if which == Derivatives::None {
        return added;
    }
    let missing = &mut added.missing;
    add_derivative(ir, &Role::Rhs, JACOBIAN, missing, |m, f| {
        crate::ad::jacobian(m, f, 1)
    });
    add_derivative(ir, &Role::Loss, LOSS_GRAD, missing, |m, f| {
        crate::ad::grad(m, f, &[0])
    });
    add_derivative(ir, &Role::Loss, LOSS_VALUE_GRAD, missing, |m, f| {
        crate::ad::value_and_grad(m, f, &[0])
    });
    if which == Derivatives::Api {
        return added;
    }
    if ir.function_with_role(&Role::Rhs).is_some() {
        add_derivative(ir, &Role::Rhs, JVP_RHS_STATE, missing, |m, f| {
            crate::ad::jvp(m, f, &[1])
        });
        if ir.params.len > 0 {
            add_derivative(ir, &Role::Rhs, JVP_RHS_PARAMS, missing, |m, f| {
                crate::ad::jvp(m, f, &[2])
            });
            add_derivative(ir, &Role::InitialState, JVP_Y0, missing, |m, f| {
                crate::ad::jvp(m, f, &[0])
            });
            // Element-local for grids reading scalar parameters (one pass over the grid),
            // else forward or reverse mode by size.
            add_derivative(ir, &Role::Rhs, PARAM_JACOBIAN, missing, |m, f| {
                crate::sparsity::dense_jacobian(m, f, 2)
            });
            add_split(
                ir,
                &Role::derivative(DerivativeKind::Jacobian, &Role::Rhs, &[2]),
            );
        }
    }
    if ir.function_with_role(&Role::EventConditions).is_some() {
        add_derivative(
            ir,
            &Role::EventConditions,
            JVP_EVENTS_STATE,
            missing,
            |m, f| crate::ad::jvp(m, f, &[1]),
        );
        add_derivative(
            ir,
            &Role::EventConditions,
            JVP_EVENTS_TIME,
            missing,
            |m, f| crate::ad::jvp(m, f, &[0]),
        );
        add_derivative(ir, &Role::EventResets, JVP_RESETS_STATE, missing, |m, f| {
            crate::ad::jvp(m, f, &[1])
        });
        add_derivative(ir, &Role::EventResets, JVP_RESETS_TIME, missing, |m, f| {
            crate::ad::jvp(m, f, &[0])
        });
        if ir.params.len > 0 {
            add_derivative(
                ir,
                &Role::EventConditions,
                JVP_EVENTS_PARAMS,
                missing,
                |m, f| crate::ad::jvp(m, f, &[2]),
            );
            add_derivative(
                ir,
                &Role::EventResets,
                JVP_RESETS_PARAMS,
                missing,
                |m, f| crate::ad::jvp(m, f, &[2]),
            );
        }
    }
    for (k, input) in chained_inputs(ir) {
        add_derivative(ir, &Role::Loss, &loss_grad_wrt(&input), missing, |m, f| {
            crate::ad::grad(m, f, &[k])
        });
    }
    added.sparsity = add_sparse_jacobian(ir, missing);
    add_split(ir, &Role::Rhs);
    // Last, so the functions before keep their indices. Only with parameters: the adjoint
    // gradient they serve is with respect to θ.
    if which == Derivatives::Adjoint
        && ir.function_with_role(&Role::Rhs).is_some()
        && ir.params.len > 0
    {
        add_derivative(ir, &Role::Rhs, VJP_RHS, &mut added.missing, |m, f| {
            crate::ad::vjp(m, f, &[1, 2])
        });
        add_derivative(
            ir,
            &Role::InitialState,
            VJP_Y0,
            &mut added.missing,
            |m, f| crate::ad::vjp(m, f, &[0]),
        );
    }
    added
}

/// The inputs of `loss` whose gradient the runtime chains with its own derivatives: the
/// trajectories (filled from ODE solves) and expectation values (filled from circuit
/// simulations); position and name.
fn chained_inputs(ir: &Module) -> Vec<(usize, String)> {
    let Some(loss) = ir
        .function_with_role(&Role::Loss)
        .and_then(|f| ir.functions.get(f))
    else {
        return Vec::new();
    };
    (0..loss.inputs().len())
        .filter(|&k| {
            matches!(
                loss.input_role(k),
                InputRole::Trajectory { .. } | InputRole::Expval { .. }
            )
        })
        .map(|k| (k, crate::ad::input_name(loss, k)))
        .collect()
}

/// Adds [`SPARSE_JACOBIAN`] (sparsity detection, then element-local values or colouring
/// and compressed AD) when `ir` has `rhs`, and returns its pattern.
fn add_sparse_jacobian(
    ir: &mut Module,
    missing: &mut HashMap<String, String>,
) -> Option<SparsePattern> {
    let rhs = ir.function_with_role(&Role::Rhs)?;
    match crate::sparsity::sparse_jacobian(ir, rhs, 1) {
        Ok(SparseJacobian {
            mut values,
            n_rows,
            n_cols,
            row_ptr,
            col_idx,
            n_colors,
            element_local,
            ..
        }) => {
            values.name = SPARSE_JACOBIAN.to_string();
            // Only element-local values are grids of entries to split.
            let split = element_local.then(|| split_function(&values)).flatten();
            ir.functions.push(values);
            if let Some(split) = split {
                push_split(ir, split);
            }
            Some(SparsePattern {
                n_rows,
                n_cols,
                row_ptr,
                col_idx,
                n_colors,
                element_local,
            })
        }
        Err(e) => {
            missing.insert(SPARSE_JACOBIAN.to_string(), e.message);
            None
        }
    }
}

/// `f` split at what depends on θ (its input 2, as in `rhs` and its Jacobians), when that
/// pays (`sparsity::split_invariant`).
fn split_function(f: &Function) -> Option<crate::sparsity::InvariantSplit> {
    (f.input_role(2) == &InputRole::Params)
        .then(|| crate::sparsity::split_invariant(f, 2))
        .flatten()
}

/// Adds the parts of `split` to `ir`, named after the function split
/// (`rhs.invariant`, `rhs.update`).
fn push_split(ir: &mut Module, split: crate::sparsity::InvariantSplit) {
    ir.functions.push(split.invariant);
    ir.functions.push(split.update);
}

/// Splits the function with role `role` when it has work that depends on θ alone worth
/// computing once per parameter change ([`split_function`]).
fn add_split(ir: &mut Module, role: &Role) {
    let split = ir
        .function_with_role(role)
        .and_then(|f| ir.functions.get(f))
        .and_then(split_function);
    if let Some(split) = split {
        push_split(ir, split);
    }
}

/// Adds `name` = `derive(f)` to `ir`, where `f` is the function with role `of`, when `ir`
/// has one (the derivative's role is set by the pass that builds it).
fn add_derivative(
    ir: &mut Module,
    of: &Role,
    name: &str,
    missing: &mut HashMap<String, String>,
    derive: impl Fn(&Module, FuncId) -> Result<Function, AdError>,
) {
    let Some(f) = ir.function_with_role(of) else {
        missing.insert(
            name.to_string(),
            format!("the model has no `{of}` function"),
        );
        return;
    };
    match derive(ir, f) {
        Ok(mut g) => match too_large(&g) {
            Some(ty) => {
                missing.insert(
                    name.to_string(),
                    format!(
                        "it would hold a value of type {ty}, more than the {} elements compiled \
                         code and the interpreter support; large systems use the sparse Jacobian",
                        sci_ir::interp::MAX_ELEMENTS
                    ),
                );
            }
            None => {
                g.name = name.to_string();
                ir.functions.push(g);
            }
        },
        Err(e) => {
            missing.insert(name.to_string(), e.message);
        }
    }
}

/// The type of the first value of `g` larger than any back end evaluates (the dense
/// Jacobian of a large system): such a derivative is left out, and the rest of the program
/// compiles.
fn too_large(g: &Function) -> Option<&Type> {
    g.values.iter().map(|(_, v)| &v.ty).find(|ty| {
        ty.element_count()
            .is_none_or(|n| n > sci_ir::interp::MAX_ELEMENTS)
    })
}

/// The role of the gradient of `loss` with respect to its input `k`.
pub fn loss_grad_role(k: usize) -> Role {
    Role::derivative(DerivativeKind::Gradient, &Role::Loss, &[k])
}
