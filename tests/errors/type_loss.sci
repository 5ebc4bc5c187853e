// The loss must be one number: reduce a residual over its points with mean(...).
use nn.{mlp}

model Loss {
    domain box: x in [0, 1]
    net u(x) = mlp(hidden: [8], activation: tanh)
    residual r on box, points 64: d(u, x) - 1
    loss = r^2
}
