// Heat in a composite plate with a temperature-dependent source: the Bratu–Gelfand
// problem u_t = ∇·(k ∇u) + λ eᵘ on the unit square, u = 0 on the edges, with a
// conductivity k(x, y) = exp(c · sin 2πx · sin 2πy) that varies over the plate by a
// factor e^(2c). Method of lines on an n × n grid of interior points; the flux through
// each cell face uses k at the face.
//
// k at every face depends on θ alone, and so do the Jacobian's off-diagonal entries (k at
// a face over h²) and most of its diagonal (minus their sum, plus λ eᵘ): the compiled
// right-hand side and Jacobian compute those once per parameter change, not at every
// call of the solve (docs/differentiation.md).
model CompositeHeat {
    const n = 32
    const h = 1.0 / (n + 1)
    param lambda = 2.0
    param contrast = 1.0

    state u[i in 0..n, j in 0..n] = 0.0

    // k at the face between cells (i - 1, j) and (i, j), and between (i, j - 1) and (i, j)
    let kx[i in 0..n + 1, j in 0..n] = exp(contrast * sin(2 * π * (i + 0.5) * h) * sin(2 * π * (j + 1) * h))
    let ky[i in 0..n, j in 0..n + 1] = exp(contrast * sin(2 * π * (i + 1) * h) * sin(2 * π * (j + 0.5) * h))

    // the heat flowing into cell (i, j) through each of its faces (u = 0 outside the plate)
    let east[i in 0..n, j in 0..n] = kx[i + 1, j] * (u[i + 1, j] - u[i, j])
    let west[i in 0..n, j in 0..n] = kx[i, j] * (u[i - 1, j] - u[i, j])
    let north[i in 0..n, j in 0..n] = ky[i, j + 1] * (u[i, j + 1] - u[i, j])
    let south[i in 0..n, j in 0..n] = ky[i, j] * (u[i, j - 1] - u[i, j])

    der(u[i, j]) =
        (east[i, j] + west[i, j] + north[i, j] + south[i, j]) / h^2
        + lambda * exp(u[i, j])

    output center = u[n / 2, n / 2]

    domain time: t in [0, 0.5]
}
