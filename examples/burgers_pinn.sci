// Physics-informed neural network for the viscous Burgers equation
//
//   u_t + u u_x − ν u_xx = 0,  (t, x) ∈ [0, 1] × [−1, 1],
//   u(0, x) = −sin(π x),  u(t, −1) = u(t, 1) = 0,
//
// (Raissi, Perdikaris & Karniadakis 2019). The network u(t, x) is the ansatz; its
// weights are the model's parameters, and the loss penalises the three residuals on
// sampled collocation points.
use nn.{mlp}

model BurgersPINN {
    const nu = 0.01 / π
    domain omega: t in [0, 1], x in [-1, 1]

    net u(t, x) = mlp(hidden: [20, 20, 20], activation: tanh, seed: 0)

    residual pde on omega, points 8192: d(u, t) + u * d(u, x) - nu * d(u, x, x)
    residual initial on omega where t == 0, points 256: u + sin(π * x)
    residual boundary on omega where x == -1 or x == 1, points 256: u

    loss = mean(pde^2) + mean(initial^2) + mean(boundary^2)
}
