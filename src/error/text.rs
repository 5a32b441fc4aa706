//! The text of every `Error`, in the user's words, each with its fix: the one place they are
//! written. The label (`error:`) is not written here but by `Labelled`.

use std::fmt;

use super::{Error, Labelled, Severity, SiteFileProblem};
use crate::escape::{self, Budget};
use crate::problem::Problem;
use crate::snippet;
use crate::wording::{Count, List};

impl Error {
    /// The text of the error. A one-message error is written without its label, which
    /// `Labelled` adds; the others write `severity`'s label on each message they hold.
    pub(super) fn message(&self, f: &mut fmt::Formatter<'_>, severity: Severity) -> fmt::Result {
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
                "`{}` is not a manifest gen wrote ({})\n  fix: if the output folder \
                 is gen's, delete the manifest and every file it listed, then run `gen build`",
                path.display(),
                escape::shown(reason, Budget::MESSAGE)
            ),
            Error::UnknownHost { name, known } => {
                // Worded once, in problem.rs, for a command-line host and a node's `host` alike.
                let problem = Problem::unknown_host(name, known.clone().into());
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
                    writeln!(f, "{severity} {}\n  fix: {}", r.reason, r.fix)?;
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
                "`{}` is not a record gen wrote ({}); gen reads it to judge what \
                 the new build changes for kubespray\n  fix: restore it from git (`git checkout \
                 -- {}`), or delete it if this tree was never deployed",
                path.display(),
                escape::shown(reason, Budget::MESSAGE),
                path.display()
            ),
            Error::WouldOverwrite { path } => write!(
                f,
                "`{}` exists; gen never replaces a file it did not make\n  fix: move it \
                 away, or pass `--force` to replace it",
                path.display()
            ),
            Error::InitArgument { argument, value, expected } => {
                let value = escape::value(value);
                write!(f, "`{argument} {value}`: expected {expected}\n  fix: see `gen init --help`")
            }
            Error::InitValues { diagnostics } => {
                for d in diagnostics {
                    writeln!(f, "{severity} site.toml:{d}")?;
                }
                write!(f, "these come from the values given to `gen init`; nothing was written")
            }
            Error::InitStopped { question } => write!(
                f,
                "the input ended at `{question}`; nothing was written\n  fix: run `gen init` \
                 again, or give the answers as flags (`gen init --help`)"
            ),
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
