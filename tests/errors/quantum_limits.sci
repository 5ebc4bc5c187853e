// Unrolling is bounded: nested loops and products of sums are refused, not run forever.
model Limits {
    circuit psi(qubits: 2) {
        for i in 0..100000 { for j in 0..100000 { h(0) } }
    }
    circuit idle(qubits: 1) {
        for i in 0..100000 { for j in 0..100000 {} }
    }
    observable A = sum(i in 0..2000: X(0)) * sum(j in 0..2000: Z(1))
    loss = expval(psi, A) + expval(idle, A)
}
