//! Every path and name gen gives a file or a thing: in `out/`, on a server, inside a guest.
//!
//! A host's folder holds one Vagrant environment per VM (README, "Changing a running lab"):
//! `apply.sh`, `machines.toml`, `systemd/<cluster>-vm@.service` (instance = node),
//! `vms/<node>/Vagrantfile` and `vms/<node>/netplan.yaml`. On the server, under the host's
//! `root`: `generations/<hash>/`, `current`, `vms/<node>` (a symlink into the generation the VM
//! was last applied from: its `VAGRANT_CWD`, a path that stays the same across generations) and
//! `state/<node>` (its `VAGRANT_DOTFILE_PATH`).
//!
//! Renderers, write, check, apply and the summary of `gen build` ask this module where a file
//! goes or what a unit or VM is called; templates receive the names and never build them. A
//! change of layout is a change here (and in the golden trees).

use crate::site::Label;

/// The folder of everything `gen apply <host>` sends to one server.
pub fn host_dir(host: impl std::fmt::Display) -> String {
    format!("{HOSTS}/{host}")
}

/// `hosts`: the folder of the per-server trees in `out/`.
pub const HOSTS: &str = "hosts";

/// `kubespray`: the folder of what is run from the laptop, in `out/`.
pub const KUBESPRAY: &str = "kubespray";

/// The host a path of `out/` belongs to, if it is below `hosts/<host>/`.
pub fn host_of(path: &str) -> Option<&str> {
    let rest = path.strip_prefix(HOSTS)?.strip_prefix('/')?;
    rest.split_once('/').map(|(host, _)| host)
}

/// Whether a path of `out/` is part of the laptop's kubespray run.
pub fn is_kubespray(path: &str) -> bool {
    path.strip_prefix(KUBESPRAY).is_some_and(|rest| rest.starts_with('/'))
}

/// The picture of the lab for reviewers (`picture.rs`), at the top of `out/`.
pub const PICTURE: &str = "README.md";

/// The manifest, at the top of `out/`; it is not part of any hash it records.
pub const MANIFEST: &str = "manifest.toml";

// Inside a host's folder (paths relative to `hosts/<host>/`, as on the server).

/// The entrypoint `gen apply` runs on the server.
pub const ENTRYPOINT: &str = "apply.sh";

/// `apply.sh`, the entrypoint, as the plan's steps name it.
pub const APPLY: &str = ENTRYPOINT;

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

/// `gen-vboxsvc@.service`: the template unit that keeps one user's VBoxSVC (instance = user
/// name). It is the user's, not a cluster's: VirtualBox runs one VBoxSVC per user, so two
/// clusters whose servers share an account share one keeper (README, "VBoxSVC and shutdown").
pub const KEEPER_TEMPLATE: &str = "gen-vboxsvc@.service";

/// `gen-vboxsvc@<user>.service`: the keeper of one user's VBoxSVC.
pub fn keeper_instance(user: &str) -> String {
    format!("gen-vboxsvc@{user}.service")
}

/// The keeper's template unit, relative to the host subtree.
pub fn keeper_file() -> String {
    format!("systemd/{KEEPER_TEMPLATE}")
}

/// The template unit, relative to the host subtree.
pub fn unit_file(cluster: &Label) -> String {
    format!("systemd/{}", unit_template(cluster))
}

/// The VirtualBox name, or the libvirt domain, of a node's VM: the cluster's name keeps two
/// labs on one server apart.
pub fn vm_name(cluster: &Label, node: &str) -> String {
    format!("{}{node}", libvirt_prefix(cluster))
}

/// vagrant-libvirt names a domain `default_prefix` + the machine's name (its
/// `set_name_of_domain.rb`), and the machine is the node: this prefix makes the domain
/// [`vm_name`].
pub fn libvirt_prefix(cluster: &Label) -> String {
    format!("{cluster}-")
}

// On the server, below the host's `root`.

/// The VM's stable Vagrant folder (a symlink into a generation).
pub fn server_vm_dir(root: &str, node: &str) -> String {
    format!("{root}/vms/{node}")
}

/// The VM's Vagrant state (machine id), outside every generation, so switching generations
/// never orphans a VM.
pub fn server_state_dir(root: &str, node: &str) -> String {
    format!("{root}/state/{node}")
}

/// The environment Vagrant runs with for one VM, wherever it runs: the unit's `Environment=`
/// lines, `apply.sh`, and the VM's wrapper `bin/vagrant-<node>`. `root` and `node` may be
/// placeholders (`%i` in the unit, `$root`/`$node` in apply.sh).
pub fn vagrant_environment(root: &str, node: &str) -> [(&'static str, String); 3] {
    [
        ("VAGRANT_CWD", server_vm_dir(root, node)),
        ("VAGRANT_DOTFILE_PATH", server_state_dir(root, node)),
        // No call to HashiCorp's checkpoint service at each run.
        ("VAGRANT_CHECKPOINT_DISABLE", "1".to_string()),
    ]
}

/// `bin`: below the root, one wrapper per VM, `bin/vagrant-<node>`: Vagrant with the VM's
/// environment, for a person at the server. Plain `vagrant` in `vms/<node>` would use
/// `.vagrant/` there as its state, not know the VM, and `vagrant up` would try to make a second
/// one.
pub const SERVER_BIN: &str = "bin";

/// The entrypoint of the generation `current` points at, which the units run before each
/// `vagrant up` (`apply.sh preflight NODE`): every unit starts after the switch of `current`,
/// so it is the generation the plan brings the VM to.
pub fn server_current_entrypoint(root: &str) -> String {
    format!("{root}/current/{ENTRYPOINT}")
}

/// `units`: below the root, the unit files `apply.sh` stages for `sudo -n install`, so the
/// root command that installs them is one fixed line a sudoers rule can name (`sudo.rs`).
pub const SERVER_UNITS: &str = "units";

/// The staging folder of the unit files on the server.
pub fn server_units_dir(root: &str) -> String {
    format!("{root}/{SERVER_UNITS}")
}

// In the kubespray folder of `out/`.

/// The inventory kubespray reads.
pub const INVENTORY: &str = "kubespray/inventory/hosts.yaml";
/// The record of what the tree deploys, read back by the next build (`record.rs`).
pub const RECORD: &str = "kubespray/cluster.toml";
/// The inventory's group_vars folder.
pub const GROUP_VARS: &str = "kubespray/inventory/group_vars";
/// The release's `requirements.txt`, byte for byte.
pub const REQUIREMENTS: &str = "kubespray/requirements.txt";
/// The hash-pinned lock of the release's Python environment.
pub const REQUIREMENTS_LOCK: &str = "kubespray/requirements.lock";
/// The script run from the laptop.
pub const DEPLOY: &str = "kubespray/deploy.sh";

/// A group_vars file: `group` is `all` or `k8s_cluster`.
pub fn group_vars(group: &str, file: &str) -> String {
    format!("{GROUP_VARS}/{group}/{file}")
}

// Inside a guest.

/// Where the guest keeps gen's netplan override. netplan reads `/etc/netplan/*.yaml` in
/// lexical order and later files win, so `99-` sorts after the box's own files and after
/// `50-vagrant.yaml`; and it is not a file Vagrant ever rewrites.
pub const GUEST_NETPLAN_PATH: &str = "/etc/netplan/99-gen-bridged.yaml";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_of_out_tell_their_owner() {
        assert_eq!(host_of("hosts/a/apply.sh"), Some("a"));
        assert_eq!(host_of("hosts/a"), None);
        assert_eq!(host_of("hostsx/a/b"), None);
        assert!(is_kubespray(DEPLOY));
        assert!(!is_kubespray("kubesprayx/deploy.sh"));
    }
}
