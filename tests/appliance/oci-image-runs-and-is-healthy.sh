#!/bin/sh
# The OCI archive from `make oci` describes itself as it should (skopeo
# inspect: non-root user, volumes, ports, health check), and its unpacked
# bundle runs under runc: funkraum starts as uid 10001, answers /healthz
# over HTTPS on 8443 from outside the container with the certificate whose
# SHA-256 fingerprint /healthz reports, and the image's own health check
# command passes inside it.
#
#   tests/appliance/oci-image-runs-and-is-healthy.sh funkraum-oci.tar
#
# The container gets a network namespace made here, joined to this host by
# a veth pair with 10.232.0.0/30 (on those two ends only). About 15 s.
set -eu
archive=$(realpath "$1")
. "$(dirname "$0")/checks.sh"
work=$(mktemp -d "${TMPDIR:-/var/tmp}/funkraum-oci-test.XXXXXX")
id=funkraum-oci-test-$$
ns=funkraum-oci-$$
cleanup() {
    runc kill "$id" KILL 2>/dev/null || true
    sleep 0.5
    runc delete --force "$id" 2>/dev/null || true
    ip netns del "$ns" 2>/dev/null || true
    rm -rf "$work"
}
trap cleanup EXIT INT TERM

skopeo inspect --config --raw "oci-archive:$archive" > "$work/config.json"
json() { python3 -c "import json,sys; c=json.load(open('$work/config.json'))['config']; print($1)"; }
check "runs as a non-root user ($(json "c['User']"))" sh -c "[ '$(json "c['User'].split(':')[0]")' != 0 ] && [ '$(json "c['User'].split(':')[0]")' != root ]"
check "config, state and runtime directories are volumes" \
    sh -c "[ '$(json "' '.join(sorted(c['Volumes']))")' = '/etc/funkraum /run/funkraum /var/lib/funkraum' ]"
check "exposes HTTPS (8443), TURN and the media port" sh -c "[ '$(json "' '.join(sorted(c['ExposedPorts']))")' = '10000/udp 3478/tcp 3478/udp 8443/tcp' ]"
check "declares a health check ($(json "' '.join(c['Healthcheck']['Test'][1:])"))" \
    sh -c "[ '$(json "c['Healthcheck']['Test'][0]")' = CMD ]"

# Unpack as a runtime bundle.
skopeo copy --quiet "oci-archive:$archive" "oci:$work/layout:funkraum"
umoci unpack --image "$work/layout:funkraum" "$work/bundle" >/dev/null

ip netns add "$ns"
ip link add fko$$ type veth peer name fkoc$$ netns "$ns"
ip addr add 10.232.0.1/30 dev fko$$
ip link set fko$$ up
ip -n "$ns" addr add 10.232.0.2/30 dev fkoc$$
ip -n "$ns" link set fkoc$$ up
ip -n "$ns" link set lo up
ip -n "$ns" route add default via 10.232.0.1

# As `docker run --tmpfs /run/funkraum` would: the error log on tmpfs; and
# our network namespace. (`--ulimit memlock=-1` would let the daemon lock
# its memory; this machine's root lacks CAP_SYS_RESOURCE to grant it.)
python3 - "$work/bundle/config.json" "$ns" <<'PY'
import json, sys
path, ns = sys.argv[1], sys.argv[2]
c = json.load(open(path))
c["process"]["terminal"] = False
uid = c["process"]["user"]["uid"]
# umoci turns each image volume into an empty tmpfs; Docker and Podman
# fill a new volume from the image instead, so those two show the image's
# files here, and /run/funkraum is a tmpfs owned by the daemon's user.
volumes = ("/etc/funkraum", "/var/lib/funkraum", "/run/funkraum")
c["mounts"] = [m for m in c["mounts"] if m["destination"] not in volumes]
c["mounts"].append({"destination": "/run/funkraum", "type": "tmpfs", "source": "tmpfs",
                    "options": ["nosuid", "nodev", "noexec", "mode=0700", f"uid={uid}", f"gid={uid}"]})
for n in c["linux"]["namespaces"]:
    if n["type"] == "network":
        n["path"] = f"/var/run/netns/{ns}"
json.dump(c, open(path, "w"), indent=1)
PY

runc run --detach --bundle "$work/bundle" "$id" > "$work/container.log" 2>&1 < /dev/null || {
    echo "FAILED  runc cannot start the bundle:"
    sed "s/^/        /" "$work/container.log"
    exit 1
}
healthy=""
i=0
while [ $i -lt 60 ]; do
    if curl -fsSk --max-time 2 https://10.232.0.2:8443/healthz > "$work/healthz" 2>/dev/null; then
        healthy=yes
        break
    fi
    sleep 0.5
    i=$((i + 1))
done
check "/healthz answers over HTTPS from outside the container" sh -c "[ -n '$healthy' ] && grep -q '\"status\":\"ok\"' '$work/healthz'"
served_fingerprint_matches() {
    reported=$(python3 -c "import json; print(json.load(open('$work/healthz'))['tls']['fingerprint_sha256'])")
    served=$(openssl s_client -connect 10.232.0.2:8443 </dev/null 2>/dev/null |
        openssl x509 -noout -fingerprint -sha256 | sed 's/^.*=//')
    echo "reported $reported, served $served"
    [ -n "$served" ] && [ "$reported" = "$served" ]
}
check "the served certificate is the one /healthz reports (SHA-256)" served_fingerprint_matches
pid=$(runc state "$id" | python3 -c 'import json,sys; print(json.load(sys.stdin)["pid"])')
check "the daemon runs as uid 10001" sh -c "grep -q '^Uid:[[:space:]]*10001[[:space:]]' /proc/$pid/status"
# The image's health check command, run as Docker or Podman would.
set -- $(json "' '.join(c['Healthcheck']['Test'][1:])")
check "the image's health check passes inside the container" runc exec "$id" "$@"
check "the error log directory is the tmpfs" runc exec "$id" sh -c 'grep -q " /run/funkraum tmpfs " /proc/mounts'

echo "oci image: $passed passed, $failed failed"
if [ "$failed" -ne 0 ]; then
    echo "container output:"
    sed 's/^/        /' "$work/container.log" | tail -n 20
fi
[ "$failed" -eq 0 ]
