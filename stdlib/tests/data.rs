//! Tables: CSV/NPY/NPZ/JSON round trips (units in CSV headers and JSON), every reading
//! error, and atomic writes that leave no temporary file behind.

use std::fs;
use std::path::Path;

use proptest::prelude::*;
use sci_stdlib::data::{NamedArray, Table, npz_bytes, read_table, write_atomic, write_table};
use sci_stdlib::{Error, ErrorKind};
use tempfile::TempDir;

fn table() -> Table {
    Table {
        columns: vec!["t".into(), "x".into(), "y".into()],
        values: vec![
            0.0,
            1.5,
            -2.25, //
            0.1,
            1e-300,
            1e300, //
            0.2,
            -0.0,
            123456789.125, //
            1.0 / 3.0,
            f64::MIN_POSITIVE,
            -f64::MAX,
        ],
        units: Vec::new(),
    }
}

/// The directory's entries, sorted.
fn entries(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

fn bits(values: &[f64]) -> Vec<u64> {
    values.iter().map(|x| x.to_bits()).collect()
}

#[test]
fn csv_round_trips_exactly() {
    let dir = TempDir::new().unwrap();
    let path = dir.path().join("data.csv");
    write_table(&path, &table()).unwrap();
    let back = read_table(&path).unwrap();
    assert_eq!(back.columns, table().columns);
    assert_eq!(bits(&back.values), bits(&table().values));
    assert_eq!(back.rows(), 4);
    assert_eq!(back.column("x").unwrap()[0], 1.5);
    assert_eq!(entries(dir.path()), ["data.csv"]);
    let text = fs::read_to_string(&path).unwrap();
    assert!(
        text.starts_with("t,x,y\n0,1.5,-2.25\n0.1,1e-300,1e300\n"),
        "{text}"
    );
}

#[test]
fn npy_round_trips_exactly() {
    let dir = TempDir::new().unwrap();
    let path = dir.path().join("data.npy");
    write_table(&path, &table()).unwrap();
    let back = read_table(&path).unwrap();
    assert_eq!(back.columns, ["c0", "c1", "c2"]);
    assert_eq!(bits(&back.values), bits(&table().values));
    assert_eq!(entries(dir.path()), ["data.npy"]);
}

#[test]
fn json_is_column_oriented_with_units() {
    let dir = TempDir::new().unwrap();
    let path = dir.path().join("out.json");
    let t = Table {
        columns: vec!["a".into(), "b".into()],
        values: vec![1.0, 0.1, 1.0 / 3.0, -1e-310],
        units: vec![None, Some("m/s".into())],
    };
    write_table(&path, &t).unwrap();
    let json: serde_json::Value = serde_json::from_slice(&fs::read(&path).unwrap()).unwrap();
    assert_eq!(
        json["columns"],
        serde_json::json!([
            {"name": "a", "unit": null, "values": [1.0, 1.0 / 3.0]},
            {"name": "b", "unit": "m/s", "values": [0.1, -1e-310]},
        ])
    );
    // The case of the extension does not matter.
    write_table(&dir.path().join("OUT.JSON"), &t).unwrap();
}

/// An NPY file (format 1.0) by hand: any dtype, order and shape.
fn npy(descr: &str, fortran: bool, shape: &str, data: &[u8]) -> Vec<u8> {
    let order = if fortran { "True" } else { "False" };
    let mut header =
        format!("{{'descr': '{descr}', 'fortran_order': {order}, 'shape': {shape}, }}");
    while (10 + header.len() + 1) % 64 != 0 {
        header.push(' ');
    }
    header.push('\n');
    let mut out = b"\x93NUMPY\x01\x00".to_vec();
    out.extend((header.len() as u16).to_le_bytes());
    out.extend(header.as_bytes());
    out.extend(data);
    out
}

fn write(dir: &TempDir, name: &str, bytes: &[u8]) -> std::path::PathBuf {
    let path = dir.path().join(name);
    fs::write(&path, bytes).unwrap();
    path
}

#[test]
fn npy_reads_f32_fortran_big_endian_and_1d() {
    let dir = TempDir::new().unwrap();
    // 2×3 float32, C order: [[1, 2, 3], [4, 5, 6]].
    let data: Vec<u8> = (1..=6).flat_map(|i| (i as f32).to_le_bytes()).collect();
    let p = write(&dir, "a.npy", &npy("<f4", false, "(2, 3)", &data));
    let t = read_table(&p).unwrap();
    assert_eq!(t.values, [1.0, 2.0, 3.0, 4.0, 5.0, 6.0]);
    assert_eq!(t.rows(), 2);
    // The same bytes in Fortran order are the columns: [[1, 3, 5], [2, 4, 6]].
    let p = write(&dir, "f.npy", &npy("<f4", true, "(2, 3)", &data));
    assert_eq!(
        read_table(&p).unwrap().values,
        [1.0, 3.0, 5.0, 2.0, 4.0, 6.0]
    );
    // Big-endian float64, 1-D: one column.
    let data: Vec<u8> = [0.5f64, -7.0, 1e-300]
        .iter()
        .flat_map(|x| x.to_be_bytes())
        .collect();
    let p = write(&dir, "b.npy", &npy(">f8", false, "(3,)", &data));
    let t = read_table(&p).unwrap();
    assert_eq!(t.columns, ["c0"]);
    assert_eq!(t.values, [0.5, -7.0, 1e-300]);
}

fn read_err(path: &Path) -> Error {
    read_table(path).unwrap_err()
}

#[test]
fn npy_errors() {
    let dir = TempDir::new().unwrap();
    let ints: Vec<u8> = (1..=4).flat_map(|i: i64| i.to_le_bytes()).collect();
    let p = write(&dir, "i.npy", &npy("<i8", false, "(4,)", &ints));
    let e = read_err(&p);
    assert_eq!(e.kind, ErrorKind::Input);
    assert!(
        e.message
            .ends_with("holds values of type `<i8`; only float64 and float32 arrays can be read."),
        "{}",
        e.message
    );
    assert!(e.help.unwrap().contains("astype"));

    let zeros = vec![0u8; 8 * 8];
    let p = write(&dir, "r.npy", &npy("<f8", false, "(2, 2, 2)", &zeros));
    assert!(
        read_err(&p)
            .message
            .contains("shape [2, 2, 2]; a table must be 1-D")
    );
    let p = write(&dir, "s.npy", &npy("<f8", false, "()", &zeros[..8]));
    assert!(read_err(&p).message.contains("shape []"));

    let p = write(&dir, "t.npy", &npy("<f8", false, "(3, 2)", &zeros[..40]));
    let e = read_err(&p);
    assert!(
        e.message
            .contains("is truncated: its shape [3, 2] needs 48 bytes"),
        "{}",
        e.message
    );

    let p = write(
        &dir,
        "h.npy",
        &npy("<f8", false, "(99999999999999, 99999999999999)", &[]),
    );
    assert_eq!(read_err(&p).kind, ErrorKind::Input);

    // Zero rows make the product small, but npyz also multiplies the other sizes.
    let p = write(
        &dir,
        "z.npy",
        &npy("<f8", false, "(0, 99999999999999, 99999999999999)", &[]),
    );
    assert_eq!(read_err(&p).kind, ErrorKind::Input);
    // A version-2 header claiming 4 GiB.
    let mut v2 = b"\x93NUMPY\x02\x00\xff\xff\xff\xff".to_vec();
    v2.extend(b"{}");
    let p = write(&dir, "v.npy", &v2);
    assert!(
        read_err(&p)
            .message
            .contains("the header is longer than the file")
    );

    let p = write(&dir, "g.npy", b"not an npy file at all");
    let e = read_err(&p);
    assert!(
        e.message.contains("is not a valid NPY file"),
        "{}",
        e.message
    );
}

#[test]
fn csv_errors_name_the_place() {
    let dir = TempDir::new().unwrap();
    let cases: &[(&str, &str, &str)] = &[
        ("empty.csv", "", "The data file `{}` is empty."),
        ("blank.csv", "\n  \n", "The data file `{}` is empty."),
        (
            "noheader.csv",
            "1,2\n3,4\n",
            "The first row of `{}` holds numbers, not column names.",
        ),
        (
            "cell.csv",
            "t,x\n0,1\n1,abc\n",
            "Line 3 of `{}` holds `abc` in column `x`, which is not a number.",
        ),
        (
            "gap.csv",
            "t,x\n0,\n",
            "Line 2 of `{}` has no value in column `x`.",
        ),
        (
            "ragged.csv",
            "t,x,y\n0,1,2\n1,2\n",
            "Line 3 of `{}` has 2 values but the header names 3 columns.",
        ),
        (
            "long.csv",
            "t,x\n0,1,2\n",
            "Line 2 of `{}` has 3 values but the header names 2 columns.",
        ),
        (
            "dup.csv",
            "t,x,t\n0,1,2\n",
            "The column `t` appears twice in the header of `{}`.",
        ),
        (
            "unnamed.csv",
            "t,,y\n0,1,2\n",
            "Column 2 of the header of `{}` has no name.",
        ),
    ];
    for (name, text, message) in cases {
        let path = write(&dir, name, text.as_bytes());
        let e = read_err(&path);
        assert_eq!(e.kind, ErrorKind::Input, "{name}");
        assert_eq!(
            e.message,
            message.replace("{}", &path.display().to_string())
        );
        assert!(e.help.is_some(), "{name}");
    }
    let path = write(&dir, "utf8.csv", b"t,x\n0,\xff\n");
    assert!(read_err(&path).message.contains("is not valid CSV"));
}

#[test]
fn csv_reading_is_lenient_where_it_is_safe() {
    let dir = TempDir::new().unwrap();
    let path = write(
        &dir,
        "ok.csv",
        "\u{feff}time, value \n0, 1.5\n\n1e-3,NaN\n2,-inf\n".as_bytes(),
    );
    let t = read_table(&path).unwrap();
    assert_eq!(t.columns, ["time", "value"]);
    assert_eq!(t.rows(), 3);
    assert_eq!(t.values[..3], [0.0, 1.5, 1e-3]);
    assert!(t.values[3].is_nan());
    assert_eq!(t.values[5], f64::NEG_INFINITY);
    // A header without rows is an empty table.
    let path = write(&dir, "header.csv", b"a,b\n");
    let t = read_table(&path).unwrap();
    assert_eq!((t.columns.len(), t.rows()), (2, 0));
}

#[test]
fn missing_files_and_unknown_extensions() {
    let dir = TempDir::new().unwrap();
    let path = dir.path().join("x.csv");
    let e = read_err(&path);
    assert_eq!(e.kind, ErrorKind::Input);
    assert_eq!(
        e.message,
        format!("The data file `{}` does not exist.", path.display())
    );
    assert!(e.help.unwrap().starts_with("check the path"));

    let path = write(&dir, "x.txt", b"t,x\n0,1\n");
    let e = read_err(&path);
    assert_eq!(e.kind, ErrorKind::Input);
    assert!(
        e.message
            .contains("only `.csv` and `.npy` files are supported")
    );
    assert!(e.help.is_some());
    let e = read_err(&dir.path().join("noext"));
    assert_eq!(e.kind, ErrorKind::Input);

    let e = write_table(&dir.path().join("out.xlsx"), &table()).unwrap_err();
    assert_eq!(e.kind, ErrorKind::Input);
    assert!(
        e.message
            .contains("must end in `.csv`, `.npy`, `.npz` or `.json`")
    );
    let ragged = Table {
        columns: vec!["a".into(), "b".into()],
        values: vec![1.0, 2.0, 3.0],
        units: Vec::new(),
    };
    let e = write_table(&dir.path().join("r.csv"), &ragged).unwrap_err();
    assert_eq!(e.kind, ErrorKind::Input);
    assert_eq!(entries(dir.path()), ["x.txt"]);
}

#[test]
fn atomic_writes_replace_whole_files_and_leave_nothing_behind() {
    let dir = TempDir::new().unwrap();
    let path = dir.path().join("out.txt");
    write_atomic(&path, b"first version, longer").unwrap();
    write_atomic(&path, b"second").unwrap();
    assert_eq!(fs::read(&path).unwrap(), b"second");
    assert_eq!(entries(dir.path()), ["out.txt"]);

    // A missing directory: an I/O error naming it, nothing created.
    let missing = dir.path().join("no/such/dir/out.csv");
    let e = write_atomic(&missing, b"x").unwrap_err();
    assert_eq!(e.kind, ErrorKind::Io);
    assert!(
        e.message
            .contains(&dir.path().join("no/such/dir").display().to_string())
    );
    assert!(e.help.is_some());
    let e = write_table(&missing, &table()).unwrap_err();
    assert_eq!(e.kind, ErrorKind::Io);

    // A parent that is a file.
    let e = write_atomic(&dir.path().join("out.txt/inner.csv"), b"x").unwrap_err();
    assert_eq!(e.kind, ErrorKind::Io);
    assert!(
        e.message.ends_with("out.txt` is not a directory."),
        "{}",
        e.message
    );

    // The rename fails (the target is a non-empty directory): the temporary file goes.
    let target = dir.path().join("taken");
    fs::create_dir(&target).unwrap();
    fs::write(target.join("inside"), b"x").unwrap();
    let e = write_atomic(&target, b"data").unwrap_err();
    assert_eq!(e.kind, ErrorKind::Io);
    assert!(e.message.contains("taken"), "{}", e.message);
    assert_eq!(entries(dir.path()), ["out.txt", "taken"]);

    // A path that names no file.
    assert_eq!(
        write_atomic(Path::new("/"), b"x").unwrap_err().kind,
        ErrorKind::Input
    );
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    /// Any finite table survives CSV and NPY bit for bit.
    #[test]
    fn any_table_round_trips(
        width in 1usize..5,
        raw in proptest::collection::vec(any::<f64>(), 0..40),
    ) {
        let finite: Vec<f64> = raw.into_iter().filter(|x| x.is_finite()).collect();
        let rows = finite.len() / width;
        let t = Table {
            columns: (0..width).map(|c| format!("c{c}")).collect(),
            values: finite[..rows * width].to_vec(),
            units: Vec::new(),
        };
        let dir = TempDir::new().unwrap();
        for name in ["t.csv", "t.npy"] {
            let path = dir.path().join(name);
            write_table(&path, &t).unwrap();
            let back = read_table(&path).unwrap();
            prop_assert_eq!(&back.columns, &t.columns);
            prop_assert_eq!(bits(&back.values), bits(&t.values));
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    /// NPY files with any shape, dtype and data, or garbage after the magic: an error or a
    /// table, never a panic.
    #[test]
    fn odd_npy_files_never_panic(
        shape in "\\(([0-9]{1,22}, ?){0,4}\\)",
        descr in prop_oneof![Just("<f8"), Just("<f4"), Just(">f8"), Just("<i4"), Just("|b1")],
        fortran in any::<bool>(),
        data in proptest::collection::vec(any::<u8>(), 0..100),
        garbage in proptest::collection::vec(any::<u8>(), 0..64),
    ) {
        let dir = TempDir::new().unwrap();
        let p = write(&dir, "a.npy", &npy(descr, fortran, &shape, &data));
        if let Ok(t) = read_table(&p) {
            prop_assert_eq!(t.values.len(), t.rows() * t.columns.len());
        }
        let mut bytes = b"\x93NUMPY".to_vec();
        bytes.extend(&garbage);
        let p = write(&dir, "b.npy", &bytes);
        prop_assert!(read_table(&p).is_err());
    }
}

/// A shape far larger than the file (a proptest once found `(17053126847436,)` asking npyz
/// for 136 TB) is an input error before anything is allocated.
#[test]
fn an_npy_shape_larger_than_the_file_is_refused_up_front() {
    let dir = TempDir::new().unwrap();
    for shape in ["(17053126847436,)", "(4000000, 3)", "(0, 99999999999)"] {
        let p = write(&dir, "big.npy", &npy("<f8", false, shape, &[0u8; 16]));
        let err = read_table(&p).unwrap_err();
        assert_eq!(err.kind, ErrorKind::Input, "{shape}: {err}");
        assert!(
            err.message.contains("not a valid NPY file"),
            "{shape}: {err}"
        );
    }
}

#[test]
fn csv_headers_carry_units_and_read_back_as_names() {
    let dir = TempDir::new().unwrap();
    let path = dir.path().join("u.csv");
    let t = Table {
        columns: vec!["t".into(), "omega".into(), "x".into()],
        values: vec![0.0, 1.5, 2.0, 1.0, -0.5, 3.0],
        units: vec![None, Some("1/s".into()), Some("m".into())],
    };
    write_table(&path, &t).unwrap();
    let text = fs::read_to_string(&path).unwrap();
    assert_eq!(text.lines().next(), Some("t,omega [1/s],x [m]"));
    // Read back: the names without the units, which are kept aside.
    assert_eq!(read_table(&path).unwrap(), t);
    // A bracket that is part of a name is left alone.
    fs::write(&path, "t,u[3],[odd]\n0,1,2\n").unwrap();
    let back = read_table(&path).unwrap();
    assert_eq!(back.columns, ["t", "u[3]", "[odd]"]);
    assert!(back.units.is_empty());
}

#[test]
fn npz_archives_keep_names_and_shapes() {
    let dir = TempDir::new().unwrap();
    let path = dir.path().join("a.npz");
    let arrays = vec![
        NamedArray {
            name: "t".into(),
            shape: vec![3],
            values: vec![0.0, 0.5, 1.0],
        },
        NamedArray {
            name: "u".into(),
            shape: vec![3, 2],
            values: vec![1.0, 2.0, 3.0, 4.0, 5.0, 1e-300],
        },
    ];
    fs::write(&path, npz_bytes(&path, &arrays).unwrap()).unwrap();
    // A zip of NAME.npy members, stored: read each back with its shape and values.
    let mut zip = zip::ZipArchive::new(fs::File::open(&path).unwrap()).unwrap();
    for array in &arrays {
        let mut member = zip.by_name(&format!("{}.npy", array.name)).unwrap();
        let mut bytes = Vec::new();
        std::io::Read::read_to_end(&mut member, &mut bytes).unwrap();
        let npy = npyz::NpyFile::new(&bytes[..]).unwrap();
        let shape: Vec<usize> = npy.shape().iter().map(|&d| d as usize).collect();
        assert_eq!(shape, array.shape);
        assert_eq!(npy.into_vec::<f64>().unwrap(), array.values);
    }
    // A table's columns become 1-D arrays; two arrays of one name are refused.
    write_table(&path, &table()).unwrap();
    assert_eq!(
        zip::ZipArchive::new(fs::File::open(&path).unwrap())
            .unwrap()
            .len(),
        3
    );
    let twice = [arrays[0].clone(), arrays[0].clone()];
    let e = npz_bytes(&path, &twice).unwrap_err();
    assert!(e.message.contains("two arrays are called `t`"), "{e:?}");
}
