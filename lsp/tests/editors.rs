//! The VS Code extension's files are valid and agree with the compiler: the TextMate
//! grammar knows every keyword and built-in, and the extension starts `sci lsp`.

use serde_json::Value;

fn read_json(path: &str) -> Value {
    let full = format!("{}/../editors/vscode/{path}", env!("CARGO_MANIFEST_DIR"));
    let text = std::fs::read_to_string(&full).unwrap_or_else(|e| panic!("{full}: {e}"));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{full}: {e}"))
}

#[test]
fn extension_manifest_declares_the_language_and_grammar() {
    let package = read_json("package.json");
    let language = &package["contributes"]["languages"][0];
    assert_eq!(language["id"], "sci");
    assert_eq!(language["extensions"][0], ".sci");
    let grammar = &package["contributes"]["grammars"][0];
    assert_eq!(grammar["scopeName"], "source.sci");
    assert_eq!(grammar["path"], "./syntaxes/sci.tmLanguage.json");
    assert!(package["dependencies"]["vscode-languageclient"].is_string());
    let config = read_json("language-configuration.json");
    assert_eq!(config["comments"]["lineComment"], "//");
    let main = std::fs::read_to_string(format!(
        "{}/../editors/vscode/extension.js",
        env!("CARGO_MANIFEST_DIR")
    ))
    .unwrap();
    assert!(main.contains("args: ['lsp']"));
}

#[test]
fn grammar_knows_every_keyword_and_builtin() {
    let grammar = read_json("syntaxes/sci.tmLanguage.json");
    assert_eq!(grammar["scopeName"], "source.sci");
    // Every regular expression of the grammar, concatenated.
    let mut regexes = String::new();
    collect(&grammar, &mut regexes);
    let words = |name: &str| {
        regexes.contains(&format!("({name}|"))
            || regexes.contains(&format!("|{name}|"))
            || regexes.contains(&format!("|{name})"))
            || regexes.contains(&format!("({name})"))
            || regexes.contains(&format!("\\b{name}\\b"))
    };
    for (k, _, _) in sci_lsp::keywords::KEYWORDS {
        assert!(words(k), "keyword `{k}` is not highlighted");
    }
    for b in sci_lang::builtins::BUILTINS {
        assert!(
            words(b.name) || b.name == "∂",
            "built-in `{}` is not highlighted",
            b.name
        );
    }
    assert!(regexes.contains('∂'));
}

fn collect(v: &Value, out: &mut String) {
    match v {
        Value::Object(map) => {
            for (k, v) in map {
                if matches!(k.as_str(), "match" | "begin" | "end") {
                    out.push_str(v.as_str().unwrap_or(""));
                    out.push('\n');
                } else {
                    collect(v, out);
                }
            }
        }
        Value::Array(items) => items.iter().for_each(|i| collect(i, out)),
        _ => {}
    }
}
