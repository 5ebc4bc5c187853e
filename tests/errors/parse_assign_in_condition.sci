// E0116: `=` where a comparison `==` was meant.
use nn.{mlp}
model M {
    domain omega: t in [0, 1], x in [-1, 1]
    net u(t, x) = mlp(hidden: [8], activation: tanh)
    residual initial on omega where t = 0, points 64: u
    output y = if t = 0 then 1 else 0
}
