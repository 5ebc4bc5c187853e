//! AST construction for the grammar's actions: spans, the depth guard, and the checks that
//! are easier in code than in an LALR(1) grammar (reductions, `der` targets, unit numbers).
//!
//! Depth guard: while parsing, an expression's `id` field holds the *height* of its tree
//! (leaves are 1; [`crate::ast::number_exprs`] assigns the real ids afterwards). A node that
//! would be higher than [`MAX_EXPR_DEPTH`] is replaced by an `Error` node marked
//! [`POISONED`], with one diagnostic (E0115); parents of a poisoned node become poisoned
//! errors silently. So no tree deeper than the limit is ever built, and neither the later
//! recursive passes nor `Drop` can overflow the stack.

use super::MAX_EXPR_DEPTH;
use crate::ast::*;
use crate::lexer::Tok;
use lalrpop_util::ErrorRecovery;
use sci_diag::{Diagnostic, FileId, Span};
use std::convert::Infallible;

/// A syntax error the generated parser recovered from.
pub type Recovery = ErrorRecovery<usize, Tok, Infallible>;

/// Height marker of an error node that replaced a too-deep tree (already reported).
pub const POISONED: u32 = u32::MAX;

/// The reductions: calls with `i in a..b` binders and a `: body` build a `Reduce` node.
pub const REDUCTIONS: [&str; 5] = ["sum", "prod", "max", "min", "mean"];

/// State shared by the grammar actions.
pub struct Ctx {
    pub file: FileId,
    pub diagnostics: Vec<Diagnostic>,
    pub recoveries: Vec<Recovery>,
}

/// One argument of a call as parsed, before we know whether the call is a reduction.
pub enum ArgNode {
    Positional(Expr),
    Named(Ident, Expr),
    Binder(IndexBinder),
    /// The last binder of a reduction, followed by `: body`.
    BinderBody(IndexBinder, Expr),
}

/// A unit expression with its height (or [`POISONED`]).
pub type UnitNode = (UnitExpr, u32);

fn height(e: &Expr) -> u32 {
    e.id.0
}

impl Ctx {
    /// A new context for parsing `file`.
    pub fn new(file: FileId) -> Ctx {
        Ctx {
            file,
            diagnostics: Vec::new(),
            recoveries: Vec::new(),
        }
    }

    /// The span of bytes `l..r` of the file.
    pub fn span(&self, l: usize, r: usize) -> Span {
        Span::new(self.file, l, r)
    }

    /// A name token as an [`Ident`].
    pub fn ident(&self, name: String, l: usize, r: usize) -> Ident {
        Ident {
            name,
            span: self.span(l, r),
        }
    }

    /// Records a recovered syntax error (turned into a diagnostic after parsing).
    pub fn recover(&mut self, e: Recovery) {
        self.recoveries.push(e);
    }

    /// Records a recovered syntax error and returns the error node standing for it.
    pub fn recover_expr(&mut self, e: Recovery, l: usize, r: usize) -> Expr {
        self.recover(e);
        self.leaf(ExprKind::Error, l, r)
    }

    /// A leaf expression (height 1).
    pub fn leaf(&self, kind: ExprKind, l: usize, r: usize) -> Expr {
        Expr {
            kind,
            span: self.span(l, r),
            id: ExprId(1),
        }
    }

    /// A number literal.
    pub fn number(&self, text: String, l: usize, r: usize) -> Expr {
        let value = text.parse::<f64>().unwrap_or(f64::NAN);
        self.leaf(ExprKind::Number { value, text }, l, r)
    }

    /// The stand-in for a region the token pre-pass cut out as too deep (already reported).
    pub fn too_deep(&self, l: usize, r: usize) -> Expr {
        Expr {
            kind: ExprKind::Error,
            span: self.span(l, r),
            id: ExprId(POISONED),
        }
    }

    /// An inner node: checks the height of its direct children against the limit.
    pub fn node(&mut self, kind: ExprKind, l: usize, r: usize) -> Expr {
        let span = self.span(l, r);
        let mut max = 0u32;
        let mut poisoned = false;
        let mut see = |e: &Expr| {
            let h = height(e);
            poisoned |= h == POISONED;
            max = max.max(h);
        };
        match &kind {
            ExprKind::Number { .. } | ExprKind::Str(_) | ExprKind::Name(_) | ExprKind::Error => {}
            ExprKind::Unary(_, a) => see(a),
            ExprKind::Binary(_, a, b) => {
                see(a);
                see(b);
            }
            ExprKind::Call { args, .. } => args.iter().for_each(|a| see(&a.value)),
            ExprKind::Index { base, indices } => {
                see(base);
                indices.iter().for_each(see);
            }
            ExprKind::Field { base, .. } => see(base),
            ExprKind::If {
                cond,
                then,
                otherwise,
            } => {
                see(cond);
                see(then);
                see(otherwise);
            }
            ExprKind::Reduce { binders, body, .. } => {
                for b in binders {
                    see(&b.start);
                    see(&b.end);
                }
                see(body);
            }
            ExprKind::Array(items) => items.iter().for_each(see),
        }
        self.checked(kind, span, max, poisoned)
    }

    fn checked(&mut self, kind: ExprKind, span: Span, max_child: u32, poisoned: bool) -> Expr {
        if poisoned {
            return Expr {
                kind: ExprKind::Error,
                span,
                id: ExprId(POISONED),
            };
        }
        let h = max_child.saturating_add(1);
        if h as usize > MAX_EXPR_DEPTH {
            self.diagnostics.push(too_deep_diagnostic(span));
            return Expr {
                kind: ExprKind::Error,
                span,
                id: ExprId(POISONED),
            };
        }
        Expr {
            kind,
            span,
            id: ExprId(h),
        }
    }

    /// `(e)`: no node, but the parentheses count as a level of nesting.
    pub fn paren(&mut self, mut e: Expr, l: usize, r: usize) -> Expr {
        let h = height(&e);
        if h == POISONED {
            return e;
        }
        if h as usize + 1 > MAX_EXPR_DEPTH {
            self.diagnostics.push(too_deep_diagnostic(self.span(l, r)));
            return Expr {
                kind: ExprKind::Error,
                span: self.span(l, r),
                id: ExprId(POISONED),
            };
        }
        e.id = ExprId(h + 1);
        e
    }

    pub fn binary(&mut self, op: BinaryOp, a: Expr, b: Expr, l: usize, r: usize) -> Expr {
        self.node(ExprKind::Binary(op, Box::new(a), Box::new(b)), l, r)
    }

    pub fn unary(&mut self, op: UnaryOp, a: Expr, l: usize, r: usize) -> Expr {
        self.node(ExprKind::Unary(op, Box::new(a)), l, r)
    }

    /// `x²`: a power with a literal exponent written as a superscript.
    pub fn sup_power(&mut self, base: Expr, n: i64, sl: usize, sr: usize, l: usize) -> Expr {
        let digits = self.leaf(
            ExprKind::Number {
                value: n.unsigned_abs() as f64,
                text: n.unsigned_abs().to_string(),
            },
            sl,
            sr,
        );
        let exponent = if n < 0 {
            self.unary(UnaryOp::Neg, digits, sl, sr)
        } else {
            digits
        };
        self.binary(BinaryOp::Pow, base, exponent, l, sr)
    }

    /// A call, or a reduction when the arguments are `i in a..b` binders with a body.
    pub fn call(&mut self, callee: Ident, args: Vec<ArgNode>, l: usize, r: usize) -> Expr {
        let has_binders = args
            .iter()
            .any(|a| matches!(a, ArgNode::Binder(_) | ArgNode::BinderBody(..)));
        if !has_binders {
            let args = args
                .into_iter()
                .map(|a| match a {
                    ArgNode::Positional(value) => Arg { name: None, value },
                    ArgNode::Named(name, value) => Arg {
                        name: Some(name),
                        value,
                    },
                    // Unreachable: no binders here.
                    ArgNode::Binder(b) | ArgNode::BinderBody(b, _) => Arg {
                        name: None,
                        value: b.start,
                    },
                })
                .collect();
            return self.node(ExprKind::Call { callee, args }, l, r);
        }
        self.reduction(callee, args, l, r)
    }

    fn reduction(&mut self, op: Ident, args: Vec<ArgNode>, l: usize, r: usize) -> Expr {
        let span = self.span(l, r);
        if !REDUCTIONS.contains(&op.name.as_str()) {
            self.diagnostics.push(
                Diagnostic::error(
                    "E0118",
                    format!(
                        "`{}` is not a reduction, so its arguments cannot bind an index `i in a..b`.",
                        op.name
                    ),
                )
                .with_primary(op.span, "not a reduction")
                .with_note("the reductions are `sum`, `prod`, `max`, `min` and `mean`"),
            );
            return self.leaf(ExprKind::Error, l, r);
        }
        let n = args.len();
        let mut binders = Vec::with_capacity(n);
        let mut body = None;
        for (k, a) in args.into_iter().enumerate() {
            match a {
                ArgNode::Binder(b) => binders.push(b),
                ArgNode::BinderBody(b, e) if k + 1 == n => {
                    binders.push(b);
                    body = Some(e);
                }
                ArgNode::BinderBody(_, e) => {
                    self.diagnostics.push(
                        Diagnostic::error(
                            "E0118",
                            format!("The body of `{}` must come after the last index.", op.name),
                        )
                        .with_primary(e.span, "this body is followed by more arguments")
                        .with_help(format!(
                            "write all indices first: `{}(i in 0..n, j in 0..m: body)`",
                            op.name
                        )),
                    );
                    return self.leaf(ExprKind::Error, l, r);
                }
                ArgNode::Positional(e) | ArgNode::Named(_, e) => {
                    self.diagnostics.push(
                        Diagnostic::error(
                            "E0118",
                            format!(
                                "A `{}` over indices takes only `i in a..b` indices and a body.",
                                op.name
                            ),
                        )
                        .with_primary(e.span, "not an index `i in a..b`")
                        .with_help(format!("write `{}(i in 0..n: body)`", op.name)),
                    );
                    return self.leaf(ExprKind::Error, l, r);
                }
            }
        }
        let Some(body) = body else {
            self.diagnostics.push(
                Diagnostic::error(
                    "E0118",
                    format!("This `{}` has indices but no body.", op.name),
                )
                .with_primary(span, "expected `: body` after the last index")
                .with_help(format!("write `{}(i in 0..n: x[i])`", op.name)),
            );
            return self.leaf(ExprKind::Error, l, r);
        };
        self.node(
            ExprKind::Reduce {
                op,
                binders,
                body: Box::new(body),
            },
            l,
            r,
        )
    }

    /// `i in a..b`.
    pub fn binder(&self, var: Ident, start: Expr, end: Expr, l: usize, r: usize) -> IndexBinder {
        IndexBinder {
            var,
            start,
            end,
            span: self.span(l, r),
        }
    }

    /// The indices of `der(u[i, j])`: each must be a bare index variable.
    pub fn der_indices(&mut self, indices: Vec<Expr>) -> Vec<Ident> {
        let mut out = Vec::with_capacity(indices.len());
        for e in indices {
            match e.kind {
                ExprKind::Name(id) => out.push(id),
                ExprKind::Error => {}
                _ => self.diagnostics.push(
                    Diagnostic::error(
                        "E0120",
                        "The index on the left of a `der` equation must be an index variable.",
                    )
                    .with_primary(e.span, "not a plain name such as `i`")
                    .with_help(
                        "write `der(u[i]) = …` and use `i + 1` etc. only on the right-hand side",
                    ),
                ),
            }
        }
        out
    }

    /// `fixed` belongs to parameters only: on a `const`, `state`, `let` or `output` it is
    /// reported (E0122) and dropped.
    pub fn not_fixed(&mut self, mut decl: Decl, keyword: &str) -> Decl {
        if let Some(span) = decl.fixed.take() {
            let why = match keyword {
                "const" => "a constant never changes, so it needs no `fixed`",
                "state" => "a state is solved for, not trained",
                _ => "only parameters are trained",
            };
            self.diagnostics.push(
                Diagnostic::error(
                    "E0122",
                    format!("`fixed` applies to parameters only, not to a `{keyword}`."),
                )
                .with_primary(span, why)
                .with_help(
                    "remove `fixed` (a parameter kept out of training is declared \
                     `param k = 1.0 fixed`)",
                ),
            );
        }
        decl
    }

    /// `0 = value`: an algebraic equation. Its left side must be the number zero (E0124
    /// otherwise, with the equation moved to the right: `a = b` is `0 = a - b`).
    pub fn algebraic(&mut self, zero: String, l: usize, r: usize, value: Expr) -> Expr {
        let is_zero = zero.replace('_', "").parse::<f64>().is_ok_and(|v| v == 0.0);
        if !is_zero {
            self.diagnostics.push(
                Diagnostic::error(
                    "E0124",
                    format!(
                        "An algebraic equation is written `0 = …`, but its left side is `{zero}`."
                    ),
                )
                .with_primary(self.span(l, r), "not zero")
                .with_help(format!(
                    "move everything to the right: `0 = {} - {zero}`",
                    crate::fmt::expr_text(&value)
                )),
            );
        }
        value
    }

    /// `x = value` inside an event's block: reported (E0123) with the `reinit` that sets a
    /// state, and read as that `reinit` so checking goes on.
    pub fn event_assignment(&mut self, target: Expr, value: Expr, l: usize, r: usize) -> Expr {
        let fix = format!(
            "reinit({}, {})",
            crate::fmt::expr_text(&target),
            crate::fmt::expr_text(&value)
        );
        self.diagnostics.push(
            Diagnostic::error(
                "E0123",
                "Inside `when`, a state is set with `reinit(state, value)`, not with `=`.",
            )
            .with_primary(self.span(l, r), "an assignment")
            .with_help(format!("write `{fix}`")),
        );
        let callee = Ident {
            name: "reinit".to_string(),
            span: target.span,
        };
        let args = vec![ArgNode::Positional(target), ArgNode::Positional(value)];
        self.call(callee, args, l, r)
    }

    // --- units ---

    /// A unit name leaf.
    pub fn unit_name(&self, id: Ident) -> UnitNode {
        (UnitExpr::Name(id), 1)
    }

    /// The number `1` in a unit; any other number is reported (E0119).
    pub fn unit_number(&mut self, text: String, l: usize, r: usize) -> UnitNode {
        let span = self.span(l, r);
        if text.parse::<f64>().ok() != Some(1.0) {
            self.diagnostics.push(
                Diagnostic::error(
                    "E0119",
                    format!(
                        "The number `{text}` cannot be part of a unit; only `1` can (as in `1/s`)."
                    ),
                )
                .with_primary(span, "not a unit")
                .with_help("scale the value instead, or use a prefixed unit such as `km`"),
            );
        }
        (UnitExpr::One(span), 1)
    }

    fn unit_checked(&mut self, unit: UnitExpr, heights: &[u32]) -> UnitNode {
        if heights.contains(&POISONED) {
            return (UnitExpr::One(unit.span()), POISONED);
        }
        let h = heights.iter().copied().max().unwrap_or(0).saturating_add(1);
        if h as usize > MAX_EXPR_DEPTH {
            let span = unit.span();
            self.diagnostics.push(too_deep_diagnostic(span));
            return (UnitExpr::One(span), POISONED);
        }
        (unit, h)
    }

    pub fn unit_mul(&mut self, a: UnitNode, b: UnitNode) -> UnitNode {
        self.unit_checked(UnitExpr::Mul(Box::new(a.0), Box::new(b.0)), &[a.1, b.1])
    }

    pub fn unit_div(&mut self, a: UnitNode, b: UnitNode) -> UnitNode {
        self.unit_checked(UnitExpr::Div(Box::new(a.0), Box::new(b.0)), &[a.1, b.1])
    }

    pub fn unit_pow(&mut self, a: UnitNode, p: UnitPower) -> UnitNode {
        self.unit_checked(UnitExpr::Pow(Box::new(a.0), p), &[a.1])
    }

    /// `(unit)`: counts as a level of nesting.
    pub fn unit_paren(&mut self, a: UnitNode) -> UnitNode {
        self.unit_checked(a.0, &[a.1])
    }

    /// An integer exponent of a unit, as written (`2`, `-1`, the parts of `(1/2)`).
    pub fn unit_int(&mut self, text: &str, negative: bool, l: usize, r: usize) -> i64 {
        match text.parse::<i64>() {
            Ok(v) if v <= 1_000_000 => {
                if negative {
                    -v
                } else {
                    v
                }
            }
            _ => {
                self.diagnostics.push(
                    Diagnostic::error(
                        "E0119",
                        format!("The unit exponent `{text}` must be a small whole number."),
                    )
                    .with_primary(self.span(l, r), "not a whole number")
                    .with_help("write a fractional power as `m^(1/2)`"),
                );
                1
            }
        }
    }

    /// `m^(num/den)`.
    pub fn unit_fraction(&mut self, num: i64, den: i64, l: usize, r: usize) -> UnitPower {
        let span = self.span(l, r);
        if den == 0 {
            self.diagnostics.push(
                Diagnostic::error("E0119", "A unit exponent cannot divide by zero.")
                    .with_primary(span, "zero denominator"),
            );
            return UnitPower { num, den: 1, span };
        }
        UnitPower { num, den, span }
    }
}

/// The E0115 diagnostic.
pub fn too_deep_diagnostic(span: Span) -> Diagnostic {
    Diagnostic::error(
        "E0115",
        format!(
            "This expression is nested too deeply (more than {MAX_EXPR_DEPTH} levels; every \
             operator of a chain like `a + b + c + …` is one level)."
        ),
    )
    .with_primary(span, "nested too deeply")
    .with_help("split it into named parts with `let` (a long sum or product: in parts)")
}
