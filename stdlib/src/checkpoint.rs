//! Parameters saved to and restored from JSON, by name, so a run can resume or a trained
//! network can be deployed.
//!
//! The file is `{"model": "...", "params": [{"name", "shape", "values"}], "meta": {...}}`,
//! and, when written during or after training, `"training": {...}`: where the run stands
//! ([`TrainState`]: step, loss history, current iterate, Adam's moments), so `sci train
//! --resume` continues it.
//! Numbers are written in their shortest round-trip form and parsed exactly (serde_json's
//! `float_roundtrip`), so a save/load cycle restores every `f64` bit for bit. `meta` keeps
//! its order.

use std::fmt;
use std::path::Path;

use serde::de::{MapAccess, Visitor};
use serde::ser::SerializeMap;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::data::write_atomic;
use crate::files::{MAX_DATA_BYTES, read_named};
use crate::optim::{AdamState, TrainState};
use crate::{Error, ErrorKind};

/// A named parameter block (`alpha`, `net.u.w0`) and its values (row-major).
#[derive(Clone, Debug, PartialEq)]
pub struct ParamBlock {
    pub name: String,
    pub shape: Vec<usize>,
    pub values: Vec<f64>,
}

/// A checkpoint: the model's name, its parameter blocks, free-form metadata (loss, steps).
#[derive(Clone, Debug, PartialEq)]
pub struct Checkpoint {
    pub model: String,
    pub params: Vec<ParamBlock>,
    pub meta: Vec<(String, f64)>,
    /// Where the training run that wrote it stood, to resume from.
    pub training: Option<TrainState>,
}

impl Checkpoint {
    /// The block called `name`.
    pub fn param(&self, name: &str) -> Option<&ParamBlock> {
        self.params.iter().find(|p| p.name == name)
    }

    /// The metadata entry called `key`.
    pub fn meta_value(&self, key: &str) -> Option<f64> {
        self.meta.iter().find(|(k, _)| k == key).map(|(_, v)| *v)
    }
}

/// The file's layout.
#[derive(Serialize, Deserialize)]
struct File {
    model: String,
    params: Vec<Block>,
    #[serde(default)]
    meta: Meta,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    training: Option<Training>,
}

/// [`TrainState`] in the file.
#[derive(Serialize, Deserialize)]
struct Training {
    step: usize,
    evaluations: usize,
    best_loss: f64,
    losses: Vec<f64>,
    current: Vec<f64>,
    best: Vec<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    adam: Option<Adam>,
}

#[derive(Serialize, Deserialize)]
struct Adam {
    m: Vec<f64>,
    v: Vec<f64>,
    beta1_t: f64,
    beta2_t: f64,
}

impl From<&TrainState> for Training {
    fn from(t: &TrainState) -> Training {
        Training {
            step: t.step,
            evaluations: t.evaluations,
            best_loss: t.best_loss,
            losses: t.losses.clone(),
            current: t.current.clone(),
            best: t.best.clone(),
            adam: t.adam.as_ref().map(|a| Adam {
                m: a.m.clone(),
                v: a.v.clone(),
                beta1_t: a.beta1_t,
                beta2_t: a.beta2_t,
            }),
        }
    }
}

impl From<Training> for TrainState {
    fn from(t: Training) -> TrainState {
        TrainState {
            step: t.step,
            evaluations: t.evaluations,
            best_loss: t.best_loss,
            losses: t.losses,
            current: t.current,
            best: t.best,
            adam: t.adam.map(|a| AdamState {
                m: a.m,
                v: a.v,
                beta1_t: a.beta1_t,
                beta2_t: a.beta2_t,
            }),
        }
    }
}

#[derive(Serialize, Deserialize)]
struct Block {
    name: String,
    shape: Vec<usize>,
    values: Vec<f64>,
}

/// `meta` as a JSON object whose key order is kept both ways (serde_json's own map would
/// sort it).
#[derive(Default)]
struct Meta(Vec<(String, f64)>);

impl Serialize for Meta {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut map = s.serialize_map(Some(self.0.len()))?;
        for (k, v) in &self.0 {
            map.serialize_entry(k, v)?;
        }
        map.end()
    }
}

impl<'de> Deserialize<'de> for Meta {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Meta, D::Error> {
        struct MetaVisitor;
        impl<'de> Visitor<'de> for MetaVisitor {
            type Value = Meta;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("an object of numbers")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Meta, A::Error> {
                let mut entries = Vec::new();
                while let Some((k, v)) = map.next_entry::<String, f64>()? {
                    entries.push((k, v));
                }
                Ok(Meta(entries))
            }
        }
        d.deserialize_map(MetaVisitor)
    }
}

/// Writes a checkpoint as JSON, atomically.
///
/// Fails (leaving any existing file untouched) when a block's values do not fill its shape
/// or a value is NaN or infinite: JSON cannot hold those, and a checkpoint that cannot be
/// loaded back is worse than none.
pub fn save(path: &Path, checkpoint: &Checkpoint) -> Result<(), Error> {
    write_atomic(path, &to_bytes(path, checkpoint)?)
}

/// The bytes [`save`] writes to `path` (which names the file in messages).
pub fn to_bytes(path: &Path, checkpoint: &Checkpoint) -> Result<Vec<u8>, Error> {
    let shown = path.display();
    check(checkpoint).map_err(|(kind, problem)| Error {
        kind,
        message: format!("Cannot save the checkpoint `{shown}`: {problem}."),
        help: None,
    })?;
    let file = File {
        model: checkpoint.model.clone(),
        params: checkpoint
            .params
            .iter()
            .map(|p| Block {
                name: p.name.clone(),
                shape: p.shape.clone(),
                values: p.values.clone(),
            })
            .collect(),
        meta: Meta(checkpoint.meta.clone()),
        training: checkpoint.training.as_ref().map(Training::from),
    };
    let mut bytes = serde_json::to_vec_pretty(&file)
        .map_err(|e| Error::io(format!("Could not encode the checkpoint `{shown}`: {e}.")))?;
    bytes.push(b'\n');
    Ok(bytes)
}

/// Reads a checkpoint written by [`save`].
pub fn load(path: &Path) -> Result<Checkpoint, Error> {
    let shown = path.display();
    let bytes = read_named(
        path,
        MAX_DATA_BYTES,
        "checkpoint file",
        "a checkpoint is the JSON file `sci train --out` writes",
    )?;
    let file: File = serde_json::from_slice(&bytes).map_err(|e| {
        Error::input(format!("The checkpoint file `{shown}` is not valid: {e}."))
            .with_help("a checkpoint is the JSON file `sci train` writes; it may be damaged")
    })?;
    let checkpoint = Checkpoint {
        model: file.model,
        params: file
            .params
            .into_iter()
            .map(|b| ParamBlock {
                name: b.name,
                shape: b.shape,
                values: b.values,
            })
            .collect(),
        meta: file.meta.0,
        training: file.training.map(TrainState::from),
    };
    check(&checkpoint).map_err(|(_, problem)| {
        Error::input(format!(
            "The checkpoint file `{shown}` is not valid: {problem}."
        ))
    })?;
    Ok(checkpoint)
}

/// What makes a checkpoint unsaveable or unloadable, as the end of a sentence.
fn check(c: &Checkpoint) -> Result<(), (ErrorKind, String)> {
    let input = |s: String| (ErrorKind::Input, s);
    let numerical = |s: String| (ErrorKind::Numerical, s);
    for (i, p) in c.params.iter().enumerate() {
        if c.params[..i].iter().any(|q| q.name == p.name) {
            return Err(input(format!("the parameter `{}` appears twice", p.name)));
        }
        let size = p
            .shape
            .iter()
            .try_fold(1usize, |n, &d| n.checked_mul(d))
            .ok_or_else(|| {
                input(format!(
                    "the parameter `{}` has an impossibly large shape",
                    p.name
                ))
            })?;
        if size != p.values.len() {
            return Err(input(format!(
                "the parameter `{}` has shape {:?}, which holds {size} values, but {} values \
                 are given",
                p.name,
                p.shape,
                p.values.len()
            )));
        }
        if let Some(k) = p.values.iter().position(|v| !v.is_finite()) {
            return Err(numerical(format!(
                "value {k} of the parameter `{}` is {}",
                p.name, p.values[k]
            )));
        }
    }
    if let Some(t) = &c.training {
        let n = t.current.len();
        let adam_ok = t
            .adam
            .as_ref()
            .is_none_or(|a| a.m.len() == n && a.v.len() == n);
        if t.best.len() != n || !adam_ok || t.losses.len() != t.step + 1 {
            return Err(input(
                "its training state has vectors of different lengths".to_string(),
            ));
        }
        let mut numbers = t.losses.iter().chain(&t.current).chain(&t.best);
        let adam = t.adam.iter().flat_map(|a| a.m.iter().chain(&a.v));
        if numbers.any(|v| !v.is_finite()) || adam.clone().any(|v| !v.is_finite()) {
            return Err(numerical(
                "its training state holds a NaN or infinite value".to_string(),
            ));
        }
    }
    for (i, (k, v)) in c.meta.iter().enumerate() {
        if c.meta[..i].iter().any(|(q, _)| q == k) {
            return Err(input(format!("the metadata entry `{k}` appears twice")));
        }
        if !v.is_finite() {
            return Err(numerical(format!("the metadata entry `{k}` is {v}")));
        }
    }
    Ok(())
}
