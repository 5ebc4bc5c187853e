//! Checks of the module manifest: the time span and point sets are well formed, every
//! input role names a point set or data source that exists and has the type its meaning
//! implies, and no two functions claim the same role (a host finds functions by role).
//! Circuits and observables are checked here once, so the runtime can simulate any valid
//! module without finding out mid-training that a gate is malformed.

use super::{ValidationError, module_error};
use crate::manifest::{EventTrigger, InputRole, Manifest, Role};
use crate::module::{Function, Module};
use crate::quantum::{MAX_QUBITS, PauliObservable, QuantumCircuit};
use crate::types::{DType, Type};
use std::collections::HashSet;

/// Appends the manifest's problems to `errors`.
pub(super) fn check_manifest(m: &Module, errors: &mut Vec<ValidationError>) {
    check_facts(&m.manifest, errors);
    check_events(m, errors);
    for circuit in &m.manifest.circuits {
        check_circuit(circuit, m.params.len, errors);
    }
    for observable in &m.manifest.observables {
        check_observable(observable, errors);
    }
    let mut roles = HashSet::new();
    for (_, f) in m.functions.iter() {
        if f.role.is_conventional() && !roles.insert(&f.role) {
            errors.push(function_error(
                f,
                format!("Two functions have the role `{}`.", f.role),
            ));
        }
        check_inputs(m, f, errors);
    }
}

fn check_facts(manifest: &Manifest, errors: &mut Vec<ValidationError>) {
    if let Some((t0, t1)) = manifest.time_span
        && !(t0.is_finite() && t1.is_finite() && t0 < t1)
    {
        errors.push(module_error(format!(
            "The time span [{t0}, {t1}] is not a finite interval with t0 < t1."
        )));
    }
    for set in &manifest.point_sets {
        if set.coords.is_empty() {
            errors.push(module_error(format!(
                "The point set `{}` has no coordinates.",
                set.name
            )));
        }
        for c in &set.coords {
            if !(c.lo.is_finite() && c.hi.is_finite() && c.lo <= c.hi) {
                errors.push(module_error(format!(
                    "The coordinate `{}` of point set `{}` has bounds [{}, {}], not a finite \
                     interval.",
                    c.name, set.name, c.lo, c.hi
                )));
            }
        }
        for &(c, v) in set.fixed.iter().flatten() {
            if c >= set.coords.len() || !v.is_finite() {
                errors.push(module_error(format!(
                    "The point set `{}` fixes coordinate {c} to {v}, but it has {} \
                     coordinate(s) and fixings must be finite.",
                    set.name,
                    set.coords.len()
                )));
            }
        }
    }
}

/// A circuit: 1 to [`MAX_QUBITS`] qubits; every gate on as many distinct qubits in range
/// as its kind acts on, with as many angles as it takes, each finite and reading an
/// element of θ (`n_params` long) that exists.
fn check_circuit(c: &QuantumCircuit, n_params: usize, errors: &mut Vec<ValidationError>) {
    if c.qubits == 0 || c.qubits > MAX_QUBITS {
        errors.push(module_error(format!(
            "The circuit `{}` has {} qubits; a circuit has 1 to {MAX_QUBITS} (its state is \
             2^n amplitudes).",
            c.name, c.qubits
        )));
    }
    for (i, gate) in c.gates.iter().enumerate() {
        let kind = gate.kind.name();
        let at = format!("Gate {i} (`{kind}`) of the circuit `{}`", c.name);
        if gate.qubits.len() != gate.kind.qubits() {
            errors.push(module_error(format!(
                "{at} acts on {} qubit(s), but `{kind}` acts on {}.",
                gate.qubits.len(),
                gate.kind.qubits()
            )));
        }
        if gate.angles.len() != gate.kind.angles() {
            errors.push(module_error(format!(
                "{at} has {} angle(s), but `{kind}` takes {}.",
                gate.angles.len(),
                gate.kind.angles()
            )));
        }
        for (j, &q) in gate.qubits.iter().enumerate() {
            if q >= c.qubits {
                errors.push(module_error(format!(
                    "{at} acts on qubit {q}, but the circuit has {} qubit(s), numbered from 0.",
                    c.qubits
                )));
            }
            if gate.qubits[..j].contains(&q) {
                errors.push(module_error(format!("{at} acts on qubit {q} twice.")));
            }
        }
        for angle in &gate.angles {
            if !(angle.scale.is_finite() && angle.offset.is_finite()) {
                errors.push(module_error(format!(
                    "{at} has the angle `{}`, whose scale and offset must be finite.",
                    crate::print::format_angle(angle)
                )));
            }
            if let Some(k) = angle.param
                && k >= n_params
            {
                errors.push(module_error(format!(
                    "{at} reads θ[{k}], but θ has {n_params} element(s)."
                )));
            }
        }
    }
}

/// An observable: at most [`MAX_QUBITS`] qubits, finite coefficients, and each term's
/// factors on qubits in range, in increasing order (so each qubit once).
fn check_observable(o: &PauliObservable, errors: &mut Vec<ValidationError>) {
    if o.qubits > MAX_QUBITS {
        errors.push(module_error(format!(
            "The observable `{}` has {} qubits; at most {MAX_QUBITS} are simulated.",
            o.name, o.qubits
        )));
    }
    for (k, term) in o.terms.iter().enumerate() {
        let at = format!("Term {k} of the observable `{}`", o.name);
        if !term.coeff.is_finite() {
            errors.push(module_error(format!(
                "{at} has the coefficient {}, which must be finite.",
                term.coeff
            )));
        }
        if let Some(&(p, q)) = term.factors.iter().find(|(_, q)| *q >= o.qubits) {
            errors.push(module_error(format!(
                "{at} has the factor {}{q}, but the observable has {} qubit(s), numbered \
                 from 0.",
                p.letter(),
                o.qubits
            )));
        }
        if term.factors.windows(2).any(|w| w[0].1 >= w[1].1) {
            let qubits: Vec<usize> = term.factors.iter().map(|(_, q)| *q).collect();
            errors.push(module_error(format!(
                "{at} has factors on the qubits {qubits:?}; they must be distinct and in \
                 increasing order."
            )));
        }
    }
}

/// Events: a finite positive period and start, and `events` / `event_resets` with one
/// entry (one row of the state) per event.
fn check_events(m: &Module, errors: &mut Vec<ValidationError>) {
    let events = &m.manifest.events;
    for e in events {
        if let EventTrigger::Every { period, start } = e.trigger
            && !(period.is_finite() && period > 0.0 && start.is_none_or(f64::is_finite))
        {
            errors.push(module_error(format!(
                "The event `{}` has period {period} and start {start:?}: the period must be \
                 positive and both finite.",
                e.label
            )));
        }
    }
    for name in &m.manifest.algebraic {
        if m.states.slot(name).is_none() {
            errors.push(module_error(format!(
                "The algebraic state `{name}` is not a slot of the states."
            )));
        }
    }
    for input in &m.manifest.inputs {
        if !(input.first.is_finite() && input.last.is_finite() && input.first < input.last) {
            errors.push(module_error(format!(
                "The input `{}` covers [{}, {}], not a finite interval.",
                input.name, input.first, input.last
            )));
        }
    }
    let expect = [
        (Role::EventConditions, events.len()),
        (Role::EventResets, events.len() * m.states.len),
    ];
    for (role, len) in expect {
        let f = m.function_with_role(&role).and_then(|f| m.functions.get(f));
        match (f, events.is_empty()) {
            (None, true) => {}
            (None, false) => errors.push(module_error(format!(
                "The manifest lists {} event(s) but the module has no `{role}` function.",
                events.len()
            ))),
            (Some(f), _) => {
                if f.result_type().map(|t| t.shape.as_slice()) != Some(&[len][..]) {
                    errors.push(function_error(
                        f,
                        format!(
                            "The `{role}` function must return f64[{len}] for {} event(s).",
                            events.len()
                        ),
                    ));
                }
            }
        }
    }
}

fn check_inputs(m: &Module, f: &Function, errors: &mut Vec<ValidationError>) {
    if f.input_roles.is_empty() {
        return;
    }
    if f.input_roles.len() != f.inputs().len() {
        errors.push(function_error(
            f,
            format!(
                "The function has {} inputs but {} input roles.",
                f.inputs().len(),
                f.input_roles.len()
            ),
        ));
        return;
    }
    for (k, role) in f.input_roles.iter().enumerate() {
        let Some(ty) = f.input_type(k) else {
            continue;
        };
        let scalar_points = Type::scalar().batched();
        let problem = match role {
            InputRole::Plain => None,
            InputRole::Time => (!is_plain(ty, &[])).then(|| "the time must be an f64".into()),
            InputRole::State => (!is_plain(ty, &[m.states.len]))
                .then(|| format!("the state must be f64[{}]", m.states.len)),
            InputRole::Params => (!is_plain(ty, &[m.params.len]))
                .then(|| format!("the parameters must be f64[{}]", m.params.len)),
            InputRole::Point { set, coord } => match m.manifest.point_sets.get(*set) {
                None => Some(format!("there is no point set {set}")),
                Some(s) if *coord >= s.coords.len() => Some(format!(
                    "the point set `{}` has no coordinate {coord}",
                    s.name
                )),
                Some(_) if !same_type(ty, &scalar_points) => {
                    Some("collocation points must be a batch of f64".into())
                }
                Some(_) => None,
            },
            InputRole::Data { data } => match m.manifest.data.get(*data) {
                None => Some(format!("there is no data source {data}")),
                Some(d) if !same_type(ty, &Type::f64(vec![d.row_len()]).batched()) => {
                    Some(format!(
                        "the rows of `{}` must be a batch of f64[{}]",
                        d.name,
                        d.row_len()
                    ))
                }
                Some(_) => None,
            },
            InputRole::Trajectory { data, time_column } => match m.manifest.data.get(*data) {
                None => Some(format!("there is no data source {data}")),
                Some(d) if *time_column >= d.columns.len() => Some(format!(
                    "the data source `{}` has no column {time_column}",
                    d.name
                )),
                Some(d) if d.column_len(*time_column) != 1 => Some(format!(
                    "the time column {time_column} of `{}` is not one number per row",
                    d.name
                )),
                Some(_) if !same_type(ty, &Type::f64(vec![m.states.len]).batched()) => Some(
                    format!("a trajectory must be a batch of f64[{}]", m.states.len),
                ),
                Some(_) => None,
            },
            InputRole::Expval {
                circuit,
                observable,
            } => match (
                m.manifest.circuits.get(*circuit),
                m.manifest.observables.get(*observable),
            ) {
                (None, _) => Some(format!("there is no circuit {circuit}")),
                (_, None) => Some(format!("there is no observable {observable}")),
                (Some(_), Some(_)) if !is_plain(ty, &[]) => {
                    Some("an expectation value must be an f64".into())
                }
                (Some(c), Some(o)) if c.qubits != o.qubits => Some(format!(
                    "the circuit `{}` has {} qubit(s) but the observable `{}` has {}",
                    c.name, c.qubits, o.name, o.qubits
                )),
                _ => None,
            },
            InputRole::Tangent { of } => {
                (*of >= k).then(|| format!("a tangent of input {of} must come after it"))
            }
            InputRole::Cotangent => None,
            InputRole::Invariant => {
                (!matches!(f.role, crate::Role::Split(crate::SplitPart::Update, _))
                    || ty.dtype != DType::F64
                    || ty.batched
                    || ty.shape.len() != 1)
                    .then(|| "the invariant values are an f64 vector of an update function".into())
            }
            InputRole::Argument(_) => {
                (!is_plain(ty, &[])).then(|| "a network's argument must be an f64".into())
            }
        };
        if let Some(problem) = problem {
            errors.push(function_error(
                f,
                format!("Input {k} cannot be {}: {problem}.", role_text(role)),
            ));
        }
    }
}

fn role_text(role: &InputRole) -> String {
    crate::print::format_input_role(role)
}

/// `ty` is an unbatched f64 of shape `shape` (units aside).
fn is_plain(ty: &Type, shape: &[usize]) -> bool {
    ty.dtype == DType::F64 && !ty.batched && ty.shape.as_slice() == shape
}

/// Same dtype, shape and batching (units aside).
fn same_type(a: &Type, b: &Type) -> bool {
    a.dtype == b.dtype && a.batched == b.batched && a.shape == b.shape
}

fn function_error(f: &Function, message: String) -> ValidationError {
    let mut e = module_error(message);
    e.function = f.name.clone();
    e
}
