// E0124: an algebraic equation is written `0 = …`.
model M {
    state x = 1.0
    state z = 0.5
    der(x) = -x + z
    1 = x + z
}
