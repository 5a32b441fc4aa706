//! The files kubespray runs from, under `kubespray/`: the inventory and its group_vars, the
//! record of what the lab deploys, the pinned Python requirements and `deploy.sh`.

use std::net::Ipv4Addr;

use askama::Template;

use super::{GUEST_USER, filters, text};
use crate::kubespray::Release;
use crate::layout;
use crate::record::Record;
use crate::site::{Label, Site};
use crate::tree::{Tree, sha256_hex};

/// Where, under the laptop user's home, kubespray's local artifacts (the cluster-admin
/// `admin.conf`) go: one folder per cluster under a folder deploy.sh keeps at mode 0700. Outside
/// `out/`, so that the credential is never committed and `gen check` never meets files it did not
/// make; under `~/.kube`, where kubectl users keep credentials on Linux and macOS alike.
const KUBECONFIG_HOME: &str = ".kube/gen";

#[derive(Template)]
#[template(path = "hosts.yaml", escape = "none")]
struct Inventory<'a> {
    release: &'static str,
    cluster: &'a Label,
    nodes: Vec<InventoryNode<'a>>,
    control_planes: Vec<&'a Label>,
    kube_nodes: Vec<&'a Label>,
    static_k8s_cluster_group: bool,
}

struct InventoryNode<'a> {
    name: &'a Label,
    ip: Ipv4Addr,
    etcd: bool,
}

#[derive(Template)]
#[template(path = "group_vars/kubespray.yml", escape = "none")]
struct AllVars<'a> {
    guest_user: &'static str,
    dns: &'a [Ipv4Addr],
    cluster: &'a Label,
    kubeconfig_home: &'static str,
}

#[derive(Template)]
#[template(path = "group_vars/k8s-cluster.yml", escape = "none")]
struct ClusterVars<'a> {
    cluster: &'a Label,
    kube_version: String,
    network_plugin: &'static str,
    container_manager: &'static str,
    proxy_mode: &'static str,
    strict_arp: bool,
}

#[derive(Template)]
#[template(path = "group_vars/addons.yml", escape = "none")]
struct Addons {
    helm: bool,
    metallb: Option<String>,
    metallb_namespace_required: bool,
}

/// How calico-node finds the node's address (`calico_ip_auto_method`): the interface address
/// equal to the node's Kubernetes InternalIP, which kubespray gives the kubelet from `ip` (the
/// bridged LAN address). Read from calico's `node/pkg/lifecycle/startup/autodetection/` (v3.27
/// to v3.31, the releases kubespray v2.25 to v2.31 ship):
/// - `cidr=<LAN>` walks the interfaces in reverse index order (`interfaces.go`, GetInterfaces)
///   and takes the first global address inside the CIDR, excluding no interface
///   (`filtered.go`). With ipvs, kube-proxy puts every MetalLB address (a LAN address) on the
///   dummy `kube-ipvs0`, made after `eth1`, so it is seen first and taken as the node's.
/// - `can-reach=$(NODEIP)` is kubespray's default only while `calico_ip_auto_method` is unset:
///   its `calico-node.yml.j2` defines the `NODEIP` variable only in that branch, so setting the
///   method to that text would leave `$(NODEIP)` unexpanded.
/// - `kubernetes-internal-ip` (`autodetection_methods.go`, GetLocalCIDR) matches the exact
///   address, so neither the NAT NIC (10.0.2.15 on every VM) nor kube-ipvs0 can win.
///
/// tests/suite/guest.rs checks the facts this depends on in a booted guest with the NAT NIC, the
/// bridged NIC and a kube-ipvs0 holding a MetalLB address.
const CALICO_IP_AUTODETECTION: &str = "kubernetes-internal-ip";

#[derive(Template)]
#[template(path = "group_vars/k8s-net-calico.yml", escape = "none")]
struct CalicoVars {
    auto_method: String,
}

#[derive(Template)]
#[template(path = "requirements.txt", escape = "none")]
struct Requirements<'a> {
    release: &'a Release,
    pins: &'static str,
    python_min: String,
    python_max: String,
}

#[derive(Template)]
#[template(path = "requirements.lock", escape = "none")]
struct Lock<'a> {
    release: &'a Release,
    lock: &'static str,
}

#[derive(Template)]
#[template(path = "deploy.sh", escape = "none")]
struct Deploy<'a> {
    cluster: &'a Label,
    tag: &'static str,
    python_min: (u32, u32),
    python_max: (u32, u32),
    /// The Pythons deploy.sh tries, in order, when `PYTHON` is not set.
    pythons: String,
    /// The venv's name without the Python it is made with: the release and the lock's hash.
    venv: String,
    lock_hash: String,
    kubeconfig_home: &'static str,
}

/// `python3` first (what the user has chosen as their Python), then each version the release
/// accepts, newest first: macOS's own `python3` is 3.9, and Homebrew's may be newer than the
/// release's window while an older `python3.X` sits beside it.
fn python_candidates((lo, hi): (u32, u32)) -> String {
    let mut names = vec!["python3".to_string()];
    names.extend((lo..=hi).rev().map(|minor| format!("python3.{minor}")));
    names.join(" ")
}

/// Nodes that run workloads. A lab with no worker schedules on its control planes; otherwise
/// control planes stay dedicated, as in the lab gen was made for.
fn kube_nodes(site: &Site) -> Vec<&Label> {
    let workers: Vec<&Label> = site.workers().map(|n| &n.name).collect();
    if workers.is_empty() { site.etcd_members() } else { workers }
}

/// MetalLB answers ARP for service addresses in layer 2; kube-proxy in ipvs mode would answer
/// too unless strict ARP is on, and kubespray's metallb role fails late (at the apps phase)
/// without it.
fn needs_strict_arp(site: &Site) -> bool {
    site.addons.metallb.is_some() && site.kubespray.proxy_mode == "ipvs"
}

pub(super) fn render_kubespray(site: &Site, tree: &mut Tree) {
    let k = &site.kubespray;
    let release = k.release;
    let etcd = site.etcd_members();
    let inventory = Inventory {
        release: release.tag,
        cluster: &site.cluster,
        nodes: site
            .nodes
            .iter()
            .map(|n| InventoryNode { name: &n.name, ip: n.ip, etcd: etcd.contains(&&n.name) })
            .collect(),
        control_planes: etcd.clone(),
        kube_nodes: kube_nodes(site),
        static_k8s_cluster_group: release.static_k8s_cluster_group(),
    };
    tree.insert_text(layout::INVENTORY, &text(&inventory));
    let order: Vec<&str> = etcd.iter().map(|n| n.as_str()).collect();
    tree.insert_text(layout::RECORD, &Record::of(site, &order).to_toml());

    let all = AllVars {
        guest_user: GUEST_USER,
        dns: &site.network.dns,
        cluster: &site.cluster,
        kubeconfig_home: KUBECONFIG_HOME,
    };
    tree.insert_text(layout::group_vars("all", "kubespray.yml"), &text(&all));
    let cluster = ClusterVars {
        cluster: &site.cluster,
        kube_version: release.kube_version_value(k.kube_version),
        network_plugin: k.network_plugin,
        container_manager: k.container_manager,
        proxy_mode: k.proxy_mode,
        strict_arp: needs_strict_arp(site),
    };
    tree.insert_text(layout::group_vars("k8s_cluster", "k8s-cluster.yml"), &text(&cluster));
    let addons = Addons {
        helm: site.addons.helm,
        metallb: site.addons.metallb.map(|r| r.to_string()),
        metallb_namespace_required: release.metallb_namespace_required(),
    };
    tree.insert_text(layout::group_vars("k8s_cluster", "addons.yml"), &text(&addons));
    if k.network_plugin == "calico" {
        let calico = CalicoVars { auto_method: CALICO_IP_AUTODETECTION.to_string() };
        tree.insert_text(layout::group_vars("k8s_cluster", "k8s-net-calico.yml"), &text(&calico));
    }

    let (lo, hi) = release.python_minor;
    let requirements = Requirements {
        release,
        pins: release.requirements.trim_end_matches('\n'),
        python_min: format!("3.{lo}"),
        python_max: format!("3.{hi}"),
    };
    tree.insert_text(layout::REQUIREMENTS, &text(&requirements));
    // As the tree writes it (one final newline), so `shasum -a 256 requirements.lock` shows it.
    let lock = format!("{}\n", text(&Lock { release, lock: release.lock.trim_end_matches('\n') }));
    // The venv is named by what is installed in it, so a changed lock never reuses a stale one.
    let lock_hash = sha256_hex(lock.as_bytes())[..12].to_string();
    tree.insert_text(layout::REQUIREMENTS_LOCK, &lock);
    let deploy = Deploy {
        cluster: &site.cluster,
        tag: release.tag,
        python_min: (3, lo),
        python_max: (3, hi),
        pythons: python_candidates(release.python_minor),
        venv: format!("venv-{}-{lock_hash}", release.tag),
        lock_hash,
        kubeconfig_home: KUBECONFIG_HOME,
    };
    tree.insert_text(layout::DEPLOY, &text(&deploy));
}
