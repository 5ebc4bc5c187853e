//! Comparing trees "modulo spans and ids": used by the formatter's tests (formatted output
//! must re-parse to the same tree) and anywhere two parses of different text are compared.

use crate::ast::*;
use sci_diag::Span;

/// True if `a` and `b` are the same syntax, ignoring every span and expression id.
pub fn same_syntax(a: &SourceFile, b: &SourceFile) -> bool {
    let mut a = a.clone();
    let mut b = b.clone();
    erase_spans(&mut a);
    erase_spans(&mut b);
    a == b
}

/// Sets every span in the tree to the default span and every expression id to 0.
///
/// Recursion follows the tree, whose depth the parser bounds.
pub fn erase_spans(file: &mut SourceFile) {
    for item in &mut file.items {
        item.span = Span::default();
        match &mut item.kind {
            ItemKind::Use(u) => use_decl(u),
            ItemKind::Fn(f) => fn_decl(f),
            ItemKind::Const(d) => decl(d),
            ItemKind::Model(m) => {
                ident(&mut m.name);
                for member in &mut m.members {
                    member.span = Span::default();
                    member_kind(&mut member.kind);
                }
            }
        }
    }
}

fn ident(id: &mut Ident) {
    id.span = Span::default();
}

fn use_decl(u: &mut UseDecl) {
    u.path.iter_mut().for_each(ident);
    u.names.iter_mut().for_each(ident);
}

fn fn_decl(f: &mut FnDecl) {
    ident(&mut f.name);
    f.params.iter_mut().for_each(fn_param);
    if let Some(t) = &mut f.result {
        type_ann(t);
    }
    expr(&mut f.body);
}

fn fn_param(p: &mut FnParam) {
    ident(&mut p.name);
    if let Some(t) = &mut p.ty {
        type_ann(t);
    }
}

fn type_ann(t: &mut TypeAnn) {
    t.span = Span::default();
    if let Some(dims) = &mut t.tensor {
        dims.iter_mut().for_each(expr);
    }
    if let Some(u) = &mut t.unit {
        unit(u);
    }
}

fn unit(u: &mut UnitExpr) {
    match u {
        UnitExpr::Name(id) => ident(id),
        UnitExpr::One(span) => *span = Span::default(),
        UnitExpr::Mul(a, b) | UnitExpr::Div(a, b) => {
            unit(a);
            unit(b);
        }
        UnitExpr::Pow(a, p) => {
            unit(a);
            p.span = Span::default();
        }
    }
}

fn binder(b: &mut IndexBinder) {
    b.span = Span::default();
    ident(&mut b.var);
    expr(&mut b.start);
    expr(&mut b.end);
}

fn decl(d: &mut Decl) {
    ident(&mut d.name);
    d.index.iter_mut().for_each(binder);
    if let Some(t) = &mut d.ty {
        type_ann(t);
    }
    expr(&mut d.value);
    if let Some(fixed) = &mut d.fixed {
        *fixed = Span::default();
    }
}

fn member_kind(kind: &mut MemberKind) {
    match kind {
        MemberKind::Const(d)
        | MemberKind::Param(d)
        | MemberKind::State(d)
        | MemberKind::Let(d)
        | MemberKind::Output(d) => decl(d),
        MemberKind::Der(eq) => {
            ident(&mut eq.target);
            eq.indices.iter_mut().for_each(ident);
            expr(&mut eq.value);
        }
        MemberKind::Algebraic(e) => expr(e),
        MemberKind::Component(c) => {
            ident(&mut c.name);
            ident(&mut c.model);
            for b in &mut c.bindings {
                if let Some(n) = &mut b.name {
                    ident(n);
                }
                expr(&mut b.value);
            }
        }
        MemberKind::When(w) => {
            expr(&mut w.condition);
            w.actions.iter_mut().for_each(expr);
        }
        MemberKind::Circuit(c) => {
            ident(&mut c.name);
            for o in &mut c.options {
                if let Some(n) = &mut o.name {
                    ident(n);
                }
                expr(&mut o.value);
            }
            c.body.iter_mut().for_each(circuit_stmt);
        }
        MemberKind::Observable(o) => {
            ident(&mut o.name);
            expr(&mut o.value);
        }
        MemberKind::Domain(dom) => {
            ident(&mut dom.name);
            for d in &mut dom.dims {
                d.span = Span::default();
                ident(&mut d.var);
                expr(&mut d.lo);
                expr(&mut d.hi);
                if let Some(u) = &mut d.unit {
                    unit(u);
                }
            }
        }
        MemberKind::Net(n) => {
            ident(&mut n.name);
            n.args.iter_mut().for_each(ident);
            expr(&mut n.arch);
        }
        MemberKind::Residual(r) => {
            ident(&mut r.name);
            ident(&mut r.domain);
            if let Some(c) = &mut r.condition {
                expr(c);
            }
            for o in &mut r.options {
                o.span = Span::default();
                ident(&mut o.key);
                expr(&mut o.value);
            }
            expr(&mut r.value);
        }
        MemberKind::Loss(l) => {
            if let Some(n) = &mut l.name {
                ident(n);
            }
            expr(&mut l.value);
        }
        MemberKind::Data(d) => {
            ident(&mut d.name);
            d.columns.iter_mut().for_each(fn_param);
            expr(&mut d.source);
        }
        MemberKind::Fn(f) => fn_decl(f),
        MemberKind::Use(u) => use_decl(u),
    }
}

fn circuit_stmt(s: &mut CircuitStmt) {
    match s {
        CircuitStmt::Gate(e) => expr(e),
        CircuitStmt::For { binder, body, span } => {
            *span = Span::default();
            binder.span = Span::default();
            ident(&mut binder.var);
            expr(&mut binder.start);
            expr(&mut binder.end);
            body.iter_mut().for_each(circuit_stmt);
        }
    }
}

fn expr(e: &mut Expr) {
    e.walk_mut(&mut |e| {
        e.span = Span::default();
        e.id = ExprId(0);
        match &mut e.kind {
            ExprKind::Name(id) => ident(id),
            ExprKind::Call { callee, args } => {
                ident(callee);
                for a in args {
                    if let Some(n) = &mut a.name {
                        ident(n);
                    }
                }
            }
            ExprKind::Field { field, .. } => ident(field),
            ExprKind::Reduce { op, binders, .. } => {
                ident(op);
                for b in binders {
                    b.span = Span::default();
                    ident(&mut b.var);
                }
            }
            _ => {}
        }
    });
}
