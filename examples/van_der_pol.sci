// Van der Pol oscillator with μ = 1000: stiff relaxation oscillations.
model VanDerPol {
    param mu = 1000.0

    state x = 2.0
    state v = 0.0

    der(x) = v
    der(v) = mu * (1 - x^2) * v - x

    domain time: t in [0, 3000]  // the span `sci run` integrates over
}
