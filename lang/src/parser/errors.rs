//! Turns the generated parser's errors into diagnostics a scientist can act on.
//!
//! lalrpop reports the token it could not use and the list of terminals it would have
//! accepted. That list is rewritten in words ("an expression", "a model member", "`=`"), the
//! statement being parsed is named ("after the name of the parameter `alpha`"), and the
//! common slips get their own message and help: `=` for `==`, chained comparisons, unclosed
//! or unmatched brackets, a line in a model that starts with a plain name.
//!
//! Codes: E0110 unexpected token, E0111 expected an expression, E0112 unclosed bracket,
//! E0113 unmatched closing bracket, E0114 unexpected end of file, E0116 `=` for `==`,
//! E0117 chained comparison, E0121 not a model member (E0122 `fixed` on a non-parameter
//! and E0123 `=` in an event are reported by the grammar's actions, `build.rs`).

use crate::lexer::{Spanned, Tok};
use lalrpop_util::ParseError;
use sci_diag::{Diagnostic, FileId, Span};
use std::collections::BTreeSet;

/// How far back (in tokens) the context of an error is looked for, so that describing many
/// errors in a huge file stays linear.
const SCAN_LIMIT: usize = 4096;

/// What the parser saw where it failed.
struct Found<'a> {
    /// Index into the token list, `None` at the end of the file.
    index: Option<usize>,
    tok: Option<&'a Tok>,
    span: Span,
    /// How to name it in a message.
    text: String,
}

/// Everything needed to describe errors: the parser's tokens and the file.
pub struct Describer<'a> {
    pub file: FileId,
    pub tokens: &'a [Spanned],
    pub synthetic: &'a [usize],
    /// The source text (line breaks tell a new line's first word from a continuation).
    pub src: &'a str,
}

impl Describer<'_> {
    /// The diagnostic for one recovered (or final) parse error.
    pub fn describe(&self, error: &ParseError<usize, Tok, std::convert::Infallible>) -> Diagnostic {
        let (found, expected) = match error {
            ParseError::UnrecognizedToken { token, expected } => {
                (self.found_token(token), expected.as_slice())
            }
            ParseError::UnrecognizedEof { expected, .. } => (self.found_eof(), expected.as_slice()),
            ParseError::ExtraToken { token } => (self.found_token(token), &[][..]),
            ParseError::InvalidToken { location } => {
                let index = self.tokens.partition_point(|t| t.0 < *location);
                let found = match self.tokens.get(index) {
                    Some(t) => self.found_token(t),
                    None => self.found_eof(),
                };
                (found, &[][..])
            }
            ParseError::User { error } => match *error {},
        };
        let expected: BTreeSet<&str> = expected.iter().map(|s| s.trim_matches('"')).collect();
        self.message(&found, &expected)
    }

    /// True if token `i` was inserted by the pre-pass (`synthetic` is sorted).
    fn is_synthetic(&self, i: usize) -> bool {
        self.synthetic.binary_search(&i).is_ok()
    }

    fn found_eof(&self) -> Found<'_> {
        Found {
            index: None,
            tok: None,
            span: Span::new(self.file, self.src.len(), self.src.len()),
            text: "the end of the file".to_owned(),
        }
    }

    fn found_token(&self, token: &Spanned) -> Found<'_> {
        let first = self.tokens.partition_point(|t| t.0 < token.0);
        let index = (first..self.tokens.len())
            .take_while(|&i| self.tokens[i].0 == token.0)
            .find(|&i| self.tokens[i].1 == token.1 && self.tokens[i].2 == token.2);
        let Some(index) = index else {
            return Found {
                index: None,
                tok: None,
                span: Span::new(self.file, token.0, token.2),
                text: token.1.to_string(),
            };
        };
        let tok = &self.tokens[index].1;
        let text = if self.is_synthetic(index) {
            // An inserted closer: name what really comes next.
            match (index + 1..self.tokens.len()).find(|i| !self.is_synthetic(*i)) {
                Some(next) => self.tokens[next].1.to_string(),
                None => "the end of the file".to_owned(),
            }
        } else {
            tok.to_string()
        };
        Found {
            index: Some(index),
            tok: Some(tok),
            span: Span::new(self.file, token.0, token.2),
            text,
        }
    }

    fn is_eof_like(&self, found: &Found) -> bool {
        match found.index {
            None => true,
            Some(i) => {
                self.is_synthetic(i) && (i + 1..self.tokens.len()).all(|j| self.is_synthetic(j))
            }
        }
    }

    /// The token before the found one.
    fn prev(&self, found: &Found) -> Option<&Tok> {
        let end = found.index.unwrap_or(self.tokens.len());
        end.checked_sub(1)
            .and_then(|i| self.tokens.get(i))
            .map(|t| &t.1)
    }

    /// The index of the keyword that starts the statement containing the found token.
    fn statement_start(&self, found: &Found) -> Option<usize> {
        let end = found.index.unwrap_or(self.tokens.len());
        (end.saturating_sub(SCAN_LIMIT)..end).rev().find(|&i| {
            let t = &self.tokens[i].1;
            t.starts_statement()
                || (*t == Tok::Der
                    && i.checked_sub(1).is_none_or(|p| {
                        let before = &self.tokens[p].1;
                        before.ends_operand()
                            || matches!(before, Tok::LBrace | Tok::Semi | Tok::RBrace)
                    }))
        })
    }

    /// "the parameter `alpha`" for the statement containing the found token.
    fn statement_name(&self, found: &Found) -> Option<String> {
        let start = self.statement_start(found)?;
        let kind = match self.tokens[start].1 {
            Tok::Model => "model",
            Tok::Param => "parameter",
            Tok::Const => "constant",
            Tok::State => "state",
            Tok::Let => "definition",
            Tok::Output => "output",
            Tok::Domain => "domain",
            Tok::Net => "network",
            Tok::Residual => "residual",
            Tok::Loss => "loss",
            Tok::Data => "data source",
            Tok::Fn => "function",
            Tok::Use => "`use` declaration",
            Tok::Der => return Some("the `der` equation".to_owned()),
            Tok::When => return Some("the event".to_owned()),
            _ => return None,
        };
        match self.tokens.get(start + 1).map(|t| &t.1) {
            Some(Tok::Ident(name)) if Some(start + 1) != found.index => {
                Some(format!("the {kind} `{name}`"))
            }
            _ => Some(format!("the {kind}")),
        }
    }

    /// The innermost bracket opened (and not closed) between the statement start and the
    /// found token, with its index.
    fn unclosed_opener(&self, found: &Found) -> Option<usize> {
        let start = self.statement_start(found).unwrap_or(0);
        self.unclosed_opener_from(found, start)
    }

    /// As [`Self::unclosed_opener`], searching back to token `start`.
    fn unclosed_opener_from(&self, found: &Found, start: usize) -> Option<usize> {
        let end = found.index.unwrap_or(self.tokens.len());
        let start = start.max(end.saturating_sub(SCAN_LIMIT));
        let mut depth = 0usize;
        for i in (start..end).rev() {
            match self.tokens[i].1 {
                Tok::RParen | Tok::RBracket | Tok::RBrace => depth += 1,
                Tok::LParen | Tok::LBracket | Tok::LBrace => {
                    if depth == 0 {
                        return Some(i);
                    }
                    depth -= 1;
                }
                _ => {}
            }
        }
        None
    }

    fn span_of(&self, i: usize) -> Span {
        let t = &self.tokens[i];
        Span::new(self.file, t.0, t.2)
    }

    fn message(&self, found: &Found, expected: &BTreeSet<&str>) -> Diagnostic {
        let found_text = &found.text;
        let eof = self.is_eof_like(found);
        let tok = if eof { None } else { found.tok };
        let wants_member = expected.contains("param") && expected.contains("state");
        // Where a member may end the parser may already have reduced the value before the
        // error (so operators are no longer listed): the token before says a value ended.
        let after_operand = (expected.contains("+") && expected.contains("*"))
            || (wants_member && self.prev(found).is_some_and(Tok::ends_operand));
        let wants_expr = expected.contains("Number") && expected.contains("(");
        let wants_item = expected.contains("model") && !wants_member;
        let wants_closer = [")", "]", "}"].iter().any(|c| expected.contains(c));

        // `=` where `==` was meant.
        if tok == Some(&Tok::Eq) && expected.contains("==") {
            return Diagnostic::error(
                "E0116",
                "`=` defines a quantity; it cannot compare two values.",
            )
            .with_primary(found.span, "expected `==` here")
            .with_help("use `==` to compare");
        }

        // `a < b < c`.
        if let Some(t) = tok
            && is_comparison(t)
            && !expected.contains("<")
            && expected.contains("and")
        {
            return Diagnostic::error("E0117", "Comparisons cannot be chained.")
                .with_primary(found.span, "a second comparison")
                .with_help("combine two comparisons with `and`, as in `a < b and b < c`");
        }

        // A `}` that closes a model whose last member is incomplete is described by what
        // the member lacks (below), not as a bracket problem.
        let closes_brace = tok == Some(&Tok::RBrace)
            && self
                .unclosed_opener_from(found, 0)
                .is_some_and(|i| self.tokens[i].1 == Tok::LBrace);
        // A closer with nothing (or the wrong thing) to close.
        if let Some(t @ (Tok::RParen | Tok::RBracket | Tok::RBrace)) = tok
            && !expected.contains(t.spelling().unwrap_or(""))
            && !closes_brace
        {
            let closer = t.spelling().unwrap_or("?");
            if let Some(open) = self.unclosed_opener(found) {
                let opener = self.tokens[open].1.spelling().unwrap_or("?");
                let want = matching_closer(opener);
                // A `}` after an unclosed `(` is reported below as the `(` left open.
                if want != closer && expected.contains(want) && *t != Tok::RBrace {
                    return Diagnostic::error(
                        "E0113",
                        format!("This `{closer}` does not match the `{opener}` it would close."),
                    )
                    .with_primary(found.span, format!("expected `{want}` here"))
                    .with_secondary(self.span_of(open), format!("this `{opener}` is still open"));
                }
            } else {
                return Diagnostic::error(
                    "E0113",
                    format!("This `{closer}` has no matching opening bracket."),
                )
                .with_primary(found.span, "nothing to close")
                .with_help("remove it, or add the opening bracket where it belongs");
            }
        }

        // The statement ended with a bracket still open.
        let ends_statement = eof || tok.is_some_and(|t| t.starts_statement() || *t == Tok::RBrace);
        if wants_closer
            && ends_statement
            && let Some(open) = self.unclosed_opener(found)
        {
            let opener = self.tokens[open].1.spelling().unwrap_or("?");
            let want = matching_closer(opener);
            if expected.contains(want) {
                return Diagnostic::error("E0112", format!("This `{opener}` is never closed."))
                    .with_primary(found.span, format!("expected `{want}` before {found_text}"))
                    .with_secondary(self.span_of(open), format!("this `{opener}` is not closed"));
            }
        }

        let statement = self.statement_name(found);
        if eof {
            let what = if wants_expr {
                "an expression".to_owned()
            } else {
                phrase(expected, after_operand)
            };
            let msg = match &statement {
                Some(s) => format!("The file ends in the middle of {s}: expected {what}."),
                None => format!("The file ends too early: expected {what}."),
            };
            return Diagnostic::error("E0114", msg).with_primary(found.span, "the file ends here");
        }

        // `F = -k * x` on a line of its own after a member: the parser reads `F` as a
        // continuation of the line above, but the slip is the missing `let`.
        if wants_member
            && after_operand
            && let (Some(Tok::Ident(name)), Some(index)) = (tok, found.index)
            && self.starts_line(index)
            && self.tokens.get(index + 1).is_some_and(|t| t.1 == Tok::Eq)
        {
            let line = self.rest_of_line(index);
            return Diagnostic::error(
                "E0121",
                format!("`{name} = …` is not a model member: a named quantity needs `let`."),
            )
            .with_primary(found.span, "a line that starts no member")
            .with_help(format!(
                "write `let {line}`; the equation of a state is `der(x) = …`"
            ));
        }

        if wants_member && after_operand && tok.is_some_and(starts_operand) {
            return Diagnostic::error(
                "E0110",
                format!("Expected an operator between two values, but found {found_text}."),
            )
            .with_primary(found.span, "a value right after another")
            .with_help(self.juxtaposition_help(found));
        }

        if wants_member {
            let mut d = Diagnostic::error(
                "E0121",
                format!("Expected a model member or `}}`, but found {found_text}."),
            )
            .with_primary(found.span, "not the start of a member")
            .with_note(
                "a member starts with `const`, `param`, `state`, `let`, `output`, `der`, \
                 `when`, `domain`, `net`, `residual`, `loss`, `data`, `fn` or `use`",
            );
            if matches!(tok, Some(Tok::Ident(_))) {
                d = d.with_help(
                    "to name a quantity write `let x = …`; the equation of a state is `der(x) = …`",
                );
            }
            return d;
        }

        if wants_item {
            let help = match tok {
                Some(t) if t.starts_statement() => {
                    Some("model members such as this one belong inside `model Name { … }`")
                }
                _ => None,
            };
            let d = Diagnostic::error(
                "E0110",
                format!(
                    "Expected `model`, `fn`, `const` or `use` at the top level of the file, but found {found_text}."
                ),
            )
            .with_primary(found.span, "not the start of an item");
            return match help {
                Some(h) => d.with_help(h),
                None => d,
            };
        }

        let prev_index = found.index.unwrap_or(self.tokens.len()).checked_sub(1);
        let names_statement = prev_index.is_some_and(|p| {
            self.statement_start(found).is_some_and(|s| s + 1 == p)
                || self.tokens[p].1 == Tok::RBracket
        });
        let in_unit = expected.contains("=") && expected.contains("/") && !expected.contains("+");
        let context = match (self.prev(found), &statement) {
            (Some(_), Some(s)) if names_statement && expected.contains("=") => {
                format!(" after the name of {s}")
            }
            (Some(_), Some(s)) if in_unit => format!(" after the unit of {s}"),
            (Some(p), Some(s))
                if p.spelling().is_some() && !p.starts_statement() && !wants_expr =>
            {
                format!(" after `{}` in {s}", p.spelling().unwrap_or("?"))
            }
            (Some(p), _) if p.spelling().is_some() => {
                format!(" after `{}`", p.spelling().unwrap_or("?"))
            }
            (_, Some(s)) => format!(" in {s}"),
            _ => String::new(),
        };

        if wants_expr {
            let mut d = Diagnostic::error(
                "E0111",
                format!("Expected an expression{context}, but found {found_text}."),
            )
            .with_primary(found.span, "expected an expression here");
            if tok == Some(&Tok::Caret) && self.prev(found) == Some(&Tok::Caret) {
                d = d.with_help("use `^` for powers");
            }
            return d;
        }

        let what = if (names_statement || in_unit) && expected.contains("=") {
            "`=`".to_owned()
        } else {
            phrase(expected, after_operand)
        };
        let mut d = Diagnostic::error(
            "E0110",
            format!("Expected {what}{context}, but found {found_text}."),
        )
        .with_primary(found.span, format!("expected {what}"));
        if after_operand && tok.is_some_and(starts_operand) {
            d = d.with_help(self.juxtaposition_help(found));
        } else if what == "`=`" && tok.is_some_and(starts_operand) {
            d = d.with_help("a definition is written `name = value`");
        } else if tok == Some(&Tok::EqEq) && expected.contains("=") {
            d = d.with_help("definitions and equations are written with a single `=`");
        }
        d
    }
}

impl Describer<'_> {
    /// Help for two values side by side (`2x`, `a b`).
    /// Whether token `index` is the first on its line.
    fn starts_line(&self, index: usize) -> bool {
        let start = self.tokens[index].0;
        let previous_end = index.checked_sub(1).map_or(0, |p| self.tokens[p].2);
        self.src
            .get(previous_end.min(start)..start)
            .is_some_and(|between| between.contains('\n'))
    }

    /// The source from token `index` to the end of its line, trimmed.
    fn rest_of_line(&self, index: usize) -> &str {
        let start = self.tokens[index].0;
        let rest = self.src.get(start..).unwrap_or("");
        rest.split(['\n', '\r']).next().unwrap_or("").trim_end()
    }

    fn juxtaposition_help(&self, found: &Found) -> &'static str {
        let glued = found.index.and_then(|i| i.checked_sub(1)).is_some_and(|p| {
            matches!(self.tokens[p].1, Tok::Number(_)) && self.tokens[p].2 == self.tokens[p + 1].0
        });
        if glued {
            "multiplication is written with `*`, as in `2 * x`"
        } else {
            "two values side by side need an operator between them, such as `*`"
        }
    }
}

fn is_comparison(t: &Tok) -> bool {
    matches!(
        t,
        Tok::EqEq | Tok::Ne | Tok::Lt | Tok::Le | Tok::Gt | Tok::Ge
    )
}

fn starts_operand(t: &Tok) -> bool {
    matches!(
        t,
        Tok::Ident(_) | Tok::Number(_) | Tok::Str(_) | Tok::LParen | Tok::Der
    )
}

fn matching_closer(opener: &str) -> &'static str {
    match opener {
        "(" => ")",
        "[" => "]",
        _ => "}",
    }
}

/// The expected terminals in words, most useful first.
fn phrase(expected: &BTreeSet<&str>, after_operand: bool) -> String {
    const OPERATORS: [&str; 17] = [
        "+", "-", "*", "/", "^", "==", "!=", "<", "<=", ">", ">=", "and", "or", ".", "[", "(",
        "Sup",
    ];
    let mut names: Vec<String> = Vec::new();
    let order = [
        "=", ":", "(", ")", "[", "]", "{", "}", ",", "..", "in", "on", "where", "then", "else",
        "->", ".", "Ident", "Number", "Str", "real",
    ];
    for key in order {
        if !expected.contains(key) || (after_operand && OPERATORS.contains(&key)) {
            continue;
        }
        names.push(match key {
            "Ident" => "a name".to_owned(),
            "Number" => "a number".to_owned(),
            "Str" => "a string".to_owned(),
            k => format!("`{k}`"),
        });
    }
    if names.is_empty() {
        if after_operand {
            return "an operator".to_owned();
        }
        names = expected
            .iter()
            .filter(|k| **k != "Sup" && **k != "TooDeep")
            .take(6)
            .map(|k| format!("`{k}`"))
            .collect();
    }
    if after_operand {
        names.push("an operator".to_owned());
    }
    match names.len() {
        0 => "something else".to_owned(),
        1 => names.remove(0),
        n => {
            let last = names.remove(n - 1);
            format!("{} or {}", names.join(", "), last)
        }
    }
}
