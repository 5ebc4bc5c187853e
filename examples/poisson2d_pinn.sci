// Physics-informed neural network for the 2-D Poisson problem
//
//   −Δu = 2π² sin(π x) sin(π y) on (0, 1)², u = 0 on the boundary,
//
// whose exact solution is u = sin(π x) sin(π y).
use nn.{mlp}

model Poisson2D {
    domain square: x in [0, 1], y in [0, 1]

    net u(x, y) = mlp(hidden: [32, 32], activation: tanh, seed: 1)

    residual interior on square, points 1024: laplacian(u) + 2 * π^2 * sin(π * x) * sin(π * y)
    residual edge on square where x == 0 or x == 1 or y == 0 or y == 1, points 256: u

    loss = mean(interior^2) + 10 * mean(edge^2)
}
