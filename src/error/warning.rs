//! Warnings: what is worth knowing but does not stop the command, and the one place one is
//! printed.

use std::fmt;
use std::path::PathBuf;

use super::Severity;
use crate::wording::Count;

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
    /// `gen init --keyscan`: a server answered with no host key gen reads.
    NoHostKey { server: String, address: String, port: u16 },
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
            Warning::NoHostKey { server, address, port } => write!(
                f,
                "`{server}` ({address} port {port}) gave no host key; `host_key` is left to fill in"
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
