//! Hostile input: whatever a `site.toml` holds, gen either refuses it with errors that point at
//! a key and a line, or writes files that every consumer reads back as the values the site meant.
//!
//! The main test generates over 10,000 documents from the example sites: values replaced by or
//! spliced with hostile text (quotes, newlines, `$()`, backticks, `%`, `#{}`, NUL, very long
//! values, non-ASCII, a leading `-`), keys dropped, added and renamed, wrong types, names that
//! YAML would read as something else, and broken TOML. The checks that run in-process run on
//! every document; the slow ones (`bash -n`, `dash -n`, `ruby -c`, `systemd-analyze verify`,
//! PyYAML, which is what ansible reads the inventory with) run on a sample of the accepted ones.
//!
//! The run is fixed: proptest's configuration is spelled out here rather than read from the
//! environment, and the random generator has a fixed seed, so every run sees the same documents.

use std::cell::RefCell;
use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;
use std::fs;
use std::os::unix::fs::{FileTypeExt as _, PermissionsExt as _};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::str::FromStr;
use std::time::{Duration, Instant};

use ipnet::Ipv4Net;
use labgen::Tree;
use labgen::error::Error;
use proptest::prelude::*;
use proptest::test_runner::{
    Config, RngAlgorithm, TestCaseError, TestRng, TestRunner, basic_result_cache,
};
use serde_yaml_ng::Value as Yaml;

/// How many documents the generated test builds.
const CASES: u32 = 12_000;
/// Every this many accepted documents, one goes through the external tools.
const SAMPLE_EVERY: usize = 100;
/// At most this many samples, so the external tools cost a bounded time.
const MAX_SAMPLES: usize = 40;
/// A hang or a pathological slowdown fails the test instead of stalling CI.
const DEADLINE: Duration = Duration::from_secs(300);
/// The generator's seed: change it to see other documents, never to make a failure go away.
const SEED: [u8; 32] = *b"gen: hostile site.toml, seed 001";

// ---------------------------------------------------------------------------------------------
// What a generated document is made of.

/// A TOML value to put somewhere, in a form proptest can show when a case fails.
#[derive(Debug, Clone)]
enum Val {
    Str(String),
    Int(i64),
    Float(f64),
    Bool(bool),
    Datetime,
    Array(Vec<Val>),
    Table(Vec<(String, Val)>),
}

impl Val {
    fn to_toml(&self) -> toml::Value {
        match self {
            Val::Str(s) => toml::Value::String(s.clone()),
            Val::Int(i) => toml::Value::Integer(*i),
            Val::Float(f) => toml::Value::Float(*f),
            Val::Bool(b) => toml::Value::Boolean(*b),
            Val::Datetime => toml::Value::Datetime("1979-05-27T07:32:00Z".parse().unwrap()),
            Val::Array(items) => toml::Value::Array(items.iter().map(Val::to_toml).collect()),
            Val::Table(entries) => {
                toml::Value::Table(entries.iter().map(|(k, v)| (k.clone(), v.to_toml())).collect())
            }
        }
    }
}

/// One change to the document. Indices pick among what the document has when the change is
/// made (modulo its count), so a change means something whatever the base is.
#[derive(Debug, Clone)]
enum Mutation {
    /// Replace any value (leaf or table) with another.
    Set {
        at: usize,
        value: Val,
    },
    /// Put hostile text before, after, in the middle of, or instead of a string.
    Splice {
        at: usize,
        text: String,
        place: u8,
    },
    /// Copy one string of the document over another (an address where a name belongs...).
    Swap {
        to: usize,
        from: usize,
    },
    Drop {
        at: usize,
    },
    Add {
        at: usize,
        key: String,
        value: Val,
    },
    Rename {
        at: usize,
        key: String,
    },
    /// Rename a node (its table key): often valid, which keeps the YAML checks busy.
    RenameNode {
        which: usize,
        name: String,
    },
    /// Rename a host and every node's reference to it.
    RenameHost {
        which: usize,
        name: String,
    },
    /// Give a node another address of the LAN.
    SetIp {
        which: usize,
        host: u32,
    },
    /// Pick one of the release's Kubernetes versions, with or without a `v`.
    KubeVersion {
        which: usize,
    },
    Helm(bool),
    /// Set an optional field to a value from its list of good and bad ones.
    Optional {
        field: usize,
        host: usize,
        pick: usize,
    },
    DropOptional {
        which: usize,
    },
}

/// A change to the text after it is written: broken TOML, mostly.
#[derive(Debug, Clone)]
enum Break {
    Truncate(usize),
    Insert(usize, String),
    InsertLine(usize, String),
    DeleteLine(usize),
    DuplicateLine(usize),
}

#[derive(Debug, Clone)]
struct Case {
    base: usize,
    mutations: Vec<Mutation>,
    breaks: Vec<Break>,
}

/// Pieces of text that mean something to one of the languages gen writes, or to a terminal.
const FRAGMENTS: &[&str] = &[
    "'",
    "\"",
    "\\",
    "\n",
    "\r\n",
    "\r",
    "\t",
    " ",
    "\0",
    "\u{7}",
    "\u{1b}[2J",
    "\u{7f}",
    "\u{85}",
    "\u{2028}",
    "\u{202e}",
    "\u{feff}",
    "$(id)",
    "`id`",
    "${HOME}",
    "$HOME",
    "$$",
    ";reboot",
    "| sh",
    "&& x",
    "> /etc/passwd",
    "*",
    "?",
    "~",
    "!",
    "%",
    "%i",
    "%%",
    "%h/x",
    "#{`id`}",
    "#{x}",
    "#",
    "# x",
    ": x",
    "- x",
    "{{ x }}",
    "{% x %}",
    "[x]",
    "{a: b}",
    "&anchor",
    "*alias",
    "!!python/object",
    "-",
    "--",
    "-oProxyCommand=touch /tmp/pwned",
    "--rsh=sh",
    "-e",
    "..",
    "../..",
    "/",
    "//",
    "@cert-authority *",
    "SHELL",
    "\nSHELL\n",
    "=begin",
    "\n[Service]\nExecStart=/bin/sh",
    "é",
    "名前",
    "Ω",
    "🦀",
    "ǅ",
    "true",
    "null",
    "~",
    "0x1f",
    "1e3",
    "2024-01-01",
    "\u{0}\u{0}",
];

/// Names a node or host may be given: labels that other languages read as something else,
/// group names ansible already has, and near misses of the label rule.
const NAMES: &[&str] = &[
    "true",
    "false",
    "null",
    "yes",
    "no",
    "on",
    "off",
    "y",
    "n",
    "123",
    "0",
    "007",
    "0x1f",
    "0o17",
    "1e3",
    "1-0",
    "2024-01-01",
    "12-30",
    "inf",
    "nan",
    "all",
    "etcd",
    "ungrouped",
    "localhost",
    "kube-node",
    "k8s-cluster",
    "node",
    "a",
    "x--y",
    "shell",
    "begin",
    "end",
    "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
    "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
    "-x",
    "x-",
    "X",
    "a_b",
    "a.b",
    "a b",
    "",
    "näme",
    "$(id)",
    "%i",
];

/// Optional fields, each with values that pass and values that must not.
const OPTIONAL: &[(&str, &[&str])] = &[
    (
        "hosts.*.root",
        &[
            "/srv/gen",
            "/home/lab/-x",
            "/a/b_c.d/e-f",
            "/srv/%i",
            "/srv/$x",
            "/srv/a b",
            "relative",
            "/srv/../etc",
            "/srv/./x",
            "/srv//x",
            "/srv/x/",
            "/",
            "~/gen",
            "/srv/x\\",
            "/srv/é",
        ],
    ),
    (
        "hosts.*.address",
        &[
            "lab-server.example.org",
            "vmhost",
            "LAB.example",
            "-oProxyCommand=x",
            "host..example",
            "host.",
            "1.2.3",
            "0x7f.1",
            "[::1]",
            "host:22",
            "user@host",
            "*.example",
            "|1|abc",
            "192.168.001.10",
        ],
    ),
    ("hosts.*.user", &["ops", "_svc", "a-b_c", "Lab", "1ops", "-lab", "root$", "a.b", "a b"]),
    ("hosts.*.bridge", &["enp0s31f6", "br0.100", "wlan-1_x", "-eno1", "eno1:0", "a/b", "."]),
    ("kubespray.network_plugin", &["calico", "flannel", "cilium", "weave", "none", "Calico"]),
    ("kubespray.container_manager", &["containerd", "crio", "docker", ""]),
    ("kubespray.kube_proxy_mode", &["ipvs", "iptables", "nftables", "userspace"]),
    ("vagrant.box", &["ubuntu/jammy64", "a.b/c-d_e", "bento/ubuntu-24.04/x", "/x", ".a/b", "a/-b"]),
    ("vagrant.box_version", &["1", "2024.1.2", "1..2", "v1.0", "1.0-rc1", ".1"]),
    (
        "vagrant.authorized_keys",
        &[
            "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIAGfasj2MY1IzWlQzwHSZ6exX+/rBgGRtt9h2azSSsxK",
            "ssh-rsa AAAAB3NzaC1yc2EAAAADAQABAAABAQC7 a@b",
            "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIAGfasj2MY1IzWlQzwHSZ6exX+/rBgGRtt9h2azSSsxK a+b:c=d",
            "ssh-dss AAAAB3NzaC1kc3MAAACBAP== x",
            "command=\"x\" ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIAGfasj2MY1IzWlQzwHSZ6exX+/rBgGRtt9h",
        ],
    ),
    (
        "hosts.*.host_key",
        &[
            "ssh-rsa AAAAB3NzaC1yc2EAAAADAQABAAABAQC7",
            "ecdsa-sha2-nistp256 AAAAE2VjZHNhLXNoYTItbmlzdHAyNTY=",
            "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAID6K0gt3z0GigMUFpyQDyNaE/dTt9fhvEJ1xoH+becVy x",
            "@revoked ssh-ed25519 AAAAC3NzaC1lZDI1NTE5",
        ],
    ),
    ("addons.metallb.ip_range", &["192.168.1.0/24", "10.0.0.1-10.0.0.2", "x-y", "1.2.3.4"]),
];

const OPTIONAL_DROPS: &[&str] = &[
    "kubespray.kube_version",
    "vagrant.authorized_keys",
    "vagrant.cpus",
    "vagrant.memory_mb",
    "addons",
    "addons.metallb",
    "addons.helm",
    "network.dns",
];

const LINES: &[&str] = &[
    "x = 1",
    "[nodes.k8s-cp-1]",
    "[cluster]",
    "[[hosts]]",
    "name = \"other\"",
    "= 3",
    "a = \"\"\"",
    "b = '''",
    "\"\\u0000\" = 1",
    "[nodes.\"a\\nb\"]",
    "c = [1, \"a\"]",
    "d = { e = 1 }",
    "[[nodes.k8s-cp-1.extra]]",
    "f = 1979-05-27",
    "g = inf",
    "h = 0x7fffffffffffffff",
    "i = 99999999999999999999",
];

fn fragment() -> impl Strategy<Value = String> {
    prop::sample::select(FRAGMENTS).prop_map(str::to_string)
}

fn hostile_string() -> impl Strategy<Value = String> {
    prop_oneof![
        4 => fragment(),
        2 => (fragment(), fragment()).prop_map(|(a, b)| a + &b),
        1 => prop::collection::vec(any::<char>(), 0..12).prop_map(|c| c.into_iter().collect()),
        1 => (1usize..300).prop_map(|n| "a".repeat(n)),
        1 => prop::sample::select(&[4_096usize, 70_000, 1 << 20][..]).prop_map(|n| "x".repeat(n)),
        2 => prop::sample::select(NAMES).prop_map(str::to_string),
    ]
}

fn key() -> impl Strategy<Value = String> {
    prop_oneof![
        3 => prop::sample::select(
            &["name", "ip", "host", "role", "cpus", "adress", "hosts", "nodes", "root", "Port"][..]
        )
        .prop_map(str::to_string),
        2 => hostile_string(),
    ]
}

fn val() -> impl Strategy<Value = Val> {
    let leaf = prop_oneof![
        5 => hostile_string().prop_map(Val::Str),
        1 => any::<i64>().prop_map(Val::Int),
        1 => prop::sample::select(&[0i64, -1, 1, 22, 511, 512, 65535, 65536, i64::MIN][..])
            .prop_map(Val::Int),
        1 => any::<f64>().prop_map(Val::Float),
        1 => any::<bool>().prop_map(Val::Bool),
        1 => Just(Val::Datetime),
    ];
    leaf.prop_recursive(2, 6, 3, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..3).prop_map(Val::Array),
            prop::collection::vec((key(), inner), 0..3).prop_map(Val::Table),
        ]
    })
}

fn mutation() -> impl Strategy<Value = Mutation> {
    let at = any::<usize>();
    prop_oneof![
        3 => (at, val()).prop_map(|(at, value)| Mutation::Set { at, value }),
        5 => (at, hostile_string(), 0u8..4)
            .prop_map(|(at, text, place)| Mutation::Splice { at, text, place }),
        1 => (at, any::<usize>()).prop_map(|(to, from)| Mutation::Swap { to, from }),
        2 => at.prop_map(|at| Mutation::Drop { at }),
        1 => (at, key(), val()).prop_map(|(at, key, value)| Mutation::Add { at, key, value }),
        1 => (at, key()).prop_map(|(at, key)| Mutation::Rename { at, key }),
        4 => (at, prop::sample::select(NAMES))
            .prop_map(|(which, n)| Mutation::RenameNode { which, name: n.to_string() }),
        2 => (at, prop::sample::select(NAMES))
            .prop_map(|(which, n)| Mutation::RenameHost { which, name: n.to_string() }),
        4 => (at, any::<u32>()).prop_map(|(which, host)| Mutation::SetIp { which, host }),
        2 => at.prop_map(|which| Mutation::KubeVersion { which }),
        2 => any::<bool>().prop_map(Mutation::Helm),
        5 => (at, at, at).prop_map(|(field, host, pick)| Mutation::Optional { field, host, pick }),
        2 => at.prop_map(|which| Mutation::DropOptional { which }),
    ]
}

fn brk() -> impl Strategy<Value = Break> {
    let at = any::<usize>();
    prop_oneof![
        at.prop_map(Break::Truncate),
        (at, hostile_string()).prop_map(|(at, s)| Break::Insert(at, s)),
        (at, prop::sample::select(LINES)).prop_map(|(at, l)| Break::InsertLine(at, l.into())),
        at.prop_map(Break::DeleteLine),
        at.prop_map(Break::DuplicateLine),
    ]
}

fn case(bases: usize) -> impl Strategy<Value = Case> {
    let breaks = prop_oneof![
        9 => Just(Vec::new()),
        1 => prop::collection::vec(brk(), 1..3),
    ];
    (0..bases, prop::collection::vec(mutation(), 0..4), breaks)
        .prop_map(|(base, mutations, breaks)| Case { base, mutations, breaks })
}

// ---------------------------------------------------------------------------------------------
// Applying a case to a base document.

#[derive(Debug, Clone, PartialEq)]
enum Seg {
    Key(String),
    Index(usize),
}

/// Every path below `value` (not `value` itself), parents before children.
fn all_paths(value: &toml::Value, prefix: &mut Vec<Seg>, out: &mut Vec<Vec<Seg>>) {
    match value {
        toml::Value::Table(t) => {
            for (k, v) in t {
                prefix.push(Seg::Key(k.clone()));
                out.push(prefix.clone());
                all_paths(v, prefix, out);
                prefix.pop();
            }
        }
        toml::Value::Array(items) => {
            for (i, v) in items.iter().enumerate() {
                prefix.push(Seg::Index(i));
                out.push(prefix.clone());
                all_paths(v, prefix, out);
                prefix.pop();
            }
        }
        _ => {}
    }
}

fn paths_where(root: &toml::Value, keep: impl Fn(&toml::Value) -> bool) -> Vec<Vec<Seg>> {
    let mut all = Vec::new();
    all_paths(root, &mut Vec::new(), &mut all);
    all.retain(|p| get(root, p).is_some_and(&keep));
    all
}

fn get<'v>(root: &'v toml::Value, path: &[Seg]) -> Option<&'v toml::Value> {
    path.iter().try_fold(root, |v, seg| match (v, seg) {
        (toml::Value::Table(t), Seg::Key(k)) => t.get(k),
        (toml::Value::Array(a), Seg::Index(i)) => a.get(*i),
        _ => None,
    })
}

fn get_mut<'v>(root: &'v mut toml::Value, path: &[Seg]) -> Option<&'v mut toml::Value> {
    path.iter().try_fold(root, |v, seg| match (v, seg) {
        (toml::Value::Table(t), Seg::Key(k)) => t.get_mut(k),
        (toml::Value::Array(a), Seg::Index(i)) => a.get_mut(*i),
        _ => None,
    })
}

fn remove(root: &mut toml::Value, path: &[Seg]) -> Option<toml::Value> {
    let (last, parent) = path.split_last()?;
    match (get_mut(root, parent)?, last) {
        (toml::Value::Table(t), Seg::Key(k)) => t.remove(k),
        (toml::Value::Array(a), Seg::Index(i)) if *i < a.len() => Some(a.remove(*i)),
        _ => None,
    }
}

fn pick<T>(items: &[T], at: usize) -> Option<&T> {
    (!items.is_empty()).then(|| &items[at % items.len()])
}

/// `a.b.*.c` with `*` the `host`-th key of `a.b`.
fn field_path(root: &toml::Value, dotted: &str, host: usize) -> Option<Vec<Seg>> {
    let mut path = Vec::new();
    for part in dotted.split('.') {
        if part == "*" {
            let toml::Value::Table(t) = get(root, &path)? else { return None };
            let keys: Vec<&String> = t.keys().collect();
            path.push(Seg::Key((*pick(&keys, host)?).clone()));
        } else {
            path.push(Seg::Key(part.to_string()));
        }
    }
    Some(path)
}

fn table_keys(root: &toml::Value, table: &str) -> Vec<String> {
    match get(root, &[Seg::Key(table.into())]) {
        Some(toml::Value::Table(t)) => t.keys().cloned().collect(),
        _ => Vec::new(),
    }
}

fn rename_key(root: &mut toml::Value, path: &[Seg], new: &str) {
    let Some((Seg::Key(old), parent)) = path.split_last() else { return };
    if let Some(toml::Value::Table(t)) = get_mut(root, parent) {
        if let Some(v) = t.remove(old) {
            t.insert(new.to_string(), v);
        }
    }
}

fn floor_boundary(s: &str, at: usize) -> usize {
    let mut at = at.min(s.len());
    while !s.is_char_boundary(at) {
        at -= 1;
    }
    at
}

fn apply(root: &mut toml::Value, m: &Mutation) {
    let is_str = |v: &toml::Value| v.is_str();
    match m {
        Mutation::Set { at, value } => {
            let paths = paths_where(root, |_| true);
            if let Some(p) = pick(&paths, *at) {
                *get_mut(root, p).unwrap() = value.to_toml();
            }
        }
        Mutation::Splice { at, text, place } => {
            let paths = paths_where(root, is_str);
            if let Some(p) = pick(&paths, *at) {
                let toml::Value::String(s) = get_mut(root, p).unwrap() else { unreachable!() };
                *s = match place {
                    0 => format!("{text}{s}"),
                    1 => format!("{s}{text}"),
                    2 => {
                        let mid = floor_boundary(s, s.len() / 2);
                        format!("{}{text}{}", &s[..mid], &s[mid..])
                    }
                    _ => text.clone(),
                };
            }
        }
        Mutation::Swap { to, from } => {
            let paths = paths_where(root, is_str);
            if let (Some(to), Some(from)) = (pick(&paths, *to), pick(&paths, *from)) {
                let value = get(root, from).unwrap().clone();
                *get_mut(root, to).unwrap() = value;
            }
        }
        Mutation::Drop { at } => {
            let paths = paths_where(root, |_| true);
            if let Some(p) = pick(&paths, *at) {
                remove(root, &p.clone());
            }
        }
        Mutation::Add { at, key, value } => {
            let mut tables = paths_where(root, toml::Value::is_table);
            tables.push(Vec::new());
            let p = pick(&tables, *at).unwrap().clone();
            if let Some(toml::Value::Table(t)) = get_mut(root, &p) {
                t.insert(key.clone(), value.to_toml());
            }
        }
        Mutation::Rename { at, key } => {
            let paths = paths_where(root, |_| true);
            let keyed: Vec<_> =
                paths.into_iter().filter(|p| matches!(p.last(), Some(Seg::Key(_)))).collect();
            if let Some(p) = pick(&keyed, *at) {
                rename_key(root, &p.clone(), key);
            }
        }
        Mutation::RenameNode { which, name } => {
            if let Some(old) = pick(&table_keys(root, "nodes"), *which) {
                rename_key(root, &[Seg::Key("nodes".into()), Seg::Key(old.clone())], name);
            }
        }
        Mutation::RenameHost { which, name } => {
            let Some(old) = pick(&table_keys(root, "hosts"), *which).cloned() else { return };
            rename_key(root, &[Seg::Key("hosts".into()), Seg::Key(old.clone())], name);
            if let Some(toml::Value::Table(nodes)) = get_mut(root, &[Seg::Key("nodes".into())]) {
                for (_, node) in nodes.iter_mut() {
                    if let toml::Value::Table(t) = node {
                        if t.get("host").and_then(toml::Value::as_str) == Some(old.as_str()) {
                            t.insert("host".into(), toml::Value::String(name.clone()));
                        }
                    }
                }
            }
        }
        Mutation::SetIp { which, host } => {
            let cidr = get(root, &[Seg::Key("network".into()), Seg::Key("cidr".into())])
                .and_then(toml::Value::as_str)
                .and_then(|c| Ipv4Net::from_str(c).ok());
            let Some(cidr) = cidr else { return };
            let Some(node) = pick(&table_keys(root, "nodes"), *which).cloned() else { return };
            let size = 1u64 << (32 - cidr.prefix_len());
            let ip = u64::from(u32::from(cidr.network())) + (u64::from(*host) % size);
            let ip = std::net::Ipv4Addr::from(ip as u32).to_string();
            let path = [Seg::Key("nodes".into()), Seg::Key(node), Seg::Key("ip".into())];
            if let Some(toml::Value::Table(_)) = get(root, &path[..2]) {
                if let Some(toml::Value::Table(t)) = get_mut(root, &path[..2]) {
                    t.insert("ip".into(), toml::Value::String(ip));
                }
            }
        }
        Mutation::KubeVersion { which } => {
            let path = [Seg::Key("kubespray".into())];
            let Some(toml::Value::Table(k)) = get_mut(root, &path) else { return };
            let release =
                k.get("version").and_then(toml::Value::as_str).and_then(labgen::kubespray::find);
            let Some(release) = release else { return };
            let v = pick(release.kube_versions, *which).unwrap();
            let v = if which % 2 == 0 { v.to_string() } else { format!("v{v}") };
            k.insert("kube_version".into(), toml::Value::String(v));
        }
        Mutation::Helm(on) => {
            if let Some(toml::Value::Table(root)) = Some(root) {
                let addons =
                    root.entry("addons").or_insert_with(|| toml::Value::Table(toml::Table::new()));
                if let toml::Value::Table(a) = addons {
                    a.insert("helm".into(), toml::Value::Boolean(*on));
                }
            }
        }
        Mutation::Optional { field, host, pick: choice } => {
            let (dotted, values) = OPTIONAL[field % OPTIONAL.len()];
            let Some(path) = field_path(root, dotted, *host) else { return };
            let value = values[choice % values.len()];
            let value = if dotted.ends_with("authorized_keys") {
                toml::Value::Array(vec![toml::Value::String(value.into())])
            } else {
                toml::Value::String(value.into())
            };
            let (Seg::Key(last), parent) = path.split_last().unwrap() else { unreachable!() };
            if let Some(toml::Value::Table(t)) = get_mut(root, parent) {
                t.insert(last.clone(), value);
            }
        }
        Mutation::DropOptional { which } => {
            let dotted = OPTIONAL_DROPS[which % OPTIONAL_DROPS.len()];
            let path: Vec<Seg> = dotted.split('.').map(|k| Seg::Key(k.into())).collect();
            remove(root, &path);
        }
    }
}

fn break_text(text: &mut String, b: &Break) {
    let line_starts: Vec<usize> =
        std::iter::once(0).chain(text.match_indices('\n').map(|(i, _)| i + 1)).collect();
    let line = |n: usize| {
        let start = line_starts[n % line_starts.len()];
        let end = text[start..].find('\n').map_or(text.len(), |i| start + i + 1);
        (start, end)
    };
    match b {
        Break::Truncate(at) => {
            let at = floor_boundary(text, at % (text.len() + 1));
            text.truncate(at);
        }
        Break::Insert(at, s) => {
            let at = floor_boundary(text, at % (text.len() + 1));
            text.insert_str(at, s);
        }
        Break::InsertLine(n, l) => {
            let (start, _) = line(*n);
            text.insert_str(start, &format!("{l}\n"));
        }
        Break::DeleteLine(n) => {
            let (start, end) = line(*n);
            text.replace_range(start..end, "");
        }
        Break::DuplicateLine(n) => {
            let (start, end) = line(*n);
            let copy = text[start..end].to_string();
            text.insert_str(end, &copy);
        }
    }
}

/// The document's text: the base with every change made, then the text broken if asked.
fn document(bases: &[(String, toml::Table)], case: &Case) -> String {
    let mut root = toml::Value::Table(bases[case.base].1.clone());
    for m in &case.mutations {
        apply(&mut root, m);
    }
    let toml::Value::Table(table) = root else { unreachable!() };
    let mut text = toml::to_string(&table).expect("a toml::Table always serializes");
    for b in &case.breaks {
        break_text(&mut text, b);
    }
    text
}

// ---------------------------------------------------------------------------------------------
// The sites the documents start from.

fn repo() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// The example site and every golden site that builds.
fn bases() -> Vec<(String, toml::Table)> {
    let mut files = vec![repo().join("site.toml")];
    let mut golden: Vec<PathBuf> = fs::read_dir(repo().join("golden-tests"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|case| case.join("expected").is_dir())
        .map(|case| case.join("site.toml"))
        .collect();
    golden.sort();
    files.extend(golden);
    files
        .into_iter()
        .map(|f| {
            let text = fs::read_to_string(&f).unwrap();
            labgen::build(&text, "site.toml").expect("a base site builds");
            (f.display().to_string(), text.parse::<toml::Table>().unwrap())
        })
        .collect()
}

// ---------------------------------------------------------------------------------------------
// What a rejected document must give.

/// Every rejection is a list of located diagnostics, printable on a terminal as it is.
fn check_rejection(text: &str, err: &Error) -> Result<(), String> {
    let Error::InvalidSite { diagnostics, .. } = err else {
        return Err(format!("rejected with something other than InvalidSite: {err}"));
    };
    if diagnostics.is_empty() {
        return Err("rejected with no diagnostic".into());
    }
    let lines = text.lines().count();
    for d in diagnostics {
        if d.line < 1 || d.line > lines + 1 || d.column < 1 {
            return Err(format!(
                "line {}:{} is not in the document ({lines} lines): {d}",
                d.line, d.column
            ));
        }
        let syntax = d.problem.is_syntax();
        if d.key.is_empty() && !syntax {
            return Err(format!("a diagnostic names no key: {d}"));
        }
        if syntax && diagnostics.len() > 1 {
            return Err("a syntax error came with other diagnostics".into());
        }
    }
    check_printable(&err.to_string())
}

/// What gen prints about a site goes to a terminal: no control character may reach it (an
/// escape sequence could rewrite what the user sees), and each line stays bounded.
fn check_printable(message: &str) -> Result<(), String> {
    if let Some(c) = message.chars().find(|c| c.is_control() && *c != '\n') {
        return Err(format!("the message holds the control character {c:?}: {message:?}"));
    }
    if let Some(line) = message.lines().find(|l| l.chars().count() > 2_000) {
        return Err(format!("a message line of {} characters", line.chars().count()));
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// What an accepted document must give: the values of the site, read back from the files.

/// The site as the toml crate (not gen) reads it: the truth the files are checked against.
struct Expect {
    cluster: String,
    kube_version: String,
    cidr: Ipv4Net,
    gateway: String,
    dns: Vec<String>,
    helm: bool,
    metallb: Option<String>,
    /// name → (user, root if given, libvirt rather than VirtualBox)
    hosts: BTreeMap<String, (String, Option<String>, bool)>,
    /// name → (host, control plane, ip)
    nodes: BTreeMap<String, (String, bool, String)>,
}

fn expect(text: &str) -> Result<Expect, String> {
    let doc: toml::Table =
        text.parse().map_err(|e| format!("gen accepted what toml refuses: {e}"))?;
    let s = |t: &toml::Value, k: &str| -> String {
        t.get(k).and_then(toml::Value::as_str).unwrap_or_default().to_string()
    };
    let release = labgen::kubespray::find(&s(&doc["kubespray"], "version")).ok_or("release")?;
    let kube_version = doc["kubespray"]
        .get("kube_version")
        .and_then(toml::Value::as_str)
        .unwrap_or(release.kube_version_default());
    let network = &doc["network"];
    let addons = doc.get("addons");
    let hosts = doc["hosts"].as_table().ok_or("hosts")?;
    let nodes = doc["nodes"].as_table().ok_or("nodes")?;
    Ok(Expect {
        cluster: s(&doc["cluster"], "name"),
        kube_version: kube_version.trim_start_matches('v').to_string(),
        cidr: s(network, "cidr").parse().map_err(|_| "cidr")?,
        gateway: s(network, "gateway"),
        dns: network["dns"]
            .as_array()
            .ok_or("dns")?
            .iter()
            .map(|d| d.as_str().unwrap_or_default().to_string())
            .collect(),
        helm: addons.and_then(|a| a.get("helm")).and_then(toml::Value::as_bool).unwrap_or(false),
        // gen writes a CIDR range as `first-last`, the one form every kubespray release takes.
        metallb: addons.and_then(|a| a.get("metallb")).map(|m| {
            let range = s(m, "ip_range");
            match Ipv4Net::from_str(&range) {
                Ok(net) => format!("{}-{}", net.network(), net.broadcast()),
                Err(_) => range,
            }
        }),
        hosts: hosts
            .iter()
            .map(|(name, h)| {
                let root = h.get("root").and_then(toml::Value::as_str).map(str::to_string);
                (name.clone(), (s(h, "user"), root, s(h, "provider") == "libvirt"))
            })
            .collect(),
        nodes: nodes
            .iter()
            .map(|(name, n)| {
                (name.clone(), (s(n, "host"), s(n, "role") == "control-plane", s(n, "ip")))
            })
            .collect(),
    })
}

fn file_text<'t>(tree: &'t Tree, path: &str) -> Result<&'t str, String> {
    let file = tree.get(path).ok_or_else(|| format!("no `{path}` in the tree"))?;
    std::str::from_utf8(&file.bytes).map_err(|_| format!("`{path}` is not UTF-8"))
}

fn yaml(tree: &Tree, path: &str) -> Result<Yaml, String> {
    let text = file_text(tree, path)?;
    let value: Yaml = serde_yaml_ng::from_str(text).map_err(|e| format!("`{path}`: {e}"))?;
    check_keys_are_strings(&value, path)?;
    Ok(value)
}

/// A mapping key that reads as a bool, number or null is not the name gen meant.
fn check_keys_are_strings(value: &Yaml, path: &str) -> Result<(), String> {
    match value {
        Yaml::Mapping(m) => {
            for (k, v) in m {
                if !k.is_string() {
                    return Err(format!("`{path}`: the key {k:?} does not read as a string"));
                }
                check_keys_are_strings(v, path)?;
            }
        }
        Yaml::Sequence(items) => {
            for v in items {
                check_keys_are_strings(v, path)?;
            }
        }
        _ => {}
    }
    Ok(())
}

fn string_keys(v: &Yaml) -> BTreeSet<String> {
    match v {
        Yaml::Mapping(m) => m.keys().filter_map(|k| k.as_str().map(str::to_string)).collect(),
        _ => BTreeSet::new(),
    }
}

fn strings(v: &Yaml) -> Vec<String> {
    v.as_sequence()
        .map(|s| s.iter().map(|i| i.as_str().unwrap_or("<not a string>").to_string()).collect())
        .unwrap_or_default()
}

macro_rules! ensure {
    ($cond:expr, $($fmt:tt)+) => {
        if !$cond {
            return Err(format!($($fmt)+));
        }
    };
}

fn check_accepted(text: &str, tree: &Tree) -> Result<(), String> {
    let e = expect(text)?;
    for (path, file) in tree.iter() {
        let text = std::str::from_utf8(&file.bytes).map_err(|_| format!("`{path}` not UTF-8"))?;
        ensure!(
            text.ends_with('\n') && !text.ends_with("\n\n"),
            "`{path}` does not end in one newline"
        );
        if let Some(c) = text.chars().find(|c| c.is_control() && *c != '\n') {
            return Err(format!("`{path}` holds the control character {c:?}"));
        }
        if path.ends_with(".yaml") || path.ends_with(".yml") {
            yaml(tree, path)?;
        }
    }

    // The inventory: names as string keys, each node's addresses, the groups.
    let inv = yaml(tree, "kubespray/inventory/hosts.yaml")?;
    let names: BTreeSet<String> = e.nodes.keys().cloned().collect();
    ensure!(
        string_keys(&inv["all"]["hosts"]) == names,
        "inventory hosts {:?} are not the nodes {names:?}",
        string_keys(&inv["all"]["hosts"])
    );
    for (name, (_, _, ip)) in &e.nodes {
        let n = &inv["all"]["hosts"][name.as_str()];
        for key in ["ansible_host", "ip", "access_ip"] {
            ensure!(
                n[key].as_str() == Some(ip),
                "inventory `{name}.{key}` is {:?}, not {ip}",
                n[key]
            );
        }
    }
    let cps: BTreeSet<String> =
        e.nodes.iter().filter(|(_, n)| n.1).map(|(k, _)| k.clone()).collect();
    let workers: BTreeSet<String> = names.difference(&cps).cloned().collect();
    let groups = &inv["all"]["children"];
    ensure!(string_keys(&groups["kube_control_plane"]["hosts"]) == cps, "kube_control_plane");
    ensure!(string_keys(&groups["etcd"]["hosts"]) == cps, "etcd");
    let kube_node = if workers.is_empty() { &cps } else { &workers };
    ensure!(string_keys(&groups["kube_node"]["hosts"]) == *kube_node, "kube_node");

    let vars = "kubespray/inventory/group_vars";
    let cluster = yaml(tree, &format!("{vars}/k8s_cluster/k8s-cluster.yml"))?;
    ensure!(cluster["cluster_name"].as_str() == Some(&e.cluster), "cluster_name");
    let kv = cluster["kube_version"].as_str().map(|v| v.trim_start_matches('v'));
    ensure!(kv == Some(&e.kube_version), "kube_version {kv:?}, not {}", e.kube_version);
    let addons = yaml(tree, &format!("{vars}/k8s_cluster/addons.yml"))?;
    ensure!(
        addons["helm_enabled"] == Yaml::Bool(e.helm),
        "helm_enabled {:?}",
        addons["helm_enabled"]
    );
    ensure!(addons["metallb_enabled"] == Yaml::Bool(e.metallb.is_some()), "metallb_enabled");
    if let Some(range) = &e.metallb {
        let got = strings(&addons["metallb_config"]["address_pools"]["primary"]["ip_range"]);
        ensure!(got == [range.clone()], "metallb range {got:?}");
    }
    let all = yaml(tree, &format!("{vars}/all/kubespray.yml"))?;
    ensure!(strings(&all["upstream_dns_servers"]) == e.dns, "upstream_dns_servers");
    if tree.get(&format!("{vars}/k8s_cluster/k8s-net-calico.yml")).is_some() {
        let calico = yaml(tree, &format!("{vars}/k8s_cluster/k8s-net-calico.yml"))?;
        let method = calico["calico_ip_auto_method"].as_str();
        ensure!(method == Some("kubernetes-internal-ip"), "calico method {method:?}");
    }

    // Per node: its netplan override; per host: its units and Vagrantfiles.
    for (name, (host, _, ip)) in &e.nodes {
        let netplan = yaml(tree, &format!("hosts/{host}/vms/{name}/netplan.yaml"))?;
        let nic = &netplan["network"]["ethernets"]["bridged"];
        let address = format!("{ip}/{}", e.cidr.prefix_len());
        ensure!(strings(&nic["addresses"]) == [address], "netplan address of {name}");
        ensure!(nic["routes"][0]["via"].as_str() == Some(&e.gateway), "netplan gateway");
        ensure!(strings(&nic["nameservers"]["addresses"]) == e.dns, "netplan dns");
    }
    for (host, (user, root, libvirt)) in &e.hosts {
        let root = root.clone().unwrap_or_else(|| format!("/home/{user}/gen/{}", e.cluster));
        let mut units = 0;
        let mut keepers = 0;
        for (path, file) in tree.subtree(&format!("hosts/{host}/systemd")) {
            let text = std::str::from_utf8(&file.bytes).unwrap();
            if path.rsplit('/').next() == Some("gen-vboxsvc@.service") {
                // The user's VBoxSVC keeper runs as its instance, which apply.sh names: the user.
                keepers += 1;
                check_unit(path, text, "%i", &root)?;
                let apply = tree.get(&format!("hosts/{host}/apply.sh")).unwrap();
                let apply = std::str::from_utf8(&apply.bytes).unwrap();
                let line = format!("\nkeeper='gen-vboxsvc@{user}.service'\n");
                ensure!(apply.contains(&line), "host {host}: apply.sh starts no keeper of {user}");
            } else {
                units += 1;
                check_unit(path, text, user, &root)?;
            }
        }
        let on_host: Vec<&String> =
            e.nodes.iter().filter(|(_, (h, _, _))| h == host).map(|(n, _)| n).collect();
        // VirtualBox needs a VBoxSVC keeper beside each VM template; libvirtd is its own keeper.
        let wanted = if *libvirt { 0 } else { units };
        ensure!(keepers == wanted, "host {host}: {keepers} keepers for {units} VM templates");
        // One template unit for a host with VMs, none for an emptied one.
        ensure!(
            units == usize::from(!on_host.is_empty()),
            "host {host}: {units} units for {} VMs",
            on_host.len()
        );
        let vagrantfiles = tree
            .subtree(&format!("hosts/{host}/vms"))
            .filter(|(p, _)| p.ends_with("/Vagrantfile"))
            .count();
        ensure!(vagrantfiles == on_host.len(), "host {host}: {vagrantfiles} Vagrantfiles");
        for node in on_host {
            let path = format!("hosts/{host}/vms/{node}/Vagrantfile");
            let file = tree.get(&path).ok_or_else(|| format!("`{path}` missing"))?;
            let text = std::str::from_utf8(&file.bytes).unwrap();
            let opened = text.matches("<<~'SHELL'").count();
            let closed = text.lines().filter(|l| l.trim() == "SHELL").count();
            ensure!(opened == closed, "{path}: {opened} heredocs, {closed} ends");
            // One machine, this node.
            let defines = text.matches("config.vm.define ").count();
            let define = format!("config.vm.define '{node}' do");
            ensure!(defines == 1 && text.contains(&define), "{path}: not exactly `{define}`");
        }
    }
    Ok(())
}

/// A unit file is lines of `[Section]`, comments and `Key=Value`; a `%` in a value starts a
/// specifier unless doubled, and a trailing `\` joins the next line.
fn check_unit(path: &str, text: &str, user: &str, root: &str) -> Result<(), String> {
    for line in text.lines() {
        if line.is_empty()
            || line.starts_with('#')
            || (line.starts_with('[') && line.ends_with(']'))
        {
            continue;
        }
        let (key, value) = line.split_once('=').ok_or_else(|| format!("`{path}`: `{line}`"))?;
        ensure!(key.bytes().all(|b| b.is_ascii_alphanumeric()), "`{path}`: key `{key}`");
        // `%i`, the instance (a node name), is the one specifier gen writes.
        let plain = value.replace("%%", "").replace("%i", "");
        ensure!(!plain.contains('%'), "`{path}`: a specifier in `{line}`");
        ensure!(!value.ends_with('\\'), "`{path}`: a continued line `{line}`");
        if key == "User" {
            ensure!(value == user, "`{path}`: User={value}, not {user}");
        }
        if key == "WorkingDirectory" {
            ensure!(
                value.starts_with(&format!("{root}/")),
                "`{path}`: WorkingDirectory={value} is not below {root}"
            );
        }
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// The external tools, on a sample.

/// What the units run that a VM server has and this machine may not.
const SERVER_PROGRAMS: [&str; 2] = ["/usr/bin/vagrant", "/usr/lib/virtualbox/VBoxSVC"];

struct Tools {
    bash: PathBuf,
    dash: Option<PathBuf>,
    ruby: PathBuf,
    systemd_analyze: PathBuf,
    python: PathBuf,
}

fn which(tool: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|d| d.join(tool))
        .find(|p| fs::metadata(p).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0))
}

/// The tools, or why not. In CI (`CI` set) a missing tool fails the test; elsewhere the test
/// says loudly what it skipped.
fn tools() -> Option<Tools> {
    let mut missing = Vec::new();
    let mut need = |tool: &str, package: &str| {
        let found = which(tool);
        if found.is_none() {
            missing.push(format!("`{tool}` (Debian package `{package}`)"));
        }
        found.unwrap_or_default()
    };
    let tools = Tools {
        bash: need("bash", "bash"),
        dash: which("dash"),
        ruby: need("ruby", "ruby"),
        systemd_analyze: need("systemd-analyze", "systemd"),
        // Debian's python3 is the one `python3-yaml` installs into; a python3 earlier on PATH
        // (pyenv, a venv) may lack it.
        python: match Path::new("/usr/bin/python3") {
            debian if debian.exists() => debian.to_path_buf(),
            _ => need("python3", "python3-yaml"),
        },
    };
    if missing.is_empty() {
        let yaml = Command::new(&tools.python).args(["-c", "import yaml"]).status();
        if !yaml.is_ok_and(|s| s.success()) {
            missing.push("python3's `yaml` module (Debian package `python3-yaml`)".into());
        }
    }
    if missing.is_empty() {
        return Some(tools);
    }
    let message =
        format!("not installed: {}; `sudo .ci/install-tools` installs them", missing.join(", "));
    assert!(std::env::var_os("CI").is_none(), "hostile input: {message}");
    eprintln!("\n*** SKIPPED the external checks of generated sites: {message} ***\n");
    None
}

/// Runs a command to completion with a time limit; `Err` with its output unless it exits 0
/// and prints nothing.
fn quiet(cmd: &mut Command, what: &str) -> Result<String, String> {
    let mut child = cmd
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| format!("{what}: cannot run: {e}"))?;
    let start = Instant::now();
    while child.try_wait().map_err(|e| e.to_string())?.is_none() {
        if start.elapsed() > Duration::from_secs(60) {
            let _ = child.kill();
            let _ = child.wait();
            return Err(format!("{what}: no answer within 60 s"));
        }
        std::thread::sleep(Duration::from_millis(2));
    }
    let output = child.wait_with_output().map_err(|e| e.to_string())?;
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
    if !output.status.success() || !stderr.trim().is_empty() {
        return Err(format!("{what}: {}\n{stdout}{stderr}", output.status));
    }
    Ok(stdout)
}

/// PyYAML (what ansible reads YAML with; YAML 1.1, so `yes`, `on`, `2024-01-01` are not
/// strings) loads each file; every key must be a string, and the data is printed as JSON to
/// compare with what the in-process parser read.
const PYYAML: &str = r#"
import datetime, json, sys, yaml
loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
def check(node, where):
    if isinstance(node, dict):
        for k, v in node.items():
            if not isinstance(k, str):
                sys.exit("%s: the key %r reads as %s" % (where, k, type(k).__name__))
            check(v, where + "." + k)
    elif isinstance(node, list):
        for i, v in enumerate(node):
            check(v, "%s[%d]" % (where, i))
    elif node is not None and not isinstance(node, (str, bool, int)):
        sys.exit("%s: %r reads as %s" % (where, node, type(node).__name__))
out = {}
for path in sys.argv[1:]:
    with open(path, encoding="utf-8") as f:
        doc = yaml.load(f, Loader=loader)
    check(doc, path)
    out[path] = doc
print(json.dumps(out, sort_keys=True, separators=(",", ":"), ensure_ascii=True))
"#;

/// `value` as Python's `json.dumps(sort_keys=True, separators=(",", ":"), ensure_ascii=True)`.
fn json(value: &Yaml, out: &mut String) {
    match value {
        Yaml::Null => out.push_str("null"),
        Yaml::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        Yaml::Number(n) => {
            let _ = write!(out, "{n}");
        }
        Yaml::String(s) => json_string(s, out),
        Yaml::Sequence(items) => {
            out.push('[');
            for (i, v) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                json(v, out);
            }
            out.push(']');
        }
        Yaml::Mapping(m) => {
            let sorted: BTreeMap<&str, &Yaml> =
                m.iter().map(|(k, v)| (k.as_str().unwrap_or("<key>"), v)).collect();
            out.push('{');
            for (i, (k, v)) in sorted.into_iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                json_string(k, out);
                out.push(':');
                json(v, out);
            }
            out.push('}');
        }
        Yaml::Tagged(t) => json(&t.value, out),
    }
}

fn json_string(s: &str, out: &mut String) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\u{8}' => out.push_str("\\b"),
            '\u{c}' => out.push_str("\\f"),
            c if (c as u32) < 0x20 || (c as u32) > 0x7e => {
                let mut units = [0u16; 2];
                for u in c.encode_utf16(&mut units) {
                    let _ = write!(out, "\\u{u:04x}");
                }
            }
            c => out.push(c),
        }
    }
    out.push('"');
}

/// The shell scripts Vagrant runs in the guests: the bodies of the `<<~'SHELL'` heredocs.
fn heredocs(vagrantfile: &str) -> Vec<String> {
    let mut bodies = Vec::new();
    let mut body: Option<Vec<&str>> = None;
    for line in vagrantfile.lines() {
        match &mut body {
            None if line.ends_with("<<~'SHELL'") => body = Some(Vec::new()),
            None => {}
            Some(lines) if line.trim() == "SHELL" => {
                bodies.push(lines.join("\n") + "\n");
                body = None;
            }
            Some(lines) => lines.push(line),
        }
    }
    bodies
}

fn check_externally(tools: &Tools, tree: &Tree) -> Result<(), String> {
    let dir = tempfile::tempdir().map_err(|e| e.to_string())?;
    let root = dir.path();
    let mut yamls = Vec::new();
    let mut units = Vec::new();
    for (path, file) in tree.iter() {
        let full = root.join(path);
        fs::create_dir_all(full.parent().unwrap()).unwrap();
        let mut bytes = file.bytes.clone();
        if path.ends_with(".service") {
            // verify checks that ExecStart= can run; for a program of the VM servers this
            // machine lacks (Vagrant, VirtualBox's VBoxSVC), a stand-in can.
            let mut text = String::from_utf8(bytes).unwrap();
            for program in SERVER_PROGRAMS {
                if !Path::new(program).exists() {
                    text = text.replace(&format!("{program} "), "/bin/true ");
                }
            }
            bytes = text.into_bytes();
        }
        fs::write(&full, &bytes).unwrap();
        if path.ends_with(".yaml") || path.ends_with(".yml") {
            yamls.push(path.to_string());
        } else if path.ends_with(".service") {
            units.push(full.clone());
        } else if path.ends_with(".sh") {
            let first = std::str::from_utf8(&file.bytes).unwrap().lines().next().unwrap_or("");
            quiet(Command::new(&tools.bash).arg("-n").arg(&full), &format!("bash -n {path}"))?;
            if let (true, Some(dash)) = (first == "#!/bin/sh", &tools.dash) {
                quiet(Command::new(dash).arg("-n").arg(&full), &format!("dash -n {path}"))?;
            }
        } else if path.ends_with("Vagrantfile") {
            let said =
                quiet(Command::new(&tools.ruby).arg("-c").arg(&full), &format!("ruby -c {path}"))?;
            ensure!(said.trim() == "Syntax OK", "ruby -c {path}: {said}");
            let text = std::str::from_utf8(&file.bytes).unwrap();
            for (i, body) in heredocs(text).into_iter().enumerate() {
                let script = root.join(format!("{}.heredoc{i}.sh", path.replace('/', "_")));
                fs::write(&script, body).unwrap();
                quiet(
                    Command::new(&tools.bash).arg("-n").arg(&script),
                    &format!("bash -n on heredoc {i} of {path}"),
                )?;
            }
        }
    }
    if !units.is_empty() {
        let mut cmd = Command::new(&tools.systemd_analyze);
        cmd.args(["verify", "--man=no", "--generators=no"]).args(&units);
        quiet(&mut cmd, "systemd-analyze verify")?;
    }
    let mut cmd = Command::new(&tools.python);
    cmd.current_dir(root).args(["-c", PYYAML]).args(&yamls);
    let python = quiet(&mut cmd, "PyYAML")?;
    let mut ours = String::from("{");
    let mut sorted = yamls.clone();
    sorted.sort();
    for (i, path) in sorted.iter().enumerate() {
        if i > 0 {
            ours.push(',');
        }
        json_string(path, &mut ours);
        ours.push(':');
        json(&yaml(tree, path)?, &mut ours);
    }
    ours.push('}');
    ensure!(
        python.trim_end() == ours,
        "PyYAML reads other values than serde_yaml_ng:\n{}\n{ours}",
        python.trim_end()
    );
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// The generated test.

#[derive(Default, Debug)]
struct Stats {
    documents: usize,
    accepted: usize,
    rejected: usize,
    syntax: usize,
    samples: usize,
    sample_time: Duration,
}

fn config() -> Config {
    // Every field that `Config::default()` would take from a PROPTEST_* variable is set here.
    Config {
        cases: CASES,
        max_local_rejects: 0,
        max_global_rejects: 0,
        max_flat_map_regens: 1_000_000,
        failure_persistence: None,
        source_file: None,
        test_name: Some("generated_sites"),
        max_shrink_time: 60_000,
        max_shrink_iters: 10_000,
        max_default_size_range: 100,
        result_cache: basic_result_cache,
        verbose: 0,
        rng_algorithm: RngAlgorithm::ChaCha,
        ..Config::default()
    }
}

#[test]
fn generated_sites_are_refused_with_located_errors_or_read_back_as_written() {
    let start = Instant::now();
    let bases = bases();
    let tools = tools();
    let stats = RefCell::new(Stats::default());
    let mut runner =
        TestRunner::new_with_rng(config(), TestRng::from_seed(RngAlgorithm::ChaCha, &SEED));
    let result = runner.run(&case(bases.len()), |case| {
        if start.elapsed() > DEADLINE {
            return Err(TestCaseError::fail(format!("past the {DEADLINE:?} deadline")));
        }
        let text = document(&bases, &case);
        let built = labgen::build(&text, "site.toml").map(|built| built.tree);
        let mut s = stats.borrow_mut();
        s.documents += 1;
        let outcome = match &built {
            Err(err) => {
                s.rejected += 1;
                if let Error::InvalidSite { diagnostics, .. } = err {
                    s.syntax += usize::from(diagnostics.iter().any(|d| d.problem.is_syntax()));
                }
                check_rejection(&text, err)
            }
            Ok(tree) => {
                s.accepted += 1;
                let mut outcome = check_accepted(&text, tree);
                if outcome.is_ok() && s.accepted % SAMPLE_EVERY == 1 && s.samples < MAX_SAMPLES {
                    if let Some(tools) = &tools {
                        let t = Instant::now();
                        outcome = check_externally(tools, tree);
                        s.samples += 1;
                        s.sample_time += t.elapsed();
                    }
                }
                outcome
            }
        };
        outcome.map_err(|why| {
            TestCaseError::fail(format!("{why}\n--- site.toml ---\n{}", shorten(&text)))
        })
    });
    let s = stats.into_inner();
    eprintln!(
        "hostile input: {} documents ({} accepted, {} rejected, {} of them not TOML), {} samples \
         through the external tools in {:.1} s; {:.1} s in all",
        s.documents,
        s.accepted,
        s.rejected,
        s.syntax,
        s.samples,
        s.sample_time.as_secs_f64(),
        start.elapsed().as_secs_f64()
    );
    if let Err(e) = result {
        panic!("{e}");
    }
    assert!(s.accepted >= 2_000 && s.rejected >= 2_000, "the mix drifted: {s:?}");
    assert!(tools.is_none() || s.samples >= 10, "too few samples: {s:?}");
}

/// A failing document, with its very long values cut so the report stays readable.
fn shorten(text: &str) -> String {
    text.lines()
        .map(|l| {
            if l.len() > 300 {
                format!("{}… ({} bytes)", &l[..floor_boundary(l, 300)], l.len())
            } else {
                l.to_string()
            }
        })
        .collect::<Vec<_>>()
        .join("\n")
}

// ---------------------------------------------------------------------------------------------
// Named cases: what the generated test may or may not happen to draw.

/// A one-server site whose nodes have the given names (the first a control plane).
fn site_with_nodes(names: &[&str]) -> String {
    let mut text = String::from(
        "[cluster]\nname = \"home\"\n[kubespray]\nversion = \"v2.31.0\"\n\
         [network]\ncidr = \"10.20.0.0/24\"\ngateway = \"10.20.0.1\"\ndns = [\"10.20.0.1\"]\n\
         [vagrant]\nbox = \"bento/ubuntu-24.04\"\nbox_version = \"202502.21.0\"\n\
         [addons]\nhelm = true\n\
         [hosts.on]\naddress = \"10.20.0.2\"\nuser = \"ops\"\nbridge = \"enp3s0\"\n\
         host_key = \"ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAID6K0gt3z0GigMUFpyQDyNaE/dTt9fhvEJ1xoH+becVy\"\n",
    );
    for (i, name) in names.iter().enumerate() {
        let role = if i == 0 { "control-plane" } else { "worker" };
        let ip = 10 + i;
        let key = toml::Value::String(name.to_string());
        text +=
            &format!("[nodes.{key}]\nhost = \"on\"\nrole = \"{role}\"\nip = \"10.20.0.{ip}\"\n");
    }
    text
}

#[test]
fn names_that_yaml_reads_as_other_things_are_written_as_names() {
    // YAML 1.1 (PyYAML, so ansible) reads these plain as bools, null, numbers and a date;
    // YAML 1.2 reads some of them as numbers. All are RFC 1123 labels.
    let names = ["yes", "no", "on", "off", "true", "null", "123", "0x1f", "1e3", "2024-01-01", "y"];
    let text = site_with_nodes(&names);
    let tree = labgen::build(&text, "site.toml").unwrap_or_else(|e| panic!("{e}")).tree;
    check_accepted(&text, &tree).unwrap();
    if let Some(tools) = tools() {
        check_externally(&tools, &tree).unwrap();
    }
}

#[test]
fn messages_quote_hostile_keys_and_values_without_control_characters() {
    let long = "k".repeat(5_000);
    let text = site_with_nodes(&["cp", "a\u{1b}[2Jb", "x\ry"]).replace(
        "[addons]\n",
        &format!("[addons]\n\"\\u001b]0;owned\\u0007\" = 1\n\"{long}\" = 2\nevil = \"\\r$(id)\"\n"),
    );
    let err = labgen::build(&text, "site.toml").unwrap_err();
    let message = err.to_string();
    check_rejection(&text, &err).unwrap();
    for shown in [
        r#"`addons."\u{1b}]0;owned\u{7}"`"#,
        r#"`nodes."a\u{1b}[2Jb"`"#,
        r#"`nodes."x\ry"`"#,
        "`addons.kkkkkkkk",
        "k…`: unknown key",
    ] {
        assert!(message.contains(shown), "no {shown:?} in:\n{message}");
    }
}

#[test]
fn the_quoting_filters_read_back_as_the_text_in_every_consumer() {
    // The filters' own promise, through a real shell, Ruby and YAML parser: whatever the text,
    // its quoted form reads back as that text. Validation keeps such text out of the tree; this
    // is the second line of defence the templates rely on. (No NUL: it cannot be in argv.)
    let texts: Vec<String> =
        FRAGMENTS.iter().filter(|f| !f.contains('\0')).map(|f| format!("a{f}b")).collect();
    let mut yaml_list = String::new();
    for t in &texts {
        yaml_list += &format!("- {}\n", labgen::quote::yaml(t));
    }
    let read: Vec<String> = serde_yaml_ng::from_str(&yaml_list).unwrap();
    assert_eq!(read, texts, "serde_yaml_ng");

    let Some(tools) = tools() else { return };
    let dir = tempfile::tempdir().unwrap();
    let mut script = String::new();
    let mut ruby = String::new();
    for t in &texts {
        script += &format!("printf '%s\\0' {}\n", labgen::quote::sh(t));
        ruby += &format!("print({}, \"\\0\")\n", labgen::quote::ruby(t));
    }
    let python = "import sys, yaml\nfor t in yaml.safe_load(open(sys.argv[1], encoding='utf-8')):\n    sys.stdout.write(t + '\\0')\n";
    let mut runs: Vec<(String, Command)> = Vec::new();
    for (name, text) in [("t.sh", &script), ("t.rb", &ruby), ("t.yaml", &yaml_list)] {
        fs::write(dir.path().join(name), text).unwrap();
    }
    let file = |name: &str| dir.path().join(name);
    let mut bash = Command::new(&tools.bash);
    bash.arg(file("t.sh"));
    runs.push(("bash".into(), bash));
    if let Some(dash) = &tools.dash {
        let mut dash = Command::new(dash);
        dash.arg(file("t.sh"));
        runs.push(("dash".into(), dash));
    }
    let mut rb = Command::new(&tools.ruby);
    rb.arg(file("t.rb"));
    runs.push(("ruby".into(), rb));
    let mut py = Command::new(&tools.python);
    py.args(["-c", python]).arg(file("t.yaml"));
    runs.push(("PyYAML".into(), py));
    for (name, mut command) in runs {
        let out = command.output().unwrap();
        assert!(out.status.success(), "{name}: {}", String::from_utf8_lossy(&out.stderr));
        let text = String::from_utf8(out.stdout).unwrap();
        let read: Vec<&str> = text.split_terminator('\0').collect();
        assert_eq!(read, texts, "{name}");
    }
}

// ---------------------------------------------------------------------------------------------
// A hostile file system: links and files in and around `out/`.

fn gen_in(cwd: &Path, args: &[&str]) -> (i32, String) {
    let output = crate::support::gen_output(cwd, args);
    let text = String::from_utf8_lossy(&output.stdout).into_owned()
        + &String::from_utf8_lossy(&output.stderr);
    (output.status.code().expect("gen exits"), text)
}

/// Everything below `root`, links not followed: kind and bytes or target.
fn snapshot(root: &Path) -> BTreeMap<PathBuf, (char, Vec<u8>)> {
    let mut all = BTreeMap::new();
    for entry in walkdir::WalkDir::new(root).follow_links(false) {
        let entry = entry.unwrap();
        let meta = entry.path().symlink_metadata().unwrap();
        let value = if meta.is_symlink() {
            ('l', fs::read_link(entry.path()).unwrap().into_os_string().into_encoded_bytes())
        } else if meta.is_file() {
            ('f', fs::read(entry.path()).unwrap())
        } else {
            ('d', Vec::new())
        };
        all.insert(entry.path().strip_prefix(root).unwrap().to_path_buf(), value);
    }
    all
}

/// The example site with `vmhost2` gone and its nodes moved to `vmhost1`: a whole host folder
/// is pruned when it is built over the example.
fn example_without_vmhost2() -> String {
    let mut site: toml::Table =
        fs::read_to_string(repo().join("site.toml")).unwrap().parse().unwrap();
    site["hosts"].as_table_mut().unwrap().remove("vmhost2");
    for (_, node) in site["nodes"].as_table_mut().unwrap().iter_mut() {
        node.as_table_mut().unwrap().insert("host".into(), "vmhost1".into());
    }
    toml::to_string(&site).unwrap()
}

/// `root/lab/site.toml` (the example) built into `root/lab/out`.
fn built_lab() -> (tempfile::TempDir, PathBuf) {
    let root = tempfile::tempdir().unwrap();
    let lab = root.path().join("lab");
    fs::create_dir(&lab).unwrap();
    fs::copy(repo().join("site.toml"), lab.join("site.toml")).unwrap();
    assert_eq!(gen_in(&lab, &["build"]).0, 0);
    (root, lab)
}

#[test]
fn an_out_that_reaches_the_site_folder_by_any_path_is_refused() {
    let root = tempfile::tempdir().unwrap();
    let r = root.path();
    fs::create_dir_all(r.join("lab")).unwrap();
    fs::create_dir_all(r.join("real")).unwrap();
    fs::copy(repo().join("site.toml"), r.join("real/site.toml")).unwrap();
    fs::copy(repo().join("site.toml"), r.join("lab/site.toml")).unwrap();
    std::os::unix::fs::symlink("lab", r.join("to-lab")).unwrap();
    std::os::unix::fs::symlink(".", r.join("lab/here")).unwrap();
    // A site file that is a link: its real folder is protected as well as the one it is in.
    std::os::unix::fs::symlink("../real/site.toml", r.join("lab/linked.toml")).unwrap();
    let before = snapshot(r);
    let cases: [&[&str]; 7] = [
        &["--site", "lab/site.toml", "--out", "to-lab"],
        &["--site", "lab/site.toml", "--out", "to-lab/"],
        &["--site", "lab/site.toml", "--out", "lab/here"],
        &["--site", "lab/site.toml", "--out", "lab/not-yet/.."],
        &["--site", "lab/site.toml", "--out", "to-lab/.."],
        &["--site", "to-lab/site.toml", "--out", "lab"],
        &["--site", "lab/linked.toml", "--out", "real"],
    ];
    for args in cases {
        let (code, text) = gen_in(r, &[args, &["build"]].concat());
        assert_eq!(code, 2, "{args:?}: {text}");
        assert!(text.contains("contains the site file"), "{args:?}: {text}");
    }
    assert_eq!(snapshot(r), before, "a refused build wrote something");
}

#[test]
fn a_symlink_anywhere_in_out_is_neither_followed_nor_replaced() {
    let (root, lab) = built_lab();
    let out = lab.join("out");
    let elsewhere = root.path().join("elsewhere");
    fs::create_dir(&elsewhere).unwrap();
    fs::write(root.path().join("precious"), "keep\n").unwrap();
    fs::write(lab.join("site.toml"), example_without_vmhost2()).unwrap();

    // A folder deep in out/ (one this build writes into) moved elsewhere and linked back.
    fs::rename(out.join("hosts/vmhost1/vms"), elsewhere.join("vms")).unwrap();
    std::os::unix::fs::symlink(elsewhere.join("vms"), out.join("hosts/vmhost1/vms")).unwrap();
    let before = (snapshot(root.path()), snapshot(&elsewhere));
    let (code, text) = gen_in(&lab, &["build", "--allow-unremoved"]);
    assert_eq!(code, 2, "{text}");
    assert!(text.contains("is a symlink"), "{text}");
    assert_eq!((snapshot(root.path()), snapshot(&elsewhere)), before);
    fs::remove_file(out.join("hosts/vmhost1/vms")).unwrap();
    fs::rename(elsewhere.join("vms"), out.join("hosts/vmhost1/vms")).unwrap();

    // A file this build would prune, replaced by a link to a file outside.
    let pruned = out.join("hosts/vmhost2/apply.sh");
    fs::remove_file(&pruned).unwrap();
    std::os::unix::fs::symlink(root.path().join("precious"), &pruned).unwrap();
    let before = snapshot(root.path());
    let (code, text) = gen_in(&lab, &["build", "--allow-unremoved"]);
    assert_eq!(code, 2, "{text}");
    assert_eq!(snapshot(root.path()), before);
    assert_eq!(fs::read_to_string(root.path().join("precious")).unwrap(), "keep\n");
}

#[test]
fn hard_links_are_replaced_and_unlinked_never_written_through() {
    let (root, lab) = built_lab();
    let out = lab.join("out");
    // One file gen rewrites and one it prunes, each also linked from outside out/.
    let changed = out.join("hosts/vmhost1/machines.toml");
    let pruned = out.join("hosts/vmhost2/apply.sh");
    let (outside_changed, outside_pruned) = (root.path().join("a"), root.path().join("b"));
    fs::hard_link(&changed, &outside_changed).unwrap();
    fs::hard_link(&pruned, &outside_pruned).unwrap();
    let was = (fs::read(&outside_changed).unwrap(), fs::read(&outside_pruned).unwrap());
    fs::write(lab.join("site.toml"), example_without_vmhost2()).unwrap();
    let (code, text) = gen_in(&lab, &["build", "--allow-unremoved"]);
    assert_eq!(code, 0, "{text}");
    assert!(text.contains("changed  out/hosts/vmhost1/machines.toml"), "{text}");
    assert!(text.contains("removed  out/hosts/vmhost2/apply.sh"), "{text}");
    assert_eq!((fs::read(&outside_changed).unwrap(), fs::read(&outside_pruned).unwrap()), was);
    assert_eq!(gen_in(&lab, &["check"]).0, 0);
}

#[test]
fn what_gen_did_not_make_is_kept_even_where_it_prunes() {
    let (_root, lab) = built_lab();
    let out = lab.join("out");
    let host2 = out.join("hosts/vmhost2");
    // The user's things, inside the folder of a host that is about to go, and named like
    // gen's temporaries but not plain files (or not quite the name).
    fs::write(host2.join("notes.txt"), "mine\n").unwrap();
    fs::write(host2.join("vms/extra.yaml"), "mine\n").unwrap();
    fs::create_dir(host2.join(".gen-abc123.tmp")).unwrap();
    std::os::unix::fs::symlink("notes.txt", host2.join(".gen-def456.tmp")).unwrap();
    fs::write(host2.join(".gen-abc1234.tmp"), "mine\n").unwrap();
    let fifo = out.join("fifo");
    assert!(Command::new("mkfifo").arg(&fifo).status().unwrap().success());
    fs::write(lab.join("site.toml"), example_without_vmhost2()).unwrap();

    let (code, text) = gen_in(&lab, &["build", "--allow-unremoved"]);
    assert_eq!(code, 0, "{text}");
    for kept in
        ["notes.txt", "vms/extra.yaml", ".gen-abc123.tmp", ".gen-def456.tmp", ".gen-abc1234.tmp"]
    {
        assert!(host2.join(kept).symlink_metadata().is_ok(), "{kept} is gone:\n{text}");
    }
    assert!(fifo.symlink_metadata().unwrap().file_type().is_fifo());
    assert!(!host2.join("apply.sh").exists() && !host2.join("vms/k8s-cp-3/netplan.yaml").exists());
    assert!(text.contains("unknown  out/hosts/vmhost2/notes.txt"), "{text}");
}
