//! The text of `site.toml`, and byte offsets in it to the line and column a person sees.

use crate::error::Error;
use crate::parse::{Loc, Report};
use crate::problem::Problem;

/// The bytes of a site file as text. TOML is UTF-8; anything else is an invalid site whose
/// error shows the line, the column and the byte that is not UTF-8.
pub fn decode(bytes: Vec<u8>, file: &str) -> Result<String, Error> {
    let e = match String::from_utf8(bytes) {
        Ok(text) => return Ok(text),
        Err(e) => e,
    };
    let offset = e.utf8_error().valid_up_to();
    let byte = e.as_bytes()[offset];
    // Shown with the bad bytes replaced; the prefix before the first one is unchanged.
    let shown = String::from_utf8_lossy(e.as_bytes());
    let mut report = Report::new(&shown);
    let loc = Loc { key: String::new(), offset, len: char::REPLACEMENT_CHARACTER.len_utf8() };
    report.add(&loc, Problem::NotUtf8 { byte, offset });
    Err(Error::InvalidSite { file: file.to_string(), diagnostics: report.into_diagnostics() })
}

/// 1-based line and column (in characters) of byte `offset` in `text`.
pub fn line_col(text: &str, offset: usize) -> (usize, usize) {
    Lines::new(text).line_col(offset)
}

/// Where each line of a text starts, found once: a line is then a binary search, so a report of
/// thousands of problems costs n log n rather than a scan from the top of the file for each.
pub struct Lines<'t> {
    text: &'t str,
    /// Byte offset of the start of each line; the first is 0.
    starts: Vec<usize>,
}

impl<'t> Lines<'t> {
    pub fn new(text: &'t str) -> Lines<'t> {
        let starts = std::iter::once(0)
            .chain(text.bytes().enumerate().filter(|(_, b)| *b == b'\n').map(|(i, _)| i + 1))
            .collect();
        Lines { text, starts }
    }

    pub fn text(&self) -> &'t str {
        self.text
    }

    /// 1-based number of the line byte `offset` is on (an offset past the end is on the last).
    pub fn line_of(&self, offset: usize) -> usize {
        self.starts.partition_point(|start| *start <= offset)
    }

    /// 1-based line and column (in characters) of byte `offset`.
    pub fn line_col(&self, offset: usize) -> (usize, usize) {
        let offset = floor_char_boundary(self.text, offset.min(self.text.len()));
        let line = self.line_of(offset);
        let column = self.text[self.starts[line - 1]..offset].chars().count() + 1;
        (line, column)
    }
}

fn floor_char_boundary(text: &str, mut offset: usize) -> usize {
    while !text.is_char_boundary(offset) {
        offset -= 1;
    }
    offset
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_that_is_not_utf8_is_refused_at_its_line_and_byte() {
        let err = decode(b"a = 1\nb = \"\xffx\"\n".to_vec(), "site.toml").unwrap_err();
        let Error::InvalidSite { diagnostics, .. } = &err else { panic!("{err}") };
        assert_eq!((diagnostics[0].line, diagnostics[0].column), (2, 6));
        assert_eq!(diagnostics[0].problem, Problem::NotUtf8 { byte: 0xff, offset: 11 });
        assert!(err.to_string().contains("b = \"\u{fffd}x\"\n  |      ^"), "{err}");
    }

    #[test]
    fn lines_and_columns_are_one_based_and_count_characters() {
        let text = "a = 1\nbé = 2\n";
        assert_eq!(line_col(text, 0), (1, 1));
        assert_eq!(line_col(text, 6), (2, 1));
        assert_eq!(line_col(text, 10), (2, 4));
        assert_eq!(line_col(text, 999), (3, 1));
    }
}
