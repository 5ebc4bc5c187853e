//! `textDocument/hover`: what the thing under the cursor is.
//!
//! - a user definition or a use of one: its declaration, kind, dtype, shape and unit;
//! - a built-in: its signature and documentation, and for a call (such as a derivative
//!   `d(u, x)`) the type of the call's result;
//! - a unit symbol: its name and SI form;
//! - a keyword: one line saying what it declares (and `reinit`, `stop`, `every` inside an
//!   event);
//! - any other expression (an operator, a parenthesis, a number): its type.

use crate::analysis::{Analysis, Target};
use crate::describe;
use lsp_types::{Hover, HoverContents, MarkupContent, MarkupKind};
use sci_lang::ast::{Expr, ExprKind};
use sci_lang::check::DefKind;

/// The hover at byte `offset`, if there is anything to say.
/// Markdown when the client accepts it, plain text otherwise.
pub fn hover(analysis: &Analysis, offset: usize, markdown: bool) -> Option<Hover> {
    let (text, span) = if let Some(name) = analysis.name_at(offset) {
        let text = match name.target {
            Some(Target::Def(def)) => definition(analysis, def),
            Some(Target::Builtin(b)) => builtin(analysis, b, name.span),
            Some(Target::Unit) => unit_symbol(&name.name)?,
            None if name.name == "der" => {
                sci_lang::builtins::lookup("der").map(|b| builtin(analysis, b, name.span))?
            }
            None if analysis.in_event(offset)
                && crate::keywords::event_word_doc(&name.name).is_some() =>
            {
                crate::keywords::event_word_doc(&name.name)?.to_string()
            }
            None => expression(analysis, offset)?,
        };
        (text, name.span)
    } else if let Some((start, tok, end)) = analysis.token_at(offset)
        && tok.is_keyword()
        && let Some(doc) = tok.spelling().and_then(crate::keywords::doc)
    {
        (
            doc.to_string(),
            sci_diag::Span::new(crate::analysis::FILE, *start, *end),
        )
    } else {
        let e = analysis.expr_at(offset)?;
        (expression(analysis, offset)?, e.span)
    };
    Some(Hover {
        contents: HoverContents::Markup(if markdown {
            MarkupContent {
                kind: MarkupKind::Markdown,
                value: text,
            }
        } else {
            MarkupContent {
                kind: MarkupKind::PlainText,
                value: crate::caps::plain(&text),
            }
        }),
        range: Some(analysis.lines.range(&analysis.text, span)),
    })
}

fn code(s: &str) -> String {
    format!("```sci\n{s}\n```")
}

fn definition(analysis: &Analysis, def: &sci_lang::check::Definition) -> String {
    let mut out = code(&describe::header(analysis, def));
    out.push_str(&format!(
        "\n\n**{}** `{}`",
        describe::kind_name(def.kind),
        def.name
    ));
    if let Some(ty) = &def.ty {
        let shape = describe::written_shape(analysis, def);
        let unit = analysis.written_unit(def.span);
        out.push_str(" — ");
        out.push_str(&describe::type_summary(
            ty,
            shape.as_deref(),
            unit.as_deref(),
        ));
    }
    if def.kind == DefKind::Const
        && let Some(value) = const_value(analysis, def)
    {
        out.push_str(&format!("\n\nvalue: `{value}`"));
    }
    if def.kind == DefKind::Param && is_fixed(analysis, def) {
        out.push_str("\n\n`fixed`: training keeps its value (`--param` still sets it)");
    }
    if let Some(doc) = &def.doc {
        out.push_str("\n\n---\n\n");
        out.push_str(doc);
    }
    out
}

/// Whether a parameter is declared `fixed`.
fn is_fixed(analysis: &Analysis, def: &sci_lang::check::Definition) -> bool {
    (analysis.checked.program.models.iter())
        .flat_map(|m| m.params.iter())
        .any(|p| p.span == def.span && p.fixed)
}

/// The folded value of a constant (a model's or the file's), when it is a scalar.
fn const_value(analysis: &Analysis, def: &sci_lang::check::Definition) -> Option<String> {
    let program = &analysis.checked.program;
    let c = (program.models.iter())
        .flat_map(|m| m.consts.iter())
        .chain(&program.consts)
        .find(|c| {
            c.span == def.span
                || (c.name == def.name
                    && c.span.start <= def.span.start
                    && def.span.end <= c.span.end)
        })?;
    match c.value.as_slice() {
        [v] => Some(v.to_string()),
        _ => None,
    }
}

fn builtin(analysis: &Analysis, b: &sci_lang::builtins::Builtin, at: sci_diag::Span) -> String {
    let mut out = code(b.signature);
    out.push_str("\n\n");
    out.push_str(b.doc);
    out.push_str(&format!("\n\n*built-in, module `{}`*", b.module.name()));
    // For a call (`d(u, x)`, `sin(θ)`), the type of its result.
    if let Some(call) = enclosing_call(analysis, at)
        && let Some(ty) = analysis.type_of(call)
    {
        out.push_str(&format!(
            "\n\n---\n\n{}",
            code(&sci_lang::fmt::format_expr(call))
        ));
        out.push_str("\n\n");
        out.push_str(&describe::type_summary(ty, None, None));
    }
    out
}

/// The call expression whose callee is written at `callee`.
fn enclosing_call(analysis: &Analysis, callee: sci_diag::Span) -> Option<&Expr> {
    let e = analysis.expr_at(callee.start as usize)?;
    match &e.kind {
        ExprKind::Call { callee: c, .. } if c.span == callee => Some(e),
        _ => None,
    }
}

fn unit_symbol(name: &str) -> Option<String> {
    let unit = sci_lang::units::lookup(name)?;
    let what = match sci_lang::units::symbol(name) {
        Some(s) => s.name.to_string(),
        None => format!("{name} (prefixed unit)"),
    };
    let si = unit.to_string();
    Some(format!("{}\n\n**unit** {what}\n\nSI: `{si}`", code(name)))
}

/// The type of the innermost expression at `offset`.
fn expression(analysis: &Analysis, offset: usize) -> Option<String> {
    let e = analysis.expr_at(offset)?;
    let ty = analysis.type_of(e)?;
    if matches!(e.kind, ExprKind::Error) {
        return None;
    }
    let mut out = code(&describe::truncate(&sci_lang::fmt::format_expr(e), 120));
    out.push_str("\n\n");
    out.push_str(&describe::type_summary(ty, None, None));
    Some(out)
}
