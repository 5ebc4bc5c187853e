//! IR → IR transforms: automatic differentiation (forward, reverse, Taylor), e-graph
//! simplification, constant folding, CSE/DCE, inlining, sparsity detection.
//!
//! Empty in this milestone: the front end lowers derivative operators to the placeholder
//! op `sci_ir::Op::Deriv`, which the AD transforms of the next milestone expand. Every
//! transform here will take and return a validated `sci_ir::Module`.
