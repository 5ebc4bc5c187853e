// A hardware-efficient ansatz (Kandala et al., Nature 2017): layers of single-qubit
// rotations RY, RZ on every qubit and a chain of CNOTs, which native gates of a device
// implement directly, with no structure taken from the problem. Here it finds the ground
// state of the critical transverse-field Ising ring of 6 spins,
//
//   H = −Σ Z_i Z_{i+1} − Σ X_i,   E₀ = −2 / sin(π / 12) = −7.727406610…
//
// Every angle is its own parameter: 2·n·(layers + 1) = 108 of them, one gradient by the
// adjoint method per step.
model HardwareEfficient {
    const n = 6
    const layers = 8
    // theta[l, q, 0] turns qubit q about y in layer l, theta[l, q, 1] about z.
    param theta[l in 0..layers + 1, q in 0..n, k in 0..2] = 0.1 * sin(1.3 * (l * n + q) + 0.7 * k + 0.2)

    circuit psi(qubits: n) {
        for l in 0..layers {
            for q in 0..n {
                ry(theta[l, q, 0], q)
                rz(theta[l, q, 1], q)
            }
            for q in 0..n - 1 { cnot(q, q + 1) }
        }
        for q in 0..n {
            ry(theta[layers, q, 0], q)
            rz(theta[layers, q, 1], q)
        }
    }

    observable H = -sum(i in 0..n: Z(i) * Z(mod(i + 1, n))) - sum(i in 0..n: X(i))

    loss = expval(psi, H)
}
