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

/// Whether the management network outlives the VM that made it: yes, it is the server's, shared by
/// its VMs. vagrant-libvirt otherwise records the network in every VM that uses it, made or found
/// (`create_networks.rb`: `write_created_network` unless `always_destroy == false`, which
/// `management_network_keep` sets in `util/network_util.rb`), and undefines it when such a VM is
/// destroyed and no other domain is connected (`destroy_networks.rb`): the server would be
/// fresh again, its next new VMs would come up one at a time, and a VM launched beside one being
/// destroyed could lose its network.
pub const KEEP_MANAGEMENT_NETWORK: bool = true;

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

    /// The name the plugin gave the box volume when the libvirt test brought a VM up.
    #[test]
    fn the_box_volume_is_named_as_the_plugin_names_it() {
        assert_eq!(
            box_volume("bento/ubuntu-24.04", "202502.21.0"),
            "bento-VAGRANTSLASH-ubuntu-24.04_vagrant_box_image_202502.21.0_box.img"
        );
    }
}
