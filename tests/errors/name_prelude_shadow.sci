// A `fn` of your own replaces a prelude function of the same name, but not when the
// name is also imported explicitly: which of the two was meant is unclear.
use nn.{softsign}

fn softsign(x) = x / (1 + x^2)

model Decay {
    state x = 1.0
    der(x) = -softsign(x)
}
