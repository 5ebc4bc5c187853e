// E0119: units contain names, `1`, and whole or fractional powers only.
model M {
    param a: 2/s = 1.0
    param b: m^1.5 = 1.0
    param c: m^(1/0) = 1.0
}
