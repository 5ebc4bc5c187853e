// Several independent errors in one file are all reported, and parsing continues.
model M {
    param a = 
    param b = 2.0 *
    state x = 1.0
    state = 3
    der(x) = -a * x +
    output y = x
}

fn f(x) = (x + 1

model N {
    param c = 1.0
}
