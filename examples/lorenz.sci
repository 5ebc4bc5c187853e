// The Lorenz system (σ = 10, ρ = 28, β = 8/3), chaotic. `sci discover` finds these
// equations again from a sampled trajectory alone:
//
//   sci run examples/lorenz.sci --points 5001 --rtol 1e-10 --atol 1e-12 --out lorenz.csv
//   sci discover lorenz.csv --degree 2 --out lorenz_found.sci
model Lorenz {
    param sigma = 10.0
    param rho = 28.0
    param beta = 8 / 3

    state x = -8.0
    state y = 7.0
    state z = 27.0

    der(x) = sigma * (y - x)
    der(y) = x * (rho - z) - y
    der(z) = x * y - beta * z

    domain time: t in [0, 10]
}
