//! Refitting a model against its data, and choosing among candidate equations (a trained
//! network's, from `sci discover`) by how well the refitted models explain the
//! measurements.
//!
//! A trained network's outputs along one orbit are a poor judge of which terms it stands
//! for (see `[`sci_stdlib::discover::candidates`]): its error there is several percent and
//! every extra term of a collinear library fits some of it. The measurements are the
//! judge that knows what the data support: each candidate's coefficients are refitted
//! through the ODE solution against them, and the candidates compared by the extended
//! Bayesian information criterion ([`extended_bic`])
//!
//! ```text
//! EBIC = n·ln(loss) + k·ln(n) + 2·Σᵢ ln C(p, kᵢ)
//! ```
//!
//! with `n` the measured values the loss compares the solution with (times excluded), `k`
//! the candidate's coefficients, `kᵢ` output `i`'s terms and `p` the library's size; the
//! loss is taken as proportional to a mean squared error (a constant factor shifts every
//! score alike). BIC rather than AICc (which chooses on the network's outputs): the
//! question here is which terms are there, not which model predicts best, and BIC is the
//! consistent one; extended, because the terms were picked out of a large library. Both
//! matter: out of 64 candidates some combination of powers always mimics `x*y` along a
//! short orbit a little better than `x*y` itself. On the data of Rackauckas et al.'s
//! experiment (`examples/lv_scenario1.sci`) AICc's penalty of 2 per term let a 4-term
//! model beat the 2 true terms, and plain BIC let a 3-term one win on another seed.

use std::path::Path;

use sci_stdlib::Error;
use sci_stdlib::discover::{Discovered, extended_bic};
use sci_stdlib::optim::{Control, Freeze, Optimizer, Progress, TrainOptions, train};

use super::{TrainSetup, Trainer};
use crate::Compiled;

/// A model's parameters after a refit against its data.
pub struct Refit {
    /// Every parameter element by name, in the model's order.
    pub params: Vec<(String, f64)>,
    /// The loss before and after.
    pub before: f64,
    pub after: f64,
    /// The optimiser's steps.
    pub steps: usize,
    /// The measured values the loss compares solutions with (see
    /// [`Trainer::observations`]).
    pub observations: Option<usize>,
}

/// The parameters of `compiled`'s first model after `steps` L-BFGS steps on its loss (the
/// squared distance of its solution from the data, read relative to `dir`); only those
/// `moves` accepts (by name) change.
///
/// Errors: a module without a model, and those of [`Trainer::new`] and the optimiser.
pub fn refit(
    compiled: &Compiled,
    dir: &Path,
    steps: usize,
    moves: &dyn Fn(&str) -> bool,
) -> Result<Refit, Error> {
    let name = compiled
        .models()
        .next()
        .map(|m| m.name.clone())
        .ok_or_else(|| Error::input("The module has no model to refit."))?;
    let setup = TrainSetup {
        data_dir: dir.to_path_buf(),
        ..TrainSetup::default()
    };
    let mut trainer = Trainer::new(compiled, &name, setup)?;
    let mut p = trainer.model().params();
    let before = trainer.loss(&p)?;
    let options = TrainOptions {
        optimizer: Optimizer::Lbfgs,
        steps,
        ..TrainOptions::default()
    };
    let names = super::element_names(&trainer.model().ir().params);
    let frozen: Vec<bool> = names.iter().map(|n| !moves(n)).collect();
    let mut keep = |_: &Progress<'_>| Control::Continue;
    let observations = trainer.observations();
    let report = if frozen.iter().any(|&f| f) {
        let mut objective = Freeze::new(&mut trainer, frozen)?;
        train(&mut objective, &mut p, &options, &mut keep)?
    } else {
        train(&mut trainer, &mut p, &options, &mut keep)?
    };
    Ok(Refit {
        params: names.into_iter().zip(p).collect(),
        before,
        after: report.final_loss,
        steps: report.steps,
        observations,
    })
}

/// One candidate refitted and scored.
pub struct Judged {
    /// The candidate's index in the list judged.
    pub candidate: usize,
    pub terms: usize,
    pub refit: Refit,
    pub ebic: f64,
}

/// What judging the candidates found: the scored ones by increasing extended BIC (ties: fewer
/// terms first), and how many could not be refitted (a solve that failed, a loss that is
/// not finite).
pub struct Judgement {
    pub judged: Vec<Judged>,
    pub failed: usize,
    pub observations: usize,
}

/// Refits every candidate (`compile` gives its model, compiled) and scores it by the
/// extended BIC on the data (see the module header). A candidate whose model does not
/// compile is an error; one whose refit fails (a solve that fails, a loss that is not
/// finite) is counted and left out.
///
/// Errors: a model whose loss compares no trajectory with data (there is nothing to judge
/// by), a candidate that does not compile, and every candidate failing.
pub fn judge(
    candidates: &[Discovered],
    compile: &dyn Fn(&Discovered) -> Result<Compiled, Error>,
    dir: &Path,
    steps: usize,
    moves: &dyn Fn(&str) -> bool,
) -> Result<Judgement, Error> {
    let mut judged = Vec::new();
    let mut failed = 0;
    let mut observations = None;
    let mut first_error = None;
    for (candidate, found) in candidates.iter().enumerate() {
        let compiled = compile(found)?;
        let refit = match refit(&compiled, dir, steps, moves) {
            Ok(r) if r.after.is_finite() => r,
            Ok(_) => {
                failed += 1;
                continue;
            }
            Err(e) => {
                failed += 1;
                first_error.get_or_insert(e);
                continue;
            }
        };
        let Some(n) = refit.observations else {
            return Err(no_data());
        };
        observations = Some(n);
        let terms = found.terms();
        let supports: Vec<usize> = found.equations.iter().map(|e| e.terms.len()).collect();
        let ebic = extended_bic(n, &supports, found.library.len(), refit.after * n as f64);
        judged.push(Judged {
            candidate,
            terms,
            refit,
            ebic,
        });
    }
    let Some(observations) = observations else {
        return Err(first_error.unwrap_or_else(no_data));
    };
    judged.sort_by(|a, b| a.ebic.total_cmp(&b.ebic).then(a.terms.cmp(&b.terms)));
    Ok(Judgement {
        judged,
        failed,
        observations,
    })
}

/// The error for judging by data a model whose loss compares no solution with data.
pub fn no_data() -> Error {
    Error::input("The model's loss compares no solution with data, so the data cannot judge.")
        .with_help("choose by the network's outputs instead: --select network")
}
