"""Independent readings of the sample captures (dpkt, tshark) that check metrics are compared with."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import dpkt
import numpy as np

REPO = Path(__file__).resolve().parents[2]
SAMPLES = REPO / "sample_pcaps"
SYN, FIN, ACK = dpkt.tcp.TH_SYN, dpkt.tcp.TH_FIN, dpkt.tcp.TH_ACK


def sample(name: str) -> Path:
    return SAMPLES / name


def expected(name: str) -> dict:
    return json.loads((SAMPLES / "expected" / f"{name.split('.')[0]}.json").read_text())


def tcp_packets(path: Path):
    """(ts, ip, tcp, payload length) for every Ethernet/IP/TCP frame, in file order."""
    with open(path, "rb") as f:
        for ts, buf in dpkt.pcap.Reader(f):
            ip = dpkt.ethernet.Ethernet(buf).data
            tcp = ip.data
            length = ip.len - ip.hl * 4 - tcp.off * 4 if isinstance(ip, dpkt.ip.IP) else ip.plen - tcp.off * 4
            yield ts, ip, tcp, length


def _conversation(ip, tcp) -> frozenset:
    return frozenset({(ip.src, tcp.sport), (ip.dst, tcp.dport)})


def retransmissions(path: Path, data_only: bool = False) -> tuple[dict[int, int], dict[int, int]]:
    """Per session (numbered by first packet): packets that re-send sequence space already sent
    (data, SYN or FIN starting below the highest sequence end sent so far in that direction; with
    ``data_only``, those carrying data: what ``retransmission_rate`` counts), and packets carrying data."""
    sessions: dict[frozenset, int] = {}
    highest: dict[tuple, int] = {}
    retrans: dict[int, int] = {}
    data: dict[int, int] = {}
    for _, ip, tcp, length in tcp_packets(path):
        sid = sessions.setdefault(_conversation(ip, tcp), len(sessions))
        retrans.setdefault(sid, 0)
        data.setdefault(sid, 0)
        data[sid] += length > 0
        span = length + bool(tcp.flags & SYN) + bool(tcp.flags & FIN)
        if span == 0:
            continue
        key = (ip.src, tcp.sport, ip.dst, tcp.dport)
        if key in highest and ((tcp.seq - highest[key]) & 0xFFFFFFFF) >= 0x80000000:
            retrans[sid] += length > 0 or not data_only
        end = (tcp.seq + span) & 0xFFFFFFFF
        if key not in highest or ((end - highest[key]) & 0xFFFFFFFF) < 0x80000000:
            highest[key] = end
    return retrans, data


def handshake_rtts_ms(path: Path) -> list[float]:
    """Per connection: SYN to the client's first ACK after the SYN-ACK (Wireshark's iRTT), in ms."""
    syn_ts: dict[tuple, float] = {}
    synack_seen: set[tuple] = set()
    rtts = []
    for ts, ip, tcp, _ in tcp_packets(path):
        key = (ip.src, tcp.sport, ip.dst, tcp.dport)
        back = (ip.dst, tcp.dport, ip.src, tcp.sport)
        if tcp.flags & SYN and not tcp.flags & ACK:
            syn_ts.setdefault(key, ts)
        elif tcp.flags & SYN and tcp.flags & ACK and back in syn_ts:
            synack_seen.add(back)
        elif tcp.flags & ACK and key in synack_seen:
            rtts.append((ts - syn_ts[key]) * 1000)
            synack_seen.discard(key)
    return rtts


def zero_window_stall_s(path: Path, receiver_port: int) -> float:
    """From the receiver's first zero-window advert to its next non-zero window."""
    start = None
    for ts, _, tcp, _ in tcp_packets(path):
        if tcp.sport != receiver_port:
            continue
        if tcp.win == 0 and start is None:
            start = ts
        elif start is not None and tcp.win > 0:
            return ts - start
    raise AssertionError("no zero-window stall in the capture")


def tshark_ack_rtts_ms(path: Path) -> list[float] | None:
    """Wireshark's tcp.analysis.ack_rtt of every frame that has one, in ms (None without tshark)."""
    if shutil.which("tshark") is None:
        return None
    out = subprocess.run(["tshark", "-n", "-r", str(path), "-Y", "tcp.analysis.ack_rtt", "-T", "fields",
                          "-e", "tcp.analysis.ack_rtt"], capture_output=True, text=True, check=True).stdout
    return [float(v) * 1000 for v in out.split()]


def percentiles(values, qs=(50, 90, 95, 99, 100)) -> list[float]:
    return [float(np.percentile(np.asarray(values, float), q)) for q in qs]
