//! Solving initial value problems `y' = f(t, y; θ)`, `y(t0) = y0(θ)` with diffsol.
//!
//! The system is anything implementing [`OdeSystem`]: in `sci` it is a compiled model
//! (rhs, Jacobian-vector products by forward-mode AD, the sparse Jacobian by compressed
//! AD), in tests hand-written closures. A system may declare [`events`]: conditions whose
//! zero crossings reset the state or end the integration, and scheduled resets (doses).
//! A system may also mark some of its states [`OdeSystem::algebraic`]: it is then a
//! semi-explicit index-1 DAE, `y_i' = f_i` for the differential states and `0 = f_i` for the
//! algebraic ones (see `dae.rs` for how the solvers treat it).

use crate::Error;

mod adapter;
mod adjoint;
mod adjoint_system;
mod dae;
mod dae_block;
mod dense;
mod dense_lu;
mod driver;
mod event_group;
mod event_jumps;
mod event_roots;
mod event_schedule;
pub mod events;
mod names;
mod stepping;
mod validate;

pub use adjoint::{
    ADJOINT_TOLERANCE_FACTOR, AUTO_ADJOINT_MIN_PARAMS, AdjointGradient, Sensitivity,
    adjoint_forward, adjoint_gradient,
};
pub use dense::DenseOutput;
pub use driver::{AUTO_EXPLICIT_STEP_BUDGET, SPARSE_MAX_DENSITY, SPARSE_MIN_STATES};
pub use events::{
    Crossing, DEFAULT_MAX_EVENTS, EventAction, EventOccurrence, EventSpec, EventTrigger,
    ZENO_REPEATS,
};
pub use validate::DEFAULT_OUTPUT_POINTS;

/// A parameterised ODE system. Every method is infallible: implementations backed by
/// compiled code check sizes once, up front.
pub trait OdeSystem {
    /// Length of `y`.
    fn n_states(&self) -> usize;
    /// Length of `θ`.
    fn n_params(&self) -> usize;
    /// `dy = f(t, y; θ)`.
    fn rhs(&self, t: f64, y: &[f64], p: &[f64], dy: &mut [f64]);
    /// `out = ∂f/∂y · v`.
    fn jac_mul(&self, t: f64, y: &[f64], p: &[f64], v: &[f64], out: &mut [f64]);
    /// `out = ∂f/∂θ · v` (`v` has length [`OdeSystem::n_params`]).
    fn param_jac_mul(&self, t: f64, y: &[f64], p: &[f64], v: &[f64], out: &mut [f64]);
    /// The dense `∂f/∂θ`, row-major `n_states × n_params`, when the system can form it in
    /// one evaluation (by reverse-mode AD, say); returns `false` (the default) when it
    /// cannot, and the solvers use [`OdeSystem::param_jac_mul`] per parameter instead.
    fn param_jacobian(&self, t: f64, y: &[f64], p: &[f64], jac: &mut [f64]) -> bool {
        let _ = (t, y, p, jac);
        false
    }
    /// The dense Jacobian `∂f/∂y`, row-major `n × n`. The default takes one
    /// [`OdeSystem::jac_mul`] per column.
    fn jacobian(&self, t: f64, y: &[f64], p: &[f64], jac: &mut [f64]) {
        let n = self.n_states();
        let mut e = vec![0.0; n];
        let mut col = vec![0.0; n];
        for j in 0..n {
            e[j] = 1.0;
            self.jac_mul(t, y, p, &e, &mut col);
            e[j] = 0.0;
            for i in 0..n {
                jac[i * n + j] = col[i];
            }
        }
    }
    /// The structural non-zeros of `∂f/∂y`, when known.
    fn sparsity(&self) -> Option<&Sparsity> {
        None
    }
    /// The values of `∂f/∂y` at the positions of [`OdeSystem::sparsity`], in its order.
    /// Only called when `sparsity` is `Some`.
    fn jacobian_values(&self, t: f64, y: &[f64], p: &[f64], values: &mut [f64]) {
        let _ = (t, y, p, values);
    }
    /// What one [`OdeSystem::jacobian_values`] costs, counted in [`OdeSystem::jac_mul`]
    /// products (about one for element-local values, the number of colours for compressed
    /// AD), or `None` (the default) when unknown. Integrating sensitivities multiplies one
    /// vector per parameter by `∂f/∂y` at the same point; when there are more of them than
    /// this, the solvers form the sparse Jacobian once and multiply by it instead.
    fn jacobian_values_cost(&self) -> Option<usize> {
        None
    }
    /// `out_y = (∂f/∂y)ᵀ w` and `out_p = (∂f/∂θ)ᵀ w`: the right-hand side and quadrature
    /// of the adjoint equations ([`adjoint_gradient`]). Compiled systems answer both with one
    /// reverse-mode sweep; the default forms the dense Jacobians (one product per column,
    /// or [`OdeSystem::param_jacobian`]), which suits small hand-written systems.
    fn rhs_vjp(
        &self,
        t: f64,
        y: &[f64],
        p: &[f64],
        w: &[f64],
        out_y: &mut [f64],
        out_p: &mut [f64],
    ) {
        let (n, np) = (self.n_states(), self.n_params());
        let mut jac = vec![0.0; n * n];
        self.jacobian(t, y, p, &mut jac);
        for (j, o) in out_y.iter_mut().enumerate() {
            *o = (0..n).map(|i| w[i] * jac[i * n + j]).sum();
        }
        if np == 0 {
            return;
        }
        let mut pjac = vec![0.0; n * np];
        if !self.param_jacobian(t, y, p, &mut pjac) {
            let (mut e, mut col) = (vec![0.0; np], vec![0.0; n]);
            for j in 0..np {
                e[j] = 1.0;
                self.param_jac_mul(t, y, p, &e, &mut col);
                e[j] = 0.0;
                for i in 0..n {
                    pjac[i * np + j] = col[i];
                }
            }
        }
        for (j, o) in out_p.iter_mut().enumerate() {
            *o = (0..n).map(|i| w[i] * pjac[i * np + j]).sum();
        }
    }
    /// `out = (∂y0/∂θ)ᵀ w`, the initial state's part of an adjoint gradient. The default
    /// takes one [`OdeSystem::y0_param_jac_mul`] per parameter.
    fn y0_vjp(&self, p: &[f64], w: &[f64], out: &mut [f64]) {
        let (n, np) = (self.n_states(), self.n_params());
        let (mut e, mut col) = (vec![0.0; np], vec![0.0; n]);
        for (j, o) in out.iter_mut().enumerate().take(np) {
            e[j] = 1.0;
            self.y0_param_jac_mul(p, &e, &mut col);
            e[j] = 0.0;
            *o = w.iter().zip(&col).map(|(a, b)| a * b).sum();
        }
    }
    /// `y0 = y0(θ)`. For a DAE, the differential states' initial values and *guesses* for
    /// the algebraic ones (the solvers make them consistent before the first step).
    fn y0(&self, p: &[f64], y0: &mut [f64]);
    /// `out = ∂y0/∂θ · v`.
    fn y0_param_jac_mul(&self, p: &[f64], v: &[f64], out: &mut [f64]);

    /// Which states are algebraic: `algebraic()[i]` true means row i of the system is the
    /// constraint `0 = f_i(t, y; θ)` (a zero row of the mass matrix) rather than
    /// `y_i' = f_i`. Empty (the default): an ODE. Otherwise it has one entry per state, at
    /// least one of them `false`, and the algebraic equations must determine the algebraic
    /// states (`∂f_alg/∂z` regular: index 1).
    ///
    /// Everything else covers all rows: [`OdeSystem::rhs`] returns the algebraic rows'
    /// residuals, the Jacobians and the sparsity pattern include their rows. BDF, ESDIRK34
    /// and TR-BDF2 solve such systems (`Auto` goes straight to BDF, Tsit5 refuses them);
    /// the algebraic states are made consistent by Newton's method at the start and after
    /// every reset (so what a reset writes into an algebraic state is only Newton's
    /// starting guess), and are reported like the other states (at interpolated times
    /// solved for again from the interpolated differential states).
    fn algebraic(&self) -> &[bool] {
        &[]
    }

    /// The name of state element `i` for messages (`u[3]`), when the system has names;
    /// `None` (the default): messages say "component i".
    fn state_name(&self, i: usize) -> Option<String> {
        let _ = i;
        None
    }

    /// The name of event `k` for messages (its condition as written, `h < 0`), when the
    /// system has names; `None` (the default): messages say "event k".
    fn event_name(&self, k: usize) -> Option<String> {
        let _ = k;
        None
    }

    // Events: all have defaults, so a system without events implements none of them.

    /// The system's events, by index (the rules the solvers follow are in [`events`]). The
    /// default: none.
    fn events(&self) -> &[EventSpec] {
        &[]
    }
    /// `g(t, y; θ)` for every event (`g` has length `events().len()`; the entries of
    /// scheduled events are ignored).
    fn event_conditions(&self, t: f64, y: &[f64], p: &[f64], g: &mut [f64]) {
        let _ = (t, y, p, g);
    }
    /// `out = ∂g/∂y · v` (length `events().len()`); needed for sensitivities across
    /// crossing events (the solvers zero `out` first, so the default, which writes nothing,
    /// means a condition that does not depend on `y`; the same holds for the other
    /// products below).
    fn event_conditions_jac_mul(&self, t: f64, y: &[f64], p: &[f64], v: &[f64], out: &mut [f64]) {
        let _ = (t, y, p, v, out);
    }
    /// `out = ∂g/∂θ · v` (`v` has length [`OdeSystem::n_params`]); needed for sensitivities
    /// across crossing events.
    fn event_conditions_param_jac_mul(
        &self,
        t: f64,
        y: &[f64],
        p: &[f64],
        v: &[f64],
        out: &mut [f64],
    ) {
        let _ = (t, y, p, v, out);
    }
    /// `out = ∂g/∂t`, the explicit time dependence of the conditions (as in `t - 10`),
    /// length `events().len()`. The default: zeros.
    fn event_conditions_time_derivative(&self, t: f64, y: &[f64], p: &[f64], out: &mut [f64]) {
        let _ = (t, y, p);
        out.fill(0.0);
    }
    /// The times in `[t0, t_end]` at which scheduled event `k` fires, sorted (may include
    /// `t0`; times outside the span are ignored).
    fn event_times(&self, k: usize, p: &[f64], span: (f64, f64)) -> Vec<f64> {
        let _ = (k, p, span);
        Vec::new()
    }
    /// `y_new = R_k(t, y; θ)` for a reset event; `y_new` (length `n_states`) holds a copy of
    /// `y` on entry, so a reset writes only the states it changes.
    fn event_reset(&self, k: usize, t: f64, y: &[f64], p: &[f64], y_new: &mut [f64]) {
        let _ = (k, t, y, p, y_new);
    }
    /// `out = ∂R_k/∂y · v` (sensitivities; a state the reset leaves alone has `out_i = v_i`,
    /// which the default, writing nothing, does not give: a system with resets must
    /// implement this when solved with sensitivities).
    fn event_reset_jac_mul(
        &self,
        k: usize,
        t: f64,
        y: &[f64],
        p: &[f64],
        v: &[f64],
        out: &mut [f64],
    ) {
        let _ = (k, t, y, p, v, out);
    }
    /// `out = ∂R_k/∂θ · v` (sensitivities; `v` has length [`OdeSystem::n_params`]).
    fn event_reset_param_jac_mul(
        &self,
        k: usize,
        t: f64,
        y: &[f64],
        p: &[f64],
        v: &[f64],
        out: &mut [f64],
    ) {
        let _ = (k, t, y, p, v, out);
    }
    /// `out = ∂R_k/∂t`, the explicit time dependence of a reset (sensitivities across a
    /// crossing event whose reset depends on `t`). The default: zeros.
    fn event_reset_time_derivative(&self, k: usize, t: f64, y: &[f64], p: &[f64], out: &mut [f64]) {
        let _ = (k, t, y, p);
        out.fill(0.0);
    }
}

/// A square sparsity pattern in compressed sparse row form: the columns of row `r` are
/// `col_idx[row_ptr[r]..row_ptr[r + 1]]`, sorted.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Sparsity {
    pub n: usize,
    pub row_ptr: Vec<usize>,
    pub col_idx: Vec<usize>,
}

/// The integration method.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Method {
    /// Tsit5 first; if the problem turns out stiff (the step budget for an explicit method
    /// is spent or the step size collapses), start again with BDF. A DAE goes to BDF
    /// directly.
    Auto,
    /// Tsitouras' explicit 5(4) Runge–Kutta pair: non-stiff problems (ODEs only: an
    /// explicit method cannot solve algebraic equations).
    Tsit5,
    /// Variable-order BDF (NDF) with Newton iterations: stiff problems.
    Bdf,
    /// ESDIRK 3(4): a singly diagonally implicit Runge–Kutta method, L-stable.
    Esdirk34,
    /// TR-BDF2: a second-order L-stable SDIRK.
    TrBdf2,
}

impl Method {
    /// Every method with its command-line name.
    pub const ALL: &'static [(&'static str, Method)] = &[
        ("auto", Method::Auto),
        ("tsit5", Method::Tsit5),
        ("bdf", Method::Bdf),
        ("esdirk34", Method::Esdirk34),
        ("trbdf2", Method::TrBdf2),
    ];

    /// The command-line name.
    pub fn name(self) -> &'static str {
        Method::ALL
            .iter()
            .find(|(_, m)| *m == self)
            .map(|(n, _)| *n)
            .unwrap_or("auto")
    }
}

impl std::str::FromStr for Method {
    type Err = Error;
    fn from_str(s: &str) -> Result<Method, Error> {
        Method::ALL
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(s))
            .map(|(_, m)| *m)
            .ok_or_else(|| {
                let names: Vec<&str> = Method::ALL.iter().map(|(n, _)| *n).collect();
                Error::input(format!("There is no ODE solver called `{s}`."))
                    .with_help(format!("the solvers are: {}", names.join(", ")))
            })
    }
}

/// How the implicit methods form and factor `I − h·γ·J`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum JacobianKind {
    /// Sparse (sparse LU) when the system gives a pattern whose density is low, dense
    /// otherwise.
    Auto,
    Dense,
    Sparse,
}

/// What to solve and how.
#[derive(Clone, Debug, PartialEq)]
pub struct SolveOptions {
    pub method: Method,
    /// The interval `(t0, t_end)` to integrate over. `None` (the default): a model's
    /// `simulate` takes the span the model declares; [`solve`] needs one.
    pub span: Option<(f64, f64)>,
    /// Times to report the solution at (dense output), sorted, within `[t0, t_end]`.
    /// `None`: 201 evenly spaced times from `t0` to `t_end`.
    pub times: Option<Vec<f64>>,
    /// Report the solution at `t0` and at the end of every accepted step instead (no
    /// interpolation: what the solver computed, where it computed it; `times` must be
    /// `None`).
    pub at_steps: bool,
    /// Also keep the solution between the steps ([`Solution::dense`]: cubic Hermite
    /// interpolation of the solver's steps, evaluable at any time of the span).
    pub dense: bool,
    pub rtol: f64,
    pub atol: f64,
    pub jacobian: JacobianKind,
    /// Also integrate the forward sensitivities `dy/dθ`.
    pub sensitivities: bool,
    /// The most steps before giving up.
    pub max_steps: usize,
    /// The most events before giving up (a guard against chattering conditions).
    pub max_events: usize,
}

impl Default for SolveOptions {
    fn default() -> SolveOptions {
        SolveOptions {
            method: Method::Auto,
            span: None,
            times: None,
            at_steps: false,
            dense: false,
            rtol: 1e-6,
            atol: 1e-9,
            jacobian: JacobianKind::Auto,
            sensitivities: false,
            max_steps: 1_000_000,
            max_events: DEFAULT_MAX_EVENTS,
        }
    }
}

/// Counters of one solve.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct SolveStats {
    /// The method that produced the solution (not `Auto`).
    pub method: Option<Method>,
    /// Whether the implicit method used the sparse Jacobian.
    pub sparse: bool,
    pub steps: usize,
    pub rhs_evals: usize,
    pub jacobian_evals: usize,
    /// How [`Method::Auto`] came to the stiff method, when it did by switching (not for a
    /// DAE, which `Auto` gives to BDF from the start: see
    /// [`SolveStats::algebraic_states`]).
    pub switch: Option<Switch>,
    /// How many states are algebraic ([`OdeSystem::algebraic`]; 0 for an ODE). With
    /// algebraic states [`Method::Auto`] solves with BDF from the start, without an explicit
    /// attempt and without a [`Switch`].
    pub algebraic_states: usize,
}

/// [`Method::Auto`]'s switch to BDF: why, and what the explicit attempt did first (its
/// steps and evaluations are also in the totals). BDF then solves from `t0`.
#[derive(Clone, Debug, PartialEq)]
pub struct Switch {
    pub reason: SwitchReason,
    /// How far the explicit attempt got (`t0` when the problem was stiff at the start).
    pub reached: f64,
    pub explicit_steps: usize,
    pub explicit_rhs_evals: usize,
}

/// Why [`Method::Auto`] switched.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SwitchReason {
    /// The Jacobian at the start shows stiffness over the span.
    StiffAtStart,
    /// The explicit steps ran out, or their pace projected past the budget.
    StiffOnTheWay,
    /// The explicit method failed (its step size collapsed).
    ExplicitFailed,
}

/// A solution at the requested times (or at the solver's steps).
#[derive(Clone, Debug, PartialEq)]
pub struct Solution {
    /// The output times: the requested ones, or `t0` and every step's end with
    /// [`SolveOptions::at_steps`]. Events change them: a reset adds a second row at its
    /// time with `at_steps` (the state before, then after), a stop ends the rows at its
    /// time (see [`events`]).
    pub t: Vec<f64>,
    /// `y[k]` is the state at `t[k]`.
    pub y: Vec<Vec<f64>>,
    /// With sensitivities: `sens[k]` is `dy/dθ` at `t[k]`, row-major `n_states × n_params`.
    pub sens: Option<Vec<Vec<f64>>>,
    pub stats: SolveStats,
    /// With [`SolveOptions::dense`]: the solution at any time of the span.
    pub dense: Option<DenseOutput>,
    /// The events that fired, in order.
    pub events: Vec<EventOccurrence>,
}

/// Solves the system at parameters `p`; `progress` is called with the current time as the
/// integration advances (for a progress bar).
///
/// - The inputs are checked first (positive finite tolerances, `t0 < t_end`, sorted output
///   times inside the interval, `p.len() == n_params`, finite parameters, at least one
///   state, a well-formed sparsity pattern): violations are [`crate::ErrorKind::Input`].
/// - A DAE ([`OdeSystem::algebraic`]) is checked (one entry per state, not all
///   algebraic: input errors), its algebraic states are made consistent by Newton's method
///   before the first step and after every reset (a numerical error when Newton fails, an
///   input error when the algebraic equations do not determine the algebraic states: index
///   higher than 1), Tsit5 refuses it (an input error) and `Auto` gives it to BDF.
/// - [`Method::Auto`] runs Tsit5 with a budget of [`AUTO_EXPLICIT_STEP_BUDGET`] steps
///   (fewer if `max_steps` is smaller; it also gives up once its first 1000 steps
///   extrapolate to ten times the budget) and starts again with BDF if Tsit5 runs out or
///   fails; `stats.method` says which answered, the counters add up both attempts, and
///   `max_steps` bounds each attempt.
/// - [`JacobianKind::Auto`] uses the sparse LU when the system has a pattern, at least
///   [`SPARSE_MIN_STATES`] states and a density of at most [`SPARSE_MAX_DENSITY`].
/// - Sensitivities are integrated with the state and take part in error control at the
///   same `rtol` and `atol`.
/// - Solver failures, NaN or infinity in the state, and running out of `max_steps` are
///   [`crate::ErrorKind::Numerical`] errors naming the time reached.
/// - The system's [`events`] fire on the way (scheduled times are checked first: finite and
///   sorted, else an input error); [`Solution::events`] lists them. A NaN event condition,
///   more than `max_events` events and events piling up at one time (a Zeno point) are
///   numerical errors naming the event and the time.
pub fn solve(
    system: &dyn OdeSystem,
    p: &[f64],
    options: &SolveOptions,
    progress: &mut dyn FnMut(f64),
) -> Result<Solution, Error> {
    driver::solve(system, p, options, progress)
}
