"""A long pcapng stream of many short TCP sessions, generated in numpy chunks (for pipes).

Session ``i`` (client 10.(i>>16).(i>>8).i, port 20000 + i % 40000, to 192.0.2.80:80) starts
``i / rate_per_s`` seconds into the stream and is over within 5 ms: SYN, SYN-ACK, ACK, 8 bytes
of request, FIN-ACK from the server, FIN-ACK and the last ACK from the client. Sessions never
overlap, so the stream is in time order. Every record is 62 bytes (a 54-byte header plus 8
bytes that are the request's payload or Ethernet padding), one Enhanced Packet Block each.
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
from helpers import Iface, pcapng_idb, pcapng_shb

START_S = 1_700_000_000
PAYLOAD = 8
EPB = np.dtype([
    ("btype", "<u4"), ("blen", "<u4"), ("iface", "<u4"), ("ts_hi", "<u4"), ("ts_lo", "<u4"),
    ("caplen", "<u4"), ("origlen", "<u4"),
    ("eth", "V12"), ("ethertype", ">u2"),
    ("ver_ihl", "u1"), ("tos", "u1"), ("ip_len", ">u2"), ("ip_id", ">u2"), ("frag", ">u2"), ("ttl", "u1"),
    ("proto", "u1"), ("ip_sum", ">u2"), ("src", ">u4"), ("dst", ">u4"),
    ("sport", ">u2"), ("dport", ">u2"), ("seq", ">u4"), ("ack", ">u4"), ("off", "u1"), ("flags", "u1"),
    ("win", ">u2"), ("tcp_sum", ">u2"), ("urg", ">u2"),
    ("payload", f"V{PAYLOAD}"), ("pad", "V2"), ("blen_again", "<u4"),
])
CAPLEN = EPB.itemsize - 28 - 2 - 4  # the packet bytes: up to the padding before the block trailer
SERVER = (192 << 24) | (2 << 8) | 80
CLIENT_ISN, SERVER_ISN = 1000, 5000
SYN, FIN, ACK, PSH = 0x02, 0x01, 0x10, 0x08
# One session: (from client, flags, seq offset, ack offset, payload bytes, time offset in us)
SCRIPT = (
    (True, SYN, 0, -1, 0, 0),
    (False, SYN | ACK, 0, 1, 0, 500),
    (True, ACK, 1, 1, 0, 1000),
    (True, PSH | ACK, 1, 1, PAYLOAD, 1500),
    (False, FIN | ACK, 1, 1 + PAYLOAD, 0, 2500),
    (True, FIN | ACK, 1 + PAYLOAD, 2, 0, 3500),
    (False, ACK, 2, 2 + PAYLOAD, 0, 4000),
)
PACKETS_PER_SESSION = len(SCRIPT)


def short_sessions_pcapng(sessions: int, rate_per_s: float, chunk_sessions: int = 20_000) -> Iterator[bytes]:
    """The stream in pieces: the section and interface header, then chunks of sessions."""
    yield pcapng_shb() + pcapng_idb(Iface(linktype=1))
    for first in range(0, sessions, chunk_sessions):
        yield _chunk(np.arange(first, min(first + chunk_sessions, sessions), dtype=np.int64), rate_per_s).tobytes()


def _chunk(ids: np.ndarray, rate_per_s: float) -> np.ndarray:
    records = np.zeros((ids.size, PACKETS_PER_SESSION), EPB)
    client = (10 << 24) | (ids & 0xFFFFFF)
    client_port = 20000 + ids % 40000
    start_us = START_S * 1_000_000 + (ids * 1_000_000 / rate_per_s).astype(np.int64)
    for k, (from_client, flags, seq, ack, length, at_us) in enumerate(SCRIPT):
        r = records[:, k]
        ts = start_us + at_us
        r["ts_hi"], r["ts_lo"] = ts >> 32, ts & 0xFFFFFFFF
        r["src"], r["dst"] = (client, SERVER) if from_client else (SERVER, client)
        r["sport"], r["dport"] = (client_port, 80) if from_client else (80, client_port)
        own, peer = (CLIENT_ISN, SERVER_ISN) if from_client else (SERVER_ISN, CLIENT_ISN)
        r["seq"] = own + seq
        r["ack"] = 0 if ack < 0 else peer + ack
        r["flags"] = flags
        r["ip_len"] = 40 + length
    records["btype"], records["blen"], records["blen_again"] = 6, EPB.itemsize, EPB.itemsize
    records["caplen"] = records["origlen"] = CAPLEN
    records["ethertype"], records["ver_ihl"], records["ttl"], records["proto"] = 0x0800, 0x45, 64, 6
    records["off"], records["win"] = 5 << 4, 65535
    return records.ravel()
