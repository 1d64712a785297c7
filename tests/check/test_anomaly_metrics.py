"""Anomaly metrics: counts and presence per kind, per scope, from tcpanalyze.detect's table."""

from __future__ import annotations

from types import SimpleNamespace

import pandas as pd

import tcpanalyze
from check_truth import expected, sample
from tcpanalyze.check import evaluate, parse_inline, run_check


def test_rst_teardown_anomaly_fails_with_the_server_and_the_detector_message():
    resets = [c for c in expected("real-rst-abort")["connections"] if c["resp_close"] == "rst"]
    report = run_check(str(sample("real-rst-abort.pcap")),
                       [parse_inline("anomalies_rst_teardown == 0 scope=server"),
                        parse_inline("has_rst_teardown == false"), parse_inline("anomalies_syn_flood == 0")])
    count, present, floods = report.results
    (outcome,) = count.failed
    assert outcome.scope == f"{resets[0]['resp_addr']}:{resets[0]['resp_port']}"
    assert outcome.value == len(resets) == 1
    assert [o.session_id for o in outcome.offenders] == [0]
    assert outcome.details[0].startswith(f"#0 rst_teardown (info): {resets[0]['resp_addr']}:{resets[0]['resp_port']} "
                                         "reset its session")
    assert present.status == "fail" and present.failed[0].value == 1.0
    assert floods.status == "pass"


def test_zero_window_stall_anomaly_counted_and_clean_capture_has_none():
    report = run_check(str(sample("real-zero-window.pcap")), [parse_inline("anomalies_zero_window_stall < 1")])
    assert report.results[0].failed[0].value == 1
    report = run_check(str(sample("check-clean.pcap")), [parse_inline("anomalies == 0")])
    assert report.results[0].status == "pass" and report.results[0].passed[0].value == 0


def _hand_made_anomalies() -> pd.DataFrame:
    rows = [
        (0, "port_scan", "warning", "10.77.0.2", pd.NA, ["10.77.0.1"], [0]),
        (1, "syn_flood", "critical", "10.77.0.2", 5108, ["10.77.0.9", "10.77.0.8"], [1, 2, 3]),
        (2, "syn_flood", "critical", "10.77.0.2", 5108, ["10.77.0.9"], [3, 4]),
    ]
    frame = pd.DataFrame(rows, columns=["anomaly_id", "kind", "severity", "target_addr", "target_port",
                                        "source_addrs", "session_ids"])
    frame["target_port"] = frame["target_port"].astype("Int64")
    frame["message"] = [f"made by hand {i}" for i in range(3)]
    return frame


def test_anomaly_scopes_and_filters_on_a_hand_made_table():
    base = tcpanalyze.analyze(str(sample("real-many-short-conns.pcap")), packets=False)
    analysis = SimpleNamespace(sessions=base.sessions, packets=None, anomalies=_hand_made_anomalies(), path="x")
    rules = ["anomalies == 0", "anomalies_syn_flood == 0 scope=server", "anomalies == 0 scope=host",
             "anomalies_syn_flood == 0 scope=session", "anomalies == 0 port=5108", "has_port_scan == true",
             "has_injection == false"]
    results = evaluate([parse_inline(r) for r in rules], analysis).results
    capture, server, host, session, port, scan, injection = results
    assert capture.failed[0].value == 3
    assert [(o.scope, o.value) for o in server.failed] == [("10.77.0.2:5108", 2.0)]
    assert [(o.scope, o.value) for o in host.failed] == [("10.77.0.2", 3.0)]
    # session 3 is in both floods; sessions 1, 2, 4 in one each
    assert [(o.scope, o.value) for o in session.failed] == [(3, 2.0), (1, 1.0), (2, 1.0), (4, 1.0)]
    assert port.failed[0].value == 2  # the scan has no port: filtered out
    assert scan.status == "pass" and injection.status == "pass"
    assert capture.failed[0].details == ["#0 port_scan (warning): made by hand 0",
                                         "#1 syn_flood (critical): made by hand 1",
                                         "#2 syn_flood (critical): made by hand 2"]
