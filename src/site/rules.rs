//! The rules that span values or sections of `site.toml`: addresses, etcd quorum, memory,
//! reserved names and networks, MetalLB's range.
//!
//! Readers (`read.rs`) turn each value into its type; the rules here judge the values together
//! and report at the place the user has to change.

use std::collections::{BTreeMap, BTreeSet};
use std::net::Ipv4Addr;
use std::str::FromStr;

use ipnet::Ipv4Net;

use super::{AddressRange, Host, Kubespray, Label, Network, Node, Role};
use crate::kubespray::GUEST_KERNEL_RESERVE_MB;
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

/// A node as read, with the places of the values later checks point at.
pub(super) struct NodeAt {
    pub(super) node: Node,
    pub(super) host_loc: Loc,
    pub(super) role_loc: Loc,
    pub(super) ip_loc: Loc,
    pub(super) memory_loc: Loc,
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

/// Every node names a host, and every host runs a node.
pub(super) fn check_hosts_and_nodes(
    host_names: &[String],
    hosts: &[Sp<Host>],
    nodes: &[NodeAt],
    all_nodes_read: bool,
    report: &mut Report,
) {
    // Sets, not scans: a scan per node (or per host) costs hosts × nodes at 1,000 servers.
    let known_hosts: BTreeSet<&str> = host_names.iter().map(String::as_str).collect();
    for n in nodes {
        // With no host at all, the missing `[hosts]` is the one thing to say.
        if !known_hosts.is_empty() && !known_hosts.contains(n.node.host.as_str()) {
            let known = host_names.to_vec();
            report.add(&n.host_loc, Problem::UnknownHost { name: n.node.host.to_string(), known });
        }
    }
    if all_nodes_read {
        let used_hosts: BTreeSet<&str> = nodes.iter().map(|n| n.node.host.as_str()).collect();
        for h in hosts {
            if !used_hosts.contains(h.value.name.as_str()) {
                report.add(&h.loc, Problem::HostWithoutNodes);
            }
        }
    }
}

/// Every machine address on the LAN is inside it, not reserved, and unique.
pub(super) fn check_addresses(
    network: &Network,
    hosts: &[Sp<Host>],
    nodes: &[NodeAt],
    report: &mut Report,
) {
    let mut taken: BTreeMap<Ipv4Addr, String> = BTreeMap::new();
    taken.insert(network.gateway, "network.gateway".into());
    for h in hosts {
        if let Some(ip) = h.value.address.ipv4() {
            let key = format!("{}.address", h.loc.key);
            if let Some(other) = taken.get(&ip) {
                report.add(
                    &h.loc,
                    Problem::DuplicateAddress { ip: ip.to_string(), other: other.clone() },
                );
            } else {
                taken.insert(ip, key);
            }
        }
    }
    for n in nodes {
        let ip = n.node.ip;
        if !network.cidr.contains(&ip) {
            report.add(
                &n.ip_loc,
                Problem::NotInNetwork { ip: ip.to_string(), cidr: network.cidr.to_string() },
            );
        } else if let Some(what) = edge_of(network.cidr, ip) {
            report.add(&n.ip_loc, Problem::ReservedAddress { ip: ip.to_string(), what });
        } else if let Some(other) = taken.get(&ip) {
            report.add(
                &n.ip_loc,
                Problem::DuplicateAddress { ip: ip.to_string(), other: other.clone() },
            );
        } else {
            taken.insert(ip, n.ip_loc.key.clone());
        }
    }
}

/// Stacked etcd runs on the control planes: there must be some, and an odd number.
pub(super) fn check_etcd(nodes: &[NodeAt], nodes_loc: &Loc, report: &mut Report) {
    let control_planes: Vec<&NodeAt> =
        nodes.iter().filter(|n| n.node.role == Role::ControlPlane).collect();
    match control_planes.as_slice() {
        [] if !nodes.is_empty() => report.add(nodes_loc, Problem::NoControlPlane),
        [.., last] if control_planes.len() % 2 == 0 => {
            report.add(&last.role_loc, Problem::EvenEtcd { count: control_planes.len() });
        }
        _ => {}
    }
}

/// kubespray's memory minimums (checked against the guest's MemTotal, hence the headroom).
pub(super) fn check_memory(k: &Kubespray, nodes: &[NodeAt], report: &mut Report) {
    let min = k.release.min_memory_mb;
    for n in nodes {
        let (required, role) = match n.node.role {
            Role::ControlPlane => (min.control_plane, "control-plane node"),
            Role::Worker => (min.node, "worker node"),
        };
        if n.node.memory_mb < required + GUEST_KERNEL_RESERVE_MB {
            let problem = Problem::MemoryTooLow {
                value: n.node.memory_mb,
                min: required,
                role,
                release: k.release.tag,
            };
            report.add(&n.memory_loc, problem);
        }
    }
}

/// MetalLB's range is a range, inside the LAN, and holds no address a machine has.
pub(super) fn check_metallb(
    range: Sp<String>,
    network: &Network,
    hosts: &[Sp<Host>],
    nodes: &[NodeAt],
    report: &mut Report,
) -> Option<AddressRange> {
    let Some(parsed) = parse_range(&range.value) else {
        report.add(&range.loc, Problem::BadRange { value: range.value });
        return None;
    };
    let cidr = network.cidr;
    if !cidr.contains(&parsed.first) || !cidr.contains(&parsed.last) {
        report.add(
            &range.loc,
            Problem::RangeOutsideNetwork { range: range.value, cidr: cidr.to_string() },
        );
        return None;
    }
    let mut used: Vec<(Ipv4Addr, String)> = vec![
        (cidr.network(), "the network itself".into()),
        (cidr.broadcast(), "the broadcast address".into()),
        (network.gateway, "the gateway".into()),
    ];
    used.extend(
        hosts.iter().filter_map(|h| {
            h.value.address.ipv4().map(|ip| (ip, format!("host `{}`", h.value.name)))
        }),
    );
    used.extend(nodes.iter().map(|n| (n.node.ip, format!("node `{}`", n.node.name))));
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
    ok.then_some(parsed)
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
