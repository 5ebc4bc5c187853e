// The 1-D Brusselator reaction–diffusion system (Hairer & Wanner II, IV.10), method of lines.
//
//   u_t = A + u² v − (B + 1) u + α u_xx,    u(0) = u(1) = 1
//   v_t = B u − u² v + α v_xx,              v(0) = v(1) = 3
//
// The boundary values enter through `if` on the index: reading outside the grid
// gives 0, and the condition picks the boundary value there instead.
model Brusselator {
    const n = 32
    const dx = 1.0 / (n + 1)
    param A = 1.0
    param B = 3.0
    param alpha = 0.02

    state u[i in 0..n] = 1 + sin(2 * π * (i + 1) * dx)
    state v[i in 0..n] = 3.0

    let u_left[i in 0..n] = if i == 0 then 1.0 else u[i - 1]
    let u_right[i in 0..n] = if i == n - 1 then 1.0 else u[i + 1]
    let v_left[i in 0..n] = if i == 0 then 3.0 else v[i - 1]
    let v_right[i in 0..n] = if i == n - 1 then 3.0 else v[i + 1]

    der(u[i]) =
        A
        + u[i]^2 * v[i]
        - (B + 1) * u[i]
        + alpha * (u_left[i] - 2 * u[i] + u_right[i]) / dx^2
    der(v[i]) = B * u[i] - u[i]^2 * v[i] + alpha * (v_left[i] - 2 * v[i] + v_right[i]) / dx^2

    domain time: t in [0, 10]  // the span `sci run` integrates over
}
