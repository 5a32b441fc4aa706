//! The site file `gen init` writes: every section, with what it knows set and what it does not
//! left as a commented-out key to fill in; and what `gen build` would refuse in it, to check an
//! answer by the site's own rules before it is taken.

use std::net::Ipv4Addr;

use super::Server;
use crate::draft::{self, Section, string, strings};

const DEFAULT_BOX: &str = "bento/ubuntu-24.04";
const DEFAULT_BOX_VERSION: &str = "202502.21.0";

#[derive(Clone)]
pub(super) struct Lab {
    pub(super) name: Option<String>,
    pub(super) cidr: Option<String>,
    pub(super) gateway: Option<String>,
    pub(super) dns: Vec<String>,
    pub(super) servers: Vec<Server>,
    pub(super) bridge: Option<String>,
    /// `provider` of every server, when not the default.
    pub(super) provider: Option<String>,
    pub(super) libvirt_driver: Option<String>,
    pub(super) control_planes: usize,
    pub(super) workers: usize,
    pub(super) release: String,
}

impl Lab {
    /// What `gen build` would refuse (not what it finds missing) at the keys `at` picks, once
    /// `change` is made: an answer is checked by the site's own rules, as the file will be.
    pub(super) fn refused(
        &self,
        change: impl FnOnce(&mut Lab),
        at: impl Fn(&str) -> bool,
    ) -> Option<String> {
        let mut lab = self.clone();
        change(&mut lab);
        let problems = draft::problems(&lab.text(None, None), "site.toml");
        let refusal = draft::mistakes(&problems).into_iter().find(|d| at(&d.key))?;
        let mut why = format!("error: `{}`: {}", refusal.key, refusal.problem);
        if let Some(fix) = refusal.problem.fix() {
            why += &format!("\n  fix: {fix}");
        }
        Some(why)
    }

    pub(super) fn text(
        &self,
        addresses: Option<&[Ipv4Addr]>,
        first_ip: Option<Ipv4Addr>,
    ) -> String {
        let mut sections = vec![];
        let mut cluster = Section::new("cluster");
        cluster.set_or_fill(
            "name",
            self.name.as_deref().map(string),
            "the cluster's name, a lowercase label",
            "\"lab\"",
        );
        sections.push(cluster);

        let mut ks = Section::new("kubespray");
        ks.note(
            "kube_version, network_plugin, container_manager, kube_proxy_mode: the release's\n\
             defaults unless set here.",
        );
        ks.set("version", string(&self.release));
        sections.push(ks);

        let mut network = Section::new("network")
            .with_comment("The LAN the VMs bridge onto, its router and its DNS servers.");
        network.set_or_fill(
            "cidr",
            self.cidr.as_deref().map(string),
            "the LAN, as a network address and prefix",
            "\"192.168.1.0/24\"",
        );
        network.set_or_fill(
            "gateway",
            self.gateway.as_deref().map(string),
            "the LAN's router",
            "\"192.168.1.1\"",
        );
        let dns = (!self.dns.is_empty()).then(|| strings(&self.dns));
        network.set_or_fill("dns", dns, "the LAN's DNS servers", "[\"192.168.1.1\"]");
        sections.push(network);

        let mut vagrant = Section::new("vagrant").with_comment(
            "The box every VM boots, pinned: a box that moves is not reproducible.\nCPUs and \
             memory (MiB) of every VM; a node can override them.",
        );
        vagrant.set("box", string(DEFAULT_BOX));
        vagrant.set("box_version", string(DEFAULT_BOX_VERSION));
        vagrant.set("cpus", crate::site::DEFAULT_CPUS.to_string());
        vagrant.set("memory_mb", crate::site::DEFAULT_MEMORY_MB.to_string());
        vagrant.note(
            "The laptop that runs kubespray logs in to the guests with one of these keys:\n\
             authorized_keys = [\"ssh-ed25519 AAAA… you@laptop\"]",
        );
        sections.push(vagrant);

        let mut addons = Section::new("addons");
        addons.set("helm", "false".into());
        addons.note(
            "MetalLB hands out LAN addresses to LoadBalancer services:\n\
                     metallb = { ip_range = \"192.168.1.240-192.168.1.250\" }",
        );
        sections.push(addons);

        for server in &self.servers {
            let mut host = Section::new(format!("hosts.{}", key(&server.name)));
            host.set("address", string(&server.address));
            host.set("user", string(&server.user));
            if server.port != 22 {
                host.set("port", server.port.to_string());
            }
            host.set_or_fill(
                "bridge",
                self.bridge.as_deref().map(string),
                format!("the NIC of {} the VMs bridge onto (`ip -br link` there)", server.name),
                "\"eno1\"",
            );
            if let Some(provider) = &self.provider {
                host.set("provider", string(provider));
            }
            if let Some(driver) = &self.libvirt_driver {
                host.set("libvirt_driver", string(driver));
            }
            host.set_or_fill(
                "host_key",
                server.host_key.as_deref().map(string),
                format!(
                    "{}'s ssh host key: `gen init --keyscan`, or on the server \
                     `cat /etc/ssh/ssh_host_ed25519_key.pub`",
                    server.name
                ),
                "\"ssh-ed25519 AAAA…\"",
            );
            sections.push(host);
        }

        let roles = std::iter::repeat_n("control-plane", self.control_planes)
            .chain(std::iter::repeat_n("worker", self.workers));
        let (mut cp, mut w) = (0, 0);
        for (i, role) in roles.enumerate() {
            let name = if role == "worker" {
                w += 1;
                format!("k8s-w-{w}")
            } else {
                cp += 1;
                format!("k8s-cp-{cp}")
            };
            let mut node = Section::new(format!("nodes.{name}"));
            if i == 0 {
                node.comment = Some(format!(
                    "Nodes are spread over the servers in turn{};\nmake sure your router's DHCP \
                     does not hand these addresses out.",
                    first_ip.map_or(String::new(), |ip| format!(", with addresses from {ip} on"))
                ));
            }
            let server = (!self.servers.is_empty()).then(|| &self.servers[i % self.servers.len()]);
            node.set_or_fill(
                "host",
                server.map(|s| string(&s.name)),
                "the server (a `[hosts.<name>]`) this VM runs on",
                "\"vmhost1\"",
            );
            node.set("role", string(role));
            node.set_or_fill(
                "ip",
                addresses.map(|a| string(&a[i].to_string())),
                "the node's static address on the LAN",
                "\"192.168.1.21\"",
            );
            sections.push(node);
        }

        let header = "The lab: one Kubernetes cluster over VM servers on the LAN, started by `gen \
                      init`.\n`gen build` turns this file into out/; every key is described in \
                      gen's README\nand, for editors, in the schema named on the first line.";
        draft::text(header, &sections)
    }
}

/// A table key as TOML writes it: bare when it can be.
fn key(name: &str) -> String {
    let bare = !name.is_empty()
        && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
    if bare { name.to_string() } else { string(name) }
}
