// Unknown unit symbols get a suggestion; temperatures in °C are refused.
model Symbols {
    param v: m/sec = 1.0
    param w: mtr = 1.0
    param temp: degC = 20.0
    state x: m = 0.0
    der(x) = v
}
