#!/bin/sh
# Called by build-disk.sh as an mmdebstrap customize hook, after the
# packages, the funkraum .deb and overlay/ are in place:
#   configure-rootfs.sh ROOTFS ESP_PARTUUID CONFIG_PARTUUID ROOT_PARTUUID
set -eu
root=$1
esp=$2
cfg=$3
rootpart=$4

echo funkraum > "$root/etc/hostname"
cat > "$root/etc/hosts" <<HOSTS
127.0.0.1	localhost
127.0.1.1	funkraum
::1		localhost ip6-localhost ip6-loopback
HOSTS

cat > "$root/etc/fstab" <<FSTAB
# The appliance's partitions, by GPT partition UUID.
PARTUUID=$rootpart	/		ext4	errors=remount-ro,x-systemd.growfs	0 1
PARTUUID=$esp	/boot/efi	vfat	umask=0077,nofail	0 2
# The FUNKRAUM partition: settings for the first boot (funkraum-import-config).
PARTUUID=$cfg	/boot/funkraum	vfat	ro,umask=0077,nofail,x-systemd.device-timeout=60s	0 0
FSTAB
mkdir -p "$root/boot/efi" "$root/boot/funkraum"

# systemd-boot with one entry; funkraum-esp-sync keeps vmlinuz/initrd.img
# on the ESP at the newest installed kernel.
efi=$root/boot/efi
mkdir -p "$efi/EFI/BOOT" "$efi/EFI/systemd" "$efi/loader/entries"
cp "$root/usr/lib/systemd/boot/efi/systemd-bootx64.efi" "$efi/EFI/BOOT/BOOTX64.EFI"
cp "$root/usr/lib/systemd/boot/efi/systemd-bootx64.efi" "$efi/EFI/systemd/systemd-bootx64.efi"
cat > "$efi/loader/loader.conf" <<LOADER
default funkraum.conf
timeout 0
editor no
LOADER
cat > "$efi/loader/entries/funkraum.conf" <<ENTRY
title   funkraum appliance (Debian 12)
linux   /vmlinuz
initrd  /initrd.img
options root=PARTUUID=$rootpart ro console=tty0 console=ttyS0,115200n8
ENTRY
chroot "$root" env ESP=/boot/efi /usr/local/sbin/funkraum-esp-sync

# Network: systemd-networkd (DHCP on every wired interface) and resolved.
chroot "$root" systemctl enable systemd-networkd.service systemd-resolved.service \
    nftables.service ssh.service funkraum-import-config.service >/dev/null 2>&1
chroot "$root" systemctl is-enabled funkraum.service funkraum-journal-vacuum.timer >/dev/null
ln -sf ../run/systemd/resolve/stub-resolv.conf "$root/etc/resolv.conf"

# SSH: keys for root only; every machine makes its own host keys.
chmod 0700 "$root/root/.ssh"
chmod 0600 "$root/root/.ssh/authorized_keys"
rm -f "$root"/etc/ssh/ssh_host_*

# A new machine id at first boot; nothing of the build left behind.
echo uninitialized > "$root/etc/machine-id"
rm -f "$root/var/lib/dbus/machine-id"
rm -rf "$root"/var/lib/apt/lists/* "$root"/var/log/journal/* "$root"/tmp/*
find "$root/var/log" -type f -delete
