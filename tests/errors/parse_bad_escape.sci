// E0104: unknown escape sequence in a string.
model M {
    data obs(t, y) = csv("data\obs.csv")
}
