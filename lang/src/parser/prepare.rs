//! The token pre-pass between the lexer and the grammar: closes unclosed model bodies and
//! cuts out regions nested too deeply, so the LR parser's stack (and its error recovery,
//! which searches that stack) stays small on any input.
//!
//! - Unclosed `{`: a `model` keyword can never appear inside braces, so when one arrives
//!   while a `{` is open (and at the end of the file) the missing `}`s are inserted there,
//!   with one E0112 diagnostic. The model before it keeps its members.
//! - Nesting: the *pressure* is the number of open brackets plus the pending right-nested
//!   constructs (prefix operators, `^`, `if`), which is what grows the parser's stack and the
//!   depth of the tree. When it would pass [`MAX_EXPR_DEPTH`], the rest of the statement is
//!   replaced by one [`Tok::TooDeep`] token (E0115), followed by synthetic closers for the
//!   brackets the statement left open.

use super::MAX_EXPR_DEPTH;
use super::build::too_deep_diagnostic;
use crate::lexer::{Spanned, Tok};
use sci_diag::{Diagnostic, FileId, Span};

/// The tokens for the parser, and where synthetic tokens were inserted.
pub struct Prepared {
    pub tokens: Vec<Spanned>,
    /// Indices (into `tokens`) of tokens that are not in the source.
    pub synthetic: Vec<usize>,
    pub diagnostics: Vec<Diagnostic>,
}

#[derive(Clone, Copy, PartialEq)]
enum Bracket {
    Paren,
    Square,
    Brace,
}

struct Frame {
    bracket: Bracket,
    /// Pending prefix operators and `^`s at this level (ended by a binary operator).
    chain: u32,
    /// Pending `if`s at this level (ended by `,` `:` `..` `=` or a new statement).
    ifs: u32,
}

struct Pass {
    file: FileId,
    out: Prepared,
    frames: Vec<Frame>,
    /// Start offsets of the open `{`s, innermost last, with the model name if known.
    braces: Vec<(usize, usize)>,
}

/// Runs the pre-pass over the lexer's tokens; `src_len` is the length of the text.
pub fn prepare(file: FileId, tokens: Vec<Spanned>, src_len: usize) -> Prepared {
    let mut pass = Pass {
        file,
        out: Prepared {
            tokens: Vec::with_capacity(tokens.len() + 4),
            synthetic: Vec::new(),
            diagnostics: Vec::new(),
        },
        frames: vec![Frame {
            bracket: Brace,
            chain: 0,
            ifs: 0,
        }],
        braces: Vec::new(),
    };
    let mut iter = tokens.into_iter().peekable();
    while let Some(tok) = iter.next() {
        if tok.1 == Tok::Model && !pass.braces.is_empty() {
            pass.close_braces(tok.0, "before the next model");
        }
        if pass.would_overflow(&tok.1) {
            pass.cut(tok, &mut iter);
            continue;
        }
        pass.account(&tok.1);
        pass.push(tok);
    }
    if !pass.braces.is_empty() {
        pass.close_braces(src_len, "before the end of the file");
    }
    pass.out
}

use Bracket::{Brace, Paren, Square};

impl Pass {
    fn push(&mut self, tok: Spanned) {
        self.out.tokens.push(tok);
    }

    fn push_synthetic(&mut self, at: usize, tok: Tok) {
        self.out.synthetic.push(self.out.tokens.len());
        self.out.tokens.push((at, tok, at));
    }

    fn top(&mut self) -> &mut Frame {
        // The root frame is never popped, so there is always a top.
        let last = self.frames.len() - 1;
        &mut self.frames[last]
    }

    fn top_bracket(&self) -> Bracket {
        self.frames.last().map_or(Brace, |f| f.bracket)
    }

    fn prev_ends_operand(&self) -> bool {
        self.out.tokens.last().is_some_and(|t| t.1.ends_operand())
    }

    /// Does this token add a level of nesting?
    fn deepens(&self, tok: &Tok) -> bool {
        match tok {
            Tok::LParen | Tok::LBracket | Tok::Caret | Tok::If | Tok::Not => true,
            Tok::Minus | Tok::Plus => !self.prev_ends_operand(),
            _ => false,
        }
    }

    /// Open brackets plus pending prefix operators, `^`s and `if`s.
    fn pressure(&self) -> usize {
        self.frames
            .iter()
            .map(|f| 1 + f.chain as usize + f.ifs as usize)
            .sum()
    }

    fn would_overflow(&self, tok: &Tok) -> bool {
        self.deepens(tok) && self.pressure() >= MAX_EXPR_DEPTH
    }

    /// Updates the frames and the pressure for a token that is kept.
    fn account(&mut self, tok: &Tok) {
        match tok {
            Tok::LParen | Tok::LBracket | Tok::LBrace => {
                let bracket = match tok {
                    Tok::LParen => Paren,
                    Tok::LBracket => Square,
                    _ => Brace,
                };
                if bracket == Brace {
                    let at = self.out.tokens.len();
                    self.braces.push((at, 0));
                }
                self.frames.push(Frame {
                    bracket,
                    chain: 0,
                    ifs: 0,
                });
            }
            Tok::RParen | Tok::RBracket if self.frames.len() > 1 && self.top_bracket() != Brace => {
                self.pop_frame();
            }
            Tok::RBrace if self.frames.iter().skip(1).any(|f| f.bracket == Brace) => {
                while self.frames.len() > 1 {
                    let was_brace = self.top_bracket() == Brace;
                    self.pop_frame();
                    if was_brace {
                        break;
                    }
                }
                self.braces.pop();
            }
            Tok::Caret | Tok::Not => self.bump_chain(),
            Tok::Minus | Tok::Plus if !self.prev_ends_operand() => self.bump_chain(),
            Tok::If => self.top().ifs += 1,
            Tok::Minus
            | Tok::Plus
            | Tok::Star
            | Tok::Slash
            | Tok::EqEq
            | Tok::Ne
            | Tok::Lt
            | Tok::Le
            | Tok::Gt
            | Tok::Ge
            | Tok::And
            | Tok::Or
            | Tok::Then
            | Tok::Else => self.reset(false),
            Tok::Comma | Tok::Colon | Tok::DotDot | Tok::Eq | Tok::Semi => self.reset(true),
            t if t.starts_statement() => self.reset(true),
            _ => {}
        }
    }

    fn bump_chain(&mut self) {
        self.top().chain += 1;
    }

    fn reset(&mut self, ifs_too: bool) {
        let top = self.top();
        top.chain = 0;
        if ifs_too {
            top.ifs = 0;
        }
    }

    fn pop_frame(&mut self) {
        self.frames.pop();
        if self.frames.is_empty() {
            self.frames.push(Frame {
                bracket: Brace,
                chain: 0,
                ifs: 0,
            });
        }
    }

    /// Replaces the rest of the statement, from `first`, by one `TooDeep` token.
    fn cut(&mut self, first: Spanned, iter: &mut std::iter::Peekable<std::vec::IntoIter<Spanned>>) {
        let start = first.0;
        let mut end = first.2;
        // Brackets opened inside the cut region.
        let mut inner: usize = match first.1 {
            Tok::LParen | Tok::LBracket | Tok::LBrace => 1,
            _ => 0,
        };
        // Stop at the next statement, at a `}` or `;` of the enclosing level, or at a
        // closer of a bracket opened before the region (the main loop handles that one).
        let mut ends_statement = true;
        while let Some(next) = iter.peek() {
            let stop = match &next.1 {
                t if t.starts_statement() => true,
                Tok::Semi | Tok::Der | Tok::RBrace => inner == 0,
                Tok::RParen | Tok::RBracket if inner == 0 => {
                    ends_statement = false;
                    true
                }
                _ => false,
            };
            if stop {
                break;
            }
            let Some(tok) = iter.next() else { break };
            match tok.1 {
                Tok::LParen | Tok::LBracket | Tok::LBrace => inner += 1,
                Tok::RParen | Tok::RBracket | Tok::RBrace => inner = inner.saturating_sub(1),
                _ => {}
            }
            end = tok.2;
        }
        self.out
            .diagnostics
            .push(too_deep_diagnostic(Span::new(self.file, start, end)));
        if !self.prev_ends_operand() {
            self.push((start, Tok::TooDeep, end));
        }
        if !ends_statement {
            return;
        }
        // Close what the statement left open, innermost first.
        while self.frames.len() > 1 && self.top().bracket != Brace {
            let closer = if self.top().bracket == Paren {
                Tok::RParen
            } else {
                Tok::RBracket
            };
            self.pop_frame();
            self.push_synthetic(end, closer);
        }
        self.reset(true);
    }

    /// Inserts `}` for every open `{` at `at`, reporting each.
    fn close_braces(&mut self, at: usize, place: &str) {
        // First close any brackets still open inside the braces.
        while self.frames.len() > 1 {
            let closer = match self.top().bracket {
                Paren => Tok::RParen,
                Square => Tok::RBracket,
                Brace => Tok::RBrace,
            };
            self.pop_frame();
            self.push_synthetic(at, closer);
        }
        self.reset(true);
        let braces = std::mem::take(&mut self.braces);
        for &(index, _) in braces.iter().rev() {
            let open = self
                .out
                .tokens
                .get(index)
                .map(|t| (t.0, t.2))
                .unwrap_or((at, at));
            let owner = model_name(&self.out.tokens, index);
            let what = match &owner {
                Some(name) => format!("The model `{name}` is not closed: `}}` is missing {place}."),
                None => format!("This `{{` is not closed {place}."),
            };
            self.out.diagnostics.push(
                Diagnostic::error("E0112", what)
                    .with_primary(Span::new(self.file, at, at), "expected `}` here")
                    .with_secondary(
                        Span::new(self.file, open.0, open.1),
                        "this `{` is not closed",
                    ),
            );
        }
    }
}

/// The name before `{` in `model Name {`, if that is what opened the brace at `index`.
fn model_name(tokens: &[Spanned], index: usize) -> Option<String> {
    let name = tokens.get(index.checked_sub(1)?)?;
    let kw = tokens.get(index.checked_sub(2)?)?;
    match (&kw.1, &name.1) {
        (Tok::Model, Tok::Ident(n)) => Some(n.clone()),
        _ => None,
    }
}
