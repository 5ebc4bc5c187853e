//! JSON-RPC over stdin/stdout with `Content-Length` framing, tolerant of bad input.
//!
//! `lsp-server`'s own stdio transport stops reading at the first message that is not valid
//! JSON, which ends the session. This one answers such a message with the JSON-RPC error
//! the specification asks for (`-32700` parse error, or `-32600` invalid request when the
//! JSON is not a request, response or notification) and keeps reading. Error answers to
//! unreadable messages are written straight to stdout from the reader thread (their id may
//! be `null`, which `lsp_server::Response` cannot express); every write holds the stdout
//! lock for a whole frame, so frames never interleave.

use crossbeam_channel::{Receiver, Sender};
use lsp_server::Message;
use serde_json::{Value, json};
use std::io::{self, BufRead, Read, Write};
use std::thread;

/// The largest message accepted; larger ones are skipped with an error answer.
const MAX_MESSAGE_BYTES: usize = 256 << 20;

/// The reader and writer threads of a stdio connection.
pub struct IoThreads {
    writer: thread::JoinHandle<()>,
}

impl IoThreads {
    /// Waits until every message sent so far has been written (after the sender is dropped).
    pub fn join_writer(self) {
        let _ = self.writer.join();
    }
}

/// Starts the reader and writer threads on stdin/stdout.
pub fn stdio() -> (Receiver<Message>, Sender<Message>, IoThreads) {
    let (to_server, from_client) = crossbeam_channel::unbounded::<Message>();
    let (to_client, from_server) = crossbeam_channel::unbounded::<Message>();
    thread::Builder::new()
        .name("sci-lsp-reader".to_string())
        .spawn(move || {
            let stdin = io::stdin();
            read_loop(&mut stdin.lock(), &to_server, &mut || io::stdout().lock());
        })
        .ok();
    let writer = thread::Builder::new()
        .name("sci-lsp-writer".to_string())
        .spawn(move || {
            for msg in from_server {
                let mut out = io::stdout().lock();
                if msg.write(&mut out).is_err() {
                    break;
                }
            }
        });
    let writer = match writer {
        Ok(w) => w,
        // Without threads there is no server; a thread that ends at once keeps types simple.
        Err(_) => thread::spawn(|| {}),
    };
    (from_client, to_client, IoThreads { writer })
}

/// Reads framed messages from `input` and forwards them until end of input or `exit`.
/// Unreadable messages are answered on the writer `out` returns.
pub fn read_loop<R: BufRead, W: Write>(
    input: &mut R,
    to_server: &Sender<Message>,
    out: &mut dyn FnMut() -> W,
) {
    loop {
        let body = match read_frame(input) {
            Ok(Frame::Eof) => return,
            Ok(Frame::Body(body)) => body,
            Ok(Frame::Bad(why)) => {
                write_error(out, &Value::Null, -32700, &why);
                continue;
            }
            Err(_) => return,
        };
        let value: Value = match serde_json::from_slice(&body) {
            Ok(v) => v,
            Err(e) => {
                write_error(out, &Value::Null, -32700, &format!("Parse error: {e}"));
                continue;
            }
        };
        match classify(value) {
            Ok(msg) => {
                let exit = matches!(&msg, Message::Notification(n) if n.method == "exit");
                if to_server.send(msg).is_err() || exit {
                    return;
                }
            }
            Err((id, why)) => write_error(out, &id, -32600, &why),
        }
    }
}

/// Turns a JSON value into a message, or says why it is not one (with the id to answer).
fn classify(value: Value) -> Result<Message, (Value, String)> {
    let id = value.get("id").cloned().unwrap_or(Value::Null);
    if !value.is_object() {
        return Err((
            Value::Null,
            "Invalid request: a message must be a JSON object".to_string(),
        ));
    }
    let has_method = value.get("method").is_some_and(Value::is_string);
    let id_ok =
        matches!(&id, Value::String(_)) || id.as_i64().is_some_and(|n| i32::try_from(n).is_ok());
    if value.get("id").is_some() && has_method && !id_ok {
        return Err((
            id_for_answer(&id),
            "Invalid request: the id must be a string or a 32-bit integer".to_string(),
        ));
    }
    if value.get("method").is_some() && !has_method {
        return Err((
            id_for_answer(&id),
            "Invalid request: `method` must be a string".to_string(),
        ));
    }
    serde_json::from_value::<Message>(value).map_err(|e| {
        (
            id_for_answer(&id),
            format!("Invalid request: not a JSON-RPC request, response or notification ({e})"),
        )
    })
}

/// The id to echo in an error answer: the request's own when it is a valid id type.
fn id_for_answer(id: &Value) -> Value {
    match id {
        Value::String(_) | Value::Number(_) => id.clone(),
        _ => Value::Null,
    }
}

fn write_error<W: Write>(out: &mut dyn FnMut() -> W, id: &Value, code: i32, message: &str) {
    let body = json!({
        "jsonrpc": "2.0",
        "id": id,
        "error": { "code": code, "message": message },
    })
    .to_string();
    let mut w = out();
    let _ = write!(w, "Content-Length: {}\r\n\r\n{body}", body.len());
    let _ = w.flush();
}

enum Frame {
    Eof,
    Body(Vec<u8>),
    /// A frame whose header could not be used; the reason.
    Bad(String),
}

/// Reads one `Content-Length`-framed message body.
fn read_frame<R: BufRead>(input: &mut R) -> io::Result<Frame> {
    let mut length: Option<usize> = None;
    let mut bad: Option<String> = None;
    let mut saw_header = false;
    loop {
        let mut line = Vec::new();
        // Header lines are short; a very long "line" is garbage and ends the header.
        let n = input
            .by_ref()
            .take(64 * 1024)
            .read_until(b'\n', &mut line)?;
        if n == 0 {
            return Ok(if saw_header {
                Frame::Bad("the input ended inside a message header".to_string())
            } else {
                Frame::Eof
            });
        }
        let text = String::from_utf8_lossy(&line);
        let text = text.trim_end_matches(['\r', '\n']);
        if text.is_empty() {
            if !saw_header {
                continue; // Stray blank lines between messages.
            }
            break;
        }
        saw_header = true;
        match text.split_once(':') {
            Some((name, value)) if name.trim().eq_ignore_ascii_case("content-length") => {
                match value.trim().parse::<usize>() {
                    Ok(v) => length = Some(v),
                    Err(_) => {
                        bad = Some(format!(
                            "Parse error: bad Content-Length `{}`",
                            value.trim()
                        ))
                    }
                }
            }
            Some(_) => {} // Content-Type and other headers.
            None => bad = Some(format!("Parse error: malformed header line `{text}`")),
        }
    }
    if let Some(why) = bad {
        return Ok(Frame::Bad(why));
    }
    let Some(length) = length else {
        return Ok(Frame::Bad(
            "Parse error: the message has no Content-Length header".to_string(),
        ));
    };
    if length > MAX_MESSAGE_BYTES {
        io::copy(&mut input.by_ref().take(length as u64), &mut io::sink())?;
        return Ok(Frame::Bad(format!(
            "Parse error: a message of {length} bytes is too large"
        )));
    }
    let mut body = vec![0; length];
    input.read_exact(&mut body)?;
    Ok(Frame::Body(body))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn frame(body: &str) -> String {
        format!("Content-Length: {}\r\n\r\n{body}", body.len())
    }

    /// Runs the reader on `input`; returns the forwarded messages and the error answers.
    fn run(input: &str) -> (Vec<Message>, String) {
        let (tx, rx) = crossbeam_channel::unbounded();
        let mut written: Vec<u8> = Vec::new();
        {
            let cell = std::cell::RefCell::new(&mut written);
            let mut out = || Sink(&cell);
            read_loop(&mut io::Cursor::new(input.as_bytes()), &tx, &mut out);
        }
        drop(tx);
        (rx.iter().collect(), String::from_utf8(written).unwrap())
    }

    struct Sink<'a, 'b>(&'a std::cell::RefCell<&'b mut Vec<u8>>);

    impl Write for Sink<'_, '_> {
        fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
            self.0.borrow_mut().extend_from_slice(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn bad_messages_are_answered_and_reading_goes_on() {
        let input = [
            frame("{not json"),
            frame("[1, 2]"),
            frame(r#"{"jsonrpc":"2.0","id":7,"method":42}"#),
            frame(r#"{"jsonrpc":"2.0","id":1.5,"method":"shutdown"}"#),
            "Content-Length: nope\r\n\r\n".to_string(),
            "garbage\r\n\r\n".to_string(),
            frame(r#"{"jsonrpc":"2.0","id":1,"method":"shutdown"}"#),
            frame(r#"{"jsonrpc":"2.0","method":"exit"}"#),
            frame(r#"{"jsonrpc":"2.0","id":2,"method":"after-exit"}"#),
        ]
        .concat();
        let (messages, answers) = run(&input);
        // The good request and `exit` arrive; reading stops at `exit`.
        assert_eq!(messages.len(), 2);
        assert!(matches!(&messages[0], Message::Request(r) if r.method == "shutdown"));
        insta::assert_snapshot!(answers.replace("}Content-Length", "}\nContent-Length"));
    }

    #[test]
    fn end_of_input_inside_a_message_stops_quietly() {
        let (messages, _) = run("Content-Length: 100\r\n\r\n{\"jsonrpc\"");
        assert!(messages.is_empty());
    }
}
