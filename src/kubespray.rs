//! What gen knows about each kubespray release, held as data in one place.
//!
//! Every fact here is from `shared/research/kubespray.md` (cited there as `tag:path`) or read from
//! the tag itself. Validation, rendering and CI all read this table; nothing else in gen may
//! hard-code a release-specific value.

/// One kubespray release gen can generate for.
#[derive(Debug, PartialEq, Eq)]
pub struct Release {
    /// The git tag, e.g. `v2.31.0`.
    pub tag: &'static str,
    /// The tag's `requirements.txt`, byte for byte (comment lines included).
    pub requirements: &'static str,
    /// gen's own addition: the `ansible-core` that the `ansible` pin resolves to, pinned so the
    /// venv is reproducible. Inside `ansible_core_window`.
    pub ansible_core: &'static str,
    /// `playbooks/ansible_version.yml`: minimal (inclusive) and maximal (exclusive) ansible-core.
    pub ansible_core_window: (&'static str, &'static str),
    /// Controller Python minor versions (3.x) the pinned ansible-core supports, inclusive.
    pub python_minor: (u32, u32),
    /// Every Kubernetes version in the tag's amd64 kubelet checksums, as `X.Y.Z` (no `v`).
    pub kube_versions: &'static [&'static str],
    /// The role default `kube_version`, as `X.Y.Z`.
    pub kube_version_default: &'static str,
    /// `kube_version` is written `vX.Y.Z` (up to v2.27) rather than `X.Y.Z` (v2.28 on).
    pub kube_version_v_prefix: bool,
    /// Allowed `kube_network_plugin` values (the tag's assert list).
    pub network_plugins: &'static [&'static str],
    /// Allowed `kube_proxy_mode` values.
    pub proxy_modes: &'static [&'static str],
    /// Allowed `container_manager` values.
    pub container_managers: &'static [&'static str],
    /// The inventory must define `k8s_cluster` itself (up to v2.26; later it is dynamic).
    pub static_k8s_cluster_group: bool,
    /// The metallb role has no default `metallb_namespace` (v2.25–v2.29): the inventory must set it.
    pub metallb_namespace_required: bool,
    /// `minimal_master_memory_mb` and `minimal_node_memory_mb` (checked against `ansible_memtotal_mb`).
    pub min_memory_mb: MemoryMinimums,
}

#[derive(Debug, PartialEq, Eq, Clone, Copy)]
pub struct MemoryMinimums {
    pub control_plane: u32,
    pub node: u32,
}

/// Newest first; the first entry is what `gen` suggests.
pub static RELEASES: &[Release] = &[];

pub fn find(tag: &str) -> Option<&'static Release> {
    RELEASES.iter().find(|r| r.tag == tag)
}

pub fn newest() -> &'static Release {
    &RELEASES[0]
}
