// The `nn` prelude: activations and layer helpers written in sci itself. Like `mlp`,
// they need a `use`: `use nn.{silu, dense}`. The compiler embeds this file; a program
// gets only the functions it calls. A `fn` of your own with the same name replaces the
// prelude's (unless you also import the name with `use`, which is an error).
//
// Built-ins stay built-ins where they are single IR operations with hand-written
// derivative rules (tanh, sigmoid, softplus, sin) or are used by `mlp` (relu, gelu).
//
// What the language cannot express, and so is not here:
// - functions as values: an activation cannot be a parameter, so networks are still
//   declared with the built-in `net u(x) = mlp(…)`, which also owns their weights in θ;
// - random numbers: weight initialisers are `mlp(init: glorot | he)`; only their
//   scales are here;
// - default arguments: `elu`, `swish` and `leaky_relu` take their constant explicitly.
//
// Every activation needs a dimensionless argument, except `leaky_relu` and
// `softsign`, which keep (leaky_relu) or need (softsign: 1 + |x|) its unit.

// silu(x): the sigmoid-weighted linear unit x·sigmoid(x) (also called swish-1).
fn silu(x) = x * sigmoid(x)

// swish(x, beta): x·sigmoid(beta·x); swish(x, 1) = silu(x).
fn swish(x, beta) = x * sigmoid(beta * x)

// elu(x, alpha): x for x > 0, alpha·(exp(x) − 1) otherwise. The exponential is taken
// of min(x, 0), so large positive x cannot overflow the branch that is not chosen.
fn elu(x, alpha) = if x > 0 then x else alpha * (exp(min(x, 0)) - 1)

// selu(x): the self-normalising unit λ·elu(x, α) with λ = 1.0507009873554805 and
// α = 1.6732632423543772 (Klambauer et al. 2017).
fn selu(x) = 1.0507009873554805 * elu(x, 1.6732632423543772)

// leaky_relu(x, slope): x for x > 0, slope·x otherwise; keeps x's unit, slope is
// dimensionless (typically 0.01).
fn leaky_relu(x, slope) = if x > 0 then x else slope * x

// mish(x): x·tanh(softplus(x)) (Misra 2019).
fn mish(x) = x * tanh(softplus(x))

// softsign(x): x / (1 + |x|), a bounded activation in (−1, 1).
fn softsign(x) = x / (1 + abs(x))

// softmax(x): exp(x[i]) / Σ exp(x[j]) over a vector, with max(x) subtracted first so
// that it does not overflow; x dimensionless; the result sums to 1.
fn softmax(x: real[n]) = exp(x - max(x)) / sum(exp(x - max(x)))

// dense(W, b, x): one fully connected layer W·x + b, for any sizes: W is [m, n], b is
// [m], x is [n], and the result is [m].
fn dense(W: real[m, n], b: real[m], x: real[n]) = matmul(W, x) + b

// glorot_scale(fan_in, fan_out): sqrt(6 / (fan_in + fan_out)), the half-width of the
// uniform Glorot initialisation (variance 2 / (fan_in + fan_out)); what
// `mlp(init: glorot)` draws from.
fn glorot_scale(fan_in, fan_out) = sqrt(6 / (fan_in + fan_out))

// he_scale(fan_in): sqrt(6 / fan_in), the half-width of the uniform He initialisation
// (variance 2 / fan_in); what `mlp(init: he)` draws from.
fn he_scale(fan_in) = sqrt(6 / fan_in)
