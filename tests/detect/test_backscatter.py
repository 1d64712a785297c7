"""backscatter: unsolicited SYN-ACKs and RSTs from many hosts to one address (someone else's SYN
flood spoofing it, reflected here), and what must not look like it: a capture that started after
some SYNs, stray late RSTs from peers the host talked to, a SYN flood seen at its target."""

from __future__ import annotations

import pandas as pd
import pytest
from helpers import BASE_TS_NS, CORPUS_DIR, SAMPLE_DIR, Rec, eth, ipv4, tcp, write_pcap
from test_detectors import analysis, expected, only

import tcpanalyze
from tcpanalyze.detect import DetectConfig

VICTIM = "198.51.100.80"
# any single reply from any single source would do: what is left out is left out by the rule
LOOSE = DetectConfig().with_overrides({"backscatter.min_replies": 1, "backscatter.min_sources": 1})


@pytest.fixture(params=[True, False], ids=["with_packets", "sessions_only"])
def packets(request):
    return request.param


def kinds(path, config: DetectConfig | None = None) -> list[str]:
    result = tcpanalyze.analyze(str(path))
    return (result.detect(config) if config else result.anomalies)["kind"].tolist()


def synack(server: str, port: int, sport: int = 80) -> bytes:
    """A SYN-ACK from ``server``:``sport`` to the victim's ``port``: an answer to a SYN the victim never sent."""
    return eth(ipv4(server, VICTIM, tcp(sport, port, seq=5000, ack=1001, flags="SA")))


def rst(server: str, port: int, sport: int = 80) -> bytes:
    return eth(ipv4(server, VICTIM, tcp(sport, port, seq=0, ack=1001, flags="RA")))


def test_sample_backscatter_counts_synacks_rsts_sources_and_ports(packets):
    truth = expected("anomaly-backscatter")
    result = analysis("anomaly-backscatter", packets)
    a = only(result.anomalies, "backscatter")
    assert (a.target_addr, a.severity) == (truth["target"], "warning") and pd.isna(a.target_port)
    d = a.details
    assert (d["synacks"], d["rsts"], d["sources"], d["answered_with_rst"]) == (
        truth["synacks"], truth["rsts"], truth["reflectors"], truth["answered_with_rst"])
    assert d["replies"] == truth["synacks"] + truth["rsts"] == len(a.session_ids)
    assert a.source_count == truth["reflectors"] and sorted(d["top_ports"]) == truth["ports"] and d["ports"] == 4
    assert a.message.startswith(f"{VICTIM} received 160 SYN-ACKs and 40 RSTs from 120 sources in 1.00 s")
    # its own sessions (full, caught mid-stream, caught after its SYN, a late RST from a peer) are not replies
    assert not {0, 1, 2, 3} & set(a.session_ids)


def test_backscatter_absorbs_the_rst_storm_of_the_victim_resetting_the_synacks(packets):
    result = analysis("anomaly-backscatter", packets)
    assert result.anomalies["kind"].tolist() == ["backscatter"]  # no rst_storm, no syn_flood
    a = only(result.anomalies, "backscatter")
    assert [(x["kind"], x["target_addr"]) for x in a.details["absorbed"]] == [("rst_storm", VICTIM)]
    alone = result.detect(DetectConfig().with_overrides({"backscatter.enabled": "false"}))
    assert alone["kind"].tolist() == ["rst_storm"] and alone.iloc[0].target_addr == VICTIM


def test_corpus_synack_reflection_is_backscatter_at_the_spoofed_address():
    """1,662 SYN-ACKs (tshark: SYN-ACK=1662) and 254 RSTs from 1,820 servers to 10.10.10.10 in 35 ms."""
    result = tcpanalyze.analyze(str(CORPUS_DIR / "tcp-synack-reflection-backscatter.pcap"))
    a = only(result.anomalies, "backscatter")
    assert a.target_addr == "10.10.10.10"
    assert (a.details["synacks"], a.details["rsts"], a.details["answered_with_rst"]) == (1662, 254, 0)
    # of the 1,820 servers, two sent something else: 256 bytes from ssh, a bare ACK: not replies
    assert a.details["sources"] == a.source_count == 1818
    assert a.details["top_ports"] == [80, 443]
    assert result.anomalies["kind"].tolist() == ["backscatter"]


@pytest.mark.parametrize("path", [SAMPLE_DIR / "anomaly-syn-flood.pcap", CORPUS_DIR / "tcp-syn-flood-spoofed.pcap"],
                         ids=lambda p: p.name)
def test_a_syn_flood_seen_at_its_target_is_no_backscatter(path):
    """The flooded server's SYN-ACKs answer SYNs the capture holds: not a single unsolicited reply."""
    assert kinds(path, LOOSE) == ["syn_flood"]


def test_a_capture_started_after_the_syns_is_no_backscatter(tmp_path):
    """30 sessions caught at their SYN-ACK (the client's ACK and data follow), 30 caught mid-stream."""
    packets = []
    for k in range(30):
        server = f"203.0.113.{k + 1}"
        packets += [synack(server, 40000 + k),
                    eth(ipv4(VICTIM, server, tcp(40000 + k, 80, seq=1001, ack=5001, flags="A"))),
                    eth(ipv4(VICTIM, server, tcp(40000 + k, 80, seq=1001, ack=5001, flags="PA", payload=b"GET /")))]
        packets += [eth(ipv4(server, VICTIM, tcp(443, 41000 + k, seq=9000, ack=700, flags="A", payload=b"x" * 100))),
                    eth(ipv4(VICTIM, server, tcp(41000 + k, 443, seq=700, ack=9100, flags="A")))]
    path = write_pcap(tmp_path / "late-start.pcap", packets)
    assert kinds(path, LOOSE) == []


def test_late_rsts_from_peers_it_talked_to_are_not_backscatter(tmp_path):
    """60 bare RSTs from 30 peers: unsolicited only from peers with no other session with the victim."""
    talked, strangers = [], []
    for k in range(30):
        peer = f"203.0.113.{k + 1}"
        talked += [eth(ipv4(VICTIM, peer, tcp(40000 + k, 80, seq=1000, flags="S"))),
                   eth(ipv4(peer, VICTIM, tcp(80, 40000 + k, seq=5000, ack=1001, flags="SA"))),
                   eth(ipv4(VICTIM, peer, tcp(40000 + k, 80, seq=1001, ack=5001, flags="PA", payload=b"GET /")))]
        talked += [rst(peer, 42000 + k), rst(peer, 43000 + k)]  # older connections, long forgotten
        strangers += [rst(f"192.0.2.{k + 1}", 42000 + k), rst(f"192.0.2.{k + 1}", 43000 + k)]
    assert kinds(write_pcap(tmp_path / "talked.pcap", talked)) == []
    a = only(tcpanalyze.analyze(str(write_pcap(tmp_path / "strangers.pcap", strangers))).anomalies, "backscatter")
    assert (a.details["replies"], a.details["rsts"], a.details["synacks"], a.source_count) == (60, 60, 0, 30)


def test_backscatter_needs_enough_sources_within_the_window(tmp_path):
    """60 SYN-ACKs from 19 servers: below min_sources; from 20: backscatter; spread over 2 minutes: not."""
    def replies(servers: int, gap_ns: int = 1_000_000) -> list[Rec]:
        return [Rec(synack(f"203.0.113.{1 + k % servers}", 40000 + k), ts_ns=BASE_TS_NS + k * gap_ns)
                for k in range(60)]

    assert kinds(write_pcap(tmp_path / "19.pcap", replies(19))) == []
    assert kinds(write_pcap(tmp_path / "20.pcap", replies(20))) == ["backscatter"]
    assert kinds(write_pcap(tmp_path / "slow.pcap", replies(20, gap_ns=2 * 10**9))) == []


def test_one_reply_each_to_many_addresses_is_no_backscatter(tmp_path):
    """A flooded server's SYN-ACKs captured on their way out (no SYN seen): one reply to each spoofed
    address, so no address receives backscatter (one anomaly per receiving address)."""
    packets = [eth(ipv4("198.51.100.20", f"198.18.{k // 250}.{1 + k % 250}", tcp(80, 2000 + k, seq=7, ack=9,
                                                                                 flags="SA"))) for k in range(500)]
    assert kinds(write_pcap(tmp_path / "egress.pcap", packets)) == []
