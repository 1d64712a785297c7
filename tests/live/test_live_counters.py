"""The live session counters against a scripted set of sessions: a session is open until it
closes (FIN both ways, or a RST), lingers ``closed_linger_s``, then ends; a silent one ends at
the idle timeout without ever closing; ``started == open + lingering + ended`` throughout.

Packet time drives expiry (``wall_clock=False``), so each step below is exact."""

from __future__ import annotations

import socket

import numpy as np
from helpers import Rec, eth, ipv4, pcapng_bytes, tcp

from tcpanalyze.capture import CaptureInfo
from tcpanalyze.capture.pcapng import read_pcapng
from tcpanalyze.capture.sources import Cursor
from tcpanalyze.engine import EngineOptions
from tcpanalyze.pipeline.live import AckAdvances, LiveAnalysis

SERVER = "192.0.2.80"
S = 1_000_000_000
START = 1_700_000_000 * S
OPTIONS = EngineOptions(idle_timeout_s=300.0, closed_linger_s=60.0)


def packet(at_s: float, client_port: int, from_client: bool, flags: str, seq: int, ack: int = 0,
           payload: bytes = b"") -> Rec:
    ends = (("10.0.0.1", SERVER), (client_port, 80)) if from_client else ((SERVER, "10.0.0.1"), (80, client_port))
    segment = tcp(*ends[1], seq=seq, ack=ack, flags=flags, payload=payload)
    return Rec(eth(ipv4(*ends[0], segment)), START + int(at_s * S))


def handshake(at_s: float, port: int) -> list[Rec]:
    return [packet(at_s, port, True, "S", 100), packet(at_s + 0.001, port, False, "SA", 500, 101),
            packet(at_s + 0.002, port, True, "A", 101, 501)]


def request(at_s: float, port: int) -> list[Rec]:
    """The client sends 10 bytes at ``at_s``, the server acknowledges them."""
    return [packet(at_s, port, True, "PA", 101, 501, b"x" * 10), packet(at_s + 0.001, port, False, "A", 501, 111)]


FIN_BOTH_WAYS, RESET, STAYS_OPEN, HALF_CLOSED, REFUSED, UNANSWERED, SYN_LATER, SYN_LAST = range(1001, 1009)

# Every session starts within the first second.
FIRST_SECOND = sorted([
    *handshake(0.0, FIN_BOTH_WAYS), *request(0.1, FIN_BOTH_WAYS),
    packet(0.2, FIN_BOTH_WAYS, True, "FA", 111, 501), packet(0.21, FIN_BOTH_WAYS, False, "FA", 501, 112),
    packet(0.22, FIN_BOTH_WAYS, True, "A", 112, 502),
    *handshake(0.3, RESET), *request(0.4, RESET), packet(0.5, RESET, False, "R", 501),
    *handshake(0.6, STAYS_OPEN), *request(0.7, STAYS_OPEN),
    *handshake(0.8, HALF_CLOSED), packet(0.85, HALF_CLOSED, True, "FA", 101, 501),
    packet(0.86, HALF_CLOSED, False, "A", 501, 102),
    packet(0.9, REFUSED, True, "S", 100), packet(0.901, REFUSED, False, "RA", 0, 101),
    packet(0.95, UNANSWERED, True, "S", 100),
], key=lambda r: r.ts_ns)


def batch(records: list[Rec]):
    """The records as one record batch, as the live reader hands them over."""
    data = np.frombuffer(pcapng_bytes(records), np.uint8)
    [records_batch] = read_pcapng(Cursor(data, None, "scripted"), CaptureInfo("scripted"), 1000)
    return records_batch


def counts(analysis: LiveAnalysis) -> dict[str, int]:
    c = analysis.counters()
    assert c.sessions_started == c.sessions_open + c.sessions_lingering + c.sessions_ended
    return {"started": c.sessions_started, "open": c.sessions_open, "lingering": c.sessions_lingering,
            "closed": c.sessions_closed, "ended": c.sessions_ended}


def test_open_closed_and_ended_sessions_are_counted_as_they_go():
    analysis = LiveAnalysis(OPTIONS, wall_clock=False)

    step = analysis.add(batch(FIRST_SECOND))
    # FIN both ways, a RST and a refused SYN closed; a half-close, a live session and an
    # unanswered SYN are open; nothing has lingered its 60 s yet.
    assert sorted(step.closed["orig_port"]) == [FIN_BOTH_WAYS, RESET, REFUSED]
    assert counts(analysis) == {"started": 6, "open": 3, "lingering": 3, "closed": 3, "ended": 0}

    # 70 s on, a new session: the closed ones have lingered 60 s and end; nobody is idle 300 s yet.
    step = analysis.add(batch([packet(70.0, SYN_LATER, True, "S", 100)]))
    assert sorted(p for chunk in step.ended for p in chunk["orig_port"]) == [FIN_BOTH_WAYS, RESET, REFUSED]
    assert step.closed is None
    assert counts(analysis) == {"started": 7, "open": 4, "lingering": 0, "closed": 3, "ended": 3}

    # The live session speaks at 200 s; at 400 s every session silent for 300 s ends, unclosed.
    step = analysis.add(batch([*request(200.0, STAYS_OPEN), packet(400.0, SYN_LAST, True, "S", 100)]))
    assert sorted(p for chunk in step.ended for p in chunk["orig_port"]) == [HALF_CLOSED, UNANSWERED, SYN_LATER]
    assert counts(analysis) == {"started": 8, "open": 2, "lingering": 0, "closed": 3, "ended": 6}

    # The capture ends: whatever is alive ends with it.
    step = analysis.finish()
    assert sorted(p for chunk in step.ended for p in chunk["orig_port"]) == [STAYS_OPEN, SYN_LAST]
    assert counts(analysis) == {"started": 8, "open": 0, "lingering": 0, "closed": 3, "ended": 8}


def test_top_talkers_and_servers_are_the_interval_s_packets_by_sender_and_by_responder():
    analysis = LiveAnalysis(OPTIONS, wall_clock=False)
    analysis.add(batch(FIRST_SECOND))
    talkers, servers = analysis.traffic.take(5)
    sent: dict[str, list[int]] = {}
    for rec in FIRST_SECOND:
        totals = sent.setdefault(socket.inet_ntoa(rec.data[26:30]), [0, 0])  # the IPv4 source
        totals[0] += 1
        totals[1] += len(rec.data)
    assert [(a, p, b) for a, p, b in zip(talkers["addr"], talkers["packets"], talkers["bytes"])] == \
        sorted(((a, p, b) for a, (p, b) in sent.items()), key=lambda t: -t[2])
    # one server, port 80: every packet of every session, both ways
    assert servers[["addr", "port", "packets", "bytes"]].values.tolist() == \
        [[SERVER, 80, len(FIRST_SECOND), sum(len(r.data) for r in FIRST_SECOND)]]
    assert [len(frame) for frame in analysis.traffic.take(5)] == [0, 0]  # taken: the next interval starts empty


def test_an_ack_counts_when_it_moves_its_directions_acknowledgment_forward():
    acks = AckAdvances()
    ack_flag, syn_flag = 0x10, 0x02

    def add(session_ids, directions, numbers, flags=None):
        n = len(numbers)
        acks.add(np.array(session_ids, np.int64), np.array(directions, np.uint8),
                 np.full(n, ack_flag, np.uint16) if flags is None else np.array(flags, np.uint16),
                 np.array(numbers, np.uint32))
        return acks.count

    # a direction's first ACK counts; a repeated one, one going back and a SYN without ACK do not
    assert add([0, 0, 0, 0, 0], [0, 0, 0, 0, 0], [10, 20, 20, 15, 30], [ack_flag] * 4 + [syn_flag]) == 2
    # the other direction and another session count on their own; across batches, the last ACK is kept
    assert add([0, 1, 0], [1, 0, 0], [7, 7, 20]) == 4
    # sequence numbers wrap: 0xFFFFFFF0 -> 0x10 moves forward
    assert add([2, 2], [0, 0], [0xFFFFFFF0, 0x10]) == 6
    # an ended session is forgotten: its next ACK (port reuse gives a new session id anyway) is a first
    acks.forget(np.array([0]))
    assert add([0], [0], [20]) == 7
