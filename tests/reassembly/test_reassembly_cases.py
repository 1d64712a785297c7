"""Reassembly of hand-built sessions: each test writes one capture, one line per packet.

Client 10.0.0.1:40000 (orig) talks to 10.0.0.2:80 (resp). Expected bytes, gaps and
conflicts follow from the segments written, not from anything tcpanalyze reports.
"""

from __future__ import annotations

import dataclasses

import pandas as pd
import pytest
from helpers import Rec, eth, ipv4, tcp, write_pcap

import tcpanalyze
from tcpanalyze.errors import UsageError
from tcpanalyze.reassembly import Conflict

C, S = "10.0.0.1", "10.0.0.2"
ISN_C, ISN_S = 1000, 5000
ETH_IP_TCP = 14 + 20 + 20


def pkt(seq: int, payload: bytes = b"", flags: str = "A", *, frm: str = C, ack: int = 0) -> bytes:
    sport, dport, dst = (40000, 80, S) if frm == C else (80, 40000, C)
    return eth(ipv4(frm, dst, tcp(sport, dport, seq=seq % 2**32, ack=ack % 2**32, flags=flags, payload=payload)))


def handshake(isn_c: int = ISN_C, isn_s: int = ISN_S) -> list[bytes]:
    return [pkt(isn_c, flags="S"), pkt(isn_s, flags="SA", frm=S, ack=isn_c + 1), pkt(isn_c + 1, ack=isn_s + 1)]


def stream_of(tmp_path, packets, session_id: int = 0, **kw):
    path = write_pcap(tmp_path / "case.pcap", packets)
    analysis = tcpanalyze.analyze(str(path))
    return analysis, analysis.stream(session_id, **kw)


def test_out_of_order_segments_are_put_in_place_and_chunks_keep_capture_order(tmp_path):
    _, s = stream_of(tmp_path, handshake() + [
        pkt(ISN_C + 1, b"hello "), pkt(ISN_C + 13, b"world"), pkt(ISN_C + 7, b"brave "),
    ])
    assert s.orig.data == b"hello brave world"
    assert s.orig.gaps == [] and s.orig.conflicts == [] and s.orig.missing_bytes == 0
    data = s.chunks[~s.chunks["missing"]]
    assert data[["offset", "length", "first_frame"]].values.tolist() == [[0, 6, 4], [12, 5, 5], [6, 6, 6]]


def test_partial_overlap_retransmission_delivers_each_byte_once(tmp_path):
    _, s = stream_of(tmp_path, handshake() + [
        pkt(ISN_C + 1, b"abcdefgh"), pkt(ISN_C + 5, b"efghijkl"), pkt(ISN_C + 1, b"abcdefghijklmnop"),
    ])
    assert s.orig.data == b"abcdefghijklmnop"
    assert s.orig.overlap_bytes == 4 + 12
    assert s.orig.conflicts == []
    # consecutive new bytes of one direction make one turn
    assert s.chunks[["direction", "offset", "length", "first_frame"]].values.tolist() == [["orig", 0, 16, 4]]


def test_partial_overlap_with_different_bytes_is_a_conflict_and_policy_picks_the_copy(tmp_path):
    packets = handshake() + [pkt(ISN_C + 1, b"abcdefghij"), pkt(ISN_C + 9, b"IJklmn")]
    _, first = stream_of(tmp_path, packets)
    _, last = stream_of(tmp_path, packets, policy="last")
    assert first.orig.data == b"abcdefghijklmn"
    assert last.orig.data == b"abcdefghIJklmn"
    assert first.orig.conflicts == last.orig.conflicts == [Conflict(offset=8, length=2, first_frame=4, later_frame=5)]
    assert "1 overlap conflict(s)" in first.warnings()[0]


def test_sequence_numbers_wrapping_past_2_32_keep_the_stream_in_order(tmp_path):
    isn = 2**32 - 10
    _, s = stream_of(tmp_path, handshake(isn_c=isn) + [
        pkt(isn + 1, b"A" * 8), pkt(isn + 9, b"B" * 8), pkt(isn + 17, b"C" * 8), pkt(isn + 25, b"D", "FA"),
    ])
    assert s.orig.data == b"A" * 8 + b"B" * 8 + b"C" * 8 + b"D"
    assert s.orig.gaps == [] and s.orig.length == 25


def test_stream_offsets_past_4_gib_are_64_bit(tmp_path):
    step = 3 * 2**30 // 2  # 1.5 GiB: less than 2**31, so each packet unwraps from the previous one
    start = 7000
    analysis, s = stream_of(tmp_path, [pkt(start + k * step, bytes([65 + k]) * 10, "PA") for k in range(4)])
    assert s.orig.data == b"A" * 10 + b"B" * 10 + b"C" * 10 + b"D" * 10
    assert s.orig.gaps == [(10 + k * step, step - 10) for k in range(3)]
    assert s.orig.length == 3 * step + 10 > 2**32
    assert s.chunks["offset"].tolist() == [0, 10, step, step + 10, 2 * step, 2 * step + 10, 3 * step]
    assert s.orig.unseen_bytes == s.orig.missing_bytes == analysis.sessions["orig_missed_bytes"].iloc[0]


def test_syn_data_and_fin_take_their_sequence_numbers_not_stream_bytes(tmp_path):
    _, s = stream_of(tmp_path, [
        pkt(ISN_C, b"tfo", "S"),  # data on the SYN starts at ISN + 1
        pkt(ISN_S, flags="SA", frm=S, ack=ISN_C + 4),
        pkt(ISN_C + 4, b"-more", "PA"),
        pkt(ISN_S + 1, b"reply", "FPA", frm=S),  # FIN on the last data segment
        pkt(ISN_C + 9, flags="FA"),
        pkt(ISN_S + 7, frm=S),  # ACK after the server's FIN: its seq is one past the FIN
        pkt(ISN_C + 10),  # likewise for the client
    ])
    assert (s.orig.data, s.resp.data) == (b"tfo-more", b"reply")
    assert (s.orig.length, s.resp.length) == (8, 5)
    assert s.orig.gaps == s.resp.gaps == []


def test_capture_starting_mid_stream_counts_from_the_first_sequence_number_seen(tmp_path):
    _, s = stream_of(tmp_path, [pkt(123456, b"later "), pkt(123462, b"bytes"), pkt(900, b"resp", frm=S)])
    assert (s.orig.data, s.resp.data) == (b"later bytes", b"resp")
    assert s.orig.gaps == []


def test_snaplen_cut_payload_is_a_gap_of_its_own_kind(tmp_path):
    full = pkt(ISN_C + 1, b"0123456789")
    analysis, s = stream_of(tmp_path, handshake() + [Rec(full[: ETH_IP_TCP + 4], origlen=len(full)),
                                                     pkt(ISN_C + 11, b"abc")])
    assert s.orig.data == b"0123abc"
    assert s.orig.gaps == [(4, 6)]
    assert s.orig.truncated_bytes == 6 and s.orig.unseen_bytes == 0
    # the session record counts the cut bytes as captured (their length is known): not missed
    assert analysis.sessions["orig_missed_bytes"].iloc[0] == s.orig.unseen_bytes == 0
    assert s.chunks[["offset", "length", "missing"]].values.tolist() == [[0, 4, False], [4, 6, True], [10, 3, False]]


def test_headers_only_capture_is_all_gaps_and_says_so(tmp_path):
    segments = [pkt(ISN_C + 1 + 100 * k, bytes(100)) for k in range(5)]
    _, s = stream_of(tmp_path, handshake() + [Rec(p[:ETH_IP_TCP], origlen=len(p)) for p in segments])
    assert s.orig.data == b"" and s.orig.gaps == [(0, 500)]
    assert s.warnings() == ["session 0 orig: 500 bytes in flight but none captured (headers-only capture)"]


def test_segment_rebuilt_from_ip_fragments_is_read_from_the_fragments(tmp_path):
    payload = bytes(range(200))
    segment = tcp(40000, 80, seq=ISN_C + 1, flags="PA", payload=payload)

    def frag(part, off, more):
        return eth(ipv4(C, S, part, ident=77, frag_offset=off, mf=more))

    packets = handshake() + [pkt(ISN_S + 1, b"first", frm=S),
                             frag(segment[96:], 96, False), frag(segment[:96], 0, True),  # out of order
                             pkt(ISN_C + 201, b"tail")]
    analysis, s = stream_of(tmp_path, packets)
    rebuilt = analysis.packets[analysis.packets["reassembled"]]
    assert rebuilt["payload_off"].tolist() == [pd.NA] and rebuilt["frame"].tolist() == [6]
    assert s.orig.data == payload + b"tail"
    assert s.resp.data == b"first"


def test_gzip_capture_gives_the_same_stream_as_the_plain_file(tmp_path):
    packets = handshake() + [pkt(ISN_C + 1, b"x" * 3000), pkt(ISN_S + 1, b"y" * 50, frm=S)]
    plain = tcpanalyze.analyze(str(write_pcap(tmp_path / "a.pcap", packets))).stream(0)
    packed = tcpanalyze.analyze(str(write_pcap(tmp_path / "a.pcap.gz", packets, gzip=True))).stream(0)
    assert (packed.orig.data, packed.resp.data) == (plain.orig.data, plain.resp.data) == (b"x" * 3000, b"y" * 50)


def test_unknown_session_and_unknown_policy_are_usage_errors(tmp_path):
    analysis, _ = stream_of(tmp_path, handshake())
    with pytest.raises(UsageError, match="no session 5 in this capture"):
        analysis.stream(5)
    with pytest.raises(UsageError, match="unknown overlap policy"):
        analysis.stream(0, policy="newest")


def test_syn_with_new_isn_restarts_the_stream(tmp_path):
    _, s = stream_of(tmp_path, [
        pkt(ISN_C, flags="S"), pkt(ISN_S, flags="SA", frm=S, ack=ISN_C + 1), pkt(ISN_S + 1, b"old", frm=S),
        pkt(900_000, flags="SA", frm=S, ack=ISN_C + 1), pkt(900_001, b"new data", frm=S),
    ])
    assert s.resp.data == b"new data" and s.resp.gaps == []


def test_stream_needs_a_capture_file_and_the_packets_table(tmp_path):
    analysis, _ = stream_of(tmp_path, handshake() + [pkt(ISN_C + 1, b"data")])
    with pytest.raises(UsageError, match="standard input or a live capture"):
        dataclasses.replace(analysis, path="-").stream(0)
    with pytest.raises(UsageError, match="needs the packets table"):
        tcpanalyze.analyze(str(tmp_path / "case.pcap"), packets=False).stream(0)
