//! A `site.toml` being started by `gen init` or `gen import`: what they know, written as a
//! commented file in which everything still unknown is a commented-out key marked "to fill in".
//!
//! A key left out is one `gen build` reports as missing, with its place and its fix, so the file
//! "fails only where information is genuinely missing". Every value is written through toml's own
//! string quoting, so nothing typed on the command line or read from an inventory can break out
//! of its string. The file is written only where none is, unless `--force`, and the schema beside
//! it likewise.

use std::fmt::Write as _;
use std::io::Write as _;
use std::path::{Path, PathBuf};

use crate::error::{Diagnostic, Error, Result};
use crate::problem::Problem;
use crate::schema;
use crate::site::Site;
use crate::wording::Count;

/// A value or a hole.
pub enum Entry {
    /// `key = value`, the value already TOML (quoted by [`string`] or [`strings`]).
    Set { key: &'static str, value: String },
    /// `# to fill in: why` then `# key = example`.
    Fill { key: &'static str, why: String, example: String },
    /// A comment line of its own.
    Note(String),
}

/// One `[table]` of the file.
pub struct Section {
    pub header: String,
    pub comment: Option<String>,
    pub entries: Vec<Entry>,
}

impl Section {
    pub fn new(header: impl Into<String>) -> Section {
        Section { header: header.into(), comment: None, entries: vec![] }
    }

    #[must_use]
    pub fn with_comment(mut self, comment: impl Into<String>) -> Section {
        self.comment = Some(comment.into());
        self
    }

    pub fn set(&mut self, key: &'static str, value: String) -> &mut Section {
        self.entries.push(Entry::Set { key, value });
        self
    }

    pub fn fill(
        &mut self,
        key: &'static str,
        why: impl Into<String>,
        example: &str,
    ) -> &mut Section {
        self.entries.push(Entry::Fill { key, why: why.into(), example: example.to_string() });
        self
    }

    pub fn note(&mut self, text: impl Into<String>) -> &mut Section {
        self.entries.push(Entry::Note(text.into()));
        self
    }

    /// `value` set if known, else a hole.
    pub fn set_or_fill(
        &mut self,
        key: &'static str,
        value: Option<String>,
        why: impl Into<String>,
        example: &str,
    ) -> &mut Section {
        match value {
            Some(value) => self.set(key, value),
            None => self.fill(key, why, example),
        }
    }
}

/// A TOML string literal.
pub fn string(s: &str) -> String {
    toml::Value::String(s.to_string()).to_string()
}

/// A TOML array of strings.
pub fn strings(items: &[String]) -> String {
    let quoted: Vec<String> = items.iter().map(|s| string(s)).collect();
    format!("[{}]", quoted.join(", "))
}

/// The whole file: the `#:schema` line, a header comment, then the sections.
pub fn text(header: &str, sections: &[Section]) -> String {
    let mut text = format!("#:schema ./{}\n", schema::FILE_NAME);
    for line in header.lines() {
        let _ = writeln!(text, "# {line}");
    }
    for section in sections {
        text.push('\n');
        if let Some(comment) = &section.comment {
            for line in comment.lines() {
                let _ = writeln!(text, "# {line}");
            }
        }
        let _ = writeln!(text, "[{}]", section.header);
        for entry in &section.entries {
            match entry {
                Entry::Set { key, value } => {
                    let _ = writeln!(text, "{key} = {value}");
                }
                Entry::Fill { key, why, example } => {
                    debug_assert!(!why.contains('\n'), "one line: the example follows it");
                    let _ = writeln!(text, "# to fill in: {why}");
                    let _ = writeln!(text, "# {key} = {example}");
                }
                Entry::Note(note) => {
                    for line in note.lines() {
                        let _ = writeln!(text, "# {line}");
                    }
                }
            }
        }
    }
    text
}

/// What `gen build` will say of a drafted file: nothing when it builds, else every problem.
pub fn problems(text: &str, file: &str) -> Vec<Diagnostic> {
    match Site::from_toml(text, file) {
        Ok(_) => vec![],
        Err(Error::InvalidSite { diagnostics, .. }) => diagnostics,
        Err(_) => vec![],
    }
}

/// The problems that are not a hole the draft left on purpose (a missing key).
pub fn mistakes(problems: &[Diagnostic]) -> Vec<Diagnostic> {
    problems.iter().filter(|d| !matches!(d.problem, Problem::Missing { .. })).cloned().collect()
}

/// Writes `site` and the schema beside it; refuses to replace either unless `force`.
pub fn write(site: &Path, text: &str, force: bool) -> Result<PathBuf> {
    let schema_path = site.with_file_name(schema::FILE_NAME);
    if !force {
        for path in [site, schema_path.as_path()] {
            if path.symlink_metadata().is_ok() {
                return Err(Error::WouldOverwrite { path: path.to_path_buf() });
            }
        }
    }
    create(site, text.as_bytes(), force)?;
    create(&schema_path, schema::json().as_bytes(), force)?;
    Ok(schema_path)
}

/// Without `force`, `create_new`: a file that appeared since the check is still not replaced.
fn create(path: &Path, bytes: &[u8], force: bool) -> Result<()> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true);
    if force {
        options.create(true).truncate(true);
    } else {
        options.create_new(true);
    }
    let mut file = options.open(path).map_err(|e| match e.kind() {
        std::io::ErrorKind::AlreadyExists => Error::WouldOverwrite { path: path.to_path_buf() },
        _ => Error::io(path, "write", e),
    })?;
    file.write_all(bytes).map_err(|e| Error::io(path, "write", e))
}

/// The closing words of init and import: the holes left and any other problem, as `gen build`
/// will report them, and the next step.
pub fn report(file: &str, problems: &[Diagnostic]) -> String {
    let mut text = String::new();
    if problems.is_empty() {
        let _ = writeln!(text, "`{file}` is complete: run `gen build`, review `git diff`, commit");
        return text;
    }
    let holes = problems.len() - mistakes(problems).len();
    let others = problems.len() - holes;
    let (values, wrong) = (Count::new(holes, "more value"), Count::new(others, "problem"));
    let what = match (holes, others) {
        (_, 0) => format!("needs {values} (marked `to fill in`)"),
        (0, _) => format!("has {wrong} to correct"),
        _ => format!("needs {values} (marked `to fill in`) and has {wrong} to correct"),
    };
    let _ = writeln!(text, "`{file}` {what} before it builds:");
    for d in problems {
        let _ = writeln!(text, "  {file}:{d}");
    }
    let _ = writeln!(text, "then run `gen build`, review `git diff`, commit");
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_are_quoted_by_toml_so_nothing_breaks_out() {
        let tricky = "a\"b\\c\n'''d";
        let parsed: toml::Table = format!("k = {}", string(tricky)).parse().unwrap();
        assert_eq!(parsed["k"].as_str(), Some(tricky));
        let text = text(
            "x",
            &[{
                let mut s = Section::new("cluster");
                s.set("name", string("lab\"\n[evil]"));
                s
            }],
        );
        let parsed: toml::Table = text.parse().unwrap();
        assert_eq!(parsed["cluster"]["name"].as_str(), Some("lab\"\n[evil]"));
        assert!(parsed.get("evil").is_none());
    }
}
