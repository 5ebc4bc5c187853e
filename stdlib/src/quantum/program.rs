//! Turning a circuit and its parameter values into the [`Kernel`]s that a forward pass
//! applies, fusing runs of one-qubit gates.
//!
//! Fusion: one-qubit gates on the same qubit with no gate touching that qubit in between
//! are multiplied into one 2×2 matrix, applied once. Every gate application streams the
//! whole state through memory, so a layer of `H`, `RZ`, `RX` on a qubit costs one pass
//! instead of three. A fused product of diagonal gates is still diagonal (exactly: its
//! off-diagonal entries are sums of products with an exact zero) and gets the cheaper
//! diagonal kernel. One-qubit gates on different qubits commute, so the pending products
//! can be emitted in any order once nothing else touches their qubits.
//!
//! The same compilation serves the parameter-shift rule, which evaluates the circuit with
//! one gate's angle moved by a [`Shift`].

use super::circuit::{Circuit, Gate};
use super::kernels::Kernel;
use super::matrices::{self, GateMatrix, Mat2, is_diagonal2, mul2};

/// One angle of one gate moved by `delta`: `op` indexes the circuit's ops, `slot` the
/// gate's angles.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Shift {
    pub op: usize,
    pub slot: usize,
    pub delta: f64,
}

/// The values of `gate`'s angles for the parameters `theta` (unused slots are 0).
pub fn resolve_angles(gate: &Gate, theta: &[f64]) -> [f64; 3] {
    let mut values = [0.0; 3];
    for (v, angle) in values.iter_mut().zip(gate.angles()) {
        *v = angle.value(theta);
    }
    values
}

/// The kernel that applies `gate` with matrix `m` (from [`matrices::matrix`]) to `qubits`
/// (validated: as many distinct qubits as the gate acts on).
pub fn kernel(gate: &Gate, qubits: &[usize], m: GateMatrix) -> Kernel {
    match m {
        GateMatrix::One(m) => single_qubit_kernel(qubits[0], m),
        GateMatrix::Two(m) => {
            let pair = [qubits[0], qubits[1]];
            match gate {
                Gate::Cnot | Gate::Crx(_) | Gate::Cry(_) | Gate::Crz(_) => Kernel::Controlled {
                    control: pair[0],
                    target: pair[1],
                    m: matrices::controlled_block(&m),
                },
                Gate::Cz | Gate::Rzz(_) => Kernel::Diagonal2 {
                    qubits: pair,
                    d: [m[0][0], m[1][1], m[2][2], m[3][3]],
                },
                Gate::Swap => Kernel::Swap { qubits: pair },
                _ => Kernel::Two { qubits: pair, m },
            }
        }
    }
}

/// A one-qubit kernel for `m`: diagonal when `m` is exactly diagonal.
fn single_qubit_kernel(qubit: usize, m: Mat2) -> Kernel {
    if is_diagonal2(&m) {
        Kernel::Diagonal {
            qubit,
            d: [m[0][0], m[1][1]],
        }
    } else {
        Kernel::Single { qubit, m }
    }
}

/// Writes into `out` the kernels of `circuit` (validated against `theta`) at `theta`, with
/// `shift` applied and one-qubit runs fused when `fuse` is set. `pending` is scratch (one
/// slot per qubit); both buffers are reused, so this allocates only while they grow.
pub fn compile(
    circuit: &Circuit,
    theta: &[f64],
    shift: Option<Shift>,
    fuse: bool,
    pending: &mut Vec<Option<Mat2>>,
    out: &mut Vec<Kernel>,
) {
    out.clear();
    pending.clear();
    pending.resize(circuit.n_qubits, None);
    for (i, op) in circuit.ops.iter().enumerate() {
        let mut angles = resolve_angles(&op.gate, theta);
        if let Some(s) = shift
            && s.op == i
            && let Some(angle) = angles.get_mut(s.slot)
        {
            *angle += s.delta;
        }
        match matrices::matrix(&op.gate, &angles) {
            GateMatrix::One(m) if fuse => {
                let q = op.qubits[0];
                // Later gates multiply from the left.
                pending[q] = Some(match pending[q] {
                    Some(before) => mul2(&m, &before),
                    None => m,
                });
            }
            m => {
                for &q in &op.qubits {
                    if let Some(p) = pending[q].take() {
                        out.push(single_qubit_kernel(q, p));
                    }
                }
                out.push(kernel(&op.gate, &op.qubits, m));
            }
        }
    }
    for (q, p) in pending.iter_mut().enumerate() {
        if let Some(p) = p.take() {
            out.push(single_qubit_kernel(q, p));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::quantum::circuit::Angle;

    #[test]
    fn runs_of_one_qubit_gates_become_one_kernel() {
        let mut c = Circuit::new(3);
        c.push(Gate::H, &[0])
            .push(Gate::Rz(Angle::param(0)), &[0])
            .push(Gate::T, &[1])
            .push(Gate::S, &[1])
            .push(Gate::Cnot, &[0, 2])
            .push(Gate::X, &[0])
            .push(Gate::H, &[0]);
        let (mut pending, mut out) = (Vec::new(), Vec::new());
        compile(&c, &[0.4], None, true, &mut pending, &mut out);
        // H·RZ fused on 0 before the CNOT; T·S fused (and diagonal) on 1 at the end; X·H
        // fused on 0 at the end.
        assert_eq!(out.len(), 4);
        assert!(matches!(out[0], Kernel::Single { qubit: 0, .. }));
        assert!(matches!(
            out[1],
            Kernel::Controlled {
                control: 0,
                target: 2,
                ..
            }
        ));
        assert!(matches!(out[2], Kernel::Single { qubit: 0, .. }));
        assert!(matches!(out[3], Kernel::Diagonal { qubit: 1, .. }));
        compile(&c, &[0.4], None, false, &mut pending, &mut out);
        assert_eq!(out.len(), c.ops.len());
    }
}
