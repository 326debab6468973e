# Sourced by build-oci.sh and build-disk.sh (POSIX sh), with $deb (the
# funkraum .deb), $here (image/) and $image_kind (names the work directory)
# set. Gives them a work directory that is cleaned up on exit, never across
# a mount point, and debian_rootfs: the Debian 12 minbase both images start
# from, with the funkraum .deb installed.
#
# Environment: MIRROR, the Debian mirror (default http://deb.debian.org/debian).
# Downloaded packages are kept in image/out/apt-cache for the next build.

mirror=${MIRROR:-http://deb.debian.org/debian}
security_mirror=$(echo "$mirror" | sed 's|/debian$|/debian-security|')
cache=$here/out/apt-cache
mkdir -p "$cache"

work=$(mktemp -d "${TMPDIR:-/var/tmp}/funkraum-$image_kind.XXXXXX")
# Unmounts whatever is still mounted at or below $1 (mmdebstrap only warns
# when it cannot unmount a busy /proc in the tree).
unmount_below() {
    awk -v d="$1" '$2 == d || index($2, d "/") == 1 { print $2 }' /proc/mounts | sort -r |
        while read -r m; do umount "$m" 2>/dev/null || umount -l "$m"; done
}
# Never deletes across a mount point (the host's /dev or /proc).
cleanup() {
    unmount_below "$work"
    rm -rf --one-file-system "$work"
}
trap cleanup EXIT

# debian_rootfs DIR [mmdebstrap options...]: Debian 12 minbase in DIR
# without man pages, translations and docs (but copyrights and funkraum's
# own), the funkraum .deb installed; the options add packages and hooks,
# which run after the installation.
debian_rootfs() {
    target=$1
    shift
    mmdebstrap --variant=minbase --mode=root --format=directory \
        --aptopt='Acquire::Languages "none"' \
        --aptopt='Acquire::Retries "5"' \
        --dpkgopt='path-exclude=/usr/share/man/*' \
        --dpkgopt='path-exclude=/usr/share/locale/*' \
        --dpkgopt='path-exclude=/usr/share/doc/*' \
        --dpkgopt='path-include=/usr/share/doc/*/copyright' \
        --dpkgopt='path-include=/usr/share/doc/funkraum/*' \
        --skip=download/empty \
        --setup-hook='mkdir -p "$1"/var/cache/apt/archives/' \
        --setup-hook="sync-in $cache /var/cache/apt/archives/" \
        --customize-hook="sync-out /var/cache/apt/archives $cache" \
        --customize-hook='rm -f "$1"/var/cache/apt/archives/*.deb' \
        --customize-hook="upload $deb /tmp/funkraum.deb" \
        --customize-hook='chroot "$1" dpkg -i /tmp/funkraum.deb >/dev/null && rm "$1"/tmp/funkraum.deb' \
        "$@" \
        bookworm "$target" \
        "deb $mirror bookworm main" \
        "deb $mirror bookworm-updates main" \
        "deb $security_mirror bookworm-security main"
}
