//! `sci lsp` end to end: the real binary driven over stdio as an editor drives it, with
//! snapshots of the JSON it answers (the server version is redacted).

use serde_json::{Value, json};
use std::io::{BufRead, BufReader, Read, Write};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::mpsc::{Receiver, channel};
use std::time::Duration;

const URI: &str = "file:///project/examples/pendulum.sci";

struct Editor {
    child: Child,
    stdin: ChildStdin,
    messages: Receiver<Value>,
    next_id: i64,
    /// Notifications that arrived while waiting for something else.
    pending: Vec<Value>,
}

impl Editor {
    fn start() -> Editor {
        let mut child = Command::new(env!("CARGO_BIN_EXE_sci"))
            .arg("lsp")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("sci lsp starts");
        let stdin = child.stdin.take().unwrap();
        let stdout = child.stdout.take().unwrap();
        let (tx, messages) = channel();
        std::thread::spawn(move || {
            let mut out = BufReader::new(stdout);
            loop {
                let mut length = 0usize;
                loop {
                    let mut line = String::new();
                    if out.read_line(&mut line).unwrap_or(0) == 0 {
                        return;
                    }
                    let line = line.trim_end();
                    if line.is_empty() {
                        break;
                    }
                    if let Some(v) = line.strip_prefix("Content-Length: ") {
                        length = v.parse().unwrap();
                    }
                }
                let mut body = vec![0; length];
                out.read_exact(&mut body).unwrap();
                if tx.send(serde_json::from_slice(&body).unwrap()).is_err() {
                    return;
                }
            }
        });
        Editor {
            child,
            stdin,
            messages,
            next_id: 0,
            pending: Vec::new(),
        }
    }

    fn send_raw(&mut self, body: &str) {
        write!(self.stdin, "Content-Length: {}\r\n\r\n{body}", body.len()).unwrap();
        self.stdin.flush().unwrap();
    }

    fn notify(&mut self, method: &str, params: Value) {
        let body = json!({ "jsonrpc": "2.0", "method": method, "params": params });
        self.send_raw(&body.to_string());
    }

    fn recv(&mut self) -> Value {
        self.messages
            .recv_timeout(Duration::from_secs(20))
            .expect("the server answers within 20 s")
    }

    /// Sends a request; returns the whole response.
    fn request(&mut self, method: &str, params: Value) -> Value {
        self.next_id += 1;
        let id = self.next_id;
        let body = json!({ "jsonrpc": "2.0", "id": id, "method": method, "params": params });
        self.send_raw(&body.to_string());
        self.response(&json!(id))
    }

    fn response(&mut self, id: &Value) -> Value {
        loop {
            let msg = self.recv();
            if msg.get("method").is_none() && msg["id"] == *id {
                return msg;
            }
            self.pending.push(msg);
        }
    }

    fn result(&mut self, method: &str, params: Value) -> Value {
        let r = self.request(method, params);
        assert!(r.get("error").is_none(), "{method}: {r}");
        r["result"].clone()
    }

    fn diagnostics(&mut self) -> Value {
        if let Some(i) = self
            .pending
            .iter()
            .position(|m| m["method"] == "textDocument/publishDiagnostics")
        {
            return self.pending.remove(i)["params"].clone();
        }
        loop {
            let msg = self.recv();
            if msg["method"] == "textDocument/publishDiagnostics" {
                return msg["params"].clone();
            }
            self.pending.push(msg);
        }
    }
}

fn at(line: u32, character: u32) -> Value {
    json!({ "textDocument": { "uri": URI }, "position": { "line": line, "character": character } })
}

fn pretty(v: &Value) -> String {
    serde_json::to_string_pretty(v).unwrap()
}

fn change(version: i32, changes: Value) -> Value {
    json!({ "textDocument": { "uri": URI, "version": version }, "contentChanges": changes })
}

fn range(l1: u32, c1: u32, l2: u32, c2: u32) -> Value {
    json!({ "start": { "line": l1, "character": c1 }, "end": { "line": l2, "character": c2 } })
}

#[test]
fn an_editor_session_over_stdio() {
    let text = std::fs::read_to_string("examples/pendulum.sci").unwrap();
    let mut ed = Editor::start();

    // The capabilities of a Markdown-capable editor (as VS Code declares them).
    let capabilities = json!({ "textDocument": {
        "hover": { "contentFormat": ["markdown", "plaintext"] },
        "completion": { "completionItem": { "documentationFormat": ["markdown", "plaintext"] } },
        "documentSymbol": { "hierarchicalDocumentSymbolSupport": true },
    } });
    let mut init = ed.request(
        "initialize",
        json!({ "processId": null, "rootUri": null, "capabilities": capabilities }),
    );
    init["result"]["serverInfo"]["version"] = json!("[version]");
    insta::assert_snapshot!("initialize", pretty(&init));
    ed.notify("initialized", json!({}));

    // Opening a correct example publishes no problems.
    ed.notify(
        "textDocument/didOpen",
        json!({ "textDocument": { "uri": URI, "languageId": "sci", "version": 1, "text": text } }),
    );
    assert_eq!(
        ed.diagnostics(),
        json!({ "uri": URI, "diagnostics": [], "version": 1 })
    );

    // Two incremental edits in one notification: a misspelled state on line 12 and a
    // length plus a rate on line 16.
    ed.notify(
        "textDocument/didChange",
        change(
            2,
            json!([
                { "range": range(12, 22, 12, 22), "text": "a" },
                { "range": range(16, 43, 16, 43), "text": " + c" },
            ]),
        ),
    );
    insta::assert_snapshot!("diagnostics_after_edit", pretty(&ed.diagnostics()));

    // Quick fix for the misspelling.
    let mut actions = json!({ "textDocument": { "uri": URI }, "range": range(12, 17, 12, 17), "context": { "diagnostics": [] } });
    let fixes = ed.result("textDocument/codeAction", actions.take());
    insta::assert_snapshot!("quick_fix", pretty(&fixes));

    // Back to the original text with a full-text change.
    ed.notify(
        "textDocument/didChange",
        change(3, json!([{ "text": text }])),
    );
    assert_eq!(ed.diagnostics()["diagnostics"], json!([]));

    // Hover over the state `omega` where it is declared: kind, dtype, shape and unit.
    insta::assert_snapshot!(
        "hover_state",
        pretty(&ed.result("textDocument/hover", at(10, 12)))
    );
    // Go to the definition of `g` from its use on line 13, and find its references.
    insta::assert_snapshot!(
        "definition",
        pretty(&ed.result("textDocument/definition", at(13, 19)))
    );
    let mut refs = at(13, 19);
    refs["context"] = json!({ "includeDeclaration": true });
    insta::assert_snapshot!(
        "references",
        pretty(&ed.result("textDocument/references", refs))
    );

    // Completion inside `der(omega) = …`: names in scope and built-ins with signatures.
    let items = ed.result("textDocument/completion", at(13, 29));
    let summary: Vec<String> = items
        .as_array()
        .unwrap()
        .iter()
        .map(|i| {
            format!(
                "{} ({}) {}",
                i["label"].as_str().unwrap(),
                i["kind"],
                i["detail"].as_str().unwrap_or("")
            )
        })
        .collect();
    for stdlib in ["sin", "exp", "mean", "laplacian", "atan2"] {
        assert!(
            summary.iter().any(|s| s.starts_with(&format!("{stdlib} "))),
            "{stdlib}"
        );
    }
    insta::assert_snapshot!("completion", summary.join("\n"));

    // Semantic tokens for the whole file.
    let tokens = ed.result(
        "textDocument/semanticTokens/full",
        json!({ "textDocument": { "uri": URI } }),
    );
    let rows: Vec<String> = tokens["data"]
        .as_array()
        .unwrap()
        .chunks(5)
        .map(|t| format!("{} {} {} {} {}", t[0], t[1], t[2], t[3], t[4]))
        .collect();
    insta::assert_snapshot!("semantic_tokens", rows.join("\n"));

    // Formatting a messy version of the file gives exactly what `sci fmt` writes.
    let messy = text
        .replace("der(theta) = omega", "der( theta )=omega")
        .replace("    param c", "param   c");
    ed.notify(
        "textDocument/didChange",
        change(4, json!([{ "text": messy }])),
    );
    let edits = ed.result(
        "textDocument/formatting",
        json!({ "textDocument": { "uri": URI }, "options": { "tabSize": 4, "insertSpaces": true } }),
    );
    assert_eq!(edits[0]["newText"].as_str().unwrap(), text);
    insta::assert_snapshot!("formatting_range", pretty(&edits[0]["range"]));

    // A malformed message and an unknown method get error responses; the server goes on.
    ed.send_raw("{\"jsonrpc\": \"2.0\", \"id\": 99, \"method\": ");
    let parse_error = ed.response(&Value::Null);
    assert_eq!(parse_error["error"]["code"], -32700);
    assert_eq!(
        ed.request("sci/unknown", json!({}))["error"]["code"],
        -32601
    );

    // Shut down cleanly: `shutdown` answers null, `exit` ends the process with status 0.
    assert_eq!(ed.request("shutdown", Value::Null)["result"], Value::Null);
    ed.notify("exit", Value::Null);
    let status = ed.child.wait().unwrap();
    assert!(status.success(), "{status:?}");
}

#[test]
fn exit_without_shutdown_is_a_failure() {
    let mut ed = Editor::start();
    ed.request("initialize", json!({ "capabilities": {} }));
    ed.notify("exit", Value::Null);
    let status = ed.child.wait().unwrap();
    assert!(!status.success(), "{status:?}");
}

/// After every kind of broken frame the server answers the next request: it skips to the
/// next `Content-Length` header instead of reading bodies as headers from then on.
#[test]
fn the_server_answers_after_any_broken_frame() {
    let mut ed = Editor::start();
    ed.request("initialize", json!({ "capabilities": {} }));
    ed.notify("initialized", json!({}));
    let broken: [&[u8]; 7] = [
        b"Content-Length: 5\r\n\r\n{\"jsonrpc\":\"2.0\",\"id\":99,\"method\":\"shutdown\"}",
        b"Content-Length: 1\x002\r\n\r\n{}",
        b"Content-Type: application/json\x00\r\n\r\n{}",
        b"garbage without a colon\r\n\r\n{\"a\": 1}",
        b"Content-Type: json\r\n\r\n{}",
        b"Content-Length: many\r\n\r\n{}",
        b"}}}\r\n",
    ];
    for bad in broken {
        ed.stdin.write_all(bad).unwrap();
        ed.stdin.flush().unwrap();
        let r = ed.request(
            "textDocument/documentSymbol",
            json!({ "textDocument": { "uri": URI } }),
        );
        assert!(
            r.get("result").is_some() || r.get("error").is_some(),
            "after {:?}: {r}",
            String::from_utf8_lossy(bad)
        );
    }
    // Each broken frame was answered with a parse error (id null).
    let parse_errors = ed
        .pending
        .iter()
        .filter(|m| m["error"]["code"] == -32700)
        .count();
    assert!(parse_errors >= broken.len(), "{:?}", ed.pending);
    ed.result("shutdown", Value::Null);
    ed.notify("exit", Value::Null);
    let status = ed.child.wait().unwrap();
    assert!(status.success(), "{status:?}");
}
