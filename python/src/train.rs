//! `Model.train` and its result: the loss's training objective (points drawn, data read,
//! ODEs solved as `sci train` does) minimised by sci's optimisers with the GIL released.
//! A `callback(step, loss)` is called with the GIL held; it may stop the run by returning
//! `False`, and Ctrl-C (KeyboardInterrupt) stops it too, keeping the best parameters.

use std::time::{Duration, Instant};

use numpy::PyArray1;
use pyo3::exceptions::{PyKeyError, PyValueError};
use pyo3::prelude::*;
use sci::runtime::{TrainSetup, Trainer};
use sci::stdlib::Error;
use sci::stdlib::ode::{Method, Sensitivity, SolveOptions};
use sci::stdlib::optim::{
    Control, Freeze, Objective, Optimizer, Progress, TrainOptions, train as minimise,
};

use crate::arrays::array1;
use crate::errors;
use crate::model::Model;

/// The training objective of `model` as `sci train` builds it: points drawn with `seed`,
/// data sets read from `data_dir`.
pub fn trainer<'c>(model: sci::Model<'c>, seed: u64, data_dir: &str) -> Result<Trainer<'c>, Error> {
    let defaults = TrainSetup::default();
    trainer_with(model, seed, data_dir, defaults.solve, defaults.sensitivity)
}

fn trainer_with<'c>(
    model: sci::Model<'c>,
    seed: u64,
    data_dir: &str,
    solve: SolveOptions,
    sensitivity: Sensitivity,
) -> Result<Trainer<'c>, Error> {
    Trainer::for_model(
        model,
        TrainSetup {
            seed,
            data_dir: data_dir.into(),
            solve,
            sensitivity,
            ..TrainSetup::default()
        },
    )
}

/// The arguments of `Model.train`.
pub struct Request<'a, 'py> {
    pub params: Option<&'a Bound<'py, PyAny>>,
    pub steps: Option<usize>,
    pub optimizer: Option<String>,
    pub lr: Option<f64>,
    pub seed: u64,
    pub resample_every: Option<usize>,
    pub loss_tol: Option<f64>,
    pub patience: Option<usize>,
    pub freeze: Vec<String>,
    pub callback: Option<Bound<'py, PyAny>>,
    pub solver: String,
    pub rtol: f64,
    pub atol: f64,
    pub sensitivity: String,
}

/// The result of `Model.train`.
#[pyclass(frozen, module = "sci._sci")]
pub struct TrainResult {
    /// The parameters with the lowest loss seen (θ, shape `(n_params,)`).
    #[pyo3(get)]
    params: Py<PyArray1<f64>>,
    /// The lowest loss.
    #[pyo3(get)]
    loss: f64,
    /// The loss before each step and after the last (`steps + 1` values).
    #[pyo3(get)]
    losses: Py<PyArray1<f64>>,
    /// Steps taken.
    #[pyo3(get)]
    steps: usize,
    /// Loss and gradient evaluations (L-BFGS line searches take several per step).
    #[pyo3(get)]
    evaluations: usize,
    /// Why it ended: `steps`, `converged`, `no progress`, `loss tol`, `plateau`,
    /// `interrupted`.
    #[pyo3(get)]
    stopped: String,
    /// The optimiser and schedule used (`adam+lbfgs`, …).
    #[pyo3(get)]
    optimizer: String,
    /// Wall time of the run in seconds.
    #[pyo3(get)]
    seconds: f64,
}

#[pymethods]
impl TrainResult {
    fn __repr__(&self) -> String {
        format!(
            "<sci.TrainResult: loss {:.6e} after {} steps of {} ({}), {:.2} s>",
            self.loss, self.steps, self.optimizer, self.stopped, self.seconds
        )
    }
}

fn options(r: &Request<'_, '_>, trainer: &Trainer<'_>) -> PyResult<TrainOptions> {
    let optimizer: Option<Optimizer> = r
        .optimizer
        .as_deref()
        .map(str::parse)
        .transpose()
        .map_err(errors::runtime)?;
    let mut options = trainer.kind().options(optimizer, r.steps, None);
    if let Some(lr) = r.lr {
        options.lr = lr;
    }
    options.resample_every = r.resample_every;
    options.loss_tol = r.loss_tol;
    options.patience = r.patience;
    Ok(options)
}

pub fn train(model: &Model, py: Python<'_>, r: Request<'_, '_>) -> PyResult<TrainResult> {
    let mut p = model.theta(r.params)?;
    let compiled = model.model()?;
    let method: Method = r.solver.parse().map_err(errors::runtime)?;
    let sensitivity: Sensitivity = r.sensitivity.parse().map_err(errors::runtime)?;
    let solve = SolveOptions {
        method,
        rtol: r.rtol,
        atol: r.atol,
        ..SolveOptions::default()
    };
    let dir = model.program.get().options.data_dir.clone();
    let mut trainer = py
        .detach(|| trainer_with(compiled, r.seed, &dir, solve, sensitivity))
        .map_err(errors::runtime)?;
    let options = options(&r, &trainer)?;
    let mask = sci::runtime::schedule::frozen_mask(&compiled.ir().params, &r.freeze).map_err(|name| {
        let names: Vec<String> = compiled.ir().params.slots.iter().map(|s| s.name.clone()).collect();
        PyKeyError::new_err(format!(
            "`freeze` names `{name}`, which is not a parameter of `{}`; its parameters are: {}.",
            model.name,
            crate::arrays::list_names(&names)
        ))
    })?;
    let callback = r.callback.map(Bound::unbind);
    // What happened in Python during the run (a callback's exception, Ctrl-C), raised after.
    let mut raised: Option<PyErr> = None;
    let started = Instant::now();
    let report = py.detach(|| {
        let mut last_check = Instant::now();
        let mut progress = |info: &Progress<'_>| -> Control {
            let call_back = callback.is_some();
            let check_signals = last_check.elapsed() >= Duration::from_millis(100);
            if !call_back && !check_signals {
                return Control::Continue;
            }
            last_check = Instant::now();
            Python::attach(|py| {
                if let Err(e) = py.check_signals() {
                    raised = Some(e);
                    return Control::Stop;
                }
                let Some(callback) = &callback else {
                    return Control::Continue;
                };
                match callback.call1(py, (info.step, info.loss)) {
                    Ok(answer) if answer.bind(py).is(pyo3::types::PyBool::new(py, false)) => {
                        Control::Stop
                    }
                    Ok(_) => Control::Continue,
                    Err(e) => {
                        raised = Some(e);
                        Control::Stop
                    }
                }
            })
        };
        let mut frozen;
        let objective: &mut dyn Objective = if mask.iter().any(|&f| f) {
            frozen = Freeze::new(&mut trainer, mask)?;
            &mut frozen
        } else {
            &mut trainer
        };
        minimise(objective, &mut p, &options, &mut progress)
    });
    if let Some(e) = raised {
        return Err(e);
    }
    let report = report.map_err(errors::runtime)?;
    let stopped = match report.stopped {
        sci::stdlib::optim::StopReason::Steps => "steps",
        sci::stdlib::optim::StopReason::Converged => "converged",
        sci::stdlib::optim::StopReason::NoProgress => "no progress",
        sci::stdlib::optim::StopReason::LossTol => "loss tol",
        sci::stdlib::optim::StopReason::Plateau => "plateau",
        sci::stdlib::optim::StopReason::Interrupted => "interrupted",
    };
    if !report.final_loss.is_finite() {
        return Err(PyValueError::new_err(format!(
            "Training `{}` ended with a loss of {}.",
            model.name, report.final_loss
        )));
    }
    Ok(TrainResult {
        params: array1(py, p).unbind(),
        loss: report.final_loss,
        losses: array1(py, report.losses).unbind(),
        steps: report.steps,
        evaluations: report.evaluations,
        stopped: stopped.to_string(),
        optimizer: options.optimizer.name().to_string(),
        seconds: started.elapsed().as_secs_f64(),
    })
}
