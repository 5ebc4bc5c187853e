//! The server loop: lifecycle, open documents, debounced re-checking, request dispatch.
//!
//! One thread owns all state and handles messages in order, so there are no locks and
//! every response reflects all edits received before it. Re-checking is debounced by
//! coalescing: a `didChange` only applies the edit and sets a deadline
//! ([`DEBOUNCE`] later); when no message arrives before the earliest deadline, the
//! documents that are due are analysed and their diagnostics published. A request for a
//! document whose analysis is stale analyses it on the spot (the compiler takes
//! milliseconds on model-sized files), so answers are never out of date.
//!
//! Robustness: every handler runs under `catch_unwind`, so a bug becomes an error response
//! (`InternalError`) and the server carries on; parameters that do not match the method's
//! type get `InvalidParams`, unknown methods `MethodNotFound`, requests before
//! `initialize` `ServerNotInitialized` and requests after `shutdown` `InvalidRequest`.
//! Requests about documents that are not open get an empty answer (`null`).

use crate::analysis::Analysis;
use crate::caps::Caps;
use crate::text::{LineMap, apply_change};
use crate::{actions, completion, diagnostics, hover, navigation, signature, symbols, tokens};
use crossbeam_channel::{Receiver, RecvTimeoutError, Sender};
use lsp_server::{ErrorCode, Message, Notification, Request, RequestId, Response, ResponseError};
use lsp_types::{
    CodeActionKind, CodeActionOptions, CodeActionParams, CodeActionProviderCapability,
    CompletionOptions, CompletionParams, DidChangeTextDocumentParams, DidCloseTextDocumentParams,
    DidOpenTextDocumentParams, DidSaveTextDocumentParams, DocumentFormattingParams,
    DocumentHighlightParams, DocumentSymbolParams, DocumentSymbolResponse, GotoDefinitionParams,
    GotoDefinitionResponse, HoverParams, HoverProviderCapability, InitializeResult, OneOf,
    Position, PositionEncodingKind, PublishDiagnosticsParams, ReferenceParams, RenameOptions,
    RenameParams, SaveOptions, SemanticTokensFullOptions, SemanticTokensOptions,
    SemanticTokensParams, SemanticTokensResult, SemanticTokensServerCapabilities,
    ServerCapabilities, ServerInfo, SignatureHelpOptions, SignatureHelpParams,
    TextDocumentPositionParams, TextDocumentSyncCapability, TextDocumentSyncKind,
    TextDocumentSyncOptions, TextDocumentSyncSaveOptions, TextEdit, Uri, WorkDoneProgressOptions,
};
use serde::de::DeserializeOwned;
use serde_json::Value;
use std::collections::HashMap;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::time::{Duration, Instant};

/// How long after the last edit a document is re-checked and its diagnostics published.
pub const DEBOUNCE: Duration = Duration::from_millis(200);

/// Where the server is in the protocol's lifecycle.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Phase {
    /// Waiting for `initialize`.
    Uninitialized,
    Running,
    /// `shutdown` was answered; only `exit` is expected.
    ShutDown,
}

/// One open document.
struct Document {
    text: String,
    version: i32,
    /// The analysis of `text`, computed when first needed after a change.
    analysis: Option<Analysis>,
}

impl Document {
    fn analysis(&mut self) -> &Analysis {
        self.analysis
            .get_or_insert_with(|| Analysis::new(&self.text))
    }
}

/// The server state, owned by the loop's thread.
pub struct Server {
    sender: Sender<Message>,
    phase: Phase,
    docs: HashMap<Uri, Document>,
    /// Documents whose diagnostics are due, with the time they are due.
    pending: HashMap<Uri, Instant>,
    /// What the client supports (set by `initialize`).
    caps: Caps,
}

/// How the loop ended.
#[derive(Debug, PartialEq, Eq)]
pub enum Ending {
    /// `exit` after `shutdown`: success.
    Clean,
    /// `exit` without `shutdown`, or the connection closed: the protocol says exit code 1.
    Abrupt(String),
}

/// Runs the server on a message channel pair until `exit` or until the client goes away.
pub fn serve(receiver: &Receiver<Message>, sender: Sender<Message>) -> Ending {
    let mut server = Server {
        sender,
        phase: Phase::Uninitialized,
        docs: HashMap::new(),
        pending: HashMap::new(),
        caps: Caps::default(),
    };
    loop {
        let next = match server.pending.values().min().copied() {
            Some(deadline) => receiver.recv_deadline(deadline),
            None => receiver.recv().map_err(|_| RecvTimeoutError::Disconnected),
        };
        match next {
            Ok(Message::Request(req)) => server.on_request(req),
            Ok(Message::Notification(n)) if n.method == "exit" => {
                return if server.phase == Phase::ShutDown {
                    Ending::Clean
                } else {
                    Ending::Abrupt(
                        "the client asked the language server to exit without shutting it down first"
                            .to_string(),
                    )
                };
            }
            Ok(Message::Notification(n)) => server.on_notification(n),
            // The server sends no requests, so there are no responses to wait for.
            Ok(Message::Response(_)) => {}
            Err(RecvTimeoutError::Timeout) => {}
            Err(RecvTimeoutError::Disconnected) => {
                return if server.phase == Phase::ShutDown {
                    Ending::Clean
                } else {
                    Ending::Abrupt(
                        "the client closed the connection without shutting the language server down"
                            .to_string(),
                    )
                };
            }
        }
        server.publish_due();
    }
}

/// The capabilities announced in the `initialize` response.
pub fn capabilities() -> ServerCapabilities {
    ServerCapabilities {
        position_encoding: Some(PositionEncodingKind::UTF16),
        text_document_sync: Some(TextDocumentSyncCapability::Options(
            TextDocumentSyncOptions {
                open_close: Some(true),
                change: Some(TextDocumentSyncKind::INCREMENTAL),
                will_save: None,
                will_save_wait_until: None,
                save: Some(TextDocumentSyncSaveOptions::SaveOptions(SaveOptions {
                    include_text: Some(false),
                })),
            },
        )),
        hover_provider: Some(HoverProviderCapability::Simple(true)),
        completion_provider: Some(CompletionOptions {
            trigger_characters: Some(vec![".".to_string()]),
            resolve_provider: Some(false),
            ..Default::default()
        }),
        signature_help_provider: Some(SignatureHelpOptions {
            trigger_characters: Some(vec!["(".to_string(), ",".to_string()]),
            retrigger_characters: None,
            work_done_progress_options: WorkDoneProgressOptions::default(),
        }),
        definition_provider: Some(OneOf::Left(true)),
        references_provider: Some(OneOf::Left(true)),
        document_highlight_provider: Some(OneOf::Left(true)),
        document_symbol_provider: Some(OneOf::Left(true)),
        rename_provider: Some(OneOf::Right(RenameOptions {
            prepare_provider: Some(true),
            work_done_progress_options: WorkDoneProgressOptions::default(),
        })),
        document_formatting_provider: Some(OneOf::Left(true)),
        code_action_provider: Some(CodeActionProviderCapability::Options(CodeActionOptions {
            code_action_kinds: Some(vec![CodeActionKind::QUICKFIX]),
            work_done_progress_options: WorkDoneProgressOptions::default(),
            resolve_provider: None,
        })),
        semantic_tokens_provider: Some(SemanticTokensServerCapabilities::SemanticTokensOptions(
            SemanticTokensOptions {
                work_done_progress_options: WorkDoneProgressOptions::default(),
                legend: tokens::legend(),
                range: None,
                full: Some(SemanticTokensFullOptions::Bool(true)),
            },
        )),
        ..Default::default()
    }
}

type Reply = Result<Value, ResponseError>;

fn error(code: ErrorCode, message: impl Into<String>) -> ResponseError {
    ResponseError {
        code: code as i32,
        message: message.into(),
        data: None,
    }
}

fn to_value(v: impl serde::Serialize) -> Reply {
    serde_json::to_value(v).map_err(|e| error(ErrorCode::InternalError, e.to_string()))
}

fn params<P: DeserializeOwned>(method: &str, params: Value) -> Result<P, ResponseError> {
    serde_json::from_value(params).map_err(|e| {
        error(
            ErrorCode::InvalidParams,
            format!("invalid parameters for `{method}`: {e}"),
        )
    })
}

/// Runs a request handler; a panic in it becomes an `InternalError` response.
fn guarded(method: &str, handler: impl FnOnce() -> Reply) -> Reply {
    catch_unwind(AssertUnwindSafe(handler)).unwrap_or_else(|panic| {
        Err(error(
            ErrorCode::InternalError,
            format!(
                "internal error while handling `{method}`: {}",
                panic_message(&*panic)
            ),
        ))
    })
}

/// The message of a caught panic.
fn panic_message(panic: &(dyn std::any::Any + Send)) -> String {
    if let Some(s) = panic.downcast_ref::<&str>() {
        (*s).to_string()
    } else if let Some(s) = panic.downcast_ref::<String>() {
        s.clone()
    } else {
        "unknown panic".to_string()
    }
}

impl Server {
    fn send(&self, msg: impl Into<Message>) {
        // A closed channel means the client is gone; the loop notices on its next receive.
        let _ = self.sender.send(msg.into());
    }

    fn on_request(&mut self, req: Request) {
        let Request { id, method, params } = req;
        let reply = match (self.phase, method.as_str()) {
            (Phase::Uninitialized, "initialize") => self.initialize(&params),
            (Phase::Uninitialized, _) => Err(error(
                ErrorCode::ServerNotInitialized,
                "the server has not been initialized yet",
            )),
            (_, "initialize") => Err(error(
                ErrorCode::InvalidRequest,
                "the server was already initialized",
            )),
            (Phase::ShutDown, _) => Err(error(
                ErrorCode::InvalidRequest,
                "the server is shut down; only `exit` is accepted",
            )),
            (Phase::Running, "shutdown") => {
                self.phase = Phase::ShutDown;
                self.pending.clear();
                Ok(Value::Null)
            }
            (Phase::Running, _) => guarded(&method, || self.dispatch(&method, params)),
        };
        self.respond(id, reply);
    }

    fn respond(&self, id: RequestId, reply: Reply) {
        self.send(Response {
            id,
            response_result: reply,
        });
    }

    fn initialize(&mut self, params: &Value) -> Reply {
        self.phase = Phase::Running;
        self.caps = Caps::from_initialize(params);
        to_value(InitializeResult {
            capabilities: capabilities(),
            server_info: Some(ServerInfo {
                name: "sci-lsp".to_string(),
                version: Some(env!("CARGO_PKG_VERSION").to_string()),
            }),
        })
    }

    /// Answers one request of a running server.
    fn dispatch(&mut self, method: &str, raw: Value) -> Reply {
        match method {
            "textDocument/hover" => {
                let p: HoverParams = params(method, raw)?;
                let markdown = self.caps.hover_markdown;
                self.at(&p.text_document_position_params, |a, _, o| {
                    to_value(hover::hover(a, o, markdown))
                })
            }
            "textDocument/definition" => {
                let p: GotoDefinitionParams = params(method, raw)?;
                self.at(&p.text_document_position_params, |a, uri, o| {
                    to_value(navigation::definition(a, uri, o).map(GotoDefinitionResponse::Scalar))
                })
            }
            "textDocument/references" => {
                let p: ReferenceParams = params(method, raw)?;
                let include = p.context.include_declaration;
                self.at(&p.text_document_position, |a, uri, o| {
                    to_value(navigation::references(a, uri, o, include))
                })
            }
            "textDocument/documentHighlight" => {
                let p: DocumentHighlightParams = params(method, raw)?;
                self.at(&p.text_document_position_params, |a, _, o| {
                    to_value(navigation::highlights(a, o))
                })
            }
            "textDocument/prepareRename" => {
                let p: TextDocumentPositionParams = params(method, raw)?;
                self.at(&p, |a, _, o| match navigation::prepare_rename(a, o) {
                    Ok(r) => to_value(r),
                    Err(e) => Err(error(ErrorCode::RequestFailed, e.0)),
                })
            }
            "textDocument/rename" => {
                let p: RenameParams = params(method, raw)?;
                let new_name = p.new_name.clone();
                self.at(
                    &p.text_document_position,
                    |a, uri, o| match navigation::rename(a, uri, o, &new_name) {
                        Ok(r) => to_value(r),
                        Err(e) => Err(error(ErrorCode::RequestFailed, e.0)),
                    },
                )
            }
            "textDocument/completion" => {
                let p: CompletionParams = params(method, raw)?;
                let caps = self.caps;
                self.at(&p.text_document_position, |a, _, o| {
                    to_value(completion::completion(a, o, &caps))
                })
            }
            "textDocument/signatureHelp" => {
                let p: SignatureHelpParams = params(method, raw)?;
                let markdown = self.caps.signature_markdown;
                self.at(&p.text_document_position_params, |a, _, o| {
                    to_value(signature::signature_help(a, o, markdown))
                })
            }
            "textDocument/documentSymbol" => {
                let p: DocumentSymbolParams = params(method, raw)?;
                let nested = self.caps.hierarchical_symbols;
                self.with_doc(&p.text_document.uri, |a, uri| {
                    to_value(if nested {
                        DocumentSymbolResponse::Nested(symbols::document_symbols(a))
                    } else {
                        DocumentSymbolResponse::Flat(symbols::flat_symbols(a, uri))
                    })
                })
            }
            "textDocument/semanticTokens/full" => {
                let p: SemanticTokensParams = params(method, raw)?;
                self.with_doc(&p.text_document.uri, |a, _| {
                    to_value(SemanticTokensResult::Tokens(tokens::semantic_tokens(a)))
                })
            }
            "textDocument/formatting" => {
                let p: DocumentFormattingParams = params(method, raw)?;
                self.with_doc(&p.text_document.uri, |a, _| format(a))
            }
            "textDocument/codeAction" => {
                let p: CodeActionParams = params(method, raw)?;
                let range = p.range;
                self.with_doc(&p.text_document.uri, |a, uri| {
                    to_value(actions::code_actions(a, uri, range))
                })
            }
            _ => Err(error(
                ErrorCode::MethodNotFound,
                format!("the sci language server does not handle `{method}`"),
            )),
        }
    }

    /// Runs `f` on the analysis of an open document; `null` for unknown documents.
    fn with_doc(&mut self, uri: &Uri, f: impl FnOnce(&Analysis, &Uri) -> Reply) -> Reply {
        match self.docs.get_mut(uri) {
            Some(doc) => f(doc.analysis(), uri),
            None => Ok(Value::Null),
        }
    }

    /// Runs `f` with the byte offset of a position in an open document.
    fn at(
        &mut self,
        p: &TextDocumentPositionParams,
        f: impl FnOnce(&Analysis, &Uri, usize) -> Reply,
    ) -> Reply {
        let pos: Position = p.position;
        self.with_doc(&p.text_document.uri, |a, uri| {
            f(a, uri, a.lines.offset(&a.text, pos))
        })
    }

    fn on_notification(&mut self, n: Notification) {
        if self.phase != Phase::Running {
            // Before `initialize` notifications are dropped (the protocol says so); after
            // `shutdown` nothing but `exit` matters.
            return;
        }
        let method = n.method.clone();
        let caught = catch_unwind(AssertUnwindSafe(|| self.notification(n)));
        let problem = match caught {
            Ok(Ok(())) => return,
            Ok(Err(e)) => e.message,
            Err(panic) => format!(
                "internal error while handling `{method}`: {}",
                panic_message(&*panic)
            ),
        };
        // Notifications have no response; tell the client's log.
        self.send(Notification::new(
            "window/logMessage".to_string(),
            serde_json::json!({ "type": 1, "message": problem }),
        ));
    }

    fn notification(&mut self, n: Notification) -> Result<(), ResponseError> {
        let method = n.method.as_str();
        match method {
            "textDocument/didOpen" => {
                let p: DidOpenTextDocumentParams = params(method, n.params)?;
                let uri = p.text_document.uri;
                self.docs.insert(
                    uri.clone(),
                    Document {
                        text: p.text_document.text,
                        version: p.text_document.version,
                        analysis: None,
                    },
                );
                // Opening is not typing: publish at once.
                self.publish(&uri);
            }
            "textDocument/didChange" => {
                let p: DidChangeTextDocumentParams = params(method, n.params)?;
                let uri = p.text_document.uri;
                let Some(doc) = self.docs.get_mut(&uri) else {
                    return Err(error(
                        ErrorCode::InvalidParams,
                        format!(
                            "`didChange` for a document that is not open: {}",
                            uri.as_str()
                        ),
                    ));
                };
                for change in &p.content_changes {
                    apply_change(&mut doc.text, change);
                }
                doc.version = p.text_document.version;
                doc.analysis = None;
                self.pending.insert(uri, Instant::now() + DEBOUNCE);
            }
            "textDocument/didSave" => {
                let p: DidSaveTextDocumentParams = params(method, n.params)?;
                if self.docs.contains_key(&p.text_document.uri) {
                    self.pending.remove(&p.text_document.uri);
                    self.publish(&p.text_document.uri);
                }
            }
            "textDocument/didClose" => {
                let p: DidCloseTextDocumentParams = params(method, n.params)?;
                let uri = p.text_document.uri;
                self.docs.remove(&uri);
                self.pending.remove(&uri);
                // Clear the problems of a closed file.
                self.send_diagnostics(uri, Vec::new(), None);
            }
            // `initialized`, `$/cancelRequest` (every request is answered at once),
            // `$/setTrace`, configuration and workspace notifications need nothing.
            _ => {}
        }
        Ok(())
    }

    /// Publishes the diagnostics of every document whose debounce deadline has passed.
    fn publish_due(&mut self) {
        let now = Instant::now();
        let due: Vec<Uri> = self
            .pending
            .iter()
            .filter(|(_, t)| **t <= now)
            .map(|(u, _)| u.clone())
            .collect();
        for uri in due {
            self.pending.remove(&uri);
            let caught = catch_unwind(AssertUnwindSafe(|| self.publish(&uri)));
            if let Err(panic) = caught {
                self.send(Notification::new(
                    "window/logMessage".to_string(),
                    serde_json::json!({
                        "type": 1,
                        "message": format!("internal error while checking {}: {}", uri.as_str(), panic_message(&*panic)),
                    }),
                ));
            }
        }
    }

    fn publish(&mut self, uri: &Uri) {
        let Some(doc) = self.docs.get_mut(uri) else {
            return;
        };
        let version = doc.version;
        let diags = diagnostics::to_lsp_all(doc.analysis(), uri);
        self.send_diagnostics(uri.clone(), diags, Some(version));
    }

    fn send_diagnostics(
        &self,
        uri: Uri,
        diagnostics: Vec<lsp_types::Diagnostic>,
        version: Option<i32>,
    ) {
        self.send(Notification::new(
            "textDocument/publishDiagnostics".to_string(),
            PublishDiagnosticsParams {
                uri,
                diagnostics,
                version,
            },
        ));
    }
}

/// The whole-document edit `sci fmt` would make; an error for text with syntax errors.
fn format(a: &Analysis) -> Reply {
    match sci_lang::fmt::format_source(crate::analysis::FILE, &a.text) {
        Ok(formatted) if formatted == a.text => to_value(Vec::<TextEdit>::new()),
        Ok(formatted) => {
            let map = LineMap::new(&a.text);
            to_value(vec![TextEdit {
                range: lsp_types::Range {
                    start: Position::default(),
                    end: map.end(&a.text),
                },
                new_text: formatted,
            }])
        }
        Err(diags) => {
            let n = diags.iter().filter(|d| d.is_error()).count();
            Err(error(
                ErrorCode::RequestFailed,
                format!(
                    "The file has {n} syntax error{}; fix {} before formatting.",
                    if n == 1 { "" } else { "s" },
                    if n == 1 { "it" } else { "them" }
                ),
            ))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_panicking_handler_becomes_an_internal_error() {
        let reply = guarded("textDocument/hover", || panic!("index out of bounds"));
        let err = reply.unwrap_err();
        assert_eq!(err.code, ErrorCode::InternalError as i32);
        assert_eq!(
            err.message,
            "internal error while handling `textDocument/hover`: index out of bounds"
        );
        let formatted = guarded("x", || {
            let n = 3;
            panic!("{n} things")
        });
        assert!(formatted.unwrap_err().message.ends_with("3 things"));
        assert_eq!(guarded("x", || Ok(Value::Null)).unwrap(), Value::Null);
    }
}
