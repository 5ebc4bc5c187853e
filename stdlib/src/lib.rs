//! The standard library: the `.sci` prelude and the Rust runtime (ODE solvers,
//! sensitivities, optimisers, samplers, data I/O).
//!
//! Empty in this milestone: built-in functions and the `nn` module (`mlp`) are known to the
//! checker (`sci_lang::builtins`) and lowered directly to IR.
