// E0120: the left side of a `der` equation indexes with plain index variables.
model M {
    const n = 4
    state u[i in 0..n] = 0.0
    der(u[i + 1]) = u[i]
}
