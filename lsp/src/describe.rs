//! Words for what the checker knows: kinds of definitions, dtypes, shapes, units.
//!
//! Shared by hover, completion details and document symbols, so the editor describes a
//! definition the same way everywhere.

use crate::analysis::Analysis;
use sci_lang::ast::{self, ItemKind, MemberKind};
use sci_lang::check::{DefKind, Definition};
use sci_lang::hir::{BatchKind, Scalar, Ty};

/// The kind of a definition in words ("state", "index variable").
pub fn kind_name(kind: DefKind) -> &'static str {
    match kind {
        DefKind::Model => "model",
        DefKind::Const => "constant",
        DefKind::Param => "parameter",
        DefKind::State => "state",
        DefKind::Let => "let",
        DefKind::Output => "output",
        DefKind::Domain => "domain",
        DefKind::Coord => "coordinate",
        DefKind::Net => "network",
        DefKind::Residual => "residual",
        DefKind::Data => "data set",
        DefKind::Circuit => "circuit",
        DefKind::Observable => "observable",
        DefKind::Column => "data column",
        DefKind::Fn => "function",
        DefKind::FnParam => "function parameter",
        DefKind::IndexVar => "index variable",
        DefKind::ShapeVar => "shape variable",
    }
}

/// The dtype of a type as the IR stores it.
pub fn dtype(ty: &Ty) -> &'static str {
    match ty.scalar {
        Scalar::Real => "f64",
        Scalar::Int => "i64",
        Scalar::Bool => "bool",
    }
}

/// A shape in words: `scalar` or `[200]`, `[3, 3]`.
pub fn shape(shape: &[usize]) -> String {
    if shape.is_empty() {
        "scalar".to_string()
    } else {
        let dims: Vec<String> = shape.iter().map(|d| d.to_string()).collect();
        format!("[{}]", dims.join(", "))
    }
}

/// A unit in words: its usual symbol, with the SI form when they differ.
pub fn unit(ty: &Ty) -> String {
    match &ty.unit {
        None => "none (the model declares no units)".to_string(),
        Some(u) => {
            let pretty = sci_lang::units::describe(u);
            let si = u.to_string();
            if pretty == "1" {
                "1 (dimensionless)".to_string()
            } else if pretty != si {
                format!("{pretty} (= {si})")
            } else {
                pretty
            }
        }
    }
}

/// A short type summary for completion details and outlines: `f64[200] m/s`, with the
/// unit as written when `written_unit` is given.
pub fn short_type(ty: &Ty, written_unit: Option<&str>) -> String {
    let mut s = dtype(ty).to_string();
    if !ty.shape.is_empty() {
        s.push_str(&shape(&ty.shape));
    }
    let unit = match (written_unit, &ty.unit) {
        (Some(w), Some(_)) => Some(w.to_string()),
        (_, Some(u)) => Some(sci_lang::units::describe(u)),
        (_, None) => None,
    };
    if let Some(u) = unit.filter(|u| u != "1") {
        s.push(' ');
        s.push_str(&u);
    }
    s
}

/// `kind · type` of a definition, for completion details and outlines.
pub fn detail(analysis: &Analysis, def: &Definition) -> String {
    match &def.ty {
        Some(ty) => {
            let unit = analysis.written_unit(def.span);
            format!(
                "{} · {}",
                kind_name(def.kind),
                short_type(ty, unit.as_deref())
            )
        }
        None => kind_name(def.kind).to_string(),
    }
}

/// One markdown line describing a type: dtype, shape and unit, then the batch if any.
/// `written_shape` and `written_unit` are the annotation as written, preferred when given
/// (`[n]` of a generic parameter, `rad/s` rather than its SI form `1/s`).
pub fn type_summary(ty: &Ty, written_shape: Option<&str>, written_unit: Option<&str>) -> String {
    let shape = match written_shape {
        Some(w) => w.to_string(),
        None => shape(&ty.shape),
    };
    let unit = match (written_unit, &ty.unit) {
        (Some(w), Some(u)) => {
            let si = u.to_string();
            if w == si || w == "1" {
                format!("`{w}`")
            } else {
                format!("`{w}` (= `{si}`)")
            }
        }
        _ => format!("`{}`", unit(ty)),
    };
    let mut line = format!("dtype `{}` · shape `{shape}` · unit {unit}", dtype(ty));
    match ty.batch {
        Some(BatchKind::Residual(_)) => {
            line.push_str("\n\nbatched: one value per collocation point of the residual")
        }
        Some(BatchKind::Data(_)) => line.push_str("\n\nbatched: one value per row of the data set"),
        None => {}
    }
    line
}

/// The source of the declaration that defines `def`, on one line, shortened: what hover
/// shows in its code block (`state u[i in 0..n] = sin(π * (i + 1) * dx)`).
pub fn header(analysis: &Analysis, def: &Definition) -> String {
    let span = declaration_span(analysis, def).unwrap_or(def.span);
    let text = analysis.slice(span);
    let mut one_line = text.split_whitespace().collect::<Vec<_>>().join(" ");
    if def.kind == DefKind::Model {
        one_line = format!("model {}", def.name);
    }
    if def.kind == DefKind::Fn {
        one_line = one_line.trim_end_matches('=').trim_end().to_string();
    }
    truncate(&one_line, 120)
}

/// For generic function parameters, the shape as written (`[n]`), since the checker's
/// type is that of a probe instance.
pub fn written_shape(analysis: &Analysis, def: &Definition) -> Option<String> {
    if def.kind != DefKind::FnParam {
        return None;
    }
    let mut found = None;
    visit_fns(&analysis.ast, &mut |f| {
        for p in &f.params {
            if p.name.span == def.span
                && let Some(dims) = p.ty.as_ref().and_then(|t| t.tensor.as_ref())
                && !dims.is_empty()
            {
                let written: Vec<String> = dims
                    .iter()
                    .map(|d| analysis.slice(d.span).to_string())
                    .collect();
                found = Some(format!("[{}]", written.join(", ")));
            }
        }
    });
    found
}

fn visit_fns<'a>(file: &'a ast::SourceFile, f: &mut dyn FnMut(&'a ast::FnDecl)) {
    for item in &file.items {
        match &item.kind {
            ItemKind::Fn(decl) => f(decl),
            ItemKind::Model(m) => {
                for member in &m.members {
                    if let MemberKind::Fn(decl) = &member.kind {
                        f(decl);
                    }
                }
            }
            _ => {}
        }
    }
}

/// The span of the item or member that defines `def` (for coordinates and columns, the
/// coordinate or column itself).
fn declaration_span(analysis: &Analysis, def: &Definition) -> Option<sci_diag::Span> {
    for item in &analysis.ast.items {
        match &item.kind {
            ItemKind::Fn(f) if f.name.span == def.span => return Some(fn_header(f, item.span)),
            ItemKind::Fn(f) => {
                if let Some(p) = f.params.iter().find(|p| p.name.span == def.span) {
                    return Some(param_span(p));
                }
            }
            ItemKind::Const(d) if d.name.span == def.span => return Some(item.span),
            ItemKind::Model(m) if m.name.span == def.span => return Some(m.name.span),
            ItemKind::Model(m) => {
                for member in &m.members {
                    if let Some(s) = member_decl_span(member, def) {
                        return Some(s);
                    }
                }
            }
            _ => {}
        }
    }
    None
}

fn member_decl_span(member: &ast::Member, def: &Definition) -> Option<sci_diag::Span> {
    let whole = Some(member.span);
    match &member.kind {
        MemberKind::Const(d)
        | MemberKind::Param(d)
        | MemberKind::State(d)
        | MemberKind::Let(d)
        | MemberKind::Output(d) => {
            if d.name.span == def.span {
                return whole;
            }
            d.index
                .iter()
                .find(|b| b.var.span == def.span)
                .map(|b| b.span)
        }
        MemberKind::Domain(dom) => {
            if dom.name.span == def.span {
                return whole;
            }
            dom.dims
                .iter()
                .find(|d| d.var.span == def.span)
                .map(|d| d.span)
        }
        MemberKind::Net(n) if n.name.span == def.span => whole,
        MemberKind::Residual(r) if r.name.span == def.span => Some(r.name.span.to(r.domain.span))
            .map(|s| sci_diag::Span::new(s.file, member.span.start as usize, s.end as usize)),
        MemberKind::Data(d) => {
            if d.name.span == def.span {
                return whole;
            }
            d.columns
                .iter()
                .find(|c| c.name.span == def.span)
                .map(param_span)
        }
        MemberKind::Fn(f) => {
            if f.name.span == def.span {
                return Some(fn_header(f, member.span));
            }
            f.params
                .iter()
                .find(|p| p.name.span == def.span)
                .map(param_span)
        }
        _ => None,
    }
}

fn param_span(p: &ast::FnParam) -> sci_diag::Span {
    match &p.ty {
        Some(t) => p.name.span.to(t.span),
        None => p.name.span,
    }
}

/// `fn name(params) -> result =`, without the body (the `=` is trimmed by [`header`]).
fn fn_header(f: &ast::FnDecl, whole: sci_diag::Span) -> sci_diag::Span {
    let end = (f.body.span.start as usize).clamp(whole.start as usize, whole.end as usize);
    sci_diag::Span::new(whole.file, whole.start as usize, end)
}

/// Shortens `s` to at most `max` characters, with an ellipsis.
pub fn truncate(s: &str, max: usize) -> String {
    if s.chars().count() <= max {
        s.to_string()
    } else {
        let mut t: String = s.chars().take(max - 1).collect();
        t.push('…');
        t
    }
}
