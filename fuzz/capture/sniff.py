#!/usr/bin/env python3
"""Records every IPv4 UDP and TCP packet on the loopback interface into a pcap file until
SIGTERM/SIGINT (root: an AF_PACKET socket). A stand-in for `tcpdump -i lo -w FILE udp or tcp`
on machines without tcpdump. Usage: sniff.py OUT.pcap"""
import signal
import socket
import struct
import sys
import time

ETH_P_ALL = 0x0003


def main():
    out = open(sys.argv[1], "wb")
    # pcap global header: magic, v2.4, tz 0, sigfigs 0, snaplen 65535, linktype 1 (Ethernet)
    out.write(struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, 1))
    s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(ETH_P_ALL))
    s.bind(("lo", 0))
    s.settimeout(0.2)
    stop = []
    signal.signal(signal.SIGTERM, lambda *_: stop.append(1))
    signal.signal(signal.SIGINT, lambda *_: stop.append(1))
    while not stop:
        try:
            frame, addr = s.recvfrom(65535 + 14)
        except socket.timeout:
            continue
        # On lo every packet is seen once as outgoing (pkttype 4); keep only those.
        if addr[2] != socket.PACKET_OUTGOING or len(frame) < 34:
            continue
        if frame[12:14] != b"\x08\x00" or frame[23] not in (6, 17):
            continue
        now = time.time()
        out.write(struct.pack("<IIII", int(now), int((now % 1) * 1e6), len(frame), len(frame)))
        out.write(frame)
    out.close()


if __name__ == "__main__":
    main()
