//! An in-process client for the server's tests: the server loop runs on a thread and the
//! test talks to it over channels with plain JSON values.

#![allow(dead_code)] // Each test file uses a different part of the client.

use crossbeam_channel::{Receiver, Sender};
use lsp_server::{Message, Notification, Request, RequestId};
use serde_json::{Value, json};
use std::time::Duration;

pub struct Client {
    to_server: Option<Sender<Message>>,
    from_server: Receiver<Message>,
    server: Option<std::thread::JoinHandle<sci_lsp::Ending>>,
    next_id: i32,
    /// Notifications received while waiting for responses.
    pub notifications: Vec<Notification>,
}

pub const URI: &str = "file:///work/model.sci";

impl Client {
    /// Starts a server and initializes it as an editor with Markdown and outline support.
    pub fn start() -> Client {
        Client::start_with(editor_capabilities())
    }

    /// Starts a server and initializes it with the given client capabilities.
    pub fn start_with(capabilities: Value) -> Client {
        let (to_server, server_rx) = crossbeam_channel::unbounded();
        let (server_tx, from_server) = crossbeam_channel::unbounded();
        let server = std::thread::spawn(move || sci_lsp::serve(&server_rx, server_tx));
        let mut c = Client {
            to_server: Some(to_server),
            from_server,
            server: Some(server),
            next_id: 0,
            notifications: Vec::new(),
        };
        let init = c.request("initialize", json!({ "capabilities": capabilities }));
        assert!(init.get("result").is_some(), "{init}");
        c.notify("initialized", json!({}));
        c
    }

    pub fn notify(&self, method: &str, params: Value) {
        let n = Notification::new(method.to_string(), params);
        self.to_server.as_ref().unwrap().send(n.into()).unwrap();
    }

    /// Sends a request and returns the whole response object (`result` or `error`).
    pub fn request(&mut self, method: &str, params: Value) -> Value {
        self.next_id += 1;
        let id = RequestId::from(self.next_id);
        let req = Request::new(id.clone(), method.to_string(), params);
        self.to_server.as_ref().unwrap().send(req.into()).unwrap();
        loop {
            match self
                .from_server
                .recv_timeout(Duration::from_secs(20))
                .expect("the server answers")
            {
                Message::Response(r) if r.id == id => return serde_json::to_value(&r).unwrap(),
                Message::Notification(n) => self.notifications.push(n),
                other => panic!("unexpected message {other:?}"),
            }
        }
    }

    /// The `result` of a request (panics on an error response).
    pub fn result(&mut self, method: &str, params: Value) -> Value {
        let r = self.request(method, params);
        match r.get("result") {
            Some(v) => v.clone(),
            None => panic!("{method} failed: {r}"),
        }
    }

    /// Waits for the next `publishDiagnostics` for `uri`.
    pub fn diagnostics(&mut self, uri: &str) -> Value {
        if let Some(i) = self
            .notifications
            .iter()
            .position(|n| n.method == "textDocument/publishDiagnostics" && n.params["uri"] == uri)
        {
            return self.notifications.remove(i).params;
        }
        loop {
            match self
                .from_server
                .recv_timeout(Duration::from_secs(20))
                .expect("diagnostics arrive")
            {
                Message::Notification(n)
                    if n.method == "textDocument/publishDiagnostics" && n.params["uri"] == uri =>
                {
                    return n.params;
                }
                Message::Notification(n) => self.notifications.push(n),
                other => panic!("unexpected message {other:?}"),
            }
        }
    }

    pub fn open(&mut self, uri: &str, text: &str) -> Value {
        self.notify(
            "textDocument/didOpen",
            json!({ "textDocument": { "uri": uri, "languageId": "sci", "version": 1, "text": text } }),
        );
        self.diagnostics(uri)
    }

    /// Shuts down and exits; returns how the server loop ended.
    pub fn stop(mut self) -> sci_lsp::Ending {
        let r = self.request("shutdown", Value::Null);
        assert_eq!(r["result"], Value::Null);
        self.notify("exit", Value::Null);
        self.to_server.take();
        self.server.take().unwrap().join().unwrap()
    }
}

/// The capabilities of a Markdown-capable editor (as VS Code declares them).
pub fn editor_capabilities() -> Value {
    json!({ "textDocument": {
        "hover": { "contentFormat": ["markdown", "plaintext"] },
        "completion": { "completionItem": { "documentationFormat": ["markdown", "plaintext"], "labelDetailsSupport": true } },
        "signatureHelp": { "signatureInformation": { "documentationFormat": ["markdown", "plaintext"] } },
        "documentSymbol": { "hierarchicalDocumentSymbolSupport": true },
    } })
}

/// `{ textDocument, position }` params.
pub fn at(uri: &str, line: u32, character: u32) -> Value {
    json!({ "textDocument": { "uri": uri }, "position": { "line": line, "character": character } })
}

/// The (line, UTF-16 column) of the `n`th occurrence (0-based) of `needle` in `text`,
/// plus `delta` characters.
pub fn find(text: &str, needle: &str, n: usize, delta: u32) -> (u32, u32) {
    let offset = text
        .match_indices(needle)
        .nth(n)
        .unwrap_or_else(|| panic!("`{needle}` #{n} not in text"))
        .0;
    let before = &text[..offset];
    let line = before.matches('\n').count() as u32;
    let line_start = before.rfind('\n').map_or(0, |i| i + 1);
    let col = text[line_start..offset].encode_utf16().count() as u32;
    (line, col + delta)
}

pub fn example(name: &str) -> String {
    std::fs::read_to_string(format!(
        "{}/../examples/{name}.sci",
        env!("CARGO_MANIFEST_DIR")
    ))
    .unwrap()
}
