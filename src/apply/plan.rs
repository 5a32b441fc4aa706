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

use std::collections::BTreeMap;
use std::fmt::{self, Write as _};

use serde::Deserialize;

mod check;
mod order;

pub use check::quorum_allowance;
pub use order::plan;

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
    /// The Vagrant provider that runs it; absent in the `machines.toml` of a VirtualBox server
    /// (whose bytes predate providers).
    #[serde(default = "virtualbox")]
    pub provider: String,
    /// libvirt's domain type (`kvm`, `qemu`), on a libvirt server.
    #[serde(default)]
    pub libvirt_driver: Option<String>,
}

fn virtualbox() -> String {
    crate::site::Provider::VirtualBox.word().to_string()
}

impl Facts {
    pub fn is_control_plane(&self) -> bool {
        self.role == CONTROL_PLANE
    }

    /// Whether its VMs' units start side by side: vagrant-libvirt's machines are independent
    /// libvirt domains; VirtualBox's share one VBoxSVC and, with linked clones, one master.
    pub fn starts_in_parallel(&self) -> bool {
        self.provider == crate::site::Provider::LIBVIRT
    }

    /// What the VM was made with: another provider or libvirt driver is another machine.
    fn made_with(&self) -> (&str, Option<&str>) {
        (&self.provider, self.libvirt_driver.as_deref())
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
    /// A *create* that does not wait for `vagrant up`: its unit's start is queued, so that the
    /// new VMs of a server boot side by side (libvirt).
    Launch,
    /// Wait for a launched VM's start, and fail as it failed.
    Wait,
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
            Action::Launch => "launch",
            Action::Wait => "wait",
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
        /// The provider the box is for, as Vagrant names it.
        provider: String,
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
        Step::FetchBox { name: b, version, provider } => {
            format!("{name}: box       {b} {version} ({provider}), before any VM is created")
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

impl fmt::Display for Refusal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.reason)
    }
}
