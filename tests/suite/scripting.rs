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

use serde_json::Value;
use std::process::{Command, Stdio};

use crate::apply::{HostSpec, public_key, site};
use crate::init::{can_run_namespaced_sshd, start_sshd};
use crate::support::{self, keygen, run_gen};

/// One gen command's result in a session: the run, and the ssh logins each server had
/// accepted when the command ended (from its sshd's log).
pub(crate) struct Run {
    run: support::Run,
    pub(crate) logins: Vec<usize>,
}

impl std::ops::Deref for Run {
    type Target = support::Run;

    fn deref(&self) -> &support::Run {
        &self.run
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
            // VirtualBox's driver is loaded (`/dev/vboxdrv`, GEN_VBOXDRV in apply.sh).
            fs::write(server.join("vboxdrv"), "").unwrap();
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
                     GEN_TEST_LAN={d}/lan GEN_VBOXDRV={s}/vboxdrv\n",
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
    /// arguments; `["!", LINE]` runs the shell line LINE instead) in the site folder, one after
    /// the other, and stops the servers.
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
            let line = if let ["!", line] = args {
                (*line).to_string()
            } else {
                let words: Vec<String> =
                    args.iter().map(|a| format!("'{}'", a.replace('\'', r"'\''"))).collect();
                format!("{} {}", env!("CARGO_BIN_EXE_gen"), words.join(" "))
            };
            script += &format!(
                "{line} >{d}/{i}.out 2>{d}/{i}.err; echo $? >{d}/{i}.code\n",
                d = d.display()
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
                    run: support::Run {
                        code: read("code").trim().parse().unwrap(),
                        stdout: read("out"),
                        stderr: read("err"),
                    },
                    logins: read("logins").lines().map(|l| l.parse().unwrap()).collect(),
                }
            })
            .collect()
    }
}

#[test]
fn quiet_build_says_only_its_warning_and_quiet_check_still_answers() {
    let dir = tempfile::tempdir().unwrap();
    let site = Path::new(env!("CARGO_MANIFEST_DIR")).join("site.toml");
    fs::copy(site, dir.path().join("site.toml")).unwrap();
    // This repository's site puts two of three etcd members on vmhost1: a warning.
    let run = run_gen(dir.path(), &["build", "-q"]);
    run.code(0);
    assert_eq!(run.stdout, "", "no progress with -q");
    assert!(run.stderr.starts_with("warning: `vmhost1` holds 2 of the 3 etcd"), "{}", run.stderr);
    assert!(dir.path().join("out/manifest.toml").is_file(), "it built");
    let loud = run_gen(dir.path(), &["build"]);
    loud.code(0);
    assert!(loud.stdout.contains("is up to date"), "{}", loud.stdout);
    assert_eq!(loud.stderr, run.stderr, "the same warning at both levels");
    // `check`'s verdict is its answer: -q keeps it.
    let check = run_gen(dir.path(), &["--quiet", "check"]);
    check.code(0);
    assert_eq!(check.stdout, "`out` is up to date with `site.toml`\n");
    fs::write(dir.path().join("out/kubespray/inventory/hosts.yaml"), "edited\n").unwrap();
    let check = run_gen(dir.path(), &["check", "-q"]);
    check.code(1);
    assert!(
        check.stdout.contains("changed  out/kubespray/inventory/hosts.yaml"),
        "{}",
        check.stdout
    );
    let both = run_gen(dir.path(), &["-q", "-v", "check"]);
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

/// The tree hash `out/manifest.toml` gives a host.
fn manifest_hash(lab: &Lab, host: &str) -> String {
    let text = fs::read_to_string(lab.site_folder().join("out/manifest.toml")).unwrap();
    labgen::manifest::parse(&text).unwrap().hosts[host].clone()
}

fn parse(run: &support::Run) -> Value {
    assert!(!run.stdout.contains("note:"), "stdout is only the JSON: {}", run.stdout);
    serde_json::from_str(&run.stdout).unwrap_or_else(|e| panic!("{e}: {}", run.stdout))
}

/// `(name, state, ip)` of each VM of a server in `status --json`.
fn vms(server: &Value) -> Vec<(String, String, String)> {
    let text = |v: &Value| v.as_str().unwrap().to_string();
    let vms = server["vms"].as_array().unwrap();
    vms.iter().map(|vm| (text(&vm["name"]), text(&vm["state"]), text(&vm["ip"]))).collect()
}

fn owned(items: &[(&str, &str, &str)]) -> Vec<(String, String, String)> {
    items.iter().map(|(a, b, c)| (a.to_string(), b.to_string(), c.to_string())).collect()
}

#[test]
fn status_json_gives_each_server_with_its_vms_before_and_after_an_apply() {
    let Some(lab) = Lab::new(2, "status --json test") else { return };
    let runs = lab.session(&[
        &["build"],
        &["status", "--json"],
        &["apply", "--all", "-q"],
        &["!", &format!("rm {}/systemd/active/lab-vm@w-2.service", lab.server(2).display())],
        &["status", "--json"],
        &["status", "h1", "--json"],
    ]);
    runs[0].code(0);
    let before = parse(runs[1].code(1));
    assert_eq!(before["format"], 1);
    assert_eq!(before["stale"], false);
    let servers = before["servers"].as_array().unwrap();
    assert_eq!(servers.len(), 2);
    for (n, server) in servers.iter().enumerate() {
        let host = format!("h{}", n + 1);
        assert_eq!(server["name"], host.as_str());
        assert_eq!(server["address"], format!("127.0.0.{}", n + 1).as_str());
        assert_eq!(server["standing"], "never-applied");
        assert_eq!(server["current"], Value::Null);
        assert_eq!(server["wanted"], manifest_hash(&lab, &host).as_str());
        assert_eq!(server["busy"], false);
    }
    // Nothing is on the servers yet: every VM out/ gives them is absent, at out/'s address.
    assert_eq!(
        vms(&servers[0]),
        owned(&[("cp-1", "absent", "192.168.1.21"), ("w-1", "absent", "192.168.1.31")])
    );
    assert_eq!(vms(&servers[1]), owned(&[("w-2", "absent", "192.168.1.32")]));
    assert!(servers[0]["vms"].as_array().unwrap().iter().all(|vm| vm["wanted"] == true));
    assert_eq!(servers[0]["vms"][0]["role"], "control-plane");
    assert_eq!(servers[0]["vms"][1]["role"], "worker");

    runs[2].code(0);
    runs[3].code(0);
    // After the apply every VM runs but w-2, whose unit the test stopped: exit 0, up to date.
    let after = parse(runs[4].code(0));
    let servers = after["servers"].as_array().unwrap();
    for (n, server) in servers.iter().enumerate() {
        let host = format!("h{}", n + 1);
        assert_eq!(server["standing"], "up-to-date", "{server}");
        assert_eq!(server["current"], manifest_hash(&lab, &host).as_str());
        assert_eq!(server["current"], server["wanted"]);
    }
    assert_eq!(
        vms(&servers[0]),
        owned(&[("cp-1", "running", "192.168.1.21"), ("w-1", "running", "192.168.1.31")])
    );
    assert_eq!(vms(&servers[1]), owned(&[("w-2", "stopped", "192.168.1.32")]));
    assert!(runs[4].stderr.is_empty(), "{}", runs[4].stderr);
    // One host: only it.
    let one = parse(runs[5].code(0));
    let names: Vec<&str> =
        one["servers"].as_array().unwrap().iter().map(|s| s["name"].as_str().unwrap()).collect();
    assert_eq!(names, ["h1"]);
}

#[test]
fn dry_run_json_gives_the_plans_typed_steps_in_the_order_the_text_gives_them() {
    let Some(lab) = Lab::new(2, "apply --dry-run --json test") else { return };
    let runs = lab.session(&[
        &["build"],
        &["apply", "--all", "--dry-run", "--json"],
        &["apply", "--all", "--dry-run"],
        &["apply", "h1", "-q"],
        &["apply", "--all", "--dry-run", "--json"],
        &["apply", "h1", "--json"],
    ]);
    runs[0].code(0);
    let plan = parse(runs[1].code(0));
    assert_eq!(plan["format"], 1);
    // One control plane: etcd has no quorum to keep, said as a note.
    let notes = plan["notes"].as_array().unwrap();
    assert!(notes.len() == 1 && notes[0].as_str().unwrap().contains("1 etcd member"), "{notes:?}");
    let servers = plan["servers"].as_array().unwrap();
    assert_eq!(servers.len(), 2);
    // Every step of the JSON, in its `order`, is the text's line at that place.
    let mut steps: Vec<(u64, String, String, Option<String>)> = Vec::new();
    for server in servers {
        let name = server["name"].as_str().unwrap().to_string();
        assert_eq!(server["current"], Value::Null);
        assert_eq!(server["wanted"], manifest_hash(&lab, &name).as_str());
        assert_eq!(server["error"], Value::Null);
        let files = server["files"].as_array().unwrap();
        assert!(files.iter().all(|f| f["change"] == "add"), "first apply: {files:?}");
        let paths: Vec<&str> = files.iter().map(|f| f["path"].as_str().unwrap()).collect();
        assert!(paths.contains(&"apply.sh") && paths.contains(&"machines.toml"), "{paths:?}");
        let mut last = None;
        for step in server["steps"].as_array().unwrap() {
            let order = step["order"].as_u64().unwrap();
            assert!(last.is_none_or(|l| l < order), "a server's steps in plan order");
            last = Some(order);
            let node = step["node"].as_str().map(String::from);
            assert_eq!(node.is_some(), step["why"].is_string(), "{step}");
            steps.push((order, name.clone(), step["step"].as_str().unwrap().to_string(), node));
        }
    }
    steps.sort();
    let orders: Vec<u64> = steps.iter().map(|s| s.0).collect();
    assert_eq!(orders, (0..steps.len() as u64).collect::<Vec<_>>(), "one order a step");
    let text = &runs[2].code(0).stdout;
    let lines: Vec<&str> =
        text.lines().filter(|l| l.starts_with('h') && !l.contains("dry run")).collect();
    assert_eq!(lines.len(), steps.len(), "{text}");
    for ((_, server, step, node), line) in steps.iter().zip(&lines) {
        let (name, rest) = line.split_once(": ").unwrap();
        assert_eq!(name, server, "{line}");
        let word = rest.split_whitespace().next().unwrap();
        let word = match word {
            "install" => "install-unit",
            "retire" => "retire-unit",
            w => w,
        };
        assert_eq!(word, step, "{line}");
        if let Some(node) = node {
            assert_eq!(rest.split_whitespace().nth(1), Some(node.as_str()), "{line}");
        }
    }
    let h1: Vec<(&str, Option<&str>)> =
        steps.iter().filter(|s| s.1 == "h1").map(|s| (s.2.as_str(), s.3.as_deref())).collect();
    assert_eq!(
        h1,
        [
            ("send", None),
            ("keeper", None),
            ("box", None),
            ("switch", None),
            ("install-unit", None),
            ("create", Some("cp-1")),
            ("create", Some("w-1")),
            ("finish", None)
        ]
    );
    assert!(runs[2].stderr.contains("note: this lab has 1 etcd member"), "the text's note");

    // After h1's apply: h1 has nothing to do and leaves its VMs alone; h2 still all to do.
    runs[3].code(0);
    let plan = parse(runs[4].code(0));
    let h1 = &plan["servers"][0];
    assert_eq!(h1["current"], h1["wanted"]);
    assert_eq!(h1["files"], Value::Array(vec![]));
    assert_eq!(h1["steps"], Value::Array(vec![]));
    assert_eq!(h1["unchanged"], serde_json::json!(["cp-1", "w-1"]));
    let h2 = &plan["servers"][1];
    assert_eq!(h2["current"], Value::Null);
    assert!(h2["steps"].as_array().unwrap().iter().any(|s| s["node"] == "w-2"));
    // --json describes a plan: without --dry-run it is refused as a usage error.
    runs[5].code(2);
    assert!(runs[5].stderr.contains("--dry-run"), "{}", runs[5].stderr);
}

/// The terminal's width in the live-progress test.
const WIDTH: usize = 100;

/// The screens a terminal showed for `raw` (what a program wrote to it): one each time the
/// program moved the cursor up to redraw, and the last. A small VT100 model, enough for what
/// indicatif writes: text, `\r`, `\n`, cursor up and down (`ESC[nA`, `ESC[nB`), erase line
/// (`ESC[2K`, `ESC[K`) and erase below (`ESC[J`, `ESC[0J`); other sequences (colour, cursor visibility) are
/// dropped.
fn screens(raw: &str) -> Vec<Vec<String>> {
    // A character past the last column goes to the start of the next line (autowrap); indicatif
    // fills each line to the width and relies on it.
    let mut lines: Vec<Vec<char>> = vec![Vec::new()];
    let (mut row, mut col) = (0usize, 0usize);
    let mut shown = Vec::new();
    let snapshot = |lines: &Vec<Vec<char>>| -> Vec<String> {
        let mut screen: Vec<String> =
            lines.iter().map(|l| l.iter().collect::<String>().trim_end().to_string()).collect();
        while screen.last().is_some_and(String::is_empty) {
            screen.pop();
        }
        screen
    };
    let mut chars = raw.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\r' => col = 0,
            '\n' => {
                row += 1;
                col = 0;
                if row == lines.len() {
                    lines.push(Vec::new());
                }
            }
            '\u{1b}' => {
                if chars.peek() != Some(&'[') {
                    chars.next();
                    continue;
                }
                chars.next();
                let mut arg = String::new();
                let mut end = ' ';
                for c in chars.by_ref() {
                    if c.is_ascii_alphabetic() || c == '~' {
                        end = c;
                        break;
                    }
                    arg.push(c);
                }
                match end {
                    'A' => {
                        shown.push(snapshot(&lines));
                        row = row.saturating_sub(arg.parse().unwrap_or(1));
                    }
                    'B' => {
                        row += arg.parse().unwrap_or(1);
                        while row >= lines.len() {
                            lines.push(Vec::new());
                        }
                    }
                    'K' if arg == "2" => lines[row].clear(),
                    'K' => lines[row].truncate(col),
                    'J' if arg.is_empty() || arg == "0" => {
                        lines[row].truncate(col);
                        lines.truncate(row + 1);
                    }
                    _ => {}
                }
            }
            c if !c.is_control() => {
                if col == WIDTH {
                    row += 1;
                    col = 0;
                    if row == lines.len() {
                        lines.push(Vec::new());
                    }
                }
                let line = &mut lines[row];
                if line.len() <= col {
                    line.resize(col, ' ');
                    line.push(c);
                } else {
                    line[col] = c;
                }
                col += 1;
            }
            _ => {}
        }
    }
    shown.push(snapshot(&lines));
    shown
}

#[test]
fn the_terminal_model_redraws_in_place() {
    let raw = "a\nh1: up\nh2: wait\r\u{1b}[1A\u{1b}[2Kh1: done\n\u{1b}[2Kh2: up 1s\n";
    let screens = screens(raw);
    assert_eq!(screens[0], ["a", "h1: up", "h2: wait"]);
    assert_eq!(screens[1], ["a", "h1: done", "h2: up 1s"]);
    // Full-width lines wrap; indicatif's clear goes up, down and up again.
    let full = |text: &str| format!("{text:<WIDTH$}");
    let raw = format!(
        "{}{}\x1b[1A\r\x1b[2K\x1b[1B\r\x1b[2K\x1b[1A{}{}",
        full("h1: send"),
        full("h2: send"),
        full("h1: done"),
        full("h2: box")
    );
    let screens = self::screens(&raw);
    assert_eq!(screens.len(), 3, "{screens:?}");
    assert_eq!(screens[0], ["h1: send", "h2: send"]);
    assert_eq!(screens.last().unwrap(), &["h1: done", "h2: box"]);
}

#[test]
fn on_a_terminal_apply_all_keeps_one_live_line_per_server_with_its_step_and_time() {
    if Command::new("script").arg("--version").output().is_err() {
        assert!(std::env::var_os("CI").is_none(), "`script` (util-linux) is missing in CI");
        eprintln!("SKIPPED: `script` from util-linux is not installed");
        return;
    }
    let Some(lab) = Lab::new(2, "live progress test") else { return };
    // Each VM takes 1.5 s to boot, so that a step's elapsed time is seen to count.
    for n in 1..=2 {
        fs::write(lab.server(n).join("boot_seconds"), "1.5").unwrap();
    }
    // `script`'s pty has no size until one is set: 100 columns, as the model wraps.
    let terminal = format!(
        "TERM=xterm-256color script -qec 'stty cols {WIDTH} rows 40 && exec {} apply --all' \
         /dev/null",
        env!("CARGO_BIN_EXE_gen")
    );
    let runs = lab.session(&[&["build"], &["!", &terminal], &["apply", "--all"]]);
    runs[0].code(0);
    runs[1].code(0);
    let raw = &runs[1].stdout;
    let screens = screens(raw);
    let last = screens.last().unwrap();
    // The live lines are gone at the end: what is left is what a log would end with.
    assert!(last.iter().any(|l| l.starts_with("h1: applied ")), "{last:#?}");
    assert!(last.iter().any(|l| l.starts_with("h2: applied ")), "{last:#?}");
    assert!(last.iter().any(|l| l == "applied 2 of 2 servers"), "{last:#?}");
    let steps = ["send ", "switch ", "install ", "box ", "create ", "finish "];
    let is_step = |l: &str| steps.iter().any(|s| l.contains(&format!(": {s}")));
    assert!(!last.iter().any(|l| is_step(l)), "no step line is left: {last:#?}");
    // While it ran: one line per server, redrawn in place, each with its step and the time
    // that step has taken.
    let live: Vec<&Vec<String>> = screens
        .iter()
        .filter(|s| {
            let h1 = s.iter().filter(|l| l.contains("h1: ")).count();
            let h2 = s.iter().filter(|l| l.contains("h2: ")).count();
            h1 == 1 && h2 == 1
        })
        .collect();
    assert!(live.len() >= 2, "{screens:#?}");
    let booting_for = |screen: &Vec<String>, host: &str| {
        screen.iter().find_map(|l| {
            let at = l.find(&format!("{host}: create "))?;
            let seconds = l.trim_end().rsplit(' ').next()?.strip_suffix('s')?;
            Some((at, seconds.parse::<u32>().ok()?))
        })
    };
    for host in ["h1", "h2"] {
        let times: Vec<u32> =
            live.iter().filter_map(|s| booting_for(s, host)).map(|(_, t)| t).collect();
        assert!(times.contains(&0) && times.contains(&1), "{host}'s boot counted: {screens:#?}");
    }
    let says = |screen: &Vec<String>, text: &str| screen.iter().any(|l| l.contains(text));
    // A step's latest output line shows on its server's line: the box download's progress.
    assert!(
        live.iter().any(|s| s.iter().any(|l| l.contains("h1: box: box: Progress: "))),
        "the box's progress is shown live: {screens:#?}"
    );
    assert!(
        live.iter().any(|s| says(s, "h1: done") && !says(s, "h2: done")),
        "a server that is done says so while another works: {screens:#?}"
    );
    // Piped (runs[2], nothing left to do), or with one server: plain lines, no redraw.
    runs[2].code(0);
    assert!(!runs[2].stdout.contains('\u{1b}'), "{}", runs[2].stdout);
}
