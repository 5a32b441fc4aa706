//! How an error about `site.toml` shows its place: the offending line with a caret under the
//! value, as cargo shows a bad `Cargo.toml` (the same renderer, annotate-snippets), plain or in
//! colour.
//!
//! A `Diagnostic` carries its own `Excerpt` (the few lines it is about), so an error can be
//! printed long after the text it came from is gone, and golden cases pin the exact rendering.

use std::fmt;
use std::ops::Range;

use annotate_snippets::{AnnotationKind, Group, Level, Origin, Renderer, Snippet};

use crate::problem::Problem;
use crate::source::Lines;

/// The lines of the file an error is about, with byte ranges relative to `source`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Excerpt {
    /// 1-based number of the first line of `source`.
    pub line_start: usize,
    pub source: String,
    /// What the caret underlines; within the first line it starts on.
    pub primary: Range<usize>,
    /// An earlier place the message refers to (where a duplicate key was first set).
    pub context: Option<Range<usize>>,
}

impl Excerpt {
    /// The lines of `text` from the one `context` starts on (if any) to the one `span` starts
    /// on. A span running over several lines (a multi-line string) is cut at its first line end.
    pub fn new(text: &str, span: Range<usize>, context: Option<Range<usize>>) -> Excerpt {
        Excerpt::within(&Lines::new(text), span, context)
    }

    /// As `new`, with the lines of the text already found (one report, many excerpts).
    pub fn within(lines: &Lines, span: Range<usize>, context: Option<Range<usize>>) -> Excerpt {
        let text = lines.text();
        let start = floor(text, span.start.min(text.len()));
        let line_end = text[start..].find('\n').map_or(text.len(), |i| start + i);
        let end = floor(text, span.end.clamp(start, line_end));
        let context =
            context.filter(|c| c.end <= start).map(|c| floor(text, c.start)..floor(text, c.end));
        let from = context.as_ref().map_or(start, |c| c.start);
        let window_start = text[..from].rfind('\n').map_or(0, |i| i + 1);
        let shift = |r: Range<usize>| r.start - window_start..r.end - window_start;
        let (source, moved) = printable(&text[window_start..line_end]);
        let moved = |r: Range<usize>| moved(r.start)..moved(r.end);
        Excerpt {
            line_start: lines.line_of(window_start),
            source,
            primary: moved(shift(start..end)),
            context: context.map(|c| moved(shift(c))),
        }
    }
}

/// `source` with every control character but tab and newline replaced by a visible stand-in
/// (a C0 one by its control picture, `␍`), so that no escape sequence in a hostile file reaches
/// the terminal; and where each byte offset of `source` moved to.
fn printable(source: &str) -> (String, impl Fn(usize) -> usize) {
    let mut out = String::with_capacity(source.len());
    let mut moves: Vec<(usize, usize)> = Vec::new(); // (offset in source, bytes added after it)
    let mut added = 0;
    for (at, c) in source.char_indices() {
        let shown = match c {
            '\t' | '\n' => c,
            c if (c as u32) < 0x20 => char::from_u32(0x2400 + c as u32).unwrap_or('\u{fffd}'),
            '\u{7f}' => '\u{2421}',
            c if c.is_control() => '\u{fffd}',
            c => c,
        };
        out.push(shown);
        if shown != c {
            added += shown.len_utf8() - c.len_utf8();
            moves.push((at + c.len_utf8(), added));
        }
    }
    let moved = move |offset: usize| {
        let before = moves.partition_point(|(at, _)| *at <= offset);
        offset + before.checked_sub(1).map_or(0, |i| moves[i].1)
    };
    (out, moved)
}

fn floor(text: &str, mut offset: usize) -> usize {
    while !text.is_char_boundary(offset) {
        offset -= 1;
    }
    offset
}

/// A problem at one place of `site.toml`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Diagnostic {
    pub line: usize,
    pub column: usize,
    /// Dotted key, e.g. `nodes.k8s-cp-1.ip`; empty for the document itself.
    pub key: String,
    pub problem: Problem,
    /// The lines to show with a caret; `None` where there is nothing in the file to point at
    /// (a key missing from the document itself).
    pub excerpt: Option<Excerpt>,
}

impl fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.key.is_empty() {
            write!(f, "{}:{}: {}", self.line, self.column, self.problem)?;
        } else {
            write!(f, "{}:{}: `{}`: {}", self.line, self.column, self.key, self.problem)?;
        }
        if let Some(fix) = self.problem.fix() {
            write!(f, "\n  fix: {fix}")?;
        }
        Ok(())
    }
}

/// Every diagnostic, each with its excerpt and fix, separated by blank lines.
pub fn render(file: &str, diagnostics: &[Diagnostic], colour: bool) -> String {
    let renderer = if colour { Renderer::styled() } else { Renderer::plain() };
    let rendered: Vec<String> =
        diagnostics.iter().map(|d| renderer.render(&[group(file, d)])).collect();
    rendered.join("\n\n")
}

fn group<'a>(file: &'a str, d: &'a Diagnostic) -> Group<'a> {
    let title = if d.key.is_empty() {
        d.problem.to_string()
    } else {
        format!("`{}`: {}", d.key, d.problem)
    };
    let title = Level::ERROR.primary_title(title);
    let mut group = match &d.excerpt {
        Some(e) => {
            let mut snippet = Snippet::source(e.source.as_str())
                .line_start(e.line_start)
                .path(file)
                .annotation(AnnotationKind::Primary.span(e.primary.clone()));
            if let (Some(context), Some(label)) = (&e.context, d.problem.context_label()) {
                snippet =
                    snippet.annotation(AnnotationKind::Context.span(context.clone()).label(label));
            }
            title.element(snippet)
        }
        None => title.element(Origin::path(file)),
    };
    if let Some(fix) = d.problem.fix() {
        group = group.element(Level::HELP.with_name("fix").message(fix));
    }
    group
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_excerpt_is_the_line_of_the_value() {
        let text = "a = 1\nrole = \"master\"\nb = 2\n";
        let e = Excerpt::new(text, 13..21, None);
        assert_eq!((e.line_start, e.source.as_str(), e.primary), (2, "role = \"master\"", 7..15));
    }

    #[test]
    fn a_span_over_lines_is_cut_at_the_first_and_a_context_widens_the_window() {
        let text = "x = 1\ny = 2\nz = \"\"\"a\nb\"\"\"\n";
        let e = Excerpt::new(text, 16..26, Some(0..1));
        assert_eq!(e.line_start, 1);
        assert_eq!(e.source, "x = 1\ny = 2\nz = \"\"\"a");
        assert_eq!((e.primary, e.context), (16..20, Some(0..1)));
    }

    #[test]
    fn control_characters_are_shown_as_stand_ins_and_the_caret_moves_with_them() {
        let text = "a = \"\u{80}\u{1b}[2J\" # \u{7f}\r\n";
        let e = Excerpt::new(text, 4..12, None);
        assert_eq!(e.source, "a = \"\u{fffd}\u{241b}[2J\" # \u{2421}\u{240d}");
        assert_eq!(&e.source[e.primary.clone()], "\"\u{fffd}\u{241b}[2J\"");
    }

    #[test]
    fn a_place_at_the_end_of_the_file_is_an_empty_line() {
        let e = Excerpt::new("x = \"abc", 8..8, None);
        assert_eq!((e.line_start, e.source.as_str(), e.primary), (1, "x = \"abc", 8..8));
        let e = Excerpt::new("x = 1\n", 6..6, None);
        assert_eq!((e.line_start, e.source.as_str(), e.primary), (2, "", 0..0));
    }
}
