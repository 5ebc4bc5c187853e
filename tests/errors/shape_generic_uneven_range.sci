// E0303: a range bound computed from a generic size must be whole for every size.
fn half(x: real[n]) = sum(i in 0..n / 2: x[i])

model M {
    param v = [1.0, 2.0, 3.0, 4.0]
    state z = 0
    der(z) = half(v) - z
}
