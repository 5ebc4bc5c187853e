//! Checkpoints: exact round trips, the file layout, and every way a file can be malformed.

use std::fs;

use proptest::prelude::*;
use sci_stdlib::ErrorKind;
use sci_stdlib::checkpoint::{Checkpoint, ParamBlock, load, save};
use sci_stdlib::optim::{AdamState, TrainState};
use tempfile::TempDir;

fn checkpoint() -> Checkpoint {
    Checkpoint {
        model: "heat".into(),
        params: vec![
            ParamBlock {
                name: "alpha".into(),
                shape: vec![],
                values: vec![0.1],
            },
            ParamBlock {
                name: "net.u.w0".into(),
                shape: vec![2, 3],
                values: vec![
                    1.0 / 3.0,
                    -0.0,
                    1e-310,
                    f64::MAX,
                    -f64::MIN_POSITIVE,
                    0.1 + 0.2,
                ],
            },
            ParamBlock {
                name: "empty".into(),
                shape: vec![0, 4],
                values: vec![],
            },
        ],
        // Deliberately not in alphabetical order: the order is kept.
        meta: vec![("steps".into(), 1000.0), ("loss".into(), 1.25e-7)],
        training: None,
    }
}

fn bits(c: &Checkpoint) -> Vec<Vec<u64>> {
    c.params
        .iter()
        .map(|p| p.values.iter().map(|x| x.to_bits()).collect())
        .collect()
}

#[test]
fn round_trip_is_exact() {
    let dir = TempDir::new().unwrap();
    let path = dir.path().join("ckpt.json");
    save(&path, &checkpoint()).unwrap();
    let back = load(&path).unwrap();
    assert_eq!(back, checkpoint());
    assert_eq!(bits(&back), bits(&checkpoint()));
    assert_eq!(back.param("alpha").unwrap().values, [0.1]);
    assert_eq!(back.meta_value("loss"), Some(1.25e-7));
    let names: Vec<_> = fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(names, ["ckpt.json"]);
}

#[test]
fn the_file_is_plain_json() {
    let dir = TempDir::new().unwrap();
    let path = dir.path().join("ckpt.json");
    save(&path, &checkpoint()).unwrap();
    let text = fs::read_to_string(&path).unwrap();
    let json: serde_json::Value = serde_json::from_str(&text).unwrap();
    assert_eq!(json["model"], "heat");
    assert_eq!(json["params"][1]["name"], "net.u.w0");
    assert_eq!(json["params"][1]["shape"], serde_json::json!([2, 3]));
    assert_eq!(json["params"][0]["values"], serde_json::json!([0.1]));
    assert_eq!(json["meta"]["steps"], 1000.0);
    assert!(text.find("\"steps\"").unwrap() < text.find("\"loss\"").unwrap());
    // Hand-written checkpoints load too, `meta` being optional.
    fs::write(
        &path,
        r#"{"model": "m", "params": [{"name": "k", "shape": [2], "values": [1, 2.5]}]}"#,
    )
    .unwrap();
    let c = load(&path).unwrap();
    assert_eq!(c.params[0].values, [1.0, 2.5]);
    assert!(c.meta.is_empty());
}

#[test]
fn malformed_files_are_input_errors() {
    let dir = TempDir::new().unwrap();
    let path = dir.path().join("bad.json");
    let p = |values: &str, shape: &str| {
        format!(
            r#"{{"model": "m", "params": [{{"name": "w", "shape": {shape}, "values": {values}}}]}}"#
        )
    };
    let cases = [
        (String::new(), "is not valid: EOF while parsing"),
        ("{".to_string(), "is not valid: EOF while parsing"),
        ("[1, 2]".to_string(), "is not valid: invalid type"),
        (r#"{"params": []}"#.to_string(), "missing field `model`"),
        (p("[1, 2, 3]", "[2, 2]"), "the parameter `w` has shape [2, 2], which holds 4 values, but 3 values are given"),
        (p("[1, null]", "[2]"), "invalid type: null, expected f64"),
        (p("[1, 1e999]", "[2]"), "number out of range"),
        (p("[1, \"x\"]", "[2]"), "invalid type: string \"x\", expected f64"),
        (p("[]", "[-1]"), "invalid value: integer `-1`"),
        (p("[]", "[4294967296, 4294967296, 4294967296]"), "impossibly large shape"),
        (
            r#"{"model": "m", "params": [{"name": "w", "shape": [], "values": [1]}, {"name": "w", "shape": [], "values": [2]}]}"#.to_string(),
            "the parameter `w` appears twice",
        ),
        (
            r#"{"model": "m", "params": [], "meta": {"loss": 1, "loss": 2}}"#.to_string(),
            "the metadata entry `loss` appears twice",
        ),
        (r#"{"model": "m", "params": [], "meta": {"loss": "low"}}"#.to_string(), "invalid type"),
    ];
    for (text, expected) in cases {
        fs::write(&path, &text).unwrap();
        let e = load(&path).unwrap_err();
        assert_eq!(e.kind, ErrorKind::Input, "{text}");
        assert!(
            e.message.starts_with(&format!(
                "The checkpoint file `{}` is not valid: ",
                path.display()
            )),
            "{}",
            e.message
        );
        assert!(e.message.contains(expected), "{text}: {}", e.message);
    }

    let e = load(&dir.path().join("missing.json")).unwrap_err();
    assert_eq!(e.kind, ErrorKind::Input);
    assert!(e.message.ends_with("does not exist."));
    assert!(e.help.is_some());
}

#[test]
fn unsaveable_checkpoints_are_refused_and_the_old_file_kept() {
    let dir = TempDir::new().unwrap();
    let path = dir.path().join("ckpt.json");
    save(&path, &checkpoint()).unwrap();
    let before = fs::read(&path).unwrap();
    let mut nan = checkpoint();
    nan.params[1].values[2] = f64::NAN;
    let mut short = checkpoint();
    short.params[1].values.pop();
    let mut inf_meta = checkpoint();
    inf_meta.meta.push(("grad".into(), f64::INFINITY));
    for (c, kind, expected) in [
        (
            nan,
            ErrorKind::Numerical,
            "value 2 of the parameter `net.u.w0` is NaN",
        ),
        (
            short,
            ErrorKind::Input,
            "holds 6 values, but 5 values are given",
        ),
        (
            inf_meta,
            ErrorKind::Numerical,
            "the metadata entry `grad` is inf",
        ),
    ] {
        let e = save(&path, &c).unwrap_err();
        assert_eq!(e.kind, kind);
        assert!(e.message.contains(expected), "{}", e.message);
    }
    assert_eq!(fs::read(&path).unwrap(), before);
    let e = save(&dir.path().join("no/dir/ckpt.json"), &checkpoint()).unwrap_err();
    assert_eq!(e.kind, ErrorKind::Io);
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    /// Every finite f64 comes back with the same bits.
    #[test]
    fn any_finite_values_round_trip(
        raw in proptest::collection::vec(any::<f64>(), 0..50),
        meta in any::<f64>(),
    ) {
        let values: Vec<f64> = raw.into_iter().filter(|x| x.is_finite()).collect();
        let meta = if meta.is_finite() { meta } else { 0.0 };
        let c = Checkpoint {
            model: "m".into(),
            params: vec![ParamBlock { name: "p".into(), shape: vec![values.len()], values }],
            meta: vec![("x".into(), meta)],
            training: None,
        };
        let dir = TempDir::new().unwrap();
        let path = dir.path().join("c.json");
        save(&path, &c).unwrap();
        let back = load(&path).unwrap();
        prop_assert_eq!(bits(&back), bits(&c));
        prop_assert_eq!(back.meta[0].1.to_bits(), meta.to_bits());
    }
}

#[test]
fn the_training_state_round_trips_exactly_and_is_checked() {
    let dir = TempDir::new().unwrap();
    let path = dir.path().join("ckpt.json");
    let mut c = checkpoint();
    c.training = Some(TrainState {
        step: 2,
        losses: vec![1.0, 0.1 + 0.2, 1e-310],
        current: vec![1.0 / 3.0, -0.0],
        best_loss: 1e-310,
        best: vec![0.5, 0.25],
        adam: Some(AdamState {
            m: vec![1e-9, -2.5],
            v: vec![3.0, 1.0 / 7.0],
            beta1_t: 0.81,
            beta2_t: 0.998001,
        }),
        evaluations: 3,
    });
    save(&path, &c).unwrap();
    assert_eq!(load(&path).unwrap(), c);
    // Without Adam's moments (an L-BFGS step) the field is left out and read back as none.
    c.training.as_mut().unwrap().adam = None;
    save(&path, &c).unwrap();
    assert!(!fs::read_to_string(&path).unwrap().contains("beta1_t"));
    assert_eq!(load(&path).unwrap(), c);
    // Vectors of different lengths are refused on saving, leaving the file as it was.
    let before = fs::read(&path).unwrap();
    c.training.as_mut().unwrap().best.push(1.0);
    let err = save(&path, &c).unwrap_err();
    assert!(err.message.contains("different lengths"), "{err:?}");
    assert_eq!(fs::read(&path).unwrap(), before);
}
