//! Deep and long inputs: the parser reports "nested too deeply" (E0115) instead of
//! overflowing the stack, never builds a tree deeper than `MAX_EXPR_DEPTH`, and stays fast.

use sci_diag::FileId;
use sci_lang::ast::{Expr, ExprKind, SourceFile};
use sci_lang::parser::{MAX_EXPR_DEPTH, Parsed, parse};
use std::time::{Duration, Instant};

/// Height of the deepest expression tree in the file (iterative, so it cannot overflow).
fn max_height(file: &SourceFile) -> usize {
    let mut file = file.clone();
    let mut best = 0;
    for root in sci_lang::ast::root_exprs_mut(&mut file) {
        let mut stack: Vec<(&Expr, usize)> = vec![(root, 1)];
        while let Some((e, h)) = stack.pop() {
            best = best.max(h);
            let mut children: Vec<&Expr> = Vec::new();
            match &e.kind {
                ExprKind::Unary(_, a) | ExprKind::Field { base: a, .. } => children.push(a),
                ExprKind::Binary(_, a, b) => children.extend([&**a, &**b]),
                ExprKind::Call { args, .. } => children.extend(args.iter().map(|a| &a.value)),
                ExprKind::Index { base, indices } => {
                    children.push(base);
                    children.extend(indices);
                }
                ExprKind::If {
                    cond,
                    then,
                    otherwise,
                } => children.extend([&**cond, &**then, &**otherwise]),
                ExprKind::Reduce { binders, body, .. } => {
                    for b in binders {
                        children.extend([&b.start, &b.end]);
                    }
                    children.push(body);
                }
                ExprKind::Array(items) => children.extend(items),
                _ => {}
            }
            stack.extend(children.into_iter().map(|c| (c, h + 1)));
        }
    }
    best
}

/// Parses `src` in a thread with a small stack, within a time limit.
fn parse_guarded(src: String) -> Parsed {
    let start = Instant::now();
    let parsed = std::thread::Builder::new()
        .stack_size(1 << 20)
        .spawn(move || parse(FileId(0), &src))
        .unwrap()
        .join()
        .unwrap();
    assert!(
        start.elapsed() < Duration::from_secs(20),
        "parsing took {:?}",
        start.elapsed()
    );
    assert!(max_height(&parsed.file) <= MAX_EXPR_DEPTH);
    parsed
}

fn check_too_deep(src: String) {
    let parsed = parse_guarded(src);
    assert!(
        parsed.diagnostics.iter().any(|d| d.code == "E0115"),
        "{:#?}",
        parsed.diagnostics
    );
}

fn in_model(value: &str) -> String {
    format!("model M {{\n    param a = {value}\n    param b = 1\n}}\n")
}

#[test]
fn many_open_parens() {
    check_too_deep("(".repeat(100_000));
    check_too_deep(in_model(&"(".repeat(100_000)));
}

#[test]
fn balanced_parens() {
    let n = 100_000;
    check_too_deep(in_model(&format!("{}1{}", "(".repeat(n), ")".repeat(n))));
}

#[test]
fn long_sums_and_products() {
    check_too_deep(in_model(&format!("a{}", "+a".repeat(100_000))));
    check_too_deep(in_model(&format!("a{}", "*a".repeat(100_000))));
    check_too_deep(in_model(&format!("a{}", " and a".repeat(50_000))));
}

#[test]
fn prefix_and_power_chains() {
    check_too_deep(in_model(&format!("{}a", "-".repeat(100_000))));
    check_too_deep(in_model(&format!("{}a", "not ".repeat(50_000))));
    check_too_deep(in_model(&format!("a{}", "^a".repeat(100_000))));
    check_too_deep(in_model(&format!("a{}", "² ".repeat(50_000))));
}

#[test]
fn postfix_chains() {
    check_too_deep(in_model(&format!("a{}", "[0]".repeat(50_000))));
    check_too_deep(in_model(&format!("a{}", ".b".repeat(50_000))));
    check_too_deep(in_model(&format!(
        "{}a{}",
        "f(".repeat(50_000),
        ")".repeat(50_000)
    )));
    check_too_deep(in_model(&format!(
        "{}a{}",
        "[".repeat(50_000),
        "]".repeat(50_000)
    )));
}

#[test]
fn if_chains() {
    check_too_deep(in_model(&format!(
        "{}0",
        "if a then 1 else ".repeat(20_000)
    )));
    check_too_deep(in_model(&format!(
        "{}a{}",
        "if ".repeat(20_000),
        " then 1 else 0".repeat(20_000)
    )));
}

#[test]
fn deep_units() {
    let src = format!(
        "model M {{\n    param a: m{} = 1\n}}\n",
        "*m".repeat(50_000)
    );
    check_too_deep(src);
    let src = format!(
        "model M {{\n    param a: {}m{} = 1\n}}\n",
        "(".repeat(50_000),
        ")".repeat(50_000)
    );
    check_too_deep(src);
}

#[test]
fn deep_nesting_followed_by_garbage_is_fast() {
    // A deep parse stack followed by many tokens the recovery must skip.
    let src = in_model(&format!("{}{}", "(".repeat(250), " = ,".repeat(50_000)));
    let parsed = parse_guarded(src);
    assert!(!parsed.diagnostics.is_empty());
    let src = format!("{}{}", "-".repeat(250), " = ,".repeat(50_000));
    let parsed = parse_guarded(in_model(&src));
    assert!(!parsed.diagnostics.is_empty());
}

#[test]
fn just_under_the_limit_is_accepted() {
    let n = 100;
    let parsed = parse_guarded(in_model(&format!("{}1{}", "(".repeat(n), ")".repeat(n))));
    assert!(parsed.diagnostics.is_empty(), "{:#?}", parsed.diagnostics);
    let parsed = parse_guarded(in_model(&format!("a{}", "+a".repeat(200))));
    assert!(parsed.diagnostics.is_empty(), "{:#?}", parsed.diagnostics);
}

#[test]
fn many_members_and_errors_are_fast() {
    let mut src = String::from("model M {\n");
    for k in 0..20_000 {
        src.push_str(&format!("    param p{k} = {k} * 2 +\n"));
    }
    src.push_str("}\n");
    let parsed = parse_guarded(src);
    assert_eq!(parsed.diagnostics.len(), 20_000);
}

#[test]
fn many_errors_of_every_kind_are_fast() {
    let snippets = [
        "} model M { x }",
        "model A { param a = (1 + ",
        "fn f(x) = [x, (x",
        "model B { der(x) = a b c d ]]] ",
        "{ { { ( ( [",
        ") ) ] } } ",
        "model C { residual r on d where x = 0 points 1: u }",
    ];
    for s in snippets {
        let src = s.repeat(5_000);
        let parsed = parse_guarded(src);
        assert!(!parsed.diagnostics.is_empty());
    }
}

#[test]
fn text_past_the_size_limit_is_refused_unread() {
    use sci_lang::parser::MAX_SOURCE_BYTES;
    // At the limit the text is parsed; one byte more and it is refused at once (E0100)
    // with nothing else reported, even if it is full of errors.
    let at_limit = " ".repeat(MAX_SOURCE_BYTES);
    assert!(parse(FileId(0), &at_limit).diagnostics.is_empty());
    let over = format!("{at_limit}@");
    let parsed = parse(FileId(0), &over);
    let codes: Vec<&str> = parsed.diagnostics.iter().map(|d| d.code).collect();
    assert_eq!(codes, ["E0100"]);
    assert!(parsed.diagnostics[0].message.contains("16777217 bytes"));
    assert!(parsed.file.items.is_empty());
    // The whole front end stops there too.
    let front = sci_lang::analyze(FileId(0), &over);
    assert_eq!(front.diagnostics.len(), 1);
}
