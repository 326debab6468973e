#!/usr/bin/env python3
"""Listener and prober for the firewall test (tests/appliance/firewall-*.sh).

  netns-probe.py listen tcp:443 udp:10000 ...   answer on these ports
  netns-probe.py tcp HOST PORT                  prints open or closed
  netns-probe.py udp HOST PORT                  prints open or closed
  netns-probe.py burst HOST PORT N [SOURCE]     prints how many of N new
                                                connections got through
"""
import selectors
import socket
import sys
import threading
import time

TIMEOUT = 1.5


def family(host):
    return socket.AF_INET6 if ":" in host else socket.AF_INET


def serve_tcp(port):
    s = socket.socket(socket.AF_INET6, socket.SOCK_STREAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
    s.bind(("::", port))
    s.listen(4096)
    while True:
        c, _ = s.accept()
        try:
            c.sendall(b"funkraum\n")
        except OSError:
            pass
        c.close()


def serve_udp(port):
    s = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM)
    s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
    s.bind(("::", port))
    while True:
        data, peer = s.recvfrom(2048)
        s.sendto(b"funkraum:" + data, peer)


def listen(specs):
    for spec in specs:
        proto, port = spec.split(":")
        target = serve_tcp if proto == "tcp" else serve_udp
        threading.Thread(target=target, args=(int(port),), daemon=True).start()
    print("listening", flush=True)
    while True:
        time.sleep(3600)


def probe_tcp(host, port):
    s = socket.socket(family(host), socket.SOCK_STREAM)
    s.settimeout(TIMEOUT)
    try:
        s.connect((host, port))
        return s.recv(64).startswith(b"funkraum")
    except OSError:
        return False
    finally:
        s.close()


def probe_udp(host, port):
    s = socket.socket(family(host), socket.SOCK_DGRAM)
    s.settimeout(TIMEOUT)
    try:
        s.sendto(b"hello", (host, port))
        data, _ = s.recvfrom(2048)
        return data == b"funkraum:hello"
    except OSError:
        return False
    finally:
        s.close()


def burst(host, port, n, source=None):
    """Opens n connections at once (non-blocking); counts those that
    complete within TIMEOUT. SYNs dropped by the firewall never do (the
    kernel's first retransmission comes after 1 s, and then they are
    still over the limit)."""
    sel = selectors.DefaultSelector()
    socks = []
    for _ in range(n):
        s = socket.socket(family(host), socket.SOCK_STREAM)
        if source:
            s.bind((source, 0))
        s.setblocking(False)
        s.connect_ex((host, port))
        sel.register(s, selectors.EVENT_WRITE)
        socks.append(s)
    done = 0
    deadline = time.monotonic() + TIMEOUT
    while time.monotonic() < deadline and sel.get_map():
        for key, _ in sel.select(timeout=0.1):
            if key.fileobj.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR) == 0:
                done += 1
            sel.unregister(key.fileobj)
    for s in socks:
        s.close()
    return done


def main():
    cmd, args = sys.argv[1], sys.argv[2:]
    if cmd == "listen":
        listen(args)
    elif cmd in ("tcp", "udp"):
        ok = (probe_tcp if cmd == "tcp" else probe_udp)(args[0], int(args[1]))
        print("open" if ok else "closed")
    elif cmd == "burst":
        source = args[3] if len(args) > 3 else None
        print(burst(args[0], int(args[1]), int(args[2]), source))
    else:
        sys.exit(__doc__)


if __name__ == "__main__":
    main()
