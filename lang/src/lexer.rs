//! The lexer: source text → tokens with byte offsets, comments kept aside, diagnostics.
//!
//! A logos state machine ([`Raw`]) recognises the spellings; [`lex`] turns them into the
//! parser's [`Tok`]s, resolving string escapes and superscript exponents, folding every
//! Unicode operator spelling onto its ASCII token (`·` and `×` are `*`, `−` is `-`, `≤` is
//! `<=`, `∈` is `in`, …) and reporting what it cannot read. Lexing never fails: an unknown
//! character is reported (E0101) and skipped, and common spellings from other languages
//! (`**`, `&&`, `||`, `!`) are reported with the sci spelling (E0106) and then read as that
//! spelling, so one slip does not cascade into parse errors.
//!
//! Comments are not tokens (the grammar never sees them) but are returned with their spans
//! so the formatter can put them back.

use logos::Logos;
use sci_diag::{Diagnostic, FileId, Span};
use std::fmt;

/// A token of the parser's alphabet. Unicode spellings are already folded onto ASCII ones.
#[derive(Clone, Debug, PartialEq)]
pub enum Tok {
    // --- keywords ---
    Model,
    Param,
    Const,
    State,
    Let,
    Output,
    Domain,
    Net,
    Residual,
    Loss,
    Data,
    Fn,
    Use,
    On,
    Where,
    If,
    Then,
    Else,
    /// `in` or `∈`.
    In,
    /// `and` or `∧`.
    And,
    /// `or` or `∨`.
    Or,
    /// `not` or `¬`.
    Not,
    Real,
    /// `der`: starts a `der(x) = …` equation; inside expressions it is an ordinary name.
    Der,
    /// `fixed`: after a parameter's value, keeps it out of training.
    Fixed,
    /// `when`: starts an event, `when condition { actions }`.
    When,
    Circuit,
    Observable,
    For,
    /// `component`: a model used inside a model, `component pump = Pump(rate: 2)`.
    Component,
    // --- literals ---
    /// A name (Unicode XID identifier, or `∂`).
    Ident(String),
    /// A number literal, as written.
    Number(String),
    /// A string literal with its escapes resolved.
    Str(String),
    /// A run of superscript digits (`²`, `³`, `⁻¹`): a postfix power with this exponent.
    Sup(i64),
    // --- punctuation ---
    LParen,
    RParen,
    LBracket,
    RBracket,
    LBrace,
    RBrace,
    Comma,
    Colon,
    Semi,
    Dot,
    DotDot,
    Eq,
    EqEq,
    /// `!=` or `≠`.
    Ne,
    Lt,
    /// `<=` or `≤`.
    Le,
    Gt,
    /// `>=` or `≥`.
    Ge,
    Plus,
    /// `-` or `−`.
    Minus,
    /// `*`, `·`, `⋅` or `×`.
    Star,
    /// `/` or `÷`.
    Slash,
    Caret,
    /// `->` or `→`.
    Arrow,
    /// Never produced by [`lex`]: the parser's stand-in for a region of source that was
    /// nested too deeply to parse (already reported).
    TooDeep,
}

/// A token with its byte range `start..end`.
pub type Spanned = (usize, Tok, usize);

impl Tok {
    /// The canonical (ASCII) spelling of a keyword or punctuation token, `None` for
    /// literals.
    pub fn spelling(&self) -> Option<&'static str> {
        Some(match self {
            Tok::Model => "model",
            Tok::Param => "param",
            Tok::Const => "const",
            Tok::State => "state",
            Tok::Let => "let",
            Tok::Output => "output",
            Tok::Domain => "domain",
            Tok::Net => "net",
            Tok::Residual => "residual",
            Tok::Loss => "loss",
            Tok::Data => "data",
            Tok::Fn => "fn",
            Tok::Use => "use",
            Tok::On => "on",
            Tok::Where => "where",
            Tok::If => "if",
            Tok::Then => "then",
            Tok::Else => "else",
            Tok::In => "in",
            Tok::And => "and",
            Tok::Or => "or",
            Tok::Not => "not",
            Tok::Real => "real",
            Tok::Der => "der",
            Tok::Fixed => "fixed",
            Tok::When => "when",
            Tok::Circuit => "circuit",
            Tok::Observable => "observable",
            Tok::For => "for",
            Tok::Component => "component",
            Tok::LParen => "(",
            Tok::RParen => ")",
            Tok::LBracket => "[",
            Tok::RBracket => "]",
            Tok::LBrace => "{",
            Tok::RBrace => "}",
            Tok::Comma => ",",
            Tok::Colon => ":",
            Tok::Semi => ";",
            Tok::Dot => ".",
            Tok::DotDot => "..",
            Tok::Eq => "=",
            Tok::EqEq => "==",
            Tok::Ne => "!=",
            Tok::Lt => "<",
            Tok::Le => "<=",
            Tok::Gt => ">",
            Tok::Ge => ">=",
            Tok::Plus => "+",
            Tok::Minus => "-",
            Tok::Star => "*",
            Tok::Slash => "/",
            Tok::Caret => "^",
            Tok::Arrow => "->",
            Tok::Ident(_) | Tok::Number(_) | Tok::Str(_) | Tok::Sup(_) | Tok::TooDeep => {
                return None;
            }
        })
    }

    /// True for words reserved by the language (they cannot be used as names).
    pub fn is_keyword(&self) -> bool {
        self.spelling()
            .is_some_and(|s| s.starts_with(|c: char| c.is_ascii_alphabetic()))
    }

    /// True for the keywords that start a model member or a top-level item.
    pub fn starts_statement(&self) -> bool {
        matches!(
            self,
            Tok::Model
                | Tok::Param
                | Tok::Const
                | Tok::State
                | Tok::Let
                | Tok::Output
                | Tok::Domain
                | Tok::Net
                | Tok::Residual
                | Tok::Loss
                | Tok::Data
                | Tok::Fn
                | Tok::Use
                | Tok::When
                | Tok::Component
                | Tok::Circuit
                | Tok::Observable
        )
    }

    /// True for tokens after which a `-` is a binary minus (the token ends an operand).
    pub fn ends_operand(&self) -> bool {
        matches!(
            self,
            Tok::Ident(_)
                | Tok::Number(_)
                | Tok::Str(_)
                | Tok::Sup(_)
                | Tok::RParen
                | Tok::RBracket
                | Tok::Der
                | Tok::TooDeep
        )
    }
}

impl fmt::Display for Tok {
    /// How the token is named in a diagnostic: "the name `x`", "`)`", "the keyword `param`".
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Tok::Ident(name) => write!(f, "the name `{name}`"),
            Tok::Number(text) => write!(f, "the number `{text}`"),
            Tok::Str(s) => write!(f, "the string {s:?}"),
            Tok::Sup(n) => write!(f, "the superscript power `^{n}`"),
            Tok::TooDeep => f.write_str("a part nested too deeply"),
            other => {
                let s = other.spelling().unwrap_or("?");
                if other.is_keyword() {
                    write!(f, "the keyword `{s}`")
                } else {
                    write!(f, "`{s}`")
                }
            }
        }
    }
}

/// A comment as written, with its place (kept for the formatter).
#[derive(Clone, Debug, PartialEq)]
pub struct Comment {
    pub span: Span,
    /// The full text, including `//` or `/* */`, without the line break.
    pub text: String,
    /// `/* … */` rather than `// …`.
    pub block: bool,
}

/// Everything the lexer found in one source text.
#[derive(Clone, Debug, Default)]
pub struct Lexed {
    /// The tokens in source order, with byte offsets.
    pub tokens: Vec<Spanned>,
    /// The comments in source order.
    pub comments: Vec<Comment>,
    /// Problems found (unknown characters, unterminated strings, …).
    pub diagnostics: Vec<Diagnostic>,
}

/// The logos state machine; [`lex`] converts its output into [`Tok`]s.
#[derive(Logos, Clone, Copy, Debug, PartialEq)]
#[logos(skip r"[ \t\r\n\f]+")]
enum Raw {
    #[token("∈")]
    In,
    #[token("∧")]
    And,
    #[token("∨")]
    Or,
    #[token("¬")]
    Not,
    /// A byte-order mark, ignored.
    #[token("\u{FEFF}")]
    Bom,

    // Only the first character of a name is matched here; `ident_rest` reads the rest.
    // (Repetitions over multi-byte characters in logos' generated code use stack per
    // character in debug builds, so every token that can be long and non-ASCII — names,
    // strings, comments, superscripts — is extended by hand.)
    #[regex(r"[\p{XID_Start}_]", ident_rest)]
    Ident,
    #[token("∂")]
    Partial,
    #[regex(r"[0-9]+(\.[0-9]+)?([eE][+-]?[0-9]+)?")]
    Number,
    #[regex(r"\.[0-9]+")]
    LeadingDot,
    #[token("\"", string_rest)]
    Str(bool),
    #[regex(r"[⁰¹²³⁴⁵⁶⁷⁸⁹⁻]", superscript_rest)]
    Sup,

    #[token("//", line_comment_rest)]
    LineComment,
    #[token("/*", block_comment)]
    BlockComment(bool),

    #[token("(")]
    LParen,
    #[token(")")]
    RParen,
    #[token("[")]
    LBracket,
    #[token("]")]
    RBracket,
    #[token("{")]
    LBrace,
    #[token("}")]
    RBrace,
    #[token(",")]
    Comma,
    #[token(":")]
    Colon,
    #[token(";")]
    Semi,
    #[token(".")]
    Dot,
    #[token("..")]
    DotDot,
    #[token("=")]
    Eq,
    #[token("==")]
    EqEq,
    #[token("!=")]
    #[token("≠")]
    Ne,
    #[token("<")]
    Lt,
    #[token("<=")]
    #[token("≤")]
    Le,
    #[token(">")]
    Gt,
    #[token(">=")]
    #[token("≥")]
    Ge,
    #[token("+")]
    Plus,
    #[token("-")]
    #[token("−")]
    Minus,
    #[token("*")]
    #[token("·")]
    #[token("⋅")]
    #[token("×")]
    Star,
    #[token("/")]
    #[token("÷")]
    Slash,
    #[token("^")]
    Caret,
    #[token("->")]
    #[token("→")]
    Arrow,

    // Spellings from other languages: reported, then read as the sci spelling.
    #[token("**")]
    StarStar,
    #[token("&&")]
    AmpAmp,
    #[token("||")]
    PipePipe,
    #[token("!")]
    Bang,
}

/// Consumes a `/* … */` comment (not nested); `false` if it runs to the end of the text.
fn block_comment(lex: &mut logos::Lexer<Raw>) -> bool {
    let rest = lex.remainder();
    match rest.find("*/") {
        Some(i) => {
            lex.bump(i + 2);
            true
        }
        None => {
            lex.bump(rest.len());
            false
        }
    }
}

/// Consumes a `//` comment up to (not including) the line break.
fn line_comment_rest(lex: &mut logos::Lexer<Raw>) {
    let rest = lex.remainder();
    lex.bump(rest.find('\n').unwrap_or(rest.len()));
}

/// Consumes the rest of a string literal up to its closing quote (escapes skipped); `false`
/// if the line or the text ends first (the line break is not consumed).
fn string_rest(lex: &mut logos::Lexer<Raw>) -> bool {
    let rest = lex.remainder();
    let mut chars = rest.char_indices();
    while let Some((i, c)) = chars.next() {
        match c {
            '"' => {
                lex.bump(i + 1);
                return true;
            }
            '\\' => match chars.next() {
                Some((_, '\n')) | None => {
                    lex.bump(i + 1);
                    return false;
                }
                Some(_) => {}
            },
            '\n' => {
                lex.bump(i);
                return false;
            }
            _ => {}
        }
    }
    lex.bump(rest.len());
    false
}

/// Consumes the rest of a run of superscript digits.
fn superscript_rest(lex: &mut logos::Lexer<Raw>) {
    let rest = lex.remainder();
    let len = rest
        .char_indices()
        .find(|&(_, c)| !"⁰¹²³⁴⁵⁶⁷⁸⁹".contains(c))
        .map_or(rest.len(), |(i, _)| i);
    lex.bump(len);
}

/// Consumes the rest of a name after its first character.
fn ident_rest(lex: &mut logos::Lexer<Raw>) {
    let rest = lex.remainder();
    let len = rest
        .char_indices()
        .find(|&(_, c)| !continues_ident(c))
        .map_or(rest.len(), |(i, _)| i);
    lex.bump(len);
}

/// One character of the Unicode XID_Continue class (minus `·`, which is multiplication
/// here), or a subscript digit.
#[derive(Logos)]
enum IdentChar {
    #[regex(r"[[\p{XID_Continue}₀-₉]--[·]]")]
    Continue,
}

fn continues_ident(c: char) -> bool {
    if c.is_ascii() {
        return c.is_ascii_alphanumeric() || c == '_';
    }
    let mut buf = [0u8; 4];
    let s: &str = c.encode_utf8(&mut buf);
    let mut lexer = IdentChar::lexer(s);
    matches!(lexer.next(), Some(Ok(IdentChar::Continue))) && lexer.span().end == s.len()
}

/// The keyword spelled `word`, if it is one.
fn keyword(word: &str) -> Option<Tok> {
    Some(match word {
        "model" => Tok::Model,
        "param" => Tok::Param,
        "const" => Tok::Const,
        "state" => Tok::State,
        "let" => Tok::Let,
        "output" => Tok::Output,
        "domain" => Tok::Domain,
        "net" => Tok::Net,
        "residual" => Tok::Residual,
        "loss" => Tok::Loss,
        "data" => Tok::Data,
        "fn" => Tok::Fn,
        "use" => Tok::Use,
        "on" => Tok::On,
        "where" => Tok::Where,
        "if" => Tok::If,
        "then" => Tok::Then,
        "else" => Tok::Else,
        "in" => Tok::In,
        "and" => Tok::And,
        "or" => Tok::Or,
        "not" => Tok::Not,
        "real" => Tok::Real,
        "der" => Tok::Der,
        "fixed" => Tok::Fixed,
        "when" => Tok::When,
        "circuit" => Tok::Circuit,
        "observable" => Tok::Observable,
        "for" => Tok::For,
        "component" => Tok::Component,
        _ => return None,
    })
}

/// Lexes `src` (the text of `file`). Never fails; see [`Lexed`].
pub fn lex(file: FileId, src: &str) -> Lexed {
    let mut out = Lexed::default();
    let mut lexer = Raw::lexer(src);
    while let Some(raw) = lexer.next() {
        let range = lexer.span();
        let slice = lexer.slice();
        let span = Span::new(file, range.start, range.end);
        let tok = match raw {
            Err(()) => {
                out.diagnostics.push(unknown_char(slice, span));
                continue;
            }
            Ok(raw) => match convert(raw, slice, span, &mut out) {
                Some(tok) => tok,
                None => continue,
            },
        };
        out.tokens.push((range.start, tok, range.end));
    }
    out
}

/// Only the comments of `src`, in source order (for the formatter and the language server).
pub fn comments(file: FileId, src: &str) -> Vec<Comment> {
    lex(file, src).comments
}

fn unknown_char(slice: &str, span: Span) -> Diagnostic {
    let c = slice.chars().next().unwrap_or('?');
    let mut d = Diagnostic::error(
        "E0101",
        format!(
            "The character `{}` (U+{:04X}) is not part of the sci language.",
            c.escape_debug(),
            c as u32
        ),
    )
    .with_primary(span, "unknown character");
    let help = match c {
        '\'' => Some("strings are written in double quotes: \"file.csv\""),
        '%' => Some("there is no remainder operator; comments start with `//`"),
        '#' => Some("comments start with `//`"),
        '&' => Some("write `and` for logical and"),
        '|' => Some("write `or` for logical or"),
        '@' | '$' | '?' | '~' | '`' => None,
        _ => None,
    };
    if let Some(h) = help {
        d = d.with_help(h);
    }
    d
}

/// Converts one raw token; `None` for comments (recorded aside).
fn convert(raw: Raw, slice: &str, span: Span, out: &mut Lexed) -> Option<Tok> {
    Some(match raw {
        Raw::In => Tok::In,
        Raw::And => Tok::And,
        Raw::Or => Tok::Or,
        Raw::Not => Tok::Not,
        Raw::Bom => return None,
        Raw::Ident => keyword(slice).unwrap_or_else(|| Tok::Ident(slice.to_owned())),
        Raw::Partial => Tok::Ident("∂".to_owned()),
        Raw::Number => {
            if slice.parse::<f64>().is_ok_and(f64::is_infinite) {
                out.diagnostics.push(
                    Diagnostic::error(
                        "E0105",
                        format!("The number `{slice}` is too large to represent."),
                    )
                    .with_primary(span, "larger than about 1.8e308"),
                );
            }
            Tok::Number(slice.to_owned())
        }
        Raw::LeadingDot => {
            out.diagnostics.push(
                Diagnostic::error(
                    "E0105",
                    format!("A number cannot start with `.`: `{slice}`."),
                )
                .with_primary(span, "missing the leading digit")
                .with_help(format!("write `0{slice}`")),
            );
            Tok::Number(format!("0{slice}"))
        }
        Raw::Str(true) => Tok::Str(unescape(slice, span, out)),
        Raw::Str(false) => {
            out.diagnostics.push(
                Diagnostic::error(
                    "E0102",
                    "This string is not closed before the end of the line.",
                )
                .with_primary(span, "the string starts here")
                .with_help("add a closing `\"`"),
            );
            Tok::Str(unescape(slice, span, out))
        }
        Raw::Sup => superscript(slice, span, out),
        Raw::LineComment => {
            out.comments.push(Comment {
                span,
                text: slice.trim_end().to_owned(),
                block: false,
            });
            return None;
        }
        Raw::BlockComment(closed) => {
            if !closed {
                out.diagnostics.push(
                    Diagnostic::error("E0103", "This comment is not closed: `*/` is missing.")
                        .with_primary(
                            Span::new(span.file, span.range().start, span.range().start + 2),
                            "the comment starts here",
                        )
                        .with_help("add `*/` where the comment should end"),
                );
            }
            out.comments.push(Comment {
                span,
                text: slice.to_owned(),
                block: true,
            });
            return None;
        }
        Raw::LParen => Tok::LParen,
        Raw::RParen => Tok::RParen,
        Raw::LBracket => Tok::LBracket,
        Raw::RBracket => Tok::RBracket,
        Raw::LBrace => Tok::LBrace,
        Raw::RBrace => Tok::RBrace,
        Raw::Comma => Tok::Comma,
        Raw::Colon => Tok::Colon,
        Raw::Semi => Tok::Semi,
        Raw::Dot => Tok::Dot,
        Raw::DotDot => Tok::DotDot,
        Raw::Eq => Tok::Eq,
        Raw::EqEq => Tok::EqEq,
        Raw::Ne => Tok::Ne,
        Raw::Lt => Tok::Lt,
        Raw::Le => Tok::Le,
        Raw::Gt => Tok::Gt,
        Raw::Ge => Tok::Ge,
        Raw::Plus => Tok::Plus,
        Raw::Minus => Tok::Minus,
        Raw::Star => Tok::Star,
        Raw::Slash => Tok::Slash,
        Raw::Caret => Tok::Caret,
        Raw::Arrow => Tok::Arrow,
        Raw::StarStar => {
            out.diagnostics.push(foreign("**", "^", "for powers", span));
            Tok::Caret
        }
        Raw::AmpAmp => {
            out.diagnostics
                .push(foreign("&&", "and", "for logical and", span));
            Tok::And
        }
        Raw::PipePipe => {
            out.diagnostics
                .push(foreign("||", "or", "for logical or", span));
            Tok::Or
        }
        Raw::Bang => {
            out.diagnostics
                .push(foreign("!", "not", "for logical negation", span));
            Tok::Not
        }
    })
}

fn foreign(written: &str, ours: &str, what: &str, span: Span) -> Diagnostic {
    Diagnostic::error("E0106", format!("`{written}` is not an operator in sci."))
        .with_primary(span, format!("read as `{ours}`"))
        .with_help(format!("use `{ours}` {what}"))
}

/// Resolves the escapes of a string literal (`slice` includes the quotes).
fn unescape(slice: &str, span: Span, out: &mut Lexed) -> String {
    let inner = slice.strip_prefix('"').unwrap_or(slice);
    let inner = inner.strip_suffix('"').unwrap_or(inner);
    let base = span.range().start + 1;
    let mut s = String::with_capacity(inner.len());
    let mut chars = inner.char_indices().peekable();
    while let Some((i, c)) = chars.next() {
        if c != '\\' {
            s.push(c);
            continue;
        }
        let Some((j, e)) = chars.next() else {
            s.push('\\');
            break;
        };
        match e {
            '"' => s.push('"'),
            '\\' => s.push('\\'),
            'n' => s.push('\n'),
            't' => s.push('\t'),
            'r' => s.push('\r'),
            '0' => s.push('\0'),
            'u' => {
                // \u{XXXX}
                let rest = &inner[j + 1..];
                let decoded = rest
                    .strip_prefix('{')
                    .and_then(|r| r.find('}').map(|end| &r[..end]))
                    .and_then(|hex| {
                        u32::from_str_radix(hex, 16)
                            .ok()
                            .and_then(char::from_u32)
                            .map(|ch| (ch, hex.len() + 2))
                    });
                match decoded {
                    Some((ch, len)) => {
                        s.push(ch);
                        // Skip the `{hex}` part.
                        let stop = j + 1 + len;
                        while chars.peek().is_some_and(|&(k, _)| k < stop) {
                            chars.next();
                        }
                    }
                    None => {
                        out.diagnostics
                            .push(bad_escape(span, base + i, base + j + 1, "\\u"));
                    }
                }
            }
            other => {
                let end = j + other.len_utf8();
                out.diagnostics
                    .push(bad_escape(span, base + i, base + end, &inner[i..end]));
                s.push(other);
            }
        }
    }
    s
}

fn bad_escape(span: Span, start: usize, end: usize, written: &str) -> Diagnostic {
    Diagnostic::error(
        "E0104",
        format!("`{written}` is not a valid escape in a string."),
    )
    .with_primary(Span::new(span.file, start, end), "unknown escape")
    .with_help(r#"the escapes are \" \\ \n \t \r \0 and \u{hex}"#)
}

/// Reads a run of superscript digits (with an optional leading `⁻`) as an exponent.
fn superscript(slice: &str, span: Span, out: &mut Lexed) -> Tok {
    let mut value: i64 = 0;
    let mut negative = false;
    let mut overflow = false;
    for c in slice.chars() {
        let digit = match c {
            '⁻' => {
                negative = true;
                continue;
            }
            '⁰' => 0,
            '¹' => 1,
            '²' => 2,
            '³' => 3,
            '⁴' => 4,
            '⁵' => 5,
            '⁶' => 6,
            '⁷' => 7,
            '⁸' => 8,
            _ => 9,
        };
        match value.checked_mul(10).and_then(|v| v.checked_add(digit)) {
            Some(v) => value = v,
            None => overflow = true,
        }
    }
    if !slice.chars().any(|c| c != '⁻') {
        out.diagnostics.push(
            Diagnostic::error(
                "E0105",
                "A superscript minus `⁻` needs superscript digits after it, as in `s⁻¹`.",
            )
            .with_primary(span, "no digits"),
        );
        return Tok::Sup(-1);
    }
    if overflow {
        out.diagnostics.push(
            Diagnostic::error("E0105", "This superscript exponent is too large.")
                .with_primary(span, "too many digits"),
        );
        value = 0;
    }
    Tok::Sup(if negative { -value } else { value })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn toks(src: &str) -> Vec<Tok> {
        lex(FileId(0), src)
            .tokens
            .into_iter()
            .map(|t| t.1)
            .collect()
    }

    #[test]
    fn unicode_spellings_fold_to_ascii() {
        assert_eq!(
            toks("a·b × c − d ≤ e ≥ f ≠ g ∧ h ∨ ¬i ∈ → ÷"),
            vec![
                Tok::Ident("a".into()),
                Tok::Star,
                Tok::Ident("b".into()),
                Tok::Star,
                Tok::Ident("c".into()),
                Tok::Minus,
                Tok::Ident("d".into()),
                Tok::Le,
                Tok::Ident("e".into()),
                Tok::Ge,
                Tok::Ident("f".into()),
                Tok::Ne,
                Tok::Ident("g".into()),
                Tok::And,
                Tok::Ident("h".into()),
                Tok::Or,
                Tok::Not,
                Tok::Ident("i".into()),
                Tok::In,
                Tok::Arrow,
                Tok::Slash,
            ]
        );
    }

    #[test]
    fn greek_and_partial_are_names_and_superscripts_are_powers() {
        assert_eq!(
            toks("∂ α θ₁ x² s⁻¹"),
            vec![
                Tok::Ident("∂".into()),
                Tok::Ident("α".into()),
                Tok::Ident("θ₁".into()),
                Tok::Ident("x".into()),
                Tok::Sup(2),
                Tok::Ident("s".into()),
                Tok::Sup(-1),
            ]
        );
    }

    #[test]
    fn keywords_are_whole_words() {
        assert_eq!(
            toks("model models der derive in inside"),
            vec![
                Tok::Model,
                Tok::Ident("models".into()),
                Tok::Der,
                Tok::Ident("derive".into()),
                Tok::In,
                Tok::Ident("inside".into()),
            ]
        );
    }

    #[test]
    fn long_unicode_tokens_do_not_exhaust_the_stack() {
        let run = |src: String| {
            std::thread::Builder::new()
                .stack_size(256 * 1024)
                .spawn(move || lex(FileId(0), &src).tokens.len())
                .unwrap()
                .join()
                .unwrap()
        };
        assert_eq!(run("α".repeat(100_000)), 1);
        assert_eq!(run(format!("\"{}\"", "α".repeat(100_000))), 1);
        assert_eq!(run(format!("// {}", "α".repeat(100_000))), 0);
        assert_eq!(run(format!("x{}", "²".repeat(100_000))), 2);
        assert_eq!(run("\u{FEFF}".repeat(100_000)), 0);
    }

    #[test]
    fn ranges_are_not_decimals() {
        assert_eq!(
            toks("0..n 1.5 3.0e7 1e-3"),
            vec![
                Tok::Number("0".into()),
                Tok::DotDot,
                Tok::Ident("n".into()),
                Tok::Number("1.5".into()),
                Tok::Number("3.0e7".into()),
                Tok::Number("1e-3".into()),
            ]
        );
    }

    #[test]
    fn comments_are_kept_aside() {
        let lexed = lex(FileId(0), "a // one\n/* two */ b");
        assert_eq!(lexed.tokens.len(), 2);
        assert_eq!(lexed.comments.len(), 2);
        assert_eq!(lexed.comments[0].text, "// one");
        assert!(lexed.comments[1].block);
    }

    #[test]
    fn strings_resolve_escapes() {
        assert_eq!(toks(r#""a\"b\n\u{3b1}""#), vec![Tok::Str("a\"b\nα".into())]);
    }

    #[test]
    fn unknown_characters_are_reported_and_skipped() {
        let lexed = lex(FileId(0), "a $ b");
        assert_eq!(lexed.tokens.len(), 2);
        assert_eq!(lexed.diagnostics[0].code, "E0101");
    }
}
