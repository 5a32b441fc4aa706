//! The README's sudoers line against the real sudo (issue 10, point 1). The apply tests use a
//! stand-in sudo that models sudoers matching; this asks Debian's sudo itself, with the line
//! the README gives for the example lab as its only rule for the user, whether the user may run
//! each root command `apply.sh` runs, exactly as `gen apply` asks it (`sudo -n -l COMMAND`,
//! program named bare, found in sudo's `secure_path`).
//!
//! Nothing on the machine changes: each question runs in a private mount namespace
//! (`unshare -m`, and `-n`: no network) where a copy of `/etc/passwd`, `/etc/group` and
//! `/etc/shadow` with the lab's user added, and the test's sudoers file, are bind-mounted over
//! the real ones, and `/run` (sudo's time stamps) is a fresh tmpfs; the question is asked as
//! that user (`setpriv`), so sudo's own set-uid start, policy and matching are what answer.
//!
//! This machine (Debian 12, usrmerge) has systemctl only as `/usr/bin/systemctl` reached
//! through the `/bin -> usr/bin` link, as Ubuntu 22.04 and 24.04 do: the README's
//! `/bin/systemctl` matching it is the claim of `src/sudo.rs` (base name, then the
//! canonicalized folder) shown on a real sudo 1.9.

use std::fs;
use std::os::unix::fs::PermissionsExt as _;
use std::path::Path;
use std::process::Command;

use labgen::layout;
use labgen::sudo::{Root, UNITS_DIR, of_step};

use crate::support::skip;

/// Ubuntu's default sudoers sets it (and Debian's); `apply.sh` relies on it to find programs.
const SECURE_PATH: &str = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

/// The uid and gid the lab's user gets in the namespace.
const UID: u32 = 4242;

struct Answer {
    allowed: bool,
    stdout: String,
    stderr: String,
}

/// A machine whose sudoers is `rules` for `user`, asked through the real sudo.
struct Machine {
    dir: tempfile::TempDir,
}

impl Machine {
    fn new(user: &str, rules: &str) -> Machine {
        let dir = tempfile::tempdir().unwrap();
        let add = |file: &str, line: String| {
            let mut text = fs::read_to_string(Path::new("/etc").join(file)).unwrap();
            if !text.ends_with('\n') {
                text.push('\n');
            }
            fs::write(dir.path().join(file), text + &line + "\n").unwrap();
        };
        add("passwd", format!("{user}:x:{UID}:{UID}::/home/{user}:/bin/sh"));
        add("group", format!("{user}:x:{UID}:"));
        add("shadow", format!("{user}:*:19000:0:99999:7:::"));
        let sudoers = dir.path().join("sudoers");
        fs::write(
            &sudoers,
            format!(
                "Defaults secure_path=\"{SECURE_PATH}\"\nDefaults lecture=never\n\
                 root ALL=(ALL:ALL) ALL\n{rules}\n"
            ),
        )
        .unwrap();
        // sudo refuses a sudoers file that others may write, or that is not root's.
        fs::set_permissions(&sudoers, fs::Permissions::from_mode(0o440)).unwrap();
        Machine { dir }
    }

    /// `sudo -n -l COMMAND`, as the user, as `gen apply` asks it.
    fn may(&self, command: &str) -> Answer {
        let script = "set -e\n\
            for f in passwd group shadow sudoers; do mount --bind \"$D/$f\" /etc/$f; done\n\
            mount -t tmpfs tmpfs /run\n\
            exec setpriv --reuid=\"$ID\" --regid=\"$ID\" --clear-groups sudo -n -l \"$@\"\n";
        let output = Command::new("unshare")
            .args(["-m", "-n", "--propagation", "private", "sh", "-c", script, "sh"])
            .args(command.split(' '))
            .env("D", self.dir.path())
            .env("ID", UID.to_string())
            .env_remove("SUDO_ASKPASS")
            .output()
            .unwrap();
        Answer {
            allowed: output.status.success(),
            stdout: String::from_utf8_lossy(&output.stdout).trim().to_string(),
            stderr: String::from_utf8_lossy(&output.stderr).trim().to_string(),
        }
    }
}

/// Root, sudo, `unshare` and `setpriv`; in CI a missing one fails the test.
fn can_run() -> bool {
    let root = crate::support::is_root();
    let tools = ["sudo", "unshare", "setpriv"]
        .iter()
        .all(|t| Command::new(t).arg("--version").output().is_ok_and(|o| o.status.success()));
    if root && tools {
        return true;
    }
    skip(
        "the real-sudo test",
        "needs root, sudo (Debian package `sudo`, .ci/install-tools), unshare and setpriv",
    );
    false
}

/// The README's line, as a user copies it into `/etc/sudoers.d/gen-<cluster>`.
fn readme_line() -> String {
    let readme = include_str!("../../README.md");
    let block = readme.split("<!-- sudoers-line -->").nth(1).expect("the marked block");
    block.lines().nth(2).expect("the line").trim().to_string()
}

/// Every command line `apply.sh` runs as root on the example's first server, for each of its
/// VMs, as `gen apply` asks sudo about them.
fn root_commands() -> (String, Vec<String>) {
    let built = labgen::build(include_str!("../../site.toml"), "site.toml").unwrap();
    let host = &built.site.hosts[0];
    let root = Root {
        root: host.root.as_str(),
        cluster: &built.site.cluster,
        user: host.user.as_str(),
        provider: host.provider,
    };
    let files = root.unit_files();
    let nodes: Vec<&str> =
        built.site.nodes.iter().filter(|n| n.host == host.name).map(|n| n.name.as_str()).collect();
    let mut commands = Vec::new();
    for step in ["install-unit", "retire-unit", "keeper"] {
        commands.extend(of_step(step, None, &files).iter().map(|c| root.argv(c, UNITS_DIR)));
    }
    for node in &nodes {
        for step in ["create", "start", "reload", "halt", "destroy"] {
            for command in of_step(step, Some(node), &files) {
                commands.push(root.argv(&command, UNITS_DIR));
            }
        }
    }
    commands.sort();
    commands.dedup();
    (host.user.to_string(), commands)
}

#[test]
fn the_readme_line_lets_the_real_sudo_run_every_root_command_of_apply_sh_and_nothing_near() {
    if !can_run() {
        return;
    }
    let (user, commands) = root_commands();
    let line = readme_line();
    assert!(line.starts_with(&format!("{user} ALL=(root) NOPASSWD: ")), "{line}");
    let machine = Machine::new(&user, &line);
    for command in &commands {
        let answer = machine.may(command);
        assert!(answer.allowed, "sudo refuses `{command}`: {}", answer.stderr);
        // sudo names the program it found in secure_path: the rule's /bin/systemctl (and
        // /bin/rm) matched the /usr/bin one through the usrmerge link.
        let (program, args) = command.split_once(' ').unwrap();
        assert_eq!(answer.stdout, format!("/usr/bin/{program} {args}"), "`{command}`");
    }
    assert!(commands.iter().any(|c| c.starts_with("systemctl enable --now --quiet lab-vm@")));
    assert!(commands.iter().any(|c| c == "systemctl start gen-vboxsvc@lab.service"));

    // What the line does not allow: other units, other files, other modes, other verbs.
    let staged = "/home/lab/gen/lab/units/lab-vm@.service";
    for near in [
        "systemctl stop ssh.service".to_string(),
        "systemctl start gen-vboxsvc@root.service".to_string(),
        "systemctl daemon-reexec".to_string(),
        "systemctl mask lab-vm@k8s-cp-1.service".to_string(),
        format!("install -m 0755 {staged} /etc/systemd/system/lab-vm@.service"),
        "install -m 0644 /tmp/evil.service /etc/systemd/system/lab-vm@.service".to_string(),
        format!("install -m 0644 {staged} /etc/systemd/system/ssh.service"),
        "rm -f /etc/systemd/system/ssh.service".to_string(),
        "rm -rf /etc/systemd/system/lab-vm@.service".to_string(),
        "sh -c id".to_string(),
    ] {
        let answer = machine.may(&near);
        assert!(!answer.allowed, "the line also allows `{near}`: {}", answer.stdout);
    }

    // Without the line (a rule that needs a password, as a fresh account in `sudo` has), the
    // same question is refused without a prompt: `-n` makes sudo say so instead of asking.
    let without = Machine::new(&user, &format!("{user} ALL=(ALL:ALL) ALL"));
    let answer = without.may(&commands[0]);
    assert!(!answer.allowed, "{}", answer.stdout);
    assert!(answer.stderr.contains("a password is required"), "{}", answer.stderr);
}

/// Each step's branch of the rendered `apply.sh` runs exactly the root commands `of_step`
/// says, in that order: what `gen apply` checks is what runs. For a VirtualBox server (the
/// example's) and a libvirt one (the golden case `mixed-providers`). Needs neither root nor sudo.
#[test]
fn apply_sh_runs_the_root_commands_of_each_step() {
    let common = ["install-unit", "retire-unit", "create", "start", "reload", "halt", "destroy"];
    let example = include_str!("../../site.toml");
    let mixed = include_str!("../../golden-tests/mixed-providers/site.toml");
    for (text, host, only) in
        [(example, "vmhost1", &["keeper"][..]), (mixed, "kvm1", &["launch", "wait"][..])]
    {
        let built = labgen::build(text, "site.toml").unwrap();
        let host = built.site.hosts.iter().find(|h| h.name.as_str() == host).unwrap();
        let path = format!("{}/{}", layout::host_dir(host.name.as_str()), layout::APPLY);
        let text = String::from_utf8(built.tree.get(&path).unwrap().bytes.clone()).unwrap();
        let root = Root {
            root: host.root.as_str(),
            cluster: &built.site.cluster,
            user: host.user.as_str(),
            provider: host.provider,
        };
        let files = root.unit_files();
        for step in common.iter().chain(only) {
            let branch = text
                .split(";;\n")
                .find(|b| {
                    b.lines().any(|l| l.split(" | ").any(|w| w.trim_end_matches(')') == *step))
                })
                .unwrap_or_else(|| panic!("no branch for {step}"));
            // `if ! sudo -n ...; then` counts as the command it runs.
            let ran: Vec<&str> = branch
                .lines()
                .filter_map(|l| l.find("sudo -n").map(|at| l[at..].trim_end_matches("; then")))
                .collect();
            let want: Vec<String> =
                of_step(step, Some("x"), &files).iter().map(|c| root.shell(c)).collect();
            assert_eq!(ran, want, "step {step} on {}", host.name);
        }
    }
}
