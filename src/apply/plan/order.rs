//! From what each server runs and what the site wants there, every VM's need (create,
//! destroy, halt, start, reload, provision) and the steps in the order the module above gives.

use std::collections::{BTreeMap, BTreeSet};

use super::check::check;
use super::{Action, Facts, Plan, Planned, Refusal, Server, Step, Vm};

/// Per VM on one server: what it needs, before ordering.
pub(super) struct Need {
    server: usize,
    node: String,
    action: Action,
    why: String,
}

/// Computes the plan, or refuses it.
pub fn plan(servers: &[Server]) -> Result<Plan, Refusal> {
    let mut needs: Vec<Need> = Vec::new();
    let mut unchanged = Vec::new();
    // Where each node is wanted after the apply (over every server the apply changes).
    let mut wanted_at: BTreeMap<&str, usize> = BTreeMap::new();
    for (i, s) in servers.iter().enumerate() {
        for node in s.wanted.machines.keys() {
            wanted_at.insert(node, i);
        }
    }
    for (i, s) in servers.iter().enumerate() {
        let Some(wanted) = s.target() else { continue };
        let Some(seen) = &s.seen else { continue };
        for (node, vm) in &seen.vms {
            match wanted.machines.get(node) {
                None => {
                    let why = match wanted_at.get(node.as_str()) {
                        Some(&j) => format!("moves to {}", servers[j].name),
                        None => "no longer on this server".to_string(),
                    };
                    needs.push(Need {
                        server: i,
                        node: node.clone(),
                        action: Action::Destroy,
                        why,
                    });
                }
                Some(new) => match vm_need(vm, new) {
                    Some((action, why)) if action == Action::Destroy => {
                        // Same node, another VirtualBox name: made again under the new name.
                        needs.push(Need {
                            server: i,
                            node: node.clone(),
                            action,
                            why: why.clone(),
                        });
                        needs.push(Need {
                            server: i,
                            node: node.clone(),
                            action: Action::Create,
                            why,
                        });
                    }
                    Some((Action::Halt, why)) => {
                        needs.push(Need {
                            server: i,
                            node: node.clone(),
                            action: Action::Halt,
                            why: why.clone(),
                        });
                        needs.push(Need {
                            server: i,
                            node: node.clone(),
                            action: Action::Start,
                            why,
                        });
                    }
                    Some((action, why)) => {
                        needs.push(Need { server: i, node: node.clone(), action, why });
                    }
                    None => unchanged.push((i, node.clone())),
                },
            }
        }
        for node in wanted.machines.keys() {
            if !seen.vms.contains_key(node) {
                needs.push(Need {
                    server: i,
                    node: node.clone(),
                    action: Action::Create,
                    why: "new on this server".to_string(),
                });
            }
        }
    }

    let is_cp = |server: usize, node: &str| -> bool {
        servers[server].wanted.machines.get(node).is_some_and(Facts::is_control_plane)
    };
    // Control planes of the new tree (of every server it changes) that run now: etcd members
    // that an apply can take down.
    let members: BTreeSet<&str> = servers
        .iter()
        .flat_map(|s| s.wanted.machines.iter())
        .filter(|(_, f)| f.is_control_plane())
        .map(|(n, _)| n.as_str())
        .collect();
    let continuing = |node: &str| -> bool {
        members.contains(node)
            && servers.iter().any(|s| {
                s.seen.as_ref().and_then(|seen| seen.vms.get(node)).is_some_and(|vm| vm.active)
            })
    };

    let mut steps: Vec<Planned> = Vec::new();
    let push = |steps: &mut Vec<Planned>, n: &Need| {
        steps.push(Planned {
            server: n.server,
            step: Step::Vm { node: n.node.clone(), action: n.action, why: n.why.clone() },
        });
    };
    for (i, s) in servers.iter().enumerate() {
        if let (Some(w), Some(seen)) = (s.target(), &s.seen) {
            if seen.current.as_deref() != Some(w.hash.as_str()) {
                steps.push(Planned { server: i, step: Step::Send });
            }
        }
    }
    // The user's VBoxSVC keeper, on each server that runs VMs after the apply, before anything
    // runs Vagrant there (the destroys below do, as the ssh user) and before a unit that
    // requires it is installed.
    for (i, s) in servers.iter().enumerate() {
        let (Some(w), Some(seen)) = (s.target(), &s.seen) else { continue };
        let touched = needs.iter().any(|n| n.server == i) || seen.unit != w.unit;
        let virtualbox = w.machines.values().any(|f| !f.starts_in_parallel());
        if w.unit.is_some() && touched && virtualbox {
            steps.push(Planned { server: i, step: Step::Keeper });
        }
    }
    // The box of the VMs a server creates, fetched before anything on it changes: a slow
    // download then delays the apply, not a VM's boot.
    for (i, s) in servers.iter().enumerate() {
        let created = needs.iter().find(|n| n.server == i && n.action == Action::Create);
        if let Some(facts) = created.and_then(|n| s.wanted.machines.get(&n.node)) {
            steps.push(Planned {
                server: i,
                step: Step::FetchBox {
                    name: facts.box_name.clone(),
                    version: facts.box_version.clone(),
                    provider: facts.provider.clone(),
                },
            });
        }
    }
    // Control planes going down and coming back: grouped per node, run one node at a time.
    let mut cp_cycles: BTreeMap<String, Vec<&Need>> = BTreeMap::new();
    let goes_down = |n: &Need| {
        matches!(n.action, Action::Destroy | Action::Halt | Action::Reload)
            && continuing(&n.node)
            && servers[n.server]
                .seen
                .as_ref()
                .and_then(|seen| seen.vms.get(&n.node))
                .is_some_and(|vm| vm.active)
    };
    let mut cycle_nodes = BTreeSet::new();
    for n in &needs {
        if goes_down(n) {
            cycle_nodes.insert(n.node.clone());
        }
    }
    for n in &needs {
        if cycle_nodes.contains(&n.node) {
            cp_cycles.entry(n.node.clone()).or_default().push(n);
        }
    }
    // 1. Frees that are no control plane's cycle.
    for n in &needs {
        if matches!(n.action, Action::Destroy | Action::Halt) && !cycle_nodes.contains(&n.node) {
            push(&mut steps, n);
        }
    }
    // 2. Switches and units.
    for (i, s) in servers.iter().enumerate() {
        let (Some(w), Some(seen)) = (s.target(), &s.seen) else { continue };
        if seen.current.as_deref() != Some(w.hash.as_str()) {
            steps.push(Planned { server: i, step: Step::Switch });
        }
        if w.unit.is_some() && seen.unit != w.unit {
            steps.push(Planned { server: i, step: Step::InstallUnit });
        }
    }
    // 3. VMs that are down come up first, control planes before workers.
    let mut starts: Vec<&Need> = needs
        .iter()
        .filter(|n| n.action == Action::Start && !cycle_nodes.contains(&n.node))
        .filter(|n| !needs.iter().any(|m| m.node == n.node && m.action == Action::Halt))
        .collect();
    starts.sort_by_key(|n| (!is_cp(n.server, &n.node), n.node.clone()));
    for n in &starts {
        push(&mut steps, n);
    }
    // 4. Control planes, one at a time: each cycle's steps in the order destroy/halt, create,
    //    start, reload, provision.
    for cycle in cp_cycles.values() {
        let mut cycle = cycle.clone();
        cycle.sort_by_key(|n| n.action);
        for n in cycle {
            push(&mut steps, n);
        }
    }
    // 5. The rest: starts after a halt, creates, reloads, provisions.
    let mut rest: Vec<&Need> = needs
        .iter()
        .filter(|n| !cycle_nodes.contains(&n.node))
        .filter(|n| match n.action {
            Action::Destroy => false,
            Action::Halt => false,
            Action::Start => !starts.iter().any(|s| std::ptr::eq(*s, *n)),
            _ => true,
        })
        .collect();
    rest.sort_by_key(|n| {
        (n.action == Action::Provision, !is_cp(n.server, &n.node), n.node.clone())
    });
    // Where VMs start side by side (libvirt), a create only launches its VM, and the wait for
    // each comes after every other step of its server. Only these creates: a start or a
    // control plane's cycle may bring back an etcd member that a later step counts on.
    let launched = |n: &Need| {
        n.action == Action::Create
            && servers[n.server].wanted.machines.get(&n.node).is_some_and(Facts::starts_in_parallel)
    };
    for n in &rest {
        if launched(n) {
            let why = format!("{}; boots beside the others", n.why);
            steps.push(Planned {
                server: n.server,
                step: Step::Vm { node: n.node.clone(), action: Action::Launch, why },
            });
        } else {
            push(&mut steps, n);
        }
    }
    for n in rest.iter().filter(|n| launched(n)) {
        steps.push(Planned {
            server: n.server,
            step: Step::Vm {
                node: n.node.clone(),
                action: Action::Wait,
                why: "until its vagrant up is done".to_string(),
            },
        });
    }
    // 6. Units of servers left without VMs, and the record of each applied generation.
    for (i, s) in servers.iter().enumerate() {
        let (Some(w), Some(seen)) = (s.target(), &s.seen) else { continue };
        if w.unit.is_none() && seen.unit.is_some() {
            steps.push(Planned { server: i, step: Step::RetireUnit });
        }
    }
    for (i, s) in servers.iter().enumerate() {
        let Some(seen) = &s.seen else { continue };
        let busy = steps.iter().any(|p| p.server == i);
        if s.applied && (busy || seen.current.as_deref() != Some(s.wanted.hash.as_str())) {
            steps.push(Planned { server: i, step: Step::Finish });
        }
    }

    let mut plan = Plan { steps, unchanged, notes: Vec::new() };
    check(servers, &mut plan, members.len())?;
    Ok(plan)
}

/// What one VM that stays on its server needs, if anything, and why.
pub(super) fn vm_need(vm: &Vm, new: &Facts) -> Option<(Action, String)> {
    let Some(old) = &vm.facts else {
        return Some((Action::Reload, "its last generation is gone: applied afresh".to_string()));
    };
    if old.made_with() != new.made_with() {
        let was = old
            .libvirt_driver
            .as_ref()
            .map_or(old.provider.clone(), |d| format!("{} ({d})", old.provider));
        let is = new
            .libvirt_driver
            .as_ref()
            .map_or(new.provider.clone(), |d| format!("{} ({d})", new.provider));
        return Some((Action::Destroy, format!("made again under {is}, was {was}")));
    }
    if old.vm_name != new.vm_name {
        return Some((Action::Destroy, format!("renamed in VirtualBox to {}", new.vm_name)));
    }
    if old.nic() != new.nic() {
        let mut what = Vec::new();
        if old.ip != new.ip {
            what.push(format!("ip {} -> {}", old.ip, new.ip));
        }
        if old.bridge != new.bridge {
            what.push(format!("bridge {} -> {}", old.bridge, new.bridge));
        }
        if what.is_empty() {
            what.push(format!("mac {} -> {}", old.mac, new.mac));
        }
        return Some((Action::Halt, what.join(", ")));
    }
    if vm.pending {
        return Some((Action::Reload, "a step on it was cut short".to_string()));
    }
    let mut hardware = Vec::new();
    if old.cpus != new.cpus {
        hardware.push(format!("cpus {} -> {}", old.cpus, new.cpus));
    }
    if old.memory_mb != new.memory_mb {
        hardware.push(format!("memory {} -> {} MB", old.memory_mb, new.memory_mb));
    }
    if !vm.active {
        // `vagrant up` of a stopped machine applies its hardware and runs its provisioners.
        let why = if hardware.is_empty() { "not running".to_string() } else { hardware.join(", ") };
        return Some((Action::Start, why));
    }
    if !hardware.is_empty() {
        return Some((Action::Reload, hardware.join(", ")));
    }
    if old.guest != new.guest {
        return Some((Action::Provision, "its netplan file or the authorized keys".to_string()));
    }
    None
}
