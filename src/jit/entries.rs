//! The conventional functions of a model module (`rhs`, `y0`, the derivative functions the
//! JIT adds, `loss`), found by their [`Role`] once when the module is compiled: an ODE solve
//! calls `rhs` hundreds of times and a training run calls `loss` thousands, and looking a
//! function up on every call cost as much as a small model's `rhs` itself.

use sci_codegen::CompiledModule;
use sci_ir::manifest::DerivativeKind;
use sci_ir::{Module, Role, SplitPart};

use super::{
    JACOBIAN, JVP_EVENTS_PARAMS, JVP_EVENTS_STATE, JVP_EVENTS_TIME, JVP_RESETS_PARAMS,
    JVP_RESETS_STATE, JVP_RESETS_TIME, JVP_RHS_PARAMS, JVP_RHS_STATE, JVP_Y0, LOSS_GRAD,
    LOSS_VALUE_GRAD, PARAM_JACOBIAN, SPARSE_JACOBIAN, VJP_RHS, VJP_Y0,
};

/// A conventional function of a model.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Entry {
    Rhs,
    Y0,
    Outputs,
    JvpRhsState,
    JvpRhsParams,
    JvpY0,
    Jacobian,
    ParamJacobian,
    SparseJacobian,
    Loss,
    LossGrad,
    LossValueGrad,
    Events,
    EventResets,
    JvpEventsState,
    JvpEventsParams,
    JvpEventsTime,
    JvpResetsState,
    JvpResetsParams,
    JvpResetsTime,
    VjpRhs,
    VjpY0,
}

impl Entry {
    const ALL: [Entry; 22] = [
        Entry::Rhs,
        Entry::Y0,
        Entry::Outputs,
        Entry::JvpRhsState,
        Entry::JvpRhsParams,
        Entry::JvpY0,
        Entry::Jacobian,
        Entry::ParamJacobian,
        Entry::SparseJacobian,
        Entry::Loss,
        Entry::LossGrad,
        Entry::LossValueGrad,
        Entry::Events,
        Entry::EventResets,
        Entry::JvpEventsState,
        Entry::JvpEventsParams,
        Entry::JvpEventsTime,
        Entry::JvpResetsState,
        Entry::JvpResetsParams,
        Entry::JvpResetsTime,
        Entry::VjpRhs,
        Entry::VjpY0,
    ];

    /// The function's role in the module.
    pub(crate) fn role(self) -> Role {
        let derivative = |kind, of: Role, wrt: usize| Role::derivative(kind, &of, &[wrt]);
        match self {
            Entry::Rhs => Role::Rhs,
            Entry::Y0 => Role::InitialState,
            Entry::Outputs => Role::Outputs,
            Entry::JvpRhsState => derivative(DerivativeKind::Jvp, Role::Rhs, 1),
            Entry::JvpRhsParams => derivative(DerivativeKind::Jvp, Role::Rhs, 2),
            Entry::JvpY0 => derivative(DerivativeKind::Jvp, Role::InitialState, 0),
            Entry::Jacobian => derivative(DerivativeKind::Jacobian, Role::Rhs, 1),
            Entry::ParamJacobian => derivative(DerivativeKind::Jacobian, Role::Rhs, 2),
            Entry::SparseJacobian => derivative(DerivativeKind::SparseJacobian, Role::Rhs, 1),
            Entry::Loss => Role::Loss,
            Entry::LossGrad => derivative(DerivativeKind::Gradient, Role::Loss, 0),
            Entry::LossValueGrad => derivative(DerivativeKind::ValueAndGradient, Role::Loss, 0),
            Entry::Events => Role::EventConditions,
            Entry::EventResets => Role::EventResets,
            Entry::JvpEventsState => derivative(DerivativeKind::Jvp, Role::EventConditions, 1),
            Entry::JvpEventsParams => derivative(DerivativeKind::Jvp, Role::EventConditions, 2),
            Entry::JvpEventsTime => derivative(DerivativeKind::Jvp, Role::EventConditions, 0),
            Entry::JvpResetsState => derivative(DerivativeKind::Jvp, Role::EventResets, 1),
            Entry::JvpResetsParams => derivative(DerivativeKind::Jvp, Role::EventResets, 2),
            Entry::JvpResetsTime => derivative(DerivativeKind::Jvp, Role::EventResets, 0),
            Entry::VjpRhs => Role::derivative(DerivativeKind::Vjp, &Role::Rhs, &[1, 2]),
            Entry::VjpY0 => derivative(DerivativeKind::Vjp, Role::InitialState, 0),
        }
    }

    /// The function's name in the module (how hosts that work by name, C callers and
    /// [`crate::Model::function`], know it).
    pub(crate) fn name(self) -> &'static str {
        match self {
            Entry::Rhs => "rhs",
            Entry::Y0 => "y0",
            Entry::Outputs => "outputs",
            Entry::JvpRhsState => JVP_RHS_STATE,
            Entry::JvpRhsParams => JVP_RHS_PARAMS,
            Entry::JvpY0 => JVP_Y0,
            Entry::Jacobian => JACOBIAN,
            Entry::ParamJacobian => PARAM_JACOBIAN,
            Entry::SparseJacobian => SPARSE_JACOBIAN,
            Entry::Loss => "loss",
            Entry::LossGrad => LOSS_GRAD,
            Entry::LossValueGrad => LOSS_VALUE_GRAD,
            Entry::Events => "events",
            Entry::EventResets => "event_resets",
            Entry::JvpEventsState => JVP_EVENTS_STATE,
            Entry::JvpEventsParams => JVP_EVENTS_PARAMS,
            Entry::JvpEventsTime => JVP_EVENTS_TIME,
            Entry::JvpResetsState => JVP_RESETS_STATE,
            Entry::JvpResetsParams => JVP_RESETS_PARAMS,
            Entry::JvpResetsTime => JVP_RESETS_TIME,
            Entry::VjpRhs => VJP_RHS,
            Entry::VjpY0 => VJP_Y0,
        }
    }
}

/// An entry split at what depends on θ alone (roles `invariant(R)` and `update(R)`):
/// where its two parts are in the function list, and the invariant values' length.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Split {
    pub invariant: usize,
    pub update: usize,
    pub len: usize,
}

/// Where each [`Entry`] is in a compiled module's function list, and its split parts.
#[derive(Clone, Debug)]
pub(crate) struct Entries {
    index: [Option<usize>; Entry::ALL.len()],
    split: [Option<Split>; Entry::ALL.len()],
}

impl Entries {
    /// The entries of `ir` (the module before back-end rewrites, which keep function names)
    /// in its compiled code.
    pub(crate) fn find(ir: &Module, code: &dyn CompiledModule) -> Entries {
        let index_of = |role: &Role| {
            let f = ir.function_with_role(role)?;
            code.index_of(&ir.functions.get(f)?.name)
        };
        Entries {
            index: Entry::ALL.map(|e| index_of(&e.role())),
            split: Entry::ALL.map(|e| {
                let invariant = Role::split(SplitPart::Invariant, &e.role());
                let len = ir
                    .functions
                    .get(ir.function_with_role(&invariant)?)?
                    .result_type()?
                    .element_count()?;
                Some(Split {
                    invariant: index_of(&invariant)?,
                    update: index_of(&Role::split(SplitPart::Update, &e.role()))?,
                    len,
                })
            }),
        }
    }

    /// The position of `entry` in the function list, when the module has it.
    pub(crate) fn get(&self, entry: Entry) -> Option<usize> {
        self.index[entry as usize]
    }

    /// The split parts of `entry`, when it was split.
    pub(crate) fn split(&self, entry: Entry) -> Option<Split> {
        self.split[entry as usize]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_entry_has_its_own_slot_and_name() {
        for (i, e) in Entry::ALL.iter().enumerate() {
            assert_eq!(*e as usize, i, "{e:?} out of order in Entry::ALL");
        }
        let mut names: Vec<&str> = Entry::ALL.iter().map(|e| e.name()).collect();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), Entry::ALL.len());
        let mut roles: Vec<String> = Entry::ALL.iter().map(|e| e.role().to_string()).collect();
        roles.sort_unstable();
        roles.dedup();
        assert_eq!(roles.len(), Entry::ALL.len());
    }
}
