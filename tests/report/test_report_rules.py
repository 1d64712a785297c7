"""The report's rules of judgement (issue 15): severity from what was lost, with a floor; one
finding per cause; counts that agree across its sections and with ``sessions`` and ``check``."""

from __future__ import annotations

import io

import pytest

import tcpanalyze
from helpers import CORPUS_DIR, SAMPLE_DIR, write_pcap
from tcpanalyze.check import parse_inline, run_check
from tcpanalyze.engine.session import FAILED_HANDSHAKES
from tcpanalyze.report import build_report
from tcpanalyze.report.text import write_text
from report_cases import at, c2s, s2c, told_again

SEGMENT = b"x" * 100
BACKSCATTER = CORPUS_DIR / "tcp-synack-reflection-backscatter.pcap"
REAL_LOSS = sorted(SAMPLE_DIR.glob("real-loss-*-sender.pcap")) + sorted(SAMPLE_DIR.glob("real-loss-*-receiver.pcap"))


def transfer_packets(segments: int, resent: set[int], port: int = 40000, start_ms: float = 0.0) -> list:
    """A client (from ``port``) sending ``segments`` segments, re-sending those in ``resent`` 200 ms later."""
    def send(ms: float, packet: bytes):
        return at(start_ms + ms, packet)

    packets = [send(0, c2s(port, seq=100, flags="S")), send(1, s2c(port, seq=500, ack=101, flags="SA")),
               send(2, c2s(port, seq=101, ack=501))]
    t = 10.0
    for k in range(segments):
        seq = 101 + 100 * k
        packets.append(send(t, c2s(port, seq=seq, ack=501, flags="PA", payload=SEGMENT)))
        if k in resent:
            packets.append(send(t + 200, c2s(port, seq=seq, ack=501, flags="PA", payload=SEGMENT)))
            t += 200
        packets.append(send(t + 1, s2c(port, seq=501, ack=seq + 100)))
        t += 2
    end = 101 + 100 * segments
    return packets + [send(t, c2s(port, seq=end, ack=501, flags="FA")),
                      send(t + 1, s2c(port, seq=501, ack=end + 1, flags="FA")), send(t + 2, c2s(port, seq=end + 1, ack=502))]


def transfer(tmp_path, segments: int, resent: set[int], name: str = "t") -> str:
    return str(write_pcap(tmp_path / f"{name}.pcap", transfer_packets(segments, resent)))


def retransmission_problem(path: str):
    [problem] = [p for p in build_report(tcpanalyze.analyze(path)).problems if p.kind == "retransmission"]
    return problem


def test_a_tiny_session_cannot_be_critical(tmp_path):
    """2 of 4 segments re-sent is 50 %, but 2 segments say little: info, not critical."""
    problem = retransmission_problem(transfer(tmp_path, 2, {0, 1}))
    assert (problem.severity, problem.value, problem.unit) == ("info", 2, "packets")


def test_enough_retransmissions_make_a_warning_then_a_storm(tmp_path):
    assert retransmission_problem(transfer(tmp_path, 40, {0, 1, 2}, "w")).severity == "warning"  # 3 of 43
    # 10 of 50 (20 %): the retransmission_storm anomaly says it, once
    report = build_report(tcpanalyze.analyze(transfer(tmp_path, 40, set(range(10)), "c")))
    assert [(p.kind, p.severity, p.value) for p in report.problems] == [("retransmission_storm", "warning", 10)]
    assert report.attention == [] and report.attention_left_out == 1


def test_a_reset_is_context_unless_data_was_in_flight(tmp_path):
    idle = build_report(tcpanalyze.analyze(str(SAMPLE_DIR / "real-rst-abort.pcap")))
    assert [(p.kind, p.severity) for p in idle.problems] == [("rst_teardown", "info")]
    busy = build_report(tcpanalyze.analyze(str(SAMPLE_DIR / "anomaly-real-rst-midtransfer.pcap")))
    assert [(p.kind, p.severity) for p in busy.problems][0] == ("rst_teardown", "warning")
    assert busy.attention == []  # the anomaly tells it


@pytest.mark.parametrize("path", [SAMPLE_DIR / name for name in (
    "anomaly-scans.pcap", "anomaly-real-connect-scan.pcap", "anomaly-syn-flood.pcap", "anomaly-real-refused.pcap",
    "anomaly-rst-storm.pcap", "anomaly-real-backlog.pcap")] + [BACKSCATTER, CORPUS_DIR / "tcp-syn-scan-nmap.pcap"]
    + REAL_LOSS, ids=lambda p: p.name)
def test_a_session_an_anomaly_tells_is_not_listed_again(path):
    analysis = tcpanalyze.analyze(str(path))
    report = build_report(analysis)
    assert told_again(analysis, report) == []


def test_backscatter_resets_are_the_backscatter_past_its_listed_sessions():
    """254 lone RSTs to the victim are part of the backscatter, though past the 1,000 sessions the
    anomaly lists, and the victim is their originator, not the target of a responder."""
    analysis = tcpanalyze.analyze(str(BACKSCATTER))
    report = build_report(analysis)
    [anomaly] = analysis.anomalies.itertuples()
    assert anomaly.details["session_ids_total"] > len(anomaly.session_ids)
    assert [p.kind for p in report.problems] == ["backscatter"]
    assert report.problem_totals["reset"] == 254 and report.attention == []


def test_a_session_left_out_of_attention_is_counted_not_denied():
    """The retransmission storm of session 0 is problem 1: the attention section says it left the
    session out, not that no session needs attention."""
    report = build_report(tcpanalyze.analyze(str(SAMPLE_DIR / "real-loss-congestion-sender.pcap")))
    assert [(p.kind, p.session_ids) for p in report.problems] == [("retransmission_storm", [0])]
    assert (report.attention, report.attention_total, report.attention_left_out) == ([], 0, 1)
    text = io.StringIO()
    write_text(report, text)
    assert "No session needs attention" not in text.getvalue()
    assert "No other session needs attention.\n1 session with a problem left out: an anomaly already tells it." \
        in text.getvalue()


def test_the_biggest_losses_come_first_not_the_largest_shares(tmp_path):
    """Eight transfers: three warnings that re-sent 12 of 400, 4 of 40 and 3 of 250 segments, and
    five tiny ones that re-sent 1 or 2 of 2 or 3 (33-100 %, info). The five retransmission problems
    are the warnings, most re-sent first, then the largest tiny loss; attention holds the warnings
    in the same order."""
    plan = [(2, {0, 1}), (400, set(range(0, 400, 34))), (3, {0}), (40, {1, 2, 3, 4}), (2, {1}), (250, {5, 6, 7}),
            (2, {0}), (3, {2})]
    packets = []
    for n, (segments, resent) in enumerate(plan):
        packets += transfer_packets(segments, resent, port=40000 + n, start_ms=10_000 * n)
    analysis = tcpanalyze.analyze(str(write_pcap(tmp_path / "losses.pcap", packets)))
    report = build_report(analysis)
    shown = [(p.session_ids[0], p.severity, p.value) for p in report.problems if p.kind == "retransmission"]
    assert shown == [(1, "warning", 12), (3, "warning", 4), (5, "warning", 3), (0, "info", 2), (2, "info", 1)]
    assert [a.session_id for a in report.attention] == [1, 3, 5]
    assert report.problem_totals["retransmission"] == len(plan)


def test_a_retried_syn_that_cost_a_second_is_a_problem():
    """The SYN was lost once: the handshake took 1.02 s of the 1.02 s session, though its iRTT (from
    the SYN answered) is 0.3 ms and no data segment was re-sent."""
    analysis = tcpanalyze.analyze(str(SAMPLE_DIR / "real-loss-syn-sender.pcap"))
    report = build_report(analysis)
    [problem] = report.problems
    assert (problem.kind, problem.severity, problem.unit) == ("handshake_retry", "warning", "s")
    assert problem.value == pytest.approx(1.018, abs=1e-3)
    assert problem.message == ("session 0: handshake needed 2 SYNs: 1.0 s lost from the first SYN to the one "
                               "answered (the session lasted 1.0 s)")
    # the servers table counts the retried SYN as `sessions` and `check` do
    [server] = report.servers
    [session] = analysis.sessions.itertuples()
    assert (server.retrans_all_pkts, server.retrans_pkts) == (session.orig_retrans_pkts, 0) == (1, 0)


def test_the_retransmission_share_is_of_the_senders_own_segments():
    """The originator re-sent 7 of its 284 data segments; the responder's one data segment does not count."""
    analysis = tcpanalyze.analyze(str(SAMPLE_DIR / "real-loss-random-sender.pcap"))
    [session] = analysis.sessions.itertuples()
    assert (session.orig_retrans_data_pkts, session.orig_data_pkts, session.resp_data_pkts) == (7, 284, 1)
    [problem] = build_report(analysis).problems
    assert problem.message == "session 0: 2.5 % of segments retransmitted (7 of 284, by the originator)"


@pytest.mark.parametrize("path", [SAMPLE_DIR / name for name in (
    "anomaly-syn-flood.pcap", "anomaly-real-refused.pcap", "real-refused.pcap", "anomaly-real-backlog.pcap",
    "check-lossy.pcap", "stream-lossy-ipv4.pcap")] + REAL_LOSS, ids=lambda p: p.name)
def test_counts_agree_across_sections_and_commands(path):
    path = str(path)
    analysis = tcpanalyze.analyze(path)
    report = build_report(analysis)
    s = analysis.sessions
    # failed handshakes: servers table = sessions' handshake column = check's metric
    failed = int(s["handshake"].isin(FAILED_HANDSHAKES).sum())
    assert sum(server.failed_handshakes for server in report.servers) == failed
    check = run_check(path, [parse_inline("failed_handshakes < 0"), parse_inline("retransmissions < 0")])
    assert check.results[0].outcomes[0].value == failed
    # retransmissions: servers table (data; all, SYN and FIN too) and check (all) = sessions' columns
    assert sum(server.retrans_pkts for server in report.servers) == \
        int((s["orig_retrans_data_pkts"] + s["resp_retrans_data_pkts"]).sum())
    resent = int((s["orig_retrans_pkts"] + s["resp_retrans_pkts"]).sum())
    assert sum(server.retrans_all_pkts for server in report.servers) == resent
    assert check.results[1].outcomes[0].value == resent
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
