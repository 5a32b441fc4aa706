//! What a TOML syntax error is about, in the user's words: for a duplicate key, which key and
//! where it was first set (toml's own error names neither).

use std::ops::Range;

use toml::de::{DeTable, DeValue};

use crate::problem::Problem;

/// What toml's error `message` at `span` is about.
pub struct Explained {
    pub problem: Problem,
    /// The dotted path of a duplicate key, when it can be told; else empty.
    pub path: Vec<String>,
    /// Where that key was first set.
    pub first: Option<Range<usize>>,
}

pub fn explain(text: &str, span: Range<usize>, message: String) -> Explained {
    let not_traced = |problem| Explained { problem, path: Vec::new(), first: None };
    if message != "duplicate key" {
        return not_traced(Problem::Syntax { message });
    }
    let Some(name) = text.get(span.clone()) else {
        return not_traced(Problem::Syntax { message });
    };
    let problem = Problem::DuplicateKey { key: unquote(name.trim()).to_string() };
    match first_set(text, span.end) {
        Some((path, first)) => Explained { problem, path, first: Some(first) },
        None => not_traced(problem),
    }
}

/// Where the key that ends at `end` was set before, and its dotted path: the same path looked
/// up in the document as it stood before the line of the duplicate. `None` when that cannot be
/// told for sure (a duplicate inside an inline table, an array of tables).
fn first_set(text: &str, end: usize) -> Option<(Vec<String>, Range<usize>)> {
    let line_start = text[..end].rfind('\n').map_or(0, |i| i + 1);
    let before = &text[..line_start];
    let line = text[line_start..end].trim_start();
    let path = match line.strip_prefix('[') {
        Some(header) if !header.starts_with('[') => key_path(header)?,
        Some(_) => return None,
        None => {
            let mut path = current_table(before)?;
            path.extend(key_path(line)?);
            path
        }
    };
    let doc = DeTable::parse(before).ok()?;
    let (last, parents) = path.split_last()?;
    let mut table = doc.get_ref();
    for name in parents {
        match table.get(name.as_str())?.get_ref() {
            DeValue::Table(inner) => table = inner,
            _ => return None,
        }
    }
    let first = table.keys().find(|k| k.get_ref() == last)?.span();
    Some((path, first))
}

/// The dotted key path of the table header that `before` ends in; empty for the root.
fn current_table(before: &str) -> Option<Vec<String>> {
    let Some(header) = before.lines().rev().map(str::trim_start).find(|l| l.starts_with('['))
    else {
        return Some(Vec::new());
    };
    let inner = header.strip_prefix('[')?;
    if inner.starts_with('[') {
        return None;
    }
    key_path(&inner[..inner.find(']')?])
}

/// `a."b.c".d` as its parts; `None` for anything that is more than a key (an `=`, a `{`).
fn key_path(text: &str) -> Option<Vec<String>> {
    let mut parts = Vec::new();
    let mut rest = text.trim();
    while !rest.is_empty() {
        let (part, tail) = match rest.chars().next()? {
            q @ ('"' | '\'') => {
                let close = rest[1..].find(q)? + 1;
                (&rest[..=close], &rest[close + 1..])
            }
            _ => rest.split_at(rest.find('.').unwrap_or(rest.len())),
        };
        let part = part.trim();
        let bare = |c: char| c.is_ascii_alphanumeric() || c == '_' || c == '-';
        if !(part.starts_with(['"', '\'']) || (!part.is_empty() && part.chars().all(bare))) {
            return None;
        }
        parts.push(unquote(part).to_string());
        rest = tail.trim_start();
        match rest.strip_prefix('.') {
            Some(after) => rest = after.trim_start(),
            None if rest.is_empty() => {}
            None => return None,
        }
    }
    Some(parts)
}

fn unquote(key: &str) -> &str {
    for q in ['"', '\''] {
        if let Some(inner) = key.strip_prefix(q).and_then(|k| k.strip_suffix(q)) {
            return inner;
        }
    }
    key
}

#[cfg(test)]
mod tests {
    use super::*;

    fn explained(text: &str) -> (Problem, Option<String>) {
        let e = DeTable::parse(text).expect_err("a syntax error");
        let span = e.span().unwrap();
        let Explained { problem, path, first } = explain(text, span, e.message().to_string());
        let first = first.map(|r| format!("{}@{} {}", &text[r.clone()], r.start, path.join(".")));
        (problem, first)
    }

    fn duplicate(key: &str) -> Problem {
        Problem::DuplicateKey { key: key.into() }
    }

    #[test]
    fn a_duplicate_key_is_named_with_where_it_was_first_set() {
        assert_eq!(
            explained("[a]\nx = 1\ny = 2\nx = 3\n"),
            (duplicate("x"), Some("x@4 a.x".into()))
        );
        let nodes = "[n.a]\nhost = 'a'\n[n.b]\nhost = 'b'\nhost = 'c'\n";
        assert_eq!(explained(nodes), (duplicate("host"), Some("host@23 n.b.host".into())));
        assert_eq!(explained("a.b = 1\na.b = 2\n"), (duplicate("b"), Some("b@2 a.b".into())));
        assert_eq!(explained("[a]\nx = 1\n[a]\n"), (duplicate("a"), Some("a@1 a".into())));
        assert_eq!(
            explained("\"q.k\" = 1\n'q.k' = 2\n"),
            (duplicate("q.k"), Some("\"q.k\"@0 q.k".into()))
        );
    }

    #[test]
    fn a_duplicate_that_cannot_be_traced_is_still_named() {
        assert_eq!(explained("a = { b = 1, b = 2 }\n"), (duplicate("b"), None));
    }

    #[test]
    fn other_syntax_errors_keep_tomls_words() {
        let (problem, first) = explained("x = \"abc\n");
        assert!(matches!(problem, Problem::Syntax { .. }), "{problem:?}");
        assert_eq!(first, None);
    }

    #[test]
    fn key_paths_split_on_dots_outside_quotes() {
        assert_eq!(key_path(" a . \"b.c\" .d "), Some(vec!["a".into(), "b.c".into(), "d".into()]));
        assert_eq!(key_path("a = { b"), None);
    }
}
