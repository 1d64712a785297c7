"""IPv6 packets between IPv4-mapped addresses (``::ffff:a.b.c.d``) are IPv6, as Wireshark reads
them: shown as IPv6 addresses, and a session of their own, never merged with the IPv4 session
of the same numbers and ports."""

from __future__ import annotations

import shutil
import subprocess

import pytest

import tcpanalyze
from helpers import BASE_TS_NS, Rec, eth, ipv4, ipv6, tcp, write_pcap

A, B = "192.0.2.1", "192.0.2.2"
MAPPED_A, MAPPED_B = f"::ffff:{A}", f"::ffff:{B}"


def _conversation(ip, src: str, dst: str, t0: float, isn: int) -> list[Rec]:
    """A handshake, a data segment and its ACK between src:40000 and dst:80."""
    def at(t, packet):
        return Rec(eth(packet), BASE_TS_NS + round((t0 + t) * 1e9))
    return [at(0.000, ip(src, dst, tcp(40000, 80, seq=isn, flags="S"))),
            at(0.001, ip(dst, src, tcp(80, 40000, seq=9000, ack=isn + 1, flags="SA"))),
            at(0.002, ip(src, dst, tcp(40000, 80, seq=isn + 1, ack=9001, flags="A"))),
            at(0.003, ip(src, dst, tcp(40000, 80, seq=isn + 1, ack=9001, flags="PA", payload=b"x" * 50))),
            at(0.004, ip(dst, src, tcp(80, 40000, seq=9001, ack=isn + 51, flags="A")))]


@pytest.fixture
def interleaved(tmp_path):
    """The same numbers over IPv4 and over IPv6 (IPv4-mapped), packets interleaved."""
    four = _conversation(ipv4, A, B, 0.0, 1000)
    six = _conversation(ipv6, MAPPED_A, MAPPED_B, 0.0005, 1000)  # the same ISN: a merge would be invisible
    return write_pcap(tmp_path / "mapped.pcap", [rec for pair in zip(four, six) for rec in pair])


def test_ipv4_mapped_ipv6_is_its_own_session_shown_as_ipv6(interleaved):
    result = tcpanalyze.analyze(str(interleaved))
    sessions = result.sessions
    assert [(str(s.orig_addr), str(s.resp_addr), s.conn_state, s.orig_pkts, s.resp_pkts)
            for s in sessions.itertuples()] == [(A, B, "S1", 3, 2), (MAPPED_A, MAPPED_B, "S1", 3, 2)]
    packets = result.packets
    assert packets.session_id.tolist() == [0, 1] * 5
    assert packets.src_addr.astype(str).tolist()[:2] == [A, MAPPED_A]
    assert not any(result.packets.analysis.map(len))  # no retransmission of one by the other


@pytest.mark.skipif(shutil.which("tshark") is None, reason="tshark is not installed")
def test_streams_and_addresses_are_tsharks(interleaved):
    out = subprocess.run(["tshark", "-n", "-r", str(interleaved), "-T", "fields", "-e", "tcp.stream",
                          "-e", "_ws.col.Source", "-e", "tcp.analysis.flags"],
                         capture_output=True, text=True, check=True).stdout.splitlines()
    streams, sources, flags = zip(*(line.split("\t") for line in out))
    packets = tcpanalyze.analyze(str(interleaved)).packets
    assert packets.session_id.astype(str).tolist() == list(streams)
    assert packets.src_addr.astype(str).tolist() == list(sources)
    assert set(flags) == {""}
