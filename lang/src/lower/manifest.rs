//! The manifest of a model's module ([`sci_ir::Manifest`]): its time span, point sets,
//! data sources and events, and the roles of the functions the lowering writes and of their inputs.
//! Everything a host needs to solve or train the module is stated here, once, from the
//! checked model; nothing downstream reads the HIR again.

use super::loss::{LossInput, expval_pairs, loss_inputs};
use crate::hir::{self, ModelHir, ResidualId};
use sci_ir::manifest::{
    Coordinate, DataSource, Event, EventTrigger, InputRange, PointSet, Sampling,
};
use sci_ir::quantum::{GateAngle, PauliObservable, QuantumCircuit, QuantumGate};
use sci_ir::{InputRole, Layout, Manifest, Role};

/// The manifest facts of `model`, whose parameters θ are laid out as `params`.
pub(super) fn of_model(model: &ModelHir, params: &Layout) -> Manifest {
    let time_span = model
        .domains
        .iter()
        .find_map(|d| match d.coords.as_slice() {
            [c] if c.name == "t" => Some((c.lo, c.hi)),
            _ => None,
        });
    let point_sets = model
        .point_sets()
        .map(|(k, r)| {
            let coords = model
                .domains
                .get(r.domain.index())
                .map(|d| {
                    d.coords
                        .iter()
                        .map(|c| Coordinate {
                            name: c.name.clone(),
                            lo: c.lo,
                            hi: c.hi,
                        })
                        .collect()
                })
                .unwrap_or_default();
            PointSet {
                name: r.name.clone(),
                seed_index: k,
                coords,
                fixed: r.fixed.iter().map(|f| f.alternatives.clone()).collect(),
                points: r.points,
                sampling: match r.sampling {
                    hir::Sampling::Uniform => Sampling::Uniform,
                    hir::Sampling::LatinHypercube => Sampling::LatinHypercube,
                    hir::Sampling::Sobol => Sampling::Sobol,
                },
            }
        })
        .collect();
    let data = model
        .data
        .iter()
        .map(|d| DataSource {
            name: d.name.clone(),
            path: d.path.clone(),
            columns: d.columns.iter().map(|(n, _)| n.clone()).collect(),
            // Canonical form: no shapes recorded for a table of numbers.
            shapes: if d.shapes.iter().all(Vec::is_empty) {
                Vec::new()
            } else {
                d.shapes.clone()
            },
            paths: d.paths.clone(),
            test: d.test,
        })
        .collect();
    let events = model
        .events
        .iter()
        .map(|e| Event {
            label: e.label.clone(),
            trigger: match e.trigger {
                hir::EventTrigger::Crossing { rising, .. } => EventTrigger::Crossing { rising },
                hir::EventTrigger::Every { period, start } => EventTrigger::Every { period, start },
            },
            stop: e.stop,
        })
        .collect();
    let inputs = model
        .inputs
        .iter()
        .map(|i| InputRange {
            name: i.data.clone(),
            path: i.path.clone(),
            first: i.first,
            last: i.last,
        })
        .collect();
    let algebraic = (model.algebraic_states.iter())
        .filter_map(|s| model.states.get(s.index()).map(|st| st.name.clone()))
        .collect();
    let circuits = model
        .circuits
        .iter()
        .map(|c| circuit(model, params, c))
        .collect();
    // One observable per `expval` pair, on the pair's circuit's qubits.
    let observables = expval_pairs(model)
        .into_iter()
        .filter_map(|(c, o)| {
            let qubits = model.circuits.get(c.index())?.qubits;
            let o = model.observables.get(o.index())?;
            Some(PauliObservable {
                name: o.name.clone(),
                qubits,
                terms: o.terms.clone(),
            })
        })
        .collect();
    Manifest {
        time_span,
        point_sets,
        data,
        events,
        inputs,
        algebraic,
        circuits,
        observables,
    }
}

/// A circuit with its angles' parameter elements as positions in θ.
fn circuit(model: &ModelHir, params: &Layout, c: &hir::CircuitHir) -> QuantumCircuit {
    let offset = |p: hir::ParamId| {
        let name = &model.params.get(p.index())?.name;
        params.slot(name).map(|s| s.offset)
    };
    let gates = c
        .gates
        .iter()
        .map(|g| QuantumGate {
            kind: g.kind,
            qubits: g.qubits.clone(),
            angles: g
                .angles
                .iter()
                .map(|a| match a.param.and_then(|(p, k)| Some(offset(p)? + k)) {
                    Some(k) => GateAngle {
                        param: Some(k),
                        scale: a.scale,
                        offset: a.offset,
                    },
                    None => GateAngle::constant(a.offset),
                })
                .collect(),
        })
        .collect();
    QuantumCircuit {
        name: c.name.clone(),
        qubits: c.qubits,
        gates,
    }
}

/// The roles of `rhs` and `outputs`' inputs `(t, y, θ)`.
pub(super) fn ode_input_roles() -> Vec<InputRole> {
    vec![InputRole::Time, InputRole::State, InputRole::Params]
}

/// The roles of a circuit model's `outputs(θ, expvals…)` inputs: θ, then one expectation
/// value per pair of the outputs' `expval`s, each naming its observable's index in the
/// manifest (`expval_pairs`' order).
pub(super) fn circuit_output_input_roles(model: &ModelHir) -> Vec<InputRole> {
    let all = expval_pairs(model);
    let mut roles = vec![InputRole::Params];
    for (c, o) in super::loss::output_expval_pairs(model) {
        roles.push(InputRole::Expval {
            circuit: c.index(),
            observable: all.iter().position(|p| *p == (c, o)).unwrap_or(0),
        });
    }
    roles
}

/// The index of residual `id`'s point set in [`of_model`]'s `point_sets`.
fn point_set_index(model: &ModelHir, id: ResidualId) -> usize {
    let opener = model.point_set(id).index();
    model
        .point_sets()
        .position(|(k, _)| k == opener)
        .unwrap_or(0)
}

/// The role and input roles of residual `id`'s function `(θ, coords…)`.
pub(super) fn residual_roles(model: &ModelHir, id: ResidualId) -> (Role, Vec<InputRole>) {
    let Some(r) = model.residuals.get(id.index()) else {
        return (Role::Plain, Vec::new());
    };
    let set = point_set_index(model, id);
    let n_coords = model
        .domains
        .get(r.domain.index())
        .map_or(0, |d| d.coords.len());
    let mut inputs = vec![InputRole::Params];
    inputs.extend((0..n_coords).map(|coord| InputRole::Point { set, coord }));
    (Role::Residual(r.name.clone()), inputs)
}

/// The input roles of `loss(θ, batches…)`, in [`loss_inputs`] order.
pub(super) fn loss_input_roles(model: &ModelHir) -> Vec<InputRole> {
    let data_index = |name: &str| model.data.iter().position(|d| d.name == name).unwrap_or(0);
    let mut roles = vec![InputRole::Params];
    let pairs = expval_pairs(model);
    let mut pair = 0;
    for input in loss_inputs(model) {
        roles.push(match input {
            LossInput::Coord { residual, coord } => {
                let id = model
                    .residuals
                    .iter()
                    .position(|r| r.name == residual)
                    .map_or(ResidualId(0), |k| ResidualId(k as u32));
                let coord = model
                    .residuals
                    .get(id.index())
                    .and_then(|r| model.domains.get(r.domain.index()))
                    .and_then(|d| d.coords.iter().position(|c| c.name == coord))
                    .unwrap_or(0);
                InputRole::Point {
                    set: point_set_index(model, id),
                    coord,
                }
            }
            LossInput::Data { data, .. } => InputRole::Data {
                data: data_index(&data),
            },
            LossInput::Trajectory {
                data, time_column, ..
            } => InputRole::Trajectory {
                data: data_index(&data),
                time_column,
            },
            LossInput::Expval { .. } => {
                let circuit = pairs.get(pair).map_or(0, |(c, _)| c.index());
                pair += 1;
                InputRole::Expval {
                    circuit,
                    observable: pair - 1,
                }
            }
        });
    }
    roles
}
