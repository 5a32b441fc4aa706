//! `out/README.md`, the picture of the lab: for every golden site and this repository's own,
//! Mermaid's own parser (`tests/picture/mermaid.mjs`, the grammar GitHub renders with) reads the
//! diagram, and what it read is the site: one subgraph per server holding exactly its VMs, each
//! labelled with its role, IP, cpus and memory, the etcd members (and only they) in the `etcd`
//! class, the LAN with its gateway joined to every server, the MetalLB range when there is one.
//! The tables add up what each server's VMs commit. A broken diagram is refused by the parser.

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value;

use crate::support::skip;

/// Where `.ci/install-tools` installs Mermaid and jsdom (`GEN_MERMAID_MODULES` overrides).
const MODULES: &str = "/var/cache/gen-mermaid/node_modules";

fn modules() -> Option<PathBuf> {
    let dir = std::env::var_os("GEN_MERMAID_MODULES").map_or(PathBuf::from(MODULES), PathBuf::from);
    let node = Command::new("node").arg("--version").output().is_ok_and(|o| o.status.success());
    if node && dir.join("mermaid/package.json").is_file() && dir.join("jsdom").is_dir() {
        return Some(dir);
    }
    skip(
        "picture test",
        &format!("needs node and Mermaid in {} (.ci/install-tools)", dir.display()),
    );
    None
}

/// What Mermaid's parser read from `diagram`, or its error.
fn mermaid(modules: &Path, diagram: &str) -> Result<Value, String> {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("diagram.mmd");
    fs::write(&file, diagram).unwrap();
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/picture/mermaid.mjs");
    let output = Command::new("node")
        .arg(script)
        .arg(&file)
        .env("GEN_MERMAID_MODULES", modules)
        .output()
        .unwrap();
    let stdout = String::from_utf8(output.stdout).unwrap();
    if !output.status.success() {
        return Err(format!("{stdout}{}", String::from_utf8_lossy(&output.stderr)));
    }
    Ok(serde_json::from_str(&stdout).unwrap())
}

/// The text between the ```` ```mermaid ```` fence and its end.
fn diagram_of(readme: &str) -> String {
    let start = readme.find("```mermaid\n").expect("a mermaid block") + "```mermaid\n".len();
    let end = start + readme[start..].find("\n```\n").expect("the block ends");
    readme[start..=end].to_string()
}

/// Every site whose tree has a picture: the golden valid cases and this repository's.
fn sites() -> Vec<(PathBuf, PathBuf)> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut sites = vec![(root.join("site.toml"), root.join("out/README.md"))];
    for entry in fs::read_dir(root.join("golden-tests")).unwrap() {
        let case = entry.unwrap().path();
        let readme = case.join("expected/README.md");
        if readme.is_file() {
            sites.push((case.join("site.toml"), readme));
        }
    }
    sites.sort();
    assert!(sites.len() >= 5, "{sites:?}");
    sites
}

fn id(prefix: &str, name: &str) -> String {
    format!("{prefix}_{}", name.replace('-', "_"))
}

#[test]
fn the_diagram_parses_with_mermaid_and_shows_the_site() {
    let Some(modules) = modules() else { return };
    for (site_path, readme_path) in sites() {
        let text = fs::read_to_string(&site_path).unwrap();
        let site = labgen::build(&text, "site.toml").unwrap().site;
        let readme = fs::read_to_string(&readme_path).unwrap();
        let read = mermaid(&modules, &diagram_of(&readme)).unwrap_or_else(|e| {
            panic!("{}: Mermaid refused the diagram: {e}", readme_path.display())
        });
        let at = readme_path.display();
        assert_eq!(read["type"], "flowchart-v2", "{at}");
        let vertices = read["vertices"].as_object().unwrap();
        let label = |id: &str| vertices[id].as_str().unwrap().to_string();

        // The LAN and its gateway; MetalLB's range when the site has one.
        let lan = label("lan");
        assert!(lan.contains(&site.network.cidr.to_string()), "{at}: {lan}");
        assert!(lan.contains(&format!("gateway {}", site.network.gateway)), "{at}: {lan}");
        let mut edges: Vec<(String, String, String)> = read["edges"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| {
                (
                    e[0].as_str().unwrap().into(),
                    e[1].as_str().unwrap().into(),
                    e[2].as_str().unwrap().into(),
                )
            })
            .collect();
        edges.sort();
        let mut expected: Vec<(String, String, String)> = site
            .hosts
            .iter()
            .map(|h| ("lan".to_string(), id("host", h.name.as_str()), "normal".to_string()))
            .collect();
        match site.addons.metallb {
            Some(range) => {
                let shown = label("metallb");
                assert!(
                    shown.contains(&format!("{}-{}", range.first, range.last)),
                    "{at}: {shown}"
                );
                expected.push(("lan".into(), "metallb".into(), "dotted".into()));
            }
            None => assert!(!vertices.contains_key("metallb"), "{at}"),
        }
        expected.sort();
        assert_eq!(edges, expected, "{at}: every server joined to the LAN, nothing else");

        // One subgraph per server, holding exactly its VMs, titled with its name and address.
        let subgraphs: BTreeMap<String, (String, Vec<String>)> = read["subgraphs"]
            .as_array()
            .unwrap()
            .iter()
            .map(|s| {
                let nodes = s[2].as_array().unwrap().iter().map(|n| n.as_str().unwrap().into());
                (s[0].as_str().unwrap().into(), (s[1].as_str().unwrap().into(), nodes.collect()))
            })
            .collect();
        assert_eq!(subgraphs.len(), site.hosts.len(), "{at}");
        let etcd: Vec<&str> = site.control_planes().map(|n| n.name.as_str()).collect();
        for host in &site.hosts {
            let (title, mut members) = subgraphs[&id("host", host.name.as_str())].clone();
            assert_eq!(title, format!("{} ({})", host.name, host.address), "{at}");
            let nodes: Vec<_> = site.nodes.iter().filter(|n| n.host == host.name).collect();
            let mut wanted: Vec<String> = nodes.iter().map(|n| id("vm", n.name.as_str())).collect();
            if wanted.is_empty() {
                wanted.push(format!("{}_none", id("host", host.name.as_str())));
            }
            members.sort();
            wanted.sort();
            assert_eq!(members, wanted, "{at}: the VMs of {}", host.name);
            for node in nodes {
                let vm = id("vm", node.name.as_str());
                let lines: Vec<String> = label(&vm).split("<br>").map(String::from).collect();
                let is_etcd = etcd.contains(&node.name.as_str());
                let role = format!("{}{}", node.role.word(), if is_etcd { ", etcd" } else { "" });
                assert_eq!(lines[0], node.name.as_str(), "{at}");
                assert!(lines[1].starts_with(&role), "{at}: {lines:?}");
                assert_eq!(lines[2], node.ip.to_string(), "{at}");
                assert_eq!(lines[3], format!("{} CPU, {} MB", node.cpus, node.memory_mb), "{at}");
                let classes = read["classes"][&vm].as_array().unwrap();
                assert_eq!(classes.iter().any(|c| c == "etcd"), is_etcd, "{at}: {vm}");
            }
        }
    }
}

#[test]
fn each_servers_table_adds_up_what_its_vms_commit() {
    for (site_path, readme_path) in sites() {
        let text = fs::read_to_string(&site_path).unwrap();
        let site = labgen::build(&text, "site.toml").unwrap().site;
        let readme = fs::read_to_string(&readme_path).unwrap();
        for host in &site.hosts {
            let heading = format!("\n### {} ({})\n", host.name, host.address);
            let start = readme.find(&heading).unwrap_or_else(|| panic!("{heading} in {readme}"));
            let rows: Vec<Vec<&str>> = readme[start + heading.len()..]
                .lines()
                .skip_while(|l| l.is_empty())
                .take_while(|l| l.starts_with('|'))
                .skip(2)
                .map(|l| l.trim_matches('|').split('|').map(str::trim).collect())
                .collect();
            let (total, vms) = rows.split_last().unwrap();
            let nodes: Vec<_> = site.nodes.iter().filter(|n| n.host == host.name).collect();
            assert_eq!(vms.len(), nodes.len());
            for (row, node) in vms.iter().zip(&nodes) {
                assert_eq!(row[0], node.name.as_str());
                assert_eq!(row[2], node.ip.to_string());
                assert_eq!(row[3], node.cpus.to_string());
                assert_eq!(row[4], node.memory_mb.to_string());
            }
            let cpus: u32 = nodes.iter().map(|n| n.cpus).sum();
            let memory: u32 = nodes.iter().map(|n| n.memory_mb).sum();
            assert_eq!(
                total,
                &["**total**", "", "", &format!("**{cpus}**"), &format!("**{memory}**")]
            );
        }
    }
}

#[test]
fn mermaid_refuses_a_broken_diagram() {
    let Some(modules) = modules() else { return };
    let good = "flowchart TB\n  lan([\"LAN\"])\n  subgraph host_a[\"a\"]\n    vm_b[\"b\"]\n  end\n  lan --- host_a\n";
    assert!(mermaid(&modules, good).is_ok());
    for broken in [
        "flowchart TB\n  vm_b[\"b\"\n",
        "flowchart TB\n  subgraph host_a[\"a\"]\n    vm_b[\"b\"]\n  lan --- \n",
        "flowchart TB\n  vm_b[\"a \"quoted\" b\"]\n",
    ] {
        assert!(mermaid(&modules, broken).is_err(), "accepted: {broken}");
    }
}
