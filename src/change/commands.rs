//! The kubespray commands a change needs, numbered, as `gen build` and `gen apply` print them.

use super::Step;
use crate::wording::List;

/// What kubespray must do once an apply has made or destroyed VMs: a VM gen creates is empty
/// until kubespray sets it up (`created`: node and whether it is a control plane), and a control
/// plane gone from the site leaves every etcd member list naming it. `etcd_members` is the
/// number of control planes the site has now; `fresh`: no control plane ran before this apply,
/// so there is no cluster to join yet. The build named these steps before the apply; the apply
/// names them again once its part is done, without the "after `gen apply`" it did.
pub fn after_apply(
    created: &[(String, bool)],
    dropped_control_planes: &[String],
    etcd_members: usize,
    fresh: bool,
) -> Vec<Step> {
    if fresh && !created.is_empty() {
        return vec![Step::Deploy];
    }
    let joining = |control_plane: bool| -> Vec<String> {
        created.iter().filter(|(_, cp)| *cp == control_plane).map(|(n, _)| n.clone()).collect()
    };
    let mut steps = Vec::new();
    let control_planes = joining(true);
    if !control_planes.is_empty() {
        steps.push(Step::ControlPlanes {
            join: control_planes,
            hosts: vec![],
            even: etcd_members % 2 == 0,
            reorder: false,
        });
    }
    let workers = joining(false);
    if !workers.is_empty() {
        steps.push(Step::Workers { join: workers, hosts: vec![] });
    }
    if !dropped_control_planes.is_empty() {
        steps.push(Step::Dropped {
            nodes: dropped_control_planes.to_vec(),
            hosts: vec![],
            control_plane: true,
        });
    }
    steps
}

/// The commands for `steps`, one numbered step a line or two, `out` being the output folder as
/// the user named it. Empty when there is nothing to run.
pub fn commands(steps: &[Step], out: &str) -> String {
    use std::fmt::Write as _;
    let deploy = format!("{out}/kubespray/deploy.sh");
    let mut text = String::new();
    // "after `gen apply h1`: " before a step that needs those VMs; nothing once they are applied.
    let applies =
        |hosts: &[String]| List::and(hosts.iter().map(|h| format!("`gen apply {h}`"))).to_string();
    let after = |hosts: &[String]| {
        if hosts.is_empty() { String::new() } else { format!("after {}: ", applies(hosts)) }
    };
    let mut n = 0;
    let mut step = |text: &mut String, line: String| {
        n += 1;
        let _ = writeln!(text, "  {n}. {line}");
    };
    for s in steps {
        match s {
            Step::Deploy => {
                step(&mut text, format!("after every `gen apply`: {deploy} cluster.yml"));
            }
            Step::Rerun => step(&mut text, format!("{deploy} cluster.yml")),
            Step::ControlPlanes { join, hosts, even, reorder } => {
                let mut extra = String::new();
                if *even {
                    // kubespray asserts an odd etcd group; it is even while one member leaves.
                    extra += " -e ignore_assert_errors=yes";
                }
                let limit_extra = extra.clone();
                if join.len() > 1 {
                    extra += " -e etcd_retries=10";
                }
                step(&mut text, format!("{}{deploy} cluster.yml{extra}", after(hosts)));
                if !join.is_empty() {
                    step(
                        &mut text,
                        format!(
                            "{deploy} upgrade-cluster.yml --limit etcd,kube_control_plane{limit_extra}"
                        ),
                    );
                    let _ = writeln!(
                        text,
                        "     then, on every node, restart nginx-proxy so it sees {}: `crictl ps \
                         | grep nginx-proxy | awk '{{print $1}}' | xargs crictl stop`",
                        List::comma(join)
                    );
                }
                if *reorder {
                    let _ = writeln!(
                        text,
                        "     (this also makes another control plane the first, before the first \
                         one leaves)"
                    );
                }
            }
            Step::Workers { join, hosts } => {
                step(&mut text, format!("{}{deploy} playbooks/facts.yml", after(hosts)));
                step(&mut text, format!("{deploy} scale.yml --limit {}", join.join(",")));
            }
            Step::Remove { node, host, first } => {
                step(&mut text, format!("{deploy} remove-node.yml -e node={node}"));
                let _ = writeln!(
                    text,
                    "     (if {node} is already offline, add -e reset_nodes=false -e \
                     allow_ungraceful_removal=true); then drop [nodes.{node}] from site.toml, \
                     `gen build`, `gen apply {host}` destroys its VM"
                );
                if *first {
                    let _ = writeln!(
                        text,
                        "     then `kubectl edit cm -n kube-public cluster-info`: point `server` \
                         at a control plane that stays"
                    );
                }
            }
            Step::Dropped { nodes, hosts, control_plane } => {
                if *control_plane {
                    step(&mut text, format!("{}{deploy} cluster.yml", after(hosts)));
                    let _ = writeln!(
                        text,
                        "     (rewrites the etcd member lists; check `--etcd-servers` in \
                         /etc/kubernetes/manifests/kube-apiserver.yaml on every control plane)"
                    );
                } else {
                    let _ = writeln!(
                        text,
                        "  nothing to run: {} left the cluster with remove-node.yml; {} destroys \
                         the VM",
                        List::comma(nodes),
                        applies(hosts)
                    );
                }
            }
            Step::Upgrade { .. } => step(&mut text, format!("{deploy} upgrade-cluster.yml")),
        }
    }
    text
}
