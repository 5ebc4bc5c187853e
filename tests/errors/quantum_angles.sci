// Angles are `a * p + b`: one parameter element, constants a and b, in radians.
model Angles {
    param theta[k in 0..2] = 0.1
    param g = 0.2
    circuit a(qubits: 1) { rx(theta[0] * theta[1], 0) }
    circuit b(qubits: 1) { ry(theta[0] + g, 0) }
    circuit c(qubits: 1) { rz(sin(g), 0) }
    observable H = Z(0)
    loss = expval(a, H) + expval(b, H) + expval(c, H)
}
