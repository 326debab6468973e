#!/usr/bin/env python3
"""Resident memory a signaling connection costs the server.

Starts the given funkraum binary (zero config, port 8080 on loopback),
opens COUNT WebSocket connections to /ws from 127.0.x.y source addresses
(the per-address connection limit is 64), sends each one small text frame
so its first read happens, and prints the growth of the server's VmRSS
per connection. Stops the server and exits by itself; loopback only.

    python3 bench/signaling-memory.py target/release/funkraum 200
"""

import base64
import os
import socket
import subprocess
import sys
import time

PORT = 8080
PER_SOURCE = 50


def rss_kib(pid):
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise RuntimeError("no VmRSS")


def wait_for_port(timeout):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        try:
            socket.create_connection(("127.0.0.1", PORT), timeout=1).close()
            return
        except OSError:
            time.sleep(0.1)
    sys.exit(f"nothing listens on 127.0.0.1:{PORT} after {timeout} s")


def open_signaling(index):
    source = f"127.0.{1 + index // PER_SOURCE}.{1 + index % PER_SOURCE}"
    s = socket.create_connection(("127.0.0.1", PORT), source_address=(source, 0))
    key = base64.b64encode(os.urandom(16)).decode()
    s.sendall(
        (
            f"GET /ws HTTP/1.1\r\nHost: localhost:{PORT}\r\nUpgrade: websocket\r\n"
            f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\n"
            "Sec-WebSocket-Version: 13\r\n\r\n"
        ).encode()
    )
    status = s.recv(4096).split(b"\r\n")[0]
    if b" 101 " not in status:
        sys.exit(f"connection {index}: no upgrade: {status!r}")
    # One masked text frame (clients must mask): the server reads once.
    payload = b'{"type":"hello"}'
    mask = os.urandom(4)
    masked = bytes(b ^ mask[i % 4] for i, b in enumerate(payload))
    s.sendall(bytes([0x81, 0x80 | len(payload)]) + mask + masked)
    return s


def main():
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    binary, count = sys.argv[1], int(sys.argv[2])
    server = subprocess.Popen(
        [binary], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    try:
        wait_for_port(30)
        time.sleep(1)
        idle = rss_kib(server.pid)
        connections = [open_signaling(i) for i in range(count)]
        time.sleep(2)
        loaded = rss_kib(server.pid)
        print(
            f"server RSS idle {idle} KiB, with {count} signaling connections "
            f"{loaded} KiB: {(loaded - idle) / count:.1f} KiB per connection"
        )
        for c in connections:
            c.close()
    finally:
        server.terminate()
        server.wait(timeout=10)


if __name__ == "__main__":
    main()
