//! The one error type, and every message gen prints about a failure.
//!
//! Messages are written here and nowhere else, in the user's words, each with the fix. A bad
//! `site.toml` is not one error but a list of `Diagnostic`s, all reported at once, each naming
//! the file, line, column and dotted key it is about.

use std::fmt;
use std::path::PathBuf;

use crate::problem::Problem;

/// Exit status of every command (README, "Exit codes").
pub mod exit {
    pub const OK: u8 = 0;
    /// `check`/`diff` found a difference; `apply` failed.
    pub const DIFFERS: u8 = 1;
    /// The input is invalid (or the command cannot run at all).
    pub const INVALID: u8 = 2;
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

#[derive(Debug)]
pub enum Error {
    /// `site.toml` does not describe a valid lab.
    InvalidSite { file: String, diagnostics: Vec<Diagnostic> },
    /// A file could not be read or written.
    Io { path: PathBuf, action: &'static str, source: std::io::Error },
    /// `--out` would put the output where it could clobber the input.
    OutContainsSite { out: PathBuf, site: PathBuf },
    /// Something in `out/` is a symlink or not a regular file where gen writes.
    NotOurs { path: PathBuf, what: &'static str },
    /// `out/manifest.toml` exists but cannot be read as one gen wrote.
    BadManifest { path: PathBuf, reason: String },
    /// A command that needs the host gets a name `site.toml` does not have.
    UnknownHost { name: String, known: Vec<String> },
    /// Anything about `gen apply` that is not a difference.
    Apply { host: String, reason: String },
}

impl Error {
    pub fn io(path: impl Into<PathBuf>, action: &'static str, source: std::io::Error) -> Error {
        Error::Io { path: path.into(), action, source }
    }

    pub fn exit_code(&self) -> u8 {
        match self {
            Error::Apply { .. } => exit::DIFFERS,
            _ => exit::INVALID,
        }
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::InvalidSite { file, diagnostics } => {
                for d in diagnostics {
                    writeln!(f, "error: {file}:{d}")?;
                }
                let n = diagnostics.len();
                write!(
                    f,
                    "{n} error{} in {file}; nothing was written",
                    if n == 1 { "" } else { "s" }
                )
            }
            Error::Io { path, action, source } => {
                write!(f, "error: could not {action} `{}`: {source}", path.display())
            }
            Error::OutContainsSite { out, site } => write!(
                f,
                "error: `--out {}` contains the site file `{}`; gen prunes its output folder, so \
                 it must not hold its own input\n  fix: use a folder beside the site file, e.g. \
                 the default `out`",
                out.display(),
                site.display()
            ),
            Error::NotOurs { path, what } => write!(
                f,
                "error: `{}` is {what}; gen never writes through or replaces what it did not \
                 make\n  fix: move it out of the output folder, then run `gen build` again",
                path.display()
            ),
            Error::BadManifest { path, reason } => write!(
                f,
                "error: `{}` is not a manifest gen wrote ({reason})\n  fix: if the output folder \
                 is gen's, delete the manifest and every file it listed, then run `gen build`",
                path.display()
            ),
            Error::UnknownHost { name, known } => write!(
                f,
                "error: no host `{name}` in site.toml; the hosts are {}",
                known.iter().map(|h| format!("`{h}`")).collect::<Vec<_>>().join(", ")
            ),
            Error::Apply { host, reason } => write!(f, "error: apply to `{host}` failed: {reason}"),
        }
    }
}

impl std::error::Error for Error {}

pub type Result<T, E = Error> = std::result::Result<T, E>;
