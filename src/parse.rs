//! Reading `site.toml` into spanned values, with every problem collected rather than the first.
//!
//! serde's derive stops at the first error; a lab file deserves all of them at once. So the
//! document is parsed into toml's spanned tree and read through `Table`, which remembers the
//! keys it was asked for: whatever else the table holds is an unknown key, reported with a
//! "did you mean". Values come out as `Sp<T>`, which carry the key and place they came from so
//! that later, cross-field checks can point at the right line.

use std::fmt;

use toml::Spanned;
use toml::de::{DeTable, DeValue};

use crate::problem::Problem;
use crate::source::line_col;

/// Where a value came from: its dotted key and byte offset in the file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Loc {
    pub key: String,
    pub offset: usize,
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
    problems: Vec<(usize, String, Problem)>,
}

impl<'s> Report<'s> {
    pub fn new(text: &'s str) -> Report<'s> {
        Report { text, problems: Vec::new() }
    }

    pub fn add(&mut self, loc: &Loc, problem: Problem) {
        self.problems.push((loc.offset, loc.key.clone(), problem));
    }

    pub fn is_empty(&self) -> bool {
        self.problems.is_empty()
    }

    /// Every problem, in the order of the file.
    pub fn into_diagnostics(self) -> Vec<Diagnostic> {
        let mut diagnostics: Vec<Diagnostic> = self
            .problems
            .into_iter()
            .map(|(offset, key, problem)| {
                let (line, column) = line_col(self.text, offset);
                Diagnostic { line, column, key, problem }
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
            let offset = e.span().map_or(0, |s| s.start);
            let message = e.message().trim_end().replace('\n', "; ");
            report.add(&Loc { key: String::new(), offset }, Problem::Syntax { message });
            None
        }
    }
}

/// A table being read. Dropping it without `finish` would skip the unknown-key check, so the
/// readers in `site/read.rs` always end with it.
pub struct Table<'a, 's> {
    key: String,
    offset: usize,
    table: &'a DeTable<'s>,
    asked: Vec<&'static str>,
}

impl<'a, 's> Table<'a, 's> {
    pub fn root(doc: &'a Spanned<DeTable<'s>>) -> Self {
        Table { key: String::new(), offset: doc.span().start, table: doc.get_ref(), asked: vec![] }
    }

    pub fn loc(&self) -> Loc {
        Loc { key: self.key.clone(), offset: self.offset }
    }

    fn child_key(&self, name: &str) -> String {
        let name = key_text(name);
        if self.key.is_empty() { name } else { format!("{}.{name}", self.key) }
    }

    fn raw(&mut self, name: &'static str) -> Option<(Loc, &'a DeValue<'s>)> {
        self.asked.push(name);
        let value = self.table.get(name)?;
        Some((Loc { key: self.child_key(name), offset: value.span().start }, value.get_ref()))
    }

    fn missing(&self, name: &'static str, what: &'static str, report: &mut Report) {
        let loc = Loc { key: self.child_key(name), offset: self.offset };
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

    /// An optional integer within `min..=max`, read straight into the type it is kept in.
    pub fn int<T>(
        &mut self,
        report: &mut Report,
        name: &'static str,
        min: T,
        max: T,
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
                report.add(&loc, Problem::OutOfRange { value, min: min.into(), max: max.into() });
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
            let item_loc = Loc { key: format!("{}[{i}]", loc.key), offset: item.span().start };
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
            DeValue::Table(t) => {
                Some(Table { key: loc.key, offset: loc.offset, table: t, asked: vec![] })
            }
            other => {
                let found = other.type_str();
                report.add(&loc, Problem::WrongType { expected: "a table", found });
                None
            }
        }
    }

    /// A required sub-table; a missing one reads as empty, so each missing key inside it is
    /// reported too (the user sees everything the table needs at once).
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
                table: empty,
                asked: vec![],
            };
        }
        self.asked.push(name);
        Table { key: self.child_key(name), offset: self.offset, table: empty, asked: vec![] }
    }

    /// Every entry of a table keyed by name (`[hosts.<name>]`), each as a table, in name order.
    pub fn entries(self, report: &mut Report) -> Vec<(Sp<String>, Table<'a, 's>)> {
        let mut out = Vec::new();
        for (name, value) in self.table.iter() {
            let key = self.child_key(name.get_ref());
            let name_sp = Sp {
                value: name.get_ref().to_string(),
                loc: Loc { key: key.clone(), offset: name.span().start },
            };
            match value.get_ref() {
                DeValue::Table(t) => {
                    let offset = name.span().start;
                    out.push((name_sp, Table { key, offset, table: t, asked: vec![] }));
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
    pub fn finish(self, report: &mut Report) {
        for name in self.table.keys() {
            let name = name.get_ref();
            if self.asked.iter().any(|a| a == name) {
                continue;
            }
            let loc = Loc { key: self.child_key(name), offset: value_key_offset(self.table, name) };
            let suggestion = closest(name, &self.asked).map(str::to_string);
            let mut allowed = self.asked.clone();
            allowed.sort_unstable();
            allowed.dedup();
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

fn value_key_offset(table: &DeTable, name: &str) -> usize {
    table.keys().find(|k| k.get_ref() == name).map_or(0, |k| k.span().start)
}

/// The known key a typo most likely meant: within an edit distance of a third of its length.
fn closest<'k>(name: &str, known: &[&'k str]) -> Option<&'k str> {
    let limit = (name.chars().count() / 3).max(1);
    known
        .iter()
        .map(|k| (edit_distance(&name.to_lowercase(), k), *k))
        .filter(|(d, _)| *d <= limit)
        .min()
        .map(|(_, k)| k)
}

/// Levenshtein distance over characters.
fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut diagonal = row[0];
        row[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let substitute = diagonal + usize::from(ca != *cb);
            diagonal = row[j + 1];
            row[j + 1] = substitute.min(row[j] + 1).min(diagonal + 1);
        }
    }
    row[b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn typos_get_a_suggestion_and_strangers_do_not() {
        let known = ["address", "user", "bridge", "host_key", "port", "root"];
        assert_eq!(closest("adress", &known), Some("address"));
        assert_eq!(closest("hostkey", &known), Some("host_key"));
        assert_eq!(closest("Bridge", &known), Some("bridge"));
        assert_eq!(closest("colour", &known), None);
    }

    #[test]
    fn keys_that_are_not_bare_are_quoted_and_escaped() {
        assert_eq!(key_text("k8s-cp_1"), "k8s-cp_1");
        assert_eq!(key_text("a.b"), "\"a.b\"");
        assert_eq!(key_text(""), "\"\"");
        assert_eq!(key_text("\u{1b}[2J\"\\\r"), "\"\\u001B[2J\\\"\\\\\\u000D\"");
        assert_eq!(key_text(&"x".repeat(500)), format!("{}…", "x".repeat(80)));
    }

    #[test]
    fn edit_distance_counts_single_edits() {
        assert_eq!(edit_distance("kitten", "sitting"), 3);
        assert_eq!(edit_distance("", "abc"), 3);
        assert_eq!(edit_distance("same", "same"), 0);
    }
}
