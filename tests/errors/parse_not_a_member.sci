// E0121: a line in a model must start with a member keyword.
model M {
    param a = 1.0
    state x = 1.0
    y = a * x
    der(x) = -a * x
}
