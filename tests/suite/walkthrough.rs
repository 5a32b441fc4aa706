//! The README's first-lab walk-through, word for word: the shell block after
//! `<!-- walk-through -->` is run line by line by `sh -e`, from a clone's root, inside a network
//! namespace and a mount namespace of its own (`unshare -n -m`), so nothing leaves the machine
//! and nothing on it changes:
//!
//! - the namespace's loopback carries the README's server address `192.168.1.10`, where a real
//!   OpenSSH sshd listens on port 22 (the `--keyscan` and `gen apply` steps talk to it);
//! - `/home` is a fresh tmpfs, holding `~` (HOME points there, so `~/lab` is the lab) and the
//!   server's default root `/home/lab/gen/lab`;
//! - the README's ssh user `lab` exists only in that namespace (bind-mounted copies of
//!   /etc/passwd and /etc/shadow name uid 0 `lab` too);
//! - the server's PATH has the recording stand-ins of `tests/apply/stubs/` for sudo, systemctl
//!   and vagrant, as in `apply.rs`; the client's key comes from `GEN_SSH_CONFIG`.
//!
//! `cargo install --path .` runs for real (into a temporary root, with a temporary target
//! folder, offline) when `CI` or `GEN_TEST_INSTALL` is set; otherwise, to spare a cold build on
//! every local run, the binary this test suite built is put where it would install, and the test
//! says so.

use std::fs;
use std::path::Path;
use std::process::{Command, Stdio};

use crate::init::can_run_namespaced_sshd;
use crate::support::keygen;

const MARKER: &str = "<!-- walk-through -->";

/// The lines of the README's walk-through block.
fn walkthrough() -> Vec<String> {
    let readme =
        fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("README.md")).unwrap();
    let after =
        &readme[readme.find(MARKER).expect("the README marks its walk-through") + MARKER.len()..];
    let block = after.trim_start().strip_prefix("```sh\n").expect("a sh block follows the marker");
    let block = &block[..block.find("```").unwrap()];
    block.lines().map(str::to_string).collect()
}

fn quote(path: &Path) -> String {
    let s = path.to_str().unwrap();
    assert!(!s.contains('\''), "{s}");
    format!("'{s}'")
}

#[test]
fn the_readme_walkthrough_works_word_for_word_in_a_fresh_folder() {
    if !can_run_namespaced_sshd("walk-through test") {
        return;
    }
    let lines = walkthrough();
    assert!(lines[0].starts_with("cargo install"), "{lines:?}");
    assert!(lines.iter().any(|l| l.starts_with("gen apply")), "{lines:?}");

    let dir = tempfile::tempdir().unwrap();
    let t = dir.path();
    keygen(&t.join("host_key"));
    keygen(&t.join("client_key"));
    let stubs = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/apply/stubs");
    fs::create_dir(t.join("units")).unwrap();
    // VirtualBox's driver is loaded (`/dev/vboxdrv`, GEN_VBOXDRV in apply.sh's preflight).
    fs::write(t.join("vboxdrv"), "").unwrap();
    fs::write(
        t.join("sshd_config"),
        format!(
            "ListenAddress 192.168.1.10\nPort 22\nHostKey {d}/host_key\nPidFile {d}/sshd.pid\n\
             AuthorizedKeysFile {d}/client_key.pub\nUsePAM no\nStrictModes no\n\
             PasswordAuthentication no\nKbdInteractiveAuthentication no\n\
             SetEnv PATH={}:/usr/bin:/bin GEN_UNIT_DIR={d}/units GEN_TEST_DIR={d} \
             GEN_VBOXDRV={d}/vboxdrv\n",
            stubs.display(),
            d = t.display()
        ),
    )
    .unwrap();
    fs::write(
        t.join("ssh_config"),
        format!("IdentityFile {}/client_key\nIdentitiesOnly yes\n", t.display()),
    )
    .unwrap();

    let install_for_real =
        std::env::var_os("CI").is_some() || std::env::var_os("GEN_TEST_INSTALL").is_some();
    let bin = t.join("cargo/bin");
    let mut script = format!(
        "set -e\n\
         ip link set lo up\n\
         ip addr add 192.168.1.10/32 dev lo\n\
         mount -t tmpfs tmpfs /home\n\
         cp /etc/passwd {t}/passwd && echo 'lab:x:0:0:lab:/home/lab:/bin/sh' >> {t}/passwd\n\
         cp /etc/shadow {t}/shadow && echo 'lab:*:19000:0:99999:7:::' >> {t}/shadow\n\
         mount --bind {t}/passwd /etc/passwd\n\
         mount --bind {t}/shadow /etc/shadow\n\
         mkdir -p /home/lab /home/you\n\
         /usr/sbin/sshd -f {t}/sshd_config -E {t}/sshd.log\n\
         i=0; while ! ssh-keyscan -T 1 -t ed25519 192.168.1.10 >/dev/null 2>&1; do\n\
           i=$((i+1)); [ $i -lt 100 ] || {{ cat {t}/sshd.log; exit 1; }}; sleep 0.05; done\n\
         cd {repo}\n",
        t = quote(t),
        repo = quote(Path::new(env!("CARGO_MANIFEST_DIR"))),
    );
    for line in &lines {
        if line.starts_with("cargo install") && !install_for_real {
            script += &format!(
                "mkdir -p {bin} && cp {gen} {bin}/gen  # instead of: {line}\n",
                bin = quote(&bin),
                gen = quote(Path::new(env!("CARGO_BIN_EXE_gen")))
            );
        } else {
            script += &format!("echo '+ {}'\n{line}\n", line.replace('\'', ""));
        }
    }
    // The server's state lives in this namespace's /home: keep what the test checks.
    script += &format!(
        "readlink /home/lab/gen/lab/current > {t}/current\n\
         git log --oneline > {t}/log\n\
         cp site.toml {t}/site.toml\n\
         kill $(cat {t}/sshd.pid)\n",
        t = quote(t)
    );
    if !install_for_real {
        eprintln!(
            "note: walk-through test: `cargo install --path .` replaced by a copy of the built \
             binary (set GEN_TEST_INSTALL=1 to run it; CI does)"
        );
    }

    let home = std::env::var("HOME").unwrap_or_else(|_| "/root".into());
    let cargo_home = std::env::var("CARGO_HOME").unwrap_or_else(|_| format!("{home}/.cargo"));
    let rustup_home = std::env::var("RUSTUP_HOME").unwrap_or_else(|_| format!("{home}/.rustup"));
    let path = format!("{}:{}", bin.display(), std::env::var("PATH").unwrap());
    let output = Command::new("unshare")
        .args(["-n", "-m", "--propagation", "private", "sh", "-c", &script])
        .env("HOME", "/home/you")
        .env("PATH", path)
        .env("CARGO_HOME", cargo_home)
        .env("RUSTUP_HOME", rustup_home)
        .env("CARGO_INSTALL_ROOT", t.join("cargo"))
        .env("CARGO_TARGET_DIR", t.join("target"))
        .env("CARGO_NET_OFFLINE", "true")
        .env("GEN_SSH_CONFIG", t.join("ssh_config"))
        .env("GIT_AUTHOR_NAME", "you")
        .env("GIT_AUTHOR_EMAIL", "you@example.invalid")
        .env("GIT_COMMITTER_NAME", "you")
        .env("GIT_COMMITTER_EMAIL", "you@example.invalid")
        .env_remove("CARGO")
        .env_remove("RUSTFLAGS")
        .stdin(Stdio::null())
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "stdout:\n{stdout}\nstderr:\n{stderr}");

    // The key gen trusted is the server's, and its fingerprint was shown.
    let host_key = fs::read_to_string(t.join("host_key.pub")).unwrap();
    let host_key: Vec<&str> = host_key.split_whitespace().take(2).collect();
    let site: toml::Table = fs::read_to_string(t.join("site.toml")).unwrap().parse().unwrap();
    assert_eq!(site["hosts"]["vmhost1"]["host_key"].as_str(), Some(host_key.join(" ").as_str()));
    assert!(stdout.contains("vmhost1 (192.168.1.10 port 22): 256 SHA256:"), "{stdout}");
    // The commit was made, and the server runs the generation gen built.
    let log = fs::read_to_string(t.join("log")).unwrap();
    assert!(log.contains("lab: first build"), "{log}");
    // The server recorded the commit the generation came from, and status names it.
    let short = log.split_whitespace().next().unwrap();
    assert!(stdout.contains(&format!("from commit {short}")), "{stdout}");
    let current = fs::read_to_string(t.join("current")).unwrap();
    assert!(current.starts_with("generations/"), "{current}");
    let units: Vec<_> =
        fs::read_dir(t.join("units")).unwrap().map(|e| e.unwrap().file_name()).collect();
    assert!(!units.is_empty(), "apply.sh installed the units");
}
