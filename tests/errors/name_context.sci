// Parameter defaults must be constants; residuals exist only in the loss.
model Context {
    param a = 1.0
    param b = 2 * a
    domain box: x in [0, 1]
    use nn.{mlp}
    net u(x) = mlp(hidden: [4], activation: tanh)
    residual r on box, points 8: u - x
    let twice = 2 * r
    loss = mean(r^2)
}
