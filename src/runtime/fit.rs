//! Training a model's loss: the [`Objective`] the optimisers of `sci_stdlib::optim`
//! minimise.
//!
//! The inputs of `loss` after θ (see `docs/lowering.md`) are filled here:
//! - `RESIDUAL.COORD`: collocation points drawn in the residual's domain with the fixings of
//!   its `where` clause, redrawn on [`Objective::resample`];
//! - `DATA`: the declared columns of the data file, read once;
//! - `DATA.traj`: the ODE solution at the rows' times. Its parameter gradient is chained
//!   with the forward sensitivities, `dL/dθ = ∂L/∂θ + Σ_rows (∂L/∂y_row) · (dy/dθ)(t_row)`,
//!   or the rows' `∂L/∂y_row` are the jumps of the adjoint equations
//!   ([`sci_stdlib::ode::adjoint_gradient`]), as [`TrainSetup::sensitivity`] says;
//! - `expval(C, O)` inputs: the expectation value of an observable in the state a circuit
//!   of the manifest prepares, simulated at every evaluation; its parameter gradient is
//!   chained alike, `dL/dθ = ∂L/∂θ + Σ_E (∂L/∂E) · dE/dθ` (see [`super::quantum`]).
//!
//! Parameters the model declares `fixed` get a zero gradient, so training keeps them.

use std::path::{Path, PathBuf};

use sci_stdlib::Error;
use sci_stdlib::checkpoint::Checkpoint;
use sci_stdlib::data::{Table, names_columns, read_table};
use sci_stdlib::ode::{self, Sensitivity, Solution, SolveOptions};
use sci_stdlib::optim::Objective;

use super::quantum::Expvals;
use super::schedule::LossKind;
use super::system::CompiledSystem;
use crate::Compiled;
use crate::jit::{Batch, Model};
use sci_ir::manifest::DataSource;
use sci_ir::{InputRole, Manifest, Role};

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
    /// How gradients through those solutions get `dy/dθ`. The adjoint needs the model
    /// compiled with [`crate::Compiler::adjoint`]; [`Sensitivity::Auto`] takes it only
    /// then (see [`Sensitivity::resolve`] for its rule).
    pub sensitivity: Sensitivity,
    /// Data sets read from other files than the model names: `(data set, files)`, one
    /// file per column for a data set declared so, else one (relative to `data_dir`
    /// unless absolute). Evaluating a trained operator on data at another resolution.
    pub data_files: Vec<(String, Vec<String>)>,
    /// Train on mini-batches of this many rows of each data set (shuffled every epoch, a
    /// new batch on every [`Objective::resample`] round); `None`: every row every step.
    pub batch: Option<usize>,
    /// The part of the points and rows this process evaluates in data-parallel training
    /// (`mpirun -n N sci train`): every rank draws the same points and batches and keeps
    /// its [`share`](sci_stdlib::collective::share) of each, and its loss, gradient, terms
    /// and test loss are its *contribution*, weighted so that their sum over the ranks is
    /// the whole loss ([`sci_stdlib::optim::AllReduced`] sums them). The default is the
    /// whole: rank 0 of 1.
    pub shard: Shard,
}

/// One rank's part of a data-parallel run ([`TrainSetup::shard`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Shard {
    pub rank: usize,
    pub ranks: usize,
}

impl Default for Shard {
    fn default() -> Shard {
        Shard { rank: 0, ranks: 1 }
    }
}

impl Shard {
    /// Whether this is the whole (one rank).
    pub fn is_whole(&self) -> bool {
        self.ranks <= 1
    }

    /// This rank's rows of `values` (rows of `row_len` numbers).
    fn rows(&self, values: &[f64], row_len: usize) -> Vec<f64> {
        let row_len = row_len.max(1);
        let part = sci_stdlib::collective::share(values.len() / row_len, self.rank, self.ranks);
        values[part.start * row_len..part.end * row_len].to_vec()
    }

    /// The fraction of the whole that this rank's parts stand for, when every part is the
    /// same fraction of its whole: `parts` are `(what, whole, part)` counts. A loss that
    /// averages over points and rows is then the sum over ranks of this fraction times the
    /// loss over the parts. With nothing split, rank 0 stands for the whole.
    fn weight(&self, parts: &[(String, usize, usize)]) -> Result<f64, Error> {
        if self.is_whole() {
            return Ok(1.0);
        }
        let Some((_, whole, part)) = parts.first() else {
            return Ok(if self.rank == 0 { 1.0 } else { 0.0 });
        };
        let uneven = (parts.iter()).any(|(_, w, p)| p * whole != part * w || *p == 0);
        if uneven {
            let counts: Vec<String> = (parts.iter())
                .map(|(what, whole, _)| format!("{what} {whole}"))
                .collect();
            return Err(Error::input(format!(
                "The points and rows of the loss cannot be split evenly over {} ranks ({}): \
                 every rank must hold the same fraction of each, and at least one.",
                self.ranks,
                counts.join(", ")
            ))
            .with_help(format!(
                "give every residual a point count, and every data set a row count (or \
                 --batch), divisible by {}",
                self.ranks
            )));
        }
        Ok(*part as f64 / *whole as f64)
    }
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
            sensitivity: Sensitivity::Auto,
            data_files: Vec::new(),
            batch: None,
            shard: Shard::default(),
        }
    }
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
    /// The data set's values other than its times: what the trajectory is compared with.
    observations: usize,
}

/// The rows of a data set the loss reads: those it trains on and those held out.
struct DataRows {
    /// Index of the `DATA` input among the loss inputs.
    input: usize,
    name: String,
    /// Numbers per row.
    row_len: usize,
    train: Vec<f64>,
    /// The held-out rows (this rank's share of them in data-parallel training), of
    /// `test_whole` in all.
    test: Vec<f64>,
    test_whole: usize,
    /// The training rows' order in the epoch `epoch` (mini-batches only).
    order: Vec<usize>,
    epoch: Option<u64>,
}

impl DataRows {
    fn train_rows(&self) -> usize {
        self.train.len() / self.row_len.max(1)
    }
}

/// A model's loss as an optimisation objective.
pub struct Trainer<'c> {
    model: Model<'c>,
    system: Option<CompiledSystem<'c>>,
    names: Vec<String>,
    buffers: Vec<Vec<f64>>,
    /// Per point set of the manifest, the loss inputs of its coordinates.
    point_inputs: Vec<Vec<usize>>,
    trajectories: Vec<TrajInput>,
    /// The expectation values of quantum circuits the loss reads, and their simulator.
    expvals: Expvals,
    seed: u64,
    t0: f64,
    solve: SolveOptions,
    evaluations: usize,
    /// Per element of θ: declared `fixed` in the model, so its gradient is reported as 0
    /// and no optimiser moves it.
    fixed: Vec<bool>,
    /// Forward or adjoint (resolved) for gradients through trajectories.
    sensitivity: Sensitivity,
    /// The data sets' rows, split into training and test rows.
    data: Vec<DataRows>,
    /// Rows per mini-batch ([`TrainSetup::batch`]).
    batch: Option<usize>,
    /// This rank's part of the points and rows ([`TrainSetup::shard`]).
    shard: Shard,
    /// The fraction of the whole loss this rank's points and rows stand for, and that of
    /// the test loss ([`Shard::weight`]): 1 for the whole.
    weight: f64,
    test_weight: f64,
}

/// What a trajectory solve computes besides the states.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Solve {
    Values,
    Forward,
    /// Dense output at the adjoint's tolerances, for [`ode::adjoint_gradient`].
    Adjoint,
}

/// One trajectory input's solve: the solution at `times` (the data's, sorted, each once)
/// and the options it was solved with.
struct Solved {
    solution: Solution,
    times: Vec<f64>,
    options: SolveOptions,
}

impl<'c> Trainer<'c> {
    /// The training objective of model `name`: draws the first collocation points, reads
    /// the data files. Everything it needs comes from the model's IR manifest (the roles of
    /// the loss's inputs, the point sets, the data sources, the time span).
    pub fn new(
        compiled: &'c Compiled,
        name: &str,
        setup: TrainSetup,
    ) -> Result<Trainer<'c>, Error> {
        Trainer::for_model(compiled.model(name)?, setup)
    }

    /// [`Trainer::new`] for a compiled model.
    pub fn for_model(model: Model<'c>, setup: TrainSetup) -> Result<Trainer<'c>, Error> {
        let ir = model.ir();
        let name = model.name();
        let Some(loss) = ir
            .function_with_role(&Role::Loss)
            .and_then(|f| ir.functions.get(f))
        else {
            return Err(Error::input(format!(
                "Model `{name}` has no loss, so there is nothing to train."
            ))
            .with_help("add `loss = …` to the model, or solve it with `sci run`"));
        };
        let names: Vec<String> = model.loss_inputs()?.into_iter().map(|(n, _)| n).collect();
        // The meaning of each loss input after θ, in the order of `names`.
        let roles: Vec<InputRole> = (1..=names.len())
            .map(|k| loss.input_role(k).clone())
            .collect();
        let manifest = &ir.manifest;
        let mut trainer = Trainer {
            model,
            system: None,
            buffers: vec![Vec::new(); names.len()],
            expvals: Expvals::new(manifest, &roles, &names, ir.params.len)?,
            names,
            point_inputs: point_inputs(manifest, &roles)?,
            trajectories: Vec::new(),
            seed: setup.seed,
            t0: manifest.time_span.map_or(0.0, |(t0, _)| t0),
            solve: setup.solve.clone(),
            evaluations: 0,
            fixed: ir.params.fixed_mask(),
            sensitivity: Sensitivity::Forward,
            data: Vec::new(),
            batch: setup.batch,
            shard: setup.shard,
            weight: 1.0,
            test_weight: 1.0,
        };
        if setup.batch == Some(0) {
            return Err(Error::input("A mini-batch needs at least one row, not 0.")
                .with_help("batches of 10 to 100 rows are usual"));
        }
        if !trainer.fixed.is_empty() && trainer.fixed.iter().all(|&f| f) {
            return Err(Error::input(format!(
                "Every parameter of `{name}` is declared `fixed`, so there is nothing to train."
            ))
            .with_help("remove `fixed` from the parameters to fit"));
        }
        if let Some((unknown, _)) = (setup.data_files.iter())
            .find(|(name, _)| !manifest.data.iter().any(|d| d.name == *name))
        {
            let names: Vec<&str> = manifest.data.iter().map(|d| d.name.as_str()).collect();
            return Err(Error::input(format!(
                "Model `{name}` has no data set `{unknown}` to read from other files."
            ))
            .with_help(match names.is_empty() {
                true => "the model reads no data".to_string(),
                false => format!("its data sets are: {}", names.join(", ")),
            }));
        }
        for (k, role) in roles.iter().enumerate() {
            match role {
                InputRole::Data { data } => {
                    let source = with_files(data_source(manifest, *data)?, &setup)?;
                    let source = &source;
                    let mut rows = split_rows(source, k, read_data(source, &setup)?)?;
                    // The training rows (every step, or batch by batch from `draw`); each
                    // rank keeps its share of the held-out rows for the test loss.
                    trainer.buffers[k] = trainer.shard.rows(&rows.train, rows.row_len);
                    rows.test = trainer.shard.rows(&rows.test, rows.row_len);
                    trainer.data.push(rows);
                }
                InputRole::Trajectory { data, time_column } => {
                    let source = data_source(manifest, *data)?;
                    let rows_input = roles
                        .iter()
                        .position(|r| *r == InputRole::Data { data: *data })
                        .ok_or_else(|| {
                            Error::numerical(format!(
                                "the data set `{}` has no rows input",
                                source.name
                            ))
                        })?;
                    if source.test > 0 || setup.batch.is_some() {
                        return Err(Error::input(format!(
                            "The data set `{}` is compared with ODE solutions, which are fitted \
                             on every row at once.",
                            source.name
                        ))
                        .with_help("drop `test:` from its source and train without --batch"));
                    }
                    let times: Vec<f64> = trainer.buffers[rows_input]
                        .iter()
                        .skip(source.column_offset(*time_column))
                        .step_by(source.row_len().max(1))
                        .copied()
                        .collect();
                    trainer.trajectories.push(TrajInput {
                        input: k,
                        name: trainer.names[k].clone(),
                        data: source.name.clone(),
                        column: source
                            .columns
                            .get(*time_column)
                            .cloned()
                            .unwrap_or_else(|| format!("#{}", time_column + 1)),
                        observations: times.len() * source.columns.len().saturating_sub(1),
                        times,
                    });
                }
                // Filled before every evaluation by `trainer.expvals`.
                InputRole::Expval { .. } => trainer.buffers[k] = vec![0.0],
                InputRole::Point { .. } => {}
                other => {
                    return Err(Error::numerical(format!(
                        "the loss of `{name}` has an input the trainer cannot fill ({})",
                        sci_ir::print::format_input_role(other)
                    )));
                }
            }
        }
        if !trainer.trajectories.is_empty() && !setup.shard.is_whole() {
            return Err(Error::input(format!(
                "The loss of `{name}` compares ODE solutions with data, which one process \
                 fits: it is not split over {} ranks.",
                setup.shard.ranks
            ))
            .with_help("run it without mpirun; spread many solves with `sci run --ensemble`"));
        }
        if !trainer.expvals.is_empty() && !setup.shard.is_whole() {
            return Err(Error::input(format!(
                "The loss of `{name}` reads expectation values of quantum circuits, which one \
                 process simulates: it is not split over {} ranks.",
                setup.shard.ranks
            ))
            .with_help("run it without mpirun; the simulation already uses every core"));
        }
        if !trainer.trajectories.is_empty() {
            let system = CompiledSystem::new(model)?;
            trainer.sensitivity = match setup.sensitivity.resolve(&system)? {
                Sensitivity::Adjoint if !model.has_adjoint() => {
                    if setup.sensitivity == Sensitivity::Adjoint {
                        return Err(Error::input(format!(
                            "Model `{name}` was compiled without the adjoint method's \
                             products, so its gradient cannot be taken by the adjoint."
                        ))
                        .with_help("compile it with `Compiler::adjoint(true)`"));
                    }
                    Sensitivity::Forward
                }
                chosen => chosen,
            };
            trainer.system = Some(system);
        }
        trainer.draw(0)?;
        Ok(trainer)
    }

    /// Per element of θ, whether the model declares it `fixed` (training keeps its value).
    pub fn fixed(&self) -> &[bool] {
        &self.fixed
    }

    /// How gradients through ODE solutions are taken: [`Sensitivity::Forward`] or
    /// [`Sensitivity::Adjoint`] (the setup's choice resolved; forward for a loss without
    /// trajectories, where it does not matter).
    pub fn sensitivity(&self) -> Sensitivity {
        self.sensitivity
    }

    /// The compiled model.
    pub fn model(&self) -> Model<'c> {
        self.model
    }

    /// What the loss is made of, which picks its default training schedule
    /// ([`LossKind::schedule`]).
    pub fn kind(&self) -> LossKind {
        if !self.expvals.is_empty() {
            LossKind::Variational
        } else if !self.trajectories.is_empty() {
            LossKind::OdeFit
        } else if self.point_inputs.iter().any(|inputs| !inputs.is_empty()) {
            LossKind::Physics
        } else {
            LossKind::DataFit
        }
    }

    /// Loss and gradient evaluations so far.
    pub fn evaluations(&self) -> usize {
        self.evaluations
    }

    /// The loss at `p` on the current points.
    pub fn loss(&mut self, p: &[f64]) -> Result<f64, Error> {
        self.model.check_params(p)?;
        self.fill_trajectories(p, Solve::Values)?;
        self.expvals.fill(p, &mut self.buffers, false)?;
        Ok(self.model.loss(p, &self.batch())? * self.weight)
    }

    /// The expectation values the loss reads (its `expval(C, O)` inputs) at `p`, by input
    /// name, in input order; empty when it reads none.
    pub fn expvals(&mut self, p: &[f64]) -> Result<Vec<(String, f64)>, Error> {
        self.model.check_params(p)?;
        self.expvals.fill(p, &mut self.buffers, false)?;
        Ok((self.expvals.names())
            .map(|(name, k)| (name.to_string(), self.buffers[k][0]))
            .collect())
    }

    /// The loss at `p` and its whole gradient (parameters declared `fixed` included: the
    /// training objective, [`Objective::value_and_grad`], zeroes theirs), chained through
    /// the ODE's sensitivities for a loss over trajectories and through the circuits'
    /// adjoint gradients for a loss over expectation values.
    pub fn loss_and_grad(&mut self, p: &[f64], grad: &mut [f64]) -> Result<f64, Error> {
        self.model.check_params(p)?;
        self.evaluations += 1;
        let mode = match self.sensitivity {
            Sensitivity::Adjoint => Solve::Adjoint,
            _ => Solve::Forward,
        };
        let solved = self.fill_trajectories(p, mode)?;
        self.expvals.fill(p, &mut self.buffers, true)?;
        let batch = self.batch();
        let loss = self.model.loss_and_grad_into(p, &batch, grad)?;
        let model = self.model;
        self.expvals.chain(grad, |name, g| {
            Ok(model.loss_grad_wrt_input(p, &batch, name, g)?)
        })?;
        let n = self.model.n_states();
        for (traj, solved) in self.trajectories.iter().zip(&solved) {
            let mut g = vec![0.0; self.buffers[traj.input].len()];
            self.model
                .loss_grad_wrt_input(p, &batch, &traj.name, &mut g)?;
            // Each row's ∂L/∂y, at the position of its time among the solve's.
            let rows = (traj
                .times
                .iter()
                .map(|t| solved.times.partition_point(|s| s < t)))
            .zip(g.chunks(n));
            if mode == Solve::Adjoint {
                let mut dl_dy = vec![vec![0.0; n]; solved.times.len()];
                for (k, g_row) in rows {
                    for (d, g) in dl_dy[k].iter_mut().zip(g_row) {
                        *d += g;
                    }
                }
                let system = self.system.as_ref().ok_or_else(no_system)?;
                let adjoint =
                    ode::adjoint_gradient(system, p, &solved.options, &solved.solution, &dl_dy);
                if let Some(e) = system.take_error() {
                    return Err(e.into());
                }
                for (out, g) in grad.iter_mut().zip(adjoint?.gradient) {
                    *out += g;
                }
                continue;
            }
            let sens = solved.solution.sens.as_deref().unwrap_or_default();
            let np = p.len();
            for (k, g_row) in rows {
                let s = sens.get(k).ok_or_else(|| {
                    Error::numerical("the solver returned no sensitivities at a data time")
                })?;
                for (i, &gi) in g_row.iter().enumerate().filter(|(_, g)| **g != 0.0) {
                    for (j, gj) in grad.iter_mut().enumerate() {
                        *gj += gi * s[i * np + j];
                    }
                }
            }
        }
        if self.weight != 1.0 {
            for g in grad.iter_mut() {
                *g *= self.weight;
            }
        }
        Ok(loss * self.weight)
    }

    /// The loss's inputs as they stand, by name: the collocation points drawn and the data
    /// sets' columns (trajectory and expectation-value inputs, filled from a solve or a
    /// simulation at each evaluation, are left out: see [`Trainer::expvals`]).
    pub fn inputs(&self) -> Vec<(String, Vec<f64>)> {
        let trajectory = |k: usize| self.trajectories.iter().any(|t| t.input == k);
        (self.names.iter().zip(&self.buffers).enumerate())
            .filter(|(k, _)| !trajectory(*k) && !self.expvals.is_input(*k))
            .map(|(_, (name, data))| (name.clone(), data.clone()))
            .collect()
    }

    /// How many measured values the loss compares solutions with: the values of every data
    /// set a trajectory is sampled at, times excluded (`None` without trajectories). The
    /// `n` of an information criterion over the fit, when the loss is a mean squared error.
    pub fn observations(&self) -> Option<usize> {
        let mut sets: Vec<(&str, usize)> = Vec::new();
        for t in &self.trajectories {
            if !sets.iter().any(|(d, _)| *d == t.data) {
                sets.push((&t.data, t.observations));
            }
        }
        (!sets.is_empty()).then(|| sets.iter().map(|(_, n)| n).sum())
    }

    /// The names of the loss's additive terms ([`Model::loss_term_names`]).
    pub fn term_names(&self) -> Vec<&'c str> {
        self.model.loss_term_names()
    }

    /// The parameters as named blocks, for a checkpoint (see [`super::checkpoint`]).
    pub fn checkpoint(&self, p: &[f64], meta: Vec<(String, f64)>) -> Checkpoint {
        super::checkpoint(&self.model, p, meta)
    }

    /// θ from a checkpoint of this model (blocks matched by name and shape).
    pub fn params_from(&self, checkpoint: &Checkpoint) -> Result<Vec<f64>, Error> {
        super::params_from_checkpoint(&self.model, checkpoint)
    }

    fn batch(&self) -> Batch<'_> {
        let mut batch = Batch::new();
        for (name, data) in self.names.iter().zip(&self.buffers) {
            batch.set(name, data);
        }
        batch
    }

    /// Draws every residual's points for resampling round `round`, and with mini-batches
    /// takes batch `round` of each data set.
    /// In data-parallel training every rank draws the same points and batches and keeps
    /// its share of each.
    fn draw(&mut self, round: u64) -> Result<(), Error> {
        let manifest = &self.model.ir().manifest;
        let sets = super::points::draw_all(manifest, self.seed, round, None)?;
        // Per split input, `(what, whole, part)`: the counts that weight this rank's part.
        let mut point_parts = Vec::new();
        for ((inputs, coords), set) in self.point_inputs.iter().zip(sets).zip(&manifest.point_sets)
        {
            for (&input, values) in inputs.iter().zip(coords) {
                let whole = values.len();
                self.buffers[input] = match self.shard.is_whole() {
                    true => values,
                    false => self.shard.rows(&values, 1),
                };
                point_parts.push((format!("`{}`", set.name), whole, self.buffers[input].len()));
            }
        }
        let mut parts = point_parts.clone();
        for (k, rows) in self.data.iter_mut().enumerate() {
            let row_len = rows.row_len;
            let whole = match self.batch {
                Some(size) => {
                    let batch = next_batch(rows, size, self.seed, k as u64, round);
                    let whole = batch.len() / row_len;
                    self.buffers[rows.input] = match self.shard.is_whole() {
                        true => batch,
                        false => self.shard.rows(&batch, row_len),
                    };
                    whole
                }
                None => rows.train_rows(),
            };
            let part = self.buffers[rows.input].len() / row_len;
            parts.push((format!("`{}`", rows.name), whole, part));
        }
        self.weight = self.shard.weight(&parts)?;
        // The test loss reads the points drawn and each data set's held-out rows.
        let mut test_parts = point_parts;
        for rows in self.data.iter().filter(|d| d.test_whole > 0) {
            let part = rows.test.len() / rows.row_len;
            test_parts.push((format!("`{}` (test)", rows.name), rows.test_whole, part));
        }
        self.test_weight = self.shard.weight(&test_parts)?;
        Ok(())
    }

    /// Steps per epoch with mini-batches: the batches of the data set with the most
    /// training rows (`None` without mini-batches).
    pub fn steps_per_epoch(&self) -> Option<usize> {
        let size = self.batch?;
        self.data
            .iter()
            .map(|d| d.train_rows().div_ceil(size))
            .max()
    }

    /// The training and held-out rows of the data sets, `(name, train, test)`.
    pub fn data_rows(&self) -> Vec<(&str, usize, usize)> {
        self.data
            .iter()
            .map(|d| (d.name.as_str(), d.train_rows(), d.test_whole))
            .collect()
    }

    /// The loss at `p` with each data set's held-out rows in place of its training rows
    /// (`None` when no data set holds rows out): the test error of a loss that averages
    /// over rows.
    pub fn test_loss(&mut self, p: &[f64]) -> Result<Option<f64>, Error> {
        let held_out: Vec<usize> = (0..self.data.len())
            .filter(|&k| self.data[k].test_whole > 0)
            .collect();
        if held_out.is_empty() {
            return Ok(None);
        }
        self.model.check_params(p)?;
        self.expvals.fill(p, &mut self.buffers, false)?;
        // The held-out rows trade places with the training rows for one evaluation.
        let swap = |data: &mut [DataRows], buffers: &mut [Vec<f64>]| {
            for &k in &held_out {
                std::mem::swap(&mut buffers[data[k].input], &mut data[k].test);
            }
        };
        swap(&mut self.data, &mut self.buffers);
        let loss = self.model.loss(p, &self.batch());
        swap(&mut self.data, &mut self.buffers);
        Ok(Some(loss? * self.test_weight))
    }

    /// Solves the ODE at `p` and writes each trajectory input; returns the solves, with
    /// what `mode` asks for besides the states.
    fn fill_trajectories(&mut self, p: &[f64], mode: Solve) -> Result<Vec<Solved>, Error> {
        let mut solves = Vec::new();
        let Some(system) = &self.system else {
            return Ok(solves);
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
            let t_end = if t_end > self.t0 {
                t_end
            } else {
                self.t0 + 1.0
            };
            options.span = Some((self.t0, t_end));
            super::simulate::check_input_ranges(&self.model, (self.t0, t_end))?;
            options.times = Some(order.clone());
            options.sensitivities = mode == Solve::Forward;
            let solution = if mode == Solve::Adjoint {
                ode::adjoint_forward(system, p, &options, &mut |_| {})
            } else {
                ode::solve(system, p, &options, &mut |_| {})
            };
            if let Some(e) = system.take_error() {
                return Err(e.into());
            }
            let solution = solution?;
            // An event that stops the solve leaves the later data times without a state.
            if solution.t.len() != order.len() || solution.t.last() != order.last() {
                let stopped = solution.t.last().copied().unwrap_or(self.t0);
                return Err(Error::numerical(format!(
                    "The solve for `{}` ended at t = {stopped} (an event stopped it), before \
                     the time {t_end} of the data set `{}`.",
                    traj.name, traj.data
                ))
                .with_help(
                    "a loss over data needs the solution at every data time: drop the later \
                     rows, or change the event's condition",
                ));
            }
            let mut values = Vec::with_capacity(traj.times.len() * n);
            for t in &traj.times {
                let k = order.partition_point(|s| s < t);
                let y = solution.y.get(k).ok_or_else(|| {
                    Error::numerical(format!("the solver returned no state at t = {t}"))
                })?;
                values.extend_from_slice(y);
            }
            self.buffers[traj.input] = values;
            solves.push(Solved {
                solution,
                times: order,
                options,
            });
        }
        Ok(solves)
    }
}

fn no_system() -> Error {
    Error::numerical("the trainer has trajectories but no ODE system")
}

impl Objective for Trainer<'_> {
    fn n_params(&self) -> usize {
        self.model.n_params()
    }

    fn value_and_grad(&mut self, p: &[f64], grad: &mut [f64]) -> Result<f64, Error> {
        let loss = self.loss_and_grad(p, grad)?;
        // A zero gradient keeps both optimisers off these components (see
        // `sci_stdlib::optim::Freeze`, which `sci train --freeze` adds on top).
        for (g, _) in grad.iter_mut().zip(&self.fixed).filter(|(_, f)| **f) {
            *g = 0.0;
        }
        Ok(loss)
    }

    fn resample(&mut self, round: u64) -> Result<(), Error> {
        self.draw(round)
    }

    fn test_loss(&mut self, p: &[f64]) -> Result<Option<f64>, Error> {
        Trainer::test_loss(self, p)
    }

    fn held(&self) -> Vec<bool> {
        self.fixed.clone()
    }

    fn terms(&mut self, p: &[f64]) -> Result<Vec<f64>, Error> {
        if self.model.loss_term_names().is_empty() {
            return Ok(Vec::new());
        }
        self.model.check_params(p)?;
        self.fill_trajectories(p, Solve::Values)?;
        self.expvals.fill(p, &mut self.buffers, false)?;
        let mut terms = self.model.loss_terms(p, &self.batch())?;
        for term in &mut terms {
            *term *= self.weight;
        }
        Ok(terms)
    }
}

/// The indices of every point set's coordinate inputs among the loss inputs after θ
/// (`roles`), per set of the manifest.
fn point_inputs(manifest: &Manifest, roles: &[InputRole]) -> Result<Vec<Vec<usize>>, Error> {
    let mut out = Vec::new();
    for (set, points) in manifest.point_sets.iter().enumerate() {
        let mut inputs = Vec::with_capacity(points.coords.len());
        for (coord, c) in points.coords.iter().enumerate() {
            let k = roles
                .iter()
                .position(|r| *r == InputRole::Point { set, coord })
                .ok_or_else(|| {
                    Error::numerical(format!(
                        "the loss has no input `{}.{}`",
                        points.name, c.name
                    ))
                })?;
            inputs.push(k);
        }
        out.push(inputs);
    }
    Ok(out)
}

/// Data source `k` of the manifest.
fn data_source(manifest: &Manifest, k: usize) -> Result<&DataSource, Error> {
    manifest
        .data
        .get(k)
        .ok_or_else(|| Error::numerical(format!("the model has no data source {k}")))
}

/// Data source `d`, read from the files [`TrainSetup::data_files`] gives it, if any.
fn with_files(d: &DataSource, setup: &TrainSetup) -> Result<DataSource, Error> {
    let mut d = d.clone();
    let Some((_, files)) = setup.data_files.iter().find(|(name, _)| *name == d.name) else {
        return Ok(d);
    };
    let wanted = if d.paths.is_empty() {
        1
    } else {
        d.columns.len()
    };
    if files.len() != wanted {
        return Err(Error::input(format!(
            "The data set `{}` is read from {wanted} file(s), but {} were given.",
            d.name,
            files.len()
        ))
        .with_help(format!(
            "give one file per column, in the declared order: {}",
            d.columns.join(", ")
        )));
    }
    d.path = files[0].clone();
    if !d.paths.is_empty() {
        d.paths = files.clone();
    }
    Ok(d)
}

/// Splits data source `d`'s rows (the loss input `input`) into training rows and the last
/// `d.test` rows, held out.
fn split_rows(d: &DataSource, input: usize, rows: Vec<f64>) -> Result<DataRows, Error> {
    let row_len = d.row_len().max(1);
    let count = rows.len() / row_len;
    if d.test > 0 && d.test >= count {
        return Err(Error::input(format!(
            "The data set `{}` has {count} row(s), so it cannot hold {} out as a test set and \
             train on the rest.",
            d.name, d.test
        ))
        .with_help("hold out fewer rows with `test:`, or give more data"));
    }
    let mut train = rows;
    let test = train.split_off((count - d.test) * row_len);
    Ok(DataRows {
        input,
        name: d.name.clone(),
        row_len,
        train,
        test_whole: test.len() / row_len,
        test,
        order: Vec::new(),
        epoch: None,
    })
}

/// Mini-batch `round` of `rows` (batches of `size` rows, in an order shuffled anew every
/// epoch from the training seed, the data set's index `k` and the epoch; the last batch
/// of an epoch may be smaller).
fn next_batch(rows: &mut DataRows, size: usize, seed: u64, k: u64, round: u64) -> Vec<f64> {
    let n = rows.train_rows();
    let per_epoch = n.div_ceil(size).max(1) as u64;
    let epoch = round / per_epoch;
    if rows.epoch != Some(epoch) {
        let stream = seed.wrapping_add(k.wrapping_mul(0x9E37_79B9_7F4A_7C15));
        rows.order = sci_stdlib::sample::permutation(n, stream, epoch);
        rows.epoch = Some(epoch);
    }
    let first = (round % per_epoch) as usize * size;
    let mut out = Vec::with_capacity(size * rows.row_len);
    for &r in rows.order.iter().skip(first).take(size) {
        out.extend_from_slice(&rows.train[r * rows.row_len..(r + 1) * rows.row_len]);
    }
    out
}

/// The rows of data source `d`: its declared columns, in declared order, row-major (a
/// column with a shape per row contributes its elements, row-major).
fn read_data(d: &DataSource, setup: &TrainSetup) -> Result<Vec<f64>, Error> {
    if !d.paths.is_empty() || !d.is_table() {
        return read_arrays(d, &setup.data_dir);
    }
    let columns = read_columns(d, &setup.data_dir)?;
    let rows = columns[0].len();
    let mut values = Vec::with_capacity(rows * columns.len());
    for r in 0..rows {
        for c in &columns {
            values.push(c[r]);
        }
    }
    Ok(values)
}

/// The columns of data set `d` read one file per column (`npy("a.npy", "u.npy")`), each an
/// array `[rows, shape…]` with the column's declared shape per row, interleaved into rows.
fn read_arrays(d: &DataSource, data_dir: &Path) -> Result<Vec<f64>, Error> {
    let paths: Vec<&String> = if d.paths.is_empty() {
        vec![&d.path]
    } else {
        d.paths.iter().collect()
    };
    let mut arrays = Vec::with_capacity(d.columns.len());
    let mut rows = None;
    for (k, (name, path)) in d.columns.iter().zip(&paths).enumerate() {
        let file = data_dir.join(path);
        let (shape, values) = sci_stdlib::data::read_array(&file)?;
        let per_row = d.shape(k);
        if shape.len() != per_row.len() + 1 || shape[1..] != *per_row {
            let expected: Vec<String> = std::iter::once("rows".to_string())
                .chain(per_row.iter().map(usize::to_string))
                .collect();
            return Err(Error::input(format!(
                "The file `{}` holds an array of shape {shape:?}, but the column `{}.{name}` \
                 needs [{}].",
                file.display(),
                d.name,
                expected.join(", ")
            ))
            .with_help(
                "the first axis is the rows (samples); the others must match the column's \
                 declared shape (`a: real[256]`)",
            ));
        }
        if let Some((first, n)) = rows
            && n != shape[0]
        {
            return Err(Error::input(format!(
                "The files of the data set `{}` hold different numbers of rows: `{first}` has \
                 {n}, `{path}` has {}.",
                d.name, shape[0]
            ))
            .with_help("every column needs one entry per row (sample)"));
        }
        rows = Some((path.as_str(), shape[0]));
        arrays.push(values);
    }
    let rows = rows.map_or(0, |(_, n)| n);
    if rows == 0 {
        return Err(Error::input(format!(
            "The data set `{}` has no rows.",
            d.name
        )));
    }
    let mut out = Vec::with_capacity(rows * d.row_len());
    for r in 0..rows {
        for (k, values) in arrays.iter().enumerate() {
            let len = d.column_len(k);
            out.extend_from_slice(&values[r * len..(r + 1) * len]);
        }
    }
    Ok(out)
}

/// The declared columns of data set `d`, read from its file (relative to `data_dir`): at
/// least one column of at least one row.
pub(crate) fn read_columns(d: &DataSource, data_dir: &Path) -> Result<Vec<Vec<f64>>, Error> {
    let path = data_dir.join(&d.path);
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
    if table.rows() == 0 {
        return Err(Error::input(format!(
            "The data file `{}` has no rows.",
            path.display()
        )));
    }
    Ok(columns)
}

/// The declared columns of data set `d` by name, from a table whose header names them.
fn columns_by_name(table: &Table, d: &DataSource, path: &Path) -> Result<Vec<Vec<f64>>, Error> {
    let mut columns = Vec::with_capacity(d.columns.len());
    for name in &d.columns {
        let column = table.column(name).ok_or_else(|| {
            Error::input(format!(
                "The data file `{}` has no column `{name}`; its columns are: {}.",
                path.display(),
                table.columns.join(", ")
            ))
            .with_help(format!(
                "the model declares `data {}({})`; name the file's header row to match",
                d.name,
                d.columns.join(", ")
            ))
        })?;
        columns.push(column);
    }
    Ok(columns)
}

/// The declared columns of data set `d` in order, from a table without a header (NPY).
fn columns_in_order(table: &Table, d: &DataSource, path: &Path) -> Result<Vec<Vec<f64>>, Error> {
    (0..d.columns.len())
        .map(|k| table.columns.get(k).and_then(|c| table.column(c)))
        .collect::<Option<Vec<_>>>()
        .ok_or_else(|| {
            Error::input(format!(
                "The data file `{}` has {} column(s), but the model declares {}: `data {}({})`.",
                path.display(),
                table.columns.len(),
                d.columns.len(),
                d.name,
                d.columns.join(", ")
            ))
            .with_help(
                "an .npy file has no header: declare one name per column of the array, in order",
            )
        })
}
