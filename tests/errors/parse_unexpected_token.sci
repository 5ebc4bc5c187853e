// E0110: a token that does not fit, with what was expected.
model M {
    param a = 1.0
    state x = 1.0
    der(x) = a x
    domain omega: t in (0, 1)
}
