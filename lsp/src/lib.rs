//! The sci language server: the compiler's front end behind the Language Server Protocol.
//!
//! `sci lsp` calls [`run_stdio`]. The server re-runs the compiler's own pipeline
//! (`parse` → `check` → `lower`) on unsaved buffers, 200 ms after the last edit, and answers
//! editor requests from the result:
//!
//! | LSP | module |
//! |---|---|
//! | diagnostics (related information, help line) | [`diagnostics`] |
//! | hover (dtype, shape, unit, kind; built-in docs) | [`hover`] |
//! | definition, references, highlights, rename | [`navigation`] |
//! | completion (keywords, names in scope, built-ins) | [`completion`] |
//! | signature help | [`signature`] |
//! | document symbols (model → members) | [`symbols`] |
//! | semantic tokens | [`tokens`] |
//! | formatting (`sci fmt`) | [`server`] |
//! | quick fixes (misspelled names, unit conversions) | [`actions`] |
//!
//! Positions are UTF-16 as the protocol requires ([`text`]); the compiler's byte spans are
//! converted at the edge. LSP types (`lsp-types`) stay inside this crate: the compiler
//! crates know nothing of editors. The server never exits on bad input: see [`server`]
//! (lifecycle, panics caught per request) and [`transport`] (malformed JSON answered).

pub mod actions;
pub mod analysis;
pub mod caps;
pub mod completion;
pub mod describe;
pub mod diagnostics;
pub mod hover;
pub mod keywords;
pub mod navigation;
pub mod server;
pub mod signature;
pub mod symbols;
pub mod text;
pub mod tokens;
pub mod transport;

pub use server::{Ending, serve};

/// Serves the Language Server Protocol on stdin/stdout until the client sends `exit`.
///
/// Returns `Ok` after a clean `shutdown` + `exit`, and an error (the CLI then exits with a
/// non-zero code, as the protocol asks) when the client exits without `shutdown` or closes
/// the connection.
pub fn run_stdio() -> Result<(), String> {
    let (receiver, sender, threads) = transport::stdio();
    let ending = serve(&receiver, sender);
    // `serve` dropped its sender: the writer finishes the queued messages and stops.
    threads.join_writer();
    match ending {
        Ending::Clean => Ok(()),
        Ending::Abrupt(why) => Err(why),
    }
}
