//! The JavaScript loader (`FILE.mjs`) and its TypeScript types (`FILE.d.mts`, the name TypeScript
//! looks for beside an `.mjs`) written beside
//! a WebAssembly module. The loader is one template (`loader.mjs`, kept as JavaScript so it
//! reads and lints as such) with the module's JSON description embedded; its wrappers are
//! built from that description when the module loads. The types name every model and
//! function, so editors and `tsc` check the calls.

use crate::codegen::abi::c_identifier;
use serde_json::Value;
use std::fmt::Write as _;

const TEMPLATE: &str = include_str!("loader.mjs");

/// The loader of `wasm_file` (compiled from `source`) with `description` embedded; its
/// usage comment names the model `first`.
pub fn module_loader(description: &str, source: &str, wasm_file: &str, first: &str) -> String {
    let loader_file = std::path::Path::new(wasm_file).with_extension("mjs");
    let loader_file = loader_file.to_string_lossy();
    TEMPLATE
        .replace("@DESCRIPTION@", description.trim_end())
        .replace("@SOURCE@", &js_text(source))
        .replace("@WASM_FILE@", &js_text(wasm_file))
        .replace("@LOADER_FILE@", &js_text(&loader_file))
        .replace("@FIRST_MODULE@", &js_text(first))
}

/// The TypeScript declarations of the loader for `description`.
pub fn type_declarations(description: &str, source: &str) -> Result<String, String> {
    let value = parse(description)?;
    let mut d = String::new();
    let _ = writeln!(
        d,
        "// Types of the loader sci generated from `{}`. Generated: do not edit.\n",
        js_text(source)
    );
    d.push_str(concat!(
        "/** A number for a scalar; the elements, row-major (all points, for a batch). */\n",
        "export type Values = number | ArrayLike<number>;\n\n",
        "/** A slot of a layout (docs/abi.md). */\n",
        "export interface Slot {\n  name: string;\n  offset: number;\n  shape: number[];\n",
        "  size: number;\n  unit: string | null;\n  default: (number | string)[];\n  fixed: boolean;\n}\n\n",
        "export interface Layout {\n  len: number;\n  slots: Slot[];\n}\n\n",
        "export class SciError extends Error {\n  readonly status: number;\n  readonly statusName: string;\n}\n\n",
        "export const description: unknown;\n\n",
    ));
    let mut model_names = Vec::new();
    for module in value["modules"].as_array().into_iter().flatten() {
        let name = module["name"].as_str().unwrap_or("Model");
        let ident = c_identifier(name);
        model_names.push((name.to_string(), ident.clone()));
        let _ = writeln!(d, "/** Model `{name}`. */\nexport interface {ident} {{");
        let _ = writeln!(d, "  readonly name: {};", json_string(name));
        d.push_str("  readonly layout: { params: Layout; states: Layout; outputs: Layout };\n");
        d.push_str(
            "  /** Declared parameter values and initial network weights, in the layout. */\n",
        );
        d.push_str("  readonly paramsDefault: Float64Array;\n");
        d.push_str("  /** Every compiled function by its IR name. */\n");
        d.push_str(
            "  readonly functions: Record<string, (...args: Values[]) => number | Float64Array>;\n",
        );
        let mut seen = vec![
            "name".to_string(),
            "layout".into(),
            "paramsDefault".into(),
            "functions".into(),
        ];
        let mut members: Vec<(String, &Value)> = Vec::new();
        let functions = module["functions"].as_array().cloned().unwrap_or_default();
        let functions: Vec<Value> = functions
            .into_iter()
            .filter(|f| f["symbol"].is_string())
            .collect();
        for f in &functions {
            let js = f["name"]
                .as_str()
                .unwrap_or("")
                .chars()
                .map(|c| {
                    if c.is_ascii_alphanumeric() || c == '_' || c == '$' {
                        c
                    } else {
                        '_'
                    }
                })
                .collect::<String>();
            if !seen.contains(&js) {
                seen.push(js.clone());
                members.push((js, f));
            }
        }
        for (alias, target) in [
            ("jacobian", "jacobian.rhs"),
            ("grad", "grad.loss"),
            ("loss_and_grad", "value_and_grad.loss"),
        ] {
            if seen.iter().any(|s| s == alias) {
                continue;
            }
            if let Some(f) = functions.iter().find(|f| f["name"] == target) {
                seen.push(alias.to_string());
                members.push((alias.to_string(), f));
            }
        }
        for (js, f) in members {
            let _ = writeln!(
                d,
                "  /** `{}`: {} */",
                f["name"].as_str().unwrap_or(""),
                signature_doc(f)
            );
            let mut used: Vec<String> = Vec::new();
            let mut params: Vec<String> = Vec::new();
            for (k, input) in f["inputs"].as_array().into_iter().flatten().enumerate() {
                let scalar = !input["batched"].as_bool().unwrap_or(false)
                    && input["shape"].as_array().is_some_and(|s| s.is_empty());
                let ty = if scalar {
                    "number"
                } else {
                    "ArrayLike<number>"
                };
                let mut name = param_name(input["name"].as_str().unwrap_or(""), k);
                if used.contains(&name) {
                    name = format!("{name}_{k}");
                }
                used.push(name.clone());
                params.push(format!("{name}: {ty}"));
            }
            let result = &f["result"];
            let scalar = !result["batched"].as_bool().unwrap_or(false)
                && result["shape"].as_array().is_some_and(|s| s.is_empty());
            let _ = writeln!(
                d,
                "  {js}({}): {};",
                params.join(", "),
                if scalar { "number" } else { "Float64Array" }
            );
        }
        d.push_str("}\n\n");
    }
    d.push_str("/** The loaded module: one object per model. */\nexport interface Sci {\n");
    d.push_str("  readonly description: unknown;\n  readonly exports: WebAssembly.Exports;\n");
    d.push_str("  readonly memory: WebAssembly.Memory;\n");
    for (name, ident) in &model_names {
        let _ = writeln!(d, "  readonly {}: {ident};", json_string(name));
    }
    d.push_str("}\n\n");
    d.push_str(concat!(
        "/** Compiles and instantiates the module (default: the `.wasm` beside the loader). */\n",
        "export function load(source?: string | URL | BufferSource | WebAssembly.Module): Promise<Sci>;\n",
        "export function loadSync(source: BufferSource | WebAssembly.Module): Sci;\n",
    ));
    Ok(d)
}

fn parse(description: &str) -> Result<Value, String> {
    serde_json::from_str(description)
        .map_err(|e| format!("internal: the description is not JSON: {e}"))
}

/// `(t: f64, y: f64[2]) -> f64[2]`, from the description.
fn signature_doc(f: &Value) -> String {
    let ty = |v: &Value| {
        let shape: Vec<String> = v["shape"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|d| d.to_string())
            .collect();
        let dims = if shape.is_empty() {
            String::new()
        } else {
            format!("[{}]", shape.join(", "))
        };
        let batch = if v["batched"].as_bool().unwrap_or(false) {
            "batch "
        } else {
            ""
        };
        format!("{batch}{}{dims}", v["dtype"].as_str().unwrap_or("f64"))
    };
    let inputs: Vec<String> = f["inputs"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|i| format!("{}: {}", i["name"].as_str().unwrap_or(""), ty(i)))
        .collect();
    format!("({}) -> {}", inputs.join(", "), ty(&f["result"])).replace("*/", "* /")
}

/// A TypeScript parameter name for input `k` (`θ` is `theta`; `in{k}` where the IR name
/// makes no identifier or a reserved word).
fn param_name(name: &str, k: usize) -> String {
    const RESERVED: &[&str] = &[
        "break",
        "case",
        "catch",
        "class",
        "const",
        "continue",
        "debugger",
        "default",
        "delete",
        "do",
        "else",
        "enum",
        "export",
        "extends",
        "false",
        "finally",
        "for",
        "function",
        "if",
        "import",
        "in",
        "instanceof",
        "new",
        "null",
        "return",
        "super",
        "switch",
        "this",
        "throw",
        "true",
        "try",
        "typeof",
        "var",
        "void",
        "while",
        "with",
        "let",
        "static",
        "yield",
        "await",
    ];
    let id = c_identifier(&name.replace('θ', "theta"));
    if id.chars().all(|c| c == '_') || RESERVED.contains(&id.as_str()) {
        format!("in{k}")
    } else {
        id
    }
}

fn json_string(s: &str) -> String {
    serde_json::Value::String(s.to_string()).to_string()
}

/// `s` safe inside a JavaScript comment or double-quoted string.
fn js_text(s: &str) -> String {
    s.chars()
        .filter(|c| !c.is_control())
        .collect::<String>()
        .replace('\\', "/")
        .replace('"', "'")
        .replace("*/", "* /")
}
