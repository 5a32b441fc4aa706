//! What the servers run, read into the plan's terms: their state as the control session
//! reports it, what the site wants there, and whether a single-server apply must ask the others.

use crate::error::{Error, Result};
use crate::layout;
use crate::site::{Host, Label, Site};
use crate::tree::{Tree, sha256_hex};

use super::plan;
use super::plan::{Action, Plan, Server, Step, Wanted};
use super::server::{Listing, State};
use super::session::{Call, Link, Session};
use super::{Context, READ_TOOLS, Remote, WRITE_TOOLS, waiting};

/// Opens a session, takes the lock if `lock`, and reads the server's state.
pub(super) fn open_remote<'l>(
    link: &'l Link<'l>,
    lock: bool,
    cluster: &Label,
) -> Result<Remote<'l>> {
    let host = link.host;
    let name = host.name.as_str();
    let mut session = link.open(if lock { WRITE_TOOLS } else { READ_TOOLS })?;
    if lock {
        session.lock(&mut || waiting(name))?;
    }
    let state = read_state(&mut session, host, &unit_prefix(cluster))?;
    Ok(Remote { session, state })
}

/// `<cluster>-vm@`: the unit of VM NODE is this, NODE and `.service`.
pub(super) fn unit_prefix(cluster: &Label) -> String {
    layout::unit_template(cluster).trim_end_matches(".service").to_string()
}

/// The plan's view of every host: what each reports (targets) and what the tree gives it.
pub(super) fn plan_servers(
    ctx: &Context,
    all: &[&Host],
    remotes: &[Option<Remote>],
    is_target: &dyn Fn(&Host) -> bool,
) -> Result<Vec<Server>> {
    all.iter()
        .zip(remotes)
        .map(|(host, remote)| {
            let seen = match remote {
                Some(r) => Some(seen_of(&r.state, host)?),
                None => None,
            };
            Ok(Server {
                name: host.name.to_string(),
                seen,
                wanted: wanted_of(ctx.site, ctx.tree, host)?,
                applied: is_target(host),
            })
        })
        .collect()
}

/// What the tree gives a host.
pub(super) fn wanted_of(site: &Site, tree: &Tree, host: &Host) -> Result<Wanted> {
    let base = layout::host_dir(host.name.as_str());
    let machines = match tree.get(&format!("{base}/{}", layout::MACHINES)) {
        Some(file) => plan::parse_machines(&String::from_utf8_lossy(&file.bytes))
            .map_err(|reason| Error::Apply { host: host.name.to_string(), reason })?,
        None => plan::Machines::default(),
    };
    let unit = tree
        .get(&format!("{base}/{}", layout::unit_file(&site.cluster)))
        .map(|f| sha256_hex(&f.bytes));
    Ok(Wanted { hash: tree.host_hash(host.name.as_str()), machines, unit })
}

/// The plan's view of what a server reported; a server of gen's first layout is refused.
pub(super) fn seen_of(state: &State, host: &Host) -> Result<plan::Seen> {
    if !state.legacy.is_empty() {
        let mut groups: Vec<String> = state.legacy.iter().map(|(g, _)| g.clone()).collect();
        groups.dedup();
        return Err(Error::Legacy {
            host: host.name.to_string(),
            root: host.root.to_string(),
            groups,
            nodes: state.legacy.iter().map(|(g, n)| format!("{n} in {g}")).collect(),
        });
    }
    let mut seen = state.seen().map_err(|reason| Error::Remote {
        host: host.name.to_string(),
        step: "reading the VMs' facts",
        output: reason,
    })?;
    if state.applying || state.applied != state.current {
        // The last apply did not finish: `current` is not known to be applied.
        seen.current = None;
    }
    Ok(seen)
}

/// Whether a single-server plan needs to know what the other servers run: it brings up an
/// address, or takes a control plane down.
pub(super) fn needs_the_others(
    servers: &[Server],
    planned: &std::result::Result<Plan, plan::Refusal>,
) -> bool {
    let Ok(plan) = planned else { return true };
    plan.steps.iter().any(|p| match &p.step {
        Step::Vm { node, action, .. } => {
            let cp = servers[p.server]
                .wanted
                .machines
                .get(node)
                .is_some_and(plan::Facts::is_control_plane);
            matches!(action, Action::Create | Action::Launch | Action::Halt)
                || (cp && *action != Action::Provision)
        }
        _ => false,
    })
}

pub(super) fn read_state(session: &mut Session, host: &Host, prefix: &str) -> Result<State> {
    let lines = session.must(&Call::State(prefix))?;
    State::parse(&lines).map_err(|reason| Error::Remote {
        host: host.name.to_string(),
        step: "reading the generations",
        output: format!("{reason} (in {})", host.root),
    })
}

pub(super) fn listing(session: &mut Session, folder: &str) -> Result<Listing> {
    Ok(Listing::parse(&session.must(&Call::Listing(folder))?))
}
