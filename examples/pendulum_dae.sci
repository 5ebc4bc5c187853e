// A pendulum in Cartesian coordinates: a differential-algebraic model. The bob (unit mass)
// at (x, y) on a rod of length L is pulled back by the rod's tension λ·(x, y), and λ is
// not integrated but determined at every instant by a constraint (`0 = …`).
//
// The position constraint x² + y² = L² would make λ undetermined (index 3); differentiated
// twice it becomes the acceleration-level constraint below, which fixes λ (index 1):
// λ·(x² + y²) = vx² + vy² − g·y. The length then drifts only by the solver's error.
model PendulumDAE {
    const g = 9.81
    const L = 1.0
    const theta0 = 0.5  // initial angle from the vertical, radians

    state x = L * sin(theta0)
    state y = -L * cos(theta0)
    state vx = 0.0
    state vy = 0.0
    state lambda = 1.0  // the tension per unit length: an initial guess, made consistent

    der(x) = vx
    der(y) = vy
    der(vx) = -lambda * x
    der(vy) = -lambda * y - g

    0 = lambda * (x^2 + y^2) - (vx^2 + vy^2) + g * y

    output length = sqrt(x^2 + y^2)
    output angle = atan2(x, -y)

    domain time: t in [0, 10]
}
