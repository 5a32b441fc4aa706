//! The one error type, and every message gen prints about a failure.
//!
//! Messages are written in `error/text.rs` (failures) and `error/warning.rs` (warnings) and
//! nowhere else, in the user's words, each with the fix; their label comes from `Severity`. A bad
//! `site.toml` is not one error but a list of `Diagnostic`s, all reported at once, each naming
//! the file, line, column and dotted key it is about.

use std::fmt;
use std::path::PathBuf;

pub use crate::snippet::Diagnostic;

mod text;
mod warning;

pub use text::waiting_for_lock;
pub use warning::{EtcdMajority, Warning, warn};
/// Exit status of every command (README, "Exit codes").
pub mod exit {
    pub const OK: u8 = 0;
    /// `check`/`diff` found a difference; `apply` failed; a file could not be read or written.
    pub const DIFFERS: u8 = 1;
    /// The input is invalid: `site.toml`, the arguments, or an `out/` gen refuses to touch.
    pub const INVALID: u8 = 2;
}

#[derive(Debug)]
pub enum Error {
    /// `site.toml` does not describe a valid lab.
    InvalidSite { file: String, diagnostics: Vec<Diagnostic> },
    /// `--site` names nothing, or something that is not a site file to read.
    SiteFile { path: PathBuf, problem: SiteFileProblem },
    /// A file could not be read or written.
    Io { path: PathBuf, action: &'static str, source: std::io::Error },
    /// `gen build` failed (`cause`) after it had begun to change `out`: what it had done.
    PartialBuild { out: PathBuf, cause: Box<Error>, written: Vec<String>, removed: Vec<String> },
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
    /// `gen apply` was asked to send an `out/` that `gen check` would not accept.
    StaleOut { out: PathBuf, differences: usize },
    /// `ssh` or `rsync` is not installed on this machine.
    MissingTool { tool: &'static str },
    /// A path gen must hand to ssh as one word has a space or a quote in it.
    SshPath { path: PathBuf, what: &'static str },
    /// The server's ssh host key is not the one `site.toml` pins.
    HostKey { host: String, address: String, port: u16 },
    /// ssh could not reach the server.
    Unreachable { host: String, user: String, address: String, port: u16, detail: String },
    /// The server refused the ssh login.
    Login { host: String, user: String, address: String, port: u16, detail: String },
    /// The server lacks commands gen's side of an apply runs.
    ServerLacks { host: String, tools: Vec<String> },
    /// A step of an apply failed on the server.
    Remote { host: String, step: &'static str, output: String },
    /// A folder on the server does not hash to the generation it should be.
    Corrupt { host: String, expected: String, actual: String },
    /// sudo on the server would refuse a command the plan runs as root.
    Sudo {
        host: String,
        user: String,
        refused: Vec<String>,
        said: Option<String>,
        line: String,
        file: String,
    },
    /// A step of the plan failed on the server; `output` is its last lines unless already shown.
    Step { host: String, step: String, output: String },
    /// The plan cannot be run without orphaning a VM, a clash or a loss of etcd quorum.
    Refused { reason: String, fix: String },
    /// The server runs VMs of gen's first layout, which this gen would orphan.
    Legacy { host: String, root: String, groups: Vec<String>, nodes: Vec<String> },
    /// `gen rollback` on a server with no other generation to go back to.
    NoPrevious { host: String },
    /// The new build is a change kubespray cannot make from what `out/` deploys now.
    UnsafeChange { refusals: Vec<Objection> },
    /// `gen apply` was asked to send an `out/` that differs from the commit at HEAD.
    Unreviewed { out: PathBuf, commit: Option<String>, changes: Vec<Change> },
    /// git failed on `out/` in a way that is not "no repository here".
    Git { out: PathBuf, command: String, detail: String },
    /// `out/kubespray/cluster.toml` exists but cannot be read as a record gen wrote.
    BadRecord { path: PathBuf, reason: String },
    /// `gen init` or `gen import` would replace a file; they do only with `--force`.
    WouldOverwrite { path: PathBuf },
    /// An argument of `gen init` that cannot go into a site file.
    InitArgument { argument: &'static str, value: String, expected: &'static str },
    /// `gen init`'s values make a site that `gen build` refuses for more than missing keys.
    InitValues { diagnostics: Vec<Diagnostic> },
    /// The input ended (Ctrl-D) at one of `gen init`'s questions: it stops, writing nothing.
    InitStopped { question: String },
    /// An inventory `gen import` cannot read.
    Inventory { path: PathBuf, line: usize, reason: String },
}

/// Why the site file cannot be read as one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SiteFileProblem {
    Missing,
    /// What it is instead (`a folder`, `a FIFO`, `a device`, ...).
    NotAFile(&'static str),
    /// Larger than this many bytes.
    TooLarge(u64),
}

/// A change `gen build` refuses, in the words of the module that judged it (`change::Refusal`):
/// what kubespray cannot do, and what to do instead.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Objection {
    pub reason: String,
    pub fix: String,
}

/// A path under `out/` that is not as HEAD has it, as git names it (from the work tree's top):
/// what `review.rs` finds and `Error::Unreviewed` lists.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Change {
    pub kind: ChangeKind,
    pub path: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChangeKind {
    New,
    Ignored,
    Changed,
    Deleted,
}

impl ChangeKind {
    pub fn word(self) -> &'static str {
        match self {
            ChangeKind::New => "new",
            ChangeKind::Ignored => "ignored",
            ChangeKind::Changed => "changed",
            ChangeKind::Deleted => "deleted",
        }
    }
}

impl Error {
    pub fn io(path: impl Into<PathBuf>, action: &'static str, source: std::io::Error) -> Error {
        Error::Io { path: path.into(), action, source }
    }

    pub fn exit_code(&self) -> u8 {
        match self {
            Error::Apply { .. }
            | Error::StaleOut { .. }
            | Error::Unreviewed { .. }
            | Error::Git { .. }
            | Error::HostKey { .. }
            | Error::Unreachable { .. }
            | Error::Login { .. }
            | Error::ServerLacks { .. }
            | Error::Remote { .. }
            | Error::Corrupt { .. }
            | Error::Step { .. }
            | Error::Sudo { .. }
            | Error::Refused { .. }
            | Error::Legacy { .. }
            | Error::NoPrevious { .. }
            | Error::Io { .. }
            | Error::PartialBuild { .. } => exit::DIFFERS,
            _ => exit::INVALID,
        }
    }
}

/// How bad a message is: the one place its label (`error:`, `warning:`) is written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Severity {
    Error,
    Warning,
}

impl Severity {
    /// The label that opens a message of this severity.
    pub const fn label(self) -> &'static str {
        match self {
            Severity::Error => "error:",
            Severity::Warning => "warning:",
        }
    }
}

impl fmt::Display for Severity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.label())
    }
}

/// An `Error` shown with the label of a severity, or with none (`Error::headline`).
#[derive(Debug, Clone, Copy)]
pub struct Labelled<'e> {
    error: &'e Error,
    severity: Option<Severity>,
}

impl fmt::Display for Labelled<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let severity = self.severity.unwrap_or(Severity::Error);
        if self.error.is_one_message() {
            if let Some(severity) = self.severity {
                write!(f, "{severity} ")?;
            }
        }
        self.error.message(f, severity)
    }
}

impl Error {
    /// This error as a warning: for a failure that does not fail the command (pruning old
    /// generations after an apply went through).
    pub fn as_warning(&self) -> Labelled<'_> {
        Labelled { error: self, severity: Some(Severity::Warning) }
    }

    /// The message without its label: what `--json` gives as a server's `error`.
    pub fn unlabelled(&self) -> String {
        Labelled { error: self, severity: None }.to_string()
    }

    /// The first line of the message, without its label: what `gen status` shows in a row.
    pub fn headline(&self) -> String {
        self.unlabelled().lines().next().unwrap_or_default().to_string()
    }

    /// Whether the message is one labelled message; the others label each message they hold.
    fn is_one_message(&self) -> bool {
        !matches!(
            self,
            Error::InvalidSite { .. }
                | Error::PartialBuild { .. }
                | Error::UnsafeChange { .. }
                | Error::InitValues { .. }
        )
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        Labelled { error: self, severity: Some(Severity::Error) }.fmt(f)
    }
}

impl std::error::Error for Error {}

pub type Result<T, E = Error> = std::result::Result<T, E>;
