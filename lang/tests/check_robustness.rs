//! The checker never panics and never overflows the stack, whatever the parser hands it:
//! mutated example sources (text level), mutated syntax trees (subtrees transplanted between
//! examples, names swapped), and pathologically deep or long programs.

use proptest::prelude::*;
use sci_diag::FileId;
use sci_lang::ast::{self, Expr, ExprKind, SourceFile};
use sci_lang::check::{check, dump_program, instantiate};
use sci_lang::parser::parse;

fn examples() -> Vec<String> {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/../examples");
    let mut out: Vec<(String, String)> = std::fs::read_dir(dir)
        .unwrap()
        .filter_map(|e| e.ok())
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == "sci"))
        .map(|p| {
            (
                p.display().to_string(),
                std::fs::read_to_string(&p).unwrap(),
            )
        })
        .collect();
    out.sort();
    out.into_iter().map(|(_, s)| s).collect()
}

/// Checks `file` and the invariants that hold for any input; `parse_ok` says whether the
/// parser reported no errors (broken parts are `Error` nodes the checker skips silently).
fn check_invariants(file: &SourceFile, src_len: Option<usize>, parse_ok: bool) {
    let checked = check(file);
    for d in &checked.diagnostics {
        let span = d.primary_span().expect("every diagnostic has a place");
        if let Some(len) = src_len {
            assert!(span.end as usize <= len, "{d} points past the end");
        }
        assert!(!d.message.is_empty());
    }
    // Models in the program checked without errors, so there are none when errors exist
    // only in models… and the dump of whatever is there never fails.
    let _ = dump_program(&checked.program);
    if parse_ok && !sci_diag::has_errors(&checked.diagnostics) {
        let models = file
            .items
            .iter()
            .filter(|i| matches!(i.kind, ast::ItemKind::Model(_)))
            .count();
        assert_eq!(
            checked.program.models.len(),
            models,
            "a model without errors is missing"
        );
    }
    // `sci eval` of every function with small shapes never panics either.
    let mut checked = checked;
    for item in &file.items {
        if let ast::ItemKind::Fn(f) = &item.kind {
            let shapes: Vec<Vec<usize>> = f
                .params
                .iter()
                .map(|p| match p.ty.as_ref().and_then(|t| t.tensor.as_ref()) {
                    Some(dims) => dims.iter().map(|_| 3).collect(),
                    None => Vec::new(),
                })
                .collect();
            let _ = instantiate(file, &mut checked, &f.name.name, &shapes);
        }
    }
}

const TOKENS: &[&str] = &[
    "(",
    ")",
    "[",
    "]",
    ",",
    ":",
    "=",
    "+",
    "-",
    "*",
    "/",
    "^",
    "==",
    "and",
    "or",
    "not",
    "if x then 1 else 2",
    "der(",
    "d(",
    "grad(",
    "laplacian(",
    "sum(i in 0..n: ",
    "u[i-1]",
    "x",
    "t",
    "n",
    "1e308",
    "0",
    "-1",
    "m/s",
    ": kg",
    "real[3]",
    "where t == 0",
    "points 0",
    "model M {",
    "}",
    "state z = 1",
    "let q = q",
    "obs.t",
    "prey(obs.t)",
    "mlp(hidden: [2])",
    "use nn.{mlp}",
    "fn g(x: real[k]) = x[k]",
    "π",
    "∂(u, x)",
];

#[derive(Clone, Debug)]
enum TextEdit {
    Delete(usize, usize),
    Duplicate(usize, usize),
    Insert(usize, usize),
}

fn apply(src: &str, edits: &[TextEdit]) -> String {
    let mut s = src.to_string();
    for e in edits {
        let bounds: Vec<usize> = s.char_indices().map(|(i, _)| i).chain([s.len()]).collect();
        let at = |k: usize| bounds[k % bounds.len()];
        match e {
            TextEdit::Delete(a, len) => {
                let start = at(*a);
                let end = bounds
                    .iter()
                    .copied()
                    .find(|&b| b >= start + len % 40)
                    .unwrap_or(s.len());
                s.replace_range(start..end, "");
            }
            TextEdit::Duplicate(a, len) => {
                let start = at(*a);
                let end = bounds
                    .iter()
                    .copied()
                    .find(|&b| b >= start + len % 60)
                    .unwrap_or(s.len());
                let piece = s[start..end].to_string();
                s.insert_str(end, &piece);
            }
            TextEdit::Insert(a, tok) => {
                let start = at(*a);
                s.insert_str(start, &format!(" {} ", TOKENS[tok % TOKENS.len()]));
            }
        }
    }
    s
}

fn text_edit() -> impl Strategy<Value = TextEdit> {
    prop_oneof![
        (any::<usize>(), any::<usize>()).prop_map(|(a, b)| TextEdit::Delete(a, b)),
        (any::<usize>(), any::<usize>()).prop_map(|(a, b)| TextEdit::Duplicate(a, b)),
        (any::<usize>(), any::<usize>()).prop_map(|(a, b)| TextEdit::Insert(a, b)),
    ]
}

/// Every expression of a file (clones), for transplanting.
fn all_exprs(file: &SourceFile) -> Vec<Expr> {
    let mut f = file.clone();
    let mut out = Vec::new();
    for root in ast::root_exprs_mut(&mut f) {
        root.walk(&mut |e| out.push(e.clone()));
    }
    out
}

/// Every name used in a file.
fn all_names(file: &SourceFile) -> Vec<String> {
    all_exprs(file)
        .into_iter()
        .filter_map(|e| match e.kind {
            ExprKind::Name(id) => Some(id.name),
            ExprKind::Call { callee, .. } => Some(callee.name),
            _ => None,
        })
        .collect()
}

#[derive(Clone, Debug)]
enum TreeEdit {
    /// Replace the k-th expression by the j-th expression of the pool.
    Transplant(usize, usize),
    /// Rename the k-th name to the j-th name of the pool.
    Rename(usize, usize),
    /// Drop the k-th member of some model.
    DropMember(usize),
}

fn tree_edit() -> impl Strategy<Value = TreeEdit> {
    prop_oneof![
        (any::<usize>(), any::<usize>()).prop_map(|(a, b)| TreeEdit::Transplant(a, b)),
        (any::<usize>(), any::<usize>()).prop_map(|(a, b)| TreeEdit::Rename(a, b)),
        any::<usize>().prop_map(TreeEdit::DropMember),
    ]
}

fn mutate_tree(file: &mut SourceFile, edits: &[TreeEdit], pool: &[Expr], names: &[String]) {
    for edit in edits {
        match edit {
            TreeEdit::Transplant(k, j) => {
                let mut count = 0usize;
                let total: usize = ast::root_exprs_mut(file)
                    .iter()
                    .map(|r| {
                        let mut n = 0;
                        r.walk(&mut |_| n += 1);
                        n
                    })
                    .sum();
                if total == 0 || pool.is_empty() {
                    continue;
                }
                let target = k % total;
                let replacement = pool[j % pool.len()].clone();
                let mut done = false;
                for root in ast::root_exprs_mut(file) {
                    root.walk_mut(&mut |e| {
                        if !done && count == target {
                            *e = replacement.clone();
                            done = true;
                        }
                        count += 1;
                    });
                }
            }
            TreeEdit::Rename(k, j) => {
                if names.is_empty() {
                    continue;
                }
                let mut count = 0usize;
                let new = names[j % names.len()].clone();
                for root in ast::root_exprs_mut(file) {
                    root.walk_mut(&mut |e| {
                        let id = match &mut e.kind {
                            ExprKind::Name(id) => Some(id),
                            ExprKind::Call { callee, .. } => Some(callee),
                            _ => None,
                        };
                        if let Some(id) = id {
                            if count % 7 == k % 7 {
                                id.name = new.clone();
                            }
                            count += 1;
                        }
                    });
                }
            }
            TreeEdit::DropMember(k) => {
                for item in &mut file.items {
                    if let ast::ItemKind::Model(m) = &mut item.kind
                        && !m.members.is_empty()
                    {
                        let i = k % m.members.len();
                        m.members.remove(i);
                    }
                }
            }
        }
    }
    // Transplants may grow the tree: keep within the parser's depth guarantee.
    ast::number_exprs(file);
}

fn depth(e: &Expr) -> usize {
    fn go(e: &Expr, d: usize, max: &mut usize) {
        *max = (*max).max(d);
        let mut kids: Vec<&Expr> = Vec::new();
        match &e.kind {
            ExprKind::Unary(_, a) | ExprKind::Field { base: a, .. } => kids.push(a),
            ExprKind::Binary(_, a, b) => kids.extend([&**a, &**b]),
            ExprKind::Call { args, .. } => kids.extend(args.iter().map(|a| &a.value)),
            ExprKind::Index { base, indices } => {
                kids.push(base);
                kids.extend(indices.iter());
            }
            ExprKind::If {
                cond,
                then,
                otherwise,
            } => kids.extend([&**cond, &**then, &**otherwise]),
            ExprKind::Reduce { binders, body, .. } => {
                kids.push(body);
                for b in binders {
                    kids.extend([&b.start, &b.end]);
                }
            }
            ExprKind::Array(items) => kids.extend(items.iter()),
            _ => {}
        }
        for k in kids {
            go(k, d + 1, max);
        }
    }
    let mut max = 0;
    go(e, 0, &mut max);
    max
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 200, ..ProptestConfig::default() })]

    #[test]
    fn mutated_sources_never_panic(which in 0usize..64, edits in prop::collection::vec(text_edit(), 1..6)) {
        let sources = examples();
        let src = apply(&sources[which % sources.len()], &edits);
        let parsed = parse(FileId(0), &src);
        check_invariants(&parsed.file, Some(src.len()), !sci_diag::has_errors(&parsed.diagnostics));
    }

    #[test]
    fn mutated_trees_never_panic(which in 0usize..64, edits in prop::collection::vec(tree_edit(), 1..6)) {
        let sources = examples();
        let parsed: Vec<SourceFile> = sources.iter().map(|s| parse(FileId(0), s).file).collect();
        let pool: Vec<Expr> = parsed.iter().flat_map(all_exprs).collect();
        let names: Vec<String> = parsed.iter().flat_map(all_names).collect();
        let mut file = parsed[which % parsed.len()].clone();
        mutate_tree(&mut file, &edits, &pool, &names);
        let mut f = file.clone();
        let deep = ast::root_exprs_mut(&mut f).iter().any(|r| depth(r) > 200);
        prop_assume!(!deep);
        let has_error_node = ast::root_exprs_mut(&mut f).iter().any(|r| {
            let mut found = false;
            r.walk(&mut |e| found |= matches!(e.kind, ExprKind::Error));
            found
        });
        check_invariants(&file, None, !has_error_node);
    }
}

/// Runs `f` on a thread with a 2 MiB stack, like a language-server worker.
fn on_small_stack(f: impl FnOnce() + Send + 'static) {
    std::thread::Builder::new()
        .stack_size(2 << 20)
        .spawn(f)
        .unwrap()
        .join()
        .expect("the checker overflowed a 2 MiB stack or panicked");
}

#[test]
fn deep_expressions_fit_a_small_stack() {
    on_small_stack(|| {
        // Repetitions that stay within the parser's depth limit of 256.
        for (open, close, n) in [
            ("1 + (", ")", 120),
            ("sin(", ")", 250),
            ("-(", ")", 120),
            ("[", "]", 250),
            ("if x > 0 then 1 else (", ")", 80),
        ] {
            let body = format!("{}x{}", open.repeat(n), close.repeat(n));
            let src = format!(
                "fn f(x) = {body}\nmodel M {{\n  state x = 1.0\n  der(x) = f(x) + ({body})\n}}\n"
            );
            let parsed = parse(FileId(0), &src);
            assert!(
                parsed.diagnostics.is_empty(),
                "{open}: {:?}",
                parsed.diagnostics
            );
            check_invariants(&parsed.file, Some(src.len()), true);
        }
    });
}

#[test]
fn long_call_chains_are_bounded() {
    on_small_stack(|| {
        // Plain functions are checked in dependency order, so a long chain of calls costs
        // no nesting of the checker; the chain is still measured whole and refused past
        // its limit (code generation and AD could not build it).
        let chain = |generic: bool| {
            let mut src = String::new();
            let ty = if generic { ": real[n]" } else { "" };
            for k in 0..100 {
                let inner = if k == 99 {
                    "x".to_string()
                } else {
                    format!("f{}(x)", k + 1)
                };
                src.push_str(&format!(
                    "fn f{k}(x{ty}) = {}{inner}{}\n",
                    "1 + (".repeat(30),
                    ")".repeat(30)
                ));
            }
            src.push_str(&format!(
                "model M {{\n  param p{} = 1.0\n  state x = 1.0\n  der(x) = sum(f0(p))\n}}\n",
                if generic { ": real[2]" } else { "" }
            ));
            src
        };
        let plain = chain(false);
        let parsed = parse(FileId(0), &plain);
        assert!(parsed.diagnostics.is_empty());
        let checked = check(&parsed.file);
        assert!(
            !checked.diagnostics.is_empty()
                && checked.diagnostics.iter().all(|d| d.code == "E0223"),
            "{:?}",
            checked.diagnostics
        );
        // Generic functions are instantiated inside their callers: the nesting is bounded
        // and reported.
        let generic = chain(true);
        let parsed = parse(FileId(0), &generic);
        assert!(parsed.diagnostics.is_empty());
        let checked = check(&parsed.file);
        assert!(
            checked.diagnostics.iter().any(|d| d.code == "E0223"),
            "{:?}",
            checked.diagnostics
        );
        check_invariants(&parsed.file, Some(generic.len()), true);
    });
}

#[test]
fn huge_sizes_are_refused_not_allocated() {
    let src = "const n = 1e12\nconst big[i in 0..n] = i\nmodel M {\n  state u[i in 0..n] = 0.0\n  der(u[i]) = -u[i]\n  output s = sum(i in 0..n: i)\n}\n";
    let parsed = parse(FileId(0), src);
    let checked = check(&parsed.file);
    assert!(sci_diag::has_errors(&checked.diagnostics));
    check_invariants(&parsed.file, Some(src.len()), parsed.diagnostics.is_empty());
}
