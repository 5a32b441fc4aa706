//! What vagrant-libvirt does on its own, as gen relies on it: the names it gives and the
//! network it makes. Facts from the plugin's source at 0.11.2 (Debian 12's `vagrant-libvirt`),
//! `lib/vagrant-libvirt/config.rb` and `action/*.rb`; a leaf, like `kubespray.rs`.

/// The libvirt connection gen's VMs live on: the system one, so that a VM is the server's,
/// survives the user's logout and is started by the unit at boot (`config.rb`, `_generate_uri`:
/// `qemu:///system` unless `qemu_use_session`).
pub const URI: &str = "qemu:///system";

/// The NAT network vagrant-libvirt makes (once per libvirtd) and gives every VM as its first
/// NIC, through which Vagrant reaches the guest: VirtualBox's NAT interface, with the same DHCP
/// default route the netplan override must win against (`config.rb`, `finalize!`:
/// `management_network_name`, `management_network_address`).
pub const MANAGEMENT_NETWORK: &str = "vagrant-libvirt";
pub const MANAGEMENT_CIDR: &str = "192.168.121.0/24";

/// Whether a VM leaves the management network alone when it is destroyed: yes, the network is the
/// server's, shared by its VMs. vagrant-libvirt records the network in a VM's data folder, and
/// undefines it when that VM is destroyed and no other domain is connected
/// (`destroy_networks.rb`): always when the VM made the network, and when it found it unless
/// `management_network_keep` (`create_networks.rb`, `write_created_network` unless
/// `always_destroy == false`; `util/network_util.rb`). So `apply.sh` makes the network before any
/// VM (`management_network_xml`) and every VM keeps it: otherwise a server whose last VM went
/// away would be fresh again, and a VM launched beside one being destroyed could lose its network.
pub const KEEP_MANAGEMENT_NETWORK: bool = true;

/// The management network as vagrant-libvirt would make it (`create_networks.rb`,
/// `templates/private_network.xml.erb`): NAT, the first address for the server, DHCP over the
/// rest; libvirt names the bridge.
pub fn management_network_xml() -> String {
    let net: ipnet::Ipv4Net = MANAGEMENT_CIDR.parse().expect("a constant network");
    let host = |n: u32| std::net::Ipv4Addr::from(u32::from(net.network()) + n);
    let last = std::net::Ipv4Addr::from(u32::from(net.broadcast()) - 1);
    format!(
        "<network>\n  <name>{MANAGEMENT_NETWORK}</name>\n  <forward mode=\"nat\"/>\n  \
         <ip address=\"{}\" netmask=\"{}\">\n    <dhcp>\n      \
         <range start=\"{}\" end=\"{last}\"/>\n    </dhcp>\n  </ip>\n</network>\n",
        host(1),
        net.netmask(),
        host(2),
    )
}

/// The storage pool vagrant-libvirt keeps box images and VM disks in (`storage_pool_name`).
pub const STORAGE_POOL: &str = "default";

/// Paravirtualized disk and NIC: what every KVM guest kernel has drivers for, and the fastest
/// under both KVM and software emulation.
pub const DISK_BUS: &str = "virtio";
pub const NIC_MODEL: &str = "virtio";

/// The volume vagrant-libvirt uploads a box's image into, once per box version, before it
/// makes the first VM's disk over it (`action/handle_box_image.rb`, `get_volume_name`, for the
/// box's single disk `box.img`). Two `vagrant up` of a fresh pool would both upload it: the
/// plugin guards that with a lock held only inside one Vagrant process, and gen runs one
/// Vagrant process per VM. `apply.sh` starts VMs side by side only once this volume is there.
pub fn box_volume(box_name: &str, box_version: &str) -> String {
    format!("{}_vagrant_box_image_{box_version}_box.img", box_name.replace('/', "-VAGRANTSLASH-"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_management_network_is_the_plugins_default() {
        let xml = management_network_xml();
        assert!(xml.contains("<name>vagrant-libvirt</name>"), "{xml}");
        assert!(xml.contains("<ip address=\"192.168.121.1\" netmask=\"255.255.255.0\">"), "{xml}");
        assert!(xml.contains("<range start=\"192.168.121.2\" end=\"192.168.121.254\"/>"), "{xml}");
    }

    /// The name the plugin gave the box volume when the libvirt test brought a VM up.
    #[test]
    fn the_box_volume_is_named_as_the_plugin_names_it() {
        assert_eq!(
            box_volume("bento/ubuntu-24.04", "202502.21.0"),
            "bento-VAGRANTSLASH-ubuntu-24.04_vagrant_box_image_202502.21.0_box.img"
        );
    }
}
