// Observables are real sums of Pauli strings, one operator per qubit; expval only in the loss
// and in the outputs of a model without states.
model Observables {
    circuit psi(qubits: 2) { h(0); cnot(0, 1) }
    observable A = X(0) * Y(0)
    observable B = Z(0)^2
    observable C = Z(5)
    output e = expval(psi, C)
    loss = expval(psi, C) + expval(C, psi) + psi
}

model Decay {
    state x = 1.0
    der(x) = -x
    circuit phi(qubits: 1) { h(0) }
    observable Z0 = Z(0)
    let z = expval(phi, Z0)
    output e = expval(phi, Z0) * x
}
