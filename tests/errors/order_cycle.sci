// Definitions that depend on each other in a cycle; source order never matters.
model Cycle {
    state x = 1.0
    let a = b + x
    let b = c * 2
    let c = a - 1
    der(x) = -a
}
