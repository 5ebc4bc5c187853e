// Every name is defined once; the second definition is reported with the first.
model Twice {
    param k = 1.0
    param k = 2.0
    state x = 1.0
    der(x) = -k * x
}
