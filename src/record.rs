//! `out/kubespray/cluster.toml`: what a tree deploys with kubespray, kept so that the next build
//! can tell what changed.
//!
//! kubespray's day-two playbooks depend on the change, not on the result: a new worker needs
//! `scale.yml`, a new release `upgrade-cluster.yml`, a node that leaves `remove-node.yml` while it
//! is still in the inventory. So `gen build` reads the record the committed `out/` holds (what was
//! reviewed and deployed) before it writes the new one, and `change.rs` judges the step between
//! them. The record's bytes depend on `site.toml` alone, like every other file; only the judgement
//! looks at the old one. It is rendered by hand, like the manifest, so its bytes are fixed here.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use serde::Deserialize;

use crate::site::{Role, Site};

/// Where the record lives in `out/`.
pub use crate::layout::RECORD as PATH;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Record {
    /// The kubespray tag, `vX.Y.Z`.
    pub release: String,
    /// `X.Y.Z`.
    pub kube_version: String,
    /// `kube_control_plane` (and `etcd`) in inventory order: kubespray treats the first as special.
    pub control_planes: Vec<String>,
    /// By name.
    pub nodes: BTreeMap<String, RecordNode>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordNode {
    pub host: String,
    pub role: Role,
    pub ip: String,
    pub remove: bool,
}

impl Record {
    /// The record of `site`, whose inventory lists the control planes in `control_planes` order.
    pub fn of(site: &Site, control_planes: &[&str]) -> Record {
        Record {
            release: site.kubespray.release.tag.to_string(),
            kube_version: site.kubespray.kube_version.to_string(),
            control_planes: control_planes.iter().map(std::string::ToString::to_string).collect(),
            nodes: site
                .nodes
                .iter()
                .map(|n| {
                    let node = RecordNode {
                        host: n.host.to_string(),
                        role: n.role,
                        ip: n.ip.to_string(),
                        remove: n.remove,
                    };
                    (n.name.to_string(), node)
                })
                .collect(),
        }
    }

    pub fn to_toml(&self) -> String {
        let mut text = format!("# {}\n", crate::layout::HEADER);
        text += "# What this tree deploys with kubespray. The next `gen build` reads it back to name\n\
                 # kubespray's next step and to refuse a change kubespray cannot make.\n";
        let _ = writeln!(text, "release = \"{}\"", self.release);
        let _ = writeln!(text, "kube_version = \"{}\"", self.kube_version);
        text += "# kube_control_plane and etcd, in inventory order.\n";
        let names: Vec<String> = self.control_planes.iter().map(|n| format!("\"{n}\"")).collect();
        let _ = writeln!(text, "control_planes = [{}]", names.join(", "));
        text += "\n[nodes]\n";
        for (name, n) in &self.nodes {
            let remove = if n.remove { ", remove = true" } else { "" };
            let _ = writeln!(
                text,
                "{name} = {{ host = \"{}\", role = \"{}\", ip = \"{}\"{remove} }}",
                n.host,
                role_word(n.role),
                n.ip
            );
        }
        text
    }

    /// The record a rendered tree holds.
    pub fn of_tree(tree: &crate::tree::Tree) -> Record {
        let file = tree.get(PATH).expect("render writes the record");
        let text = std::str::from_utf8(&file.bytes).expect("the record is text");
        Record::parse(text).expect("gen reads the record it renders")
    }

    /// Reads a record back; the error says why it is not one gen wrote.
    pub fn parse(text: &str) -> Result<Record, String> {
        let raw: RawRecord = toml::from_str(text).map_err(|e| e.message().trim().to_string())?;
        let mut nodes = BTreeMap::new();
        for (name, n) in raw.nodes {
            let role = match n.role.as_str() {
                "control-plane" => Role::ControlPlane,
                "worker" => Role::Worker,
                other => return Err(format!("node `{name}` has the unknown role `{other}`")),
            };
            nodes.insert(name, RecordNode { host: n.host, role, ip: n.ip, remove: n.remove });
        }
        for name in &raw.control_planes {
            if nodes.get(name).is_none_or(|n| n.role != Role::ControlPlane) {
                return Err(format!("`control_planes` names `{name}`, not a control-plane node"));
            }
        }
        if version(&raw.release).is_none() || version(&raw.kube_version).is_none() {
            return Err("a version is not `X.Y.Z`".to_string());
        }
        Ok(Record {
            release: raw.release,
            kube_version: raw.kube_version,
            control_planes: raw.control_planes,
            nodes,
        })
    }
}

/// `site.toml`'s word for a role.
pub fn role_word(role: Role) -> &'static str {
    match role {
        Role::ControlPlane => "control-plane",
        Role::Worker => "worker",
    }
}

/// `(major, minor, patch)` of `X.Y.Z` or `vX.Y.Z`.
pub fn version(s: &str) -> Option<(u32, u32, u32)> {
    let mut parts = s.strip_prefix('v').unwrap_or(s).split('.').map(|p| p.parse::<u32>().ok());
    match (parts.next(), parts.next(), parts.next(), parts.next()) {
        (Some(Some(a)), Some(Some(b)), Some(Some(c)), None) => Some((a, b, c)),
        _ => None,
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawRecord {
    release: String,
    kube_version: String,
    control_planes: Vec<String>,
    nodes: BTreeMap<String, RawNode>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawNode {
    host: String,
    role: String,
    ip: String,
    #[serde(default)]
    remove: bool,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn node(host: &str, role: Role, ip: &str, remove: bool) -> RecordNode {
        RecordNode { host: host.into(), role, ip: ip.into(), remove }
    }

    #[test]
    fn round_trips_and_reads_as_documented() {
        let record = Record {
            release: "v2.31.0".into(),
            kube_version: "1.35.4".into(),
            control_planes: vec!["cp-b".into(), "cp-a".into()],
            nodes: BTreeMap::from([
                ("cp-a".into(), node("h1", Role::ControlPlane, "10.1.0.2", true)),
                ("cp-b".into(), node("h2", Role::ControlPlane, "10.1.0.3", false)),
                ("w".into(), node("h2", Role::Worker, "10.1.0.4", false)),
            ]),
        };
        let text = record.to_toml();
        assert!(text.ends_with(
            "release = \"v2.31.0\"\n\
             kube_version = \"1.35.4\"\n\
             # kube_control_plane and etcd, in inventory order.\n\
             control_planes = [\"cp-b\", \"cp-a\"]\n\
             \n\
             [nodes]\n\
             cp-a = { host = \"h1\", role = \"control-plane\", ip = \"10.1.0.2\", remove = true }\n\
             cp-b = { host = \"h2\", role = \"control-plane\", ip = \"10.1.0.3\" }\n\
             w = { host = \"h2\", role = \"worker\", ip = \"10.1.0.4\" }\n"
        ));
        assert_eq!(Record::parse(&text).unwrap(), record);
    }

    #[test]
    fn refuses_what_gen_never_writes() {
        let good = "release = \"v2.31.0\"\nkube_version = \"1.35.4\"\ncontrol_planes = [\"a\"]\n\
                    [nodes]\na = { host = \"h\", role = \"control-plane\", ip = \"10.0.0.1\" }\n";
        assert!(Record::parse(good).is_ok());
        let cases = [
            (good.replace("control-plane", "boss"), "boss"),
            (good.replace("[\"a\"]", "[\"b\"]"), "`b`"),
            (good.replace("1.35.4", "latest"), "version"),
            (format!("surprise = 1\n{good}"), "surprise"),
        ];
        for (text, needle) in cases {
            let reason = Record::parse(&text).unwrap_err();
            assert!(reason.contains(needle), "{reason:?} should mention {needle:?}");
        }
    }

    #[test]
    fn versions_read_with_or_without_v() {
        assert_eq!(version("v2.31.0"), Some((2, 31, 0)));
        assert_eq!(version("1.35.4"), Some((1, 35, 4)));
        assert_eq!(version("1.35"), None);
        assert_eq!(version("1.35.4.1"), None);
        assert_eq!(version("1.x.4"), None);
    }
}
