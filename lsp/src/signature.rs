//! `textDocument/signatureHelp`: the signature of the call the cursor is in.
//!
//! The call is found from the tokens before the cursor (so it works while the call is
//! half-typed): walking back over balanced brackets to the unclosed `(` that follows a
//! name, counting the commas on the way to know which argument is being written. A named
//! argument (`activation: …`) selects the parameter of that name.

use crate::analysis::{Analysis, Target};
use crate::text::utf16_len;
use lsp_types::{ParameterInformation, ParameterLabel, SignatureHelp, SignatureInformation};
use sci_lang::ast::{ItemKind, MemberKind};
use sci_lang::check::DefKind;
use sci_lang::lexer::Tok;

/// The signature help at byte `offset`.
pub fn signature_help(analysis: &Analysis, offset: usize, markdown: bool) -> Option<SignatureHelp> {
    let call = open_call(analysis, offset)?;
    let (start, _, end) = analysis.tokens.get(call.callee)?;
    let span = sci_diag::Span::new(crate::analysis::FILE, *start, *end);
    let name = analysis.slice(span).to_string();
    // In a half-typed member the call is not in the checker's tables yet: fall back to a
    // function or network of that name.
    let target = analysis.resolve(span, &name).or_else(|| {
        analysis
            .definitions()
            .iter()
            .find(|d| d.name == name && matches!(d.kind, DefKind::Fn | DefKind::Net))
            .map(Target::Def)
    });
    let (labels, doc): (Vec<String>, Option<String>) = match target {
        Some(Target::Builtin(b)) => (
            b.signature.split(" | ").map(str::to_string).collect(),
            Some(b.doc.to_string()),
        ),
        Some(Target::Def(def)) if matches!(def.kind, DefKind::Fn | DefKind::Net) => {
            (vec![user_signature(analysis, def.span)?], None)
        }
        _ if name == "der" => {
            let b = sci_lang::builtins::lookup("der")?;
            (vec![b.signature.to_string()], Some(b.doc.to_string()))
        }
        _ => return None,
    };
    let signatures: Vec<SignatureInformation> = labels
        .iter()
        .map(|label| {
            let params = parameters(label);
            let active = active_parameter(&params, call.commas, call.named.as_deref());
            SignatureInformation {
                label: label.clone(),
                documentation: doc
                    .as_ref()
                    .map(|d| crate::caps::documentation(markdown, d)),
                parameters: Some(
                    params
                        .iter()
                        .map(|p| ParameterInformation {
                            label: ParameterLabel::LabelOffsets([p.start, p.end]),
                            documentation: None,
                        })
                        .collect(),
                ),
                active_parameter: active,
            }
        })
        .collect();
    // The first signature that has enough parameters for the argument being written.
    let active_signature = signatures
        .iter()
        .position(|s| {
            s.parameters
                .as_ref()
                .is_some_and(|p| p.len() > call.commas as usize || is_variadic(&s.label))
        })
        .unwrap_or(0);
    let active_parameter = signatures
        .get(active_signature)
        .and_then(|s| s.active_parameter);
    Some(SignatureHelp {
        signatures,
        active_signature: Some(active_signature as u32),
        active_parameter,
    })
}

/// The unclosed call around the cursor.
struct OpenCall {
    /// Index of the callee's token.
    callee: usize,
    /// Commas before the cursor in this call's argument list.
    commas: u32,
    /// The name of the named argument being written, if any.
    named: Option<String>,
}

fn open_call(analysis: &Analysis, offset: usize) -> Option<OpenCall> {
    let toks = &analysis.tokens;
    let n = toks.partition_point(|(_, _, end)| *end <= offset);
    let mut depth = 0usize;
    let mut commas = 0u32;
    let mut named: Option<String> = None;
    let mut i = n;
    while i > 0 {
        i -= 1;
        let tok = &toks[i].1;
        match tok {
            Tok::RParen | Tok::RBracket | Tok::RBrace => depth += 1,
            Tok::LParen | Tok::LBracket | Tok::LBrace if depth > 0 => depth -= 1,
            Tok::LParen => {
                if i > 0 && crate::analysis::is_name(&toks[i - 1].1) {
                    return Some(OpenCall {
                        callee: i - 1,
                        commas,
                        named,
                    });
                }
                // A parenthesised expression inside an argument.
                commas = 0;
                named = None;
            }
            Tok::LBracket | Tok::LBrace => {
                // Inside an array argument: its commas are not argument separators.
                commas = 0;
                named = None;
            }
            Tok::Comma if depth == 0 => commas += 1,
            Tok::Colon if depth == 0 && commas == 0 && named.is_none() => {
                if let Some((_, Tok::Ident(name), _)) = i.checked_sub(1).and_then(|j| toks.get(j)) {
                    named = Some(name.clone());
                }
            }
            t if t.starts_statement() => return None,
            _ => {}
        }
    }
    None
}

/// One parameter's place in a signature label, in UTF-16 units.
struct Param {
    start: u32,
    end: u32,
    text: String,
}

/// The parameters of `name(a, b: [x, y], …)`, split at top-level commas.
fn parameters(label: &str) -> Vec<Param> {
    let Some(open) = label.find('(') else {
        return Vec::new();
    };
    let mut out = Vec::new();
    let mut depth = 0i32;
    let mut start = open + 1;
    let mut inner_end = label.len();
    for (i, c) in label[open + 1..].char_indices() {
        let i = i + open + 1;
        match c {
            '(' | '[' | '{' => depth += 1,
            ')' if depth == 0 => {
                inner_end = i;
                break;
            }
            ')' | ']' | '}' => depth -= 1,
            ',' if depth == 0 => {
                out.push(param(label, start, i));
                start = i + 1;
            }
            _ => {}
        }
    }
    if label[start..inner_end].trim().is_empty() && out.is_empty() {
        return out;
    }
    out.push(param(label, start, inner_end));
    out
}

fn param(label: &str, start: usize, end: usize) -> Param {
    let raw = &label[start..end];
    let lead = raw.len() - raw.trim_start().len();
    let text = raw.trim();
    let s = start + lead;
    Param {
        start: utf16_len(&label[..s]),
        end: utf16_len(&label[..s + text.len()]),
        text: text.to_string(),
    }
}

fn is_variadic(label: &str) -> bool {
    label.contains('…')
}

fn active_parameter(params: &[Param], commas: u32, named: Option<&str>) -> Option<u32> {
    if params.is_empty() {
        return None;
    }
    if let Some(name) = named
        && let Some(i) = params
            .iter()
            .position(|p| p.text.split(':').next().is_some_and(|n| n.trim() == name))
    {
        return Some(i as u32);
    }
    let last = params.len() as u32 - 1;
    Some(commas.min(last))
}

/// `name(p: ann, q)` of a user function or network, from its declaration.
fn user_signature(analysis: &Analysis, def: sci_diag::Span) -> Option<String> {
    for item in &analysis.ast.items {
        let members: Vec<&MemberKind> = match &item.kind {
            ItemKind::Fn(f) if f.name.span == def => return Some(fn_signature(analysis, f)),
            ItemKind::Model(m) => m.members.iter().map(|m| &m.kind).collect(),
            _ => continue,
        };
        for kind in members {
            match kind {
                MemberKind::Fn(f) if f.name.span == def => return Some(fn_signature(analysis, f)),
                MemberKind::Net(n) if n.name.span == def => {
                    let args: Vec<&str> = n.args.iter().map(|a| a.name.as_str()).collect();
                    return Some(format!("{}({})", n.name.name, args.join(", ")));
                }
                _ => {}
            }
        }
    }
    None
}

fn fn_signature(analysis: &Analysis, f: &sci_lang::ast::FnDecl) -> String {
    let params: Vec<String> = f
        .params
        .iter()
        .map(|p| match &p.ty {
            Some(t) => format!("{}: {}", p.name.name, analysis.slice(t.span).trim()),
            None => p.name.name.clone(),
        })
        .collect();
    let mut s = format!("{}({})", f.name.name, params.join(", "));
    if let Some(r) = &f.result {
        s.push_str(" -> ");
        s.push_str(analysis.slice(r.span).trim());
    }
    s
}
