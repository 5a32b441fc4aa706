//! `gen init` end to end in temporary folders: the file it writes from flags builds, or fails
//! only with "missing" for what was not said; it never replaces a file without `--force`; values
//! `gen build` would refuse are refused before anything is written; and `--keyscan` reads the
//! host key of a real OpenSSH sshd, run on loopback inside a network namespace of its own
//! (`unshare -n`), and prints the fingerprint `ssh-keygen -lf` gives for the server's key file.

use std::fs;
use std::path::Path;
use std::process::{Command, Stdio};

pub(crate) use crate::support::run_gen;
use crate::support::{Run, keygen, skip};

/// The keys `gen build` says are missing, in order, and every other error line.
pub(crate) fn build_errors(run: &Run) -> (Vec<String>, Vec<String>) {
    let (mut missing, mut other) = (vec![], vec![]);
    for line in run.stderr.lines().filter(|l| l.starts_with("error: ")) {
        let key = line.split('`').nth(1).unwrap_or("").to_string();
        if line.contains(": missing ") { missing.push(key) } else { other.push(line.to_string()) }
    }
    (missing, other)
}

/// A key with the grammar `host_key` takes, for filling in holes.
pub(crate) const SOME_HOST_KEY: &str =
    "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAID6K0gt3z0GigMUFpyQDyNaE/dTt9fhvEJ1xoH+becVy";

const FLAGS: &[&str] = &[
    "init",
    "--name",
    "lab",
    "--cidr",
    "192.168.1.0/24",
    "--gateway",
    "192.168.1.1",
    "--dns",
    "192.168.1.1",
    "--server",
    "vmhost1=lab@192.168.1.10",
    "--server",
    "vmhost2=lab@192.168.1.11",
    "--bridge",
    "eno1",
    "--control-planes",
    "3",
    "--workers",
    "2",
];

#[test]
fn init_from_flags_builds_once_the_host_keys_are_filled_in() {
    let dir = tempfile::tempdir().unwrap();
    let run = run_gen(dir.path(), FLAGS);
    run.code(0);
    assert!(run.stdout.contains("needs 2 more values"), "{}", run.stdout);
    let text = fs::read_to_string(dir.path().join("site.toml")).unwrap();
    assert!(text.starts_with("#:schema ./site.schema.json\n"), "{text}");
    let schema = fs::read_to_string(dir.path().join("site.schema.json")).unwrap();
    assert_eq!(schema, labgen::schema::json());

    // What the flags said is there: nodes spread over both servers, addresses from .21 on.
    let site: toml::Table = text.parse().unwrap();
    let nodes = site["nodes"].as_table().unwrap();
    let summary: Vec<String> = nodes
        .iter()
        .map(|(name, n)| {
            format!(
                "{name} {} {} {}",
                n["role"].as_str().unwrap(),
                n["host"].as_str().unwrap(),
                n["ip"].as_str().unwrap()
            )
        })
        .collect();
    assert_eq!(
        summary,
        [
            "k8s-cp-1 control-plane vmhost1 192.168.1.21",
            "k8s-cp-2 control-plane vmhost2 192.168.1.22",
            "k8s-cp-3 control-plane vmhost1 192.168.1.23",
            "k8s-w-1 worker vmhost2 192.168.1.24",
            "k8s-w-2 worker vmhost1 192.168.1.25",
        ]
    );

    // Only what gen cannot know is missing: the host keys.
    let build = run_gen(dir.path(), &["build"]);
    build.code(2);
    let (missing, other) = build_errors(&build);
    assert_eq!(missing, ["hosts.vmhost1.host_key", "hosts.vmhost2.host_key"]);
    assert!(other.is_empty(), "{other:?}");
    assert!(!dir.path().join("out").exists());

    let filled = text
        .replace("# host_key = \"ssh-ed25519 AAAA…\"", &format!("host_key = \"{SOME_HOST_KEY}\""));
    fs::write(dir.path().join("site.toml"), filled).unwrap();
    run_gen(dir.path(), &["build"]).code(0);
    run_gen(dir.path(), &["check"]).code(0);
}

#[test]
fn init_with_nothing_said_leaves_only_missing_values() {
    let dir = tempfile::tempdir().unwrap();
    run_gen(dir.path(), &["init"]).code(0);
    let build = run_gen(dir.path(), &["build"]);
    build.code(2);
    let (missing, other) = build_errors(&build);
    assert!(other.is_empty(), "{other:?}");
    for key in ["network.cidr", "network.gateway", "network.dns", "hosts", "nodes.k8s-cp-1.host"] {
        assert!(missing.iter().any(|m| m == key), "{key} in {missing:?}");
    }
}

#[test]
fn init_never_replaces_a_file_without_force() {
    let dir = tempfile::tempdir().unwrap();
    let site = dir.path().join("site.toml");
    fs::write(&site, "mine\n").unwrap();
    let run = run_gen(dir.path(), FLAGS);
    run.code(2);
    assert!(run.stderr.contains("exists") && run.stderr.contains("--force"), "{}", run.stderr);
    assert_eq!(fs::read_to_string(&site).unwrap(), "mine\n");
    assert!(!dir.path().join("site.schema.json").exists());

    // A schema already there is not replaced either, and then neither file is written.
    fs::remove_file(&site).unwrap();
    fs::write(dir.path().join("site.schema.json"), "{}").unwrap();
    run_gen(dir.path(), FLAGS).code(2);
    assert!(!site.exists());

    let mut forced = FLAGS.to_vec();
    forced.push("--force");
    run_gen(dir.path(), &forced).code(0);
    assert!(fs::read_to_string(&site).unwrap().contains("[hosts.vmhost2]"));
    assert_eq!(
        fs::read_to_string(dir.path().join("site.schema.json")).unwrap(),
        labgen::schema::json()
    );
}

#[test]
fn init_refuses_values_the_build_would_refuse_and_writes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let mut even = FLAGS.to_vec();
    let at = even.iter().position(|a| *a == "--control-planes").unwrap() + 1;
    even[at] = "2";
    let run = run_gen(dir.path(), &even);
    run.code(2);
    assert!(run.stderr.contains("odd"), "{}", run.stderr);
    assert!(run.stderr.contains("nothing was written"), "{}", run.stderr);
    let run = run_gen(dir.path(), &["init", "--server", "vmhost1"]);
    run.code(2);
    assert!(run.stderr.contains("NAME=USER@ADDRESS"), "{}", run.stderr);
    let run = run_gen(dir.path(), &["init", "--cidr", "192.168.1.0/24", "--gateway", "10.9.9.9"]);
    run.code(2);
    assert!(run.stderr.contains("network.gateway"), "{}", run.stderr);
    assert_eq!(fs::read_dir(dir.path()).unwrap().count(), 0);
}

/// Whether a namespaced sshd can run here; says SKIPPED (or fails in CI) when not.
pub(crate) fn can_run_namespaced_sshd(what: &str) -> bool {
    let ok = Path::new("/usr/sbin/sshd").exists()
        && Command::new("unshare").args(["-n", "true"]).status().is_ok_and(|s| s.success())
        && ["ssh-keyscan", "ssh-keygen", "ip"].iter().all(|t| {
            Command::new("sh")
                .args(["-c", &format!("command -v {t}")])
                .output()
                .is_ok_and(|o| o.status.success())
        })
        && (Path::new("/run/sshd").is_dir() || fs::create_dir_all("/run/sshd").is_ok());
    if !ok {
        skip(what, "needs root (unshare -n), /usr/sbin/sshd, ssh-keyscan, ssh-keygen, ip");
    }
    ok
}

/// Shell that starts `sshd -f CONFIG` inside the namespace and waits until it listens.
pub(crate) fn start_sshd(config: &Path, log: &Path, address: &str) -> String {
    format!(
        "ip link set lo up\n\
         /usr/sbin/sshd -f {config} -E {log}\n\
         i=0; while ! ssh-keyscan -T 1 -t ed25519 {address} >/dev/null 2>&1; do\n\
           i=$((i+1)); [ $i -lt 100 ] || {{ cat {log}; exit 1; }}; sleep 0.05; done\n",
        config = config.display(),
        log = log.display(),
    )
}

#[test]
fn keyscan_reads_a_real_sshds_key_and_prints_its_fingerprint() {
    if !can_run_namespaced_sshd("init keyscan test") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let key = d.join("host_key");
    keygen(&key);
    let config = d.join("sshd_config");
    fs::write(
        &config,
        format!(
            "ListenAddress 127.0.0.1\nPort 22\nHostKey {}\nPidFile {}/sshd.pid\nUsePAM no\n",
            key.display(),
            d.display()
        ),
    )
    .unwrap();
    let lab = d.join("lab");
    fs::create_dir(&lab).unwrap();
    let script = format!(
        "set -e\n{}cd {}\n{} init --name lab --cidr 192.168.1.0/24 --gateway 192.168.1.1 \
         --dns 192.168.1.1 --server vmhost1=lab@127.0.0.1 --bridge eno1 --workers 1 --keyscan\n\
         kill $(cat {}/sshd.pid)\n",
        start_sshd(&config, &d.join("sshd.log"), "127.0.0.1"),
        lab.display(),
        env!("CARGO_BIN_EXE_gen"),
        d.display()
    );
    let run = Run::from(
        Command::new("unshare")
            .args(["-n", "sh", "-c", &script])
            .stdin(Stdio::null())
            .output()
            .unwrap(),
    );
    run.code(0);

    let public = fs::read_to_string(key.with_extension("pub")).unwrap();
    let public: Vec<&str> = public.split_whitespace().take(2).collect();
    let site: toml::Table = fs::read_to_string(lab.join("site.toml")).unwrap().parse().unwrap();
    assert_eq!(site["hosts"]["vmhost1"]["host_key"].as_str(), Some(public.join(" ").as_str()));

    let fingerprint =
        Command::new("ssh-keygen").arg("-lf").arg(key.with_extension("pub")).output().unwrap();
    let fingerprint = String::from_utf8(fingerprint.stdout).unwrap();
    let sha = fingerprint.split_whitespace().nth(1).unwrap();
    assert!(sha.starts_with("SHA256:"));
    assert!(
        run.stdout.contains(&format!("vmhost1 (127.0.0.1 port 22): 256 {sha}")),
        "{}",
        run.stdout
    );
    assert!(run.stdout.contains("trust on first use"), "{}", run.stdout);
    assert!(run.stdout.contains("complete"), "{}", run.stdout);
    // The scanned site builds as it is.
    run_gen(&lab, &["build"]).code(0);
}
