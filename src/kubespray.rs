//! What gen knows about each kubespray release, held as data in one place: the table
//! `RELEASES` in `kubespray/releases.rs`, and here what its facts mean.
//!
//! Every fact here is from `shared/research/kubespray.md` (cited there as `tag:path`) or read from
//! the tag itself. Validation, rendering and CI all read this table; nothing else in gen may
//! hard-code a release-specific value.

/// `ansible_memtotal_mb`, which kubespray compares with its minimums, is the guest's RAM less
/// what the kernel keeps; this much headroom keeps an allotment from passing here and failing
/// there.
pub const GUEST_KERNEL_RESERVE_MB: u32 = 256;

/// What gen sets when `site.toml` leaves the choice out: kubespray's own defaults, which every
/// release gen knows accepts.
pub const DEFAULT_NETWORK_PLUGIN: &str = "calico";
pub const DEFAULT_CONTAINER_MANAGER: &str = "containerd";
pub const DEFAULT_PROXY_MODE: &str = "ipvs";

/// One kubespray release gen can generate for.
#[derive(Debug, PartialEq, Eq)]
pub struct Release {
    /// The git tag, e.g. `v2.31.0`.
    pub tag: &'static str,
    /// The tag's `requirements.txt`, byte for byte (comment lines included).
    pub requirements: &'static str,
    /// `lock.txt`: every package of the venv (the closure of `requirements` plus `ansible_core`),
    /// pinned with the sha256 of each wheel, for every Python in `python_minor` on Linux and macOS
    /// (x86_64, arm64). Made by `maint/lock-kubespray` from the package index; deploy.sh installs
    /// exactly this, with `pip install --require-hashes`.
    pub lock: &'static str,
    /// gen's own addition: the `ansible-core` that the `ansible` pin resolves to, pinned so the
    /// venv is reproducible. Inside `ansible_core_window`.
    pub ansible_core: &'static str,
    /// `playbooks/ansible_version.yml`: minimal (inclusive) and maximal (exclusive) ansible-core.
    pub ansible_core_window: (&'static str, &'static str),
    /// Controller Python minor versions (3.x) the pinned ansible-core supports, inclusive.
    pub python_minor: (u32, u32),
    /// Every Kubernetes version in the tag's amd64 kubelet checksums, as `X.Y.Z` (no `v`),
    /// newest first: the first is the release's default (`kube_version_default`).
    pub kube_versions: &'static [&'static str],
    /// Allowed `kube_network_plugin` values (the tag's assert list).
    pub network_plugins: &'static [&'static str],
    /// Allowed `kube_proxy_mode` values.
    pub proxy_modes: &'static [&'static str],
    /// Allowed `container_manager` values.
    pub container_managers: &'static [&'static str],
    /// `minimal_master_memory_mb` and `minimal_node_memory_mb` (checked against `ansible_memtotal_mb`).
    pub min_memory_mb: MemoryMinimums,
}

#[derive(Debug, PartialEq, Eq, Clone, Copy)]
pub struct MemoryMinimums {
    pub control_plane: u32,
    pub node: u32,
}

pub fn find(tag: &str) -> Option<&'static Release> {
    RELEASES.iter().find(|r| r.tag == tag)
}

pub fn newest() -> &'static Release {
    &RELEASES[0]
}

/// The tags in [`RELEASES`], newest first.
pub fn known_tags() -> impl Iterator<Item = &'static str> {
    RELEASES.iter().map(|r| r.tag)
}

/// The first release whose `kube_version` is written `X.Y.Z` rather than `vX.Y.Z`.
const BARE_KUBE_VERSION_SINCE: &str = "2.28.0";
/// The first release that builds the `k8s_cluster` group itself.
const DYNAMIC_K8S_CLUSTER_SINCE: &str = "2.27.0";
/// The first release whose metallb role defaults `metallb_namespace`.
const METALLB_NAMESPACE_DEFAULT_SINCE: &str = "2.30.0";

impl Release {
    /// The tag as a bare version (`2.31.0`), to compare with thresholds.
    fn version(&self) -> &'static str {
        self.tag.strip_prefix('v').unwrap_or(self.tag)
    }

    fn before(&self, threshold: &str) -> bool {
        version_cmp(self.version(), threshold).is_lt()
    }

    /// The role default `kube_version`, as `X.Y.Z`: every tag's default is its newest checksum
    /// version (read in each tag; from v2.28 so by definition).
    pub fn kube_version_default(&self) -> &'static str {
        self.kube_versions[0]
    }

    /// `kube_version` is written `vX.Y.Z` (up to v2.27) rather than `X.Y.Z` (v2.28 on).
    pub fn kube_version_v_prefix(&self) -> bool {
        self.before(BARE_KUBE_VERSION_SINCE)
    }

    /// The inventory must define `k8s_cluster` itself (up to v2.26; later it is dynamic).
    pub fn static_k8s_cluster_group(&self) -> bool {
        self.before(DYNAMIC_K8S_CLUSTER_SINCE)
    }

    /// The metallb role has no default `metallb_namespace` (v2.25–v2.29): the inventory must
    /// set it.
    pub fn metallb_namespace_required(&self) -> bool {
        self.before(METALLB_NAMESPACE_DEFAULT_SINCE)
    }

    /// `v` (written `X.Y.Z`) is one of this release's Kubernetes versions.
    pub fn supports_kube_version(&self, v: &str) -> bool {
        self.kube_versions.contains(&v)
    }

    /// `v` (written `X.Y.Z`) as this release wants `kube_version` written.
    pub fn kube_version_value(&self, v: &str) -> String {
        if self.kube_version_v_prefix() { format!("v{v}") } else { v.to_string() }
    }

    /// `v` lies in `ansible_core_window` (minimum inclusive, maximum exclusive).
    pub fn ansible_core_allowed(&self, v: &str) -> bool {
        let (min, max) = self.ansible_core_window;
        version_cmp(v, min).is_ge() && version_cmp(v, max).is_lt()
    }
}

mod releases;
mod version;

pub use releases::RELEASES;
pub use version::version_cmp;

#[cfg(test)]
mod tests;
