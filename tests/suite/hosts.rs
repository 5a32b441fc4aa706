//! `hosts.*.address` and `hosts.*.host_key` against the real tools.
//!
//! Addresses against the real resolver: gen refuses every string that glibc's
//! `inet_aton` (what `getaddrinfo`, so ssh and rsync, falls back to for a numeric host) reads as
//! an IPv4 address, unless it is the plain dotted quad of that very address; and it never
//! claims a resolver reads a string that `inet_aton` refuses.
//!
//! The resolver is libc's own `inet_aton`, reached through python3's `socket.inet_aton`: it
//! parses, it sends nothing. The strings are every join of one to four parts from a list of
//! number forms (decimal, octal, hex, bounds, near misses) with `.`: 16 + 16² + 16³ + 16⁴.
//!
//! Host keys against OpenSSH: every key type `ssh-keygen` makes is taken, as the key line and as
//! the line `ssh-keyscan` prints, and written as `type key`; a key `ssh-keygen -l` refuses
//! (cut short, grown, renamed) gen refuses too, and so is an RSA key under 2048 bits.

use std::io::Write as _;
use std::process::{Command, Stdio};

use std::fs;
use std::path::Path;

use labgen::problem::Problem;
use labgen::site::{Address, HostKey};

use crate::support::tool_runs;

const PARTS: &[&str] = &[
    "0",
    "1",
    "01",
    "08",
    "0x",
    "0x1f",
    "0XfF",
    "255",
    "256",
    "65535",
    "4294967295",
    "a",
    "0x1g",
    "1e",
    "-1",
    "+1",
];

fn candidates() -> Vec<String> {
    let mut all: Vec<String> = PARTS.iter().map(ToString::to_string).collect();
    let mut last = all.clone();
    for _ in 1..4 {
        last = last.iter().flat_map(|a| PARTS.iter().map(move |p| format!("{a}.{p}"))).collect();
        all.extend(last.iter().cloned());
    }
    all.extend(["0xc0a80115", "3232235797", "192.168.001.10", "0x7f.1"].map(String::from));
    all
}

#[test]
fn every_string_inet_aton_reads_as_an_address_is_refused_unless_it_is_that_dotted_quad() {
    if !tool_runs("python3", "--version", "the inet_aton test", "python3") {
        return;
    }
    let candidates = candidates();
    let script = "import socket, sys\n\
        for line in sys.stdin.read().split('\\n')[:-1]:\n\
        \x20   try:\n\
        \x20       print(socket.inet_ntoa(socket.inet_aton(line)))\n\
        \x20   except OSError:\n\
        \x20       print('-')\n";
    let mut child = Command::new("python3")
        .args(["-c", script])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let input: String = candidates.iter().map(|c| format!("{c}\n")).collect();
    child.stdin.take().unwrap().write_all(input.as_bytes()).unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success());
    let answers: Vec<String> =
        String::from_utf8(out.stdout).unwrap().lines().map(str::to_string).collect();
    assert_eq!(answers.len(), candidates.len());

    let mut wrong = Vec::new();
    let mut read_as_ipv4 = 0;
    for (c, libc) in candidates.iter().zip(&answers) {
        let ours = Address::parse(c);
        let ok = match (libc.as_str(), &ours) {
            // libc refuses it: gen never says a resolver reads it as an address.
            ("-", Err(Problem::AddressReadAsIpv4 { .. })) => false,
            ("-", _) => true,
            // The canonical dotted quad of what libc reads: gen takes it (or refuses the
            // address itself, like 0.0.0.0, for what it is).
            (ip, Ok(_)) => ip == c,
            (ip, Err(Problem::BadAddress { .. })) => ip == c,
            (ip, Err(Problem::AddressReadAsIpv4 { ip: said, .. })) => {
                read_as_ipv4 += 1;
                said == ip && ip != c
            }
            _ => false,
        };
        if !ok {
            wrong.push(format!("{c:?}: libc reads {libc}, gen says {ours:?}"));
        }
    }
    assert!(read_as_ipv4 > 1_000, "only {read_as_ipv4} strings libc reads as addresses");
    assert!(wrong.is_empty(), "{} of {}:\n{}", wrong.len(), candidates.len(), wrong.join("\n"));
}

/// `ssh-keygen -l` on a public key line: whether OpenSSH can read it as a key.
fn openssh_reads(dir: &Path, line: &str) -> bool {
    let file = dir.join("probe.pub");
    fs::write(&file, format!("{line}\n")).unwrap();
    let out = Command::new("ssh-keygen").arg("-l").arg("-f").arg(&file).output().unwrap();
    out.status.success()
}

#[test]
fn host_keys_are_what_openssh_reads_and_are_written_as_type_and_key() {
    if !tool_runs("ssh-keygen", "-?", "the host key test", "openssh-client") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let mut checked = 0;
    for (kind, bits) in [
        ("ed25519", 0),
        ("rsa", 2048),
        ("rsa", 3072),
        ("ecdsa", 256),
        ("ecdsa", 384),
        ("ecdsa", 521),
    ] {
        let key = dir.path().join(format!("{kind}{bits}"));
        let mut keygen = Command::new("ssh-keygen");
        keygen.args(["-q", "-N", "", "-C", "root@vmhost1", "-t", kind]).arg("-f").arg(&key);
        if bits > 0 {
            keygen.args(["-b", &bits.to_string()]);
        }
        assert!(keygen.status().unwrap().success());
        let line = fs::read_to_string(key.with_extension("pub")).unwrap();
        let fields: Vec<&str> = line.split_whitespace().collect();
        let want = format!("{} {}", fields[0], fields[1]);
        for pasted in [line.clone(), want.clone(), format!("192.168.1.10 {want}")] {
            let got = HostKey::parse(&pasted).map(|k| k.to_string());
            assert_eq!(got, Ok(want.clone()), "{pasted}");
        }
        // Cut short by a base64 quantum, grown by one, renamed to another type.
        let body = fields[1];
        let other = if fields[0] == "ssh-ed25519" { "ssh-rsa" } else { "ssh-ed25519" };
        for broken in [
            format!("{} {}", fields[0], &body[..body.len() - 4]),
            format!("{} {}AAAA", fields[0], body),
            format!("{other} {body}"),
        ] {
            assert!(!openssh_reads(dir.path(), &broken), "ssh-keygen reads {broken}");
            assert!(HostKey::parse(&broken).is_err(), "gen takes {broken}");
            checked += 1;
        }
    }
    // OpenSSH reads a 1024-bit RSA key; gen refuses it, with the bound.
    let key = dir.path().join("rsa1024");
    let status = Command::new("ssh-keygen")
        .args(["-q", "-N", "", "-t", "rsa", "-b", "1024", "-f"])
        .arg(&key)
        .status()
        .unwrap();
    assert!(status.success());
    let line = fs::read_to_string(key.with_extension("pub")).unwrap();
    assert!(openssh_reads(dir.path(), line.trim()));
    match HostKey::parse(line.trim()) {
        Err(Problem::BadKey { why, .. }) => assert!(why.contains("1024 bits"), "{why}"),
        other => panic!("{other:?}"),
    }
    assert_eq!(checked, 18);
}

/// A host key pasted as `ssh-keyscan` prints it, or with a comment, is kept as the bare
/// `type key` (what apply puts after the host field of its known_hosts) and builds the same
/// tree.
#[test]
fn a_pasted_host_key_line_builds_the_same_tree_as_the_bare_key() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let text = fs::read_to_string(root.join("site.toml")).unwrap();
    let key1 = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAID6K0gt3z0GigMUFpyQDyNaE/dTt9fhvEJ1xoH+becVy";
    let key2 = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIHwCCtkByEotFWeQbBovmOZfTrDpg04EsAoQ9r7YD+Xg";
    assert!(text.contains(key1) && text.contains(key2));
    let pasted = text
        .replace(key1, &format!("192.168.1.10 {key1}"))
        .replace(key2, &format!("{key2} root@vmhost2"));
    let files = |text: &str| {
        let built = labgen::build(text, "site.toml").unwrap();
        built
            .tree
            .iter()
            .filter(|(path, _)| *path != labgen::tree::MANIFEST)
            .map(|(path, file)| (path.to_string(), file.bytes.clone()))
            .collect::<Vec<_>>()
    };
    // What `gen apply` writes into its known_hosts file after the host field.
    let keys: Vec<String> = labgen::build(&pasted, "site.toml")
        .unwrap()
        .site
        .hosts
        .iter()
        .map(|h| h.host_key.to_string())
        .collect();
    assert_eq!(keys, [key1, key2]);
    assert!(files(&text) == files(&pasted), "a pasted host key line changed what gen writes");
}
