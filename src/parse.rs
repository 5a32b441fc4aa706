//! Reading `site.toml` into spanned values, with every problem collected rather than the first.
//!
//! serde's derive stops at the first error; a lab file deserves all of them at once. So the
//! document is parsed into toml's spanned tree and read through `Table`, which remembers the
//! keys it was asked for: whatever else the table holds is an unknown key, reported with a
//! "did you mean". Values come out as `Sp<T>`, which carry the key and place they came from so
//! that later, cross-field checks can point at the right line.

use std::collections::HashSet;
use std::ops::Range;

use toml::Spanned;
use toml::de::DeTable;

use crate::problem::Problem;
use crate::snippet::{Diagnostic, Excerpt};
use crate::source::Lines;
use crate::syntax;

/// Where a value came from: its dotted key, and the byte offset and length in the file of what
/// an error about it underlines (the value, or the key or table name). A length of 0 at a table
/// that is not in the file (the document, a missing table) means there is nothing to underline.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Loc {
    pub key: String,
    pub offset: usize,
    pub len: usize,
}

impl Loc {
    fn of(key: String, span: std::ops::Range<usize>) -> Loc {
        Loc { key, offset: span.start, len: span.len() }
    }
}

/// A value with the place it came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sp<T> {
    pub value: T,
    pub loc: Loc,
}

impl<T> Sp<T> {
    pub fn map<U>(self, f: impl FnOnce(T) -> U) -> Sp<U> {
        Sp { value: f(self.value), loc: self.loc }
    }
}

/// Collects problems while the document is read and validated.
pub struct Report<'s> {
    text: &'s str,
    problems: Vec<(Loc, Problem, Option<Range<usize>>)>,
    /// Keys found misspelt: a `Missing` problem at one of them, or inside one, is not shown.
    /// Kept as a set and applied once at the end, so that 10,000 misspelt keys cost 10,000
    /// lookups rather than 10,000 passes over every problem.
    misspelt: HashSet<String>,
}

impl<'s> Report<'s> {
    pub fn new(text: &'s str) -> Report<'s> {
        Report { text, problems: Vec::new(), misspelt: HashSet::new() }
    }

    pub fn add(&mut self, loc: &Loc, problem: Problem) {
        self.problems.push((loc.clone(), problem, None));
    }

    /// A "missing" problem is withdrawn when the key is there but misspelt: the unknown-key
    /// error that suggests it says all there is to say.
    /// A misspelt table withdraws what is missing inside it too.
    fn withdraw_missing(&mut self, key: String) {
        self.misspelt.insert(key);
    }

    /// Whether a problem is one a misspelt key withdrew: a `Missing` at that key or under it.
    fn withdrawn(&self, loc: &Loc, problem: &Problem) -> bool {
        matches!(problem, Problem::Missing { .. })
            && !self.misspelt.is_empty()
            && (self.misspelt.contains(&loc.key)
                || loc
                    .key
                    .match_indices('.')
                    .any(|(dot, _)| self.misspelt.contains(&loc.key[..dot])))
    }

    pub fn is_empty(&self) -> bool {
        self.problems.iter().all(|(loc, problem, _)| self.withdrawn(loc, problem))
    }

    /// Every problem, in the order of the file.
    pub fn into_diagnostics(mut self) -> Vec<Diagnostic> {
        let lines = Lines::new(self.text);
        let problems = std::mem::take(&mut self.problems);
        let mut diagnostics: Vec<Diagnostic> = problems
            .into_iter()
            .filter(|(loc, problem, _)| !self.withdrawn(loc, problem))
            .map(|(loc, problem, first)| {
                let (line, column) = lines.line_col(loc.offset);
                let span = loc.offset..loc.offset + loc.len;
                // A missing key has nothing to underline unless its table is in the file.
                let nothing_to_show = loc.len == 0 && matches!(problem, Problem::Missing { .. });
                let excerpt = (!nothing_to_show).then(|| Excerpt::within(&lines, span, first));
                Diagnostic { line, column, key: loc.key, problem, excerpt }
            })
            .collect();
        diagnostics.sort_by(|a, b| (a.line, a.column, &a.key).cmp(&(b.line, b.column, &b.key)));
        diagnostics.dedup();
        diagnostics
    }
}

/// Parses the document; a syntax error is the one problem that stops everything else.
pub fn document<'s>(text: &'s str, report: &mut Report<'s>) -> Option<Spanned<DeTable<'s>>> {
    match DeTable::parse(text) {
        Ok(doc) => Some(doc),
        Err(e) => {
            let span = e.span().unwrap_or(0..0);
            let message = e.message().trim_end().replace('\n', "; ");
            let explained = syntax::explain(text, span.clone(), message);
            let key = explained.path.iter().map(|k| key_text(k)).collect::<Vec<_>>().join(".");
            report.problems.push((Loc::of(key, span), explained.problem, explained.first));
            None
        }
    }
}

mod table;

pub use table::Table;
use table::key_text;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_that_are_not_bare_are_quoted_and_escaped() {
        assert_eq!(key_text("k8s-cp_1"), "k8s-cp_1");
        assert_eq!(key_text("a.b"), "\"a.b\"");
        assert_eq!(key_text(""), "\"\"");
        assert_eq!(key_text("\u{1b}[2J\"\\\r"), r#""\u{1b}[2J\"\\\r""#);
        assert_eq!(key_text("a\u{202e}b\u{85}"), r#""a\u{202e}b\u{85}""#);
        assert_eq!(key_text(&"x".repeat(500)), format!("{}…", "x".repeat(80)));
    }

    fn missing(key: &str) -> (Loc, Problem) {
        let loc = Loc { key: key.to_string(), offset: 0, len: 0 };
        (loc, Problem::Missing { what: "it" })
    }

    #[test]
    fn a_misspelt_key_withdraws_what_is_missing_at_it_and_under_it_only() {
        let mut report = Report::new("");
        for key in ["network", "network.dns", "networks", "nodes.a.ip", "nodes.ab.ip"] {
            let (loc, problem) = missing(key);
            report.add(&loc, problem);
        }
        report.withdraw_missing("network".to_string());
        report.withdraw_missing("nodes.a".to_string());
        // Reported after the misspelling was found: withdrawn all the same.
        let (loc, problem) = missing("nodes.a.cpus");
        report.add(&loc, problem);
        let left: Vec<String> = report.into_diagnostics().into_iter().map(|d| d.key).collect();
        assert_eq!(left, ["networks", "nodes.ab.ip"]);
    }

    #[test]
    fn a_report_of_withdrawn_problems_only_is_empty() {
        let mut report = Report::new("");
        let (loc, problem) = missing("cluster.name");
        report.add(&loc, problem);
        assert!(!report.is_empty());
        report.withdraw_missing("cluster".to_string());
        assert!(report.is_empty());
    }
}
