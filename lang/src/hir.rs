//! The checked program (HIR): names resolved, constants folded, every expression typed.
//!
//! This is the contract between the checker (`check`) and lowering (`lower`). Everything in
//! it is concrete: shapes are numbers (generic `fn`s are instantiated per call signature),
//! constants are values, index ranges are integers, and every [`HExpr`] carries its [`Ty`].
//! The checker only builds HIR for definitions that checked without errors, so lowering can
//! rely on the invariants written on each type below (and still returns a diagnostic, never
//! panics, if one is broken).
//!
//! Ids (`ParamId`, `StateId`, …) index the vectors of the enclosing [`ModelHir`];
//! [`FnInstanceId`] indexes [`Program::functions`].

use sci_diag::Span;
use sci_ir::Unit;

/// Element kind of a value at the language level.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Scalar {
    /// Real numbers (f64 in the IR).
    Real,
    /// Integers: index variables, integer constants used as indices.
    Int,
    /// Truth values: comparisons, conditions.
    Bool,
}

/// The type of an expression: element kind, static shape, batch, unit.
#[derive(Clone, Debug, PartialEq)]
pub struct Ty {
    pub scalar: Scalar,
    /// Static shape; `[]` for scalars.
    pub shape: Vec<usize>,
    /// `Some` for per-point values of a batch (a residual's points, a data set's rows).
    pub batch: Option<BatchKind>,
    /// The physical unit; `None` where the model uses no units at all (unit-free models).
    pub unit: Option<Unit>,
}

impl Ty {
    /// A real scalar with the given unit.
    pub fn real(unit: Option<Unit>) -> Ty {
        Ty {
            scalar: Scalar::Real,
            shape: Vec::new(),
            batch: None,
            unit,
        }
    }

    /// An integer scalar (index arithmetic).
    pub fn int() -> Ty {
        Ty {
            scalar: Scalar::Int,
            shape: Vec::new(),
            batch: None,
            unit: None,
        }
    }

    /// A boolean scalar.
    pub fn boolean() -> Ty {
        Ty {
            scalar: Scalar::Bool,
            shape: Vec::new(),
            batch: None,
            unit: None,
        }
    }
}

/// Which batch a batched value ranges over.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum BatchKind {
    /// The collocation points of a residual.
    Residual(ResidualId),
    /// The rows of a data set.
    Data(DataId),
}

macro_rules! id_type {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub struct $name(pub u32);
        impl $name {
            /// The position in its vector.
            pub fn index(self) -> usize {
                self.0 as usize
            }
        }
    };
}

id_type!(
    /// Index into [`ModelHir::params`].
    ParamId
);
id_type!(
    /// Index into [`ModelHir::states`].
    StateId
);
id_type!(
    /// Index into [`ModelHir::lets`].
    LetId
);
id_type!(
    /// Index into [`ModelHir::outputs`].
    OutputId
);
id_type!(
    /// Index into [`ModelHir::domains`].
    DomainId
);
id_type!(
    /// Index into [`ModelHir::nets`].
    NetId
);
id_type!(
    /// Index into [`ModelHir::residuals`].
    ResidualId
);
id_type!(
    /// Index into [`ModelHir::data`].
    DataId
);
id_type!(
    /// Index into [`Program::functions`].
    FnInstanceId
);
id_type!(
    /// Index into [`ModelHir::circuits`].
    CircuitId
);
id_type!(
    /// Index into [`ModelHir::observables`].
    ObservableId
);
id_type!(
    /// An index variable (`i` of `u[i in 0..n]` or of `sum(i in 0..n: …)`), unique within
    /// the enclosing model or function instance.
    BinderId
);

/// An index variable with its integer range `start..end` (end exclusive, `start <= end`).
#[derive(Clone, Debug, PartialEq)]
pub struct Binder {
    pub id: BinderId,
    pub name: String,
    pub start: i64,
    pub end: i64,
    pub span: Span,
}

impl Binder {
    /// Number of values the variable takes.
    pub fn extent(&self) -> usize {
        usize::try_from(self.end - self.start).unwrap_or(0)
    }
}

/// The whole checked file.
#[derive(Clone, Debug, PartialEq, Default)]
pub struct Program {
    pub models: Vec<ModelHir>,
    /// Every concrete function: each non-generic `fn` once, each generic `fn` once per
    /// distinct argument signature it is called or instantiated with.
    pub functions: Vec<FnHir>,
    /// The file-level constants (a model's own are in [`ModelHir::consts`]).
    pub consts: Vec<ConstHir>,
}

/// One concrete function.
#[derive(Clone, Debug, PartialEq)]
pub struct FnHir {
    /// The source name (`rosenbrock`); several instances of a generic fn share it.
    pub name: String,
    /// The name used in the IR: the source name, plus the argument shapes for instances of
    /// generic functions (`rosenbrock[4]`).
    pub symbol: String,
    /// The model that defines it, for model-local fns.
    pub model: Option<String>,
    pub params: Vec<FnParamHir>,
    pub body: HExpr,
    pub span: Span,
}

/// One parameter of a function instance; referred to in the body by [`HExprKind::Local`].
#[derive(Clone, Debug, PartialEq)]
pub struct FnParamHir {
    pub name: String,
    pub ty: Ty,
    pub span: Span,
}

/// One checked model.
///
/// Invariants: `lets` and `outputs` are in dependency order (each refers only to earlier
/// ones); every state of an ODE model has `rhs: Some`; a model with residuals has a loss.
#[derive(Clone, Debug, PartialEq)]
pub struct ModelHir {
    pub name: String,
    pub span: Span,
    /// Folded constants, for documentation and `sci check` output.
    pub consts: Vec<ConstHir>,
    pub params: Vec<ParamHir>,
    pub states: Vec<StateHir>,
    pub lets: Vec<LetHir>,
    pub outputs: Vec<OutputHir>,
    pub domains: Vec<DomainHir>,
    pub nets: Vec<NetHir>,
    pub residuals: Vec<ResidualHir>,
    pub data: Vec<DataHir>,
    pub loss: Option<HExpr>,
    /// Unit of time for `der` (seconds where the model uses units, else `None`).
    pub time_unit: Option<Unit>,
    /// The events (`when … { … }`), in declaration order.
    pub events: Vec<EventHir>,
    /// The data sets used as inputs (`interp`), with the time range their values cover.
    pub inputs: Vec<InputHir>,
    /// Where `interp` was checked without its data (no table source): lowering refuses.
    pub unloaded_inputs: Vec<Span>,
    /// The algebraic equations (`0 = value`), each real; their elements, flattened in
    /// order, are the residuals of the algebraic states' rows of `rhs`.
    pub algebraic: Vec<HExpr>,
    /// The algebraic states (those without `der` in a model with algebraic equations), in
    /// declaration order.
    pub algebraic_states: Vec<StateId>,
    /// The models this one uses as components (expanded into it), by name.
    pub components: Vec<String>,
    /// The quantum circuits (`circuit psi(qubits: n) { … }`), unrolled, in declaration
    /// order.
    pub circuits: Vec<CircuitHir>,
    /// The observables (`observable H = …`), in declaration order.
    pub observables: Vec<ObservableHir>,
}

/// A quantum circuit with its loops unrolled: gates in order on `qubits` qubits.
#[derive(Clone, Debug, PartialEq)]
pub struct CircuitHir {
    pub name: String,
    pub qubits: usize,
    pub gates: Vec<GateHir>,
    pub span: Span,
}

/// One gate of a circuit: its qubits (in range, distinct) and its angles.
#[derive(Clone, Debug, PartialEq)]
pub struct GateHir {
    pub kind: sci_ir::quantum::GateKind,
    pub qubits: Vec<usize>,
    pub angles: Vec<AngleHir>,
    /// The gate's call in the source (one span for every unrolled copy).
    pub span: Span,
}

/// A gate angle `scale·p + offset`, `p` one element of a parameter (the element's
/// row-major position), or the constant `offset`.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct AngleHir {
    pub param: Option<(ParamId, usize)>,
    pub scale: f64,
    pub offset: f64,
}

/// An observable: a real-weighted sum of Pauli strings (like terms combined, zero terms
/// dropped), Hermitian by construction.
#[derive(Clone, Debug, PartialEq)]
pub struct ObservableHir {
    pub name: String,
    /// One more than the highest qubit a term acts on (0 for a multiple of the identity).
    pub qubits: usize,
    pub terms: Vec<sci_ir::quantum::PauliTerm>,
    pub span: Span,
}

/// A data set used as an input of the equations (`interp(weather.temp, t)`): its values
/// are compiled in; the solve must stay inside `[first, last]`.
#[derive(Clone, Debug, PartialEq)]
pub struct InputHir {
    pub data: String,
    pub path: String,
    pub first: f64,
    pub last: f64,
    pub span: Span,
}

impl ModelHir {
    /// The residual whose collocation points residual `id` is evaluated at: the first one
    /// declared with the same domain, `where` clause, number of points and sampling (`id`
    /// itself when no earlier one matches). Residuals of one point set are evaluated at the
    /// same points, so the loss computes the network and its input derivatives there once
    /// for all of them.
    pub fn point_set(&self, id: ResidualId) -> ResidualId {
        let Some(r) = self.residuals.get(id.index()) else {
            return id;
        };
        self.residuals
            .iter()
            .position(|other| other.same_points(r))
            .map_or(id, |k| ResidualId(k as u32))
    }

    /// The residuals that open a point set ([`ModelHir::point_set`] is themselves), with
    /// their declaration index, in declaration order: one per set of collocation points.
    pub fn point_sets(&self) -> impl Iterator<Item = (usize, &ResidualHir)> + '_ {
        self.residuals
            .iter()
            .enumerate()
            .filter(|(k, _)| self.point_set(ResidualId(*k as u32)).index() == *k)
    }
}

impl ResidualHir {
    /// True when `other` is sampled exactly as this residual is.
    pub fn same_points(&self, other: &ResidualHir) -> bool {
        self.domain == other.domain
            && self.fixed == other.fixed
            && self.points == other.points
            && self.sampling == other.sampling
    }
}

/// A constant with its folded value (row-major).
#[derive(Clone, Debug, PartialEq)]
pub struct ConstHir {
    pub name: String,
    pub shape: Vec<usize>,
    pub unit: Option<Unit>,
    pub value: Vec<f64>,
    pub span: Span,
}

/// A parameter: a slice of θ with a default value.
#[derive(Clone, Debug, PartialEq)]
pub struct ParamHir {
    pub name: String,
    pub shape: Vec<usize>,
    pub unit: Option<Unit>,
    /// Default value, folded at check time (row-major, `element_count(shape)` values).
    pub default: Vec<f64>,
    /// Declared `fixed`: kept out of training (its gradient is not followed).
    pub fixed: bool,
    pub span: Span,
}

/// An array definition's element rule: for each combination of the binders' values, the
/// element is `value` (which refers to the binders with [`HExprKind::IndexVar`]).
/// A scalar or whole-array definition has no binders and `value` has the full shape.
#[derive(Clone, Debug, PartialEq)]
pub struct Defn {
    pub binders: Vec<Binder>,
    pub value: HExpr,
}

/// An event: `when condition { actions }`.
#[derive(Clone, Debug, PartialEq)]
pub struct EventHir {
    /// The condition as written, for messages and the manifest (`h < 0`).
    pub label: String,
    pub trigger: EventTrigger,
    /// The `reinit`s, in order (empty for a `stop`).
    pub resets: Vec<ResetHir>,
    /// `stop`: the solve ends at the event.
    pub stop: bool,
    pub span: Span,
}

/// What fires an event.
#[derive(Clone, Debug, PartialEq)]
pub enum EventTrigger {
    /// `a < b`, `a <= b` (falling: `g = a - b` goes from positive to zero or below) or
    /// `a > b`, `a >= b` (rising: from negative to zero or above).
    Crossing { g: HExpr, rising: bool },
    /// `every(period)` or `every(period, start: t0)`: at `start + k·period` (folded at
    /// compile time; `start` defaults to the start of the time span).
    Every { period: f64, start: Option<f64> },
}

/// `reinit(x, value)` or `reinit(x[i, j], value)`: the state (or one element of it) takes
/// `value`, computed from the state just before the event.
#[derive(Clone, Debug, PartialEq)]
pub struct ResetHir {
    pub state: StateId,
    /// The row-major element of an array state; `None` for the whole state (then `value`
    /// has the state's shape, or is a scalar for every element).
    pub element: Option<usize>,
    pub value: HExpr,
    pub span: Span,
}

/// A state of an ODE model: a slice of y.
#[derive(Clone, Debug, PartialEq)]
pub struct StateHir {
    pub name: String,
    pub shape: Vec<usize>,
    pub unit: Option<Unit>,
    /// Initial value; may depend on params and consts (it becomes `y0(θ)`).
    pub init: Defn,
    /// Right-hand side from `der(name[...]) = ...`; `None` only while checking.
    pub rhs: Option<Defn>,
    pub span: Span,
}

/// A named intermediate quantity (`let`).
#[derive(Clone, Debug, PartialEq)]
pub struct LetHir {
    pub name: String,
    pub shape: Vec<usize>,
    pub unit: Option<Unit>,
    pub defn: Defn,
    pub span: Span,
}

/// A derived quantity recorded along trajectories.
#[derive(Clone, Debug, PartialEq)]
pub struct OutputHir {
    pub name: String,
    pub shape: Vec<usize>,
    pub unit: Option<Unit>,
    pub defn: Defn,
    pub span: Span,
}

/// A rectangular sampling domain.
#[derive(Clone, Debug, PartialEq)]
pub struct DomainHir {
    pub name: String,
    pub coords: Vec<CoordHir>,
    pub span: Span,
}

/// One coordinate of a domain: `x in [lo, hi]`.
#[derive(Clone, Debug, PartialEq)]
pub struct CoordHir {
    pub name: String,
    pub lo: f64,
    pub hi: f64,
    pub unit: Option<Unit>,
}

/// Activation functions of networks.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Activation {
    Tanh,
    Sigmoid,
    Softplus,
    Relu,
    Gelu,
    Sin,
    /// The Gaussian radial basis function `exp(−x²)` (the UDE literature's `rbf`).
    Rbf,
    Identity,
}

/// How the initial weights of a network are drawn (uniformly from `[-L, L)`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
pub enum Init {
    /// Glorot & Bengio 2010: `L = sqrt(6 / (fan_in + fan_out))`.
    #[default]
    Glorot,
    /// He et al. 2015: `L = sqrt(6 / fan_in)` (variance `2 / fan_in`).
    He,
}

/// A multilayer perceptron `inputs → hidden… → outputs`, activation after every hidden
/// layer, none after the last. Weights live in θ as `NAME.w{k}` (shape `[out, in]`) and
/// `NAME.b{k}` (shape `[out]`), initialised from `seed` as `init` says, biases zero.
#[derive(Clone, Debug, PartialEq)]
pub struct NetHir {
    pub name: String,
    /// Names of the inputs as declared (`u(t, x)` → `["t", "x"]`).
    pub inputs: Vec<String>,
    pub hidden: Vec<usize>,
    /// Number of outputs; 1 means the net returns a scalar.
    pub outputs: usize,
    pub activation: Activation,
    pub seed: u64,
    /// How the initial weights are drawn (`mlp(init: …)`, Glorot by default).
    pub init: Init,
    /// A neural operator (`fno(…)`, `deeponet(…)`) rather than a perceptron: it maps a
    /// function on a grid to a function on the same grid (`hidden` is empty, `outputs` 1).
    pub operator: Option<OperatorHir>,
    pub span: Span,
}

/// A neural operator's architecture.
#[derive(Clone, Debug, PartialEq)]
pub enum OperatorHir {
    Fno(FnoHir),
    DeepOnet(DeepOnetHir),
}

impl OperatorHir {
    /// The grids the operator is applied on (each its shape: `[s]` or `[s1, s2]`), in the
    /// order first seen.
    pub fn grids(&self) -> &[Vec<usize>] {
        match self {
            OperatorHir::Fno(f) => &f.grids,
            OperatorHir::DeepOnet(d) => &d.grids,
        }
    }

    /// Records that the operator is applied on a grid of shape `grid`.
    pub fn apply_on(&mut self, grid: &[usize]) {
        let grids = match self {
            OperatorHir::Fno(f) => &mut f.grids,
            OperatorHir::DeepOnet(d) => &mut d.grids,
        };
        if !grids.iter().any(|g| g == grid) {
            grids.push(grid.to_vec());
        }
    }
}

/// A DeepONet (Lu et al., Nature Machine Intelligence 2021): a branch network reads the
/// input function at the grid's points (its sensors), a trunk network the coordinate of
/// each output point; the output is their features' inner product plus a bias.
#[derive(Clone, Debug, PartialEq)]
pub struct DeepOnetHir {
    /// Hidden layer sizes of the branch network (input: the grid's values).
    pub branch: Vec<usize>,
    /// Hidden layer sizes of the trunk network (input: the coordinate `x_j = j/(s − 1)`).
    pub trunk: Vec<usize>,
    /// The features both networks end in.
    pub features: usize,
    pub activation: Activation,
    /// The grids it is applied on: one, of one axis, since the branch reads a fixed number
    /// of sensors.
    pub grids: Vec<Vec<usize>>,
}

/// The architecture of a Fourier neural operator (Li et al., ICLR 2021): lift the input
/// and the grid coordinate to `width` channels, `layers` Fourier layers (the lowest `modes`
/// frequencies mixed across channels plus a pointwise linear map, GELU between layers),
/// project through `projection` channels (GELU) to one output channel.
#[derive(Clone, Debug, PartialEq)]
pub struct FnoHir {
    pub modes: usize,
    pub width: usize,
    pub layers: usize,
    pub projection: usize,
    /// The grids the operator is called on (shapes of one or two axes, all with the same
    /// number), in the order first seen: one function per grid (the weights do not depend
    /// on its size).
    pub grids: Vec<Vec<usize>>,
}

impl FnoHir {
    /// The number of axes of its grids (1 where it is never applied): its weights depend on
    /// it (the lift reads the value and one coordinate per axis; a 2-D layer mixes
    /// `2·modes × modes` frequencies).
    pub fn dims(&self) -> usize {
        self.grids.first().map_or(1, |g| g.len())
    }

    /// The frequencies each Fourier layer mixes: `modes` in 1-D, `2·modes·modes` in 2-D
    /// (`modes` rows at each end of the first axis, `modes` columns of the second).
    pub fn mixed_modes(&self) -> usize {
        if self.dims() == 2 {
            2 * self.modes * self.modes
        } else {
            self.modes
        }
    }
}

/// A residual evaluated on sampled points of a domain.
///
/// Its value is batched over its own points ([`BatchKind::Residual`]); inside, coordinates
/// are [`HExprKind::Coord`].
#[derive(Clone, Debug, PartialEq)]
pub struct ResidualHir {
    pub name: String,
    pub domain: DomainId,
    /// Coordinates fixed by the `where` clause (`t == 0` → `(index of t, 0.0)`); the
    /// sampler draws the others uniformly in the domain.
    pub fixed: Vec<FixedCoord>,
    pub points: usize,
    pub weight: f64,
    pub sampling: Sampling,
    pub value: HExpr,
    pub span: Span,
}

/// A `where` clause in normal form: a disjunction of coordinate fixings
/// (`x == -1 or x == 1` → two alternatives, each fixing `x`); the sampler splits the
/// points evenly between alternatives.
#[derive(Clone, Debug, PartialEq)]
pub struct FixedCoord {
    pub alternatives: Vec<(usize, f64)>,
}

/// How collocation points are drawn.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Sampling {
    Uniform,
    LatinHypercube,
    Sobol,
}

/// A data set read at run time; its rows are a batch ([`BatchKind::Data`]).
#[derive(Clone, Debug, PartialEq)]
pub struct DataHir {
    pub name: String,
    /// The path as written (relative to the model file); the first of `paths` when there
    /// is one file per column.
    pub path: String,
    pub columns: Vec<(String, Option<Unit>)>,
    /// Per column its shape per row (`a: real[256]`: a function on a grid); missing or
    /// empty for one number per row.
    pub shapes: Vec<Vec<usize>>,
    /// One file per column (`npy("a.npy", "u.npy")`), or empty when `path` holds them all.
    pub paths: Vec<String>,
    /// The last rows held out of training as a test set (`npy(…, test: 200)`).
    pub test: usize,
    pub span: Span,
}

impl DataHir {
    /// The shape of column `k` per row.
    pub fn shape(&self, k: usize) -> &[usize] {
        self.shapes.get(k).map(Vec::as_slice).unwrap_or(&[])
    }

    /// The numbers of column `k` per row.
    pub fn column_len(&self, k: usize) -> usize {
        self.shape(k).iter().product()
    }

    /// Where column `k` starts in a row (the columns' elements one after the other).
    pub fn column_offset(&self, k: usize) -> usize {
        (0..k.min(self.columns.len()))
            .map(|j| self.column_len(j))
            .sum()
    }

    /// The numbers of one row.
    pub fn row_len(&self) -> usize {
        self.column_offset(self.columns.len())
    }
}

/// A typed expression.
#[derive(Clone, Debug, PartialEq)]
pub struct HExpr {
    pub kind: HExprKind,
    pub ty: Ty,
    pub span: Span,
}

/// Elementwise built-in functions of one argument.
pub use sci_ir::UnaryOp as Unary;

/// Elementwise built-in functions of two arguments (arithmetic, `min`, `max`, `atan2`,
/// `and`, `or`, real `^`).
pub use sci_ir::BinaryOp as Binary;

/// Comparisons.
pub use sci_ir::CmpOp as Compare;

/// Reductions (`sum`, `prod`, `max`, `min`, `mean`).
pub use sci_ir::ReduceOp as Reduction;

/// A variable that can be differentiated with respect to.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum DiffVar {
    /// A coordinate of the enclosing residual's domain (by index).
    Coord(usize),
    /// A parameter of the enclosing function instance (by index).
    Local(usize),
}

/// What an expression computes.
///
/// Shapes: elementwise operands may differ only by broadcasting a scalar (or a trailing
/// suffix) to the other's shape; `ty` is the result. Lowering inserts explicit broadcasts.
#[derive(Clone, Debug, PartialEq)]
pub enum HExprKind {
    /// A scalar literal or folded constant (value in the unit of `ty`).
    Const(f64),
    /// A constant array (row-major; shape in `ty`).
    ConstArray(Vec<f64>),
    /// `[a, b, …]`: stacks equal-shaped elements along a new leading axis.
    Array(Vec<HExpr>),
    Param(ParamId),
    State(StateId),
    Let(LetId),
    Output(OutputId),
    /// The model time `t` (inside `der`, outputs and lets of an ODE model).
    Time,
    /// A coordinate of the residual's domain at the current point (batched).
    Coord(usize),
    /// An index variable's current value (`Int`).
    IndexVar(BinderId),
    /// A parameter of the enclosing function instance.
    Local(usize),
    /// A column of a data set at the current row (batched).
    DataColumn {
        data: DataId,
        column: usize,
    },
    /// A state's value at the time of the current data row: `prey(obs.t)`.
    StateAt {
        state: StateId,
        data: DataId,
        /// The data set's column that holds the times.
        column: usize,
    },
    /// The value of a residual at the current point (only inside the loss).
    Residual(ResidualId),
    /// `expval(psi, H)`: the expectation value of an observable in the state a circuit
    /// prepares from the parameters (only inside the loss).
    Expval {
        circuit: CircuitId,
        observable: ObservableId,
    },
    /// `der(x)` used as a value: the state's right-hand side.
    Der(StateId),
    Unary(Unary, Box<HExpr>),
    Binary(Binary, Box<HExpr>, Box<HExpr>),
    /// `x^n` with a literal integer `n` (kept apart from real powers for exact AD and units).
    Powi(Box<HExpr>, i32),
    Compare(Compare, Box<HExpr>, Box<HExpr>),
    /// `if cond then a else b` (both branches are evaluated; elementwise).
    Select(Box<HExpr>, Box<HExpr>, Box<HExpr>),
    /// `Int`/`Bool` → `Real` conversion (index variables used in arithmetic).
    ToReal(Box<HExpr>),
    /// `base[i, j]` with `Int` scalar indices on the leading axes. Reads outside the array
    /// give `fill` when it is `Some` (the Dirichlet rule for stencils); with `None` the
    /// checker has proved the indices in range.
    Index {
        base: Box<HExpr>,
        indices: Vec<HExpr>,
        fill: Option<f64>,
    },
    /// `op(i in a..b, …: body)`.
    Reduce {
        op: Reduction,
        binders: Vec<Binder>,
        body: Box<HExpr>,
    },
    /// `sum`/`mean`/`max`/`min` of all elements of an array argument (`sum(v)`).
    ReduceAll(Reduction, Box<HExpr>),
    /// Reduction of a batched value over its points (`mean(pde^2)` in a loss).
    ReduceBatch(Reduction, Box<HExpr>),
    /// `dot(a, b)`, `a @ b` forms.
    Dot(Box<HExpr>, Box<HExpr>),
    MatVec(Box<HExpr>, Box<HExpr>),
    MatMul(Box<HExpr>, Box<HExpr>),
    Transpose(Box<HExpr>),
    /// `rfft(x, modes)`: `[..., n]` → `[2, ..., modes]` (see `sci_ir::spectral`).
    Rfft(Box<HExpr>, usize),
    /// `irfft(X, n)`: `[2, ..., m]` → `[..., n]`.
    Irfft(Box<HExpr>, usize),
    /// `rfft2(x, m1, m2)`: `[..., n1, n2]` → `[2, ..., 2·m1, m2]`.
    Rfft2(Box<HExpr>, [usize; 2]),
    /// `irfft2(X, n1, n2)`: `[2, ..., 2·m1, m2]` → `[..., n1, n2]`.
    Irfft2(Box<HExpr>, [usize; 2]),
    /// Call of a function instance.
    Call {
        func: FnInstanceId,
        args: Vec<HExpr>,
    },
    /// Evaluation of a network on arguments (one scalar per declared input).
    Net {
        net: NetId,
        args: Vec<HExpr>,
    },
    /// `d(of, v1, v2, …)`: partial derivative, in order. `grad`, `jacobian`, `hessian` and
    /// `laplacian` are desugared into this (and sums of it) by the checker.
    Deriv {
        of: Box<HExpr>,
        wrt: Vec<DiffVar>,
    },
}

/// Appends the direct sub-expressions of `e` to `out`.
pub fn push_children<'a>(e: &'a HExpr, out: &mut Vec<&'a HExpr>) {
    use HExprKind as K;
    match &e.kind {
        K::Const(_)
        | K::ConstArray(_)
        | K::Param(_)
        | K::State(_)
        | K::Let(_)
        | K::Output(_)
        | K::Time
        | K::Coord(_)
        | K::IndexVar(_)
        | K::Local(_)
        | K::DataColumn { .. }
        | K::StateAt { .. }
        | K::Residual(_)
        | K::Der(_)
        | K::Expval { .. } => {}
        K::Array(items) => out.extend(items.iter()),
        K::Unary(_, a)
        | K::Powi(a, _)
        | K::ToReal(a)
        | K::ReduceAll(_, a)
        | K::ReduceBatch(_, a)
        | K::Transpose(a)
        | K::Rfft(a, _)
        | K::Irfft(a, _)
        | K::Rfft2(a, _)
        | K::Irfft2(a, _) => out.push(a),
        K::Binary(_, a, b)
        | K::Compare(_, a, b)
        | K::Dot(a, b)
        | K::MatVec(a, b)
        | K::MatMul(a, b) => {
            out.push(a);
            out.push(b);
        }
        K::Select(c, a, b) => {
            out.push(c);
            out.push(a);
            out.push(b);
        }
        K::Index { base, indices, .. } => {
            out.push(base);
            out.extend(indices.iter());
        }
        K::Reduce { body, .. } => out.push(body),
        K::Call { args, .. } | K::Net { args, .. } => out.extend(args.iter()),
        K::Deriv { of, .. } => out.push(of),
    }
}

impl HExpr {
    /// Calls `f` on the expression and every sub-expression (not following references to
    /// other definitions).
    pub fn visit<'a>(&'a self, f: &mut dyn FnMut(&'a HExpr)) {
        let mut stack = vec![self];
        while let Some(e) = stack.pop() {
            f(e);
            push_children(e, &mut stack);
        }
    }
}
