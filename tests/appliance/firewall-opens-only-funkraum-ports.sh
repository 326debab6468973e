#!/bin/sh
# The ruleset nftables/funkraum.nft, loaded in a network namespace of its
# own, lets a client in a second namespace reach the funkraum ports and
# nothing else, over IPv4 and IPv6: 80/tcp, 443/tcp, 3478/udp, 10000/udp
# and the TURN relay range 49152-65535/udp (its two ends) answer; 8080/tcp,
# 5353/udp, 49151/udp just below the relay range and 49152/tcp (the range
# is UDP only), all listening but not in the ruleset, stay silent. Neighbour
# discovery and ping pass; a burst of new connections from one address is
# cut by the per-source limit while another address still gets through.
#
# Addresses: 10.231.0.0/24 and fd31:231::/64, only on the veth pair made
# here. Needs root, ip (iproute2), nft and python3. About 10 s.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
ruleset=${1:-$here/../../nftables/funkraum.nft}
probe="python3 $here/netns-probe.py"
fw=funkraum-fw-$$
cl=funkraum-cl-$$
listener=""
failed=0
passed=0

cleanup() {
    [ -n "$listener" ] && kill "$listener" 2>/dev/null || true
    ip netns del "$fw" 2>/dev/null || true
    ip netns del "$cl" 2>/dev/null || true
}
trap cleanup EXIT INT TERM

ip netns add "$fw"
ip netns add "$cl"
ip link add fkfw$$ netns "$fw" type veth peer name fkcl$$ netns "$cl"
ip -n "$fw" link set lo up
ip -n "$cl" link set lo up
ip -n "$fw" addr add 10.231.0.1/24 dev fkfw$$
ip -n "$cl" addr add 10.231.0.2/24 dev fkcl$$
ip -n "$cl" addr add 10.231.0.3/24 dev fkcl$$
# nodad: usable at once; neighbour discovery itself still has to pass.
ip -n "$fw" addr add fd31:231::1/64 dev fkfw$$ nodad
ip -n "$cl" addr add fd31:231::2/64 dev fkcl$$ nodad
ip -n "$fw" link set fkfw$$ up
ip -n "$cl" link set fkcl$$ up

ip netns exec "$fw" $probe listen tcp:80 tcp:443 tcp:8080 tcp:49152 udp:3478 udp:10000 udp:5353 udp:49151 udp:49152 udp:65535 >/dev/null &
listener=$!
sleep 0.5

check() { # description expected actual
    if [ "$2" = "$3" ]; then
        echo "ok      $1"
        passed=$((passed + 1))
    else
        echo "FAILED  $1: expected $2, got $3"
        failed=$((failed + 1))
    fi
}

# Without the ruleset every listener answers: what is closed below is
# closed by the ruleset.
check "before loading the ruleset, tcp 8080 answers" open "$(ip netns exec "$cl" $probe tcp 10.231.0.1 8080)"
check "before loading the ruleset, udp 5353 answers" open "$(ip netns exec "$cl" $probe udp fd31:231::1 5353)"
ip netns exec "$fw" nft -f "$ruleset"

for server in 10.231.0.1 fd31:231::1; do
    ip -n "$cl" neigh flush all
    check "ping $server" yes \
        "$(ip netns exec "$cl" ping -c 1 -W 2 "$server" >/dev/null 2>&1 && echo yes || echo no)"
    for port in 80 443; do
        check "tcp $server $port (HTTP redirect / HTTPS) answers" open "$(ip netns exec "$cl" $probe tcp "$server" $port)"
    done
    check "udp $server 3478 (TURN) answers" open "$(ip netns exec "$cl" $probe udp "$server" 3478)"
    check "udp $server 10000 (media) answers" open "$(ip netns exec "$cl" $probe udp "$server" 10000)"
    for port in 49152 65535; do
        check "udp $server $port (TURN relay range) answers" open "$(ip netns exec "$cl" $probe udp "$server" $port)"
    done
    check "tcp $server 8080 (not in the ruleset) is dropped" closed "$(ip netns exec "$cl" $probe tcp "$server" 8080)"
    check "udp $server 5353 (not in the ruleset) is dropped" closed "$(ip netns exec "$cl" $probe udp "$server" 5353)"
    check "udp $server 49151 (below the relay range) is dropped" closed "$(ip netns exec "$cl" $probe udp "$server" 49151)"
    check "tcp $server 49152 (relay range is UDP only) is dropped" closed "$(ip netns exec "$cl" $probe tcp "$server" 49152)"
done

# Burst 200, then 50/s: of 400 connections at once, at most about 260 get
# through from one address.
through=$(ip netns exec "$cl" $probe burst 10.231.0.1 443 400 10.231.0.2)
check "400 new connections from one address: some cut by the rate limit" yes \
    "$([ "$through" -ge 150 ] && [ "$through" -le 300 ] && echo yes || echo "no ($through got through)")"
check "meanwhile another address connects" open "$(ip netns exec "$cl" sh -c "$probe burst 10.231.0.1 443 1 10.231.0.3 | sed 's/^1$/open/'")"

echo "firewall: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
