// Values per collocation point of two different residuals cannot be combined.
use nn.{mlp}

model Batches {
    domain box: x in [0, 1]
    net u(x) = mlp(hidden: [8], activation: tanh)
    residual inside on box, points 64: d(u, x, x)
    residual edge on box where x == 0 or x == 1, points 8: u
    loss = mean(inside * edge)
}
