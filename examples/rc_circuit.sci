// An electrical circuit as a DAE: a source of voltage V through a resistor R charges a
// capacitor C. The capacitor's voltage is a state; the current is algebraic, fixed by
// Ohm's law at every instant. Closed form: v = V·(1 − e^(−t/(RC))), i = (V/R)·e^(−t/(RC)).
model RCCircuit {
    param R: ohm = 1000.0
    param C: F = 1e-3
    param V: V = 5.0

    state v: V = 0.0  // voltage across the capacitor
    state i: A = 0.0  // current: algebraic (an initial guess)

    der(v) = i / C
    0 = R * i - (V - v)  // Ohm's law across the resistor, in volts

    output power: W = i * (V - v)  // dissipated in the resistor

    domain time: t in [0, 5]
}
