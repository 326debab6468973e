#!/bin/sh
# Builds the funkraum OCI image without a container daemon: a Debian 12
# minbase root file system (mmdebstrap) with the funkraum .deb installed,
# packed by umoci, written as an OCI archive by skopeo.
#
#   image/build-oci.sh DEB OUTDIR      -> OUTDIR/funkraum-oci.tar
#
# The image runs /usr/bin/funkraum as user funkraum (uid 10001) with
# image/container.toml as /etc/funkraum/funkraum.toml; /etc/funkraum,
# /var/lib/funkraum (TLS state) and /run/funkraum (error log: mount a
# tmpfs) are volumes; HTTPS on 8443 (a self-signed certificate unless the
# config says otherwise), and a health check fetches /healthz there
# (curl -k: the certificate may be self-signed). Needs root.
set -eu
deb=$(realpath "$1")
outdir=$(mkdir -p "$2" && realpath "$2")
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/.." && pwd)
version=$(sed -n 's/^version = "\(.*\)"$/\1/p' "$repo/Cargo.toml" | head -n 1)
uid=10001
image_kind=oci
. "$here/debian-rootfs.sh"
start=$(date +%s)

umoci init --layout "$work/layout"
umoci new --image "$work/layout:funkraum"
umoci unpack --image "$work/layout:funkraum" "$work/bundle" >/dev/null
rmdir "$work/bundle/rootfs"

debian_rootfs "$work/bundle/rootfs" \
    --include=ca-certificates,curl \
    --customize-hook="upload $repo/image/container.toml /etc/funkraum/funkraum.toml" \
    --customize-hook="echo 'funkraum:x:$uid:$uid:funkraum:/nonexistent:/usr/sbin/nologin' >> \"\$1\"/etc/passwd" \
    --customize-hook="echo 'funkraum:x:$uid:' >> \"\$1\"/etc/group" \
    --customize-hook="install -d -m 0700 -o $uid -g $uid \"\$1\"/var/lib/funkraum \"\$1\"/run/funkraum" \
    --customize-hook='rm -rf "$1"/var/lib/apt/lists/* "$1"/var/log/*.log "$1"/var/cache/debconf/*-old "$1"/etc/machine-id' \
    2>"$work/mmdebstrap.log" || {
        cat "$work/mmdebstrap.log" >&2
        exit 1
    }
unmount_below "$work/bundle/rootfs"
# The container has no systemd: nothing of the units is used, but the
# files stay as the .deb installed them.

umoci repack --image "$work/layout:funkraum" "$work/bundle"
created=$(git -C "$repo" log -1 --format=%cI 2>/dev/null || date -Iseconds)
umoci config --image "$work/layout:funkraum" \
    --author="funkraum developers" \
    --created="$created" \
    --config.user="$uid:$uid" \
    --config.entrypoint=/usr/bin/funkraum \
    --config.cmd=--config --config.cmd=/etc/funkraum/funkraum.toml \
    --config.workingdir=/ \
    --config.exposedports=8443/tcp \
    --config.exposedports=10000/udp \
    --config.exposedports=3478/udp \
    --config.exposedports=3478/tcp \
    --config.volume=/etc/funkraum \
    --config.volume=/var/lib/funkraum \
    --config.volume=/run/funkraum \
    --config.stopsignal=SIGTERM \
    --config.label="org.opencontainers.image.title=funkraum" \
    --config.label="org.opencontainers.image.description=Privacy-first video conferencing for community networks" \
    --config.label="org.opencontainers.image.version=$version" \
    --config.label="org.opencontainers.image.documentation=/usr/share/doc/funkraum/operating.md" \
    --history.comment="funkraum $version on Debian 12 minbase"
# OCI image configs have no health check field; Docker and Podman read
# Docker's "Healthcheck" from the config, so it is added there.
python3 "$here/oci-healthcheck.py" "$work/layout" funkraum \
    curl -fsSk --max-time 5 -o /dev/null https://127.0.0.1:8443/healthz
umoci gc --layout "$work/layout"

rm -f "$outdir/funkraum-oci.tar"
skopeo copy --quiet "oci:$work/layout:funkraum" "oci-archive:$outdir/funkraum-oci.tar:funkraum:$version"
echo "OCI image built in $(( $(date +%s) - start )) s" >&2
echo "$outdir/funkraum-oci.tar"
