//! Changing a running lab, kubespray's side: from the record of what `out/` deploys now and the
//! record of the new build, the playbooks the change needs, in order, or why kubespray cannot
//! make it.
//!
//! The rules are kubespray's own (`docs/operations/nodes.md`, `docs/operations/upgrades.md`, as
//! summarised in the README, "Changing a running lab"): a worker joins with `facts.yml` then
//! `scale.yml --limit`; a control plane (here always an etcd member too) with `cluster.yml`, never
//! `scale.yml`, appended at the end of `kube_control_plane`; a node leaves with `remove-node.yml`
//! while it is still in the inventory, which is what `remove = true` is for; a release or
//! `kube_version` change is `upgrade-cluster.yml`, one kubespray minor release and one Kubernetes
//! minor version at a time, never down. Everything here is pure: the CLI reads the old record and
//! prints what this returns.

use std::collections::BTreeMap;

use crate::record::{Record, RecordNode, role_word, version};
use crate::site::Role;
use crate::wording::List;

/// What the user allowed knowingly on the command line.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Allow {
    /// `--allow-version-change`: a downgrade, a skipped minor, a version change mixed with nodes.
    pub version_change: bool,
    /// `--allow-unremoved`: a node dropped, moved, readdressed or given another role without
    /// having gone through `remove = true`.
    pub unremoved: bool,
}

/// A change kubespray cannot make (or not safely), judged against what `out/` deploys now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refusal {
    KubeDowngrade {
        from: String,
        to: String,
    },
    KubeSkip {
        from: String,
        to: String,
    },
    ReleaseDowngrade {
        from: String,
        to: String,
    },
    ReleaseSkip {
        from: String,
        to: String,
    },
    /// A release or kube_version change in the same build as nodes joining or leaving.
    VersionWithNodes {
        from: String,
        to: String,
    },
    /// A node that leaves, or becomes another machine, without `remove-node.yml` first.
    Unremoved {
        node: String,
        change: Unremoved,
    },
    /// A new control plane that would not come last in `kube_control_plane`.
    ControlPlaneNotLast {
        node: String,
        before: String,
    },
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Unremoved {
    Dropped,
    Moved { from: String, to: String },
    Readdressed { from: String, to: String },
    Role { from: Role, to: Role },
}

impl Refusal {
    /// The flag that accepts it knowingly; `None` where kubespray would fail anyway.
    pub fn flag(&self) -> Option<&'static str> {
        match self {
            Refusal::KubeDowngrade { .. }
            | Refusal::KubeSkip { .. }
            | Refusal::ReleaseDowngrade { .. }
            | Refusal::ReleaseSkip { .. }
            | Refusal::VersionWithNodes { .. } => Some("--allow-version-change"),
            Refusal::Unremoved { .. } => Some("--allow-unremoved"),
            Refusal::ControlPlaneNotLast { .. } => None,
        }
    }

    fn allowed(&self, allow: Allow) -> bool {
        match self.flag() {
            Some("--allow-version-change") => allow.version_change,
            Some("--allow-unremoved") => allow.unremoved,
            _ => false,
        }
    }
}

/// One thing to run with kubespray, in the order `judge` returns them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Step {
    /// Nothing deployed before (or no record of it): the whole cluster, after every host is up.
    Deploy,
    /// The inventory changed in a way no day-two playbook covers (group_vars): run it all again.
    Rerun,
    /// Control planes join (and, when the first one is leaving, the others take its place):
    /// `cluster.yml`, then `upgrade-cluster.yml` limited to etcd to update every member's
    /// configuration. `hosts` must be applied first so the VMs exist.
    ControlPlanes { join: Vec<String>, hosts: Vec<String>, even: bool, reorder: bool },
    /// Workers join: `facts.yml` for every node, then `scale.yml` limited to them.
    Workers { join: Vec<String>, hosts: Vec<String> },
    /// A node leaves: `remove-node.yml` now, while it is in the inventory; its VM goes when a
    /// later build drops it. `first`: it was the first control plane (cluster-info names it).
    Remove { node: String, host: String, first: bool },
    /// Nodes that had gone through `remove-node.yml` are gone from the inventory; once `hosts` are
    /// applied (which destroys their VMs), control planes need the etcd lists rewritten.
    Dropped { nodes: Vec<String>, hosts: Vec<String>, control_plane: bool },
    /// A new release or kube_version: `upgrade-cluster.yml`.
    Upgrade { from: String, to: String },
}

/// What a build means for kubespray: the steps, and the refusals the user allowed.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Judgement {
    pub steps: Vec<Step>,
    pub allowed: Vec<Refusal>,
}

/// The kubespray steps from `old` (the record in `out/`, if any) to `new`, or every refusal
/// not allowed.
pub fn judge(old: Option<&Record>, new: &Record, allow: Allow) -> Result<Judgement, Vec<Refusal>> {
    let Some(old) = old else {
        return Ok(Judgement { steps: vec![Step::Deploy], allowed: vec![] });
    };
    let mut refusals = versions(old, new);
    let nodes = nodes(old, new, &mut refusals);
    let version_changed = old.release != new.release || old.kube_version != new.kube_version;
    if version_changed && nodes.touched() {
        refusals.push(Refusal::VersionWithNodes { from: describe(old), to: describe(new) });
    }
    let (allowed, refused): (Vec<Refusal>, Vec<Refusal>) =
        refusals.into_iter().partition(|r| r.allowed(allow));
    if !refused.is_empty() {
        return Err(refused);
    }

    let mut steps = Vec::new();
    let etcd_even = new.control_planes.len() % 2 == 0;
    if !nodes.control_planes.is_empty() || nodes.reorder {
        steps.push(Step::ControlPlanes {
            join: names(&nodes.control_planes),
            hosts: hosts(&nodes.control_planes),
            even: etcd_even,
            reorder: nodes.reorder,
        });
    }
    if !nodes.workers.is_empty() {
        steps.push(Step::Workers { join: names(&nodes.workers), hosts: hosts(&nodes.workers) });
    }
    // Leaving after joining: a replacement is in before the node it replaces goes.
    for (name, host) in &nodes.leaving {
        let first = old.control_planes.first() == Some(name);
        steps.push(Step::Remove { node: name.clone(), host: host.clone(), first });
    }
    if !nodes.dropped.is_empty() {
        steps.push(Step::Dropped {
            nodes: names(&nodes.dropped),
            hosts: hosts(&nodes.dropped),
            control_plane: nodes.dropped_control_plane,
        });
    }
    if version_changed {
        steps.push(Step::Upgrade { from: describe(old), to: describe(new) });
    }
    if steps.is_empty() && old != new {
        steps.push(Step::Rerun);
    }
    Ok(Judgement { steps, allowed })
}

/// `kubespray v2.31.0 (Kubernetes 1.35.4)`.
fn describe(r: &Record) -> String {
    format!("kubespray {} (Kubernetes {})", r.release, r.kube_version)
}

fn versions(old: &Record, new: &Record) -> Vec<Refusal> {
    let mut refusals = Vec::new();
    let pair = |a: &str, b: &str| (a.to_string(), b.to_string());
    if let (Some(a), Some(b)) = (version(&old.kube_version), version(&new.kube_version)) {
        let (from, to) = pair(&old.kube_version, &new.kube_version);
        if b < a {
            refusals.push(Refusal::KubeDowngrade { from, to });
        } else if skips_a_minor(a, b) {
            refusals.push(Refusal::KubeSkip { from, to });
        }
    }
    if let (Some(a), Some(b)) = (version(&old.release), version(&new.release)) {
        let (from, to) = pair(&old.release, &new.release);
        if b < a {
            refusals.push(Refusal::ReleaseDowngrade { from, to });
        } else if skips_a_minor(a, b) {
            refusals.push(Refusal::ReleaseSkip { from, to });
        }
    }
    refusals
}

/// From `a` to a newer `b`, more than one minor step (a new major counts as more).
fn skips_a_minor(a: (u32, u32, u32), b: (u32, u32, u32)) -> bool {
    b.0 != a.0 || b.1 > a.1 + 1
}

/// How the node set changes, node by node.
#[derive(Default)]
struct Nodes<'r> {
    control_planes: Vec<(&'r String, &'r RecordNode)>,
    workers: Vec<(&'r String, &'r RecordNode)>,
    leaving: Vec<(String, String)>,
    dropped: Vec<(&'r String, &'r RecordNode)>,
    dropped_control_plane: bool,
    /// The first control plane leaves, so the inventory moved it last.
    reorder: bool,
}

impl Nodes<'_> {
    fn touched(&self) -> bool {
        !(self.control_planes.is_empty()
            && self.workers.is_empty()
            && self.leaving.is_empty()
            && self.dropped.is_empty())
    }
}

fn names(nodes: &[(&String, &RecordNode)]) -> Vec<String> {
    nodes.iter().map(|(name, _)| (*name).clone()).collect()
}

/// The hosts of `nodes`, once each, by name.
fn hosts(nodes: &[(&String, &RecordNode)]) -> Vec<String> {
    let set: std::collections::BTreeSet<&str> =
        nodes.iter().map(|(_, n)| n.host.as_str()).collect();
    set.into_iter().map(str::to_string).collect()
}

fn nodes<'r>(old: &'r Record, new: &'r Record, refusals: &mut Vec<Refusal>) -> Nodes<'r> {
    let mut out = Nodes::default();
    for (name, was) in &old.nodes {
        match new.nodes.get(name) {
            None if was.remove => {
                out.dropped_control_plane |= was.role == Role::ControlPlane;
                out.dropped.push((name, was));
            }
            None => {
                refusals
                    .push(Refusal::Unremoved { node: name.clone(), change: Unremoved::Dropped });
            }
            Some(is) => {
                if let Some(change) = other_machine(was, is) {
                    if !was.remove {
                        refusals.push(Refusal::Unremoved { node: name.clone(), change });
                    }
                }
            }
        }
    }
    let joins = |name: &String, is: &RecordNode| match old.nodes.get(name) {
        None => !is.remove,
        // Back from `remove = true`, here or as another machine: kubespray has reset it.
        Some(was) => was.remove && !is.remove,
    };
    for (name, is) in &new.nodes {
        if joins(name, is) {
            match is.role {
                Role::ControlPlane => out.control_planes.push((name, is)),
                Role::Worker => out.workers.push((name, is)),
            }
        } else if is.remove && old.nodes.get(name).is_some_and(|was| !was.remove) {
            out.leaving.push((name.clone(), is.host.clone()));
            out.reorder |= old.control_planes.first() == Some(name);
        }
    }
    // A joining control plane must follow every one that stays: kubespray supports appending
    // only ("Adding control plane nodes in the first position is not supported").
    let staying: Vec<&String> = new
        .control_planes
        .iter()
        .filter(|n| old.nodes.get(*n).is_some_and(|was| !was.remove && !new.nodes[*n].remove))
        .collect();
    let position: BTreeMap<&String, usize> =
        new.control_planes.iter().enumerate().map(|(i, n)| (n, i)).collect();
    for (name, _) in &out.control_planes {
        if let Some(before) = staying.iter().rev().find(|s| position[*s] > position[name]) {
            refusals.push(Refusal::ControlPlaneNotLast {
                node: (*name).clone(),
                before: (*before).clone(),
            });
        }
    }
    out
}

/// How a node kept by name became another machine for kubespray.
fn other_machine(was: &RecordNode, is: &RecordNode) -> Option<Unremoved> {
    if was.role != is.role {
        Some(Unremoved::Role { from: was.role, to: is.role })
    } else if was.host != is.host {
        Some(Unremoved::Moved { from: was.host.clone(), to: is.host.clone() })
    } else if was.ip != is.ip {
        Some(Unremoved::Readdressed { from: was.ip.clone(), to: is.ip.clone() })
    } else {
        None
    }
}

/// A server that holds more than half of the etcd members (every control plane): losing it
/// loses quorum, and with it the cluster's API. `None` when no server does.
pub fn etcd_majority(record: &Record) -> Option<EtcdMajority> {
    let total = record.control_planes.len();
    let mut per_host: BTreeMap<&str, usize> = BTreeMap::new();
    for name in &record.control_planes {
        *per_host.entry(record.nodes[name].host.as_str()).or_default() += 1;
    }
    let servers: std::collections::BTreeSet<&str> =
        record.nodes.values().map(|n| n.host.as_str()).collect();
    // On one server there is no other place to put a member.
    if servers.len() < 2 {
        return None;
    }
    let (host, held) =
        per_host.into_iter().max_by_key(|(host, n)| (*n, std::cmp::Reverse(*host)))?;
    (2 * held > total).then(|| EtcdMajority {
        host: host.to_string(),
        held,
        total,
        servers: servers.len(),
    })
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EtcdMajority {
    pub host: String,
    pub held: usize,
    pub total: usize,
    /// Servers that run nodes.
    pub servers: usize,
}

impl std::fmt::Display for Refusal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Refusal::KubeDowngrade { from, to } => write!(
                f,
                "`kubespray.kube_version` goes down from {from} (deployed now, per out/) to {to}; \
                 kubeadm never downgrades a cluster"
            ),
            Refusal::KubeSkip { from, to } => write!(
                f,
                "Kubernetes goes from {from} (deployed now, per out/) to {to}, more than one minor \
                 version at once; kubeadm upgrades one minor version at a time"
            ),
            Refusal::ReleaseDowngrade { from, to } => write!(
                f,
                "`kubespray.version` goes down from {from} (deployed now, per out/) to {to}; \
                 kubespray only upgrades"
            ),
            Refusal::ReleaseSkip { from, to } => write!(
                f,
                "`kubespray.version` goes from {from} (deployed now, per out/) to {to}, skipping \
                 a minor release; kubespray's upgrade docs say \"upgrade by one tag at a time\""
            ),
            Refusal::VersionWithNodes { from, to } => write!(
                f,
                "the version changes ({from} to {to}) in the same build as nodes join or leave; \
                 `upgrade-cluster.yml` and the node playbooks must not run on one inventory"
            ),
            Refusal::Unremoved { node, change } => {
                let what = match change {
                    Unremoved::Dropped => "is no longer in site.toml".to_string(),
                    Unremoved::Moved { from, to } => format!("moves from {from} to {to}"),
                    Unremoved::Readdressed { from, to } => format!("changes address {from} → {to}"),
                    Unremoved::Role { from, to } => {
                        format!("changes role {} → {}", role_word(*from), role_word(*to))
                    }
                };
                write!(
                    f,
                    "node `{node}` {what} but is still in the cluster: kubespray must remove it \
                     (`remove-node.yml`) while it is still in the inventory and its VM still runs"
                )
            }
            Refusal::ControlPlaneNotLast { node, before } => write!(
                f,
                "new control plane `{node}` would come before `{before}` in kube_control_plane \
                 (gen lists them by name); kubespray supports adding control planes only at the \
                 end"
            ),
        }
    }
}

impl Refusal {
    /// What to do instead, in one line.
    pub fn fix(&self) -> String {
        let flag = |f: &str| format!("; or, knowing the risk, pass `{f}`");
        match self {
            Refusal::KubeDowngrade { from, .. } => {
                format!("keep `kube_version` at {from} or later{}", flag("--allow-version-change"))
            }
            Refusal::KubeSkip { .. } => format!(
                "upgrade one minor version per build and deploy (`upgrade-cluster.yml`) between \
                 them{}",
                flag("--allow-version-change")
            ),
            Refusal::ReleaseDowngrade { from, .. } => {
                format!(
                    "keep `kubespray.version` at {from} or later{}",
                    flag("--allow-version-change")
                )
            }
            Refusal::ReleaseSkip { .. } => format!(
                "move to the next minor release first, deploy it (`upgrade-cluster.yml`), then \
                 the next{}",
                flag("--allow-version-change")
            ),
            Refusal::VersionWithNodes { .. } => format!(
                "change the version and the nodes in separate builds, deploying between them{}",
                flag("--allow-version-change")
            ),
            Refusal::Unremoved { node, .. } => format!(
                "put [nodes.{node}] back as it was, with `remove = true`; build; run the \
                 `remove-node.yml` command gen prints; then make this change{}",
                flag("--allow-unremoved")
            ),
            Refusal::ControlPlaneNotLast { before, .. } => format!(
                "give it a name that sorts after `{before}`, such as the next number of the series"
            ),
        }
    }
}

/// What kubespray must do once an apply has made or destroyed VMs: a VM gen creates is empty
/// until kubespray sets it up (`created`: node and whether it is a control plane), and a control
/// plane gone from the site leaves every etcd member list naming it. `etcd_members` is the
/// number of control planes the site has now; `fresh`: no control plane ran before this apply,
/// so there is no cluster to join yet. The build named these steps before the apply; the apply
/// names them again once its part is done, without the "after `gen apply`" it did.
pub fn after_apply(
    created: &[(String, bool)],
    dropped_control_planes: &[String],
    etcd_members: usize,
    fresh: bool,
) -> Vec<Step> {
    if fresh && !created.is_empty() {
        return vec![Step::Deploy];
    }
    let joining = |control_plane: bool| -> Vec<String> {
        created.iter().filter(|(_, cp)| *cp == control_plane).map(|(n, _)| n.clone()).collect()
    };
    let mut steps = Vec::new();
    let control_planes = joining(true);
    if !control_planes.is_empty() {
        steps.push(Step::ControlPlanes {
            join: control_planes,
            hosts: vec![],
            even: etcd_members % 2 == 0,
            reorder: false,
        });
    }
    let workers = joining(false);
    if !workers.is_empty() {
        steps.push(Step::Workers { join: workers, hosts: vec![] });
    }
    if !dropped_control_planes.is_empty() {
        steps.push(Step::Dropped {
            nodes: dropped_control_planes.to_vec(),
            hosts: vec![],
            control_plane: true,
        });
    }
    steps
}

/// The commands for `steps`, one numbered step a line or two, `out` being the output folder as
/// the user named it. Empty when there is nothing to run.
pub fn commands(steps: &[Step], out: &str) -> String {
    use std::fmt::Write as _;
    let deploy = format!("{out}/kubespray/deploy.sh");
    let mut text = String::new();
    // "after `gen apply h1`: " before a step that needs those VMs; nothing once they are applied.
    let applies =
        |hosts: &[String]| List::and(hosts.iter().map(|h| format!("`gen apply {h}`"))).to_string();
    let after = |hosts: &[String]| {
        if hosts.is_empty() { String::new() } else { format!("after {}: ", applies(hosts)) }
    };
    let mut n = 0;
    let mut step = |text: &mut String, line: String| {
        n += 1;
        let _ = writeln!(text, "  {n}. {line}");
    };
    for s in steps {
        match s {
            Step::Deploy => {
                step(&mut text, format!("after every `gen apply`: {deploy} cluster.yml"));
            }
            Step::Rerun => step(&mut text, format!("{deploy} cluster.yml")),
            Step::ControlPlanes { join, hosts, even, reorder } => {
                let mut extra = String::new();
                if *even {
                    // kubespray asserts an odd etcd group; it is even while one member leaves.
                    extra += " -e ignore_assert_errors=yes";
                }
                let limit_extra = extra.clone();
                if join.len() > 1 {
                    extra += " -e etcd_retries=10";
                }
                step(&mut text, format!("{}{deploy} cluster.yml{extra}", after(hosts)));
                if !join.is_empty() {
                    step(
                        &mut text,
                        format!(
                            "{deploy} upgrade-cluster.yml --limit etcd,kube_control_plane{limit_extra}"
                        ),
                    );
                    let _ = writeln!(
                        text,
                        "     then, on every node, restart nginx-proxy so it sees {}: `crictl ps \
                         | grep nginx-proxy | awk '{{print $1}}' | xargs crictl stop`",
                        List::comma(join)
                    );
                }
                if *reorder {
                    let _ = writeln!(
                        text,
                        "     (this also makes another control plane the first, before the first \
                         one leaves)"
                    );
                }
            }
            Step::Workers { join, hosts } => {
                step(&mut text, format!("{}{deploy} playbooks/facts.yml", after(hosts)));
                step(&mut text, format!("{deploy} scale.yml --limit {}", join.join(",")));
            }
            Step::Remove { node, host, first } => {
                step(&mut text, format!("{deploy} remove-node.yml -e node={node}"));
                let _ = writeln!(
                    text,
                    "     (if {node} is already offline, add -e reset_nodes=false -e \
                     allow_ungraceful_removal=true); then drop [nodes.{node}] from site.toml, \
                     `gen build`, `gen apply {host}` destroys its VM"
                );
                if *first {
                    let _ = writeln!(
                        text,
                        "     then `kubectl edit cm -n kube-public cluster-info`: point `server` \
                         at a control plane that stays"
                    );
                }
            }
            Step::Dropped { nodes, hosts, control_plane } => {
                if *control_plane {
                    step(&mut text, format!("{}{deploy} cluster.yml", after(hosts)));
                    let _ = writeln!(
                        text,
                        "     (rewrites the etcd member lists; check `--etcd-servers` in \
                         /etc/kubernetes/manifests/kube-apiserver.yaml on every control plane)"
                    );
                } else {
                    let _ = writeln!(
                        text,
                        "  nothing to run: {} left the cluster with remove-node.yml; {} destroys \
                         the VM",
                        List::comma(nodes),
                        applies(hosts)
                    );
                }
            }
            Step::Upgrade { .. } => step(&mut text, format!("{deploy} upgrade-cluster.yml")),
        }
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A record from `name:host:role-letter[:ip][!]` (`!` = remove), control planes by name with
    /// the leaving ones last, as `render::etcd_members` orders them.
    fn rec(release: &str, kube: &str, nodes: &[&str]) -> Record {
        let mut map = BTreeMap::new();
        for spec in nodes {
            let (spec, remove) = match spec.strip_suffix('!') {
                Some(s) => (s, true),
                None => (*spec, false),
            };
            let parts: Vec<&str> = spec.split(':').collect();
            let role = if parts[2] == "c" { Role::ControlPlane } else { Role::Worker };
            let ip = parts.get(3).map_or_else(
                || format!("10.0.0.{}", map.len() + 2),
                std::string::ToString::to_string,
            );
            map.insert(
                parts[0].to_string(),
                RecordNode { host: parts[1].into(), role, ip, remove },
            );
        }
        let cps = |leaving: bool| {
            map.iter()
                .filter(move |(_, n): &(&String, &RecordNode)| {
                    n.role == Role::ControlPlane && n.remove == leaving
                })
                .map(|(k, _)| k.clone())
                .collect::<Vec<_>>()
        };
        let mut control_planes = cps(false);
        control_planes.extend(cps(true));
        Record { release: release.into(), kube_version: kube.into(), control_planes, nodes: map }
    }

    const LAB: &[&str] = &["cp-1:h1:c", "cp-2:h1:c", "cp-3:h2:c", "w-1:h1:w", "w-2:h2:w"];

    fn lab() -> Record {
        rec("v2.31.0", "1.35.4", LAB)
    }

    fn with(extra: &[&str]) -> Record {
        let mut nodes: Vec<&str> = LAB.to_vec();
        for e in extra {
            let name = e.split(':').next().unwrap();
            nodes.retain(|n| n.split(':').next().unwrap() != name);
            if !e.ends_with(":-") {
                nodes.push(*e);
            }
        }
        let mut r = rec("v2.31.0", "1.35.4", &nodes);
        // Keep addresses stable for nodes that LAB already had.
        for (name, n) in &mut r.nodes {
            if let Some(old) = lab().nodes.get(name) {
                if !e_has_ip(extra, name) {
                    n.ip = old.ip.clone();
                }
            }
        }
        r
    }

    fn e_has_ip(extra: &[&str], name: &str) -> bool {
        extra.iter().any(|e| e.split(':').next() == Some(name) && e.split(':').count() >= 4)
    }

    fn ok(old: &Record, new: &Record) -> Vec<Step> {
        judge(Some(old), new, Allow::default()).expect("allowed").steps
    }

    fn refused(old: &Record, new: &Record) -> Vec<Refusal> {
        judge(Some(old), new, Allow::default()).expect_err("refused")
    }

    fn s(v: &[&str]) -> Vec<String> {
        v.iter().map(std::string::ToString::to_string).collect()
    }

    #[test]
    fn nothing_deployed_means_the_whole_cluster() {
        assert_eq!(judge(None, &lab(), Allow::default()).unwrap().steps, vec![Step::Deploy]);
    }

    #[test]
    fn an_unchanged_record_needs_nothing() {
        assert_eq!(ok(&lab(), &lab()), vec![]);
    }

    #[test]
    fn added_workers_are_scaled_in_after_their_hosts_are_applied() {
        let steps = ok(&lab(), &with(&["w-3:h2:w", "w-4:h1:w"]));
        assert_eq!(
            steps,
            vec![Step::Workers { join: s(&["w-3", "w-4"]), hosts: s(&["h1", "h2"]) }]
        );
        assert_eq!(
            commands(&steps, "out"),
            "  1. after `gen apply h1` and `gen apply h2`: out/kubespray/deploy.sh \
             playbooks/facts.yml\n  2. out/kubespray/deploy.sh scale.yml --limit w-3,w-4\n"
        );
    }

    #[test]
    fn added_control_planes_use_cluster_yml_never_scale() {
        let steps = ok(&lab(), &with(&["cp-4:h2:c", "cp-5:h1:c"]));
        assert_eq!(
            steps,
            vec![Step::ControlPlanes {
                join: s(&["cp-4", "cp-5"]),
                hosts: s(&["h1", "h2"]),
                even: false,
                reorder: false
            }]
        );
        let text = commands(&steps, "out");
        assert!(text.contains("deploy.sh cluster.yml -e etcd_retries=10\n"), "{text}");
        assert!(text.contains("upgrade-cluster.yml --limit etcd,kube_control_plane\n"), "{text}");
        assert!(!text.contains("scale.yml"), "{text}");
    }

    #[test]
    fn a_control_plane_that_would_sort_first_is_refused() {
        assert_eq!(
            refused(&lab(), &with(&["cp-0:h2:c", "cp-4:h1:c"])),
            vec![Refusal::ControlPlaneNotLast { node: "cp-0".into(), before: "cp-3".into() }]
        );
        // No flag lets it through: kubespray itself fails.
        let all = Allow { version_change: true, unremoved: true };
        assert!(judge(Some(&lab()), &with(&["cp-0:h2:c", "cp-4:h1:c"]), all).is_err());
    }

    #[test]
    fn removal_runs_remove_node_while_the_node_is_in_the_inventory() {
        let steps = ok(&lab(), &with(&["w-2:h2:w!"]));
        assert_eq!(
            steps,
            vec![Step::Remove { node: "w-2".into(), host: "h2".into(), first: false }]
        );
        let text = commands(&steps, "lab/out");
        assert!(
            text.starts_with("  1. lab/out/kubespray/deploy.sh remove-node.yml -e node=w-2\n"),
            "{text}"
        );
        assert!(text.contains("-e reset_nodes=false -e allow_ungraceful_removal=true"), "{text}");
        // Then the drop: nothing left for kubespray to do for a worker.
        let steps = ok(&with(&["w-2:h2:w!"]), &with(&["w-2:h2:w:-"]));
        assert_eq!(
            steps,
            vec![Step::Dropped { nodes: s(&["w-2"]), hosts: s(&["h2"]), control_plane: false }]
        );
        assert_eq!(
            commands(&steps, "out"),
            "  nothing to run: w-2 left the cluster with remove-node.yml; `gen apply h2` destroys \
             the VM\n"
        );
    }

    #[test]
    fn a_dropped_control_plane_rewrites_the_etcd_lists() {
        let old = with(&["cp-4:h2:c", "cp-3:h2:c!"]);
        let steps = ok(&old, &with(&["cp-4:h2:c", "cp-3:h2:c:-"]));
        assert_eq!(
            steps,
            vec![Step::Dropped { nodes: s(&["cp-3"]), hosts: s(&["h2"]), control_plane: true }]
        );
        assert!(
            commands(&steps, "out")
                .contains("after `gen apply h2`: out/kubespray/deploy.sh cluster.yml")
        );
    }

    #[test]
    fn replacing_the_first_control_plane_reorders_joins_then_removes() {
        let steps = ok(&lab(), &with(&["cp-4:h2:c", "cp-1:h1:c!"]));
        assert_eq!(
            steps,
            vec![
                Step::ControlPlanes {
                    join: s(&["cp-4"]),
                    hosts: s(&["h2"]),
                    even: true,
                    reorder: true
                },
                Step::Remove { node: "cp-1".into(), host: "h1".into(), first: true },
            ]
        );
        let text = commands(&steps, "out");
        let cluster = text.find("cluster.yml -e ignore_assert_errors=yes").expect(&text);
        let remove = text.find("remove-node.yml -e node=cp-1").expect(&text);
        assert!(cluster < remove, "{text}");
        assert!(text.contains("cluster-info"), "{text}");
    }

    #[test]
    fn a_node_dropped_without_remove_is_refused_unless_allowed() {
        let new = with(&["w-1:h1:w:-"]);
        assert_eq!(
            refused(&lab(), &new),
            vec![Refusal::Unremoved { node: "w-1".into(), change: Unremoved::Dropped }]
        );
        let allow = Allow { unremoved: true, ..Allow::default() };
        let judged = judge(Some(&lab()), &new, allow).unwrap();
        assert_eq!(judged.allowed.len(), 1);
        assert_eq!(judged.steps, vec![Step::Rerun]);
    }

    #[test]
    fn moves_readdresses_and_role_changes_need_remove_first() {
        let cases = [
            (with(&["w-1:h2:w"]), Unremoved::Moved { from: "h1".into(), to: "h2".into() }),
            (
                with(&["w-1:h1:w:10.0.0.99"]),
                Unremoved::Readdressed {
                    from: lab().nodes["w-1"].ip.clone(),
                    to: "10.0.0.99".into(),
                },
            ),
            (with(&["w-1:h1:c"]), Unremoved::Role { from: Role::Worker, to: Role::ControlPlane }),
        ];
        for (new, change) in cases {
            assert_eq!(
                refused(&lab(), &new),
                vec![Refusal::Unremoved { node: "w-1".into(), change }]
            );
        }
        // After remove = true and remove-node.yml, the move is a new node joining.
        let removing = with(&["w-1:h1:w!"]);
        assert_eq!(
            ok(&removing, &with(&["w-1:h2:w"])),
            vec![Step::Workers { join: s(&["w-1"]), hosts: s(&["h2"]) }]
        );
    }

    #[test]
    fn versions_move_one_minor_at_a_time_and_never_down() {
        let at = |release: &str, kube: &str| rec(release, kube, LAB);
        let cases: &[(&str, &str, &str, &str, Option<&str>)] = &[
            ("v2.30.0", "1.34.3", "v2.31.0", "1.35.4", None),
            ("v2.29.0", "1.33.5", "v2.29.1", "1.33.7", None),
            ("v2.31.0", "1.35.4", "v2.31.0", "1.35.4", None),
            ("v2.31.0", "1.34.0", "v2.31.0", "1.35.4", None),
            ("v2.31.0", "1.35.4", "v2.28.1", "1.32.8", Some("ReleaseDowngrade")),
            ("v2.29.1", "1.33.7", "v2.31.0", "1.33.7", Some("ReleaseSkip")),
            ("v2.31.0", "1.33.0", "v2.31.0", "1.35.4", Some("KubeSkip")),
            ("v2.31.0", "1.35.4", "v2.31.0", "1.35.3", Some("KubeDowngrade")),
            ("v2.31.0", "1.35.4", "v3.0.0", "1.35.4", Some("ReleaseSkip")),
        ];
        for (r0, k0, r1, k1, want) in cases {
            let got = judge(Some(&at(r0, k0)), &at(r1, k1), Allow::default());
            match (want, got) {
                (None, Ok(j)) if (r0, k0) == (r1, k1) => assert_eq!(j.steps, vec![]),
                (None, Ok(j)) => assert!(matches!(j.steps[..], [Step::Upgrade { .. }]), "{j:?}"),
                (Some(kind), Err(refusals)) => {
                    assert!(format!("{refusals:?}").contains(kind), "{refusals:?} vs {kind}");
                    // The message names both versions.
                    let refusal = refusals.iter().find(|r| format!("{r:?}").contains(kind));
                    let message = refusal.unwrap().to_string();
                    let (from, to) = if kind.starts_with("Kube") { (k0, k1) } else { (r0, r1) };
                    assert!(message.contains(from) && message.contains(to), "{message}");
                }
                (want, got) => panic!("{r0} {k0} -> {r1} {k1}: wanted {want:?}, got {got:?}"),
            }
        }
        // The downgrade of the issue: v2.31.0 to v2.28.1 takes Kubernetes from 1.35.4 to 1.32.8.
        let refusals = refused(&at("v2.31.0", "1.35.4"), &at("v2.28.1", "1.32.8"));
        assert_eq!(refusals.len(), 2, "{refusals:?}");
        let allow = Allow { version_change: true, ..Allow::default() };
        let judged =
            judge(Some(&at("v2.31.0", "1.35.4")), &at("v2.28.1", "1.32.8"), allow).unwrap();
        assert_eq!(judged.allowed, refusals);
    }

    #[test]
    fn a_version_change_with_node_changes_is_refused() {
        let mut new = with(&["w-3:h2:w"]);
        new.release = "v2.31.0".into();
        new.kube_version = "1.35.4".into();
        let old = rec("v2.30.0", "1.34.3", LAB);
        let refusals = refused(&old, &new);
        assert!(matches!(refusals[..], [Refusal::VersionWithNodes { .. }]), "{refusals:?}");
    }

    #[test]
    fn a_readded_node_joins_again() {
        assert_eq!(
            ok(&with(&["w-2:h2:w!"]), &lab()),
            vec![Step::Workers { join: s(&["w-2"]), hosts: s(&["h2"]) }]
        );
    }

    #[test]
    fn every_transition_is_judged_consistently() {
        // Over every pair of a small family of records: a refusal is never also a step, a pair
        // that is equal needs nothing, and every allowed judgement with a refusal names its flag.
        let family: Vec<Record> = vec![
            lab(),
            with(&["w-3:h2:w"]),
            with(&["w-2:h2:w!"]),
            with(&["w-2:h2:w:-"]),
            with(&["cp-4:h2:c", "cp-1:h1:c!"]),
            with(&["cp-4:h2:c", "cp-1:h1:c:-"]),
            with(&["cp-4:h2:c", "cp-5:h1:c"]),
            with(&["w-1:h2:w"]),
            rec("v2.30.0", "1.34.3", LAB),
            rec("v2.29.1", "1.33.7", LAB),
        ];
        let all = Allow { version_change: true, unremoved: true };
        for a in &family {
            for b in &family {
                let strict = judge(Some(a), b, Allow::default());
                let lax = judge(Some(a), b, all);
                if a == b {
                    assert_eq!(strict.clone().unwrap().steps, vec![]);
                }
                match (strict, lax) {
                    (Ok(s), Ok(l)) => assert_eq!(s.steps, l.steps),
                    (Err(r), Ok(l)) => assert!(r.iter().all(|r| l.allowed.contains(r))),
                    (Err(r), Err(_)) => {
                        assert!(r.iter().any(|r| r.flag().is_none()), "{r:?}");
                    }
                    (Ok(_), Err(e)) => panic!("allowing more refused {e:?}"),
                }
            }
        }
    }

    #[test]
    fn one_server_with_a_majority_of_etcd_is_found() {
        let majority = etcd_majority(&lab()).unwrap();
        assert_eq!(majority, EtcdMajority { host: "h1".into(), held: 2, total: 3, servers: 2 });
        let spread = rec("v2.31.0", "1.35.4", &["a:h1:c", "b:h2:c", "c:h3:c", "w:h1:w"]);
        assert_eq!(etcd_majority(&spread), None);
        let alone = rec("v2.31.0", "1.35.4", &["a:h1:c", "b:h1:c", "c:h1:c"]);
        assert_eq!(etcd_majority(&alone), None);
    }

    #[test]
    fn an_apply_names_what_its_new_and_dropped_vms_need() {
        let names = |v: &[&str]| v.iter().map(std::string::ToString::to_string).collect::<Vec<_>>();
        let made =
            |v: &[(&str, bool)]| v.iter().map(|(n, c)| (n.to_string(), *c)).collect::<Vec<_>>();
        assert_eq!(
            after_apply(&made(&[("cp-1", true), ("w-1", false)]), &[], 1, true),
            [Step::Deploy]
        );
        assert_eq!(after_apply(&[], &[], 3, true), []);
        let text =
            commands(&after_apply(&made(&[("w-8", false), ("w-9", false)]), &[], 3, false), "out");
        assert_eq!(
            text,
            "  1. out/kubespray/deploy.sh playbooks/facts.yml\n  2. out/kubespray/deploy.sh scale.yml --limit w-8,w-9\n"
        );
        let steps = after_apply(&made(&[("cp-4", true)]), &names(&["cp-1"]), 4, false);
        let text = commands(&steps, "out");
        assert!(
            text.starts_with(
                "  1. out/kubespray/deploy.sh cluster.yml -e ignore_assert_errors=yes\n"
            ),
            "{text}"
        );
        assert!(
            text.contains(
                "  3. out/kubespray/deploy.sh cluster.yml\n     (rewrites the etcd member lists"
            ),
            "{text}"
        );
    }
}
