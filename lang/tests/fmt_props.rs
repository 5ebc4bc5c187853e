//! Property test of the expression printer: for random trees (every expression form and
//! operator, any nesting), the printed text parses back to the same tree. This checks the
//! minimal-parentheses rule against the grammar's precedence and associativity.

use proptest::prelude::*;
use sci_diag::{FileId, Span};
use sci_lang::ast::*;
use sci_lang::fmt::{format_expr, same_syntax};
use sci_lang::parser::parse;

fn ident(name: &str) -> Ident {
    Ident {
        name: name.to_owned(),
        span: Span::default(),
    }
}

fn e(kind: ExprKind) -> Expr {
    Expr::new(kind, Span::default())
}

fn leaf() -> impl Strategy<Value = Expr> {
    prop_oneof![
        (0u32..1000).prop_map(|n| e(ExprKind::Number {
            value: n as f64,
            text: n.to_string()
        })),
        Just(e(ExprKind::Number {
            value: 2.5,
            text: "2.5".to_owned()
        })),
        Just(e(ExprKind::Number {
            value: 3.0e7,
            text: "3.0e7".to_owned()
        })),
        prop_oneof![Just("x"), Just("y"), Just("α"), Just("π"), Just("u_left")]
            .prop_map(|n| e(ExprKind::Name(ident(n)))),
        Just(e(ExprKind::Str("a \"q\" \\ b".to_owned()))),
    ]
}

fn binary_op() -> impl Strategy<Value = BinaryOp> {
    prop_oneof![
        Just(BinaryOp::Or),
        Just(BinaryOp::And),
        Just(BinaryOp::Eq),
        Just(BinaryOp::Ne),
        Just(BinaryOp::Lt),
        Just(BinaryOp::Le),
        Just(BinaryOp::Gt),
        Just(BinaryOp::Ge),
        Just(BinaryOp::Add),
        Just(BinaryOp::Sub),
        Just(BinaryOp::Mul),
        Just(BinaryOp::Div),
        Just(BinaryOp::Pow),
    ]
}

fn expr() -> impl Strategy<Value = Expr> {
    leaf().prop_recursive(6, 64, 4, |inner| {
        let binder = (prop_oneof![Just("i"), Just("j")], inner.clone(), inner.clone()).prop_map(
            |(v, start, end)| IndexBinder { var: ident(v), start, end, span: Span::default() },
        );
        prop_oneof![
            2 => (
                prop_oneof![Just(UnaryOp::Neg), Just(UnaryOp::Plus), Just(UnaryOp::Not)],
                inner.clone()
            )
                .prop_map(|(op, a)| e(ExprKind::Unary(op, Box::new(a)))),
            6 => (binary_op(), inner.clone(), inner.clone())
                .prop_map(|(op, a, b)| e(ExprKind::Binary(op, Box::new(a), Box::new(b)))),
            1 => (
                prop_oneof![Just("f"), Just("sin"), Just("sum"), Just("der"), Just("∂")],
                proptest::collection::vec((proptest::option::of(Just("hidden")), inner.clone()), 0..3)
            )
                .prop_map(|(f, args)| e(ExprKind::Call {
                    callee: ident(f),
                    args: args
                        .into_iter()
                        .map(|(n, value)| Arg { name: n.map(ident), value })
                        .collect(),
                })),
            1 => (inner.clone(), proptest::collection::vec(inner.clone(), 1..3)).prop_map(
                |(base, indices)| e(ExprKind::Index { base: Box::new(base), indices })
            ),
            1 => inner
                .clone()
                .prop_map(|base| e(ExprKind::Field { base: Box::new(base), field: ident("t") })),
            1 => (inner.clone(), inner.clone(), inner.clone()).prop_map(|(c, a, b)| e(ExprKind::If {
                cond: Box::new(c),
                then: Box::new(a),
                otherwise: Box::new(b),
            })),
            1 => (
                prop_oneof![Just("sum"), Just("prod"), Just("max"), Just("min"), Just("mean")],
                proptest::collection::vec(binder, 1..3),
                inner.clone()
            )
                .prop_map(|(op, binders, body)| e(ExprKind::Reduce {
                    op: ident(op),
                    binders,
                    body: Box::new(body),
                })),
            1 => proptest::collection::vec(inner, 0..3).prop_map(|items| e(ExprKind::Array(items))),
        ]
    })
}

fn file_with(body: Expr) -> SourceFile {
    SourceFile {
        items: vec![Item {
            kind: ItemKind::Fn(FnDecl {
                name: ident("f"),
                params: Vec::new(),
                result: None,
                body,
            }),
            span: Span::default(),
        }],
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 3000, ..ProptestConfig::default() })]

    #[test]
    fn printed_expressions_parse_back_to_the_same_tree(body in expr()) {
        let text = format!("fn f() = {}\n", format_expr(&body));
        let parsed = parse(FileId(0), &text);
        prop_assert!(parsed.diagnostics.is_empty(), "{text}: {:#?}", parsed.diagnostics);
        prop_assert!(same_syntax(&parsed.file, &file_with(body)), "{text}");
    }
}
