//! The runtime: compiled models turned into answers.
//!
//! - [`simulate`]: solve an ODE model over its time span (`domain time: t in [0, 40]`, or
//!   given times) with the solvers of [`sci_stdlib::ode`], returning a [`Trajectory`] of
//!   states and outputs;
//! - [`fit`]: a [`Trainer`] that minimises a model's loss: collocation points for
//!   physics-informed residuals, data sets read from files, and ODE solutions with forward
//!   sensitivities for losses over trajectories (`prey(obs.t)`: parameter fitting and
//!   universal differential equations), trained by default with the schedule its
//!   [`LossKind`] calls for ([`schedule`]), its points and rows shared among the ranks
//!   of a data-parallel run ([`fit::Shard`]), and expectation values of quantum circuits
//!   simulated for losses that read them ([`quantum`]: variational circuits, VQE);
//! - [`ensemble`]: many solves of one model over varied parameters and initial states,
//!   on threads and over ranks, gathered with statistics across the members.
//!
//! Errors are [`sci_stdlib::Error`]s; [`ErrorKind::Input`](sci_stdlib::ErrorKind::Input)
//! marks the user's mistakes (the CLI exits with status 2 for those).

pub mod data_selection;
pub mod discovered;
pub mod ensemble;
pub mod events;
pub mod fit;
pub mod network_rewrite;
pub mod networks;
pub mod observed;
pub mod points;
pub mod quantum;
pub mod schedule;
pub mod simulate;
pub mod system;

pub use fit::{TrainSetup, Trainer};
pub use networks::{Network, Samples, along_solution, networks};
pub use observed::{Observed, observations};
pub use schedule::LossKind;
pub use simulate::Trajectory;
pub use system::CompiledSystem;

use crate::jit::JitError;
use sci_ir::Layout;

impl From<JitError> for sci_stdlib::Error {
    fn from(e: JitError) -> sci_stdlib::Error {
        sci_stdlib::Error::numerical(e.to_string())
    }
}

/// The names of every element of a layout: `prey`, `u[0]`, `u[1]`, `A[0,1]`.
pub fn element_names(layout: &Layout) -> Vec<String> {
    let mut names = Vec::with_capacity(layout.len);
    for slot in &layout.slots {
        let shape: Vec<usize> = slot.shape.to_vec();
        let count: usize = shape.iter().product();
        if shape.is_empty() {
            names.push(slot.name.clone());
            continue;
        }
        for flat in 0..count {
            let mut index = Vec::with_capacity(shape.len());
            let mut rest = flat;
            for &d in shape.iter().rev() {
                index.push(rest % d.max(1));
                rest /= d.max(1);
            }
            index.reverse();
            let index: Vec<String> = index.iter().map(|i| i.to_string()).collect();
            names.push(format!("{}[{}]", slot.name, index.join(",")));
        }
    }
    names
}

/// A checkpoint of `model` at parameters `p`: θ as named blocks, with `meta` (no training
/// state).
pub fn checkpoint(
    model: &crate::Model<'_>,
    p: &[f64],
    meta: Vec<(String, f64)>,
) -> sci_stdlib::checkpoint::Checkpoint {
    use sci_stdlib::checkpoint::{Checkpoint, ParamBlock};
    let params = model
        .ir()
        .params
        .slots
        .iter()
        .map(|slot| {
            let count: usize = slot.shape.iter().product();
            ParamBlock {
                name: slot.name.clone(),
                shape: slot.shape.to_vec(),
                values: p
                    .get(slot.offset..slot.offset + count)
                    .map(<[f64]>::to_vec)
                    .unwrap_or_default(),
            }
        })
        .collect();
    Checkpoint {
        model: model.name().to_string(),
        params,
        meta,
        training: None,
    }
}

/// θ of `model` from a checkpoint: every parameter block matched by name and length; the
/// checkpoint may hold more blocks than the model (they are ignored).
pub fn params_from_checkpoint(
    model: &crate::Model<'_>,
    checkpoint: &sci_stdlib::checkpoint::Checkpoint,
) -> Result<Vec<f64>, sci_stdlib::Error> {
    theta_from_checkpoint(model.ir(), checkpoint)
}

/// θ of the model `module` from a checkpoint (see [`params_from_checkpoint`]).
pub fn theta_from_checkpoint(
    module: &sci_ir::Module,
    checkpoint: &sci_stdlib::checkpoint::Checkpoint,
) -> Result<Vec<f64>, sci_stdlib::Error> {
    let mut p = module.params.defaults();
    for slot in &module.params.slots {
        let Some(block) = checkpoint.params.iter().find(|b| b.name == slot.name) else {
            return Err(sci_stdlib::Error::input(format!(
                "The checkpoint has no parameter `{}` of model `{}`.",
                slot.name, module.name
            )));
        };
        let count: usize = slot.shape.iter().product();
        if block.values.len() != count || block.shape != slot.shape {
            return Err(sci_stdlib::Error::input(format!(
                "The checkpoint's parameter `{}` has shape {:?}, but the model's has {:?}.",
                slot.name, block.shape, slot.shape
            )));
        }
        p[slot.offset..slot.offset + count].copy_from_slice(&block.values);
    }
    Ok(p)
}
