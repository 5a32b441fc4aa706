//! `gen apply`, `gen status` and `gen rollback`: putting a host's reviewed subtree on the host
//! and bringing its VMs to what it describes, seeing what each host runs, and going back one
//! generation.
//!
//! On the server, under the host's `root`, each tree lives in `generations/<host-hash>/`, filled
//! in a staging folder and renamed into place once it hashes to its name; `current` points at
//! one of them and is switched with one rename. Each VM has its own Vagrant environment
//! (`layout.rs`). A control session (`session.rs`) per server holds the server's lock from the
//! first step to the last, so two applies to one server run one after the other, and a dead gen
//! releases it by dying.
//!
//! An apply reads every server it changes in one call (`state`: generations, VMs, their facts,
//! which units run), computes one plan of typed steps over all of them (`plan.rs`), and runs
//! it step by step; `--dry-run` prints that same plan. The plan orders steps across servers
//! (destroys before creates, control planes one at a time), so the executor runs them in plan
//! order; sending files to several servers happens in parallel first.

mod board;
mod execute;
mod fanout;
pub mod json;
pub mod plan;
mod preview;
mod rollback;
mod server;
mod session;
mod status;
mod survey;

use std::fmt::Write as _;
use std::path::Path;

use crate::diff;
use crate::error::{Error, Result};
use crate::site::{Host, Site};
use crate::tree::Tree;
use crate::verbosity;

use execute::{Output, check_sudo, execute, prune};
use fanout::{collect, each, finish, select};
use plan::{Action, Plan, Server, Step};
use preview::{Preview, dry_run_json, preview, send_text};
pub use rollback::rollback;
use server::State;
use session::{Link, Session};
pub use status::status;
use survey::{
    listing, needs_the_others, open_remote, plan_servers, read_state, seen_of, unit_prefix,
    wanted_of,
};

pub use session::CONFIG_VARIABLE;

/// Generations kept on a server unless `--keep` says otherwise.
pub const DEFAULT_KEEP: usize = 5;
/// Servers worked on at once by `--all` unless `--jobs` says otherwise.
pub const DEFAULT_JOBS: usize = 8;
/// What the server must have for each command; `hello` names what is missing.
const READ_TOOLS: &[&str] = &["readlink", "flock", "ls", "sed", "sha256sum"];
const WRITE_TOOLS: &[&str] =
    &["readlink", "flock", "ls", "sed", "find", "sha256sum", "mv", "ln", "touch", "rsync", "awk"];

/// What every command works from: the validated site, its fresh build and the `out/` on disk.
pub struct Context<'a> {
    pub site: &'a Site,
    pub tree: &'a Tree,
    pub out: &'a Path,
    /// The commit at HEAD when `out/` is exactly that commit (`review.rs`); `None` outside git
    /// or when `--allow-dirty` sent a tree that differs from it.
    pub commit: Option<String>,
}

pub struct Options {
    pub dry_run: bool,
    /// With `dry_run`: print the plan as JSON (`json.rs`).
    pub json: bool,
    /// Generations kept on each server (the current and previous ones always are).
    pub keep: usize,
    /// Servers worked on at once.
    pub jobs: usize,
}

/// One server an apply talks to: its session and what it reported.
struct Remote<'l> {
    session: Session<'l>,
    state: State,
}

/// `gen apply HOST` (`host` given) or `gen apply --all`.
pub fn apply(ctx: &Context, host: Option<&str>, options: &Options) -> Result<u8> {
    let targets = select(ctx.site, host)?;
    let changes = diff::compare(ctx.out, ctx.tree)?;
    if !changes.is_empty() {
        return Err(Error::StaleOut { out: ctx.out.to_path_buf(), differences: changes.len() });
    }
    let all: Vec<&Host> = ctx.site.hosts.iter().collect();
    let links: Vec<Link> = all.iter().map(|h| Link::new(h)).collect::<Result<_>>()?;
    let is_target = |h: &Host| targets.iter().any(|t| t.name == h.name);
    // One named server shows each step's output as it comes; `--all` gives one line a step.
    let one = host.is_some();

    // Read every server this apply changes (each in one call), in parallel.
    let opened = each(&links, options.jobs, |link| {
        if !is_target(link.host) {
            return None;
        }
        Some(open_remote(link, !options.dry_run, &ctx.site.cluster))
    });
    let mut remotes: Vec<Option<Remote>> = Vec::new();
    let mut failures: Vec<(usize, Error)> = Vec::new();
    for (i, opened) in opened.into_iter().enumerate() {
        match opened {
            Some(Ok(remote)) => remotes.push(Some(remote)),
            Some(Err(e)) => {
                failures.push((i, e));
                remotes.push(None);
            }
            None => remotes.push(None),
        }
    }
    let mut servers = plan_servers(ctx, &all, &remotes, &is_target)?;
    let mut planned = plan::plan(&servers);
    // A single-server apply that brings an address up or takes a control plane down must know
    // what the other servers run: it asks them too (read-only), and plans again.
    if one && failures.is_empty() && needs_the_others(&servers, &planned) {
        let others = each(&links, options.jobs, |link| {
            if is_target(link.host) {
                return None;
            }
            Some(open_remote(link, false, &ctx.site.cluster))
        });
        for (i, other) in others.into_iter().enumerate() {
            if let Some(Ok(remote)) = other {
                servers[i].seen = Some(seen_of(&remote.state, all[i])?);
                remote.session.close();
            }
        }
        planned = plan::plan(&servers);
    }
    let plan = planned.map_err(|r| Error::Refused { reason: r.reason, fix: r.fix })?;

    let mut results: Vec<Option<Result<String>>> = all.iter().map(|_| None).collect();
    for (i, e) in failures {
        results[i] = Some(Err(e));
    }
    if options.dry_run {
        let mut text = String::new();
        let mut previews: Vec<Option<Preview>> = all.iter().map(|_| None).collect();
        for (i, remote) in remotes.iter_mut().enumerate() {
            let Some(remote) = remote else { continue };
            match preview(ctx, all[i], remote) {
                Ok(preview) => {
                    text += &preview.text(all[i].name.as_str(), &servers[i].wanted.hash);
                    previews[i] = Some(preview);
                    // The apply would stop here: the dry run says so, with the line to add.
                    results[i] =
                        Some(check_sudo(ctx, all[i], remote, plan.on(i)).map(|()| String::new()));
                }
                Err(e) => results[i] = Some(Err(e)),
            }
        }
        if options.json {
            let report = dry_run_json(&all, &servers, &plan, &previews, &results, &is_target);
            verbosity::answer(&json::text(&report));
        } else {
            text += &plan.describe(&servers, &|i| send_text(remotes[i].as_ref(), ctx, all[i]));
            for note in &plan.notes {
                verbosity::note(&format!("note: {note}\n"));
            }
            verbosity::answer(&text);
        }
        for remote in remotes.into_iter().flatten() {
            remote.session.close();
        }
        let next = kubespray_next(ctx, &servers, &plan, "would then need");
        if options.json {
            // stdout holds only the JSON document.
            verbosity::note(&next);
        } else {
            say(&next);
        }
        let results = collect(&all, &targets, results);
        let summary = (!one && !options.json).then_some("previewed");
        return Ok(finish(&targets, results, summary));
    }

    for (i, remote) in remotes.iter_mut().enumerate() {
        let Some(remote) = remote else { continue };
        check_sudo(ctx, all[i], remote, plan.on(i))?;
    }
    execute(ctx, &all, &links, &mut remotes, &servers, &plan, one, &mut results);
    for (i, remote) in remotes.into_iter().enumerate() {
        let Some(mut remote) = remote else { continue };
        if let Some(Ok(summary)) = &mut results[i] {
            match prune(&mut remote, all[i], options.keep, &ctx.site.cluster) {
                Ok(0) => {}
                Ok(n) => {
                    let _ = write!(summary, "; removed {n} old generation{}", plural(n));
                }
                Err(e) => {
                    // A warning, which `-q` does not hide: the apply itself succeeded.
                    eprintln!("{}", e.as_warning());
                }
            }
            say(&format!("{}: {summary}\n", all[i].name));
        }
        remote.session.close();
    }
    if results.iter().all(|r| matches!(r, None | Some(Ok(_)))) {
        say(&kubespray_next(ctx, &servers, &plan, "now needs"));
    }
    let results = collect(&all, &targets, results);
    Ok(finish(&targets, results, (!one).then_some("applied")))
}

/// kubespray's next commands for what `plan` creates and destroys (`change::after_apply`), as a
/// paragraph for the end of an apply; empty when the plan makes no VM new and drops no control
/// plane.
fn kubespray_next(ctx: &Context, servers: &[Server], plan: &Plan, needs: &str) -> String {
    let in_site = |node: &str| ctx.site.nodes.iter().find(|n| n.name.as_str() == node);
    let mut created: Vec<(String, bool)> = Vec::new();
    let mut dropped: Vec<String> = Vec::new();
    for p in &plan.steps {
        let Step::Vm { node, action, .. } = &p.step else { continue };
        let server = &servers[p.server];
        match action {
            // A node on its way out (`remove = true`) is not set up again.
            Action::Create if in_site(node).is_some_and(|n| !n.remove) => {
                let cp =
                    server.wanted.machines.get(node).is_some_and(plan::Facts::is_control_plane);
                if !created.iter().any(|(n, _)| n == node) {
                    created.push((node.clone(), cp));
                }
            }
            Action::Destroy if in_site(node).is_none() => {
                let was_cp = server
                    .seen
                    .as_ref()
                    .and_then(|seen| seen.vms.get(node))
                    .and_then(|vm| vm.facts.as_ref())
                    .is_some_and(plan::Facts::is_control_plane);
                if was_cp {
                    dropped.push(node.clone());
                }
            }
            _ => {}
        }
    }
    let members = ctx.site.nodes.iter().filter(|n| n.role == crate::site::Role::ControlPlane);
    let ran_a_control_plane = servers.iter().filter_map(|s| s.seen.as_ref()).any(|seen| {
        seen.vms.values().any(|vm| vm.facts.as_ref().is_some_and(plan::Facts::is_control_plane))
    });
    let steps =
        crate::change::after_apply(&created, &dropped, members.count(), !ran_a_control_plane);
    if steps.is_empty() {
        return String::new();
    }
    let out = ctx.out.display().to_string();
    format!(
        "kubespray {needs}, from this machine, in order:\n{}",
        crate::change::commands(&steps, &out)
    )
}

fn plural(n: usize) -> &'static str {
    if n == 1 { "" } else { "s" }
}

/// Said as soon as another session holds the server's lock: an apply can wait minutes for one
/// that is booting VMs.
fn waiting(name: &str) {
    say(&format!("{name}: waiting for the apply already running there\n"));
}

/// Progress: what an apply does as it does it (`verbosity.rs`; `-q` hides it).
fn say(text: &str) {
    verbosity::progress(text);
}
