//! The laptop side: `deploy.sh`, the hash-pinned venv lock, and how ansible becomes root.
//!
//! | test | tool | what it proves |
//! |---|---|---|
//! | `locks_match_the_release_table` | none | every release's `lock.txt` pins each package once with sha256 hashes, holds the release's `requirements.txt` pins and gen's ansible-core pin, and names the command that made it |
//! | `locks_install_with_require_hashes` | python3, pip, PyPI | each distinct lock installs with `pip install --require-hashes --only-binary :all:` on this machine's Python; the venv then holds exactly the lock's packages, the release's ansible-core, and `ansible.utils.ipaddr` works (kubespray's netaddr check) |
//! | `localhost_tasks_do_not_sudo` | the pinned ansible-playbook, a `sudo` stand-in | with the generated inventory and group_vars and `--become` as deploy.sh passes it, a `become: false` task delegated to localhost never calls sudo while a task on a host does; with `ansible_become: true` added to group_vars (the old inventory) it does |
//! | `deploy_sh_*` | bash, stand-ins in `tests/laptop/` (python3.x, git, pip, ansible-playbook) | deploy.sh's behaviour in a temporary HOME, no network: the Python it picks and what it says when none fits, the playbook argument, the venv named by the lock's hash, the kubeconfig folder, what it prints |
//!
//! The venvs of the lock check live under `target/lock-venvs/<hash of the lock's packages>` and
//! pip's downloads under `target/pip-cache`: a lock's venv is its content, so reuse is exact, and
//! pip checks every cached wheel against the lock's hashes.

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Mutex;
use std::time::Instant;

use labgen::kubespray::{self, Release};
use labgen::tree::sha256_hex;

use crate::validators::{
    VenvLock, copy_dir, loud, par_each, repo_root, require, run, secs, target_dir, which,
    write_executable,
};

fn stand_ins() -> PathBuf {
    repo_root().join("tests/laptop")
}

/// PyPI's normalized project name (`ruamel.yaml` and `Ruamel_YAML` are `ruamel-yaml`).
fn normalize(name: &str) -> String {
    let mut out = String::new();
    for c in name.chars() {
        let c = if matches!(c, '_' | '.') { '-' } else { c.to_ascii_lowercase() };
        if !(c == '-' && out.ends_with('-')) {
            out.push(c);
        }
    }
    out
}

/// One package line of a lock (continuations joined): name, version, marker, hashes.
#[derive(Debug)]
struct Pin {
    name: String,
    version: String,
    marker: String,
    hashes: Vec<String>,
}

fn parse_lock(text: &str) -> Result<Vec<Pin>, String> {
    let joined = text.replace("\\\n", " ");
    let mut pins = Vec::new();
    for line in joined.lines() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let (spec, rest) = match line.find(" --hash=") {
            Some(i) => (&line[..i], &line[i..]),
            None => return Err(format!("no --hash on `{line}`")),
        };
        let (req, marker) = spec.split_once(';').unwrap_or((spec, ""));
        let (name, version) =
            req.trim().split_once("==").ok_or_else(|| format!("not pinned with ==: `{line}`"))?;
        let mut hashes = Vec::new();
        for word in rest.split_whitespace() {
            let hex = word
                .strip_prefix("--hash=sha256:")
                .filter(|h| h.len() == 64 && h.bytes().all(|b| b.is_ascii_hexdigit()))
                .ok_or_else(|| format!("`{word}` is not a sha256 hash, on `{name}`"))?;
            hashes.push(hex.to_string());
        }
        pins.push(Pin {
            name: normalize(name),
            version: version.trim().to_string(),
            marker: marker.trim().to_string(),
            hashes,
        });
    }
    Ok(pins)
}

/// `name==version` lines of a requirements file (kubespray's own, comments skipped).
fn requirement_pins(text: &str) -> BTreeMap<String, String> {
    text.lines()
        .filter(|l| !l.trim_start().starts_with('#') && !l.trim().is_empty())
        .filter_map(|l| l.split_once("=="))
        .map(|(n, v)| (normalize(n.trim()), v.trim().to_string()))
        .collect()
}

#[test]
fn locks_match_the_release_table() {
    let mut complaints = Vec::new();
    for r in kubespray::RELEASES {
        let mut bad = |m: String| complaints.push(format!("{}: lock.txt: {m}", r.tag));
        if !r.lock.contains(&format!("#    maint/lock-kubespray {}\n", r.tag)) {
            bad("does not name `maint/lock-kubespray <tag>` as the command that made it".into());
        }
        let pins = match parse_lock(r.lock) {
            Ok(p) => p,
            Err(e) => {
                bad(e);
                continue;
            }
        };
        if pins.is_empty() {
            bad("pins nothing".into());
        }
        // One version per package, unless markers split it (e.g. by Python version).
        let mut seen: BTreeMap<&str, Vec<&Pin>> = BTreeMap::new();
        for p in &pins {
            if p.hashes.is_empty() {
                bad(format!("{} has no hash", p.name));
            }
            seen.entry(&p.name).or_default().push(p);
        }
        for (name, ps) in &seen {
            if ps.len() > 1 && ps.iter().any(|p| p.marker.is_empty()) {
                bad(format!("{name} is pinned {} times, not all under a marker", ps.len()));
            }
        }
        let mut want = requirement_pins(r.requirements);
        want.insert("ansible-core".into(), r.ansible_core.into());
        for (name, version) in &want {
            match seen.get(name.as_str()) {
                Some(ps) if ps.iter().all(|p| &p.version == version && p.marker.is_empty()) => {}
                Some(ps) => bad(format!(
                    "{name}=={} where requirements.txt (or gen's ansible-core pin) says {version}",
                    ps.iter().map(|p| p.version.as_str()).collect::<Vec<_>>().join(", ")
                )),
                None => bad(format!("{name}=={version} is missing")),
            }
        }
    }
    assert!(complaints.is_empty(), "{}", complaints.join("\n"));
}

// ---------------------------------------------------------------------------------------------
// The locks installed with pip, as deploy.sh installs them
// ---------------------------------------------------------------------------------------------

/// A lock's identity: its package lines, without the comment that names the release, so
/// releases with the same closure share one check.
fn lock_key(lock: &str) -> String {
    let body: String =
        lock.lines().filter(|l| !l.starts_with('#')).map(|l| format!("{l}\n")).collect();
    sha256_hex(body.as_bytes())[..16].to_string()
}

/// Python's `major.minor` of `python`.
fn python_minor(python: &Path) -> Option<(u32, u32)> {
    let ran = run(
        Command::new(python).args(["-c", "import sys; print(*sys.version_info[:2])"]),
        secs(30),
    )
    .ok()?;
    let mut it = ran.stdout.split_whitespace().map(|w| w.parse().ok());
    Some((it.next()??, it.next()??))
}

/// The venv of one lock, made with `pip install --require-hashes --only-binary :all:` under
/// `target/lock-venvs/<key>` and reused while its marker is there.
fn lock_venv(test: &str, lock: &str, python: &Path) -> Result<PathBuf, String> {
    let root = target_dir().join("lock-venvs");
    let dir = root.join(lock_key(lock));
    let marker = dir.join(".installed");
    if marker.is_file() {
        return Ok(dir);
    }
    fs::create_dir_all(&root).map_err(|e| e.to_string())?;
    let _held = VenvLock::acquire(&dir)?;
    if marker.is_file() {
        return Ok(dir);
    }
    let _ = fs::remove_dir_all(&dir);
    let started = Instant::now();
    let ran = run(Command::new(python).arg("-m").arg("venv").arg(&dir), secs(300))?;
    if !ran.ok() {
        return Err(format!("python3 -m venv: {}", ran.describe()));
    }
    let file = dir.join("requirements.lock");
    fs::write(&file, lock).map_err(|e| e.to_string())?;
    let mut pip = Command::new(dir.join("bin/python"));
    pip.args(["-m", "pip", "install", "--quiet", "--disable-pip-version-check", "--no-input"])
        .args(["--require-hashes", "--only-binary", ":all:", "--no-compile", "--requirement"])
        .arg(&file)
        .env("PIP_CACHE_DIR", target_dir().join("pip-cache"));
    let ran = run(&mut pip, secs(1500))?;
    if !ran.ok() {
        return Err(format!("pip install --require-hashes: {}", ran.describe()));
    }
    fs::write(&marker, "").map_err(|e| e.to_string())?;
    loud(&format!("`{test}`: installed lock {} in {:.0?}", dir.display(), started.elapsed()));
    Ok(dir)
}

/// Compares what is installed in a venv with the lock's packages whose markers hold there.
const INSTALLED_IS_LOCK: &str = r##"
import sys, importlib.metadata as md
from packaging.markers import Marker
from packaging.utils import canonicalize_name as norm
want = {}
for line in open(sys.argv[1]).read().replace("\\\n", " ").splitlines():
    line = line.strip()
    if not line or line.startswith("#"):
        continue
    spec = line.split(" --hash=")[0]
    req, _, marker = spec.partition(";")
    if marker.strip() and not Marker(marker.strip()).evaluate():
        continue
    name, _, version = req.partition("==")
    want[norm(name.strip())] = version.strip()
have = {norm(d.metadata["Name"]): d.version for d in md.distributions()}
for tool in ("pip", "setuptools", "wheel"):
    have.pop(tool, None)
for name in sorted(set(want) | set(have)):
    if want.get(name) != have.get(name):
        print(f"{name}: lock {want.get(name, '-')}, installed {have.get(name, '-')}")
"##;

#[test]
fn locks_install_with_require_hashes() {
    let test = "locks_install_with_require_hashes";
    let Some(python) = require(test, "python3", "python3-venv") else { return };
    let minor = python_minor(&python).expect("python3 says its version");
    // Distinct locks, each with the releases that share it.
    let mut locks: BTreeMap<String, Vec<&'static Release>> = BTreeMap::new();
    for r in kubespray::RELEASES {
        locks.entry(lock_key(r.lock)).or_default().push(r);
    }
    let groups: Vec<Vec<&'static Release>> = locks.into_values().collect();
    let complaints = Mutex::new(Vec::new());
    let started = Instant::now();
    par_each(&groups, |releases| {
        let r = releases[0];
        let tags: Vec<&str> = releases.iter().map(|r| r.tag).collect();
        let tags = tags.join(", ");
        let bad = |m: String| complaints.lock().unwrap().push(format!("{tags}: {m}"));
        if !(r.python_minor.0..=r.python_minor.1).contains(&minor.1) || minor.0 != 3 {
            // Not this machine's Python: the lock is not for it (CI's 3.11 fits every release).
            return bad(format!(
                "python3 is {}.{}, outside 3.{}..3.{}: cannot install this lock here",
                minor.0, minor.1, r.python_minor.0, r.python_minor.1
            ));
        }
        let venv = match lock_venv(test, r.lock, &python) {
            Ok(v) => v,
            Err(e) => return bad(e),
        };
        let ran = run(
            Command::new(venv.join("bin/python"))
                .args(["-c", INSTALLED_IS_LOCK])
                .arg(venv.join("requirements.lock")),
            secs(60),
        );
        match ran {
            Ok(ran) if ran.ok() && ran.stdout.trim().is_empty() => {}
            Ok(ran) => bad(format!("the venv is not the lock: {}", ran.describe())),
            Err(e) => bad(e),
        }
        // kubespray's own checks (playbooks/ansible_version.yml): ansible-core in the window and
        // netaddr through ansible.utils.ipaddr.
        let scratch = tempfile::tempdir().unwrap();
        let mut ansible = Command::new(venv.join("bin/ansible"));
        ansible
            .args(["localhost", "-c", "local", "-m", "debug", "-a"])
            // No quotes or blocks inside: older ansible-core's ad-hoc `key=value` parsing
            // rejects them.
            .arg("msg={{ address | ansible.utils.ipaddr }}")
            .args(["-e", "address=127.0.0.1"])
            .env("HOME", scratch.path())
            .env("ANSIBLE_LOCALHOST_WARNING", "false")
            .env("ANSIBLE_INVENTORY_UNPARSED_WARNING", "false");
        match run(&mut ansible, secs(120)) {
            Ok(ran) if ran.ok() && ran.stdout.contains("\"msg\": \"127.0.0.1\"") => {}
            Ok(ran) => bad(format!("ansible with ipaddr and jinja: {}", ran.describe())),
            Err(e) => bad(e),
        }
        let version = run(Command::new(venv.join("bin/ansible")).arg("--version"), secs(60));
        let version = version.map(|r| r.stdout).unwrap_or_default();
        for r in releases {
            if !version.contains(&format!("[core {}]", r.ansible_core)) {
                bad(format!(
                    "{}: ansible --version is not core {}: {version}",
                    r.tag, r.ansible_core
                ));
            }
        }
    });
    loud(&format!(
        "`{test}`: {} distinct locks checked in {:.0?}",
        groups.len(),
        started.elapsed()
    ));
    let complaints = complaints.into_inner().unwrap();
    assert!(complaints.is_empty(), "{}", complaints.join("\n"));
}

// ---------------------------------------------------------------------------------------------
// become: --become on the command line, never ansible_become in the inventory
// ---------------------------------------------------------------------------------------------

/// A task on this machine, as kubespray's `kubernetes/client` role makes its artifacts folder,
/// and a task on a node, which must become root.
const BECOME_PLAYBOOK: &str = r#"- hosts: kube_control_plane[0]
  gather_facts: false
  tasks:
    - name: On this machine, as kubespray makes the artifacts folder
      ansible.builtin.file:
        path: "{{ artifacts_dir }}"
        state: directory
        mode: "0750"
      delegate_to: localhost
      connection: local
      become: false
      run_once: true
    - name: On the node, as root
      ansible.builtin.command: id -un
      changed_when: false
"#;

/// Runs the playbook with the pinned ansible on a copy of `inventory` (node addresses moved to
/// loopback, connection local, inside a network namespace with only loopback) and returns the
/// sudo stand-in's log.
fn run_become_playbook(venv: &Path, inventory: &Path, scratch: &Path) -> Result<String, String> {
    let inv = scratch.join("inventory");
    copy_dir(inventory, &inv).map_err(|e| e.to_string())?;
    let hosts = inv.join("hosts.yaml");
    let text = fs::read_to_string(&hosts).map_err(|e| e.to_string())?;
    let loopback: String = text
        .lines()
        .map(|l| match l.split_once("ansible_host: ") {
            Some((indent, _)) => format!("{indent}ansible_host: \"127.0.0.1\"\n"),
            None => format!("{l}\n"),
        })
        .collect();
    fs::write(&hosts, loopback).map_err(|e| e.to_string())?;
    fs::write(scratch.join("become.yml"), BECOME_PLAYBOOK).map_err(|e| e.to_string())?;
    fs::write(scratch.join("ansible.cfg"), "# ansible's defaults\n").map_err(|e| e.to_string())?;
    let bin = scratch.join("bin");
    fs::create_dir_all(&bin).map_err(|e| e.to_string())?;
    fs::copy(stand_ins().join("sudo"), bin.join("sudo")).map_err(|e| e.to_string())?;
    let log = scratch.join("sudo.log");
    fs::write(&log, "").map_err(|e| e.to_string())?;
    let home = scratch.join("home");
    fs::create_dir_all(&home).map_err(|e| e.to_string())?;
    let path = format!("{}:{}", bin.display(), std::env::var("PATH").unwrap_or_default());
    let mut cmd = Command::new("unshare");
    cmd.arg("-n")
        .arg(venv.join("bin/ansible-playbook"))
        .arg("--inventory")
        .arg(&hosts)
        // As deploy.sh passes it, but to `nobody`: the test runs as root, and ansible does not
        // become the user it already is, so sudo would never be asked for root here.
        .args(["--connection", "local", "--become", "--become-user=nobody"])
        .arg("-e")
        .arg(format!("ansible_python_interpreter={}", venv.join("bin/python").display()))
        .arg(scratch.join("become.yml"))
        .current_dir(scratch)
        .env("PATH", path)
        .env("HOME", &home)
        .env("SUDO_LOG", &log)
        .env("ANSIBLE_CONFIG", scratch.join("ansible.cfg"))
        .env("ANSIBLE_LOCAL_TEMP", scratch.join("tmp"))
        .env("ANSIBLE_REMOTE_TMP", scratch.join("tmp"));
    let ran = run(&mut cmd, secs(300))?;
    if !ran.ok() {
        return Err(format!("ansible-playbook: {}", ran.describe()));
    }
    // group_vars put the artifacts (kubespray's admin.conf) under HOME, not in the inventory.
    let artifacts = home.join(".kube/gen/lab");
    if !artifacts.is_dir() {
        return Err(format!("artifacts_dir is not {}: {}", artifacts.display(), ran.stdout));
    }
    if inv.join("artifacts").exists() {
        return Err("kubespray's artifacts landed beside the inventory".into());
    }
    fs::read_to_string(&log).map_err(|e| e.to_string())
}

#[test]
fn localhost_tasks_do_not_sudo() {
    let test = "localhost_tasks_do_not_sudo";
    let Some(python) = require(test, "python3", "python3-venv") else { return };
    if require(test, "unshare", "util-linux").is_none() {
        return;
    }
    let inventory = repo_root().join("out/kubespray/inventory");
    let lock = fs::read_to_string(repo_root().join("out/kubespray/requirements.lock")).unwrap();
    let venv = lock_venv(test, &lock, &python).unwrap_or_else(|e| panic!("{e}"));

    let scratch = tempfile::tempdir().unwrap();
    let log =
        run_become_playbook(&venv, &inventory, scratch.path()).unwrap_or_else(|e| panic!("{e}"));
    let calls: Vec<&str> = log.lines().collect();
    assert!(
        !log.contains("AnsiballZ_file"),
        "the become: false task on localhost ran sudo:\n{log}"
    );
    assert!(
        calls.len() == 1
            && calls[0].contains("AnsiballZ_command")
            && calls[0].contains("-u nobody"),
        "the task on the node must become through sudo exactly once; sudo saw:\n{log}"
    );

    // The old inventory (ansible_become: true in group_vars/all) makes the same task sudo: the
    // check above can fail.
    let old = tempfile::tempdir().unwrap();
    let old_inventory = old.path().join("old-inventory");
    copy_dir(&inventory, &old_inventory).unwrap();
    let vars = old_inventory.join("group_vars/all/kubespray.yml");
    let text = fs::read_to_string(&vars).unwrap();
    fs::write(&vars, format!("{text}ansible_become: true\n")).unwrap();
    let log = run_become_playbook(&venv, &old_inventory, &old.path().join("run"))
        .unwrap_or_else(|e| panic!("{e}"));
    assert!(
        log.contains("AnsiballZ_file"),
        "with ansible_become: true the localhost task should have run sudo; sudo saw:\n{log}"
    );
}

// ---------------------------------------------------------------------------------------------
// deploy.sh with stand-ins, in a temporary HOME
// ---------------------------------------------------------------------------------------------

/// A temporary laptop: HOME, a PATH of stand-ins plus the few real tools deploy.sh and the
/// stand-ins use (so that no real Python, git or ansible can be found), and a copy of out/.
struct Laptop {
    dir: tempfile::TempDir,
    log: PathBuf,
}

impl Laptop {
    /// `pythons`: stand-in names and the versions they claim (e.g. `("python3", "3.9.6")`).
    fn new(pythons: &[(&str, &str)]) -> Laptop {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        let bin = root.join("bin");
        fs::create_dir_all(&bin).unwrap();
        for tool in [
            "bash", "env", "dirname", "mkdir", "chmod", "rm", "touch", "cat", "cp", "sed", "grep",
            "sha1sum", "cut",
        ] {
            let real = which(tool).unwrap_or_else(|| panic!("{tool} is not installed"));
            std::os::unix::fs::symlink(real, bin.join(tool)).unwrap();
        }
        for (name, version) in pythons {
            let script = format!(
                "#!/bin/bash\nexport FAKE_VERSION={version}\nexec '{}' \"$@\"\n",
                stand_ins().join("python").display()
            );
            write_executable(&bin.join(name), &script);
        }
        std::os::unix::fs::symlink(stand_ins().join("git"), bin.join("git")).unwrap();
        fs::create_dir_all(root.join("home")).unwrap();
        copy_dir(&repo_root().join("out/kubespray"), &root.join("out/kubespray")).unwrap();
        let log = root.join("log");
        fs::write(&log, "").unwrap();
        Laptop { dir, log }
    }

    fn home(&self) -> PathBuf {
        self.dir.path().join("home")
    }

    fn out(&self) -> PathBuf {
        self.dir.path().join("out/kubespray")
    }

    fn deploy(&self, args: &[&str], env: &[(&str, &str)]) -> crate::validators::Ran {
        let real_python = real_python();
        let mut cmd = Command::new(self.out().join("deploy.sh"));
        cmd.args(args)
            .env_clear()
            .env("PATH", self.dir.path().join("bin"))
            .env("HOME", self.home())
            .env("FAKE_LOG", &self.log)
            .env("REAL_PYTHON", real_python)
            .current_dir(self.dir.path());
        for (k, v) in env {
            cmd.env(k, v);
        }
        run(&mut cmd, secs(60)).unwrap()
    }

    fn log(&self) -> String {
        fs::read_to_string(&self.log).unwrap()
    }
}

/// The interpreter itself, not a wrapper (pyenv's shims need an environment deploy.sh's test
/// clears): it runs the python stand-in's `-c` code.
fn real_python() -> PathBuf {
    let python = which("python3").expect("python3 runs the python stand-in's -c");
    let ran = run(Command::new(python).args(["-c", "import sys; print(sys.executable)"]), secs(30));
    PathBuf::from(ran.unwrap().stdout.trim())
}

fn lock_hash() -> String {
    let lock = fs::read(repo_root().join("out/kubespray/requirements.lock")).unwrap();
    sha256_hex(&lock)[..12].to_string()
}

fn example_release() -> &'static Release {
    let deploy = fs::read_to_string(repo_root().join("out/kubespray/deploy.sh")).unwrap();
    kubespray::RELEASES
        .iter()
        .find(|r| deploy.contains(&format!("\ntag='{}'\n", r.tag)))
        .expect("out/kubespray/deploy.sh names a release gen knows")
}

fn mode(p: &Path) -> u32 {
    fs::metadata(p).unwrap().permissions().mode() & 0o777
}

#[test]
fn deploy_sh_runs_the_named_playbook_with_a_python_that_fits() {
    if which("bash").is_none() {
        return;
    }
    let r = example_release();
    let (lo, hi) = r.python_minor;
    // As on a Mac: python3 is Apple's 3.9, the newest in range is missing, an older one is there.
    let below = format!("3.{}.6", lo - 1);
    let newest_but_one = format!("python3.{}", hi - 1);
    let oldest = format!("python3.{lo}");
    let laptop = Laptop::new(&[
        ("python3", &below),
        (&newest_but_one, &format!("3.{}.4", hi - 1)),
        (&oldest, &format!("3.{lo}.9")),
    ]);
    let ran = laptop.deploy(&["scale.yml", "--limit", "k8s-w-1"], &[]);
    assert!(ran.ok(), "deploy.sh scale.yml: {}", ran.describe());

    let home = laptop.home();
    let cache = home.join(".cache/gen");
    let venv = cache.join(format!("venv-{}-{}-py3.{}", r.tag, lock_hash(), hi - 1));
    let checkout = cache.join(format!("kubespray-{}", r.tag));
    let kubeconfig = home.join(".kube/gen/lab/admin.conf");
    let log = laptop.log();
    // The Python: the first in range of python3, python3.<hi>, ..., not the older one.
    assert!(log.contains(&format!("venv 3.{}.4 {}\n", hi - 1, venv.display())), "{log}");
    assert_eq!(log.matches("venv ").count(), 1, "{log}");
    // The clone, at the tag.
    assert!(
        log.contains(&format!(
            "git clone --quiet --depth 1 --branch {} https://github.com/kubernetes-sigs/kubespray.git {}\n",
            r.tag,
            checkout.display()
        )),
        "{log}"
    );
    // pip installs the lock, hash-checked, wheels only.
    let lock = laptop.out().join("requirements.lock");
    assert!(
        log.contains(&format!(
            "pip install --quiet --disable-pip-version-check --require-hashes --only-binary :all: --requirement {}\n",
            lock.display()
        )),
        "{log}"
    );
    assert!(venv.join(".gen-complete").is_file());
    // ansible-playbook runs from the checkout, the playbook first after deploy.sh's own options.
    let expected = format!(
        "ansible-playbook in {}\n  --inventory\n  {}\n  --become\n  --become-user=root\n  scale.yml\n  --limit\n  k8s-w-1\n",
        checkout.display(),
        laptop.out().join("inventory/hosts.yaml").display()
    );
    assert!(log.contains(&expected), "expected\n{expected}in\n{log}");
    // The kubeconfig folder: ~/.kube/gen is the user's only.
    assert_eq!(mode(&home.join(".kube/gen")), 0o700);
    // What it says.
    let said = &ran.stdout;
    assert!(said.contains(&format!("kubespray {} scale.yml on cluster lab", r.tag)), "{said}");
    assert!(said.contains(&format!("venv:       {}", venv.display())), "{said}");
    assert!(said.contains(&format!("requirements.lock {}", lock_hash())), "{said}");
    assert!(said.contains(&format!("kubeconfig: {}", kubeconfig.display())), "{said}");
    assert!(said.contains("no kubeconfig yet"), "scale.yml writes no kubeconfig: {said}");

    // Again, with no argument: cluster.yml, the same venv and checkout, and the next command.
    let ran = laptop.deploy(&[], &[]);
    assert!(ran.ok(), "deploy.sh: {}", ran.describe());
    let log = laptop.log();
    assert_eq!(log.matches("venv ").count(), 1, "the venv was made again:\n{log}");
    assert_eq!(log.matches("git clone").count(), 1, "kubespray was cloned again:\n{log}");
    assert!(log.ends_with("  --become-user=root\n  cluster.yml\n"), "{log}");
    assert!(
        ran.stdout.contains(&format!(
            "cluster.yml done. Next:\n  KUBECONFIG={} kubectl get nodes\n",
            kubeconfig.display()
        )),
        "{}",
        ran.stdout
    );
    assert_eq!(mode(&kubeconfig), 0o600);
    assert_eq!(mode(&home.join(".kube/gen")), 0o700);
    // Nothing was written into out/.
    let mut files = BTreeSet::new();
    for e in walkdir::WalkDir::new(laptop.out()) {
        let e = e.unwrap();
        if e.file_type().is_file() {
            files.insert(e.path().strip_prefix(laptop.out()).unwrap().display().to_string());
        }
    }
    let mut committed = BTreeSet::new();
    for e in walkdir::WalkDir::new(repo_root().join("out/kubespray")) {
        let e = e.unwrap();
        if e.file_type().is_file() {
            let root = repo_root().join("out/kubespray");
            committed.insert(e.path().strip_prefix(&root).unwrap().display().to_string());
        }
    }
    assert_eq!(files, committed);
}

#[test]
fn deploy_sh_names_every_python_it_tried() {
    let r = example_release();
    let (lo, hi) = r.python_minor;
    let laptop = Laptop::new(&[("python3", "3.9.6"), (&format!("python3.{}", hi + 1), "3.99.0")]);
    let ran = laptop.deploy(&[], &[]);
    assert_eq!(ran.code, Some(1), "{}", ran.describe());
    let mut tried = vec!["python3 (Python 3.9.6)".to_string()];
    tried.extend((lo..=hi).rev().map(|m| format!("python3.{m} (none)")));
    let expected = format!(
        "deploy.sh: kubespray {} needs Python 3.{lo} to 3.{hi}; tried {}. Install one",
        r.tag,
        tried.join(", ")
    );
    assert!(ran.stderr.contains(&expected), "expected {expected}\nin {}", ran.stderr);
    assert_eq!(laptop.log(), "", "nothing may run without a Python that fits");

    // PYTHON names one outside the range: refused, naming it.
    let ran = laptop.deploy(&[], &[("PYTHON", "python3")]);
    assert_eq!(ran.code, Some(1));
    assert!(ran.stderr.contains("PYTHON=python3 is Python 3.9.6"), "{}", ran.stderr);
    assert!(!laptop.home().join(".cache").exists());
}

#[test]
fn deploy_sh_refuses_an_option_or_unknown_playbook_first_and_passes_ansible_failures_on() {
    let r = example_release();
    let (lo, _) = r.python_minor;
    let laptop = Laptop::new(&[("python3", &format!("3.{lo}.2"))]);
    let ran = laptop.deploy(&["--limit", "k8s-w-1"], &[]);
    assert_eq!(ran.code, Some(1));
    assert!(ran.stderr.contains("the first argument is the playbook"), "{}", ran.stderr);
    assert_eq!(laptop.log(), "");

    let ran = laptop.deploy(&["nosuch.yml"], &[]);
    assert_eq!(ran.code, Some(1));
    assert!(ran.stderr.contains("has no playbook nosuch.yml"), "{}", ran.stderr);
    assert!(!laptop.log().contains("ansible-playbook"));

    let ran = laptop.deploy(&["reset.yml"], &[("FAKE_ANSIBLE_EXIT", "2")]);
    assert_eq!(ran.code, Some(2), "ansible-playbook's status: {}", ran.describe());
    assert!(ran.stderr.contains("reset.yml failed (ansible-playbook exit status 2)"));
    assert!(!ran.stdout.contains("Next:"));
}
