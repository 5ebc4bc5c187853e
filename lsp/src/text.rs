//! Positions: byte offsets (what the compiler uses) ↔ LSP positions (line, UTF-16 column).
//!
//! The compiler's spans are byte offsets into UTF-8 text; LSP positions count UTF-16 code
//! units within a line, so `α` (2 bytes, 1 unit), `∂` (3 bytes, 1 unit) and `𝑥`
//! (4 bytes, 2 units: a surrogate pair) all convert differently. Lines end at `\n`, `\r\n`
//! or a lone `\r`, as the protocol says. Conversions never fail: a position past the end of
//! a line means the end of that line, a line past the end of the text means the end of the
//! text, and a column inside a surrogate pair snaps back to the start of that character —
//! clients send such positions with stale or half-applied edits, and a server must not
//! crash on them.

use lsp_types::{Position, Range, TextDocumentContentChangeEvent};
use sci_diag::Span;

/// The line starts of one text, for converting between offsets and positions.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LineMap {
    /// Byte offset of the first character of each line; the first is always 0.
    starts: Vec<usize>,
    /// Length of the whole text in bytes.
    len: usize,
    /// Whether each line is ASCII: then a byte is a UTF-16 unit, and a column needs no scan
    /// of the line (thousands of names on one long line stay linear to convert).
    ascii: Vec<bool>,
}

impl LineMap {
    /// Indexes the lines of `text`.
    pub fn new(text: &str) -> LineMap {
        let bytes = text.as_bytes();
        let mut starts = vec![0];
        let mut ascii = vec![true];
        let mut i = 0;
        while i < bytes.len() {
            match bytes[i] {
                b'\n' => {
                    starts.push(i + 1);
                    ascii.push(true);
                }
                b'\r' if bytes.get(i + 1) != Some(&b'\n') => {
                    starts.push(i + 1);
                    ascii.push(true);
                }
                b if !b.is_ascii() => {
                    if let Some(a) = ascii.last_mut() {
                        *a = false;
                    }
                }
                _ => {}
            }
            i += 1;
        }
        LineMap {
            starts,
            len: text.len(),
            ascii,
        }
    }

    /// The number of lines (a text ending in a line break has an empty last line).
    pub fn line_count(&self) -> usize {
        self.starts.len()
    }

    fn is_ascii(&self, line: usize) -> bool {
        self.ascii.get(line).copied().unwrap_or(false)
    }

    /// The byte range of line `line` without its line break; `None` past the last line.
    fn line_range(&self, text: &str, line: usize) -> Option<(usize, usize)> {
        let start = *self.starts.get(line)?;
        let mut end = self.starts.get(line + 1).copied().unwrap_or(self.len);
        let bytes = text.as_bytes();
        if end > start && bytes.get(end - 1) == Some(&b'\n') {
            end -= 1;
        }
        if end > start && bytes.get(end - 1) == Some(&b'\r') {
            end -= 1;
        }
        Some((start, end))
    }

    /// The LSP position of byte `offset` (clamped to the text and to a character start).
    pub fn position(&self, text: &str, offset: usize) -> Position {
        let offset = floor_char_boundary(text, offset.min(self.len));
        let line = match self.starts.binary_search(&offset) {
            Ok(l) => l,
            Err(l) => l.saturating_sub(1),
        };
        let (start, end) = self.line_range(text, line).unwrap_or((0, 0));
        // An offset inside a `\r\n` break counts as the end of the line.
        let col_end = offset.min(end).max(start);
        let character = if self.is_ascii(line) {
            col_end - start
        } else {
            text.get(start..col_end)
                .map(|s| s.encode_utf16().count())
                .unwrap_or(0)
        };
        Position {
            line: to_u32(line),
            character: to_u32(character),
        }
    }

    /// The byte offset of an LSP position (clamped as the module documentation says).
    pub fn offset(&self, text: &str, pos: Position) -> usize {
        let Some((start, end)) = self.line_range(text, pos.line as usize) else {
            return self.len;
        };
        let want = pos.character as usize;
        if self.is_ascii(pos.line as usize) {
            return start + want.min(end - start);
        }
        let mut units = 0usize;
        for (i, c) in text.get(start..end).unwrap_or("").char_indices() {
            let next = units + c.len_utf16();
            if next > want {
                // `want` is before this character or inside its surrogate pair.
                return start + i;
            }
            units = next;
        }
        end
    }

    /// The LSP range of a compiler span.
    pub fn range(&self, text: &str, span: Span) -> Range {
        Range {
            start: self.position(text, span.start as usize),
            end: self.position(text, span.end as usize),
        }
    }

    /// The byte range of an LSP range (start ≤ end even if the client swapped them).
    pub fn byte_range(&self, text: &str, range: Range) -> (usize, usize) {
        let a = self.offset(text, range.start);
        let b = self.offset(text, range.end);
        (a.min(b), a.max(b))
    }

    /// The position just past the last character: the end of a whole-document range.
    pub fn end(&self, text: &str) -> Position {
        self.position(text, self.len)
    }
}

/// Applies one `didChange` content change to `text`: a whole new text when the change has
/// no range, otherwise a replacement of the range (positions clamped, never panicking).
pub fn apply_change(text: &mut String, change: &TextDocumentContentChangeEvent) {
    match change.range {
        None => text.clone_from(&change.text),
        Some(range) => {
            let map = LineMap::new(text);
            let (start, end) = map.byte_range(text, range);
            text.replace_range(start..end, &change.text);
        }
    }
}

/// The largest character boundary of `text` at or before `offset`.
fn floor_char_boundary(text: &str, offset: usize) -> usize {
    let mut o = offset.min(text.len());
    while o > 0 && !text.is_char_boundary(o) {
        o -= 1;
    }
    o
}

fn to_u32(n: usize) -> u32 {
    u32::try_from(n).unwrap_or(u32::MAX)
}

/// The number of UTF-16 code units of `s` (semantic token lengths).
pub fn utf16_len(s: &str) -> u32 {
    to_u32(s.encode_utf16().count())
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn pos(line: u32, character: u32) -> Position {
        Position { line, character }
    }

    fn change(range: Option<(Position, Position)>, text: &str) -> TextDocumentContentChangeEvent {
        TextDocumentContentChangeEvent {
            range: range.map(|(start, end)| Range { start, end }),
            range_length: None,
            text: text.to_string(),
        }
    }

    #[test]
    fn columns_count_utf16_units() {
        // α: 2 bytes / 1 unit; ∂: 3 bytes / 1 unit; 𝑥 (U+1D465): 4 bytes / 2 units.
        let text = "α = ∂x\n𝑥 + π";
        let map = LineMap::new(text);
        let x = text.find('x').unwrap();
        assert_eq!(map.position(text, x), pos(0, 5));
        let plus = text.find('+').unwrap();
        assert_eq!(map.position(text, plus), pos(1, 3));
        let pi = text.find('π').unwrap();
        assert_eq!(map.position(text, pi), pos(1, 5));
        assert_eq!(map.offset(text, pos(1, 3)), plus);
        assert_eq!(map.offset(text, pos(1, 5)), pi);
        assert_eq!(map.offset(text, pos(0, 5)), x);
        assert_eq!(map.end(text), pos(1, 6));
    }

    #[test]
    fn positions_are_clamped() {
        let text = "ab\r\ncd\n";
        let map = LineMap::new(text);
        assert_eq!(map.line_count(), 3);
        // Past the end of a line: the end of that line (before `\r\n`).
        assert_eq!(map.offset(text, pos(0, 99)), 2);
        // Past the last line: the end of the text.
        assert_eq!(map.offset(text, pos(9, 0)), text.len());
        // An offset inside `\r\n` is the end of its line.
        assert_eq!(map.position(text, 3), pos(0, 2));
        assert_eq!(map.position(text, 4), pos(1, 0));
        // Inside a surrogate pair: the start of the character.
        let text = "𝑥y";
        let map = LineMap::new(text);
        assert_eq!(map.offset(text, pos(0, 1)), 0);
        assert_eq!(map.offset(text, pos(0, 2)), 4);
        // Inside a multi-byte character: its start.
        assert_eq!(map.position(text, 2), pos(0, 0));
    }

    #[test]
    fn lone_carriage_returns_end_lines() {
        let text = "a\rb\r\nc";
        let map = LineMap::new(text);
        assert_eq!(map.line_count(), 3);
        assert_eq!(map.offset(text, pos(1, 0)), 2);
        assert_eq!(map.offset(text, pos(2, 1)), 6);
    }

    #[test]
    fn incremental_edits_with_unicode_names() {
        let mut text = String::from("model M {\n    param α = 1\n    state ∂u = α\n}\n");
        // Rename `α` (line 1, column 10..11) to `αβ`.
        apply_change(&mut text, &change(Some((pos(1, 10), pos(1, 11))), "αβ"));
        assert_eq!(text, "model M {\n    param αβ = 1\n    state ∂u = α\n}\n");
        // Replace `α` after `∂u = ` on line 2: `∂` is one UTF-16 unit.
        apply_change(&mut text, &change(Some((pos(2, 15), pos(2, 16))), "αβ"));
        assert_eq!(text, "model M {\n    param αβ = 1\n    state ∂u = αβ\n}\n");
        // Insert a supplementary-plane character and then text after it.
        apply_change(&mut text, &change(Some((pos(2, 17), pos(2, 17))), " * 𝑥"));
        apply_change(&mut text, &change(Some((pos(2, 22), pos(2, 22))), "!"));
        assert_eq!(
            text,
            "model M {\n    param αβ = 1\n    state ∂u = αβ * 𝑥!\n}\n"
        );
        // Delete across lines.
        apply_change(&mut text, &change(Some((pos(1, 0), pos(2, 0))), ""));
        assert_eq!(text, "model M {\n    state ∂u = αβ * 𝑥!\n}\n");
        // A full-text change replaces everything.
        apply_change(&mut text, &change(None, "π"));
        assert_eq!(text, "π");
        // Reversed and out-of-range ranges do not panic.
        apply_change(&mut text, &change(Some((pos(5, 5), pos(0, 0))), "x"));
        assert_eq!(text, "x");
    }

    proptest! {
        /// Every character start round-trips through a position.
        #[test]
        fn offsets_round_trip(text in "[a-zα∂π𝑥 \n\r=+]{0,40}") {
            let map = LineMap::new(&text);
            for (i, _) in text.char_indices() {
                let p = map.position(&text, i);
                // `\n` of a `\r\n` pair is inside the line break: it maps to the line end.
                let inside_crlf = i > 0 && text.as_bytes()[i] == b'\n' && text.as_bytes()[i - 1] == b'\r';
                if !inside_crlf {
                    prop_assert_eq!(map.offset(&text, p), i);
                }
            }
        }

        /// Any edit at any position keeps the text valid UTF-8 and never panics.
        #[test]
        fn edits_never_panic(text in "[aα∂𝑥\n]{0,20}", l1 in 0u32..5, c1 in 0u32..8, l2 in 0u32..5, c2 in 0u32..8, new in "[b∂𝑥\n]{0,3}") {
            let mut t = text.clone();
            apply_change(&mut t, &change(Some((pos(l1, c1), pos(l2, c2))), &new));
            prop_assert!(t.len() <= text.len() + new.len());
        }
    }
}
