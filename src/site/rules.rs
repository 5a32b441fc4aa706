//! The rules that span values or sections of `site.toml`: addresses, etcd quorum, memory,
//! reserved names and networks, MetalLB's range.
//!
//! Readers (`read.rs`) turn each value into its type; the rules here judge the values together
//! and report at the place the user has to change.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::net::Ipv4Addr;
use std::str::FromStr;
use std::sync::Arc;

use ipnet::Ipv4Net;

use super::{Address, AddressRange, Host, Label, Node, Role};
use crate::kubespray::{GUEST_KERNEL_RESERVE_MB, Release};
use crate::libvirt;
use crate::parse::{Loc, Report, Sp};
use crate::problem::Problem;

/// Networks every guest already has or that the cluster creates: a LAN overlapping one of them
/// leaves the guests with two routes to the same addresses.
const RESERVED_NETWORKS: &[(&str, &str)] = &[
    ("VirtualBox's NAT network", "10.0.2.0/24"),
    ("kubespray's service network `kube_service_addresses`", "10.233.0.0/18"),
    ("kubespray's pod network `kube_pods_subnet`", "10.233.64.0/18"),
];

/// Node names that already mean something in the inventory: ansible's implicit groups and host,
/// and the one group gen writes whose name is a label. A node called one of these would be
/// confused with it (ansible warns, then resolves the name to the group).
const RESERVED_NODE_NAMES: &[(&str, &str)] = &[
    ("all", "ansible's group of every host"),
    ("ungrouped", "ansible's group of hosts in no other group"),
    ("localhost", "ansible's name for the machine it runs on"),
    ("etcd", "the group of etcd members"),
];

/// A node as read: each value that could be read, with its place, so that a rule runs on every
/// node whose values it needs even when another value of the node is wrong. `node` is the whole
/// node, when every value of it could be read.
pub(super) struct NodeAt {
    /// The name as messages show it (the table key, escaped when it is not a label).
    pub(super) shown: String,
    pub(super) host: Option<Sp<Label>>,
    pub(super) role: Option<Sp<Role>>,
    pub(super) ip: Option<Sp<Ipv4Addr>>,
    /// `None` when the node's value, or the default it inherits, is wrong.
    pub(super) cpus: Option<u32>,
    /// The node's `cpus`, or its table when it inherits `[vagrant]`'s.
    pub(super) cpus_loc: Loc,
    /// `None` when the node's value, or the default it inherits, is wrong.
    pub(super) memory_mb: Option<u32>,
    pub(super) memory_loc: Loc,
    /// `remove = true`: on its way out, not counted as an etcd member.
    pub(super) remove: bool,
    pub(super) node: Option<Node>,
}

/// A host as read: its address, when it could be read, for the rules over addresses; `host`
/// when every value of it could be read.
pub(super) struct HostAt {
    /// The name as messages show it (the table key, escaped when it is not a label).
    pub(super) shown: String,
    pub(super) address: Option<Sp<Address>>,
    /// Where `provider = "libvirt"` is written, on a libvirt server.
    pub(super) libvirt_at: Option<Loc>,
    pub(super) host: Option<Host>,
}

/// The LAN of a lab with a libvirt server overlaps no network vagrant-libvirt makes there.
pub(super) fn check_management_network(
    cidr: Option<Ipv4Net>,
    hosts: &[HostAt],
    report: &mut Report,
) {
    let Some(net) = cidr else { return };
    let management = Ipv4Net::from_str(libvirt::MANAGEMENT_CIDR).expect("constant network");
    if !(net.contains(&management.network()) || management.contains(&net.network())) {
        return;
    }
    for h in hosts {
        if let Some(loc) = &h.libvirt_at {
            let host = h.shown.clone();
            report.add(
                loc,
                Problem::OverlapsManagementNetwork { host, management: libvirt::MANAGEMENT_CIDR },
            );
        }
    }
}

/// The LAN overlaps no network the guests or the cluster already use.
pub(super) fn check_reserved_networks(net: Ipv4Net, cidr: &Sp<String>, report: &mut Report) {
    for (other, other_cidr) in RESERVED_NETWORKS {
        let o = Ipv4Net::from_str(other_cidr).expect("constant network");
        if net.contains(&o.network()) || o.contains(&net.network()) {
            report.add(
                &cidr.loc,
                Problem::CidrOverlaps { cidr: cidr.value.clone(), other, other_cidr },
            );
        }
    }
}

/// A node name that the inventory does not already use for something else.
pub(super) fn check_node_name(name: Sp<Label>, report: &mut Report) -> Option<Sp<Label>> {
    let reserved = RESERVED_NODE_NAMES.iter().find(|(n, _)| *n == name.value.as_str());
    match reserved {
        Some((_, meaning)) => {
            let value = name.value.to_string();
            report.add(&name.loc, Problem::ReservedName { value, meaning });
            None
        }
        None => Some(name),
    }
}

/// `Some` when `ip` is the network or broadcast address of `net`, which no machine may have.
pub(super) fn edge_of(net: Ipv4Net, ip: Ipv4Addr) -> Option<&'static str> {
    if ip == net.network() {
        Some("network address of `network.cidr`")
    } else if ip == net.broadcast() {
        Some("broadcast address of `network.cidr`")
    } else {
        None
    }
}

/// Every node names a known host. A host with no node is allowed: it is how a server is
/// emptied. `gen apply` then destroys its VMs and removes its unit; only after that can its
/// `[hosts]` entry go, since gen reaches no server that site.toml does not name.
pub(super) fn check_hosts_and_nodes(host_names: &[String], nodes: &[NodeAt], report: &mut Report) {
    // Sets, not scans: a scan per node costs hosts × nodes at 1,000 servers.
    // And one problem per misspelt name, cloned for each node that uses it: the suggestion is
    // looked up once and the list of hosts is shared.
    let known_hosts: BTreeSet<&str> = host_names.iter().map(String::as_str).collect();
    // What a misspelt host is told to use: only names that are valid, never one that this same
    // report refuses (a name with an escape sequence in it is not a fix).
    let valid = host_names.iter().filter(|name| Label::parse(name).is_ok()).cloned();
    let known: Arc<[String]> = valid.collect();
    let mut unknown: HashMap<&str, Problem> = HashMap::new();
    for n in nodes {
        let Some(host) = &n.host else { continue };
        // With no host at all, the missing `[hosts]` is the one thing to say.
        if !known_hosts.is_empty() && !known_hosts.contains(host.value.as_str()) {
            let name = host.value.as_str();
            let problem = unknown
                .entry(name)
                .or_insert_with(|| Problem::unknown_host(name, Arc::clone(&known)));
            report.add(&host.loc, problem.clone());
        }
    }
}

/// Every machine address on the LAN is inside it, not reserved, and unique. `cidr` and
/// `gateway` are `None` when they could not be read: then only what does not need them is
/// checked (two machines with one address are a mistake whatever the LAN is).
pub(super) fn check_addresses(
    cidr: Option<Ipv4Net>,
    gateway: Option<Ipv4Addr>,
    hosts: &[HostAt],
    nodes: &[NodeAt],
    report: &mut Report,
) {
    let mut taken: BTreeMap<Ipv4Addr, String> = BTreeMap::new();
    if let Some(gateway) = gateway {
        taken.insert(gateway, "network.gateway".into());
    }
    for h in hosts {
        let Some(address) = &h.address else { continue };
        let Some(ip) = address.value.ipv4() else { continue };
        // A server may sit outside the bridged LAN (gen reaches it by routing), but inside
        // it, its network and broadcast addresses name no machine.
        if let Some(what) = cidr.and_then(|net| edge_of(net, ip)) {
            report.add(&address.loc, Problem::ReservedAddress { ip: ip.to_string(), what });
        } else if let Some(other) = taken.get(&ip) {
            let problem = Problem::DuplicateAddress { ip: ip.to_string(), other: other.clone() };
            report.add(&address.loc, problem);
        } else {
            taken.insert(ip, address.loc.key.clone());
        }
    }
    for n in nodes {
        let Some(Sp { value: ip, loc }) = &n.ip else { continue };
        let ip = *ip;
        if let Some(net) = cidr.filter(|net| !net.contains(&ip)) {
            report.add(loc, Problem::NotInNetwork { ip: ip.to_string(), cidr: net.to_string() });
        } else if let Some(what) = cidr.and_then(|net| edge_of(net, ip)) {
            report.add(loc, Problem::ReservedAddress { ip: ip.to_string(), what });
        } else if let Some(other) = taken.get(&ip) {
            report.add(loc, Problem::DuplicateAddress { ip: ip.to_string(), other: other.clone() });
        } else {
            taken.insert(ip, loc.key.clone());
        }
    }
}

/// Stacked etcd runs on the control planes: there must be some, and an odd number. The count
/// needs every node's role: when one could not be read, nothing is said.
pub(super) fn check_etcd(nodes: &[NodeAt], nodes_loc: &Loc, report: &mut Report) {
    // Members being removed (`remove = true`) are not counted: replacing one adds its successor
    // first, and the etcd cluster is odd again once kubespray has removed it.
    let Some(roles) = nodes.iter().map(|n| n.role.as_ref()).collect::<Option<Vec<_>>>() else {
        return;
    };
    let control_planes: Vec<&Sp<Role>> = roles
        .into_iter()
        .zip(nodes)
        .filter(|(r, n)| r.value == Role::ControlPlane && !n.remove)
        .map(|(r, _)| r)
        .collect();
    match control_planes.as_slice() {
        [] if !nodes.is_empty() => report.add(nodes_loc, Problem::NoControlPlane),
        [.., last] if control_planes.len() % 2 == 0 => {
            report.add(&last.loc, Problem::EvenEtcd { count: control_planes.len() });
        }
        _ => {}
    }
}

/// kubespray's memory minimums (checked against the guest's MemTotal, hence the headroom), for
/// every node whose role and memory could be read.
pub(super) fn check_memory(release: &Release, nodes: &[NodeAt], report: &mut Report) {
    let min = release.min_memory_mb;
    for n in nodes {
        let (Some(role), Some(memory_mb)) = (&n.role, n.memory_mb) else { continue };
        let (required, role) = match role.value {
            Role::ControlPlane => (min.control_plane, "control-plane node"),
            Role::Worker => (min.node, "worker node"),
        };
        if memory_mb < required + GUEST_KERNEL_RESERVE_MB {
            let problem = Problem::MemoryTooLow {
                value: memory_mb,
                min: required,
                role,
                release: release.tag,
            };
            report.add(&n.memory_loc, problem);
        }
    }
}

/// kubeadm's `NumCPU` preflight check fails `kubeadm init` and `join --control-plane` on a
/// machine with fewer than 2 CPUs, and kubespray's `kubeadm_ignore_preflight_errors` is empty
/// by default. Workers have no such check.
pub(super) const CONTROL_PLANE_MIN_CPUS: u32 = 2;

/// Every control-plane node whose CPUs could be read has the CPUs kubeadm requires.
pub(super) fn check_cpus(nodes: &[NodeAt], report: &mut Report) {
    for n in nodes {
        let (Some(role), Some(cpus)) = (&n.role, n.cpus) else { continue };
        if role.value == Role::ControlPlane && cpus < CONTROL_PLANE_MIN_CPUS {
            let problem = Problem::TooFewCpus { value: cpus, min: CONTROL_PLANE_MIN_CPUS };
            report.add(&n.cpus_loc, problem);
        }
    }
}

/// MetalLB's range is a range, inside the LAN, and holds no address a machine has. What could
/// not be read (`None`) is left out of the check; the range is then not returned either.
pub(super) fn check_metallb(
    range: Sp<String>,
    cidr: Option<Ipv4Net>,
    gateway: Option<Ipv4Addr>,
    hosts: &[HostAt],
    nodes: &[NodeAt],
    report: &mut Report,
) -> Option<AddressRange> {
    let Some(parsed) = parse_range(&range.value) else {
        report.add(&range.loc, Problem::BadRange { value: range.value });
        return None;
    };
    if let Some(cidr) = cidr {
        if !cidr.contains(&parsed.first) || !cidr.contains(&parsed.last) {
            report.add(
                &range.loc,
                Problem::RangeOutsideNetwork { range: range.value, cidr: cidr.to_string() },
            );
            return None;
        }
    }
    let mut used: Vec<(Ipv4Addr, String)> = Vec::new();
    if let Some(cidr) = cidr {
        used.push((cidr.network(), "the network itself".into()));
        used.push((cidr.broadcast(), "the broadcast address".into()));
    }
    used.extend(gateway.map(|g| (g, "the gateway".into())));
    used.extend(hosts.iter().filter_map(|h| {
        let ip = h.address.as_ref()?.value.ipv4()?;
        Some((ip, format!("host `{}`", h.shown)))
    }));
    used.extend(
        nodes.iter().filter_map(|n| Some((n.ip.as_ref()?.value, format!("node `{}`", n.shown)))),
    );
    let mut ok = true;
    for (ip, what) in used {
        if parsed.contains(ip) {
            report.add(
                &range.loc,
                Problem::RangeOverlaps { range: range.value.clone(), ip: ip.to_string(), what },
            );
            ok = false;
        }
    }
    (ok && cidr.is_some() && gateway.is_some()).then_some(parsed)
}

/// `a.b.c.d-e.f.g.h` (first ≤ last) or a CIDR, as MetalLB accepts.
fn parse_range(s: &str) -> Option<AddressRange> {
    if let Some((a, b)) = s.split_once('-') {
        let (first, last) = (Ipv4Addr::from_str(a).ok()?, Ipv4Addr::from_str(b).ok()?);
        return (first <= last).then_some(AddressRange { first, last });
    }
    let net = Ipv4Net::from_str(s).ok()?;
    (net == net.trunc()).then(|| AddressRange { first: net.network(), last: net.broadcast() })
}
