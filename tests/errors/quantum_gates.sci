// Gates: unknown names, wrong arities, a missing qubit count, too many qubits.
model Gates {
    param theta[k in 0..2] = 0.1
    circuit psi(qubits: 3) {
        rq(0.1, 0)
        rzz(theta[0], 1)
        for q in 0..3 { h(qubit: q) }
    }
    circuit phi() { h(0) }
    circuit big(qubits: 40) { h(0) }
    observable H = Z(0)
    loss = expval(psi, H)
}
