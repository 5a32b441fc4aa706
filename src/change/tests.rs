//! Unit tests of `change`: the steps and refusals `judge` gives for each kind of change.

use super::*;
use crate::error::EtcdMajority;

/// A record from `name:host:role-letter[:ip][!]` (`!` = remove), control planes by name with
/// the leaving ones last, as `Site::etcd_members` orders them.
fn rec(release: &str, kube: &str, nodes: &[&str]) -> Record {
    let mut map = BTreeMap::new();
    for spec in nodes {
        let (spec, remove) = match spec.strip_suffix('!') {
            Some(s) => (s, true),
            None => (*spec, false),
        };
        let parts: Vec<&str> = spec.split(':').collect();
        let role = if parts[2] == "c" { Role::ControlPlane } else { Role::Worker };
        let ip = parts
            .get(3)
            .map_or_else(|| format!("10.0.0.{}", map.len() + 2), std::string::ToString::to_string);
        map.insert(parts[0].to_string(), RecordNode { host: parts[1].into(), role, ip, remove });
    }
    let cps = |leaving: bool| {
        map.iter()
            .filter(move |(_, n): &(&String, &RecordNode)| {
                n.role == Role::ControlPlane && n.remove == leaving
            })
            .map(|(k, _)| k.clone())
            .collect::<Vec<_>>()
    };
    let mut control_planes = cps(false);
    control_planes.extend(cps(true));
    Record { release: release.into(), kube_version: kube.into(), control_planes, nodes: map }
}

const LAB: &[&str] = &["cp-1:h1:c", "cp-2:h1:c", "cp-3:h2:c", "w-1:h1:w", "w-2:h2:w"];

fn lab() -> Record {
    rec("v2.31.0", "1.35.4", LAB)
}

fn with(extra: &[&str]) -> Record {
    let mut nodes: Vec<&str> = LAB.to_vec();
    for e in extra {
        let name = e.split(':').next().unwrap();
        nodes.retain(|n| n.split(':').next().unwrap() != name);
        if !e.ends_with(":-") {
            nodes.push(*e);
        }
    }
    let mut r = rec("v2.31.0", "1.35.4", &nodes);
    // Keep addresses stable for nodes that LAB already had.
    for (name, n) in &mut r.nodes {
        if let Some(old) = lab().nodes.get(name) {
            if !e_has_ip(extra, name) {
                n.ip = old.ip.clone();
            }
        }
    }
    r
}

fn e_has_ip(extra: &[&str], name: &str) -> bool {
    extra.iter().any(|e| e.split(':').next() == Some(name) && e.split(':').count() >= 4)
}

fn ok(old: &Record, new: &Record) -> Vec<Step> {
    judge(Some(old), new, Allow::default()).expect("allowed").steps
}

fn refused(old: &Record, new: &Record) -> Vec<Refusal> {
    judge(Some(old), new, Allow::default()).expect_err("refused")
}

fn s(v: &[&str]) -> Vec<String> {
    v.iter().map(std::string::ToString::to_string).collect()
}

#[test]
fn nothing_deployed_means_the_whole_cluster() {
    assert_eq!(judge(None, &lab(), Allow::default()).unwrap().steps, vec![Step::Deploy]);
}

#[test]
fn an_unchanged_record_needs_nothing() {
    assert_eq!(ok(&lab(), &lab()), vec![]);
}

#[test]
fn added_workers_are_scaled_in_after_their_hosts_are_applied() {
    let steps = ok(&lab(), &with(&["w-3:h2:w", "w-4:h1:w"]));
    assert_eq!(steps, vec![Step::Workers { join: s(&["w-3", "w-4"]), hosts: s(&["h1", "h2"]) }]);
    assert_eq!(
        commands(&steps, "out"),
        "  1. after `gen apply h1` and `gen apply h2`: out/kubespray/deploy.sh \
         playbooks/facts.yml\n  2. out/kubespray/deploy.sh scale.yml --limit w-3,w-4\n"
    );
}

#[test]
fn added_control_planes_use_cluster_yml_never_scale() {
    let steps = ok(&lab(), &with(&["cp-4:h2:c", "cp-5:h1:c"]));
    assert_eq!(
        steps,
        vec![Step::ControlPlanes {
            join: s(&["cp-4", "cp-5"]),
            hosts: s(&["h1", "h2"]),
            even: false,
            reorder: false
        }]
    );
    let text = commands(&steps, "out");
    assert!(text.contains("deploy.sh cluster.yml -e etcd_retries=10\n"), "{text}");
    assert!(text.contains("upgrade-cluster.yml --limit etcd,kube_control_plane\n"), "{text}");
    assert!(!text.contains("scale.yml"), "{text}");
}

#[test]
fn a_control_plane_that_would_sort_first_is_refused() {
    assert_eq!(
        refused(&lab(), &with(&["cp-0:h2:c", "cp-4:h1:c"])),
        vec![Refusal::ControlPlaneNotLast { node: "cp-0".into(), before: "cp-3".into() }]
    );
    // No flag lets it through: kubespray itself fails.
    let all = Allow { version_change: true, unremoved: true };
    assert!(judge(Some(&lab()), &with(&["cp-0:h2:c", "cp-4:h1:c"]), all).is_err());
}

#[test]
fn removal_runs_remove_node_while_the_node_is_in_the_inventory() {
    let steps = ok(&lab(), &with(&["w-2:h2:w!"]));
    assert_eq!(steps, vec![Step::Remove { node: "w-2".into(), host: "h2".into(), first: false }]);
    let text = commands(&steps, "lab/out");
    assert!(
        text.starts_with("  1. lab/out/kubespray/deploy.sh remove-node.yml -e node=w-2\n"),
        "{text}"
    );
    assert!(text.contains("-e reset_nodes=false -e allow_ungraceful_removal=true"), "{text}");
    // Then the drop: nothing left for kubespray to do for a worker.
    let steps = ok(&with(&["w-2:h2:w!"]), &with(&["w-2:h2:w:-"]));
    assert_eq!(
        steps,
        vec![Step::Dropped { nodes: s(&["w-2"]), hosts: s(&["h2"]), control_plane: false }]
    );
    assert_eq!(
        commands(&steps, "out"),
        "  nothing to run: w-2 left the cluster with remove-node.yml; `gen apply h2` destroys \
         the VM\n"
    );
}

#[test]
fn a_dropped_control_plane_rewrites_the_etcd_lists() {
    let old = with(&["cp-4:h2:c", "cp-3:h2:c!"]);
    let steps = ok(&old, &with(&["cp-4:h2:c", "cp-3:h2:c:-"]));
    assert_eq!(
        steps,
        vec![Step::Dropped { nodes: s(&["cp-3"]), hosts: s(&["h2"]), control_plane: true }]
    );
    assert!(
        commands(&steps, "out")
            .contains("after `gen apply h2`: out/kubespray/deploy.sh cluster.yml")
    );
}

#[test]
fn replacing_the_first_control_plane_reorders_joins_then_removes() {
    let steps = ok(&lab(), &with(&["cp-4:h2:c", "cp-1:h1:c!"]));
    assert_eq!(
        steps,
        vec![
            Step::ControlPlanes {
                join: s(&["cp-4"]),
                hosts: s(&["h2"]),
                even: true,
                reorder: true
            },
            Step::Remove { node: "cp-1".into(), host: "h1".into(), first: true },
        ]
    );
    let text = commands(&steps, "out");
    let cluster = text.find("cluster.yml -e ignore_assert_errors=yes").expect(&text);
    let remove = text.find("remove-node.yml -e node=cp-1").expect(&text);
    assert!(cluster < remove, "{text}");
    assert!(text.contains("cluster-info"), "{text}");
}

#[test]
fn a_node_dropped_without_remove_is_refused_unless_allowed() {
    let new = with(&["w-1:h1:w:-"]);
    assert_eq!(
        refused(&lab(), &new),
        vec![Refusal::Unremoved { node: "w-1".into(), change: Unremoved::Dropped }]
    );
    let allow = Allow { unremoved: true, ..Allow::default() };
    let judged = judge(Some(&lab()), &new, allow).unwrap();
    assert_eq!(judged.allowed.len(), 1);
    assert_eq!(judged.steps, vec![Step::Rerun]);
}

#[test]
fn moves_readdresses_and_role_changes_need_remove_first() {
    let cases = [
        (with(&["w-1:h2:w"]), Unremoved::Moved { from: "h1".into(), to: "h2".into() }),
        (
            with(&["w-1:h1:w:10.0.0.99"]),
            Unremoved::Readdressed { from: lab().nodes["w-1"].ip.clone(), to: "10.0.0.99".into() },
        ),
        (with(&["w-1:h1:c"]), Unremoved::Role { from: Role::Worker, to: Role::ControlPlane }),
    ];
    for (new, change) in cases {
        assert_eq!(refused(&lab(), &new), vec![Refusal::Unremoved { node: "w-1".into(), change }]);
    }
    // After remove = true and remove-node.yml, the move is a new node joining.
    let removing = with(&["w-1:h1:w!"]);
    assert_eq!(
        ok(&removing, &with(&["w-1:h2:w"])),
        vec![Step::Workers { join: s(&["w-1"]), hosts: s(&["h2"]) }]
    );
}

#[test]
fn versions_move_one_minor_at_a_time_and_never_down() {
    let at = |release: &str, kube: &str| rec(release, kube, LAB);
    let cases: &[(&str, &str, &str, &str, Option<&str>)] = &[
        ("v2.30.0", "1.34.3", "v2.31.0", "1.35.4", None),
        ("v2.29.0", "1.33.5", "v2.29.1", "1.33.7", None),
        ("v2.31.0", "1.35.4", "v2.31.0", "1.35.4", None),
        ("v2.31.0", "1.34.0", "v2.31.0", "1.35.4", None),
        ("v2.31.0", "1.35.4", "v2.28.1", "1.32.8", Some("ReleaseDowngrade")),
        ("v2.29.1", "1.33.7", "v2.31.0", "1.33.7", Some("ReleaseSkip")),
        ("v2.31.0", "1.33.0", "v2.31.0", "1.35.4", Some("KubeSkip")),
        ("v2.31.0", "1.35.4", "v2.31.0", "1.35.3", Some("KubeDowngrade")),
        ("v2.31.0", "1.35.4", "v3.0.0", "1.35.4", Some("ReleaseSkip")),
    ];
    for (r0, k0, r1, k1, want) in cases {
        let got = judge(Some(&at(r0, k0)), &at(r1, k1), Allow::default());
        match (want, got) {
            (None, Ok(j)) if (r0, k0) == (r1, k1) => assert_eq!(j.steps, vec![]),
            (None, Ok(j)) => assert!(matches!(j.steps[..], [Step::Upgrade { .. }]), "{j:?}"),
            (Some(kind), Err(refusals)) => {
                assert!(format!("{refusals:?}").contains(kind), "{refusals:?} vs {kind}");
                // The message names both versions.
                let refusal = refusals.iter().find(|r| format!("{r:?}").contains(kind));
                let message = refusal.unwrap().to_string();
                let (from, to) = if kind.starts_with("Kube") { (k0, k1) } else { (r0, r1) };
                assert!(message.contains(from) && message.contains(to), "{message}");
            }
            (want, got) => panic!("{r0} {k0} -> {r1} {k1}: wanted {want:?}, got {got:?}"),
        }
    }
    // The downgrade of the issue: v2.31.0 to v2.28.1 takes Kubernetes from 1.35.4 to 1.32.8.
    let refusals = refused(&at("v2.31.0", "1.35.4"), &at("v2.28.1", "1.32.8"));
    assert_eq!(refusals.len(), 2, "{refusals:?}");
    let allow = Allow { version_change: true, ..Allow::default() };
    let judged = judge(Some(&at("v2.31.0", "1.35.4")), &at("v2.28.1", "1.32.8"), allow).unwrap();
    assert_eq!(judged.allowed, refusals);
}

#[test]
fn a_version_change_with_node_changes_is_refused() {
    let mut new = with(&["w-3:h2:w"]);
    new.release = "v2.31.0".into();
    new.kube_version = "1.35.4".into();
    let old = rec("v2.30.0", "1.34.3", LAB);
    let refusals = refused(&old, &new);
    assert!(matches!(refusals[..], [Refusal::VersionWithNodes { .. }]), "{refusals:?}");
}

#[test]
fn a_readded_node_joins_again() {
    assert_eq!(
        ok(&with(&["w-2:h2:w!"]), &lab()),
        vec![Step::Workers { join: s(&["w-2"]), hosts: s(&["h2"]) }]
    );
}

#[test]
fn every_transition_is_judged_consistently() {
    // Over every pair of a small family of records: a refusal is never also a step, a pair
    // that is equal needs nothing, and every allowed judgement with a refusal names its flag.
    let family: Vec<Record> = vec![
        lab(),
        with(&["w-3:h2:w"]),
        with(&["w-2:h2:w!"]),
        with(&["w-2:h2:w:-"]),
        with(&["cp-4:h2:c", "cp-1:h1:c!"]),
        with(&["cp-4:h2:c", "cp-1:h1:c:-"]),
        with(&["cp-4:h2:c", "cp-5:h1:c"]),
        with(&["w-1:h2:w"]),
        rec("v2.30.0", "1.34.3", LAB),
        rec("v2.29.1", "1.33.7", LAB),
    ];
    let all = Allow { version_change: true, unremoved: true };
    for a in &family {
        for b in &family {
            let strict = judge(Some(a), b, Allow::default());
            let lax = judge(Some(a), b, all);
            if a == b {
                assert_eq!(strict.clone().unwrap().steps, vec![]);
            }
            match (strict, lax) {
                (Ok(s), Ok(l)) => assert_eq!(s.steps, l.steps),
                (Err(r), Ok(l)) => assert!(r.iter().all(|r| l.allowed.contains(r))),
                (Err(r), Err(_)) => {
                    assert!(r.iter().any(|r| r.flag().is_none()), "{r:?}");
                }
                (Ok(_), Err(e)) => panic!("allowing more refused {e:?}"),
            }
        }
    }
}

#[test]
fn one_server_with_a_majority_of_etcd_is_found() {
    let majority = etcd_majority(&lab()).unwrap();
    assert_eq!(majority, EtcdMajority { host: "h1".into(), held: 2, total: 3, servers: 2 });
    let spread = rec("v2.31.0", "1.35.4", &["a:h1:c", "b:h2:c", "c:h3:c", "w:h1:w"]);
    assert_eq!(etcd_majority(&spread), None);
    let alone = rec("v2.31.0", "1.35.4", &["a:h1:c", "b:h1:c", "c:h1:c"]);
    assert_eq!(etcd_majority(&alone), None);
}

#[test]
fn an_apply_names_what_its_new_and_dropped_vms_need() {
    let names = |v: &[&str]| v.iter().map(std::string::ToString::to_string).collect::<Vec<_>>();
    let made = |v: &[(&str, bool)]| v.iter().map(|(n, c)| (n.to_string(), *c)).collect::<Vec<_>>();
    assert_eq!(after_apply(&made(&[("cp-1", true), ("w-1", false)]), &[], 1, true), [Step::Deploy]);
    assert_eq!(after_apply(&[], &[], 3, true), []);
    let text =
        commands(&after_apply(&made(&[("w-8", false), ("w-9", false)]), &[], 3, false), "out");
    assert_eq!(
        text,
        "  1. out/kubespray/deploy.sh playbooks/facts.yml\n  2. out/kubespray/deploy.sh scale.yml --limit w-8,w-9\n"
    );
    let steps = after_apply(&made(&[("cp-4", true)]), &names(&["cp-1"]), 4, false);
    let text = commands(&steps, "out");
    assert!(
        text.starts_with("  1. out/kubespray/deploy.sh cluster.yml -e ignore_assert_errors=yes\n"),
        "{text}"
    );
    assert!(
        text.contains(
            "  3. out/kubespray/deploy.sh cluster.yml\n     (rewrites the etcd member lists"
        ),
        "{text}"
    );
}
