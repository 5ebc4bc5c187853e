// Qubit indices are whole numbers in range, distinct within a gate; a ring needs `mod`.
model Ring {
    const n = 4
    circuit psi(qubits: n) {
        for i in 0..n { cz(i, i + 1) }
    }
    circuit same(qubits: 2) { cnot(1, 1) }
    observable H = Z(0)
    loss = expval(psi, H) + expval(same, H)
}
