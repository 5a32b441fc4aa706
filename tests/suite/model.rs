//! A model-based test of changing a running lab: random sequences of edits to a site, each
//! built by gen and applied with `--all` by gen's own plan (`labgen::apply::plan`), executed
//! step by step over a model of the servers that keeps state the way VirtualBox, Vagrant and
//! systemd do: a VM registry per server with unique VirtualBox names (a taken name fails the
//! create, as `VBoxManage import` does), a machine id per Vagrant dotfile path, hardware fixed
//! at creation and taken from the Vagrantfile at each boot, units that run `vagrant up` and
//! `vagrant halt`, and one LAN on which addresses are held by running VMs.
//!
//! The steps mean what `templates/apply.sh` makes them mean on a server; the real path (ssh,
//! the shell steps, stand-ins for the tools) is exercised by `apply.rs`. Checked after every
//! sub-step of every apply: no two running VMs share an IP or a MAC; no more etcd members are
//! down than quorum allows. After every apply: every node runs exactly once, on its server,
//! with its IP, MAC and hardware, nothing else is registered, VMs whose inputs did not change
//! were never halted, and planning again finds nothing to do.
//!
//! The seed is fixed, so every run sees the same sequences.

use std::collections::{BTreeMap, BTreeSet};

use labgen::apply::plan::{self, Action, Facts, Seen, Server, Step, Vm, Wanted};

const SEQUENCES: usize = 200;
const EDITS_PER_SEQUENCE: usize = 6;

/// xorshift64*: small, fixed and enough to pick edits.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }

    fn pick<'a, T>(&mut self, items: &'a [T]) -> Option<&'a T> {
        if items.is_empty() { None } else { Some(&items[self.below(items.len())]) }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct NodeSpec {
    host: usize,
    control_plane: bool,
    ip: u8,
    cpus: u32,
    memory_mb: u32,
}

/// The part of a site the edits change.
#[derive(Debug, Clone)]
struct Lab {
    hosts: usize,
    nodes: BTreeMap<String, NodeSpec>,
    keys: usize,
    box_version: u32,
    next_name: usize,
    /// Servers whose provider is libvirt (whose creates launch, then wait).
    libvirt: BTreeSet<usize>,
}

const KEYS: [&str; 3] = [
    "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIAGfasj2MY1IzWlQzwHSZ6exX+/rBgGRtt9h2azSSsxK a@l",
    "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAID6K0gt3z0GigMUFpyQDyNaE/dTt9fhvEJ1xoH+becVy b@l",
    "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIHwCCtkByEotFWeQbBovmOZfTrDpg04EsAoQ9r7YD+Xg c@l",
];

impl Lab {
    fn new(rng: &mut Rng) -> Lab {
        let hosts = 2 + rng.below(2);
        let mut lab = Lab {
            hosts,
            nodes: BTreeMap::new(),
            keys: 1,
            box_version: 1,
            next_name: 0,
            libvirt: BTreeSet::new(),
        };
        if rng.below(2) == 0 {
            lab.libvirt.insert(1);
        }
        for i in 0..3 {
            lab.add(i % hosts, true);
        }
        for i in 0..hosts + rng.below(3) {
            lab.add(i % hosts, false);
        }
        lab
    }

    fn free_ip(&self) -> u8 {
        (20..250).find(|ip| !self.nodes.values().any(|n| n.ip == *ip)).unwrap()
    }

    fn add(&mut self, host: usize, control_plane: bool) {
        let name = format!("n{}", self.next_name);
        self.next_name += 1;
        let ip = self.free_ip();
        self.nodes.insert(name, NodeSpec { host, control_plane, ip, cpus: 2, memory_mb: 4096 });
    }

    fn names(&self, control_plane: Option<bool>) -> Vec<String> {
        self.nodes
            .iter()
            .filter(|(_, n)| control_plane.is_none_or(|c| n.control_plane == c))
            .map(|(name, _)| name.clone())
            .collect()
    }

    /// One random edit; its name, for the failure message.
    fn edit(&mut self, rng: &mut Rng) -> String {
        let workers = self.names(Some(false));
        let cps = self.names(Some(true));
        let all = self.names(None);
        match rng.below(11) {
            0 => {
                let host = rng.below(self.hosts);
                self.add(host, false);
                format!("add a worker on h{}", host + 1)
            }
            1 if !workers.is_empty() => {
                let name = rng.pick(&workers).unwrap().clone();
                self.nodes.remove(&name);
                format!("remove {name}")
            }
            2 => {
                let name = rng.pick(&all).unwrap().clone();
                let node = self.nodes.remove(&name).unwrap();
                let new = format!("n{}", self.next_name);
                self.next_name += 1;
                self.nodes.insert(new.clone(), node);
                format!("rename {name} to {new} (same ip)")
            }
            3 => {
                let name = rng.pick(&all).unwrap().clone();
                let node = self.nodes.get_mut(&name).unwrap();
                node.host = (node.host + 1 + rng.below(self.hosts - 1)) % self.hosts;
                format!("move {name} to h{}", node.host + 1)
            }
            4 if !workers.is_empty() => {
                // etcd wants an odd count: a worker and a control plane swap roles.
                let w = rng.pick(&workers).unwrap().clone();
                let c = rng.pick(&cps).unwrap().clone();
                self.nodes.get_mut(&w).unwrap().control_plane = true;
                self.nodes.get_mut(&c).unwrap().control_plane = false;
                format!("{w} becomes a control plane, {c} a worker")
            }
            5 => {
                let name = rng.pick(&all).unwrap().clone();
                let node = self.nodes.get_mut(&name).unwrap();
                if rng.below(2) == 0 {
                    node.cpus = 1 + (node.cpus % 4);
                } else {
                    node.memory_mb = if node.memory_mb == 4096 { 8192 } else { 4096 };
                }
                format!("resize {name}")
            }
            6 => {
                self.keys = 1 + (self.keys % KEYS.len());
                format!("authorized keys: {}", self.keys)
            }
            7 => {
                self.box_version += 1;
                format!("box version {}", self.box_version)
            }
            8 => {
                // A whole group: every worker of one server.
                let host = rng.below(self.hosts);
                self.nodes.retain(|_, n| n.control_plane || n.host != host);
                format!("remove every worker of h{}", host + 1)
            }
            9 => {
                let name = rng.pick(&all).unwrap().clone();
                let ip = self.free_ip();
                self.nodes.get_mut(&name).unwrap().ip = ip;
                format!("new ip for {name}")
            }
            10 => {
                let host = rng.below(self.hosts);
                let was = if self.libvirt.remove(&host) {
                    "libvirt"
                } else {
                    self.libvirt.insert(host);
                    "virtualbox"
                };
                format!("h{} moves from {was} to the other provider", host + 1)
            }
            _ => "nothing".to_string(),
        }
    }

    fn toml(&self) -> String {
        let mut text = format!(
            "[cluster]\nname = \"lab\"\n\n[kubespray]\nversion = \"v2.31.0\"\n\n\
             [network]\ncidr = \"192.168.1.0/24\"\ngateway = \"192.168.1.1\"\n\
             dns = [\"192.168.1.1\"]\n\n[vagrant]\nbox = \"bento/ubuntu-24.04\"\n\
             box_version = \"2025.{}.0\"\nauthorized_keys = [{}]\n\n[addons]\nhelm = false\n",
            self.box_version,
            KEYS[..self.keys].iter().map(|k| format!("\"{k}\"")).collect::<Vec<_>>().join(", ")
        );
        for h in 0..self.hosts {
            let provider = if self.libvirt.contains(&h) {
                "bridge = \"br0\"\nprovider = \"libvirt\"\n"
            } else {
                "bridge = \"eno1\"\n"
            };
            text += &format!(
                "\n[hosts.h{}]\naddress = \"10.0.0.{}\"\nuser = \"lab\"\n{provider}\
                 host_key = \"{}\"\n",
                h + 1,
                h + 1,
                "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAID6K0gt3z0GigMUFpyQDyNaE/dTt9fhvEJ1xoH+becVy"
            );
        }
        for (name, n) in &self.nodes {
            text += &format!(
                "\n[nodes.{name}]\nhost = \"h{}\"\nrole = \"{}\"\nip = \"192.168.1.{}\"\n\
                 cpus = {}\nmemory_mb = {}\n",
                n.host + 1,
                if n.control_plane { "control-plane" } else { "worker" },
                n.ip,
                n.cpus,
                n.memory_mb
            );
        }
        text
    }
}

/// A VM in one server's VirtualBox registry.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Registered {
    node: String,
    ip: String,
    mac: String,
    cpus: u32,
    memory_mb: u32,
    running: bool,
    boots: u32,
}

/// One VM server: VirtualBox, Vagrant's dotfiles, systemd, and gen's folders.
#[derive(Debug, Clone, Default)]
struct Host {
    /// VirtualBox: VM name → VM.
    registry: BTreeMap<String, Registered>,
    /// Vagrant: node (its dotfile path, state/NODE) → the VM name its machine id names.
    dotfiles: BTreeMap<String, String>,
    /// vms/NODE → the facts of the generation it points into.
    links: BTreeMap<String, Facts>,
    pending: BTreeSet<String>,
    active: BTreeSet<String>,
    /// Launched (a queued start): up only at its wait.
    launched: BTreeSet<String>,
    enabled: BTreeSet<String>,
    unit: Option<String>,
    current: Option<String>,
}

/// What is observed while the plan runs, and checked as it goes.
struct Watch {
    /// Control planes of the new site running when the apply starts: the members it may take
    /// down.
    members: BTreeSet<String>,
    allowance: usize,
    /// VMs whose inputs did not change: node → (server, VM name).
    unchanged: BTreeMap<String, (usize, String)>,
}

fn running_nodes(hosts: &[Host]) -> BTreeSet<String> {
    hosts
        .iter()
        .flat_map(|h| h.registry.values().filter(|v| v.running).map(|v| v.node.clone()))
        .collect()
}

fn check_lan(hosts: &[Host], watch: &Watch, context: &str) -> Result<(), String> {
    let mut held: BTreeMap<&str, &str> = BTreeMap::new();
    for h in hosts {
        for vm in h.registry.values().filter(|v| v.running) {
            for a in [&vm.ip, &vm.mac] {
                if let Some(other) = held.insert(a, &vm.node) {
                    return Err(format!("{context}: {a} held by {other} and {} at once", vm.node));
                }
            }
        }
    }
    let up = running_nodes(hosts);
    let down = watch.members.iter().filter(|m| !up.contains(*m)).count();
    if down > watch.allowance {
        return Err(format!(
            "{context}: {down} etcd members down at once (allowed {})",
            watch.allowance
        ));
    }
    for (node, (server, name)) in &watch.unchanged {
        let vm = hosts[*server].registry.get(name);
        if !vm.is_some_and(|v| v.running) {
            return Err(format!("{context}: {node}, whose inputs did not change, was halted"));
        }
    }
    Ok(())
}

impl Host {
    fn seen(&self) -> Seen {
        Seen {
            vms: self
                .links
                .iter()
                .map(|(node, facts)| {
                    let vm = Vm {
                        facts: Some(facts.clone()),
                        active: self.active.contains(node),
                        pending: self.pending.contains(node),
                    };
                    (node.clone(), vm)
                })
                .collect(),
            unit: self.unit.clone(),
            current: self.current.clone(),
        }
    }

    /// `vagrant up` with the Vagrantfile vms/NODE points at.
    fn up(&mut self, node: &str) -> Result<(), String> {
        let facts = self.links.get(node).ok_or(format!("no vms/{node}"))?.clone();
        let name = if let Some(name) =
            self.dotfiles.get(node).filter(|n| self.registry.contains_key(*n))
        {
            name.clone()
        } else {
            if self.registry.contains_key(&facts.vm_name) {
                return Err(format!(
                    "VBoxManage import: a VM named {} is already registered",
                    facts.vm_name
                ));
            }
            self.registry.insert(
                facts.vm_name.clone(),
                Registered {
                    node: node.to_string(),
                    ip: facts.ip.clone(),
                    mac: facts.mac.clone(),
                    cpus: facts.cpus,
                    memory_mb: facts.memory_mb,
                    running: false,
                    boots: 0,
                },
            );
            self.dotfiles.insert(node.to_string(), facts.vm_name.clone());
            facts.vm_name.clone()
        };
        let vm = self.registry.get_mut(&name).unwrap();
        if !vm.running {
            // Pre-boot: modifyvm from the Vagrantfile, NICs set again.
            vm.cpus = facts.cpus;
            vm.memory_mb = facts.memory_mb;
            vm.ip = facts.ip;
            vm.mac = facts.mac;
            vm.running = true;
            vm.boots += 1;
        }
        Ok(())
    }

    fn halt(&mut self, node: &str) {
        if let Some(name) = self.dotfiles.get(node) {
            if let Some(vm) = self.registry.get_mut(name) {
                vm.running = false;
            }
        }
    }

    fn point(&mut self, node: &str, facts: &Facts) {
        self.links.insert(node.to_string(), facts.clone());
        self.pending.insert(node.to_string());
    }
}

/// Runs one step as apply.sh and the tools would, checking the LAN and quorum after each
/// change of a VM's power.
fn run_step(
    hosts: &mut [Host],
    server: usize,
    step: &Step,
    wanted: &Wanted,
    watch: &Watch,
) -> Result<(), String> {
    let context = format!("h{} {step:?}", server + 1);
    match step {
        Step::Send => {}
        Step::Switch => hosts[server].current = Some(wanted.hash.clone()),
        Step::InstallUnit => hosts[server].unit.clone_from(&wanted.unit),
        Step::RetireUnit => hosts[server].unit = None,
        Step::FetchBox { .. } | Step::Keeper => {}
        Step::Finish => {
            let h = &mut hosts[server];
            for (node, facts) in &mut h.links {
                if let Some(new) = wanted.machines.get(node) {
                    *facts = new.clone();
                }
            }
        }
        Step::Vm { node, action, .. } => {
            let new = wanted.machines.get(node);
            match action {
                Action::Launch => {
                    // The start is queued: the VM comes up at the latest at its wait, which is
                    // when the model brings it up (the LAN and quorum checks then see it).
                    let h = &mut hosts[server];
                    if h.unit.is_none() {
                        return Err(format!("{context}: the unit is not installed"));
                    }
                    h.point(node, new.expect("launched from the new tree"));
                    h.enabled.insert(node.clone());
                    h.launched.insert(node.clone());
                }
                Action::Create | Action::Start | Action::Reload => {
                    let h = &mut hosts[server];
                    if h.unit.is_none() {
                        return Err(format!("{context}: the unit is not installed"));
                    }
                    h.point(node, new.expect("brought up from the new tree"));
                    h.enabled.insert(node.clone());
                    if *action == Action::Reload && h.active.remove(node) {
                        h.halt(node);
                        check_lan(hosts, watch, &context)?;
                    }
                    let h = &mut hosts[server];
                    if !h.active.contains(node) {
                        h.up(node).map_err(|e| format!("{context}: {e}"))?;
                        h.active.insert(node.clone());
                    }
                    h.pending.remove(node);
                }
                Action::Wait => {
                    let h = &mut hosts[server];
                    if !h.launched.remove(node) {
                        return Err(format!("{context}: a wait for a VM nothing launched"));
                    }
                    h.up(node).map_err(|e| format!("{context}: {e}"))?;
                    h.active.insert(node.clone());
                    h.pending.remove(node);
                }
                Action::Halt => {
                    let h = &mut hosts[server];
                    if h.active.remove(node) {
                        h.halt(node);
                    }
                }
                Action::Provision => {
                    let h = &mut hosts[server];
                    h.point(node, new.expect("provisioned from the new tree"));
                    let running = h
                        .dotfiles
                        .get(node)
                        .and_then(|n| h.registry.get(n))
                        .is_some_and(|v| v.running);
                    if !running {
                        return Err(format!("{context}: provision of a VM that is not running"));
                    }
                    h.pending.remove(node);
                }
                Action::Destroy => {
                    let h = &mut hosts[server];
                    if !h.links.contains_key(node) {
                        return Err(format!("{context}: no Vagrantfile left to destroy it with"));
                    }
                    h.enabled.remove(node);
                    if h.active.remove(node) {
                        h.halt(node);
                    }
                    if let Some(name) = h.dotfiles.remove(node) {
                        h.registry.remove(&name);
                    }
                    h.links.remove(node);
                    h.pending.remove(node);
                }
            }
        }
    }
    check_lan(hosts, watch, &context)
}

/// What gen's build gives each server.
fn wanted(text: &str, hosts: usize) -> Vec<Wanted> {
    let tree = labgen::build(text, "site.toml").unwrap_or_else(|e| panic!("{e}\n{text}")).tree;
    (0..hosts)
        .map(|h| {
            let host = format!("h{}", h + 1);
            let machines = tree
                .get(&format!("hosts/{host}/machines.toml"))
                .map(|f| plan::parse_machines(&String::from_utf8_lossy(&f.bytes)).unwrap())
                .unwrap_or_default();
            let unit = tree
                .get(&format!("hosts/{host}/systemd/lab-vm@.service"))
                .map(|f| labgen::tree::sha256_hex(&f.bytes));
            Wanted { hash: tree.host_hash(&host), machines, unit }
        })
        .collect()
}

fn servers(hosts: &[Host], wanted: &[Wanted]) -> Vec<Server> {
    hosts
        .iter()
        .zip(wanted)
        .enumerate()
        .map(|(i, (h, w))| Server {
            name: format!("h{}", i + 1),
            seen: Some(h.seen()),
            wanted: w.clone(),
            applied: true,
        })
        .collect()
}

/// Facts that make a VM's inputs "unchanged": all but the box (used only at creation).
fn same_inputs(a: &Facts, b: &Facts) -> bool {
    let strip =
        |f: &Facts| Facts { box_name: String::new(), box_version: String::new(), ..f.clone() };
    strip(a) == strip(b)
}

/// `gen apply --all` over the model; returns the number of steps run.
fn apply_all(hosts: &mut [Host], text: &str) -> Result<usize, String> {
    let wanted = wanted(text, hosts.len());
    let servers = servers(hosts, &wanted);
    let plan = plan::plan(&servers).map_err(|r| format!("refused: {} ({})", r.reason, r.fix))?;
    let members: BTreeSet<String> = wanted
        .iter()
        .flat_map(|w| w.machines.iter())
        .filter(|(_, f)| f.is_control_plane())
        .map(|(n, _)| n.clone())
        .collect();
    let up = running_nodes(hosts);
    let mut unchanged = BTreeMap::new();
    for (i, (h, w)) in hosts.iter().zip(&wanted).enumerate() {
        for (node, old) in &h.links {
            let running = h.active.contains(node);
            if let Some(new) = w.machines.get(node) {
                if running && same_inputs(old, new) {
                    unchanged.insert(node.clone(), (i, h.dotfiles[node].clone()));
                }
            }
        }
    }
    let watch = Watch {
        allowance: plan::quorum_allowance(members.len()),
        members: members.into_iter().filter(|m| up.contains(m)).collect(),
        unchanged,
    };
    for p in &plan.steps {
        run_step(hosts, p.server, &p.step, &wanted[p.server], &watch)?;
    }
    // Every node runs exactly once, on its server, as the tree says; nothing else is there.
    for (i, (h, w)) in hosts.iter().zip(&wanted).enumerate() {
        let names: BTreeSet<&String> = w.machines.values().map(|f| &f.vm_name).collect();
        let registered: BTreeSet<&String> = h.registry.keys().collect();
        if names != registered {
            return Err(format!("h{}: registered {registered:?}, wanted {names:?}", i + 1));
        }
        for (node, f) in &w.machines {
            let vm = &h.registry[&f.vm_name];
            let have = (&vm.node, &vm.ip, &vm.mac, vm.cpus, vm.memory_mb, vm.running);
            let want = (node, &f.ip, &f.mac, f.cpus, f.memory_mb, true);
            if have != want {
                return Err(format!("h{}: {node} is {have:?}, wanted {want:?}", i + 1));
            }
        }
        if (h.unit.is_some()) != (w.unit.is_some()) || h.active.len() != w.machines.len() {
            return Err(format!("h{}: unit {:?}, active {:?}", i + 1, h.unit, h.active));
        }
    }
    // An unchanged re-apply changes nothing.
    let again = plan::plan(&servers_after(hosts, &wanted)).map_err(|r| r.reason)?;
    if !again.steps.is_empty() {
        return Err(format!("an unchanged re-apply would run {:?}", again.steps));
    }
    Ok(plan.steps.len())
}

fn servers_after(hosts: &[Host], wanted: &[Wanted]) -> Vec<Server> {
    servers(hosts, wanted)
}

#[test]
fn random_edits_of_a_running_lab_keep_every_invariant() {
    let started = std::time::Instant::now();
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    let mut steps = 0;
    let mut applies = 0;
    for sequence in 0..SEQUENCES {
        let mut lab = Lab::new(&mut rng);
        let mut hosts = vec![Host::default(); lab.hosts];
        let mut history = vec!["first apply".to_string()];
        let fail = |history: &[String], lab: &Lab, e: String| -> ! {
            panic!("sequence {sequence}: {e}\nedits: {history:#?}\nsite:\n{}", lab.toml())
        };
        match apply_all(&mut hosts, &lab.toml()) {
            Ok(n) => steps += n,
            Err(e) => fail(&history, &lab, e),
        }
        applies += 1;
        for _ in 0..EDITS_PER_SEQUENCE {
            let before = lab.clone();
            let edit = lab.edit(&mut rng);
            history.push(edit);
            if labgen::build(&lab.toml(), "site.toml").is_err() {
                // An edit the site rules refuse (say, a server's last VM moved off a full
                // one) is not applied: gen would not build it either.
                lab = before;
                history.pop();
                continue;
            }
            match apply_all(&mut hosts, &lab.toml()) {
                Ok(n) => steps += n,
                Err(e) => fail(&history, &lab, e),
            }
            applies += 1;
        }
    }
    eprintln!(
        "model: {SEQUENCES} sequences, {applies} applies, {steps} steps in {:.1?}",
        started.elapsed()
    );
}
