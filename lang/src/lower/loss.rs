//! The functions of a loss model: `residual.NAME(θ, coords…)` and `loss(θ, batches…)`.
//!
//! Batched values exist only as function inputs and `map` results: every expression over
//! points (a residual, a data row) is lowered inside a `map` body whose arguments are the
//! per-point inputs, and `mean(...)` over the points is a `reduce_batch` of that map.

use super::cx::{FnCx, Point, Statics};
use super::walk::Refs;
use super::{Res, diag};
use crate::hir::{
    BatchKind, Binary, CircuitId, DataId, HExpr, HExprKind, ModelHir, ObservableId, Reduction,
    ResidualHir, ResidualId, Unary,
};
use sci_diag::Span;
use sci_ir::{Function, Op, Type, ValueId};

/// One input of a model's `loss` function after θ, in order.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum LossInput {
    /// One coordinate of a residual's collocation points (`batch f64`), named
    /// `RESIDUAL.COORD`.
    Coord { residual: String, coord: String },
    /// The rows of a data set (`batch f64[n]`: the elements of its columns one after the
    /// other, in declared order), named `DATA`.
    Data { data: String, columns: usize },
    /// The state vector `y` at each row's time (`batch f64[n_states]`), named `DATA.traj`;
    /// the runtime fills it after solving the ODE. The times are the data set's column
    /// `time_column` (the argument of `prey(obs.t)`).
    Trajectory {
        data: String,
        states: usize,
        time_column: usize,
    },
    /// The expectation value of observable `observable` in the state circuit `circuit`
    /// prepares (`f64`), named `expval.CIRCUIT.OBSERVABLE`; the runtime fills it from a
    /// state-vector simulation at θ.
    Expval { circuit: String, observable: String },
}

impl LossInput {
    /// The input's name in the IR.
    pub fn name(&self) -> String {
        match self {
            LossInput::Coord { residual, coord } => format!("{residual}.{coord}"),
            LossInput::Data { data, .. } => data.clone(),
            LossInput::Trajectory { data, .. } => format!("{data}.traj"),
            LossInput::Expval {
                circuit,
                observable,
            } => format!("expval.{circuit}.{observable}"),
        }
    }
}

/// The inputs of `loss` after θ: per point set (declaration order of the residual that
/// opens it, [`ModelHir::point_set`]) one per coordinate of its domain, named after that
/// residual; per data set (declaration order) its rows; then per data set whose states the
/// loss reads (`prey(obs.t)`) its trajectory. Empty for a model without a loss.
pub fn loss_inputs(model: &ModelHir) -> Vec<LossInput> {
    let Some(loss) = &model.loss else {
        return Vec::new();
    };
    let mut out = Vec::new();
    for (_, r) in model.point_sets() {
        if let Some(domain) = model.domains.get(r.domain.index()) {
            out.extend(domain.coords.iter().map(|c| LossInput::Coord {
                residual: r.name.clone(),
                coord: c.name.clone(),
            }));
        }
    }
    out.extend(model.data.iter().map(|d| LossInput::Data {
        data: d.name.clone(),
        columns: d.row_len(),
    }));
    let refs = Refs::collect(Some(model), &[loss]);
    let traj = refs.state_at_data;
    let n_states: usize = model
        .states
        .iter()
        .map(|s| s.shape.iter().product::<usize>())
        .sum();
    out.extend(
        model
            .data
            .iter()
            .enumerate()
            .filter(|(k, _)| traj.contains(&DataId(*k as u32)))
            .map(|(k, d)| LossInput::Trajectory {
                data: d.name.clone(),
                states: n_states,
                time_column: refs
                    .state_at_column
                    .get(&DataId(k as u32))
                    .copied()
                    .unwrap_or(0),
            }),
    );
    out.extend(loss_expval_pairs(model).into_iter().filter_map(|(c, o)| {
        Some(LossInput::Expval {
            circuit: model.circuits.get(c.index())?.name.clone(),
            observable: model.observables.get(o.index())?.name.clone(),
        })
    }));
    out
}

/// The `(circuit, observable)` pairs of the loss's `expval`s, in order of first use.
pub fn loss_expval_pairs(model: &ModelHir) -> Vec<(CircuitId, ObservableId)> {
    pairs_in(model.loss.iter())
}

/// The `(circuit, observable)` pairs of the outputs' `expval`s, in order of first use.
pub fn output_expval_pairs(model: &ModelHir) -> Vec<(CircuitId, ObservableId)> {
    pairs_in(model.outputs.iter().map(|o| &o.defn.value))
}

/// Every `(circuit, observable)` pair of the model: the loss's, then the outputs' that the
/// loss does not use. The manifest's observables are in this order, one per pair.
pub fn expval_pairs(model: &ModelHir) -> Vec<(CircuitId, ObservableId)> {
    let mut pairs = loss_expval_pairs(model);
    for pair in output_expval_pairs(model) {
        if !pairs.contains(&pair) {
            pairs.push(pair);
        }
    }
    pairs
}

/// The pairs of the `expval`s in `roots`, in order of first use (span start).
fn pairs_in<'a>(roots: impl Iterator<Item = &'a HExpr> + Clone) -> Vec<(CircuitId, ObservableId)> {
    let mut first: Vec<((CircuitId, ObservableId), u32)> = Vec::new();
    for root in roots {
        root.visit(&mut |e| {
            if let HExprKind::Expval {
                circuit,
                observable,
            } = e.kind
            {
                match first.iter_mut().find(|(p, _)| *p == (circuit, observable)) {
                    Some((_, at)) => *at = (*at).min(e.span.start),
                    None => first.push(((circuit, observable), e.span.start)),
                }
            }
        });
    }
    // `visit` walks a stack (last child first): restore source order.
    first.sort_by_key(|&(_, at)| at);
    first.into_iter().map(|(p, _)| p).collect()
}

/// The batched coordinate types of a residual's points, named after the coordinates.
fn coord_inputs(model: &ModelHir, r: &ResidualHir) -> Res<Vec<(String, Type)>> {
    let domain = model
        .domains
        .get(r.domain.index())
        .ok_or_else(|| diag::internal(r.span, "the residual's domain does not exist"))?;
    Ok(domain
        .coords
        .iter()
        .map(|c| (c.name.clone(), Type::scalar().with_unit(c.unit).batched()))
        .collect())
}

/// `residual.NAME(θ: f64[p], c1: batch f64, …) -> batch f64`: the residual's value at each
/// point (without its weight).
pub(super) fn lower_residual(st: &Statics, id: ResidualId) -> Res<Function> {
    let model = st
        .model
        .ok_or_else(|| diag::internal(st.span, "a residual without a model"))?;
    let r = model
        .residuals
        .get(id.index())
        .ok_or_else(|| diag::internal(st.span, "a residual that does not exist"))?;
    let coords = coord_inputs(model, r)?;
    let mut inputs = vec![("θ".to_string(), Type::f64(vec![st.theta.layout.len]))];
    inputs.extend(coords.iter().cloned());
    let mut cx = FnCx::new(st, &format!("residual.{}", r.name), "a residual", inputs);
    cx.inputs.theta = Some(cx.input(0)?);
    let mut batch = Vec::with_capacity(coords.len());
    for k in 0..coords.len() {
        batch.push(cx.input(k + 1)?);
    }
    cx.prepare(&[&r.value])?;
    let per_point = coords
        .iter()
        .map(|(n, t)| (Some(n.clone()), t.per_point()))
        .collect();
    let args = cx.begin_block(per_point);
    cx.point = Some(Point::Residual { id, coords: args });
    let value = cx.expr(&r.value, None);
    cx.point = None;
    let value = value?;
    let ty = cx.ty(value)?;
    let block = cx.end_block(value);
    let out = cx.push(
        Op::Map {
            inputs: batch,
            body: block,
        },
        ty.batched(),
        Some(&r.name),
    );
    Ok(cx.finish(out))
}

/// `loss(θ: f64[p], batches…) -> f64`, inputs as [`loss_inputs`] says.
pub(super) fn lower_loss(st: &Statics, loss: &HExpr) -> Res<Function> {
    lower_loss_fn(st, "loss", loss)
}

/// The additive terms of a loss (`a + w * b - c` → `a`, `w * b`, `-c`), each labelled by
/// the first residual or data set it reads (`pde`, `obs`; `term{k}` when it reads none,
/// `_2`, `_3` … appended to a repeated label). One term: none (the loss is its own term).
pub fn loss_terms(model: &ModelHir, loss: &HExpr) -> Vec<(String, HExpr)> {
    fn split(e: &HExpr, negate: bool, out: &mut Vec<HExpr>) {
        match &e.kind {
            HExprKind::Binary(Binary::Add, a, b) => {
                split(a, negate, out);
                split(b, negate, out);
            }
            HExprKind::Binary(Binary::Sub, a, b) => {
                split(a, negate, out);
                split(b, !negate, out);
            }
            _ if negate => out.push(HExpr {
                kind: HExprKind::Unary(Unary::Neg, Box::new(e.clone())),
                ty: e.ty.clone(),
                span: e.span,
            }),
            _ => out.push(e.clone()),
        }
    }
    let mut terms = Vec::new();
    split(loss, false, &mut terms);
    if terms.len() < 2 {
        return Vec::new();
    }
    let mut labelled: Vec<(String, HExpr)> = Vec::with_capacity(terms.len());
    for (k, term) in terms.into_iter().enumerate() {
        let mut first: Option<String> = None;
        super::walk::for_each_node(&term, |n| {
            if first.is_some() {
                return;
            }
            first = match &n.kind {
                HExprKind::Residual(id) => model.residuals.get(id.index()).map(|r| r.name.clone()),
                HExprKind::DataColumn { data, .. } | HExprKind::StateAt { data, .. } => {
                    model.data.get(data.index()).map(|d| d.name.clone())
                }
                _ => None,
            };
        });
        let base = first.unwrap_or_else(|| format!("term{}", k + 1));
        let mut label = base.clone();
        let mut n = 1;
        while labelled.iter().any(|(l, _)| *l == label) {
            n += 1;
            label = format!("{base}_{n}");
        }
        labelled.push((label, term));
    }
    labelled
}

/// `loss_term.LABEL(θ, batches…)`: one term of the loss, with the loss's inputs.
pub(super) fn lower_loss_term(st: &Statics, label: &str, term: &HExpr) -> Res<Function> {
    lower_loss_fn(st, &format!("loss_term.{label}"), term)
}

/// A function of the loss's inputs that computes `loss` (the loss or one of its terms).
fn lower_loss_fn(st: &Statics, name: &str, loss: &HExpr) -> Res<Function> {
    let model = st
        .model
        .ok_or_else(|| diag::internal(st.span, "a loss without a model"))?;
    let layout = loss_inputs(model);
    let mut inputs = vec![("θ".to_string(), Type::f64(vec![st.theta.layout.len]))];
    for input in &layout {
        let ty = match input {
            LossInput::Coord { residual, coord } => model
                .residuals
                .iter()
                .find(|r| &r.name == residual)
                .and_then(|r| model.domains.get(r.domain.index()))
                .and_then(|d| d.coords.iter().find(|c| &c.name == coord))
                .map(|c| Type::scalar().with_unit(c.unit).batched())
                .unwrap_or_else(|| Type::scalar().batched()),
            LossInput::Data { columns, .. } => Type::f64(vec![*columns]).batched(),
            LossInput::Trajectory { states, .. } => Type::f64(vec![*states]).batched(),
            LossInput::Expval { .. } => Type::scalar(),
        };
        inputs.push((input.name(), ty));
    }
    let mut cx = FnCx::new(st, name, "the loss", inputs);
    cx.inputs.theta = Some(cx.input(0)?);
    let mut k = 1;
    for (rid, r) in model.residuals.iter().enumerate() {
        let id = ResidualId(rid as u32);
        let set = model.point_set(id);
        let vals = if set == id {
            let n = model
                .domains
                .get(r.domain.index())
                .map_or(0, |d| d.coords.len());
            let mut vals = Vec::with_capacity(n);
            for _ in 0..n {
                vals.push(cx.input(k)?);
                k += 1;
            }
            vals
        } else {
            // An earlier residual opened this point set: the same inputs.
            cx.inputs
                .batches
                .get(&BatchKind::Residual(set))
                .cloned()
                .ok_or_else(|| diag::internal(r.span, "a point set without inputs"))?
        };
        cx.inputs.batches.insert(BatchKind::Residual(id), vals);
    }
    for did in 0..model.data.len() {
        let row = cx.input(k)?;
        k += 1;
        cx.inputs
            .batches
            .insert(BatchKind::Data(DataId(did as u32)), vec![row]);
    }
    for input in &layout {
        if let LossInput::Trajectory { data, .. } = input {
            let traj = cx.input(k)?;
            k += 1;
            if let Some(did) = model.data.iter().position(|d| &d.name == data) {
                let kind = BatchKind::Data(DataId(did as u32));
                if let Some(vals) = cx.inputs.batches.get_mut(&kind) {
                    vals.push(traj);
                }
            }
        }
    }
    for (c, o) in loss_expval_pairs(model) {
        let value = cx.input(k)?;
        k += 1;
        cx.inputs.expvals.insert((c, o), value);
    }
    cx.prepare(&[loss])?;
    let out = cx.expr(loss, Some(name))?;
    Ok(cx.finish(out))
}

impl FnCx<'_, '_> {
    /// `reduce_batch op (map batch-inputs { per-point a })`.
    pub fn reduce_batch(
        &mut self,
        op: Reduction,
        a: &HExpr,
        ty: Type,
        name: Option<&str>,
        span: Span,
    ) -> Res<ValueId> {
        if self.point.is_some() {
            return Err(diag::internal(
                span,
                "a reduction over points is nested in another",
            ));
        }
        let kind = a
            .ty
            .batch
            .ok_or_else(|| diag::internal(span, "a reduction over points has nothing to reduce"))?;
        let inputs = self
            .inputs
            .batches
            .get(&kind)
            .cloned()
            .ok_or_else(|| diag::unavailable(span, "A batch of points", "this function"))?;
        let names = self.point_names(kind);
        let mut per_point = Vec::with_capacity(inputs.len());
        for (k, &v) in inputs.iter().enumerate() {
            per_point.push((names.get(k).cloned(), self.ty(v)?.per_point()));
        }
        let args = self.begin_block(per_point);
        self.point = Some(match kind {
            BatchKind::Residual(id) => Point::Residual { id, coords: args },
            BatchKind::Data(id) => Point::Data {
                id,
                row: *args
                    .first()
                    .ok_or_else(|| diag::internal(span, "a data set without rows"))?,
                traj: args.get(1).copied(),
            },
        });
        let value = self.expr(a, None);
        self.point = None;
        let value = value?;
        let point_ty = self.ty(value)?;
        let block = self.end_block(value);
        let mapped = self.push(
            Op::Map {
                inputs,
                body: block,
            },
            point_ty.batched(),
            None,
        );
        Ok(self.push(Op::ReduceBatch(op, mapped), ty, name))
    }

    /// Readable names for the per-point arguments of a map over `kind`.
    fn point_names(&self, kind: BatchKind) -> Vec<String> {
        let Some(model) = self.st.model else {
            return Vec::new();
        };
        match kind {
            BatchKind::Residual(r) => model
                .residuals
                .get(r.index())
                .and_then(|r| model.domains.get(r.domain.index()))
                .map(|d| d.coords.iter().map(|c| c.name.clone()).collect())
                .unwrap_or_default(),
            BatchKind::Data(d) => model
                .data
                .get(d.index())
                .map(|d| vec![format!("{}.row", d.name), format!("{}.y", d.name)])
                .unwrap_or_default(),
        }
    }
}
