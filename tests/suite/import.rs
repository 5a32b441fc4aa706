//! `gen import` on inventories in the shapes of kubespray's samples (`tests/import/`, written
//! for these tests): the INI of v2.22–v2.26 (hosts under `[all]`, `[k8s_cluster:children]`),
//! the INI of v2.27 on (hosts in the group sections, `[etcd:children]`), the pre-v2.16 INI with
//! `kube-master`/`kube-node`, and the YAML of kubespray's inventory builder. Each gives exactly
//! its nodes, roles and addresses; what the inventory does not say is reported missing by
//! `gen build`; filled in with the examples the file itself shows, it builds.

use std::fs;
use std::path::{Path, PathBuf};

use crate::init::{SOME_HOST_KEY, build_errors, run_gen};

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/import").join(name)
}

/// `gen import FIXTURE` in a fresh folder; the folder and the nodes as `name role ip`.
fn import(name: &str, extra: &[&str]) -> (tempfile::TempDir, Vec<String>, String) {
    let dir = tempfile::tempdir().unwrap();
    let inventory = fixture(name);
    let mut args = vec!["import", inventory.to_str().unwrap()];
    args.extend(extra);
    let run = run_gen(dir.path(), &args);
    run.code(0);
    let text = fs::read_to_string(dir.path().join("site.toml")).unwrap();
    let site: toml::Table = text.parse().unwrap();
    let nodes = site["nodes"]
        .as_table()
        .unwrap()
        .iter()
        .map(|(n, t)| format!("{n} {} {}", t["role"].as_str().unwrap(), t["ip"].as_str().unwrap()))
        .collect();
    (dir, nodes, run.stdout)
}

/// Every hole filled with the example written under it, and the example server's key made one
/// of the right grammar.
fn fill_in(dir: &Path) {
    let path = dir.join("site.toml");
    let text = fs::read_to_string(&path).unwrap();
    let mut out = String::new();
    let mut filling = false;
    for line in text.lines() {
        if line.starts_with("# to fill in:") {
            filling = true;
            continue;
        }
        match line.strip_prefix("# ") {
            Some(example) if filling => {
                out += &example.replace("\"ssh-ed25519 AAAA…\"", &format!("\"{SOME_HOST_KEY}\""));
            }
            _ => {
                filling = false;
                out += line;
            }
        }
        out.push('\n');
    }
    fs::write(path, out).unwrap();
}

/// What `gen build` misses in an imported file, by key.
fn missing(dir: &Path) -> Vec<String> {
    let build = run_gen(dir, &["build"]);
    build.code(2);
    let (missing, other) = build_errors(&build);
    assert!(other.is_empty(), "only missing values: {other:?}");
    missing
}

/// The six example hosts of kubespray's samples, as both INI shapes make them.
const SAMPLE_NODES: [&str; 6] = [
    "node1 control-plane 192.168.1.21",
    "node2 control-plane 192.168.1.22",
    "node3 control-plane 192.168.1.23",
    "node4 worker 192.168.1.24",
    "node5 worker 192.168.1.25",
    "node6 worker 192.168.1.26",
];

const LAB: [&str; 3] = ["network.cidr", "vagrant.box", "hosts"];

#[test]
fn the_v2_26_shape_hosts_under_all_with_ip_left_in_a_comment() {
    let (dir, nodes, stdout) = import("inventory-v2.26.ini", &["--kubespray", "v2.26.0"]);
    // `# ip=…` after a host is a comment to ansible: the address is `ansible_host`.
    assert_eq!(nodes, SAMPLE_NODES);
    let text = fs::read_to_string(dir.path().join("site.toml")).unwrap();
    assert!(text.contains("from `ansible_host`"), "{text}");
    assert!(!text.contains("10.3.0.1"), "{text}");
    assert!(stdout.contains("6 nodes"), "{stdout}");
    let missing = missing(dir.path());
    for key in LAB.iter().chain(&["nodes.node1.host", "nodes.node6.host"]) {
        assert!(missing.iter().any(|m| m == key), "{key} in {missing:?}");
    }
    assert!(!missing.contains(&"kubespray.version".to_string()));
    fill_in(dir.path());
    run_gen(dir.path(), &["build"]).code(0);
}

#[test]
fn the_v2_27_shape_hosts_in_groups_and_etcd_children() {
    let (dir, nodes, _) = import("inventory-v2.27.ini", &[]);
    assert_eq!(nodes, SAMPLE_NODES);
    let text = fs::read_to_string(dir.path().join("site.toml")).unwrap();
    // etcd is the control planes there too: nothing to say about it.
    assert!(!text.contains("etcd members"), "{text}");
    assert!(missing(dir.path()).contains(&"kubespray.version".to_string()));
    fill_in(dir.path());
    run_gen(dir.path(), &["build"]).code(0);
}

#[test]
fn the_legacy_group_names_and_quoted_values() {
    let (dir, nodes, _) = import("inventory-legacy.ini", &[]);
    assert_eq!(
        nodes,
        [
            "master1 control-plane 192.168.1.21",
            "worker1 worker 192.168.1.31",
            "worker2 worker 192.168.1.32"
        ]
    );
    let text = fs::read_to_string(dir.path().join("site.toml")).unwrap();
    assert!(text.contains("from `access_ip`"), "{text}");
    fill_in(dir.path());
    run_gen(dir.path(), &["build"]).code(0);
}

#[test]
fn the_inventory_builders_yaml_with_its_etcd_of_three_and_two_control_planes() {
    let (dir, nodes, _) = import("hosts.yaml", &["--name", "home"]);
    // `ip` wins over `access_ip` and `ansible_host`; node4 has only `access_ip`.
    assert_eq!(
        nodes,
        [
            "node1 control-plane 192.168.1.21",
            "node2 control-plane 192.168.1.22",
            "node3 worker 192.168.1.23",
            "node4 worker 192.168.1.24",
        ]
    );
    let text = fs::read_to_string(dir.path().join("site.toml")).unwrap();
    assert!(text.contains("name = \"home\""), "{text}");
    assert!(text.contains("etcd members were `node1`, `node2`, `node3`"), "{text}");
    fill_in(dir.path());
    // The builder's two control planes are an even etcd once stacked: that, and only that.
    let build = run_gen(dir.path(), &["build"]);
    build.code(2);
    let (missing, other) = build_errors(&build);
    assert!(missing.is_empty(), "{missing:?}");
    assert_eq!(other.len(), 1, "{other:?}");
    assert!(other[0].contains("odd"), "{other:?}");
}

#[test]
fn import_never_replaces_a_file_without_force() {
    let (dir, _, _) = import("inventory-v2.27.ini", &[]);
    let site = dir.path().join("site.toml");
    fs::write(&site, "mine\n").unwrap();
    let inventory = fixture("hosts.yaml");
    let run = run_gen(dir.path(), &["import", inventory.to_str().unwrap()]);
    run.code(2);
    assert!(run.stderr.contains("--force"), "{}", run.stderr);
    assert_eq!(fs::read_to_string(&site).unwrap(), "mine\n");
    run_gen(dir.path(), &["import", inventory.to_str().unwrap(), "--force"]).code(0);
    assert!(fs::read_to_string(&site).unwrap().contains("[nodes.node4]"));
}

#[test]
fn an_inventory_with_no_kubespray_group_or_a_broken_line_is_refused_by_line() {
    let dir = tempfile::tempdir().unwrap();
    let empty = dir.path().join("inventory.ini");
    fs::write(&empty, "[all]\n# node1 ansible_host=1.2.3.4\n").unwrap();
    let run = run_gen(dir.path(), &["import", "inventory.ini"]);
    run.code(2);
    assert!(run.stderr.contains("commented out"), "{}", run.stderr);
    fs::write(&empty, "[kube_node]\nnode1 ansible_host=\"1.2.3.4\n").unwrap();
    let run = run_gen(dir.path(), &["import", "inventory.ini"]);
    run.code(2);
    assert!(run.stderr.contains("inventory.ini:2:"), "{}", run.stderr);
    assert!(!dir.path().join("site.toml").exists());
}
