//! The runtime's error: what went wrong, whose fault it is (the input or the numerics),
//! and a hint.

use std::fmt;

/// Whether an error is the user's input (exit code 2 in the CLI) or a failure of the
/// computation on valid input.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ErrorKind {
    /// Bad options or data: a negative tolerance, an unknown solver, a missing file, a CSV
    /// without the columns the model declares.
    Input,
    /// The computation failed: the solver could not meet its tolerances, the loss became NaN.
    Numerical,
    /// Reading or writing a file failed for a reason other than its contents.
    Io,
}

/// A runtime error with a message a scientist understands and an optional hint.
#[derive(Clone, Debug, PartialEq)]
pub struct Error {
    pub kind: ErrorKind,
    pub message: String,
    pub help: Option<String>,
}

impl Error {
    /// An error in the user's input.
    pub fn input(message: impl Into<String>) -> Error {
        Error {
            kind: ErrorKind::Input,
            message: message.into(),
            help: None,
        }
    }

    /// A numerical failure.
    pub fn numerical(message: impl Into<String>) -> Error {
        Error {
            kind: ErrorKind::Numerical,
            message: message.into(),
            help: None,
        }
    }

    /// A failure to read or write a file.
    pub fn io(message: impl Into<String>) -> Error {
        Error {
            kind: ErrorKind::Io,
            message: message.into(),
            help: None,
        }
    }

    /// The error with a hint.
    pub fn with_help(mut self, help: impl Into<String>) -> Error {
        self.help = Some(help.into());
        self
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)?;
        if let Some(help) = &self.help {
            write!(f, "\nhelp: {help}")?;
        }
        Ok(())
    }
}

impl std::error::Error for Error {}
