//! A booted guest: the generated Vagrantfiles' provisioners run inside a real Debian 12 guest
//! under qemu, the way Vagrant runs them, and the lab's run-time promises are checked there,
//! after the first boot and again after a reboot.
//!
//! The guest (`tests/guest/build-image.sh`, built once with mmdebstrap and cached outside the
//! repository, keyed by that script's hash) stands in for the bento box: systemd, netplan.io with
//! DHCP on `eth0` in `/etc/netplan/01-netcfg.yaml`, openssh-server, sudo, a `vagrant` user.
//! qemu gives it two NICs, as VirtualBox does:
//!
//! - NIC 1 (`eth0`) on qemu's user-mode network, which is VirtualBox's NAT: 10.0.2.15 via
//!   10.0.2.2 (with DHCP's default route, metric 100), and a forward from 127.0.0.1:2222 to the
//!   guest's ssh (the `vagrant ssh` path). qemu runs in a network namespace with only loopback,
//!   so the NAT reaches nothing but that namespace's loopback.
//! - NIC 2 (`eth1`) on a tap bridged into a LAN made of network namespaces: a router at the site's
//!   gateway with an "off-LAN" machine behind it, and a peer (the laptop). Its MAC is the one the
//!   generated Vagrantfile gives the bridged NIC.
//!
//! The provisioners are read from the generated Vagrantfiles through Vagrant's own loader
//! (`tests/validators/vagrant_inspect.rb`) and run as Vagrant 2.3's communicator runs them
//! (`plugins/provisioners/file/provisioner.rb`: an scp upload as the ssh user;
//! `plugins/provisioners/shell/provisioner.rb`: the inline script uploaded to
//! `/tmp/vagrant-shell`, then `chmod +x '/tmp/vagrant-shell' && /tmp/vagrant-shell` fed to
//! `sudo -E -H bash -l`, `communicators/ssh/communicator.rb` `shell_cmd`), so a change to the
//! template is what gets tested. Nothing is sent anywhere but those namespaces; all of them are
//! removed when the test ends, pass or fail.
//!
//! Every check has a name; a failing test lists the checks that failed. The negative control
//! (the override's metric above DHCP's) is a test of its own and must fail exactly the
//! default-route checks.

use std::fs;
use std::net::Ipv4Addr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use super::validators::{
    Json, JsonExt, Ran, copy_dir, ensure_venv, fixtures, loud, pins, repo_root, require, run,
    run_with_stdin, secs, vagrant_command, vagrant_tools,
};
use crate::support::is_root;

/// The off-LAN network behind the router (TEST-NET-3, RFC 5737): never a home LAN.
const OFF_LAN_ROUTER: Ipv4Addr = Ipv4Addr::new(203, 0, 113, 1);
const OFF_LAN_HOST: Ipv4Addr = Ipv4Addr::new(203, 0, 113, 10);
const OFF_LAN_PORT: u16 = 8080;
/// The port the user-mode network forwards to the guest's ssh, on the loopback of qemu's own
/// namespace (a fresh namespace per guest, so parallel tests never collide).
const SSH_FORWARD: u16 = 2222;
/// How long a boot may take under software emulation on a busy machine.
const BOOT_TIMEOUT: Duration = Duration::from_secs(900);

/// How long a guest under KVM may stay silent before it is started again under TCG: a KVM guest
/// prints the kernel's banner within a second or two.
const KVM_PROBE: Duration = Duration::from_secs(20);

/// KVM where it works, else software emulation (TCG); `GEN_GUEST_ACCEL` names one. `/dev/kvm`
/// can open on a machine whose CPU offers no virtualization (no `vmx`/`svm` flag, as here): the
/// guest then stalls, so both are required, and `Guest::start` falls back to TCG when a KVM
/// guest prints nothing within `KVM_PROBE`.
fn accel() -> &'static str {
    match std::env::var("GEN_GUEST_ACCEL").as_deref() {
        Ok("kvm") => return "kvm",
        Ok("tcg") => return "tcg",
        _ => {}
    }
    let cpuinfo = fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
    let virtualization = cpuinfo
        .lines()
        .filter(|l| l.starts_with("flags"))
        .any(|l| l.split_whitespace().any(|f| f == "vmx" || f == "svm"));
    let opens = fs::OpenOptions::new().read(true).write(true).open("/dev/kvm").is_ok();
    if virtualization && opens { "kvm" } else { "tcg" }
}

/// At most one guest per core: an emulated guest keeps one core busy, so more at once only slow
/// each other down (and their ssh time-outs near), while one per core lets the guests of
/// `cargo test`'s parallel test threads run side by side.
static GUESTS: (std::sync::Mutex<usize>, std::sync::Condvar) =
    (std::sync::Mutex::new(0), std::sync::Condvar::new());

/// A place for one guest, given back on drop.
pub(super) struct GuestSlot;

pub(super) fn guest_slot() -> GuestSlot {
    let cores = std::thread::available_parallelism().map_or(1, std::num::NonZero::get);
    let (count, freed) = &GUESTS;
    let mut running = count.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
    while *running >= cores {
        running = freed.wait(running).unwrap_or_else(std::sync::PoisonError::into_inner);
    }
    *running += 1;
    GuestSlot
}

impl Drop for GuestSlot {
    fn drop(&mut self) {
        let (count, freed) = &GUESTS;
        *count.lock().unwrap_or_else(std::sync::PoisonError::into_inner) -= 1;
        freed.notify_one();
    }
}

// ---------------------------------------------------------------------------------------------
// Tests
// ---------------------------------------------------------------------------------------------

/// The example's control-plane shape: provision, check, the facts calico's autodetection relies
/// on, reboot, check again.
#[test]
fn control_plane() {
    let _slot = guest_slot();
    let Some(lab) = Lab::prepare("guest::control_plane") else { return };
    let node = lab.first_node("control-plane");
    let mut guest = lab.boot(&node, Tamper::None);
    guest.provision();
    let mut failed = guest.checks(true, "first boot");
    failed.extend(guest.calico_checks());
    guest.reboot();
    failed.extend(guest.checks(true, "after a reboot"));
    guest.finish();
    assert!(failed.is_empty(), "{}: failed checks:\n  {}", node.name, failed.join("\n  "));
}

/// The example's worker shape: provision, check, provision again (netplan must not be applied,
/// the bridged NIC not bounced), provision a changed override (applied), reboot, check again.
#[test]
fn worker() {
    let _slot = guest_slot();
    let Some(lab) = Lab::prepare("guest::worker") else { return };
    let node = lab.first_node("worker");
    let mut guest = lab.boot(&node, Tamper::None);
    guest.provision();
    let mut failed = guest.checks(true, "first boot");
    failed.extend(guest.reprovision_checks());
    guest.reboot();
    failed.extend(guest.checks(true, "after a reboot"));
    guest.finish();
    assert!(failed.is_empty(), "{}: failed checks:\n  {}", node.name, failed.join("\n  "));
}

/// The negative control: the same checks on a guest whose override's default route has a metric
/// above DHCP's (200 > 100). The route checks must fail, and only they: the checks can tell.
#[test]
fn negative_control_metric_above_dhcp() {
    let _slot = guest_slot();
    let Some(lab) = Lab::prepare("guest::negative_control_metric_above_dhcp") else { return };
    let node = lab.first_node("worker");
    let guest = lab.boot(&node, Tamper::MetricAboveDhcp);
    guest.provision();
    let failed = guest.checks(false, "first boot");
    guest.finish();
    // Each failure reads "WHEN: CHECK: DETAIL"; the check is named by its first two parts.
    let names: Vec<String> =
        failed.iter().map(|f| f.splitn(3, ": ").take(2).collect::<Vec<_>>().join(": ")).collect();
    let expected = ["first boot: default route", "first boot: off-LAN connection"];
    assert_eq!(
        names,
        expected,
        "the negative control must fail exactly the default-route checks; it failed:\n  {}",
        failed.join("\n  ")
    );
}

// ---------------------------------------------------------------------------------------------
// The lab: tools, the cached image, a generated tree with a test key, the machines in it
// ---------------------------------------------------------------------------------------------

struct Tools {
    qemu: PathBuf,
    qemu_img: PathBuf,
    vagrant: super::validators::VagrantTools,
}

fn tools(test: &str) -> Option<Tools> {
    let qemu = require(test, "qemu-system-x86_64", "qemu-system-x86")?;
    let qemu_img = require(test, "qemu-img", "qemu-utils")?;
    require(test, "mmdebstrap", "mmdebstrap")?;
    require(test, "mke2fs", "e2fsprogs")?;
    require(test, "ip", "iproute2")?;
    require(test, "ssh", "openssh-client")?;
    require(test, "ssh-keygen", "openssh-client")?;
    require(test, "flock", "util-linux")?;
    require(test, "python3", "python3-venv")?;
    let vagrant = vagrant_tools(test)?;
    if !Path::new("/dev/net/tun").exists() || !is_root() {
        let message = "needs root and /dev/net/tun (network namespaces and a tap for qemu)";
        assert!(
            std::env::var_os("CI").is_none(),
            "{test}: {message} (CI is set, so this is a failure)"
        );
        loud(&format!("\n*** SKIPPED {test}: {message} ***\n"));
        return None;
    }
    Some(Tools { qemu, qemu_img, vagrant })
}

/// The built guest: kernel, initrd, root file system, the box key and the guest's host key.
pub(super) struct Image {
    dir: PathBuf,
}

impl Image {
    /// The cached image, built when absent by `tests/guest/cached-image.sh` (the cache's place,
    /// its key and its lock are that script's; .ci/run starts it early, and this waits for it).
    pub(super) fn ensure() -> Image {
        // A developer may point at an image built by hand (`build-image.sh DIR`).
        if let Some(dir) = std::env::var_os("GEN_GUEST_IMAGE") {
            return Image { dir: dir.into() };
        }
        let started = Instant::now();
        let ran =
            run(&mut Command::new(repo_root().join("tests/guest/cached-image.sh")), secs(1800))
                .unwrap_or_else(|e| panic!("building the guest image: {e}"));
        assert!(ran.ok(), "building the guest image: {}", ran.describe());
        let image = Image { dir: PathBuf::from(ran.stdout.lines().last().unwrap_or_default()) };
        assert!(image.complete(), "{} is incomplete after its build", image.dir.display());
        loud(&format!("guest: image {} ready in {:.0?}", image.dir.display(), started.elapsed()));
        image
    }

    fn complete(&self) -> bool {
        ["vmlinuz", "initrd.img", "root.img", "box_key", "host_key.pub"]
            .iter()
            .all(|f| self.dir.join(f).is_file())
    }

    pub(super) fn path(&self, file: &str) -> PathBuf {
        self.dir.join(file)
    }

    /// The guest's ssh host key as a known_hosts key field (`ssh-ed25519 AAAA…`).
    pub(super) fn host_key(&self) -> String {
        let text = fs::read_to_string(self.path("host_key.pub")).unwrap();
        text.split_whitespace().take(2).collect::<Vec<_>>().join(" ")
    }
}

/// What the generated tree says about one machine.
#[derive(Clone, Debug)]
struct Node {
    name: String,
    ip: Ipv4Addr,
    mac: String,
    provisioners: Vec<Provisioner>,
}

#[derive(Clone, Debug)]
enum Provisioner {
    File { name: String, source: PathBuf, destination: String },
    Shell { name: String, inline: String, privileged: bool },
}

/// The site's LAN and a generated tree, with a test key in `authorized_keys`.
struct Lab {
    test: &'static str,
    tools: Tools,
    image: Image,
    venv: PathBuf,
    tmp: tempfile::TempDir,
    /// The generated tree (`out/` of the test site).
    out: PathBuf,
    site: toml::Table,
    /// The laptop's key pair, whose public half the test site puts in `authorized_keys`.
    laptop_key: PathBuf,
}

impl Lab {
    fn prepare(test: &'static str) -> Option<Lab> {
        let tools = tools(test)?;
        let tmp = tempfile::tempdir().unwrap();

        // The example site, with a key made here as the laptop's key.
        let laptop_key = tmp.path().join("laptop_key");
        let ran = run(
            Command::new("ssh-keygen")
                .args(["-q", "-t", "ed25519", "-N", "", "-C", "guest-test-laptop", "-f"])
                .arg(&laptop_key),
            secs(30),
        )
        .unwrap();
        assert!(ran.ok(), "ssh-keygen: {}", ran.describe());
        let public = fs::read_to_string(laptop_key.with_extension("pub")).unwrap();
        let text = fs::read_to_string(repo_root().join("site.toml")).unwrap();
        let mut site: toml::Table = toml::from_str(&text).unwrap();
        site["vagrant"].as_table_mut().unwrap().insert(
            "authorized_keys".into(),
            toml::Value::Array(vec![toml::Value::String(public.trim().into())]),
        );
        let lab_dir = tmp.path().join("lab");
        fs::create_dir_all(&lab_dir).unwrap();
        fs::write(lab_dir.join("site.toml"), toml::to_string(&site).unwrap()).unwrap();
        let ran = run(
            Command::new(env!("CARGO_BIN_EXE_gen")).arg("build").current_dir(&lab_dir),
            secs(60),
        )
        .unwrap();
        assert!(ran.ok(), "gen build of the test site: {}", ran.describe());
        let out = lab_dir.join("out");

        // The image and the release's ansible, at the same time: both are slow when cold.
        let requirements = out.join("kubespray/requirements.txt");
        let (image, venv) = std::thread::scope(|s| {
            let venv = s.spawn(|| {
                let pinned = pins(&fs::read_to_string(&requirements).unwrap());
                let ansible = pinned.get("ansible").cloned().unwrap_or_default();
                let core = pinned.get("ansible-core").cloned().unwrap_or_else(|| "unpinned".into());
                // The venv tests/suite/validators.rs makes for this pin pair.
                ensure_venv(test, &format!("ansible-{ansible}-core-{core}"), Some(&requirements))
            });
            let image = Image::ensure();
            (image, venv.join().unwrap())
        });
        let venv = venv.unwrap_or_else(|e| panic!("{test}: the release's ansible venv: {e}"));

        Some(Lab { test, tools, image, venv, tmp, out, site, laptop_key })
    }

    /// The machine `name` as Vagrant's loader sees it in the Vagrantfile that defines it. The
    /// Vagrantfiles are found, not named: the tree's layout is the renderer's business. Those in
    /// a folder named for the machine are loaded first (each load starts Vagrant: seconds), the
    /// others until one defines it.
    fn load_machine(&self, name: &str) -> Node {
        // Vagrant may write beside a Vagrantfile: load a copy of the tree.
        let copy = self.tmp.path().join("tree");
        copy_dir(&self.out, &copy).unwrap();
        let mut vagrantfiles = Vec::new();
        find_files(&copy, "Vagrantfile", &mut vagrantfiles);
        assert!(!vagrantfiles.is_empty(), "the generated tree has no Vagrantfile");
        vagrantfiles.sort_by_key(|f| f.parent().and_then(Path::file_name) != Some(name.as_ref()));
        for (n, file) in vagrantfiles.iter().enumerate() {
            let dir = file.parent().unwrap().to_path_buf();
            let scratch = self.tmp.path().join(format!("vagrant-{n}"));
            let script = fixtures().join("vagrant_inspect.rb");
            let mut cmd =
                vagrant_command(&self.tools.vagrant, &self.tools.vagrant.ruby, &dir, &scratch);
            cmd.arg(&script).arg(&dir).arg(scratch.join("home")).arg(scratch.join("dotfile"));
            let ran = run(&mut cmd, secs(120)).unwrap();
            let facts = Json::parse(ran.stdout.trim())
                .ok()
                .filter(|j| ran.ok() && j.get("machines").is_some())
                .unwrap_or_else(|| {
                    panic!("Vagrant's loader on {}: {}", file.display(), ran.describe())
                });
            if let Some(m) = facts["machines"].arr().iter().find(|m| m["name"].str() == Some(name))
            {
                return machine(m, &dir);
            }
        }
        panic!("no generated Vagrantfile defines {name}")
    }

    /// The first node (by name) that site.toml gives this role.
    fn first_node(&self, role: &str) -> Node {
        let site_nodes = self.site["nodes"].as_table().unwrap();
        let name = site_nodes
            .iter()
            .find(|(_, n)| n.get("role").and_then(|r| r.as_str()) == Some(role))
            .map_or_else(
                || panic!("the example site has no {role} node"),
                |(name, _)| name.clone(),
            );
        self.load_machine(&name)
    }

    fn network(&self) -> &toml::Table {
        self.site["network"].as_table().unwrap()
    }

    fn gateway(&self) -> Ipv4Addr {
        self.network()["gateway"].as_str().unwrap().parse().unwrap()
    }

    fn cidr(&self) -> (Ipv4Addr, u8) {
        let (net, prefix) = self.network()["cidr"].as_str().unwrap().split_once('/').unwrap();
        (net.parse().unwrap(), prefix.parse().unwrap())
    }

    /// Addresses the site uses on the LAN: gateway, resolvers, servers, nodes, MetalLB's range.
    fn used_addresses(&self) -> Vec<Ipv4Addr> {
        let mut used = vec![self.gateway()];
        let all_strings = |v: &toml::Value, out: &mut Vec<String>| {
            fn walk(v: &toml::Value, out: &mut Vec<String>) {
                match v {
                    toml::Value::String(s) => out.push(s.clone()),
                    toml::Value::Array(a) => a.iter().for_each(|v| walk(v, out)),
                    toml::Value::Table(t) => t.values().for_each(|v| walk(v, out)),
                    _ => {}
                }
            }
            walk(v, out);
        };
        let mut strings = Vec::new();
        all_strings(&toml::Value::Table(self.site.clone()), &mut strings);
        for s in strings {
            if let Some((a, b)) = s.split_once('-') {
                if let (Ok(a), Ok(b)) = (a.parse::<Ipv4Addr>(), b.parse::<Ipv4Addr>()) {
                    used.extend((u32::from(a)..=u32::from(b)).map(Ipv4Addr::from));
                    continue;
                }
            }
            if let Ok(ip) = s.split('/').next().unwrap_or("").parse::<Ipv4Addr>() {
                used.push(ip);
            }
        }
        used
    }

    /// A LAN address for the peer that the site does not use: the highest free host address.
    fn peer_address(&self) -> Ipv4Addr {
        let (net, prefix) = self.cidr();
        let used = self.used_addresses();
        let base = u32::from(net);
        let broadcast = base | (u32::MAX >> prefix);
        (base + 1..broadcast)
            .rev()
            .map(Ipv4Addr::from)
            .find(|ip| !used.contains(ip))
            .expect("the LAN has no free address for the peer")
    }

    /// The first address of MetalLB's pool: what kube-proxy (ipvs) binds on `kube-ipvs0` for a
    /// LoadBalancer service.
    fn metallb_address(&self) -> Option<Ipv4Addr> {
        let range = self.site.get("addons")?.get("metallb")?.get("ip_range")?.as_str()?;
        range.split(['-', '/']).next()?.trim().parse().ok()
    }

    fn boot(&self, node: &Node, tamper: Tamper) -> Guest<'_> {
        let (net, prefix) = self.cidr();
        let mask = u32::MAX << (32 - prefix);
        assert_ne!(
            u32::from(OFF_LAN_HOST) & mask,
            u32::from(net),
            "the off-LAN test network lies inside the site's LAN"
        );
        let node = tamper.apply(node);
        let lan = LanNet::create(self);
        Guest::start(self, node, lan)
    }
}

/// Walks `dir` for files named `name`, sorted.
fn find_files(dir: &Path, name: &str, found: &mut Vec<PathBuf>) {
    let mut entries: Vec<_> = fs::read_dir(dir).unwrap().map(|e| e.unwrap().path()).collect();
    entries.sort();
    for p in entries {
        if p.is_dir() {
            find_files(&p, name, found);
        } else if p.file_name().is_some_and(|f| f == name) {
            found.push(p);
        }
    }
}

/// A described Ruby value from vagrant_inspect.rb: `{"class": ..., "value": ...}`.
fn value(v: Option<&Json>) -> Option<&Json> {
    v?.get("value")
}

fn string(v: Option<&Json>) -> Option<String> {
    value(v)?.str().map(str::to_string)
}

fn machine(m: &Json, dir: &Path) -> Node {
    let name = m["name"].str().unwrap().to_string();
    let public = m["networks"]
        .arr()
        .iter()
        .find(|n| n.get("type").and_then(Json::str) == Some("public_network"))
        .unwrap_or_else(|| panic!("{name}: no public_network"));
    let opts = value(public.get("options")).unwrap();
    let ip = string(opts.get("ip")).unwrap_or_else(|| panic!("{name}: public_network has no ip"));
    let mac =
        string(opts.get("mac")).unwrap_or_else(|| panic!("{name}: public_network has no mac"));
    let provisioners = m["provisioners"]
        .arr()
        .iter()
        .map(|p| {
            let kind = p["type"].str().unwrap_or_default();
            let pname = string(p.get("name")).unwrap_or_default();
            let config = &p["config"];
            let set = |key: &str| {
                value(config.get(key)).filter(|v| !matches!(v, Json::Null)).map(Json::show)
            };
            match kind {
                "file" => Provisioner::File {
                    source: dir.join(string(config.get("source")).unwrap()),
                    destination: string(config.get("destination")).unwrap(),
                    name: pname,
                },
                "shell" => {
                    // What this stand-in for Vagrant's communicator does not model must not
                    // be silently dropped.
                    for key in ["path", "args", "upload_path", "binary"] {
                        if let Some(v) = set(key).filter(|v| v != "false" && v != "[]") {
                            panic!("{name}: shell provisioner {pname:?} sets {key} = {v}: not modelled by tests/suite/guest.rs");
                        }
                    }
                    assert!(value(config.get("env")).and_then(Json::obj).is_none_or(serde_json::Map::is_empty), "{name}: shell provisioner {pname:?} sets env: not modelled");
                    Provisioner::Shell {
                        inline: string(config.get("inline")).unwrap_or_else(|| {
                            panic!("{name}: shell provisioner {pname:?} has no inline script")
                        }),
                        privileged: value(config.get("privileged")) != Some(&Json::Bool(false)),
                        name: pname,
                    }
                }
                other => panic!("{name}: provisioner type {other:?} is not modelled"),
            }
        })
        .collect();
    Node {
        ip: ip.parse().unwrap_or_else(|_| panic!("{name}: ip {ip:?}")),
        mac: colon_mac(&mac),
        provisioners,
        name,
    }
}

/// `0200C0A8011F` (VirtualBox's form, as Vagrantfiles give it) as `02:00:c0:a8:01:1f`.
fn colon_mac(mac: &str) -> String {
    let digits: String = mac.chars().filter(char::is_ascii_hexdigit).collect();
    assert_eq!(digits.len(), 12, "MAC {mac:?}");
    let lower = digits.to_ascii_lowercase();
    (0..6).map(|i| &lower[i * 2..i * 2 + 2]).collect::<Vec<_>>().join(":")
}

/// A deliberate break for the negative control.
#[derive(Clone, Copy)]
enum Tamper {
    None,
    /// The override's default-route metric above the DHCP route's 100.
    MetricAboveDhcp,
}

impl Tamper {
    fn apply(self, node: &Node) -> Node {
        let mut node = node.clone();
        if let Tamper::MetricAboveDhcp = self {
            for p in &mut node.provisioners {
                if let Provisioner::File { source, .. } = p {
                    let text = fs::read_to_string(&*source).unwrap();
                    if text.contains("metric: 10\n") {
                        let tampered = source.with_extension("metric-200.yaml");
                        fs::write(&tampered, text.replace("metric: 10\n", "metric: 200\n"))
                            .unwrap();
                        *source = tampered;
                        return node;
                    }
                }
            }
            panic!("{}: no uploaded file holds `metric: 10`", node.name);
        }
        node
    }
}

// ---------------------------------------------------------------------------------------------
// The LAN: network namespaces, removed on drop
// ---------------------------------------------------------------------------------------------

static SEQ: AtomicUsize = AtomicUsize::new(0);

/// `v` holds qemu (its loopback only, a bridge `br0` with the tap and the LAN's veths), `r` the
/// router (the site's gateway on the LAN, `OFF_LAN_ROUTER` on the far side), `p` the peer,
/// `o` the off-LAN machine that answers a TCP connection with the address it came from.
struct LanNet {
    v: String,
    r: String,
    p: String,
    o: String,
    peer: Ipv4Addr,
    listener: Option<Child>,
}

impl LanNet {
    fn create(lab: &Lab) -> LanNet {
        let id = format!("gg{}-{}", std::process::id(), SEQ.fetch_add(1, Ordering::SeqCst));
        let mut lan = LanNet {
            v: format!("{id}-v"),
            r: format!("{id}-r"),
            p: format!("{id}-p"),
            o: format!("{id}-o"),
            peer: lab.peer_address(),
            listener: None,
        };
        let (_, prefix) = lab.cidr();
        let gw = lab.gateway();
        let (v, r, p, o) = (&lan.v, &lan.r, &lan.p, &lan.o);
        for ns in [v, r, p, o] {
            sh(&format!("ip netns add {ns} && ip -n {ns} link set lo up"));
        }
        let script = format!(
            "set -e
            ip -n {v} link add br0 type bridge
            ip -n {v} link set br0 up
            ip -n {v} tuntap add dev tap0 mode tap
            ip -n {v} link set tap0 master br0 up
            ip -n {v} link add vr type veth peer name lan0 netns {r}
            ip -n {v} link add vp type veth peer name lan0 netns {p}
            ip -n {v} link set vr master br0 up
            ip -n {v} link set vp master br0 up
            ip -n {r} addr add {gw}/{prefix} dev lan0
            ip -n {r} link set lan0 up
            ip -n {r} link add wan0 type veth peer name wan0 netns {o}
            ip -n {r} addr add {OFF_LAN_ROUTER}/24 dev wan0
            ip -n {r} link set wan0 up
            ip netns exec {r} sysctl -q -w net.ipv4.ip_forward=1
            ip -n {p} addr add {peer}/{prefix} dev lan0
            ip -n {p} link set lan0 up
            ip -n {p} route add default via {gw}
            ip -n {o} addr add {OFF_LAN_HOST}/24 dev wan0
            ip -n {o} link set wan0 up
            ip -n {o} route add default via {OFF_LAN_ROUTER}",
            peer = lan.peer
        );
        sh(&script);
        // Answers each connection with the source address it arrived from.
        let server = format!(
            "import socket\n\
             s = socket.socket()\n\
             s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)\n\
             s.bind(('{OFF_LAN_HOST}', {OFF_LAN_PORT}))\n\
             s.listen(16)\n\
             while True:\n    c, a = s.accept()\n    c.sendall((a[0] + '\\n').encode())\n    c.close()\n"
        );
        lan.listener = Some(
            Command::new("ip")
                .args(["netns", "exec", o, "python3", "-c", &server])
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .spawn()
                .unwrap(),
        );
        lan
    }

    fn exec(&self, ns: &str) -> Command {
        let mut cmd = Command::new("ip");
        cmd.args(["netns", "exec", ns]);
        cmd
    }
}

impl Drop for LanNet {
    fn drop(&mut self) {
        if let Some(mut l) = self.listener.take() {
            let _ = l.kill();
            let _ = l.wait();
        }
        for ns in [&self.v, &self.r, &self.p, &self.o] {
            let _ = Command::new("ip").args(["netns", "del", ns]).status();
        }
    }
}

/// Runs a shell script on this machine (namespace set-up); panics with its output on failure.
fn sh(script: &str) {
    let ran = run(Command::new("sh").args(["-c", script]), secs(60)).unwrap();
    assert!(ran.ok(), "{script}: {}", ran.describe());
}

// ---------------------------------------------------------------------------------------------
// The guest
// ---------------------------------------------------------------------------------------------

struct Guest<'a> {
    lab: &'a Lab,
    node: Node,
    lan: LanNet,
    qemu: Option<Child>,
    dir: tempfile::TempDir,
    known_hosts: PathBuf,
    started: Instant,
    boot_id: String,
    /// Boots so far (1 after the first): names this boot's shared ssh connection.
    boots: u32,
}

impl<'a> Guest<'a> {
    fn start(lab: &'a Lab, node: Node, lan: LanNet) -> Guest<'a> {
        let dir = tempfile::tempdir().unwrap();
        let host_key = lab.image.host_key();
        let known_hosts = dir.path().join("known_hosts");
        fs::write(
            &known_hosts,
            format!("[127.0.0.1]:{SSH_FORWARD} {host_key}\n{} {host_key}\n", node.ip),
        )
        .unwrap();
        let mut guest = Guest {
            lab,
            node,
            lan,
            qemu: None,
            known_hosts,
            started: Instant::now(),
            boot_id: String::new(),
            boots: 1,
            dir,
        };
        let accel = accel();
        guest.launch(accel);
        if accel == "kvm" && !guest.prints_within(KVM_PROBE) {
            loud(&format!(
                "{}: no console output under KVM within {}s: software emulation (TCG)",
                lab.test,
                KVM_PROBE.as_secs()
            ));
            guest.stop();
            guest.launch("tcg");
        }
        guest.boot_id = guest.wait_for_ssh(None);
        guest.connect();
        loud(&format!(
            "{}: {} booted in {:.0?}",
            lab.test,
            guest.node.name,
            guest.started.elapsed()
        ));
        guest
    }

    /// Starts qemu on a fresh disk: a copy-on-write layer over the cached image, kept across
    /// the reboot (the same qemu process runs both boots).
    fn launch(&mut self, accel: &str) {
        let disk = self.dir.path().join("disk.qcow2");
        let _ = fs::remove_file(&disk);
        let ran = run(
            Command::new(&self.lab.tools.qemu_img)
                .args(["create", "-q", "-f", "qcow2", "-F", "raw", "-b"])
                .arg(self.lab.image.path("root.img"))
                .arg(&disk),
            secs(60),
        )
        .unwrap();
        assert!(ran.ok(), "qemu-img create: {}", ran.describe());
        let serial = self.dir.path().join("serial.log");
        let mut cmd = self.lan.exec(&self.lan.v);
        cmd.arg(&self.lab.tools.qemu)
            .args(["-accel", accel, "-m", "1024", "-smp", "1"])
            .args(["-nodefaults", "-no-user-config", "-display", "none"])
            .arg("-serial")
            .arg(format!("file:{}", serial.display()))
            .arg("-kernel")
            .arg(self.lab.image.path("vmlinuz"))
            .arg("-initrd")
            .arg(self.lab.image.path("initrd.img"))
            // net.ifnames=0 as the bento boxes boot: the NAT NIC is eth0, the bridged one eth1.
            // e2scrub_reap looks for LVM snapshots for minutes under emulation; there are none.
            .args([
                "-append",
                "root=/dev/vda rw console=ttyS0 net.ifnames=0 panic=-1 \
                 systemd.mask=e2scrub_reap.service",
            ])
            .arg("-drive")
            .arg(format!("file={},if=virtio,format=qcow2,cache=unsafe", disk.display()))
            // NIC 1: VirtualBox's NAT with the ssh forward. Not `restrict=on`: that also drops
            // the router from DHCP, and the DHCP default route (metric 100) is what the override
            // must win against. The NAT's outside is qemu's namespace: loopback only.
            .arg("-netdev")
            .arg(format!(
                "user,id=nat,net=10.0.2.0/24,host=10.0.2.2,dhcpstart=10.0.2.15,\
                 hostfwd=tcp:127.0.0.1:{SSH_FORWARD}-:22"
            ))
            .args(["-device", "virtio-net-pci,netdev=nat,mac=52:54:00:12:34:56"])
            // NIC 2: the bridged NIC, with the MAC the Vagrantfile gives it.
            .args(["-netdev", "tap,id=lan,ifname=tap0,script=no,downscript=no"])
            .arg("-device")
            .arg(format!("virtio-net-pci,netdev=lan,mac={}", self.node.mac))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(fs::File::create(self.dir.path().join("qemu.stderr")).unwrap());
        self.qemu = Some(cmd.spawn().expect("qemu-system-x86_64"));
    }

    /// Whether the guest's console shows the kernel within `limit`.
    fn prints_within(&self, limit: Duration) -> bool {
        let deadline = Instant::now() + limit;
        while Instant::now() < deadline {
            let text = fs::read_to_string(self.dir.path().join("serial.log")).unwrap_or_default();
            if text.contains("Linux version") {
                return true;
            }
            std::thread::sleep(Duration::from_millis(200));
        }
        false
    }

    fn stop(&mut self) {
        if let Some(mut q) = self.qemu.take() {
            let _ = q.kill();
            let _ = q.wait();
        }
    }

    fn serial_tail(&self) -> String {
        let text = fs::read_to_string(self.dir.path().join("serial.log")).unwrap_or_default();
        let err = fs::read_to_string(self.dir.path().join("qemu.stderr")).unwrap_or_default();
        let lines: Vec<&str> = text.lines().collect();
        format!(
            "qemu stderr: {}\nlast console lines:\n{}",
            err.trim(),
            lines[lines.len().saturating_sub(30)..].join("\n")
        )
    }

    /// ssh options for the guest, pinned to the image's host key.
    fn ssh_opts(&self, cmd: &mut Command, key: &Path) {
        cmd.args(["-o", "BatchMode=yes", "-o", "StrictHostKeyChecking=yes", "-o"])
            .arg(format!("UserKnownHostsFile={}", self.known_hosts.display()))
            // Generous: under emulation on a busy machine sshd's key exchange alone takes a while.
            .args(["-o", "IdentitiesOnly=yes", "-o", "ConnectTimeout=90", "-o", "LogLevel=ERROR"])
            .arg("-i")
            .arg(key);
    }

    /// ssh through the NAT's port forward with the box key, as `vagrant ssh` does: over this
    /// boot's shared connection (see `connect`), or a connection of its own when there is none.
    fn nat_ssh(&self) -> Command {
        let mut cmd = self.lan.exec(&self.lan.v);
        cmd.arg("ssh");
        self.ssh_opts(&mut cmd, &self.lab.image.path("box_key"));
        self.shared(&mut cmd);
        cmd.args(["-p", &SSH_FORWARD.to_string(), "vagrant@127.0.0.1"]);
        cmd
    }

    /// ssh through the NAT's port forward on a connection of its own (the `vagrant ssh` check,
    /// waiting for a boot).
    fn nat_ssh_alone(&self) -> Command {
        let mut cmd = self.lan.exec(&self.lan.v);
        cmd.arg("ssh");
        self.ssh_opts(&mut cmd, &self.lab.image.path("box_key"));
        cmd.args(["-o", "ControlPath=none", "-p", &SSH_FORWARD.to_string(), "vagrant@127.0.0.1"]);
        cmd
    }

    /// The control socket of this boot's shared connection.
    fn control_path(&self) -> PathBuf {
        self.dir.path().join(format!("ssh-{}", self.boots))
    }

    /// Sends an ssh or scp command over this boot's shared connection; ssh connects on its own
    /// when the socket is absent.
    fn shared(&self, cmd: &mut Command) {
        cmd.args(["-o", "ControlMaster=no", "-o"])
            .arg(format!("ControlPath={}", self.control_path().display()));
    }

    /// Opens one ssh connection for this boot that the harness's commands and uploads share
    /// (ssh's ControlMaster), as Vagrant's communicator keeps one connection for all the
    /// commands of a `vagrant up`: under emulation each new connection's key exchange and login
    /// cost seconds. The peer's ssh and ansible make connections of their own.
    fn connect(&self) {
        let mut cmd = self.lan.exec(&self.lan.v);
        cmd.arg("ssh");
        self.ssh_opts(&mut cmd, &self.lab.image.path("box_key"));
        cmd.args(["-M", "-N", "-f", "-o"])
            .arg(format!("ControlPath={}", self.control_path().display()))
            .args(["-p", &SSH_FORWARD.to_string(), "vagrant@127.0.0.1"]);
        let ran = run(&mut cmd, secs(120));
        if !ran.as_ref().is_ok_and(Ran::ok) {
            // Not a check: every command then connects on its own, only slower.
            loud(&format!(
                "{}: no shared ssh connection to {} ({}); connecting per command",
                self.lab.test,
                self.node.name,
                describe(&ran)
            ));
        }
    }

    /// Closes this boot's shared connection (before a reboot, at the end).
    fn disconnect(&self) {
        if !self.control_path().exists() {
            return;
        }
        let mut cmd = self.lan.exec(&self.lan.v);
        cmd.args(["ssh", "-O", "exit", "-o"])
            .arg(format!("ControlPath={}", self.control_path().display()))
            .args(["-p", &SSH_FORWARD.to_string(), "vagrant@127.0.0.1"]);
        let _ = run(&mut cmd, secs(30));
    }

    /// Runs `script` in the guest as root (over the NAT path).
    fn root(&self, script: &str) -> Ran {
        retry_connection(|| {
            let mut cmd = self.nat_ssh();
            cmd.arg(format!("sudo -n sh -c {}", shell_quote(script)));
            run(&mut cmd, secs(300)).unwrap_or_else(|e| panic!("{}: {e}", self.node.name))
        })
    }

    fn root_ok(&self, script: &str) -> String {
        let ran = self.root(script);
        assert!(ran.ok(), "{}: in the guest: {script}: {}", self.node.name, ran.describe());
        ran.stdout
    }

    /// Waits until ssh over the NAT forward answers with a boot id other than `old`.
    fn wait_for_ssh(&mut self, old: Option<&str>) -> String {
        let deadline = Instant::now() + BOOT_TIMEOUT;
        loop {
            if let Some(status) = self.qemu.as_mut().unwrap().try_wait().unwrap() {
                panic!(
                    "{}: qemu exited ({status}) during boot\n{}",
                    self.node.name,
                    self.serial_tail()
                );
            }
            let mut cmd = self.nat_ssh_alone();
            cmd.arg("cat /proc/sys/kernel/random/boot_id");
            if let Ok(ran) = run(&mut cmd, secs(120)) {
                let id = ran.stdout.trim().to_string();
                if ran.ok() && !id.is_empty() && Some(id.as_str()) != old {
                    return id;
                }
            }
            assert!(
                Instant::now() <= deadline,
                "{}: no ssh over the NAT forward within {}s\n{}",
                self.node.name,
                BOOT_TIMEOUT.as_secs(),
                self.serial_tail()
            );
            std::thread::sleep(Duration::from_secs(2));
        }
    }

    /// Runs the node's provisioners in order, as `vagrant up` (or `vagrant provision`) does.
    fn provision(&self) {
        let started = Instant::now();
        for p in &self.node.provisioners {
            match p {
                Provisioner::File { name, source, destination } => {
                    self.upload(source, destination).unwrap_or_else(|e| {
                        panic!("{}: provisioner {name:?}: {e}", self.node.name)
                    });
                }
                Provisioner::Shell { name, inline, privileged } => {
                    let script = self.dir.path().join("vagrant-shell");
                    fs::write(&script, inline.replace("\r\n", "\n")).unwrap();
                    self.upload(&script, "/tmp/vagrant-shell").unwrap();
                    let shell = if *privileged { "sudo -E -H bash -l" } else { "bash -l" };
                    let _ = self.communicate(shell, "chown -R vagrant /tmp/vagrant-shell\n");
                    let ran = self.communicate(
                        shell,
                        "chmod +x '/tmp/vagrant-shell' && /tmp/vagrant-shell\n",
                    );
                    assert!(
                        ran.ok(),
                        "{}: provisioner {name:?} failed: {}",
                        self.node.name,
                        ran.describe()
                    );
                }
            }
        }
        loud(&format!(
            "{}: {} provisioned in {:.0?}",
            self.lab.test,
            self.node.name,
            started.elapsed()
        ));
    }

    /// scp as the ssh user, as Vagrant's communicator uploads.
    fn upload(&self, from: &Path, to: &str) -> Result<(), String> {
        let mut cmd = self.lan.exec(&self.lan.v);
        cmd.arg("scp");
        self.ssh_opts(&mut cmd, &self.lab.image.path("box_key"));
        self.shared(&mut cmd);
        cmd.args(["-P", &SSH_FORWARD.to_string()]).arg(from).arg(format!("vagrant@127.0.0.1:{to}"));
        let ran = retry_connection(|| {
            run(&mut cmd, secs(300)).unwrap_or_else(|e| Ran {
                code: None,
                stdout: String::new(),
                stderr: e,
            })
        });
        if ran.ok() { Ok(()) } else { Err(format!("scp to {to}: {}", ran.describe())) }
    }

    /// Runs `shell` over ssh and writes `command` to its stdin, as Vagrant's `shell_execute`.
    fn communicate(&self, shell: &str, command: &str) -> Ran {
        let input = self.dir.path().join("stdin");
        fs::write(&input, command).unwrap();
        retry_connection(|| {
            let mut cmd = self.nat_ssh();
            cmd.arg(shell);
            let stdin = fs::File::open(&input).unwrap().into();
            run_with_stdin(&mut cmd, stdin, secs(600))
                .unwrap_or_else(|e| panic!("{}: {e}", self.node.name))
        })
    }

    /// The lab's run-time promises. Returns the failed checks, each `WHEN: CHECK: detail`.
    fn checks(&self, with_ansible: bool, when: &str) -> Vec<String> {
        let n = &self.node;
        let lab = self.lab;
        let gw = lab.gateway();
        let mut failed = Vec::new();
        let test = lab.test;
        let started = Instant::now();
        let mut check = |name: &str, ok: bool, detail: String| {
            loud(&format!("{test}: {when}: {name}: {}", if ok { "ok" } else { "FAILED" }));
            if !ok {
                failed.push(format!("{when}: {name}: {detail}"));
            }
        };

        // The vagrant ssh path: the NAT's port forward answers, with the box key.
        let nat = run(self.nat_ssh_alone().arg("true"), secs(60));
        let nat_ok = nat.as_ref().is_ok_and(Ran::ok);
        check(
            "vagrant ssh path",
            nat_ok,
            format!("ssh to 127.0.0.1:{SSH_FORWARD} in qemu's namespace: {}", describe(&nat)),
        );
        if !nat_ok {
            return failed;
        }

        // The bridged NIC was matched by its MAC and carries the node's address.
        let eth1 = self.root("ip -o -4 addr show dev eth1; cat /sys/class/net/eth1/address");
        check(
            "bridged address",
            eth1.stdout.contains(&format!(" {}/", n.ip)) && eth1.stdout.contains(&n.mac),
            format!("eth1 should be {} with {}: {}", n.mac, n.ip, eth1.describe()),
        );

        // NAT stays on NIC 1.
        let eth0 = self.root("ip -o -4 addr show dev eth0; ip route get 10.0.2.2");
        check(
            "NAT on eth0",
            eth0.stdout.contains(" 10.0.2.15/24 ") && eth0.stdout.contains("dev eth0"),
            format!("eth0 should hold 10.0.2.15/24 and reach 10.0.2.2: {}", eth0.describe()),
        );

        // The default route: via the gateway on the bridged NIC wins the lookup for an
        // off-LAN address, from the node's address.
        let route = self.root(&format!("ip route get {OFF_LAN_HOST}; ip -4 route show default"));
        let want = format!("via {gw} dev eth1 src {}", n.ip);
        check(
            "default route",
            route.stdout.lines().next().is_some_and(|l| l.contains(&want)),
            format!("`ip route get {OFF_LAN_HOST}` should say `{want}`: {}", route.describe()),
        );
        // ... and a real TCP connection beyond the router arrives from the node's address.
        let client = format!(
            "import socket\n\
             s = socket.create_connection(('{OFF_LAN_HOST}', {OFF_LAN_PORT}), timeout=5)\n\
             print(s.recv(64).decode().strip())\n"
        );
        let seen = self.root(&format!("python3 -c {}", shell_quote(&client)));
        check(
            "off-LAN connection",
            seen.ok() && seen.stdout.trim() == n.ip.to_string(),
            format!(
                "{OFF_LAN_HOST}:{OFF_LAN_PORT} beyond the router should see {}: {}",
                n.ip,
                seen.describe()
            ),
        );

        // The peer reaches the guest at its static address and logs in with the laptop's key.
        let mut cmd = self.lan.exec(&self.lan.p);
        cmd.arg("ssh");
        self.ssh_opts(&mut cmd, &lab.laptop_key);
        cmd.arg(format!("vagrant@{}", n.ip)).arg("hostname -I");
        let peer = run(&mut cmd, secs(60));
        check(
            "peer reaches static IP",
            peer.as_ref().is_ok_and(|r| r.ok() && r.stdout.contains(&n.ip.to_string())),
            format!("ssh from the peer {} to vagrant@{}: {}", self.lan.peer, n.ip, describe(&peer)),
        );

        if with_ansible {
            let ping = self.ansible(&["-m", "ping"]);
            check(
                "ansible ping",
                ping.as_ref().is_ok_and(|r| r.ok() && r.stdout.contains("\"ping\": \"pong\"")),
                format!("ansible -m ping from the peer: {}", describe(&ping)),
            );
            let become_ = self.ansible(&["-m", "command", "-a", "id -u", "--become"]);
            check(
                "ansible become",
                become_.as_ref().is_ok_and(|r| r.ok() && r.stdout.lines().any(|l| l.trim() == "0")),
                format!(
                    "ansible --become -m command -a 'id -u' from the peer: {}",
                    describe(&become_)
                ),
            );
        }
        loud(&format!("{test}: {when}: checks done in {:.0?}", started.elapsed()));
        failed
    }

    /// The release's pinned ansible, run from the peer with the generated inventory and
    /// group_vars, limited to this node, logging in with the laptop's key.
    fn ansible(&self, args: &[&str]) -> Result<Ran, String> {
        let scratch = self.dir.path().join("ansible");
        fs::create_dir_all(scratch.join("tmp")).unwrap();
        // kubespray's own ansible.cfg, which deploy.sh runs under, turns pipelining on (one ssh
        // session per module, no file upload): what the laptop's ansible does against a node.
        fs::write(scratch.join("ansible.cfg"), "[ssh_connection]\npipelining = True\n").unwrap();
        let mut cmd = self.lan.exec(&self.lan.p);
        cmd.arg(self.lab.venv.join("bin/ansible"))
            .arg("-i")
            .arg(self.lab.out.join("kubespray/inventory/hosts.yaml"))
            .arg(&self.node.name)
            .args(["--limit", &self.node.name, "--private-key"])
            .arg(&self.lab.laptop_key)
            .args(args)
            .current_dir(&scratch)
            .env("ANSIBLE_CONFIG", scratch.join("ansible.cfg"))
            .env("ANSIBLE_HOME", &scratch)
            .env("ANSIBLE_LOCAL_TEMP", scratch.join("tmp"))
            .env("ANSIBLE_NOCOLOR", "1")
            .env("ANSIBLE_INVENTORY_UNPARSED_FAILED", "True")
            // ansible's 10 s connection timeout is too short for an emulated guest's sshd.
            .env("ANSIBLE_TIMEOUT", "120")
            .env(
                "ANSIBLE_SSH_ARGS",
                format!(
                    "-o UserKnownHostsFile={} -o StrictHostKeyChecking=yes -o ControlMaster=no",
                    self.known_hosts.display()
                ),
            )
            .env_remove("ANSIBLE_INVENTORY");
        run(&mut cmd, secs(300))
    }

    fn reboot(&mut self) {
        self.disconnect();
        let started = Instant::now();
        let _ = self.root("systemctl reboot");
        let old = self.boot_id.clone();
        self.boots += 1;
        self.boot_id = self.wait_for_ssh(Some(&old));
        self.connect();
        loud(&format!(
            "{}: {} rebooted in {:.0?}",
            self.lab.test,
            self.node.name,
            started.elapsed()
        ));
    }

    /// Issue 10 point 5: provisioning again with the same override neither applies netplan nor
    /// bounces a NIC; a changed override is installed and applied. `netplan apply` (0.106,
    /// `netplan/cli/commands/apply.py`) runs `networkctl reload` and `networkctl reconfigure` on
    /// every interface it configures, even when nothing changed: networkd deletes the links'
    /// addresses and routes and adds them again (measured here with `ip monitor`). That deletion
    /// is what this watches for.
    fn reprovision_checks(&mut self) -> Vec<String> {
        let mut failed = Vec::new();
        let deleted = |log: &str| -> Vec<String> {
            log.lines().filter(|l| l.contains("Deleted")).map(str::to_string).collect()
        };
        self.watch_start();
        self.provision();
        let log = self.watch_stop();
        let bounced = deleted(&log);
        if !bounced.is_empty() {
            failed.push(format!(
                "re-provision: the same override again must not bounce the NICs (netplan apply ran); \
                 ip monitor saw:\n    {}",
                bounced.join("\n    ")
            ));
        }
        // A changed override (one more comment line) is installed and applied.
        let mut changed = self.node.clone();
        for p in &mut changed.provisioners {
            if let Provisioner::File { source, .. } = p {
                let text = fs::read_to_string(&*source).unwrap();
                let new = source.with_extension("changed.yaml");
                fs::write(&new, format!("{text}# changed\n")).unwrap();
                *source = new;
            }
        }
        let unchanged = std::mem::replace(&mut self.node, changed);
        self.watch_start();
        self.provision();
        let log = self.watch_stop();
        let installed = self.root_ok("tail -n 1 /etc/netplan/*-gen-*.yaml");
        let eth1_bounced =
            deleted(&log).iter().any(|l| l.contains("dev eth1") || l.contains(": eth1 "));
        if !eth1_bounced || installed.trim() != "# changed" {
            failed.push(format!(
                "re-provision: a changed override is installed (file ends {:?}) and applied \
                 (eth1's addresses re-made: {eth1_bounced}); ip monitor saw:\n{log}",
                installed.trim()
            ));
        }
        self.node = unchanged;
        failed
    }

    /// Starts recording address and route changes in the guest.
    fn watch_start(&self) {
        self.root_ok(
            "rm -f /run/gen-watch.log; \
             nohup ip -ts monitor address route >/run/gen-watch.log 2>&1 </dev/null & \
             echo $! >/run/gen-watch.pid",
        );
    }

    /// Stops the recording (SIGINT, so that ip flushes) and returns what it saw.
    fn watch_stop(&self) -> String {
        self.root_ok(
            "sleep 3; kill -INT $(cat /run/gen-watch.pid); sleep 1; cat /run/gen-watch.log",
        )
    }

    /// Issue 10 point 6: the facts calico's autodetection depends on, with `kube-ipvs0` holding
    /// a LAN address as kube-proxy's ipvs mode puts MetalLB's addresses there (a dummy device,
    /// each address /32). See `CALICO_IP_AUTODETECTION` in src/render/kubespray.rs for the method
    /// chosen.
    fn calico_checks(&self) -> Vec<String> {
        let lab = self.lab;
        let n = &self.node;
        let mut failed = Vec::new();
        let Some(lb) = lab.metallb_address() else {
            return vec!["calico: the example site has no MetalLB range".into()];
        };
        self.root_ok(&format!(
            "ip link add kube-ipvs0 type dummy && ip addr add {lb}/32 dev kube-ipvs0"
        ));
        // `ip -o -4 addr` lists addresses by interface index, as Go's net.Interfaces() does.
        let listing = self.root_ok("ip -o -4 addr show");
        let rows: Vec<(u32, String, String)> = listing
            .lines()
            .filter_map(|l| {
                let f: Vec<&str> = l.split_whitespace().collect();
                Some((
                    f.first()?.trim_end_matches(':').parse().ok()?,
                    f.get(1)?.to_string(),
                    f.get(3)?.to_string(),
                ))
            })
            .collect();
        // kubernetes-internal-ip (calico node/pkg/lifecycle/startup/autodetection/
        // autodetection_methods.go, GetLocalCIDR): the interface address equal to the node's
        // InternalIP, which kubespray sets from `ip`. It must be on exactly one interface, the
        // bridged one, with the LAN's prefix.
        let (_, prefix) = lab.cidr();
        let holders: Vec<&(u32, String, String)> = rows
            .iter()
            .filter(|(_, _, a)| a.split('/').next() == Some(&n.ip.to_string()))
            .collect();
        let want = format!("{}/{prefix}", n.ip);
        if holders.len() != 1 || holders[0].1 != "eth1" || holders[0].2 != want {
            failed.push(format!(
                "calico: kubernetes-internal-ip finds {want} on eth1 only: {holders:?} in\n{listing}"
            ));
        }
        // Why not `cidr=<LAN>`: calico walks the interfaces in reverse index order
        // (interfaces.go, GetInterfaces) and takes the first global address inside the CIDR
        // (filtered.go, FilteredEnumeration) with no interface excluded: kube-ipvs0, made after
        // eth1, comes first, and its MetalLB address would be taken as the node's.
        let index = |name: &str| rows.iter().find(|(_, i, _)| i == name).map(|r| r.0);
        if !(index("kube-ipvs0") > index("eth1") && index("eth1").is_some()) {
            failed.push(format!(
                "calico: kube-ipvs0 should come after eth1 in the interface listing: {listing}"
            ));
        }
        let route = self.root_ok(&format!("ip route get {}", n.ip));
        if !route.contains(&format!("src {}", n.ip)) {
            failed.push(format!("calico: the route to the node's own IP uses it: {route}"));
        }
        self.root_ok("ip link del kube-ipvs0");
        failed
    }

    fn finish(mut self) {
        self.disconnect();
        self.stop();
        loud(&format!(
            "{}: {} done in {:.0?}",
            self.lab.test,
            self.node.name,
            self.started.elapsed()
        ));
    }
}

impl Drop for Guest<'_> {
    fn drop(&mut self) {
        self.disconnect();
        self.stop();
    }
}

/// Runs an ssh or scp command again (up to three times) when the connection itself failed before
/// any command ran (exit 255 with a connection error), as Vagrant retries an ssh that is not
/// ready: under emulation on a busy machine a key exchange can time out.
fn retry_connection(mut attempt: impl FnMut() -> Ran) -> Ran {
    let mut ran = attempt();
    for _ in 0..2 {
        let refused = ran.code == Some(255)
            && ["banner exchange", "Connection closed", "Connection reset", "Connection timed out"]
                .iter()
                .any(|m| ran.stderr.contains(m));
        if !refused {
            break;
        }
        std::thread::sleep(Duration::from_secs(5));
        ran = attempt();
    }
    ran
}

fn describe(r: &Result<Ran, String>) -> String {
    match r {
        Ok(ran) => ran.describe(),
        Err(e) => e.clone(),
    }
}

fn shell_quote(s: &str) -> String {
    format!("'{}'", s.replace('\'', "'\\''"))
}
