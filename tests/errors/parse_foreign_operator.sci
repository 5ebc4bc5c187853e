// E0106: operators from other languages are reported and read as the sci spelling.
model M {
    param a = 2.0
    state x = 1.0
    der(x) = -a * x**2
    output ok = x > 0 && a > 0 || !(x < 1)
}
