// Viscous Burgers' equation u_t + (u²/2)_x = ν u_xx on the periodic unit interval,
// semi-discretised on n points x_j = j/n: the model `sci dataset burgers` compiles (with
// `n` set to its --solve-grid) and solves once per initial condition `u0`.
//
// Conservative second-order finite differences: the cell balance
// der(u_i) = −(F_{i+1/2} − F_{i−1/2})/dx + ν (u_{i−1} − 2 u_i + u_{i+1})/dx²
// with the flux F_{i+1/2} = (u_i² + u_i u_{i+1} + u_{i+1}²)/6, the average of u²/2 that
// makes the convective term conserve both the mean and the energy Σ u_i² (the skew-
// symmetric form), so the scheme cannot gain energy from the nonlinearity. The difference
// of the two fluxes factorises to (right − left)(left + u + right)/6. Neighbours across the
// seam are chosen with `if` on the index, so the Jacobian stays a sparse periodic band.
model Burgers1D {
    const n = 1024
    const dx = 1.0 / n
    param nu = 0.1
    param u0: real[n] = 0.0

    state u[i in 0..n] = u0[i]

    let left[i in 0..n] = if i == 0 then u[n - 1] else u[i - 1]
    let right[i in 0..n] = if i == n - 1 then u[0] else u[i + 1]

    der(u[i]) =
        -(right[i] - left[i]) * (left[i] + u[i] + right[i]) / (6 * dx)
        + nu * (left[i] - 2 * u[i] + right[i]) / dx^2

    domain time: t in [0, 1]  // T = 1; `--time` sets the span instead
}
