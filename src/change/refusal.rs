//! What gen says about each change it refuses, and what to do instead: written once, here.

use super::{Refusal, Unremoved};
use crate::error::{Objection, Warning};
use crate::record::role_word;

impl std::fmt::Display for Refusal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Refusal::KubeDowngrade { from, to } => write!(
                f,
                "`kubespray.kube_version` goes down from {from} (deployed now, per out/) to {to}; \
                 kubeadm never downgrades a cluster"
            ),
            Refusal::KubeSkip { from, to } => write!(
                f,
                "Kubernetes goes from {from} (deployed now, per out/) to {to}, more than one minor \
                 version at once; kubeadm upgrades one minor version at a time"
            ),
            Refusal::ReleaseDowngrade { from, to } => write!(
                f,
                "`kubespray.version` goes down from {from} (deployed now, per out/) to {to}; \
                 kubespray only upgrades"
            ),
            Refusal::ReleaseSkip { from, to } => write!(
                f,
                "`kubespray.version` goes from {from} (deployed now, per out/) to {to}, skipping \
                 a minor release; kubespray's upgrade docs say \"upgrade by one tag at a time\""
            ),
            Refusal::VersionWithNodes { from, to } => write!(
                f,
                "the version changes ({from} to {to}) in the same build as nodes join or leave; \
                 `upgrade-cluster.yml` and the node playbooks must not run on one inventory"
            ),
            Refusal::Unremoved { node, change } => {
                let what = match change {
                    Unremoved::Dropped => "is no longer in site.toml".to_string(),
                    Unremoved::Moved { from, to } => format!("moves from {from} to {to}"),
                    Unremoved::Readdressed { from, to } => format!("changes address {from} → {to}"),
                    Unremoved::Role { from, to } => {
                        format!("changes role {} → {}", role_word(*from), role_word(*to))
                    }
                };
                write!(
                    f,
                    "node `{node}` {what} but is still in the cluster: kubespray must remove it \
                     (`remove-node.yml`) while it is still in the inventory and its VM still runs"
                )
            }
            Refusal::ControlPlaneNotLast { node, before } => write!(
                f,
                "new control plane `{node}` would come before `{before}` in kube_control_plane \
                 (gen lists them by name); kubespray supports adding control planes only at the \
                 end"
            ),
        }
    }
}

impl Refusal {
    /// What to do instead, in one line.
    pub fn fix(&self) -> String {
        let flag = |f: &str| format!("; or, knowing the risk, pass `{f}`");
        match self {
            Refusal::KubeDowngrade { from, .. } => {
                format!("keep `kube_version` at {from} or later{}", flag("--allow-version-change"))
            }
            Refusal::KubeSkip { .. } => format!(
                "upgrade one minor version per build and deploy (`upgrade-cluster.yml`) between \
                 them{}",
                flag("--allow-version-change")
            ),
            Refusal::ReleaseDowngrade { from, .. } => {
                format!(
                    "keep `kubespray.version` at {from} or later{}",
                    flag("--allow-version-change")
                )
            }
            Refusal::ReleaseSkip { .. } => format!(
                "move to the next minor release first, deploy it (`upgrade-cluster.yml`), then \
                 the next{}",
                flag("--allow-version-change")
            ),
            Refusal::VersionWithNodes { .. } => format!(
                "change the version and the nodes in separate builds, deploying between them{}",
                flag("--allow-version-change")
            ),
            Refusal::Unremoved { node, .. } => format!(
                "put [nodes.{node}] back as it was, with `remove = true`; build; run the \
                 `remove-node.yml` command gen prints; then make this change{}",
                flag("--allow-unremoved")
            ),
            Refusal::ControlPlaneNotLast { before, .. } => format!(
                "give it a name that sorts after `{before}`, such as the next number of the series"
            ),
        }
    }

    /// The refusal as the shared error carries it (`Error::UnsafeChange`): its words and its fix.
    pub fn objection(&self) -> Objection {
        Objection { reason: self.to_string(), fix: self.fix() }
    }

    /// The warning `gen build` gives when the refusal's flag allowed the change.
    pub fn warning(&self) -> Warning {
        Warning::Allowed { reason: self.to_string(), flag: self.flag().unwrap_or_default() }
    }
}
