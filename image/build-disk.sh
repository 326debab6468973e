#!/bin/sh
# Builds the bootable funkraum appliance: a GPT disk image (raw and qcow2)
# with Debian 12, systemd-boot, the funkraum .deb, journald in RAM, the
# nftables ruleset active, SSH with keys only.
#
#   image/build-disk.sh DEB OUTDIR
#
# Environment:
#   SSH_PUBKEY   a public key (the key text or a file) for root's SSH login;
#                empty: none (put one on the FUNKRAUM partition instead)
#   ROOT_SIZE    size of the root file system (default 2G)
#   MIRROR       Debian mirror (default http://deb.debian.org/debian)
#
# Partitions: 1 EFI system (FAT32, 256 MiB: systemd-boot, kernel, initrd),
# 2 FUNKRAUM (FAT, 16 MiB: funkraum.toml and authorized_keys for the first
# boot, see image/disk/config-partition/README.txt), 3 root (ext4, last, so
# it can grow). Made without loop devices or mounts: mkfs.ext4 -d, mtools,
# sfdisk on a file. Needs root (mmdebstrap, file ownership).
set -eu
deb=$(realpath "$1")
outdir=$(mkdir -p "$2" && realpath "$2")
here=$(cd "$(dirname "$0")" && pwd)
disk=$here/disk
root_size=${ROOT_SIZE:-2G}
image_kind=disk
. "$here/debian-rootfs.sh"
rootfs=$work/rootfs

# SSH key: the text itself or a file holding it.
keys=$work/authorized_keys
: > "$keys"
if [ -n "${SSH_PUBKEY:-}" ]; then
    if [ -f "$SSH_PUBKEY" ]; then cat "$SSH_PUBKEY" > "$keys"; else printf '%s\n' "$SSH_PUBKEY" > "$keys"; fi
    grep -q '^\(ssh-\|ecdsa-\|sk-\)' "$keys" || { echo "SSH_PUBKEY is not an SSH public key" >&2; exit 1; }
else
    echo "note: no SSH_PUBKEY given; put authorized_keys on the FUNKRAUM partition to log in" >&2
fi

esp_uuid=$(cat /proc/sys/kernel/random/uuid)
cfg_uuid=$(cat /proc/sys/kernel/random/uuid)
root_uuid=$(cat /proc/sys/kernel/random/uuid)

start=$(date +%s)
debian_rootfs "$rootfs" \
    --include=systemd,systemd-sysv,systemd-resolved,systemd-timesyncd,udev,dbus,kmod \
    --include=linux-image-amd64,initramfs-tools,systemd-boot-efi \
    --include=openssh-server,nftables,ca-certificates,iproute2,procps,curl,less \
    --include=e2fsprogs,dosfstools,python3-minimal,python3-apt \
    --dpkgopt='path-include=/usr/share/locale/locale.alias' \
    --customize-hook="sync-in $disk/overlay /" \
    --customize-hook="upload $keys /root/.ssh/authorized_keys" \
    --customize-hook="$disk/configure-rootfs.sh \"\$1\" $esp_uuid $cfg_uuid $root_uuid"
echo "rootfs built in $(( $(date +%s) - start )) s" >&2
unmount_below "$rootfs"

# EFI system partition: everything staged under /boot/efi.
mkfs.vfat -F 32 -n ESP -C "$work/esp.img" $((256 * 1024)) >/dev/null
mcopy -s -i "$work/esp.img" "$rootfs"/boot/efi/* ::/
rm -rf "$rootfs"/boot/efi/*

# FUNKRAUM partition: the packaged config to edit, keys, a README.
mkfs.vfat -n FUNKRAUM -C "$work/cfg.img" $((16 * 1024)) >/dev/null
mcopy -i "$work/cfg.img" "$rootfs/etc/funkraum/funkraum.toml" "$disk/config-partition/README.txt" ::/
[ -s "$keys" ] && mcopy -i "$work/cfg.img" "$keys" ::/authorized_keys

# Root file system from the directory, no mount needed.
mkfs.ext4 -q -F -L funkraum-root -d "$rootfs" "$work/root.img" "$root_size"

# GPT: 1 MiB alignment; sizes in 512-byte sectors.
esp_sectors=$((256 * 2048))
cfg_sectors=$((16 * 2048))
root_sectors=$(( $(stat -c %s "$work/root.img") / 512 ))
esp_start=2048
cfg_start=$((esp_start + esp_sectors))
root_start=$((cfg_start + cfg_sectors))
total=$(( (root_start + root_sectors + 2048) * 512 ))
raw=$outdir/funkraum.raw
rm -f "$raw"
truncate -s "$total" "$raw"
sfdisk -q "$raw" <<PARTITIONS
label: gpt
start=$esp_start, size=$esp_sectors, type=C12A7328-F81F-11D2-BA4B-00A0C93EC93B, uuid=$esp_uuid, name="esp"
start=$cfg_start, size=$cfg_sectors, type=EBD0A0A2-B9E5-4433-87C0-68B6B72699C7, uuid=$cfg_uuid, name="funkraum-config"
start=$root_start, size=$root_sectors, type=4F68BCE3-E8CD-4DB1-96E7-FBCAF984B709, uuid=$root_uuid, name="root"
PARTITIONS
dd if="$work/esp.img" of="$raw" bs=512 seek=$esp_start conv=notrunc,sparse status=none
dd if="$work/cfg.img" of="$raw" bs=512 seek=$cfg_start conv=notrunc,sparse status=none
dd if="$work/root.img" of="$raw" bs=1M seek=$((root_start / 2048)) conv=notrunc,sparse status=none

qemu-img convert -c -O qcow2 "$raw" "$outdir/funkraum.qcow2"
echo "disk image built in $(( $(date +%s) - start )) s" >&2
echo "$raw"
echo "$outdir/funkraum.qcow2"
