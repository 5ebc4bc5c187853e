//! The formatter behind `sci fmt`: source text → canonical source text.
//!
//! Layout: one item or member per line, members indented by four spaces, spaces around
//! binary operators except `^`, ASCII spellings of every operator, the fewest parentheses
//! the precedence allows, a blank line around models (and between items of different
//! kinds), and single blank lines kept where the source had them.
//!
//! Comments are kept, attached by position: a comment on the same line after an item or
//! member stays there (trailing); any other comment is printed on its own line before the
//! next item or member (or before the closing `}` / at the end of the file). A comment
//! *inside* a member, which the one-line layout cannot keep in place, moves to its own line
//! just before that member.
//!
//! Invariants (tested): the output parses to the same tree as the input modulo spans
//! ([`same_syntax`]), and formatting is idempotent.

use crate::ast::*;
use crate::lexer::{self, Comment};
use crate::parser;
use sci_diag::{Diagnostic, FileId, Span, has_errors};

pub use crate::parser::normalize::same_syntax;

/// Formats `src` (the text of `file`). Input with syntax errors is refused: the errors are
/// returned instead, since the formatter cannot know what broken text meant.
pub fn format_source(file: FileId, src: &str) -> Result<String, Vec<Diagnostic>> {
    let parsed = parser::parse(file, src);
    if has_errors(&parsed.diagnostics) {
        return Err(parsed.diagnostics);
    }
    let comments = lexer::comments(file, src);
    let mut printer = Printer {
        src,
        used: vec![false; comments.len()],
        comments,
        lines: Vec::new(),
    };
    printer.file(&parsed.file);
    Ok(printer.finish())
}

/// Prints one expression in canonical form (no comments).
pub fn format_expr(e: &Expr) -> String {
    let mut s = String::new();
    expr(&mut s, e, 0);
    s
}

/// Prints a unit expression in canonical form.
pub fn format_unit(u: &UnitExpr) -> String {
    let mut s = String::new();
    unit(&mut s, u, false);
    s
}

const INDENT: &str = "    ";

/// Lines longer than this are broken where the layout allows (a long sum or difference
/// goes one term per line).
const MAX_WIDTH: usize = 100;

struct Printer<'a> {
    src: &'a str,
    comments: Vec<Comment>,
    used: Vec<bool>,
    /// Output lines; an empty text is a blank line.
    lines: Vec<Line>,
}

/// One output line: code and an optional trailing comment (aligned when printed).
struct Line {
    text: String,
    trailing: Option<String>,
}

/// One thing to lay out in a list of items or members.
struct Element<'n> {
    span: Span,
    node: Node<'n>,
}

enum Node<'n> {
    Item(&'n Item),
    Member(&'n Member),
}

impl Node<'_> {
    fn circuit(&self) -> Option<&Circuit> {
        match self {
            Node::Member(Member {
                kind: MemberKind::Circuit(c),
                ..
            }) => Some(c),
            _ => None,
        }
    }

    fn is_model(&self) -> bool {
        matches!(
            self,
            Node::Item(Item {
                kind: ItemKind::Model(_),
                ..
            })
        )
    }

    /// Items of one kind may sit on adjacent lines (`use`s, one-line `fn`s, `const`s).
    fn kind_index(&self) -> u8 {
        match self {
            Node::Item(i) => match i.kind {
                ItemKind::Use(_) => 0,
                ItemKind::Fn(_) => 1,
                ItemKind::Const(_) => 2,
                ItemKind::Model(_) => 3,
            },
            Node::Member(_) => 4,
        }
    }
}

impl Printer<'_> {
    /// Joins the lines. Trailing comments of consecutive lines are aligned one column
    /// apart from the longest code among them.
    fn finish(self) -> String {
        let mut out = String::new();
        let mut k = 0;
        while k < self.lines.len() {
            // The run of consecutive lines with trailing comments starting at `k`.
            let mut end = k;
            while end < self.lines.len() && self.lines[end].trailing.is_some() {
                end += 1;
            }
            if end == k {
                out.push_str(self.lines[k].text.trim_end());
                out.push('\n');
                k += 1;
                continue;
            }
            let width = self.lines[k..end]
                .iter()
                .map(|l| l.text.trim_end().chars().count())
                .max()
                .unwrap_or(0);
            for line in &self.lines[k..end] {
                let code = line.text.trim_end();
                out.push_str(code);
                if let Some(c) = &line.trailing {
                    let pad = if code.trim().is_empty() {
                        0
                    } else {
                        width - code.chars().count() + 2
                    };
                    out.push_str(&" ".repeat(pad));
                    out.push_str(c);
                }
                out.push('\n');
            }
            k = end;
        }
        out
    }

    fn file(&mut self, file: &SourceFile) {
        let elements: Vec<Element> = file
            .items
            .iter()
            .map(|i| Element {
                span: i.span,
                node: Node::Item(i),
            })
            .collect();
        self.list(&elements, 0, self.src.len(), 0, true);
    }

    /// Unused comments starting in `lo..hi`, marked used, in source order.
    fn take(&mut self, lo: usize, hi: usize) -> Vec<Comment> {
        let mut out = Vec::new();
        // Comments are in source order.
        let first = self
            .comments
            .partition_point(|c| (c.span.start as usize) < lo);
        for k in first..self.comments.len() {
            let c = &self.comments[k];
            if c.span.start as usize >= hi {
                break;
            }
            if !self.used[k] {
                self.used[k] = true;
                out.push(c.clone());
            }
        }
        out
    }

    /// Unused comments after `end` on the same line, marked used.
    fn take_trailing(&mut self, end: usize) -> Vec<Comment> {
        self.take(end, self.line_end(end))
    }

    /// Where the source line holding `at` ends (its `\n`, or the end of the source).
    fn line_end(&self, at: usize) -> usize {
        let at = at.min(self.src.len());
        self.src[at..].find('\n').map_or(self.src.len(), |i| at + i)
    }

    /// True if an unused comment starts in `lo..hi`.
    fn has_unused_comment(&self, lo: usize, hi: usize) -> bool {
        let first = self
            .comments
            .partition_point(|c| (c.span.start as usize) < lo);
        (first..self.comments.len())
            .take_while(|&k| (self.comments[k].span.start as usize) < hi)
            .any(|k| !self.used[k])
    }

    /// True if the source between `a` and `b` contains an empty line.
    fn blank_between(&self, a: usize, b: usize) -> bool {
        a < b
            && self
                .src
                .get(a..b)
                .is_some_and(|s| s.matches('\n').count() >= 2)
    }

    fn blank(&mut self) {
        if self.lines.last().is_some_and(|l| !l.text.is_empty()) {
            self.lines.push(Line {
                text: String::new(),
                trailing: None,
            });
        }
    }

    fn push_line(&mut self, indent: usize, text: &str) {
        self.lines.push(Line {
            text: format!("{}{text}", INDENT.repeat(indent)),
            trailing: None,
        });
    }

    fn append_trailing(&mut self, trailing: &[Comment]) {
        if trailing.is_empty() {
            return;
        }
        let text = trailing
            .iter()
            .map(|c| c.text.as_str())
            .collect::<Vec<_>>()
            .join(" ");
        if let Some(last) = self.lines.last_mut() {
            last.trailing = Some(text);
        }
    }

    /// Lays out `elements` (items or members) of the region `lo..hi` of the source.
    fn list(&mut self, elements: &[Element], lo: usize, hi: usize, indent: usize, top: bool) {
        let mut cursor = lo;
        let mut first_line = true;
        let mut prev_kind: Option<u8> = None;
        let mut prev_model = false;
        for e in elements {
            let start = e.span.start as usize;
            let end = e.span.end as usize;
            let leading = self.take(cursor, start);
            let inner = if e.node.is_model() || e.node.circuit().is_some() {
                Vec::new()
            } else {
                self.take(start, end)
            };
            let forced = top
                && prev_kind.is_some()
                && (prev_model || e.node.is_model() || prev_kind != Some(e.node.kind_index()));
            let mut at = cursor;
            let mut block_start = true;
            for c in leading.iter() {
                if !first_line
                    && ((block_start && forced) || self.blank_between(at, c.span.start as usize))
                {
                    self.blank();
                }
                self.push_line(indent, &c.text);
                at = c.span.end as usize;
                first_line = false;
                block_start = false;
            }
            if !first_line
                && ((block_start && forced) || (inner.is_empty() && self.blank_between(at, start)))
            {
                self.blank();
            }
            for c in &inner {
                self.push_line(indent, &c.text);
            }
            match e.node {
                Node::Item(item) => self.item(item, indent),
                Node::Member(Member {
                    kind: MemberKind::Circuit(c),
                    span,
                }) => self.circuit(c, *span, indent),
                Node::Member(member) => {
                    for (depth, text) in member_lines(&member.kind, indent) {
                        self.push_line(indent + depth, &text);
                    }
                }
            }
            let trailing = self.take_trailing(end);
            self.append_trailing(&trailing);
            cursor = trailing.last().map_or(end, |c| c.span.end as usize);
            first_line = false;
            prev_kind = Some(e.node.kind_index());
            prev_model = e.node.is_model();
        }
        // Comments after the last element.
        let dangling = self.take(cursor, hi);
        let mut at = cursor;
        for (k, c) in dangling.iter().enumerate() {
            let forced = top && k == 0 && prev_model;
            if !first_line && (forced || self.blank_between(at, c.span.start as usize)) {
                self.blank();
            }
            self.push_line(indent, &c.text);
            at = c.span.end as usize;
            first_line = false;
        }
    }

    /// A circuit: the header, one statement per line (a loop over one gate on one line when
    /// it fits and holds no comment), `}`. Comments stay where they were among the
    /// statements, as among members.
    fn circuit(&mut self, c: &Circuit, span: Span, indent: usize) {
        let mut head = format!("circuit {}(", c.name.name);
        args_text(&mut head, &c.options);
        head.push_str(") {");
        self.statement_block(&head, span, &c.body, indent);
    }

    /// `head {`, the statements one per line, `}`: a circuit, or a loop that does not fit
    /// on one line. Comments on the head's line stay there.
    fn statement_block(&mut self, head: &str, span: Span, body: &[CircuitStmt], indent: usize) {
        let start = span.start as usize;
        // The closing `}` is the last byte of the span.
        let close = (span.end as usize).saturating_sub(1).max(start);
        let body_start = body.first().map_or(close, |s| stmt_span(s).start as usize);
        let head_end = self.line_end(start).min(body_start);
        let head_comments = self.take(start, head_end);
        self.push_line(indent, head);
        self.append_trailing(&head_comments);
        self.statements(body, head_end, close, indent + 1);
        self.push_line(indent, "}");
    }

    /// The statements of a circuit's block (or loop) in the source region `lo..hi`.
    fn statements(&mut self, body: &[CircuitStmt], lo: usize, hi: usize, indent: usize) {
        let mut cursor = lo;
        let mut first_line = true;
        for stmt in body {
            let span = stmt_span(stmt);
            let (start, end) = (span.start as usize, span.end as usize);
            let leading = self.take(cursor, start);
            let mut at = cursor;
            for c in &leading {
                if !first_line && self.blank_between(at, c.span.start as usize) {
                    self.blank();
                }
                self.push_line(indent, &c.text);
                at = c.span.end as usize;
                first_line = false;
            }
            if !first_line && self.blank_between(at, start) {
                self.blank();
            }
            match stmt {
                CircuitStmt::Gate(e) => {
                    // A comment inside a gate's call moves before it.
                    for c in self.take(start, end) {
                        self.push_line(indent, &c.text);
                    }
                    self.push_line(indent, &format_expr(e));
                }
                CircuitStmt::For { binder, body, .. } => {
                    let mut head = format!("for {} in ", binder.var.name);
                    expr(&mut head, &binder.start, 0);
                    head.push_str("..");
                    expr(&mut head, &binder.end, 0);
                    head.push_str(" {");
                    let has_comment = self.has_unused_comment(start, end);
                    let one_line = match &body[..] {
                        [] if !has_comment => Some(format!("{head}}}")),
                        [CircuitStmt::Gate(g)] if !has_comment => {
                            Some(format!("{head} {} }}", format_expr(g)))
                        }
                        _ => None,
                    };
                    match one_line {
                        Some(line) if indent * INDENT.len() + line.chars().count() <= MAX_WIDTH => {
                            self.push_line(indent, &line);
                        }
                        _ => self.statement_block(&head, span, body, indent),
                    }
                }
            }
            let trailing = self.take_trailing(end);
            self.append_trailing(&trailing);
            cursor = trailing.last().map_or(end, |c| c.span.end as usize);
            first_line = false;
        }
        for c in self.take(cursor, hi) {
            if !first_line && self.blank_between(cursor, c.span.start as usize) {
                self.blank();
            }
            self.push_line(indent, &c.text);
            cursor = c.span.end as usize;
            first_line = false;
        }
    }

    fn item(&mut self, item: &Item, indent: usize) {
        match &item.kind {
            ItemKind::Use(u) => self.push_line(indent, &use_text(u)),
            ItemKind::Fn(f) => self.push_line(indent, &fn_text(f)),
            ItemKind::Const(d) => self.push_line(indent, &decl_text("const", d)),
            ItemKind::Model(m) => self.model(item, m, indent),
        }
    }

    fn model(&mut self, item: &Item, m: &Model, indent: usize) {
        let start = item.span.start as usize;
        let end = item.span.end as usize;
        // The closing `}` is the last byte of the item.
        let close = end.saturating_sub(1).max(start);
        let body_start = m.members.first().map_or(close, |mb| mb.span.start as usize);
        // Comments on the header line stay there.
        let header_line_end = self.line_end(start).min(body_start);
        let header_comments = self.take(start, header_line_end);
        let elements: Vec<Element> = m
            .members
            .iter()
            .map(|mb| Element {
                span: mb.span,
                node: Node::Member(mb),
            })
            .collect();
        let has_inside = !elements.is_empty() || self.has_unused_comment(start, close);
        if !has_inside {
            self.push_line(indent, &format!("model {} {{}}", m.name.name));
            self.append_trailing(&header_comments);
            return;
        }
        self.push_line(indent, &format!("model {} {{", m.name.name));
        self.append_trailing(&header_comments);
        self.list(&elements, header_line_end, close, indent + 1, false);
        self.push_line(indent, "}");
    }
}

// ---------------------------------------------------------------- items and members

fn use_text(u: &UseDecl) -> String {
    let path = u
        .path
        .iter()
        .map(|i| i.name.as_str())
        .collect::<Vec<_>>()
        .join(".");
    if u.names.is_empty() && u.path.len() == 1 {
        return format!("use {path}");
    }
    let names = u
        .names
        .iter()
        .map(|i| i.name.as_str())
        .collect::<Vec<_>>()
        .join(", ");
    format!("use {path}.{{{names}}}")
}

fn fn_text(f: &FnDecl) -> String {
    let mut s = format!("fn {}({})", f.name.name, params_text(&f.params));
    if let Some(t) = &f.result {
        s.push_str(" -> ");
        s.push_str(&type_text(t));
    }
    s.push_str(" = ");
    expr(&mut s, &f.body, 0);
    s
}

fn params_text(ps: &[FnParam]) -> String {
    ps.iter()
        .map(|p| match &p.ty {
            Some(t) => format!("{}: {}", p.name.name, type_text(t)),
            None => p.name.name.clone(),
        })
        .collect::<Vec<_>>()
        .join(", ")
}

fn type_text(t: &TypeAnn) -> String {
    let mut s = String::new();
    if let Some(dims) = &t.tensor {
        s.push_str("real");
        if !dims.is_empty() {
            s.push('[');
            list(&mut s, dims);
            s.push(']');
        }
    }
    if let Some(u) = &t.unit {
        if !s.is_empty() {
            s.push(' ');
        }
        unit(&mut s, u, false);
    }
    s
}

fn binders_text(s: &mut String, binders: &[IndexBinder]) {
    for (k, b) in binders.iter().enumerate() {
        if k > 0 {
            s.push_str(", ");
        }
        s.push_str(&b.var.name);
        s.push_str(" in ");
        expr(s, &b.start, 0);
        s.push_str("..");
        expr(s, &b.end, 0);
    }
}

fn decl_text(kw: &str, d: &Decl) -> String {
    let mut s = format!("{kw} {}", d.name.name);
    if !d.index.is_empty() {
        s.push('[');
        binders_text(&mut s, &d.index);
        s.push(']');
    }
    if let Some(t) = &d.ty {
        s.push_str(": ");
        s.push_str(&type_text(t));
    }
    s.push_str(" = ");
    expr(&mut s, &d.value, 0);
    if d.fixed.is_some() {
        s.push_str(" fixed");
    }
    s
}

/// A member's lines, each with its extra indentation: one line when it fits in
/// [`MAX_WIDTH`] at `indent`, else, when its value is a sum or difference, the head on its
/// own line and one term per continuation line:
///
/// ```text
/// let lap[i in 0..n] =
///     (if i == 0 then u[n - 1] else u[i - 1])
///     + (if i == n - 1 then u[0] else u[i + 1])
///     - 2 * u[i]
/// ```
fn member_lines(kind: &MemberKind, indent: usize) -> Vec<(usize, String)> {
    if let MemberKind::When(w) = kind {
        return when_lines(w, indent);
    }
    let text = member_text(kind);
    let width = indent * INDENT.len() + text.chars().count();
    let Some(value) = member_value(kind) else {
        return vec![(0, text)];
    };
    let terms = sum_terms(value);
    if width <= MAX_WIDTH || terms.len() < 2 {
        return vec![(0, text)];
    }
    let mut value_text = String::new();
    expr(&mut value_text, value, 0);
    let Some(head) = text.strip_suffix(&value_text) else {
        return vec![(0, text)];
    };
    let mut lines = vec![(0, head.trim_end().to_owned())];
    let p = binary_prec(BinaryOp::Add);
    for (k, (op, term)) in terms.iter().enumerate() {
        let mut line = String::new();
        if let Some(op) = op {
            line.push_str(op.symbol());
            line.push(' ');
        }
        // As in `expr`: the first (leftmost) operand binds at the sum's level, the others
        // one level tighter.
        expr(&mut line, term, if k == 0 { p } else { p + 1 });
        lines.push((1, line));
    }
    lines
}

/// An event: on one line when it has one action and fits, else one action per line.
fn when_lines(w: &When, indent: usize) -> Vec<(usize, String)> {
    let mut head = "when ".to_string();
    expr(&mut head, &w.condition, 0);
    head.push_str(" {");
    let actions: Vec<String> = (w.actions.iter())
        .map(|a| {
            let mut s = String::new();
            expr(&mut s, a, 0);
            s
        })
        .collect();
    if let [only] = &actions[..] {
        let line = format!("{head} {only} }}");
        if indent * INDENT.len() + line.chars().count() <= MAX_WIDTH {
            return vec![(0, line)];
        }
    }
    let mut lines = vec![(0, head)];
    lines.extend(actions.into_iter().map(|a| (1, a)));
    lines.push((0, "}".to_string()));
    lines
}

/// Where a circuit statement is in the source.
fn stmt_span(s: &CircuitStmt) -> Span {
    match s {
        CircuitStmt::Gate(e) => e.span,
        CircuitStmt::For { span, .. } => *span,
    }
}

/// `name: value, …` (or bare values) of a call's arguments.
fn args_text(s: &mut String, args: &[Arg]) {
    for (k, a) in args.iter().enumerate() {
        if k > 0 {
            s.push_str(", ");
        }
        if let Some(n) = &a.name {
            s.push_str(&n.name);
            s.push_str(": ");
        }
        expr(s, &a.value, 0);
    }
}

/// The expression a member defines, written last on its line (where breaking applies).
fn member_value(kind: &MemberKind) -> Option<&Expr> {
    match kind {
        MemberKind::Const(d)
        | MemberKind::Param(d)
        | MemberKind::State(d)
        | MemberKind::Let(d)
        | MemberKind::Output(d) => Some(&d.value),
        MemberKind::Der(eq) => Some(&eq.value),
        MemberKind::Algebraic(e) => Some(e),
        MemberKind::Residual(r) => Some(&r.value),
        MemberKind::Loss(l) => Some(&l.value),
        MemberKind::Observable(o) => Some(&o.value),
        _ => None,
    }
}

/// The terms of a left-nested chain of `+` and `-`, each with the operator before it (none
/// for the first): `a - b + c` is `[(None, a), (-, b), (+, c)]`. Anything else is one term.
/// Iterative, so a long chain cannot exhaust the stack.
fn sum_terms(e: &Expr) -> Vec<(Option<BinaryOp>, &Expr)> {
    let mut rev = Vec::new();
    let mut cur = e;
    while let ExprKind::Binary(op @ (BinaryOp::Add | BinaryOp::Sub), a, b) = &cur.kind {
        rev.push((Some(*op), &**b));
        cur = a;
    }
    rev.push((None, cur));
    rev.reverse();
    rev
}

fn member_text(kind: &MemberKind) -> String {
    match kind {
        MemberKind::Const(d) => decl_text("const", d),
        MemberKind::Param(d) => decl_text("param", d),
        MemberKind::State(d) => decl_text("state", d),
        MemberKind::Let(d) => decl_text("let", d),
        MemberKind::Output(d) => decl_text("output", d),
        MemberKind::Der(eq) => {
            let mut s = format!("der({}", eq.target.name);
            if !eq.indices.is_empty() {
                let names = eq
                    .indices
                    .iter()
                    .map(|i| i.name.as_str())
                    .collect::<Vec<_>>()
                    .join(", ");
                s.push_str(&format!("[{names}]"));
            }
            s.push_str(") = ");
            expr(&mut s, &eq.value, 0);
            s
        }
        MemberKind::Algebraic(e) => {
            let mut s = "0 = ".to_string();
            expr(&mut s, e, 0);
            s
        }
        MemberKind::Component(c) => {
            let mut s = format!("component {} = {}(", c.name.name, c.model.name);
            args_text(&mut s, &c.bindings);
            s.push(')');
            s
        }
        MemberKind::Circuit(c) => {
            // Laid out by `Printer::circuit`; this one-line form is for completeness.
            let mut s = format!("circuit {}(", c.name.name);
            args_text(&mut s, &c.options);
            s.push_str(") { … }");
            s
        }
        MemberKind::Observable(o) => {
            let mut s = format!("observable {} = ", o.name.name);
            expr(&mut s, &o.value, 0);
            s
        }
        MemberKind::When(w) => when_lines(w, 0)
            .into_iter()
            .map(|(_, l)| l)
            .collect::<Vec<_>>()
            .join(" "),
        MemberKind::Domain(d) => {
            let mut s = format!("domain {}: ", d.name.name);
            for (k, dim) in d.dims.iter().enumerate() {
                if k > 0 {
                    s.push_str(", ");
                }
                s.push_str(&dim.var.name);
                s.push_str(" in [");
                expr(&mut s, &dim.lo, 0);
                s.push_str(", ");
                expr(&mut s, &dim.hi, 0);
                s.push(']');
                if let Some(u) = &dim.unit {
                    s.push(' ');
                    unit(&mut s, u, false);
                }
            }
            s
        }
        MemberKind::Net(n) => {
            let args = n
                .args
                .iter()
                .map(|a| a.name.as_str())
                .collect::<Vec<_>>()
                .join(", ");
            let mut s = format!("net {}({args}) = ", n.name.name);
            expr(&mut s, &n.arch, 0);
            s
        }
        MemberKind::Residual(r) => {
            let mut s = format!("residual {} on {}", r.name.name, r.domain.name);
            if let Some(c) = &r.condition {
                s.push_str(" where ");
                expr(&mut s, c, 0);
            }
            for o in &r.options {
                s.push_str(", ");
                s.push_str(&o.key.name);
                s.push(' ');
                expr(&mut s, &o.value, 0);
            }
            s.push_str(": ");
            expr(&mut s, &r.value, 0);
            s
        }
        MemberKind::Loss(l) => {
            let mut s = match &l.name {
                Some(n) => format!("loss {} = ", n.name),
                None => "loss = ".to_owned(),
            };
            expr(&mut s, &l.value, 0);
            s
        }
        MemberKind::Data(d) => {
            let mut s = format!("data {}", d.name.name);
            if !d.columns.is_empty() {
                s.push_str(&format!("({})", params_text(&d.columns)));
            }
            s.push_str(" = ");
            expr(&mut s, &d.source, 0);
            s
        }
        MemberKind::Fn(f) => fn_text(f),
        MemberKind::Use(u) => use_text(u),
    }
}

// ---------------------------------------------------------------- units

/// Writes a unit; `operand` is true where a product or quotient needs parentheses (the
/// right side of `*` or `/`, the base of `^`).
fn unit(s: &mut String, u: &UnitExpr, operand: bool) {
    match u {
        UnitExpr::Name(id) => s.push_str(&id.name),
        UnitExpr::One(_) => s.push('1'),
        UnitExpr::Mul(a, b) | UnitExpr::Div(a, b) => {
            if operand {
                s.push('(');
            }
            unit(s, a, false);
            s.push(if matches!(u, UnitExpr::Mul(..)) {
                '*'
            } else {
                '/'
            });
            unit(s, b, true);
            if operand {
                s.push(')');
            }
        }
        UnitExpr::Pow(a, p) => {
            let base_needs_parens = !matches!(**a, UnitExpr::Name(_) | UnitExpr::One(_));
            if base_needs_parens {
                s.push('(');
            }
            unit(s, a, false);
            if base_needs_parens {
                s.push(')');
            }
            if p.den == 1 {
                s.push_str(&format!("^{}", p.num));
            } else {
                s.push_str(&format!("^({}/{})", p.num, p.den));
            }
        }
    }
}

// ---------------------------------------------------------------- expressions

const PREC_IF: u8 = 0;
const PREC_PREFIX: u8 = 6;
const PREC_POWER: u8 = 7;
const PREC_POSTFIX: u8 = 8;

fn binary_prec(op: BinaryOp) -> u8 {
    match op {
        BinaryOp::Or => 1,
        BinaryOp::And => 2,
        BinaryOp::Eq | BinaryOp::Ne | BinaryOp::Lt | BinaryOp::Le | BinaryOp::Gt | BinaryOp::Ge => {
            3
        }
        BinaryOp::Add | BinaryOp::Sub => 4,
        BinaryOp::Mul | BinaryOp::Div => 5,
        BinaryOp::Pow => PREC_POWER,
    }
}

fn prec(e: &Expr) -> u8 {
    match &e.kind {
        ExprKind::If { .. } => PREC_IF,
        ExprKind::Binary(op, ..) => binary_prec(*op),
        ExprKind::Unary(..) => PREC_PREFIX,
        _ => PREC_POSTFIX,
    }
}

fn list(s: &mut String, es: &[Expr]) {
    for (k, e) in es.iter().enumerate() {
        if k > 0 {
            s.push_str(", ");
        }
        expr(s, e, 0);
    }
}

/// An expression as `sci fmt` writes it, on one line (event labels, messages).
pub fn expr_text(e: &Expr) -> String {
    let mut s = String::new();
    expr(&mut s, e, 0);
    s
}

/// Writes `e`, in parentheses if it binds less tightly than `min`. Recursion follows the
/// tree, whose depth the parser bounds.
fn expr(s: &mut String, e: &Expr, min: u8) {
    let p = prec(e);
    if p < min {
        s.push('(');
        expr(s, e, 0);
        s.push(')');
        return;
    }
    match &e.kind {
        ExprKind::Number { text, .. } => s.push_str(text),
        ExprKind::Str(v) => string_literal(s, v),
        ExprKind::Name(id) => s.push_str(&id.name),
        ExprKind::Unary(op, a) => {
            s.push_str(match op {
                UnaryOp::Neg => "-",
                UnaryOp::Plus => "+",
                UnaryOp::Not => "not ",
            });
            // `-(-x)` reads better than `--x`.
            let min = if matches!(a.kind, ExprKind::Unary(..)) {
                PREC_POSTFIX
            } else {
                PREC_PREFIX
            };
            expr(s, a, min);
        }
        ExprKind::Binary(op, a, b) => {
            let (lmin, rmin) = match op {
                BinaryOp::Pow => (PREC_POSTFIX, PREC_PREFIX),
                op if op.is_comparison() => (p + 1, p + 1),
                _ => (p, p + 1),
            };
            expr(s, a, lmin);
            if *op == BinaryOp::Pow {
                s.push('^');
            } else {
                s.push(' ');
                s.push_str(op.symbol());
                s.push(' ');
            }
            expr(s, b, rmin);
        }
        ExprKind::Call { callee, args } => {
            s.push_str(&callee.name);
            s.push('(');
            args_text(s, args);
            s.push(')');
        }
        ExprKind::Index { base, indices } => {
            expr(s, base, PREC_POSTFIX);
            s.push('[');
            list(s, indices);
            s.push(']');
        }
        ExprKind::Field { base, field } => {
            expr(s, base, PREC_POSTFIX);
            s.push('.');
            s.push_str(&field.name);
        }
        ExprKind::If {
            cond,
            then,
            otherwise,
        } => {
            s.push_str("if ");
            expr(s, cond, 0);
            s.push_str(" then ");
            expr(s, then, 0);
            s.push_str(" else ");
            expr(s, otherwise, 0);
        }
        ExprKind::Reduce { op, binders, body } => {
            s.push_str(&op.name);
            s.push('(');
            binders_text(s, binders);
            s.push_str(": ");
            expr(s, body, 0);
            s.push(')');
        }
        ExprKind::Array(items) => {
            s.push('[');
            list(s, items);
            s.push(']');
        }
        // Not reached: input with errors is refused. Printed so a caller of
        // `format_expr` on a broken tree still gets text.
        ExprKind::Error => s.push_str("<error>"),
    }
}

fn string_literal(s: &mut String, v: &str) {
    s.push('"');
    for c in v.chars() {
        match c {
            '"' => s.push_str("\\\""),
            '\\' => s.push_str("\\\\"),
            '\n' => s.push_str("\\n"),
            '\t' => s.push_str("\\t"),
            '\r' => s.push_str("\\r"),
            '\0' => s.push_str("\\0"),
            c if c.is_control() => s.push_str(&format!("\\u{{{:x}}}", c as u32)),
            c => s.push(c),
        }
    }
    s.push('"');
}
