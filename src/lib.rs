//! sci
