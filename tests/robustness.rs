//! The front end never panics or hangs: 10,000 random token-level mutations of the examples
//! (deleted, duplicated and swapped tokens) go through parse → check → lower → validate and
//! the formatter. Deterministic (fixed seeds), so a failure reproduces.

mod common;

use sci::ir::random::SplitMix64 as Rng;

use std::time::{Duration, Instant};

/// Splits source text into rough tokens: words, numbers, whitespace runs and single
/// other characters. Exactness does not matter; the pieces only need to be plausible.
fn rough_tokens(text: &str) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    let mut current = String::new();
    let class = |c: char| {
        if c.is_alphanumeric() || c == '_' || c == '.' {
            0
        } else if c.is_whitespace() {
            1
        } else {
            2
        }
    };
    for c in text.chars() {
        let same = current
            .chars()
            .last()
            .is_some_and(|p| class(p) == class(c) && class(c) != 2);
        if !same && !current.is_empty() {
            out.push(std::mem::take(&mut current));
        }
        current.push(c);
    }
    if !current.is_empty() {
        out.push(current);
    }
    out
}

fn mutate(tokens: &[String], rng: &mut Rng) -> String {
    let mut t = tokens.to_vec();
    let edits = 1 + rng.below(3);
    for _ in 0..edits {
        if t.is_empty() {
            break;
        }
        let i = rng.below(t.len());
        match rng.below(4) {
            0 => {
                t.remove(i);
            }
            1 => {
                let dup = t[i].clone();
                t.insert(i, dup);
            }
            2 => {
                let j = rng.below(t.len());
                t.swap(i, j);
            }
            _ => {
                // Move a token from elsewhere in the file here.
                let j = rng.below(t.len());
                let moved = t[j].clone();
                t.insert(i, moved);
            }
        }
    }
    t.concat()
}

#[test]
fn ten_thousand_mutated_examples_never_panic_or_hang() {
    let sources: Vec<(String, String)> = common::example_paths()
        .into_iter()
        .map(|p| {
            (
                p.display().to_string(),
                std::fs::read_to_string(&p).unwrap(),
            )
        })
        .collect();
    let total = 10_000;
    let per_file = total / sources.len() + 1;
    let mut rng = Rng::new(0x5C1_F00D);
    let mut slowest = Duration::ZERO;
    let mut runs = 0;
    for (name, text) in &sources {
        let tokens = rough_tokens(text);
        for k in 0..per_file {
            let mutated = mutate(&tokens, &mut rng);
            let start = Instant::now();
            let analysis = sci::analyze(sci::diag::FileId(0), &mutated);
            for module in &analysis.modules {
                let _ = sci::ir::validate::validate_module(module);
            }
            let _ = sci::lang::fmt::format_source(sci::diag::FileId(0), &mutated);
            let took = start.elapsed();
            slowest = slowest.max(took);
            // A hang guard, not a speed test: a mutation that takes seconds is a bug.
            assert!(
                took < Duration::from_secs(5),
                "mutation {k} of {name} took {took:?}:\n{mutated}"
            );
            runs += 1;
        }
    }
    assert!(runs >= total, "only {runs} mutations ran");
    eprintln!("{runs} mutations, slowest {slowest:?}");
}

#[test]
fn deep_nesting_is_an_error_not_a_stack_overflow() {
    for depth in [300, 10_000, 100_000] {
        let parens = format!(
            "model M {{ param k = {}1{} }}",
            "(".repeat(depth),
            ")".repeat(depth)
        );
        let chain = format!("model M {{ param k = 1{} }}", "+1".repeat(depth));
        let negs = format!("model M {{ param k = {}1 }}", "-".repeat(depth));
        let powers = format!("model M {{ param k = 1{} }}", "^1".repeat(depth));
        for text in [parens, chain, negs, powers] {
            let analysis = sci::analyze(sci::diag::FileId(0), &text);
            assert!(analysis.has_errors(), "depth {depth} was accepted");
        }
    }
}

#[test]
fn the_deepest_expression_the_parser_accepts_goes_through_the_whole_pipeline() {
    // 251 nested negations of a state: a tree just inside the parser's limit of 256.
    let depth = 251;
    let text = format!(
        "model M {{\n    state x = 1\n    der(x) = {}x\n}}\n",
        "- ".repeat(depth)
    );
    let analysis = sci::analyze(sci::diag::FileId(0), &text);
    assert!(!analysis.has_errors(), "{:?}", analysis.diagnostics);
    let module = &analysis.modules[0];
    let y = sci::Tensor::vector(vec![2.0]);
    let theta = sci::Tensor::vector(vec![]);
    let dy = sci::eval(module, "rhs", &[sci::Tensor::scalar(0.0), y, theta]).unwrap();
    assert_eq!(dy.data, vec![-2.0]);
}

#[test]
fn arbitrary_bytes_never_panic() {
    let mut rng = Rng::new(42);
    for _ in 0..2000 {
        let len = rng.below(200);
        let bytes: Vec<u8> = (0..len).map(|_| rng.next_u64() as u8).collect();
        let text = String::from_utf8_lossy(&bytes);
        let _ = sci::analyze(sci::diag::FileId(0), &text);
    }
}
