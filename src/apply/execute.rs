//! Running a plan: files sent to the servers side by side, then each step in plan order,
//! with what sudo allows asked before anything is sent, and old generations pruned after.

use crate::error::{Error, Result};
use crate::layout;
use crate::site::{Host, Label};

use super::board::Board;
use super::plan::{Plan, Server, Step};
use super::server::{Listing, short};
use super::session::{Call, Link};
use super::{Context, Remote, listing, plural, read_state, say, unit_prefix};
use super::{plan, session};

/// Lines of a step's output kept for the error when it fails under `--all`.
pub(super) const OUTPUT_TAIL: usize = 20;

/// Files sent of how many; `None` when the server had the generation already.
pub(super) type Sent = Option<(usize, usize)>;

/// Runs the plan: sends first (in parallel), then every other step in plan order, each on its
/// server's session. A server whose step fails stops there, and so does the whole plan: a later
/// step may rely on it (a create on one server after a destroy on another). Fills `results`
/// with each target's summary or error.
#[allow(clippy::too_many_arguments)]
pub(super) fn execute(
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
            let step_text = plan::step_line(&servers[i], &p.step, "");
            board.step(i, &step_text);
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
                        // Live, the output goes after the step's word and node: the whole step
                        // line would leave it no room.
                        let head = match node {
                            Some(node) => format!("{}: {step} {node}", host.name),
                            None => format!("{}: {step}", host.name),
                        };
                        let reply = remote.session.call(&call, &mut |line| {
                            board.output(i, &head, line);
                            output.line(line);
                        })?;
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
pub(super) fn check_sudo<'s>(
    ctx: &Context,
    host: &Host,
    remote: &mut Remote,
    steps: impl Iterator<Item = &'s Step>,
) -> Result<()> {
    let root = crate::sudo::Root {
        root: host.root.as_str(),
        cluster: &ctx.site.cluster,
        user: host.user.as_str(),
        provider: host.provider,
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
pub(super) fn send(
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
pub(super) fn prune(
    remote: &mut Remote,
    host: &Host,
    keep: usize,
    cluster: &Label,
) -> Result<usize> {
    let after = read_state(&mut remote.session, host, &unit_prefix(cluster))?;
    let drop = after.to_drop(keep);
    if !drop.is_empty() {
        let hashes: Vec<&str> = drop.iter().map(String::as_str).collect();
        remote.session.must(&Call::Drop(&hashes))?;
    }
    Ok(drop.len())
}

/// An entrypoint's output: shown as it comes when one server is applied (each line after
/// `prefix`), else kept for the error if it fails.
pub(super) struct Output {
    prefix: Option<String>,
    tail: std::collections::VecDeque<String>,
}

impl Output {
    pub(super) fn new(prefix: Option<String>) -> Output {
        Output { prefix, tail: std::collections::VecDeque::new() }
    }

    pub(super) fn line(&mut self, line: &str) {
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
    pub(super) fn tail(&self) -> String {
        self.tail.iter().fold(String::new(), |text, l| text + "  " + l + "\n")
    }
}
