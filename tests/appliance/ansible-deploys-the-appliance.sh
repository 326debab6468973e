#!/bin/sh
# The ansible role deploys funkraum to a Debian host and a second run
# changes nothing. The host is the disk image, booted in qemu; ansible
# reaches it over SSH through a forwarded loopback port, with a key put on
# the FUNKRAUM partition of the test's copy (as an admin would).
#
#   tests/appliance/ansible-deploys-the-appliance.sh IMAGE.raw FUNKRAUM.deb
#
# 1. site.yml with operator data, a domain and a [limits] key from the
#    inventory: ends with a healthy service; /privacy (through the
#    forwarded HTTPS port) shows the operator's name, contact and
#    location; the self-signed certificate names the domain.
# 2. The same again: changed=0.
# 3. tls.mode "files" with a certificate and key made here: the service
#    serves that certificate, and the key's text appears nowhere in
#    ansible's output (no_log).
# Prints the time of each run. qemu runs in TCG here; every wait is
# bounded; qemu is stopped on exit.
set -eu
image=$(realpath "$1")
deb=$(realpath "$2")
repo=$(cd "$(dirname "$0")/../.." && pwd)
boot_limit=${BOOT_LIMIT:-420}
. "$(dirname "$0")/checks.sh"

vm_work ansible-test

cp --sparse=always "$image" "$work/disk.raw"
ssh-keygen -q -t ed25519 -N '' -C funkraum-ansible-test -f "$work/key"
"$repo/image/funkraum-partition.sh" "$work/disk.raw" put "$work/key.pub" authorized_keys

https_port=$(free_port)
ssh_port=$(free_port)
ssh_vm() {
    ssh -q -i "$work/key" -p "$ssh_port" -o BatchMode=yes -o ConnectTimeout=10 \
        -o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null root@127.0.0.1 "$@"
}

started=$(date +%s)
TIMEOUT=$((boot_limit + 1200)) "$repo/image/boot-vm.sh" "$work/disk.raw" "$work/serial.log" \
    "tcp:127.0.0.1:$https_port-:443" "tcp:127.0.0.1:$ssh_port-:22" &
qemu_pid=$!
reachable=""
while [ $(( $(date +%s) - started )) -lt "$boot_limit" ]; do
    kill -0 "$qemu_pid" 2>/dev/null || break
    if ssh_vm true 2>/dev/null; then
        reachable=$(( $(date +%s) - started ))
        break
    fi
    sleep 2
done
if [ -z "$reachable" ]; then
    echo "FAILED  no SSH within $boot_limit s; the serial console said:"
    tail -n 40 "$work/serial.log" | sed 's/^/        /'
    exit 1
fi
echo "        boot to SSH: $reachable s"

# The inventory an admin would write, plus how to reach the VM.
cat > "$work/inventory.yml" <<INVENTORY
funkraum:
  hosts:
    appliance:
      ansible_host: 127.0.0.1
      ansible_port: $ssh_port
      ansible_user: root
      ansible_ssh_private_key_file: $work/key
      ansible_ssh_common_args: -o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null
      funkraum_deb_path: $deb
      funkraum_domains: [meet.ansible-test.funkraum.invalid]
      funkraum_operator_name: Freifunk Ansible-Test e. V.
      funkraum_operator_contact: ansible-test@funkraum.invalid
      funkraum_operator_location: in einer qemu-VM, Testhausen
      funkraum_operator_url: https://ansible-test.funkraum.invalid/impressum
      funkraum_limits:
        max_participants: 300
INVENTORY

export ANSIBLE_CONFIG="$repo/ansible/ansible.cfg"
export ANSIBLE_LOCAL_TEMP="$work/ansible-tmp"
export ANSIBLE_SSH_CONTROL_PATH_DIR="$work/cp"
export ANSIBLE_NOCOLOR=1
# Each task's time in the logs (image/out/ansible-run-*.log).
export ANSIBLE_CALLBACKS_ENABLED=ansible.posix.profile_tasks
playbook() { # log extra-args...
    log=$1
    shift
    run_started=$(date +%s)
    status=0
    timeout 900 ansible-playbook -i "$work/inventory.yml" "$repo/ansible/site.yml" "$@" > "$log" 2>&1 || status=$?
    echo "        $(basename "$log" .log): $(( $(date +%s) - run_started )) s, exit $status, $(recap "$log" | tr -s ' ')" >> "$work/timings"
    cp "$log" "$repo/image/out/$(basename "$log")" 2>/dev/null || true
    return $status
}
recap() { # log -> "ok=… changed=… …" of the host
    grep -E '^appliance +:' "$1" | sed 's/^appliance *: *//'
}

fetch() { # path
    curl -fsSk --max-time 10 -H 'Accept-Language: en' "https://127.0.0.1:$https_port$1"
}

# 1. First run.
first_run() {
    playbook "$work/ansible-run-1.log" || { tail -n 40 "$work/ansible-run-1.log"; return 1; }
    recap "$work/ansible-run-1.log" | grep -q 'failed=0'
}
check "first run of site.yml succeeds" first_run
tail -n 1 "$work/timings"
check "the role's own /healthz check passed" grep -q 'funkraum is healthy; TLS self-signed' "$work/ansible-run-1.log"
check "/healthz answers through the forwarded HTTPS port" sh -c "curl -fsSk --max-time 10 https://127.0.0.1:$https_port/healthz | grep -q '\"status\":\"ok\"'"
privacy_shows_operator() {
    fetch /privacy > "$work/privacy.html"
    for text in 'Freifunk Ansible-Test e. V.' 'ansible-test@funkraum.invalid' 'in einer qemu-VM, Testhausen' \
        'https://ansible-test.funkraum.invalid/impressum'; do
        grep -qF "$text" "$work/privacy.html" || { echo "missing on /privacy: $text"; return 1; }
    done
}
check "/privacy shows the operator's name, contact, location and imprint from the inventory" privacy_shows_operator
certificate_names_domain() {
    openssl s_client -connect "127.0.0.1:$https_port" </dev/null 2>/dev/null |
        openssl x509 -noout -ext subjectAltName | tee /dev/stderr | grep -q 'DNS:meet.ansible-test.funkraum.invalid'
}
check "the self-signed certificate names the inventory's domain" certificate_names_domain
check "funkraum.toml has the [limits] key from the inventory" \
    ssh_vm 'grep -qx "max_participants = 300" /etc/funkraum/funkraum.toml'
check "nftables is enabled and the funkraum table loaded" \
    ssh_vm 'systemctl is-enabled nftables.service && nft list table inet funkraum >/dev/null'
check "the journal vacuum timer runs; no persistent journal" \
    ssh_vm 'systemctl is-active funkraum-journal-vacuum.timer && [ ! -e /var/log/journal ]'

# 2. Second run: nothing to change.
second_run() {
    playbook "$work/ansible-run-2.log" || { tail -n 40 "$work/ansible-run-2.log"; return 1; }
    recap "$work/ansible-run-2.log"
    recap "$work/ansible-run-2.log" | grep -q 'changed=0 .*failed=0' || {
        grep -B1 -A3 '^changed:' "$work/ansible-run-2.log" | head -n 40
        return 1
    }
}
check "second run reports changed=0" second_run
tail -n 1 "$work/timings"

# 3. Certificate files: the key is a secret.
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 30 \
    -subj /CN=files.ansible-test.funkraum.invalid \
    -addext subjectAltName=DNS:files.ansible-test.funkraum.invalid \
    -keyout "$work/tls.key" -out "$work/tls.crt" 2>/dev/null
python3 - "$work" <<'PY'
import json, sys
work = sys.argv[1]
values = {
    "funkraum_tls_mode": "files",
    "funkraum_tls_cert_pem": open(f"{work}/tls.crt").read(),
    "funkraum_tls_key_pem": open(f"{work}/tls.key").read(),
}
json.dump(values, open(f"{work}/files-mode.json", "w"))
PY
files_run() {
    playbook "$work/ansible-run-3.log" -e "@$work/files-mode.json" --diff ||
        { tail -n 40 "$work/ansible-run-3.log"; return 1; }
    recap "$work/ansible-run-3.log" | grep -q 'failed=0'
}
check "a run with tls.mode files succeeds (with --diff)" files_run
tail -n 1 "$work/timings"
serves_the_given_certificate() {
    given=$(openssl x509 -in "$work/tls.crt" -noout -fingerprint -sha256 | sed 's/^.*=//')
    served=$(openssl s_client -connect "127.0.0.1:$https_port" </dev/null 2>/dev/null |
        openssl x509 -noout -fingerprint -sha256 | sed 's/^.*=//')
    echo "given $given, served $served"
    [ "$given" = "$served" ]
}
check "the service serves the certificate from the inventory" serves_the_given_certificate
key_never_printed() {
    # Every base64 line of the key, in the log of the run that passed it.
    sed -n '/BEGIN/,/END/{/-----/d;p}' "$work/tls.key" > "$work/key-lines"
    [ -s "$work/key-lines" ] || return 1
    if grep -qFf "$work/key-lines" "$work/ansible-run-3.log"; then
        echo "the private key appears in ansible's output"
        return 1
    fi
}
check "the private key appears nowhere in ansible's output" key_never_printed
key_is_a_credential() {
    ssh_vm 'stat -c "%a %U %n" /etc/funkraum/tls/privkey.pem /run/credentials/funkraum.service/tls-key
        pid=$(systemctl show -p MainPID --value funkraum.service)
        echo "service uid: $(stat -c %u /proc/$pid)"
        [ "$(stat -c %a/%U /etc/funkraum/tls/privkey.pem)" = 600/root ] &&
        [ "$(stat -c %a/%u /run/credentials/funkraum.service/tls-key)" = "400/$(stat -c %u /proc/$pid)" ]'
}
check "the key file is root's only; the service reads its own copy (a systemd credential)" key_is_a_credential

ssh_vm 'systemctl poweroff' >/dev/null 2>&1 || true
i=0
while kill -0 "$qemu_pid" 2>/dev/null && [ $i -lt 60 ]; do sleep 1; i=$((i + 1)); done
echo "ansible: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
