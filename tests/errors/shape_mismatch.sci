// Elementwise operations need equal shapes (or a scalar on one side).
model Shapes {
    const a = [1.0, 2.0, 3.0]
    const b = [1.0, 2.0]
    param w[i in 0..3] = 0.1 * i
    let c = a + b
    state x = 1.0
    der(x) = -x * sum(w)
}
