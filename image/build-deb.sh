#!/bin/sh
# Builds funkraum_<version>_amd64.deb from a release binary with dpkg-deb
# (no debhelper, no network) and checks it with lintian.
#
#   image/build-deb.sh BINARY OUTDIR
#
# Prints the path of the .deb. Fails on any lintian error.
set -eu
binary=$1
outdir=$2
repo=$(cd "$(dirname "$0")/.." && pwd)
version=$(sed -n 's/^version = "\(.*\)"$/\1/p' "$repo/Cargo.toml" | head -n 1)
arch=$(dpkg --print-architecture)
deb="$outdir/funkraum_${version}_${arch}.deb"

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
root="$work/root"

install -d "$root/DEBIAN"
install -D -m 0755 "$binary" "$root/usr/bin/funkraum"
strip --strip-unneeded --remove-section=.comment --remove-section=.note "$root/usr/bin/funkraum"

# Units in /lib/systemd/system: Debian 12's place for packaged units.
install -D -m 0644 "$repo/systemd/funkraum.service" "$root/lib/systemd/system/funkraum.service"
install -m 0644 "$repo/systemd/funkraum-journal-vacuum.service" "$repo/systemd/funkraum-journal-vacuum.timer" \
    "$root/lib/systemd/system/"
install -D -m 0644 "$repo/systemd/journald-funkraum.conf" "$root/usr/lib/systemd/journald.conf.d/funkraum.conf"
install -D -m 0644 "$repo/systemd/sysctl-funkraum.conf" "$root/usr/lib/sysctl.d/60-funkraum.conf"

# Conffiles: the admin's to edit, kept on upgrade.
install -D -m 0644 "$repo/image/funkraum.toml" "$root/etc/funkraum/funkraum.toml"
# Executable like /etc/nftables.conf: `/etc/funkraum/funkraum.nft` loads it.
install -m 0755 "$repo/nftables/funkraum.nft" "$root/etc/funkraum/funkraum.nft"
printf '%s\n' /etc/funkraum/funkraum.toml /etc/funkraum/funkraum.nft > "$root/DEBIAN/conffiles"

doc="$root/usr/share/doc/funkraum"
install -d "$doc"
install -m 0644 "$repo/README.md" "$repo/PRIVACY.md" "$doc/"
for f in "$repo"/docs/*.md; do
    install -m 0644 "$f" "$doc/"
done
install -m 0644 "$repo/image/deb/copyright" "$doc/copyright"
# Debian's changelog format, dated by the last commit (reproducible).
date=$(git -C "$repo" log -1 --format=%cD 2>/dev/null || date -R)
commit=$(git -C "$repo" log -1 --format=%h 2>/dev/null || echo unknown)
cat > "$work/changelog" <<CHANGELOG
funkraum ($version) unstable; urgency=medium

  * Built from commit $commit of the funkraum repository.

 -- funkraum developers <maintainers@funkraum.invalid>  $date
CHANGELOG
gzip -9 -n -c "$work/changelog" > "$doc/changelog.gz"
chmod 0644 "$doc/changelog.gz"

for script in postinst prerm postrm; do
    install -m 0755 "$repo/image/deb/$script" "$root/DEBIAN/$script"
done

# Shared-library dependencies as dpkg-shlibdeps finds them.
mkdir -p "$work/src/debian"
printf 'Source: funkraum\n\nPackage: funkraum\nArchitecture: any\n' > "$work/src/debian/control"
shlibs=$(cd "$work/src" && dpkg-shlibdeps -O "$root/usr/bin/funkraum" 2>/dev/null | sed -n 's/^shlibs:Depends=//p')
size=$(du -k -s --exclude=DEBIAN "$root" | cut -f1)

cat > "$root/DEBIAN/control" <<CONTROL
Package: funkraum
Version: $version
Architecture: $arch
Maintainer: funkraum developers <maintainers@funkraum.invalid>
Installed-Size: $size
Depends: $shlibs, ca-certificates
Recommends: nftables
Section: net
Priority: optional
Description: privacy-first video conferencing for community networks
 funkraum is one hardened daemon that serves a browser client for video
 conferences, runs the signaling, forwards everyone's audio and video on a
 single UDP port (SFU) and keeps every piece of personal data in memory only.
 Participants need nothing but a current browser.
 .
 This package runs it as a sandboxed systemd service, keeps the journal in
 RAM with every entry gone within 24 hours, and ships an nftables ruleset
 for the ports it uses.
CONTROL

mkdir -p "$outdir"
dpkg-deb --root-owner-group -Zxz --build "$root" "$deb" >/dev/null
# Errors fail the build; warnings are shown.
lintian --fail-on error --suppress-tags no-manual-page "$deb" >&2
echo "$deb"
