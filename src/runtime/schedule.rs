//! The training schedule a model gets when its user names none, chosen by what its loss is
//! made of.
//!
//! Measured on the examples (docs/runtime.md, "Default schedules"): physics-informed losses
//! need Adam to leave the random initial network's region and L-BFGS to converge (Adam alone
//! for 1,000 steps left Poisson at a relative L2 error of 1e-1 and Kovasznay at 0.5; 2,000
//! Adam steps then L-BFGS reach a few 1e-3, Burgers' shock taking the most L-BFGS steps,
//! hence up to step 20,000, where L-BFGS usually stops first because it can no longer
//! decrease the loss); losses over ODE solutions have few, smooth
//! directions and a large first loss, where L-BFGS alone fits best (the UDE example: 4e-5
//! in 500 steps, against 0.56 after 1,000 Adam steps); so do losses over expectation values
//! of variational quantum circuits, a few smooth angles (VQE of the critical Ising ring
//! with the Hamiltonian variational ansatz reaches the ground energy to 1e-6 by L-BFGS,
//! `stdlib/tests/quantum.rs`).

use sci_stdlib::optim::{Optimizer, TrainOptions};

/// What a model's loss is made of.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LossKind {
    /// Residuals on collocation points (a physics-informed network), perhaps with data.
    Physics,
    /// Data compared with ODE solutions (parameter fitting, universal differential
    /// equations).
    OdeFit,
    /// Data only (a regression).
    DataFit,
    /// Expectation values of quantum circuits (a variational quantum eigensolver).
    Variational,
}

impl LossKind {
    /// The kind in words, for a run's summary.
    pub fn describe(self) -> &'static str {
        match self {
            LossKind::Physics => "a physics-informed loss",
            LossKind::OdeFit => "a loss over ODE solutions",
            LossKind::DataFit => "a loss over data",
            LossKind::Variational => "a loss over expectation values of quantum circuits",
        }
    }

    /// The optimiser, the steps and the Adam phase this kind trains with by default; the
    /// other options are [`TrainOptions::default`]'s.
    pub fn schedule(self) -> TrainOptions {
        match self {
            LossKind::Physics | LossKind::DataFit => TrainOptions {
                optimizer: Optimizer::AdamLbfgs,
                steps: 20_000,
                adam_steps: Some(2000),
                ..TrainOptions::default()
            },
            LossKind::OdeFit | LossKind::Variational => TrainOptions {
                optimizer: Optimizer::Lbfgs,
                steps: 500,
                ..TrainOptions::default()
            },
        }
    }

    /// A run's options from what was asked for, the rest from [`LossKind::schedule`]: the
    /// kind's step count and Adam phase go with its optimiser, so another optimiser named
    /// alone runs [`TrainOptions::default`]'s 1000 steps. The other fields are the
    /// defaults' (set them after).
    pub fn options(
        self,
        optimizer: Option<Optimizer>,
        steps: Option<usize>,
        adam_steps: Option<usize>,
    ) -> TrainOptions {
        let schedule = self.schedule();
        let optimizer = optimizer.unwrap_or(schedule.optimizer);
        let scheduled = optimizer == schedule.optimizer;
        TrainOptions {
            optimizer,
            steps: match (steps, scheduled) {
                (Some(steps), _) => steps,
                (None, true) => schedule.steps,
                (None, false) => TrainOptions::default().steps,
            },
            adam_steps: match adam_steps {
                Some(n) => Some(n),
                None if scheduled && steps.is_none() => schedule.adam_steps,
                None => None,
            },
            ..TrainOptions::default()
        }
    }
}

/// One flag per element of θ: whether `names` names its block (a parameter, or a network
/// and so all its weights: `u` or `u.w0`). `Err` holds the first name that matches none.
pub fn frozen_mask(layout: &sci_ir::Layout, names: &[String]) -> Result<Vec<bool>, String> {
    let mut mask = vec![false; layout.len];
    for name in names.iter().map(|n| n.trim()).filter(|n| !n.is_empty()) {
        let mut found = false;
        for slot in &layout.slots {
            if slot.name == name || slot.name.starts_with(&format!("{name}.")) {
                let len: usize = slot.shape.iter().product();
                mask[slot.offset..slot.offset + len].fill(true);
                found = true;
            }
        }
        if !found {
            return Err(name.to_string());
        }
    }
    Ok(mask)
}
