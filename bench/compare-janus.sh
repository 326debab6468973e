#!/usr/bin/env bash
# funkraum and Janus VideoRoom side by side on this machine.
#
# Both servers and the load generator run in a network namespace of their
# own with one address, 127.0.1.1, on a veth interface (Janus never offers
# loopback candidates, and this way both servers see the same path). The
# servers take turns — funkraum, Janus, funkraum, Janus … — in every round
# and scenario, each freshly started; round 0 warms up and is discarded.
# Nothing leaves the namespace; it is deleted on exit.
#
#   sudo bench/compare-janus.sh          # 1x50 10x10 25x25@300, 3 rounds
#   ROUNDS=5 DURATION=30 SCENARIOS="10x10" bench/compare-janus.sh
#
# Environment: ROUNDS (measured rounds, 3), DURATION (measured seconds per
# run, 20), SETTLE (5), SCENARIOS ("1x50 10x10 25x25@300": PxR, P
# publishers who receive everyone and R receive-only participants, PxP
# everyone publishes; @K sets the video bitrate to K kbit/s instead of
# 1500 — this 2-core machine cannot carry 25x25 at 1500), EXTRA (more
# arguments for every run, e.g. "--audio-only" or "--video-kbps 500"),
# OUT (result folder, bench/results/<time>), NICE (niceness of the servers
# and the generator, -10: on a shared machine other work then disturbs the
# latency figures less; CPU-time figures do not depend on it),
# GENERATOR_NICE (the generator's threads once the server under test is up,
# NICE unless given: e.g. 0 lets both servers take the CPU before the
# generator, so the in-server latency is less the generator's).
set -euo pipefail
# No core files in the caller's directory: Janus 1.1.2 crashed once when
# stopped after a finished run and left one there.
ulimit -c 0
# A session of its own: its scheduling group is only this benchmark.
if [ -z "${FKBENCH_SESSION:-}" ]; then
    FKBENCH_SESSION=1 exec setsid --wait "$0" "$@"
fi
cd "$(dirname "$0")/.."

ROUNDS=${ROUNDS:-3}
DURATION=${DURATION:-20}
SETTLE=${SETTLE:-5}
SCENARIOS=${SCENARIOS:-"1x50 10x10 25x25@300"}
EXTRA=${EXTRA:-}
NICE=${NICE:--10}
GENERATOR_NICE=${GENERATOR_NICE:-$NICE}
OUT=${OUT:-bench/results/$(date +%Y%m%d-%H%M%S)}
ADDR=127.0.1.1
NS=funkraum-bench-$$
CFG=/dev/shm/funkraum-bench-janus-$$
JANUS_PID=

if [ "$(id -u)" != 0 ]; then
    echo "compare-janus: run as root (network namespace, Janus)" >&2
    exit 1
fi
if ! command -v janus >/dev/null; then
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq janus >/dev/null
fi
command -v ip >/dev/null || DEBIAN_FRONTEND=noninteractive apt-get install -y -qq iproute2 >/dev/null
# Debian starts the packaged Janus as a service; ours runs in the namespace.

# With autogroup scheduling (the Linux default) niceness only orders the
# threads inside one session; the session's group competes with the others
# by its own niceness. Both are set, so that the servers and the generator
# get the CPU they ask for on a shared machine. A multi-threaded server
# would otherwise spread over both cores while a single-threaded one waits.
if [ -w /proc/self/autogroup ]; then
    echo "$NICE" >"/proc/$$/autogroup" 2>/dev/null || true
fi

echo "== building (release)"
cargo build --release --quiet
LOAD=$(cargo bench --bench load --no-run 2>&1 | sed -n 's/.*Executable .*(\(.*\)).*/\1/p' | tail -n 1)
[ -x "$LOAD" ] || { echo "compare-janus: load generator not built" >&2; exit 1; }
FUNKRAUM=target/release/funkraum

stop_janus() {
    if [ -n "$JANUS_PID" ]; then
        kill "$JANUS_PID" 2>/dev/null || true
        for _ in $(seq 50); do kill -0 "$JANUS_PID" 2>/dev/null || break; sleep 0.1; done
        kill -9 "$JANUS_PID" 2>/dev/null || true
        wait "$JANUS_PID" 2>/dev/null || true
        JANUS_PID=
    fi
}
cleanup() {
    stop_janus
    ip netns del "$NS" 2>/dev/null || true
    rm -rf "$CFG"
}
trap cleanup EXIT INT TERM

ip netns add "$NS"
ip -n "$NS" link set lo up
ip -n "$NS" link add fkbench0 type veth peer name fkbench1
ip -n "$NS" addr add "$ADDR/32" dev fkbench0
ip -n "$NS" link set fkbench0 up
ip -n "$NS" link set fkbench1 up

# Janus: WebSocket transport and the VideoRoom plugin only, media and ICE on
# the namespace's address, logging at warnings (funkraum logs at warn too).
mkdir -p "$CFG"
all_but() { (cd "$1" && ls -1 *.so 2>/dev/null | grep -v "^$2$" | paste -sd, -); }
LIBDIR=/usr/lib/x86_64-linux-gnu/janus
cat >"$CFG/janus.jcfg" <<JCFG
general: {
    configs_folder = "$CFG"
    plugins_folder = "$LIBDIR/plugins"
    transports_folder = "$LIBDIR/transports"
    events_folder = "$LIBDIR/events"
    loggers_folder = "$LIBDIR/loggers"
    debug_level = 3
    interface = "$ADDR"
    session_timeout = 60
}
media: {
    rtp_port_range = "20000-40000"
}
nat: {
    nice_debug = false
    ice_enforce_list = "$ADDR"
}
plugins: {
    disable = "$(all_but $LIBDIR/plugins libjanus_videoroom.so)"
}
transports: {
    disable = "$(all_but $LIBDIR/transports libjanus_websockets.so)"
}
loggers: {
    disable = "$(all_but $LIBDIR/loggers none)"
}
events: {
    broadcast = false
}
JCFG
cat >"$CFG/janus.transport.websockets.jcfg" <<JCFG
general: {
    json = "plain"
    ws = true
    ws_port = 8188
    ws_ip = "$ADDR"
    wss = false
}
admin: {
    admin_ws = false
    admin_wss = false
}
JCFG
cat >"$CFG/janus.plugin.videoroom.jcfg" <<JCFG
general: {
}
JCFG

start_janus() {
    ip netns exec "$NS" nice -n "$NICE" janus --config="$CFG/janus.jcfg" --configs-folder="$CFG" \
        --disable-colors --log-file="$CFG/janus.log" >/dev/null 2>&1 &
    JANUS_PID=$!
    for _ in $(seq 100); do
        if ip netns exec "$NS" bash -c "exec 3<>/dev/tcp/$ADDR/8188" 2>/dev/null; then
            return 0
        fi
        sleep 0.1
    done
    echo "compare-janus: Janus did not start; its log:" >&2
    tail -n 30 "$CFG/janus.log" >&2
    exit 1
}

mkdir -p "$OUT"
echo "== results in $OUT"
run() { # scenario round target
    local spec=$1 r=$2 t=$3
    local s=${spec%@*} kbps=1500
    [ "$s" != "$spec" ] && kbps=${spec#*@}
    local json="$OUT/$spec-r$r-$t.json"
    echo "== round $r, $spec, $t"
    if [ "$t" = funkraum ]; then
        ip netns exec "$NS" nice -n "$NICE" "$LOAD" --target funkraum --spawn "$FUNKRAUM" --bind "$ADDR" \
            --scenario "$s" --video-kbps "$kbps" --duration "$DURATION" --settle "$SETTLE" \
            --round "$r" --json "$json" --nice "$GENERATOR_NICE" $EXTRA || echo "   (run failed)"
    else
        start_janus
        ip netns exec "$NS" nice -n "$NICE" "$LOAD" --target janus --url "ws://$ADDR:8188" --pid "$JANUS_PID" \
            --bind "$ADDR" --scenario "$s" --video-kbps "$kbps" --duration "$DURATION" \
            --settle "$SETTLE" --round "$r" --json "$json" --nice "$GENERATOR_NICE" $EXTRA \
            || echo "   (run failed)"
        stop_janus
    fi
}
for r in $(seq 0 "$ROUNDS"); do
    for s in $SCENARIOS; do
        run "$s" "$r" funkraum
        run "$s" "$r" janus
    done
done

echo
echo "== summary (round 0 discarded): funkraum, Janus, ratio funkraum/Janus"
# shellcheck disable=SC2046
"$LOAD" summarize $(ls "$OUT"/*.json | grep -v -- '-r0-') | tee "$OUT/summary.txt"
