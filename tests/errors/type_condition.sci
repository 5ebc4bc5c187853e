// Conditions need true/false values, and arithmetic needs numbers.
model Types {
    state x = 1.0
    let s = if x then 1.0 else 0.0
    let t = (x > 0) + 1
    der(x) = -x
}
