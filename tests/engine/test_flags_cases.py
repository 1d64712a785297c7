"""One small hand-built conversation per Wireshark ``tcp.analysis`` flag.

Each case lists, frame by frame, the flags tshark 4.0.17 sets on the same packets (they were
recorded from tshark and are re-checked against it here when tshark is installed), so every
expectation is Wireshark's. Frames not listed carry no flag.

The client is 10.0.0.1:40000 (ISN 1000), the server 10.0.0.2:80 (ISN 5000); times are in
seconds from the first packet, because several flags depend on timing (Wireshark's 20 ms
fast-retransmission window, out-of-order within the initial RTT).
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pandas as pd
import pytest

import tcpanalyze
from helpers import BASE_TS_NS, Rec, eth, ipv4, tcp, write_pcap
from tcpanalyze.engine.flags import FLAG_NAMES

CLIENT, SERVER = "10.0.0.1", "10.0.0.2"
D = b"x" * 100
needs_tshark = pytest.mark.skipif(shutil.which("tshark") is None, reason="tshark is not installed")


def C(t: float, flags: str, seq: int, ack: int = 0, data: bytes = b"", win: int = 65535, sport: int = 40000) -> Rec:
    """A packet from the client at ``t`` seconds."""
    return Rec(eth(ipv4(CLIENT, SERVER, tcp(sport, 80, seq=seq, ack=ack, flags=flags, win=win, payload=data))),
               BASE_TS_NS + round(t * 1e9))


def S(t: float, flags: str, seq: int, ack: int = 0, data: bytes = b"", win: int = 65535, dport: int = 40000) -> Rec:
    """A packet from the server at ``t`` seconds."""
    return Rec(eth(ipv4(SERVER, CLIENT, tcp(80, dport, seq=seq, ack=ack, flags=flags, win=win, payload=data))),
               BASE_TS_NS + round(t * 1e9))


def handshake(server_win: int = 65535) -> list[Rec]:
    """SYN, SYN-ACK, ACK 10 ms apart (iRTT 20 ms); next client seq 1001, server 5001."""
    return [C(0.000, "S", 1000), S(0.010, "SA", 5000, 1001, win=server_win), C(0.020, "A", 1001, 5001)]


def four_segments_then_dup_acks() -> list[Rec]:
    """Frames 4-7: four segments; frames 8-11: the first ACKed, then three duplicate ACKs."""
    return [*handshake(),
            C(0.100, "PA", 1001, 5001, D), C(0.101, "PA", 1101, 5001, D), C(0.102, "PA", 1201, 5001, D),
            C(0.103, "PA", 1301, 5001, D),
            S(0.110, "A", 5001, 1101), S(0.111, "A", 5001, 1101), S(0.112, "A", 5001, 1101), S(0.113, "A", 5001, 1101)]


# name: (packets, {frame: flags tshark 4.0.17 sets})
CASES: dict[str, tuple[list[Rec], dict[int, set[str]]]] = {
    # the segment sent again 400 ms later, no duplicate ACKs: a timeout retransmission
    "retransmission": (
        [*handshake(), C(0.1, "PA", 1001, 5001, D), C(0.5, "PA", 1001, 5001, D), S(0.51, "A", 5001, 1101)],
        {5: {"retransmission"}}),
    # three duplicate ACKs, the missing segment resent 7 ms after the last one (< 20 ms)
    "fast_retransmission": (
        [*four_segments_then_dup_acks(), C(0.120, "PA", 1101, 5001, D), S(0.130, "A", 5001, 1401)],
        {9: {"duplicate_ack"}, 10: {"duplicate_ack"}, 11: {"duplicate_ack"},
         12: {"fast_retransmission", "retransmission"}}),
    # the same, resent 27 ms after the last duplicate ACK: past Wireshark's 20 ms window
    "fast_retransmission_window_passed": (
        [*four_segments_then_dup_acks(), C(0.140, "PA", 1101, 5001, D), S(0.150, "A", 5001, 1401)],
        {9: {"duplicate_ack"}, 10: {"duplicate_ack"}, 11: {"duplicate_ack"}, 12: {"retransmission"}}),
    # data the peer already acknowledged, sent again
    "spurious_retransmission": (
        [*handshake(), C(0.1, "PA", 1001, 5001, D), S(0.11, "A", 5001, 1101), C(0.5, "PA", 1001, 5001, D),
         S(0.51, "A", 5001, 1101)],
        {6: {"spurious_retransmission", "retransmission"}, 7: {"duplicate_ack"}}),
    # the second segment first (a gap), the first 5 ms later: within the 20 ms iRTT
    "out_of_order": (
        [*handshake(), C(0.100, "PA", 1101, 5001, D), C(0.105, "PA", 1001, 5001, D), S(0.11, "A", 5001, 1201)],
        {4: {"lost_segment"}, 5: {"out_of_order"}}),
    "lost_segment": (
        [*handshake(), C(0.1, "PA", 1001, 5001, D), C(0.2, "PA", 1201, 5001, D), S(0.21, "A", 5001, 1101)],
        {5: {"lost_segment"}}),
    # the server acknowledges 1101-1200, which the capture never saw
    "ack_lost_segment": (
        [*handshake(), C(0.1, "PA", 1001, 5001, D), S(0.11, "A", 5001, 1201), C(0.2, "PA", 1201, 5001, D)],
        {5: {"ack_lost_segment"}, 6: {"lost_segment"}}),
    "duplicate_ack": (
        [*handshake(), C(0.1, "PA", 1001, 5001, D), S(0.11, "A", 5001, 1101), S(0.12, "A", 5001, 1101),
         S(0.13, "A", 5001, 1101)],
        {6: {"duplicate_ack"}, 7: {"duplicate_ack"}}),
    # the server's window closes; two one-byte probes, each answered with window 0; it reopens
    "zero_window": (
        [*handshake(), C(0.9, "PA", 1001, 5001, D), S(1.0, "A", 5001, 1101, win=0),
         C(1.2, "A", 1101, 5001, b"y"), S(1.21, "A", 5001, 1101, win=0),
         C(1.6, "A", 1101, 5001, b"y"), S(1.61, "A", 5001, 1101, win=0),
         S(2.0, "A", 5001, 1101, win=8192), C(2.1, "PA", 1101, 5001, D), S(2.2, "A", 5001, 1201)],
        {5: {"zero_window"}, 6: {"zero_window_probe"}, 7: {"zero_window", "zero_window_probe_ack"},
         8: {"zero_window_probe"}, 9: {"zero_window", "zero_window_probe_ack"}, 10: {"window_update"}}),
    # the server offers 200 bytes (no window scaling); the second 100-byte segment fills them
    "window_full": (
        [*handshake(server_win=200), C(0.1, "PA", 1001, 5001, D), C(0.11, "PA", 1101, 5001, D),
         S(0.2, "A", 5001, 1201, win=200)],
        {5: {"window_full"}}),
    # a pure ACK that only changes the window
    "window_update": (
        [*handshake(), C(0.1, "PA", 1001, 5001, D), S(0.11, "A", 5001, 1101, win=1000),
         S(0.2, "A", 5001, 1101, win=30000)],
        {6: {"window_update"}}),
    # keep-alives at seq = next - 1, without and with the one garbage byte, each answered
    "keep_alive": (
        [*handshake(), C(0.1, "PA", 1001, 5001, D), S(0.11, "A", 5001, 1101), C(10.1, "A", 1100, 5001),
         S(10.11, "A", 5001, 1101), C(20.1, "A", 1100, 5001, b"\0"), S(20.11, "A", 5001, 1101)],
        {6: {"keep_alive"}, 7: {"keep_alive_ack"}, 8: {"keep_alive"}, 9: {"keep_alive_ack"}}),
    # after a closed session: its SYN again (a retransmission), a SYN with a new ISN (new
    # session), then a SYN-ACK with a new ISN (flagged, same session)
    "reused_ports": (
        [*handshake(), C(0.03, "FA", 1001, 5001), S(0.04, "FA", 5001, 1002), C(0.05, "A", 1002, 5002),
         C(1.0, "S", 1000), C(2.0, "S", 9000), S(2.01, "SA", 7000, 9001), S(2.5, "SA", 7500, 9001),
         C(2.51, "A", 9001, 7501)],
        {7: {"retransmission"}, 8: {"reused_ports"}, 10: {"lost_segment", "reused_ports"},
         11: {"ack_lost_segment"}}),
    # The capture's clock steps back: Wireshark holds the time since nextseq and since the last
    # ACK as unsigned numbers, so a negative gap is never within its windows.
    # (1) the first segment again, stamped 50 ms before the second: not out-of-order
    "clock_steps_back_no_out_of_order": (
        [*handshake(), C(0.100, "PA", 1101, 5001, D), C(0.050, "PA", 1001, 5001, D), S(0.11, "A", 5001, 1201)],
        {4: {"lost_segment"}, 5: {"retransmission"}}),
    # (2) the missing segment after three duplicate ACKs, stamped before them: not a fast retransmission
    "clock_steps_back_no_fast_retransmission": (
        [*four_segments_then_dup_acks(), C(0.090, "PA", 1101, 5001, D), S(0.130, "A", 5001, 1401)],
        {9: {"duplicate_ack"}, 10: {"duplicate_ack"}, 11: {"duplicate_ack"}, 12: {"retransmission"}}),
}


def _capture(tmp_path: Path, name: str) -> Path:
    return write_pcap(tmp_path / f"{name}.pcap", CASES[name][0])


def our_flags(path: Path) -> dict[int, set[str]]:
    packets = tcpanalyze.analyze(str(path)).packets
    return {int(f): set(names) for f, names in zip(packets.frame, packets.analysis) if names}


def tshark_fields(path: Path, fields: list[str]) -> dict[int, list[str]]:
    """frame number -> the fields' text values ('' where tshark left a field out)."""
    args = sum((["-e", f] for f in fields), [])
    out = subprocess.run(["tshark", "-n", "-r", str(path), "-T", "fields", "-e", "frame.number", *args],
                         capture_output=True, text=True, timeout=120, check=True).stdout
    return {int(frame): values for frame, *values in (line.split("\t") for line in out.splitlines())}


def tshark_flags(path: Path) -> dict[int, set[str]]:
    rows = tshark_fields(path, [f"tcp.analysis.{name}" for name in FLAG_NAMES])
    flagged = {frame: {n for n, v in zip(FLAG_NAMES, values) if v} for frame, values in rows.items()}
    return {frame: names for frame, names in flagged.items() if names}


def test_every_wireshark_flag_has_a_case():
    covered = set().union(*(set().union(*expected.values()) for _, expected in CASES.values()))
    assert covered == set(FLAG_NAMES)


@pytest.mark.parametrize("name", CASES)
def test_flags_on_every_frame_are_wiresharks(tmp_path, name):
    assert our_flags(_capture(tmp_path, name)) == CASES[name][1]


@needs_tshark
@pytest.mark.parametrize("name", CASES)
def test_recorded_flags_are_what_tshark_sets_and_ours_match(tmp_path, name):
    path = _capture(tmp_path, name)
    assert tshark_flags(path) == CASES[name][1]
    assert our_flags(path) == tshark_flags(path)


def test_duplicate_acks_are_numbered_and_point_at_the_last_new_ack(tmp_path):
    packets = tcpanalyze.analyze(str(_capture(tmp_path, "fast_retransmission"))).packets.set_index("frame")
    assert packets.loc[[9, 10, 11], "dupack_num"].tolist() == [1, 2, 3]
    assert packets.loc[[9, 10, 11], "dupack_frame"].tolist() == [8, 8, 8]
    others = packets.drop(index=[9, 10, 11])
    assert (others.dupack_num == 0).all() and others.dupack_frame.isna().all()


@needs_tshark
def test_duplicate_ack_numbers_and_frames_equal_tsharks(tmp_path):
    path = _capture(tmp_path, "fast_retransmission")
    packets = tcpanalyze.analyze(str(path)).packets
    theirs = tshark_fields(path, ["tcp.analysis.duplicate_ack_num", "tcp.analysis.duplicate_ack_frame"])
    ours = {int(f): [str(n) if n else "", "" if pd.isna(fr) else str(fr)]
            for f, n, fr in zip(packets.frame, packets.dupack_num, packets.dupack_frame)}
    assert ours == theirs


def simple_transfer() -> list[Rec]:
    """Handshake, 5 client segments with delayed ACKs (every second one), a server reply, FIN/FIN/ACK."""
    return [*handshake(),
            C(0.100, "PA", 1001, 5001, D), C(0.101, "PA", 1101, 5001, D), S(0.130, "A", 5001, 1201),
            C(0.131, "PA", 1201, 5001, D), C(0.132, "PA", 1301, 5001, D), C(0.133, "PA", 1401, 5001, D),
            S(0.160, "A", 5001, 1401), S(0.170, "PA", 5001, 1501, b"y" * 50), C(0.200, "A", 1501, 5051),
            C(0.300, "FA", 1501, 5051), S(0.310, "FA", 5051, 1502), C(0.320, "A", 1502, 5052)]


# frame: (acks_frame, ack_rtt_ns, bytes_in_flight), <NA> (here None) where Wireshark shows nothing (tshark 4.0.17);
# a FIN without payload has no bytes in flight
SIMPLE_TRANSFER_EXPECTED = {
    1: (None, None, None), 2: (1, 10_000_000, None), 3: (2, 10_000_000, None),
    4: (None, None, 100), 5: (None, None, 200), 6: (5, 29_000_000, None),
    7: (None, None, 100), 8: (None, None, 200), 9: (None, None, 300),
    10: (8, 28_000_000, None), 11: (9, 37_000_000, 50), 12: (11, 30_000_000, None),
    13: (None, None, None), 14: (13, 10_000_000, None), 15: (14, 10_000_000, None),
}


def test_ack_rtt_acked_frame_and_bytes_in_flight_of_a_simple_transfer(tmp_path):
    path = write_pcap(tmp_path / "transfer.pcap", simple_transfer())
    packets = tcpanalyze.analyze(str(path)).packets
    columns = packets[["acks_frame", "ack_rtt_ns", "bytes_in_flight"]].astype(object)
    ours = {int(f): tuple(None if pd.isna(v) else int(v) for v in row)
            for f, row in zip(packets.frame, columns.itertuples(index=False))}
    assert ours == SIMPLE_TRANSFER_EXPECTED


@needs_tshark
def test_ack_rtt_acked_frame_and_bytes_in_flight_equal_tsharks(tmp_path):
    path = write_pcap(tmp_path / "transfer.pcap", simple_transfer())
    packets = tcpanalyze.analyze(str(path)).packets
    theirs = tshark_fields(path, ["tcp.analysis.acks_frame", "tcp.analysis.ack_rtt", "tcp.analysis.bytes_in_flight"])
    for f, acks, rtt, bif in zip(packets.frame, packets.acks_frame, packets.ack_rtt_ns, packets.bytes_in_flight):
        t_acks, t_rtt, t_bif = theirs[int(f)]
        assert ("" if pd.isna(acks) else str(acks)) == t_acks, f"frame {f} acks_frame"
        assert (round(float(t_rtt) * 1e9) if t_rtt else None) == (None if pd.isna(rtt) else rtt), f"frame {f} ack_rtt"
        assert ("" if pd.isna(bif) else str(bif)) == t_bif, f"frame {f} bytes_in_flight"
