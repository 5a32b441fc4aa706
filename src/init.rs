//! `gen init`: start a lab from nothing. Writes a commented `site.toml` (and the schema beside
//! it) from flags, asking on a terminal for what the flags do not say.
//!
//! What the user did not say and gen cannot know (a server's bridge NIC, its host key without
//! `--keyscan`) is left as a commented-out key marked "to fill in", which `gen build` reports as
//! missing. With `--keyscan` gen asks each server for its host key with `ssh-keyscan` and prints
//! every fingerprint: that scan is the one moment gen trusts the network, so the user compares
//! each fingerprint with the server's own before the first apply.

mod keyscan;
mod lab;
mod questions;

use std::io::IsTerminal as _;
use std::net::Ipv4Addr;
use std::path::Path;
use std::str::FromStr as _;

use ipnet::Ipv4Net;

use crate::draft;
use crate::error::{Error, Result, exit};
use crate::kubespray;

use keyscan::scan_keys;
use lab::Lab;
use questions::Questions;

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
    /// What runs the VMs on every server: VirtualBox, or libvirt (KVM) through vagrant-libvirt,
    /// whose --bridge is then a Linux bridge holding the NIC, e.g. br0 [default: virtualbox]
    #[arg(long, value_name = "PROVIDER",
          value_parser = clap::builder::PossibleValuesParser::new(crate::site::Provider::WORDS))]
    provider: Option<String>,
    /// With --provider libvirt: kvm, or qemu (software emulation) [default: kvm]
    #[arg(long, value_name = "DRIVER", requires = "provider",
          value_parser = clap::builder::PossibleValuesParser::new(crate::site::LibvirtDriver::WORDS))]
    libvirt_driver: Option<String>,
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
        provider: a.provider.clone().filter(|p| p.as_str() != crate::site::Provider::WORDS[0]),
        libvirt_driver: a.libvirt_driver.clone(),
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
