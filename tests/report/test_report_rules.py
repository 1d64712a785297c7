"""The report's rules of judgement (issue 15): severity from what was lost, with a floor; one
finding per cause; counts that agree across its sections and with ``sessions`` and ``check``."""

from __future__ import annotations

import pytest

import tcpanalyze
from helpers import SAMPLE_DIR, write_pcap
from tcpanalyze.check import parse_inline, run_check
from tcpanalyze.engine.session import FAILED_HANDSHAKES
from tcpanalyze.report import build_report
from report_cases import at, c2s, s2c, told_again

SEGMENT = b"x" * 100


def transfer(tmp_path, segments: int, resent: set[int], name: str = "t") -> str:
    """A client sending ``segments`` segments, re-sending those in ``resent`` 200 ms later."""
    packets = [at(0, c2s(seq=100, flags="S")), at(1, s2c(seq=500, ack=101, flags="SA")), at(2, c2s(seq=101, ack=501))]
    t = 10.0
    for k in range(segments):
        seq = 101 + 100 * k
        packets.append(at(t, c2s(seq=seq, ack=501, flags="PA", payload=SEGMENT)))
        if k in resent:
            packets.append(at(t + 200, c2s(seq=seq, ack=501, flags="PA", payload=SEGMENT)))
            t += 200
        packets.append(at(t + 1, s2c(seq=501, ack=seq + 100)))
        t += 2
    end = 101 + 100 * segments
    packets += [at(t, c2s(seq=end, ack=501, flags="FA")), at(t + 1, s2c(seq=501, ack=end + 1, flags="FA")),
                at(t + 2, c2s(seq=end + 1, ack=502))]
    return str(write_pcap(tmp_path / f"{name}.pcap", packets))


def retransmission_problem(path: str):
    [problem] = [p for p in build_report(tcpanalyze.analyze(path)).problems if p.kind == "retransmission"]
    return problem


def test_a_tiny_session_cannot_be_critical(tmp_path):
    """2 of 4 segments re-sent is 50 %, but 2 segments say little: info, not critical."""
    problem = retransmission_problem(transfer(tmp_path, 2, {0, 1}))
    assert (problem.severity, problem.value) == ("info", 50.0)


def test_enough_retransmissions_make_a_warning_then_a_storm(tmp_path):
    assert retransmission_problem(transfer(tmp_path, 40, {0, 1, 2}, "w")).severity == "warning"  # 3 of 43
    # 10 of 50 (20 %): the retransmission_storm anomaly says it, once
    report = build_report(tcpanalyze.analyze(transfer(tmp_path, 40, set(range(10)), "c")))
    assert [(p.kind, p.severity, p.value) for p in report.problems] == [("retransmission_storm", "warning", 20.0)]
    assert report.attention == []


def test_a_reset_is_context_unless_data_was_in_flight(tmp_path):
    idle = build_report(tcpanalyze.analyze(str(SAMPLE_DIR / "real-rst-abort.pcap")))
    assert [(p.kind, p.severity) for p in idle.problems] == [("rst_teardown", "info")]
    busy = build_report(tcpanalyze.analyze(str(SAMPLE_DIR / "anomaly-real-rst-midtransfer.pcap")))
    assert [(p.kind, p.severity) for p in busy.problems][0] == ("rst_teardown", "warning")
    assert busy.attention == []  # the anomaly tells it


@pytest.mark.parametrize("name", ["anomaly-scans.pcap", "anomaly-real-connect-scan.pcap", "anomaly-syn-flood.pcap",
                                  "anomaly-real-refused.pcap", "anomaly-rst-storm.pcap", "anomaly-real-backlog.pcap"])
def test_a_session_an_anomaly_tells_is_not_listed_again(name):
    analysis = tcpanalyze.analyze(str(SAMPLE_DIR / name))
    report = build_report(analysis)
    assert len(analysis.anomalies)
    assert told_again(analysis, report) == []


@pytest.mark.parametrize("name", ["anomaly-syn-flood.pcap", "anomaly-real-refused.pcap", "real-refused.pcap",
                                  "anomaly-real-backlog.pcap", "check-lossy.pcap", "stream-lossy-ipv4.pcap"])
def test_counts_agree_across_sections_and_commands(name):
    path = str(SAMPLE_DIR / name)
    analysis = tcpanalyze.analyze(path)
    report = build_report(analysis)
    s = analysis.sessions
    # failed handshakes: servers table = sessions' handshake column = check's metric
    failed = int(s["handshake"].isin(FAILED_HANDSHAKES).sum())
    assert sum(server.failed_handshakes for server in report.servers) == failed
    check = run_check(path, [parse_inline("failed_handshakes < 0"), parse_inline("retransmissions < 0")])
    assert check.results[0].outcomes[0].value == failed
    # retransmissions: servers table (data) and check (all, SYN and FIN too) = sessions' columns
    assert sum(server.retrans_pkts for server in report.servers) == \
        int((s["orig_retrans_data_pkts"] + s["resp_retrans_data_pkts"]).sum())
    assert check.results[1].outcomes[0].value == int((s["orig_retrans_pkts"] + s["resp_retrans_pkts"]).sum())
    # the capture's counts
    assert report.capture.sessions == len(s) == sum(report.capture.sessions_by_close_type.values())


def test_a_syn_flood_and_its_servers_table_agree():
    """The flood's "never completed the handshake" and the server's failed handshakes are one count."""
    analysis = tcpanalyze.analyze(str(SAMPLE_DIR / "anomaly-syn-flood.pcap"))
    report = build_report(analysis)
    [flood] = analysis.anomalies[analysis.anomalies["kind"] == "syn_flood"].itertuples()
    server = next(s for s in report.servers if s.addr == flood.target_addr and s.port == flood.target_port)
    to_target = analysis.sessions[(analysis.sessions["resp_addr"] == flood.target_addr)
                                  & (analysis.sessions["resp_port"] == flood.target_port)]
    assert server.failed_handshakes == int(to_target["handshake"].isin(FAILED_HANDSHAKES).sum()) > 0
    assert server.failed_handshakes > 0.9 * server.sessions


def test_problems_rank_by_sessions_affected_then_size():
    report = build_report(tcpanalyze.analyze(str(SAMPLE_DIR / "anomaly-real-backlog.pcap")))
    keys = [(p.severity, -p.session_count) for p in report.problems]
    order = {"critical": 0, "warning": 1, "info": 2}
    assert keys == sorted(keys, key=lambda k: (order[k[0]], k[1]))
