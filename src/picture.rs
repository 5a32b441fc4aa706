//! `out/README.md`: a picture of the lab for reviewers, which GitHub renders. A Mermaid
//! flowchart (each server a subgraph with its VMs, their role, IP, cpus and memory, etcd members
//! marked, the LAN with its gateway and the MetalLB range) and a table per server of the cpus
//! and memory its VMs commit. It is in the tree and the manifest like every file, so a topology
//! change shows in the same `git diff` as the files it changes.
//!
//! Every decision is here: Mermaid ids, what a role is called, which VMs are etcd members, the
//! totals. `templates/README.md` only prints. Ids are the names with `-` as `_` behind a prefix
//! (`host_`, `vm_`): names are RFC 1123 labels, which hold no `_`, so two names never share an
//! id, and a prefix keeps a node called `end` from reading as Mermaid's keyword. Every value
//! printed is a validated label, address or number: none holds a quote, bracket or `|`.

use askama::Template;

use crate::layout;
use crate::site::{Host, Node, Role, Site};
use crate::tree::Tree;

#[derive(Template)]
#[template(path = "README.md", escape = "none")]
struct Picture<'a> {
    cluster: &'a str,
    kube_version: &'a str,
    release: &'a str,
    vm_count: usize,
    server_count: usize,
    cidr: String,
    gateway: String,
    etcd_list: String,
    metallb: Option<String>,
    servers: Vec<Server>,
    /// The etcd members' ids, comma-separated, as Mermaid's `class` takes them.
    etcd_ids: String,
}

struct Server {
    id: String,
    name: String,
    address: String,
    vms: Vec<Vm>,
    /// The id of a "no VMs" box: a server without VMs still shows as a box.
    empty: Option<String>,
    cpus: u32,
    memory_mb: u32,
}

struct Vm {
    id: String,
    name: String,
    role: String,
    ip: String,
    cpus: u32,
    memory_mb: u32,
}

/// A Mermaid id for a name: see the module comment.
pub fn mermaid_id(prefix: &str, name: &str) -> String {
    format!("{prefix}_{}", name.replace('-', "_"))
}

/// What the picture calls a node's role: etcd members are marked, leaving ones said.
fn role_text(node: &Node, etcd: bool) -> String {
    let mut text = node.role.word().to_string();
    if etcd {
        text += ", etcd";
    }
    if node.remove {
        text += ", leaving (remove = true)";
    }
    text
}

fn server(host: &Host, nodes: &[&Node], etcd: &[&str]) -> Server {
    let vms: Vec<Vm> = nodes
        .iter()
        .map(|n| Vm {
            id: mermaid_id("vm", n.name.as_str()),
            name: n.name.to_string(),
            role: role_text(n, n.role == Role::ControlPlane && etcd.contains(&n.name.as_str())),
            ip: n.ip.to_string(),
            cpus: n.cpus,
            memory_mb: n.memory_mb,
        })
        .collect();
    let id = mermaid_id("host", host.name.as_str());
    Server {
        empty: vms.is_empty().then(|| format!("{id}_none")),
        id,
        name: host.name.to_string(),
        address: host.address.to_string(),
        cpus: vms.iter().map(|v| v.cpus).sum(),
        memory_mb: vms.iter().map(|v| v.memory_mb).sum(),
        vms,
    }
}

/// Adds `out/README.md` to the tree.
pub fn render(site: &Site, tree: &mut Tree) {
    let etcd: Vec<&str> = site.etcd_members().into_iter().map(crate::site::Label::as_str).collect();
    let servers: Vec<Server> = site
        .hosts
        .iter()
        .map(|host| {
            let nodes: Vec<&Node> = site.nodes.iter().filter(|n| n.host == host.name).collect();
            server(host, &nodes, &etcd)
        })
        .collect();
    let etcd_list = if etcd.is_empty() { "none".to_string() } else { etcd.join(", ") };
    let picture = Picture {
        cluster: site.cluster.as_str(),
        kube_version: site.kubespray.kube_version,
        release: site.kubespray.release.tag,
        vm_count: site.nodes.len(),
        server_count: site.hosts.len(),
        cidr: site.network.cidr.to_string(),
        gateway: site.network.gateway.to_string(),
        etcd_list,
        metallb: site.addons.metallb.map(|r| r.to_string()),
        etcd_ids: etcd.iter().map(|n| mermaid_id("vm", n)).collect::<Vec<_>>().join(","),
        servers,
    };
    let text = picture.render().expect("the picture only prints validated values");
    tree.insert_text(layout::PICTURE, &text);
}
