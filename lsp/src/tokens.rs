//! `textDocument/semanticTokens/full`: every token classified by what it denotes.
//!
//! Keywords, numbers, strings, comments and operators come from the lexer; names are
//! classified through the checker's tables (a parameter, a state, a network, a built-in
//! function, a unit in an annotation), with `declaration` on the defining occurrence,
//! `readonly` on constants and `defaultLibrary` on built-ins. Tokens never span lines
//! (block comments are split), so clients without multi-line token support work.

use crate::analysis::{Analysis, FILE, Target};
use crate::text::utf16_len;
use lsp_types::{
    SemanticToken, SemanticTokenModifier, SemanticTokenType, SemanticTokens, SemanticTokensLegend,
};
use sci_diag::Span;
use sci_lang::ast::{ExprKind, ItemKind, MemberKind};
use sci_lang::builtins::BuiltinKind;
use sci_lang::check::DefKind;
use sci_lang::lexer::Tok;
use std::collections::HashSet;

/// Token types, in legend order (the index is what is sent).
const TYPES: &[SemanticTokenType] = &[
    SemanticTokenType::NAMESPACE,
    SemanticTokenType::CLASS,
    SemanticTokenType::FUNCTION,
    SemanticTokenType::PARAMETER,
    SemanticTokenType::VARIABLE,
    SemanticTokenType::PROPERTY,
    SemanticTokenType::TYPE_PARAMETER,
    SemanticTokenType::KEYWORD,
    SemanticTokenType::NUMBER,
    SemanticTokenType::STRING,
    SemanticTokenType::COMMENT,
    SemanticTokenType::OPERATOR,
    SemanticTokenType::TYPE,
    SemanticTokenType::STRUCT,
    SemanticTokenType::EVENT,
];

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Ty {
    Namespace,
    Class,
    Function,
    Parameter,
    Variable,
    Property,
    TypeParameter,
    Keyword,
    Number,
    Str,
    Comment,
    Operator,
    Type,
    Struct,
    Event,
}

/// Modifier bits, in legend order.
const MODIFIERS: &[SemanticTokenModifier] = &[
    SemanticTokenModifier::DECLARATION,
    SemanticTokenModifier::READONLY,
    SemanticTokenModifier::DEFAULT_LIBRARY,
];
const DECLARATION: u32 = 1;
const READONLY: u32 = 2;
const DEFAULT_LIBRARY: u32 = 4;

/// The legend announced in the server capabilities.
pub fn legend() -> SemanticTokensLegend {
    SemanticTokensLegend {
        token_types: TYPES.to_vec(),
        token_modifiers: MODIFIERS.to_vec(),
    }
}

/// The semantic tokens of the whole document.
pub fn semantic_tokens(analysis: &Analysis) -> SemanticTokens {
    let mut raw: Vec<(usize, usize, Ty, u32)> = Vec::new();
    let namespaces = use_paths(analysis);
    let arg_names = named_args(analysis);
    for (start, tok, end) in &analysis.tokens {
        let span = Span::new(FILE, *start, *end);
        let class = match tok {
            Tok::Ident(name) => ident(analysis, span, name, &namespaces, &arg_names),
            Tok::Number(_) | Tok::Sup(_) => Some((Ty::Number, 0)),
            Tok::Str(_) => Some((Ty::Str, 0)),
            Tok::Plus
            | Tok::Minus
            | Tok::Star
            | Tok::Slash
            | Tok::Caret
            | Tok::Eq
            | Tok::EqEq
            | Tok::Ne
            | Tok::Lt
            | Tok::Le
            | Tok::Gt
            | Tok::Ge
            | Tok::Arrow
            | Tok::DotDot => Some((Ty::Operator, 0)),
            t if t.is_keyword() => Some((Ty::Keyword, 0)),
            _ => None,
        };
        if let Some((ty, mods)) = class {
            raw.push((*start, *end, ty, mods));
        }
    }
    for c in &analysis.comments {
        raw.push((c.span.start as usize, c.span.end as usize, Ty::Comment, 0));
    }
    raw.sort_by_key(|(s, e, _, _)| (*s, *e));
    encode(analysis, &raw)
}

fn ident(
    analysis: &Analysis,
    span: Span,
    name: &str,
    namespaces: &HashSet<Span>,
    arg_names: &HashSet<Span>,
) -> Option<(Ty, u32)> {
    if namespaces.contains(&span) {
        return Some((Ty::Namespace, 0));
    }
    if arg_names.contains(&span) {
        return Some((Ty::Parameter, 0));
    }
    match analysis.resolve(span, name) {
        Some(Target::Def(def)) => {
            let mut mods = if def.span == span { DECLARATION } else { 0 };
            let ty = match def.kind {
                DefKind::Model => Ty::Class,
                DefKind::Const => {
                    mods |= READONLY;
                    Ty::Variable
                }
                DefKind::Param => Ty::Parameter,
                DefKind::State | DefKind::Let | DefKind::Output | DefKind::IndexVar => Ty::Variable,
                DefKind::Domain => Ty::Namespace,
                DefKind::Coord | DefKind::ShapeVar => Ty::TypeParameter,
                DefKind::Net | DefKind::Fn => Ty::Function,
                DefKind::Residual => Ty::Event,
                DefKind::Data | DefKind::Circuit | DefKind::Observable => Ty::Struct,
                DefKind::Column => Ty::Property,
                DefKind::FnParam => Ty::Parameter,
            };
            Some((ty, mods))
        }
        Some(Target::Builtin(b)) => Some(match b.kind {
            BuiltinKind::Constant(_) => (Ty::Variable, READONLY | DEFAULT_LIBRARY),
            _ => (Ty::Function, DEFAULT_LIBRARY),
        }),
        Some(Target::Unit) => Some((Ty::Type, 0)),
        None => {
            if sci_lang::builtins::RESIDUAL_OPTIONS.contains(&name)
                || sci_lang::builtins::activation(name).is_some()
            {
                Some((Ty::Property, DEFAULT_LIBRARY))
            } else {
                None
            }
        }
    }
}

/// Spans of module names in `use` declarations.
fn use_paths(analysis: &Analysis) -> HashSet<Span> {
    let mut out = HashSet::new();
    let mut add = |u: &sci_lang::ast::UseDecl| out.extend(u.path.iter().map(|p| p.span));
    for item in &analysis.ast.items {
        match &item.kind {
            ItemKind::Use(u) => add(u),
            ItemKind::Model(m) => {
                for member in &m.members {
                    if let MemberKind::Use(u) = &member.kind {
                        add(u);
                    }
                }
            }
            _ => {}
        }
    }
    out
}

/// Spans of argument names in calls (`hidden` of `mlp(hidden: [20])`).
fn named_args(analysis: &Analysis) -> HashSet<Span> {
    let mut out = HashSet::new();
    for root in crate::analysis::root_exprs(&analysis.ast) {
        root.walk(&mut |e| {
            if let ExprKind::Call { args, .. } = &e.kind {
                out.extend(args.iter().filter_map(|a| a.name.as_ref().map(|n| n.span)));
            }
        });
    }
    out
}

/// Relative encoding, one token per line segment.
fn encode(analysis: &Analysis, raw: &[(usize, usize, Ty, u32)]) -> SemanticTokens {
    let text = &analysis.text;
    let mut data = Vec::with_capacity(raw.len());
    let (mut prev_line, mut prev_col) = (0u32, 0u32);
    let mut last_end = 0usize;
    for &(start, end, ty, mods) in raw {
        if start < last_end {
            continue; // Overlap (should not happen): keep the first.
        }
        last_end = end;
        let Some(slice) = text.get(start..end) else {
            continue;
        };
        let mut offset = start;
        for part in slice.split_inclusive('\n') {
            let seg = part.trim_end_matches(['\n', '\r']);
            let len = utf16_len(seg);
            if len > 0 {
                let pos = analysis.lines.position(text, offset);
                let delta_line = pos.line - prev_line;
                let delta_start = if delta_line == 0 {
                    pos.character - prev_col
                } else {
                    pos.character
                };
                data.push(SemanticToken {
                    delta_line,
                    delta_start,
                    length: len,
                    token_type: ty as u32,
                    token_modifiers_bitset: mods,
                });
                prev_line = pos.line;
                prev_col = pos.character;
            }
            offset += part.len();
        }
    }
    SemanticTokens {
        result_id: None,
        data,
    }
}
