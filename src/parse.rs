//! Reading `site.toml` into spanned values, with every problem collected rather than the first.
//!
//! serde's derive stops at the first error; a lab file deserves all of them at once. So the
//! document is parsed into toml's spanned tree and read through `Table`, which remembers the
//! keys it was asked for: whatever else the table holds is an unknown key, reported with a
//! "did you mean". Values come out as `Sp<T>`, which carry the key and place they came from so
//! that later, cross-field checks can point at the right line.

use std::collections::HashSet;
use std::fmt;
use std::ops::Range;

use toml::Spanned;
use toml::de::{DeTable, DeValue};

use crate::problem::Problem;
use crate::snippet::Excerpt;
use crate::source::Lines;
use crate::{suggest, syntax};

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

/// A table being read. Dropping it without `finish` would skip the unknown-key check, so the
/// readers in `site/read.rs` always end with it.
#[allow(clippy::struct_field_names)] // `table` is the TOML table this reader reads.
pub struct Table<'a, 's> {
    key: String,
    offset: usize,
    len: usize,
    table: &'a DeTable<'s>,
    asked: Vec<&'static str>,
}

impl<'a, 's> Table<'a, 's> {
    pub fn root(doc: &'a Spanned<DeTable<'s>>) -> Self {
        let offset = doc.span().start;
        Table { key: String::new(), offset, len: 0, table: doc.get_ref(), asked: vec![] }
    }

    /// Whether the table has the key `name` (of whatever type). Readers answer `None` both
    /// when an optional key is absent and when it is wrong; a caller that falls back to a
    /// default only when it is absent asks this first. The key counts as asked for, so a
    /// misspelling of it is answered with "did you mean".
    pub fn has(&mut self, name: &'static str) -> bool {
        self.asked.push(name);
        self.table.contains_key(name)
    }

    /// The table has no key.
    pub fn is_empty(&self) -> bool {
        self.table.is_empty()
    }

    /// How many keys the table has.
    pub fn len(&self) -> usize {
        self.table.len()
    }

    pub fn loc(&self) -> Loc {
        Loc { key: self.key.clone(), offset: self.offset, len: self.len }
    }

    fn child_key(&self, name: &str) -> String {
        let name = key_text(name);
        if self.key.is_empty() { name } else { format!("{}.{name}", self.key) }
    }

    fn raw(&mut self, name: &'static str) -> Option<(Loc, &'a DeValue<'s>)> {
        self.asked.push(name);
        let value = self.table.get(name)?;
        Some((Loc::of(self.child_key(name), value.span()), value.get_ref()))
    }

    fn missing(&self, name: &'static str, what: &'static str, report: &mut Report) {
        let loc = Loc { key: self.child_key(name), offset: self.offset, len: self.len };
        report.add(&loc, Problem::Missing { what });
    }

    /// An optional string.
    pub fn str(&mut self, report: &mut Report, name: &'static str) -> Option<Sp<String>> {
        let (loc, value) = self.raw(name)?;
        match value {
            DeValue::String(s) => Some(Sp { value: s.to_string(), loc }),
            other => {
                let found = other.type_str();
                report.add(&loc, Problem::WrongType { expected: "a string", found });
                None
            }
        }
    }

    /// A required string; `what` names it in the "missing" message.
    pub fn req_str(
        &mut self,
        report: &mut Report,
        name: &'static str,
        what: &'static str,
    ) -> Option<Sp<String>> {
        if !self.table.contains_key(name) {
            self.asked.push(name);
            self.missing(name, what, report);
            return None;
        }
        self.str(report, name)
    }

    /// An optional integer within `min..=max`, read straight into the type it is kept in;
    /// `why` says where the bounds come from, for the message.
    pub fn int<T>(
        &mut self,
        report: &mut Report,
        name: &'static str,
        min: T,
        max: T,
        why: Option<&'static str>,
    ) -> Option<Sp<T>>
    where
        T: Copy + PartialOrd + Into<i64> + TryFrom<i64>,
    {
        let (loc, value) = self.raw(name)?;
        let DeValue::Integer(i) = value else {
            let found = value.type_str();
            report.add(&loc, Problem::WrongType { expected: "an integer", found });
            return None;
        };
        let parsed = i64::from_str_radix(i.as_str(), i.radix()).ok();
        match parsed.and_then(|n| T::try_from(n).ok()) {
            Some(n) if min <= n && n <= max => Some(Sp { value: n, loc }),
            _ => {
                let value =
                    parsed.unwrap_or(if i.as_str().starts_with('-') { i64::MIN } else { i64::MAX });
                report.add(
                    &loc,
                    Problem::OutOfRange { value, min: min.into(), max: max.into(), why },
                );
                None
            }
        }
    }

    pub fn bool(&mut self, report: &mut Report, name: &'static str) -> Option<Sp<bool>> {
        let (loc, value) = self.raw(name)?;
        match value {
            DeValue::Boolean(b) => Some(Sp { value: *b, loc }),
            other => {
                let found = other.type_str();
                report.add(&loc, Problem::WrongType { expected: "`true` or `false`", found });
                None
            }
        }
    }

    /// A required array of strings; `what` names it in the "missing" message. A present array
    /// with an element of the wrong type is that error alone: it is not also missing.
    pub fn req_str_array(
        &mut self,
        report: &mut Report,
        name: &'static str,
        what: &'static str,
    ) -> Option<Sp<Vec<Sp<String>>>> {
        if !self.table.contains_key(name) {
            self.asked.push(name);
            self.missing(name, what, report);
            return None;
        }
        self.str_array(report, name)
    }

    /// An optional array of strings; `None` for the whole array if any element is not a string.
    pub fn str_array(
        &mut self,
        report: &mut Report,
        name: &'static str,
    ) -> Option<Sp<Vec<Sp<String>>>> {
        let (loc, value) = self.raw(name)?;
        let DeValue::Array(items) = value else {
            let found = value.type_str();
            report.add(&loc, Problem::WrongType { expected: "an array of strings", found });
            return None;
        };
        let mut out = Vec::new();
        let mut ok = true;
        for (i, item) in items.iter().enumerate() {
            let item_loc = Loc::of(format!("{}[{i}]", loc.key), item.span());
            match item.get_ref() {
                DeValue::String(s) => out.push(Sp { value: s.to_string(), loc: item_loc }),
                other => {
                    let found = other.type_str();
                    report.add(&item_loc, Problem::WrongType { expected: "a string", found });
                    ok = false;
                }
            }
        }
        ok.then_some(Sp { value: out, loc })
    }

    /// An optional sub-table (`[a.b]` or `b = { … }`).
    pub fn table(&mut self, report: &mut Report, name: &'static str) -> Option<Table<'a, 's>> {
        let (loc, value) = self.raw(name)?;
        match value {
            DeValue::Table(t) => Some(Table {
                key: loc.key,
                offset: loc.offset,
                len: loc.len,
                table: t,
                asked: vec![],
            }),
            other => {
                let found = other.type_str();
                report.add(&loc, Problem::WrongType { expected: "a table", found });
                None
            }
        }
    }

    /// An optional sub-table whose presence turns a feature on (`metallb = { … }`). Written as
    /// `true` or `false`, it is answered with how to turn the feature on or off; `example` is
    /// the table to show.
    pub fn feature_table(
        &mut self,
        report: &mut Report,
        name: &'static str,
        example: &'static str,
    ) -> Option<Table<'a, 's>> {
        if let Some(value) = self.table.get(name) {
            if let DeValue::Boolean(on) = value.get_ref() {
                self.asked.push(name);
                let loc = Loc::of(self.child_key(name), value.span());
                report.add(&loc, Problem::TableAsSwitch { name, off: !on, example });
                return None;
            }
        }
        self.table(report, name)
    }

    /// A required sub-table; a missing one reads as empty, so each missing key inside it is
    /// reported too (the user sees everything the table needs at once).
    #[must_use]
    pub fn req_table(
        &mut self,
        report: &mut Report,
        name: &'static str,
        empty: &'a DeTable<'s>,
    ) -> Table<'a, 's> {
        if self.table.contains_key(name) {
            if let Some(t) = self.table(report, name) {
                return t;
            }
            // Present but not a table: already reported; read it as empty so nothing more is said.
            return Table {
                key: self.child_key(name),
                offset: self.offset,
                len: self.len,
                table: empty,
                asked: vec![],
            };
        }
        self.asked.push(name);
        let key = self.child_key(name);
        Table { key, offset: self.offset, len: self.len, table: empty, asked: vec![] }
    }

    /// Every entry of a table keyed by name (`[hosts.<name>]`), each as a table, in name order.
    pub fn entries(self, report: &mut Report) -> Vec<(Sp<String>, Table<'a, 's>)> {
        let mut out = Vec::new();
        for (name, value) in self.table {
            let key = self.child_key(name.get_ref());
            let name_sp =
                Sp { value: name.get_ref().to_string(), loc: Loc::of(key.clone(), name.span()) };
            match value.get_ref() {
                DeValue::Table(t) => {
                    let (offset, len) = (name.span().start, name.span().len());
                    out.push((name_sp, Table { key, offset, len, table: t, asked: vec![] }));
                }
                other => {
                    let found = other.type_str();
                    report.add(&name_sp.loc, Problem::WrongType { expected: "a table", found });
                }
            }
        }
        out.sort_by(|a, b| a.0.value.cmp(&b.0.value));
        out
    }

    /// Reports every key nobody asked for, with the closest known key as a suggestion.
    /// The sorted list of allowed keys is made once, not once per unknown key.
    pub fn finish(self, report: &mut Report) {
        let mut allowed: Option<Vec<&'static str>> = None;
        for name in self.table.keys() {
            let name = name.get_ref();
            if self.asked.iter().any(|a| a == name) {
                continue;
            }
            let loc = Loc::of(self.child_key(name), key_span(self.table, name));
            let suggestion = suggest::closest(name, &self.asked).map(str::to_string);
            if let Some(meant) = &suggestion {
                report.withdraw_missing(self.child_key(meant));
            }
            let allowed = allowed
                .get_or_insert_with(|| {
                    let mut allowed = self.asked.clone();
                    allowed.sort_unstable();
                    allowed.dedup();
                    allowed
                })
                .clone();
            report.add(&loc, Problem::UnknownKey { suggestion, allowed });
        }
    }
}

/// A key as TOML writes it: bare when it can be, else quoted with TOML's escapes. Keys are
/// printed in messages, so a quoted key keeps a dotted path unambiguous (`nodes."a.b"`) and a
/// control character in it (an escape sequence, a carriage return) from reaching the terminal.
/// Like values in messages, a very long key is cut.
fn key_text(name: &str) -> String {
    const LIMIT: usize = 80;
    let bare = |b: u8| b.is_ascii_alphanumeric() || b == b'_' || b == b'-';
    let quote = name.is_empty() || !name.bytes().all(bare);
    let mut text = String::new();
    if quote {
        text.push('"');
    }
    for (i, c) in name.chars().enumerate() {
        match c {
            _ if i == LIMIT => {
                text.push('…');
                break;
            }
            '"' => text.push_str("\\\""),
            '\\' => text.push_str("\\\\"),
            c if c.is_control() => text.push_str(&format!("\\u{:04X}", c as u32)),
            c => text.push(c),
        }
    }
    if quote {
        text.push('"');
    }
    text
}

fn key_span(table: &DeTable, name: &str) -> Range<usize> {
    table.keys().find(|k| k.get_ref() == name).map_or(0..0, Spanned::span)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_that_are_not_bare_are_quoted_and_escaped() {
        assert_eq!(key_text("k8s-cp_1"), "k8s-cp_1");
        assert_eq!(key_text("a.b"), "\"a.b\"");
        assert_eq!(key_text(""), "\"\"");
        assert_eq!(key_text("\u{1b}[2J\"\\\r"), "\"\\u001B[2J\\\"\\\\\\u000D\"");
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
