//! Quantum circuits and Pauli observables in a module's manifest.
//!
//! A model's `circuit` and `observable` declarations are not IR functions: the runtime
//! simulates them (a state vector, `sci_stdlib::quantum`) and passes each expectation value
//! `⟨ψ(θ)|H|ψ(θ)⟩` the loss reads as a scalar input ([`crate::InputRole::Expval`]). The
//! manifest carries them fully unrolled, with every angle affine in at most one element of
//! θ, so a module stays self-describing: a host or a `.sir` file read back trains a circuit
//! without the source that declared it.

/// The most qubits a circuit or observable may act on: the runtime simulates a state
/// vector of 2^n complex doubles (16 GiB at 30 qubits, and an adjoint gradient holds two);
/// `sci_stdlib::quantum::MAX_QUBITS`.
pub const MAX_QUBITS: usize = 30;

/// A circuit on `qubits` qubits, started in `|0…0⟩`, its gates in order.
#[derive(Clone, Debug, PartialEq)]
pub struct QuantumCircuit {
    pub name: String,
    pub qubits: usize,
    pub gates: Vec<QuantumGate>,
}

/// One gate applied to `qubits` (a two-qubit gate's control first) with its angles.
#[derive(Clone, Debug, PartialEq)]
pub struct QuantumGate {
    pub kind: GateKind,
    pub qubits: Vec<usize>,
    pub angles: Vec<GateAngle>,
}

/// An angle: `scale·θ[param] + offset` (θ the module's flat parameter vector), or the
/// constant `offset` when `param` is `None`.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct GateAngle {
    pub param: Option<usize>,
    pub scale: f64,
    pub offset: f64,
}

impl GateAngle {
    /// A constant angle.
    pub fn constant(offset: f64) -> GateAngle {
        GateAngle {
            param: None,
            scale: 0.0,
            offset,
        }
    }

    /// The angle's value at θ (`None` when `param` is past θ's end).
    pub fn value(&self, theta: &[f64]) -> Option<f64> {
        match self.param {
            None => Some(self.offset),
            Some(k) => theta.get(k).map(|t| self.scale * t + self.offset),
        }
    }
}

/// The gates a circuit may apply. Rotations are `R_P(φ) = exp(−iφP/2)`; `Phase(φ)` is
/// `diag(1, e^{iφ})`; `U(θ, φ, λ)` is OpenQASM 3's; controlled gates' control is their
/// first qubit.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum GateKind {
    H,
    X,
    Y,
    Z,
    S,
    Sdg,
    T,
    Tdg,
    Rx,
    Ry,
    Rz,
    Phase,
    U,
    Cnot,
    Cz,
    Swap,
    Crx,
    Cry,
    Crz,
    Rxx,
    Ryy,
    Rzz,
}

impl GateKind {
    /// Every gate with its name in the language and the text format (OpenQASM's lower
    /// case; `cnot` is also written `cx` in the language).
    pub const ALL: [(GateKind, &'static str); 22] = [
        (GateKind::H, "h"),
        (GateKind::X, "x"),
        (GateKind::Y, "y"),
        (GateKind::Z, "z"),
        (GateKind::S, "s"),
        (GateKind::Sdg, "sdg"),
        (GateKind::T, "t"),
        (GateKind::Tdg, "tdg"),
        (GateKind::Rx, "rx"),
        (GateKind::Ry, "ry"),
        (GateKind::Rz, "rz"),
        (GateKind::Phase, "phase"),
        (GateKind::U, "u"),
        (GateKind::Cnot, "cnot"),
        (GateKind::Cz, "cz"),
        (GateKind::Swap, "swap"),
        (GateKind::Crx, "crx"),
        (GateKind::Cry, "cry"),
        (GateKind::Crz, "crz"),
        (GateKind::Rxx, "rxx"),
        (GateKind::Ryy, "ryy"),
        (GateKind::Rzz, "rzz"),
    ];

    /// The gate's name (`rx`).
    pub fn name(self) -> &'static str {
        GateKind::ALL
            .iter()
            .find(|(k, _)| *k == self)
            .map_or("h", |(_, n)| n)
    }

    /// The gate called `name` (`cx` is `cnot`).
    pub fn from_name(name: &str) -> Option<GateKind> {
        let name = if name == "cx" { "cnot" } else { name };
        GateKind::ALL
            .iter()
            .find(|(_, n)| *n == name)
            .map(|(k, _)| *k)
    }

    /// How many qubits the gate acts on (1 or 2).
    pub fn qubits(self) -> usize {
        match self {
            GateKind::Cnot
            | GateKind::Cz
            | GateKind::Swap
            | GateKind::Crx
            | GateKind::Cry
            | GateKind::Crz
            | GateKind::Rxx
            | GateKind::Ryy
            | GateKind::Rzz => 2,
            _ => 1,
        }
    }

    /// How many angles the gate takes (0, 1, or 3 for `u`).
    pub fn angles(self) -> usize {
        match self {
            GateKind::Rx
            | GateKind::Ry
            | GateKind::Rz
            | GateKind::Phase
            | GateKind::Crx
            | GateKind::Cry
            | GateKind::Crz
            | GateKind::Rxx
            | GateKind::Ryy
            | GateKind::Rzz => 1,
            GateKind::U => 3,
            _ => 0,
        }
    }
}

/// A Pauli operator on one qubit.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Pauli {
    X,
    Y,
    Z,
}

impl Pauli {
    /// The operator's letter (`X`).
    pub fn letter(self) -> char {
        match self {
            Pauli::X => 'X',
            Pauli::Y => 'Y',
            Pauli::Z => 'Z',
        }
    }

    /// The operator written `letter`.
    pub fn from_letter(letter: char) -> Option<Pauli> {
        match letter {
            'X' => Some(Pauli::X),
            'Y' => Some(Pauli::Y),
            'Z' => Some(Pauli::Z),
            _ => None,
        }
    }
}

/// A Hermitian observable on `qubits` qubits: a real-weighted sum of Pauli strings.
#[derive(Clone, Debug, PartialEq)]
pub struct PauliObservable {
    pub name: String,
    pub qubits: usize,
    pub terms: Vec<PauliTerm>,
}

/// `coeff · P_1 ⊗ P_2 ⊗ …`: the factors on distinct qubits, in increasing qubit order
/// (none: `coeff` times the identity).
#[derive(Clone, Debug, PartialEq)]
pub struct PauliTerm {
    pub coeff: f64,
    pub factors: Vec<(Pauli, usize)>,
}
