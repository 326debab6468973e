#!/usr/bin/env bash
# str0m's own unit tests (`cargo test --lib`) on the published crate with
# funkraum.patch applied: the check that the patches keep str0m's behaviour
# (vendor/str0m/PATCHES.md). Not part of `make test` (it builds str0m a
# second time, ~3 min from clean).
#
#   vendor/str0m/test-upstream.sh [PATCH] [-- args for the test binary]
#   vendor/str0m/test-upstream.sh --regenerate   # rewrite funkraum.patch from src/
#
# PATCH defaults to funkraum.patch beside this script. The published crate
# is fetched once from crates.io (through cargo) into $STR0M_TESTS_DIR
# (default target/str0m-tests), copied, patched, adjusted for testing as
# PATCHES.md says, and tested there. Prints the "test result:" lines; exits
# non-zero if a test failed, 2 if the patch does not apply.
#
# Environment: STR0M_TESTS_DIR, STR0M_TESTS_JOBS (cargo -j, default 2).
set -euo pipefail

VENDOR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
HERE="${STR0M_TESTS_DIR:-$VENDOR/../../target/str0m-tests}"
mkdir -p "$HERE"
HERE="$(cd "$HERE" && pwd)"
PRISTINE="$HERE/pristine"
WORK="$HERE/work"
LOG="$HERE/last-run.log"
export CARGO_TARGET_DIR="$HERE/target"
VERSION=0.25.0

REGENERATE=""
PATCH_FILE="$VENDOR/funkraum.patch"
if [[ $# -gt 0 && "$1" == "--regenerate" ]]; then REGENERATE=1; shift; fi
if [[ $# -gt 0 && "$1" != "--" ]]; then PATCH_FILE="$1"; shift; fi
if [[ $# -gt 0 && "$1" == "--" ]]; then shift; fi

log() { echo "== $*" >&2; }

# --- 1. pristine copy of the published crate -------------------------------
if [[ ! -f "$PRISTINE/Cargo.toml" ]]; then
    log "fetching str0m $VERSION from crates.io into $PRISTINE"
    FETCHER="$HERE/fetcher"
    mkdir -p "$FETCHER/src"
    cat >"$FETCHER/Cargo.toml" <<EOF
[package]
name = "str0m-fetcher"
version = "0.0.0"
edition = "2021"
publish = false

[dependencies]
str0m = { version = "=$VERSION", default-features = false }

[workspace]
EOF
    echo 'fn main() {}' >"$FETCHER/src/main.rs"
    (cd "$FETCHER" && cargo fetch --quiet)
    CRATE="$(ls "${CARGO_HOME:-$HOME/.cargo}"/registry/cache/*/str0m-$VERSION.crate | head -n1)"
    rm -rf "$PRISTINE.tmp" && mkdir -p "$PRISTINE.tmp"
    tar -xzf "$CRATE" -C "$PRISTINE.tmp" --strip-components=1
    rm -rf "$PRISTINE" && mv "$PRISTINE.tmp" "$PRISTINE"
fi

if [[ -n "$REGENERATE" ]]; then
    # The patch is a `diff -ruN a/src b/src`: a = published, b = vendor/str0m.
    tmp="$(mktemp -d)"
    ln -s "$PRISTINE" "$tmp/a" && ln -s "$VENDOR" "$tmp/b"
    (cd "$tmp" && diff -ruN a/src b/src >"$VENDOR/funkraum.patch") || [[ $? == 1 ]]
    rm -rf "$tmp"
    log "wrote $VENDOR/funkraum.patch; checking that it reproduces src/"
    rm -rf "$WORK" && cp -a "$PRISTINE" "$WORK"
    (cd "$WORK" && patch -p1 -s --fuzz=0 <"$VENDOR/funkraum.patch")
    diff -r "$WORK/src" "$VENDOR/src" && log "reproduces vendor/str0m/src exactly"
    exit 0
fi

PATCH_FILE="$(realpath "$PATCH_FILE")"
[[ -f "$PATCH_FILE" ]] || { echo "test-upstream.sh: no patch file $PATCH_FILE" >&2; exit 2; }

# --- 2. fresh work copy, patched ---------------------------------------------
log "fresh copy in $WORK"
rm -rf "$WORK"
cp -a "$PRISTINE" "$WORK"
cd "$WORK"

PLEVEL=""
for p in 1 0 2 3; do
    if patch -p"$p" --dry-run --fuzz=0 --force -s <"$PATCH_FILE" >/dev/null 2>&1; then
        PLEVEL=$p; break
    fi
done
if [[ -z "$PLEVEL" ]]; then
    echo "test-upstream.sh: $PATCH_FILE does not apply cleanly (tried -p1/-p0/-p2/-p3, fuzz 0):" >&2
    patch -p1 --dry-run --fuzz=0 --force <"$PATCH_FILE" >&2 || true
    exit 2
fi
log "applying $PATCH_FILE with patch -p$PLEVEL"
patch -p"$PLEVEL" --fuzz=0 --force --no-backup-if-mismatch <"$PATCH_FILE" >&2

# --- 3. adjustments for testing (see vendor/str0m/PATCHES.md) -----------------
# Cargo.toml: no [[test]]/[[example]]/[[bench]]; only the aws-lc-rs crypto
# provider (str0m-rust-crypto 0.7 / str0m-openssl 0.7 are not on the mirror,
# Apple/Windows crypto crates dropped, their features left empty); dev-dependencies
# without str0m-netem (integration tests only), str0m-rust-crypto, rouille
# (examples only; the `examples` feature made empty) and systemstat.
awk '
    function drop_header(h) {
        return h ~ /^\[\[(test|example|bench)\]\]/ ||
               h ~ /^\[dependencies\.(str0m-openssl|str0m-rust-crypto)\]/ ||
               h ~ /^\[dev-dependencies\.(netem|str0m-netem|str0m-rust-crypto|str0m-openssl|rouille|systemstat)\]/ ||
               h ~ /^\[target\./
    }
    /^\[/ { skip = drop_header($0); features = ($0 == "[features]"); inkey = 0 }
    skip { next }
    features && /^[A-Za-z0-9_-]+ *=/ {
        key = $1
        inkey = (key ~ /^(apple-crypto|openssl|openssl-dimpl|rust-crypto|vendored|wincrypto|wincrypto-dimpl)$/)
        if (key == "examples") { print "examples = []"; inkey = 1 }
        if (inkey) {
            # kept as empty features so that `cfg(feature = ...)` stays known
            if (key != "examples") print key " = []"
            if ($0 ~ /\]/) inkey = 0
            next
        }
    }
    features && inkey { if ($0 ~ /\]/) inkey = 0; next }
    { print }
    END { print ""; print "[workspace]" }
' Cargo.toml >Cargo.toml.new
mv Cargo.toml.new Cargo.toml

# One test took `Duration` from systemstat (re-exported std Duration).
grep -q 'use systemstat::Duration;' src/bwe/loss_controller.rs ||
    log "warning: 'use systemstat::Duration;' not found in src/bwe/loss_controller.rs"
sed -i 's/use systemstat::Duration;/use std::time::Duration;/' src/bwe/loss_controller.rs
if grep -rn 'systemstat' src >&2; then
    echo "test-upstream.sh: systemstat still referenced in src" >&2; exit 2
fi

# --- 4. build and run the unit tests -----------------------------------------
log "cargo test --lib (CARGO_TARGET_DIR=$CARGO_TARGET_DIR, output in $LOG)"
[[ -n "${STR0M_TESTS_THREADS:-}" ]] && export RUST_TEST_THREADS="$STR0M_TESTS_THREADS"
set +e
nice -n 10 cargo test --lib -j "${STR0M_TESTS_JOBS:-2}" -- "$@" 2>&1 | tee "$LOG"
rc=${PIPESTATUS[0]}
set -e

echo
echo "==================== summary ===================="
if grep -q '^test result:' "$LOG"; then
    grep '^test result:' "$LOG"
    # names of failed tests, if any
    if grep -q '^failures:$' "$LOG"; then
        awk '/^failures:$/ {f++} f==2 && /^    / {print "FAILED:" $0}' "$LOG"
    fi
else
    echo "no test result (build failed?), cargo exit code $rc"
fi
exit "$rc"
