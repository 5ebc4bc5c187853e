// E0113: a closing bracket with nothing to close, and one of the wrong kind.
model M {
    param a = 1.0)
    state x = 1.0
    der(x) = (a * x]
}
