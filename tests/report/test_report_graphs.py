"""The report graphs the direction and the time span where a session's problem is."""

from __future__ import annotations

import pandas as pd
import pytest

import tcpanalyze
from tcpanalyze.report import build_report
from tcpanalyze.report.graphs import problem_direction, report_graphs

from helpers import SAMPLE_DIR


def record(**columns) -> pd.Series:
    base = {f"{side}_{name}": 0 for side in ("orig", "resp")
            for name in ("zero_window_s", "retrans_data_pkts", "missed_bytes", "payload_bytes")}
    return pd.Series(base | columns)


def test_zero_window_graphs_the_data_the_peer_stopped():
    # the responder's zero window stopped the originator's upload, although the responder sent more
    session = record(resp_zero_window_s=1.4, resp_payload_bytes=10_000, orig_payload_bytes=100)
    assert problem_direction(session, ["zero_window"]) == "orig"
    assert problem_direction(record(orig_zero_window_s=0.3), ["zero_window"]) == "resp"


def test_retransmission_graphs_the_sender_that_retransmitted():
    session = record(orig_retrans_data_pkts=3, resp_payload_bytes=10_000, orig_payload_bytes=5_000)
    assert problem_direction(session, ["retransmission"]) == "orig"
    # the worst diagnosis decides: a zero window first, then retransmissions
    both = record(orig_zero_window_s=2.0, orig_retrans_data_pkts=3)
    assert problem_direction(both, ["zero_window", "retransmission"]) == "resp"
    assert problem_direction(both, ["retransmission", "zero_window"]) == "orig"


def test_without_a_directed_problem_the_busier_direction_is_graphed():
    assert problem_direction(record(resp_payload_bytes=9, orig_payload_bytes=3), ["reset"]) == "resp"
    assert problem_direction(record(resp_payload_bytes=9, orig_payload_bytes=3), []) == "resp"


@pytest.mark.parametrize("name, direction, arrow", [
    ("real-zero-window", "orig", "10.77.0.1:37100 → 10.77.0.2:5105"),
    ("stream-lossy-ipv4", "resp", "10.78.0.2:5202 → 10.78.0.1:47984"),
])
def test_report_graphs_the_problem_direction_of_the_samples(name, direction, arrow):
    analysis = tcpanalyze.analyze(str(SAMPLE_DIR / f"{name}.pcap"))
    report = build_report(analysis)
    kinds = [d.kind for a in report.attention if a.session_id == 0 for d in a.diagnoses]
    assert problem_direction(analysis.sessions.iloc[0], kinds) == direction
    graphs = report_graphs(report, analysis)
    assert graphs[0].chart.title.startswith(f"time-sequence graph of {arrow}")


def test_report_graphs_the_span_of_a_problem_in_a_long_session():
    analysis = tcpanalyze.analyze(str(SAMPLE_DIR / "stream-lossy-ipv4.pcap"))
    graphs = report_graphs(build_report(analysis), analysis)
    start, end = graphs[0].chart.x_range
    assert 0.2 < start < end < 0.25 and graphs[0].title.endswith(f", {start:.3f}–{end:.3f} s")
    # every graph of that session shows the same span
    assert {g.chart.x_range for g in graphs} == {(start, end)}
