//! Every path and name gen gives a file or a thing: in `out/`, on a server, inside a guest.
//!
//! Renderers, write, check, apply and the summary of `gen build` ask this module where a file
//! goes or what a unit or VM is called; templates receive the names and never build them. A
//! change of layout is a change here (and in the golden trees).

use crate::site::{Label, RemoteRoot, Role};

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

/// The manifest, at the top of `out/`; it is not part of any hash it records.
pub const MANIFEST: &str = "manifest.toml";

// Inside a host's folder (paths relative to `hosts/<host>/`, as on the server).

/// The entrypoint `gen apply` runs on the server.
pub const ENTRYPOINT: &str = "apply.sh";

/// A role group's Vagrantfile.
pub fn vagrantfile(role: Role) -> String {
    format!("{}/Vagrantfile", role.group())
}

/// A guest's netplan override, as the host keeps it.
pub fn netplan(node: &Label) -> String {
    format!("netplan/{node}.yaml")
}

/// The same netplan file as the Vagrantfile beside it names it.
pub fn netplan_from_vagrantfile(node: &Label) -> String {
    format!("../{}", netplan(node))
}

/// A role group's systemd unit, in the host's folder.
pub fn unit_file(cluster: &Label, host: &Label, role: Role) -> String {
    format!("systemd/{}", unit_name(cluster, host, role))
}

/// `<cluster>-<host>-<group>.service`: names the lab, the server and the Vagrantfile it starts.
pub fn unit_name(cluster: &Label, host: &Label, role: Role) -> String {
    format!("{cluster}-{host}-{}.service", role.group())
}

/// The VirtualBox name of a node's VM: the cluster's name keeps two labs on one server apart.
pub fn vm_name(cluster: &Label, node: &Label) -> String {
    format!("{cluster}-{node}")
}

// On the server, below the host's `root`.

/// Where a host keeps the current generation's copy of a role group's Vagrantfile.
pub fn vagrant_cwd(root: &RemoteRoot, role: Role) -> String {
    format!("{root}/current/{}", role.group())
}

/// Vagrant's machine state (VM ids) lives outside every generation, so switching generations
/// never orphans a VM.
pub fn vagrant_state(root: &RemoteRoot, role: Role) -> String {
    format!("{root}/state/{}", role.group())
}

// In the kubespray folder of `out/`.

/// The inventory kubespray reads.
pub const INVENTORY: &str = "kubespray/inventory/hosts.yaml";
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
