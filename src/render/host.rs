//! The files of one VM server, under `hosts/<name>/`: each VM's Vagrantfile and netplan
//! override, the systemd units that run the VMs and keep VBoxSVC, `machines.toml`, and the
//! `apply.sh` that `gen apply` runs there.

use std::net::Ipv4Addr;

use askama::Template;

use super::{GUEST_USER, filters, text};
use crate::layout;
// The template unit's name is in `layout`; the unit of one VM is its instance.
use crate::layout::{unit_instance, unit_template};
use crate::libvirt;
use crate::site::{AuthorizedKey, Host, Label, Node, Provider, Site};
use crate::tree::{Tree, sha256_hex};

/// The netplan ID of the bridged NIC. The NIC is matched by MAC, so the ID need not be its name:
/// `eth1` on bento (whose Ubuntu boxes boot with `net.ifnames=0`) and generic boxes, `enp0s8`
/// on ubuntu/* ones.
const BRIDGED_NETPLAN_ID: &str = "bridged";

/// Metric of the guest's default route via the LAN gateway. networkd gives DHCP routes metric
/// 100, so the NAT NIC's default route stays as a fallback and this one wins.
const BRIDGED_ROUTE_METRIC: u32 = 10;

/// Vagrant's own per-VM limits (`config.vm.boot_timeout` default 300 s, `graceful_halt_timeout`
/// default 60 s), plus a margin for VirtualBox itself. A unit runs one VM.
const BOOT_SECONDS_PER_VM: u32 = 300 + 60;
const HALT_SECONDS_PER_VM: u32 = 60 + 30;
const UNIT_SECONDS_MARGIN: u32 = 120;

/// How long a VM's unit waits for `/dev/vboxdrv` before `vagrant up`: the node appears a moment
/// after vboxdrv.service or virtualbox.service loads the module; a driver that never comes
/// (a kernel update without rebuilt modules) fails the unit well inside its start timeout.
const DRIVER_WAIT_SECONDS: u32 = 60;
/// How long a libvirt VM's unit waits for its bridge before `vagrant up`: the bridge may come
/// up a moment after network-online.target.
const BRIDGE_WAIT_SECONDS: u32 = 60;
/// How long the VBoxSVC keeper waits for a VBoxSVC that runs already to quit: one started on
/// demand quits 5 s after its last client (server.cpp, `gShutdownDelayMs`), and one asked
/// with SIGUSR1 at once when idle; one that serves VMs never does.
const KEEPER_WAIT_SECONDS: u32 = 15;
/// How long the keeper waits, in tenths of a second, for its VBoxSVC to write its pid file.
const KEEPER_READY_TENTHS: u32 = 300;
/// Where both VirtualBox packages (Oracle's and Ubuntu's/Debian's `virtualbox`) install it.
const VBOXSVC: &str = "/usr/lib/virtualbox/VBoxSVC";

/// A locally administered unicast MAC built from the node's LAN address: deterministic, unique
/// wherever the addresses are (the LAN forbids duplicates anyway), and readable back to the IP.
fn bridged_mac(ip: Ipv4Addr) -> [u8; 6] {
    let [a, b, c, d] = ip.octets();
    [0x02, 0x00, a, b, c, d]
}

fn mac_colons(mac: [u8; 6]) -> String {
    mac.iter().map(|b| format!("{b:02x}")).collect::<Vec<_>>().join(":")
}

/// VBoxManage's `--macaddressN` form: twelve hex digits, no separators.
fn mac_vbox(mac: [u8; 6]) -> String {
    mac.iter().map(|b| format!("{b:02X}")).collect()
}

#[derive(Template)]
#[template(path = "Vagrantfile", escape = "none")]
struct Vagrantfile<'a> {
    cluster: &'a Label,
    host: &'a Label,
    node: &'a Label,
    role: &'static str,
    unit: String,
    box_name: &'a str,
    box_version: &'a str,
    bridge: &'a str,
    vm_name: String,
    ip: Ipv4Addr,
    mac: String,
    cpus: u32,
    memory_mb: u32,
    provider: ProviderBlock,
    netplan_source: &'static str,
    guest_netplan: &'static str,
    guest_user: &'static str,
    authorized_keys: &'a [AuthorizedKey],
}

/// What the Vagrantfile says of its provider, by provider.
enum ProviderBlock {
    /// `vb.linked_clone`.
    VirtualBox(bool),
    Libvirt(LibvirtBlock),
}

struct LibvirtBlock {
    uri: &'static str,
    prefix: String,
    driver: &'static str,
    disk_bus: &'static str,
    nic_model: &'static str,
    management_network: &'static str,
    management_cidr: &'static str,
    management_network_keep: bool,
}

/// Which provider's lines a unit or `apply.sh` has (their values are the views' fields).
#[derive(Clone, Copy)]
enum Which {
    VirtualBox,
    Libvirt,
}

fn which(provider: Provider) -> Which {
    match provider {
        Provider::VirtualBox => Which::VirtualBox,
        Provider::Libvirt { .. } => Which::Libvirt,
    }
}

/// The MAC of the bridged NIC as the provider's Vagrant option takes it.
fn provider_mac(provider: Provider, mac: [u8; 6]) -> String {
    match provider {
        Provider::VirtualBox => mac_vbox(mac),
        // vagrant-libvirt reads pairs of hex digits and joins them with colons
        // (create_network_interfaces.rb): the form libvirt's XML has.
        Provider::Libvirt { .. } => mac_colons(mac),
    }
}

#[derive(Template)]
#[template(path = "netplan.yaml", escape = "none")]
struct Netplan<'a> {
    node: &'a Label,
    id: &'static str,
    mac: String,
    address: String,
    gateway: Ipv4Addr,
    metric: u32,
    dns: &'a [Ipv4Addr],
}

#[derive(Template)]
#[template(path = "vagrant.service", escape = "none")]
struct Unit<'a> {
    cluster: &'a Label,
    host: &'a Label,
    description: String,
    user: &'a str,
    root: &'a str,
    provider: Which,
    /// The user's VBoxSVC keeper, which the VM's unit requires and starts after (VirtualBox).
    keeper: String,
    /// What the unit runs before `vagrant up` (`apply.sh preflight`).
    preflight: String,
    cwd: String,
    /// Vagrant's environment for the instance's VM (`layout::vagrant_environment`).
    environment: [(&'static str, String); 3],
    start_timeout: u32,
    stop_timeout: u32,
}

#[derive(Template)]
#[template(path = "vboxsvc.service", escape = "none")]
struct Keeper {
    /// A constant with the `%i` specifier, not escaped.
    description: &'static str,
    /// `RuntimeDirectory=`, below /run: the keeper's VBoxSVC writes its pid file there.
    runtime: &'static str,
    pidfile: &'static str,
    vboxsvc: &'static str,
    wait: u32,
    ready: u32,
}

#[derive(Template)]
#[template(path = "machines.toml", escape = "none")]
struct Machines<'a> {
    host: &'a Label,
    machines: Vec<MachineFacts<'a>>,
}

/// One VM's row of `machines.toml`.
struct MachineFacts<'a> {
    node: &'a Label,
    role: &'static str,
    vm_name: String,
    ip: Ipv4Addr,
    mac: String,
    bridge: &'a str,
    cpus: u32,
    memory_mb: u32,
    box_name: &'a str,
    box_version: &'a str,
    guest: String,
    provider: &'static str,
    /// Written for libvirt only: a VirtualBox server's rows are as before providers.
    libvirt_driver: Option<&'static str>,
}

#[derive(Template)]
#[template(path = "apply.sh", escape = "none")]
struct Apply<'a> {
    provider: Which,
    /// `vagrant box list`'s and `--provider`'s name of it.
    provider_word: &'static str,
    host: &'a Label,
    user: &'a str,
    root: &'a str,
    unit: String,
    /// The keeper's template unit and its instance for this user.
    keeper_template: &'static str,
    keeper: String,
    /// `<cluster>-vm@`: the instance unit is this, the node and `.service`.
    unit_prefix: String,
    /// Below the root: where the unit files are staged for `sudo -n install`.
    units_folder: &'static str,
    box_name: &'a str,
    box_version: &'a str,
    bridge: &'a str,
    driver_wait: u32,
    /// Vagrant's environment for VM `$node`, as shell words.
    vagrant_environment: [(&'static str, String); 3],
    bin_folder: &'static str,
    sudo: SudoLines,
    // libvirt's steps.
    uri: &'static str,
    pool: &'static str,
    pool_volume: String,
    management_network: &'static str,
    management_network_xml: String,
    bridge_wait: u32,
}

/// The lines of `apply.sh` that run as root, each written by `sudo.rs` (which also checks and
/// names them in the sudoers line).
struct SudoLines {
    install: String,
    install_keeper: String,
    start_keeper: String,
    remove: String,
    daemon_reload: String,
    enable_now: String,
    restart: String,
    stop: String,
    disable_now: String,
    enable_queued: String,
    start: String,
}

impl SudoLines {
    fn of(root: &crate::sudo::Root, template: &str) -> SudoLines {
        use crate::sudo::Command;
        SudoLines {
            install: root.shell(&Command::Install(template)),
            install_keeper: root.shell(&Command::Install(layout::KEEPER_TEMPLATE)),
            start_keeper: root.shell(&Command::StartKeeper),
            remove: root.shell(&Command::Remove(template)),
            daemon_reload: root.shell(&Command::DaemonReload),
            enable_now: root.shell(&Command::EnableNow(None)),
            restart: root.shell(&Command::Restart(None)),
            stop: root.shell(&Command::Stop(None)),
            disable_now: root.shell(&Command::DisableNow(None)),
            enable_queued: root.shell(&Command::EnableQueued(None)),
            start: root.shell(&Command::Start(None)),
        }
    }
}

/// What a VM's provisioners put into the guest: its netplan override and the authorized keys.
/// A change of these alone provisions the running VM; nothing else about it changes.
fn guest_hash(netplan: &str, keys: &[AuthorizedKey]) -> String {
    let mut bytes = sha256_hex(netplan.as_bytes());
    for key in keys {
        bytes.push('\n');
        bytes.push_str(&key.to_string());
    }
    sha256_hex(bytes.as_bytes())
}

pub(super) fn render_host(site: &Site, host: &Host, nodes: &[&Node], tree: &mut Tree) {
    let base = layout::host_dir(host.name.as_str());
    let unit = unit_template(&site.cluster);
    let mut machines = Vec::new();
    for n in nodes {
        let mac = bridged_mac(n.ip);
        let netplan = Netplan {
            node: &n.name,
            id: BRIDGED_NETPLAN_ID,
            mac: mac_colons(mac),
            address: format!("{}/{}", n.ip, site.network.cidr.prefix_len()),
            gateway: site.network.gateway,
            metric: BRIDGED_ROUTE_METRIC,
            dns: &site.network.dns,
        };
        let netplan = text(&netplan);
        tree.insert_text(format!("{base}/{}", layout::netplan(n.name.as_str())), &netplan);
        let vm_name = layout::vm_name(&site.cluster, n.name.as_str());
        let provider = match host.provider {
            Provider::VirtualBox => ProviderBlock::VirtualBox(site.vagrant.linked_clone),
            Provider::Libvirt { driver } => ProviderBlock::Libvirt(LibvirtBlock {
                uri: libvirt::URI,
                prefix: layout::libvirt_prefix(&site.cluster),
                driver: driver.word(),
                disk_bus: libvirt::DISK_BUS,
                nic_model: libvirt::NIC_MODEL,
                management_network: libvirt::MANAGEMENT_NETWORK,
                management_cidr: libvirt::MANAGEMENT_CIDR,
                management_network_keep: libvirt::KEEP_MANAGEMENT_NETWORK,
            }),
        };
        let vagrantfile = Vagrantfile {
            cluster: &site.cluster,
            host: &host.name,
            node: &n.name,
            role: n.role.word(),
            unit: unit_instance(&site.cluster, n.name.as_str()),
            box_name: &site.vagrant.box_name,
            box_version: &site.vagrant.box_version,
            bridge: &host.bridge,
            vm_name: vm_name.clone(),
            ip: n.ip,
            mac: provider_mac(host.provider, mac),
            cpus: n.cpus,
            memory_mb: n.memory_mb,
            provider,
            netplan_source: layout::NETPLAN,
            guest_netplan: layout::GUEST_NETPLAN_PATH,
            guest_user: GUEST_USER,
            authorized_keys: &site.vagrant.authorized_keys,
        };
        tree.insert_text(
            format!("{base}/{}", layout::vagrantfile(n.name.as_str())),
            &text(&vagrantfile),
        );
        machines.push(MachineFacts {
            node: &n.name,
            role: n.role.word(),
            vm_name,
            ip: n.ip,
            mac: mac_colons(mac),
            bridge: &host.bridge,
            cpus: n.cpus,
            memory_mb: n.memory_mb,
            box_name: &site.vagrant.box_name,
            box_version: &site.vagrant.box_version,
            guest: guest_hash(&netplan, &site.vagrant.authorized_keys),
            provider: host.provider.word(),
            libvirt_driver: match host.provider {
                Provider::VirtualBox => None,
                Provider::Libvirt { driver } => Some(driver.word()),
            },
        });
    }
    if !nodes.is_empty() {
        let root = host.root.as_str();
        let unit_file = Unit {
            cluster: &site.cluster,
            host: &host.name,
            description: format!("Vagrant VM %i of cluster {} on {}", site.cluster, host.name),
            user: &host.user,
            root,
            provider: which(host.provider),
            keeper: layout::keeper_instance(host.user.as_str()),
            preflight: layout::server_current_entrypoint(root),
            cwd: layout::server_vm_dir(root, "%i"),
            environment: layout::vagrant_environment(root, "%i"),
            start_timeout: UNIT_SECONDS_MARGIN + BOOT_SECONDS_PER_VM,
            stop_timeout: UNIT_SECONDS_MARGIN + HALT_SECONDS_PER_VM,
        };
        tree.insert_text(format!("{base}/{}", layout::unit_file(&site.cluster)), &text(&unit_file));
        let keeper = Keeper {
            description: "VirtualBox's VBoxSVC of %i, kept running for its VMs (gen)",
            runtime: "gen-vboxsvc-%i",
            pidfile: "/run/gen-vboxsvc-%i/VBoxSVC.pid",
            vboxsvc: VBOXSVC,
            wait: KEEPER_WAIT_SECONDS,
            ready: KEEPER_READY_TENTHS,
        };
        if host.provider == Provider::VirtualBox {
            tree.insert_text(format!("{base}/{}", layout::keeper_file()), &text(&keeper));
        }
    }
    let facts = Machines { host: &host.name, machines };
    tree.insert_text(format!("{base}/{}", layout::MACHINES), &text(&facts));
    let sudo_root = crate::sudo::Root {
        root: host.root.as_str(),
        cluster: &site.cluster,
        user: host.user.as_str(),
        provider: host.provider,
    };
    let apply = Apply {
        provider: which(host.provider),
        provider_word: host.provider.word(),
        uri: libvirt::URI,
        pool: libvirt::STORAGE_POOL,
        pool_volume: libvirt::box_volume(&site.vagrant.box_name, &site.vagrant.box_version),
        management_network: libvirt::MANAGEMENT_NETWORK,
        management_network_xml: libvirt::management_network_xml(),
        bridge_wait: BRIDGE_WAIT_SECONDS,
        host: &host.name,
        user: &host.user,
        root: &host.root,
        unit_prefix: unit.trim_end_matches(".service").to_string(),
        units_folder: layout::SERVER_UNITS,
        box_name: &site.vagrant.box_name,
        box_version: &site.vagrant.box_version,
        bridge: &host.bridge,
        driver_wait: DRIVER_WAIT_SECONDS,
        vagrant_environment: layout::vagrant_environment("$root", "$node"),
        bin_folder: layout::SERVER_BIN,
        sudo: SudoLines::of(&sudo_root, &unit),
        keeper_template: layout::KEEPER_TEMPLATE,
        keeper: layout::keeper_instance(host.user.as_str()),
        unit,
    };
    tree.insert_text(format!("{base}/{}", layout::APPLY), &text(&apply));
}
