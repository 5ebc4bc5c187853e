//! The prelude: library functions written in sci itself (`stdlib/prelude/*.sci`).
//!
//! The source files live in `stdlib/prelude/` because they are library code, read and
//! reviewed as `.sci` like any model, and checked by `sci check` and `sci fmt --check`.
//! They are compiled into the front end (`include_str!`) rather than loaded by the runtime
//! because the checker must see them: a call of `silu(x)` is resolved, typed and unit
//! checked like a call of a user `fn`, and `stdlib` sits above `lang` in the crate graph
//! (it knows nothing of the language).
//!
//! Each prelude module is parsed once per process (lazily) under a reserved [`FileId`]
//! ([`MATH_FILE`], [`NN_FILE`]), so spans inside prelude code never collide with the user's
//! file and a diagnostic pointing into the prelude can be rendered with [`source`] and
//! [`name`]. The checker adds to a program only the prelude functions it calls (directly or
//! through other prelude functions), so a program that uses none gets exactly the HIR and
//! IR it would get without a prelude. Prelude bodies are hygienic: they see their own
//! parameters, the other prelude functions and the built-ins, never the user's names.
//!
//! Built-ins that are single IR operations with hand-written derivative rules (`exp`,
//! `sin`, `tanh`, `sigmoid`, …) stay in [`crate::builtins`]; the prelude is built on them.

use crate::ast::{self, ItemKind};
use crate::builtins::Module;
use sci_diag::FileId;
use std::sync::OnceLock;

/// The file id of `stdlib/prelude/math.sci` (reserved: a caller's ids count up from 0).
pub const MATH_FILE: FileId = FileId(u32::MAX - 1);
/// The file id of `stdlib/prelude/nn.sci`.
pub const NN_FILE: FileId = FileId(u32::MAX);
/// Every prelude file id, in module order.
pub const FILES: [FileId; 2] = [MATH_FILE, NN_FILE];

const MATH_SOURCE: &str = include_str!("../../stdlib/prelude/math.sci");
const NN_SOURCE: &str = include_str!("../../stdlib/prelude/nn.sci");

/// One function of the prelude.
#[derive(Clone, Debug)]
pub struct PreludeFn {
    /// Its name (`silu`).
    pub name: String,
    /// The module it belongs to: `math` (always in scope) or `nn` (needs a `use`).
    pub module: Module,
    /// How it is declared, for hover text: `dense(W: real[m, n], b: real[m], x: real[n])`.
    pub signature: String,
    /// The `//` comment right above it, without the slashes, lines joined by spaces.
    pub doc: String,
    /// The parsed declaration (spans in [`MATH_FILE`] or [`NN_FILE`]).
    pub decl: ast::FnDecl,
}

/// The parsed prelude: every function of every module, in file order.
struct Parsed {
    fns: Vec<PreludeFn>,
    /// Syntax errors, which the tests require to be empty.
    diagnostics: Vec<sci_diag::Diagnostic>,
}

fn parsed() -> &'static Parsed {
    static PARSED: OnceLock<Parsed> = OnceLock::new();
    PARSED.get_or_init(|| {
        let mut fns = Vec::new();
        let mut diagnostics = Vec::new();
        for (file, module, text) in [
            (MATH_FILE, Module::Math, MATH_SOURCE),
            (NN_FILE, Module::Nn, NN_SOURCE),
        ] {
            let parsed = crate::parser::parse(file, text);
            diagnostics.extend(parsed.diagnostics);
            let comments = crate::lexer::comments(file, text);
            for item in parsed.file.items {
                if let ItemKind::Fn(decl) = item.kind {
                    fns.push(PreludeFn {
                        name: decl.name.name.clone(),
                        module,
                        signature: signature(text, &decl),
                        doc: doc_above(text, &comments, item.span.start as usize),
                        decl,
                    });
                }
            }
        }
        Parsed { fns, diagnostics }
    })
}

/// `name(params) [-> type]`: the declaration's text up to its `=`.
fn signature(text: &str, decl: &ast::FnDecl) -> String {
    let head = text
        .get(decl.name.span.start as usize..decl.body.span.start as usize)
        .unwrap_or(&decl.name.name);
    head.trim_end().trim_end_matches('=').trim_end().to_string()
}

/// The `//` comment lines directly above byte `start` (no blank line in between).
fn doc_above(text: &str, comments: &[crate::lexer::Comment], start: usize) -> String {
    let mut lines: Vec<&str> = Vec::new();
    let mut next = start;
    for c in comments
        .iter()
        .rev()
        .filter(|c| (c.span.end as usize) <= start)
    {
        let between = text.get(c.span.end as usize..next).unwrap_or("\n\n");
        if c.block || between.matches('\n').count() > 1 || !between.trim().is_empty() {
            break;
        }
        lines.push(c.text.trim_start_matches('/').trim());
        next = c.span.start as usize;
    }
    lines.reverse();
    lines.join(" ")
}

/// Every prelude function, math first, each module in file order.
pub fn functions() -> &'static [PreludeFn] {
    &parsed().fns
}

/// The prelude function called `name`, if any.
pub fn lookup(name: &str) -> Option<&'static PreludeFn> {
    functions().iter().find(|f| f.name == name)
}

/// The names of the prelude functions of `module`, in file order.
pub fn exports(module: Module) -> impl Iterator<Item = &'static str> {
    functions()
        .iter()
        .filter(move |f| f.module == module)
        .map(|f| f.name.as_str())
}

/// Syntax errors in the prelude sources (none: a test guarantees it).
pub fn diagnostics() -> &'static [sci_diag::Diagnostic] {
    &parsed().diagnostics
}

/// True for the reserved file ids of the prelude.
pub fn is_prelude(file: FileId) -> bool {
    FILES.contains(&file)
}

/// The source text of a prelude file, for rendering diagnostics that point into it.
pub fn source(file: FileId) -> Option<&'static str> {
    match file {
        MATH_FILE => Some(MATH_SOURCE),
        NN_FILE => Some(NN_SOURCE),
        _ => None,
    }
}

/// The display name of a prelude file: `<prelude>/math.sci`.
pub fn name(file: FileId) -> Option<&'static str> {
    match file {
        MATH_FILE => Some("<prelude>/math.sci"),
        NN_FILE => Some("<prelude>/nn.sci"),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_prelude_parses_without_errors() {
        assert!(diagnostics().is_empty(), "{:?}", diagnostics());
        assert!(lookup("silu").is_some_and(|f| f.module == Module::Nn));
        assert!(lookup("lerp").is_some_and(|f| f.module == Module::Math));
    }

    #[test]
    fn every_function_has_a_doc_and_a_signature() {
        for f in functions() {
            assert!(!f.doc.is_empty(), "{} has no comment", f.name);
            assert!(f.signature.starts_with(&f.name), "{}", f.signature);
            assert!(f.signature.ends_with(')'), "{}", f.signature);
        }
        let dense = lookup("dense").unwrap();
        assert_eq!(
            dense.signature,
            "dense(W: real[m, n], b: real[m], x: real[n])"
        );
        assert!(
            dense
                .doc
                .starts_with("dense(W, b, x): one fully connected layer")
        );
    }

    #[test]
    fn prelude_names_do_not_shadow_builtins() {
        for f in functions() {
            assert!(crate::builtins::lookup(&f.name).is_none(), "{}", f.name);
        }
    }

    #[test]
    fn files_have_names_and_sources() {
        for f in FILES {
            assert!(is_prelude(f));
            assert!(source(f).is_some_and(|s| s.contains("fn ")));
            assert!(name(f).is_some_and(|n| n.starts_with("<prelude>/")));
        }
        assert!(!is_prelude(FileId(0)));
        assert!(source(FileId(0)).is_none());
    }
}
