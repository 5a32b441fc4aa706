//! Reading one TOML table: typed values with their places, every key it was not asked for
//! reported as unknown (with a "did you mean"), every missing or mistyped one reported.

use std::ops::Range;

use toml::Spanned;
use toml::de::{DeTable, DeValue};

use super::{Loc, Report, Sp};
use crate::escape::{self, Budget};
use crate::problem::Problem;
use crate::suggest;

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

/// A key as TOML writes it: bare when it can be, else quoted with TOML's `\"` and `\\`. Keys are
/// printed in messages, so a quoted key keeps a dotted path unambiguous (`nodes."a.b"`); a
/// control or format character in it (an escape sequence, a carriage return, a bidi override) is
/// escaped as every message escapes it (`escape`), and a very long key is cut like a value.
pub(super) fn key_text(name: &str) -> String {
    let bare = |b: u8| b.is_ascii_alphanumeric() || b == b'_' || b == b'-';
    let quote = name.is_empty() || !name.bytes().all(bare);
    let mut text = String::new();
    let (mut columns, mut bytes) = (0, 0);
    for piece in escape::pieces(name) {
        let (shown, width) = match &*piece.shown {
            "\"" => ("\\\"", 2),
            "\\" => ("\\\\", 2),
            shown => (shown, piece.width),
        };
        if !Budget::VALUE.holds(columns + width, bytes + shown.len()) {
            text.push_str(escape::CUT);
            break;
        }
        (columns, bytes) = (columns + width, bytes + shown.len());
        text.push_str(shown);
    }
    if quote { format!("\"{text}\"") } else { text }
}

fn key_span(table: &DeTable, name: &str) -> Range<usize> {
    table.keys().find(|k| k.get_ref() == name).map_or(0..0, Spanned::span)
}
