"""Detection in two steps: the detectors' findings hold none of their inputs, so a caller (the
report, ``anomalies``, ``check``) lets the evidence packets go before the per-session findings are
made, and gets the same anomalies."""

from __future__ import annotations

import gc
import weakref
from pathlib import Path

import pandas as pd
import pytest

import tcpanalyze
from tcpanalyze.detect import DetectConfig, detect, detection_of, run_detectors

SAMPLE_DIR = Path(__file__).resolve().parents[2] / "sample_pcaps"


@pytest.mark.parametrize("name", ["anomaly-rst-injection.pcap", "real-rst-abort.pcap", "anomaly-rst-storm.pcap"])
def test_the_findings_hold_neither_sessions_nor_packets_and_give_the_same_anomalies(name):
    path = str(SAMPLE_DIR / name)
    analysis = tcpanalyze.analyze(path, packets=False)
    expected = detect(analysis.sessions, analysis.evidence.packets, path=path)
    sessions, packets = analysis.sessions.copy(), analysis.evidence.packets.copy()
    inputs = weakref.ref(sessions), weakref.ref(packets)
    found = run_detectors(sessions, packets, path=path)
    del sessions, packets
    gc.collect()
    assert [ref() for ref in inputs] == [None, None]
    detection = detection_of(found)
    pd.testing.assert_frame_equal(detection.anomalies, expected.anomalies)
    assert [(k, ids.tolist()) for k, ids in detection.members] == [(k, ids.tolist()) for k, ids in expected.members]
    assert found == []


def test_letting_the_evidence_go_finds_the_anomalies_of_the_thresholds_given_first():
    path = str(SAMPLE_DIR / "anomaly-rst-storm.pcap")
    config = DetectConfig().with_overrides({"rst_storm.min_rsts": "1000"})
    lean = tcpanalyze.analyze(path, packets=False)
    with_packets = detect(lean.sessions, lean.evidence.packets, config, path).anomalies
    assert with_packets.empty and not lean.anomalies.empty  # the thresholds matter here
    lean = tcpanalyze.analyze(path, packets=False)
    found = lean.drop_evidence_packets(config)
    assert len(lean.evidence.packets) == 0 and len(lean.rtt_samples)
    pd.testing.assert_frame_equal(found.anomalies, with_packets)
    assert "detection" not in vars(lean)  # the defaults' detection is not these thresholds'
