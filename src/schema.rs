//! The JSON Schema of `site.toml`, for editors: taplo and Even Better TOML use it for completion,
//! hover docs and squiggles under unknown keys and wrong types.
//!
//! [`SITE`] is the one table of site.toml's keys, each with its type, whether it is required and
//! what it means; `gen schema` prints it as JSON Schema draft 4 (the draft every TOML editor
//! reads). The reading in `site` asks for the same keys; `tests/suite/schema.rs` holds the two
//! together key by key: the keys each table allows, which ones are required, every integer's
//! bounds and every value's type, and runs a real JSON Schema validator over the golden cases.
//! The schema says what a key *is*; the rules between keys (unique addresses, an odd etcd) stay
//! `gen build`'s, so a file that passes the schema can still be refused, never the reverse.

use serde_json::{Map, Value, json};

use crate::kubespray;
use crate::site::{CPUS, MEMORY_MB};

/// The name `gen init` writes the schema under, beside `site.toml`, and its `#:schema` line
/// points at.
pub const FILE_NAME: &str = "site.schema.json";

/// One key of a table.
pub struct Key {
    pub name: &'static str,
    pub required: bool,
    pub kind: Kind,
    /// Shown on hover; Markdown.
    pub doc: &'static str,
}

pub enum Kind {
    String,
    /// A string from a list the schema can name (the list is computed, e.g. from the releases).
    OneOf(fn() -> Vec<&'static str>),
    Integer {
        min: i64,
        max: i64,
    },
    Boolean,
    StringArray,
    Table(&'static [Key]),
    /// A table of tables keyed by name (`[hosts.<name>]`), each name an RFC 1123 label.
    Named(&'static [Key]),
}

/// The bounds the validation reads these with (`site::read`).
const CPU_COUNT: Kind = Kind::Integer { min: CPUS.0 as i64, max: CPUS.1 as i64 };
const MEMORY: Kind = Kind::Integer { min: MEMORY_MB.0 as i64, max: MEMORY_MB.1 as i64 };

/// An RFC 1123 label, as `site::Label::parse` accepts it.
pub const LABEL_PATTERN: &str = "^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$";

const fn key(name: &'static str, required: bool, kind: Kind, doc: &'static str) -> Key {
    Key { name, required, kind, doc }
}

pub static SITE: &[Key] = &[
    key("cluster", true, Kind::Table(CLUSTER), "The cluster as a whole."),
    key("kubespray", true, Kind::Table(KUBESPRAY), "The kubespray release that makes the cluster."),
    key("network", true, Kind::Table(NETWORK), "The bridged LAN the VMs live on."),
    key("vagrant", true, Kind::Table(VAGRANT), "The Vagrant box and the defaults of every VM."),
    key("addons", false, Kind::Table(ADDONS), "Optional cluster add-ons."),
    key(
        "hosts",
        true,
        Kind::Named(HOST),
        "The physical VM servers, by name (an RFC 1123 label): `[hosts.vmhost1]`.",
    ),
    key(
        "nodes",
        true,
        Kind::Named(NODE),
        "The Kubernetes nodes (one VM each), by name (an RFC 1123 label): `[nodes.k8s-cp-1]`.",
    ),
];

const CLUSTER: &[Key] = &[key(
    "name",
    true,
    Kind::String,
    "An RFC 1123 label: kubespray's `cluster_name` (the kubeconfig context) and the prefix of \
     unit and VM names. The DNS domain stays `cluster.local`.",
)];

fn release_tags() -> Vec<&'static str> {
    kubespray::RELEASES.iter().map(|r| r.tag).collect()
}

/// Every value some release accepts; which ones the chosen release takes `gen build` checks.
fn union(pick: fn(&kubespray::Release) -> &'static [&'static str]) -> Vec<&'static str> {
    let mut all: Vec<&'static str> = kubespray::RELEASES.iter().flat_map(pick).copied().collect();
    all.sort_unstable();
    all.dedup();
    all
}

const KUBESPRAY: &[Key] = &[
    key(
        "version",
        true,
        Kind::OneOf(release_tags),
        "The kubespray release (git tag); it selects the layout, the pins and the rules.",
    ),
    key(
        "kube_version",
        false,
        Kind::String,
        "`X.Y.Z` (a leading `v` is accepted), one of the release's checksummed versions. \
         Default: the release's default.",
    ),
    key(
        "network_plugin",
        false,
        Kind::OneOf(|| union(|r| r.network_plugins)),
        "Default `calico`; one the release accepts.",
    ),
    key(
        "container_manager",
        false,
        Kind::OneOf(|| union(|r| r.container_managers)),
        "Default `containerd`.",
    ),
    key(
        "kube_proxy_mode",
        false,
        Kind::OneOf(|| union(|r| r.proxy_modes)),
        "Default `ipvs` (`nftables` from v2.28).",
    ),
];

const NETWORK: &[Key] = &[
    key(
        "cidr",
        true,
        Kind::String,
        "The bridged LAN, e.g. `192.168.1.0/24`: no host bits, /29 or larger, not overlapping \
         VirtualBox's NAT `10.0.2.0/24` or kubespray's `10.233.0.0/17`.",
    ),
    key(
        "gateway",
        true,
        Kind::String,
        "The LAN's router, inside `cidr`, not its network or broadcast address.",
    ),
    key(
        "dns",
        true,
        Kind::StringArray,
        "IPv4 resolvers for the guests and CoreDNS's upstream, e.g. `[\"192.168.1.1\"]`.",
    ),
];

const VAGRANT: &[Key] = &[
    key("box", true, Kind::String, "The Vagrant box `owner/name`, e.g. `bento/ubuntu-24.04`."),
    key(
        "box_version",
        true,
        Kind::String,
        "The box's pinned version, digits and dots: a box that moves is not reproducible.",
    ),
    key(
        "cpus",
        false,
        CPU_COUNT,
        "CPUs of every VM; default 2. 1 to 64 (VirtualBox's limit); a control plane needs 2.",
    ),
    key(
        "memory_mb",
        false,
        MEMORY,
        "Memory of every VM in MiB; default 4096. 512 to 2097152 (VirtualBox's 2 TiB).",
    ),
    key(
        "authorized_keys",
        false,
        Kind::StringArray,
        "OpenSSH public keys allowed to log in to the guests' `vagrant` user: the laptop that \
         runs kubespray needs one.",
    ),
    key(
        "linked_clone",
        false,
        Kind::Boolean,
        "Each VM a linked clone (a differencing disk) of one imported copy of the box per \
         version, instead of a full copy; default `true`. Applies to VMs created later.",
    ),
];

const ADDONS: &[Key] = &[
    key("helm", false, Kind::Boolean, "Install helm; default `false`."),
    key(
        "metallb",
        false,
        Kind::Table(METALLB),
        "MetalLB in layer 2 mode; remove the key to turn it off.",
    ),
];

const METALLB: &[Key] = &[key(
    "ip_range",
    true,
    Kind::String,
    "`FIRST-LAST` or a CIDR inside the LAN, holding no node, host, gateway, network or \
     broadcast address.",
)];

const HOST: &[Key] = &[
    key(
        "address",
        true,
        Kind::String,
        "What `gen apply` connects to over ssh: a dotted-quad IPv4 address or a DNS name; \
         nothing a resolver reads as another address (`0xc0a80115`, `1.2.3`).",
    ),
    key("user", true, Kind::String, "The ssh user; it owns the VMs (`User=` of the units)."),
    key(
        "bridge",
        true,
        Kind::String,
        "The host's NIC the guests bridge onto, e.g. `eno1` (`ip -br link` on the server); \
         under `provider = \"libvirt\"` a Linux bridge that holds that NIC, e.g. `br0`.",
    ),
    key(
        "host_key",
        true,
        Kind::String,
        "The server's ssh host key `type base64` (a key of that type: ed25519, ecdsa, rsa of \
         2048 bits or more); the `ssh-keyscan` line `host type base64` or a trailing comment is \
         taken too. `gen apply` trusts no other key.",
    ),
    key("port", false, Kind::Integer { min: 1, max: u16::MAX as i64 }, "The ssh port; default 22."),
    key(
        "root",
        false,
        Kind::String,
        "Absolute folder on the server for gen's generations; default `/home/<user>/gen/<cluster>`.",
    ),
    key(
        "provider",
        false,
        Kind::OneOf(|| crate::site::Provider::WORDS.to_vec()),
        "What runs this server's VMs under Vagrant: `virtualbox` (default) or `libvirt` \
         (vagrant-libvirt on the system libvirtd, KVM).",
    ),
    key(
        "libvirt_driver",
        false,
        Kind::OneOf(|| crate::site::LibvirtDriver::WORDS.to_vec()),
        "With `provider = \"libvirt\"`: `kvm` (default) or `qemu`, software emulation for a \
         server without VT-x or AMD-V.",
    ),
];

const NODE: &[Key] = &[
    key("host", true, Kind::String, "The server (a `[hosts.<name>]`) this node's VM runs on."),
    key(
        "role",
        true,
        Kind::OneOf(|| vec!["control-plane", "worker"]),
        "Control planes are the stacked etcd members: there must be an odd number of them.",
    ),
    key(
        "ip",
        true,
        Kind::String,
        "The node's static LAN address: inside the LAN, unique, not the gateway.",
    ),
    key("cpus", false, CPU_COUNT, "Overrides `vagrant.cpus`; a control plane needs 2."),
    key(
        "memory_mb",
        false,
        MEMORY,
        "Overrides `vagrant.memory_mb`; must cover kubespray's minimum plus 256 MiB the guest \
         kernel keeps.",
    ),
    key(
        "remove",
        false,
        Kind::Boolean,
        "Step 1 of removing the node: it stays in the inventory, and its VM runs, so that \
         kubespray's `remove-node.yml` can reach it; drop the table in a later build. Default \
         `false`.",
    ),
];

/// The schema as pretty-printed JSON, ending with a newline.
pub fn json() -> String {
    let mut schema = table(SITE, "gen's site.toml: one Kubernetes home lab over VM servers.");
    let object = schema.as_object_mut().expect("a table is an object");
    object.insert("$schema".into(), json!("http://json-schema.org/draft-04/schema#"));
    object.insert("title".into(), json!("site.toml"));
    let mut text = serde_json::to_string_pretty(&schema).expect("a JSON value prints");
    text.push('\n');
    text
}

fn table(keys: &[Key], doc: &str) -> Value {
    let properties: Map<String, Value> =
        keys.iter().map(|k| (k.name.to_string(), value(k))).collect();
    let required: Vec<&str> = keys.iter().filter(|k| k.required).map(|k| k.name).collect();
    let mut object = json!({
        "type": "object",
        "description": doc,
        "properties": properties,
        "additionalProperties": false,
    });
    if !required.is_empty() {
        object["required"] = json!(required);
    }
    object
}

fn value(key: &Key) -> Value {
    let doc = key.doc;
    match &key.kind {
        Kind::String => json!({ "type": "string", "description": doc }),
        Kind::OneOf(values) => json!({ "type": "string", "enum": values(), "description": doc }),
        Kind::Integer { min, max } => {
            json!({ "type": "integer", "minimum": min, "maximum": max, "description": doc })
        }
        Kind::Boolean => json!({ "type": "boolean", "description": doc }),
        Kind::StringArray => {
            json!({ "type": "array", "items": { "type": "string" }, "description": doc })
        }
        Kind::Table(keys) => table(keys, doc),
        Kind::Named(keys) => {
            let mut names = Map::new();
            names.insert(LABEL_PATTERN.to_string(), table(keys, doc));
            json!({
                "type": "object",
                "description": doc,
                "patternProperties": names,
                "additionalProperties": false,
            })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_schema_is_draft_4_json_naming_every_release() {
        let schema: Value = serde_json::from_str(&json()).unwrap();
        assert_eq!(schema["$schema"], "http://json-schema.org/draft-04/schema#");
        let versions = &schema["properties"]["kubespray"]["properties"]["version"]["enum"];
        assert_eq!(versions.as_array().unwrap().len(), kubespray::RELEASES.len());
    }
}
