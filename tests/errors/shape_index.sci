// Indices are proved in range; outside array definitions a possible overflow is an error.
fn last_two(x: real[n]) = sum(i in 0..n: x[i + 1] - x[i])

model Index {
    const n = 4
    state u[i in 0..n] = 1.0
    der(u[i]) = -u[i]
    output fifth = u[4]
}
