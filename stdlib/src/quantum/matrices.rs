//! The gates' matrices and their derivatives with respect to each angle, as small dense
//! 2×2 and 4×4 arrays.
//!
//! Everything the simulator does to a state goes through these few functions, so the
//! conventions live in one place: rotations are `R_P(θ) = exp(−iθP/2) = cos(θ/2)·I −
//! i·sin(θ/2)·P`, and a two-qubit matrix is indexed by `2·bit(qubits[0]) + bit(qubits[1])`,
//! so `qubits[0]` (the control of a controlled gate) is the more significant factor, as in
//! textbooks, whatever the qubits' positions in the state. The derivatives feed the
//! adjoint gradient, which needs `∂U/∂angle` for every angle of every parametrised gate.

use num_complex::Complex64 as C;

use super::circuit::Gate;

/// A 2×2 matrix, row-major.
pub type Mat2 = [[C; 2]; 2];
/// A 4×4 matrix, row-major, indexed by `2·bit(qubits[0]) + bit(qubits[1])`.
pub type Mat4 = [[C; 4]; 4];

const ZERO: C = C::new(0.0, 0.0);
const ONE: C = C::new(1.0, 0.0);
const I: C = C::new(0.0, 1.0);

const PAULI_X: Mat2 = [[ZERO, ONE], [ONE, ZERO]];
const PAULI_Y: Mat2 = [[ZERO, C::new(0.0, -1.0)], [I, ZERO]];
const PAULI_Z: Mat2 = [[ONE, ZERO], [ZERO, C::new(-1.0, 0.0)]];

/// A gate's matrix: 2×2 for a one-qubit gate, 4×4 for a two-qubit gate.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum GateMatrix {
    One(Mat2),
    Two(Mat4),
}

/// The matrix of `gate` at the resolved `angles` (`angles[k]` is the value of
/// `gate.angles()[k]`).
pub fn matrix(gate: &Gate, angles: &[f64; 3]) -> GateMatrix {
    let h = std::f64::consts::FRAC_1_SQRT_2;
    let a = angles[0];
    let one = match gate {
        Gate::H => [
            [C::new(h, 0.0), C::new(h, 0.0)],
            [C::new(h, 0.0), C::new(-h, 0.0)],
        ],
        Gate::X => PAULI_X,
        Gate::Y => PAULI_Y,
        Gate::Z => PAULI_Z,
        Gate::S => diagonal(ONE, I),
        Gate::Sdg => diagonal(ONE, -I),
        Gate::T => diagonal(ONE, C::cis(std::f64::consts::FRAC_PI_4)),
        Gate::Tdg => diagonal(ONE, C::cis(-std::f64::consts::FRAC_PI_4)),
        Gate::Rx(_) => rotation2(a, &PAULI_X),
        Gate::Ry(_) => rotation2(a, &PAULI_Y),
        Gate::Rz(_) => rotation2(a, &PAULI_Z),
        Gate::Phase(_) => diagonal(ONE, C::cis(a)),
        Gate::U(_) => u3(angles[0], angles[1], angles[2]),
        Gate::Cnot => return GateMatrix::Two(controlled(&PAULI_X)),
        Gate::Cz => return GateMatrix::Two(controlled(&PAULI_Z)),
        Gate::Swap => {
            let mut m = [[ZERO; 4]; 4];
            m[0][0] = ONE;
            m[1][2] = ONE;
            m[2][1] = ONE;
            m[3][3] = ONE;
            return GateMatrix::Two(m);
        }
        Gate::Crx(_) => return GateMatrix::Two(controlled(&rotation2(a, &PAULI_X))),
        Gate::Cry(_) => return GateMatrix::Two(controlled(&rotation2(a, &PAULI_Y))),
        Gate::Crz(_) => return GateMatrix::Two(controlled(&rotation2(a, &PAULI_Z))),
        Gate::Rxx(_) => return GateMatrix::Two(rotation4(a, &kron(&PAULI_X, &PAULI_X))),
        Gate::Ryy(_) => return GateMatrix::Two(rotation4(a, &kron(&PAULI_Y, &PAULI_Y))),
        Gate::Rzz(_) => return GateMatrix::Two(rotation4(a, &kron(&PAULI_Z, &PAULI_Z))),
    };
    GateMatrix::One(one)
}

/// `∂U/∂angles[slot]` of `gate` at the resolved `angles`; `None` when the gate has no angle
/// `slot`.
pub fn derivative(gate: &Gate, angles: &[f64; 3], slot: usize) -> Option<GateMatrix> {
    let a = angles[0];
    // The control's |0⟩ block of a controlled rotation does not depend on the angle, so its
    // derivative is zero there.
    let controlled_derivative = |d: Mat2| {
        let mut m = [[ZERO; 4]; 4];
        set_block(&mut m, &d);
        GateMatrix::Two(m)
    };
    Some(match (gate, slot) {
        (Gate::Rx(_), 0) => GateMatrix::One(rotation2_derivative(a, &PAULI_X)),
        (Gate::Ry(_), 0) => GateMatrix::One(rotation2_derivative(a, &PAULI_Y)),
        (Gate::Rz(_), 0) => GateMatrix::One(rotation2_derivative(a, &PAULI_Z)),
        (Gate::Phase(_), 0) => GateMatrix::One(diagonal(ZERO, I * C::cis(a))),
        (Gate::U(_), 0..=2) => {
            GateMatrix::One(u3_derivative(angles[0], angles[1], angles[2], slot))
        }
        (Gate::Crx(_), 0) => controlled_derivative(rotation2_derivative(a, &PAULI_X)),
        (Gate::Cry(_), 0) => controlled_derivative(rotation2_derivative(a, &PAULI_Y)),
        (Gate::Crz(_), 0) => controlled_derivative(rotation2_derivative(a, &PAULI_Z)),
        (Gate::Rxx(_), 0) => GateMatrix::Two(rotation4_derivative(a, &kron(&PAULI_X, &PAULI_X))),
        (Gate::Ryy(_), 0) => GateMatrix::Two(rotation4_derivative(a, &kron(&PAULI_Y, &PAULI_Y))),
        (Gate::Rzz(_), 0) => GateMatrix::Two(rotation4_derivative(a, &kron(&PAULI_Z, &PAULI_Z))),
        _ => return None,
    })
}

/// The lower right block of a controlled gate's matrix: what it does to the target where
/// the control is 1.
pub fn controlled_block(m: &Mat4) -> Mat2 {
    [[m[2][2], m[2][3]], [m[3][2], m[3][3]]]
}

/// A real 2×2 matrix, row-major.
pub type Real2 = [[f64; 2]; 2];

/// A 2×2 matrix as the kernels multiply it by a pair of amplitudes. Real matrices (H, X, Z,
/// RY, CNOT's X and their products) have their own form: a real entry times a complex
/// amplitude is two multiplications instead of four and two additions, and the state-vector
/// loops are limited by arithmetic as much as by memory.
pub trait Act2: Copy + Send + Sync {
    /// `m·v`.
    fn act(&self, v: [C; 2]) -> [C; 2];
}

impl Act2 for Mat2 {
    #[inline(always)]
    fn act(&self, v: [C; 2]) -> [C; 2] {
        [
            self[0][0] * v[0] + self[0][1] * v[1],
            self[1][0] * v[0] + self[1][1] * v[1],
        ]
    }
}

impl Act2 for Real2 {
    #[inline(always)]
    fn act(&self, v: [C; 2]) -> [C; 2] {
        [
            v[0] * self[0][0] + v[1] * self[0][1],
            v[0] * self[1][0] + v[1] * self[1][1],
        ]
    }
}

/// `m`'s real part when its imaginary part is exactly zero.
pub fn real2(m: &Mat2) -> Option<Real2> {
    m.iter()
        .flatten()
        .all(|x| x.im == 0.0)
        .then(|| m.map(|row| row.map(|x| x.re)))
}

/// `diag(d0, d1)`.
pub fn diagonal(d0: C, d1: C) -> Mat2 {
    [[d0, ZERO], [ZERO, d1]]
}

/// `a·b`.
pub fn mul2(a: &Mat2, b: &Mat2) -> Mat2 {
    let mut m = [[ZERO; 2]; 2];
    for (r, row) in m.iter_mut().enumerate() {
        for (c, out) in row.iter_mut().enumerate() {
            *out = a[r][0] * b[0][c] + a[r][1] * b[1][c];
        }
    }
    m
}

/// The conjugate transpose.
pub fn dagger2(a: &Mat2) -> Mat2 {
    [
        [a[0][0].conj(), a[1][0].conj()],
        [a[0][1].conj(), a[1][1].conj()],
    ]
}

/// The conjugate transpose.
pub fn dagger4(a: &Mat4) -> Mat4 {
    let mut m = [[ZERO; 4]; 4];
    for (r, row) in m.iter_mut().enumerate() {
        for (c, out) in row.iter_mut().enumerate() {
            *out = a[c][r].conj();
        }
    }
    m
}

/// The same operator with its two qubits' roles exchanged (basis states 1 and 2 swapped):
/// the kernels index a 4×4 by the higher qubit's bit first.
pub fn exchange_qubits(a: &Mat4) -> Mat4 {
    const SWAPPED: [usize; 4] = [0, 2, 1, 3];
    let mut m = [[ZERO; 4]; 4];
    for (r, row) in m.iter_mut().enumerate() {
        for (c, out) in row.iter_mut().enumerate() {
            *out = a[SWAPPED[r]][SWAPPED[c]];
        }
    }
    m
}

/// Whether both off-diagonal entries are exactly zero: products of diagonal gates stay
/// exactly diagonal, and the simulator applies them with a cheaper kernel.
pub fn is_diagonal2(a: &Mat2) -> bool {
    a[0][1] == ZERO && a[1][0] == ZERO
}

/// `a·I − i·b·P` for an `N×N` matrix `P`: rotations and their derivatives alike.
fn identity_minus_i<const N: usize>(a: f64, b: f64, p: &[[C; N]; N]) -> [[C; N]; N] {
    let mut m = [[ZERO; N]; N];
    for (r, row) in m.iter_mut().enumerate() {
        for (col, x) in row.iter_mut().enumerate() {
            let id = if r == col { a } else { 0.0 };
            *x = C::new(id, 0.0) - I * b * p[r][col];
        }
    }
    m
}

/// `cos(θ/2)·I − i·sin(θ/2)·P` for an involution `P`.
fn rotation2(theta: f64, p: &Mat2) -> Mat2 {
    let (s, c) = (theta / 2.0).sin_cos();
    identity_minus_i(c, s, p)
}

/// `∂/∂θ (cos(θ/2)·I − i·sin(θ/2)·P) = −sin(θ/2)/2·I − i·cos(θ/2)/2·P`.
fn rotation2_derivative(theta: f64, p: &Mat2) -> Mat2 {
    let (s, c) = (theta / 2.0).sin_cos();
    identity_minus_i(-s / 2.0, c / 2.0, p)
}

/// `cos(θ/2)·I − i·sin(θ/2)·P` for a 4×4 involution `P`.
fn rotation4(theta: f64, p: &Mat4) -> Mat4 {
    let (s, c) = (theta / 2.0).sin_cos();
    identity_minus_i(c, s, p)
}

/// The derivative of [`rotation4`] in `θ`.
fn rotation4_derivative(theta: f64, p: &Mat4) -> Mat4 {
    let (s, c) = (theta / 2.0).sin_cos();
    identity_minus_i(-s / 2.0, c / 2.0, p)
}

/// `|0⟩⟨0| ⊗ I + |1⟩⟨1| ⊗ u`: `u` on the second qubit where the first is 1.
fn controlled(u: &Mat2) -> Mat4 {
    let mut m = [[ZERO; 4]; 4];
    m[0][0] = ONE;
    m[1][1] = ONE;
    set_block(&mut m, u);
    m
}

/// Writes `u` into the block where the first qubit is 1.
fn set_block(m: &mut Mat4, u: &Mat2) {
    for r in 0..2 {
        for c in 0..2 {
            m[2 + r][2 + c] = u[r][c];
        }
    }
}

/// `a ⊗ b`, `a` on the more significant index bit.
fn kron(a: &Mat2, b: &Mat2) -> Mat4 {
    let mut m = [[ZERO; 4]; 4];
    for (r, row) in m.iter_mut().enumerate() {
        for (c, out) in row.iter_mut().enumerate() {
            *out = a[r / 2][c / 2] * b[r % 2][c % 2];
        }
    }
    m
}

/// OpenQASM 3's `U(θ, φ, λ)`.
fn u3(theta: f64, phi: f64, lambda: f64) -> Mat2 {
    let (s, c) = (theta / 2.0).sin_cos();
    [
        [C::new(c, 0.0), -C::cis(lambda) * s],
        [C::cis(phi) * s, C::cis(phi + lambda) * c],
    ]
}

/// `∂U(θ, φ, λ)` with respect to angle `slot` (0: θ, 1: φ, 2: λ).
fn u3_derivative(theta: f64, phi: f64, lambda: f64, slot: usize) -> Mat2 {
    let (s, c) = (theta / 2.0).sin_cos();
    match slot {
        0 => [
            [C::new(-s / 2.0, 0.0), -C::cis(lambda) * (c / 2.0)],
            [C::cis(phi) * (c / 2.0), -C::cis(phi + lambda) * (s / 2.0)],
        ],
        // φ multiplies the second row by e^{iφ}.
        1 => [
            [ZERO, ZERO],
            [I * C::cis(phi) * s, I * C::cis(phi + lambda) * c],
        ],
        // λ multiplies the second column by e^{iλ}.
        _ => [
            [ZERO, -I * C::cis(lambda) * s],
            [ZERO, I * C::cis(phi + lambda) * c],
        ],
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::quantum::circuit::Angle;

    fn flat(m: GateMatrix) -> Vec<C> {
        match m {
            GateMatrix::One(m) => m.iter().flatten().copied().collect(),
            GateMatrix::Two(m) => m.iter().flatten().copied().collect(),
        }
    }

    /// Every parametrised gate, each angle slot, against a central difference of the
    /// gate's own matrix.
    #[test]
    fn derivatives_match_finite_differences() {
        let p = Angle::param(0);
        let gates = [
            Gate::Rx(p),
            Gate::Ry(p),
            Gate::Rz(p),
            Gate::Phase(p),
            Gate::U([p, p, p]),
            Gate::Crx(p),
            Gate::Cry(p),
            Gate::Crz(p),
            Gate::Rxx(p),
            Gate::Ryy(p),
            Gate::Rzz(p),
        ];
        let angles = [0.3, -1.1, 2.4];
        let h = 1e-6;
        for gate in &gates {
            assert!(derivative(gate, &angles, gate.angles().len()).is_none());
            for slot in 0..gate.angles().len() {
                let mut plus = angles;
                let mut minus = angles;
                plus[slot] += h;
                minus[slot] -= h;
                let exact = flat(derivative(gate, &angles, slot).unwrap());
                let (fp, fm) = (flat(matrix(gate, &plus)), flat(matrix(gate, &minus)));
                for k in 0..exact.len() {
                    let fd = (fp[k] - fm[k]) / (2.0 * h);
                    assert!(
                        (fd - exact[k]).norm() < 1e-8,
                        "{} slot {slot} entry {k}: {fd} vs {}",
                        gate.name(),
                        exact[k]
                    );
                }
            }
        }
    }

    #[test]
    fn exchanging_qubits_twice_is_the_identity() {
        let GateMatrix::Two(m) = matrix(&Gate::Crx(Angle::param(0)), &[0.7, 0.0, 0.0]) else {
            panic!("crx is a two-qubit gate")
        };
        assert_eq!(exchange_qubits(&exchange_qubits(&m)), m);
        // A CNOT controlled by the first qubit becomes one controlled by the second.
        let GateMatrix::Two(cnot) = matrix(&Gate::Cnot, &[0.0; 3]) else {
            panic!("cnot is a two-qubit gate")
        };
        let swapped = exchange_qubits(&cnot);
        assert_eq!(swapped[1][3], ONE);
        assert_eq!(swapped[3][1], ONE);
        assert_eq!(swapped[2][2], ONE);
    }
}
