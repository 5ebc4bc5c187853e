//! Reading the files a user names (models, data sets, checkpoints, PTX) with bounds: only
//! regular files (a directory is a clear error, and `/dev/zero` or a pipe would be a read
//! that never ends), at most a stated number of bytes (checked before reading, and again
//! while reading for a file that grows).

use std::fmt;
use std::io::{self, Read};
use std::path::Path;

use crate::Error;

/// The largest data file (CSV or NPY) or checkpoint read: 4 GiB.
pub const MAX_DATA_BYTES: u64 = 4 << 30;

/// Why a file could not be read.
#[derive(Debug)]
pub enum ReadFailure {
    /// Nothing at that path.
    NotFound,
    /// A directory, device, pipe or socket.
    NotRegular,
    /// More bytes than allowed.
    TooLarge { bytes: u64, limit: u64 },
    /// Any other failure of the file system.
    Io(io::Error),
}

impl fmt::Display for ReadFailure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ReadFailure::NotFound => f.write_str("it does not exist"),
            ReadFailure::NotRegular => f.write_str("it is not a regular file"),
            ReadFailure::TooLarge { bytes, limit } => {
                write!(f, "it has {bytes} bytes, more than the {limit} allowed")
            }
            ReadFailure::Io(e) => write!(f, "{e}"),
        }
    }
}

/// The bytes of the regular file `path`, if it has at most `limit` of them.
pub fn read_regular(path: &Path, limit: u64) -> Result<Vec<u8>, ReadFailure> {
    let meta = std::fs::metadata(path).map_err(|e| match e.kind() {
        io::ErrorKind::NotFound => ReadFailure::NotFound,
        _ => ReadFailure::Io(e),
    })?;
    if !meta.is_file() {
        return Err(ReadFailure::NotRegular);
    }
    if meta.len() > limit {
        return Err(ReadFailure::TooLarge {
            bytes: meta.len(),
            limit,
        });
    }
    let file = std::fs::File::open(path).map_err(ReadFailure::Io)?;
    let mut bytes = Vec::with_capacity(usize::try_from(meta.len()).unwrap_or(0));
    file.take(limit.saturating_add(1))
        .read_to_end(&mut bytes)
        .map_err(ReadFailure::Io)?;
    let read = bytes.len() as u64;
    if read > limit {
        return Err(ReadFailure::TooLarge { bytes: read, limit });
    }
    Ok(bytes)
}

/// [`read_regular`] of a file the user named as a `what` (`"data file"`, `"checkpoint
/// file"`), its failures as errors: a missing file and one that is not a regular file or
/// is too large are input errors (the latter with `help`), anything else an I/O error.
pub fn read_named(path: &Path, limit: u64, what: &str, help: &str) -> Result<Vec<u8>, Error> {
    let shown = path.display();
    read_regular(path, limit).map_err(|why| match why {
        ReadFailure::NotFound => {
            Error::input(format!("The {what} `{shown}` does not exist.")).with_help(missing_help())
        }
        ReadFailure::NotRegular | ReadFailure::TooLarge { .. } => {
            Error::input(format!("Cannot read the {what} `{shown}`: {why}.")).with_help(help)
        }
        ReadFailure::Io(_) => Error::io(format!("Could not read the {what} `{shown}`: {why}.")),
    })
}

/// Where relative paths are looked up, for the help of a missing file.
fn missing_help() -> String {
    match std::env::current_dir() {
        Ok(dir) => format!(
            "check the path; a relative path is looked up from `{}`",
            dir.display()
        ),
        Err(_) => "check the path".to_string(),
    }
}

/// [`read_regular`] as UTF-8 text.
pub fn read_regular_text(path: &Path, limit: u64) -> Result<String, ReadFailure> {
    let bytes = read_regular(path, limit)?;
    String::from_utf8(bytes).map_err(|_| {
        ReadFailure::Io(io::Error::new(
            io::ErrorKind::InvalidData,
            "it is not UTF-8 text",
        ))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_regular_files_within_the_limit_are_read() {
        let dir = tempfile::tempdir().unwrap();
        let small = dir.path().join("small.csv");
        std::fs::write(&small, b"t,x\n0,1\n").unwrap();
        assert_eq!(read_regular(&small, 100).unwrap(), b"t,x\n0,1\n");
        assert!(matches!(
            read_regular(&small, 3),
            Err(ReadFailure::TooLarge { bytes: 8, limit: 3 })
        ));
        assert!(matches!(
            read_regular(dir.path(), 100),
            Err(ReadFailure::NotRegular)
        ));
        assert!(matches!(
            read_regular(&dir.path().join("missing"), 100),
            Err(ReadFailure::NotFound)
        ));
        #[cfg(unix)]
        assert!(matches!(
            read_regular(Path::new("/dev/zero"), 100),
            Err(ReadFailure::NotRegular)
        ));
        let bad = dir.path().join("bad.txt");
        std::fs::write(&bad, [0xff, 0xfe]).unwrap();
        assert!(read_regular_text(&bad, 100).is_err());
    }
}
