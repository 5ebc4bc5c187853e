//! A compact, readable dump of a tree for snapshot tests and `sci` debugging output.
//!
//! Items and members read like the source; expressions are written as prefix
//! S-expressions so the tree's shape (precedence, associativity) is explicit:
//! `der(u[i]) = (/ (* kappa (+ (- (index u (- i 1)) …)))`. Spans and ids are left out.

use crate::ast::*;
use std::fmt::Write;

/// The dump of a whole file, one line per item or member.
pub fn dump(file: &SourceFile) -> String {
    let mut out = String::new();
    for item in &file.items {
        match &item.kind {
            ItemKind::Use(u) => line(&mut out, 0, &use_decl(u)),
            ItemKind::Fn(f) => line(&mut out, 0, &fn_decl(f)),
            ItemKind::Const(d) => line(&mut out, 0, &decl("const", d)),
            ItemKind::Model(m) => {
                line(&mut out, 0, &format!("model {}", m.name.name));
                for member in &m.members {
                    line(&mut out, 1, &member_kind(&member.kind));
                }
            }
        }
    }
    out
}

/// The S-expression form of one expression.
pub fn dump_expr(e: &Expr) -> String {
    let mut s = String::new();
    expr(&mut s, e);
    s
}

fn line(out: &mut String, indent: usize, text: &str) {
    for _ in 0..indent {
        out.push_str("  ");
    }
    out.push_str(text);
    out.push('\n');
}

fn use_decl(u: &UseDecl) -> String {
    format!("use {}.{{{}}}", names(&u.path, "."), names(&u.names, ", "))
}

fn names(ids: &[Ident], sep: &str) -> String {
    ids.iter()
        .map(|i| i.name.as_str())
        .collect::<Vec<_>>()
        .join(sep)
}

fn fn_decl(f: &FnDecl) -> String {
    let mut s = format!("fn {}({})", f.name.name, params(&f.params));
    if let Some(t) = &f.result {
        let _ = write!(s, " -> {}", type_ann(t));
    }
    let _ = write!(s, " = {}", dump_expr(&f.body));
    s
}

fn params(ps: &[FnParam]) -> String {
    ps.iter()
        .map(|p| match &p.ty {
            Some(t) => format!("{}: {}", p.name.name, type_ann(t)),
            None => p.name.name.clone(),
        })
        .collect::<Vec<_>>()
        .join(", ")
}

fn type_ann(t: &TypeAnn) -> String {
    let mut parts = Vec::new();
    if let Some(dims) = &t.tensor {
        if dims.is_empty() {
            parts.push("real".to_owned());
        } else {
            parts.push(format!("real[{}]", exprs(dims)));
        }
    }
    if let Some(u) = &t.unit {
        parts.push(format!("unit {}", unit(u)));
    }
    parts.join(" ")
}

fn unit(u: &UnitExpr) -> String {
    match u {
        UnitExpr::Name(id) => id.name.clone(),
        UnitExpr::One(_) => "1".to_owned(),
        UnitExpr::Mul(a, b) => format!("(* {} {})", unit(a), unit(b)),
        UnitExpr::Div(a, b) => format!("(/ {} {})", unit(a), unit(b)),
        UnitExpr::Pow(a, p) if p.den == 1 => format!("(^ {} {})", unit(a), p.num),
        UnitExpr::Pow(a, p) => format!("(^ {} {}/{})", unit(a), p.num, p.den),
    }
}

fn binders(bs: &[IndexBinder]) -> String {
    bs.iter()
        .map(|b| {
            format!(
                "{} in {}..{}",
                b.var.name,
                dump_expr(&b.start),
                dump_expr(&b.end)
            )
        })
        .collect::<Vec<_>>()
        .join(", ")
}

fn exprs(es: &[Expr]) -> String {
    es.iter().map(dump_expr).collect::<Vec<_>>().join(", ")
}

fn decl(kw: &str, d: &Decl) -> String {
    let mut s = format!("{kw} {}", d.name.name);
    if !d.index.is_empty() {
        let _ = write!(s, "[{}]", binders(&d.index));
    }
    if let Some(t) = &d.ty {
        let _ = write!(s, ": {}", type_ann(t));
    }
    let _ = write!(s, " = {}", dump_expr(&d.value));
    if d.fixed.is_some() {
        s.push_str(" fixed");
    }
    s
}

fn circuit_stmt(s: &CircuitStmt) -> String {
    match s {
        CircuitStmt::Gate(e) => dump_expr(e),
        CircuitStmt::For { binder, body, .. } => {
            let body: Vec<String> = body.iter().map(circuit_stmt).collect();
            format!(
                "for {} in {}..{} {{ {} }}",
                binder.var.name,
                dump_expr(&binder.start),
                dump_expr(&binder.end),
                body.join("; ")
            )
        }
    }
}

fn member_kind(kind: &MemberKind) -> String {
    match kind {
        MemberKind::Const(d) => decl("const", d),
        MemberKind::Param(d) => decl("param", d),
        MemberKind::State(d) => decl("state", d),
        MemberKind::Let(d) => decl("let", d),
        MemberKind::Output(d) => decl("output", d),
        MemberKind::Der(eq) => {
            let idx = if eq.indices.is_empty() {
                String::new()
            } else {
                format!("[{}]", names(&eq.indices, ", "))
            };
            format!("der({}{idx}) = {}", eq.target.name, dump_expr(&eq.value))
        }
        MemberKind::Algebraic(e) => format!("0 = {}", dump_expr(e)),
        MemberKind::Component(c) => {
            let bindings: Vec<String> = (c.bindings.iter())
                .map(|b| {
                    let name = b.name.as_ref().map_or("?", |n| n.name.as_str());
                    format!("{name}: {}", dump_expr(&b.value))
                })
                .collect();
            format!(
                "component {} = {}({})",
                c.name.name,
                c.model.name,
                bindings.join(", ")
            )
        }
        MemberKind::When(w) => {
            let actions: Vec<String> = w.actions.iter().map(dump_expr).collect();
            format!(
                "when {} {{ {} }}",
                dump_expr(&w.condition),
                actions.join("; ")
            )
        }
        MemberKind::Circuit(c) => {
            let options: Vec<String> = (c.options.iter())
                .map(|o| {
                    let name = o.name.as_ref().map_or("?", |n| n.name.as_str());
                    format!("{name}: {}", dump_expr(&o.value))
                })
                .collect();
            let body: Vec<String> = c.body.iter().map(circuit_stmt).collect();
            format!(
                "circuit {}({}) {{ {} }}",
                c.name.name,
                options.join(", "),
                body.join("; ")
            )
        }
        MemberKind::Observable(o) => {
            format!("observable {} = {}", o.name.name, dump_expr(&o.value))
        }
        MemberKind::Domain(d) => {
            let dims = d
                .dims
                .iter()
                .map(|dim| {
                    format!(
                        "{} in [{}, {}]{}",
                        dim.var.name,
                        dump_expr(&dim.lo),
                        dump_expr(&dim.hi),
                        dim.unit
                            .as_ref()
                            .map(|u| format!(" unit {}", unit(u)))
                            .unwrap_or_default()
                    )
                })
                .collect::<Vec<_>>()
                .join(", ");
            format!("domain {}: {dims}", d.name.name)
        }
        MemberKind::Net(n) => format!(
            "net {}({}) = {}",
            n.name.name,
            names(&n.args, ", "),
            dump_expr(&n.arch)
        ),
        MemberKind::Residual(r) => {
            let mut s = format!("residual {} on {}", r.name.name, r.domain.name);
            if let Some(c) = &r.condition {
                let _ = write!(s, " where {}", dump_expr(c));
            }
            for o in &r.options {
                let _ = write!(s, ", {} {}", o.key.name, dump_expr(&o.value));
            }
            let _ = write!(s, ": {}", dump_expr(&r.value));
            s
        }
        MemberKind::Loss(l) => match &l.name {
            Some(n) => format!("loss {} = {}", n.name, dump_expr(&l.value)),
            None => format!("loss = {}", dump_expr(&l.value)),
        },
        MemberKind::Data(d) => format!(
            "data {}({}) = {}",
            d.name.name,
            params(&d.columns),
            dump_expr(&d.source)
        ),
        MemberKind::Fn(f) => fn_decl(f),
        MemberKind::Use(u) => use_decl(u),
    }
}

/// Writes `e`; recursion follows the tree, whose depth the parser bounds.
fn expr(s: &mut String, e: &Expr) {
    match &e.kind {
        ExprKind::Number { text, .. } => s.push_str(text),
        ExprKind::Str(v) => {
            let _ = write!(s, "{v:?}");
        }
        ExprKind::Name(id) => s.push_str(&id.name),
        ExprKind::Unary(op, a) => {
            let name = match op {
                UnaryOp::Neg => "neg",
                UnaryOp::Plus => "pos",
                UnaryOp::Not => "not",
            };
            let _ = write!(s, "({name} ");
            expr(s, a);
            s.push(')');
        }
        ExprKind::Binary(op, a, b) => {
            let _ = write!(s, "({} ", op.symbol());
            expr(s, a);
            s.push(' ');
            expr(s, b);
            s.push(')');
        }
        ExprKind::Call { callee, args } => {
            let _ = write!(s, "({}", callee.name);
            for a in args {
                s.push(' ');
                if let Some(n) = &a.name {
                    let _ = write!(s, "{}=", n.name);
                }
                expr(s, &a.value);
            }
            s.push(')');
        }
        ExprKind::Index { base, indices } => {
            s.push_str("(index ");
            expr(s, base);
            for i in indices {
                s.push(' ');
                expr(s, i);
            }
            s.push(')');
        }
        ExprKind::Field { base, field } => {
            s.push_str("(field ");
            expr(s, base);
            let _ = write!(s, " {})", field.name);
        }
        ExprKind::If {
            cond,
            then,
            otherwise,
        } => {
            s.push_str("(if ");
            expr(s, cond);
            s.push(' ');
            expr(s, then);
            s.push(' ');
            expr(s, otherwise);
            s.push(')');
        }
        ExprKind::Reduce { op, binders, body } => {
            let _ = write!(s, "({}", op.name);
            for b in binders {
                let _ = write!(s, " [{} ", b.var.name);
                expr(s, &b.start);
                s.push(' ');
                expr(s, &b.end);
                s.push(']');
            }
            s.push(' ');
            expr(s, body);
            s.push(')');
        }
        ExprKind::Array(items) => {
            s.push('[');
            for (k, i) in items.iter().enumerate() {
                if k > 0 {
                    s.push(' ');
                }
                expr(s, i);
            }
            s.push(']');
        }
        ExprKind::Error => s.push_str("<error>"),
    }
}
