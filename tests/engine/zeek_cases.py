"""Hand-built TCP conversations for the Zeek conn_state/history tests, one line per packet.

``C(...)`` is a packet from the client 10.0.0.1:40000, ``S(...)`` from the server 10.0.0.2:80;
``zeek(tmp_path, [...])`` writes them as a pcap, runs decode -> flows -> the Zeek kernel and
returns one ``(conn_state, history, orig_state, resp_state)`` per session, in session order.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from helpers import eth, ipv4, tcp, write_pcap
from tcpanalyze.flows import FlowTable
from tcpanalyze.packets import decode_capture
from tcpanalyze.engine.zeek import conn_states, process, zeek_table

CLIENT, CLIENT_PORT = "10.0.0.1", 40000
SERVER, SERVER_PORT = "10.0.0.2", 80
C_ISN, S_ISN = 1000, 5000


def C(flags: str, seq: int, ack: int = 0, data: bytes = b"", win: int = 65535, sport: int = CLIENT_PORT) -> bytes:
    return eth(ipv4(CLIENT, SERVER, tcp(sport, SERVER_PORT, seq=seq, ack=ack, flags=flags, win=win, payload=data)))


def S(flags: str, seq: int, ack: int = 0, data: bytes = b"", win: int = 65535, dport: int = CLIENT_PORT) -> bytes:
    return eth(ipv4(SERVER, CLIENT, tcp(SERVER_PORT, dport, seq=seq, ack=ack, flags=flags, win=win, payload=data)))


def handshake() -> list[bytes]:
    """SYN, SYN-ACK, ACK: history ``ShA``, both ESTABLISHED; next client seq 1001, server 5001."""
    return [C("S", C_ISN), S("SA", S_ISN, C_ISN + 1), C("A", C_ISN + 1, S_ISN + 1)]


def zeek_sessions(path: Path | str, bad_checksum: tuple[int, ...] = ()) -> list[tuple[str, str, str, str]]:
    """Run a capture through decode, flows and the Zeek kernel; ``bad_checksum``: packet indexes."""
    packets = decode_capture(str(path)).packets
    n = len(packets)
    flows = FlowTable(8)
    slot, dirn, new = np.empty(n, np.int64), np.empty(n, np.uint8), np.empty(n, np.uint8)
    flows.assign(packets, slot, dirn, new, np.empty((2, n), np.uint32))
    table = zeek_table(flows.state.capacity)
    bad = np.zeros(n, np.bool_)
    bad[list(bad_checksum)] = True
    flipped = flows.state.column("u8", "flipped")
    process(table, packets, slot, dirn, flipped, bad)
    session_id = flows.state.column("i64", "session_id")
    live = np.flatnonzero(session_id >= 0)
    slots = live[np.argsort(session_id[live])]
    return list(zip(*conn_states(table, slots, flipped[slots])))


def zeek(tmp_path: Path, packets: list[bytes], bad_checksum: tuple[int, ...] = ()) -> list[tuple[str, str, str, str]]:
    path = write_pcap(tmp_path / "case.pcap", packets)
    return zeek_sessions(path, bad_checksum)
