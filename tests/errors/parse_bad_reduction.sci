// E0118: index binders outside a reduction, and reductions without a body.
fn f(x: real[n]) = exp(i in 0..n: x[i])
fn g(x: real[n]) = sum(i in 0..n)
fn h(x: real[n]) = sum(i in 0..n: x[i], 2)
