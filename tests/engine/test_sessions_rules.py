"""Session rules pinned on small hand-built captures: which packets form a session, who the
originator is, 64-bit sequence numbers, window scaling, how a session closed, RTT and stalls.

Where Wireshark has an opinion (``tcp.stream``, ``tcp.seq``, ``tcp.window_size``,
``tcp.analysis.initial_rtt``) the expectation is what tshark 4.0.17 shows for the same
packets, and is re-checked against tshark when it is installed. The client is
10.0.0.1:40000 (ISN 1000), the server 10.0.0.2:80 (ISN 5000); times are seconds.
"""

from __future__ import annotations

import functools
import shutil
import struct
import subprocess
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import tcpanalyze
from helpers import BASE_TS_NS, CORPUS_DIR, SAMPLE_DIR, Rec, eth, ipv4, tcp, write_pcap, wscale
from tcpanalyze import EngineOptions
from tcpanalyze.engine.flags import FLAG_NAMES

CLIENT, SERVER = "10.0.0.1", "10.0.0.2"
D10 = b"x" * 10
needs_tshark = pytest.mark.skipif(shutil.which("tshark") is None, reason="tshark is not installed")


def at(t: float, src: str, sport: int, dst: str, dport: int, flags: str, seq: int, ack: int = 0, data: bytes = b"",
       win: int = 65535, opts: bytes = b"") -> Rec:
    return Rec(eth(ipv4(src, dst, tcp(sport, dport, seq=seq, ack=ack, flags=flags, win=win, opts=opts, payload=data))),
               BASE_TS_NS + round(t * 1e9))


def C(t: float, flags: str, seq: int, ack: int = 0, data: bytes = b"", win: int = 65535, opts: bytes = b"") -> Rec:
    """A packet from the client 10.0.0.1:40000 to the server 10.0.0.2:80."""
    return at(t, CLIENT, 40000, SERVER, 80, flags, seq, ack, data, win, opts)


def S(t: float, flags: str, seq: int, ack: int = 0, data: bytes = b"", win: int = 65535, opts: bytes = b"") -> Rec:
    """A packet from the server to the client."""
    return at(t, SERVER, 80, CLIENT, 40000, flags, seq, ack, data, win, opts)


def handshake() -> list[Rec]:
    """SYN, SYN-ACK, ACK 10 ms apart (iRTT 20 ms); next client seq 1001, server 5001."""
    return [C(0.00, "S", 1000), S(0.01, "SA", 5000, 1001), C(0.02, "A", 1001, 5001)]


def analyze(tmp_path: Path, packets: list[Rec], name: str = "case", **kwargs) -> tcpanalyze.Analysis:
    return tcpanalyze.analyze(str(write_pcap(tmp_path / f"{name}.pcap", packets)), **kwargs)


def tshark_fields(path: Path | str, fields: list[str], *prefs: str) -> dict[int, list[str]]:
    """frame number -> the fields' text values ('' where tshark left a field out)."""
    args = sum((["-e", f] for f in fields), []) + sum((["-o", p] for p in prefs), [])
    out = subprocess.run(["tshark", "-n", "-r", str(path), "-T", "fields", "-e", "frame.number", *args],
                         capture_output=True, text=True, timeout=300, check=True).stdout
    return {int(frame): values for frame, *values in (line.split("\t") for line in out.splitlines())}


def by_frame(result: tcpanalyze.Analysis, column: str) -> dict[int, object]:
    return dict(zip(result.packets.frame.astype(int), result.packets[column].tolist()))


# ---- port reuse ---------------------------------------------------------------------------

def closed_then_reopened() -> list[Rec]:
    """A closed session (frames 1-6); its SYN again (7); a SYN with a new ISN (8), its
    SYN-ACK and ACK (9, 10) and RST (11); that SYN again after the RST (12); the RST again
    (13); a FIN sent twice (14, 15)."""
    return [*handshake(), C(0.03, "FA", 1001, 5001), S(0.04, "FA", 5001, 1002), C(0.05, "A", 1002, 5002),
            C(1.0, "S", 1000),
            C(2.0, "S", 9000), S(2.01, "SA", 7000, 9001), C(2.02, "A", 9001, 7001), C(2.03, "R", 9001),
            C(3.0, "S", 9000), C(3.1, "R", 9001),
            C(3.2, "FA", 9001, 7001), C(3.3, "FA", 9001, 7001)]


CLOSED_THEN_REOPENED_STREAMS = [0] * 7 + [1] * 8  # tshark's tcp.stream, frames 1-15


def test_pure_syn_with_a_new_isn_on_a_used_tuple_starts_a_new_session_flagged_reused_ports(tmp_path):
    result = analyze(tmp_path, closed_then_reopened())
    assert result.packets.session_id.tolist() == CLOSED_THEN_REOPENED_STREAMS
    assert "reused_ports" in by_frame(result, "analysis")[8]
    sessions = result.sessions
    assert sessions.session_id.tolist() == [0, 1]
    assert sessions.orig_reused_ports.tolist() == [0, 1] and sessions.resp_reused_ports.tolist() == [0, 0]
    assert not sessions.partial.any() and not sessions.flipped.any()


def test_retransmitted_syn_after_fin_or_rst_stays_in_its_session(tmp_path):
    result = analyze(tmp_path, closed_then_reopened())
    ids, flags = by_frame(result, "session_id"), by_frame(result, "analysis")
    assert (ids[7], ids[12]) == (0, 1)  # after the FIN exchange, after the RST
    assert flags[7] == ["retransmission"] and flags[12] == ["retransmission"]


def test_retransmitted_fin_or_rst_does_not_start_a_session(tmp_path):
    result = analyze(tmp_path, closed_then_reopened())
    ids = by_frame(result, "session_id")
    assert [ids[f] for f in (11, 13, 14, 15)] == [1, 1, 1, 1]
    assert len(result.sessions) == 2


def test_pure_syn_with_a_new_isn_on_an_open_session_starts_a_new_session(tmp_path):
    result = analyze(tmp_path, [
        *handshake(), C(0.03, "PA", 1001, 5001, D10), S(0.04, "A", 5001, 1011),
        C(0.5, "S", 2_000_000), S(0.51, "SA", 6000, 2_000_001), C(0.52, "A", 2_000_001, 6001)])
    assert result.packets.session_id.tolist() == [0] * 5 + [1] * 3
    assert result.sessions.orig_reused_ports.tolist() == [0, 1]
    assert result.sessions.handshake.tolist() == ["complete", "complete"]


def synack_with_new_isn() -> list[Rec]:
    """SYN, SYN-ACK (ISN 5000), a second SYN-ACK with ISN 6000, then the client follows the second."""
    return [C(0.0, "S", 1000), S(0.01, "SA", 5000, 1001), S(0.5, "SA", 6000, 1001), C(0.51, "A", 1001, 6001),
            C(0.52, "PA", 1001, 6001, b"hello"), S(0.53, "A", 6001, 1006)]


def test_synack_with_a_new_isn_is_flagged_reused_ports_but_stays_in_its_session(tmp_path):
    result = analyze(tmp_path, synack_with_new_isn())
    assert result.packets.session_id.tolist() == [0] * 6  # Wireshark 4.0: one tcp.stream
    assert "reused_ports" in by_frame(result, "analysis")[3]
    row = result.sessions.iloc[0]
    assert (row.orig_reused_ports, row.resp_reused_ports) == (0, 1)


@pytest.mark.parametrize("max_records", [1, 2, 1 << 16])
def test_synack_with_a_new_isn_rebases_only_the_packets_after_it(tmp_path, max_records):
    # tshark's tcp.seq: 0 for both SYN-ACKs (Wireshark moves the base to the new ISN when
    # the second one arrives, not before), 1 after. The first SYN-ACK must not be measured
    # from a base that only the second one set, whatever the batch boundaries.
    result = analyze(tmp_path, synack_with_new_isn(), max_records=max_records)
    assert result.packets.seq_rel.tolist() == [0, 0, 0, 1, 1, 1]
    assert result.packets.ack_rel.tolist() == [pd.NA, 1, 1, 1, 1, 6]
    row = result.sessions.iloc[0]
    assert (row.orig_bytes, row.resp_bytes, row.missed_bytes) == (5, 0, 0)


@needs_tshark
def test_reuse_captures_have_tsharks_streams_and_relative_sequence_numbers(tmp_path):
    for name, packets in (("reopened", closed_then_reopened()), ("synack", synack_with_new_isn())):
        path = write_pcap(tmp_path / f"{name}.pcap", packets)
        result = tcpanalyze.analyze(str(path))
        theirs = tshark_fields(path, ["tcp.stream", "tcp.seq"])
        assert result.packets.session_id.tolist() == [int(v[0]) for v in theirs.values()]
        assert result.packets.seq_rel.tolist() == [int(v[1]) for v in theirs.values()], name


# Real captures with port reuse (SYN and SYN-ACK with new ISNs, an injected RST),
# retransmitted SYNs and many connections. Files whose ICMP errors quote TCP headers are
# left out: tshark numbers streams for the quoted headers too.
REAL_FILES = [CORPUS_DIR / "tcp-repeated-syn-same-port-hping.pcap", CORPUS_DIR / "sll-redis-loopback-15-conns.pcap",
              CORPUS_DIR / "tcp-port-reuse-synack-retrans.pcapng", CORPUS_DIR / "tcp-rst-injection-port-reuse.pcap",
              CORPUS_DIR / "tcp-syn-scan-nmap.pcap", CORPUS_DIR / "gzip-loopback-echo-500-conns.pcap.gz",
              SAMPLE_DIR / "real-many-short-conns.pcap"]


@functools.lru_cache(maxsize=None)
def real_file_comparison(path: Path) -> tuple[tcpanalyze.Analysis, dict[int, list[str]]]:
    if not path.is_file():
        pytest.skip(f"{path} not found")
    return tcpanalyze.analyze(str(path)), tshark_fields(path, ["tcp.stream", "tcp.seq", "tcp.ack", "tcp.window_size"])


@needs_tshark
@pytest.mark.parametrize("path", REAL_FILES, ids=lambda p: p.name)
def test_session_id_is_tsharks_tcp_stream_on_every_packet(path):
    result, theirs = real_file_comparison(path)
    assert len(result.packets) > 0
    assert {int(f): str(s) for f, s in zip(result.packets.frame, result.packets.session_id)} == \
        {f: v[0] for f, v in theirs.items() if v[0]}


@needs_tshark
@pytest.mark.parametrize("path", REAL_FILES, ids=lambda p: p.name)
def test_relative_sequence_numbers_and_scaled_windows_are_tsharks_on_every_packet(path):
    result, theirs = real_file_comparison(path)
    p = result.packets
    # acknowledgement numbers only where the ACK flag is on (ours is <NA> elsewhere; tshark
    # shows whatever the field holds)
    acked = (p.tcp_flags & 0x10) != 0
    ours = {int(f): (str(s), str(a) if has_ack else "", str(w))
            for f, s, a, has_ack, w in zip(p.frame, p.seq_rel, p.ack_rel, acked, p.window)}
    assert ours == {f: (theirs[f][1], theirs[f][2] if ours[f][1] else "", theirs[f][3]) for f in ours}


# ---- originator --------------------------------------------------------------------------

def test_sender_of_the_first_pure_syn_is_the_originator_even_from_a_server_port(tmp_path):
    # the SYN comes from port 80: the heuristic is only for sessions without a SYN
    row = analyze(tmp_path, [S(0.0, "S", 5000), C(0.01, "SA", 1000, 5001), S(0.02, "A", 5001, 1001)]).sessions.iloc[0]
    assert (row.orig_addr, row.orig_port, row.resp_addr, row.resp_port) == (SERVER, 80, CLIENT, 40000)
    assert not row.partial and not row.flipped


def test_session_starting_at_a_synack_has_its_sender_as_responder_partial_and_flipped(tmp_path):
    result = analyze(tmp_path, [S(0.0, "SA", 5000, 1001), C(0.01, "A", 1001, 5001), C(0.02, "PA", 1001, 5001, D10)])
    row = result.sessions.iloc[0]
    assert (row.orig_addr, row.orig_port, row.resp_port) == (CLIENT, 40000, 80)
    assert row.partial and row.flipped
    assert result.packets.direction.tolist() == ["resp", "orig", "orig"]


@pytest.mark.parametrize("sport, dport, flipped", [
    (80, 51000, True),  # from a likely server port to an unlikely one
    (51000, 80, False),
    (51000, 52000, False),  # neither is likely: the first sender originates
    (52000, 51000, False),
    (80, 443, True),  # both likely: the lower port is the server
    (443, 80, False),
    (3306, 8080, True),  # both in the list of likely high ports
    (8080, 3306, False),
])
def test_session_without_syn_uses_the_likely_server_port_heuristic(tmp_path, sport, dport, flipped):
    result = analyze(tmp_path, [at(0.0, CLIENT, sport, SERVER, dport, "PA", 1001, 5001, D10),
                                at(0.01, SERVER, dport, CLIENT, sport, "A", 5001, 1011)])
    row = result.sessions.iloc[0]
    assert row.partial and row.flipped == flipped
    assert (row.orig_port, row.resp_port) == ((dport, sport) if flipped else (sport, dport))
    assert result.packets.direction.tolist() == (["resp", "orig"] if flipped else ["orig", "resp"])


# ---- 64-bit sequence numbers -----------------------------------------------------------------

WRAP_ISN = 0xFFFFFF00


def wrapping_transfer() -> list[Rec]:
    """ISN 2^32 - 256: five 100-byte segments, each ACKed, cross the wrap; then FIN/FIN/ACK."""
    packets = [C(0.00, "S", WRAP_ISN), S(0.01, "SA", 5000, WRAP_ISN + 1), C(0.02, "A", WRAP_ISN + 1, 5001)]
    seq, t = WRAP_ISN + 1, 0.03
    for _ in range(5):
        packets += [C(t, "PA", seq & 0xFFFFFFFF, 5001, b"x" * 100), S(t + 0.01, "A", 5001, (seq + 100) & 0xFFFFFFFF)]
        seq, t = seq + 100, t + 0.02
    end = seq & 0xFFFFFFFF
    return packets + [C(t, "FA", end, 5001), S(t + 0.01, "FA", 5001, (end + 1) & 0xFFFFFFFF),
                      C(t + 0.02, "A", (end + 1) & 0xFFFFFFFF, 5002)]


def test_sequence_numbers_wrapping_past_2_32_stay_relative_and_monotonic(tmp_path):
    result = analyze(tmp_path, wrapping_transfer())
    packets = result.packets
    orig, resp = packets[packets.direction == "orig"], packets[packets.direction == "resp"]
    assert packets.seq_raw.iloc[9] < packets.seq_raw.iloc[7]  # the wire numbers did wrap
    assert orig.seq_rel.tolist() == [0, 1, 1, 101, 201, 301, 401, 501, 502]
    assert resp.ack_rel.tolist() == [1, 101, 201, 301, 401, 501, 502]
    row = result.sessions.iloc[0]
    assert (row.orig_bytes, row.orig_unique_bytes, row.missed_bytes) == (500, 500, 0)
    assert row.close_type == "fin" and row.orig_retransmission == 0 and row.orig_lost_segment == 0


@needs_tshark
def test_wrapping_sequence_numbers_are_tsharks(tmp_path):
    path = write_pcap(tmp_path / "wrap.pcap", wrapping_transfer())
    packets = tcpanalyze.analyze(str(path)).packets
    theirs = tshark_fields(path, ["tcp.seq", "tcp.ack"])
    assert packets.seq_rel.tolist() == [int(v[0]) for v in theirs.values()]
    # tshark shows ack 0 where the ACK flag is off; ours is <NA> there
    assert packets.ack_rel.tolist() == [int(v[1]) if f & 0x10 else pd.NA
                                        for f, v in zip(packets.tcp_flags, theirs.values())]


# A headers-only capture of more than 4 GiB from client to server: records hold the headers
# only (caplen < origlen) while the IP length claims 64000-byte segments.
BIG_SEGMENT, BIG_SEGMENTS = 64_000, 70_000
BIG_ISN = 0x10000000


def write_over_4gib_session(path: Path) -> Path:
    t = BASE_TS_NS
    packets = [Rec(C(0.0, "S", BIG_ISN, win=65535, opts=wscale(7)).data, t),
               Rec(S(0.0, "SA", 5000, BIG_ISN + 1, win=65535, opts=wscale(7)).data, t + 1_000_000),
               Rec(C(0.0, "A", BIG_ISN + 1, 5001, win=512).data, t + 2_000_000)]
    # The server offers 65535 << 7 bytes (8 MiB): two unacknowledged 64000-byte segments never fill it.
    data = bytearray(eth(ipv4(CLIENT, SERVER, tcp(40000, 80, seq=0, ack=5001, flags="A", win=512),
                              total_len=40 + BIG_SEGMENT)))
    ack = bytearray(eth(ipv4(SERVER, CLIENT, tcp(80, 40000, seq=5001, ack=0, flags="A", win=65535))))
    seq_at, ack_at = 14 + 20 + 4, 14 + 20 + 8  # TCP seq / ack fields behind Ethernet and IPv4 headers
    t += 3_000_000
    seq = BIG_ISN + 1
    for k in range(BIG_SEGMENTS):
        struct.pack_into("!I", data, seq_at, seq & 0xFFFFFFFF)
        packets.append(Rec(bytes(data), t, len(data) + BIG_SEGMENT))
        seq += BIG_SEGMENT
        t += 100_000
        if k % 2:  # an ACK every second segment
            struct.pack_into("!I", ack, ack_at, seq & 0xFFFFFFFF)
            packets.append(Rec(bytes(ack), t))
            t += 100_000
    return write_pcap(path, packets)


@pytest.fixture(scope="module")
def over_4gib_capture(tmp_path_factory) -> Path:
    return write_over_4gib_session(tmp_path_factory.mktemp("big") / "over-4gib.pcap")


def test_session_longer_than_4_gib_counts_every_byte_without_spurious_flags(over_4gib_capture):
    assert over_4gib_capture.stat().st_size < 20_000_000  # headers only
    row = tcpanalyze.analyze(str(over_4gib_capture), packets=False).sessions.iloc[0]
    total = BIG_SEGMENT * BIG_SEGMENTS
    assert total > 2**32
    assert (row.orig_bytes, row.orig_unique_bytes, row.orig_payload_bytes, row.missed_bytes) == (total, total, total, 0)
    assert row.orig_data_pkts == BIG_SEGMENTS
    flags = {f"{side}_{name}": row[f"{side}_{name}"] for side in ("orig", "resp") for name in FLAG_NAMES}
    assert not any(flags.values()), {k: v for k, v in flags.items() if v}


def test_relative_sequence_numbers_of_a_4_gib_session_keep_growing(over_4gib_capture):
    packets = tcpanalyze.analyze(str(over_4gib_capture)).packets
    orig, resp = packets[packets.direction == "orig"], packets[packets.direction == "resp"]
    assert orig.seq_rel.is_monotonic_increasing and resp.ack_rel.is_monotonic_increasing
    assert orig.seq_rel.iloc[-1] == 1 + BIG_SEGMENT * (BIG_SEGMENTS - 1)
    assert resp.ack_rel.iloc[-1] == 1 + BIG_SEGMENT * BIG_SEGMENTS
    assert not packets.analysis.map(len).any()


@needs_tshark
def test_tshark_sets_no_analysis_flag_on_the_4_gib_session(over_4gib_capture):
    theirs = tshark_fields(over_4gib_capture, ["tcp.analysis.flags"])
    assert len(theirs) == 3 + BIG_SEGMENTS + BIG_SEGMENTS // 2
    assert not [f for f, v in theirs.items() if v[0]]


# ---- window scaling ------------------------------------------------------------------------

def scaled_handshake() -> list[Rec]:
    """The client offers shift 7, the server shift 3; then data and an ACK with small raw windows."""
    return [C(0.00, "S", 1000, win=64240, opts=wscale(7)), S(0.01, "SA", 5000, 1001, win=65160, opts=wscale(3)),
            C(0.02, "A", 1001, 5001, win=502), C(0.03, "PA", 1001, 5001, b"hi", win=502),
            S(0.04, "A", 5001, 1003, win=509)]


def test_window_is_scaled_after_the_handshake_and_raw_on_syns(tmp_path):
    result = analyze(tmp_path, scaled_handshake())
    assert result.packets.window.tolist() == [64240, 65160, 502 << 7, 502 << 7, 509 << 3]
    assert result.sessions.window_scaling.tolist() == ["on"]


def test_window_is_raw_when_only_one_side_offers_scaling(tmp_path):
    result = analyze(tmp_path, [C(0.00, "S", 1000, win=64240, opts=wscale(7)), S(0.01, "SA", 5000, 1001, win=65160),
                                C(0.02, "A", 1001, 5001, win=502), S(0.04, "A", 5001, 1001, win=509)])
    assert result.packets.window.tolist() == [64240, 65160, 502, 509]
    assert result.sessions.window_scaling.tolist() == ["off"]


def no_syn() -> list[Rec]:
    return [C(0.0, "PA", 1001, 5001, b"hi", win=502), S(0.04, "A", 5001, 1003, win=509)]


def test_window_without_a_syn_is_raw_by_default(tmp_path):
    result = analyze(tmp_path, no_syn())
    assert result.packets.window.tolist() == [502, 509]
    assert result.sessions.window_scaling.tolist() == ["unknown"]


def test_window_without_a_syn_uses_the_default_window_scale_option(tmp_path):
    result = analyze(tmp_path, no_syn(), options=EngineOptions(default_window_scale=5))
    assert result.packets.window.tolist() == [502 << 5, 509 << 5]


@needs_tshark
def test_scaled_windows_are_tsharks(tmp_path):
    for name, packets, ours, prefs in (
            ("scaled", scaled_handshake(), {}, ()),
            ("no-syn", no_syn(), {}, ()),
            ("no-syn-default-5", no_syn(), {"options": EngineOptions(default_window_scale=5)},
             ("tcp.default_window_scaling:5 (multiply by 32)",))):
        path = write_pcap(tmp_path / f"{name}.pcap", packets)
        result = tcpanalyze.analyze(str(path), **ours)
        assert result.packets.window.tolist() == [int(v[0]) for v in tshark_fields(path, ["tcp.window_size"],
                                                                                   *prefs).values()], name


# ---- how a session closed ------------------------------------------------------------------

HS = handshake()
CLOSES = {
    # name: packets, (close_type, closed_by, half_closed, orig_state, resp_state)
    "fin_orig_first": (
        [*HS, C(0.1, "FA", 1001, 5001), S(0.11, "A", 5001, 1002), S(0.2, "FA", 5001, 1002), C(0.21, "A", 1002, 5002)],
        ("fin", "orig", False, "TIME-WAIT", "CLOSED")),
    "fin_orig_first_last_ack_missing": (
        [*HS, C(0.1, "FA", 1001, 5001), S(0.11, "A", 5001, 1002), S(0.2, "FA", 5001, 1002)],
        ("fin", "orig", False, "TIME-WAIT", "LAST-ACK")),
    "fin_resp_first": (
        [*HS, S(0.1, "FA", 5001, 1001), C(0.11, "A", 1001, 5002), C(0.2, "FA", 1001, 5002), S(0.21, "A", 5002, 1002)],
        ("fin", "resp", False, "CLOSED", "TIME-WAIT")),
    "fin_orig_only": (
        [*HS, C(0.1, "FA", 1001, 5001), S(0.11, "A", 5001, 1002)],
        ("fin", "orig", False, "FIN-WAIT-2", "CLOSE-WAIT")),
    "half_close_then_data_from_resp": (
        [*HS, C(0.1, "FA", 1001, 5001), S(0.11, "A", 5001, 1002), S(0.2, "PA", 5001, 1002, D10),
         C(0.21, "A", 1002, 5011), S(0.3, "FA", 5011, 1002), C(0.31, "A", 1002, 5012)],
        ("fin", "orig", True, "TIME-WAIT", "CLOSED")),
    "rst_by_orig_after_data": (
        [*HS, C(0.1, "PA", 1001, 5001, D10), S(0.11, "A", 5001, 1011), C(0.2, "RA", 1011, 5001)],
        ("rst", "orig", False, "CLOSED", "CLOSED")),
    "rst_by_resp": (
        [*HS, C(0.1, "PA", 1001, 5001, D10), S(0.11, "RA", 5001, 1011)],
        ("rst", "resp", False, "CLOSED", "CLOSED")),
    "refused": (
        [C(0.0, "S", 1000), S(0.01, "RA", 0, 1001)],
        ("refused", "resp", False, "CLOSED", "CLOSED")),
    "unanswered": (
        [C(0.0, "S", 1000), C(1.0, "S", 1000), C(3.0, "S", 1000)],
        ("unanswered", "none", False, "SYN-SENT", "unknown")),
    # the FIN came first, so the orig closed the session; the RST makes it a reset
    "fin_then_rst": (
        [*HS, C(0.1, "FA", 1001, 5001), S(0.11, "A", 5001, 1002), S(0.2, "RA", 5001, 1002)],
        ("rst", "orig", False, "CLOSED", "CLOSED")),
    "open": (
        [*HS, C(0.1, "PA", 1001, 5001, D10), S(0.11, "A", 5001, 1011)],
        ("open", "none", False, "ESTABLISHED", "ESTABLISHED")),
}
CLOSE_COLUMNS = ["close_type", "closed_by", "half_closed", "orig_state", "resp_state"]


@pytest.mark.parametrize("name", CLOSES)
def test_close_type_closer_and_endpoint_states(tmp_path, name):
    packets, expected = CLOSES[name]
    row = analyze(tmp_path, packets).sessions.iloc[0]
    assert tuple(row[c] for c in CLOSE_COLUMNS) == expected


def simultaneous_close() -> list[Rec]:
    """Both FINs cross on the wire: the server's does not acknowledge the client's."""
    return [*HS, C(0.1, "FA", 1001, 5001), S(0.1005, "FA", 5001, 1001), C(0.11, "A", 1002, 5002),
            S(0.11, "A", 5002, 1002)]


def test_simultaneous_close_is_closed_by_both(tmp_path):
    row = analyze(tmp_path, simultaneous_close()).sessions.iloc[0]
    assert (row.close_type, row.closed_by, row.half_closed) == ("fin", "simultaneous", False)


def test_fin_answering_a_fin_is_not_a_simultaneous_close(tmp_path):
    # the server's FIN acknowledges the client's (ack 1002): an ordinary close by the client
    row = analyze(tmp_path, [*HS, C(0.1, "FA", 1001, 5001), S(0.11, "FA", 5001, 1002),
                             C(0.12, "A", 1002, 5002)]).sessions.iloc[0]
    assert (row.close_type, row.closed_by) == ("fin", "orig")
    assert (row.orig_state, row.resp_state) == ("TIME-WAIT", "CLOSED")


def test_simultaneous_close_leaves_both_endpoints_in_time_wait(tmp_path):
    # RFC 9293 3.6, case 2 (and Figure 13): each side sent its FIN before it saw the
    # other's, so each goes FIN-WAIT-1 -> CLOSING -> TIME-WAIT; neither passes LAST-ACK.
    row = analyze(tmp_path, simultaneous_close()).sessions.iloc[0]
    assert (row.orig_state, row.resp_state) == ("TIME-WAIT", "TIME-WAIT")


# ---- handshake RTT, RTT samples, zero-window stalls ----------------------------------------

@pytest.mark.parametrize("packets, handshake_kind, irtt_ms", [
    ([*HS, C(0.1, "PA", 1001, 5001, D10)], "complete", 20.0),
    ([C(0.0, "S", 1000), S(0.01, "SA", 5000, 1001)], "syn_synack", None),
    ([C(0.0, "S", 1000), S(0.01, "RA", 0, 1001)], "refused", None),  # tshark: initial_rtt 10 ms on the RST
    ([S(0.0, "SA", 5000, 1001), C(0.01, "A", 1001, 5001)], "partial_synack", None),
    ([C(0.0, "PA", 1001, 5001, D10), S(0.01, "A", 5001, 1011)], "partial", None),
], ids=["complete", "syn_synack", "refused", "synack_first", "no_syn"])
def test_initial_rtt_only_for_complete_handshakes(tmp_path, packets, handshake_kind, irtt_ms):
    row = analyze(tmp_path, packets).sessions.iloc[0]
    assert row.handshake == handshake_kind
    assert (np.isnan(row.irtt_ms) if irtt_ms is None else row.irtt_ms == pytest.approx(irtt_ms))


@needs_tshark
def test_initial_rtt_of_a_complete_handshake_is_tsharks(tmp_path):
    path = write_pcap(tmp_path / "hs.pcap", [*HS, C(0.1, "PA", 1001, 5001, D10)])
    theirs = tshark_fields(path, ["tcp.analysis.initial_rtt"])
    row = tcpanalyze.analyze(str(path)).sessions.iloc[0]
    assert row.irtt_ms == pytest.approx(float(theirs[4][0]) * 1e3)


def test_ack_of_a_retransmitted_segment_is_not_an_rtt_sample(tmp_path):
    # frame 4 sent, resent at 0.5 s (frame 5), ACKed at 0.55 s: which copy is ACKed is
    # ambiguous (Karn), so no sample; frame 7 is ACKed 40 ms later: a sample, as is the SYN.
    result = analyze(tmp_path, [*HS, C(0.1, "PA", 1001, 5001, D10), C(0.5, "PA", 1001, 5001, D10),
                                S(0.55, "A", 5001, 1011), C(0.6, "PA", 1011, 5001, D10), S(0.64, "A", 5001, 1021)])
    assert by_frame(result, "analysis")[5] == ["retransmission"]
    row = result.sessions.iloc[0]
    assert (row.orig_rtt_samples, row.orig_rtt_ambiguous) == (2, 1)
    assert (row.orig_rtt_min_ms, row.orig_rtt_max_ms, row.orig_rtt_mean_ms) == pytest.approx((10.0, 40.0, 25.0))
    assert (row.resp_rtt_samples, row.resp_rtt_ambiguous) == (1, 0)  # the SYN-ACK, ACKed by frame 3
    assert row.resp_rtt_min_ms == pytest.approx(10.0)


def test_zero_window_episode_has_its_length_and_probe_count(tmp_path):
    # the server's window is zero from 1.0 s to 2.0 s; the client probes at 1.2 and 1.6 s
    result = analyze(tmp_path, [
        *HS, C(0.9, "PA", 1001, 5001, b"x" * 100), S(1.0, "A", 5001, 1101, win=0),
        C(1.2, "A", 1101, 5001, b"y"), S(1.21, "A", 5001, 1101, win=0),
        C(1.6, "A", 1101, 5001, b"y"), S(1.61, "A", 5001, 1101, win=0),
        S(2.0, "A", 5001, 1101, win=8192), C(2.1, "PA", 1101, 5001, b"x" * 100), S(2.2, "A", 5001, 1201)])
    row = result.sessions.iloc[0]
    assert row.resp_zero_window_episodes == 1 and row.resp_zero_window_probes == 2
    assert row.resp_zero_window_s == pytest.approx(1.0) and row.resp_zero_window_longest_s == pytest.approx(1.0)
    assert (row.orig_zero_window_probe, row.resp_zero_window, row.resp_zero_window_probe_ack) == (2, 3, 2)
    assert row.orig_zero_window_episodes == 0


def test_zero_window_still_open_at_the_end_lasts_until_the_last_packet(tmp_path):
    row = analyze(tmp_path, [*HS, C(0.9, "PA", 1001, 5001, b"x" * 100), S(1.0, "A", 5001, 1101, win=0),
                             C(1.5, "A", 1101, 5001, b"y"), S(1.75, "A", 5001, 1101, win=0)]).sessions.iloc[0]
    assert row.resp_zero_window_episodes == 1 and row.resp_zero_window_probes == 1
    assert row.resp_zero_window_s == pytest.approx(0.75)


def test_segment_filling_a_hole_later_is_unique_not_missed(tmp_path):
    # 1001-1010 lost before the capture point; its retransmission arrives after 1011-1030.
    packets = handshake() + [C(0.03, "PA", 1011, 5001, D10), C(0.04, "PA", 1021, 5001, D10),
                             S(0.05, "A", 5001, 1001), C(0.30, "PA", 1001, 5001, D10), S(0.31, "A", 5001, 1031)]
    row = analyze(tmp_path, packets).sessions.iloc[0]
    assert row.orig_retransmission == 1  # Wireshark flags the late filler a retransmission...
    assert (row.orig_bytes, row.orig_unique_bytes, row.orig_missed_bytes) == (30, 30, 0)  # ...but it was new data


def test_holes_never_filled_are_missed_and_overlaps_count_once(tmp_path):
    # Data at 1001-1010, 1031-1040, 1061-1070, then 1065-1074 overlapping the last and
    # 1001-1010 again: holes 1011-1030 and 1041-1060 stay open.
    packets = handshake() + [C(0.03, "PA", 1001, 5001, D10), C(0.04, "PA", 1031, 5001, D10),
                             C(0.05, "PA", 1061, 5001, D10), C(0.06, "PA", 1065, 5001, D10),
                             C(0.07, "PA", 1001, 5001, D10)]
    row = analyze(tmp_path, packets).sessions.iloc[0]
    assert (row.orig_bytes, row.orig_unique_bytes, row.orig_missed_bytes) == (74, 34, 40)


def test_data_missing_before_the_first_captured_segment_is_missed(tmp_path):
    packets = handshake() + [C(0.03, "PA", 1101, 5001, D10)]  # the first 100 bytes were never captured
    row = analyze(tmp_path, packets).sessions.iloc[0]
    assert (row.orig_bytes, row.orig_unique_bytes, row.orig_missed_bytes) == (110, 10, 100)


def test_filling_holes_in_any_order_splitting_them_counts_each_byte_once(tmp_path):
    data = [C(0.03 + k * 0.01, "PA", 1001 + 20 * k, 5001, D10) for k in range(5)]  # 4 holes of 10 bytes
    fillers = [C(0.20, "PA", 1071, 5001, D10),  # fills the last hole exactly
               C(0.21, "PA", 1016, 5001, b"y" * 3),  # lands inside the first: splits it in two
               C(0.22, "PA", 1011, 5001, D10),  # the rest of the first hole, overlapping the 3 bytes
               C(0.23, "PA", 1031, 5001, D10 * 3)]  # the two middle holes and the data between them
    row = analyze(tmp_path, handshake() + data + fillers).sessions.iloc[0]
    assert (row.orig_bytes, row.orig_unique_bytes, row.orig_missed_bytes) == (90, 90, 0)


def test_beyond_eight_open_holes_the_smallest_is_forgotten(tmp_path):
    # Nine holes of 10 bytes open at once: the newest is not tracked, so its filler does not
    # count as new data (documented bound of the per-direction hole list), and counts as a
    # retransmission (docs/retransmissions.md, Limits).
    data = [C(0.03 + k * 0.01, "PA", 1001 + 20 * k, 5001, D10) for k in range(10)]
    a = analyze(tmp_path, handshake() + data + [C(0.2, "PA", 1171, 5001, D10), C(0.3, "PA", 1091, 5001, D10)])
    row = a.sessions.iloc[0]
    assert (row.orig_bytes, row.orig_unique_bytes, row.orig_missed_bytes) == (190, 110, 80)
    assert (row.orig_retrans_pkts, row.orig_lost_before_capture_pkts) == (2, 1)  # the tracked hole's filler: 1
