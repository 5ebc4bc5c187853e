//! The module manifest: what each function of a module is for, what each of its inputs
//! means, and the facts a host needs to fill those inputs (the time span, how collocation
//! points are drawn, which data files hold which columns).
//!
//! With it a module is self-describing: the runtime, `sci run`/`train`, a C or Python host,
//! an MPI rank or a `.sir` file read back all solve and train from the IR alone, without the
//! checked program it came from and without matching function or value names. Roles are
//! data ([`Role`], [`InputRole`]), printed and read back by the text format and checked by
//! the validator.

use crate::quantum::{PauliObservable, QuantumCircuit};
use std::fmt;

/// What a function is for. Conventional functions have one role each; a user's `fn` is
/// [`Role::Plain`] and is found by its name.
#[derive(Clone, Debug, PartialEq, Eq, Default, Hash)]
pub enum Role {
    /// A function with no conventional meaning (a user's `fn`, a helper).
    #[default]
    Plain,
    /// `rhs(t, y, θ)`: the ODE right-hand side `dy/dt`.
    Rhs,
    /// `y0(θ)`: the initial state.
    InitialState,
    /// `outputs(t, y, θ)`: the model's outputs.
    Outputs,
    /// `residual.NAME(θ, points…)`: a residual's value at each collocation point.
    Residual(String),
    /// `loss(θ, batches…)`: the training objective.
    Loss,
    /// `loss_term.NAME(θ, batches…)`: one additive term of the loss (its inputs are the
    /// loss's), named by the residual or data set it reads: `pde`, `obs`.
    LossTerm(String),
    /// `net.NAME(θ, arguments…)`: the network `NAME` at one point (inputs with
    /// [`InputRole::Argument`]), a scalar or a vector of outputs.
    Net(String),
    /// `events(t, y, θ) -> f64[m]`: the conditions `g_k` of the model's events, whose zero
    /// crossings fire them ([`Manifest::events`]; 0 for scheduled events).
    EventConditions,
    /// `event_resets(t, y, θ) -> f64[m, n]`: row `k` is the state after event `k` fires at
    /// `(t, y)` (`y` itself for an event that stops the solve).
    EventResets,
    /// A derivative of a function with another role.
    Derivative(Box<Derivative>),
    /// One part of a function with another role split at what depends on θ alone: during
    /// an ODE solve θ is fixed, so the [`SplitPart::Invariant`] part is computed once per
    /// parameter change and the [`SplitPart::Update`] part reads it at every call.
    Split(SplitPart, Box<Role>),
}

/// The parts of a [`Role::Split`] function.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum SplitPart {
    /// `θ → f64[len]`: the values of the function that depend on θ alone.
    Invariant,
    /// The function's own inputs, then the invariant part's result at the same θ
    /// ([`InputRole::Invariant`]) → the function's result.
    Update,
}

impl SplitPart {
    /// The text name (`invariant`, `update`).
    pub fn name(self) -> &'static str {
        match self {
            SplitPart::Invariant => "invariant",
            SplitPart::Update => "update",
        }
    }

    /// The part with text name `name`.
    pub fn from_name(name: &str) -> Option<SplitPart> {
        match name {
            "invariant" => Some(SplitPart::Invariant),
            "update" => Some(SplitPart::Update),
            _ => None,
        }
    }
}

/// A derivative function: `kind` of the function with role `of`, with respect to the
/// inputs `wrt`.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Derivative {
    pub kind: DerivativeKind,
    pub of: Role,
    pub wrt: Vec<usize>,
}

/// The kinds of derivative functions the passes build.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum DerivativeKind {
    /// Jacobian-vector product: inputs of `of`, then one tangent per `wrt` input.
    Jvp,
    /// Vector-Jacobian product: inputs of `of`, then the result's cotangent.
    Vjp,
    /// Gradient of a scalar result.
    Gradient,
    /// `[value, gradient…]` in one vector.
    ValueAndGradient,
    /// Dense Jacobian, row-major.
    Jacobian,
    /// The values of a sparse Jacobian in CSR order.
    SparseJacobian,
    /// Hessian-vector product: inputs of `of`, then the direction.
    Hvp,
    /// Dense Hessian, row-major.
    Hessian,
    /// Several Jacobian-vector products at once (the columns of a seed matrix).
    Jvps,
    /// Several vector-Jacobian products at once.
    Vjps,
}

impl DerivativeKind {
    /// Every kind with its text name.
    pub const ALL: [(DerivativeKind, &'static str); 10] = [
        (DerivativeKind::Jvp, "jvp"),
        (DerivativeKind::Vjp, "vjp"),
        (DerivativeKind::Gradient, "grad"),
        (DerivativeKind::ValueAndGradient, "value_and_grad"),
        (DerivativeKind::Jacobian, "jacobian"),
        (DerivativeKind::SparseJacobian, "sparse_jacobian"),
        (DerivativeKind::Hvp, "hvp"),
        (DerivativeKind::Hessian, "hessian"),
        (DerivativeKind::Jvps, "jvps"),
        (DerivativeKind::Vjps, "vjps"),
    ];

    /// The text name (`jvp`, `value_and_grad`).
    pub fn name(self) -> &'static str {
        DerivativeKind::ALL
            .iter()
            .find(|(k, _)| *k == self)
            .map_or("jvp", |(_, n)| n)
    }

    /// The kind with text name `name`.
    pub fn from_name(name: &str) -> Option<DerivativeKind> {
        DerivativeKind::ALL
            .iter()
            .find(|(_, n)| *n == name)
            .map(|(k, _)| *k)
    }
}

impl Role {
    /// The role of part `part` of a function with role `of` split at what depends on θ.
    pub fn split(part: SplitPart, of: &Role) -> Role {
        Role::Split(part, Box::new(of.clone()))
    }

    /// The role of the `kind` derivative of a function with role `of`.
    pub fn derivative(kind: DerivativeKind, of: &Role, wrt: &[usize]) -> Role {
        Role::Derivative(Box::new(Derivative {
            kind,
            of: of.clone(),
            wrt: wrt.to_vec(),
        }))
    }

    /// The text name of a role without arguments (`rhs`, `y0`, `outputs`, `loss`).
    pub fn simple_name(&self) -> Option<&'static str> {
        match self {
            Role::Plain => Some("plain"),
            Role::Rhs => Some("rhs"),
            Role::InitialState => Some("y0"),
            Role::Outputs => Some("outputs"),
            Role::Loss => Some("loss"),
            Role::EventConditions => Some("events"),
            Role::EventResets => Some("event_resets"),
            Role::Residual(_)
            | Role::LossTerm(_)
            | Role::Net(_)
            | Role::Derivative(_)
            | Role::Split(..) => None,
        }
    }

    /// The role without arguments called `name`.
    pub fn from_simple_name(name: &str) -> Option<Role> {
        match name {
            "plain" => Some(Role::Plain),
            "rhs" => Some(Role::Rhs),
            "y0" => Some(Role::InitialState),
            "outputs" => Some(Role::Outputs),
            "loss" => Some(Role::Loss),
            "events" => Some(Role::EventConditions),
            "event_resets" => Some(Role::EventResets),
            _ => None,
        }
    }

    /// True for a conventional function or a derivative of one: a host finds these by role,
    /// so a module has at most one function per such role. A user's `fn` and its
    /// derivatives are found by name.
    pub fn is_conventional(&self) -> bool {
        match self {
            Role::Plain => false,
            Role::Derivative(d) => d.of.is_conventional(),
            Role::Split(_, of) => of.is_conventional(),
            _ => true,
        }
    }

    /// How many derivatives deep the role is (0 for a primal function).
    pub fn depth(&self) -> usize {
        match self {
            Role::Derivative(d) => 1 + d.of.depth(),
            Role::Split(_, of) => of.depth(),
            _ => 0,
        }
    }
}

/// What one input of a function means, so a host knows what to pass.
#[derive(Clone, Debug, PartialEq, Eq, Default, Hash)]
pub enum InputRole {
    /// An argument with no conventional meaning (a user's `fn`).
    #[default]
    Plain,
    /// The time `t` (`f64`).
    Time,
    /// The state vector `y` (the module's `states` layout).
    State,
    /// The parameters θ (the module's `params` layout).
    Params,
    /// Coordinate `coord` of the collocation points of point set `set`
    /// ([`Manifest::point_sets`]); batched.
    Point { set: usize, coord: usize },
    /// The rows of data source `data` ([`Manifest::data`]), its declared columns in order;
    /// batched.
    Data { data: usize },
    /// The state vector at the time of each row of data source `data` (its column
    /// `time_column`), filled by the host from an ODE solve; batched.
    Trajectory { data: usize, time_column: usize },
    /// The direction (tangent) of input `of` in a forward-mode derivative.
    Tangent { of: usize },
    /// The cotangent of the result in a reverse-mode derivative.
    Cotangent,
    /// The expectation value `⟨ψ(θ)|H|ψ(θ)⟩` of observable `observable` in the state
    /// circuit `circuit` prepares ([`Manifest::circuits`], [`Manifest::observables`]), an
    /// `f64`, filled by the host from a state-vector simulation (`expval(psi, H)`).
    Expval { circuit: usize, observable: usize },
    /// The argument called `name` of a network (`net u(t, x)`), an `f64`: a domain
    /// coordinate for a physics-informed network, a state for a network inside an ODE.
    Argument(String),
    /// The result of the [`SplitPart::Invariant`] part of the same split function, at the
    /// same θ.
    Invariant,
}

/// The facts a host needs to fill a module's inputs.
#[derive(Clone, Debug, PartialEq, Default)]
pub struct Manifest {
    /// The span of an ODE model's time domain (`domain time: t in [0, 40]`), if declared.
    pub time_span: Option<(f64, f64)>,
    /// The sets of collocation points a loss is evaluated on, in the order of the residuals
    /// that open them.
    pub point_sets: Vec<PointSet>,
    /// The data files a loss reads.
    pub data: Vec<DataSource>,
    /// The events of an ODE model, in the order of the rows of `events` and
    /// `event_resets`.
    pub events: Vec<Event>,
    /// The data sets compiled in as inputs of the equations (`interp`): the solve must stay
    /// inside the time range their values cover.
    pub inputs: Vec<InputRange>,
    /// The algebraic states of a differential-algebraic model (slots of `states`): their
    /// rows of `rhs` are constraints `0 = g`, not derivatives.
    pub algebraic: Vec<String>,
    /// The quantum circuits whose expectation values a loss reads ([`InputRole::Expval`]).
    pub circuits: Vec<QuantumCircuit>,
    /// The observables those expectation values measure.
    pub observables: Vec<PauliObservable>,
}

/// A data set compiled into a model as an input (`interp(weather.temp, t)`).
#[derive(Clone, Debug, PartialEq)]
pub struct InputRange {
    pub name: String,
    /// The path as the model wrote it.
    pub path: String,
    /// The first and last time of the data.
    pub first: f64,
    pub last: f64,
}

impl Manifest {
    /// True when the manifest states nothing.
    pub fn is_empty(&self) -> bool {
        self.time_span.is_none()
            && self.point_sets.is_empty()
            && self.data.is_empty()
            && self.events.is_empty()
            && self.inputs.is_empty()
            && self.algebraic.is_empty()
            && self.circuits.is_empty()
            && self.observables.is_empty()
    }
}

/// An event of an ODE model (`when h < 0 { reinit(v, -0.8 * v) }`).
#[derive(Clone, Debug, PartialEq)]
pub struct Event {
    /// The condition as the source wrote it (`h < 0`), for messages and output.
    pub label: String,
    pub trigger: EventTrigger,
    /// The solve ends at the event; otherwise the states take the event's row of
    /// `event_resets` and the solve goes on.
    pub stop: bool,
}

/// What fires an event.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum EventTrigger {
    /// A zero crossing of the event's row of `events`: upwards (`rising`) or downwards.
    Crossing { rising: bool },
    /// At `start + k·period` for k = 0, 1, … inside the time span (`start` defaults to
    /// its start).
    Every { period: f64, start: Option<f64> },
}

/// How collocation points are drawn.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Sampling {
    Uniform,
    LatinHypercube,
    Sobol,
}

impl Sampling {
    /// Every method with its text name.
    pub const ALL: [(Sampling, &'static str); 3] = [
        (Sampling::Uniform, "uniform"),
        (Sampling::LatinHypercube, "latin_hypercube"),
        (Sampling::Sobol, "sobol"),
    ];

    /// The text name.
    pub fn name(self) -> &'static str {
        Sampling::ALL
            .iter()
            .find(|(s, _)| *s == self)
            .map_or("uniform", |(_, n)| n)
    }

    /// The method with text name `name`.
    pub fn from_name(name: &str) -> Option<Sampling> {
        Sampling::ALL
            .iter()
            .find(|(_, n)| *n == name)
            .map(|(s, _)| *s)
    }
}

/// One set of collocation points: a box, fixings, a count and a method.
#[derive(Clone, Debug, PartialEq)]
pub struct PointSet {
    /// The residual that opens the set (the residuals sampled alike share it).
    pub name: String,
    /// The declaration index of that residual, which seeds the draw (so each set gets its
    /// own points from one training seed).
    pub seed_index: usize,
    /// The coordinates with their bounds `(lo, hi)`.
    pub coords: Vec<Coordinate>,
    /// A conjunction of fixings, each a disjunction of `(coordinate index, value)`
    /// alternatives: `x == -1 or x == 1` is one fixing with two alternatives.
    pub fixed: Vec<Vec<(usize, f64)>>,
    /// How many points.
    pub points: usize,
    pub sampling: Sampling,
}

/// One coordinate of a point set's box.
#[derive(Clone, Debug, PartialEq)]
pub struct Coordinate {
    pub name: String,
    pub lo: f64,
    pub hi: f64,
}

/// A data file a loss reads.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct DataSource {
    pub name: String,
    /// The path as the model wrote it (relative to the model file): the one file that
    /// holds every column, or the first of [`DataSource::paths`].
    pub path: String,
    /// The declared columns, in the order the rows hold them.
    pub columns: Vec<String>,
    /// Per column its shape per row (`[]` for one number; `[256]` for a function on a
    /// grid); a missing entry is `[]`, and a table of numbers records none. A row holds
    /// the columns' elements one after the other, row-major.
    pub shapes: Vec<Vec<usize>>,
    /// One file per column (`npy("a.npy", "u.npy")`, each `[rows, shape…]`), or empty when
    /// `path` holds them all.
    pub paths: Vec<String>,
    /// The last `test` rows are held out of training: a test set the trainer evaluates
    /// the loss on.
    pub test: usize,
}

impl DataSource {
    /// The shape of column `k` per row (`[]` when not recorded).
    pub fn shape(&self, k: usize) -> &[usize] {
        self.shapes.get(k).map(Vec::as_slice).unwrap_or(&[])
    }

    /// The number of elements of column `k` per row.
    pub fn column_len(&self, k: usize) -> usize {
        self.shape(k).iter().product()
    }

    /// The numbers one row holds: the elements of every column.
    pub fn row_len(&self) -> usize {
        (0..self.columns.len()).map(|k| self.column_len(k)).sum()
    }

    /// Where column `k` starts in a row.
    pub fn column_offset(&self, k: usize) -> usize {
        (0..k.min(self.columns.len()))
            .map(|j| self.column_len(j))
            .sum()
    }

    /// True when every column is one number per row (a table).
    pub fn is_table(&self) -> bool {
        self.shapes.iter().all(Vec::is_empty)
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&crate::print::format_role(self))
    }
}
