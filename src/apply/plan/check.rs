//! The plan played over what the servers run, step by step: it refuses a plan that would bring
//! up a VM whose VirtualBox name, IP or MAC another still holds, or take more etcd members
//! down at once than quorum allows.

use std::collections::{BTreeMap, BTreeSet};

use super::{Action, Facts, Plan, Refusal, Server, Step};

/// At most this many etcd members may be down at once with `members` of them: etcd needs a
/// majority. A lab with fewer than 3 has no failure to tolerate; gen still takes them down
/// one at a time (and says so).
pub fn quorum_allowance(members: usize) -> usize {
    if members >= 3 { (members - 1) / 2 } else { 1 }
}

/// Who holds an address or a name while the plan runs.
#[derive(Default)]
pub(super) struct Holders {
    /// (server, VirtualBox name) → node: every registered VM.
    names: BTreeMap<(usize, String), String>,
    /// ip or mac → (server, node): every running VM.
    addresses: BTreeMap<String, (usize, String)>,
}

/// Plays the plan over what the servers run: refuses a step that would bring a VM up on an
/// address another VM holds, register a taken VirtualBox name, or take more etcd members down
/// than quorum allows.
pub(super) fn check(servers: &[Server], plan: &mut Plan, members: usize) -> Result<(), Refusal> {
    let unknown: Vec<&str> =
        servers.iter().filter(|s| s.seen.is_none()).map(|s| s.name.as_str()).collect();
    let mut holders = Holders::default();
    // Facts each VM runs with now, by (server, node).
    let mut running: BTreeMap<(usize, String), Facts> = BTreeMap::new();
    let mut registered: BTreeMap<(usize, String), Facts> = BTreeMap::new();
    for (i, s) in servers.iter().enumerate() {
        let Some(seen) = &s.seen else { continue };
        for (node, vm) in &seen.vms {
            let Some(facts) = &vm.facts else { continue };
            holders.names.insert((i, facts.vm_name.clone()), node.clone());
            registered.insert((i, node.clone()), facts.clone());
            // A VM that is registered holds its addresses even while it is down: its unit
            // starts it at the next boot.
            for a in [&facts.ip, &facts.mac] {
                holders.addresses.insert(a.clone(), (i, node.clone()));
            }
            if vm.active {
                running.insert((i, node.clone()), facts.clone());
            }
        }
    }
    let member_names: BTreeSet<String> = servers
        .iter()
        .flat_map(|s| s.wanted.machines.iter())
        .filter(|(_, f)| f.is_control_plane())
        .map(|(n, _)| n.clone())
        .collect();
    // Members that run now; those not running (or on servers gen cannot ask) are down.
    let up_members = |running: &BTreeMap<(usize, String), Facts>| {
        member_names.iter().filter(|n| running.keys().any(|(_, m)| m == *n)).count()
    };
    let allowance = quorum_allowance(members);
    if members > 0 && members < 3 {
        plan.notes.push(format!(
            "this lab has {members} etcd member{}: while one is down the cluster has no quorum",
            if members == 1 { "" } else { "s" }
        ));
    }
    // Only members that run when the apply starts count: a new or long-dead one is not taken
    // down by it.
    let initially_up = up_members(&running);
    let initially_known_down = member_names.len() - initially_up;
    for p in &plan.steps {
        let Step::Vm { node, action, .. } = &p.step else { continue };
        let server = p.server;
        let new = servers[server].wanted.machines.get(node);
        let key = (server, node.clone());
        match action {
            Action::Destroy | Action::Halt => {
                running.remove(&key);
                if let Some(f) = registered.get(&key) {
                    for a in [&f.ip, &f.mac] {
                        if holders.addresses.get(a) == Some(&key) {
                            holders.addresses.remove(a);
                        }
                    }
                }
                if *action == Action::Destroy {
                    if let Some(f) = registered.remove(&key) {
                        holders.names.remove(&(server, f.vm_name));
                    }
                }
            }
            Action::Create | Action::Launch | Action::Start | Action::Reload => {
                let new = new.expect("a VM brought up is in the new tree").clone();
                if matches!(action, Action::Create | Action::Launch) {
                    if !unknown.is_empty() {
                        return Err(Refusal {
                            reason: format!(
                                "{} cannot be asked what it runs, so creating {node} on {} could \
                                 put a second VM on its address",
                                unknown.join(", "),
                                servers[server].name
                            ),
                            fix: "make it reachable, or take it out of site.toml, and apply again"
                                .to_string(),
                        });
                    }
                    if let Some(other) = holders.names.get(&(server, new.vm_name.clone())) {
                        return Err(Refusal {
                            reason: format!(
                                "{} still has a VM named {} (node {other})",
                                servers[server].name, new.vm_name
                            ),
                            fix: format!("apply {} first", servers[server].name),
                        });
                    }
                    holders.names.insert((server, new.vm_name.clone()), node.clone());
                }
                if *action == Action::Reload {
                    // Down while it reboots: counted like a halt for quorum.
                    if member_names.contains(node) && running.contains_key(&key) {
                        let down = member_names.len() - up_members(&running) + 1;
                        if down > allowance && down > initially_known_down {
                            return Err(quorum_refusal(node, down, members));
                        }
                    }
                }
                for a in [&new.ip, &new.mac] {
                    if let Some((s, other)) = holders.addresses.get(a) {
                        if (*s, other) != (server, node) {
                            return Err(Refusal {
                                reason: format!(
                                    "{node} would come up on {} with {a}, which {other} on {} \
                                     still has",
                                    servers[server].name, servers[*s].name
                                ),
                                fix: if servers[*s].applied {
                                    "change one of the two addresses in another apply first"
                                        .to_string()
                                } else {
                                    format!(
                                        "run `gen apply {}` first (or `gen apply --all`)",
                                        servers[*s].name
                                    )
                                },
                            });
                        }
                    }
                }
                running.remove(&key);
                if let Some(f) = registered.insert(key.clone(), new.clone()) {
                    for a in [&f.ip, &f.mac] {
                        if holders.addresses.get(a) == Some(&key) {
                            holders.addresses.remove(a);
                        }
                    }
                }
                for a in [&new.ip, &new.mac] {
                    holders.addresses.insert(a.clone(), key.clone());
                }
                running.insert(key, new);
            }
            Action::Provision | Action::Wait => {}
        }
        let down = member_names.len() - up_members(&running);
        // Members that were down before the apply (or on servers gen cannot ask) are not this
        // apply's doing, but they count against quorum all the same.
        if down > initially_known_down && down > allowance {
            return Err(quorum_refusal(node, down, members));
        }
    }
    Ok(())
}

pub(super) fn quorum_refusal(node: &str, down: usize, members: usize) -> Refusal {
    Refusal {
        reason: format!(
            "taking {node} down would leave {down} of {members} etcd members down at once, more \
             than quorum allows ({})",
            quorum_allowance(members)
        ),
        fix: "bring the control planes that are down back first (`gen status`), or apply the \
              server that holds them"
            .to_string(),
    }
}
