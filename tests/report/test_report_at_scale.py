"""The report's rules on a generated capture of 50,000 sessions (benchmarks/make_captures.py:
~2M packets with loss, reordering, copies, stalls, resets, refusals, backlog overflows), made
here in a temporary directory: severities with their floor, one finding per cause, counts that
agree with the sessions and with ``check``."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest

import tcpanalyze
from helpers import REPO_ROOT
from tcpanalyze.check import parse_inline, run_check
from tcpanalyze.engine.session import FAILED_HANDSHAKES
from tcpanalyze.report import build_report
from tcpanalyze.report.graphs import graph_sessions
from report_cases import told_again


@pytest.fixture(scope="module")
def mixed(tmp_path_factory):
    out = tmp_path_factory.mktemp("mixed")
    subprocess.run([sys.executable, str(REPO_ROOT / "benchmarks" / "make_captures.py"), "--which", "mixed",
                    "--scale", "1", "--out", str(out)], check=True, capture_output=True, timeout=600)
    path = str(out / "mixed-2m.pcap")
    analysis = tcpanalyze.analyze(path, packets=False)
    return path, analysis, build_report(analysis)


def test_it_is_the_capture_the_rules_are_about(mixed):
    _, analysis, report = mixed
    assert report.capture.sessions == len(analysis.sessions) == 50_000
    assert {"retransmission", "reset", "refused", "zero_window"} <= set(report.problem_totals)


def test_severity_has_a_floor(mixed):
    _, analysis, report = mixed
    s = analysis.sessions.set_index("session_id")
    resent = s["orig_retrans_data_pkts"] + s["resp_retrans_data_pkts"]
    floors = {"critical": 10, "warning": 3}
    for p in report.problems:
        if p.source == "session" and p.kind == "retransmission" and p.severity in floors:
            assert resent[p.session_ids[0]] >= floors[p.severity], p.message
    for a in report.attention:
        for d in a.diagnoses:
            if d.kind == "retransmission" and d.severity in floors:
                assert resent[a.session_id] >= floors[d.severity]


def test_one_finding_per_cause(mixed):
    """A session's problem is not listed when an anomaly that explains it names the session (a
    retransmission problem of a session whose reset an rst_teardown tells is still listed)."""
    _, analysis, report = mixed
    for kind, session_id in told_again(analysis, report):
        pytest.fail(f"session {session_id}'s {kind} is told by an anomaly and listed again")
    # a reset with nothing in flight is context, never above info
    s = analysis.sessions.set_index("session_id")
    for p in report.problems:
        if p.kind == "reset":
            assert p.severity == "info" or s.loc[p.session_ids[0], "rst_unacked_bytes"] > 0


def test_the_lists_are_worst_first_and_few(mixed):
    _, analysis, report = mixed
    order = {"critical": 0, "warning": 1, "info": 2}
    keys = [(order[p.severity], -p.session_count) for p in report.problems]
    assert keys == sorted(keys)
    assert [order[a.severity] for a in report.attention] == sorted(order[a.severity] for a in report.attention)
    assert 0 < report.attention_total < 0.1 * len(analysis.sessions)


def test_the_biggest_losses_come_first(mixed):
    """Retransmission problems and sessions that need attention are ranked by segments re-sent, not
    by share: the five shown re-sent more than any session left out that no storm tells (the
    capture's 40 % of 5 segments is not among them)."""
    _, analysis, report = mixed
    s = analysis.sessions.set_index("session_id")
    resent = s["orig_retrans_data_pkts"] + s["resp_retrans_data_pkts"]
    storms = [i for kind, ids in analysis.detection.members if kind == "retransmission_storm" for i in ids.tolist()]
    shown = [p.session_ids[0] for p in report.problems if p.kind == "retransmission"]
    assert len(shown) == 5 and {p.severity for p in report.problems if p.kind == "retransmission"} == {"warning"}
    assert resent[shown].tolist() == sorted(resent[shown], reverse=True)
    assert resent[shown].min() >= resent.drop(shown + storms).max()
    # attention: severity, then the kind of the worst diagnosis, then what it lost
    for a, b in zip(report.attention, report.attention[1:]):
        if (a.severity, a.diagnoses[0].kind) == (b.severity, b.diagnoses[0].kind):
            assert a.diagnoses[0].value >= b.diagnoses[0].value
    assert report.attention[0].session_id == shown[0] == resent.drop(storms).idxmax()


def test_the_graphs_are_of_the_top_problems(mixed):
    """The HTML report graphs the sessions of the top problems about one session, the first of
    each kind first (a 4 s zero-window stall, a retransmission storm), not the attention list."""
    _, analysis, report = mixed
    single = [p for p in report.problems if p.session_count == 1]
    chosen = graph_sessions(report, analysis)
    assert chosen[0] == single[0].session_ids[0]
    graphed = {p.kind for p in single if p.session_ids[0] in chosen}
    assert {"zero_window_stall", "retransmission_storm"} <= graphed


def test_counts_agree_with_the_sessions_and_check(mixed):
    path, analysis, report = mixed
    s = analysis.sessions
    for server in report.servers:
        mine = s[(s["resp_addr"] == server.addr) & (s["resp_port"] == server.port)]
        assert server.sessions == len(mine)
        assert server.failed_handshakes == int(mine["handshake"].isin(FAILED_HANDSHAKES).sum())
        assert server.retrans_pkts == int((mine["orig_retrans_data_pkts"] + mine["resp_retrans_data_pkts"]).sum())
        assert server.retrans_all_pkts == int((mine["orig_retrans_pkts"] + mine["resp_retrans_pkts"]).sum())
    assert report.problem_totals["anomaly:rst_teardown"] == int((analysis.anomalies["kind"] == "rst_teardown").sum())
    check = run_check(path, [parse_inline("retransmissions < 0"), parse_inline("failed_handshakes < 0")])
    assert check.results[0].outcomes[0].value == int((s["orig_retrans_pkts"] + s["resp_retrans_pkts"]).sum())
    assert check.results[1].outcomes[0].value == int(s["handshake"].isin(FAILED_HANDSHAKES).sum())
    assert np.isclose(sum(x.retrans_pkts for x in report.servers) / max(sum(x.data_pkts for x in report.servers), 1),
                      sum(x.retrans_pct * x.data_pkts for x in report.servers if x.retrans_pct is not None)
                      / 100 / max(sum(x.data_pkts for x in report.servers), 1))
