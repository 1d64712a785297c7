"""The servers table's RTT times the path: towards the server from a capture taken at (or near)
the clients, towards the clients from one taken at the server, where the samples towards the
server would only time its own ACK delay. Pinned on the real-loss samples, each captured at the
sender and at the receiver of one transfer (``sample_pcaps/expected/real-loss-*.json`` say which
namespace is the client), and on hand-built captures."""

from __future__ import annotations

import dataclasses
import json

import pytest

import tcpanalyze
from helpers import CORPUS_DIR, EXPECTED_DIR, SAMPLE_DIR, write_pcap
from report_cases import at, c2s, s2c
from tcpanalyze.report import build_report, layout

# Two captures of one transfer time the same path from its two ends: their figures agree within
# this factor (congestion queues the client's data in the router, so its RTT runs highest at the client).
SAME_PATH_RATIO = 5
# The capturing host's own ACK delay on these samples is 0.002-0.017 ms; their path, 0.3-3 ms.
ACK_DELAY_MS = 0.05


def _vantages(scenario: str) -> dict[str, str]:
    """Each capture file of a real-loss scenario and the side it was taken at ("client", "server")."""
    truth = json.loads((EXPECTED_DIR / f"real-loss-{scenario}.json").read_text())
    sides = {truth["topology"][side]["namespace"]: side for side in ("client", "server")}
    return {c["file"]: sides[c["namespace"]] for c in truth["captures"]}


@pytest.mark.parametrize("scenario", ["random", "congestion", "tail"])  # tail: a download, sent by the server
def test_server_rtt_times_the_path_from_either_end(scenario):
    figures = {}
    for file, side in _vantages(scenario).items():
        [server] = build_report(tcpanalyze.analyze(str(SAMPLE_DIR / file))).servers
        assert server.rtt_to == {"client": "server", "server": "clients"}[side], file
        assert server.rtt_samples > 0 and server.rtt_median_ms > ACK_DELAY_MS, file
        figures[side] = server.rtt_median_ms
    assert set(figures) == {"client", "server"}
    low, high = sorted(figures.values())
    assert high <= SAME_PATH_RATIO * low, figures


def test_capture_at_the_server_is_told_by_its_handshakes():
    [server] = build_report(tcpanalyze.analyze(str(SAMPLE_DIR / "real-loss-random-receiver.pcap"))).servers
    assert server.irtt_resp_median_ms <= 0.5 * server.irtt_orig_median_ms  # SYN->SYN-ACK: the server's own
    [server] = build_report(tcpanalyze.analyze(str(SAMPLE_DIR / "real-loss-random-sender.pcap"))).servers
    assert server.irtt_orig_median_ms <= 0.5 * server.irtt_resp_median_ms  # SYN-ACK->ACK: the client's own


@pytest.fixture(scope="module")
def at_server(tmp_path_factory):
    """Captured on the server: SYN-ACK 0.05 ms after the SYN, the client's ACK 20 ms later; each
    client segment acknowledged after 0.01 ms (the server's own ACK delay), each server segment
    after 20, 30 and 40 ms (the path)."""
    packets = [at(0, c2s(seq=100, flags="S")), at(0.05, s2c(seq=500, ack=101, flags="SA")), at(20.05, c2s(seq=101, ack=501))]
    c_seq, s_seq, t = 101, 501, 30.0
    for rtt in (20, 30, 40):
        packets += [at(t, c2s(seq=c_seq, ack=s_seq, flags="PA", payload=b"q" * 10)),
                    at(t + 0.01, s2c(seq=s_seq, ack=c_seq + 10)),
                    at(t + 1, s2c(seq=s_seq, ack=c_seq + 10, flags="PA", payload=b"r" * 100)),
                    at(t + 1 + rtt, c2s(seq=c_seq + 10, ack=s_seq + 100))]
        c_seq, s_seq, t = c_seq + 10, s_seq + 100, t + 100
    path = tmp_path_factory.mktemp("rtt") / "at-server.pcap"
    write_pcap(path, packets)
    return path


def test_at_the_server_the_rtt_is_towards_the_clients(at_server):
    [server] = build_report(tcpanalyze.analyze(str(at_server))).servers
    assert server.rtt_to == "clients"
    # the SYN-ACK to its ACK, then the server's three segments to theirs; none of the 0.01 ms ACK delays
    assert server.rtt_samples == 4
    assert server.rtt_median_ms == pytest.approx(25, abs=1e-3)
    assert (server.irtt_resp_median_ms, server.irtt_orig_median_ms) == (pytest.approx(0.05), pytest.approx(20))
    # a bare sessions frame: the responders' mean RTT stands in, on the same side
    bare = build_report(dataclasses.replace(tcpanalyze.analyze(str(at_server), packets=False), evidence=None))
    assert bare.rtt_source == "sessions" and bare.servers[0].rtt_to == "clients"
    assert bare.servers[0].rtt_median_ms == pytest.approx((20 + 20 + 30 + 40) / 4)  # the SYN-ACK's sample too


def test_the_table_says_which_side_each_figure_times(at_server):
    report = build_report(tcpanalyze.analyze(str(at_server)))
    section = next(s for s in layout.sections(report) if s.title == "Servers")
    row = dict(zip(section.table.columns, section.table.rows[0]))
    assert (row["rtt to"], row["rtt median ms"]) == ("clients", "25.000")
    assert "rtt to clients: captured at the server" in section.note and "rtt to server" not in section.note


def test_a_server_without_rtt_names_no_side():
    """Backscatter: 1,828 'servers' that only sent SYN-ACKs or RSTs, no data to time."""
    report = build_report(tcpanalyze.analyze(str(CORPUS_DIR / "tcp-synack-reflection-backscatter.pcap")))
    section = next(s for s in layout.sections(report) if s.title == "Servers")
    assert {row[section.table.columns.index("rtt to")] for row in section.table.rows} == {"-"}
    assert "rtt to" not in section.note
