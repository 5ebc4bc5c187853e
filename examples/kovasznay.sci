// Physics-informed neural network for Kovasznay flow (Kovasznay 1948), a steady solution
// of the 2-D incompressible Navier–Stokes equations at Re = 20:
//
//   u u_x + v u_y + p_x − (u_xx + u_yy)/Re = 0,
//   u v_x + v v_y + p_y − (v_xx + v_yy)/Re = 0,
//   u_x + v_y = 0,
//
// with u = 1 − e^{λx} cos 2πy, v = λ/(2π) e^{λx} sin 2πy, p = (1 − e^{2λx})/2 on the
// boundary, λ = Re/2 − sqrt(Re²/4 + 4π²). One network gives (u, v, p).
use nn.{mlp}

model Kovasznay {
    const re = 20
    const lambda = re / 2 - sqrt(re^2 / 4 + 4 * π^2)
    domain omega: x in [-0.5, 1], y in [-0.5, 1.5]

    net uvp(x, y) = mlp(hidden: [32, 32, 32], activation: tanh, outputs: 3, seed: 3)

    residual momentum_x on omega, points 1024:
        uvp(x, y)[0] * d(uvp, x)[0]
        + uvp(x, y)[1] * d(uvp, y)[0]
        + d(uvp, x)[2]
        - (d(uvp, x, x)[0] + d(uvp, y, y)[0]) / re
    residual momentum_y on omega, points 1024:
        uvp(x, y)[0] * d(uvp, x)[1]
        + uvp(x, y)[1] * d(uvp, y)[1]
        + d(uvp, y)[2]
        - (d(uvp, x, x)[1] + d(uvp, y, y)[1]) / re
    residual continuity on omega, points 1024: d(uvp, x)[0] + d(uvp, y)[1]

    residual wall on omega where x == -0.5 or x == 1 or y == -0.5 or y == 1.5, points 256:
        (uvp(x, y)[0] - (1 - exp(lambda * x) * cos(2 * π * y)))^2
        + (uvp(x, y)[1] - lambda / (2 * π) * exp(lambda * x) * sin(2 * π * y))^2
        + (uvp(x, y)[2] - (1 - exp(2 * lambda * x)) / 2)^2

    loss = mean(momentum_x^2) + mean(momentum_y^2) + mean(continuity^2) + mean(wall)
}
