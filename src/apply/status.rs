//! `gen status`: what each server runs against `out/`, one row a server, or JSON.

use crate::diff;
use crate::error::{Error, Result, exit};
use crate::site::Host;
use crate::verbosity;
use std::fmt::Write as _;

use super::json;
use super::server::{State, short};
use super::session::{Call, Link};
use super::{Context, DEFAULT_JOBS, each, open_remote, select, wanted_of};

/// Where a server stands, as `gen status` reports it; the exit status follows from it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Standing {
    NeverApplied,
    Behind { runs: String, rolled_back: bool },
    Unfinished { current: String },
    UpToDate { current: String },
    Unreachable(String),
    WrongHostKey,
    LoginRefused(String),
    Failed(String),
}

impl Standing {
    fn word(&self) -> &'static str {
        match self {
            Standing::NeverApplied => "never applied",
            Standing::Behind { .. } => "behind",
            Standing::Unfinished { .. } => "unfinished",
            Standing::UpToDate { .. } => "up to date",
            Standing::Unreachable(_) => "unreachable",
            Standing::WrongHostKey => "wrong host key",
            Standing::LoginRefused(_) => "login refused",
            Standing::Failed(_) => "failed",
        }
    }

    fn is_current(&self) -> bool {
        matches!(self, Standing::UpToDate { .. })
    }
}

/// `gen status [HOST]` (as JSON with `json`, `json.rs`): exit 0 when every server runs what
/// `out/` holds, else 1.
pub fn status(ctx: &Context, host: Option<&str>, json: bool) -> Result<u8> {
    let hosts = select(ctx.site, host)?;
    let stale = !diff::compare(ctx.out, ctx.tree)?.is_empty();
    let width = hosts.iter().map(|h| h.name.as_str().len()).max().unwrap_or(0);
    let results = each(&hosts, DEFAULT_JOBS, |host| standing(ctx, host));
    let mut text = String::new();
    if stale {
        verbosity::note(
            "note: out/ is not what the site file gives (`gen check`); compared with a fresh \
             build\n",
        );
    }
    let mut all_current = true;
    let mut servers = Vec::new();
    for (host, result) in hosts.iter().zip(results) {
        let (standing, detail, seen) = match result {
            Ok((standing, detail, seen)) => (standing, detail, Some(seen)),
            Err(e) => {
                let (standing, detail) = brief(&e);
                (standing, detail, None)
            }
        };
        all_current &= standing.is_current();
        let _ = writeln!(text, "{:<width$}  {:<14} {detail}", host.name.as_str(), standing.word());
        if json {
            servers.push(status_json(ctx, host, &standing, detail, seen.as_ref())?);
        }
    }
    if json {
        let report = json::Status { format: json::FORMAT, stale, servers };
        verbosity::answer(&json::text(&report));
    } else {
        verbosity::answer(&text);
    }
    Ok(if all_current { exit::OK } else { exit::DIFFERS })
}

/// What `gen status` read from a server it reached: its state, and whether it was busy.
pub(super) struct Reached {
    state: State,
    busy: bool,
}

/// One server of `gen status --json`: its standing and every VM it has or `out/` gives it.
pub(super) fn status_json(
    ctx: &Context,
    host: &Host,
    standing: &Standing,
    detail: String,
    reached: Option<&Reached>,
) -> Result<json::ServerStatus> {
    let wanted = wanted_of(ctx.site, ctx.tree, host)?;
    // A state whose machines.toml does not read shows its VMs without their facts.
    let seen = reached.and_then(|r| r.state.seen().ok());
    let mut names: Vec<&String> = wanted.machines.keys().collect();
    if let Some(reached) = reached {
        names.extend(reached.state.vms.keys());
    }
    names.sort();
    names.dedup();
    let vms = names
        .into_iter()
        .map(|name| {
            let on_server = seen.as_ref().and_then(|s| s.vms.get(name));
            let facts = on_server.and_then(|vm| vm.facts.as_ref()).or(wanted.machines.get(name));
            let state = match on_server {
                None => "absent",
                Some(vm) if vm.pending => "interrupted",
                Some(vm) if vm.active => "running",
                Some(_) => "stopped",
            };
            json::VmStatus {
                name: name.clone(),
                role: facts.map(|f| f.role.clone()),
                ip: facts.map(|f| f.ip.clone()),
                state,
                wanted: wanted.machines.contains_key(name),
            }
        })
        .collect();
    Ok(json::ServerStatus {
        name: host.name.to_string(),
        address: host.address.to_string(),
        standing: standing.word().replace(' ', "-"),
        detail,
        current: reached.and_then(|r| r.state.current.clone()),
        wanted: wanted.hash,
        commit: reached.and_then(|r| r.state.commit.clone()),
        busy: reached.is_some_and(|r| r.busy),
        vms,
    })
}

/// `gen status` for one server: where it stands, the detail, and what it reported.
pub(super) fn standing(ctx: &Context, host: &Host) -> Result<(Standing, String, Reached)> {
    let name = host.name.as_str();
    let wanted = ctx.tree.host_hash(name);
    let link = Link::new(host)?;
    let mut remote = open_remote(&link, false, &ctx.site.cluster)?;
    let busy = !remote.session.must(&Call::Busy)?.is_empty();
    remote.session.close();
    let state = &remote.state;
    let note = if busy { " (an apply is running now)" } else { "" };
    let commit = state.commit.as_ref().map(|c| format!(" from commit {c}")).unwrap_or_default();
    let apply = format!("run `gen apply {name}`");
    let down: Vec<&String> = state.vms.keys().filter(|n| !state.active.contains(n)).collect();
    let down = if down.is_empty() {
        String::new()
    } else {
        format!("; not running: {}", down.iter().map(|n| n.as_str()).collect::<Vec<_>>().join(", "))
    };
    let (standing, detail) = match &state.current {
        None => (Standing::NeverApplied, format!("out/ has {}: {apply}{note}", short(&wanted))),
        Some(c) if *c != wanted => {
            let rolled_back = state.previous.as_ref() == Some(&wanted);
            let rolled = if rolled_back { ", rolled back" } else { "" };
            (
                Standing::Behind { runs: c.clone(), rolled_back },
                format!(
                    "runs {}{commit}{rolled}, out/ has {}: {apply}{note}",
                    short(c),
                    short(&wanted)
                ),
            )
        }
        Some(c) if state.applying || state.applied.as_ref() != Some(c) => (
            Standing::Unfinished { current: c.clone() },
            format!("{} is current but its apply did not finish: {apply}{note}", short(c)),
        ),
        Some(c) => {
            (Standing::UpToDate { current: c.clone() }, format!("{}{commit}{down}{note}", short(c)))
        }
    };
    Ok((standing, detail, Reached { state: remote.state, busy }))
}

/// A failure in `gen status`'s words: what the server is, as far as gen can tell.
pub(super) fn brief(e: &Error) -> (Standing, String) {
    match e {
        Error::Unreachable { detail, .. } => {
            (Standing::Unreachable(detail.clone()), detail.clone())
        }
        Error::HostKey { .. } => {
            (Standing::WrongHostKey, "its ssh host key is not the one in site.toml".to_string())
        }
        Error::Login { detail, .. } => (Standing::LoginRefused(detail.clone()), detail.clone()),
        other => {
            let first = other.headline();
            (Standing::Failed(first.clone()), first)
        }
    }
}
