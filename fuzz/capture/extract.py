#!/usr/bin/env python3
"""Turns a loopback capture of fuzz/capture/traffic.mjs (sniff.py's pcap) into seed inputs:

  stun/  each distinct kind of STUN message Chrome and the server exchanged (one record)
  dtls/  Chrome's ClientHello and its later flights (server side), the server's flights
         (client side), as record sequences
  rtp/   runs of RTP packets per flow: SRTP from Chrome (header and extensions in clear)
         and the plain origin->edge relay RTP, payloads cut short, as record sequences
  rtcp/  the relay's plain RTCP compounds, as record sequences
  wcs/   every distinct websocket text frame a client sent (Web SDK, and the origin's relay
         client), one per file
  sdp/   the SDP offers and answers carried in those frames and the server's replies

Record sequences use the harness framing (fuzz/harness/src/records.rs): [aux][len u16][bytes].
Usage: extract.py OUT_DIR CAPTURE.pcap..."""
import hashlib
import json
import os
import struct
import sys
from collections import defaultdict


def packets(path):
    with open(path, "rb") as f:
        data = f.read()
    pos = 24
    while pos + 16 <= len(data):
        _, _, incl, _ = struct.unpack_from("<IIII", data, pos)
        frame = data[pos + 16 : pos + 16 + incl]
        pos += 16 + incl
        ip = frame[14:]
        ihl = (ip[0] & 0x0F) * 4
        proto = ip[9]
        total = struct.unpack_from(">H", ip, 2)[0]
        body = ip[ihl:total]
        if proto == 17 and len(body) >= 8:
            sport, dport = struct.unpack_from(">HH", body, 0)
            yield "udp", sport, dport, body[8:], None
        elif proto == 6 and len(body) >= 20:
            sport, dport, seq = struct.unpack_from(">HHI", body, 0)
            off = (body[12] >> 4) * 4
            yield "tcp", sport, dport, body[off:], seq


def records(items, aux=0):
    out = bytearray()
    for item in items:
        out += bytes([aux]) + struct.pack(">H", len(item)) + item
    return bytes(out)


def shorten(packet, keep=120):
    """An RTP packet with its payload cut to `keep` bytes (padding flag cleared when cut): the
    headers and the start of the payload are what the parsers read; small inputs fuzz faster."""
    if len(packet) <= 12 + keep:
        return packet
    header = 12 + 4 * (packet[0] & 0x0F)
    if packet[0] & 0x10 and len(packet) >= header + 4:
        header += 4 + 4 * struct.unpack_from(">H", packet, header + 2)[0]
    cut = packet[: header + keep]
    return bytes([cut[0] & ~0x20]) + cut[1:] if len(cut) < len(packet) else packet


def ws_frames(stream, masked):
    """Text frames of one direction of a websocket connection (after the HTTP upgrade)."""
    head = stream.find(b"\r\n\r\n")
    if head < 0 or not (stream.startswith(b"GET ") or stream.startswith(b"HTTP/1.1 101")):
        return []
    pos, frames = head + 4, []
    while pos + 2 <= len(stream):
        b0, b1 = stream[pos], stream[pos + 1]
        n, pos = b1 & 0x7F, pos + 2
        if n == 126:
            n, pos = struct.unpack_from(">H", stream, pos)[0], pos + 2
        elif n == 127:
            n, pos = struct.unpack_from(">Q", stream, pos)[0], pos + 8
        key = b""
        if b1 & 0x80:
            key, pos = stream[pos : pos + 4], pos + 4
        payload = stream[pos : pos + n]
        pos += n
        if len(payload) < n:
            break
        if key:
            payload = bytes(c ^ key[i % 4] for i, c in enumerate(payload))
        if b0 & 0x0F == 1 and bool(key) == masked:
            frames.append(payload)
    return frames


def main():
    out = sys.argv[1]
    seeds = defaultdict(dict)

    def seed(target, data):
        name = "real-" + hashlib.sha1(data).hexdigest()[:16]
        seeds[target][name] = data

    flows = defaultdict(list)  # (sport, dport) -> udp payloads in order
    tcp = defaultdict(dict)  # (sport, dport) -> {seq: payload}
    for path in sys.argv[2:]:
        for proto, sport, dport, payload, seq in packets(path):
            if proto == "udp":
                flows[(sport, dport)].append(payload)
            elif payload:
                tcp[(sport, dport)].setdefault(seq, payload)

    ice_flows = {k for k, v in flows.items() if any(p and p[0] < 4 for p in v)}
    stun_kinds = {}
    for key, datagrams in flows.items():
        stun = [p for p in datagrams if len(p) >= 20 and p[0] < 4 and p[4:8] == b"\x21\x12\xa4\x42"]
        for p in stun:
            attrs, pos = [], 20
            while pos + 4 <= len(p):
                t, n = struct.unpack_from(">HH", p, pos)
                attrs.append(t)
                pos += 4 + (n + 3) // 4 * 4
            stun_kinds.setdefault((p[:2], tuple(attrs)), p)
        dtls = [p for p in datagrams if p and 20 <= p[0] <= 63]
        if dtls:
            hello = [p for p in dtls if p[0] == 22 and len(p) > 25 and p[13] == 1]
            side = 0 if hello else 1  # Chrome sends the ClientHello: we answer as the server
            seed("dtls", bytes([side]) + records(dtls[:8]))
        media = [p for p in datagrams if len(p) >= 12 and 128 <= p[0] <= 191]
        rtcp = [p for p in media if 192 <= p[1] <= 223]
        rtp = [p for p in media if not 192 <= p[1] <= 223]
        rtp = [shorten(p) for p in rtp]
        for i in range(0, min(len(rtp), 96), 12):
            # Select byte 0..3 picks the harness's publisher; aux 5 = 20 ms between packets.
            seed("rtp", bytes([i // 12 % 4]) + records(rtp[i : i + 12], aux=5))
        if key not in ice_flows:  # plain relay RTCP (SRTCP bodies are encrypted)
            for i in range(0, min(len(rtcp), 60), 20):
                seed("rtcp", bytes([i // 20 % 4]) + records(rtcp[i : i + 20], aux=25))
    for p in stun_kinds.values():
        seed("stun", records([p]))

    for (sport, dport), parts in tcp.items():
        stream = b"".join(parts[s] for s in sorted(parts))
        for masked in (True, False):
            for frame in ws_frames(stream, masked):
                if masked:
                    seed("wcs", frame)
                try:
                    msg = json.loads(frame)
                except ValueError:
                    continue
                for item in msg.get("data") or []:
                    if isinstance(item, dict) and isinstance(item.get("sdp"), str):
                        seed("sdp", item["sdp"].encode())
                    elif isinstance(item, str) and item.startswith("v=0"):
                        seed("sdp", item.encode())

    for target, files in seeds.items():
        os.makedirs(os.path.join(out, target), exist_ok=True)
        for name, data in files.items():
            with open(os.path.join(out, target, name), "wb") as f:
                f.write(data)
        print(f"{target}: {len(files)} seeds")


if __name__ == "__main__":
    main()
