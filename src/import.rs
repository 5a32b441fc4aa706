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
         user = \"lab\"\nbridge = \"eno1\"\nhost_key = \"ssh-ed25519 AAAA…\"",
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

/// Ansible's INI inventory: `[group]` sections of host lines (`name var=value …`),
/// `[group:children]` of group names, `[group:vars]` of `var=value`; hosts before any section
/// are ungrouped. A `#` that starts a word starts a comment, as ansible's shlex split has it,
/// so `node1 ansible_host=1.2.3.4  # ip=10.3.0.1` sets no `ip`.
pub fn parse_ini(text: &str, path: &Path) -> Result<Inventory> {
    let mut inventory = Inventory::default();
    enum State {
        Hosts(String),
        Children(String),
        Vars,
    }
    let mut state = State::Hosts("ungrouped".into());
    for (i, raw) in text.lines().enumerate() {
        let line_no = i + 1;
        let bad =
            |reason: String| Error::Inventory { path: path.to_path_buf(), line: line_no, reason };
        let line = raw.trim();
        if line.is_empty() || line.starts_with('#') || line.starts_with(';') {
            continue;
        }
        if let Some(header) = line.strip_prefix('[') {
            let Some(header) = header.split(']').next().filter(|_| header.contains(']')) else {
                return Err(bad(format!("`{line}` opens a section but does not close it")));
            };
            state = match header.split_once(':') {
                None => {
                    inventory.group(header);
                    State::Hosts(header.to_string())
                }
                Some((group, "children")) => {
                    inventory.group(group);
                    State::Children(group.to_string())
                }
                Some((_, "vars")) => State::Vars,
                Some((_, kind)) => {
                    return Err(bad(format!("unknown section kind `:{kind}`")));
                }
            };
            continue;
        }
        let words = split_words(line).map_err(bad)?;
        let Some((first, rest)) = words.split_first() else { continue };
        match &state {
            State::Vars => {}
            State::Children(group) => {
                let child = first.clone();
                inventory.group(&child);
                inventory.group(group).children.insert(child);
            }
            State::Hosts(group) => {
                for name in expand_range(first).map_err(bad)? {
                    let name = name.split(':').next().unwrap_or(&name).to_string();
                    let vars = inventory.host(&name);
                    for word in rest {
                        let Some((k, v)) = word.split_once('=') else {
                            return Err(bad(format!(
                                "`{word}` after host `{name}` is not `variable=value`"
                            )));
                        };
                        vars.insert(k.to_string(), v.to_string());
                    }
                    inventory.group(group).hosts.insert(name);
                }
            }
        }
    }
    Ok(inventory)
}

/// Words as a POSIX shell splits them, with `#` at the start of a word beginning a comment.
fn split_words(line: &str) -> std::result::Result<Vec<String>, String> {
    let mut words = vec![];
    let mut word: Option<String> = None;
    let mut chars = line.chars();
    while let Some(c) = chars.next() {
        match c {
            c if c.is_whitespace() => {
                if let Some(w) = word.take() {
                    words.push(w);
                }
            }
            '#' if word.is_none() => break,
            '\'' => {
                let w = word.get_or_insert_with(String::new);
                loop {
                    match chars.next() {
                        Some('\'') => break,
                        Some(c) => w.push(c),
                        None => return Err("a `'` is not closed".into()),
                    }
                }
            }
            '"' => {
                let w = word.get_or_insert_with(String::new);
                loop {
                    match chars.next() {
                        Some('"') => break,
                        Some('\\') => match chars.next() {
                            Some(c) => w.push(c),
                            None => return Err("a `\"` is not closed".into()),
                        },
                        Some(c) => w.push(c),
                        None => return Err("a `\"` is not closed".into()),
                    }
                }
            }
            '\\' => {
                if let Some(c) = chars.next() {
                    word.get_or_insert_with(String::new).push(c);
                }
            }
            c => word.get_or_insert_with(String::new).push(c),
        }
    }
    words.extend(word);
    Ok(words)
}

/// Ansible's numeric host ranges: `node[1:3]` is node1, node2, node3; `n[01:10]` keeps the
/// width.
fn expand_range(pattern: &str) -> std::result::Result<Vec<String>, String> {
    let Some((head, rest)) = pattern.split_once('[') else { return Ok(vec![pattern.to_string()]) };
    let Some((range, tail)) = rest.split_once(']') else {
        return Err(format!("`{pattern}`: a `[` is not closed"));
    };
    let unsupported = || format!("`{pattern}`: only numeric host ranges `[1:3]` are read");
    let (a, b) = range.split_once(':').ok_or_else(unsupported)?;
    let (start, end): (u32, u32) =
        (a.parse().map_err(|_| unsupported())?, b.parse().map_err(|_| unsupported())?);
    if start > end || end - start > 10_000 {
        return Err(unsupported());
    }
    let width = if a.starts_with('0') { a.len() } else { 0 };
    let mut out = vec![];
    for n in start..=end {
        for rest in expand_range(tail)? {
            out.push(format!("{head}{n:0width$}{rest}"));
        }
    }
    Ok(out)
}

/// Ansible's YAML inventory: groups (starting at `all`) with `hosts` (each with its variables),
/// `children` (groups, recursively) and `vars`.
pub fn parse_yaml(text: &str, path: &Path) -> Result<Inventory> {
    use serde_yaml_ng::Value;
    let bad =
        |line: usize, reason: String| Error::Inventory { path: path.to_path_buf(), line, reason };
    let document: Value = serde_yaml_ng::from_str(text)
        .map_err(|e| bad(e.location().map_or(1, |l| l.line()), format!("not YAML: {e}")))?;
    let Value::Mapping(top) = document else {
        return Err(bad(1, "the inventory is not a mapping of groups (`all:`)".into()));
    };
    let mut inventory = Inventory::default();
    fn group(
        inventory: &mut Inventory,
        name: &str,
        body: &Value,
        depth: usize,
    ) -> std::result::Result<(), String> {
        if depth > 64 {
            return Err("groups nest deeper than 64".into());
        }
        inventory.group(name);
        let Value::Mapping(body) = body else {
            return match body {
                Value::Null => Ok(()),
                _ => Err(format!("group `{name}` is not a mapping")),
            };
        };
        for (key, value) in body {
            match key.as_str() {
                Some("hosts") => {
                    let Value::Mapping(hosts) = value else {
                        if value.is_null() {
                            continue;
                        }
                        return Err(format!("`hosts` of group `{name}` is not a mapping"));
                    };
                    for (host, vars) in hosts {
                        let host = scalar(host).ok_or(format!("a host of `{name}` has no name"))?;
                        let entry = inventory.host(&host);
                        if let Value::Mapping(vars) = vars {
                            for (k, v) in vars {
                                if let (Some(k), Some(v)) = (scalar(k), scalar(v)) {
                                    entry.insert(k, v);
                                }
                            }
                        }
                        inventory.group(name).hosts.insert(host);
                    }
                }
                Some("children") => {
                    let Value::Mapping(children) = value else {
                        if value.is_null() {
                            continue;
                        }
                        return Err(format!("`children` of group `{name}` is not a mapping"));
                    };
                    for (child, child_body) in children {
                        let child =
                            scalar(child).ok_or(format!("a child of `{name}` has no name"))?;
                        inventory.group(name).children.insert(child.clone());
                        group(inventory, &child, child_body, depth + 1)?;
                    }
                }
                _ => {}
            }
        }
        Ok(())
    }
    fn scalar(value: &Value) -> Option<String> {
        match value {
            Value::String(s) => Some(s.clone()),
            Value::Number(n) => Some(n.to_string()),
            Value::Bool(b) => Some(b.to_string()),
            _ => None,
        }
    }
    for (name, body) in &top {
        let name = scalar(name).ok_or_else(|| bad(1, "a top-level group has no name".into()))?;
        group(&mut inventory, &name, body, 0).map_err(|reason| bad(1, reason))?;
    }
    Ok(inventory)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn words_split_like_ansible_with_comments_and_quotes() {
        let w = split_words("node1 ansible_host=95.54.0.12  # ip=10.3.0.1").unwrap();
        assert_eq!(w, ["node1", "ansible_host=95.54.0.12"]);
        let w = split_words(r#"n a="b c" d='e#f' g=h#i"#).unwrap();
        assert_eq!(w, ["n", "a=b c", "d=e#f", "g=h#i"]);
        assert!(split_words("n a=\"b").is_err());
    }

    #[test]
    fn numeric_ranges_expand_and_keep_their_width() {
        assert_eq!(expand_range("node[1:3]").unwrap(), ["node1", "node2", "node3"]);
        assert_eq!(expand_range("n[08:10].lan").unwrap(), ["n08.lan", "n09.lan", "n10.lan"]);
        assert!(expand_range("n[a:c]").is_err());
    }
}
