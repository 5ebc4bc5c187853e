//! Back ends: one `Backend` trait with Cranelift (default), LLVM and MLIR implementations.
//!
//! Empty in this milestone: today the reference interpreter (`sci_ir::interp`) evaluates
//! every lowered function, and it is the oracle the back ends will be tested against.
