//! A quantum circuit as plain data: how many qubits, and the gates in the order they act,
//! each with its qubits and angles; and the checks that make it safe to simulate.
//!
//! The language lowers a circuit declaration to this value, so it says *what* the circuit
//! is and nothing about how it is simulated. An angle is a constant or an affine function
//! `scale·θ[k] + offset` of one parameter, which is enough for the language to share a
//! parameter between many gates and to write `2*gamma[l]`; gradients are chain-ruled
//! through `scale`.
//!
//! Qubit order is little-endian everywhere in [`super`]: qubit 0 is the least significant
//! bit of a basis-state index.

use crate::Error;

/// The most qubits simulated: a state vector of 2³⁰ complex doubles is 16 GiB, and the
/// adjoint gradient holds two of them.
pub const MAX_QUBITS: usize = 30;

/// A gate's angle: a constant, or `scale·θ[index] + offset` for the parameter vector `θ`.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Angle {
    Const(f64),
    Param {
        index: usize,
        scale: f64,
        offset: f64,
    },
}

impl Angle {
    /// A constant angle.
    pub fn constant(value: f64) -> Angle {
        Angle::Const(value)
    }

    /// The parameter `θ[index]` itself.
    pub fn param(index: usize) -> Angle {
        Angle::affine(index, 1.0, 0.0)
    }

    /// `scale·θ[index] + offset`.
    pub fn affine(index: usize, scale: f64, offset: f64) -> Angle {
        Angle::Param {
            index,
            scale,
            offset,
        }
    }

    /// The angle's value for the parameters `theta`; NaN when `theta` has no entry
    /// `index` ([`Circuit::validate`] rejects such a circuit before it is simulated).
    pub fn value(&self, theta: &[f64]) -> f64 {
        match *self {
            Angle::Const(v) => v,
            Angle::Param {
                index,
                scale,
                offset,
            } => theta.get(index).map_or(f64::NAN, |t| scale * t + offset),
        }
    }
}

/// A gate. Two-qubit gates act on `qubits[0]`, `qubits[1]` of their [`Op`]; for the
/// controlled gates `qubits[0]` is the control and `qubits[1]` the target.
///
/// Definitions (the textbook ones, as in OpenQASM 3): `S = diag(1, i)`, `T = diag(1,
/// e^{iπ/4})`, `Sdg = S†`, `Tdg = T†`; rotations `R_P(θ) = exp(−iθP/2)` for `RX`, `RY`, `RZ`
/// and for `RXX`, `RYY`, `RZZ` with `P = X⊗X`, `Y⊗Y`, `Z⊗Z`; `CRX(θ) = |0⟩⟨0| ⊗ I + |1⟩⟨1| ⊗
/// RX(θ)` (control first), likewise `CRY`, `CRZ`, `CNOT` (`X`) and `CZ` (`Z`).
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Gate {
    H,
    X,
    Y,
    Z,
    S,
    Sdg,
    T,
    Tdg,
    Rx(Angle),
    Ry(Angle),
    Rz(Angle),
    /// `diag(1, e^{iφ})`.
    Phase(Angle),
    /// `U(θ, φ, λ) = [[cos θ/2, −e^{iλ} sin θ/2], [e^{iφ} sin θ/2, e^{i(φ+λ)} cos θ/2]]`
    /// (OpenQASM 3's `U`), angles in the order `[θ, φ, λ]`.
    U([Angle; 3]),
    Cnot,
    Cz,
    Swap,
    Crx(Angle),
    Cry(Angle),
    Crz(Angle),
    Rxx(Angle),
    Ryy(Angle),
    Rzz(Angle),
}

impl Gate {
    /// How many qubits the gate acts on (1 or 2).
    pub fn arity(&self) -> usize {
        match self {
            Gate::Cnot
            | Gate::Cz
            | Gate::Swap
            | Gate::Crx(_)
            | Gate::Cry(_)
            | Gate::Crz(_)
            | Gate::Rxx(_)
            | Gate::Ryy(_)
            | Gate::Rzz(_) => 2,
            _ => 1,
        }
    }

    /// The gate's angles (none for the fixed gates, three for `U`).
    pub fn angles(&self) -> &[Angle] {
        match self {
            Gate::Rx(a)
            | Gate::Ry(a)
            | Gate::Rz(a)
            | Gate::Phase(a)
            | Gate::Crx(a)
            | Gate::Cry(a)
            | Gate::Crz(a)
            | Gate::Rxx(a)
            | Gate::Ryy(a)
            | Gate::Rzz(a) => std::slice::from_ref(a),
            Gate::U(angles) => angles,
            _ => &[],
        }
    }

    /// The gate's name in messages.
    pub fn name(&self) -> &'static str {
        match self {
            Gate::H => "h",
            Gate::X => "x",
            Gate::Y => "y",
            Gate::Z => "z",
            Gate::S => "s",
            Gate::Sdg => "sdg",
            Gate::T => "t",
            Gate::Tdg => "tdg",
            Gate::Rx(_) => "rx",
            Gate::Ry(_) => "ry",
            Gate::Rz(_) => "rz",
            Gate::Phase(_) => "phase",
            Gate::U(_) => "u",
            Gate::Cnot => "cnot",
            Gate::Cz => "cz",
            Gate::Swap => "swap",
            Gate::Crx(_) => "crx",
            Gate::Cry(_) => "cry",
            Gate::Crz(_) => "crz",
            Gate::Rxx(_) => "rxx",
            Gate::Ryy(_) => "ryy",
            Gate::Rzz(_) => "rzz",
        }
    }
}

/// One gate applied to its qubits (`gate.arity()` of them; control first).
#[derive(Clone, Debug, PartialEq)]
pub struct Op {
    pub gate: Gate,
    pub qubits: Vec<usize>,
}

impl Op {
    /// `gate` on `qubits`.
    pub fn new(gate: Gate, qubits: &[usize]) -> Op {
        Op {
            gate,
            qubits: qubits.to_vec(),
        }
    }
}

/// A circuit: gates applied in order to `n_qubits` qubits that start in `|0…0⟩`.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Circuit {
    pub n_qubits: usize,
    pub ops: Vec<Op>,
}

impl Circuit {
    /// An empty circuit on `n_qubits` qubits.
    pub fn new(n_qubits: usize) -> Circuit {
        Circuit {
            n_qubits,
            ops: Vec::new(),
        }
    }

    /// Appends `gate` on `qubits` (checked when the circuit is simulated).
    pub fn push(&mut self, gate: Gate, qubits: &[usize]) -> &mut Circuit {
        self.ops.push(Op::new(gate, qubits));
        self
    }

    /// The fewest parameters the circuit can be given: one more than the highest index an
    /// angle uses (0 when no angle uses a parameter).
    pub fn n_params(&self) -> usize {
        self.ops
            .iter()
            .flat_map(|op| op.gate.angles())
            .filter_map(|a| match a {
                Angle::Param { index, .. } => Some(index + 1),
                Angle::Const(_) => None,
            })
            .max()
            .unwrap_or(0)
    }

    /// Checks that the circuit can be simulated with `theta`: a qubit count from 1 to
    /// [`MAX_QUBITS`], every gate on as many distinct qubits as it acts on, all in range,
    /// finite angle constants, and parameter indices within `theta`, whose values are
    /// finite. Allocates nothing, so a training loop can call it every step.
    pub fn validate(&self, theta: &[f64]) -> Result<(), Error> {
        validate_qubit_count(self.n_qubits)?;
        for (k, &v) in theta.iter().enumerate() {
            if !v.is_finite() {
                return Err(Error::input(format!(
                    "Parameter {k} of the circuit is {v}; parameters must be finite."
                ))
                .with_help("check the initial values and the optimiser's steps"));
            }
        }
        for (i, op) in self.ops.iter().enumerate() {
            self.validate_op(i, op, theta.len())?;
        }
        Ok(())
    }

    fn validate_op(&self, i: usize, op: &Op, n_params: usize) -> Result<(), Error> {
        let name = op.gate.name();
        let arity = op.gate.arity();
        if op.qubits.len() != arity {
            let plural = if arity == 1 { "qubit" } else { "qubits" };
            return Err(Error::input(format!(
                "Gate {i} (`{name}`) acts on {arity} {plural}, but {} were given.",
                op.qubits.len()
            ))
            .with_help(format!("give `{name}` exactly {arity} {plural}")));
        }
        for &q in &op.qubits {
            if q >= self.n_qubits {
                return Err(Error::input(format!(
                    "Gate {i} (`{name}`) acts on qubit {q}, but the circuit has only {} \
                     qubits (0 to {}).",
                    self.n_qubits,
                    self.n_qubits - 1
                ))
                .with_help("qubits are numbered from 0; declare more qubits or fix the index"));
            }
        }
        if arity == 2 && op.qubits[0] == op.qubits[1] {
            return Err(Error::input(format!(
                "Gate {i} (`{name}`) acts on qubit {} twice.",
                op.qubits[0]
            ))
            .with_help("a two-qubit gate needs two different qubits"));
        }
        for angle in op.gate.angles() {
            let finite = match *angle {
                Angle::Const(v) => v.is_finite(),
                Angle::Param { scale, offset, .. } => scale.is_finite() && offset.is_finite(),
            };
            if !finite {
                return Err(Error::input(format!(
                    "Gate {i} (`{name}`) has a non-finite angle: {angle:?}."
                ))
                .with_help("angles and their scales and offsets must be finite numbers"));
            }
            if let Angle::Param { index, .. } = *angle
                && index >= n_params
            {
                return Err(Error::input(format!(
                    "Gate {i} (`{name}`) uses parameter {index}, but only {n_params} \
                     parameters were given."
                ))
                .with_help(format!(
                    "pass at least {} parameters",
                    self.n_params().max(index + 1)
                )));
            }
        }
        Ok(())
    }
}

/// Rejects qubit counts that are empty or too large to hold in memory.
pub(crate) fn validate_qubit_count(n_qubits: usize) -> Result<(), Error> {
    if n_qubits == 0 {
        return Err(Error::input("A circuit needs at least one qubit, not 0.")
            .with_help("declare the qubits the circuit acts on"));
    }
    if n_qubits > MAX_QUBITS {
        return Err(Error::input(format!(
            "A circuit of {n_qubits} qubits is too large to simulate: its state vector has \
             2^{n_qubits} amplitudes; at most {MAX_QUBITS} qubits are simulated (16 GiB per \
             state vector)."
        ))
        .with_help("use fewer qubits"));
    }
    Ok(())
}
