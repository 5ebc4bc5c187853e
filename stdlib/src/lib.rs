//! The standard library: the `.sci` prelude and the Rust runtime that turns compiled
//! functions into answers.
//!
//! - [`ode`]: solving `y' = f(t, y; θ)` with diffsol (Tsit5, BDF, ESDIRK34, TR-BDF2), dense
//!   or sparse Jacobians, dense output at requested times, forward sensitivities `dy/dθ`;
//! - [`optim`]: Adam and L-BFGS over an [`optim::Objective`] (value and gradient);
//! - [`sample`]: collocation points in a domain box (uniform, Latin hypercube, Sobol) with
//!   fixed coordinates for boundary and initial conditions;
//! - [`discover`]: equation discovery from data (SINDy): a library of candidate terms,
//!   sequentially thresholded least squares, the threshold chosen by AICc, time derivatives
//!   of sampled series;
//! - [`data`]: tables from CSV and NPY files, CSV/NPY/JSON outputs written atomically;
//! - [`checkpoint`]: parameters saved to and restored from JSON;
//! - [`collective`]: the operations a run over several processes (MPI ranks) needs, as a
//!   trait, and how items are shared among the ranks;
//! - [`operator_data`]: training data for neural operators: Gaussian random fields and the
//!   Darcy flow solver (Li et al.'s benchmarks);
//! - [`files`]: reading the files a user names, regular files within a size limit only;
//! - [`quantum`]: differentiable state-vector simulation of variational quantum circuits
//!   (Pauli-sum expectation values, adjoint and parameter-shift gradients, sampling);
//! - [`mod@reference`]: reference solutions the tests and benchmarks compare against.
//!
//! This crate knows nothing of the language: it works on plain slices and traits that the
//! `sci` crate implements with compiled code. That keeps the runtime testable on
//! hand-written systems and usable from any host.

pub mod checkpoint;
pub mod collective;
pub mod data;
pub mod discover;
pub mod error;
pub mod files;
pub mod ode;
pub mod operator_data;
pub mod optim;
pub mod quantum;
pub mod reference;
pub mod sample;

pub use error::{Error, ErrorKind};
