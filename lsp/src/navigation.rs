//! Go to definition, find references, document highlights and rename.
//!
//! All of them start from the checker's side tables: every definition with the span of its
//! name, and every use paired with the definition it resolves to. A name is renamed by
//! editing its definition and every use; built-ins, keywords and units cannot be renamed.

use crate::analysis::{Analysis, Target};
use lsp_types::{
    DocumentHighlight, DocumentHighlightKind, Location, PrepareRenameResponse, TextEdit, Uri,
    WorkspaceEdit,
};
use sci_diag::Span;
use sci_lang::check::DefKind;
use sci_lang::lexer::{self, Tok};
use std::collections::HashMap;

/// The definition of the name at `offset`.
pub fn definition(analysis: &Analysis, uri: &Uri, offset: usize) -> Option<Location> {
    let name = analysis.name_at(offset)?;
    match name.target? {
        Target::Def(def) => Some(location(analysis, uri, def.span)),
        Target::Builtin(_) | Target::Unit => None,
    }
}

/// The definition span and the uses of the user definition named at `offset`.
fn occurrences(analysis: &Analysis, offset: usize) -> Option<(Span, Vec<Span>)> {
    let name = analysis.name_at(offset)?;
    let Target::Def(def) = name.target? else {
        return None;
    };
    let uses: Vec<Span> = analysis.uses_of(def.span).collect();
    Some((def.span, uses))
}

/// Every place the name at `offset` is used (and defined, when asked).
pub fn references(
    analysis: &Analysis,
    uri: &Uri,
    offset: usize,
    include_declaration: bool,
) -> Vec<Location> {
    let Some((def, uses)) = occurrences(analysis, offset) else {
        return Vec::new();
    };
    let mut spans = uses;
    if include_declaration {
        spans.push(def);
    }
    spans.sort();
    spans.dedup();
    spans
        .into_iter()
        .map(|s| location(analysis, uri, s))
        .collect()
}

/// The occurrences of the name at `offset` in this document, the definition marked as
/// written.
pub fn highlights(analysis: &Analysis, offset: usize) -> Vec<DocumentHighlight> {
    let Some((def, uses)) = occurrences(analysis, offset) else {
        return Vec::new();
    };
    let mut out = vec![DocumentHighlight {
        range: analysis.lines.range(&analysis.text, def),
        kind: Some(DocumentHighlightKind::WRITE),
    }];
    out.extend(uses.into_iter().map(|s| DocumentHighlight {
        range: analysis.lines.range(&analysis.text, s),
        kind: Some(DocumentHighlightKind::READ),
    }));
    out
}

/// Why a rename cannot be done.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RenameError(pub String);

/// Checks that the name at `offset` can be renamed; returns its range and current text.
pub fn prepare_rename(
    analysis: &Analysis,
    offset: usize,
) -> Result<Option<PrepareRenameResponse>, RenameError> {
    let Some(name) = analysis.name_at(offset) else {
        return Ok(None);
    };
    match name.target {
        Some(Target::Def(_)) => Ok(Some(PrepareRenameResponse::RangeWithPlaceholder {
            range: analysis.lines.range(&analysis.text, name.span),
            placeholder: name.name,
        })),
        Some(Target::Builtin(b)) => Err(RenameError(format!(
            "`{}` is built into sci and cannot be renamed.",
            b.name
        ))),
        Some(Target::Unit) => Err(RenameError(format!(
            "`{}` is a unit symbol and cannot be renamed.",
            name.name
        ))),
        None if name.name == "der" => Err(RenameError(
            "`der` is built into sci and cannot be renamed.".to_string(),
        )),
        None => Err(RenameError(format!(
            "`{}` is not defined, so there is nothing to rename.",
            name.name
        ))),
    }
}

/// Renames the definition named at `offset` and all its uses to `new_name`.
pub fn rename(
    analysis: &Analysis,
    uri: &Uri,
    offset: usize,
    new_name: &str,
) -> Result<Option<WorkspaceEdit>, RenameError> {
    prepare_rename(analysis, offset)?;
    let Some((def, uses)) = occurrences(analysis, offset) else {
        return Ok(None);
    };
    check_new_name(analysis, def, new_name)?;
    let mut spans = uses;
    spans.push(def);
    spans.sort();
    spans.dedup();
    let edits = spans
        .into_iter()
        .map(|s| TextEdit {
            range: analysis.lines.range(&analysis.text, s),
            new_text: new_name.to_string(),
        })
        .collect();
    Ok(Some(WorkspaceEdit {
        changes: Some(HashMap::from([(uri.clone(), edits)])),
        document_changes: None,
        change_annotations: None,
    }))
}

/// A new name must be one identifier, not a keyword or built-in, and not already defined
/// where the old one is visible.
fn check_new_name(analysis: &Analysis, def: Span, new_name: &str) -> Result<(), RenameError> {
    let lexed = lexer::lex(crate::analysis::FILE, new_name);
    let is_ident = matches!(
        lexed.tokens.as_slice(),
        [(0, Tok::Ident(n), end)] if n == new_name && *end == new_name.len()
    ) && lexed.diagnostics.is_empty()
        && lexed.comments.is_empty();
    if !is_ident {
        return Err(RenameError(format!("`{new_name}` is not a valid name.")));
    }
    if sci_lang::builtins::lookup(new_name).is_some() {
        return Err(RenameError(format!(
            "`{new_name}` is a built-in name; renaming to it would hide the built-in."
        )));
    }
    let Some(old) = analysis.definition_at(def) else {
        return Ok(());
    };
    if old.name == new_name {
        return Ok(());
    }
    // Names of the same model (or file-level names) clash; local names (index variables,
    // function parameters) clash only within the same member.
    let scope_of = |s: Span| analysis.model_at(s.start as usize).map(|(_, span)| span);
    let member_of = |s: Span| analysis.member_at(s.start as usize);
    let local = |k: DefKind| matches!(k, DefKind::IndexVar | DefKind::FnParam | DefKind::ShapeVar);
    let file_level = |k: DefKind| matches!(k, DefKind::Model | DefKind::Fn | DefKind::Const);
    let clash = analysis.definitions().iter().find(|d| {
        d.name == new_name
            && (member_of(d.span) == member_of(def)
                || (!local(d.kind)
                    && (scope_of(d.span) == scope_of(def)
                        || (file_level(d.kind) && scope_of(d.span).is_none()))))
    });
    match clash {
        Some(d) => {
            let (line, _) = sci_diag::LineIndex::new(&analysis.text)
                .line_col(&analysis.text, d.span.start as usize);
            Err(RenameError(format!(
                "`{new_name}` is already defined here (line {}); pick another name.",
                line + 1
            )))
        }
        None => Ok(()),
    }
}

fn location(analysis: &Analysis, uri: &Uri, span: Span) -> Location {
    Location {
        uri: uri.clone(),
        range: analysis.lines.range(&analysis.text, span),
    }
}
