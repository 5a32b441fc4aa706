//! `gen init`: start a lab from nothing. Writes a commented `site.toml` (and the schema beside
//! it) from flags, asking on a terminal for what the flags do not say.
//!
//! What the user did not say and gen cannot know (a server's bridge NIC, its host key without
//! `--keyscan`) is left as a commented-out key marked "to fill in", which `gen build` reports as
//! missing. With `--keyscan` gen asks each server for its host key with `ssh-keyscan` and prints
//! every fingerprint: that scan is the one moment gen trusts the network, so the user compares
//! each fingerprint with the server's own before the first apply.

use std::io::{BufRead as _, IsTerminal as _, Write as _};
use std::net::Ipv4Addr;
use std::path::Path;
use std::process::{Command, Stdio};
use std::str::FromStr as _;

use ipnet::Ipv4Net;

use crate::draft::{self, Section, string, strings};
use crate::error::{Error, Result, exit};
use crate::kubespray;

const DEFAULT_BOX: &str = "bento/ubuntu-24.04";
const DEFAULT_BOX_VERSION: &str = "202502.21.0";
/// Node addresses start this far into the LAN when it is big enough: low addresses are where
/// routers and servers usually sit.
const FIRST_NODE_OFFSET: u32 = 21;

#[derive(clap::Args)]
pub struct Arguments {
    /// The cluster's name (an RFC 1123 label)
    #[arg(long, value_name = "NAME")]
    name: Option<String>,
    /// The LAN the VMs bridge onto, e.g. 192.168.1.0/24
    #[arg(long, value_name = "CIDR")]
    cidr: Option<String>,
    /// The LAN's router
    #[arg(long, value_name = "IP")]
    gateway: Option<String>,
    /// A DNS server for the guests (repeat for more) [default: the gateway]
    #[arg(long, value_name = "IP")]
    dns: Vec<String>,
    /// A VM server as NAME=USER@ADDRESS or NAME=USER@ADDRESS:PORT (repeat for more)
    #[arg(long = "server", value_name = "NAME=USER@ADDRESS")]
    servers: Vec<String>,
    /// The NIC on every server that the VMs bridge onto, e.g. eno1 (`ip -br link` there)
    #[arg(long, value_name = "NIC")]
    bridge: Option<String>,
    /// How many control-plane VMs (the etcd members: an odd number)
    #[arg(long, value_name = "N")]
    control_planes: Option<usize>,
    /// How many worker VMs
    #[arg(long, value_name = "N")]
    workers: Option<usize>,
    /// The first node address; nodes take consecutive free addresses from it
    #[arg(long, value_name = "IP")]
    first_ip: Option<String>,
    /// The kubespray release [default: the newest gen knows]
    #[arg(long, value_name = "TAG")]
    kubespray: Option<String>,
    /// Fetch each server's ssh host key with ssh-keyscan and print its fingerprint
    #[arg(long)]
    keyscan: bool,
    /// Replace an existing site file (and schema)
    #[arg(long)]
    force: bool,
}

/// A server as given by `--server` (or answered).
#[derive(Clone)]
struct Server {
    name: String,
    user: String,
    address: String,
    port: u16,
    host_key: Option<String>,
}

/// Asks on a terminal for what the flags did not say. Off a terminal nothing is asked: a choice
/// (the cluster's name, how many VMs) takes its default, a fact about the LAN stays a hole.
/// On a terminal an answer `gen build` would refuse is shown why and asked again, so one typo
/// does not cost the answers before it; the end of input (Ctrl-D) stops init with nothing
/// written, as a person who presses it means to leave, not to take whatever comes next.
struct Questions {
    terminal: bool,
}

/// Why an answer is refused, as shown before the question is asked again; `None` takes it.
type Check<'a> = &'a dyn Fn(&str) -> Option<String>;

impl Questions {
    /// A fact: `suggestion` is offered on a terminal, never assumed.
    fn ask(
        &self,
        question: &str,
        suggestion: Option<&str>,
        check: Check,
    ) -> Result<Option<String>> {
        if !self.terminal {
            return Ok(None);
        }
        Self::until_taken(question, suggestion, check)
    }

    /// A choice: `default` is taken when nothing is answered, or nothing can be asked.
    fn choose(
        &self,
        question: &str,
        default: Option<&str>,
        check: Check,
    ) -> Result<Option<String>> {
        if !self.terminal {
            return Ok(default.map(str::to_string));
        }
        Self::until_taken(question, default, check)
    }

    fn until_taken(question: &str, default: Option<&str>, check: Check) -> Result<Option<String>> {
        let shown = default.map_or(String::new(), |d| format!(" [{d}]"));
        loop {
            eprint!("{question}{shown}: ");
            let _ = std::io::stderr().flush();
            let mut line = String::new();
            if std::io::stdin().lock().read_line(&mut line).unwrap_or(0) == 0 {
                // The terminal echoes nothing for Ctrl-D: end the prompt's line first.
                eprintln!();
                return Err(Error::InitStopped { question: question.to_string() });
            }
            let answer = line.trim();
            let answer =
                if answer.is_empty() { default.map(str::to_string) } else { Some(answer.into()) };
            match answer.as_deref().and_then(check) {
                Some(why) if crate::colour::on(&std::io::stderr()) => {
                    eprintln!("{}", crate::colour::paint(&why));
                }
                Some(why) => eprintln!("{why}"),
                None => return Ok(answer),
            }
        }
    }
}

/// An answer that is not what the question asks for.
fn expected(answer: &str, expected: &str) -> String {
    format!("error: `{answer}`: expected {expected}")
}

const CIDR: &str = "a network such as 192.168.1.0/24";
const SERVER: &str = "NAME=USER@ADDRESS or NAME=USER@ADDRESS:PORT, e.g. vmhost1=lab@192.168.1.10";

pub fn run(arguments: Arguments, site: &Path) -> Result<u8> {
    if !arguments.force && site.symlink_metadata().is_ok() {
        return Err(Error::WouldOverwrite { path: site.to_path_buf() });
    }
    let questions = Questions { terminal: std::io::stdin().is_terminal() };
    let a = arguments;
    // The lab so far: each answer is checked in it by the site's own rules before it is taken.
    let mut lab = Lab {
        name: None,
        cidr: None,
        gateway: None,
        dns: vec![],
        servers: vec![],
        bridge: None,
        control_planes: 1,
        workers: 2,
        release: a.kubespray.unwrap_or_else(|| kubespray::RELEASES[0].tag.to_string()),
    };

    lab.name = match a.name {
        Some(name) => Some(name),
        None => questions.choose("cluster name", Some("lab"), &|answer| {
            lab.refused(|l| l.name = Some(answer.into()), |key| key == "cluster.name")
        })?,
    };
    lab.cidr = match a.cidr {
        Some(cidr) => Some(cidr),
        None => questions.ask("LAN (CIDR) the VMs bridge onto", None, &|answer| {
            if Ipv4Net::from_str(answer).is_err() {
                return Some(expected(answer, CIDR));
            }
            lab.refused(|l| l.cidr = Some(answer.into()), |key| key == "network.cidr")
        })?,
    };
    let net = match &lab.cidr {
        Some(c) => Some(Ipv4Net::from_str(c).map_err(|_| Error::InitArgument {
            argument: "--cidr",
            value: c.clone(),
            expected: CIDR,
        })?),
        None => None,
    };
    let gateway_default = net.map(|n| u32::from(n.network()) + 1).map(Ipv4Addr::from);
    lab.gateway = match a.gateway {
        Some(gateway) => Some(gateway),
        None => questions.ask(
            "its router (gateway)",
            gateway_default.map(|g| g.to_string()).as_deref(),
            &|answer| {
                lab.refused(|l| l.gateway = Some(answer.into()), |key| key == "network.gateway")
            },
        )?,
    };
    let list = |answer: &str| -> Vec<String> {
        answer.split(',').map(|s| s.trim().to_string()).filter(|s| !s.is_empty()).collect()
    };
    lab.dns = a.dns;
    if lab.dns.is_empty() {
        let answer =
            questions.ask("DNS servers (comma separated)", lab.gateway.as_deref(), &|answer| {
                lab.refused(|l| l.dns = list(answer), |key| key.starts_with("network.dns"))
            })?;
        lab.dns = answer.as_deref().map(list).unwrap_or_default();
    }

    if a.servers.is_empty() && questions.terminal {
        while let Some(answer) =
            questions.ask("a VM server as NAME=USER@ADDRESS (empty: done)", None, &|answer| {
                let Ok(server) = parse_server(answer) else {
                    return Some(expected(answer, SERVER));
                };
                lab.refused(|l| l.servers.push(server), |key| key.starts_with("hosts"))
            })?
        {
            lab.servers.push(parse_server(&answer)?);
        }
    } else {
        lab.servers = a.servers.iter().map(|s| parse_server(s)).collect::<Result<Vec<_>>>()?;
    }
    lab.bridge = match a.bridge {
        Some(bridge) => Some(bridge),
        None => questions.ask("the servers' NIC the VMs bridge onto", None, &|answer| {
            lab.refused(|l| l.bridge = Some(answer.into()), |key| key.ends_with(".bridge"))
        })?,
    };
    // A count is a choice: the lab's own (1 control plane, 2 workers) unless answered otherwise.
    let count = |question: &str, lab: &Lab, default: usize, set: fn(&mut Lab, usize), argument| {
        let answer = questions
            .choose(question, Some(&default.to_string()), &|answer| match answer.parse() {
                Ok(n) => lab.refused(|l| set(l, n), |key| key.starts_with("nodes")),
                Err(_) => Some(expected(answer, "a number")),
            })?
            .unwrap_or_default();
        answer.parse().map_err(|_| Error::InitArgument {
            argument,
            value: answer,
            expected: "a number",
        })
    };
    let cps = |l: &mut Lab, n| l.control_planes = n;
    lab.control_planes = match a.control_planes {
        Some(n) => n,
        None => {
            count("control-plane VMs (odd)", &lab, lab.control_planes, cps, "--control-planes")?
        }
    };
    lab.workers = match a.workers {
        Some(n) => n,
        None => count("worker VMs", &lab, lab.workers, |l, n| l.workers = n, "--workers")?,
    };

    let first_ip = match a.first_ip {
        Some(ip) => Some(Ipv4Addr::from_str(&ip).map_err(|_| Error::InitArgument {
            argument: "--first-ip",
            value: ip.clone(),
            expected: "an IPv4 address",
        })?),
        None => net.map(default_first_ip),
    };
    let mut taken: Vec<String> = lab.gateway.iter().chain(&lab.dns).cloned().collect();
    taken.extend(lab.servers.iter().map(|s| s.address.clone()));
    let addresses =
        first_ip.map(|first| node_addresses(first, lab.control_planes + lab.workers, &taken));

    if a.keyscan {
        scan_keys(&mut lab.servers)?;
    }

    let text = lab.text(addresses.as_deref(), first_ip);
    let file = site.display().to_string();
    let problems = draft::problems(&text, &file);
    let mistakes = draft::mistakes(&problems);
    if !mistakes.is_empty() {
        return Err(Error::InitValues { diagnostics: mistakes });
    }
    let schema = draft::write(site, &text, a.force)?;
    let mut said = format!("wrote `{file}` and `{}`\n", schema.display());
    said += &draft::report(&file, &problems);
    print!("{said}");
    Ok(exit::OK)
}

fn parse_server(spec: &str) -> Result<Server> {
    let bad =
        || Error::InitArgument { argument: "--server", value: spec.to_string(), expected: SERVER };
    let (name, rest) = spec.split_once('=').ok_or_else(bad)?;
    let (user, address) = rest.split_once('@').ok_or_else(bad)?;
    let (address, port) = match address.rsplit_once(':') {
        Some((address, port)) => (address, port.parse().map_err(|_| bad())?),
        None => (address, 22),
    };
    if name.is_empty() || user.is_empty() || address.is_empty() {
        return Err(bad());
    }
    Ok(Server {
        name: name.to_string(),
        user: user.to_string(),
        address: address.to_string(),
        port,
        host_key: None,
    })
}

fn default_first_ip(net: Ipv4Net) -> Ipv4Addr {
    let offset = if net.hosts().count() > 64 { FIRST_NODE_OFFSET } else { 2 };
    Ipv4Addr::from(u32::from(net.network()) + offset)
}

/// `n` consecutive addresses from `first`, skipping ones already taken.
fn node_addresses(first: Ipv4Addr, n: usize, taken: &[String]) -> Vec<Ipv4Addr> {
    let mut out = Vec::with_capacity(n);
    let mut ip = u32::from(first);
    while out.len() < n {
        let candidate = Ipv4Addr::from(ip);
        if !taken.iter().any(|t| *t == candidate.to_string()) {
            out.push(candidate);
        }
        ip = ip.saturating_add(1);
    }
    out
}

/// Fills in each server's host key from `ssh-keyscan`, printing its fingerprint. A server that
/// does not answer keeps a hole (and a warning), so one powered-off machine does not stop init.
fn scan_keys(servers: &mut [Server]) -> Result<()> {
    for server in servers.iter_mut() {
        let mut command = Command::new("ssh-keyscan");
        command
            .args(["-T", "5", "-t", "ed25519,ecdsa,rsa", "-p", &server.port.to_string()])
            .arg(&server.address);
        crate::verbosity::command(&command);
        let output = command
            .stdin(Stdio::null())
            .output()
            .map_err(|_| Error::MissingTool { tool: "ssh-keyscan" })?;
        let text = String::from_utf8_lossy(&output.stdout);
        let keys: Vec<String> = text
            .lines()
            .filter(|l| !l.starts_with('#'))
            .filter_map(|l| {
                let mut words = l.split_whitespace().skip(1);
                Some(format!("{} {}", words.next()?, words.next()?))
            })
            .collect();
        let preferred = ["ssh-ed25519", "ecdsa-sha2-nistp256", "ssh-rsa"];
        let key = preferred
            .iter()
            .find_map(|kind| keys.iter().find(|k| k.split(' ').next() == Some(kind)))
            .or(keys.first());
        match key {
            Some(key) => {
                let fingerprint = fingerprint(key)?;
                println!(
                    "{} ({} port {}): {fingerprint}",
                    server.name, server.address, server.port
                );
                server.host_key = Some(key.clone());
            }
            None => crate::error::warn(&crate::error::Warning::NoHostKey {
                server: server.name.clone(),
                address: server.address.clone(),
                port: server.port,
            }),
        }
    }
    if servers.iter().any(|s| s.host_key.is_some()) {
        println!(
            "these keys came over the network: this scan is the one moment gen trusts it (trust \
             on first use).\nCompare each fingerprint with the server's own, on its console: \
             `ssh-keygen -lf /etc/ssh/ssh_host_ed25519_key.pub`.\nFrom now on `gen apply` \
             trusts only the keys in site.toml."
        );
    }
    Ok(())
}

/// `ssh-keygen -lf` of a `type base64` key: `256 SHA256:… (ED25519)`.
fn fingerprint(key: &str) -> Result<String> {
    let dir = tempfile::tempdir().map_err(|e| Error::io(std::env::temp_dir(), "write", e))?;
    let path = dir.path().join("key.pub");
    std::fs::write(&path, format!("{key}\n")).map_err(|e| Error::io(&path, "write", e))?;
    let output = Command::new("ssh-keygen")
        .arg("-lf")
        .arg(&path)
        .stdin(Stdio::null())
        .output()
        .map_err(|_| Error::MissingTool { tool: "ssh-keygen" })?;
    let line = String::from_utf8_lossy(&output.stdout).trim().to_string();
    // `256 SHA256:… no comment (ED25519)`: the comment is the file's, not the server's.
    Ok(line.replace(" no comment ", " "))
}

#[derive(Clone)]
struct Lab {
    name: Option<String>,
    cidr: Option<String>,
    gateway: Option<String>,
    dns: Vec<String>,
    servers: Vec<Server>,
    bridge: Option<String>,
    control_planes: usize,
    workers: usize,
    release: String,
}

impl Lab {
    /// What `gen build` would refuse (not what it finds missing) at the keys `at` picks, once
    /// `change` is made: an answer is checked by the site's own rules, as the file will be.
    fn refused(&self, change: impl FnOnce(&mut Lab), at: impl Fn(&str) -> bool) -> Option<String> {
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

    fn text(&self, addresses: Option<&[Ipv4Addr]>, first_ip: Option<Ipv4Addr>) -> String {
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn servers_are_name_user_address_and_an_optional_port() {
        let s = parse_server("vmhost1=lab@192.168.1.10").unwrap();
        assert_eq!(
            (s.name.as_str(), s.user.as_str(), s.address.as_str(), s.port),
            ("vmhost1", "lab", "192.168.1.10", 22)
        );
        let s = parse_server("b=root@host.lan:2222").unwrap();
        assert_eq!((s.address.as_str(), s.port), ("host.lan", 2222));
        for bad in ["vmhost1", "a=b", "=u@h", "a=@h", "a=u@", "a=u@h:x", "a=u@h:70000"] {
            assert!(parse_server(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn node_addresses_skip_the_taken_ones() {
        let taken = vec!["192.168.1.22".to_string()];
        let ips = node_addresses(Ipv4Addr::new(192, 168, 1, 21), 3, &taken);
        assert_eq!(
            ips,
            [
                Ipv4Addr::new(192, 168, 1, 21),
                Ipv4Addr::new(192, 168, 1, 23),
                Ipv4Addr::new(192, 168, 1, 24)
            ]
        );
    }
}
