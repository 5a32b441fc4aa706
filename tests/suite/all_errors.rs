//! Every error at once: a mistake in one value never hides an independent mistake elsewhere.
//!
//! A table of single mistakes, each planted in the example site (`site.toml` at the top of the
//! repository) and known to give its own error alone. Then every pair of them is planted
//! together, and the errors of the pair must be exactly the errors of the two alone. The one
//! exception is declared in the table: a mistake that breaks a value (`breaks`) may silence a
//! rule that needs it (`needs`), e.g. with no readable `network.cidr` there is no "outside the
//! network" to say. Then the breaking mistake's errors must still all be there, and nothing
//! beyond the two mistakes' own errors may be. Two mistakes that edit the same value are not
//! combined.

use std::fmt::Write as _;
use std::path::Path;

use labgen::problem::Problem;
use toml::Value;

use crate::support::site_problems;

/// One value changed (`Some`) or removed (`None`), by its path in the document.
type Edit = (&'static [&'static str], Option<Value>);

struct Mistake {
    name: &'static str,
    edits: Vec<Edit>,
    /// The key the mistake's own error is reported at.
    error_at: &'static str,
    /// Values this mistake leaves unreadable, for the rules that need them.
    breaks: &'static [&'static str],
    /// Values the rule behind this mistake's error needs.
    needs: &'static [&'static str],
}

fn s(text: &str) -> Option<Value> {
    Some(Value::String(text.to_string()))
}

fn i(n: i64) -> Option<Value> {
    Some(Value::Integer(n))
}

/// The mistakes. Each edits values no other mistake with which it could interfere edits, so
/// that any two of them are two separate mistakes (nodes are chosen apart for that).
fn mistakes(base: &toml::Table) -> Vec<Mistake> {
    let node = |name: &str| base["nodes"][name].clone();
    let m = |name, edits, error_at, breaks, needs| Mistake { name, edits, error_at, breaks, needs };
    vec![
        m("cluster name", vec![(&["cluster", "name"], s("Lab"))], "cluster.name", &[], &[]),
        m(
            "unknown release",
            vec![(&["kubespray", "version"], s("v9.9.9"))],
            "kubespray.version",
            &["release"],
            &[],
        ),
        m(
            "kube_version the release cannot install",
            vec![(&["kubespray", "kube_version"], s("1.20.0"))],
            "kubespray.kube_version",
            &[],
            &["release"],
        ),
        m(
            "network plugin the release does not accept",
            vec![(&["kubespray", "network_plugin"], s("weave-net"))],
            "kubespray.network_plugin",
            &[],
            &["release"],
        ),
        m(
            "cidr",
            vec![(&["network", "cidr"], s("192.168.1.0/33"))],
            "network.cidr",
            &["cidr"],
            &[],
        ),
        m(
            "gateway",
            vec![(&["network", "gateway"], s("192.168.1.256"))],
            "network.gateway",
            &["gateway"],
            &[],
        ),
        m(
            "dns element of the wrong type",
            vec![(
                &["network", "dns"],
                Some(Value::Array(vec![Value::String("192.168.1.1".into()), Value::Integer(5)])),
            )],
            "network.dns[1]",
            &[],
            &[],
        ),
        m("box", vec![(&["vagrant", "box"], s("ubuntu"))], "vagrant.box", &[], &[]),
        m(
            "box_version",
            vec![(&["vagrant", "box_version"], s("latest"))],
            "vagrant.box_version",
            &[],
            &[],
        ),
        m(
            "default memory out of range",
            vec![(&["vagrant", "memory_mb"], i(1))],
            "vagrant.memory_mb",
            &[],
            &[],
        ),
        m(
            "authorized key",
            vec![(
                &["vagrant", "authorized_keys"],
                Some(Value::Array(vec![Value::String("ssh-ed25519".into())])),
            )],
            "vagrant.authorized_keys[0]",
            &[],
            &[],
        ),
        m(
            "metallb range that is not a range",
            vec![(&["addons", "metallb", "ip_range"], s("nonsense"))],
            "addons.metallb.ip_range",
            &[],
            &[],
        ),
        m(
            "metallb range outside the network",
            vec![(&["addons", "metallb", "ip_range"], s("10.1.0.1-10.1.0.9"))],
            "addons.metallb.ip_range",
            &[],
            &["cidr"],
        ),
        m(
            "metallb range over a node",
            vec![(&["addons", "metallb", "ip_range"], s("192.168.1.37-192.168.1.38"))],
            "addons.metallb.ip_range",
            &[],
            &["cidr"],
        ),
        m(
            "host user",
            vec![(&["hosts", "vmhost1", "user"], s("Root"))],
            "hosts.vmhost1.user",
            &[],
            &[],
        ),
        m(
            "host address a resolver reads as a node's",
            vec![(&["hosts", "vmhost1", "address"], s("0xc0a80116"))],
            "hosts.vmhost1.address",
            &[],
            &[],
        ),
        m(
            "host address on the LAN's broadcast address",
            vec![(&["hosts", "vmhost1", "address"], s("192.168.1.255"))],
            "hosts.vmhost1.address",
            &[],
            &["cidr"],
        ),
        m(
            "host key of another type",
            vec![(
                &["hosts", "vmhost1", "host_key"],
                s("ssh-rsa AAAAC3NzaC1lZDI1NTE5AAAAID6K0gt3z0GigMUFpyQDyNaE/dTt9fhvEJ1xoH+becVy"),
            )],
            "hosts.vmhost1.host_key",
            &[],
            &[],
        ),
        m(
            "host address on a node's",
            vec![(&["hosts", "vmhost2", "address"], s("192.168.1.21"))],
            "nodes.k8s-cp-1.ip",
            &[],
            &[],
        ),
        m(
            "host key",
            vec![(&["hosts", "vmhost2", "host_key"], s("ssh-ed25519 AAAA"))],
            "hosts.vmhost2.host_key",
            &[],
            &[],
        ),
        m(
            "duplicate node addresses",
            vec![(&["nodes", "k8s-w-2", "ip"], s("192.168.1.31"))],
            "nodes.k8s-w-2.ip",
            &[],
            &[],
        ),
        m(
            "node outside the network",
            vec![(&["nodes", "k8s-w-4", "ip"], s("10.9.9.9"))],
            "nodes.k8s-w-4.ip",
            &[],
            &["cidr"],
        ),
        m(
            "node on the gateway",
            vec![(&["nodes", "k8s-w-5", "ip"], s("192.168.1.1"))],
            "nodes.k8s-w-5.ip",
            &[],
            &["gateway"],
        ),
        m(
            "node on the network address",
            vec![(&["nodes", "k8s-w-6", "ip"], s("192.168.1.0"))],
            "nodes.k8s-w-6.ip",
            &[],
            &["cidr"],
        ),
        m(
            "even etcd",
            vec![(&["nodes", "k8s-w-1", "role"], s("control-plane"))],
            "nodes.k8s-w-1.role",
            &[],
            &["roles"],
        ),
        m(
            "unknown role",
            vec![(&["nodes", "k8s-w-3", "role"], s("master"))],
            "nodes.k8s-w-3.role",
            &["roles"],
            &[],
        ),
        m(
            "unknown host",
            vec![(&["nodes", "k8s-w-7", "host"], s("vmhost3"))],
            "nodes.k8s-w-7.host",
            &[],
            &[],
        ),
        m(
            "missing node address",
            vec![(&["nodes", "k8s-cp-3", "ip"], None)],
            "nodes.k8s-cp-3.ip",
            &[],
            &[],
        ),
        m(
            "memory below kubespray's minimum",
            vec![(&["nodes", "k8s-cp-1", "memory_mb"], i(1024))],
            "nodes.k8s-cp-1.memory_mb",
            &[],
            &["release"],
        ),
        m(
            "control plane with one CPU",
            vec![(&["nodes", "k8s-cp-3", "cpus"], i(1))],
            "nodes.k8s-cp-3.cpus",
            &[],
            &[],
        ),
        m(
            "node CPUs beyond VirtualBox's",
            vec![(&["nodes", "k8s-w-6", "cpus"], i(65))],
            "nodes.k8s-w-6.cpus",
            &[],
            &[],
        ),
        m(
            "default CPUs beyond VirtualBox's",
            vec![(&["vagrant", "cpus"], i(100))],
            "vagrant.cpus",
            &[],
            &[],
        ),
        m(
            "misspelt key",
            vec![(&["nodes", "k8s-w-5", "memroy_mb"], i(8192))],
            "nodes.k8s-w-5.memroy_mb",
            &[],
            &[],
        ),
        m(
            "reserved node name",
            vec![(&["nodes", "k8s-cp-2"], None), (&["nodes", "etcd"], Some(node("k8s-cp-2")))],
            "nodes.etcd",
            &[],
            &[],
        ),
    ]
}

fn edit(doc: &mut toml::Table, path: &[&str], value: Option<Value>) {
    let (last, parents) = path.split_last().unwrap();
    let mut table = doc;
    for p in parents {
        table = table.get_mut(*p).and_then(Value::as_table_mut).unwrap_or_else(|| panic!("{p}"));
    }
    match value {
        Some(v) => {
            table.insert(last.to_string(), v);
        }
        None => {
            table.remove(*last).unwrap_or_else(|| panic!("no {last} to remove"));
        }
    }
}

fn planted(base: &toml::Table, mistakes: &[&Mistake]) -> toml::Table {
    let mut doc = base.clone();
    for m in mistakes {
        for (path, value) in &m.edits {
            edit(&mut doc, path, value.clone());
        }
    }
    doc
}

fn overlaps(a: &Mistake, b: &Mistake) -> bool {
    a.edits.iter().any(|(p, _)| b.edits.iter().any(|(q, _)| p.starts_with(q) || q.starts_with(p)))
}

fn silences(a: &Mistake, b: &Mistake) -> bool {
    a.breaks.iter().any(|v| b.needs.contains(v))
}

fn missing<'e>(
    want: &'e [(String, Problem)],
    got: &[(String, Problem)],
) -> Vec<&'e (String, Problem)> {
    want.iter().filter(|e| !got.contains(e)).collect()
}

fn list(errors: &[impl std::borrow::Borrow<(String, Problem)>]) -> String {
    errors.iter().map(|e| format!("    `{}`: {}\n", e.borrow().0, e.borrow().1)).collect()
}

#[test]
fn every_pair_of_independent_mistakes_is_reported_together() {
    let text =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("site.toml")).unwrap();
    let base: toml::Table = toml::from_str(&text).unwrap();
    assert_eq!(site_problems(&base), vec![], "the example site must be valid");
    let mistakes = mistakes(&base);

    let mut failures = String::new();
    let alone: Vec<Vec<(String, Problem)>> = mistakes
        .iter()
        .map(|m| {
            let errors = site_problems(&planted(&base, &[m]));
            if !errors.iter().any(|(key, _)| key == m.error_at) {
                let _ = write!(
                    failures,
                    "`{}` alone gives no error at `{}`; it gives\n{}",
                    m.name,
                    m.error_at,
                    list(&errors)
                );
            }
            errors
        })
        .collect();
    assert!(failures.is_empty(), "{failures}");

    let mut pairs = 0;
    for (a, (ma, ea)) in mistakes.iter().zip(&alone).enumerate() {
        for (mb, eb) in mistakes.iter().zip(&alone).skip(a + 1) {
            if overlaps(ma, mb) {
                continue;
            }
            pairs += 1;
            let got = site_problems(&planted(&base, &[ma, mb]));
            let union: Vec<(String, Problem)> = ea.iter().chain(eb).cloned().collect();
            let mut lost = Vec::new();
            if !silences(mb, ma) {
                lost.extend(missing(ea, &got));
            }
            if !silences(ma, mb) {
                lost.extend(missing(eb, &got));
            }
            let extra = missing(&got, &union);
            if !lost.is_empty() || !extra.is_empty() {
                let _ = write!(
                    failures,
                    "`{}` + `{}`:\n  lost\n{}  not given by either alone\n{}",
                    ma.name,
                    mb.name,
                    list(&lost),
                    list(&extra)
                );
            }
        }
    }
    assert!(pairs > 300, "only {pairs} pairs: the table lost its mistakes");
    assert!(failures.is_empty(), "{failures}");
}
