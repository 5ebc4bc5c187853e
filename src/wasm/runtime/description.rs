//! What [`Runtime`](super::Runtime) reads of the JSON description beside a module
//! (`sci_codegen::describe`, format `sci-abi-1`): each function's inputs and result, the
//! statuses, the default parameters.

use serde_json::Value;

/// One input of a function, as the description gives it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct InputSpec {
    /// The IR name (`y`, `θ`, `pde.t`).
    pub name: String,
    /// The per-point shape.
    pub shape: Vec<usize>,
    /// Elements per point (all elements when unbatched).
    pub size: usize,
    /// Whether the input is a batch of points.
    pub batched: bool,
}

impl InputSpec {
    /// An unbatched scalar: passed by value (an `f64`), not through memory.
    pub fn by_value(&self) -> bool {
        !self.batched && self.shape.is_empty()
    }
}

/// The result of a function, as the description gives it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ResultSpec {
    /// The per-point shape.
    pub shape: Vec<usize>,
    /// Elements per point.
    pub size: usize,
    /// Whether the result is a batch.
    pub batched: bool,
    /// For a batched result: the input whose point count it has.
    pub points_of: Option<usize>,
}

/// One exported function of the module.
#[derive(Clone, Debug)]
pub struct FunctionSpec {
    /// The model (`LotkaVolterra`) or `functions`.
    pub module: String,
    /// The IR name (`rhs`, `value_and_grad.loss`).
    pub name: String,
    /// The C symbol the module exports it as (`sci_LotkaVolterra_rhs`).
    pub symbol: String,
    pub inputs: Vec<InputSpec>,
    pub result: ResultSpec,
}

/// A status the module's functions return (from the description).
#[derive(Clone, Debug)]
pub(super) struct StatusSpec {
    pub(super) code: i64,
    pub(super) name: String,
    pub(super) message: String,
}

/// What [`Runtime`] needs of the JSON description (format `sci-abi-1`).
pub(super) struct Description {
    pub(super) functions: Vec<FunctionSpec>,
    pub(super) statuses: Vec<StatusSpec>,
    pub(super) defaults: Vec<(String, Vec<f64>)>,
}

impl Description {
    pub(super) fn parse(text: &str) -> Result<Description, String> {
        let v: Value = serde_json::from_str(text)
            .map_err(|e| format!("the module's description is not JSON: {e}"))?;
        let format = v["format"].as_str().unwrap_or("");
        if format != crate::codegen::describe::FORMAT {
            return Err(format!(
                "the module's description has format `{format}`; this sci reads `{}`",
                crate::codegen::describe::FORMAT
            ));
        }
        let bad = |what: &str| format!("the module's description is malformed: {what}");
        let statuses = v["statuses"]
            .as_array()
            .ok_or_else(|| bad("no `statuses`"))?
            .iter()
            .map(|s| {
                Some(StatusSpec {
                    code: s["code"].as_i64()?,
                    name: s["name"].as_str()?.to_string(),
                    message: s["message"].as_str()?.to_string(),
                })
            })
            .collect::<Option<Vec<_>>>()
            .ok_or_else(|| bad("a status without code, name or message"))?;
        let mut functions = Vec::new();
        let mut defaults = Vec::new();
        for m in v["modules"].as_array().ok_or_else(|| bad("no `modules`"))? {
            let module = m["name"]
                .as_str()
                .ok_or_else(|| bad("a module without name"))?;
            defaults.push((module.to_string(), layout_defaults(&m["params"])));
            for f in m["functions"].as_array().into_iter().flatten() {
                let Some(symbol) = f["symbol"].as_str() else {
                    continue; // unavailable: no code
                };
                let name = f["name"]
                    .as_str()
                    .ok_or_else(|| bad("a function without name"))?;
                let inputs = f["inputs"]
                    .as_array()
                    .ok_or_else(|| bad(&format!("`{name}` without inputs")))?
                    .iter()
                    .map(|i| {
                        Some(InputSpec {
                            name: i["name"].as_str()?.to_string(),
                            shape: shape(&i["shape"])?,
                            size: usize::try_from(i["size"].as_u64()?).ok()?,
                            batched: i["batched"].as_bool()?,
                        })
                    })
                    .collect::<Option<Vec<_>>>()
                    .ok_or_else(|| bad(&format!("an input of `{name}`")))?;
                let r = &f["result"];
                let result = (|| {
                    Some(ResultSpec {
                        shape: shape(&r["shape"])?,
                        size: usize::try_from(r["size"].as_u64()?).ok()?,
                        batched: r["batched"].as_bool()?,
                        points_of: r["points_of"]
                            .as_u64()
                            .and_then(|k| usize::try_from(k).ok()),
                    })
                })()
                .ok_or_else(|| bad(&format!("the result of `{name}`")))?;
                functions.push(FunctionSpec {
                    module: module.to_string(),
                    name: name.to_string(),
                    symbol: symbol.to_string(),
                    inputs,
                    result,
                });
            }
        }
        Ok(Description {
            functions,
            statuses,
            defaults,
        })
    }
}

fn shape(v: &Value) -> Option<Vec<usize>> {
    v.as_array()?
        .iter()
        .map(|d| d.as_u64().and_then(|d| usize::try_from(d).ok()))
        .collect()
}

/// A layout's defaults, flat (`"NaN"`, `"Infinity"`, `"-Infinity"` for non-finite ones).
fn layout_defaults(layout: &Value) -> Vec<f64> {
    let len = layout["len"]
        .as_u64()
        .and_then(|n| usize::try_from(n).ok())
        .unwrap_or(0);
    let mut values = vec![0.0; len];
    for slot in layout["slots"].as_array().into_iter().flatten() {
        let offset = slot["offset"]
            .as_u64()
            .and_then(|n| usize::try_from(n).ok())
            .unwrap_or(0);
        for (k, x) in slot["default"].as_array().into_iter().flatten().enumerate() {
            let x = match x {
                Value::Number(n) => n.as_f64().unwrap_or(f64::NAN),
                Value::String(s) if s == "Infinity" => f64::INFINITY,
                Value::String(s) if s == "-Infinity" => f64::NEG_INFINITY,
                _ => f64::NAN,
            };
            if let Some(v) = values.get_mut(offset + k) {
                *v = x;
            }
        }
    }
    values
}
