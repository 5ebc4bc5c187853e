//! The `.sir` lexer: turns text into tokens with byte spans. Never panics.

use super::{CODE_SYNTAX, MAX_TOKENS};
use crate::print::is_ident_continue;
use sci_diag::{Diagnostic, FileId, Span};

/// What a token is.
#[derive(Clone, Debug, PartialEq)]
pub(super) enum Tok {
    /// An identifier or keyword (`func`, `prey`, `θ`, `inf`).
    Ident(String),
    /// A value reference or definition, without the `%` (`prey`, `12`).
    Value(String),
    /// A quoted string, unescaped.
    Str(String),
    /// A number literal as written (`12`, `1.5`, `1e-7`); signs are separate tokens.
    Num(String),
    /// `->`.
    Arrow,
    /// Any other single character: `( ) [ ] { } , : = @ / ^ · * - +`.
    Punct(char),
}

/// A token with its byte span.
#[derive(Clone, Debug)]
pub(super) struct Token {
    pub tok: Tok,
    pub start: usize,
    pub end: usize,
}

/// Splits `text` into tokens; comments (`;` or `//` to end of line) and whitespace are
/// dropped.
pub(super) fn lex(file: FileId, text: &str) -> Result<Vec<Token>, Diagnostic> {
    let mut tokens = Vec::new();
    let mut chars = text.char_indices().peekable();
    while let Some(&(start, c)) = chars.peek() {
        if tokens.len() > MAX_TOKENS {
            return Err(Diagnostic::error(
                "E0606",
                format!("The IR text has more than {MAX_TOKENS} tokens."),
            )
            .with_primary(Span::new(file, start, start), "here"));
        }
        if c.is_whitespace() {
            chars.next();
            continue;
        }
        let rest = text.get(start..).unwrap_or("");
        if c == ';' || rest.starts_with("//") {
            while let Some(&(_, c)) = chars.peek() {
                if c == '\n' {
                    break;
                }
                chars.next();
            }
            continue;
        }
        chars.next();
        let tok = if c == '%' {
            let mut s = String::new();
            while let Some(&(_, c)) = chars.peek() {
                if !is_ident_continue(c) {
                    break;
                }
                s.push(c);
                chars.next();
            }
            if s.is_empty() {
                return Err(Diagnostic::error(
                    "E0601",
                    "A `%` must be followed by a value name such as `%x` or `%12`.",
                )
                .with_primary(Span::new(file, start, start + 1), "expected a value name"));
            }
            Tok::Value(s)
        } else if c.is_alphabetic() || c == '_' {
            let mut s = String::from(c);
            while let Some(&(_, c)) = chars.peek() {
                if !is_ident_continue(c) {
                    break;
                }
                s.push(c);
                chars.next();
            }
            Tok::Ident(s)
        } else if c.is_ascii_digit() {
            let mut s = String::from(c);
            lex_number(&mut chars, &mut s);
            Tok::Num(s)
        } else if c == '"' {
            Tok::Str(lex_string(file, start, &mut chars)?)
        } else if c == '-' && chars.peek().map(|&(_, c)| c) == Some('>') {
            chars.next();
            Tok::Arrow
        } else if "()[]{},:=@/^·*-+".contains(c) {
            Tok::Punct(c)
        } else {
            return Err(Diagnostic::error(
                CODE_SYNTAX,
                format!("The character `{c}` has no meaning in IR text."),
            )
            .with_primary(
                Span::new(file, start, start + c.len_utf8()),
                "unexpected character",
            ));
        };
        let end = chars.peek().map(|&(i, _)| i).unwrap_or(text.len());
        tokens.push(Token { tok, start, end });
    }
    Ok(tokens)
}

type Chars<'a> = std::iter::Peekable<std::str::CharIndices<'a>>;

fn take_digits(chars: &mut Chars<'_>, s: &mut String) {
    while let Some(&(_, c)) = chars.peek() {
        if !c.is_ascii_digit() {
            break;
        }
        s.push(c);
        chars.next();
    }
}

/// Digits, an optional fraction and an optional exponent (the first digit is in `s`).
fn lex_number(chars: &mut Chars<'_>, s: &mut String) {
    take_digits(chars, s);
    let mut look = chars.clone();
    if let Some((_, '.')) = look.next()
        && look.peek().is_some_and(|&(_, c)| c.is_ascii_digit())
    {
        chars.next();
        s.push('.');
        take_digits(chars, s);
    }
    let mut look = chars.clone();
    if let Some((_, e @ ('e' | 'E'))) = look.next() {
        let mut exp = String::from(e);
        if let Some(&(_, sign @ ('+' | '-'))) = look.peek() {
            exp.push(sign);
            look.next();
        }
        if look.peek().is_some_and(|&(_, c)| c.is_ascii_digit()) {
            *chars = look;
            s.push_str(&exp);
            take_digits(chars, s);
        }
    }
}

fn lex_string(file: FileId, start: usize, chars: &mut Chars<'_>) -> Result<String, Diagnostic> {
    let mut s = String::new();
    let unterminated = || {
        Diagnostic::error(CODE_SYNTAX, "This string is not closed with `\"`.")
            .with_primary(Span::new(file, start, start + 1), "string starts here")
    };
    loop {
        let Some((i, c)) = chars.next() else {
            return Err(unterminated());
        };
        match c {
            '"' => return Ok(s),
            '\\' => {
                let Some((_, e)) = chars.next() else {
                    return Err(unterminated());
                };
                match e {
                    'n' => s.push('\n'),
                    'r' => s.push('\r'),
                    't' => s.push('\t'),
                    '0' => s.push('\0'),
                    '\\' | '"' | '\'' => s.push(e),
                    'u' => s.push(lex_unicode_escape(file, i, chars)?),
                    other => {
                        return Err(Diagnostic::error(
                            CODE_SYNTAX,
                            format!("`\\{other}` is not a string escape."),
                        )
                        .with_primary(
                            Span::new(file, i, i + 1 + other.len_utf8()),
                            "unknown escape",
                        )
                        .with_help("use one of \\n \\r \\t \\0 \\\\ \\\" \\' \\u{…}"));
                    }
                }
            }
            _ => s.push(c),
        }
    }
}

fn lex_unicode_escape(file: FileId, at: usize, chars: &mut Chars<'_>) -> Result<char, Diagnostic> {
    let bad = || {
        Diagnostic::error(CODE_SYNTAX, "A `\\u` escape must look like `\\u{3b8}`.")
            .with_primary(Span::new(file, at, at + 2), "bad escape")
    };
    if chars.next().map(|(_, c)| c) != Some('{') {
        return Err(bad());
    }
    let mut hex = String::new();
    loop {
        match chars.next() {
            Some((_, '}')) => break,
            Some((_, c)) if c.is_ascii_hexdigit() && hex.len() < 6 => hex.push(c),
            _ => return Err(bad()),
        }
    }
    u32::from_str_radix(&hex, 16)
        .ok()
        .and_then(char::from_u32)
        .ok_or_else(bad)
}
