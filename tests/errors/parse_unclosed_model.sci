// E0112: a model without its closing brace; the next model is still read.
model A {
    param a = 1.0

model B {
    param b = 2.0
}
