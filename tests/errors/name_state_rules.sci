// `der` of something that is not a state, and a state without `der`.
model Broken {
    param k = 1.0
    state x = 1.0
    state y = 0.0
    der(k) = x
    der(x) = -k * x
}
