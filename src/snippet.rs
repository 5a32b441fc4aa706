//! How an error about `site.toml` shows its place: the offending line with a caret under the
//! value, as cargo shows a bad `Cargo.toml` (the same renderer, annotate-snippets), plain or in
//! colour.
//!
//! A `Diagnostic` carries its own `Excerpt` (the few lines it is about), so an error can be
//! printed long after the text it came from is gone, and golden cases pin the exact rendering.

use std::fmt;
use std::ops::Range;

use annotate_snippets::{AnnotationKind, Group, Level, Origin, Renderer, Snippet};

use crate::escape::{self, Budget, Piece};
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
        let points = [start, end].into_iter().chain(context.iter().flat_map(|c| [c.start, c.end]));
        let points: Vec<usize> = points.map(|p| p - window_start).collect();
        let (source, moved) = printable(&text[window_start..line_end], &points);
        let moved = |r: Range<usize>| moved(r.start)..moved(r.end);
        Excerpt {
            line_start: lines.line_of(window_start),
            source,
            primary: moved(shift(start..end)),
            context: context.map(|c| moved(shift(c))),
        }
    }
}

/// The most of one line an excerpt shows: less than annotate-snippets' 140 columns with the line
/// number, so that it never has to cut a line itself (it cuts lines of wide characters wrongly).
const LINE: Budget = Budget { columns: 120, bytes: 480 };

/// `source` as the excerpt shows it, and where each byte offset of `source` moved to. Each
/// character is shown as every message shows it (`escape::pieces`), but for the tab, which
/// annotate-snippets draws as spaces, and a carriage return ending a line, which is dropped. A
/// line over `LINE` is cut (`…`) to what is around the `points` on it (the ends of what the
/// caret underlines), or its start.
fn printable(source: &str, points: &[usize]) -> (String, impl Fn(usize) -> usize) {
    let mut out = String::with_capacity(source.len().min(4 * LINE.bytes));
    // (offset in source, offset in out, whether every offset up to the next maps to that one)
    let mut moves: Vec<(usize, usize, bool)> = Vec::new();
    let mut line_start = 0;
    for line in source.split('\n') {
        if line_start > 0 {
            moves.push((line_start - 1, out.len(), false));
            out.push('\n');
        }
        moves.push((line_start, out.len(), false));
        let body = line.strip_suffix('\r').unwrap_or(line);
        let mut pieces: Vec<Piece> = escape::pieces(body)
            .map(|mut p| {
                if p.shown == "\\t" {
                    (p.shown, p.width) = ("\t".into(), 4);
                }
                p
            })
            .collect();
        let here: Vec<usize> = points
            .iter()
            .filter(|p| (line_start..=line_start + body.len()).contains(p))
            .map(|p| p - line_start)
            .collect();
        let keep = kept(&pieces, if here.is_empty() { &[0] } else { &here });
        let mut cut = false;
        for (piece, keep) in pieces.iter_mut().zip(keep) {
            let at = line_start + piece.at.start;
            if !keep {
                if !cut {
                    moves.push((at, out.len(), true));
                    out.push_str(escape::CUT);
                    cut = true;
                }
                continue;
            }
            if cut || piece.shown.len() != piece.at.len() {
                moves.push((at, out.len(), piece.shown.len() != piece.at.len()));
            }
            cut = false;
            out.push_str(&piece.shown);
            if piece.shown.len() != piece.at.len() {
                moves.push((line_start + piece.at.end, out.len(), false));
            }
        }
        if body.len() < line.len() || cut {
            moves.push((line_start + body.len(), out.len(), body.len() < line.len()));
        }
        line_start += line.len() + 1;
    }
    let moved = move |offset: usize| {
        let before = moves.partition_point(|(at, _, _)| *at <= offset);
        match before.checked_sub(1).map(|i| moves[i]) {
            Some((_, to, true)) => to,
            Some((at, to, false)) => to + (offset - at),
            None => offset,
        }
    };
    (out, moved)
}

/// Which pieces of a line to show: all when they fit `LINE`, else those around each of the
/// `points` (byte offsets in the line), an equal share of `LINE` on either side of each.
fn kept(pieces: &[Piece], points: &[usize]) -> Vec<bool> {
    let columns: usize = pieces.iter().map(|p| p.width).sum();
    let bytes: usize = pieces.iter().map(|p| p.shown.len()).sum();
    if LINE.holds(columns, bytes) {
        return vec![true; pieces.len()];
    }
    let sides = 2 * points.len();
    let share = Budget {
        columns: (LINE.columns - sides - 1) / sides,
        bytes: (LINE.bytes - sides * escape::CUT.len()) / sides,
    };
    let mut keep = vec![false; pieces.len()];
    for &point in points {
        let at = pieces.partition_point(|p| p.at.start < point);
        for side in [&mut (0..at).rev() as &mut dyn Iterator<Item = usize>, &mut (at..pieces.len())]
        {
            let (mut columns, mut bytes) = (0, 0);
            for i in side {
                (columns, bytes) = (columns + pieces[i].width, bytes + pieces[i].shown.len());
                if !share.holds(columns, bytes) {
                    break;
                }
                keep[i] = true;
            }
        }
    }
    keep
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
    fn hidden_characters_are_escaped_and_the_caret_moves_with_them() {
        let text = "a = \"\u{80}\u{1b}[2J\u{202e}\" # \u{7f}\tz\r\n";
        let e = Excerpt::new(text, 4..15, None);
        assert_eq!(e.source, "a = \"\\u{80}\\u{1b}[2J\\u{202e}\" # \\u{7f}\tz");
        assert_eq!(&e.source[e.primary.clone()], "\"\\u{80}\\u{1b}[2J\\u{202e}\"");
    }

    #[test]
    fn a_long_line_is_cut_around_the_caret_by_columns_and_bytes() {
        for c in ["x", "一", "😀", "a\u{301}"] {
            let value = c.repeat(10_000);
            let text = format!("[a]\nrole = \"{value}\" # end\n");
            let span = 11..11 + value.len() + 2;
            let e = Excerpt::new(&text, span, None);
            let shown = &e.source[e.primary.clone()];
            assert!(
                shown.starts_with(&format!("\"{c}")) && shown.ends_with(&format!("{c}\"")),
                "{shown}"
            );
            assert!(e.source.starts_with("role = \"") && e.source.contains('…'), "{}", e.source);
            assert!(e.source.len() <= LINE.bytes + 9, "{c}: {} bytes", e.source.len());
            let columns: usize = escape::pieces(&e.source).map(|p| p.width).sum();
            assert!(columns <= LINE.columns, "{c}: {columns} columns");
        }
    }

    #[test]
    fn a_place_at_the_end_of_the_file_is_an_empty_line() {
        let e = Excerpt::new("x = \"abc", 8..8, None);
        assert_eq!((e.line_start, e.source.as_str(), e.primary), (1, "x = \"abc", 8..8));
        let e = Excerpt::new("x = 1\n", 6..6, None);
        assert_eq!((e.line_start, e.source.as_str(), e.primary), (2, "", 0..0));
    }
}
