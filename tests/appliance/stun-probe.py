#!/usr/bin/env python3
"""Sends a STUN Binding request and prints "answered" if a STUN response
comes back, else "silent". For the TURN port check of the disk image test.

    stun-probe.py udp|tcp HOST PORT
"""
import os
import socket
import struct
import sys

MAGIC = 0x2112A442


def main():
    proto, host, port = sys.argv[1], sys.argv[2], int(sys.argv[3])
    transaction = os.urandom(12)
    request = struct.pack("!HHI", 0x0001, 0, MAGIC) + transaction
    kind = socket.SOCK_DGRAM if proto == "udp" else socket.SOCK_STREAM
    s = socket.socket(socket.AF_INET, kind)
    s.settimeout(5)
    try:
        if proto == "udp":
            s.sendto(request, (host, port))
            reply, _ = s.recvfrom(2048)
        else:
            s.connect((host, port))
            s.sendall(request)
            reply = s.recv(2048)
        kind, _, magic = struct.unpack("!HHI", reply[:8])
        # Success (0x0101) or error (0x0111) response to our transaction.
        ok = kind in (0x0101, 0x0111) and magic == MAGIC and reply[8:20] == transaction
        print("answered" if ok else "silent")
    except (OSError, struct.error):
        print("silent")


if __name__ == "__main__":
    main()
