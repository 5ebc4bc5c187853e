//! Training a model's loss: the [`Objective`] the optimisers of `sci_stdlib::optim`
//! minimise.
//!
//! The inputs of `loss` after θ (see `docs/lowering.md`) are filled here:
//! - `RESIDUAL.COORD`: collocation points drawn in the residual's domain with the fixings of
//!   its `where` clause, redrawn on [`Objective::resample`];
//! - `DATA`: the declared columns of the data file, read once;
//! - `DATA.traj`: the ODE solution at the rows' times. Its parameter gradient is chained
//!   with the forward sensitivities: `dL/dθ = ∂L/∂θ + Σ_rows (∂L/∂y_row) · (dy/dθ)(t_row)`.

use std::path::{Path, PathBuf};

use sci_lang::lower::{LossInput, loss_inputs};
use sci_stdlib::Error;
use sci_stdlib::checkpoint::{Checkpoint, ParamBlock};
use sci_stdlib::data::{Table, names_columns, read_table};
use sci_stdlib::ode::{self, SolveOptions};
use sci_stdlib::optim::Objective;
use sci_stdlib::sample::{SampleSpec, Sampling, sample};

use super::simulate::time_span;
use super::system::CompiledSystem;
use crate::Compiled;
use crate::jit::{Batch, Model};
use crate::lang::hir;

/// Choices for a training run that the model does not state.
#[derive(Clone, Debug)]
pub struct TrainSetup {
    /// Seed of the collocation points (network initialisation has its own seed in the model).
    pub seed: u64,
    /// The directory data file paths are relative to (the model file's directory).
    pub data_dir: PathBuf,
    /// Solver settings for losses over ODE solutions; `t0` is the model's time span start
    /// (or 0), and the times are the data's.
    pub solve: SolveOptions,
}

impl Default for TrainSetup {
    fn default() -> TrainSetup {
        TrainSetup {
            seed: 0,
            data_dir: PathBuf::from("."),
            solve: SolveOptions {
                rtol: 1e-8,
                atol: 1e-10,
                ..SolveOptions::default()
            },
        }
    }
}

/// The residual points of one residual: the indices of its coordinate inputs and how to
/// draw them.
struct ResidualPoints {
    /// The residual that opens the point set (its declaration index seeds the draw).
    residual: usize,
    inputs: Vec<usize>,
    spec: SampleSpec,
}

/// A trajectory input: filled from an ODE solve at the times of a data set.
struct TrajInput {
    /// Index of the `DATA.traj` input among the loss inputs.
    input: usize,
    name: String,
    /// The data set and its time column, as the model declares them (for messages).
    data: String,
    column: String,
    /// Each row's time.
    times: Vec<f64>,
}

/// A model's loss as an optimisation objective.
pub struct Trainer<'c> {
    model: Model<'c>,
    system: Option<CompiledSystem<'c>>,
    names: Vec<String>,
    buffers: Vec<Vec<f64>>,
    residuals: Vec<ResidualPoints>,
    trajectories: Vec<TrajInput>,
    seed: u64,
    t0: f64,
    solve: SolveOptions,
    evaluations: usize,
}

impl<'c> Trainer<'c> {
    /// The training objective of model `name`: draws the first collocation points, reads
    /// the data files.
    pub fn new(
        compiled: &'c Compiled,
        name: &str,
        setup: TrainSetup,
    ) -> Result<Trainer<'c>, Error> {
        let model = compiled.model(name)?;
        let hir = compiled
            .program
            .models
            .iter()
            .find(|m| m.name == name)
            .ok_or_else(|| Error::input(format!("There is no model called `{name}`.")))?;
        if hir.loss.is_none() {
            return Err(Error::input(format!(
                "Model `{name}` has no loss, so there is nothing to train."
            ))
            .with_help("add `loss = …` to the model, or solve it with `sci run`"));
        }
        let inputs = loss_inputs(hir);
        let mut trainer = Trainer {
            model,
            system: None,
            names: inputs.iter().map(LossInput::name).collect(),
            buffers: vec![Vec::new(); inputs.len()],
            residuals: Vec::new(),
            trajectories: Vec::new(),
            seed: setup.seed,
            t0: time_span(&compiled.program, name).map_or(0.0, |(t0, _)| t0),
            solve: setup.solve.clone(),
            evaluations: 0,
        };
        trainer.residuals = residual_points(hir, &inputs)?;
        for (k, input) in inputs.iter().enumerate() {
            match input {
                LossInput::Coord { .. } => {}
                LossInput::Data { data, .. } => {
                    trainer.buffers[k] = read_data(hir, data, &setup)?;
                }
                LossInput::Trajectory {
                    data, time_column, ..
                } => {
                    let rows_input = inputs
                        .iter()
                        .position(|i| matches!(i, LossInput::Data { data: d, .. } if d == data))
                        .ok_or_else(|| {
                            Error::numerical(format!("the data set `{data}` has no rows input"))
                        })?;
                    let width = data_width(hir, data);
                    let times: Vec<f64> = trainer.buffers[rows_input]
                        .iter()
                        .skip(*time_column)
                        .step_by(width.max(1))
                        .copied()
                        .collect();
                    trainer.trajectories.push(TrajInput {
                        input: k,
                        name: input.name(),
                        data: data.clone(),
                        column: column_name(hir, data, *time_column),
                        times,
                    });
                }
            }
        }
        if !trainer.trajectories.is_empty() {
            trainer.system = Some(CompiledSystem::new(model)?);
        }
        trainer.draw(0)?;
        Ok(trainer)
    }

    /// The compiled model.
    pub fn model(&self) -> Model<'c> {
        self.model
    }

    /// Loss and gradient evaluations so far.
    pub fn evaluations(&self) -> usize {
        self.evaluations
    }

    /// The loss at `p` on the current points.
    pub fn loss(&mut self, p: &[f64]) -> Result<f64, Error> {
        self.check_len(p)?;
        self.fill_trajectories(p, false)?;
        Ok(self.model.loss(p, &self.batch())?)
    }

    /// The parameters as named blocks, for a checkpoint.
    pub fn checkpoint(&self, p: &[f64], meta: Vec<(String, f64)>) -> Checkpoint {
        let params = self
            .model
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
            model: self.model.name().to_string(),
            params,
            meta,
        }
    }

    /// θ from a checkpoint of this model (blocks matched by name and shape).
    pub fn params_from(&self, checkpoint: &Checkpoint) -> Result<Vec<f64>, Error> {
        super::params_from_checkpoint(&self.model, checkpoint)
    }

    fn check_len(&self, p: &[f64]) -> Result<(), Error> {
        if p.len() == self.model.n_params() {
            Ok(())
        } else {
            Err(Error::input(format!(
                "Model `{}` has {} parameters, but {} values were given.",
                self.model.name(),
                self.model.n_params(),
                p.len()
            )))
        }
    }

    fn batch(&self) -> Batch<'_> {
        let mut batch = Batch::new();
        for (name, data) in self.names.iter().zip(&self.buffers) {
            batch.set(name, data);
        }
        batch
    }

    /// Draws every residual's points for resampling round `round`.
    fn draw(&mut self, round: u64) -> Result<(), Error> {
        for points in &self.residuals {
            let seed = self
                .seed
                .wrapping_add((points.residual as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15));
            let coords = sample(&points.spec, seed, round)?;
            for (&input, values) in points.inputs.iter().zip(coords) {
                self.buffers[input] = values;
            }
        }
        Ok(())
    }

    /// Solves the ODE at `p` and writes each trajectory input; with `sensitivities`, also
    /// returns per trajectory input and row `dy/dθ` (row-major `n × p`).
    fn fill_trajectories(
        &mut self,
        p: &[f64],
        sensitivities: bool,
    ) -> Result<Vec<Vec<Vec<f64>>>, Error> {
        let mut sens_out = Vec::new();
        let Some(system) = &self.system else {
            return Ok(sens_out);
        };
        let n = self.model.n_states();
        for traj in &self.trajectories {
            let mut order: Vec<f64> = traj.times.clone();
            let at = |row: usize| {
                format!(
                    "The data set `{}` has the time {} in row {} (column `{}`)",
                    traj.data,
                    order.get(row).copied().unwrap_or(f64::NAN),
                    row + 1,
                    traj.column
                )
            };
            if let Some(row) = order.iter().position(|t| !t.is_finite()) {
                return Err(
                    Error::input(format!("{}, which is not a finite number.", at(row)))
                        .with_help("give every row a time, or remove the rows without one"),
                );
            }
            if let Some(row) = order.iter().position(|t| *t < self.t0) {
                return Err(Error::input(format!(
                    "{}, before the model's initial time {}.",
                    at(row),
                    self.t0
                ))
                .with_help("the solve starts at the model's initial time; drop earlier rows"));
            }
            order.sort_by(f64::total_cmp);
            order.dedup();
            let t_end = order.last().copied().unwrap_or(self.t0);
            let mut options = self.solve.clone();
            options.t0 = self.t0;
            options.t_end = if t_end > self.t0 {
                t_end
            } else {
                self.t0 + 1.0
            };
            options.times = Some(order.clone());
            options.sensitivities = sensitivities;
            let solution = ode::solve(system, p, &options, &mut |_| {});
            if let Some(e) = system.take_error() {
                return Err(e.into());
            }
            let solution = solution?;
            let mut values = Vec::with_capacity(traj.times.len() * n);
            let mut sens = Vec::new();
            for t in &traj.times {
                let k = order.partition_point(|s| s < t);
                let y = solution.y.get(k).ok_or_else(|| {
                    Error::numerical(format!("the solver returned no state at t = {t}"))
                })?;
                values.extend_from_slice(y);
                if let Some(s) = solution.sens.as_ref().and_then(|s| s.get(k)) {
                    sens.push(s.clone());
                }
            }
            self.buffers[traj.input] = values;
            sens_out.push(sens);
        }
        Ok(sens_out)
    }
}

impl Objective for Trainer<'_> {
    fn n_params(&self) -> usize {
        self.model.n_params()
    }

    fn value_and_grad(&mut self, p: &[f64], grad: &mut [f64]) -> Result<f64, Error> {
        self.check_len(p)?;
        self.evaluations += 1;
        let sens = self.fill_trajectories(p, true)?;
        let batch = self.batch();
        let loss = self.model.loss_and_grad_into(p, &batch, grad)?;
        let n = self.model.n_states();
        let np = p.len();
        for (traj, sens) in self.trajectories.iter().zip(&sens) {
            let mut g = vec![0.0; self.buffers[traj.input].len()];
            self.model
                .loss_grad_wrt_input(p, &batch, &traj.name, &mut g)?;
            for (row, s) in sens.iter().enumerate() {
                for i in 0..n {
                    let gi = g[row * n + i];
                    if gi == 0.0 {
                        continue;
                    }
                    for (j, gj) in grad.iter_mut().enumerate() {
                        *gj += gi * s[i * np + j];
                    }
                }
            }
        }
        Ok(loss)
    }

    fn resample(&mut self, round: u64) -> Result<(), Error> {
        self.draw(round)
    }
}

/// The collocation specs of every point set (residuals sampled alike share one,
/// `ModelHir::point_set`), with the indices of their coordinate inputs.
fn residual_points(
    hir: &hir::ModelHir,
    inputs: &[LossInput],
) -> Result<Vec<ResidualPoints>, Error> {
    let mut out = Vec::new();
    for (k, r) in hir.point_sets() {
        let domain = hir.domains.get(r.domain.index()).ok_or_else(|| {
            Error::numerical(format!(
                "the domain of residual `{}` does not exist",
                r.name
            ))
        })?;
        let mut idx = Vec::new();
        for c in &domain.coords {
            let k = inputs
                .iter()
                .position(|i| {
                    matches!(i, LossInput::Coord { residual, coord } if residual == &r.name && coord == &c.name)
                })
                .ok_or_else(|| {
                    Error::numerical(format!("the loss has no input `{}.{}`", r.name, c.name))
                })?;
            idx.push(k);
        }
        out.push(ResidualPoints {
            residual: k,
            inputs: idx,
            spec: SampleSpec {
                bounds: domain.coords.iter().map(|c| (c.lo, c.hi)).collect(),
                fixed: r.fixed.iter().map(|f| f.alternatives.clone()).collect(),
                points: r.points,
                sampling: match r.sampling {
                    hir::Sampling::Uniform => Sampling::Uniform,
                    hir::Sampling::LatinHypercube => Sampling::LatinHypercube,
                    hir::Sampling::Sobol => Sampling::Sobol,
                },
            },
        });
    }
    Ok(out)
}

/// The declaration of data set `data`.
fn data_decl<'h>(hir: &'h hir::ModelHir, data: &str) -> Option<&'h hir::DataHir> {
    hir.data.iter().find(|d| d.name == data)
}

/// The name of column `k` of data set `data`, as declared.
fn column_name(hir: &hir::ModelHir, data: &str, k: usize) -> String {
    data_decl(hir, data)
        .and_then(|d| d.columns.get(k))
        .map_or_else(|| format!("#{}", k + 1), |(name, _)| name.clone())
}

fn data_width(hir: &hir::ModelHir, data: &str) -> usize {
    data_decl(hir, data).map_or(0, |d| d.columns.len())
}

/// The rows of data set `data`: its declared columns, in declared order, row-major.
fn read_data(hir: &hir::ModelHir, data: &str, setup: &TrainSetup) -> Result<Vec<f64>, Error> {
    let d = data_decl(hir, data)
        .ok_or_else(|| Error::numerical(format!("the data set `{data}` does not exist")))?;
    let path = setup.data_dir.join(&d.path);
    let table = read_table(&path)?;
    let columns = if names_columns(&path) {
        columns_by_name(&table, d, &path)?
    } else {
        columns_in_order(&table, d, &path)?
    };
    if columns.is_empty() {
        return Err(
            Error::input(format!("The data set `{}` declares no columns.", d.name)).with_help(
                format!(
                    "list the columns the model reads: `data {}(t, …) = csv(\"{}\")`",
                    d.name, d.path
                ),
            ),
        );
    }
    let rows = table.rows();
    if rows == 0 {
        return Err(Error::input(format!(
            "The data file `{}` has no rows.",
            path.display()
        )));
    }
    let mut values = Vec::with_capacity(rows * columns.len());
    for r in 0..rows {
        for c in &columns {
            values.push(c[r]);
        }
    }
    Ok(values)
}

/// The declared columns of data set `d` by name, from a table whose header names them.
fn columns_by_name(table: &Table, d: &hir::DataHir, path: &Path) -> Result<Vec<Vec<f64>>, Error> {
    let mut columns = Vec::with_capacity(d.columns.len());
    for (name, _) in &d.columns {
        let column = table.column(name).ok_or_else(|| {
            Error::input(format!(
                "The data file `{}` has no column `{name}`; its columns are: {}.",
                path.display(),
                table.columns.join(", ")
            ))
            .with_help(format!(
                "the model declares `data {}({})`; name the file's header row to match",
                d.name,
                d.columns
                    .iter()
                    .map(|(n, _)| n.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            ))
        })?;
        columns.push(column);
    }
    Ok(columns)
}

/// The declared columns of data set `d` in order, from a table without a header (NPY).
fn columns_in_order(table: &Table, d: &hir::DataHir, path: &Path) -> Result<Vec<Vec<f64>>, Error> {
    let declared: Vec<&str> = d.columns.iter().map(|(n, _)| n.as_str()).collect();
    (0..declared.len())
        .map(|k| table.columns.get(k).and_then(|c| table.column(c)))
        .collect::<Option<Vec<_>>>()
        .ok_or_else(|| {
            Error::input(format!(
                "The data file `{}` has {} column(s), but the model declares {}: `data {}({})`.",
                path.display(),
                table.columns.len(),
                declared.len(),
                d.name,
                declared.join(", ")
            ))
            .with_help(
                "an .npy file has no header: declare one name per column of the array, in order",
            )
        })
}
