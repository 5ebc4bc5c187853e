// E0112: a bracket still open when the next member starts.
model M {
    param a = 1.0
    state x = 1.0
    der(x) = -a * (x + 1
    output y = sin(x
}
