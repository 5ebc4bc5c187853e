// E0123: inside `when`, a state is set with `reinit`, not with `=`.
model Ball {
    param e = 0.8
    state h = 10.0
    state v = 0.0
    der(h) = v
    der(v) = -9.81
    when h < 0 { v = -e * v }
}
