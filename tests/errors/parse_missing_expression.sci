// E0111: an operator or `=` with nothing after it.
model M {
    param a =
    state x = 1.0
    der(x) = a * 
    output y = x + )
}
