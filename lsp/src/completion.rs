//! `textDocument/completion`: keywords, names in scope, built-ins with their signatures.
//!
//! The context comes from the tokens before the cursor, which exist even in half-typed
//! text: at the start of a line only keywords that start a member or item can follow;
//! after `use` come module names and after `use nn.` that module's exports; after
//! `obs.` (a data set) its columns; anywhere else the names visible at the cursor, the
//! built-in functions and constants, and the expression keywords. Clients filter by the
//! typed prefix themselves, so every candidate is returned.

use crate::analysis::{Analysis, contains};
use crate::caps::{Caps, documentation};
use crate::describe;
use crate::keywords::{KEYWORDS, Place};
use lsp_types::{
    CompletionItem, CompletionItemKind, CompletionItemLabelDetails, CompletionResponse,
};
use sci_lang::ast::{ItemKind, MemberKind};
use sci_lang::builtins::{self, BuiltinKind};
use sci_lang::check::{DefKind, Definition};
use sci_lang::lexer::Tok;
use std::collections::HashSet;

/// The completions at byte `offset`.
pub fn completion(analysis: &Analysis, offset: usize, caps: &Caps) -> CompletionResponse {
    let items = match context(analysis, offset) {
        Context::LineStart { in_model } => statement_keywords(in_model, caps),
        Context::UseModule => builtins::MODULES
            .iter()
            .map(|m| CompletionItem {
                label: m.to_string(),
                kind: Some(CompletionItemKind::MODULE),
                detail: Some("library module".to_string()),
                ..Default::default()
            })
            .collect(),
        Context::UseItem(module) => builtins::module_exports(&module)
            .unwrap_or_default()
            .into_iter()
            .map(|name| match builtins::lookup(name) {
                Some(b) => builtin_item(b, caps),
                None => prelude_item(name),
            })
            .collect(),
        Context::Field(columns) => columns,
        Context::Expr => {
            let mut items = names_in_scope(analysis, offset);
            items.extend(builtins::BUILTINS.iter().map(|b| builtin_item(b, caps)));
            // The prelude's `math` functions are in scope everywhere, like built-ins.
            items.extend(
                sci_lang::prelude::functions()
                    .iter()
                    .filter(|f| f.module == builtins::Module::Math)
                    .map(|f| prelude_item(&f.name)),
            );
            items.extend(
                KEYWORDS
                    .iter()
                    .filter(|(_, place, _)| *place == Place::Expr)
                    .map(|(k, _, doc)| keyword_item(k, doc, caps)),
            );
            if analysis.in_event(offset) {
                items.extend(
                    crate::keywords::EVENT_WORDS
                        .iter()
                        .map(|(k, doc)| keyword_item(k, doc, caps)),
                );
            }
            items
        }
    };
    CompletionResponse::Array(items)
}

enum Context {
    LineStart { in_model: bool },
    UseModule,
    UseItem(String),
    Field(Vec<CompletionItem>),
    Expr,
}

fn context(analysis: &Analysis, offset: usize) -> Context {
    // The tokens before the name being typed.
    let mut before: Vec<&Tok> = analysis
        .tokens
        .iter()
        .take_while(|(_, _, end)| *end <= offset)
        .map(|(_, t, _)| t)
        .collect();
    let typing = analysis
        .tokens
        .iter()
        .find(|(s, t, e)| *s < offset && offset <= *e && crate::analysis::is_name(t));
    if let Some((_, _, e)) = typing
        && *e == offset
    {
        before.pop();
    }
    let prefix_start = typing.map_or(offset, |(s, _, _)| *s);
    let line_start = analysis.text[..prefix_start.min(analysis.text.len())]
        .rfind(['\n', '\r'])
        .map_or(0, |i| i + 1);
    let at_line_start = analysis
        .text
        .get(line_start..prefix_start)
        .is_some_and(|s| s.trim().is_empty());

    // `use`, `use nn.`, `use nn.{a, `.
    let use_pos = before.iter().rposition(|t| matches!(t, Tok::Use));
    if let Some(u) = use_pos {
        let rest = &before[u + 1..];
        let in_use = rest
            .iter()
            .all(|t| matches!(t, Tok::Ident(_) | Tok::Dot | Tok::LBrace | Tok::Comma));
        if in_use && (rest.is_empty() || !at_line_start) {
            if rest.is_empty() {
                return Context::UseModule;
            }
            if let Some(Tok::Ident(module)) = rest.first()
                && rest.iter().any(|t| matches!(t, Tok::Dot))
            {
                return Context::UseItem(module.clone());
            }
        }
    }
    if let [.., Tok::Ident(base), Tok::Dot] = before.as_slice() {
        return Context::Field(columns(analysis, base, offset));
    }
    if at_line_start {
        return Context::LineStart {
            in_model: analysis.model_at(offset).is_some(),
        };
    }
    Context::Expr
}

/// The columns of the data set called `data` in the model at `offset`.
fn columns(analysis: &Analysis, data: &str, offset: usize) -> Vec<CompletionItem> {
    let Some((model, _)) = analysis.model_at(offset) else {
        return Vec::new();
    };
    let mut out = Vec::new();
    for member in &model.members {
        if let MemberKind::Data(d) = &member.kind
            && d.name.name == data
        {
            for c in &d.columns {
                let def = analysis.definition_at(c.name.span);
                out.push(CompletionItem {
                    label: c.name.name.clone(),
                    kind: Some(CompletionItemKind::FIELD),
                    detail: Some(match def {
                        Some(d) => describe::detail(analysis, d),
                        None => "data column".to_string(),
                    }),
                    ..Default::default()
                });
            }
        }
    }
    out
}

fn statement_keywords(in_model: bool, caps: &Caps) -> Vec<CompletionItem> {
    KEYWORDS
        .iter()
        .filter(|(k, place, _)| match place {
            Place::Member => in_model,
            // `const`, `fn` and `use` are also model members; `model` only at file level.
            Place::Item => !in_model || *k != "model",
            Place::Expr => false,
        })
        .map(|(k, _, doc)| keyword_item(k, doc, caps))
        .collect()
}

fn keyword_item(k: &str, doc: &str, caps: &Caps) -> CompletionItem {
    CompletionItem {
        label: k.to_string(),
        kind: Some(CompletionItemKind::KEYWORD),
        documentation: Some(documentation(caps.completion_markdown, doc)),
        sort_text: Some(format!("2_{k}")),
        ..Default::default()
    }
}

fn builtin_item(b: &builtins::Builtin, caps: &Caps) -> CompletionItem {
    let kind = match b.kind {
        BuiltinKind::Constant(_) => CompletionItemKind::CONSTANT,
        _ => CompletionItemKind::FUNCTION,
    };
    let needs_use = b.module != builtins::Module::Math;
    CompletionItem {
        label: b.name.to_string(),
        kind: Some(kind),
        detail: Some(b.signature.to_string()),
        label_details: caps
            .completion_label_details
            .then(|| CompletionItemLabelDetails {
                detail: None,
                description: Some(if needs_use {
                    format!("{} (needs use)", b.module.name())
                } else {
                    b.module.name().to_string()
                }),
            }),
        documentation: Some(documentation(caps.completion_markdown, b.doc)),
        sort_text: Some(format!("1_{}", b.name)),
        ..Default::default()
    }
}

/// The user definitions visible at `offset`.
fn names_in_scope(analysis: &Analysis, offset: usize) -> Vec<CompletionItem> {
    let model = analysis.model_at(offset).map(|(_, span)| span);
    let member = analysis.member_at(offset);
    let fn_span = enclosing_fn(analysis, offset);
    let mut seen = HashSet::new();
    let mut out = Vec::new();
    for def in analysis.definitions() {
        let def_model = analysis
            .model_at(def.span.start as usize)
            .map(|(_, span)| span);
        let visible = match def.kind {
            DefKind::Model => false,
            DefKind::Fn | DefKind::Const => def_model.is_none() || def_model == model,
            DefKind::Param
            | DefKind::State
            | DefKind::Let
            | DefKind::Output
            | DefKind::Domain
            | DefKind::Coord
            | DefKind::Net
            | DefKind::Residual
            | DefKind::Data
            | DefKind::Circuit
            | DefKind::Observable => model.is_some() && def_model == model,
            DefKind::FnParam | DefKind::ShapeVar => {
                fn_span.is_some_and(|f| contains(f, def.span.start as usize))
            }
            DefKind::IndexVar => {
                member.is_some() && analysis.member_at(def.span.start as usize) == member
            }
            DefKind::Column => false,
        };
        if visible && seen.insert(def.name.clone()) {
            out.push(def_item(analysis, def));
        }
    }
    out
}

/// The span of the `fn` declaration containing `offset`.
fn enclosing_fn(analysis: &Analysis, offset: usize) -> Option<sci_diag::Span> {
    for item in &analysis.ast.items {
        if !contains(item.span, offset) {
            continue;
        }
        match &item.kind {
            ItemKind::Fn(_) => return Some(item.span),
            ItemKind::Model(m) => {
                return m
                    .members
                    .iter()
                    .find(|mem| matches!(mem.kind, MemberKind::Fn(_)) && contains(mem.span, offset))
                    .map(|mem| mem.span);
            }
            _ => return None,
        }
    }
    None
}

fn def_item(analysis: &Analysis, def: &Definition) -> CompletionItem {
    let kind = match def.kind {
        DefKind::Const => CompletionItemKind::CONSTANT,
        DefKind::Fn | DefKind::Net => CompletionItemKind::FUNCTION,
        DefKind::Model => CompletionItemKind::CLASS,
        DefKind::Domain => CompletionItemKind::MODULE,
        DefKind::Data => CompletionItemKind::STRUCT,
        DefKind::Column => CompletionItemKind::FIELD,
        DefKind::ShapeVar => CompletionItemKind::TYPE_PARAMETER,
        DefKind::Param | DefKind::FnParam => CompletionItemKind::VARIABLE,
        _ => CompletionItemKind::VARIABLE,
    };
    let detail = describe::detail(analysis, def);
    CompletionItem {
        label: def.name.clone(),
        kind: Some(kind),
        detail: Some(detail),
        sort_text: Some(format!("0_{}", def.name)),
        ..Default::default()
    }
}

/// A function of the `.sci` prelude: its declaration as detail, its comment as doc.
fn prelude_item(name: &str) -> CompletionItem {
    let f = sci_lang::prelude::lookup(name);
    CompletionItem {
        label: name.to_string(),
        kind: Some(CompletionItemKind::FUNCTION),
        detail: f.map(|f| f.signature.clone()),
        documentation: f.map(|f| lsp_types::Documentation::String(f.doc.clone())),
        ..Default::default()
    }
}
