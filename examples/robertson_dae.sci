// Robertson's chemical kinetics (as examples/robertson.sci) written as a DAE: the third
// concentration is not integrated but fixed by mass conservation, y1 + y2 + y3 = 1.
model RobertsonDAE {
    param k1 = 0.04
    param k2 = 3e7
    param k3 = 1e4

    state y1 = 1.0
    state y2 = 0.0
    state y3 = 0.0  // algebraic: a guess, made consistent at the start

    der(y1) = -k1 * y1 + k3 * y2 * y3
    der(y2) = k1 * y1 - k3 * y2 * y3 - k2 * y2^2

    0 = y1 + y2 + y3 - 1

    domain time: t in [0, 1e5]
}
