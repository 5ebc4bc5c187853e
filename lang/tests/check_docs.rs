//! The checker's documentation stays complete: every built-in and unit symbol is in
//! `docs/checking.md`, and every diagnostic code the checker (and the expansion of
//! components before it) emits is in
//! `docs/diagnostics.md` (and nothing documented there is stale).

use std::collections::BTreeSet;

fn read(rel: &str) -> String {
    std::fs::read_to_string(format!("{}/{rel}", env!("CARGO_MANIFEST_DIR"))).unwrap()
}

/// Codes such as `E0201` / `W0201` appearing in a text.
fn codes(text: &str, prefixes: &[&str]) -> BTreeSet<String> {
    let chars: Vec<char> = text.chars().collect();
    let mut out = BTreeSet::new();
    for w in chars.windows(5) {
        let s: String = w.iter().collect();
        if (s.starts_with('E') || s.starts_with('W'))
            && s[1..].chars().all(|c| c.is_ascii_digit())
            && prefixes.iter().any(|p| s.starts_with(p))
        {
            out.insert(s);
        }
    }
    out
}

#[test]
fn every_builtin_and_unit_is_documented() {
    let doc = read("../docs/checking.md");
    for b in sci_lang::builtins::BUILTINS {
        assert!(
            doc.contains(&format!("`{}", b.name)),
            "built-in `{}` is not in docs/checking.md",
            b.name
        );
    }
    for u in sci_lang::units::SYMBOLS {
        assert!(
            doc.contains(&format!("`{}`", u.symbol)),
            "unit `{}` is not in docs/checking.md",
            u.symbol
        );
    }
    for (name, _) in sci_lang::builtins::ACTIVATIONS {
        assert!(
            doc.contains(&format!("`{name}`")),
            "activation `{name}` is not in docs/checking.md"
        );
    }
}

#[test]
fn every_checker_code_is_documented() {
    let mut source = String::new();
    let dir = format!("{}/src/check", env!("CARGO_MANIFEST_DIR"));
    for entry in std::fs::read_dir(dir).unwrap() {
        source.push_str(&std::fs::read_to_string(entry.unwrap().path()).unwrap());
    }
    source.push_str(&read("src/check.rs"));
    source.push_str(&read("src/units.rs"));
    source.push_str(&read("src/flatten.rs"));
    let prefixes = ["E02", "E03", "E04", "W02"];
    let used = codes(&source, &prefixes);
    let documented = codes(&read("../docs/diagnostics.md"), &prefixes);
    let missing: Vec<_> = used.difference(&documented).collect();
    let stale: Vec<_> = documented.difference(&used).collect();
    assert!(
        missing.is_empty(),
        "codes not in docs/diagnostics.md: {missing:?}"
    );
    assert!(
        stale.is_empty(),
        "documented codes the checker never emits: {stale:?}"
    );
}
