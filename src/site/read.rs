//! The readers of `site.toml`, one per section: each turns its table's values into their types
//! and reports every value it cannot, then `read_site` applies the rules that span sections.

use std::net::Ipv4Addr;
use std::str::FromStr;

use ipnet::Ipv4Net;
use toml::de::DeTable;

use super::rules::{self, NodeAt};
use super::text::{
    Address, AuthorizedKey, BoxName, BoxVersion, HostKey, InterfaceName, Label, RemoteRoot,
    UserName,
};
use super::{Addons, Host, Kubespray, Network, Node, Role, Site, Vagrant};
use crate::kubespray;
use crate::parse::{Report, Sp, Table};
use crate::problem::Problem;

/// Defaults of `[vagrant]` for every node (DESIGN.md).
pub(crate) const DEFAULT_CPUS: u32 = 2;
pub(crate) const DEFAULT_MEMORY_MB: u32 = 4096;
const DEFAULT_SSH_PORT: u16 = 22;
/// Bounds of a node's allotment: at least one CPU and what a guest kernel boots in.
pub(crate) const CPUS: (u32, u32) = (1, 256);
pub(crate) const MEMORY_MB: (u32, u32) = (512, 1 << 20);

/// Reads every section, then checks the rules that span sections. `None` when something could
/// not be read at all (it has been reported).
pub(super) fn read_site(doc: &toml::Spanned<DeTable<'_>>, report: &mut Report) -> Option<Site> {
    let empty = DeTable::new();
    let mut root = Table::root(doc);

    let mut t = root.req_table(report, "cluster", &empty);
    let cluster = t.req_str(report, "name", "the cluster's name").and_then(|s| label(report, s));
    t.finish(report);

    let kubespray = read_kubespray(root.req_table(report, "kubespray", &empty), report);
    let network = read_network(root.req_table(report, "network", &empty), report);
    let (vagrant, defaults) = read_vagrant(root.req_table(report, "vagrant", &empty), report);
    let addons = root.table(report, "addons").map(|t| read_addons(t, report));

    let hosts_table = root.req_table(report, "hosts", &empty);
    let hosts_loc = hosts_table.loc();
    let host_entries = hosts_table.entries(report);
    // Names come from the table keys, so a host whose fields are wrong still exists for the
    // nodes that name it: one mistake is reported once.
    let host_names: Vec<String> = host_entries.iter().map(|(name, _)| name.value.clone()).collect();
    let hosts: Vec<Sp<Host>> = host_entries
        .into_iter()
        .filter_map(|(name, t)| read_host(name, t, cluster.as_ref(), report))
        .collect();
    let nodes_table = root.req_table(report, "nodes", &empty);
    let nodes_loc = nodes_table.loc();
    let node_entries = nodes_table.entries(report);
    let node_count = node_entries.len();
    let nodes: Vec<NodeAt> = node_entries
        .into_iter()
        .filter_map(|(name, t)| read_node(name, t, defaults, report))
        .collect();
    root.finish(report);

    if host_names.is_empty() {
        report.add(
            &hosts_loc,
            Problem::Missing { what: "a `[hosts.<name>]` table: the lab needs a VM server" },
        );
    }
    if node_count == 0 {
        report.add(
            &nodes_loc,
            Problem::Missing { what: "a `[nodes.<name>]` table: the cluster needs a node" },
        );
    }
    // Rules over all nodes only make sense when every node could be read.
    let all_nodes_read = nodes.len() == node_count;
    rules::check_hosts_and_nodes(&host_names, &nodes, report);

    let addons = addons.unwrap_or(Some(RawAddons { helm: false, metallb: None }));
    let (cluster, kubespray, network, vagrant, addons) =
        (cluster?, kubespray?, network?, vagrant?, addons?);

    rules::check_addresses(&network, &hosts, &nodes, report);
    if all_nodes_read {
        rules::check_etcd(&nodes, &nodes_loc, report);
    }
    rules::check_memory(&kubespray, &nodes, report);
    let metallb =
        addons.metallb.and_then(|r| rules::check_metallb(r, &network, &hosts, &nodes, report));

    let mut nodes: Vec<Node> = nodes.into_iter().map(|n| n.node).collect();
    nodes.sort_by(|a, b| a.name.cmp(&b.name));
    Some(Site {
        cluster: cluster.value,
        kubespray,
        network,
        vagrant,
        addons: Addons { helm: addons.helm, metallb },
        hosts: hosts.into_iter().map(|h| h.value).collect(),
        nodes,
    })
}

/// A string turned into its type by `parse`; a value that does not parse is reported where it is.
fn typed<T>(
    report: &mut Report,
    s: Sp<String>,
    parse: impl FnOnce(&str) -> Result<T, Problem>,
) -> Option<Sp<T>> {
    match parse(&s.value) {
        Ok(value) => Some(Sp { value, loc: s.loc }),
        Err(problem) => {
            report.add(&s.loc, problem);
            None
        }
    }
}

fn label(report: &mut Report, s: Sp<String>) -> Option<Sp<Label>> {
    typed(report, s, Label::parse)
}

fn ipv4(report: &mut Report, s: Sp<String>) -> Option<Sp<Ipv4Addr>> {
    typed(report, s, |v| {
        Ipv4Addr::from_str(v).map_err(|_| Problem::NotAnIpv4 { value: v.to_string() })
    })
}

fn read_kubespray(mut t: Table, report: &mut Report) -> Option<Kubespray> {
    let version =
        t.req_str(report, "version", "the kubespray release, e.g. `version = \"v2.31.0\"`");
    let kube_version = t.str(report, "kube_version");
    let plugin = t.str(report, "network_plugin");
    let manager = t.str(report, "container_manager");
    let proxy = t.str(report, "kube_proxy_mode");
    t.finish(report);

    let version = version?;
    let Some(release) = kubespray::find(&version.value) else {
        let known = kubespray::RELEASES.iter().map(|r| r.tag).collect();
        report.add(&version.loc, Problem::UnknownRelease { value: version.value, known });
        return None;
    };
    let kube_version = match kube_version {
        None => Some(release.kube_version_default()),
        Some(v) => {
            let bare = v.value.strip_prefix('v').unwrap_or(&v.value);
            let found = release.kube_versions.iter().copied().find(|k| *k == bare);
            if found.is_none() {
                report.add(
                    &v.loc,
                    Problem::UnsupportedKubeVersion {
                        value: v.value.clone(),
                        release: release.tag,
                        newest: release.kube_versions[0],
                        oldest: release.kube_versions[release.kube_versions.len() - 1],
                    },
                );
            }
            found
        }
    };
    let choose = |report: &mut Report,
                  v: Option<Sp<String>>,
                  default: &'static str,
                  allowed: &'static [&'static str]| {
        let Some(v) = v else { return Some(default) };
        let found = allowed.iter().copied().find(|a| *a == v.value);
        if found.is_none() {
            report.add(
                &v.loc,
                Problem::UnsupportedChoice { value: v.value, release: release.tag, allowed },
            );
        }
        found
    };
    let network_plugin =
        choose(report, plugin, kubespray::DEFAULT_NETWORK_PLUGIN, release.network_plugins);
    let container_manager =
        choose(report, manager, kubespray::DEFAULT_CONTAINER_MANAGER, release.container_managers);
    let proxy_mode = choose(report, proxy, kubespray::DEFAULT_PROXY_MODE, release.proxy_modes);
    Some(Kubespray {
        release,
        kube_version: kube_version?,
        network_plugin: network_plugin?,
        container_manager: container_manager?,
        proxy_mode: proxy_mode?,
    })
}

fn read_network(mut t: Table, report: &mut Report) -> Option<Network> {
    let cidr = t.req_str(report, "cidr", "the bridged LAN, e.g. `cidr = \"192.168.1.0/24\"`");
    let gateway =
        t.req_str(report, "gateway", "the LAN's router, e.g. `gateway = \"192.168.1.1\"`");
    let dns =
        t.req_str_array(report, "dns", "the LAN's DNS servers, e.g. `dns = [\"192.168.1.1\"]`");
    t.finish(report);

    let cidr = cidr.and_then(|c| {
        let Ok(net) = Ipv4Net::from_str(&c.value) else {
            report.add(&c.loc, Problem::NotACidr { value: c.value });
            return None;
        };
        if net != net.trunc() {
            report.add(
                &c.loc,
                Problem::CidrHasHostBits { value: c.value, network: net.trunc().to_string() },
            );
            return None;
        }
        if net.prefix_len() > 29 {
            report.add(&c.loc, Problem::CidrTooSmall { value: c.value });
            return None;
        }
        rules::check_reserved_networks(net, &c, report);
        Some(net)
    });
    let gateway = gateway.and_then(|g| ipv4(report, g));
    let dns = match dns {
        None => None,
        Some(list) if list.value.is_empty() => {
            report.add(&list.loc, Problem::EmptyList);
            None
        }
        Some(list) => list
            .value
            .into_iter()
            .map(|s| ipv4(report, s).map(|ip| ip.value))
            .collect::<Option<Vec<_>>>(),
    };
    let (cidr, gateway) = (cidr?, gateway?);
    if !cidr.contains(&gateway.value) {
        report.add(
            &gateway.loc,
            Problem::NotInNetwork { ip: gateway.value.to_string(), cidr: cidr.to_string() },
        );
    } else if let Some(what) = rules::edge_of(cidr, gateway.value) {
        report.add(&gateway.loc, Problem::ReservedAddress { ip: gateway.value.to_string(), what });
    }
    Some(Network { cidr, gateway: gateway.value, dns: dns? })
}

#[derive(Clone, Copy)]
struct NodeDefaults {
    cpus: u32,
    memory_mb: u32,
}

fn read_vagrant(mut t: Table, report: &mut Report) -> (Option<Vagrant>, NodeDefaults) {
    let box_name = t.req_str(report, "box", "the Vagrant box, e.g. `box = \"bento/ubuntu-24.04\"`");
    let box_version = t.req_str(
        report,
        "box_version",
        "the box's pinned version (a box that moves is not reproducible)",
    );
    let cpus = t.int(report, "cpus", CPUS.0, CPUS.1);
    let memory = t.int(report, "memory_mb", MEMORY_MB.0, MEMORY_MB.1);
    let keys = t.str_array(report, "authorized_keys");
    t.finish(report);

    let defaults = NodeDefaults {
        cpus: cpus.map_or(DEFAULT_CPUS, |c| c.value),
        memory_mb: memory.map_or(DEFAULT_MEMORY_MB, |m| m.value),
    };
    let box_name = box_name.and_then(|b| typed(report, b, BoxName::parse));
    let box_version = box_version.and_then(|v| typed(report, v, BoxVersion::parse));
    let keys = keys.map_or(Some(vec![]), |k| {
        k.value
            .into_iter()
            .map(|k| typed(report, k, AuthorizedKey::parse).map(|k| k.value))
            .collect::<Option<Vec<_>>>()
    });
    let vagrant = match (box_name, box_version, keys) {
        (Some(box_name), Some(box_version), Some(authorized_keys)) => Some(Vagrant {
            box_name: box_name.value,
            box_version: box_version.value,
            authorized_keys,
        }),
        _ => None,
    };
    (vagrant, defaults)
}

struct RawAddons {
    helm: bool,
    metallb: Option<Sp<String>>,
}

fn read_addons(mut t: Table, report: &mut Report) -> Option<RawAddons> {
    let helm = t.bool(report, "helm");
    let example = "{ ip_range = \"192.168.1.240-192.168.1.250\" }";
    let metallb = t.feature_table(report, "metallb", example).map(|mut m| {
        let range = m.req_str(
            report,
            "ip_range",
            "the addresses MetalLB hands out, e.g. `ip_range = \"192.168.1.240-192.168.1.250\"`",
        );
        m.finish(report);
        range
    });
    t.finish(report);
    let metallb = match metallb {
        None => None,
        Some(None) => return None,
        Some(Some(range)) => Some(range),
    };
    Some(RawAddons { helm: helm.is_some_and(|h| h.value), metallb })
}

fn read_host(
    name: Sp<String>,
    mut t: Table,
    cluster: Option<&Sp<Label>>,
    report: &mut Report,
) -> Option<Sp<Host>> {
    let name = label(report, name);
    let address = t.req_str(report, "address", "the address `gen apply` connects to");
    let user = t.req_str(report, "user", "the ssh user that owns the VMs");
    let bridge = t.req_str(
        report,
        "bridge",
        "the host NIC the guests bridge onto, e.g. `bridge = \"eno1\"`",
    );
    let host_key = t.req_str(
        report,
        "host_key",
        "the host's ssh public key (`ssh-keyscan -t ed25519 HOST`): apply trusts no other",
    );
    let port = t.int(report, "port", 1, u16::MAX);
    let root = t.str(report, "root");
    t.finish(report);

    let address = address.and_then(|a| typed(report, a, Address::parse));
    let user = user.and_then(|u| typed(report, u, UserName::parse));
    let bridge = bridge.and_then(|b| typed(report, b, InterfaceName::parse));
    let host_key = host_key.and_then(|k| typed(report, k, HostKey::parse));
    let root = match root {
        Some(r) => Some(typed(report, r, RemoteRoot::parse)?.value),
        None => match (&user, cluster) {
            (Some(user), Some(cluster)) => {
                Some(RemoteRoot::default_for(&user.value, &cluster.value))
            }
            _ => None,
        },
    };
    let name = name?;
    Some(Sp {
        loc: name.loc,
        value: Host {
            name: name.value,
            address: address?.value,
            port: port.map_or(DEFAULT_SSH_PORT, |p| p.value),
            user: user?.value,
            bridge: bridge?.value,
            host_key: host_key?.value,
            root: root?,
        },
    })
}

fn read_node(
    name: Sp<String>,
    mut t: Table,
    defaults: NodeDefaults,
    report: &mut Report,
) -> Option<NodeAt> {
    let name = label(report, name).and_then(|name| rules::check_node_name(name, report));
    let host = t.req_str(report, "host", "the VM server this node runs on");
    let role = t.req_str(report, "role", "`role = \"control-plane\"` or `role = \"worker\"`");
    let ip = t.req_str(report, "ip", "the node's static address on the LAN");
    let cpus = t.int(report, "cpus", CPUS.0, CPUS.1);
    let memory = t.int(report, "memory_mb", MEMORY_MB.0, MEMORY_MB.1);
    let remove = t.bool(report, "remove");
    let table_loc = t.loc();
    t.finish(report);

    let host = host.and_then(|h| label(report, h));
    let role = role.and_then(|r| typed(report, r, Role::parse));
    let ip = ip.and_then(|s| ipv4(report, s));
    let memory_loc = memory.as_ref().map_or(table_loc, |m| m.loc.clone());
    let (name, host, role, ip) = (name?, host?, role?, ip?);
    Some(NodeAt {
        node: Node {
            name: name.value,
            host: host.value,
            role: role.value,
            ip: ip.value,
            cpus: cpus.map_or(defaults.cpus, |c| c.value),
            memory_mb: memory.map_or(defaults.memory_mb, |m| m.value),
            remove: remove.is_some_and(|r| r.value),
        },
        host_loc: host.loc,
        role_loc: role.loc,
        ip_loc: ip.loc,
        memory_loc,
    })
}
