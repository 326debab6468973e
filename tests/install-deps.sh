#!/bin/sh
# Installs the named Debian packages that are missing. As root it uses
# apt-get; otherwise it stops and names what is missing. Never skips.
set -eu
missing=""
for pkg in "$@"; do
    if ! dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed"; then
        missing="$missing $pkg"
    fi
done
[ -z "$missing" ] && exit 0
if [ "$(id -u)" -ne 0 ]; then
    echo "The tests need these Debian packages:$missing" >&2
    echo "Install them (sudo apt-get install$missing) and run again." >&2
    exit 1
fi
echo "Installing Debian packages:$missing" >&2
export DEBIAN_FRONTEND=noninteractive
# A mirror's dropped connection is retried, not a failed run.
apt-get update -qq -o Acquire::Retries=5 >&2
# shellcheck disable=SC2086
apt-get install -y -qq -o Acquire::Retries=5 --no-install-recommends $missing >&2
