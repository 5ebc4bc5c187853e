// der(x) has the unit of x per second; an unannotated state is dimensionless.
model Falling {
    const g: m/s^2 = 9.81
    state v = 0.0
    der(v) = g
}
