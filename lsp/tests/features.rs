//! Every feature of the server on the examples, through the protocol (in process), with
//! snapshots of what an editor would show.

mod common;

use common::{Client, URI, at, example, find};
use serde_json::{Value, json};

fn hover_text(c: &mut Client, line: u32, col: u32) -> String {
    let r = c.result("textDocument/hover", at(URI, line, col));
    r["contents"]["value"]
        .as_str()
        .unwrap_or("<no hover>")
        .to_string()
}

#[test]
fn hover_shows_kind_dtype_shape_and_unit() {
    let mut c = Client::start();
    let text = example("pendulum");
    c.open(URI, &text);
    let mut out = String::new();
    for (needle, n) in [
        ("omega:", 0),     // a state at its definition
        ("omega\n", 0),    // a use
        ("g / L", 0),      // a constant (value shown)
        ("sin(theta)", 1), // a built-in inside a call
        ("rad/s =", 0),    // a unit in an annotation
        ("param", 0),      // a keyword
        ("9.81", 0),       // a number
        ("height", 1),     // an output used in another
    ] {
        let (l, ch) = find(&text, needle, n, 0);
        out.push_str(&format!(
            "=== {} #{n}\n{}\n\n",
            needle.escape_debug(),
            hover_text(&mut c, l, ch)
        ));
    }
    let heat = example("heat1d");
    c.open("file:///heat.sci", &heat);
    let (l, ch) = find(&heat, "u[i in", 0, 0);
    let r = c.result("textDocument/hover", at("file:///heat.sci", l, ch));
    out.push_str(&format!(
        "=== heat1d u\n{}\n\n",
        r["contents"]["value"].as_str().unwrap()
    ));
    let burgers = example("burgers_pinn");
    c.open("file:///b.sci", &burgers);
    let (l, ch) = find(&burgers, "d(u, x, x)", 0, 0);
    let r = c.result("textDocument/hover", at("file:///b.sci", l, ch));
    out.push_str(&format!(
        "=== burgers d(u, x, x)\n{}\n\n",
        r["contents"]["value"].as_str().unwrap()
    ));
    let ros = example("rosenbrock");
    c.open("file:///r.sci", &ros);
    let (l, ch) = find(&ros, "x: real[n]", 0, 0);
    let r = c.result("textDocument/hover", at("file:///r.sci", l, ch));
    out.push_str(&format!(
        "=== rosenbrock x\n{}\n",
        r["contents"]["value"].as_str().unwrap()
    ));
    insta::assert_snapshot!(out);
    c.stop();
}

#[test]
fn definition_references_highlights() {
    let mut c = Client::start();
    let text = example("lotka_volterra");
    c.open(URI, &text);
    let (l, ch) = find(&text, "beta * prey", 0, 1);
    let def = c.result("textDocument/definition", at(URI, l, ch));
    assert_eq!(def["range"]["start"]["line"], 9, "{def}");
    let mut p = at(URI, l, ch);
    p["context"] = json!({ "includeDeclaration": true });
    let refs = c.result("textDocument/references", p);
    let lines: Vec<u64> = refs
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["range"]["start"]["line"].as_u64().unwrap())
        .collect();
    assert_eq!(lines, vec![9, 16, 20]);
    let hl = c.result("textDocument/documentHighlight", at(URI, l, ch));
    assert_eq!(hl.as_array().unwrap().len(), 3);
    // `der(prey)`: the target is a use of the state.
    let (l, ch) = find(&text, "der(prey)", 0, 5);
    let def = c.result("textDocument/definition", at(URI, l, ch));
    assert_eq!(def["range"]["start"]["line"], 13);
    // A built-in has no definition in the file.
    let (l, ch) = find(&text, "log(prey)", 0, 1);
    assert_eq!(
        c.result("textDocument/definition", at(URI, l, ch)),
        Value::Null
    );
    c.stop();
}

#[test]
fn rename_edits_every_occurrence_and_refuses_builtins() {
    let mut c = Client::start();
    let text = example("lotka_volterra");
    c.open(URI, &text);
    let (l, ch) = find(&text, "prey = 10", 0, 0);
    let prep = c.result("textDocument/prepareRename", at(URI, l, ch));
    assert_eq!(prep["placeholder"], "prey");
    let mut p = at(URI, l, ch);
    p["newName"] = json!("hare");
    let edit = c.result("textDocument/rename", p);
    let edits = edit["changes"][URI].as_array().unwrap();
    // Every `prey` outside the comments: the definition, `der(prey)` and six uses.
    assert_eq!(edits.len(), 8);
    // Refusals: a built-in, a keyword target, an invalid or clashing name.
    let (l, ch) = find(&text, "log(prey)", 0, 0);
    let r = c.request("textDocument/prepareRename", at(URI, l, ch));
    let mut refusals = vec![r["error"]["message"].clone()];
    for new in ["2x", "pred", "exp", "model"] {
        let (l, ch) = find(&text, "prey = 10", 0, 0);
        let mut p = at(URI, l, ch);
        p["newName"] = json!(new);
        refusals.push(c.request("textDocument/rename", p)["error"]["message"].clone());
    }
    insta::assert_snapshot!(serde_json::to_string_pretty(&refusals).unwrap());
    c.stop();
}

fn labels(v: &Value) -> Vec<String> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|i| {
            format!(
                "{} · {}",
                i["label"].as_str().unwrap(),
                i["detail"].as_str().unwrap_or("")
            )
        })
        .collect()
}

/// Events: hover explains `when`, `reinit`, `stop` and `every` and describes a parameter
/// declared `fixed`; completion inside an event's block offers `reinit` and `stop`, and
/// outside it does not.
#[test]
fn events_and_fixed_parameters_are_explained() {
    let mut c = Client::start();
    let text = example("bouncing_ball");
    c.open(URI, &text);
    let mut out = String::new();
    for (needle, n) in [("when h", 0), ("reinit", 0)] {
        let (l, ch) = find(&text, needle, n, 0);
        out.push_str(&format!("=== {needle}\n{}\n\n", hover_text(&mut c, l, ch)));
    }
    let (l, ch) = find(&text, "reinit(v", 0, 7);
    let inside = labels(&c.result("textDocument/completion", at(URI, l, ch)));
    let offers =
        |labels: &[String], word: &str| labels.iter().any(|l| l.split(' ').next() == Some(word));
    assert!(
        offers(&inside, "reinit") && offers(&inside, "stop"),
        "{inside:?}"
    );
    let (l, ch) = find(&text, "der(h) = v", 0, 9);
    let outside = labels(&c.result("textDocument/completion", at(URI, l, ch)));
    assert!(!offers(&outside, "reinit"), "{outside:?}");
    let dosing = example("dosing");
    c.open("file:///d.sci", &dosing);
    let (l, ch) = find(&dosing, "every(", 0, 0);
    let r = c.result("textDocument/hover", at("file:///d.sci", l, ch));
    out.push_str(&format!(
        "=== every\n{}\n\n",
        r["contents"]["value"].as_str().unwrap_or("<no hover>")
    ));
    let sir = example("sir");
    c.open("file:///sir.sci", &sir);
    let (l, ch) = find(&sir, "] day", 0, 2);
    let r = c.result("textDocument/hover", at("file:///sir.sci", l, ch));
    out.push_str(&format!(
        "=== time unit day\n{}\n\n",
        r["contents"]["value"].as_str().unwrap_or("<no hover>")
    ));
    let fixed = "model M {\n    param k = 0.5 fixed\n    state x = 1.0\n    der(x) = -k * x\n}\n";
    c.open("file:///f.sci", fixed);
    let (l, ch) = find(fixed, "k * x", 0, 0);
    let r = c.result("textDocument/hover", at("file:///f.sci", l, ch));
    out.push_str(&format!(
        "=== fixed k\n{}\n",
        r["contents"]["value"].as_str().unwrap_or("<no hover>")
    ));
    insta::assert_snapshot!(out);
    c.stop();
}

#[test]
fn completion_knows_the_context() {
    let mut c = Client::start();
    let text = "use nn.{mlp, \nmodel M {\n    param k: 1/s = 1.0\n    state x = 1.0\n    data obs(t: s, y) = csv(\"a.csv\")\n    der(x) = -k * \n    \n}\n";
    c.open(URI, text);
    let mut out = String::new();
    let cases = [
        ("after `use nn.{mlp, `", find(text, "mlp, ", 0, 5)),
        ("in an expression", find(text, "-k * ", 0, 5)),
        ("at the start of a member line", (6, 4)),
    ];
    for (what, (l, ch)) in cases {
        let r = c.result("textDocument/completion", at(URI, l, ch));
        out.push_str(&format!("=== {what}\n{}\n\n", labels(&r).join("\n")));
    }
    // A data set's columns after `obs.`.
    c.notify(
        "textDocument/didChange",
        json!({ "textDocument": { "uri": URI, "version": 2 },
                "contentChanges": [{ "range": { "start": { "line": 6, "character": 4 }, "end": { "line": 6, "character": 4 } }, "text": "output o = obs." }] }),
    );
    let r = c.result("textDocument/completion", at(URI, 6, 19));
    out.push_str(&format!("=== after `obs.`\n{}\n", labels(&r).join("\n")));
    insta::assert_snapshot!(out);
    c.stop();
}

#[test]
fn signature_help_follows_the_argument() {
    let mut c = Client::start();
    let text = "use nn.{mlp}\nfn f(x: real[n], s: m) = x\nmodel M {\n    domain box: x in [0, 1]\n    net u(x) = mlp(hidden: [20, 20], activation: \n    output a = atan2(1, \n    output b = f([1, 2], \n}\n";
    c.open(URI, text);
    let mut out = Vec::new();
    for (needle, delta) in [
        ("hidden: [20, ", 13),
        ("activation: ", 12),
        ("atan2(1, ", 9),
        ("f([1, 2], ", 10),
        ("atan2(", 6),
    ] {
        let (l, ch) = find(text, needle, 0, delta);
        let r = c.result("textDocument/signatureHelp", at(URI, l, ch));
        let sig = &r["signatures"][r["activeSignature"].as_u64().unwrap() as usize];
        let active = r["activeParameter"].as_u64().unwrap() as usize;
        let [a, b] =
            [0, 1].map(|i| sig["parameters"][active]["label"][i].as_u64().unwrap() as usize);
        let label: Vec<u16> = sig["label"].as_str().unwrap().encode_utf16().collect();
        out.push(format!(
            "{needle:<16} → {} [{}]",
            sig["label"].as_str().unwrap(),
            String::from_utf16(&label[a..b]).unwrap()
        ));
    }
    insta::assert_snapshot!(out.join("\n"));
    c.stop();
}

#[test]
fn document_symbols_are_a_tree() {
    let mut c = Client::start();
    let mut out = String::new();
    for name in ["pendulum", "lv_ude", "burgers_pinn"] {
        let text = example(name);
        let uri = format!("file:///{name}.sci");
        c.open(&uri, &text);
        let r = c.result(
            "textDocument/documentSymbol",
            json!({ "textDocument": { "uri": uri } }),
        );
        out.push_str(&format!("=== {name}\n"));
        print_symbols(&r, 0, &mut out);
    }
    insta::assert_snapshot!(out);
    c.stop();
}

fn print_symbols(v: &Value, depth: usize, out: &mut String) {
    for s in v.as_array().unwrap() {
        out.push_str(&format!(
            "{}{} ({}) {} @{}\n",
            "  ".repeat(depth),
            s["name"].as_str().unwrap(),
            s["kind"],
            s["detail"].as_str().unwrap_or(""),
            s["selectionRange"]["start"]["line"]
        ));
        if let Some(children) = s.get("children") {
            print_symbols(children, depth + 1, out);
        }
    }
}

/// The code actions the server offers for the whole open document `uri`.
fn code_actions(c: &mut Client, uri: &str) -> Vec<Value> {
    let whole = json!({ "start": { "line": 0, "character": 0 }, "end": { "line": 10_000, "character": 0 } });
    let r = c.result(
        "textDocument/codeAction",
        json!({ "textDocument": { "uri": uri }, "range": whole, "context": { "diagnostics": [] } }),
    );
    r.as_array().cloned().unwrap_or_default()
}

/// The edits of one code action applied to `text`.
fn apply(text: &str, action: &Value, uri: &str) -> String {
    let mut fixed = text.to_string();
    let mut edits: Vec<Value> = action["edit"]["changes"][uri].as_array().unwrap().clone();
    // From the end, so earlier ranges stay valid.
    edits.sort_by_key(|e| {
        std::cmp::Reverse((
            e["range"]["start"]["line"].as_u64(),
            e["range"]["start"]["character"].as_u64(),
        ))
    });
    for e in edits {
        let map = sci_lsp::text::LineMap::new(&fixed);
        let range = serde_json::from_value(e["range"].clone()).unwrap();
        let (a, b) = map.byte_range(&fixed, range);
        fixed.replace_range(a..b, e["newText"].as_str().unwrap());
    }
    fixed
}

/// Every unit conversion the checker offers, applied by the quick fix one after another,
/// leaves a program that checks clean: scaled units in sums and declarations (E0402),
/// `der` right-hand sides per day in a model that counts seconds (E0405), and the
/// alternative the E0405 note offers — declaring the model's time unit — applied by hand.
#[test]
fn every_unit_fix_applies_and_checks_clean() {
    let mut c = Client::start();
    let sir = "model SIR {\n    param beta: 1/day = 0.3\n    param gamma: 1/day = 0.1\n    state S = 0.99\n    state I = 0.01\n    der(S) = -beta * S * I\n    der(I) = beta * S * I - gamma * I\n    domain time: t in [0, 160]\n}\n";
    let cases = [
        sir,
        "model M {\n    param L: m = 1.0\n    param d: km = 2.0\n    output total: m = L + d\n}\n",
        "model M {\n    param d: km = 2.0\n    output o: m = d\n}\n",
        "model M {\n    param v: km/h = 50\n    state x: m = 0\n    der(x) = v\n}\n",
        "model M {\n    param k: 1/min = 2\n    state c: mol/L = 1\n    der(c) = -k * c\n}\n",
    ];
    for (n, case) in cases.iter().enumerate() {
        let uri = format!("file:///fix{n}.sci");
        let mut text = case.to_string();
        for _ in 0..10 {
            let errors = sci_lang::analyze(sci_diag::FileId(0), &text).diagnostics;
            if !errors.iter().any(|d| d.is_error()) {
                break;
            }
            c.open(&uri, &text);
            let actions = code_actions(&mut c, &uri);
            let action = actions
                .first()
                .unwrap_or_else(|| panic!("case {n}: no fix for {errors:#?}\n{text}"));
            text = apply(&text, action, &uri);
        }
        let left = sci_lang::analyze(sci_diag::FileId(0), &text).diagnostics;
        assert!(
            !left.iter().any(|d| d.is_error()),
            "case {n} after its fixes:\n{text}\n{left:#?}"
        );
    }
    // The note's alternative for SIR: count time in days.
    let analysis = sci_lang::analyze(sci_diag::FileId(0), sir);
    let note = analysis.diagnostics[0]
        .notes
        .iter()
        .find(|n| n.contains("declare it"))
        .expect("a note with the time unit");
    let line = note.split('`').nth(1).unwrap();
    assert_eq!(line, "domain time: t in [0, 160] day");
    let fixed = sir.replace("domain time: t in [0, 160]", line);
    let left = sci_lang::analyze(sci_diag::FileId(0), &fixed).diagnostics;
    assert!(left.is_empty(), "{left:#?}");
    c.stop();
}

/// The statements the parser's help lines give, applied by the quick fixes, check clean:
/// a quantity without `let` (E0121), an assignment in an event (E0123), an algebraic
/// equation with a left side other than 0 (E0124).
#[test]
fn statement_fixes_apply_and_check_clean() {
    let mut c = Client::start();
    let cases = [
        "model M {\n    param k = 2.0\n    state x = 1.0\n    F = -k * x   // the force\n    der(x) = F\n}\n",
        "model M {\n    param e = 0.8\n    state h = 1.0\n    state v = 0.0\n    der(h) = v\n    der(v) = -9.81\n    when h < 0 { v = -e * v }\n}\n",
        "model M {\n    state x = 1.0\n    state z = 0.5\n    der(x) = -x + z\n    1 = x + z\n}\n",
    ];
    for (n, text) in cases.iter().enumerate() {
        let uri = format!("file:///stmt{n}.sci");
        c.open(&uri, text);
        let actions = code_actions(&mut c, &uri);
        let action = actions
            .first()
            .unwrap_or_else(|| panic!("case {n}: no fix"));
        let fixed = apply(text, action, &uri);
        let left = sci_lang::analyze(sci_diag::FileId(0), &fixed).diagnostics;
        assert!(left.is_empty(), "case {n}:\n{fixed}\n{left:#?}");
    }
    c.stop();
}

#[test]
fn quick_fixes_for_typos_operators_and_unit_conversions() {
    let mut c = Client::start();
    let text = "model M {\n    param alpha = 0.5\n    param L: m = 1.0\n    param d: km = 2.0\n    state x = 1.0\n    der(x) = -alhpa * x**2\n    output scaled = L + d / 2\n}\n";
    c.open(URI, text);
    let mut out = String::new();
    for action in code_actions(&mut c, URI) {
        out.push_str(&format!("=== {}\n", action["title"].as_str().unwrap()));
        out.push_str(&apply(text, &action, URI));
    }
    insta::assert_snapshot!(out);
    c.stop();
}

#[test]
fn semantic_tokens_classify_names() {
    let mut c = Client::start();
    let text = example("pendulum");
    c.open(URI, &text);
    let r = c.result(
        "textDocument/semanticTokens/full",
        json!({ "textDocument": { "uri": URI } }),
    );
    let data: Vec<u64> = r["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_u64().unwrap())
        .collect();
    let types = [
        "namespace",
        "class",
        "function",
        "parameter",
        "variable",
        "property",
        "typeParameter",
        "keyword",
        "number",
        "string",
        "comment",
        "operator",
        "type",
        "struct",
        "event",
    ];
    let lines: Vec<&str> = text.lines().collect();
    let (mut line, mut col) = (0usize, 0usize);
    let mut out = Vec::new();
    for t in data.chunks(5) {
        if t[0] > 0 {
            line += t[0] as usize;
            col = t[1] as usize;
        } else {
            col += t[1] as usize;
        }
        let units: Vec<u16> = lines[line].encode_utf16().collect();
        let word = String::from_utf16(&units[col..col + t[2] as usize]).unwrap();
        if types[t[3] as usize] == "comment" {
            continue;
        }
        out.push(format!(
            "{line}:{col} {word} {} {}",
            types[t[3] as usize], t[4]
        ));
    }
    insta::assert_snapshot!(out.join("\n"));
    c.stop();
}

#[test]
fn plain_clients_get_plain_text_and_a_flat_outline() {
    let mut c = Client::start_with(json!({}));
    let text = example("pendulum");
    c.open(URI, &text);
    let (l, ch) = find(&text, "omega:", 0, 0);
    let hover = c.result("textDocument/hover", at(URI, l, ch));
    assert_eq!(hover["contents"]["kind"], "plaintext");
    assert_eq!(
        hover["contents"]["value"],
        "state omega: rad/s = 0.0\n\nstate omega — dtype f64 · shape scalar · unit rad/s (= 1/s)"
    );
    let (l, ch) = find(&text, "sin(theta)", 1, 1);
    let items = c.result("textDocument/completion", at(URI, l, ch));
    let sin = items
        .as_array()
        .unwrap()
        .iter()
        .find(|i| i["label"] == "sin")
        .unwrap();
    assert!(
        sin["documentation"].is_string() && sin.get("labelDetails").is_none(),
        "{sin}"
    );
    let symbols = c.result(
        "textDocument/documentSymbol",
        json!({ "textDocument": { "uri": URI } }),
    );
    let flat: Vec<String> = symbols
        .as_array()
        .unwrap()
        .iter()
        .map(|s| {
            format!(
                "{} in {}",
                s["name"].as_str().unwrap(),
                s["containerName"].as_str().unwrap_or("-")
            )
        })
        .collect();
    assert_eq!(
        flat[..3],
        ["Pendulum in -", "g in Pendulum", "L in Pendulum"]
    );
    c.stop();
}

#[test]
fn formatting_is_sci_fmt() {
    let mut c = Client::start();
    let text = "model   M{\nparam k=1.0 // rate\nstate x=1.0\nder(x)= -k*x\n}";
    c.open(URI, text);
    let edits = c.result("textDocument/formatting", json!({ "textDocument": { "uri": URI }, "options": { "tabSize": 4, "insertSpaces": true } }));
    let expected = sci_lang::fmt::format_source(sci_diag::FileId(0), text).unwrap();
    assert_eq!(edits[0]["newText"], expected);
    assert_eq!(
        edits[0]["range"]["end"],
        json!({ "line": 4, "character": 1 })
    );
    // A formatted file needs no edits; a broken one is refused with a reason.
    c.open("file:///ok.sci", &expected);
    let none = c.result("textDocument/formatting", json!({ "textDocument": { "uri": "file:///ok.sci" }, "options": { "tabSize": 4, "insertSpaces": true } }));
    assert_eq!(none, json!([]));
    c.open("file:///bad.sci", "model M { param = }");
    let r = c.request("textDocument/formatting", json!({ "textDocument": { "uri": "file:///bad.sci" }, "options": { "tabSize": 4, "insertSpaces": true } }));
    assert_eq!(r["error"]["code"], -32803, "{r}");
    c.stop();
}
