//! What gen says at each verbosity (`-q`, default, `-v`; the table in `src/verbosity.rs`) and
//! what scripts read (`--json`).
//!
//! Tests that talk to servers run everything inside one fresh network namespace with only
//! loopback up (`unshare -n`): an OpenSSH sshd per server on 127.0.0.N port 22, with the apply
//! tests' stand-ins for sudo, systemd, Vagrant and VirtualBox on its PATH (`tests/apply/stubs/`),
//! and every gen command of the test run one after the other in that namespace, each one's
//! stdout, stderr and exit status kept in files. Nothing can leave the machine.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use crate::apply::{HostSpec, keygen, public_key, site};
use crate::init::{can_run_namespaced_sshd, start_sshd};

/// One gen command's result.
pub(crate) struct Run {
    pub(crate) code: i32,
    pub(crate) stdout: String,
    pub(crate) stderr: String,
    /// ssh logins each server had accepted when the command ended (from its sshd's log).
    pub(crate) logins: Vec<usize>,
}

impl Run {
    #[track_caller]
    pub(crate) fn code(&self, code: i32) -> &Run {
        assert_eq!(self.code, code, "stdout:\n{}\nstderr:\n{}", self.stdout, self.stderr);
        self
    }
}

/// A lab folder whose hosts `h1`… are sshds at 127.0.0.1… inside the namespace a `session`
/// makes.
pub(crate) struct Lab {
    dir: tempfile::TempDir,
    servers: usize,
}

impl Lab {
    /// `None` (SKIPPED, or a failure with `CI` set) where a namespaced sshd cannot run.
    pub(crate) fn new(servers: usize, what: &str) -> Option<Lab> {
        if !can_run_namespaced_sshd(what) {
            return None;
        }
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        keygen(&d.join("client_key"));
        fs::write(
            d.join("ssh_config"),
            format!("IdentityFile {}/client_key\nIdentitiesOnly yes\n", d.display()),
        )
        .unwrap();
        let stubs = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/apply/stubs");
        let mut hosts = Vec::new();
        for n in 1..=servers {
            let server = d.join(format!("server{n}"));
            fs::create_dir_all(server.join("units")).unwrap();
            keygen(&server.join("host_key"));
            let s = server.display();
            fs::write(
                server.join("sshd_config"),
                format!(
                    "ListenAddress 127.0.0.{n}\nPort 22\nHostKey {s}/host_key\n\
                     AuthorizedKeysFile {d}/client_key.pub\nUsePAM no\nStrictModes no\n\
                     PasswordAuthentication no\nKbdInteractiveAuthentication no\n\
                     PidFile {s}/sshd.pid\nLogLevel VERBOSE\n\
                     SetEnv PATH={stubs}:/usr/bin:/bin GEN_UNIT_DIR={s}/units GEN_TEST_DIR={s} \
                     GEN_TEST_LAN={d}/lan\n",
                    d = d.display(),
                    stubs = stubs.display(),
                ),
            )
            .unwrap();
            hosts.push(HostSpec {
                name: format!("h{n}"),
                address: format!("127.0.0.{n}"),
                port: 22,
                root: server.join("root"),
                host_key: public_key(&server.join("host_key")),
            });
        }
        fs::create_dir(d.join("lab")).unwrap();
        fs::write(d.join("lab/site.toml"), site(&hosts, 2)).unwrap();
        Some(Lab { dir, servers })
    }

    pub(crate) fn site_folder(&self) -> PathBuf {
        self.dir.path().join("lab")
    }

    pub(crate) fn server(&self, n: usize) -> PathBuf {
        self.dir.path().join(format!("server{n}"))
    }

    /// Starts the servers in a fresh network namespace, runs each of `commands` (gen's
    /// arguments) in the site folder, one after the other, and stops the servers.
    pub(crate) fn session(&self, commands: &[&[&str]]) -> Vec<Run> {
        let d = self.dir.path();
        let mut script = String::from("ip link set lo up\n");
        for n in 1..=self.servers {
            let server = self.server(n);
            let address = format!("127.0.0.{n}");
            script += &start_sshd(&server.join("sshd_config"), &server.join("sshd.log"), &address);
        }
        script += &format!("cd {}\n", self.site_folder().display());
        for (i, args) in commands.iter().enumerate() {
            let line: Vec<String> =
                args.iter().map(|a| format!("'{}'", a.replace('\'', r"'\''"))).collect();
            script += &format!(
                "{gen} {line} >{d}/{i}.out 2>{d}/{i}.err; echo $? >{d}/{i}.code\n",
                gen = env!("CARGO_BIN_EXE_gen"),
                line = line.join(" "),
                d = d.display(),
            );
            for n in 1..=self.servers {
                script += &format!(
                    "grep -c 'Accepted publickey' {log} >>{d}/{i}.logins || true\n",
                    log = self.server(n).join("sshd.log").display(),
                    d = d.display(),
                );
            }
        }
        for n in 1..=self.servers {
            script += &format!("kill $(cat {}/sshd.pid)\n", self.server(n).display());
        }
        let output = Command::new("unshare")
            .args(["-n", "sh", "-c", &script])
            .env(labgen::apply::CONFIG_VARIABLE, d.join("ssh_config"))
            .env_remove("NO_COLOR")
            .stdin(Stdio::null())
            .output()
            .unwrap();
        assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
        (0..commands.len())
            .map(|i| {
                let read = |ext: &str| fs::read_to_string(d.join(format!("{i}.{ext}"))).unwrap();
                Run {
                    code: read("code").trim().parse().unwrap(),
                    stdout: read("out"),
                    stderr: read("err"),
                    logins: read("logins").lines().map(|l| l.parse().unwrap()).collect(),
                }
            })
            .collect()
    }
}

/// gen in `dir` without servers: no namespace needed.
fn gen_in(dir: &Path, args: &[&str]) -> Run {
    let output = Command::new(env!("CARGO_BIN_EXE_gen"))
        .args(args)
        .current_dir(dir)
        .stdin(Stdio::null())
        .output()
        .unwrap();
    Run {
        code: output.status.code().unwrap(),
        stdout: String::from_utf8(output.stdout).unwrap(),
        stderr: String::from_utf8(output.stderr).unwrap(),
        logins: Vec::new(),
    }
}

#[test]
fn quiet_build_says_only_its_warning_and_quiet_check_still_answers() {
    let dir = tempfile::tempdir().unwrap();
    let site = Path::new(env!("CARGO_MANIFEST_DIR")).join("site.toml");
    fs::copy(site, dir.path().join("site.toml")).unwrap();
    // This repository's site puts two of three etcd members on vmhost1: a warning.
    let run = gen_in(dir.path(), &["build", "-q"]);
    run.code(0);
    assert_eq!(run.stdout, "", "no progress with -q");
    assert!(run.stderr.starts_with("warning: `vmhost1` holds 2 of the 3 etcd"), "{}", run.stderr);
    assert!(dir.path().join("out/manifest.toml").is_file(), "it built");
    let loud = gen_in(dir.path(), &["build"]);
    loud.code(0);
    assert!(loud.stdout.contains("is up to date"), "{}", loud.stdout);
    assert_eq!(loud.stderr, run.stderr, "the same warning at both levels");
    // `check`'s verdict is its answer: -q keeps it.
    let check = gen_in(dir.path(), &["--quiet", "check"]);
    check.code(0);
    assert_eq!(check.stdout, "`out` is up to date with `site.toml`\n");
    fs::write(dir.path().join("out/kubespray/inventory/hosts.yaml"), "edited\n").unwrap();
    let check = gen_in(dir.path(), &["check", "-q"]);
    check.code(1);
    assert!(
        check.stdout.contains("changed  out/kubespray/inventory/hosts.yaml"),
        "{}",
        check.stdout
    );
    let both = gen_in(dir.path(), &["-q", "-v", "check"]);
    both.code(2);
    assert!(both.stderr.contains("cannot be used with"), "{}", both.stderr);
}

#[test]
fn verbose_shows_every_ssh_and_rsync_gen_runs_and_quiet_shows_no_progress() {
    let Some(lab) = Lab::new(2, "verbosity test") else { return };
    let runs = lab.session(&[
        &["build"],
        &["apply", "h1", "-v"],
        &["apply", "--all", "-q"],
        &["status", "-q"],
        &["apply", "h2"],
    ]);
    runs[0].code(0);

    // -v: each command on stderr as `+ …`, as sh -x shows them; the progress as by default.
    let verbose = &runs[1];
    verbose.code(0);
    assert!(verbose.stdout.contains("h1: create    cp-1"), "{}", verbose.stdout);
    let shown: Vec<&str> = verbose.stderr.lines().filter(|l| l.starts_with("+ ")).collect();
    let ssh: Vec<&&str> = shown.iter().filter(|l| l.starts_with("+ ssh ")).collect();
    let rsync: Vec<&&str> = shown.iter().filter(|l| l.starts_with("+ rsync ")).collect();
    assert_eq!(ssh.len() + rsync.len(), shown.len(), "{shown:?}");
    assert!(!ssh.is_empty() && rsync.len() == 1, "{shown:?}");
    let user = crate::apply::current_user();
    for line in &ssh {
        assert!(line.contains("-o StrictHostKeyChecking=yes"), "{line}");
        let to = |n| line.ends_with(&format!(" -T {user}@127.0.0.{n} 'sh -s'"));
        assert!(to(1) || to(2), "{line}");
    }
    assert!(rsync[0].contains(&format!("{user}@127.0.0.1:")), "{}", rsync[0]);
    assert!(rsync[0].contains(" -e 'ssh "), "rsync's own ssh is shown: {}", rsync[0]);
    // Every command shown logged in once (rsync's ssh too), and no login went unshown, on
    // either server (h1's apply reads h2 when its plan needs to know what h2 runs).
    for n in 1..=2 {
        let shown = shown.iter().filter(|l| l.contains(&format!("@127.0.0.{n}"))).count();
        assert_eq!(shown, verbose.logins[n - 1] - runs[0].logins[n - 1], "server {n}");
    }

    // -q: an apply that changes a server says nothing on success; status's table stays.
    let quiet = &runs[2];
    quiet.code(0);
    assert_eq!(quiet.stdout, "", "no progress with -q");
    // Outside git, apply warns that it sends `out/` unreviewed: a warning stays with -q.
    assert_eq!(
        quiet.stderr,
        "warning: `out` is not checked against a commit: it is not in a git work tree; gen \
         applies it as it is on disk\n",
        "no note, no command line"
    );
    let status = &runs[3];
    status.code(0);
    assert!(status.stdout.contains("h1  up to date") && status.stdout.contains("h2  up to date"));
    // By default an apply reports what it did.
    runs[4].code(0);
    assert!(runs[4].stdout.starts_with("h2: up to date at"), "{}", runs[4].stdout);
    assert!(!runs[4].stderr.contains("+ ssh"), "no command lines without -v");
}
