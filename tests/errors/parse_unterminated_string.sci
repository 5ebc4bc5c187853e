// E0102: a string must end on the line it starts.
model M {
    data obs(t, y) = csv("obs.csv)
    param a = 1.0
}
