//! The readers of `site.toml`, one per section: each turns its table's values into their types
//! and reports every value it cannot, then `read_site` applies the rules that span sections.

use std::net::Ipv4Addr;
use std::str::FromStr;

use ipnet::Ipv4Net;
use toml::de::DeTable;

use super::rules::{self, HostAt, NodeAt};
use super::text::{AuthorizedKey, BoxName, BoxVersion, Label};
use super::{Addons, Host, Kubespray, Network, Node, Site, Vagrant};
use crate::kubespray;
use crate::parse::{Report, Sp, Table};
use crate::problem::Problem;

/// Defaults of `[vagrant]` for every node (DESIGN.md).
pub(crate) const DEFAULT_CPUS: u32 = 2;
pub(crate) const DEFAULT_MEMORY_MB: u32 = 4096;
const DEFAULT_SSH_PORT: u16 = 22;
/// Bounds of a node's CPUs: VirtualBox refuses a VM with fewer than `VMM_MIN_CPU_COUNT` (1) or
/// more than `VMM_MAX_CPU_COUNT` (64 in current releases' `include/VBox/param.h`; 32 in old
/// ones) when Vagrant sets `vb.cpus`. A control plane needs 2 (`rules::check_cpus`).
pub(crate) const CPUS: (u32, u32) = (1, 64);
const CPUS_WHY: &str = "VirtualBox gives a VM 1 to 64 CPUs";
/// Bounds of a node's memory in MiB: below 512 the box's kernel and cloud-init do not come up
/// (kubespray's own minimums, higher, are `rules::check_memory`); above VirtualBox's
/// `MM_RAM_MAX_IN_MB` (2 TiB on 64-bit hosts) `vb.memory` is refused.
pub(crate) const MEMORY_MB: (u32, u32) = (512, 2 << 20);
const MEMORY_WHY: &str = "the guest needs 512 MiB to boot, and VirtualBox gives a VM at most 2 TiB";

/// Reads every section, then checks the rules that span sections. `None` when something could
/// not be read (it has been reported).
///
/// A value that cannot be read hides only the rules that need it: each reader hands on what it
/// could read (`Option` per value), and each rule runs on whatever it needs, so independent
/// mistakes are all reported at once (tests/suite/all_errors.rs plants every pair).
pub(super) fn read_site(doc: &toml::Spanned<DeTable<'_>>, report: &mut Report) -> Option<Site> {
    let empty = DeTable::new();
    let mut root = Table::root(doc);

    let mut t = root.req_table(report, "cluster", &empty);
    let cluster = t.req_str(report, "name", "the cluster's name").and_then(|s| label(report, s));
    t.finish(report);

    let (release, kubespray) = read_kubespray(root.req_table(report, "kubespray", &empty), report);
    let network = read_network(root.req_table(report, "network", &empty), report);
    let (vagrant, defaults) = read_vagrant(root.req_table(report, "vagrant", &empty), report);
    let addons = root.table(report, "addons").map(|t| read_addons(t, report));

    let hosts_table = root.req_table(report, "hosts", &empty);
    let hosts_loc = hosts_table.loc();
    let host_entries = hosts_table.entries(report);
    // Names come from the table keys, so a host whose fields are wrong still exists for the
    // nodes that name it: one mistake is reported once.
    let host_names: Vec<String> = host_entries.iter().map(|(name, _)| name.value.clone()).collect();
    let hosts: Vec<HostAt> = host_entries
        .into_iter()
        .map(|(name, t)| read_host(name, t, cluster.as_ref(), report))
        .collect();
    let nodes_table = root.req_table(report, "nodes", &empty);
    let nodes_loc = nodes_table.loc();
    let node_count = nodes_table.len();
    let node_entries = nodes_table.entries(report);
    // An entry that is not a table is a node whose role is unknown too.
    let every_node_is_a_table = node_entries.len() == node_count;
    let nodes: Vec<NodeAt> =
        node_entries.into_iter().map(|(name, t)| read_node(name, t, defaults, report)).collect();
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
    rules::check_hosts_and_nodes(&host_names, &nodes, report);
    rules::check_addresses(network.cidr, network.gateway, &hosts, &nodes, report);
    rules::check_management_network(network.cidr, &hosts, report);
    if every_node_is_a_table {
        rules::check_etcd(&nodes, &nodes_loc, report);
    }
    if let Some(release) = release {
        rules::check_memory(release, &nodes, report);
    }
    rules::check_cpus(&nodes, report);
    let addons = addons.unwrap_or(Some(RawAddons { helm: false, metallb: None }));
    let metallb = addons.as_ref().map(|a| {
        a.metallb
            .clone()
            .map(|r| rules::check_metallb(r, network.cidr, network.gateway, &hosts, &nodes, report))
    });

    let mut nodes = nodes.into_iter().map(|n| n.node).collect::<Option<Vec<Node>>>()?;
    nodes.sort_by(|a, b| a.name.cmp(&b.name));
    let metallb = match metallb? {
        None => None,
        Some(checked) => Some(checked?),
    };
    Some(Site {
        cluster: cluster?.value,
        kubespray: kubespray?,
        network: network.whole()?,
        vagrant: vagrant?,
        addons: Addons { helm: addons?.helm, metallb },
        hosts: hosts.into_iter().map(|h| h.host).collect::<Option<Vec<Host>>>()?,
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

/// The release, when it could be read (kubespray's memory minimums need only it), and the
/// whole section when every choice is one the release accepts.
fn read_kubespray(
    mut t: Table,
    report: &mut Report,
) -> (Option<&'static kubespray::Release>, Option<Kubespray>) {
    let version =
        t.req_str(report, "version", "the kubespray release, e.g. `version = \"v2.31.0\"`");
    let kube_version = t.str(report, "kube_version");
    let plugin = t.str(report, "network_plugin");
    let manager = t.str(report, "container_manager");
    let proxy = t.str(report, "kube_proxy_mode");
    t.finish(report);

    let Some(version) = version else { return (None, None) };
    let Some(release) = kubespray::find(&version.value) else {
        let known = kubespray::RELEASES.iter().map(|r| r.tag).collect();
        report.add(&version.loc, Problem::UnknownRelease { value: version.value, known });
        return (None, None);
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
    let whole = (|| {
        Some(Kubespray {
            release,
            kube_version: kube_version?,
            network_plugin: network_plugin?,
            container_manager: container_manager?,
            proxy_mode: proxy_mode?,
        })
    })();
    (Some(release), whole)
}

/// `[network]`, each value as far as it could be read: the rules over addresses need the
/// network and the gateway, not the DNS servers.
struct RawNetwork {
    cidr: Option<Ipv4Net>,
    gateway: Option<Ipv4Addr>,
    dns: Option<Vec<Ipv4Addr>>,
}

impl RawNetwork {
    fn whole(self) -> Option<Network> {
        Some(Network { cidr: self.cidr?, gateway: self.gateway?, dns: self.dns? })
    }
}

fn read_network(mut t: Table, report: &mut Report) -> RawNetwork {
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
    if let (Some(cidr), Some(gateway)) = (cidr, &gateway) {
        if !cidr.contains(&gateway.value) {
            report.add(
                &gateway.loc,
                Problem::NotInNetwork { ip: gateway.value.to_string(), cidr: cidr.to_string() },
            );
        } else if let Some(what) = rules::edge_of(cidr, gateway.value) {
            let ip = gateway.value.to_string();
            report.add(&gateway.loc, Problem::ReservedAddress { ip, what });
        }
    }
    RawNetwork { cidr, gateway: gateway.map(|g| g.value), dns }
}

/// What a node without its own `cpus` or `memory_mb` gets; `None` when `[vagrant]`'s value is
/// wrong (reported there), so that no rule judges a node by a value the user did not mean.
#[derive(Clone, Copy)]
struct NodeDefaults {
    cpus: Option<u32>,
    memory_mb: Option<u32>,
}

fn read_vagrant(mut t: Table, report: &mut Report) -> (Option<Vagrant>, NodeDefaults) {
    let box_name = t.req_str(report, "box", "the Vagrant box, e.g. `box = \"bento/ubuntu-24.04\"`");
    let box_version = t.req_str(
        report,
        "box_version",
        "the box's pinned version (a box that moves is not reproducible)",
    );
    let cpus = t.has("cpus").then(|| t.int(report, "cpus", CPUS.0, CPUS.1, Some(CPUS_WHY)));
    let memory = t
        .has("memory_mb")
        .then(|| t.int(report, "memory_mb", MEMORY_MB.0, MEMORY_MB.1, Some(MEMORY_WHY)));
    let keys = t.str_array(report, "authorized_keys");
    let linked_clone = t.bool(report, "linked_clone");
    t.finish(report);

    let defaults = NodeDefaults {
        cpus: cpus.map_or(Some(DEFAULT_CPUS), |c| c.map(|c| c.value)),
        memory_mb: memory.map_or(Some(DEFAULT_MEMORY_MB), |m| m.map(|m| m.value)),
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
            linked_clone: linked_clone.is_none_or(|l| l.value),
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

mod machines;

use machines::{read_host, read_node};
