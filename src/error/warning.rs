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
    EtcdMajority(EtcdMajority),
    /// A refusal the user overrode with its flag (`change::Refusal` words it).
    Allowed { reason: String, flag: &'static str },
    /// `gen apply` cannot ask git whether `out/` was committed.
    NotGit { out: PathBuf, why: &'static str },
    /// `gen apply --allow-dirty` sends a tree that differs from HEAD.
    Dirty { out: PathBuf, changes: usize },
    /// `gen init --keyscan`: a server answered with no host key gen reads.
    NoHostKey { server: String, address: String, port: u16 },
}

/// A server that holds more than half of the etcd members (every control plane), as
/// `change::etcd_majority` finds it: losing it loses quorum, and with it the cluster's API.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EtcdMajority {
    pub host: String,
    pub held: usize,
    pub total: usize,
    /// Servers that run nodes.
    pub servers: usize,
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
            Warning::Allowed { reason, flag } => {
                write!(f, "{reason}\n  allowed by `{flag}`: gen writes the change as asked")
            }
        }
    }
}

/// The one place a warning is written: on stderr, with its prefix.
pub fn warn(warning: &Warning) {
    eprintln!("{} {warning}", Severity::Warning);
}
