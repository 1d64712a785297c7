"""An anomaly another one explains is reported once, by its cause: a scan's refusals are the scan
(not also an RST storm), a SYN flood's half-open attempts are the flood (not also handshake
failures), the victim's RSTs to backscatter are the backscatter (tests/detect/test_backscatter.py)."""

from __future__ import annotations

import pytest
from helpers import eth, ipv4, tcp, write_pcap
from test_detectors import analysis, only, sessions_only

import tcpanalyze
from tcpanalyze.detect import DetectConfig
from tcpanalyze.detect.frame import Finding

SCANNER, HOST = "203.0.113.9", "198.51.100.9"


@pytest.fixture(params=[True, False], ids=["with_packets", "sessions_only"])
def packets(request):
    return request.param


def refused_probe(port: int) -> list[bytes]:
    """A SYN to a closed port of HOST and its RST,ACK."""
    return [eth(ipv4(SCANNER, HOST, tcp(50000 + port, port, seq=port, flags="S"))),
            eth(ipv4(HOST, SCANNER, tcp(port, 50000 + port, seq=0, ack=port + 1, flags="RA")))]


def reset_client(k: int) -> list[bytes]:
    """An established session from a client to HOST:443, reset by HOST."""
    client = f"192.0.2.{1 + k % 50}"
    return [eth(ipv4(client, HOST, tcp(40000 + k, 443, seq=100, flags="S"))),
            eth(ipv4(HOST, client, tcp(443, 40000 + k, seq=900, ack=101, flags="SA"))),
            eth(ipv4(client, HOST, tcp(40000 + k, 443, seq=101, ack=901, flags="A"))),
            eth(ipv4(HOST, client, tcp(443, 40000 + k, seq=901, ack=101, flags="RA")))]


def detect(path, packets: bool, config: DetectConfig | None = None):
    """The anomalies with the packets, or from the sessions table alone."""
    result = sessions_only(tcpanalyze.analyze(str(path), packets=packets))
    return result.detect(config) if config else result.anomalies


# A refusal ends a session as `refused`, not `rst`: from the sessions alone, an RST storm counts
# sessions that ended in a RST, so refusals are RST-storm events only with the packets.


def test_a_fast_scans_refusals_are_the_scan_not_an_rst_storm(tmp_path):
    """200 closed ports refused within 0.4 s: 200 RSTs from the host in a second, all the scan's."""
    path = write_pcap(tmp_path / "scan.pcap", [p for port in range(1, 201) for p in refused_probe(port)])
    found = detect(path, True)
    assert found["kind"].tolist() == ["port_scan"]
    scan = only(found, "port_scan")
    assert (scan.details["probes"], scan.details["refused"]) == (200, 200)
    assert [(x["kind"], x["target_addr"]) for x in scan.details["absorbed"]] == [("rst_storm", HOST)]
    # without the scan to explain them, the refusals are an RST storm of their own
    storm = only(detect(path, True, DetectConfig().with_overrides({"port_scan.enabled": "false"})), "rst_storm")
    assert storm.target_addr == HOST and storm.details["sessions_reset"] == 200


def test_a_storm_mostly_of_other_sessions_stays_next_to_the_scan(tmp_path):
    """The scanned host also resets 150 of its clients in the same second: 30 of its 180 RSTs are the
    scan's refusals, far from most; both are reported."""
    probes = [p for port in range(1, 31) for p in refused_probe(port)]
    clients = [p for k in range(150) for p in reset_client(k)]
    found = detect(write_pcap(tmp_path / "both.pcap", probes + clients), True)
    assert sorted(found["kind"]) == ["port_scan", "rst_storm"]
    assert "absorbed" not in only(found, "port_scan").details
    assert only(found, "rst_storm").details["sessions_reset"] == 180


def test_a_sweeps_resets_are_the_sweep(tmp_path, packets):
    """Port 3389 open on 150 hosts: the scanner resets every SYN-ACK (a SYN scan), 150 RSTs from it
    within a second, all on the sweep's probes."""
    frames = []
    for k in range(150):
        host = f"198.51.100.{1 + k}"
        frames += [eth(ipv4(SCANNER, host, tcp(50000 + k, 3389, seq=k, flags="S"))),
                   eth(ipv4(host, SCANNER, tcp(3389, 50000 + k, seq=7, ack=k + 1, flags="SA"))),
                   eth(ipv4(SCANNER, host, tcp(50000 + k, 3389, seq=k + 1, flags="R")))]
    found = detect(write_pcap(tmp_path / "sweep.pcap", frames), packets)
    assert found["kind"].tolist() == ["address_sweep"]
    sweep = only(found, "address_sweep")
    assert sweep.details["open"] == 150
    assert [(x["kind"], x["target_addr"]) for x in sweep.details["absorbed"]] == [("rst_storm", SCANNER)]


def test_a_syn_flood_absorbs_the_handshake_failures_it_caused():
    flood = only(analysis("anomaly-syn-flood").anomalies, "syn_flood")
    assert [x["kind"] for x in flood.details["absorbed"]] == ["handshake_failures"]


def finding(kind: str, sessions: range, start: float = 0.0, end: float = 1.0) -> Finding:
    return Finding(kind, "warning", start, end, HOST, None, kind, session_ids=list(sessions), details={})


@pytest.mark.parametrize("shared, absorbed", [(8, True), (7, False)])
def test_a_storm_is_absorbed_from_80_percent_of_its_sessions(shared, absorbed):
    from tcpanalyze.detect import _absorb

    scan = finding("port_scan", range(0, 100))
    storm = finding("rst_storm", range(100 - shared, 110 - shared))  # `shared` of its 10 sessions are the scan's
    assert (_absorb([scan, storm]) == [scan]) is absorbed


def test_a_storm_outside_the_scans_time_is_not_absorbed():
    from tcpanalyze.detect import _absorb

    scan, storm = finding("port_scan", range(100)), finding("rst_storm", range(10), start=2.0, end=3.0)
    assert _absorb([scan, storm]) == [scan, storm]
