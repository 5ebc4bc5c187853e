// E0122: `fixed` keeps a parameter out of training; nothing else can be fixed.
model M {
    param k = 0.5 fixed
    state x = 1.0 fixed
    der(x) = -k * x
}
