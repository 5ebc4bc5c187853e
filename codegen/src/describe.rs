//! The description of compiled code as JSON: per module, the layouts (parameters, states,
//! outputs: slot names, offsets, shapes, units, defaults) and every function with its C
//! symbol, inputs and result — what `header.rs` says to C compilers, said to programs. The
//! WebAssembly loader (`sci compile --target wasm32`) builds its typed wrappers from it.
//!
//! Format (`"format": "sci-abi-1"`): `{ format, source, modules: [{ name, params, states,
//! outputs, functions }] }`; a layout is `{ len, slots: [{ name, offset, shape, size, unit,
//! default, fixed }] }`; a function `{ name, symbol, inputs: [{ name, dtype, shape, size,
//! batched }], result: { dtype, shape, size, batched, points_of }, unavailable }`, where
//! `points_of` is the index of the input whose point count a batched result has. Non-finite defaults
//! are the strings `"NaN"`, `"Infinity"`, `"-Infinity"` (JSON has no such numbers).

use crate::CodegenError;
use crate::abi::{ArgSpec, Status, symbol_names};
use crate::interp::function_table;
use sci_ir::{Layout, Module};
use serde_json::{Value, json};

/// The format tag: bumped when the description changes incompatibly.
pub const FORMAT: &str = "sci-abi-1";

/// The description of what `emit_object` (or `emit_wasm_object`) compiles from `modules`;
/// `source` is the file name it came from.
pub fn json_description(modules: &[Module], source: &str) -> Result<String, CodegenError> {
    let mut described = Vec::with_capacity(modules.len());
    for module in modules {
        crate::check_valid(module)?;
        described.push(module_value(module));
    }
    let statuses: Vec<Value> = Status::ALL
        .iter()
        .map(|&s| json!({ "code": s as i32, "name": s.c_name(), "message": s.message() }))
        .collect();
    let value = json!({
        "format": FORMAT,
        "source": source,
        "statuses": statuses,
        "modules": described,
    });
    serde_json::to_string_pretty(&value)
        .map_err(|e| CodegenError::new(format!("cannot write the JSON description: {e}")))
}

fn module_value(module: &Module) -> Value {
    let functions: Vec<Value> = function_table(module)
        .iter()
        .zip(symbol_names(module))
        .map(|(f, symbol)| {
            let sig = &f.signature;
            let inputs: Vec<Value> = sig.inputs.iter().map(arg_value).collect();
            let mut result = arg_value(&sig.result);
            if let Some(map) = result.as_object_mut() {
                map.remove("name");
                map.insert("points_of".into(), json!(sig.result_batch_source));
            }
            json!({
                "name": f.name,
                "symbol": f.unavailable.is_none().then_some(symbol),
                "inputs": inputs,
                "result": result,
                "unavailable": f.unavailable,
            })
        })
        .collect();
    json!({
        "name": module.name,
        "params": layout_value(&module.params),
        "states": layout_value(&module.states),
        "outputs": layout_value(&module.outputs),
        "functions": functions,
    })
}

fn arg_value(a: &ArgSpec) -> Value {
    json!({
        "name": a.name,
        "dtype": a.dtype.to_string(),
        "shape": a.shape,
        "size": a.per_point(),
        "batched": a.batched,
    })
}

fn layout_value(layout: &Layout) -> Value {
    let slots: Vec<Value> = layout
        .slots
        .iter()
        .map(|s| {
            json!({
                "name": s.name,
                "offset": s.offset,
                "shape": s.shape,
                "size": sci_ir::types::element_count(&s.shape).unwrap_or(0),
                "unit": s.unit.as_ref().map(|u| u.to_string()),
                "default": s.default.iter().map(|&x| number(x)).collect::<Vec<_>>(),
                "fixed": s.fixed,
            })
        })
        .collect();
    json!({ "len": layout.len, "slots": slots })
}

/// `x` as JSON: a number when finite, else the name JavaScript's `Number()` reads back.
fn number(x: f64) -> Value {
    if x.is_finite() {
        json!(x)
    } else if x.is_nan() {
        json!("NaN")
    } else if x > 0.0 {
        json!("Infinity")
    } else {
        json!("-Infinity")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn describes_layouts_and_functions() {
        let path = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../ir/tests/filetests/lotka_volterra.sir"
        );
        let text = std::fs::read_to_string(path).unwrap_or_default();
        let Ok(module) = sci_ir::read_module(sci_diag::FileId(0), &text) else {
            panic!("lotka_volterra.sir reads");
        };
        let text = json_description(&[module], "lv.sci").unwrap_or_default();
        let v: Value = serde_json::from_str(&text).unwrap_or_default();
        assert_eq!(v["format"], FORMAT);
        let m = &v["modules"][0];
        assert_eq!(m["name"], "LotkaVolterra");
        assert_eq!(m["params"]["slots"][0]["name"], "alpha");
        assert_eq!(m["params"]["slots"][0]["offset"], 0);
        assert_eq!(m["states"]["len"], 2);
        let rhs = m["functions"]
            .as_array()
            .and_then(|fs| fs.iter().find(|f| f["name"] == "rhs"))
            .cloned()
            .unwrap_or_default();
        assert_eq!(rhs["symbol"], "sci_LotkaVolterra_rhs");
        assert_eq!(rhs["inputs"][1]["size"], 2);
        assert_eq!(rhs["result"]["shape"][0], 2);
        assert_eq!(rhs["result"]["batched"], false);
        assert_eq!(number(f64::NEG_INFINITY), json!("-Infinity"));
    }
}
