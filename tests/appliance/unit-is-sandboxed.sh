#!/bin/sh
# systemd/funkraum.service is as tight as systemd allows for a daemon that
# still does its whole job: `systemd-analyze security` scores it at most 1.5
# (printed), and `systemd-analyze verify` has nothing to say about any of
# the packaged units (it exits 0 even on unknown keys, so stderr is judged).
#
#   tests/appliance/unit-is-sandboxed.sh [FUNKRAUM_BINARY]
set -eu
repo=$(cd "$(dirname "$0")/../.." && pwd)
bin=${1:-$repo/target/release/funkraum}
[ -x "$bin" ] || bin=$repo/target/debug/funkraum
[ -x "$bin" ] || { echo "no funkraum binary (cargo build first)" >&2; exit 1; }
# ExecStart needs an absolute path (the Makefile passes target/… relative).
bin=$(realpath "$bin")
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
failed=0
passed=0

# verify checks that ExecStart exists: point it at the built binary.
for unit in funkraum.service funkraum-journal-vacuum.service funkraum-journal-vacuum.timer; do
    sed "s|/usr/bin/funkraum|$bin|" "$repo/systemd/$unit" > "$work/$unit"
done
for unit in funkraum.service funkraum-journal-vacuum.service funkraum-journal-vacuum.timer; do
    if (cd "$work" && systemd-analyze verify "./$unit") > "$work/verify.out" 2>&1 && [ ! -s "$work/verify.out" ]; then
        echo "ok      systemd-analyze verify $unit: silent"
        passed=$((passed + 1))
    else
        echo "FAILED  systemd-analyze verify $unit:"
        sed 's/^/        /' "$work/verify.out"
        failed=$((failed + 1))
    fi
done

(cd "$work" && systemd-analyze security --offline=true ./funkraum.service) > "$work/security.out" 2>&1 || true
score=$(sed -n 's/.*Overall exposure level for funkraum.service: \([0-9.]*\).*/\1/p' "$work/security.out")
echo "        exposure of funkraum.service (systemd-analyze security): $score"
if (cd "$work" && systemd-analyze security --offline=true --threshold=15 ./funkraum.service) >/dev/null 2>&1; then
    echo "ok      exposure $score is at most 1.5"
    passed=$((passed + 1))
else
    echo "FAILED  exposure $score is above 1.5; the items:"
    grep '✗' "$work/security.out" | sed 's/^/        /'
    failed=$((failed + 1))
fi

echo "unit: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
