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

use crate::record::{Record, RecordNode, version};
use crate::site::Role;

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

mod commands;
mod etcd;
mod refusal;

pub use commands::{after_apply, commands};
pub use etcd::etcd_majority;

#[cfg(test)]
mod tests;
