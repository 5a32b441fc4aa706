//! The validated lab: what `site.toml` means once every rule holds.
//!
//! `Site::from_toml` reads the spanned document (`parse`) and checks every rule at once. After it
//! returns `Ok`, nothing in a `Site` can be invalid: names are RFC 1123 labels, addresses are
//! typed, free text has been held to the grammar of every file it lands in (shell, Ruby, YAML,
//! systemd), and the kubespray choices are ones the release accepts. Rendering never checks.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::net::Ipv4Addr;
use std::str::FromStr;

use ipnet::Ipv4Net;
use toml::de::DeTable;

use crate::error::Error;
use crate::kubespray::{self, Release};
use crate::parse::{self, Loc, Report, Sp, Table};
use crate::problem::Problem;

/// `ansible_memtotal_mb`, which kubespray compares with its minimums, is the guest's RAM less
/// what the kernel keeps; this much headroom keeps an allotment from passing here and failing
/// there.
pub const GUEST_KERNEL_RESERVE_MB: u32 = 256;

/// Defaults of `[vagrant]` for every node (DESIGN.md).
const DEFAULT_CPUS: u32 = 2;
const DEFAULT_MEMORY_MB: u32 = 4096;
const DEFAULT_SSH_PORT: u16 = 22;

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

/// An RFC 1123 label: 1–63 of `a-z 0-9 -`, not starting or ending with `-`. Safe verbatim in
/// every output language.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Label(String);

impl Label {
    pub fn parse(s: &str) -> Result<Label, &'static str> {
        if s.is_empty() {
            return Err("it is empty");
        }
        if s.len() > 63 {
            return Err("it is longer than 63 characters");
        }
        if !s.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-') {
            return Err("only lowercase letters, digits and `-` are allowed");
        }
        if s.starts_with('-') || s.ends_with('-') {
            return Err("it starts or ends with `-`");
        }
        Ok(Label(s.to_string()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Label {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Role {
    ControlPlane,
    Worker,
}

impl Role {
    /// The folder and unit-name part of this role's group on a host.
    pub fn group(self) -> &'static str {
        match self {
            Role::ControlPlane => "control-plane",
            Role::Worker => "workers",
        }
    }
}

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
    /// `owner/name`, of `[A-Za-z0-9._-]`.
    pub box_name: String,
    /// Dotted digits.
    pub box_version: String,
    /// OpenSSH public keys (`type base64 [comment]`, comment of `[A-Za-z0-9@._+:=-]`) that may log
    /// in to the guests' `vagrant` user: the machine that runs kubespray needs one.
    pub authorized_keys: Vec<String>,
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
    /// An IPv4 address or a DNS name (letters, digits, `-`, `.`).
    pub address: String,
    pub port: u16,
    /// A POSIX user name (`[a-z_][a-z0-9_-]*`, at most 32).
    pub user: String,
    /// A Linux interface name (`[A-Za-z0-9_.-]`, at most 15).
    pub bridge: String,
    /// `type base64`, exactly as in a known_hosts line.
    pub host_key: String,
    /// Absolute path of `[A-Za-z0-9._/-]` with no `.` or `..` component.
    pub root: String,
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

impl Site {
    /// Validates the text of a site file. `file` names it in error messages.
    pub fn from_toml(text: &str, file: &str) -> Result<Site, Error> {
        let mut report = Report::new(text);
        let site = parse::document(text, &mut report).and_then(|doc| read_site(&doc, &mut report));
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
}

/// Reads every section, then checks the rules that span sections. `None` when something could
/// not be read at all (it has been reported).
fn read_site(doc: &toml::Spanned<DeTable<'_>>, report: &mut Report) -> Option<Site> {
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
    check_hosts_and_nodes(&host_names, &hosts, &nodes, all_nodes_read, report);

    let addons = addons.unwrap_or(Some(RawAddons { helm: false, metallb: None }));
    let (cluster, kubespray, network, vagrant, addons) =
        (cluster?, kubespray?, network?, vagrant?, addons?);

    check_addresses(&network, &hosts, &nodes, report);
    if all_nodes_read {
        check_etcd(&nodes, &nodes_loc, report);
    }
    check_memory(&kubespray, &nodes, report);
    let metallb = addons.metallb.and_then(|r| check_metallb(r, &network, &hosts, &nodes, report));

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

fn label(report: &mut Report, s: Sp<String>) -> Option<Sp<Label>> {
    match Label::parse(&s.value) {
        Ok(l) => Some(Sp { value: l, loc: s.loc }),
        Err(why) => {
            report.add(&s.loc, Problem::NotALabel { value: s.value, why });
            None
        }
    }
}

fn ipv4(report: &mut Report, s: &Sp<String>) -> Option<Ipv4Addr> {
    match Ipv4Addr::from_str(&s.value) {
        Ok(ip) => Some(ip),
        Err(_) => {
            report.add(&s.loc, Problem::NotAnIpv4 { value: s.value.clone() });
            None
        }
    }
}

/// Checks a free-text value against the grammar its consumers accept.
/// A free-text value's grammar: what its consumers (shell, Ruby, YAML, systemd, ssh) can all
/// take verbatim, and how to describe it to the user.
struct Grammar {
    accepts: fn(&str) -> bool,
    expected: &'static str,
}

const BOX_NAME: Grammar = Grammar {
    accepts: is_box_name,
    expected: "a box name `owner/name` of letters, digits, `.`, `_` and `-`",
};
const BOX_VERSION: Grammar = Grammar {
    accepts: is_dotted_number,
    expected: "a box version of digits and dots, e.g. `202502.21.0`",
};
const AUTHORIZED_KEY: Grammar = Grammar {
    accepts: is_authorized_key,
    expected: "an OpenSSH public key `type base64 [comment]` with a comment of letters, digits \
               and `@._+:=-`",
};
const ADDRESS: Grammar = Grammar { accepts: is_address, expected: "an IPv4 address or a DNS name" };
const USER_NAME: Grammar = Grammar {
    accepts: is_user_name,
    expected: "a user name of lowercase letters, digits, `_` and `-` (at most 32, not starting \
               with a digit or `-`)",
};
const INTERFACE_NAME: Grammar = Grammar {
    accepts: is_interface_name,
    expected: "a network interface name of at most 15 letters, digits, `_`, `.` and `-`",
};
const HOST_KEY: Grammar = Grammar {
    accepts: is_host_key,
    expected: "an ssh public key `type base64`, as `ssh-keyscan` prints it after the host name",
};
const REMOTE_ROOT: Grammar = Grammar {
    accepts: is_remote_root,
    expected: "an absolute path of letters, digits and `._-/` without `.` or `..` parts",
};

/// Checks a free-text value against the grammar its consumers accept.
fn grammar(report: &mut Report, s: Sp<String>, grammar: &Grammar) -> Option<String> {
    if (grammar.accepts)(&s.value) {
        Some(s.value)
    } else {
        report.add(&s.loc, Problem::BadSyntax { value: s.value, expected: grammar.expected });
        None
    }
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
        None => Some(release.kube_version_default),
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
    let network_plugin = choose(report, plugin, "calico", release.network_plugins);
    let container_manager = choose(report, manager, "containerd", release.container_managers);
    let proxy_mode = choose(report, proxy, "ipvs", release.proxy_modes);
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
    let dns = t.str_array(report, "dns");
    let table_loc = t.loc();
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
        for (other, other_cidr) in RESERVED_NETWORKS {
            let o = Ipv4Net::from_str(other_cidr).expect("constant network");
            if net.contains(&o.network()) || o.contains(&net.network()) {
                report.add(
                    &c.loc,
                    Problem::CidrOverlaps { cidr: c.value.clone(), other, other_cidr },
                );
            }
        }
        Some((net, c.loc))
    });
    let gateway = gateway.and_then(|g| ipv4(report, &g).map(|ip| (ip, g.loc)));
    let dns = match dns {
        None => {
            report.add(
                &Loc { key: format!("{}.dns", table_loc.key), offset: table_loc.offset },
                Problem::Missing { what: "the LAN's DNS servers, e.g. `dns = [\"192.168.1.1\"]`" },
            );
            None
        }
        Some(list) if list.value.is_empty() => {
            report.add(&list.loc, Problem::EmptyList);
            None
        }
        Some(list) => list.value.iter().map(|s| ipv4(report, s)).collect::<Option<Vec<_>>>(),
    };
    let ((cidr, _), (gateway, gateway_loc)) = (cidr?, gateway?);
    if !cidr.contains(&gateway) {
        report.add(
            &gateway_loc,
            Problem::NotInNetwork { ip: gateway.to_string(), cidr: cidr.to_string() },
        );
    } else if let Some(what) = edge_of(cidr, gateway) {
        report.add(&gateway_loc, Problem::ReservedAddress { ip: gateway.to_string(), what });
    }
    Some(Network { cidr, gateway, dns: dns? })
}

/// `Some` when `ip` is the network or broadcast address of `net`, which no machine may have.
fn edge_of(net: Ipv4Net, ip: Ipv4Addr) -> Option<&'static str> {
    if ip == net.network() {
        Some("network address of `network.cidr`")
    } else if ip == net.broadcast() {
        Some("broadcast address of `network.cidr`")
    } else {
        None
    }
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
    let cpus = t.int(report, "cpus", 1, 256);
    let memory = t.int(report, "memory_mb", 512, 1 << 20);
    let keys = t.str_array(report, "authorized_keys");
    t.finish(report);

    let defaults = NodeDefaults {
        cpus: cpus.map_or(DEFAULT_CPUS, |c| c.value as u32),
        memory_mb: memory.map_or(DEFAULT_MEMORY_MB, |m| m.value as u32),
    };
    let box_name = box_name.and_then(|b| grammar(report, b, &BOX_NAME));
    let box_version = box_version.and_then(|v| grammar(report, v, &BOX_VERSION));
    let keys = keys.map_or(Some(vec![]), |k| {
        k.value.into_iter().map(|k| grammar(report, k, &AUTHORIZED_KEY)).collect::<Option<Vec<_>>>()
    });
    let vagrant = match (box_name, box_version, keys) {
        (Some(box_name), Some(box_version), Some(authorized_keys)) => {
            Some(Vagrant { box_name, box_version, authorized_keys })
        }
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
    let metallb = t.table(report, "metallb").map(|mut m| {
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
    let port = t.int(report, "port", 1, 65535);
    let root = t.str(report, "root");
    t.finish(report);

    let address = address.and_then(|a| grammar(report, a, &ADDRESS));
    let user = user.and_then(|u| grammar(report, u, &USER_NAME));
    let bridge = bridge.and_then(|b| grammar(report, b, &INTERFACE_NAME));
    let host_key = host_key.and_then(|k| grammar(report, k, &HOST_KEY));
    let root = match root {
        Some(r) => Some(grammar(report, r, &REMOTE_ROOT)?),
        None => match (&user, cluster) {
            (Some(user), Some(cluster)) => Some(default_remote_root(user, &cluster.value)),
            _ => None,
        },
    };
    let name = name?;
    Some(Sp {
        loc: name.loc,
        value: Host {
            name: name.value,
            address: address?,
            port: port.map_or(DEFAULT_SSH_PORT, |p| p.value as u16),
            user: user?,
            bridge: bridge?,
            host_key: host_key?,
            root: root?,
        },
    })
}

/// Where a host keeps its generations when `root` is not given. Units need an absolute path at
/// build time, so this assumes the conventional home; DESIGN.md's `~user` cannot be resolved
/// offline.
pub fn default_remote_root(user: &str, cluster: &Label) -> String {
    format!("/home/{user}/gen/{cluster}")
}

/// A node as read, with the places of the values later checks point at.
struct NodeAt {
    node: Node,
    host_loc: Loc,
    role_loc: Loc,
    ip_loc: Loc,
    memory_loc: Loc,
}

fn read_node(
    name: Sp<String>,
    mut t: Table,
    defaults: NodeDefaults,
    report: &mut Report,
) -> Option<NodeAt> {
    let name = label(report, name).and_then(|name| {
        let reserved = RESERVED_NODE_NAMES.iter().find(|(n, _)| *n == name.value.as_str());
        match reserved {
            Some((_, meaning)) => {
                let value = name.value.to_string();
                report.add(&name.loc, Problem::ReservedName { value, meaning });
                None
            }
            None => Some(name),
        }
    });
    let host = t.req_str(report, "host", "the VM server this node runs on");
    let role = t.req_str(report, "role", "`role = \"control-plane\"` or `role = \"worker\"`");
    let ip = t.req_str(report, "ip", "the node's static address on the LAN");
    let cpus = t.int(report, "cpus", 1, 256);
    let memory = t.int(report, "memory_mb", 512, 1 << 20);
    let remove = t.bool(report, "remove");
    let table_loc = t.loc();
    t.finish(report);

    let host = host.and_then(|h| label(report, h));
    let role = role.and_then(|r| match r.value.as_str() {
        "control-plane" => Some(Sp { value: Role::ControlPlane, loc: r.loc }),
        "worker" => Some(Sp { value: Role::Worker, loc: r.loc }),
        _ => {
            report.add(&r.loc, Problem::UnknownRole { value: r.value });
            None
        }
    });
    let ip = ip.and_then(|s| ipv4(report, &s).map(|ip| Sp { value: ip, loc: s.loc }));
    let memory_loc = memory.as_ref().map_or(table_loc, |m| m.loc.clone());
    let (name, host, role, ip) = (name?, host?, role?, ip?);
    Some(NodeAt {
        node: Node {
            name: name.value,
            host: host.value,
            role: role.value,
            ip: ip.value,
            cpus: cpus.map_or(defaults.cpus, |c| c.value as u32),
            memory_mb: memory.map_or(defaults.memory_mb, |m| m.value as u32),
            remove: remove.is_some_and(|r| r.value),
        },
        host_loc: host.loc,
        role_loc: role.loc,
        ip_loc: ip.loc,
        memory_loc,
    })
}

fn check_hosts_and_nodes(
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
fn check_addresses(network: &Network, hosts: &[Sp<Host>], nodes: &[NodeAt], report: &mut Report) {
    let mut taken: BTreeMap<Ipv4Addr, String> = BTreeMap::new();
    taken.insert(network.gateway, "network.gateway".into());
    for h in hosts {
        if let Ok(ip) = Ipv4Addr::from_str(&h.value.address) {
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

/// Stacked etcd runs on the control planes: there must be some, and an odd number. Members being
/// removed (`remove = true`) are not counted: replacing one adds its successor first, and the
/// etcd cluster is odd again once kubespray has removed it.
fn check_etcd(nodes: &[NodeAt], nodes_loc: &Loc, report: &mut Report) {
    let control_planes: Vec<&NodeAt> =
        nodes.iter().filter(|n| n.node.role == Role::ControlPlane && !n.node.remove).collect();
    match control_planes.as_slice() {
        [] if !nodes.is_empty() => report.add(nodes_loc, Problem::NoControlPlane),
        [.., last] if control_planes.len() % 2 == 0 => {
            report.add(&last.role_loc, Problem::EvenEtcd { count: control_planes.len() });
        }
        _ => {}
    }
}

/// kubespray's memory minimums (checked against the guest's MemTotal, hence the headroom).
fn check_memory(k: &Kubespray, nodes: &[NodeAt], report: &mut Report) {
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

fn check_metallb(
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
    used.extend(hosts.iter().filter_map(|h| {
        Ipv4Addr::from_str(&h.value.address).ok().map(|ip| (ip, format!("host `{}`", h.value.name)))
    }));
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

fn is_box_name(s: &str) -> bool {
    let part = |p: &str| {
        !p.is_empty()
            && !p.starts_with(['.', '-'])
            && p.bytes().all(|b| b.is_ascii_alphanumeric() || b"._-".contains(&b))
    };
    s.len() <= 128 && s.split_once('/').is_some_and(|(o, n)| part(o) && part(n))
}

fn is_dotted_number(s: &str) -> bool {
    s.len() <= 64 && s.split('.').all(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()))
}

fn is_user_name(s: &str) -> bool {
    let b = s.as_bytes();
    (1..=32).contains(&b.len())
        && (b[0].is_ascii_lowercase() || b[0] == b'_')
        && b.iter()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || *c == b'_' || *c == b'-')
}

fn is_interface_name(s: &str) -> bool {
    (1..=15).contains(&s.len())
        && s != "."
        && s != ".."
        && !s.starts_with('-')
        && s.bytes().all(|b| b.is_ascii_alphanumeric() || b"_.-".contains(&b))
}

fn is_address(s: &str) -> bool {
    if Ipv4Addr::from_str(s).is_ok() {
        return true;
    }
    s.len() <= 253
        && s.split('.').all(|l| {
            (1..=63).contains(&l.len())
                && !l.starts_with('-')
                && !l.ends_with('-')
                && l.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
        })
        // All-numeric labels would read as a (bad) IPv4 address.
        && !s.bytes().all(|b| b.is_ascii_digit() || b == b'.')
}

/// Key types OpenSSH writes in known_hosts and authorized_keys.
const KEY_TYPES: &[&str] = &[
    "ssh-ed25519",
    "ssh-rsa",
    "ecdsa-sha2-nistp256",
    "ecdsa-sha2-nistp384",
    "ecdsa-sha2-nistp521",
    "sk-ssh-ed25519@openssh.com",
    "sk-ecdsa-sha2-nistp256@openssh.com",
];

fn is_key_body(kind: &str, body: &str) -> bool {
    KEY_TYPES.contains(&kind)
        && body.len() >= 16
        && body.len() % 4 == 0
        && body.starts_with("AAAA")
        && body.bytes().all(|b| b.is_ascii_alphanumeric() || b"+/=".contains(&b))
}

fn is_host_key(s: &str) -> bool {
    let parts: Vec<&str> = s.split(' ').collect();
    matches!(parts.as_slice(), [kind, body] if is_key_body(kind, body))
}

fn is_authorized_key(s: &str) -> bool {
    let parts: Vec<&str> = s.split(' ').collect();
    let comment_ok = |c: &str| {
        !c.is_empty() && c.bytes().all(|b| b.is_ascii_alphanumeric() || b"@._+:=-".contains(&b))
    };
    match parts.as_slice() {
        [kind, body] => is_key_body(kind, body),
        [kind, body, comment] => is_key_body(kind, body) && comment_ok(comment),
        _ => false,
    }
}

fn is_remote_root(s: &str) -> bool {
    s.len() <= 200
        && s.len() > 1
        && s.starts_with('/')
        && !s.ends_with('/')
        && s[1..].split('/').all(|c| !c.is_empty() && c != "." && c != "..")
        && s.bytes().all(|b| b.is_ascii_alphanumeric() || b"._-/".contains(&b))
}
