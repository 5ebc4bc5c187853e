// Prelude functions of `nn` are imported like `mlp`: a misspelt name gets a
// suggestion, and a call of a name that is not imported says which `use` to add.
use nn.{silux}

model Decay {
    state x = 1.0
    der(x) = -silu(x)
}
