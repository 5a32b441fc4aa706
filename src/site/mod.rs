//! The validated lab: what `site.toml` means once every rule holds.
//!
//! `Site::from_toml` reads the spanned document (`parse`) section by section (`read`), each
//! string into its type (`text`), then applies the rules that span values (`rules`), reporting
//! everything at once. After it returns `Ok`, nothing in a `Site` can be invalid: names are
//! RFC 1123 labels, addresses are typed, free text has been held to the grammar of every file it
//! lands in (shell, Ruby, YAML, systemd), and the kubespray choices are ones the release
//! accepts. Rendering never checks.

mod key_blob;
mod read;
mod rules;
mod text;

use std::fmt;
use std::net::Ipv4Addr;

use ipnet::Ipv4Net;

use crate::error::Error;
use crate::kubespray::Release;
use crate::parse::{self, Loc, Report};
use crate::problem::Problem;

/// For the schema and `gen init`, which describe and write the same keys.
pub(crate) use read::{CPUS, DEFAULT_CPUS, DEFAULT_MEMORY_MB, MEMORY_MB};
pub use text::{
    Address, AuthorizedKey, BoxName, BoxVersion, HostKey, InterfaceName, Label, RemoteRoot,
    UserName,
};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Site {
    pub cluster: Label,
    pub kubespray: Kubespray,
    pub network: Network,
    pub vagrant: Vagrant,
    pub addons: Addons,
    /// In name order.
    pub hosts: Vec<Host>,
    /// In name order.
    pub nodes: Vec<Node>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Kubespray {
    pub release: &'static Release,
    /// `X.Y.Z`, one of the release's `kube_versions`.
    pub kube_version: &'static str,
    pub network_plugin: &'static str,
    pub container_manager: &'static str,
    pub proxy_mode: &'static str,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Network {
    pub cidr: Ipv4Net,
    pub gateway: Ipv4Addr,
    pub dns: Vec<Ipv4Addr>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Vagrant {
    pub box_name: BoxName,
    pub box_version: BoxVersion,
    /// Keys that may log in to the guests' `vagrant` user: the machine that runs kubespray
    /// needs one.
    pub authorized_keys: Vec<AuthorizedKey>,
    /// `vb.linked_clone`: every VM a differencing disk over one imported copy of the box.
    pub linked_clone: bool,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Addons {
    pub helm: bool,
    pub metallb: Option<AddressRange>,
}

/// An inclusive range of LAN addresses (`first-last`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AddressRange {
    pub first: Ipv4Addr,
    pub last: Ipv4Addr,
}

impl AddressRange {
    pub fn contains(&self, ip: Ipv4Addr) -> bool {
        self.first <= ip && ip <= self.last
    }
}

impl fmt::Display for AddressRange {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}-{}", self.first, self.last)
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Host {
    pub name: Label,
    pub address: Address,
    pub port: u16,
    /// The ssh user that owns the VMs.
    pub user: UserName,
    /// The host NIC the guests bridge onto.
    pub bridge: InterfaceName,
    pub host_key: HostKey,
    /// Where the host keeps its generations.
    pub root: RemoteRoot,
    /// What runs its VMs under Vagrant.
    pub provider: Provider,
}

/// The Vagrant provider of a server's VMs: one per server, since it decides the server's
/// packages, units and steps.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub enum Provider {
    #[default]
    VirtualBox,
    /// vagrant-libvirt on the system libvirtd, with qemu under `driver`.
    Libvirt { driver: LibvirtDriver },
}

/// How libvirt runs the guests: `kvm` (hardware virtualization) or `qemu` (software
/// emulation, for a server or CI machine without VT-x/AMD-V; many times slower).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub enum LibvirtDriver {
    #[default]
    Kvm,
    Qemu,
}

impl Provider {
    const VIRTUALBOX: &'static str = "virtualbox";
    pub const LIBVIRT: &'static str = "libvirt";

    /// The values `provider` takes, as `site.toml` writes them, the default first.
    pub const WORDS: &'static [&'static str] = &[Provider::VIRTUALBOX, Provider::LIBVIRT];

    /// The provider as `site.toml`, Vagrant (`--provider`, `vagrant box list`) and
    /// `machines.toml` name it.
    pub fn word(self) -> &'static str {
        match self {
            Provider::VirtualBox => Provider::VIRTUALBOX,
            Provider::Libvirt { .. } => Provider::LIBVIRT,
        }
    }
}

impl LibvirtDriver {
    /// The values `libvirt_driver` takes, the default first.
    pub const WORDS: &'static [&'static str] = &["kvm", "qemu"];

    pub fn parse(value: &str) -> Option<LibvirtDriver> {
        match value {
            "kvm" => Some(LibvirtDriver::Kvm),
            "qemu" => Some(LibvirtDriver::Qemu),
            _ => None,
        }
    }

    /// The driver as vagrant-libvirt's `driver` names it (the libvirt domain type).
    pub fn word(self) -> &'static str {
        match self {
            LibvirtDriver::Kvm => "kvm",
            LibvirtDriver::Qemu => "qemu",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Node {
    pub name: Label,
    pub host: Label,
    pub role: Role,
    pub ip: Ipv4Addr,
    pub cpus: u32,
    pub memory_mb: u32,
    /// Leaving the cluster: it stays in the inventory (last among the control planes) and keeps
    /// its VM, so that kubespray's `remove-node.yml` can still reach it; a later build that drops
    /// the node destroys the VM (README, "Changing a running lab").
    pub remove: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Role {
    ControlPlane,
    Worker,
}

impl Role {
    /// The role `site.toml` names `value`.
    pub fn parse(value: &str) -> Result<Role, Problem> {
        match value {
            "control-plane" => Ok(Role::ControlPlane),
            "worker" => Ok(Role::Worker),
            _ => Err(Problem::UnknownRole { value: value.to_string() }),
        }
    }

    /// The role as `site.toml` and `machines.toml` write it.
    pub fn word(self) -> &'static str {
        match self {
            Role::ControlPlane => "control-plane",
            Role::Worker => "worker",
        }
    }

    /// The folder and unit-name part of this role's group on a host (gen's first layout).
    pub fn group(self) -> &'static str {
        match self {
            Role::ControlPlane => "control-plane",
            Role::Worker => "workers",
        }
    }
}

/// The bytes of a site file as text. TOML is UTF-8; anything else is an invalid site whose
/// error shows the line, the column and the byte that is not UTF-8.
pub fn decode(bytes: Vec<u8>, file: &str) -> Result<String, Error> {
    let e = match String::from_utf8(bytes) {
        Ok(text) => return Ok(text),
        Err(e) => e,
    };
    let offset = e.utf8_error().valid_up_to();
    let byte = e.as_bytes()[offset];
    // Shown with the bad bytes replaced; the prefix before the first one is unchanged.
    let shown = String::from_utf8_lossy(e.as_bytes());
    let mut report = Report::new(&shown);
    let loc = Loc { key: String::new(), offset, len: char::REPLACEMENT_CHARACTER.len_utf8() };
    report.add(&loc, Problem::NotUtf8 { byte, offset });
    Err(Error::InvalidSite { file: file.to_string(), diagnostics: report.into_diagnostics() })
}

impl Site {
    /// Validates the text of a site file. `file` names it in error messages.
    pub fn from_toml(text: &str, file: &str) -> Result<Site, Error> {
        let mut report = Report::new(text);
        let site =
            parse::document(text, &mut report).and_then(|doc| read::read_site(&doc, &mut report));
        match site {
            Some(site) if report.is_empty() => Ok(site),
            _ => Err(Error::InvalidSite {
                file: file.to_string(),
                diagnostics: report.into_diagnostics(),
            }),
        }
    }

    pub fn host(&self, name: &Label) -> Option<&Host> {
        self.hosts.iter().find(|h| &h.name == name)
    }

    pub fn control_planes(&self) -> impl Iterator<Item = &Node> {
        self.nodes.iter().filter(|n| n.role == Role::ControlPlane)
    }

    pub fn workers(&self) -> impl Iterator<Item = &Node> {
        self.nodes.iter().filter(|n| n.role == Role::Worker)
    }

    /// Kubespray's etcd group: with stacked etcd (kubespray's default) it is the control planes,
    /// in name order except that those leaving (`remove = true`) come last. kubespray cannot
    /// remove the first control plane, and its docs (`docs/operations/nodes.md`, "Adding/Removal
    /// of first `kube_control_plane`") have it pushed to another place first; a node that leaves
    /// is never the one the others depend on. The inventory (`render/kubespray.rs`) and the
    /// picture (`picture.rs`) both mark these.
    pub fn etcd_members(&self) -> Vec<&Label> {
        let staying = self.control_planes().filter(|n| !n.remove);
        let leaving = self.control_planes().filter(|n| n.remove);
        staying.chain(leaving).map(|n| &n.name).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_that_is_not_utf8_is_refused_at_its_line_and_byte() {
        let err = decode(b"a = 1\nb = \"\xffx\"\n".to_vec(), "site.toml").unwrap_err();
        let Error::InvalidSite { diagnostics, .. } = &err else { panic!("{err}") };
        assert_eq!((diagnostics[0].line, diagnostics[0].column), (2, 6));
        assert_eq!(diagnostics[0].problem, Problem::NotUtf8 { byte: 0xff, offset: 11 });
        assert!(err.to_string().contains("b = \"\u{fffd}x\"\n  |      ^"), "{err}");
    }
}
