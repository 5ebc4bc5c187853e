// E0105: a number literal beyond the range of f64.
model M {
    param a = 1e999
}
