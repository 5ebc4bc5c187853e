// The `math` prelude: functions written in sci itself, in scope everywhere without a
// `use`, like the built-in `exp` or `sin`. The compiler embeds this file; a program
// gets only the functions it calls. A `fn` of your own with the same name replaces
// the prelude's (unless you also import the name with `use`, which is an error).
//
// Built-ins stay built-ins where they are single IR operations with hand-written
// derivative rules (exp, log, sin, tanh, sigmoid, softplus, erf, min, max, …).
//
// What the language cannot express, and so is not here:
// - local names inside a `fn` (`smoothstep` repeats its clamped ratio; the compiler
//   computes it once);
// - default arguments (every parameter is passed);
// - an overflow-safe `hypot`, which needs a local scale factor: `hypot` below is the
//   plain formula sqrt(x^2 + y^2).
//
// Units: a parameter without a unit takes the unit of its argument. A bare number
// passed as an argument is dimensionless (it does not adapt across the call), so write
// `clamp(T, T_lo, T_hi)` with quantities rather than `clamp(T, 0, 1)` when T has a unit.

// clamp(x, lo, hi): x limited to [lo, hi], i.e. min(max(x, lo), hi); all in one unit.
fn clamp(x, lo, hi) = min(max(x, lo), hi)

// mod(a, b): the remainder of a divided by b, with the sign of b: a − b·floor(a/b)
// (mod(7, 3) = 1, mod(-1, 3) = 2). It wraps an index around a ring, as a circuit's
// `cz(i, mod(i + 1, n))` does. a and b share one unit.
fn mod(a, b) = a - b * floor(a / b)

// lerp(a, b, t): linear interpolation a + t·(b − a); a and b in one unit, t
// dimensionless (t = 0 gives a, t = 1 gives b).
fn lerp(a, b, t) = a + t * (b - a)

// smoothstep(edge0, edge1, x): 0 below edge0, 1 above edge1, and the cubic
// 3s² − 2s³ of s = (x − edge0)/(edge1 − edge0) in between (C¹-smooth). The three
// arguments share one unit.
fn smoothstep(edge0, edge1, x) = clamp((x - edge0) / (edge1 - edge0), 0, 1)^2 * (3 - 2 * clamp((x - edge0) / (edge1 - edge0), 0, 1))

// sinc(x): sin(x)/x (unnormalised), with sinc(0) = 1; x dimensionless. Below |x| = 0.01
// it is the Taylor series 1 − x²/6 + x⁴/120 − x⁶/5040 + x⁸/362880 (exact to rounding
// there), and the division never sees x = 0, so derivatives of every order stay finite.
fn sinc(x) = if abs(x) < 0.01 then 1 - x^2 / 6 + x^4 / 120 - x^6 / 5040 + x^8 / 362880 else sin(x) / (if abs(x) < 0.01 then 1 else x)

// logit(p): log(p / (1 − p)), the inverse of sigmoid; p dimensionless in (0, 1).
fn logit(p) = log(p / (1 - p))

// hypot(x, y): sqrt(x² + y²), the length of the vector (x, y); x and y in one unit.
// The plain formula: it overflows when x² does (|x| > 1e154).
fn hypot(x, y) = sqrt(x^2 + y^2)

// huber(r, delta): the Huber loss of a residual r, quadratic r²/2 for |r| ≤ delta and
// linear delta·(|r| − delta/2) beyond (continuous with its derivative); r and delta in
// one unit, the result in its square.
fn huber(r, delta) = if abs(r) <= delta then 0.5 * r^2 else delta * (abs(r) - 0.5 * delta)

// logsumexp(x): log(Σ exp(x[i])) over a vector, computed as
// max(x) + log(Σ exp(x[i] − max(x))) so that it does not overflow; x dimensionless.
fn logsumexp(x: real[n]) = max(x) + log(sum(exp(x - max(x))))
