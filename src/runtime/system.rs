//! A compiled model as an [`OdeSystem`] for the solvers of `sci_stdlib::ode`: the
//! right-hand side, Jacobian-vector products by forward-mode AD, the dense Jacobian, and
//! the sparse Jacobian by compressed AD with its pattern, and the events (`when`) with the
//! derivatives of their conditions and resets.
//!
//! The solver's callbacks cannot fail, but a call into compiled code returns a `Result`
//! (lengths are checked at the boundary). Lengths are checked once in [`CompiledSystem::new`],
//! so a failure later is a bug; it is recorded, the output is filled with NaN so the solver
//! stops, and [`CompiledSystem::take_error`] reports it instead of the solver's message.

use std::cell::RefCell;

use sci_stdlib::ode::{EventSpec, OdeSystem, Sparsity};

use super::events;

use crate::jit::{
    InvariantCache, JVP_EVENTS_PARAMS, JVP_EVENTS_STATE, JVP_EVENTS_TIME, JVP_RESETS_PARAMS,
    JVP_RESETS_STATE, JVP_RESETS_TIME, JVP_RHS_PARAMS, JVP_RHS_STATE, JVP_Y0, JitError, Model,
    PARAM_JACOBIAN,
};

/// A compiled ODE model seen by the solvers.
pub struct CompiledSystem<'c> {
    model: Model<'c>,
    /// Whether the model has [`PARAM_JACOBIAN`] (the JIT may fail to build it).
    has_param_jacobian: bool,
    sparsity: Option<Sparsity>,
    /// [`OdeSystem::jacobian_values_cost`]: one product for element-local values, else
    /// the colours.
    values_cost: Option<usize>,
    /// The values of `rhs`, of the sparse Jacobian and of `∂f/∂θ` that depend on θ alone,
    /// computed once per parameter change (where those functions were split).
    rhs_cache: RefCell<InvariantCache>,
    jacobian_cache: RefCell<InvariantCache>,
    param_jacobian_cache: RefCell<InvariantCache>,
    error: RefCell<Option<JitError>>,
    /// The events, as the solvers see them.
    events: Vec<EventSpec>,
    /// Every event's row of `event_resets` (or of one of its products), `m × n`.
    rows: RefCell<Vec<f64>>,
    /// Per state element: algebraic (a constraint row of `rhs`); empty for an ODE.
    algebraic: Vec<bool>,
    /// Per state element, its name (`u[3]`), for the solvers' messages.
    state_names: Vec<String>,
    /// Whether the model has the adjoint products (compiled with `Compiler::adjoint`),
    /// and room for `[λᵀ ∂f/∂y, λᵀ ∂f/∂θ]`.
    has_adjoint: bool,
    vjp: RefCell<Vec<f64>>,
    /// Initial values given in place of the model's (`(state element, value)`): an
    /// ensemble's variations of the initial state. They do not depend on θ.
    initial: Vec<(usize, f64)>,
}

/// Why `model` cannot be solved although it compiled: a derivative the solvers need was
/// refused when it was generated (too large, E0705). A fault of the model, reported in
/// its terms rather than by the internal function's name.
pub fn missing_derivative(model: &Model<'_>) -> Option<String> {
    let mut needed = vec![(
        JVP_RHS_STATE,
        "its right-hand side with respect to the state",
    )];
    if model.n_params() > 0 {
        needed.extend([
            (
                JVP_RHS_PARAMS,
                "its right-hand side with respect to the parameters",
            ),
            (JVP_Y0, "its initial state with respect to the parameters"),
        ]);
    }
    if !model.events().is_empty() {
        needed.extend([
            (
                JVP_EVENTS_STATE,
                "its events' conditions with respect to the state",
            ),
            (
                JVP_EVENTS_TIME,
                "its events' conditions with respect to time",
            ),
            (
                JVP_RESETS_STATE,
                "its events' new values with respect to the state",
            ),
            (
                JVP_RESETS_TIME,
                "its events' new values with respect to time",
            ),
        ]);
        if model.n_params() > 0 {
            needed.extend([
                (
                    JVP_EVENTS_PARAMS,
                    "its events' conditions with respect to the parameters",
                ),
                (
                    JVP_RESETS_PARAMS,
                    "its events' new values with respect to the parameters",
                ),
            ]);
        }
    }
    needed.into_iter().find_map(|(function, what)| {
        if model.has_function(function) {
            return None;
        }
        let reason = match model.missing_reason(function) {
            Some(reason) => format!(": {}", reason.trim_end_matches('.')),
            None => String::new(),
        };
        Some(format!(
            "Model `{}` cannot be solved: the solvers need the derivative of {what}, which \
             could not be generated{reason}.",
            model.name()
        ))
    })
}

/// Which state elements are algebraic (the manifest's `algebraic` slots); empty for an ODE.
fn algebraic_mask(model: &Model<'_>) -> Vec<bool> {
    let ir = model.ir();
    if ir.manifest.algebraic.is_empty() {
        return Vec::new();
    }
    let mut mask = vec![false; ir.states.len];
    for slot in (ir.manifest.algebraic.iter()).filter_map(|name| ir.states.slot(name)) {
        let count: usize = slot.shape.iter().product();
        if let Some(dst) = mask.get_mut(slot.offset..slot.offset + count) {
            dst.fill(true);
        }
    }
    mask
}

impl<'c> CompiledSystem<'c> {
    /// The system of `model`, which must have `rhs`, `y0` and the derivative functions the
    /// JIT adds (compile with derivatives on, the default).
    pub fn new(model: Model<'c>) -> Result<CompiledSystem<'c>, JitError> {
        if model.n_states() == 0 {
            return Err(JitError::new(format!(
                "Model `{}` has no states, so there is nothing to integrate; `sci train` fits models with a loss.",
                model.name()
            )));
        }
        if let Some(why) = missing_derivative(&model) {
            return Err(JitError::new(why));
        }
        for name in ["rhs", "y0"] {
            if !model.has_function(name) {
                return Err(model.function(name).err().unwrap_or_else(|| {
                    JitError::new(format!("Model `{}` has no `{name}`.", model.name()))
                }));
            }
        }
        let pattern = model.jacobian_sparsity().ok();
        let sparsity = pattern.map(|p| Sparsity {
            n: p.n_rows,
            row_ptr: p.row_ptr.clone(),
            col_idx: p.col_idx.clone(),
        });
        let values_cost = pattern.map(|p| if p.element_local { 1 } else { p.n_colors });
        Ok(CompiledSystem {
            model,
            values_cost,
            has_param_jacobian: model.n_params() > 0 && model.has_function(PARAM_JACOBIAN),
            sparsity,
            rhs_cache: RefCell::new(InvariantCache::new()),
            jacobian_cache: RefCell::new(InvariantCache::new()),
            param_jacobian_cache: RefCell::new(InvariantCache::new()),
            error: RefCell::new(None),
            events: events::specs(model.events()),
            rows: RefCell::new(vec![0.0; model.events().len() * model.n_states()]),
            algebraic: algebraic_mask(&model),
            state_names: super::element_names(&model.ir().states),
            has_adjoint: model.has_adjoint(),
            vjp: RefCell::new(vec![0.0; model.n_states() + model.n_params()]),
            initial: Vec::new(),
        })
    }

    /// The system started from `initial` values of some state elements (`(element,
    /// value)`) instead of the model's.
    pub fn with_initial(mut self, initial: &[(usize, f64)]) -> Result<Self, JitError> {
        if let Some((k, _)) = initial.iter().find(|(k, _)| *k >= self.model.n_states()) {
            return Err(JitError::new(format!(
                "Model `{}` has {} state elements, so there is no element {k} to start from \
                 another value.",
                self.model.name(),
                self.model.n_states()
            )));
        }
        self.initial = initial.to_vec();
        Ok(self)
    }

    /// How many times the θ-only values of `rhs`, of the sparse Jacobian and of `∂f/∂θ`
    /// were computed (once per parameter change each; zero for a function that was not
    /// split or not called).
    pub fn invariant_evaluations(&self) -> [usize; 3] {
        [
            self.rhs_cache.borrow().invariant_evaluations(),
            self.jacobian_cache.borrow().invariant_evaluations(),
            self.param_jacobian_cache.borrow().invariant_evaluations(),
        ]
    }

    /// The first error a compiled call reported during a solve, if any.
    pub fn take_error(&self) -> Option<JitError> {
        self.error.borrow_mut().take()
    }

    fn record(&self, result: Result<(), JitError>, out: &mut [f64]) {
        if let Err(e) = result {
            out.fill(f64::NAN);
            self.error.borrow_mut().get_or_insert(e);
        }
    }

    /// Row `k` of one of the `event_resets` functions (`fill` computes all rows).
    fn reset_row(
        &self,
        k: usize,
        out: &mut [f64],
        fill: impl FnOnce(&mut [f64]) -> Result<(), JitError>,
    ) {
        let mut rows = self.rows.borrow_mut();
        let r = fill(&mut rows);
        self.record(r, &mut rows);
        events::copy_row(&rows, k, out);
    }
}

impl OdeSystem for CompiledSystem<'_> {
    fn n_states(&self) -> usize {
        self.model.n_states()
    }

    fn n_params(&self) -> usize {
        self.model.n_params()
    }

    fn rhs(&self, t: f64, y: &[f64], p: &[f64], dy: &mut [f64]) {
        let r = self
            .model
            .rhs_cached(&mut self.rhs_cache.borrow_mut(), t, y, p, dy);
        self.record(r, dy);
    }

    fn jac_mul(&self, t: f64, y: &[f64], p: &[f64], v: &[f64], out: &mut [f64]) {
        let r = self.model.jac_mul(t, y, p, v, out);
        self.record(r, out);
    }

    fn param_jac_mul(&self, t: f64, y: &[f64], p: &[f64], v: &[f64], out: &mut [f64]) {
        if p.is_empty() {
            out.fill(0.0);
            return;
        }
        let r = self.model.param_jac_mul(t, y, p, v, out);
        self.record(r, out);
    }

    fn param_jacobian(&self, t: f64, y: &[f64], p: &[f64], jac: &mut [f64]) -> bool {
        if !self.has_param_jacobian {
            return false;
        }
        let r = self.model.param_jacobian_cached(
            &mut self.param_jacobian_cache.borrow_mut(),
            t,
            y,
            p,
            jac,
        );
        self.record(r, jac);
        true
    }

    fn jacobian(&self, t: f64, y: &[f64], p: &[f64], jac: &mut [f64]) {
        let r = self.model.jacobian(t, y, p, jac);
        self.record(r, jac);
    }

    fn sparsity(&self) -> Option<&Sparsity> {
        self.sparsity.as_ref()
    }

    fn jacobian_values_cost(&self) -> Option<usize> {
        self.values_cost
    }

    fn jacobian_values(&self, t: f64, y: &[f64], p: &[f64], values: &mut [f64]) {
        let r =
            self.model
                .jacobian_csr_cached(&mut self.jacobian_cache.borrow_mut(), t, y, p, values);
        self.record(r, values);
    }

    fn y0(&self, p: &[f64], y0: &mut [f64]) {
        match self.model.y0(p) {
            Ok(y) if y.len() == y0.len() => y0.copy_from_slice(&y),
            Ok(_) => self.record(Err(JitError::new("y0 has the wrong length")), y0),
            Err(e) => self.record(Err(e), y0),
        }
        for &(k, value) in &self.initial {
            y0[k] = value;
        }
    }

    fn y0_param_jac_mul(&self, p: &[f64], v: &[f64], out: &mut [f64]) {
        if p.is_empty() {
            out.fill(0.0);
            return;
        }
        let r = self.model.y0_param_jac_mul(p, v, out);
        self.record(r, out);
        for &(k, _) in &self.initial {
            out[k] = 0.0;
        }
    }

    fn rhs_vjp(
        &self,
        t: f64,
        y: &[f64],
        p: &[f64],
        w: &[f64],
        out_y: &mut [f64],
        out_p: &mut [f64],
    ) {
        if !self.has_adjoint {
            // `adjoint_gradient` is refused before a solve for such a model (see
            // `Trainer`), so this is a bug; the solver stops on the NaN.
            let why = "the adjoint products were not compiled (`Compiler::adjoint`)";
            self.record(Err(JitError::new(why)), out_y);
            return;
        }
        let mut both = self.vjp.borrow_mut();
        let r = self.model.rhs_vjp(t, y, p, w, &mut both);
        self.record(r, &mut both);
        let (dy, dp) = both.split_at(out_y.len());
        out_y.copy_from_slice(dy);
        out_p.copy_from_slice(dp);
    }

    fn y0_vjp(&self, p: &[f64], w: &[f64], out: &mut [f64]) {
        if p.is_empty() {
            return;
        }
        if self.initial.is_empty() {
            let r = self.model.y0_vjp(p, w, out);
            self.record(r, out);
            return;
        }
        // The elements given their own initial values do not depend on θ.
        let mut w = w.to_vec();
        for &(k, _) in &self.initial {
            w[k] = 0.0;
        }
        let r = self.model.y0_vjp(p, &w, out);
        self.record(r, out);
    }

    fn events(&self) -> &[EventSpec] {
        &self.events
    }

    fn algebraic(&self) -> &[bool] {
        &self.algebraic
    }

    fn state_name(&self, i: usize) -> Option<String> {
        self.state_names.get(i).cloned()
    }

    fn event_name(&self, k: usize) -> Option<String> {
        self.model.events().get(k).map(|e| e.label.clone())
    }

    fn event_conditions(&self, t: f64, y: &[f64], p: &[f64], g: &mut [f64]) {
        let r = self.model.event_conditions(t, y, p, g);
        self.record(r, g);
    }

    fn event_conditions_jac_mul(&self, t: f64, y: &[f64], p: &[f64], v: &[f64], out: &mut [f64]) {
        let r = self.model.event_conditions_jvp(1, t, y, p, v, out);
        self.record(r, out);
    }

    fn event_conditions_param_jac_mul(
        &self,
        t: f64,
        y: &[f64],
        p: &[f64],
        v: &[f64],
        out: &mut [f64],
    ) {
        if p.is_empty() {
            out.fill(0.0);
            return;
        }
        let r = self.model.event_conditions_jvp(2, t, y, p, v, out);
        self.record(r, out);
    }

    fn event_conditions_time_derivative(&self, t: f64, y: &[f64], p: &[f64], out: &mut [f64]) {
        let r = self.model.event_conditions_jvp(0, t, y, p, &[1.0], out);
        self.record(r, out);
    }

    fn event_times(&self, k: usize, _p: &[f64], span: (f64, f64)) -> Vec<f64> {
        (self.model.events().get(k)).map_or_else(Vec::new, |e| events::scheduled_times(e, span))
    }

    fn event_reset(&self, k: usize, t: f64, y: &[f64], p: &[f64], y_new: &mut [f64]) {
        self.reset_row(k, y_new, |rows| self.model.event_resets(t, y, p, rows));
    }

    fn event_reset_jac_mul(
        &self,
        k: usize,
        t: f64,
        y: &[f64],
        p: &[f64],
        v: &[f64],
        out: &mut [f64],
    ) {
        self.reset_row(k, out, |rows| {
            self.model.event_resets_jvp(1, t, y, p, v, rows)
        });
    }

    fn event_reset_param_jac_mul(
        &self,
        k: usize,
        t: f64,
        y: &[f64],
        p: &[f64],
        v: &[f64],
        out: &mut [f64],
    ) {
        if p.is_empty() {
            out.fill(0.0);
            return;
        }
        self.reset_row(k, out, |rows| {
            self.model.event_resets_jvp(2, t, y, p, v, rows)
        });
    }

    fn event_reset_time_derivative(&self, k: usize, t: f64, y: &[f64], p: &[f64], out: &mut [f64]) {
        self.reset_row(k, out, |rows| {
            self.model.event_resets_jvp(0, t, y, p, &[1.0], rows)
        });
    }
}
