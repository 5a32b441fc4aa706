//! `gen init` end to end in temporary folders: the file it writes from flags builds, or fails
//! only with "missing" for what was not said; it never replaces a file without `--force`; values
//! `gen build` would refuse are refused before anything is written; and `--keyscan` reads the
//! host key of a real OpenSSH sshd, run on loopback inside a network namespace of its own
//! (`unshare -n`), and prints the fingerprint `ssh-keygen -lf` gives for the server's key file.
//! Its questions are answered on a real pseudo-terminal, each answer typed only once its prompt
//! is on the screen: the answers taken are the file's, a wrong one is asked again with its error
//! and never written, Ctrl-D writes nothing, and off a terminal nothing is asked.

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
    assert_eq!(
        node_lines(&site),
        [
            "k8s-cp-1 control-plane vmhost1 192.168.1.21",
            "k8s-cp-2 control-plane vmhost2 192.168.1.22",
            "k8s-cp-3 control-plane vmhost1 192.168.1.23",
            "k8s-w-1 worker vmhost2 192.168.1.24",
            "k8s-w-2 worker vmhost1 192.168.1.25",
        ]
    );

    // Only what gen cannot know is missing: the host keys.
    builds_once_the_host_keys_are_filled_in(dir.path(), &text);
}

/// Each node of a site init wrote, as `name role host ip`.
fn node_lines(site: &toml::Table) -> Vec<String> {
    site["nodes"]
        .as_table()
        .unwrap()
        .iter()
        .map(|(name, n)| {
            let field = |k: &str| n[k].as_str().unwrap();
            format!("{name} {} {} {}", field("role"), field("host"), field("ip"))
        })
        .collect()
}

/// The site init wrote in `dir` (`text`) lacks only the two servers' host keys, which gen
/// cannot know, so `gen build` writes nothing; with them filled in it builds and checks.
fn builds_once_the_host_keys_are_filled_in(dir: &Path, text: &str) {
    let build = run_gen(dir, &["build"]);
    build.code(2);
    let (missing, other) = build_errors(&build);
    assert_eq!(missing, ["hosts.vmhost1.host_key", "hosts.vmhost2.host_key"]);
    assert!(other.is_empty(), "{other:?}");
    assert!(!dir.join("out").exists());

    let filled = text
        .replace("# host_key = \"ssh-ed25519 AAAA…\"", &format!("host_key = \"{SOME_HOST_KEY}\""));
    fs::write(dir.join("site.toml"), filled).unwrap();
    run_gen(dir, &["build"]).code(0);
    run_gen(dir, &["check"]).code(0);
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

/// What a terminal showed while `gen init` was answered on it, and how gen exited.
struct Typed {
    transcript: String,
    code: i32,
}

/// `gen ARGS` in `dir` on a pseudo-terminal, answered as a person would: each answer is typed
/// (with Enter; `None` is Ctrl-D) only once its prompt is on the screen, by `tests/init/answer.py`
/// over python3's `pty`. `None` (SKIPPED, or a failure with `CI` set) without python3.
fn answer_gen(dir: &Path, args: &[&str], steps: &[(&str, Option<&str>)]) -> Option<Typed> {
    if Command::new("python3").arg("--version").output().is_err() {
        assert!(std::env::var_os("CI").is_none(), "python3 is missing in CI");
        eprintln!("SKIPPED: python3 is not installed");
        return None;
    }
    let steps = serde_json::to_string(steps).unwrap();
    let output = Command::new("python3")
        .arg(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/init/answer.py"))
        .arg(steps)
        .arg(env!("CARGO_BIN_EXE_gen"))
        .args(args)
        .current_dir(dir)
        .env("NO_COLOR", "1")
        .stdin(Stdio::null())
        .output()
        .unwrap();
    let run = Run::from(output);
    run.code(0);
    let typed: serde_json::Value = serde_json::from_str(&run.stdout).unwrap();
    let transcript = typed["transcript"].as_str().unwrap().to_string();
    assert!(
        typed["stuck"].is_null(),
        "stuck at {}; the terminal showed:\n{transcript}",
        typed["stuck"]
    );
    Some(Typed { transcript, code: i32::try_from(typed["code"].as_i64().unwrap()).unwrap() })
}

const NAME: &str = "cluster name [lab]: ";
const CIDR: &str = "LAN (CIDR) the VMs bridge onto: ";
const SERVER: &str = "a VM server as NAME=USER@ADDRESS (empty: done): ";

#[test]
fn init_on_a_terminal_asks_again_until_an_answer_is_right_and_writes_the_answers() {
    let dir = tempfile::tempdir().unwrap();
    let gateway = "its router (gateway) [192.168.7.1]: ";
    let bridge = "the servers' NIC the VMs bridge onto: ";
    let cps = "control-plane VMs (odd) [1]: ";
    let workers = "worker VMs [2]: ";
    let steps = [
        (NAME, Some("Lab_1")),
        (NAME, Some("home")),
        (CIDR, Some("192.168.7.0/33")),
        (CIDR, Some("192.168.7.0/24")),
        (gateway, Some("10.0.0.1")),
        (gateway, Some("")),
        ("DNS servers (comma separated) [192.168.7.1]: ", Some("192.168.7.1, 192.168.7.2")),
        (SERVER, Some("vmhost1")),
        (SERVER, Some("vmhost1=lab@192.168.7.10")),
        (SERVER, Some("vmhost2=admin@192.168.7.11:2222")),
        (SERVER, Some("")),
        (bridge, Some("enp3s0")),
        (cps, Some("2")),
        (cps, Some("3")),
        (workers, Some("two")),
        (workers, Some("1")),
    ];
    let Some(typed) = answer_gen(dir.path(), &["init"], &steps) else { return };
    let t = &typed.transcript;
    assert_eq!(typed.code, 0, "{t}");

    // Each wrong answer is refused with why, between its question and the same question again.
    let refusals = [
        (NAME, "Lab_1", "`cluster.name`"),
        (CIDR, "192.168.7.0/33", "expected a network such as 192.168.1.0/24"),
        (gateway, "10.0.0.1", "`network.gateway`"),
        (SERVER, "vmhost1", "expected NAME=USER@ADDRESS"),
        (cps, "2", "etcd needs an odd number"),
        (workers, "two", "expected a number"),
    ];
    for (question, answer, why) in refusals {
        let asked = format!("{question}{answer}\nerror: ");
        let at = t.find(&asked).unwrap_or_else(|| panic!("no refusal of {answer:?} in\n{t}"));
        let after = &t[at + asked.len()..];
        let again = after.find(question).unwrap_or_else(|| panic!("{question} not asked again"));
        assert!(after[..again].contains(why), "{answer:?} refused without {why:?}:\n{t}");
    }
    assert!(t.contains("wrote `site.toml` and `site.schema.json`"), "{t}");

    // The file holds the answers taken, none of the refused ones.
    let text = fs::read_to_string(dir.path().join("site.toml")).unwrap();
    for refused in ["Lab_1", "/33", "10.0.0.1"] {
        assert!(!text.contains(refused), "{refused} written:\n{text}");
    }
    let site: toml::Table = text.parse().unwrap();
    assert_eq!(site["cluster"]["name"].as_str(), Some("home"));
    let network = &site["network"];
    assert_eq!(network["cidr"].as_str(), Some("192.168.7.0/24"));
    assert_eq!(network["gateway"].as_str(), Some("192.168.7.1"));
    let dns: Vec<&str> =
        network["dns"].as_array().unwrap().iter().filter_map(|d| d.as_str()).collect();
    assert_eq!(dns, ["192.168.7.1", "192.168.7.2"]);
    let hosts: Vec<String> = site["hosts"]
        .as_table()
        .unwrap()
        .iter()
        .map(|(name, h)| {
            format!(
                "{name} {}@{}:{} {}",
                h["user"].as_str().unwrap(),
                h["address"].as_str().unwrap(),
                h.get("port").and_then(toml::Value::as_integer).unwrap_or(22),
                h["bridge"].as_str().unwrap()
            )
        })
        .collect();
    assert_eq!(
        hosts,
        ["vmhost1 lab@192.168.7.10:22 enp3s0", "vmhost2 admin@192.168.7.11:2222 enp3s0"]
    );
    assert_eq!(
        node_lines(&site),
        [
            "k8s-cp-1 control-plane vmhost1 192.168.7.21",
            "k8s-cp-2 control-plane vmhost2 192.168.7.22",
            "k8s-cp-3 control-plane vmhost1 192.168.7.23",
            "k8s-w-1 worker vmhost2 192.168.7.24",
        ]
    );

    // As from flags: only the host keys are missing, and filled in it builds.
    builds_once_the_host_keys_are_filled_in(dir.path(), &text);
}

#[test]
fn init_on_a_terminal_stops_at_ctrl_d_and_writes_nothing() {
    // Ctrl-D at the first question, after answers, in the list of servers, and after a refusal.
    let cases: [&[(&str, Option<&str>)]; 4] = [
        &[(NAME, None)],
        &[(NAME, Some("home")), (CIDR, Some("192.168.7.0/24")), ("[192.168.7.1]: ", None)],
        &[
            (NAME, Some("")),
            (CIDR, Some("")),
            ("its router (gateway): ", Some("")),
            ("DNS servers (comma separated): ", Some("")),
            (SERVER, Some("vmhost1=lab@192.168.7.10")),
            (SERVER, None),
        ],
        &[(NAME, Some("-bad-")), (NAME, None)],
    ];
    for steps in cases {
        let dir = tempfile::tempdir().unwrap();
        let Some(typed) = answer_gen(dir.path(), &["init"], steps) else { return };
        let t = &typed.transcript;
        assert_eq!(typed.code, 2, "{t}");
        assert!(t.contains("error: the input ended at `"), "{t}");
        assert!(t.contains("nothing was written"), "{t}");
        assert_eq!(fs::read_dir(dir.path()).unwrap().count(), 0, "{t}");
    }
}

#[test]
fn init_asks_only_what_the_flags_did_not_say_and_nothing_off_a_terminal() {
    // On a terminal, with every flag but --workers, the one question is the workers'.
    let dir = tempfile::tempdir().unwrap();
    let mut flags: Vec<&str> = FLAGS.to_vec();
    let at = flags.iter().position(|a| *a == "--workers").unwrap();
    flags.drain(at..at + 2);
    let Some(typed) = answer_gen(dir.path(), &flags, &[("worker VMs [2]: ", Some("4"))]) else {
        return;
    };
    assert_eq!(typed.code, 0, "{}", typed.transcript);
    for question in ["cluster name", "LAN (CIDR)", "gateway", "DNS", "VM server", "NIC", "control"]
    {
        assert!(!typed.transcript.contains(question), "{}", typed.transcript);
    }
    let site: toml::Table =
        fs::read_to_string(dir.path().join("site.toml")).unwrap().parse().unwrap();
    let workers =
        site["nodes"].as_table().unwrap().keys().filter(|k| k.starts_with("k8s-w-")).count();
    assert_eq!(workers, 4);

    // Answers on a pipe are not read: stdin is not a terminal, so nothing is asked, a choice
    // takes its default and a fact stays a hole.
    let dir = tempfile::tempdir().unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_gen"))
        .arg("init")
        .current_dir(dir.path())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let answers = "home\n192.168.7.0/24\n\n\nvmhost1=lab@192.168.7.10\n\neno1\n3\n1\n";
    // gen may exit before the pipe is read, or without reading it: a refused write is fine.
    let _ = std::io::Write::write_all(&mut child.stdin.take().unwrap(), answers.as_bytes());
    let run = Run::from(child.wait_with_output().unwrap());
    run.code(0);
    for question in [NAME, CIDR, SERVER, "worker VMs [2]: "] {
        run.never_says(question);
    }
    let site: toml::Table =
        fs::read_to_string(dir.path().join("site.toml")).unwrap().parse().unwrap();
    assert_eq!(site["cluster"]["name"].as_str(), Some("lab"));
    assert!(site["network"].get("cidr").is_none());
    assert!(site.get("hosts").is_none());
}
