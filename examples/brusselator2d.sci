// The 2-D Brusselator reaction–diffusion system on the periodic unit square, method of
// lines on an N × N grid (the stiff benchmark of Hairer & Wanner II, IV.10, and of the
// SciML benchmarks, without the forcing term):
//
//   u_t = A + u² v − (B + 1) u + α Δu
//   v_t = B u − u² v + α Δv
//
// Periodic neighbours are chosen with `if` on the index. Each right-hand side reads a
// point and its four neighbours, so the Jacobian (2048 × 2048 for N = 32) has at most
// six non-zeros per row and a handful of colours suffice to compute it.
model Brusselator2D {
    const n = 32
    const dx = 1.0 / n
    param A = 1.0
    param B = 3.4
    param alpha = 10.0

    state u[i in 0..n, j in 0..n] = 22 * ((j + 0.5) * dx) * (1 - (j + 0.5) * dx)^1.5
    state v[i in 0..n, j in 0..n] = 27 * ((i + 0.5) * dx) * (1 - (i + 0.5) * dx)^1.5

    let lap_u[i in 0..n, j in 0..n] =
        (if i == 0 then u[n - 1, j] else u[i - 1, j])
        + (if i == n - 1 then u[0, j] else u[i + 1, j])
        + (if j == 0 then u[i, n - 1] else u[i, j - 1])
        + (if j == n - 1 then u[i, 0] else u[i, j + 1])
        - 4 * u[i, j]
    let lap_v[i in 0..n, j in 0..n] =
        (if i == 0 then v[n - 1, j] else v[i - 1, j])
        + (if i == n - 1 then v[0, j] else v[i + 1, j])
        + (if j == 0 then v[i, n - 1] else v[i, j - 1])
        + (if j == n - 1 then v[i, 0] else v[i, j + 1])
        - 4 * v[i, j]

    der(u[i, j]) = A + u[i, j]^2 * v[i, j] - (B + 1) * u[i, j] + alpha * lap_u[i, j] / dx^2
    der(v[i, j]) = B * u[i, j] - u[i, j]^2 * v[i, j] + alpha * lap_v[i, j] / dx^2

    domain time: t in [0, 10]  // the span `sci run` integrates over
}
