// The 1-D heat equation u_t = κ u_xx on (0, 1) with u = 0 at both ends,
// discretised by the method of lines on n interior points.
//
// Neighbours outside the grid read the Dirichlet boundary value 0, so the
// right-hand side is one stencil line for every point and its Jacobian is tridiagonal.
// The exact solution from this initial value is exp(-κ π² t) · sin(π x).
model Heat1D {
    const n = 200
    const dx = 1.0 / (n + 1)
    param kappa = 0.1

    state u[i in 0..n] = sin(π * (i + 1) * dx)

    der(u[i]) = kappa * (u[i - 1] - 2 * u[i] + u[i + 1]) / dx^2

    output mid = u[n / 2]

    domain time: t in [0, 1]  // the span `sci run` integrates over
}
