//! `gen import`: start a lab from an existing kubespray inventory, `inventory.ini` (ansible's
//! INI format) or `hosts.yaml` (ansible's YAML format), and write a `site.toml` with its nodes,
//! their roles and addresses.
//!
//! An inventory knows the nodes, not the lab: which server runs each VM, the servers themselves,
//! the LAN, the box and the kubespray release are left as holes ("to fill in"), each of which
//! `gen build` reports as missing. Roles follow kubespray's groups: a node in
//! `kube_control_plane` (or the legacy `kube-master`) is a control plane, one only in `kube_node`
//! (`kube-node`) a worker; gen stacks etcd on the control planes, so an `etcd` group that differs
//! is said in the file. A node's address is its `ip`, else `access_ip`, else `ansible_host`:
//! the order in which kubespray binds (README, "Inventory").

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use crate::draft::{self, Section, string};
use crate::error::{Error, Result, exit};
use crate::wording::{Count, List};

#[derive(clap::Args)]
pub struct Arguments {
    /// The kubespray inventory: an INI file (inventory.ini) or YAML (hosts.yaml, hosts.yml)
    inventory: PathBuf,
    /// The cluster's name [default: lab]
    #[arg(long, value_name = "NAME")]
    name: Option<String>,
    /// The kubespray release the cluster runs, e.g. v2.31.0 [default: left to fill in]
    #[arg(long, value_name = "TAG")]
    kubespray: Option<String>,
    /// Replace an existing site file (and schema)
    #[arg(long)]
    force: bool,
}

const CONTROL_PLANE_GROUPS: &[&str] = &["kube_control_plane", "kube-master"];
const NODE_GROUPS: &[&str] = &["kube_node", "kube-node"];
const ETCD_GROUP: &str = "etcd";

/// An inventory as ansible reads it: hosts with their variables, groups with their hosts and
/// child groups.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Inventory {
    pub hosts: BTreeMap<String, BTreeMap<String, String>>,
    pub groups: BTreeMap<String, Group>,
}

#[derive(Debug, Default, PartialEq, Eq)]
pub struct Group {
    pub hosts: BTreeSet<String>,
    pub children: BTreeSet<String>,
}

impl Inventory {
    /// Every host of a group and of its children, however deep.
    pub fn members(&self, group: &str) -> BTreeSet<String> {
        let mut out = BTreeSet::new();
        let mut seen = BTreeSet::new();
        let mut todo = vec![group.to_string()];
        while let Some(g) = todo.pop() {
            if !seen.insert(g.clone()) {
                continue;
            }
            if let Some(group) = self.groups.get(&g) {
                out.extend(group.hosts.iter().cloned());
                todo.extend(group.children.iter().cloned());
            }
        }
        out
    }

    fn host(&mut self, name: &str) -> &mut BTreeMap<String, String> {
        self.hosts.entry(name.to_string()).or_default()
    }

    fn group(&mut self, name: &str) -> &mut Group {
        self.groups.entry(name.to_string()).or_default()
    }
}

pub fn run(arguments: Arguments, site: &Path) -> Result<u8> {
    if !arguments.force && site.symlink_metadata().is_ok() {
        return Err(Error::WouldOverwrite { path: site.to_path_buf() });
    }
    let path = &arguments.inventory;
    let text = std::fs::read_to_string(path).map_err(|e| Error::io(path, "read", e))?;
    let yaml = path.extension().is_some_and(|e| e == "yaml" || e == "yml");
    let inventory = if yaml { parse_yaml(&text, path)? } else { parse_ini(&text, path)? };
    let file = site.display().to_string();
    let site_text = site_text(&inventory, &arguments, path)?;
    let problems = draft::problems(&site_text, &file);
    let schema = draft::write(site, &site_text, arguments.force)?;
    let nodes = inventory_nodes(&inventory).len();
    let mut said = format!(
        "wrote `{file}` ({} from `{}`) and `{}`\n",
        Count::new(nodes, "node"),
        path.display(),
        schema.display()
    );
    said += &draft::report(&file, &problems);
    print!("{said}");
    Ok(exit::OK)
}

/// A node of the cluster: its name, whether it is a control plane, its address and where that
/// address came from.
struct Imported {
    name: String,
    control_plane: bool,
    address: Option<(String, &'static str)>,
}

fn inventory_nodes(inventory: &Inventory) -> Vec<Imported> {
    let union = |groups: &[&str]| -> BTreeSet<String> {
        groups.iter().flat_map(|g| inventory.members(g)).collect()
    };
    let control_planes = union(CONTROL_PLANE_GROUPS);
    let nodes = union(NODE_GROUPS);
    control_planes
        .union(&nodes)
        .map(|name| {
            let vars = inventory.hosts.get(name);
            let address = ["ip", "access_ip", "ansible_host"]
                .into_iter()
                .find_map(|var| vars.and_then(|v| v.get(var)).map(|value| (value.clone(), var)));
            Imported { name: name.clone(), control_plane: control_planes.contains(name), address }
        })
        .collect()
}

fn site_text(inventory: &Inventory, arguments: &Arguments, path: &Path) -> Result<String> {
    let nodes = inventory_nodes(inventory);
    if nodes.is_empty() {
        return Err(Error::Inventory {
            path: path.to_path_buf(),
            line: 1,
            reason: "no host is in `kube_control_plane`, `kube-master`, `kube_node` or \
                     `kube-node`: this is not a kubespray inventory, or its hosts are still \
                     commented out"
                .into(),
        });
    }
    let mut sections = vec![];
    let mut cluster = Section::new("cluster");
    cluster.set("name", string(arguments.name.as_deref().unwrap_or("lab")));
    sections.push(cluster);

    let mut kubespray = Section::new("kubespray");
    kubespray.set_or_fill(
        "version",
        arguments.kubespray.as_deref().map(string),
        "the kubespray release the cluster runs (its git tag)",
        "\"v2.31.0\"",
    );
    sections.push(kubespray);

    let mut network = Section::new("network")
        .with_comment("The LAN the VMs bridge onto: the inventory does not say.");
    network.fill("cidr", "the LAN, as a network address and prefix", "\"192.168.1.0/24\"");
    network.fill("gateway", "the LAN's router", "\"192.168.1.1\"");
    network.fill("dns", "the LAN's DNS servers", "[\"192.168.1.1\"]");
    sections.push(network);

    let mut vagrant = Section::new("vagrant").with_comment("The box every VM boots, pinned.");
    vagrant.fill("box", "the Vagrant box", "\"bento/ubuntu-24.04\"");
    vagrant.fill("box_version", "its version", "\"202502.21.0\"");
    sections.push(vagrant);

    let mut hosts = Section::new("hosts")
        .with_comment("The VM servers: the inventory names the VMs, not the machines they run on.");
    hosts.note(
        "to fill in: one table per server, e.g.\n[hosts.vmhost1]\naddress = \"192.168.1.10\"\n\
         user = \"lab\"\nbridge = \"eno1\"\nhost_key = \"ssh-ed25519 AAAA…\"\n\
         # under libvirt (KVM) instead of VirtualBox, with bridge a Linux bridge (br0):\n\
         # provider = \"libvirt\"",
    );
    sections.push(hosts);

    let etcd = inventory.members(ETCD_GROUP);
    let control_planes: BTreeSet<String> =
        nodes.iter().filter(|n| n.control_plane).map(|n| n.name.clone()).collect();
    let mut first = true;
    for node in &nodes {
        let mut section = Section::new(format!("nodes.{}", table_key(&node.name)));
        if first {
            let mut comment = format!("Imported from `{}`.", path.display());
            if etcd != control_planes {
                let list = |s: &BTreeSet<String>| List::comma_ticked(s).to_string();
                comment += &format!(
                    "\nThe inventory's etcd members were {} and its control planes {}: gen runs \
                     etcd on the control planes (stacked).",
                    if etcd.is_empty() { "none".into() } else { list(&etcd) },
                    list(&control_planes)
                );
            }
            section.comment = Some(comment);
            first = false;
        }
        section.fill("host", "the server (a `[hosts.<name>]`) this VM runs on", "\"vmhost1\"");
        section.set("role", string(if node.control_plane { "control-plane" } else { "worker" }));
        match &node.address {
            Some((ip, from)) => {
                if *from != "ip" {
                    section.note(format!("from `{from}`: kubespray binds to `ip` when it is set"));
                }
                section.set("ip", string(ip));
            }
            None => {
                section.fill(
                    "ip",
                    "the node's static LAN address (the inventory sets no `ip`, `access_ip` or \
                     `ansible_host`)",
                    "\"192.168.1.21\"",
                );
            }
        }
        sections.push(section);
    }
    let header = "The lab, imported by `gen import` from a kubespray inventory. What an \
                  inventory\ndoes not say is marked `to fill in`; `gen build` lists each until \
                  it is there.";
    Ok(draft::text(header, &sections))
}

fn table_key(name: &str) -> String {
    let bare = !name.is_empty()
        && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
    if bare { name.to_string() } else { string(name) }
}

mod ini;
mod yaml;

pub use ini::parse_ini;
pub use yaml::parse_yaml;
