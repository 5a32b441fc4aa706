//! The readers of the machines: one `[hosts.NAME]` (a VM server) and one `[nodes.NAME]` (a VM).

use super::{
    CPUS, CPUS_WHY, DEFAULT_SSH_PORT, MEMORY_MB, MEMORY_WHY, NodeDefaults, ipv4, label, typed,
};
use crate::parse::{Report, Sp, Table};
use crate::problem::Problem;
use crate::site::rules::{self, HostAt, NodeAt};
use crate::site::text::{Address, HostKey, InterfaceName, Label, RemoteRoot, UserName};
use crate::site::{Host, LibvirtDriver, Node, Provider, Role};

pub(super) fn read_host(
    name: Sp<String>,
    mut t: Table,
    cluster: Option<&Sp<Label>>,
    report: &mut Report,
) -> HostAt {
    let shown = shown_name(&name, "hosts");
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
    let port = t.has("port").then(|| t.int(report, "port", 1, u16::MAX, None));
    let root = t.str(report, "root");
    let provider = t.str(report, "provider");
    let driver = t.str(report, "libvirt_driver");
    t.finish(report);
    let provider_loc = provider.as_ref().map(|p| p.loc.clone());
    let provider = read_provider(report, provider, driver);

    let address = address.and_then(|a| typed(report, a, Address::parse));
    let user = user.and_then(|u| typed(report, u, UserName::parse));
    let bridge = bridge.and_then(|b| typed(report, b, InterfaceName::parse));
    let host_key = host_key.and_then(|k| typed(report, k, HostKey::parse));
    let root = match root {
        Some(r) => typed(report, r, RemoteRoot::parse).map(|r| r.value),
        None => match (&user, cluster) {
            (Some(user), Some(cluster)) => {
                Some(RemoteRoot::default_for(&user.value, &cluster.value))
            }
            _ => None,
        },
    };
    let host = (|| {
        Some(Host {
            name: name?.value,
            address: address.clone()?.value,
            port: port.map_or(Some(DEFAULT_SSH_PORT), |p| p.map(|p| p.value))?,
            user: user?.value,
            bridge: bridge?.value,
            host_key: host_key?.value,
            root: root?,
            provider: provider?,
        })
    })();
    let libvirt_at = provider_loc.filter(|_| matches!(provider, Some(Provider::Libvirt { .. })));
    HostAt { shown, address, libvirt_at, host }
}

/// `provider` and, for libvirt, `libvirt_driver`: a driver under another provider would be
/// ignored, so it is refused.
fn read_provider(
    report: &mut Report,
    provider: Option<Sp<String>>,
    driver: Option<Sp<String>>,
) -> Option<Provider> {
    let choice = |report: &mut Report, v: Sp<String>, allowed: &'static [&'static str]| {
        let known = allowed.contains(&v.value.as_str());
        if !known {
            report.add(&v.loc, Problem::UnknownChoice { value: v.value.clone(), allowed });
        }
        known.then_some(v)
    };
    let provider = match provider {
        None => Some(Provider::VirtualBox.word()),
        Some(p) => choice(report, p, Provider::WORDS)
            .map(|p| if p.value == "libvirt" { Provider::WORDS[1] } else { Provider::WORDS[0] }),
    };
    let driver = match driver {
        None => Some(None),
        Some(d) => {
            if provider == Some(Provider::VirtualBox.word()) {
                report.add(&d.loc, Problem::DriverWithoutLibvirt);
                None
            } else {
                choice(report, d, LibvirtDriver::WORDS).map(|d| LibvirtDriver::parse(&d.value))
            }
        }
    };
    match (provider?, driver?) {
        ("libvirt", driver) => Some(Provider::Libvirt { driver: driver.unwrap_or_default() }),
        _ => Some(Provider::VirtualBox),
    }
}

/// An entry's name as messages show it: its key after `section.`, which `parse` has quoted
/// and escaped when the name is not bare.
fn shown_name(name: &Sp<String>, section: &str) -> String {
    let key = &name.loc.key;
    key.strip_prefix(section).and_then(|k| k.strip_prefix('.')).unwrap_or(key).to_string()
}

pub(super) fn read_node(
    name: Sp<String>,
    mut t: Table,
    defaults: NodeDefaults,
    report: &mut Report,
) -> NodeAt {
    let shown = shown_name(&name, "nodes");
    let name = label(report, name).and_then(|name| rules::check_node_name(name, report));
    let host = t.req_str(report, "host", "the VM server this node runs on");
    let role = t.req_str(report, "role", "`role = \"control-plane\"` or `role = \"worker\"`");
    let ip = t.req_str(report, "ip", "the node's static address on the LAN");
    let cpus = t.has("cpus").then(|| t.int(report, "cpus", CPUS.0, CPUS.1, Some(CPUS_WHY)));
    let memory = t
        .has("memory_mb")
        .then(|| t.int(report, "memory_mb", MEMORY_MB.0, MEMORY_MB.1, Some(MEMORY_WHY)));
    let remove = t.bool(report, "remove").is_some_and(|r| r.value);
    let table_loc = t.loc();
    t.finish(report);

    let host = host.and_then(|h| label(report, h));
    let role = role.and_then(|r| typed(report, r, Role::parse));
    let ip = ip.and_then(|s| ipv4(report, s));
    let memory_loc = match &memory {
        Some(Some(m)) => m.loc.clone(),
        _ => table_loc.clone(),
    };
    let cpus_loc = match &cpus {
        Some(Some(c)) => c.loc.clone(),
        _ => table_loc.clone(),
    };
    let cpus = cpus.map_or(defaults.cpus, |c| c.map(|c| c.value));
    let memory_mb = memory.map_or(defaults.memory_mb, |m| m.map(|m| m.value));
    let node = (|| {
        Some(Node {
            name: name?.value,
            host: host.clone()?.value,
            role: role.clone()?.value,
            ip: ip.clone()?.value,
            cpus: cpus?,
            memory_mb: memory_mb?,
            remove,
        })
    })();
    NodeAt { shown, host, role, ip, cpus, cpus_loc, memory_mb, memory_loc, remove, node }
}
