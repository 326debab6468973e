#!/bin/sh
# The disk image boots in qemu (UEFI, systemd-boot) and becomes a working
# appliance without anyone touching it: the configuration and SSH key put
# on its FUNKRAUM partition before the first boot are taken, funkraum
# serves /healthz, the client page and /privacy (with the operator from
# that configuration) over HTTPS with its self-signed certificate (the one
# whose SHA-256 fingerprint /healthz reports) through a forwarded port 443,
# port 80 only redirects to HTTPS, TURN answers over UDP, TCP and TLS and
# on IPv4 and IPv6, the daemon runs as a non-root user inside its sandbox
# with memory locked, the watchdog fed, the journal in RAM, and a port
# outside the ruleset stays closed. Prints the time from starting qemu to
# the first healthy answer.
#
#   tests/appliance/disk-image-boots-and-serves.sh IMAGE.raw [FUNKRAUM.deb]
#
# With a .deb, it is installed over the running appliance as an upgrade
# would be: the service comes back with the admin's configuration kept.
#
# Works on a copy of the image. qemu runs with user-mode networking and
# restrict=on: the guest reaches nothing but the forwarded 127.0.0.1 ports.
# Every wait is bounded; qemu is stopped on exit. TCG here: ~1-2 min.
set -eu
image=$(realpath "$1")
deb=${2:+$(realpath "$2")}
repo=$(cd "$(dirname "$0")/../.." && pwd)
boot_limit=${BOOT_LIMIT:-420}
. "$(dirname "$0")/checks.sh"

vm_work boot-test

# The test's own copy, with its config and key on the FUNKRAUM partition.
cp --sparse=always "$image" "$work/disk.raw"
# As if written to a disk 1 GiB larger: the root file system must grow.
image_mib=$(( $(stat -c %s "$image") / 1048576 ))
truncate -s +1G "$work/disk.raw"
partition="$repo/image/funkraum-partition.sh $work/disk.raw"
ssh-keygen -q -t ed25519 -N '' -C funkraum-boot-test -f "$work/key"
$partition put "$work/key.pub" authorized_keys
$partition get funkraum.toml "$work/funkraum.toml"
# What an admin does before the first boot: fill in the operator.
sed -i 's/^name = ""$/name = "Freifunk Boot Test e. V."/' "$work/funkraum.toml"
grep -q 'Boot Test' "$work/funkraum.toml"
$partition put "$work/funkraum.toml" funkraum.toml

https_port=$(free_port)
http_port=$(free_port)
ssh_port=$(free_port)
closed_port=$(free_port)
turn_port=$(free_port)
ssh_vm() {
    ssh -q -i "$work/key" -p "$ssh_port" -o BatchMode=yes -o ConnectTimeout=10 \
        -o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null root@127.0.0.1 "$@"
}

accel=${QEMU_ACCEL:-tcg}
started=$(date +%s)
TIMEOUT=$((boot_limit + 600)) "$repo/image/boot-vm.sh" "$work/disk.raw" "$work/serial.log" \
    "tcp:127.0.0.1:$https_port-:443" "tcp:127.0.0.1:$http_port-:80" "tcp:127.0.0.1:$ssh_port-:22" \
    "tcp:127.0.0.1:$closed_port-:2222" "tcp:127.0.0.1:$turn_port-:3478" &
qemu_pid=$!

healthy=""
while [ $(( $(date +%s) - started )) -lt "$boot_limit" ]; do
    kill -0 "$qemu_pid" 2>/dev/null || break
    if curl -fsSk --max-time 3 "https://127.0.0.1:$https_port/healthz" > "$work/healthz" 2>/dev/null; then
        healthy=$(( $(date +%s) - started ))
        break
    fi
    sleep 1
done
if [ -z "$healthy" ]; then
    echo "FAILED  funkraum did not answer /healthz within $boot_limit s; the serial console said:"
    tail -n 40 "$work/serial.log" | sed 's/^/        /'
    echo "disk image: $passed passed, 1 failed"
    exit 1
fi
echo "        boot to healthy: $healthy s (qemu start to the first /healthz answer, accel $accel)"
check "/healthz says ok, over HTTPS" grep -q '"status":"ok"' "$work/healthz"
fingerprint=$(python3 -c "import json; t=json.load(open('$work/healthz'))['tls']; print(t['mode'], t['fingerprint_sha256'])")
echo "        certificate: $fingerprint"
served_certificate_is_reported() {
    served=$(openssl s_client -connect "127.0.0.1:$https_port" </dev/null 2>/dev/null |
        openssl x509 -noout -fingerprint -sha256 | sed 's/^.*=//')
    echo "served: $served; /healthz: $fingerprint"
    [ -n "$served" ] && [ "$fingerprint" = "self-signed $served" ]
}
check "the served certificate is the self-signed one /healthz reports (SHA-256)" served_certificate_is_reported
check "the client page is served over HTTPS" sh -c "curl -fsSk --max-time 10 https://127.0.0.1:$https_port/ | grep -qi '<html'"
check "/privacy names the operator set on the FUNKRAUM partition" \
    sh -c "curl -fsSk --max-time 10 -H 'Accept-Language: en' https://127.0.0.1:$https_port/privacy | grep -q 'Freifunk Boot Test e. V.'"
only_redirects() {
    for path in / /healthz /privacy /some-room; do
        answer=$(curl -sS --max-time 10 -o "$work/plain" -w '%{http_code} %{redirect_url}' "http://127.0.0.1:$http_port$path")
        echo "http://…$path: $answer"
        case $answer in "308 https://127.0.0.1$path") ;; *) return 1 ;; esac
        if grep -qi -e '<html' -e '"status"' "$work/plain"; then return 1; fi
    done
}
check "port 80 answers only with a redirect to HTTPS (308)" only_redirects

# sshd makes its host keys at the first start (slow under TCG): wait.
i=0
until ssh_vm true 2>/dev/null || [ $i -ge 90 ]; do sleep 2; i=$((i + 2)); done
# TURN over UDP is asked from inside the VM, on its network address: with
# restrict=on, slirp drops every UDP datagram the guest sends to the host,
# replies to forwarded ports included. (The firewall's UDP rules are shown
# by firewall-opens-only-funkraum-ports.sh.) IPv6: the global address if
# the guest has one, else ::1.
turn_udp_answers() { # -4 or -6
    ssh_vm "family=$1 bash -s" <<'GUEST'
ip=$(ip "$family" -o addr show scope global | awk '{print $4}' | cut -d/ -f1 | head -n 1)
[ -n "$ip" ] || ip=$( [ "$family" = -6 ] && echo ::1 || echo 127.0.0.1)
exec 3<>"/dev/udp/$ip/3478"
# Allocate (REQUESTED-TRANSPORT UDP) without credentials: a 401 comes back.
printf '\000\003\000\010\041\022\244\102funkraumtest\000\031\000\004\021\000\000\000' >&3
reply=$(timeout 5 head -c 20 <&3 | od -An -tx1 | tr -d ' \n')
echo "reply from $ip: $reply"
case $reply in 0113*2112a442*) exit 0 ;; *) exit 1 ;; esac
GUEST
}
check "TURN answers STUN on 3478/tcp" sh -c "[ \"\$(python3 '$repo/tests/appliance/stun-probe.py' tcp 127.0.0.1 $turn_port)\" = answered ]"
check "TURN answers STUN over TLS on the HTTPS port" sh -c "[ \"\$(python3 '$repo/tests/appliance/stun-probe.py' tls 127.0.0.1 $https_port)\" = answered ]"

check "SSH logs in with the key put on the FUNKRAUM partition" ssh_vm true
ssh_vm 'systemctl show funkraum.service' > "$work/show" || true
prop() { sed -n "s/^$1=//p" "$work/show"; }
check "funkraum.service is active (Type=notify: it said READY=1)" \
    sh -c "[ '$(prop ActiveState)/$(prop Type)' = active/notify ]"
check "the watchdog is armed (WatchdogUSec=$(prop WatchdogUSec))" sh -c "[ '$(prop WatchdogUSec)' = 30s ]"
check "sandbox in force (DynamicUser, ProtectSystem=strict, PrivateDevices, NoNewPrivileges)" \
    sh -c "[ '$(prop DynamicUser)/$(prop ProtectSystem)/$(prop PrivateDevices)/$(prop NoNewPrivileges)' = yes/strict/yes/yes ]"
pid=$(prop MainPID)
ssh_vm "cat /proc/$pid/status" > "$work/status" || true
field() { sed -n "s/^$1:[[:space:]]*//p" "$work/status"; }
check "runs as a non-root user (Uid $(field Uid | tr '\t' ' '))" \
    sh -c "field=\$(sed -n 's/^Uid:[[:space:]]*//p' '$work/status'); [ -n \"\$field\" ] && ! echo \"\$field\" | grep -qw 0"
check "holds only CAP_NET_BIND_SERVICE (CapEff $(field CapEff))" sh -c "[ '$(field CapEff)' = 0000000000000400 ]"
check "seccomp filter and no_new_privs are on" sh -c "[ '$(field Seccomp)/$(field NoNewPrivs)' = 2/1 ]"
check "memory is locked against swap (VmLck $(field VmLck))" sh -c "[ -n '$(field VmLck)' ] && [ '$(field VmLck)' != '0 kB' ]"
score=$(ssh_vm 'systemd-analyze security funkraum.service 2>/dev/null' | sed -n 's/.*exposure level for funkraum.service: \([0-9.]*\).*/\1/p')
echo "        exposure on the running appliance (systemd-analyze security): $score"
root_grown() {
    root_mib=$(ssh_vm 'df -B1M --output=size / | tail -n 1' | tr -d ' ')
    echo "root file system: $root_mib MiB on a disk of $((image_mib + 1024)) MiB"
    [ "$root_mib" -gt "$image_mib" ]
}
check "the root file system grew to fill the larger disk" root_grown
check "the journal is in RAM only" ssh_vm '[ -d /run/log/journal ] && [ -z "$(ls -A /var/log/journal 2>/dev/null)" ]'
errors_log_found() {
    ssh_vm 'funkraum errors --config /etc/funkraum/funkraum.toml' | grep -q ' /run/funkraum/errors.log'
}
check "funkraum errors finds the error log in /run/funkraum" errors_log_found
check "TURN answers on 3478/udp over IPv4" turn_udp_answers -4
check "TURN answers on 3478/udp over IPv6" turn_udp_answers -6
turn_listens_on_both_families() {
    ssh_vm "ss -Hlnu 'sport = :3478'; ss -Hlnt 'sport = :3478'" > "$work/turn-sockets"
    cat "$work/turn-sockets"
    for proto in UNCONN LISTEN; do
        grep "^$proto" "$work/turn-sockets" | grep -q ' 0.0.0.0:3478 ' || return 1
        grep "^$proto" "$work/turn-sockets" | grep -q ' \[::\]:3478 ' || return 1
    done
}
check "TURN listens on IPv4 and IPv6, UDP and TCP" turn_listens_on_both_families
check "the nftables ruleset is loaded" ssh_vm 'nft list table inet funkraum >/dev/null'

# A listener on 2222 (not in the ruleset): reachable inside the VM, its
# banner never arrives through the forwarded port; sshd's own on 22 does.
ssh_vm 'systemd-run --unit=funkraum-test-listener /usr/sbin/sshd -D -p 2222 >/dev/null 2>&1' || true
sleep 2
check "the test listener on 2222 answers inside the VM" \
    ssh_vm 'exec 3<>/dev/tcp/127.0.0.1/2222 && head -c 7 <&3 | grep -q SSH-2.0'
check "port 22 (in the ruleset) answers through the forwarded port" sh -c "banner_out=\$(python3 -c 'import socket;s=socket.create_connection((\"127.0.0.1\",$ssh_port),5);s.settimeout(8);print(s.recv(64).decode())'); echo \"\$banner_out\" | grep -q SSH-2.0"
check "port 2222 (not in the ruleset) stays closed from outside" sh -c "[ -z \"\$(python3 -c 'import socket;s=socket.create_connection((\"127.0.0.1\",$closed_port),5);s.settimeout(8)
try: print(s.recv(64).decode())
except OSError: print(\"\")' | tr -d '[:space:]')\" ]"

upgraded_in_place() {
    before=$(ssh_vm 'systemctl show -p MainPID --value funkraum.service')
    scp -q -i "$work/key" -P "$ssh_port" -o BatchMode=yes -o StrictHostKeyChecking=no \
        -o UserKnownHostsFile=/dev/null "$deb" root@127.0.0.1:/tmp/funkraum.deb
    ssh_vm 'DEBIAN_FRONTEND=noninteractive dpkg -i --force-confold /tmp/funkraum.deb'
    after=$(ssh_vm 'systemctl show -p MainPID --value funkraum.service')
    echo "MainPID $before -> $after"
    [ "$after" != "$before" ] && [ "$after" != 0 ]
    i=0
    until curl -fsSk --max-time 3 "https://127.0.0.1:$https_port/privacy" -H 'Accept-Language: en' \
        | grep -q 'Freifunk Boot Test e. V.'; do
        i=$((i + 1))
        [ $i -lt 30 ] || return 1
        sleep 1
    done
}
if [ -n "$deb" ]; then
    check "an upgrade with the .deb restarts the service and keeps the configuration" upgraded_in_place
fi

# A hung daemon stops feeding the watchdog: systemd kills it and starts a
# new one. SIGSTOP freezes it whole; after WatchdogSec (30 s) systemd sends
# SIGABRT, which a stopped process only meets with SIGKILL after
# TimeoutAbortSec (= TimeoutStopSec, 15 s); RestartSec 2 s.
restarted_after_hang() {
    old_pid=$(ssh_vm 'systemctl show -p MainPID --value funkraum.service')
    ssh_vm "kill -STOP $old_pid"
    hung=$(date +%s)
    while [ $(( $(date +%s) - hung )) -lt 120 ]; do
        sleep 3
        state=$(ssh_vm 'systemctl show -p MainPID -p ActiveState -p NRestarts funkraum.service' | tr '\n' ' ')
        case "$state" in
        *ActiveState=active*)
            new_pid=$(echo "$state" | sed -n 's/.*MainPID=\([0-9]*\).*/\1/p')
            if [ -n "$new_pid" ] && [ "$new_pid" != 0 ] && [ "$new_pid" != "$old_pid" ]; then
                echo "restarted $(( $(date +%s) - hung )) s after the hang: $state"
                ssh_vm 'journalctl -u funkraum.service -o cat' | grep -i 'watchdog timeout'
                curl -fsSk --max-time 5 "https://127.0.0.1:$https_port/healthz"
                return
            fi
            ;;
        esac
    done
    echo "no restart within 120 s: $state"
    return 1
}
check "a hung daemon is restarted by the watchdog" restarted_after_hang

ssh_vm 'systemctl poweroff' >/dev/null 2>&1 || true
i=0
while kill -0 "$qemu_pid" 2>/dev/null && [ $i -lt 60 ]; do sleep 1; i=$((i + 1)); done
echo "disk image: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
