//! Ensembles and parameter sweeps: one solve of a model per member, each member a set of
//! values of some parameters and initial states (a grid, draws from ranges, or the rows of
//! a table), spread over threads within a process and over the ranks of an `mpirun`, and
//! gathered into one [`EnsembleRun`] with every member's trajectory at common output times,
//! summary statistics across the members, and the members that failed with their values.
//!
//! ```
//! use sci::runtime::ensemble::{Ensemble, Varied};
//! let src = "model Decay { param k = 0.5\n state x = 2.0\n der(x) = -k * x\n domain time: t in [0, 1] }";
//! let compiled = sci::Compiler::new().compile_source("decay.sci", src).unwrap();
//! let model = compiled.model("Decay").unwrap();
//! let ensemble = Ensemble::grid(vec![
//!     Varied::values("k", vec![0.5, 1.0]),
//!     Varied::values("x", vec![1.0, 2.0, 3.0]),
//! ]);
//! let options = sci::stdlib::ode::SolveOptions { times: Some(vec![0.0, 1.0]), ..Default::default() };
//! let run = ensemble.solve(&model, &model.params(), &options, 0).unwrap();
//! assert_eq!(run.members.len(), 6);
//! let last = run.members[5].solution().unwrap();   // k = 1, x(0) = 3
//! assert!((last.states[1][0] - 3.0 * (-1.0f64).exp()).abs() < 1e-6);
//! ```

mod outcome;
mod spec;

pub use outcome::{EnsembleRun, Member, MemberSolution, QUANTILES, mean_column, quantile_column};

use std::path::Path;

use rayon::prelude::*;
use sci_stdlib::Error;
use sci_stdlib::collective::{Collective, share};
use sci_stdlib::data::Table;
use sci_stdlib::ode::{DEFAULT_OUTPUT_POINTS, SolveOptions};
use sci_stdlib::sample::{SampleSpec, Sampling, sample};

use super::element_names;
use crate::jit::Model;

/// The members of an ensemble: which quantities vary, and their values per member.
#[derive(Clone, Debug, PartialEq)]
pub struct Ensemble {
    /// The parameter elements (`k1`, `w[2]`) and initial-state elements (`y1`, `u[3]`)
    /// that vary, by the names a trajectory's columns have.
    pub names: Vec<String>,
    /// One row per member: the values of `names`, in that order.
    pub members: Vec<Vec<f64>>,
}

/// One varied quantity: its name and its values on a grid ([`Ensemble::grid`]).
#[derive(Clone, Debug, PartialEq)]
pub struct Varied {
    pub name: String,
    pub values: Vec<f64>,
}

impl Varied {
    /// The values given.
    pub fn values(name: &str, values: Vec<f64>) -> Varied {
        Varied {
            name: name.to_string(),
            values,
        }
    }

    /// `count` values from `lo` to `hi`, both included: evenly spaced, or geometrically
    /// when `log` (for rate constants spanning decades).
    pub fn range(name: &str, lo: f64, hi: f64, count: usize, log: bool) -> Result<Varied, Error> {
        let Range { lo, hi, .. } = Range::new(name, lo, hi, log)?;
        let values = (0..count)
            .map(|k| {
                let f = if count > 1 {
                    k as f64 / (count - 1) as f64
                } else {
                    0.0
                };
                match (k + 1 == count && count > 1, log) {
                    (true, _) => hi,
                    (false, true) => (lo.ln() + f * (hi.ln() - lo.ln())).exp(),
                    (false, false) => lo + f * (hi - lo),
                }
            })
            .collect();
        Ok(Varied::values(name, values))
    }
}

/// A range members are drawn from ([`Ensemble::sample`]).
#[derive(Clone, Debug, PartialEq)]
pub struct Range {
    pub name: String,
    pub lo: f64,
    pub hi: f64,
    /// Drawn uniformly in `ln` (positive bounds only).
    pub log: bool,
}

impl Range {
    pub fn new(name: &str, lo: f64, hi: f64, log: bool) -> Result<Range, Error> {
        if !(lo.is_finite() && hi.is_finite() && lo <= hi) {
            return Err(Error::input(format!(
                "The range of `{name}` is {lo}..{hi}: it needs finite bounds, the lower first."
            )));
        }
        if log && lo <= 0.0 {
            return Err(Error::input(format!(
                "The range of `{name}`, {lo}..{hi}, is logarithmic, so its bounds must be \
                 positive."
            ))
            .with_help("drop `log`, or give positive bounds"));
        }
        Ok(Range {
            name: name.to_string(),
            lo,
            hi,
            log,
        })
    }
}

/// The most members of one ensemble.
pub const MAX_MEMBERS: usize = 10_000_000;

/// The most bytes an ensemble's trajectories may take together.
pub const MAX_RESULT_BYTES: u64 = 8_000_000_000;

impl Ensemble {
    /// Every combination of the values of `axes` (the first varies slowest, as nested
    /// loops in the order given).
    pub fn grid(axes: Vec<Varied>) -> Ensemble {
        let mut members: Vec<Vec<f64>> = vec![Vec::new()];
        for axis in &axes {
            members = members
                .iter()
                .flat_map(|m| {
                    axis.values.iter().map(move |&v| {
                        let mut m = m.clone();
                        m.push(v);
                        m
                    })
                })
                .collect();
        }
        if axes.is_empty() {
            members.clear();
        }
        Ensemble {
            names: axes.into_iter().map(|a| a.name).collect(),
            members,
        }
    }

    /// `count` members drawn from `ranges` (uniformly, by Latin hypercube or Sobol), the
    /// same for the same `seed`.
    pub fn sample(
        ranges: Vec<Range>,
        count: usize,
        sampling: Sampling,
        seed: u64,
    ) -> Result<Ensemble, Error> {
        // A range of one value is that value in every member; the others are drawn.
        let drawn: Vec<&Range> = ranges.iter().filter(|r| r.lo < r.hi).collect();
        let spec = SampleSpec {
            bounds: (drawn.iter())
                .map(|r| match r.log {
                    true => (r.lo.ln(), r.hi.ln()),
                    false => (r.lo, r.hi),
                })
                .collect(),
            fixed: Vec::new(),
            points: count,
            sampling,
        };
        let columns = match drawn.is_empty() {
            true => Vec::new(),
            false => sample(&spec, seed, 0)?,
        };
        let members = (0..count)
            .map(|k| {
                let mut column = columns.iter();
                (ranges.iter())
                    .map(|r| match r.lo < r.hi {
                        true => match column.next() {
                            Some(c) if r.log => c[k].exp(),
                            Some(c) => c[k],
                            None => r.lo,
                        },
                        false => r.lo,
                    })
                    .collect()
            })
            .collect();
        Ok(Ensemble {
            names: ranges.into_iter().map(|r| r.name).collect(),
            members,
        })
    }

    /// The members of a table: a column per varied quantity, a row per member.
    pub fn from_table(table: &Table) -> Ensemble {
        let width = table.columns.len().max(1);
        Ensemble {
            names: table.columns.clone(),
            members: table.values.chunks(width).map(<[f64]>::to_vec).collect(),
        }
    }

    /// The ensemble a command line's `--ensemble SPEC` describes (see `docs/scaling.md`):
    /// `grid: k1 = 0.02..0.06 x5; y1 = 0.9, 1.0`, `uniform 64 seed 3: k1 = 0.03..0.05;
    /// k2 = 1e6..1e8 log` (also `lhs` and `sobol`), or a CSV file of members (relative to
    /// `dir`).
    pub fn parse(spec: &str, dir: &Path) -> Result<Ensemble, Error> {
        spec::parse(spec, dir)
    }

    /// How many members.
    pub fn len(&self) -> usize {
        self.members.len()
    }

    pub fn is_empty(&self) -> bool {
        self.members.is_empty()
    }

    /// Solves every member in this process, on `threads` threads (0: all cores).
    pub fn solve(
        &self,
        model: &Model<'_>,
        p: &[f64],
        options: &SolveOptions,
        threads: usize,
    ) -> Result<EnsembleRun, Error> {
        let run = self.solve_over(model, p, options, threads, &sci_stdlib::collective::Solo)?;
        run.ok_or_else(|| Error::numerical("the one-process ensemble was not gathered"))
    }

    /// Solves the members over the ranks of `collective` (each rank its
    /// [`share`] of the members, on `threads` threads) and gathers them on rank 0, which
    /// gets `Some`; the other ranks get `None`. A member that fails is kept with its error;
    /// an error here (a bad name, bad options) is the same on every rank.
    pub fn solve_over(
        &self,
        model: &Model<'_>,
        p: &[f64],
        options: &SolveOptions,
        threads: usize,
        collective: &dyn Collective,
    ) -> Result<Option<EnsembleRun>, Error> {
        let targets = self.targets(model)?;
        self.check(model, p, options)?;
        let mine = share(self.len(), collective.rank(), collective.size());
        let solve_one = |index: usize| -> Member {
            let values = &self.members[index];
            let mut q = p.to_vec();
            let mut initial = Vec::new();
            for (target, &v) in targets.iter().zip(values) {
                match *target {
                    Target::Param(k) => q[k] = v,
                    Target::State(k) => initial.push((k, v)),
                }
            }
            let outcome = model
                .simulate_from(&q, &initial, options, &mut |_| {})
                .map(|traj| MemberSolution {
                    t: traj.t,
                    states: traj.states,
                    outputs: traj.outputs,
                })
                .map_err(|e| match e.help {
                    Some(help) => format!("{} ({help})", e.message),
                    None => e.message,
                });
            Member {
                index,
                values: values.clone(),
                outcome,
            }
        };
        let solved: Vec<Member> = match threads {
            0 => mine.clone().into_par_iter().map(solve_one).collect(),
            1 => mine.clone().map(solve_one).collect(),
            n => rayon::ThreadPoolBuilder::new()
                .num_threads(n)
                .build()
                .map_err(|e| Error::numerical(format!("cannot start {n} threads: {e}")))?
                .install(|| mine.clone().into_par_iter().map(solve_one).collect()),
        };
        let ir = model.ir();
        let gathered = collective.gather(&outcome::encode(&solved));
        let Some(parts) = gathered else {
            return Ok(None);
        };
        let mut members = Vec::with_capacity(self.len());
        for part in parts {
            members.extend(outcome::decode(&part)?);
        }
        Ok(Some(EnsembleRun {
            model: model.name().to_string(),
            names: self.names.clone(),
            state_names: element_names(&ir.states),
            output_names: match model.n_outputs() {
                0 => Vec::new(),
                _ => element_names(&ir.outputs),
            },
            members,
        }))
    }

    /// What each name varies: a parameter element or an initial-state element.
    fn targets(&self, model: &Model<'_>) -> Result<Vec<Target>, Error> {
        let ir = model.ir();
        let params = element_names(&ir.params);
        let states = element_names(&ir.states);
        let mut targets = Vec::with_capacity(self.names.len());
        for (k, name) in self.names.iter().enumerate() {
            if self.names[..k].contains(name) {
                return Err(Error::input(format!("The ensemble varies `{name}` twice.")));
            }
            // A scalar's name is its element's; `w` alone names no element of an array.
            if let Some(i) = params.iter().position(|n| n == name) {
                targets.push(Target::Param(i));
            } else if let Some(i) = states.iter().position(|n| n == name) {
                targets.push(Target::State(i));
            } else {
                return Err(Error::input(format!(
                    "Model `{}` has no parameter or state `{name}` to vary.",
                    model.name()
                ))
                .with_help(format!(
                    "its parameters are: {}; its states: {} (an array's elements as `u[3]`)",
                    shorten(&params),
                    shorten(&states)
                )));
            }
        }
        Ok(targets)
    }

    fn check(&self, model: &Model<'_>, p: &[f64], options: &SolveOptions) -> Result<(), Error> {
        if self.is_empty() {
            return Err(Error::input("The ensemble has no members."));
        }
        if self.len() > MAX_MEMBERS {
            return Err(Error::input(format!(
                "The ensemble has {} members; at most {MAX_MEMBERS} are solved in one run.",
                self.len()
            )));
        }
        if let Some(row) = self.members.iter().find(|m| m.len() != self.names.len()) {
            return Err(Error::input(format!(
                "A member has {} values for the {} quantities the ensemble varies.",
                row.len(),
                self.names.len()
            )));
        }
        model.check_params(p)?;
        if options.at_steps {
            return Err(Error::input(
                "An ensemble's members are reported at common output times, not at each \
                 solver's own steps.",
            )
            .with_help("give output times (`--points N`, `--times …`; not `--saveat steps`)"));
        }
        if options.span.is_none() && model.time_span().is_none() {
            return Err(Error::input(format!(
                "Model `{}` declares no time span, and none was given.",
                model.name()
            ))
            .with_help("give the span (`--t-end`, `t_span`), or declare it in the model"));
        }
        // Without times, every member is reported at the solver's default times over the
        // same span: common times too.
        let times = options
            .times
            .as_ref()
            .map_or(DEFAULT_OUTPUT_POINTS, Vec::len);
        // Every member's trajectory is kept until they are gathered: refuse what cannot
        // fit rather than fail to allocate part-way.
        let row = model.n_states() + model.n_outputs() + 1;
        let bytes = (self.len() as u128) * (times as u128) * (row as u128) * 8;
        if bytes > MAX_RESULT_BYTES as u128 {
            return Err(Error::input(format!(
                "The ensemble's trajectories would take {:.1} GB ({} members × {} output \
                 times × {row} values); at most {} GB are kept.",
                bytes as f64 / 1e9,
                self.len(),
                times,
                MAX_RESULT_BYTES / 1_000_000_000
            ))
            .with_help("solve fewer members per run, or ask for fewer output times (`--points`)"));
        }
        Ok(())
    }
}

/// What one varied name sets.
#[derive(Clone, Copy, Debug)]
enum Target {
    /// An element of θ.
    Param(usize),
    /// An element of the initial state.
    State(usize),
}

/// At most a dozen names, then how many more.
fn shorten(names: &[String]) -> String {
    if names.is_empty() {
        return "(none)".to_string();
    }
    let shown: Vec<&str> = names.iter().take(12).map(String::as_str).collect();
    match names.len() > 12 {
        true => format!("{} … ({} in all)", shown.join(", "), names.len()),
        false => shown.join(", "),
    }
}
