//! Expectation values of quantum circuits as loss inputs: the manifest's circuits and
//! observables ([`sci_ir::quantum`]) turned into the simulator's ([`sci_stdlib::quantum`]),
//! and the loss inputs with the role `expval(C, O)` filled from one [`Simulator`].
//!
//! A loss reads `E = ⟨ψ(θ)|H|ψ(θ)⟩` as a scalar input, so the compiled loss never sees the
//! circuit: the trainer simulates it before each evaluation, and chains the gradient as it
//! does for ODE trajectories, `dL/dθ = ∂L/∂θ + Σ_E (∂L/∂E) · dE/dθ`, with `dE/dθ` from the
//! adjoint method (two state vectors, whatever the number of parameters) and `∂L/∂E` from
//! the loss's derivative in that input (`grad.loss.NAME`, which the compiler builds for
//! every `expval` input).

use sci_ir::quantum::{GateAngle, GateKind, PauliObservable, QuantumCircuit};
use sci_ir::{InputRole, Manifest};
use sci_stdlib::Error;
use sci_stdlib::quantum::{Angle, Circuit, Gate, Observable, Pauli, Simulator};

// The IR validator's limit is the simulator's, so a valid module is one it can simulate.
const _: () = assert!(sci_ir::quantum::MAX_QUBITS == sci_stdlib::quantum::MAX_QUBITS);

/// The simulator's circuit for a manifest circuit. A gate with the wrong number of angles
/// (the validator rejects it) is an error, not a panic.
pub fn circuit(c: &QuantumCircuit) -> Result<Circuit, Error> {
    let mut out = Circuit::new(c.qubits);
    for (i, g) in c.gates.iter().enumerate() {
        let angles: Vec<Angle> = g.angles.iter().map(angle).collect();
        let one = || match angles[..] {
            [a] => Ok(a),
            _ => Err(wrong_angles(c, i, angles.len(), 1)),
        };
        let gate = match g.kind {
            GateKind::H => Gate::H,
            GateKind::X => Gate::X,
            GateKind::Y => Gate::Y,
            GateKind::Z => Gate::Z,
            GateKind::S => Gate::S,
            GateKind::Sdg => Gate::Sdg,
            GateKind::T => Gate::T,
            GateKind::Tdg => Gate::Tdg,
            GateKind::Rx => Gate::Rx(one()?),
            GateKind::Ry => Gate::Ry(one()?),
            GateKind::Rz => Gate::Rz(one()?),
            GateKind::Phase => Gate::Phase(one()?),
            GateKind::U => match angles[..] {
                [theta, phi, lambda] => Gate::U([theta, phi, lambda]),
                _ => return Err(wrong_angles(c, i, angles.len(), 3)),
            },
            GateKind::Cnot => Gate::Cnot,
            GateKind::Cz => Gate::Cz,
            GateKind::Swap => Gate::Swap,
            GateKind::Crx => Gate::Crx(one()?),
            GateKind::Cry => Gate::Cry(one()?),
            GateKind::Crz => Gate::Crz(one()?),
            GateKind::Rxx => Gate::Rxx(one()?),
            GateKind::Ryy => Gate::Ryy(one()?),
            GateKind::Rzz => Gate::Rzz(one()?),
        };
        if g.angles.len() != g.kind.angles() {
            return Err(wrong_angles(c, i, g.angles.len(), g.kind.angles()));
        }
        out.push(gate, &g.qubits);
    }
    Ok(out)
}

fn angle(a: &GateAngle) -> Angle {
    match a.param {
        None => Angle::constant(a.offset),
        Some(k) => Angle::affine(k, a.scale, a.offset),
    }
}

fn wrong_angles(c: &QuantumCircuit, gate: usize, given: usize, wanted: usize) -> Error {
    Error::input(format!(
        "Gate {gate} of the circuit `{}` has {given} angle(s), but `{}` takes {wanted}.",
        c.name,
        c.gates.get(gate).map_or("?", |g| g.kind.name())
    ))
}

/// The simulator's observable for a manifest observable.
pub fn observable(o: &PauliObservable) -> Observable {
    Observable::from_terms(o.terms.iter().map(|t| {
        let factors = t.factors.iter().map(|&(p, q)| (pauli(p), q)).collect();
        (t.coeff, factors)
    }))
}

fn pauli(p: sci_ir::quantum::Pauli) -> Pauli {
    match p {
        sci_ir::quantum::Pauli::X => Pauli::X,
        sci_ir::quantum::Pauli::Y => Pauli::Y,
        sci_ir::quantum::Pauli::Z => Pauli::Z,
    }
}

/// One `expval(C, O)` input of the loss.
struct ExpvalInput {
    /// Index of the input among the loss inputs after θ.
    input: usize,
    name: String,
    /// Indices into [`Expvals::circuits`] and [`Expvals::observables`].
    circuit: usize,
    observable: usize,
    /// `dE/dθ` at the last [`Expvals::fill`] with gradients (θ's length).
    grad: Vec<f64>,
}

/// The loss's `expval` inputs with the circuits and observables they read, converted once,
/// and the simulator whose buffers every evaluation reuses.
pub(crate) struct Expvals {
    inputs: Vec<ExpvalInput>,
    circuits: Vec<Circuit>,
    observables: Vec<Observable>,
    simulator: Simulator,
}

impl Expvals {
    /// The `expval` inputs among `roles` (the loss inputs after θ, named `names`), for θ of
    /// `n_params` elements.
    pub(crate) fn new(
        manifest: &Manifest,
        roles: &[InputRole],
        names: &[String],
        n_params: usize,
    ) -> Result<Expvals, Error> {
        let mut out = Expvals {
            inputs: Vec::new(),
            circuits: Vec::new(),
            observables: Vec::new(),
            simulator: Simulator::new(),
        };
        // Manifest index → index in `circuits` / `observables` (each converted once).
        let mut circuit_at: Vec<(usize, usize)> = Vec::new();
        let mut observable_at: Vec<(usize, usize)> = Vec::new();
        for (k, role) in roles.iter().enumerate() {
            let InputRole::Expval {
                circuit: c,
                observable: o,
            } = *role
            else {
                continue;
            };
            let missing = |what: &str, i: usize| {
                Error::numerical(format!("the model has no {what} {i} (loss input {k})"))
            };
            let circuit = match circuit_at.iter().find(|(m, _)| *m == c) {
                Some(&(_, i)) => i,
                None => {
                    let ir = manifest
                        .circuits
                        .get(c)
                        .ok_or_else(|| missing("circuit", c))?;
                    out.circuits.push(circuit(ir)?);
                    circuit_at.push((c, out.circuits.len() - 1));
                    out.circuits.len() - 1
                }
            };
            let observable = match observable_at.iter().find(|(m, _)| *m == o) {
                Some(&(_, i)) => i,
                None => {
                    let ir =
                        (manifest.observables.get(o)).ok_or_else(|| missing("observable", o))?;
                    out.observables.push(observable(ir));
                    observable_at.push((o, out.observables.len() - 1));
                    out.observables.len() - 1
                }
            };
            out.inputs.push(ExpvalInput {
                input: k,
                name: names.get(k).cloned().unwrap_or_default(),
                circuit,
                observable,
                grad: vec![0.0; n_params],
            });
        }
        Ok(out)
    }

    /// True when the loss reads no expectation value.
    pub(crate) fn is_empty(&self) -> bool {
        self.inputs.is_empty()
    }

    /// Whether loss input `k` is an expectation value.
    pub(crate) fn is_input(&self, k: usize) -> bool {
        self.inputs.iter().any(|e| e.input == k)
    }

    /// Writes each expectation value at θ = `p` into its input's buffer (one number), and
    /// with `grad` also keeps its gradient `dE/dθ` for [`Expvals::chain`]. Once the
    /// buffers have their sizes, nothing is allocated.
    pub(crate) fn fill(
        &mut self,
        p: &[f64],
        buffers: &mut [Vec<f64>],
        grad: bool,
    ) -> Result<(), Error> {
        for e in &mut self.inputs {
            let (c, h) = (&self.circuits[e.circuit], &self.observables[e.observable]);
            let value = if grad {
                e.grad.resize(p.len(), 0.0);
                self.simulator.expval_and_grad(c, p, h, &mut e.grad)?
            } else {
                self.simulator.expval(c, p, h)?
            };
            let buffer = &mut buffers[e.input];
            buffer.clear();
            buffer.push(value);
        }
        Ok(())
    }

    /// Adds `Σ_E (∂L/∂E) · dE/dθ` to `grad`, `dl_de(name, &mut [∂L/∂E])` giving the loss's
    /// derivative in the input called `name` (the gradients kept by the last
    /// [`Expvals::fill`] with gradients).
    pub(crate) fn chain(
        &self,
        grad: &mut [f64],
        mut dl_de: impl FnMut(&str, &mut [f64]) -> Result<(), Error>,
    ) -> Result<(), Error> {
        for e in &self.inputs {
            let mut g = [0.0];
            dl_de(&e.name, &mut g)?;
            if g[0] == 0.0 {
                continue;
            }
            for (out, d) in grad.iter_mut().zip(&e.grad) {
                *out += g[0] * d;
            }
        }
        Ok(())
    }

    /// Each expectation value's input name and index among the loss inputs, in order.
    pub(crate) fn names(&self) -> impl Iterator<Item = (&str, usize)> {
        self.inputs.iter().map(|e| (e.name.as_str(), e.input))
    }
}

/// What a trained module's circuits give at θ, for a run's summary: each expectation value
/// the loss reads (`expval(psi, H) = …`), then per circuit its most probable basis states
/// (`psi: 101010 0.4123, …`, bits in qubit order, qubit 0 first; at most `top`, each at
/// least 0.1 % likely).
pub fn summary(module: &sci_ir::Module, theta: &[f64], top: usize) -> Result<Vec<String>, Error> {
    let manifest = &module.manifest;
    let mut lines = Vec::new();
    let mut sim = Simulator::new();
    if let Some(loss) = module
        .function_with_role(&sci_ir::Role::Loss)
        .and_then(|f| module.functions.get(f))
    {
        for role in &loss.input_roles {
            let InputRole::Expval {
                circuit: c,
                observable: o,
            } = role
            else {
                continue;
            };
            let (Some(qc), Some(po)) = (manifest.circuits.get(*c), manifest.observables.get(*o))
            else {
                continue;
            };
            let e = sim.expval(&circuit(qc)?, theta, &observable(po))?;
            lines.push(format!("expval({}, {}) = {e:.10e}", qc.name, po.name));
        }
    }
    for (name, values) in outputs(module, theta)? {
        let shown: Vec<String> = values.iter().map(|x| format!("{x:.10e}")).collect();
        match &shown[..] {
            [one] => lines.push(format!("output {name} = {one}")),
            _ => lines.push(format!("output {name} = [{}]", shown.join(", "))),
        }
    }
    for qc in &manifest.circuits {
        let state = sim.run(&circuit(qc)?, theta)?;
        let probabilities = sci_stdlib::quantum::probabilities(state);
        let mut ranked: Vec<(usize, f64)> = probabilities.into_iter().enumerate().collect();
        ranked.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
        let outcomes: Vec<String> = ranked
            .iter()
            .take(top)
            .filter(|(_, p)| *p >= 1e-3)
            .map(|&(i, p)| format!("{} {p:.4}", bits(i, qc.qubits)))
            .collect();
        lines.push(format!(
            "{}: most likely outcomes (qubit 0 first): {}",
            qc.name,
            outcomes.join(", ")
        ));
    }
    Ok(lines)
}

/// The outputs of a circuit model at `theta`, by name (`output energy = expval(psi, H)`):
/// each `expval` input of its `outputs(θ, expvals…)` function simulated, the function
/// evaluated by the reference interpreter (a handful of operations). Empty for a module
/// without such a function.
pub fn outputs(module: &sci_ir::Module, theta: &[f64]) -> Result<Vec<(String, Vec<f64>)>, Error> {
    let Some(id) = module.function_with_role(&sci_ir::Role::Outputs) else {
        return Ok(Vec::new());
    };
    let Some(f) = module.functions.get(id) else {
        return Ok(Vec::new());
    };
    // ODE models' outputs take (t, y, θ): not this function's business.
    if f.input_roles.first() != Some(&InputRole::Params) {
        return Ok(Vec::new());
    }
    // Input 0 is θ; every other input an expectation value, filled as the trainer fills
    // the loss's.
    if (1..f.input_roles.len()).any(|k| !matches!(f.input_roles[k], InputRole::Expval { .. })) {
        return Err(Error::numerical(format!(
            "the outputs of `{}` read an input other than expectation values",
            module.name
        )));
    }
    let mut expvals = Expvals::new(&module.manifest, &f.input_roles, &[], theta.len())?;
    let mut buffers = vec![Vec::new(); f.input_roles.len()];
    expvals.fill(theta, &mut buffers, false)?;
    let mut args = vec![sci_ir::Tensor::vector(theta.to_vec())];
    args.extend(
        buffers[1..]
            .iter()
            .map(|b| sci_ir::Tensor::scalar(b.first().copied().unwrap_or(f64::NAN))),
    );
    let values = sci_ir::eval(module, id, &args)
        .map_err(|e| Error::numerical(format!("evaluating the outputs: {e}")))?;
    Ok(module
        .outputs
        .slots
        .iter()
        .map(|slot| {
            let n = sci_ir::types::element_count(&slot.shape).unwrap_or(0);
            let values = values
                .data
                .get(slot.offset..slot.offset + n)
                .unwrap_or_default()
                .to_vec();
            (slot.name.clone(), values)
        })
        .collect())
}

/// A circuit's measured outcomes: its name, and each outcome seen (a bit string, qubit 0
/// first) with its count.
pub type CircuitCounts = (String, Vec<(String, usize)>);

/// `shots` seeded measurements of every circuit of `module` at `theta`: per circuit, its
/// name and the outcomes seen (bit strings, qubit 0 first) with their counts, most frequent
/// first (ties by outcome). The same `(theta, shots, seed)` gives the same counts everywhere.
pub fn sample_counts(
    module: &sci_ir::Module,
    theta: &[f64],
    shots: usize,
    seed: u64,
) -> Result<Vec<CircuitCounts>, Error> {
    let mut sim = Simulator::new();
    let mut out = Vec::new();
    for qc in &module.manifest.circuits {
        let state = sim.run(&circuit(qc)?, theta)?;
        let mut counts = std::collections::BTreeMap::new();
        for outcome in sci_stdlib::quantum::sample(state, shots, seed)? {
            *counts.entry(outcome).or_insert(0usize) += 1;
        }
        let mut ranked: Vec<(usize, usize)> = counts.into_iter().collect();
        ranked.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
        let named = ranked
            .into_iter()
            .map(|(i, n)| (bits(i, qc.qubits), n))
            .collect();
        out.push((qc.name.clone(), named));
    }
    Ok(out)
}

/// Outcome `i` of `qubits` qubits as a bit string, qubit 0 first.
fn bits(i: usize, qubits: usize) -> String {
    (0..qubits)
        .map(|q| if i >> q & 1 == 1 { '1' } else { '0' })
        .collect()
}
