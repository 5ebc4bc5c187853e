// exp, log, sin, … need dimensionless arguments; exponents must be dimensionless.
model Transcendental {
    param L: m = 1.0
    param k: 1/s = 2.0
    state x: m = 0.1
    der(x) = k * L * exp(x)
    output p = L ^ k
}
