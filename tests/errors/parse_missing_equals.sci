// E0110: the `=` after a declared name is missing.
model M {
    param alpha 1.5
    state x: m 1.0
    der(x) = -alpha * x
}
