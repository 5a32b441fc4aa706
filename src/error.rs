//! The one error type, and every message gen prints about a failure.
//!
//! Messages are written here and nowhere else, in the user's words, each with the fix. A bad
//! `site.toml` is not one error but a list of `Diagnostic`s, all reported at once, each naming
//! the file, line, column and dotted key it is about.

use std::fmt;
use std::path::PathBuf;

pub use crate::parse::Diagnostic;
use crate::problem::Problem;
use crate::snippet;
use crate::wording::{Count, List};

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
    UnsafeChange { refusals: Vec<crate::change::Refusal> },
    /// `gen apply` was asked to send an `out/` that differs from the commit at HEAD.
    Unreviewed { out: PathBuf, commit: Option<String>, changes: Vec<crate::review::Change> },
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
    /// An inventory `gen import` cannot read.
    Inventory { path: PathBuf, line: usize, reason: String },
}

/// Something worth knowing that does not stop the command; printed on stderr by `warn`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Warning {
    /// One server holds a majority of the etcd members.
    EtcdMajority(crate::change::EtcdMajority),
    /// A refusal the user overrode with its flag.
    Allowed(crate::change::Refusal),
    /// `gen apply` cannot ask git whether `out/` was committed.
    NotGit { out: PathBuf, why: &'static str },
    /// `gen apply --allow-dirty` sends a tree that differs from HEAD.
    Dirty { out: PathBuf, changes: usize },
}

impl fmt::Display for Warning {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Warning::EtcdMajority(m) => {
                write!(
                    f,
                    "`{}` holds {} of the {} etcd members (control planes); if that server is \
                     down, etcd loses quorum and the cluster's API stops until it is back",
                    m.host, m.held, m.total
                )?;
                if m.servers >= 3 {
                    write!(f, "\n  fix: move a control plane from `{}` to another server", m.host)
                } else {
                    write!(
                        f,
                        "\n  fix: on two servers one always holds a majority; a third server \
                         with one control plane keeps quorum when any one is down"
                    )
                }
            }
            Warning::NotGit { out, why } => write!(
                f,
                "`{}` is not checked against a commit: {why}; gen applies it as it is on disk",
                out.display()
            ),
            Warning::Dirty { out, changes } => write!(
                f,
                "`{}` differs from the commit at HEAD in {}; sent unreviewed, as \
                 `--allow-dirty` asks",
                out.display(),
                Count::new(*changes, "file")
            ),
            Warning::Allowed(r) => write!(
                f,
                "{r}\n  allowed by `{}`: gen writes the change as asked",
                r.flag().unwrap_or_default()
            ),
        }
    }
}

/// The one place a warning is written: on stderr, with its prefix.
pub fn warn(warning: &Warning) {
    eprintln!("{} {warning}", Severity::Warning);
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

    /// The first line of the message, without its label: what `gen status` shows in a row.
    pub fn headline(&self) -> String {
        let text = Labelled { error: self, severity: None }.to_string();
        text.lines().next().unwrap_or_default().to_string()
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

    /// The text of the error. A one-message error is written without its label, which
    /// `Labelled` adds; the others write `severity`'s label on each message they hold.
    fn message(&self, f: &mut fmt::Formatter<'_>, severity: Severity) -> fmt::Result {
        match self {
            Error::InvalidSite { file, diagnostics } => {
                // annotate-snippets labels each diagnostic (always as an error).
                f.write_str(&snippet::render(file, diagnostics, f.alternate()))?;
                let n = diagnostics.len();
                write!(f, "\n\n{} in {file}; nothing was written", Count::new(n, "error"))
            }
            Error::Io { path, action, source } => {
                write!(f, "could not {action} `{}`: {source}", path.display())
            }
            Error::SiteFile { path, problem } => {
                let path = path.display();
                match problem {
                    SiteFileProblem::Missing => write!(
                        f,
                        "there is no site file `{path}`\n  fix: run gen in the folder \
                         that holds site.toml, or name it with `--site PATH`"
                    ),
                    SiteFileProblem::NotAFile(what) => write!(
                        f,
                        "the site file `{path}` is {what}, not a regular file\n  fix: \
                         name a site.toml with `--site PATH`"
                    ),
                    SiteFileProblem::TooLarge(limit) => write!(
                        f,
                        "the site file `{path}` is larger than {} MiB, gen's limit (a \
                         lab of 10,000 VMs takes about 1 MiB)\n  fix: name a site.toml with \
                         `--site PATH`",
                        limit >> 20
                    ),
                }
            }
            Error::PartialBuild { out, cause, written, removed } => {
                let out = out.display();
                writeln!(f, "{}", Labelled { error: cause, severity: Some(severity) })?;
                write!(
                    f,
                    "  `gen build` stopped after it had written {} and deleted {} in `{out}`, \
                     so `{out}` now mixes the previous build and this one; its manifest lists \
                     every file gen made there, so the next build can finish the job:",
                    Count::new(written.len(), "file"),
                    removed.len(),
                )?;
                let lines = written.iter().map(|p| ("wrote", p));
                let lines = lines.chain(removed.iter().map(|p| ("deleted", p)));
                for (verb, path) in lines.clone().take(PARTIAL_SHOWN) {
                    write!(f, "\n    {verb:<8} {out}/{path}")?;
                }
                let more = lines.count().saturating_sub(PARTIAL_SHOWN);
                if more > 0 {
                    write!(f, "\n    and {more} more")?;
                }
                write!(
                    f,
                    "\n  fix: remove the cause, then run `gen build` again: it rewrites what \
                     differs and prunes what is gone; `gen check` then exits 0"
                )
            }
            Error::OutContainsSite { out, site } => write!(
                f,
                "`--out {}` contains the site file `{}`; gen prunes its output folder, so \
                 it must not hold its own input\n  fix: use a folder beside the site file, e.g. \
                 the default `out`",
                out.display(),
                site.display()
            ),
            Error::NotOurs { path, what } => write!(
                f,
                "`{}` is {what}; gen never writes through or replaces what it did not \
                 make\n  fix: move it out of the output folder, then run `gen build` again",
                path.display()
            ),
            Error::BadManifest { path, reason } => write!(
                f,
                "`{}` is not a manifest gen wrote ({reason})\n  fix: if the output folder \
                 is gen's, delete the manifest and every file it listed, then run `gen build`",
                path.display()
            ),
            Error::UnknownHost { name, known } => {
                // Worded once, in problem.rs, for a command-line host and a node's `host` alike.
                let problem = Problem::UnknownHost { name: name.clone(), known: known.clone() };
                write!(f, "{problem}")?;
                if let Some(fix) = problem.fix() {
                    write!(f, "\n  fix: {fix}")?;
                }
                Ok(())
            }
            Error::Apply { host, reason } => write!(f, "apply to `{host}` failed: {reason}"),
            Error::StaleOut { out, differences } => write!(
                f,
                "`{}` is not what the site file gives ({}); gen applies only a tree that `gen \
                 check` accepts, so that a server runs what was reviewed\n  fix: run `gen \
                 check` to see them, then `gen build`, review `git diff`, commit, and apply again",
                out.display(),
                Count::new(*differences, "difference")
            ),
            Error::MissingTool { tool } => write!(
                f,
                "`{tool}` is not installed here; gen apply uses the system's ssh and \
                 rsync\n  fix: install them (Debian and Ubuntu: `apt install openssh-client \
                 rsync`)"
            ),
            Error::SshPath { path, what } => write!(
                f,
                "{what} `{}` has a space, a quote or another character that cannot be \
                 passed to ssh as one word\n  fix: use a path of letters, digits and `/._-` \
                 (for the temporary folder: set TMPDIR to one)",
                path.display()
            ),
            Error::HostKey { host, address, port } => write!(
                f,
                "`{host}` ({address} port {port}) did not present the host key in \
                 site.toml; gen refused the connection and sent nothing\n  fix: if the server \
                 was reinstalled or its keys changed, read its key on the server itself (`cat \
                 /etc/ssh/ssh_host_ed25519_key.pub`), check that `ssh-keyscan -p {port} \
                 {address}` shows the same, and put `TYPE BASE64` into `host_key` of \
                 [hosts.{host}]; otherwise someone may be between you and the server"
            ),
            Error::Unreachable { host, user, address, port, detail } => write!(
                f,
                "cannot reach `{host}` over ssh: {detail}\n  fix: check that the server \
                 is up and that `ssh -p {port} {user}@{address}` works from here"
            ),
            Error::Login { host, user, address, port, detail } => write!(
                f,
                "`{host}` refused the ssh login of `{user}`: {detail}\n  fix: gen logs \
                 in as `ssh -p {port} {user}@{address}` does: load your key into the agent \
                 (`ssh-add`) or name it in ~/.ssh/config (`IdentityFile`), and put its public \
                 half in ~{user}/.ssh/authorized_keys on the server"
            ),
            Error::ServerLacks { host, tools } => write!(
                f,
                "`{host}` lacks {}, which gen runs there\n  fix: install them on the \
                 server (Ubuntu: `apt install coreutils util-linux rsync`)",
                List::and_ticked(tools)
            ),
            Error::Remote { host, step, output } => {
                write!(f, "on `{host}`, {step} failed")?;
                if !output.is_empty() {
                    write!(f, ":")?;
                    for line in output.lines() {
                        write!(f, "\n  {line}")?;
                    }
                }
                write!(
                    f,
                    "\n  fix: correct the cause and run the command again; an apply cut short \
                     leaves the previous generation current, and the next one completes it"
                )
            }
            Error::Corrupt { host, expected, actual } => write!(
                f,
                "on `{host}`, the files meant to be generation {expected} hash to \
                 {actual}; they were not made current\n  fix: check that nothing changes \
                 `out/` during an apply (`gen check`), then apply again: gen sends the files anew"
            ),
            Error::Step { host, step, output } => write!(
                f,
                "on `{host}`, the step `{step}` failed\n{output}  the steps before it \
                 ran; the apply stops here\n  fix: correct the cause and run the same apply \
                 again: it plans afresh from what the server then runs"
            ),
            Error::Sudo { host, user, refused, said, line, file } => {
                write!(
                    f,
                    "on `{host}`, sudo does not let `{user}` run as root without a \
                     password what this apply runs there: {}",
                    List::comma_ticked(refused)
                )?;
                if let Some(said) = said {
                    write!(f, " (sudo says: {said})")?;
                }
                write!(
                    f,
                    "; nothing was sent or changed\n  fix: on {host}, add this line with `sudo \
                     visudo -f {file}` (it lets {user} install systemd units as root, which makes \
                     {user} root-equivalent on {host}; README, \"Server requirements\"):\n    \
                     {line}"
                )
            }
            Error::Refused { reason, fix } => {
                write!(f, "gen will not apply this: {reason}; nothing was changed\n  fix: {fix}")
            }
            Error::Legacy { host, root, groups, nodes } => write!(
                f,
                "`{host}` runs VMs of gen's first layout (one Vagrantfile per role group: \
                 {}); this gen keeps one Vagrant environment per VM and would orphan them, so \
                 nothing was changed\n  fix: on {host}, with the generation that made them \
                 still current, for each group G of {}: `sudo systemctl disable --now \
                 <cluster>-{host}-G.service; VAGRANT_CWD={root}/current/G \
                 VAGRANT_DOTFILE_PATH={root}/state/G vagrant destroy -f; rm -rf {root}/state/G`, \
                 then `gen apply {host}` creates them anew (README, \"Changing a running lab\")",
                List::comma(nodes),
                List::comma(groups)
            ),
            Error::UnsafeChange { refusals } => {
                for r in refusals {
                    writeln!(f, "{severity} {r}\n  fix: {}", r.fix())?;
                }
                write!(f, "nothing was written")
            }
            Error::Unreviewed { out, commit, changes } => {
                let n = changes.len();
                let head = match commit {
                    Some(c) => format!("the commit at HEAD ({})", &c[..c.len().min(12)]),
                    None => "any commit: the repository has none yet".to_string(),
                };
                writeln!(
                    f,
                    "`{}` differs from {head} in {}; gen applies only a tree that was \
                     committed, so that a server runs what was reviewed",
                    out.display(),
                    Count::new(n, "file")
                )?;
                for c in changes {
                    writeln!(f, "  {:<8} {}", c.kind.word(), c.path)?;
                }
                write!(
                    f,
                    "  fix: review `git diff out/` and `git status out/`, then `git add out/` and \
                     `git commit`; or pass `--allow-dirty` to send it unreviewed"
                )
            }
            Error::Git { out, command, detail } => write!(
                f,
                "`git {command}` failed in `{}`: {detail}\n  fix: make `git status` work \
                 there, or pass `--allow-dirty` to apply without asking git",
                out.display()
            ),
            Error::BadRecord { path, reason } => write!(
                f,
                "`{}` is not a record gen wrote ({reason}); gen reads it to judge what \
                 the new build changes for kubespray\n  fix: restore it from git (`git checkout \
                 -- {}`), or delete it if this tree was never deployed",
                path.display(),
                path.display()
            ),
            Error::WouldOverwrite { path } => write!(
                f,
                "`{}` exists; gen never replaces a file it did not make\n  fix: move it \
                 away, or pass `--force` to replace it",
                path.display()
            ),
            Error::InitArgument { argument, value, expected } => {
                write!(f, "`{argument} {value}`: expected {expected}\n  fix: see `gen init --help`")
            }
            Error::InitValues { diagnostics } => {
                for d in diagnostics {
                    writeln!(f, "{severity} site.toml:{d}")?;
                }
                write!(f, "these come from the values given to `gen init`; nothing was written")
            }
            Error::Inventory { path, line, reason } => write!(
                f,
                "{}:{line}: {reason}\n  fix: `gen import` reads kubespray inventories \
                 (`inventory.ini` or `hosts.yaml`); correct the line or import another file",
                path.display()
            ),
            Error::NoPrevious { host } => write!(
                f,
                "`{host}` has no previous generation to go back to\n  fix: `gen status \
                 {host}` shows what it runs; a rollback needs an earlier apply of another tree"
            ),
        }
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        Labelled { error: self, severity: Some(Severity::Error) }.fmt(f)
    }
}

impl std::error::Error for Error {}

/// How many files a `PartialBuild` error names one by one; it counts all of them.
const PARTIAL_SHOWN: usize = 20;

/// Printed (not an error) when another gen holds the lock on `out`.
pub fn waiting_for_lock(out: &std::path::Path) -> String {
    format!(
        "waiting: another gen is using `{}` (a build writing it, or a check, diff or apply \
         reading it); gen goes on once it is done",
        out.display()
    )
}

pub type Result<T, E = Error> = std::result::Result<T, E>;
