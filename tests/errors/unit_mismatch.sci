// Adding a length and a time; a conversion factor is suggested when only the scale differs.
model Units {
    param L: m = 1.0
    param d: km = 2.0
    param T: s = 3.0
    output bad = L + T
    output scaled = L + d
}
