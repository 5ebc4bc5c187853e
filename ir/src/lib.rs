//! The sci IR: the one contract between the front end and every back end.
//!
//! Design (see `ARCHITECTURE.md`, "The IR"):
//!
//! - A [`Module`] holds [`Function`]s and the [`Layout`]s of the flat vectors they exchange
//!   (parameters θ, states y, outputs).
//! - A function is pure dataflow: an arena of [`Value`]s referred to by typed handles
//!   ([`ValueId`]), evaluated in the order of its [`Block`]. There is no general control flow;
//!   structured ops (`tabulate`, `fold`, `map`) own nested blocks.
//! - Types carry dtype, static shape, a batch flag, and a physical unit as metadata.
//! - The batch dimension is explicit: `map` runs a block per point of batched inputs and
//!   `reduce_batch` reduces over points. Back ends choose how to run it.
//! - `validate` checks handles first, then scoping and types; every pass's output is
//!   validated in tests. The text format (`print`/`read`) round-trips, and the interpreter
//!   (`interp`) is the numeric oracle for every back end and derivative.
//!
//! This crate does no I/O and never panics on any input, valid or not.

#![deny(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

pub mod arena;
pub mod builder;
pub mod interp;
pub mod kernels;
pub mod manifest;
pub mod math;
pub mod module;
pub mod op;
pub mod print;
pub mod quantum;
pub mod random;
pub mod read;
pub mod spectral;
pub mod types;
pub mod unit;
pub mod validate;

pub use arena::{Arena, Handle};
pub use builder::FunctionBuilder;
pub use interp::{EvalError, Interpreter, Tensor, ValidModule, eval};
pub use manifest::{InputRole, Manifest, Role, SplitPart};
pub use module::{Block, FuncId, Function, Layout, Module, Slot, Value, ValueId};
pub use op::{BinaryOp, CmpOp, Op, ReduceOp, UnaryOp};
pub use print::{print_function, print_module};
pub use read::read_module;
pub use types::{DType, Shape, Type};
pub use unit::{Rational, Unit};
pub use validate::{ValidationError, validate_function, validate_module};
