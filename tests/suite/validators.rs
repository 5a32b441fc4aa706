//! Proves with the real tools that every generated artifact is right.
//!
//! Every non-error golden case (`golden-tests/<case>/expected/`) and the committed example
//! (`out/`) is checked by each validator below. A validator is one `#[test]` that walks all
//! trees, collects every complaint and fails once, listing them all.
//!
//! | test | tool | what it proves |
//! |---|---|---|
//! | `vagrant` | `vagrant validate` (VirtualBox provider loaded through a stub `VBoxManage`), Vagrant's own config loader (`tests/validators/vagrant_inspect.rb`) | each Vagrantfile loads; each machine is the site's node with a bridged `public_network` (`bridge`, `ip`, a MAC VirtualBox accepts, the netplan override's MAC), integer cpus/memory, a pinned box; no clock or environment |
//! | `netplan` | `netplan generate --root-dir` over typical box configs | each override parses without a warning and gives the bridged NIC its address and the only static default route, below the NAT NIC's DHCP metric |
//! | `systemd` | `systemd-analyze verify --root` | each unit parses without a word, runs `vagrant up`/`halt` as the host's user, is wanted by a real target |
//! | `shell` | `bash -n`, `shellcheck -x` | every `*.sh` parses and lints clean at all severities |
//! | `ansible_inventory` | `ansible-inventory --list/--graph` in a venv of the tree's own `requirements.txt` | groups, host vars and group_vars reach the hosts; ansible-core lies in kubespray's window |
//! | `pip_resolution` | `pip install --dry-run --report` | `requirements.txt` is the release's file plus gen's marked `ansible-core` pin, and resolves to that pin, inside the window |
//! | `validators_catch_broken_artifacts` | all of the above | each validator notices known mistakes planted in a copy of `golden-tests/one-server` (a validator that passes everything proves nothing) |
//!
//! A missing tool fails the test when `CI` is set, and otherwise prints a loud SKIPPED line with
//! the install hint (`.ci/install-tools`). Nothing is written into the repository: every tool runs
//! on temporary copies; only the venvs live under `target/validator-venvs/` (one per distinct
//! `ansible`/`ansible-core` pin, made once and reused; a lock beside each lets several `cargo test`
//! processes share them).
//!
//! kubespray's own inventory validation (`playbooks/boilerplate.yml`: the ansible window, and from
//! v2.28 `validate_inventory`) needs a kubespray checkout, which no package registry has, so CI
//! cannot run it: `kubespray_boilerplate` runs it only when `LABGEN_KUBESPRAY_REPO` names a
//! kubespray git repository, and otherwise says NOT RUN. `ansible_inventory` restates the
//! inventory-only asserts of that role so that CI still checks them.
//!
//! `LABGEN_VALIDATE_TREES=DIR[:DIR...]` adds trees to check, each DIR holding `site.toml` and
//! `out/` (for trying the validators on a hand-made or freshly built tree).

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Display;
use std::fs;
use std::io::Write as _;
use std::net::Ipv4Addr;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use labgen::kubespray;

// ---------------------------------------------------------------------------------------------
// The trees under test and what their site.toml says
// ---------------------------------------------------------------------------------------------

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Role {
    ControlPlane,
    Worker,
}

#[derive(Debug, Clone)]
struct Node {
    name: String,
    host: String,
    role: Role,
    ip: Ipv4Addr,
    cpus: i64,
    memory_mb: i64,
}

#[derive(Debug, Clone)]
struct Host {
    user: String,
    bridge: String,
    /// The remote root: `hosts.<name>.root`, default `/home/<user>/gen/<cluster>` (README).
    root: String,
    /// `hosts.<name>.provider`: `virtualbox` (default) or `libvirt`.
    provider: String,
    /// `hosts.<name>.libvirt_driver`: `kvm` (default) or `qemu`; only for libvirt.
    libvirt_driver: String,
}

impl Host {
    fn libvirt(&self) -> bool {
        self.provider == "libvirt"
    }
}

/// What the validators need from a `site.toml`, read independently of gen's own parser so that
/// the two cannot share a mistake.
#[derive(Debug, Clone)]
struct Site {
    cluster: String,
    kubespray_version: String,
    kube_version: Option<String>,
    network_plugin: String,
    kube_proxy_mode: Option<String>,
    container_manager: Option<String>,
    prefix: u8,
    gateway: Ipv4Addr,
    dns: Vec<String>,
    box_name: String,
    box_version: String,
    helm: bool,
    metallb: bool,
    hosts: BTreeMap<String, Host>,
    nodes: BTreeMap<String, Node>,
}

impl Site {
    fn nodes_on(&self, host: &str, role: Role) -> BTreeSet<String> {
        self.nodes
            .values()
            .filter(|n| n.host == host && n.role == role)
            .map(|n| n.name.clone())
            .collect()
    }

    fn nodes_with(&self, role: Role) -> BTreeSet<String> {
        self.nodes.values().filter(|n| n.role == role).map(|n| n.name.clone()).collect()
    }

    fn release(&self) -> Option<&'static kubespray::Release> {
        kubespray::find(&self.kubespray_version)
    }

    /// `kube_version` as the inventory must spell it for this release.
    fn expected_kube_version(&self) -> Option<String> {
        let release = self.release()?;
        let bare =
            self.kube_version.clone().unwrap_or_else(|| release.kube_version_default().into());
        let bare = bare.trim_start_matches('v').to_string();
        Some(if release.kube_version_v_prefix() { format!("v{bare}") } else { bare })
    }
}

fn toml_str<'a>(t: &'a toml::Table, key: &str) -> Option<&'a str> {
    t.get(key).and_then(|v| v.as_str())
}

fn toml_table<'a>(t: &'a toml::Table, key: &str) -> Result<&'a toml::Table, String> {
    t.get(key).and_then(|v| v.as_table()).ok_or_else(|| format!("site.toml: no [{key}] table"))
}

fn need_str(t: &toml::Table, table: &str, key: &str) -> Result<String, String> {
    toml_str(t, key)
        .map(str::to_string)
        .ok_or_else(|| format!("site.toml: [{table}] {key} missing"))
}

fn parse_site(text: &str) -> Result<Site, String> {
    let doc: toml::Table = toml::from_str(text).map_err(|e| format!("site.toml: {e}"))?;
    let cluster = toml_table(&doc, "cluster")?;
    let ks = toml_table(&doc, "kubespray")?;
    let network = toml_table(&doc, "network")?;
    let vagrant = toml_table(&doc, "vagrant")?;
    let empty = toml::Table::new();
    let addons = doc.get("addons").and_then(|v| v.as_table()).unwrap_or(&empty);

    let cidr = need_str(network, "network", "cidr")?;
    let prefix = cidr
        .split_once('/')
        .and_then(|(_, p)| p.parse::<u8>().ok())
        .ok_or_else(|| format!("site.toml: network.cidr {cidr:?} has no prefix"))?;
    let gateway = need_str(network, "network", "gateway")?
        .parse()
        .map_err(|e| format!("site.toml: network.gateway: {e}"))?;
    let dns = network
        .get("dns")
        .and_then(|v| v.as_array())
        .map(|a| a.iter().filter_map(|v| v.as_str().map(str::to_string)).collect())
        .unwrap_or_default();
    let default_cpus = vagrant.get("cpus").and_then(toml::Value::as_integer).unwrap_or(2);
    let default_memory = vagrant.get("memory_mb").and_then(toml::Value::as_integer).unwrap_or(4096);

    let mut hosts = BTreeMap::new();
    for (name, v) in toml_table(&doc, "hosts")? {
        let t = v.as_table().ok_or_else(|| format!("site.toml: hosts.{name} is not a table"))?;
        let user = need_str(t, &format!("hosts.{name}"), "user")?;
        let cluster_name = toml_str(cluster, "name").unwrap_or("");
        let root = toml_str(t, "root").map_or_else(
            || format!("/home/{user}/gen/{cluster_name}"),
            |r| r.trim_end_matches('/').to_string(),
        );
        let host = Host {
            bridge: need_str(t, &format!("hosts.{name}"), "bridge")?,
            user,
            root,
            provider: toml_str(t, "provider").unwrap_or("virtualbox").to_string(),
            libvirt_driver: toml_str(t, "libvirt_driver").unwrap_or("kvm").to_string(),
        };
        hosts.insert(name.clone(), host);
    }
    let mut nodes = BTreeMap::new();
    for (name, v) in toml_table(&doc, "nodes")? {
        let table = format!("nodes.{name}");
        let t = v.as_table().ok_or_else(|| format!("site.toml: {table} is not a table"))?;
        let role = match need_str(t, &table, "role")?.as_str() {
            "control-plane" => Role::ControlPlane,
            "worker" => Role::Worker,
            other => return Err(format!("site.toml: {table}.role {other:?}")),
        };
        let node = Node {
            name: name.clone(),
            host: need_str(t, &table, "host")?,
            role,
            ip: need_str(t, &table, "ip")?
                .parse()
                .map_err(|e| format!("site.toml: {table}.ip: {e}"))?,
            cpus: t.get("cpus").and_then(toml::Value::as_integer).unwrap_or(default_cpus),
            memory_mb: t
                .get("memory_mb")
                .and_then(toml::Value::as_integer)
                .unwrap_or(default_memory),
        };
        nodes.insert(name.clone(), node);
    }

    Ok(Site {
        cluster: need_str(cluster, "cluster", "name")?,
        kubespray_version: need_str(ks, "kubespray", "version")?,
        kube_version: toml_str(ks, "kube_version").map(str::to_string),
        network_plugin: toml_str(ks, "network_plugin").unwrap_or("calico").to_string(),
        kube_proxy_mode: toml_str(ks, "kube_proxy_mode").map(str::to_string),
        container_manager: toml_str(ks, "container_manager").map(str::to_string),
        prefix,
        gateway,
        dns,
        box_name: need_str(vagrant, "vagrant", "box")?,
        box_version: need_str(vagrant, "vagrant", "box_version")?,
        helm: addons.get("helm").and_then(toml::Value::as_bool).unwrap_or(false),
        metallb: addons.get("metallb").is_some(),
        hosts,
        nodes,
    })
}

/// One generated tree and the site it was generated from.
struct Case {
    /// How complaints name the tree: `out/` or `golden-tests/<case>`.
    label: String,
    /// The generated tree (`out/` or `expected/`).
    root: PathBuf,
    site: Site,
}

impl Case {
    /// `hosts/<host>` folders of the tree, by host name.
    fn host_dirs(&self) -> Vec<(String, PathBuf)> {
        sorted_entries(&self.root.join("hosts"))
            .into_iter()
            .filter(|p| p.is_dir())
            .map(|p| (file_name(&p), p))
            .collect()
    }

    /// A path relative to the tree, for messages.
    fn rel(&self, path: &Path) -> String {
        path.strip_prefix(&self.root).unwrap_or(path).display().to_string()
    }
}

pub(super) fn repo_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

pub(super) fn target_dir() -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR").map_or_else(|| repo_root().join("target"), PathBuf::from)
}

pub(super) fn fixtures() -> PathBuf {
    repo_root().join("tests/validators")
}

fn sorted_entries(dir: &Path) -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = match fs::read_dir(dir) {
        Ok(rd) => rd.filter_map(|e| e.ok().map(|e| e.path())).collect(),
        Err(_) => Vec::new(),
    };
    v.sort();
    v
}

fn file_name(p: &Path) -> String {
    p.file_name().map(|s| s.to_string_lossy().into_owned()).unwrap_or_default()
}

/// Every tree to validate, and complaints about trees that could not even be read.
fn cases() -> (Vec<Case>, Vec<String>) {
    let mut found = Vec::new();
    let mut problems = Vec::new();
    let root = repo_root();
    let mut candidates: Vec<(String, PathBuf, PathBuf)> = Vec::new();
    if root.join("site.toml").is_file() && root.join("out").is_dir() {
        candidates.push(("out/".into(), root.join("site.toml"), root.join("out")));
    }
    for dir in sorted_entries(&root.join("golden-tests")) {
        if !dir.is_dir() || dir.join("error.txt").exists() {
            continue;
        }
        let label = format!("golden-tests/{}", file_name(&dir));
        if !dir.join("site.toml").is_file() || !dir.join("expected").is_dir() {
            problems.push(format!("[{label}] has neither site.toml + expected/ nor error.txt"));
            continue;
        }
        candidates.push((label, dir.join("site.toml"), dir.join("expected")));
    }
    if let Some(extra) = std::env::var_os("LABGEN_VALIDATE_TREES") {
        for dir in std::env::split_paths(&extra) {
            candidates.push((dir.display().to_string(), dir.join("site.toml"), dir.join("out")));
        }
    }
    for (label, site_path, tree) in candidates {
        match fs::read_to_string(&site_path).map_err(|e| e.to_string()).and_then(|t| parse_site(&t))
        {
            Ok(site) => found.push(Case { label, root: tree, site }),
            Err(e) => problems.push(format!("[{label}] {e}")),
        }
    }
    if found.is_empty() {
        problems.push(
            "no generated tree found: expected out/ beside site.toml and golden-tests/<case>/expected/"
                .into(),
        );
    }
    (found, problems)
}

// ---------------------------------------------------------------------------------------------
// Complaints, tools, processes
// ---------------------------------------------------------------------------------------------

/// Every complaint of one validator; the test fails once, at the end, naming them all.
struct Complaints {
    test: &'static str,
    list: Mutex<Vec<String>>,
    checked: Mutex<usize>,
}

impl Complaints {
    fn new(test: &'static str, early: Vec<String>) -> Complaints {
        Complaints { test, list: Mutex::new(early), checked: Mutex::new(0) }
    }

    fn add(&self, case: &Case, what: impl Display, message: impl Display) {
        self.list.lock().unwrap().push(format!("[{}] {what}: {message}", case.label));
    }

    fn add_raw(&self, message: String) {
        self.list.lock().unwrap().push(message);
    }

    /// Counts one artifact that went through the validator (reported on success).
    fn checked(&self) {
        *self.checked.lock().unwrap() += 1;
    }

    /// The complaints themselves, for the validators' own tests.
    fn into_list(self) -> Vec<String> {
        self.list.into_inner().unwrap()
    }

    fn finish(self) {
        let mut list = self.list.into_inner().unwrap();
        list.sort();
        let checked = self.checked.into_inner().unwrap();
        assert!(
            list.is_empty(),
            "validator `{}`: {} complaint(s) over {checked} artifact(s):\n  - {}\n",
            self.test,
            list.len(),
            list.join("\n  - ")
        );
        loud(&format!("validator `{}`: {checked} artifact(s) checked, no complaint", self.test));
    }
}

/// Writes past the test harness's output capture, so the line shows up in a passing run.
pub(super) fn loud(line: &str) {
    let _ = writeln!(std::io::stderr(), "{line}");
}

pub(super) fn which(tool: &str) -> Option<PathBuf> {
    if tool.contains('/') {
        let p = PathBuf::from(tool);
        return is_executable(&p).then_some(p);
    }
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path).map(|d| d.join(tool)).find(|p| is_executable(p))
}

fn is_executable(p: &Path) -> bool {
    fs::metadata(p).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
}

/// Is `tool` installed? In CI (`CI` set) a missing tool is a failure; elsewhere the test says
/// loudly that it skipped and how to install the tool.
pub(super) fn require(test: &str, tool: &str, package: &str) -> Option<PathBuf> {
    if let Some(p) = which(tool) {
        return Some(p);
    }
    missing(test, tool, package);
    None
}

/// A tool the validator needs is not there: fail in CI, say SKIPPED elsewhere.
fn missing(test: &str, tool: &str, package: &str) {
    let message = format!(
        "`{tool}` is not installed (Debian package `{package}`); install the validators' tools with \
         `sudo .ci/install-tools`"
    );
    assert!(
        std::env::var_os("CI").is_none(),
        "validator `{test}`: {message} (CI is set, so a missing tool is a failure)"
    );
    loud(&format!("\n*** SKIPPED validator `{test}`: {message} ***\n"));
}

/// The interpreter named by a script's `#!` line (e.g. the Ruby that runs `vagrant`).
fn shebang_interpreter(script: &Path) -> Option<PathBuf> {
    let text = fs::read(script).ok()?;
    let first = text.split(|&b| b == b'\n').next()?;
    let first = std::str::from_utf8(first).ok()?.strip_prefix("#!")?.trim();
    let mut words = first.split_whitespace();
    let prog = words.next()?;
    if prog.ends_with("/env") {
        return which(words.next()?);
    }
    Some(PathBuf::from(prog))
}

pub(super) struct Ran {
    pub(super) code: Option<i32>,
    pub(super) stdout: String,
    pub(super) stderr: String,
}

impl Ran {
    pub(super) fn ok(&self) -> bool {
        self.code == Some(0)
    }

    /// stdout and stderr together, trimmed: what "any output is a failure" looks at.
    fn output(&self) -> String {
        let mut s = String::new();
        for part in [self.stdout.trim(), self.stderr.trim()] {
            if !part.is_empty() {
                if !s.is_empty() {
                    s.push('\n');
                }
                s.push_str(part);
            }
        }
        s
    }

    pub(super) fn describe(&self) -> String {
        let code = self.code.map_or("killed by a signal".into(), |c| format!("exit {c}"));
        let out = self.output();
        if out.is_empty() { code } else { format!("{code}: {}", indent(&out)) }
    }
}

fn indent(text: &str) -> String {
    text.lines().collect::<Vec<_>>().join("\n      | ")
}

/// Runs a command with no stdin, capturing its output through files (no pipe can fill up),
/// and kills it after `timeout`.
pub(super) fn run(cmd: &mut Command, timeout: Duration) -> Result<Ran, String> {
    run_with_stdin(cmd, Stdio::null(), timeout)
}

/// `run`, with `stdin` as the command's standard input.
pub(super) fn run_with_stdin(
    cmd: &mut Command,
    stdin: Stdio,
    timeout: Duration,
) -> Result<Ran, String> {
    let what = format!("{cmd:?}");
    let tmp = tempfile::tempdir().map_err(|e| e.to_string())?;
    let out_path = tmp.path().join("stdout");
    let err_path = tmp.path().join("stderr");
    let out = fs::File::create(&out_path).map_err(|e| e.to_string())?;
    let err = fs::File::create(&err_path).map_err(|e| e.to_string())?;
    let mut child = cmd
        .stdin(stdin)
        .stdout(out)
        .stderr(err)
        .spawn()
        .map_err(|e| format!("cannot run {what}: {e}"))?;
    let start = Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().map_err(|e| e.to_string())? {
            break status;
        }
        if start.elapsed() > timeout {
            let _ = child.kill();
            let _ = child.wait();
            return Err(format!("{what} did not finish within {}s", timeout.as_secs()));
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    Ok(Ran {
        code: status.code(),
        stdout: String::from_utf8_lossy(&fs::read(&out_path).unwrap_or_default()).into_owned(),
        stderr: String::from_utf8_lossy(&fs::read(&err_path).unwrap_or_default()).into_owned(),
    })
}

/// Runs `f` on every item, on as many threads as the machine has cores (the tools are separate
/// processes; the test harness itself runs only that many tests at once).
pub(super) fn par_each<T: Sync>(items: &[T], f: impl Fn(&T) + Sync) {
    let next = std::sync::atomic::AtomicUsize::new(0);
    let workers =
        std::thread::available_parallelism().map_or(2, std::num::NonZero::get).clamp(1, 4);
    std::thread::scope(|s| {
        for _ in 0..workers {
            s.spawn(|| {
                loop {
                    let i = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                    let Some(item) = items.get(i) else { break };
                    f(item);
                }
            });
        }
    });
}

pub(super) fn secs(n: u64) -> Duration {
    Duration::from_secs(n)
}

pub(super) fn copy_dir(from: &Path, to: &Path) -> std::io::Result<()> {
    fs::create_dir_all(to)?;
    for entry in fs::read_dir(from)? {
        let entry = entry?;
        let target = to.join(entry.file_name());
        let ty = entry.file_type()?;
        if ty.is_dir() {
            copy_dir(&entry.path(), &target)?;
        } else if ty.is_symlink() {
            std::os::unix::fs::symlink(fs::read_link(entry.path())?, &target)?;
        } else {
            fs::copy(entry.path(), &target)?;
        }
    }
    Ok(())
}

pub(super) fn write_executable(path: &Path, text: &str) {
    fs::create_dir_all(path.parent().unwrap()).unwrap();
    fs::write(path, text).unwrap();
    fs::set_permissions(path, fs::Permissions::from_mode(0o755)).unwrap();
}

pub(super) fn write_mode(path: &Path, bytes: &[u8], mode: u32) {
    fs::create_dir_all(path.parent().unwrap()).unwrap();
    fs::write(path, bytes).unwrap();
    fs::set_permissions(path, fs::Permissions::from_mode(mode)).unwrap();
}

fn files_with_suffix(dir: &Path, suffix: &str) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for p in sorted_entries(dir) {
        if p.is_dir() {
            out.extend(files_with_suffix(&p, suffix));
        } else if file_name(&p).ends_with(suffix) {
            out.push(p);
        }
    }
    out
}

/// Numeric comparison of dotted versions (`2.18.12` < `2.19.0`).
fn version_cmp(a: &str, b: &str) -> std::cmp::Ordering {
    let parts = |s: &str| -> Vec<u64> {
        s.split('.')
            .map(|p| p.chars().take_while(char::is_ascii_digit).collect::<String>())
            .map(|p| p.parse().unwrap_or(0))
            .collect()
    };
    let (mut x, mut y) = (parts(a), parts(b));
    let n = x.len().max(y.len());
    x.resize(n, 0);
    y.resize(n, 0);
    x.cmp(&y)
}

/// `min <= v < max`, kubespray's `ansible_version.yml` check.
fn in_window(v: &str, window: (&str, &str)) -> bool {
    version_cmp(v, window.0).is_ge() && version_cmp(v, window.1).is_lt()
}

// ---------------------------------------------------------------------------------------------
// The tools' reports are JSON: read with serde_json, looked into with a few helpers
// ---------------------------------------------------------------------------------------------

pub(super) type Json = serde_json::Value;

/// What the checks ask of a JSON value.
pub(super) trait JsonExt {
    fn parse(text: &str) -> Result<Json, String>;
    /// `a.b.c` lookup through objects.
    fn at(&self, path: &str) -> Option<&Json>;
    fn str(&self) -> Option<&str>;
    /// The elements of an array; none for anything else.
    fn arr(&self) -> &[Json];
    fn obj(&self) -> Option<&serde_json::Map<String, Json>>;
    fn strings(&self) -> BTreeSet<String>;
    /// Short text for messages.
    fn show(&self) -> String;
}

impl JsonExt for Json {
    fn parse(text: &str) -> Result<Json, String> {
        serde_json::from_str(text).map_err(|e| e.to_string())
    }

    fn at(&self, path: &str) -> Option<&Json> {
        path.split('.').try_fold(self, |v, k| v.get(k))
    }

    fn str(&self) -> Option<&str> {
        self.as_str()
    }

    fn arr(&self) -> &[Json] {
        self.as_array().map_or(&[], Vec::as_slice)
    }

    fn obj(&self) -> Option<&serde_json::Map<String, Json>> {
        self.as_object()
    }

    fn strings(&self) -> BTreeSet<String> {
        self.arr().iter().filter_map(|v| v.as_str().map(str::to_string)).collect()
    }

    fn show(&self) -> String {
        self.to_string()
    }
}

/// YAML file → JSON through PyYAML (`safe_load`), with the given Python.
fn yaml_to_json(python: &Path, file: &Path) -> Result<Json, String> {
    const SCRIPT: &str = "import json, sys, yaml\n\
        with open(sys.argv[1]) as f:\n    data = yaml.safe_load(f)\n\
        json.dump(data, sys.stdout, default=str)\n";
    let ran = run(Command::new(python).arg("-c").arg(SCRIPT).arg(file), secs(60))?;
    if !ran.ok() {
        return Err(format!("not valid YAML: {}", ran.describe()));
    }
    Json::parse(&ran.stdout).map_err(|e| format!("YAML→JSON: {e}"))
}

// ---------------------------------------------------------------------------------------------
// MAC addresses: VirtualBox wants 12 hex digits, netplan wants colons
// ---------------------------------------------------------------------------------------------

/// The 12 lowercase hex digits of a MAC written with or without `:` separators.
fn mac_digits(mac: &str) -> Option<String> {
    let digits: String = mac.chars().filter(|&c| c != ':').collect::<String>().to_ascii_lowercase();
    (digits.len() == 12 && digits.chars().all(|c| c.is_ascii_hexdigit())).then_some(digits)
}

/// What `VBoxManage modifyvm --macaddressN` accepts (VirtualBox `NetworkAdapter::i_updateMacAddress`):
/// exactly 12 hex digits, no separators, and a unicast address (even first octet).
fn virtualbox_mac_problem(mac: &str) -> Option<String> {
    if mac.len() != 12 || !mac.chars().all(|c| c.is_ascii_hexdigit()) {
        return Some(format!(
            "mac {mac:?} is not 12 hex digits without separators; VBoxManage modifyvm \
             --macaddress answers \"Invalid MAC address format\" at `vagrant up`"
        ));
    }
    let first = u8::from_str_radix(&mac[..2], 16).unwrap();
    if first & 1 != 0 {
        return Some(format!("mac {mac:?} is a multicast address"));
    }
    if first & 2 == 0 {
        return Some(format!(
            "mac {mac:?} is not locally administered (first octet x2, x6, xA, xE)"
        ));
    }
    None
}

/// What vagrant-libvirt accepts for a NIC's `mac:` (`config.rb`, `validate`: `xx:xx:xx:xx:xx:xx`,
/// or 12 bare digits it rewrites so) and libvirt's domain XML takes, unicast and locally
/// administered as gen assigns them.
fn libvirt_mac_problem(mac: &str) -> Option<String> {
    let groups: Vec<&str> = mac.split(':').collect();
    if groups.len() != 6
        || !groups.iter().all(|g| g.len() == 2 && g.chars().all(|c| c.is_ascii_hexdigit()))
    {
        return Some(format!(
            "mac {mac:?} is not in xx:xx:xx:xx:xx:xx form; vagrant-libvirt answers \"Configured NIC \
             MAC ... is not in 'xx:xx:xx:xx:xx:xx' or 'xxxxxxxxxxxx' format\""
        ));
    }
    virtualbox_mac_problem(&groups.concat())
}

/// The `match: macaddress:` value in a netplan override, by a plain text scan.
fn netplan_mac(text: &str) -> Option<String> {
    text.lines().find_map(|l| {
        let v = l.trim().strip_prefix("macaddress:")?;
        Some(v.trim().trim_matches(|c| c == '"' || c == '\'').to_string())
    })
}

// ---------------------------------------------------------------------------------------------
// 1. Vagrant
// ---------------------------------------------------------------------------------------------

/// Options of a bridged network that Vagrant's VirtualBox provider reads
/// (`plugins/providers/virtualbox/action/network.rb`, `bridged_config`), plus the two Vagrant
/// itself adds (`protocol`, `id`). Anything else is silently ignored by Vagrant: a typo.
const PUBLIC_NETWORK_OPTIONS: &[&str] = &[
    "adapter",
    "auto_config",
    "bridge",
    "id",
    "ip",
    "mac",
    "netmask",
    "nic_type",
    "protocol",
    "type",
    "use_dhcp_assigned_default_route",
];

/// Options of a public network that vagrant-libvirt reads
/// (`action/create_network_interfaces.rb`, `lib/vagrant-libvirt/util/network_util.rb`), and the
/// ones Vagrant itself reads or adds. Anything else is silently ignored.
const LIBVIRT_PUBLIC_NETWORK_OPTIONS: &[&str] = &[
    "adapter",
    "auto_config",
    "bus",
    "dev",
    "driver_iommu",
    "driver_name",
    "driver_queues",
    "gateway",
    "id",
    "iface_name",
    "ip",
    "mac",
    "mode",
    "model_type",
    "mtu",
    "netmask",
    "network_name",
    "ovs",
    "ovs_interfaceid",
    "portgroup",
    "protocol",
    "route",
    "slot",
    "trust_guest_rx_filters",
    "type",
    "use_dhcp_assigned_default_route",
];

/// Ruby that makes a Vagrantfile depend on something other than `site.toml`.
const IMPURE_RUBY: &[&str] = &[
    "ENV[",
    "ENV.",
    "Time.now",
    "Time.new",
    "SecureRandom",
    "Random",
    "rand(",
    "Dir.home",
    "%x",
    "Etc.",
];

pub(super) struct VagrantTools {
    vagrant: PathBuf,
    pub(super) ruby: PathBuf,
    /// PATH with the stub `VBoxManage` first.
    path: std::ffi::OsString,
    _tmp: tempfile::TempDir,
}

#[test]
fn vagrant() {
    let (cases, early) = cases();
    let c = Complaints::new("vagrant", early);
    let Some(tools) = vagrant_tools("vagrant") else { return };
    par_each(&cases, |case| check_vagrant_case(&c, case, &tools));
    c.finish();
}

pub(super) fn vagrant_tools(test: &str) -> Option<VagrantTools> {
    let vagrant = require(test, "vagrant", "vagrant")?;
    // The Ruby that runs vagrant (Debian: /usr/bin/ruby) can load Vagrant's library.
    let ruby = shebang_interpreter(&vagrant)
        .filter(|p| file_name(p).starts_with("ruby") && is_executable(p))
        .or_else(|| require(test, "ruby", "ruby"))?;

    let tmp = tempfile::tempdir().unwrap();
    // VirtualBox is not installed here; this answers the only call `vagrant validate` makes, so
    // that the VirtualBox provider loads and its config block is validated too.
    write_executable(
        &tmp.path().join("stub-bin/VBoxManage"),
        "#!/bin/sh\nif [ \"$1\" = --version ]; then echo 7.0.20r163906; exit 0; fi\n\
         echo \"VBoxManage stub: unexpected call: $*\" >&2\nexit 1\n",
    );
    let mut path = std::ffi::OsString::from(tmp.path().join("stub-bin"));
    path.push(":");
    path.push(std::env::var_os("PATH").unwrap_or_default());
    Some(VagrantTools { vagrant, ruby, path, _tmp: tmp })
}

fn check_vagrant_case(c: &Complaints, case: &Case, tools: &VagrantTools) {
    let mut macs: BTreeMap<String, String> = BTreeMap::new();
    let mut vm_names: BTreeMap<String, String> = BTreeMap::new();
    let site_hosts: BTreeSet<&String> = case.site.nodes.values().map(|n| &n.host).collect();
    let dirs = case.host_dirs();
    for host in &site_hosts {
        if !dirs.iter().any(|(h, _)| h == *host) {
            c.add(case, format!("hosts/{host}"), "missing: the host has nodes in site.toml");
        }
    }
    for (host, dir) in dirs {
        check_vagrant_host(c, case, &host, &dir, tools, &mut macs, &mut vm_names);
    }
}

/// `program` (vagrant or its Ruby) in `dir`, with the stub VBoxManage, no network call, and
/// Vagrant's home and machine state in the scratch folder `scratch`.
pub(super) fn vagrant_command(
    tools: &VagrantTools,
    program: &Path,
    dir: &Path,
    scratch: &Path,
) -> Command {
    let mut cmd = Command::new(program);
    cmd.current_dir(dir)
        .env("PATH", &tools.path)
        .env("VAGRANT_CHECKPOINT_DISABLE", "1")
        .env("VAGRANT_HOME", scratch.join("home"))
        .env("VAGRANT_DOTFILE_PATH", scratch.join("dotfile"))
        .env("VAGRANT_DEFAULT_PROVIDER", "virtualbox")
        .env("VAGRANT_NO_COLOR", "1")
        .env_remove("VAGRANT_CWD")
        .env_remove("VAGRANT_VAGRANTFILE")
        .env_remove("VAGRANT_LOG");
    cmd
}

fn check_vagrant_host(
    c: &Complaints,
    case: &Case,
    host: &str,
    dir: &Path,
    tools: &VagrantTools,
    macs: &mut BTreeMap<String, String>,
    vm_names: &mut BTreeMap<String, String>,
) {
    let Some(site_host) = case.site.hosts.get(host) else {
        c.add(case, format!("hosts/{host}"), "a host that site.toml does not declare");
        return;
    };
    // Vagrant may write beside the Vagrantfile; work on a copy of the whole host folder so that
    // the netplan file beside it resolves as it does on the VM server.
    let tmp = tempfile::tempdir().unwrap();
    let copy = tmp.path().join(host);
    copy_dir(dir, &copy).unwrap();

    // One Vagrant environment per VM: vms/<node>/Vagrantfile defines exactly that node.
    let on_host: Vec<&String> =
        case.site.nodes.iter().filter(|(_, n)| n.host == host).map(|(name, _)| name).collect();
    for node_name in &on_host {
        let expected: BTreeSet<String> = BTreeSet::from([(*node_name).clone()]);
        let vm_dir = format!("vms/{node_name}");
        let vagrantfile = dir.join(&vm_dir).join("Vagrantfile");
        let rel = case.rel(&vagrantfile);
        if !vagrantfile.is_file() {
            c.add(case, &rel, format!("missing; site.toml puts {node_name} on {host}"));
            continue;
        }
        c.checked();
        let text = fs::read_to_string(&vagrantfile).unwrap_or_default();
        for (n, line) in text.lines().enumerate() {
            let code = ruby_code(line);
            for bad in IMPURE_RUBY {
                if code.contains(bad) {
                    c.add(
                        case,
                        format!("{rel}:{}", n + 1),
                        format!("`{bad}` makes the Vagrantfile impure"),
                    );
                }
            }
        }

        let work = copy.join(&vm_dir);
        // Each Vagrantfile gets its own Vagrant home and state: validations run in parallel.
        let scratch = tmp.path().join(format!("scratch-{node_name}"));
        let validate =
            run(vagrant_command(tools, &tools.vagrant, &work, &scratch).arg("validate"), secs(120));
        match validate {
            Err(e) => c.add(case, &rel, e),
            Ok(ran) => {
                let clean = ran.ok()
                    && ran.stdout.trim() == "Vagrantfile validated successfully."
                    && ran.stderr.trim().is_empty();
                if !clean {
                    c.add(case, &rel, format!("vagrant validate: {}", ran.describe()));
                }
            }
        }

        let script = fixtures().join("vagrant_inspect.rb");
        let mut cmd = vagrant_command(tools, &tools.ruby, &work, &scratch);
        cmd.arg(&script).arg(&work).arg(scratch.join("home")).arg(scratch.join("dotfile"));
        let facts = match run(&mut cmd, secs(120)) {
            Err(e) => {
                c.add(case, &rel, e);
                continue;
            }
            Ok(ran) => match Json::parse(ran.stdout.trim()) {
                Ok(j) if ran.ok() && j.get("machines").is_some() => j,
                Ok(j) => {
                    let error = j.get("error").map_or_else(|| ran.describe(), Json::show);
                    c.add(case, &rel, format!("Vagrant's config loader: {error}"));
                    continue;
                }
                Err(e) => {
                    c.add(case, &rel, format!("vagrant_inspect.rb: {e}: {}", ran.describe()));
                    continue;
                }
            },
        };
        if facts.get("machines").is_none_or(|m| m.arr().is_empty()) {
            c.add(case, &rel, "defines no machine");
        } else {
            let names: BTreeSet<String> = facts["machines"]
                .arr()
                .iter()
                .filter_map(|m| m.get("name")?.str().map(str::to_string))
                .collect();
            if names != expected {
                c.add(
                    case,
                    &rel,
                    format!("defines machines {names:?}; site.toml has {expected:?}"),
                );
            }
        }
        for m in facts["machines"].arr() {
            let name = m.get("name").and_then(Json::str).unwrap_or("?");
            let at = format!("{rel} machine {name:?}");
            let Some(node) = case.site.nodes.get(name) else { continue };
            check_machine(c, case, &at, m, node, site_host, dir, &work, macs, vm_names);
        }
    }
    for entry in sorted_entries(dir) {
        let name = file_name(&entry);
        if entry.is_dir() && !["vms", "systemd"].contains(&name.as_str()) {
            c.add(case, case.rel(&entry), "unexpected folder in a host subtree");
        }
    }
    for entry in sorted_entries(&dir.join("vms")) {
        if !on_host.iter().any(|n| **n == file_name(&entry)) {
            c.add(case, case.rel(&entry), "a VM folder for a node site.toml does not put here");
        }
    }
}

/// A line of Ruby without its comment: a `#` outside quotes, and not opening `#{`.
fn ruby_code(line: &str) -> &str {
    let mut quote: Option<char> = None;
    let mut escaped = false;
    let mut chars = line.char_indices().peekable();
    while let Some((i, ch)) = chars.next() {
        match (quote, ch) {
            (Some(_), _) if escaped => escaped = false,
            (Some(_), '\\') => escaped = true,
            (Some(q), c) if c == q => quote = None,
            (Some(_), _) => {}
            (None, '"' | '\'') => quote = Some(ch),
            (None, '#') if chars.peek().map(|&(_, c)| c) != Some('{') => return &line[..i],
            (None, _) => {}
        }
    }
    line
}

/// A described Ruby value from vagrant_inspect.rb: `{"class": ..., "value": ...}`.
fn ruby(v: &Json) -> (&str, &Json) {
    (v["class"].str().unwrap_or("?"), &v["value"])
}

fn ruby_str(v: &Json) -> Option<&str> {
    match ruby(v) {
        ("String", Json::String(s)) => Some(s),
        _ => None,
    }
}

#[allow(clippy::too_many_arguments)]
fn check_machine(
    c: &Complaints,
    case: &Case,
    at: &str,
    m: &Json,
    node: &Node,
    host: &Host,
    host_dir: &Path,
    work: &Path,
    macs: &mut BTreeMap<String, String>,
    vm_names: &mut BTreeMap<String, String>,
) {
    let site = &case.site;
    // The box, pinned.
    if ruby_str(&m["box"]) != Some(site.box_name.as_str()) {
        c.add(
            case,
            at,
            format!("box {} is not site.toml's {:?}", m["box"]["value"].show(), site.box_name),
        );
    }
    match ruby_str(&m["box_version"]) {
        Some(v) if v == site.box_version => {
            if !v.split('.').all(|p| !p.is_empty() && p.chars().all(|c| c.is_ascii_digit())) {
                c.add(
                    case,
                    at,
                    format!("box_version {v:?} is a constraint, not one pinned version"),
                );
            }
        }
        _ => c.add(
            case,
            at,
            format!(
                "box_version {} is not site.toml's {:?}",
                m["box_version"]["value"].show(),
                site.box_version
            ),
        ),
    }
    if let Some(h) = ruby_str(&m["hostname"]) {
        if h != node.name {
            c.add(case, at, format!("hostname {h:?} is not the node name"));
        }
    }
    let provider = if host.libvirt() { "libvirt" } else { "virtualbox" };
    if !m["providers"].strings().contains(provider) {
        c.add(case, at, format!("has no `{provider}` provider block (site.toml: {provider})"));
    }
    let known_options =
        if host.libvirt() { LIBVIRT_PUBLIC_NETWORK_OPTIONS } else { PUBLIC_NETWORK_OPTIONS };

    // Networks: exactly one bridged NIC, nothing else but Vagrant's own ssh forward.
    let mut bridged = Vec::new();
    for net in m["networks"].arr() {
        let ty = net["type"].str().unwrap_or("?");
        let (_, opts) = ruby(&net["options"]);
        match ty {
            "public_network" => bridged.push(opts),
            "forwarded_port" if ruby_str(&opts["id"]) == Some("ssh") => {}
            other => c.add(case, at, format!("unexpected `{other}` network {}", opts.show())),
        }
    }
    if bridged.len() != 1 {
        c.add(
            case,
            at,
            format!("has {} public_network(s); exactly one bridged NIC is expected", bridged.len()),
        );
    }
    for opts in bridged {
        let keys: BTreeSet<&str> =
            opts.obj().map(|o| o.keys().map(String::as_str).collect()).unwrap_or_default();
        for k in &keys {
            if !known_options.contains(k) {
                c.add(
                    case,
                    at,
                    format!(
                        "public_network option `{k}:` is unknown to Vagrant and silently ignored"
                    ),
                );
            }
        }
        // VirtualBox names the NIC to bridge with `bridge:`; vagrant-libvirt with `dev:`, and
        // only `type: "bridge"` attaches it to a Linux bridge (its default, `direct`, is a
        // macvtap NIC through which the server cannot reach its own guests).
        let bridge_key = if host.libvirt() { "dev" } else { "bridge" };
        match ruby_str(&opts[bridge_key]) {
            None if host.libvirt() => c.add(
                case,
                at,
                "public_network has no `dev:` string: vagrant-libvirt would attach the NIC to eth0",
            ),
            None => c.add(
                case,
                at,
                "public_network has no `bridge:` string: at `vagrant up` Vagrant asks which interface to \
                 bridge, which hangs the boot unit",
            ),
            Some(b) if b != host.bridge => {
                c.add(case, at, format!("{bridge_key} {b:?} is not the host's {:?}", host.bridge));
            }
            Some(_) => {}
        }
        if host.libvirt() && ruby_str(&opts["type"]) != Some("bridge") {
            c.add(
                case,
                at,
                format!(
                    "public_network type {} is not \"bridge\": vagrant-libvirt makes a macvtap NIC, \
                     through which the server cannot reach its guests",
                    opts["type"]["value"].show()
                ),
            );
        }
        match ruby_str(&opts["ip"]).map(|s| (s, s.parse::<Ipv4Addr>())) {
            None => c.add(case, at, "public_network has no `ip:` string"),
            Some((s, Err(_))) => c.add(case, at, format!("ip {s:?} is not an IPv4 address")),
            Some((s, Ok(ip))) if ip != node.ip => {
                c.add(case, at, format!("ip {s} is not the node's {}", node.ip));
            }
            _ => {}
        }
        if opts["auto_config"]["value"] != Json::Bool(false) {
            c.add(
                case,
                at,
                "public_network without `auto_config: false`: Vagrant writes its own 50-vagrant.yaml \
                 for the bridged NIC beside gen's override",
            );
        }
        match ruby_str(&opts["mac"]) {
            None => c.add(
                case,
                at,
                "public_network has no `mac:` string (the netplan override matches by MAC)",
            ),
            Some(mac) => {
                let problem = if host.libvirt() {
                    libvirt_mac_problem(mac)
                } else {
                    virtualbox_mac_problem(mac)
                };
                if let Some(p) = problem {
                    c.add(case, at, p);
                }
                let digits = mac_digits(mac).unwrap_or_else(|| mac.to_string());
                if let Some(other) = macs.insert(digits.clone(), node.name.clone()) {
                    c.add(case, at, format!("mac {mac} is also {other}'s"));
                }
                let override_path = host_dir.join("vms").join(&node.name).join("netplan.yaml");
                match fs::read_to_string(&override_path).ok().as_deref().and_then(netplan_mac) {
                    None => c.add(
                        case,
                        at,
                        format!("{} has no match: macaddress", case.rel(&override_path)),
                    ),
                    Some(np) if mac_digits(&np).as_deref() != Some(digits.as_str()) => c.add(
                        case,
                        at,
                        format!(
                            "mac {mac} is not the MAC {np} that {} matches",
                            case.rel(&override_path)
                        ),
                    ),
                    Some(_) => {}
                }
            }
        }
    }

    if host.libvirt() {
        check_libvirt_block(c, case, at, &m["libvirt"], node, host, vm_names);
    } else {
        check_virtualbox_block(c, case, at, &m["virtualbox"], node, vm_names);
    }
    check_netplan_provisioners(c, case, at, m, node, host_dir, work);
}

/// VirtualBox: integer cpus and memory equal to the site's, a VM name with the cluster prefix.
fn check_virtualbox_block(
    c: &Complaints,
    case: &Case,
    at: &str,
    vb: &Json,
    node: &Node,
    vm_names: &mut BTreeMap<String, String>,
) {
    let site = &case.site;
    for (what, raw_key, flag, expected) in [
        ("memory", "raw_memory", "--memory", node.memory_mb),
        ("cpus", "raw_cpus", "--cpus", node.cpus),
    ] {
        let (class, value) = ruby(&vb[raw_key]);
        if class != "?" && class != "Integer" {
            c.add(case, at, format!("vb.{what} = {} is a {class}, not an Integer", value.show()));
        }
        let effective = vb["customizations"].arr().iter().rev().find_map(|cz| {
            let cmd: Vec<&Json> = ruby(&cz["command"]).1.arr().iter().map(|a| ruby(a).1).collect();
            let i = cmd.iter().position(|a| a.str() == Some(flag))?;
            cmd.get(i + 1).copied()
        });
        let as_int = match effective {
            Some(Json::Number(n)) => n.as_i64(),
            Some(Json::String(s)) => s.parse::<i64>().ok(),
            _ => None,
        };
        match (effective, as_int) {
            (None, _) => {
                c.add(case, at, format!("{what} is not set; the box's default would be used"));
            }
            (Some(v), None) => c.add(case, at, format!("{what} {} is not an integer", v.show())),
            (_, Some(n)) if n != expected => {
                c.add(case, at, format!("{what} {n} is not site.toml's {expected}"));
            }
            _ => {}
        }
    }
    match ruby_str(&vb["name"]) {
        None => c.add(
            case,
            at,
            "vb.name is not set: VirtualBox would name the VM after the folder and a timestamp",
        ),
        Some(n) => {
            if !n.starts_with(&format!("{}-", site.cluster)) {
                c.add(
                    case,
                    at,
                    format!(
                        "VM name {n:?} does not start with the cluster name {:?}",
                        site.cluster
                    ),
                );
            }
            if let Some(other) = vm_names.insert(n.to_string(), node.name.clone()) {
                c.add(case, at, format!("VM name {n:?} is also {other}'s"));
            }
        }
    }
}

/// vagrant-libvirt: the system libvirtd, the site's driver, cpus and memory, virtio, a domain
/// name (prefix + node) unique on the server and carrying the cluster's name, and the
/// management network Vagrant reaches the guest through.
fn check_libvirt_block(
    c: &Complaints,
    case: &Case,
    at: &str,
    lv: &Json,
    node: &Node,
    host: &Host,
    vm_names: &mut BTreeMap<String, String>,
) {
    let site = &case.site;
    let int = |key: &str| match ruby(&lv[key]) {
        ("Integer", Json::Number(n)) => n.as_i64(),
        _ => None,
    };
    for (key, expected) in [("memory", node.memory_mb), ("cpus", node.cpus)] {
        match int(key) {
            Some(n) if n == expected => {}
            Some(n) => c.add(case, at, format!("lv.{key} {n} is not site.toml's {expected}")),
            None => {
                c.add(
                    case,
                    at,
                    format!("lv.{key} = {} is not an Integer", lv[key]["value"].show()),
                );
            }
        }
    }
    // The system daemon: a boot unit's VMs must not live in the user's session daemon, which
    // dies with the user's last login.
    let expected_str: [(&str, &str); 4] = [
        ("uri", "qemu:///system"),
        ("driver", host.libvirt_driver.as_str()),
        ("disk_bus", "virtio"),
        ("nic_model_type", "virtio"),
    ];
    for (key, expected) in expected_str {
        if ruby_str(&lv[key]) != Some(expected) {
            c.add(case, at, format!("lv.{key} = {} is not {expected:?}", lv[key]["value"].show()));
        }
    }
    match ruby_str(&lv["default_prefix"]) {
        None => c.add(
            case,
            at,
            "lv.default_prefix is not set: vagrant-libvirt would name the domain after the folder",
        ),
        Some(prefix) => {
            let domain = format!("{prefix}{}", node.name);
            if !domain.starts_with(&format!("{}-", site.cluster)) {
                c.add(
                    case,
                    at,
                    format!(
                        "domain {domain:?} does not start with the cluster name {:?}",
                        site.cluster
                    ),
                );
            }
            if let Some(other) =
                vm_names.insert(format!("{}/{domain}", node.host), node.name.clone())
            {
                c.add(case, at, format!("domain {domain:?} is also {other}'s"));
            }
        }
    }
    // Otherwise destroying a VM can undefine the network the server's other VMs share.
    if !matches!(ruby(&lv["management_network_keep"]), ("TrueClass", Json::Bool(true))) {
        let keep = lv["management_network_keep"]["value"].show();
        c.add(case, at, format!("lv.management_network_keep = {keep} is not true"));
    }
    match ruby_str(&lv["management_network_address"]).map(|a| (a, a.split_once('/'))) {
        Some((_, Some((net, len)))) => {
            let lan = Ipv4Net::new(site.gateway, site.prefix);
            let mgmt = net.parse().ok().zip(len.parse().ok()).map(|(n, l)| Ipv4Net::new(n, l));
            match mgmt {
                Some(m) if m.overlaps(lan) => c.add(
                    case,
                    at,
                    format!("management network {m} overlaps the LAN {lan}: routes would clash"),
                ),
                Some(_) => {}
                None => c.add(case, at, format!("management network {net}/{len} is not a CIDR")),
            }
        }
        other => c.add(case, at, format!("lv.management_network_address {other:?} is not a CIDR")),
    }
}

/// An IPv4 network by its first address and prefix length, for overlap checks.
#[derive(Debug, Clone, Copy)]
struct Ipv4Net {
    first: u32,
    len: u8,
}

impl Ipv4Net {
    fn new(addr: Ipv4Addr, len: u8) -> Ipv4Net {
        let mask = if len == 0 { 0 } else { u32::MAX << (32 - u32::from(len.min(32))) };
        Ipv4Net { first: u32::from(addr) & mask, len }
    }

    fn last(self) -> u32 {
        self.first | if self.len >= 32 { 0 } else { u32::MAX >> self.len }
    }

    fn overlaps(self, other: Ipv4Net) -> bool {
        self.first <= other.last() && other.first <= self.last()
    }
}

impl Display for Ipv4Net {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", Ipv4Addr::from(self.first), self.len)
    }
}

/// The netplan override goes into the guest.
fn check_netplan_provisioners(
    c: &Complaints,
    case: &Case,
    at: &str,
    m: &Json,
    node: &Node,
    host_dir: &Path,
    work: &Path,
) {
    let override_path = host_dir.join("vms").join(&node.name).join("netplan.yaml");
    let override_text = fs::read_to_string(&override_path).unwrap_or_default();
    let want = work.join("netplan.yaml");
    let mut uploads = false;
    let mut installs = false;
    for p in m["provisioners"].arr() {
        let cfg = &p["config"];
        match p["type"].str() {
            Some("file") => {
                if let Some(src) = ruby_str(&cfg["source"]) {
                    let resolved = work.join(src);
                    if resolved.canonicalize().ok() == want.canonicalize().ok() {
                        uploads = true;
                    } else if !resolved.exists() {
                        c.add(case, at, format!("file provisioner source {src:?} does not exist"));
                    }
                }
            }
            Some("shell") => {
                let inline = ruby_str(&cfg["inline"]).unwrap_or("");
                if !override_text.is_empty() && inline.contains(override_text.trim()) {
                    uploads = true;
                }
                if inline.contains("/etc/netplan/99-gen-bridged.yaml") {
                    installs = true;
                    if !inline.contains("600") {
                        c.add(
                            case,
                            at,
                            "installs /etc/netplan/99-gen-bridged.yaml without mode 0600",
                        );
                    }
                }
            }
            _ => {}
        }
    }
    if !uploads {
        c.add(
            case,
            at,
            format!("no provisioner copies {} into the guest", case.rel(&override_path)),
        );
    }
    if !installs {
        c.add(case, at, "no shell provisioner installs /etc/netplan/99-gen-bridged.yaml");
    }
}

// ---------------------------------------------------------------------------------------------
// 2. netplan
// ---------------------------------------------------------------------------------------------

/// A box's own netplan config under `tests/validators/netplan/<name>/`, and the netplan id of its
/// NAT NIC (so the generated `10-netplan-<id>.network` is the NAT NIC's).
struct NetplanBase {
    name: &'static str,
    nat_id: &'static str,
}

const NETPLAN_BASES: &[NetplanBase] = &[
    NetplanBase { name: "ubuntu-jammy-cloud-init", nat_id: "enp0s3" },
    NetplanBase { name: "generic-robox", nat_id: "eth0" },
];

/// systemd-networkd's DHCP route metric when netplan writes none (`src/networkd.c`).
const DEFAULT_DHCP_ROUTE_METRIC: i64 = 100;

/// A systemd unit or networkd file: sections in order (a section may repeat, e.g. `[Route]`).
struct Ini {
    sections: Vec<(String, Vec<(String, String)>)>,
}

impl Ini {
    fn parse(text: &str) -> Ini {
        let mut sections: Vec<(String, Vec<(String, String)>)> = Vec::new();
        for line in text.lines() {
            let line = line.trim();
            if line.is_empty() || line.starts_with('#') || line.starts_with(';') {
                continue;
            }
            if let Some(name) = line.strip_prefix('[').and_then(|l| l.strip_suffix(']')) {
                sections.push((name.to_string(), Vec::new()));
            } else if let (Some((k, v)), Some(last)) = (line.split_once('='), sections.last_mut()) {
                last.1.push((k.trim().to_string(), v.trim().to_string()));
            }
        }
        Ini { sections }
    }

    /// Every value of `key` in every `section` of that name, in order.
    fn all(&self, section: &str, key: &str) -> Vec<&str> {
        self.sections
            .iter()
            .filter(|(s, _)| s == section)
            .flat_map(|(_, kv)| kv.iter().filter(|(k, _)| k == key).map(|(_, v)| v.as_str()))
            .collect()
    }

    fn last(&self, section: &str, key: &str) -> Option<&str> {
        self.all(section, key).pop()
    }

    fn each<'a>(&'a self, section: &'a str) -> impl Iterator<Item = &'a [(String, String)]> + 'a {
        self.sections.iter().filter(move |(s, _)| s == section).map(|(_, kv)| kv.as_slice())
    }
}

fn kv<'a>(pairs: &'a [(String, String)], key: &str) -> Option<&'a str> {
    pairs.iter().rev().find(|(k, _)| k == key).map(|(_, v)| v.as_str())
}

fn is_default_destination(d: Option<&str>) -> bool {
    matches!(d, Some("0.0.0.0/0" | "default"))
}

#[test]
fn netplan() {
    let (cases, early) = cases();
    let c = Complaints::new("netplan", early);
    let Some(tools) = netplan_tools("netplan") else { return };
    par_each(&cases, |case| check_netplan_case(&c, case, &tools));
    c.finish();
}

/// `netplan`, and the Python it runs on (netplan.io depends on PyYAML: it reads the override
/// for the version check).
fn netplan_tools(test: &str) -> Option<(PathBuf, PathBuf)> {
    let netplan = require(test, "netplan", "netplan.io")?;
    let python = shebang_interpreter(&netplan)
        .filter(|p| is_executable(p))
        .or_else(|| require(test, "python3", "python3-yaml"))?;
    Some((netplan, python))
}

fn check_netplan_case(c: &Complaints, case: &Case, (netplan, python): &(PathBuf, PathBuf)) {
    for (host, dir) in case.host_dirs() {
        let on_host: BTreeSet<String> = [Role::ControlPlane, Role::Worker]
            .iter()
            .flat_map(|&r| case.site.nodes_on(&host, r))
            .collect();
        for stem in &on_host {
            let file = dir.join("vms").join(stem).join("netplan.yaml");
            let rel = case.rel(&file);
            if !file.is_file() {
                c.add(case, &rel, "missing");
                continue;
            }
            let node = &case.site.nodes[stem];
            c.checked();
            check_netplan_override(c, case, &rel, &file, node, netplan, python);
        }
    }
}

fn check_netplan_override(
    c: &Complaints,
    case: &Case,
    rel: &str,
    file: &Path,
    node: &Node,
    netplan: &Path,
    python: &Path,
) {
    let site = &case.site;
    let doc = match yaml_to_json(python, file) {
        Ok(j) => j,
        Err(e) => return c.add(case, rel, e),
    };
    if doc.at("network.version") != Some(&Json::from(2)) {
        c.add(
            case,
            rel,
            format!(
                "network.version is {}, not 2",
                doc.at("network.version").map_or("absent".into(), Json::show)
            ),
        );
    }
    let ethernets = doc.at("network.ethernets").and_then(Json::obj).cloned().unwrap_or_default();
    if ethernets.len() != 1 {
        c.add(
            case,
            rel,
            format!("has {} ethernets; exactly one (the bridged NIC) is expected", ethernets.len()),
        );
    }
    let Some(mac) =
        ethernets.values().find_map(|e| e.at("match.macaddress")?.str().map(str::to_string))
    else {
        return c.add(case, rel, "the bridged NIC is not matched by `match: macaddress:`");
    };
    if mac_digits(&mac).is_none() || mac.len() != 17 {
        return c.add(
            case,
            rel,
            format!("macaddress {mac:?} is not of the form xx:xx:xx:xx:xx:xx"),
        );
    }
    let address = format!("{}/{}", node.ip, site.prefix);

    for base in NETPLAN_BASES {
        let at = format!("{rel} (over the {} box config)", base.name);
        let tmp = tempfile::tempdir().unwrap();
        let etc = tmp.path().join("etc/netplan");
        for b in sorted_entries(&fixtures().join("netplan").join(base.name)) {
            write_mode(&etc.join(file_name(&b)), &fs::read(&b).unwrap(), 0o600);
        }
        write_mode(&etc.join("99-gen-bridged.yaml"), &fs::read(file).unwrap(), 0o600);
        match run(Command::new(netplan).arg("generate").arg("--root-dir").arg(tmp.path()), secs(60))
        {
            Err(e) => {
                c.add(case, &at, e);
                continue;
            }
            Ok(ran) if !ran.ok() || !ran.output().is_empty() => {
                c.add(case, &at, format!("netplan generate: {}", ran.describe()));
                if !ran.ok() {
                    continue;
                }
            }
            Ok(_) => {}
        }
        let mut networks: Vec<(String, Ini)> =
            sorted_entries(&tmp.path().join("run/systemd/network"))
                .into_iter()
                .filter(|p| file_name(p).ends_with(".network"))
                .map(|p| (file_name(&p), Ini::parse(&fs::read_to_string(&p).unwrap_or_default())))
                .collect();
        let matches_mac = |ini: &Ini| {
            ini.all("Match", "MACAddress")
                .into_iter()
                .chain(ini.all("Match", "PermanentMACAddress"))
                .any(|m| m.eq_ignore_ascii_case(&mac))
        };
        let bridged: Vec<usize> =
            (0..networks.len()).filter(|&i| matches_mac(&networks[i].1)).collect();
        let nat_name = format!("10-netplan-{}.network", base.nat_id);
        let nat = networks.iter().position(|(n, _)| *n == nat_name);
        if bridged.len() != 1 {
            c.add(
                case,
                &at,
                format!("{} generated .network files match MAC {mac}; one expected", bridged.len()),
            );
            continue;
        }
        let Some(nat) = nat else {
            c.add(case, &at, format!("the box's NAT NIC lost its {nat_name}"));
            continue;
        };
        if nat == bridged[0] {
            c.add(case, &at, format!("the override rewrites the NAT NIC's {nat_name}"));
            continue;
        }
        let (bname, b) = &networks[bridged[0]];
        let (_, n) = &networks[nat];

        // NAT NIC: still DHCP, default route at the DHCP metric.
        let nat_dhcp = n.last("Network", "DHCP").unwrap_or("no");
        if !matches!(nat_dhcp, "ipv4" | "yes" | "true") {
            c.add(case, &at, format!("the NAT NIC's DHCP became {nat_dhcp:?}"));
        }
        let nat_metric = n
            .last("DHCP", "RouteMetric")
            .or_else(|| n.last("DHCPv4", "RouteMetric"))
            .map_or(DEFAULT_DHCP_ROUTE_METRIC, |m| m.parse::<i64>().unwrap_or(i64::MAX));
        if n.last("DHCP", "UseRoutes").or_else(|| n.last("DHCPv4", "UseRoutes")) == Some("false") {
            c.add(
                case,
                &at,
                "the NAT NIC's DHCP routes are turned off; the plan keeps them as a fallback",
            );
        }

        // Bridged NIC: static address, DNS, the one static default route below the NAT metric.
        let addresses = b.all("Network", "Address");
        if addresses != [address.as_str()] {
            c.add(case, &at, format!("{bname}: Address={addresses:?}, expected [{address:?}]"));
        }
        if let Some(d) = b.last("Network", "DHCP").filter(|d| matches!(*d, "ipv4" | "yes" | "true"))
        {
            c.add(case, &at, format!("{bname}: DHCP={d} on the static bridged NIC"));
        }
        let dns: Vec<&str> = b.all("Network", "DNS");
        if dns != site.dns.iter().map(String::as_str).collect::<Vec<_>>() {
            c.add(case, &at, format!("{bname}: DNS={dns:?}, site.toml says {:?}", site.dns));
        }
        let defaults: Vec<&[(String, String)]> =
            b.each("Route").filter(|r| is_default_destination(kv(r, "Destination"))).collect();
        match defaults.as_slice() {
            [route] => {
                let gw = kv(route, "Gateway");
                if gw != Some(site.gateway.to_string().as_str()) {
                    c.add(
                        case,
                        &at,
                        format!(
                            "{bname}: default route Gateway={gw:?}, site.toml says {}",
                            site.gateway
                        ),
                    );
                }
                match kv(route, "Metric").map(str::parse::<i64>) {
                    None => c.add(case, &at, format!("{bname}: default route has no Metric=")),
                    Some(Err(_)) => c.add(case, &at, format!("{bname}: default route Metric is not a number")),
                    Some(Ok(m)) if m >= nat_metric => c.add(
                        case,
                        &at,
                        format!("{bname}: default route Metric={m} does not beat the NAT DHCP RouteMetric={nat_metric}"),
                    ),
                    Some(Ok(_)) => {}
                }
            }
            other => c.add(
                case,
                &at,
                format!("{bname}: {} static default routes; one expected", other.len()),
            ),
        }
        // Nobody else adds a static default route.
        networks.remove(bridged[0]);
        for (name, ini) in &networks {
            if ini.each("Route").any(|r| {
                is_default_destination(kv(r, "Destination"))
                    || kv(r, "Gateway").is_some() && kv(r, "Destination").is_none()
            }) {
                c.add(case, &at, format!("{name} also has a static default route"));
            }
        }
    }
}

// ---------------------------------------------------------------------------------------------
// 3. systemd
// ---------------------------------------------------------------------------------------------

/// `Environment=` assignments, split as systemd does (whitespace, double or single quotes).
fn environment(values: &[&str]) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    for value in values {
        let mut words = Vec::new();
        let mut cur = String::new();
        let mut quote: Option<char> = None;
        let mut in_word = false;
        for ch in value.chars() {
            match (quote, ch) {
                (Some(q), c) if c == q => quote = None,
                (Some(_), c) => cur.push(c),
                (None, '"' | '\'') => {
                    quote = Some(ch);
                    in_word = true;
                }
                (None, c) if c.is_whitespace() => {
                    if in_word {
                        words.push(std::mem::take(&mut cur));
                        in_word = false;
                    }
                }
                (None, c) => {
                    cur.push(c);
                    in_word = true;
                }
            }
        }
        if in_word {
            words.push(cur);
        }
        for w in words {
            if let Some((k, v)) = w.split_once('=') {
                out.insert(k.to_string(), v.to_string());
            }
        }
    }
    out
}

fn machine_unit_dir() -> Option<PathBuf> {
    ["/usr/lib/systemd/system", "/lib/systemd/system"]
        .iter()
        .map(PathBuf::from)
        .find(|p| p.is_dir())
}

#[test]
fn systemd() {
    let (cases, early) = cases();
    let c = Complaints::new("systemd", early);
    let Some(analyze) = require("systemd", "systemd-analyze", "systemd") else { return };
    let Some(units) = machine_unit_dir() else {
        return missing("systemd", "/usr/lib/systemd/system/", "systemd");
    };

    par_each(&cases, |case| check_systemd_case(&c, case, &analyze, &units));
    c.finish();
}

fn check_systemd_case(c: &Complaints, case: &Case, analyze: &Path, units: &Path) {
    for (host, dir) in case.host_dirs() {
        let Some(site_host) = case.site.hosts.get(&host) else { continue };
        // A root that looks like the VM server: the machine's units, VirtualBox's driver unit.
        let root = tempfile::tempdir().unwrap();
        let system = root.path().join("etc/systemd/system");
        fs::create_dir_all(&system).unwrap();
        copy_dir(units, &root.path().join("usr/lib/systemd/system")).unwrap();
        if !units.join("vboxdrv.service").exists() {
            fs::write(
                system.join("vboxdrv.service"),
                "[Unit]\nDescription=stand-in for VirtualBox's vboxdrv.service\n\n\
                 [Service]\nType=oneshot\nRemainAfterExit=yes\nExecStart=/bin/true\n",
            )
            .unwrap();
            write_executable(&root.path().join("bin/true"), "#!/bin/sh\nexit 0\n");
        }

        // One template unit per host, an instance per VM (`<cluster>-vm@<node>.service`), and
        // the keeper of the user's VBoxSVC (`gen-vboxsvc@<user>.service`) that it requires.
        let template = format!("{}-vm@.service", case.site.cluster);
        let keeper = "gen-vboxsvc@.service";
        let mut has_template = false;
        let mut has_keeper = false;
        let mut files = Vec::new();
        for file in sorted_entries(&dir.join("systemd")) {
            let rel = case.rel(&file);
            let name = file_name(&file);
            if name != template && name != keeper {
                c.add(case, &rel, format!("not named {template} or {keeper}"));
                continue;
            }
            has_template |= name == template;
            has_keeper |= name == keeper;
            let text = fs::read_to_string(&file).unwrap_or_default();
            let unit = Ini::parse(&text);
            // Installed all before any is verified: the VMs' unit requires the keeper.
            fs::write(system.join(&name), &text).unwrap();
            for key in [
                "ExecStart",
                "ExecStartPre",
                "ExecStartPost",
                "ExecStop",
                "ExecStopPost",
                "ExecReload",
            ] {
                for cmd in unit.all("Service", key) {
                    let prog = cmd
                        .trim_start_matches(['@', '-', ':', '+', '!', '|'])
                        .split_whitespace()
                        .next();
                    let Some(prog) = prog.filter(|p| p.starts_with('/')) else { continue };
                    // Stand-ins for programs the VM server has: vagrant, VirtualBox's VBoxSVC,
                    // and what this machine has.
                    if prog == "/usr/bin/vagrant"
                        || prog == "/usr/lib/virtualbox/VBoxSVC"
                        || Path::new(prog).exists()
                    {
                        write_executable(&root.path().join(&prog[1..]), "#!/bin/sh\nexit 0\n");
                    }
                }
            }
            files.push((rel, name, unit));
        }
        for (rel, name, unit) in &files {
            c.checked();
            let mut cmd = Command::new(analyze);
            cmd.arg("verify")
                .arg("--man=no")
                .arg("--generators=no")
                .arg(format!("--root={}", root.path().display()));
            // A template is verified as the instance the server runs.
            let instance = if name == keeper {
                system.join(format!("gen-vboxsvc@{}.service", site_host.user))
            } else {
                system.join(name)
            };
            if name == keeper {
                fs::copy(system.join(name), &instance).unwrap();
            }
            cmd.arg(&instance).env("SYSTEMD_LOG_COLOR", "0").env("SYSTEMD_PAGER", "");
            match run(&mut cmd, secs(60)) {
                Err(e) => c.add(case, rel, e),
                Ok(ran) if !ran.ok() || !ran.output().is_empty() => {
                    c.add(case, rel, format!("systemd-analyze verify: {}", ran.describe()));
                }
                Ok(_) => {}
            }
            if name == keeper {
                fs::remove_file(&instance).unwrap();
                check_keeper(c, case, rel, unit);
            } else {
                check_unit(c, case, rel, unit, site_host, root.path());
            }
        }
        let has_nodes = case.site.nodes.values().any(|n| n.host == host);
        if site_host.libvirt() && has_keeper {
            c.add(
                case,
                format!("hosts/{host}/systemd/{keeper}"),
                "a VBoxSVC keeper on a libvirt server",
            );
        }
        if has_nodes && !has_keeper && !site_host.libvirt() {
            c.add(
                case,
                format!("hosts/{host}/systemd/{keeper}"),
                "missing: VBoxSVC would live in whichever cgroup first ran VirtualBox",
            );
        }
        if has_nodes && !has_template {
            c.add(
                case,
                format!("hosts/{host}/systemd/{template}"),
                "missing: nothing starts this host's VMs at boot",
            );
        }
        if !has_nodes && has_template {
            c.add(case, format!("hosts/{host}/systemd/{template}"), "a unit for a host with no VM");
        }
    }
}

/// The keeper of the user's VBoxSVC: VBoxSVC in the foreground (no `-a`/`--automate`,
/// `-A`/`--auto-shutdown` or `-d`/`--daemonize`, which would quit it or move it out of the
/// unit's main process), as the instance's user.
fn check_keeper(c: &Complaints, case: &Case, rel: &str, unit: &Ini) {
    if unit.last("Service", "User") != Some("%i") {
        c.add(case, rel, "[Service] User= is not %i (the instance is the user)");
    }
    if unit.last("Service", "Type") != Some("simple") {
        c.add(case, rel, "[Service] Type= is not simple (VBoxSVC runs in the foreground)");
    }
    let start = unit.last("Service", "ExecStart").unwrap_or_default();
    let words: Vec<&str> = start.split_whitespace().collect();
    if words.first() != Some(&"/usr/lib/virtualbox/VBoxSVC") {
        c.add(case, rel, format!("[Service] ExecStart={start} does not run VBoxSVC"));
    }
    for flag in ["-a", "--automate", "-A", "--auto-shutdown", "-d", "--daemonize"] {
        if words.contains(&flag) {
            c.add(case, rel, format!("[Service] ExecStart= passes {flag}: VBoxSVC would not stay"));
        }
    }
}

fn check_unit(c: &Complaints, case: &Case, rel: &str, unit: &Ini, host: &Host, root: &Path) {
    let want = |section: &str, key: &str, ok: &dyn Fn(&str) -> bool, expected: &str| {
        let v = unit.last(section, key);
        if !v.is_some_and(ok) {
            c.add(
                case,
                rel,
                format!("[{section}] {key}={} (expected {expected})", v.unwrap_or("<absent>")),
            );
        }
    };
    let words = |section: &str, key: &str| -> BTreeSet<String> {
        unit.all(section, key)
            .iter()
            .flat_map(|v| v.split_whitespace())
            .map(str::to_string)
            .collect()
    };
    want("Service", "Type", &|v| v == "oneshot", "oneshot");
    want("Service", "RemainAfterExit", &|v| matches!(v, "yes" | "true" | "1" | "on"), "yes");
    want("Service", "User", &|v| v == host.user, &host.user);
    want(
        "Service",
        "ExecStart",
        &|v| v.split_whitespace().take(2).eq(["/usr/bin/vagrant", "up"]),
        "/usr/bin/vagrant up",
    );
    want(
        "Service",
        "ExecStop",
        &|v| v.split_whitespace().take(2).eq(["/usr/bin/vagrant", "halt"]),
        "/usr/bin/vagrant halt",
    );
    for key in ["TimeoutStartSec", "TimeoutStopSec"] {
        want("Service", key, &|v| !matches!(v, "0" | "infinity" | ""), "a finite timeout");
    }
    let after = words("Unit", "After");
    // VirtualBox's driver: Oracle's package loads it from vboxdrv.service, Ubuntu's and
    // Debian's from virtualbox.service. libvirt: the monolithic daemon or the modular one, and
    // libvirt-guests.service, which must act only on domains the unit has not halted yet.
    let deps: &[&str] = if host.libvirt() {
        &[
            "network-online.target",
            "libvirtd.service",
            "virtqemud.service",
            "libvirt-guests.service",
        ]
    } else {
        &["network-online.target", "vboxdrv.service", "virtualbox.service"]
    };
    for dep in deps {
        if !after.contains(*dep) {
            c.add(case, rel, format!("[Unit] After= lacks {dep}"));
        }
    }
    let keeper = format!("gen-vboxsvc@{}.service", host.user);
    let requires_keeper = after.contains(&keeper) && words("Unit", "Requires").contains(&keeper);
    if host.libvirt() {
        if after.contains(&keeper) || words("Unit", "Requires").contains(&keeper) {
            c.add(case, rel, format!("[Unit] names {keeper} on a libvirt server"));
        }
    } else if !requires_keeper {
        c.add(case, rel, format!("[Unit] lacks Requires= and After= {keeper}"));
    }
    if !words("Unit", "RequiresMountsFor").contains(host.root.as_str()) {
        c.add(case, rel, format!("[Unit] RequiresMountsFor= lacks the remote root {}", host.root));
    }
    // The preflight (driver, bridge NIC) runs before `vagrant up`, from the current generation.
    let preflight = format!("/bin/sh {}/current/apply.sh preflight %i", host.root);
    if !unit.all("Service", "ExecStartPre").iter().any(|v| *v == preflight) {
        c.add(case, rel, format!("[Service] ExecStartPre= lacks `{preflight}`"));
    }
    if !words("Unit", "Wants").contains("network-online.target") {
        c.add(
            case,
            rel,
            "[Unit] Wants= lacks network-online.target (the bridged NIC may still be down)",
        );
    }

    let env = environment(&unit.all("Service", "Environment"));
    // The VM's stable folder on the server, ROOT/vms/<node> (README, "Changing a running lab").
    let current = format!("{}/vms/%i", host.root);
    match env.get("VAGRANT_CWD") {
        Some(cwd) if *cwd == current => {}
        other => c.add(case, rel, format!("VAGRANT_CWD={other:?}, expected {current:?}")),
    }
    if let Some(wd) = unit.last("Service", "WorkingDirectory") {
        if wd != current {
            c.add(case, rel, format!("WorkingDirectory={wd}, expected {current}"));
        }
    }
    match env.get("VAGRANT_DOTFILE_PATH") {
        Some(p) if p.starts_with('/') => {
            if !p.starts_with(&format!("{}/", host.root)) {
                c.add(
                    case,
                    rel,
                    format!("VAGRANT_DOTFILE_PATH={p} is outside the remote root {}", host.root),
                );
            }
            if p.contains("/current/") || p.contains("/generations/") || p.contains("/vms/") {
                c.add(
                    case,
                    rel,
                    format!("VAGRANT_DOTFILE_PATH={p} lives in a generation: the VMs are orphaned when the next one becomes current"),
                );
            }
            if env.get("VAGRANT_CWD") == Some(p) {
                c.add(case, rel, "VAGRANT_DOTFILE_PATH equals VAGRANT_CWD");
            }
        }
        other => {
            c.add(case, rel, format!("VAGRANT_DOTFILE_PATH={other:?} is not an absolute path"));
        }
    }

    // systemd-analyze never looks at [Install].
    let wanted_by = words("Install", "WantedBy");
    if wanted_by.is_empty() {
        c.add(case, rel, "[Install] has no WantedBy=: enabling the unit starts nothing at boot");
    }
    for target in wanted_by {
        let exists = ["usr/lib/systemd/system", "etc/systemd/system"]
            .iter()
            .any(|d| root.join(d).join(&target).exists());
        if !target.ends_with(".target") || !exists {
            c.add(case, rel, format!("WantedBy={target} is not a target this system has"));
        }
    }
}

// ---------------------------------------------------------------------------------------------
// 4. shell
// ---------------------------------------------------------------------------------------------

#[test]
fn shell() {
    let (cases, early) = cases();
    let c = Complaints::new("shell", early);
    let Some(bash) = require("shell", "bash", "bash") else { return };
    let Some(shellcheck) = require("shell", "shellcheck", "shellcheck") else { return };

    par_each(&cases, |case| check_shell_case(&c, case, &bash, &shellcheck));
    c.finish();
}

fn check_shell_case(c: &Complaints, case: &Case, bash: &Path, shellcheck: &Path) {
    let scripts = files_with_suffix(&case.root, ".sh");
    if scripts.is_empty() {
        c.add(case, "*.sh", "the tree has no entrypoint script");
    }
    for script in scripts {
        let rel = case.rel(&script);
        c.checked();
        let mode = fs::metadata(&script).map_or(0, |m| m.permissions().mode() & 0o777);
        if mode != 0o755 {
            c.add(case, &rel, format!("mode {mode:o}, entrypoints are 755"));
        }
        // bash -n always; a `#!/bin/sh` script is also parsed by the machine's sh (dash on
        // Debian and Ubuntu), which is what runs it.
        let mut parsers = vec![bash.to_path_buf()];
        match shebang_interpreter(&script).as_deref().map(file_name).as_deref() {
            Some("bash") => {}
            Some("sh") => parsers.push(PathBuf::from("/bin/sh")),
            other => c.add(case, &rel, format!("shebang names {other:?}, not bash or sh")),
        }
        for parser in parsers {
            match run(Command::new(&parser).arg("-n").arg(&script), secs(30)) {
                Err(e) => c.add(case, &rel, e),
                Ok(ran) if !ran.ok() || !ran.output().is_empty() => {
                    c.add(case, &rel, format!("{} -n: {}", parser.display(), ran.describe()));
                }
                Ok(_) => {}
            }
        }
        let mut cmd = Command::new(shellcheck);
        cmd.current_dir(script.parent().unwrap())
            .args(["-x", "--severity=style", "--format=gcc"])
            .arg(file_name(&script));
        match run(&mut cmd, secs(60)) {
            Err(e) => c.add(case, &rel, e),
            Ok(ran) if !ran.ok() || !ran.output().is_empty() => {
                c.add(case, &rel, format!("shellcheck -x: {}", ran.describe()));
            }
            Ok(_) => {}
        }
    }
}

// ---------------------------------------------------------------------------------------------
// 5. ansible-inventory in a venv of the tree's own requirements.txt
// 6. pip resolution of requirements.txt
// ---------------------------------------------------------------------------------------------

/// `name==version` pins of a requirements file, by normalized name (PEP 503, lowercase).
pub(super) fn pins(text: &str) -> BTreeMap<String, String> {
    text.lines()
        .filter_map(|l| l.split('#').next())
        .filter_map(|l| l.trim().split_once("=="))
        .map(|(n, v)| (normalize(n), v.trim().to_string()))
        .collect()
}

fn normalize(name: &str) -> String {
    name.trim().to_ascii_lowercase().replace(['_', '.'], "-")
}

fn venv_root() -> PathBuf {
    target_dir().join("validator-venvs")
}

/// Held while one venv is made: a directory created atomically beside it, holding the maker's
/// pid. Other threads and other `cargo test` processes sharing this target/ wait for it; a lock
/// whose process is gone is taken over.
pub(super) struct VenvLock(PathBuf);

impl VenvLock {
    pub(super) fn acquire(dir: &Path) -> Result<VenvLock, String> {
        let lock = PathBuf::from(format!("{}.lock", dir.display()));
        let started = Instant::now();
        loop {
            match fs::create_dir(&lock) {
                Ok(()) => {
                    let _ = fs::write(lock.join("pid"), std::process::id().to_string());
                    return Ok(VenvLock(lock));
                }
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
                    let holder = fs::read_to_string(lock.join("pid")).ok();
                    let alive = holder.as_deref().map_or(started.elapsed() < secs(10), |pid| {
                        Path::new("/proc").join(pid.trim()).exists()
                    });
                    if !alive {
                        let _ = fs::remove_dir_all(&lock);
                        continue;
                    }
                    if started.elapsed() > secs(1800) {
                        return Err(format!("{} held for 30 minutes", lock.display()));
                    }
                    std::thread::sleep(Duration::from_millis(500));
                }
                Err(e) => return Err(format!("{}: {e}", lock.display())),
            }
        }
    }
}

impl Drop for VenvLock {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.0);
    }
}

/// A venv under `target/validator-venvs/<name>`, made once with `pip install -r requirements`
/// (none if `requirements` is `None`) and reused while its ready-marker is there.
pub(super) fn ensure_venv(
    test: &str,
    name: &str,
    requirements: Option<&Path>,
) -> Result<PathBuf, String> {
    let dir = venv_root().join(name);
    let marker = dir.join(".labgen-validators-ready");
    let ready = || marker.is_file() && dir.join("bin/python").exists();
    if ready() {
        return Ok(dir);
    }
    let Some(python) = which("python3") else {
        require(test, "python3", "python3-venv");
        return Err("python3 is not installed".into());
    };
    fs::create_dir_all(venv_root()).map_err(|e| e.to_string())?;
    let _lock = VenvLock::acquire(&dir)?;
    if ready() {
        return Ok(dir);
    }
    let _ = fs::remove_dir_all(&dir);
    let started = Instant::now();
    let ran = run(Command::new(&python).arg("-m").arg("venv").arg(&dir), secs(300))?;
    if !ran.ok() {
        return Err(format!(
            "python3 -m venv {}: {} (Debian: apt-get install python3-venv)",
            dir.display(),
            ran.describe()
        ));
    }
    if let Some(req) = requirements {
        let mut cmd = Command::new(dir.join("bin/python"));
        cmd.args([
            "-m",
            "pip",
            "install",
            "--disable-pip-version-check",
            "--no-input",
            "--quiet",
            // Byte-compiling ansible's collections is most of an install's time; the few
            // modules ansible-inventory imports are compiled when first used.
            "--no-compile",
            "-r",
        ])
        .arg(req);
        let ran = run(&mut cmd, secs(1500))?;
        if !ran.ok() {
            return Err(format!("pip install -r {}: {}", req.display(), ran.describe()));
        }
    }
    fs::write(&marker, requirements.map(|r| r.display().to_string()).unwrap_or_default())
        .map_err(|e| e.to_string())?;
    loud(&format!("validator `{test}`: made venv {} in {:.0?}", dir.display(), started.elapsed()));
    Ok(dir)
}

fn ansible_env(cmd: &mut Command, scratch: &Path) {
    let cfg = scratch.join("ansible.cfg");
    if !cfg.exists() {
        fs::write(&cfg, "# no settings: ansible's defaults\n").unwrap();
        fs::create_dir_all(scratch.join("tmp")).unwrap();
    }
    cmd.current_dir(scratch)
        .env("ANSIBLE_INVENTORY_UNPARSED_FAILED", "True")
        .env("ANSIBLE_CONFIG", &cfg)
        .env("ANSIBLE_HOME", scratch)
        .env("ANSIBLE_LOCAL_TEMP", scratch.join("tmp"))
        .env("ANSIBLE_NOCOLOR", "1")
        .env_remove("ANSIBLE_INVENTORY");
}

#[test]
fn ansible_inventory() {
    let (cases, early) = cases();
    let c = Complaints::new("ansible_inventory", early);
    if require("ansible_inventory", "python3", "python3-venv").is_none() {
        return;
    }
    let scratch = tempfile::tempdir().unwrap();
    let venvs = Venvs::default();
    // Trees with different pins make their venvs at the same time.
    par_each(&cases, |case| check_ansible_case(&c, case, &venvs, scratch.path()));
    c.finish();
}

/// One venv per distinct `ansible==`/`ansible-core==` pin pair, made from the first tree's
/// requirements.txt that names it.
type Venvs = Mutex<BTreeMap<String, Result<PathBuf, String>>>;

/// The venv for a tree's requirements.txt (made once per pin pair) and the file's pins.
fn case_venv(case: &Case, venvs: &Venvs) -> Result<(PathBuf, BTreeMap<String, String>), String> {
    let req = case.root.join("kubespray/requirements.txt");
    let text = fs::read_to_string(&req).map_err(|_| "missing".to_string())?;
    let pinned = pins(&text);
    let ansible = pinned.get("ansible").ok_or("has no ansible==X pin")?;
    let core = pinned.get("ansible-core").cloned().unwrap_or_else(|| "unpinned".into());
    let name = format!("ansible-{ansible}-core-{core}");
    let known = venvs.lock().unwrap().get(&name).cloned();
    // Not under the mutex: the lock beside the venv makes a second maker wait for the first.
    let venv = known.unwrap_or_else(|| {
        let made = ensure_venv("ansible_inventory", &name, Some(&req));
        venvs.lock().unwrap().insert(name.clone(), made.clone());
        made
    })?;
    Ok((venv, pinned))
}

fn check_ansible_case(c: &Complaints, case: &Case, venvs: &Venvs, scratch: &Path) {
    let (venv, pinned) = match case_venv(case, venvs) {
        Ok(v) => v,
        Err(e) => return c.add(case, "kubespray/requirements.txt", e),
    };
    c.checked();
    check_ansible_version(c, case, &venv, &pinned);
    check_inventory(c, case, &venv, scratch);
}

/// kubespray's own checks of the inventory, run offline from a checkout of the tree's tag:
/// `playbooks/boilerplate.yml` (ansible version window, dynamic groups and, from v2.28,
/// `validate_inventory`) asserts without opening a connection. No package registry carries
/// kubespray, so this runs only when `LABGEN_KUBESPRAY_REPO` names a kubespray git repository
/// with its tags (e.g. `git clone https://github.com/kubernetes-sigs/kubespray`).
#[test]
fn kubespray_boilerplate() {
    let test = "kubespray_boilerplate";
    let Some(repo) = std::env::var_os("LABGEN_KUBESPRAY_REPO").map(PathBuf::from) else {
        return loud(&format!(
            "\n*** NOT RUN: validator `{test}` needs a kubespray git repository (no registry has \
             one): LABGEN_KUBESPRAY_REPO=/path/to/kubespray cargo test --release --test validators ***\n"
        ));
    };
    let (cases, early) = cases();
    let c = Complaints::new(test, early);
    let (Some(git), Some(tar)) = (require(test, "git", "git"), require(test, "tar", "tar")) else {
        return;
    };
    if require(test, "python3", "python3-venv").is_none() {
        return;
    }
    let venvs = Venvs::default();
    par_each(&cases, |case| {
        let tag = &case.site.kubespray_version;
        let (venv, _) = match case_venv(case, &venvs) {
            Ok(v) => v,
            Err(e) => return c.add(case, "kubespray/requirements.txt", e),
        };
        let tmp = tempfile::tempdir().unwrap();
        let checkout = tmp.path().join("kubespray");
        fs::create_dir_all(&checkout).unwrap();
        let archive = tmp.path().join("kubespray.tar");
        let mut cmd = Command::new(&git);
        cmd.arg("-C").arg(&repo).args(["archive", "--format=tar", "-o"]).arg(&archive).arg(tag);
        match run(&mut cmd, secs(300)) {
            Ok(ran) if ran.ok() => {}
            Ok(ran) => {
                return c.add(case, "site.toml", format!("git archive {tag}: {}", ran.describe()));
            }
            Err(e) => return c.add(case, "site.toml", e),
        }
        let mut cmd = Command::new(&tar);
        cmd.arg("-xf").arg(&archive).arg("-C").arg(&checkout);
        if let Err(e) =
            run(&mut cmd, secs(300)).and_then(|r| r.ok().then_some(()).ok_or(r.describe()))
        {
            return c.add(case, "site.toml", format!("unpacking kubespray {tag}: {e}"));
        }
        let playbook =
            ["playbooks/boilerplate.yml", "playbooks/ansible_version.yml", "ansible_version.yml"]
                .into_iter()
                .find(|p| checkout.join(p).is_file());
        let Some(playbook) = playbook else {
            return c.add(
                case,
                "site.toml",
                format!("kubespray {tag} has no boilerplate playbook"),
            );
        };
        c.checked();
        let inventory = case.root.join("kubespray/inventory/hosts.yaml");
        let mut cmd = Command::new(venv.join("bin/ansible-playbook"));
        cmd.arg("-i").arg(&inventory).arg(playbook).current_dir(&checkout);
        cmd.env("ANSIBLE_HOME", tmp.path().join("ansible-home"))
            .env("ANSIBLE_LOCAL_TEMP", tmp.path().join("ansible-tmp"))
            .env("ANSIBLE_CACHE_PLUGIN_CONNECTION", tmp.path().join("facts"))
            .env("ANSIBLE_INVENTORY_UNPARSED_FAILED", "True")
            .env("ANSIBLE_NOCOLOR", "1")
            .env_remove("ANSIBLE_CONFIG");
        match run(&mut cmd, secs(600)) {
            Err(e) => c.add(case, "kubespray/inventory", e),
            Ok(ran) if !ran.ok() => {
                // From the first failed task on: its name and kubespray's message.
                let lines: Vec<&str> = ran.stdout.lines().collect();
                let first =
                    lines.iter().position(|l| l.contains("fatal:") || l.contains("FAILED!"));
                let from = first.map_or(lines.len().saturating_sub(15), |i| i.saturating_sub(2));
                let failed: Vec<&str> = lines[from..].iter().take(15).copied().collect();
                c.add(
                    case,
                    "kubespray/inventory",
                    format!("kubespray {tag} {playbook} failed: {}", indent(&failed.join("\n"))),
                );
            }
            Ok(_) => {}
        }
    });
    c.finish();
}

fn check_ansible_version(
    c: &Complaints,
    case: &Case,
    venv: &Path,
    pinned: &BTreeMap<String, String>,
) {
    let mut cmd = Command::new(venv.join("bin/python"));
    cmd.args(["-c", "import ansible.release; print(ansible.release.__version__)"]);
    let version = match run(&mut cmd, secs(60)) {
        Ok(ran) if ran.ok() => ran.stdout.trim().to_string(),
        Ok(ran) => {
            return c.add(case, "venv", format!("cannot import ansible: {}", ran.describe()));
        }
        Err(e) => return c.add(case, "venv", e),
    };
    if let Some(pin) = pinned.get("ansible-core") {
        if *pin != version {
            c.add(
                case,
                "venv",
                format!("ansible-core {version} installed, requirements.txt pins {pin}"),
            );
        }
    }
    match case.site.release() {
        None => c.add(
            case,
            "site.toml",
            format!(
                "labgen::kubespray::find({:?}) knows no such release",
                case.site.kubespray_version
            ),
        ),
        Some(r) if !in_window(&version, r.ansible_core_window) => c.add(
            case,
            "venv",
            format!(
                "ansible-core {version} is outside kubespray {}'s window [{}, {})",
                r.tag, r.ansible_core_window.0, r.ansible_core_window.1
            ),
        ),
        Some(_) => {}
    }
}

/// Hosts of a group in `ansible-inventory --list` JSON, children included.
fn members(list: &Json, group: &str, depth: usize) -> BTreeSet<String> {
    let mut out = list[group]["hosts"].strings();
    if depth < 16 {
        for child in list[group]["children"].strings() {
            out.extend(members(list, &child, depth + 1));
        }
    }
    out
}

/// How deep a group sits under `all` (ansible applies deeper groups' vars last).
fn group_depth(list: &Json, group: &str) -> usize {
    fn walk(list: &Json, at: &str, want: &str, d: usize) -> Option<usize> {
        if at == want {
            return Some(d);
        }
        if d > 16 {
            return None;
        }
        list[at]["children"].strings().iter().filter_map(|ch| walk(list, ch, want, d + 1)).max()
    }
    walk(list, "all", group, 0).unwrap_or(0)
}

fn check_inventory(c: &Complaints, case: &Case, venv: &Path, scratch: &Path) {
    let site = &case.site;
    let inventory = case.root.join("kubespray/inventory/hosts.yaml");
    let rel = case.rel(&inventory);
    if !inventory.is_file() {
        return c.add(case, &rel, "missing");
    }
    let inventory_cmd = |flag: &str| {
        let mut cmd = Command::new(venv.join("bin/ansible-inventory"));
        cmd.arg("-i").arg(&inventory).arg(flag);
        ansible_env(&mut cmd, scratch);
        run(&mut cmd, secs(120))
    };
    let list = match inventory_cmd("--list") {
        Err(e) => return c.add(case, &rel, e),
        Ok(ran) => {
            if !ran.ok() || !ran.stderr.trim().is_empty() {
                c.add(case, &rel, format!("ansible-inventory --list: {}", ran.describe()));
            }
            match Json::parse(&ran.stdout) {
                Ok(j) => j,
                Err(e) => {
                    return c.add(
                        case,
                        &rel,
                        format!("ansible-inventory --list printed no JSON: {e}"),
                    );
                }
            }
        }
    };
    match inventory_cmd("--graph") {
        Err(e) => c.add(case, &rel, e),
        Ok(ran) => {
            if !ran.ok() || !ran.stderr.trim().is_empty() {
                c.add(case, &rel, format!("ansible-inventory --graph: {}", ran.describe()));
            }
            for group in ["kube_control_plane", "kube_node", "etcd", "k8s_cluster"] {
                if !ran.stdout.contains(&format!("@{group}:")) {
                    c.add(case, &rel, format!("ansible-inventory --graph shows no group {group}"));
                }
            }
        }
    }

    // Groups.
    let all_nodes: BTreeSet<String> = site.nodes.keys().cloned().collect();
    let control = site.nodes_with(Role::ControlPlane);
    let workers = site.nodes_with(Role::Worker);
    let hostvars = list.at("_meta.hostvars").and_then(Json::obj).cloned().unwrap_or_default();
    let inventory_hosts: BTreeSet<String> = hostvars.keys().cloned().collect();
    if inventory_hosts != all_nodes {
        c.add(case, &rel, format!("hosts {inventory_hosts:?}, site.toml has nodes {all_nodes:?}"));
    }
    let expect_group = |group: &str, want: &BTreeSet<String>| {
        let got = members(&list, group, 0);
        if got != *want {
            c.add(case, &rel, format!("group {group} = {got:?}, expected {want:?}"));
        }
    };
    expect_group("kube_control_plane", &control);
    expect_group("etcd", &control);
    expect_group("k8s_cluster", &all_nodes);
    let kube_node = members(&list, "kube_node", 0);
    let kube_node_ok = if workers.is_empty() { kube_node == control } else { kube_node == workers };
    if !kube_node_ok {
        c.add(
            case,
            &rel,
            format!("group kube_node = {kube_node:?}, expected the workers {workers:?}"),
        );
    }
    let k8s_children = list["k8s_cluster"]["children"].strings();
    for child in ["kube_control_plane", "kube_node"] {
        if !k8s_children.contains(child) {
            c.add(case, &rel, format!("k8s_cluster's children {k8s_children:?} lack {child}"));
        }
    }

    // Host variables.
    let mut etcd_names = BTreeMap::new();
    for node in site.nodes.values() {
        let Some(vars) = hostvars.get(&node.name) else { continue };
        for key in ["ansible_host", "ip", "access_ip"] {
            if vars[key].str() != Some(node.ip.to_string().as_str()) {
                c.add(
                    case,
                    &rel,
                    format!(
                        "{}: {key} = {}, expected {:?}",
                        node.name,
                        vars[key].show(),
                        node.ip.to_string()
                    ),
                );
            }
        }
        match (node.role, vars.get("etcd_member_name")) {
            (Role::ControlPlane, Some(Json::String(n))) if !n.is_empty() => {
                if let Some(other) = etcd_names.insert(n.clone(), node.name.clone()) {
                    c.add(
                        case,
                        &rel,
                        format!("{}: etcd_member_name {n:?} is also {other}'s", node.name),
                    );
                }
            }
            (Role::ControlPlane, v) => c.add(
                case,
                &rel,
                format!(
                    "{}: etcd member without a string etcd_member_name ({})",
                    node.name,
                    v.map_or("absent".into(), Json::show)
                ),
            ),
            (Role::Worker, Some(v)) => c.add(
                case,
                &rel,
                format!(
                    "{}: etcd_member_name {} on a host that is not in etcd",
                    node.name,
                    v.show()
                ),
            ),
            (Role::Worker, None) => {}
        }
    }

    // group_vars reach the hosts of their group, deeper groups winning.
    let group_vars_dir = case.root.join("kubespray/inventory/group_vars");
    let mut expected: BTreeMap<String, BTreeMap<String, (usize, Json, String)>> = BTreeMap::new();
    let mut group_files: Vec<(String, PathBuf)> = Vec::new();
    for entry in sorted_entries(&group_vars_dir) {
        let name = file_name(&entry);
        if entry.is_dir() {
            for f in sorted_entries(&entry) {
                group_files.push((name.clone(), f));
            }
        } else if let Some(stem) = name.strip_suffix(".yml").or_else(|| name.strip_suffix(".yaml"))
        {
            group_files.push((stem.to_string(), entry));
        }
    }
    for required in ["all/kubespray.yml", "k8s_cluster/k8s-cluster.yml", "k8s_cluster/addons.yml"] {
        if !group_vars_dir.join(required).is_file() {
            c.add(case, format!("kubespray/inventory/group_vars/{required}"), "missing");
        }
    }
    for (group, file) in group_files {
        let frel = case.rel(&file);
        let vars = match yaml_to_json(&venv.join("bin/python"), &file) {
            Ok(Json::Object(m)) => m,
            Ok(Json::Null) => serde_json::Map::new(),
            Ok(other) => {
                c.add(case, &frel, format!("is not a mapping: {}", other.show()));
                continue;
            }
            Err(e) => {
                c.add(case, &frel, e);
                continue;
            }
        };
        if group != "all" && list.get(&group).is_none() {
            c.add(
                case,
                &frel,
                format!("group_vars for {group}, a group the inventory does not have"),
            );
        }
        let depth = if group == "all" { 0 } else { group_depth(&list, &group) };
        let hosts =
            if group == "all" { inventory_hosts.clone() } else { members(&list, &group, 0) };
        for (key, value) in vars {
            for h in &hosts {
                let slot = expected.entry(h.clone()).or_default();
                if slot.get(&key).is_none_or(|(d, _, _)| depth >= *d) {
                    slot.insert(key.clone(), (depth, value.clone(), frel.clone()));
                }
            }
        }
    }
    for (host, vars) in &expected {
        for (key, (_, value, from)) in vars {
            let got = &hostvars.get(host).map_or(&Json::Null, |h| &h[key.as_str()]);
            if *got != value {
                c.add(
                    case,
                    &rel,
                    format!("{host}: {key} = {}, but {from} says {}", got.show(), value.show()),
                );
            }
        }
    }

    // kubespray's own inventory asserts, restated from the research (not from gen's release
    // table, so that the two cannot share a mistake), on the first control plane's variables.
    if let Some(vars) =
        site.nodes_with(Role::ControlPlane).iter().next().and_then(|n| hostvars.get(n))
    {
        for problem in
            kubespray_asserts(&site.kubespray_version, vars, members(&list, "etcd", 0).len())
        {
            c.add(case, &rel, problem);
        }
    }

    // What the site decides reaches every host, typed as kubespray asserts.
    let kube_version = site.expected_kube_version();
    for node in site.nodes.values() {
        let Some(vars) = hostvars.get(&node.name) else { continue };
        let want = |key: &str, value: Option<Json>, why: &str| {
            let got = vars.get(key);
            let ok = match &value {
                Some(v) => got == Some(v),
                None => got.is_some(),
            };
            if !ok {
                let shown = got.map_or("absent".into(), Json::show);
                let expected = value.map_or("set".into(), |v| v.show());
                c.add(
                    case,
                    &rel,
                    format!("{}: {key} = {shown}, expected {expected} ({why})", node.name),
                );
            }
        };
        want("cluster_name", Some(Json::String(site.cluster.clone())), "[cluster] name");
        if let Some(v) = &kube_version {
            want(
                "kube_version",
                Some(Json::String(v.clone())),
                "[kubespray] kube_version or the release default",
            );
        }
        want("helm_enabled", Some(Json::Bool(site.helm)), "[addons] helm, a real boolean");
        if site.metallb || vars.get("metallb_enabled").is_some() {
            want(
                "metallb_enabled",
                Some(Json::Bool(site.metallb)),
                "[addons] metallb, a real boolean",
            );
        }
        want(
            "kube_network_plugin",
            Some(Json::String(site.network_plugin.clone())),
            "[kubespray] network_plugin",
        );
        if let Some(mode) = &site.kube_proxy_mode {
            want(
                "kube_proxy_mode",
                Some(Json::String(mode.clone())),
                "[kubespray] kube_proxy_mode",
            );
        }
        if let Some(cm) = &site.container_manager {
            want(
                "container_manager",
                Some(Json::String(cm.clone())),
                "[kubespray] container_manager",
            );
        }
        let proxy_mode = vars.get("kube_proxy_mode").and_then(Json::str).unwrap_or("ipvs");
        if site.metallb && proxy_mode == "ipvs" {
            want(
                "kube_proxy_strict_arp",
                Some(Json::Bool(true)),
                "MetalLB with ipvs needs strict ARP",
            );
        }
        for (key, value) in vars.obj().into_iter().flatten() {
            let boolean = key.ends_with("_enabled")
                || [
                    "download_run_once",
                    "download_always_pull",
                    "deploy_netchecker",
                    "kube_proxy_strict_arp",
                ]
                .contains(&key.as_str());
            if boolean && !matches!(value, Json::Bool(_)) {
                c.add(
                    case,
                    &rel,
                    format!(
                        "{}: {key} = {} is not a boolean; kubespray asserts it is",
                        node.name,
                        value.show()
                    ),
                );
            }
        }
    }
}

/// `v2.31.0` → 31.
fn kubespray_minor(tag: &str) -> Option<u32> {
    tag.strip_prefix("v2.")?.split('.').next()?.parse().ok()
}

/// What kubespray checks about an inventory before it touches a host (`validate_inventory`,
/// v2.28+; the metallb role; `shared/research/kubespray.md` §4–§5), for one host's variables.
fn kubespray_asserts(tag: &str, vars: &Json, etcd_members: usize) -> Vec<String> {
    let mut out = Vec::new();
    let Some(minor) = kubespray_minor(tag) else {
        return vec![format!("kubespray tag {tag:?} is not v2.N.M")];
    };
    let s = |key: &str| vars.get(key).and_then(Json::str);
    if etcd_members % 2 == 0 {
        out.push(format!("etcd has {etcd_members} members; kubespray requires an odd count"));
    }
    match s("kube_version") {
        None => out.push("kube_version is not set".into()),
        Some(v) if minor <= 27 && !v.starts_with('v') => {
            out.push(format!("kube_version {v:?}: kubespray {tag} writes versions as vX.Y.Z"));
        }
        Some(v) if minor >= 28 && v.starts_with('v') => {
            out.push(format!("kube_version {v:?}: kubespray {tag} asserts no leading v"));
        }
        Some(_) => {}
    }
    let mut plugins =
        vec!["calico", "flannel", "cloud", "cilium", "cni", "kube-ovn", "kube-router"];
    plugins.extend(["macvlan", "custom_cni"]);
    if minor <= 28 {
        plugins.push("weave");
    }
    if minor >= 27 {
        plugins.push("none");
    }
    let proxy_modes: &[&str] =
        if minor >= 28 { &["iptables", "ipvs", "nftables"] } else { &["iptables", "ipvs"] };
    for (key, allowed) in [
        ("kube_network_plugin", plugins.as_slice()),
        ("kube_proxy_mode", proxy_modes),
        ("container_manager", &["docker", "crio", "containerd"][..]),
    ] {
        if let Some(v) = s(key) {
            if !allowed.contains(&v) {
                out.push(format!("{key} {v:?} is not one kubespray {tag} accepts ({allowed:?})"));
            }
        }
    }
    if let Some(m) = s("calico_ip_auto_method") {
        let known = ["first-found", "kubernetes-internal-ip"];
        let prefixed = ["can-reach=", "interface=", "skip-interface=", "cidr="];
        if !known.contains(&m) && !prefixed.iter().any(|p| m.starts_with(p)) {
            out.push(format!("calico_ip_auto_method {m:?} is not a Calico autodetection method"));
        }
    }
    if vars.get("metallb_enabled") == Some(&Json::Bool(true)) {
        if (25..=29).contains(&minor) && s("metallb_namespace").is_none() {
            out.push(format!(
                "metallb_namespace is unset: kubespray {tag}'s metallb role has no default for it"
            ));
        }
        if vars.get("metallb_speaker_enabled") == Some(&Json::Bool(false)) {
            out.push("metallb_speaker_enabled is false: layer 2 needs the speaker".into());
        }
        let pools = vars.at("metallb_config.address_pools").and_then(Json::obj);
        match pools {
            None => out.push("metallb_config.address_pools is missing".into()),
            Some(pools) => {
                for (name, pool) in pools {
                    if pool["ip_range"].arr().is_empty() {
                        out.push(format!("metallb pool {name}: ip_range is not a non-empty list"));
                    }
                    if minor <= 23 && pool.get("auto_assign").is_none() {
                        out.push(format!(
                            "metallb pool {name}: auto_assign is required up to v2.23"
                        ));
                    }
                }
                for l2 in vars.at("metallb_config.layer2").map_or(&[][..], Json::arr) {
                    if l2.str().is_none_or(|n| !pools.contains_key(n)) {
                        out.push(format!("metallb_config.layer2 names {}, not a pool", l2.show()));
                    }
                }
            }
        }
        let ipvs = s("kube_proxy_mode").unwrap_or("ipvs") == "ipvs";
        if ipvs && vars.get("kube_proxy_strict_arp") != Some(&Json::Bool(true)) {
            out.push(
                "MetalLB with ipvs: kubespray fails unless kube_proxy_strict_arp is true".into(),
            );
        }
    }
    out
}

#[test]
fn pip_resolution() {
    let (cases, early) = cases();
    let c = Complaints::new("pip_resolution", early);
    if require("pip_resolution", "python3", "python3-venv").is_none() {
        return;
    }
    // A bare venv: its pip resolves against the index without touching any system Python.
    let venv = match ensure_venv("pip_resolution", "pip-dry-run", None) {
        Ok(v) => v,
        Err(e) => {
            c.add_raw(e);
            return c.finish();
        }
    };
    let scratch = tempfile::tempdir().unwrap();
    // One resolution per distinct file; every case that uses it is checked against its result.
    let mut resolved: BTreeMap<String, Result<BTreeMap<String, String>, String>> = BTreeMap::new();
    for case in &cases {
        let req = case.root.join("kubespray/requirements.txt");
        let rel = "kubespray/requirements.txt";
        let Ok(text) = fs::read_to_string(&req) else {
            c.add(case, rel, "missing");
            continue;
        };
        c.checked();
        let pinned = pins(&text);
        check_requirements_text(&c, case, &text, &pinned);
        let n = resolved.len();
        let result = resolved.entry(text.clone()).or_insert_with(|| {
            let report = scratch.path().join(format!("report-{n}.json"));
            let mut cmd = Command::new(venv.join("bin/python"));
            cmd.args([
                "-m",
                "pip",
                "install",
                "--dry-run",
                "--ignore-installed",
                "--disable-pip-version-check",
            ])
            .args(["--no-input", "--quiet", "--report"])
            .arg(&report)
            .arg("-r")
            .arg(&req);
            let ran = run(&mut cmd, secs(900))?;
            if !ran.ok() || !ran.output().is_empty() {
                return Err(format!("pip install --dry-run: {}", ran.describe()));
            }
            let json = Json::parse(&fs::read_to_string(&report).map_err(|e| e.to_string())?)?;
            Ok(json["install"]
                .arr()
                .iter()
                .filter_map(|i| {
                    let m = &i["metadata"];
                    Some((normalize(m["name"].str()?), m["version"].str()?.to_string()))
                })
                .collect())
        });
        let got = match result {
            Ok(g) => g,
            Err(e) => {
                c.add(case, rel, e.clone());
                continue;
            }
        };
        for (name, version) in &pinned {
            if got.get(name) != Some(version) {
                c.add(
                    case,
                    rel,
                    format!("pins {name}=={version}, pip resolves {:?}", got.get(name)),
                );
            }
        }
        let Some(core) = got.get("ansible-core") else {
            c.add(case, rel, "pip resolves no ansible-core");
            continue;
        };
        if let Some(r) = case.site.release() {
            if !in_window(core, r.ansible_core_window) {
                c.add(
                    case,
                    rel,
                    format!(
                        "resolves ansible-core {core}, outside kubespray {}'s window [{}, {})",
                        r.tag, r.ansible_core_window.0, r.ansible_core_window.1
                    ),
                );
            }
        }
    }
    c.finish();
}

/// requirements.txt is the release's own file plus gen's `ansible-core==` pin, marked as ours.
fn check_requirements_text(
    c: &Complaints,
    case: &Case,
    text: &str,
    pinned: &BTreeMap<String, String>,
) {
    let rel = "kubespray/requirements.txt";
    let Some(release) = case.site.release() else {
        return c.add(
            case,
            "site.toml",
            format!(
                "labgen::kubespray::find({:?}) knows no such release",
                case.site.kubespray_version
            ),
        );
    };
    let lines: BTreeSet<&str> = text.lines().map(str::trim).collect();
    for line in
        release.requirements.lines().map(str::trim).filter(|l| !l.is_empty() && !l.starts_with('#'))
    {
        if !lines.contains(line) {
            c.add(case, rel, format!("lacks the release's line {line:?}"));
        }
    }
    let release_pins = pins(release.requirements);
    for name in pinned.keys() {
        if !release_pins.contains_key(name) && name != "ansible-core" {
            c.add(case, rel, format!("pins {name}, which kubespray {} does not", release.tag));
        }
    }
    let core_lines: Vec<(usize, &str)> = text
        .lines()
        .enumerate()
        .filter(|(_, l)| {
            normalize(l.split("==").next().unwrap_or("")) == "ansible-core" && l.contains("==")
        })
        .collect();
    let [(at, line)] = core_lines.as_slice() else {
        return c.add(
            case,
            rel,
            format!("has {} ansible-core pins; exactly one expected", core_lines.len()),
        );
    };
    if pinned.get("ansible-core").map(String::as_str) != Some(release.ansible_core) {
        c.add(
            case,
            rel,
            format!("{line:?} is not gen's pin ansible-core=={}", release.ansible_core),
        );
    }
    if !in_window(release.ansible_core, release.ansible_core_window) {
        c.add(
            case,
            rel,
            format!(
                "gen's ansible-core {} is outside the window {:?}",
                release.ansible_core, release.ansible_core_window
            ),
        );
    }
    if !pins(release.requirements).contains_key("ansible-core") {
        // gen's own line: say so in a comment on it or right above it.
        let lines: Vec<&str> = text.lines().collect();
        let marked = line.contains('#') || (*at > 0 && lines[at - 1].trim_start().starts_with('#'));
        if !marked {
            c.add(
                case,
                rel,
                format!("line {} {line:?} is gen's addition but no comment says so", at + 1),
            );
        }
    }
}

// ---------------------------------------------------------------------------------------------
// The validators' own test: each must notice a known mistake
// ---------------------------------------------------------------------------------------------

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Vagrant,
    Netplan,
    Systemd,
    Shell,
    Inventory,
    Requirements,
}

/// One known mistake planted in a copy of a golden tree, and words the complaint must contain.
struct Mutation {
    kind: Kind,
    file: &'static str,
    from: &'static str,
    to: &'static str,
    expect: &'static str,
}

const fn m(
    kind: Kind,
    file: &'static str,
    from: &'static str,
    to: &'static str,
    expect: &'static str,
) -> Mutation {
    Mutation { kind, file, from, to, expect }
}

/// The case the mistakes are planted in: one VM server, a control plane and two workers.
const MUTANT_BASE: &str = "golden-tests/one-server";
const VF: &str = "hosts/server/vms/w1/Vagrantfile";
const NP: &str = "hosts/server/vms/w1/netplan.yaml";
const UNIT: &str = "hosts/server/systemd/home-vm@.service";
const K8S: &str = "kubespray/inventory/group_vars/k8s_cluster/k8s-cluster.yml";
const ADDONS: &str = "kubespray/inventory/group_vars/k8s_cluster/addons.yml";

const MUTATIONS: &[Mutation] = &[
    m(Kind::Vagrant, VF, "bridge: 'enp3s0', ", "", "no `bridge:`"),
    m(Kind::Vagrant, VF, "bridge: 'enp3s0'", "bridgee: 'enp3s0'", "`bridgee:` is unknown"),
    m(
        Kind::Vagrant,
        VF,
        "mac: '02000A14000B'",
        "mac: '02:00:0A:14:00:0B'",
        "Invalid MAC address format",
    ),
    m(Kind::Vagrant, VF, "mac: '02000A14000B'", "mac: '02000A14000C'", "is also w1's"),
    m(Kind::Vagrant, VF, "vb.memory = 4096", "vb.memory = \"4096\"", "is a String"),
    m(Kind::Vagrant, VF, "vb.cpus = 2", "vb.cpus = 2.5", "is a Float"),
    m(Kind::Vagrant, VF, "vb.memory = 4096", "vb.memmory = 4096", "vagrant validate"),
    m(
        Kind::Vagrant,
        VF,
        "box_version = '202502.21.0'",
        "box_version = '>= 202502.21.0'",
        "box_version",
    ),
    m(
        Kind::Vagrant,
        VF,
        "vb.name = 'home-w1'",
        "vb.name = \"home-w1-#{Time.now.to_i}\"",
        "Time.now",
    ),
    m(Kind::Vagrant, VF, "ip: '10.20.0.11'", "ip: '10.20.0.311'", "not an IPv4 address"),
    m(
        Kind::Vagrant,
        VF,
        ", auto_config: false",
        ", auto_config: true",
        "without `auto_config: false`",
    ),
    m(Kind::Vagrant, VF, "source: 'netplan.yaml'", "source: '../w2/netplan.yaml'", "copies"),
    m(Kind::Vagrant, NP, "02:00:0a:14:00:0b", "02:00:0a:14:00:0d", "is not the MAC"),
    m(Kind::Netplan, NP, "metric: 10", "metric: 200", "does not beat"),
    m(Kind::Netplan, NP, "version: 2", "version: 3", "network.version"),
    m(
        Kind::Netplan,
        NP,
        "      routes:\n        - to: \"0.0.0.0/0\"\n          via: \"10.20.0.1\"\n          metric: 10\n",
        "      gateway4: \"10.20.0.1\"\n",
        "gateway4",
    ),
    m(Kind::Netplan, NP, "dhcp4: false", "dhcp4: true", "DHCP=ipv4 on the static"),
    m(Kind::Netplan, NP, "\"10.20.0.11/24\"", "\"10.20.0.11/16\"", "Address="),
    m(Kind::Netplan, NP, "bridged:", "enp0s3:", "rewrites the NAT NIC"),
    m(Kind::Systemd, UNIT, "Type=oneshot", "Type=oneshoot", "Failed to parse service type"),
    m(
        Kind::Systemd,
        UNIT,
        "TimeoutStopSec=210",
        "TimeoutStopSec=5min30x",
        "systemd-analyze verify",
    ),
    m(
        Kind::Systemd,
        UNIT,
        "WantedBy=multi-user.target",
        "WantedBy=multiuser.target",
        "WantedBy=multiuser",
    ),
    m(Kind::Systemd, UNIT, "User=ops", "User=root", "User=root"),
    m(Kind::Systemd, UNIT, "state/%i", "current/vms/%i/.vagrant", "orphaned"),
    m(Kind::Systemd, UNIT, "Wants=network-online.target\n", "", "Wants= lacks"),
    m(Kind::Shell, "hosts/server/apply.sh", "node=${2:-}\n", "node=${2:-}\necho $step\n", "SC2086"),
    m(Kind::Shell, "hosts/server/apply.sh", "node=${2:-}\n", "node=${2:-}\nif true; then\n", "-n:"),
    m(
        Kind::Inventory,
        "kubespray/inventory/hosts.yaml",
        "ip: \"10.20.0.11\"",
        "ip: \"10.20.0.99\"",
        "w1: ip =",
    ),
    m(Kind::Inventory, "kubespray/inventory/hosts.yaml", "        kube_node:\n", "", "k8s_cluster"),
    m(
        Kind::Inventory,
        "kubespray/inventory/hosts.yaml",
        "all:\n",
        "all: [\n",
        "ansible-inventory --list",
    ),
    m(Kind::Inventory, ADDONS, "helm_enabled: true", "helm_enabled: \"true\"", "helm_enabled"),
    m(
        Kind::Inventory,
        K8S,
        "kube_version: \"1.35.4\"",
        "kube_version: \"v1.35.4\"",
        "no leading v",
    ),
    m(
        Kind::Inventory,
        K8S,
        "kube_proxy_strict_arp: true",
        "kube_proxy_strict_arp: false",
        "strict_arp",
    ),
    m(Kind::Inventory, K8S, "kube_proxy_mode: \"ipvs\"", "kube_proxy_mode: \"ipvsadm\"", "accepts"),
    m(Kind::Inventory, ADDONS, "layer2:\n    - primary", "layer2:\n    - secondary", "not a pool"),
    m(
        Kind::Inventory,
        "kubespray/inventory/hosts.yaml",
        "    etcd:\n      hosts:\n        \"cp\":\n",
        "    etcd:\n      hosts:\n        \"cp\":\n        \"w1\":\n",
        "odd count",
    ),
    m(
        Kind::Requirements,
        "kubespray/requirements.txt",
        "ansible-core==2.18.19",
        "ansible-core==2.18.12",
        "not gen's pin",
    ),
    m(
        Kind::Requirements,
        "kubespray/requirements.txt",
        "reproducible.\nansible-core==",
        "reproducible.\n\nansible-core==",
        "no comment says so",
    ),
    m(Kind::Requirements, "kubespray/requirements.txt", "netaddr==1.3.0\n", "", "netaddr==1.3.0"),
];

/// The case libvirt mistakes are planted in: VirtualBox and libvirt servers side by side.
const LIBVIRT_BASE: &str = "golden-tests/mixed-providers";
const LV_VF: &str = "hosts/kvm1/vms/w-1/Vagrantfile";
const LV_UNIT: &str = "hosts/kvm1/systemd/lab-vm@.service";

const LIBVIRT_MUTATIONS: &[Mutation] = &[
    m(Kind::Vagrant, LV_VF, "type: \"bridge\", ", "", "macvtap"),
    m(Kind::Vagrant, LV_VF, "dev: 'br0'", "dev: 'br1'", "dev \"br1\" is not the host's"),
    m(Kind::Vagrant, LV_VF, "mac: '02:00:c0:a8:01:1f'", "mac: '02:00:c0:a8:01'", "xx:xx"),
    m(Kind::Vagrant, LV_VF, "lv.memory = 4096", "lv.memory = '4096'", "lv.memory"),
    m(Kind::Vagrant, LV_VF, "lv.driver = 'kvm'", "lv.driver = 'qemu'", "lv.driver"),
    m(Kind::Vagrant, LV_VF, "qemu:///system", "qemu:///session", "lv.uri"),
    m(Kind::Vagrant, LV_VF, "lv.default_prefix = 'lab-'", "lv.default_prefix = ''", "cluster name"),
    m(Kind::Vagrant, LV_VF, "'192.168.121.0/24'", "'192.168.0.0/16'", "overlaps the LAN"),
    m(Kind::Vagrant, LV_VF, "provider \"libvirt\"", "provider \"virtualbox\"", "no `libvirt`"),
    m(Kind::Vagrant, LV_VF, "network_keep = true", "network_keep = 'true'", "network_keep"),
    m(Kind::Systemd, LV_UNIT, "target libvirtd.service", "target", "lacks libvirtd.service"),
    m(
        Kind::Systemd,
        LV_UNIT,
        "virtqemud.service libvirt-guests.service",
        "virtqemud.service",
        "lacks libvirt-guests",
    ),
];

#[test]
fn validators_catch_broken_artifacts() {
    let (cases, _) = cases();
    let base_case = |label: &str| {
        let Some(base) = cases.iter().find(|c| c.label == label) else {
            panic!("the validators' own test plants mistakes in {label}, which is gone");
        };
        base
    };
    let planted: Vec<(&Case, &Mutation)> = MUTATIONS
        .iter()
        .map(|m| (base_case(MUTANT_BASE), m))
        .chain(LIBVIRT_MUTATIONS.iter().map(|m| (base_case(LIBVIRT_BASE), m)))
        .collect();
    let test = "validators_catch_broken_artifacts";
    let vagrant = vagrant_tools(test);
    let netplan = netplan_tools(test);
    let analyze = require(test, "systemd-analyze", "systemd");
    let units = machine_unit_dir();
    let bash = require(test, "bash", "bash");
    let shellcheck = require(test, "shellcheck", "shellcheck");
    let python = require(test, "python3", "python3-venv");
    let scratch = tempfile::tempdir().unwrap();
    let venvs = Venvs::default();

    let failures = Mutex::new(Vec::new());
    let tried = std::sync::atomic::AtomicUsize::new(0);
    par_each(&planted, |&(base, mutation)| {
        let Mutation { kind, file, from, to, expect } = *mutation;
        let tmp = tempfile::tempdir().unwrap();
        let root = tmp.path().join("tree");
        copy_dir(&base.root, &root).unwrap();
        let path = root.join(file);
        let text = fs::read_to_string(&path).unwrap_or_default();
        if !text.contains(from) {
            let f = format!("{file}: {from:?} is not there any more; update the mutation");
            return failures.lock().unwrap().push(f);
        }
        fs::write(&path, text.replacen(from, to, 1)).unwrap();
        let case =
            Case { label: format!("mutant of {}", base.label), root, site: base.site.clone() };
        let c = Complaints::new("mutant", Vec::new());
        let ran = match kind {
            Kind::Vagrant => vagrant.as_ref().map(|t| check_vagrant_case(&c, &case, t)),
            Kind::Netplan => netplan.as_ref().map(|t| check_netplan_case(&c, &case, t)),
            Kind::Systemd => analyze
                .as_ref()
                .zip(units.as_ref())
                .map(|(a, u)| check_systemd_case(&c, &case, a, u)),
            Kind::Shell => bash
                .as_ref()
                .zip(shellcheck.as_ref())
                .map(|(b, s)| check_shell_case(&c, &case, b, s)),
            Kind::Inventory => {
                python.as_ref().map(|_| check_ansible_case(&c, &case, &venvs, scratch.path()))
            }
            Kind::Requirements => {
                let text =
                    fs::read_to_string(case.root.join("kubespray/requirements.txt")).unwrap();
                check_requirements_text(&c, &case, &text, &pins(&text));
                Some(())
            }
        };
        if ran.is_none() {
            return;
        }
        tried.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let list = c.into_list();
        if !list.iter().any(|l| l.contains(expect)) {
            failures.lock().unwrap().push(format!(
                "{kind:?} validator missed {file}: {from:?} -> {to:?} (wanted a complaint with \
                 {expect:?}); it said:\n      {}",
                if list.is_empty() { "nothing".into() } else { list.join("\n      ") }
            ));
        }
    });
    let failures = failures.into_inner().unwrap();
    let tried = tried.into_inner();
    assert!(
        failures.is_empty(),
        "{} of {tried} planted mistakes went unnoticed:\n  - {}\n",
        failures.len(),
        failures.join("\n  - ")
    );
    loud(&format!("validator self-test: all {tried} planted mistakes were caught"));
}
