#!/usr/bin/env python3
"""Sends a TURN Allocate request without credentials and prints "answered"
if the server's response (401 with a nonce, as RFC 8656 wants) comes
back, else "silent". For the TURN port check of the disk image test.

    stun-probe.py udp|tcp|tls HOST PORT

tls: TURN over TLS as browsers do it (no ALPN, STUN first), without
checking the certificate (the appliance's is self-signed).
"""
import os
import socket
import ssl
import struct
import sys

MAGIC = 0x2112A442


def main():
    proto, host, port = sys.argv[1], sys.argv[2], int(sys.argv[3])
    transaction = os.urandom(12)
    # Allocate, with REQUESTED-TRANSPORT: UDP (17).
    attribute = struct.pack("!HHBBH", 0x0019, 4, 17, 0, 0)
    request = struct.pack("!HHI", 0x0003, len(attribute), MAGIC) + transaction + attribute
    kind = socket.SOCK_DGRAM if proto == "udp" else socket.SOCK_STREAM
    s = socket.socket(socket.AF_INET, kind)
    s.settimeout(5)
    try:
        if proto == "udp":
            # Retransmitted as a STUN client would: a datagram may be lost.
            s.settimeout(1.5)
            for attempt in range(4):
                s.sendto(request, (host, port))
                try:
                    reply, _ = s.recvfrom(2048)
                    break
                except socket.timeout:
                    if attempt == 3:
                        raise
        else:
            s.connect((host, port))
            if proto == "tls":
                context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
                context.check_hostname = False
                context.verify_mode = ssl.CERT_NONE
                s = context.wrap_socket(s, server_hostname=host)
            s.sendall(request)
            reply = s.recv(2048)
        kind, _, magic = struct.unpack("!HHI", reply[:8])
        # Allocate success (0x0103) or error (0x0113) response to our
        # transaction.
        ok = kind in (0x0103, 0x0113) and magic == MAGIC and reply[8:20] == transaction
        print("answered" if ok else "silent")
    except (OSError, struct.error):
        print("silent")


if __name__ == "__main__":
    main()
