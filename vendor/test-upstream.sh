#!/usr/bin/env bash
# A vendored crate's own unit tests (`cargo test --lib`) on the published
# crate with the crate's funkraum.patch applied: the check that the patches
# keep its behaviour (vendor/<crate>/PATCHES.md). Not part of `make test`
# (it builds the crate a second time, ~3 min from clean for str0m).
#
#   vendor/test-upstream.sh CRATE [PATCH] [-- args for the test binary]
#   vendor/test-upstream.sh CRATE --regenerate   # rewrite funkraum.patch from src/
#
# CRATE is a directory under vendor/ (str0m, is); its version is the one in
# vendor/CRATE/Cargo.toml. PATCH defaults to vendor/CRATE/funkraum.patch.
# The published crate is fetched once from crates.io (through cargo) into
# $UPSTREAM_TESTS_DIR/CRATE (default target/upstream-tests/CRATE), copied,
# patched, adjusted for testing as the crate's PATCHES.md says, and tested
# there. Prints the "test result:" lines; exits non-zero if a test failed,
# 2 if the patch does not apply.
#
# Environment: UPSTREAM_TESTS_DIR, UPSTREAM_TESTS_JOBS (cargo -j, default 2),
# UPSTREAM_TESTS_THREADS (test threads).
set -euo pipefail

[[ $# -gt 0 ]] || { echo "usage: vendor/test-upstream.sh CRATE [--regenerate | PATCH] [-- test args]" >&2; exit 2; }
NAME="$1"; shift
VENDOR="$(cd "$(dirname "${BASH_SOURCE[0]}")/$NAME" 2>/dev/null && pwd)" ||
    { echo "test-upstream.sh: no vendored crate vendor/$NAME" >&2; exit 2; }
VERSION="$(sed -n 's/^version = "\(.*\)"$/\1/p' "$VENDOR/Cargo.toml" | head -n1)"
HERE="${UPSTREAM_TESTS_DIR:-$VENDOR/../../target/upstream-tests}/$NAME"
mkdir -p "$HERE"
HERE="$(cd "$HERE" && pwd)"
PRISTINE="$HERE/pristine"
WORK="$HERE/work"
LOG="$HERE/last-run.log"
export CARGO_TARGET_DIR="$HERE/target"

REGENERATE=""
PATCH_FILE="$VENDOR/funkraum.patch"
if [[ $# -gt 0 && "$1" == "--regenerate" ]]; then REGENERATE=1; shift; fi
if [[ $# -gt 0 && "$1" != "--" ]]; then PATCH_FILE="$1"; shift; fi
if [[ $# -gt 0 && "$1" == "--" ]]; then shift; fi

log() { echo "== $*" >&2; }

# --- 1. pristine copy of the published crate -------------------------------
if [[ ! -f "$PRISTINE/Cargo.toml" ]]; then
    log "fetching $NAME $VERSION from crates.io into $PRISTINE"
    FETCHER="$HERE/fetcher"
    mkdir -p "$FETCHER/src"
    cat >"$FETCHER/Cargo.toml" <<EOF
[package]
name = "upstream-fetcher"
version = "0.0.0"
edition = "2021"
publish = false

[dependencies]
$NAME = { version = "=$VERSION", default-features = false }

[workspace]
EOF
    echo 'fn main() {}' >"$FETCHER/src/main.rs"
    (cd "$FETCHER" && cargo fetch --quiet)
    CRATE="$(ls "${CARGO_HOME:-$HOME/.cargo}"/registry/cache/*/$NAME-$VERSION.crate | head -n1)"
    rm -rf "$PRISTINE.tmp" && mkdir -p "$PRISTINE.tmp"
    tar -xzf "$CRATE" -C "$PRISTINE.tmp" --strip-components=1
    rm -rf "$PRISTINE" && mv "$PRISTINE.tmp" "$PRISTINE"
fi

if [[ -n "$REGENERATE" ]]; then
    # The patch is a `diff -ruN a/src b/src`: a = published, b = vendor/$NAME.
    tmp="$(mktemp -d)"
    ln -s "$PRISTINE" "$tmp/a" && ln -s "$VENDOR" "$tmp/b"
    (cd "$tmp" && diff -ruN a/src b/src >"$VENDOR/funkraum.patch") || [[ $? == 1 ]]
    rm -rf "$tmp"
    log "wrote $VENDOR/funkraum.patch; checking that it reproduces src/"
    rm -rf "$WORK" && cp -a "$PRISTINE" "$WORK"
    (cd "$WORK" && patch -p1 -s --fuzz=0 <"$VENDOR/funkraum.patch")
    diff -r "$WORK/src" "$VENDOR/src" && log "reproduces vendor/$NAME/src exactly"
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

# --- 3. adjustments for testing (see vendor/$NAME/PATCHES.md) ---------------
# str0m: Cargo.toml without [[test]]/[[example]]/[[bench]]; only the aws-lc-rs
# crypto provider (str0m-rust-crypto 0.7 / str0m-openssl 0.7 are not on the
# mirror, Apple/Windows crypto crates dropped, their features left empty);
# dev-dependencies without str0m-netem (integration tests only),
# str0m-rust-crypto, rouille (examples only; the `examples` feature made
# empty) and systemstat.
adjust_str0m() {
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
    # The patched str0m calls the patched ICE agent (vendor/is).
    printf '\n[patch.crates-io]\nis = { path = "%s" }\n' "$(cd "$VENDOR/../is" && pwd)" >>Cargo.toml

    # One test took `Duration` from systemstat (re-exported std Duration).
    grep -q 'use systemstat::Duration;' src/bwe/loss_controller.rs ||
        log "warning: 'use systemstat::Duration;' not found in src/bwe/loss_controller.rs"
    sed -i 's/use systemstat::Duration;/use std::time::Duration;/' src/bwe/loss_controller.rs
    if grep -rn 'systemstat' src >&2; then
        echo "test-upstream.sh: systemstat still referenced in src" >&2; exit 2
    fi
}

case "$NAME" in
    str0m) adjust_str0m ;;
    # is: as published, its own workspace (it lies inside funkraum's).
    *) printf '\n[workspace]\n' >>Cargo.toml ;;
esac

# --- 4. build and run the unit tests -----------------------------------------
log "cargo test --lib (CARGO_TARGET_DIR=$CARGO_TARGET_DIR, output in $LOG)"
[[ -n "${UPSTREAM_TESTS_THREADS:-}" ]] && export RUST_TEST_THREADS="$UPSTREAM_TESTS_THREADS"
set +e
nice -n 10 cargo test --lib -j "${UPSTREAM_TESTS_JOBS:-2}" -- "$@" 2>&1 | tee "$LOG"
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
