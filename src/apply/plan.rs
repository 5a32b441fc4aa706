//! The plan of an apply: typed steps, computed once from what each server reports and the new
//! tree, printed by `gen apply --dry-run` and run, in the same order, by the executor.
//!
//! Per VM the plan compares the facts of the generation the VM was last applied from (its
//! `machines.toml` row, as the server reports it) with the new ones:
//!
//! - not on the server before: *create*; no longer on it (removed, renamed, moved away, a new
//!   VirtualBox name): *destroy*, with the Vagrantfile and state it was made with;
//! - another NIC (ip, mac, bridge): *halt* before anything takes addresses, *start* after;
//! - other cpus or memory: *reload*; only the guest's files (netplan, keys): *provision*;
//! - a VM whose unit is not running: *start*; anything else, box and box version included
//!   (Vagrant uses the box only when it creates a machine): nothing.
//!
//! Order, across every server the apply touches: sends; every *destroy* and *halt* that is not
//! a control plane's; switches and unit installs; *start*s of VMs that are down, control planes
//! first; then each control plane that must go down, one at a time, brought back before the
//! next; then *create*s, reloads and provisions. So nothing that could clash with a VM (its
//! VirtualBox name, IP or MAC) comes up before that VM is gone, and no more etcd members are
//! down at once than etcd's quorum allows. The plan checks both by playing its steps over what
//! the servers run and refuses what it cannot do safely.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::{self, Write as _};

use serde::Deserialize;

/// One VM's row of `machines.toml` (rendered by `render.rs`).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Facts {
    pub role: String,
    pub vm_name: String,
    pub ip: String,
    pub mac: String,
    pub bridge: String,
    pub cpus: u32,
    pub memory_mb: u32,
    #[serde(rename = "box")]
    pub box_name: String,
    pub box_version: String,
    pub guest: String,
}

impl Facts {
    pub fn is_control_plane(&self) -> bool {
        self.role == CONTROL_PLANE
    }

    /// What VirtualBox gives the VM at boot from its network configuration.
    fn nic(&self) -> (&str, &str, &str) {
        (&self.ip, &self.mac, &self.bridge)
    }
}

/// The `role` of a control plane (and etcd member) in `machines.toml`.
pub const CONTROL_PLANE: &str = "control-plane";

/// A host's `machines.toml`: node name → facts.
pub type Machines = BTreeMap<String, Facts>;

pub fn parse_machines(text: &str) -> Result<Machines, String> {
    toml::from_str(text).map_err(|e| format!("machines.toml does not read: {e}"))
}

/// One VM as its server reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Vm {
    /// The facts it was last applied with; `None` if that generation's `machines.toml` is gone.
    pub facts: Option<Facts>,
    /// Its unit is active: `vagrant up` returned and nothing stopped it since.
    pub active: bool,
    /// A step on it was cut short: it may not have what its facts say.
    pub pending: bool,
}

/// What a server runs now, as far as gen can know.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Seen {
    pub vms: BTreeMap<String, Vm>,
    /// sha256 of the template unit installed there, if any.
    pub unit: Option<String>,
    /// The generation `current` points at.
    pub current: Option<String>,
}

/// What a server is to run after this apply.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Wanted {
    pub hash: String,
    pub machines: Machines,
    /// sha256 of the generation's template unit; `None` when it runs no VM.
    pub unit: Option<String>,
}

/// One server in the plan.
#[derive(Debug, Clone)]
pub struct Server {
    pub name: String,
    /// What it reports; `None` when it was not (or could not be) asked.
    pub seen: Option<Seen>,
    /// What the new tree gives it.
    pub wanted: Wanted,
    /// This apply changes it; the others only inform the plan.
    pub applied: bool,
}

impl Server {
    /// The new tree's facts for this server, if this apply changes it.
    fn target(&self) -> Option<&Wanted> {
        self.applied.then_some(&self.wanted)
    }
}

/// What happens to one VM.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Action {
    Destroy,
    Halt,
    Start,
    Create,
    Reload,
    Provision,
}

impl Action {
    pub fn word(self) -> &'static str {
        match self {
            Action::Destroy => "destroy",
            Action::Halt => "halt",
            Action::Start => "start",
            Action::Create => "create",
            Action::Reload => "reload",
            Action::Provision => "provision",
        }
    }
}

/// One step on one server.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Step {
    /// Send the new generation (when the server lacks it).
    Send,
    /// Make the new generation `current`.
    Switch,
    /// Copy the generation's template unit into systemd's folder.
    InstallUnit,
    /// Remove the template unit: no VM is left there.
    RetireUnit,
    /// Install and start the user's VBoxSVC keeper, before any step that runs Vagrant or
    /// VBoxManage there: every VM then is a child of the keeper's VBoxSVC (README, "VBoxSVC
    /// and shutdown").
    Keeper,
    /// Make sure the box the new VMs are made from is in the user's box store, before any unit
    /// starts: `vagrant up` of a machine not yet created would otherwise download it inside the
    /// unit's start timeout (README, "Server requirements").
    FetchBox {
        name: String,
        version: String,
    },
    Vm {
        node: String,
        action: Action,
        why: String,
    },
    /// Record the generation as applied.
    Finish,
}

impl Step {
    /// The `apply.sh` step that runs it, with its node; `None` for what gen does itself.
    pub fn entrypoint(&self) -> Option<(&'static str, Option<&str>)> {
        match self {
            Step::InstallUnit => Some(("install-unit", None)),
            Step::RetireUnit => Some(("retire-unit", None)),
            Step::FetchBox { .. } => Some(("box", None)),
            Step::Keeper => Some(("keeper", None)),
            Step::Vm { node, action, .. } => Some((action.word(), Some(node.as_str()))),
            Step::Send | Step::Switch | Step::Finish => None,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Planned {
    /// Index into the plan's servers.
    pub server: usize,
    pub step: Step,
}

#[derive(Debug, Clone, Default)]
pub struct Plan {
    pub steps: Vec<Planned>,
    /// VMs left alone, by server: (server, node).
    pub unchanged: Vec<(usize, String)>,
    /// Things the user should know (a lab without etcd quorum to keep).
    pub notes: Vec<String>,
}

impl Plan {
    /// The steps on one server, in order.
    pub fn on(&self, server: usize) -> impl Iterator<Item = &Step> {
        self.steps.iter().filter(move |p| p.server == server).map(|p| &p.step)
    }

    /// The plan as `gen apply --dry-run` prints it and `gen apply` follows it: one line a step.
    /// (Its notes are said apart, as notes: `verbosity.rs`.)
    pub fn describe(&self, servers: &[Server], files: &dyn Fn(usize) -> String) -> String {
        let mut text = String::new();
        for p in &self.steps {
            let _ = writeln!(text, "{}", step_line(&servers[p.server], &p.step, &files(p.server)));
        }
        text
    }
}

impl Step {
    /// The step's name, as `remote.sh` and `--json` know it.
    pub fn word(&self) -> &'static str {
        match self {
            Step::Send => "send",
            Step::Switch => "switch",
            Step::InstallUnit => "install-unit",
            Step::RetireUnit => "retire-unit",
            Step::Keeper => "keeper",
            Step::FetchBox { .. } => "box",
            Step::Vm { action, .. } => action.word(),
            Step::Finish => "finish",
        }
    }
}

/// One step as the user reads it, prefixed by the server.
pub fn step_line(server: &Server, step: &Step, files: &str) -> String {
    let name = &server.name;
    let hash = short(&server.wanted.hash);
    match step {
        Step::Send => format!("{name}: send      {files}"),
        Step::Switch => format!("{name}: switch    current to {hash}"),
        Step::InstallUnit => format!("{name}: install   the template unit"),
        Step::RetireUnit => format!("{name}: retire    the template unit (no VM left there)"),
        Step::Keeper => format!("{name}: keeper    start the user's VBoxSVC, before any VM step"),
        Step::FetchBox { name: b, version } => {
            format!("{name}: box       {b} {version} (virtualbox), before any VM is created")
        }
        Step::Vm { node, action, why } => format!("{name}: {:<9} {node} ({why})", action.word()),
        Step::Finish => format!("{name}: finish    {hash} is applied"),
    }
}

fn short(hash: &str) -> &str {
    &hash[..hash.len().min(12)]
}

/// Why a plan cannot be run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refusal {
    pub reason: String,
    pub fix: String,
}

/// At most this many etcd members may be down at once with `members` of them: etcd needs a
/// majority. A lab with fewer than 3 has no failure to tolerate; gen still takes them down
/// one at a time (and says so).
pub fn quorum_allowance(members: usize) -> usize {
    if members >= 3 { (members - 1) / 2 } else { 1 }
}

/// Per VM on one server: what it needs, before ordering.
struct Need {
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
        if w.unit.is_some() && touched {
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
    for n in rest {
        push(&mut steps, n);
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
fn vm_need(vm: &Vm, new: &Facts) -> Option<(Action, String)> {
    let Some(old) = &vm.facts else {
        return Some((Action::Reload, "its last generation is gone: applied afresh".to_string()));
    };
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

/// Who holds an address or a name while the plan runs.
#[derive(Default)]
struct Holders {
    /// (server, VirtualBox name) → node: every registered VM.
    names: BTreeMap<(usize, String), String>,
    /// ip or mac → (server, node): every running VM.
    addresses: BTreeMap<String, (usize, String)>,
}

/// Plays the plan over what the servers run: refuses a step that would bring a VM up on an
/// address another VM holds, register a taken VirtualBox name, or take more etcd members down
/// than quorum allows.
fn check(servers: &[Server], plan: &mut Plan, members: usize) -> Result<(), Refusal> {
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
            Action::Create | Action::Start | Action::Reload => {
                let new = new.expect("a VM brought up is in the new tree").clone();
                if *action == Action::Create {
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
            Action::Provision => {}
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

fn quorum_refusal(node: &str, down: usize, members: usize) -> Refusal {
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

impl fmt::Display for Refusal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.reason)
    }
}
