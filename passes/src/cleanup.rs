//! Clean-up passes: constant folding, common-subexpression elimination and dead-code
//! elimination.
//!
//! All three keep results bit-identical: folding evaluates ops with the reference
//! interpreter itself (so a folded constant is exactly what the op would have computed at
//! run time), CSE merges only ops that compute the same function of the same operands, and
//! DCE removes only values nothing reachable from the result uses (the IR is pure, calls
//! included).
//!
//! The passes never panic. On a function whose handles or block structure are broken they
//! leave it unchanged (run `sci_ir::validate` to learn why). Their output is in builder
//! order, so it prints without the `indexed` form.

mod cse;
mod dce;
mod fold;
pub(crate) mod rebuild;

pub use cse::cse;
pub use dce::dce;
pub(crate) use fold::eval_op;
pub use fold::fold_constants;
pub(crate) use rebuild::block_tree_refs;

use sci_ir::{Function, Module};

/// Runs constant folding, CSE and DCE on `f`.
pub fn cleanup_function(f: &mut Function) {
    fold_constants(f);
    cse(f);
    dce(f);
}

/// Runs [`cleanup_function`] on every function of `m`.
pub fn cleanup_module(m: &mut Module) {
    let ids: Vec<_> = m.functions.iter().map(|(id, _)| id).collect();
    for id in ids {
        if let Some(f) = m.functions.get_mut(id) {
            cleanup_function(f);
        }
    }
}
