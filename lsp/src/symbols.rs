//! `textDocument/documentSymbol`: the outline of a file as a tree.
//!
//! Top level: models, functions, constants and `use` declarations. Under a model, its
//! members in source order: constants, parameters, states, lets and outputs (with their
//! type as detail), equations (`der(x)`, residuals, losses), domains (with their
//! coordinates), networks, data sets (with their columns) and local functions.

use crate::analysis::Analysis;
use crate::describe;
use lsp_types::{DocumentSymbol, SymbolKind};
use sci_diag::Span;
use sci_lang::ast::{Decl, FnDecl, ItemKind, Member, MemberKind};

/// The outline as a flat list, for clients without hierarchical symbol support: each
/// symbol names its container (`Pendulum` for its members).
#[allow(deprecated)] // `SymbolInformation::deprecated` must still be written.
pub fn flat_symbols(
    analysis: &Analysis,
    uri: &lsp_types::Uri,
) -> Vec<lsp_types::SymbolInformation> {
    fn walk(
        symbols: Vec<DocumentSymbol>,
        container: Option<&str>,
        uri: &lsp_types::Uri,
        out: &mut Vec<lsp_types::SymbolInformation>,
    ) {
        for s in symbols {
            out.push(lsp_types::SymbolInformation {
                name: s.name.clone(),
                kind: s.kind,
                tags: None,
                deprecated: None,
                location: lsp_types::Location {
                    uri: uri.clone(),
                    range: s.range,
                },
                container_name: container.map(str::to_string),
            });
            if let Some(children) = s.children {
                walk(children, Some(&s.name), uri, out);
            }
        }
    }
    let mut out = Vec::new();
    walk(document_symbols(analysis), None, uri, &mut out);
    out
}

/// The outline of the document.
pub fn document_symbols(analysis: &Analysis) -> Vec<DocumentSymbol> {
    let mut out = Vec::new();
    for item in &analysis.ast.items {
        match &item.kind {
            ItemKind::Model(m) => {
                let children = m
                    .members
                    .iter()
                    .filter_map(|mem| member(analysis, mem))
                    .collect();
                out.push(symbol(
                    analysis,
                    &m.name.name,
                    Some("model".to_string()),
                    SymbolKind::CLASS,
                    item.span,
                    m.name.span,
                    Some(children),
                ));
            }
            ItemKind::Fn(f) => out.push(function(analysis, f, item.span)),
            ItemKind::Const(d) => out.push(decl(analysis, d, item.span, SymbolKind::CONSTANT)),
            ItemKind::Use(u) => {
                if let Some(s) = use_decl(analysis, u, item.span) {
                    out.push(s);
                }
            }
        }
    }
    out
}

fn member(analysis: &Analysis, mem: &Member) -> Option<DocumentSymbol> {
    let span = mem.span;
    Some(match &mem.kind {
        MemberKind::Const(d) => decl(analysis, d, span, SymbolKind::CONSTANT),
        MemberKind::Param(d) => decl(analysis, d, span, SymbolKind::FIELD),
        MemberKind::State(d) => decl(analysis, d, span, SymbolKind::VARIABLE),
        MemberKind::Let(d) => decl(analysis, d, span, SymbolKind::VARIABLE),
        MemberKind::Output(d) => decl(analysis, d, span, SymbolKind::PROPERTY),
        MemberKind::Der(eq) => {
            let mut name = format!("der({}", eq.target.name);
            if !eq.indices.is_empty() {
                let idx: Vec<&str> = eq.indices.iter().map(|i| i.name.as_str()).collect();
                name.push_str(&format!("[{}]", idx.join(", ")));
            }
            name.push(')');
            symbol(
                analysis,
                &name,
                Some("equation".to_string()),
                SymbolKind::OPERATOR,
                span,
                eq.target.span,
                None,
            )
        }
        MemberKind::Component(c) => symbol(
            analysis,
            &c.name.name,
            Some(format!("component · {}", c.model.name)),
            SymbolKind::OBJECT,
            span,
            c.name.span,
            None,
        ),
        MemberKind::Algebraic(e) => symbol(
            analysis,
            &format!("0 = {}", sci_lang::fmt::expr_text(e)),
            Some("algebraic equation".to_string()),
            SymbolKind::OPERATOR,
            span,
            e.span,
            None,
        ),
        MemberKind::When(w) => symbol(
            analysis,
            &format!("when {}", sci_lang::fmt::expr_text(&w.condition)),
            Some("event".to_string()),
            SymbolKind::EVENT,
            span,
            w.condition.span,
            None,
        ),
        MemberKind::Domain(dom) => {
            let coords = dom
                .dims
                .iter()
                .map(|d| {
                    symbol(
                        analysis,
                        &d.var.name,
                        Some(format!(
                            "in {}",
                            one_line(analysis, d.lo.span.to(d.hi.span))
                        )),
                        SymbolKind::TYPE_PARAMETER,
                        d.span,
                        d.var.span,
                        None,
                    )
                })
                .collect();
            symbol(
                analysis,
                &dom.name.name,
                Some("domain".to_string()),
                SymbolKind::NAMESPACE,
                span,
                dom.name.span,
                Some(coords),
            )
        }
        MemberKind::Circuit(c) => symbol(
            analysis,
            &c.name.name,
            Some("circuit".to_string()),
            SymbolKind::FUNCTION,
            span,
            c.name.span,
            None,
        ),
        MemberKind::Observable(o) => symbol(
            analysis,
            &o.name.name,
            Some("observable".to_string()),
            SymbolKind::OPERATOR,
            span,
            o.name.span,
            None,
        ),
        MemberKind::Net(n) => {
            let args: Vec<&str> = n.args.iter().map(|a| a.name.as_str()).collect();
            symbol(
                analysis,
                &n.name.name,
                Some(format!("net ({})", args.join(", "))),
                SymbolKind::FUNCTION,
                span,
                n.name.span,
                None,
            )
        }
        MemberKind::Residual(r) => symbol(
            analysis,
            &r.name.name,
            Some(format!("residual on {}", r.domain.name)),
            SymbolKind::EVENT,
            span,
            r.name.span,
            None,
        ),
        MemberKind::Loss(l) => {
            let (name, sel) = match &l.name {
                Some(n) => (format!("loss {}", n.name), n.span),
                None => (
                    "loss".to_string(),
                    Span::new(span.file, span.start as usize, span.start as usize + 4),
                ),
            };
            symbol(
                analysis,
                &name,
                Some("loss".to_string()),
                SymbolKind::OPERATOR,
                span,
                sel,
                None,
            )
        }
        MemberKind::Data(d) => {
            let columns = d
                .columns
                .iter()
                .map(|c| {
                    let detail = analysis
                        .definition_at(c.name.span)
                        .map(|def| describe::detail(analysis, def));
                    symbol(
                        analysis,
                        &c.name.name,
                        detail,
                        SymbolKind::FIELD,
                        c.name.span,
                        c.name.span,
                        None,
                    )
                })
                .collect();
            symbol(
                analysis,
                &d.name.name,
                Some("data".to_string()),
                SymbolKind::STRUCT,
                span,
                d.name.span,
                Some(columns),
            )
        }
        MemberKind::Fn(f) => function(analysis, f, span),
        MemberKind::Use(u) => use_decl(analysis, u, span)?,
    })
}

fn decl(analysis: &Analysis, d: &Decl, span: Span, kind: SymbolKind) -> DocumentSymbol {
    let def = analysis.definition_at(d.name.span);
    let detail = def.map(|def| describe::detail(analysis, def));
    symbol(
        analysis,
        &d.name.name,
        detail,
        kind,
        span,
        d.name.span,
        None,
    )
}

fn function(analysis: &Analysis, f: &FnDecl, span: Span) -> DocumentSymbol {
    let params: Vec<&str> = f.params.iter().map(|p| p.name.name.as_str()).collect();
    symbol(
        analysis,
        &f.name.name,
        Some(format!("fn ({})", params.join(", "))),
        SymbolKind::FUNCTION,
        span,
        f.name.span,
        None,
    )
}

fn use_decl(analysis: &Analysis, u: &sci_lang::ast::UseDecl, span: Span) -> Option<DocumentSymbol> {
    let first = u.path.first()?;
    let path: Vec<&str> = u.path.iter().map(|p| p.name.as_str()).collect();
    Some(symbol(
        analysis,
        &path.join("."),
        Some("use".to_string()),
        SymbolKind::MODULE,
        span,
        first.span,
        None,
    ))
}

fn one_line(analysis: &Analysis, span: Span) -> String {
    format!(
        "[{}]",
        analysis
            .slice(span)
            .split_whitespace()
            .collect::<Vec<_>>()
            .join(" ")
    )
}

#[allow(deprecated)] // `DocumentSymbol::deprecated` must still be written.
fn symbol(
    analysis: &Analysis,
    name: &str,
    detail: Option<String>,
    kind: SymbolKind,
    range: Span,
    selection: Span,
    children: Option<Vec<DocumentSymbol>>,
) -> DocumentSymbol {
    // The selection must lie inside the range; recovered trees can break that.
    let range = range.to(selection);
    DocumentSymbol {
        name: if name.is_empty() {
            "?".to_string()
        } else {
            name.to_string()
        },
        detail,
        kind,
        tags: None,
        deprecated: None,
        range: analysis.lines.range(&analysis.text, range),
        selection_range: analysis.lines.range(&analysis.text, selection),
        children,
    }
}
