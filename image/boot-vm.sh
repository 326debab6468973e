#!/bin/sh
# Boots a funkraum disk image in qemu, in the foreground, for tests (the
# boot test here, and the ansible role's tests).
#
#   image/boot-vm.sh DISK.raw SERIAL.log HOSTFWD...
#
# DISK is used and changed in place: give it a copy. HOSTFWD are qemu
# forwarding rules, e.g. tcp:127.0.0.1:2222-:22. User-mode networking with
# restrict=on: the guest reaches nothing but what is forwarded (and slirp
# drops UDP from the guest to the host, so only TCP forwards answer).
# UEFI (OVMF), TCG unless QEMU_ACCEL=kvm; ends after TIMEOUT seconds
# (default 1800) at the latest. Stop it with SIGTERM (timeout hands it to
# qemu).
set -eu
disk=$1
serial=$2
shift 2
here=$(cd "$(dirname "$0")" && pwd)
qemu=$("$here/qemu.sh")
# UEFI variables next to the disk (the caller's copy, the caller's to delete).
vars=$disk.efivars
cp /usr/share/OVMF/OVMF_VARS_4M.fd "$vars"
netdev="user,id=net0,restrict=on"
for rule in "$@"; do
    netdev="$netdev,hostfwd=$rule"
done
exec timeout "${TIMEOUT:-1800}" "$qemu" \
    -machine q35,accel="${QEMU_ACCEL:-tcg}" -cpu max -smp 2 -m 1024 -nodefaults -display none \
    -drive if=pflash,format=raw,readonly=on,file=/usr/share/OVMF/OVMF_CODE_4M.fd \
    -drive if=pflash,format=raw,file="$vars" \
    -drive file="$disk",format=raw,if=virtio \
    -netdev "$netdev" \
    -device virtio-net-pci,netdev=net0,romfile= \
    -serial file:"$serial"
