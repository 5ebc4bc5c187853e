//! One analysed version of a document: tokens, syntax tree, checked program, diagnostics,
//! and the lookups every feature needs (what name is under the cursor, what it denotes).
//!
//! The pipeline is the compiler's own (`parse` → `check` → `lower`, as `sci check` runs it),
//! applied to the unsaved buffer. Warnings are hidden while the file has syntax errors, as
//! the command line does, because members that failed to parse are missing from the tree.

use crate::text::LineMap;
use sci_diag::{Diagnostic, FileId, Span};
use sci_lang::ast::{self, Expr, ExprKind, ItemKind, MemberKind, TypeAnn, UnitExpr};
use sci_lang::builtins::{self, Builtin};
use sci_lang::check::{Checked, DefKind, Definition};
use sci_lang::lexer::{self, Comment, Spanned, Tok};
use std::collections::{HashMap, HashSet};

/// The file id every document is analysed under (each document is analysed on its own).
pub const FILE: FileId = FileId(0);

/// Everything known about one version of a document.
#[derive(Debug)]
pub struct Analysis {
    pub text: String,
    pub lines: LineMap,
    pub ast: ast::SourceFile,
    /// The lexer's tokens, in source order.
    pub tokens: Vec<Spanned>,
    pub comments: Vec<Comment>,
    pub checked: Checked,
    /// Syntax, checking and lowering diagnostics, as `sci check` reports them.
    pub diagnostics: Vec<Diagnostic>,
    /// Index into `checked.info.definitions` by the span of the defining name.
    def_by_span: HashMap<Span, usize>,
    /// `(use, definition)` pairs sorted by the use's start.
    refs: Vec<(Span, Span)>,
    /// Spans of unit symbols written in type annotations (`m` of `m/s`).
    unit_names: HashSet<Span>,
    /// The unit written on each annotated definition, by the span of its name.
    written_units: HashMap<Span, String>,
}

/// What a name in the source denotes.
#[derive(Clone, Copy, Debug)]
pub enum Target<'a> {
    /// A user definition.
    Def(&'a Definition),
    /// A built-in function, operator or constant.
    Builtin(&'static Builtin),
    /// A unit symbol in a type annotation (`m`, `km`, `N`).
    Unit,
}

/// The name under the cursor.
#[derive(Clone, Debug)]
pub struct NameAt<'a> {
    /// The span of the name as written at the cursor.
    pub span: Span,
    pub name: String,
    pub target: Option<Target<'a>>,
}

impl Analysis {
    /// Analyses `text`. Never panics on any input (the compiler's invariant); callers still
    /// guard against a bug with `catch_unwind`.
    pub fn new(text: &str) -> Analysis {
        // A document past the parser's limit is not read (the front end reports E0100):
        // no tokens either, so every feature stays bounded in time and memory.
        let within = text.len() <= sci_lang::parser::MAX_SOURCE_BYTES;
        let lexed = lexer::lex(FILE, if within { text } else { "" });
        // The compiler's own front end, exactly as `sci check` runs it.
        let front = sci_lang::analyze(FILE, text);
        let (ast, checked, diagnostics) = (front.ast, front.checked, front.diagnostics);
        let def_by_span = checked
            .info
            .definitions
            .iter()
            .enumerate()
            .map(|(i, d)| (d.span, i))
            .collect();
        let mut refs = checked.info.references.clone();
        refs.extend(der_targets(&ast, &checked.info.definitions));
        refs.sort_by_key(|(u, d)| (u.start, u.end, d.start));
        refs.dedup();
        let (unit_names, written_units) = annotation_units(&ast);
        Analysis {
            text: text.to_string(),
            lines: LineMap::new(text),
            ast,
            tokens: lexed.tokens,
            comments: lexed.comments,
            checked,
            diagnostics,
            def_by_span,
            refs,
            unit_names,
            written_units,
        }
    }

    /// The unit written in the annotation of the definition named at `span`, if any.
    pub fn written_unit(&self, span: Span) -> Option<String> {
        self.written_units.get(&span).cloned()
    }

    /// The definitions of the file, in the order found.
    pub fn definitions(&self) -> &[Definition] {
        &self.checked.info.definitions
    }

    /// The definition whose name is at `span`.
    pub fn definition_at(&self, span: Span) -> Option<&Definition> {
        self.def_by_span
            .get(&span)
            .and_then(|&i| self.checked.info.definitions.get(i))
    }

    /// Every `(use, definition)` pair, sorted by use.
    pub fn references(&self) -> &[(Span, Span)] {
        &self.refs
    }

    /// The uses of the definition named at `def`.
    pub fn uses_of(&self, def: Span) -> impl Iterator<Item = Span> + '_ {
        self.refs
            .iter()
            .filter(move |(_, d)| *d == def)
            .map(|(u, _)| *u)
    }

    /// The token at byte `offset`: the one containing it, or else the one ending there (a
    /// cursor just after a name is on that name).
    pub fn token_at(&self, offset: usize) -> Option<&Spanned> {
        let i = self.tokens.partition_point(|(_, _, end)| *end < offset);
        let first = self.tokens.get(i)?;
        if first.0 <= offset && offset < first.2 {
            return Some(first);
        }
        if first.2 == offset {
            // Prefer a name starting exactly here over the token ending here (`a+b|`).
            if let Some(next) = self.tokens.get(i + 1)
                && next.0 == offset
                && is_name(&next.1)
            {
                return Some(next);
            }
            return Some(first);
        }
        None
    }

    /// The name under the cursor and what it denotes.
    pub fn name_at(&self, offset: usize) -> Option<NameAt<'_>> {
        let (start, tok, end) = self.token_at(offset)?;
        let name = match tok {
            Tok::Ident(n) => n.clone(),
            Tok::Der => "der".to_string(),
            _ => return None,
        };
        let span = Span::new(FILE, *start, *end);
        Some(NameAt {
            target: self.resolve(span, &name),
            span,
            name,
        })
    }

    /// What the name written at `span` denotes.
    pub fn resolve(&self, span: Span, name: &str) -> Option<Target<'_>> {
        if let Some(d) = self.definition_at(span) {
            return Some(Target::Def(d));
        }
        let i = self.refs.partition_point(|(u, _)| u.start < span.start);
        if let Some((_, def)) = self.refs[i..].iter().find(|(u, _)| *u == span) {
            return self.definition_at(*def).map(Target::Def);
        }
        if self.unit_names.contains(&span) {
            return Some(Target::Unit);
        }
        builtins::lookup(name).map(Target::Builtin)
    }

    /// The definition a name at `span` resolves to, following references.
    pub fn def_of(&self, span: Span) -> Option<&Definition> {
        match self.resolve(span, "") {
            Some(Target::Def(d)) => Some(d),
            _ => None,
        }
    }

    /// The span of the model item containing `offset`, with the model.
    pub fn model_at(&self, offset: usize) -> Option<(&ast::Model, Span)> {
        self.ast.items.iter().find_map(|item| match &item.kind {
            ItemKind::Model(m) if contains(item.span, offset) => Some((m, item.span)),
            _ => None,
        })
    }

    /// The span of the model member (or, outside models, the item) containing `offset`.
    pub fn member_at(&self, offset: usize) -> Option<Span> {
        let item = self.ast.items.iter().find(|i| contains(i.span, offset))?;
        match &item.kind {
            ItemKind::Model(m) => m
                .members
                .iter()
                .find(|mem| contains(mem.span, offset))
                .map(|mem| mem.span)
                .or(Some(item.span)),
            _ => Some(item.span),
        }
    }

    /// Whether `offset` is inside an event (`when … { … }`), where `reinit`, `stop` and
    /// `every` have their meaning.
    pub fn in_event(&self, offset: usize) -> bool {
        self.model_at(offset).is_some_and(|(m, _)| {
            m.members
                .iter()
                .any(|mem| matches!(mem.kind, MemberKind::When(_)) && contains(mem.span, offset))
        })
    }

    /// The innermost expression containing `offset`, if any.
    pub fn expr_at(&self, offset: usize) -> Option<&Expr> {
        let mut cur = root_exprs(&self.ast)
            .into_iter()
            .find(|e| contains(e.span, offset))?;
        // Descend while a child contains the offset (the tree is at most 256 deep).
        while let Some(child) = children(cur).into_iter().find(|c| contains(c.span, offset)) {
            cur = child;
        }
        Some(cur)
    }

    /// The type the checker gave an expression.
    pub fn type_of(&self, e: &Expr) -> Option<&sci_lang::hir::Ty> {
        self.checked.info.types.get(&e.id)
    }

    /// The source text of a span.
    pub fn slice(&self, span: Span) -> &str {
        self.text.get(span.range()).unwrap_or("")
    }
}

/// True for tokens that are names (identifiers and the name-like keyword `der`).
pub fn is_name(tok: &Tok) -> bool {
    matches!(tok, Tok::Ident(_) | Tok::Der)
}

/// True if `offset` is inside `span` or at its end.
pub fn contains(span: Span, offset: usize) -> bool {
    span.start as usize <= offset && offset <= span.end as usize
}

/// Every top-level expression of the file (roots of expression trees).
pub fn root_exprs(file: &ast::SourceFile) -> Vec<&Expr> {
    let mut out = Vec::new();
    for item in &file.items {
        match &item.kind {
            ItemKind::Use(_) => {}
            ItemKind::Fn(f) => fn_exprs(f, &mut out),
            ItemKind::Const(d) => decl_exprs(d, &mut out),
            ItemKind::Model(m) => {
                for member in &m.members {
                    member_exprs(&member.kind, &mut out);
                }
            }
        }
    }
    out
}

fn fn_exprs<'a>(f: &'a ast::FnDecl, out: &mut Vec<&'a Expr>) {
    for p in &f.params {
        type_exprs(p.ty.as_ref(), out);
    }
    type_exprs(f.result.as_ref(), out);
    out.push(&f.body);
}

fn type_exprs<'a>(ty: Option<&'a TypeAnn>, out: &mut Vec<&'a Expr>) {
    if let Some(dims) = ty.and_then(|t| t.tensor.as_ref()) {
        out.extend(dims.iter());
    }
}

fn decl_exprs<'a>(d: &'a ast::Decl, out: &mut Vec<&'a Expr>) {
    for b in &d.index {
        out.push(&b.start);
        out.push(&b.end);
    }
    type_exprs(d.ty.as_ref(), out);
    out.push(&d.value);
}

fn member_exprs<'a>(kind: &'a MemberKind, out: &mut Vec<&'a Expr>) {
    match kind {
        MemberKind::Const(d)
        | MemberKind::Param(d)
        | MemberKind::State(d)
        | MemberKind::Let(d)
        | MemberKind::Output(d) => decl_exprs(d, out),
        MemberKind::Der(eq) => out.push(&eq.value),
        MemberKind::When(w) => {
            out.push(&w.condition);
            out.extend(w.actions.iter());
        }
        MemberKind::Algebraic(e) => out.push(e),
        MemberKind::Component(c) => out.extend(c.bindings.iter().map(|b| &b.value)),
        MemberKind::Circuit(c) => {
            out.extend(c.options.iter().map(|o| &o.value));
            for stmt in &c.body {
                stmt.exprs(out);
            }
        }
        MemberKind::Observable(o) => out.push(&o.value),
        MemberKind::Domain(dom) => {
            for d in &dom.dims {
                out.push(&d.lo);
                out.push(&d.hi);
            }
        }
        MemberKind::Net(n) => out.push(&n.arch),
        MemberKind::Residual(r) => {
            out.extend(r.condition.iter());
            out.extend(r.options.iter().map(|o| &o.value));
            out.push(&r.value);
        }
        MemberKind::Loss(l) => out.push(&l.value),
        MemberKind::Data(d) => {
            for c in &d.columns {
                type_exprs(c.ty.as_ref(), out);
            }
            out.push(&d.source);
        }
        MemberKind::Fn(f) => fn_exprs(f, out),
        MemberKind::Use(_) => {}
    }
}

/// The targets of `der(x) = …` equations as references to their states, for the cases the
/// checker's table does not list them (so rename and references include them).
fn der_targets(file: &ast::SourceFile, defs: &[Definition]) -> Vec<(Span, Span)> {
    let mut out = Vec::new();
    for item in &file.items {
        let ItemKind::Model(m) = &item.kind else {
            continue;
        };
        for member in &m.members {
            let MemberKind::Der(eq) = &member.kind else {
                continue;
            };
            let state = defs.iter().find(|d| {
                d.kind == DefKind::State
                    && d.name == eq.target.name
                    && contains(item.span, d.span.start as usize)
            });
            if let Some(d) = state {
                out.push((eq.target.span, d.span));
            }
        }
    }
    out
}

/// From one walk of the file's type annotations: the spans of the unit symbols written in
/// them, and the unit written on each annotated definition, by the span of its name
/// (looking one up by walking the file per definition made a document's symbols quadratic
/// in its length).
fn annotation_units(file: &ast::SourceFile) -> (HashSet<Span>, HashMap<Span, String>) {
    // Each annotation with the name it annotates (`None`: a function's result).
    let mut anns: Vec<(Option<Span>, &TypeAnn)> = Vec::new();
    for item in &file.items {
        match &item.kind {
            ItemKind::Fn(f) => fn_anns(f, &mut anns),
            ItemKind::Const(d) => anns.extend(decl_ann(d)),
            ItemKind::Use(_) => {}
            ItemKind::Model(m) => {
                for member in &m.members {
                    match &member.kind {
                        MemberKind::Const(d)
                        | MemberKind::Param(d)
                        | MemberKind::State(d)
                        | MemberKind::Let(d)
                        | MemberKind::Output(d) => anns.extend(decl_ann(d)),
                        MemberKind::Fn(f) => fn_anns(f, &mut anns),
                        MemberKind::Data(d) => anns.extend(
                            d.columns
                                .iter()
                                .filter_map(|c| c.ty.as_ref().map(|t| (Some(c.name.span), t))),
                        ),
                        _ => {}
                    }
                }
            }
        }
    }
    let mut names = HashSet::new();
    let mut written = HashMap::new();
    // The time unit after a time span's interval (`t in [0, 160] day`).
    for item in &file.items {
        if let ItemKind::Model(m) = &item.kind {
            for member in &m.members {
                if let MemberKind::Domain(d) = &member.kind {
                    for u in d.dims.iter().filter_map(|dim| dim.unit.as_ref()) {
                        unit_names(u, &mut names, 0);
                    }
                }
            }
        }
    }
    for (name, ann) in anns {
        if let Some(u) = &ann.unit {
            unit_names(u, &mut names, 0);
            if let Some(name) = name {
                written.insert(name, sci_lang::fmt::format_unit(u));
            }
        }
    }
    (names, written)
}

/// A declaration's annotation, with its name.
fn decl_ann(d: &ast::Decl) -> Option<(Option<Span>, &TypeAnn)> {
    d.ty.as_ref().map(|t| (Some(d.name.span), t))
}

fn fn_anns<'a>(f: &'a ast::FnDecl, anns: &mut Vec<(Option<Span>, &'a TypeAnn)>) {
    anns.extend(
        f.params
            .iter()
            .filter_map(|p| p.ty.as_ref().map(|t| (Some(p.name.span), t))),
    );
    anns.extend(f.result.as_ref().map(|t| (None, t)));
}

fn unit_names(u: &UnitExpr, out: &mut HashSet<Span>, depth: usize) {
    // Unit expressions are bounded by the parser's depth limit; guard anyway.
    if depth > 300 {
        return;
    }
    match u {
        UnitExpr::Name(id) => {
            out.insert(id.span);
        }
        UnitExpr::One(_) => {}
        UnitExpr::Mul(a, b) | UnitExpr::Div(a, b) => {
            unit_names(a, out, depth + 1);
            unit_names(b, out, depth + 1);
        }
        UnitExpr::Pow(a, _) => unit_names(a, out, depth + 1),
    }
}

/// The direct sub-expressions of `e`.
pub fn children(e: &Expr) -> Vec<&Expr> {
    match &e.kind {
        ExprKind::Number { .. } | ExprKind::Str(_) | ExprKind::Name(_) | ExprKind::Error => {
            Vec::new()
        }
        ExprKind::Unary(_, a) => vec![a],
        ExprKind::Binary(_, a, b) => vec![a, b],
        ExprKind::Call { args, .. } => args.iter().map(|a| &a.value).collect(),
        ExprKind::Index { base, indices } => {
            let mut v = vec![&**base];
            v.extend(indices.iter());
            v
        }
        ExprKind::Field { base, .. } => vec![base],
        ExprKind::If {
            cond,
            then,
            otherwise,
        } => vec![cond, then, otherwise],
        ExprKind::Reduce { binders, body, .. } => {
            let mut v: Vec<&Expr> = Vec::new();
            for b in binders {
                v.push(&b.start);
                v.push(&b.end);
            }
            v.push(body);
            v
        }
        ExprKind::Array(items) => items.iter().collect(),
    }
}

/// The callee name of a call expression.
pub fn callee(e: &Expr) -> Option<&ast::Ident> {
    match &e.kind {
        ExprKind::Call { callee, .. } => Some(callee),
        _ => None,
    }
}
