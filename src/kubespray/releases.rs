//! The release table: every kubespray release gen knows, newest first, with how each of its
//! facts was read from the tag. Data only; what the facts mean is `kubespray.rs`.

use super::{MemoryMinimums, Release};

// How each field was determined (all tags read with `git show <tag>:<path>` from a snapshot of
// kubernetes-sigs/kubespray; PyPI queried with pip 23.2 in 2026):
// - `requirements`: `<tag>:requirements.txt`, copied byte for byte (all end in one `\n`). v2.25.1
//   has the same pins as v2.25.0 but moves `jsonschema` from last line to after `jmespath`.
// - `lock`: `maint/lock-kubespray <tag>` (uv's universal resolution of the rendered
//   requirements.txt, wheels only, checked per Python and platform); see that script.
// - `ansible_core_window`: `minimal_ansible_version` / `maximal_ansible_version` in
//   `<tag>:playbooks/ansible_version.yml` (asserted against `ansible_version.string`).
// - `ansible_core`: the `ansible` package's own pin from its wheel METADATA (9.5.1 `~=2.16.6`,
//   9.8.0 `~=2.16.9`, 9.13.0 `~=2.16.14`, 10.7.0 `~=2.17.7`, 11.13.0 `~=2.18.12`), newest
//   non-yanked ansible-core on PyPI in that range (`pip index versions ansible-core`): 2.16.19,
//   2.17.14, 2.18.19; each is also inside the window. `pip install --dry-run --report` of the
//   unpinned file picks the same core on Python 3.11, and the file plus the pin resolves there
//   for every tag.
// - `python_minor`: lower bound = `Requires-Python` of `ansible` and ansible-core (>=3.10 for
//   ansible 9/10 with core 2.16/2.17, >=3.11 for ansible 11 with core 2.18); upper bound = the
//   controller versions that core supports (its `Programming Language :: Python :: 3.x`
//   classifiers: 3.10-3.12 for 2.16/2.17, 3.11-3.13 for 2.18; Requires-Python has no cap).
//   Binary-only dry runs (`--only-binary=:all: --python-version 3.x`, manylinux x86_64) resolve on
//   every Python in the range; v2.25.x also fails on 3.13 for want of MarkupSafe 2.1.5 wheels.
// - `kube_versions`: keys of `kubelet_checksums.amd64` in
//   `roles/kubespray-defaults/defaults/main/checksums.yml` (<= v2.27) or
//   `roles/kubespray_defaults/vars/main/checksums.yml` (v2.28+); kubeadm and kubectl amd64 have the
//   same keys in every tag, and none lies below `kube_version_min_required` (v1.27.0 / v1.28.0 /
//   v1.29.0 for v2.25 / v2.26 / v2.27 in the defaults' `main.yml`; the last checksum key from
//   v2.28). The default `kube_version` is the defaults' `kube_version` (<= v2.27) or the first
//   key; in every tag gen knows, both are the newest key, so it is derived.
// - `network_plugins`, `proxy_modes`, `container_managers`: the `in [...]` asserts in
//   `roles/kubernetes/preinstall/tasks/0040-verify-settings.yml` (<= v2.27) or
//   `roles/validate_inventory/tasks/main.yml` ("Stop if unsupported options selected", v2.28+).
// - `static_k8s_cluster_group`: up to v2.26.1 `playbooks/boilerplate.yml` only maps the legacy
//   `k8s-cluster` group; v2.27.0 builds `k8s_cluster` from kube_node/kube_control_plane/calico_rr.
// - `metallb_namespace_required`: `roles/kubernetes-apps/metallb` uses `{{ metallb_namespace }}`
//   in every tag, but `defaults/main.yml` only sets it from v2.30.0 (before that, only the sample
//   `addons.yml` does).
// - `min_memory_mb`: `roles/kubernetes/preinstall/defaults/main.yml` (1500 / 1024 in every tag);
//   0040 asserts `ansible_memtotal_mb >= minimal_master_memory_mb` on kube_control_plane hosts and
//   `>= minimal_node_memory_mb` on kube_node hosts (MemTotal, i.e. less than the VM's RAM size).

// The assert lists and minimums change rarely; naming each version of them shows, release by
// release, exactly where kubespray changed its mind.

/// `kube_network_plugin` values up to v2.26.
const PLUGINS_V2_25: &[&str] = &[
    "calico",
    "flannel",
    "weave",
    "cloud",
    "cilium",
    "cni",
    "kube-ovn",
    "kube-router",
    "macvlan",
    "custom_cni",
];
/// v2.27 adds `none`.
const PLUGINS_V2_27: &[&str] = &[
    "calico",
    "flannel",
    "weave",
    "cloud",
    "cilium",
    "cni",
    "kube-ovn",
    "kube-router",
    "macvlan",
    "custom_cni",
    "none",
];
/// v2.29 removes `weave`.
const PLUGINS_V2_29: &[&str] = &[
    "calico",
    "flannel",
    "cloud",
    "cilium",
    "cni",
    "kube-ovn",
    "kube-router",
    "macvlan",
    "custom_cni",
    "none",
];
/// `kube_proxy_mode` values up to v2.27.
const PROXY_MODES_V2_25: &[&str] = &["iptables", "ipvs"];
/// v2.28 adds `nftables`.
const PROXY_MODES_V2_28: &[&str] = &["iptables", "ipvs", "nftables"];
/// `container_manager` values, the same in every release gen knows.
const CONTAINER_MANAGERS: &[&str] = &["docker", "crio", "containerd"];
/// `minimal_master_memory_mb` / `minimal_node_memory_mb`, the same in every release gen knows.
const MEMORY_MINIMUMS: MemoryMinimums = MemoryMinimums { control_plane: 1500, node: 1024 };

/// Newest first; the first entry is what `gen` suggests.
pub static RELEASES: &[Release] = &[
    Release {
        tag: "v2.31.0",
        requirements: include_str!("v2.31.0/requirements.txt"),
        lock: include_str!("v2.31.0/lock.txt"),
        ansible_core: "2.18.19",
        ansible_core_window: ("2.18.0", "2.19.0"),
        python_minor: (11, 13),
        kube_versions: &[
            "1.35.4", "1.35.3", "1.35.2", "1.35.1", "1.35.0", "1.34.7", "1.34.6", "1.34.5",
            "1.34.4", "1.34.3", "1.34.2", "1.34.1", "1.34.0", "1.33.11", "1.33.10", "1.33.9",
            "1.33.8", "1.33.7", "1.33.6", "1.33.5", "1.33.4", "1.33.3", "1.33.2", "1.33.1",
            "1.33.0",
        ],
        network_plugins: PLUGINS_V2_29,
        proxy_modes: PROXY_MODES_V2_28,
        container_managers: CONTAINER_MANAGERS,
        min_memory_mb: MEMORY_MINIMUMS,
    },
    Release {
        tag: "v2.30.0",
        requirements: include_str!("v2.30.0/requirements.txt"),
        lock: include_str!("v2.30.0/lock.txt"),
        ansible_core: "2.17.14",
        ansible_core_window: ("2.17.3", "2.18.0"),
        python_minor: (10, 12),
        kube_versions: &[
            "1.34.3", "1.34.2", "1.34.1", "1.34.0", "1.33.7", "1.33.6", "1.33.5", "1.33.4",
            "1.33.3", "1.33.2", "1.33.1", "1.33.0", "1.32.11", "1.32.10", "1.32.9", "1.32.8",
            "1.32.7", "1.32.6", "1.32.5", "1.32.4", "1.32.3", "1.32.2", "1.32.1", "1.32.0",
        ],
        network_plugins: PLUGINS_V2_29,
        proxy_modes: PROXY_MODES_V2_28,
        container_managers: CONTAINER_MANAGERS,
        min_memory_mb: MEMORY_MINIMUMS,
    },
    Release {
        tag: "v2.29.1",
        requirements: include_str!("v2.29.1/requirements.txt"),
        lock: include_str!("v2.29.1/lock.txt"),
        ansible_core: "2.17.14",
        ansible_core_window: ("2.17.3", "2.18.0"),
        python_minor: (10, 12),
        kube_versions: &[
            "1.33.7", "1.33.6", "1.33.5", "1.33.4", "1.33.3", "1.33.2", "1.33.1", "1.33.0",
            "1.32.10", "1.32.9", "1.32.8", "1.32.7", "1.32.6", "1.32.5", "1.32.4", "1.32.3",
            "1.32.2", "1.32.1", "1.32.0", "1.31.14", "1.31.13", "1.31.12", "1.31.11", "1.31.10",
            "1.31.9", "1.31.8", "1.31.7", "1.31.6", "1.31.5", "1.31.4", "1.31.3", "1.31.2",
            "1.31.1", "1.31.0",
        ],
        network_plugins: PLUGINS_V2_29,
        proxy_modes: PROXY_MODES_V2_28,
        container_managers: CONTAINER_MANAGERS,
        min_memory_mb: MEMORY_MINIMUMS,
    },
    Release {
        tag: "v2.29.0",
        requirements: include_str!("v2.29.0/requirements.txt"),
        lock: include_str!("v2.29.0/lock.txt"),
        ansible_core: "2.17.14",
        ansible_core_window: ("2.17.3", "2.18.0"),
        python_minor: (10, 12),
        kube_versions: &[
            "1.33.5", "1.33.4", "1.33.3", "1.33.2", "1.33.1", "1.33.0", "1.32.9", "1.32.8",
            "1.32.7", "1.32.6", "1.32.5", "1.32.4", "1.32.3", "1.32.2", "1.32.1", "1.32.0",
            "1.31.13", "1.31.12", "1.31.11", "1.31.10", "1.31.9", "1.31.8", "1.31.7", "1.31.6",
            "1.31.5", "1.31.4", "1.31.3", "1.31.2", "1.31.1", "1.31.0",
        ],
        network_plugins: PLUGINS_V2_29,
        proxy_modes: PROXY_MODES_V2_28,
        container_managers: CONTAINER_MANAGERS,
        min_memory_mb: MEMORY_MINIMUMS,
    },
    Release {
        tag: "v2.28.1",
        requirements: include_str!("v2.28.1/requirements.txt"),
        lock: include_str!("v2.28.1/lock.txt"),
        ansible_core: "2.16.19",
        ansible_core_window: ("2.16.4", "2.17.0"),
        python_minor: (10, 12),
        kube_versions: &[
            "1.32.8", "1.32.7", "1.32.6", "1.32.5", "1.32.4", "1.32.3", "1.32.2", "1.32.1",
            "1.32.0", "1.31.12", "1.31.11", "1.31.10", "1.31.9", "1.31.8", "1.31.7", "1.31.6",
            "1.31.5", "1.31.4", "1.31.3", "1.31.2", "1.31.1", "1.31.0", "1.30.14", "1.30.13",
            "1.30.12", "1.30.11", "1.30.10", "1.30.9", "1.30.8", "1.30.7", "1.30.6", "1.30.5",
            "1.30.4", "1.30.3", "1.30.2", "1.30.1", "1.30.0",
        ],
        network_plugins: PLUGINS_V2_27,
        proxy_modes: PROXY_MODES_V2_28,
        container_managers: CONTAINER_MANAGERS,
        min_memory_mb: MEMORY_MINIMUMS,
    },
    Release {
        tag: "v2.28.0",
        requirements: include_str!("v2.28.0/requirements.txt"),
        lock: include_str!("v2.28.0/lock.txt"),
        ansible_core: "2.16.19",
        ansible_core_window: ("2.16.4", "2.17.0"),
        python_minor: (10, 12),
        kube_versions: &[
            "1.32.5", "1.32.4", "1.32.3", "1.32.2", "1.32.1", "1.32.0", "1.31.9", "1.31.8",
            "1.31.7", "1.31.6", "1.31.5", "1.31.4", "1.31.3", "1.31.2", "1.31.1", "1.31.0",
            "1.30.13", "1.30.12", "1.30.11", "1.30.10", "1.30.9", "1.30.8", "1.30.7", "1.30.6",
            "1.30.5", "1.30.4", "1.30.3", "1.30.2", "1.30.1", "1.30.0",
        ],
        network_plugins: PLUGINS_V2_27,
        proxy_modes: PROXY_MODES_V2_28,
        container_managers: CONTAINER_MANAGERS,
        min_memory_mb: MEMORY_MINIMUMS,
    },
    Release {
        tag: "v2.27.1",
        requirements: include_str!("v2.27.1/requirements.txt"),
        lock: include_str!("v2.27.1/lock.txt"),
        ansible_core: "2.16.19",
        ansible_core_window: ("2.16.4", "2.17.0"),
        python_minor: (10, 12),
        kube_versions: &[
            "1.31.9", "1.31.8", "1.31.7", "1.31.6", "1.31.5", "1.31.4", "1.31.3", "1.31.2",
            "1.31.1", "1.31.0", "1.30.13", "1.30.12", "1.30.11", "1.30.10", "1.30.9", "1.30.8",
            "1.30.7", "1.30.6", "1.30.5", "1.30.4", "1.30.3", "1.30.2", "1.30.1", "1.30.0",
            "1.29.15", "1.29.14", "1.29.13", "1.29.12", "1.29.11", "1.29.10", "1.29.9", "1.29.8",
            "1.29.7", "1.29.6", "1.29.5", "1.29.4", "1.29.3", "1.29.2", "1.29.1", "1.29.0",
        ],
        network_plugins: PLUGINS_V2_27,
        proxy_modes: PROXY_MODES_V2_25,
        container_managers: CONTAINER_MANAGERS,
        min_memory_mb: MEMORY_MINIMUMS,
    },
    Release {
        tag: "v2.27.0",
        requirements: include_str!("v2.27.0/requirements.txt"),
        lock: include_str!("v2.27.0/lock.txt"),
        ansible_core: "2.16.19",
        ansible_core_window: ("2.16.4", "2.17.0"),
        python_minor: (10, 12),
        kube_versions: &[
            "1.31.4", "1.31.3", "1.31.2", "1.31.1", "1.31.0", "1.30.8", "1.30.7", "1.30.6",
            "1.30.5", "1.30.4", "1.30.3", "1.30.2", "1.30.1", "1.30.0", "1.29.12", "1.29.11",
            "1.29.10", "1.29.9", "1.29.8", "1.29.7", "1.29.6", "1.29.5", "1.29.4", "1.29.3",
            "1.29.2", "1.29.1", "1.29.0",
        ],
        network_plugins: PLUGINS_V2_27,
        proxy_modes: PROXY_MODES_V2_25,
        container_managers: CONTAINER_MANAGERS,
        min_memory_mb: MEMORY_MINIMUMS,
    },
    Release {
        tag: "v2.26.1",
        requirements: include_str!("v2.26.1/requirements.txt"),
        lock: include_str!("v2.26.1/lock.txt"),
        ansible_core: "2.16.19",
        ansible_core_window: ("2.16.4", "2.17.0"),
        python_minor: (10, 12),
        kube_versions: &[
            "1.30.6", "1.30.5", "1.30.4", "1.30.3", "1.30.2", "1.30.1", "1.30.0", "1.29.10",
            "1.29.9", "1.29.8", "1.29.7", "1.29.6", "1.29.5", "1.29.4", "1.29.3", "1.29.2",
            "1.29.1", "1.29.0", "1.28.15", "1.28.14", "1.28.13", "1.28.12", "1.28.11", "1.28.10",
            "1.28.9", "1.28.8", "1.28.7", "1.28.6", "1.28.5", "1.28.4", "1.28.3", "1.28.2",
            "1.28.1", "1.28.0",
        ],
        network_plugins: PLUGINS_V2_25,
        proxy_modes: PROXY_MODES_V2_25,
        container_managers: CONTAINER_MANAGERS,
        min_memory_mb: MEMORY_MINIMUMS,
    },
    Release {
        tag: "v2.26.0",
        requirements: include_str!("v2.26.0/requirements.txt"),
        lock: include_str!("v2.26.0/lock.txt"),
        ansible_core: "2.16.19",
        ansible_core_window: ("2.16.4", "2.17.0"),
        python_minor: (10, 12),
        kube_versions: &[
            "1.30.4", "1.30.3", "1.30.2", "1.30.1", "1.30.0", "1.29.7", "1.29.6", "1.29.5",
            "1.29.4", "1.29.3", "1.29.2", "1.29.1", "1.29.0", "1.28.12", "1.28.11", "1.28.10",
            "1.28.9", "1.28.8", "1.28.7", "1.28.6", "1.28.5", "1.28.4", "1.28.3", "1.28.2",
            "1.28.1", "1.28.0",
        ],
        network_plugins: PLUGINS_V2_25,
        proxy_modes: PROXY_MODES_V2_25,
        container_managers: CONTAINER_MANAGERS,
        min_memory_mb: MEMORY_MINIMUMS,
    },
    Release {
        tag: "v2.25.1",
        requirements: include_str!("v2.25.1/requirements.txt"),
        lock: include_str!("v2.25.1/lock.txt"),
        ansible_core: "2.16.19",
        ansible_core_window: ("2.16.4", "2.17.0"),
        python_minor: (10, 12),
        kube_versions: &[
            "1.29.10", "1.29.9", "1.29.8", "1.29.7", "1.29.6", "1.29.5", "1.29.4", "1.29.3",
            "1.29.2", "1.29.1", "1.29.0", "1.28.15", "1.28.14", "1.28.13", "1.28.12", "1.28.11",
            "1.28.10", "1.28.9", "1.28.8", "1.28.7", "1.28.6", "1.28.5", "1.28.4", "1.28.3",
            "1.28.2", "1.28.1", "1.28.0", "1.27.16", "1.27.15", "1.27.14", "1.27.13", "1.27.12",
            "1.27.11", "1.27.10", "1.27.9", "1.27.8", "1.27.7", "1.27.6", "1.27.5", "1.27.4",
            "1.27.3", "1.27.2", "1.27.1", "1.27.0",
        ],
        network_plugins: PLUGINS_V2_25,
        proxy_modes: PROXY_MODES_V2_25,
        container_managers: CONTAINER_MANAGERS,
        min_memory_mb: MEMORY_MINIMUMS,
    },
    Release {
        tag: "v2.25.0",
        requirements: include_str!("v2.25.0/requirements.txt"),
        lock: include_str!("v2.25.0/lock.txt"),
        ansible_core: "2.16.19",
        ansible_core_window: ("2.16.4", "2.17.0"),
        python_minor: (10, 12),
        kube_versions: &[
            "1.29.5", "1.29.4", "1.29.3", "1.29.2", "1.29.1", "1.29.0", "1.28.10", "1.28.9",
            "1.28.8", "1.28.7", "1.28.6", "1.28.5", "1.28.4", "1.28.3", "1.28.2", "1.28.1",
            "1.28.0", "1.27.14", "1.27.13", "1.27.12", "1.27.11", "1.27.10", "1.27.9", "1.27.8",
            "1.27.7", "1.27.6", "1.27.5", "1.27.4", "1.27.3", "1.27.2", "1.27.1", "1.27.0",
        ],
        network_plugins: PLUGINS_V2_25,
        proxy_modes: PROXY_MODES_V2_25,
        container_managers: CONTAINER_MANAGERS,
        min_memory_mb: MEMORY_MINIMUMS,
    },
];
