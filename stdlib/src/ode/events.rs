//! Events: what a system declares (conditions that fire on a zero crossing, times from a
//! schedule; a state reset or the end of the integration) and what a solve reports of them.
//!
//! A model's `when h < 0 { reinit(v, -e*v) }`, `when ... { stop }` and
//! `when every(24) { ... }` compile to an [`EventSpec`] each and to the event methods of
//! [`super::OdeSystem`]. The rules the solvers follow:
//!
//! - **Detection.** A crossing event's condition `g_k(t, y; θ)` is evaluated at the end of
//!   every step. Each condition remembers the side of zero it was last seen strictly on; the
//!   event fires when the condition reaches zero or the other side in the event's
//!   [`Crossing`] direction (`Rising`: from `< 0` to `>= 0`; `Falling`: from `> 0` to
//!   `<= 0`). Two crossings within one step that bring the condition back to its side are
//!   not seen (as in CVODE); step-size control usually keeps steps shorter than that.
//! - **Location.** Inside the step, the crossing is located on the solver's own
//!   interpolant by a bracketing secant method (Illinois), to a bracket of
//!   `100 ε (|t| + |h|)` (about `2e-14` relative); the event time is the bracket's right
//!   end, where the condition has already crossed (or is zero). Several events whose
//!   crossings fall in that final bracket fire together, in index order.
//! - **Start.** A condition that is exactly zero at `t0` has no side yet: it does not fire
//!   at `t0`, and is armed once it is seen nonzero.
//! - **No re-firing on the same zero.** After events fire at `t*`, every condition is
//!   re-armed from the state after them. A condition that fired and is still at its zero
//!   (no further from zero than at the crossing, i.e. the reset left it alone, or within
//!   `10 · tol · |dg/dt|` of it, the rates taken along the flow before and after) takes the
//!   side the new flow moves it to: the bouncing ball at `h = 0` with `v` reversed is armed
//!   *above* zero and fires on its next fall, not again at once. If it sits a rounding
//!   error on the other side, it is left alone for twice the time the flow takes to carry
//!   it back across (`2 |g| / |dg/dt|`, a few root tolerances), so that rounding is not
//!   taken for a new crossing. A fired condition that does not move (`dg/dt = 0` after the
//!   event) keeps its side from before, so it fires again if the flow takes it back across
//!   at once. Conditions that did not fire take the side of their value after the event.
//! - **Zeno points.** A condition that crosses again as soon as that time is up (the flow
//!   never carried it clear of its zero: the ball's flight has fallen below the time
//!   resolution), or [`ZENO_REPEATS`] event times in a row that do not advance past
//!   rounding (`1000 ε (|t| + t_end − t0)`), are a numerical error naming the event and the
//!   time: events piling up at one time are a model that needs to come to rest another way.
//! - **Resets do not fire events.** A reset (or a scheduled dose) that moves another
//!   condition across zero does not fire it; crossings are detected along the flow only.
//! - **Scheduled events** fire at the times [`super::OdeSystem::event_times`] lists: the
//!   solver stops exactly at each one (and a time equal to `t0` applies to the initial state
//!   before the first step). Scheduled and crossing events at the same time (within
//!   rounding) fire together, in index order.
//! - **Resets and stops.** A [`EventAction::Reset`] replaces the state with
//!   `R_k(t*, y(t*⁻))` and the integration restarts from there (multistep BDF restarts its
//!   history at first order); a [`EventAction::Stop`] ends the integration at `t*` at once
//!   (events after it in index order at the same time do not fire).
//! - **Output.** The solution is right-continuous: a requested output time before `t*` is
//!   interpolated on the piece before the event, one equal to `t*` reports the state after
//!   the resets. With [`super::SolveOptions::at_steps`], a reset adds two rows at `t*`
//!   (before, after) in place of the step's end; a stop ends the rows with one at `t*`.
//!   With requested times, a stop drops the times after `t*` and ends with a row at `t*`
//!   (a requested time equal to `t*` gives that one row; `t*` being located numerically, a
//!   time requested at the expected stop can fall a rounding error before it, a row of its
//!   own, or after it, dropped). Dense output keeps both states at `t*` and interpolates
//!   each piece on its own; after a stop it ends at `t*`.
//! - **Sensitivities** jump at a reset by the standard conditions
//!   `τ_θ = −(g_y s⁻ + g_θ) / (g_y f⁻ + g_t)`,
//!   `s⁺ = R_y s⁻ + R_θ + (R_y f⁻ + R_t − f⁺) τ_θ`, with `f∓ = f(t*, y∓)`; a scheduled event
//!   has `τ_θ = 0`; the row of a stop at a crossing is `s⁻ + f⁻ τ_θ`.
//! - **Limits.** More than [`super::SolveOptions::max_events`] events are a numerical error
//!   naming the last event and its time.
//! - **Auto.** When [`super::Method::Auto`] restarts with BDF from `t0`, the events are
//!   replayed with it; [`super::Solution::events`] lists those of the answering method.

/// Which zero crossings of an event's condition `g` fire it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Crossing {
    /// `g` goes from `< 0` to `>= 0`.
    Rising,
    /// `g` goes from `> 0` to `<= 0`.
    Falling,
    /// Either of the two.
    Either,
}

/// What makes an event fire.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EventTrigger {
    /// A zero crossing of component `k` of [`super::OdeSystem::event_conditions`].
    Crossing(Crossing),
    /// At the times [`super::OdeSystem::event_times`] lists (dosing schedules). They do not
    /// depend on `θ`.
    Scheduled,
}

/// What happens when an event fires.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EventAction {
    /// `y ← R_k(t, y; θ)` ([`super::OdeSystem::event_reset`]), then integration goes on.
    Reset,
    /// Integration ends at the event time.
    Stop,
}

/// One event of a system: what fires it and what it does.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct EventSpec {
    pub trigger: EventTrigger,
    pub action: EventAction,
}

/// An event that fired during a solve.
#[derive(Clone, Debug, PartialEq)]
pub struct EventOccurrence {
    /// The event's index in [`super::OdeSystem::events`].
    pub event: usize,
    /// When it fired.
    pub t: f64,
    /// The state just before it (after the events before it in index order at the same
    /// time).
    pub y_before: Vec<f64>,
    /// The state just after it (equal to `y_before` for a stop).
    pub y_after: Vec<f64>,
}

/// The default of [`super::SolveOptions::max_events`].
pub const DEFAULT_MAX_EVENTS: usize = 100_000;

/// How many event times in a row may fail to advance past rounding before the solve is
/// stopped as a Zeno point (events accumulating at one time).
pub const ZENO_REPEATS: usize = 100;

impl EventSpec {
    /// The crossing direction of a crossing event; `None` for a scheduled one.
    pub(crate) fn crossing(&self) -> Option<Crossing> {
        match self.trigger {
            EventTrigger::Crossing(c) => Some(c),
            EventTrigger::Scheduled => None,
        }
    }
}
