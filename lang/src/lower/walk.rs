//! Iterative walks over HIR expressions: what an expression refers to, transitively.
//!
//! Everything here uses an explicit work list instead of recursion, so arbitrarily deep or
//! long HIR (a generated model with thousands of `let`s) cannot overflow the stack.

pub(super) use crate::hir::push_children;
use crate::hir::{
    DataId, FnInstanceId, HExpr, HExprKind, LetId, ModelHir, OutputId, Program, ResidualId, StateId,
};
use std::collections::BTreeSet;

/// Calls `f` on `root` and every sub-expression (not following references to other
/// definitions).
pub(super) fn for_each_node<'a>(root: &'a HExpr, mut f: impl FnMut(&'a HExpr)) {
    let mut stack = vec![root];
    while let Some(e) = stack.pop() {
        f(e);
        push_children(e, &mut stack);
    }
}

/// True if the expression itself (not following references) reads a per-point value:
/// a coordinate, a data column, a state at data times, a residual, or a `fn` parameter.
fn reads_point(e: &HExpr) -> bool {
    matches!(
        e.kind,
        HExprKind::Coord(_)
            | HExprKind::DataColumn { .. }
            | HExprKind::StateAt { .. }
            | HExprKind::Residual(_)
            | HExprKind::Local(_)
    )
}

/// Which `let`s and `output`s of a model depend on per-point values (and so must be
/// computed inside a `map` body rather than once at the top of a function).
#[derive(Clone, Debug, Default)]
pub(super) struct PointDependence {
    pub lets: Vec<bool>,
    pub outputs: Vec<bool>,
}

impl PointDependence {
    /// Computes the flags in declaration order; lets and outputs are in dependency order, so
    /// one pass suffices (a forward reference counts as independent; lowering then reports
    /// the broken order as a cycle or a missing value).
    pub fn of_model(model: &ModelHir) -> PointDependence {
        let mut pd = PointDependence {
            lets: vec![false; model.lets.len()],
            outputs: vec![false; model.outputs.len()],
        };
        for (k, l) in model.lets.iter().enumerate() {
            let flag = pd.expr(&l.defn.value);
            if let Some(slot) = pd.lets.get_mut(k) {
                *slot = flag;
            }
        }
        for (k, o) in model.outputs.iter().enumerate() {
            let flag = pd.expr(&o.defn.value);
            if let Some(slot) = pd.outputs.get_mut(k) {
                *slot = flag;
            }
        }
        pd
    }

    /// True if `e` depends on per-point values, directly or through lets and outputs.
    pub fn expr(&self, e: &HExpr) -> bool {
        let mut found = false;
        for_each_node(e, |n| {
            found |= reads_point(n)
                || match n.kind {
                    HExprKind::Let(l) => self.lets.get(l.index()).copied().unwrap_or(false),
                    HExprKind::Output(o) => self.outputs.get(o.index()).copied().unwrap_or(false),
                    _ => false,
                };
        });
        found
    }

    /// True for a point-dependent let.
    pub fn let_(&self, l: LetId) -> bool {
        self.lets.get(l.index()).copied().unwrap_or(false)
    }

    /// True for a point-dependent output.
    pub fn output(&self, o: OutputId) -> bool {
        self.outputs.get(o.index()).copied().unwrap_or(false)
    }
}

/// Everything an expression refers to, following lets, outputs, `der` and residuals.
#[derive(Clone, Debug, Default)]
pub(super) struct Refs {
    pub params: BTreeSet<u32>,
    pub states: BTreeSet<StateId>,
    pub lets: BTreeSet<LetId>,
    pub outputs: BTreeSet<OutputId>,
    pub ders: BTreeSet<StateId>,
    pub residuals: BTreeSet<ResidualId>,
    /// Data sets whose trajectories are read by `state(data.t)`.
    pub state_at_data: BTreeSet<DataId>,
    /// The time column of each of those data sets (the first one used, when a loss reads
    /// states at several columns of one data set).
    pub state_at_column: std::collections::BTreeMap<DataId, usize>,
    /// Function instances called directly from these expressions (not from inside callees).
    pub calls: BTreeSet<FnInstanceId>,
    /// True if the model time is read.
    pub time: bool,
}

impl Refs {
    /// The transitive references of `roots` within `model` (when given).
    pub fn collect<'a>(model: Option<&'a ModelHir>, roots: &[&'a HExpr]) -> Refs {
        let mut refs = Refs::default();
        let mut work: Vec<&'a HExpr> = roots.to_vec();
        while let Some(root) = work.pop() {
            let mut follow: Vec<&'a HExpr> = Vec::new();
            for_each_node(root, |n| refs.note(model, n, &mut follow));
            work.extend(follow);
        }
        refs
    }

    fn note<'a>(&mut self, model: Option<&'a ModelHir>, n: &HExpr, follow: &mut Vec<&'a HExpr>) {
        match &n.kind {
            HExprKind::Param(p) => {
                self.params.insert(p.0);
            }
            HExprKind::State(s) => {
                self.states.insert(*s);
            }
            HExprKind::Let(l) => {
                if self.lets.insert(*l)
                    && let Some(def) = model.and_then(|m| m.lets.get(l.index()))
                {
                    follow.push(&def.defn.value);
                }
            }
            HExprKind::Output(o) => {
                if self.outputs.insert(*o)
                    && let Some(def) = model.and_then(|m| m.outputs.get(o.index()))
                {
                    follow.push(&def.defn.value);
                }
            }
            HExprKind::Der(s) => {
                if self.ders.insert(*s)
                    && let Some(rhs) = model
                        .and_then(|m| m.states.get(s.index()))
                        .and_then(|st| st.rhs.as_ref())
                {
                    follow.push(&rhs.value);
                }
            }
            HExprKind::Residual(r) => {
                if self.residuals.insert(*r)
                    && let Some(res) = model.and_then(|m| m.residuals.get(r.index()))
                {
                    follow.push(&res.value);
                }
            }
            HExprKind::StateAt { data, column, .. } => {
                self.state_at_data.insert(*data);
                self.state_at_column.entry(*data).or_insert(*column);
            }
            HExprKind::Call { func, .. } => {
                self.calls.insert(*func);
            }
            HExprKind::Time => self.time = true,
            _ => {}
        }
    }
}

/// Every expression of a model that lowering may compile (initial values, right-hand sides,
/// lets, outputs, residuals, the loss).
pub(super) fn model_roots(model: &ModelHir) -> Vec<&HExpr> {
    let mut roots = Vec::new();
    for s in &model.states {
        roots.push(&s.init.value);
        if let Some(rhs) = &s.rhs {
            roots.push(&rhs.value);
        }
    }
    roots.extend(model.lets.iter().map(|l| &l.defn.value));
    roots.extend(model.outputs.iter().map(|o| &o.defn.value));
    roots.extend(model.residuals.iter().map(|r| &r.value));
    roots.extend(model.loss.iter());
    roots.extend(model.events.iter().flat_map(event_roots));
    roots.extend(model.algebraic.iter());
    roots
}

/// The expressions of an event: its crossing function and its new values.
pub(super) fn event_roots(e: &crate::hir::EventHir) -> Vec<&HExpr> {
    let mut roots: Vec<&HExpr> = e.resets.iter().map(|r| &r.value).collect();
    if let crate::hir::EventTrigger::Crossing { g, .. } = &e.trigger {
        roots.push(g);
    }
    roots
}

/// The function instances called from `roots` (of `program`), directly or through other
/// instances.
pub(super) fn called_instances(program: &Program, roots: &[&HExpr]) -> BTreeSet<FnInstanceId> {
    let mut all = BTreeSet::new();
    let mut work: Vec<FnInstanceId> = Refs::collect(None, roots).calls.into_iter().collect();
    while let Some(id) = work.pop() {
        if !all.insert(id) {
            continue;
        }
        if let Some(f) = program.functions.get(id.index()) {
            work.extend(Refs::collect(None, &[&f.body]).calls);
        }
    }
    all
}
