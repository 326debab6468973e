#!/bin/sh
# Prints the path of a qemu-system-x86_64 wrapper to boot the disk image
# with (it sets the firmware directory and the module directory).
#
# Debian's qemu-system-x86 package would replace a newer qemu-utils on this
# kind of machine, so it is not installed: its .deb files are downloaded
# with apt-get and unpacked into image/out/qemu (once). The shared
# libraries it needs and the UEFI firmware (ovmf) are ordinary packages,
# installed by tests/install-deps.sh.
set -eu
repo=$(cd "$(dirname "$0")/.." && pwd)
dir=$repo/image/out/qemu
if [ ! -x "$dir/usr/bin/qemu-system-x86_64" ]; then
    # The libraries qemu-system-x86 links against, and the firmware.
    "$repo/tests/install-deps.sh" ovmf seabios ipxe-qemu libaio1 libbpf1 libcapstone4 \
        libfdt1 libfuse3-3 libibverbs1 libjpeg62-turbo libnuma1 libpixman-1-0 libpmem1 \
        librdmacm1 libsasl2-2 libslirp0 liburing2 libvdeplug2 libglib2.0-0 libgnutls30 \
        libpng16-16 libseccomp2 libzstd1 >&2
    download=$(mktemp -d)
    (cd "$download" && apt-get -o Acquire::Retries=5 download qemu-system-x86 qemu-system-data qemu-system-common >&2) || {
        apt-get update -qq -o Acquire::Retries=5 >&2
        (cd "$download" && apt-get -o Acquire::Retries=5 download qemu-system-x86 qemu-system-data qemu-system-common >&2)
    }
    rm -rf "$dir.tmp"
    mkdir -p "$dir.tmp"
    for deb in "$download"/*.deb; do
        dpkg-deb -x "$deb" "$dir.tmp"
    done
    # Accelerators (TCG too) are modules, looked for in /usr/lib unless told.
    cat > "$dir.tmp/qemu-system-x86_64" <<WRAPPER
#!/bin/sh
QEMU_MODULE_DIR=$dir/usr/lib/x86_64-linux-gnu/qemu exec $dir/usr/bin/qemu-system-x86_64 -L $dir/usr/share/qemu "\$@"
WRAPPER
    chmod 0755 "$dir.tmp/qemu-system-x86_64"
    rm -rf "$download" "$dir"
    mv "$dir.tmp" "$dir"
fi
echo "$dir/qemu-system-x86_64"
