# Shared by the appliance tests (sourced, POSIX sh): a check counts as
# passed or failed and shows the tail of a failure's output; free loopback
# ports for qemu's forwards; stopping qemu within ten seconds.

failed=0
passed=0

check() { # description command...
    what=$1
    shift
    if out=$("$@" 2>&1); then
        echo "ok      $what"
        passed=$((passed + 1))
    else
        echo "FAILED  $what"
        printf '%s\n' "$out" | sed 's/^/        /' | tail -n 30
        failed=$((failed + 1))
    fi
}

free_port() {
    python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

stop_vm() { # qemu's pid, may be empty
    [ -n "$1" ] && kill -0 "$1" 2>/dev/null || return 0
    kill "$1" 2>/dev/null || true
    i=0
    while kill -0 "$1" 2>/dev/null && [ $i -lt 20 ]; do sleep 0.5; i=$((i + 1)); done
    kill -9 "$1" 2>/dev/null || true
}

# vm_work NAME: a work directory for a test that boots the disk image
# ($work; the VM's pid goes into $qemu_pid). On exit qemu is stopped, the
# serial console is kept as image/out/NAME-serial.log for a look after a
# failure, and the directory is removed. Needs $repo.
vm_work() {
    vm_name=$1
    work=$(mktemp -d "${TMPDIR:-/var/tmp}/funkraum-$vm_name.XXXXXX")
    qemu_pid=""
    trap vm_cleanup EXIT INT TERM
}
vm_cleanup() {
    [ -f "$work/serial.log" ] && cp "$work/serial.log" "$repo/image/out/$vm_name-serial.log" 2>/dev/null || true
    stop_vm "$qemu_pid"
    rm -rf "$work"
}
