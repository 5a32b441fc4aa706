//! `gen apply`, `gen status` and `gen rollback` against real servers: an OpenSSH `sshd` per
//! server on a loopback address, the system's ssh and rsync on the client side, and stand-ins
//! that keep state (`tests/apply/stubs/fake.py`) for sudo, systemd, Vagrant and VirtualBox on
//! the server's PATH: a VM registry with unique names, machines per Vagrant dotfile path,
//! hardware fixed at boot, a systemd that runs the units' Exec lines, and a LAN shared by the
//! servers of a test on which two running VMs with one address are logged as a clash.
//!
//! Each server is `/usr/sbin/sshd -D -f CONFIG -E LOG` with a generated host key, accepting a
//! generated client key for the current user (root in CI). Its sshd_config sets, for every
//! session, `PATH=stubs:/usr/bin:/bin`, `GEN_UNIT_DIR` (apply.sh installs units there instead of
//! /etc/systemd/system) and `GEN_TEST_DIR` (where the stubs log). The remote root of the host in
//! the site is `<server dir>/root`. gen reads the client key from the ssh_config named by
//! `GEN_SSH_CONFIG`, so nothing in ~/.ssh is used or changed.
//!
//! Without sshd (or the rights to run it) the tests print SKIPPED, and fail when `CI` is set.

use std::collections::BTreeMap;
use std::fs;
use std::io::Write as _;
use std::net::{TcpListener, TcpStream};
use std::os::unix::fs::{MetadataExt as _, PermissionsExt as _};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use walkdir::WalkDir;

use crate::support::{Run, keygen};

const SSHD: &str = "/usr/sbin/sshd";

/// The worker cpus in the site: changing them changes the workers' Vagrantfile and nothing else.
const CPUS: u32 = 2;

/// One test server: an sshd on its own loopback address.
struct Server {
    dir: tempfile::TempDir,
    address: String,
    port: u16,
    host_key: String,
    sshd: Child,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.sshd.kill();
        let _ = self.sshd.wait();
    }
}

impl Server {
    /// `address` is a loopback address of its own (127.0.0.N): site.toml refuses two hosts at
    /// one address.
    fn start(address: &str, client_key: &Path, lan: &Path) -> Server {
        let dir = tempfile::tempdir().unwrap();
        let key = dir.path().join("host_key");
        keygen(&key);
        let host_key = public_key(&key);
        fs::create_dir(dir.path().join("units")).unwrap();
        // VirtualBox's driver is loaded (`/dev/vboxdrv`, GEN_VBOXDRV in apply.sh).
        fs::write(dir.path().join("vboxdrv"), "").unwrap();
        let stubs = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/apply/stubs");
        for attempt in 0.. {
            let port = free_port(address);
            let config = dir.path().join("sshd_config");
            let d = dir.path().display();
            fs::write(
                &config,
                format!(
                    "ListenAddress {address}\nPort {port}\nHostKey {d}/host_key\n\
                     AuthorizedKeysFile {}.pub\nUsePAM no\nStrictModes no\n\
                     PasswordAuthentication no\nKbdInteractiveAuthentication no\n\
                     PidFile {d}/sshd.pid\nLogLevel VERBOSE\n\
                     SetEnv PATH={}:/usr/bin:/bin GEN_UNIT_DIR={d}/units GEN_TEST_DIR={d} \
                     GEN_TEST_LAN={} GEN_VBOXDRV={d}/vboxdrv\n",
                    client_key.display(),
                    stubs.display(),
                    lan.display(),
                ),
            )
            .unwrap();
            let log = dir.path().join("sshd.log");
            let mut sshd = Command::new(SSHD)
                .arg("-D")
                .arg("-f")
                .arg(&config)
                .arg("-E")
                .arg(&log)
                .stdin(Stdio::null())
                .spawn()
                .expect("sshd runs");
            let deadline = Instant::now() + Duration::from_secs(10);
            loop {
                if TcpStream::connect((address, port)).is_ok() {
                    return Server { dir, address: address.to_string(), port, host_key, sshd };
                }
                if let Some(status) = sshd.try_wait().unwrap() {
                    let log = fs::read_to_string(&log).unwrap_or_default();
                    // Another test may have taken the port between its probe and sshd's bind.
                    assert!(attempt < 5, "sshd exited ({status}):\n{log}");
                    break;
                }
                assert!(Instant::now() < deadline, "sshd did not listen on {address}:{port}");
                std::thread::sleep(Duration::from_millis(20));
            }
        }
        unreachable!()
    }

    fn root(&self) -> PathBuf {
        self.dir.path().join("root")
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    /// The stubs' calls since the last `forget`, each as (generation current then, command).
    fn calls(&self) -> Vec<(String, String)> {
        let text = fs::read_to_string(self.path("calls.log")).unwrap_or_default();
        text.lines()
            .map(|line| {
                let (current, call) = line.split_once(' ').unwrap();
                (current.trim_start_matches("generations/").to_string(), call.to_string())
            })
            .collect()
    }

    fn commands(&self) -> Vec<String> {
        self.calls().into_iter().map(|(_, call)| call).collect()
    }

    fn forget(&self) {
        let _ = fs::remove_file(self.path("calls.log"));
    }

    /// The generation a link under the root points at.
    fn link(&self, name: &str) -> Option<String> {
        let target = fs::read_link(self.root().join(name)).ok()?;
        Some(target.to_str()?.strip_prefix("generations/")?.to_string())
    }

    /// The fake VirtualBox registry: VM name → its record.
    fn vms(&self) -> BTreeMap<String, serde_yaml_ng::Value> {
        let text = fs::read_to_string(self.path("vbox.json")).unwrap_or_else(|_| "{}".into());
        serde_yaml_ng::from_str(&text).unwrap()
    }

    /// Names of the VMs that run, with their cpus.
    fn running(&self) -> BTreeMap<String, u64> {
        self.vms()
            .into_iter()
            .filter(|(_, vm)| vm["running"].as_bool().unwrap())
            .map(|(name, vm)| (name, vm["cpus"].as_u64().unwrap()))
            .collect()
    }

    /// The user's VBoxSVC as the stand-in VirtualBox keeps it (`svc.json`): `{}` when none runs.
    fn vboxsvc(&self) -> serde_yaml_ng::Value {
        let text = fs::read_to_string(self.path("svc.json")).unwrap_or_else(|_| "{}".into());
        serde_yaml_ng::from_str(&text).unwrap()
    }

    /// Runs a stand-in on the server as an ssh login would (cgroup "session"), with `env`.
    fn login(&self, lan: &Path, program: &str, args: &[&str]) -> Output {
        let stubs = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/apply/stubs");
        let mut command = if program.ends_with(".py") {
            let mut python = Command::new("python3");
            python.arg(stubs.join(program));
            python
        } else {
            Command::new(stubs.join(program))
        };
        command
            .args(args)
            .env("PATH", format!("{}:/usr/bin:/bin", stubs.display()))
            .env("GEN_TEST_DIR", self.dir.path())
            .env("GEN_TEST_LAN", lan)
            .env("GEN_UNIT_DIR", self.path("units"))
            .env("GEN_VBOXDRV", self.path("vboxdrv"))
            .env_remove("GEN_TEST_CGROUP")
            .output()
            .unwrap()
    }

    fn boots(&self, vm: &str) -> u64 {
        self.vms()[vm]["boots"].as_u64().unwrap()
    }

    /// The active VM units (the user's VBoxSVC keeper aside).
    fn active_units(&self) -> Vec<String> {
        let mut names: Vec<String> = self.all_active_units();
        names.retain(|u| !u.starts_with("gen-vboxsvc@"));
        names
    }

    fn all_active_units(&self) -> Vec<String> {
        let mut names: Vec<String> = fs::read_dir(self.path("systemd/active"))
            .map(|d| d.map(|e| e.unwrap().file_name().into_string().unwrap()).collect())
            .unwrap_or_default();
        names.sort();
        names
    }

    /// ssh logins the server accepted so far.
    fn logins(&self) -> usize {
        let log = fs::read_to_string(self.path("sshd.log")).unwrap_or_default();
        log.lines().filter(|l| l.contains("Accepted publickey")).count()
    }

    fn generations(&self) -> Vec<String> {
        let mut names: Vec<String> = fs::read_dir(self.root().join("generations"))
            .map(|d| d.map(|e| e.unwrap().file_name().into_string().unwrap()).collect())
            .unwrap_or_default();
        names.sort();
        names
    }
}

/// A host in the generated site.
pub(crate) struct HostSpec {
    pub(crate) name: String,
    pub(crate) address: String,
    pub(crate) port: u16,
    pub(crate) root: PathBuf,
    pub(crate) host_key: String,
}

/// A site folder on the client with the servers its hosts are.
struct Lab {
    dir: tempfile::TempDir,
    servers: Vec<Server>,
}

impl Lab {
    /// A lab of `servers` servers, hosts `h1`…, built; `None` (after saying SKIPPED) where sshd
    /// cannot run and `CI` is not set.
    fn new(servers: usize) -> Option<Lab> {
        if !can_run_sshd() {
            return None;
        }
        let dir = tempfile::tempdir().unwrap();
        let client_key = dir.path().join("client_key");
        keygen(&client_key);
        let config = format!(
            "IdentityFile {}\nIdentitiesOnly yes\n\
             # Speed only: the default post-quantum exchange costs a slow CI machine ~0.2 s.\n\
             KexAlgorithms curve25519-sha256\n",
            client_key.display()
        );
        fs::write(dir.path().join("ssh_config"), config).unwrap();
        let lan = dir.path().join("lan");
        let servers = (1..=servers)
            .map(|i| Server::start(&format!("127.0.0.{i}"), &client_key, &lan))
            .collect();
        let lab = Lab { dir, servers };
        lab.write_site(CPUS);
        lab.run(&["build"]).ok();
        Some(lab)
    }

    fn specs(&self) -> Vec<HostSpec> {
        self.servers
            .iter()
            .enumerate()
            .map(|(i, s)| HostSpec {
                name: format!("h{}", i + 1),
                address: s.address.clone(),
                port: s.port,
                root: s.root(),
                host_key: s.host_key.clone(),
            })
            .collect()
    }

    fn write_site(&self, worker_cpus: u32) {
        self.write_site_for(&self.specs(), worker_cpus);
    }

    fn write_site_for(&self, hosts: &[HostSpec], worker_cpus: u32) {
        fs::write(self.dir.path().join("site.toml"), site(hosts, worker_cpus)).unwrap();
    }

    /// Changes the workers' Vagrantfile of every host and builds.
    fn rebuild(&self, worker_cpus: u32) {
        self.write_site(worker_cpus);
        self.run(&["build"]).ok();
    }

    fn out(&self) -> PathBuf {
        self.dir.path().join("out")
    }

    /// The hash of `out/hosts/<host>/`, from the manifest.
    fn hash(&self, host: &str) -> String {
        let text = fs::read_to_string(self.out().join("manifest.toml")).unwrap();
        labgen::manifest::parse(&text).unwrap().hosts[host].clone()
    }

    fn command(&self, args: &[&str]) -> Command {
        let mut command = Command::new(env!("CARGO_BIN_EXE_gen"));
        command
            .args(args)
            .current_dir(self.dir.path())
            .env(labgen::apply::CONFIG_VARIABLE, self.dir.path().join("ssh_config"))
            .stdin(Stdio::null());
        command
    }

    fn run(&self, args: &[&str]) -> Run {
        Run::from(self.command(args).output().unwrap())
    }

    fn server(&self, n: usize) -> &Server {
        &self.servers[n - 1]
    }

    /// Addresses that two running VMs held at once, on any server of this lab.
    fn clashes(&self) -> String {
        fs::read_to_string(self.dir.path().join("lan/clashes.log")).unwrap_or_default()
    }
}

/// A lab whose hosts each run one control plane and one worker (`h1`: `cp-1` and `w-1`, …).
pub(crate) fn site(hosts: &[HostSpec], worker_cpus: u32) -> String {
    let mut text = String::from(
        "[cluster]\nname = \"lab\"\n\n[kubespray]\nversion = \"v2.31.0\"\n\n\
         [network]\ncidr = \"192.168.1.0/24\"\ngateway = \"192.168.1.1\"\ndns = [\"192.168.1.1\"]\n\n\
         [vagrant]\nbox = \"bento/ubuntu-24.04\"\nbox_version = \"202502.21.0\"\n\n\
         [addons]\nhelm = false\n",
    );
    let user = current_user();
    for (i, h) in hosts.iter().enumerate() {
        text += &format!(
            "\n[hosts.{}]\naddress = \"{}\"\nport = {}\nuser = \"{user}\"\nbridge = \"eno1\"\n\
             host_key = \"{}\"\nroot = \"{}\"\n",
            h.name,
            h.address,
            h.port,
            h.host_key,
            h.root.display()
        );
        // etcd wants an odd count: one control plane in all, on the first host.
        if i == 0 {
            text += &format!(
                "\n[nodes.cp-1]\nhost = \"{}\"\nrole = \"control-plane\"\nip = \"192.168.1.21\"\n",
                h.name
            );
        }
        text += &format!(
            "\n[nodes.w-{n}]\nhost = \"{}\"\nrole = \"worker\"\nip = \"192.168.1.{}\"\ncpus = {worker_cpus}\n",
            h.name,
            30 + i + 1,
            n = i + 1,
        );
    }
    text
}

pub(crate) fn current_user() -> String {
    let output = Command::new("id").arg("-un").output().unwrap();
    String::from_utf8(output.stdout).unwrap().trim().to_string()
}

/// `type base64` of a generated key, as site.toml takes it.
pub(crate) fn public_key(private: &Path) -> String {
    let text = fs::read_to_string(private.with_extension("pub")).unwrap();
    text.split_whitespace().take(2).collect::<Vec<_>>().join(" ")
}

fn free_port(address: &str) -> u16 {
    TcpListener::bind((address, 0)).unwrap().local_addr().unwrap().port()
}

fn can_run_sshd() -> bool {
    let tools = ["ssh", "ssh-keygen", "rsync"].iter().all(|t| {
        Command::new("sh")
            .arg("-c")
            .arg(format!("command -v {t}"))
            .output()
            .is_ok_and(|o| o.status.success())
    });
    // sshd refuses to start without its privilege separation folder; only root can make it.
    let privsep = Path::new("/run/sshd");
    let ready = Path::new(SSHD).exists()
        && tools
        && (privsep.is_dir() || fs::create_dir_all(privsep).is_ok())
        && current_user() == "root";
    if !ready {
        let why = "needs root, /usr/sbin/sshd, ssh, ssh-keygen and rsync (.ci/install-tools)";
        assert!(std::env::var_os("CI").is_none(), "apply tests cannot run: {why}");
        eprintln!("SKIPPED: apply tests {why}");
    }
    ready
}

/// Everything under `root` with what would show a change: kind, size, mode, inode, mtime.
fn snapshot(root: &Path) -> BTreeMap<PathBuf, (bool, u64, u32, u64, i64, i64)> {
    WalkDir::new(root)
        .into_iter()
        .map(|e| {
            let e = e.unwrap();
            let m = e.path().symlink_metadata().unwrap();
            let key = e.path().strip_prefix(root).unwrap().to_path_buf();
            (key, (m.is_dir(), m.len(), m.mode(), m.ino(), m.mtime(), m.mtime_nsec()))
        })
        .collect()
}

fn inode(path: &Path) -> u64 {
    fs::metadata(path).unwrap().ino()
}

macro_rules! lab {
    ($servers:expr) => {
        match Lab::new($servers) {
            Some(lab) => lab,
            None => return,
        }
    };
}

#[test]
fn first_apply_puts_the_tree_in_a_generation_and_creates_every_vm() {
    let lab = lab!(1);
    let server = lab.server(1);
    let hash = lab.hash("h1");
    lab.run(&["apply", "h1"])
        .ok()
        .says(&format!("h1: applied {} (first apply); sent", &hash[..12]))
        .says("h1: create    cp-1 (new on this server)")
        .says("h1: create    w-1 (new on this server)")
        .says("kubespray now needs, from this machine, in order:")
        .says("1. after every `gen apply`: ")
        .says("/kubespray/deploy.sh cluster.yml\n");

    assert_eq!(server.link("current"), Some(hash.clone()));
    assert_eq!(server.link("applied"), Some(hash.clone()));
    assert_eq!(server.link("previous"), None);
    assert!(!server.root().join("applying").exists());
    assert!(!server.root().join("staging").exists(), "staging is cleaned up");
    let generation = server.root().join("generations").join(&hash);
    let sent = labgen::diff::Disk::read(&generation).unwrap();
    let local = labgen::diff::Disk::read(&lab.out().join("hosts/h1")).unwrap();
    assert_eq!(sent, local, "same files, bytes and modes");
    assert_eq!(fs::metadata(generation.join("apply.sh")).unwrap().mode() & 0o777, 0o755);

    let unit = "lab-vm@.service";
    let installed = fs::read(server.path("units").join(unit)).unwrap();
    assert_eq!(installed, fs::read(generation.join("systemd").join(unit)).unwrap());
    assert_eq!(
        server.running(),
        BTreeMap::from([("lab-cp-1".to_string(), 2), ("lab-w-1".to_string(), u64::from(CPUS))])
    );
    assert_eq!(server.active_units(), ["lab-vm@cp-1.service", "lab-vm@w-1.service"]);
    for node in ["cp-1", "w-1"] {
        let vm = fs::canonicalize(server.root().join("vms").join(node)).unwrap();
        assert_eq!(vm, fs::canonicalize(generation.join("vms").join(node)).unwrap());
        assert!(server.root().join("state").join(node).join("machines").is_dir());
    }
    assert_eq!(lab.clashes(), "");
}

#[test]
fn reapplying_the_same_tree_sends_nothing_changes_nothing_and_logs_in_once() {
    let lab = lab!(1);
    let server = lab.server(1);
    lab.run(&["apply", "h1"]).ok();
    let root = server.root();
    let before = snapshot(&root);
    let vms = server.vms();
    server.forget();
    let logins = server.logins();

    let hash = lab.hash("h1");
    lab.run(&["apply", "h1"])
        .ok()
        .says(&format!("h1: up to date at {}; sent nothing, changed no VM", &hash[..12]));
    assert_eq!(snapshot(&root), before, "no file was written");
    assert_eq!(server.vms(), vms, "no VM was touched");
    let calls = server.commands();
    assert!(calls.iter().all(|c| c.starts_with("systemctl is-active")), "{calls:?}");
    assert_eq!(server.logins() - logins, 1, "one ssh login");
}

#[test]
fn a_changed_vm_sends_its_files_and_reloads_only_that_vm() {
    let lab = lab!(1);
    let server = lab.server(1);
    lab.run(&["apply", "h1"]).ok();
    let old = lab.hash("h1");
    let cp_boots = server.boots("lab-cp-1");
    lab.rebuild(CPUS + 1);
    let new = lab.hash("h1");
    server.forget();

    let files = labgen::diff::Disk::read(&lab.out().join("hosts/h1")).unwrap().iter().count();
    lab.run(&["apply", "h1"])
        .ok()
        .says(&format!("applied {} (was {}); sent 2 of {files} files", &new[..12], &old[..12]))
        .says(&format!("h1: reload    w-1 (cpus {CPUS} -> {})", CPUS + 1))
        .never_says("cp-1 (")
        .never_says("kubespray now needs");
    assert_eq!(server.link("current"), Some(new.clone()));
    assert_eq!(server.link("previous"), Some(old.clone()));
    assert_eq!(server.running()["lab-w-1"], u64::from(CPUS) + 1, "the new cpus took effect");
    assert_eq!(server.boots("lab-cp-1"), cp_boots, "the control plane was never halted");
    let generations = server.root().join("generations");
    let same = "vms/cp-1/Vagrantfile";
    assert_eq!(
        inode(&generations.join(&old).join(same)),
        inode(&generations.join(&new).join(same))
    );
    assert_eq!(lab.clashes(), "");
}

#[test]
fn a_wrong_host_key_is_refused_before_anything_is_sent() {
    let lab = lab!(1);
    let other = lab.dir.path().join("other_key");
    keygen(&other);
    let mut hosts = lab.specs();
    hosts[0].host_key = public_key(&other);
    lab.write_site_for(&hosts, CPUS);
    lab.run(&["build"]).ok();

    lab.run(&["apply", "h1"])
        .code(1)
        .says("`h1` (127.0.0.1 port")
        .says("did not present the host key in site.toml")
        .says("put `TYPE BASE64` into `host_key` of [hosts.h1]");
    assert!(!lab.server(1).root().exists(), "nothing was created on the server");
    lab.run(&["status"]).code(1).says("wrong host key");
}

#[test]
fn an_apply_killed_mid_transfer_leaves_the_previous_generation_current() {
    let lab = lab!(1);
    let server = lab.server(1);
    lab.run(&["apply", "h1"]).ok();
    let old = lab.hash("h1");
    lab.rebuild(CPUS + 1);

    // An rsync that sends 1 KiB a second, so that gen is killed with the transfer under way.
    let slow = lab.dir.path().join("slow-bin");
    fs::create_dir(&slow).unwrap();
    let rsync = slow.join("rsync");
    fs::write(&rsync, "#!/bin/sh\nexec /usr/bin/rsync --bwlimit=1 \"$@\"\n").unwrap();
    fs::set_permissions(&rsync, fs::Permissions::from_mode(0o755)).unwrap();
    let path = format!("{}:{}", slow.display(), std::env::var("PATH").unwrap());
    let mut child =
        lab.command(&["apply", "h1"]).env("PATH", path).stdout(Stdio::null()).spawn().unwrap();
    let staging = server.root().join("staging");
    let files_in = |dir: &Path| -> Vec<PathBuf> {
        WalkDir::new(dir)
            .into_iter()
            .filter_map(std::result::Result::ok)
            .filter(|e| e.file_type().is_file())
            .map(walkdir::DirEntry::into_path)
            .collect()
    };
    let deadline = Instant::now() + Duration::from_secs(20);
    while files_in(&staging).is_empty() {
        assert!(Instant::now() < deadline, "the transfer never started");
        assert!(child.try_wait().unwrap().is_none(), "gen finished before it could be killed");
        std::thread::sleep(Duration::from_millis(5));
    }
    let arrived = files_in(&staging);
    child.kill().unwrap();
    child.wait().unwrap();
    assert!(
        !arrived.iter().any(|f| f.ends_with("vms/w-1/Vagrantfile")),
        "gen was killed before the changed file arrived: {arrived:?}"
    );

    assert_eq!(server.link("current"), Some(old.clone()), "the previous generation is current");
    assert_eq!(server.generations(), std::slice::from_ref(&old), "no half generation has a name");
    assert!(!server.root().join("applying").exists());

    let new = lab.hash("h1");
    lab.run(&["apply", "h1"]).ok().says(&format!("applied {} (was {})", &new[..12], &old[..12]));
    assert_eq!(server.link("current"), Some(new));
    assert!(!staging.exists(), "the dead apply's staging folder is gone");
}

#[test]
fn two_applies_at_once_run_one_after_the_other() {
    let lab = lab!(1);
    let server = lab.server(1);
    // A second site folder for the same server, with another tree for it.
    let second = Lab { dir: tempfile::tempdir().unwrap(), servers: Vec::new() };
    fs::copy(lab.dir.path().join("ssh_config"), second.dir.path().join("ssh_config")).unwrap();
    second.write_site_for(&lab.specs(), CPUS + 1);
    second.run(&["build"]).ok();
    let (first_hash, second_hash) = (lab.hash("h1"), second.hash("h1"));

    // The first apply stops in its entrypoint, holding the lock, until the second one waits.
    fs::write(server.path("hold"), "").unwrap();
    let piped = |lab: &Lab| {
        let mut command = lab.command(&["apply", "h1"]);
        command.stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().unwrap()
    };
    let first = piped(&lab);
    let deadline = Instant::now() + Duration::from_secs(20);
    while server.calls().is_empty() {
        assert!(Instant::now() < deadline, "the first apply never reached its entrypoint");
        std::thread::sleep(Duration::from_millis(10));
    }
    let mut later = piped(&second);
    let mut stdout = std::io::BufReader::new(later.stdout.take().unwrap());
    let mut line = String::new();
    std::io::BufRead::read_line(&mut stdout, &mut line).unwrap();
    assert_eq!(line, "h1: waiting for the apply already running there\n");
    fs::remove_file(server.path("hold")).unwrap();
    Run::from(first.wait_with_output().unwrap()).ok();
    let mut rest = String::new();
    std::io::Read::read_to_string(&mut stdout, &mut rest).unwrap();
    let later = Run::from(later.wait_with_output().unwrap());
    later.ok();
    assert!(rest.contains(&format!("h1: applied {}", &second_hash[..12])), "{rest}");

    // sudo's answers to gen's check and the box step come before the first switch.
    let order: Vec<String> = server
        .calls()
        .into_iter()
        .filter(|(_, call)| !call.starts_with("sudo -n -l ") && !call.starts_with("vagrant box "))
        // The first apply's keeper step runs before any generation is current.
        .filter(|(current, _)| !current.is_empty())
        .map(|(current, _)| current)
        .collect();
    let switch = order.iter().position(|c| *c == second_hash).expect("the second apply ran");
    assert!(order[..switch].iter().all(|c| *c == first_hash), "{order:?}");
    assert!(order[switch..].iter().all(|c| *c == second_hash), "{order:?}");
    assert_eq!(server.link("current"), Some(second_hash.clone()));
    assert_eq!(server.link("previous"), Some(first_hash));
    assert_eq!(server.link("applied"), Some(second_hash));
}

#[test]
fn rollback_makes_the_previous_generation_current_and_reloads_what_differs() {
    let lab = lab!(1);
    let server = lab.server(1);
    lab.run(&["apply", "h1"]).ok();
    lab.run(&["rollback", "h1"]).code(1).says("`h1` has no previous generation");
    let old = lab.hash("h1");
    lab.rebuild(CPUS + 1);
    lab.run(&["apply", "h1"]).ok();
    let new = lab.hash("h1");
    server.forget();

    lab.run(&["rollback", "h1"])
        .ok()
        .says(&format!("h1: rolled back to {} (was {})", &old[..12], &new[..12]))
        .says("`gen apply h1` would make it current again");
    assert_eq!(server.link("current"), Some(old.clone()));
    assert_eq!(server.link("previous"), Some(new.clone()));
    assert_eq!(server.link("applied"), Some(old.clone()));
    let restarts: Vec<String> =
        server.commands().into_iter().filter(|c| c.starts_with("systemctl restart")).collect();
    assert_eq!(restarts, ["systemctl restart lab-vm@w-1.service"]);
    assert_eq!(server.running()["lab-w-1"], u64::from(CPUS));
    lab.run(&["status", "h1"]).code(1).says("behind").says(", rolled back");

    // A second rollback goes back to where the first started.
    lab.run(&["rollback", "h1"]).ok();
    assert_eq!(server.link("current"), Some(new));
}

#[test]
fn apply_all_refuses_to_create_vms_while_a_server_cannot_be_asked() {
    let lab = lab!(2);
    let mut hosts = lab.specs();
    hosts.push(HostSpec {
        name: "h3".into(),
        address: "127.0.0.3".into(),
        port: free_port("127.0.0.3"),
        root: lab.dir.path().join("nowhere"),
        host_key: hosts[0].host_key.clone(),
    });
    lab.write_site_for(&hosts, CPUS);
    lab.run(&["build"]).ok();

    // Not knowing what h3 runs, gen cannot tell whether a new VM would take an address a VM
    // there still has.
    lab.run(&["apply", "--all", "--dry-run"])
        .code(1)
        .says("h3 cannot be asked what it runs")
        .says("nothing was changed");
    lab.run(&["apply", "--all", "--jobs", "3"]).code(1).says("h3 cannot be asked what it runs");
    assert!(lab.server(1).vms().is_empty() && lab.server(2).vms().is_empty());
    assert!(lab.server(1).generations().is_empty() && lab.server(2).generations().is_empty());

    lab.write_site_for(&lab.specs(), CPUS);
    // h3's nodes were never deployed: dropping them needs no remove-node.yml.
    lab.run(&["build", "--allow-unremoved"]).ok();
    lab.run(&["apply", "--all", "--dry-run"])
        .ok()
        .says("h1: would apply")
        .says("h2: would apply")
        .says("previewed 2 of 2 servers");
    assert!(lab.server(1).generations().is_empty() && lab.server(2).generations().is_empty());
    lab.run(&["apply", "--all"])
        .ok()
        .says(&format!("h1: applied {} (first apply)", &lab.hash("h1")[..12]))
        .says(&format!("h2: applied {} (first apply)", &lab.hash("h2")[..12]))
        .says("applied 2 of 2 servers");
    for (n, host) in [(1, "h1"), (2, "h2")] {
        assert_eq!(lab.server(n).link("current"), Some(lab.hash(host)));
    }
    assert_eq!(lab.server(2).running().keys().collect::<Vec<_>>(), ["lab-w-2"]);
}

#[test]
fn dry_run_prints_the_plan_and_changes_nothing() {
    let lab = lab!(1);
    let server = lab.server(1);
    let root = server.root();
    lab.run(&["apply", "h1", "--dry-run"])
        .ok()
        .says("would apply")
        .says("for the first time; dry run, nothing was changed")
        .says("  add     apply.sh\n")
        .says("  add     vms/w-1/Vagrantfile\n")
        .says("h1: send ")
        .says("h1: switch    current to")
        .says("h1: install   the template unit\n")
        .says("h1: create    cp-1 (new on this server)\n")
        .says("h1: create    w-1 (new on this server)\n");
    assert!(!root.exists(), "a dry run creates nothing");

    lab.run(&["apply", "h1"]).ok();
    let old = lab.hash("h1");
    lab.rebuild(CPUS + 1);
    server.forget();
    let before = snapshot(&root);
    let dry = lab.run(&["apply", "h1", "--dry-run"]);
    dry.ok()
        .says(&format!("would replace {} with {}", &old[..12], &lab.hash("h1")[..12]))
        .says("  change  vms/w-1/Vagrantfile\n")
        .says(&format!("h1: reload    w-1 (cpus {CPUS} -> {})\n", CPUS + 1))
        .never_says("cp-1 (")
        .never_says("install")
        .never_says("add ");
    assert_eq!(snapshot(&root), before, "the server's files are untouched");
    assert!(
        server
            .commands()
            .iter()
            .all(|c| c.starts_with("systemctl is-active") || c.starts_with("sudo -n -l ")),
        "nothing but questions (what runs, what sudo allows) ran there: {:?}",
        server.commands()
    );
    // The apply runs the steps the dry run printed, in that order.
    let steps = |text: &str| -> Vec<String> {
        text.lines()
            .filter(|l| l.starts_with("h1: ") && !l.starts_with("h1: send"))
            .filter(|l| !l.contains("dry run") && !l.contains("applied"))
            .map(String::from)
            .collect()
    };
    let run = lab.run(&["apply", "h1"]);
    run.ok();
    assert_eq!(steps(&run.stdout), steps(&dry.stdout));
}

#[test]
fn status_tells_never_applied_up_to_date_behind_and_unreachable() {
    let lab = lab!(1);
    lab.run(&["status"]).code(1).says("h1  never applied").says("run `gen apply h1`");
    lab.run(&["apply", "h1"]).ok();
    lab.run(&["status"]).ok().says(&format!("h1  up to date     {}", &lab.hash("h1")[..12]));
    let old = lab.hash("h1");
    lab.rebuild(CPUS + 1);
    lab.run(&["status", "h1"]).code(1).says(&format!(
        "h1  behind         runs {}, out/ has {}",
        &old[..12],
        &lab.hash("h1")[..12]
    ));

    let mut hosts = lab.specs();
    hosts[0].port = free_port("127.0.0.1");
    lab.write_site_for(&hosts, CPUS);
    lab.run(&["build"]).ok();
    lab.run(&["status"]).code(1).says("h1  unreachable").says("Connection refused");
}

#[test]
fn a_step_cut_short_is_finished_by_the_next_apply() {
    let lab = lab!(1);
    let server = lab.server(1);
    lab.run(&["apply", "h1"]).ok();
    lab.rebuild(CPUS + 1);
    let new = lab.hash("h1");
    fs::write(server.path("fail"), "lab-vm@w-1.service").unwrap();
    lab.run(&["apply", "h1"])
        .code(1)
        .says("the step `h1: reload    w-1")
        .says("failing to restart lab-vm@w-1.service");
    assert_eq!(server.link("current"), Some(new.clone()), "the new generation stays current");
    assert!(server.root().join("applying").exists());
    lab.run(&["status"]).code(1).says("unfinished");

    fs::remove_file(server.path("fail")).unwrap();
    server.forget();
    lab.run(&["apply", "h1"])
        .ok()
        .says("(its last apply had not finished); already on the server, sent nothing")
        .says("h1: reload    w-1 (a step on it was cut short)");
    let restarts: Vec<String> =
        server.commands().into_iter().filter(|c| c.starts_with("systemctl restart")).collect();
    assert_eq!(restarts, ["systemctl restart lab-vm@w-1.service"], "only the VM cut short");
    assert_eq!(server.running()["lab-w-1"], u64::from(CPUS) + 1);
    assert_eq!(server.link("applied"), Some(new));
    assert!(!server.root().join("applying").exists());
    lab.run(&["status"]).ok().says("up to date");
}

#[test]
fn old_generations_are_pruned_but_never_the_current_or_previous() {
    let lab = lab!(1);
    let server = lab.server(1);
    let mut hashes = Vec::new();
    for cpus in [2, 3, 4] {
        lab.rebuild(cpus);
        hashes.push(lab.hash("h1"));
        let run = lab.run(&["apply", "h1", "--keep", "1"]);
        if cpus == 4 {
            run.ok().says("; removed 1 old generation\n");
        } else {
            run.ok().never_says("removed");
        }
    }
    let mut kept = vec![hashes[1].clone(), hashes[2].clone()];
    kept.sort();
    assert_eq!(server.generations(), kept);
    assert_eq!(server.link("previous"), Some(hashes[1].clone()));
}

/// The site of `site()` with each host's worker renamed `v-N` (same IP), and `extra` added.
fn renamed_workers(hosts: &[HostSpec], extra: &str) -> String {
    let mut text = site(hosts, CPUS);
    for i in 1..=hosts.len() {
        text = text.replace(&format!("[nodes.w-{i}]"), &format!("[nodes.v-{i}]"));
    }
    text + extra
}

#[test]
fn a_renamed_vm_is_destroyed_before_its_address_comes_up_again() {
    let lab = lab!(1);
    let server = lab.server(1);
    lab.run(&["apply", "h1"]).ok();
    let boots = server.boots("lab-cp-1");
    fs::write(lab.dir.path().join("site.toml"), renamed_workers(&lab.specs(), "")).unwrap();
    // The servers' side of a rename; kubespray's side (remove = true first) is tests/suite/change.rs.
    lab.run(&["build", "--allow-unremoved"]).ok();
    let run = lab.run(&["apply", "h1"]);
    run.ok();
    // v-1 is a new, empty VM: kubespray sets it up as a new worker.
    run.says("kubespray now needs").says("/kubespray/deploy.sh scale.yml --limit v-1\n");
    let destroy = run.stdout.find("h1: destroy   w-1 (no longer on this server)").unwrap();
    let create = run.stdout.find("h1: create    v-1 (new on this server)").unwrap();
    assert!(destroy < create, "{}", run.stdout);
    assert_eq!(server.running().keys().collect::<Vec<_>>(), ["lab-cp-1", "lab-v-1"]);
    assert_eq!(server.boots("lab-cp-1"), boots, "the control plane was never halted");
    assert!(!server.root().join("vms/w-1").exists() && !server.root().join("state/w-1").exists());
    assert!(!server.path("systemd/enabled/lab-vm@w-1.service").exists());
    assert_eq!(lab.clashes(), "", "the old and the new VM never ran at once");
}

#[test]
fn moving_a_vm_between_servers_destroys_it_first_and_an_emptied_server_retires_its_unit() {
    let lab = lab!(2);
    lab.run(&["apply", "--all"]).ok();
    // w-2 moves from h2 to h1: h2 is left with no VM.
    let moved = site(&lab.specs(), CPUS)
        .replace("[nodes.w-2]\nhost = \"h2\"", "[nodes.w-2]\nhost = \"h1\"");
    fs::write(lab.dir.path().join("site.toml"), &moved).unwrap();
    // The servers' side of a move; kubespray's side (remove = true first) is tests/suite/change.rs.
    lab.run(&["build", "--allow-unremoved"]).ok();

    // One server at a time: h1 alone must not bring w-2 up while h2 still runs it.
    lab.run(&["apply", "h1"])
        .code(1)
        .says("w-2 would come up on h1 with 192.168.1.32, which w-2 on h2 still has")
        .says("run `gen apply h2` first");
    assert!(!lab.server(1).vms().contains_key("lab-w-2"));

    let run = lab.run(&["apply", "--all"]);
    run.ok();
    let destroy = run.stdout.find("h2: destroy   w-2 (moves to h1)").unwrap();
    let create = run.stdout.find("h1: create    w-2 (new on this server)").unwrap();
    assert!(destroy < create, "{}", run.stdout);
    assert!(run.stdout.contains("h2: retire    the template unit"), "{}", run.stdout);
    assert_eq!(
        lab.server(1).running().keys().collect::<Vec<_>>(),
        ["lab-cp-1", "lab-w-1", "lab-w-2"]
    );
    assert!(lab.server(2).vms().is_empty(), "nothing is left registered on h2");
    assert!(!lab.server(2).path("units/lab-vm@.service").exists());
    assert!(lab.server(2).active_units().is_empty());
    assert_eq!(lab.clashes(), "");
    let logins = [lab.server(1).logins(), lab.server(2).logins()];
    lab.run(&["apply", "--all"]).ok().says("h2: up to date").says("h1: up to date");
    let after = [lab.server(1).logins(), lab.server(2).logins()];
    assert_eq!([after[0] - logins[0], after[1] - logins[1]], [1, 1], "one ssh login per server");
}

/// Needs no server: the refusal comes before any connection.
#[test]
fn an_out_that_check_refuses_is_not_applied() {
    let dir = tempfile::tempdir().unwrap();
    let host = HostSpec {
        name: "h1".into(),
        address: "127.0.0.1".into(),
        port: 9,
        root: dir.path().join("root"),
        host_key:
            "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAID6K0gt3z0GigMUFpyQDyNaE/dTt9fhvEJ1xoH+becVy"
                .into(),
    };
    fs::write(dir.path().join("site.toml"), site(&[host], CPUS)).unwrap();
    let run = |args: &[&str]| {
        Run::from(
            Command::new(env!("CARGO_BIN_EXE_gen"))
                .args(args)
                .current_dir(dir.path())
                .output()
                .unwrap(),
        )
    };
    run(&["build"]).ok();
    let mut file =
        fs::OpenOptions::new().append(true).open(dir.path().join("out/hosts/h1/apply.sh"));
    writeln!(file.as_mut().unwrap(), "# hand edit").unwrap();
    run(&["apply", "h1"])
        .code(1)
        .says("error: `out` is not what the site file gives (1 difference)")
        .says("fix: run `gen check`");
    run(&["apply", "h1", "--dry-run"]).code(1).says("is not what the site file gives");
    assert!(!dir.path().join("root").exists());
}

/// Issue 10, point 1. The stand-in sudo matches commands as sudo does (full path, arguments
/// by fnmatch, `tests/apply/stubs/fake.py`). With a fresh Ubuntu server's rule (a password for
/// everything) the apply stops before sending anything and names the sudoers line; with that
/// line, and nothing more, the first apply, a reload and a destroy run, every root command
/// with `sudo -n`.
#[test]
fn sudo_is_checked_before_anything_is_sent_and_the_named_line_is_all_it_takes() {
    let lab = lab!(1);
    let server = lab.server(1);
    let user = current_user();
    fs::write(server.path("sudoers"), format!("{user} ALL=(ALL:ALL) ALL\n")).unwrap();
    // The dry run asks the same question and says the apply would stop, with the same line.
    let dry = lab.run(&["apply", "h1", "--dry-run"]);
    dry.code(1)
        .says("h1: create    cp-1")
        .says("sudo does not let")
        .says("`systemctl enable --now --quiet lab-vm@cp-1.service`");
    assert!(server.generations().is_empty(), "a dry run sends nothing");
    let refused = lab.run(&["apply", "h1"]);
    refused
        .code(1)
        .says("sudo does not let")
        .says("`systemctl enable --now --quiet lab-vm@cp-1.service`")
        .says("sudo says: sudo: a password is required")
        .says("nothing was sent or changed")
        .says("root-equivalent");
    assert!(server.generations().is_empty(), "nothing was sent");
    assert!(server.vms().is_empty() && server.active_units().is_empty());
    let calls = server.commands();
    assert!(calls.iter().all(|c| c.starts_with("sudo -n -l ")), "{calls:?}");

    let line = refused
        .stderr
        .lines()
        .skip_while(|l| !l.contains("fix:"))
        .nth(1)
        .expect("the line after the fix")
        .trim()
        .to_string();
    assert!(line.starts_with(&format!("{user} ALL=(root) NOPASSWD: /usr/bin/install ")), "{line}");
    fs::write(server.path("sudoers"), format!("{line}\n")).unwrap();
    server.forget();
    lab.run(&["apply", "h1"]).ok();
    assert_eq!(server.active_units(), ["lab-vm@cp-1.service", "lab-vm@w-1.service"]);
    lab.rebuild(CPUS + 1);
    lab.run(&["apply", "h1"]).ok().says("reload    w-1");
    // A renamed worker: destroyed (its unit disabled), the new one created.
    fs::write(lab.dir.path().join("site.toml"), renamed_workers(&lab.specs(), "")).unwrap();
    lab.run(&["build", "--allow-unremoved"]).ok();
    lab.run(&["apply", "h1"]).ok().says("destroy   w-1").says("create    v-1");
    assert_eq!(server.running().keys().collect::<Vec<_>>(), ["lab-cp-1", "lab-v-1"]);
    let root_calls: Vec<String> =
        server.commands().into_iter().filter(|c| c.starts_with("sudo ")).collect();
    assert!(root_calls.iter().any(|c| c.contains(" disable --now ")), "{root_calls:?}");
    for call in &root_calls {
        assert!(call.starts_with("sudo -n "), "a root command without -n: {call}");
    }
}

/// Issue 10, point 2. The stand-in Vagrant keeps a box store and downloads from a catalog; a
/// `vagrant up` that has to download the box itself (inside the unit's start timeout) is logged.
#[test]
fn the_box_is_fetched_before_any_unit_starts_and_a_failed_download_names_it() {
    let lab = lab!(1);
    let server = lab.server(1);
    let catalog = |versions: &str| {
        let text = format!("{{\"bento/ubuntu-24.04\": [{versions}]}}");
        fs::write(server.path("catalog.json"), text).unwrap();
    };
    catalog("\"202401.31.0\"");
    lab.run(&["apply", "h1"])
        .code(1)
        .says("h1: box       bento/ubuntu-24.04 202502.21.0 (virtualbox), before any VM is created")
        .says("could not add the box bento/ubuntu-24.04 202502.21.0 (virtualbox)")
        .says("could not be found or could not be accessed in the remote catalog");
    assert!(server.vms().is_empty(), "no VM was created");
    assert!(server.active_units().is_empty(), "no unit was started");

    catalog("\"202401.31.0\", \"202502.21.0\"");
    server.forget();
    let run = lab.run(&["apply", "h1"]);
    // Vagrant's progress meter, each update a line as it comes (it rewrites one line with \r),
    // a redrawn one once.
    run.ok()
        .says("\n    ==> box: Adding box 'bento/ubuntu-24.04' (v202502.21.0) for provider: virtualbox\n")
        .says("\n        box: Progress: 0% (Rate: 10M/s)\n        box: Progress: 50% (Rate: 10M/s)\n");
    assert_eq!(run.stdout.matches("Progress: 0%").count(), 1, "{}", run.stdout);
    let calls = server.commands();
    let add = calls
        .iter()
        .position(|c| {
            c == "vagrant box add --box-version 202502.21.0 --provider virtualbox bento/ubuntu-24.04"
        })
        .expect("the box was added");
    let start = calls.iter().position(|c| c.starts_with("systemctl enable")).unwrap();
    assert!(add < start, "{calls:?}");
    assert_eq!(fs::read_to_string(server.path("downloads-in-up.log")).unwrap_or_default(), "");
    assert_eq!(server.running().len(), 2);

    // The next VM created finds the box in the store.
    fs::write(lab.dir.path().join("site.toml"), renamed_workers(&lab.specs(), "")).unwrap();
    lab.run(&["build", "--allow-unremoved"]).ok();
    server.forget();
    lab.run(&["apply", "h1"]).ok().says("is in the box store");
    let calls = server.commands();
    assert!(calls.iter().any(|c| c == "vagrant box list"), "{calls:?}");
    assert!(!calls.iter().any(|c| c.starts_with("vagrant box add")), "{calls:?}");
}

/// Issue 10, point 3. The stand-in Vagrant chooses the bridge as Vagrant does (a missing NIC:
/// the only one left, silently; several: a prompt) and fails without VirtualBox's driver; the
/// units' ExecStartPre (`apply.sh preflight`) must stop both before `vagrant up` runs.
#[test]
fn the_unit_refuses_a_bridge_nic_vagrant_would_not_use_and_waits_for_the_driver() {
    let lab = lab!(1);
    let server = lab.server(1);
    let nics = |json: &str| fs::write(server.path("nics.json"), json).unwrap();
    // eno1 is gone (say, renamed by a new kernel) and one other NIC is up.
    nics(r#"[["enp3s0", "Up"]]"#);
    lab.run(&["apply", "h1"])
        .code(1)
        .says("the bridge NIC eno1 is not one VirtualBox can bridge to (it lists: enp3s0 )")
        .says("hosts.h1.bridge");
    assert!(server.vms().is_empty(), "no VM was bridged to enp3s0: {:?}", server.vms());
    // eno1 is down and two others are up: Vagrant would ask which one, and hang.
    nics(r#"[["eno1", "Down"], ["enp3s0", "Up"], ["wlp2s0", "Up"]]"#);
    lab.run(&["apply", "h1"]).code(1).says("the bridge NIC eno1 is Down");
    assert!(server.vms().is_empty());
    assert!(!server.commands().iter().any(|c| c.starts_with("vagrant up")));

    // eno1 is up; VirtualBox's device appears only after the units began to start.
    nics(r#"[["eno1", "Up"], ["wlp2s0", "Up"]]"#);
    fs::remove_file(server.path("vboxdrv")).unwrap();
    let driver = server.path("vboxdrv");
    let later = std::thread::spawn(move || {
        std::thread::sleep(Duration::from_secs(2));
        fs::write(driver, "").unwrap();
    });
    lab.run(&["apply", "h1"]).ok();
    later.join().unwrap();
    for (name, vm) in server.vms() {
        assert_eq!(vm["bridge"].as_str(), Some("eno1"), "{name}");
        assert!(vm["running"].as_bool().unwrap(), "{name}");
    }
    assert_eq!(server.vms().len(), 2);
}

/// Issue 10, point 7. The stand-in Vagrant records linked clones and their one master per box
/// version (Vagrant keeps the master's id in the box's folder, so every VM of the user shares
/// it); the wrapper runs Vagrant as the unit does, and plain `vagrant` in the VM's folder would
/// not know the VM.
#[test]
fn vms_are_linked_clones_unless_turned_off_and_each_has_a_wrapper_with_its_units_environment() {
    let lab = lab!(1);
    let server = lab.server(1);
    lab.run(&["apply", "h1"]).ok();
    for (name, vm) in server.vms() {
        assert_eq!(vm["linked_clone"].as_bool(), Some(true), "{name}");
    }
    let masters = fs::read_to_string(server.path("masters.json")).unwrap();
    let masters: BTreeMap<String, String> = serde_yaml_ng::from_str(&masters).unwrap();
    assert_eq!(masters.keys().collect::<Vec<_>>(), ["bento/ubuntu-24.04@202502.21.0"]);

    let stubs = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/apply/stubs");
    let on_server = |program: &Path, dir: &Path| {
        let output = Command::new(program)
            .arg("status")
            .current_dir(dir)
            .env("PATH", format!("{}:/usr/bin:/bin", stubs.display()))
            .env("GEN_TEST_DIR", server.dir.path())
            .env("GEN_TEST_LAN", lab.dir.path().join("lan"))
            .env_remove("VAGRANT_CWD")
            .env_remove("VAGRANT_DOTFILE_PATH")
            .output()
            .unwrap();
        String::from_utf8(output.stdout).unwrap()
    };
    let wrapper = server.root().join("bin/vagrant-w-1");
    assert_eq!(on_server(&wrapper, Path::new("/")), "w-1 running\n");
    let folder = server.root().join("vms/w-1");
    assert_eq!(on_server(&stubs.join("vagrant"), &folder), "w-1 not_created\n", "plain vagrant");

    // Turned off: the next VM created is a full copy. The destroyed VM's wrapper is gone.
    let text = renamed_workers(&lab.specs(), "").replace(
        "box_version = \"202502.21.0\"\n",
        "box_version = \"202502.21.0\"\nlinked_clone = false\n",
    );
    fs::write(lab.dir.path().join("site.toml"), text).unwrap();
    lab.run(&["build", "--allow-unremoved"]).ok();
    lab.run(&["apply", "h1"]).ok();
    assert_eq!(server.vms()["lab-v-1"]["linked_clone"].as_bool(), Some(false));
    assert!(!wrapper.exists(), "w-1's wrapper went with it");
    assert_eq!(on_server(&server.root().join("bin/vagrant-v-1"), Path::new("/")), "v-1 running\n");
}

/// Issue 10, point 4. The stand-in VirtualBox starts the user's VBoxSVC on demand in the cgroup
/// of the client that found none, and each VM in the cgroup of the VBoxSVC that started it
/// (server.cpp); the simulated shutdown stops login sessions first, then the units, each after
/// those ordered After= it (`fake.py shutdown`). An admin's `VBoxManage list vms` over ssh just
/// before the first apply leaves a VBoxSVC in the login's session (it stays 5 s after its last
/// client; here as long as the test needs): without the keeper every VM would start as its
/// child there and be powered off hard at shutdown.
#[test]
fn every_vm_is_a_child_of_the_keepers_vboxsvc_and_shutdown_halts_each_before_it_stops() {
    let lab = lab!(1);
    let server = lab.server(1);
    let lan = lab.dir.path().join("lan");
    fs::write(server.path("svc-delay"), "600").unwrap();
    assert!(server.login(&lan, "VBoxManage", &["list", "vms"]).status.success());
    assert_eq!(server.vboxsvc()["cgroup"].as_str(), Some("session"));
    server.forget();

    let applied = lab.run(&["apply", "h1"]);
    applied.ok();
    let svc = server.vboxsvc();
    let vms = server.vms();
    let active = server.all_active_units();
    let commands = server.commands();
    assert!(server.login(&lan, "VBoxManage", &["list", "runningvms"]).status.success());
    let login_svc = server.vboxsvc();

    let down = server.login(&lan, "fake.py", &["shutdown"]);
    assert!(down.status.success(), "{}", String::from_utf8_lossy(&down.stderr));
    let hard = fs::read_to_string(server.path("hard.log")).unwrap_or_default();
    assert_eq!(hard, "", "no VM is powered off hard");
    assert!(server.running().is_empty(), "each VM was halted by its unit");
    assert!(server.all_active_units().is_empty());
    assert_eq!(server.vboxsvc(), serde_yaml_ng::from_str::<serde_yaml_ng::Value>("{}").unwrap());

    // Why: the keeper's VBoxSVC, in the foreground, started every VM, in its cgroup.
    applied.says("h1: keeper    start the user's VBoxSVC, before any VM step");
    let keeper = active.into_iter().find(|u| u.starts_with("gen-vboxsvc@")).expect("a keeper");
    assert_eq!(svc["cgroup"].as_str(), Some(keeper.as_str()), "{svc:?}");
    assert_eq!(svc["auto"].as_bool(), Some(false), "in the foreground, no auto-shutdown");
    assert_eq!(vms.len(), 2);
    for (name, vm) in &vms {
        assert_eq!(vm["cgroup"].as_str(), Some(keeper.as_str()), "{name}");
    }
    // It went first: no VirtualBox client ran before it. A login then uses it.
    let started = commands.iter().position(|c| c.starts_with("VBoxSVC ")).unwrap();
    let client = |c: &String| {
        (c.starts_with("vagrant ") && !c.starts_with("vagrant box")) || c.starts_with("VBoxManage")
    };
    assert!(!commands[..started].iter().any(client), "{commands:?}");
    assert_eq!(login_svc["cgroup"].as_str(), Some(keeper.as_str()));

    // The server boots; someone starts a VM by hand from a login before any unit: its
    // VBoxSVC serves that VM and never quits, so the keeper cannot start and the apply stops
    // at the keeper step, naming it, with no VM step run.
    assert!(server.login(&lan, "VBoxManage", &["list", "vms"]).status.success());
    let up = Command::new(server.root().join("bin/vagrant-w-1"))
        .arg("up")
        .env(
            "PATH",
            format!(
                "{}:/usr/bin:/bin",
                Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/apply/stubs").display()
            ),
        )
        .env("GEN_TEST_DIR", server.dir.path())
        .env("GEN_TEST_LAN", &lan)
        .env("GEN_VBOXDRV", server.path("vboxdrv"))
        .env_remove("GEN_TEST_CGROUP")
        .output()
        .unwrap();
    assert!(up.status.success(), "{}", String::from_utf8_lossy(&up.stderr));
    assert_eq!(server.vms()["lab-w-1"]["cgroup"].as_str(), Some("session"));
    server.forget();
    lab.run(&["apply", "h1"])
        .code(1)
        .says("did not start: a VBoxSVC of")
        .says("Halt the VMs it serves");
    assert!(
        !server.commands().iter().any(|c| c.starts_with("sudo -n systemctl enable")),
        "no VM step ran"
    );
    assert_eq!(server.running().keys().collect::<Vec<_>>(), ["lab-w-1"]);
}
