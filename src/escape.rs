//! What a message shows of text gen did not write (a value, a key or a line of `site.toml`, a
//! name from the command line): the one rule, for every place such text reaches a terminal.
//!
//! A character that a terminal or a text layout acts on rather than shows is escaped: Unicode's
//! control characters (general category Cc: C0, DEL, C1 with NEL U+0085), its format characters
//! (Cf: the bidi marks, embeddings, overrides and isolates, zero-width characters, the BOM, the
//! soft hyphen, tags...) and the line and paragraph separators (Zl, Zp). An escape sequence could
//! otherwise clear the screen or rewrite what the user reads, and a bidi override could show a
//! value in another order than the file holds it. They are written as Rust writes them (`\n`,
//! `\t`, `\r`, otherwise `\u{1b}`), so a report names each one the same way everywhere.
//!
//! Shown text is also bounded by display width (a CJK character or an emoji takes two columns)
//! and by bytes (combining marks take none), and marked `…` where it was cut: a pasted
//! certificate or a megabyte of emoji should not flood the terminal.
//!
//! This module uses nothing else of gen's, so that every layer can use it.

use std::borrow::Cow;
use std::ops::Range;

use unicode_width::UnicodeWidthChar as _;

/// Every code point of general category Cc, Cf, Zl or Zp in Unicode 16.0, as inclusive ranges in
/// order. `tests/suite/escaping.rs` checks this table against python3's `unicodedata` for every
/// code point.
const HIDDEN: &[(u32, u32)] = &[
    (0x0000, 0x001f),   // Cc: C0 controls
    (0x007f, 0x009f),   // Cc: DEL and C1 controls (NEL U+0085 among them)
    (0x00ad, 0x00ad),   // Cf: soft hyphen
    (0x0600, 0x0605),   // Cf: Arabic number signs
    (0x061c, 0x061c),   // Cf: Arabic letter mark (a bidi mark)
    (0x06dd, 0x06dd),   // Cf: Arabic end of ayah
    (0x070f, 0x070f),   // Cf: Syriac abbreviation mark
    (0x0890, 0x0891),   // Cf: Arabic pound and piastre marks above
    (0x08e2, 0x08e2),   // Cf: Arabic disputed end of ayah
    (0x180e, 0x180e),   // Cf: Mongolian vowel separator
    (0x200b, 0x200f),   // Cf: zero-width space, (non-)joiner, LRM, RLM
    (0x2028, 0x2028),   // Zl: line separator
    (0x2029, 0x2029),   // Zp: paragraph separator
    (0x202a, 0x202e),   // Cf: bidi embeddings and overrides (LRE, RLE, PDF, LRO, RLO)
    (0x2060, 0x2064),   // Cf: word joiner, invisible operators
    (0x2066, 0x206f),   // Cf: bidi isolates (LRI, RLI, FSI, PDI), deprecated format characters
    (0xfeff, 0xfeff),   // Cf: zero-width no-break space, the BOM
    (0xfff9, 0xfffb),   // Cf: interlinear annotation
    (0x110bd, 0x110bd), // Cf: Kaithi number sign
    (0x110cd, 0x110cd), // Cf: Kaithi number sign above
    (0x13430, 0x1343f), // Cf: Egyptian hieroglyph format controls (13439-1343F: Unicode 15.0)
    (0x1bca0, 0x1bca3), // Cf: shorthand format controls
    (0x1d173, 0x1d17a), // Cf: musical symbol beam, tie, slur and phrase controls
    (0xe0001, 0xe0001), // Cf: language tag
    (0xe0020, 0xe007f), // Cf: tag characters
];

/// Whether `c` is never printed as itself: a control, format, line or paragraph separator.
pub fn is_hidden(c: char) -> bool {
    let c = c as u32;
    let at = HIDDEN.partition_point(|&(_, last)| last < c);
    HIDDEN.get(at).is_some_and(|&(first, _)| first <= c)
}

/// One character of a text as a message shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Piece<'t> {
    /// Where the character is in the text.
    pub at: Range<usize>,
    /// What is printed for it: the character itself, or its escape.
    pub shown: Cow<'t, str>,
    /// The columns it takes on a terminal.
    pub width: usize,
}

/// Each character of `text` as a message shows it: the one escaping function.
pub fn pieces(text: &str) -> impl Iterator<Item = Piece<'_>> {
    text.char_indices().map(|(at, c)| {
        let at = at..at + c.len_utf8();
        if is_hidden(c) {
            let shown = match c {
                '\n' => String::from("\\n"),
                '\t' => String::from("\\t"),
                '\r' => String::from("\\r"),
                c => format!("\\u{{{:x}}}", c as u32),
            };
            let width = shown.len();
            Piece { at, shown: Cow::Owned(shown), width }
        } else {
            let shown = Cow::Borrowed(&text[at.clone()]);
            Piece { at, shown, width: c.width().unwrap_or(0) }
        }
    })
}

/// How much of a text one place of a message shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Budget {
    pub columns: usize,
    pub bytes: usize,
}

impl Budget {
    /// A value in a message's title, fix or list. 80 columns, as gen always cut ASCII; the bytes
    /// allow 80 characters of any script, so only zero-width runs are cut by them.
    pub const VALUE: Budget = Budget { columns: 80, bytes: 320 };
    /// A message another program wrote about the text (the TOML parser's).
    pub const MESSAGE: Budget = Budget { columns: 400, bytes: 1600 };

    /// Whether `columns` and `bytes` fit.
    pub fn holds(self, columns: usize, bytes: usize) -> bool {
        columns <= self.columns && bytes <= self.bytes
    }
}

/// The mark where shown text was cut.
pub const CUT: &str = "…";

/// `text` as a message shows it: every hidden character escaped, and cut with `…` once it
/// would take more than `budget`.
pub fn shown(text: &str, budget: Budget) -> String {
    let mut out = String::with_capacity(text.len().min(budget.bytes + CUT.len()));
    let mut columns = 0;
    for piece in pieces(text) {
        if !budget.holds(columns + piece.width, out.len() + piece.shown.len()) {
            out.push_str(CUT);
            break;
        }
        columns += piece.width;
        out.push_str(&piece.shown);
    }
    out
}

/// `text` as a value in a message shows it (`Budget::VALUE`).
pub fn value(text: &str) -> String {
    shown(text, Budget::VALUE)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hidden_characters_are_escaped_one_way() {
        assert_eq!(value("a\nb\u{0}\t\r"), "a\\nb\\u{0}\\t\\r");
        assert_eq!(value("serve\u{1b}c\u{85}\u{7f}"), "serve\\u{1b}c\\u{85}\\u{7f}");
        assert_eq!(
            value("\u{200e}x\u{202e}\u{2066}\u{61c}\u{feff}"),
            "\\u{200e}x\\u{202e}\\u{2066}\\u{61c}\\u{feff}"
        );
        assert_eq!(value("\u{2028}\u{2029}\u{e0041}"), "\\u{2028}\\u{2029}\\u{e0041}");
        assert_eq!(value("é一😀"), "é一😀");
    }

    #[test]
    fn the_table_is_sorted_and_its_ends_are_hidden() {
        assert!(HIDDEN.windows(2).all(|w| w[0].1 < w[1].0 && w[0].0 <= w[0].1));
        for &(first, last) in HIDDEN {
            for c in [first, last] {
                assert!(is_hidden(char::from_u32(c).unwrap()), "{c:x}");
            }
            for c in [first.wrapping_sub(1), last + 1] {
                if let Some(c) = char::from_u32(c).filter(|c| !is_hidden(*c)) {
                    assert!(!c.is_control(), "{c:?}");
                }
            }
        }
        assert!(
            !is_hidden(' ') && !is_hidden('~') && !is_hidden('\u{a0}') && !is_hidden('\u{2065}')
        );
    }

    #[test]
    fn values_are_cut_by_columns_and_by_bytes() {
        assert_eq!(value(&"x".repeat(200)), format!("{}…", "x".repeat(80)));
        assert_eq!(value(&"x".repeat(80)), "x".repeat(80));
        assert_eq!(value(&"一".repeat(200)), format!("{}…", "一".repeat(40)));
        assert_eq!(value(&"😀".repeat(200)), format!("{}…", "😀".repeat(40)));
        // Zero-width combining marks take bytes but no columns.
        let marks = format!("a{}", "\u{301}".repeat(10_000));
        assert!(value(&marks).len() <= Budget::VALUE.bytes + CUT.len());
        // An escape is never cut in two.
        let escapes = value(&"\u{1b}".repeat(100));
        assert_eq!(escapes, format!("{}…", "\\u{1b}".repeat(13)));
    }
}
