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
pub mod json;
pub mod plan;
mod server;
mod session;

use std::fmt::Write as _;
use std::path::Path;
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};

use crate::diff;
use crate::error::{Error, Result, exit};
use crate::layout;
use crate::site::{Host, Label, Site};
use crate::tree::{Tree, sha256_hex};
use crate::verbosity;

use board::Board;
use plan::{Action, Plan, Server, Step, Wanted};
use server::{Listing, State, short};
use session::{Call, Link, Session};

pub use session::CONFIG_VARIABLE;

/// Generations kept on a server unless `--keep` says otherwise.
pub const DEFAULT_KEEP: usize = 5;
/// Servers worked on at once by `--all` unless `--jobs` says otherwise.
pub const DEFAULT_JOBS: usize = 8;
/// Lines of a step's output kept for the error when it fails under `--all`.
const OUTPUT_TAIL: usize = 20;

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
    let opened = each_link(&links, options.jobs, |link| {
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
        let others = each_link(&links, options.jobs, |link| {
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

/// The results of the target servers, in their order.
fn collect(
    all: &[&Host],
    targets: &[&Host],
    results: Vec<Option<Result<String>>>,
) -> Vec<Result<()>> {
    let mut by_name: Vec<(String, Option<Result<String>>)> =
        all.iter().map(|h| h.name.to_string()).zip(results).collect();
    targets
        .iter()
        .map(|t| {
            let slot =
                by_name.iter_mut().find(|(n, _)| n == t.name.as_str()).expect("a target is a host");
            match slot.1.take() {
                Some(Err(e)) => Err(e),
                _ => Ok(()),
            }
        })
        .collect()
}

/// Opens a session, takes the lock if `lock`, and reads the server's state.
fn open_remote<'l>(link: &'l Link<'l>, lock: bool, cluster: &Label) -> Result<Remote<'l>> {
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
fn unit_prefix(cluster: &Label) -> String {
    layout::unit_template(cluster).trim_end_matches(".service").to_string()
}

/// The plan's view of every host: what each reports (targets) and what the tree gives it.
fn plan_servers(
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
fn wanted_of(site: &Site, tree: &Tree, host: &Host) -> Result<Wanted> {
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
fn seen_of(state: &State, host: &Host) -> Result<plan::Seen> {
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
fn needs_the_others(
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
            matches!(action, Action::Create | Action::Halt) || (cp && *action != Action::Provision)
        }
        _ => false,
    })
}

/// Files sent of how many; `None` when the server had the generation already.
type Sent = Option<(usize, usize)>;

/// Runs the plan: sends first (in parallel), then every other step in plan order, each on its
/// server's session. A server whose step fails stops there, and so does the whole plan: a later
/// step may rely on it (a create on one server after a destroy on another). Fills `results`
/// with each target's summary or error.
#[allow(clippy::too_many_arguments)]
fn execute(
    ctx: &Context,
    all: &[&Host],
    links: &[Link],
    remotes: &mut [Option<Remote>],
    servers: &[Server],
    plan: &Plan,
    one: bool,
    results: &mut [Option<Result<String>>],
) {
    let sends: Vec<usize> =
        plan.steps.iter().filter(|p| p.step == Step::Send).map(|p| p.server).collect();
    let names: Vec<Option<&str>> =
        remotes.iter().zip(all).map(|(r, h)| r.as_ref().map(|_| h.name.as_str())).collect();
    let board = Board::new(&names, !one && names.iter().flatten().count() > 1);
    for &i in &sends {
        board.pending(i, &plan::step_line(&servers[i], &Step::Send, "sending"));
    }
    // The last step each server has, after which its live line says it is done.
    let mut last: Vec<Option<usize>> = vec![None; all.len()];
    for (n, p) in plan.steps.iter().enumerate() {
        last[p.server] = Some(n);
    }
    // Sends touch nothing a VM uses: they run side by side.
    let sent: Vec<(usize, Result<Sent>)> = std::thread::scope(|scope| {
        let handles: Vec<_> = remotes
            .iter_mut()
            .enumerate()
            .filter(|(i, r)| sends.contains(i) && r.is_some())
            .map(|(i, r)| {
                let remote = r.as_mut().expect("filtered");
                let link = &links[i];
                let host = all[i];
                scope.spawn(move || (i, send(ctx, link, host, remote)))
            })
            .collect();
        handles.into_iter().map(|h| h.join().expect("a send does not panic")).collect()
    });
    let mut sent_counts: Vec<Option<Option<(usize, usize)>>> = all.iter().map(|_| None).collect();
    let mut failed = false;
    for (i, result) in sent {
        match result {
            Ok(count) => {
                let text = match count {
                    Some((n, of)) => format!("sent {n} of {of} files"),
                    None => "already on the server, sent nothing".to_string(),
                };
                board.step(i, &plan::step_line(&servers[i], &Step::Send, &text));
                sent_counts[i] = Some(count);
            }
            Err(e) => {
                results[i] = Some(Err(e));
                failed = true;
            }
        }
    }
    let mut begun = vec![false; all.len()];
    let mut changed = vec![0usize; all.len()];
    if !failed {
        for (n, p) in plan.steps.iter().enumerate() {
            let i = p.server;
            if last[i] == Some(n) && p.step == Step::Send {
                board.done(i, &format!("{}: done", all[i].name));
            }
            if p.step == Step::Send {
                continue;
            }
            let Some(remote) = remotes[i].as_mut() else { continue };
            let host = all[i];
            let wanted = &servers[i].wanted.hash;
            board.step(i, &plan::step_line(&servers[i], &p.step, ""));
            let mut output = Output::new(one.then(|| "    ".to_string()));
            let done = (|| -> Result<()> {
                if !begun[i] && p.step != Step::Finish {
                    remote.session.must(&Call::Begin)?;
                    begun[i] = true;
                }
                match &p.step {
                    Step::Send => unreachable!("sent above"),
                    Step::Switch => {
                        remote.session.must(&Call::Switch(wanted))?;
                    }
                    Step::Finish => {
                        remote
                            .session
                            .must(&Call::Finish { hash: wanted, commit: ctx.commit.as_deref() })?;
                    }
                    Step::InstallUnit
                    | Step::RetireUnit
                    | Step::FetchBox { .. }
                    | Step::Keeper
                    | Step::Vm { .. } => {
                        let (step, node) = p.step.entrypoint().expect("run by apply.sh");
                        let call = Call::Step { hash: wanted, step, node };
                        let reply = remote.session.call(&call, &mut |line| output.line(line))?;
                        if reply.status != 0 {
                            return Err(Error::Step {
                                host: host.name.to_string(),
                                step: plan::step_line(&servers[i], &p.step, ""),
                                output: output.tail(),
                            });
                        }
                        changed[i] += 1;
                    }
                }
                Ok(())
            })();
            if let Err(e) = done {
                board.done(i, &format!("{}: failed", host.name));
                results[i] = Some(Err(e));
                failed = true;
                break;
            }
            if last[i] == Some(n) {
                board.done(i, &format!("{}: done", host.name));
            }
        }
    }
    board.clear();
    for (i, remote) in remotes.iter().enumerate() {
        let Some(remote) = remote else { continue };
        if results[i].is_some() {
            continue;
        }
        if failed {
            results[i] = Some(Err(Error::Apply {
                host: all[i].name.to_string(),
                reason: "the apply stopped at a failure on another server before it was done \
                         here; run it again"
                    .to_string(),
            }));
            continue;
        }
        let wanted = &servers[i].wanted.hash;
        let state = &remote.state;
        let summary = if plan.on(i).next().is_none() {
            format!("up to date at {}; sent nothing, changed no VM", short(wanted))
        } else {
            let was = match &state.current {
                Some(was) if was == wanted => "its last apply had not finished".to_string(),
                Some(was) => format!("was {}", short(was)),
                None => "first apply".to_string(),
            };
            let sent = match sent_counts[i] {
                Some(Some((n, of))) => format!("sent {n} of {of} files"),
                _ => "already on the server, sent nothing".to_string(),
            };
            let vms = plan.on(i).filter(|s| matches!(s, Step::Vm { .. })).count();
            format!("applied {} ({was}); {sent}; {vms} VM step{}", short(wanted), plural(vms))
        };
        results[i] = Some(Ok(summary));
    }
}

/// Before anything is sent: asks the server's sudo whether the user may run, as root without
/// a password, each command the steps run there (`sudo.rs`); if not, names the sudoers line.
fn check_sudo<'s>(
    ctx: &Context,
    host: &Host,
    remote: &mut Remote,
    steps: impl Iterator<Item = &'s Step>,
) -> Result<()> {
    let root = crate::sudo::Root {
        root: host.root.as_str(),
        cluster: &ctx.site.cluster,
        user: host.user.as_str(),
    };
    let files = root.unit_files();
    let units_dir = remote.state.units_dir.clone().unwrap_or_else(|| crate::sudo::UNITS_DIR.into());
    let mut commands: Vec<String> = Vec::new();
    for step in steps {
        let Some((word, node)) = step.entrypoint() else { continue };
        for command in crate::sudo::of_step(word, node, &files) {
            let argv = root.argv(&command, &units_dir);
            if !commands.contains(&argv) {
                commands.push(argv);
            }
        }
    }
    if commands.is_empty() {
        return Ok(());
    }
    let words: Vec<&str> = commands.iter().map(String::as_str).collect();
    let lines = remote.session.must(&Call::May(&words))?;
    let refused: Vec<String> =
        lines.iter().filter_map(|l| l.strip_prefix("refused ")).map(String::from).collect();
    if refused.is_empty() {
        return Ok(());
    }
    Err(Error::Sudo {
        host: host.name.to_string(),
        user: host.user.to_string(),
        refused,
        said: lines.iter().find_map(|l| l.strip_prefix("said ")).map(String::from),
        line: root.sudoers_line(host.user.as_str(), &units_dir),
        file: root.sudoers_file(),
    })
}

/// Puts the generation on the server unless it is there, intact. Returns files sent, of how
/// many; `None` when nothing had to be sent.
fn send(
    ctx: &Context,
    link: &Link,
    host: &Host,
    remote: &mut Remote,
) -> Result<Option<(usize, usize)>> {
    let name = host.name.as_str();
    let wanted = ctx.tree.host_hash(name);
    let session = &mut remote.session;
    let state = &remote.state;
    if state.has(&wanted) && listing(session, &format!("generations/{wanted}"))?.hash() == wanted {
        return Ok(None);
    }
    let id = session::nonce();
    session.must(&Call::Stage(&id))?;
    let current = state.current.as_ref().filter(|c| state.has(c));
    let link_dest = current.map(|c| format!("{}/generations/{c}", host.root));
    let source = ctx.out.join(layout::host_dir(name));
    let staging = format!("{}/staging/{id}", host.root);
    let sent = link.rsync(&source, &staging, link_dest.as_deref())?;
    let arrived = listing(session, &format!("staging/{id}"))?.hash();
    if arrived != wanted {
        return Err(Error::Corrupt { host: name.to_string(), expected: wanted, actual: arrived });
    }
    session.must(&Call::Commit { id: &id, hash: &wanted })?;
    Ok(Some((sent, Listing::of_host(ctx.tree, name).len())))
}

/// Removes old generations after a successful apply; returns how many.
fn prune(remote: &mut Remote, host: &Host, keep: usize, cluster: &Label) -> Result<usize> {
    let after = read_state(&mut remote.session, host, &unit_prefix(cluster))?;
    let drop = after.to_drop(keep);
    if !drop.is_empty() {
        let hashes: Vec<&str> = drop.iter().map(String::as_str).collect();
        remote.session.must(&Call::Drop(&hashes))?;
    }
    Ok(drop.len())
}

/// What a dry run reports of one server besides the plan: what is current there, whether an
/// apply runs there now, and the files that would change.
struct Preview {
    current: Option<String>,
    busy: bool,
    files: Vec<(server::Edit, String)>,
}

fn preview(ctx: &Context, host: &Host, remote: &mut Remote) -> Result<Preview> {
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
    fn text(&self, name: &str, wanted: &str) -> String {
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
fn dry_run_json(
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
fn send_text(remote: Option<&Remote>, ctx: &Context, host: &Host) -> String {
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

/// `gen rollback HOST`: the previous generation, applied by the same plan as any other.
pub fn rollback(ctx: &Context, host: &str) -> Result<u8> {
    let hosts = select(ctx.site, Some(host))?;
    let host = hosts[0];
    let name = host.name.as_str();
    let link = Link::new(host)?;
    let mut remote = open_remote(&link, true, &ctx.site.cluster)?;
    let state = remote.state.clone();
    let (Some(current), Some(previous)) = (&state.current, &state.previous) else {
        return Err(Error::NoPrevious { host: name.to_string() });
    };
    if previous == current || !state.has(previous) {
        return Err(Error::NoPrevious { host: name.to_string() });
    }
    let found = listing(&mut remote.session, &format!("generations/{previous}"))?;
    if &found.hash() != previous {
        return Err(Error::Corrupt {
            host: name.to_string(),
            expected: previous.clone(),
            actual: found.hash(),
        });
    }
    let text = remote.session.must(&Call::Facts(previous))?.join("\n");
    let machines = plan::parse_machines(&text)
        .map_err(|reason| Error::Apply { host: name.to_string(), reason })?;
    let unit = found.sha(&layout::unit_file(&ctx.site.cluster)).map(String::from);
    let mut seen = seen_of(&state, host)?;
    seen.current = Some(current.clone());
    let server = Server {
        name: name.to_string(),
        seen: Some(seen),
        wanted: Wanted { hash: previous.clone(), machines, unit },
        applied: true,
    };
    let servers = vec![server];
    let plan = plan::plan(&servers).map_err(|r| Error::Refused { reason: r.reason, fix: r.fix })?;
    check_sudo(ctx, host, &mut remote, plan.on(0))?;
    let mut output = Output::new(Some("    ".to_string()));
    remote.session.must(&Call::Begin)?;
    for p in &plan.steps {
        say(&format!("{}\n", plan::step_line(&servers[0], &p.step, "")));
        match &p.step {
            Step::Send => {}
            Step::Switch => {
                remote.session.must(&Call::Switch(previous))?;
            }
            Step::Finish => {
                remote.session.must(&Call::Finish { hash: previous, commit: None })?;
            }
            step => {
                let (word, node) = step.entrypoint().expect("run by apply.sh");
                let call = Call::Step { hash: previous, step: word, node };
                let reply = remote.session.call(&call, &mut |line| output.line(line))?;
                if reply.status != 0 {
                    return Err(Error::Step {
                        host: name.to_string(),
                        step: plan::step_line(&servers[0], step, ""),
                        output: output.tail(),
                    });
                }
            }
        }
    }
    remote.session.close();
    let mut text = format!("{name}: rolled back to {} (was {})\n", short(previous), short(current));
    if *current == ctx.tree.host_hash(name) {
        let _ = writeln!(
            text,
            "{name}: out/ still holds {}: `gen apply {name}` would make it current again",
            short(current)
        );
    }
    say(&text);
    Ok(exit::OK)
}

/// Where a server stands, as `gen status` reports it; the exit status follows from it.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Standing {
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
struct Reached {
    state: State,
    busy: bool,
}

/// One server of `gen status --json`: its standing and every VM it has or `out/` gives it.
fn status_json(
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
fn standing(ctx: &Context, host: &Host) -> Result<(Standing, String, Reached)> {
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
fn brief(e: &Error) -> (Standing, String) {
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

fn read_state(session: &mut Session, host: &Host, prefix: &str) -> Result<State> {
    let lines = session.must(&Call::State(prefix))?;
    State::parse(&lines).map_err(|reason| Error::Remote {
        host: host.name.to_string(),
        step: "reading the generations",
        output: format!("{reason} (in {})", host.root),
    })
}

fn listing(session: &mut Session, folder: &str) -> Result<Listing> {
    Ok(Listing::parse(&session.must(&Call::Listing(folder))?))
}

/// The hosts a command is about: the one named, or all.
fn select<'s>(site: &'s Site, name: Option<&str>) -> Result<Vec<&'s Host>> {
    match name {
        None => Ok(site.hosts.iter().collect()),
        Some(name) => match site.hosts.iter().find(|h| h.name.as_str() == name) {
            Some(host) => Ok(vec![host]),
            None => Err(Error::UnknownHost {
                name: name.to_string(),
                known: site.hosts.iter().map(|h| h.name.to_string()).collect(),
            }),
        },
    }
}

/// Runs `work` for each link on up to `jobs` threads; results in the order of `links`.
fn each_link<'l, T: Send>(
    links: &'l [Link<'l>],
    jobs: usize,
    work: impl Fn(&'l Link<'l>) -> T + Sync,
) -> Vec<T> {
    let hosts: Vec<usize> = (0..links.len()).collect();
    let next = AtomicUsize::new(0);
    let results: Mutex<Vec<Option<T>>> = Mutex::new(hosts.iter().map(|_| None).collect());
    std::thread::scope(|scope| {
        for _ in 0..jobs.clamp(1, links.len().max(1)) {
            scope.spawn(|| {
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    let Some(link) = links.get(i) else { break };
                    let result = work(link);
                    results.lock().unwrap_or_else(std::sync::PoisonError::into_inner)[i] =
                        Some(result);
                }
            });
        }
    });
    let results = results.into_inner().unwrap_or_else(std::sync::PoisonError::into_inner);
    results.into_iter().map(|r| r.expect("every link was worked on")).collect()
}

/// Runs `work` for each host on up to `jobs` threads; results in the order of `hosts`.
fn each<T: Send>(hosts: &[&Host], jobs: usize, work: impl Fn(&Host) -> T + Sync) -> Vec<T> {
    let next = AtomicUsize::new(0);
    let results: Mutex<Vec<Option<T>>> = Mutex::new(hosts.iter().map(|_| None).collect());
    std::thread::scope(|scope| {
        for _ in 0..jobs.clamp(1, hosts.len().max(1)) {
            scope.spawn(|| {
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    let Some(host) = hosts.get(i) else { break };
                    let result = work(host);
                    results.lock().unwrap_or_else(std::sync::PoisonError::into_inner)[i] =
                        Some(result);
                }
            });
        }
    });
    let results = results.into_inner().unwrap_or_else(std::sync::PoisonError::into_inner);
    results.into_iter().map(|r| r.expect("every host was worked on")).collect()
}

/// Reports failures (each in full, on stderr) and, given the `verb` for it, a summary line.
fn finish(hosts: &[&Host], results: Vec<Result<()>>, summary: Option<&str>) -> u8 {
    let mut failed = Vec::new();
    let mut ok = 0;
    for (host, result) in hosts.iter().zip(results) {
        match result {
            Ok(()) => ok += 1,
            Err(e) => {
                let name = host.name.as_str();
                if summary.is_some() {
                    say(&format!("{name}: failed\n"));
                }
                eprintln!("{e}");
                failed.push(name);
            }
        }
    }
    if let Some(verb) = summary {
        let mut text = format!("{verb} {ok} of {} servers", hosts.len());
        if !failed.is_empty() {
            let _ = write!(text, "; failed: {}", failed.join(", "));
        }
        say(&format!("{text}\n"));
    }
    if failed.is_empty() { exit::OK } else { exit::DIFFERS }
}

/// An entrypoint's output: shown as it comes when one server is applied (each line after
/// `prefix`), else kept for the error if it fails.
struct Output {
    prefix: Option<String>,
    tail: std::collections::VecDeque<String>,
}

impl Output {
    fn new(prefix: Option<String>) -> Output {
        Output { prefix, tail: std::collections::VecDeque::new() }
    }

    fn line(&mut self, line: &str) {
        if let Some(prefix) = &self.prefix {
            say(&format!("{prefix}{line}\n"));
        } else {
            if self.tail.len() == OUTPUT_TAIL {
                self.tail.pop_front();
            }
            self.tail.push_back(line.to_string());
        }
    }

    /// What the error repeats: nothing if it was already shown.
    fn tail(&self) -> String {
        self.tail.iter().fold(String::new(), |text, l| text + "  " + l + "\n")
    }
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
