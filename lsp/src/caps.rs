//! What the client said it supports, read from the `initialize` parameters.
//!
//! Read leniently from the raw JSON (a client with odd or missing capabilities still gets a
//! working server): anything not declared is taken as unsupported, as the protocol says,
//! so such clients get plain-text documentation and a flat outline.

use serde_json::Value;

/// The client capabilities the server adapts to.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Caps {
    /// Hover contents may be Markdown.
    pub hover_markdown: bool,
    /// Completion item documentation may be Markdown.
    pub completion_markdown: bool,
    /// Completion items may carry `labelDetails`.
    pub completion_label_details: bool,
    /// Signature documentation may be Markdown.
    pub signature_markdown: bool,
    /// Document symbols may be a tree (`DocumentSymbol[]`) rather than a flat list.
    pub hierarchical_symbols: bool,
}

impl Caps {
    /// Reads the capabilities from `initialize` parameters.
    pub fn from_initialize(params: &Value) -> Caps {
        let td = params.pointer("/capabilities/textDocument");
        let at = |path: &str| td.and_then(|v| v.pointer(path));
        let has_markdown = |path: &str| {
            at(path)
                .and_then(Value::as_array)
                .is_some_and(|kinds| kinds.iter().any(|k| k == "markdown"))
        };
        let flag = |path: &str| at(path).and_then(Value::as_bool).unwrap_or(false);
        Caps {
            hover_markdown: has_markdown("/hover/contentFormat"),
            completion_markdown: has_markdown("/completion/completionItem/documentationFormat"),
            completion_label_details: flag("/completion/completionItem/labelDetailsSupport"),
            signature_markdown: has_markdown(
                "/signatureHelp/signatureInformation/documentationFormat",
            ),
            hierarchical_symbols: flag("/documentSymbol/hierarchicalDocumentSymbolSupport"),
        }
    }

    /// Everything supported (for tests and embedders).
    pub fn all() -> Caps {
        Caps {
            hover_markdown: true,
            completion_markdown: true,
            completion_label_details: true,
            signature_markdown: true,
            hierarchical_symbols: true,
        }
    }
}

/// Markdown as plain text: code fences, emphasis and backticks removed.
pub fn plain(markdown: &str) -> String {
    let mut out = String::with_capacity(markdown.len());
    for line in markdown.lines() {
        if line.starts_with("```") {
            continue;
        }
        if line == "---" {
            out.push('\n');
            continue;
        }
        let line = line.replace("**", "");
        // A whole-line emphasis (`*built-in*`); a `*` inside code is multiplication.
        let line = match line.strip_prefix('*').and_then(|l| l.strip_suffix('*')) {
            Some(inner) => inner.to_string(),
            None => line,
        };
        out.push_str(&line.replace('`', ""));
        out.push('\n');
    }
    out.trim_end().to_string()
}

/// Documentation in the richest form the client accepts.
pub fn documentation(markdown: bool, text: &str) -> lsp_types::Documentation {
    if markdown {
        lsp_types::Documentation::MarkupContent(lsp_types::MarkupContent {
            kind: lsp_types::MarkupKind::Markdown,
            value: text.to_string(),
        })
    } else {
        lsp_types::Documentation::String(plain(text))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn reads_declared_capabilities_only() {
        assert_eq!(Caps::from_initialize(&json!({})), Caps::default());
        assert_eq!(
            Caps::from_initialize(&json!({ "capabilities": 5 })),
            Caps::default()
        );
        let vscode = json!({ "capabilities": { "textDocument": {
            "hover": { "contentFormat": ["markdown", "plaintext"] },
            "completion": { "completionItem": { "documentationFormat": ["markdown"], "labelDetailsSupport": true } },
            "signatureHelp": { "signatureInformation": { "documentationFormat": ["plaintext"] } },
            "documentSymbol": { "hierarchicalDocumentSymbolSupport": true },
        } } });
        let caps = Caps::from_initialize(&vscode);
        assert!(caps.hover_markdown && caps.completion_markdown && caps.completion_label_details);
        assert!(!caps.signature_markdown && caps.hierarchical_symbols);
    }

    #[test]
    fn markdown_to_plain_text() {
        assert_eq!(
            plain("```sci\nparam k: 1/s\n```\n\n**parameter** `k` — unit `1/s`"),
            "param k: 1/s\n\nparameter k — unit 1/s"
        );
    }
}
