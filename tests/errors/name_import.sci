// `mlp` lives in the module `nn` and needs a `use`; unknown modules list what exists.
use torch.{mlp}

model Net {
    domain box: x in [0, 1]
    net u(x) = mlp(hidden: [8], activation: tanh)
    residual r on box, points 16: u - x
    loss = mean(r^2)
}
