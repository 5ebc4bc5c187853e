// Rosenbrock's banana function in n dimensions and its derivatives.
//
// The minimum is 0 at x = (1, …, 1). `sci eval` evaluates any of these at given
// inputs; the derivative operators are expanded on the IR by the compiler.
fn rosenbrock(x: real[n]) = sum(i in 0..n - 1: 100 * (x[i + 1] - x[i]^2)^2 + (1 - x[i])^2)

fn rosenbrock_grad(x: real[n]) = grad(rosenbrock(x), x)

fn rosenbrock_hessian(x: real[n]) = hessian(rosenbrock(x), x)

// Smooth activations written in the language itself.
fn relu(x) = if x > 0 then x else 0
fn softsign(x) = x / (1 + abs(x))
