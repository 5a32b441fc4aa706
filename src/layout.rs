//! Where things live: every path and name of a host's subtree in `out/`, and of gen's folders
//! on the VM server, in one place. Templates and apply receive these names; none rebuilds them.
//!
//! A host's subtree (`hosts/<host>/`) holds one Vagrant environment per VM, so that a VM is
//! started, provisioned, reloaded or destroyed on its own with the Vagrantfile it was made from
//! (README, "Changing a running lab"):
//!
//! ```text
//! hosts/<host>/apply.sh                         the steps gen runs there, one per call
//! hosts/<host>/machines.toml                    per-VM facts gen plans from
//! hosts/<host>/systemd/<cluster>-vm@.service    template unit, instance = node name
//! hosts/<host>/vms/<node>/Vagrantfile           one machine
//! hosts/<host>/vms/<node>/netplan.yaml          that machine's guest netplan override
//! ```
//!
//! On the server, under the host's `root`: `generations/<hash>/` (one host subtree each),
//! `current`, `vms/<node>` (a symlink to the `vms/<node>` folder of the generation the VM was
//! last applied from: Vagrant's `VAGRANT_CWD` for that VM, a path that stays the same across
//! generations) and `state/<node>` (Vagrant's `VAGRANT_DOTFILE_PATH` for it).

use crate::site::Label;

/// `hosts/<host>`: what `gen apply <host>` sends.
pub fn host_dir(host: &str) -> String {
    format!("hosts/{host}")
}

/// The entrypoint of a host subtree, relative to it.
pub const APPLY: &str = "apply.sh";

/// The per-VM facts of a host subtree, relative to it.
pub const MACHINES: &str = "machines.toml";

/// A VM's Vagrant folder, relative to the host subtree.
pub fn vm_dir(node: &str) -> String {
    format!("vms/{node}")
}

/// A VM's Vagrantfile, relative to the host subtree.
pub fn vagrantfile(node: &str) -> String {
    format!("{}/Vagrantfile", vm_dir(node))
}

/// The netplan override beside a VM's Vagrantfile: the file provisioner resolves `source:`
/// against the Vagrant environment's folder, so the Vagrantfile names it by this bare name.
pub const NETPLAN: &str = "netplan.yaml";

/// A VM's netplan override, relative to the host subtree.
pub fn netplan(node: &str) -> String {
    format!("{}/{NETPLAN}", vm_dir(node))
}

/// `<cluster>-vm@.service`: the template unit that runs one VM per instance.
pub fn unit_template(cluster: &Label) -> String {
    format!("{cluster}-vm@.service")
}

/// `<cluster>-vm@<node>.service`: the unit instance of one VM.
pub fn unit_instance(cluster: &Label, node: &str) -> String {
    format!("{cluster}-vm@{node}.service")
}

/// The template unit, relative to the host subtree.
pub fn unit_file(cluster: &Label) -> String {
    format!("systemd/{}", unit_template(cluster))
}

/// The VirtualBox name of a node's VM: unique in the server user's registry, and the same on
/// every server, so a VM is recognisable wherever it runs.
pub fn vm_name(cluster: &Label, node: &str) -> String {
    format!("{cluster}-{node}")
}

/// On the server: the VM's stable Vagrant folder (a symlink into a generation).
pub fn server_vm_dir(root: &str, node: &str) -> String {
    format!("{root}/vms/{node}")
}

/// On the server: the VM's Vagrant state (machine id), outside every generation.
pub fn server_state_dir(root: &str, node: &str) -> String {
    format!("{root}/state/{node}")
}
