// A misspelled parameter: the checker suggests the closest name in scope.
model Decay {
    param alpha = 0.5
    state x = 1.0
    der(x) = -alhpa * x
}
