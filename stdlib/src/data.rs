//! Tables in and out: CSV and NPY readers, CSV/NPY/NPZ/JSON writers that never leave a
//! partial file behind (write to a temporary file next to the target, then rename).
//!
//! Units travel with the columns where the format can hold them: a CSV header names a
//! column `omega [1/s]` (read back as `omega` with its unit), JSON states them per column;
//! NPZ archives keep every column (or array, with its shape) under its name.

use std::fs;
use std::io::{self, Write};
use std::path::Path;

use npyz::{DType, Endianness, NpyFile, Order, TypeChar, WriterBuilder};

use crate::Error;
use crate::files::{MAX_DATA_BYTES, read_named};

/// A numeric table: named columns, rows stored row-major.
#[derive(Clone, Debug, PartialEq)]
pub struct Table {
    pub columns: Vec<String>,
    /// `values[r * columns.len() + c]`.
    pub values: Vec<f64>,
    /// The unit of each column (`1/s`), `None` for plain numbers; empty when no column has
    /// one.
    pub units: Vec<Option<String>>,
}

/// A named array with its shape (row-major), for `.npz` archives.
#[derive(Clone, Debug, PartialEq)]
pub struct NamedArray {
    pub name: String,
    pub shape: Vec<usize>,
    pub values: Vec<f64>,
}

impl Table {
    /// A table without units.
    pub fn new(columns: Vec<String>, values: Vec<f64>) -> Table {
        Table {
            columns,
            values,
            units: Vec::new(),
        }
    }

    /// The unit of column `c`, if it has one.
    pub fn unit(&self, c: usize) -> Option<&str> {
        self.units.get(c).and_then(|u| u.as_deref())
    }

    /// Every column as a 1-D array, for an `.npz` archive.
    pub fn arrays(&self) -> Vec<NamedArray> {
        let rows = self.rows();
        self.columns
            .iter()
            .map(|name| NamedArray {
                name: name.clone(),
                shape: vec![rows],
                values: self.column(name).unwrap_or_default(),
            })
            .collect()
    }

    /// Number of rows.
    pub fn rows(&self) -> usize {
        self.values
            .len()
            .checked_div(self.columns.len())
            .unwrap_or(0)
    }

    /// The column with this name.
    pub fn column(&self, name: &str) -> Option<Vec<f64>> {
        let c = self.columns.iter().position(|n| n == name)?;
        let w = self.columns.len();
        Some(self.values.iter().skip(c).step_by(w).copied().collect())
    }
}

/// The file formats, by extension.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Format {
    Csv,
    Npy,
    Npz,
    Json,
}

/// The format named by `path`'s extension (case-insensitive), if any.
fn format_of(path: &Path) -> Option<Format> {
    let ext = path.extension()?.to_str()?.to_ascii_lowercase();
    match ext.as_str() {
        "csv" => Some(Format::Csv),
        "npy" => Some(Format::Npy),
        "npz" => Some(Format::Npz),
        "json" => Some(Format::Json),
        _ => None,
    }
}

/// Whether tables in `path`'s format name their columns (a CSV header row); an `.npy` file
/// only numbers them (`c0, c1, …`), so a model's declared columns are its columns in order.
pub fn names_columns(path: &Path) -> bool {
    format_of(path) != Some(Format::Npy)
}

/// Reads a table from a `.csv` (header row of names) or `.npy` (2-D float array; columns
/// named `c0, c1, …`) file, chosen by extension.
///
/// A 1-D NPY array is one column `c0`. CSV cells are trimmed and parsed as `f64` (so `NaN`
/// and `inf` are accepted); blank lines are skipped.
pub fn read_table(path: &Path) -> Result<Table, Error> {
    let format = match format_of(path) {
        Some(f @ (Format::Csv | Format::Npy)) => f,
        _ => {
            return Err(Error::input(format!(
                "Cannot read a table from `{}`: only `.csv` and `.npy` files are supported.",
                path.display()
            ))
            .with_help("save the data as CSV with a header row, or as a NumPy `.npy` array"));
        }
    };
    let bytes = read_named(
        path,
        MAX_DATA_BYTES,
        "data file",
        "a data set is a `.csv` or `.npy` file of at most 4 GiB",
    )?;
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Err(
            Error::input(format!("The data file `{}` is empty.", path.display())).with_help(
                match format {
                    Format::Npy => "save the array again with `numpy.save`",
                    _ => {
                        "a CSV file needs a header row naming the columns, then one row per \
                          data point"
                    }
                },
            ),
        );
    }
    match format {
        Format::Npy => read_npy(path, &bytes),
        _ => read_csv(path, &bytes),
    }
}

fn read_csv(path: &Path, bytes: &[u8]) -> Result<Table, Error> {
    let shown = path.display();
    let invalid = |e: csv::Error| {
        Error::input(format!("The data file `{shown}` is not valid CSV: {e}."))
            .with_help("save it as UTF-8 text with comma-separated values")
    };
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(true)
        .flexible(true)
        .trim(csv::Trim::All)
        .from_reader(bytes);
    // `omega [1/s]`: the column `omega` with its unit.
    let (columns, units): (Vec<String>, Vec<Option<String>>) = reader
        .headers()
        .map_err(invalid)?
        .iter()
        .map(split_unit)
        .unzip();
    if columns.is_empty() {
        return Err(Error::input(format!("The data file `{shown}` is empty."))
            .with_help("a CSV file needs a header row naming the columns"));
    }
    if columns.iter().all(|c| c.parse::<f64>().is_ok()) {
        return Err(Error::input(format!(
            "The first row of `{shown}` holds numbers, not column names."
        ))
        .with_help(format!(
            "add a header row naming the columns, e.g. `{}`",
            (0..columns.len().min(3))
                .map(|i| ["t", "x", "y"][i])
                .collect::<Vec<_>>()
                .join(",")
        )));
    }
    for (c, name) in columns.iter().enumerate() {
        if name.is_empty() {
            return Err(Error::input(format!(
                "Column {} of the header of `{shown}` has no name.",
                c + 1
            ))
            .with_help("name every column in the header row"));
        }
        if columns[..c].contains(name) {
            return Err(Error::input(format!(
                "The column `{name}` appears twice in the header of `{shown}`."
            ))
            .with_help("give every column a different name"));
        }
    }
    let mut values = Vec::new();
    for record in reader.records() {
        let record = record.map_err(invalid)?;
        let line = record.position().map_or(0, |p| p.line());
        if record.len() != columns.len() {
            return Err(Error::input(format!(
                "Line {line} of `{shown}` has {} values but the header names {} columns.",
                record.len(),
                columns.len()
            ))
            .with_help("give every row one value per column"));
        }
        for (cell, name) in record.iter().zip(&columns) {
            match cell.parse::<f64>() {
                Ok(x) => values.push(x),
                Err(_) if cell.is_empty() => {
                    return Err(Error::input(format!(
                        "Line {line} of `{shown}` has no value in column `{name}`."
                    ))
                    .with_help("fill in the value, remove the row, or write `NaN`"));
                }
                Err(_) => {
                    return Err(Error::input(format!(
                        "Line {line} of `{shown}` holds `{cell}` in column `{name}`, which is \
                         not a number."
                    ))
                    .with_help("every cell below the header must be a number like `1.5e-3`"));
                }
            }
        }
    }
    let units = if units.iter().any(Option::is_some) {
        units
    } else {
        Vec::new()
    };
    Ok(Table {
        columns,
        values,
        units,
    })
}

/// A header cell `name [unit]` split into the name and the unit.
fn split_unit(cell: &str) -> (String, Option<String>) {
    if let Some(stripped) = cell.strip_suffix(']')
        && let Some((name, unit)) = stripped.rsplit_once(" [")
        && !name.trim().is_empty()
    {
        return (name.trim().to_string(), Some(unit.trim().to_string()));
    }
    (cell.to_string(), None)
}

fn read_npy(path: &Path, bytes: &[u8]) -> Result<Table, Error> {
    let (shape, values) = npy_array(path, bytes)?;
    let cols = match shape[..] {
        [_] => 1,
        [_, c] => c,
        _ => {
            return Err(Error::input(format!(
                "The NPY file `{}` holds an array of shape {shape:?}; a table must be \
                 1-D (one column) or 2-D (rows × columns).",
                path.display()
            ))
            .with_help("reshape it in NumPy to (rows, columns) before saving"));
        }
    };
    Ok(Table::new(
        (0..cols).map(|c| format!("c{c}")).collect(),
        values,
    ))
}

/// Reads an `.npy` array of any rank (float64 or float32): its shape and its values in
/// row-major (C) order, whatever order the file stores.
pub fn read_array(path: &Path) -> Result<(Vec<usize>, Vec<f64>), Error> {
    if format_of(path) != Some(Format::Npy) {
        return Err(Error::input(format!(
            "Cannot read an array from `{}`: the file name must end in `.npy`.",
            path.display()
        ))
        .with_help("save the array with `numpy.save`"));
    }
    let bytes = read_named(
        path,
        MAX_DATA_BYTES,
        "data file",
        "an array is a `.npy` file of at most 4 GiB",
    )?;
    npy_array(path, &bytes)
}

/// The shape and row-major values of the NPY file `bytes` (read from `path`).
fn npy_array(path: &Path, bytes: &[u8]) -> Result<(Vec<usize>, Vec<f64>), Error> {
    let shown = path.display();
    let invalid = |e: &dyn std::fmt::Display| {
        Error::input(format!(
            "The data file `{shown}` is not a valid NPY file: {e}."
        ))
        .with_help("save the array with `numpy.save`")
    };
    precheck_npy(bytes).map_err(|e| invalid(&e))?;
    let npy = NpyFile::new(bytes).map_err(|e| invalid(&e))?;
    let dtype = npy.dtype();
    let shape = npy.shape().to_vec();
    let order = npy.order();
    let (size, endian) = match &dtype {
        DType::Plain(ts)
            if ts.type_char() == TypeChar::Float && matches!(ts.size_field(), 4 | 8) =>
        {
            (ts.size_field() as usize, ts.endianness())
        }
        other => {
            return Err(Error::input(format!(
                "The NPY file `{shown}` holds values of type `{}`; only float64 and float32 \
                 arrays can be read.",
                match other {
                    DType::Plain(ts) => ts.to_string(),
                    _ => other.descr(),
                }
            ))
            .with_help("convert it in NumPy with `numpy.save(path, a.astype(numpy.float64))`"));
        }
    };
    let dims: Option<Vec<usize>> = shape.iter().map(|&d| usize::try_from(d).ok()).collect();
    let count = dims
        .as_ref()
        .and_then(|d| d.iter().try_fold(1usize, |n, &e| n.checked_mul(e)));
    let needed = count.and_then(|n| n.checked_mul(size));
    let (Some(dims), Some(count), Some(needed)) = (dims, count, needed) else {
        return Err(Error::input(format!(
            "The NPY file `{shown}` declares an impossibly large shape {shape:?}."
        )));
    };
    let data: &[u8] = npy.into_inner();
    if data.len() < needed {
        return Err(Error::input(format!(
            "The NPY file `{shown}` is truncated: its shape {shape:?} needs {needed} bytes of \
             data but it has {}.",
            data.len()
        ))
        .with_help("save the array again with `numpy.save`"));
    }
    let flat: Vec<f64> = data[..needed]
        .chunks_exact(size)
        .map(|b| decode(b, endian == Endianness::Big))
        .collect();
    // Fortran order stores the first index fastest; the values are wanted row-major.
    let values = if order == Order::Fortran && dims.len() > 1 {
        let mut out = Vec::with_capacity(count);
        let mut index = vec![0usize; dims.len()];
        for _ in 0..count {
            let mut at = 0;
            for (axis, &i) in index.iter().enumerate().rev() {
                at = at * dims[axis] + i;
            }
            out.push(flat[at]);
            for axis in (0..dims.len()).rev() {
                index[axis] += 1;
                if index[axis] < dims[axis] {
                    break;
                }
                index[axis] = 0;
            }
        }
        out
    } else {
        flat
    };
    Ok((dims, values))
}

/// Checks what npyz trusts: the header length against the file size (it allocates that
/// much) and the shape's product against `u64` (it multiplies unchecked, which panics in
/// debug builds).
fn precheck_npy(bytes: &[u8]) -> Result<(), String> {
    let magic_ok = bytes.len() >= 10 && bytes.starts_with(b"\x93NUMPY");
    if !magic_ok {
        return Err("it does not start with the NPY magic string".into());
    }
    let (start, len) = match bytes[6] {
        1 => (
            10usize,
            usize::from(u16::from_le_bytes([bytes[8], bytes[9]])),
        ),
        2 | 3 if bytes.len() >= 12 => (
            12,
            u32::from_le_bytes([bytes[8], bytes[9], bytes[10], bytes[11]]) as usize,
        ),
        v => return Err(format!("format version {v} is not supported")),
    };
    let Some(header) = bytes.get(start..start.saturating_add(len)) else {
        return Err("the header is longer than the file".into());
    };
    let header = String::from_utf8_lossy(header);
    // Every tuple after a `shape` key (a structured dtype could name a field `shape`: such
    // files are rejected later anyway, so checking too many tuples is harmless).
    for (at, _) in header.match_indices("shape") {
        let rest = &header[at..];
        let Some(open) = rest.find('(') else { continue };
        let Some(close) = rest[open..].find(')') else {
            continue;
        };
        let mut product: u64 = 1;
        for dim in rest[open + 1..open + close].split(',') {
            let dim = dim.trim().trim_end_matches('L');
            if dim.is_empty() {
                continue;
            }
            let n: u64 = dim
                .parse()
                .map_err(|_| format!("the shape entry `{dim}` is not a size"))?;
            // Zero sizes are skipped: npyz also multiplies the other dimensions alone.
            if n != 0 {
                product = product
                    .checked_mul(n)
                    .ok_or("its shape is impossibly large")?;
            }
        }
        // npyz sizes its buffers from the shape before reading any data: a shape with more
        // elements than the file has bytes (each element takes at least one) is refused
        // here, or a few bytes of header could ask for terabytes.
        if product > bytes.len() as u64 {
            return Err(format!(
                "its shape has {product} elements but the file has only {} bytes",
                bytes.len()
            ));
        }
    }
    Ok(())
}

/// One float of 4 or 8 bytes.
fn decode(b: &[u8], big: bool) -> f64 {
    match (b.len(), big) {
        (4, false) => f64::from(f32::from_le_bytes([b[0], b[1], b[2], b[3]])),
        (4, true) => f64::from(f32::from_be_bytes([b[0], b[1], b[2], b[3]])),
        (_, false) => f64::from_le_bytes(b.try_into().unwrap_or([0; 8])),
        (_, true) => f64::from_be_bytes(b.try_into().unwrap_or([0; 8])),
    }
}

/// Writes a table as CSV (a header row of names, `name [unit]` where a column has a unit),
/// NPY (2-D f64, names lost), NPZ (one named 1-D array per column) or JSON (column-oriented:
/// `{"columns": [{"name", "unit", "values"}]}`) by the extension of `path`; atomically.
///
/// CSV numbers are written in Rust's shortest round-trip form, so reading them back gives
/// the same `f64`s. JSON has no NaN or infinity: those are written as `null`.
pub fn write_table(path: &Path, table: &Table) -> Result<(), Error> {
    write_atomic(path, &table_bytes(path, table)?)
}

/// The bytes [`write_table`] writes to `path` (its format chosen by the extension).
pub fn table_bytes(path: &Path, table: &Table) -> Result<Vec<u8>, Error> {
    let width = table.columns.len();
    if table.values.len() != table.rows() * width {
        return Err(Error::input(format!(
            "Cannot write `{}`: the table has {} values, not a whole number of rows of {width} \
             columns.",
            path.display(),
            table.values.len()
        )));
    }
    let bytes = match format_of(path) {
        Some(Format::Csv) => csv_bytes(table),
        Some(Format::Npy) => npy_bytes(table),
        Some(Format::Npz) => return npz_bytes(path, &table.arrays()),
        Some(Format::Json) => json_bytes(table),
        None => {
            return Err(Error::input(format!(
                "Cannot write a table to `{}`: the file name must end in `.csv`, `.npy`, \
                 `.npz` or `.json`.",
                path.display()
            ))
            .with_help("choose one of these extensions for the output file"));
        }
    }
    .map_err(|e| Error::io(format!("Could not encode `{}`: {e}.", path.display())))?;
    Ok(bytes)
}

fn csv_bytes(table: &Table) -> io::Result<Vec<u8>> {
    let mut w = csv::Writer::from_writer(Vec::new());
    let header = table
        .columns
        .iter()
        .enumerate()
        .map(|(c, name)| match table.unit(c) {
            Some(unit) => format!("{name} [{unit}]"),
            None => name.clone(),
        });
    w.write_record(header)?;
    if !table.columns.is_empty() {
        for row in table.values.chunks(table.columns.len()) {
            w.write_record(row.iter().map(|&x| number(x)))?;
        }
    }
    w.into_inner().map_err(|e| e.into_error())
}

/// `x` in the shortest form that reads back as the same `f64`: plain decimals for everyday
/// magnitudes, scientific notation for tiny and huge ones (so 1e-300 is not 300 digits).
fn number(x: f64) -> String {
    let a = x.abs();
    if a == 0.0 || !a.is_finite() || (1e-5..1e16).contains(&a) {
        x.to_string()
    } else {
        format!("{x:e}")
    }
}

fn npy_bytes(table: &Table) -> io::Result<Vec<u8>> {
    let mut out = Vec::new();
    let shape = [table.rows() as u64, table.columns.len() as u64];
    let mut w = npyz::WriteOptions::<f64>::new()
        .default_dtype()
        .shape(&shape)
        .writer(&mut out)
        .begin_nd()?;
    w.extend(table.values.iter().copied())?;
    w.finish()?;
    Ok(out)
}

fn json_bytes(table: &Table) -> io::Result<Vec<u8>> {
    let columns: Vec<serde_json::Value> = table
        .columns
        .iter()
        .enumerate()
        .map(|(c, name)| {
            serde_json::json!({
                "name": name,
                "unit": table.unit(c),
                "values": table.column(name).unwrap_or_default(),
            })
        })
        .collect();
    let value = serde_json::json!({ "columns": columns });
    let mut out = serde_json::to_vec_pretty(&value).map_err(io::Error::other)?;
    out.push(b'\n');
    Ok(out)
}

/// An `.npz` archive (NumPy's `np.savez`: uncompressed, one `NAME.npy` per array) of
/// `arrays`, each float64 with its shape; `path` names the file in messages.
pub fn npz_bytes(path: &Path, arrays: &[NamedArray]) -> Result<Vec<u8>, Error> {
    let fail = |e: &dyn std::fmt::Display| {
        Error::io(format!("Could not encode `{}`: {e}.", path.display()))
    };
    let mut zip = zip::ZipWriter::new(io::Cursor::new(Vec::new()));
    let options = zip::write::SimpleFileOptions::default()
        .compression_method(zip::CompressionMethod::Stored)
        .large_file(arrays.iter().any(|a| a.values.len() >= (1 << 28)));
    for (k, array) in arrays.iter().enumerate() {
        if arrays[..k].iter().any(|a| a.name == array.name) {
            return Err(Error::input(format!(
                "Cannot write `{}`: two arrays are called `{}`.",
                path.display(),
                array.name
            )));
        }
        let count: usize = array.shape.iter().product();
        if count != array.values.len() {
            return Err(fail(&format!(
                "the array `{}` has {} values for its shape {:?}",
                array.name,
                array.values.len(),
                array.shape
            )));
        }
        zip.start_file(format!("{}.npy", array.name), options)
            .map_err(|e| fail(&e))?;
        let shape: Vec<u64> = array.shape.iter().map(|&d| d as u64).collect();
        let mut w = npyz::WriteOptions::<f64>::new()
            .default_dtype()
            .shape(&shape)
            .writer(&mut zip)
            .begin_nd()
            .map_err(|e| fail(&e))?;
        w.extend(array.values.iter().copied())
            .map_err(|e| fail(&e))?;
        w.finish().map_err(|e| fail(&e))?;
    }
    let cursor = zip.finish().map_err(|e| fail(&e))?;
    Ok(cursor.into_inner())
}

/// Writes `bytes` to `path` atomically: a temporary file in the same directory, then a
/// rename; on failure nothing is left behind.
///
/// The temporary file is `.NAME.tmp-PID-K` next to the target, so a crash leaves at worst a
/// hidden file, never a half-written `NAME`.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<(), Error> {
    let mut outputs = Outputs::new();
    outputs.stage(path, bytes)?;
    outputs.commit()
}

/// The files one command writes, replaced together: each is written in full to a temporary
/// file next to it ([`Outputs::stage`]), and only when all are written are they renamed
/// into place ([`Outputs::commit`]). Dropped without a commit (a later step failed), the
/// temporary files are removed and every existing file is as it was.
#[derive(Debug, Default)]
pub struct Outputs {
    /// `(temporary file, destination)`, in staging order.
    staged: Vec<(std::path::PathBuf, std::path::PathBuf)>,
}

impl Outputs {
    pub fn new() -> Outputs {
        Outputs::default()
    }

    /// Writes `bytes` to a temporary file in `path`'s directory, to become `path` on commit.
    pub fn stage(&mut self, path: &Path, bytes: &[u8]) -> Result<(), Error> {
        let shown = path.display();
        let Some(name) = path.file_name() else {
            return Err(Error::input(format!(
                "Cannot write to `{shown}`: it does not name a file."
            )));
        };
        let dir = match path.parent() {
            Some(d) if !d.as_os_str().is_empty() => d,
            _ => Path::new("."),
        };
        if !dir.is_dir() {
            let problem = if dir.exists() {
                "is not a directory"
            } else {
                "does not exist"
            };
            return Err(Error::io(format!(
                "Could not write `{shown}`: the directory `{}` {problem}.",
                dir.display()
            ))
            .with_help("create the directory first, or choose another output path"));
        }
        let mut tmp_name = std::ffi::OsString::from(".");
        tmp_name.push(name);
        tmp_name.push(format!(".tmp-{}-{}", std::process::id(), self.staged.len()));
        let tmp = dir.join(tmp_name);
        let result = (|| -> io::Result<()> {
            let mut file = fs::File::create(&tmp)?;
            file.write_all(bytes)?;
            file.flush()?;
            file.sync_all()
        })();
        match result {
            Ok(()) => {
                self.staged.push((tmp, path.to_path_buf()));
                Ok(())
            }
            Err(e) => {
                // Best effort: the temporary file may not even have been created.
                let _ = fs::remove_file(&tmp);
                Err(Error::io(format!("Could not write `{shown}`: {e}.")))
            }
        }
    }

    /// Renames every staged file into place, in staging order.
    pub fn commit(mut self) -> Result<(), Error> {
        let staged = std::mem::take(&mut self.staged);
        let mut rest = staged.iter();
        for (tmp, path) in rest.by_ref() {
            if let Err(e) = fs::rename(tmp, path) {
                let _ = fs::remove_file(tmp);
                for (t, _) in rest {
                    let _ = fs::remove_file(t);
                }
                return Err(Error::io(format!(
                    "Could not write `{}`: {e}.",
                    path.display()
                )));
            }
        }
        Ok(())
    }
}

impl Drop for Outputs {
    fn drop(&mut self) {
        for (tmp, _) in &self.staged {
            let _ = fs::remove_file(tmp);
        }
    }
}
