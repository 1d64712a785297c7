#!/usr/bin/env python3
"""Hand-build the attack and failure captures no polite real stack produces on its own:
sample_pcaps/anomaly-*.pcap (except anomaly-real-*, see make_anomaly_samples.py).

    python scripts/build_anomaly_samples.py          # writes every file and its expected JSON

Each capture is a story told one packet per line with the helpers of ``_pcapwriter`` (valid
checksums, Linux-like options), timestamps on whole microseconds, built from a fixed random
seed: byte-for-byte reproducible. ``sample_pcaps/expected/anomaly-<name>.json`` records what
was put in (the story, the hosts, the counts) and the anomalies the detectors must report.
Addresses come from the documentation ranges (192.0.2.0/24, 198.51.100.0/24, 203.0.113.0/24);
spoofed flood sources from the benchmarking range 198.18.0.0/15.
"""

from __future__ import annotations

import json
import random
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _pcapwriter import LINKTYPE_ETHERNET, T0_NS, Capture, Conv, Seg, eth, write_pcap

OUT = Path(__file__).resolve().parent.parent / "sample_pcaps"
US = 1_000  # ns
MS = 1_000_000
S = 1_000_000_000


class Story:
    """Packets at given times, written in time order (several conversations interleave)."""

    def __init__(self) -> None:
        self.events: list[tuple[int, int, Seg]] = []

    def at(self, t_ns: int, seg: Seg) -> None:
        self.events.append((T0_NS + t_ns - t_ns % US, len(self.events), seg))

    def write(self, name: str, expected: dict) -> None:
        cap = Capture()
        link = eth()
        for ts, _, seg in sorted(self.events, key=lambda e: (e[0], e[1])):
            cap.tcp(seg, link, ts_ns=ts)
        write_pcap(OUT / f"{name}.pcap", cap.records, LINKTYPE_ETHERNET)
        expected = {"file": f"{name}.pcap", "made_by": "scripts/build_anomaly_samples.py", "records": len(cap.records),
                    "counts": {"tcp": len(cap.records), "other_ip": 0, "non_ip": 0, "malformed": 0}, **expected}
        (OUT / "expected" / f"{name}.json").write_text(json.dumps(expected, indent=2) + "\n")
        print(f"{name}.pcap: {len(cap.records)} records, {(OUT / f'{name}.pcap').stat().st_size} bytes")


def handshake(story: Story, conv: Conv, t: int, rtt: int = 200 * US) -> int:
    """SYN, SYN-ACK, ACK from ``t``; returns the time of the ACK."""
    story.at(t, conv.c("S"))
    story.at(t + rtt // 2, conv.s("SA"))
    story.at(t + rtt, conv.c("A"))
    return t + rtt


def syn_flood(rng: random.Random) -> None:
    """1,200 spoofed SYNs in 1.2 s at a web server that still serves 6 real clients."""
    story = Story()
    target = ("198.51.100.20", 80)
    for k in range(6):  # real clients before, during and after the flood
        conv = Conv((f"192.0.2.{10 + k}", 41000 + k), target, isn_c=1000 * k + 7, ts=False)
        t = handshake(story, conv, k * 400 * MS)
        story.at(t + 100 * US, conv.c("PA", b"GET / HTTP/1.1\r\nHost: x\r\n\r\n"))
        story.at(t + 300 * US, conv.s("PA", b"HTTP/1.1 204 No Content\r\n\r\n"))
        story.at(t + 400 * US, conv.c("FA"))
        story.at(t + 500 * US, conv.s("FA"))
        story.at(t + 600 * US, conv.c("A"))
    sources = set()
    flood_start, n_syns, answered = 500 * MS, 1200, 40
    for k in range(n_syns):
        src = f"198.{18 + rng.randrange(2)}.{rng.randrange(256)}.{rng.randrange(1, 255)}"
        sources.add(src)
        conv = Conv((src, rng.randrange(1024, 65536)), target, isn_c=rng.getrandbits(32), ts=False)
        t = flood_start + k * MS + rng.randrange(1000) * US
        story.at(t, conv.c("S", opts=(), win=512))
        if k < answered:  # the first ones get SYN-ACKs (retransmitted once), then the queue is full
            story.at(t + 30 * US, conv.s("SA"))
            story.at(t + 1 * S + 30 * US, conv.s("SA", seq=conv.server.nxt - 1, advance=False))
    story.write("anomaly-syn-flood", {
        "story": "6 real clients (192.0.2.10-15) each fetch one page from 198.51.100.20:80, 0.4 s apart; from "
                 "0.5 s, 1,200 SYNs (Win 512, no options) from random spoofed 198.18.0.0/15 addresses arrive "
                 "within 1.2 s; the server answers the first 40 with SYN-ACKs (each retransmitted 1 s later), "
                 "then no more",
        "target": list(target), "flood_syns": n_syns, "flood_sources": len(sources), "synacks_answered": answered,
        "real_clients": 6,
        "anomalies": [{"kind": "syn_flood", "target_addr": target[0], "target_port": target[1]}],
    })


def scans() -> None:
    """A SYN scan of 30 ports, a stealth scan of 8 ports, and a sweep of port 3389 over 40 hosts."""
    story = Story()
    syn_scanner, syn_host, open_ports = "203.0.113.66", "198.51.100.30", {22, 80, 443}
    for k, port in enumerate(range(1, 31)):
        conv = Conv((syn_scanner, 50000 + k), (syn_host, port), isn_c=0x10000 * k + 1, ts=False)
        t = k * 10 * MS
        story.at(t, conv.c("S", opts=(), win=1024))
        if port in open_ports:
            story.at(t + 100 * US, conv.s("SA"))
            story.at(t + 200 * US, conv.c("R", opts=()))
        else:
            story.at(t + 100 * US, conv.s("RA", win=0, opts=()))
    open_ports_1_30 = sorted(p for p in open_ports if p <= 30)

    stealth_scanner, stealth_host = "203.0.113.77", "198.51.100.31"
    probes = [("null", "", 21), ("null", "", 22), ("fin", "F", 23), ("fin", "F", 25), ("xmas", "FPU", 80),
              ("xmas", "FPU", 110), ("syn_fin", "SF", 139), ("syn_fin", "SF", 143)]
    stealth_open = {22, 80}
    for k, (_, flags, port) in enumerate(probes):
        conv = Conv((stealth_scanner, 60000 + k), (stealth_host, port), isn_c=0x20000 * k + 1, ts=False)
        t = 2 * S + k * 50 * MS
        story.at(t, conv.c(flags, opts=(), win=1024))
        if port not in stealth_open:  # closed ports answer RST,ACK; open ones stay silent (RFC 9293 3.10.7.1)
            story.at(t + 100 * US, conv.s("RA", seq=0, win=0, opts=()))

    sweeper, port = "203.0.113.88", 3389
    for k in range(40):
        host = f"198.51.100.{101 + k}"
        conv = Conv((sweeper, 55000 + k), (host, port), isn_c=0x30000 * k + 1, ts=False)
        t = 4 * S + k * 20 * MS
        story.at(t, conv.c("S", opts=(), win=1024))
        if k < 5:
            story.at(t + 150 * US, conv.s("SA"))
            story.at(t + 300 * US, conv.c("R", opts=()))
        elif k < 20:
            story.at(t + 150 * US, conv.s("RA", win=0, opts=()))
    story.write("anomaly-scans", {
        "story": "203.0.113.66 SYN-scans ports 1-30 of 198.51.100.30 10 ms apart (22 and 80 answer SYN-ACK and "
                 "get a RST, the rest answer RST,ACK); from 2 s 203.0.113.77 sends stealth probes to "
                 "198.51.100.31 (NULL to 21, 22; FIN to 23, 25; XMAS to 80, 110; SYN+FIN to 139, 143), closed "
                 "ports answer RST,ACK, 22 and 80 stay silent; from 4 s 203.0.113.88 sweeps port 3389 on "
                 "198.51.100.101-140 (5 answer SYN-ACK and get a RST, 15 refuse, 20 stay silent)",
        "syn_scan": {"scanner": syn_scanner, "host": syn_host, "ports": 30, "open": open_ports_1_30},
        "stealth_scan": {"scanner": stealth_scanner, "host": stealth_host,
                         "probes": [{"kind": kind, "port": p} for kind, _, p in probes], "open": sorted(stealth_open)},
        "sweep": {"scanner": sweeper, "port": port, "hosts": 40, "answered": 5, "refused": 15, "silent": 20},
        "anomalies": [{"kind": "port_scan", "target_addr": syn_host}, {"kind": "port_scan", "target_addr": stealth_host},
                      {"kind": "address_sweep", "target_port": port}],
    })


def rst_storm() -> None:
    """150 idle established sessions, all reset by their server within 0.3 s."""
    story = Story()
    server = ("198.51.100.40", 443)
    for k in range(150):
        conv = Conv((f"192.0.2.{1 + k % 50}", 42000 + k), server, isn_c=0x40000 * k + 5, ts=False)
        handshake(story, conv, k * 10 * MS)
        story.at(5 * S + k * 2 * MS, conv.s("RA", opts=()))
    story.write("anomaly-rst-storm", {
        "story": "150 clients (192.0.2.1-50, 3 sessions each) open sessions to 198.51.100.40:443 10 ms apart and "
                 "send nothing; at 5 s the server resets all of them, 2 ms apart",
        "server": list(server), "sessions": 150, "rsts": 150, "peers": 50,
        "anomalies": [{"kind": "rst_storm", "target_addr": server[0]}],
    })


def rst_injection() -> None:
    """A download cut by a forged in-window RST while the real server keeps sending."""
    story = Story()
    conv = Conv(("192.0.2.50", 40000), ("198.51.100.50", 80), isn_c=0x11111111, isn_s=0x22222222)
    t = handshake(story, conv, 0)
    story.at(t + 100 * US, conv.c("PA", b"GET /file HTTP/1.1\r\nHost: example\r\n\r\n" + b"x" * 64))
    t += 1 * MS
    for k in range(5):
        story.at(t + k * 100 * US, conv.s("A", bytes([65 + k]) * 1000))
        if k % 2:
            story.at(t + k * 100 * US + 50 * US, conv.c("A"))
    t += 2 * MS
    forged = conv.s("RA", opts=(), advance=False)  # seq = the server's next byte: exactly in window
    story.at(t, forged)
    for k in range(3):  # the real server never sent that RST: its data keeps coming
        story.at(t + (k + 1) * 200 * US, conv.s("PA" if k == 2 else "A", bytes([70 + k]) * 1000))
        story.at(t + (k + 1) * 200 * US + 30 * US, conv.c("R", opts=(), ack=0))  # the client has forgotten it
    story.write("anomaly-rst-injection", {
        "story": "192.0.2.50:40000 downloads from 198.51.100.50:80; after 5 data segments a RST,ACK with the "
                 "server's address and exactly the server's next sequence number arrives (forged); the client "
                 "drops the session, but the server goes on sending 3 more 1000-byte segments, each answered "
                 "by a RST from the client",
        "forged_rst": {"from": "198.51.100.50:80", "frame": 11}, "packets_after": 3, "bytes_after": 3000,
        "anomalies": [{"kind": "rst_teardown", "target_addr": "198.51.100.50"},
                      {"kind": "injection", "target_addr": "198.51.100.50"}],
    })


def idle_exhaustion() -> None:
    """60 slowloris-like sessions: a request line, then one header line every 15 s, never finished."""
    story = Story()
    server = ("198.51.100.60", 80)
    for k in range(60):
        conv = Conv((f"192.0.2.{61 + k % 3}", 43000 + k), server, isn_c=0x50000 * k + 9, ts=False)
        t = handshake(story, conv, k * 50 * MS)
        story.at(t + 1 * MS, conv.c("PA", b"GET / HTTP/1.1\r\n"))
        story.at(t + 1 * MS + 200 * US, conv.s("A"))
        for beat in range(1, 5):
            story.at(t + beat * 15 * S, conv.c("PA", b"X-a: b\r\n"))
            story.at(t + beat * 15 * S + 200 * US, conv.s("A"))
    story.write("anomaly-idle-exhaustion", {
        "story": "60 sessions from 192.0.2.61-63 to 198.51.100.60:80 open within 3 s; each sends a request "
                 "line, then an 8-byte header line every 15 s for 60 s, never ending the request; the capture "
                 "ends with all 60 still open",
        "server": list(server), "sessions": 60, "sources": 3, "orig_bytes_each": 16 + 4 * 8,
        "anomalies": [{"kind": "idle_exhaustion", "target_addr": server[0], "target_port": server[1]}],
    })


def backlog_synack() -> None:
    """Linux's full accept queue as the references describe it (tcp_abort_on_overflow = 0): the client's
    handshake ACK and its data are captured, the server ignores them and retransmits its SYN-ACK."""
    story = Story()
    server = ("198.51.100.70", 8080)
    for k in range(3):  # accepted into the queue (the application never takes them out)
        conv = Conv((f"192.0.2.{71 + k}", 44000 + k), server, isn_c=0x60000 * k + 3, isn_s=0x7000 * k + 1)
        t = handshake(story, conv, k * 100 * MS)
        story.at(t + 100 * US, conv.c("PA", b"hello" * 10))
        story.at(t + 200 * US, conv.s("A"))
    for k in range(4):  # queue full: ACK dropped, SYN-ACK retransmitted at 1 s and 3 s, data never ACKed
        conv = Conv((f"192.0.2.{81 + k}", 45000 + k), server, isn_c=0x61000 * k + 3, isn_s=0x8000 * k + 1)
        t0 = 500 * MS + k * 50 * MS
        t = handshake(story, conv, t0)
        story.at(t + 100 * US, conv.c("PA", b"hello" * 10))
        first_data_seq = conv.client.nxt - 50
        for retry, after in enumerate((300 * MS, 900 * MS, 2100 * MS)):
            story.at(t + after, conv.c("PA", b"hello" * 10, seq=first_data_seq))
        for after in (1 * S, 3 * S):
            story.at(t0 + 100 * US + after, conv.s("SA", seq=conv.server.nxt - 1, ack=conv.client.nxt - 50,
                                                   advance=False))
            story.at(t0 + 200 * US + after, conv.c("A", seq=conv.client.nxt, ack=conv.server.nxt, advance=False))
    story.write("anomaly-backlog-synack", {
        "story": "3 clients connect to 198.51.100.70:8080 and send 50 bytes, acknowledged (the queue fills); "
                 "from 0.5 s 4 more complete the handshake as the clients see it and send 50 bytes, but the "
                 "server drops their ACKs: it retransmits its SYN-ACK 1 s and 3 s after the SYN, the clients "
                 "re-ACK, and retransmit their data at 0.3, 0.9 and 2.1 s, never acknowledged",
        "server": list(server), "accepted": 3, "overflowed": 4,
        "anomalies": [{"kind": "backlog_overflow", "target_addr": server[0], "target_port": server[1],
                       "synack_after_ack": 4, "data_unacked": 4}],
    })


def backscatter(rng: random.Random) -> None:
    """SYN-ACKs and RSTs from 120 servers answering SYNs that carried our address as their source."""
    story = Story()
    victim = "198.51.100.80"
    peer = ("203.0.113.200", 443)
    # its own traffic: a full session, one caught mid-stream, one caught after its SYN, and a late RST
    # from the same peer for an older connection: none of them unsolicited
    conv = Conv((victim, 50000), peer, isn_c=0x70000001, ts=False)
    t = handshake(story, conv, 0)
    story.at(t + 100 * US, conv.c("PA", b"hello"))
    story.at(t + 300 * US, conv.s("PA", b"world"))
    story.at(t + 400 * US, conv.c("FA"))
    story.at(t + 500 * US, conv.s("FA"))
    story.at(t + 600 * US, conv.c("A"))
    story.at(100 * MS, Conv((victim, 49000), peer, ts=False).s("RA", seq=0, win=0, opts=()))
    mid = Conv((victim, 50001), ("203.0.113.201", 80), isn_c=0x70000002, ts=False)
    for k in range(3):
        story.at(200 * MS + k * MS, mid.s("A", b"x" * 1000))
        story.at(200 * MS + k * MS + 100 * US, mid.c("A"))
    late = Conv((victim, 50002), ("203.0.113.202", 8080), isn_c=0x70000003, ts=False)
    late.client.nxt += 1  # its SYN went out before the capture started
    story.at(300 * MS, late.s("SA"))
    story.at(300 * MS + 100 * US, late.c("A"))
    story.at(300 * MS + 200 * US, late.c("PA", b"GET / HTTP/1.1\r\n\r\n"))
    story.at(300 * MS + 900 * US, late.s("A"))
    # the backscatter: 1 s of SYN-ACKs (80 web servers, 2 each; the victim resets every one) and
    # RST,ACKs (40 servers with the port closed: 20 on ssh, 20 on 25565)
    replies = [(f"203.0.113.{1 + k % 80}", 80 if k % 2 else 443, "SA") for k in range(160)]
    replies += [(f"192.0.2.{101 + k}", 22 if k < 20 else 25565, "RA") for k in range(40)]
    rng.shuffle(replies)
    for k, (server, port, flags) in enumerate(replies):
        spoofed = Conv((victim, rng.randrange(1024, 65536)), (server, port), isn_c=rng.getrandbits(32) + 1,
                       isn_s=rng.getrandbits(32), ts=False)
        t = 1 * S + k * 5 * MS + rng.randrange(1000) * US
        if flags == "SA":
            story.at(t, spoofed.s("SA"))
            story.at(t + 50 * US, spoofed.c("R", ack=0, opts=()))  # RFC 9293: an unexpected SYN-ACK gets a RST
        else:
            story.at(t, spoofed.s("RA", seq=0, win=0, opts=()))
    story.write("anomaly-backscatter", {
        "story": "198.51.100.80 talks to 3 servers (one full session, one caught mid-stream, one caught after its "
                 "SYN) and gets a late RST for an older connection; from 1 s, for 1 s, servers answer SYNs that "
                 "carried its address as their source: 160 SYN-ACKs from 80 web servers 203.0.113.1-80 (ports 80 "
                 "and 443, 2 each), each reset by 198.51.100.80 at once, and 40 RST,ACKs from 192.0.2.101-140 "
                 "(port 22 or 25565 closed), interleaved, one every 5 ms",
        "target": victim, "synacks": 160, "rsts": 40, "reflectors": 120, "answered_with_rst": 160,
        "ports": [22, 80, 443, 25565],
        "anomalies": [{"kind": "backscatter", "target_addr": victim}],
        "absorbed": [{"kind": "rst_storm", "target_addr": victim}],
    })


def main() -> None:
    rng = random.Random(20261122)
    syn_flood(rng)
    scans()
    rst_storm()
    rst_injection()
    idle_exhaustion()
    backlog_synack()
    backscatter(rng)


if __name__ == "__main__":
    main()
