//! `textDocument/codeAction`: quick fixes for diagnostics whose help line is an obvious edit.
//!
//! - "did you mean `alpha`?" (a misspelled name, module or export): replace the name;
//! - "use `^` …" (an operator spelled as in another language, E0106): write the sci one;
//! - a statement written the wrong way, where the help gives the statement to write: a
//!   quantity without `let` (E0121), `x = v` in an event (E0123), an algebraic equation
//!   whose left side is not `0` (E0124);
//! - a unit mismatch where only the scale differs (E0402, "convert with a constant:
//!   `const factor: m/km = 1000` …"): declare the constant before the member and multiply
//!   the value in the other unit by it (for a `der` right-hand side, E0405, the right-hand
//!   side itself).
//!
//! The fixes are computed from the server's own analysis of the current text (not from
//! the diagnostics the client echoes back), so they always match what is in the buffer.

use crate::analysis::{Analysis, contains};
use crate::diagnostics::{to_lsp, touches};
use lsp_types::{
    CodeAction, CodeActionKind, CodeActionOrCommand, Range, TextEdit, Uri, WorkspaceEdit,
};
use sci_diag::{Diagnostic, Span};
use std::collections::HashMap;

/// The quick fixes for the diagnostics touching `range`.
pub fn code_actions(analysis: &Analysis, uri: &Uri, range: Range) -> Vec<CodeActionOrCommand> {
    let mut out = Vec::new();
    for d in &analysis.diagnostics {
        let Some(primary) = d.primary_span() else {
            continue;
        };
        if !touches(analysis.lines.range(&analysis.text, primary), range) {
            continue;
        }
        let Some(help) = &d.help else {
            continue;
        };
        let fix = if let Some(name) = quoted_after(help, "did you mean ") {
            Some((
                format!("Replace `{}` with `{name}`", analysis.slice(primary)),
                vec![edit(analysis, primary, &name)],
            ))
        } else if d.code == "E0106"
            && let Some(ours) = quoted_after(help, "use ")
        {
            Some((
                format!("Write `{ours}` instead of `{}`", analysis.slice(primary)),
                vec![edit(analysis, primary, &ours)],
            ))
        } else if (d.code == "E0402" || d.code == "E0405")
            && help.starts_with("convert with a constant")
        {
            unit_conversion(analysis, d, help)
        } else if d.code == "E0123"
            && let Some(fix) = quoted_after(help, "write ")
        {
            Some((
                format!("Write `{fix}`"),
                vec![edit(analysis, primary, &fix)],
            ))
        } else if let Some(fix) = (d.code == "E0121")
            .then(|| quoted_after(help, "write "))
            .flatten()
            .or_else(|| {
                (d.code == "E0124")
                    .then(|| quoted_after(help, "move everything to the right: "))
                    .flatten()
            })
        {
            // The fix is the whole statement: it replaces the line from the problem on.
            let rest = statement_rest(analysis, primary);
            Some((format!("Write `{fix}`"), vec![edit(analysis, rest, &fix)]))
        } else {
            None
        };
        if let Some((title, edits)) = fix {
            out.push(CodeActionOrCommand::CodeAction(CodeAction {
                title,
                kind: Some(CodeActionKind::QUICKFIX),
                diagnostics: Some(vec![to_lsp(analysis, uri, d)]),
                edit: Some(WorkspaceEdit {
                    changes: Some(HashMap::from([(uri.clone(), edits)])),
                    document_changes: None,
                    change_annotations: None,
                }),
                command: None,
                is_preferred: Some(true),
                disabled: None,
                data: None,
            }));
        }
    }
    out
}

/// From `span`'s start to the end of its line, before a trailing `//` comment and
/// whitespace.
fn statement_rest(analysis: &Analysis, span: Span) -> Span {
    let text = &analysis.text;
    let start = span.start as usize;
    let line_end = text[start..]
        .find(['\n', '\r'])
        .map_or(text.len(), |i| start + i);
    let code_end = text[start..line_end]
        .find("//")
        .map_or(line_end, |i| start + i);
    let end = start + text[start..code_end].trim_end().len();
    Span::new(crate::analysis::FILE, start, end.max(span.end as usize))
}

/// The text between the first pair of backticks after `prefix` at the start of `help`.
fn quoted_after(help: &str, prefix: &str) -> Option<String> {
    let rest = help.strip_prefix(prefix)?.strip_prefix('`')?;
    let end = rest.find('`')?;
    let s = &rest[..end];
    (!s.is_empty()).then(|| s.to_string())
}

fn edit(analysis: &Analysis, span: Span, new_text: &str) -> TextEdit {
    TextEdit {
        range: analysis.lines.range(&analysis.text, span),
        new_text: new_text.to_string(),
    }
}

/// Declares the conversion constant the help line suggests before the member with the
/// problem, and multiplies the value in the other unit (the secondary label; the
/// right-hand side of a `der`) by it.
fn unit_conversion(
    analysis: &Analysis,
    d: &Diagnostic,
    help: &str,
) -> Option<(String, Vec<TextEdit>)> {
    let decl = quoted_after(help, "convert with a constant: ")?;
    let rest = decl.strip_prefix("const factor")?;
    let primary = d.primary_span()?;
    // "multiply this value": the value with the problem (the primary label: a declared
    // quantity's value, an argument, a `der` right-hand side); otherwise the operand in the
    // other unit (the secondary label of a sum or comparison).
    let other = if help.contains("multiply this value") {
        primary
    } else {
        d.labels.iter().find(|l| !l.primary)?.span
    };
    // A fresh name: `factor`, or `factor_2`, … when taken.
    let taken = |n: &str| analysis.definitions().iter().any(|def| def.name == n);
    let name = std::iter::once("factor".to_string())
        .chain((2..100).map(|i| format!("factor_{i}")))
        .find(|n| !taken(n))?;
    // Insert on its own line before the member (or item) containing the problem.
    let owner = analysis.member_at(primary.start as usize)?;
    let text = &analysis.text;
    let line_start = text[..owner.start as usize]
        .rfind('\n')
        .map_or(0, |i| i + 1);
    let indent: String = text[line_start..owner.start as usize]
        .chars()
        .take_while(|c| c.is_whitespace())
        .collect();
    let insert_at = Span::new(crate::analysis::FILE, line_start, line_start);
    let value = analysis.slice(other);
    let simple = value
        .chars()
        .all(|c| c.is_alphanumeric() || c == '_' || c == '.');
    let scaled = if simple {
        format!("{name} * {value}")
    } else {
        format!("{name} * ({value})")
    };
    // The two edits must not overlap: the value is inside the member, after its line start.
    if contains(insert_at, other.start as usize) && other.start as usize == line_start {
        return None;
    }
    Some((
        format!("Convert with a constant `{name}`"),
        vec![
            edit(
                analysis,
                insert_at,
                &format!("{indent}const {name}{rest}\n"),
            ),
            edit(analysis, other, &scaled),
        ],
    ))
}
