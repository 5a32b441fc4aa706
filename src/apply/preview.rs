//! `gen apply --dry-run`: what each server would receive and run, as text or JSON, from the
//! same plan the apply runs.

use crate::error::Result;
use crate::site::Host;
use std::fmt::Write as _;

use super::plan::{Plan, Server, Step};
use super::server::{Listing, short};
use super::session::Call;
use super::{Context, Remote, listing};
use super::{json, server};

/// What a dry run reports of one server besides the plan: what is current there, whether an
/// apply runs there now, and the files that would change.
pub(super) struct Preview {
    current: Option<String>,
    busy: bool,
    files: Vec<(server::Edit, String)>,
}

pub(super) fn preview(ctx: &Context, host: &Host, remote: &mut Remote) -> Result<Preview> {
    let state = &remote.state;
    let busy = !remote.session.must(&Call::Busy)?.is_empty();
    let current = match &state.current {
        Some(c) if state.has(c) => listing(&mut remote.session, &format!("generations/{c}"))?,
        _ => Listing::default(),
    };
    let files = server::changes(&current, &Listing::of_host(ctx.tree, host.name.as_str()));
    Ok(Preview { current: state.current.clone(), busy, files })
}

impl Preview {
    /// `gen apply --dry-run`'s header for one server, and the files that would change.
    pub(super) fn text(&self, name: &str, wanted: &str) -> String {
        let mut text = match &self.current {
            Some(c) if c == wanted => format!("{name}: {} is current there", short(wanted)),
            Some(c) => format!("{name}: would replace {} with {}", short(c), short(wanted)),
            None => format!("{name}: would apply {} for the first time", short(wanted)),
        };
        text += "; dry run, nothing was changed\n";
        if self.busy {
            text += "  note    an apply is running there now\n";
        }
        for (change, path) in &self.files {
            let _ = writeln!(text, "  {:<7} {path}", change.word());
        }
        text
    }
}

/// `gen apply --dry-run --json`: the targets, each with its preview (or why there is none)
/// and its steps of the plan.
pub(super) fn dry_run_json(
    all: &[&Host],
    servers: &[Server],
    plan: &Plan,
    previews: &[Option<Preview>],
    results: &[Option<Result<String>>],
    is_target: &dyn Fn(&Host) -> bool,
) -> json::DryRun {
    let servers = all
        .iter()
        .enumerate()
        .filter(|(_, host)| is_target(host))
        .map(|(i, host)| {
            let preview = previews[i].as_ref();
            let steps = plan
                .steps
                .iter()
                .enumerate()
                .filter(|(_, p)| p.server == i && preview.is_some())
                .map(|(order, p)| {
                    let (node, why) = match &p.step {
                        Step::Vm { node, why, .. } => (Some(node.clone()), Some(why.clone())),
                        _ => (None, None),
                    };
                    json::PlanStep { order, step: p.step.word(), node, why }
                })
                .collect();
            json::ServerPlan {
                name: host.name.to_string(),
                current: preview.and_then(|p| p.current.clone()),
                wanted: servers[i].wanted.hash.clone(),
                busy: preview.is_some_and(|p| p.busy),
                error: match &results[i] {
                    Some(Err(e)) => Some(e.unlabelled()),
                    _ => None,
                },
                files: preview
                    .map(|p| &p.files[..])
                    .unwrap_or_default()
                    .iter()
                    .map(|(edit, path)| json::FileChange {
                        change: edit.word(),
                        path: path.clone(),
                    })
                    .collect(),
                steps,
                unchanged: plan
                    .unchanged
                    .iter()
                    .filter(|(server, _)| *server == i)
                    .map(|(_, node)| node.clone())
                    .collect(),
            }
        })
        .collect();
    json::DryRun { format: json::FORMAT, notes: plan.notes.clone(), servers }
}

/// What the dry run says a send does.
pub(super) fn send_text(remote: Option<&Remote>, ctx: &Context, host: &Host) -> String {
    let name = host.name.as_str();
    let local = Listing::of_host(ctx.tree, name);
    let Some(remote) = remote else { return String::new() };
    let state = &remote.state;
    let wanted = ctx.tree.host_hash(name);
    if state.has(&wanted) {
        return "nothing: the generation is already there (if intact)".to_string();
    }
    format!("{} files, unchanged ones linked from the current generation", local.len())
}
