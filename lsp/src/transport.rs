//! JSON-RPC over stdin/stdout with `Content-Length` framing, tolerant of bad input.
//!
//! `lsp-server`'s own stdio transport stops reading at the first message that is not valid
//! JSON, which ends the session. This one answers such a message with the JSON-RPC error
//! the specification asks for (`-32700` parse error, or `-32600` invalid request when the
//! JSON is not a request, response or notification) and keeps reading. A broken frame
//! (a header without `:`, a NUL in it, a length that is no number, a body cut short) would
//! leave the reader out of step with the frames after it, reading bodies as headers; so
//! after one the reader *resynchronises*: it skips to the next `Content-Length` header in
//! the input (also inside a body that was cut short and ran into the next frame), and every
//! later message is read as sent. Error answers to
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
    let mut input = Resync::new(input);
    loop {
        let body = match read_frame(&mut input) {
            Ok(Frame::Eof) => return,
            Ok(Frame::Body(body)) => body,
            Ok(Frame::Bad {
                why,
                skip_to_header,
            }) => {
                write_error(out, &Value::Null, -32700, &why);
                if skip_to_header && !matches!(input.skip_to_header(), Ok(true)) {
                    return;
                }
                continue;
            }
            Err(_) => return,
        };
        let value: Value = match serde_json::from_slice(&body) {
            Ok(v) => v,
            Err(e) => {
                write_error(out, &Value::Null, -32700, &format!("Parse error: {e}"));
                // A body whose length was given too long runs into the next frame: read on
                // from the next header inside it.
                if let Some(at) = body.get(1..).and_then(find_header) {
                    input.unread(body.get(at + 1..).unwrap_or_default());
                }
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

/// The header every frame starts with, matched without regard to case.
const HEADER: &[u8] = b"content-length";

/// Where the next `Content-Length` starts in `bytes`.
fn find_header(bytes: &[u8]) -> Option<usize> {
    bytes
        .windows(HEADER.len())
        .position(|w| w.eq_ignore_ascii_case(HEADER))
}

/// The input, with bytes put back in front of it (the rest of a body cut short) and a way
/// to skip to the next frame.
struct Resync<'r, R> {
    inner: &'r mut R,
    back: Vec<u8>,
    /// How much of `back` is consumed.
    at: usize,
}

impl<'r, R: BufRead> Resync<'r, R> {
    fn new(inner: &'r mut R) -> Self {
        Resync {
            inner,
            back: Vec::new(),
            at: 0,
        }
    }

    /// Puts `bytes` back to be read first.
    fn unread(&mut self, bytes: &[u8]) {
        let rest = self.back.get(self.at..).unwrap_or_default().to_vec();
        self.back = [bytes, &rest].concat();
        self.at = 0;
    }

    /// Skips to the next `Content-Length` header (left to be read); `false` at end of input.
    fn skip_to_header(&mut self) -> io::Result<bool> {
        // The bytes seen of a header that may continue in the next buffer.
        let mut partial: Vec<u8> = Vec::new();
        loop {
            let buf = self.fill_buf()?;
            if buf.is_empty() {
                return Ok(false);
            }
            let seen = [partial.as_slice(), buf].concat();
            if let Some(at) = find_header(&seen) {
                // Everything from the header on is read again.
                let header_start = seen.get(at..).unwrap_or_default().to_vec();
                let used = buf.len();
                self.consume(used);
                self.unread(&header_start);
                return Ok(true);
            }
            // Keep the last bytes, which may begin a header split across buffers.
            let keep = seen.len().min(HEADER.len() - 1);
            partial = seen.get(seen.len() - keep..).unwrap_or_default().to_vec();
            let used = buf.len();
            self.consume(used);
        }
    }
}

impl<R: BufRead> Read for Resync<'_, R> {
    fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
        let buf = self.fill_buf()?;
        let n = buf.len().min(out.len());
        out.get_mut(..n)
            .unwrap_or_default()
            .copy_from_slice(buf.get(..n).unwrap_or_default());
        self.consume(n);
        Ok(n)
    }
}

impl<R: BufRead> BufRead for Resync<'_, R> {
    fn fill_buf(&mut self) -> io::Result<&[u8]> {
        if self.at < self.back.len() {
            return Ok(self.back.get(self.at..).unwrap_or_default());
        }
        self.inner.fill_buf()
    }

    fn consume(&mut self, n: usize) {
        if self.at < self.back.len() {
            self.at = (self.at + n).min(self.back.len());
            if self.at == self.back.len() {
                self.back.clear();
                self.at = 0;
            }
        } else {
            self.inner.consume(n);
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
    /// A frame whose header could not be used: the reason, and whether the reader is lost
    /// (the body's length unknown) and must skip to the next header.
    Bad {
        why: String,
        skip_to_header: bool,
    },
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
                Frame::Bad {
                    why: "the input ended inside a message header".to_string(),
                    skip_to_header: false,
                }
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
        // The rest of a body cut short, glued to the next frame's header: the cut frame
        // was answered already; read the header.
        let text = match find_header(text.as_bytes()) {
            Some(at) if at > 0 => text.get(at..).unwrap_or(text),
            _ => text,
        };
        let shown = text.replace('\0', "\\0");
        let malformed = text.contains('\0') || !text.contains(':');
        if malformed && !saw_header {
            // Not a header at all: answer it and look for the next frame.
            return Ok(Frame::Bad {
                why: format!("Parse error: malformed header line `{shown}`"),
                skip_to_header: true,
            });
        }
        saw_header = true;
        match text.split_once(':') {
            _ if text.contains('\0') => {
                bad.get_or_insert(format!("Parse error: a NUL byte in header line `{shown}`"));
            }
            Some((name, value)) if name.trim().eq_ignore_ascii_case("content-length") => {
                match value.trim().parse::<usize>() {
                    Ok(v) => length = Some(v),
                    Err(_) => {
                        bad.get_or_insert(format!(
                            "Parse error: bad Content-Length `{}`",
                            value.trim()
                        ));
                    }
                }
            }
            Some(_) => {} // Content-Type and other headers.
            None => {
                bad.get_or_insert(format!("Parse error: malformed header line `{shown}`"));
            }
        }
    }
    if let Some(l) = length.filter(|&l| l > MAX_MESSAGE_BYTES) {
        // Not read; and a length this large may be garbage, so rather than stepping over
        // it (to the end of the input, for a bogus one) look for the next frame.
        return Ok(Frame::Bad {
            why: format!("Parse error: a message of {l} bytes is too large"),
            skip_to_header: true,
        });
    }
    if let Some(why) = bad {
        // With a length the body can be stepped over; without one, the reader is lost.
        return Ok(match length {
            Some(l) => {
                io::copy(&mut input.by_ref().take(l as u64), &mut io::sink())?;
                Frame::Bad {
                    why,
                    skip_to_header: false,
                }
            }
            None => Frame::Bad {
                why,
                skip_to_header: true,
            },
        });
    }
    let Some(length) = length else {
        return Ok(Frame::Bad {
            why: "Parse error: the message has no Content-Length header".to_string(),
            skip_to_header: true,
        });
    };
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
            "garbage\r\n\r\n".to_string(),
            "Content-Length: nope\r\n\r\n".to_string(),
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

    /// After every kind of broken frame the reader finds the next one, and every request
    /// sent after it arrives.
    #[test]
    fn the_reader_resynchronises_after_any_broken_frame() {
        let request = |id: u32| {
            frame(&format!(
                r#"{{"jsonrpc":"2.0","id":{id},"method":"m{id}"}}"#
            ))
        };
        let cut = request(0);
        let broken: Vec<(&str, String)> = vec![
            ("a body longer than its length", {
                let body = r#"{"jsonrpc":"2.0","id":0,"method":"cut"}"#;
                format!("Content-Length: 5\r\n\r\n{body}")
            }),
            ("a length longer than its body", {
                let body = r#"{"jsonrpc":"2.0","id":0}"#;
                format!("Content-Length: {}\r\n\r\n{body}", body.len() + 60)
            }),
            (
                "a NUL in a header",
                "Content-Length: 1\x002\r\n\r\n{}".to_string(),
            ),
            (
                "a NUL in another header",
                format!("Content-Type: x\0\r\n{}", &cut),
            ),
            (
                "a header line without a colon",
                "garbage\r\n\r\n{\"a\": 1}".to_string(),
            ),
            (
                "a line without a colon before the length",
                format!("garbage\r\n{cut}"),
            ),
            (
                "no length at all",
                "Content-Type: json\r\n\r\n{}".to_string(),
            ),
            (
                "a length that is no number",
                "Content-Length: -3\r\n\r\n{}".to_string(),
            ),
            ("bytes between frames", "}}}}\r\n".to_string()),
            (
                "a huge length",
                format!("Content-Length: {}\r\n\r\n", usize::MAX),
            ),
        ];
        for (what, bad) in broken {
            let input = [bad, request(1), request(2), request(3)].concat();
            let (messages, answers) = run(&input);
            // (A well-formed frame inside a broken one, `m0`, may arrive or not.)
            let methods: Vec<String> = messages
                .iter()
                .filter_map(|m| match m {
                    Message::Request(r) if r.method != "m0" => Some(r.method.clone()),
                    _ => None,
                })
                .collect();
            assert_eq!(
                methods,
                ["m1", "m2", "m3"],
                "{what}: the requests after it\n{answers}"
            );
            assert!(
                answers.contains("-32700"),
                "{what}: answered with a parse error\n{answers}"
            );
        }
    }
}
