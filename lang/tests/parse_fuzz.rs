//! Property tests: the parser never panics and finishes quickly on any input, and whenever
//! it reports no error the formatter round-trips the text.
//!
//! Inputs: random bytes, random sequences of tokens from the language's vocabulary, and
//! mutations of the examples (tokens deleted, duplicated, swapped or replaced) — 10,000
//! generated cases in all.

use proptest::prelude::*;
use sci_diag::{FileId, has_errors};
use sci_lang::fmt::{format_source, same_syntax};
use sci_lang::lexer::lex;
use sci_lang::parser::parse;
use std::path::PathBuf;
use std::time::{Duration, Instant};

const VOCABULARY: &[&str] = &[
    "model",
    "M",
    "{",
    "}",
    "param",
    "const",
    "state",
    "let",
    "output",
    "der",
    "domain",
    "net",
    "residual",
    "loss",
    "data",
    "fn",
    "use",
    "on",
    "where",
    "if",
    "then",
    "else",
    "in",
    "and",
    "or",
    "not",
    "real",
    "x",
    "u",
    "i",
    "n",
    "sum",
    "mean",
    "mlp",
    "=",
    "==",
    "!=",
    "<",
    "<=",
    ">",
    ">=",
    "+",
    "-",
    "*",
    "/",
    "^",
    "->",
    "(",
    ")",
    "[",
    "]",
    ",",
    ":",
    ";",
    ".",
    "..",
    "0",
    "1",
    "2.5",
    "1e-3",
    "\"f.csv\"",
    "²",
    "⁻¹",
    "//c\n",
    "/* c */",
    "∂",
    "π",
    "α",
    "·",
    "×",
    "−",
    "≤",
    "≥",
    "≠",
    "∧",
    "∨",
    "¬",
    "∈",
    "→",
    "$",
    "**",
    "&&",
    "!",
    "\"open",
    "/*",
    "\n",
];

/// Parses `src`, checking the time, and the formatter's round trip when there is no error.
fn check(src: &str) {
    let start = Instant::now();
    let parsed = parse(FileId(0), src);
    let took = start.elapsed();
    assert!(
        took < Duration::from_secs(2),
        "parse took {took:?} on {src:?}"
    );
    if has_errors(&parsed.diagnostics) {
        assert!(format_source(FileId(0), src).is_err());
        return;
    }
    let out = format_source(FileId(0), src).expect("no errors, so it formats");
    let reparsed = parse(FileId(0), &out);
    assert!(
        !has_errors(&reparsed.diagnostics),
        "formatted text does not parse: {src:?} => {out:?}: {:#?}",
        reparsed.diagnostics
    );
    assert!(
        same_syntax(&parsed.file, &reparsed.file),
        "tree changed: {src:?} => {out:?}"
    );
    let again = format_source(FileId(0), &out).unwrap();
    assert_eq!(again, out, "not idempotent on {src:?}");
}

fn examples() -> Vec<String> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/../../examples");
    let mut out: Vec<String> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "sci"))
        .map(|p| std::fs::read_to_string(p).unwrap())
        .collect();
    out.sort();
    assert!(!out.is_empty());
    out
}

/// The source cut into (text before the token, token text) pieces, plus the tail.
fn pieces(src: &str) -> (Vec<(String, String)>, String) {
    let mut at = 0;
    let mut out = Vec::new();
    for (start, _, end) in lex(FileId(0), src).tokens {
        out.push((src[at..start].to_owned(), src[start..end].to_owned()));
        at = end;
    }
    (out, src[at..].to_owned())
}

#[derive(Clone, Debug)]
enum Mutation {
    Delete(usize),
    Duplicate(usize),
    Swap(usize),
    Replace(usize, usize),
}

fn mutation() -> impl Strategy<Value = Mutation> {
    prop_oneof![
        any::<usize>().prop_map(Mutation::Delete),
        any::<usize>().prop_map(Mutation::Duplicate),
        any::<usize>().prop_map(Mutation::Swap),
        (any::<usize>(), 0..VOCABULARY.len()).prop_map(|(i, v)| Mutation::Replace(i, v)),
    ]
}

fn mutate(src: &str, mutations: &[Mutation]) -> String {
    let (mut ps, tail) = pieces(src);
    for m in mutations {
        if ps.is_empty() {
            break;
        }
        let n = ps.len();
        match *m {
            Mutation::Delete(i) => {
                ps.remove(i % n);
            }
            Mutation::Duplicate(i) => {
                let p = ps[i % n].clone();
                ps.insert(i % n, (" ".to_owned(), p.1));
            }
            Mutation::Swap(i) if n >= 2 => {
                let i = i % (n - 1);
                let a = ps[i].1.clone();
                ps[i].1 = std::mem::replace(&mut ps[i + 1].1, a);
            }
            Mutation::Swap(_) => {}
            Mutation::Replace(i, v) => ps[i % n].1 = VOCABULARY[v].to_owned(),
        }
    }
    let mut out: String = ps.into_iter().map(|(sep, t)| sep + &t).collect();
    out.push_str(&tail);
    out
}

/// Inputs that once broke the parser.
#[test]
fn known_regressions() {
    for src in [
        // Prefix operators pending when a `model` closes an open brace.
        "− ¬ { model",
        "- - ( [ { model - - ) ] }",
        "",
        "}}}}",
        "model",
        "model M { der",
    ] {
        check(src);
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 2000, ..ProptestConfig::default() })]

    #[test]
    fn random_bytes_never_break_the_parser(bytes in proptest::collection::vec(any::<u8>(), 0..400)) {
        check(&String::from_utf8_lossy(&bytes));
    }

    #[test]
    fn random_text_never_breaks_the_parser(text in "\\PC{0,200}") {
        check(&text);
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 3000, ..ProptestConfig::default() })]

    #[test]
    fn random_token_streams_never_break_the_parser(
        tokens in proptest::collection::vec((0..VOCABULARY.len(), 0..3usize), 0..120)
    ) {
        let mut src = String::new();
        for (t, sep) in tokens {
            src.push_str(VOCABULARY[t]);
            src.push_str([" ", "\n", ""][sep]);
        }
        check(&src);
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 3000, ..ProptestConfig::default() })]

    #[test]
    fn mutated_examples_never_break_the_parser(
        which in any::<usize>(),
        mutations in proptest::collection::vec(mutation(), 1..4),
    ) {
        let examples = examples();
        let src = &examples[which % examples.len()];
        check(&mutate(src, &mutations));
    }
}
