//! Changing a running lab, kubespray's side, end to end: `gen build` on a copy of the example
//! after each edit a user would make, judged against the `out/` the previous build wrote. Asserts
//! the exact commands printed, the warnings on stderr, and that a refused change writes nothing.

use std::fs;
use std::path::{Path, PathBuf};

use crate::support::{Run, run_gen};

struct Lab {
    root: tempfile::TempDir,
}

impl Lab {
    /// The example lab, built once.
    fn built() -> Lab {
        let root = tempfile::tempdir().unwrap();
        let site = Path::new(env!("CARGO_MANIFEST_DIR")).join("site.toml");
        fs::copy(site, root.path().join("site.toml")).unwrap();
        let lab = Lab { root };
        lab.run(&["build"]).code(0);
        lab
    }

    fn path(&self, name: &str) -> PathBuf {
        self.root.path().join(name)
    }

    fn run(&self, args: &[&str]) -> Run {
        run_gen(self.root.path(), args)
    }

    /// Replaces `from` (which must be there) by `to` in site.toml.
    fn edit(&self, from: &str, to: &str) {
        let text = fs::read_to_string(self.path("site.toml")).unwrap();
        assert!(text.contains(from), "site.toml has no {from:?}");
        fs::write(self.path("site.toml"), text.replacen(from, to, 1)).unwrap();
    }

    fn append(&self, text: &str) {
        let site = fs::read_to_string(self.path("site.toml")).unwrap();
        fs::write(self.path("site.toml"), site + text).unwrap();
    }

    /// Every file under out/ with its bytes.
    fn out(&self) -> Vec<(PathBuf, Vec<u8>)> {
        let mut files: Vec<(PathBuf, Vec<u8>)> = walkdir::WalkDir::new(self.path("out"))
            .into_iter()
            .map(|e| e.unwrap())
            .filter(|e| e.file_type().is_file())
            .map(|e| (e.path().to_path_buf(), fs::read(e.path()).unwrap()))
            .collect();
        files.sort();
        files
    }
}

/// The block of kubespray commands `gen build` printed.
fn commands(stdout: &str) -> String {
    let start = stdout.find("then, from this machine, in order:\n").expect(stdout);
    let rest = &stdout[start..];
    let end = rest.find("review `git diff out/`").expect(stdout);
    rest[..end].to_string()
}

const WORKER_8: &str =
    "\n[nodes.k8s-w-8]\nhost = \"vmhost2\"\nrole = \"worker\"\nip = \"192.168.1.38\"\n";

#[test]
fn the_example_warns_that_vmhost1_holds_a_majority_of_etcd() {
    let lab = Lab::built();
    let run = lab.run(&["build"]);
    run.code(0);
    assert_eq!(
        run.stderr,
        "warning: `vmhost1` holds 2 of the 3 etcd members (control planes); if that server is \
         down, etcd loses quorum and the cluster's API stops until it is back\n  fix: on two \
         servers one always holds a majority; a third server with one control plane keeps \
         quorum when any one is down\n"
    );
    assert!(!run.stdout.contains("warning"), "{}", run.stdout);
    // With the third control plane on a third server, no server holds a majority.
    lab.edit("[hosts.vmhost2]", "[hosts.vmhost3]\naddress = \"192.168.1.12\"\nuser = \"lab\"\nbridge = \"eno1\"\nhost_key = \"ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIHwCCtkByEotFWeQbBovmOZfTrDpg04EsAoQ9r7YD+Xg\"\n\n[hosts.vmhost2]");
    lab.edit("[nodes.k8s-cp-2]\nhost = \"vmhost1\"", "[nodes.k8s-cp-2]\nhost = \"vmhost3\"");
    let run = lab.run(&["build", "--allow-unremoved"]);
    run.code(0);
    assert!(!run.stderr.contains("etcd members"), "{}", run.stderr);
}

#[test]
fn an_added_worker_is_scaled_in_after_its_host_is_applied() {
    let lab = Lab::built();
    lab.append(WORKER_8);
    let run = lab.run(&["build"]);
    run.code(0);
    assert_eq!(
        commands(&run.stdout),
        "then, from this machine, in order:\n\
        \x20 1. after `gen apply vmhost2`: out/kubespray/deploy.sh playbooks/facts.yml\n\
        \x20 2. out/kubespray/deploy.sh scale.yml --limit k8s-w-8\n"
    );
    assert!(run.stdout.contains("run `gen apply vmhost2`"), "{}", run.stdout);
    assert!(run.stdout.ends_with("then `git add out/` and commit before you apply\n"));
}

#[test]
fn a_node_leaves_through_remove_then_its_drop() {
    let lab = Lab::built();
    // Dropped at once: refused, nothing written.
    let before = lab.out();
    let text = fs::read_to_string(lab.path("site.toml")).unwrap();
    let start = text.find("[nodes.k8s-w-7]").unwrap();
    fs::write(lab.path("site.toml"), &text[..start]).unwrap();
    let run = lab.run(&["build"]);
    run.code(2);
    assert!(
        run.stderr.starts_with(
            "error: node `k8s-w-7` is no longer in site.toml but is still in the cluster: \
             kubespray must remove it (`remove-node.yml`) while it is still in the inventory and \
             its VM still runs\n  fix: put [nodes.k8s-w-7] back as it was, with `remove = true`"
        ),
        "{}",
        run.stderr
    );
    assert!(run.stderr.ends_with("nothing was written\n"), "{}", run.stderr);
    assert_eq!(lab.out(), before, "a refused build wrote something");

    // The way kubespray wants it: `remove = true` first.
    fs::write(lab.path("site.toml"), format!("{text}remove = true\n")).unwrap();
    let run = lab.run(&["build"]);
    run.code(0);
    assert_eq!(
        commands(&run.stdout),
        "then, from this machine, in order:\n\
        \x20 1. out/kubespray/deploy.sh remove-node.yml -e node=k8s-w-7\n\
        \x20    (if k8s-w-7 is already offline, add -e reset_nodes=false -e \
         allow_ungraceful_removal=true); then drop [nodes.k8s-w-7] from site.toml, `gen build`, \
         `gen apply vmhost2` destroys its VM\n"
    );
    // It stays in the inventory and keeps its VM.
    let inventory = fs::read_to_string(lab.path("out/kubespray/inventory/hosts.yaml")).unwrap();
    assert!(inventory.contains("\"k8s-w-7\":"), "{inventory}");
    let vagrantfile = fs::read_to_string(lab.path("out/hosts/vmhost2/workers/Vagrantfile"));
    assert!(vagrantfile.is_err() || vagrantfile.unwrap().contains("k8s-w-7"));

    // Then dropped: accepted, and nothing left for kubespray.
    fs::write(lab.path("site.toml"), &text[..start]).unwrap();
    let run = lab.run(&["build"]);
    run.code(0);
    assert_eq!(
        commands(&run.stdout),
        "then, from this machine, in order:\n\
        \x20 nothing to run: k8s-w-7 left the cluster with remove-node.yml; `gen apply vmhost2` \
         destroys the VM\n"
    );
    let inventory = fs::read_to_string(lab.path("out/kubespray/inventory/hosts.yaml")).unwrap();
    assert!(!inventory.contains("k8s-w-7"), "{inventory}");
}

#[test]
fn removing_the_first_control_plane_moves_it_last_and_replaces_it_first() {
    let lab = Lab::built();
    lab.edit("ip = \"192.168.1.21\"\n", "ip = \"192.168.1.21\"\nremove = true\n");
    lab.append(
        "\n[nodes.k8s-cp-4]\nhost = \"vmhost2\"\nrole = \"control-plane\"\nip = \"192.168.1.24\"\n",
    );
    let run = lab.run(&["build"]);
    run.code(0);
    let record = fs::read_to_string(lab.path("out/kubespray/cluster.toml")).unwrap();
    assert!(
        record
            .contains("control_planes = [\"k8s-cp-2\", \"k8s-cp-3\", \"k8s-cp-4\", \"k8s-cp-1\"]"),
        "{record}"
    );
    let inventory = fs::read_to_string(lab.path("out/kubespray/inventory/hosts.yaml")).unwrap();
    let etcd = &inventory[inventory.find("    etcd:").unwrap()..];
    let order: Vec<&str> = etcd.lines().skip(2).take(4).map(str::trim).collect();
    assert_eq!(order, ["\"k8s-cp-2\":", "\"k8s-cp-3\":", "\"k8s-cp-4\":", "\"k8s-cp-1\":"]);
    let commands = commands(&run.stdout);
    let lines: Vec<&str> = commands
        .lines()
        .filter(|l| l.starts_with("  ") && l.as_bytes()[2].is_ascii_digit())
        .collect();
    assert_eq!(
        lines,
        [
            "  1. after `gen apply vmhost2`: out/kubespray/deploy.sh cluster.yml -e \
             ignore_assert_errors=yes",
            "  2. out/kubespray/deploy.sh upgrade-cluster.yml --limit etcd,kube_control_plane -e \
             ignore_assert_errors=yes",
            "  3. out/kubespray/deploy.sh remove-node.yml -e node=k8s-cp-1",
        ]
    );
    assert!(commands.contains("nginx-proxy") && commands.contains("cluster-info"), "{commands}");
}

#[test]
fn a_control_plane_that_would_sort_first_is_refused() {
    let lab = Lab::built();
    let before = lab.out();
    lab.append(
        "\n[nodes.k8s-cp-0]\nhost = \"vmhost2\"\nrole = \"control-plane\"\nip = \"192.168.1.20\"\n",
    );
    lab.append(
        "\n[nodes.k8s-cp-9]\nhost = \"vmhost2\"\nrole = \"control-plane\"\nip = \"192.168.1.29\"\n",
    );
    let run = lab.run(&["build", "--allow-unremoved", "--allow-version-change"]);
    run.code(2);
    assert!(
        run.stderr.starts_with(
            "error: new control plane `k8s-cp-0` would come before `k8s-cp-3` in \
             kube_control_plane"
        ),
        "{}",
        run.stderr
    );
    assert_eq!(lab.out(), before);
}

#[test]
fn a_release_downgrade_is_refused_naming_both_versions_unless_allowed() {
    let lab = Lab::built();
    let before = lab.out();
    lab.edit("version = \"v2.31.0\"", "version = \"v2.28.1\"");
    let run = lab.run(&["build"]);
    run.code(2);
    assert_eq!(
        run.stderr,
        "error: `kubespray.kube_version` goes down from 1.35.4 (deployed now, per out/) to \
         1.32.8; kubeadm never downgrades a cluster\n  fix: keep `kube_version` at 1.35.4 or \
         later; or, knowing the risk, pass `--allow-version-change`\n\
         error: `kubespray.version` goes down from v2.31.0 (deployed now, per out/) to v2.28.1; \
         kubespray only upgrades\n  fix: keep `kubespray.version` at v2.31.0 or later; or, \
         knowing the risk, pass `--allow-version-change`\n\
         nothing was written\n"
    );
    assert_eq!(lab.out(), before);
    let run = lab.run(&["build", "--allow-version-change"]);
    run.code(0);
    assert!(run.stderr.contains("allowed by `--allow-version-change`"), "{}", run.stderr);
    assert!(commands(&run.stdout).contains("deploy.sh upgrade-cluster.yml\n"), "{}", run.stdout);
}

#[test]
fn a_minor_upgrade_names_upgrade_cluster() {
    let lab = Lab::built();
    lab.edit("version = \"v2.31.0\"", "version = \"v2.31.0\"\nkube_version = \"1.34.0\"");
    lab.run(&["build", "--allow-version-change"]).code(0);
    lab.edit("kube_version = \"1.34.0\"", "kube_version = \"1.35.4\"");
    let run = lab.run(&["build"]);
    run.code(0);
    assert_eq!(
        commands(&run.stdout),
        "then, from this machine, in order:\n  1. out/kubespray/deploy.sh upgrade-cluster.yml\n"
    );
}
