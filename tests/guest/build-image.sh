#!/usr/bin/env bash
# Builds the Debian 12 guest that tests/suite/guest.rs boots under qemu: a stand-in for the bento
# box, from Debian's packages only. It has what the provisioners and kubespray's ansible rely on in
# the box: systemd (networkd, udev), netplan.io with DHCP on eth0 in /etc/netplan/01-netcfg.yaml
# (bento's file; the kernel boots with net.ifnames=0, so the NICs are eth0 and eth1),
# openssh-server, sudo, python3, and a `vagrant` user with passwordless sudo whose
# authorized_keys holds a key made here (what the box's insecure key is to Vagrant).
#
# usage: build-image.sh OUT_DIR
# Writes OUT_DIR/{vmlinuz,initrd.img,root.img,box_key,box_key.pub,host_key.pub}; root.img is a raw ext4 file
# system (no partition table: the kernel mounts /dev/vda). The test calls this when its cache
# folder (keyed by this file's hash, so by the package list) is absent, and renames the finished
# folder into place, so an interrupted build is never reused.
set -euo pipefail

out=${1:?usage: build-image.sh OUT_DIR}
mirror=${GEN_GUEST_MIRROR:-http://deb.debian.org/debian}
mkdir -p "$out"
root=$(mktemp -d "$out/rootfs.XXXXXX")
trap 'rm -rf "$root"' EXIT

packages=(
    # Debian's kernel for virtual machines: virtio drivers, a fraction of the modules.
    linux-image-cloud-amd64 initramfs-tools
    systemd systemd-sysv udev dbus
    netplan.io iproute2
    openssh-server sudo python3
)

ssh-keygen -q -t ed25519 -N '' -C 'gen guest box key' -f "$out/box_key"

# minbase plus the list above; no docs or man pages. The initramfs holds only what mounts the
# root file system (virtio disk, ext4): unpacking a full one is a minute of emulated boot.
# The hooks are run by mmdebstrap's shell, with the root folder as $1.
# shellcheck disable=SC2016
mmdebstrap --mode=root --variant=minbase --quiet \
    --setup-hook='mkdir -p "$1/etc/initramfs-tools/conf.d"' \
    --setup-hook='echo MODULES=list >"$1/etc/initramfs-tools/conf.d/gen-guest.conf"' \
    --setup-hook='printf "virtio_pci\nvirtio_blk\next4\n" >"$1/etc/initramfs-tools/modules"' \
    --include="$(IFS=,; echo "${packages[*]}")" \
    --dpkgopt='path-exclude=/usr/share/man/*' \
    --dpkgopt='path-exclude=/usr/share/doc/*' \
    --dpkgopt='path-exclude=/usr/share/locale/*' \
    --dpkgopt='path-exclude=/usr/share/info/*' \
    bookworm "$root" "$mirror"

echo vagrant >"$root/etc/hostname"
printf '127.0.0.1 localhost\n127.0.1.1 vagrant\n' >"$root/etc/hosts"
printf '/dev/vda / ext4 rw,errors=remount-ro 0 1\n' >"$root/etc/fstab"
chroot "$root" useradd --create-home --shell /bin/bash vagrant
printf 'vagrant ALL=(ALL) NOPASSWD:ALL\n' >"$root/etc/sudoers.d/vagrant"
chmod 0440 "$root/etc/sudoers.d/vagrant"
install -d -m 0700 "$root/home/vagrant/.ssh"
cp "$out/box_key.pub" "$root/home/vagrant/.ssh/authorized_keys"
chroot "$root" chown -R vagrant:vagrant /home/vagrant/.ssh
install -d "$root/etc/netplan"
printf 'network:\n  version: 2\n  ethernets:\n    eth0:\n      dhcp4: true\n' >"$root/etc/netplan/01-netcfg.yaml"
chmod 0600 "$root/etc/netplan/01-netcfg.yaml"
chroot "$root" systemctl enable systemd-networkd.service
# Timers that would compete for the emulated CPU during a test and change nothing it checks.
chroot "$root" systemctl mask apt-daily.timer apt-daily-upgrade.timer e2scrub_all.timer fstrim.timer
# Boot units that load kernel modules or mount kernel file systems nothing here uses (device
# mapper, DRM, pstore, fuse, loop, configfs; debugfs, tracefs, hugetlbfs, mqueue): each costs
# 2-4 s of the emulated CPU at every boot (systemd-analyze blame in the guest), and none touches
# the network.
chroot "$root" systemctl mask modprobe@dm_mod.service modprobe@drm.service \
    modprobe@efi_pstore.service modprobe@fuse.service modprobe@loop.service \
    modprobe@configfs.service kmod-static-nodes.service sys-kernel-debug.mount \
    sys-kernel-tracing.mount dev-hugepages.mount dev-mqueue.mount sys-kernel-config.mount \
    sys-fs-fuse-connections.mount
# The host key openssh-server's postinst made: the test pins it in its known_hosts.
cp "$root/etc/ssh/ssh_host_ed25519_key.pub" "$out/host_key.pub"
kernels=("$root"/boot/vmlinuz-*)
cp "${kernels[0]}" "$out/vmlinuz"
cp "$root/boot/initrd.img-${kernels[0]#"$root"/boot/vmlinuz-}" "$out/initrd.img"

# 3 GiB sparse; about 0.6 GiB used.
mke2fs -q -t ext4 -L root -d "$root" "$out/root.img" 3G
