"""Retransmissions by sequence space (docs/retransmissions.md), on hand-built conversations.

Each case is a short client-to-server transfer (client 10.0.0.1:40000, ISN 1000; server
10.0.0.2:80, ISN 5000) and the ``resend`` kind expected per client frame; frames not listed
are ``none``. The real-stack truth (the kernel's counters) is in test_kernel_counters.py.
"""

from __future__ import annotations

import numpy as np
import pytest

import tcpanalyze
from helpers import BASE_TS_NS, SAMPLE_DIR, Rec, eth, ipv4, tcp, timestamps, write_pcap
from tcpanalyze.check import parse_inline, run_check
from tcpanalyze.engine.evidence import retransmissions

CLIENT, SERVER = "10.0.0.1", "10.0.0.2"
D = b"x" * 100


def C(t: float, flags: str, seq: int, ack: int = 5001, data: bytes = b"", *, ident: int = 0,
      tsval: int | None = None, win: int = 65535) -> Rec:
    """A client packet at ``t`` seconds, with an IPv4 ID and optionally a TCP timestamp."""
    opts = timestamps(tsval, 1) if tsval is not None else b""
    return Rec(eth(ipv4(CLIENT, SERVER, tcp(40000, 80, seq=seq, ack=ack, flags=flags, win=win, opts=opts, payload=data),
                        ident=ident)), BASE_TS_NS + round(t * 1e9))


def S(t: float, flags: str, seq: int = 5001, ack: int = 1001, *, win: int = 65535) -> Rec:
    """A server packet at ``t`` seconds."""
    return Rec(eth(ipv4(SERVER, CLIENT, tcp(80, 40000, seq=seq, ack=ack, flags=flags, win=win), ident=0)),
               BASE_TS_NS + round(t * 1e9))


def handshake() -> list[Rec]:
    """SYN, SYN-ACK, ACK 10 ms apart: an initial RTT of 20 ms."""
    return [C(0.000, "S", 1000), S(0.010, "SA", 5000, 1001), C(0.020, "A", 1001)]


# name: (packets, {frame: resend kind})
CASES: dict[str, tuple[list[Rec], dict[int, str]]] = {
    # re-sent 1 ms after the previous segment: Wireshark says out_of_order, the sender re-sent it
    "fast_resend_at_sender": (
        [*handshake(), C(0.1, "PA", 1001, data=D, ident=1), C(0.1005, "PA", 1101, data=D, ident=2),
         C(0.1015, "PA", 1001, data=D, ident=3), S(0.12, "A", ack=1201)],
        {6: "retransmission"}),
    # the first segment never captured; it comes 50 ms later with a later TSval: lost upstream
    "hole_filled_later_by_timestamp": (
        [*handshake(), C(0.1, "PA", 1101, data=D, tsval=100), C(0.101, "PA", 1201, data=D, tsval=100),
         S(0.102, "A"), S(0.103, "A"), C(0.150, "PA", 1001, data=D, tsval=150), S(0.16, "A", ack=1301)],
        {8: "lost_before_capture"}),
    # late as well, but stamped before the packet that opened the hole: reordered on the way
    "hole_filled_by_earlier_timestamp": (
        [*handshake(), C(0.1, "PA", 1101, data=D, tsval=100), C(0.101, "PA", 1201, data=D, tsval=100),
         C(0.150, "PA", 1001, data=D, tsval=99), S(0.16, "A", ack=1301)],
        {6: "reordered"}),
    # equal timestamps say nothing; IPv4 IDs from one counter do
    "hole_and_ip_ids": (
        [*handshake(), C(0.1, "PA", 1101, data=D, ident=11, tsval=7), C(0.101, "PA", 1201, data=D, ident=12, tsval=7),
         C(0.102, "PA", 1001, data=D, ident=10, tsval=7),
         C(0.2, "PA", 1401, data=D, ident=14), C(0.3, "PA", 1301, data=D, ident=30)],
        {6: "reordered", 8: "lost_before_capture"}),
    # IDs far apart (random) and no timestamps: arrival within half the 20 ms iRTT is reordering
    "hole_by_arrival": (
        [*handshake(), C(0.1, "PA", 1101, data=D, ident=40000), C(0.101, "PA", 1001, data=D, ident=3),
         C(0.2, "PA", 1301, data=D, ident=9000), C(0.25, "PA", 1201, data=D, ident=20000)],
        {5: "reordered", 7: "lost_before_capture"}),
    # the same packet again 0.2 ms later is the network's copy; 300 ms later, a retransmission
    "copies": (
        [*handshake(), C(0.1, "PA", 1001, data=D, ident=5), C(0.1002, "PA", 1001, data=D, ident=5),
         C(0.4, "PA", 1001, data=D, ident=5)],
        {5: "duplicate", 6: "retransmission"}),
    # a retried SYN and a re-sent FIN carry sequence space already sent
    "syn_and_fin": (
        [C(0.0, "S", 1000), C(1.0, "S", 1000), S(1.01, "SA", 5000, 1001), C(1.02, "A", 1001),
         C(1.1, "FA", 1001), C(1.4, "FA", 1001), S(1.41, "FA", 5001, 1002), C(1.42, "A", 1002, 5002)],
        {2: "retransmission", 6: "retransmission"}),
    # keep-alives (no byte and one byte below the next sequence number) re-send nothing
    "keep_alives": (
        [*handshake(), C(0.1, "PA", 1001, data=D), S(0.11, "A", ack=1101),
         C(10.0, "A", 1100), S(10.01, "A", ack=1101), C(20.0, "A", 1100, data=b"k"), S(20.01, "A", ack=1101)],
        {}),
    # a zero window, probes of one new byte, then data starting on the probe byte
    "zero_window_probe_byte": (
        [*handshake(), C(0.1, "PA", 1001, data=D), S(0.11, "A", ack=1101, win=0),
         C(0.5, "PA", 1101, data=b"p"), S(0.51, "A", ack=1101, win=0), C(1.5, "PA", 1101, data=b"p"),
         S(1.51, "A", ack=1101, win=0), S(2.0, "A", ack=1101), C(2.01, "PA", 1101, data=D)],
        {}),
    # already acknowledged, sent again: a (spurious) retransmission
    "spurious": (
        [*handshake(), C(0.1, "PA", 1001, data=D), S(0.11, "A", ack=1101), C(0.5, "PA", 1001, data=D)],
        {6: "retransmission"}),
}


def _client_kinds(packets) -> dict[int, str]:
    client = packets[packets["direction"] == "orig"]
    return {int(f): k for f, k in zip(client["frame"], client["resend"].astype(str)) if k != "none"}


@pytest.mark.parametrize("name", sorted(CASES))
def test_resend_kinds(tmp_path, name):
    packets, expected = CASES[name]
    path = write_pcap(tmp_path / f"{name}.pcap", packets)
    a = tcpanalyze.analyze(str(path), packets=True)
    assert _client_kinds(a.packets) == expected
    s = a.sessions.iloc[0]
    kinds = list(expected.values())
    retrans = kinds.count("retransmission") + kinds.count("lost_before_capture")
    assert (s["orig_retrans_pkts"], s["orig_lost_before_capture_pkts"], s["orig_reordered_pkts"],
            s["orig_duplicate_pkts"]) == (retrans, kinds.count("lost_before_capture"), kinds.count("reordered"),
                                          kinds.count("duplicate"))


def test_wireshark_labels_stay_wireshark(tmp_path):
    """The fast re-send is Wireshark's out_of_order, and stays so in the analysis flags."""
    packets, _ = CASES["fast_resend_at_sender"]
    a = tcpanalyze.analyze(str(write_pcap(tmp_path / "f.pcap", packets)), packets=True)
    row = a.packets[a.packets["frame"] == 6].iloc[0]
    assert row["analysis"] == ["out_of_order"] and row["resend"] == "retransmission"
    s = a.sessions.iloc[0]
    assert (s["orig_out_of_order"], s["orig_retransmission"], s["orig_retrans_pkts"]) == (1, 0, 1)


def test_retried_syn_is_not_a_data_retransmission(tmp_path):
    packets, _ = CASES["syn_and_fin"]
    s = tcpanalyze.analyze(str(write_pcap(tmp_path / "s.pcap", packets))).sessions.iloc[0]
    assert (s["orig_retrans_pkts"], s["orig_retrans_data_pkts"], s["orig_retrans_bytes"]) == (2, 0, 0)


def test_unique_bytes_unchanged_by_fin_space(tmp_path):
    """The FIN's byte is tracked as sequence space but is not application data."""
    packets, _ = CASES["syn_and_fin"]
    s = tcpanalyze.analyze(str(write_pcap(tmp_path / "s.pcap", packets))).sessions.iloc[0]
    assert (s["orig_unique_bytes"], s["orig_bytes"], s["orig_missed_bytes"]) == (0, 0, 0)


@pytest.mark.parametrize("name", ["stream-lossy-ipv4", "stream-lossy-ipv6", "check-lossy", "anomaly-real-retrans-storm"])
def test_one_definition_everywhere(name):
    """Sessions count exactly the packets whose resend kind is a retransmission, per direction,
    and check's metric reads the same numbers."""
    path = SAMPLE_DIR / f"{name}.pcap"
    a = tcpanalyze.analyze(str(path), packets=True)
    p = a.packets
    resent = retransmissions(p["resend"].cat.codes.to_numpy())
    for side in ("orig", "resp"):
        mine = (p["direction"] == side).to_numpy()
        per_session = np.bincount(p["session_id"][mine & resent], minlength=len(a.sessions))
        assert per_session.tolist() == a.sessions.sort_values("session_id")[f"{side}_retrans_pkts"].tolist()
    total = int(a.sessions["orig_retrans_pkts"].sum() + a.sessions["resp_retrans_pkts"].sum())
    assert total == int(resent.sum()) > 0
    report = run_check(str(path), [parse_inline("retransmissions == 0")])
    assert report.results[0].outcomes[0].value == total
