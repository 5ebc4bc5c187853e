//! Filetests: every `ir/tests/filetests/*.sir` file is a module plus header comments that say
//! what to check (Cranelift style). Headers, one per line at the top of the file:
//!
//! - `; test: roundtrip` — reads, validates, and the printed form equals the file's text
//!   after the header (so files are kept in canonical form); `SCI_BLESS=1` rewrites the
//!   text to the printed form.
//! - `; test: validate` — reads and validates without error.
//! - `; test: validate-error` — reads, and validation fails with every `; error: TEXT`
//!   substring in some message.
//! - `; test: read-error` — reading fails with every `; error: TEXT` substring in some
//!   diagnostic (`[E0602] message` form, so codes can be checked too).
//! - `; run: f(ARGS) == EXPECTED` — evaluates `f` with the interpreter and compares with a
//!   relative and absolute tolerance of `; tolerance: X` (default 1e-12). Values are
//!   numbers, nested lists `[[1, 2], [3, 4]]`, or batches `batch [p0, p1, ...]`.
//! - `; run: f(ARGS) fails TEXT` — evaluation fails with a message containing TEXT.

use sci_diag::FileId;
use sci_ir::interp::{Tensor, close};
use sci_ir::{Interpreter, read_module, validate_module};
use std::path::{Path, PathBuf};

#[test]
fn filetests() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/filetests");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "sir"))
        .collect();
    files.sort();
    assert!(
        files.len() >= 10,
        "expected the filetests folder to hold the suite"
    );
    let bless = std::env::var("SCI_BLESS").is_ok_and(|v| v == "1");
    let mut failures = Vec::new();
    for path in &files {
        let text = std::fs::read_to_string(path).unwrap();
        if let Err(msg) = run_file(path, &text, bless) {
            failures.push(format!("{}: {msg}", path.display()));
        }
    }
    assert!(
        failures.is_empty(),
        "filetest failures:\n{}",
        failures.join("\n")
    );
}

struct Header {
    tests: Vec<String>,
    errors: Vec<String>,
    runs: Vec<String>,
    tolerance: f64,
    /// Byte offset where the module text starts.
    body_start: usize,
}

fn header(text: &str) -> Header {
    let mut h = Header {
        tests: Vec::new(),
        errors: Vec::new(),
        runs: Vec::new(),
        tolerance: 1e-12,
        body_start: 0,
    };
    let mut offset = 0;
    for line in text.split_inclusive('\n') {
        let trimmed = line.trim();
        if !(trimmed.starts_with(';') || trimmed.is_empty()) {
            break;
        }
        offset += line.len();
        let Some(rest) = trimmed.strip_prefix(';') else {
            continue;
        };
        let rest = rest.trim();
        if let Some(t) = rest.strip_prefix("test:") {
            h.tests.push(t.trim().to_string());
        } else if let Some(e) = rest.strip_prefix("error:") {
            h.errors.push(e.trim().to_string());
        } else if let Some(r) = rest.strip_prefix("run:") {
            h.runs.push(r.trim().to_string());
        } else if let Some(t) = rest.strip_prefix("tolerance:") {
            h.tolerance = t.trim().parse().unwrap();
        }
    }
    h.body_start = offset;
    h
}

fn run_file(path: &Path, text: &str, bless: bool) -> Result<(), String> {
    let h = header(text);
    if h.tests.is_empty() && h.runs.is_empty() {
        return Err("no `; test:` or `; run:` header".into());
    }
    let read = read_module(FileId(0), text);
    for test in &h.tests {
        match test.as_str() {
            "read-error" => {
                let diags = match &read {
                    Ok(_) => return Err("expected a read error, but the file reads".into()),
                    Err(d) => d,
                };
                let rendered: Vec<String> = diags
                    .iter()
                    .map(|d| format!("[{}] {}", d.code, d.message))
                    .collect();
                for e in &h.errors {
                    if !rendered.iter().any(|r| r.contains(e.as_str())) {
                        return Err(format!("no read error contains {e:?}; got {rendered:?}"));
                    }
                }
                if diags.iter().any(|d| d.primary_span().is_none()) {
                    return Err("a read diagnostic has no span".into());
                }
            }
            "validate" | "validate-error" | "roundtrip" => {
                let m = read.as_ref().map_err(|d| format!("read failed: {d:?}"))?;
                let validation = validate_module(m);
                if test == "validate-error" {
                    let errs = match validation {
                        Ok(()) => return Err("expected a validation error".into()),
                        Err(e) => e,
                    };
                    let rendered: Vec<String> = errs.iter().map(|e| e.to_string()).collect();
                    for e in &h.errors {
                        if !rendered.iter().any(|r| r.contains(e.as_str())) {
                            return Err(format!(
                                "no validation error contains {e:?}; got {rendered:#?}"
                            ));
                        }
                    }
                    continue;
                }
                validation.map_err(|e| format!("validation failed: {e:#?}"))?;
                if test == "roundtrip" {
                    let printed = sci_ir::print_module(m);
                    let again = read_module(FileId(0), &printed)
                        .map_err(|d| format!("printed text does not read back: {d:?}"))?;
                    if &again != m {
                        return Err("read(print(m)) != m".into());
                    }
                    let body = text.get(h.body_start..).unwrap_or("");
                    if body != printed {
                        if bless {
                            let head = text.get(..h.body_start).unwrap_or("");
                            std::fs::write(path, format!("{head}{printed}")).unwrap();
                        } else {
                            return Err(format!(
                                "the file is not in printed form (run with SCI_BLESS=1 to rewrite it); printed:\n{printed}"
                            ));
                        }
                    }
                }
            }
            other => return Err(format!("unknown test kind {other:?}")),
        }
    }
    if !h.runs.is_empty() {
        let m = read.as_ref().map_err(|d| format!("read failed: {d:?}"))?;
        let interp = Interpreter::new(m).map_err(|e| e.to_string())?;
        for run in &h.runs {
            check_run(&interp, run, h.tolerance)?;
        }
    }
    Ok(())
}

fn check_run(interp: &Interpreter<'_>, run: &str, tol: f64) -> Result<(), String> {
    let open = run.find('(').ok_or("run line needs `f(args)`")?;
    let name = run[..open].trim().trim_matches('"');
    let mut p = ValueParser {
        s: &run[open + 1..],
    };
    let mut args = Vec::new();
    p.ws();
    if !p.eat(")") {
        loop {
            args.push(p.tensor()?);
            if p.eat(")") {
                break;
            }
            if !p.eat(",") {
                return Err(format!("expected `,` or `)` in {run:?}"));
            }
        }
    }
    let result = interp.call_named(name, &args);
    if p.eat("==") {
        let expected = p.tensor()?;
        let got = result.map_err(|e| format!("{run}: evaluation failed: {e}"))?;
        let same = got.shape == expected.shape
            && got.batch == expected.batch
            && got.data.len() == expected.data.len()
            && got
                .data
                .iter()
                .zip(&expected.data)
                .all(|(a, e)| close(*a, *e, tol, tol));
        if !same {
            return Err(format!("{run}: got {got}"));
        }
    } else if p.eat("fails") {
        let want = p.s.trim();
        match result {
            Ok(t) => return Err(format!("{run}: expected a failure, got {t}")),
            Err(e) if e.message.contains(want) => {}
            Err(e) => return Err(format!("{run}: failed with {:?}", e.message)),
        }
    } else {
        return Err(format!(
            "run line needs `== EXPECTED` or `fails TEXT`: {run:?}"
        ));
    }
    Ok(())
}

/// Parses the tensor syntax of `; run:` lines.
struct ValueParser<'a> {
    s: &'a str,
}

/// A nested list: a number or a list of nested lists.
enum Nested {
    Num(f64),
    List(Vec<Nested>),
}

impl<'a> ValueParser<'a> {
    fn ws(&mut self) {
        self.s = self.s.trim_start();
    }

    fn eat(&mut self, t: &str) -> bool {
        self.ws();
        if let Some(rest) = self.s.strip_prefix(t) {
            self.s = rest;
            true
        } else {
            false
        }
    }

    fn nested(&mut self) -> Result<Nested, String> {
        if self.eat("[") {
            let mut items = Vec::new();
            if !self.eat("]") {
                loop {
                    items.push(self.nested()?);
                    if self.eat("]") {
                        break;
                    }
                    if !self.eat(",") {
                        return Err(format!("expected `,` or `]` at {:?}", self.s));
                    }
                }
            }
            return Ok(Nested::List(items));
        }
        self.ws();
        let end = self
            .s
            .find(|c: char| !(c.is_ascii_alphanumeric() || "+-.".contains(c)))
            .unwrap_or(self.s.len());
        let (num, rest) = self.s.split_at(end);
        self.s = rest;
        num.parse::<f64>()
            .map(Nested::Num)
            .map_err(|_| format!("bad number {num:?}"))
    }

    fn tensor(&mut self) -> Result<Tensor, String> {
        if self.eat("batch") {
            let Nested::List(points) = self.nested()? else {
                return Err("`batch` needs a list of points".into());
            };
            let mut shape = None;
            let mut data = Vec::new();
            for p in &points {
                let (s, d) = flatten(p)?;
                if shape.as_ref().is_some_and(|x| x != &s) {
                    return Err("points of a batch differ in shape".into());
                }
                shape = Some(s);
                data.extend(d);
            }
            return Tensor::batch(shape.unwrap_or_default(), points.len(), data)
                .map_err(|e| e.to_string());
        }
        let (shape, data) = flatten(&self.nested()?)?;
        Tensor::new(shape, data).map_err(|e| e.to_string())
    }
}

fn flatten(n: &Nested) -> Result<(Vec<usize>, Vec<f64>), String> {
    match n {
        Nested::Num(x) => Ok((Vec::new(), vec![*x])),
        Nested::List(items) => {
            let mut inner = None;
            let mut data = Vec::new();
            for item in items {
                let (s, d) = flatten(item)?;
                if inner.as_ref().is_some_and(|x| x != &s) {
                    return Err("ragged list".into());
                }
                inner = Some(s);
                data.extend(d);
            }
            let mut shape = vec![items.len()];
            shape.extend(inner.unwrap_or_default());
            Ok((shape, data))
        }
    }
}
