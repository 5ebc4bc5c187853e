//! The server survives what editors and broken clients send: half-typed text, random
//! edits at random positions, bad parameters, unknown methods and documents, requests out
//! of lifecycle order. Diagnostics are debounced and arrive promptly.

mod common;

use common::{Client, URI, at, example};
use proptest::prelude::*;
use serde_json::{Value, json};
use std::time::Duration;

/// Every request a client can make at a position, and the document-wide ones.
fn poke_everything(c: &mut Client, uri: &str, line: u32, col: u32) -> Vec<Value> {
    let doc = json!({ "textDocument": { "uri": uri } });
    let mut refs = at(uri, line, col);
    refs["context"] = json!({ "includeDeclaration": true });
    let mut rename = at(uri, line, col);
    rename["newName"] = json!("renamed");
    let range = json!({ "start": { "line": 0, "character": 0 }, "end": { "line": line, "character": col } });
    let mut out = Vec::new();
    for m in [
        "textDocument/hover",
        "textDocument/definition",
        "textDocument/documentHighlight",
        "textDocument/completion",
        "textDocument/signatureHelp",
        "textDocument/prepareRename",
    ] {
        out.push(c.request(m, at(uri, line, col)));
    }
    out.push(c.request("textDocument/references", refs));
    out.push(c.request("textDocument/rename", rename));
    out.push(c.request("textDocument/documentSymbol", doc.clone()));
    out.push(c.request("textDocument/semanticTokens/full", doc.clone()));
    out.push(c.request(
        "textDocument/formatting",
        json!({ "textDocument": { "uri": uri }, "options": { "tabSize": 4, "insertSpaces": true } }),
    ));
    out.push(c.request(
        "textDocument/codeAction",
        json!({ "textDocument": { "uri": uri }, "range": range, "context": { "diagnostics": [] } }),
    ));
    out
}

fn no_internal_errors(responses: &[Value]) -> Result<(), TestCaseError> {
    for r in responses {
        prop_assert!(
            r.get("result").is_some() || r["error"]["code"] != -32603,
            "{r}"
        );
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 24, ..ProptestConfig::default() })]

    /// Random incremental edits (deletions, insertions of code fragments and Unicode
    /// names) to the examples, each followed by every request at a random position.
    #[test]
    fn random_edits_never_break_the_server(
        which in 0usize..4,
        edits in prop::collection::vec((0u32..25, 0u32..60, 0u32..3, 0u32..20, prop::sample::select(vec!["", "(", ")", "α", "∂", "𝑥", "der(", "param ", "= ", "[i in 0..", "}", "\n", "sin(", ", "])), 1..6),
        line in 0u32..30,
        col in 0u32..70,
    ) {
        let name = ["pendulum", "heat1d", "burgers_pinn", "lv_ude"][which];
        let mut c = Client::start();
        c.open(URI, &example(name));
        for (version, (l, ch, dl, dc, text)) in edits.iter().enumerate() {
            c.notify("textDocument/didChange", json!({
                "textDocument": { "uri": URI, "version": version + 2 },
                "contentChanges": [{ "range": {
                    "start": { "line": l, "character": ch },
                    "end": { "line": l + dl, "character": dc } }, "text": text }],
            }));
        }
        let responses = poke_everything(&mut c, URI, line, col);
        no_internal_errors(&responses)?;
        prop_assert_eq!(c.stop(), sci_lsp::Ending::Clean);
    }
}

#[test]
fn every_prefix_of_an_example_is_served() {
    // Half-typed text: the example cut after every few characters.
    let text = example("lv_ude");
    let mut c = Client::start();
    c.open(URI, "");
    let cuts: Vec<usize> = text.char_indices().map(|(i, _)| i).step_by(23).collect();
    for (v, cut) in cuts.into_iter().enumerate() {
        let prefix = &text[..cut];
        c.notify(
            "textDocument/didChange",
            json!({ "textDocument": { "uri": URI, "version": v + 2 }, "contentChanges": [{ "text": prefix }] }),
        );
        let lines = prefix.lines().count() as u32;
        let last = prefix
            .lines()
            .last()
            .map_or(0, |l| l.encode_utf16().count() as u32);
        let responses = poke_everything(&mut c, URI, lines.saturating_sub(1), last);
        no_internal_errors(&responses).unwrap();
    }
    assert_eq!(c.stop(), sci_lsp::Ending::Clean);
}

#[test]
fn protocol_errors_get_error_responses() {
    let mut c = Client::start();
    c.open(URI, &example("pendulum"));
    let bad_params = c.request("textDocument/hover", json!({ "textDocument": 3 }));
    let unknown = c.request("textDocument/teleport", json!({}));
    let again = c.request("initialize", json!({ "capabilities": {} }));
    let codes: Vec<&Value> = [&bad_params, &unknown, &again]
        .map(|r| &r["error"]["code"])
        .to_vec();
    assert_eq!(codes, [&json!(-32602), &json!(-32601), &json!(-32600)]);
    // Requests about documents that are not open have empty answers.
    let other = "file:///nowhere.sci";
    for r in poke_everything(&mut c, other, 0, 0) {
        assert_eq!(r["result"], Value::Null, "{r}");
    }
    // Unknown notifications and notifications with bad parameters are ignored or logged.
    c.notify("$/weird", json!([1, 2]));
    c.notify("textDocument/didChange", json!({ "nonsense": true }));
    c.notify(
        "textDocument/didChange",
        json!({ "textDocument": { "uri": other, "version": 2 }, "contentChanges": [] }),
    );
    let hover = c.request("textDocument/hover", at(URI, 10, 12));
    assert!(
        hover["result"]["contents"]["value"]
            .as_str()
            .unwrap()
            .contains("rad/s")
    );
    assert_eq!(c.stop(), sci_lsp::Ending::Clean);
}

#[test]
fn lifecycle_is_enforced() {
    let (tx, rx) = crossbeam_channel::unbounded();
    let (stx, srx) = crossbeam_channel::unbounded();
    let server = std::thread::spawn(move || sci_lsp::serve(&rx, stx));
    let send = |m: lsp_server::Message| tx.send(m).unwrap();
    let recv = || srx.recv_timeout(Duration::from_secs(10)).unwrap();
    // Before `initialize`: requests are refused, notifications dropped.
    send(lsp_server::Request::new(1.into(), "textDocument/hover".into(), at(URI, 0, 0)).into());
    let early = serde_json::to_value(recv()).unwrap();
    assert_eq!(early["error"]["code"], -32002);
    send(
        lsp_server::Request::new(2.into(), "initialize".into(), json!({ "capabilities": {} }))
            .into(),
    );
    let mut init = serde_json::to_value(recv()).unwrap();
    init["result"]["serverInfo"]["version"] = json!("[version]");
    insta::assert_snapshot!(serde_json::to_string_pretty(&init["result"]).unwrap());
    send(lsp_server::Request::new(3.into(), "shutdown".into(), Value::Null).into());
    assert_eq!(serde_json::to_value(recv()).unwrap()["result"], Value::Null);
    // After `shutdown`: only `exit`.
    send(lsp_server::Request::new(4.into(), "textDocument/hover".into(), at(URI, 0, 0)).into());
    assert_eq!(
        serde_json::to_value(recv()).unwrap()["error"]["code"],
        -32600
    );
    send(lsp_server::Notification::new("exit".into(), Value::Null).into());
    assert_eq!(server.join().unwrap(), sci_lsp::Ending::Clean);

    // `exit` without `shutdown` is an abrupt ending (exit code 1 for the binary).
    let (tx, rx) = crossbeam_channel::unbounded();
    let (stx, _srx) = crossbeam_channel::unbounded();
    let server = std::thread::spawn(move || sci_lsp::serve(&rx, stx));
    tx.send(lsp_server::Notification::new("exit".into(), Value::Null).into())
        .unwrap();
    assert!(matches!(server.join().unwrap(), sci_lsp::Ending::Abrupt(_)));
}

/// Debouncing is checked by what is published and in which order, not by the clock: a
/// burst of edits gets one publication, for its last version (a server publishing per
/// edit would publish version 2 first), and nothing more is pending afterwards.
#[test]
fn diagnostics_are_debounced_once_per_burst() {
    let mut c = Client::start();
    let text = example("pendulum");
    let first = c.open(URI, &text);
    assert_eq!(first["diagnostics"], json!([]));
    // A burst of keystrokes typing `+ T` after `omega` in `der(theta) = omega`.
    for (i, ch) in [" ", "+", " ", "T"].iter().enumerate() {
        let col = 22 + i as u32;
        c.notify("textDocument/didChange", json!({
            "textDocument": { "uri": URI, "version": 2 + i },
            "contentChanges": [{ "range": { "start": { "line": 12, "character": col }, "end": { "line": 12, "character": col } }, "text": ch }],
        }));
    }
    let published = c.diagnostics(URI);
    // The first publication after the burst is for its last version.
    assert_eq!(published["version"], 5);
    let messages: Vec<&str> = published["diagnostics"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["message"].as_str().unwrap())
        .collect();
    assert_eq!(
        messages,
        ["There is no definition called `T` here."],
        "{published}"
    );
    // No second publication is pending for the burst.
    let later = c.request("textDocument/hover", at(URI, 0, 0));
    assert!(later.get("result").is_some());
    assert!(
        !c.notifications
            .iter()
            .any(|n| n.method == "textDocument/publishDiagnostics")
    );
    c.stop();
}

#[test]
fn a_document_past_the_size_limit_is_answered_without_being_analysed() {
    // One byte over the front end's limit: the only diagnostic is E0100, and every request
    // is answered without error (nothing is lexed, parsed or checked).
    let text = format!(
        "{}\n{}",
        example("lotka_volterra"),
        "x".repeat(sci_lang::parser::MAX_SOURCE_BYTES)
    );
    let mut c = Client::start();
    let diagnostics = c.open(URI, &text);
    let codes: Vec<&str> = diagnostics["diagnostics"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["code"].as_str().unwrap())
        .collect();
    assert_eq!(codes, ["E0100"]);
    let responses = poke_everything(&mut c, URI, 3, 4);
    no_internal_errors(&responses).unwrap();
    assert_eq!(c.stop(), sci_lsp::Ending::Clean);
}
