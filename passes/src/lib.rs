//! IR → IR transforms: automatic differentiation (forward, reverse, Taylor), sparsity
//! detection and Jacobian colouring, e-graph simplification, CSE/DCE, merging of batch
//! reductions over the same points.
//!
//! Every transform takes and returns IR that `sci_ir::validate` accepts; tests validate the
//! output of every transform and compare its numbers with the interpreter and with finite
//! differences.

#![deny(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

pub mod ad;
pub mod cleanup;
pub mod fuse;
pub mod pipeline;
pub mod simplify;
pub mod sparsity;
pub mod spectral;
pub mod tile;
